//! A cluster from its kubeconfig alone, against the real apiserver of `tests/lab/k8s` (fake nodes
//! played by the test): `kockpit plan --from-cluster` drafts a plan `kockpit plan` accepts, naming
//! every node with its role; without a plan, kockpit opens the kubeconfig's cluster (the screen, in
//! tmux, and `kockpit status`) and says that there is no host plan.
//!
//! `#[ignore]`d lab tests: `bash tests/run`, or as root `cargo test --test lab_from_cluster -- --include-ignored`.

#[path = "common/lab.rs"]
mod harness;
#[path = "fixtures/kube/kit.rs"]
mod kit;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

use http::Method;
use kit::ControlPlane;
use kockpit::inventory::Plan;
use serde_json::{Value, json};

static LOCK: Mutex<()> = Mutex::new(());

/// What a test created, deleted when it ends (also on a panic): its nodes and leases, and its etcd
/// static pods in kube-system (no kubelet: deleted with grace 0).
struct Made<'a> {
    cp: &'a ControlPlane,
    label: String,
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        let kc = self.cp.admin_kubeconfig().to_string_lossy().to_string();
        let sel = format!("kockpit-test={}", self.label);
        let args = ["--kubeconfig", &kc, "-n", "kube-system", "delete", "pods", "-l", &sel, "--grace-period=0", "--force", "--wait=false"];
        let _ = kit::run_bounded(&self.cp.kubectl(), &args, Duration::from_secs(60));
        kit::cleanup(self.cp, &self.label, false);
    }
}

/// The control plane and a runtime, or a failure with the reason.
fn lab() -> (ControlPlane, tokio::runtime::Runtime) {
    let cp = kit::control_plane().unwrap_or_else(|why| harness::cannot_run("the Kubernetes lab", &why));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    (cp, rt)
}

/// Nodes `(name, roles, ip)` as kubelets register them, and etcd static pods on `etcd` (named etcd-NODE,
/// labelled component=etcd as kubeadm makes them).
fn make<'a>(cp: &'a ControlPlane, rt: &tokio::runtime::Runtime, label: &str, nodes: &[(&str, &[&str], &str)], etcd: &[&str]) -> Made<'a> {
    kit::cleanup(cp, label, true);
    let made = Made { cp, label: label.to_string() };
    rt.block_on(async {
        let admin = cp.admin().await;
        for (name, roles, ip) in nodes {
            kit::create_node(&admin, name, label, roles, ip).await.expect("node");
        }
        for node in etcd {
            let mut pod = kit::pod_json(
                &format!("etcd-{node}"),
                json!({"component": "etcd", "tier": "control-plane", "kockpit-test": label}),
                Some(node),
                "100m",
                "100Mi",
            );
            pod["metadata"]["namespace"] = json!("kube-system");
            kit::create(&admin, "/api/v1/namespaces/kube-system/pods", pod).await.expect("etcd pod");
        }
    });
    made
}

