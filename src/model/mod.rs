//! The cockpit's state: plain data, no I/O. Probes send [`Observation`]s, the app applies them here,
//! the UI renders from here. Everything that can be derived (health, quorum, drift) is derived.

pub mod health;
pub mod rows;
pub mod source;
pub mod timeline;
pub mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::inventory::Plan;
pub use health::{Assessment, Finding, HealthLevel, Severity, assess};
pub use source::{Freshness, SourceError, Sourced};
pub use timeline::{Event, Timeline};
pub use types::*;

/// How the process was started; shown as the badge in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Live,
    ReadOnly,
    Demo,
    Drill,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Live => "LIVE",
            Mode::ReadOnly => "READ-ONLY",
            Mode::Demo => "DEMO",
            Mode::Drill => "DRILL",
        }
    }
}

/// The panels of the one screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelId {
    Hosts,
    Vip,
    Haproxy,
    Etcd,
    Leases,
    Certs,
    Ceph,
    Nodes,
    Platform,
    Timeline,
}

impl PanelId {
    pub const ALL: [PanelId; 10] = [
        PanelId::Hosts,
        PanelId::Vip,
        PanelId::Haproxy,
        PanelId::Etcd,
        PanelId::Leases,
        PanelId::Certs,
        PanelId::Ceph,
        PanelId::Nodes,
        PanelId::Platform,
        PanelId::Timeline,
    ];
    pub fn title(self) -> &'static str {
        match self {
            PanelId::Hosts => "Hosts (plan vs live)",
            PanelId::Vip => "VIP / keepalived",
            PanelId::Haproxy => "haproxy backends",
            PanelId::Etcd => "etcd",
            PanelId::Leases => "Leases",
            PanelId::Certs => "Certificates",
            PanelId::Ceph => "Ceph",
            PanelId::Nodes => "Nodes",
            PanelId::Platform => "Platform",
            PanelId::Timeline => "Timeline",
        }
    }
}

/// What a probe saw, or why it could not see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Host {
        host: String,
        result: Result<HostFacts, String>,
    },
    Vrrp {
        lb: String,
        result: Result<VrrpView, String>,
    },
    Haproxy {
        lb: String,
        result: Result<Vec<BackendServer>, String>,
    },
    Readyz {
        master: String,
        result: Result<Readyz, String>,
    },
    VipProbe(Result<VipProbe, String>),
    Etcd(Result<EtcdView, String>),
    Leases(Result<Vec<Lease>, String>),
    Nodes(Result<Vec<Node>, String>),
    /// DaemonSets, Deployments and StatefulSets of the platform namespaces.
    Workloads(Result<Vec<Workload>, String>),
    /// Ceph as the ceph CLI (or the demo) sees it.
    Ceph(Result<CephView, String>),
    /// Kubernetes Warning events of the last hour, oldest first.
    KubeWarnings(Result<Vec<KubeWarning>, String>),
    /// Rook's CephCluster `status.ceph` and the Rook daemon pods, through the Kubernetes API.
    RookCeph(Result<CephView, String>),
    Certs {
        host: String,
        result: Result<Vec<CertInfo>, String>,
    },
}

/// A timestamped observation from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub at: DateTime<Utc>,
    /// e.g. "ssh slb1" or "demo".
    pub source: String,
    /// How long the result stays current.
    pub budget_ms: u64,
    pub payload: Payload,
}

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub cluster: String,
    pub context: String,
    pub mode: Mode,
    pub version: &'static str,
}

/// The whole observed cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub meta: Meta,
    pub plan: Plan,
    pub hosts: BTreeMap<String, Sourced<HostFacts>>,
    pub vrrp: BTreeMap<String, Sourced<VrrpView>>,
    pub haproxy: BTreeMap<String, Sourced<Vec<BackendServer>>>,
    pub readyz: BTreeMap<String, Sourced<Readyz>>,
    pub vip_probe: Sourced<VipProbe>,
    pub etcd: Sourced<EtcdView>,
    pub leases: Sourced<Vec<Lease>>,
    pub nodes: Sourced<Vec<Node>>,
    pub workloads: Sourced<Vec<Workload>>,
    /// The ceph CLI's view (on a mon host, through the toolbox, or here).
    pub ceph: Sourced<CephView>,
    /// Warning events of the last hour, oldest first (the Kubernetes side).
    #[serde(skip_serializing_if = "Sourced::unheard")]
    pub warnings: Sourced<Vec<KubeWarning>>,
    /// Rook's view (its CephCluster, refreshed by the operator about once a minute). Where both exist
    /// the panel shows the CLI's and says whether Rook agrees; [`Model::ceph_view`] picks.
    #[serde(skip_serializing_if = "Sourced::unheard")]
    pub rook: Sourced<CephView>,
    pub certs: BTreeMap<String, Sourced<Vec<CertInfo>>>,
    pub timeline: Timeline,
    /// Bumped on every visible change; the UI redraws when it moves.
    #[serde(skip)]
    pub revision: u64,
}

