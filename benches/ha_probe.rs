//! Live HA-front probes against the real lab (`tests/lab/ha`), with figures printed:
//!
//! - detection latency: from the moment the lab's own state changes (polled directly in the lab's
//!   namespaces) to the model showing it: VIP moved after `stop lb1 keepalived`, haproxy DOWN after
//!   `stop m2 apiserver`; p50/p95 over several rounds;
//! - detection from the daemons' own clocks ([`pushed`]): keepalived's MASTER transition and its
//!   priority changes (by its tracked file and by its tracking script), haproxy marking m2 DOWN (their journal timestamps) and etcd electing a new leader
//!   after the old one is stopped (its log) to the model showing it;
//! - startup: spawning the live backend to the first complete set of Hosts/VIP/haproxy observations;
//! - a sweep of the host-facts probe over 50 host aliases (10 per lab sshd) on reused connections.
//!
//! Run: `cargo bench --bench ha_probe` (root; brings the lab up, leaves it up). KOCKPIT_BENCH_ROUNDS
//! sets the number of rounds (default 8), KOCKPIT_BENCH_INTERVAL_MS the poll interval (default: the
//! live default, [`LiveSettings::DEFAULT_INTERVAL`]). `KOCKPIT_LAB_TOPOLOGY=kubeadm-lbs` runs it on the LBs
//! configured from the kubeadm guide, with no `[lb]` in the plan (everything discovered on the hosts).

#[path = "ha_probe/pushed.rs"]
mod pushed;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kockpit::backend::{BackendEvent, BackendHandle};
use kockpit::inventory::Plan;
use kockpit::model::{Mode, Model, ServerStatus, VrrpState};
use kockpit::probe::{self, LiveSettings, hosts};
use kockpit::transport::ssh::{AccessMode, PoolOptions, SshPool};

fn lab_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab/ha")
}

fn ha(args: &[&str]) -> Result<String, String> {
    let out = Command::new(lab_script()).args(args).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

fn env_var(env: &str, k: &str) -> String {
    env.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .find(|(key, _)| *key == k)
        .map(|(_, v)| v.trim_matches('\'').to_string())
        .unwrap_or_default()
}

/// Run in one of the lab's namespaces (`kockpit-HOST`, see tests/lab/ha) without the script's overhead.
fn in_netns(host: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &format!("kockpit-{host}")]).args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let Ok(mut child) = cmd.spawn() else { return String::new() };
    if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        let _ = w.write_all(text.as_bytes());
    }
    child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

fn lab_vip_holders(vip: &str) -> Vec<&'static str> {
    ["lb1", "lb2"]
        .into_iter()
        .filter(|h| in_netns(h, &["ip", "-o", "-4", "addr", "show", "dev", "eth0"], None).contains(&format!(" {vip}/")))
        .collect()
}

/// The lab's haproxy stats socket and apiserver backend (from `tests/lab/ha env`: they differ per
/// topology, `KOCKPIT_LAB_TOPOLOGY`).
static HAP: std::sync::OnceLock<(String, String, String)> = std::sync::OnceLock::new();

/// haproxy's status of a server on an LB, from its stats socket: the TCP one (127.0.0.1:9999 in the LB)
/// of the default lab, else the unix socket inside the LB's own mount namespace.
fn lab_haproxy_status(lb: &str, server: &str) -> String {
    let (lab_dir, sock, backend) = HAP.get().expect("set in main");
    let out = if sock == "/run/haproxy/admin.sock" {
        in_netns(lb, &["socat", "-t", "1", "stdio", "TCP:127.0.0.1:9999"], Some("show stat\n"))
    } else {
        let pid = std::fs::read_to_string(format!("{lab_dir}/pids/{lb}.host.pid")).unwrap_or_default();
        let pid = pid.split_whitespace().next().unwrap_or("0").to_string();
        let connect = format!("unix-connect:{sock}");
        in_netns(lb, &["nsenter", "-t", &pid, "-m", "socat", "-t", "1", "stdio", &connect], Some("show stat\n"))
    };
    out.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() > 17 && f[0] == backend && f[1] == server).then(|| f[17].to_string())
        })
        .unwrap_or_default()
}

