use super::*;
use crate::inventory::Plan;
use chrono::Duration;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

fn vrrp(lb: &str, state: VrrpState, holds: bool, at: i64) -> Observation {
    Observation {
        at: t(at),
        source: format!("ssh {lb}"),
        budget_ms: 3_000,
        payload: Payload::Vrrp {
            lb: lb.into(),
            result: Ok(VrrpView {
                instance: "VI_1".into(),
                state,
                priority: 150,
                effective_priority: 150,
                holds_vip: holds,
                last_transition: None,
            }),
        },
    }
}

fn server(name: &str, status: &str) -> BackendServer {
    BackendServer {
        backend: "kube-apiserver".into(),
        server: name.into(),
        address: format!("{name}:6443"),
        status: ServerStatus::parse(status),
        status_text: status.into(),
        check_status: Some(if status == "UP" { "L7OK".into() } else { "L4CON".into() }),
        check_duration_ms: Some(1),
        last_change_secs: Some(5),
        sessions: 0,
        weight: 1,
    }
}

fn haproxy(lb: &str, statuses: &[(&str, &str)], at: i64) -> Observation {
    Observation {
        at: t(at),
        source: format!("ssh {lb}"),
        budget_ms: 3_000,
        payload: Payload::Haproxy { lb: lb.into(), result: Ok(statuses.iter().map(|(n, s)| server(n, s)).collect()) },
    }
}

fn model() -> Model {
    Model::new(Plan::demo(), Mode::Live, "admin@demo")
}

/// The critical properties beside the VIP seen healthy at `at` (etcd and the nodes),
/// so that a test of one panel is not judged unknown for the others.
fn rest_seen(m: &mut Model, at: i64) {
    m.apply(etcd(&[("master1", true, true), ("master2", true, false), ("master3", true, false)], at));
    let node = Node { name: "master1".into(), ready: Some(true), ..Node::default() };
    m.apply(Observation { at: t(at), source: "kube".into(), budget_ms: 5_000, payload: Payload::Nodes(Ok(vec![node])) });
    assert!(m.plan.ceph.is_none(), "the demo plan has no [ceph] section");
}

#[test]
fn vip_move_and_split_brain_reach_the_timeline_and_health() {
    let mut m = model();
    assert!(m.apply(vrrp("slb1", VrrpState::Master, true, 0)));
    assert!(m.apply(vrrp("slb2", VrrpState::Backup, false, 0)));
    assert!(m.timeline.is_empty(), "the first sighting is not a move");
    assert_eq!(assess(&m, t(1)).level, HealthLevel::Unknown, "etcd and the nodes not seen yet");
    rest_seen(&mut m, 1);
    assert_eq!(assess(&m, t(1)).level, HealthLevel::Healthy, "{:#?}", assess(&m, t(1)).findings);

    m.apply(vrrp("slb1", VrrpState::Stopped, false, 2));
    m.apply(vrrp("slb2", VrrpState::Master, true, 2));
    let texts: Vec<_> = m.timeline.iter().map(|e| e.text.clone()).collect();
    assert!(texts.contains(&"keepalived slb1 MASTER -> STOPPED".to_string()), "{texts:?}");
    // slb1's look and slb2's, stamped at one instant: a move, never a moment on no host
    assert!(!texts.iter().any(|t| t.starts_with("VIP lost")), "{texts:?}");
    assert!(texts.contains(&"VIP moved slb1 -> slb2".to_string()), "{texts:?}");

    m.apply(vrrp("slb1", VrrpState::Master, true, 4));
    rest_seen(&mut m, 4);
    assert_eq!(m.vip_holders(), vec!["slb1".to_string(), "slb2".to_string()]);
    let last = m.timeline.newest().next().unwrap();
    assert_eq!(last.severity, Severity::Critical);
    assert!(last.text.contains("SPLIT BRAIN"));
    let a = assess(&m, t(4));
    assert_eq!(a.level, HealthLevel::Critical);
    assert!(a.findings.iter().any(|f| f.message.contains("split brain")));
}

#[test]
fn backend_down_is_degraded_and_logged() {
    let mut m = model();
    let all_up = [("master1", "UP"), ("master2", "UP"), ("master3", "UP")];
    m.apply(vrrp("slb1", VrrpState::Master, true, 0));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 0));
    m.apply(haproxy("slb1", &all_up, 0));
    rest_seen(&mut m, 0);
    assert_eq!(assess(&m, t(0)).level, HealthLevel::Healthy);
    // Same data again: nothing visible changed, revision stays.
    let rev = m.revision;
    assert!(!m.apply(haproxy("slb1", &all_up, 1)));
    assert_eq!(m.revision, rev);
    // A transitional state is not yet a status change.
    m.apply(haproxy("slb1", &[("master1", "UP"), ("master2", "UP"), ("master3", "UP 1/2")], 2));
    assert!(m.timeline.is_empty());
    m.apply(haproxy("slb1", &[("master1", "UP"), ("master2", "UP"), ("master3", "DOWN")], 3));
    m.apply(vrrp("slb1", VrrpState::Master, true, 3));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 3));
    rest_seen(&mut m, 3);
    let e = m.timeline.newest().next().unwrap();
    assert_eq!(e.text, "haproxy slb1 master3 UP -> DOWN (L4CON)");
    let a = assess(&m, t(3));
    assert_eq!(a.level, HealthLevel::Degraded);
    assert_eq!(a.worst(PanelId::Haproxy, "slb1/master3"), Severity::Warn);
    m.apply(haproxy("slb1", &[("master1", "DOWN"), ("master2", "DOWN"), ("master3", "DOWN")], 4));
    assert_eq!(assess(&m, t(4)).level, HealthLevel::Critical);
}

#[test]
fn failing_source_keeps_data_and_is_reported_then_recovers() {
    let mut m = model();
    m.apply(haproxy("slb1", &[("master1", "UP")], 0));
    m.apply(Observation {
        at: t(1),
        source: "ssh slb1".into(),
        budget_ms: 3_000,
        payload: Payload::Haproxy { lb: "slb1".into(), result: Err("ssh: connection refused".into()) },
    });
    let (f, src) = m.panel_freshness(PanelId::Haproxy, t(4));
    assert_eq!(src, "ssh");
    match f {
        Freshness::Failed { reason, since_ms, .. } => {
            assert_eq!(reason, "ssh: connection refused");
            assert_eq!(since_ms, 3_000);
        }
        other => panic!("{other:?}"),
    }
    assert!(m.haproxy["slb1"].data.is_some());
    assert_eq!(m.timeline.newest().next().unwrap().text, "haproxy slb1: ssh: connection refused");
    m.apply(haproxy("slb1", &[("master1", "UP")], 5));
    assert_eq!(m.timeline.newest().next().unwrap().text, "haproxy slb1: recovered");
}

#[test]
fn everything_failing_is_unreachable() {
    let mut m = model();
    assert_eq!(assess(&m, t(0)).level, HealthLevel::Unreachable, "nothing heard yet");
    m.apply(Observation { at: t(0), source: "kube".into(), budget_ms: 5_000, payload: Payload::Nodes(Err("connection refused".into())) });
    assert_eq!(assess(&m, t(0)).level, HealthLevel::Unreachable);
    m.apply(haproxy("slb1", &[("master1", "UP")], 0));
    let a = assess(&m, t(1));
    assert_eq!(a.level, HealthLevel::Unknown, "the nodes failing, etcd never heard: unknown, not merely degraded");
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Unknown && f.message == "node readiness unknown: connection refused"),
        "{:#?}",
        a.findings
    );
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Unknown && f.message == "etcd quorum unknown: no answer yet"),
        "{:#?}",
        a.findings
    );
    // Ten seconds later with no news, the haproxy data is stale: unreachable again.
    assert_eq!(assess(&m, t(0) + Duration::seconds(10)).level, HealthLevel::Unreachable);
}

