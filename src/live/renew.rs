//! Rolling certificate renewal ([`crate::ops::OpRequest::RenewCerts`]), one master at a time:
//!
//! 1. back up: `cp -a /etc/kubernetes/pki /etc/kubernetes/pki.bak-<ts>` and every
//!    `/etc/kubernetes/*.conf` to `*.conf.bak-<ts>`;
//! 2. renew: `kubeadm certs renew all` (the binary configurable), or a configured command (`kk ...`),
//!    then verify that every renewable certificate has a new serial and a later not-after;
//! 3. restart the control-plane components (a configured command: crictl for kubeadm's static pods,
//!    the Kubernetes components only for a systemd etcd, the lab's own stop/start in the lab);
//! 4. wait until that master is healthy again: its apiserver answers /readyz, it serves the renewed
//!    certificate (the served serial is the file's), its etcd member answers with a leader, and every
//!    haproxy sees its backend UP (checked after /readyz, so a stale UP does not count); only then go on.
//!
//! Before each master, etcd must be able to lose a member (the restart takes one away).
//!
//! The first failure stops the whole operation: the masters after it are left untouched, and the
//! failing master's step says exactly how to restore it from its backup. Steps arrive as
//! [`OpEvent::Step`]s and end with one [`OpEvent::Finished`]; the renewed certificates are sent as
//! [`Payload::Certs`] observations as soon as each master is done.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use crate::backend::BackendEvent;
use crate::certs::{CertHost, CertLayout, Parsed, SERVED, read_files, served_cert};
use crate::etcd::{EtcdProbe, EtcdSettings};
use crate::inventory::{EtcdDeploy, Plan};
use crate::model::{Observation, Payload, ServerStatus};
use crate::ops::{OpEvent, WriteCap};
use crate::transport::Remote;
use crate::transport::ssh::sh_quote;

/// How the certificates are renewed on a master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewTool {
    /// `PATH certs renew all` (kubeadm ≥ 1.20; older ones: `alpha certs renew all`, use `Command`).
    Kubeadm { path: String },
    /// Any command run on the master, e.g. KubeKey's renewal script.
    Command(String),
}

impl RenewTool {
    pub fn command(&self) -> String {
        match self {
            RenewTool::Kubeadm { path } => format!("{} certs renew all", sh_quote(path)),
            RenewTool::Command(c) => c.clone(),
        }
    }
}

/// Restart kubeadm's static-pod control plane: stop the containers, the kubelet starts them again.
pub const RESTART_STATIC_PODS: &str = "for c in kube-apiserver kube-controller-manager kube-scheduler etcd; do \
ids=$(crictl ps -q --name \"^$c\\$\" 2>/dev/null); [ -n \"$ids\" ] && crictl stop $ids >/dev/null; done; true";
/// The same for a cluster whose etcd is a systemd service (KubeKey): etcd's own certificates are not
/// kubeadm's, so only the Kubernetes components restart.
pub const RESTART_STATIC_PODS_NOT_ETCD: &str = "for c in kube-apiserver kube-controller-manager kube-scheduler; do \
ids=$(crictl ps -q --name \"^$c\\$\" 2>/dev/null); [ -n \"$ids\" ] && crictl stop $ids >/dev/null; done; true";

/// A load balancer whose haproxy must see the master's backend UP again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbTarget {
    pub name: String,
    pub ssh_host: String,
}

#[derive(Debug, Clone)]
pub struct RenewSettings {
    /// Every master that may be renewed (the request names which, in order).
    pub masters: Vec<CertHost>,
    pub layout: CertLayout,
    pub tool: RenewTool,
    /// Run on the master after the renewal.
    pub restart_command: String,
    pub apiserver_port: u16,
    /// haproxy hosts to check; empty = no haproxy check.
    pub lbs: Vec<LbTarget>,
    pub haproxy_socket: String,
    pub haproxy_backend: String,
    /// To check the master's etcd member (stacked etcd); None = no etcd check.
    pub etcd: Option<EtcdSettings>,
    /// How long a master may take to be healthy again after the restart.
    pub wait_healthy: Duration,
    /// Per read command and per check.
    pub timeout: Duration,
    /// For the backup, the renewal and the restart commands.
    pub write_timeout: Duration,
}

