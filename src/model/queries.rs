//! What the model says beyond its fields: the Ceph view to show, the VIP holders, every source's freshness.

use chrono::{DateTime, Utc};

use super::*;

impl Model {
    /// The Ceph view to show and judge by: the ceph CLI's, unless it is failing and Rook has reported
    /// since the CLI last answered (then Rook's, and the panel says so); Rook's alone where there is
    /// no CLI.
    pub fn ceph_view(&self) -> Option<&CephView> {
        self.ceph_shown().map(|s| s.data.as_ref().expect("a shown slot has data"))
    }

    /// The source slot [`Model::ceph_view`] comes from.
    pub fn ceph_shown(&self) -> Option<&Sourced<CephView>> {
        match (&self.ceph.data, &self.rook.data) {
            (Some(_), Some(_)) if self.ceph.error.is_some() && self.rook.updated > self.ceph.updated => Some(&self.rook),
            (Some(_), _) => Some(&self.ceph),
            (None, Some(_)) => Some(&self.rook),
            (None, None) => None,
        }
    }

    /// Whether any Ceph source (the CLI or Rook) is current.
    pub fn ceph_fresh(&self, now: DateTime<Utc>) -> bool {
        self.ceph.freshness(now).is_fresh() || self.rook.freshness(now).is_fresh()
    }

    /// The Ceph sources heard so far (the CLI's is listed while nothing at all is heard).
    fn ceph_sources(&self) -> Vec<(&str, &Sourced<CephView>)> {
        let mut v = Vec::new();
        // the ceph CLI is expected with a [ceph] section; without one it is listed once heard
        if !self.ceph.unheard() || (self.rook.unheard() && self.plan.ceph.is_some()) {
            v.push(("ceph", &self.ceph));
        }
        if !self.rook.unheard() {
            v.push(("rook", &self.rook));
        }
        v
    }

    /// Load balancers whose last good observation holds the VIP, however old (the timeline's view:
    /// it changes only when an observation arrives). Verdicts use [`Model::vip_verdict`].
    pub fn vip_holders(&self) -> Vec<String> {
        self.vrrp.iter().filter(|(_, s)| s.data.as_ref().is_some_and(|v| v.holds_vip)).map(|(lb, _)| lb.clone()).collect()
    }

    /// Who holds the VIP, from fresh observations only. An LB that could not be observed (its probe
    /// failed, its data is past its budget, or it never answered) is *unseen*: its last value is kept
    /// with its age, and it counts neither as a holder nor as a non-holder.
    pub fn vip_verdict(&self, now: DateTime<Utc>) -> VipVerdict {
        if self.vrrp.is_empty() {
            // a topology without a VIP (KubeKey's local proxies, none) has nothing to wait for
            return if self.plan.keepalived_hosts().is_empty() { VipVerdict::NoVip } else { VipVerdict::Waiting };
        }
        let mut holders = Vec::new();
        let mut releasing = Vec::new();
        let mut unseen = Vec::new();
        for (lb, s) in &self.vrrp {
            let f = s.freshness(now);
            if f.is_fresh() {
                if let Some(v) = s.data.as_ref().filter(|v| v.holds_vip) {
                    if v.state == VrrpState::Backup { releasing.push(lb.clone()) } else { holders.push(lb.clone()) }
                }
                continue;
            }
            let reason = f.why_not_fresh();
            let age_ms = s.updated.map(|t| (now - t).num_milliseconds().max(0));
            unseen.push(Unseen { lb: lb.clone(), reason, held: s.data.as_ref().map(|v| v.holds_vip), age_ms });
        }
        // a carrier the plan names that never answered is not seen either (it may hold the VIP)
        for h in self.plan.keepalived_hosts() {
            if !self.vrrp.contains_key(&h.name) {
                unseen.push(Unseen { lb: h.name.clone(), reason: Freshness::Waiting.why_not_fresh(), held: None, age_ms: None });
            }
        }
        // a holder that keepalived reports BACKUP is letting the address go: beside one MASTER, that is
        // a hand-over in progress, not a split brain
        match (holders.len(), releasing.len()) {
            (0, 0) if unseen.is_empty() => VipVerdict::NotHeld,
            (0, 0) => VipVerdict::Unknown { unseen },
            (1, 0) => VipVerdict::Held { holder: holders.remove(0), unseen },
            (1, _) => VipVerdict::HandingOver { to: holders.remove(0), from: releasing, unseen },
            (0, 1) if unseen.is_empty() => VipVerdict::Held { holder: releasing.remove(0), unseen },
            (0, 1) => VipVerdict::Unknown { unseen },
            _ => {
                holders.extend(releasing);
                holders.sort();
                VipVerdict::SplitBrain { holders, unseen }
            }
        }
    }

