use super::*;
use crate::model::{HealthLevel, Mode, Model, assess};
use crate::ops::WriteCap;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// Run the simulation for `secs` in 100 ms steps, feeding a model like the app does.
fn run(sim: &mut SimCluster, m: &mut Model, from: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    let steps = (secs * 10.0).round() as i64;
    let mut now = from;
    for _ in 0..steps {
        now += Duration::milliseconds(100);
        sim.step(now);
        for o in sim.observe(now) {
            m.apply(o);
        }
    }
    now
}

fn fresh() -> (SimCluster, Model, DateTime<Utc>) {
    let sim = SimCluster::demo(t0());
    let m = Model::new(sim.plan().clone(), Mode::Demo, "demo");
    (sim, m, t0())
}

#[test]
fn demo_starts_healthy_except_the_old_kernel() {
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 1.0);
    let a = assess(&m, now);
    assert_eq!(a.level, HealthLevel::Degraded, "{:#?}", a.findings);
    // the one problem; the rest are the notes on the demo LBs' HA configuration (lint at Info)
    let problems: Vec<_> = a.findings.iter().filter(|f| f.severity > crate::model::Severity::Info).collect();
    assert_eq!(problems.len(), 1, "{:#?}", a.findings);
    assert!(problems.iter().all(|f| f.subject == "master3"));
    assert!(
        a.findings
            .iter()
            .filter(|f| f.severity == crate::model::Severity::Info)
            .all(|f| f.message.starts_with("keepalived ") || f.message.starts_with("haproxy "))
    );
    assert_eq!(m.vip_holders(), vec!["slb1"]);
    assert_eq!(m.nodes.data.as_ref().unwrap().len(), 6);
}

#[test]
fn stopping_keepalived_on_the_owner_moves_the_vip_in_half_a_second() {
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.inject(Fault::StopKeepalivedOnOwner, now);
    let now = run(&mut sim, &mut m, now, 0.3);
    assert!(m.vip_holders().is_empty());
    run(&mut sim, &mut m, now, 0.4);
    assert_eq!(m.vip_holders(), vec!["slb2"]);
    assert!(
        m.timeline.iter().any(|e| e.text == "VIP moved slb1 -> slb2 (on no host for 500 ms)"),
        "{:?}",
        m.timeline.iter().map(|e| &e.text).collect::<Vec<_>>()
    );
}

#[test]
fn split_brain_after_the_master_down_interval() {
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.inject(Fault::SplitBrain, now);
    let now = run(&mut sim, &mut m, now, 3.0);
    assert_eq!(m.vip_holders(), vec!["slb1"], "backup still waiting for the master-down interval");
    let now = run(&mut sim, &mut m, now, 1.0);
    assert_eq!(m.vip_holders(), vec!["slb1", "slb2"]);
    assert_eq!(assess(&m, now).level, HealthLevel::Critical);
    sim.inject(Fault::HealAll, now);
    let now = run(&mut sim, &mut m, now, 0.5);
    assert_eq!(m.vip_holders(), vec!["slb1"], "the higher priority wins when both advertise again");
    let _ = now;
}

#[test]
fn killed_master_goes_down_everywhere_with_measured_timings() {
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    let leader_before = m.etcd.data.as_ref().unwrap().leader().unwrap().name.clone();
    sim.inject(Fault::KillMaster, now);
    let now = run(&mut sim, &mut m, now, 1.5);
    let servers = &m.haproxy["slb1"].data.as_ref().unwrap();
    let s = servers.iter().find(|b| b.server == leader_before).unwrap();
    assert_eq!(s.status, ServerStatus::GoingDown, "one failed check: UP 1/2");
    let now = run(&mut sim, &mut m, now, 1.0);
    for lb in ["slb1", "slb2"] {
        let s = m.haproxy[lb].data.as_ref().unwrap().iter().find(|b| b.server == leader_before).unwrap().clone();
        assert_eq!(s.status, ServerStatus::Down, "{lb}");
    }
    let e = m.etcd.data.as_ref().unwrap();
    assert_ne!(e.leader().unwrap().name, leader_before, "new etcd leader elected");
    assert_eq!(e.can_lose(), 0);
    assert!(m.hosts[&leader_before].error.is_some(), "host unreachable over ssh");
    let a = assess(&m, now);
    assert_eq!(a.level, HealthLevel::Degraded);
    // After 40 s the node goes NotReady/Unknown.
    let now = run(&mut sim, &mut m, now, 40.0);
    assert_eq!(m.node(&leader_before).unwrap().ready, None);
    let _ = now;
}

