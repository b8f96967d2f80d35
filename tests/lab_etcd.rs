//! The etcd probe against the HA lab's real 3-member etcd 3.4 with TLS on (`tests/lab/ha`): client
//! certificates from files and over SSH, direct and through an SSH tunnel; a killed leader, a lost
//! quorum and a NOSPACE alarm, each undone by a Drop guard.
//!
//! The tests are `#[ignore]`d; run as root: `cargo test --test lab_etcd -- --include-ignored --test-threads=1`.
//! Without the lab (not root, no namespaces) they fail, with the reason.

#[path = "common/lab.rs"]
mod harness;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use kockpit::etcd::{CredentialSource, EtcdEndpoint, EtcdProbe, EtcdSettings, OpenSshTunnel, TunnelMode};
use kockpit::inventory::Plan;
use kockpit::model::{EtcdView, Mode, Model, Observation, PanelId, Payload, Severity, assess};
use kockpit::transport::Remote;
use kockpit::transport::ssh::{AccessMode, PoolOptions, SshPool};

static LAB_LOCK: Mutex<()> = Mutex::new(());

struct Lab {
    script: PathBuf,
    env: HashMap<String, String>,
    _lock: MutexGuard<'static, ()>,
}

fn lab() -> Lab {
    let lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let script = harness::script("ha");
    let env = harness::up(&script, Duration::from_secs(300)).unwrap_or_else(|why| harness::cannot_run("the HA lab", &why));
    let lab = Lab { script, env, _lock: lock };
    lab.wait_all_members(Duration::from_secs(30));
    lab
}

impl Lab {
    fn var(&self, k: &str) -> String {
        self.env.get(k).cloned().unwrap_or_else(|| panic!("tests/lab/ha env has no {k}"))
    }
    fn plan(&self) -> Plan {
        Plan::load(Path::new(&self.var("KOCKPIT_CONFIG"))).unwrap_or_else(|e| panic!("the lab's plan: {e}"))
    }
    fn ha(&self, args: &[&str]) -> Result<String, String> {
        harness::run_env(&self.script, args, &[], Duration::from_secs(90))
    }
    fn ha_ok(&self, args: &[&str]) {
        if let Err(e) = self.ha(args) {
            panic!("tests/lab/ha {}: {e}", args.join(" "));
        }
    }
    fn etcdctl(&self, args: &[&str]) -> Result<String, String> {
        let envs: Vec<(&str, String)> = ["ETCDCTL_API", "ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"]
            .iter()
            .map(|k| (*k, self.var(k)))
            .collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut full = vec!["--dial-timeout=2s", "--command-timeout=5s"];
        full.extend_from_slice(args);
        harness::run_env(Path::new("etcdctl"), &full, &envs, Duration::from_secs(30))
    }
    /// Every member answering with a leader (after the lab's `up` or a restore); an alarm left by an
    /// earlier run that failed half-way is disarmed.
    fn wait_all_members(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            match self.etcdctl(&["endpoint", "status", "-w", "json"]) {
                Ok(t) if t.matches("\"leader\"").count() == 3 && !t.contains("no leader") => {
                    if t.contains("alarm:") {
                        eprintln!("disarming an etcd alarm left behind: {:?}", self.etcdctl(&["alarm", "disarm"]));
                        let _ = self.etcdctl(&["del", "--prefix", "/kockpit-test/"]);
                    }
                    return;
                }
                r if started.elapsed() > limit => panic!("etcd not back with 3 members and a leader: {r:?}"),
                _ => std::thread::sleep(Duration::from_millis(300)),
            }
        }
    }
    fn settings(&self) -> EtcdSettings {
        let mut s = EtcdSettings::from_plan(&self.plan());
        s.credentials = CredentialSource::Files {
            ca: self.var("KOCKPIT_LAB_ETCD_CA").into(),
            cert: self.var("KOCKPIT_LAB_ETCD_CERT").into(),
            key: self.var("KOCKPIT_LAB_ETCD_KEY").into(),
        };
        s.tunnel = TunnelMode::Never;
        s
    }
    /// Kockpit's read path over SSH: a read-only pool (the credentials script is in its set).
    fn remote(&self) -> Remote {
        Remote::ssh(self.pool())
    }
    fn pool(&self) -> SshPool {
        let ssh_config = Some(PathBuf::from(self.var("KOCKPIT_SSH_CONFIG")));
        SshPool::new(PoolOptions { ssh_config, mode: AccessMode::ReadOnly, use_agent: false, ..PoolOptions::default() })
            .expect("lab ssh config")
    }
}

/// One way of undoing a fault.
type Step<'a> = Box<dyn Fn(&Lab) + 'a>;

/// Runs lab commands when dropped: how every fault is undone, also when an assertion fails.
struct Restore<'a> {
    lab: &'a Lab,
    steps: Vec<Step<'a>>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for s in &self.steps {
            s(self.lab);
        }
    }
}

fn restart_etcd(lab: &Lab, host: &str) {
    for args in [["stop", host, "etcd"], ["start", host, "etcd"]] {
        if let Err(e) = lab.ha(&args) {
            eprintln!("restore: tests/lab/ha {}: {e}", args.join(" "));
        }
    }
}

