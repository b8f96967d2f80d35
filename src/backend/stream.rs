//! Line sources: anything that prints lines (journalctl over SSH, kubectl-style pod logs, `tail -F`, a
//! local process). Lines are timestamped from their own prefix when they carry one, else on arrival,
//! and sent with back-pressure: a slow consumer slows the reader, it never drops a line.

use std::sync::Arc;

use chrono::Utc;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use crate::backend::BackendEvent;
use crate::logs::{LogLine, split_timestamp};

/// Read lines from `reader` until it ends; returns how many were sent.
pub async fn pump<R: AsyncRead + Unpin>(reader: R, source: Arc<str>, tx: &mpsc::Sender<BackendEvent>) -> std::io::Result<u64> {
    let mut lines = BufReader::with_capacity(1 << 16, reader).lines();
    let mut n = 0;
    while let Some(l) = lines.next_line().await? {
        let (at, text) = match split_timestamp(&l) {
            Some((t, rest)) => (t, rest.to_string()),
            None => (Utc::now(), l),
        };
        if tx.send(BackendEvent::Log(LogLine { at, source: source.clone(), text })).await.is_err() {
            break;
        }
        n += 1;
    }
    Ok(n)
}

/// Run a local command and tail its standard output.
pub async fn tail_command(mut cmd: tokio::process::Command, source: Arc<str>, tx: mpsc::Sender<BackendEvent>) -> std::io::Result<u64> {
    cmd.stdout(std::process::Stdio::piped()).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let out = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
    let n = pump(out, source, &tx).await?;
    child.wait().await?;
    Ok(n)
}
