//! VIP failover and drill host actions through the live backend against the real lab (`tests/lab/ha`):
//! `kockpit::probe::spawn` -> `Command::Execute` / `Command::Host`, as the app sends them. What changed
//! is checked independently of kockpit (the lab's own status, the track file read from the host's
//! private tree, a client loop of the test's own against the VIP), and every fault is undone by a
//! Drop guard, also when an assertion fails.
//!
//! The lab tests are `#[ignore]`d; without the lab (not root, no namespaces) they fail, with the reason.
//! Run: `flock /var/tmp/kockpit-labtests.lock cargo test --test lab_failover -- --include-ignored --test-threads=1`.
//! `KOCKPIT_FAILOVER_RUNS=5` repeats the graceful and emergency failovers and prints their figures.

#[path = "common/lab.rs"]
mod harness;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kockpit::backend::{BackendEvent, BackendHandle, Command};
use kockpit::drill::HostAction;
use kockpit::inventory::{DemoteMethod, Plan};
use kockpit::ops::{FailoverMode, OpEvent, OpRequest, ServerAdmin, WriteCap};
use kockpit::probe::failover::CLIENT_TIMEOUT;
use kockpit::probe::{self, LiveSettings};

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
    fn plan(&self) -> Plan {
        Plan::load(Path::new(self.var("KOCKPIT_CONFIG"))).unwrap_or_else(|e| panic!("the lab's plan: {e}"))
    }
    fn ha(&self, args: &[&str]) -> Result<String, String> {
        harness::run_bounded(&self.script, args, Duration::from_secs(90))
    }
    fn ha_ok(&self, args: &[&str]) -> String {
        self.ha(args).unwrap_or_else(|e| panic!("tests/lab/ha {}: {e}", args.join(" ")))
    }
    /// `tests/lab/ha status`, degraded or not.
    fn status(&self) -> String {
        self.ha(&["status"]).unwrap_or_else(|e| e)
    }
    /// Who holds the VIP, from the lab's own look at the namespaces.
    fn vip_holders(&self) -> String {
        let s = self.status();
        s.lines()
            .find_map(|l| l.split_once(": held by ").map(|(_, h)| h.split(" (").next().unwrap_or("").trim().to_string()))
            .unwrap_or_default()
    }
    fn wait_vip(&self, on: &str, limit: Duration) -> Duration {
        let t = Instant::now();
        loop {
            let h = self.vip_holders();
            if h == on {
                return t.elapsed();
            }
            assert!(t.elapsed() < limit, "VIP not on {on} within {limit:?} (held by {h:?})\n{}", self.status());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    /// A service's state in `status`: running, frozen or stopped.
    fn service(&self, host: &str, svc: &str) -> String {
        let s = self.status();
        let line = s.lines().find(|l| l.starts_with(&format!("{host} "))).unwrap_or_default().to_string();
        line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{svc}="))).unwrap_or("?").to_string()
    }
    fn wait_service(&self, host: &str, svc: &str, state: &str, limit: Duration) {
        let t = Instant::now();
        while self.service(host, svc) != state {
            assert!(t.elapsed() < limit, "{host} {svc} not {state} within {limit:?}\n{}", self.status());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    /// The host's private file, read from the root namespace (not through kockpit).
    fn host_file(&self, host: &str, path: &str) -> PathBuf {
        PathBuf::from(self.var("KOCKPIT_LAB_DIR")).join("hosts").join(host).join("fs").join(path.trim_start_matches('/'))
    }
    fn track_file(&self, host: &str) -> String {
        std::fs::read_to_string(self.host_file(host, "/etc/keepalived/kockpit-demote")).unwrap_or_default().trim().to_string()
    }
    fn vip(&self) -> SocketAddr {
        format!("{}:6443", self.var("KOCKPIT_LAB_VIP")).parse().expect("lab VIP")
    }
}

/// Bring the lab up (idempotent) at rest: VIP on lb1, nothing demoted. A lab that cannot be had is a
/// failure, with the reason.
fn lab() -> Lab {
    let lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let script = harness::script("ha");
    let env = harness::up(&script, Duration::from_secs(300)).unwrap_or_else(|why| harness::cannot_run("the HA lab", &why));
    let lab = Lab { script, env, _lock: lock };
    assert_eq!(lab.track_file("lb1"), "0", "the lab starts undemoted");
    lab.wait_vip("lb1", Duration::from_secs(20));
    lab
}

/// Puts the lab back at rest when dropped: track files 0, saved keepalived configurations gone (a
/// restart writes a fresh one), every LB service running, then `up` (waits for the VIP on lb1).
struct Restore<'a> {
    lab: &'a Lab,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let lab = self.lab;
        for lb in ["lb1", "lb2"] {
            let _ = std::fs::write(lab.host_file(lb, "/etc/keepalived/kockpit-demote"), "0\n");
            if lab.host_file(lb, "/etc/keepalived/keepalived.conf.kockpit-saved").exists() {
                let _ = std::fs::remove_file(lab.host_file(lb, "/etc/keepalived/keepalived.conf.kockpit-saved"));
                let _ = lab.ha(&["stop", lb, "keepalived"]);
            }
        }
        for args in [["heal", "m3", ""], ["start", "lb2", "haproxy"], ["start", "lb1", "keepalived"], ["start", "lb2", "keepalived"]] {
            let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
            if let Err(e) = lab.ha(&args) {
                eprintln!("restore `tests/lab/ha {}` failed: {e}", args.join(" "));
            }
        }
        if let Err(e) = lab.ha(&["up"]) {
            eprintln!("restore `tests/lab/ha up` failed: {e}");
        }
    }
}

/// A client of the test's own: TCP connects to the VIP every 20 ms in a thread, judged as kockpit
/// judges them (`CLIENT_TIMEOUT`: failed; the longest successful connect is kept). Every failure and
/// every connect slower than 100 ms is kept with its time since the start.
struct Clients {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<ClientRecord>,
}

#[derive(Default)]
struct ClientRecord {
    attempts: u32,
    failed: u32,
    slowest: Duration,
    /// `+MS: what` for failures and slow connects, in order.
    events: Vec<String>,
}

impl ClientRecord {
    fn errors(&self) -> String {
        self.events.join("; ")
    }
}

impl Clients {
    fn start(addr: SocketAddr) -> Clients {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut rec = ClientRecord::default();
            while !flag.load(Ordering::Relaxed) {
                rec.attempts += 1;
                let t = Instant::now();
                let r = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT);
                if r.is_ok() {
                    rec.slowest = rec.slowest.max(t.elapsed());
                }
                let took = t.elapsed().as_millis();
                let at = t.duration_since(t0).as_millis();
                match r {
                    Err(e) => {
                        rec.failed += 1;
                        rec.events.push(format!("+{at} ms: {e} after {took} ms"));
                    }
                    Ok(_) if took > 100 => rec.events.push(format!("+{at} ms: connected after {took} ms")),
                    Ok(_) => {}
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            rec
        });
        Clients { stop, thread }
    }
    fn finish(self) -> ClientRecord {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("client thread")
    }
}

