//! Log sources against the real labs: files tailed over SSH on the HA lab's hosts (`tests/lab/ha`), and
//! pod logs through the real apiserver of `tests/lab/k8s`, which fetches them from a kubelet this test
//! plays (an HTTPS server on a local address given as a fake node's InternalIP and kubelet port; the
//! lab's apiserver has no `--kubelet-certificate-authority`, so it does not verify the certificate).
//!
//! The tests are `#[ignore]`d; without a lab (not root, not built) they fail, with the reason.
//! Run: `flock /var/tmp/kockpit-labtests.lock cargo test --test lab_logs -- --include-ignored --test-threads=1`.

#[path = "common/lab.rs"]
mod harness;
#[path = "fixtures/kube/kit.rs"]
mod kit;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kockpit::backend::{BackendEvent, BackendHandle, Command};
use kockpit::inventory::Plan;
use kockpit::kube::{self, Access, KubeSettings};
use kockpit::logs::spec::{LogRequest, LogSpec, LogState, LogStatus, MAX_TAIL};
use kockpit::logs::{LogBuffer, LogLine};
use kockpit::model::WorkloadKind;
use kockpit::probe::{self, LiveSettings};
use kockpit::transport::ssh::{AccessMode, PoolOptions, SshPool};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static LOCK: Mutex<()> = Mutex::new(());

// The lab scripts close every inherited descriptor above stderr themselves, so a lab daemon never
// holds the lock of a `flock LOCKFILE cargo test` run.

// ------------------------------------------------------------------------------------- the HA lab

struct Ha {
    script: PathBuf,
    env: HashMap<String, String>,
    _lock: MutexGuard<'static, ()>,
}

impl Ha {
    fn var(&self, k: &str) -> &str {
        self.env.get(k).map(String::as_str).unwrap_or("")
    }
    fn ha(&self, args: &[&str]) -> Result<String, String> {
        harness::run_bounded(&self.script, args, Duration::from_secs(90))
    }
    fn ha_ok(&self, args: &[&str]) -> String {
        self.ha(args).unwrap_or_else(|e| panic!("tests/lab/ha {}: {e}", args.join(" ")))
    }
    fn plan(&self) -> Plan {
        Plan::load(Path::new(self.var("KOCKPIT_CONFIG"))).expect("the lab's plan")
    }
    fn settings(&self) -> LiveSettings {
        let mut s = LiveSettings::new(true);
        s.ssh_config = Some(PathBuf::from(self.var("KOCKPIT_SSH_CONFIG")));
        s.connect_timeout = Duration::from_secs(2);
        // the probes themselves are not under test here: slow them down
        s.interval = Duration::from_secs(5);
        s.hosts_interval = Duration::from_secs(5);
        s
    }
    /// Run a shell command on a lab host (inside its namespaces).
    fn sh(&self, host: &str, script: &str) -> String {
        self.ha_ok(&["exec", host, "sh", "-c", script])
    }
}

fn ha_lab() -> Ha {
    let lock = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let script = harness::script("ha");
    let env = harness::up(&script, Duration::from_secs(300)).unwrap_or_else(|why| harness::cannot_run("the HA lab", &why));
    Ha { script, env, _lock: lock }
}

/// Runs lab commands when dropped: undoes faults also when an assertion fails.
struct Restore<'a> {
    lab: &'a Ha,
    steps: Vec<Vec<&'static str>>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for s in &self.steps {
            if let Err(e) = self.lab.ha(s) {
                eprintln!("restore `tests/lab/ha {}` failed: {e}", s.join(" "));
            }
        }
    }
}

/// Lines and statuses of the log sources, gathered from a backend's events.
#[derive(Default)]
struct Seen {
    lines: Vec<LogLine>,
    status: Vec<LogStatus>,
}

impl Seen {
    fn take(&mut self, ev: BackendEvent) {
        match ev {
            BackendEvent::Log(l) => self.lines.push(l),
            BackendEvent::LogSource(s) => self.status.push(s),
            _ => {}
        }
    }
    fn texts_of(&self, tag: &str) -> Vec<&str> {
        self.lines.iter().filter(|l| &*l.source == tag).map(|l| l.text.as_str()).collect()
    }
    fn closed(&self, id: u64) -> bool {
        self.status.iter().any(|s| s.id == id && s.state == LogState::Closed)
    }
    fn failure(&self, id: u64) -> Option<&str> {
        self.status.iter().find_map(|s| match &s.state {
            LogState::Failed(why) if s.id == id => Some(why.as_str()),
            _ => None,
        })
    }
}

