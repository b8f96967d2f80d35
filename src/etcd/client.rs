//! A small client for etcd's v3 API as operators reach it: JSON over HTTPS to the grpc-gateway every
//! etcd ≥ 3.4 serves on its client port (`POST /v3/maintenance/status` ...), with the cluster's client
//! certificate, over one kept-alive HTTP/1.1 connection per member. No gRPC stack, no protoc.
//!
//! A connection is either dialled directly or opened through a [`Tunnel`] (an SSH direct-tcpip channel
//! of a host that can reach the member: the jump host often cannot reach port 2379 itself).

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Any byte stream a TLS session can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub type BoxIo = Box<dyn Io>;
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens a TCP stream to `host:port` as seen from the SSH host `via`.
pub trait Tunnel: Send + Sync {
    fn open<'a>(&'a self, via: &'a str, host: &'a str, port: u16) -> BoxFut<'a, Result<BoxIo, String>>;
    /// Shown in the panel's source label.
    fn label(&self) -> &'static str {
        "ssh tunnel"
    }
}

/// Tunnels as direct-tcpip channels of the SSH pool's kept-alive connections: no extra process, no
/// extra login, and the same host-key checks as every other SSH use.
#[derive(Clone)]
pub struct PoolTunnel(pub crate::transport::ssh::SshPool);

impl Tunnel for PoolTunnel {
    fn open<'a>(&'a self, via: &'a str, host: &'a str, port: u16) -> BoxFut<'a, Result<BoxIo, String>> {
        Box::pin(async move {
            let s = self.0.open_direct_tcpip(via, host, port, std::time::Duration::from_secs(5)).await.map_err(|e| e.to_string())?;
            Ok(Box::new(s) as BoxIo)
        })
    }
}

/// `ssh -W host:port via` of the OpenSSH client, with the same ssh_config: for a machine where only
/// the OpenSSH client can reach the hosts (a smart card agent, say). One process per tunnel, kept as
/// long as its HTTP connection is (so the cost is paid once, not per poll).
#[derive(Debug, Clone, Default)]
pub struct OpenSshTunnel {
    pub ssh_config: Option<std::path::PathBuf>,
}

impl Tunnel for OpenSshTunnel {
    fn open<'a>(&'a self, via: &'a str, host: &'a str, port: u16) -> BoxFut<'a, Result<BoxIo, String>> {
        Box::pin(async move {
            let mut cmd = tokio::process::Command::new("ssh");
            if let Some(cfg) = &self.ssh_config {
                cmd.arg("-F").arg(cfg);
            }
            let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
            cmd.args(["-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-W", &target, "--", via])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true);
            let mut child = cmd.spawn().map_err(|e| format!("ssh -W via {via}: {e}"))?;
            let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
                return Err(format!("ssh -W via {via}: no pipes"));
            };
            Ok(Box::new(ChildStream { _child: child, io: tokio::io::join(out, inp) }) as BoxIo)
        })
    }
    fn label(&self) -> &'static str {
        "ssh -W tunnel"
    }
}

struct ChildStream {
    _child: tokio::process::Child,
    io: tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>,
}

impl AsyncRead for ChildStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The cluster's client credentials: the etcd CA and a client certificate with its key (PEM).
#[derive(Clone)]
pub struct Credentials {
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// Where they came from, e.g. "m1:/etc/kubernetes/pki/etcd/healthcheck-client.crt".
    pub origin: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl Credentials {
    /// A rustls client config that trusts only the etcd CA and presents the client certificate.
    pub fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut roots = rustls::RootCertStore::empty();
        let mut n = 0;
        for c in CertificateDer::pem_slice_iter(&self.ca_pem) {
            let c = c.map_err(|e| format!("etcd CA ({}): {e}", self.origin))?;
            roots.add(c).map_err(|e| format!("etcd CA ({}): {e}", self.origin))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("etcd CA ({}): no certificate in it", self.origin));
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("etcd client certificate ({}): {e}", self.origin))?;
        if chain.is_empty() {
            return Err(format!("etcd client certificate ({}): no certificate in it", self.origin));
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| format!("etcd client key ({}): {e}", self.origin))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("etcd client certificate ({}): {e}", self.origin))?;
        Ok(Arc::new(cfg))
    }
}

/// One kept-alive HTTPS connection to one member.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    /// TLS (verifying the member's certificate for `host`) over `io`, then HTTP/1.1.
    pub async fn handshake(tls: Arc<rustls::ClientConfig>, io: BoxIo, host: &str, port: u16) -> Result<Conn, String> {
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?,
        };
        let stream = TlsConnector::from(tls).connect(name, io).await.map_err(|e| format!("TLS: {}", tls_reason(&e)))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("http: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let authority = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        Ok(Conn { sender, authority })
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// `POST path` with a JSON body; the answer's body (any status: the gateway's errors are JSON too).
    pub async fn post(&mut self, path: &str, body: &'static [u8]) -> Result<(u16, Bytes), String> {
        self.post_bytes(path, Bytes::from_static(body)).await
    }

    /// `POST path` with a JSON body, as every request to a member is made.
    fn request(&self, path: &str, body: Bytes) -> Result<http::Request<Full<Bytes>>, String> {
        http::Request::post(path)
            .header(http::header::HOST, &self.authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, concat!("kockpit/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(body))
            .map_err(|e| e.to_string())
    }

    /// [`Conn::post`] with a body built at run time.
    pub async fn post_bytes(&mut self, path: &str, body: Bytes) -> Result<(u16, Bytes), String> {
        self.sender.ready().await.map_err(|e| format!("http: {e}"))?;
        let req = self.request(path, body)?;
        let resp = self.sender.send_request(req).await.map_err(|e| format!("http: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(|e| format!("http body: {e}"))?.to_bytes();
        Ok((status, body))
    }
}

impl Conn {
    /// `POST path`, the answer's body left to read as it arrives (a snapshot is as large as the DB).
    pub async fn post_stream(&mut self, path: &str, body: Bytes) -> Result<(u16, hyper::body::Incoming), String> {
        self.sender.ready().await.map_err(|e| format!("http: {e}"))?;
        let req = self.request(path, body)?;
        let resp = self.sender.send_request(req).await.map_err(|e| format!("http: {e}"))?;
        Ok((resp.status().as_u16(), resp.into_body()))
    }
}

/// Dial `host:port` directly.
pub async fn dial_direct(host: &str, port: u16, timeout: Duration) -> Result<BoxIo, String> {
    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| format!("connect {host}:{port}: timed out after {:.1}s", timeout.as_secs_f64()))?
        .map_err(|e| format!("connect {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    Ok(Box::new(tcp))
}

/// rustls' errors, in the words an operator needs (an expired client certificate, an unknown CA...).
fn tls_reason(e: &io::Error) -> String {
    let s = e.to_string();
    if s.contains("UnknownIssuer") {
        "the member's certificate is not signed by the etcd CA kockpit uses".into()
    } else if s.contains("Expired") && !s.contains("received fatal alert") {
        format!("the member's certificate has expired ({s})")
    } else if s.contains("BadCertificate") || s.contains("CertificateRequired") || s.contains("fatal alert") {
        format!("the member refused kockpit's client certificate ({s})")
    } else {
        s
    }
}
