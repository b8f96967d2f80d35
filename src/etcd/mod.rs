//! etcd, live: the member list and every member's status (leader or follower, learner, version, raft
//! term, index and applied index, DB size and in-use), alarms (NOSPACE, CORRUPT), read the way
//! operators do: etcd's v3 API with the cluster's client certificate.
//!
//! - Transport: the v3 API's JSON gateway over HTTPS ([`client`]): `POST /v3/maintenance/status`,
//!   `/v3/cluster/member/list`, `/v3/maintenance/alarm`, one kept-alive connection per member, dialled
//!   directly or through an SSH tunnel when the jump host cannot reach :2379 ([`TunnelMode`]).
//! - Credentials ([`CredentialSource`]): kubeadm's `/etc/kubernetes/pki/etcd` (healthcheck-client, else
//!   apiserver-etcd-client) or KubeKey's `/etc/ssl/etcd/ssl`, read once over SSH with
//!   [`CREDENTIALS_SCRIPT`], or local files. Stacked or external etcd, static pod or systemd: the API is
//!   the same.
//! - Every member of the member list is shown; a member that does not answer its status is shown down
//!   with the reason, never dropped ([`parse::assemble`]). The member list is remembered, so with every
//!   member down the panel still lists them all (down) instead of going blank.

pub mod backups;
pub mod client;
pub mod ops;
pub mod parse;
mod round;
pub mod snapshot;
pub mod writer;

pub use round::{LEADERSHIP_INTERVAL, run_probe};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::mpsc;
use tokio_rustls::rustls;

use crate::backend::BackendEvent;
use crate::inventory::Plan;
use crate::model::EtcdView;
use crate::transport::Remote;
use crate::transport::ssh::script_command;
use client::{Conn, dial_direct};
pub use client::{Credentials, OpenSshTunnel, PoolTunnel, Tunnel};
use parse::{EndpointResult, Member, Status};

pub use crate::transport::scripts::CREDENTIALS_SCRIPT;

/// Parse [`CREDENTIALS_SCRIPT`]'s output.
pub fn parse_credentials(host: &str, out: &str) -> Result<Credentials, String> {
    let (mut ca, mut cert, mut key) = (String::new(), String::new(), String::new());
    let mut origin = String::new();
    let mut cur: Option<&mut String> = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("@@kockpit-etcd-") {
            let (kind, path) = rest.split_once(' ').unwrap_or((rest, ""));
            cur = match kind {
                "ca" => Some(&mut ca),
                "cert" => {
                    origin = format!("{host}:{path}");
                    Some(&mut cert)
                }
                "key" => Some(&mut key),
                _ => None,
            };
            continue;
        }
        if let Some(buf) = cur.as_deref_mut() {
            buf.push_str(line);
            buf.push('\n');
        }
    }
    if ca.is_empty() || cert.is_empty() || key.is_empty() {
        return Err(format!("{host}: no complete etcd CA, client certificate and key in the answer"));
    }
    Ok(Credentials { ca_pem: ca.into_bytes(), cert_pem: cert.into_bytes(), key_pem: key.into_bytes(), origin })
}

/// Where the client certificate comes from.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// Local files (e.g. copied from a master, or the lab's `KOCKPIT_LAB_ETCD_*`).
    Files { ca: PathBuf, cert: PathBuf, key: PathBuf },
    /// Read over SSH from the first of these hosts that has them; explicit paths (if given) first.
    Ssh { hosts: Vec<String>, paths: Option<(String, String, String)> },
    /// Already loaded.
    Loaded(Credentials),
}

/// When to tunnel through SSH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelMode {
    /// Always dial :2379 directly.
    Never,
    /// Always through the member's host (or the first etcd host for members not in the plan).
    Always,
    /// Directly first; a member whose port cannot be reached is tunnelled from then on.
    WhenDirectFails,
}

/// One configured member endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdEndpoint {
    /// The plan's name for the host.
    pub name: String,
    /// Address as etcd advertises it (IP or DNS name on its certificate).
    pub host: String,
    pub port: u16,
    /// SSH alias of the host, for tunnels and credentials.
    pub ssh_host: String,
}

#[derive(Debug, Clone)]
pub struct EtcdSettings {
    pub endpoints: Vec<EtcdEndpoint>,
    pub credentials: CredentialSource,
    pub tunnel: TunnelMode,
    pub interval: Duration,
    /// Per request (connect included).
    pub request_timeout: Duration,
}

