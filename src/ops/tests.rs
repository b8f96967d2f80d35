use super::*;
use crate::model::{Mode, Model};
use crate::sim::{Fault, SimCluster};
use chrono::{DateTime, Duration};

fn settled(faults: &[Fault], secs: i64) -> Model {
    let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let mut sim = SimCluster::demo(t0);
    let mut m = Model::new(sim.plan().clone(), Mode::Demo, "demo");
    for f in faults {
        sim.inject(*f, t0);
    }
    let mut now = t0;
    for _ in 0..secs * 10 {
        now += Duration::milliseconds(100);
        sim.step(now);
        for o in sim.observe(now) {
            m.apply(o);
        }
    }
    m
}

#[test]
fn read_only_never_gets_a_capability() {
    assert!(WriteCap::acquire(true).is_none());
    assert!(WriteCap::acquire(false).is_some());
}

#[test]
fn cordon_plan_and_its_refusals() {
    let m = settled(&[], 1);
    let p = plan(&OpRequest::Cordon { node: "worker1".into() }, &m);
    assert!(p.allowed(), "{p:?}");
    assert_eq!(p.steps[0], "patch node worker1: spec.unschedulable = true");
    let p = plan(&OpRequest::Uncordon { node: "worker1".into() }, &m);
    assert_eq!(p.blockers, vec!["worker1 is not cordoned"]);
    let p = plan(&OpRequest::Cordon { node: "nope".into() }, &m);
    assert_eq!(p.blockers, vec!["no node named nope in the node list"]);
}

#[test]
fn drain_warns_about_osds_and_refuses_the_last_control_plane() {
    let m = settled(&[], 1);
    let p = plan(&OpRequest::Drain { node: "worker2".into(), options: DrainOptions::default() }, &m);
    assert!(p.allowed());
    assert!(p.warnings.iter().any(|w| w.contains("hosts Ceph OSDs and noout is not set")), "{:?}", p.warnings);

    let mut m = settled(&[], 1);
    let leader = m.etcd.data.as_ref().unwrap().leader().unwrap().name.clone();
    let p = plan(&OpRequest::Drain { node: leader.clone(), options: DrainOptions::default() }, &m);
    assert!(p.warnings.iter().any(|w| w.contains("hosts the etcd leader")), "{:?}", p.warnings);

    // Make master1 the only Ready, schedulable control-plane node.
    for n in m.nodes.data.as_mut().unwrap() {
        if n.is_control_plane() && n.name != "master1" {
            n.ready = Some(false);
        }
    }
    let p = plan(&OpRequest::Drain { node: "master1".into(), options: DrainOptions::default() }, &m);
    assert!(!p.allowed());
    assert!(p.blockers[0].contains("last Ready control-plane node"), "{:?}", p.blockers);
}

#[test]
fn failover_needs_a_healthy_backup_with_backends() {
    let m = settled(&[], 1);
    let p = plan(&OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful }, &m);
    assert!(p.allowed(), "{p:?}");
    assert!(p.steps[0].contains("track_file"), "{:?}", p.steps);
    let p = plan(&OpRequest::VipFailover { to: "slb1".into(), mode: FailoverMode::Graceful }, &m);
    assert_eq!(p.blockers[0], "slb1 already holds the VIP");
    // the plan's demotion method is what the steps say
    let mut by_priority = settled(&[], 1);
    by_priority.plan.lb.demote = crate::inventory::DemoteMethod::Priority;
    let p = plan(&OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful }, &by_priority);
    assert!(p.steps[0].contains("priority to 1") && p.steps[0].contains("reload"), "{:?}", p.steps);
    let p = plan(&OpRequest::RestoreVipPriority { lb: "slb1".into() }, &by_priority);
    assert!(p.steps[0].contains("keepalived.conf back"), "{:?}", p.steps);

    // Kill haproxy on slb1, then move the VIP to slb2 and ask to fail back to slb1: its haproxy is dead.
    let m = settled(&[Fault::KillHaproxyOnOwner], 6);
    assert_eq!(m.vip_holders(), vec!["slb2"], "the haproxy check weight moved the VIP");
    let p = plan(&OpRequest::VipFailover { to: "slb1".into(), mode: FailoverMode::Graceful }, &m);
    assert!(!p.allowed());
    assert!(p.blockers.iter().any(|b| b.contains("haproxy on slb1 cannot be observed")), "{:?}", p.blockers);

    let m = settled(&[Fault::SplitBrain], 5);
    let p = plan(&OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Emergency }, &m);
    assert!(p.blockers.iter().any(|b| b.starts_with("SPLIT BRAIN")), "a split brain refuses, as the executor does: {p:?}");
}

