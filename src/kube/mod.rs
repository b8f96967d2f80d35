//! The Kubernetes API side of the live backend: watches (never polling) of nodes, pods, leases,
//! platform workloads and Rook's CephCluster, coalesced into observations; cordon, uncordon and drain.
//!
//! - [`Kube::connect`]: kubeconfig / context / exec plugins / in-cluster; read-only refuses every verb
//!   but get, list and watch in a tower layer below the API layer ([`client::ReadOnlyLayer`]).
//! - [`spawn`]: starts the watches and the operation executor; sends into the given channel and returns
//!   a [`KubeBackend`] whose `commands` take `Command::Execute` (cordon, uncordon, drain) and `Command::Cancel`.
//! - [`drain_preview`]: the dry run of a drain, for the confirm dialog.
//!
//! Memory: lists are decoded item by item as they stream in ([`split`]), objects are parsed into lean
//! views ([`lean`]) and kept in compact form: a pod costs well under 200 bytes.

pub mod client;
pub mod convert;
pub mod drain;
pub mod lean;
pub mod logs;
pub mod reflect;
pub mod split;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use client::{Access, Caps, Kube, KubeError};
use convert::{PodEntry, RookDaemon};
pub use drain::{DrainPreview, drain_preview};
use lean::{LeanCephCluster, LeanEvent, LeanLease, LeanNode, LeanPod, LeanWorkload};
use reflect::{Change, Convert, Spec};

use crate::backend::{BackendEvent, BackendHandle, Command};
use crate::model::{CephView, KubeWarning, Lease, LeaseKind, Node, Observation, Payload, Workload, WorkloadKind};
use crate::ops::{OpEvent, OpRequest};

/// The namespaces whose DaemonSets, Deployments and StatefulSets make the Platform panel.
pub const PLATFORM_NAMESPACES: [&str; 3] = ["kube-system", "kubesphere-system", "rook-ceph"];

/// How the Kubernetes side runs.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    pub access: Access,
    /// Platform namespaces (default [`PLATFORM_NAMESPACES`]; add the plan's).
    pub namespaces: Vec<String>,
    /// Observations are sent at most this often per panel (coalescing).
    pub coalesce: Duration,
    /// How long an observation stays current; unchanged data is re-sent every third of it.
    pub budget: Duration,
    /// Liveness check of the API server (GET /version); two failures in a row mark every panel failed
    /// and restart the watches.
    pub ping_interval: Duration,
    /// How often metrics.k8s.io is read when it is served (it cannot be watched).
    pub metrics_interval: Duration,
    /// Server-side timeout of each watch request.
    pub watch_timeout: Duration,
    /// Watch Rook's CephCluster (when its CRD is served) and send `Payload::RookCeph` with source
    /// "kube rook"; the model shows it beside (or, without a ceph CLI source, instead of) the CLI's view.
    pub rook_ceph: bool,
}

impl KubeSettings {
    pub fn new(access: Access) -> KubeSettings {
        KubeSettings {
            access,
            namespaces: PLATFORM_NAMESPACES.iter().map(|s| s.to_string()).collect(),
            coalesce: Duration::from_millis(500),
            budget: Duration::from_secs(10),
            ping_interval: Duration::from_secs(3),
            metrics_interval: Duration::from_secs(15),
            watch_timeout: Duration::from_secs(240),
            rook_ceph: true,
        }
    }

    /// From a plan's `access` section: its kubeconfig and context, read-only when either asks for it.
    pub fn from_plan(plan: &crate::inventory::Plan, readonly: bool) -> KubeSettings {
        KubeSettings::new(Access {
            kubeconfig: plan.access.kubeconfig.clone().filter(|p| !p.as_os_str().is_empty()).map(expand_home),
            context: plan.access.kube_context.clone(),
            readonly: readonly || plan.access.readonly,
        })
    }
}

fn expand_home(p: PathBuf) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p,
    }
}

/// Whether the Kubernetes backend executes this operation.
pub fn handles(req: &OpRequest) -> bool {
    matches!(req, OpRequest::Cordon { .. } | OpRequest::Uncordon { .. } | OpRequest::Drain { .. })
}