impl EtcdSettings {
    /// The plan's etcd hosts on :2379, credentials over SSH from them, tunnelled when direct fails.
    pub fn from_plan(plan: &Plan) -> EtcdSettings {
        let endpoints: Vec<EtcdEndpoint> = plan
            .etcd_hosts()
            .map(|h| EtcdEndpoint {
                name: h.name.clone(),
                host: h.internal_address.unwrap_or(h.address).to_string(),
                port: 2379,
                ssh_host: h.ssh_host.clone(),
            })
            .collect();
        let hosts = endpoints.iter().map(|e| e.ssh_host.clone()).collect();
        EtcdSettings {
            endpoints,
            credentials: CredentialSource::Ssh { hosts, paths: None },
            tunnel: TunnelMode::WhenDirectFails,
            interval: Duration::from_secs(1),
            request_timeout: Duration::from_millis(1500),
        }
    }

    /// How long an observation stays current.
    pub fn budget_ms(&self) -> u64 {
        (self.interval.as_millis() as u64).saturating_mul(3).max(3000)
    }
}

/// How long a failure to load the client certificate is reported before it is tried again.
const CREDENTIALS_RETRY: Duration = Duration::from_secs(30);

/// Per-endpoint state: the kept-alive connection and how it is reached.
struct Slot {
    /// Plan host name, when the endpoint is one of the plan's.
    name: Option<String>,
    host: String,
    port: u16,
    /// SSH host to tunnel through.
    via: Option<String>,
    conn: Option<Conn>,
    tunnelled: bool,
}

impl Slot {
    fn key(&self) -> String {
        endpoint_key(&self.host, self.port)
    }
}

