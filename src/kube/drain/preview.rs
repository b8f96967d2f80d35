//! The plan of a drain: which pods of the node move, which stay and why, which a PodDisruptionBudget
//! holds; the preview the confirm dialog shows. Reads only.

use std::collections::HashMap;
use std::time::Duration;

use super::check_name;
use crate::kube::client::{Kube, KubeError};
use crate::kube::lean::{LeanPdb, LeanPod, List};
use crate::ops::DrainOptions;

/// The dry run of a drain, for the confirm dialog.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainPreview {
    pub node: String,
    /// `namespace/name` of the pods that will be evicted now.
    pub evict: Vec<String>,
    /// Pods the drain leaves alone, and why (DaemonSet, mirror, already terminating).
    pub skipped: Vec<(String, String)>,
    /// Pods that cannot move now, and why: either they need an option (the drain then refuses to start:
    /// see [`DrainPreview::refused`]) or a PodDisruptionBudget holds them (the drain retries them).
    pub blocked: Vec<(String, String)>,
    /// Pods that need an option the operator did not give: the drain would refuse.
    pub refused: Vec<String>,
}

impl DrainPreview {
    /// The drain would refuse to start (some pod needs delete_emptydir_data or force_unmanaged).
    pub fn refuses(&self) -> bool {
        !self.refused.is_empty()
    }
    /// Lines for a confirm dialog.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{}: {} pod(s) to evict, {} blocked, {} skipped",
            self.node,
            self.evict.len(),
            self.blocked.len(),
            self.skipped.len()
        )];
        for (p, why) in &self.blocked {
            out.push(format!("blocked  {p}: {why}"));
        }
        for (p, why) in &self.skipped {
            out.push(format!("skip     {p}: {why}"));
        }
        for p in &self.evict {
            out.push(format!("evict    {p}"));
        }
        out
    }
}

/// A pod of the node with the decision about it.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) key: String,
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) uid: String,
    /// The PDB covering it, for messages.
    pub(super) pdb: Option<String>,
}

/// What a drain will do with each pod of the node: the preview shown, and the pods to evict.
pub(super) struct Evictions {
    pub(super) preview: DrainPreview,
    /// Evict now, and those a PDB holds (retried).
    pub(super) targets: Vec<Target>,
}

/// What a drain of `node` would do now. Reads pods of the node and the PDBs; changes nothing.
pub async fn drain_preview(kube: &Kube, node: &str, options: &DrainOptions) -> Result<DrainPreview, KubeError> {
    let caps = kube.discover().await?;
    Ok(plan_drain(kube, node, options, caps.policy).await?.preview)
}

/// The pods of a node, from the API server's watch cache (`resourceVersion=0`, indexed by node): the
/// same data every watcher sees, milliseconds behind etcd. A consistent read would scan every pod of
/// the cluster in etcd (seconds on a 30,000-pod cluster), and a drain reads this every 500 ms.
pub(super) async fn node_pods(kube: &Kube, node: &str) -> Result<Vec<LeanPod>, KubeError> {
    let path = format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}&resourceVersion=0");
    let l: List<LeanPod> = kube.get_json_within(&path, LIST_TIMEOUT).await?;
    Ok(l.items)
}

/// A node's labels and its pods with their requests, for the node's detail view. Reads only: the
/// node itself and the pods bound to it (from the watch cache, as the drain reads them).
pub async fn node_extra(kube: &Kube, node: &str) -> Result<crate::model::NodeExtra, KubeError> {
    check_name("node", node).map_err(KubeError::Decode)?;
    let n: crate::kube::lean::LeanNode = kube.get_json(&format!("/api/v1/nodes/{node}")).await?;
    let mut pods: Vec<crate::model::NodePod> = node_pods(kube, node).await?.iter().map(brief).collect();
    pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(crate::model::NodeExtra { labels: n.metadata.labels, pods })
}

