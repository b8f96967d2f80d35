//! The Prometheus text format (version 0.0.4) of a fleet's models: what `kockpit serve --metrics`
//! answers on `/metrics`. Every series carries a `cluster` label; what could not be seen has no
//! sample (absent in Prometheus' sense), and `kockpit_source_failing` says why.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::model::{Assessment, CephHealth, Freshness, HealthLevel, LeaseKind, Model, VipVerdict};

/// A drill's last run, as the audit log has it.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillResult {
    pub passed: bool,
    pub seconds: f64,
    pub at: DateTime<Utc>,
}

/// What a cluster adds beyond its model: counts kept over the process's life.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// etcd leader changes seen since kockpit started.
    pub leader_changes: u64,
    pub last_leader: Option<String>,
}

impl Counters {
    /// Count a change of etcd's leader in `m` since the last call.
    pub fn observe(&mut self, m: &Model) {
        let leader = m.etcd.data.as_ref().and_then(|e| e.leader()).map(|l| l.name.clone());
        if let Some(l) = &leader {
            if self.last_leader.as_ref().is_some_and(|o| o != l) {
                self.leader_changes += 1;
            }
            self.last_leader = leader;
        }
    }
}

/// A label value escaped as the text format wants (`\`, `"` and newlines).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

struct Out {
    text: String,
    /// Metric names whose HELP and TYPE are written.
    declared: Vec<&'static str>,
}

impl Out {
    fn sample(&mut self, name: &'static str, kind: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        if !self.declared.contains(&name) {
            let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
            self.declared.push(name);
        }
        let ls: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", esc(v))).collect();
        let v = if value.is_finite() { format!("{value}") } else { "NaN".into() };
        let _ = writeln!(self.text, "{name}{{{}}} {v}", ls.join(","));
    }
}

/// The health level as a number: 0 healthy, 1 degraded, 2 critical, 3 unknown or unreachable (the
/// exit codes of `kockpit status`).
pub fn health_value(l: HealthLevel) -> f64 {
    f64::from(l.exit_code())
}

