//! Certificates, live: on every master (and etcd host) every certificate of the kubeadm PKI (apiserver,
//! apiserver-kubelet-client, apiserver-etcd-client, front-proxy-client, etcd server/peer/healthcheck
//! client, the CAs), the client certificates embedded in admin.conf, controller-manager.conf and
//! scheduler.conf, and the kubelet's client certificate; KubeKey's layout too (`/etc/ssl/etcd/ssl`).
//! Subject, SANs, issuer, not-after: parsed as X.509 here ([`parse`]), read with ONE read-only command
//! per host and poll ([`CERTS_SCRIPT`]: it prints certificate blocks only, never a key). Polled every
//! 60 s: certificates do not change often.
//!
//! Plus the serving certificate each apiserver actually presents on :6443 and the one behind the VIP
//! (a TLS handshake), as `apiserver (served)`: a renewed-but-not-restarted apiserver shows a served
//! not-after different from the file's.
//!
//! [`renew`] is the rolling renewal operation.

pub mod parse;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use crate::backend::BackendEvent;
use crate::backend::poll::{Round, poll_loop};
use crate::inventory::{Plan, PlanSource};
use crate::model::{CertInfo, Observation, Payload};
pub use crate::transport::Remote;
use crate::transport::ssh::script_command;
pub use parse::Parsed;

pub use crate::transport::scripts::CERTS_SCRIPT;

/// Which PKI layout the cluster has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertLayout {
    /// kubeadm: everything under /etc/kubernetes/pki, etcd's in pki/etcd.
    Kubeadm,
    /// KubeKey: kubeadm's layout for Kubernetes, etcd's certificates in /etc/ssl/etcd/ssl.
    KubeKey,
}

/// The kubeadm PKI, in `kubeadm certs check-expiration`'s names.
pub const KUBEADM_CERTS: &[(&str, &str)] = &[
    ("admin.conf", "/etc/kubernetes/admin.conf"),
    ("apiserver", "/etc/kubernetes/pki/apiserver.crt"),
    ("apiserver-etcd-client", "/etc/kubernetes/pki/apiserver-etcd-client.crt"),
    ("apiserver-kubelet-client", "/etc/kubernetes/pki/apiserver-kubelet-client.crt"),
    ("controller-manager.conf", "/etc/kubernetes/controller-manager.conf"),
    ("etcd-healthcheck-client", "/etc/kubernetes/pki/etcd/healthcheck-client.crt"),
    ("etcd-peer", "/etc/kubernetes/pki/etcd/peer.crt"),
    ("etcd-server", "/etc/kubernetes/pki/etcd/server.crt"),
    ("front-proxy-client", "/etc/kubernetes/pki/front-proxy-client.crt"),
    ("scheduler.conf", "/etc/kubernetes/scheduler.conf"),
    ("ca", "/etc/kubernetes/pki/ca.crt"),
    ("etcd-ca", "/etc/kubernetes/pki/etcd/ca.crt"),
    ("front-proxy-ca", "/etc/kubernetes/pki/front-proxy-ca.crt"),
    ("kubelet-client", "/var/lib/kubelet/pki/kubelet-client-current.pem"),
];

/// KubeKey's etcd certificates (ca.pem, admin-HOST.pem, member-HOST.pem, node-HOST.pem).
pub const KUBEKEY_ETCD_DIR: (&str, &str) = ("etcd/", "/etc/ssl/etcd/ssl/");

/// The (name, path) pairs to read on a host with these roles.
pub fn cert_specs(layout: CertLayout, master: bool, etcd: bool) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if master {
        out.extend(KUBEADM_CERTS.iter().copied().filter(|(n, _)| layout == CertLayout::Kubeadm || !n.starts_with("etcd-")));
    } else if etcd && layout == CertLayout::Kubeadm {
        out.extend(KUBEADM_CERTS.iter().copied().filter(|(n, _)| n.starts_with("etcd-")));
    }
    if layout == CertLayout::KubeKey && (master || etcd) {
        out.push(KUBEKEY_ETCD_DIR);
    }
    if !master && !etcd {
        out.push(("kubelet-client", "/var/lib/kubelet/pki/kubelet-client-current.pem"));
    }
    out
}

/// The read-only command for `specs`.
pub fn certs_command(specs: &[(&str, &str)]) -> String {
    let args: Vec<&str> = specs.iter().flat_map(|(n, p)| [*n, *p]).collect();
    script_command(CERTS_SCRIPT, &args)
}

/// A host whose certificates are watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertHost {
    /// The plan's name (the panel's row label).
    pub name: String,
    pub ssh_host: String,
    pub address: IpAddr,
    pub master: bool,
    pub etcd: bool,
}

#[derive(Debug, Clone)]
pub struct CertsSettings {
    pub hosts: Vec<CertHost>,
    pub layout: CertLayout,
    pub apiserver_port: u16,
    /// VIP:port, for the certificate served through the load balancer.
    pub vip: Option<SocketAddr>,
    pub interval: Duration,
    /// Per command and per handshake.
    pub timeout: Duration,
}

/// The name a served certificate gets in the panel.
pub const SERVED: &str = "apiserver (served)";
/// The panel's row for the certificate served through the VIP.
pub const VIP_ROW: &str = "vip";