/// `host:port`, an IPv6 host in brackets: how connections to members are keyed.
fn endpoint_key(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// The etcd prober: credentials, connections and the last member list, across polls.
pub struct EtcdProbe {
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    tls: Option<Arc<rustls::ClientConfig>>,
    members: Option<Vec<Member>>,
    slots: BTreeMap<String, Slot>,
    /// The last failure to load the credentials: not retried (an SSH command) more than every 30 s.
    creds_failed: Option<(std::time::Instant, String)>,
}

impl EtcdProbe {
    /// `remote` reads the credentials over SSH (for [`CredentialSource::Ssh`]); `tunnel` opens SSH
    /// tunnels (for [`TunnelMode::Always`] / [`TunnelMode::WhenDirectFails`]).
    pub fn new(settings: EtcdSettings, remote: Option<Remote>, tunnel: Option<Arc<dyn Tunnel>>) -> EtcdProbe {
        let mut p = EtcdProbe { settings, remote, tunnel, tls: None, members: None, slots: BTreeMap::new(), creds_failed: None };
        for e in p.settings.endpoints.clone() {
            p.slot_for(&e.host, e.port, Some(e.name.clone()), Some(e.ssh_host.clone()));
        }
        p
    }

    fn slot_for(&mut self, host: &str, port: u16, name: Option<String>, via: Option<String>) -> String {
        let s = Slot { name, host: host.to_string(), port, via, conn: None, tunnelled: self.settings.tunnel == TunnelMode::Always };
        let key = s.key();
        let entry = self.slots.entry(key.clone()).or_insert(s);
        if entry.via.is_none() {
            entry.via = self.settings.endpoints.first().map(|e| e.ssh_host.clone());
        }
        key
    }

    /// A short label of where the data comes from.
    pub fn source_label(&self) -> String {
        let tunnelled = self.slots.values().filter(|s| s.tunnelled).count();
        match (tunnelled, &self.tunnel) {
            (0, _) | (_, None) => "etcd https".into(),
            (_, Some(t)) => format!("etcd https ({})", t.label()),
        }
    }

    async fn credentials(&mut self) -> Result<Arc<rustls::ClientConfig>, String> {
        if let Some(t) = &self.tls {
            return Ok(t.clone());
        }
        if let Some((at, e)) = &self.creds_failed
            && at.elapsed() < CREDENTIALS_RETRY
        {
            return Err(e.clone());
        }
        let r = self.load_credentials().await;
        self.creds_failed = r.as_ref().err().map(|e| (std::time::Instant::now(), e.clone()));
        r
    }

    async fn load_credentials(&mut self) -> Result<Arc<rustls::ClientConfig>, String> {
        let creds = match &self.settings.credentials {
            CredentialSource::Loaded(c) => c.clone(),
            CredentialSource::Files { ca, cert, key } => {
                let read = |p: PathBuf| async move { tokio::fs::read(&p).await.map_err(|e| format!("{}: {e}", p.display())) };
                Credentials {
                    ca_pem: read(ca.clone()).await?,
                    cert_pem: read(cert.clone()).await?,
                    key_pem: read(key.clone()).await?,
                    origin: cert.display().to_string(),
                }
            }
            CredentialSource::Ssh { hosts, paths } => {
                let remote = self.remote.as_ref().ok_or("etcd client certificates: no SSH access configured to read them")?;
                let args: Vec<&str> = match paths {
                    Some((a, b, c)) => vec![a, b, c],
                    None => vec![],
                };
                let cmd = script_command(CREDENTIALS_SCRIPT, &args);
                let mut errors = Vec::new();
                let mut found = None;
                for h in hosts {
                    match remote.read(h, None, &cmd, self.settings.request_timeout.max(Duration::from_secs(3))).await {
                        Ok(out) if out.success() => match parse_credentials(h, &out.stdout) {
                            Ok(c) => {
                                found = Some(c);
                                break;
                            }
                            Err(e) => errors.push(e),
                        },
                        Ok(out) => errors.push(format!("{h}: {}", out.stderr.trim())),
                        Err(e) => errors.push(e),
                    }
                }
                found.ok_or_else(|| format!("etcd client certificates: {}", errors.join("; ")))?
            }
        };
        let tls = creds.tls_config()?;
        tracing::info!(origin = %creds.origin, "etcd client certificate loaded");
        self.tls = Some(tls.clone());
        Ok(tls)
    }

    /// Forget the credentials and connections (e.g. after a certificate renewal): the next poll reloads.
    pub fn reset(&mut self) {
        self.tls = None;
        self.creds_failed = None;
        for s in self.slots.values_mut() {
            s.conn = None;
        }
    }

    /// Slots for every member of the last member list; the keys of the new ones.
    fn add_member_slots(&mut self) -> std::collections::BTreeSet<String> {
        let mut new = std::collections::BTreeSet::new();
        for m in self.members.clone().unwrap_or_default() {
            if let Some((h, p)) = m.client_urls.first().and_then(|u| parse::url_host_port(u)) {
                let known = self.settings.endpoints.iter().find(|e| e.host == h);
                let (name, via) = (known.map(|e| e.name.clone()), known.map(|e| e.ssh_host.clone()));
                let before = self.slots.len();
                let key = self.slot_for(&h, p, name, via);
                if self.slots.len() > before {
                    new.insert(key);
                }
            }
        }
        new
    }

    /// The status of every slot (or of `only` these), concurrently, each within the request timeout.
    async fn statuses(
        &mut self,
        tls: &Arc<rustls::ClientConfig>,
        only: Option<&std::collections::BTreeSet<String>>,
    ) -> Vec<(String, Result<Status, String>)> {
        let timeout = self.settings.request_timeout;
        let (tunnel, mode) = (self.tunnel.clone(), self.settings.tunnel);
        join_all(self.slots.iter_mut().filter(|(k, _)| only.is_none_or(|o| o.contains(*k))).map(|(key, slot)| {
            let (tls, tunnel) = (tls.clone(), tunnel.clone());
            async move {
                let r = tokio::time::timeout(timeout, status(slot, tls, tunnel, mode, timeout))
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer in {:.1}s", timeout.as_secs_f64())));
                if r.is_err() {
                    slot.conn = None;
                }
                (key.clone(), r)
            }
        }))
        .await
    }

    /// Each member's leader and raft term, from a status request alone (no member list, no alarm
    /// list) over the kept-alive connections: what changes when a leader is elected. A member that
    /// does not answer counts as `(0, 0)`. None without credentials.
    pub async fn leadership(&mut self) -> Option<Vec<(String, u64, u64)>> {
        let tls = self.credentials().await.ok()?;
        let mut v: Vec<(String, u64, u64)> = self
            .statuses(&tls, None)
            .await
            .into_iter()
            .map(|(k, r)| match r {
                Ok(s) => (k, s.leader, s.raft_term),
                Err(_) => (k, 0, 0),
            })
            .collect();
        v.sort();
        Some(v)
    }

    /// One full observation of the cluster.
    pub async fn poll(&mut self) -> Result<EtcdView, String> {
        let tls = self.credentials().await?;
        // every member the cluster knows about is asked, not only the plan's
        self.add_member_slots();
        let mut results = self.statuses(&tls, None).await;
        let known = self.members.is_some();
        let timeout = self.settings.request_timeout;
        let answered: Vec<(String, Status)> = results.iter().filter_map(|(k, r)| r.as_ref().ok().map(|s| (k.clone(), s.clone()))).collect();
        // the member list and alarms from the leader if one answered, else any member that did
        let mut order: Vec<&(String, Status)> = answered.iter().collect();
        order.sort_by_key(|(_, s)| s.leader != s.member_id);
        let mut list_err = None;
        let mut alarms = Vec::new();
        if let Some((key, s)) = order.first() {
            let slot = self.slots.get_mut(key).ok_or("internal: slot vanished")?;
            match tokio::time::timeout(timeout, post(slot, "/v3/cluster/member/list")).await {
                Ok(Ok(body)) => match parse::parse_members(&body) {
                    Ok(ms) => self.members = Some(ms),
                    Err(e) => list_err = Some(e),
                },
                Ok(Err(e)) => list_err = Some(e),
                Err(_) => list_err = Some("member list: no answer".into()),
            }
            // the alarm list goes through raft: only ask a member that has a leader, and not for long
            if s.leader != 0
                && let Ok(Ok(body)) =
                    tokio::time::timeout(timeout.min(Duration::from_millis(800)), post(slot, "/v3/maintenance/alarm")).await
            {
                alarms = parse::parse_alarms(&body).unwrap_or_default();
            }
        }
        if let Some(e) = &list_err {
            tracing::debug!("etcd: {e}");
        }
        // members the list just revealed (the first poll, or a member added since) are asked at once
        if !known || list_err.is_none() {
            let new = self.add_member_slots();
            if !new.is_empty() {
                results.extend(self.statuses(&tls, Some(&new)).await);
            }
        }
        if answered.is_empty() && self.members.is_none() {
            let why: Vec<String> =
                results.iter().map(|(k, r)| format!("{k}: {}", r.as_ref().err().map(String::as_str).unwrap_or("?"))).collect();
            return Err(format!("no etcd member answers ({})", why.join("; ")));
        }
        let eps: Vec<EndpointResult> = results
            .into_iter()
            .map(|(k, status)| EndpointResult { host: self.slots.get(&k).and_then(|s| s.name.clone()), endpoint: k, status })
            .collect();
        Ok(parse::assemble(self.members.as_deref(), &eps, &alarms))
    }
}

impl EtcdProbe {
    /// A change to etcd, sent to one member (the one etcd requires: the leader for MoveLeader, each
    /// member for a defrag): `POST path` with `body`, over the connection the last poll used. Only
    /// a process that may change things holds the [`crate::ops::WriteCap`] this asks for.
    pub async fn post_to_member(
        &mut self,
        member: &crate::model::EtcdMember,
        path: &str,
        body: Vec<u8>,
        cap: &crate::ops::WriteCap,
    ) -> Result<(u16, bytes::Bytes), String> {
        let timeout = self.settings.request_timeout;
        self.post_to_member_within(member, path, body, cap, timeout).await
    }

    /// [`EtcdProbe::post_to_member`] with its own time limit (a defrag takes seconds per GB).
    pub async fn post_to_member_within(
        &mut self,
        member: &crate::model::EtcdMember,
        path: &str,
        body: Vec<u8>,
        _cap: &crate::ops::WriteCap,
        timeout: Duration,
    ) -> Result<(u16, bytes::Bytes), String> {
        let tls = self.credentials().await?;
        let key = parse::url_host_port(&member.endpoint).map(|(h, p)| endpoint_key(&h, p));
        let key = key
            .filter(|k| self.slots.contains_key(k))
            .or_else(|| self.slots.iter().find(|(_, s)| s.name.as_deref() == Some(member.name.as_str())).map(|(k, _)| k.clone()))
            .ok_or_else(|| format!("{}: no connection to its endpoint {}", member.name, member.endpoint))?;
        let (tunnel, mode, connect_within) = (self.tunnel.clone(), self.settings.tunnel, self.settings.request_timeout);
        let slot = self.slots.get_mut(&key).ok_or("internal: slot vanished")?;
        connect(slot, tls, tunnel, mode, connect_within).await?;
        let conn = slot.conn.as_mut().ok_or("not connected")?;
        match tokio::time::timeout(timeout, conn.post_bytes(path, bytes::Bytes::from(body))).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                slot.conn = None;
                Err(e)
            }
            Err(_) => {
                slot.conn = None;
                Err(format!("{}: no answer in {:.1}s", member.name, timeout.as_secs_f64()))
            }
        }
    }
}

