//! The live HA-front probes against the real lab (`tests/lab/ha`): keepalived, haproxy, sshd and the
//! apiserver stand-ins in network namespaces. Faults are real (processes stopped and frozen, links cut,
//! host keys changed) and every test that injects one restores the lab in a Drop guard.
//!
//! The tests are `#[ignore]`d; run as root: `cargo test --test lab_ha -- --include-ignored --test-threads=1`.
//! Without the lab (not root, no namespaces) they fail, with the reason.

#[path = "common/lab.rs"]
mod harness;
#[path = "common/live.rs"]
mod live;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use kockpit::backend::BackendEvent;
use kockpit::inventory::Plan;
use kockpit::model::{HealthLevel, Mode, Model, PanelId, ServerStatus, Severity, VipVerdict, VrrpState, assess};
use kockpit::ops::WriteCap;
use kockpit::probe::{self, LiveSettings, hosts};
use kockpit::transport::ssh::{AccessMode, PoolOptions, SshError, SshPool};
use live::{Live, describe, never_claims_without_facts};

/// The lab is one shared thing: tests take turns.
static LAB_LOCK: Mutex<()> = Mutex::new(());

struct Lab {
    script: PathBuf,
    env: HashMap<String, String>,
    _lock: MutexGuard<'static, ()>,
}

impl Lab {
    fn var(&self, k: &str) -> &str {
        self.env.get(k).map(String::as_str).unwrap_or("")
    }
    fn dir(&self) -> PathBuf {
        PathBuf::from(self.var("KOCKPIT_LAB_DIR"))
    }
    fn ssh_config(&self) -> PathBuf {
        PathBuf::from(self.var("KOCKPIT_SSH_CONFIG"))
    }
    fn plan(&self) -> Plan {
        Plan::load(Path::new(self.var("KOCKPIT_CONFIG"))).unwrap_or_else(|e| panic!("the lab's plan: {e}"))
    }
    /// Run `tests/lab/ha ARGS` (bounded); Ok(stdout + stderr) on success.
    fn ha(&self, args: &[&str]) -> Result<String, String> {
        harness::run_bounded(&self.script, args, Duration::from_secs(90))
    }
    fn ha_ok(&self, args: &[&str]) -> String {
        self.ha(args).unwrap_or_else(|e| panic!("tests/lab/ha {}: {e}", args.join(" ")))
    }
    fn pool(&self, mode: AccessMode) -> SshPool {
        SshPool::new(PoolOptions { ssh_config: Some(self.ssh_config()), mode, use_agent: false, ..PoolOptions::default() })
            .expect("lab ssh config")
    }
    fn settings(&self) -> LiveSettings {
        LiveSettings { ssh_config: Some(self.ssh_config()), ..LiveSettings::new(true) }
    }
}

/// Bring the lab up (idempotent: it also converges a lab left degraded) and load its environment. A
/// lab that cannot be had is a failure, with the reason.
fn lab() -> Lab {
    let lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let script = harness::script("ha");
    let env = harness::up(&script, Duration::from_secs(300)).unwrap_or_else(|why| harness::cannot_run("the HA lab", &why));
    Lab { script, env, _lock: lock }
}

/// Runs lab commands when dropped: how every fault is undone, also when an assertion fails.
struct Restore<'a> {
    lab: &'a Lab,
    steps: Vec<Vec<&'static str>>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for s in &self.steps {
            if let Err(e) = self.lab.ha(s) {
                eprintln!("restore `tests/lab/ha {}` failed: {e}", s.join(" "));
            }
        }
    }
}

trait Start {
    fn start(lab: &Lab) -> Live;
}

impl Start for Live {
    fn start(lab: &Lab) -> Live {
        Live::start_with(lab.plan(), lab.settings())
    }
}

fn vrrp_state(m: &Model, lb: &str) -> Option<VrrpState> {
    m.vrrp.get(lb).and_then(|s| s.data.as_ref()).map(|v| v.state)
}

fn server_status(m: &Model, lb: &str, server: &str) -> Option<ServerStatus> {
    m.haproxy.get(lb)?.data.as_ref()?.iter().find(|b| b.server == server).map(|b| b.status)
}

/// The lab at rest: VIP on lb1 only, lb1 MASTER, lb2 BACKUP, every backend UP on both LBs.
fn at_rest(m: &Model) -> bool {
    m.vip_holders() == ["lb1"]
        && vrrp_state(m, "lb1") == Some(VrrpState::Master)
        && vrrp_state(m, "lb2") == Some(VrrpState::Backup)
        && ["lb1", "lb2"].iter().all(|lb| ["m1", "m2", "m3"].iter().all(|s| server_status(m, lb, s) == Some(ServerStatus::Up)))
}

fn timeline_has(m: &Model, needle: &str) -> bool {
    m.timeline.iter().any(|e| e.text.contains(needle))
}

