//! Pod logs through the API server (`GET /api/v1/namespaces/NS/pods/POD/log`, a read: a read-only
//! client sends it too), with `timestamps=true` so every line lands on the common time axis, tagged
//! `pod NS/POD/CONTAINER`. A source is one container, every container of a pod, or every container of
//! every pod a Deployment, DaemonSet or StatefulSet selects; each container is its own stream.
//!
//! A followed workload stays followed through a rollout or a crash: its pods are listed again every
//! [`WORKLOAD_RELIST`], and a container that started since (a new pod, or a new run of a container
//! that restarted) gets its own stream from its first line. A container that has not started (its
//! image still being pulled) has no log yet and is picked up once it runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Kube, KubeError};
use crate::backend::BackendEvent;
use crate::logs::spec::{LogSpec, LogState, LogStatus, MAX_TAIL, pod_tag};
use crate::logs::{LineSplitter, line_of};
use crate::model::WorkloadKind;

/// One container's log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

/// The path of one container's log.
pub fn log_path(t: &Target, tail: u32, follow: bool, previous: bool) -> String {
    let mut p = format!(
        "/api/v1/namespaces/{}/pods/{}/log?container={}&timestamps=true&tailLines={}",
        t.namespace,
        t.pod,
        encode(&t.container),
        tail.min(MAX_TAIL)
    );
    if follow {
        p.push_str("&follow=true");
    }
    if previous {
        p.push_str("&previous=true");
    }
    p
}

/// A label selector object (`matchLabels`, `matchExpressions`) as the `labelSelector` query form.
pub fn selector_query(sel: &Value) -> Result<String, String> {
    let mut parts = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e.get("key").and_then(Value::as_str).ok_or("a selector expression without a key")?;
        let values: Vec<&str> = e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        match e.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            op => return Err(format!("unknown selector operator `{op}`")),
        }
    }
    if parts.is_empty() {
        // an empty selector selects everything: never what a log source means
        return Err("the workload has an empty selector".into());
    }
    Ok(parts.join(","))
}

/// Percent-encode a query value (everything but the unreserved characters).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn containers(pod: &Value) -> Vec<String> {
    pod["spec"]["containers"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_string)).collect()
}

/// How often the pods of a followed workload are listed again.
pub const WORKLOAD_RELIST: Duration = Duration::from_secs(2);

/// One container of a pod as its status tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodContainer {
    pub target: Target,
    /// Which run of the container (its container ID and restart count; empty before it started).
    pub instance: String,
    /// It runs or ran: it has a log to read (a container still waiting for its image has none).
    pub started: bool,
}

/// Every container of `pod`, with its instance from `status.containerStatuses`.
pub fn pod_containers(namespace: &str, pod: &Value) -> Vec<PodContainer> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let statuses = pod["status"]["containerStatuses"].as_array();
    containers(pod)
        .into_iter()
        .map(|c| {
            let st = statuses.into_iter().flatten().find(|s| s["name"].as_str() == Some(c.as_str()));
            // it runs, or ran (a crash-looping container waits, and its last run's log is readable)
            let started = st.is_some_and(|s| {
                s["state"].get("running").is_some() || s["state"].get("terminated").is_some() || s["lastState"].get("terminated").is_some()
            });
            let instance = st
                .map(|s| format!("{}#{}", s["containerID"].as_str().unwrap_or_default(), s["restartCount"].as_u64().unwrap_or_default()))
                .unwrap_or_default();
            PodContainer { target: Target { namespace: namespace.to_string(), pod: name.to_string(), container: c }, instance, started }
        })
        .collect()
}