impl EtcdProbe {
    /// `POST path` to `member` over the connection the last poll used, its answer's body left to
    /// read as it arrives (etcd's snapshot stream). Only a writable process asks (the snapshot is a
    /// copy of every key and secret).
    pub async fn post_stream_to_member(
        &mut self,
        member: &crate::model::EtcdMember,
        path: &str,
        body: Vec<u8>,
        _cap: &crate::ops::WriteCap,
    ) -> Result<(u16, hyper::body::Incoming, client::Conn), String> {
        let tls = self.credentials().await?;
        let key = parse::url_host_port(&member.endpoint).map(|(h, p)| endpoint_key(&h, p));
        let key = key
            .filter(|k| self.slots.contains_key(k))
            .or_else(|| self.slots.iter().find(|(_, s)| s.name.as_deref() == Some(member.name.as_str())).map(|(k, _)| k.clone()))
            .ok_or_else(|| format!("{}: no connection to its endpoint {}", member.name, member.endpoint))?;
        let (tunnel, mode, within) = (self.tunnel.clone(), self.settings.tunnel, self.settings.request_timeout);
        let slot = self.slots.get_mut(&key).ok_or("internal: slot vanished")?;
        connect(slot, tls, tunnel, mode, within).await?;
        // the connection is the stream's until it ends: the slot reconnects for the next poll
        let mut conn = slot.conn.take().ok_or("not connected")?;
        // the connection is handed back with the body: the stream lives as long as it does
        match tokio::time::timeout(within, conn.post_stream(path, bytes::Bytes::from(body))).await {
            Ok(Ok((status, body))) => Ok((status, body, conn)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("{}: no answer in {:.1}s", member.name, within.as_secs_f64())),
        }
    }
}

