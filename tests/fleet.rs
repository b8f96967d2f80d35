//! The fleet: config.toml's `[[clusters]]`, `status --all`, `render --all`, `serve --metrics` (scraped
//! over HTTP as Prometheus does), the fleet row and the metrics text, on simulated clusters. The real
//! Prometheus and Alertmanager are in tests/lab_monitoring.rs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use kockpit::model::fleet::{FiringAlert, FleetRow};
use kockpit::model::{HealthLevel, Mode, Observation, Payload, assess};
use kockpit::ops::Fault;

#[path = "common/tmux.rs"]
mod tmux;

fn bin() -> PathBuf {
    std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")))
}

fn command(cfg: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env("KOCKPIT_CONFIG_DIR", cfg)
        .env("XDG_STATE_HOME", cfg.join("state"))
        .env("HOME", cfg)
        .env_remove("KOCKPIT_CONFIG")
        .env_remove("KUBECONFIG")
        .env_remove("NO_COLOR");
    c
}

fn kockpit_in(cfg: &Path, args: &[&str]) -> Output {
    command(cfg, args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const FLEET: &str = r#"
[[clusters]]
name = "calm"
demo = true

[[clusters]]
name = "training"
demo = true
faults = ["split-brain"]

[[clusters]]
name = "gone"
kube_context = "no-such-context"
"#;

fn fleet_dir(config: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("kockpit-fleet-").tempdir().unwrap();
    std::fs::write(d.path().join("config.toml"), config).unwrap();
    d
}

#[test]
fn status_all_lists_every_cluster_problems_first_and_exits_with_the_worst() {
    let d = fleet_dir(FLEET);
    let out = kockpit_in(d.path(), &["status", "--all"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "a known critical problem is the worst verdict, as for one cluster: {t}");
    let order: Vec<usize> = ["training", "gone", "calm"].iter().map(|n| t.find(&format!("  {n} ")).unwrap_or(usize::MAX)).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "critical, then unreachable, then degraded: {t}");
    assert!(t.contains("split brain: slb1 slb2"), "{t}");
    assert!(t.contains("context no-such-context: no kubeconfig"), "the unreachable cluster says why: {t}");

    let out = kockpit_in(d.path(), &["status", "--all", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["health"], "critical");
    let clusters = v["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 3);
    let training = clusters.iter().find(|c| c["cluster"] == "training").unwrap();
    assert_eq!(training["health"], "critical");
    assert_eq!(training["row"]["etcd_can_lose"], 1);
    assert_eq!(training["row"]["haproxy_up"], serde_json::json!([6, 6]));
    let gone = clusters.iter().find(|c| c["cluster"] == "gone").unwrap();
    assert_eq!(gone["row"]["not_ready"], serde_json::Value::Null, "not seen is unknown, never 0");
    assert_eq!(gone["row"]["ceph_unknown"], true, "an API never reached may run Rook: Ceph unknown, not absent");
    assert_eq!(gone["row"]["vip_answers"], serde_json::Value::Null, "never probed: not `not answering`");
    assert_eq!(gone["row"]["leaders"], "?", "an unknown text is `?`");
    assert_eq!(training["row"]["ceph_unknown"], false);
    let gone_line = t.lines().find(|l| l.starts_with("  gone ")).unwrap();
    assert!(gone_line.contains("ceph ?") && gone_line.contains("leaders ?"), "unknowns read `?` with their name: {gone_line}");

    // --all without clusters, and with a cluster chosen, are usage errors
    let empty = fleet_dir("");
    let out = kockpit_in(empty.path(), &["status", "--all"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out).contains("has no [[clusters]]"), "{}", text(&out));
    let out = kockpit_in(d.path(), &["status", "--all", "--demo"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
}

#[test]
fn a_bad_cluster_entry_is_an_error_with_its_line() {
    let d = fleet_dir("[[clusters]]\nname = \"a\"\ndemo = true\n\n[[clusters]]\nname = \"b\"\ndemo = true\nfaults = [\"meteor\"]\n");
    let out = kockpit_in(d.path(), &["status", "--all"]);
    assert_eq!(out.status.code(), Some(4));
    let t = text(&out);
    assert!(t.contains("config.toml:5: cluster `b`: unknown fault `meteor`"), "{t}");
    // a plan that cannot be read is its cluster's row, with the file; the rest of the fleet goes on
    let d = fleet_dir("[[clusters]]\nname = \"a\"\nplan = \"missing.toml\"\n\n[[clusters]]\nname = \"b\"\ndemo = true\n");
    let out = kockpit_in(d.path(), &["status", "--all"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("cluster `a`") && t.contains("missing.toml"), "{t}");
    assert!(t.lines().any(|l| l.starts_with("  b ") && l.contains("haproxy 6/6")), "the other cluster is there: {t}");
}

#[test]
fn a_small_fleet_screen_cuts_with_an_ellipsis_keeps_the_clock_and_says_which_entries_show() {
    let d = fleet_dir(FLEET);
    let out = kockpit_in(d.path(), &["render", "--all", "--size", "50x12"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 12, "{s}");
    let clock = |l: &str| l.trim_end().rsplit(' ').next().is_some_and(|w| w.len() == 5 && w.as_bytes()[2] == b':');
    assert!(lines[0].contains('…') && clock(lines[0]), "the summary cut with `…`, the clock whole: {s}");
    assert!(lines[1].contains("1-1/3"), "which entries are on screen: {s}");
    assert!(lines[2].contains("training") && lines[2].contains("CRITICAL"), "the worst entry, as much as fits: {s}");
    assert!(lines[11].ends_with('…'), "the footer cut with `…`: {s}");
    // a fact wider than the line is cut with `…`, never silently
    for l in &lines[2..11] {
        let inner = l.trim_start_matches('│').trim_end_matches('│').trim_end();
        if inner.contains("etcd 3/3") {
            assert!(inner.ends_with('…') || inner.ends_with("can lose 1"), "cut without `…`: {l}");
        }
    }
}

#[test]
fn render_all_draws_the_fleet_at_80x24_and_200x50() {
    let d = fleet_dir(FLEET);
    for (w, h) in [(80u16, 24u16), (200, 50)] {
        let out = kockpit_in(d.path(), &["render", "--all", "--size", &format!("{w}x{h}")]);
        assert!(out.status.success(), "{}", text(&out));
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(s.lines().count(), usize::from(h), "{s}");
        assert!(s.lines().all(|l| l.chars().count() <= usize::from(w)), "{s}");
        assert!(s.contains("3 cluster(s)") && s.contains("1 critical") && s.contains("1 unreachable"), "{s}");
        for name in ["calm", "training", "gone"] {
            assert!(s.contains(name), "{name} on the fleet screen: {s}");
        }
        assert!(s.contains("split brain"), "{s}");
        // the unreachable cluster's reason is wrapped or cut with `…`, never cut silently
        let why = "context no-such-context: no kubeconfig (KUBECONFIG, ~/.kube/config)";
        let flat: String = s.lines().map(|l| l.trim_matches(|c: char| c == '│' || c == ' ')).collect::<Vec<_>>().join(" ");
        assert!(flat.contains(why) || s.contains('…'), "{s}");
        assert!(s.contains("ceph ?"), "{s}");
        // every fact of a cluster is there, wrapped or not (small screens below)
        for fact in ["haproxy 6/6 up", "can lose 1", "NotReady 0", "cert ", "ceph OK"] {
            assert!(s.contains(fact), "{fact}: {s}");
        }
    }
}

/// GET `path` from `addr`: the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

/// The process `serve` is, stopped (by its PID) when the test ends.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `kockpit serve --metrics 127.0.0.1:0`: the process and the address it says it serves on.
fn serve(cfg: &Path, extra: &[&str]) -> (Serving, String) {
    let mut args = vec!["serve", "--metrics", "127.0.0.1:0"];
    args.extend(extra);
    let mut child = command(cfg, &args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = child.stderr.take().unwrap();
    let started = Instant::now();
    let mut said = String::new();
    let mut buf = [0u8; 256];
    while !said.contains("/metrics") && started.elapsed() < Duration::from_secs(30) {
        let n = err.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        said.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let addr = said.split("http://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_else(|| panic!("serve said: {said}")).to_string();
    (Serving(child), addr)
}

#[test]
fn serve_answers_prometheus_text_with_a_cluster_label_on_every_series() {
    let d = fleet_dir(FLEET);
    let (_serving, addr) = serve(d.path(), &[]);
    let (status, body) = get(&addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    for want in [
        "kockpit_up{cluster=\"calm\"} 1",
        "kockpit_up{cluster=\"gone\"} 0",
        "kockpit_health{cluster=\"training\"} 2",
        "kockpit_vip_split_brain{cluster=\"training\"} 1",
        "kockpit_vip_split_brain{cluster=\"calm\"} 0",
        "kockpit_vip_owner{cluster=\"calm\",lb=\"slb1\"} 1",
        "kockpit_etcd_has_leader{cluster=\"calm\"} 1",
        "kockpit_etcd_members_can_lose{cluster=\"calm\"} 1",
        "kockpit_haproxy_server_up{cluster=\"calm\",lb=\"slb1\",backend=\"kube-apiserver\",server=\"master1\"} 1",
        "kockpit_source_failing{cluster=\"gone\",source=\"nodes\"} 1",
        "# TYPE kockpit_etcd_leader_changes_total counter",
    ] {
        assert!(body.contains(want), "{want}:\n{body}");
    }
    // the text format: every sample line is NAME{labels} VALUE, with a cluster label, and each
    // metric's HELP and TYPE come once, before its samples
    for l in body.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = l.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{l}");
        assert!(series.contains("{cluster=\""), "{l}");
    }
    let types: Vec<&str> = body.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let mut names: Vec<&str> = types.iter().map(|l| l.split_whitespace().nth(2).unwrap()).collect();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len(), "one TYPE per metric: {types:?}");
    assert!(get(&addr, "/nope").0.contains("404"));
    // what was never seen has no sample: no leader changes counted for an etcd nobody reached
    assert!(!body.contains("kockpit_etcd_leader_changes_total{cluster=\"gone\"}"), "{body}");
    assert!(body.contains("kockpit_etcd_leader_changes_total{cluster=\"calm\"}"), "{body}");
    // HEAD: the head of GET, no body
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("\r\n\r\n"), "{out:?}");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(&vec![b'a'; 20_000]).unwrap_or(());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 400"), "an oversized request head is refused: {out:?}");
}

#[test]
fn serve_is_read_only_and_refuses_a_bad_address() {
    let d = fleet_dir(FLEET);
    let out = kockpit_in(d.path(), &["serve", "--metrics", "localhost"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out).contains("expected ADDRESS:PORT"), "{}", text(&out));
    // no cluster configured: the one kockpit would open (the demo), read-only
    let empty = fleet_dir("");
    let (_serving, addr) = serve(empty.path(), &["--demo"]);
    let (_, body) = get(&addr, "/metrics");
    assert!(body.contains("kockpit_health{cluster=\"demo\"} 1"), "{body}");
}

fn demo(faults: &[Fault]) -> kockpit::model::Model {
    kockpit::sim::settled_demo(faults, 0, Utc::now(), 12, Mode::Demo).1
}

#[test]
fn a_fleet_row_says_unknown_where_nothing_was_seen_and_counts_alerts_not_silenced() {
    let now = Utc::now();
    let m = demo(&[Fault::KillMaster]);
    let a = assess(&m, now);
    let r = FleetRow::of("x", &m, &a, now);
    assert!(r.etcd.starts_with("2/3") && r.etcd_can_lose == Some(0), "{r:?}");
    assert_eq!(r.alerts, None, "no Alertmanager: not known, not zero");

    let mut m = demo(&[]);
    let alert = |name: &str, fp: &str, silenced: bool| FiringAlert {
        name: name.into(),
        severity: "critical".into(),
        fingerprint: fp.into(),
        starts_at: None,
        summary: format!("{name} summary"),
        silenced,
    };
    let obs = |r: Result<Vec<FiringAlert>, String>| Observation::now("alertmanager test", 15_000, Payload::Alerts(r));
    m.apply(obs(Ok(vec![alert("KockpitSplitBrain", "a1", false), alert("NodeDown", "b2", true)])));
    let r = FleetRow::of("x", &m, &assess(&m, now), Utc::now());
    assert_eq!((r.alerts, r.alert_names.clone()), (Some(1), vec!["KockpitSplitBrain".to_string()]));
    m.apply(obs(Ok(vec![alert("NodeDown", "b2", true)])));
    let texts: Vec<String> = m.timeline.iter().map(|e| e.text.clone()).collect();
    assert!(texts.iter().any(|t| t.starts_with("alert KockpitSplitBrain firing")), "{texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("alert KockpitSplitBrain resolved")), "{texts:?}");
    let before = FleetRow::of("x", &m, &assess(&m, Utc::now()), Utc::now());
    m.apply(obs(Err("alertmanager http://x: connect: refused".into())));
    let r = FleetRow::of("x", &m, &assess(&m, Utc::now()), Utc::now());
    assert_eq!(r.alerts, None, "a failing Alertmanager: alerts unknown");
    assert!(r.alerts_error.as_deref().unwrap_or("").contains("refused"), "{r:?}");
    // the team's monitoring failing does not judge the cluster, nor take its row's reason
    assert_eq!((r.health, &r.reason), (before.health, &before.reason), "{r:?}");
    assert!(!texts.iter().any(|t| t.contains("NodeDown resolved")));
}

#[test]
fn fleet_rows_sort_problems_first() {
    let now = Utc::now();
    let mut rows: Vec<FleetRow> = [("b-ok", vec![]), ("a-split", vec![Fault::SplitBrain]), ("c-down", vec![Fault::KillMaster])]
        .into_iter()
        .map(|(n, f)| {
            let m = demo(&f);
            FleetRow::of(n, &m, &assess(&m, now), now)
        })
        .collect();
    FleetRow::sort(&mut rows);
    assert_eq!(rows[0].health, HealthLevel::Critical);
    let rank = kockpit::model::fleet::rank;
    assert!(
        rows.windows(2).all(|w| rank(w[0].health) >= rank(w[1].health)),
        "{:?}",
        rows.iter().map(|r| (&r.cluster, r.health)).collect::<Vec<_>>()
    );
    assert_eq!(kockpit::model::fleet::worst(&rows), HealthLevel::Critical);
    // the row's reason is the one the cluster's own header shows: the first of its most severe findings
    let m = demo(&[Fault::KillMaster]);
    let a = assess(&m, now);
    let top = a.findings.iter().map(|f| f.severity).max().unwrap();
    let first = a.findings.iter().find(|f| f.severity == top).unwrap();
    let row = FleetRow::of("c-down", &m, &a, now);
    assert_eq!(row.reason, format!("{}: {}", first.subject, first.message));
    // a known critical problem outranks what cannot be seen, as `status`'s exit codes do
    let mut gone = row.clone();
    gone.health = HealthLevel::Unreachable;
    let mut crit = row.clone();
    crit.health = HealthLevel::Critical;
    assert_eq!(kockpit::model::fleet::worst(&[gone.clone(), crit.clone()]), HealthLevel::Critical);
    let mut two = vec![gone, crit];
    FleetRow::sort(&mut two);
    assert_eq!(two[0].health, HealthLevel::Critical);
}

#[test]
fn the_last_drill_of_each_cluster_comes_from_the_audit_log() {
    let log = r#"{"ts":"2026-12-03T10:00:00Z","session":"s1","event":"drill_start","drill":"VIP","cluster":"lab"}
{"ts":"2026-12-03T10:00:42.5Z","session":"s1","event":"drill_end","drill":"VIP","passed":true}
{"ts":"2026-12-03T11:00:00Z","session":"s2","event":"drill_start","drill":"x","cluster":"training"}
not json
{"ts":"2026-12-03T11:00:10Z","session":"s2","event":"drill_end","drill":"x","passed":false}
{"ts":"2026-12-03T12:00:00Z","session":"s3","event":"drill_start","drill":"y","cluster":"lab"}"#;
    let d = kockpit::report::metrics::last_drills(log);
    assert_eq!(d.len(), 2);
    assert!(d["lab"].passed && (d["lab"].seconds - 42.5).abs() < 1e-9, "an unfinished drill does not replace the last one");
    assert!(!d["training"].passed);
    let text = kockpit::fleet::serve::render_now(&[("lab".to_string(), demo(&[]))]);
    assert!(!text.contains("kockpit_drill_"), "no drill on record: no drill series");
}

#[test]
fn the_fleet_screen_opens_a_cluster_goes_back_and_jumps_and_says_the_cluster_in_a_confirmation() {
    let t = tmux::Tmux::start_with_config(FLEET, "", 100, 30);
    let s = t.wait("the fleet screen", 30, |s| s.contains("fleet") && s.contains("3 cluster(s)") && s.contains("calm"));
    let first = s.lines().find(|l| l.contains('▸')).unwrap_or("");
    assert!(first.contains("training") && first.contains("CRITICAL"), "the worst first, selected: {s}");
    t.keys(&["Enter"]);
    t.wait("training's screen", 10, |s| s.lines().next().is_some_and(|h| h.contains("training")) && s.contains("SPLIT BRAIN"));
    // an operation: the confirmation names the cluster it acts on
    t.keys(&["n"]);
    t.wait("the noout confirmation on training", 10, |s| s.contains("Set Ceph noout") && s.contains("On cluster training:"));
    // and it is carried out there, through the router that waits for its audit record
    t.keys(&["y"]);
    t.wait("noout set on training", 20, |s| !s.contains("On cluster training:") && s.contains("noout") && !s.contains("FAILED"));
    let audit = std::fs::read_to_string(t.dir.join("audit.jsonl")).unwrap_or_default();
    t.wait("the operation finished", 20, |_| {
        std::fs::read_to_string(t.dir.join("audit.jsonl")).unwrap_or_default().lines().any(|l| l.contains("\"op_finished\""))
    });
    assert!(!audit.contains("must go through the backend's router"), "{audit}");
    // Esc closes the finished operation's progress first (when it is still open), then goes back
    for _ in 0..3 {
        t.keys(&["Escape"]);
        std::thread::sleep(std::time::Duration::from_millis(700));
        if t.screen().contains("problems first") {
            break;
        }
    }
    t.wait("back on the fleet", 10, |s| s.contains("problems first"));
    t.keys(&[":ctx", "Enter"]);
    t.wait("a bare :ctx says what it takes", 10, |s| s.contains("ctx CLUSTER: one of") && s.contains("calm"));
    // the line editor: Ctrl-U clears the line, Ctrl-W takes the last word
    t.keys(&[":junk words", "C-u", "ctx nothing", "C-w", "calm", "Enter"]);
    t.wait("calm's screen", 10, |s| s.lines().next().is_some_and(|h| h.contains("calm")));
    // a cluster that cannot be started says why in its panels, never `waiting` forever
    t.keys(&[":ctx gone", "Enter"]);
    let g = t.wait("gone's screen says why", 10, |s| s.lines().next().is_some_and(|h| h.contains("gone")) && s.contains("no kubeconfig"));
    assert!(!g.contains("waiting for kube-system") && !g.contains("does not answer"), "no claim kockpit did not check: {g}");
    t.keys(&[":ctx calm", "Enter"]);
    t.wait("calm's screen again", 10, |s| s.lines().next().is_some_and(|h| h.contains("calm")));
    t.keys(&[":ctx nowhere", "Enter"]);
    t.wait("an unknown cluster named", 10, |s| s.contains("no cluster `nowhere`") && s.contains("training"));
    t.keys(&["Escape"]);
    t.wait("the command line closed", 10, |s| !s.contains("no cluster `nowhere`"));
    t.keys(&[":ctx training", "Enter"]);
    t.wait("a jump from one cluster to another", 10, |s| s.lines().next().is_some_and(|h| h.contains("training")));
    t.keys(&["q"]);
    t.wait("kockpit ended", 15, |s| s.contains("EXITED:0"));
    let audit = std::fs::read_to_string(t.dir.join("audit.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events = |e: &str| records.iter().filter(|r| r["event"] == e).collect::<Vec<_>>();
    assert_eq!(events("session_start").len(), 3, "one per cluster: {audit}");
    let planned = events("op_planned");
    assert_eq!(planned.len(), 1, "{audit}");
    assert_eq!(planned[0]["cluster"], "training", "every record names its cluster: {audit}");
    let finished = events("op_finished");
    assert_eq!(finished.len(), 1, "{audit}");
    assert_eq!(finished[0]["cluster"], "training", "{audit}");
    assert_eq!(finished[0]["ok"], true, "{audit}");
    assert!(events("session_end").iter().all(|r| r["cluster"].is_string()), "{audit}");
}

#[test]
fn with_silence_operations_a_drain_and_a_maintenance_plan_their_silence_and_nothing_else_does() {
    use kockpit::ops::{OpRequest, plan};
    let mut m = demo(&[]);
    let drain = OpRequest::Drain { node: "worker1".into(), options: Default::default() };
    let maint = OpRequest::Maintenance { host: "master2".into(), end: false, parts: vec![] };
    let cordon = OpRequest::Cordon { node: "worker1".into() };
    assert!(!plan(&drain, &m).steps.iter().any(|s| s.contains("Alertmanager")), "not asked for: no silence");
    m.meta.alertmanager = Some("http://127.0.0.1:9093".into());
    m.meta.silence_operations = true;
    for r in [&drain, &maint] {
        let p = plan(r, &m);
        assert!(p.steps[0].starts_with("silence ") && p.steps[0].contains("http://127.0.0.1:9093"), "{:?}", p.steps);
    }
    assert!(!plan(&cordon, &m).steps.iter().any(|s| s.contains("Alertmanager")));
    let d = fleet_dir("[[clusters]]\nname = \"a\"\ndemo = true\nsilence_operations = true\n");
    let t = text(&kockpit_in(d.path(), &["status", "--all"]));
    assert!(t.contains("config.toml:4") && t.contains("needs an Alertmanager"), "the key's own line: {t}");
}
