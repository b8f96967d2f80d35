//! The non-interactive commands, run as a user would.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kockpit(args: &[&str]) -> Output {
    // a fresh, empty configuration directory per run (named so that --print-config-paths shows it)
    let cfg = tempfile::Builder::new().prefix("kockpit-cli-").tempdir().unwrap();
    kockpit_in(cfg.path(), args)
}

/// The kockpit binary under test.
fn bin() -> PathBuf {
    std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")))
}

/// `cmd` (kockpit, or a shell that runs it) with `cfg` as its configuration directory, home and (under
/// it) state directory.
fn in_cfg<'a>(cmd: &'a mut Command, cfg: &std::path::Path) -> &'a mut Command {
    cmd.env("KOCKPIT_CONFIG_DIR", cfg)
        .env("XDG_STATE_HOME", cfg.join("state"))
        .env_remove("KOCKPIT_CONFIG")
        .env_remove("NO_COLOR")
        // no kubeconfig either: without a plan, the demo (whatever this machine's ~/.kube/config)
        .env_remove("KUBECONFIG")
        .env("HOME", cfg)
}

/// kockpit with `cfg` as its configuration directory (and its state directory under it).
fn kockpit_in(cfg: &std::path::Path, args: &[&str]) -> Output {
    in_cfg(Command::new(bin()).args(args), cfg).output().unwrap()
}

#[test]
fn status_json_and_exit_codes_for_the_demo() {
    let out = kockpit(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(1), "the demo has a master on kernel 3.10: degraded");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["health"], "degraded");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["model"]["meta"]["mode"], "demo");
    assert_eq!(v["model"]["plan"]["cluster"]["name"], "demo-prod");
    assert!(v["sources"].as_array().unwrap().iter().all(|s| s["state"] == "fresh"));
    assert_eq!(v["model"]["vrrp"]["slb1"]["data"]["state"], "MASTER");

    let out = kockpit(&["status", "--json", "--fault", "split-brain"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["health"], "critical");
    assert!(v["findings"][0]["message"].as_str().unwrap().contains("split brain"));
    // The VRRP password never appears; neither does anything called auth_data.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("auth_data"));
    assert_eq!(v["vip"]["verdict"], "split_brain");

    // SSH to the VIP's holder cut: unknown (exit 3), never "not held"
    let out = kockpit(&["status", "--json", "--fault", "cut-ssh-owner"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["health"], "unknown");
    assert_eq!(v["vip"]["verdict"], "unknown");
    assert_eq!(v["vip"]["unseen"][0]["lb"], "slb1");
    assert_eq!(v["vip"]["unseen"][0]["held"], true);
    let f = &v["findings"][0];
    assert_eq!(f["severity"], "unknown");
    assert!(f["message"].as_str().unwrap().starts_with("VIP holder unknown: slb1: probe timed out"), "{f}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not held"));
    let failing = v["sources"].as_array().unwrap().iter().find(|s| s["source"] == "keepalived slb1").unwrap();
    assert_eq!(failing["state"], "failed");
    assert!(failing["reason"].as_str().unwrap().contains("timed out") && failing["age_ms"].as_i64().unwrap() > 0, "{failing}");
    let text = kockpit(&["status", "--fault", "cut-ssh-owner"]);
    assert_eq!(text.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("demo-prod (DEMO): UNKNOWN\n"));
}