#[test]
fn cert_renewal_refused_without_etcd_headroom() {
    let m = settled(&[Fault::KillMaster], 3);
    let p = plan(&OpRequest::RenewCerts { masters: vec!["master2".into()] }, &m);
    assert!(!p.allowed());
    assert!(p.blockers[0].contains("etcd cannot lose a member"));
    let m = settled(&[], 1);
    assert!(plan(&OpRequest::RenewCerts { masters: vec!["master1".into(), "master2".into()] }, &m).allowed());
}

#[test]
fn noout_toggle_checks_current_flags() {
    let m = settled(&[], 1);
    assert!(plan(&OpRequest::SetNoout { on: true }, &m).allowed());
    assert_eq!(plan(&OpRequest::SetNoout { on: false }, &m).blockers, vec!["noout is not set"]);
}

#[test]
fn a_drain_whose_pods_do_not_fit_is_refused_with_the_numbers() {
    // drain worker1 on the demo: its pods fit on worker2 and worker3
    let mut m = settled(&[], 1);
    let p = plan(&OpRequest::Drain { node: "worker1".into(), options: DrainOptions::default() }, &m);
    assert!(p.allowed(), "{:?}", p.blockers);
    // then worker1 is gone from the schedulable set and worker2's and worker3's requests grew:
    // draining worker2 would put everything on worker3, beyond what it has
    let nodes = m.nodes.data.as_mut().unwrap();
    let (w1_cpu, w1_mem, w1_pods) = {
        let w1 = nodes.iter().find(|n| n.name == "worker1").unwrap();
        (w1.cpu_requested_m, w1.mem_requested, w1.pods)
    };
    for n in nodes.iter_mut() {
        match n.name.as_str() {
            "worker1" => n.unschedulable = true,
            "worker2" | "worker3" => {
                n.cpu_requested_m += w1_cpu / 2;
                n.mem_requested += w1_mem / 2;
                n.pods += w1_pods / 2;
            }
            _ => {}
        }
    }
    let p = plan(&OpRequest::Drain { node: "worker2".into(), options: DrainOptions::default() }, &m);
    let b = p.blockers.iter().find(|b| b.contains("do not fit")).unwrap_or_else(|| panic!("refused: {:?}", p.blockers));
    assert!(b.contains("pods of worker2") && (b.contains("CPU requests") || b.contains("pod slots") || b.contains("memory")), "{b}");
    assert!(b.contains("m free") || b.contains("GiB free") || b.contains("free pod slots"), "the numbers: {b}");
}

#[test]
fn a_node_over_its_allocatable_is_a_finding() {
    let mut m = settled(&[], 1);
    let w3 = m.nodes.data.as_mut().unwrap().iter_mut().find(|n| n.name == "worker3").unwrap();
    w3.cpu_requested_m = w3.cpu_allocatable_m * 181 / 100;
    w3.pods = w3.pods_capacity + 8;
    let a = crate::model::assess(&m, chrono::Utc::now());
    let about: Vec<&str> = a.findings.iter().filter(|f| f.subject == "worker3").map(|f| f.message.as_str()).collect();
    assert!(about.iter().any(|f| f.contains("requests 181% of its CPU")), "{about:?}");
    assert!(about.iter().any(|f| f.contains("over its capacity of")), "{about:?}");
}

#[tokio::test]
async fn an_intent_is_on_disk_before_the_step_acts_and_refuses_the_step_when_it_cannot_be() {
    use crate::ops::audit::Audit;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let cap = WriteCap::acquire(false).unwrap().recording_to(Audit::open(&path, "s"));
    cap.share().intent(3, "cordon w1", "w1 may be cordoned").await.unwrap();
    // acknowledged means written: the record is in the file now
    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!((v["event"].as_str(), v["op_id"].as_u64(), v["leaves"].as_str()), (Some("op_intent"), Some(3), Some("w1 may be cordoned")));
    // a log that cannot take it: the step is refused, with the reason
    let full = WriteCap::acquire(false).unwrap().recording_to(Audit::open(std::path::Path::new("/dev/full"), "s"));
    let e = full.intent(4, "evict 3 pod(s)", "...").await.unwrap_err();
    assert!(e.contains("not done: evict 3 pod(s)") && e.contains("No space left"), "{e}");
}
