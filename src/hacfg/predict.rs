//! What keepalived will do: each peer's effective priority, and who holds the VIP after haproxy, an
//! apiserver, keepalived or a whole host dies.
//!
//! The rules, as keepalived applies them:
//! - effective priority = priority + the weights of the tracked checks: a positive weight is added
//!   while its check succeeds (a failing check loses the bonus), a negative one while it fails;
//!   `reverse` turns the sign round; a failing check of weight 0 puts the instance in FAULT (it gives
//!   up the VIP); priority 255 (the address owner) is never adjusted; the result stays in 1..=254;
//! - a check fails interval × fall seconds after its first failed run;
//! - a BACKUP whose effective priority is above the master's takes the VIP (after its
//!   `preempt_delay`), unless it has `nopreempt`; at equal priority it does not;
//! - when the master stops advertising (keepalived stopped, host down), the peers notice after
//!   3 × advert_int + skew, skew = (256 − priority) / 256 × advert_int, and the highest remaining
//!   takes over; between equal priorities the higher primary address wins.

use std::net::IpAddr;

use super::keepalived::{KeepalivedConf, VrrpInstance};
use super::{Peer, Pos, secs};

/// What happens to one host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Event {
    HaproxyDead(String),
    ApiserverDead(String),
    KeepalivedStopped(String),
    HostDown(String),
}

impl Event {
    pub fn host(&self) -> &str {
        match self {
            Event::HaproxyDead(h) | Event::ApiserverDead(h) | Event::KeepalivedStopped(h) | Event::HostDown(h) => h,
        }
    }
}

/// A peer's effective priority before and after the event; `None`: FAULT, stopped or down.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerPriority {
    pub host: String,
    pub before: Option<u8>,
    pub after: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub instance: String,
    pub event: Event,
    pub holder_before: Option<String>,
    /// None: no peer can hold the VIP.
    pub holder_after: Option<String>,
    pub moves: bool,
    /// Who may take the VIP: `holder_after` alone, or every peer of a tie that a race decides (backups
    /// at equal priority preempting a lowered master: whichever acts first keeps it).
    pub candidates: Vec<String>,
    /// Seconds until the outcome at most.
    pub within_s: f64,
    pub priorities: Vec<PeerPriority>,
    /// One line, e.g. `haproxy dead on m1, which holds the VIP: ...`.
    pub text: String,
}

/// One tracked check of an instance, resolved against the script or process it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    /// The script's command line, the process name, the file or interface.
    pub text: String,
    pub weight: i32,
    pub reverse: bool,
    /// Seconds from the first failure until keepalived acts.
    pub reaction_s: f64,
    /// interval and fall, for scripts (to say the figure).
    pub interval_fall: Option<(f64, u32)>,
    pub defined: bool,
    pub at: Option<Pos>,
    /// The check connects to this host's own haproxy (a port its frontends bind, on a local address or
    /// the VIP): it fails when haproxy dies, and not when one apiserver behind it does.
    pub via_haproxy: bool,
}

impl Check {
    pub fn looks_at_haproxy(&self) -> bool {
        self.text.to_ascii_lowercase().contains("haproxy") || self.name.to_ascii_lowercase().contains("haproxy")
    }
    pub fn looks_at_apiserver(&self) -> bool {
        let t = format!("{} {}", self.name, self.text).to_ascii_lowercase();
        ["apiserver", "6443", "healthz", "readyz", "livez", "check_apiserver"].iter().any(|k| t.contains(k))
    }
    /// `check_haproxy: 3 s x fall 10`
    pub fn figure(&self) -> String {
        match self.interval_fall {
            Some((i, f)) => format!("{}: {} x fall {f}", self.name, secs(i)),
            None => format!("{}: {}", self.name, secs(self.reaction_s)),
        }
    }
    /// What the check adds to the priority: `Some(w)` while it succeeds (`ok`) or fails; `None`: FAULT.
    pub fn contribution(&self, ok: bool) -> Option<i32> {
        let w = if self.reverse { -self.weight } else { self.weight };
        match (ok, w) {
            (true, w) if w > 0 => Some(w),
            (true, _) => Some(0),
            (false, 0) => None,
            (false, w) if w < 0 => Some(w),
            (false, _) => Some(0),
        }
    }
}

