//! A host's facts pushed, not polled: one long-running read-only command prints them every interval
//! ([`crate::transport::scripts::FACTS_WATCH_SCRIPT`]) on a channel of the SSH connection kockpit
//! holds, instead of a command per poll. A stream that fails or ends is said in the source (`ssh m1;
//! ssh stream FAILED: ...; polling every 1 s`), the host is polled at the interval meanwhile (the same
//! script, [`super::hosts::probe_host`]), and the stream is started again with backoff.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use super::parse::parse_host_facts;
use crate::backend::BackendEvent;
use crate::model::{HostFacts, Observation, Payload, notes};
use crate::retry::Backoff;
use crate::transport::scripts::FACTS_WATCH_SCRIPT;
use crate::transport::ssh::{SshPool, StreamChunk, script_command, show_secs};

/// One host's facts task: where, how often, and where to send them.
pub struct FactsTask {
    pub pool: SshPool,
    pub name: String,
    pub ssh_host: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub budget_ms: u64,
    /// Stream (else poll only, as a fleet's clusters that are not open do).
    pub stream: bool,
}

/// Frames of the facts stream: the lines from `@@date` to `@@end`, each with the local clock when its
/// `@@date` arrived (the remote `date` ran just before: the clock comparison's other side).
#[derive(Default)]
pub struct Frames {
    buf: Vec<u8>,
    frame: String,
    started: Option<f64>,
}

impl Frames {
    /// Feed bytes as they arrive at `now` (seconds since the epoch); the frames they complete.
    pub fn feed(&mut self, data: &[u8], now: f64) -> Vec<(String, Option<f64>)> {
        let mut out = Vec::new();
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line == "@@date" {
                self.frame.clear();
                self.started = Some(now);
            }
            if self.started.is_none() {
                continue;
            }
            self.frame.push_str(line);
            self.frame.push('\n');
            if line == "@@end" {
                out.push((std::mem::take(&mut self.frame), self.started.take()));
            } else if self.frame.len() > 256 * 1024 {
                // a frame never ends: drop it, keep the memory bounded
                self.frame.clear();
                self.started = None;
            }
        }
        if self.buf.len() > 64 * 1024 {
            self.buf.clear();
        }
        out
    }
}

fn now_epoch() -> f64 {
    let t = Utc::now();
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

/// Run `t` until the app hangs up: stream the facts, poll while the stream is down.
pub async fn run(t: FactsTask, tx: mpsc::Sender<BackendEvent>) {
    let mut backoff = Backoff::new(Duration::from_secs(1), 2.0, Duration::from_secs(30)).with_jitter(0.2);
    let secs = t.interval.as_secs().clamp(1, 3600).to_string();
    let cmd = script_command(FACTS_WATCH_SCRIPT, &[secs.as_str()]);
    let send = |source: String, result: Result<HostFacts, String>| {
        let o = Observation::now(source, t.budget_ms, Payload::Host { host: t.name.clone(), result });
        let tx = tx.clone();
        async move { tx.send(BackendEvent::Obs(o)).await.is_ok() }
    };
    let mut why: Option<String> = None;
    loop {
        if t.stream {
            let ended = tokio::select! {
                r = stream_once(&t, &cmd, &send, &mut backoff) => r,
                _ = tx.closed() => return,
            };
            match ended {
                Ok(reason) => why = Some(reason),
                Err(()) => return,
            }
            tracing::info!(host = %t.name, "{}", why.as_deref().unwrap_or(""));
        }
        // polled meanwhile: until the stream is tried again, or for ever when there is none
        let until = t.stream.then(|| tokio::time::Instant::now() + backoff.next_delay());
        let mut ticker = tokio::time::interval(t.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = tx.closed() => return,
            }
            if until.is_some_and(|u| tokio::time::Instant::now() >= u) {
                break;
            }
            let result = super::hosts::probe_host(&t.pool, &t.ssh_host, t.timeout).await;
            let mut source = format!("ssh {}", t.name);
            if let Some(w) = &why {
                source += &format!("; {}; polling every {}", notes::stream_failed("ssh", w), show_secs(t.interval.as_secs_f64()));
            }
            if !send(source, result).await {
                return;
            }
        }
    }
}

/// One run of the stream: every frame sent as an observation. Ok(why it ended), Err(()) when the app
/// hung up.
async fn stream_once<F, Fut>(t: &FactsTask, cmd: &str, send: &F, backoff: &mut Backoff) -> Result<String, ()>
where
    F: Fn(String, Result<HostFacts, String>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut stream = match t.pool.stream(&t.ssh_host, cmd, t.timeout).await {
        Ok(s) => s,
        Err(e) => return Ok(super::ssh_reason(&e)),
    };
    // from the command started to its first frame (the connection's own login is counted apart)
    let opened = std::time::Instant::now();
    let mut frames = Frames::default();
    let (mut stderr, mut any) = (String::new(), false);
    let source = format!("ssh {}; facts streamed", t.name);
    // no frame for three intervals (and the command timeout): the stream is stuck, not slow
    let stuck = t.interval * 3 + t.timeout;
    loop {
        let chunk = match tokio::time::timeout(stuck, stream.next()).await {
            Ok(c) => c,
            Err(_) => return Ok(format!("facts stream stuck: nothing for {}", show_secs(stuck.as_secs_f64()))),
        };
        match chunk {
            Some(StreamChunk::Stdout(d)) => {
                for (text, at) in frames.feed(&d, now_epoch()) {
                    if !any {
                        any = true;
                        // the shell's start-up files ran before the first frame: a slow one is said
                        t.pool.note_stream_start(&stream, opened.elapsed());
                    }
                    let result = parse_host_facts(&text, at).map_err(|e| e.to_string());
                    if !send(source.clone(), result).await {
                        return Err(());
                    }
                }
            }
            Some(StreamChunk::Stderr(d)) => {
                if let Some(l) = String::from_utf8_lossy(&d).lines().rev().find(|l| !l.trim().is_empty()) {
                    stderr = l.chars().take(200).collect();
                }
            }
            None => break,
        }
    }
    // it ran steadily: the next start comes after the shortest wait
    if any && opened.elapsed() >= super::watch::STEADY {
        backoff.reset();
    }
    Ok(stream.end_reason("facts stream", any, &stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_from_date_to_end_whatever_the_chunks() {
        let mut f = Frames::default();
        assert!(f.feed(b"noise before\n@@date\n1796398264.0", 100.0).is_empty(), "a frame in progress");
        let out = f.feed(b"02\n@@hostname\nlb1\n@@end\n@@date\n", 101.0);
        assert_eq!(out, vec![("@@date\n1796398264.002\n@@hostname\nlb1\n@@end\n".to_string(), Some(100.0))]);
        let out = f.feed(b"5\n@@end\n", 102.0);
        assert_eq!(out, vec![("@@date\n5\n@@end\n".to_string(), Some(101.0))], "timed by its @@date");
        // a frame that never ends is dropped, not kept growing
        f.feed(b"@@date\n", 103.0);
        for _ in 0..300 {
            f.feed(&[b'x'; 1023], 103.0);
            f.feed(b"\n", 103.0);
        }
        assert!(f.frame.len() <= 256 * 1024 + 1024 && f.buf.len() <= 64 * 1024);
        assert_eq!(f.feed(b"@@date\n1\n@@end\n", 104.0).len(), 1, "and the next frame is read");
    }
}
