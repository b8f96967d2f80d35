//! Host logs over SSH: a unit's journal (`journalctl -u UNIT -f -o short-iso-precise`) or a file
//! (`tail -n N -F PATH`), streamed line by line on an exec channel of the SSH pool.
//!
//! Every tail is one constant script ([`TAIL_SCRIPT`]) run as `sh -c 'SCRIPT' kockpit 'KIND' 'WHAT'
//! 'LINES' 'FOLLOW'`: the unit or path is data the script only uses quoted, so the command is in the
//! read-only set and a read-only pool tails too. The script checks what it can before tailing (journalctl
//! installed, the unit known, the file there) and reports on stderr; it watches its standard input,
//! which reaches end of file when kockpit closes the channel, and ends the tail then: closing a source
//! leaves nothing running on the host.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use crate::backend::BackendEvent;
use crate::logs::spec::{LogSpec, LogState, LogStatus, MAX_TAIL};
use crate::logs::{LineSplitter, LogLine, line_of};
use crate::transport::ssh::{SshPool, StreamChunk, script_command};

pub use crate::transport::scripts::TAIL_SCRIPT;

/// The command that tails `spec` (a journal or file source), or why there is none.
pub fn tail_command(spec: &LogSpec, lines: u32, follow: bool) -> Result<String, String> {
    spec.validate()?;
    let n = lines.min(MAX_TAIL).to_string();
    let f = if follow { "1" } else { "0" };
    match spec {
        LogSpec::Journal { unit, .. } => Ok(script_command(TAIL_SCRIPT, &["journal", unit, &n, f])),
        LogSpec::File { path, .. } => Ok(script_command(TAIL_SCRIPT, &["file", path, &n, f])),
        _ => Err(format!("{}: not a host source", spec.label())),
    }
}

