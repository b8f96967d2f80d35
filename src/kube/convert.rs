//! From lean API objects to the model's types (pure functions).

use chrono::{DateTime, Utc};

use super::lean::{self, LeanCephCluster, LeanEvent, LeanLease, LeanNode, LeanPod, LeanWorkload};
use crate::model::{CephCheck, CephHealth, CephView, KubeWarning, Lease, LeaseKind, Node, Workload, WorkloadKind};

pub fn node(n: LeanNode) -> Node {
    let labels = &n.metadata.labels;
    let mut roles: Vec<String> = labels
        .keys()
        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .chain(labels.get("kubernetes.io/role").filter(|r| !r.is_empty()).cloned())
        .collect();
    roles.sort();
    roles.dedup();
    let cond = |t: &str| n.status.conditions.iter().find(|c| c.type_ == t).map(|c| c.status.as_str());
    let ready = match cond("Ready") {
        Some("True") => Some(true),
        Some("False") => Some(false),
        _ => None,
    };
    let pressures =
        n.status.conditions.iter().filter(|c| c.type_ != "Ready" && c.status == "True").map(|c| c.type_.clone()).collect::<Vec<_>>();
    let taints = n
        .spec
        .taints
        .iter()
        .map(|t| match t.value.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{}={v}:{}", t.key, t.effect),
            None => format!("{}:{}", t.key, t.effect),
        })
        .collect();
    let res = |key: &str| n.status.allocatable.get(key).or_else(|| n.status.capacity.get(key));
    Node {
        name: n.metadata.name.clone(),
        roles,
        ready,
        pressures,
        unschedulable: n.spec.unschedulable,
        taints,
        cpu_allocatable_m: res("cpu").and_then(|q| lean::cpu_millis(q)).unwrap_or(0),
        cpu_requested_m: 0,
        cpu_used_m: None,
        mem_allocatable: res("memory").and_then(|q| lean::bytes(q)).unwrap_or(0),
        mem_requested: 0,
        mem_used: None,
        pods: 0,
        pods_capacity: res("pods").and_then(|q| q.parse::<u32>().ok()).unwrap_or(0),
        kubelet_version: n.status.node_info.kubelet_version.clone(),
        runtime: n.status.node_info.container_runtime_version.clone(),
        kernel: n.status.node_info.kernel_version.clone(),
        internal_ip: n.status.addresses.iter().find(|a| a.type_ == "InternalIP").map(|a| a.address.clone()).unwrap_or_default(),
    }
}

pub fn lease(l: LeanLease, kind: LeaseKind) -> Lease {
    Lease {
        namespace: l.metadata.namespace,
        name: l.metadata.name,
        kind,
        holder: l.spec.holder_identity.filter(|h| !h.is_empty()),
        renew_time: l.spec.renew_time,
        acquire_time: l.spec.acquire_time,
        duration_secs: l.spec.lease_duration_seconds.and_then(|d| u32::try_from(d).ok()).unwrap_or(0),
        transitions: l.spec.lease_transitions.and_then(|t| u32::try_from(t).ok()).unwrap_or(0),
    }
}

