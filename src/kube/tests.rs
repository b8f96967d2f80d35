//! The aggregator: compact stores, per-node sums, coalesced and failure-aware observations.

use super::*;

fn node(name: &str) -> Node {
    Node {
        name: name.into(),
        ready: Some(true),
        cpu_allocatable_m: 4000,
        mem_allocatable: 8 << 30,
        pods_capacity: 110,
        ..Default::default()
    }
}

fn pod(node: &str, cpu: u64, counted: bool) -> PodEntry {
    PodEntry { node: node.into(), cpu_m: cpu, mem: 1 << 20, counted, ready: true, rook: None }
}

fn settings() -> KubeSettings {
    KubeSettings::new(Access::default())
}

fn lease(name: &str) -> Lease {
    Lease {
        namespace: "kube-system".into(),
        name: name.into(),
        kind: LeaseKind::LeaderElection,
        holder: Some("m1_x".into()),
        renew_time: None,
        acquire_time: None,
        duration_secs: 15,
        transitions: 0,
    }
}

#[test]
fn nodes_wait_for_pods_and_carry_their_sums() {
    let mut s = State::default();
    let now = Instant::now();
    s.apply(Msg::Nodes(Change::Reset(vec![("n1".into(), node("n1")), ("n2".into(), node("n2"))])));
    assert!(s.due(now, &settings()).iter().all(|o| !matches!(o.payload, Payload::Nodes(_))), "pods not listed yet");
    s.apply(Msg::Pods(Change::Reset(vec![
        ("a/p1".into(), pod("n1", 100, true)),
        ("a/p2".into(), pod("n1", 250, true)),
        ("a/p3".into(), pod("n2", 500, false)),
        ("a/p4".into(), pod("", 500, false)),
    ])));
    let out = s.due(now, &settings());
    let Some(Payload::Nodes(Ok(nodes))) = out.iter().map(|o| &o.payload).find(|p| matches!(p, Payload::Nodes(_))) else {
        panic!("{out:?}")
    };
    assert_eq!((nodes[0].cpu_requested_m, nodes[0].pods, nodes[0].mem_requested), (350, 2, 2 << 20));
    assert_eq!((nodes[1].cpu_requested_m, nodes[1].pods), (0, 0));
    // a pod moves from n1 to nothing (deleted), another finishes: sums follow
    s.apply(Msg::Pods(Change::Delete("a/p1".into())));
    s.apply(Msg::Pods(Change::Apply("a/p2".into(), pod("n1", 250, false))));
    let out = s.due(now, &settings());
    let Some(Payload::Nodes(Ok(nodes))) = out.iter().map(|o| &o.payload).find(|p| matches!(p, Payload::Nodes(_))) else { panic!() };
    assert_eq!((nodes[0].cpu_requested_m, nodes[0].pods), (0, 0));
    assert!(s.sums.is_empty());
    // nothing changed: nothing sent until the heartbeat
    assert!(s.due(now, &settings()).is_empty());
    assert!(!s.due(now + Duration::from_secs(4), &settings()).is_empty());
}

#[test]
fn failures_are_sent_once_and_recovery_resends_data() {
    let mut s = State::default();
    let now = Instant::now();
    s.apply(Msg::Leases(LeaseKind::LeaderElection, Change::Reset(vec![("kube-scheduler".into(), lease("kube-scheduler"))])));
    s.apply(Msg::Leases(LeaseKind::NodeHeartbeat, Change::Reset(vec![])));
    let out = s.due(now, &settings());
    assert!(out.iter().any(|o| matches!(&o.payload, Payload::Leases(Ok(v)) if v.len() == 1)));
    s.apply(Msg::Leases(LeaseKind::LeaderElection, Change::Failed("Connection refused".into())));
    let out = s.due(now, &settings());
    assert!(out.iter().any(|o| matches!(&o.payload, Payload::Leases(Err(r)) if r == "Connection refused")));
    assert!(s.due(now, &settings()).iter().all(|o| !matches!(o.payload, Payload::Leases(_))), "sent once");
    s.apply(Msg::Api(Err("API server unreachable: x".into())));
    let out = s.due(now, &settings());
    assert!(out.iter().any(|o| matches!(&o.payload, Payload::Nodes(Err(r)) if r.starts_with("API server unreachable"))));
    s.apply(Msg::Api(Ok(())));
    s.apply(Msg::Leases(LeaseKind::LeaderElection, Change::Healthy));
    let out = s.due(now, &settings());
    assert!(out.iter().any(|o| matches!(&o.payload, Payload::Leases(Ok(_)))), "{out:?}");
}