/// The running Kubernetes side: send it `Command::Execute` (for requests where [`handles`] is true) and
/// `Command::Cancel`. Everything stops when `tx`'s receiver is dropped.
pub struct KubeBackend {
    pub commands: mpsc::UnboundedSender<Command>,
    client: watch::Receiver<Option<Kube>>,
}

impl KubeBackend {
    /// The connected client (None until the configuration loaded), e.g. for [`drain_preview`] from a
    /// task of the app. Read-only exactly when the backend is.
    pub fn client(&self) -> Option<Kube> {
        self.client.borrow().clone()
    }
}

/// Start the watches and the operation executor on the current runtime, sending into `tx`.
/// A configuration error is reported as failed panels (and a notice); the backend then retries the
/// connection with backoff, so a kubeconfig fixed later is picked up.
pub fn spawn(settings: KubeSettings, tx: mpsc::Sender<BackendEvent>) -> KubeBackend {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (client_tx, client_rx) = watch::channel(None);
    tokio::spawn(supervise(settings, tx, cmd_rx, client_tx));
    KubeBackend { commands: cmd_tx, client: client_rx }
}

/// A backend of the Kubernetes side alone (for `kockpit` without an HA plan, tests and benchmarks).
pub fn spawn_backend(settings: KubeSettings) -> BackendHandle {
    let (tx, rx) = mpsc::channel(1024);
    let b = spawn(settings, tx);
    BackendHandle { events: rx, commands: b.commands, supports_faults: false }
}

const SOURCE: &str = "kube";
const SOURCE_ROOK: &str = "kube rook";
/// Rook refreshes the CephCluster status every 60 s.
const ROOK_BUDGET_MS: u64 = 150_000;
/// The most Warning events passed on (the newest).
const MAX_WARNINGS: usize = 200;

async fn supervise(
    settings: KubeSettings,
    tx: mpsc::Sender<BackendEvent>,
    mut cmds: mpsc::UnboundedReceiver<Command>,
    client: watch::Sender<Option<Kube>>,
) {
    let kube = loop {
        match Kube::connect(&settings.access).await {
            Ok(k) => break k,
            Err(e) => {
                let reason = e.to_string();
                tracing::error!("kube: {reason}");
                let _ = tx.send(BackendEvent::Notice(format!("Kubernetes: {reason}"))).await;
                for p in failed_payloads(&reason, false) {
                    let _ = tx.send(BackendEvent::Obs(obs(SOURCE, settings.budget, Utc::now(), p))).await;
                }
                // answer commands while unconfigured, retry the configuration now and then
                let until = Instant::now() + Duration::from_secs(30);
                loop {
                    tokio::select! {
                        _ = tx.closed() => return,
                        _ = tokio::time::sleep_until(until) => break,
                        c = cmds.recv() => match c {
                            None => return,
                            Some(c) => refuse_command(&tx, c, &reason).await,
                        },
                    }
                }
            }
        }
    };
    client.send_replace(Some(kube.clone()));
    let (msg_tx, msg_rx) = mpsc::channel::<Msg>(4096);
    let (restart_tx, restart_rx) = watch::channel(0u64);
    let agg = tokio::spawn(aggregate(kube.clone(), settings.clone(), tx.clone(), msg_tx.clone(), msg_rx, restart_tx, restart_rx));
    let mut running: HashMap<u64, CancellationToken> = HashMap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<u64>();
    // pod log sources by id; aborting a tail drops its requests (the streams end)
    let mut tails: HashMap<u64, tokio::task::AbortHandle> = HashMap::new();
    loop {
        tokio::select! {
            _ = tx.closed() => break,
            Some(id) = done_rx.recv() => { running.remove(&id); }
            c = cmds.recv() => {
                let Some(c) = c else { break };
                match c {
                    Command::Execute { id, request, cap: _ } => {
                        let token = CancellationToken::new();
                        running.insert(id, token.clone());
                        let (kube, tx, done) = (kube.clone(), tx.clone(), done_tx.clone());
                        tokio::spawn(async move {
                            let progress = drain::Progress::new(id, tx.clone());
                            let result = drain::execute(&kube, &request, &progress, token).await;
                            let (ok, summary) = match result { Ok(s) => (true, s), Err(s) => (false, s) };
                            let _ = tx.send(BackendEvent::Op(OpEvent::Finished { id, ok, summary })).await;
                            let _ = done.send(id);
                        });
                    }
                    Command::Cancel { id } => match running.get(&id) {
                        Some(t) => t.cancel(),
                        None => { let _ = tx.send(BackendEvent::Notice(format!("operation {id}: nothing running to cancel"))).await; }
                    },
                    Command::Fault(_) => { let _ = tx.send(BackendEvent::Notice("fault injection is only available in the demo and drills".into())).await; }
                    Command::SetPaused(_) => { let _ = tx.send(BackendEvent::Notice("a live cluster cannot be paused".into())).await; }
                    Command::DryRun { id, request } => {
                        let (kube, tx) = (kube.clone(), tx.clone());
                        tokio::spawn(async move {
                            let result = match &request {
                                OpRequest::Drain { node, options } => drain::drain_preview(&kube, node, options)
                                    .await
                                    .map(|p| crate::ops::DryRun { lines: p.lines(), refused: p.refused.clone() })
                                    .map_err(|e| format!("dry run of {}: {e}", request.title())),
                                other => Err(format!("no dry run of {}", other.title())),
                            };
                            let _ = tx.send(BackendEvent::DryRun { id, result }).await;
                        });
                    }
                    Command::Host { id, .. } => {
                        let summary = "host actions are not executed by the Kubernetes backend".to_string();
                        let _ = tx.send(BackendEvent::Op(OpEvent::Finished { id, ok: false, summary })).await;
                    }
                    Command::Logs(r) => {
                        tails.retain(|_, h| !h.is_finished());
                        logs_command(&kube, r, &mut tails, &tx).await;
                    }
                }
            }
        }
    }
    for t in running.values() {
        t.cancel();
    }
    for h in tails.values() {
        h.abort();
    }
    agg.abort();
}

