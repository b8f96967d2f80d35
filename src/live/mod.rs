//! The live backend: SSH probes of the HA front, etcd/Ceph/certificates, and the Kubernetes watches,
//! combined into one.

pub mod apionly;
pub mod renew;
pub mod stores;

use color_eyre::Result;

use crate::backend::{BackendHandle, Part, combine};
use crate::inventory::Plan;
use crate::model::Model;

/// `session`: the audit log's session id, said in the User-Agent of the requests to the API server.
pub fn spawn(plan: &Plan, readonly: bool, session: Option<&str>) -> Result<BackendHandle> {
    spawn_with(plan, crate::probe::LiveSettings::new(readonly), session)
}

/// [`spawn`] with these probe settings (a fleet's clusters that are not open run the light set).
pub fn spawn_with(plan: &Plan, settings: crate::probe::LiveSettings, session: Option<&str>) -> Result<BackendHandle> {
    let readonly = settings.readonly;
    let ssh = crate::probe::spawn(plan, settings.clone());
    let state = stores::spawn(plan, settings);
    // Rook's CephCluster is watched wherever its CRD is served: alone it feeds the Ceph panel, beside
    // a [ceph] section's CLI view the panel says whether the two agree.
    let kube = crate::kube::spawn_backend(crate::kube::KubeSettings {
        session: session.map(str::to_string),
        ..crate::kube::KubeSettings::from_plan(plan, readonly)
    });
    Ok(combine(vec![(Part::Kube, kube), (Part::Stores, state), (Part::Ssh, ssh)]))
}

/// The live backend of a cluster opened from its kubeconfig alone (no host plan): the Kubernetes part,
/// and in the SSH part's place the TCP probe of the kubeconfig's endpoint, which answers what would go
/// over SSH with why it cannot, kube-system's static pods (etcd and the apiservers as the API sees them)
/// and the certificates the apiservers serve. Nothing is asked over SSH.
pub fn spawn_api_only(plan: &Plan, readonly: bool, session: Option<&str>) -> Result<BackendHandle> {
    let endpoint = match &plan.source {
        crate::inventory::PlanSource::Kubeconfig { server, .. } => crate::inventory::draft::server_host_port(server),
        _ => None,
    };
    let settings =
        crate::kube::KubeSettings { session: session.map(str::to_string), ..crate::kube::KubeSettings::from_plan(plan, readonly) };
    let api = apionly::Api { access: settings.access.clone(), session: settings.session.clone() };
    let pods = apionly::spawn(api, endpoint.clone());
    let probe = crate::probe::endpoint::spawn(endpoint, crate::probe::LiveSettings::new(readonly));
    let kube = crate::kube::spawn_backend(settings);
    Ok(combine(vec![(Part::Kube, kube), (Part::Stores, pods), (Part::Ssh, probe)]))
}

/// Whether the first observation (data or a failure) of every live source the plan expects has
/// arrived: every host's facts, keepalived, haproxy and the configuration on each host that runs them
/// (by the topology: LB hosts, the masters, or the workers' local proxies), the VIP probe, each
/// apiserver's readyz and certificates, etcd, the Kubernetes API (nodes, leases, platform workloads,
/// warning events) and, with a `[ceph]`
/// section, Ceph.
pub fn first_round_complete(m: &Model) -> bool {
    let plan = &m.plan;
    let heard = |data: bool, error: bool| data || error;
    let all = |hosts: Vec<&crate::inventory::Host>, has: &dyn Fn(&str) -> bool| hosts.iter().all(|h| has(&h.name));
    let ha = all(plan.hosts.iter().collect(), &|h| m.hosts.contains_key(h))
        && all(plan.keepalived_hosts(), &|h| m.vrrp.contains_key(h))
        && all(plan.haproxy_hosts(), &|h| m.haproxy.contains_key(h))
        && all(plan.ha_config_hosts(), &|h| m.ha_config.contains_key(h))
        // the VIP, or without a host plan the kubeconfig's endpoint, probed
        && ((plan.vip_endpoint().is_none() && !plan.is_kubeconfig_only()) || heard(m.vip_probe.updated.is_some(), m.vip_probe.error.is_some()));
    let masters = all(plan.masters().collect(), &|h| m.readyz.contains_key(h) && m.certs.contains_key(h));
    let etcd = plan.etcd_hosts().next().is_none() || heard(m.etcd.data.is_some(), m.etcd.error.is_some());
    // the Kubernetes side: nodes, leases, platform workloads and warning events (a platform
    // workload at zero is as critical as a node down)
    let kube = !m.nodes.unheard() && !m.leases.unheard() && !m.workloads.unheard() && !m.warnings.unheard();
    let ceph = plan.ceph.is_none() || heard(m.ceph.data.is_some(), m.ceph.error.is_some());
    // without a host plan, etcd and the apiservers are seen as kube-system's static pods, and the
    // certificate each of those apiservers and the endpoint serve
    let pods = !plan.is_kubeconfig_only() || {
        let listed = heard(m.control_plane.data.is_some(), m.control_plane.error.is_some());
        listed && m.served_rows_expected().iter().all(|r| m.certs.contains_key(r))
    };
    ha && masters && etcd && kube && ceph && pods
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mode, Model};

    #[test]
    fn without_a_plan_the_first_round_waits_for_the_endpoints_probe() {
        let plan = crate::inventory::Plan::from_kubeconfig("ops@c", "https://127.0.0.1:1", None, None);
        let mut m = Model::new(plan, Mode::Live, "ops@c");
        let t = chrono::Utc::now();
        let refused = || Err::<(), String>("Connection refused".into());
        m.nodes.record(t, "kube", 1000, refused().map(|_| vec![]));
        m.leases.record(t, "kube", 1000, refused().map(|_| vec![]));
        m.workloads.record(t, "kube", 1000, refused().map(|_| vec![]));
        m.warnings.record(t, "kube", 1000, refused().map(|_| vec![]));
        m.control_plane.record(t, "kube", 1000, refused().map(|_| Default::default()));
        m.certs.insert("endpoint".into(), Default::default());
        assert!(!first_round_complete(&m), "the endpoint has not been probed yet");
        m.vip_probe.record(t, "tcp", 1000, refused().map(|_| unreachable!()));
        assert!(first_round_complete(&m));
    }
}