#[test]
fn nospace_osd_and_cert_faults_show_up() {
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.inject(Fault::EtcdNospace, now);
    sim.inject(Fault::OsdDown, now);
    sim.inject(Fault::CertExpiring, now);
    let now = run(&mut sim, &mut m, now, 7.0);
    let a = assess(&m, now);
    let msgs: Vec<&str> = a.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("etcd alarm NOSPACE")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.starts_with("OSD_DOWN")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.starts_with("PG_DEGRADED")), "{msgs:?}");
    assert!(
        msgs.iter().any(|m| m.contains("master1 apiserver expires in 4d") || m.contains("master1 apiserver expires in 5d")),
        "{msgs:?}"
    );
    assert_eq!(a.level, HealthLevel::Critical);
    assert!(m.timeline.iter().any(|e| e.text.starts_with("ceph HEALTH_OK -> HEALTH_WARN")));
}

fn finish(sim: &mut SimCluster, m: &mut Model, mut now: DateTime<Utc>, id: u64) -> (DateTime<Utc>, Vec<OpEvent>) {
    let mut events = vec![];
    for _ in 0..600 {
        now = run(sim, m, now, 0.1);
        events.extend(sim.drain_op_events());
        if events.iter().any(|e| matches!(e, OpEvent::Finished { id: i, .. } if *i == id)) {
            return (now, events);
        }
    }
    panic!("operation {id} did not finish: {events:?}");
}

#[test]
fn graceful_failover_then_restore() {
    let cap = WriteCap::acquire(false).unwrap();
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.execute(1, &OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful }, &cap, now);
    let (now, ev) = finish(&mut sim, &mut m, now, 1);
    let OpEvent::Finished { ok, summary, .. } = ev.last().unwrap() else { panic!() };
    assert!(*ok, "{summary}");
    assert!(summary.contains("clients could not connect for 0.0s"), "{summary}");
    assert_eq!(m.vip_holders(), vec!["slb2"]);
    let took = ev.iter().find_map(|e| match e {
        OpEvent::Step { text, .. } if text.starts_with("VIP on slb2 after") => Some(text.clone()),
        _ => None,
    });
    let secs: f64 = took.unwrap().trim_start_matches("VIP on slb2 after ").trim_end_matches('s').parse().unwrap();
    assert!((3.4..=4.0).contains(&secs), "graceful demotion takes the master-down interval (~3.4 s), got {secs}");
    sim.execute(2, &OpRequest::RestoreVipPriority { lb: "slb1".into() }, &cap, now);
    let (_, ev) = finish(&mut sim, &mut m, now, 2);
    // done means the VIP is back: the operation waits for it, as the real one does
    assert_eq!(m.vip_holders(), vec!["slb1"], "preempts back before the restore reports done");
    assert!(ev.iter().any(|e| matches!(e, OpEvent::Step { text, .. } if text.starts_with("VIP on slb1 after"))), "{ev:?}");
}

#[test]
fn drain_moves_everything_but_daemonsets() {
    let cap = WriteCap::acquire(false).unwrap();
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    let total_before: u32 = m.nodes.data.as_ref().unwrap().iter().map(|n| n.pods).sum();
    sim.execute(7, &OpRequest::Drain { node: "worker2".into(), options: Default::default() }, &cap, now);
    let (_, ev) = finish(&mut sim, &mut m, now, 7);
    assert!(matches!(ev.last(), Some(OpEvent::Finished { ok: true, .. })), "{ev:?}");
    let w2 = m.node("worker2").unwrap();
    assert!(w2.unschedulable);
    assert_eq!(w2.pods, 5, "only DaemonSet pods remain");
    let total_after: u32 = m.nodes.data.as_ref().unwrap().iter().map(|n| n.pods).sum();
    assert!(total_after.abs_diff(total_before) < 10, "pods moved, not lost: {total_before} -> {total_after}");
}