fn etcd(members: &[(&str, bool, bool)], at: i64) -> Observation {
    let ms = members
        .iter()
        .enumerate()
        .map(|(i, (n, up, leader))| EtcdMember {
            name: n.to_string(),
            id: 0x8e9e_05c5_2164_694d + i as u64,
            endpoint: format!("https://{n}:2379"),
            reachable: *up,
            is_leader: *leader,
            is_learner: false,
            version: "3.4.13".into(),
            raft_term: 3,
            raft_index: 100,
            raft_applied_index: 100,
            db_size: 1 << 20,
            db_size_in_use: 1 << 19,
            error: if *up { None } else { Some("context deadline exceeded".into()) },
        })
        .collect();
    Observation {
        at: t(at),
        source: "etcd grpc".into(),
        budget_ms: 3_000,
        payload: Payload::Etcd(Ok(EtcdView { members: ms, alarms: vec![] })),
    }
}

#[test]
fn etcd_leader_change_and_quorum_loss() {
    let mut m = model();
    m.apply(etcd(&[("master1", true, true), ("master2", true, false), ("master3", true, false)], 0));
    m.apply(etcd(&[("master1", false, false), ("master2", true, true), ("master3", true, false)], 1));
    let texts: Vec<_> = m.timeline.iter().map(|e| e.text.as_str()).collect();
    assert!(texts.contains(&"etcd leader master1 -> master2"), "{texts:?}");
    assert!(texts.contains(&"etcd member master1 down"), "{texts:?}");
    let a = assess(&m, t(1));
    assert!(a.findings.iter().any(|f| f.message == "etcd cannot lose another member"));
    m.apply(etcd(&[("master1", false, false), ("master2", false, false), ("master3", true, false)], 2));
    let a = assess(&m, t(2));
    assert_eq!(a.level, HealthLevel::Critical);
    assert!(a.findings[0].message.starts_with("quorum lost: 1/3"), "{:?}", a.findings[0]);
}

#[test]
fn host_drift_against_plan() {
    let plan = Plan::demo();
    let h = plan.host("master3").unwrap();
    let facts = HostFacts {
        hostname: "master3".into(),
        kernel: "3.10.0-1160.el7.x86_64".into(),
        cpus: 8,
        mem_total_mb: 32_000,
        disk_total_gb: 150,
        swap_total_mb: 2048,
        br_netfilter: Some(true),
        bridge_nf_call_iptables: Some(true),
        ip_forward: Some(true),
        ..Default::default()
    };
    let drift = health::host_drift(h, &facts);
    let msgs: Vec<_> = drift.iter().map(|(_, m)| m.as_str()).collect();
    assert!(msgs.iter().any(|m| m.starts_with("kernel 3.10.0 < 4.19")), "{msgs:?}");
    assert!(msgs.contains(&"swap on (2048 MB)"), "{msgs:?}");
    assert_eq!(drift.len(), 2, "kernel<4.19 (which implies below plan), swap: {msgs:?}");
    let good = HostFacts { kernel: "5.4.0".into(), swap_total_mb: 0, ..facts };
    assert!(health::host_drift(h, &good).is_empty());
    let small = HostFacts { cpus: 4, mem_total_mb: 16_000, ..good.clone() };
    assert_eq!(health::host_drift(h, &small).len(), 2);
    let behind_plan = HostFacts { kernel: "4.19.90".into(), ..good };
    assert_eq!(health::host_drift(h, &behind_plan)[0].1, "kernel 4.19.90 below planned 5.4");
}

#[test]
fn timeline_is_bounded() {
    let mut tl = Timeline::with_capacity(3);
    for i in 0..5 {
        tl.push(Event::new(t(i), PanelId::Vip, Severity::Info, format!("e{i}")));
    }
    assert_eq!(tl.len(), 3);
    assert_eq!(tl.dropped, 2);
    assert_eq!(tl.newest().next().unwrap().text, "e4");
}

fn ceph_obs(rook: bool, result: Result<(CephHealth, &[&str]), &str>, at: i64) -> Observation {
    let result = result.map(|(health, flags)| CephView {
        health,
        checks: vec![],
        mons: 3,
        mons_in_quorum: 3,
        osds: 3,
        osds_up: 3,
        osds_in: 3,
        pgs_by_state: vec![("active+clean".into(), 64)],
        bytes_used: 1,
        bytes_total: 10,
        flags: flags.iter().map(|f| f.to_string()).collect(),
        osd_hosts: vec![],
        osd_host_detail: vec![],
        pools: None,
    });
    let (source, payload) = if rook {
        ("kube rook", Payload::RookCeph(result.map_err(String::from)))
    } else {
        ("ceph ssh m1", Payload::Ceph(result.map_err(String::from)))
    };
    Observation { at: t(at), source: source.into(), budget_ms: 120_000, payload }
}

#[test]
fn rook_alone_feeds_the_ceph_panel() {
    let mut m = model();
    assert!(m.ceph_view().is_none());
    m.apply(ceph_obs(true, Ok((CephHealth::Warn, &[])), 0));
    assert_eq!(m.ceph_view().map(|c| c.health), Some(CephHealth::Warn));
    assert!(std::ptr::eq(m.ceph_shown().unwrap(), &m.rook));
    let (f, names) = m.panel_freshness(PanelId::Ceph, t(1));
    assert!(f.is_fresh(), "the CLI never heard from is not a source here: {f:?}");
    assert_eq!(names, "kube");
    let ceph: Vec<String> = m.sources(t(1)).into_iter().filter(|(p, _, _)| *p == PanelId::Ceph).map(|(_, n, _)| n).collect();
    assert_eq!(ceph, ["rook"]);
}

#[test]
fn the_cli_is_shown_beside_rook_and_rook_stands_in_when_the_cli_fails() {
    let mut m = model();
    m.apply(ceph_obs(false, Ok((CephHealth::Ok, &["noout"])), 0));
    m.apply(ceph_obs(true, Ok((CephHealth::Ok, &[])), 1));
    assert!(std::ptr::eq(m.ceph_shown().unwrap(), &m.ceph), "the CLI's view is the more complete one");
    assert_eq!(m.ceph_view().unwrap().flags, ["noout"]);
    let ceph: Vec<String> = m.sources(t(2)).into_iter().filter(|(p, _, _)| *p == PanelId::Ceph).map(|(_, n, _)| n).collect();
    assert_eq!(ceph, ["ceph", "rook"]);
    // the CLI fails: its last view stays shown until Rook reports something newer
    m.apply(ceph_obs(false, Ok((CephHealth::Ok, &["noout"])), 5));
    m.apply(ceph_obs(false, Err("ceph connect: no answer from the monitors within 5s"), 10));
    assert!(std::ptr::eq(m.ceph_shown().unwrap(), &m.ceph));
    m.apply(ceph_obs(true, Ok((CephHealth::Warn, &[])), 20));
    assert!(std::ptr::eq(m.ceph_shown().unwrap(), &m.rook));
    assert_eq!(m.ceph_view().unwrap().health, CephHealth::Warn);
    let (f, _) = m.panel_freshness(PanelId::Ceph, t(21));
    assert!(matches!(f, Freshness::Failed { .. }), "the failing CLI still shows: {f:?}");
    // one health change, recorded once, from the view shown
    let changes: Vec<&str> = m.timeline.iter().filter(|e| e.text.starts_with("ceph HEALTH")).map(|e| e.text.as_str()).collect();
    assert_eq!(changes, ["ceph HEALTH_OK -> HEALTH_WARN"]);
    // the CLI answers again: back to its view
    m.apply(ceph_obs(false, Ok((CephHealth::Warn, &[])), 30));
    assert!(std::ptr::eq(m.ceph_shown().unwrap(), &m.ceph));
    assert!(m.ceph.error.is_none());
}