#[test]
fn rook_view_counts_daemons_from_pods() {
    let mut s = State { rook: true, ..State::default() };
    let now = Instant::now();
    let (view, _) = convert::ceph(
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "rook-ceph", "namespace": "rook-ceph"},
            "status": {"ceph": {"health": "HEALTH_OK", "lastChecked": "2030-01-01T00:00:00Z"}}}))
        .unwrap(),
    )
    .unwrap();
    s.apply(Msg::Ceph(Change::Reset(vec![("rook-ceph/rook-ceph".into(), (view, None))])));
    let osd = |n: &str, ready| PodEntry { rook: Some(RookDaemon::Osd), ready, ..pod(n, 0, true) };
    s.apply(Msg::Pods(Change::Reset(vec![
        ("rook-ceph/osd-0".into(), osd("w1", true)),
        ("rook-ceph/osd-1".into(), osd("w2", false)),
        ("rook-ceph/mon-a".into(), PodEntry { rook: Some(RookDaemon::Mon), ..pod("m1", 0, true) }),
    ])));
    let out = s.due(now, &settings());
    let o = out.iter().find(|o| matches!(o.payload, Payload::RookCeph(_))).expect("ceph");
    assert_eq!(o.source, "kube rook");
    let Payload::RookCeph(Ok(v)) = &o.payload else { panic!() };
    assert_eq!((v.osds, v.osds_up, v.mons, v.mons_in_quorum), (2, 1, 1, 1));
    assert_eq!(v.osd_hosts, vec!["w1", "w2"]);
}

#[test]
fn settings_from_a_plan_expand_home() {
    if std::env::var_os("HOME").is_some() {
        assert!(!expand_home(PathBuf::from("~/.kube/config")).starts_with("~"));
    }
    assert_eq!(expand_home(PathBuf::from("/etc/k")), PathBuf::from("/etc/k"));
    assert!(handles(&OpRequest::Cordon { node: "n".into() }));
    assert!(!handles(&OpRequest::SetNoout { on: true }));
}

/// A server for [`poll_metrics`]: metrics.k8s.io served (0), unregistered (1: 404), registered with
/// metrics-server down (2: 503).
fn metrics_api(mode: Arc<std::sync::atomic::AtomicU8>) -> Kube {
    use http::{Request, Response};
    use kube::client::Body;
    let svc = tower::service_fn(move |req: Request<Body>| {
        let path = req.uri().path().to_string();
        let mode = mode.load(std::sync::atomic::Ordering::SeqCst);
        async move {
            let (code, body) = match (mode, path.as_str()) {
                (0, "/apis/metrics.k8s.io/v1beta1") => (200, r#"{"kind":"APIResourceList","groupVersion":"metrics.k8s.io/v1beta1"}"#),
                (0, "/apis/metrics.k8s.io/v1beta1/nodes") => (
                    200,
                    r#"{"kind":"NodeMetricsList","items":[{"metadata":{"name":"n1"},"usage":{"cpu":"250m","memory":"512Mi"}},
                        {"metadata":{"name":"n2"},"usage":{"cpu":"1250000000n","memory":"2097152Ki"}}]}"#,
                ),
                (2, _) => (503, r#"{"kind":"Status","reason":"ServiceUnavailable","message":"service unavailable","code":503}"#),
                _ => (
                    404,
                    r#"{"kind":"Status","reason":"NotFound","message":"the server could not find the requested resource","code":404}"#,
                ),
            };
            Ok::<_, tower::BoxError>(Response::builder().status(code).body(Body::from(body.as_bytes().to_vec())).unwrap())
        }
    });
    Kube {
        client: kube::Client::new(svc, "default"),
        readonly: true,
        context: "t".into(),
        server: "mock".into(),
        request_timeout: Duration::from_secs(1),
        agent: user_agent(None, None),
        session: None,
    }
}

