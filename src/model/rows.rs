//! The rows each panel lists, in display order and filtered: the projection of the model that the
//! panels draw and the app moves its selection over (so both always agree on what row N is).

use chrono::{DateTime, Utc};

use super::{LeaseKind, Model, PanelId};

/// Whether `hay` matches a panel filter (case-insensitive substring; empty matches everything).
pub fn matches(filter: &str, hay: &str) -> bool {
    filter.is_empty() || hay.to_lowercase().contains(&filter.to_lowercase())
}

/// Host names in display order (plan order), filtered.
pub fn hosts_rows(m: &Model, filter: &str) -> Vec<String> {
    m.plan
        .hosts
        .iter()
        .filter(|h| matches(filter, &format!("{} {} {}", h.name, h.address, h.roles.label())))
        .map(|h| h.name.clone())
        .collect()
}

/// Indexes into the node list, filtered.
pub fn node_rows(m: &Model, filter: &str) -> Vec<usize> {
    let Some(nodes) = &m.nodes.data else { return vec![] };
    if filter.is_empty() {
        return (0..nodes.len()).collect();
    }
    let f = filter.to_lowercase();
    nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            n.name.to_lowercase().contains(&f)
                || n.roles.iter().any(|r| r.contains(&f))
                || (f == "notready" && n.ready != Some(true))
                || (f.starts_with("cordon") && n.unschedulable)
        })
        .map(|(i, _)| i)
        .collect()
}

/// One row of the haproxy panel: an LB's view of one server, or why that LB cannot be seen.
pub struct HapRow {
    pub lb: String,
    pub server: Option<crate::model::BackendServer>,
    pub error: Option<String>,
}

pub fn haproxy_rows(m: &Model, filter: &str) -> Vec<HapRow> {
    let mut out = vec![];
    for (lb, s) in &m.haproxy {
        match (&s.data, &s.error) {
            (_, Some(e)) if s.data.is_none() => out.push(HapRow { lb: lb.clone(), server: None, error: Some(e.reason.clone()) }),
            (Some(v), _) => {
                for b in v {
                    if matches(filter, &format!("{lb} {} {} {}", b.server, b.status_text, b.backend)) {
                        out.push(HapRow { lb: lb.clone(), server: Some(b.clone()), error: None });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

pub fn cert_rows(m: &Model, filter: &str, now: DateTime<Utc>) -> Vec<(String, crate::model::CertInfo)> {
    let mut out: Vec<(String, crate::model::CertInfo)> = m
        .certs
        .iter()
        .flat_map(|(h, s)| s.data.iter().flatten().map(move |c| (h.clone(), c.clone())))
        .filter(|(h, c)| matches(filter, &format!("{h} {}", c.name)))
        .collect();
    out.sort_by_key(|(h, c)| (c.days_left(now), h.clone()));
    out
}

pub fn lease_rows(m: &Model, filter: &str) -> Vec<usize> {
    let Some(ls) = &m.leases.data else { return vec![] };
    ls.iter()
        .enumerate()
        .filter(|(_, l)| {
            l.kind == LeaseKind::LeaderElection && matches(filter, &format!("{} {}", l.name, l.holder.as_deref().unwrap_or("")))
        })
        .map(|(i, _)| i)
        .collect()
}

pub fn timeline_rows(m: &Model, filter: &str) -> Vec<usize> {
    let n = m.timeline.len();
    m.timeline.newest().enumerate().filter(|(_, e)| matches(filter, &e.text)).map(|(i, _)| n - 1 - i).collect()
}

/// Workloads, not-ready ones first (a short panel then shows what matters).
pub fn workload_rows(m: &Model, filter: &str) -> Vec<usize> {
    let Some(ws) = &m.workloads.data else { return vec![] };
    let mut idx: Vec<usize> =
        (0..ws.len()).filter(|&i| matches(filter, &format!("{} {} {}", ws[i].namespace, ws[i].name, ws[i].kind.short()))).collect();
    idx.sort_by_key(|&i| (ws[i].is_ready(), ws[i].namespace.clone(), ws[i].name.clone()));
    idx
}

/// How many selectable rows a panel has (for moving the selection).
pub fn row_count(m: &Model, p: PanelId, filter: &str) -> usize {
    match p {
        PanelId::Hosts => hosts_rows(m, filter).len(),
        PanelId::Vip => m.vrrp.len(),
        // without a host plan, the apiservers' and etcd's static pods stand in these panels
        PanelId::Haproxy if m.haproxy.is_empty() => m.control_plane.data.as_ref().map_or(0, |c| c.apiservers.len()),
        PanelId::Haproxy => haproxy_rows(m, filter).len(),
        PanelId::Etcd => match (&m.etcd.data, &m.control_plane.data) {
            (Some(e), _) => e.members.len(),
            (None, Some(c)) => c.etcd.len(),
            (None, None) => 0,
        },
        PanelId::Leases => lease_rows(m, filter).len(),
        PanelId::Certs => cert_rows(m, filter, Utc::now()).len(),
        PanelId::Ceph => m.ceph_view().map(|c| c.checks.len()).unwrap_or(0),
        PanelId::Nodes => node_rows(m, filter).len(),
        PanelId::Platform => workload_rows(m, filter).len(),
        PanelId::Timeline => timeline_rows(m, filter).len(),
    }
}
