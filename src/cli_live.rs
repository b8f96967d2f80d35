//! Glue between the CLI and the live probes.

use color_eyre::Result;
use color_eyre::eyre::eyre;

use crate::backend::BackendHandle;
use crate::inventory::Plan;
use crate::model::Model;

pub fn spawn(plan: &Plan, _readonly: bool) -> Result<BackendHandle> {
    Err(eyre!("cluster {}: live probes are not available in this build; use --demo", plan.cluster.name))
}

/// Whether the first observation of every HA-front source has arrived.
pub fn first_round_complete(m: &Model) -> bool {
    let lbs = m.plan.lbs().count();
    m.hosts.len() >= m.plan.hosts.len() && m.vrrp.len() >= lbs && m.haproxy.len() >= lbs
}
