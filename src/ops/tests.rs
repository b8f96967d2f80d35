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
    // the weight is keepalived's own, from the owner's configuration
    assert_eq!(p.steps[0], "slb1: demote keepalived (/etc/keepalived/kockpit-demote: 1, weight -100 in VI_1)", "{:?}", p.steps);
    let p = plan(&OpRequest::VipFailover { to: "slb1".into(), mode: FailoverMode::Graceful }, &m);
    assert_eq!(p.blockers[0], "slb1 already holds the VIP");
    // a track file keepalived does not track, or none: refused before anything is written
    let mut other = settled(&[], 1);
    other.plan.lb.track_file = "/etc/keepalived/nope".into();
    let p = plan(&OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful }, &other);
    assert!(!p.allowed(), "{p:?}");
    assert!(
        p.blockers
            .iter()
            .any(|b| b.contains("does not track /etc/keepalived/nope in the instance VI_1 (it tracks /etc/keepalived/kockpit-demote)")),
        "{:?}",
        p.blockers
    );
    other.plan.lb.track_file = String::new();
    let p = plan(&OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful }, &other);
    assert!(p.blockers.iter().any(|b| b.starts_with("the plan sets no [lb] track_file")), "{:?}", p.blockers);
    // emergency needs no file
    let p = plan(&OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Emergency }, &other);
    assert!(p.allowed(), "{p:?}");
    // the configuration not read: said, not refused
    let mut unread = settled(&[], 1);
    unread.ha_config.clear();
    let p = plan(&OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful }, &unread);
    assert!(p.allowed() && p.warnings.iter().any(|w| w.contains("not read yet")), "{p:?}");
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
    // a worker (or a name the plan does not have) is no master: refused, not "renewed" by skipping it
    let p = plan(&OpRequest::RenewCerts { masters: vec!["master1".into(), "worker1".into()] }, &m);
    assert_eq!(p.blockers, ["worker1 is not a master of the plan (its masters: master1, master2, master3)"]);
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

fn drain(node: &str, m: &Model) -> OpPlan {
    plan(&OpRequest::Drain { node: node.into(), options: DrainOptions::default() }, m)
}

fn ceph_blockers(p: &OpPlan) -> Vec<&String> {
    p.blockers.iter().filter(|b| b.contains("Ceph") || b.contains("min_size")).collect()
}

#[test]
fn a_drain_that_takes_a_pool_below_min_size_is_refused_with_the_numbers() {
    // the demo: 3 OSD hosts, pools of 3 copies, min_size 2: one host may go (2 copies stay)
    let mut m = settled(&[], 1);
    let p = drain("worker1", &m);
    assert!(ceph_blockers(&p).is_empty(), "{:?}", p.blockers);
    // pools of 2 copies with min_size 2: a PG on worker1 keeps 1 copy
    for pool in m.ceph.data.as_mut().unwrap().pools.as_mut().unwrap() {
        if pool.name == "replicapool" {
            pool.size = 2;
        }
    }
    let p = drain("worker1", &m);
    assert!(!p.allowed());
    let b = ceph_blockers(&p);
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(
        b[0].contains("pool replicapool below min_size") && b[0].contains("keeps 1 of 2 copies") && b[0].contains("min_size is 2"),
        "{b:?}"
    );
    assert!(b[0].contains("with its 3 OSD(s) out") && b[0].contains("2 other OSD host(s) up, failure domain host"), "{b:?}");
    // failure domain osd: in the worst case a PG has every copy on worker1's 3 OSDs
    for pool in m.ceph.data.as_mut().unwrap().pools.as_mut().unwrap() {
        pool.size = 3;
        pool.failure_domain = "osd".into();
    }
    let p = drain("worker1", &m);
    let b = ceph_blockers(&p);
    assert_eq!(b.len(), 3, "one per pool: {b:?}");
    assert!(b[0].contains("keeps 0 of 3 copies") && b[0].contains("6 other OSD(s) up, failure domain osd"), "{b:?}");
}