/// The checks an instance tracks: scripts, processes, files, interfaces.
pub fn checks_of(conf: &KeepalivedConf, inst: &VrrpInstance) -> Vec<Check> {
    let mut out = vec![];
    for t in &inst.track_scripts {
        let s = conf.script(&t.name);
        out.push(Check {
            name: t.name.clone(),
            text: s.map(|s| s.script.clone()).unwrap_or_default(),
            weight: t.weight.or(s.map(|s| s.weight)).unwrap_or(0),
            reverse: t.reverse || s.is_some_and(|s| s.reverse),
            reaction_s: s.map(|s| s.reaction_s()).unwrap_or(1.0),
            interval_fall: s.map(|s| (s.interval, s.fall)),
            defined: s.is_some(),
            at: s.map(|s| s.at.clone()).or_else(|| t.at.clone()),
            via_haproxy: false,
        });
    }
    for t in &inst.track_processes {
        let p = conf.process(&t.name);
        out.push(Check {
            name: t.name.clone(),
            text: p.map(|p| p.process.clone()).unwrap_or_default(),
            weight: t.weight.or(p.map(|p| p.weight)).unwrap_or(0),
            reverse: t.reverse || p.is_some_and(|p| p.reverse),
            reaction_s: p.and_then(|p| p.delay).unwrap_or(0.0),
            interval_fall: None,
            defined: p.is_some(),
            at: p.map(|p| p.at.clone()).or_else(|| t.at.clone()),
            via_haproxy: false,
        });
    }
    for t in &inst.track_files {
        // the instance's own weight overrides the file's definition
        let f = conf.tracked_file(&t.name);
        out.push(Check {
            name: t.name.clone(),
            text: f.map_or_else(|| t.name.clone(), |f| f.file.clone()),
            weight: t.weight.or(f.map(|f| f.weight)).unwrap_or(0),
            reverse: t.reverse || f.is_some_and(|f| f.reverse),
            reaction_s: 0.0,
            interval_fall: None,
            defined: f.is_some(),
            at: f.map(|f| f.at.clone()).or_else(|| t.at.clone()),
            via_haproxy: false,
        });
    }
    for t in &inst.track_interfaces {
        out.push(Check {
            name: t.name.clone(),
            text: t.name.clone(),
            weight: t.weight.unwrap_or(0),
            reverse: t.reverse,
            reaction_s: 0.0,
            interval_fall: None,
            defined: true,
            at: None,
            via_haproxy: false,
        });
    }
    out
}

/// The instance's effective priority with the checks `failed` says fail; `None`: FAULT.
pub fn effective(inst: &VrrpInstance, checks: &[Check], failed: &dyn Fn(&Check) -> bool) -> Option<u8> {
    let mut sum = 0i32;
    for c in checks {
        sum += c.contribution(!failed(c))?;
    }
    if inst.priority == 255 {
        return Some(255);
    }
    Some((inst.priority as i32 + sum).clamp(1, 254) as u8)
}

/// The `host:port` targets a check's command line names: URLs (`https://localhost:16443/healthz`),
/// `host:port` words and `nc [-z] host port`.
pub fn targets_in(text: &str) -> Vec<(String, u16)> {
    let words: Vec<&str> = text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'').filter(|w| !w.is_empty()).collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let rest = w.split_once("://").map_or(*w, |(_, r)| r);
        let hostport = rest.split('/').next().unwrap_or("");
        let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
        if let Some((host, port)) = hostport.rsplit_once(':')
            && let Ok(port) = port.parse::<u16>()
            && !host.is_empty()
        {
            out.push((host.trim_matches(['[', ']']).to_string(), port));
        }
        if matches!(w.rsplit('/').next(), Some("nc" | "ncat" | "netcat")) {
            // its last two arguments before the command ends: host port
            let end = words[i + 1..]
                .iter()
                .position(|a| matches!(*a, "||" | "&&" | ";" | "|" | ">" | "2>&1" | ">/dev/null"))
                .map_or(words.len(), |e| i + 1 + e);
            let args: Vec<&&str> = words[i + 1..end].iter().filter(|a| !a.starts_with('-')).collect();
            if let [.., host, port] = args[..]
                && let Ok(port) = port.parse::<u16>()
            {
                out.push((host.to_string(), port));
            }
        }
    }
    out
}