async fn logs_command(
    kube: &Kube,
    r: crate::logs::spec::LogRequest,
    tails: &mut HashMap<u64, tokio::task::AbortHandle>,
    tx: &mpsc::Sender<BackendEvent>,
) {
    use crate::logs::spec::{LogRequest, LogState, LogStatus};
    match r {
        LogRequest::Open { id, spec, tail, follow } => {
            if !spec.is_kube() {
                for ev in LogStatus::refused(id, &spec, "host logs are read over SSH, not through the Kubernetes API") {
                    let _ = tx.send(ev).await;
                }
                return;
            }
            let h = tokio::spawn(logs::tail_pods(kube.clone(), id, spec, tail, follow, tx.clone()));
            tails.insert(id, h.abort_handle());
        }
        LogRequest::Close { id } => {
            if let Some(h) = tails.remove(&id) {
                h.abort();
                let _ = tx.send(BackendEvent::LogSource(LogStatus { id, source: "kube".into(), state: LogState::Closed })).await;
            }
        }
    }
}

async fn refuse_command(tx: &mpsc::Sender<BackendEvent>, c: Command, reason: &str) {
    let ev = match c {
        Command::Execute { id, request, .. } => {
            BackendEvent::Op(OpEvent::Finished { id, ok: false, summary: format!("{}: Kubernetes unavailable: {reason}", request.title()) })
        }
        Command::Cancel { id } => BackendEvent::Notice(format!("operation {id}: nothing running to cancel")),
        Command::DryRun { id, .. } => BackendEvent::DryRun { id, result: Err(format!("Kubernetes unavailable: {reason}")) },
        Command::Logs(crate::logs::spec::LogRequest::Open { id, spec, .. }) => {
            for ev in crate::logs::spec::LogStatus::refused(id, &spec, &format!("Kubernetes unavailable: {reason}")) {
                let _ = tx.send(ev).await;
            }
            return;
        }
        Command::Logs(crate::logs::spec::LogRequest::Close { .. }) => return,
        _ => BackendEvent::Notice("not available against a live cluster".into()),
    };
    let _ = tx.send(ev).await;
}