#[test]
fn a_drain_of_an_osd_host_is_refused_while_ceph_is_degraded_or_unknown() {
    // one OSD down (on worker1): draining worker2 would leave the degraded PGs with fewer copies
    let m = settled(&[Fault::OsdDown], 10);
    let p = drain("worker2", &m);
    assert!(!p.allowed());
    let b = ceph_blockers(&p);
    assert!(
        b.iter().any(|b| b.starts_with("Ceph is already degraded") && b.contains("OSD_DOWN") && b.contains("PG(s) undersized")),
        "{b:?}"
    );
    // a node without OSDs is not the Ceph guard's business
    let p = drain("master2", &m);
    assert!(ceph_blockers(&p).is_empty(), "{:?}", p.blockers);

    // HEALTH_ERR alone
    let mut m = settled(&[], 1);
    m.ceph.data.as_mut().unwrap().health = crate::model::CephHealth::Err;
    assert!(ceph_blockers(&drain("worker3", &m)).iter().any(|b| b.contains("HEALTH_ERR")));

    // no Ceph source at all: the plan's notes say worker3 hosts OSDs
    let mut m = settled(&[], 1);
    m.ceph = Default::default();
    m.rook = Default::default();
    let p = drain("worker3", &m);
    assert!(!p.allowed());
    assert!(ceph_blockers(&p).iter().any(|b| b.starts_with("Ceph's state is unknown")), "{:?}", p.blockers);
    // the last look failed
    let mut m = settled(&[], 1);
    m.ceph.error = Some(crate::model::SourceError { at: chrono::Utc::now(), reason: "no mon quorum".into(), last: chrono::Utc::now() });
    let p = drain("worker3", &m);
    assert!(ceph_blockers(&p).iter().any(|b| b.starts_with("Ceph's state is unknown") && b.contains("no mon quorum")), "{:?}", p.blockers);
    // no pool sizes (Rook's CR has none)
    let mut m = settled(&[], 1);
    m.ceph.data.as_mut().unwrap().pools = None;
    let p = drain("worker3", &m);
    assert!(ceph_blockers(&p).iter().any(|b| b.contains("state is unknown") && b.contains("no pool size/min_size")), "{:?}", p.blockers);
}

#[test]
fn a_worker_without_osds_drains_whatever_ceph_says() {
    let mut m = settled(&[], 1);
    m.plan.hosts.iter_mut().find(|h| h.name == "worker3").unwrap().notes = None;
    let v = m.ceph.data.as_mut().unwrap();
    v.osd_hosts.retain(|h| h != "worker3");
    v.osd_host_detail.retain(|h| h.name != "worker3");
    v.health = crate::model::CephHealth::Err;
    let p = drain("worker3", &m);
    assert!(p.allowed(), "{:?}", p.blockers);
    m.ceph = Default::default();
    assert!(drain("worker3", &m).allowed());
}

#[test]
fn a_drains_eviction_step_says_the_dry_runs_count() {
    let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let sim = SimCluster::demo(t0);
    let mut m = Model::new(sim.plan().clone(), Mode::Demo, "demo");
    for o in sim.observe(t0) {
        m.apply(o);
    }
    let req = OpRequest::Drain { node: "worker2".into(), options: DrainOptions::default() };
    let d = sim.dry_run(&req).unwrap();
    let node = m.node("worker2").unwrap().clone();
    assert_eq!(d.moves + d.skipped, node.pods as usize, "every pod of the node moves or is skipped");
    assert!(d.moves > 1 && d.skipped > 1, "{d:?}");
    assert!(d.lines[0].contains(&format!("{} pod(s) to evict", d.moves)), "{:?}", d.lines);
    let p = plan(&req, &m).with_dry_run(DryRunState::Ready(d.clone()));
    let step = p.steps.iter().find(|s| s.starts_with(EVICT_STEP)).unwrap();
    assert!(step.ends_with(&format!(": {} pod(s), as the dry run found ({} skipped)", d.moves, d.skipped)), "{step}");
}

#[test]
fn the_labs_real_ceph_refuses_its_only_osd_host_and_says_why() {
    let view = |fixture: &str| crate::ceph::parse::parse_view(&crate::ceph::parse::split_sections(fixture, 5).unwrap()).unwrap();
    let mut m = settled(&[], 1);
    // healthy: pools of 3 copies over the OSDs of one host: every copy of a PG may be on it
    m.ceph.data = Some(view(include_str!("../../tests/fixtures/ceph/pools-script-ok.txt")));
    let b = ceph_guard::drain_blockers(&m, "vm");
    assert_eq!(b.len(), 2, "{b:?}");
    assert!(
        b.iter().any(|b| b.contains("pool lab below min_size") && b.contains("keeps 0 of 3 copies") && b.contains("min_size is 2")),
        "{b:?}"
    );
    // osd.1 stopped: degraded already
    m.ceph.data = Some(view(include_str!("../../tests/fixtures/ceph/pools-script-osd-down.txt")));
    let b = ceph_guard::drain_blockers(&m, "vm");
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].starts_with("Ceph is already degraded (OSD_DOWN: 1 osds down") && b[0].contains("17 of 17 PG(s) undersized"), "{b:?}");
    assert!(b[0].contains("2 of 3 OSDs up"), "{b:?}");
}
