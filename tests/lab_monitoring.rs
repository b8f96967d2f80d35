//! kockpit inside a team's monitoring stack, for real: Debian's `prometheus` and
//! `prometheus-alertmanager`, started on loopback by the test, and the HA lab's keepalived.
//!
//! Prometheus scrapes `kockpit serve --metrics` every second with a rule on `kockpit_vip_split_brain`;
//! keepalived frozen on the VIP's owner makes a split brain; the rule fires, Alertmanager has the alert,
//! and kockpit (its fleet row, its metrics) shows it. A drill with a silence creates it in
//! Alertmanager for its targets and expires it at its end.
//!
//! `#[ignore]`d (`bash tests/run` runs them, installing the packages); without root, the lab or the
//! packages they fail, with the reason.

#[path = "common/lab.rs"]
mod harness;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static LAB_LOCK: Mutex<()> = Mutex::new(());

fn cannot_run(why: &str) -> ! {
    harness::cannot_run("the monitoring lab", why)
}

fn bin() -> PathBuf {
    std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")))
}

/// A process the test started, killed (by its PID) when the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `path` from 127.0.0.1:`port`: the body of a 200, else why not.
fn get(port: u16, path: &str) -> Result<String, String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let out = String::from_utf8_lossy(&out).to_string();
    let (head, body) = out.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(head.lines().next().unwrap_or("").to_string());
    }
    // chunked bodies (Prometheus' API): the chunks joined
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut rest = body;
        let mut joined = String::new();
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || after.len() < n {
                break;
            }
            joined.push_str(&after[..n]);
            rest = after[n..].trim_start_matches("\r\n");
        }
        return Ok(joined);
    }
    Ok(body.to_string())
}

/// Poll `f` until it gives Some, or fail saying what was waited for and the last answer.
fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Result<Option<T>, String>) -> T {
    let t0 = Instant::now();
    let mut last = String::new();
    loop {
        match f() {
            Ok(Some(v)) => return v,
            Ok(None) => {}
            Err(e) => last = e,
        }
        assert!(t0.elapsed() < limit, "timed out after {:?} waiting for {what}; last: {last}", limit);
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn start(bin: &str, args: &[String], log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| cannot_run(&format!("{bin}: {e} (apt-get install prometheus prometheus-alertmanager)")));
    Proc(child)
}

/// The HA lab up, and its environment.
fn ha_lab() -> HashMap<String, String> {
    harness::up(&harness::script("ha"), Duration::from_secs(300)).unwrap_or_else(|why| cannot_run(&format!("HA lab: {why}")))
}

struct Stack {
    dir: tempfile::TempDir,
    am_port: u16,
    kockpit_port: u16,
    prom_port: u16,
    _procs: Vec<Proc>,
}

impl Stack {
    fn cfg(&self) -> PathBuf {
        self.dir.path().join("cfg")
    }
    fn kockpit(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin())
            .args(args)
            .env("KOCKPIT_CONFIG_DIR", self.cfg())
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("HOME", self.dir.path())
            .env_remove("KOCKPIT_CONFIG")
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    }
}

/// Alertmanager, `kockpit serve` over the lab and a demo cluster, and Prometheus scraping it with a
/// split-brain rule, all on loopback.
fn stack(lab_plan: &str) -> Stack {
    for b in ["/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager"] {
        if !Path::new(b).exists() {
            cannot_run(&format!("{b} is missing (apt-get install prometheus prometheus-alertmanager)"));
        }
    }
    let dir = tempfile::Builder::new().prefix("kockpit-monitoring-").tempdir().unwrap();
    let d = dir.path();
    let (am_port, kockpit_port, prom_port) = (free_port(), free_port(), free_port());
    std::fs::create_dir_all(d.join("cfg")).unwrap();
    std::fs::write(
        d.join("cfg/config.toml"),
        format!(
            "alertmanager_url = \"http://127.0.0.1:{am_port}\"\n\n[[clusters]]\nname = \"lab\"\nplan = \"{lab_plan}\"\n\n\
             [[clusters]]\nname = \"training\"\ndemo = true\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("am.yml"),
        "route:\n  receiver: \"null\"\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: \"null\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("rules.yml"),
        "groups:\n  - name: kockpit\n    interval: 1s\n    rules:\n      - alert: KockpitSplitBrain\n        \
         expr: kockpit_vip_split_brain == 1\n        labels:\n          severity: critical\n        \
         annotations:\n          summary: \"VIP on two load balancers of {{ $labels.cluster }}\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("prom.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules}\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{am_port}\"]\n\
             scrape_configs:\n  - job_name: kockpit\n    static_configs:\n      - targets: [\"127.0.0.1:{kockpit_port}\"]\n",
            rules = d.join("rules.yml").display()
        ),
    )
    .unwrap();
    let s = |x: String| x;
    let am = start(
        "/usr/bin/prometheus-alertmanager",
        &[
            s(format!("--config.file={}", d.join("am.yml").display())),
            s(format!("--storage.path={}", d.join("am").display())),
            s(format!("--web.listen-address=127.0.0.1:{am_port}")),
            s("--cluster.listen-address=".into()),
        ],
        &d.join("am.log"),
    );
    wait_for("Alertmanager ready", Duration::from_secs(30), || get(am_port, "/-/ready").map(|_| Some(())));
    let mut serve = Command::new(bin());
    serve
        .args(["serve", "--metrics", &format!("127.0.0.1:{kockpit_port}")])
        .env("KOCKPIT_CONFIG_DIR", d.join("cfg"))
        .env("XDG_STATE_HOME", d.join("state"))
        .env("HOME", d)
        .env_remove("KOCKPIT_CONFIG")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(d.join("serve.log")).unwrap())
        .stderr(std::fs::File::create(d.join("serve.err")).unwrap());
    let serve = Proc(serve.spawn().unwrap());
    wait_for("kockpit serving", Duration::from_secs(30), || get(kockpit_port, "/metrics").map(|b| b.contains("kockpit_up").then_some(())));
    let prom = start(
        "/usr/bin/prometheus",
        &[
            s(format!("--config.file={}", d.join("prom.yml").display())),
            s(format!("--storage.tsdb.path={}", d.join("prom").display())),
            s(format!("--web.listen-address=127.0.0.1:{prom_port}")),
        ],
        &d.join("prom.log"),
    );
    wait_for("Prometheus ready", Duration::from_secs(60), || get(prom_port, "/-/ready").map(|_| Some(())));
    Stack { dir, am_port, kockpit_port, prom_port, _procs: vec![prom, serve, am] }
}