/// The containers of every pod a workload selects now (and the selector, for messages).
async fn workload_containers(kube: &Kube, namespace: &str, kind: WorkloadKind, name: &str) -> Result<(String, Vec<PodContainer>), String> {
    let api = |e: KubeError| e.to_string();
    let w: Value = kube.get_json(&format!("/apis/apps/v1/namespaces/{namespace}/{}/{name}", kind.plural())).await.map_err(api)?;
    let sel = selector_query(&w["spec"]["selector"])?;
    let list: Value = kube.get_json(&format!("/api/v1/namespaces/{namespace}/pods?labelSelector={}", encode(&sel))).await.map_err(api)?;
    let out = list["items"].as_array().into_iter().flatten().flat_map(|p| pod_containers(namespace, p)).collect();
    Ok((sel, out))
}

/// The containers a source means, looked up now.
async fn resolve(kube: &Kube, spec: &LogSpec) -> Result<Vec<PodContainer>, String> {
    spec.validate()?;
    let api = |e: KubeError| e.to_string();
    let fixed = |t: Target| PodContainer { target: t, instance: String::new(), started: true };
    match spec {
        LogSpec::Pod { namespace, pod, container: Some(c), .. } => {
            Ok(vec![fixed(Target { namespace: namespace.clone(), pod: pod.clone(), container: c.clone() })])
        }
        LogSpec::Pod { namespace, pod, container: None, .. } => {
            let p: Value = kube.get_json(&format!("/api/v1/namespaces/{namespace}/pods/{pod}")).await.map_err(api)?;
            let cs = containers(&p);
            if cs.is_empty() {
                return Err(format!("pod {namespace}/{pod} has no containers"));
            }
            Ok(cs.into_iter().map(|c| fixed(Target { namespace: namespace.clone(), pod: pod.clone(), container: c })).collect())
        }
        LogSpec::Workload { namespace, kind, name, .. } => {
            let (sel, out) = workload_containers(kube, namespace, *kind, name).await?;
            if out.is_empty() {
                return Err(format!("{} selects no pods ({sel})", spec.label()));
            }
            if !out.iter().any(|c| c.started) {
                let pods: std::collections::BTreeSet<&str> = out.iter().map(|c| c.target.pod.as_str()).collect();
                return Err(format!("{} selects {} pod(s), and none of their containers has started yet", spec.label(), pods.len()));
            }
            // a container that has not started has no log yet: a followed source picks it up once it runs
            Ok(out.into_iter().filter(|c| c.started).collect())
        }
        _ => Err(format!("{}: not a pod source", spec.label())),
    }
}

/// Which containers of a fresh listing need a stream of their own: started ones never streamed, or
/// streamed as another instance (the container restarted). `known` maps (pod, container) to the
/// instance being streamed (and whatever else the caller keeps with it).
pub fn new_instances<'a, V>(known: &HashMap<(String, String), (String, V)>, listed: &'a [PodContainer]) -> Vec<&'a PodContainer> {
    listed
        .iter()
        .filter(|c| c.started && known.get(&(c.target.pod.clone(), c.target.container.clone())).map(|(i, _)| i) != Some(&c.instance))
        .collect()
}

