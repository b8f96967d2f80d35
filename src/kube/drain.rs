//! Cordon, uncordon and drain: plan (the preview), execute, verify; every step reported as it happens.
//!
//! A drain works like `kubectl drain`, with these differences: it refuses before touching anything when
//! a pod needs an opt-in (emptyDir data, no controller); it only ever evicts (the Eviction API honours
//! PodDisruptionBudgets) and owns the retry policy of a PDB-blocked eviction (429: "blocked by PDB x,
//! retrying", 1 s growing to 5 s, until the drain's timeout); it can be cancelled at any moment: no new
//! eviction is sent after that, the node stays cordoned, and the summary names what moved and what not.

mod preview;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{Kube, KubeError};
use crate::backend::BackendEvent;
use crate::ops::{DrainOptions, OpEvent, OpRequest, WriteCap};
pub use preview::{DrainPreview, drain_preview, node_extra};
use preview::{Target, node_pods, plan_drain};

/// Live progress of one operation, as `OpEvent::Step`s.
#[derive(Clone)]
pub struct Progress {
    pub id: u64,
    tx: mpsc::Sender<BackendEvent>,
}

impl Progress {
    pub fn new(id: u64, tx: mpsc::Sender<BackendEvent>) -> Progress {
        Progress { id, tx }
    }
    pub async fn step(&self, text: impl Into<String>, ok: bool) {
        let _ = self.tx.send(BackendEvent::Op(OpEvent::Step { id: self.id, text: text.into(), ok })).await;
    }
}

/// Run one operation. Ok(summary) or Err(summary), for `OpEvent::Finished`.
pub async fn execute(
    kube: &Kube,
    req: &OpRequest,
    cap: &WriteCap,
    progress: &Progress,
    cancel: CancellationToken,
) -> Result<String, String> {
    match req {
        OpRequest::Cordon { node } => {
            cap.intent(progress.id, &format!("cordon {node}"), &format!("{node} may be cordoned")).await?;
            set_unschedulable(kube, node, true, progress).await
        }
        OpRequest::Uncordon { node } => {
            cap.intent(progress.id, &format!("uncordon {node}"), &format!("{node} may be uncordoned")).await?;
            set_unschedulable(kube, node, false, progress).await
        }
        OpRequest::Drain { node, options } => drain(kube, node, options, cap, progress, cancel).await,
        other => Err(format!("{}: not a Kubernetes operation", other.title())),
    }
}

/// Names of nodes, namespaces and pods are DNS labels/subdomains: anything else is refused rather
/// than put into a URL.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok { Ok(()) } else { Err(format!("invalid {what} name {name:?}")) }
}

/// Cordon (`on`) or uncordon a node: merge patch of spec.unschedulable, verified through a watch.
pub async fn set_unschedulable(kube: &Kube, node: &str, on: bool, progress: &Progress) -> Result<String, String> {
    check_name("node", node)?;
    let word = if on { "cordon" } else { "uncordon" };
    progress.step(format!("patch node {node}: spec.unschedulable = {on}"), true).await;
    let body = if on { json!({"spec": {"unschedulable": true}}) } else { json!({"spec": {"unschedulable": null}}) };
    if let Err(e) = kube
        .request(Method::PATCH, &format!("/api/v1/nodes/{node}"), Some("application/merge-patch+json"), Some(body.to_string().into_bytes()))
        .await
    {
        progress.step(format!("{word} {node}: {e}"), false).await;
        return Err(format!("{word} {node} failed: {e}"));
    }
    match verify_unschedulable(kube, node, on, Duration::from_secs(10)).await {
        Ok(()) => {
            let shown = if on { "Ready,SchedulingDisabled" } else { "schedulable" };
            progress.step(format!("verified through the watch: {node} is {shown}"), true).await;
            Ok(format!("{node} {}", if on { "cordoned" } else { "uncordoned" }))
        }
        Err(e) => {
            progress.step(format!("could not verify: {e}"), false).await;
            Err(format!("{word} {node}: patched but not verified: {e}"))
        }
    }
}

