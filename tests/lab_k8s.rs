//! The Kubernetes side against a real control plane (`tests/lab/k8s`: kube-apiserver, controller-manager
//! and scheduler v1.20.2 built from Debian's source, etcd). The tests play kubelet for fake nodes.
//! Faults are real: the scheduler and the apiserver are stopped and restarted.
//!
//! The tests are `#[ignore]`d; without the control plane (not root, not built) they fail, with the reason.
//! Run: `tests/lab/k8s build && cargo test --test lab_k8s -- --include-ignored` (the tests take turns on the
//! one control plane).

#[path = "common/lab.rs"]
mod harness;
#[path = "fixtures/kube/kit.rs"]
mod kit;
#[path = "fixtures/kube/metrics_server.rs"]
mod metrics_server;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use http::Method;
use kit::{ControlPlane, FakeKubelet};
use kockpit::backend::{BackendEvent, BackendHandle, Command};
use kockpit::inventory::Plan;
use kockpit::kube::{self, Access, KubeSettings};
use kockpit::model::{KubeWarning, Lease, LeaseKind, Mode, Model, Node, Observation, Payload, WorkloadKind};
use kockpit::ops::{DrainOptions, OpEvent, OpRequest, WriteCap};
use serde_json::{Value, json};

static LOCK: Mutex<()> = Mutex::new(());

struct Lab {
    cp: ControlPlane,
    label: String,
    _lock: MutexGuard<'static, ()>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        kit::cleanup(&self.cp, &self.label, false);
    }
}

/// The control plane (a failure, with the reason, when it cannot run here).
fn lab(label: &str) -> Lab {
    let lock = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let cp = kit::control_plane().unwrap_or_else(|why| harness::cannot_run("the Kubernetes lab", &why));
    kit::cleanup(&cp, label, true);
    Lab { cp, label: label.to_string(), _lock: lock }
}

impl Lab {
    fn backend(&self, readonly: bool) -> BackendHandle {
        let access = Access { kubeconfig: Some(self.cp.kockpit_kubeconfig()), context: None, readonly };
        let mut s = KubeSettings::new(access);
        s.ping_interval = Duration::from_secs(1);
        kube::spawn_backend(s)
    }
    async fn admin(&self) -> kockpit::kube::Kube {
        self.cp.admin().await
    }
    async fn kockpit(&self, readonly: bool) -> kockpit::kube::Kube {
        let access = Access { kubeconfig: Some(self.cp.kockpit_kubeconfig()), context: None, readonly };
        kockpit::kube::Kube::connect(&access).await.expect("kockpit kubeconfig")
    }
}

/// Wait (at most `secs`) for an event `f` accepts; panics with `what` on timeout.
async fn wait_for<T>(h: &mut BackendHandle, secs: u64, what: &str, mut f: impl FnMut(&BackendEvent) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, h.events.recv()).await {
            Err(_) => panic!("timeout ({secs}s) waiting for {what}"),
            Ok(None) => panic!("backend closed while waiting for {what}"),
            Ok(Some(ev)) => {
                if let Some(t) = f(&ev) {
                    return t;
                }
            }
        }
    }
}

fn nodes_of(ev: &BackendEvent) -> Option<&Result<Vec<Node>, String>> {
    match ev {
        BackendEvent::Obs(Observation { payload: Payload::Nodes(r), .. }) => Some(r),
        _ => None,
    }
}
fn leases_of(ev: &BackendEvent) -> Option<&Result<Vec<Lease>, String>> {
    match ev {
        BackendEvent::Obs(Observation { payload: Payload::Leases(r), .. }) => Some(r),
        _ => None,
    }
}

/// Run one operation to its end; every step and the final (ok, summary).
async fn run_op(h: &mut BackendHandle, id: u64, request: OpRequest, secs: u64) -> (Vec<String>, bool, String) {
    let cap = WriteCap::acquire(false).expect("writable test process");
    h.commands.send(Command::Execute { id, request, cap }).expect("backend alive");
    let mut steps = Vec::new();
    let (ok, summary) = wait_for(h, secs, "the operation to finish", |ev| match ev {
        BackendEvent::Op(OpEvent::Step { id: i, text, .. }) if *i == id => {
            steps.push(text.clone());
            None
        }
        BackendEvent::Op(OpEvent::Finished { id: i, ok, summary }) if *i == id => Some((*ok, summary.clone())),
        _ => None,
    })
    .await;
    (steps, ok, summary)
}

async fn node_unschedulable(k: &kockpit::kube::Kube, node: &str) -> bool {
    let n = kit::req(k, Method::GET, &format!("/api/v1/nodes/{node}"), None).await.expect("get node");
    n["spec"]["unschedulable"].as_bool().unwrap_or(false)
}

async fn pods_on(k: &kockpit::kube::Kube, node: &str) -> Vec<Value> {
    let l = kit::req(k, Method::GET, &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"), None).await.expect("list pods");
    l["items"].as_array().cloned().unwrap_or_default()
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// A ReplicaSet of `replicas` pods carrying `labels`, placed by the scheduler on nodes labelled `node_sel`.
fn replicaset(name: &str, replicas: u32, labels: Value, node_sel: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": node_sel,
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": "app", "image": "registry.invalid/pause:3.2", "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}}]
                }
            }
        }
    })
}

async fn wait_until<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timeout ({secs}s) waiting for {what}");
}

async fn cordon_raw(k: &kockpit::kube::Kube, node: &str, on: bool) {
    let v = if on { json!(true) } else { Value::Null };
    kit::req(k, Method::PATCH, &format!("/api/v1/nodes/{node}"), Some(json!({"spec": {"unschedulable": v}}))).await.expect("patch node");
}