fn obs(source: &str, budget: Duration, at: DateTime<Utc>, payload: Payload) -> Observation {
    Observation { at, source: source.to_string(), budget_ms: budget.as_millis() as u64, payload }
}

fn failed_payloads(reason: &str, ceph: bool) -> Vec<Payload> {
    let r = reason.to_string();
    let mut v = vec![
        Payload::Nodes(Err(r.clone())),
        Payload::Leases(Err(r.clone())),
        Payload::Workloads(Err(r.clone())),
        Payload::KubeWarnings(Err(r.clone())),
    ];
    if ceph {
        v.push(Payload::RookCeph(Err(r)));
    }
    v
}

// ------------------------------------------------------------------------------------ aggregator

/// What the watch loops and pollers tell the aggregator.
#[derive(Debug)]
enum Msg {
    Nodes(Change<Node>),
    Pods(Change<PodEntry>),
    Leases(LeaseKind, Change<Lease>),
    Workloads(WorkloadKind, Change<Workload>),
    Ceph(Change<(CephView, Option<DateTime<Utc>>)>),
    Warnings(Change<KubeWarning>),
    Metrics(HashMap<String, (u64, u64)>),
    /// The liveness check: Err after two failures in a row.
    Api(Result<(), String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Src {
    Nodes,
    Pods,
    Leases(LeaseKindKey),
    Workloads(WorkloadKind),
    Ceph,
    Warnings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum LeaseKindKey {
    LeaderElection,
    NodeHeartbeat,
}

fn lease_key(k: LeaseKind) -> LeaseKindKey {
    match k {
        LeaseKind::LeaderElection => LeaseKindKey::LeaderElection,
        LeaseKind::NodeHeartbeat => LeaseKindKey::NodeHeartbeat,
    }
}

#[derive(Debug, Default, Clone)]
struct SrcState {
    synced: bool,
    failed: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Panel {
    Nodes,
    Leases,
    Workloads,
    Ceph,
    Warnings,
}

#[derive(Debug, Default)]
struct Emitted {
    dirty: bool,
    last: Option<Instant>,
    last_err: Option<String>,
    ever_ok: bool,
}

/// The compact state of everything watched, and what was last sent.
#[derive(Default)]
pub(crate) struct State {
    nodes: BTreeMap<String, Node>,
    pods: HashMap<String, PodEntry>,
    /// Per node: requested CPU (m), memory, pods counted.
    sums: HashMap<String, (u64, u64, u32)>,
    leases: BTreeMap<(LeaseKindKey, String), Lease>,
    workloads: BTreeMap<(WorkloadKind, String), Workload>,
    ceph: BTreeMap<String, (CephView, Option<DateTime<Utc>>)>,
    warnings: BTreeMap<String, KubeWarning>,
    metrics: HashMap<String, (u64, u64)>,
    sources: BTreeMap<Src, SrcState>,
    api_down: Option<String>,
    emitted: HashMap<Panel, Emitted>,
    rook: bool,
}

impl State {
    fn pod_add(&mut self, key: String, p: PodEntry) {
        if let Some(old) = self.pods.remove(&key) {
            self.pod_account(&old, false);
        }
        self.pod_account(&p, true);
        self.pods.insert(key, p);
    }
    fn pod_del(&mut self, key: &str) {
        if let Some(old) = self.pods.remove(key) {
            self.pod_account(&old, false);
        }
    }
    fn pod_account(&mut self, p: &PodEntry, add: bool) {
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

    fn mark(&mut self, p: Panel) {
        self.emitted.entry(p).or_default().dirty = true;
    }

    /// Apply one message; returns the panel it touched.
    fn apply(&mut self, m: Msg) -> Option<Panel> {
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

    fn panel_sources(&self, p: Panel) -> Vec<Src> {
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
    fn panel_status(&self, p: Panel) -> Result<bool, String> {
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

    fn nodes_payload(&self) -> Vec<Node> {
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
    fn warnings_payload(&self, now: DateTime<Utc>) -> Vec<KubeWarning> {
        let since = now - chrono::Duration::hours(1);
        let mut v: Vec<KubeWarning> = self.warnings.values().filter(|w| w.last_seen.is_none_or(|t| t >= since)).cloned().collect();
        v.sort_by(|a, b| (a.last_seen, &a.key).cmp(&(b.last_seen, &b.key)));
        let extra = v.len().saturating_sub(MAX_WARNINGS);
        v.drain(..extra);
        v
    }

    fn leases_payload(&self) -> Vec<Lease> {
        self.leases.values().cloned().collect()
    }

    fn workloads_payload(&self) -> Vec<Workload> {
        let mut v: Vec<Workload> = self.workloads.values().cloned().collect();
        v.sort_by(|a, b| (&a.namespace, a.kind, &a.name).cmp(&(&b.namespace, b.kind, &b.name)));
        v
    }

    /// Rook's health, with mon and OSD daemons counted from their pods (the CR carries no quorum or
    /// OSD state): `osds` = OSD pods, `osds_up`/`osds_in` = Ready OSD pods, `osd_hosts` = their nodes.
    fn ceph_payload(&self) -> Option<(CephView, Option<DateTime<Utc>>)> {
        let (mut v, at) = self.ceph.values().max_by_key(|(v, _)| v.health).cloned()?;
        let mut hosts = std::collections::BTreeSet::new();
        for p in self.pods.values() {
            match p.rook {
                Some(RookDaemon::Osd) if p.counted => {
                    v.osds += 1;
                    if p.ready {
                        v.osds_up += 1;
                        v.osds_in += 1;
                    }
                    hosts.insert(p.node.clone());
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
        v.osd_hosts = hosts.into_iter().collect();
        Some((v, at))
    }

    /// The observations due now.
    fn due(&mut self, now: Instant, settings: &KubeSettings) -> Vec<Observation> {
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

enum SrcChange {
    Synced,
    Failed(String),
    Healthy,
    Data,
}

impl SrcChange {
    fn of<U>(c: &Change<U>) -> SrcChange {
        match c {
            Change::Reset(_) => SrcChange::Synced,
            Change::Failed(r) => SrcChange::Failed(r.clone()),
            Change::Healthy => SrcChange::Healthy,
            Change::Apply(..) | Change::Delete(_) => SrcChange::Data,
        }
    }
}

async fn aggregate(
    kube: Kube,
    settings: KubeSettings,
    tx: mpsc::Sender<BackendEvent>,
    msg_tx: mpsc::Sender<Msg>,
    mut msg_rx: mpsc::Receiver<Msg>,
    restart_tx: watch::Sender<u64>,
    restart_rx: watch::Receiver<u64>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    // discovery first: the PDB version for drains, metrics-server, Rook; retried until it works
    let mut backoff = reflect::Backoff::new(Duration::from_secs(8));
    let caps = loop {
        match kube.discover().await {
            Ok(c) => break c,
            Err(e) => {
                for p in failed_payloads(&e.to_string(), false) {
                    if tx.send(BackendEvent::Obs(obs(SOURCE, settings.budget, Utc::now(), p))).await.is_err() {
                        return;
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = tx.closed() => return,
                }
            }
        }
    };
    tracing::info!("kube: {} {} (policy {}, metrics {}, rook {})", kube.server, caps.server_version, caps.policy, caps.metrics, caps.rook);
    let wt = settings.watch_timeout;
    let start = |tasks: &mut tokio::task::JoinSet<()>, fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
        tasks.spawn(fut);
    };
    start(
        &mut tasks,
        Box::pin(reflect::run::<LeanNode, Node, Msg>(
            kube.clone(),
            Spec {
                path: "/api/v1/nodes".into(),
                query: String::new(),
                convert: Arc::new(|n: LeanNode| Some((n.metadata.name.clone(), convert::node(n)))),
                watch_timeout: wt,
            },
            msg_tx.clone(),
            Msg::Nodes,
            restart_rx.clone(),
        )),
    );
    start(
        &mut tasks,
        Box::pin(reflect::run::<LeanPod, PodEntry, Msg>(
            kube.clone(),
            Spec { path: "/api/v1/pods".into(), query: String::new(), convert: Arc::new(convert::pod), watch_timeout: wt },
            msg_tx.clone(),
            Msg::Pods,
            restart_rx.clone(),
        )),
    );
    for (ns, kind) in [("kube-system", LeaseKind::LeaderElection), ("kube-node-lease", LeaseKind::NodeHeartbeat)] {
        let convert: Convert<LeanLease, Lease> = Arc::new(move |l: LeanLease| Some((l.metadata.name.clone(), convert::lease(l, kind))));
        start(
            &mut tasks,
            Box::pin(reflect::run::<LeanLease, Lease, Msg>(
                kube.clone(),
                Spec {
                    path: format!("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"),
                    query: String::new(),
                    convert,
                    watch_timeout: wt,
                },
                msg_tx.clone(),
                move |c| Msg::Leases(kind, c),
                restart_rx.clone(),
            )),
        );
    }
    // workloads: cluster-wide watches (three connections instead of three per namespace), filtered here
    let namespaces = Arc::new(settings.namespaces.clone());
    for kind in [WorkloadKind::DaemonSet, WorkloadKind::Deployment, WorkloadKind::StatefulSet] {
        let ns = namespaces.clone();
        let convert: Convert<LeanWorkload, Workload> = Arc::new(move |w: LeanWorkload| {
            if !ns.contains(&w.metadata.namespace) {
                return None;
            }
            Some((w.metadata.key(), convert::workload(w, kind)))
        });
        start(
            &mut tasks,
            Box::pin(reflect::run::<LeanWorkload, Workload, Msg>(
                kube.clone(),
                Spec { path: format!("/apis/apps/v1/{}", kind.plural()), query: String::new(), convert, watch_timeout: wt },
                msg_tx.clone(),
                move |c| Msg::Workloads(kind, c),
                restart_rx.clone(),
            )),
        );
    }
    // Warning events, cluster-wide: what the scheduler, the kubelets and the controllers complain about
    start(
        &mut tasks,
        Box::pin(reflect::run::<LeanEvent, KubeWarning, Msg>(
            kube.clone(),
            Spec {
                path: "/api/v1/events".into(),
                query: "fieldSelector=type%3DWarning".into(),
                convert: Arc::new(convert::warning),
                watch_timeout: wt,
            },
            msg_tx.clone(),
            Msg::Warnings,
            restart_rx.clone(),
        )),
    );
    let rook = caps.rook && settings.rook_ceph;
    let mut state = State { rook, ..State::default() };
    if rook {
        start(
            &mut tasks,
            Box::pin(reflect::run::<LeanCephCluster, (CephView, Option<DateTime<Utc>>), Msg>(
                kube.clone(),
                Spec {
                    path: "/apis/ceph.rook.io/v1/cephclusters".into(),
                    query: String::new(),
                    convert: Arc::new(|c: LeanCephCluster| convert::ceph(&c).map(|v| (c.metadata.key(), v))),
                    watch_timeout: wt,
                },
                msg_tx.clone(),
                Msg::Ceph,
                restart_rx.clone(),
            )),
        );
    }
    tasks.spawn(poll_metrics(kube.clone(), caps.metrics, settings.metrics_interval, msg_tx.clone()));
    tasks.spawn(ping(kube.clone(), settings.ping_interval, msg_tx.clone(), restart_tx));
    drop(msg_tx);

    let mut tick = tokio::time::interval(settings.coalesce);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let emit_now = tokio::select! {
            _ = tx.closed() => break,
            _ = tick.tick() => true,
            m = msg_rx.recv() => {
                let Some(m) = m else { break };
                let first_sync = matches!(&m, Msg::Nodes(Change::Reset(_)) | Msg::Pods(Change::Reset(_)) | Msg::Leases(_, Change::Reset(_)) | Msg::Workloads(_, Change::Reset(_)));
                let failed = matches!(&m, Msg::Api(Err(_)) | Msg::Nodes(Change::Failed(_)) | Msg::Pods(Change::Failed(_)) | Msg::Leases(_, Change::Failed(_)));
                let panel = state.apply(m);
                // the first complete screen and failures go out at once; everything else waits for the tick
                first_sync && panel.is_some_and(|p| state.emitted.get(&p).is_none_or(|e| !e.ever_ok)) || failed
            }
        };
        if emit_now {
            for o in state.due(Instant::now(), &settings) {
                if tx.send(BackendEvent::Obs(o)).await.is_err() {
                    tasks.abort_all();
                    return;
                }
            }
        }
    }
    tasks.abort_all();
}

/// While metrics.k8s.io is not served, whether it has come is checked every this many metrics intervals
/// (one cheap discovery GET: a minute by default).
const METRICS_RECHECK: u32 = 4;
/// Used figures older than this many metrics intervals are dropped: the Nodes panel falls back to requests.
const METRICS_STALE: u32 = 3;

/// Used CPU and memory per node from metrics.k8s.io every `every` while it is served (`served`: discovery
/// at start). The APIService can come and go while kockpit runs: a 404 (metrics-server unregistered)
/// drops the used figures at once and the group is looked for again one interval later (an APIService
/// registered a moment ago is listed by discovery before its proxy answers: 404 for a few ms), then every
/// [`METRICS_RECHECK`] intervals;
/// other failures (503: registered but metrics-server down) keep the last figures for [`METRICS_STALE`]
/// intervals, then drop them. Failures never fail the Nodes panel: requests still show.
async fn poll_metrics(kube: Kube, served: bool, every: Duration, tx: mpsc::Sender<Msg>) {
    const GROUP: &str = "/apis/metrics.k8s.io/v1beta1";
    let mut served = served;
    // ticks until the group is looked for again while not served
    let mut recheck_in = METRICS_RECHECK;
    let mut last_ok: Option<Instant> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !served {
            recheck_in = recheck_in.saturating_sub(1);
            if recheck_in > 0 {
                continue;
            }
            recheck_in = METRICS_RECHECK;
            if kube.get_json::<serde_json::Value>(GROUP).await.is_err() {
                continue;
            }
            tracing::info!("kube: metrics.k8s.io is served now: used CPU and memory");
            served = true;
        }
        let drop_figures = match kube.get_json::<lean::List<lean::NodeMetrics>>(&format!("{GROUP}/nodes")).await {
            Ok(l) => {
                let m = l
                    .items
                    .into_iter()
                    .filter_map(|i| {
                        let cpu = i.usage.get("cpu").and_then(|q| lean::cpu_millis(q))?;
                        let mem = i.usage.get("memory").and_then(|q| lean::bytes(q))?;
                        Some((i.metadata.name, (cpu, mem)))
                    })
                    .collect();
                last_ok = Some(Instant::now());
                if tx.send(Msg::Metrics(m)).await.is_err() {
                    return;
                }
                false
            }
            Err(e) if e.code() == Some(404) => {
                tracing::info!("kube: metrics.k8s.io is no longer served: requests only");
                served = false;
                recheck_in = 1;
                true
            }
            Err(e) => {
                tracing::debug!("kube: metrics.k8s.io: {e}");
                last_ok.is_some_and(|t| t.elapsed() >= every * METRICS_STALE)
            }
        };
        if drop_figures && last_ok.take().is_some() && tx.send(Msg::Metrics(HashMap::new())).await.is_err() {
            return;
        }
    }
}

/// GET /version every `every`; two failures in a row: the API server is unreachable.
async fn ping(kube: Kube, every: Duration, tx: mpsc::Sender<Msg>, restart: watch::Sender<u64>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut fails, mut down) = (0u32, false);
    let limit = every.max(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let r = match tokio::time::timeout(limit, kube.get_json::<serde_json::Value>("/version")).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(KubeError::Timeout(limit).to_string()),
        };
        match r {
            Ok(()) => {
                fails = 0;
                if down {
                    down = false;
                    if tx.send(Msg::Api(Ok(()))).await.is_err() {
                        return;
                    }
                }
            }
            Err(reason) => {
                fails += 1;
                if fails >= 2 && !down {
                    down = true;
                    restart.send_modify(|g| *g += 1);
                    if tx.send(Msg::Api(Err(format!("API server unreachable: {reason}")))).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