impl RenewSettings {
    pub fn from_plan(plan: &Plan) -> RenewSettings {
        let certs = crate::certs::CertsSettings::from_plan(plan);
        let stacked = plan.topology.etcd == crate::inventory::EtcdTopology::Stacked;
        RenewSettings {
            masters: certs.hosts.into_iter().filter(|h| h.master).collect(),
            layout: certs.layout,
            tool: match plan.certs.renew_command.trim() {
                "" => RenewTool::Kubeadm { path: "kubeadm".into() },
                c => RenewTool::Command(c.to_string()),
            },
            restart_command: match (plan.certs.restart_command.trim(), plan.topology.etcd_deploy) {
                ("", EtcdDeploy::StaticPod) => RESTART_STATIC_PODS.into(),
                ("", EtcdDeploy::Systemd) => RESTART_STATIC_PODS_NOT_ETCD.into(),
                (c, _) => c.to_string(),
            },
            apiserver_port: certs.apiserver_port,
            lbs: plan.lbs().map(|h| LbTarget { name: h.name.clone(), ssh_host: h.ssh_host.clone() }).collect(),
            haproxy_socket: plan.lb.haproxy_socket.clone(),
            haproxy_backend: plan.lb.haproxy_backend.clone(),
            etcd: stacked.then(|| EtcdSettings::from_plan(plan)),
            wait_healthy: Duration::from_secs(if plan.certs.wait_healthy_secs == 0 { 180 } else { plan.certs.wait_healthy_secs }),
            timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(120),
        }
    }
}

/// Certificates `kubeadm certs renew all` renews (not the CAs, not the kubelet's: it rotates its own).
fn renewable(p: &Parsed) -> bool {
    !p.info.is_ca && p.info.name != "kubelet-client" && p.info.name != SERVED
}

fn backup_command(stamp: &str) -> String {
    format!(
        "set -e; cp -a /etc/kubernetes/pki /etc/kubernetes/pki.bak-{stamp}; \
         for f in /etc/kubernetes/*.conf; do [ -f \"$f\" ] && cp -a \"$f\" \"$f.bak-{stamp}\"; done; echo backed up"
    )
}

/// The exact commands that put a master back as it was before the renewal.
pub fn restore_commands(stamp: &str, restart: &str) -> String {
    format!(
        "rm -rf /etc/kubernetes/pki && cp -a /etc/kubernetes/pki.bak-{stamp} /etc/kubernetes/pki && \
         for f in /etc/kubernetes/*.conf.bak-{stamp}; do cp -a \"$f\" \"${{f%.bak-{stamp}}}\"; done && {restart}"
    )
}

struct Ctx<'a> {
    id: u64,
    tx: &'a mpsc::Sender<BackendEvent>,
}

impl Ctx<'_> {
    async fn step(&self, text: impl Into<String>, ok: bool) {
        let text = text.into();
        tracing::info!(op = self.id, ok, "{text}");
        let _ = self.tx.send(BackendEvent::Op(OpEvent::Step { id: self.id, text, ok })).await;
    }
}

/// Renew `masters` (plan names, in this order) one at a time. Sends steps and the final
/// [`OpEvent::Finished`] for operation `id` on `tx`; `cancel` (set to true) stops before the next master
/// or health check. Returns the summary; Err says where it stopped and how to restore.
pub async fn renew(
    remote: &Remote,
    cap: &WriteCap,
    s: &RenewSettings,
    masters: &[String],
    id: u64,
    tx: &mpsc::Sender<BackendEvent>,
    cancel: Option<watch::Receiver<bool>>,
) -> Result<String, String> {
    let ctx = Ctx { id, tx };
    let result = renew_all(remote, cap, s, masters, &ctx, cancel).await;
    let (ok, summary) = match &result {
        Ok(m) => (true, m.clone()),
        Err(e) => (false, e.clone()),
    };
    let _ = tx.send(BackendEvent::Op(OpEvent::Finished { id, ok, summary })).await;
    result
}

