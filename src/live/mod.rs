//! The live backend: SSH probes of the HA front, etcd/Ceph/certificates, and the Kubernetes watches,
//! combined into one.

pub mod renew;
pub mod stores;

use color_eyre::Result;

use crate::backend::{BackendHandle, Part, combine};
use crate::inventory::Plan;
use crate::model::Model;

/// `session`: the audit log's session id, said in the User-Agent of the requests to the API server.
pub fn spawn(plan: &Plan, readonly: bool, session: Option<&str>) -> Result<BackendHandle> {
    let ssh = crate::probe::spawn(plan, crate::probe::LiveSettings::new(readonly));
    let state = stores::spawn(plan, crate::probe::LiveSettings::new(readonly));
    // Rook's CephCluster is watched wherever its CRD is served: alone it feeds the Ceph panel, beside
    // a [ceph] section's CLI view the panel says whether the two agree.
    let kube = crate::kube::spawn_backend(crate::kube::KubeSettings {
        session: session.map(str::to_string),
        ..crate::kube::KubeSettings::from_plan(plan, readonly)
    });
    Ok(combine(vec![(Part::Kube, kube), (Part::Stores, state), (Part::Ssh, ssh)]))
}

/// Whether the first observation (data or a failure) of every live SSH source has arrived: the HA
/// front (with each LB's configuration), etcd, the certificates of every master and, with a `[ceph]` section, Ceph.
pub fn first_round_complete(m: &Model) -> bool {
    let lbs = m.plan.lbs().count();
    let heard = |data: bool, error: bool| data || error;
    let ha = m.hosts.len() >= m.plan.hosts.len() && m.vrrp.len() >= lbs && m.haproxy.len() >= lbs && m.ha_config.len() >= lbs;
    let etcd = m.plan.etcd_hosts().next().is_none() || heard(m.etcd.data.is_some(), m.etcd.error.is_some());
    let certs = m.certs.len() >= m.plan.masters().count();
    let ceph = m.plan.ceph.is_none() || heard(m.ceph.data.is_some(), m.ceph.error.is_some());
    ha && etcd && certs && ceph
}