fn warning(key: &str, reason: &str, object: &str, count: u32) -> KubeWarning {
    KubeWarning {
        key: key.into(),
        reason: reason.into(),
        object: object.into(),
        message: "0/3 nodes are available: 3 Insufficient cpu.".into(),
        count,
        last_seen: Some(t(0)),
        reporter: "default-scheduler".into(),
    }
}

fn warnings_obs(at: i64, r: Result<Vec<KubeWarning>, &str>) -> Observation {
    Observation { at: t(at), source: "kube".into(), budget_ms: 60_000, payload: Payload::KubeWarnings(r.map_err(String::from)) }
}

#[test]
fn warning_events_reach_the_timeline_once_each_and_the_first_list_as_one_line() {
    let mut m = model();
    let texts = |m: &Model| m.timeline.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
    let a = warning("kk/big.1", "FailedScheduling", "pod kk/big", 1);
    let n = warning("default/w2.1", "NodeNotReady", "node w2", 1);
    m.apply(warnings_obs(1, Ok(vec![a.clone(), n.clone()])));
    assert_eq!(
        texts(&m),
        [
            "2 Warning event(s) in the last hour; the newest: k8s Warning NodeNotReady node w2 [default-scheduler]: 0/3 nodes are available: 3 Insufficient cpu."
        ]
    );
    assert_eq!(m.timeline.iter().last().unwrap().panel, PanelId::Nodes);
    // the same list again: nothing new
    m.apply(warnings_obs(2, Ok(vec![a.clone(), n.clone()])));
    assert_eq!(m.timeline.len(), 1);
    // one counted up, one new: two lines
    let a2 = KubeWarning { count: 2, ..a.clone() };
    let b = warning("kk/big2.1", "FailedScheduling", "pod kk/big2", 1);
    m.apply(warnings_obs(3, Ok(vec![n.clone(), a2, b])));
    let t3 = texts(&m);
    assert_eq!(t3.len(), 3, "{t3:?}");
    assert!(t3[1].starts_with("k8s Warning FailedScheduling pod kk/big [default-scheduler]") && t3[1].ends_with("(x2)"), "{t3:?}");
    assert!(t3[2].starts_with("k8s Warning FailedScheduling pod kk/big2 "), "{t3:?}");
    assert_eq!(m.timeline.iter().last().unwrap().panel, PanelId::Platform);
    // the source failing and recovering is on the timeline too; the data stays
    m.apply(warnings_obs(4, Err("forbidden: events is forbidden")));
    assert!(texts(&m).last().unwrap().contains("warning events: forbidden"), "{:?}", texts(&m));
    assert_eq!(m.warnings.data.as_ref().map(Vec::len), Some(3));
    // where the timeline's warnings come from, and that the source fails now
    let src = m.sources(t(5)).into_iter().find(|(p, n, _)| *p == PanelId::Timeline && n == "warning events");
    assert!(src.is_some_and(|(_, _, f)| f.label().contains("fail")), "{:?}", m.sources(t(5)));
}

fn vrrp_failed(lb: &str, at: i64, why: &str) -> Observation {
    Observation {
        at: t(at),
        source: format!("ssh {lb}"),
        budget_ms: 3_000,
        payload: Payload::Vrrp { lb: lb.into(), result: Err(why.into()) },
    }
}

#[test]
fn an_lb_not_seen_is_unknown_never_not_holding() {
    let mut m = model();
    m.apply(vrrp("slb1", VrrpState::Master, true, 0));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 0));
    rest_seen(&mut m, 0);
    assert!(matches!(m.vip_verdict(t(1)), VipVerdict::Held { ref holder, ref unseen } if holder == "slb1" && unseen.is_empty()));

    // the holder's probe times out; slb2 still answers "not holding"
    m.apply(vrrp_failed("slb1", 2, "probe timed out after 3.0s"));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 2));
    rest_seen(&mut m, 2);
    let v = m.vip_verdict(t(2));
    let VipVerdict::Unknown { unseen } = &v else { panic!("{v:?}") };
    assert_eq!(unseen.len(), 1);
    assert_eq!(unseen[0].describe(), "slb1: probe timed out after 3.0s (held the VIP 2.0s ago)");
    let a = assess(&m, t(2));
    assert_eq!(a.level, HealthLevel::Unknown, "{:#?}", a.findings);
    assert_eq!(a.level.exit_code(), 3);
    assert!(!a.findings.iter().any(|f| f.message.contains("not held")), "{:#?}", a.findings);
    let f = a.findings.iter().find(|f| f.severity == Severity::Unknown).unwrap();
    assert_eq!(f.message, "VIP holder unknown: slb1: probe timed out after 3.0s (held the VIP 2.0s ago)");
    // a failing probe is no transition: the timeline has no VIP move
    assert!(
        !m.timeline.iter().any(|e| e.text.contains("VIP moved") || e.text.contains("VIP lost")),
        "{:?}",
        m.timeline.iter().collect::<Vec<_>>()
    );

    // slb1 answers again: held, known, healthy
    m.apply(vrrp("slb1", VrrpState::Master, true, 3));
    assert_eq!(assess(&m, t(3)).level, HealthLevel::Healthy);

    // the non-holder stops answering: the VIP is still known to be on slb1, and the panel says who is unseen
    m.apply(vrrp("slb1", VrrpState::Master, true, 10));
    rest_seen(&mut m, 10);
    let v = m.vip_verdict(t(10));
    let VipVerdict::Held { holder, unseen } = &v else { panic!("{v:?}") };
    assert_eq!(holder, "slb1");
    assert_eq!(unseen[0].lb, "slb2");
    assert!(unseen[0].reason.starts_with("no answer for"), "{:?}", unseen[0]);
    let a = assess(&m, t(10));
    assert_eq!(a.level, HealthLevel::Degraded, "the VIP's holder is known; slb2's silence is a warning: {:#?}", a.findings);
}