/// Mark the checks that connect to the peer's own haproxy: a target on a port its frontends bind,
/// at a loopback address, the peer's own address or one of the instance's virtual addresses. The
/// targets come from the script's command line and, for a script file, from what was read on the host.
fn mark_via_haproxy(p: &Peer, inst: &VrrpInstance, checks: &mut [Check]) {
    if p.haproxy_ports.is_empty() {
        return;
    }
    let local = |host: &str| -> bool {
        let h = host.to_ascii_lowercase();
        h == "localhost"
            || h == "*"
            || h == "0.0.0.0"
            || h.starts_with("127.")
            || h == "::1"
            || p.address.is_some_and(|a| a.to_string() == h)
            || inst.vips.iter().any(|v| v.address == h)
    };
    for c in checks.iter_mut() {
        let mut targets = targets_in(&c.text);
        if let Some(file) = c.text.split_whitespace().next()
            && let Some(found) = p.check_targets.get(file)
        {
            targets.extend(found.iter().flat_map(|t| targets_in(t)));
        }
        c.via_haproxy = targets.iter().any(|(h, port)| p.haproxy_ports.contains(port) && local(h));
    }
}

/// Everything the election needs about one peer's instance.
struct Member<'a> {
    host: &'a str,
    inst: &'a VrrpInstance,
    checks: Vec<Check>,
    addr: Option<IpAddr>,
    before: Option<u8>,
}

fn members<'a>(peers: &'a [Peer], instance: &str) -> Vec<Member<'a>> {
    peers
        .iter()
        .filter_map(|p| {
            let inst = p.conf.instance(instance)?;
            let mut checks = checks_of(&p.conf, inst);
            mark_via_haproxy(p, inst, &mut checks);
            let before = effective(inst, &checks, &|_| false);
            Some(Member { host: &p.host, inst, checks, addr: p.address_for(instance), before })
        })
        .collect()
}

/// The best of `(host, priority, address)`: highest priority, then highest address; with the peers
/// it tied with on priority (each named once, itself included, when there is a tie), and whether
/// every tied address is known (when not, the pick among them is a guess).
fn best<'a>(c: &[(&'a str, u8, Option<IpAddr>)]) -> Option<(&'a str, u8, Vec<&'a str>, bool)> {
    let top = c.iter().max_by(|a, b| (a.1, a.2).cmp(&(b.1, b.2)))?;
    let tied: Vec<_> = c.iter().filter(|x| x.1 == top.1).collect();
    let known = tied.iter().all(|x| x.2.is_some());
    let names = if tied.len() > 1 { tied.iter().map(|x| x.0).collect() } else { vec![] };
    Some((top.0, top.1, names, known))
}

/// Who holds the VIP by the configuration alone: the highest effective priority, then the highest
/// address. `None` when no peer can, and when peers tie at the top and their addresses are not all
/// known (see [`unresolved_tie`]): the configuration alone does not say which.
pub fn config_holder(peers: &[Peer], instance: &str) -> Option<String> {
    let m = members(peers, instance);
    let c: Vec<_> = m.iter().filter_map(|m| Some((m.host, m.before?, m.addr))).collect();
    best(&c).filter(|b| b.2.is_empty() || b.3).map(|b| b.0.to_string())
}