struct Backend {
    handle: BackendHandle,
    next: u64,
}

struct Outcome {
    ok: bool,
    summary: String,
    steps: Vec<String>,
}

impl Backend {
    fn start(lab: &Lab, plan: &Plan, readonly: bool) -> Backend {
        let settings = LiveSettings { ssh_config: Some(PathBuf::from(lab.var("KOCKPIT_SSH_CONFIG"))), ..LiveSettings::new(readonly) };
        Backend { handle: probe::spawn(plan, settings), next: 1 }
    }

    /// Send a command built for a fresh id and collect its steps until it finishes.
    async fn run(&mut self, make: impl FnOnce(u64) -> Command, limit: Duration) -> Outcome {
        let id = self.next;
        self.next += 1;
        self.handle.commands.send(make(id)).expect("backend running");
        let started = Instant::now();
        let mut steps = Vec::new();
        loop {
            let left = limit.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, self.handle.events.recv()).await {
                Ok(Some(BackendEvent::Op(OpEvent::Step { id: i, text, ok }))) if i == id => {
                    steps.push(format!("[{}] {text}", if ok { "ok" } else { "FAIL" }))
                }
                Ok(Some(BackendEvent::Op(OpEvent::Finished { id: i, ok, summary }))) if i == id => {
                    eprintln!("op {id}: ok={ok} {summary}\n  {}", steps.join("\n  "));
                    return Outcome { ok, summary, steps };
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("the live backend stopped"),
                Err(_) => panic!("operation {id} did not finish within {limit:?}; steps so far:\n{}", steps.join("\n")),
            }
        }
    }

    async fn execute(&mut self, request: OpRequest) -> Outcome {
        let cap = WriteCap::acquire(false).expect("a writable test process");
        self.run(|id| Command::Execute { id, request, cap }, Duration::from_secs(60)).await
    }

    async fn host(&mut self, action: HostAction) -> Outcome {
        let cap = WriteCap::acquire(false).expect("a writable test process");
        self.run(|id| Command::Host { id, action, cap }, Duration::from_secs(90)).await
    }
}

/// (connections, failed, longest gap in ms) from a client loop's figures in a summary:
/// "161 client connections, 0 failed[, 1 slow (the slowest took 1013 ms)] (longest gap 28 ms)".
fn client_figures(summary: &str) -> (u32, u32, u64) {
    let num_before = |needle: &str| -> u64 {
        let i = summary.find(needle).unwrap_or_else(|| panic!("{needle:?} not in {summary:?}"));
        let digits: String = summary[..i].chars().rev().take_while(|c| c.is_ascii_digit()).collect();
        digits.chars().rev().collect::<String>().parse().unwrap_or_else(|_| panic!("no number before {needle:?} in {summary:?}"))
    };
    let gap = summary.split_once("(longest gap ").and_then(|(_, r)| r.split(' ').next()).and_then(|n| n.parse().ok());
    (num_before(" client connections") as u32, num_before(" failed") as u32, gap.unwrap_or_else(|| panic!("no longest gap in {summary:?}")))
}