#[test]
fn not_held_needs_every_lb_fresh_and_split_brain_two_fresh_holders() {
    let mut m = model();
    m.apply(vrrp("slb1", VrrpState::Master, true, 0));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 0));
    // slb1 is cut off, then slb2 takes the VIP: one fresh holder and an unseen one is no split brain
    m.apply(vrrp_failed("slb1", 5, "ssh: connection refused"));
    m.apply(vrrp("slb2", VrrpState::Master, true, 5));
    rest_seen(&mut m, 5);
    let v = m.vip_verdict(t(5));
    assert!(matches!(&v, VipVerdict::Held { holder, unseen } if holder == "slb2" && unseen[0].held == Some(true)), "{v:?}");
    let a = assess(&m, t(5));
    assert!(!a.findings.iter().any(|f| f.message.contains("split brain")), "{:#?}", a.findings);
    // slb1 held the VIP when last seen: it may hold it still
    assert_eq!(a.level, HealthLevel::Unknown);
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Unknown
            && f.message.starts_with("VIP on slb2; a second holder cannot be ruled out: slb1: ssh: connection refused")),
        "{:#?}",
        a.findings
    );
    // both seen holding it now: split brain
    m.apply(vrrp("slb1", VrrpState::Master, true, 6));
    m.apply(vrrp("slb2", VrrpState::Master, true, 6));
    assert!(matches!(m.vip_verdict(t(6)), VipVerdict::SplitBrain { ref holders, .. } if holders.len() == 2));
    assert_eq!(assess(&m, t(6)).level, HealthLevel::Critical);
    // both seen, neither holds it: not held, critical
    m.apply(vrrp("slb1", VrrpState::Backup, false, 7));
    m.apply(vrrp("slb2", VrrpState::Fault, false, 7));
    rest_seen(&mut m, 7);
    assert_eq!(m.vip_verdict(t(7)), VipVerdict::NotHeld);
    let a = assess(&m, t(7));
    assert!(a.findings.iter().any(|f| f.severity == Severity::Critical && f.message.starts_with("VIP is not held")), "{:#?}", a.findings);
    // a BACKUP still holding the address beside the new MASTER: a hand-over, info
    m.apply(vrrp("slb1", VrrpState::Master, true, 8));
    m.apply(vrrp("slb2", VrrpState::Backup, true, 8));
    rest_seen(&mut m, 8);
    assert!(matches!(m.vip_verdict(t(8)), VipVerdict::HandingOver { ref to, .. } if to == "slb1"));
    let a = assess(&m, t(8));
    assert_eq!(a.level, HealthLevel::Healthy, "{:#?}", a.findings);
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Info && f.message == "VIP handing over to slb1: slb2 (BACKUP) still lets it go")
    );
}

#[test]
fn etcd_and_nodes_not_seen_are_unknown_with_the_reason_and_the_age() {
    let mut m = model();
    m.apply(vrrp("slb1", VrrpState::Master, true, 0));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 0));
    rest_seen(&mut m, 0);
    m.apply(Observation {
        at: t(4),
        source: "etcd grpc".into(),
        budget_ms: 3_000,
        payload: Payload::Etcd(Err("context deadline exceeded".into())),
    });
    m.apply(vrrp("slb1", VrrpState::Master, true, 4));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 4));
    m.apply(Observation { at: t(4), source: "kube".into(), budget_ms: 5_000, payload: Payload::Nodes(Ok(vec![])) });
    let a = assess(&m, t(4));
    assert_eq!(a.level, HealthLevel::Unknown);
    let f = a.findings.iter().find(|f| f.panel == PanelId::Etcd).unwrap();
    assert_eq!(
        (f.severity, f.message.as_str()),
        (Severity::Unknown, "etcd quorum unknown: context deadline exceeded (last seen 4.0s ago)")
    );
    // a known critical outranks an unknown
    m.apply(vrrp("slb1", VrrpState::Backup, false, 4));
    assert_eq!(assess(&m, t(4)).level, HealthLevel::Critical);
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    t(0) + Duration::milliseconds(ms)
}

fn vrrp_ms(lb: &str, state: VrrpState, holds: bool, ms: i64) -> Observation {
    Observation { at: at_ms(ms), ..vrrp(lb, state, holds, 0) }
}

#[test]
fn a_planned_failover_and_its_restore_are_planned_and_a_brief_two_holder_window_is_info() {
    let mut m = model();
    m.apply(vrrp_ms("slb1", VrrpState::Master, true, 0));
    m.apply(vrrp_ms("slb2", VrrpState::Backup, false, 0));
    rest_seen(&mut m, 0);
    m.begin_planned("op 1", "failover", &[PanelId::Vip, PanelId::Haproxy], &[], at_ms(1_000));
    // slb2 takes the VIP before slb1 lets it go: two holders for 400 ms
    m.apply(vrrp_ms("slb2", VrrpState::Master, true, 2_000));
    assert!(!m.timeline.iter().any(|e| e.text.contains("SPLIT")), "{:?}", m.timeline.iter().collect::<Vec<_>>());
    let a = assess(&m, at_ms(2_000));
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Info && f.message == "VIP on slb1 and slb2 for 0.0s (failover, planned)"),
        "{:#?}",
        a.findings
    );
    assert!(!a.findings.iter().any(|f| f.message.contains("split brain")));
    m.apply(vrrp_ms("slb1", VrrpState::Backup, false, 2_400));
    let texts: Vec<(Severity, String)> = m.timeline.iter().map(|e| (e.severity, e.text.clone())).collect();
    assert!(texts.contains(&(Severity::Info, "VIP was on slb1 and slb2 for 0.4s (failover, planned)".into())), "{texts:?}");
    assert!(texts.contains(&(Severity::Info, "VIP moved slb1 -> slb2 (failover, planned)".into())), "{texts:?}");
    assert!(texts.contains(&(Severity::Info, "keepalived slb1 MASTER -> BACKUP (failover, planned)".into())), "{texts:?}");
    m.end_planned("op 1", at_ms(3_000));

    // the restore, later: the move back is planned too
    m.begin_planned("op 2", "restore", &[PanelId::Vip, PanelId::Haproxy], &[], at_ms(60_000));
    m.apply(vrrp_ms("slb1", VrrpState::Master, true, 61_000));
    m.apply(vrrp_ms("slb2", VrrpState::Backup, false, 61_000));
    let last: Vec<String> = m.timeline.iter().map(|e| e.text.clone()).collect();
    assert!(last.contains(&"VIP moved slb2 -> slb1 (restore, planned)".to_string()), "{last:?}");
    m.end_planned("op 2", at_ms(62_000));

    // an unplanned move, long after every window: alarms as before
    m.apply(vrrp_ms("slb1", VrrpState::Backup, false, 200_000));
    m.apply(vrrp_ms("slb2", VrrpState::Master, true, 200_000));
    let vip: Vec<(Severity, &str)> =
        m.timeline.newest().filter(|e| e.text.starts_with("VIP")).take(2).map(|e| (e.severity, e.text.as_str())).collect();
    assert_eq!(vip, [(Severity::Warn, "VIP moved slb1 -> slb2"), (Severity::Info, "VIP moved slb2 -> slb1 (restore, planned)")]);
}

#[test]
fn a_loss_is_said_when_a_later_look_still_finds_the_vip_on_no_host_and_a_gap_with_the_move() {
    let vip_events = |m: &Model| -> Vec<(Severity, String, i64)> {
        m.timeline.iter().filter(|e| e.text.starts_with("VIP")).map(|e| (e.severity, e.text.clone(), e.at.timestamp_millis())).collect()
    };
    let at_rest = || {
        let mut m = model();
        m.apply(vrrp_ms("slb1", VrrpState::Master, true, 0));
        m.apply(vrrp_ms("slb2", VrrpState::Backup, false, 0));
        rest_seen(&mut m, 0);
        m
    };
    // slb1 lets go at 10 s, slb2 is seen holding 480 ms later: a move with its gap, no loss
    let mut m = at_rest();
    m.apply(vrrp_ms("slb1", VrrpState::Backup, false, 10_000));
    assert!(vip_events(&m).is_empty(), "not said before a later look: {:?}", vip_events(&m));
    m.apply(vrrp_ms("slb2", VrrpState::Master, true, 10_480));
    assert_eq!(
        vip_events(&m),
        [(Severity::Warn, "VIP moved slb1 -> slb2 (on no host for 480 ms)".into(), at_ms(10_480).timestamp_millis())]
    );

    // a later look that still finds it on no host: the loss is said, stamped when it was lost,
    // and the take that ends it names whom it was taken from and the gap
    let mut m = at_rest();
    m.apply(vrrp_ms("slb1", VrrpState::Fault, false, 10_000));
    m.apply(vrrp_ms("slb2", VrrpState::Backup, false, 10_000));
    assert!(vip_events(&m).is_empty(), "looks at one instant confirm nothing: {:?}", vip_events(&m));
    m.apply(vrrp_ms("slb2", VrrpState::Backup, false, 11_000));
    let lost = (Severity::Critical, "VIP lost: was on slb1, now on no host".to_string(), at_ms(10_000).timestamp_millis());
    assert_eq!(vip_events(&m), std::slice::from_ref(&lost));
    m.apply(vrrp_ms("slb1", VrrpState::Fault, false, 12_000));
    assert_eq!(vip_events(&m), std::slice::from_ref(&lost), "said once");
    assert_eq!(assess(&m, at_ms(12_000)).level, HealthLevel::Critical, "the finding does not wait for the timeline");
    m.apply(vrrp_ms("slb2", VrrpState::Master, true, 14_000));
    assert_eq!(vip_events(&m)[1].1, "VIP moved slb1 -> slb2 (on no host for 4.0s)");
}