/// Peers that share the top priority of an instance while their addresses are not all known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tie {
    pub instance: String,
    pub hosts: Vec<String>,
    pub priority: u8,
    /// `m1, m2 and m3 share the top priority 100 of VI_1: keepalived gives the VIP to the one with
    /// the highest primary address; without the addresses, which one holds it cannot be told`.
    pub text: String,
}

/// The tie at the top of an instance that the configuration alone cannot break: keepalived breaks it
/// by the highest primary address, and some of the tied peers' addresses are not known. A prediction
/// then names no holder.
pub fn unresolved_tie(peers: &[Peer], instance: &str) -> Option<Tie> {
    let m = members(peers, instance);
    let c: Vec<_> = m.iter().filter_map(|m| Some((m.host, m.before?, m.addr))).collect();
    let (_, priority, tied, known) = best(&c)?;
    if tied.is_empty() || known {
        return None;
    }
    let text = format!(
        "{} share the top priority {priority} of {instance}: keepalived gives the VIP to the one with the highest primary address; without the addresses, which one holds it (and what haproxy's death there does) cannot be told",
        super::lint::and_list(&tied)
    );
    Some(Tie { instance: instance.to_string(), hosts: tied.iter().map(|h| h.to_string()).collect(), priority, text })
}

/// The instance names of all peers, in order of first appearance.
pub fn instance_names(peers: &[Peer]) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for p in peers {
        for i in &p.conf.instances {
            if !names.contains(&i.name) {
                names.push(i.name.clone());
            }
        }
    }
    names
}

/// The prediction for every instance of the peers. `holder`: who holds the VIP now (by default the
/// one the configuration elects).
pub fn predict(peers: &[Peer], holder: Option<&str>, event: &Event) -> Vec<Prediction> {
    instance_names(peers).iter().filter_map(|n| predict_instance(peers, n, holder, event)).collect()
}

fn prio(p: Option<u8>) -> String {
    p.map(|p| p.to_string()).unwrap_or_else(|| "FAULT".into())
}

/// `m3 (100, highest address)` or `m3 (100)`; a tie between unknown addresses names them all:
/// `m1 or m2 (100, whichever has the higher primary address)`.
fn winner_text(w: &(&str, u8, Vec<&str>, bool)) -> String {
    match (w.2.is_empty(), w.3) {
        (false, true) => format!("{} ({}, highest address)", w.0, w.1),
        (false, false) => format!("{} ({}, whichever has the higher primary address)", w.2.join(" or "), w.1),
        _ => format!("{} ({})", w.0, w.1),
    }
}