#[test]
fn cert_renewal_rolls_and_stops_at_an_unreachable_master() {
    let cap = WriteCap::acquire(false).unwrap();
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.inject(Fault::CertExpiring, now);
    let masters = vec!["master1".to_string(), "master2".to_string(), "master3".to_string()];
    sim.execute(3, &OpRequest::RenewCerts { masters: masters.clone() }, &cap, now);
    let (now, ev) = finish(&mut sim, &mut m, now, 3);
    assert!(matches!(ev.last(), Some(OpEvent::Finished { ok: true, .. })), "{ev:?}");
    let healthy: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            OpEvent::Step { text, .. } if text.contains("serving the new certificate") => Some(text.split(':').next().unwrap().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(healthy, masters, "one master at a time, in order");
    let now = run(&mut sim, &mut m, now, 0.5);
    assert!(assess(&m, now).findings.iter().all(|f| f.panel != crate::model::PanelId::Certs));

    // A master that is down stops the roll there.
    sim.inject(Fault::KillMaster, now);
    let down = sim.masters.iter().find(|x| !x.host_up).unwrap().name.clone();
    sim.execute(4, &OpRequest::RenewCerts { masters: masters.clone() }, &cap, now);
    let (_, ev) = finish(&mut sim, &mut m, now, 4);
    let OpEvent::Finished { ok, summary, .. } = ev.last().unwrap() else { panic!() };
    assert!(!ok);
    assert!(summary.starts_with(&format!("{down}: unreachable")), "{summary}");
}

#[test]
fn scale_cluster_has_the_extra_nodes() {
    let sim = SimCluster::demo(t0()).with_extra_workers(5_000, t0());
    let obs = sim.observe(t0());
    let nodes = obs.iter().find_map(|o| match &o.payload {
        Payload::Nodes(Ok(n)) => Some(n.len()),
        _ => None,
    });
    assert_eq!(nodes, Some(5_006));
}

#[test]
fn fault_names_round_trip() {
    for f in Fault::ALL {
        assert_eq!(Fault::from_name(f.name()), Some(f));
    }
}

#[test]
fn cancelled_drain_leaves_the_node_cordoned_with_pods_left() {
    let cap = WriteCap::acquire(false).unwrap();
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.execute(9, &OpRequest::Drain { node: "worker1".into(), options: Default::default() }, &cap, now);
    let now = run(&mut sim, &mut m, now, 1.0);
    sim.cancel(9);
    let ev = sim.drain_op_events();
    let OpEvent::Finished { ok, summary, .. } = ev.last().unwrap() else { panic!("{ev:?}") };
    assert!(!ok && summary.starts_with("cancelled by the operator"), "{summary}");
    run(&mut sim, &mut m, now, 3.0);
    let w1 = m.node("worker1").unwrap();
    assert!(w1.unschedulable, "stays cordoned");
    assert!(w1.pods > 5, "the rest of the pods were left alone: {}", w1.pods);
    assert!(sim.drain_op_events().is_empty(), "nothing runs after a cancel");
}

#[test]
fn platform_workloads_follow_node_readiness() {
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.inject(Fault::KillMaster, now);
    run(&mut sim, &mut m, now, 41.0);
    let ws = m.workloads.data.as_ref().unwrap();
    let kp = ws.iter().find(|w| w.name == "kube-proxy").unwrap();
    assert_eq!((kp.ready, kp.desired), (5, 6));
    assert!(
        m.timeline.iter().any(|e| e.text == "ds kube-system/kube-proxy not ready (5/6)"),
        "{:?}",
        m.timeline.iter().map(|e| &e.text).collect::<Vec<_>>()
    );
}

#[test]
fn simulated_services_write_journal_lines_for_their_transitions() {
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.drain_logs();
    sim.inject(Fault::KillMaster, now);
    run(&mut sim, &mut m, now, 3.0);
    let logs = sim.drain_logs();
    let texts: Vec<String> = logs.iter().map(|l| format!("[{}] {}", l.source, l.text)).collect();
    assert!(texts.iter().any(|t| t.contains("haproxy") && t.contains("kube-apiserver/master1 is DOWN")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("elected leader")), "{texts:?}");
}

#[test]
fn ssh_cut_to_the_owner_makes_the_holder_unknown_not_lost() {
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let (_, m) = settled_demo(&[Fault::CutSshToOwner], 0, now, 8, Mode::Demo);
    let v = m.vip_verdict(now);
    let crate::model::VipVerdict::Unknown { unseen } = &v else { panic!("{v:?}") };
    assert_eq!(unseen.len(), 1);
    assert_eq!(unseen[0].held, Some(true), "the last value stays: it held the VIP");
    assert!(unseen[0].reason.starts_with("probe timed out"), "{:?}", unseen[0]);
    let a = assess(&m, now);
    assert_eq!(a.level, HealthLevel::Unknown, "{:#?}", a.findings);
    assert!(!a.findings.iter().any(|f| f.message.contains("not held") || f.message.contains("split brain")), "{:#?}", a.findings);
    // and nothing on the timeline says the VIP moved or was lost
    assert!(!m.timeline.iter().any(|e| e.text.starts_with("VIP ")), "{:?}", m.timeline.iter().map(|e| &e.text).collect::<Vec<_>>());
}

#[test]
fn each_nodes_named_pods_add_up_to_its_row_and_a_drain_leaves_the_daemonsets() {
    let (mut sim, mut m, t) = fresh();
    let mut now = run(&mut sim, &mut m, t, 1.0);
    let check = |sim: &SimCluster| {
        for n in sim.node_list() {
            let x = sim.node_extra(&n.name).unwrap();
            assert_eq!(x.pods.len() as u32, n.pods, "{}", n.name);
            assert_eq!(x.requested(), (n.cpu_requested_m, n.mem_requested), "{}", n.name);
            assert_eq!(x.labels.get("kubernetes.io/hostname"), Some(&n.name));
            let mut names: Vec<_> = x.pods.iter().map(|p| format!("{}/{}", p.namespace, p.name)).collect();
            names.dedup();
            assert_eq!(names.len(), x.pods.len(), "pod names are unique on {}", n.name);
        }
    };
    check(&sim);
    let m1 = sim.node_extra("master1").unwrap();
    assert_eq!(m1.pods.iter().filter(|p| p.owner.as_deref() == Some("mirror")).count(), 4, "{m1:?}");
    assert!(sim.node_extra("nosuchnode").unwrap_err().contains("not found"));
    let cap = WriteCap::acquire(false).unwrap();
    sim.execute(1, &crate::ops::OpRequest::Drain { node: "worker1".into(), options: Default::default() }, &cap, now);
    now = run(&mut sim, &mut m, now, 30.0);
    let _ = now;
    let w1 = sim.node_extra("worker1").unwrap();
    assert!(!w1.pods.is_empty() && w1.pods.iter().all(|p| p.owner.as_deref() == Some("DaemonSet")), "{w1:?}");
    check(&sim);
}

#[test]
fn an_apiserver_drained_from_haproxy_goes_to_maintenance_on_every_lb_and_ready_brings_it_back() {
    let cap = WriteCap::acquire(false).unwrap();
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    let status = |m: &Model, lb: &str| {
        m.haproxy[lb].data.as_ref().unwrap().iter().find(|b| b.server == "master2").map(|b| (b.status, b.status_text.clone(), b.sessions))
    };
    sim.execute(1, &OpRequest::HaproxyServer { server: "master2".into(), admin: ServerAdmin::Drain }, &cap, now);
    let (now, ev) = finish(&mut sim, &mut m, now, 1);
    let OpEvent::Finished { ok, summary, .. } = ev.last().unwrap() else { panic!() };
    assert!(*ok && summary.contains("master2 in MAINT on slb1, slb2"), "{summary}");
    let steps: Vec<&str> = ev.iter().filter_map(|e| if let OpEvent::Step { text, .. } = e { Some(text.as_str()) } else { None }).collect();
    let drain = steps.iter().position(|s| s.ends_with("master2 state drain")).unwrap();
    let maint = steps.iter().position(|s| s.ends_with("master2 state maint")).unwrap();
    assert!(drain < maint, "drain first, maintenance once the sessions are gone: {steps:?}");
    for lb in ["slb1", "slb2"] {
        assert_eq!(status(&m, lb), Some((ServerStatus::Maint, "MAINT".to_string(), 0)), "{lb}");
    }
    // maintenance holds while the health checks go on underneath
    let now = run(&mut sim, &mut m, now, 5.0);
    assert_eq!(status(&m, "slb1").unwrap().0, ServerStatus::Maint);
    sim.execute(2, &OpRequest::HaproxyServer { server: "master2".into(), admin: ServerAdmin::Ready }, &cap, now);
    let (_, ev) = finish(&mut sim, &mut m, now, 2);
    assert!(matches!(ev.last(), Some(OpEvent::Finished { ok: true, .. })), "{ev:?}");
    for lb in ["slb1", "slb2"] {
        assert_eq!(status(&m, lb).unwrap().0, ServerStatus::Up, "{lb}");
    }
}

#[test]
fn a_demo_defrag_goes_leader_last_shrinks_every_member_and_is_refused_with_a_member_down() {
    let cap = WriteCap::acquire(false).unwrap();
    let (mut sim, mut m, now) = fresh();
    let now = run(&mut sim, &mut m, now, 0.5);
    let leader = m.etcd.data.as_ref().unwrap().leader().unwrap().name.clone();
    sim.execute(1, &OpRequest::EtcdDefrag, &cap, now);
    let (now, ev) = finish(&mut sim, &mut m, now, 1);
    let OpEvent::Finished { ok, summary, .. } = ev.last().unwrap() else { panic!() };
    assert!(*ok, "{summary}");
    let order: Vec<String> = ev
        .iter()
        .filter_map(
            |e| if let OpEvent::Step { text, .. } = e { text.split_once(": defragmented").map(|(n, _)| n.to_string()) } else { None },
        )
        .collect();
    assert_eq!(order.len(), 3);
    assert_eq!(order[2], leader, "the leader last");
    assert!(m.etcd.data.as_ref().unwrap().members.iter().all(|x| x.db_size == x.db_size_in_use), "no free pages left");
    sim.host_action(&crate::ops::HostAction::Stop { host: "master2".into(), service: "etcd".into(), signal: "TERM".into() }, &cap, now)
        .unwrap();
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.execute(2, &OpRequest::EtcdDefrag, &cap, now);
    let (_, ev) = finish(&mut sim, &mut m, now, 2);
    assert!(
        matches!(ev.last(), Some(OpEvent::Finished { ok: false, summary, .. }) if summary.contains("master2 does not answer")),
        "{ev:?}"
    );
}

#[test]
fn nospace_is_disarmed_only_once_a_defrag_returned_the_files_space() {
    let cap = WriteCap::acquire(false).unwrap();
    let (mut sim, mut m, now) = fresh();
    sim.inject(Fault::EtcdNospace, now);
    let now = run(&mut sim, &mut m, now, 0.5);
    sim.execute(1, &OpRequest::EtcdDisarm, &cap, now);
    let (now, ev) = finish(&mut sim, &mut m, now, 1);
    assert!(matches!(ev.last(), Some(OpEvent::Finished { ok: false, summary, .. }) if summary.contains("defragment first")), "{ev:?}");
    assert!(!m.etcd.data.as_ref().unwrap().alarms.is_empty(), "still raised");
    sim.execute(2, &OpRequest::EtcdDefrag, &cap, now);
    let (now, ev) = finish(&mut sim, &mut m, now, 2);
    assert!(matches!(ev.last(), Some(OpEvent::Finished { ok: true, .. })), "NOSPACE does not stop a defrag: {ev:?}");
    sim.execute(3, &OpRequest::EtcdDisarm, &cap, now);
    let (_, ev) = finish(&mut sim, &mut m, now, 3);
    assert!(matches!(ev.last(), Some(OpEvent::Finished { ok: true, .. })), "{ev:?}");
    assert!(m.etcd.data.as_ref().unwrap().alarms.is_empty());
}
