//! The three HA fronts of the field, in the lab, configured the way users configure them and with no
//! `[lb]` section in the plan: kockpit finds the sockets and files itself.
//!
//! - `kubeadm-lbs`: dedicated LB hosts as the kubeadm HA guide sets them up (check_apiserver.sh every
//!   3 s, fall 10, weight -2; priorities 101/100) with CentOS 7's haproxy global section (stats socket
//!   /var/lib/haproxy/stats);
//! - `masters`: keepalived and haproxy on the three masters, a tutorial's keepalived.conf copied as is
//!   (state MASTER and priority 100 everywhere), Debian's haproxy global, haproxy on port 16443;
//! - `kubekey`: KubeKey's internal load balancer, a haproxy on every worker at 127.0.0.1:6443 with
//!   KubeKey's generated haproxy.cfg (no stats socket), and no VIP.
//!
//! Per topology: the healthy picture, the VIP owner's haproxy killed (the prediction from the hosts'
//! own keepalived.conf, then checked against what happened), keepalived frozen on the owner (split
//! brain), the owner's probes starved (unknown, never "not held"), the lint findings of the
//! configurations as found. Every fault is undone in a Drop guard.
//!
//! `#[ignore]`d; run as root: `cargo test --test lab_topologies -- --include-ignored --test-threads=1`.

#[path = "common/lab.rs"]
mod harness;
#[path = "common/live.rs"]
mod live;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use kockpit::backend::{BackendEvent, Command};
use kockpit::inventory::{LbSettings, Plan};
use kockpit::model::hacheck::haproxy_dead;
use kockpit::model::{HealthLevel, Model, PanelId, ServerStatus, Severity, VipVerdict, VrrpState, assess};
use kockpit::ops::{OpEvent, OpRequest, ServerAdmin, WriteCap};
use kockpit::probe::LiveSettings;
use live::{Live, describe, never_claims_without_facts};

static LAB_LOCK: Mutex<()> = Mutex::new(());

struct Topo {
    script: PathBuf,
    env: HashMap<String, String>,
    _lock: MutexGuard<'static, ()>,
}

/// The lab brought up in `topology` (an `up` of another topology takes the running lab down first).
fn topology(topology: &str) -> Topo {
    let lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let script = harness::script("ha");
    let vars = [("KOCKPIT_LAB_TOPOLOGY", topology)];
    harness::run_env(&script, &["up"], &vars, Duration::from_secs(300))
        .unwrap_or_else(|why| harness::cannot_run(&format!("the HA lab ({topology})"), &why));
    let env = harness::run_bounded(&script, &["env"], Duration::from_secs(10))
        .map(|t| harness::env_of(&t))
        .unwrap_or_else(|why| harness::cannot_run("the HA lab's env", &why));
    assert_eq!(env.get("KOCKPIT_LAB_TOPOLOGY").map(String::as_str), Some(topology), "{env:?}");
    Topo { script, env, _lock: lock }
}

impl Topo {
    fn plan(&self) -> Plan {
        let p = Plan::load(Path::new(&self.env["KOCKPIT_CONFIG"])).unwrap_or_else(|e| panic!("the lab's plan: {e}"));
        assert_eq!(p.lb, LbSettings::default(), "no [lb] section: kockpit finds everything itself");
        p
    }
    fn ha(&self, args: &[&str]) -> Result<String, String> {
        harness::run_bounded(&self.script, args, Duration::from_secs(90))
    }
    fn ha_ok(&self, args: &[&str]) -> String {
        self.ha(args).unwrap_or_else(|e| panic!("tests/lab/ha {}: {e}", args.join(" ")))
    }
    fn live(&self) -> Live {
        let settings = LiveSettings { ssh_config: Some(PathBuf::from(&self.env["KOCKPIT_SSH_CONFIG"])), ..LiveSettings::new(true) };
        Live::start_with(self.plan(), settings)
    }
}

