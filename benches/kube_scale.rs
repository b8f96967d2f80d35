//! Scale benchmark of the Kubernetes side against a real apiserver (v1.20.2 from `tests/lab/k8s`, a second
//! instance with its own state dir and ports, torn down at the end unless KOCKPIT_BENCH_KEEP=1):
//!
//! 1. populate 1,000 nodes (with heartbeat leases) and 30,000 Running pods (skipped when already there);
//! 2. time to the first complete screen (Nodes + Leases observations complete) and kockpit's memory: the
//!    watcher runs in a child process (this binary, `watcher` argument) that reports its VmHWM/VmRSS and
//!    its CPU over 10 s of idle watching;
//! 3. `kubectl get pods -A` (kubectl v1.20.2 built from the same source) on the same apiserver: time, peak RSS;
//! 4. drain of a node with 100 evictable pods: kockpit's drain vs `kubectl drain`, with a fake kubelet that
//!    finishes evicted pods.
//!
//! Run: `tests/lab/k8s build && cargo bench --bench kube_scale` (root; ~4 min, most of it populating).
//! Env: KOCKPIT_BENCH_NODES (1000), KOCKPIT_BENCH_PODS (30000), KOCKPIT_BENCH_RUNS (3), KOCKPIT_BENCH_KEEP.

#[path = "../tests/common/lab.rs"]
mod harness;
#[path = "../tests/fixtures/kube/kit.rs"]
mod kit;

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http::Method;
use kockpit::backend::{BackendEvent, Command};
use kockpit::kube::{self, Access, Kube, KubeSettings};
use kockpit::model::{Observation, Payload};
use kockpit::ops::{DrainOptions, OpEvent, OpRequest, WriteCap};
use serde_json::json;

const LABEL: &str = "bench";