/// What a graceful move of the VIP may cost a client: no failed connect, and no wait longer than one
/// SYN retransmission (sent after 1 s: a SYN in flight to the old owner when it let the VIP go). The
/// breaches, for kockpit's client loops (their summaries) and the test's own clients; empty when none.
fn graceful_breaches(summaries: &[&str], own: &ClientRecord) -> Vec<String> {
    let one_retransmission = 1500;
    let mut bad: Vec<String> = summaries
        .iter()
        .filter(|s| {
            let (_, failed, gap) = client_figures(s);
            failed > 0 || gap >= one_retransmission
        })
        .map(|s| format!("kockpit's client loop: {s}"))
        .collect();
    if own.failed > 0 || own.slowest.as_millis() >= u128::from(one_retransmission) {
        bad.push(format!(
            "the test's own clients: {} failed, the slowest took {} ms: {}",
            own.failed,
            own.slowest.as_millis(),
            own.errors()
        ));
    }
    bad
}

/// "VIP on lb2 after 2.9 s" in a summary.
fn move_secs(summary: &str) -> f64 {
    let rest = summary.split_once(" after ").map(|(_, r)| r).unwrap_or_else(|| panic!("no move time in {summary:?}"));
    rest.split(" s").next().unwrap_or("").parse().unwrap_or_else(|_| panic!("no move time in {summary:?}"))
}

