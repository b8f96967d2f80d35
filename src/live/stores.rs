//! The live backend part for the cluster's stores behind the HA front: etcd members, Ceph and
//! the certificates, and the operations on them (rolling certificate renewal, Ceph `noout`).
//!
//! Everything goes over one SSH pool (read-only in a read-only process): the probes' constant
//! scripts on persistent shells, etcd through direct-tcpip tunnels of the same connections where the
//! client port cannot be reached directly. Ceph is asked only when the plan has a `[ceph]` section;
//! without one the Ceph panel shows Rook's CephCluster view from the Kubernetes side.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::renew::RenewSettings;
use crate::backend::{BackendEvent, BackendHandle, Command};
use crate::ceph::{CephAccess, CephSettings};
use crate::certs::{CertsSettings, Remote};
use crate::etcd::{EtcdSettings, PoolTunnel};
use crate::inventory::{CephVia, Plan};
use crate::ops::etcd_plan::SnapshotDest;
use crate::ops::{HostAction, OpEvent, OpRequest};
use crate::probe::LiveSettings;
use crate::transport::ssh::SshPool;

/// Ceph settings from the plan's `[ceph]` section, and whether the commands run on this machine.
pub fn ceph_settings(plan: &Plan) -> Option<(CephSettings, bool)> {
    let c = plan.ceph.as_ref()?;
    let conf = (!c.conf.is_empty()).then(|| c.conf.clone());
    let access = match c.via {
        CephVia::Ssh | CephVia::Local => CephAccess::Direct { conf },
        CephVia::Rook => CephAccess::Rook { namespace: c.namespace.clone(), deployment: c.toolbox.clone() },
    };
    let host = if c.via == CephVia::Local { "localhost".to_string() } else { c.ssh_host(plan)? };
    let mut s = CephSettings::new(host, access);
    s.connect_timeout = Duration::from_secs(c.connect_timeout_secs.max(1));
    s.interval = Duration::from_secs(c.interval_secs.max(1));
    Some((s, c.via == CephVia::Local))
}

/// What an etcd operation runs with: the plan's etcd settings, and the SSH pool's connection (the
/// credentials are read over it) and tunnel; or why there is none.
fn etcd_access(
    plan: &Plan,
    pool: &Option<SshPool>,
    remote: &Option<Remote>,
) -> Result<(EtcdSettings, Remote, Arc<dyn crate::etcd::Tunnel>), &'static str> {
    match (pool, remote) {
        (Some(_), Some(_)) if plan.etcd_hosts().next().is_none() => Err("etcd: this cluster's plan names no etcd host"),
        (Some(pool), Some(remote)) => Ok((EtcdSettings::from_plan(plan), remote.clone(), Arc::new(PoolTunnel(pool.clone())))),
        _ => Err("etcd: its credentials are read over SSH, and the SSH pool could not start"),
    }
}

/// Start the etcd, Ceph and certificate probes for `plan`; the tasks stop when the handle is dropped.
pub fn spawn(plan: &Plan, settings: LiveSettings) -> BackendHandle {
    let plan = plan.clone();
    BackendHandle::spawn(|events, commands| supervise(plan, settings, events, commands))
}

