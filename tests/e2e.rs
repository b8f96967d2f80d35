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
    let s = t.wait("help", 5, |s| s.contains("Help: every key") && s.contains("vip_failover"));
    assert!(s.contains("Move focus to the next panel"), "{s}");
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
    t.wait("refusal", 5, |s| s.contains("read-only: cordon refused"));
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
