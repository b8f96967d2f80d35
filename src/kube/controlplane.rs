//! kube-system's control-plane static pods, parsed into [`ControlPlaneView`]: etcd's members and the
//! apiservers with the endpoints their manifests advertise. kubeadm labels them `component=etcd` and
//! `component=kube-apiserver` and names them `<component>-<node>`; both are accepted.

use serde_json::Value;

use crate::model::apiview::{ControlPlaneView, StaticPod};

/// The list request: kube-system's pods labelled as etcd or kube-apiserver (a handful, however large
/// the cluster).
pub const PODS_PATH: &str = "/api/v1/namespaces/kube-system/pods?labelSelector=component%20in%20%28etcd%2Ckube-apiserver%29";

/// kubeadm's annotations of what a static pod advertises.
const ETCD_URLS: &str = "kubeadm.kubernetes.io/etcd.advertise-client-urls";
const APISERVER_ENDPOINT: &str = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint";

/// The view of a pod list (`{"items": [...]}`). Pods not bound to a node are left out.
pub fn parse(list: &Value) -> ControlPlaneView {
    let mut v = ControlPlaneView::default();
    for p in list["items"].as_array().into_iter().flatten() {
        let Some((component, pod)) = static_pod(p) else { continue };
        match component {
            Component::Etcd => v.etcd.push(pod),
            Component::Apiserver => {
                for s in flag(p, "--etcd-servers").iter().flat_map(|s| s.split(',')) {
                    let s = s.trim().to_string();
                    if !s.is_empty() && !v.etcd_servers.contains(&s) {
                        v.etcd_servers.push(s);
                    }
                }
                v.apiservers.push(pod)
            }
        }
    }
    v.etcd.sort_by(|a, b| a.node.cmp(&b.node));
    v.apiservers.sort_by(|a, b| a.node.cmp(&b.node));
    v
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Component {
    Etcd,
    Apiserver,
}

fn static_pod(p: &Value) -> Option<(Component, StaticPod)> {
    let name = p["metadata"]["name"].as_str()?;
    let node = p["spec"]["nodeName"].as_str().filter(|n| !n.is_empty())?;
    let label = p["metadata"]["labels"]["component"].as_str().unwrap_or("");
    let component = if label == "etcd" || name == format!("etcd-{node}") {
        Component::Etcd
    } else if label == "kube-apiserver" || name == format!("kube-apiserver-{node}") {
        Component::Apiserver
    } else {
        return None;
    };
    let annotation = |k: &str| p["metadata"]["annotations"][k].as_str().map(str::to_string);
    let endpoint = match component {
        Component::Etcd => annotation(ETCD_URLS).or_else(|| flag(p, "--advertise-client-urls")),
        Component::Apiserver => annotation(APISERVER_ENDPOINT).or_else(|| {
            let addr = flag(p, "--advertise-address")?;
            let port = flag(p, "--secure-port").unwrap_or_else(|| "6443".into());
            Some(if addr.contains(':') { format!("[{addr}]:{port}") } else { format!("{addr}:{port}") })
        }),
    }
    .unwrap_or_default();
    let status = &p["status"];
    let ready = status["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True");
    let restarts = status["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["restartCount"].as_u64().unwrap_or(0))
        .sum::<u64>()
        .min(u32::MAX as u64) as u32;
    let started = status["startTime"].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.to_utc());
    let pod = StaticPod {
        name: name.to_string(),
        node: node.to_string(),
        phase: status["phase"].as_str().unwrap_or("Unknown").to_string(),
        ready,
        restarts,
        started,
        endpoint,
    };
    Some((component, pod))
}

/// `--name=value` (or `--name value`) of the pod's first container's command and args.
fn flag(p: &Value, name: &str) -> Option<String> {
    let c = &p["spec"]["containers"][0];
    let words: Vec<&str> =
        ["command", "args"].iter().flat_map(|k| c[*k].as_array().into_iter().flatten().filter_map(Value::as_str)).collect();
    let eq = format!("{name}=");
    for (i, w) in words.iter().enumerate() {
        if let Some(v) = w.strip_prefix(&eq) {
            return Some(v.to_string());
        }
        if *w == name {
            return words.get(i + 1).map(|v| v.to_string());
        }
    }
    None
}

/// `host:port` of an advertised endpoint (see [`advertised_addr`]).
pub use crate::model::apiview::advertised_addr as host_port;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, component: &str, node: &str, ready: &str, extra: Value) -> Value {
        let mut p = json!({
            "metadata": {"name": name, "labels": {"component": component, "tier": "control-plane"}, "annotations": {}},
            "spec": {"nodeName": node, "containers": [{"command": []}]},
            "status": {"phase": "Running", "startTime": "2026-11-30T10:00:00Z",
                       "conditions": [{"type": "Ready", "status": ready}],
                       "containerStatuses": [{"restartCount": 2}, {"restartCount": 1}]}
        });
        if let Some(o) = extra.as_object() {
            for (k, v) in o {
                match k.as_str() {
                    "annotations" => p["metadata"]["annotations"] = v.clone(),
                    "command" => p["spec"]["containers"][0]["command"] = v.clone(),
                    _ => {}
                }
            }
        }
        p
    }

    #[test]
    fn kubeadm_static_pods_give_members_endpoints_and_readiness() {
        let list = json!({"items": [
            pod("etcd-m2", "etcd", "m2", "False", json!({"annotations": {ETCD_URLS: "https://10.0.0.12:2379"}})),
            pod("etcd-m1", "etcd", "m1", "True", json!({"command": ["etcd", "--advertise-client-urls=https://10.0.0.11:2379"]})),
            pod("kube-apiserver-m1", "kube-apiserver", "m1", "True", json!({
                "annotations": {APISERVER_ENDPOINT: "10.0.0.11:6443"},
                "command": ["kube-apiserver", "--etcd-servers=https://127.0.0.1:2379"]})),
            pod("kube-apiserver-m2", "kube-apiserver", "m2", "True", json!({
                "command": ["kube-apiserver", "--advertise-address", "10.0.0.12", "--secure-port=8443", "--etcd-servers=https://127.0.0.1:2379"]})),
            pod("etcd-m3", "etcd", "", "True", json!({})),
            pod("kube-scheduler-m1", "kube-scheduler", "m1", "True", json!({})),
        ]});
        let v = parse(&list);
        let names: Vec<&str> = v.etcd.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["etcd-m1", "etcd-m2"], "sorted by node; an unbound pod and other components left out");
        assert_eq!(v.etcd[0].endpoint, "https://10.0.0.11:2379", "from the command when no annotation");
        assert_eq!(v.etcd[1].endpoint, "https://10.0.0.12:2379");
        assert!(v.etcd[0].ready && !v.etcd[1].ready);
        assert_eq!(v.etcd[0].restarts, 3);
        assert_eq!(v.etcd[0].started.map(|t| t.to_rfc3339()), Some("2026-11-30T10:00:00+00:00".into()));
        assert_eq!(v.apiservers.iter().map(|p| p.endpoint.as_str()).collect::<Vec<_>>(), ["10.0.0.11:6443", "10.0.0.12:8443"]);
        assert_eq!(v.etcd_servers, ["https://127.0.0.1:2379"], "deduplicated");
        assert_eq!(host_port(&v.etcd[0].endpoint), Some("10.0.0.11:2379".parse().unwrap()));
        assert_eq!(host_port("[fd00::1]:6443"), Some("[fd00::1]:6443".parse().unwrap()));
        assert_eq!(host_port(""), None);
    }

    #[test]
    fn external_etcd_is_named_from_the_apiservers_flags() {
        let list = json!({"items": [pod("kube-apiserver-m1", "kube-apiserver", "m1", "True", json!({
            "command": ["kube-apiserver", "--etcd-servers=https://10.0.0.11:2379,https://10.0.0.12:2379"]}))]});
        let v = parse(&list);
        assert!(v.etcd.is_empty());
        assert_eq!(v.etcd_servers, ["https://10.0.0.11:2379", "https://10.0.0.12:2379"]);
        assert_eq!(v.apiservers[0].endpoint, "", "the manifest advertises nothing");
        assert!(parse(&json!({"kind": "Status"})).etcd.is_empty(), "not a list: nothing, no panic");
    }

    #[test]
    fn readiness_counts_make_the_quorum_findings() {
        use crate::model::health::Severity;
        let mk = |ready: &[bool]| {
            let items: Vec<Value> = ready
                .iter()
                .enumerate()
                .map(|(i, r)| pod(&format!("etcd-m{i}"), "etcd", &format!("m{i}"), if *r { "True" } else { "False" }, json!({})))
                .collect();
            parse(&json!({ "items": items })).findings()
        };
        assert!(mk(&[true, true, true]).is_empty());
        let two = mk(&[true, false, true]);
        assert!(two.iter().any(|f| f.0 == Severity::Warn && f.3.contains("cannot lose another member")));
        assert!(two.iter().any(|f| f.3.contains("etcd pod etcd-m1 on m1 not ready")));
        let one = mk(&[false, false, true]);
        assert!(one.iter().any(|f| f.0 == Severity::Critical && f.3.contains("1 of 3 etcd pods ready")), "{one:?}");
        assert!(mk(&[true]).is_empty(), "a single member has nothing to lose and is not warned about");
    }

    #[test]
    fn etcd_outside_the_pods_accepts_writes_only_by_a_lease_renewed_lately() {
        use crate::model::apiview::etcd_unseen;
        use crate::model::health::Severity;
        use crate::model::{Lease, LeaseKind};
        let now = chrono::Utc::now();
        let lease = |ago: i64| Lease {
            namespace: "kube-system".into(),
            name: "kube-scheduler".into(),
            kind: LeaseKind::LeaderElection,
            holder: Some("m1_x".into()),
            renew_time: Some(now - chrono::Duration::seconds(ago)),
            acquire_time: None,
            duration_secs: 15,
            transitions: 0,
        };
        let cp = parse(&json!({"items": [pod("kube-apiserver-m1", "kube-apiserver", "m1", "True", json!({
            "command": ["kube-apiserver", "--etcd-servers=https://10.0.0.11:2379"]}))]}));
        let (sev, text) = etcd_unseen(&cp, Some(&[lease(60), lease(2)]), now);
        assert_eq!(sev, Severity::Info);
        assert!(text.contains("it accepts writes (lease kube-system/kube-scheduler renewed 2.0s ago)"), "{text}");
        assert!(text.contains("the apiservers use https://10.0.0.11:2379"), "{text}");
        let (sev, text) = etcd_unseen(&cp, Some(&[lease(60)]), now);
        assert_eq!(sev, Severity::Unknown, "{text}");
        assert_eq!(etcd_unseen(&cp, None, now).0, Severity::Unknown, "leases not current: nothing to go by");
    }
}