/// Every cluster's series, grouped by metric name as the format requires.
pub fn render(clusters: &[(&str, &Model, &Assessment, &Counters)], drills: &BTreeMap<String, DrillResult>, now: DateTime<Utc>) -> String {
    let mut per_metric: BTreeMap<&'static str, Out> = BTreeMap::new();
    let mut order: Vec<&'static str> = vec![];
    let mut emit = |name: &'static str, kind: &str, help: &str, labels: &[(&str, &str)], value: f64| {
        if !order.contains(&name) {
            order.push(name);
        }
        per_metric.entry(name).or_insert_with(|| Out { text: String::new(), declared: vec![] }).sample(name, kind, help, labels, value);
    };
    for (cluster, m, a, counters) in clusters {
        let c = *cluster;
        let up = a.level != HealthLevel::Unreachable;
        emit("kockpit_up", "gauge", "1 when any of the cluster's sources answers", &[("cluster", c)], f64::from(u8::from(up)));
        emit(
            "kockpit_health",
            "gauge",
            "0 healthy, 1 degraded, 2 critical, 3 unknown or unreachable",
            &[("cluster", c)],
            health_value(a.level),
        );
        let verdict = m.vip_verdict(now);
        for (lb, s) in &m.vrrp {
            if let Some(v) = s.data.as_ref().filter(|_| s.freshness(now).is_fresh()) {
                emit(
                    "kockpit_vip_owner",
                    "gauge",
                    "1 when this load balancer holds the VIP",
                    &[("cluster", c), ("lb", lb)],
                    f64::from(u8::from(v.holds_vip)),
                );
            }
        }
        if !matches!(verdict, VipVerdict::Waiting | VipVerdict::NoVip | VipVerdict::Unknown { .. }) {
            let split = matches!(verdict, VipVerdict::SplitBrain { .. });
            emit(
                "kockpit_vip_split_brain",
                "gauge",
                "1 when two or more load balancers hold the VIP",
                &[("cluster", c)],
                f64::from(u8::from(split)),
            );
        }
        if let Some(_p) = m.vip_probe.data.as_ref().filter(|_| m.vip_probe.freshness(now).is_fresh()) {
            emit("kockpit_vip_answers", "gauge", "1 when the VIP answers on its port from kockpit", &[("cluster", c)], 1.0);
        } else if m.vip_probe.failing_now(now) {
            emit("kockpit_vip_answers", "gauge", "1 when the VIP answers on its port from kockpit", &[("cluster", c)], 0.0);
        }
        for (lb, s) in &m.haproxy {
            for b in s.data.iter().flatten().filter(|_| s.freshness(now).is_fresh()) {
                let labels = [("cluster", c), ("lb", lb.as_str()), ("backend", b.backend.as_str()), ("server", b.server.as_str())];
                emit(
                    "kockpit_haproxy_server_up",
                    "gauge",
                    "1 when haproxy sends traffic to this server",
                    &labels,
                    f64::from(u8::from(b.status.is_serving())),
                );
            }
        }
        if let Some(e) = m.etcd.data.as_ref().filter(|_| !m.etcd.failing_now(now)) {
            emit(
                "kockpit_etcd_has_leader",
                "gauge",
                "1 when etcd has a leader",
                &[("cluster", c)],
                f64::from(u8::from(e.leader().is_some())),
            );
            emit(
                "kockpit_etcd_members_can_lose",
                "gauge",
                "voting members that can still be lost before quorum is gone",
                &[("cluster", c)],
                e.can_lose() as f64,
            );
        }
        // a counter only where etcd was ever seen: 0 would claim a calm etcd nobody looked at
        if m.etcd.updated.is_some() {
            emit(
                "kockpit_etcd_leader_changes_total",
                "counter",
                "etcd leader changes seen since kockpit started",
                &[("cluster", c)],
                counters.leader_changes as f64,
            );
        }
        for l in m.leases.data.iter().flatten().filter(|l| l.kind == LeaseKind::LeaderElection) {
            if let Some(t) = l.renew_time {
                let holder = l.holder_host().unwrap_or("");
                let labels = [("cluster", c), ("lease", l.name.as_str()), ("holder", holder)];
                emit(
                    "kockpit_lease_age_seconds",
                    "gauge",
                    "seconds since the leader-election lease was renewed",
                    &labels,
                    (now - t).num_milliseconds() as f64 / 1000.0,
                );
            }
        }
        for (host, s) in &m.certs {
            if let Some(soonest) = s.data.iter().flatten().filter(|_| s.freshness(now).is_fresh()).map(|ci| ci.not_after).min() {
                let labels = [("cluster", c), ("host", host.as_str())];
                emit(
                    "kockpit_cert_expiry_seconds",
                    "gauge",
                    "seconds until the host's soonest certificate expires",
                    &labels,
                    (soonest - now).num_seconds() as f64,
                );
            }
        }
        if let Some(v) = m.ceph_view() {
            let h = match v.health {
                CephHealth::Ok => 0.0,
                CephHealth::Warn => 1.0,
                CephHealth::Err => 2.0,
            };
            emit("kockpit_ceph_health", "gauge", "0 HEALTH_OK, 1 HEALTH_WARN, 2 HEALTH_ERR", &[("cluster", c)], h);
        }
        if let Some(f) = m.alerts_firing() {
            emit(
                "kockpit_alerts_firing",
                "gauge",
                "alerts Alertmanager has for the cluster, not silenced",
                &[("cluster", c)],
                f.len() as f64,
            );
        }
        for (_panel, source, f) in m.sources(now) {
            let labels = [("cluster", c), ("source", source.as_str())];
            let (age, failing) = match &f {
                Freshness::Fresh { age_ms, .. } | Freshness::Stale { age_ms } => (Some(*age_ms), false),
                Freshness::Failed { age_ms, .. } => (*age_ms, true),
                Freshness::Waiting => (None, false),
            };
            if let Some(age) = age {
                emit("kockpit_source_age_seconds", "gauge", "age of the source's newest data", &labels, age as f64 / 1000.0);
            }
            emit("kockpit_source_failing", "gauge", "1 while the source fails", &labels, f64::from(u8::from(failing)));
        }
        if let Some(d) = drills.get(c) {
            emit(
                "kockpit_drill_last_passed",
                "gauge",
                "1 when the cluster's last drill passed",
                &[("cluster", c)],
                f64::from(u8::from(d.passed)),
            );
            emit("kockpit_drill_last_duration_seconds", "gauge", "how long the cluster's last drill ran", &[("cluster", c)], d.seconds);
            emit(
                "kockpit_drill_last_timestamp_seconds",
                "gauge",
                "when the cluster's last drill ended",
                &[("cluster", c)],
                d.at.timestamp() as f64,
            );
        }
    }
    order.iter().filter_map(|n| per_metric.get(n)).map(|o| o.text.as_str()).collect()
}

/// The last drill of each cluster in an audit log's text: `drill_start` (with its cluster) and the
/// `drill_end` of the same session.
pub fn last_drills(audit_text: &str) -> BTreeMap<String, DrillResult> {
    let mut started: BTreeMap<String, (String, DateTime<Utc>)> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for line in audit_text.lines().filter(|l| l.contains("\"drill_")) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let Some(ts) = v.get("ts").and_then(|t| t.as_str()).and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else { continue };
        let ts = ts.with_timezone(&Utc);
        match s("event").as_str() {
            "drill_start" => {
                started.insert(s("session"), (s("cluster"), ts));
            }
            "drill_end" => {
                if let Some((cluster, t0)) = started.remove(&s("session")) {
                    let passed = v.get("passed").and_then(|p| p.as_bool()).unwrap_or(false);
                    out.insert(cluster, DrillResult { passed, seconds: (ts - t0).num_milliseconds() as f64 / 1000.0, at: ts });
                }
            }
            _ => {}
        }
    }
    out
}