    /// Every source with its panel and freshness, for roll-ups and `status --json`.
    pub fn sources(&self, now: DateTime<Utc>) -> Vec<(PanelId, String, Freshness)> {
        let mut out = Vec::new();
        let mut push = |p: PanelId, name: String, f: Freshness| out.push((p, name, f));
        // every source the plan expects, and any other one heard: one that never answered is waiting
        let plan = &self.plan;
        let names = |expected: Vec<&crate::inventory::Host>, heard: Vec<&String>| -> Vec<String> {
            let mut v: Vec<String> = expected.into_iter().map(|h| h.name.clone()).collect();
            v.extend(heard.into_iter().filter(|h| !plan.hosts.iter().any(|p| &p.name == *h)).cloned());
            v
        };
        let each = |map_get: &dyn Fn(&str) -> Option<Freshness>, h: &str| map_get(h).unwrap_or(Freshness::Waiting);
        for h in names(plan.hosts.iter().collect(), self.hosts.keys().collect()) {
            push(PanelId::Hosts, format!("host {h}"), each(&|h| self.hosts.get(h).map(|s| s.freshness(now)), &h));
        }
        for h in names(plan.keepalived_hosts(), self.vrrp.keys().collect()) {
            push(PanelId::Vip, format!("keepalived {h}"), each(&|h| self.vrrp.get(h).map(|s| s.freshness(now)), &h));
        }
        if plan.vip_endpoint().is_some() || self.vip_probe.updated.is_some() || self.vip_probe.error.is_some() {
            push(PanelId::Vip, "vip probe".into(), self.vip_probe.freshness(now));
        }
        for h in names(plan.haproxy_hosts(), self.haproxy.keys().collect()) {
            push(PanelId::Haproxy, format!("haproxy {h}"), each(&|h| self.haproxy.get(h).map(|s| s.freshness(now)), &h));
        }
        // each carrier's HA configuration (read once a minute): a read that fails is named like any source
        let keepalived = plan.keepalived_hosts();
        for h in names(plan.ha_config_hosts(), self.ha_config.keys().collect()) {
            let panel = if keepalived.iter().any(|k| k.name == h) { PanelId::Vip } else { PanelId::Haproxy };
            push(panel, format!("configuration {h}"), each(&|h| self.ha_config.get(h).map(|s| s.freshness(now)), &h));
        }
        for h in names(plan.masters().collect(), self.readyz.keys().collect()) {
            push(PanelId::Haproxy, format!("readyz {h}"), each(&|h| self.readyz.get(h).map(|s| s.freshness(now)), &h));
        }
        // without a host plan, etcd is seen only as kube-system's static pods
        if plan.is_kubeconfig_only() && self.etcd.unheard() {
            push(PanelId::Etcd, "static pods".into(), self.control_plane.freshness(now));
        } else {
            push(PanelId::Etcd, "etcd".into(), self.etcd.freshness(now));
        }
        push(PanelId::Leases, "leases".into(), self.leases.freshness(now));
        push(PanelId::Nodes, "nodes".into(), self.nodes.freshness(now));
        // the Kubernetes side sends workloads and warning events with nodes and leases: expected from a
        // live cluster (the demo and tests may have none)
        let live = matches!(self.meta.mode, super::Mode::Live | super::Mode::ReadOnly);
        if live || !self.workloads.unheard() {
            push(PanelId::Platform, "workloads".into(), self.workloads.freshness(now));
        }
        for (name, s) in self.ceph_sources() {
            push(PanelId::Ceph, name.into(), s.freshness(now));
        }
        if live || !self.warnings.unheard() {
            push(PanelId::Timeline, "warning events".into(), self.warnings.freshness(now));
        }
        if self.meta.alertmanager.is_some() || !self.alerts.unheard() {
            push(PanelId::Timeline, "alertmanager".into(), self.alerts.freshness(now));
        }
        for h in names(plan.masters().collect(), self.certs.keys().collect()) {
            push(PanelId::Certs, format!("certs {h}"), each(&|h| self.certs.get(h).map(|s| s.freshness(now)), &h));
        }
        // without a host plan, the certificates the kubeconfig's endpoint and each listed apiserver serve
        for h in self.served_rows_expected() {
            if !self.certs.contains_key(&h) {
                push(PanelId::Certs, format!("certs {h}"), Freshness::Waiting);
            }
        }
        out
    }