/// The prediction for one instance; `None` when no peer has it.
pub fn predict_instance(peers: &[Peer], instance: &str, holder: Option<&str>, event: &Event) -> Option<Prediction> {
    let ms = members(peers, instance);
    if ms.is_empty() {
        return None;
    }
    let holder = holder.map(str::to_string).or_else(|| config_holder(peers, instance));
    let h = event.host();
    if holder.is_none()
        && let Some(tie) = unresolved_tie(peers, instance)
    {
        // nobody can say who holds the VIP: say why instead of guessing
        let priorities = ms.iter().map(|m| PeerPriority { host: m.host.to_string(), before: m.before, after: None }).collect();
        return Some(Prediction {
            instance: instance.to_string(),
            event: event.clone(),
            holder_before: None,
            holder_after: None,
            moves: false,
            candidates: Vec::new(),
            within_s: 0.0,
            priorities,
            text: tie.text,
        });
    }
    let holds = holder.as_deref() == Some(h);
    let who = match &holder {
        Some(_) if holds => "which holds the VIP".to_string(),
        Some(x) => format!("which does not hold the VIP ({x} does)"),
        None => "while no peer holds the VIP".to_string(),
    };
    let failing: fn(&Check) -> bool = match event {
        Event::HaproxyDead(_) => |c| c.looks_at_haproxy() || c.via_haproxy,
        // a check through haproxy still passes while the other apiservers answer
        Event::ApiserverDead(_) => |c| c.looks_at_apiserver() && !c.via_haproxy,
        _ => |_| false,
    };
    let gone = matches!(event, Event::KeepalivedStopped(_) | Event::HostDown(_));
    let after_of = |m: &Member| -> Option<u8> {
        if m.host != h {
            m.before
        } else if gone {
            None
        } else {
            effective(m.inst, &m.checks, &failing)
        }
    };
    let priorities: Vec<PeerPriority> =
        ms.iter().map(|m| PeerPriority { host: m.host.to_string(), before: m.before, after: after_of(m) }).collect();
    let others: Vec<(&str, u8, Option<IpAddr>)> =
        ms.iter().filter(|m| m.host != h).filter_map(|m| Some((m.host, m.before?, m.addr))).collect();
    let mut p = Prediction {
        instance: instance.to_string(),
        event: event.clone(),
        holder_before: holder.clone(),
        holder_after: holder.clone(),
        moves: false,
        candidates: Vec::new(),
        within_s: 0.0,
        priorities,
        text: String::new(),
    };
    let stays = |p: &Prediction| match &p.holder_after {
        Some(x) => format!("the VIP stays on {x}"),
        None => "no peer holds the VIP".to_string(),
    };
    let Some(me) = ms.iter().find(|m| m.host == h) else {
        p.text = format!("{h} has no instance {instance}: {}", stays(&p));
        return Some(p);
    };
    let take_over = |p: &mut Prediction, extra_s: f64| -> String {
        match best(&others) {
            Some(w) => {
                let adv = ms.iter().find(|m| m.host == w.0).map(|m| m.inst.advert_int).unwrap_or(1.0);
                let skew = (256.0 - w.1 as f64) / 256.0 * adv;
                p.within_s = extra_s + 3.0 * adv + skew;
                p.holder_after = Some(w.0.to_string());
                p.moves = holder.as_deref() != Some(w.0);
                format!(
                    "the peers notice within 3 x {} + skew {} = {}; {} then takes the VIP",
                    secs(adv),
                    secs((skew * 100.0).round() / 100.0),
                    secs(((3.0 * adv + skew) * 100.0).round() / 100.0),
                    winner_text(&w)
                )
            }
            None => {
                p.holder_after = None;
                p.moves = holder.is_some();
                "no other peer is left to take the VIP".to_string()
            }
        }
    };
    p.text = match event {
        Event::KeepalivedStopped(_) | Event::HostDown(_) => {
            let head = match event {
                Event::HostDown(_) => format!("{h} down, {who}"),
                _ => format!("keepalived stopped on {h}, {who}"),
            };
            if holds {
                let clients = if matches!(event, Event::HostDown(_)) {
                    "clients through the VIP fail until a peer takes over"
                } else {
                    "it gives up the VIP"
                };
                format!("{head}: {clients}; {}", take_over(&mut p, 0.0))
            } else {
                format!("{head}: {}", stays(&p))
            }
        }
        Event::HaproxyDead(_) | Event::ApiserverDead(_) => {
            let (what, effect) = match event {
                Event::HaproxyDead(_) => ("haproxy", "clients through the VIP fail now"),
                _ => ("apiserver", "haproxy sends clients to the other apiservers once its checks mark this one DOWN"),
            };
            let head = if holds {
                format!("{what} dead on {h}, {who}: {effect}")
            } else {
                format!("{what} dead on {h}, {who}: clients through the VIP are unaffected")
            };
            let failed: Vec<&Check> = me.checks.iter().filter(|c| failing(c)).collect();
            let Some(slow) = failed.iter().max_by(|a, b| a.reaction_s.total_cmp(&b.reaction_s)) else {
                let via: Vec<&str> = me.checks.iter().filter(|c| c.looks_at_apiserver()).map(|c| c.name.as_str()).collect();
                let text = match event {
                    Event::HaproxyDead(_) if !via.is_empty() => format!(
                        "{head}; no check on {h} names haproxy: keepalived reacts only if {} reaches the apiserver through haproxy's port (as kubeadm's check_apiserver.sh does), else {}",
                        via.join(" or "),
                        stays(&p)
                    ),
                    _ => format!(
                        "{head}; no check on {h} looks at {}: keepalived never reacts, {}",
                        if what == "haproxy" { "haproxy" } else { "the apiserver" },
                        stays(&p)
                    ),
                };
                return Some(Prediction { text, ..p });
            };
            let reaction = slow.reaction_s;
            let after = effective(me.inst, &me.checks, &failing);
            let lowers = match after {
                Some(a) => {
                    format!("keepalived on {h} lowers its priority {} -> {a} in ~{} ({})", prio(me.before), secs(reaction), slow.figure())
                }
                None => format!("keepalived on {h} puts {instance} in FAULT in ~{} ({}, weight 0)", secs(reaction), slow.figure()),
            };
            if !holds {
                return Some(Prediction { text: format!("{head}; {lowers}; {}", stays(&p)), ..p });
            }
            match after {
                None => format!("{head}; {lowers}; {}", take_over(&mut p, reaction)),
                Some(a) => {
                    let contenders: Vec<_> = others.iter().filter(|o| o.1 > a).copied().collect();
                    let preempting: Vec<_> =
                        contenders.iter().filter(|o| ms.iter().any(|m| m.host == o.0 && !m.inst.holds_back())).copied().collect();
                    let weights: Vec<String> = failed
                        .iter()
                        .map(|c| c.contribution(false).unwrap_or(0) - c.contribution(true).unwrap_or(0))
                        .map(|d| d.to_string())
                        .collect();
                    let weight_word = if weights.len() == 1 { "weight" } else { "weights" };
                    match best(&preempting) {
                        Some(w) => {
                            let winner = ms.iter().find(|m| m.host == w.0);
                            let delay = winner.and_then(|m| m.inst.delay()).unwrap_or(0.0);
                            // keepalived discards the lowered master's adverts and preempts when its
                            // master-down timer ends: 3 adverts + skew after the last one it took
                            let adv = winner.map(|m| m.inst.advert_int).unwrap_or(1.0);
                            let skew = (256.0 - w.1 as f64) / 256.0 * adv;
                            p.within_s = reaction + 3.0 * adv + skew + delay;
                            p.holder_after = Some(w.0.to_string());
                            p.moves = true;
                            let after_delay =
                                if delay > 0.0 { format!(" after its preempt_delay of {}", secs(delay)) } else { String::new() };
                            if w.2.is_empty() {
                                format!("{head}; {lowers}; {} then takes the VIP{after_delay}", winner_text(&w))
                            } else {
                                // backups tied above the lowered master each preempt on its advert: a
                                // race, not an election by address (one that is MASTER first stays)
                                p.candidates = w.2.iter().map(|c| c.to_string()).collect();
                                let by_address =
                                    if w.3 { format!(", the higher address ({}) if they act at once", w.0) } else { String::new() };
                                format!(
                                    "{head}; {lowers}; then {} ({} each) race for the VIP{after_delay}: whichever preempts first keeps it{by_address}",
                                    super::lint::or_list(&w.2),
                                    w.1
                                )
                            }
                        }
                        None if !contenders.is_empty() => {
                            let names: Vec<String> = contenders.iter().map(|c| format!("{} ({})", c.0, c.1)).collect();
                            format!(
                                "{head}; {lowers}; the VIP will NOT move: {} {} nopreempt",
                                names.join(" and "),
                                if names.len() == 1 { "has" } else { "have" }
                            )
                        }
                        None => {
                            p.within_s = reaction;
                            let next = best(&others).map(|o| format!("{} ({})", o.0, o.1)).unwrap_or_else(|| "no peer".into());
                            let rel = if best(&others).is_some_and(|o| o.1 == a) { "equal to" } else { "above" };
                            format!(
                                "{head}; {lowers}; the VIP will NOT move: {weight_word} {} keeps {h} at {a} {rel} {next}",
                                weights.join(" and ")
                            )
                        }
                    }
                }
            }
        }
    };
    Some(p)
}