#[tokio::test]
async fn every_request_says_version_session_and_operation_in_its_user_agent() {
    use http::{Request, Response};
    use kube::client::Body;
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let log = seen.clone();
    let svc = tower::service_fn(move |req: Request<Body>| {
        let ua = req.headers().get(http::header::USER_AGENT).map(|v| v.to_str().unwrap_or("?").to_string());
        log.lock().unwrap().push(ua.unwrap_or_else(|| "(none)".into()));
        async move { Ok::<_, tower::BoxError>(Response::builder().status(200).body(Body::from(b"{}".to_vec())).unwrap()) }
    });
    let plain = Kube {
        client: kube::Client::new(svc, "default"),
        readonly: false,
        context: "t".into(),
        server: "mock".into(),
        request_timeout: Duration::from_secs(1),
        agent: user_agent(None, None),
        session: None,
    };
    let v = env!("CARGO_PKG_VERSION");
    let session = plain.clone().with_session("20261202T122400-4242");
    let op = session.for_op(7);
    plain.get_json::<serde_json::Value>("/version").await.unwrap();
    session.get_json::<serde_json::Value>("/version").await.unwrap();
    op.get_json::<serde_json::Value>("/api/v1/nodes/n1").await.unwrap();
    let patch = br#"{"spec":{"unschedulable":true}}"#.to_vec();
    op.request(http::Method::PATCH, "/api/v1/nodes/n1", Some("application/merge-patch+json"), Some(patch)).await.unwrap();
    let want = [
        format!("kockpit/{v}"),
        format!("kockpit/{v} (session 20261202T122400-4242)"),
        format!("kockpit/{v} (session 20261202T122400-4242; op 7)"),
        format!("kockpit/{v} (session 20261202T122400-4242; op 7)"),
    ];
    assert_eq!(*seen.lock().unwrap(), want);
    assert_eq!(op.user_agent(), want[2]);
    assert_eq!(
        session.for_op(8).user_agent(),
        format!("kockpit/{v} (session 20261202T122400-4242; op 8)"),
        "the session's client is unchanged"
    );
    assert_eq!(user_agent(Some("a\nb\u{e9}"), None).to_str().unwrap(), format!("kockpit/{v} (session a?b?)"), "no header injection");
}

