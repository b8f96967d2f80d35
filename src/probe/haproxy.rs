//! The haproxy probe: `show stat` over the admin socket of every host that runs haproxy, and, to
//! compare with haproxy's view, a direct HTTPS GET /readyz on every apiserver from where kockpit runs.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use super::parse::parse_show_stat;
use crate::model::{BackendServer, Readyz};
use crate::transport::ssh::{SshPool, script_command};

pub use crate::transport::scripts::SHOW_STAT_SCRIPT;

/// `show stat` on one host, filtered to `backend` ("" = every backend).
pub async fn probe_haproxy(
    pool: &SshPool,
    ssh_host: &str,
    socket: &str,
    backend: &str,
    timeout: Duration,
) -> Result<Vec<BackendServer>, String> {
    let socket = if socket.is_empty() { "/run/haproxy/admin.sock" } else { socket };
    let out = pool
        .run_persistent(ssh_host, "haproxy", &script_command(SHOW_STAT_SCRIPT, &[socket]), timeout)
        .await
        .map_err(|e| super::ssh_reason(&e))?;
    if !out.success() {
        let why = out.stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output");
        return Err(format!("haproxy: {why}"));
    }
    parse_show_stat(&out.stdout, backend).map_err(|e| e.to_string())
}

/// GET https://addr:port/readyz without certificate verification (the point is the answer, not trust:
/// nothing secret is sent).
pub async fn probe_readyz(addr: IpAddr, port: u16, timeout: Duration) -> Result<Readyz, String> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, readyz(SocketAddr::new(addr, port))).await {
        Ok(Ok((status, body))) => {
            let ok = status == 200;
            let detail = if ok {
                body.trim().lines().next().unwrap_or("ok").to_string()
            } else {
                let failed: Vec<&str> = body.lines().filter(|l| l.starts_with("[-]")).collect();
                let text = if failed.is_empty() { body.trim().lines().next().unwrap_or("").to_string() } else { failed.join("; ") };
                text.chars().take(160).collect()
            };
            Ok(Readyz { ok, status, detail, latency_ms: started.elapsed().as_secs_f64() * 1000.0 })
        }
        Ok(Err(e)) => Err(format!("https {addr}:{port}: {e}")),
        Err(_) => Err(format!("https {addr}:{port}: no answer in {:.1}s", timeout.as_secs_f64())),
    }
}

async fn readyz(sa: SocketAddr) -> Result<(u16, String), String> {
    let tcp = tokio::net::TcpStream::connect(sa).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::IpAddress(sa.ip().into());
    let mut tls = TlsConnector::from(tls_config()).connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?;
    let req = format!(
        "GET /readyz HTTP/1.1\r\nHost: {sa}\r\nUser-Agent: kockpit/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    tls.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        match tls.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // servers that close without close_notify: keep what arrived
            Err(_) if !buf.is_empty() => break,
            Err(e) => return Err(e.to_string()),
        }
        if response_complete(&buf) || buf.len() > 64 * 1024 {
            break;
        }
    }
    parse_response(&buf)
}

fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = find(buf, b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&buf[..end]);
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok()).flatten()
    });
    len.is_some_and(|n| buf.len() >= end + 4 + n)
}

fn parse_response(buf: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(buf);
    let status_line = text.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let (Some(proto), Some(code)) = (parts.next(), parts.next()) else { return Err("no HTTP response".into()) };
    if !proto.starts_with("HTTP/") {
        return Err(format!("not an HTTP response: {}", super::parse::excerpt(status_line, 40)));
    }
    let status: u16 = code.parse().map_err(|_| format!("bad HTTP status {}", super::parse::excerpt(code, 10)))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A TLS client that records whatever certificate a server presents (the lab's self-signed ones, an
/// expired one: exactly what the probes want to see) while still checking handshake signatures.
pub(crate) fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder =
                rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap_or_else(|_| {
                    rustls::ClientConfig::builder_with_provider(provider.clone())
                        .with_protocol_versions(&[&rustls::version::TLS13])
                        .expect("TLS 1.3 is supported by ring")
                });
            Arc::new(builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))).with_no_client_auth())
        })
        .clone()
}

/// Accepts any certificate, but still checks the handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_responses() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert!(response_complete(ok));
        assert_eq!(parse_response(ok).unwrap(), (200, "ok".to_string()));
        assert!(!response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok"));
        let bad = b"HTTP/1.1 500 Internal Server Error\r\n\r\n[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n";
        assert_eq!(parse_response(bad).unwrap().0, 500);
        for garbage in [&b""[..], b"SSH-2.0-OpenSSH\r\n", b"HTTP/1.1 abc\r\n\r\n", b"\xff\xfe"] {
            assert!(parse_response(garbage).is_err());
        }
    }

    #[tokio::test]
    async fn readyz_refused_is_an_error() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = probe_readyz("127.0.0.1".parse().unwrap(), port, Duration::from_secs(1)).await.unwrap_err();
        assert!(e.contains("127.0.0.1"), "{e}");
    }
}