// ------------------------------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn leases_show_holders_and_flag_a_stopped_scheduler() {
    let lab = lab("leases");
    let admin = lab.admin().await;
    // a node heartbeat lease that is not renewed: flagged once older than its 2 s duration
    kit::create_namespace(&admin, "kk-leases", "leases").await.unwrap();
    let stale_at = (Utc::now() - chrono::Duration::seconds(30)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    kit::create(
        &admin,
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        json!({"metadata": {"name": "kk-leases-gone", "labels": {"kockpit-test": "leases"}},
               "spec": {"holderIdentity": "kk-leases-gone", "leaseDurationSeconds": 2, "renewTime": stale_at}}),
    )
    .await
    .unwrap();
    let mut h = lab.backend(true);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
    let leases = wait_for(&mut h, 30, "leases with both control-plane holders", |ev| {
        let ls = leases_of(ev)?.as_ref().ok()?;
        let has = |n: &str| ls.iter().any(|l| l.name == n && l.kind == LeaseKind::LeaderElection && l.holder.is_some());
        (has("kube-scheduler") && has("kube-controller-manager") && ls.iter().any(|l| l.name == "kk-leases-gone")).then(|| ls.clone())
    })
    .await;
    let now = Utc::now();
    for name in ["kube-scheduler", "kube-controller-manager"] {
        let l = leases.iter().find(|l| l.name == name).unwrap();
        assert_eq!(l.holder_host(), Some(host.as_str()), "{name} is held by this machine's components: {l:?}");
        assert_eq!(l.duration_secs, 10, "{l:?}");
        assert!(!l.expired(now), "{name} renews: {l:?}");
    }
    let gone = leases.iter().find(|l| l.name == "kk-leases-gone").unwrap();
    assert_eq!(gone.kind, LeaseKind::NodeHeartbeat);
    assert!(gone.expired(now), "a node lease older than its duration is flagged");

    // stop the scheduler: its lease is no longer renewed and is flagged after its duration
    let sched_before = leases.iter().find(|l| l.name == "kube-scheduler").unwrap().clone();
    lab.cp.lab(&["stop", "scheduler"]).expect("stop scheduler");
    let stopped_at = Instant::now();
    let l = wait_for(&mut h, 40, "the scheduler lease to go stale", |ev| {
        let ls = leases_of(ev)?.as_ref().ok()?;
        let s = ls.iter().find(|l| l.name == "kube-scheduler")?;
        s.expired(Utc::now()).then(|| (s.clone(), ls.iter().find(|l| l.name == "kube-controller-manager").cloned()))
    })
    .await;
    eprintln!("scheduler lease flagged {:.1}s after the scheduler stopped", stopped_at.elapsed().as_secs_f64());
    assert!(stopped_at.elapsed() >= Duration::from_secs(5), "not before its duration has passed");
    assert!(l.1.is_some_and(|c| !c.expired(Utc::now())), "the controller-manager still renews");
    lab.cp.lab(&["up"]).expect("restart the scheduler");
    let renewed = wait_for(&mut h, 40, "a new scheduler holder", |ev| {
        let ls = leases_of(ev)?.as_ref().ok()?;
        let s = ls.iter().find(|l| l.name == "kube-scheduler")?;
        (!s.expired(Utc::now()) && s.holder != sched_before.holder).then(|| s.clone())
    })
    .await;
    assert!(renewed.transitions > sched_before.transitions, "a new holder is a transition: {sched_before:?} -> {renewed:?}");
    kit::delete(&admin, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/kk-leases-gone").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn nodes_panel_shows_conditions_roles_taints_requests_and_versions() {
    let lab = lab("nodes");
    let admin = lab.admin().await;
    kit::create_namespace(&admin, "kk-nodes", "nodes").await.unwrap();
    let mut m1 = kit::node_json("kk-nodes-m1", "nodes", &["control-plane", "master"], "10.99.0.21");
    m1["spec"]["taints"] = json!([{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]);
    kit::create(&admin, "/api/v1/nodes", m1).await.unwrap();
    let mut w1 = kit::node_json("kk-nodes-w1", "nodes", &["worker"], "10.99.0.31");
    w1["status"]["conditions"][1]["status"] = json!("True"); // DiskPressure
    kit::create(&admin, "/api/v1/nodes", w1).await.unwrap();
    for (i, (cpu, mem)) in [("250m", "64Mi"), ("1", "1Gi"), ("500m", "128Mi")].iter().enumerate() {
        kit::create(
            &admin,
            "/api/v1/namespaces/kk-nodes/pods",
            kit::pod_json(&format!("p{i}"), json!({"app": "x"}), Some("kk-nodes-w1"), cpu, mem),
        )
        .await
        .unwrap();
    }
    // a finished pod holds nothing
    kit::create(&admin, "/api/v1/namespaces/kk-nodes/pods", kit::pod_json("done", json!({}), Some("kk-nodes-w1"), "4", "4Gi"))
        .await
        .unwrap();
    kit::req(&admin, Method::PATCH, "/api/v1/namespaces/kk-nodes/pods/done/status", Some(json!({"status": {"phase": "Succeeded"}})))
        .await
        .unwrap();
    cordon_raw(&admin, "kk-nodes-w1", true).await;

    let mut h = lab.backend(true);
    let nodes = wait_for(&mut h, 30, "the fake nodes with their pods", |ev| {
        let ns = nodes_of(ev)?.as_ref().ok()?;
        let w = ns.iter().find(|n| n.name == "kk-nodes-w1")?;
        (w.pods == 3 && w.unschedulable && ns.iter().any(|n| n.name == "kk-nodes-m1")).then(|| ns.clone())
    })
    .await;
    let m = nodes.iter().find(|n| n.name == "kk-nodes-m1").unwrap();
    assert_eq!(m.roles, vec!["control-plane", "master"]);
    assert!(m.is_control_plane());
    assert_eq!(m.taints, vec!["node-role.kubernetes.io/master:NoSchedule"]);
    assert_eq!(m.ready, Some(true));
    let w = nodes.iter().find(|n| n.name == "kk-nodes-w1").unwrap();
    assert_eq!(w.pressures, vec!["DiskPressure"]);
    assert_eq!((w.cpu_requested_m, w.mem_requested), (1750, (64 + 1024 + 128) << 20));
    assert_eq!((w.cpu_allocatable_m, w.mem_allocatable, w.pods_capacity), (7800, 31_815_016 * 1024, 110));
    assert_eq!((w.kubelet_version.as_str(), w.runtime.as_str(), w.kernel.as_str()), ("v1.20.2", "containerd://1.6.20", "5.10.0-28-amd64"));
    assert_eq!(w.internal_ip, "10.99.0.31");
    assert_eq!((w.cpu_used_m, w.mem_used), (None, None), "no metrics-server here: requests only");
    assert_eq!(w.cpu_req_pct(), 22);

    // a pod goes away: the sums follow through the watch
    kit::delete(&admin, "/api/v1/namespaces/kk-nodes/pods/p1?gracePeriodSeconds=0").await.unwrap();
    wait_for(&mut h, 15, "the node's requests to drop", |ev| {
        let ns = nodes_of(ev)?.as_ref().ok()?;
        ns.iter().find(|n| n.name == "kk-nodes-w1").filter(|n| n.pods == 2 && n.cpu_requested_m == 750).map(|_| ())
    })
    .await;
}

/// A cluster-scoped APIService a test registered: deleted synchronously (kubectl, so also during a panic)
/// and before anything else is cleaned up: an aggregated API whose server has gone stalls namespace deletion.
struct ApiServiceGuard<'a> {
    cp: &'a ControlPlane,
    name: &'static str,
}

impl ApiServiceGuard<'_> {
    fn delete(&self) -> Result<String, String> {
        let kc = self.cp.admin_kubeconfig().to_string_lossy().to_string();
        let args = ["--kubeconfig", &kc, "--request-timeout=20s", "delete", "apiservice", self.name, "--ignore-not-found", "--wait=true"];
        kit::run_bounded(&self.cp.kubectl(), &args, Duration::from_secs(60))
    }
}

impl Drop for ApiServiceGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.delete() {
            eprintln!("cleanup: {e}");
        }
    }
}

