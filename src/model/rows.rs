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

/// The orders a panel's rows can be put in (`s` cycles them); the first is the panel's own. Panels
/// not listed have one order.
pub fn sort_orders(p: PanelId) -> &'static [&'static str] {
    match p {
        PanelId::Nodes => &["name", "cpu", "memory", "pods", "status"],
        PanelId::Certs => &["expiry", "host", "name"],
        _ => &[],
    }
}

/// The name of order `sort` of panel `p` (None: the panel's own order).
pub fn sort_name(p: PanelId, sort: usize) -> Option<&'static str> {
    sort_orders(p).get(sort).copied().filter(|_| sort > 0)
}

/// Indexes into the node list, filtered, in order `sort` of [`sort_orders`]: the list's own order
/// (by name), or the highest CPU or memory (used where metrics-server reports it, else requested),
/// the most pods, or the worst status first. Ties keep the list's order.
pub fn node_rows(m: &Model, filter: &str, sort: usize) -> Vec<usize> {
    let Some(nodes) = &m.nodes.data else { return vec![] };
    let f = filter.to_lowercase();
    let mut idx: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            f.is_empty()
                || n.name.to_lowercase().contains(&f)
                || n.roles.iter().any(|r| r.contains(&f))
                || (f == "notready" && n.ready != Some(true))
                || (f.starts_with("cordon") && n.unschedulable)
        })
        .map(|(i, _)| i)
        .collect();
    let used = |u: Option<u64>, alloc: u64, req: u32| u.map(|u| super::pct(u, alloc)).unwrap_or(req);
    match sort_name(PanelId::Nodes, sort) {
        Some("cpu") => {
            idx.sort_by_key(|&i| std::cmp::Reverse(used(nodes[i].cpu_used_m, nodes[i].cpu_allocatable_m, nodes[i].cpu_req_pct())))
        }
        Some("memory") => {
            idx.sort_by_key(|&i| std::cmp::Reverse(used(nodes[i].mem_used, nodes[i].mem_allocatable, nodes[i].mem_req_pct())))
        }
        Some("pods") => idx.sort_by_key(|&i| std::cmp::Reverse(nodes[i].pods)),
        Some("status") => idx.sort_by_key(|&i| {
            let n = &nodes[i];
            (n.ready == Some(true), n.pressures.is_empty(), !n.unschedulable)
        }),
        _ => {}
    }
    idx
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

/// Certificates, filtered, soonest expiry first (or by host, or by name: order `sort`).
pub fn cert_rows(m: &Model, filter: &str, now: DateTime<Utc>, sort: usize) -> Vec<(String, crate::model::CertInfo)> {
    let mut out: Vec<(String, crate::model::CertInfo)> = m
        .certs
        .iter()
        .flat_map(|(h, s)| s.data.iter().flatten().map(move |c| (h.clone(), c.clone())))
        .filter(|(h, c)| matches(filter, &format!("{h} {}", c.name)))
        .collect();
    match sort_name(PanelId::Certs, sort) {
        Some("host") => out.sort_by(|(h1, c1), (h2, c2)| (h1, &c1.name).cmp(&(h2, &c2.name))),
        Some("name") => out.sort_by(|(h1, c1), (h2, c2)| (&c1.name, h1).cmp(&(&c2.name, h2))),
        _ => out.sort_by_key(|(h, c)| (c.days_left(now), h.clone())),
    }
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
        PanelId::Certs => cert_rows(m, filter, Utc::now(), 0).len(),
        PanelId::Ceph => m.ceph_view().map(|c| c.checks.len()).unwrap_or(0),
        PanelId::Nodes => node_rows(m, filter, 0).len(),
        PanelId::Platform => workload_rows(m, filter).len(),
        PanelId::Timeline => timeline_rows(m, filter).len(),
    }
}