fn count(v: Option<i64>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

pub fn workload(w: LeanWorkload, kind: WorkloadKind) -> Workload {
    let s = &w.status;
    let (desired, ready, updated, available) = match kind {
        WorkloadKind::DaemonSet => {
            (count(s.desired_number_scheduled), count(s.number_ready), count(s.updated_number_scheduled), count(s.number_available))
        }
        WorkloadKind::Deployment => {
            (count(w.spec.replicas.or(Some(1))), count(s.ready_replicas), count(s.updated_replicas), count(s.available_replicas))
        }
        // availableReplicas arrived for StatefulSets in 1.22: older servers -> ready
        WorkloadKind::StatefulSet => (
            count(w.spec.replicas.or(Some(1))),
            count(s.ready_replicas),
            count(s.updated_replicas),
            count(s.available_replicas.or(s.ready_replicas)),
        ),
    };
    Workload { namespace: w.metadata.namespace, kind, name: w.metadata.name, desired, ready, updated, available }
}

/// Rook's view of Ceph. None when Rook has not reported Ceph health yet.
pub fn ceph(c: &LeanCephCluster) -> Option<(CephView, Option<DateTime<Utc>>)> {
    let st = c.status.ceph.as_ref()?;
    let health = CephHealth::parse(&st.health)?;
    let checks = st
        .details
        .iter()
        .map(|(code, d)| CephCheck {
            code: code.clone(),
            severity: CephHealth::parse(&d.severity).unwrap_or(health),
            summary: d.message.clone(),
        })
        .collect();
    let checked = st.last_checked.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    let used = st.capacity.bytes_used.unwrap_or(0);
    let total = st.capacity.bytes_total.unwrap_or_else(|| used + st.capacity.bytes_available.unwrap_or(0));
    Some((
        CephView {
            health,
            checks,
            mons: 0,
            mons_in_quorum: 0,
            osds: 0,
            osds_up: 0,
            osds_in: 0,
            pgs_by_state: vec![],
            bytes_used: used,
            bytes_total: total,
            flags: vec![],
            osd_hosts: vec![],
            osd_host_detail: vec![],
            pools: None,
        },
        checked,
    ))
}

/// What the panels keep of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEntry {
    pub node: String,
    pub cpu_m: u64,
    pub mem: u64,
    /// Bound and not Succeeded/Failed: counts against the node's pods and requests.
    pub counted: bool,
    pub ready: bool,
    /// A Rook daemon (by its `app` label): OSD or mon.
    pub rook: Option<RookDaemon>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RookDaemon {
    Osd,
    Mon,
}

pub fn pod(p: LeanPod) -> Option<(String, PodEntry)> {
    let (cpu_m, mem) = p.requests();
    let counted = !p.spec.node_name.is_empty() && !p.is_terminal();
    let rook = match p.metadata.labels.get("app").map(String::as_str) {
        Some("rook-ceph-osd") => Some(RookDaemon::Osd),
        Some("rook-ceph-mon") => Some(RookDaemon::Mon),
        _ => None,
    };
    let ready = p.is_ready();
    Some((p.metadata.key(), PodEntry { node: p.spec.node_name, cpu_m, mem, counted, ready, rook }))
}

/// A Warning event, keyed by its own `NS/NAME`; None for any other type.
pub fn warning(e: LeanEvent) -> Option<(String, KubeWarning)> {
    if e.kind != "Warning" {
        return None;
    }
    let o = &e.involved_object;
    let kind = o.kind.to_lowercase();
    let object = if o.namespace.is_empty() { format!("{kind} {}", o.name) } else { format!("{kind} {}/{}", o.namespace, o.name) };
    let series = e.series.as_ref();
    let count = series.and_then(|s| s.count).or(e.count).unwrap_or(1).max(1);
    let last_seen = series.and_then(|s| s.last_observed_time).or(e.last_timestamp).or(e.event_time).or(e.metadata.creation_timestamp);
    let reporter = if e.source.component.is_empty() { e.reporting_component.clone() } else { e.source.component.clone() };
    let key = e.metadata.key();
    Some((key.clone(), KubeWarning { key, reason: e.reason, object, message: e.message, count, last_seen, reporter }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_fields() {
        let n: LeanNode = serde_json::from_value(json!({
            "metadata": {"name": "m1", "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "", "kubernetes.io/role": "master"}},
            "spec": {"unschedulable": true, "taints": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoExecute"}]},
            "status": {
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "allocatable": {"cpu": "7800m", "memory": "31Gi", "pods": "110"},
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "DiskPressure", "status": "True"}, {"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.20.2", "containerRuntimeVersion": "containerd://1.6.4", "kernelVersion": "5.10.0"},
                "addresses": [{"type": "Hostname", "address": "m1"}, {"type": "InternalIP", "address": "10.0.0.21"}],
                "images": [{"names": ["x"], "sizeBytes": 1}]
            }
        }))
        .unwrap();
        let n = node(n);
        assert_eq!(n.roles, vec!["control-plane", "master"]);
        assert!(n.is_control_plane());
        assert_eq!(n.ready, Some(true));
        assert_eq!(n.pressures, vec!["DiskPressure"]);
        assert_eq!(n.taints, vec!["node-role.kubernetes.io/master:NoSchedule", "k=v:NoExecute"]);
        assert_eq!((n.cpu_allocatable_m, n.mem_allocatable, n.pods_capacity), (7800, 31 << 30, 110));
        assert_eq!((n.kubelet_version.as_str(), n.runtime.as_str(), n.kernel.as_str()), ("v1.20.2", "containerd://1.6.4", "5.10.0"));
        assert_eq!(n.internal_ip, "10.0.0.21");
        assert!(n.unschedulable);
    }

    #[test]
    fn lease_and_workloads() {
        let l: LeanLease = serde_json::from_value(json!({
            "metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
            "spec": {"holderIdentity": "m2_6a9c", "leaseDurationSeconds": 15, "acquireTime": "2024-01-01T00:00:00.000000Z",
                     "renewTime": "2024-01-01T00:01:00.123456Z", "leaseTransitions": 3}
        }))
        .unwrap();
        let l = lease(l, LeaseKind::LeaderElection);
        assert_eq!((l.holder_host(), l.duration_secs, l.transitions), (Some("m2"), 15, 3));
        assert_eq!(l.renew_time.map(|t| t.timestamp_subsec_micros()), Some(123456));

        let ds: LeanWorkload = serde_json::from_value(json!({"metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "status": {"desiredNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}}))
        .unwrap();
        let ds = workload(ds, WorkloadKind::DaemonSet);
        assert_eq!((ds.desired, ds.ready, ds.updated, ds.available), (3, 2, 3, 2));
        assert!(!ds.is_ready());
        let sts: LeanWorkload = serde_json::from_value(
            json!({"metadata": {"name": "x", "namespace": "rook-ceph"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 2}}),
        )
        .unwrap();
        assert!(workload(sts, WorkloadKind::StatefulSet).is_ready());
        let dep: LeanWorkload =
            serde_json::from_value(json!({"metadata": {"name": "coredns", "namespace": "kube-system"}, "spec": {}, "status": {}})).unwrap();
        let dep = workload(dep, WorkloadKind::Deployment);
        assert_eq!(dep.desired, 1);
        assert!(!dep.is_ready());
    }

    #[test]
    fn rook_cephcluster_status() {
        let c: LeanCephCluster = serde_json::from_value(json!({
            "metadata": {"name": "rook-ceph", "namespace": "rook-ceph"},
            "status": {"phase": "Ready", "ceph": {
                "health": "HEALTH_WARN", "lastChecked": "2024-05-02T10:11:12Z",
                "details": {"OSD_DOWN": {"severity": "HEALTH_WARN", "message": "1 osds down"}, "MON_CLOCK_SKEW": {"severity": "HEALTH_ERR", "message": "skew"}},
                "capacity": {"bytesAvailable": 600, "bytesTotal": 1000, "bytesUsed": 400, "lastUpdated": "2024-05-02T10:11:12Z"},
                "fsid": "x", "versions": {"mon": {"ceph version 18": 3}}
            }}
        }))
        .unwrap();
        let (v, at) = ceph(&c).unwrap();
        assert_eq!(v.health, CephHealth::Warn);
        assert_eq!(v.checks.len(), 2);
        assert!(v.checks.iter().any(|c| c.code == "MON_CLOCK_SKEW" && c.severity == CephHealth::Err));
        assert_eq!((v.bytes_used, v.bytes_total), (400, 1000));
        assert_eq!(at.map(|t| t.to_rfc3339()), Some("2024-05-02T10:11:12+00:00".to_string()));
        let none: LeanCephCluster = serde_json::from_value(json!({"metadata": {"name": "r"}, "status": {"phase": "Progressing"}})).unwrap();
        assert!(ceph(&none).is_none());
    }
}
