//! Certificates against the HA lab's masters, each with a real kubeadm PKI (kubeadm v1.20.2 from
//! `tests/lab/k8s build`) in its private /etc/kubernetes, some certificates re-signed by the lab to
//! expire in days (`tests/lab/ha pki-reset` puts them back). The view, the served certificates, and the
//! rolling renewal with real kubeadm, real restarts (the lab's own stop/start, with a real
//! kube-apiserver serving /etc/kubernetes/pki/apiserver.crt), real health checks; and a renewal made to
//! fail on the second master.
//!
//! The tests are `#[ignore]`d; run as root: `cargo test --test lab_certs -- --include-ignored --test-threads=1`.
//! Without the lab or kubeadm they fail, with the reason.

#[path = "common/lab.rs"]
mod harness;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use kockpit::backend::{BackendEvent, Command};
use kockpit::certs::{self, CertsSettings, Remote, SERVED, VIP_ROW};
use kockpit::inventory::Plan;
use kockpit::live::renew::{self, RenewSettings, RenewTool};
use kockpit::model::{CertInfo, Mode, Model, Observation, PanelId, Payload, Severity, assess};
use kockpit::ops::{OpEvent, OpRequest, WriteCap};
use kockpit::transport::ssh::{AccessMode, PoolOptions, SshPool};
use tokio::sync::mpsc;

static LAB_LOCK: Mutex<()> = Mutex::new(());
const MASTERS: [&str; 3] = ["m1", "m2", "m3"];

struct Lab {
    script: PathBuf,
    env: HashMap<String, String>,
    kubeadm: PathBuf,
    _lock: MutexGuard<'static, ()>,
}

fn cannot_run(why: String) -> ! {
    harness::cannot_run("the certificate lab", &why)
}

/// The HA lab up, its masters' PKI back to the soon-expiring state, renewal backups gone.
fn lab() -> Lab {
    let lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/lab/ha");
    let k8s_env = match harness::run_bounded(&root.join("tests/lab/k8s"), &["env"], Duration::from_secs(10)) {
        Ok(t) => t,
        Err(e) => cannot_run(format!("tests/lab/k8s env: {e}")),
    };
    let bin = k8s_env
        .lines()
        .find_map(|l| l.strip_prefix("export KOCKPIT_K8S_BIN="))
        .map(|b| b.trim_matches('\'').to_string())
        .unwrap_or_default();
    let kubeadm = PathBuf::from(bin).join("kubeadm");
    if !kubeadm.exists() {
        cannot_run(format!("no kubeadm at {} (run: tests/lab/k8s build)", kubeadm.display()));
    }
    let up = harness::run_bounded(&script, &["up"], Duration::from_secs(300))
        .and_then(|_| harness::run_bounded(&script, &["pki-reset"], Duration::from_secs(60)))
        .and_then(|_| harness::run_bounded(&script, &["env"], Duration::from_secs(10)));
    let env = match up {
        Ok(t) => harness::env_of(&t),
        Err(why) => cannot_run(format!("the HA lab could not be brought up: {why}")),
    };
    let lab_dir = PathBuf::from(env.get("KOCKPIT_LAB_DIR").cloned().unwrap_or_default());
    let kubeadm = match harness::visible_on_lab_hosts(&kubeadm, &lab_dir) {
        Ok(k) => k,
        Err(e) => cannot_run(format!("kubeadm for the lab's hosts: {e}")),
    };
    Lab { script, env, kubeadm, _lock: lock }
}