impl CertsSettings {
    pub fn from_plan(plan: &Plan) -> CertsSettings {
        let layout = match plan.source {
            PlanSource::KubeKey { .. } => CertLayout::KubeKey,
            _ => CertLayout::Kubeadm,
        };
        CertsSettings {
            hosts: plan
                .hosts
                .iter()
                .filter(|h| h.roles.master || h.roles.etcd)
                .map(|h| CertHost {
                    name: h.name.clone(),
                    ssh_host: h.ssh_host.clone(),
                    address: h.address,
                    master: h.roles.master,
                    etcd: h.roles.etcd,
                })
                .collect(),
            layout,
            apiserver_port: 6443,
            vip: plan.vip.as_ref().map(|v| SocketAddr::new(v.address, v.port)),
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        }
    }

    pub fn budget_ms(&self) -> u64 {
        (self.interval.as_millis() as u64).saturating_mul(3)
    }
}

/// The certificate files of one host, parsed.
pub async fn read_files(remote: &Remote, h: &CertHost, layout: CertLayout, timeout: Duration) -> Result<Vec<Parsed>, String> {
    let specs = cert_specs(layout, h.master, h.etcd);
    let out = remote.read(&h.ssh_host, Some("certs"), &certs_command(&specs), timeout).await?;
    if !out.success() {
        return Err(format!("{}: certificate read failed: {}", h.name, out.stderr.trim()));
    }
    let (certs, errors) = parse::parse_dump(&out.stdout);
    for e in &errors {
        tracing::warn!(host = %h.name, "certificate: {e}");
    }
    if certs.is_empty() {
        return Err(if errors.is_empty() {
            format!("no certificate found at the {} paths", if layout == CertLayout::KubeKey { "KubeKey" } else { "kubeadm" })
        } else {
            errors.join("; ")
        });
    }
    Ok(certs)
}

/// The leaf certificate `addr` presents in a TLS handshake.
pub async fn served_cert(name: &str, addr: SocketAddr, timeout: Duration) -> Result<Parsed, String> {
    let fut = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let sn = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let tls =
            TlsConnector::from(crate::transport::https::tls_config()).connect(sn, tcp).await.map_err(|e| format!("TLS {addr}: {e}"))?;
        let (_, conn) = tls.get_ref();
        let leaf = conn.peer_certificates().and_then(|c| c.first()).ok_or_else(|| format!("{addr}: no certificate presented"))?;
        parse::from_der(name, &addr.to_string(), leaf)
    };
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| Err(format!("TLS {addr}: no handshake within {:.1}s", timeout.as_secs_f64())))
}

/// Everything one host shows: its files plus (for a master) the served apiserver certificate. A
/// master whose apiserver does not answer still shows its files (the served row is left out).
pub async fn probe_host(remote: &Remote, h: &CertHost, s: &CertsSettings) -> Result<Vec<CertInfo>, String> {
    let served =
        async { if h.master { Some(served_cert(SERVED, SocketAddr::new(h.address, s.apiserver_port), s.timeout).await) } else { None } };
    let (files, served) = tokio::join!(read_files(remote, h, s.layout, s.timeout), served);
    let mut out: Vec<CertInfo> = files?.into_iter().map(|p| p.info).collect();
    match served {
        Some(Ok(p)) => out.push(p.info),
        Some(Err(e)) => tracing::debug!(host = %h.name, "served certificate: {e}"),
        None => {}
    }
    Ok(out)
}

/// One full refresh: every host and the VIP, concurrently. (host row, result) pairs.
pub async fn poll_all(remote: &Remote, s: &CertsSettings) -> Vec<(String, Result<Vec<CertInfo>, String>)> {
    let hosts = join_all(s.hosts.iter().map(|h| async move { (h.name.clone(), probe_host(remote, h, s).await) }));
    let vip = async {
        match s.vip {
            Some(addr) => {
                Some((VIP_ROW.to_string(), served_cert(&format!("{SERVED} via VIP"), addr, s.timeout).await.map(|p| vec![p.info])))
            }
            None => None,
        }
    };
    let (mut out, vip) = tokio::join!(hosts, vip);
    out.extend(vip);
    out
}

/// Poll every `settings.interval` (60 s by default) and send one [`Payload::Certs`] per host (and the
/// VIP) until the app hangs up.
pub fn spawn_probe(settings: CertsSettings, remote: Remote, tx: mpsc::Sender<BackendEvent>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_probe(settings, remote, tx))
}

/// The loop of [`spawn_probe`], for a `JoinSet`.
pub async fn run_probe(settings: CertsSettings, remote: Remote, tx: mpsc::Sender<BackendEvent>) {
    poll_loop(settings.interval, &tx, CertsRound { settings, remote }).await
}

/// One [`poll_all`] per round: an observation per host and the VIP.
struct CertsRound {
    settings: CertsSettings,
    remote: Remote,
}

impl Round for CertsRound {
    type Out = BackendEvent;

    async fn round(&mut self) -> Vec<BackendEvent> {
        let results = poll_all(&self.remote, &self.settings).await;
        let budget_ms = self.settings.budget_ms();
        results
            .into_iter()
            .map(|(host, result)| {
                let source = if host == VIP_ROW { "tls vip".to_string() } else { format!("ssh {host}") };
                BackendEvent::Obs(Observation { at: Utc::now(), source, budget_ms, payload: Payload::Certs { host, result } })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
