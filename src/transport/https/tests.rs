use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::*;

/// A throw-away self-signed pair made for the unit tests (tests/fixtures/etcd/test-only-client.*).
const TEST_KEY: &str = include_str!("../../../tests/fixtures/etcd/test-only-client.key");
const TEST_CERT: &str = include_str!("../../../tests/fixtures/etcd/test-only-client.crt");

fn acceptor() -> TlsAcceptor {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(TEST_CERT.as_bytes()).collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(cfg))
}

/// A TLS server on 127.0.0.1 that reads one request head per connection, answers `response` byte
/// for byte (so the framing is exactly what the test wrote) and closes with close_notify.
async fn serve(response: Vec<u8>) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let acceptor = acceptor();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            let response = response.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut head = Vec::new();
                let mut b = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut b).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&b[..n]),
                    }
                }
                assert!(head.starts_with(b"GET /readyz HTTP/1.1\r\n"), "{}", String::from_utf8_lossy(&head));
                let _ = tls.write_all(&response).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

fn localhost() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

async fn get_local(port: u16) -> Result<(u16, String), String> {
    tokio::time::timeout(Duration::from_secs(5), get(SocketAddr::new(localhost(), port), "/readyz")).await.expect("answered in time")
}

#[tokio::test]
async fn ready_with_content_length() {
    let port = serve(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok".to_vec()).await;
    assert_eq!(get_local(port).await.unwrap(), (200, "ok".to_string()));
    let r = probe_readyz(localhost(), port, Duration::from_secs(5)).await.unwrap();
    assert!(r.ok);
    assert_eq!((r.status, r.detail.as_str()), (200, "ok"));
    assert!(r.latency_ms > 0.0 && r.latency_ms < 5000.0, "{}", r.latency_ms);
}

#[tokio::test]
async fn chunked_bodies_are_decoded() {
    let port = serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\no\r\n2\r\nk\n\r\n0\r\n\r\n".to_vec()).await;
    assert_eq!(get_local(port).await.unwrap(), (200, "ok\n".to_string()));
    let r = probe_readyz(localhost(), port, Duration::from_secs(5)).await.unwrap();
    assert!(r.ok);
    assert_eq!((r.status, r.detail.as_str()), (200, "ok"));
}

#[tokio::test]
async fn not_ready_names_the_failed_checks() {
    let body =
        "[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\n[-]poststarthook/rbac failed: reason withheld\nreadyz check failed\n";
    let resp = format!("HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let port = serve(resp.into_bytes()).await;
    assert_eq!(get_local(port).await.unwrap(), (500, body.to_string()));
    let r = probe_readyz(localhost(), port, Duration::from_secs(5)).await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.status, 500);
    assert_eq!(r.detail, "[-]etcd failed: reason withheld; [-]poststarthook/rbac failed: reason withheld");
}

#[tokio::test]
async fn bodies_and_details_are_bounded() {
    let line = "x".repeat(1000);
    let mut resp = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..100 {
        resp.extend_from_slice(format!("{:x}\r\n{line}\r\n", line.len()).as_bytes());
    }
    resp.extend_from_slice(b"0\r\n\r\n");
    let port = serve(resp).await;
    let (status, body) = get_local(port).await.unwrap();
    assert_eq!((status, body.len()), (503, BODY_LIMIT));
    let r = probe_readyz(localhost(), port, Duration::from_secs(5)).await.unwrap();
    assert_eq!((r.ok, r.status, r.detail.len()), (false, 503, DETAIL_CHARS));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // accepts TCP, then says nothing: no TLS handshake, no response
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((tcp, _)) = l.accept().await {
            conns.push(tcp);
        }
    });
    let started = Instant::now();
    let e = probe_readyz(localhost(), port, Duration::from_millis(300)).await.unwrap_err();
    let took = started.elapsed();
    assert!(e.contains("127.0.0.1") && e.contains("no answer in 0.3s"), "{e}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "{took:?}");
    held.abort();
}

#[tokio::test]
async fn not_http_is_an_error() {
    let port = serve(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()).await;
    let e = probe_readyz(localhost(), port, Duration::from_secs(5)).await.unwrap_err();
    assert!(e.contains("127.0.0.1") && e.contains("http"), "{e}");
}

#[tokio::test]
async fn readyz_refused_is_an_error() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let e = probe_readyz(localhost(), port, Duration::from_secs(1)).await.unwrap_err();
    assert!(e.contains("127.0.0.1"), "{e}");
}