/// Gather events until `done` says so; panics with `what` after `secs`.
async fn gather(h: &mut BackendHandle, seen: &mut Seen, secs: u64, what: &str, done: impl Fn(&Seen) -> bool) -> Duration {
    let t = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done(seen) {
        match tokio::time::timeout_at(deadline, h.events.recv()).await {
            Err(_) => panic!(
                "timeout ({secs}s) waiting for {what}; statuses {:?}; last lines {:?}",
                seen.status,
                seen.lines.iter().rev().take(5).collect::<Vec<_>>()
            ),
            Ok(None) => panic!("backend closed while waiting for {what}"),
            Ok(Some(ev)) => seen.take(ev),
        }
    }
    t.elapsed()
}

fn open(id: u64, spec: LogSpec, tail: u32, follow: bool) -> Command {
    Command::Logs(LogRequest::Open { id, spec, tail, follow })
}

/// Processes (any namespace: the lab's hosts share the PID namespace) whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) {
            out.push(format!("{}: {}", e.file_name().to_string_lossy(), cmd.chars().take(120).collect::<String>()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn file_tailed_over_a_read_only_pool_every_line_in_order_then_closed() {
    let lab = ha_lab();
    let path = format!("/tmp/kockpit-logtest-{}.log", std::process::id());
    lab.sh("m1", &format!("printf 'before 1\\nbefore 2\\nbefore 3\\n' > {path}"));
    let settings = lab.settings();
    assert!(settings.readonly, "the pool under test is read-only");
    let mut h = probe::spawn(&lab.plan(), settings);
    let mut seen = Seen::default();
    let tag = format!("file m1 {path}");
    h.commands.send(open(1, LogSpec::File { host: "m1".into(), path: path.clone() }, 100, true)).unwrap();
    let took = gather(&mut h, &mut seen, 20, "the file's history", |s| s.texts_of(&tag).len() >= 3).await;
    eprintln!("history after {took:?}");
    assert_eq!(seen.texts_of(&tag), ["before 1", "before 2", "before 3"]);
    assert!(seen.status.iter().any(|s| s.id == 1 && s.state == LogState::Streaming), "{:?}", seen.status);

    // appended on the host while tailing: every line arrives, in order, tagged with the host
    lab.sh("m1", &format!("i=1; while [ $i -le 300 ]; do echo \"appended $i\" >> {path}; i=$((i+1)); done"));
    let took = gather(&mut h, &mut seen, 20, "300 appended lines", |s| s.texts_of(&tag).len() >= 303).await;
    eprintln!("300 appended lines after {took:?}");
    let want: Vec<String> = (1..=300).map(|i| format!("appended {i}")).collect();
    assert_eq!(seen.texts_of(&tag)[3..], want.iter().map(String::as_str).collect::<Vec<_>>()[..]);
    assert!(seen.lines.iter().all(|l| *l.source == *tag), "no line of another source");
    assert!(!processes_with(&path).is_empty(), "the tail runs on the host");

    // closing the source ends the remote tail
    h.commands.send(Command::Logs(LogRequest::Close { id: 1 })).unwrap();
    gather(&mut h, &mut seen, 10, "the source closed", |s| s.closed(1)).await;
    let t = Instant::now();
    while !processes_with(&path).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10), "still running after the close: {:?}", processes_with(&path));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("remote tail gone {:?} after the close", t.elapsed());
    lab.sh("m1", &format!("echo 'after close' >> {path}; rm -f {path}"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(ev) = h.events.try_recv() {
        seen.take(ev);
    }
    assert!(!seen.texts_of(&tag).contains(&"after close"), "nothing arrives after the close");
}

impl Ha {
    /// Lines into a host's real journal as `unit`, through the lab (the writer joins the unit's cgroup,
    /// so journald records `_SYSTEMD_UNIT=unit.service`, as for a service systemd started).
    fn journal(&self, host: &str, unit: &str, lines: &[String]) {
        use std::io::Write;
        use std::process::{Command as Std, Stdio};
        let mut child = Std::new(&self.script)
            .args(["journal", host, unit])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tests/lab/ha journal");
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "tests/lab/ha journal {host} {unit}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn a_units_journal_through_the_hosts_real_journald_every_line_in_order() {
    let lab = ha_lab();
    // a unit of this run's own: the lab's journals outlive a test run
    let unit = format!("kubelet-t{}", std::process::id());
    let before: Vec<String> = (1..=3).map(|i| format!("before {i}")).collect();
    lab.journal("m1", &unit, &before);
    lab.journal("m1", "etcd-neighbour", &["not this unit".to_string()]);
    let mut h = probe::spawn(&lab.plan(), lab.settings());
    let mut seen = Seen::default();
    let tag = format!("journal m1 {unit}");
    let opened = chrono::Utc::now();
    h.commands.send(open(1, LogSpec::Journal { host: "m1".into(), unit: unit.clone() }, 100, true)).unwrap();
    let took = gather(&mut h, &mut seen, 20, "the unit's history", |s| s.texts_of(&tag).len() >= 3).await;
    eprintln!("journal history after {took:?}");
    // journalctl's short-iso-precise: the timestamp becomes the line's time, "HOST UNIT[PID]: " stays
    let texts = seen.texts_of(&tag);
    for (t, want) in texts.iter().zip(&before) {
        assert!(t.starts_with(&format!("m1 {unit}[")) && t.ends_with(&format!("]: {want}")), "{t:?}");
    }
    assert!(seen.status.iter().any(|s| s.id == 1 && s.state == LogState::Streaming), "{:?}", seen.status);

    let appended: Vec<String> = (1..=300).map(|i| format!("appended {i}")).collect();
    lab.journal("m1", &unit, &appended);
    lab.journal("m1", "etcd-neighbour", &["not this unit either".to_string()]);
    let took = gather(&mut h, &mut seen, 20, "300 journal lines", |s| s.texts_of(&tag).len() >= 303).await;
    eprintln!("300 journal lines after {took:?}");
    let texts = seen.texts_of(&tag);
    let messages: Vec<&str> = texts.iter().map(|t| t.split_once("]: ").map(|(_, m)| m).unwrap_or(t)).collect();
    let want: Vec<&str> = before.iter().chain(&appended).map(String::as_str).collect();
    assert_eq!(messages, want, "every line of the unit, in order, and nothing else");
    let lines: Vec<&LogLine> = seen.lines.iter().filter(|l| *l.source == *tag).collect();
    assert!(lines.windows(2).all(|w| w[0].at <= w[1].at), "the journal's own timestamps, in order");
    let last = lines.last().unwrap().at;
    assert!((last - opened).num_seconds().abs() < 60, "timestamps from the journal, not made up: {last} vs {opened}");

    let journalctl = format!("-u {unit}");
    assert!(!processes_with(&journalctl).is_empty(), "journalctl runs on the host");
    h.commands.send(Command::Logs(LogRequest::Close { id: 1 })).unwrap();
    gather(&mut h, &mut seen, 10, "the source closed", |s| s.closed(1)).await;
    let t = Instant::now();
    while !processes_with(&journalctl).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10), "still running after the close: {:?}", processes_with(&journalctl));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn unreachable_host_and_missing_journal_are_reported_not_silent() {
    let lab = ha_lab();
    let mut h = probe::spawn(&lab.plan(), lab.settings());
    let mut seen = Seen::default();

    // a host without a journal (journald stopped, its files gone): the journal source says so
    let _journald = Restore { lab: &lab, steps: vec![vec!["start", "m3", "journald"]] };
    lab.ha_ok(&["stop", "m3", "journald"]);
    lab.sh("m3", "rm -rf /run/log/journal /var/log/journal/*");
    h.commands.send(open(1, LogSpec::Journal { host: "m3".into(), unit: "etcd".into() }, 10, true)).unwrap();
    gather(&mut h, &mut seen, 20, "the journal source to fail", |s| s.closed(1)).await;
    let why = seen.failure(1).expect("a failure").to_string();
    assert!(why.contains("m3") && why.contains("no systemd journal"), "{why}");
    assert!(
        seen.texts_of("journal m3 etcd").iter().any(|t| t.starts_with("!! ") && t.contains("no systemd journal")),
        "the reason is a tagged line"
    );

    // a host that is not in the plan is refused before anything is sent
    h.commands.send(open(2, LogSpec::Journal { host: "nosuchhost".into(), unit: "etcd".into() }, 10, true)).unwrap();
    gather(&mut h, &mut seen, 5, "the unknown host refused", |s| s.closed(2)).await;
    assert!(seen.failure(2).unwrap().contains("not a host of the plan"));

    // a host with its link cut: a failure naming the host, within the connect timeout, no hang
    let _heal = Restore { lab: &lab, steps: vec![vec!["heal", "m2"]] };
    lab.ha_ok(&["cut", "m2"]);
    let t = Instant::now();
    h.commands.send(open(3, LogSpec::File { host: "m2".into(), path: "/etc/hostname".into() }, 1, true)).unwrap();
    gather(&mut h, &mut seen, 15, "the cut host's source to fail", |s| s.closed(3)).await;
    let why = seen.failure(3).expect("a failure").to_string();
    eprintln!("cut host reported after {:?}: {why}", t.elapsed());
    assert!(why.starts_with("ssh m2: "), "{why}");
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn link_cut_while_tailing_ends_the_stream_with_a_failure() {
    let lab = ha_lab();
    let pool = SshPool::new(PoolOptions {
        ssh_config: Some(PathBuf::from(lab.var("KOCKPIT_SSH_CONFIG"))),
        mode: AccessMode::ReadOnly,
        use_agent: false,
        keepalive_interval: Duration::from_secs(1),
        keepalive_max: 2,
        ..PoolOptions::default()
    })
    .unwrap();
    let path = format!("/tmp/kockpit-logcut-{}.log", std::process::id());
    lab.sh("m3", &format!("echo 'hello from m3' > {path}"));
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let spec = LogSpec::File { host: "m3".into(), path: path.clone() };
    let task = tokio::spawn(kockpit::probe::logtail::tail_host(pool, "m3".into(), 7, spec, 5, true, Duration::from_secs(5), tx));
    let first = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match rx.recv().await {
                Some(BackendEvent::Log(l)) => return l,
                Some(_) => {}
                None => panic!("ended early"),
            }
        }
    })
    .await
    .expect("the file's line");
    assert_eq!((first.text.as_str(), &*first.source), ("hello from m3", format!("file m3 {path}").as_str()));
    let _heal = Restore { lab: &lab, steps: vec![vec!["heal", "m3"]] };
    lab.ha_ok(&["cut", "m3"]);
    let t = Instant::now();
    let mut states = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
        if let BackendEvent::LogSource(s) = ev {
            states.push(s.state);
        }
    }
    eprintln!("after the cut, in {:?}: {states:?}", t.elapsed());
    assert!(matches!(states.first(), Some(LogState::Failed(why)) if why.contains("m3")), "{states:?}");
    assert_eq!(states.last(), Some(&LogState::Closed));
    assert!(t.elapsed() < Duration::from_secs(15), "the dead link was noticed by the keepalives");
    assert_eq!(task.await.unwrap(), 1);
    // m3's sshd cannot tell: its session lives on until TCP gives up (15 min). The tail it runs
    // ends by itself once kockpit's heartbeat on its input stops (45 s), the link still cut. (The
    // lab's hosts share one PID namespace: m3's processes are seen from here.)
    let tails = || -> usize {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .filter(|c| c.starts_with(b"tail") && c.windows(path.len()).any(|w| w == path.as_bytes()))
            .count()
    };
    assert_eq!(tails(), 1, "m3's tail runs after the cut");
    let cut_at = Instant::now();
    while tails() > 0 && cut_at.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("m3's tail ended {:?} after the cut was noticed", cut_at.elapsed());
    assert_eq!(tails(), 0, "m3's tail still runs 90 s after the link was cut");
    drop(_heal);
    lab.sh("m3", &format!("rm -f {path}"));
}

