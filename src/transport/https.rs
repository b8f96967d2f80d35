//! HTTPS GETs from where kockpit runs: an apiserver's `/readyz` (directly or through the VIP), over
//! tokio-rustls with hyper's HTTP/1.1 client (so chunked and length-delimited bodies are decoded the
//! same way), and the TLS client config that records whatever certificate a server presents.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use crate::model::Readyz;

/// At most this much of a body is kept (a /readyz answer is a few hundred bytes, `?verbose` a few KB).
const BODY_LIMIT: usize = 64 * 1024;
/// At most this many characters of a failed /readyz go into its detail.
const DETAIL_CHARS: usize = 160;

/// GET https://addr:port/readyz without certificate verification (the point is the answer, not trust:
/// nothing secret is sent). `timeout` bounds connect, TLS handshake and the whole response.
pub async fn probe_readyz(addr: IpAddr, port: u16, timeout: Duration) -> Result<Readyz, String> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, get(SocketAddr::new(addr, port), "/readyz")).await {
        Ok(Ok((status, body))) => {
            let ok = status == 200;
            let detail = readyz_detail(ok, &body);
            Ok(Readyz { ok, status, detail, latency_ms: started.elapsed().as_secs_f64() * 1000.0 })
        }
        Ok(Err(e)) => Err(format!("https {addr}:{port}: {e}")),
        Err(_) => Err(format!("https {addr}:{port}: no answer in {:.1}s", timeout.as_secs_f64())),
    }
}

/// What an operator reads of a /readyz answer: its first line when ready, else the failed checks
/// (`[-]...`) or the first line, bounded.
fn readyz_detail(ok: bool, body: &str) -> String {
    if ok {
        body.trim().lines().next().unwrap_or("ok").to_string()
    } else {
        let failed: Vec<&str> = body.lines().filter(|l| l.starts_with("[-]")).collect();
        let text = if failed.is_empty() { body.trim().lines().next().unwrap_or("").to_string() } else { failed.join("; ") };
        text.chars().take(DETAIL_CHARS).collect()
    }
}

/// `GET path` on `sa` over TLS (any certificate accepted, see [`tls_config`]): the status and the
/// decoded body as text (at most [`BODY_LIMIT`] bytes of it). Unbounded in time: callers wrap it.
async fn get(sa: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let tcp = tokio::net::TcpStream::connect(sa).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::IpAddress(sa.ip().into());
    let tls = TlsConnector::from(tls_config()).connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tls)).await.map_err(http_reason)?;
    let exchange = async move {
        let req = http::Request::get(path)
            .header(http::header::HOST, sa.to_string())
            .header(http::header::USER_AGENT, concat!("kockpit/", env!("CARGO_PKG_VERSION")))
            .header(http::header::ACCEPT, "*/*")
            .header(http::header::CONNECTION, "close")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(http_reason)?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut buf = Vec::with_capacity(1024);
        while buf.len() < BODY_LIMIT {
            match body.frame().await {
                None => break,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        buf.extend_from_slice(&data);
                    }
                }
                // servers that close without close_notify or mid-body: keep what arrived
                Some(Err(_)) if !buf.is_empty() => break,
                Some(Err(e)) => return Err(http_reason(e)),
            }
        }
        buf.truncate(BODY_LIMIT);
        Ok((status, String::from_utf8_lossy(&buf).into_owned()))
    };
    // the connection is driven alongside the exchange, in this future: dropping it (a timeout) drops
    // the connection too, and the body frames it has buffered stay readable after it ends
    let drive = async move {
        let _ = conn.await;
        std::future::pending::<()>().await
    };
    tokio::select! {
        r = exchange => r,
        () = drive => unreachable!("never completes"),
    }
}

/// hyper's error with its causes ("connection closed before message completed", "invalid HTTP
/// version parsed"...).
fn http_reason(e: hyper::Error) -> String {
    let mut s = format!("http: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

/// A TLS client that records whatever certificate a server presents (the lab's self-signed ones, an
/// expired one: exactly what the probes want to see) while still checking handshake signatures.
pub fn tls_config() -> Arc<rustls::ClientConfig> {
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
mod tests;