/// Lab commands run when dropped: how every fault is undone, also when an assertion fails.
struct Restore<'a> {
    topo: &'a Topo,
    steps: Vec<Vec<String>>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for s in &self.steps {
            let args: Vec<&str> = s.iter().map(String::as_str).collect();
            if let Err(e) = self.topo.ha(&args) {
                eprintln!("restore `tests/lab/ha {}` failed: {e}", args.join(" "));
            }
        }
    }
}

fn restore<'a>(topo: &'a Topo, steps: &[&[&str]]) -> Restore<'a> {
    Restore { topo, steps: steps.iter().map(|s| s.iter().map(|a| a.to_string()).collect()).collect() }
}

fn state(m: &Model, h: &str) -> Option<VrrpState> {
    m.vrrp.get(h).and_then(|s| s.data.as_ref()).map(|v| v.state)
}

fn all_up(m: &Model, carriers: &[&str]) -> bool {
    carriers.iter().all(|h| {
        m.haproxy.get(*h).and_then(|s| s.data.as_ref()).is_some_and(|v| v.len() == 3 && v.iter().all(|b| b.status == ServerStatus::Up))
    })
}

/// One holder, every keepalived host fresh and either MASTER (the holder) or BACKUP, every backend
/// UP, and each carrier's configuration read.
fn healthy(m: &Model, carriers: &[&str]) -> Option<String> {
    let VipVerdict::Held { holder, unseen } = m.vip_verdict(Utc::now()) else { return None };
    let states_ok = carriers.iter().all(|h| state(m, h) == Some(if *h == holder { VrrpState::Master } else { VrrpState::Backup }));
    (unseen.is_empty() && states_ok && all_up(m, carriers) && carriers.iter().all(|h| m.ha_config.contains_key(*h))).then_some(holder)
}

fn finding(m: &Model, needle: &str) -> Option<kockpit::model::Finding> {
    assess(m, Utc::now()).findings.into_iter().find(|f| f.message.contains(needle))
}

fn timeline_has(m: &Model, needle: &str) -> bool {
    m.timeline.iter().any(|e| e.text.contains(needle))
}

/// The owner's probes starved (every sshd process of it frozen): its facts are unknown, the holder
/// UNKNOWN (exit 3), never "not held"; thawed, it is seen holding the VIP again.
async fn starved_owner(topo: &Topo, live: &mut Live, owner: &str) {
    let _undo = restore(topo, &[&["start", owner, "sshd"]]);
    topo.ha_ok(&["stop", owner, "sshd", "STOP"]);
    let t = live
        .until_checking(
            Duration::from_secs(40),
            "the owner unseen",
            |m| matches!(m.vip_verdict(Utc::now()), VipVerdict::Unknown { .. }),
            never_claims_without_facts,
        )
        .await;
    eprintln!("{owner}'s sshd frozen: the holder shown unknown after {:.1}s", t.as_secs_f64());
    let a = assess(&live.model, Utc::now());
    assert_eq!(a.level, HealthLevel::Unknown, "{:#?}", a.findings);
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Unknown && f.message.starts_with(&format!("VIP holder unknown: {owner}: "))),
        "{:#?}",
        a.findings
    );
    topo.ha_ok(&["start", owner, "sshd"]);
    live.until_checking(
        Duration::from_secs(40),
        "the owner seen holding the VIP again",
        |m| m.vip_verdict(Utc::now()) == VipVerdict::Held { holder: owner.to_string(), unseen: vec![] },
        never_claims_without_facts,
    )
    .await;
}

/// keepalived frozen on the owner: it keeps the VIP and sends no adverts, a peer takes the VIP too.
/// Two fresh holders: split brain, critical. Thawed, one holder again.
async fn frozen_keepalived(topo: &Topo, live: &mut Live, owner: &str) {
    let _undo = restore(topo, &[&["start", owner, "keepalived"]]);
    topo.ha_ok(&["stop", owner, "keepalived", "STOP"]);
    let t = live
        .until_checking(
            Duration::from_secs(30),
            "split brain",
            |m| matches!(m.vip_verdict(Utc::now()), VipVerdict::SplitBrain { .. }),
            never_claims_without_facts,
        )
        .await;
    eprintln!("keepalived frozen on {owner}: split brain shown after {:.1}s", t.as_secs_f64());
    let a = assess(&live.model, Utc::now());
    assert_eq!(a.level, HealthLevel::Critical, "{:#?}", a.findings);
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Critical && f.message.to_lowercase().contains("split brain")),
        "{:#?}",
        a.findings
    );
    topo.ha_ok(&["start", owner, "keepalived"]);
    live.until(Duration::from_secs(40), "one holder again", |m| matches!(m.vip_verdict(Utc::now()), VipVerdict::Held { .. })).await;
}

