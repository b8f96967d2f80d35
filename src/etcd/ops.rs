//! Changes to etcd, as operations: each reads every member's status first and judges it with the
//! planner's own checks, records its intent durably, acts, then verifies on fresh status reads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{EtcdProbe, EtcdSettings, Tunnel};
use crate::backend::{BackendEvent, Reporter};
use crate::model::EtcdView;
use crate::ops::WriteCap;
use crate::ops::etcd_plan::{DEFRAG_PAUSE_SECS, defrag_checks, disarm_checks, mb, move_leader_checks};
use crate::transport::Remote;

/// How long a hand-over may take to show before the move is reported failed (etcd's own limit is an
/// election timeout, 1 s by default).
const VERIFY_WITHIN: Duration = Duration::from_secs(10);

fn leader_of(v: &EtcdView) -> Option<(String, u64)> {
    v.leader().map(|l| (l.name.clone(), l.raft_term))
}

/// Hand etcd's leadership to `to` (etcd's MoveLeader, sent to the leader), then verify that `to`
/// leads in a newer term. Returns whether it was verified.
pub async fn move_leader(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    to: &str,
    id: u64,
    tx: &mpsc::Sender<BackendEvent>,
) -> bool {
    let r = Reporter { id, tx: tx.clone() };
    let result = hand_over(settings, remote, tunnel, cap, to, id, &r).await;
    r.conclude(result).await
}