fn node_named<'a>(ns: &'a [Node], name: &str) -> Option<&'a Node> {
    ns.iter().find(|n| n.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn metrics_server_usage_reaches_the_nodes_panel_and_requests_remain_when_it_is_unregistered() {
    let lab = lab("metrics");
    let admin = lab.admin().await;
    // metrics-server's own formats: millicores and Mi, and the nanocores and Ki it really sends
    let usage = [("kk-metrics-w1", "250m", "512Mi"), ("kk-metrics-w2", "1250000000n", "2097152Ki")];
    for (i, (n, _, _)) in usage.iter().enumerate() {
        kit::create_node(&admin, n, "metrics", &["worker"], &format!("10.99.0.5{i}")).await.unwrap();
    }
    kit::create_namespace(&admin, "kk-metrics", "metrics").await.unwrap();
    let pod = kit::pod_json("app", json!({"app": "x"}), Some("kk-metrics-w1"), "100m", "128Mi");
    kit::create(&admin, "/api/v1/namespaces/kk-metrics/pods", pod).await.unwrap();

    // the fake metrics-server on an address the apiserver may route to (Endpoints refuse loopback)
    let ip = metrics_server::endpoint_ip().expect("a non-loopback address for the Endpoints");
    let server = metrics_server::FakeMetricsServer::start(ip, &usage).await.expect("fake metrics-server");
    let port = server.addr.port();
    kit::create(
        &admin,
        "/api/v1/namespaces/kk-metrics/services",
        json!({"metadata": {"name": "metrics-server"}, "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}}),
    )
    .await
    .unwrap();
    kit::create(
        &admin,
        "/api/v1/namespaces/kk-metrics/endpoints",
        json!({"metadata": {"name": "metrics-server"},
               "subsets": [{"addresses": [{"ip": ip.to_string()}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}),
    )
    .await
    .unwrap();
    let kockpit = lab.kockpit(true).await;
    let before = kockpit.discover().await.unwrap();
    assert!(!before.metrics, "metrics.k8s.io before the APIService exists: {before:?}");

    let apiservice = ApiServiceGuard { cp: &lab.cp, name: "v1beta1.metrics.k8s.io" };
    kit::create(
        &admin,
        "/apis/apiregistration.k8s.io/v1/apiservices",
        json!({"metadata": {"name": apiservice.name, "labels": {"kockpit-test": "metrics"}},
               "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
                        "groupPriorityMinimum": 100, "versionPriority": 100,
                        "service": {"namespace": "kk-metrics", "name": "metrics-server", "port": 443}}}),
    )
    .await
    .unwrap();
    let t0 = Instant::now();
    loop {
        let a = kit::req(&admin, Method::GET, "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io", None).await.unwrap();
        let last = &a["status"]["conditions"];
        if last.as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Available" && c["status"] == "True")) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the APIService never became Available: {last}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let available_after = t0.elapsed();
    let caps = kockpit.discover().await.unwrap();
    assert!(caps.metrics, "discovery with metrics-server registered: {caps:?}");
    assert_eq!(caps.policy, "policy/v1beta1", "a 1.20 server serves no policy/v1");

    let mut settings = KubeSettings::new(Access { kubeconfig: Some(lab.cp.kockpit_kubeconfig()), context: None, readonly: true });
    settings.metrics_interval = Duration::from_secs(1);
    settings.ping_interval = Duration::from_secs(1);
    let t1 = Instant::now();
    let mut h = kube::spawn_backend(settings.clone());
    let used = |ns: &[Node], name: &str| node_named(ns, name).map(|n| (n.cpu_used_m, n.mem_used));
    let nodes = wait_for(&mut h, 30, "used CPU and memory from metrics-server", |ev| {
        let ns = nodes_of(ev)?.as_ref().ok()?;
        (used(ns, "kk-metrics-w1")?.0.is_some() && used(ns, "kk-metrics-w2")?.0.is_some()).then(|| ns.clone())
    })
    .await;
    let first_used_after = t1.elapsed();
    assert_eq!(used(&nodes, "kk-metrics-w1"), Some((Some(250), Some(512 << 20))));
    assert_eq!(used(&nodes, "kk-metrics-w2"), Some((Some(1250), Some(2 << 30))));
    let w1 = node_named(&nodes, "kk-metrics-w1").unwrap();
    assert_eq!((w1.cpu_requested_m, w1.mem_requested, w1.pods), (100, 128 << 20, 1), "requests beside the used figures");
    // every read went through the aggregation layer, as kockpit's user (the front proxy's X-Remote-User)
    let reads: Vec<_> = server.seen().into_iter().filter(|s| s.path == "/apis/metrics.k8s.io/v1beta1/nodes").collect();
    assert!(!reads.is_empty(), "the fake metrics-server saw no NodeMetrics list: {:?}", server.seen());
    assert!(reads.iter().all(|s| s.method == "GET" && s.user.as_deref() == Some("kockpit")), "{reads:?}");

    // usage changes: the panel follows at the metrics interval
    server.usage.lock().unwrap().insert("kk-metrics-w1".into(), ("900m".into(), "1Gi".into()));
    wait_for(&mut h, 15, "the new usage of kk-metrics-w1", |ev| {
        let ns = nodes_of(ev)?.as_ref().ok()?;
        (used(ns, "kk-metrics-w1")? == (Some(900), Some(1 << 30))).then_some(())
    })
    .await;

    // metrics-server unregistered while kockpit runs: the used figures go, requests stay, no panel fails
    apiservice.delete().expect("delete the APIService");
    let t2 = Instant::now();
    wait_for(&mut h, 20, "the used figures to go", |ev| {
        let ns = match nodes_of(ev)? {
            Ok(ns) => ns,
            Err(e) => panic!("the Nodes panel failed when metrics-server went: {e}"),
        };
        let w1 = node_named(ns, "kk-metrics-w1")?;
        assert_eq!((w1.cpu_requested_m, w1.pods), (100, 1), "requests stay");
        (used(ns, "kk-metrics-w1")? == (None, None) && used(ns, "kk-metrics-w2")? == (None, None)).then_some(())
    })
    .await;
    let fallback_after = t2.elapsed();
    drop(h);

    // a fresh backend: discovery finds no metrics.k8s.io, requests only from the first screen on
    let caps = kockpit.discover().await.unwrap();
    assert!(!caps.metrics, "discovery after the APIService is gone: {caps:?}");
    let node_reads = || server.seen().iter().filter(|s| s.path.starts_with("/apis/metrics.k8s.io/v1beta1/nodes")).count();
    let reads_before = node_reads();
    let mut h = kube::spawn_backend(settings);
    let nodes = wait_for(&mut h, 30, "the fake nodes", |ev| {
        let ns = nodes_of(ev)?.as_ref().ok()?;
        node_named(ns, "kk-metrics-w1").filter(|n| n.pods == 1).map(|_| ns.clone())
    })
    .await;
    for n in ["kk-metrics-w1", "kk-metrics-w2"] {
        assert_eq!(used(&nodes, n), Some((None, None)), "{n}: requests only");
    }
    // a few metrics intervals later: still requests only, no error
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(ev)) = tokio::time::timeout_at(until, h.events.recv()).await {
        if let Some(r) = nodes_of(&ev) {
            let ns = r.as_ref().unwrap_or_else(|e| panic!("the Nodes panel failed without metrics-server: {e}"));
            assert!(ns.iter().all(|n| n.cpu_used_m.is_none() && n.mem_used.is_none()), "{ns:?}");
        }
    }
    assert_eq!(node_reads(), reads_before, "no NodeMetrics read reaches an unregistered metrics-server");
    drop(h);
    eprintln!(
        "metrics-server: APIService Available after {:.1}s; first used figures {:.1}s after start; gone {:.1}s after unregistering",
        available_after.as_secs_f64(),
        first_used_after.as_secs_f64(),
        fallback_after.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn platform_workloads_and_ceph_from_rook() {
    let lab = lab("platform");
    let admin = lab.admin().await;
    kit::create_cephcluster_crd(&admin, Some("platform")).await.unwrap();
    kit::create_namespace(&admin, "rook-ceph", "platform").await.unwrap();
    kit::create(&admin, "/api/v1/nodes", kit::node_json("kk-plat-w1", "platform", &["worker"], "10.99.1.31")).await.unwrap();
    kit::create(
        &admin,
        "/apis/ceph.rook.io/v1/namespaces/rook-ceph/cephclusters",
        json!({"apiVersion": "ceph.rook.io/v1", "kind": "CephCluster", "metadata": {"name": "rook-ceph"},
               "spec": {"cephVersion": {"image": "quay.io/ceph/ceph:v18"}, "mon": {"count": 3}}}),
    )
    .await
    .unwrap();
    let checked = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    kit::req(
        &admin,
        Method::PATCH,
        "/apis/ceph.rook.io/v1/namespaces/rook-ceph/cephclusters/rook-ceph/status",
        Some(json!({"status": {"phase": "Ready", "ceph": {
            "health": "HEALTH_WARN", "lastChecked": checked,
            "details": {"OSD_DOWN": {"severity": "HEALTH_WARN", "message": "1 osds down"}},
            "capacity": {"bytesAvailable": 600, "bytesTotal": 1000, "bytesUsed": 400, "lastUpdated": checked}}}})),
    )
    .await
    .unwrap();
    let osd = kit::pod_json("rook-ceph-osd-0-abc", json!({"app": "rook-ceph-osd"}), Some("kk-plat-w1"), "100m", "1Gi");
    kit::create(&admin, "/api/v1/namespaces/rook-ceph/pods", osd).await.unwrap();
    kit::mark_ready(&admin, "rook-ceph", "rook-ceph-osd-0-abc").await.unwrap();
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rook-ceph-operator"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "op"}}, "template": {"metadata": {"labels": {"app": "op"}},
        "spec": {"nodeSelector": {"kockpit-none": "x"}, "containers": [{"name": "c", "image": "registry.invalid/rook:1"}]}}}});
    kit::create(&admin, "/apis/apps/v1/namespaces/rook-ceph/deployments", dep).await.unwrap();
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "csi-rbdplugin"},
        "spec": {"selector": {"matchLabels": {"app": "csi"}}, "template": {"metadata": {"labels": {"app": "csi"}},
        "spec": {"nodeSelector": {"kockpit-test": "platform"}, "containers": [{"name": "c", "image": "registry.invalid/csi:1"}]}}}});
    kit::create(&admin, "/apis/apps/v1/namespaces/rook-ceph/daemonsets", ds).await.unwrap();

    let mut h = lab.backend(true);
    let (ceph, source, at) = wait_for(&mut h, 30, "Ceph from Rook", |ev| match ev {
        BackendEvent::Obs(Observation { payload: Payload::RookCeph(Ok(v)), source, at, .. }) if v.osds == 1 => {
            Some((v.clone(), source.clone(), *at))
        }
        _ => None,
    })
    .await;
    assert_eq!(source, "kube rook");
    assert_eq!(ceph.health, kockpit::model::CephHealth::Warn);
    assert_eq!(ceph.checks.len(), 1);
    assert_eq!(ceph.checks[0].code, "OSD_DOWN");
    assert_eq!((ceph.bytes_used, ceph.bytes_total), (400, 1000));
    assert_eq!(ceph.osd_hosts, vec!["kk-plat-w1"]);
    assert_eq!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), checked, "the observation is as old as Rook's lastChecked");
    let ws = wait_for(&mut h, 30, "the rook-ceph workloads", |ev| match ev {
        BackendEvent::Obs(Observation { payload: Payload::Workloads(Ok(ws)), .. }) => {
            let dsr = ws.iter().find(|w| w.name == "csi-rbdplugin")?;
            (dsr.desired == 1 && ws.iter().any(|w| w.name == "rook-ceph-operator")).then(|| ws.clone())
        }
        _ => None,
    })
    .await;
    let op = ws.iter().find(|w| w.name == "rook-ceph-operator").unwrap();
    assert_eq!((op.namespace.as_str(), op.kind, op.desired, op.ready), ("rook-ceph", WorkloadKind::Deployment, 1, 0));
    assert!(!op.is_ready(), "its pod cannot be scheduled");
    let csi = ws.iter().find(|w| w.name == "csi-rbdplugin").unwrap();
    assert_eq!(csi.kind, WorkloadKind::DaemonSet);
    assert!(ws.iter().all(|w| kube::PLATFORM_NAMESPACES.contains(&w.namespace.as_str())), "only platform namespaces");
    drop(h);
    kit::delete(&admin, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/cephclusters.ceph.rook.io").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn cordon_and_uncordon_round_trip() {
    let lab = lab("cordon");
    let admin = lab.admin().await;
    kit::create_node(&admin, "kk-cordon-1", "cordon", &["worker"], "10.99.2.1").await.unwrap();
    let mut h = lab.backend(false);
    wait_for(&mut h, 30, "the node", |ev| nodes_of(ev)?.as_ref().ok()?.iter().find(|n| n.name == "kk-cordon-1").map(|_| ())).await;
    let (steps, ok, summary) = run_op(&mut h, 1, OpRequest::Cordon { node: "kk-cordon-1".into() }, 30).await;
    assert!(ok, "{summary}: {steps:?}");
    assert!(steps.iter().any(|s| s.starts_with("verified through the watch")), "{steps:?}");
    assert!(node_unschedulable(&admin, "kk-cordon-1").await);
    wait_for(&mut h, 10, "the panel to show SchedulingDisabled", |ev| {
        nodes_of(ev)?.as_ref().ok()?.iter().find(|n| n.name == "kk-cordon-1" && n.unschedulable).map(|_| ())
    })
    .await;
    let (steps, ok, summary) = run_op(&mut h, 2, OpRequest::Uncordon { node: "kk-cordon-1".into() }, 30).await;
    assert!(ok, "{summary}: {steps:?}");
    assert!(!node_unschedulable(&admin, "kk-cordon-1").await);
    let (_, ok, summary) = run_op(&mut h, 3, OpRequest::Cordon { node: "kk-no-such-node".into() }, 30).await;
    assert!(!ok && summary.contains("404"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn drain_30_pods_while_a_pdb_blocks_one_until_its_replacement_is_ready() {
    let lab = lab("drain30");
    let admin = lab.admin().await;
    let ns = "kk-drain30";
    kit::create_namespace(&admin, ns, "drain30").await.unwrap();
    for (n, ip) in [("kk-d30-a", "10.99.3.1"), ("kk-d30-b", "10.99.3.2"), ("kk-d30-c", "10.99.3.3")] {
        let mut node = kit::node_json(n, "drain30", &["worker"], ip);
        if n != "kk-d30-a" {
            node["spec"]["unschedulable"] = json!(true); // everything lands on a first
        }
        kit::create(&admin, "/api/v1/nodes", node).await.unwrap();
    }
    let nodes = vec!["kk-d30-a".to_string(), "kk-d30-b".into(), "kk-d30-c".into()];
    let _kubelet = FakeKubelet::start(admin.clone(), vec![ns.into()], nodes, Duration::from_secs(2));
    let sel = json!({"kockpit-test": "drain30"});
    kit::create(&admin, &format!("/apis/apps/v1/namespaces/{ns}/replicasets"), replicaset("web", 28, json!({"app": "web"}), sel.clone()))
        .await
        .unwrap();
    kit::create(&admin, &format!("/apis/apps/v1/namespaces/{ns}/replicasets"), replicaset("db", 2, json!({"app": "db"}), sel.clone()))
        .await
        .unwrap();
    kit::create(
        &admin,
        &format!("/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets"),
        json!({"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "db"},
               "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "db"}}}}),
    )
    .await
    .unwrap();
    wait_until(90, "30 Ready pods on kk-d30-a", || async { pods_on(&admin, "kk-d30-a").await.iter().filter(|p| ready(p)).count() == 30 })
        .await;
    wait_until(30, "the PDB to allow one disruption", || async {
        let p =
            kit::req(&admin, Method::GET, &format!("/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets/db"), None).await.unwrap();
        p["status"]["disruptionsAllowed"] == 1
    })
    .await;
    cordon_raw(&admin, "kk-d30-b", false).await;
    cordon_raw(&admin, "kk-d30-c", false).await;

    let kockpit = lab.kockpit(false).await;
    let preview = kube::drain_preview(&kockpit, "kk-d30-a", &DrainOptions::default()).await.unwrap();
    assert_eq!(preview.evict.len(), 29, "{preview:?}");
    assert_eq!(preview.blocked.len(), 1, "one db pod waits for the PDB: {preview:?}");
    assert!(preview.blocked[0].1.contains("PDB db"), "{preview:?}");
    assert!(!preview.refuses());

    let mut h = lab.backend(false);
    // The same dry run through the backend, as the confirmation dialog asks for it.
    let request = OpRequest::Drain { node: "kk-d30-a".into(), options: DrainOptions::default() };
    h.commands.send(Command::DryRun { id: 70, request }).expect("backend alive");
    let dry = wait_for(&mut h, 30, "the dry run", |ev| match ev {
        BackendEvent::DryRun { id: 70, result } => Some(result.clone()),
        _ => None,
    })
    .await
    .expect("dry run");
    assert_eq!(dry.lines[0], "kk-d30-a: 29 pod(s) to evict, 1 blocked, 0 skipped", "{:?}", dry.lines);
    assert_eq!(dry.lines.iter().filter(|l| l.starts_with("evict    kk-drain30/")).count(), 29, "{:?}", dry.lines);
    assert!(dry.lines.iter().any(|l| l.starts_with("blocked  kk-drain30/db-") && l.contains("PDB db")), "{:?}", dry.lines);
    assert!(dry.refused.is_empty());
    let t0 = Instant::now();
    let opts = DrainOptions { timeout_secs: 120, ..DrainOptions::default() };
    let (steps, ok, summary) = run_op(&mut h, 7, OpRequest::Drain { node: "kk-d30-a".into(), options: opts }, 150).await;
    eprintln!("drain of 30 pods: {:.1}s: {summary}", t0.elapsed().as_secs_f64());
    assert!(ok, "{summary}\n{}", steps.join("\n"));
    assert!(steps.iter().any(|s| s.contains("blocked by PDB db, retrying")), "{}", steps.join("\n"));
    assert_eq!(steps.iter().filter(|s| s.starts_with("evicted ")).count(), 30, "{}", steps.join("\n"));
    assert_eq!(steps.iter().filter(|s| s.ends_with("gone from kk-d30-a")).count(), 30);
    assert!(pods_on(&admin, "kk-d30-a").await.is_empty());
    assert!(node_unschedulable(&admin, "kk-d30-a").await, "a drained node stays cordoned");
    // the PDB was honoured: the second db pod left only once a replacement was Ready elsewhere
    let blocked_at = steps.iter().position(|s| s.contains("blocked by PDB db")).unwrap();
    let db_evictions: Vec<usize> =
        steps.iter().enumerate().filter(|(_, s)| s.starts_with("evicted kk-drain30/db-")).map(|(i, _)| i).collect();
    assert_eq!(db_evictions.len(), 2);
    assert!(db_evictions[1] > blocked_at, "{}", steps.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn drain_cancelled_halfway_leaves_the_node_cordoned_and_the_rest_untouched() {
    let lab = lab("cancel");
    let admin = lab.admin().await;
    let ns = "kk-cancel";
    kit::create_namespace(&admin, ns, "cancel").await.unwrap();
    kit::create(&admin, "/api/v1/nodes", kit::node_json("kk-cancel-a", "cancel", &["worker"], "10.99.4.1")).await.unwrap();
    let _kubelet = FakeKubelet::start(admin.clone(), vec![ns.into()], vec!["kk-cancel-a".into()], Duration::ZERO);
    let sel = json!({"kubernetes.io/hostname": "kk-cancel-a"});
    kit::create(&admin, &format!("/apis/apps/v1/namespaces/{ns}/replicasets"), replicaset("free", 5, json!({"app": "free"}), sel.clone()))
        .await
        .unwrap();
    kit::create(&admin, &format!("/apis/apps/v1/namespaces/{ns}/replicasets"), replicaset("held", 5, json!({"app": "held"}), sel.clone()))
        .await
        .unwrap();
    kit::create(
        &admin,
        &format!("/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets"),
        json!({"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "held"},
               "spec": {"minAvailable": 5, "selector": {"matchLabels": {"app": "held"}}}}),
    )
    .await
    .unwrap();
    wait_until(60, "10 Ready pods", || async { pods_on(&admin, "kk-cancel-a").await.iter().filter(|p| ready(p)).count() == 10 }).await;
    wait_until(30, "the PDB status", || async {
        let p =
            kit::req(&admin, Method::GET, &format!("/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets/held"), None).await.unwrap();
        p["status"]["currentHealthy"] == 5
    })
    .await;
    let held_before: Vec<String> = pods_on(&admin, "kk-cancel-a")
        .await
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "held")
        .map(|p| p["metadata"]["uid"].to_string())
        .collect();

    let mut h = lab.backend(false);
    let cap = WriteCap::acquire(false).unwrap();
    let opts = DrainOptions { timeout_secs: 120, ..DrainOptions::default() };
    h.commands.send(Command::Execute { id: 9, request: OpRequest::Drain { node: "kk-cancel-a".into(), options: opts }, cap }).unwrap();
    let (mut evicted, mut blocked) = (0, 0);
    let mut steps = Vec::new();
    wait_for(&mut h, 60, "half of the pods evicted and the rest blocked", |ev| match ev {
        BackendEvent::Op(OpEvent::Step { id: 9, text, .. }) => {
            steps.push(text.clone());
            evicted += usize::from(text.starts_with("evicted "));
            blocked += usize::from(text.contains("blocked by PDB held"));
            (evicted == 5 && blocked == 5).then_some(())
        }
        BackendEvent::Op(OpEvent::Finished { id: 9, summary, .. }) => panic!("finished early: {summary}\n{}", steps.join("\n")),
        _ => None,
    })
    .await;
    h.commands.send(Command::Cancel { id: 9 }).unwrap();
    let (ok, summary) = wait_for(&mut h, 15, "the cancelled drain to finish", |ev| match ev {
        BackendEvent::Op(OpEvent::Finished { id: 9, ok, summary }) => Some((*ok, summary.clone())),
        _ => None,
    })
    .await;
    assert!(!ok);
    assert!(summary.contains("cancelled") && summary.contains("stays cordoned") && summary.contains("untouched 5"), "{summary}");
    assert!(node_unschedulable(&admin, "kk-cancel-a").await, "the node stays cordoned");
    tokio::time::sleep(Duration::from_secs(3)).await; // nothing more happens after a cancel
    let held_after: Vec<Value> =
        pods_on(&admin, "kk-cancel-a").await.into_iter().filter(|p| p["metadata"]["labels"]["app"] == "held").collect();
    assert_eq!(held_after.len(), 5);
    assert!(held_after.iter().all(|p| p["metadata"]["deletionTimestamp"].is_null() && ready(p)), "untouched");
    let uids: Vec<String> = held_after.iter().map(|p| p["metadata"]["uid"].to_string()).collect();
    assert_eq!(uids.len(), held_before.len());
    assert!(uids.iter().all(|u| held_before.contains(u)), "the same pods, not replacements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn drain_refuses_before_touching_anything_when_a_pod_needs_an_option() {
    let lab = lab("refuse");
    let admin = lab.admin().await;
    kit::create_namespace(&admin, "kk-refuse", "refuse").await.unwrap();
    kit::create(&admin, "/api/v1/nodes", kit::node_json("kk-refuse-a", "refuse", &["worker"], "10.99.5.1")).await.unwrap();
    kit::create(&admin, "/api/v1/namespaces/kk-refuse/pods", kit::pod_json("bare", json!({}), Some("kk-refuse-a"), "10m", "8Mi"))
        .await
        .unwrap();
    let kockpit = lab.kockpit(true).await;
    let p = kube::drain_preview(&kockpit, "kk-refuse-a", &DrainOptions::default()).await.unwrap();
    assert!(p.refuses() && p.blocked[0].1.contains("force_unmanaged"), "{p:?}");
    let mut h = lab.backend(false);
    let (_, ok, summary) = run_op(&mut h, 1, OpRequest::Drain { node: "kk-refuse-a".into(), options: DrainOptions::default() }, 30).await;
    assert!(!ok && summary.contains("refused, nothing changed"), "{summary}");
    assert!(!node_unschedulable(&admin, "kk-refuse-a").await, "not even cordoned");
    assert_eq!(pods_on(&admin, "kk-refuse-a").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn a_nodes_detail_reads_its_labels_and_pods_with_their_requests_in_read_only_mode() {
    let lab = lab("detail");
    let admin = lab.admin().await;
    kit::create_namespace(&admin, "kk-detail", "detail").await.unwrap();
    kit::create(&admin, "/api/v1/nodes", kit::node_json("kk-detail-a", "detail", &["worker"], "10.99.6.1")).await.unwrap();
    kit::create(&admin, "/api/v1/nodes", kit::node_json("kk-detail-b", "detail", &["worker"], "10.99.6.2")).await.unwrap();
    for (name, node, cpu, mem) in
        [("big", "kk-detail-a", "1500m", "2Gi"), ("small", "kk-detail-a", "10m", "8Mi"), ("elsewhere", "kk-detail-b", "1", "1Gi")]
    {
        kit::create(&admin, "/api/v1/namespaces/kk-detail/pods", kit::pod_json(name, json!({}), Some(node), cpu, mem)).await.unwrap();
    }
    kit::mark_ready(&admin, "kk-detail", "big").await.unwrap();
    let mut h = lab.backend(true);
    h.commands.send(Command::NodeDetail { id: 5, node: "kk-detail-a".into() }).expect("backend alive");
    let extra = wait_for(&mut h, 30, "the node's pods", |ev| match ev {
        BackendEvent::NodeDetail { id: 5, result, .. } => Some(result.clone()),
        _ => None,
    })
    .await
    .expect("a read works in read-only mode");
    assert_eq!(extra.labels.get("kockpit-test").map(String::as_str), Some("detail"), "{extra:?}");
    assert!(extra.labels.contains_key("node-role.kubernetes.io/worker"), "{extra:?}");
    let names: Vec<&str> = extra.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["big", "small"], "only the node's own pods");
    assert_eq!((extra.pods[0].cpu_request_m, extra.pods[0].mem_request), (1500, 2 << 30));
    assert_eq!(extra.pods[0].owner, None, "a bare pod: nothing recreates it");
    assert!(extra.pods[0].ready && extra.pods[0].phase == "Running", "{extra:?}");
    assert!(!extra.pods[1].ready && extra.pods[1].phase == "Pending", "{extra:?}");
    assert_eq!(extra.requested(), (1510, (2 << 30) + (8 << 20)));
    h.commands.send(Command::NodeDetail { id: 6, node: "kk-detail-gone".into() }).expect("backend alive");
    let gone = wait_for(&mut h, 30, "the missing node's answer", |ev| match ev {
        BackendEvent::NodeDetail { id: 6, result, .. } => Some(result.clone()),
        _ => None,
    })
    .await;
    let why = gone.expect_err("no such node");
    assert!(why.contains("kk-detail-gone") && why.contains("not found"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn apiserver_restart_marks_panels_failed_then_they_recover_by_themselves() {
    let lab = lab("restart");
    let mut h = lab.backend(true);
    wait_for(&mut h, 30, "nodes", |ev| nodes_of(ev)?.as_ref().ok().map(|_| ())).await;
    wait_for(&mut h, 30, "leases", |ev| leases_of(ev)?.as_ref().ok().map(|_| ())).await;
    lab.cp.lab(&["stop", "apiserver"]).expect("stop apiserver"); // returns once the process is gone
    let t0 = Instant::now();
    let reason = wait_for(&mut h, 20, "the Nodes panel to fail", |ev| nodes_of(ev)?.as_ref().err().cloned()).await;
    eprintln!("nodes failed {:.1}s after the apiserver exited: {reason}", t0.elapsed().as_secs_f64());
    assert!(reason.to_lowercase().contains("refused") || reason.contains("unreachable"), "{reason}");
    let t1 = Instant::now();
    lab.cp.lab(&["start", "apiserver"]).expect("start apiserver");
    wait_for(&mut h, 60, "the Nodes panel to recover", |ev| nodes_of(ev)?.as_ref().ok().map(|_| ())).await;
    wait_for(&mut h, 60, "the Leases panel to recover", |ev| leases_of(ev)?.as_ref().ok().map(|_| ())).await;
    eprintln!("recovered {:.1}s after the start", t1.elapsed().as_secs_f64());
    // the controller-manager and scheduler may have lost leadership (and exited) meanwhile
    lab.cp.lab(&["up"]).expect("control plane back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn read_only_sends_no_write_as_the_apiservers_audit_log_shows() {
    let lab = lab("readonly");
    let admin = lab.admin().await;
    kit::create_namespace(&admin, "kk-ro", "readonly").await.unwrap();
    kit::create(&admin, "/api/v1/nodes", kit::node_json("kk-ro-a", "readonly", &["worker"], "10.99.6.1")).await.unwrap();
    let pod = kit::pod_json("p", json!({}), Some("kk-ro-a"), "10m", "8Mi");
    kit::create(&admin, "/api/v1/namespaces/kk-ro/pods", pod).await.unwrap();
    let since = Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await; // audit timestamps have microseconds; keep clear of the setup

    let mut h = lab.backend(true);
    wait_for(&mut h, 30, "nodes", |ev| nodes_of(ev)?.as_ref().ok()?.iter().find(|n| n.name == "kk-ro-a").map(|_| ())).await;
    let force = DrainOptions { force_unmanaged: true, delete_emptydir_data: true, grace_period_secs: Some(0), timeout_secs: 10 };
    let ops = [
        OpRequest::Cordon { node: "kk-ro-a".into() },
        OpRequest::Uncordon { node: "kk-ro-a".into() },
        OpRequest::Drain { node: "kk-ro-a".into(), options: force },
    ];
    for (i, op) in ops.into_iter().enumerate() {
        let (steps, ok, summary) = run_op(&mut h, 100 + i as u64, op, 30).await;
        assert!(!ok, "{summary}");
        assert!(summary.contains("read-only"), "{summary}\n{steps:?}");
    }
    // the lower layer too: a raw write through the read-only client never leaves the process
    let ro = lab.kockpit(true).await;
    let r = ro.request(Method::DELETE, "/api/v1/namespaces/kk-ro/pods/p", None, None).await;
    assert!(matches!(r, Err(kockpit::kube::KubeError::ReadOnly { .. })), "{r:?}");
    let eviction = json!({"apiVersion": "policy/v1beta1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "kk-ro"}});
    let r = ro
        .request(
            Method::POST,
            "/api/v1/namespaces/kk-ro/pods/p/eviction",
            Some("application/json"),
            Some(eviction.to_string().into_bytes()),
        )
        .await;
    assert!(matches!(r, Err(kockpit::kube::KubeError::ReadOnly { .. })), "{r:?}");
    let p = kube::drain_preview(&ro, "kk-ro-a", &DrainOptions::default()).await.expect("reads work");
    assert_eq!(p.refused, vec!["kk-ro/p"]);
    drop(h);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let text = std::fs::read_to_string(lab.cp.audit_log()).expect("the apiserver's audit log");
    let mut verbs = std::collections::BTreeMap::<String, usize>::new();
    let mut writes = Vec::new();
    for line in text.lines() {
        let Ok(e) = serde_json::from_str::<Value>(line) else { continue };
        if e["user"]["username"] != "kockpit" {
            continue;
        }
        let at = e["requestReceivedTimestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if at.is_none_or(|t| t < since) {
            continue;
        }
        let verb = e["verb"].as_str().unwrap_or("?").to_string();
        if !matches!(verb.as_str(), "get" | "list" | "watch") {
            writes.push(format!("{verb} {}", e["requestURI"].as_str().unwrap_or("")));
        }
        *verbs.entry(verb).or_default() += 1;
    }
    eprintln!("kockpit's requests in the audit log: {verbs:?}");
    assert!(verbs.get("list").copied().unwrap_or(0) > 0 && verbs.get("watch").copied().unwrap_or(0) > 0, "{verbs:?}");
    assert!(writes.is_empty(), "writes from kockpit's user: {writes:?}");
    assert!(!node_unschedulable(&admin, "kk-ro-a").await);
    assert_eq!(pods_on(&admin, "kk-ro-a").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn the_apiservers_audit_log_names_kockpits_session_and_operation() {
    let lab = lab("agent");
    let admin = lab.admin().await;
    kit::create_node(&admin, "kk-agent-1", "agent", &["worker"], "10.99.7.1").await.unwrap();
    let session = format!("labtest-{}", std::process::id());
    let access = Access { kubeconfig: Some(lab.cp.kockpit_kubeconfig()), context: None, readonly: false };
    let mut s = KubeSettings::new(access);
    s.session = Some(session.clone());
    let mut h = kube::spawn_backend(s);
    wait_for(&mut h, 30, "the node", |ev| nodes_of(ev)?.as_ref().ok()?.iter().find(|n| n.name == "kk-agent-1").map(|_| ())).await;
    let (steps, ok, summary) = run_op(&mut h, 42, OpRequest::Cordon { node: "kk-agent-1".into() }, 30).await;
    assert!(ok, "{summary}: {steps:?}");
    drop(h);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let v = env!("CARGO_PKG_VERSION");
    let (of_session, of_op) = (format!("kockpit/{v} (session {session})"), format!("kockpit/{v} (session {session}; op 42)"));
    let text = std::fs::read_to_string(lab.cp.audit_log()).expect("the apiserver's audit log");
    let (mut patches, mut session_reads) = (Vec::new(), 0);
    for line in text.lines() {
        let Ok(e) = serde_json::from_str::<Value>(line) else { continue };
        if e["user"]["username"] != "kockpit" || e["stage"] != "ResponseComplete" {
            continue;
        }
        let agent = e["userAgent"].as_str().unwrap_or("").to_string();
        if e["verb"] == "patch" && e["requestURI"].as_str().is_some_and(|u| u.starts_with("/api/v1/nodes/kk-agent-1")) {
            patches.push(agent);
        } else if agent == of_session {
            session_reads += 1;
        }
    }
    eprintln!("the cordon's patch in the apiserver's audit log: {patches:?}; {session_reads} other requests of the session");
    assert_eq!(patches, std::slice::from_ref(&of_op), "one patch, with the session and the operation in its User-Agent");
    assert!(session_reads > 0, "the watches and lists say the session too");
}

/// Puts the HA lab's masters back on the python stand-in (the lab's default), whatever happened.
struct StubsBack(std::path::PathBuf);

impl Drop for StubsBack {
    fn drop(&mut self) {
        for m in ["m1", "m2", "m3"] {
            let _ = kit::run_bounded(&self.0, &["stop", m, "apiserver"], Duration::from_secs(60));
            let _ = kit::run_bounded(&self.0, &["start", m, "apiserver"], Duration::from_secs(60));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn through_the_ha_vip_watches_move_to_another_apiserver_when_one_stops() {
    // the lock, and the build (the HA lab's real apiservers are the one `tests/lab/k8s build` caches)
    let _lab = lab("havip");
    let ha = harness::script("ha");
    let real = [("KOCKPIT_LAB_APISERVER".to_string(), "real".to_string())];
    if let Err(e) = harness::run_bounded(&ha, &["up"], Duration::from_secs(180)) {
        harness::cannot_run("the HA lab", &e);
    }
    let _restore = StubsBack(ha.clone());
    for m in ["m1", "m2", "m3"] {
        kit::run_env(&ha, &["stop", m, "apiserver"], &real, Duration::from_secs(60)).unwrap();
        kit::run_env(&ha, &["start", m, "apiserver"], &real, Duration::from_secs(60)).unwrap();
    }
    let env = kit::run_bounded(&ha, &["env"], Duration::from_secs(10)).unwrap();
    let dir = env.lines().find_map(|l| l.strip_prefix("export KOCKPIT_LAB_DIR=")).expect("KOCKPIT_LAB_DIR").trim_matches('\'').to_string();
    // kubeadm's admin.conf of m1: the server is the VIP, https://10.213.0.100:6443
    let kubeconfig = std::path::PathBuf::from(format!("{dir}/hosts/m1/fs/etc/kubernetes/admin.conf"));
    assert!(std::fs::read_to_string(&kubeconfig).unwrap().contains("https://10.213.0.100:6443"));
    let admin =
        kockpit::kube::Kube::connect(&Access { kubeconfig: Some(kubeconfig.clone()), context: None, readonly: false }).await.unwrap();
    wait_until(120, "three real apiservers ready behind the VIP", || async {
        // haproxy balances round robin: six good answers in a row come from all three
        let mut ok = 0;
        for _ in 0..6 {
            ok += usize::from(admin.request_raw(Method::GET, "/readyz", None, None).await.is_ok_and(|(c, _)| c == 200));
        }
        ok == 6
    })
    .await;
    kit::create(&admin, "/api/v1/nodes", kit::node_json("kk-havip-1", "havip", &["worker"], "10.99.7.1")).await.unwrap();

    let mut s = KubeSettings::new(Access { kubeconfig: Some(kubeconfig), context: None, readonly: true });
    s.ping_interval = Duration::from_secs(1);
    let mut h = kube::spawn_backend(s);
    wait_for(&mut h, 30, "nodes through the VIP", |ev| nodes_of(ev)?.as_ref().ok()?.iter().find(|n| n.name == "kk-havip-1").map(|_| ()))
        .await;
    // one apiserver goes away: the watches it carried end, reconnect through haproxy to another one
    for m in ["m1", "m2"] {
        kit::run_env(&ha, &["stop", m, "apiserver"], &[], Duration::from_secs(60)).unwrap();
        let t0 = Instant::now();
        cordon_raw(&admin, "kk-havip-1", m == "m1").await; // a change made after the stop must show up
        let want = m == "m1";
        wait_for(&mut h, 30, "the change through another apiserver", |ev| {
            nodes_of(ev)?.as_ref().ok()?.iter().find(|n| n.name == "kk-havip-1" && n.unschedulable == want).map(|_| ())
        })
        .await;
        eprintln!("{m} stopped: the panel showed a change made afterwards {:.1}s later", t0.elapsed().as_secs_f64());
    }
    // the last one too: now the panels fail, with the reason, and recover when it is back
    kit::run_env(&ha, &["stop", "m3", "apiserver"], &[], Duration::from_secs(60)).unwrap();
    let reason = wait_for(&mut h, 30, "the Nodes panel to fail", |ev| nodes_of(ev)?.as_ref().err().cloned()).await;
    eprintln!("all apiservers stopped: {reason}");
    kit::run_env(&ha, &["start", "m3", "apiserver"], &real, Duration::from_secs(60)).unwrap();
    wait_for(&mut h, 90, "the Nodes panel to recover", |ev| nodes_of(ev)?.as_ref().ok().map(|_| ())).await;
    kit::delete(&admin, "/api/v1/nodes/kk-havip-1").await.unwrap();
}

/// Warning events reach the timeline: the real scheduler cannot place a pod that asks for more CPU
/// than any node has, and records FailedScheduling through the events API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn a_schedulers_warning_event_reaches_the_timeline() {
    let lab = lab("warn");
    let admin = lab.admin().await;
    kit::create_namespace(&admin, "kk-warn", "warn").await.unwrap();
    let mut h = lab.backend(true);
    let mut model = Model::new(Plan::demo(), Mode::Live, "lab");
    let mut seen = Vec::new();
    // the first list: whatever the last hour holds
    let first = wait_for(&mut h, 60, "the warning events' first list", |ev| match ev {
        BackendEvent::Obs(o @ Observation { payload: Payload::KubeWarnings(Ok(_)), .. }) => Some(o.clone()),
        _ => None,
    })
    .await;
    seen.push(first);
    // a node with 8 CPUs (no kubelet: the scheduler sees its status and nothing else)
    kit::create(&admin, "/api/v1/nodes", kit::node_json("kk-warn-w1", "warn", &["worker"], "10.99.0.41")).await.unwrap();
    kit::create(&admin, "/api/v1/namespaces/kk-warn/pods", kit::pod_json("big", json!({"app": "big"}), None, "512", "1Gi")).await.unwrap();
    let found = |o: &Observation| -> Option<KubeWarning> {
        let Payload::KubeWarnings(Ok(ws)) = &o.payload else { return None };
        ws.iter().find(|w| w.reason == "FailedScheduling" && w.object == "pod kk-warn/big").cloned()
    };
    let t = Instant::now();
    let w = loop {
        let o = wait_for(&mut h, 60, "FailedScheduling of kk-warn/big", |ev| match ev {
            BackendEvent::Obs(o @ Observation { payload: Payload::KubeWarnings(_), .. }) => Some(o.clone()),
            _ => None,
        })
        .await;
        seen.push(o.clone());
        if let Some(w) = found(&o) {
            break w;
        }
    };
    eprintln!("FailedScheduling reached kockpit {:?} after the pod was created: {}", t.elapsed(), w.describe());
    assert!(w.message.contains("nodes are available") && w.message.contains("Insufficient cpu"), "{w:?}");
    assert_eq!(w.reporter, "default-scheduler");
    assert!(w.last_seen.is_some_and(|at| (Utc::now() - at).num_seconds().abs() < 120), "{w:?}");
    // the model: a summary of the first list, then the scheduler's complaint as news
    let last = seen.last().cloned().unwrap();
    for o in seen {
        model.apply(o);
    }
    let texts: Vec<String> = model.timeline.iter().map(|e| e.text.clone()).collect();
    // (the scheduler may record more than one event for the pod: it retries when the node appears)
    let news = texts.iter().filter(|t| t.starts_with("k8s Warning FailedScheduling pod kk-warn/big [default-scheduler]: ")).count();
    assert!(news >= 1, "{texts:#?}");
    // the same list again is no news
    let n = model.timeline.len();
    model.apply(Observation { at: Utc::now(), ..last });
    assert_eq!(model.timeline.len(), n, "an event is told once");
    assert!(model.warnings.data.as_ref().is_some_and(|ws| ws.iter().any(|x| x.key == w.key)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn the_first_list_of_pods_says_how_many_are_coming_before_the_nodes_panel() {
    let lab = lab("loading");
    let admin = lab.admin().await;
    kit::create_namespace(&admin, "kk-loading", "loading").await.unwrap();
    for i in 0..30 {
        kit::create(
            &admin,
            "/api/v1/namespaces/kk-loading/pods",
            kit::pod_json(&format!("p{i}"), json!({"app": "l"}), None, "10m", "16Mi"),
        )
        .await
        .unwrap();
    }
    let all: Value = kit::req(&admin, Method::GET, "/api/v1/pods", None).await.unwrap();
    let count = all["items"].as_array().map_or(0, Vec::len) as u64;
    assert!(count >= 30, "{count}");
    let mut h = lab.backend(true);
    // the progress comes first, with the API server's own count (remainingItemCount), then the nodes
    let first = wait_for(&mut h, 30, "the pods' list progress, or the nodes", |ev| match ev {
        BackendEvent::Obs(Observation { payload: Payload::KubeLoading(l), .. }) => Some(Ok(l.clone())),
        BackendEvent::Obs(Observation { payload: Payload::Nodes(_), .. }) => Some(Err(())),
        _ => None,
    })
    .await
    .expect("the list's progress before the Nodes panel's first picture");
    // (another namespace's pods may come or go meanwhile: the count is the API server's, not a guess)
    assert_eq!((first.what.as_str(), first.done), ("pods", 0), "{first:?}");
    let total = first.total.expect("the API server's count (remainingItemCount)");
    assert!(total >= 30 && total.abs_diff(count) <= 5, "{total} pods said, {count} listed");
    wait_for(&mut h, 30, "the nodes after it", |ev| nodes_of(ev).map(|_| ())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn the_pods_list_in_protobuf_reads_as_the_json_one() {
    use kockpit::kube::lean::LeanPod;
    let lab = lab("protobuf");
    let admin = lab.admin().await;
    kit::create_namespace(&admin, "kk-protobuf", "protobuf").await.unwrap();
    kit::create_node(&admin, "kk-pb-n1", "protobuf", &["worker"], "10.99.9.1").await.unwrap();
    for i in 0..5 {
        let mut pod = kit::pod_json(&format!("p{i}"), json!({"app": "pb", "i": i.to_string()}), Some("kk-pb-n1"), "250m", "64Mi");
        pod["spec"]["volumes"] = json!([{"name": "scratch", "emptyDir": {}}]);
        pod["spec"]["initContainers"] =
            json!([{"name": "init", "image": "registry.invalid/pause:3.2", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]);
        pod["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "x", "note": "ünïcode"});
        kit::create(&admin, "/api/v1/namespaces/kk-protobuf/pods", pod).await.unwrap();
        kit::mark_ready(&admin, "kk-protobuf", &format!("p{i}")).await.unwrap();
    }
    let k = lab.kockpit(true).await;
    let (mut as_json, mut as_pb) = (Vec::new(), Vec::new());
    let limit = Duration::from_secs(30);
    // every pod of the cluster, as the Nodes panel lists them (its own, the control plane's, other tests')
    let path = "/api/v1/pods?resourceVersion=0";
    let j = k.list_streamed::<LeanPod>(path, |p| as_json.push(p), limit).await.unwrap();
    let p = k.list_streamed_as::<LeanPod>(path, Some(kockpit::kube::pb::pod), |p| as_pb.push(p), limit).await.unwrap();
    assert!(p.protobuf && !j.protobuf, "the API server answered the pods' list in protobuf");
    let key = |p: &LeanPod| (p.metadata.namespace.clone(), p.metadata.name.clone());
    let text = |mut v: Vec<LeanPod>| {
        v.sort_by_key(key);
        v.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>()
    };
    let mine = |v: &[LeanPod]| v.iter().filter(|p| p.metadata.namespace == "kk-protobuf").count();
    assert_eq!((mine(&as_json), mine(&as_pb)), (5, 5));
    if j.resource_version == p.resource_version {
        assert_eq!(text(as_json), text(as_pb), "the same pods, read the same");
    } else {
        // something else changed between the two lists: compare this test's pods only
        let only = |v: Vec<LeanPod>| text(v.into_iter().filter(|p| p.metadata.namespace == "kk-protobuf").collect());
        assert_eq!(only(as_json), only(as_pb));
    }
    let mut p0 = Vec::new();
    let path = "/api/v1/namespaces/kk-protobuf/pods?fieldSelector=metadata.name%3Dp0";
    k.list_streamed_as::<LeanPod>(path, Some(kockpit::kube::pb::pod), |p| p0.push(p), limit).await.unwrap();
    assert_eq!(p0.len(), 1);
    assert!(p0[0].is_ready() && p0[0].is_mirror() && p0[0].has_emptydir(), "{:?}", p0[0]);
    assert_eq!(p0[0].requests(), (1000, 1 << 30));
    // an error answered in protobuf reads as one
    let e = k.list_streamed_as::<LeanPod>("/api/v1/namespaces/kk-protobuf/nopes", Some(kockpit::kube::pb::pod), |_| {}, limit).await;
    assert_eq!(e.as_ref().err().and_then(|e| e.code()), Some(404), "{e:?}");
}