/// Prometheus' answer to an instant query, as `(labels, value)` pairs.
fn query(port: u16, q: &str) -> Result<Vec<(serde_json::Value, f64)>, String> {
    let enc: String =
        q.bytes().map(|b| if b.is_ascii_alphanumeric() || b == b'_' { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
    let body = get(port, &format!("/api/v1/query?query={enc}"))?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    Ok(v["data"]["result"]
        .as_array()
        .map(|r| r.iter().map(|s| (s["metric"].clone(), s["value"][1].as_str().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN))).collect())
        .unwrap_or_default())
}

/// Thaws keepalived on `lb` when dropped (also when an assertion fails).
struct Thaw(&'static str);

impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = harness::run_bounded(&harness::script("ha"), &["start", self.0, "keepalived"], Duration::from_secs(60));
    }
}

#[test]
#[ignore = "lab: needs root, the HA lab, prometheus and prometheus-alertmanager (tests/run runs it)"]
fn prometheus_fires_on_a_real_split_brain_alertmanager_has_it_and_kockpit_shows_it() {
    let _lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let env = ha_lab();
    let st = stack(&env["KOCKPIT_CONFIG"]);
    // Prometheus scrapes both clusters; the lab's VIP has one owner
    let up = wait_for("kockpit_vip_split_brain of the lab in Prometheus", Duration::from_secs(60), || {
        let r = query(st.prom_port, "kockpit_vip_split_brain{cluster=\"lab\"}")?;
        Ok(r.first().map(|(_, v)| *v))
    });
    assert_eq!(up, 0.0, "the lab at rest has one VIP owner");
    let training = query(st.prom_port, "kockpit_health{cluster=\"training\"}").unwrap();
    assert_eq!(training.len(), 1, "every cluster of the fleet is scraped: {training:?}");

    // keepalived frozen on the VIP's owner: the backup takes the VIP, the frozen one keeps it
    let owner = env.get("KOCKPIT_LAB_VIP_OWNER").cloned().unwrap_or_else(|| "lb1".into());
    let owner: &'static str = if owner == "lb2" { "lb2" } else { "lb1" };
    let _thaw = Thaw(owner);
    let t0 = Instant::now();
    harness::run_bounded(&harness::script("ha"), &["stop", owner, "keepalived", "STOP"], Duration::from_secs(60)).unwrap();
    let alert = wait_for("KockpitSplitBrain in Alertmanager", Duration::from_secs(90), || {
        let body = get(st.am_port, "/api/v2/alerts")?;
        let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        Ok(v.as_array().and_then(|a| a.iter().find(|x| x["labels"]["alertname"] == "KockpitSplitBrain").cloned()))
    });
    eprintln!("split brain to Alertmanager: {:.1} s", t0.elapsed().as_secs_f64());
    assert_eq!(alert["labels"]["cluster"], "lab", "the alert carries the cluster label kockpit put on the metric: {alert}");

    // kockpit shows it: on the lab's fleet row (status --all) and in its own metrics
    let out = st.kockpit(&["status", "--all", "--json", "--wait", "20"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let lab = v["clusters"].as_array().unwrap().iter().find(|c| c["cluster"] == "lab").cloned().unwrap();
    assert_eq!(lab["health"], "critical", "{lab}");
    assert!(lab["row"]["vip"].as_str().unwrap_or("").starts_with("split brain"), "{lab}");
    assert!(lab["row"]["alerts"].as_u64().unwrap_or(0) >= 1, "{lab}");
    assert!(lab["row"]["alert_names"].as_array().unwrap().iter().any(|n| n == "KockpitSplitBrain"), "{lab}");
    let training = v["clusters"].as_array().unwrap().iter().find(|c| c["cluster"] == "training").cloned().unwrap();
    assert_eq!(training["row"]["alerts"], 0, "the alert is the lab's only (by its cluster matcher): {training}");
    let firing = wait_for("kockpit_alerts_firing of the lab", Duration::from_secs(30), || {
        let m = get(st.kockpit_port, "/metrics")?;
        Ok(m.lines().find(|l| l.starts_with("kockpit_alerts_firing{cluster=\"lab\"}")).map(str::to_string).filter(|l| !l.ends_with(" 0")))
    });
    assert!(firing.ends_with(" 1"), "{firing}");
}

#[test]
#[ignore = "lab: needs prometheus-alertmanager (tests/run runs it)"]
fn a_drill_creates_a_silence_for_its_targets_and_expires_it_at_its_end() {
    if !Path::new("/usr/bin/prometheus-alertmanager").exists() {
        cannot_run("/usr/bin/prometheus-alertmanager is missing (apt-get install prometheus-alertmanager)");
    }
    let dir = tempfile::Builder::new().prefix("kockpit-silence-").tempdir().unwrap();
    let d = dir.path();
    let am_port = free_port();
    std::fs::write(d.join("am.yml"), "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n").unwrap();
    let _am = start(
        "/usr/bin/prometheus-alertmanager",
        &[
            format!("--config.file={}", d.join("am.yml").display()),
            format!("--storage.path={}", d.join("am").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".into(),
        ],
        &d.join("am.log"),
    );
    wait_for("Alertmanager ready", Duration::from_secs(30), || get(am_port, "/-/ready").map(|_| Some(())));
    std::fs::create_dir_all(d.join("cfg")).unwrap();
    std::fs::write(d.join("cfg/config.toml"), format!("alertmanager_url = \"http://127.0.0.1:{am_port}\"\n")).unwrap();
    std::fs::write(
        d.join("drill.toml"),
        "name = \"silenced\"\n\n[[steps]]\nname = \"silence slb1's alerts\"\n\
         action = { do = \"silence\", on = true, targets = [\"slb1\"], minutes = 30 }\n\n\
         [[steps]]\nname = \"hold\"\naction = { do = \"wait\", secs = 4 }\n",
    )
    .unwrap();
    let drill = Command::new(bin())
        .args(["drill", "run", &d.join("drill.toml").display().to_string(), "--demo", "--headless", "--report"])
        .arg(d.join("report.md"))
        .env("KOCKPIT_CONFIG_DIR", d.join("cfg"))
        .env("XDG_STATE_HOME", d.join("state"))
        .env("HOME", d)
        .env_remove("KOCKPIT_CONFIG")
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let silences = || -> Result<Vec<serde_json::Value>, String> {
        let body = get(am_port, "/api/v2/silences")?;
        let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        Ok(v.as_array().cloned().unwrap_or_default().into_iter().filter(|s| s["createdBy"] == "kockpit").collect())
    };
    let active = wait_for("the drill's silences, active", Duration::from_secs(30), || {
        let s = silences()?;
        let active: Vec<_> = s.into_iter().filter(|s| s["status"]["state"] == "active").collect();
        Ok((active.len() == 2).then_some(active))
    });
    for s in &active {
        let m = s["matchers"].as_array().unwrap();
        assert!(m.iter().any(|x| x["name"] == "cluster" && x["value"] == "demo-prod" && x["isRegex"] == false), "{s}");
        assert!(
            m.iter().any(|x| (x["name"] == "node" || x["name"] == "instance") && x["value"].as_str().unwrap_or("").contains("slb1")),
            "{s}"
        );
        let ends = chrono::DateTime::parse_from_rfc3339(s["endsAt"].as_str().unwrap()).unwrap();
        let left = ends.signed_duration_since(chrono::Utc::now()).num_minutes();
        assert!((25..=30).contains(&left), "a silence for the drill's 30 minutes: {left} min left: {s}");
    }
    let out = drill.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    let s = silences().unwrap();
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(s.iter().all(|s| s["status"]["state"] == "expired"), "expired at the drill's end: {s:?}");
    let audit = std::fs::read_to_string(d.join("state/kockpit/audit.jsonl")).unwrap();
    assert!(
        audit.lines().any(|l| l.contains("\"drill_action\"") && l.contains("\"silence\"")),
        "the silence is on the audit trail: {audit}"
    );
    // read-only: refused before anything reaches Alertmanager
    let out = Command::new(bin())
        .args(["drill", "run", &d.join("drill.toml").display().to_string(), "--demo", "--headless", "--readonly"])
        .env("KOCKPIT_CONFIG_DIR", d.join("cfg"))
        .env("XDG_STATE_HOME", d.join("state"))
        .env("HOME", d)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(silences().unwrap().len(), 2, "no silence made read-only");
}