async fn renew_all(
    remote: &Remote,
    cap: &WriteCap,
    s: &RenewSettings,
    masters: &[String],
    ctx: &Ctx<'_>,
    cancel: Option<watch::Receiver<bool>>,
) -> Result<String, String> {
    if masters.is_empty() {
        return Err("no master to renew".into());
    }
    let mut hosts = Vec::new();
    for m in masters {
        hosts.push(s.masters.iter().find(|h| &h.name == m).ok_or_else(|| format!("{m} is not a master of this cluster"))?);
    }
    let cancelled = |c: &Option<watch::Receiver<bool>>| c.as_ref().is_some_and(|r| *r.borrow());
    let mut etcd = s.etcd.clone().map(|e| EtcdProbe::new(e, Some(remote.clone()), None));
    let mut done: Vec<String> = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let untouched = || {
            let rest: Vec<&str> = hosts[i + 1..].iter().map(|h| h.name.as_str()).collect();
            if rest.is_empty() { String::new() } else { format!("; untouched: {}", rest.join(", ")) }
        };
        if cancelled(&cancel) {
            let rest: Vec<&str> = hosts[i..].iter().map(|h| h.name.as_str()).collect();
            return Err(format!("cancelled before {}; renewed: {}; untouched: {}", h.name, list(&done), rest.join(", ")));
        }
        match renew_one(remote, cap, s, h, ctx, etcd.as_mut(), &cancel).await {
            Ok(()) => done.push(h.name.clone()),
            Err(e) => {
                let msg = format!("stopped at {}: {e}; renewed: {}{}", h.name, list(&done), untouched());
                ctx.step(msg.clone(), false).await;
                return Err(msg);
            }
        }
    }
    Ok(format!("renewed and restarted, one at a time: {}", done.join(", ")))
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