#[test]
fn a_two_holder_window_that_outlasts_the_brief_limit_is_a_split_brain_after_all() {
    let mut m = model();
    m.apply(vrrp_ms("slb1", VrrpState::Master, true, 0));
    m.apply(vrrp_ms("slb2", VrrpState::Backup, false, 0));
    rest_seen(&mut m, 0);
    m.begin_planned("fault split-brain", "fault split-brain", &[PanelId::Vip], &[], at_ms(500));
    m.apply(vrrp_ms("slb2", VrrpState::Master, true, 4_000));
    m.apply(vrrp_ms("slb1", VrrpState::Master, true, 4_000));
    rest_seen(&mut m, 4);
    assert_eq!(assess(&m, at_ms(4_000)).level, HealthLevel::Healthy, "{:#?}", assess(&m, at_ms(4_000)).findings);
    m.apply(vrrp_ms("slb2", VrrpState::Master, true, 9_500));
    m.apply(vrrp_ms("slb1", VrrpState::Master, true, 9_500));
    rest_seen(&mut m, 9);
    let e = m.timeline.newest().next().unwrap();
    assert_eq!(
        (e.severity, e.text.as_str()),
        (Severity::Critical, "SPLIT BRAIN: VIP on slb1 and slb2 for 5.5s (during fault split-brain)")
    );
    let a = assess(&m, at_ms(9_500));
    assert_eq!(a.level, HealthLevel::Critical, "{:#?}", a.findings);
    assert!(a.findings.iter().any(|f| f.message == "split brain: VIP held by slb1 and slb2"));
}

fn ha_config(host: &str, keepalived: &str, at: i64) -> Observation {
    let conf =
        crate::hacfg::parse_keepalived(&[crate::hacfg::Source { name: format!("/etc/keepalived/{host}.conf"), text: keepalived.into() }])
            .unwrap();
    let view = HaConfigView { keepalived: Some(conf), tools: vec!["pidof".into()], ..HaConfigView::default() };
    Observation {
        at: t(at),
        source: format!("ssh {host}"),
        budget_ms: 180_000,
        payload: Payload::HaConfig { host: host.into(), result: Ok(Box::new(view)) },
    }
}

/// slb1 and slb2 with the tutorial's keepalived.conf (priority 100 each, chk_haproxy 3 s x fall 10,
/// weight -2), slb1 holding the VIP, its haproxy up.
fn tutorial_pair_at_rest(m: &mut Model) {
    let tutorial = |p: &str| std::fs::read_to_string(format!("{}/tests/fixtures/hacfg/tutorial/{p}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    m.apply(ha_config("slb1", &tutorial("m1.conf"), 0));
    m.apply(ha_config("slb2", &tutorial("m2.conf"), 0));
    m.apply(vrrp("slb1", VrrpState::Master, true, 0));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 0));
    m.apply(haproxy("slb1", &[("master1", "UP")], 0));
}

#[test]
fn haproxy_dead_on_the_holder_says_what_keepalived_will_do_from_its_own_configuration() {
    let mut m = model();
    tutorial_pair_at_rest(&mut m);
    m.apply(haproxy("slb2", &[("master1", "UP")], 0));
    rest_seen(&mut m, 0);
    let a = assess(&m, t(0));
    // the configuration's own risks, as notes and warnings, never an outage
    let codes: Vec<&str> = a.findings.iter().filter(|f| f.message.starts_with("keepalived ")).map(|f| f.message.as_str()).collect();
    assert!(codes.iter().any(|c| c.starts_with("keepalived slow-check: chk_haproxy: 3 s x fall 10 = 30 s")), "{codes:#?}");
    assert!(codes.iter().any(|c| c.starts_with("keepalived missing-check-tool")), "killall is not among the host's tools: {codes:#?}");
    assert!(!a.findings.iter().any(|f| f.severity == Severity::Critical), "{:#?}", a.findings);
    assert!(!a.findings.iter().any(|f| f.message.starts_with("predicted")));

    // haproxy dies on slb1, which holds the VIP
    m.apply(Observation {
        at: t(1),
        source: "ssh slb1".into(),
        budget_ms: 3_000,
        payload: Payload::Haproxy {
            lb: "slb1".into(),
            result: Err("haproxy: cannot read haproxy's socket /run/haproxy/admin.sock (plan): Connection refused".into()),
        },
    });
    m.apply(vrrp("slb1", VrrpState::Master, true, 1));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 1));
    rest_seen(&mut m, 1);
    let a = assess(&m, t(1));
    let p = a.findings.iter().find(|f| f.message.starts_with("predicted: ")).unwrap_or_else(|| panic!("{:#?}", a.findings));
    assert_eq!(p.severity, Severity::Critical);
    assert!(p.message.contains("haproxy dead on slb1, which holds the VIP") && p.message.contains("~30 s"), "{}", p.message);
    assert!(p.message.contains("100 -> 98"), "{}", p.message);
}

#[test]
fn the_tools_said_missing_are_the_tools_the_hosts_are_asked_about() {
    let asked = format!("for t in {}; do", hacheck::PROBED_TOOLS.join(" "));
    assert!(crate::transport::scripts::HA_CONFIG_SCRIPT.contains(&asked), "{asked}");
    // a check script of the host's own (not among them) is never called missing
    let mut m = model();
    let conf = "vrrp_script chk { script \"/usr/local/bin/check-haproxy.sh\" }\nvrrp_instance VI_1 {\n state BACKUP\n priority 100\n track_script { chk }\n}\n";
    m.apply(ha_config("slb1", conf, 0));
    let a = assess(&m, t(0));
    assert!(!a.findings.iter().any(|f| f.message.contains("missing-check-tool")), "{:#?}", a.findings);
}