/// Poll the lab every few milliseconds on a thread until `pred`; the instant it first held.
fn watch(pred: impl Fn() -> bool + Send + 'static, limit: Duration) -> std::thread::JoinHandle<Option<Instant>> {
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if pred() {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    })
}

struct Live {
    handle: BackendHandle,
    model: Model,
}

impl Live {
    fn start(plan: &Plan, settings: LiveSettings) -> Live {
        Live { handle: probe::spawn(plan, settings), model: Model::new(plan.clone(), Mode::ReadOnly, "bench") }
    }
    async fn until(&mut self, limit: Duration, pred: impl Fn(&Model) -> bool) -> Option<Instant> {
        let start = Instant::now();
        loop {
            if pred(&self.model) {
                return Some(Instant::now());
            }
            match tokio::time::timeout(limit.saturating_sub(start.elapsed()), self.handle.events.recv()).await {
                Ok(Some(BackendEvent::Obs(o))) => {
                    self.model.apply(o);
                }
                Ok(Some(_)) => {}
                _ => return None,
            }
        }
    }
}

fn vrrp(m: &Model, lb: &str) -> Option<VrrpState> {
    m.vrrp.get(lb).and_then(|s| s.data.as_ref()).map(|v| v.state)
}
fn status(m: &Model, lb: &str, srv: &str) -> Option<ServerStatus> {
    m.haproxy.get(lb)?.data.as_ref()?.iter().find(|b| b.server == srv).map(|b| b.status)
}
fn at_rest(m: &Model) -> bool {
    m.vip_holders() == ["lb1"]
        && vrrp(m, "lb2") == Some(VrrpState::Backup)
        && ["lb1", "lb2"].iter().all(|lb| ["m1", "m2", "m3"].iter().all(|s| status(m, lb, s) == Some(ServerStatus::Up)))
}

fn pct(v: &[Duration], p: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    if s.is_empty() {
        return Duration::ZERO;
    }
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[i.min(s.len() - 1)]
}

fn report(name: &str, v: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let all: Vec<String> = v.iter().map(|d| format!("{:.0}", ms(*d))).collect();
    println!(
        "{name:<40} n={:<3} p50 {:>6.0} ms  p95 {:>6.0} ms  max {:>6.0} ms   [{}]",
        v.len(),
        ms(pct(v, 0.5)),
        ms(pct(v, 0.95)),
        ms(pct(v, 1.0)),
        all.join(" ")
    );
}