/// Watch the node (from the watch cache, as every watcher sees it) until spec.unschedulable == `on`.
async fn verify_unschedulable(kube: &Kube, node: &str, on: bool, limit: Duration) -> Result<(), String> {
    use futures_util::StreamExt;
    let deadline = Instant::now() + limit;
    let url = format!(
        "/api/v1/nodes?watch=true&resourceVersion=0&fieldSelector=metadata.name%3D{node}&timeoutSeconds={}",
        limit.as_secs().max(1)
    );
    while Instant::now() < deadline {
        let stream = match tokio::time::timeout_at(deadline, kube.watch::<super::lean::LeanNode>(&url)).await {
            Err(_) => break,
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(s)) => s,
        };
        let mut stream = std::pin::pin!(stream);
        loop {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => return Err(format!("{node} not {} after {}s", if on { "cordoned" } else { "uncordoned" }, limit.as_secs())),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(Some(Ok(kube::api::WatchEvent::Added(n) | kube::api::WatchEvent::Modified(n)))) => {
                    if n.spec.unschedulable == on {
                        return Ok(());
                    }
                }
                Ok(Some(Ok(kube::api::WatchEvent::Deleted(_)))) => return Err(format!("node {node} was deleted")),
                Ok(Some(Ok(_))) => {}
            }
        }
    }
    Err(format!("{node} not {} after {}s", if on { "cordoned" } else { "uncordoned" }, limit.as_secs()))
}

// -------------------------------------------------------------------------------------- drain

#[derive(Debug)]
enum Outcome {
    Evicted,
    Gone,
    Cancelled,
    TimedOut(String),
    Failed(String),
}

fn pdb_of_429(body: &[u8]) -> Option<String> {
    // 1.20: details.causes[].message "The disruption budget db-pdb needs 1 healthy pods and has 1 currently"
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let causes = v.pointer("/details/causes")?.as_array()?;
    causes.iter().filter_map(|c| c.get("message")?.as_str()).find_map(|m| {
        let rest = m.split("disruption budget ").nth(1)?;
        rest.split_whitespace().next().map(str::to_string)
    })
}