impl Lab {
    fn var(&self, k: &str) -> String {
        self.env.get(k).cloned().unwrap_or_else(|| panic!("tests/lab/ha env has no {k}"))
    }
    fn dir(&self) -> PathBuf {
        PathBuf::from(self.var("KOCKPIT_LAB_DIR"))
    }
    fn plan(&self) -> Plan {
        Plan::load(Path::new(&self.var("KOCKPIT_CONFIG"))).unwrap_or_else(|e| panic!("the lab's plan: {e}"))
    }
    fn ha(&self, args: &[&str], envs: &[(&str, &str)]) -> Result<String, String> {
        harness::run_env(&self.script, args, envs, Duration::from_secs(120))
    }
    /// A master's private file, seen from the root namespace.
    fn host_file(&self, host: &str, path: &str) -> PathBuf {
        self.dir().join("hosts").join(host).join("fs").join(path.trim_start_matches('/'))
    }
    /// kockpit's SSH path: reads through the read-only set, writes through the write path.
    fn remote(&self, _cap: &WriteCap) -> Remote {
        let ssh_config = Some(PathBuf::from(self.var("KOCKPIT_SSH_CONFIG")));
        let pool = SshPool::new(PoolOptions { ssh_config, mode: AccessMode::ReadWrite, use_agent: false, ..PoolOptions::default() })
            .expect("lab ssh config");
        Remote::ssh(pool)
    }
    fn apiserver_is_real(&self, host: &str) -> bool {
        let pidfile = self.dir().join("pids").join(format!("{host}.apiserver.pid"));
        let pid = std::fs::read_to_string(pidfile).ok().and_then(|t| t.split_whitespace().next().map(str::to_string)).unwrap_or_default();
        std::fs::read(format!("/proc/{pid}/cmdline")).map(|c| String::from_utf8_lossy(&c).contains("kube-apiserver")).unwrap_or(false)
    }
    /// The command renewal runs on a master to restart its control plane: the lab's own stop/start of
    /// the etcd member and the apiserver (a real kube-apiserver reading /etc/kubernetes/pki).
    fn restart_command(&self) -> String {
        // The copy `up` leaves in the lab's state dir: the checkout may be under a path (such as /tmp)
        // that is private inside the hosts.
        let ha = PathBuf::from(self.var("KOCKPIT_LAB_DIR")).join("tools/ha");
        let ha = ha.display();
        format!(
            "H=$(hostname); {ha} stop \"$H\" etcd && {ha} start \"$H\" etcd && {ha} stop \"$H\" apiserver && KOCKPIT_LAB_APISERVER=real {ha} start \"$H\" apiserver"
        )
    }
}

/// Real kube-apiservers on every master for the test (renewal must see the served certificate change),
/// the python stand-ins back afterwards (what the rest of the lab's users expect).
struct RealApiservers<'a> {
    lab: &'a Lab,
    switched: Vec<&'static str>,
}