impl Model {
    pub fn new(plan: Plan, mode: Mode, context: impl Into<String>) -> Model {
        Model {
            meta: Meta { cluster: plan.cluster.name.clone(), context: context.into(), mode, version: env!("CARGO_PKG_VERSION") },
            plan,
            hosts: BTreeMap::new(),
            vrrp: BTreeMap::new(),
            haproxy: BTreeMap::new(),
            readyz: BTreeMap::new(),
            vip_probe: Sourced::default(),
            etcd: Sourced::default(),
            leases: Sourced::default(),
            nodes: Sourced::default(),
            workloads: Sourced::default(),
            ceph: Sourced::default(),
            warnings: Sourced::default(),
            rook: Sourced::default(),
            certs: BTreeMap::new(),
            timeline: Timeline::default(),
            revision: 0,
        }
    }

    /// Merge one observation; record state changes on the timeline. Returns whether anything visible changed.
    pub fn apply(&mut self, obs: Observation) -> bool {
        let Observation { at, source, budget_ms, payload } = obs;
        let changed = match payload {
            Payload::Host { host, result } => {
                let failed = result.as_ref().err().cloned();
                let slot = self.hosts.entry(host.clone()).or_default();
                let was_failing = slot.error.is_some();
                let c = slot.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Hosts, &host, was_failing, failed.as_deref(), c);
                c
            }
            Payload::Vrrp { lb, result } => {
                let before = self.vip_holders();
                let old_state = self.vrrp.get(&lb).and_then(|s| s.data.as_ref()).map(|v| v.state);
                let failed = result.as_ref().err().cloned();
                let slot = self.vrrp.entry(lb.clone()).or_default();
                let was_failing = slot.error.is_some();
                let c = slot.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Vip, &lb, was_failing, failed.as_deref(), c);
                let new_state = self.vrrp.get(&lb).and_then(|s| s.data.as_ref()).map(|v| v.state);
                if let (Some(o), Some(n)) = (old_state, new_state)
                    && o != n
                {
                    let sev = if n == VrrpState::Fault || n == VrrpState::Stopped { Severity::Warn } else { Severity::Info };
                    self.timeline.push(Event::new(at, PanelId::Vip, sev, format!("keepalived {lb} {} -> {}", o.label(), n.label())));
                }
                let after = self.vip_holders();
                if before != after && !(before.is_empty() && self.timeline.is_empty_for(PanelId::Vip)) {
                    self.timeline.push(vip_move_event(at, &before, &after));
                }
                c
            }
            Payload::Haproxy { lb, result } => {
                let old: BTreeMap<String, ServerStatus> = self
                    .haproxy
                    .get(&lb)
                    .and_then(|s| s.data.as_ref())
                    .map(|v| v.iter().map(|b| (format!("{}/{}", b.backend, b.server), b.status)).collect())
                    .unwrap_or_default();
                let failed = result.as_ref().err().cloned();
                let slot = self.haproxy.entry(lb.clone()).or_default();
                let was_failing = slot.error.is_some();
                let c = slot.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Haproxy, &lb, was_failing, failed.as_deref(), c);
                if let Some(servers) = self.haproxy.get(&lb).and_then(|s| s.data.clone()) {
                    for b in servers {
                        if let Some(&o) = old.get(&format!("{}/{}", b.backend, b.server))
                            && o != b.status
                            && (o.is_serving() != b.status.is_serving() || matches!(b.status, ServerStatus::Maint | ServerStatus::Drain))
                        {
                            let sev = if b.status.is_serving() { Severity::Info } else { Severity::Warn };
                            let why = b.check_status.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
                            self.timeline.push(Event::new(
                                at,
                                PanelId::Haproxy,
                                sev,
                                format!("haproxy {lb} {} {} -> {}{why}", b.server, status_word(o), status_word(b.status)),
                            ));
                        }
                    }
                }
                c
            }
            Payload::Readyz { master, result } => {
                let slot = self.readyz.entry(master).or_default();
                slot.record(at, &source, budget_ms, result)
            }
            Payload::VipProbe(result) => self.vip_probe.record(at, &source, budget_ms, result),
            Payload::Etcd(result) => {
                let old_leader = self.etcd.data.as_ref().and_then(|e| e.leader().map(|m| m.name.clone()));
                let old_up: BTreeSet<String> = self
                    .etcd
                    .data
                    .as_ref()
                    .map(|e| e.members.iter().filter(|m| m.reachable).map(|m| m.name.clone()).collect())
                    .unwrap_or_default();
                let had_data = self.etcd.data.is_some();
                let failed = result.as_ref().err().cloned();
                let was_failing = self.etcd.error.is_some();
                let c = self.etcd.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Etcd, "etcd", was_failing, failed.as_deref(), c);
                if let (true, Some(e)) = (had_data, self.etcd.data.clone()) {
                    let new_leader = e.leader().map(|m| m.name.clone());
                    if new_leader != old_leader {
                        let text = match (&old_leader, &new_leader) {
                            (Some(o), Some(n)) => format!("etcd leader {o} -> {n}"),
                            (None, Some(n)) => format!("etcd leader elected: {n}"),
                            (Some(o), None) => format!("etcd has no leader (was {o})"),
                            (None, None) => String::new(),
                        };
                        let sev = if new_leader.is_none() { Severity::Critical } else { Severity::Warn };
                        self.timeline.push(Event::new(at, PanelId::Etcd, sev, text));
                    }
                    for m in &e.members {
                        let was = old_up.contains(&m.name);
                        if was && !m.reachable {
                            self.timeline.push(Event::new(at, PanelId::Etcd, Severity::Warn, format!("etcd member {} down", m.name)));
                        } else if !was && m.reachable {
                            self.timeline.push(Event::new(at, PanelId::Etcd, Severity::Info, format!("etcd member {} up", m.name)));
                        }
                    }
                }
                c
            }
            Payload::Leases(result) => {
                let old: BTreeMap<String, Option<String>> = self
                    .leases
                    .data
                    .as_ref()
                    .map(|ls| {
                        ls.iter()
                            .filter(|l| l.kind == LeaseKind::LeaderElection)
                            .map(|l| (l.name.clone(), l.holder_host().map(str::to_string)))
                            .collect()
                    })
                    .unwrap_or_default();
                let failed = result.as_ref().err().cloned();
                let was_failing = self.leases.error.is_some();
                let c = self.leases.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Leases, "leases", was_failing, failed.as_deref(), c);
                if let Some(ls) = self.leases.data.clone() {
                    for l in ls.iter().filter(|l| l.kind == LeaseKind::LeaderElection) {
                        if let Some(o) = old.get(&l.name) {
                            let n = l.holder_host().map(str::to_string);
                            if *o != n {
                                self.timeline.push(Event::new(
                                    at,
                                    PanelId::Leases,
                                    Severity::Warn,
                                    format!("{} leader {} -> {}", l.name, o.as_deref().unwrap_or("-"), n.as_deref().unwrap_or("-")),
                                ));
                            }
                        }
                    }
                }
                c
            }
            Payload::Nodes(result) => {
                let old: BTreeMap<String, (Option<bool>, bool)> = self
                    .nodes
                    .data
                    .as_ref()
                    .map(|ns| ns.iter().map(|n| (n.name.clone(), (n.ready, n.unschedulable))).collect())
                    .unwrap_or_default();
                let failed = result.as_ref().err().cloned();
                let was_failing = self.nodes.error.is_some();
                let c = self.nodes.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Nodes, "nodes", was_failing, failed.as_deref(), c);
                if c && !old.is_empty()
                    && let Some(ns) = self.nodes.data.clone()
                {
                    for n in &ns {
                        let Some(&(ready, unsched)) = old.get(&n.name) else { continue };
                        if ready != n.ready {
                            let (sev, word) = match n.ready {
                                Some(true) => (Severity::Info, "Ready"),
                                Some(false) => (Severity::Warn, "NotReady"),
                                None => (Severity::Warn, "Unknown"),
                            };
                            self.timeline.push(Event::new(at, PanelId::Nodes, sev, format!("node {} {word}", n.name)));
                        }
                        if unsched != n.unschedulable {
                            let word = if n.unschedulable { "cordoned" } else { "uncordoned" };
                            self.timeline.push(Event::new(at, PanelId::Nodes, Severity::Info, format!("node {} {word}", n.name)));
                        }
                    }
                }
                c
            }
            Payload::Workloads(result) => {
                let old: BTreeMap<String, bool> = self
                    .workloads
                    .data
                    .as_ref()
                    .map(|ws| ws.iter().map(|w| (format!("{}/{}", w.namespace, w.name), w.is_ready())).collect())
                    .unwrap_or_default();
                let failed = result.as_ref().err().cloned();
                let was_failing = self.workloads.error.is_some();
                let c = self.workloads.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Platform, "workloads", was_failing, failed.as_deref(), c);
                if c && !old.is_empty() {
                    for w in self.workloads.data.clone().unwrap_or_default() {
                        let key = format!("{}/{}", w.namespace, w.name);
                        if let Some(&was) = old.get(&key)
                            && was != w.is_ready()
                        {
                            let (sev, word) = if w.is_ready() { (Severity::Info, "ready") } else { (Severity::Warn, "not ready") };
                            self.timeline.push(Event::new(
                                at,
                                PanelId::Platform,
                                sev,
                                format!("{} {key} {word} ({}/{})", w.kind.short(), w.ready, w.desired),
                            ));
                        }
                    }
                }
                c
            }
            Payload::KubeWarnings(result) => self.apply_warnings(at, &source, budget_ms, result),
            Payload::Ceph(result) => self.apply_ceph(at, &source, budget_ms, result, false),
            Payload::RookCeph(result) => self.apply_ceph(at, &source, budget_ms, result, true),
            Payload::Certs { host, result } => {
                let slot = self.certs.entry(host).or_default();
                slot.record(at, &source, budget_ms, result)
            }
        };
        if changed {
            self.revision += 1;
        }
        changed
    }

    /// Warning events: each new one, and each one counted up, goes on the timeline. The first list
    /// (the last hour's, at start) is one summary line instead of a flood of old news.
    fn apply_warnings(&mut self, at: DateTime<Utc>, source: &str, budget_ms: u64, result: Result<Vec<KubeWarning>, String>) -> bool {
        let panel = |w: &KubeWarning| if w.about_a_node() { PanelId::Nodes } else { PanelId::Platform };
        // what is news, found before the new list replaces the old one (the same list again, as the
        // source repeats it to stay fresh, costs one comparison)
        let news: Vec<Event> = match (&result, &self.warnings.data) {
            (Ok(now), None) => now
                .last()
                .map(|newest| {
                    let text = format!("{} Warning event(s) in the last hour; the newest: {}", now.len(), newest.describe());
                    Event::new(at, panel(newest), Severity::Warn, text)
                })
                .into_iter()
                .collect(),
            (Ok(now), Some(old)) if now != old => {
                let before: HashMap<&str, u32> = old.iter().map(|w| (w.key.as_str(), w.count)).collect();
                now.iter()
                    .filter(|w| before.get(w.key.as_str()).is_none_or(|&n| n < w.count))
                    .map(|w| Event::new(at, panel(w), Severity::Warn, w.describe()))
                    .collect()
            }
            _ => Vec::new(),
        };
        let failed = result.as_ref().err().cloned();
        let was_failing = self.warnings.error.is_some();
        let c = self.warnings.record(at, source, budget_ms, result);
        self.note_source(at, PanelId::Platform, "warning events", was_failing, failed.as_deref(), c);
        for e in news {
            self.timeline.push(e);
        }
        c
    }

    /// Log a source failing or recovering on the timeline.
    /// One Ceph view, the CLI's or Rook's. Health changes go on the timeline from the view the panel
    /// shows, so that two sources of the same change do not record it twice.
    fn apply_ceph(&mut self, at: DateTime<Utc>, source: &str, budget_ms: u64, result: Result<CephView, String>, rook: bool) -> bool {
        let old = self.ceph_view().map(|c| c.health);
        let failed = result.as_ref().err().cloned();
        let slot = if rook { &mut self.rook } else { &mut self.ceph };
        let was_failing = slot.error.is_some();
        let c = slot.record(at, source, budget_ms, result);
        self.note_source(at, PanelId::Ceph, if rook { "rook" } else { "ceph" }, was_failing, failed.as_deref(), c);
        if let (Some(o), Some(v)) = (old, self.ceph_view())
            && o != v.health
        {
            let sev = match v.health {
                CephHealth::Ok => Severity::Info,
                CephHealth::Warn => Severity::Warn,
                CephHealth::Err => Severity::Critical,
            };
            let codes: Vec<&str> = v.checks.iter().map(|c| c.code.as_str()).collect();
            let text = format!("ceph {} -> {} {}", o.label(), v.health.label(), codes.join(" "));
            self.timeline.push(Event::new(at, PanelId::Ceph, sev, text.trim_end().to_string()));
        }
        c
    }

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

    /// The Ceph sources heard so far (the CLI's is listed while nothing at all is heard).
    fn ceph_sources(&self) -> Vec<(&str, &Sourced<CephView>)> {
        let mut v = Vec::new();
        if !self.ceph.unheard() || self.rook.unheard() {
            v.push(("ceph", &self.ceph));
        }
        if !self.rook.unheard() {
            v.push(("rook", &self.rook));
        }
        v
    }

    fn note_source(&mut self, at: DateTime<Utc>, panel: PanelId, what: &str, was_failing: bool, failed: Option<&str>, changed: bool) {
        if !changed {
            return;
        }
        match (was_failing, failed) {
            (_, Some(reason)) => self.timeline.push(Event::new(at, panel, Severity::Warn, format!("{what}: {reason}"))),
            (true, None) => self.timeline.push(Event::new(at, panel, Severity::Info, format!("{what}: recovered"))),
            (false, None) => {}
        }
    }

    /// Load balancers that currently hold the VIP (more than one is a split brain).
    pub fn vip_holders(&self) -> Vec<String> {
        self.vrrp.iter().filter(|(_, s)| s.data.as_ref().is_some_and(|v| v.holds_vip)).map(|(lb, _)| lb.clone()).collect()
    }

    /// Every source with its panel and freshness, for roll-ups and `status --json`.
    pub fn sources(&self, now: DateTime<Utc>) -> Vec<(PanelId, String, Freshness)> {
        let mut out = Vec::new();
        let mut push = |p: PanelId, name: String, f: Freshness| out.push((p, name, f));
        for (h, s) in &self.hosts {
            push(PanelId::Hosts, format!("host {h}"), s.freshness(now));
        }
        for (h, s) in &self.vrrp {
            push(PanelId::Vip, format!("keepalived {h}"), s.freshness(now));
        }
        if self.vip_probe.updated.is_some() || self.vip_probe.error.is_some() {
            push(PanelId::Vip, "vip probe".into(), self.vip_probe.freshness(now));
        }
        for (h, s) in &self.haproxy {
            push(PanelId::Haproxy, format!("haproxy {h}"), s.freshness(now));
        }
        for (h, s) in &self.readyz {
            push(PanelId::Haproxy, format!("readyz {h}"), s.freshness(now));
        }
        push(PanelId::Etcd, "etcd".into(), self.etcd.freshness(now));
        push(PanelId::Leases, "leases".into(), self.leases.freshness(now));
        push(PanelId::Nodes, "nodes".into(), self.nodes.freshness(now));
        if self.workloads.updated.is_some() || self.workloads.error.is_some() {
            push(PanelId::Platform, "workloads".into(), self.workloads.freshness(now));
        }
        for (name, s) in self.ceph_sources() {
            push(PanelId::Ceph, name.into(), s.freshness(now));
        }
        if !self.warnings.unheard() {
            push(PanelId::Timeline, "warning events".into(), self.warnings.freshness(now));
        }
        for (h, s) in &self.certs {
            push(PanelId::Certs, format!("certs {h}"), s.freshness(now));
        }
        out
    }

    /// The worst freshness among a panel's sources, and a short label of where the data comes from.
    pub fn panel_freshness(&self, panel: PanelId, now: DateTime<Utc>) -> (Freshness, String) {
        let sources: Vec<(&str, Freshness)> = match panel {
            PanelId::Hosts => self.hosts.values().map(|s| (s.source.as_str(), s.freshness(now))).collect(),
            PanelId::Vip => self.vrrp.values().map(|s| (s.source.as_str(), s.freshness(now))).collect(),
            PanelId::Haproxy => self.haproxy.values().map(|s| (s.source.as_str(), s.freshness(now))).collect(),
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

fn status_word(s: ServerStatus) -> &'static str {
    match s {
        ServerStatus::Up | ServerStatus::GoingDown => "UP",
        ServerStatus::Down | ServerStatus::GoingUp => "DOWN",
        ServerStatus::Maint => "MAINT",
        ServerStatus::Drain => "DRAIN",
        ServerStatus::NoCheck => "no check",
        ServerStatus::Unknown => "?",
    }
}

fn vip_move_event(at: DateTime<Utc>, before: &[String], after: &[String]) -> Event {
    let b = if before.is_empty() { "nobody".to_string() } else { before.join("+") };
    match after.len() {
        0 => Event::new(at, PanelId::Vip, Severity::Critical, format!("VIP lost: was on {b}, now on no host")),
        1 => Event::new(at, PanelId::Vip, Severity::Warn, format!("VIP moved {b} -> {}", after[0])),
        _ => Event::new(at, PanelId::Vip, Severity::Critical, format!("SPLIT BRAIN: VIP on {}", after.join(" and "))),
    }
}

#[cfg(test)]
mod tests;
