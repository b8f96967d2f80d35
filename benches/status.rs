//! `kockpit status --json`, one shot, against the real lab (`tests/lab/ha`): the release binary run N
//! times, p50 / p90 / max of the whole run (process start to exit), and when each source's first
//! answer arrived (median over the runs, from the ages the JSON reports), slowest first: where the
//! time goes.
//!
//! Run as root, under the lab's lock, and take the lab down after:
//! `flock /tmp/kockpit-lab.lock -c 'cargo bench --bench status; tests/lab/ha down'`. The bench brings
//! the lab up when it is not (`tests/lab/ha up`, idempotent). KOCKPIT_BENCH_RUNS sets N (default 20).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn lab(args: &[&str]) -> Result<String, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab/ha");
    let out = Command::new(script).args(args).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if lab(&["status"]).is_err() {
        eprintln!("bringing the lab up ...");
        if let Err(e) = lab(&["up"]) {
            eprintln!("the lab does not come up: {e}");
            std::process::exit(1);
        }
    }
    let env = lab(&["env"]).expect("tests/lab/ha env");
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches(['\'', '"']).to_string()))
        .collect();
    let runs: usize = std::env::var("KOCKPIT_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let cfg = tempfile_dir();
    let bin = env!("CARGO_BIN_EXE_kockpit");
    let mut times = vec![];
    let mut arrivals: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut codes = BTreeMap::new();
    // sources without an answer (not configured in the lab: Kubernetes, Ceph), said once
    let mut unanswered = std::collections::BTreeSet::new();
    for i in 0..runs {
        let start = Instant::now();
        let out = Command::new(bin)
            .args(["status", "--json"])
            .envs(vars.iter().cloned())
            .env("KOCKPIT_CONFIG_DIR", &cfg)
            .env("XDG_STATE_HOME", cfg.join("state"))
            .stdin(Stdio::null())
            .output()
            .expect("run kockpit");
        let took = start.elapsed();
        times.push(took);
        *codes.entry(out.status.code().unwrap_or(-1)).or_insert(0) += 1;
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            eprintln!("run {i}: no JSON: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        };
        for s in v["sources"].as_array().into_iter().flatten() {
            let name = format!("{} {}", s["panel"].as_str().unwrap_or(""), s["source"].as_str().unwrap_or(""));
            if let Some(age) = s["age_ms"].as_f64() {
                // the age is taken at the end: the first answer came this long after the start
                arrivals.entry(name).or_default().push(took.as_secs_f64() * 1000.0 - age);
            } else if s["state"] != "fresh" {
                unanswered.insert(format!("{name}: {} {}", s["state"].as_str().unwrap_or(""), s["reason"].as_str().unwrap_or("")));
            }
        }
    }
    times.sort();
    println!("kockpit status --json on the lab, {runs} runs (exit codes {codes:?}):");
    println!("  p50 {}  p90 {}  max {}  (min {})", ms(pct(&times, 0.5)), ms(pct(&times, 0.9)), ms(times[times.len() - 1]), ms(times[0]));
    let mut by_arrival: Vec<(String, f64)> = arrivals
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            (k, v[v.len() / 2])
        })
        .collect();
    by_arrival.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("  first answer after (median), slowest first:");
    for (k, t) in by_arrival.iter().take(8) {
        println!("    {t:6.0} ms  {k}");
    }
    for u in &unanswered {
        println!("  no answer: {u}");
    }
    let _ = std::fs::remove_dir_all(&cfg);
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("kockpit-bench-status-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
