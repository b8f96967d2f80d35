//! A fleet of clusters: Alertmanager's firing alerts of one cluster, and the fleet screen's row, one
//! cluster summed up from its model (what could not be seen is said so, never left out).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Assessment, CephHealth, Event, HealthLevel, LeaseKind, Mode, Model, PanelId, Severity, VipVerdict};

/// One alert Alertmanager has for a cluster (active or silenced; resolved ones are gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiringAlert {
    /// `alertname`.
    pub name: String,
    /// The `severity` label, or empty.
    pub severity: String,
    /// Alertmanager's fingerprint: the same alert keeps it across reads.
    pub fingerprint: String,
    pub starts_at: Option<DateTime<Utc>>,
    /// `annotations.summary`, else `description`, else the labels other than alertname; bounded.
    pub summary: String,
    /// Suppressed by a silence or an inhibition.
    pub silenced: bool,
}

impl Model {
    /// Merge Alertmanager's alerts: one that starts or ends is on the timeline.
    pub(super) fn apply_alerts(
        &mut self,
        at: DateTime<Utc>,
        source: &str,
        budget_ms: u64,
        result: Result<Vec<FiringAlert>, String>,
    ) -> bool {
        let old: Vec<FiringAlert> = self.alerts.data.clone().unwrap_or_default();
        let had = self.alerts.data.is_some();
        let failed = result.as_ref().err().cloned();
        let was_failing = self.alerts.error.is_some();
        let c = self.alerts.record(at, source, budget_ms, result);
        self.note_source(at, PanelId::Timeline, "alertmanager", was_failing, failed.as_deref(), c);
        let new = self.alerts.data.clone().unwrap_or_default();
        for a in new.iter().filter(|a| !old.iter().any(|o| o.fingerprint == a.fingerprint)) {
            let sev = if a.silenced { Severity::Info } else { Severity::Warn };
            let what = if had { "firing" } else { "firing (already when first read)" };
            let sil = if a.silenced { ", silenced" } else { "" };
            self.record(Event::new(at, PanelId::Timeline, sev, format!("alert {} {what}{sil}: {}", a.name, a.summary)));
        }
        if failed.is_none() {
            for a in old.iter().filter(|o| !new.iter().any(|a| a.fingerprint == o.fingerprint)) {
                self.record(Event::new(at, PanelId::Timeline, Severity::Info, format!("alert {} resolved: {}", a.name, a.summary)));
            }
        }
        c
    }

    /// The alerts that fire and are not silenced (None: no Alertmanager, or not read yet).
    pub fn alerts_firing(&self) -> Option<Vec<&FiringAlert>> {
        self.alerts.data.as_ref().map(|v| v.iter().filter(|a| !a.silenced).collect())
    }
}

/// One cluster on the fleet screen. Every field says `?` (or is None) when it could not be seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetRow {
    pub cluster: String,
    pub mode: Mode,
    pub health: HealthLevel,
    /// The worst finding, or `ok`.
    pub reason: String,
    /// `slb1`, `split brain: a b`, `none`, `?`, `no VIP`.
    pub vip: String,
    /// Whether the VIP answers from here (None: not probed or not known).
    pub vip_answers: Option<bool>,
    /// Serving backends over all, over every LB (None: no haproxy seen).
    pub haproxy_up: Option<(usize, usize)>,
    /// `3/3 leader m1 can lose 1`, or `?`.
    pub etcd: String,
    /// Members that can still be lost (None: not known).
    pub etcd_can_lose: Option<i64>,
    /// `cm m1 sch m2`, with `!` after a holder that stopped renewing.
    pub leaders: String,
    pub leaders_renewing: Option<bool>,
    pub not_ready: Option<usize>,
    /// The soonest certificate expiry: days left and where.
    pub cert_days: Option<i64>,
    pub cert_where: String,
    pub ceph: Option<CephHealth>,
    /// Ceph's health could not be seen where there may be Ceph (the plan names it, Rook answered
    /// once, or the API has not answered: whether Rook runs there is not known either).
    pub ceph_unknown: bool,
    /// Alerts firing and not silenced (None: no Alertmanager, or it could not be read).
    pub alerts: Option<usize>,
    pub alert_names: Vec<String>,
    /// Why the alerts are not known (Alertmanager failing).
    pub alerts_error: Option<String>,
    /// Age of the oldest data the screen rests on (None: nothing heard yet).
    pub data_age_ms: Option<i64>,
}