async fn renew_one(
    remote: &Remote,
    cap: &WriteCap,
    s: &RenewSettings,
    h: &CertHost,
    ctx: &Ctx<'_>,
    mut etcd: Option<&mut EtcdProbe>,
    cancel: &Option<watch::Receiver<bool>>,
) -> Result<(), String> {
    let m = h.name.as_str();
    // quorum first: restarting this master's etcd member must not take etcd down
    if let Some(e) = etcd.as_deref_mut() {
        match e.poll().await {
            Ok(v) if v.can_lose() < 1 => {
                return Err(format!("etcd cannot lose a member right now ({}/{} healthy): not restarting {m}", v.healthy(), v.size()));
            }
            Ok(_) => {}
            Err(err) => return Err(format!("etcd cannot be checked before restarting {m}: {err}")),
        }
    }
    let before = read_files(remote, h, s.layout, s.timeout).await.map_err(|e| format!("reading the certificates: {e}"))?;
    let before_map: BTreeMap<String, Parsed> = before.into_iter().filter(renewable).map(|p| (p.info.name.clone(), p)).collect();
    if before_map.is_empty() {
        return Err("no renewable certificate found".into());
    }
    // 1. backup
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let restore = restore_commands(&stamp, &s.restart_command);
    cap.intent(
        ctx.id,
        &format!("{m}: back up /etc/kubernetes/pki to pki.bak-{stamp}"),
        &format!("{m}: a backup may have been written; nothing else changed"),
    )
    .await?;
    let out = remote.write(cap, &h.ssh_host, &backup_command(&stamp), s.write_timeout).await.map_err(|e| format!("backup: {e}"))?;
    if !out.success() {
        return Err(format!("backup failed, nothing was changed: {}", last_line(&out.stderr)));
    }
    ctx.step(
        format!("{m}: backed up /etc/kubernetes/pki to /etc/kubernetes/pki.bak-{stamp} and the kubeconfigs to *.conf.bak-{stamp}"),
        true,
    )
    .await;
    let with_restore = |e: String| format!("{e}. To restore {m} from its backup, run on {m}: {restore}");
    // 2. renew
    cap.intent(
        ctx.id,
        &format!("{m}: `{}`", s.tool.command()),
        &format!("{m}: certificates may be renewed on disk while the running components still serve the old ones; to restore: {restore}"),
    )
    .await?;
    let out = remote.write(cap, &h.ssh_host, &s.tool.command(), s.write_timeout).await.map_err(|e| with_restore(format!("renew: {e}")))?;
    if !out.success() {
        let why = last_line(&format!("{}\n{}", out.stdout, out.stderr));
        return Err(with_restore(format!(
            "`{}` failed (exit {}): {why}",
            s.tool.command(),
            out.exit_status.map(|c| c.to_string()).unwrap_or("?".into())
        )));
    }
    let after =
        read_files(remote, h, s.layout, s.timeout).await.map_err(|e| with_restore(format!("reading the renewed certificates: {e}")))?;
    let after_map: BTreeMap<String, Parsed> = after.iter().filter(|p| renewable(p)).map(|p| (p.info.name.clone(), p.clone())).collect();
    let not_renewed: Vec<&str> = before_map
        .iter()
        .filter(|(n, b)| after_map.get(*n).is_none_or(|a| a.serial == b.serial || a.info.not_after <= b.info.not_after))
        .map(|(n, _)| n.as_str())
        .collect();
    if !not_renewed.is_empty() {
        return Err(with_restore(format!("renewal left these unchanged: {}", not_renewed.join(", "))));
    }
    let soonest = after_map.values().map(|p| p.info.not_after).min().unwrap_or_else(Utc::now);
    ctx.step(format!("{m}: renewed {} certificates (now valid until {})", after_map.len(), soonest.format("%Y-%m-%d")), true).await;
    // 3. restart
    cap.intent(
        ctx.id,
        &format!("{m}: restart the control plane (`{}`)", s.restart_command),
        &format!("{m}: certificates renewed; the control plane may be restarting or not yet healthy; to restore: {restore}"),
    )
    .await?;
    let out =
        remote.write(cap, &h.ssh_host, &s.restart_command, s.write_timeout).await.map_err(|e| with_restore(format!("restart: {e}")))?;
    if !out.success() {
        return Err(with_restore(format!("restarting the control plane failed: {}", last_line(&out.stderr))));
    }
    ctx.step(format!("{m}: control-plane components restarted"), true).await;
    // 4. healthy again, serving the new certificate
    let want_serial = after_map.get("apiserver").map(|p| p.serial.clone());
    wait_healthy(remote, s, h, want_serial.as_deref(), ctx, etcd, cancel).await.map_err(with_restore)?;
    let mut infos: Vec<_> = after.into_iter().map(|p| p.info).collect();
    if let Ok(p) = served_cert(SERVED, SocketAddr::new(h.address, s.apiserver_port), s.timeout).await {
        infos.push(p.info);
    }
    let obs = Observation {
        at: Utc::now(),
        source: format!("ssh {m}"),
        budget_ms: 180_000,
        payload: Payload::Certs { host: m.to_string(), result: Ok(infos) },
    };
    let _ = ctx.tx.send(BackendEvent::Obs(obs)).await;
    ctx.step(format!("{m}: done (backup kept in /etc/kubernetes/pki.bak-{stamp})"), true).await;
    Ok(())
}

fn last_line(s: &str) -> String {
    s.trim().lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string()
}

