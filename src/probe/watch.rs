//! Address events streamed from the load balancers over the SSH connections kockpit already holds:
//! `ip -o monitor address` on each host running keepalived. A line about the VIP (the new owner's
//! address added, the old owner's deleted) makes the VRRP probe of that host look at once, so a move
//! reaches the model as the kernel makes it instead of at the next poll. The probe stays the one
//! source of the facts; the stream only says when to look. While a host's stream runs, its poll
//! slows to [`STREAMED_POLL`]; a stream that fails is marked failed with its reason, the host is
//! polled at the normal interval again, and the stream is restarted with backoff (looked at once as
//! soon as it runs again, so nothing between is lost).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::retry::Backoff;
use crate::transport::readonly::script_command;
use crate::transport::scripts;
use crate::transport::ssh::{SshPool, StreamChunk};

/// The poll of a host whose address stream runs: the consistency check, not the detector.
pub const STREAMED_POLL: Duration = Duration::from_secs(5);

/// A host's address stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchState {
    Starting,
    Up,
    Failed(String),
}

/// Every watched host's stream state, shared between the streams and the VRRP rounds.
#[derive(Debug, Clone, Default)]
pub struct WatchStates(Arc<Mutex<HashMap<String, WatchState>>>);

impl WatchStates {
    pub fn set(&self, host: &str, s: WatchState) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(host.to_string(), s);
        }
    }

    pub fn get(&self, host: &str) -> Option<WatchState> {
        self.0.lock().ok().and_then(|m| m.get(host).cloned())
    }

    /// Whether `host`'s stream runs (its poll may slow down).
    pub fn is_up(&self, host: &str) -> bool {
        self.get(host) == Some(WatchState::Up)
    }
}

/// Whether a line of `ip -o monitor address` is about `vip` (any address line when there is none).
pub fn names_vip(line: &str, vip: Option<IpAddr>) -> bool {
    let Some(vip) = vip else { return line.contains(" inet") };
    let want = vip.to_string();
    line.split_whitespace().any(|w| w.split('/').next() == Some(want.as_str()))
}

/// Follow `ssh_host`'s address events until `pokes` closes, sending `name` on `pokes` for every line
/// about the VIP and once whenever the stream (re)starts.
pub async fn watch_addresses(
    pool: SshPool,
    name: String,
    ssh_host: String,
    vip: Option<IpAddr>,
    states: WatchStates,
    pokes: mpsc::UnboundedSender<String>,
    open_timeout: Duration,
) {
    let mut backoff = Backoff::new(Duration::from_secs(1), 2.0, Duration::from_secs(30)).with_jitter(0.2);
    let cmd = script_command(scripts::ADDR_WATCH_SCRIPT, &[]);
    while !pokes.is_closed() {
        states.set(&name, WatchState::Starting);
        let why = match pool.stream(&ssh_host, &cmd, open_timeout).await {
            Err(e) => super::ssh_reason(&e),
            Ok(mut stream) => {
                let (mut buf, mut stderr) = (Vec::<u8>::new(), String::new());
                let mut up = false;
                loop {
                    let chunk = tokio::select! {
                        c = stream.next() => c,
                        _ = pokes.closed() => return,
                    };
                    match chunk {
                        Some(StreamChunk::Stdout(d)) => {
                            buf.extend_from_slice(&d);
                            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                                let line: Vec<u8> = buf.drain(..=i).collect();
                                let line = String::from_utf8_lossy(&line);
                                if line.trim_end() == "@@kockpit-watching" {
                                    up = true;
                                    backoff.reset();
                                    states.set(&name, WatchState::Up);
                                    // look once now that the stream runs: what changed while it did not
                                    let _ = pokes.send(name.clone());
                                } else if names_vip(&line, vip) {
                                    let _ = pokes.send(name.clone());
                                }
                            }
                            // a line never ends: keep the memory bounded
                            if buf.len() > 64 * 1024 {
                                buf.clear();
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
                let how = match stream.exit() {
                    Ok(Some(code)) => format!("exit status {code}"),
                    Ok(None) => "closed".to_string(),
                    Err(e) => e,
                };
                let what = if up { "address stream ended" } else { "address stream did not start" };
                if stderr.is_empty() { format!("{what}: {how}") } else { format!("{what}: {stderr} ({how})") }
            }
        };
        tracing::info!(host = %name, "{why}");
        states.set(&name, WatchState::Failed(why));
        // the host is polled at the normal interval meanwhile; a poke now reports the failure at once
        let _ = pokes.send(name.clone());
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = pokes.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_about_the_vip() {
        let vip: IpAddr = "10.77.0.100".parse().unwrap();
        let add = "3: lb1-eth0    inet 10.77.0.100/32 scope global lb1-eth0\\       valid_lft forever preferred_lft forever";
        let del = "Deleted 3: lb1-eth0    inet 10.77.0.100/32 scope global lb1-eth0\\       valid_lft forever preferred_lft forever";
        let other = "3: lb1-eth0    inet 10.77.0.1000/24 scope global lb1-eth0";
        let v6 = "3: lb1-eth0    inet6 fe80::1/64 scope link";
        assert!(names_vip(add, Some(vip)) && names_vip(del, Some(vip)));
        assert!(!names_vip(other, Some(vip)) && !names_vip(v6, Some(vip)));
        assert!(names_vip(other, None) && names_vip(v6, None));
    }

    #[test]
    fn states_are_shared() {
        let s = WatchStates::default();
        let t = s.clone();
        assert!(!s.is_up("lb1"));
        t.set("lb1", WatchState::Up);
        assert!(s.is_up("lb1"));
        t.set("lb1", WatchState::Failed("gone".into()));
        assert_eq!(s.get("lb1"), Some(WatchState::Failed("gone".into())));
    }
}
