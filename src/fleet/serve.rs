//! `kockpit serve --metrics ADDR`: every cluster of the fleet probed for as long as it runs, read-only
//! (no write capability is ever made, every SSH pool and API client is the read-only kind), and the
//! Prometheus text format on `GET /metrics`. The HTTP side is the smallest that Prometheus needs: one
//! request per connection, its head bounded in size and time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Member;
use crate::backend::BackendEvent;
use crate::model::{Model, assess};
use crate::report::metrics::{self, Counters};

/// A request head larger than this is refused.
const HEAD_LIMIT: usize = 8 * 1024;
/// A client that has not sent its request head by then is dropped.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this much of the audit log's end is read for the last drills.
const AUDIT_TAIL: u64 = 4 * 1024 * 1024;

type Shared = Arc<Mutex<Vec<(String, Model, Counters)>>>;

/// Run until SIGTERM or SIGINT. `ready` is called with the bound address once it listens.
pub async fn serve(
    members: Vec<Member>,
    addr: SocketAddr,
    audit_log: Option<PathBuf>,
    session: &str,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let shared: Shared = Arc::new(Mutex::new(Vec::new()));
    let mut backends = vec![];
    for (i, m) in members.into_iter().enumerate() {
        // read-only by construction, whatever the configuration says
        let m = Member { readonly: true, ..m };
        let (backend, model) = super::start_or_explain(&m, Some(session), false);
        if let Ok(mut s) = shared.lock() {
            s.push((m.name.clone(), model, Counters::default()));
        }
        let BackendHandleParts { mut events, commands } = split(backend);
        backends.push(commands);
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                if let BackendEvent::Obs(o) = ev
                    && let Ok(mut s) = shared.lock()
                {
                    let (_, model, counters) = &mut s[i];
                    model.apply(o);
                    counters.observe(model);
                }
            }
        });
    }
    ready(bound);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            conn = listener.accept() => {
                let Ok((stream, _)) = conn else { continue };
                let shared = shared.clone();
                let audit = audit_log.clone();
                tokio::spawn(async move { answer(stream, shared, audit).await });
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    drop(backends);
    Ok(())
}

struct BackendHandleParts {
    events: tokio::sync::mpsc::Receiver<BackendEvent>,
    commands: tokio::sync::mpsc::UnboundedSender<crate::backend::Command>,
}

fn split(b: crate::backend::BackendHandle) -> BackendHandleParts {
    BackendHandleParts { events: b.events, commands: b.commands }
}

/// Read one request head and answer it.
async fn answer(mut stream: tokio::net::TcpStream, shared: Shared, audit: Option<PathBuf>) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 || head.len() + n > HEAD_LIMIT {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    let complete = matches!(tokio::time::timeout(HEAD_TIMEOUT, read).await, Ok(Some(())));
    let (status, kind, body) = if !complete {
        ("400 Bad Request", "text/plain", "incomplete or oversized request\n".to_string())
    } else {
        let line = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
        let mut words = line.split_whitespace();
        match (words.next(), words.next().map(|p| p.split('?').next().unwrap_or(p))) {
            (Some("GET" | "HEAD"), Some("/metrics")) => {
                ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics_text(&shared, audit.as_ref()))
            }
            (Some("GET" | "HEAD"), Some("/")) => {
                ("200 OK", "text/plain; charset=utf-8", format!("kockpit {} serves its metrics on /metrics\n", env!("CARGO_PKG_VERSION")))
            }
            (Some("GET" | "HEAD"), _) => ("404 Not Found", "text/plain", "not found: kockpit serves /metrics\n".into()),
            _ => ("405 Method Not Allowed", "text/plain", "kockpit serves GET (or HEAD) /metrics only\n".into()),
        }
    };
    // HEAD: the same head, no body
    let is_head = head.starts_with(b"HEAD ");
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if is_head { "" } else { body.as_str() }
    );
    let _ = tokio::time::timeout(HEAD_TIMEOUT, stream.write_all(resp.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// The metrics of every cluster now.
fn metrics_text(shared: &Shared, audit: Option<&PathBuf>) -> String {
    let drills = audit.map(|p| metrics::last_drills(&tail(p))).unwrap_or_default();
    let now = Utc::now();
    let Ok(s) = shared.lock() else { return String::new() };
    let assessed: Vec<_> = s.iter().map(|(n, m, c)| (n.as_str(), m, assess(m, now), c)).collect();
    let rows: Vec<_> = assessed.iter().map(|(n, m, a, c)| (*n, *m, a, *c)).collect();
    metrics::render(&rows, &drills, now)
}

/// The end of the audit log (at most [`AUDIT_TAIL`] bytes, from a line's start); empty when unreadable.
fn tail(p: &PathBuf) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(p) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return String::new();
    }
    let from = len.saturating_sub(AUDIT_TAIL);
    if f.seek(SeekFrom::Start(from)).is_err() {
        return String::new();
    }
    let mut text = String::new();
    let _ = f.take(AUDIT_TAIL).read_to_string(&mut text);
    if from > 0 {
        text = text.split_once('\n').map(|(_, r)| r.to_string()).unwrap_or_default();
    }
    text
}

/// For tests and benchmarks: the metrics of `models` as `/metrics` would answer them.
pub fn render_now(models: &[(String, Model)]) -> String {
    let now = Utc::now();
    let counters = Counters::default();
    let assessed: Vec<_> = models.iter().map(|(n, m)| (n.as_str(), m, assess(m, now))).collect();
    let rows: Vec<_> = assessed.iter().map(|(n, m, a)| (*n, *m, a, &counters)).collect();
    metrics::render(&rows, &BTreeMap::new(), now)
}
