//! Lean views of Kubernetes objects: only the fields kockpit shows or needs for a decision. serde skips
//! everything else while parsing (a Node's image list, a Pod's env and probes...), so a 30,000-pod list
//! never exists as full objects in memory. Every field is optional: API data is never trusted to be complete.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub resource_version: String,
    pub deletion_timestamp: Option<DateTime<Utc>>,
    pub creation_timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub owner_references: Vec<OwnerRef>,
}

impl Meta {
    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub fn key(&self) -> String {
        if self.namespace.is_empty() { self.name.clone() } else { format!("{}/{}", self.namespace, self.name) }
    }
    /// The owner that controls this object (`controller: true`).
    pub fn controller(&self) -> Option<&OwnerRef> {
        self.owner_references.iter().find(|o| o.controller)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OwnerRef {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub controller: bool,
}

/// Metadata only: enough for a bookmark or a deleted object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetaOnly {
    #[serde(default)]
    pub metadata: Meta,
}

// ------------------------------------------------------------------------------------------ nodes

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeanNode {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: NodeSpec,
    #[serde(default)]
    pub status: NodeStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeSpec {
    #[serde(default)]
    pub unschedulable: bool,
    #[serde(default)]
    pub taints: Vec<Taint>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Taint {
    #[serde(default)]
    pub key: String,
    pub value: Option<String>,
    #[serde(default)]
    pub effect: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    #[serde(default)]
    pub capacity: BTreeMap<String, String>,
    #[serde(default)]
    pub allocatable: BTreeMap<String, String>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub node_info: NodeInfo,
    #[serde(default)]
    pub addresses: Vec<Address>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Condition {
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    #[serde(default)]
    pub kubelet_version: String,
    #[serde(default)]
    pub container_runtime_version: String,
    #[serde(default)]
    pub kernel_version: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Address {
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub address: String,
}

// ------------------------------------------------------------------------------------------- pods

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeanPod {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default)]
    pub status: PodStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub node_name: String,
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default)]
    pub init_containers: Vec<Container>,
    #[serde(default)]
    pub overhead: BTreeMap<String, String>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Container {
    #[serde(default)]
    pub resources: Resources,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resources {
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    #[serde(default)]
    pub name: String,
    /// Present (whatever its content) when the volume is an emptyDir.
    pub empty_dir: Option<Present>,
}

/// Deserializes from any JSON map, keeping nothing: "the field is there".
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Present {}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodStatus {
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

impl LeanPod {
    pub fn is_ready(&self) -> bool {
        self.status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
    }
    /// Succeeded or Failed: holds no resources any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.phase.as_str(), "Succeeded" | "Failed")
    }
    pub fn is_mirror(&self) -> bool {
        self.metadata.annotations.contains_key("kubernetes.io/config.mirror")
    }
    pub fn is_daemonset(&self) -> bool {
        self.metadata.controller().is_some_and(|o| o.kind == "DaemonSet")
    }
    pub fn has_emptydir(&self) -> bool {
        self.spec.volumes.iter().any(|v| v.empty_dir.is_some())
    }
    /// The scheduler's view of what the pod requests: max(sum of containers, largest init container) + overhead.
    pub fn requests(&self) -> (u64, u64) {
        let sum = |cs: &[Container], key: &str, parse: fn(&str) -> Option<u64>| -> u64 {
            cs.iter().filter_map(|c| c.resources.requests.get(key).and_then(|q| parse(q))).sum()
        };
        let max = |cs: &[Container], key: &str, parse: fn(&str) -> Option<u64>| -> u64 {
            cs.iter().filter_map(|c| c.resources.requests.get(key).and_then(|q| parse(q))).max().unwrap_or(0)
        };
        let cpu = sum(&self.spec.containers, "cpu", cpu_millis).max(max(&self.spec.init_containers, "cpu", cpu_millis))
            + self.spec.overhead.get("cpu").and_then(|q| cpu_millis(q)).unwrap_or(0);
        let mem = sum(&self.spec.containers, "memory", bytes).max(max(&self.spec.init_containers, "memory", bytes))
            + self.spec.overhead.get("memory").and_then(|q| bytes(q)).unwrap_or(0);
        (cpu, mem)
    }
}

// ----------------------------------------------------------------------------------------- leases

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeanLease {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: LeaseSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSpec {
    pub holder_identity: Option<String>,
    pub lease_duration_seconds: Option<i64>,
    pub acquire_time: Option<DateTime<Utc>>,
    pub renew_time: Option<DateTime<Utc>>,
    pub lease_transitions: Option<i64>,
}

// ---------------------------------------------------------------------------------- workloads

/// DaemonSet, Deployment or StatefulSet: the union of the replica fields kockpit reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeanWorkload {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: WorkloadSpec,
    #[serde(default)]
    pub status: WorkloadStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorkloadSpec {
    pub replicas: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    // DaemonSet
    pub desired_number_scheduled: Option<i64>,
    pub number_ready: Option<i64>,
    pub updated_number_scheduled: Option<i64>,
    pub number_available: Option<i64>,
    // Deployment, StatefulSet
    pub replicas: Option<i64>,
    pub ready_replicas: Option<i64>,
    pub updated_replicas: Option<i64>,
    pub available_replicas: Option<i64>,
}

// ---------------------------------------------------------------------------------------- PDBs

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeanPdb {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: PdbSpec,
    #[serde(default)]
    pub status: PdbStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PdbSpec {
    pub selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PdbStatus {
    #[serde(default)]
    pub disruptions_allowed: i64,
    #[serde(default)]
    pub current_healthy: i64,
    #[serde(default)]
    pub desired_healthy: i64,
    #[serde(default)]
    pub expected_pods: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<SelectorRequirement>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SelectorRequirement {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Kubernetes semantics: every requirement must hold; an empty selector matches everything.
    /// An unknown operator matches nothing (fail safe: the PDB is then not assumed to cover the pod).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let have = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => have.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => have.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
    }
}

// ------------------------------------------------------------------------------ Rook CephCluster

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeanCephCluster {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub status: CephClusterStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CephClusterStatus {
    pub ceph: Option<CephStatus>,
    pub phase: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CephStatus {
    #[serde(default)]
    pub health: String,
    #[serde(default)]
    pub details: BTreeMap<String, CephDetail>,
    /// Rook writes e.g. "2024-05-02T10:11:12Z".
    pub last_checked: Option<String>,
    #[serde(default)]
    pub capacity: CephCapacity,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CephDetail {
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CephCapacity {
    pub bytes_available: Option<u64>,
    pub bytes_total: Option<u64>,
    pub bytes_used: Option<u64>,
}

// ------------------------------------------------------------------------------ metrics.k8s.io

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeMetrics {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    #[serde(default)]
    pub metadata: ListMeta,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(default)]
    pub resource_version: String,
    #[serde(rename = "continue", default)]
    pub continue_: String,
    /// The list came in the protobuf encoding (not a field of the API's).
    #[serde(skip)]
    pub protobuf: bool,
}

// ---------------------------------------------------------------------------------- quantities

/// A CPU quantity in millicores: "2", "250m", "0.5", "1500000n", "1k". None when unparseable.
pub fn cpu_millis(q: &str) -> Option<u64> {
    let (num, scale) = split_quantity(q)?;
    // millicores = value * scale * 1000, with scale as (numerator, denominator)
    let v = num * scale * 1000.0;
    if v.is_finite() && v >= 0.0 { Some(v.ceil() as u64) } else { None }
}

/// A memory (or any byte) quantity in bytes: "128Mi", "1G", "1e9", "512". None when unparseable.
pub fn bytes(q: &str) -> Option<u64> {
    let (num, scale) = split_quantity(q)?;
    let v = num * scale;
    if v.is_finite() && v >= 0.0 { Some(v.ceil() as u64) } else { None }
}

fn split_quantity(q: &str) -> Option<(f64, f64)> {
    let q = q.trim();
    if q.is_empty() {
        return None;
    }
    let suffixes: [(&str, f64); 15] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (s, f) in suffixes {
        if let Some(n) = q.strip_suffix(s) {
            return n.parse::<f64>().ok().map(|n| (n, f));
        }
    }
    // plain number, possibly with an exponent ("1e3", "12E6")
    q.parse::<f64>().ok().map(|n| (n, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("250m"), Some(250));
        assert_eq!(cpu_millis("0.5"), Some(500));
        assert_eq!(cpu_millis("1500000n"), Some(2));
        assert_eq!(cpu_millis("x"), None);
        assert_eq!(bytes("128Mi"), Some(128 * 1024 * 1024));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("32Gi"), Some(32 << 30));
        assert_eq!(bytes("3843948Ki"), Some(3843948 * 1024));
        assert_eq!(bytes(""), None);
        assert_eq!(bytes("-1"), None);
    }

    #[test]
    fn pod_requests_and_flags() {
        let pod: LeanPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "ownerReferences": [{"kind": "DaemonSet", "name": "d", "controller": true}],
                          "annotations": {"x": "y"}},
            "spec": {"nodeName": "n1",
                     "containers": [{"name": "a", "image": "i", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                                    {"name": "b", "resources": {"requests": {"cpu": "150m"}}}],
                     "initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "16Mi"}}}],
                     "overhead": {"cpu": "10m"},
                     "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}, {"name": "cfg", "configMap": {"name": "c"}}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "podIP": "10.0.0.1"}
        }))
        .unwrap();
        assert_eq!(pod.requests(), (1010, 64 << 20));
        assert!(pod.is_daemonset() && pod.has_emptydir() && pod.is_ready() && !pod.is_mirror() && !pod.is_terminal());
    }

    #[test]
    fn selectors() {
        let labels: BTreeMap<String, String> = [("app".to_string(), "osd".to_string()), ("tier".into(), "db".into())].into();
        let sel = |v: serde_json::Value| serde_json::from_value::<LabelSelector>(v).unwrap();
        assert!(sel(serde_json::json!({})).matches(&labels));
        assert!(sel(serde_json::json!({"matchLabels": {"app": "osd"}})).matches(&labels));
        assert!(!sel(serde_json::json!({"matchLabels": {"app": "mon"}})).matches(&labels));
        assert!(sel(serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db", "x"]}]})).matches(&labels));
        assert!(!sel(serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]})).matches(&labels));
        assert!(sel(serde_json::json!({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]})).matches(&labels));
        assert!(!sel(serde_json::json!({"matchExpressions": [{"key": "zone", "operator": "Exists"}]})).matches(&labels));
        assert!(!sel(serde_json::json!({"matchExpressions": [{"key": "app", "operator": "Bogus"}]})).matches(&labels));
    }
}

// ----------------------------------------------------------------------------------------- events

/// A core/v1 Event; reporters on the events.k8s.io API show here too (`series`, `eventTime`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeanEvent {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub involved_object: EventObject,
    pub count: Option<u32>,
    pub series: Option<EventSeries>,
    pub last_timestamp: Option<DateTime<Utc>>,
    pub event_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub source: EventSource,
    #[serde(default)]
    pub reporting_component: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventObject {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSeries {
    pub count: Option<u32>,
    pub last_observed_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventSource {
    #[serde(default)]
    pub component: String,
}
