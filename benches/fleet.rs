//! A fleet of 20 clusters: the HA lab's live cluster (when the lab can come up here: root) and
//! simulated ones, some with faults. Measures, with the release binary:
//! - `render --all`: the whole fleet screen, every cluster's sources answered (process start to exit),
//!   and its VmHWM;
//! - the fleet screen in a terminal (tmux, 200x60), idle: CPU over 30 s (clusters not open run the
//!   light probe set) and VmHWM.
//!
//! `flock /tmp/kockpit-lab.lock -c 'cargo bench --bench fleet; tests/lab/ha down'`.
//! KOCKPIT_BENCH_CLUSTERS sets the count (default 20), KOCKPIT_BENCH_RUNS the render runs (default 5).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn lab(args: &[&str]) -> Result<String, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab/ha");
    let out = Command::new(script).args(args).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

/// The lab's plan, when the lab is (or comes) up.
fn lab_plan() -> Option<String> {
    if lab(&["status"]).is_err() && lab(&["up"]).is_err() {
        return None;
    }
    let env = lab(&["env"]).ok()?;
    env.lines().find_map(|l| l.strip_prefix("export KOCKPIT_CONFIG=")).map(|v| v.trim_matches(['\'', '"']).to_string())
}

fn status_kb(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix(key).map(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().unwrap_or(0.0)))
        })
        .unwrap_or(0.0)
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("KOCKPIT_BENCH_CLUSTERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let runs: usize = std::env::var("KOCKPIT_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::Builder::new().prefix("kockpit-bench-fleet-").tempdir().unwrap();
    let cfg = dir.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    let faults = ["", "split-brain", "kill-master", "osd-down", "cert-expiring"];
    let mut config = String::new();
    let plan = lab_plan();
    let live = usize::from(plan.is_some());
    if let Some(p) = &plan {
        config.push_str(&format!("[[clusters]]\nname = \"lab\"\nplan = \"{p}\"\nreadonly = true\n\n"));
    } else {
        eprintln!("the HA lab cannot come up here (root?): simulated clusters only");
    }
    for i in live..n {
        let f = faults[i % faults.len()];
        let fl = if f.is_empty() { String::new() } else { format!("faults = [\"{f}\"]\n") };
        config.push_str(&format!("[[clusters]]\nname = \"sim-{i:02}\"\ndemo = true\n{fl}\n"));
    }
    std::fs::write(cfg.join("config.toml"), &config).unwrap();
    let bin = env!("CARGO_BIN_EXE_kockpit");
    let command = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args).env("KOCKPIT_CONFIG_DIR", &cfg).env("XDG_STATE_HOME", dir.path().join("state")).env("HOME", dir.path());
        c.env_remove("KOCKPIT_CONFIG").env_remove("KUBECONFIG");
        c
    };
    // the whole fleet screen, every source answered: render --all
    let (mut times, mut hwms) = (vec![], vec![]);
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut child = command(&["render", "--all", "--size", "200x60"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let pid = child.id();
        let mut hwm: f64 = 0.0;
        while child.try_wait().ok().flatten().is_none() {
            hwm = hwm.max(status_kb(pid, "VmHWM:"));
            std::thread::sleep(Duration::from_millis(10));
        }
        times.push(t0.elapsed().as_secs_f64());
        hwms.push(hwm / 1024.0);
    }
    // the fleet screen in a terminal, idle
    let sock = format!("kockpit-bench-fleet-{}", std::process::id());
    let cmd = format!(
        "exec env KOCKPIT_CONFIG_DIR={} XDG_STATE_HOME={} HOME={} TERM=xterm-256color {bin}",
        cfg.display(),
        dir.path().join("state").display(),
        dir.path().display()
    );
    let tmux = |args: &[&str]| Command::new("tmux").arg("-L").arg(&sock).args(args).output();
    let started = tmux(&["-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", "200", "-y", "60", &cmd]);
    let (mut idle, mut tui_hwm) = (f64::NAN, f64::NAN);
    if started.is_ok_and(|o| o.status.success()) {
        let pid: u32 = tmux(&["list-panes", "-t", "b", "-F", "#{pane_pid}"])
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(0);
        std::thread::sleep(Duration::from_secs(10));
        let (c0, t0) = (cpu_ticks(pid), Instant::now());
        std::thread::sleep(Duration::from_secs(30));
        let ticks = cpu_ticks(pid) - c0;
        let hz = 100.0; // USER_HZ on Linux
        idle = ticks as f64 / hz / t0.elapsed().as_secs_f64() * 100.0;
        tui_hwm = status_kb(pid, "VmHWM:") / 1024.0;
        let _ = tmux(&["kill-server"]);
    } else {
        eprintln!("no tmux: the idle figures are not measured");
    }
    println!("fleet of {n} clusters ({live} live from the HA lab, {} simulated), {runs} runs:", n - live);
    println!(
        "  fleet screen complete (render --all, every source answered): {:.2} s median, {:.2} s max  (budget 3 s)",
        median(times.clone()),
        times.iter().cloned().fold(0.0, f64::max)
    );
    println!("  render --all VmHWM: {:.0} MB median", median(hwms));
    println!("  fleet screen idle CPU: {idle:.1} % of a core over 30 s  (budget 3 %)");
    println!("  fleet screen VmHWM: {tui_hwm:.0} MB  (budget 250 MB)");
}
