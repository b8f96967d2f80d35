//! The drain planner's Ceph guard: a node whose OSDs would take a pool below `min_size`, or any OSD
//! host while Ceph is already degraded or its state is unknown, is refused, not only warned about.

use crate::model::{CephHealth, CephView, Model};

/// Health checks that mean data already lacks copies: taking more OSDs away now risks it.
const DEGRADED_CHECKS: &[&str] =
    &["PG_DEGRADED", "PG_AVAILABILITY", "OSD_DOWN", "OSD_HOST_DOWN", "PG_UNDERSIZED", "PG_DAMAGED", "OBJECT_UNFOUND"];

/// How many pools' refusals are spelled out; the rest are counted.
const POOLS_SHOWN: usize = 3;

/// Whether `node` carries OSDs: by the OSD tree (or Rook's OSD pods), else by the plan's notes.
pub(super) fn is_osd_host(m: &Model, node: &str) -> bool {
    m.ceph_view().is_some_and(|c| c.osd_hosts.iter().any(|h| h == node) || c.osd_host_detail.iter().any(|h| h.name == node))
        || m.plan.host(node).is_some_and(|h| h.notes.as_deref().unwrap_or("").to_lowercase().contains("osd"))
}

/// Why draining `node`, an OSD host, is refused (empty: Ceph can spare its OSDs).
pub(super) fn drain_blockers(m: &Model, node: &str) -> Vec<String> {
    let Some(shown) = m.ceph_shown() else {
        return vec![format!(
            "Ceph's state is unknown (no Ceph source has answered): {node} hosts OSDs, and whether its pools keep min_size without them cannot be judged"
        )];
    };
    if let Some(e) = &shown.error {
        return vec![format!(
            "Ceph's state is unknown (the last look through {} failed: {}): {node} hosts OSDs, and whether its pools keep min_size without them cannot be judged",
            shown.source, e.reason
        )];
    }
    let v = shown.data.as_ref().expect("a shown slot has data");
    if let Some(why) = degraded(v) {
        return vec![format!("Ceph is already degraded ({why}): draining {node}, an OSD host, now would take more copies away")];
    }
    let Some(pools) = &v.pools else {
        return vec![format!(
            "Ceph's state is unknown ({} reports no pool size/min_size): what taking {node}'s OSDs out does to the pools cannot be computed",
            shown.source
        )];
    };
    if v.osd_host_detail.is_empty() {
        return vec![format!(
            "Ceph's state is unknown ({} reports no OSDs per host): what taking {node}'s OSDs out does to the pools cannot be computed",
            shown.source
        )];
    }
    let mut out: Vec<String> = pools.iter().filter_map(|p| below_min_size(v, p, node)).collect();
    if out.len() > POOLS_SHOWN {
        let more = out.len() - POOLS_SHOWN;
        out.truncate(POOLS_SHOWN);
        out.push(format!("and {more} more pool(s) would go below min_size"));
    }
    out
}

/// Why Ceph counts as degraded already, with the numbers; None when it is not.
fn degraded(v: &CephView) -> Option<String> {
    let mut why = vec![];
    if v.health == CephHealth::Err {
        why.push("HEALTH_ERR".to_string());
    }
    for c in v.checks.iter().filter(|c| DEGRADED_CHECKS.contains(&c.code.as_str())) {
        let summary: String = c.summary.chars().take(120).collect();
        why.push(format!("{}: {summary}", c.code));
    }
    let bad: u64 = v
        .pgs_by_state
        .iter()
        .filter(|(s, _)| s.contains("undersized") || s.contains("degraded") || !s.contains("active"))
        .map(|(_, n)| n)
        .sum();
    if bad > 0 {
        why.push(format!("{bad} of {} PG(s) undersized, degraded or inactive", v.pgs_total()));
    }
    if v.osds_up < v.osds {
        why.push(format!("{} of {} OSDs up", v.osds_up, v.osds));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The refusal for pool `p` when `node`'s OSDs go out, if a PG of it could be left with fewer than
/// `min_size` copies. Failure domain `osd`: in the worst case a PG has all its copies on the node;
/// any other (host, the default): one copy per host, so a PG loses one.
fn below_min_size(v: &CephView, p: &crate::model::CephPool, node: &str) -> Option<String> {
    if p.size == 0 || p.min_size == 0 {
        return None;
    }
    let node_up = v.osd_host_detail.iter().find(|h| h.name == node).map(|h| h.up).unwrap_or(0);
    let (now, left, room) = if p.failure_domain == "osd" {
        let osds_up: u32 = v.osd_host_detail.iter().map(|h| h.up).sum();
        let now = p.size.min(osds_up);
        let left = now.saturating_sub(node_up.min(now));
        (now, left, format!("{} other OSD(s) up, failure domain osd", osds_up.saturating_sub(node_up)))
    } else {
        let hosts_up = v.osd_host_detail.iter().filter(|h| h.up > 0).count() as u32;
        let now = p.size.min(hosts_up);
        let left = now.saturating_sub(u32::from(node_up > 0));
        (
            now,
            left,
            format!("{} other OSD host(s) up, failure domain {}", hosts_up.saturating_sub(u32::from(node_up > 0)), p.failure_domain),
        )
    };
    (left < p.min_size).then(|| {
        format!(
            "draining {node} would take pool {} below min_size: with its {node_up} OSD(s) out a PG keeps {left} of {} copies ({now} now; {room}), min_size is {}: I/O to the pool would stop",
            p.name, p.size, p.min_size
        )
    })
}
