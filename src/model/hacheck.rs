//! Findings from each LB's HA configuration as its daemons run it: the lints of keepalived.conf and
//! haproxy.cfg, and, when haproxy dies on the VIP's holder, what keepalived will do about it.

use chrono::{DateTime, Utc};

use super::{Event as TimelineEvent, Finding, Model, PanelId, Severity, VipVerdict};
use crate::hacfg::{self, Event, Level, Peer};

/// The check tools the HA configuration read asks each host about (`command -v`).
pub const PROBED_TOOLS: &[&str] = &["killall", "pidof", "pgrep", "curl", "nc", "wget"];

/// The peers whose keepalived configuration was read, with the plan's address and the tools found.
pub fn peers(m: &Model) -> Vec<Peer> {
    m.ha_config
        .iter()
        .filter_map(|(host, s)| {
            let v = s.data.as_ref()?;
            let conf = v.keepalived.clone()?;
            let mut p = Peer::new(host.clone(), conf);
            p.address = m.plan.host(host).map(|h| h.address);
            // only the tools the host was asked about can be said missing: any other command a check
            // runs counts as present
            let mut commands: std::collections::BTreeSet<String> = v.tools.iter().cloned().collect();
            for s in &p.conf.scripts {
                if let Some(tool) = hacfg::lint::script_tool(&s.script).filter(|t| !PROBED_TOOLS.contains(&t.as_str())) {
                    commands.insert(tool);
                }
            }
            p.commands = Some(commands);
            // what the host's own haproxy listens on, and what its check scripts connect to
            if let Some(h) = &v.haproxy {
                p.haproxy_ports = h.frontends.iter().flat_map(|f| f.binds.iter().filter_map(|b| b.address.port())).collect();
            }
            p.check_targets = v.check_targets.clone();
            Some(p)
        })
        .collect()
}

/// A configuration risk is a warning at most (it is not an outage); the rest are notes.
fn severity(l: Level) -> Severity {
    match l {
        Level::Critical => Severity::Warn,
        _ => Severity::Info,
    }
}

pub fn findings(m: &Model, now: DateTime<Utc>, out: &mut Vec<Finding>) {
    if m.ha_config.is_empty() {
        return;
    }
    let mut add = |severity, panel, subject: &str, message: String| {
        out.push(Finding { severity, panel, subject: subject.to_string(), message });
    };
    for (host, s) in &m.ha_config {
        if let Some(v) = &s.data {
            for p in &v.problems {
                add(Severity::Info, PanelId::Vip, host, format!("{host} configuration: {p}"));
            }
        }
    }
    let peers = peers(m);
    for l in hacfg::lint_keepalived(&peers) {
        let at = l.at.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
        add(severity(l.level), PanelId::Vip, &l.subject, format!("keepalived {}: {}{at}", l.code, l.message));
    }
    let vip_port = m.plan.vip.as_ref().map(|v| v.port);
    for (host, s) in &m.ha_config {
        let Some(conf) = s.data.as_ref().and_then(|v| v.haproxy.as_ref()) else { continue };
        let on_master = m.plan.host(host).is_some_and(|h| h.roles.master);
        let opts = hacfg::lint::HaproxyLintOptions { on_master, vip_port };
        for l in hacfg::lint_haproxy(conf, host, &opts) {
            let at = l.at.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
            add(severity(l.level), PanelId::Haproxy, host, format!("haproxy {} on {host}: {}{at}", l.code, l.message));
        }
    }
    // haproxy dead on the VIP's holder: clients through the VIP fail now; say what keepalived will do
    // (the prediction made when it was seen, see `check_prediction`)
    if let Some(p) = &m.prediction
        && let VipVerdict::Held { holder, .. } = m.vip_verdict(now)
        && holder == p.holder
        && haproxy_dead(m, &holder, now)
    {
        add(Severity::Critical, PanelId::Vip, &holder, format!("predicted: {}", p.text));
    }
}

/// haproxy on `host` is seen dead: its socket refuses (the process is gone), or it is up with no
/// server serving.
pub fn haproxy_dead(m: &Model, host: &str, now: DateTime<Utc>) -> bool {
    let Some(s) = m.haproxy.get(host) else { return false };
    if let Some(e) = &s.error {
        let fresh_failure = s.failing_now(now);
        let refused = e.reason.contains("Connection refused") || e.reason.contains("connection refused");
        // its socket gone where haproxy was seen before: the process is gone with it
        let gone = e.reason.contains(super::notes::NO_STATS_SOCKET) && s.data.is_some();
        let no_process = e.reason.contains(super::notes::HAPROXY_NOT_RUNNING);
        return fresh_failure && (refused || gone || no_process);
    }
    s.freshness(now).is_fresh() && s.data.as_ref().is_some_and(|v| !v.is_empty() && v.iter().all(|b| !b.status.is_serving()))
}