#[test]
fn render_prints_the_screen_at_the_asked_size() {
    let out = kockpit(&["render", "--size", "100x30", "--fault", "osd-down"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 30);
    assert!(text.lines().all(|l| l.chars().count() <= 100));
    assert!(text.contains("OSD_DOWN"), "{text}");
    // plain text: the no-break spaces that keep words together on screen are spaces
    assert!(!text.contains('\u{a0}') && text.contains("leader master1"), "{text}");
    let out = kockpit(&["render", "--size", "huge"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size must look like 120x40"));
    let out = kockpit(&["render", "--size", "99999x99999"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size 99999x99999 is out of range (20x5 to 1000x500)"));
    // the demo's journal: a host it does not have is said, and fails the command
    let out = kockpit(&["--demo", "logs", "--host", "nosuch", "--unit", "keepalived"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no host nosuch in the demo cluster (slb1, slb2, master1"));
}

#[test]
fn bad_inputs_get_clear_errors() {
    let out = kockpit(&["status", "--fault", "meteor"]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown fault `meteor`") && err.contains("split-brain"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("themes")).unwrap();
    std::fs::write(dir.join("themes/broken.toml"), "name = \"broken\"\n[roles]\nok = { fg = \"greenish\" }\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kockpit"))
        .args(["render", "--theme", "broken"])
        .env("KOCKPIT_CONFIG_DIR", dir)
        .env_remove("KUBECONFIG")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("themes/broken.toml:3:"), "{err}");
}

#[test]
fn print_config_paths_names_every_location() {
    let out = kockpit(&["--print-config-paths"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for k in ["config dir:", "config file:", "themes:", "keymaps:", "audit log:"] {
        assert!(text.contains(k), "{text}");
    }
    assert!(text.contains("kockpit-cli-"), "KOCKPIT_CONFIG_DIR is honoured: {text}");
}

#[test]
fn plan_prints_both_formats_the_same_and_never_a_password() {
    let root = env!("CARGO_MANIFEST_DIR");
    let toml = kockpit(&["plan", &format!("{root}/assets/demo-cluster.toml"), "--json"]);
    let yaml = kockpit(&["plan", &format!("{root}/assets/demo-cluster-kubekey.yaml"), "--json"]);
    assert!(toml.status.success() && yaml.status.success(), "{}", String::from_utf8_lossy(&yaml.stderr));
    let a: serde_json::Value = serde_json::from_slice(&toml.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&yaml.stdout).unwrap();
    assert_eq!(a["vip"], b["vip"]);
    assert_eq!(a["topology"], b["topology"]);
    let names =
        |v: &serde_json::Value| v["hosts"].as_array().unwrap().iter().map(|h| (h["name"].clone(), h["roles"].clone())).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
    assert_eq!(a["hosts"].as_array().unwrap().len(), 8);
    // what the text output adds: the quorum and the warnings
    assert_eq!(
        (a["summary"]["etcd"]["quorum"].as_u64(), a["summary"]["etcd"]["tolerates"].as_u64()),
        (Some(2), Some(1)),
        "{}",
        a["summary"]
    );
    assert_eq!(a["summary"]["lbs"], serde_json::json!(["slb1", "slb2"]));
    assert!(a["warnings"].is_array(), "{a}");
    let text = kockpit(&["plan", &format!("{root}/assets/demo-cluster-kubekey.yaml")]);
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("tolerates 1 failure"), "{out}");
    for o in [&out, &String::from_utf8_lossy(&yaml.stdout)] {
        assert!(!o.contains("Fake-Pa55word"), "password leaked: {o}");
    }
}

#[test]
fn plan_errors_name_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[cluster]\nname = \"x\"\n[vip]\naddress = \"10.0.0.100\"\n[[hosts]]\nname = \"m1\"\naddress = \"10.0.0.300\"\nroles = [\"master\"]\n").unwrap();
    let out = kockpit(&["plan", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:7:"), "{err}");
    let yaml = dir.join("kk.yaml");
    std::fs::write(
        &yaml,
        "apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nmetadata: {name: x}\nspec:\n  hosts:\n  - {name: n1, address: 10.0.0.1, password: \"S3cret!\", port: \"S3cret!\"}\n",
    )
    .unwrap();
    let out = kockpit(&["plan", yaml.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kk.yaml:"), "{err}");
    assert!(!err.contains("S3cret"), "password in an error message: {err}");
    // A live cluster plan with a demo-only flag is refused with the reason.
    let out = kockpit(&["status", "--config", &format!("{}/assets/demo-cluster.toml", env!("CARGO_MANIFEST_DIR")), "--fault", "osd-down"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("simulated cluster only"));
}

#[test]
fn drills_run_headless_on_the_demo_and_refuse_where_they_must() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let report = dir.join("report.md");
    let drill = format!("{}/assets/drills/etcd-leader-loss.toml", env!("CARGO_MANIFEST_DIR"));
    let out = kockpit(&["drill", "run", &drill, "--headless", "--report", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("Result: **PASSED**"), "{md}");
    assert!(md.contains("etcd elects a new leader (was master1) within 3.0s"), "{md}");
    let js: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report.with_extension("json")).unwrap()).unwrap();
    assert_eq!(js["result"], "passed");
    let met = js["steps"][1]["expectations"][0]["met_after_ms"].as_i64().unwrap();
    assert!((500..3_000).contains(&met), "new leader after {met} ms");

    let out = kockpit(&["drill", "run", &drill, "--headless", "--readonly"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused in read-only mode"));

    // A real cluster whose plan does not allow drills.
    let out =
        kockpit(&["drill", "run", &drill, "--headless", "--config", &format!("{}/assets/demo-cluster.toml", env!("CARGO_MANIFEST_DIR"))]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("allow_drills = true"), "{}", String::from_utf8_lossy(&out.stderr));

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[[steps]]\nname = \"s\"\nexpect = [{ check = \"vip_onn\", within = 1 }]\n").unwrap();
    let out = kockpit(&["drill", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.toml:4:21: unknown check `vip_onn`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in std::fs::read_dir(format!("{}/assets/drills", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let p = f.unwrap().path();
        let out = kockpit(&["drill", "check", p.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", p.display(), String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_drill_without_a_terminal_runs_headless_and_writes_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.md");
    let audit = dir.path().join("audit.jsonl");
    let drill = format!("{}/assets/drills/etcd-leader-loss.toml", env!("CARGO_MANIFEST_DIR"));
    // no --headless, and no terminal (output is captured): it says so and runs headless, no panic
    let out = kockpit(&["drill", "run", &drill, "--report", report.to_str().unwrap(), "--audit-log", audit.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}{err}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("no terminal") && err.contains("headless"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(std::fs::read_to_string(&report).unwrap().contains("Result: **PASSED**"));
    // the drill's actions are on record, each before it was carried out, and the session is closed
    let events: Vec<serde_json::Value> =
        std::fs::read_to_string(&audit).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names.first(), Some(&"session_start"), "{names:?}");
    assert_eq!(names[names.len() - 2..], ["session_end", "checkpoint"], "the session ends sealed: {names:?}");
    for want in ["drill_start", "drill_action", "drill_end"] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    assert!(events[0]["user"].as_str().is_some_and(|u| !u.is_empty()), "who ran it is recorded: {}", events[0]);
    let end = events.iter().find(|e| e["event"] == "drill_end").unwrap();
    assert_eq!(end["passed"], true);
}

#[test]
fn the_screen_without_a_terminal_says_what_to_use_instead() {
    let out = kockpit(&["demo"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("needs a terminal") && err.contains("kockpit status"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_signal_stops_a_headless_drill_undoes_what_it_broke_and_records_its_end() {
    use std::io::BufRead;
    let cfg = tempfile::tempdir().unwrap();
    let audit = cfg.path().join("audit.jsonl");
    let report = cfg.path().join("r.md");
    // a step that breaks something and then waits (its check cannot pass while keepalived is stopped)
    let drill = cfg.path().join("d.toml").to_str().unwrap().to_string();
    std::fs::write(
        &drill,
        "name = \"held\"\n[[steps]]\nname = \"stop keepalived on the VIP owner\"\n\
         action = { do = \"stop\", target = \"vip-owner\", service = \"keepalived\" }\n\
         expect = [{ check = \"node_cordoned\", target = \"first-worker\", within = 60 }]\n\
         [[steps]]\nname = \"restore\"\nrestore = true\naction = { do = \"start\", target = \"vip-owner\", service = \"keepalived\" }\n",
    )
    .unwrap();
    // --report naming a FIFO (a write that would block as the drill ends) is refused before it runs
    let fifo = cfg.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = kockpit_in(cfg.path(), &["drill", "run", &drill, "--headless", "--report", fifo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));

    let mut child = in_cfg(
        Command::new(bin()).args([
            "drill",
            "run",
            &drill,
            "--headless",
            "--report",
            report.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
        ]),
        cfg.path(),
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    // the owner's keepalived stopped: the drill has broken something
    for l in lines.by_ref() {
        let l = l.unwrap();
        said.push(l.clone());
        if l.contains("step 1: stop keepalived") {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    said.extend(lines.map_while(Result::ok));
    let status = child.wait().unwrap();
    let text = said.join("\n");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("restoring what the drill left broken: start keepalived on"), "{text}");
    assert!(text.contains("INTERRUPTED (terminate signal)"), "{text}");
    let events: Vec<String> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap_or("").to_string())
        .collect();
    for e in ["drill_interrupted", "drill_end", "session_end"] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
    // the undo was carried out and ended (its start recorded, then its end)
    let after = events.iter().position(|e| e == "drill_interrupted").unwrap();
    assert!(events[after..].iter().any(|e| e == "drill_action") && events[after..].iter().any(|e| e == "op_finished"), "{events:?}");
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("interrupted (terminate signal)"), "{md}");
    let out = kockpit_in(cfg.path(), &["audit", "verify", audit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_drill_whose_reader_went_away_or_whose_stderr_is_full_runs_to_its_recorded_end() {
    use std::io::BufRead;
    let cfg = tempfile::tempdir().unwrap();
    let audit = cfg.path().join("audit.jsonl");
    let drill = format!("{}/assets/drills/vip-owner-loss.toml", env!("CARGO_MANIFEST_DIR"));
    // no directory for the report: refused before anything runs
    let out = kockpit_in(cfg.path(), &["drill", "run", &drill, "--headless", "--report", "/nonexistent-dir/r.md"]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let report = cfg.path().join("r.md");
    let mut child = in_cfg(
        Command::new(bin()).args([
            "drill",
            "run",
            &drill,
            "--headless",
            "--report",
            report.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
        ]),
        cfg.path(),
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::fs::File::create("/dev/full").unwrap())
    .spawn()
    .unwrap();
    // like `| head -1`: the reader takes one line and goes away
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("drill VIP owner loss"), "{first}");
    let status = child.wait().unwrap();
    assert!(matches!(status.code(), Some(0 | 1)), "the drill's own verdict, not a death by its output: {status:?}");
    let events: Vec<String> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap_or("").to_string())
        .collect();
    for e in ["drill_end", "session_end"] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
    assert!(report.exists(), "the report is written");
}

#[test]
fn audit_verify_finds_a_changed_byte_and_a_cut_tail() {
    let dir = tempfile::tempdir().unwrap();
    // one configuration directory for the session and the check: the checkpoint key lives there
    let cfg = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let drill = format!("{}/assets/drills/etcd-leader-loss.toml", env!("CARGO_MANIFEST_DIR"));
    let report = dir.path().join("r.md");
    let out = kockpit_in(
        cfg.path(),
        &["drill", "run", &drill, "--headless", "--report", report.to_str().unwrap(), "--audit-log", audit.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kockpit_in(cfg.path(), &["audit", "verify", audit.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.starts_with("intact: ") && said.contains("signatures checked"), "{said}");

    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let changed = lines[1].replacen("\"event\":\"", "\"event\":\"x", 1);
    let mut forged: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    forged[1] = changed;
    std::fs::write(&audit, forged.join("\n") + "\n").unwrap();
    let out = kockpit_in(cfg.path(), &["audit", "verify", audit.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("audit.jsonl:3: record seq 2: prev does not match record 1"), "{err}");

    std::fs::write(&audit, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let out = kockpit_in(cfg.path(), &["audit", "verify", audit.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not sealed"), "{err}");
}

#[test]
fn a_write_that_runs_out_of_room_leaves_no_half_record() {
    let cfg = tempfile::tempdir().unwrap();
    let audit = cfg.path().join("audit.jsonl");
    let a = audit.to_str().unwrap();
    let run = |limit: Option<u64>| {
        // a file size limit as a full disk would be: writes past it stop part-way (SIGXFSZ ignored:
        // the write fails instead, EFBIG)
        let limit = limit.map(|b| format!("ulimit -f {}; ", b.div_ceil(512))).unwrap_or_default();
        let mut sh = Command::new("sh");
        sh.args(["-c", &format!("trap '' XFSZ; {limit}exec \"$0\" \"$@\""), bin().to_str().unwrap()]).args([
            "--demo",
            "run",
            "cordon",
            "worker1",
            "--yes",
            "--audit-log",
            a,
        ]);
        in_cfg(&mut sh, cfg.path()).output().unwrap()
    };
    let out = run(None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // room for less than a record or two past what is there: some record is cut part-way
    let len = std::fs::metadata(&audit).unwrap().len();
    let out = run(Some(len + 100));
    assert_ne!(out.status.code(), Some(0), "nothing is done unrecorded: {}", String::from_utf8_lossy(&out.stdout));
    let text = std::fs::read(&audit).unwrap();
    assert!(
        text.ends_with(b"\n"),
        "no half record left at the end: {:?}",
        String::from_utf8_lossy(&text[text.len().saturating_sub(200)..])
    );
    // room again: the chain goes on, and verifies
    let out = run(None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kockpit_in(cfg.path(), &["audit", "verify", a]);
    assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_full_standard_error_is_an_output_error_not_an_abort() {
    let cfg = tempfile::tempdir().unwrap();
    for args in [&["--demo", "status"][..], &["--demo", "render", "--size", "80x24"], &["status", "--bogus"]] {
        let full = std::fs::File::create("/dev/full").unwrap();
        let status = in_cfg(Command::new(bin()).args(args), cfg.path()).stdout(full.try_clone().unwrap()).stderr(full).status().unwrap();
        assert!(matches!(status.code(), Some(4 | 5)), "{args:?}: {status:?}");
    }
}

#[test]
fn output_errors_never_panic_and_usage_errors_are_not_verdicts() {
    let bin = std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")));
    let cfg = tempfile::tempdir().unwrap();
    let sh = |script: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("K", &bin)
            .env("KOCKPIT_CONFIG_DIR", cfg.path())
            .env_remove("KOCKPIT_CONFIG")
            .env_remove("KUBECONFIG")
            .env("HOME", cfg.path())
            .output()
            .unwrap()
    };
    // the reader goes away: quiet, 141 as for SIGPIPE
    let out = sh(r#"{ "$K" status --json --nodes 5000; echo "rc=$?" >&2; } | head -c 10 >/dev/null"#);
    let err = String::from_utf8_lossy(&out.stderr);
    // 141 when the write met the closed pipe; the verdict when the output fit the pipe before head left
    assert!((err.contains("rc=141") || err.contains("rc=1")) && !err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    let out = sh(r#"{ "$K" render --size 400x200 --nodes 2000; echo "rc=$?" >&2; } | head -1 >/dev/null"#);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!((err.contains("rc=141") || err.contains("rc=0")) && !err.contains("panicked"), "{err}");
    // a full disk: said, with its own code
    let out = sh(r#""$K" status --json > /dev/full"#);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("cannot write the output: No space left on device") && !err.contains("panicked"), "{err}");
    // help is output like any other
    let out = sh(r#""$K" --help > /dev/full"#);
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kockpit(&["--help"]);
    assert!(!out.stdout.contains(&0x1b), "no colour into a pipe");
    // an unknown flag is a usage error (4), not "critical" (2); help is an answer (0)
    let out = kockpit(&["status", "--bogus"]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(kockpit(&["--help"]).status.code(), Some(0));
}

#[test]
fn plan_refuses_what_is_not_a_plan_file_before_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.yaml");
    std::fs::write(&deep, format!("apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nspec: {}\n", "[".repeat(100_000))).unwrap();
    // a FIFO nobody writes to: opening it would wait forever
    let fifo = dir.path().join("plan.toml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (file, want) in [
        ("/dev/zero".to_string(), "it is a device, not a regular file"),
        (dir.path().display().to_string(), "it is a directory, not a regular file"),
        (deep.display().to_string(), "deep.yaml:3:71: nested more than 64 levels deep"),
        (fifo.display().to_string(), "it is a FIFO, not a regular file"),
    ] {
        let started = std::time::Instant::now();
        let out = kockpit(&["plan", &file]);
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{file}: {err}");
        assert!(err.contains(want), "{file}: {err}");
        assert!(took < std::time::Duration::from_secs(1), "{file}: refused in {took:?}, not within 1 s");
    }
    // and a real plan is accepted within 1 s too
    let started = std::time::Instant::now();
    let out = kockpit(&["plan", &format!("{}/assets/demo-cluster.toml", env!("CARGO_MANIFEST_DIR"))]);
    assert!(out.status.success() && started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
}

#[test]
fn drill_check_refuses_what_drill_run_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let step = |action: &str| format!("name = \"x\"\n[[steps]]\nname = \"s\"\naction = {action}\n");
    let cases = [
        (r#"{ do = "stop", target = "nosuchhost", service = "keepalived" }"#, "unknown host `nosuchhost`"),
        (r#"{ do = "drain", node = "slb1" }"#, "unknown node `slb1`"),
        (r#"{ do = "vip_failover", to = "master1" }"#, "unknown load balancer `master1`"),
        (r#"{ do = "stop", target = "slb1", service = "haproxy; rm -rf /" }"#, "\"haproxy; rm -rf /\" is not a plain systemd unit name"),
        (r#"{ do = "stop", target = "slb1", service = "ha proxy" }"#, "not a plain systemd unit name"),
        (r#"{ do = "start", target = "slb1", service = "../haproxy" }"#, "not a plain systemd unit name"),
        (r#"{ do = "start", target = "slb1", service = "-haproxy" }"#, "not a plain systemd unit name"),
        (r#"{ do = "start", target = "slb1", service = ".." }"#, "not a plain systemd unit name"),
        (r#"{ do = "start", target = "slb1", service = "@" }"#, "not a plain systemd unit name"),
        // a name of the wrong kind: a worker is no master, a symbol for a master no load balancer
        (r#"{ do = "renew_certs", masters = ["worker1"] }"#, "unknown master `worker1`"),
        (r#"{ do = "maintenance", target = "worker1" }"#, "unknown master `worker1`"),
        (
            r#"{ do = "vip_failover", to = "etcd-leader" }"#,
            "unknown load balancer `etcd-leader`: not in this cluster; expected one of: slb1, slb2, vip-owner, vip-peer\n",
        ),
    ];
    for (i, (action, want)) in cases.iter().enumerate() {
        let f = dir.path().join(format!("d{i}.toml"));
        std::fs::write(&f, step(action)).unwrap();
        let out = kockpit(&["drill", "check", f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{action}: {err}");
        assert!(err.contains(&format!("d{i}.toml:4:10: ")) && err.contains(want), "{action}: {err}");
        // and the run refuses it the same way, before anything is done
        let out = kockpit(&["drill", "run", f.to_str().unwrap(), "--headless"]);
        assert_eq!(out.status.code(), Some(4), "{action}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // an unknown target of a check, on its own line
    let f = dir.path().join("expect.toml");
    std::fs::write(
        &f,
        "name = \"x\"\n[[steps]]\nname = \"s\"\nexpect = [\n  { check = \"node_ready\", target = \"worker9\", within = 5 },\n]\n",
    )
    .unwrap();
    let err = String::from_utf8_lossy(&kockpit(&["drill", "check", f.to_str().unwrap()]).stderr).to_string();
    assert!(err.contains("expect.toml:5:") && err.contains("unknown node `worker9`"), "{err}");
    // the demo's extra workers are nodes; symbols are always accepted
    std::fs::write(&f, step(r#"{ do = "drain", node = "node-00004" }"#)).unwrap();
    assert_eq!(kockpit(&["drill", "check", f.to_str().unwrap()]).status.code(), Some(4));
    assert!(kockpit(&["drill", "check", f.to_str().unwrap(), "--nodes", "5"]).status.success());
    std::fs::write(&f, step(r#"{ do = "stop", target = "vip-owner", service = "keepalived@lb.service" }"#)).unwrap();
    assert!(kockpit(&["drill", "check", f.to_str().unwrap()]).status.success());
    // against a plan: its hosts
    let plan = format!("{}/assets/demo-cluster.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(&f, step(r#"{ do = "stop", target = "worker9", service = "kubelet" }"#)).unwrap();
    let out = kockpit(&["drill", "check", f.to_str().unwrap(), "--config", &plan]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown host `worker9`"));
}

#[test]
fn plan_warns_about_vips_no_host_can_hold_and_refuses_names_that_read_as_others() {
    let dir = tempfile::tempdir().unwrap();
    let base = |vip: &str, m1: &str| {
        format!(
            "[cluster]\nname = \"t\"\n[vip]\naddress = \"{vip}\"\n\
             [[hosts]]\nname = \"lb1\"\naddress = \"10.0.0.11\"\nroles = [\"lb\"]\n\
             [[hosts]]\nname = \"lb2\"\naddress = \"10.0.0.12\"\nroles = [\"lb\"]\n\
             [[hosts]]\nname = \"{m1}\"\naddress = \"10.0.0.21\"\nroles = [\"master\"]\n"
        )
    };
    let plan = |src: String| {
        let f = dir.path().join("p.toml");
        std::fs::write(&f, src).unwrap();
        let out = kockpit(&["plan", f.to_str().unwrap()]);
        (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    let (code, text) = plan(base("10.0.0.100", "m1"));
    assert!(code == Some(0) && !text.contains("VIP 10.0.0.100 is"), "{text}");
    for (vip, want) in [
        ("0.0.0.0", "the VIP 0.0.0.0 is the unspecified address"),
        ("255.255.255.255", "is a broadcast address"),
        ("10.0.0.255", "is a broadcast address"),
        ("10.9.9.100", "is in none of the /24 networks of the hosts that would carry it (lb1, lb2)"),
    ] {
        let (_, text) = plan(base(vip, "m1"));
        assert!(text.contains(want), "{vip}: {text}");
        // the same warning in `plan --json`
        let out = kockpit(&["plan", dir.path().join("p.toml").to_str().unwrap(), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap_or("").contains(want)), "{vip}: {}", v["warnings"]);
    }
    for (m1, want) in [("LB1", "differ only in case"), ("m\u{202e}1", "bidirectional"), ("m\\u00071", "control")] {
        let (code, text) = plan(base("10.0.0.100", m1));
        assert_eq!(code, Some(4), "{m1:?}: {text}");
        assert!(text.contains("p.toml:") && text.contains(want), "{m1:?}: {text}");
    }
}

fn hacfg(rel: &str) -> String {
    format!("{}/tests/fixtures/hacfg/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn lint_flags_the_tutorial_set_and_predicts_its_failover() {
    let files = [hacfg("tutorial/m1.conf"), hacfg("tutorial/m2.conf"), hacfg("tutorial/m3.conf"), hacfg("tutorial/haproxy.cfg")];
    let mut args = vec!["lint"];
    args.extend(files.iter().map(String::as_str));
    let out = kockpit(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for code in
        ["all-state-master", "equal-priority", "slow-check", "auth-pass", "ssl-hello-with-check-ssl", "no-stats", "server-without-check"]
    {
        assert!(text.contains(&format!(" {code}: ")), "{code}: {text}");
    }
    assert!(text.contains("tutorial/haproxy.cfg:21: CRITICAL ssl-hello-with-check-ssl: k8s-api: option ssl-hello-chk"), "{text}");
    assert!(text.contains("tutorial/m1.conf:6: WARN slow-check: chk_haproxy: 3 s x fall 10 = 30 s before keepalived reacts"), "{text}");
    assert!(text.contains("4 file(s): 1 critical,"), "{text}");
    // no addresses given: the three tie, and the prediction names no holder it cannot know
    assert!(
        text.contains("predicted: m1, m2 and m3 share the top priority 100 of VI_1: keepalived gives the VIP to the one with the highest primary address; without the addresses, which one holds it (and what haproxy's death there does) cannot be told (give the addresses: --address NAME=IP/PREFIX)"),
        "{text}"
    );
    assert!(!text.contains("haproxy dead on"), "{text}");
    assert!(!text.contains("Tut0rial"), "the VRRP password is never printed: {text}");

    // with the peers' addresses: m3 is master by config, and haproxy's death on it moves the VIP to m2
    let mut args = vec!["lint", "--json", "--address", "m1=10.0.0.11/24", "--address", "m2=10.0.0.12/24", "--address", "m3=10.0.0.13/24"];
    args.extend(files[..3].iter().map(String::as_str));
    let out = kockpit(&args);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit_code"], 1);
    let p = &v["predictions"][0];
    assert_eq!(
        (p["holder_before"].as_str(), p["holder_after"].as_str(), p["moves"].as_bool()),
        (Some("m3"), Some("m2"), Some(true)),
        "{p}"
    );
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["code"] == "equal-priority" && f["level"] == "warn"));
}

#[test]
fn lint_of_the_clean_sets() {
    let out = kockpit(&[
        "lint",
        "--on-master",
        &hacfg("modern/m1.conf"),
        &hacfg("modern/m2.conf"),
        &hacfg("modern/m3.conf"),
        &hacfg("modern/haproxy.cfg"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("0 critical, 0 warning(s), 1 note(s)"), "{text}");
    assert!(text.contains("predicted: haproxy dead on m1, which holds the VIP: clients through the VIP fail now; keepalived on m1 lowers its priority 110 -> 80 in ~2 s (haproxy: 2 s); m2 (105) then takes the VIP after its preempt_delay of 30 s"), "{text}");
    // the kubeadm guide's files: a 30 s check and no stats socket are warnings, nothing critical
    let out = kockpit(&[
        "lint",
        "--peer",
        &format!("cp1={}", hacfg("kubeadm/m1.conf")),
        "--peer",
        &format!("cp2={}", hacfg("kubeadm/m2.conf")),
        &hacfg("kubeadm/haproxy.cfg"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("WARN no-stats: no stats socket and no stats page"), "{text}");
    assert!(text.contains("predicted: haproxy dead on cp1, which holds the VIP"), "{text}");
    // a distribution's default file alone has its stats socket: no finding
    let out = kockpit(&["lint", &hacfg("distros/debian.cfg")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn lint_refuses_what_it_cannot_read_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("keepalived.conf");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let huge = dir.path().join("huge.cfg");
    std::fs::write(&huge, "# filler\n".repeat(600_000)).unwrap();
    let broken = dir.path().join("broken.conf");
    std::fs::write(&broken, "global_defs {\n router_id x\n}\nvrrp_instance VI_1 {\n priority 100\n").unwrap();
    let missing = dir.path().join("inc.conf");
    std::fs::write(&missing, "include /nonexistent/keepalived/extra.conf\nvrrp_instance VI_1 {\n}\n").unwrap();
    let latin1 = dir.path().join("latin1.conf");
    std::fs::write(&latin1, b"vrrp_instance VI_1 {\n    notify_master \"/etc/keepalived/caf\xe9.sh\"\n}\n").unwrap();
    let neither = dir.path().join("plan.toml");
    std::fs::write(&neither, "[cluster]\nname = \"x\"\n").unwrap();
    let l = latin1.display().to_string();
    let (d, f, h, b, m, n) = (
        dir.path().display().to_string(),
        fifo.display().to_string(),
        huge.display().to_string(),
        broken.display().to_string(),
        missing.display().to_string(),
        neither.display().to_string(),
    );
    for (args, want) in [
        (vec!["lint", d.as_str()], "it is a directory, not a regular file".to_string()),
        (vec!["lint", f.as_str()], "it is a FIFO, not a regular file".to_string()),
        (vec!["lint", h.as_str()], "may have at most 4194304".to_string()),
        (vec!["lint", b.as_str()], format!("{b}:4: the block opened here is never closed")),
        (vec!["lint", m.as_str()], format!("{m}:1: include /nonexistent/keepalived/extra.conf: no such file")),
        (vec!["lint", n.as_str()], "neither a keepalived.conf".to_string()),
        (vec!["lint", l.as_str()], format!("{l}:2:39: not UTF-8 text (byte 0xe9)")),
        (vec!["lint"], "give the files to lint".to_string()),
        (vec!["lint", "--peer", "m1"], "--peer must look like NAME=VALUE".to_string()),
    ] {
        let started = std::time::Instant::now();
        let out = kockpit(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {err}");
        assert!(err.contains(&want), "{args:?}: {err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{args:?} took {:?}", started.elapsed());
    }
}

#[test]
fn lint_names_copies_of_one_file_by_their_directory_and_refuses_a_peer_twice() {
    let tmp = tempfile::tempdir().unwrap();
    for (h, src) in [("lb1", "tutorial/m1.conf"), ("lb2", "tutorial/m2.conf")] {
        std::fs::create_dir_all(tmp.path().join(h)).unwrap();
        std::fs::copy(hacfg(src), tmp.path().join(h).join("keepalived.conf")).unwrap();
    }
    let (a, b) = (tmp.path().join("lb1/keepalived.conf"), tmp.path().join("lb2/keepalived.conf"));
    let out = kockpit(&["lint", a.to_str().unwrap(), b.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("lb1 and lb2 all have priority 100") || text.contains("lb1 and lb2 both have priority 100"), "{text}");
    assert!(
        text.contains("predicted: lb1 and lb2 share the top priority 100 of VI_1"),
        "two peers at 100, no address: no holder named\n{text}"
    );
    let out = kockpit(&["lint", "--address", "lb1=10.0.0.11", "--address", "lb2=10.0.0.12", a.to_str().unwrap(), b.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("haproxy dead on lb2") && !text.contains("will NOT move"), "two peers at 100, weight -2: the VIP moves\n{text}");
    let out = kockpit(&["lint", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is given twice"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kockpit(&["lint", "--peer", &format!("x={}", a.display()), "--peer", &format!("x={}", b.display())]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("two peers named `x`"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// kockpit with a kubeconfig (and no plan) in a fresh configuration directory.
fn with_kubeconfig(kubeconfig: &str, args: &[&str]) -> Output {
    let cfg = tempfile::Builder::new().prefix("kockpit-cli-").tempdir().unwrap();
    let kc = cfg.path().join("kubeconfig");
    std::fs::write(&kc, kubeconfig).unwrap();
    let bin = std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")));
    Command::new(bin)
        .args(args)
        .env("KOCKPIT_CONFIG_DIR", cfg.path())
        .env("XDG_STATE_HOME", cfg.path().join("state"))
        .env_remove("KOCKPIT_CONFIG")
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap()
}

/// A kubeconfig whose server refuses connections (port 1 of loopback).
const CLOSED_KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\n\
contexts:\n- name: ops@c\n  context: {cluster: c, user: u}\ncurrent-context: ops@c\nusers:\n- name: u\n  user: {token: t}\n";

#[test]
fn without_plan_or_kubeconfig_the_demo_says_why() {
    let out = kockpit(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(DEMO)") && text.contains("demo: no host plan and no kubeconfig (KUBECONFIG, ~/.kube/config)"), "{text}");
    // an unusable kubeconfig: for a script, an error that says why (the screen opens the demo and says why)
    let out = with_kubeconfig("apiVersion: v1\nkind: Config\nclusters: []\n", &["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("it names no current context") && err.contains("--demo"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("(DEMO)"));
    // asked for, the demo comes without a word about why
    let out = kockpit(&["render", "--size", "200x10"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo: no host plan"));
    let out = with_kubeconfig(CLOSED_KUBECONFIG, &["render", "--demo", "--size", "200x10"]);
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("DEMO") && !screen.contains("no host plan"), "{screen}");
    // opened by --fault or --nodes alone (even beside a kubeconfig), the demo says so
    let out = with_kubeconfig(CLOSED_KUBECONFIG, &["status", "--fault", "kill-master"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(DEMO)") && text.contains("demo: --fault is the simulated cluster's (no host plan)"), "{text}");
    let out = kockpit(&["status", "--nodes", "20"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo: --nodes is the simulated cluster's"));
}

#[test]
fn without_a_plan_a_kubeconfig_opens_its_cluster_even_when_it_does_not_answer() {
    let out = with_kubeconfig(CLOSED_KUBECONFIG, &["status", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(3), "nothing answers: unknown");
    assert_eq!(v["model"]["meta"]["cluster"], "ops@c");
    assert_eq!(v["model"]["meta"]["mode"], "live");
    assert!(v["model"]["meta"]["note"].as_str().unwrap().starts_with("no host plan: VIP, haproxy, etcd and host probes need SSH"));
    assert_eq!(v["model"]["plan"]["source"]["format"], "kubeconfig");
    assert!(v["model"]["plan"]["hosts"].as_array().unwrap().is_empty());
    let out = with_kubeconfig(CLOSED_KUBECONFIG, &["render", "--size", "160x40"]);
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("not configured: no host plan") && screen.contains("endpoint https://127.0.0.1:1 does not"), "{screen}");
    assert!(!screen.contains("DEMO"), "{screen}");
    // a panel whose source failed before its first answer is unknown, with why, not waiting for data
    assert!(!screen.contains("no data yet"), "{screen}");
    assert!(screen.contains("│unknown: Connection refused") && screen.contains("│Ceph unknown: Connection refused"), "{screen}");
    assert!(!screen.contains("no CephCluster seen") && !screen.contains("waiting for the served"), "{screen}");
    // a --context that is not there is refused, not guessed
    let out = with_kubeconfig(CLOSED_KUBECONFIG, &["status", "--context", "prod"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no context \"prod\" in it (contexts: ops@c)"));
    // the draft needs a cluster that answers, and says so
    let out = with_kubeconfig(CLOSED_KUBECONFIG, &["plan", "--from-cluster"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty() && String::from_utf8_lossy(&out.stderr).contains("ops@c (https://127.0.0.1:1)"));
    let out = kockpit(&["plan", "--from-cluster"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no kubeconfig (KUBECONFIG, ~/.kube/config)"));
}

#[test]
fn lint_follows_an_include_inside_a_block() {
    let out = kockpit(&["lint", &hacfg("nested/keepalived.conf")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    // priority 150 and preempt_delay 30 are in the file included inside vrrp_instance
    assert!(!text.contains("preempt-without-delay"), "{text}");
    assert!(text.contains("lowers its priority 150 -> 90 in ~4 s (chk_haproxy: 2 s x fall 2)"), "{text}");
}

#[test]
fn lint_names_values_out_of_range_with_file_and_line() {
    let (k, h) = (hacfg("invalid/keepalived.conf"), hacfg("invalid/haproxy.cfg"));
    let out = kockpit(&["lint", &k, &h]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for want in [
        format!("{k}:14: WARN invalid-value: priority 300 is outside 1..255: keepalived ignores it and uses the default 100"),
        format!("{k}:13: CRITICAL invalid-value: virtual_router_id 256 is outside 1..255: keepalived refuses the instance"),
        format!("{k}:15: WARN invalid-value: advert_int 0 must be above 0 seconds"),
        format!("{k}:7: WARN invalid-value: weight 300 is outside -253..253"),
        format!("{k}:20: WARN invalid-value: chk_haproxy -254 is outside -253..253"),
        format!("{k}:5: WARN invalid-value: fall 0 must be a whole number of at least 1: keepalived uses 1"),
        format!("{k}:6: WARN invalid-value: rise -1 must be a whole number of at least 1"),
        format!("{h}:6: CRITICAL invalid-value: inter 0 must be a positive time (2s, 500ms): haproxy refuses the line"),
        format!("{h}:14: CRITICAL invalid-value: fall 0 must be a whole number of at least 1"),
        format!("{h}:15: CRITICAL invalid-value: rise x must be a whole number of at least 1"),
        format!("{h}:16: CRITICAL invalid-value: inter -1s must be a positive time"),
    ] {
        assert!(text.contains(&want), "{want}\n{text}");
    }
    let out = kockpit(&["lint", "--json", &h]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"].as_array().unwrap().iter().find(|f| f["code"] == "invalid-value").unwrap().clone();
    assert_eq!((f["at"]["line"].as_u64(), f["level"].as_str()), (Some(6), Some("critical")), "{f}");
}

#[test]
fn a_written_audit_report_exits_0_and_records_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.md");
    let out = kockpit(&["--demo", "audit", "report", "-o", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let md = std::fs::read_to_string(&file).unwrap();
    assert!(md.contains("- Overall: **Degraded** (`kockpit status` exits 1)"), "the verdict is in the report:\n{md}");
    assert!(md.contains("| Warn | Hosts | master3 | kernel 3.10.0 < 4.19 |"), "each finding names its subject:\n{md}");
    // etcd member ids past 2^53 keep every digit in JSON: strings
    let out = kockpit(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = v["model"]["etcd"]["data"]["members"].as_array().unwrap();
    assert!(!ids.is_empty() && ids.iter().all(|m| m["id"].as_str().is_some_and(|s| s.parse::<u64>().is_ok())), "{ids:?}");
}

#[test]
fn completions_and_the_man_page_cover_the_subcommands() {
    let text = |args: &[&str]| {
        let out = kockpit(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = text(&["completions", "bash"]);
    assert!(bash.contains("_kockpit()") && bash.contains("status") && bash.contains("--from-cluster"), "{bash}");
    assert!(text(&["completions", "zsh"]).starts_with("#compdef kockpit"));
    assert!(text(&["completions", "fish"]).contains("complete -c kockpit"));
    let man = text(&["man"]);
    assert!(man.contains(".TH kockpit 1") && man.contains("status") && man.contains("drill"), "{man}");
    assert_eq!(kockpit(&["completions", "tcsh"]).status.code(), Some(4), "an unknown shell is a usage error");
    assert!(!bash.contains("exit-after-first-frame"), "a hidden option is not offered");

    // --dir: the main page and one per subcommand, nested ones included
    let dir = tempfile::tempdir().unwrap();
    let out = kockpit(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for page in ["kockpit.1", "kockpit-status.1", "kockpit-plan.1", "kockpit-audit.1", "kockpit-audit-report.1", "kockpit-drill-run.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}: {text}");
    }
    let plan = std::fs::read_to_string(dir.path().join("kockpit-plan.1")).unwrap();
    assert!(plan.contains("from\\-cluster") && !plan.contains("fault"), "{plan}");
}

#[test]
fn each_subcommand_lists_only_its_own_options_and_still_takes_the_shared_ones() {
    let help = |args: &[&str]| {
        let out = kockpit(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let plan = help(&["plan", "--help"]);
    assert!(plan.contains("--from-cluster") && plan.contains("--context") && plan.contains("[FILE]  The plan"), "{plan}");
    for other in ["--fault", "--nodes", "--theme", "--keymap", "--audit-log", "--wait", "--readonly"] {
        assert!(!plan.contains(other), "plan --help lists {other}:\n{plan}");
    }
    let status = help(&["status", "--help"]);
    assert!(status.contains("--wait") && status.contains("--json") && status.contains("--fault"), "{status}");
    assert!(!status.contains("--theme") && !status.contains("--keymap") && !status.contains("--audit-log"), "{status}");
    let lint = help(&["lint", "--help"]);
    assert!(!lint.contains("--config") && !lint.contains("--demo"), "{lint}");
    let unfinished = help(&["audit", "unfinished", "--help"]);
    assert!(unfinished.contains("--audit-log") && !unfinished.contains("--wait"), "{unfinished}");
    // the top level keeps them all
    let top = help(&["--help"]);
    assert!(top.contains("--fault") && top.contains("--theme") && top.contains("--wait"), "{top}");

    // shared options still work before or after any subcommand
    let out = kockpit(&["status", "--json", "--fault", "split-brain"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kockpit(&["--fault", "split-brain", "status"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kockpit(&["--demo", "audit", "report", "--wait", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_kubeconfig_that_is_there_but_unusable_is_an_error_for_scripts_not_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("kc");
    std::fs::write(&garbage, "not: [a kubeconfig").unwrap();
    let bin = std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")));
    let run = |kubeconfig: &std::path::Path, args: &[&str]| {
        let t0 = std::time::Instant::now();
        let out = Command::new(&bin)
            .args(args)
            .env("HOME", dir.path())
            .env("KOCKPIT_CONFIG_DIR", dir.path().join("cfg"))
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env_remove("KOCKPIT_CONFIG")
            .env("KUBECONFIG", kubeconfig)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            t0.elapsed(),
        )
    };
    for (kc, want) in
        [(garbage.as_path(), "failed to parse kubeconfig YAML"), (std::path::Path::new("/dev/zero"), "/dev/zero: not a regular file")]
    {
        let (code, err, out, took) = run(kc, &["status"]);
        assert_eq!(code, Some(4), "{kc:?}: {err}{out}");
        assert!(err.contains(want) && err.contains("--demo"), "{err}");
        assert!(!out.contains("DEMO"), "no demo verdict for a script: {out}");
        assert!(took < std::time::Duration::from_secs(5), "bounded: {took:?}");
    }
    // the screen's one-shot twin and the demo asked for still work
    let (code, _, out, _) = run(&garbage, &["--demo", "status"]);
    assert_eq!(code, Some(1), "{out}");
    // KUBECONFIG naming no file that exists is a typo to be told, not "no kubeconfig" and the demo
    let missing = dir.path().join("nope");
    let (code, err, _, _) = run(&missing, &["status"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains(&format!("KUBECONFIG={}: no such file", missing.display())), "{err}");
    // a file that names no current context: the message names the file
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "apiVersion: v1\nkind: Config\n").unwrap();
    let (code, err, _, _) = run(&empty, &["status"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains(&format!("{}: it names no current context", empty.display())), "{err}");
    // a list with a missing entry: the entry is skipped, as kubectl skips it
    let closed = dir.path().join("closed.yaml");
    std::fs::write(&closed, CLOSED_KUBECONFIG).unwrap();
    let list = std::env::join_paths([missing.as_path(), closed.as_path()]).unwrap();
    let (code, err, out, _) = run(std::path::Path::new(&list), &["status", "--wait", "3"]);
    assert!(out.contains("ops@c (LIVE)") && !out.contains("failed to read kubeconfig") && !out.contains("nope"), "{code:?} {err}{out}");
}

/// `kockpit run`: the plan printed, executed only with --yes, refused with exit 1 where the screen
/// refuses, each step and its record on the audit log.
#[test]
fn run_plans_and_with_yes_executes_an_operation_headless() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    let log = cfg.join("audit.jsonl");
    let log_s = log.to_str().unwrap();
    let events = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_string())
            .collect()
    };
    // the plan only: the drain's dry run included, nothing done
    let out = kockpit_in(cfg, &["run", "--demo", "drain", "--node", "worker2", "--audit-log", log_s]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("Drain worker2\n") && text.contains("dry run:") && text.contains("pod(s) to evict"), "{text}");
    assert!(text.contains("not carried out: add --yes"), "{text}");
    let ev = events();
    assert!(ev.contains(&"op_planned".into()) && ev.contains(&"op_cancelled".into()) && !ev.contains(&"op_confirmed".into()), "{ev:?}");
    // with --yes: carried out, each step printed, exit 0 once verified
    let out = kockpit_in(cfg, &["run", "--demo", "cordon", "worker3", "--yes", "--audit-log", log_s]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok   node worker3 spec.unschedulable=true") && text.contains("done: worker3 cordoned"), "{text}");
    let ev = events();
    let confirmed = ev.iter().position(|e| e == "op_confirmed").expect("confirmed");
    assert!(ev[confirmed..].contains(&"op_finished".into()), "{ev:?}");
    // a blocker: exit 1, the reason first
    let out = kockpit_in(cfg, &["run", "--demo", "failover", "slb1", "--yes", "--audit-log", log_s]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("REFUSED:\n  - slb1 already holds the VIP\nIt would have:"), "{text}");
    // read-only: refused below the screen too, and recorded
    let out = kockpit_in(cfg, &["run", "--demo", "--readonly", "cordon", "worker3", "--yes", "--audit-log", log_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only: Cordon worker3 refused"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(events().iter().any(|e| e == "op_refused"));
    // a drain is planned and dry-run in read-only mode, but nothing is carried out, --yes or not: exit 1
    for yes in [&[][..], &["--yes"][..]] {
        let mut args = vec!["run", "--demo", "--readonly", "drain", "worker2", "--json", "--audit-log", log_s];
        args.extend(yes);
        let out = kockpit_in(cfg, &args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            (&lines[0]["event"], &lines[0]["allowed"], &lines[0]["readonly"]),
            (&serde_json::json!("plan"), &serde_json::json!(false), &serde_json::json!(true)),
            "{text}"
        );
        let end = lines.last().unwrap();
        assert_eq!((&end["result"], &end["ok"]), (&serde_json::json!("refused"), &serde_json::json!(false)), "{text}");
        assert!(end["summary"].as_str().unwrap().starts_with("read-only: Drain worker2"), "{text}");
    }
    // what cannot be meant: exit 4, said
    for (args, says) in [
        (&["run", "--demo", "reboot", "m1"][..], "unknown operation `reboot`"),
        (&["run", "--demo", "cordon", "nosuch"][..], "no node `nosuch`"),
        (&["run", "--demo", "drain", "worker1", "--node", "worker2"][..], "given twice"),
        (&["run", "--demo", "cordon", "worker1", "--emergency"][..], "--emergency is a failover's"),
        (&["run", "--demo", "cordon", "worker1", "--to", "slb2"][..], "--to is not an option of cordon"),
        (&["run", "--demo", "noout", "on", "--node", "worker1"][..], "--node is not an option of noout"),
        // no cluster configured: never the demo by default
        (&["run", "cordon", "worker1", "--yes"][..], "acts on a configured cluster"),
    ] {
        let out = kockpit_in(cfg, args);
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn run_moves_etcds_leadership_and_refuses_a_member_that_cannot_lead() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    let out = kockpit_in(cfg, &["run", "--demo", "etcd-move-leader", "--to", "master3", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("Move etcd leadership to master3\n"), "{text}");
    assert!(text.contains("handed etcd's leadership to master3") && text.contains("done: master3 leads etcd"), "{text}");
    // the leader itself, a member that is down, a name etcd does not know
    let out = kockpit_in(cfg, &["run", "--demo", "etcd-move-leader", "master1", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REFUSED:\n  - master1 is the leader already"));
    let out = kockpit_in(cfg, &["run", "--demo", "--fault", "kill-master", "etcd-move-leader", "master1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("master1 does not answer: a leader must be a healthy member"));
    let out = kockpit_in(cfg, &["run", "--demo", "etcd-move-leader"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("name its target: MEMBER or --to MEMBER"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kockpit_in(cfg, &["run", "--demo", "etcd-move-leader", "--to", "worker1"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("etcd member `worker1`"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kockpit_in(cfg, &["run", "--demo", "--readonly", "etcd-move-leader", "--to", "master2", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only: Move etcd leadership to master2 refused"));
}

#[test]
fn run_drains_an_apiserver_from_haproxy_and_makes_it_ready_and_refuses_what_it_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    let out = kockpit_in(cfg, &["run", "--demo", "haproxy-drain", "--server", "master2", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("Drain master2 from haproxy on every LB\n"), "{text}");
    assert!(text.contains("slb2: set server kube-apiserver/master2 state maint"), "{text}");
    assert!(text.contains("done: master2 in MAINT on slb1, slb2"), "{text}");
    // a fresh demo has it in service: ready has nothing to do
    let out = kockpit_in(cfg, &["run", "--demo", "haproxy-ready", "master2", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("in service on every LB already"));
    let out = kockpit_in(cfg, &["run", "--demo", "haproxy-drain", "--server", "worker9"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("haproxy server `worker9`"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kockpit_in(cfg, &["run", "--demo", "haproxy-ready", "--node", "master2"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--node is not an option of haproxy-ready"));
    let out = kockpit_in(cfg, &["run", "--demo", "--readonly", "haproxy-drain", "--server", "master2", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only: Drain master2 from haproxy on every LB refused"));
}

#[test]
fn run_maintenance_moves_the_leadership_drains_haproxy_and_the_node_and_stops_between_parts_when_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    let out = kockpit_in(cfg, &["run", "--demo", "maintenance", "--host", "master1", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle} in {text}"));
    assert!(at("[1/3] verified: master2 leads etcd") < at("[2/3] verified: master1 in MAINT on slb1, slb2"));
    assert!(at("[2/3] verified") < at("[3/3] verified: master1 drained"));
    assert!(text.contains("done: all 3 part(s) done and verified (move-leader, haproxy drain master1, drain master1)"), "{text}");
    // a fresh demo: nothing to end; a worker is no master
    let out = kockpit_in(cfg, &["run", "--demo", "maintenance-end", "master1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("master1 is not in maintenance"));
    let out = kockpit_in(cfg, &["run", "--demo", "maintenance", "--host", "worker1"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no master `worker1`"), "{}", String::from_utf8_lossy(&out.stderr));
    // interrupted during its first part: that part ends (a hand-over cannot stop halfway), no other starts
    let log = cfg.join("audit.jsonl");
    let out = interrupt_run(cfg, &log, &["maintenance", "master1"], "[1/3] Move etcd leadership", "INT");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[1/3] verified: master2 leads etcd"), "the hand-over ran to its end: {text}");
    assert!(
        text.contains("CANCELLED: stopped by the operator before [2/3] Drain master1 from haproxy on every LB; done: move-leader; not done: haproxy drain master1, drain master1"),
        "{text}"
    );
}

#[test]
fn run_json_prints_the_plan_every_step_and_the_end_as_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    let out = kockpit_in(cfg, &["run", "--demo", "--json", "haproxy-drain", "master2", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect();
    assert_eq!(lines[0]["event"], "plan");
    assert_eq!(lines[0]["request"]["op"], "haproxy_server");
    assert_eq!(lines[0]["allowed"], true);
    assert!(lines[0]["steps"].as_array().is_some_and(|s| !s.is_empty()));
    let steps: Vec<&serde_json::Value> = lines.iter().filter(|l| l["event"] == "step").collect();
    assert!(steps.len() >= 4 && steps.iter().all(|s| s["ok"] == true && s["at"].as_str().is_some_and(|t| t.ends_with('Z'))), "{steps:?}");
    let end = lines.last().unwrap();
    assert_eq!((end["event"].as_str(), end["result"].as_str(), end["ok"].as_bool()), (Some("end"), Some("done"), Some(true)));
    // a refusal and a preview end with their own results
    let out = kockpit_in(cfg, &["run", "--demo", "--json", "haproxy-ready", "master2", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let last: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!((last["result"].as_str(), last["ok"].as_bool()), (Some("refused"), Some(false)));
    assert!(last["summary"].as_str().unwrap().contains("in service on every LB already"));
    let out = kockpit_in(cfg, &["run", "--demo", "--json", "cordon", "worker1"]);
    let last: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!((out.status.code(), last["result"].as_str()), (Some(0), Some("planned")));
}

#[test]
fn run_defragments_etcd_leader_last_and_refuses_with_a_member_down() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    let out = kockpit_in(cfg, &["run", "--demo", "etcd-defrag", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("Defragment etcd, one member at a time\n"), "{text}");
    assert!(text.contains("defragment master1 (the leader, last)"), "{text}");
    assert!(text.contains("done: defragmented master2, master3, master1"), "{text}");
    let out = kockpit_in(cfg, &["run", "--demo", "--fault", "kill-master", "etcd-defrag"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("every member must be healthy: master1 does not answer"));
    let out = kockpit_in(cfg, &["run", "--demo", "etcd-defrag", "--to", "m2"]);
    assert_eq!(out.status.code(), Some(4));
}

/// An interrupted `run` stops the operation at its safe point and waits for its end: the audit log
/// has the end, and the exit code says it was not done.
#[test]
fn an_interrupted_run_cancels_at_the_safe_point_and_records_the_end() {
    // Ctrl-C, and the hang-up of a dropped SSH session
    for signal in ["INT", "HUP"] {
        interrupted_run(signal);
    }
}

/// `kockpit run --demo WORDS --yes`, sent SIGNAL once its audit log has `when`; its output.
fn interrupt_run(cfg: &std::path::Path, log: &std::path::Path, words: &[&str], when: &str, signal: &str) -> std::process::Output {
    let bin = std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")));
    let child = Command::new(bin)
        .args(["run", "--demo"])
        .args(words)
        .args(["--yes", "--audit-log", log.to_str().unwrap()])
        .env("KOCKPIT_CONFIG_DIR", cfg)
        .env("XDG_STATE_HOME", cfg.join("state"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(log).unwrap_or_default().contains(when) {
        assert!(t0.elapsed().as_secs() < 60, "`{when}` never came");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap().success());
    child.wait_with_output().unwrap()
}

fn interrupted_run(signal: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    let log = cfg.join("audit.jsonl");
    // once it evicts, interrupt it
    let out = interrupt_run(cfg, &log, &["drain", "worker2"], "\"op_step\"", signal);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{signal}: {text}");
    assert!(text.contains("CANCELLED: "), "{signal}: {text}");
    let audit = std::fs::read_to_string(&log).unwrap();
    for e in ["op_cancel_requested", "op_finished", "session_end"] {
        assert!(audit.contains(&format!("\"{e}\"")), "{e} in\n{audit}");
    }
}

#[test]
fn read_only_refuses_injecting_faults_at_start_too() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kockpit_in(tmp.path(), &["status", "--demo", "--readonly", "--fault", "stop-keepalived"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("this session is read-only"), "{}", String::from_utf8_lossy(&out.stderr));
    // the faults a session injects at start are on its timeline, also one that found nothing to act on
    let out = kockpit_in(tmp.path(), &["status", "--demo", "--json", "--fault", "stop-keepalived", "--fault", "cut-ssh-owner"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fault injected: keepalived stopped on slb1"), "{text}");
}

#[test]
fn run_etcd_snapshot_on_the_demo_says_it_writes_nothing_and_needs_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path();
    let file = cfg.join("etcd.db");
    let out = kockpit_in(cfg, &["run", "--demo", "etcd-snapshot", "--to", file.to_str().unwrap(), "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("the file holds every key of the cluster, Secrets included"), "{text}");
    assert!(text.contains("simulated: the demo writes no file"), "{text}");
    assert!(!file.exists());
    let out = kockpit_in(cfg, &["run", "--demo", "etcd-snapshot"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FILE or --to FILE"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_plan_s_text_cannot_drive_the_terminal_and_long_values_do_not_crash() {
    let dir = tempfile::tempdir().unwrap();
    let plan = |cluster: &str, os: &str| {
        format!(
            "[cluster]\nname = \"{cluster}\"\n[topology]\nload_balancer = \"none\"\n\n[[hosts]]\nname = \"m1\"\naddress = \"10.0.0.1\"\nroles = [\"master\", \"etcd\"]\nos = \"{os}\"\nnotes = \"x\\u202ey\"\n"
        )
    };
    // escape sequences in the plan's free text are printed escaped, never raw
    let p = dir.path().join("esc.toml");
    std::fs::write(&p, plan("prod", "a\\u001b[2Jb\\u0007")).unwrap();
    let out = kockpit(&["plan", p.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.iter().any(|b| *b == 0x1b || *b == 0x07) && !text.contains('\u{202e}'), "{text:?}");
    assert!(text.contains("a\\u{1b}[2Jb\\u{7}") && text.contains("x\\u{202e}y"), "{text}");
    // in the cluster's name, which heads every screen, they are refused where they stand
    std::fs::write(&p, plan("prod\\u001b]0;pwned\\u0007", "x")).unwrap();
    let out = kockpit(&["plan", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("esc.toml:2:8: invalid cluster name \"prod\\u{1b}]0;pwned\\u{7}\""), "{err}");
    // a value of 64 Ki characters and more is shown, not a crash
    std::fs::write(&p, plan("prod", &"w".repeat(70_000))).unwrap();
    let out = kockpit(&["plan", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&"w".repeat(70_000)));
}