    /// The served-certificate rows a cluster opened from its kubeconfig alone expects: `endpoint` (the
    /// kubeconfig's server) and each apiserver pod that advertises an address.
    pub fn served_rows_expected(&self) -> Vec<String> {
        let crate::inventory::PlanSource::Kubeconfig { server, .. } = &self.plan.source else { return vec![] };
        let mut rows: Vec<String> = Vec::new();
        if crate::inventory::draft::server_host_port(server).is_some() {
            rows.push("endpoint".into());
        }
        let apiservers = self.control_plane.data.iter().flat_map(|c| c.apiservers.iter());
        rows.extend(apiservers.filter(|p| super::apiview::advertised_addr(&p.endpoint).is_some()).map(|p| p.node.clone()));
        rows
    }

    /// The worst freshness among a panel's sources, and a short label of where the data comes from.
    pub fn panel_freshness(&self, panel: PanelId, now: DateTime<Utc>) -> (Freshness, String) {
        let sources: Vec<(&str, Freshness)> = match panel {
            PanelId::Hosts => self.hosts.values().map(|s| (s.source.as_str(), s.freshness(now))).collect(),
            // without keepalived to read (no host plan), the endpoint's probe is the panel's source
            PanelId::Vip if self.vrrp.is_empty() && !self.vip_probe.unheard() => {
                vec![(self.vip_probe.source.as_str(), self.vip_probe.freshness(now))]
            }
            PanelId::Vip => self.vrrp.values().map(|s| (s.source.as_str(), s.freshness(now))).collect(),
            PanelId::Haproxy if self.haproxy.is_empty() && (!self.control_plane.unheard() || self.plan.is_kubeconfig_only()) => {
                vec![(self.control_plane.source.as_str(), self.control_plane.freshness(now))]
            }
            PanelId::Haproxy => self.haproxy.values().map(|s| (s.source.as_str(), s.freshness(now))).collect(),
            PanelId::Etcd if self.etcd.unheard() && (!self.control_plane.unheard() || self.plan.is_kubeconfig_only()) => {
                vec![(self.control_plane.source.as_str(), self.control_plane.freshness(now))]
            }
            PanelId::Etcd => vec![(self.etcd.source.as_str(), self.etcd.freshness(now))],
            PanelId::Leases => vec![(self.leases.source.as_str(), self.leases.freshness(now))],
            PanelId::Nodes => vec![(self.nodes.source.as_str(), self.nodes.freshness(now))],
            PanelId::Platform => vec![(self.workloads.source.as_str(), self.workloads.freshness(now))],
            PanelId::Ceph => self.ceph_sources().into_iter().map(|(_, s)| (s.source.as_str(), s.freshness(now))).collect(),
            PanelId::Certs => self.certs.values().map(|s| (s.source.as_str(), s.freshness(now))).collect(),
            PanelId::Timeline => vec![],
        };
        let worst = sources.iter().max_by_key(|(_, f)| (f.rank(), age_of(f))).map(|(_, f)| f.clone()).unwrap_or(Freshness::Waiting);
        let mut names: Vec<&str> = sources.iter().map(|(s, _)| source_kind(s)).filter(|s| !s.is_empty()).collect();
        names.sort_unstable();
        names.dedup();
        (worst, names.join(","))
    }

    /// The age of the oldest current data across all sources.
    pub fn data_age_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        self.sources(now).iter().filter_map(|(_, _, f)| age_of(f)).max()
    }

    /// For the header: `(all fresh, the largest freshness budget, sources not fresh)`.
    pub fn data_summary(&self, now: DateTime<Utc>) -> (bool, u64, usize) {
        let s = self.sources(now);
        let bad = s.iter().filter(|(_, _, f)| !f.is_fresh()).count();
        let budget =
            s.iter().filter_map(|(_, _, f)| if let Freshness::Fresh { budget_ms, .. } = f { Some(*budget_ms) } else { None }).max();
        (bad == 0 && !s.is_empty(), budget.unwrap_or(0), bad)
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.data.as_ref()?.iter().find(|n| n.name == name)
    }
}

fn age_of(f: &Freshness) -> Option<i64> {
    match f {
        Freshness::Fresh { age_ms, .. } | Freshness::Stale { age_ms } => Some(*age_ms),
        Freshness::Failed { age_ms, .. } => *age_ms,
        Freshness::Waiting => None,
    }
}

/// "ssh slb1" -> "ssh"; "kube watch" -> "kube"; "demo" -> "demo".
fn source_kind(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}