fn runs() -> usize {
    std::env::var("KOCKPIT_FAILOVER_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn graceful_failover_to_lb2_without_a_failed_client_then_restore() {
    let lab = lab();
    let _restore = Restore { lab: &lab };
    let mut be = Backend::start(&lab, &lab.plan(), false);
    harness::watch_stalls();
    let (mut run, mut retried) = (1, false);
    while run <= runs() {
        let started = Instant::now();
        let clients = Clients::start(lab.vip());
        let out = be.execute(OpRequest::VipFailover { to: "lb2".into(), mode: FailoverMode::Graceful }).await;
        assert!(out.ok, "graceful failover failed: {}\n{}", out.summary, out.steps.join("\n"));
        assert!(out.summary.starts_with("VIP on lb2 after "), "{}", out.summary);
        assert!(out.steps.iter().any(|s| s.contains("checked just now") && s.contains("haproxy on lb2: 3/3")), "{:?}", out.steps);
        assert!(out.steps.iter().any(|s| s.contains("/readyz 200")), "verified through the VIP: {:?}", out.steps);
        assert_eq!(lab.vip_holders(), "lb2", "the lab sees the VIP on lb2");
        assert_eq!(lab.track_file("lb1"), "1", "lb1 demoted through its track file");
        let (attempts, failed, gap) = client_figures(&out.summary);
        assert!(attempts > 20, "the client loop ran during the failover: {}", out.summary);

        let back = be.execute(OpRequest::RestoreVipPriority { lb: "lb1".into() }).await;
        assert!(back.ok, "restore failed: {}\n{}", back.summary, back.steps.join("\n"));
        assert!(back.summary.contains("priority 150 restored") && back.summary.contains("VIP back on lb1"), "{}", back.summary);
        assert_eq!(lab.track_file("lb1"), "0");
        lab.wait_vip("lb1", Duration::from_secs(5));
        let own = clients.finish();
        let (n, own_failed) = (own.attempts, own.failed);
        assert!(n > 50, "the test's own client loop ran: {n}");
        let bad = graceful_breaches(&[&out.summary, &back.summary], &own);
        if !bad.is_empty() && stood_still(&mut retried, started) {
            continue;
        }
        assert!(bad.is_empty(), "{}{}", bad.join("\n"), stall_note(started));
        eprintln!(
            "FIGURES graceful run {run}: VIP moved in {:.1} s; {attempts} client connections, {failed} failed, longest gap {gap} ms; back on lb1 in {:.1} s; test client: {n} connections, {own_failed} failed, slowest {} ms{}",
            move_secs(&out.summary),
            move_secs(back.summary.split_once("VIP back on lb1").map(|(_, r)| r).unwrap_or("")),
            own.slowest.as_millis(),
            if own.events.is_empty() { String::new() } else { format!(" ({})", own.errors()) },
        );
        run += 1;
    }
}

/// A client's wait measured while the machine itself stood still (see `harness::longest_stall_since`)
/// says nothing about the failover: a run that breached is repeated, once. True when it should be.
fn stood_still(retried: &mut bool, started: Instant) -> bool {
    let stall = harness::longest_stall_since(started);
    if *retried || stall < Duration::from_millis(400) {
        return false;
    }
    eprintln!("the machine stood still for {stall:?} during the measurement: running it again");
    *retried = true;
    true
}

/// How long this process stood still at most since `started`, for a failure's message.
fn stall_note(started: Instant) -> String {
    format!("; the longest stall of this process since the start: {} ms", harness::longest_stall_since(started).as_millis())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn emergency_failover_stops_keepalived_and_restore_starts_it() {
    let lab = lab();
    let _restore = Restore { lab: &lab };
    let mut be = Backend::start(&lab, &lab.plan(), false);
    for run in 1..=runs() {
        let out = be.execute(OpRequest::VipFailover { to: "lb2".into(), mode: FailoverMode::Emergency }).await;
        assert!(out.ok, "emergency failover failed: {}\n{}", out.summary, out.steps.join("\n"));
        assert!(out.summary.starts_with("VIP on lb2 after ") && out.summary.contains("keepalived stays stopped on lb1"), "{}", out.summary);
        assert_eq!(lab.service("lb1", "keepalived"), "stopped");
        assert_eq!(lab.vip_holders(), "lb2");
        assert_eq!(lab.track_file("lb1"), "0", "an emergency failover does not touch the track file");
        let (attempts, failed, gap) = client_figures(&out.summary);
        // the client loop ran through the failover (how many connections fit depends on its length:
        // a 1.1 s failover with one SYN answered on its retransmission leaves room for five)
        assert!(attempts >= 3, "{}", out.summary);

        let back = be.execute(OpRequest::RestoreVipPriority { lb: "lb1".into() }).await;
        assert!(back.ok, "restore failed: {}\n{}", back.summary, back.steps.join("\n"));
        assert!(back.steps.iter().any(|s| s.contains("lb1: keepalived started")), "{:?}", back.steps);
        assert!(back.summary.contains("VIP back on lb1"), "{}", back.summary);
        assert_eq!(lab.service("lb1", "keepalived"), "running");
        lab.wait_vip("lb1", Duration::from_secs(5));
        let slow = out.summary.split_once(" failed, ").and_then(|(_, r)| r.split_once(" (longest")).map(|(s, _)| s).unwrap_or("0 slow");
        eprintln!(
            "FIGURES emergency run {run}: VIP moved in {:.1} s; {attempts} client connections, {failed} failed, {slow}, longest gap {gap} ms",
            move_secs(&out.summary)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn failover_refused_when_the_peers_haproxy_is_down() {
    let lab = lab();
    let _restore = Restore { lab: &lab };
    lab.ha_ok(&["stop", "lb2", "haproxy"]);
    let mut be = Backend::start(&lab, &lab.plan(), false);
    let out = be.execute(OpRequest::VipFailover { to: "lb2".into(), mode: FailoverMode::Graceful }).await;
    assert!(!out.ok, "a failover to an LB without haproxy must be refused: {}", out.summary);
    assert!(out.summary.contains("refused") && out.summary.contains("haproxy on lb2"), "{}", out.summary);
    assert_eq!(lab.track_file("lb1"), "0", "nothing changed on lb1");
    assert_eq!(lab.vip_holders(), "lb1");
    assert_eq!(lab.service("lb1", "keepalived"), "running");
    // and emergency too: stopping lb1's keepalived would send the VIP nowhere useful
    let out = be.execute(OpRequest::VipFailover { to: "lb2".into(), mode: FailoverMode::Emergency }).await;
    assert!(!out.ok && out.summary.contains("haproxy on lb2"), "{}", out.summary);
    assert_eq!(lab.service("lb1", "keepalived"), "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn failover_refused_to_the_owner_and_to_a_non_lb() {
    let lab = lab();
    let mut be = Backend::start(&lab, &lab.plan(), false);
    let out = be.execute(OpRequest::VipFailover { to: "lb1".into(), mode: FailoverMode::Graceful }).await;
    assert!(!out.ok && out.summary.contains("lb1 already holds the VIP"), "{}", out.summary);
    let out = be.execute(OpRequest::VipFailover { to: "m1".into(), mode: FailoverMode::Graceful }).await;
    assert!(!out.ok && out.summary.contains("not a keepalived host"), "{}", out.summary);
    assert_eq!(lab.track_file("lb1"), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn read_only_process_cannot_fail_over_nor_drill() {
    let lab = lab();
    let _restore = Restore { lab: &lab };
    // a capability smuggled into a read-only process: the SSH pool below still refuses
    let mut be = Backend::start(&lab, &lab.plan(), true);
    let out = be.execute(OpRequest::VipFailover { to: "lb2".into(), mode: FailoverMode::Graceful }).await;
    assert!(!out.ok && out.summary.contains("read-only"), "{}", out.summary);
    let out = be.execute(OpRequest::RestoreVipPriority { lb: "lb1".into() }).await;
    assert!(!out.ok && out.summary.contains("read-only"), "{}", out.summary);
    let out = be.host(HostAction::Stop { host: "lb1".into(), service: "keepalived".into(), signal: "TERM".into() }).await;
    assert!(!out.ok && out.summary.contains("read-only"), "{}", out.summary);
    assert_eq!(lab.track_file("lb1"), "0", "the track file is unchanged");
    assert_eq!(lab.service("lb1", "keepalived"), "running");
    assert_eq!(lab.vip_holders(), "lb1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn drill_host_actions_stop_freeze_start_cut_heal() {
    let lab = lab();
    let _restore = Restore { lab: &lab };
    let mut be = Backend::start(&lab, &lab.plan(), false);

    let out = be.host(HostAction::Stop { host: "lb1".into(), service: "keepalived".into(), signal: "TERM".into() }).await;
    assert!(out.ok, "{}\n{}", out.summary, out.steps.join("\n"));
    assert!(out.steps.iter().any(|s| s.contains("over SSH")), "{:?}", out.steps);
    assert_eq!(lab.service("lb1", "keepalived"), "stopped");
    lab.wait_vip("lb2", Duration::from_secs(10));
    let out = be.host(HostAction::Start { host: "lb1".into(), service: "keepalived".into() }).await;
    assert!(out.ok, "{}", out.summary);
    lab.wait_service("lb1", "keepalived", "running", Duration::from_secs(5));
    lab.wait_vip("lb1", Duration::from_secs(15));

    // another signal goes through the kill template; start thaws
    let out = be.host(HostAction::Stop { host: "lb2".into(), service: "haproxy".into(), signal: "STOP".into() }).await;
    assert!(out.ok, "{}", out.summary);
    assert_eq!(lab.service("lb2", "haproxy"), "frozen");
    let out = be.host(HostAction::Start { host: "lb2".into(), service: "haproxy".into() }).await;
    assert!(out.ok, "{}", out.summary);
    assert_eq!(lab.service("lb2", "haproxy"), "running");

    // a link is cut from here, not over SSH
    let out = be.host(HostAction::Cut { host: "m3".into() }).await;
    assert!(out.ok && out.steps.iter().any(|s| s.contains("on this machine")), "{}\n{:?}", out.summary, out.steps);
    assert!(lab.status().lines().any(|l| l.starts_with("m3 ") && l.contains(" CUT ")), "{}", lab.status());
    let out = be.host(HostAction::Heal { host: "m3".into() }).await;
    assert!(out.ok, "{}", out.summary);
    assert!(lab.status().lines().any(|l| l.starts_with("m3 ") && l.contains(" up ")), "{}", lab.status());

    // a service name that is not one
    let out = be.host(HostAction::Stop { host: "lb1".into(), service: "keepalived; reboot".into(), signal: "TERM".into() }).await;
    assert!(!out.ok && out.summary.contains("invalid service"), "{}", out.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn drill_host_actions_refused_unless_the_plan_allows_drills() {
    let lab = lab();
    let _restore = Restore { lab: &lab };
    let mut plan = lab.plan();
    plan.access.allow_drills = false;
    let mut be = Backend::start(&lab, &plan, false);
    let out = be.host(HostAction::Stop { host: "lb1".into(), service: "keepalived".into(), signal: "TERM".into() }).await;
    assert!(!out.ok && out.summary.contains("allow_drills"), "{}", out.summary);
    let out = be.host(HostAction::Cut { host: "m3".into() }).await;
    assert!(!out.ok && out.summary.contains("allow_drills"), "{}", out.summary);
    assert_eq!(lab.service("lb1", "keepalived"), "running");
    assert!(lab.status().lines().any(|l| l.starts_with("m3 ") && l.contains(" up ")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn graceful_failover_by_priority_change_and_reload() {
    let lab = lab();
    let _restore = Restore { lab: &lab };
    let mut plan = lab.plan();
    plan.lb.demote = DemoteMethod::Priority;
    let conf = lab.host_file("lb1", "/etc/keepalived/keepalived.conf");
    let original = std::fs::read_to_string(&conf).expect("lb1 keepalived.conf");
    assert!(original.contains("priority 150"));
    let mut be = Backend::start(&lab, &plan, false);
    harness::watch_stalls();
    let mut retried = false;
    loop {
        let started = Instant::now();
        let clients = Clients::start(lab.vip());
        let out = be.execute(OpRequest::VipFailover { to: "lb2".into(), mode: FailoverMode::Graceful }).await;
        assert!(out.ok, "{}\n{}", out.summary, out.steps.join("\n"));
        assert!(out.steps.iter().any(|s| s.contains("keepalived reloaded")), "{:?}", out.steps);
        let edited = std::fs::read_to_string(&conf).unwrap();
        assert!(edited.contains("priority 1\n") && !edited.contains("priority 150"), "{edited}");
        assert_eq!(lab.track_file("lb1"), "0", "the priority way leaves the track file alone");
        assert_eq!(lab.vip_holders(), "lb2");
        let back = be.execute(OpRequest::RestoreVipPriority { lb: "lb1".into() }).await;
        assert!(back.ok && back.summary.contains("VIP back on lb1"), "{}\n{}", back.summary, back.steps.join("\n"));
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), original, "the original configuration is back");
        assert!(!lab.host_file("lb1", "/etc/keepalived/keepalived.conf.kockpit-saved").exists());
        lab.wait_vip("lb1", Duration::from_secs(5));
        let own = clients.finish();
        assert!(own.attempts > 50, "the test's own client loop ran: {}", own.attempts);
        let bad = graceful_breaches(&[&out.summary, &back.summary], &own);
        if !bad.is_empty() && stood_still(&mut retried, started) {
            continue;
        }
        assert!(bad.is_empty(), "{}{}", bad.join("\n"), stall_note(started));
        break;
    }
}

/// The stall watch the failover measurements rely on sees a process that stood still: this one,
/// stopped for 1.5 s by a child (SIGSTOP, then SIGCONT).
#[test]
fn the_stall_watch_sees_this_process_stopped() {
    harness::watch_stalls();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    assert!(harness::longest_stall_since(t) < Duration::from_secs(1), "no stall yet");
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -STOP {me}; sleep 1.5; kill -CONT {me}", me = std::process::id())])
        .status()
        .expect("sh");
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(200));
    let stall = harness::longest_stall_since(t);
    assert!(stall >= Duration::from_secs(1) && stall < Duration::from_secs(5), "{stall:?}");
}

/// `kockpit run`, the process an operator starts on a jump host: the plan, then with --yes the
/// failover against the real keepalived, then the restore; the lab's own look agrees at each step.
#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn headless_run_fails_the_vip_over_and_restores_it() {
    let lab = lab();
    let _restore = Restore { lab: &lab };
    let tmp = tempfile::tempdir().unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kockpit"));
    let audit = tmp.path().join("audit.jsonl");
    let dir = tmp.path().to_str().unwrap().to_string();
    let run = |args: &[&str]| -> Result<String, String> {
        let mut all = vec!["run", "--config", lab.var("KOCKPIT_CONFIG"), "--audit-log", audit.to_str().unwrap(), "--wait", "5"];
        all.extend_from_slice(args);
        harness::run_env(&bin, &all, &[("KOCKPIT_CONFIG_DIR", &dir), ("XDG_STATE_HOME", &dir)], Duration::from_secs(120))
    };
    // the plan alone changes nothing
    let plan = run(&["failover", "--to", "lb2"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.starts_with("Graceful VIP failover to lb2\n") && plan.contains("not carried out"), "{plan}");
    assert_eq!(lab.vip_holders(), "lb1");
    // to the owner: refused, exit 1, nothing changed
    let refused = run(&["failover", "lb1", "--yes"]).expect_err("refused");
    assert!(refused.contains("REFUSED:") && refused.contains("lb1 already holds the VIP"), "{refused}");
    assert_eq!(lab.track_file("lb1"), "0");
    // carried out and verified
    let out = run(&["failover", "lb2", "--yes"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("done: VIP on lb2 after "), "{out}");
    assert_eq!(lab.vip_holders(), "lb2", "the lab sees the VIP on lb2");
    assert_eq!(lab.track_file("lb1"), "1", "lb1 demoted through its track file");
    let back = run(&["restore", "--lb", "lb1", "--yes"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(back.contains("done: lb1: keepalived priority 150 restored") && back.contains("VIP back on lb1"), "{back}");
    lab.wait_vip("lb1", Duration::from_secs(5));
    assert_eq!(lab.track_file("lb1"), "0");
    // every operation's end is on the audit log, after its confirmation
    let log = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(log.matches("\"op_confirmed\"").count(), 2, "{log}");
    assert_eq!(log.matches("\"op_finished\"").count(), 2, "{log}");
}

impl Lab {
    /// haproxy's own word on SERVER on LB (`STATUS SESSIONS`), read by the test over the lab, not by
    /// kockpit.
    fn hap_status(&self, lb: &str, server: &str) -> String {
        let sock = self.var("KOCKPIT_LAB_HAP_SOCK");
        let out = self.ha_ok(&["exec", lb, "sh", "-c", &format!("echo 'show stat' | socat -t 2 stdio unix-connect:{sock}")]);
        for line in out.lines() {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() > 17 && f[1] == server && f[0] != "stats" {
                return format!("{} {}", f[17], f[4]);
            }
        }
        panic!("no server {server} in lb's show stat:\n{out}")
    }
    fn hap_ready_everywhere(&self, server: &str) {
        let sock = self.var("KOCKPIT_LAB_HAP_SOCK");
        let be = self.var("KOCKPIT_LAB_HAP_BACKEND");
        for lb in ["lb1", "lb2"] {
            let cmd = format!("echo 'set server {be}/{server} state ready' | socat -t 2 stdio unix-connect:{sock}");
            if let Err(e) = self.ha(&["exec", lb, "sh", "-c", &cmd]) {
                eprintln!("restore: {lb}: {e}");
            }
        }
    }
}

/// Sets every apiserver ready in haproxy again and starts the apiservers a test stopped, when dropped.
struct ServersBack<'a> {
    lab: &'a Lab,
}

impl Drop for ServersBack<'_> {
    fn drop(&mut self) {
        for m in ["m1", "m2", "m3"] {
            self.lab.hap_ready_everywhere(m);
            let _ = self.lab.ha(&["start", m, "apiserver"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn an_apiserver_is_drained_from_haproxy_on_every_lb_then_made_ready_verified_without_a_failed_client() {
    let lab = lab();
    let _back = ServersBack { lab: &lab };
    let mut be = Backend::start(&lab, &lab.plan(), false);
    // connections held open through the VIP: some land on m2, and the drain waits for them
    let held: Vec<TcpStream> = (0..6).filter_map(|_| TcpStream::connect_timeout(&lab.vip(), Duration::from_secs(2)).ok()).collect();
    let started = Instant::now();
    while lab.hap_status("lb1", "m2").ends_with(" 0") {
        assert!(started.elapsed() < Duration::from_secs(5), "a held connection reaches m2: {}", lab.hap_status("lb1", "m2"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        drop(held);
    });
    let clients = Clients::start(lab.vip());
    let out = be.execute(OpRequest::HaproxyServer { server: "m2".into(), admin: ServerAdmin::Drain }).await;
    closer.join().unwrap();
    assert!(out.ok, "{}\n{}", out.summary, out.steps.join("\n"));
    let waited = out.steps.iter().find_map(|s| s.strip_prefix("[ok] no session left on any LB after ")).expect("waited for the sessions");
    let waited: f64 = waited.trim_end_matches(" s").parse().unwrap();
    assert!(waited >= 1.5, "the drain waited for the held sessions to close (~3 s after they opened), not {waited} s");
    assert!(out.summary.contains("m2 in MAINT on lb1, lb2, verified"), "{}", out.summary);
    for lb in ["lb1", "lb2"] {
        assert!(lab.hap_status(lb, "m2").starts_with("MAINT "), "{lb}: {}", lab.hap_status(lb, "m2"));
        assert!(lab.hap_status(lb, "m1").starts_with("UP "), "the others stay: {}", lab.hap_status(lb, "m1"));
    }
    // every socket was asked its level before anything was changed; drain came before maintenance
    let level = out.steps.iter().position(|s| s.contains("lb2: haproxy socket") && s.contains("level admin")).expect("levels");
    let drain = out.steps.iter().position(|s| s.contains("lb1: set server") && s.ends_with("m2 state drain")).expect("drain");
    let maint = out.steps.iter().position(|s| s.contains("lb2: set server") && s.ends_with("m2 state maint")).expect("maint");
    assert!(level < drain && drain < maint, "{:?}", out.steps);
    // in maintenance already: a second drain is planned with a warning, ready undoes it
    let out = be.execute(OpRequest::HaproxyServer { server: "m2".into(), admin: ServerAdmin::Ready }).await;
    assert!(out.ok && out.summary.contains("m2 ready and UP on lb1, lb2, verified"), "{}\n{}", out.summary, out.steps.join("\n"));
    for lb in ["lb1", "lb2"] {
        assert!(lab.hap_status(lb, "m2").starts_with("UP "), "{lb}: {}", lab.hap_status(lb, "m2"));
    }
    let rec = clients.finish();
    assert!(rec.attempts > 20, "the client loop ran ({} attempts)", rec.attempts);
    assert_eq!(rec.failed, 0, "no client connect failed through the VIP: {}", rec.errors());
    // ready again on every LB: a second ready has nothing to do and changes nothing
    let out = be.execute(OpRequest::HaproxyServer { server: "m2".into(), admin: ServerAdmin::Ready }).await;
    assert!(!out.ok && out.summary.contains("in service on every LB already"), "{}", out.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn draining_the_last_up_apiserver_is_refused_and_changes_nothing() {
    let lab = lab();
    let _back = ServersBack { lab: &lab };
    lab.ha_ok(&["stop", "m1", "apiserver"]);
    lab.ha_ok(&["stop", "m3", "apiserver"]);
    let started = Instant::now();
    while !["lb1", "lb2"].iter().all(|lb| ["m1", "m3"].iter().all(|m| lab.hap_status(lb, m).starts_with("DOWN "))) {
        assert!(started.elapsed() < Duration::from_secs(20), "m1 and m3 DOWN in haproxy: {}", lab.hap_status("lb1", "m1"));
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut be = Backend::start(&lab, &lab.plan(), false);
    let out = be.execute(OpRequest::HaproxyServer { server: "m2".into(), admin: ServerAdmin::Drain }).await;
    assert!(!out.ok, "{}", out.summary);
    assert!(out.summary.starts_with("refused, nothing changed"), "{}", out.summary);
    assert!(out.summary.contains("would have no UP server left (m1 DOWN, m3 DOWN)"), "{}", out.summary);
    for lb in ["lb1", "lb2"] {
        assert!(lab.hap_status(lb, "m2").starts_with("UP "), "{lb}: {}", lab.hap_status(lb, "m2"));
    }
    // and a read-only process refuses below the planner, whatever capability it was handed
    let mut ro = Backend::start(&lab, &lab.plan(), true);
    let out = ro.execute(OpRequest::HaproxyServer { server: "m1".into(), admin: ServerAdmin::Ready }).await;
    assert!(!out.ok && out.summary.contains("read-only"), "{}", out.summary);
}

/// The member that leads etcd, as `kockpit status --json` sees it.
fn etcd_leader(lab: &Lab, bin: &Path, envs: &[(&str, &str)]) -> String {
    let out = harness::run_env(bin, &["status", "--json", "--config", lab.var("KOCKPIT_CONFIG")], envs, Duration::from_secs(60))
        .unwrap_or_else(|e| e);
    let json = &out[out.find('{').unwrap_or_else(|| panic!("no JSON from status: {out}"))..];
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {out}"));
    let members = v["model"]["etcd"]["data"]["members"].as_array().unwrap_or_else(|| panic!("no etcd members: {out}"));
    members.iter().find(|m| m["is_leader"] == true).and_then(|m| m["name"].as_str()).expect("a leader").to_string()
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn a_maintenance_cancelled_while_haproxy_drains_stops_there_and_says_what_is_left() {
    use std::io::BufRead;
    let lab = lab();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();
    let envs = [("KOCKPIT_CONFIG_DIR", dir.as_str()), ("XDG_STATE_HOME", dir.as_str())];
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kockpit"));
    let leader = etcd_leader(&lab, &bin, &envs);
    let _back = ServersBack { lab: &lab };
    // connections held open through the VIP, some on the leader's apiserver: the drain waits for them
    let held: Vec<TcpStream> = (0..9).filter_map(|_| TcpStream::connect_timeout(&lab.vip(), Duration::from_secs(2)).ok()).collect();
    let started = Instant::now();
    while lab.hap_status("lb1", &leader).ends_with(" 0") {
        assert!(started.elapsed() < Duration::from_secs(5), "a held connection reaches {leader}: {}", lab.hap_status("lb1", &leader));
        std::thread::sleep(Duration::from_millis(100));
    }
    let audit = tmp.path().join("audit.jsonl");
    let mut child = std::process::Command::new(&bin)
        .args(["run", "maintenance", "--host", &leader, "--yes", "--json", "--config", lab.var("KOCKPIT_CONFIG")])
        .args(["--audit-log", audit.to_str().unwrap()])
        .envs(envs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kockpit run");
    let pid = child.id().to_string();
    let lines: Vec<String> = {
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = vec![];
        let mut interrupted = false;
        for line in out.lines() {
            let line = line.unwrap();
            // the leadership moved, haproxy drains, the held sessions keep it waiting: interrupt now
            if !interrupted && line.contains("session(s) still open; waiting") {
                std::process::Command::new("kill").args(["-INT", &pid]).status().expect("kill -INT");
                interrupted = true;
            }
            lines.push(line);
        }
        lines
    };
    let status = child.wait().unwrap();
    let text = lines.join("\n");
    eprintln!("{text}");
    assert!(text.contains("[1/2] verified: ") && text.contains("leads etcd"), "the leadership moved first:\n{text}");
    let end: serde_json::Value = serde_json::from_str(lines.last().expect("an end line")).expect("JSON end line");
    assert_eq!(end["result"], "cancelled", "{text}");
    let summary = end["summary"].as_str().unwrap();
    assert!(summary.starts_with("stopped by the operator during [2/2] Drain"), "{summary}");
    assert!(summary.contains(&format!("{leader} stays DRAIN on lb1, lb2")), "{summary}");
    assert!(
        summary
            .ends_with(&format!("done: move-leader; stopped in: haproxy drain {leader} (it says above what it left); not started: none")),
        "{summary}"
    );
    assert_eq!(status.code(), Some(1), "{text}");
    // what it said is what haproxy has: DRAIN on both LBs, the held sessions still open
    for lb in ["lb1", "lb2"] {
        assert!(lab.hap_status(lb, &leader).starts_with("DRAIN "), "{lb}: {}", lab.hap_status(lb, &leader));
    }
    assert!(!lab.hap_status("lb1", &leader).ends_with(" 0"), "the open sessions go on: {}", lab.hap_status("lb1", &leader));
    assert_ne!(etcd_leader(&lab, &bin, &envs), leader, "the leadership stays moved");
    drop(held);
    // its end undoes what is left: ready on every LB
    let out = harness::run_env(
        &bin,
        &[
            "run",
            "maintenance-end",
            "--host",
            &leader,
            "--yes",
            "--config",
            lab.var("KOCKPIT_CONFIG"),
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &envs,
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("done: "), "{out}");
    for lb in ["lb1", "lb2"] {
        assert!(lab.hap_status(lb, &leader).starts_with("UP "), "{lb}: {}", lab.hap_status(lb, &leader));
    }
    let log = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(log.matches("\"op_finished\"").count(), 2, "both ends are on the audit log: {log}");
}
