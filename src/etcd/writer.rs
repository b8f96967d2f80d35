//! The etcd client a drill runs to show that a change keeps etcd writable: it writes a key every
//! [`ETCD_WRITE_EVERY_MS`] under [`ETCD_WRITE_PREFIX`] through the member that leads (as a client
//! that follows the leader does), each result an observation; stopped, it deletes its keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use data_encoding::BASE64;
use tokio::sync::{mpsc, watch};

use super::{EtcdProbe, EtcdSettings, Tunnel};
use crate::backend::BackendEvent;
use crate::model::{EtcdMember, Observation, Payload};
use crate::ops::{ETCD_WRITE_EVERY_MS, ETCD_WRITE_PREFIX, WriteCap};
use crate::transport::Remote;

/// How long one write may take before it counts as failed (a client's request timeout; a member
/// mid-defrag holds writes for about a second per GB).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A running client: its stop switch, and the task that ends with its count and whether its keys
/// were deleted.
pub type Running = (watch::Sender<bool>, tokio::task::JoinHandle<(WriteCount, Result<(), String>)>);

/// What the client did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteCount {
    pub ok: u64,
    pub failed: u64,
    pub slowest_ms: f64,
}

/// The body of a put of `key` = `value` for the v3 gateway.
pub fn put_body(key: &str, value: &[u8]) -> Vec<u8> {
    serde_json::json!({ "key": BASE64.encode(key.as_bytes()), "value": BASE64.encode(value) }).to_string().into_bytes()
}

/// The body of a delete of every key under `prefix` (its range end: the prefix with its last byte
/// raised by one, as `etcdctl del --prefix` sends).
pub fn delete_prefix_body(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            break;
        }
    }
    serde_json::json!({ "key": BASE64.encode(prefix.as_bytes()), "range_end": BASE64.encode(&end) }).to_string().into_bytes()
}

fn obs(payload: Payload) -> BackendEvent {
    BackendEvent::Obs(Observation::now("etcd writer", 3_000, payload))
}

/// The member to write through: the leader the last status read named, else any that answered.
fn target(probe_view: &Option<crate::model::EtcdView>) -> Option<EtcdMember> {
    let v = probe_view.as_ref()?;
    v.leader().or_else(|| v.members.iter().find(|m| m.reachable)).cloned()
}

/// Write until `stop` is set, then delete the keys. Each write is reported as
/// [`Payload::EtcdWrite`]; the count, and whether the keys were deleted, is returned.
pub async fn run(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: WriteCap,
    tx: mpsc::Sender<BackendEvent>,
    mut stop: watch::Receiver<bool>,
) -> (WriteCount, Result<(), String>) {
    let mut probe = EtcdProbe::new(settings, remote, tunnel);
    let mut view = probe.poll().await.ok();
    let mut count = WriteCount::default();
    let every = Duration::from_millis(ETCD_WRITE_EVERY_MS);
    let mut i: u64 = 0;
    while !*stop.borrow() {
        let started = Instant::now();
        let result = match target(&view) {
            None => Err("no etcd member answers".to_string()),
            Some(m) => {
                let body = put_body(&format!("{ETCD_WRITE_PREFIX}{i}"), Utc::now().to_rfc3339().as_bytes());
                match probe.post_to_member_within(&m, "/v3/kv/put", body, &cap, WRITE_TIMEOUT).await {
                    Ok((200, _)) => Ok(started.elapsed().as_secs_f64() * 1000.0),
                    Ok((code, b)) => Err(format!("{}: HTTP {code}: {}", m.name, super::ops::gateway_error(&b).unwrap_or_default())),
                    Err(e) => Err(format!("{}: {e}", m.name)),
                }
            }
        };
        match &result {
            Ok(ms) => {
                count.ok += 1;
                count.slowest_ms = count.slowest_ms.max(*ms);
            }
            Err(_) => {
                count.failed += 1;
                // the leader may have changed: read the status again before the next write
                view = probe.poll().await.ok();
            }
        }
        if tx.send(obs(Payload::EtcdWrite(result))).await.is_err() {
            break;
        }
        i += 1;
        tokio::select! {
            _ = tokio::time::sleep(every.saturating_sub(started.elapsed())) => {}
            _ = stop.changed() => {}
        }
    }
    // its keys go, through any member that answers (a failed delete is said, not hidden)
    let view = probe.poll().await.ok();
    let deleted = match target(&view) {
        None => Err("no etcd member answers to delete the keys".to_string()),
        Some(m) => {
            match probe.post_to_member_within(&m, "/v3/kv/deleterange", delete_prefix_body(ETCD_WRITE_PREFIX), &cap, WRITE_TIMEOUT).await {
                Ok((200, _)) => Ok(()),
                Ok((code, b)) => Err(format!("HTTP {code}: {}", super::ops::gateway_error(&b).unwrap_or_default())),
                Err(e) => Err(e),
            }
        }
    };
    (count, deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_what_the_gateway_takes() {
        let v: serde_json::Value = serde_json::from_slice(&put_body("/k", b"v")).unwrap();
        assert_eq!((v["key"].as_str(), v["value"].as_str()), (Some("L2s="), Some("dg==")));
        let v: serde_json::Value = serde_json::from_slice(&delete_prefix_body("/kockpit/a/")).unwrap();
        let end = BASE64.decode(v["range_end"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(end, b"/kockpit/a0", "the prefix with its last byte raised");
        let v: serde_json::Value = serde_json::from_slice(&delete_prefix_body("a\u{7f}")).unwrap();
        assert_eq!(BASE64.decode(v["range_end"].as_str().unwrap().as_bytes()).unwrap(), b"a\x80");
    }
}
