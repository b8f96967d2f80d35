//! The live backend: SSH probes of the HA front and the Kubernetes watches, combined into one.

use color_eyre::Result;

use crate::backend::{BackendHandle, Claims, Command, combine};
use crate::inventory::Plan;
use crate::model::Model;

pub fn spawn(plan: &Plan, readonly: bool) -> Result<BackendHandle> {
    let ssh = crate::probe::spawn(plan, crate::probe::LiveSettings::new(readonly));
    let mut kube_settings = crate::kube::KubeSettings::from_plan(plan, readonly);
    // The direct Ceph probe is not wired into the live backend yet: Rook's view feeds the Ceph panel.
    kube_settings.rook_ceph = true;
    let kube = crate::kube::spawn_backend(kube_settings);
    let to_kube: Claims =
        |c| matches!(c, Command::Execute { request, .. } if crate::kube::handles(request)) || matches!(c, Command::Logs(r) if r.is_kube());
    let to_ssh: Claims =
        |c| matches!(c, Command::Execute { .. } | Command::Host { .. } | Command::Fault(_) | Command::SetPaused(_) | Command::Logs(_));
    Ok(combine(vec![(kube, to_kube), (ssh, to_ssh)]))
}

/// Whether the first observation of every HA-front source has arrived.
pub fn first_round_complete(m: &Model) -> bool {
    let lbs = m.plan.lbs().count();
    m.hosts.len() >= m.plan.hosts.len() && m.vrrp.len() >= lbs && m.haproxy.len() >= lbs
}