/// Tail every container of `spec` until all streams end or the task is dropped; lines and status go
/// to `tx`, with back-pressure (a slow consumer slows the reads). A followed workload does not end by
/// itself: it keeps picking up the containers that start (see the module's documentation).
pub async fn tail_pods(kube: Kube, id: u64, spec: LogSpec, tail: u32, follow: bool, tx: mpsc::Sender<BackendEvent>) {
    let label: Arc<str> = Arc::from(spec.label());
    let previous = matches!(spec, LogSpec::Pod { previous: true, .. } | LogSpec::Workload { previous: true, .. });
    let listed = match resolve(&kube, &spec).await {
        Ok(t) => t,
        Err(e) => {
            for ev in crate::backend::log_refused(id, &spec, &format!("Kubernetes: {e}")) {
                let _ = tx.send(ev).await;
            }
            return;
        }
    };
    let mut streams = JoinSet::new();
    // (pod, container) -> the instance streamed and its task
    let mut known: HashMap<(String, String), (String, tokio::task::AbortHandle)> = HashMap::new();
    for c in listed {
        let (kube, tx, t) = (kube.clone(), tx.clone(), c.target.clone());
        let task = streams.spawn(async move { tail_container(&kube, id, &t, tail, follow, previous, &tx).await });
        known.insert((c.target.pod, c.target.container), (c.instance, task));
    }
    // only a followed workload goes on picking up containers; everything else ends with its streams
    let (LogSpec::Workload { namespace, kind, name, previous: false }, true) = (&spec, follow) else {
        while streams.join_next().await.is_some() {}
        let _ = tx.send(BackendEvent::LogSource(LogStatus { id, source: label, state: LogState::Closed })).await;
        return;
    };
    let mut relist = tokio::time::interval(WORKLOAD_RELIST);
    relist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    relist.tick().await;
    let mut failing = false;
    loop {
        tokio::select! {
            Some(_) = streams.join_next(), if !streams.is_empty() => {}
            _ = relist.tick() => {
                let listed = match workload_containers(&kube, namespace, *kind, name).await {
                    Ok((_, l)) => l,
                    Err(e) => {
                        if !failing {
                            failing = true;
                            let why = format!("Kubernetes: listing the pods again: {e}; new pods are missed, the open streams go on");
                            let _ = tx.send(BackendEvent::LogSource(LogStatus { id, source: label.clone(), state: LogState::Degraded(Some(why)) })).await;
                        }
                        continue;
                    }
                };
                if std::mem::take(&mut failing) {
                    let _ = tx.send(BackendEvent::LogSource(LogStatus { id, source: label.clone(), state: LogState::Degraded(None) })).await;
                }
                // forget the containers that are gone and whose stream has ended
                known.retain(|(pod, container), (_, task)| {
                    !task.is_finished() || listed.iter().any(|c| c.target.pod == *pod && c.target.container == *container)
                });
                for c in new_instances(&known, &listed) {
                    // A run that started after the source was opened: every line of it is new. The old
                    // run's stream is left to end by itself (the kubelet ends it when its container
                    // exits), so its last lines, often the reason of a crash, are all read.
                    let (kube, tx, t) = (kube.clone(), tx.clone(), c.target.clone());
                    let task = streams.spawn(async move { tail_container(&kube, id, &t, MAX_TAIL, true, false, &tx).await });
                    known.insert((c.target.pod.clone(), c.target.container.clone()), (c.instance.clone(), task));
                }
            }
        }
    }
}

