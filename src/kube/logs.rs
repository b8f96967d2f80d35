//! Pod logs through the API server (`GET /api/v1/namespaces/NS/pods/POD/log`, a read: a read-only
//! client sends it too), with `timestamps=true` so every line lands on the common time axis, tagged
//! `pod NS/POD/CONTAINER`. A source is one container, every container of a pod, or every container of
//! every pod a Deployment, DaemonSet or StatefulSet selects (its selector, resolved when the source is
//! opened); each container is its own stream.

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Kube, KubeError};
use crate::backend::BackendEvent;
use crate::logs::host::{LineSplitter, line_of};
use crate::logs::spec::{LogSpec, LogState, LogStatus, MAX_TAIL, pod_tag};
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

/// The containers a source means, looked up now.
pub async fn targets(kube: &Kube, spec: &LogSpec) -> Result<Vec<Target>, String> {
    spec.validate()?;
    let api = |e: KubeError| e.to_string();
    match spec {
        LogSpec::Pod { namespace, pod, container: Some(c), .. } => {
            Ok(vec![Target { namespace: namespace.clone(), pod: pod.clone(), container: c.clone() }])
        }
        LogSpec::Pod { namespace, pod, container: None, .. } => {
            let p: Value = kube.get_json(&format!("/api/v1/namespaces/{namespace}/pods/{pod}")).await.map_err(api)?;
            let cs = containers(&p);
            if cs.is_empty() {
                return Err(format!("pod {namespace}/{pod} has no containers"));
            }
            Ok(cs.into_iter().map(|c| Target { namespace: namespace.clone(), pod: pod.clone(), container: c }).collect())
        }
        LogSpec::Workload { namespace, kind, name, .. } => {
            let plural = match kind {
                WorkloadKind::Deployment => "deployments",
                WorkloadKind::DaemonSet => "daemonsets",
                WorkloadKind::StatefulSet => "statefulsets",
            };
            let w: Value = kube.get_json(&format!("/apis/apps/v1/namespaces/{namespace}/{plural}/{name}")).await.map_err(api)?;
            let sel = selector_query(&w["spec"]["selector"])?;
            let list: Value =
                kube.get_json(&format!("/api/v1/namespaces/{namespace}/pods?labelSelector={}", encode(&sel))).await.map_err(api)?;
            let mut out = Vec::new();
            for p in list["items"].as_array().into_iter().flatten() {
                let Some(pod) = p["metadata"]["name"].as_str() else { continue };
                for c in containers(p) {
                    out.push(Target { namespace: namespace.clone(), pod: pod.to_string(), container: c });
                }
            }
            if out.is_empty() {
                return Err(format!("{} selects no pods ({sel})", spec.label()));
            }
            Ok(out)
        }
        _ => Err(format!("{}: not a pod source", spec.label())),
    }
}

/// Tail every container of `spec` until all streams end or the task is dropped; lines and status go
/// to `tx`, with back-pressure (a slow consumer slows the reads).
pub async fn tail_pods(kube: Kube, id: u64, spec: LogSpec, tail: u32, follow: bool, tx: mpsc::Sender<BackendEvent>) {
    let label: Arc<str> = Arc::from(spec.label());
    let previous = matches!(spec, LogSpec::Pod { previous: true, .. } | LogSpec::Workload { previous: true, .. });
    let ts = match targets(&kube, &spec).await {
        Ok(t) => t,
        Err(e) => {
            for ev in LogStatus::refused(id, &spec, &format!("Kubernetes: {e}")) {
                let _ = tx.send(ev).await;
            }
            return;
        }
    };
    let mut streams = JoinSet::new();
    for t in ts {
        let (kube, tx) = (kube.clone(), tx.clone());
        streams.spawn(async move { tail_container(&kube, id, &t, tail, follow, previous, &tx).await });
    }
    while streams.join_next().await.is_some() {}
    let _ = tx.send(BackendEvent::LogSource(LogStatus { id, source: label, state: LogState::Closed })).await;
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
}