async fn hand_over(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    to: &str,
    id: u64,
    r: &Reporter,
) -> Result<String, String> {
    let mut probe = EtcdProbe::new(settings, remote, tunnel);
    let v = probe.poll().await.map_err(|e| format!("etcd's status could not be read ({e}): refused, nothing changed"))?;
    let c = move_leader_checks(&v, to);
    if !c.blockers.is_empty() {
        return Err(format!("refused, nothing changed: {}", c.blockers.join("; ")));
    }
    let (Some((from, _)), Some(target_id)) = (c.leader.clone(), c.target_id) else {
        return Err("refused, nothing changed: no leader or no such member".into());
    };
    let term = v.leader().map(|l| l.raft_term).unwrap_or(0);
    r.step(format!("status read: {from} leads in term {term}; {to} answers"), true).await;
    let leader = v.leader().cloned().expect("checked: a leader");
    let what = format!("move etcd's leadership from {from} to {to}");
    cap.intent(id, &what, &format!("etcd's leadership may have moved to {to}")).await?;
    let body = serde_json::json!({ "targetID": target_id.to_string() }).to_string().into_bytes();
    let started = Instant::now();
    match probe.post_to_member(&leader, "/v3/maintenance/transfer-leadership", body, cap).await {
        Ok((200, _)) => r.step(format!("{from} accepted the hand-over to {to}"), true).await,
        Ok((code, body)) => {
            let why = gateway_error(&body).unwrap_or_else(|| format!("HTTP {code}"));
            // a leader that changed since the read answers "not leader": nothing was moved by us
            return Err(format!("etcd refused the hand-over: {why}"));
        }
        Err(e) => {
            return Err(format!("the hand-over request to {from} failed ({e}): check the etcd panel for who leads now"));
        }
    }
    let mut last = String::from("no status yet");
    while started.elapsed() < VERIFY_WITHIN {
        match probe.poll().await {
            Ok(v) => match leader_of(&v) {
                Some((l, t)) if l == to && t > term => {
                    let ms = started.elapsed().as_millis();
                    return Ok(format!("{to} leads etcd (term {t}, was {from} in term {term}); verified after {ms} ms"));
                }
                Some((l, t)) => last = format!("{l} leads in term {t}"),
                None => last = "no leader (an election is under way)".into(),
            },
            Err(e) => last = format!("status: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("asked, but {to} does not lead after {} s: {last}", VERIFY_WITHIN.as_secs()))
}

/// How long one member's defrag may take (etcd's own client default is no limit; seconds per GB).
const DEFRAG_WITHIN: Duration = Duration::from_secs(300);

/// Defragment every member, one at a time, followers first and the leader last, with a pause between
/// members; abort when the leader changes unexpectedly, a member falls behind, or etcd has no leader.
/// `stop`: set to ask it to stop before the next member. Returns whether it was verified.
pub async fn defrag(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    id: u64,
    tx: &mpsc::Sender<BackendEvent>,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> bool {
    let r = Reporter { id, tx: tx.clone() };
    let result = defrag_all(settings, remote, tunnel, cap, &r, stop).await;
    r.conclude(result).await
}

async fn defrag_all(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    r: &Reporter,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Result<String, String> {
    let mut probe = EtcdProbe::new(settings, remote, tunnel);
    let v = probe.poll().await.map_err(|e| format!("etcd's status could not be read ({e}): refused, nothing changed"))?;
    let c = defrag_checks(&v);
    if !c.blockers.is_empty() {
        return Err(format!("refused, nothing changed: {}", c.blockers.join("; ")));
    }
    let Some((leader, term)) = leader_of(&v) else { return Err("refused, nothing changed: no leader".into()) };
    r.step(format!("status read: {leader} leads in term {term}; order {}", c.order.join(", ")), true).await;
    let started = Instant::now();
    let mut done: Vec<String> = vec![];
    let mut sizes = (0u64, 0u64);
    let left = |done: &[String]| {
        let rest: Vec<&str> = c.order.iter().filter(|n| !done.contains(n)).map(String::as_str).collect();
        let done = if done.is_empty() { "none".to_string() } else { done.join(", ") };
        format!("defragmented: {done}; not: {}", rest.join(", "))
    };
    for (k, name) in c.order.iter().enumerate() {
        if stop.as_ref().is_some_and(|s| *s.borrow()) {
            return Err(format!("CANCELLED before {name}, by the operator; {}", left(&done)));
        }
        if k > 0 {
            tokio::time::sleep(Duration::from_secs(DEFRAG_PAUSE_SECS)).await;
        }
        // the cluster as it is now, judged before each member
        let now = probe.poll().await.map_err(|e| format!("aborted before {name}: status: {e}; {}", left(&done)))?;
        let why = match leader_of(&now) {
            None => Some("etcd has no leader".to_string()),
            Some((l, t)) if l != leader || t != term => Some(format!("the leader changed ({leader} in term {term} -> {l} in term {t})")),
            Some(_) => defrag_checks(&now).blockers.into_iter().next(),
        };
        if let Some(why) = why {
            return Err(format!("aborted before {name}: {why}; {}", left(&done)));
        }
        let member = now
            .members
            .iter()
            .find(|m| &m.name == name)
            .cloned()
            .ok_or_else(|| format!("aborted: {name} left the member list; {}", left(&done)))?;
        cap.intent(r.id, &format!("defragment etcd member {name}"), &format!("{name}'s member may be mid-defrag; {}", left(&done))).await?;
        let t0 = Instant::now();
        match probe.post_to_member_within(&member, "/v3/maintenance/defragment", b"{}".to_vec(), cap, DEFRAG_WITHIN).await {
            Ok((200, _)) => {}
            Ok((code, body)) => {
                let why = gateway_error(&body).unwrap_or_else(|| format!("HTTP {code}"));
                return Err(format!("{name}: etcd refused the defrag: {why}; {}", left(&done)));
            }
            Err(e) => return Err(format!("{name}: the defrag request failed ({e}); {}", left(&done))),
        }
        let took = t0.elapsed().as_secs_f64();
        done.push(name.clone());
        let made = crate::model::Observation::now("etcd defrag", 3_000, crate::model::Payload::EtcdDefragged { member: name.clone() });
        let _ = r.tx.send(BackendEvent::Obs(made)).await;
        let after = probe.poll().await.ok().and_then(|v| v.members.into_iter().find(|m| &m.name == name));
        let said = match &after {
            Some(a) if a.reachable => {
                sizes.0 += member.db_size;
                sizes.1 += a.db_size;
                format!("{} -> {} ({} in use)", mb(member.db_size), mb(a.db_size), mb(a.db_size_in_use))
            }
            _ => "its size after is not known (no status yet)".to_string(),
        };
        r.step(format!("{name}: defragmented in {took:.1} s: {said}"), true).await;
    }
    // verified: every member answers and one of them leads
    let end = probe.poll().await.map_err(|e| format!("done, not verified: {e}"))?;
    let healthy = end.members.iter().all(|m| m.reachable);
    match leader_of(&end) {
        Some((l, t)) if healthy => {
            let moved = if l != leader { format!("; the leadership moved to {l} (term {t})") } else { String::new() };
            Ok(format!(
                "defragmented {} (the leader last) in {:.1} s, every member healthy: DB {} -> {} in all{moved}",
                c.order.join(", "),
                started.elapsed().as_secs_f64(),
                mb(sizes.0),
                mb(sizes.1)
            ))
        }
        _ => Err(format!("defragmented {}, but not verified: {} of {} members answer", c.order.join(", "), end.healthy(), end.size())),
    }
}

/// Disarm etcd's NOSPACE alarms (etcd's Alarm DEACTIVATE, one per alarmed member), judged on a
/// fresh read with the planner's checks first, then verified on another. Returns whether verified.
/// How often, and how far apart, a disarm looks for the alarm to be gone from every member (3 s).
const DISARM_VERIFY_LOOKS: u32 = 10;
const DISARM_VERIFY_PAUSE: Duration = Duration::from_millis(300);

pub async fn disarm(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    id: u64,
    tx: &mpsc::Sender<BackendEvent>,
) -> bool {
    let r = Reporter { id, tx: tx.clone() };
    let result = disarm_all(settings, remote, tunnel, cap, &r).await;
    r.conclude(result).await
}

async fn disarm_all(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    r: &Reporter,
) -> Result<String, String> {
    let mut probe = EtcdProbe::new(settings, remote, tunnel);
    let v = probe.poll().await.map_err(|e| format!("etcd's status could not be read ({e}): refused, nothing changed"))?;
    let c = disarm_checks(&v);
    if !c.blockers.is_empty() {
        return Err(format!("refused, nothing changed: {}", c.blockers.join("; ")));
    }
    let leader = v.leader().cloned().ok_or("refused, nothing changed: no leader")?;
    for (name, member_id) in &c.members {
        cap.intent(r.id, &format!("disarm NOSPACE on {name}"), &format!("NOSPACE may be disarmed on {name}")).await?;
        let body =
            serde_json::json!({ "action": "DEACTIVATE", "memberID": member_id.to_string(), "alarm": "NOSPACE" }).to_string().into_bytes();
        match probe.post_to_member(&leader, "/v3/maintenance/alarm", body, cap).await {
            Ok((200, _)) => r.step(format!("{name}: NOSPACE disarmed (through the leader {})", leader.name), true).await,
            Ok((code, body)) => {
                let why = gateway_error(&body).unwrap_or_else(|| format!("HTTP {code}"));
                return Err(format!("{name}: etcd refused the disarm: {why}"));
            }
            Err(e) => return Err(format!("{name}: the disarm request failed ({e}): check the etcd panel's alarms")),
        }
    }
    // Each member drops the alarm from its status when it applies the disarm, a moment after the
    // leader: look again for a while before saying it is still raised.
    let mut left = Vec::new();
    for attempt in 0..DISARM_VERIFY_LOOKS {
        if attempt > 0 {
            tokio::time::sleep(DISARM_VERIFY_PAUSE).await;
        }
        let after = probe.poll().await.map_err(|e| format!("disarmed, not verified: {e}"))?;
        left = after.alarms.iter().map(|a| format!("{} on {}", a.alarm, a.member)).collect();
        if left.is_empty() {
            break;
        }
    }
    if left.is_empty() {
        Ok(format!(
            "NOSPACE disarmed on {}, verified: no alarm is raised",
            c.members.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        ))
    } else {
        Err(format!("disarmed, but etcd still reports: {} (raised again: the DB is still over its quota?)", left.join(", ")))
    }
}

/// The gRPC gateway's error text: `{"error": "...", "code": 9, "message": "etcdserver: ..."}`.
pub(crate) fn gateway_error(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("message").or_else(|| v.get("error")).and_then(|m| m.as_str()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_gateways_error_message_is_read() {
        let body = br#"{"error":"etcdserver: not leader","code":9,"message":"etcdserver: not leader"}"#;
        assert_eq!(super::gateway_error(body).as_deref(), Some("etcdserver: not leader"));
        assert_eq!(super::gateway_error(b"<html>"), None);
    }
}
