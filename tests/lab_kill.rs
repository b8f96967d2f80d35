//! `kill -9` in the middle of an operation, against the labs: the kockpit binary runs a drain (real
//! control plane), a graceful VIP failover (real keepalived) and a certificate renewal (real kubeadm)
//! as a headless drill, and is killed once a step has acted. The audit log must hold the intent of
//! every step that acted, and `kockpit audit unfinished` (what the next start shows) must name the
//! operation and the state it left, which the test checks against the lab itself.
//!
//! `#[ignore]`d (`bash tests/run` runs them); without the labs they fail, with the reason.

#[path = "common/lab.rs"]
mod harness;
#[path = "fixtures/kube/kit.rs"]
mod kit;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn cannot_run(why: &str) -> ! {
    harness::cannot_run("the kill -9 lab", why)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The HA lab up; its `env`.
fn ha_up() -> std::collections::HashMap<String, String> {
    let ha = repo().join("tests/lab/ha");
    match kit::run_bounded(&ha, &["up"], Duration::from_secs(300)).and_then(|_| kit::run_bounded(&ha, &["env"], Duration::from_secs(10))) {
        Ok(t) => harness::env_of(&t),
        Err(e) => cannot_run(&format!("HA lab: {e}")),
    }
}

fn ha(args: &[&str]) -> Result<String, String> {
    kit::run_bounded(&repo().join("tests/lab/ha"), args, Duration::from_secs(120))
}

/// The drill `kockpit drill run --headless` runs, with one operation step.
fn drill_file(dir: &Path, action: &str) -> PathBuf {
    let p = dir.join("kill.toml");
    std::fs::write(&p, format!("name = \"kill mid-operation\"\n\n[[steps]]\nname = \"the operation\"\naction = {action}\n")).unwrap();
    p
}

/// A kockpit that runs `drill` headless, killed on drop if still running.
struct Kockpit(Child);

impl Drop for Kockpit {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(plan: &Path, drill: &Path, dir: &Path) -> Kockpit {
    let child = Command::new(tmux::bin())
        .args(["drill", "run"])
        .arg(drill)
        .arg("--headless")
        .arg("--config")
        .arg(plan)
        .arg("--report")
        .arg(dir.join("report.md"))
        .arg("--audit-log")
        .arg(dir.join("audit.jsonl"))
        .env("XDG_STATE_HOME", dir)
        .env("KOCKPIT_CONFIG_DIR", dir.join("cfg"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kockpit runs");
    Kockpit(child)
}

fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.jsonl")).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Wait until a record satisfies `pred`, then `kill -9` kockpit at once.
fn kill_when(k: &mut Kockpit, dir: &Path, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) {
    let t0 = Instant::now();
    loop {
        if records(dir).iter().any(&pred) {
            k.0.kill().expect("SIGKILL");
            let st = k.0.wait().unwrap();
            assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9), "killed by SIGKILL");
            return;
        }
        if let Ok(Some(st)) = k.0.try_wait() {
            panic!("kockpit ended ({st}) before {what}:\n{:#?}", records(dir));
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "no {what} within {secs} s:\n{:#?}", records(dir));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `kockpit audit unfinished` on the killed process's log: (exit code, output).
fn unfinished(dir: &Path) -> (Option<i32>, String) {
    let out = Command::new(tmux::bin())
        .args(["audit", "unfinished", "--audit-log"])
        .arg(dir.join("audit.jsonl"))
        .env("XDG_STATE_HOME", dir)
        .env("KOCKPIT_CONFIG_DIR", dir.join("cfg"))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn step_of(r: &Value) -> &str {
    r["step"].as_str().unwrap_or("")
}

/// Every step that acted has its intent, written before the step's own report.
fn intents_precede_steps(recs: &[Value], acted: &[&str]) {
    for a in acted {
        let intent = recs.iter().position(|r| r["event"] == "op_intent" && step_of(r).contains(a));
        assert!(intent.is_some(), "no intent for `{a}`:\n{recs:#?}");
    }
}

#[test]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
fn kill_9_mid_failover_leaves_the_owner_demoted_and_the_next_start_says_so() {
    let env = ha_up();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    struct Undo;
    impl Drop for Undo {
        fn drop(&mut self) {
            for h in ["lb1", "lb2"] {
                let _ = ha(&["exec", h, "sh", "-c", "echo 0 > /etc/keepalived/kockpit-demote"]);
            }
        }
    }
    let _undo = Undo;
    let plan = PathBuf::from(&env["KOCKPIT_CONFIG"]);
    let drill = drill_file(dir, "{ do = \"vip_failover\", to = \"vip-peer\" }");
    let mut k = start(&plan, &drill, dir);
    // killed right after the owner was demoted (its track file written), before the VIP is watched
    kill_when(&mut k, dir, 90, "the demotion", |r| r["event"] == "op_step" && step_of(r).contains("wrote 1 to"));
    let recs = records(dir);
    intents_precede_steps(&recs, &["write 1 to"]);
    assert!(!recs.iter().any(|r| r["event"] == "op_finished"), "killed before its end");
    // the lab says what the intent said: lb1 is demoted
    let demote = ha(&["exec", "lb1", "cat", "/etc/keepalived/kockpit-demote"]).unwrap();
    assert_eq!(demote.trim(), "1", "lb1's track file");
    let (code, text) = unfinished(dir);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("UNFINISHED: vip_failover lb2") && text.contains("lb1: demoted"), "{text}");
    assert!(text.contains("restore its priority to undo"), "{text}");
}

#[test]
#[ignore = "lab: needs root and the control plane (tests/run runs it)"]
fn kill_9_mid_drain_leaves_the_node_cordoned_and_the_next_start_says_so() {
    let env = ha_up();
    let cp = match kit::control_plane() {
        Ok(cp) => cp,
        Err(e) => cannot_run(&format!("control plane: {e}")),
    };
    let label = "kill9";
    kit::cleanup(&cp, label, true);
    struct Clean<'a>(&'a kit::ControlPlane);
    impl Drop for Clean<'_> {
        fn drop(&mut self) {
            kit::cleanup(self.0, "kill9", false);
        }
    }
    let _clean = Clean(&cp);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ns = "kd-kill9";
    let admin = rt.block_on(cp.admin());
    let _kubelet = rt.block_on(async {
        kit::create_namespace(&admin, ns, label).await.unwrap();
        for (n, ip) in [("k9-w1", "10.99.8.1"), ("k9-w2", "10.99.8.2")] {
            let mut node = kit::node_json(n, label, &["worker"], ip);
            if n == "k9-w2" {
                node["spec"]["unschedulable"] = json!(true);
            }
            kit::create(&admin, "/api/v1/nodes", node).await.unwrap();
        }
        let kubelet = kit::FakeKubelet::start(admin.clone(), vec![ns.into()], vec!["k9-w1".into(), "k9-w2".into()], Duration::from_secs(1));
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
            "spec": {"replicas": 8, "selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"nodeSelector": {"kockpit-test": label}, "terminationGracePeriodSeconds": 30,
                         "containers": [{"name": "app", "image": "registry.invalid/pause:3.2"}]}}}
        });
        kit::create(&admin, &format!("/apis/apps/v1/namespaces/{ns}/replicasets"), rs).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let l = kit::req(&admin, http::Method::GET, &format!("/api/v1/namespaces/{ns}/pods"), None).await.unwrap();
            let n = l["items"].as_array().map(|a| a.iter().filter(|p| p["spec"]["nodeName"] == "k9-w1").count()).unwrap_or(0);
            if n == 8 {
                break;
            }
            assert!(Instant::now() < deadline, "eight pods on k9-w1: {l}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        kit::req(&admin, http::Method::PATCH, "/api/v1/nodes/k9-w2", Some(json!({"spec": {"unschedulable": null}}))).await.unwrap();
        kubelet
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut plan = std::fs::read_to_string(&env["KOCKPIT_CONFIG"]).expect("the lab's plan");
    plan = plan.replacen("[access]\n", &format!("[access]\nkubeconfig = \"{}\"\n", cp.kockpit_kubeconfig().display()), 1);
    plan.push_str(
        "\n[[hosts]]\nname = \"k9-w1\"\naddress = \"10.99.8.1\"\nroles = [\"worker\"]\n\
         \n[[hosts]]\nname = \"k9-w2\"\naddress = \"10.99.8.2\"\nroles = [\"worker\"]\n",
    );
    let plan_path = dir.join("plan.toml");
    std::fs::write(&plan_path, plan).unwrap();
    let drill = drill_file(dir, "{ do = \"drain\", node = \"k9-w1\" }");
    let mut k = start(&plan_path, &drill, dir);
    // killed once the evictions were on their way
    kill_when(&mut k, dir, 120, "the evictions' intent", |r| {
        r["event"] == "op_intent" && step_of(r).starts_with("evict 8 pod(s) from k9-w1")
    });
    let recs = records(dir);
    intents_precede_steps(&recs, &["cordon k9-w1", "evict 8 pod(s)"]);
    let node = rt.block_on(kit::req(&admin, http::Method::GET, "/api/v1/nodes/k9-w1", None)).unwrap();
    assert_eq!(node["spec"]["unschedulable"], true, "k9-w1 stays cordoned: {node}");
    let (code, text) = unfinished(dir);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("UNFINISHED: drain k9-w1") && text.contains("k9-w1 cordoned; some of its 8 pod(s) may be evicted"), "{text}");
}

