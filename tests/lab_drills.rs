//! Every shipped drill (assets/drills/) run by the kockpit binary against the labs, as an operator
//! would run it: `kockpit drill run FILE --headless` with a plan for the HA lab (keepalived, haproxy,
//! etcd over TLS, sshd), the real control plane (two worker nodes played by the test harness) and the
//! real Ceph. Each drill must pass, restore what it broke, and write a report with the measured times.
//!
//! The test is `#[ignore]`d (`bash tests/run` runs it); without the labs (not root, no control-plane
//! build, no Ceph) it fails, with the reason.

#[path = "common/lab.rs"]
mod harness;
#[path = "fixtures/kube/kit.rs"]
mod kit;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn cannot_run(why: &str) -> ! {
    harness::cannot_run("the drill lab", why)
}

/// The HA lab at rest: VIP on lb1, every backend UP on both LBs, etcd with a leader and three members.
fn at_rest(ha: &Path) -> Result<(), String> {
    let s = kit::run_bounded(ha, &["status"], Duration::from_secs(30))?;
    let ok = s.contains("VIP 10.213.0.100: held by lb1")
        && s.lines().filter(|l| l.starts_with("haproxy ")).all(|l| !l.contains("DOWN") && !l.contains("MAINT"))
        && s.contains("answering: m1 m2 m3");
    if ok { Ok(()) } else { Err(s) }
}

