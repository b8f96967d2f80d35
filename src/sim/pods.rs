//! The simulated cluster's pods, named: each node's pod count made into pods a real kubeadm/KubeKey
//! cluster with KubeSphere and Rook would run there (static control-plane pods, the DaemonSets of every
//! node, Deployments and StatefulSets). Their requests add up to the node's requested totals.

use std::collections::BTreeMap;

use super::*;
use crate::model::{NodeExtra, NodePod};

/// kubeadm's requests for the static control-plane pods (cpu m), with their names.
const STATIC_PODS: [(&str, u64); 4] = [("etcd", 100), ("kube-apiserver", 250), ("kube-controller-manager", 200), ("kube-scheduler", 100)];

/// The DaemonSets every node runs (kube-system's and KubeSphere's), then Rook's CSI plugin (workers).
const DAEMONSETS: [(&str, &str); 5] = [
    ("kube-system", "kube-proxy"),
    ("kube-system", "calico-node"),
    ("kube-system", "nodelocaldns"),
    ("kubesphere-logging-system", "fluent-bit"),
    ("rook-ceph", "csi-rbdplugin"),
];

/// What else runs on control-plane nodes and on workers: (namespace, name, kind).
const ON_MASTERS: [(&str, &str, &str); 6] = [
    ("kube-system", "coredns", "ReplicaSet"),
    ("kube-system", "calico-kube-controllers", "ReplicaSet"),
    ("kubesphere-system", "ks-apiserver", "ReplicaSet"),
    ("kubesphere-system", "ks-console", "ReplicaSet"),
    ("kubesphere-system", "ks-controller-manager", "ReplicaSet"),
    ("kubesphere-monitoring-system", "prometheus-operator", "ReplicaSet"),
];
const ON_WORKERS: [(&str, &str, &str); 10] = [
    ("rook-ceph", "rook-ceph-osd", "ReplicaSet"),
    ("rook-ceph", "rook-ceph-mon", "ReplicaSet"),
    ("rook-ceph", "csi-rbdplugin-provisioner", "ReplicaSet"),
    ("shop", "web", "ReplicaSet"),
    ("shop", "api", "ReplicaSet"),
    ("shop", "cart", "ReplicaSet"),
    ("shop", "redis", "StatefulSet"),
    ("shop", "orders", "ReplicaSet"),
    ("kubesphere-monitoring-system", "prometheus-k8s", "StatefulSet"),
    ("kubesphere-logging-system", "elasticsearch-logging-data", "StatefulSet"),
];

/// A short, stable pod-name suffix (as the ReplicaSet and DaemonSet controllers add).
fn suffix(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..len)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h = (h / ALPHABET.len() as u64) ^ h.rotate_left(17);
            c
        })
        .collect()
}

impl SimCluster {
    /// The node's requests (cpu m, memory bytes): the sum of its pods' requests.
    pub(super) fn node_requests(&self, n: &SimNode) -> (u64, u64) {
        let statics = if n.control_plane { STATIC_PODS.len() as u64 } else { 0 };
        let others = u64::from(n.pods).saturating_sub(statics);
        let static_cpu: u64 = if n.control_plane { STATIC_PODS.iter().map(|(_, c)| c).sum() } else { 0 };
        (others * self.pod_cpu_m + static_cpu, u64::from(n.pods) * self.pod_mem)
    }

    /// The pods a drain leaves on the node: its DaemonSet pods and static (mirror) pods.
    pub(super) fn staying_pods(&self, n: &SimNode) -> u32 {
        n.daemonset_pods.min(DAEMONSETS.len() as u32) + if n.control_plane { STATIC_PODS.len() as u32 } else { 0 }
    }

    /// A node's labels and pods, as the API would list them.
    pub fn node_extra(&self, node: &str) -> Result<NodeExtra, String> {
        let n = self.nodes.iter().find(|n| n.name == node).ok_or_else(|| format!("pods of {node}: node \"{node}\" not found"))?;
        let mut labels = BTreeMap::new();
        for (k, v) in [("kubernetes.io/hostname", node), ("kubernetes.io/os", "linux"), ("kubernetes.io/arch", "amd64")] {
            labels.insert(k.to_string(), v.to_string());
        }
        let role = if n.control_plane { "node-role.kubernetes.io/control-plane" } else { "node-role.kubernetes.io/worker" };
        labels.insert(role.to_string(), String::new());
        if n.control_plane {
            labels.insert("node-role.kubernetes.io/master".to_string(), String::new());
        }
        let pod = |namespace: &str, name: String, owner: Option<&str>, cpu: u64| NodePod {
            namespace: namespace.to_string(),
            name,
            phase: "Running".into(),
            ready: n.ready,
            owner: owner.map(str::to_string),
            cpu_request_m: cpu,
            mem_request: self.pod_mem,
            terminating: false,
        };
        let mut pods = Vec::with_capacity(n.pods as usize);
        if n.control_plane {
            for (name, cpu) in STATIC_PODS {
                pods.push(pod("kube-system", format!("{name}-{node}"), Some("mirror"), cpu));
            }
        }
        let daemonsets = (n.daemonset_pods as usize).min(DAEMONSETS.len());
        for (ns, ds) in &DAEMONSETS[..daemonsets] {
            pods.push(pod(ns, format!("{ds}-{}", suffix(&format!("{node}/{ds}"), 5)), Some("DaemonSet"), self.pod_cpu_m));
        }
        let others: &[(&str, &str, &str)] = if n.control_plane { &ON_MASTERS } else { &ON_WORKERS };
        let mut i = 0usize;
        while pods.len() < n.pods as usize {
            let (ns, name, kind) = others[i % others.len()];
            let round = i / others.len();
            let pod_name = match kind {
                "StatefulSet" => format!("{name}-{}", round + self.nodes.iter().position(|x| x.name == node).unwrap_or(0) * 10),
                _ => format!("{name}-{}-{}", suffix(&format!("{ns}/{name}"), 9), suffix(&format!("{node}/{name}/{round}"), 5)),
            };
            pods.push(pod(ns, pod_name, Some(kind), self.pod_cpu_m));
            i += 1;
        }
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(NodeExtra { labels, pods })
    }
}
