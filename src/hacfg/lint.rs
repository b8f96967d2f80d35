//! Findings on the HA front's configuration: keepalived across the peers of each VRRP instance
//! ([`lint_keepalived`]) and one haproxy configuration ([`lint_haproxy`]). Every finding has a stable
//! kebab-case code (the table is [`CODES`]) and a one-line message with the numbers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::keepalived::{AuthType, VrrpInstance, VrrpState};
use super::predict::{Check, checks_of, effective, instance_names};
use super::{Peer, Pos, secs};

pub use super::lint_haproxy::{HaproxyLintOptions, lint_haproxy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Critical,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Critical => "CRITICAL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lint {
    pub level: Level,
    pub code: &'static str,
    /// The host (keepalived) or the file (haproxy) it is about.
    pub subject: String,
    pub at: Option<Pos>,
    pub message: String,
}

/// Every code, its usual level and what it means (one line each).
pub const CODES: &[(&str, Level, &str)] = &[
    ("equal-priority", Level::Warn, "peers of one instance share a priority (Info below the top): ties go to the highest primary address"),
    ("all-state-master", Level::Warn, "`state MASTER` on every peer: each starts as master and they fight it out"),
    ("weight-too-small", Level::Critical, "a failed check cannot take the holder below its best peer: the VIP will not move"),
    (
        "nopreempt-blocks-failover",
        Level::Critical,
        "a failed check lowers the holder below its peers, but every peer above it has nopreempt: the VIP will not move",
    ),
    ("slow-check", Level::Warn, "a check needs more than 10 s (interval x fall) before keepalived reacts"),
    ("no-local-check", Level::Warn, "no tracked check looks at the local haproxy or apiserver"),
    ("undefined-check", Level::Warn, "track_script or track_process names nothing defined: keepalived ignores it"),
    ("missing-check-tool", Level::Warn, "a check script's command is not on the host: the check always fails"),
    (
        "preempt-without-delay",
        Level::Info,
        "preemption without preempt_delay: a peer that comes back takes the VIP at once (Warn where keepalived clears a written nopreempt or preempt_delay: state MASTER)",
    ),
    ("multicast-across-subnets", Level::Critical, "multicast VRRP between peers in different subnets: each side elects its own master"),
    ("instance-missing", Level::Warn, "an instance some peers have and others lack"),
    ("router-id-mismatch", Level::Critical, "virtual_router_id differs between the peers of one instance"),
    ("vip-mismatch", Level::Critical, "the virtual addresses differ between the peers of one instance"),
    ("auth-mismatch", Level::Warn, "the authentication type differs between the peers of one instance"),
    ("auth-pass", Level::Info, "auth_type PASS: the password travels in clear in every advertisement"),
    ("ssl-hello-with-check-ssl", Level::Critical, "option ssl-hello-chk with check-ssl servers: every server DOWN (L6RSP)"),
    ("down-detection", Level::Info, "how long haproxy takes to take a dead apiserver out (Warn above 10 s)"),
    ("no-stats", Level::Warn, "neither a stats socket nor a stats page: nothing shows the servers' states"),
    ("apiserver-port-conflict", Level::Critical, "on a master, a frontend binds 6443, kube-apiserver's own port"),
    ("server-without-check", Level::Warn, "an apiserver backend's server without `check`: a dead apiserver is never taken out"),
    (
        "invalid-value",
        Level::Warn,
        "a value the daemon does not take as written (keepalived priority or virtual_router_id outside 1..255, advert_int <= 0, weight outside -253..253, fall/rise < 1; haproxy inter/fall/rise not positive): Critical when the daemon refuses the instance or the configuration",
    ),
];

/// The findings for the values a daemon does not take as written, at their file:line.
pub(crate) fn invalid_values(invalid: &[super::Invalid], subject: &str) -> Vec<Lint> {
    invalid
        .iter()
        .map(|b| {
            let level = if b.fatal { Level::Critical } else { Level::Warn };
            lint(level, "invalid-value", subject, Some(&b.at), format!("{} {} {}", b.keyword, b.value, b.effect))
        })
        .collect()
}

fn lint(level: Level, code: &'static str, subject: &str, at: Option<&Pos>, message: String) -> Lint {
    Lint { level, code, subject: subject.to_string(), at: at.cloned(), message }
}