#[test]
fn a_prediction_is_made_once_and_checked_against_the_move() {
    let mut m = model();
    tutorial_pair_at_rest(&mut m);
    assert!(m.prediction.is_none());
    let dead = |at| Observation {
        at: t(at),
        source: "ssh slb1".into(),
        budget_ms: 3_000,
        payload: Payload::Haproxy {
            lb: "slb1".into(),
            result: Err("haproxy: cannot read haproxy's socket /run/haproxy/admin.sock (plan): Connection refused".into()),
        },
    };
    m.apply(dead(1));
    let p = m.prediction.clone().expect("predicted");
    // check_haproxy 3 s x fall 10, then slb2 takes over when its master-down timer ends (3 x 1 s + skew)
    assert_eq!((p.holder.as_str(), p.after.as_deref(), p.moves, p.within_s), ("slb1", Some("slb2"), true, 30.0 + 3.0 + 156.0 / 256.0));
    let n = m.timeline.iter().filter(|e| e.text.starts_with("predicted: haproxy dead on slb1")).count();
    m.apply(dead(2));
    m.apply(vrrp("slb1", VrrpState::Master, true, 2));
    assert_eq!(m.timeline.iter().filter(|e| e.text.starts_with("predicted: haproxy dead on slb1")).count(), n, "made once");
    assert_eq!(n, 1);
    // 31 s later keepalived gives the VIP up and slb2 takes it
    m.apply(vrrp("slb1", VrrpState::Backup, false, 32));
    m.apply(vrrp("slb2", VrrpState::Master, true, 32));
    let e = m
        .timeline
        .iter()
        .find(|e| e.text.starts_with("VIP moved slb1 -> slb2 (as predicted"))
        .unwrap_or_else(|| panic!("{:?}", m.timeline.iter().map(|e| &e.text).collect::<Vec<_>>()));
    assert!(e.text.ends_with("(as predicted: slb2 within ~34 s; took 31.0 s since haproxy was seen dead)"), "{}", e.text);
    assert!(m.prediction.is_none());
    // the same move, taking far longer than the configuration's bound, is called late
    let mut m = model();
    tutorial_pair_at_rest(&mut m);
    m.apply(dead(1));
    m.apply(vrrp("slb1", VrrpState::Backup, false, 60));
    m.apply(vrrp("slb2", VrrpState::Master, true, 60));
    let texts: Vec<&String> = m.timeline.iter().map(|e| &e.text).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with("(as predicted, but LATER than predicted: slb2 within ~34 s; took 59.0 s since haproxy was seen dead)")),
        "{texts:?}"
    );
}

#[test]
fn a_source_the_plan_expects_is_waiting_until_it_answers() {
    let mut m = model();
    let waiting = |m: &Model| -> Vec<String> {
        m.sources(t(1)).into_iter().filter(|(_, _, f)| matches!(f, Freshness::Waiting)).map(|(_, n, _)| n).collect()
    };
    let lbs: Vec<String> = m.plan.keepalived_hosts().iter().map(|h| h.name.clone()).collect();
    assert!(!lbs.is_empty());
    let w = waiting(&m);
    for lb in &lbs {
        assert!(w.contains(&format!("keepalived {lb}")) && w.contains(&format!("haproxy {lb}")), "{w:?}");
    }
    for h in m.plan.masters() {
        assert!(w.contains(&format!("readyz {}", h.name)) && w.contains(&format!("certs {}", h.name)), "{w:?}");
    }
    assert!(w.contains(&"vip probe".to_string()), "{w:?}");
    assert!(!w.iter().any(|n| n == "ceph"), "no [ceph] section, no ceph source expected: {w:?}");
    m.apply(vrrp(&lbs[0], VrrpState::Master, true, 0));
    assert!(!waiting(&m).contains(&format!("keepalived {}", lbs[0])));
    // a host the plan does not name, heard anyway, is listed too
    m.apply(vrrp("stray", VrrpState::Backup, false, 0));
    assert!(m.sources(t(1)).iter().any(|(_, n, _)| n == "keepalived stray"));
}

#[test]
fn a_source_still_silent_after_the_deadline_is_unknown_and_named() {
    let mut m = model();
    let lbs: Vec<String> = m.plan.keepalived_hosts().iter().map(|h| h.name.clone()).collect();
    rest_seen(&mut m, 5);
    // before any deadline, a silent source is only waiting
    let silent = |a: &Assessment| a.findings.iter().filter(|f| f.message.contains("no answer in time")).count();
    assert_eq!(silent(&assess(&m, t(1))), 0);
    m.meta.answer_by = Some(t(5));
    assert_eq!(silent(&assess(&m, t(1))), 0, "not yet");
    let a = assess(&m, t(6));
    let f = a.findings.iter().find(|f| f.message == format!("keepalived {}: no answer in time (neither data nor an error)", lbs[0]));
    assert_eq!(f.map(|f| f.severity), Some(Severity::Unknown), "{:#?}", a.findings);
    assert_eq!(a.level, HealthLevel::Unknown);
    assert_eq!(a.level.exit_code(), 3);
}

#[test]
fn a_carrier_that_never_answered_is_unseen_so_the_vip_is_never_said_not_held() {
    let mut m = model();
    let lbs: Vec<String> = m.plan.keepalived_hosts().iter().map(|h| h.name.clone()).collect();
    assert!(lbs.len() >= 2);
    // only the first LB answered, not holding: the other may hold it
    m.apply(vrrp(&lbs[0], VrrpState::Backup, false, 0));
    match m.vip_verdict(t(1)) {
        VipVerdict::Unknown { unseen } => {
            assert_eq!((unseen[0].lb.as_str(), unseen[0].reason.as_str()), (lbs[1].as_str(), "no answer yet"))
        }
        v => panic!("{v:?}"),
    }
    m.apply(vrrp(&lbs[1], VrrpState::Master, true, 1));
    assert_eq!(m.vip_verdict(t(1)), VipVerdict::Held { holder: lbs[1].clone(), unseen: vec![] });
}