fn env_num(k: &str, default: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bench_env() -> Vec<(String, String)> {
    [
        ("KOCKPIT_K8S_DIR", "/var/tmp/kockpit-k8s-bench"),
        ("KOCKPIT_K8S_PORT", "17443"),
        ("KOCKPIT_K8S_ETCD_PORT", "24790"),
        ("KOCKPIT_K8S_ETCD_PEER", "24800"),
        ("KOCKPIT_K8S_KCM_PORT", "17257"),
        ("KOCKPIT_K8S_SCHED_PORT", "17259"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("watcher") {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(watcher(PathBuf::from(&args[2]), args[3].parse().unwrap_or(0)));
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench binaries too: this one populates 30,000 pods, only under `cargo bench`
        println!("kube_scale: run it with `cargo bench --bench kube_scale`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let cp = match kit::control_plane_with(bench_env()) {
        Ok(cp) => cp,
        Err(why) => {
            eprintln!("kube_scale: SKIP: the Kubernetes lab cannot run here: {why}");
            return;
        }
    };
    let keep = std::env::var("KOCKPIT_BENCH_KEEP").is_ok_and(|v| v == "1");
    let result = rt.block_on(run(&cp));
    if !keep && let Err(e) = cp.lab(&["down"]) {
        eprintln!("kube_scale: down: {e}");
    }
    if let Err(e) = result {
        eprintln!("kube_scale: FAILED: {e}");
        std::process::exit(1);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

async fn run(cp: &kit::ControlPlane) -> Result<(), String> {
    let nodes = env_num("KOCKPIT_BENCH_NODES", 1000);
    let pods = env_num("KOCKPIT_BENCH_PODS", 30_000);
    let runs = env_num("KOCKPIT_BENCH_RUNS", 3);
    let admin = cp.admin().await;
    populate(&admin, nodes, pods).await?;

    // 2. first complete screen + memory, in a child process each time
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut screen = Vec::new();
    let mut hwm = Vec::new();
    let mut idle_cpu = Vec::new();
    for i in 0..runs {
        let out =
            kit::run_bounded(&exe, &["watcher", &cp.kockpit_kubeconfig().to_string_lossy(), &nodes.to_string()], Duration::from_secs(120))?;
        let get = |k: &str| -> f64 {
            out.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).and_then(|v| v.trim().parse().ok()).unwrap_or(f64::NAN)
        };
        println!(
            "run {}: first complete screen {:.2} s (nodes {:.2} s with {} pods, leases {:.2} s), VmHWM {:.0} MB, VmRSS {:.0} MB, idle CPU {:.1} %",
            i + 1,
            get("screen_s"),
            get("nodes_s"),
            get("pods_counted"),
            get("leases_s"),
            get("hwm_kb") / 1024.0,
            get("rss_kb") / 1024.0,
            get("idle_cpu_pct")
        );
        screen.push(get("screen_s"));
        hwm.push(get("hwm_kb") / 1024.0);
        idle_cpu.push(get("idle_cpu_pct"));
    }

    // 3. kubectl get pods -A on the same apiserver
    let kubectl = cp.kubectl();
    let kc = cp.admin_kubeconfig();
    let mut kt = Vec::new();
    let mut km = Vec::new();
    for _ in 0..runs {
        let (secs, peak_mb) = timed_peak(&kubectl, &["--kubeconfig", &kc.to_string_lossy(), "get", "pods", "-A"])?;
        println!("kubectl get pods -A: {secs:.2} s, peak RSS {peak_mb:.0} MB");
        kt.push(secs);
        km.push(peak_mb);
    }

    // 4. drain 100 evictable pods: kockpit vs kubectl drain
    let mut kd = Vec::new();
    let mut cd = Vec::new();
    for round in 0..2 {
        kd.push(drain_kockpit(cp, &admin, round).await?);
        cd.push(drain_kubectl(cp, &admin, round).await?);
    }

    println!();
    println!("kube_scale summary ({nodes} nodes, {pods} pods, apiserver v1.20.2, medians of {runs}):");
    println!("  first complete screen (Nodes + Leases): {:.2} s   (budget 5 s)", median(screen));
    println!("  kockpit watcher VmHWM:                 {:.0} MB  (budget 150 MB)", median(hwm));
    println!("  kockpit watcher idle CPU:              {:.1} % of a core", median(idle_cpu));
    println!("  kubectl get pods -A:                   {:.2} s, peak {:.0} MB", median(kt), median(km));
    println!("  drain of 100 pods, kockpit:            {:.2} s   (runs: {kd:.2?})", median(kd.clone()));
    println!("  drain of 100 pods, kubectl drain:      {:.2} s   (runs: {cd:.2?})", median(cd.clone()));
    Ok(())
}

/// Run a program; wall time and peak RSS (VmHWM sampled from /proc every 10 ms until it exits).
fn timed_peak(program: &Path, args: &[&str]) -> Result<(f64, f64), String> {
    let t0 = Instant::now();
    let mut child = StdCommand::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0f64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(v) =
                s.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        {
            peak_kb = peak_kb.max(v);
        }
        match child.try_wait() {
            Ok(Some(st)) if st.success() => break,
            Ok(Some(st)) => return Err(format!("{} exited with {st}", program.display())),
            Ok(None) if t0.elapsed() > Duration::from_secs(300) => {
                let _ = child.kill();
                return Err("timeout".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok((t0.elapsed().as_secs_f64(), peak_kb / 1024.0))
}

fn proc_status_kb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))
        .unwrap_or(f64::NAN)
}

fn cpu_ticks() -> u64 {
    // utime + stime, fields 14 and 15 of /proc/self/stat
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(") ")?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

/// The child: kockpit's Kubernetes side alone, read-only, as the TUI would run it.
async fn watcher(kubeconfig: PathBuf, nodes: usize) {
    let t0 = Instant::now();
    let mut h = kube::spawn_backend(KubeSettings::new(Access { kubeconfig: Some(kubeconfig), context: None, readonly: true }));
    let (mut t_nodes, mut t_leases) = (None, None);
    while t_nodes.is_none() || t_leases.is_none() {
        let Some(ev) = h.events.recv().await else { break };
        match ev {
            BackendEvent::Obs(Observation { payload: Payload::Nodes(Ok(v)), .. }) if v.len() >= nodes && t_nodes.is_none() => {
                t_nodes = Some(t0.elapsed().as_secs_f64());
                println!("pods_counted={}", v.iter().map(|n| u64::from(n.pods)).sum::<u64>());
            }
            BackendEvent::Obs(Observation { payload: Payload::Leases(Ok(v)), .. }) if v.len() >= nodes && t_leases.is_none() => {
                t_leases = Some(t0.elapsed().as_secs_f64())
            }
            BackendEvent::Obs(Observation { payload: Payload::Nodes(Err(e)), .. }) => eprintln!("nodes failed: {e}"),
            _ => {}
        }
    }
    let (n, l) = (t_nodes.unwrap_or(f64::NAN), t_leases.unwrap_or(f64::NAN));
    println!("nodes_s={n:.3}\nleases_s={l:.3}\nscreen_s={:.3}", n.max(l));
    // idle: watch for 10 s, then memory and CPU
    let c0 = cpu_ticks();
    let idle = Instant::now();
    while idle.elapsed() < Duration::from_secs(10) {
        if tokio::time::timeout(Duration::from_secs(10).saturating_sub(idle.elapsed()), h.events.recv()).await.is_ok_and(|e| e.is_none()) {
            break;
        }
    }
    let ticks = cpu_ticks().saturating_sub(c0) as f64;
    println!("idle_cpu_pct={:.1}", ticks / 100.0 / idle.elapsed().as_secs_f64() * 100.0);
    println!("hwm_kb={}\nrss_kb={}", proc_status_kb("VmHWM:"), proc_status_kb("VmRSS:"));
}

// ---------------------------------------------------------------------------------- populating

async fn count(k: &Kube, path: &str) -> usize {
    // a limit=1 list (no selector: with one the server cannot count) answers with remainingItemCount
    match kit::req(k, Method::GET, &format!("{path}?limit=1"), None).await {
        Ok(v) => v["items"].as_array().map_or(0, |a| a.len()) + v["metadata"]["remainingItemCount"].as_u64().unwrap_or(0) as usize,
        Err(_) => 0,
    }
}

async fn populate(k: &Kube, nodes: usize, pods: usize) -> Result<(), String> {
    let have_nodes = count(k, "/api/v1/nodes").await;
    let have_pods = count(k, "/api/v1/pods").await;
    if have_nodes >= nodes && have_pods >= pods {
        println!("populated already: {have_nodes} nodes, {have_pods} pods");
        return Ok(());
    }
    let t0 = Instant::now();
    let namespaces = pods.div_ceil(1000).max(1);
    for n in 0..namespaces {
        kit::create_namespace(k, &format!("kk-bench-{n:02}"), LABEL).await?;
    }
    let node_name = |i: usize| format!("kk-bench-{i:04}");
    let results: Vec<Result<(), String>> = futures_util::stream::iter(0..nodes)
        .map(|i| {
            let k = k.clone();
            async move {
                let mut n =
                    kit::node_json(&node_name(i), LABEL, &["worker"], &format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256));
                n["metadata"]["labels"]["kockpit-bench"] = json!("1");
                kit::create(&k, "/api/v1/nodes", n).await?;
                kit::renew_node_lease(&k, &node_name(i)).await
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    println!("populated {nodes} nodes in {:.1} s", t0.elapsed().as_secs_f64());
    let t1 = Instant::now();
    let results: Vec<Result<(), String>> = futures_util::stream::iter(0..pods)
        .map(|i| {
            let k = k.clone();
            let node = node_name(i % nodes);
            async move {
                let ns = format!("kk-bench-{:02}", i / 1000);
                let name = format!("app-{i:05}-x7k2p");
                let mut p = kit::pod_json(
                    &name,
                    json!({"app": format!("app-{}", i % 50), "kockpit-bench": "1", "tier": "backend"}),
                    Some(&node),
                    "100m",
                    "128Mi",
                );
                p["spec"]["containers"][0]["env"] =
                    json!([{"name": "MODE", "value": "production"}, {"name": "LOG_LEVEL", "value": "info"}]);
                p["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8080, "protocol": "TCP"}]);
                match kit::create(&k, &format!("/api/v1/namespaces/{ns}/pods"), p).await {
                    Ok(()) => kit::mark_ready(&k, &ns, &name).await,
                    Err(e) => Err(e),
                }
            }
        })
        .buffer_unordered(48)
        .collect()
        .await;
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.len() > pods / 100 {
        return Err(format!("{} pod(s) failed, first: {}", errors.len(), errors[0]));
    }
    println!("populated {pods} Running pods in {:.1} s ({} errors)", t1.elapsed().as_secs_f64(), errors.len());
    Ok(())
}

// ------------------------------------------------------------------------------------- drains

const DRAIN_NODE: &str = "kk-bench-drain";
const DRAIN_NS: &str = "kk-bench-drain";

/// A fresh node with 100 Running pods and a fake kubelet that finishes evicted ones.
async fn drain_setup(k: &Kube) -> Result<FakeKubeletGuard, String> {
    kit::create_namespace(k, DRAIN_NS, LABEL).await?;
    let mut n = kit::node_json(DRAIN_NODE, LABEL, &["worker"], "10.250.0.1");
    n["metadata"]["labels"]["kockpit-bench-drain"] = json!("1");
    kit::create(k, "/api/v1/nodes", n).await?;
    kit::req(k, Method::PATCH, &format!("/api/v1/nodes/{DRAIN_NODE}"), Some(json!({"spec": {"unschedulable": null}}))).await?;
    let results: Vec<Result<(), String>> = futures_util::stream::iter(0..100)
        .map(|i| {
            let k = k.clone();
            async move {
                let name = format!("d-{i:03}");
                kit::create(
                    &k,
                    &format!("/api/v1/namespaces/{DRAIN_NS}/pods"),
                    kit::pod_json(&name, json!({"app": "d"}), Some(DRAIN_NODE), "10m", "16Mi"),
                )
                .await?;
                kit::mark_ready(&k, DRAIN_NS, &name).await
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    // wait until every pod is there and Ready (and no leftovers of the previous round)
    for _ in 0..600 {
        let l = kit::req(k, Method::GET, &format!("/api/v1/namespaces/{DRAIN_NS}/pods"), None).await?;
        let items = l["items"].as_array().cloned().unwrap_or_default();
        if items.len() == 100 && items.iter().all(|p| p["metadata"]["deletionTimestamp"].is_null() && p["status"]["phase"] == "Running") {
            return Ok(FakeKubeletGuard(kit::FakeKubelet::start(k.clone(), vec![DRAIN_NS.into()], vec![], Duration::ZERO)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("drain setup: pods not ready".into())
}

struct FakeKubeletGuard(#[allow(dead_code)] kit::FakeKubelet);

async fn drain_kockpit(cp: &kit::ControlPlane, admin: &Kube, round: usize) -> Result<f64, String> {
    let _kubelet = drain_setup(admin).await?;
    let mut h =
        kube::spawn_backend(KubeSettings::new(Access { kubeconfig: Some(cp.kockpit_kubeconfig()), context: None, readonly: false }));
    let cap = WriteCap::acquire(false).ok_or("no write capability")?;
    let opts = DrainOptions { force_unmanaged: true, delete_emptydir_data: true, grace_period_secs: None, timeout_secs: 300 };
    let t0 = Instant::now();
    h.commands
        .send(Command::Execute { id: 1, request: OpRequest::Drain { node: DRAIN_NODE.into(), options: opts }, cap })
        .map_err(|e| e.to_string())?;
    loop {
        match tokio::time::timeout(Duration::from_secs(300), h.events.recv()).await {
            Ok(Some(BackendEvent::Op(OpEvent::Finished { ok: true, summary, .. }))) => {
                let s = t0.elapsed().as_secs_f64();
                println!("kockpit drain (round {}): {s:.2} s: {summary}", round + 1);
                return Ok(s);
            }
            Ok(Some(BackendEvent::Op(OpEvent::Finished { ok: false, summary, .. }))) => {
                return Err(format!("kockpit drain failed: {summary}"));
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return Err("kockpit drain: no answer".into()),
        }
    }
}

async fn drain_kubectl(cp: &kit::ControlPlane, admin: &Kube, round: usize) -> Result<f64, String> {
    let _kubelet = drain_setup(admin).await?;
    let kc = cp.admin_kubeconfig().to_string_lossy().to_string();
    let kubectl = cp.kubectl();
    let t0 = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        kit::run_bounded(
            &kubectl,
            &["--kubeconfig", &kc, "drain", DRAIN_NODE, "--force", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=300s"],
            Duration::from_secs(320),
        )
    })
    .await
    .map_err(|e| e.to_string())??;
    let s = t0.elapsed().as_secs_f64();
    println!("kubectl drain (round {}): {s:.2} s: {}", round + 1, out.lines().last().unwrap_or(""));
    Ok(s)
}