/// `m1`, `m1 and m2`, `m1, m2 and m3`
pub(crate) fn and_list(names: &[&str]) -> String {
    joined(names, "and")
}

/// `m1, m2 or m3`.
pub(crate) fn or_list(names: &[&str]) -> String {
    joined(names, "or")
}

fn joined(names: &[&str], conjunction: &str) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// The commands a check script runs first: `killall` of `killall -0 haproxy`, `pidof` of
/// `/bin/sh -c "pidof haproxy"`, the base name of a path.
pub fn script_tool(script: &str) -> Option<String> {
    let words: Vec<&str> = script.split_whitespace().collect();
    let base = |w: &str| w.trim_matches(['\'', '"']).rsplit('/').next().unwrap_or("").to_string();
    let first = base(words.first()?);
    if ["sh", "bash", "dash"].contains(&first.as_str()) && words.get(1) == Some(&"-c") {
        return words.get(2).map(|w| base(w)).filter(|w| !w.is_empty());
    }
    Some(first).filter(|w| !w.is_empty())
}

struct Member<'a> {
    peer: &'a Peer,
    inst: &'a VrrpInstance,
    checks: Vec<Check>,
    eff: Option<u8>,
}

/// Findings on the keepalived configurations of the peers (one peer: only the per-host checks).
pub fn lint_keepalived(peers: &[Peer]) -> Vec<Lint> {
    let mut out = vec![];
    for p in peers {
        out.extend(invalid_values(&p.conf.invalid, &p.host));
    }
    for name in instance_names(peers) {
        let ms: Vec<Member> = peers
            .iter()
            .filter_map(|p| {
                let inst = p.conf.instance(&name)?;
                let checks = checks_of(&p.conf, inst);
                let eff = effective(inst, &checks, &|_| false);
                Some(Member { peer: p, inst, checks, eff })
            })
            .collect();
        for m in &ms {
            per_host(&name, m, &mut out);
        }
        if peers.len() > 1 {
            across(&name, peers, &ms, &mut out);
        }
    }
    out
}

fn per_host(name: &str, m: &Member, out: &mut Vec<Lint>) {
    let host = m.peer.host.as_str();
    let at = Some(&m.inst.at);
    for c in &m.checks {
        if !c.defined {
            out.push(lint(
                Level::Warn,
                "undefined-check",
                host,
                c.at.as_ref().or(at),
                format!("{name} tracks `{}`, which is not defined: keepalived ignores it", c.name),
            ));
            continue;
        }
        if c.reaction_s > 10.0 {
            let how = match c.interval_fall {
                Some((i, f)) => format!("{} x fall {f} = {}", secs(i), secs(c.reaction_s)),
                None => secs(c.reaction_s),
            };
            out.push(lint(Level::Warn, "slow-check", host, c.at.as_ref(), format!("{}: {how} before keepalived reacts", c.name)));
        }
        let tool = m.peer.conf.script(&c.name).and_then(|s| script_tool(&s.script));
        if let (Some(cmds), Some(tool)) = (&m.peer.commands, tool)
            && !cmds.contains(&tool)
        {
            let from = if tool == "killall" { " (it comes with psmisc)" } else { "" };
            out.push(lint(
                Level::Warn,
                "missing-check-tool",
                host,
                c.at.as_ref(),
                format!("{}: `{tool}` is not installed on {host}{from}: the check always fails", c.name),
            ));
        }
    }
    let defined: Vec<&Check> = m.checks.iter().filter(|c| c.defined).collect();
    if !defined.iter().any(|c| c.looks_at_haproxy() || c.looks_at_apiserver()) {
        out.push(lint(
            Level::Warn,
            "no-local-check",
            host,
            at,
            format!("{name} on {host} tracks no check of haproxy or the apiserver: the VIP stays on a host whose haproxy is dead"),
        ));
    }
    if !m.inst.holds_back() && m.inst.delay().is_none() {
        // keepalived 2 clears nopreempt and preempt_delay on `state MASTER`: what was written is not
        // what runs, a warning
        let cleared: Vec<&str> = [("nopreempt", m.inst.nopreempt), ("preempt_delay", m.inst.preempt_delay.is_some())]
            .into_iter()
            .filter(|(_, written)| *written)
            .map(|(w, _)| w)
            .collect();
        let (level, why) = match cleared.as_slice() {
            [] => (Level::Info, String::new()),
            words => (Level::Warn, format!(" (its {} is cleared by keepalived with state MASTER)", words.join(" and "))),
        };
        out.push(lint(
            level,
            "preempt-without-delay",
            host,
            at,
            format!(
                "{name} on {host} preempts without preempt_delay{why}: when it comes back at priority {}, it takes the VIP at once",
                m.inst.priority
            ),
        ));
    }
}