/// The Eviction posted to a pod's `eviction` subresource, in the policy version the server serves
/// (`policy/v1` from 1.21 on, required once 1.25 dropped `policy/v1beta1`; `policy/v1beta1` before 1.21,
/// which knows no `policy/v1`). Both versions carry the same fields.
pub(crate) fn eviction_body(policy: &str, namespace: &str, name: &str, grace: Option<u32>) -> serde_json::Value {
    let mut body = json!({"apiVersion": policy, "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}});
    if let Some(g) = grace {
        body["deleteOptions"] = json!({"gracePeriodSeconds": g});
    }
    body
}

/// Evict one pod, retrying a PDB block (429) and transient failures until `deadline` or cancel.
async fn evict_one(
    kube: Kube,
    t: Target,
    policy: String,
    grace: Option<u32>,
    progress: Progress,
    cancel: CancellationToken,
    deadline: Instant,
) -> (Target, Outcome) {
    let body = eviction_body(&policy, &t.namespace, &t.name, grace).to_string().into_bytes();
    let path = format!("/api/v1/namespaces/{}/pods/{}/eviction", t.namespace, t.name);
    let mut backoff = pdb_backoff();
    let mut last_reported: Option<String> = None;
    loop {
        if cancel.is_cancelled() {
            return (t, Outcome::Cancelled);
        }
        if Instant::now() >= deadline {
            let why = last_reported.unwrap_or_else(|| "no answer".into());
            return (t, Outcome::TimedOut(why));
        }
        // an eviction request once sent is left to finish: cancel acts between requests
        let r = kube.request_raw(Method::POST, &path, Some("application/json"), Some(body.clone())).await;
        let wait_reason = match r {
            Ok((200..=299, _)) => {
                progress.step(format!("evicted {}", t.key), true).await;
                return (t, Outcome::Evicted);
            }
            Ok((404, _)) => {
                progress.step(format!("{} already gone", t.key), true).await;
                return (t, Outcome::Gone);
            }
            Ok((429, b)) => {
                let pdb = pdb_of_429(&b).or_else(|| t.pdb.clone()).unwrap_or_else(|| "?".into());
                format!("blocked by PDB {pdb}")
            }
            Ok((code, b)) => {
                let e = super::client::status_error(code, &b);
                if !e.is_transient() {
                    progress.step(format!("cannot evict {}: {e}", t.key), false).await;
                    return (t, Outcome::Failed(e.to_string()));
                }
                e.to_string()
            }
            Err(e @ KubeError::ReadOnly { .. }) => {
                progress.step(format!("cannot evict {}: {e}", t.key), false).await;
                return (t, Outcome::Failed(e.to_string()));
            }
            Err(e) => e.to_string(),
        };
        let delay = backoff.next_delay();
        if last_reported.as_deref() != Some(wait_reason.as_str()) {
            progress.step(format!("{} {wait_reason}, retrying", t.key), true).await;
            last_reported = Some(wait_reason);
        }
        tokio::select! {
            _ = cancel.cancelled() => return (t, Outcome::Cancelled),
            _ = tokio::time::sleep_until(deadline.min(Instant::now() + delay)) => {}
        }
    }
}

/// The retry policy of a blocked eviction: 1 s, then x1.5 up to 5 s (kubectl waits 5 s flat).
fn pdb_backoff() -> crate::retry::Backoff {
    crate::retry::Backoff::new(Duration::from_millis(1000), 1.5, Duration::from_secs(5))
}

fn short_list(v: &[String]) -> String {
    const MAX: usize = 8;
    let mut s = v.iter().take(MAX).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > MAX {
        s.push_str(&format!(" and {} more", v.len() - MAX));
    }
    s
}

async fn drain(
    kube: &Kube,
    node: &str,
    options: &DrainOptions,
    cap: &WriteCap,
    progress: &Progress,
    cancel: CancellationToken,
) -> Result<String, String> {
    check_name("node", node)?;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(u64::from(options.timeout_secs.max(1)));
    let caps = kube.discover().await.map_err(|e| format!("drain {node}: {e}"))?;
    let plan = plan_drain(kube, node, options, caps.policy).await.map_err(|e| format!("drain {node}: {e}"))?;
    let pv = &plan.preview;
    progress
        .step(
            format!(
                "plan: {} to evict, {} held by a PDB, {} skipped, {} need an option",
                pv.evict.len(),
                pv.blocked.len() - pv.refused.len(),
                pv.skipped.len(),
                pv.refused.len()
            ),
            true,
        )
        .await;
    if pv.refuses() {
        let why: Vec<String> = pv.blocked.iter().filter(|(k, _)| pv.refused.contains(k)).map(|(k, w)| format!("{k}: {w}")).collect();
        for w in &why {
            progress.step(format!("refused: {w}"), false).await;
        }
        return Err(format!("drain {node} refused, nothing changed: {}", why.join("; ")));
    }
    if cancel.is_cancelled() {
        return Err(format!("drain {node} cancelled before it started: nothing changed"));
    }
    cap.intent(progress.id, &format!("cordon {node}"), &format!("{node} may be cordoned; no pod evicted yet"))
        .await
        .map_err(|e| format!("drain {node}: {e}"))?;
    set_unschedulable(kube, node, true, progress).await.map_err(|e| format!("drain {node}: {e}"))?;
    let keys: Vec<&str> = plan.targets.iter().map(|t| t.key.as_str()).collect();
    cap.intent(
        progress.id,
        &format!("evict {} pod(s) from {node}: {}", keys.len(), keys.join(" ")),
        &format!("{node} cordoned; some of its {} pod(s) may be evicted, the rest still on it", keys.len()),
    )
    .await
    .map_err(|e| format!("drain {node}: {e}; {node} stays cordoned, no pod evicted"))?;

    let sem = Arc::new(Semaphore::new(64));
    let mut set = tokio::task::JoinSet::new();
    for t in plan.targets.clone() {
        let (kube, policy, progress, cancel, sem) = (kube.clone(), caps.policy.to_string(), progress.clone(), cancel.clone(), sem.clone());
        let grace = options.grace_period_secs;
        set.spawn(async move {
            let _permit = tokio::select! {
                p = sem.acquire_owned() => p.ok(),
                _ = cancel.cancelled() => return (t, Outcome::Cancelled),
            };
            evict_one(kube, t, policy, grace, progress, cancel, deadline).await
        });
    }
    let total = plan.targets.len();
    let mut evicted: Vec<Target> = Vec::new();
    let mut untouched: Vec<String> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut timed_out: Vec<String> = Vec::new();
    // pods evicted and not yet gone: key -> uid
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    let mut gone: BTreeSet<String> = BTreeSet::new();
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cancelled = false;
    loop {
        let evictions_done = set.is_empty();
        if evictions_done && pending.is_empty() {
            break;
        }
        tokio::select! {
            r = set.join_next(), if !evictions_done => {
                let Some(r) = r else { continue };
                let (t, outcome) = match r { Ok(x) => x, Err(e) => { failed.push(format!("eviction task: {e}")); continue } };
                match outcome {
                    Outcome::Evicted => { pending.insert(t.key.clone(), t.uid.clone()); evicted.push(t); }
                    Outcome::Gone => { gone.insert(t.key.clone()); evicted.push(t); }
                    Outcome::Cancelled => untouched.push(t.key),
                    Outcome::TimedOut(why) => timed_out.push(format!("{} ({why})", t.key)),
                    Outcome::Failed(why) => failed.push(format!("{}: {why}", t.key)),
                }
            }
            _ = poll.tick(), if !pending.is_empty() => {
                if let Ok(pods) = node_pods(kube, node).await {
                    let now: HashMap<String, String> = pods.into_iter().map(|p| (p.metadata.key(), p.metadata.uid)).collect();
                    let done: Vec<String> = pending.iter().filter(|(k, uid)| now.get(*k) != Some(*uid)).map(|(k, _)| k.clone()).collect();
                    for k in done {
                        pending.remove(&k);
                        progress.step(format!("{k} gone from {node}"), true).await;
                        gone.insert(k);
                    }
                }
                if Instant::now() >= deadline {
                    timed_out.extend(pending.keys().map(|k| format!("{k} (evicted, still terminating)")));
                    break;
                }
            }
            _ = cancel.cancelled(), if !cancelled => {
                cancelled = true;
                progress.step("cancel: no new evictions; the node stays cordoned", false).await;
                // evictions already accepted cannot be taken back: keep collecting their outcome, stop waiting for deletions
                pending.clear();
            }
        }
    }
    let took = t0.elapsed().as_secs_f64();
    if cancelled {
        let ev: Vec<String> = evicted.iter().map(|t| t.key.clone()).collect();
        untouched.sort();
        return Err(format!(
            "drain {node} cancelled after {took:.1}s: {node} stays cordoned; evicted {} ({}); untouched {} ({})",
            ev.len(),
            short_list(&ev),
            untouched.len(),
            short_list(&untouched)
        ));
    }
    if !failed.is_empty() || !timed_out.is_empty() {
        let mut why = Vec::new();
        if !failed.is_empty() {
            why.push(format!("failed: {}", short_list(&failed)));
        }
        if !timed_out.is_empty() {
            why.push(format!("timed out after {}s: {}", options.timeout_secs, short_list(&timed_out)));
        }
        return Err(format!("drain {node} incomplete ({} of {total} moved); {node} stays cordoned; {}", gone.len(), why.join("; ")));
    }
    // verify: only skipped pods (DaemonSet, mirror, terminating before we began) may remain
    let skipped: BTreeSet<&str> = plan.preview.skipped.iter().map(|(k, _)| k.as_str()).collect();
    let verify_until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = node_pods(kube, node).await.map_err(|e| format!("drain {node}: verify: {e}"))?;
        let remaining: Vec<String> = left
            .iter()
            .filter(|p| !p.is_daemonset() && !p.is_mirror() && !skipped.contains(p.metadata.key().as_str()))
            .map(|p| p.metadata.key())
            .collect();
        if remaining.is_empty() {
            break;
        }
        if Instant::now() >= verify_until {
            progress.step(format!("verify: still on {node}: {}", short_list(&remaining)), false).await;
            return Err(format!("drain {node}: {} pod(s) still on the node: {}", remaining.len(), short_list(&remaining)));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    progress.step(format!("verified: only DaemonSet/mirror pods left on {node}"), true).await;
    Ok(format!(
        "drained {node} in {took:.1}s: {} pod(s) evicted, {} skipped; {node} stays cordoned",
        evicted.len(),
        plan.preview.skipped.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::preview::classify;
    use super::*;
    use crate::kube::lean::{LeanPdb, LeanPod};
    use serde_json::json;

    fn pod(v: serde_json::Value) -> LeanPod {
        serde_json::from_value(v).unwrap()
    }
    fn owned(name: &str, kind: &str, labels: serde_json::Value) -> LeanPod {
        pod(json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("u-{name}"), "labels": labels,
                    "ownerReferences": [{"kind": kind, "name": "o", "controller": true}]},
                   "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}))
    }

    #[test]
    fn preview_classifies_like_kubectl_but_safer() {
        let pods = vec![
            owned("web-1", "ReplicaSet", json!({"app": "web"})),
            owned("ds-1", "DaemonSet", json!({})),
            pod(json!({"metadata": {"name": "static-1", "namespace": "ns", "annotations": {"kubernetes.io/config.mirror": "x"}}})),
            pod(json!({"metadata": {"name": "lonely", "namespace": "ns"}, "status": {"phase": "Running"}})),
            pod(json!({"metadata": {"name": "done", "namespace": "ns"}, "status": {"phase": "Succeeded"}})),
            pod(
                json!({"metadata": {"name": "cache", "namespace": "ns", "ownerReferences": [{"kind": "ReplicaSet", "name": "c", "controller": true}]},
                       "spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}),
            ),
            owned("db-1", "StatefulSet", json!({"app": "db"})),
            owned("db-2", "StatefulSet", json!({"app": "db"})),
            pod(json!({"metadata": {"name": "old", "namespace": "ns", "deletionTimestamp": "2024-01-01T00:00:00Z"}})),
        ];
        let pdbs: Vec<LeanPdb> = vec![
            serde_json::from_value(json!({"metadata": {"name": "db-pdb", "namespace": "ns"},
                "spec": {"selector": {"matchLabels": {"app": "db"}}}, "status": {"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1}}))
            .unwrap(),
            serde_json::from_value(json!({"metadata": {"name": "other-ns", "namespace": "x"}, "spec": {"selector": {}}, "status": {}})).unwrap(),
        ];
        let plan = classify("n1", pods.clone(), &pdbs, &DrainOptions::default());
        let p = &plan.preview;
        assert_eq!(p.evict, vec!["ns/db-1", "ns/done", "ns/web-1"]);
        assert_eq!(p.skipped.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["ns/ds-1", "ns/old", "ns/static-1"]);
        let blocked: BTreeMap<&str, &str> = p.blocked.iter().map(|(k, w)| (k.as_str(), w.as_str())).collect();
        assert!(blocked["ns/db-2"].contains("PDB db-pdb allows no more disruptions"), "{blocked:?}");
        assert!(blocked["ns/lonely"].contains("force_unmanaged"));
        assert!(blocked["ns/cache"].contains("delete_emptydir_data"));
        assert_eq!(p.refused, vec!["ns/cache", "ns/lonely"]);
        assert!(p.refuses());
        assert_eq!(plan.targets.len(), 4, "evict + PDB-held");

        let opts = DrainOptions { delete_emptydir_data: true, force_unmanaged: true, ..Default::default() };
        let plan = classify("n1", pods, &pdbs, &opts);
        assert!(!plan.preview.refuses());
        assert_eq!(plan.targets.len(), 6);
        assert!(plan.preview.lines()[0].starts_with("n1: 5 pod(s) to evict, 1 blocked, 3 skipped"));
    }

    #[test]
    fn pdb_name_from_a_429() {
        let body = br#"{"kind":"Status","status":"Failure","message":"Cannot evict pod as it would violate the pod's disruption budget.","reason":"TooManyRequests","details":{"causes":[{"reason":"DisruptionBudget","message":"The disruption budget db-pdb needs 1 healthy pods and has 1 currently"}]},"code":429}"#;
        assert_eq!(pdb_of_429(body).as_deref(), Some("db-pdb"));
        assert_eq!(pdb_of_429(b"{}"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("node", "worker-1.example").is_ok());
        assert!(check_name("node", "../etc").is_err());
        assert!(check_name("node", "a?b").is_err());
        assert!(check_name("node", "").is_err());
    }

    #[test]
    fn eviction_bodies_follow_the_served_policy_version() {
        let groups = |f: &str| serde_json::from_str::<crate::kube::client::ApiGroups>(f).unwrap();
        let old = crate::kube::Caps::decide(String::new(), &groups(include_str!("../../tests/fixtures/kube/apis-1.20-lab.json")));
        let new = crate::kube::Caps::decide(String::new(), &groups(include_str!("../../tests/fixtures/kube/apis-1.27-rook-metrics.json")));
        assert_eq!(
            eviction_body(old.policy, "web", "web-1", None),
            json!({"apiVersion": "policy/v1beta1", "kind": "Eviction", "metadata": {"name": "web-1", "namespace": "web"}})
        );
        assert_eq!(
            eviction_body(new.policy, "web", "web-1", Some(30)),
            json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1", "namespace": "web"},
                   "deleteOptions": {"gracePeriodSeconds": 30}})
        );
        assert_eq!(eviction_body("policy/v1", "a", "b", Some(0))["deleteOptions"]["gracePeriodSeconds"], 0, "grace 0 is sent, not dropped");
    }

    #[test]
    fn blocked_evictions_back_off() {
        let mut b = pdb_backoff();
        let d: Vec<u64> = (0..6).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(d, vec![1000, 1500, 2250, 3375, 5000, 5000]);
    }
}
