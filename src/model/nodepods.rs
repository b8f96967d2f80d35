//! What the node detail view asks the cluster for on demand: the node's labels and its pods with
//! their requests. The model's node rows carry only per-node totals; this is read when a node is
//! opened, and again while its view stays open.

use std::collections::BTreeMap;

use serde::Serialize;

/// One pod bound to the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodePod {
    pub namespace: String,
    pub name: String,
    /// Pending, Running, Succeeded, Failed, Unknown (as the API says; empty when it says nothing).
    pub phase: String,
    pub ready: bool,
    /// The kind of its controller (ReplicaSet, DaemonSet, StatefulSet, Job ...), `mirror` for a static
    /// pod, None for a pod nothing recreates.
    pub owner: Option<String>,
    /// What the scheduler counts: max(sum of containers, largest init container) + overhead.
    pub cpu_request_m: u64,
    pub mem_request: u64,
    /// Being deleted.
    pub terminating: bool,
}

impl NodePod {
    /// Succeeded or Failed: holds nothing on the node any more.
    pub fn finished(&self) -> bool {
        matches!(self.phase.as_str(), "Succeeded" | "Failed")
    }
}

/// A node's labels and pods, as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeExtra {
    pub labels: BTreeMap<String, String>,
    pub pods: Vec<NodePod>,
}

impl NodeExtra {
    /// The pods that count against the node: not finished. Their requests summed (cpu m, bytes).
    pub fn requested(&self) -> (u64, u64) {
        self.pods.iter().filter(|p| !p.finished()).fold((0, 0), |(c, m), p| (c + p.cpu_request_m, m + p.mem_request))
    }
}