#[test]
#[ignore = "lab: needs root, the HA lab and the control-plane build (tests/run runs it)"]
fn kill_9_mid_renewal_leaves_the_master_renewed_on_disk_and_the_next_start_says_how_to_restore() {
    let env = ha_up();
    let k8s_env = match kit::run_bounded(&repo().join("tests/lab/k8s"), &["env"], Duration::from_secs(10)) {
        Ok(t) => harness::env_of(&t),
        Err(e) => cannot_run(&format!("tests/lab/k8s env: {e}")),
    };
    let kubeadm = PathBuf::from(k8s_env.get("KOCKPIT_K8S_BIN").map(|b| b.trim_matches('\'')).unwrap_or("")).join("kubeadm");
    if !kubeadm.exists() {
        cannot_run(&format!("no kubeadm at {} (run: tests/lab/k8s build)", kubeadm.display()));
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = ha(&["pki-reset"]);
        }
    }
    let _reset = Reset;
    ha(&["pki-reset"]).expect("the masters' PKI at its starting point");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lab_dir = PathBuf::from(&env["KOCKPIT_LAB_DIR"]);
    let kubeadm =
        harness::visible_on_lab_hosts(&kubeadm, &lab_dir).unwrap_or_else(|e| cannot_run(&format!("kubeadm for the lab's hosts: {e}")));
    let pki = lab_dir.join("hosts/m1/fs/etc/kubernetes/pki/apiserver.crt");
    let before = std::fs::read(&pki).expect("m1's apiserver certificate");
    let mut plan = std::fs::read_to_string(&env["KOCKPIT_CONFIG"]).expect("the lab's plan");
    // the restart is never reached: the process is killed right after the renewal itself
    plan.push_str(&format!("\n[certs]\nrenew_command = \"{} certs renew all\"\nrestart_command = \"true\"\n", kubeadm.display()));
    let plan_path = dir.join("plan.toml");
    std::fs::write(&plan_path, plan).unwrap();
    let drill = drill_file(dir, "{ do = \"renew_certs\", masters = [\"m1\", \"m2\"] }");
    let mut k = start(&plan_path, &drill, dir);
    kill_when(&mut k, dir, 120, "m1's renewal", |r| r["event"] == "op_step" && step_of(r).starts_with("m1: renewed"));
    let recs = records(dir);
    intents_precede_steps(&recs, &["m1: back up", "m1: `"]);
    assert!(!recs.iter().any(|r| r["event"] == "op_intent" && step_of(r).starts_with("m2")), "m2 untouched");
    assert_ne!(std::fs::read(&pki).unwrap(), before, "m1's certificate was renewed on disk");
    let backups: Vec<String> = std::fs::read_dir(lab_dir.join("hosts/m1/fs/etc/kubernetes"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("pki.bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "one backup on m1: {backups:?}");
    let (code, text) = unfinished(dir);
    assert_eq!(code, Some(1), "{text}");
    // killed right after m1's renewal: its last intent is the renewal's or, when the process got that far
    // before the signal, the restart's; either says m1's certificates are renewed, and how to restore
    assert!(text.contains("UNFINISHED: renew_certs m1,m2: m1: certificates"), "{text}");
    assert!(text.contains("renewed on disk") || text.contains("certificates renewed; the control plane may be restarting"), "{text}");
    assert!(text.contains(&format!("cp -a /etc/kubernetes/{}", backups[0])), "the restore command names the backup: {text}");
}