impl FleetRow {
    pub fn of(cluster: &str, m: &Model, a: &Assessment, now: DateTime<Utc>) -> FleetRow {
        // the finding the cluster's own header shows: the first of the most severe
        let top = a.findings.iter().filter(|f| f.severity > Severity::Info).min_by_key(|f| std::cmp::Reverse(f.severity));
        let reason = top.map(|f| format!("{}: {}", f.subject, f.message)).unwrap_or_else(|| "ok".into());
        let vip = match m.vip_verdict(now) {
            VipVerdict::Held { holder, .. } => holder,
            VipVerdict::HandingOver { to, .. } => format!("{to} (handing over)"),
            VipVerdict::SplitBrain { holders, .. } => format!("split brain: {}", holders.join(" ")),
            VipVerdict::NotHeld => "none".into(),
            VipVerdict::NoVip if m.plan.is_kubeconfig_only() => "? (no host plan)".into(),
            VipVerdict::NoVip => "no VIP".into(),
            VipVerdict::Waiting | VipVerdict::Unknown { .. } => "?".into(),
        };
        let vip_answers = if m.vip_probe.failing_now(now) {
            Some(false)
        } else {
            m.vip_probe.data.as_ref().filter(|_| m.vip_probe.freshness(now).is_fresh()).map(|_| true)
        };
        let haproxy_up = (!m.haproxy.values().all(|s| s.data.is_none())).then(|| {
            let servers = m.haproxy.values().filter_map(|s| s.data.as_ref()).flatten();
            servers.fold((0, 0), |(up, all), b| (up + usize::from(b.status.is_serving()), all + 1))
        });
        let (etcd, etcd_can_lose) = match m.etcd.data.as_ref().filter(|_| !m.etcd.failing_now(now)) {
            Some(e) => {
                let leader = e.leader().map(|l| l.name.as_str()).unwrap_or("NONE");
                (format!("{}/{} leader {leader} can lose {}", e.healthy(), e.size(), e.can_lose().max(0)), Some(e.can_lose()))
            }
            None => ("?".into(), None),
        };
        let (leaders, leaders_renewing) = match &m.leases.data {
            Some(ls) => {
                let mut parts = vec![];
                let mut renewing = true;
                for (name, short) in [("kube-controller-manager", "cm"), ("kube-scheduler", "sch")] {
                    match ls.iter().find(|l| l.kind == LeaseKind::LeaderElection && l.name == name) {
                        Some(l) => {
                            let expired = l.expired(now);
                            renewing &= !expired;
                            parts.push(format!("{short} {}{}", l.holder_host().unwrap_or("-"), if expired { "!" } else { "" }));
                        }
                        None => parts.push(format!("{short} ?")),
                    }
                }
                (parts.join(" "), Some(renewing))
            }
            None => ("?".into(), None),
        };
        let not_ready = m.nodes.data.as_ref().map(|ns| ns.iter().filter(|n| n.ready != Some(true)).count());
        let soonest = m
            .certs
            .iter()
            .filter_map(|(h, s)| s.data.as_ref().map(|cs| (h, cs)))
            .flat_map(|(h, cs)| cs.iter().map(move |c| (c.days_left(now), format!("{h} {}", c.name))))
            .min_by_key(|(d, _)| *d);
        let (cert_days, cert_where) = match soonest {
            Some((d, w)) => (Some(d), w),
            None => (None, String::new()),
        };
        let ceph = m.ceph_view().filter(|_| m.ceph_fresh(now)).map(|c| c.health);
        let ceph_unknown = ceph.is_none() && (m.plan.ceph.is_some() || !m.rook.unheard() || m.nodes.data.is_none());
        let firing = m.alerts_firing();
        FleetRow {
            cluster: cluster.to_string(),
            mode: m.meta.mode,
            health: a.level,
            reason,
            vip,
            vip_answers,
            haproxy_up,
            etcd,
            etcd_can_lose,
            leaders,
            leaders_renewing,
            not_ready,
            cert_days,
            cert_where,
            ceph,
            ceph_unknown,
            alerts: firing.as_ref().filter(|_| !m.alerts.failing_now(now)).map(Vec::len),
            alert_names: firing.map(|f| f.iter().map(|a| a.name.clone()).collect()).unwrap_or_default(),
            alerts_error: m.alerts.error.as_ref().map(|e| e.reason.clone()),
            data_age_ms: m.data_age_ms(now),
        }
    }

    /// Problems first: the worse health ([`rank`]), then more firing alerts, then the name.
    pub fn sort(rows: &mut [FleetRow]) {
        rows.sort_by(FleetRow::problems_first);
    }

    /// The order of [`FleetRow::sort`].
    pub fn problems_first(a: &FleetRow, b: &FleetRow) -> std::cmp::Ordering {
        rank(b.health).cmp(&rank(a.health)).then(b.alerts.unwrap_or(0).cmp(&a.alerts.unwrap_or(0))).then(a.cluster.cmp(&b.cluster))
    }
}

/// How bad a verdict is across clusters: a known critical problem first, then what cannot be seen
/// (unreachable, then unknown), then degraded, then healthy. As with one cluster, exit code 3 means
/// nothing known is critical.
pub fn rank(h: HealthLevel) -> u8 {
    match h {
        HealthLevel::Healthy => 0,
        HealthLevel::Degraded => 1,
        HealthLevel::Unknown => 2,
        HealthLevel::Unreachable => 3,
        HealthLevel::Critical => 4,
    }
}

/// The worst health of a fleet by [`rank`] (its exit code is `status --all`'s).
pub fn worst(rows: &[FleetRow]) -> HealthLevel {
    rows.iter().map(|r| r.health).max_by_key(|h| rank(*h)).unwrap_or(HealthLevel::Healthy)
}
