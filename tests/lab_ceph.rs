//! The Ceph probe and the noout operation against the real Ceph 16 of `tests/lab/ceph` (1 mon, 1 mgr,
//! 3 memstore OSDs on 127.0.0.1), through kockpit's local transport. Faults are real (an OSD stopped,
//! the only mon stopped) and undone by Drop guards.
//!
//! The tests are `#[ignore]`d; run as root: `cargo test --test lab_ceph -- --include-ignored --test-threads=1`.
//! Without the lab (not root, no Ceph packages) they fail, with the reason.

#[path = "common/lab.rs"]
mod harness;
#[path = "fixtures/kube/kit.rs"]
mod kit;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use kockpit::backend::BackendEvent;
use kockpit::ceph::{self, CephAccess, CephSettings};
use kockpit::inventory::Plan;
use kockpit::model::{CephHealth, CephView, Mode, Model, Observation, PanelId, Payload, Severity, assess};
use kockpit::ops::{OpEvent, WriteCap};
use kockpit::transport::Remote;
use tokio::sync::mpsc;

static LAB_LOCK: Mutex<()> = Mutex::new(());

struct Lab {
    script: PathBuf,
    env: HashMap<String, String>,
    _lock: MutexGuard<'static, ()>,
}

/// Bring the Ceph lab up (idempotent: also heals what an earlier run left stopped) and load its env.
fn lab() -> Lab {
    let lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let script = harness::script("ceph");
    let env = harness::up(&script, Duration::from_secs(600)).unwrap_or_else(|why| harness::cannot_run("the Ceph lab", &why));
    let lab = Lab { script, env, _lock: lock };
    // an earlier run that died half-way may have left noout set
    let _ = lab.ceph(&["osd", "unset", "noout"]);
    lab
}

impl Lab {
    fn lab(&self, args: &[&str]) -> Result<String, String> {
        harness::run_bounded(&self.script, args, Duration::from_secs(120))
    }
    fn ceph(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["ceph"];
        full.extend_from_slice(args);
        self.lab(&full)
    }
    /// A plan of one master whose `[ceph]` section is this lab through the local ceph CLI, with an SSH
    /// config that does not exist (Ceph must not need SSH); `access` adds lines to `[access]`.
    fn local_plan(&self, name: &str, connect_timeout_secs: u32, access: &str) -> Plan {
        let conf = self.env.get("KOCKPIT_CEPH_CONF").cloned().expect("KOCKPIT_CEPH_CONF");
        let tmp = tempfile::Builder::new().prefix(&format!("kockpit-{name}-")).tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("plan.toml");
        std::fs::write(
            &path,
            format!(
                "[cluster]\nname = \"{name}\"\n[topology]\nload_balancer = \"none\"\n\
                 [access]\nssh_config = \"{}\"\n{access}\
                 [ceph]\nvia = \"local\"\nconf = \"{conf}\"\nconnect_timeout_secs = {connect_timeout_secs}\ninterval_secs = 1\n\
                 [[hosts]]\nname = \"m1\"\naddress = \"10.255.0.21\"\nroles = [\"master\"]\n",
                dir.join("no-such-ssh-config").display()
            ),
        )
        .unwrap();
        let plan = Plan::load(&path).unwrap_or_else(|e| panic!("the plan with [ceph]: {e}"));
        drop(tmp);
        plan
    }
    fn settings(&self) -> CephSettings {
        let conf = self.env.get("KOCKPIT_CEPH_CONF").cloned().expect("KOCKPIT_CEPH_CONF");
        CephSettings { interval: Duration::from_millis(500), ..CephSettings::new("localhost", CephAccess::Direct { conf: Some(conf) }) }
    }
    /// Back to HEALTH_OK with every PG clean (the lab's `up` waits for exactly that, and repairs).
    fn heal(&self) {
        if let Err(e) = harness::run_bounded(&self.script, &["up"], Duration::from_secs(600)) {
            eprintln!("restore: tests/lab/ceph up: {e}");
        }
    }
}

struct Restore<'a> {
    lab: &'a Lab,
    steps: Vec<Vec<&'static str>>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for s in &self.steps {
            if let Err(e) = self.lab.lab(s) {
                eprintln!("restore: tests/lab/ceph {}: {e}", s.join(" "));
            }
        }
        self.lab.heal();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Probe until `pred` holds, feeding a model as the app does.
