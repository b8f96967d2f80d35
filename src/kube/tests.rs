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
    let o = out.iter().find(|o| matches!(o.payload, Payload::Ceph(_))).expect("ceph");
    assert_eq!(o.source, "kube rook");
    let Payload::Ceph(Ok(v)) = &o.payload else { panic!() };
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