/// Connect the slot if needed (direct or tunnelled, per the mode).
async fn connect(
    slot: &mut Slot,
    tls: Arc<rustls::ClientConfig>,
    tunnel: Option<Arc<dyn Tunnel>>,
    mode: TunnelMode,
    timeout: Duration,
) -> Result<(), String> {
    if slot.conn.as_ref().is_some_and(|c| !c.is_closed()) {
        return Ok(());
    }
    slot.conn = None;
    let through_tunnel = |slot: &Slot, tunnel: Option<Arc<dyn Tunnel>>| {
        let (via, host, port) = (slot.via.clone(), slot.host.clone(), slot.port);
        async move {
            let t = tunnel.ok_or("no SSH tunnel available")?;
            let via = via.ok_or("no SSH host to tunnel through")?;
            t.open(&via, &host, port).await.map_err(|e| format!("tunnel via {via}: {e}"))
        }
    };
    let io = match mode {
        TunnelMode::Never => dial_direct(&slot.host, slot.port, timeout).await?,
        TunnelMode::Always => through_tunnel(slot, tunnel).await?,
        TunnelMode::WhenDirectFails if slot.tunnelled => through_tunnel(slot, tunnel).await?,
        TunnelMode::WhenDirectFails => match dial_direct(&slot.host, slot.port, timeout / 2).await {
            Ok(io) => io,
            Err(direct) if tunnel.is_some() => {
                let io = through_tunnel(slot, tunnel).await.map_err(|t| format!("{direct}; {t}"))?;
                tracing::info!(endpoint = %slot.key(), "etcd: direct connection failed ({direct}); using an SSH tunnel");
                slot.tunnelled = true;
                io
            }
            Err(direct) => return Err(direct),
        },
    };
    slot.conn = Some(Conn::handshake(tls, io, &slot.host, slot.port).await?);
    Ok(())
}

async fn status(
    slot: &mut Slot,
    tls: Arc<rustls::ClientConfig>,
    tunnel: Option<Arc<dyn Tunnel>>,
    mode: TunnelMode,
    timeout: Duration,
) -> Result<Status, String> {
    connect(slot, tls, tunnel, mode, timeout).await?;
    let body = post(slot, "/v3/maintenance/status").await?;
    parse::parse_status(&body)
}

async fn post(slot: &mut Slot, path: &str) -> Result<bytes::Bytes, String> {
    let conn = slot.conn.as_mut().ok_or("not connected")?;
    match conn.post(path, b"{}").await {
        Ok((_, body)) => Ok(body),
        Err(e) => {
            slot.conn = None;
            Err(e)
        }
    }
}

/// [`run_probe`] on its own task.
pub fn spawn_probe(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    tx: mpsc::Sender<BackendEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_probe(settings, remote, tunnel, tx))
}

#[cfg(test)]
mod tests;