fn sweep_config(ssh_config: &Path, n: usize) -> PathBuf {
    // the lab's per-host options, repeated for n aliases over its 5 sshds
    let text = std::fs::read_to_string(ssh_config).expect("lab ssh_config");
    let block = |host: &str| -> String {
        let mut lines = text.lines().skip_while(|l| l.trim() != format!("Host {host}")).skip(1).take_while(|l| !l.trim().is_empty());
        lines.by_ref().map(|l| format!("{l}\n")).collect()
    };
    let hosts = ["lb1", "lb2", "m1", "m2", "m3"];
    let mut out = String::new();
    for i in 0..n {
        out += &format!("Host h{i:02}\n{}\n", block(hosts[i % hosts.len()]));
    }
    let p = std::env::temp_dir().join(format!("kockpit-bench-sweep-{}", std::process::id()));
    std::fs::write(&p, out).expect("write sweep config");
    p
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Err(e) = ha(&["up"]) {
        eprintln!("ha_probe: the lab cannot be brought up, nothing measured:\n{e}");
        return;
    }
    let env = ha(&["env"]).expect("tests/lab/ha env");
    let plan = Plan::load(Path::new(&env_var(&env, "KOCKPIT_CONFIG"))).expect("lab plan");
    let ssh_config = PathBuf::from(env_var(&env, "KOCKPIT_SSH_CONFIG"));
    let vip = env_var(&env, "KOCKPIT_LAB_VIP");
    let _ = HAP.set((env_var(&env, "KOCKPIT_LAB_DIR"), env_var(&env, "KOCKPIT_LAB_HAP_SOCK"), env_var(&env, "KOCKPIT_LAB_HAP_BACKEND")));
    println!("topology: {}", env_var(&env, "KOCKPIT_LAB_TOPOLOGY"));
    let rounds: usize = std::env::var("KOCKPIT_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut settings = LiveSettings { ssh_config: Some(ssh_config.clone()), ..LiveSettings::new(true) };
    if let Some(ms) = std::env::var("KOCKPIT_BENCH_INTERVAL_MS").ok().and_then(|s| s.parse().ok()) {
        settings.interval = Duration::from_millis(ms);
    }
    println!("ha_probe: lab plan {}, poll interval {:?}, {rounds} rounds", plan.cluster.name, settings.interval);

    rt.block_on(async {
        // Startup: fresh backend (fresh connections) to the first complete HA-front picture.
        let (mut startup, mut first_host, mut first_vrrp, mut first_hap) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds.min(5) {
            let t = Instant::now();
            let mut live = Live::start(&plan, settings.clone());
            let (mut h, mut v, mut p) = (None, None, None);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && (h.is_none() || v.is_none() || p.is_none()) {
                let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(20), live.handle.events.recv()).await else { break };
                if let BackendEvent::Obs(o) = ev {
                    live.model.apply(o);
                }
                let m = &live.model;
                if h.is_none() && m.hosts.len() == m.plan.hosts.len() && m.hosts.values().all(|x| x.data.is_some()) {
                    h = Some(t.elapsed());
                }
                if v.is_none() && m.vrrp.len() == 2 && m.vrrp.values().all(|x| x.data.is_some()) {
                    v = Some(t.elapsed());
                }
                if p.is_none() && m.haproxy.len() == 2 && m.haproxy.values().all(|x| x.data.is_some()) {
                    p = Some(t.elapsed());
                }
            }
            if let (Some(h), Some(v), Some(p)) = (h, v, p) {
                startup.push(h.max(v).max(p));
                first_host.push(h);
                first_vrrp.push(v);
                first_hap.push(p);
            }
            drop(live);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        report("startup to first complete picture", &startup);
        report("  of which: all 5 hosts' facts", &first_host);
        report("  of which: both keepalived views", &first_vrrp);
        report("  of which: both haproxy views", &first_hap);

        let mut live = Live::start(&plan, settings.clone());
        if live.until(Duration::from_secs(30), at_rest).await.is_none() {
            eprintln!("ha_probe: the lab is not at rest; stopping");
            return;
        }

        // VIP move.
        let (mut vip_lat, mut ka_lat) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let v = vip.clone();
            let w = watch(move || lab_vip_holders(&v) == ["lb2"], Duration::from_secs(15));
            // `stop` returns once keepalived has exited (~1 s): the model loop must keep running meanwhile
            let stop = tokio::task::spawn_blocking(|| ha(&["stop", "lb1", "keepalived"]));
            let seen = live.until(Duration::from_secs(15), |m| m.vip_holders() == ["lb2"]).await;
            let master = live.until(Duration::from_secs(5), |m| vrrp(m, "lb2") == Some(VrrpState::Master)).await;
            let master_wall = std::time::SystemTime::now();
            let _ = stop.await;
            if let (Ok(Some(lab_t)), Some(seen)) = (w.join(), seen) {
                vip_lat.push(seen.saturating_duration_since(lab_t));
            }
            if let Some(d) = master.and_then(|_| pushed::keepalived_master(master_wall)) {
                ka_lat.push(d);
            }
            let start = tokio::task::spawn_blocking(|| ha(&["start", "lb1", "keepalived"]));
            let settled = live.until(Duration::from_secs(30), at_rest).await;
            let _ = start.await;
            if settled.is_none() {
                eprintln!("ha_probe: lab did not settle after a VIP round");
                break;
            }
        }
        report("detect VIP move (lab -> model)", &vip_lat);
        report("keepalived MASTER (its log -> model)", &ka_lat);

        // haproxy DOWN.
        let (mut down_lat, mut down_log_lat) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let w = watch(|| lab_haproxy_status("lb1", "m2") == "DOWN", Duration::from_secs(15));
            let stop = tokio::task::spawn_blocking(|| ha(&["stop", "m2", "apiserver"]));
            let seen = live.until(Duration::from_secs(15), |m| status(m, "lb1", "m2") == Some(ServerStatus::Down)).await;
            let seen_wall = std::time::SystemTime::now();
            let _ = stop.await;
            if let (Ok(Some(lab_t)), Some(seen)) = (w.join(), seen) {
                down_lat.push(seen.saturating_duration_since(lab_t));
            }
            if let Some(d) = seen.and_then(|_| pushed::haproxy_down(seen_wall)) {
                down_log_lat.push(d);
            }
            let start = tokio::task::spawn_blocking(|| ha(&["start", "m2", "apiserver"]));
            let settled = live.until(Duration::from_secs(30), at_rest).await;
            let _ = start.await;
            if settled.is_none() {
                eprintln!("ha_probe: lab did not settle after a haproxy round");
                break;
            }
        }
        report("detect haproxy DOWN (lab -> model)", &down_lat);
        report("haproxy DOWN (its log -> model)", &down_log_lat);
        pushed::keepalived_priority(&mut live, rounds).await;
        pushed::keepalived_priority_by_script(&mut live, rounds).await;
        drop(live);
        pushed::etcd_leader(&plan, &env, rounds).await;
        pushed::commands_per_minute(&plan, &settings, Duration::from_secs(60)).await;

        // Sweep of 50 aliases over reused connections.
        let cfg = sweep_config(&ssh_config, 50);
        let pool =
            SshPool::new(PoolOptions { ssh_config: Some(cfg.clone()), mode: AccessMode::ReadOnly, use_agent: false, ..Default::default() })
                .expect("sweep pool");
        let names: Vec<String> = (0..50).map(|i| format!("h{i:02}")).collect();
        let t = Instant::now();
        let warm = futures_util::future::join_all(names.iter().map(|n| pool.connect(n))).await;
        let failed = warm.iter().filter(|r| r.is_err()).count();
        report("connect 50 aliases (fresh, concurrent)", &[t.elapsed()]);
        if failed > 0 {
            eprintln!("ha_probe: {failed} of 50 connections failed: {:?}", warm.iter().find(|r| r.is_err()));
        }
        // the first sweep also starts a remote shell per alias (login shell + rc files on the host)
        let t = Instant::now();
        let first = futures_util::future::join_all(names.iter().map(|n| hosts::probe_host(&pool, n, Duration::from_secs(10)))).await;
        report("first sweep, 50 hosts (opens 50 shells)", &[t.elapsed()]);
        if let Some(Err(e)) = first.iter().find(|r| r.is_err()) {
            eprintln!("ha_probe: first sweep: {} failed, e.g. {e}", first.iter().filter(|r| r.is_err()).count());
        }
        let mut all_ok = true;
        let mut sweeps = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let res = futures_util::future::join_all(names.iter().map(|n| hosts::probe_host(&pool, n, Duration::from_secs(5)))).await;
            sweeps.push(t.elapsed());
            if res.iter().any(Result::is_err) {
                all_ok = false;
            }
        }
        report("sweep host facts, 50 hosts, all reused", &sweeps);
        if !all_ok {
            eprintln!("ha_probe: some sweep probes failed");
        }
        pool.close_all().await;
        let _ = std::fs::remove_file(cfg);
    });
}