fn wait_at_rest(ha: &Path, secs: u64) {
    let t0 = Instant::now();
    loop {
        match at_rest(ha) {
            Ok(()) => return,
            Err(s) if t0.elapsed() > Duration::from_secs(secs) => panic!("the HA lab did not come back to rest:\n{s}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// Puts the lab back whatever a failed drill left behind (links, services, noout, the workers' cordon).
struct Restore {
    ha: PathBuf,
    ceph: PathBuf,
    cp_label: String,
    cp: Option<kit::ControlPlane>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        for h in ["lb1", "lb2", "m1", "m2", "m3"] {
            let _ = kit::run_bounded(&self.ha, &["heal", h], Duration::from_secs(30));
        }
        for h in ["lb1", "lb2"] {
            let _ =
                kit::run_bounded(&self.ha, &["exec", h, "sh", "-c", "echo 0 > /etc/keepalived/kockpit-demote"], Duration::from_secs(30));
        }
        let _ = kit::run_bounded(&self.ha, &["up"], Duration::from_secs(300));
        let _ = kit::run_bounded(&self.ceph, &["ceph", "osd", "unset", "noout"], Duration::from_secs(60));
        if let Some(cp) = &self.cp {
            kit::cleanup(cp, &self.cp_label, false);
        }
    }
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn every_shipped_drill_passes_against_the_lab_and_reports_measured_times() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ha = repo.join("tests/lab/ha");
    let ceph = repo.join("tests/lab/ceph");
    let ha_env = match kit::run_bounded(&ha, &["up"], Duration::from_secs(300))
        .and_then(|_| kit::run_bounded(&ha, &["env"], Duration::from_secs(10)))
    {
        Ok(t) => harness::env_of(&t),
        Err(e) => cannot_run(&format!("HA lab: {e}")),
    };
    let ceph_env = match kit::run_bounded(&ceph, &["up"], Duration::from_secs(600))
        .and_then(|_| kit::run_bounded(&ceph, &["env"], Duration::from_secs(10)))
    {
        Ok(t) => harness::env_of(&t),
        Err(e) => cannot_run(&format!("Ceph lab: {e}")),
    };
    let cp = match kit::control_plane() {
        Ok(cp) => cp,
        Err(e) => cannot_run(&format!("control plane: {e}")),
    };
    let label = "drills";
    kit::cleanup(&cp, label, true);
    let mut restore = Restore { ha: ha.clone(), ceph: ceph.clone(), cp_label: label.into(), cp: None };

    // Two workers played by the harness; six pods on the first (the drain drill moves them to the second).
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ns = "kd-drills";
    let kubelet = rt.block_on(async {
        let admin = cp.admin().await;
        kit::create_namespace(&admin, ns, label).await.unwrap();
        for (n, ip) in [("kd-w1", "10.99.9.1"), ("kd-w2", "10.99.9.2")] {
            let mut node = kit::node_json(n, label, &["worker"], ip);
            if n == "kd-w2" {
                node["spec"]["unschedulable"] = json!(true); // everything lands on kd-w1 first
            }
            kit::create(&admin, "/api/v1/nodes", node).await.unwrap();
        }
        let kubelet = kit::FakeKubelet::start(admin.clone(), vec![ns.into()], vec!["kd-w1".into(), "kd-w2".into()], Duration::from_secs(1));
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"nodeSelector": {"kockpit-test": label}, "terminationGracePeriodSeconds": 2,
                         "containers": [{"name": "app", "image": "registry.invalid/pause:3.2"}]}}}
        });
        kit::create(&admin, &format!("/apis/apps/v1/namespaces/{ns}/replicasets"), rs).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let l = kit::req(&admin, http::Method::GET, &format!("/api/v1/namespaces/{ns}/pods"), None).await.unwrap();
            let on_w1 = l["items"].as_array().map(|a| a.iter().filter(|p| p["spec"]["nodeName"] == "kd-w1").count()).unwrap_or(0);
            if on_w1 == 6 {
                break;
            }
            assert!(Instant::now() < deadline, "six pods on kd-w1: {l}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        kit::req(&admin, http::Method::PATCH, "/api/v1/nodes/kd-w2", Some(json!({"spec": {"unschedulable": null}}))).await.unwrap();
        kubelet
    });
    restore.cp = Some(cp);
    let cp = restore.cp.as_ref().unwrap();

    // The lab's plan, plus the control plane (kockpit's own user), the workers and Ceph on this machine.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut plan = std::fs::read_to_string(&ha_env["KOCKPIT_CONFIG"]).expect("the lab's plan");
    plan = plan.replacen("[access]\n", &format!("[access]\nkubeconfig = \"{}\"\n", cp.kockpit_kubeconfig().display()), 1);
    assert!(plan.contains("allow_drills = true"), "the lab's plan allows drills");
    plan.push_str(&format!(
        "\n[[hosts]]\nname = \"kd-w1\"\naddress = \"10.99.9.1\"\nroles = [\"worker\"]\nnotes = \"Ceph OSDs\"\n\
         \n[[hosts]]\nname = \"kd-w2\"\naddress = \"10.99.9.2\"\nroles = [\"worker\"]\n\
         \n[ceph]\nvia = \"local\"\nconf = \"{}\"\ninterval_secs = 1\n",
        ceph_env["KOCKPIT_CEPH_CONF"]
    ));
    let plan_path = dir.join("plan.toml");
    std::fs::write(&plan_path, plan).unwrap();

    let mut drills: Vec<PathBuf> = std::fs::read_dir(repo.join("assets/drills"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    drills.sort();
    assert_eq!(drills.len(), 8, "{drills:?}");
    let mut summary = Vec::new();
    harness::watch_stalls();
    let mut retried = false;
    let mut queue: Vec<&PathBuf> = drills.iter().rev().collect();
    while let Some(drill) = queue.pop() {
        wait_at_rest(&ha, 60);
        let stem = drill.file_stem().unwrap().to_string_lossy().to_string();
        let report = dir.join(format!("{stem}.md"));
        let t0 = Instant::now();
        let out = kit::run_bounded(
            &tmux::bin(),
            &[
                "drill",
                "run",
                &drill.display().to_string(),
                "--headless",
                "--config",
                &plan_path.display().to_string(),
                "--report",
                &report.display().to_string(),
                "--audit-log",
                &dir.join("audit.jsonl").display().to_string(),
            ],
            Duration::from_secs(300),
        );
        let md = std::fs::read_to_string(&report).unwrap_or_default();
        // a drill measures seconds: one that failed while the machine itself stood still is run again, once
        let stall = harness::longest_stall_since(t0);
        if out.is_err() && !retried && stall > Duration::from_secs(1) {
            eprintln!("{stem}: failed while the machine stood still for {stall:?}; running it again");
            retried = true;
            queue.push(drill);
            continue;
        }
        let out = out.unwrap_or_else(|e| panic!("drill {stem} failed: {e}\n\nreport:\n{md}"));
        let js: Value = serde_json::from_str(&std::fs::read_to_string(report.with_extension("json")).expect("JSON report")).unwrap();
        assert_eq!(js["result"], "passed", "{stem}: {js:#}\n{out}");
        // every expectation was measured: when it was met, against its deadline
        let steps = js["steps"].as_array().expect("steps");
        let mut measured = Vec::new();
        for s in steps {
            for e in s["expectations"].as_array().unwrap() {
                assert_eq!(e["ok"], true, "{stem}: {e}");
                let met = e["met_after_ms"].as_i64().unwrap_or_else(|| panic!("{stem}: no measured time: {e}"));
                // a steady check ("no failed client request for 8 s") is met when its window has held
                let steady =
                    e["text"].as_str().is_some_and(|t| t.starts_with("no failed client request") || t.starts_with("no failed etcd write"));
                // the maintenance drill's client connected through the VIP throughout, none failed
                if stem == "master-maintenance" && e["text"].as_str().is_some_and(|t| t.starts_with("no failed client request")) {
                    let detail = e["detail"].as_str().unwrap_or("");
                    let connects: u32 = detail.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    assert!(connects >= 50 && detail.ends_with("through the VIP, 0 failed client request(s)"), "{stem}: {e}");
                }
                // the etcd client wrote throughout, and none of its writes failed
                if e["text"].as_str().is_some_and(|t| t.starts_with("no failed etcd write")) {
                    let detail = e["detail"].as_str().unwrap_or("");
                    let writes: u32 = detail.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    assert!(writes >= 10 && detail.ends_with(", 0 failed"), "{stem}: {e}");
                }
                let deadline = e["deadline_ms"].as_i64().unwrap();
                assert!(if steady { met >= deadline } else { met <= deadline }, "{stem}: {e}");
                measured.push(format!("    {}: met after {:.2} s", e["text"].as_str().unwrap_or(""), met as f64 / 1000.0));
            }
        }
        assert!(md.contains("PASSED") || md.contains("passed"), "{stem}: {md}");
        assert!(md.contains(" ms") || md.contains(" s"), "{stem}: the report shows measured times\n{md}");
        summary.push(format!("{stem}: passed in {:.1}s\n{}", t0.elapsed().as_secs_f64(), measured.join("\n")));
    }
    eprintln!("{}", summary.join("\n"));
    // the drill's etcd client deleted its keys
    let envs: Vec<(&str, &str)> = ["ETCDCTL_API", "ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"]
        .iter()
        .map(|k| (*k, ha_env[*k].as_str()))
        .collect();
    let left = harness::run_env(
        Path::new("etcdctl"),
        &["--command-timeout=5s", "get", "--prefix", "--keys-only", kockpit::ops::ETCD_WRITE_PREFIX],
        &envs,
        Duration::from_secs(30),
    )
    .expect("etcdctl get");
    assert!(left.trim().is_empty(), "the drill's etcd keys are deleted: {left}");
    // every drill restored what it broke
    wait_at_rest(&ha, 60);
    let flags = kit::run_bounded(&ceph, &["ceph", "osd", "dump", "-f", "json"], Duration::from_secs(60)).unwrap();
    assert!(!flags.contains("noout"), "noout unset again");
    rt.block_on(async {
        let admin = cp.admin().await;
        for n in ["kd-w1", "kd-w2"] {
            let node = kit::req(&admin, http::Method::GET, &format!("/api/v1/nodes/{n}"), None).await.unwrap();
            assert!(node["spec"]["unschedulable"].as_bool() != Some(true), "{n} schedulable again");
        }
    });
    drop(kubelet);
}