/// One container's stream, to its end. Returns the lines sent.
pub async fn tail_container(
    kube: &Kube,
    id: u64,
    t: &Target,
    tail: u32,
    follow: bool,
    previous: bool,
    tx: &mpsc::Sender<BackendEvent>,
) -> u64 {
    let tag = pod_tag(&t.namespace, &t.pod, &t.container, previous);
    let status = |state: LogState| BackendEvent::LogSource(LogStatus { id, source: tag.clone(), state });
    let mut body = match kube.get_stream(&log_path(t, tail, follow, previous)).await {
        Ok(b) => b,
        Err(e) => {
            let _ = tx.send(status(LogState::Failed(format!("Kubernetes: {e}")))).await;
            return 0;
        }
    };
    if tx.send(status(LogState::Streaming)).await.is_err() {
        return 0;
    }
    let mut split = LineSplitter::default();
    let mut batch = Vec::new();
    let mut sent = 0u64;
    let end = loop {
        match body.frame().await {
            None => break Ok(()),
            Some(Err(e)) => break Err(e.to_string()),
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else { continue };
                split.feed(&data, &mut batch);
                for l in batch.drain(..) {
                    if tx.send(BackendEvent::Log(line_of(&tag, l))).await.is_err() {
                        return sent;
                    }
                    sent += 1;
                }
            }
        }
    };
    if let Some(l) = split.finish() {
        let _ = tx.send(BackendEvent::Log(line_of(&tag, l))).await;
        sent += 1;
    }
    let state = match end {
        Ok(()) if follow => LogState::Ended("the container's log stream ended".into()),
        Ok(()) => LogState::Ended(format!("{sent} lines read")),
        Err(e) => LogState::Failed(format!("Kubernetes: reading the log: {e}")),
    };
    let _ = tx.send(status(state)).await;
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_selectors() {
        let t = Target { namespace: "kube-system".into(), pod: "etcd-m1".into(), container: "etcd".into() };
        assert_eq!(
            log_path(&t, 10, true, false),
            "/api/v1/namespaces/kube-system/pods/etcd-m1/log?container=etcd&timestamps=true&tailLines=10&follow=true"
        );
        assert_eq!(
            log_path(&t, u32::MAX, false, true),
            format!("/api/v1/namespaces/kube-system/pods/etcd-m1/log?container=etcd&timestamps=true&tailLines={MAX_TAIL}&previous=true")
        );
        let sel = json!({"matchLabels": {"app": "web", "tier": "front"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}, {"key": "canary", "operator": "DoesNotExist"}]});
        let q = selector_query(&sel).unwrap();
        assert_eq!(q, "app=web,tier=front,env in (a,b),!canary");
        assert_eq!(encode(&q), "app%3Dweb%2Ctier%3Dfront%2Cenv%20in%20%28a%2Cb%29%2C%21canary");
        assert!(selector_query(&json!({})).is_err(), "an empty selector would tail every pod of the namespace");
        assert!(selector_query(&json!({"matchExpressions": [{"key": "k", "operator": "Near"}]})).is_err());
        let pod = json!({"spec": {"containers": [{"name": "app"}, {"name": "sidecar"}], "initContainers": [{"name": "init"}]}});
        assert_eq!(containers(&pod), ["app", "sidecar"]);
    }

    #[test]
    fn a_relisting_picks_up_started_containers_and_new_runs_only() {
        let pod = |name: &str, statuses: Value| json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "app"}, {"name": "side"}]}, "status": {"containerStatuses": statuses}});
        let running = |c: &str, id: &str, restarts: u64| json!({"name": c, "containerID": id, "restartCount": restarts, "state": {"running": {"startedAt": "2026-11-24T10:00:00Z"}}});
        let waiting = |c: &str| json!({"name": c, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}});
        let first = pod("web-1", json!([running("app", "containerd://a1", 0), waiting("side")]));
        let cs = pod_containers("ns", &first);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].target, Target { namespace: "ns".into(), pod: "web-1".into(), container: "app".into() });
        assert!(cs[0].started && !cs[1].started, "{cs:?}");
        assert_eq!(cs[0].instance, "containerd://a1#0");
        // a crash-looping container waits for its next run; its last run's log is there
        let looping = json!({"name": "app", "containerID": "containerd://c3", "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}});
        assert!(pod_containers("ns", &pod("web-5", json!([looping])))[0].started);
        // a pod without any status (not scheduled, or no kubelet reported yet) has not started
        let bare = pod_containers("ns", &json!({"metadata": {"name": "web-9"}, "spec": {"containers": [{"name": "app"}]}}));
        assert!(!bare[0].started && bare[0].instance.is_empty());

        let known: HashMap<(String, String), (String, ())> =
            cs.iter().map(|c| ((c.target.pod.clone(), c.target.container.clone()), (c.instance.clone(), ()))).collect();
        // nothing changed: nothing new
        assert!(new_instances(&known, &cs).is_empty());
        // side started, app restarted, and a new pod came up: three new streams
        let later = [
            pod_containers("ns", &pod("web-1", json!([running("app", "containerd://a2", 1), running("side", "containerd://s1", 0)]))),
            pod_containers("ns", &pod("web-2", json!([running("app", "containerd://b1", 0), waiting("side")]))),
        ]
        .concat();
        let fresh: Vec<String> =
            new_instances(&known, &later).iter().map(|c| format!("{}/{} {}", c.target.pod, c.target.container, c.instance)).collect();
        assert_eq!(fresh, ["web-1/app containerd://a2#1", "web-1/side containerd://s1#0", "web-2/app containerd://b1#0"]);
    }
}