/// haproxy killed on the owner: the prediction, made from the owner's own keepalived.conf, appears
/// with the first observation that shows haproxy dead; then the VIP moves where and when it said.
/// `may_take`: the peer that takes the VIP, or the tied peers that race for it. Returns the new holder.
async fn haproxy_killed(topo: &Topo, live: &mut Live, owner: &str, may_take: &[&str], priorities: &str) -> String {
    let _undo = restore(topo, &[&["start", owner, "haproxy"]]);
    topo.ha_ok(&["stop", owner, "haproxy", "KILL"]);
    let killed = Instant::now();
    live.until(Duration::from_secs(15), "haproxy seen dead on the owner", |m| haproxy_dead(m, owner, Utc::now())).await;
    let seen_dead = killed.elapsed();
    let p = live.model.prediction.clone().unwrap_or_else(|| panic!("no prediction once haproxy is seen dead\n{}", describe(&live.model)));
    eprintln!("haproxy killed on {owner}: seen dead after {:.2}s, with the prediction: {}", seen_dead.as_secs_f64(), p.text);
    assert_eq!((p.holder.as_str(), p.moves), (owner, true), "{p:?}");
    match may_take {
        [one] => assert_eq!((p.after.as_deref(), p.candidates.len()), (Some(*one), 0), "{p:?}"),
        several => assert_eq!(p.candidates, several, "a tie is a race: {p:?}"),
    }
    assert!(p.text.starts_with(&format!("haproxy dead on {owner}, which holds the VIP")) && p.text.contains(priorities), "{}", p.text);
    assert!(p.text.contains("3 s x fall 10"), "the check's own timing: {}", p.text);
    assert!(timeline_has(&live.model, &format!("predicted: haproxy dead on {owner}")));
    let moved_to = |m: &Model| m.vip_holders().first().filter(|h| m.vip_holders().len() == 1 && may_take.contains(&h.as_str())).cloned();
    live.until(Duration::from_secs(60), "the VIP on a predicted host", |m| moved_to(m).is_some()).await;
    let after = moved_to(&live.model).unwrap();
    let moved = killed.elapsed();
    let e = live.model.timeline.iter().find(|e| e.text.starts_with("VIP moved ") && e.text.contains(&format!("-> {after}"))).cloned();
    let e = e.unwrap_or_else(|| panic!("{}", describe(&live.model)));
    eprintln!("{} ({:.1}s after the kill, predicted within {} s)", e.text, moved.as_secs_f64(), p.within_s);
    assert!(e.text.contains(&format!("-> {after} (")) && e.text.contains("(as predicted: "), "{}", e.text);
    assert!(moved.as_secs_f64() <= p.within_s + 10.0, "took {moved:?}, predicted within {} s", p.within_s);
    topo.ha_ok(&["start", owner, "haproxy"]);
    after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn kubeadm_guide_on_dedicated_lbs() {
    let topo = topology("kubeadm-lbs");
    let mut live = topo.live();
    let lbs = ["lb1", "lb2"];
    live.until(Duration::from_secs(30), "healthy", |m| healthy(m, &lbs).as_deref() == Some("lb1")).await;
    // found where CentOS 7's package has it, and said so
    let src = &live.model.haproxy["lb1"].source;
    assert!(src.contains("/var/lib/haproxy/stats (from /etc/haproxy/haproxy.cfg)"), "{src}");
    assert_eq!(live.model.vrrp["lb1"].data.as_ref().map(|v| v.priority), Some(101));
    let f = finding(&live.model, "check_apiserver: 3 s x fall 10 = 30 s").expect("the slow check");
    assert_eq!(f.severity, Severity::Info, "{f:?}");
    assert!(finding(&live.model, "auth_type PASS").is_some());

    starved_owner(&topo, &mut live, "lb1").await;
    // 101 - 2 = 99 < lb2's 100
    let after = haproxy_killed(&topo, &mut live, "lb1", &["lb2"], "101 -> 99").await;
    assert_eq!(after, "lb2");
    // haproxy back on lb1: its check rises again (2 x 3 s), 101 > 100, it preempts
    live.until(Duration::from_secs(40), "lb1 holds the VIP again", |m| healthy(m, &lbs).as_deref() == Some("lb1")).await;
    frozen_keepalived(&topo, &mut live, "lb1").await;
    // CentOS' `stats socket /var/lib/haproxy/stats` names no level: haproxy gives it `operator`, which
    // may not set a server's state. Refused before any LB is touched, naming the level needed.
    let out = execute(&topo, OpRequest::HaproxyServer { server: "m2".into(), admin: ServerAdmin::Drain }).await;
    assert!(!out.0, "{}", out.1);
    assert!(out.1.starts_with("refused, nothing changed"), "{}", out.1);
    assert!(out.1.contains("/var/lib/haproxy/stats has level operator: `set server` needs level admin"), "{}", out.1);
    live.until(Duration::from_secs(10), "m2 still UP", |m| {
        lbs.iter().all(|lb| m.haproxy[*lb].data.iter().flatten().any(|b| b.server == "m2" && b.status == ServerStatus::Up))
    })
    .await;
}

/// Run one operation through a writable live backend of the topology: (ok, summary).
async fn execute(topo: &Topo, request: OpRequest) -> (bool, String) {
    let settings = LiveSettings { ssh_config: Some(PathBuf::from(&topo.env["KOCKPIT_SSH_CONFIG"])), ..LiveSettings::new(false) };
    let mut h = kockpit::probe::spawn(&topo.plan(), settings);
    let cap = WriteCap::acquire(false).expect("a writable test process");
    h.commands.send(Command::Execute { id: 1, request, cap }).expect("backend running");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        match tokio::time::timeout(Duration::from_secs(60), h.events.recv()).await {
            Ok(Some(BackendEvent::Op(OpEvent::Finished { id: 1, ok, summary }))) => return (ok, summary),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    panic!("the operation did not finish within 60 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn tutorial_keepalived_on_the_masters() {
    let topo = topology("masters");
    let plan = topo.plan();
    assert_eq!(plan.vip.as_ref().map(|v| v.port), Some(16443));
    let mut live = topo.live();
    let masters = ["m1", "m2", "m3"];
    live.until(Duration::from_secs(30), "healthy", |m| healthy(m, &masters).is_some()).await;
    let owner = healthy(&live.model, &masters).unwrap();
    assert!(live.model.haproxy["m1"].source.contains("/run/haproxy/admin.sock (from /etc/haproxy/haproxy.cfg)"));
    // the tutorial's risks, from the files as found
    for needle in ["all have priority 100", "state MASTER on every peer", "3 s x fall 10 = 30 s", "auth_type PASS"] {
        assert!(finding(&live.model, needle).is_some(), "{needle}: {:#?}", assess(&live.model, Utc::now()).findings);
    }
    assert!(finding(&live.model, "where kube-apiserver listens on 6443").is_none(), "haproxy at 16443 leaves 6443 to the apiserver");

    starved_owner(&topo, &mut live, &owner).await;
    // the other two tie at 100 above the lowered owner: each preempts on its advert, a race (the
    // higher address wins only if both become MASTER at once)
    let others: Vec<&str> = masters.iter().copied().filter(|m| *m != owner).collect();
    let after = haproxy_killed(&topo, &mut live, &owner, &others, "100 -> 98").await;
    // haproxy back on the old owner: 100 again, a tie, no preemption: the VIP stays
    live.until(Duration::from_secs(40), "healthy again", |m| healthy(m, &masters).is_some()).await;
    assert_eq!(healthy(&live.model, &masters).as_deref(), Some(after.as_str()));
    frozen_keepalived(&topo, &mut live, &after).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn kubekey_local_proxies_without_a_vip() {
    let topo = topology("kubekey");
    let plan = topo.plan();
    assert!(plan.vip_endpoint().is_none());
    let workers = ["w1", "w2"];
    assert_eq!(plan.haproxy_hosts().iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), workers, "KubeKey's proxies run on the workers");
    let mut live = topo.live();
    live.until(Duration::from_secs(30), "every source heard", |m| {
        workers.iter().all(|w| m.haproxy.contains_key(*w) && m.ha_config.contains_key(*w))
            && m.readyz.len() == 3
            && m.readyz.values().all(|s| s.data.as_ref().is_some_and(|r| r.ok))
    })
    .await;
    let m = &live.model;
    assert_eq!(m.vip_verdict(Utc::now()), VipVerdict::NoVip, "no VIP to hold, nothing to wait for");
    assert!(m.vrrp.is_empty(), "no keepalived anywhere");
    for w in workers {
        // KubeKey's haproxy.cfg has no stats socket: the reason says so and quotes the line to add
        let e = m.haproxy[w].error.as_ref().unwrap_or_else(|| panic!("{}", describe(m)));
        assert!(
            e.reason.contains("no haproxy stats socket") && e.reason.contains("config: /etc/kubekey/haproxy/haproxy.cfg"),
            "{}",
            e.reason
        );
        assert!(e.reason.contains("stats socket /run/haproxy/admin.sock mode 660 level admin"), "{}", e.reason);
        // the configuration was read anyway: the backend, and no complaint about keepalived
        let c = &m.ha_config[w].data.as_ref().expect("the configuration").haproxy;
        assert!(c.is_some(), "{:?}", m.ha_config[w]);
        assert!(m.ha_config[w].data.as_ref().unwrap().problems.is_empty(), "{:?}", m.ha_config[w]);
    }
    let f = finding(m, "kube_api_backend: inter 15 s x fall 2 = 30 s").expect("KubeKey's slow down detection");
    assert_eq!(f.panel, PanelId::Haproxy);
    // haproxy's view is unknown, but the apiservers answer /readyz: not an UNKNOWN roll-up
    let a = assess(m, Utc::now());
    assert!(!a.findings.iter().any(|f| f.panel == PanelId::Haproxy && f.severity == Severity::Unknown), "{:#?}", a.findings);
    assert!(a.findings.iter().any(|f| f.message.starts_with("haproxy's view of the apiserver backends unknown")), "{:#?}", a.findings);

    // w1's proxy killed: no stats socket to tell, but no haproxy process either: that node has lost the
    // apiserver, critical; w2 goes on
    let _undo = restore(&topo, &[&["start", "w1", "haproxy"]]);
    topo.ha_ok(&["stop", "w1", "haproxy", "KILL"]);
    let t = live.until(Duration::from_secs(15), "w1's haproxy seen dead", |m| haproxy_dead(m, "w1", Utc::now())).await;
    eprintln!("w1's local haproxy killed: seen dead after {:.2}s", t.as_secs_f64());
    let m = &live.model;
    assert!(m.haproxy["w1"].error.as_ref().is_some_and(|e| e.reason.contains("haproxy is not running")), "{}", describe(m));
    assert!(!haproxy_dead(m, "w2", Utc::now()), "{}", describe(m));
    let a = assess(m, Utc::now());
    assert_eq!(a.level, HealthLevel::Critical, "{:#?}", a.findings);
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Critical && f.subject == "w1" && f.message.contains("its local haproxy is dead")),
        "{:#?}",
        a.findings
    );
    topo.ha_ok(&["start", "w1", "haproxy"]);
    live.until(Duration::from_secs(15), "w1's haproxy back", |m| !haproxy_dead(m, "w1", Utc::now())).await;
}