fn start_etcd(host: &'static str) -> Box<dyn Fn(&Lab)> {
    Box::new(move |lab: &Lab| {
        if let Err(e) = lab.ha(&["start", host, "etcd"]) {
            eprintln!("restore: tests/lab/ha start {host} etcd: {e}");
        }
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A model fed with the probe's observations, as the app does.
struct Fed {
    probe: EtcdProbe,
    model: Model,
}

impl Fed {
    fn new(lab: &Lab, probe: EtcdProbe) -> Fed {
        Fed { probe, model: Model::new(lab.plan(), Mode::ReadOnly, "lab") }
    }
    /// Poll (about every 300 ms) until `pred` holds on the view; the view.
    async fn until(&mut self, limit: Duration, what: &str, pred: impl Fn(&EtcdView) -> bool) -> (EtcdView, Duration) {
        let started = Instant::now();
        let mut last = None;
        loop {
            let r = self.probe.poll().await;
            self.model.apply(Observation {
                at: Utc::now(),
                source: self.probe.source_label(),
                budget_ms: 3000,
                payload: Payload::Etcd(r.clone()),
            });
            match &r {
                Ok(v) if pred(v) => return (v.clone(), started.elapsed()),
                _ => {}
            }
            if started.elapsed() > limit {
                panic!("timed out after {}s waiting for: {what}; last: {last:#?}", limit.as_secs());
            }
            last = Some(r);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

fn names(v: &EtcdView) -> Vec<(String, bool)> {
    let mut n: Vec<(String, bool)> = v.members.iter().map(|m| (m.name.clone(), m.reachable)).collect();
    n.sort();
    n
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn three_members_over_tls_with_file_credentials() {
    let lab = lab();
    rt().block_on(async {
        let mut p = EtcdProbe::new(lab.settings(), None, None);
        let v = p.poll().await.expect("etcd view");
        assert_eq!(names(&v), [("m1".into(), true), ("m2".into(), true), ("m3".into(), true)]);
        let leader = v.leader().expect("a leader").name.clone();
        assert_eq!(v.members.iter().filter(|m| m.is_leader).count(), 1);
        assert!(v.members.iter().all(|m| m.version == "3.4.23"
            && m.raft_term > 0
            && m.raft_index > 0
            && m.db_size > 0
            && m.error.is_none()));
        assert_eq!((v.size(), v.quorum(), v.can_lose()), (3, 2, 1));
        // the IDs are the full uint64s etcdctl knows
        let list = lab.etcdctl(&["member", "list", "-w", "json"]).unwrap();
        for m in &v.members {
            assert!(list.contains(&m.id.to_string()), "member {} id {} in {list}", m.name, m.id);
        }
        let status = lab.etcdctl(&["endpoint", "status", "-w", "table"]).unwrap();
        eprintln!("leader {leader}\n{status}");
        // a second poll reuses the connections and is quick
        let t = Instant::now();
        p.poll().await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn credentials_over_ssh_and_an_ssh_tunnel() {
    let lab = lab();
    rt().block_on(async {
        // kubeadm's /etc/kubernetes/pki/etcd on the masters, read with the read-only script
        let mut s = EtcdSettings::from_plan(&lab.plan());
        s.tunnel = TunnelMode::Never;
        let mut p = EtcdProbe::new(s.clone(), Some(lab.remote()), None);
        let v = p.poll().await.expect("etcd with certificates read over SSH");
        assert_eq!(v.healthy(), 3);
        // every member through an SSH tunnel of its own host: direct-tcpip channels of the (read-only)
        // pool's connections, and the OpenSSH client's `ssh -W`
        s.tunnel = TunnelMode::Always;
        let pool = lab.pool();
        let tunnels: [std::sync::Arc<dyn kockpit::etcd::Tunnel>; 2] = [
            std::sync::Arc::new(kockpit::etcd::PoolTunnel(pool.clone())),
            std::sync::Arc::new(OpenSshTunnel { ssh_config: Some(lab.var("KOCKPIT_SSH_CONFIG").into()) }),
        ];
        for tunnel in tunnels {
            let mut p = EtcdProbe::new(s.clone(), Some(Remote::ssh(pool.clone())), Some(tunnel));
            let v = p.poll().await.expect("etcd through SSH tunnels");
            assert_eq!(v.healthy(), 3);
            assert!(p.source_label().contains("tunnel"), "{}", p.source_label());
            assert!(v.leader().is_some());
            // kept-alive: the next poll reuses the tunnelled connections
            assert_eq!(p.poll().await.expect("second poll").healthy(), 3);
        }
        // an endpoint only its host can reach (etcd's 127.0.0.1:2379 on m1; nothing listens there in
        // the root namespace): direct fails, the tunnel takes over, the rest comes from the member list
        let mut s = EtcdSettings::from_plan(&lab.plan());
        s.endpoints = vec![EtcdEndpoint { name: "m1".into(), host: "127.0.0.1".into(), port: 2379, ssh_host: "m1".into() }];
        s.tunnel = TunnelMode::WhenDirectFails;
        let tunnel = std::sync::Arc::new(OpenSshTunnel { ssh_config: Some(lab.var("KOCKPIT_SSH_CONFIG").into()) });
        let mut p = EtcdProbe::new(s, Some(lab.remote()), Some(tunnel));
        let v = p.poll().await.expect("etcd through the fallback tunnel");
        assert!(v.leader().is_some());
        assert!(p.source_label().contains("tunnel"), "{}", p.source_label());
        let v = p.poll().await.expect("the second poll: every member from the member list");
        assert_eq!(v.healthy(), 3, "{v:#?}");
    });
}

/// The next etcd observation from a running probe, within `limit`.
async fn next_etcd(rx: &mut tokio::sync::mpsc::Receiver<kockpit::backend::BackendEvent>, limit: Duration) -> Result<EtcdView, String> {
    loop {
        match tokio::time::timeout(limit, rx.recv()).await {
            Ok(Some(kockpit::backend::BackendEvent::Obs(Observation { payload: Payload::Etcd(r), .. }))) => return r,
            Ok(Some(_)) => {}
            _ => panic!("no etcd observation within {limit:?}"),
        }
    }
}

/// Between two full polls the leadership is looked at every 200 ms: with full polls 30 s apart, a new
/// leader still reaches the model long before the next one is due.
#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn a_new_leader_is_polled_at_once_between_slow_full_polls() {
    let lab = lab();
    rt().block_on(async {
        // every member up first (an earlier test may have just started one again)
        lab.wait_all_members(Duration::from_secs(30));
        let settings = EtcdSettings { interval: Duration::from_secs(30), ..lab.settings() };
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(kockpit::etcd::run_probe(settings, None, None, tx));
        let first = next_etcd(&mut rx, Duration::from_secs(15)).await.expect("the first poll");
        assert_eq!(first.healthy(), 3, "{first:#?}");
        let old = first.leader().map(|m| m.name.clone()).expect("a leader");
        let polled_at = Instant::now();
        let old_static: &'static str = match old.as_str() {
            "m1" => "m1",
            "m2" => "m2",
            _ => "m3",
        };
        let _restore =
            Restore { lab: &lab, steps: vec![start_etcd(old_static), Box::new(|l: &Lab| l.wait_all_members(Duration::from_secs(30)))] };
        lab.ha_ok(&["stop", &old, "etcd"]);
        loop {
            let left = Duration::from_secs(25).saturating_sub(polled_at.elapsed());
            assert!(!left.is_zero(), "no new leader before the next full poll was due: the leadership look did not trigger one");
            if let Ok(v) = next_etcd(&mut rx, left).await
                && v.leader().is_some_and(|l| l.name != old)
            {
                eprintln!(
                    "new leader {} polled {:.2}s after the last full poll",
                    v.leader().unwrap().name,
                    polled_at.elapsed().as_secs_f64()
                );
                break;
            }
        }
        task.abort();
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn leader_killed_a_new_leader_is_shown() {
    let lab = lab();
    rt().block_on(async {
        let mut fed = Fed::new(&lab, EtcdProbe::new(lab.settings(), None, None));
        let (v, _) = fed.until(Duration::from_secs(10), "a leader", |v| v.leader().is_some() && v.healthy() == 3).await;
        let old = v.leader().map(|m| m.name.clone()).unwrap_or_default();
        let old_static: &'static str = match old.as_str() {
            "m1" => "m1",
            "m2" => "m2",
            _ => "m3",
        };
        let _restore =
            Restore { lab: &lab, steps: vec![start_etcd(old_static), Box::new(|l: &Lab| l.wait_all_members(Duration::from_secs(30)))] };
        let t = Instant::now();
        lab.ha_ok(&["stop", &old, "etcd"]);
        let (v, took) = fed
            .until(Duration::from_secs(15), "a new leader", |v| {
                v.leader().is_some_and(|l| l.name != old) && v.members.iter().any(|m| m.name == old && !m.reachable)
            })
            .await;
        let new = v.leader().map(|l| l.name.clone()).unwrap_or_default();
        eprintln!(
            "leader {old} killed -> {new} shown after {:.2}s (probe saw it {:.2}s into polling)",
            t.elapsed().as_secs_f64(),
            took.as_secs_f64()
        );
        assert_eq!(v.members.len(), 3, "the killed member stays in the table");
        let dead = v.members.iter().find(|m| m.name == old).unwrap();
        assert!(dead.error.as_deref().is_some_and(|e| !e.is_empty()), "{dead:?}");
        assert!(fed.model.timeline.iter().any(|e| e.text == format!("etcd leader {old} -> {new}")), "timeline");
        let a = assess(&fed.model, Utc::now());
        assert!(
            a.findings
                .iter()
                .any(|f| f.panel == PanelId::Etcd && f.severity == Severity::Warn && f.message.contains(&format!("etcd {old} down"))),
            "{:#?}",
            a.findings
        );
        assert!(!a.findings.iter().any(|f| f.panel == PanelId::Etcd && f.severity == Severity::Critical), "{:#?}", a.findings);
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn two_members_down_quorum_lost_is_critical() {
    let lab = lab();
    rt().block_on(async {
        let mut fed = Fed::new(&lab, EtcdProbe::new(lab.settings(), None, None));
        let (v, _) = fed.until(Duration::from_secs(10), "a leader", |v| v.leader().is_some() && v.healthy() == 3).await;
        // stop the leader first (stopping both at once hangs the leader's transfer attempt)
        let leader = v.leader().map(|m| m.name.clone()).unwrap_or_default();
        let other = ["m1", "m2", "m3"].into_iter().find(|m| *m != leader).unwrap_or("m1").to_string();
        let survivor = ["m1", "m2", "m3"].into_iter().find(|m| *m != leader && *m != other).unwrap_or("m3").to_string();
        let _restore = Restore {
            lab: &lab,
            steps: vec![
                start_etcd("m1"),
                start_etcd("m2"),
                start_etcd("m3"),
                Box::new(|l: &Lab| l.wait_all_members(Duration::from_secs(30))),
            ],
        };
        lab.ha_ok(&["stop", &leader, "etcd"]);
        lab.ha_ok(&["stop", &other, "etcd"]);
        let t = Instant::now();
        let (v, _) = fed.until(Duration::from_secs(15), "quorum lost", |v| v.can_lose() < 0 && v.leader().is_none()).await;
        eprintln!("quorum lost shown {:.2}s after the second stop", t.elapsed().as_secs_f64());
        assert_eq!(v.members.len(), 3);
        let alive = v.members.iter().find(|m| m.name == survivor).unwrap();
        assert!(alive.reachable && alive.error.as_deref() == Some("etcdserver: no leader"), "{alive:?}");
        let a = assess(&fed.model, Utc::now());
        let crit: Vec<_> = a.findings.iter().filter(|f| f.panel == PanelId::Etcd && f.severity == Severity::Critical).collect();
        assert!(crit.iter().any(|f| f.message.starts_with("quorum lost: 1/3")), "{:#?}", a.findings);
        // a poll without quorum does not hang: the alarm list (a raft request) is not even asked
        let t = Instant::now();
        fed.probe.poll().await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn nospace_alarm_is_shown_then_recovered_by_compaction_defrag_and_disarm() {
    let lab = lab();
    rt().block_on(async {
        let mut fed = Fed::new(&lab, EtcdProbe::new(lab.settings(), None, None));
        let (v, _) = fed.until(Duration::from_secs(10), "a leader", |v| v.leader().is_some() && v.healthy() == 3).await;
        // a follower gets a small quota (the lab's KOCKPIT_LAB_ETCD_QUOTA on `start`)
        let member = v.members.iter().find(|m| !m.is_leader).map(|m| m.name.clone()).unwrap_or_else(|| "m1".into());
        let _restore = Restore {
            lab: &lab,
            steps: vec![Box::new({
                let member = member.clone();
                move |l: &Lab| {
                    restart_etcd(l, &member);
                    l.wait_all_members(Duration::from_secs(30));
                    for args in [&["alarm", "disarm"][..], &["del", "--prefix", "/kockpit-test/"][..]] {
                        if let Err(e) = l.etcdctl(args) {
                            eprintln!("restore: etcdctl {}: {e}", args.join(" "));
                        }
                    }
                    let _ = l.etcdctl(&["defrag", "--cluster"]);
                }
            })],
        };
        // The quota is 2 MiB above the largest DB file now: what the lab's etcd already holds grows
        // over a run (leases, the other tests' keys), and a fixed quota close to it would raise NOSPACE
        // again right after the recovery, which only shrinks the file back to what it held before.
        let quota = largest_db_file(&lab) + 2 * 1024 * 1024;
        eprintln!("{member} gets --quota-backend-bytes {quota}");
        lab.ha_ok(&["stop", &member, "etcd"]);
        harness::run_env(
            &lab.script,
            &["start", &member, "etcd"],
            &[("KOCKPIT_LAB_ETCD_QUOTA", quota.to_string().as_str())],
            Duration::from_secs(60),
        )
        .unwrap();
        lab.wait_all_members(Duration::from_secs(30));
        for i in 0..3 {
            lab.etcdctl(&["put", &format!("/kockpit-test/nudge-{i}"), "n"]).expect("nudge keys");
        }
        // write 300 KB values until etcd refuses (the file's free pages are taken first)
        let value = "k".repeat(300_000);
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let file = tmp.path();
        std::fs::write(file, &value).unwrap();
        let mut refused = false;
        for i in 0..quota / 300_000 + 10 {
            let cmd = format!("etcdctl --dial-timeout=2s --command-timeout=5s put /kockpit-test/nospace-{i} < {}", file.display());
            let out = StdCommand::new("sh").arg("-c").arg(&cmd).envs(lab.env.iter()).output().unwrap();
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("database space exceeded"), "{err}");
                refused = true;
                break;
            }
        }
        drop(tmp);
        assert!(refused, "etcd never ran out of its quota of {quota} bytes");
        let (v, took) = fed.until(Duration::from_secs(10), "the NOSPACE alarm", |v| v.alarms.iter().any(|a| a.alarm == "NOSPACE")).await;
        eprintln!("NOSPACE on {member} shown after {:.2}s", took.as_secs_f64());
        assert!(v.alarms.iter().any(|a| a.alarm == "NOSPACE" && a.member == member), "{:?}", v.alarms);
        let a = assess(&fed.model, Utc::now());
        assert!(
            a.findings.iter().any(|f| f.severity == Severity::Critical && f.message == format!("etcd alarm NOSPACE on {member}")),
            "{:#?}",
            a.findings
        );

        // etcd's documented recovery, with kockpit's operations: delete and compact (by hand, as
        // the operator would), kockpit's disarm refused while the file still holds the freed space,
        // kockpit's defrag (NOSPACE does not stop it), then kockpit's disarm, verified
        lab.etcdctl(&["del", "--prefix", "/kockpit-test/nospace-"]).expect("deletes are allowed under NOSPACE");
        let status = lab.etcdctl(&["endpoint", "status", "-w", "json"]).expect("status");
        let at = status.find("\"revision\":").expect("a revision") + "\"revision\":".len();
        let rev: String = status[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
        lab.etcdctl(&["compact", &rev, "--physical"]).expect("compact");
        for i in 0..3 {
            // write transactions release the compaction's pages; deletes are what NOSPACE allows
            let _ = lab.etcdctl(&["del", &format!("/kockpit-test/nudge-{i}")]);
            std::thread::sleep(Duration::from_millis(300));
        }
        let cap = kockpit::ops::WriteCap::acquire(false).expect("a writable process");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let ok = kockpit::etcd::ops::disarm(lab.settings(), None, None, &cap, 1, &tx).await;
        let (_, end) = op_events(&mut rx);
        let (_, summary) = end.expect("a result");
        assert!(!ok && summary.contains(&format!("{member}'s DB file is")) && summary.contains("defragment first"), "{summary}");
        let ok = kockpit::etcd::ops::defrag(lab.settings(), None, None, &cap, 2, &tx, None).await;
        let (steps, end) = op_events(&mut rx);
        assert!(ok, "{end:?}\n{steps:#?}");
        let ok = kockpit::etcd::ops::disarm(lab.settings(), None, None, &cap, 3, &tx).await;
        let (_, end) = op_events(&mut rx);
        let (_, summary) = end.expect("a result");
        assert!(ok && summary.starts_with(&format!("NOSPACE disarmed on {member}, verified")), "{summary}");
        lab.etcdctl(&["put", "/kockpit-test/after-nospace", "ok"]).expect("etcd takes writes again");
        // nothing left to disarm: refused, naming why
        let ok = kockpit::etcd::ops::disarm(lab.settings(), None, None, &cap, 4, &tx).await;
        let (_, end) = op_events(&mut rx);
        assert!(!ok && end.is_some_and(|(_, s)| s.contains("no NOSPACE alarm is raised")));
    });
}

/// Every operation event of one run: (steps, finished summary).
fn op_events(rx: &mut tokio::sync::mpsc::Receiver<kockpit::backend::BackendEvent>) -> (Vec<String>, Option<(bool, String)>) {
    use kockpit::backend::BackendEvent;
    use kockpit::ops::OpEvent;
    let (mut steps, mut end) = (vec![], None);
    while let Ok(ev) = rx.try_recv() {
        match ev {
            BackendEvent::Op(OpEvent::Step { text, .. }) => steps.push(text),
            BackendEvent::Op(OpEvent::Finished { ok, summary, .. }) => end = Some((ok, summary)),
            _ => {}
        }
    }
    (steps, end)
}

/// The leader's member id as etcdctl asking `endpoint` reports it (independent of kockpit's reading).
/// The largest DB file (`dbSize`, the size etcd's quota is checked against) of the members.
fn largest_db_file(lab: &Lab) -> u64 {
    let out = lab.etcdctl(&["endpoint", "status", "-w", "json"]).expect("etcdctl endpoint status");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("endpoint status: {e}: {out}"));
    let sizes: Vec<u64> = v.as_array().into_iter().flatten().filter_map(|e| e["Status"]["dbSize"].as_u64()).collect();
    assert_eq!(sizes.len(), 3, "a dbSize for each member: {out}");
    sizes.into_iter().max().unwrap_or(0)
}

fn etcdctl_leader(lab: &Lab, endpoint: &str) -> String {
    let mut envs: Vec<(&str, String)> =
        ["ETCDCTL_API", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"].iter().map(|k| (*k, lab.var(k))).collect();
    envs.push(("ETCDCTL_ENDPOINTS", endpoint.to_string()));
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out =
        harness::run_env(Path::new("etcdctl"), &["--dial-timeout=2s", "endpoint", "status", "-w", "json"], &envs, Duration::from_secs(30))
            .expect("etcdctl endpoint status");
    let at = out.find("\"leader\":").expect("a leader field") + "\"leader\":".len();
    out[at..].chars().take_while(|c| c.is_ascii_digit()).collect()
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn move_leader_hands_over_verified_and_refuses_the_leader_itself_and_a_stopped_member() {
    let lab = lab();
    rt().block_on(async {
        let mut p = EtcdProbe::new(lab.settings(), None, None);
        let v = p.poll().await.expect("etcd view");
        let leader = v.leader().expect("a leader").clone();
        let target = v.members.iter().find(|m| !m.is_leader).expect("a follower").clone();
        let cap = kockpit::ops::WriteCap::acquire(false).expect("a writable process");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let t = Instant::now();
        let ok = kockpit::etcd::ops::move_leader(lab.settings(), None, None, &cap, &target.name, 1, &tx).await;
        let (steps, end) = op_events(&mut rx);
        eprintln!("move-leader {} -> {}: {:.2}s: {end:?}", leader.name, target.name, t.elapsed().as_secs_f64());
        let (done, summary) = end.expect("a result");
        assert!(ok && done, "{summary}\n{steps:#?}");
        assert!(summary.contains(&format!("{} leads etcd", target.name)) && summary.contains("verified"), "{summary}");
        assert!(steps.iter().any(|s| s.contains("accepted the hand-over")), "{steps:#?}");
        assert_eq!(etcdctl_leader(&lab, &target.endpoint), target.id.to_string(), "etcdctl sees the new leader");

        // the leader itself: refused before anything is sent
        let ok = kockpit::etcd::ops::move_leader(lab.settings(), None, None, &cap, &target.name, 2, &tx).await;
        let (_, end) = op_events(&mut rx);
        let (_, summary) = end.expect("a result");
        assert!(!ok && summary.contains("is the leader already") && summary.contains("nothing changed"), "{summary}");

        // a stopped member cannot lead: refused, and the leadership stays where it is
        let stopped: &'static str = match v.members.iter().find(|m| m.name != target.name && m.name != leader.name).map(|m| m.name.as_str())
        {
            Some("m1") => "m1",
            Some("m2") => "m2",
            _ => "m3",
        };
        let _restore =
            Restore { lab: &lab, steps: vec![start_etcd(stopped), Box::new(|l: &Lab| l.wait_all_members(Duration::from_secs(30)))] };
        lab.ha_ok(&["stop", stopped, "etcd"]);
        let ok = kockpit::etcd::ops::move_leader(lab.settings(), None, None, &cap, stopped, 3, &tx).await;
        let (_, end) = op_events(&mut rx);
        let (_, summary) = end.expect("a result");
        assert!(!ok && summary.contains(&format!("{stopped} does not answer")), "{summary}");
        assert_eq!(etcdctl_leader(&lab, &target.endpoint), target.id.to_string(), "nothing moved");
        // and back, so the next test starts where this one did
        lab.ha_ok(&["start", stopped, "etcd"]);
        lab.wait_all_members(Duration::from_secs(30));
        let ok = kockpit::etcd::ops::move_leader(lab.settings(), None, None, &cap, &leader.name, 4, &tx).await;
        let (_, end) = op_events(&mut rx);
        assert!(ok, "{end:?}");
    });
}

/// `PUT key value` through the v3 gateway of `member` (the test's own client, on a probe's connection).
async fn put(
    p: &mut EtcdProbe,
    member: &kockpit::model::EtcdMember,
    cap: &kockpit::ops::WriteCap,
    key: &str,
    value: &[u8],
) -> Result<(), String> {
    let body = kockpit::etcd::writer::put_body(key, value);
    match p.post_to_member_within(member, "/v3/kv/put", body, cap, Duration::from_secs(10)).await {
        Ok((200, _)) => Ok(()),
        Ok((code, b)) => Err(format!("HTTP {code}: {}", String::from_utf8_lossy(&b))),
        Err(e) => Err(e),
    }
}

/// Fill etcd with `mb` MB under /kockpit-test/fill/, delete it and compact: the members' DBs keep
/// the pages, free, for a defrag to return.
async fn fill_and_free(lab: &Lab, mb: usize) {
    let cap = kockpit::ops::WriteCap::acquire(false).expect("a writable process");
    let mut p = EtcdProbe::new(lab.settings(), None, None);
    let v = p.poll().await.expect("etcd view");
    let leader = v.leader().expect("a leader").clone();
    let value = vec![b'x'; 64 * 1024];
    for i in 0..mb * 16 {
        put(&mut p, &leader, &cap, &format!("/kockpit-test/fill/{i}"), &value).await.expect("fill");
    }
    lab.etcdctl(&["del", "--prefix", "/kockpit-test/fill/"]).expect("delete the fill");
    let status = lab.etcdctl(&["endpoint", "status", "-w", "json"]).expect("status");
    let at = status.find("\"revision\":").expect("a revision") + "\"revision\":".len();
    let rev: String = status[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
    lab.etcdctl(&["compact", &rev, "--physical"]).expect("compact");
    // bbolt frees a compaction's pages once later write transactions commit
    let started = Instant::now();
    for i in 0.. {
        put(&mut p, &leader, &cap, "/kockpit-test/nudge", format!("{i}").as_bytes()).await.expect("nudge");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let v = p.poll().await.expect("etcd view");
        if v.members.iter().all(|m| m.db_size_in_use * 2 < m.db_size) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the compaction's pages are not freed: {:?}", v.members);
    }
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn a_rolling_defrag_goes_leader_last_returns_the_free_pages_and_no_write_fails_meanwhile() {
    let lab = lab();
    rt().block_on(async {
        let t = Instant::now();
        fill_and_free(&lab, 24).await;
        eprintln!("filled and freed 24 MB in {:.1} s", t.elapsed().as_secs_f64());
        let v = EtcdProbe::new(lab.settings(), None, None).poll().await.expect("etcd view");
        let leader = v.leader().expect("a leader").name.clone();
        let before: u64 = v.members.iter().map(|m| m.db_size).sum();
        assert!(v.members.iter().all(|m| m.db_size > m.db_size_in_use + 10_000_000), "free pages to return: {:?}", v.members);
        // a client writing throughout, to the leader (defragmented last, so it blocks too)
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (stop, settings) = (stop.clone(), lab.settings());
            let member = v.leader().unwrap().clone();
            tokio::spawn(async move {
                let cap = kockpit::ops::WriteCap::acquire(false).unwrap();
                let mut p = EtcdProbe::new(settings, None, None);
                let _ = p.poll().await;
                let (mut ok, mut failed) = (0u32, vec![]);
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match put(&mut p, &member, &cap, &format!("/kockpit-test/load/{i}"), b"v").await {
                        Ok(()) => ok += 1,
                        Err(e) => failed.push(e),
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (ok, failed)
            })
        };
        let cap = kockpit::ops::WriteCap::acquire(false).expect("a writable process");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let t = Instant::now();
        let ok = kockpit::etcd::ops::defrag(lab.settings(), None, None, &cap, 1, &tx, None).await;
        let took = t.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (writes, failed) = writer.await.unwrap();
        let (steps, end) = op_events(&mut rx);
        let (done, summary) = end.expect("a result");
        eprintln!("defrag of 3 members: {:.2} s; {writes} writes, {} failed: {summary}\n{steps:#?}", took.as_secs_f64(), failed.len());
        assert!(ok && done, "{summary}\n{steps:#?}");
        assert!(summary.contains("every member healthy"), "{summary}");
        let order: Vec<&str> = steps.iter().filter_map(|s| s.split_once(": defragmented in ").map(|(n, _)| n)).collect();
        assert_eq!(order.len(), 3, "{steps:#?}");
        assert_eq!(order[2], leader, "the leader goes last: {steps:#?}");
        assert!(writes > 10 && failed.is_empty(), "{writes} writes; failed: {failed:?}");
        let after: u64 = EtcdProbe::new(lab.settings(), None, None).poll().await.expect("view").members.iter().map(|m| m.db_size).sum();
        assert!(after + 30_000_000 < before, "the free pages came back: {before} -> {after} bytes");
        let _ = lab.etcdctl(&["del", "--prefix", "/kockpit-test/"]);
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn a_defrag_is_refused_with_a_member_down_and_aborts_when_the_leader_is_killed_mid_way() {
    let lab = lab();
    rt().block_on(async {
        let cap = kockpit::ops::WriteCap::acquire(false).expect("a writable process");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let v = EtcdProbe::new(lab.settings(), None, None).poll().await.expect("etcd view");
        let leader: &'static str = match v.leader().map(|l| l.name.as_str()) {
            Some("m1") => "m1",
            Some("m2") => "m2",
            _ => "m3",
        };
        let follower: &'static str = ["m1", "m2", "m3"].into_iter().find(|m| *m != leader).unwrap();
        {
            let _restore =
                Restore { lab: &lab, steps: vec![start_etcd(follower), Box::new(|l: &Lab| l.wait_all_members(Duration::from_secs(30)))] };
            lab.ha_ok(&["stop", follower, "etcd"]);
            let ok = kockpit::etcd::ops::defrag(lab.settings(), None, None, &cap, 1, &tx, None).await;
            let (steps, end) = op_events(&mut rx);
            let (_, summary) = end.expect("a result");
            assert!(!ok && summary.starts_with("refused, nothing changed: every member must be healthy"), "{summary}");
            assert!(summary.contains(&format!("{follower} does not answer")), "{summary}");
            assert!(!steps.iter().any(|s| s.contains("defragmented in")), "{steps:?}");
        }
        // the leader killed after the first member: the next check aborts, saying what was done
        let _restore =
            Restore { lab: &lab, steps: vec![start_etcd(leader), Box::new(|l: &Lab| l.wait_all_members(Duration::from_secs(30)))] };
        let run = {
            let (settings, tx) = (lab.settings(), tx.clone());
            tokio::spawn(async move {
                let cap = kockpit::ops::WriteCap::acquire(false).unwrap();
                kockpit::etcd::ops::defrag(settings, None, None, &cap, 2, &tx, None).await
            })
        };
        let mut steps = vec![];
        let first = loop {
            match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.expect("progress").expect("open") {
                kockpit::backend::BackendEvent::Op(kockpit::ops::OpEvent::Step { text, .. }) if text.contains(": defragmented in ") => {
                    break text;
                }
                kockpit::backend::BackendEvent::Op(kockpit::ops::OpEvent::Step { text, .. }) => steps.push(text),
                kockpit::backend::BackendEvent::Op(kockpit::ops::OpEvent::Finished { summary, .. }) => panic!("finished early: {summary}"),
                _ => {}
            }
        };
        lab.ha_ok(&["stop", leader, "etcd"]);
        let ok = run.await.unwrap();
        let (_, end) = op_events(&mut rx);
        let (_, summary) = end.expect("a result");
        eprintln!("after `{first}` the leader {leader} was killed: {summary}");
        assert!(!ok && summary.starts_with("aborted before"), "{summary}");
        let first_member = first.split(':').next().unwrap();
        assert!(summary.contains(&format!("defragmented: {first_member}; not: ")), "{summary}");
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn a_snapshot_from_the_leader_is_verified_here_and_on_a_chosen_host_and_reads_as_etcdctl_reads_it() {
    let lab = lab();
    rt().block_on(async {
        let cap = kockpit::ops::WriteCap::acquire(false).expect("a writable process");
        for i in 0..50 {
            lab.etcdctl(&["put", &format!("/kockpit-test/snap/{i}"), &"v".repeat(100)]).expect("put");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("etcd.db");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let t = Instant::now();
        let local = || kockpit::ops::etcd_plan::SnapshotDest::Local(file.clone());
        let ok = kockpit::etcd::snapshot::take(lab.settings(), None, None, &cap, local(), 1, &tx).await;
        let (steps, end) = op_events(&mut rx);
        let (_, summary) = end.expect("a result");
        eprintln!("snapshot in {:.2} s: {summary}\n{steps:#?}", t.elapsed().as_secs_f64());
        assert!(ok, "{summary}\n{steps:#?}");
        assert!(steps.iter().any(|s| s.contains("etcd's SHA-256 verified")), "{steps:#?}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "owner-only: it holds every Secret");
        assert!(!dir.path().join("etcd.db.kockpit-part").exists());
        // what etcd's own tool says of the same file
        let st = kockpit::etcd::snapshot::db_status(&file).expect("status");
        let out = lab.etcdctl(&["snapshot", "status", file.to_str().unwrap(), "-w", "json"]).expect("etcdctl snapshot status");
        let js: serde_json::Value = serde_json::from_str(out.lines().rfind(|l| l.starts_with('{')).unwrap_or("{}")).unwrap();
        assert_eq!(js["hash"].as_u64(), Some(st.hash as u64), "{out}");
        assert_eq!(js["revision"].as_u64(), Some(st.revision), "{out}");
        assert_eq!(js["totalKey"].as_u64(), Some(st.total_keys), "{out}");
        assert_eq!(js["totalSize"].as_u64(), Some(st.total_size), "{out}");
        assert!(summary.contains(&format!("revision {}, {} keys", st.revision, st.total_keys)), "{summary}");
        // never over an existing file, and nothing left behind
        let ok = kockpit::etcd::snapshot::take(lab.settings(), None, None, &cap, local(), 2, &tx).await;
        let (_, end) = op_events(&mut rx);
        assert!(!ok && end.is_some_and(|(_, s)| s.contains("exists") && s.contains("does not overwrite")));

        // to a chosen host: copied over SSH, checked there, owner-only, and etcd's tool reads it there
        let plan = lab.plan();
        let m1 = plan.host("m1").expect("m1");
        let path = "/var/lib/etcd/kockpit-test-snapshot.db";
        let _ = lab.ha(&["exec", "m1", "rm", "-f", path]);
        let to_m1 = || kockpit::ops::etcd_plan::SnapshotDest::Host { name: "m1".into(), ssh_host: m1.ssh_host.clone(), path: path.into() };
        let writable = SshPool::new(PoolOptions {
            ssh_config: Some(PathBuf::from(lab.var("KOCKPIT_SSH_CONFIG"))),
            mode: AccessMode::ReadWrite,
            use_agent: false,
            ..PoolOptions::default()
        })
        .expect("lab ssh config");
        // a read-only pool copies nothing
        let ok = kockpit::etcd::snapshot::take(lab.settings(), Some(lab.remote()), None, &cap, to_m1(), 3, &tx).await;
        let (_, end) = op_events(&mut rx);
        assert!(!ok && end.as_ref().is_some_and(|(_, s)| s.contains("refused")), "{end:?}");
        assert!(lab.ha(&["exec", "m1", "test", "-e", path]).is_err(), "nothing written by a read-only pool");
        let t = Instant::now();
        let ok = kockpit::etcd::snapshot::take(lab.settings(), Some(Remote::ssh(writable.clone())), None, &cap, to_m1(), 4, &tx).await;
        let (steps, end) = op_events(&mut rx);
        let (_, summary) = end.expect("a result");
        eprintln!("snapshot to m1 in {:.2} s: {summary}\n{steps:#?}", t.elapsed().as_secs_f64());
        assert!(ok && summary.contains("m1:/var/lib/etcd/kockpit-test-snapshot.db") && summary.contains("SHA-256 matched"), "{summary}");
        assert_eq!(lab.ha(&["exec", "m1", "stat", "-c", "%a", path]).expect("stat").trim(), "600");
        let there = lab.ha(&["exec", "m1", "etcdctl", "snapshot", "status", path, "-w", "json"]).expect("etcdctl on m1");
        let js: serde_json::Value = serde_json::from_str(there.lines().rfind(|l| l.starts_with('{')).unwrap_or("{}")).unwrap();
        let (rev, keys) = (js["revision"].as_u64().expect("a revision"), js["totalKey"].as_u64().expect("a key count"));
        assert!(summary.contains(&format!("revision {rev}, {keys} keys")), "{summary} vs {there}");
        assert!(lab.ha(&["exec", "m1", "test", "-e", &format!("{path}.kockpit-part")]).is_err(), "no part file left on m1");
        let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("kockpit-etcd-snapshot-{}-", std::process::id())))
            .collect();
        assert!(left.is_empty(), "the copy on this machine is removed: {left:?}");
        // never over a host's file either
        let ok = kockpit::etcd::snapshot::take(lab.settings(), Some(Remote::ssh(writable)), None, &cap, to_m1(), 5, &tx).await;
        let (_, end) = op_events(&mut rx);
        assert!(!ok && end.is_some_and(|(_, s)| s.contains("exists")));
        let _ = lab.ha(&["exec", "m1", "rm", "-f", path]);
        let _ = lab.etcdctl(&["del", "--prefix", "/kockpit-test/"]);
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn the_snapshot_directories_are_listed_on_every_etcd_host_and_a_late_snapshot_is_a_finding() {
    let lab = lab();
    let dir = "/var/lib/etcd/kockpit-test-backups";
    let _ = lab.ha(&["exec", "m1", "rm", "-rf", dir]);
    // a backup timer's layout (KubeKey's: DIR/etcd-DATE/snapshot.db), written 30 hours ago
    lab.ha_ok(&["exec", "m1", "mkdir", "-p", &format!("{dir}/etcd-2026-12-01-10-00-00")]);
    let old = format!("{dir}/etcd-2026-12-01-10-00-00/snapshot.db");
    lab.ha_ok(&["exec", "m1", "sh", "-c", &format!("head -c 4096 /dev/urandom > {old} && touch -d '30 hours ago' {old}")]);
    let mut plan = lab.plan();
    plan.etcd.snapshot_dirs = vec![dir.to_string(), "/nonexistent/backups".to_string()];
    plan.etcd.snapshot_max_age_hours = 24;
    let s = kockpit::etcd::backups::BackupSettings::from_plan(&plan).expect("etcd hosts and directories");
    let mut m = Model::new(plan, Mode::Live, "lab");
    rt().block_on(async {
        // the read-only pool lists them: names, sizes and times only
        let listed = kockpit::etcd::backups::poll_all(&lab.remote(), &s).await;
        assert_eq!(listed.len(), 3, "{listed:?}");
        for (host, result) in listed {
            let v = result.unwrap_or_else(|e| panic!("{host}: {e}"));
            if host == "m1" {
                assert_eq!(v.files.len(), 1, "{v:?}");
                assert_eq!((v.files[0].path.as_str(), v.files[0].size), (old.as_str(), 4096));
                let age = Utc::now() - v.files[0].modified;
                assert!((29..=31).contains(&age.num_hours()), "{age:?}");
                assert_eq!(v.missing_dirs, ["/nonexistent/backups"]);
            } else {
                assert!(v.files.is_empty(), "{host}: {v:?}");
                assert_eq!(v.missing_dirs.len(), 2, "{host}: {v:?}");
            }
            m.apply(Observation {
                at: Utc::now(),
                source: format!("ssh {host}"),
                budget_ms: 900_000,
                payload: Payload::EtcdSnapshots { host, result: Ok(v) },
            });
        }
    });
    let f: Vec<_> = assess(&m, Utc::now()).findings.into_iter().filter(|f| f.subject == "snapshots").collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Warn);
    assert!(f[0].message.starts_with("etcd's newest snapshot is 1d 6h old (m1:/var/lib/etcd/kockpit-test-backups/"), "{f:?}");
    // a new one (the timer's next run): no finding
    lab.ha_ok(&["exec", "m1", "sh", "-c", &format!("mkdir -p {dir}/etcd-new && head -c 100 /dev/urandom > {dir}/etcd-new/snapshot.db")]);
    rt().block_on(async {
        for (host, result) in kockpit::etcd::backups::poll_all(&lab.remote(), &s).await {
            m.apply(Observation {
                at: Utc::now(),
                source: format!("ssh {host}"),
                budget_ms: 900_000,
                payload: Payload::EtcdSnapshots { host, result },
            });
        }
    });
    let f: Vec<_> = assess(&m, Utc::now()).findings.into_iter().filter(|f| f.subject == "snapshots").collect();
    assert!(f.is_empty(), "{f:?}");
    let _ = lab.ha(&["exec", "m1", "rm", "-rf", dir]);
}