impl<'a> RealApiservers<'a> {
    fn start(lab: &'a Lab) -> RealApiservers<'a> {
        let mut g = RealApiservers { lab, switched: vec![] };
        for m in MASTERS {
            if !lab.apiserver_is_real(m) {
                lab.ha(&["stop", m, "apiserver"], &[]).unwrap();
                lab.ha(&["start", m, "apiserver"], &[("KOCKPIT_LAB_APISERVER", "real")]).unwrap();
                g.switched.push(m);
            }
        }
        // each answers /readyz (a real apiserver needs a few seconds, more on a busy machine)
        let started = Instant::now();
        for m in MASTERS {
            let ip = lab.plan().host(m).map(|h| h.address.to_string()).unwrap_or_default();
            loop {
                let out = StdCommand::new("curl").args(["-sk", "--max-time", "2", &format!("https://{ip}:6443/readyz")]).output();
                if out.is_ok_and(|o| o.stdout == b"ok") {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(180), "{m}: the real kube-apiserver is not ready after 180s");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        eprintln!("real kube-apiservers ready after {:.1}s (switched: {:?})", started.elapsed().as_secs_f64(), g.switched);
        g
    }
}

impl Drop for RealApiservers<'_> {
    fn drop(&mut self) {
        for m in &self.switched {
            let r = self.lab.ha(&["stop", m, "apiserver"], &[]).and_then(|_| self.lab.ha(&["start", m, "apiserver"], &[]));
            if let Err(e) = r {
                eprintln!("restore: the stand-in apiserver on {m}: {e}");
            }
        }
        if let Err(e) = self.lab.ha(&["up"], &[]) {
            eprintln!("restore: tests/lab/ha up: {e}");
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// `notAfter=Nov 27 14:31:00 2026 GMT` of a certificate file (or a kubeconfig's embedded one), by openssl.
fn openssl_not_after(lab: &Lab, host: &str, path: &str) -> Option<DateTime<Utc>> {
    let f = lab.host_file(host, path);
    if !f.exists() {
        return None;
    }
    let f = f.display();
    let cmd = if path.ends_with(".conf") {
        format!("sed -n 's/^ *client-certificate-data: *//p' {f} | base64 -d | openssl x509 -enddate -noout")
    } else {
        format!("openssl x509 -enddate -noout -in {f}")
    };
    let out = StdCommand::new("sh").arg("-c").arg(cmd).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let when = text.trim().strip_prefix("notAfter=")?;
    let t = NaiveDateTime::parse_from_str(
        when.trim_end_matches(" GMT").split_whitespace().collect::<Vec<_>>().join(" ").as_str(),
        "%b %d %H:%M:%S %Y",
    )
    .ok()?;
    Some(Utc.from_utc_datetime(&t))
}

fn by_name(certs: &[CertInfo]) -> BTreeMap<String, CertInfo> {
    certs.iter().map(|c| (c.name.clone(), c.clone())).collect()
}

/// Every host's certificates. Right after apiservers restart, haproxy needs two good checks before the
/// VIP answers again: wait (up to 15 s) for a complete view, then fail with the reason.
async fn view(remote: &Remote, s: &CertsSettings) -> BTreeMap<String, BTreeMap<String, CertInfo>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let polled = certs::poll_all(remote, s).await;
        if polled.iter().all(|(_, r)| r.is_ok()) || std::time::Instant::now() > deadline {
            return polled.into_iter().map(|(h, r)| (h.clone(), by_name(&r.unwrap_or_else(|e| panic!("{h}: {e}"))))).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn the_view_shows_every_certificate_of_every_master() {
    let lab = lab();
    let cap = WriteCap::acquire(false).unwrap();
    rt().block_on(async {
        let remote = lab.remote(&cap);
        let s = CertsSettings::from_plan(&lab.plan());
        let t = Instant::now();
        let v = view(&remote, &s).await;
        eprintln!("every master + the VIP: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
        let now = Utc::now();
        let mut model = Model::new(lab.plan(), Mode::ReadOnly, "lab");
        for m in MASTERS {
            let certs = &v[m];
            for (name, path) in certs::KUBEADM_CERTS {
                let c = certs.get(*name).unwrap_or_else(|| panic!("{m}: {name} missing; has {:?}", certs.keys()));
                let want = openssl_not_after(&lab, m, path).unwrap_or_else(|| panic!("openssl cannot read {m}:{path}"));
                assert_eq!(c.not_after, want, "{m} {name}: kockpit and openssl disagree");
                assert_eq!(c.days_left(now), (want - now).num_days(), "{m} {name}");
            }
            // the lab's soon-expiring ones (tests/lab/ha LAB_EXPIRING), right after pki-reset
            for (name, days) in [
                ("apiserver", 25),
                ("apiserver-kubelet-client", 5),
                ("front-proxy-client", 20),
                ("etcd-healthcheck-client", 12),
                ("admin.conf", 3),
            ] {
                assert_eq!(certs[name].days_left(now), days - 1, "{m} {name} expires in {days} days minus the seconds since pki-reset");
            }
            assert!(certs["ca"].is_ca && certs["etcd-ca"].is_ca && certs["front-proxy-ca"].is_ca);
            assert!(certs["etcd-server"].sans.iter().any(|s| s == &lab.plan().host(m).unwrap().address.to_string()));
            assert!(certs["admin.conf"].subject.contains("kubernetes-admin"));
            assert!(certs["kubelet-client"].subject.contains(&format!("system:node:{m}")));
            let served = certs.get(SERVED).unwrap_or_else(|| panic!("{m}: no served certificate"));
            assert!(served.subject.contains("kube-apiserver"));
            if served.not_after != certs["apiserver"].not_after {
                eprintln!(
                    "{m}: serves a certificate valid until {} while its file says {}: renewed (or re-signed) but not restarted",
                    served.not_after, certs["apiserver"].not_after
                );
            }
            model.apply(Observation {
                at: now,
                source: format!("ssh {m}"),
                budget_ms: 180_000,
                payload: Payload::Certs { host: m.into(), result: Ok(certs.values().cloned().collect()) },
            });
        }
        assert!(v[VIP_ROW].contains_key(&format!("{SERVED} via VIP")), "{:?}", v[VIP_ROW].keys());
        let a = assess(&model, now);
        let f = |sev: Severity, what: &str| a.findings.iter().any(|f| f.panel == PanelId::Certs && f.severity == sev && f.subject == what);
        assert!(f(Severity::Critical, "m1/admin.conf") && f(Severity::Critical, "m2/apiserver-kubelet-client"), "{:#?}", a.findings);
        assert!(f(Severity::Warn, "m3/front-proxy-client") && f(Severity::Warn, "m1/etcd-healthcheck-client"), "{:#?}", a.findings);
        assert!(!f(Severity::Warn, "m1/etcd-server") && !f(Severity::Critical, "m1/ca"));
    });
}

/// Renewal settings for the lab: the cached kubeadm (or a wrapper), the lab's restart, real checks.
fn renew_settings(lab: &Lab, tool: RenewTool) -> RenewSettings {
    let mut s = RenewSettings::from_plan(&lab.plan());
    s.tool = tool;
    s.restart_command = lab.restart_command();
    s.wait_healthy = Duration::from_secs(120);
    s
}

fn serials(lab: &Lab, host: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, path) in certs::KUBEADM_CERTS {
        let f = lab.host_file(host, path);
        if let Ok(text) = std::fs::read_to_string(&f) {
            out.insert(name.to_string(), text);
        }
    }
    out
}

fn backups(lab: &Lab, host: &str) -> Vec<String> {
    let dir = lab.host_file(host, "/etc/kubernetes");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains(".bak-")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// What an operation sent: its steps (ok, text), its end, and the observations it sent along.
#[derive(Default)]
struct Events {
    steps: Vec<(bool, String)>,
    finished: Option<(bool, String)>,
    obs: Vec<Observation>,
}

fn collect(rx: &mut mpsc::Receiver<BackendEvent>) -> Events {
    let mut ev = Events::default();
    while let Ok(e) = rx.try_recv() {
        match e {
            BackendEvent::Op(OpEvent::Step { text, ok, .. }) => ev.steps.push((ok, text)),
            BackendEvent::Op(OpEvent::Finished { ok, summary, .. }) => ev.finished = Some((ok, summary)),
            BackendEvent::Obs(o) => ev.obs.push(o),
            _ => {}
        }
    }
    ev
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn renewal_renews_everything_on_every_master_in_order() {
    let lab = lab();
    let _real = RealApiservers::start(&lab);
    let cap = WriteCap::acquire(false).unwrap();
    rt().block_on(async {
        let remote = lab.remote(&cap);
        let certs_settings = CertsSettings::from_plan(&lab.plan());
        let before = view(&remote, &certs_settings).await;
        let s = renew_settings(&lab, RenewTool::Kubeadm { path: lab.kubeadm.display().to_string() });
        let (tx, mut rx) = mpsc::channel(1024);
        let t = Instant::now();
        let masters: Vec<String> = MASTERS.iter().map(|m| m.to_string()).collect();
        let r = renew::renew(&remote, &cap, &s, &masters, 42, &tx, None).await;
        let Events { steps, finished, obs } = collect(&mut rx);
        for (ok, text) in &steps {
            eprintln!("{} {text}", if *ok { "ok  " } else { "FAIL" });
        }
        let summary = r.unwrap_or_else(|e| panic!("renewal failed: {e}"));
        eprintln!("renewed 3 masters in {:.1}s: {summary}", t.elapsed().as_secs_f64());
        assert_eq!(finished, Some((true, summary)));
        // one master at a time, each from backup to done before the next begins
        let order: Vec<&str> = steps.iter().filter_map(|(_, t)| t.split(':').next()).collect();
        let mut seen: Vec<&str> = order.clone();
        seen.dedup();
        assert_eq!(seen, MASTERS, "steps grouped by master, in order: {order:?}");
        for m in MASTERS {
            let mine: Vec<&str> = steps.iter().filter(|(_, t)| t.starts_with(&format!("{m}:"))).map(|(_, t)| t.as_str()).collect();
            for want in [
                "backed up",
                "renewed",
                "restarted",
                "/readyz ok",
                "serving the renewed certificate",
                "etcd member healthy",
                "haproxy backend UP",
                "done",
            ] {
                assert!(mine.iter().any(|t| t.contains(want)), "{m}: no step with {want:?} in {mine:?}");
            }
            assert_eq!(backups(&lab, m).len(), 5, "{m}: pki + 4 kubeconfigs backed up: {:?}", backups(&lab, m));
        }
        assert_eq!(obs.len(), 3, "the renewed certificates are sent as observations as each master finishes");
        let after = view(&remote, &certs_settings).await;
        let now = Utc::now();
        for m in MASTERS {
            for (name, c) in &after[m] {
                let old = &before[m][name];
                if c.is_ca || name == "kubelet-client" {
                    assert_eq!(c.not_after, old.not_after, "{m} {name}: kubeadm leaves the CAs and the kubelet's certificate alone");
                } else if name == SERVED {
                    assert_eq!(c.not_after, after[m]["apiserver"].not_after, "{m}: serves the renewed certificate");
                } else {
                    assert!(c.days_left(now) >= 364 && c.not_after > old.not_after, "{m} {name}: {} -> {}", old.not_after, c.not_after);
                }
            }
        }
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn a_renewal_failing_on_the_second_master_stops_there() {
    let lab = lab();
    let _real = RealApiservers::start(&lab);
    // kubeadm as the renewal tool, through a wrapper in each master's private /etc/kubernetes: the real
    // one on m1 and m3, a failing one on m2
    let wrapper = "/etc/kubernetes/kockpit-test-kubeadm";
    struct Wrappers<'a>(&'a Lab, &'static str);
    impl Drop for Wrappers<'_> {
        fn drop(&mut self) {
            for m in MASTERS {
                let _ = std::fs::remove_file(self.0.host_file(m, self.1));
            }
        }
    }
    let _w = Wrappers(&lab, wrapper);
    for m in MASTERS {
        let body = if m == "m2" {
            "#!/bin/sh\necho 'error: kubeadm failure injected by the test on m2' >&2\nexit 1\n".to_string()
        } else {
            format!("#!/bin/sh\nexec {} \"$@\"\n", lab.kubeadm.display())
        };
        let f = lab.host_file(m, wrapper);
        std::fs::write(&f, body).unwrap();
        StdCommand::new("chmod").arg("755").arg(&f).status().unwrap();
    }
    let (m2_before, m3_before) = (serials(&lab, "m2"), serials(&lab, "m3"));
    // This one runs as kockpit runs it: the plan's [certs] section, the live backend's etcd/Ceph/
    // certificate part, an Execute command with the write capability.
    let toml_str = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let plan_text = format!(
        "{}\n[certs]\nrenew_command = {}\nrestart_command = {}\nwait_healthy_secs = 120\n",
        std::fs::read_to_string(lab.var("KOCKPIT_CONFIG")).unwrap(),
        toml_str(&format!("{wrapper} certs renew all")),
        toml_str(&lab.restart_command()),
    );
    let plan_file = tempfile::Builder::new().prefix("kockpit-certs-plan-").suffix(".toml").tempfile().unwrap();
    std::fs::write(plan_file.path(), plan_text).unwrap();
    let plan = Plan::load(plan_file.path()).unwrap_or_else(|e| panic!("the plan with [certs]: {e}"));
    drop(plan_file);
    let cap = WriteCap::acquire(false).unwrap();
    rt().block_on(async {
        let settings = kockpit::probe::LiveSettings {
            ssh_config: Some(PathBuf::from(lab.var("KOCKPIT_SSH_CONFIG"))),
            ..kockpit::probe::LiveSettings::new(false)
        };
        let mut h = kockpit::live::stores::spawn(&plan, settings);
        let masters: Vec<String> = MASTERS.iter().map(|m| m.to_string()).collect();
        h.commands.send(Command::Execute { id: 43, request: OpRequest::RenewCerts { masters }, cap }).unwrap();
        let (mut steps, mut finished) = (Vec::new(), None);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(400);
        while finished.is_none() {
            match tokio::time::timeout_at(deadline, h.events.recv()).await {
                Ok(Some(BackendEvent::Op(OpEvent::Step { id: 43, ok, text }))) => steps.push((ok, text)),
                Ok(Some(BackendEvent::Op(OpEvent::Finished { id: 43, ok, summary }))) => finished = Some((ok, summary)),
                Ok(Some(_)) => {}
                Ok(None) => panic!("the backend ended"),
                Err(_) => panic!("no end of the renewal within 400 s; steps {steps:?}"),
            }
        }
        for (ok, text) in &steps {
            eprintln!("{} {text}", if *ok { "ok  " } else { "FAIL" });
        }
        let Some((false, e)) = finished else { panic!("the renewal should fail on m2: {finished:?}") };
        assert!(
            e.starts_with("stopped at m2:") && e.contains("injected") && e.contains("renewed: m1") && e.contains("untouched: m3"),
            "{e}"
        );
        // how to restore m2, exactly
        let stamp = backups(&lab, "m2").into_iter().find_map(|b| b.strip_prefix("pki.bak-").map(str::to_string)).expect("m2 was backed up");
        assert!(e.contains(&format!("cp -a /etc/kubernetes/pki.bak-{stamp} /etc/kubernetes/pki")), "{e}");
        assert!(steps.iter().any(|(ok, t)| *ok && t.starts_with("m1: done")));
        assert!(!steps.iter().any(|(_, t)| t.starts_with("m3")), "nothing ran on m3");
        // m1 renewed and healthy; m2's files untouched by the failed kubeadm; m3 untouched altogether
        assert_eq!(serials(&lab, "m2"), m2_before);
        assert_eq!(serials(&lab, "m3"), m3_before);
        assert!(backups(&lab, "m3").is_empty());
        let m1 = lab.plan().host("m1").unwrap().address;
        let r = kockpit::probe::haproxy::probe_readyz(m1, 6443, Duration::from_secs(3)).await.expect("m1 /readyz");
        assert!(r.ok, "{r:?}");
        let served = certs::served_cert(SERVED, SocketAddr::new(m1, 6443), Duration::from_secs(3)).await.unwrap();
        assert!(served.info.days_left(Utc::now()) >= 364, "m1 serves its renewed certificate");
    });
}
