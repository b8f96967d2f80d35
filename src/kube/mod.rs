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

mod aggregate;
pub mod client;
pub mod controlplane;
pub mod convert;
pub mod drain;
pub mod kubeconfig;
pub mod lean;
pub mod logs;
pub mod pb;
pub mod reflect;
pub mod split;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use aggregate::*;
pub use client::{Access, Caps, Kube, KubeError, user_agent};
use convert::{PodEntry, RookDaemon};
pub use drain::{DrainPreview, drain_preview, node_extra};
use lean::{LeanCephCluster, LeanEvent, LeanLease, LeanNode, LeanPod, LeanWorkload};
use reflect::{Change, Convert, Spec};
use state::*;

use crate::backend::{BackendEvent, BackendHandle, Command};
use crate::model::{CephView, KubeWarning, Lease, LeaseKind, Node, Observation, Payload, Workload, WorkloadKind};
use crate::ops::{OpEvent, OpRequest};

/// The namespaces whose DaemonSets, Deployments and StatefulSets make the Platform panel.
pub const PLATFORM_NAMESPACES: [&str; 3] = ["kube-system", "kubesphere-system", "rook-ceph"];

/// How the Kubernetes side runs.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    pub access: Access,
    /// The session id of kockpit's audit log, said in every request's User-Agent (see
    /// [`client::user_agent`]); an operation's requests also say its id.
    pub session: Option<String>,
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
            session: None,
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
    // said once per distinct reason: a configuration retried every 30 s is not news every 30 s
    let mut said = String::new();
    let kube = loop {
        match Kube::connect(&settings.access).await {
            Ok(k) => {
                break match &settings.session {
                    Some(s) => k.with_session(s),
                    None => k,
                };
            }
            Err(e) => {
                let reason = e.to_string();
                if reason != said {
                    tracing::error!("kube: {reason}");
                    let _ = tx.send(BackendEvent::Notice(format!("Kubernetes: {reason}"))).await;
                    said = reason.clone();
                }
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
                    Command::Execute { id, request, cap } => {
                        let token = CancellationToken::new();
                        running.insert(id, token.clone());
                        let (kube, tx, done) = (kube.for_op(id), tx.clone(), done_tx.clone());
                        tokio::spawn(async move {
                            let progress = drain::Progress::new(id, tx.clone());
                            let result = drain::execute(&kube, &request, &cap, &progress, token).await;
                            let (ok, summary) = match result { Ok(s) => (true, s), Err(s) => (false, s) };
                            let _ = tx.send(BackendEvent::Op(OpEvent::Finished { id, ok, summary })).await;
                            let _ = done.send(id);
                        });
                    }
                    Command::Cancel { id } => match running.get(&id) {
                        Some(t) => t.cancel(),
                        None => { let _ = tx.send(BackendEvent::Notice(format!("operation {id}: nothing running to cancel"))).await; }
                    },
                    Command::DryRun { id, request } => {
                        let (kube, tx) = (kube.for_op(id), tx.clone());
                        tokio::spawn(async move {
                            let result = match &request {
                                OpRequest::Drain { node, options } => drain::drain_preview(&kube, node, options)
                                    .await
                                    .map(|p| crate::ops::DryRun {
                                        lines: p.lines(),
                                        refused: p.refused.clone(),
                                        moves: p.evict.len() + p.blocked.len(),
                                        skipped: p.skipped.len(),
                                    })
                                    .map_err(|e| format!("dry run of {}: {e}", request.title())),
                                other => Err(format!("no dry run of {}", other.title())),
                            };
                            let _ = tx.send(BackendEvent::DryRun { id, result }).await;
                        });
                    }
                    Command::NodeDetail { id, node } => {
                        let (kube, tx) = (kube.clone(), tx.clone());
                        tokio::spawn(async move {
                            let result = node_extra(&kube, &node).await.map_err(|e| format!("pods of {node}: {e}"));
                            let _ = tx.send(BackendEvent::NodeDetail { id, node, result }).await;
                        });
                    }
                    Command::Logs(r) => {
                        tails.retain(|_, h| !h.is_finished());
                        logs_command(&kube, r, &mut tails, &tx).await;
                    }
                    other => {
                        for ev in crate::backend::unavailable(other, "not carried out by the Kubernetes part") {
                            let _ = tx.send(ev).await;
                        }
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
                for ev in crate::backend::log_refused(id, &spec, "host logs are read over SSH, not through the Kubernetes API") {
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
    let why = match &c {
        Command::Cancel { id } => format!("operation {id}: nothing running to cancel"),
        _ => format!("Kubernetes unavailable: {reason}"),
    };
    let evs = match c {
        Command::Cancel { .. } => vec![BackendEvent::Notice(why)],
        c => crate::backend::unavailable(c, &why),
    };
    for ev in evs {
        let _ = tx.send(ev).await;
    }
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

#[cfg(test)]
mod tests;