const SETTLE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn initial_state_vip_on_lb1_both_vrrp_states_six_backends_up() {
    let lab = lab();
    let mut live = Live::start(&lab);
    let took = live
        .until(SETTLE, "VIP on lb1, MASTER/BACKUP, 6 backends UP, 5 hosts, 3 /readyz, VIP probe", |m| {
            at_rest(m)
                && m.hosts.values().filter(|h| h.data.is_some()).count() == 5
                && m.readyz.values().filter(|r| r.data.as_ref().is_some_and(|r| r.ok)).count() == 3
                && m.vip_probe.data.is_some()
        })
        .await;
    eprintln!("first complete picture after {took:?}");
    let m = &live.model;
    let rows: usize = m.haproxy.values().map(|s| s.data.as_ref().map_or(0, Vec::len)).sum();
    assert_eq!(rows, 6, "2 LBs x 3 masters");
    for (name, h) in &m.hosts {
        let f = h.data.as_ref().expect("host facts");
        assert_eq!(&f.hostname, name, "hostname answers the lab host's name");
        assert!(f.cpus > 0 && f.mem_total_mb > 0 && !f.kernel.is_empty(), "{name}: {f:?}");
        // same clock; None when the machine was too busy to tell
        assert!(f.time_offset_ms.is_none_or(|o| o.abs() < 500), "{name}: same clock, offset {:?}", f.time_offset_ms);
    }
    assert!(m.hosts.values().any(|h| h.data.as_ref().is_some_and(|f| f.time_offset_ms.is_some())), "clock offsets are measured");
    let v1 = m.vrrp["lb1"].data.as_ref().unwrap();
    assert_eq!((v1.instance.as_str(), v1.priority, v1.effective_priority), ("VI_1", 150, 150));
    assert!(v1.last_transition.is_some());
    let a = assess(m, Utc::now());
    let bad: Vec<_> =
        a.findings.iter().filter(|f| matches!(f.panel, PanelId::Vip | PanelId::Haproxy) && f.severity >= Severity::Warn).collect();
    assert!(bad.is_empty(), "VIP and haproxy panels are healthy: {bad:?}");
    let on = |p: PanelId| a.for_panel(p).map(|f| format!("{:?} {}", f.severity, f.message)).collect::<Vec<_>>();
    // the lab's keepalived.conf preempts without preempt_delay: the lint may say so (Info) once the
    // configuration is read; nothing on these panels is a problem
    assert!(a.panel_worst(PanelId::Vip) <= Severity::Info, "{:?}", on(PanelId::Vip));
    assert!(a.panel_worst(PanelId::Haproxy) <= Severity::Info, "{:?}", on(PanelId::Haproxy));
    assert!(
        on(PanelId::Vip).iter().all(|f| !f.starts_with("Info") || f.contains("preempt")),
        "only the configuration's lint: {:?}",
        on(PanelId::Vip)
    );
    let (fresh, kinds) = m.panel_freshness(PanelId::Vip, Utc::now());
    assert!(fresh.is_fresh(), "{fresh:?}");
    assert_eq!(kinds, "ssh");

    // The real binary: `status --json` is evidence of the live picture, etcd and certificates included.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kockpit"));
    let config = lab.var("KOCKPIT_CONFIG").to_string();
    let out = std::process::Command::new(&bin).args(["status", "--json", "--config", &config]).output().expect("kockpit status");
    // the exit code is the health level (0-3); the lab's Hosts drift from the plan may make it degraded
    assert!(matches!(out.status.code(), Some(0..=2)), "status: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("status --json: {e}"));
    assert_eq!(v["exit_code"].as_i64(), out.status.code().map(i64::from));
    let m = &v["model"];
    assert_eq!(m["vrrp"]["lb1"]["data"]["state"], "MASTER", "{}", m["vrrp"]);
    let members = m["etcd"]["data"]["members"].as_array().unwrap_or_else(|| panic!("etcd members: {}", m["etcd"]));
    assert_eq!(members.len(), 3, "{}", m["etcd"]);
    assert_eq!(members.iter().filter(|x| x["is_leader"] == true).count(), 1, "one leader: {}", m["etcd"]);
    assert!(m["etcd"]["source"].as_str().unwrap_or("").starts_with("etcd https"), "{}", m["etcd"]["source"]);
    for master in ["m1", "m2", "m3"] {
        let certs = m["certs"][master]["data"].as_array().unwrap_or_else(|| panic!("{master} certificates: {}", m["certs"][master]));
        assert!(certs.iter().any(|c| c["name"] == "apiserver"), "{master}: {certs:?}");
        assert!(certs.iter().any(|c| c["name"] == "etcd-server"), "{master}: {certs:?}");
    }
    // a one-shot answer starts no stream: its sources say what was seen, nothing of streams starting
    for part in ["vrrp", "haproxy"] {
        for lb in ["lb1", "lb2"] {
            let source = m[part][lb]["source"].as_str().unwrap_or_else(|| panic!("{part} {lb}: {}", m[part][lb]));
            assert!(source.starts_with(&format!("ssh {lb}: ")) && !source.contains("stream") && !source.contains("polling"), "{source}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn keepalived_stopped_on_owner_vip_moves_and_comes_back() {
    let lab = lab();
    let mut live = Live::start(&lab);
    live.until(SETTLE, "lab at rest", at_rest).await;
    let _restore = Restore { lab: &lab, steps: vec![vec!["start", "lb1", "keepalived"]] };
    lab.ha_ok(&["stop", "lb1", "keepalived"]);
    let took = live
        .until(Duration::from_secs(15), "VIP on lb2, lb1 STOPPED", |m| {
            m.vip_holders() == ["lb2"] && vrrp_state(m, "lb1") == Some(VrrpState::Stopped)
        })
        .await;
    eprintln!("failover seen after {took:?}");
    assert_eq!(vrrp_state(&live.model, "lb2"), Some(VrrpState::Master));
    // SIGTERM releases the VIP at once and the peer takes it ~0.5 s later: the timeline says so
    // ("moved lb1 -> lb2 (on no host for 480 ms)", the gap said when the two looks were apart,
    // "VIP lost" before it only when a later look still found it on no host) or, both sampled
    // after the takeover, the move alone: from lb1 either way
    assert!(timeline_has(&live.model, "VIP moved lb1 -> lb2"), "{}", describe(&live.model));
    assert!(!timeline_has(&live.model, "SPLIT BRAIN"), "no false split brain around a failover: {}", describe(&live.model));
    assert!(timeline_has(&live.model, "keepalived lb1 MASTER -> STOPPED"), "{}", describe(&live.model));
    let a = assess(&live.model, Utc::now());
    assert!(a.for_panel(PanelId::Vip).any(|f| f.message.contains("lb1 keepalived not running")), "{:?}", a.findings);

    lab.ha_ok(&["start", "lb1", "keepalived"]);
    live.until(Duration::from_secs(25), "VIP back on lb1 (preempt), lb2 BACKUP", at_rest).await;
    assert!(timeline_has(&live.model, "lb2 -> lb1") || timeline_has(&live.model, "nobody -> lb1"), "{}", describe(&live.model));
    assert!(!timeline_has(&live.model, "SPLIT BRAIN"), "no false split brain around a failback: {}", describe(&live.model));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn backend_killed_turns_down_on_both_lbs_then_up() {
    let lab = lab();
    let mut live = Live::start(&lab);
    live.until(SETTLE, "lab at rest", at_rest).await;
    let _restore = Restore { lab: &lab, steps: vec![vec!["start", "m2", "apiserver"]] };
    lab.ha_ok(&["stop", "m2", "apiserver"]);
    live.until(Duration::from_secs(15), "m2 DOWN on lb1 and lb2", |m| {
        ["lb1", "lb2"].iter().all(|lb| server_status(m, lb, "m2") == Some(ServerStatus::Down))
    })
    .await;
    let m = &live.model;
    let row = m.haproxy["lb1"].data.as_ref().unwrap().iter().find(|b| b.server == "m2").unwrap().clone();
    assert_eq!(row.status_text, "DOWN");
    assert!(row.check_status.as_deref().is_some_and(|c| c.starts_with("L4") || c.starts_with("L6") || c.starts_with("L7")), "{row:?}");
    assert!(timeline_has(m, "haproxy lb1 m2 UP -> DOWN"), "{}", describe(m));
    let a = assess(m, Utc::now());
    assert_eq!(a.panel_worst(PanelId::Haproxy), Severity::Warn, "{:?}", a.findings);
    // this test runs the SSH probes only: etcd and the nodes are never seen, so they are unknown (and
    // say so), which outranks the haproxy warning; nothing is critical
    let unknown: Vec<PanelId> = a.findings.iter().filter(|f| f.severity == Severity::Unknown).map(|f| f.panel).collect();
    assert_eq!(unknown, [PanelId::Etcd, PanelId::Nodes], "{:?}", a.findings);
    assert_eq!(a.level, HealthLevel::Unknown, "{:?}", a.findings);
    assert!(m.readyz.get("m2").is_some_and(|r| r.error.is_some()), "direct /readyz of m2 fails too");

    lab.ha_ok(&["start", "m2", "apiserver"]);
    live.until(Duration::from_secs(20), "m2 UP again on both", |m| {
        ["lb1", "lb2"].iter().all(|lb| server_status(m, lb, "m2") == Some(ServerStatus::Up))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn frozen_owner_is_split_brain_critical() {
    let lab = lab();
    let mut live = Live::start(&lab);
    live.until(SETTLE, "lab at rest", at_rest).await;
    // `start` thaws a frozen service (CONT)
    let _restore = Restore { lab: &lab, steps: vec![vec!["start", "lb1", "keepalived"]] };
    lab.ha_ok(&["stop", "lb1", "keepalived", "STOP"]);
    live.until(Duration::from_secs(15), "both LBs hold the VIP", |m| m.vip_holders() == ["lb1", "lb2"]).await;
    let m = &live.model;
    assert_eq!(vrrp_state(m, "lb1"), Some(VrrpState::Unknown), "a frozen keepalived answers nothing");
    assert_eq!(vrrp_state(m, "lb2"), Some(VrrpState::Master));
    assert!(timeline_has(m, "SPLIT BRAIN: VIP on lb1 and lb2"), "{}", describe(m));
    let a = assess(m, Utc::now());
    assert_eq!(a.level, HealthLevel::Critical);
    assert!(a.findings.iter().any(|f| f.severity == Severity::Critical && f.message.contains("split brain")), "{:?}", a.findings);

    lab.ha_ok(&["stop", "lb1", "keepalived", "CONT"]);
    live.until(Duration::from_secs(20), "VIP on lb1 only again", at_rest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn cut_host_is_unreachable_others_stay_live() {
    let lab = lab();
    let mut live = Live::start(&lab);
    live.until(SETTLE, "every host seen", |m| m.hosts.values().filter(|h| h.data.is_some()).count() == 5).await;
    // a pool of our own, warmed up, to time a probe round of the others during the cut
    let pool = lab.pool(AccessMode::ReadOnly);
    for h in ["lb1", "lb2", "m1", "m2", "m3"] {
        pool.connect(h).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let _restore = Restore { lab: &lab, steps: vec![vec!["heal", "m3"]] };
    let timeout = Duration::from_secs(3);
    let others = ["lb1", "lb2", "m1", "m2"];
    let round_of_others = || async {
        let t = Instant::now();
        let r = futures_util::future::join_all(others.map(|h| hosts::probe_host(&pool, h, timeout))).await;
        (t.elapsed(), r)
    };
    let (normal, r) = round_of_others().await;
    assert!(r.iter().all(Result::is_ok), "{r:?}");
    lab.ha_ok(&["cut", "m3"]);
    let (during, m3) = tokio::join!(round_of_others(), async {
        let t = Instant::now();
        (hosts::probe_host(&pool, "m3", timeout).await, t.elapsed())
    });
    eprintln!("probe round of the 4 others: {normal:?} before the cut, {:?} during it; m3 failed after {:?}", during.0, m3.1);
    assert!(during.1.iter().all(Result::is_ok), "{:?}", during.1);
    // "within its normal time": not waiting for m3 (which takes its full timeout), and no slower
    // than the same round before the cut, give or take the noise of a shared 2-core machine
    assert!(during.0 < m3.1, "the others finished before m3's probe gave up");
    assert!(during.0 < normal * 3 + Duration::from_millis(500), "the others' round took {:?} during the cut, {normal:?} before", during.0);
    let e = m3.0.unwrap_err();
    assert!(e.starts_with("ssh: "), "{e}");

    live.until(Duration::from_secs(20), "m3 failing", |m| m.hosts.get("m3").is_some_and(|h| h.error.is_some())).await;
    // the others keep updating while m3 fails
    let before: HashMap<String, _> = live.model.hosts.iter().map(|(k, v)| (k.clone(), v.updated)).collect();
    live.until(Duration::from_secs(10), "lb1 lb2 m1 m2 updated again", |m| {
        ["lb1", "lb2", "m1", "m2"].iter().all(|h| m.hosts[*h].updated > before[*h])
    })
    .await;
    let now = Utc::now();
    for h in ["lb1", "lb2", "m1", "m2"] {
        assert!(live.model.hosts[h].freshness(now).is_fresh(), "{h}: {:?}", live.model.hosts[h].freshness(now));
    }
    let reason = live.model.hosts["m3"].error.as_ref().unwrap().reason.clone();
    eprintln!("m3 while cut: {reason}");
    assert!(reason.starts_with("ssh: ") && reason.len() > 10, "{reason}");
    assert!(timeline_has(&live.model, "m3: ssh: "), "{}", describe(&live.model));
    assert!(live.model.hosts["m1"].error.is_none());

    lab.ha_ok(&["heal", "m3"]);
    live.until(Duration::from_secs(30), "m3 back", |m| m.hosts.get("m3").is_some_and(|h| h.error.is_none() && h.data.is_some())).await;
    assert!(timeline_has(&live.model, "m3: recovered"));
}

/// Two busy loops, one per core, for as long as this lives (killed by PID when dropped).
struct Busy(Vec<std::process::Child>);

impl Busy {
    fn both_cores() -> Busy {
        Busy((0..2).map(|_| std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("a busy loop")).collect())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The screen's VIP panel for this model, as the app draws it at 120x40.
fn screen_of(m: &Model) -> String {
    let mut app = kockpit::app::App::new(
        m.clone(),
        kockpit::settings::theme::Theme::builtin("mono").unwrap(),
        vec![],
        kockpit::settings::keymap::Keymap::builtin("default").unwrap(),
        WriteCap::acquire(true),
        kockpit::ops::audit::Audit::discard(),
        true,
    );
    kockpit::ui::render_text(&mut app, 120, 40, Utc::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn an_owner_that_cannot_be_seen_is_unknown_never_not_held_under_load() {
    let lab = lab();
    let mut live = Live::start(&lab);
    live.until(SETTLE, "lab at rest", at_rest).await;
    let _busy = Busy::both_cores();
    let moves_before = live.model.timeline.iter().filter(|e| e.text.starts_with("VIP") || e.text.contains("SPLIT")).count();

    // 1. every sshd process of lb1 frozen (listener and sessions): its probes starve, keepalived on
    //    lb1 goes on holding the VIP
    let _restore = Restore { lab: &lab, steps: vec![vec!["start", "lb1", "sshd"], vec!["heal", "lb1"]] };
    lab.ha_ok(&["stop", "lb1", "sshd", "STOP"]);
    let t = live
        .until_checking(
            Duration::from_secs(40),
            "lb1 unseen",
            |m| matches!(m.vip_verdict(Utc::now()), VipVerdict::Unknown { .. }),
            never_claims_without_facts,
        )
        .await;
    eprintln!("lb1's sshd frozen: the VIP's holder shown unknown after {:.1}s (both cores busy)", t.as_secs_f64());
    let now = Utc::now();
    let v = live.model.vip_verdict(now);
    let VipVerdict::Unknown { unseen } = &v else { unreachable!() };
    assert_eq!((unseen[0].lb.as_str(), unseen[0].held), ("lb1", Some(true)), "{v:?}");
    let a = assess(&live.model, now);
    assert_eq!(a.level, HealthLevel::Unknown, "{:#?}", a.findings);
    assert_eq!(a.level.exit_code(), 3);
    let f = a.findings.iter().find(|f| f.severity == Severity::Unknown && f.panel == PanelId::Vip).expect("an unknown VIP finding");
    assert!(f.message.starts_with("VIP holder unknown: lb1: ") && f.message.contains("held the VIP"), "{}", f.message);
    let screen = screen_of(&live.model);
    assert!(screen.contains("holder UNKNOWN: lb1 not seen") && !screen.contains("NOT HELD"), "{screen}");
    assert!(screen.contains("VIP?"), "lb1's last value stays, marked: {screen}");
    // lb2 is seen all along, as BACKUP
    assert!(live.model.vrrp["lb2"].freshness(now).is_fresh());
    assert_eq!(vrrp_state(&live.model, "lb2"), Some(VrrpState::Backup));

    // 2. thawed: lb1 holds it, known again; a starved probe moved nothing on the timeline
    lab.ha_ok(&["start", "lb1", "sshd"]);
    live.until_checking(
        Duration::from_secs(40),
        "lb1 seen holding the VIP",
        |m| matches!(m.vip_verdict(Utc::now()), VipVerdict::Held { ref holder, ref unseen } if holder == "lb1" && unseen.is_empty()),
        never_claims_without_facts,
    )
    .await;
    let moves = live.model.timeline.iter().filter(|e| e.text.starts_with("VIP") || e.text.contains("SPLIT")).count();
    assert_eq!(moves, moves_before, "no VIP transition without two observations\n{}", describe(&live.model));

    // 3. the owner's link cut: lb2 takes the VIP (no adverts from lb1); lb1 cannot be seen. One fresh
    //    holder and an unseen one is not a split brain: the VIP is on lb2, and lb1 is named unseen
    lab.ha_ok(&["cut", "lb1"]);
    let t = live
        .until_checking(
            Duration::from_secs(40),
            "VIP on lb2 with lb1 unseen",
            |m| matches!(m.vip_verdict(Utc::now()), VipVerdict::Held { ref holder, ref unseen } if holder == "lb2" && unseen.iter().any(|u| u.lb == "lb1")),
            never_claims_without_facts,
        )
        .await;
    eprintln!("lb1's link cut: VIP shown on lb2 with lb1 unseen after {:.1}s", t.as_secs_f64());
    let screen = screen_of(&live.model);
    assert!(screen.contains("on lb2 (seen ") && screen.contains("lb1 not seen"), "{screen}");
    let a = assess(&live.model, Utc::now());
    assert!(!a.findings.iter().any(|f| f.message.contains("split brain")), "{:#?}", a.findings);
    lab.ha_ok(&["heal", "lb1"]);
    live.until(Duration::from_secs(40), "lab at rest again", at_rest).await;
}

/// Run the haproxy probe's script beside a real haproxy started with `cfg`, in a PID and mount
/// namespace of their own (the script looks at every haproxy in /proc: here it sees only this one).
/// `plan_socket` is the socket the plan names. Returns (exit code, stdout, stderr).
fn show_stat_beside(dir: &Path, cfg: &str, plan_socket: &str) -> (i32, String, String) {
    std::fs::write(dir.join("haproxy.cfg"), cfg).unwrap();
    let script = kockpit::probe::haproxy::SHOW_STAT_SCRIPT;
    let inner = format!(
        "haproxy -f {d}/haproxy.cfg -D -p {d}/haproxy.pid || exit 90\n\
         for i in $(seq 50); do [ -s {d}/haproxy.pid ] && break; sleep 0.1; done; sleep 0.3\n\
         exec sh -c \"$0\" kockpit \"$1\"",
        d = dir.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", &inner, script, plan_socket])
        .output()
        .unwrap_or_else(|e| harness::cannot_run("the haproxy socket test", &format!("unshare: {e}")));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The outside PID of the haproxy started with `dir`'s configuration (in a PID namespace of its own).
fn haproxy_pid_of(dir: &Path) -> Option<i32> {
    let want = format!("{}/haproxy.cfg", dir.display());
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        let cmdline = std::fs::read_to_string(e.path().join("cmdline")).ok()?;
        (comm.trim() == "haproxy" && cmdline.split('\0').any(|a| a == want)).then_some(pid)
    })
}

#[test]
#[ignore = "lab: needs root and haproxy (tests/run runs it)"]
fn the_stats_watch_says_each_server_change_as_haproxy_makes_it() {
    if std::process::Command::new("haproxy").arg("-v").output().is_err() {
        harness::cannot_run("the haproxy stats watch test", "haproxy is not installed");
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (front, m1) = (free(), free());
    let mut apiserver = Some(std::net::TcpListener::bind(("127.0.0.1", m1)).unwrap());
    // Debian's global section (its socket under the test's directory), health checks as fast as
    // haproxy allows so the test does not wait for them
    let cfg = format!(
        "global\n    stats socket {}/admin.sock mode 660 level admin\n\
         defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1m\n    timeout server 1m\n\
         frontend fe\n    bind 127.0.0.1:{front}\n    default_backend be\n\
         backend be\n    server m1 127.0.0.1:{m1} check inter 100 fall 1 rise 1\n    server m2 127.0.0.1:1 check inter 100 fall 1 rise 1\n",
        d.display()
    );
    std::fs::write(d.join("haproxy.cfg"), cfg).unwrap();
    // the socket the plan names is not there: the one haproxy's configuration names is watched
    let mut w = WatchRun::beside(d, true, "");
    w.until("session", Duration::from_secs(10), &|l| l == "@@kockpit-watching");
    for round in 0..2 {
        let t = Instant::now();
        drop(apiserver.take());
        let (at, l) = w.until("m1 DOWN", Duration::from_secs(5), &|l| l.starts_with("@@kockpit-server be/m1 "));
        assert_eq!(l, "@@kockpit-server be/m1 0 0", "round {round}: m1 stopped (op state 0)");
        eprintln!("round {round}: m1 DOWN said {:?} after its apiserver went", at - t);
        apiserver = Some(std::net::TcpListener::bind(("127.0.0.1", m1)).unwrap());
        let (_, l) = w.until("m1 UP", Duration::from_secs(5), &|l| l.starts_with("@@kockpit-server be/m1 "));
        assert_eq!(l, "@@kockpit-server be/m1 2 0", "round {round}: m1 running (op state 2)");
    }
    // m2 never answers: no change to say, ever; and a word every second
    w.until("a word", Duration::from_secs(3), &|l| l == "@@kockpit-alive");
    assert!(apiserver.is_some());
    // the channel closed: the watch ends, with everything it started
    drop(w.child.stdin.take());
    assert!(w.exits_within(Duration::from_secs(5)).is_some(), "the watch still runs 5 s after its standard input closed");

    // haproxy killed under a running watch: the session is lost, the watch says why and ends, to be
    // started again and find the socket anew
    let mut w = WatchRun::beside(d, true, "");
    w.until("session", Duration::from_secs(10), &|l| l == "@@kockpit-watching");
    let pid = haproxy_pid_of(d).expect("the test's haproxy");
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let (_, l) = w.until("the session lost", Duration::from_secs(5), &|l| l.starts_with("@@kockpit-lost"));
    let why = l.strip_prefix(&format!("@@kockpit-lost {}/admin.sock: ", d.display())).unwrap_or("");
    assert!(["write: Broken pipe", "read: Connection reset", "connect: Connection refused"].iter().any(|w| why.starts_with(w)), "{l}");
    assert_eq!(w.exits_within(Duration::from_secs(5)), Some(0), "the watch ends by itself once its session is lost");
    // started again with haproxy gone (its socket file left behind, the plan naming it): not running,
    // said as such
    let mut w = WatchRun::beside(d, false, &format!("{}/admin.sock", d.display()));
    assert_eq!(w.exits_within(Duration::from_secs(10)), Some(3), "haproxy is not running: exit 3");
    let err = w.stderr();
    assert!(err.contains("haproxy is not running") && err.contains("left behind"), "{err}");
}

#[test]
#[ignore = "lab: needs root and haproxy (tests/run runs it)"]
fn a_reloaded_haproxy_is_watched_within_a_second_not_after_its_session_ends() {
    if std::process::Command::new("haproxy").arg("-v").output().is_err() {
        harness::cannot_run("the haproxy stats watch test", "haproxy is not installed");
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let m1 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = format!(
        "global\n    stats socket {d}/admin.sock mode 660 level admin\n\
         defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1m\n    timeout server 1m\n\
         backend be\n    server m1 {addr} check inter 100 fall 1 rise 1\n",
        d = d.display(),
        addr = m1.local_addr().unwrap()
    );
    std::fs::write(d.join("haproxy.cfg"), cfg).unwrap();
    let mut w = WatchRun::beside(d, true, "");
    w.until("session", Duration::from_secs(10), &|l| l == "@@kockpit-watching");
    std::thread::sleep(Duration::from_millis(500));
    // a reload as haproxy's own -sf makes one (systemd's reload of a haproxy without master-worker):
    // a new process takes the socket's path, the old one finishes what it serves, the watch's
    // session with it
    w.in_its_namespace(&format!("haproxy -f {d}/haproxy.cfg -D -p {d}/haproxy.pid -sf $(cat {d}/haproxy.pid)", d = d.display()));
    std::thread::sleep(Duration::from_millis(300));
    // a change only the new process knows: m1 put in maintenance on its socket
    let t = Instant::now();
    w.in_its_namespace(&format!("echo 'disable server be/m1' | socat - {}/admin.sock", d.display()));
    let (at, l) = w.until("m1 in maintenance", Duration::from_secs(5), &|l| l.starts_with("@@kockpit-server be/m1 "));
    eprintln!("m1 in maintenance said {:?} after the new process made it", at - t);
    assert!(!l.ends_with(" 0"), "an administrative state: {l}");
    assert!(at - t < Duration::from_secs(3), "the new process watched within a second or two, not after the 10 s session: {:?}", at - t);
    drop(w.child.stdin.take());
    assert!(w.exits_within(Duration::from_secs(5)).is_some());
    drop(m1);
}

/// One run of the haproxy stats watch beside the haproxy of `dir`'s configuration (started first
/// when `start`; `plan_socket`: the plan's), in a PID and mount namespace of its own; its lines as they come.
struct WatchRun {
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<(Instant, String)>,
}

impl WatchRun {
    fn beside(dir: &Path, start: bool, plan_socket: &str) -> WatchRun {
        use std::io::BufRead;
        let haproxy = if start {
            format!(
                "haproxy -f {d}/haproxy.cfg -D -p {d}/haproxy.pid || exit 90\n\
                 for i in $(seq 50); do [ -s {d}/haproxy.pid ] && break; sleep 0.1; done; sleep 0.3\n",
                d = dir.display()
            )
        } else {
            String::new()
        };
        let inner = format!("rm -f {d}/haproxy.pid\n{haproxy}exec sh -c \"$0\" kockpit \"$1\"", d = dir.display());
        let mut child = std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "sh", "-c", &inner, kockpit::transport::scripts::STATS_WATCH_SCRIPT, plan_socket])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| harness::cannot_run("the haproxy stats watch test", &format!("unshare: {e}")));
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send((Instant::now(), l));
            }
        });
        WatchRun { child, rx }
    }

    /// Run `script` in the watch's PID and mount namespaces (where its haproxy runs), as root.
    fn in_its_namespace(&self, script: &str) {
        let unshare = self.child.id();
        let inner = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).unwrap_or_default();
        let pid = inner.split_whitespace().next().unwrap_or_else(|| panic!("no process inside the watch's namespace"));
        let out = std::process::Command::new("nsenter").args(["-t", pid, "-p", "-m", "sh", "-c", script]).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The first line `pred` accepts within `limit` (and when it came); only the watch's own lines pass.
    fn until(&mut self, what: &str, limit: Duration, pred: &dyn Fn(&str) -> bool) -> (Instant, String) {
        let t0 = Instant::now();
        loop {
            let left = limit.checked_sub(t0.elapsed()).unwrap_or_else(|| panic!("no {what} within {limit:?}"));
            let (at, l) = self.rx.recv_timeout(left).unwrap_or_else(|_| panic!("no {what} within {limit:?}"));
            if pred(&l) {
                return (at, l);
            }
            assert!(l.starts_with("@@kockpit-"), "only the watch's own lines leave the host: {l:?}");
        }
    }

    /// Its exit code once it ends within `limit` (None: still running, then killed).
    fn exits_within(&mut self, limit: Duration) -> Option<i32> {
        let t = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if t.elapsed() >= limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

#[test]
#[ignore = "lab: needs root and haproxy (tests/run runs it)"]
fn the_stats_socket_is_found_where_the_running_haproxy_has_it() {
    if std::process::Command::new("haproxy").arg("-v").output().is_err() {
        harness::cannot_run("the haproxy socket test", "haproxy is not installed");
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let stats_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // CentOS 7's default global section: the socket at /var/lib/haproxy/stats (here under the test's
    // directory), user level; the kubeadm HA guide's backend
    let body = format!(
        "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 1m\n    timeout server 1m\n\
         frontend apiserver\n    bind 127.0.0.1:{port}\n    default_backend apiserverbackend\n\
         backend apiserverbackend\n    option httpchk GET /healthz\n    http-check expect status 200\n    balance roundrobin\n\
         \x20   server m1 127.0.0.1:1 check check-ssl verify none inter 2s fall 3 rise 2\n"
    );
    let centos = format!("global\n    maxconn 4000\n    # turn on stats unix socket\n    stats socket {}/stats\n\n{body}", d.display());
    let (rc, out, err) = show_stat_beside(d, &centos, "/run/haproxy/not-here.sock");
    assert_eq!(rc, 0, "{err}");
    let first = out.lines().next().unwrap_or("");
    assert_eq!(first, format!("@@kockpit-socket {0}/stats {0}/haproxy.cfg", d.display()), "{out}");
    let (found, stat) = kockpit::probe::haproxy::split_found(&out);
    assert_eq!(found, format!("{0}/stats (from {0}/haproxy.cfg)", d.display()));
    let servers = kockpit::probe::parse::parse_show_stat(stat, "").unwrap();
    assert!(servers.iter().any(|b| b.backend == "apiserverbackend" && b.server == "m1"), "{servers:?}");

    // a TCP stats socket (`ipv4@`, user level) works the same
    let tcp = format!("global\n    stats socket ipv4@127.0.0.1:{stats_port} level user\n\n{body}");
    let (rc, out, err) = show_stat_beside(d, &tcp, "");
    assert_eq!(rc, 0, "{err}");
    assert!(out.starts_with(&format!("@@kockpit-socket ipv4@127.0.0.1:{stats_port} {}/haproxy.cfg\n", d.display())), "{out}");

    // the plan's socket, when it is there, is used as is
    let (rc, out, _) = show_stat_beside(d, &centos, &format!("{}/stats", d.display()));
    assert_eq!(rc, 0);
    assert!(out.starts_with(&format!("@@kockpit-socket {}/stats plan\n", d.display())), "{out}");

    // no stats socket at all: the reason names what was tried and the line to add
    let (rc, out, err) = show_stat_beside(d, &format!("global\n    maxconn 100\n\n{body}"), "/run/haproxy/not-here.sock");
    assert_eq!(rc, 2, "{out}{err}");
    assert!(err.contains("no haproxy stats socket") && err.contains("/run/haproxy/not-here.sock"), "{err}");
    assert!(err.contains(&format!("config: {}/haproxy.cfg", d.display())), "{err}");
    assert!(err.contains("stats socket /run/haproxy/admin.sock mode 660 level admin"), "{err}");
}

#[test]
#[ignore = "lab: needs root (tests/run runs it)"]
fn the_ha_configuration_is_read_with_its_includes_and_without_its_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("keepalived/conf.d")).unwrap();
    std::fs::create_dir_all(d.join("haproxy/conf.d")).unwrap();
    // a tutorial's keepalived.conf, its instance in an include (relative glob)
    std::fs::write(
        d.join("keepalived/keepalived.conf"),
        "global_defs {\n  router_id LVS_DEVEL\n}\nvrrp_script chk_haproxy {\n  script \"killall -0 haproxy\"\n  interval 3\n  fall 10\n  weight -2\n}\ninclude conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::write(
        d.join("keepalived/conf.d/vi1.conf"),
        "vrrp_instance VI_1 {\n  state MASTER\n  priority 100\n  authentication {\n    auth_type PASS\n    auth_pass s3cr3tpw # the secret\n  }\n}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("haproxy/conf.d/00-global.cfg"),
        "global\n  stats socket /var/lib/haproxy/stats\nlisten stats\n  bind :9000\n  stats enable\n  stats auth admin:hunter2\n",
    )
    .unwrap();
    std::fs::write(d.join("haproxy/conf.d/10-api.cfg"), "frontend api\n  bind *:16443\n").unwrap();
    let script = kockpit::probe::haconfig::HA_CONFIG_SCRIPT;
    // its own PID namespace: no running keepalived or haproxy, so the plan's paths are used
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", script, "kockpit"])
        .arg(d.join("keepalived/keepalived.conf"))
        .arg(d.join("haproxy/conf.d"))
        .output()
        .unwrap_or_else(|e| harness::cannot_run("the HA configuration test", &format!("unshare: {e}")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("s3cr3tpw") && !text.contains("hunter2"), "secrets leave the host: {text}");
    let h = kockpit::probe::haconfig::parse_ha_files(&text);
    let names: Vec<String> = h.keepalived.iter().map(|(p, _)| p.rsplit('/').next().unwrap().to_string()).collect();
    assert_eq!(names, ["keepalived.conf", "vi1.conf"], "{text}");
    assert!(h.keepalived[1].1.contains("auth_pass <redacted> # the secret"), "{}", h.keepalived[1].1);
    let names: Vec<String> = h.haproxy.iter().map(|(p, _)| p.rsplit('/').next().unwrap().to_string()).collect();
    assert_eq!(names, ["00-global.cfg", "10-api.cfg"]);
    assert!(h.haproxy[0].1.contains("stats auth admin:<redacted>"), "{}", h.haproxy[0].1);
    assert!(h.versions.get("haproxy").is_some_and(|v| v.contains("HAProxy")), "{:?}", h.versions);
    assert!(h.tools.iter().any(|t| t == "pgrep" || t == "pidof"), "{:?}", h.tools);
    // an unreadable file is named, not skipped
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", script, "kockpit", "/nonexistent/keepalived.conf", ""])
        .output()
        .unwrap();
    let h = kockpit::probe::haconfig::parse_ha_files(&String::from_utf8_lossy(&out.stdout));
    assert!(
        h.unreadable.iter().any(|(k, p, why)| k == "keepalived" && p == "/nonexistent/keepalived.conf" && why == "no such file"),
        "{h:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn haproxy_killed_on_the_owner_is_predicted_from_keepalived_conf_then_checked() {
    let lab = lab();
    let mut live = Live::start(&lab);
    live.until(SETTLE, "lab at rest with each LB's configuration read", |m| at_rest(m) && m.ha_config.len() == 2).await;
    let _restore = Restore { lab: &lab, steps: vec![vec!["start", "lb1", "haproxy"]] };
    lab.ha_ok(&["stop", "lb1", "haproxy", "KILL"]);
    let stopped = Instant::now();
    let t = live.until(Duration::from_secs(10), "the prediction", |m| m.prediction.is_some()).await;
    let p = live.model.prediction.clone().unwrap();
    eprintln!("prediction {:.2}s after the kill: {}", t.as_secs_f64(), p.text);
    // from the lab's own keepalived.conf: chk_haproxy interval 1 x fall 2, weight -60 (150 -> 90 < 140)
    assert_eq!((p.holder.as_str(), p.after.as_deref(), p.moves), ("lb1", Some("lb2"), true), "{p:?}");
    assert!(p.text.starts_with("haproxy dead on lb1, which holds the VIP") && p.text.contains("150 -> 90"), "{}", p.text);
    let a = assess(&live.model, Utc::now());
    assert!(
        a.findings.iter().any(|f| f.severity == Severity::Critical && f.message.starts_with("predicted: haproxy dead on lb1")),
        "{:#?}",
        a.findings
    );
    assert!(timeline_has(&live.model, "predicted: haproxy dead on lb1"));
    // then what really happened, against it
    live.until(Duration::from_secs(20), "VIP on lb2", |m| m.vip_holders() == ["lb2"]).await;
    let moved = stopped.elapsed();
    // (`VIP moved lb1 -> lb2`, or from `nobody` when lb1 was seen letting go before lb2 was seen taking it)
    let e = live
        .model
        .timeline
        .iter()
        .find(|e| e.text.starts_with("VIP moved ") && e.text.contains("-> lb2"))
        .cloned()
        .unwrap_or_else(|| panic!("{}", describe(&live.model)));
    eprintln!("{} ({:.1}s after the kill)", e.text, moved.as_secs_f64());
    assert!(
        e.text.starts_with("VIP moved lb1 -> lb2 (") && e.text.contains("(as predicted: lb2 within ~"),
        "{}\n{}",
        e.text,
        describe(&live.model)
    );
    assert!(moved.as_secs_f64() <= p.within_s + 5.0, "took {moved:?}, predicted within {} s", p.within_s);
    assert!(live.model.prediction.is_none(), "settled");

    lab.ha_ok(&["start", "lb1", "haproxy"]);
    live.until(Duration::from_secs(30), "lab at rest again", at_rest).await;
}

/// A copy of the lab's ssh_config whose hosts use `known_hosts` instead of the lab's file.
fn ssh_config_with_known_hosts(lab: &Lab, known_hosts: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(lab.ssh_config()).expect("lab ssh_config");
    let lab_kh = lab.dir().join("known_hosts");
    let replaced =
        text.replace(&format!("UserKnownHostsFile {}", lab_kh.display()), &format!("UserKnownHostsFile {}", known_hosts.display()));
    assert_ne!(text, replaced, "the lab's ssh_config names its known_hosts");
    let p = dir.join("ssh_config");
    std::fs::write(&p, replaced).expect("write temp ssh_config");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn changed_host_key_is_refused_naming_host_and_fingerprint() {
    let lab = lab();
    let kh = lab.dir().join("known_hosts");
    let before = std::fs::read(&kh).expect("lab known_hosts");
    // `up` rewrites known_hosts from the hosts' current keys: that is how the lab is made whole again
    let _restore = Restore { lab: &lab, steps: vec![vec!["up"]] };
    let out = lab.ha_ok(&["rekey", "m1"]);
    let new_fp =
        out.split("-> ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_else(|| panic!("rekey output: {out}")).to_string();
    assert!(new_fp.starts_with("SHA256:"), "{out}");
    // the restarted sshd may need a moment to listen
    let listening = async {
        while tokio::net::TcpStream::connect("10.213.0.21:22").await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), listening).await.expect("m1's sshd listens again");

    for accept_new in [false, true] {
        let pool = SshPool::new(PoolOptions {
            ssh_config: Some(lab.ssh_config()),
            accept_new_host_keys: accept_new,
            use_agent: false,
            ..PoolOptions::default()
        })
        .unwrap();
        let e = pool.run("m1", "hostname", Duration::from_secs(5)).await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SshError::HostKeyChanged { .. }), "accept_new={accept_new}: {msg}");
        assert!(msg.starts_with("m1: ") && msg.contains(&new_fp), "names the host and the offered fingerprint: {msg}");
        // the other hosts are unaffected
        assert_eq!(pool.run("m2", "hostname", Duration::from_secs(5)).await.unwrap().stdout.trim(), "m2");
    }
    assert_eq!(std::fs::read(&kh).unwrap(), before, "known_hosts unchanged");
    // and through the live probes: the Hosts panel names the reason
    let mut live = Live::start(&lab);
    live.until(Duration::from_secs(15), "m1 refused", |m| m.hosts.get("m1").is_some_and(|h| h.error.is_some())).await;
    let reason = &live.model.hosts["m1"].error.as_ref().unwrap().reason;
    assert!(reason.contains("HOST KEY CHANGED") && reason.contains(&new_fp), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn unknown_host_key_refused_strictly_accepted_with_accept_new() {
    let lab = lab();
    let tmp = tempfile::tempdir().unwrap();
    let kh = tmp.path().join("known_hosts");
    std::fs::write(&kh, "").unwrap();
    let cfg = ssh_config_with_known_hosts(&lab, &kh, tmp.path());
    let opts = PoolOptions { ssh_config: Some(cfg.clone()), use_agent: false, ..PoolOptions::default() };
    let strict = SshPool::new(opts.clone()).unwrap();
    let e = strict.run("lb2", "hostname", Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(e, SshError::UnknownHostKey { .. }) && e.to_string().starts_with("lb2: ") && e.to_string().contains("SHA256:"), "{e}");
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), "", "a strict pool records nothing");

    let tofu = SshPool::new(PoolOptions { accept_new_host_keys: true, ..opts.clone() }).unwrap();
    assert_eq!(tofu.run("lb2", "hostname", Duration::from_secs(5)).await.unwrap().stdout.trim(), "lb2");
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(recorded.starts_with("10.213.0.12 ssh-ed25519 "), "{recorded}");
    // now known: a strict pool connects
    let strict = SshPool::new(opts).unwrap();
    assert_eq!(strict.run("lb2", "hostname", Duration::from_secs(5)).await.unwrap().stdout.trim(), "lb2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn proxy_jump_single_and_chain() {
    let lab = lab();
    let pool = lab.pool(AccessMode::ReadOnly);
    let out = pool.run("m1-via-lb1", "hostname", Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stdout.trim(), "m1");
    assert!(pool.is_connected("lb1").await, "the jump connection is the pool's lb1 connection");
    let out = pool.run("m2-via-chain", "hostname", Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stdout.trim(), "m2");
    // reused: a second command opens only a channel
    let t = Instant::now();
    let out = pool.run("m2-via-chain", "hostname", Duration::from_secs(10)).await.unwrap();
    assert_eq!(out.stdout.trim(), "m2");
    eprintln!("command over a reused 3-hop chain: {:?}", t.elapsed());
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn read_only_pool_refuses_and_sends_nothing() {
    let lab = lab();
    let marker = "/tmp/kockpit-readonly-probe";
    let _ = lab.ha(&["exec", "lb1", "rm", "-f", marker]);
    let ro = lab.pool(AccessMode::ReadOnly);
    let e = ro.run("lb1", &format!("touch {marker}"), Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(e, SshError::ReadOnlyRefused { .. }), "{e}");
    assert!(lab.ha(&["exec", "lb1", "test", "-e", marker]).is_err(), "the remote must not have run it");
    // a probe script with an injected argument is not in the set either
    let sneaky =
        format!("{} ; touch {marker}", kockpit::transport::ssh::script_command(kockpit::probe::haproxy::SHOW_STAT_SCRIPT, &["/x"]));
    assert!(matches!(ro.run("lb1", &sneaky, Duration::from_secs(5)).await, Err(SshError::ReadOnlyRefused { .. })));
    assert!(lab.ha(&["exec", "lb1", "test", "-e", marker]).is_err());
    // while the read-only probes work
    let facts = hosts::probe_host(&ro, "lb1", Duration::from_secs(5)).await.unwrap();
    assert_eq!(facts.hostname, "lb1");

    // the write path needs a WriteCap and a read-write pool; it does run (which proves the refusal above meant something)
    let rw = lab.pool(AccessMode::ReadWrite);
    let cap = WriteCap::acquire(false).expect("a writable process");
    assert!(
        rw.run("lb1", &format!("touch {marker}"), Duration::from_secs(5)).await.is_err(),
        "run() is the read-only path even on a read-write pool"
    );
    let out = rw.run_write(&cap, "lb1", &format!("touch {marker} && echo done"), Duration::from_secs(5)).await.unwrap();
    assert_eq!(out.stdout.trim(), "done");
    assert!(lab.ha(&["exec", "lb1", "test", "-e", marker]).is_ok());
    rw.run_write(&cap, "lb1", &format!("rm -f {marker}"), Duration::from_secs(5)).await.unwrap();
    assert!(WriteCap::acquire(true).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn vrrp_password_never_leaves_the_host() {
    let lab = lab();
    let password = std::fs::read_to_string(lab.dir().join("vrrp.pass")).expect("the lab's VRRP password file");
    let password = password.trim();
    assert!(password.len() >= 4);
    let pool = lab.pool(AccessMode::ReadOnly);
    let cmd = kockpit::transport::ssh::script_command(
        kockpit::probe::keepalived::VRRP_SCRIPT,
        &["/tmp/keepalived.json", "/run/keepalived.state"],
    );
    let out = pool.run("lb1", &cmd, Duration::from_secs(5)).await.unwrap();
    assert!(
        out.stdout.contains("\"auth_data\":\"-\""),
        "the dump was read and redacted on the host: {}",
        &out.stdout[..out.stdout.len().min(300)]
    );
    assert!(!out.stdout.contains(password) && !out.stderr.contains(password));
    // the file on the host does carry it (so the redaction is what kept it out)
    let raw = lab.ha_ok(&["exec", "lb1", "cat", "/tmp/keepalived.json"]);
    assert!(raw.contains(password));
    let v = kockpit::probe::keepalived::vrrp_from_output(&out.stdout, Some("10.213.0.100".parse().unwrap())).unwrap();
    assert!(!format!("{v:?}").contains(password));
}

/// Removes a file when dropped (also when an assertion fails).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn every_host_logs_in_to_a_home_of_its_own() {
    let lab = lab();
    // a file in the machine's /root, and one in m2's own home (made from the root namespace)
    let pid = std::process::id();
    let machine = RemoveOnDrop(PathBuf::from(format!("/root/.kockpit-lab-machine-{pid}")));
    std::fs::write(&machine.0, "the machine's\n").unwrap();
    let own = RemoveOnDrop(lab.dir().join(format!("hosts/m2/home/.kockpit-lab-own-{pid}")));
    std::fs::write(&own.0, "m2's\n").unwrap();
    let pool = lab.pool(AccessMode::ReadWrite);
    let cap = WriteCap::acquire(false).expect("a writable process");
    for h in ["lb1", "lb2", "m1", "m2", "m3"] {
        let out = pool
            .run_write(&cap, h, r#"printf '%s\n' "$HOME"; cat "$HOME/.kockpit-lab-home"; ls -A "$HOME""#, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.get(..2), Some(&["/root", h][..]), "{h}: HOME is /root, holding the host's own marker: {out:?}");
        let listing = &lines[2..];
        assert!(!listing.iter().any(|f| f.starts_with(".kockpit-lab-machine-")), "{h} sees the machine's /root: {listing:?}");
        for rc in [".bashrc", ".profile", ".bash_profile", ".pyenv"] {
            assert!(!listing.contains(&rc), "{h}: {rc} in the host's home: {listing:?}");
        }
        assert_eq!(listing.contains(&format!(".kockpit-lab-own-{pid}").as_str()), h == "m2", "{h}: {listing:?}");
        assert!(out.stderr.is_empty(), "{h}: nothing started at login says anything: {}", out.stderr);
    }
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn a_slow_login_is_reported_as_such_and_the_probe_does_not_time_out() {
    let lab = lab();
    // m1's shell start-up file sleeps 5 s at every login; the probes' command timeout is 3 s
    let rc = RemoveOnDrop(lab.dir().join("hosts/m1/home/.bashrc"));
    std::fs::write(&rc.0, "sleep 5\n").unwrap();
    let settings = lab.settings();
    assert_eq!(settings.command_timeout, Duration::from_secs(3));
    let started = Instant::now();
    let mut handle = probe::spawn(&lab.plan(), settings);
    let mut model = Model::new(lab.plan(), Mode::ReadOnly, "lab");
    let mut notices: Vec<String> = Vec::new();
    let mut m1_errors: Vec<String> = Vec::new();
    let mut m1_facts_after = None;
    while m1_facts_after.is_none() || notices.is_empty() {
        let left = Duration::from_secs(40).saturating_sub(started.elapsed());
        match tokio::time::timeout(left, handle.events.recv()).await {
            Ok(Some(BackendEvent::Obs(o))) => {
                if let kockpit::model::Payload::Host { host, result } = &o.payload
                    && host == "m1"
                {
                    match result {
                        Ok(_) => {
                            m1_facts_after.get_or_insert(started.elapsed());
                        }
                        Err(e) => m1_errors.push(e.clone()),
                    }
                }
                model.apply(o);
            }
            Ok(Some(BackendEvent::Notice(n))) => notices.push(n),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the live backend stopped"),
            Err(_) => panic!("after 40 s: m1 facts {m1_facts_after:?}, notices {notices:?}, m1 errors {m1_errors:?}"),
        }
    }
    eprintln!("m1's first facts after {m1_facts_after:?}; notices {notices:?}");
    assert!(m1_errors.is_empty(), "m1's probe failed: {m1_errors:?}");
    let said: Vec<&String> = notices.iter().filter(|n| n.starts_with("login on m1 took ")).collect();
    assert_eq!(said.len(), 1, "one notice of m1's slow login: {notices:?}");
    let secs: f64 = said[0].trim_start_matches("login on m1 took ").trim_end_matches(" s").parse().expect("seconds");
    assert!((4.9..15.0).contains(&secs), "the login took about 5 s: {}", said[0]);
    assert!(!notices.iter().any(|n| n.starts_with("login on ") && !n.starts_with("login on m1 ")), "only m1 is slow: {notices:?}");
    // the facts are fresh and were not reported as a timed-out probe
    assert!(m1_facts_after.unwrap() >= Duration::from_secs(5));
    assert!(!timeline_has(&model, "m1: ssh: "), "{}", describe(&model));
    drop(handle);
}
