//! The nodes panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::model::health::short_kernel;
use crate::model::rows::*;
use crate::settings::theme::Role;

pub(super) fn nodes(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(ns) = &m.nodes.data else {
        // a large cluster's first list of pods takes seconds: say how far it is
        let summary = m
            .kube_loading
            .as_ref()
            .map_or_else(|| no_data(ctx, PanelId::Nodes), |l| Line::styled(format!("{}…", l.text()), ctx.s(Role::Muted)));
        return Content { summary, header: None, rows: vec![], offset: 0, total: 0 };
    };
    let ready = ns.iter().filter(|n| n.ready == Some(true)).count();
    let cordoned = ns.iter().filter(|n| n.unschedulable).count();
    let pods: u64 = ns.iter().map(|n| u64::from(n.pods)).sum();
    let names = |it: &mut dyn Iterator<Item = &crate::model::Node>| -> String {
        let v: Vec<&str> = it.take(4).map(|n| n.name.as_str()).collect();
        v.join(",")
    };
    let mut parts = vec![
        Span::styled(format!("{} nodes  ", ns.len()), ctx.s(Role::Text)),
        Span::styled(format!("{ready} Ready  "), ctx.s(if ready < ns.len() { Role::Warn } else { Role::Ok })),
    ];
    if ready < ns.len() {
        parts
            .push(Span::styled(format!("not ready: {}  ", names(&mut ns.iter().filter(|n| n.ready != Some(true)))), ctx.s(Role::Critical)));
    }
    if cordoned > 0 {
        parts.push(Span::styled(format!("cordoned: {}  ", names(&mut ns.iter().filter(|n| n.unschedulable))), ctx.s(Role::Warn)));
    }
    parts.push(Span::styled(format!("{pods} pods"), ctx.s(Role::Muted)));
    let summary = Line::from(parts);
    let wide = ctx.width >= 100;
    // with metrics-server: requested/used; without it, requested only (and the header says which)
    let used = ns.iter().any(|n| n.cpu_used_m.is_some());
    let (cpu_w, head) = match (wide, used) {
        (true, true) => (
            12,
            "NAME           STATUS                     ROLES          CPU req/use MEM req/use PODS     KUBELET   RUNTIME          KERNEL",
        ),
        (true, false) => {
            (9, "NAME           STATUS                     ROLES          CPU req  MEM req  PODS     KUBELET   RUNTIME          KERNEL")
        }
        (false, _) => (5, "NAME         STATUS           CPU  MEM  PODS"),
    };
    let header = Line::styled(head, ctx.s(Role::Muted));
    let idx = node_rows(m, filter, ctx.sort);
    let (a, b) = window(idx.len(), selected, height);
    let rows = idx[a..b]
        .iter()
        .map(|&i| {
            let n = &ns[i];
            let mut status = match n.ready {
                Some(true) => "Ready".to_string(),
                Some(false) => "NotReady".to_string(),
                None => "Unknown".to_string(),
            };
            if n.unschedulable {
                status.push_str(",SchedulingDisabled");
            }
            for p in &n.pressures {
                status.push(',');
                status.push_str(p);
            }
            let role = if n.ready != Some(true) || !n.pressures.is_empty() {
                Role::Critical
            } else if n.unschedulable {
                Role::Warn
            } else {
                Role::Ok
            };
            let cpu = n.cpu_req_pct();
            let mem = n.mem_req_pct();
            let gauge = |p: u32| {
                if p >= 90 {
                    Role::Critical
                } else if p >= 75 {
                    Role::Warn
                } else {
                    Role::Text
                }
            };
            if wide {
                let with_used = |req: u32, u: Option<u32>| match u {
                    Some(u) => format!("{req}%/{u}%"),
                    None if used => format!("{req}%/-"),
                    None => format!("{req}%"),
                };
                let cpu_used = n.cpu_used_m.map(|u| crate::model::pct(u, n.cpu_allocatable_m));
                let mem_used = n.mem_used.map(|u| crate::model::pct(u, n.mem_allocatable));
                let worst = |req: u32, u: Option<u32>| req.max(u.unwrap_or(0));
                Line::from(vec![
                    Span::styled(col(&n.name, 15), ctx.s(Role::Text)),
                    Span::styled(col(&status, 27), ctx.s(role)),
                    Span::styled(col(&n.roles.join(","), 15), ctx.s(Role::Muted)),
                    Span::styled(col(&with_used(cpu, cpu_used), cpu_w), ctx.s(gauge(worst(cpu, cpu_used)))),
                    Span::styled(col(&with_used(mem, mem_used), cpu_w), ctx.s(gauge(worst(mem, mem_used)))),
                    Span::styled(col(&format!("{}/{}", n.pods, n.pods_capacity), 9), ctx.s(Role::Text)),
                    Span::styled(col(&n.kubelet_version, 10), ctx.s(Role::Muted)),
                    Span::styled(col(&n.runtime, 17), ctx.s(Role::Muted)),
                    Span::styled(
                        short_kernel(&n.kernel).to_string(),
                        ctx.s(if n.kernel.starts_with("3.") { Role::Warn } else { Role::Muted }),
                    ),
                ])
            } else {
                Line::from(vec![
                    Span::styled(col(&n.name, 13), ctx.s(Role::Text)),
                    Span::styled(col(&status.replace("SchedulingDisabled", "NoSched"), 17), ctx.s(role)),
                    Span::styled(col(&format!("{cpu}%"), 5), ctx.s(gauge(cpu))),
                    Span::styled(col(&format!("{mem}%"), 5), ctx.s(gauge(mem))),
                    Span::styled(format!("{}/{}", n.pods, n.pods_capacity), ctx.s(Role::Text)),
                ])
            }
        })
        .collect();
    Content { summary, header: Some(header), rows, offset: a, total: idx.len() }
}
