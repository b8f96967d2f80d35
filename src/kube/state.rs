//! The compact state of everything watched: what the watch loops and pollers tell the aggregator,
//! the per-node sums, and what was last sent for each panel.

use super::*;

/// What the watch loops and pollers tell the aggregator.
#[derive(Debug)]
pub(super) enum Msg {
    Nodes(Change<Node>),
    Pods(Change<PodEntry>),
    Leases(LeaseKind, Change<Lease>),
    Workloads(WorkloadKind, Change<Workload>),
    Ceph(Change<(CephView, Option<DateTime<Utc>>)>),
    Warnings(Change<KubeWarning>),
    Metrics(HashMap<String, (u64, u64)>),
    /// The liveness check: Err after two failures in a row.
    Api(Result<(), String>),
    /// The first list of pods streaming in: so many so far, of how many (passed on as it comes).
    Loading(u64, Option<u64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Src {
    Nodes,
    Pods,
    Leases(LeaseKindKey),
    Workloads(WorkloadKind),
    Ceph,
    Warnings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum LeaseKindKey {
    LeaderElection,
    NodeHeartbeat,
}

pub(super) fn lease_key(k: LeaseKind) -> LeaseKindKey {
    match k {
        LeaseKind::LeaderElection => LeaseKindKey::LeaderElection,
        LeaseKind::NodeHeartbeat => LeaseKindKey::NodeHeartbeat,
    }
}

#[derive(Debug, Default, Clone)]
pub(super) struct SrcState {
    pub(super) synced: bool,
    pub(super) failed: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Panel {
    Nodes,
    Leases,
    Workloads,
    Ceph,
    Warnings,
}

#[derive(Debug, Default)]
pub(super) struct Emitted {
    pub(super) dirty: bool,
    pub(super) last: Option<Instant>,
    pub(super) last_err: Option<String>,
    pub(super) ever_ok: bool,
}

/// The compact state of everything watched, and what was last sent.
#[derive(Default)]
pub(crate) struct State {
    pub(super) nodes: BTreeMap<String, Node>,
    pub(super) pods: HashMap<String, PodEntry>,
    /// Per node: requested CPU (m), memory, pods counted.
    pub(super) sums: HashMap<String, (u64, u64, u32)>,
    pub(super) leases: BTreeMap<(LeaseKindKey, String), Lease>,
    pub(super) workloads: BTreeMap<(WorkloadKind, String), Workload>,
    pub(super) ceph: BTreeMap<String, (CephView, Option<DateTime<Utc>>)>,
    pub(super) warnings: BTreeMap<String, KubeWarning>,
    pub(super) metrics: HashMap<String, (u64, u64)>,
    pub(super) sources: BTreeMap<Src, SrcState>,
    pub(super) api_down: Option<String>,
    pub(super) emitted: HashMap<Panel, Emitted>,
    pub(super) rook: bool,
}

impl State {
    pub(super) fn pod_add(&mut self, key: String, p: PodEntry) {
        if let Some(old) = self.pods.remove(&key) {
            self.pod_account(&old, false);
        }
        self.pod_account(&p, true);
        self.pods.insert(key, p);
    }
    pub(super) fn pod_del(&mut self, key: &str) {
        if let Some(old) = self.pods.remove(key) {
            self.pod_account(&old, false);
        }
    }
    pub(super) fn pod_account(&mut self, p: &PodEntry, add: bool) {
        if !p.counted {
            return;
        }
        let s = self.sums.entry(p.node.clone()).or_default();
        if add {
            s.0 += p.cpu_m;
            s.1 += p.mem;
            s.2 += 1;
        } else {
            s.0 = s.0.saturating_sub(p.cpu_m);
            s.1 = s.1.saturating_sub(p.mem);
            s.2 = s.2.saturating_sub(1);
            if s.2 == 0 {
                self.sums.remove(&p.node);
            }
        }
    }

    pub(super) fn mark(&mut self, p: Panel) {
        self.emitted.entry(p).or_default().dirty = true;
    }

    /// Apply one message; returns the panel it touched.
    pub(super) fn apply(&mut self, m: Msg) -> Option<Panel> {
        fn simple<K: Ord, V>(map: &mut BTreeMap<K, V>, key: impl Fn(String) -> K, keep: impl Fn(&K) -> bool, c: Change<V>) {
            match c {
                Change::Reset(items) => {
                    map.retain(|k, _| !keep(k));
                    for (k, v) in items {
                        map.insert(key(k), v);
                    }
                }
                Change::Apply(k, v) => {
                    map.insert(key(k), v);
                }
                Change::Delete(k) => {
                    map.remove(&key(k));
                }
                Change::Failed(_) | Change::Healthy => {}
            }
        }
        let (src, panel, change_state): (Src, Panel, SrcChange) = match m {
            Msg::Api(r) => {
                self.api_down = r.err();
                for p in [Panel::Nodes, Panel::Leases, Panel::Workloads, Panel::Ceph, Panel::Warnings] {
                    self.mark(p);
                }
                return None;
            }
            Msg::Loading(..) => return None,
            Msg::Metrics(m) => {
                self.metrics = m;
                self.mark(Panel::Nodes);
                return Some(Panel::Nodes);
            }
            Msg::Nodes(c) => {
                let s = SrcChange::of(&c);
                simple(&mut self.nodes, |k| k, |_| true, c);
                (Src::Nodes, Panel::Nodes, s)
            }
            Msg::Pods(c) => {
                let s = SrcChange::of(&c);
                match c {
                    Change::Reset(items) => {
                        self.pods.clear();
                        self.sums.clear();
                        self.pods.reserve(items.len());
                        for (k, p) in items {
                            self.pod_add(k, p);
                        }
                        self.pods.shrink_to_fit();
                    }
                    Change::Apply(k, p) => self.pod_add(k, p),
                    Change::Delete(k) => self.pod_del(&k),
                    Change::Failed(_) | Change::Healthy => {}
                }
                if self.rook {
                    self.mark(Panel::Ceph);
                }
                (Src::Pods, Panel::Nodes, s)
            }
            Msg::Leases(kind, c) => {
                let s = SrcChange::of(&c);
                let k = lease_key(kind);
                simple(&mut self.leases, |n| (k, n), |(kk, _)| *kk == k, c);
                (Src::Leases(k), Panel::Leases, s)
            }
            Msg::Workloads(kind, c) => {
                let s = SrcChange::of(&c);
                simple(&mut self.workloads, |n| (kind, n), |(kk, _)| *kk == kind, c);
                (Src::Workloads(kind), Panel::Workloads, s)
            }
            Msg::Ceph(c) => {
                let s = SrcChange::of(&c);
                simple(&mut self.ceph, |k| k, |_| true, c);
                (Src::Ceph, Panel::Ceph, s)
            }
            Msg::Warnings(c) => {
                let s = SrcChange::of(&c);
                simple(&mut self.warnings, |k| k, |_| true, c);
                (Src::Warnings, Panel::Warnings, s)
            }
        };
        let st = self.sources.entry(src).or_default();
        match change_state {
            SrcChange::Synced => {
                st.synced = true;
                st.failed = None;
            }
            SrcChange::Failed(r) => st.failed = Some(r),
            SrcChange::Healthy => st.failed = None,
            SrcChange::Data => {}
        }
        self.mark(panel);
        Some(panel)
    }

    pub(super) fn panel_sources(&self, p: Panel) -> Vec<Src> {
        match p {
            Panel::Nodes => vec![Src::Nodes, Src::Pods],
            Panel::Leases => vec![Src::Leases(LeaseKindKey::LeaderElection), Src::Leases(LeaseKindKey::NodeHeartbeat)],
            Panel::Workloads => vec![
                Src::Workloads(WorkloadKind::DaemonSet),
                Src::Workloads(WorkloadKind::Deployment),
                Src::Workloads(WorkloadKind::StatefulSet),
            ],
            Panel::Ceph => vec![Src::Ceph, Src::Pods],
            Panel::Warnings => vec![Src::Warnings],
        }
    }

    /// Err(reason) when the panel's data cannot be trusted now, Ok(true) when it is complete.
    pub(super) fn panel_status(&self, p: Panel) -> Result<bool, String> {
        if let Some(r) = &self.api_down {
            return Err(r.clone());
        }
        let mut complete = true;
        for s in self.panel_sources(p) {
            let st = self.sources.get(&s).cloned().unwrap_or_default();
            if let Some(r) = st.failed {
                return Err(r);
            }
            complete &= st.synced;
        }
        Ok(complete)
    }

    pub(super) fn nodes_payload(&self) -> Vec<Node> {
        self.nodes
            .values()
            .map(|n| {
                let mut n = n.clone();
                if let Some(&(cpu, mem, pods)) = self.sums.get(&n.name) {
                    n.cpu_requested_m = cpu;
                    n.mem_requested = mem;
                    n.pods = pods;
                }
                if let Some(&(cpu, mem)) = self.metrics.get(&n.name) {
                    n.cpu_used_m = Some(cpu);
                    n.mem_used = Some(mem);
                }
                n
            })
            .collect()
    }

    /// The Warning events of the last hour (the API server keeps events for an hour by default),
    /// oldest first, at most [`MAX_WARNINGS`].
    pub(super) fn warnings_payload(&self, now: DateTime<Utc>) -> Vec<KubeWarning> {
        let since = now - chrono::Duration::hours(1);
        let mut v: Vec<KubeWarning> = self.warnings.values().filter(|w| w.last_seen.is_none_or(|t| t >= since)).cloned().collect();
        v.sort_by(|a, b| (a.last_seen, &a.key).cmp(&(b.last_seen, &b.key)));
        let extra = v.len().saturating_sub(MAX_WARNINGS);
        v.drain(..extra);
        v
    }

    pub(super) fn leases_payload(&self) -> Vec<Lease> {
        self.leases.values().cloned().collect()
    }

    pub(super) fn workloads_payload(&self) -> Vec<Workload> {
        let mut v: Vec<Workload> = self.workloads.values().cloned().collect();
        v.sort_by(|a, b| (&a.namespace, a.kind, &a.name).cmp(&(&b.namespace, b.kind, &b.name)));
        v
    }

    /// Rook's health, with mon and OSD daemons counted from their pods (the CR carries no quorum or
    /// OSD state): `osds` = OSD pods, `osds_up`/`osds_in` = Ready OSD pods, `osd_hosts` = their nodes.
    pub(super) fn ceph_payload(&self) -> Option<(CephView, Option<DateTime<Utc>>)> {
        let (mut v, at) = self.ceph.values().max_by_key(|(v, _)| v.health).cloned()?;
        let mut hosts: std::collections::BTreeMap<String, (u32, u32)> = std::collections::BTreeMap::new();
        for p in self.pods.values() {
            match p.rook {
                Some(RookDaemon::Osd) if p.counted => {
                    v.osds += 1;
                    let h = hosts.entry(p.node.clone()).or_default();
                    h.0 += 1;
                    if p.ready {
                        v.osds_up += 1;
                        v.osds_in += 1;
                        h.1 += 1;
                    }
                }
                Some(RookDaemon::Mon) if p.counted => {
                    v.mons += 1;
                    if p.ready {
                        v.mons_in_quorum += 1;
                    }
                }
                _ => {}
            }
        }
        v.osd_hosts = hosts.keys().cloned().collect();
        v.osd_host_detail = hosts.into_iter().map(|(name, (osds, up))| crate::model::CephOsdHost { name, osds, up }).collect();
        Some((v, at))
    }

    /// The observations due now.
    pub(super) fn due(&mut self, now: Instant, settings: &KubeSettings) -> Vec<Observation> {
        let heartbeat = settings.budget / 3;
        let mut out = Vec::new();
        let panels: &[Panel] = if self.rook {
            &[Panel::Nodes, Panel::Leases, Panel::Workloads, Panel::Warnings, Panel::Ceph]
        } else {
            &[Panel::Nodes, Panel::Leases, Panel::Workloads, Panel::Warnings]
        };
        for &p in panels {
            let status = self.panel_status(p);
            let e = self.emitted.entry(p).or_default();
            let stale = e.last.is_none_or(|t| now.duration_since(t) >= heartbeat);
            let payload = match status {
                Err(reason) => {
                    if e.last_err.as_deref() == Some(reason.as_str()) && !stale {
                        continue;
                    }
                    e.last_err = Some(reason.clone());
                    match p {
                        Panel::Nodes => Payload::Nodes(Err(reason)),
                        Panel::Leases => Payload::Leases(Err(reason)),
                        Panel::Workloads => Payload::Workloads(Err(reason)),
                        Panel::Ceph => Payload::RookCeph(Err(reason)),
                        Panel::Warnings => Payload::KubeWarnings(Err(reason)),
                    }
                }
                Ok(false) => continue,
                Ok(true) => {
                    if !(e.dirty || stale || e.last_err.is_some()) {
                        continue;
                    }
                    e.last_err = None;
                    e.ever_ok = true;
                    match p {
                        Panel::Nodes => Payload::Nodes(Ok(self.nodes_payload())),
                        Panel::Leases => Payload::Leases(Ok(self.leases_payload())),
                        Panel::Workloads => Payload::Workloads(Ok(self.workloads_payload())),
                        Panel::Warnings => Payload::KubeWarnings(Ok(self.warnings_payload(Utc::now()))),
                        Panel::Ceph => match self.ceph_payload() {
                            Some((v, at)) => {
                                let e = self.emitted.entry(p).or_default();
                                e.dirty = false;
                                e.last = Some(now);
                                let at = at.unwrap_or_else(Utc::now);
                                out.push(Observation {
                                    at,
                                    source: SOURCE_ROOK.into(),
                                    budget_ms: ROOK_BUDGET_MS,
                                    payload: Payload::RookCeph(Ok(v)),
                                });
                                continue;
                            }
                            None if self.ceph.is_empty() => Payload::RookCeph(Err("no CephCluster found".into())),
                            None => Payload::RookCeph(Err("Rook has not reported Ceph health yet".into())),
                        },
                    }
                }
            };
            let e = self.emitted.entry(p).or_default();
            e.dirty = false;
            e.last = Some(now);
            let source = if p == Panel::Ceph { SOURCE_ROOK } else { SOURCE };
            let budget_ms = if p == Panel::Ceph { ROOK_BUDGET_MS } else { settings.budget.as_millis() as u64 };
            out.push(Observation { at: Utc::now(), source: source.into(), budget_ms, payload });
        }
        out
    }
}

pub(super) enum SrcChange {
    Synced,
    Failed(String),
    Healthy,
    Data,
}

impl SrcChange {
    pub(super) fn of<U>(c: &Change<U>) -> SrcChange {
        match c {
            Change::Reset(_) => SrcChange::Synced,
            Change::Failed(r) => SrcChange::Failed(r.clone()),
            Change::Healthy => SrcChange::Healthy,
            Change::Apply(..) | Change::Delete(_) => SrcChange::Data,
        }
    }
}
