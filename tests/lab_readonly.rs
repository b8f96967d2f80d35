//! Read-only audit mode, proven against the real services: a scripted session of the kockpit binary
//! (in tmux) with `--readonly` against the HA lab (keepalived, haproxy, etcd, sshd) and the real
//! control plane presses every operation key, and a drill is started read-only too. Afterwards the
//! apiserver's own audit log shows no write from kockpit's user, keepalived and haproxy are exactly as
//! before (same processes, same VIP owner, same backend states, the demotion file untouched), and
//! kockpit's audit log lists every refused attempt.
//!
//! The test is `#[ignore]`d (`bash tests/run` runs it); without the labs (not root, no control-plane
//! build) it fails, with the reason.

#[path = "common/lab.rs"]
mod harness;
#[path = "fixtures/kube/kit.rs"]
mod kit;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tmux::Tmux;

fn cannot_run(why: &str) -> ! {
    harness::cannot_run("the read-only lab session", why)
}

/// What must not change: the VIP owner and haproxy's view (`tests/lab/ha status`), the keepalived and
/// haproxy processes (PID and start time) and the demotion file on every LB.
fn ha_state(ha: &Path, lab_dir: &Path) -> Vec<String> {
    let status = kit::run_bounded(ha, &["status"], Duration::from_secs(30)).expect("tests/lab/ha status");
    let mut out: Vec<String> = status.lines().filter(|l| l.starts_with("VIP ") || l.starts_with("haproxy ")).map(str::to_string).collect();
    for lb in ["lb1", "lb2"] {
        for svc in ["keepalived", "haproxy"] {
            let pid = std::fs::read_to_string(lab_dir.join("pids").join(format!("{lb}.{svc}.pid"))).unwrap_or_default();
            out.push(format!("{lb} {svc} process {}", pid.trim()));
        }
        let demote = kit::run_bounded(ha, &["exec", lb, "cat", "/etc/keepalived/kockpit-demote"], Duration::from_secs(30));
        out.push(format!("{lb} kockpit-demote = {}", demote.unwrap_or_else(|e| e).trim()));
    }
    out
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn a_read_only_session_pressing_every_operation_key_changes_nothing() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ha = repo.join("tests/lab/ha");
    let ha_env = match kit::run_bounded(&ha, &["up"], Duration::from_secs(300))
        .and_then(|_| kit::run_bounded(&ha, &["env"], Duration::from_secs(10)))
    {
        Ok(t) => harness::env_of(&t),
        Err(e) => cannot_run(&format!("HA lab: {e}")),
    };
    let cp = match kit::control_plane() {
        Ok(cp) => cp,
        Err(e) => cannot_run(&format!("control plane: {e}")),
    };
    let lab_dir = PathBuf::from(&ha_env["KOCKPIT_LAB_DIR"]);
    let before = ha_state(&ha, &lab_dir);
    assert!(before.iter().any(|l| l.starts_with("VIP ") && l.contains("held by")), "{before:?}");

    // The lab's plan with the control plane's kubeconfig for kockpit's own user.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let plan_text = std::fs::read_to_string(&ha_env["KOCKPIT_CONFIG"]).expect("the lab's plan");
    let kubeconfig = cp.kockpit_kubeconfig();
    let plan_text = plan_text.replacen("[access]\n", &format!("[access]\nkubeconfig = \"{}\"\n", kubeconfig.display()), 1);
    assert!(plan_text.contains("kubeconfig = "), "the lab plan has an [access] section");
    let plan = dir.join("plan.toml");
    std::fs::write(&plan, plan_text).unwrap();

    let since = Utc::now();
    std::thread::sleep(Duration::from_millis(1100)); // audit timestamps: keep clear of anything before
    let t = Tmux::start(&format!("--readonly --config {}", plan.display()), 160, 50);
    t.wait("the live picture, read-only", 30, |s| s.contains("READ-ONLY") && s.contains("MASTER") && s.contains("m1"));
    // each refusal names the operation and its target ("read-only: Cordon m1 refused")
    let keys = [("c", "Cordon"), ("u", "Uncordon"), ("f", "VIP failover"), ("r", "Renew certificates on m1"), ("n", "Ceph noout")];
    for (key, name) in keys {
        t.keys(&[key]);
        t.wait(&format!("the refusal of {name}"), 10, |s| {
            s.lines().any(|l| l.contains("read-only: ") && l.contains(name) && l.contains(" refused"))
        });
    }
    // a drain's plan and dry run stay open to an auditor (reads only); confirming it is refused. With
    // no node listed there is nothing to drain, and it says so.
    t.keys(&["d"]);
    let s = t.wait("the drain's dry run, or no node to drain", 20, |s| {
        (s.contains("Drain ") && s.contains("pod(s) to evict")) || s.contains("select a node first")
    });
    if !s.contains("select a node first") {
        t.keys(&["y"]);
        t.wait("the refusal of the drain", 10, |s| s.contains("read-only: Drain ") && s.contains(" refused"));
    }
    // a drill, started read-only from the command line, is refused before it touches anything
    let drill = kit::run_bounded(
        &tmux::bin(),
        &[
            "drill",
            "run",
            &repo.join("assets/drills/vip-owner-loss.toml").display().to_string(),
            "--readonly",
            "--config",
            &plan.display().to_string(),
            "--audit-log",
            &t.dir.join("audit.jsonl").display().to_string(),
        ],
        Duration::from_secs(60),
    );
    let drill_err = drill.expect_err("a read-only drill must not run");
    assert!(drill_err.contains("read-only"), "{drill_err}");
    t.keys(&["q"]);
    t.wait("exit", 15, |s| s.contains("EXITED:0"));

    // kockpit's audit log: the session, read-only, and every refused attempt
    let audit: Vec<Value> = std::fs::read_to_string(t.dir.join("audit.jsonl"))
        .expect("kockpit's audit log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let start = audit.iter().find(|e| e["event"] == "session_start").expect("session_start");
    assert_eq!(start["readonly"], true, "{start}");
    let refused: Vec<String> =
        audit.iter().filter(|e| e["event"] == "op_refused").map(|e| e["operation"].as_str().unwrap_or("").to_string()).collect();
    let mut expected: Vec<String> = keys.iter().map(|(_, n)| n.to_string()).collect();
    expected.push("drill run VIP owner loss".into());
    // the drain's refusal is recorded when there was a node to plan it for
    let others: Vec<String> = refused.iter().filter(|r| !r.starts_with("Drain ")).cloned().collect();
    // each names the operation, and its target where there is one ("Graceful VIP failover to lb2")
    assert_eq!(others.len(), expected.len(), "{audit:?}");
    for (got, want) in others.iter().zip(&expected) {
        assert!(got.contains(want.as_str()), "{got} for {want}: {audit:?}");
    }
    assert!(audit.iter().filter(|e| e["event"] == "op_refused").all(|e| e["reason"] == "read-only mode"));
    assert!(!audit.iter().any(|e| matches!(e["event"].as_str(), Some("op_confirmed" | "op_step"))), "{audit:?}");
    assert!(audit.iter().any(|e| e["event"] == "session_end"), "{audit:?}");

    // the apiserver's own audit log: kockpit's user read (list, watch) and wrote nothing
    std::thread::sleep(Duration::from_millis(500));
    let text = std::fs::read_to_string(cp.audit_log()).expect("the apiserver's audit log");
    let (mut reads, mut writes) = (0, Vec::new());
    for line in text.lines() {
        let Ok(e) = serde_json::from_str::<Value>(line) else { continue };
        let at = e["requestReceivedTimestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if e["user"]["username"] != "kockpit" || at.is_none_or(|t| t < since) {
            continue;
        }
        match e["verb"].as_str().unwrap_or("?") {
            "get" | "list" | "watch" => reads += 1,
            v => writes.push(format!("{v} {}", e["requestURI"].as_str().unwrap_or(""))),
        }
    }
    assert!(reads > 0, "kockpit read the cluster through its own user");
    assert!(writes.is_empty(), "writes from kockpit's user: {writes:?}");

    // keepalived and haproxy: the same processes, the same VIP owner and backend states, demotion untouched
    let after = ha_state(&ha, &lab_dir);
    assert_eq!(before, after);
}