/// Tail `spec` on `ssh_host` until it ends or the task is dropped; lines and status go to `tx` (a slow
/// consumer slows the stream: SSH flow control holds the remote side). Returns the lines sent.
#[allow(clippy::too_many_arguments)] // one call site per backend; a struct would only rename them
pub async fn tail_host(
    pool: SshPool,
    ssh_host: String,
    id: u64,
    spec: LogSpec,
    lines: u32,
    follow: bool,
    open_timeout: Duration,
    tx: mpsc::Sender<BackendEvent>,
) -> u64 {
    let tag: Arc<str> = Arc::from(spec.label());
    let status = |state: LogState| BackendEvent::LogSource(LogStatus { id, source: tag.clone(), state });
    let cmd = match tail_command(&spec, lines, follow) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(status(LogState::Failed(e))).await;
            let _ = tx.send(status(LogState::Closed)).await;
            return 0;
        }
    };
    let mut stream = match pool.stream(&ssh_host, &cmd, open_timeout).await {
        Ok(s) => s,
        Err(e) => {
            let why = crate::probe::ssh_reason(&e);
            let _ = tx.send(status(LogState::Failed(format!("ssh {ssh_host}: {}", why.trim_start_matches("ssh: "))))).await;
            let _ = tx.send(status(LogState::Closed)).await;
            return 0;
        }
    };
    if tx.send(status(LogState::Streaming)).await.is_err() {
        return 0;
    }
    let (mut out, mut err) = (LineSplitter::default(), LineSplitter::default());
    let mut stderr_last = String::new();
    let mut sent = 0u64;
    let mut batch = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            StreamChunk::Stdout(d) => {
                out.feed(&d, &mut batch);
                for l in batch.drain(..) {
                    if tx.send(BackendEvent::Log(line_of(&tag, l))).await.is_err() {
                        return sent;
                    }
                    sent += 1;
                }
            }
            StreamChunk::Stderr(d) => {
                err.feed(&d, &mut batch);
                for l in batch.drain(..) {
                    // the script's and the tail's own messages: shown, marked
                    stderr_last.clone_from(&l);
                    let line = LogLine { at: Utc::now(), source: tag.clone(), text: format!("!! {l}") };
                    if tx.send(BackendEvent::Log(line)).await.is_err() {
                        return sent;
                    }
                }
            }
        }
    }
    if let Some(l) = out.finish() {
        let _ = tx.send(BackendEvent::Log(line_of(&tag, l))).await;
        sent += 1;
    }
    let state = match stream.exit() {
        Ok(Some(0)) => LogState::Ended(if follow { "the tail ended".into() } else { format!("{sent} lines read") }),
        Ok(Some(code)) => {
            let why = if stderr_last.is_empty() { format!("exit status {code}") } else { stderr_last };
            LogState::Failed(format!("ssh {ssh_host}: {why}"))
        }
        Ok(None) => LogState::Ended("the channel closed".into()),
        Err(e) => LogState::Failed(format!("ssh {ssh_host}: {e}")),
    };
    let _ = tx.send(status(state)).await;
    let _ = tx.send(status(LogState::Closed)).await;
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::ssh::is_read_only;

    fn journal(unit: &str) -> LogSpec {
        LogSpec::Journal { host: "m1".into(), unit: unit.into() }
    }

    #[test]
    fn commands_are_quoted_and_read_only() {
        let c = tail_command(&journal("etcd"), 100, true).unwrap();
        assert!(c.ends_with(" kockpit 'journal' 'etcd' '100' '1'"), "{c}");
        assert!(is_read_only(&c), "a read-only pool tails: {c}");
        let f = tail_command(&LogSpec::File { host: "lb1".into(), path: "/var/log/it's.log".into() }, 5, false).unwrap();
        assert!(f.ends_with(r" kockpit 'file' '/var/log/it'\''s.log' '5' '0'"), "{f}");
        assert!(is_read_only(&f));
        assert!(tail_command(&journal("etcd; reboot"), 1, true).is_err(), "bad unit names never make a command");
        assert!(tail_command(&LogSpec::File { host: "lb1".into(), path: "relative".into() }, 1, true).is_err());
        assert!(tail_command(&LogSpec::Pod { namespace: "a".into(), pod: "b".into(), container: None, previous: false }, 1, true).is_err());
        let huge = tail_command(&journal("kubelet"), u32::MAX, true).unwrap();
        assert!(huge.contains(&format!("'{MAX_TAIL}'")), "{huge}");
        // something else after the fixed form is not in the set
        assert!(!is_read_only(&format!("{c}; touch /tmp/x")));
    }

    /// The script run by a local shell with a fake journalctl and systemctl on PATH: the forms it
    /// builds, its checks, and that closing its standard input ends the tail.
    #[test]
    fn the_script_in_a_real_shell() {
        use std::process::{Command, Stdio};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = |name: &str, body: &str| {
            let p = bin.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::process::Command::new("chmod").arg("+x").arg(&p).status().unwrap();
        };
        fake("journalctl", r#"echo "journalctl $*""#);
        fake("systemctl", r#"case "$*" in *nosuch*) echo not-found;; *) echo loaded;; esac"#);
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        // stdin stays open while the command runs, as an SSH channel's does (its end of file means
        // "the source was closed")
        let run = |args: &[&str]| {
            let (stdin, _keep_open) = std::io::pipe().unwrap();
            let out =
                Command::new("sh").arg("-c").arg(TAIL_SCRIPT).arg("kockpit").args(args).env("PATH", &path).stdin(stdin).output().unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let (code, out, _) = run(&["journal", "etcd", "50", "1"]);
        assert_eq!(code, Some(0));
        assert_eq!(out.trim(), "journalctl -q --no-pager -f -n 50 -o short-iso-precise -u etcd");
        let (_, out, _) = run(&["journal", "kubelet", "7", "0"]);
        assert_eq!(out.trim(), "journalctl -q --no-pager -n 7 -o short-iso-precise -u kubelet");
        let (code, _, err) = run(&["journal", "nosuch", "7", "1"]);
        assert_eq!((code, err.trim()), (Some(4), "unit nosuch is not known on this host"));
        let (code, _, err) = run(&["journal", "etcd", "7; reboot", "1"]);
        assert_eq!((code, err.trim()), (Some(2), "bad line count"));
        // a host without journal files says so instead of waiting forever
        fake("journalctl", r#"echo "No journal files were found." >&2"#);
        let (code, out, err) = run(&["journal", "etcd", "1", "1"]);
        assert_eq!((code, out.as_str(), err.trim()), (Some(3), "", "no systemd journal on this host (no journal files)"));
        // journalctl without short-iso-precise (systemd < 234): short-iso
        fake("journalctl", r#"case "$*" in *precise*) exit 1;; esac; echo "journalctl $*""#);
        let (_, out, _) = run(&["journal", "etcd", "1", "1"]);
        assert_eq!(out.trim(), "journalctl -q --no-pager -f -n 1 -o short-iso -u etcd");

        let file = dir.join("app.log");
        std::fs::write(&file, "one\ntwo\nthree\n").unwrap();
        let (code, out, _) = run(&["file", file.to_str().unwrap(), "2", "0"]);
        assert_eq!((code, out.as_str()), (Some(0), "two\nthree\n"));
        let (code, _, err) = run(&["file", dir.join("missing").to_str().unwrap(), "2", "0"]);
        assert_eq!(code, Some(1));
        assert!(err.contains("cannot read"), "{err}");

        // follow: the tail runs until standard input closes, then nothing is left running
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(TAIL_SCRIPT)
            .arg("kockpit")
            .args(["file", file.to_str().unwrap(), "1", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 6];
        std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
        assert_eq!(&first, b"three\n");
        std::thread::sleep(Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "following");
        drop(child.stdin.take());
        let t = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(t.elapsed() < Duration::from_secs(5), "the tail did not end when its input closed");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        assert_eq!(rest, "", "stdout closed: no tail process holds it");
    }

    #[test]
    fn lines_split_across_chunks() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.feed(b"2026-11-24T13:05:01.000001+0000 m1 etcd[1]: a\r\nb", &mut out);
        assert_eq!(out, ["2026-11-24T13:05:01.000001+0000 m1 etcd[1]: a"]);
        s.feed(b"c\n\xffd\n", &mut out);
        assert_eq!(out[1..], ["bc".to_string(), "\u{fffd}d".to_string()]);
        s.feed(b"tail", &mut out);
        assert_eq!(s.finish().as_deref(), Some("tail"));
        assert_eq!(s.finish(), None);
        let tag: Arc<str> = Arc::from("journal m1 etcd");
        let l = line_of(&tag, out[0].clone());
        assert_eq!(l.text, "m1 etcd[1]: a");
        assert_eq!(l.at.to_rfc3339(), "2026-11-24T13:05:01.000001+00:00");
    }
}