// ------------------------------------------------------------------------ the Kubernetes lab

/// A kubelet's log endpoint: `/containerLogs/NS/POD/CONTAINER?...` over HTTPS with a self-signed
/// certificate. Lines carry timestamps (as the kubelet adds with `timestamps=true`); a followed log
/// gets more lines when [`FakeKubelet::more`] is called, and stays open until the client goes.
struct FakeKubelet {
    port: u16,
    /// Every request line's path and query, in order.
    requests: Arc<Mutex<Vec<String>>>,
    /// Containers whose followed stream the client closed.
    closed: Arc<Mutex<Vec<String>>>,
    more: tokio::sync::watch::Sender<u32>,
    /// `Some(POD)`: the followed streams of POD open now end (its container exited).
    ends: tokio::sync::watch::Sender<Option<String>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const T0: i64 = 1_900_000_000;

fn stamp(container: &str, i: u32) -> String {
    // app's lines at even milliseconds, the others at odd ones: merged they interleave
    let ms = i64::from(i) * 2 + i64::from(container != "app");
    let t = chrono::DateTime::from_timestamp(T0, 0).unwrap() + chrono::Duration::milliseconds(ms);
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl FakeKubelet {
    async fn start() -> FakeKubelet {
        use tokio_rustls::rustls;
        let dir = tempfile::Builder::new().prefix("kockpit-fake-kubelet-").tempdir().unwrap();
        let d = dir.path().to_string_lossy().to_string();
        let sh = |s: &str| {
            let st = std::process::Command::new("sh").arg("-c").arg(s).status().unwrap();
            assert!(st.success(), "{s}");
        };
        sh(&format!(
            "cd {d} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=fake-kubelet \
             -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem 2>/dev/null && \
             openssl x509 -in cert.pem -outform DER -out cert.der && openssl pkcs8 -topk8 -nocrypt -in key.pem -outform DER -out key.der"
        ));
        let cert = rustls::pki_types::CertificateDer::from(std::fs::read(dir.path().join("cert.der")).unwrap());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(std::fs::read(dir.path().join("key.der")).unwrap().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(Mutex::new(Vec::new()));
        let (more, more_rx) = tokio::sync::watch::channel(0u32);
        let (ends, ends_rx) = tokio::sync::watch::channel(None::<String>);
        let (req2, closed2) = (requests.clone(), closed.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, requests, closed, mut more_rx) = (acceptor.clone(), req2.clone(), closed2.clone(), more_rx.clone());
                let mut ends_rx = ends_rx.clone();
                // only what is sent from now on concerns this stream
                ends_rx.borrow_and_update();
                more_rx.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(tcp).await else { return };
                    let mut head = Vec::new();
                    let mut b = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut b).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&b[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    requests.lock().unwrap().push(target.clone());
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                    let ["containerLogs", _ns, pod, container] = parts[..] else {
                        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                        return;
                    };
                    let (pod, container) = (pod.to_string(), container.to_string());
                    let q = |k: &str| query.split('&').any(|kv| kv == format!("{k}=true"));
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n").await;
                    let prefix = if q("previous") { "previous " } else { "" };
                    for i in 0..5 {
                        let line = format!("{} {prefix}{container} line {i}\n", stamp(&container, i));
                        if s.write_all(line.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    let _ = s.flush().await;
                    if !q("follow") || q("previous") {
                        let _ = s.shutdown().await;
                        return;
                    }
                    // followed: more lines on request, then wait for the client to go
                    let mut next = 5;
                    loop {
                        tokio::select! {
                            r = more_rx.changed() => {
                                if r.is_err() { return; }
                                for _ in 0..3 {
                                    let line = format!("{} {container} later {next}\n", stamp(&container, next));
                                    next += 1;
                                    if s.write_all(line.as_bytes()).await.is_err() { break; }
                                }
                                let _ = s.flush().await;
                            }
                            r = s.read(&mut b) => {
                                if matches!(r, Ok(0) | Err(_)) {
                                    closed.lock().unwrap().push(container.clone());
                                    return;
                                }
                            }
                            r = ends_rx.changed() => {
                                if r.is_err() || ends_rx.borrow().as_deref() == Some(pod.as_str()) {
                                    let _ = s.shutdown().await;
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        FakeKubelet { port, requests, closed, more, ends, task, _dir: dir }
    }
}

struct K8s {
    cp: kit::ControlPlane,
    label: String,
    _lock: MutexGuard<'static, ()>,
}

impl Drop for K8s {
    fn drop(&mut self) {
        kit::cleanup(&self.cp, &self.label, false);
    }
}

fn k8s_lab(label: &str) -> K8s {
    let lock = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // started here without inherited descriptors (then the kit's own `up` finds it running)
    let script = harness::script("k8s");
    if let Err(e) = harness::run_bounded(&script, &["up"], Duration::from_secs(180)) {
        eprintln!("tests/lab/k8s up: {e}");
    }
    let cp = kit::control_plane().unwrap_or_else(|why| harness::cannot_run("the Kubernetes lab", &why));
    kit::cleanup(&cp, label, true);
    K8s { cp, label: label.into(), _lock: lock }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
async fn pod_logs_through_the_apiserver_follow_previous_all_containers_and_workloads() {
    let lab = k8s_lab("logs");
    let kubelet = FakeKubelet::start().await;
    let admin = lab.cp.admin().await;
    let ns = "kockpit-logs";
    kit::create_namespace(&admin, ns, &lab.label).await.unwrap();
    // a node whose kubelet is the fake one: its InternalIP and port, nothing else to resolve
    let node = "kockpit-logs-node";
    let mut n = kit::node_json(node, &lab.label, &["worker"], "127.0.0.1");
    n["status"]["addresses"] = json!([{"type": "InternalIP", "address": "127.0.0.1"}]);
    n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] = json!(kubelet.port);
    kit::create(&admin, "/api/v1/nodes", n).await.unwrap();
    let mut pod = kit::pod_json("web-1", json!({"app": "web"}), Some(node), "10m", "16Mi");
    pod["spec"]["containers"] =
        json!([{"name": "app", "image": "registry.invalid/app:1"}, {"name": "sidecar", "image": "registry.invalid/side:1"}]);
    kit::create(&admin, &format!("/api/v1/namespaces/{ns}/pods"), pod).await.unwrap();
    let pod2 = kit::pod_json("web-2", json!({"app": "web"}), Some(node), "10m", "16Mi");
    kit::create(&admin, &format!("/api/v1/namespaces/{ns}/pods"), pod2).await.unwrap();
    let other = kit::pod_json("db-1", json!({"app": "db"}), Some(node), "10m", "16Mi");
    kit::create(&admin, &format!("/api/v1/namespaces/{ns}/pods"), other).await.unwrap();
    // the workload "web" selects web-1 and web-2 (and whatever comes later with app=web), not db-1
    let create_web = || {
        let admin = admin.clone();
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}});
        async move { kit::create(&admin, &format!("/apis/apps/v1/namespaces/{ns}/deployments"), deploy).await.unwrap() }
    };
    create_web().await;
    // what a kubelet reports: the containers' runs (a workload source reads only containers that ran)
    let status_of = |runs: &[(&str, &str, u32, serde_json::Value)]| {
        let cs: Vec<serde_json::Value> = runs
            .iter()
            .map(|(c, id, restarts, state)| {
                json!({"name": c, "image": "registry.invalid/pause:3.2", "imageID": "", "ready": true,
                       "restartCount": restarts, "containerID": id, "state": state, "lastState": {}})
            })
            .collect();
        json!({"status": {"phase": "Running", "containerStatuses": cs}})
    };
    let set_status = |pod: &'static str, body: serde_json::Value| {
        let admin = admin.clone();
        async move { kit::req(&admin, http::Method::PATCH, &format!("/api/v1/namespaces/{ns}/pods/{pod}/status"), Some(body)).await.unwrap() }
    };
    let running = || json!({"running": {"startedAt": "2026-11-24T10:00:00Z"}});
    set_status("web-1", status_of(&[("app", "containerd://w1a", 0, running()), ("sidecar", "containerd://w1s", 0, running())])).await;
    set_status("web-2", status_of(&[("app", "containerd://w2a", 0, running())])).await;

    // kockpit's read-only client: the log GET passes the guard
    let access = Access { kubeconfig: Some(lab.cp.kockpit_kubeconfig()), context: None, readonly: true };
    let mut h = kube::spawn_backend(KubeSettings::new(access));
    let mut seen = Seen::default();

    // every container of a pod, followed
    h.commands
        .send(open(1, LogSpec::Pod { namespace: ns.into(), pod: "web-1".into(), container: None, previous: false }, 50, true))
        .unwrap();
    let (app, side) = (format!("pod {ns}/web-1/app"), format!("pod {ns}/web-1/sidecar"));
    gather(&mut h, &mut seen, 30, "both containers' lines", |s| s.texts_of(&app).len() >= 5 && s.texts_of(&side).len() >= 5).await;
    let want = |c: &str, from: u32, to: u32, word: &str| (from..to).map(|i| format!("{c} {word} {i}")).collect::<Vec<_>>();
    assert_eq!(seen.texts_of(&app), want("app", 0, 5, "line"));
    assert_eq!(seen.texts_of(&side), want("sidecar", 0, 5, "line"));
    let streaming = seen.status.iter().filter(|s| s.id == 1 && s.state == LogState::Streaming).count();
    assert_eq!(streaming, 2, "one stream per container: {:?}", seen.status);
    // the kubelet's own timestamps, so the two containers interleave on the common time axis
    let mut buf = LogBuffer::new(100);
    for l in seen.lines.iter().cloned() {
        buf.push(l);
    }
    let merged: Vec<String> = buf.iter().map(|l| l.text.clone()).collect();
    let expect: Vec<String> = (0..5).flat_map(|i| [format!("app line {i}"), format!("sidecar line {i}")]).collect();
    assert_eq!(merged, expect);
    assert_eq!(seen.lines[0].at.timestamp(), T0);

    // follow: lines written later arrive
    kubelet.more.send_modify(|g| *g += 1);
    gather(&mut h, &mut seen, 20, "the later lines", |s| s.texts_of(&app).len() >= 8 && s.texts_of(&side).len() >= 8).await;
    assert_eq!(seen.texts_of(&app)[5..], want("app", 5, 8, "later")[..]);
    assert_eq!(seen.texts_of(&side)[5..], want("sidecar", 5, 8, "later")[..]);
    {
        let reqs = kubelet.requests.lock().unwrap().clone();
        eprintln!("kubelet saw: {reqs:?}");
        for c in ["app", "sidecar"] {
            let r = reqs.iter().find(|r| r.starts_with(&format!("/containerLogs/{ns}/web-1/{c}?"))).unwrap_or_else(|| panic!("{reqs:?}"));
            for p in ["follow=true", "timestamps=true", "tailLines=50"] {
                assert!(r.contains(p), "{p} reaches the kubelet: {r}");
            }
            assert!(!r.contains("previous=true"), "{r}");
        }
    }

    // closing ends both streams at the kubelet
    h.commands.send(Command::Logs(LogRequest::Close { id: 1 })).unwrap();
    gather(&mut h, &mut seen, 10, "the pod source closed", |s| s.closed(1)).await;
    let t = Instant::now();
    while kubelet.closed.lock().unwrap().len() < 2 {
        assert!(t.elapsed() < Duration::from_secs(15), "the kubelet still streams: {:?}", kubelet.closed.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // the previous instance of one container, not followed: read to its end
    h.commands
        .send(open(2, LogSpec::Pod { namespace: ns.into(), pod: "web-1".into(), container: Some("app".into()), previous: true }, 10, false))
        .unwrap();
    gather(&mut h, &mut seen, 20, "the previous container's log", |s| s.closed(2)).await;
    let prev_tag = format!("pod {ns}/web-1/app (previous)");
    assert_eq!(seen.texts_of(&prev_tag), want("previous app", 0, 5, "line"));
    assert!(seen.status.iter().any(|s| s.id == 2 && s.state == LogState::Ended("5 lines read".into())), "{:?}", seen.status);
    let r = kubelet.requests.lock().unwrap().last().cloned().unwrap();
    assert!(r.contains("previous=true") && r.contains("tailLines=10") && !r.contains("follow=true"), "{r}");

    // a workload: every container of every pod its selector picks (not db-1)
    h.commands
        .send(open(
            3,
            LogSpec::Workload { namespace: ns.into(), kind: WorkloadKind::Deployment, name: "web".into(), previous: false },
            5,
            false,
        ))
        .unwrap();
    gather(&mut h, &mut seen, 20, "the workload's pods", |s| s.closed(3)).await;
    for tag in [format!("pod {ns}/web-1/app"), format!("pod {ns}/web-1/sidecar"), format!("pod {ns}/web-2/app")] {
        assert!(seen.status.iter().any(|s| s.id == 3 && *s.source == *tag && s.state == LogState::Streaming), "{tag}: {:?}", seen.status);
    }
    assert!(seen.texts_of(&format!("pod {ns}/web-2/app")).len() >= 5);
    assert!(seen.texts_of(&format!("pod {ns}/db-1/app")).is_empty(), "db-1 is not selected");

    // a followed workload picks up what starts later: a new pod once its container runs, and the new
    // run of a container that restarted; a pod whose container has not started is left alone
    let deploy_ref = LogSpec::Workload { namespace: ns.into(), kind: WorkloadKind::Deployment, name: "web".into(), previous: false };
    h.commands.send(open(5, deploy_ref, 5, true)).unwrap();
    let streaming =
        |s: &Seen, tag: &str| s.status.iter().filter(|x| x.id == 5 && *x.source == *tag && x.state == LogState::Streaming).count();
    gather(&mut h, &mut seen, 20, "the followed workload's first streams", |s| streaming(s, &format!("pod {ns}/web-2/app")) == 1).await;
    for name in ["web-3", "web-4"] {
        let p = kit::pod_json(name, json!({"app": "web"}), Some(node), "10m", "16Mi");
        kit::create(&admin, &format!("/api/v1/namespaces/{ns}/pods"), p).await.unwrap();
    }
    set_status("web-3", status_of(&[("app", "", 0, json!({"waiting": {"reason": "ErrImagePull"}}))])).await;
    set_status("web-4", status_of(&[("app", "containerd://w4-first", 0, running())])).await;
    let (w3, w4) = (format!("pod {ns}/web-3/app"), format!("pod {ns}/web-4/app"));
    let took = gather(&mut h, &mut seen, 20, "web-4's stream", |s| streaming(s, &w4) == 1 && s.texts_of(&w4).len() >= 5).await;
    eprintln!("a new pod of the followed workload streamed after {took:?}");
    {
        let reqs = kubelet.requests.lock().unwrap().clone();
        let r = reqs.iter().find(|r| r.starts_with(&format!("/containerLogs/{ns}/web-4/app?"))).unwrap_or_else(|| panic!("{reqs:?}"));
        assert!(r.contains("follow=true") && r.contains(&format!("tailLines={MAX_TAIL}")), "a new run is read from its first line: {r}");
        // web-4's stream started on a listing that saw web-3 too: web-3 was left alone
        assert!(!reqs.iter().any(|r| r.contains("/web-3/")), "a container that has not started has no log to read: {reqs:?}");
    }
    assert_eq!(streaming(&seen, &w3), 0);
    // web-4's container exits (its stream ends at the kubelet) and runs again: every line of the old
    // run is kept, then the new run is followed from its first line
    kubelet.more.send_modify(|g| *g += 1);
    gather(&mut h, &mut seen, 20, "web-4's later lines", |s| s.texts_of(&w4).len() >= 8).await;
    let first_run: Vec<String> = want("app", 0, 5, "line").into_iter().chain(want("app", 5, 8, "later")).collect();
    assert_eq!(seen.texts_of(&w4), first_run);
    kubelet.ends.send_replace(Some("web-4".into()));
    let ended = |s: &Seen| s.status.iter().any(|x| x.id == 5 && *x.source == *w4 && matches!(x.state, LogState::Ended(_)));
    gather(&mut h, &mut seen, 20, "the end of web-4's first run", ended).await;
    set_status("web-4", status_of(&[("app", "containerd://w4-second", 1, running())])).await;
    gather(&mut h, &mut seen, 20, "web-4's new run", |s| streaming(s, &w4) == 2 && s.texts_of(&w4).len() >= 13).await;
    assert_eq!(seen.texts_of(&w4)[..8], first_run[..], "the old run's lines are all there");
    assert_eq!(seen.texts_of(&w4)[8..13], want("app", 0, 5, "line")[..], "the new run from its first line");
    // the workload cannot be listed (deleted): the source says so and its streams go on; back, it says that too
    kit::req(&admin, http::Method::DELETE, &format!("/apis/apps/v1/namespaces/{ns}/deployments/web"), None).await.unwrap();
    let degraded = |s: &Seen| {
        s.status.iter().find_map(|x| match &x.state {
            LogState::Degraded(Some(why)) if x.id == 5 => Some(why.clone()),
            _ => None,
        })
    };
    gather(&mut h, &mut seen, 20, "the failing listing", |s| degraded(s).is_some()).await;
    let why = degraded(&seen).unwrap();
    assert!(why.contains("listing the pods again") && (why.contains("404") || why.contains("not found")), "{why}");
    let w2 = format!("pod {ns}/web-2/app");
    let before = seen.texts_of(&w2).len();
    kubelet.more.send_modify(|g| *g += 1);
    gather(&mut h, &mut seen, 20, "lines of an open stream while the listing fails", |s| s.texts_of(&w2).len() >= before + 3).await;
    assert!(!seen.closed(5));
    create_web().await;
    gather(&mut h, &mut seen, 20, "the listing working again", |s| {
        s.status.iter().any(|x| x.id == 5 && x.state == LogState::Degraded(None))
    })
    .await;
    h.commands.send(Command::Logs(LogRequest::Close { id: 5 })).unwrap();
    gather(&mut h, &mut seen, 10, "the followed workload closed", |s| s.closed(5)).await;

    // a pod that does not exist: a failure, not silence
    h.commands
        .send(open(4, LogSpec::Pod { namespace: ns.into(), pod: "nosuch".into(), container: Some("app".into()), previous: false }, 5, true))
        .unwrap();
    gather(&mut h, &mut seen, 20, "the missing pod's failure", |s| s.failure(4).is_some()).await;
    let why = seen.failure(4).unwrap();
    assert!(why.contains("404") || why.contains("not found"), "{why}");
}