#[test]
fn no_prediction_until_every_peer_configuration_is_read() {
    let mut m = model();
    let tutorial = |p: &str| std::fs::read_to_string(format!("{}/tests/fixtures/hacfg/tutorial/{p}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    m.apply(ha_config("slb1", &tutorial("m1.conf"), 0));
    m.apply(vrrp("slb1", VrrpState::Master, true, 0));
    m.apply(vrrp("slb2", VrrpState::Backup, false, 0));
    m.apply(haproxy("slb1", &[("master1", "UP")], 0));
    let dead = Observation {
        at: t(1),
        source: "ssh slb1".into(),
        budget_ms: 3_000,
        payload: Payload::Haproxy {
            lb: "slb1".into(),
            result: Err("haproxy: haproxy is not running (no haproxy process on this host)".into()),
        },
    };
    m.apply(dead);
    assert!(m.prediction.is_none(), "slb2's keepalived.conf is not read yet: {:?}", m.prediction);
    // it arrives: now the prediction, with both peers
    m.apply(ha_config("slb2", &tutorial("m2.conf"), 1));
    let p = m.prediction.clone().expect("predicted once every peer is read");
    assert_eq!((p.holder.as_str(), p.after.as_deref()), ("slb1", Some("slb2")));
}

#[test]
fn the_same_failure_repeated_stays_current() {
    let mut m = model();
    let refused = |at| Observation {
        at: t(at),
        source: "ssh slb1".into(),
        budget_ms: 3_000,
        payload: Payload::Haproxy { lb: "slb1".into(), result: Err("haproxy: cannot read haproxy's socket /x: Connection refused".into()) },
    };
    m.apply(refused(1));
    m.apply(refused(20));
    let e = m.haproxy["slb1"].error.clone().unwrap();
    assert_eq!((e.at, e.last), (t(1), t(20)), "failing since 1, last failed at 20");
    assert!(crate::model::hacheck::haproxy_dead(&m, "slb1", t(21)), "a failure seen a second ago is current");
    assert!(!crate::model::hacheck::haproxy_dead(&m, "slb1", t(40)), "one not seen again for 20 s is not");
}

#[test]
fn a_topology_without_keepalived_has_no_vip_to_wait_for() {
    let mut m = model();
    assert_eq!(m.vip_verdict(t(0)), VipVerdict::Waiting, "keepalived hosts planned, none heard yet");
    m.plan.topology.load_balancer = crate::inventory::LbTopology::LocalProxy;
    assert_eq!(m.vip_verdict(t(0)), VipVerdict::NoVip);
    assert_eq!(serde_json::to_value(m.vip_verdict(t(0))).unwrap()["verdict"], "no_vip");
}

#[test]
fn without_a_host_plan_etcd_is_judged_by_its_static_pods_and_no_nodes_is_not_healthy() {
    let plan = Plan::from_kubeconfig("lab", "https://10.0.0.100:6443", None, None);
    let mut m = Model::new(plan, Mode::Live, "lab");
    let obs = |payload: Payload| Observation { at: t(0), source: "kube".into(), budget_ms: 30_000, payload };
    m.apply(obs(Payload::Nodes(Ok(vec![]))));
    m.apply(obs(Payload::Leases(Ok(vec![]))));
    let h = assess(&m, t(1));
    assert!(h.findings.iter().any(|f| f.message == "etcd quorum unknown: no answer yet"), "{:?}", h.findings);
    assert!(h.findings.iter().any(|f| f.severity == Severity::Warn && f.message.starts_with("the API lists no nodes")), "{:?}", h.findings);
    let pod = |node: &str, ready: bool| apiview::StaticPod {
        name: format!("etcd-{node}"),
        node: node.into(),
        phase: "Running".into(),
        ready,
        restarts: 0,
        started: None,
        endpoint: String::new(),
    };
    let view = apiview::ControlPlaneView { etcd: vec![pod("m1", true), pod("m2", false), pod("m3", false)], ..Default::default() };
    m.apply(obs(Payload::ControlPlane(Ok(view))));
    let h = assess(&m, t(1));
    assert_eq!(h.level, HealthLevel::Critical, "{:?}", h.findings);
    assert!(h.findings.iter().any(|f| f.message.starts_with("etcd quorum at risk: 1 of 3")), "{:?}", h.findings);
    assert!(!h.findings.iter().any(|f| f.message.contains("etcd quorum unknown")), "{:?}", h.findings);
    let (fresh, _) = m.panel_freshness(PanelId::Etcd, t(1));
    assert!(fresh.is_fresh(), "the etcd panel's source is the static pods");
}

#[test]
fn without_a_host_plan_a_served_certificate_from_another_ca_is_not_the_apiservers() {
    let mut plan = Plan::from_kubeconfig("lab", "https://10.0.0.100:6443", None, None);
    if let crate::inventory::PlanSource::Kubeconfig { ca_subject, .. } = &mut plan.source {
        *ca_subject = Some("CN=kubernetes".into());
    }
    let mut m = Model::new(plan, Mode::Live, "lab");
    let cert = |issuer: &str| CertInfo {
        name: "apiserver (served) via endpoint".into(),
        subject: "CN=kube-apiserver".into(),
        issuer: issuer.into(),
        sans: vec![],
        not_after: t(0) + Duration::days(300),
        is_ca: false,
    };
    let obs = |issuer: &str| Observation {
        at: t(0),
        source: "tls endpoint".into(),
        budget_ms: 180_000,
        payload: Payload::Certs { host: "endpoint".into(), result: Ok(vec![cert(issuer)]) },
    };
    m.apply(obs("CN=kubernetes"));
    assert!(!assess(&m, t(1)).findings.iter().any(|f| f.message.contains("kubeconfig's CA")));
    m.apply(obs("CN=sandboxing-egress-ca"));
    let h = assess(&m, t(1));
    let f = h.findings.iter().find(|f| f.message.contains("kubeconfig's CA")).expect("flagged");
    assert_eq!((f.severity, f.subject.as_str()), (Severity::Warn, "endpoint"));
    assert!(f.message.contains("issued by CN=sandboxing-egress-ca, not by the kubeconfig's CA (CN=kubernetes)"), "{}", f.message);
}

#[test]
fn dns_scaled_to_zero_is_critical_not_ready() {
    let mut m = model();
    rest_seen(&mut m, 0);
    let dns = |desired: u32| Workload {
        namespace: "kube-system".into(),
        kind: WorkloadKind::Deployment,
        name: "coredns".into(),
        desired,
        ready: desired,
        updated: desired,
        available: desired,
    };
    let obs = |w: Workload| Observation { at: t(0), source: "kube".into(), budget_ms: 5_000, payload: Payload::Workloads(Ok(vec![w])) };
    m.apply(obs(dns(2)));
    assert!(!assess(&m, t(1)).findings.iter().any(|f| f.message.contains("coredns")));
    m.apply(obs(dns(0)));
    let h = assess(&m, t(1));
    assert!(
        h.findings.iter().any(|f| f.severity == Severity::Critical && f.message == "deploy kube-system/coredns is scaled to 0"),
        "{:?}",
        h.findings
    );
}

#[test]
fn among_equally_severe_findings_the_costliest_leads() {
    // a master down: its host, its etcd member, its apiserver behind haproxy and its certificates all
    // say so; the header leads with what it costs (etcd can lose nothing more), not the first panel
    let (_, m) = crate::sim::settled_demo(&[crate::sim::Fault::KillMaster], 0, t(0), 12, Mode::Demo);
    let a = assess(&m, t(0));
    let serious: Vec<_> = a.findings.iter().filter(|f| f.severity >= Severity::Warn).collect();
    assert!(serious.len() > 3, "{serious:?}");
    assert_eq!(serious[0].panel, PanelId::Etcd, "{serious:?}");
    assert!(serious.iter().any(|f| f.panel == PanelId::Hosts), "the host's own finding is still listed: {serious:?}");
    let pos = |p: PanelId| serious.iter().position(|f| f.panel == p).unwrap();
    assert!(pos(PanelId::Haproxy) < pos(PanelId::Certs) && pos(PanelId::Certs) < pos(PanelId::Hosts), "{serious:?}");
    // a worse severity still goes first, whatever its panel
    let (_, m) = crate::sim::settled_demo(&[crate::sim::Fault::KillMaster, crate::sim::Fault::SplitBrain], 0, t(0), 12, Mode::Demo);
    let a = assess(&m, t(0));
    assert_eq!((a.findings[0].severity, a.findings[0].panel), (Severity::Critical, PanelId::Vip), "{:?}", a.findings[0]);
}

#[test]
fn with_several_faults_each_effect_is_put_down_to_the_fault_that_acts_on_what_it_names() {
    use crate::sim::Fault;
    for faults in [
        [Fault::KillMaster, Fault::OsdDown, Fault::StopKeepalivedOnOwner],
        [Fault::StopKeepalivedOnOwner, Fault::OsdDown, Fault::KillMaster],
    ] {
        let (_, m) = crate::sim::settled_demo(&faults, 0, t(0), 12, Mode::Demo);
        let texts: Vec<&str> = m.timeline.iter().map(|e| e.text.as_str()).collect();
        let by = |needle: &str| -> &str { texts.iter().find(|t| t.contains(needle)).unwrap_or_else(|| panic!("{needle} in {texts:#?}")) };
        assert!(by("master1: ssh").ends_with("(fault kill-master, planned)"), "{texts:#?}");
        assert!(by("slb1 master1 UP -> DOWN").ends_with("(fault kill-master, planned)"), "{texts:#?}");
        assert!(by("etcd member master1 down").ends_with("(fault kill-master, planned)"), "{texts:#?}");
        assert!(by("keepalived slb1 MASTER -> STOPPED").ends_with("(fault stop-keepalived, planned)"), "{texts:#?}");
        // names neither: the fault over fewer panels explains a VIP change, whichever came last
        assert!(by("keepalived slb2 BACKUP -> MASTER").ends_with("(fault stop-keepalived, planned)"), "{texts:#?}");
        assert!(by("ceph HEALTH_OK").ends_with("(fault osd-down, planned)"), "{texts:#?}");
    }
}

#[test]
fn a_cut_link_explains_only_sight_lost_an_operation_ends_the_grace_of_the_one_before_and_heal_ends_the_faults() {
    use crate::sim::Fault;
    let find = |m: &Model, needle: &str| -> String {
        m.timeline
            .iter()
            .map(|e| e.text.clone())
            .find(|t| t.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in {:#?}", m.timeline.iter().map(|e| &e.text).collect::<Vec<_>>()))
    };
    let (_, m) = crate::sim::settled_demo(&[Fault::StopKeepalivedOnOwner, Fault::CutSshToOwner], 0, t(0), 12, Mode::Demo);
    assert!(find(&m, "keepalived slb1 MASTER -> STOPPED").ends_with("(fault stop-keepalived, planned)"));
    assert!(find(&m, "VIP moved slb1 -> slb2").ends_with("(fault stop-keepalived, planned)"));
    let (_, m) = crate::sim::settled_demo(&[Fault::CutSshToOwner, Fault::KillHaproxyOnOwner], 0, t(0), 12, Mode::Demo);
    assert!(find(&m, "probe timed out").ends_with("(fault cut-ssh-owner, planned)"), "the cut explains the sight lost");
    let (_, m) = crate::sim::settled_demo(&[Fault::SplitBrain, Fault::CutSshToOwner], 0, t(0), 12, Mode::Demo);
    assert!(find(&m, "keepalived slb2 BACKUP -> MASTER").ends_with("(fault split-brain, planned)"));

    // two faults on one LB: each explains what its kind of fault changes
    for faults in [[Fault::StopKeepalivedOnOwner, Fault::KillHaproxyOnOwner], [Fault::KillHaproxyOnOwner, Fault::StopKeepalivedOnOwner]] {
        let (_, m) = crate::sim::settled_demo(&faults, 0, t(0), 12, Mode::Demo);
        assert!(find(&m, "keepalived slb1 MASTER -> STOPPED").ends_with("(fault stop-keepalived, planned)"), "{faults:?}");
        if faults[0] == Fault::KillHaproxyOnOwner {
            assert!(find(&m, "slb1: haproxy").ends_with("(fault kill-haproxy, planned)"), "{faults:?}");
        }
    }
    // a restore right after a failover: what follows is the restore's
    let mut m = model();
    m.begin_planned("op 1", "failover", &[PanelId::Vip, PanelId::Haproxy], &["slb2".into(), "slb1".into()], t(0));
    m.end_planned("op 1", t(5));
    m.begin_planned("op 2", "restore", &[PanelId::Vip, PanelId::Haproxy], &["slb1".into()], t(10));
    assert_eq!(m.planned_for(PanelId::Vip, t(11), "keepalived slb2 MASTER -> BACKUP", false), Some("restore"));
    // heal: the faults' windows end where it begins
    m.end_planned("op 2", t(12));
    // a fault in the restore's grace: what follows is the fault's
    m.begin_planned("fault kill-haproxy", "fault kill-haproxy", &[PanelId::Vip, PanelId::Haproxy], &["slb2".into()], t(15));
    assert_eq!(m.planned_for(PanelId::Vip, t(16), "keepalived slb1 BACKUP -> MASTER", false), Some("fault kill-haproxy"));
    m.begin_planned("fault stop-keepalived", "fault stop-keepalived", &[PanelId::Vip], &["slb1".into()], t(40));
    m.begin_planned("fault heal", "fault heal", &PanelId::ALL, &[], t(50));
    assert_eq!(m.planned_for(PanelId::Vip, t(51), "keepalived slb1 STOPPED -> BACKUP", false), Some("fault heal"));
}

#[test]
fn a_failed_stream_is_on_the_timeline_once_and_again_when_it_is_back() {
    let mut m = model();
    let with = |source: &str, at: i64| Observation { source: source.into(), ..haproxy("slb1", &[("m1", "UP")], at) };
    let stream_events =
        |m: &Model| m.timeline.iter().filter(|e| e.text.starts_with("haproxy slb1: ")).map(|e| e.text.clone()).collect::<Vec<_>>();
    m.apply(with("ssh slb1: /run/haproxy/admin.sock; haproxy stats socket and haproxy log streamed", 1));
    assert!(stream_events(&m).is_empty());
    // one part fails, the other still streams: said once, however often it is polled
    let partial = "ssh slb1: /run/haproxy/admin.sock; haproxy log streamed; haproxy stats socket watch FAILED: haproxy's socket: connect: Connection refused";
    for at in 2..5 {
        assert_eq!(m.apply(with(partial, at)), at == 2, "the timeline changes once");
    }
    assert_eq!(stream_events(&m), ["haproxy slb1: haproxy stats socket watch FAILED: haproxy's socket: connect: Connection refused"]);
    // the failed part not streaming (haproxy gone), or another part's event: not back yet
    m.apply(with("ssh slb1: /run/haproxy/admin.sock; haproxy log streamed; haproxy stats socket not streamed: haproxy is not running", 5));
    m.apply(with("ssh slb1: /run/haproxy/admin.sock; haproxy log event; haproxy stats socket not streamed: haproxy is not running", 5));
    m.apply(with("ssh slb1: /run/haproxy/admin.sock; haproxy log event", 5));
    assert_eq!(stream_events(&m).len(), 1, "{:?}", stream_events(&m));
    m.apply(with("ssh slb1: /run/haproxy/admin.sock; haproxy stats event", 5));
    assert_eq!(stream_events(&m).last().map(String::as_str), Some("haproxy slb1: streaming again"));
    // all of it fails: polled every 0.5 s, and the event says so
    m.apply(with("ssh slb1: /run/haproxy/admin.sock; ssh stream FAILED: log stream ended: exit status 143; polling every 0.5 s", 6));
    assert_eq!(
        stream_events(&m).last().map(String::as_str),
        Some("haproxy slb1: ssh stream FAILED: log stream ended: exit status 143; polling every 0.5 s")
    );
    // a look while the streams start again says nothing; streaming again is said when it streams
    m.apply(with("ssh slb1: /run/haproxy/admin.sock", 7));
    assert_eq!(stream_events(&m).len(), 3);
    m.apply(with("ssh slb1: /run/haproxy/admin.sock; haproxy stats socket and haproxy log streamed", 8));
    assert_eq!(stream_events(&m).len(), 4);
    assert!(m.timeline.iter().filter(|e| e.text.contains("FAILED")).all(|e| e.severity == Severity::Warn));
}

#[test]
fn a_state_without_keepalived_s_own_transition_time_keeps_its_age_from_the_looks() {
    let mut m = model();
    let lt = |m: &Model| m.vrrp.get("slb1").and_then(|s| s.data.as_ref()).and_then(|v| v.last_transition);
    m.apply(vrrp("slb1", VrrpState::Master, true, 1));
    assert_eq!(lt(&m), None, "first look, no time given: unknown");
    m.apply(vrrp("slb1", VrrpState::Stopped, false, 5));
    assert_eq!(lt(&m), Some(t(5)), "the look that saw the change");
    m.apply(vrrp("slb1", VrrpState::Stopped, false, 9));
    assert_eq!(lt(&m), Some(t(5)), "unchanged since");
    // keepalived's own time wins
    let mut own = vrrp("slb1", VrrpState::Backup, false, 12);
    if let Payload::Vrrp { result: Ok(v), .. } = &mut own.payload {
        v.last_transition = Some(t(11));
    }
    m.apply(own);
    assert_eq!(lt(&m), Some(t(11)));
}