/// The kockpit binary with no host plan anywhere and the lab's kubeconfig (kockpit's own user).
fn kockpit(cp: &ControlPlane, dir: &Path, args: &[&str]) -> Output {
    Command::new(tmux::bin())
        .args(args)
        .env("KUBECONFIG", cp.kockpit_kubeconfig())
        .env("KOCKPIT_CONFIG_DIR", dir.join("cfg"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env_remove("KOCKPIT_CONFIG")
        .output()
        .expect("kockpit runs")
}

/// The node names the API lists now.
fn node_names(cp: &ControlPlane, rt: &tokio::runtime::Runtime) -> Vec<String> {
    rt.block_on(async {
        let l = kit::req(&cp.admin().await, Method::GET, "/api/v1/nodes", None).await.expect("list nodes");
        l["items"].as_array().unwrap().iter().map(|n| n["metadata"]["name"].as_str().unwrap().to_string()).collect()
    })
}

#[test]
#[ignore = "lab: tests/lab/k8s (root)"]
fn plan_from_cluster_drafts_a_plan_that_kockpit_accepts_with_every_node_and_its_roles() {
    let _l = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let (cp, rt) = lab();
    let nodes: &[(&str, &[&str], &str)] = &[
        ("fc-m1", &["control-plane", "master"], "10.77.0.21"),
        ("fc-m2", &["control-plane"], "10.77.0.22"),
        ("fc-m3", &["master"], "10.77.0.23"),
        ("fc-w1", &["worker"], "10.77.0.31"),
        ("fc-w2", &[], "10.77.0.32"),
    ];
    let _made = make(&cp, &rt, "from-cluster", nodes, &["fc-m1", "fc-m2", "fc-m3"]);
    let since = chrono::Utc::now();
    let dir = tempfile::tempdir().unwrap();
    let out = kockpit(&cp, dir.path(), &["plan", "--from-cluster"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let plan = Plan::parse_toml(Path::new("draft.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // `kockpit plan FILE` takes it as it is
    let file = dir.path().join("plan.toml");
    std::fs::write(&file, &text).unwrap();
    let checked = kockpit(&cp, dir.path(), &["plan", file.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(0), "{}", String::from_utf8_lossy(&checked.stderr));
    // every node of the cluster, with its role
    for name in node_names(&cp, &rt) {
        assert!(plan.host(&name).is_some(), "node {name} is not in the draft:\n{text}");
    }
    let roles = |n: &str| plan.host(n).map(|h| h.roles.label()).unwrap_or_default();
    for m in ["fc-m1", "fc-m2", "fc-m3"] {
        assert_eq!(roles(m), "cp+etcd", "{text}");
    }
    assert_eq!((roles("fc-w1"), roles("fc-w2")), ("worker".to_string(), "worker".to_string()), "{text}");
    assert_eq!(plan.host("fc-m2").unwrap().address.to_string(), "10.77.0.22");
    assert_eq!(plan.topology.etcd_deploy, kockpit::inventory::EtcdDeploy::StaticPod, "etcd static pods seen:\n{text}");
    assert_eq!(plan.cluster.kubernetes_version.as_deref(), Some("v1.20.2"));
    // the endpoint is this machine's loopback: no VIP guessed
    assert!(plan.vip.is_none() && text.contains("is on this machine"), "{text}");

    // read-only: kockpit's user only read
    std::thread::sleep(Duration::from_millis(500));
    let audit = std::fs::read_to_string(cp.audit_log()).expect("the apiserver's audit log");
    let (mut reads, mut writes) = (0, Vec::new());
    for line in audit.lines() {
        let Ok(e) = serde_json::from_str::<Value>(line) else { continue };
        let at = e["requestReceivedTimestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if e["user"]["username"] != "kockpit" || at.is_none_or(|t| t < since) {
            continue;
        }
        match e["verb"].as_str().unwrap_or("?") {
            "get" | "list" => reads += 1,
            v => writes.push(format!("{v} {}", e["requestURI"].as_str().unwrap_or(""))),
        }
    }
    assert!(reads >= 3, "the draft read the version, the nodes and kube-system's pods: {reads}");
    assert!(writes.is_empty(), "only GET and LIST: {writes:?}");
}

#[test]
#[ignore = "lab: tests/lab/k8s (root), tmux"]
fn without_a_plan_the_kubeconfig_opens_its_cluster_on_screen_and_in_status() {
    let _l = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let (cp, rt) = lab();
    let nodes: &[(&str, &[&str], &str)] = &[("kc-master1", &["control-plane"], "10.78.0.21"), ("kc-worker1", &["worker"], "10.78.0.31")];
    let _made = make(&cp, &rt, "kubeconfig-only", nodes, &[]);

    // the screen: the nodes from the API, and the header saying what is missing and how to get it
    let env = format!("-u KOCKPIT_CONFIG KUBECONFIG={}", cp.kockpit_kubeconfig().display());
    let t = tmux::Tmux::start_env(&env, "", 200, 60);
    let s = t.wait("the nodes from the API and the no-host-plan header", 30, |s| {
        s.contains("no host plan: VIP, haproxy, etcd and host probes need SSH") && s.contains("kc-master1") && s.contains("kc-worker1")
    });
    assert!(!s.contains("DEMO"), "not the demo: {s}");
    assert!(s.contains("not configured: no host plan"), "the SSH panels say why they are empty: {s}");
    assert!(s.contains("endpoint https://127.0.0.1:"), "the endpoint and its probe: {s}");
    // (the summary may wrap: "answers" and its time can be on two lines)
    t.wait("the endpoint answers", 15, |s| s.contains(" answers") && s.contains("ms)"));
    t.keys(&["q"]);
    t.wait("exit", 10, |s| s.contains("EXITED:0"));

    // `kockpit status` in that mode: the nodes, and the note
    let dir = tempfile::tempdir().unwrap();
    let out = kockpit(&cp, dir.path(), &["status"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("no host plan"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("DEMO"), "{text}");
    let out = kockpit(&cp, dir.path(), &["status", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let names: Vec<&str> = v["model"]["nodes"]["data"].as_array().expect("nodes").iter().filter_map(|n| n["name"].as_str()).collect();
    assert!(names.contains(&"kc-master1") && names.contains(&"kc-worker1"), "{names:?}");
    assert_eq!(v["model"]["meta"]["mode"], "live", "{}", v["model"]["meta"]);
    assert!(v["model"]["plan"]["hosts"].as_array().is_some_and(|h| h.is_empty()), "no hosts, nothing over SSH");
    // and a missing --context is refused, not guessed
    let out = kockpit(&cp, dir.path(), &["status", "--context", "nope"]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no context \"nope\""), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The findings' messages and the exit code of one `kockpit status --json`.
fn status_of(cp: &ControlPlane, dir: &Path) -> (i32, Vec<String>, Value) {
    let out = kockpit(cp, dir, &["status", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let msgs = v["findings"].as_array().unwrap().iter().filter_map(|f| f["message"].as_str().map(str::to_string)).collect();
    (out.status.code().unwrap_or(-1), msgs, v)
}

/// Set a node's Ready condition the way its kubelet reports it (the status subresource).
fn set_ready(cp: &ControlPlane, rt: &tokio::runtime::Runtime, node: &str, ready: bool) {
    rt.block_on(async {
        let admin = cp.admin().await;
        let mut n = kit::req(&admin, Method::GET, &format!("/api/v1/nodes/{node}"), None).await.expect("node");
        for c in n["status"]["conditions"].as_array_mut().unwrap() {
            if c["type"] == "Ready" {
                c["status"] = json!(if ready { "True" } else { "False" });
                c["reason"] = json!(if ready { "KubeletReady" } else { "KubeletNotReady" });
            }
        }
        kit::req(&admin, Method::PUT, &format!("/api/v1/nodes/{node}/status"), Some(n)).await.expect("node status");
    });
}

#[test]
#[ignore = "lab: tests/lab/k8s (root)"]
fn status_on_its_first_call_reflects_a_cordoned_node_a_notready_node_and_a_stale_lease() {
    let _l = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let (cp, rt) = lab();
    let nodes: &[(&str, &[&str], &str)] = &[("st-m1", &["control-plane"], "10.79.0.21"), ("st-w1", &["worker"], "10.79.0.31")];
    let _made = make(&cp, &rt, "status-first-call", nodes, &[]);
    let dir = tempfile::tempdir().unwrap();
    let about_w1 = |msgs: &[String]| msgs.iter().filter(|m| m.contains("st-w1")).cloned().collect::<Vec<_>>();

    // the Kubernetes side is in the first answer: nodes and leases heard, nothing about st-w1
    let (base, msgs, v) = status_of(&cp, dir.path());
    assert!(v["model"]["nodes"]["data"].is_array() && v["model"]["leases"]["data"].is_array(), "{}", v["model"]["nodes"]);
    assert!(about_w1(&msgs).is_empty(), "{msgs:#?}");
    eprintln!("baseline: exit {base}, findings {msgs:#?}");
    assert_eq!(base, 0, "the healthy lab cluster: {msgs:#?}");

    // cordoned
    rt.block_on(async {
        let admin = cp.admin().await;
        kit::req(&admin, Method::PATCH, "/api/v1/nodes/st-w1", Some(json!({"spec": {"unschedulable": true}}))).await.expect("cordon");
    });
    let (code, msgs, _) = status_of(&cp, dir.path());
    assert_eq!(about_w1(&msgs), ["st-w1 cordoned: no new pods are scheduled there"], "{msgs:#?}");
    assert_eq!(code, 1, "degraded");
    rt.block_on(async {
        let admin = cp.admin().await;
        kit::req(&admin, Method::PATCH, "/api/v1/nodes/st-w1", Some(json!({"spec": {"unschedulable": null}}))).await.expect("uncordon");
    });
    assert_eq!(status_of(&cp, dir.path()).0, 0);

    // NotReady
    set_ready(&cp, &rt, "st-w1", false);
    let (code, msgs, _) = status_of(&cp, dir.path());
    assert_eq!(about_w1(&msgs), ["st-w1 NotReady"], "{msgs:#?}");
    assert_eq!(code, 1);
    // the only control-plane node NotReady: critical
    set_ready(&cp, &rt, "st-m1", false);
    let (code, msgs, _) = status_of(&cp, dir.path());
    assert!(msgs.iter().any(|m| m == "no control-plane node is Ready"), "{msgs:#?}");
    assert_eq!(code, 2);
    set_ready(&cp, &rt, "st-m1", true);
    set_ready(&cp, &rt, "st-w1", true);

    // a node's heartbeat lease no longer renewed
    let old = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    rt.block_on(async {
        let admin = cp.admin().await;
        let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/st-w1";
        kit::req(&admin, Method::PATCH, path, Some(json!({"spec": {"renewTime": old}}))).await.expect("stale lease");
    });
    let (code, msgs, _) = status_of(&cp, dir.path());
    assert!(msgs.iter().any(|m| m.starts_with("node heartbeat lease expired:") && m.contains("st-w1")), "{msgs:#?}");
    assert_eq!(code, 1);
}

/// Create kube-system's static pod `name` on `node` as the kubelet mirrors it: kubeadm's labels and
/// annotations and the first container's command.
async fn static_pod(admin: &kockpit::kube::Kube, label: &str, component: &str, node: &str, annotations: Value, command: &[&str]) {
    let name = format!("{component}-{node}");
    let mut pod =
        kit::pod_json(&name, json!({"component": component, "tier": "control-plane", "kockpit-test": label}), Some(node), "100m", "100Mi");
    pod["metadata"]["namespace"] = json!("kube-system");
    pod["metadata"]["annotations"] = annotations;
    pod["spec"]["containers"][0]["command"] = json!(command);
    kit::create(admin, "/api/v1/namespaces/kube-system/pods", pod).await.expect("static pod");
    kit::mark_ready(admin, "kube-system", &name).await.expect("ready");
}

/// A static pod's Ready condition, as its kubelet reports it.
fn set_pod_ready(cp: &ControlPlane, rt: &tokio::runtime::Runtime, name: &str, ready: bool) {
    rt.block_on(async {
        let admin = cp.admin().await;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let status = if ready { "True" } else { "False" };
        let body = json!({"status": {"conditions": [{"type": "Ready", "status": status, "lastTransitionTime": now}]}});
        kit::req(&admin, Method::PATCH, &format!("/api/v1/namespaces/kube-system/pods/{name}/status"), Some(body))
            .await
            .expect("pod status");
    });
}

#[test]
#[ignore = "lab: tests/lab/k8s (root)"]
fn without_a_plan_etcd_and_the_apiservers_are_seen_as_their_static_pods_and_their_served_certificates() {
    let _l = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let (cp, rt) = lab();
    let label = "static-pods";
    let nodes: &[(&str, &[&str], &str)] = &[
        ("sp-m1", &["control-plane"], "10.80.0.21"),
        ("sp-m2", &["control-plane"], "10.80.0.22"),
        ("sp-m3", &["control-plane"], "10.80.0.23"),
    ];
    let _made = make(&cp, &rt, label, nodes, &[]);
    // the apiservers advertise the lab's real apiserver: its served certificate is read by a handshake
    let server = cp.var("KOCKPIT_K8S_SERVER");
    let api = server.trim_start_matches("https://").to_string();
    rt.block_on(async {
        let admin = cp.admin().await;
        for n in ["sp-m1", "sp-m2", "sp-m3"] {
            let url = format!("https://127.0.0.1:23790/{n}");
            let ann = json!({"kubeadm.kubernetes.io/etcd.advertise-client-urls": url});
            static_pod(&admin, label, "etcd", n, ann, &["etcd", "--name", n]).await;
        }
        for n in ["sp-m1", "sp-m2"] {
            let ann = json!({"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": api});
            static_pod(&admin, label, "kube-apiserver", n, ann, &["kube-apiserver", "--etcd-servers=https://127.0.0.1:23790"]).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();

    // every member and apiserver on the first call, with what it advertises, and the certificates served
    let (code, msgs, v) = status_of(&cp, dir.path());
    let cpv = &v["model"]["control_plane"];
    assert_eq!(cpv["source"], "kube static pods", "{cpv}");
    let ours = |what: &str| -> Vec<Value> {
        cpv["data"][what].as_array().expect(what).iter().filter(|p| p["node"].as_str().unwrap_or("").starts_with("sp-")).cloned().collect()
    };
    let etcd = ours("etcd");
    assert_eq!(etcd.iter().map(|p| p["node"].as_str().unwrap()).collect::<Vec<_>>(), ["sp-m1", "sp-m2", "sp-m3"], "{cpv}");
    assert!(etcd.iter().all(|p| p["ready"] == true), "{cpv}");
    assert_eq!(etcd[1]["endpoint"], "https://127.0.0.1:23790/sp-m2");
    let apis = ours("apiservers");
    assert_eq!(apis.len(), 2, "{cpv}");
    assert!(cpv["data"]["etcd_servers"].as_array().unwrap().iter().any(|s| s == "https://127.0.0.1:23790"), "{cpv}");
    assert!(!msgs.iter().any(|m| m.contains("sp-") || m.contains("etcd quorum")), "{msgs:#?}");
    assert_eq!(code, 0, "three of three members ready: {msgs:#?}");
    // the certificate each apiserver serves and the one the kubeconfig's endpoint serves: the same one
    let certs = &v["model"]["certs"];
    let served = |row: &str| certs[row]["data"][0].clone();
    assert_eq!(served("sp-m1")["name"], "apiserver (served)", "{certs}");
    assert_eq!(served("endpoint")["name"], "apiserver (served) via endpoint", "{certs}");
    assert_eq!(served("sp-m1")["not_after"], served("endpoint")["not_after"], "{certs}");
    assert!(served("sp-m2")["sans"].as_array().is_some_and(|s| !s.is_empty()), "{certs}");
    assert!(certs.get("sp-m3").is_none(), "no apiserver runs on sp-m3: {certs}");

    // the screen says it, in the etcd panel and the haproxy panel's place
    let out = kockpit(&cp, dir.path(), &["render", "--size", "160x50"]);
    let screen = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(screen.contains("3/3 etcd pods ready"), "{screen}");
    assert!(screen.contains("leader unknown"), "{screen}");
    assert!(screen.contains("kube-apiserver pods ready"), "{screen}");
    assert!(screen.contains("3 certs, soonest"), "the two apiservers' and the endpoint's served certificates: {screen}");
    assert!(screen.contains("kube <45s") && screen.contains("tls <180s"), "the panels say where their data comes from: {screen}");

    // one member not ready: it is named, and etcd cannot lose another
    set_pod_ready(&cp, &rt, "etcd-sp-m2", false);
    let (code, msgs, _) = status_of(&cp, dir.path());
    assert!(msgs.iter().any(|m| m.starts_with("etcd pod etcd-sp-m2 on sp-m2 not ready")), "{msgs:#?}");
    assert!(msgs.iter().any(|m| m.contains("etcd cannot lose another member")), "{msgs:#?}");
    assert_eq!(code, 1, "{msgs:#?}");
    // two of three: quorum at risk, critical
    set_pod_ready(&cp, &rt, "etcd-sp-m3", false);
    let (code, msgs, _) = status_of(&cp, dir.path());
    assert!(msgs.iter().any(|m| m.starts_with("etcd quorum at risk: 1 of 3 etcd pods ready")), "{msgs:#?}");
    assert_eq!(code, 2, "{msgs:#?}");
    // an apiserver not ready is named too
    set_pod_ready(&cp, &rt, "kube-apiserver-sp-m2", false);
    let (_, msgs, _) = status_of(&cp, dir.path());
    assert!(msgs.iter().any(|m| m.starts_with("kube-apiserver pod kube-apiserver-sp-m2 on sp-m2 not ready")), "{msgs:#?}");
    assert!(!msgs.iter().any(|m| m.contains("not by the kubeconfig's CA")), "the real apiserver's certificate: {msgs:#?}");

    // a kubeconfig that trusts another CA (the lab's front-proxy CA) for the same server: what answers
    // there is not the apiserver it trusts, and the served certificate says so
    let pki = std::path::Path::new(&cp.var("KOCKPIT_K8S_DIR")).join("pki");
    let kc = std::fs::read_to_string(cp.kockpit_kubeconfig()).unwrap();
    let ca = pki.join("ca.crt").to_string_lossy().to_string();
    assert!(kc.contains(&ca), "the lab's kubeconfig names its CA file: {kc}");
    let other = dir.path().join("other-ca.kubeconfig");
    std::fs::write(&other, kc.replace(&ca, &pki.join("front-proxy-ca.crt").to_string_lossy())).unwrap();
    let out = Command::new(tmux::bin())
        .args(["status", "--json", "--wait", "8"])
        .env("KUBECONFIG", &other)
        .env("KOCKPIT_CONFIG_DIR", dir.path().join("cfg"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env_remove("KOCKPIT_CONFIG")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let msgs: Vec<&str> = v["findings"].as_array().unwrap().iter().filter_map(|f| f["message"].as_str()).collect();
    assert!(
        msgs.iter().any(|m| m.starts_with("endpoint: served certificate issued by") && m.contains("not by the kubeconfig's CA")),
        "{msgs:#?}"
    );
}

/// Deletes kube-system/coredns (the Deployment the test made) when dropped, also on a panic.
struct Coredns<'a>(&'a ControlPlane);

impl Drop for Coredns<'_> {
    fn drop(&mut self) {
        let kc = self.0.admin_kubeconfig().to_string_lossy().to_string();
        let args = ["--kubeconfig", &kc, "-n", "kube-system", "delete", "deployment", "coredns", "--wait=false"];
        let _ = kit::run_bounded(&self.0.kubectl(), &args, Duration::from_secs(60));
        let args = ["--kubeconfig", &kc, "-n", "kube-system", "delete", "pods", "-l", "k8s-app=kube-dns", "--grace-period=0", "--force"];
        let _ = kit::run_bounded(&self.0.kubectl(), &args, Duration::from_secs(60));
    }
}

#[test]
#[ignore = "lab: tests/lab/k8s (root)"]
fn a_platform_workload_at_zero_is_in_every_first_answer() {
    let _l = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let (cp, rt) = lab();
    let _made = make(&cp, &rt, "workload-zero", &[("wz-m1", &["control-plane"], "10.81.0.21")], &[]);
    let _dns = Coredns(&cp);
    // CoreDNS with two replicas that never become ready (no kubelet runs them): the controller
    // manager's status says 2 desired, 0 ready
    rt.block_on(async {
        let admin = cp.admin().await;
        let labels = json!({"k8s-app": "kube-dns"});
        let template = kit::pod_json("coredns", labels.clone(), None, "100m", "70Mi");
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": "kube-system"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": template["spec"]}}});
        kit::create(&admin, "/apis/apps/v1/namespaces/kube-system/deployments", d).await.expect("deployment");
        let t0 = std::time::Instant::now();
        loop {
            let d = kit::req(&admin, Method::GET, "/apis/apps/v1/namespaces/kube-system/deployments/coredns", None).await.expect("get");
            if d["status"]["replicas"] == 2 {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "the deployment controller did not report: {}", d["status"]);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    // every first answer has it: status waits for the platform workloads as for nodes and leases
    for i in 0..4 {
        let (code, msgs, v) = status_of(&cp, dir.path());
        assert!(msgs.iter().any(|m| m == "deploy kube-system/coredns 0/2 ready"), "call {i}: {msgs:#?}");
        assert_eq!(code, 2, "DNS at zero is critical (call {i})");
        let fresh: Vec<&str> =
            v["sources"].as_array().unwrap().iter().filter(|s| s["state"] == "fresh").filter_map(|s| s["source"].as_str()).collect();
        assert!(fresh.contains(&"workloads") && fresh.contains(&"warning events"), "{fresh:?}");
    }
}