fn across(name: &str, peers: &[Peer], ms: &[Member], out: &mut Vec<Lint>) {
    let Some(first) = ms.first() else { return };
    let hosts: Vec<&str> = ms.iter().map(|m| m.peer.host.as_str()).collect();
    let lacking: Vec<&str> = peers.iter().map(|p| p.host.as_str()).filter(|h| !hosts.contains(h)).collect();
    if !lacking.is_empty() {
        out.push(lint(
            Level::Warn,
            "instance-missing",
            lacking[0],
            None,
            format!("{name} is on {} but not on {}", and_list(&hosts), and_list(&lacking)),
        ));
    }
    // equal priorities
    let mut by_prio: BTreeMap<u8, Vec<&Member>> = BTreeMap::new();
    for m in ms {
        if let Some(e) = m.eff {
            by_prio.entry(e).or_default().push(m);
        }
    }
    let top = by_prio.keys().next_back().copied();
    for (prio, group) in &by_prio {
        if group.len() < 2 {
            continue;
        }
        let names: Vec<&str> = group.iter().map(|m| m.peer.host.as_str()).collect();
        let addrs: Vec<(IpAddr, &str)> = group.iter().filter_map(|m| Some((m.peer.address_for(name)?, m.peer.host.as_str()))).collect();
        let winner = match addrs.iter().max() {
            Some((a, h)) if addrs.len() == group.len() => format!(" ({h}, {a})"),
            _ => " (addresses not given)".into(),
        };
        let level = if Some(*prio) == top { Level::Warn } else { Level::Info };
        out.push(lint(
            level,
            "equal-priority",
            names[0],
            Some(&group[0].inst.at),
            format!(
                "{name}: {} {} priority {prio}: who holds the VIP depends on who was MASTER first (a BACKUP does not preempt at equal priority); the highest primary address wins only when they contend at once{winner}",
                and_list(&names),
                if names.len() == 2 { "both have" } else { "all have" }
            ),
        ));
    }
    if ms.len() > 1 && ms.iter().all(|m| m.inst.state == Some(VrrpState::Master)) {
        out.push(lint(
            Level::Warn,
            "all-state-master",
            &first.peer.host,
            Some(&first.inst.at),
            format!(
                "{name}: state MASTER on every peer ({}): each starts as master; give one MASTER and the others BACKUP",
                and_list(&hosts)
            ),
        ));
    }
    weights(name, ms, out);
    // multicast across subnets
    if ms.iter().all(|m| m.inst.unicast_peers.is_empty()) {
        let nets: Vec<(String, &str)> =
            ms.iter().filter_map(|m| Some((subnet(m.peer.address?, m.peer.prefix?), m.peer.host.as_str()))).collect();
        if nets.len() == ms.len() && nets.iter().any(|n| n.0 != nets[0].0) {
            let which: Vec<String> = nets.iter().map(|(n, h)| format!("{h} in {n}")).collect();
            out.push(lint(
                Level::Critical,
                "multicast-across-subnets",
                &first.peer.host,
                Some(&first.inst.at),
                format!(
                    "{name} uses multicast VRRP (no unicast_peer) but {}: adverts do not cross routers, each side elects its own master",
                    which.join(", ")
                ),
            ));
        }
    }
    // differences from the first peer
    for m in ms.iter().skip(1) {
        let (a, b) = (&first.inst, &m.inst);
        let (h0, h) = (first.peer.host.as_str(), m.peer.host.as_str());
        if a.virtual_router_id != b.virtual_router_id {
            let id = |v: Option<u8>| v.map(|v| v.to_string()).unwrap_or_else(|| "none".into());
            out.push(lint(
                Level::Critical,
                "router-id-mismatch",
                h,
                Some(&b.at),
                format!(
                    "{name}: virtual_router_id {} on {h0} but {} on {h}: they are not one VRRP group",
                    id(a.virtual_router_id),
                    id(b.virtual_router_id)
                ),
            ));
        }
        let (mut va, mut vb) = (a.vips.clone(), b.vips.clone());
        va.sort();
        vb.sort();
        if va != vb {
            let show = |v: &[super::keepalived::Vip]| v.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ");
            out.push(lint(
                Level::Critical,
                "vip-mismatch",
                h,
                Some(&b.at),
                format!("{name}: VIPs {} on {h0} but {} on {h}", show(&va), show(&vb)),
            ));
        }
        if a.auth != b.auth {
            let t = |v: &Option<AuthType>| match v {
                Some(AuthType::Pass) => "PASS".to_string(),
                Some(AuthType::Ah) => "AH".to_string(),
                Some(AuthType::Other(o)) => o.clone(),
                None => "none".to_string(),
            };
            out.push(lint(
                Level::Warn,
                "auth-mismatch",
                h,
                Some(&b.at),
                format!("{name}: auth_type {} on {h0} but {} on {h}: they drop each other's adverts", t(&a.auth), t(&b.auth)),
            ));
        }
    }
    if let Some(m) = ms.iter().find(|m| m.inst.auth == Some(AuthType::Pass)) {
        out.push(lint(
            Level::Info,
            "auth-pass",
            &m.peer.host,
            Some(&m.inst.at),
            format!("{name} uses auth_type PASS: the password travels in clear in every advertisement (it guards against mistakes, not attackers)"),
        ));
    }
}