/// What the VIP's probe failing says: that it does not answer; or, for a plan's VIP no client can
/// reach (0.0.0.0, loopback...), which is not probed, that the plan's VIP is unusable.
pub(super) fn vip_probe_finding(m: &Model) -> Option<String> {
    let e = m.vip_probe.error.as_ref()?;
    Some(match e.reason.strip_prefix(super::notes::NOT_PROBED) {
        Some(why) => format!("VIP unusable: {why}"),
        None => format!("VIP does not answer: {}", e.reason),
    })
}

/// A prediction kockpit made, and when: the timeline checks it against what happens.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Made {
    pub at: DateTime<Utc>,
    /// The VIP's holder when haproxy was seen dead there.
    pub holder: String,
    /// Who the configuration says takes the VIP (None: nobody can).
    pub after: Option<String>,
    pub moves: bool,
    /// Every peer that may take it when a race decides (else empty: `after` alone).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// Seconds until that happens, at most.
    pub within_s: f64,
    pub text: String,
}

impl Model {
    /// After an observation of the VIP or haproxy: when haproxy is dead on the holder, predict (once)
    /// what keepalived will do and put it on the timeline; when haproxy is back there, withdraw it.
    pub(super) fn check_prediction(&mut self, at: DateTime<Utc>) {
        // every peer's keepalived.conf, or no prediction: a missing peer would be a peer left out
        let all_read = self
            .plan
            .keepalived_hosts()
            .iter()
            .all(|h| self.ha_config.get(&h.name).and_then(|s| s.data.as_ref()).is_some_and(|v| v.keepalived.is_some()));
        if self.ha_config.is_empty() || !all_read {
            return;
        }
        if let Some(p) = &self.prediction
            && !haproxy_dead(self, &p.holder, at)
            && self.vip_verdict(at) == (VipVerdict::Held { holder: p.holder.clone(), unseen: vec![] })
        {
            let text = format!("haproxy on {} answers again: the prediction is withdrawn", p.holder);
            self.prediction = None;
            self.record(TimelineEvent::new(at, PanelId::Vip, Severity::Info, text));
            return;
        }
        let VipVerdict::Held { holder, .. } = self.vip_verdict(at) else { return };
        if self.prediction.as_ref().is_some_and(|p| p.holder == holder) || !haproxy_dead(self, &holder, at) {
            return;
        }
        let peers = peers(self);
        let Some(p) = hacfg::predict(&peers, Some(&holder), &Event::HaproxyDead(holder.clone())).into_iter().next() else { return };
        let made = Made {
            at,
            holder: holder.clone(),
            after: p.holder_after.clone(),
            moves: p.moves,
            candidates: p.candidates.clone(),
            within_s: p.within_s,
            text: p.text.clone(),
        };
        self.prediction = Some(made);
        self.timeline.push(TimelineEvent::new(at, PanelId::Vip, Severity::Warn, format!("predicted: {}", p.text)));
    }

    /// The VIP moved to `to`: how that compares with the standing prediction, if any (and clear it).
    pub(super) fn settle_prediction(&mut self, at: DateTime<Utc>, to: &str) -> Option<String> {
        let p = self.prediction.take()?;
        let took = (at - p.at).num_milliseconds() as f64 / 1000.0;
        let expected = if p.candidates.is_empty() {
            p.after.clone().filter(|_| p.moves).unwrap_or_else(|| "no move".into())
        } else {
            p.candidates.join(" or ")
        };
        let hit = p.after.as_deref() == Some(to) || p.candidates.iter().any(|c| c == to);
        // the time is a bound the configuration gives (checks, adverts); a move that came well after
        // it is the right move at the wrong time, and is said so
        let verdict = match p.moves && hit {
            false => "NOT as predicted",
            true if took > p.within_s * 1.25 + 1.0 => "as predicted, but LATER than predicted",
            true => "as predicted",
        };
        Some(format!("{verdict}: {expected} within ~{:.0} s; took {took:.1} s since haproxy was seen dead", p.within_s))
    }
}