/// One pod as the node's detail view lists it.
pub(crate) fn brief(p: &LeanPod) -> crate::model::NodePod {
    let (cpu, mem) = p.requests();
    let owner = if p.is_mirror() { Some("mirror".to_string()) } else { p.metadata.controller().map(|o| o.kind.clone()) };
    crate::model::NodePod {
        namespace: p.metadata.namespace.clone(),
        name: p.metadata.name.clone(),
        phase: p.status.phase.clone(),
        ready: p.is_ready(),
        owner,
        cpu_request_m: cpu,
        mem_request: mem,
        terminating: p.metadata.deletion_timestamp.is_some(),
    }
}

/// Lists on a big, busy cluster may take longer than a single object.
pub(super) const LIST_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn plan_drain(kube: &Kube, node: &str, options: &DrainOptions, policy: &str) -> Result<Evictions, KubeError> {
    check_name("node", node).map_err(KubeError::Decode)?;
    let pods = node_pods(kube, node).await?;
    let pdbs: List<LeanPdb> = kube.get_json_within(&format!("/apis/{policy}/poddisruptionbudgets?resourceVersion=0"), LIST_TIMEOUT).await?;
    Ok(classify(node, pods, &pdbs.items, options))
}

pub(super) fn classify(node: &str, mut pods: Vec<LeanPod>, pdbs: &[LeanPdb], options: &DrainOptions) -> Evictions {
    pods.sort_by_key(|p| p.metadata.key());
    let mut preview = DrainPreview { node: node.to_string(), ..Default::default() };
    let mut targets = Vec::new();
    // disruptions each PDB still allows, spent pod by pod in order
    let mut budget: HashMap<String, i64> = pdbs.iter().map(|p| (p.metadata.key(), p.status.disruptions_allowed)).collect();
    for p in &pods {
        let key = p.metadata.key();
        if p.metadata.deletion_timestamp.is_some() {
            preview.skipped.push((key, "already terminating".into()));
            continue;
        }
        if p.is_mirror() {
            preview.skipped.push((key, "mirror pod (static, managed by the kubelet)".into()));
            continue;
        }
        if p.is_daemonset() {
            preview.skipped.push((key, "DaemonSet pod (ignores the cordon; stays)".into()));
            continue;
        }
        let finished = p.is_terminal();
        let mut needs = Vec::new();
        if p.metadata.controller().is_none() && !finished && !options.force_unmanaged {
            needs.push("no controller: it would not be recreated (needs force_unmanaged)");
        }
        if p.has_emptydir() && !finished && !options.delete_emptydir_data {
            needs.push("emptyDir volume: its data would be lost (needs delete_emptydir_data)");
        }
        if !needs.is_empty() {
            preview.blocked.push((key.clone(), needs.join("; ")));
            preview.refused.push(key);
            continue;
        }
        let covering: Vec<&LeanPdb> = pdbs
            .iter()
            .filter(|b| {
                b.metadata.namespace == p.metadata.namespace && b.spec.selector.as_ref().is_some_and(|s| s.matches(&p.metadata.labels))
            })
            .collect();
        let target = Target {
            key: key.clone(),
            namespace: p.metadata.namespace.clone(),
            name: p.metadata.name.clone(),
            uid: p.metadata.uid.clone(),
            pdb: covering.first().map(|b| b.metadata.name.clone()),
        };
        if finished {
            preview.evict.push(key);
        } else if covering.len() > 1 {
            let names: Vec<&str> = covering.iter().map(|b| b.metadata.name.as_str()).collect();
            preview.blocked.push((key.clone(), format!("covered by several PDBs ({}): the API refuses to evict it", names.join(", "))));
            preview.refused.push(key);
            continue;
        } else if let Some(b) = covering.first() {
            let left = budget.entry(b.metadata.key()).or_insert(0);
            if *left > 0 {
                *left -= 1;
                preview.evict.push(key);
            } else {
                preview.blocked.push((
                    key,
                    format!(
                        "PDB {} allows no more disruptions now ({} healthy, {} needed): retried until a replacement is Ready",
                        b.metadata.name, b.status.current_healthy, b.status.desired_healthy
                    ),
                ));
            }
        } else {
            preview.evict.push(key);
        }
        targets.push(target);
    }
    Evictions { preview, targets }
}
