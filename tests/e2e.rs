//! End to end: the kockpit binary in a real pseudo-terminal (tmux), keys in, screen out.
//! Uses the binary named by KOCKPIT_BIN (the test command points it at the release build), else the
//! one cargo built for this test run.

use std::process::Command;

#[path = "common/tmux.rs"]
mod tmux;
use tmux::Tmux;

#[test]
fn demo_session_focus_zoom_filter_help_fault_quit() {
    let t = Tmux::start("demo", 120, 40);
    t.wait("the first frame", 10, |s| s.contains("? help") && s.contains("Hosts (plan vs live)"));
    assert!(t.screen().contains("┏ Hosts"), "Hosts has focus first");

    t.keys(&["Tab"]);
    t.wait("focus on VIP", 5, |s| s.contains("┏ VIP / keepalived"));

    t.keys(&["z"]);
    let s = t.wait("VIP zoomed", 5, |s| !s.contains("Hosts (plan vs live)") && s.contains("VIP / keepalived"));
    assert!(!s.contains("haproxy backends"));
    t.keys(&["Escape"]);
    t.wait("zoom left", 5, |s| s.contains("Hosts (plan vs live)"));

    t.keys(&["BTab", "/", "m", "a", "s", "t", "e", "r", "Enter"]);
    let s = t.wait("hosts filtered", 5, |s| s.contains("/master") && !s.contains("slb2       lb"));
    assert!(s.contains("master3"), "{s}");
    t.keys(&["Escape"]);
    t.wait("filter cleared", 5, |s| s.contains("slb2       lb"));

    t.keys(&["?"]);
    let s = t.wait("help", 5, |s| s.contains("Help: every key") && s.contains("cycle_theme"));
    assert!(s.contains("Move focus to the next panel"), "{s}");
    // the operations further down: the help scrolls to them
    t.keys(&["G"]);
    t.wait("help's end", 5, |s| s.contains("Help: every key") && s.contains(":quit"));
    t.keys(&["Escape"]);
    t.wait("help closed", 5, |s| !s.contains("Help: every key"));

    // Inject the split-brain fault through the fault menu: visible within the master-down interval.
    t.keys(&["x"]);
    t.wait("fault menu", 5, |s| s.contains("Fault injection"));
    t.keys(&["6"]);
    t.wait("split brain on screen", 10, |s| s.contains("SPLIT BRAIN") && s.contains("CRITICAL"));

    t.keys(&["q"]);
    let s = t.wait("exit", 10, |s| s.contains("EXITED:0"));
    assert!(!s.contains("Hosts (plan vs live)"), "the alternate screen is gone: {s}");
    assert_eq!(t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"]).trim(), "0", "alternate screen left");
    assert_eq!(t.tmux(&["display", "-p", "-t", "t", "#{cursor_flag}"]).trim(), "1", "cursor visible again");
    // The session was audited, including the injected fault.
    let audit = std::fs::read_to_string(t.dir.join("audit.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.first().unwrap()["event"], "session_start");
    assert!(events.iter().any(|e| e["event"] == "fault_injected" && e["fault"] == "split-brain"));
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap_or("")).collect();
    assert_eq!(names[names.len() - 2..], ["session_end", "checkpoint"], "the session ends sealed");
}

#[test]
fn read_only_demo_refuses_cordon_and_terminal_survives_small_size() {
    let t = Tmux::start("demo --readonly", 80, 24);
    t.wait("first frame", 10, |s| s.contains("READ-ONLY"));
    t.keys(&["c"]);
    t.wait("refusal", 5, |s| s.contains("read-only: Cordon refused"));
    t.keys(&["C-c"]);
    t.wait("exit", 10, |s| s.contains("EXITED:0"));
    let audit = std::fs::read_to_string(t.dir.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"op_refused\""), "{audit}");
    assert!(audit.contains("\"readonly\":true"), "{audit}");
}

#[test]
fn sigterm_restores_the_terminal() {
    let t = Tmux::start("demo", 100, 30);
    t.wait("first frame", 10, |s| s.contains("? help") && s.contains("Timeline"));
    let pid = t.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"]);
    // The pane runs `sh -c '... kockpit ...; echo'`; find kockpit among its children.
    let children = std::fs::read_to_string(format!("/proc/{}/task/{}/children", pid.trim(), pid.trim())).unwrap_or_default();
    let kpid = children.split_whitespace().next().expect("kockpit's pid");
    assert!(Command::new("kill").args(["-TERM", kpid]).status().unwrap().success());
    let s = t.wait("exit", 10, |s| s.contains("EXITED:0"));
    assert!(!s.contains("Hosts (plan vs live)"));
    assert_eq!(t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"]).trim(), "0");
}

#[test]
fn a_panic_restores_the_terminal_and_reports() {
    let t = Tmux::start_env("KOCKPIT_TEST_PANIC=1 RUST_BACKTRACE=0", "demo", 100, 30);
    let s = t.wait("exit after the panic", 10, |s| s.contains("EXITED:"));
    assert!(s.contains("panic requested by KOCKPIT_TEST_PANIC"), "the panic is reported: {s}");
    assert!(!s.contains("Hosts (plan vs live)"), "the alternate screen is gone: {s}");
    assert!(!s.contains("EXITED:0"), "a panic is not a clean exit: {s}");
    assert_eq!(t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"]).trim(), "0");
    assert_eq!(t.tmux(&["display", "-p", "-t", "t", "#{cursor_flag}"]).trim(), "1");
}

/// kockpit's pid: the pane runs `sh -c '... kockpit ...; echo'`, kockpit is its child.
fn kockpit_pid(t: &Tmux) -> String {
    let pid = t.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"]);
    let children = std::fs::read_to_string(format!("/proc/{}/task/{}/children", pid.trim(), pid.trim())).unwrap_or_default();
    children.split_whitespace().next().expect("kockpit's pid").to_string()
}

/// The audit log's records, once `pred` holds for them (or fail after `secs`).
fn audit_until(path: &std::path::Path, secs: u64, pred: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let t0 = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let events: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if pred(&events) {
            return events;
        }
        assert!(t0.elapsed().as_secs() < secs, "audit log never got there:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn has(events: &[serde_json::Value], event: &str) -> bool {
    events.iter().any(|e| e["event"] == event)
}

/// Start draining worker3 of the demo (the last node) and wait until it is under way.
fn start_demo_drain(t: &Tmux) {
    t.wait("first frame", 10, |s| s.contains("? help") && s.contains("Timeline"));
    // the command line focuses (and zooms) the Nodes panel, whatever the layout
    t.keys(&[":", "nodes", "Enter"]);
    t.wait("Nodes focused", 5, |s| s.contains("┏ Nodes"));
    t.keys(&["G", "d"]);
    t.wait("the drain's confirmation, dry run done", 10, |s| s.contains("Drain worker3") && s.contains("to evict"));
    t.keys(&["y"]);
}

#[test]
fn a_hang_up_mid_drain_cancels_it_at_its_safe_point_and_records_the_end() {
    let t = Tmux::start("demo", 118, 40);
    let audit = t.dir.join("audit.jsonl");
    start_demo_drain(&t);
    audit_until(&audit, 10, |e| has(e, "op_intent"));
    // the terminal goes away as a dropped SSH session's does: the pty closes, kockpit gets SIGHUP
    let kpid = kockpit_pid(&t);
    t.tmux(&["kill-session", "-t", "t"]);
    let events = audit_until(&audit, 30, |e| has(e, "session_end"));
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap_or("")).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap_or_else(|| panic!("no {n} in {names:?}"));
    assert!(pos("op_confirmed") < pos("session_hangup"), "{names:?}");
    assert!(pos("session_hangup") < pos("op_cancel_requested") && pos("op_cancel_requested") < pos("op_finished"), "{names:?}");
    assert!(pos("op_finished") < pos("session_end"), "{names:?}");
    let end = events.iter().find(|e| e["event"] == "session_end").unwrap();
    assert_eq!(end["reason"], "hangup", "{end}");
    let fin = events.iter().find(|e| e["event"] == "op_finished").unwrap();
    assert_eq!(fin["ok"], false, "cancelled, not done: {fin}");
    // and the process is gone
    let t0 = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{kpid}")).exists() && t0.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let state = std::fs::read_to_string(format!("/proc/{kpid}/stat")).unwrap_or_default();
    assert!(state.is_empty() || state.contains(") Z"), "kockpit still runs after the hang-up: {state}");
}

#[test]
fn kill_9_mid_drain_is_told_at_the_next_start_with_the_state_it_left() {
    let t = Tmux::start("demo", 119, 40);
    let audit = t.dir.join("audit.jsonl");
    start_demo_drain(&t);
    audit_until(&audit, 10, |e| e.iter().any(|e| e["event"] == "op_intent" && e["step"].as_str().unwrap_or("").starts_with("evict")));
    assert!(Command::new("kill").args(["-KILL", &kockpit_pid(&t)]).status().unwrap().success());
    t.wait("kockpit killed", 10, |s| s.replace('\n', "").contains("EXITED:137")); // (it may wrap at the edge)
    // the command line says so and changes nothing
    let out = Command::new(tmux::bin())
        .args(["audit", "unfinished", "--audit-log"])
        .arg(&audit)
        .env("XDG_STATE_HOME", &t.dir)
        .env("KOCKPIT_CONFIG_DIR", t.dir.join("cfg"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("UNFINISHED: drain worker3") && text.contains("worker3 cordoned"), "{text}");
    // the next screen tells it, once
    let again = Tmux::start_with_audit("", "demo", 121, 40, Some(&audit));
    again.wait("the unfinished drain told", 10, |s| s.contains("UNFINISHED: drain worker3"));
    let events = audit_until(&audit, 10, |e| has(e, "op_abandoned"));
    let a = events.iter().find(|e| e["event"] == "op_abandoned").unwrap();
    assert!(a["leaves"].as_str().unwrap_or("").contains("worker3 cordoned"), "{a}");
    let out = Command::new(tmux::bin()).args(["audit", "unfinished", "--audit-log"]).arg(&audit).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "told once: {}", String::from_utf8_lossy(&out.stdout));
}

/// Type a command line: `:`, the text, Enter.
fn command(t: &Tmux, line: &str) {
    t.keys(&[":"]);
    t.wait("the command line", 5, |s| s.contains(" :_"));
    t.tmux(&["send-keys", "-t", "t", "-l", line]);
    t.keys(&["Enter"]);
}

#[test]
fn command_line_pause_and_restore_after_an_emergency_failover() {
    let t = Tmux::start("demo", 100, 30);
    let audit = t.dir.join("audit.jsonl");
    t.wait("first frame", 10, |s| s.contains("? help") && s.contains("Timeline"));

    // a panel by name
    command(&t, "etcd");
    t.wait("etcd zoomed", 5, |s| s.contains("┏ etcd") && !s.contains("Hosts (plan vs live)"));
    t.keys(&["Escape"]);
    t.wait("zoom left", 5, |s| s.contains("Hosts (plan vs live)"));

    // Enter on a row: its detail view, Esc back
    command(&t, "nodes");
    t.wait("nodes zoomed", 5, |s| s.contains("┏ Nodes"));
    t.keys(&["Enter"]);
    t.wait("the node's detail", 5, |s| s.contains("Node master1") && s.contains("allocatable") && s.contains("nodes from"));
    // its pods, read from the (simulated) cluster when the view opened, at its end
    t.keys(&["End"]);
    t.wait("the node's pods", 5, |s| s.contains("largest cpu request first") && s.contains("kube-system/kube-apiserver-master1"));
    t.keys(&["Escape"]);
    t.wait("back to the nodes", 5, |s| s.contains("┏ Nodes") && !s.contains("allocatable"));
    t.keys(&["Escape"]);

    // Tab completes; an unknown name is said and nothing is planned
    t.keys(&[":"]);
    t.tmux(&["send-keys", "-t", "t", "-l", "dra"]);
    t.keys(&["Tab"]);
    t.wait("the verb completed", 5, |s| s.contains(" :drain _"));
    t.tmux(&["send-keys", "-t", "t", "-l", "worker9"]);
    t.keys(&["Enter"]);
    t.wait("the unknown node said", 5, |s| s.contains("no node `worker9`"));
    // each Esc is seen before the next key: tmux joins an Esc and a key sent right after it into one
    // Alt key, which the command line takes as text
    t.keys(&["Escape"]);
    t.wait("the command line closed", 5, |s| !s.contains(" :drain"));
    command(&t, "frobnicate");
    t.wait("unknown command", 5, |s| s.contains("unknown command `frobnicate`"));
    t.keys(&["Escape"]);
    t.wait("the command line closed", 5, |s| !s.contains(" :frobnicate"));

    // a paste is text: its line breaks and `y` confirm nothing
    t.keys(&[":"]);
    t.wait("the command line", 5, |s| s.contains(" :_"));
    t.tmux(&["set-buffer", "-b", "k", "cordon worker2\ny\n"]);
    t.tmux(&["paste-buffer", "-p", "-b", "k", "-t", "t"]);
    t.wait("the paste on the command line", 5, |s| s.contains(" :cordon worker2 y _"));
    t.keys(&["Escape"]);
    t.wait("the command line closed", 5, |s| !s.contains(" :cordon"));

    // paused means paused: a few seconds later nothing on screen is stale or unreachable
    t.keys(&["p"]);
    t.wait("paused", 5, |s| s.contains("PAUSED"));
    std::thread::sleep(std::time::Duration::from_secs(4));
    let s = t.screen();
    assert!(!s.contains("UNREACHABLE") && !s.contains("STALE"), "{s}");
    t.keys(&["p"]);
    t.wait("resumed", 5, |s| !s.contains("PAUSED"));

    // an emergency failover from the command line, then the old owner restored
    command(&t, "failover slb2 emergency");
    t.wait("the failover's confirmation", 5, |s| s.contains("EMERGENCY VIP failover to slb2"));
    t.keys(&["y"]);
    audit_until(&audit, 30, |e| e.iter().any(|r| r["event"] == "op_finished" && r["ok"] == true));
    t.keys(&["Escape"]);
    command(&t, "restore slb1");
    t.wait("the restore's confirmation", 5, |s| s.contains("Restore keepalived on slb1") && s.contains("start keepalived"));
    t.keys(&["y"]);
    let events = audit_until(&audit, 30, |e| e.iter().filter(|r| r["event"] == "op_finished" && r["ok"] == true).count() == 2);
    let confirmed: Vec<String> = events.iter().filter(|r| r["event"] == "op_confirmed").map(|r| r["request"].to_string()).collect();
    assert!(confirmed[0].contains("vip_failover") && confirmed[0].contains("emergency"), "{confirmed:?}");
    assert!(confirmed[1].contains("restore_vip_priority") && confirmed[1].contains("slb1"), "{confirmed:?}");
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    t.wait("exit", 10, |s| s.contains("EXITED:0"));
}
