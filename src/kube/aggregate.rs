//! The aggregator: one task folds every watch and poller into [`State`] and sends each panel's
//! observation when it changed (coalesced); the metrics poller and the API liveness check.

use super::*;
use crate::backend::poll::{Round, poll_loop};

pub(super) async fn aggregate(
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
    let mut backoff = reflect::watch_backoff(Duration::from_secs(8));
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
                progress: None,
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
            Spec {
                path: "/api/v1/pods".into(),
                query: String::new(),
                convert: Arc::new(convert::pod),
                watch_timeout: wt,
                // 150,000 pods take seconds to list: the screen says how far
                progress: Some({
                    let tx = msg_tx.clone();
                    Arc::new(move |done, total| {
                        let _ = tx.try_send(Msg::Loading(done, total));
                    })
                }),
            },
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
                    progress: None,
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
                Spec { path: format!("/apis/apps/v1/{}", kind.plural()), query: String::new(), convert, watch_timeout: wt, progress: None },
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
                progress: None,
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
                    progress: None,
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
                if let Msg::Loading(done, total) = m {
                    let l = crate::model::Loading { what: "pods".into(), done, total };
                    let o = Observation { at: Utc::now(), source: SOURCE.into(), budget_ms: settings.budget.as_millis() as u64, payload: Payload::KubeLoading(l) };
                    if tx.send(BackendEvent::Obs(o)).await.is_err() {
                        break;
                    }
                    continue;
                }
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
pub(super) const METRICS_RECHECK: u32 = 4;
/// Used figures older than this many metrics intervals are dropped: the Nodes panel falls back to requests.
pub(super) const METRICS_STALE: u32 = 3;

/// Used CPU and memory per node from metrics.k8s.io every `every` while it is served (`served`: discovery
/// at start). The APIService can come and go while kockpit runs: a 404 (metrics-server unregistered)
/// drops the used figures at once and the group is looked for again one interval later (an APIService
/// registered a moment ago is listed by discovery before its proxy answers: 404 for a few ms), then every
/// [`METRICS_RECHECK`] intervals;
/// other failures (503: registered but metrics-server down) keep the last figures for [`METRICS_STALE`]
/// intervals, then drop them. Failures never fail the Nodes panel: requests still show.
pub(super) async fn poll_metrics(kube: Kube, served: bool, every: Duration, tx: mpsc::Sender<Msg>) {
    let round = MetricsRound { kube, every, served, recheck_in: METRICS_RECHECK, last_ok: None };
    poll_loop(every, &tx, round).await
}

/// metrics.k8s.io, where the node metrics are read.
const METRICS_GROUP: &str = "/apis/metrics.k8s.io/v1beta1";

/// [`poll_metrics`]' state between rounds.
struct MetricsRound {
    kube: Kube,
    every: Duration,
    served: bool,
    /// rounds until the group is looked for again while not served
    recheck_in: u32,
    last_ok: Option<Instant>,
}

impl Round for MetricsRound {
    type Out = Msg;

    async fn round(&mut self) -> Vec<Msg> {
        if !self.served {
            self.recheck_in = self.recheck_in.saturating_sub(1);
            if self.recheck_in > 0 {
                return vec![];
            }
            self.recheck_in = METRICS_RECHECK;
            if self.kube.get_json::<serde_json::Value>(METRICS_GROUP).await.is_err() {
                return vec![];
            }
            tracing::info!("kube: metrics.k8s.io is served now: used CPU and memory");
            self.served = true;
        }
        let drop_figures = match self.kube.get_json::<lean::List<lean::NodeMetrics>>(&format!("{METRICS_GROUP}/nodes")).await {
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
                self.last_ok = Some(Instant::now());
                return vec![Msg::Metrics(m)];
            }
            Err(e) if e.code() == Some(404) => {
                tracing::info!("kube: metrics.k8s.io is no longer served: requests only");
                self.served = false;
                self.recheck_in = 1;
                true
            }
            Err(e) => {
                tracing::debug!("kube: metrics.k8s.io: {e}");
                self.last_ok.is_some_and(|t| t.elapsed() >= self.every * METRICS_STALE)
            }
        };
        if drop_figures && self.last_ok.take().is_some() { vec![Msg::Metrics(HashMap::new())] } else { vec![] }
    }
}

/// GET /version every `every`; two failures in a row: the API server is unreachable.
pub(super) async fn ping(kube: Kube, every: Duration, tx: mpsc::Sender<Msg>, restart: watch::Sender<u64>) {
    let limit = every.max(Duration::from_secs(2));
    poll_loop(every, &tx, PingRound { kube, limit, restart, fails: 0, down: false }).await
}

/// [`ping`]'s state between rounds: failures in a row, and whether the API server is reported down.
struct PingRound {
    kube: Kube,
    /// how long one GET may take
    limit: Duration,
    restart: watch::Sender<u64>,
    fails: u32,
    down: bool,
}

impl Round for PingRound {
    type Out = Msg;

    async fn round(&mut self) -> Vec<Msg> {
        let limit = self.limit;
        let r = match tokio::time::timeout(limit, self.kube.get_json::<serde_json::Value>("/version")).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(KubeError::Timeout(limit).to_string()),
        };
        match r {
            Ok(()) => {
                self.fails = 0;
                if self.down {
                    self.down = false;
                    return vec![Msg::Api(Ok(()))];
                }
            }
            Err(reason) => {
                self.fails += 1;
                if self.fails >= 2 && !self.down {
                    self.down = true;
                    self.restart.send_modify(|g| *g += 1);
                    return vec![Msg::Api(Err(format!("API server unreachable: {reason}")))];
                }
            }
        }
        vec![]
    }
}