async fn until(
    lab_plan: &Plan,
    remote: &Remote,
    s: &CephSettings,
    limit: Duration,
    what: &str,
    pred: impl Fn(&CephView) -> bool,
) -> (CephView, Model) {
    let mut model = Model::new(lab_plan.clone(), Mode::ReadOnly, "ceph-lab");
    let started = Instant::now();
    loop {
        let r = ceph::probe(remote, s).await;
        model.apply(Observation { at: Utc::now(), source: s.source_label(remote), budget_ms: 5000, payload: Payload::Ceph(r.clone()) });
        if let Ok(v) = &r
            && pred(v)
        {
            return (v.clone(), model);
        }
        if started.elapsed() > limit {
            panic!("timed out after {}s waiting for: {what}; last: {r:#?}", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn plan() -> Plan {
    Plan::demo()
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn health_ok_is_shown() {
    let lab = lab();
    rt().block_on(async {
        let remote = Remote::local(true);
        let s = lab.settings();
        let t = Instant::now();
        let v = ceph::probe(&remote, &s).await.expect("ceph view");
        eprintln!("one probe: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(v.health, CephHealth::Ok, "{v:#?}");
        assert!(v.checks.is_empty());
        assert_eq!((v.mons, v.mons_in_quorum, v.osds, v.osds_up, v.osds_in), (1, 1, 3, 3, 3));
        assert!(v.pgs_total() > 0 && v.pgs_clean() == v.pgs_total(), "{:?}", v.pgs_by_state);
        assert_eq!(v.bytes_total, 3 << 30, "3 memstore OSDs of 1 GiB");
        assert!(v.flags.is_empty(), "{:?}", v.flags);
        assert_eq!(v.osd_hosts.len(), 1, "every OSD on this machine's host bucket: {:?}", v.osd_hosts);
        // the same through the spawned probe, as the live backend runs it
        let (tx, mut rx) = mpsc::channel(8);
        let task = ceph::spawn_probe(s, remote, tx);
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(BackendEvent::Obs(Observation { payload: Payload::Ceph(Ok(v)), source, .. }))) => {
                assert_eq!(v.health, CephHealth::Ok);
                assert_eq!(source, "ceph local");
            }
            other => panic!("no Ceph observation: {other:?}"),
        }
        drop(rx);
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn osd_down_and_degraded_pgs_are_shown() {
    let lab = lab();
    let _restore = Restore { lab: &lab, steps: vec![vec!["start-osd", "1"]] };
    lab.lab(&["stop-osd", "1"]).unwrap();
    let t = Instant::now();
    rt().block_on(async {
        let (v, model) = until(
            &plan(),
            &Remote::local(true),
            &lab.settings(),
            Duration::from_secs(60),
            "OSD_DOWN and PG_DEGRADED, with degraded PGs",
            |v| {
                // the health check and the PG map come from one `ceph status`, but the PG map can still read
                // `peering` for a moment after PG_DEGRADED is raised: wait for both
                v.checks.iter().any(|c| c.code == "OSD_DOWN")
                    && v.checks.iter().any(|c| c.code == "PG_DEGRADED")
                    && v.pgs_by_state.iter().any(|(s, _)| s.contains("degraded"))
            },
        )
        .await;
        eprintln!("OSD_DOWN + PG_DEGRADED shown {:.1}s after the stop", t.elapsed().as_secs_f64());
        assert_eq!(v.health, CephHealth::Warn);
        assert_eq!((v.osds, v.osds_up), (3, 2));
        let down = v.checks.iter().find(|c| c.code == "OSD_DOWN").unwrap();
        assert!(down.summary.contains("osd.1") && down.summary.contains("is down"), "the detail line: {}", down.summary);
        assert!(v.pgs_by_state.iter().any(|(s, _)| s.contains("degraded")), "{:?}", v.pgs_by_state);
        assert!(v.pgs_clean() < v.pgs_total());
        let a = assess(&model, Utc::now());
        assert!(
            a.findings.iter().any(|f| f.panel == PanelId::Ceph && f.severity == Severity::Warn && f.message.starts_with("OSD_DOWN")),
            "{:#?}",
            a.findings
        );
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn noout_through_the_operation() {
    let lab = lab();
    let _restore = Restore { lab: &lab, steps: vec![vec!["ceph", "osd", "unset", "noout"]] };
    let cap = WriteCap::acquire(false).unwrap();
    rt().block_on(async {
        let s = lab.settings();
        // a read-only process cannot: the local transport refuses writes
        let (tx, mut rx) = mpsc::channel(64);
        let e = ceph::set_noout(&Remote::local(true), &cap, &s, true, 7, Duration::from_secs(5), &tx).await.unwrap_err();
        assert!(e.contains("read-only"), "{e}");
        assert!(matches!(rx.recv().await, Some(BackendEvent::Op(OpEvent::Finished { id: 7, ok: false, .. }))));

        let rw = Remote::local(false);
        let summary = ceph::set_noout(&rw, &cap, &s, true, 8, Duration::from_secs(30), &tx).await.expect("set noout");
        assert!(summary.contains("verified"), "{summary}");
        let mut steps = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            if let BackendEvent::Op(ev) = ev {
                steps.push(ev);
            }
        }
        assert!(
            matches!(steps.first(), Some(OpEvent::Step { id: 8, ok: true, text }) if text.starts_with("ceph osd set noout")),
            "{steps:?}"
        );
        assert!(matches!(steps.last(), Some(OpEvent::Finished { id: 8, ok: true, .. })), "{steps:?}");
        let v = ceph::probe(&Remote::local(true), &s).await.unwrap();
        assert_eq!(v.flags, ["noout"]);
        assert!(v.checks.iter().any(|c| c.code == "OSDMAP_FLAGS" && c.summary.contains("noout")), "{:?}", v.checks);
        // the plan now refuses to set it twice and offers to unset it
        let mut m = Model::new(plan(), Mode::Live, "ceph-lab");
        m.apply(Observation { at: Utc::now(), source: "ceph local".into(), budget_ms: 5000, payload: Payload::Ceph(Ok(v)) });
        assert!(!kockpit::ops::plan(&kockpit::ops::OpRequest::SetNoout { on: true }, &m).allowed());
        assert!(kockpit::ops::plan(&kockpit::ops::OpRequest::SetNoout { on: false }, &m).allowed());

        ceph::set_noout(&rw, &cap, &s, false, 9, Duration::from_secs(30), &tx).await.expect("unset noout");
        let v = ceph::probe(&Remote::local(true), &s).await.unwrap();
        assert!(v.flags.is_empty(), "{:?}", v.flags);
    });
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn mon_without_quorum_is_a_timeout_not_a_hang() {
    let lab = lab();
    let _restore = Restore { lab: &lab, steps: vec![vec!["start-mon"]] };
    lab.lab(&["stop-mon"]).unwrap();
    rt().block_on(async {
        let s = CephSettings { connect_timeout: Duration::from_secs(2), ..lab.settings() };
        let t = Instant::now();
        let e = ceph::probe(&Remote::local(true), &s).await.unwrap_err();
        let took = t.elapsed();
        eprintln!("no quorum: {e:?} after {:.2}s", took.as_secs_f64());
        assert!(e.contains("no answer from the monitors within 2s"), "{e}");
        assert!(took <= s.deadline() + Duration::from_secs(1), "took {took:?}, deadline {:?}", s.deadline());
        // the model says so in words and keeps going
        let mut m = Model::new(plan(), Mode::ReadOnly, "ceph-lab");
        m.apply(Observation { at: Utc::now(), source: "ceph local".into(), budget_ms: 5000, payload: Payload::Ceph(Err(e.clone())) });
        assert_eq!(m.ceph.error.as_ref().map(|x| x.reason.as_str()), Some(e.as_str()));
    });
}

/// The live backend as `kockpit` runs it: the plan's `[ceph]` section (the ceph CLI on this machine)
/// feeds the Ceph panel, and noout goes through `Command::Execute`.
#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn the_plans_ceph_section_feeds_the_live_backend_and_noout_goes_through_it() {
    let lab = lab();
    let _restore = Restore { lab: &lab, steps: vec![vec!["ceph", "osd", "unset", "noout"]] };
    // no SSH here (an SSH config that does not exist): Ceph alone must still work
    let plan = lab.local_plan("ceph-live", 3, "");
    rt().block_on(async {
        let mut h = kockpit::live::stores::spawn(&plan, kockpit::probe::LiveSettings::new(false));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut next = async |what: &str| match tokio::time::timeout_at(deadline, h.events.recv()).await {
            Ok(Some(ev)) => ev,
            other => panic!("waiting for {what}: {other:?}"),
        };
        loop {
            if let BackendEvent::Obs(Observation { source, payload: Payload::Ceph(r), .. }) = next("a Ceph observation").await {
                let v = r.expect("Ceph through the plan's [ceph] section");
                assert_eq!(v.health, CephHealth::Ok);
                assert_eq!(source, "ceph local");
                break;
            }
        }
        let cap = WriteCap::acquire(false).unwrap();
        h.commands
            .send(kockpit::backend::Command::Execute { id: 21, request: kockpit::ops::OpRequest::SetNoout { on: true }, cap })
            .unwrap();
        let mut steps = Vec::new();
        let (ok, summary) = loop {
            match next("noout to finish").await {
                BackendEvent::Op(OpEvent::Step { id: 21, text, .. }) => steps.push(text),
                BackendEvent::Op(OpEvent::Finished { id: 21, ok, summary }) => break (ok, summary),
                _ => {}
            }
        };
        assert!(ok && summary.contains("verified"), "{summary}: {steps:?}");
        loop {
            if let BackendEvent::Obs(Observation { payload: Payload::Ceph(Ok(v)), .. }) = next("the flag in the panel").await
                && v.flags.iter().any(|f| f == "noout")
            {
                break;
            }
        }
    });
    // a read-only process: the same plan, the same command, refused below the UI
    rt().block_on(async {
        let mut h = kockpit::live::stores::spawn(&plan, kockpit::probe::LiveSettings::new(true));
        let cap = WriteCap::acquire(false).unwrap(); // only a writable test process can even build the command
        h.commands
            .send(kockpit::backend::Command::Execute { id: 22, request: kockpit::ops::OpRequest::SetNoout { on: false }, cap })
            .unwrap();
        let summary = loop {
            if let BackendEvent::Op(OpEvent::Finished { id: 22, ok, summary }) =
                tokio::time::timeout(Duration::from_secs(20), h.events.recv()).await.expect("an answer").expect("open")
            {
                assert!(!ok);
                break summary;
            }
        };
        assert!(summary.contains("read-only"), "{summary}");
    });
    let out = lab.ceph(&["osd", "dump", "-f", "json"]).expect("osd dump");
    assert!(out.contains("noout"), "the read-only attempt changed nothing: noout is still set");
}

/// Rook's CephCluster and the ceph CLI at once, as `kockpit` runs a cluster whose plan has a `[ceph]`
/// section and whose API serves Rook's CRD: the real control plane of `tests/lab/k8s` (the test plays
/// the Rook operator, writing the CephCluster status) and the real Ceph through the CLI. The CLI's view
/// is shown while it answers; with the mon stopped, Rook's newer report stands in, and the CLI's
/// failure stays visible.
#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn rook_beside_the_ceph_cli_in_the_live_backend_and_standing_in_when_the_cli_fails() {
    let lab = lab();
    let cp = match kit::control_plane() {
        Ok(cp) => cp,
        Err(e) => harness::cannot_run("the control plane", &e),
    };
    let label = "ceph-rook";
    let rt = rt();
    let admin = rt.block_on(cp.admin());
    const CRD: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/cephclusters.ceph.rook.io";
    /// Delete the CRD (and with it the CephCluster) and wait until it is gone: the later lab tests
    /// expect an API without Rook.
    struct Cleanup<'a>(&'a tokio::runtime::Runtime, &'a kit::ControlPlane);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            self.0.block_on(async {
                let admin = self.1.admin().await;
                let _ = kit::delete(&admin, CRD).await;
                let t = Instant::now();
                while kit::req(&admin, http::Method::GET, CRD, None).await.is_ok() && t.elapsed() < Duration::from_secs(60) {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
            kit::cleanup(self.1, "ceph-rook", true);
        }
    }
    let _cleanup = Cleanup(&rt, &cp);
    let _mon = Restore { lab: &lab, steps: vec![vec!["start-mon"]] };
    let patch_status = |health: &str| {
        let checked = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        serde_json::json!({"status": {"phase": "Ready", "ceph": {
            "health": health, "lastChecked": checked,
            "details": {"MON_DISK_LOW": {"severity": "HEALTH_WARN", "message": "mon a is low on available space"}},
            "capacity": {"bytesAvailable": 600, "bytesTotal": 1000, "bytesUsed": 400, "lastUpdated": checked}}}})
    };
    const CC: &str = "/apis/ceph.rook.io/v1/namespaces/kockpit-ceph-rook/cephclusters/rook-ceph";
    rt.block_on(async {
        // unlabelled: the cleanup deletes it by name and waits until it is gone
        kit::create_cephcluster_crd(&admin, None).await.unwrap();
        kit::create_namespace(&admin, "kockpit-ceph-rook", label).await.unwrap();
        kit::create(
            &admin,
            "/apis/ceph.rook.io/v1/namespaces/kockpit-ceph-rook/cephclusters",
            serde_json::json!({"apiVersion": "ceph.rook.io/v1", "kind": "CephCluster", "metadata": {"name": "rook-ceph"},
                   "spec": {"mon": {"count": 1}}}),
        )
        .await
        .unwrap();
        kit::req(&admin, http::Method::PATCH, &format!("{CC}/status"), Some(patch_status("HEALTH_WARN"))).await.unwrap();
    });

    let plan = lab.local_plan("ceph-rook", 2, &format!("kubeconfig = \"{}\"\n", cp.kockpit_kubeconfig().display()));
    rt.block_on(async {
        let mut h = kockpit::live::spawn(&plan, true, None).expect("the live backend");
        let mut m = Model::new(plan.clone(), Mode::Live, "ceph-rook");
        let mut until = async |m: &mut Model, secs: u64, what: &str, done: &dyn Fn(&Model) -> bool| {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
            while !done(m) {
                match tokio::time::timeout_at(deadline, h.events.recv()).await {
                    Ok(Some(BackendEvent::Obs(o))) => {
                        m.apply(o);
                    }
                    Ok(Some(_)) => {}
                    other => panic!("waiting for {what}: {other:?}; ceph {:?}; rook {:?}", m.ceph, m.rook),
                }
            }
        };
        until(&mut m, 30, "both Ceph sources", &|m| m.ceph.data.is_some() && m.rook.data.is_some()).await;
        assert_eq!(m.ceph.source, "ceph local");
        assert_eq!(m.rook.source, "kube rook");
        assert!(std::ptr::eq(m.ceph_shown().unwrap(), &m.ceph), "the CLI's view is shown while it answers");
        assert_eq!(m.ceph_view().unwrap().osds, 3, "the lab's three OSDs, from the CLI");
        let rook = m.rook.data.as_ref().unwrap();
        assert_eq!((rook.health, rook.checks[0].code.as_str()), (CephHealth::Warn, "MON_DISK_LOW"), "Rook's own report");
        let now = Utc::now();
        let names: Vec<String> = m.sources(now).into_iter().filter(|(p, _, _)| *p == PanelId::Ceph).map(|(_, n, _)| n).collect();
        assert_eq!(names, ["ceph", "rook"], "both sources count for the panel");

        // the only mon stops: the CLI fails (a timeout, not a hang); Rook then reports again
        lab.lab(&["stop-mon"]).unwrap();
        until(&mut m, 20, "the CLI's failure", &|m| m.ceph.error.is_some()).await;
        let why = m.ceph.error.as_ref().unwrap().reason.clone();
        assert!(why.contains("no answer from the monitors"), "{why}");
        tokio::time::sleep(Duration::from_millis(1100)).await; // lastChecked has whole seconds
        kit::req(&cp.admin().await, http::Method::PATCH, &format!("{CC}/status"), Some(patch_status("HEALTH_ERR"))).await.unwrap();
        until(&mut m, 20, "Rook's newer report standing in", &|m| m.ceph_shown().is_some_and(|s| std::ptr::eq(s, &m.rook))).await;
        assert_eq!(m.ceph_view().unwrap().health, CephHealth::Err);
        let (f, _) = m.panel_freshness(PanelId::Ceph, Utc::now());
        assert!(matches!(f, kockpit::model::Freshness::Failed { .. }), "the CLI's failure still shows: {f:?}");
        assert!(
            m.timeline.iter().any(|e| e.text.starts_with("ceph HEALTH_OK -> HEALTH_ERR")),
            "the change of the view shown is on the timeline"
        );
    });
}