/// The four health checks after a restart, polled until all pass (each reported once) or the deadline.
async fn wait_healthy(
    remote: &Remote,
    s: &RenewSettings,
    h: &CertHost,
    want_serial: Option<&str>,
    ctx: &Ctx<'_>,
    mut etcd: Option<&mut EtcdProbe>,
    cancel: &Option<watch::Receiver<bool>>,
) -> Result<(), String> {
    let m = h.name.as_str();
    let addr = SocketAddr::new(h.address, s.apiserver_port);
    let deadline = tokio::time::Instant::now() + s.wait_healthy;
    let (mut readyz, mut served, mut member, mut backends) = (false, want_serial.is_none(), etcd.is_none(), s.lbs.is_empty());
    let mut why: BTreeMap<&str, String> = BTreeMap::new();
    let pool = match remote {
        Remote::Ssh { pool, .. } => Some(pool.clone()),
        Remote::Local { .. } => None,
    };
    if pool.is_none() {
        backends = true;
    }
    loop {
        if cancel.as_ref().is_some_and(|r| *r.borrow()) {
            return Err(format!("cancelled while waiting for {m} to be healthy"));
        }
        if !readyz {
            match crate::transport::https::probe_readyz(h.address, s.apiserver_port, s.timeout.min(Duration::from_secs(2))).await {
                Ok(r) if r.ok => {
                    readyz = true;
                    ctx.step(format!("{m}: apiserver /readyz ok"), true).await;
                }
                Ok(r) => {
                    why.insert("readyz", format!("/readyz {} {}", r.status, r.detail));
                }
                Err(e) => {
                    why.insert("readyz", e);
                }
            }
        }
        if readyz && !served {
            match served_cert(SERVED, addr, s.timeout).await {
                Ok(p) if Some(p.serial.as_str()) == want_serial => {
                    served = true;
                    ctx.step(
                        format!("{m}: serving the renewed certificate (not after {})", p.info.not_after.format("%Y-%m-%d %H:%M")),
                        true,
                    )
                    .await;
                }
                Ok(p) => {
                    why.insert(
                        "served",
                        format!(
                            "still serving the old certificate (serial {}, not after {})",
                            p.serial,
                            p.info.not_after.format("%Y-%m-%d")
                        ),
                    );
                }
                Err(e) => {
                    why.insert("served", e);
                }
            }
        }
        if !member && let Some(e) = etcd.as_deref_mut() {
            match e.poll().await {
                Ok(v) => match v.members.iter().find(|x| x.name == m) {
                    Some(x) if x.reachable && v.leader().is_some() && x.error.is_none() => {
                        member = true;
                        let role = if x.is_leader { "leader" } else { "follower" };
                        ctx.step(
                            format!("{m}: etcd member healthy ({role}, leader {})", v.leader().map(|l| l.name.as_str()).unwrap_or("-")),
                            true,
                        )
                        .await;
                    }
                    Some(x) => {
                        why.insert("etcd", format!("etcd member: {}", x.error.as_deref().unwrap_or("no leader yet")));
                    }
                    None => {
                        why.insert("etcd", format!("no etcd member named {m}"));
                    }
                },
                Err(err) => {
                    why.insert("etcd", err);
                }
            }
        }
        // haproxy only once the apiserver answers again: right after a quick restart haproxy may not
        // have noticed the outage yet, and its UP would be stale
        if !backends
            && readyz
            && served
            && let Some(pool) = &pool
        {
            let mut pending = Vec::new();
            for lb in &s.lbs {
                match crate::probe::haproxy::probe_haproxy(pool, &lb.ssh_host, &s.haproxy_socket, &s.haproxy_backend, s.timeout).await {
                    Ok(servers) => {
                        let ip = h.address.to_string();
                        let mine: Vec<_> =
                            servers.iter().filter(|b| b.server == m || b.address.split(':').next() == Some(ip.as_str())).collect();
                        if mine.is_empty() {
                            pending.push(format!("{}: no backend for {m}", lb.name));
                        } else if let Some(b) = mine.iter().find(|b| b.status != ServerStatus::Up) {
                            pending.push(format!("{}: {} {}", lb.name, b.server, b.status_text));
                        }
                    }
                    Err(e) => pending.push(format!("{}: {e}", lb.name)),
                }
            }
            if pending.is_empty() {
                backends = true;
                let names: Vec<&str> = s.lbs.iter().map(|l| l.name.as_str()).collect();
                ctx.step(format!("{m}: haproxy backend UP on {}", names.join(", ")), true).await;
            } else {
                why.insert("haproxy", pending.join("; "));
            }
        }
        if readyz && served && member && backends {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let mut left = Vec::new();
            for (done, key) in [(readyz, "readyz"), (served, "served"), (member, "etcd"), (backends, "haproxy")] {
                if !done {
                    left.push(why.get(key).cloned().unwrap_or_else(|| format!("{key}: not checked yet")));
                }
            }
            return Err(format!("{m} not healthy {:.0}s after the restart: {}", s.wait_healthy.as_secs_f64(), left.join("; ")));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
