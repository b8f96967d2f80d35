//! The control plane as the Kubernetes API shows it: the static pods of kube-system (etcd and
//! kube-apiserver, as kubeadm and KubeKey run them) and what their manifests say. This is what a
//! cluster opened from its kubeconfig alone knows of etcd: which members run where and whether their
//! kubelet reports them ready. Leader, raft term and database size need etcd itself (over SSH, with
//! its client certificate) and stay unknown.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::health::Severity;
use super::{Lease, PanelId};

/// One static pod of the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticPod {
    pub name: String,
    pub node: String,
    /// Pending, Running, Failed, ... (`status.phase`).
    pub phase: String,
    /// The kubelet's Ready condition.
    pub ready: bool,
    /// Restarts of its containers, summed.
    pub restarts: u32,
    /// When it started, by the kubelet's account.
    pub started: Option<DateTime<Utc>>,
    /// etcd: its advertised client URL(s); kube-apiserver: its advertised address:port. Empty when the
    /// manifest does not say.
    pub endpoint: String,
}

/// etcd and the apiservers as kube-system's static pods show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ControlPlaneView {
    pub etcd: Vec<StaticPod>,
    pub apiservers: Vec<StaticPod>,
    /// The etcd endpoints the apiservers are started with (`--etcd-servers`): where etcd runs outside
    /// the pods (KubeKey's systemd etcd, an external cluster) this is all the API tells of it.
    pub etcd_servers: Vec<String>,
}

impl ControlPlaneView {
    pub fn etcd_ready(&self) -> usize {
        self.etcd.iter().filter(|p| p.ready).count()
    }

    /// What this view lets one say, as (severity, panel, subject, text). The kubelets' view, said as such:
    /// a pod Ready is a process whose liveness probe passes, not a member in quorum.
    pub fn findings(&self) -> Vec<(Severity, PanelId, String, String)> {
        let mut out = Vec::new();
        let n = self.etcd.len();
        let ready = self.etcd_ready();
        if n > 0 && ready < n / 2 + 1 {
            out.push((
                Severity::Critical,
                PanelId::Etcd,
                "quorum".to_string(),
                format!("etcd quorum at risk: {ready} of {n} etcd pods ready (the kubelets' view), {} needed", n / 2 + 1),
            ));
        } else if n > 1 && ready == n / 2 + 1 {
            out.push((Severity::Warn, PanelId::Etcd, "quorum".to_string(), "etcd cannot lose another member (the kubelets' view)".into()));
        }
        for p in self.etcd.iter().filter(|p| !p.ready) {
            out.push((Severity::Warn, PanelId::Etcd, p.node.clone(), format!("etcd pod {} on {} not ready ({})", p.name, p.node, p.phase)));
        }
        if !self.apiservers.is_empty() && self.apiservers.iter().all(|p| !p.ready) {
            out.push((Severity::Critical, PanelId::Haproxy, "apiservers".into(), "no kube-apiserver pod is ready".into()));
        }
        for p in self.apiservers.iter().filter(|p| !p.ready) {
            out.push((
                Severity::Warn,
                PanelId::Haproxy,
                p.node.clone(),
                format!("kube-apiserver pod {} on {} not ready ({})", p.name, p.node, p.phase),
            ));
        }
        out
    }
}

/// What can be said of etcd when kube-system has no etcd pod (KubeKey's systemd etcd, an external
/// cluster, a control plane the API does not show): a lease renewed within its duration is a write
/// etcd accepted lately, so it has a quorum; without one, its quorum is unknown.
pub fn etcd_unseen(cp: &ControlPlaneView, leases: Option<&[Lease]>, now: DateTime<Utc>) -> (Severity, String) {
    let at = if cp.etcd_servers.is_empty() { String::new() } else { format!(" (the apiservers use {})", cp.etcd_servers.join(" ")) };
    // a control-plane component's leader lease first (a write of the control plane), else any
    let newest = leases
        .into_iter()
        .flatten()
        .filter(|l| !l.expired(now))
        .filter_map(|l| Some((l.kind == super::LeaseKind::LeaderElection, l.renew_time?, l)))
        .max_by_key(|(leader, t, _)| (*leader, *t));
    match newest {
        Some((_, t, l)) => (
            Severity::Info,
            format!(
                "etcd is not among kube-system's pods{at}; it accepts writes (lease {}/{} renewed {} ago); members and quorum need a host plan",
                l.namespace,
                l.name,
                super::source::fmt_age_ms((now - t).num_milliseconds().max(0))
            ),
        ),
        None => {
            (Severity::Unknown, format!("etcd quorum unknown: etcd is not among kube-system's pods{at}, and no lease was renewed lately"))
        }
    }
}

/// `host:port` of an advertised endpoint (`https://10.0.0.11:2379`, `10.0.0.11:6443`, `[fd00::1]:6443`).
pub fn advertised_addr(endpoint: &str) -> Option<std::net::SocketAddr> {
    let first = endpoint.split(',').next()?.trim();
    let rest = first.split_once("://").map_or(first, |(_, r)| r);
    rest.split('/').next()?.parse().ok()
}

/// The findings of a cluster opened from its kubeconfig alone, beyond the API's own panels: etcd and
/// the apiservers by their static pods (from a current list only), and a served certificate the
/// kubeconfig's CA did not issue (something else answers TLS there: a proxy, another service).
pub fn findings_without_plan(m: &super::Model, now: DateTime<Utc>) -> Vec<(Severity, PanelId, String, String)> {
    let mut out = Vec::new();
    if m.etcd.unheard()
        && let Some(cp) = m.control_plane.data.as_ref().filter(|_| m.control_plane.freshness(now).is_fresh())
    {
        out.extend(cp.findings());
        if cp.etcd.is_empty() {
            let leases = m.leases.data.as_deref().filter(|_| m.leases.freshness(now).is_fresh());
            let (sev, text) = etcd_unseen(cp, leases, now);
            out.push((sev, PanelId::Etcd, "quorum".into(), text));
        }
    }
    if let crate::inventory::PlanSource::Kubeconfig { ca_subject: Some(ca), .. } = &m.plan.source {
        for (row, c) in m.certs.iter().flat_map(|(row, s)| s.data.iter().flatten().map(move |c| (row, c))) {
            if c.name.starts_with("apiserver (served)") && c.issuer != *ca {
                let text =
                    format!("{row}: served certificate issued by {}, not by the kubeconfig's CA ({ca}): not the apiserver's", c.issuer);
                out.push((Severity::Warn, PanelId::Certs, row.clone(), text));
            }
        }
    }
    out
}