async fn next_metrics(rx: &mut mpsc::Receiver<Msg>) -> HashMap<String, (u64, u64)> {
    match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
        Ok(Some(Msg::Metrics(m))) => m,
        other => panic!("expected metrics, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn used_figures_go_when_metrics_server_is_unregistered_and_come_back_with_it() {
    use std::sync::atomic::{AtomicU8, Ordering};
    let mode = Arc::new(AtomicU8::new(0));
    let every = Duration::from_secs(1);
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(poll_metrics(metrics_api(mode.clone()), true, every, tx));
    let m = next_metrics(&mut rx).await;
    assert_eq!((m["n1"], m["n2"]), ((250, 512 << 20), (1250, 2 << 30)));
    mode.store(1, Ordering::SeqCst);
    let gone = Instant::now();
    while !next_metrics(&mut rx).await.is_empty() {}
    assert!(gone.elapsed() <= every * 2, "a 404 drops the figures at the next read: {:?}", gone.elapsed());
    // nothing more while it stays unregistered: no repeated empty maps
    assert!(tokio::time::timeout(every * 10, rx.recv()).await.is_err(), "silence while not served");
    mode.store(0, Ordering::SeqCst);
    let back = Instant::now();
    assert_eq!(next_metrics(&mut rx).await.len(), 2);
    assert!(back.elapsed() <= every * (METRICS_RECHECK + 1), "found again within the recheck period: {:?}", back.elapsed());
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn used_figures_outlive_a_short_metrics_server_outage_but_not_a_long_one() {
    use std::sync::atomic::{AtomicU8, Ordering};
    let mode = Arc::new(AtomicU8::new(0));
    let every = Duration::from_secs(1);
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(poll_metrics(metrics_api(mode.clone()), true, every, tx));
    assert_eq!(next_metrics(&mut rx).await.len(), 2);
    mode.store(2, Ordering::SeqCst);
    let down = Instant::now();
    while !next_metrics(&mut rx).await.is_empty() {}
    let kept = down.elapsed();
    assert!(kept >= every * (METRICS_STALE - 1) && kept <= every * (METRICS_STALE + 1), "kept {kept:?}");
    // registered all along: the next good read brings them back at once
    mode.store(0, Ordering::SeqCst);
    let back = Instant::now();
    assert_eq!(next_metrics(&mut rx).await.len(), 2);
    assert!(back.elapsed() <= every * 2, "{:?}", back.elapsed());
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn metrics_server_installed_after_start_is_found() {
    use std::sync::atomic::{AtomicU8, Ordering};
    let mode = Arc::new(AtomicU8::new(1));
    let every = Duration::from_secs(1);
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(poll_metrics(metrics_api(mode.clone()), false, every, tx));
    assert!(tokio::time::timeout(every * 10, rx.recv()).await.is_err(), "nothing while not served");
    mode.store(0, Ordering::SeqCst);
    assert_eq!(next_metrics(&mut rx).await.len(), 2);
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_404_right_after_registration_is_read_again_one_interval_later() {
    use std::sync::atomic::{AtomicU8, Ordering};
    // discovery lists a fresh APIService a moment before its proxy answers: the first read gets 404
    let mode = Arc::new(AtomicU8::new(1));
    let every = Duration::from_secs(1);
    let (tx, mut rx) = mpsc::channel(16);
    let start = Instant::now();
    let task = tokio::spawn(poll_metrics(metrics_api(mode.clone()), true, every, tx));
    tokio::time::sleep(every / 2).await;
    mode.store(0, Ordering::SeqCst);
    assert_eq!(next_metrics(&mut rx).await.len(), 2);
    assert!(start.elapsed() <= every * 2, "{:?}", start.elapsed());
    task.abort();
}

#[test]
fn warning_events_of_both_apis_and_only_of_the_last_hour() {
    // a core/v1 event from a kubelet, counted up
    let core: lean::LeanEvent = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web-1.17a", "namespace": "shop", "creationTimestamp": "2026-11-24T09:00:00Z"},
        "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container",
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
        "count": 7, "lastTimestamp": "2026-11-24T10:00:00Z", "source": {"component": "kubelet", "host": "w1"}
    }))
    .unwrap();
    let (key, w) = convert::warning(core).expect("a warning");
    assert_eq!(key, "shop/web-1.17a");
    assert_eq!((w.reason.as_str(), w.object.as_str(), w.count, w.reporter.as_str()), ("BackOff", "pod shop/web-1", 7, "kubelet"));
    assert_eq!(w.last_seen, Some("2026-11-24T10:00:00Z".parse().unwrap()));
    assert_eq!(w.describe(), "k8s Warning BackOff pod shop/web-1 [kubelet]: Back-off restarting failed container (x7)");
    // one from the events.k8s.io API as core/v1 shows it: no count or lastTimestamp, a series, eventTime
    let new_api: lean::LeanEvent = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "big.17b", "namespace": "kk"}, "type": "Warning", "reason": "FailedScheduling",
        "message": "0/3 nodes are available: 3 Insufficient cpu.", "involvedObject": {"kind": "Pod", "namespace": "kk", "name": "big"},
        "eventTime": "2026-11-24T10:01:00.123456Z", "series": {"count": 3, "lastObservedTime": "2026-11-24T10:05:00.000001Z"},
        "source": {}, "reportingComponent": "default-scheduler"
    }))
    .unwrap();
    let (_, w2) = convert::warning(new_api).unwrap();
    assert_eq!((w2.count, w2.reporter.as_str()), (3, "default-scheduler"));
    assert_eq!(w2.last_seen.unwrap().timestamp(), "2026-11-24T10:05:00Z".parse::<DateTime<Utc>>().unwrap().timestamp());
    let node_event: lean::LeanEvent = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "w2.1", "namespace": "default"}, "type": "Warning", "reason": "NodeNotReady",
        "involvedObject": {"kind": "Node", "name": "w2"}, "eventTime": "2026-11-24T10:02:00Z"
    }))
    .unwrap();
    let (_, w3) = convert::warning(node_event).unwrap();
    assert!(w3.about_a_node() && w3.object == "node w2" && w3.count == 1, "{w3:?}");
    let normal: lean::LeanEvent = serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}, "type": "Normal"})).unwrap();
    assert!(convert::warning(normal).is_none());

    // the payload: oldest first, nothing older than an hour
    let mut st = State::default();
    let mut old = w.clone();
    old.key = "shop/old".into();
    old.last_seen = Some("2026-11-24T08:30:00Z".parse().unwrap());
    st.apply(Msg::Warnings(Change::Reset(vec![("a".into(), w2.clone()), ("b".into(), w.clone()), ("c".into(), old), ("d".into(), w3)])));
    let keys: Vec<String> = st.warnings_payload("2026-11-24T10:10:00Z".parse().unwrap()).into_iter().map(|w| w.reason).collect();
    assert_eq!(keys, ["BackOff", "NodeNotReady", "FailedScheduling"], "by when they were last seen");
}

#[tokio::test(start_paused = true)]
async fn a_kubeconfig_that_cannot_be_read_is_said_once_not_at_every_retry() {
    let access = Access { kubeconfig: Some("/nonexistent/kockpit-test/kubeconfig".into()), context: None, readonly: true };
    let mut h = spawn_backend(KubeSettings::new(access));
    let mut notices = Vec::new();
    // three retries' worth of time (every 30 s), auto-advanced while the backend waits
    let until = tokio::time::Instant::now() + Duration::from_secs(100);
    while let Ok(Some(ev)) = tokio::time::timeout_at(until, h.events.recv()).await {
        if let BackendEvent::Notice(n) = ev {
            notices.push(n);
        }
    }
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with("Kubernetes: kubeconfig"), "{notices:?}");
}