async fn supervise(plan: Plan, settings: LiveSettings, tx: mpsc::Sender<BackendEvent>, mut cmds: mpsc::UnboundedReceiver<Command>) {
    let readonly = settings.readonly || plan.access.readonly;
    let pool = match SshPool::load(settings.pool_options(&plan)).await {
        Ok(p) => Some(p),
        Err(e) => {
            // the HA-front part reports the same error on every host; etcd and certificates need SSH
            tracing::error!("etcd/certificate probes: {e}");
            None
        }
    };
    let remote = pool.clone().map(Remote::ssh);
    let ceph = ceph_settings(&plan).map(|(s, local)| {
        let r = if local { Some(Remote::local(readonly)) } else { remote.clone() };
        (s, r)
    });
    let mut tasks = JoinSet::new();
    if let (Some(pool), Some(remote)) = (&pool, &remote) {
        if plan.etcd_hosts().next().is_some() {
            let tunnel: Arc<dyn crate::etcd::Tunnel> = Arc::new(PoolTunnel(pool.clone()));
            tasks.spawn(crate::etcd::run_probe(EtcdSettings::from_plan(&plan), Some(remote.clone()), Some(tunnel), tx.clone()));
        }
        tasks.spawn(crate::certs::run_probe(CertsSettings::from_plan(&plan), remote.clone(), tx.clone()));
        if let Some(s) = crate::etcd::backups::BackupSettings::from_plan(&plan) {
            tasks.spawn(crate::etcd::backups::run_probe(s, remote.clone(), tx.clone()));
        }
    }
    if let Some((s, Some(r))) = &ceph {
        tasks.spawn(crate::ceph::run_probe(s.clone(), r.clone(), tx.clone()));
    }
    // running renewals and defrags, by operation id: the sender stops them at the next master or member
    let mut running: HashMap<u64, watch::Sender<bool>> = HashMap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<u64>();
    // a drill's etcd client, while it writes
    let mut writer: Option<crate::etcd::writer::Running> = None;
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            Some(id) = done_rx.recv() => { running.remove(&id); }
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { return };
                let done = |id: u64, ok: bool, summary: String| vec![BackendEvent::Op(OpEvent::Finished { id, ok, summary })];
                let refuse = |id: u64, summary: String| done(id, false, summary);
                let evs = match cmd {
                    Command::Execute { id, request: OpRequest::RenewCerts { masters }, cap } => match &remote {
                        None => refuse(id, "certificate renewal needs SSH to the masters, and the SSH pool could not start".into()),
                        Some(remote) => {
                            let (stop_tx, stop_rx) = watch::channel(false);
                            running.insert(id, stop_tx);
                            let (remote, tx, done) = (remote.clone(), tx.clone(), done_tx.clone());
                            let s = RenewSettings::from_plan(&plan);
                            tokio::spawn(async move {
                                let _ = super::renew::renew(&remote, &cap, &s, &masters, id, &tx, Some(stop_rx)).await;
                                let _ = done.send(id);
                            });
                            vec![]
                        }
                    },
                    Command::Execute { id, request: OpRequest::SetNoout { on }, cap } => match &ceph {
                        None => refuse(id, "noout: this cluster's plan has no [ceph] section, so kockpit cannot reach the ceph CLI".into()),
                        Some((_, None)) => refuse(id, "noout: the SSH pool could not start".into()),
                        Some((s, Some(r))) => {
                            let (s, r, tx) = (s.clone(), r.clone(), tx.clone());
                            tokio::spawn(async move {
                                let _ = crate::ceph::set_noout(&r, &cap, &s, on, id, Duration::from_secs(30), &tx).await;
                            });
                            vec![]
                        }
                    },
                    Command::Execute {
                        id,
                        request:
                            request @ (OpRequest::EtcdMoveLeader { .. }
                            | OpRequest::EtcdSnapshot { .. }
                            | OpRequest::EtcdDisarm
                            | OpRequest::EtcdDefrag),
                        cap,
                    } => match etcd_access(&plan, &pool, &remote) {
                        Err(why) => refuse(id, why.into()),
                        Ok((s, remote, tunnel)) => {
                            // a defrag stops before its next member when cancelled
                            let stop = matches!(request, OpRequest::EtcdDefrag).then(|| {
                                let (stop_tx, stop_rx) = watch::channel(false);
                                running.insert(id, stop_tx);
                                stop_rx
                            });
                            let (tx, done) = (tx.clone(), done_tx.clone());
                            let dest = match &request {
                                OpRequest::EtcdSnapshot { to } => SnapshotDest::parse(to, &plan),
                                _ => Err(String::new()),
                            };
                            tokio::spawn(async move {
                                let (remote, tunnel) = (Some(remote), Some(tunnel));
                                match request {
                                    OpRequest::EtcdMoveLeader { to } => {
                                        crate::etcd::ops::move_leader(s, remote, tunnel, &cap, &to, id, &tx).await;
                                    }
                                    OpRequest::EtcdSnapshot { .. } => match dest {
                                        Ok(dest) => {
                                            crate::etcd::snapshot::take(s, remote, tunnel, &cap, dest, id, &tx).await;
                                        }
                                        Err(why) => {
                                            let _ = tx.send(BackendEvent::Op(OpEvent::Finished { id, ok: false, summary: format!("refused: {why}") })).await;
                                        }
                                    },
                                    OpRequest::EtcdDisarm => {
                                        crate::etcd::ops::disarm(s, remote, tunnel, &cap, id, &tx).await;
                                    }
                                    _ => {
                                        crate::etcd::ops::defrag(s, remote, tunnel, &cap, id, &tx, stop).await;
                                    }
                                }
                                let _ = done.send(id);
                            });
                            vec![]
                        }
                    },
                    Command::Host { id, action: action @ HostAction::EtcdWrites { on: true }, cap } => match (&writer, etcd_access(&plan, &pool, &remote)) {
                        _ if !plan.access.allow_drills => refuse(
                            id,
                            "this cluster's plan does not allow drills (`allow_drills = true` under [access]): no etcd client is started".into(),
                        ),
                        (Some(_), _) => done(id, true, "the etcd client is writing already".into()),
                        (None, Err(why)) => refuse(id, why.into()),
                        (None, Ok((s, remote, tunnel))) => {
                            let (stop_tx, stop_rx) = watch::channel(false);
                            let task = tokio::spawn(crate::etcd::writer::run(s, Some(remote), Some(tunnel), cap, tx.clone(), stop_rx));
                            writer = Some((stop_tx, task));
                            done(id, true, action.describe())
                        }
                    },
                    Command::Host { id, action: HostAction::EtcdWrites { on: false }, .. } => match writer.take() {
                        None => done(id, true, "no etcd client was writing".into()),
                        Some((stop, task)) => {
                            let _ = stop.send(true);
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                let (ok, summary) = match task.await {
                                    Err(e) => (false, format!("the etcd client ended badly: {e}")),
                                    Ok((c, deleted)) => {
                                        let said = format!("the etcd client stopped: {} write(s) (slowest {:.0} ms), {} failed", c.ok, c.slowest_ms, c.failed);
                                        match deleted {
                                            Ok(()) => (true, format!("{said}; its keys deleted")),
                                            Err(e) => (false, format!("{said}; its keys under {} NOT deleted: {e}", crate::ops::ETCD_WRITE_PREFIX)),
                                        }
                                    }
                                };
                                let _ = tx.send(BackendEvent::Op(OpEvent::Finished { id, ok, summary })).await;
                            });
                            vec![]
                        }
                    },
                    Command::Cancel { id } => {
                        if let Some(stop) = running.get(&id) {
                            let _ = stop.send(true);
                        }
                        vec![]
                    }
                    Command::Logs(crate::logs::spec::LogRequest::Close { .. }) => vec![],
                    other => crate::backend::unavailable(other, "not carried out by the etcd/Ceph/certificate part"),
                };
                for ev in evs {
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(extra: &str) -> Plan {
        let src = format!(
            "[cluster]\nname = \"t\"\n[vip]\naddress = \"10.0.0.100\"\n{extra}\n\
             [[hosts]]\nname = \"lb1\"\naddress = \"10.0.0.11\"\nroles = [\"lb\"]\n\
             [[hosts]]\nname = \"m1\"\naddress = \"10.0.0.21\"\nroles = [\"master\", \"etcd\"]\nssh_host = \"m1.example\"\n"
        );
        Plan::parse_toml(std::path::Path::new("plan.toml"), &src).expect("plan")
    }

    #[test]
    fn ceph_settings_follow_the_plan() {
        assert!(ceph_settings(&plan("")).is_none(), "no [ceph] section: no direct Ceph probe");
        let (s, local) = ceph_settings(&plan("[ceph]\nconf = \"/etc/ceph/c.conf\"\nconnect_timeout_secs = 3\n")).unwrap();
        assert!(!local);
        assert_eq!(s.host, "m1.example", "the first master, by its SSH alias");
        assert_eq!(s.access, CephAccess::Direct { conf: Some("/etc/ceph/c.conf".into()) });
        assert_eq!(s.connect_timeout, Duration::from_secs(3));
        assert!(s.probe_command().contains("'3' 'direct' '/etc/ceph/c.conf'"), "{}", s.probe_command());
        let (s, _) = ceph_settings(&plan("[ceph]\nvia = \"rook\"\nhost = \"lb1\"\n")).unwrap();
        assert_eq!(
            (s.host.as_str(), s.access.clone()),
            ("lb1", CephAccess::Rook { namespace: "rook-ceph".into(), deployment: "rook-ceph-tools".into() })
        );
        let (_, local) = ceph_settings(&plan("[ceph]\nvia = \"local\"\n")).unwrap();
        assert!(local);
    }

    #[test]
    fn renewal_commands_follow_the_plan() {
        let s = RenewSettings::from_plan(&plan(""));
        assert_eq!(s.tool.command(), "'kubeadm' certs renew all");
        assert!(s.restart_command.contains("crictl"));
        assert_eq!(s.wait_healthy, Duration::from_secs(180));
        let s = RenewSettings::from_plan(&plan(
            "[certs]\nrenew_command = \"/usr/local/bin/kk-renew.sh\"\nrestart_command = \"systemctl restart kubelet\"\nwait_healthy_secs = 60\n",
        ));
        assert_eq!(s.tool.command(), "/usr/local/bin/kk-renew.sh");
        assert_eq!(s.restart_command, "systemctl restart kubelet");
        assert_eq!(s.wait_healthy, Duration::from_secs(60));
    }

    #[tokio::test]
    async fn noout_without_a_ceph_section_is_refused_with_the_reason() {
        let mut h = spawn(&plan(""), LiveSettings { ssh_config: Some("/nonexistent/ssh_config".into()), ..LiveSettings::new(false) });
        let cap = crate::ops::WriteCap::acquire(false).unwrap();
        h.commands.send(Command::Execute { id: 4, request: OpRequest::SetNoout { on: true }, cap }).unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), h.events.recv()).await.expect("an answer").expect("open") {
                BackendEvent::Op(OpEvent::Finished { id: 4, ok, summary }) => {
                    assert!(!ok && summary.contains("no [ceph] section"), "{summary}");
                    break;
                }
                _ => continue,
            }
        }
    }
}