/// The holder's checks must be able to take it below its best peer.
fn weights(name: &str, ms: &[Member], out: &mut Vec<Lint>) {
    let Some(top) = ms.iter().filter_map(|m| m.eff).max() else { return };
    for m in ms.iter().filter(|m| m.eff == Some(top)) {
        let Some((next_host, next)) =
            ms.iter().filter(|o| o.peer.host != m.peer.host).filter_map(|o| Some((o.peer.host.as_str(), o.eff?))).max_by_key(|o| o.1)
        else {
            continue;
        };
        for c in m.checks.iter().filter(|c| c.defined && c.weight != 0) {
            let Some(after) = effective(m.inst, &m.checks, &|x| x.name == c.name) else { continue };
            let host = m.peer.host.as_str();
            // lowered below its peers, the holder keeps the VIP unless one of those above preempts
            let above: Vec<&Member> = ms.iter().filter(|o| o.peer.host != m.peer.host && o.eff.is_some_and(|e| e > after)).collect();
            if after < next && above.iter().all(|o| o.inst.holds_back()) {
                let names: Vec<String> = above.iter().map(|o| format!("{} ({})", o.peer.host, o.eff.unwrap_or(0))).collect();
                out.push(lint(
                    Level::Critical,
                    "nopreempt-blocks-failover",
                    host,
                    c.at.as_ref().or(Some(&m.inst.at)),
                    format!(
                        "{name}: when {} fails {host} drops to {after}, below {}, but {} nopreempt: nobody takes the VIP over and it stays on {host} (weight-based failover needs preemption; nopreempt only moves it on FAULT or a stop)",
                        c.name,
                        names.join(" and "),
                        if names.len() == 1 { "it has" } else { "they have" }
                    ),
                ));
            }
            if after >= next {
                let w = c.contribution(false).unwrap_or(0) - c.contribution(true).unwrap_or(0);
                let rel = if after == next { "equal to" } else { "above" };
                out.push(lint(
                    Level::Critical,
                    "weight-too-small",
                    host,
                    c.at.as_ref().or(Some(&m.inst.at)),
                    format!(
                        "{name}: weight {w} keeps {host} at {after}, {rel} {next_host} ({next}), not below: the VIP will NOT move when {} fails",
                        c.name
                    ),
                ));
            }
        }
    }
}

fn subnet(a: IpAddr, prefix: u8) -> String {
    match a {
        IpAddr::V4(v) => {
            let p = prefix.min(32) as u32;
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            format!("{}/{p}", std::net::Ipv4Addr::from(u32::from(v) & mask))
        }
        IpAddr::V6(v) => {
            let p = prefix.min(128) as u32;
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            format!("{}/{p}", std::net::Ipv6Addr::from(u128::from(v) & mask))
        }
    }
}
