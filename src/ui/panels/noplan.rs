//! A cluster opened from its kubeconfig alone has no host plan: the panels fed over SSH say so, and
//! why, instead of standing empty. The VIP panel shows the kubeconfig's endpoint and whether it answers.

use ratatui::text::Line;

use super::*;
use crate::inventory::PlanSource;
use crate::settings::theme::Role;

const DRAFT: &str = "kockpit plan --from-cluster > plan.toml drafts a host plan from the API; add SSH access, then --config plan.toml";

/// The content of panel `p` without a host plan, for the panels that need one.
pub(super) fn content(ctx: &Ctx, p: PanelId) -> Option<Content> {
    let (summary, why): (&str, &str) = match p {
        PanelId::Hosts => (
            "not configured: no host plan",
            "host facts (kernel, sizes, sysctls, clock) are read over SSH; the Nodes panel has the API's view",
        ),
        PanelId::Haproxy => {
            ("not configured: no host plan", "haproxy's backends are read over SSH on its hosts, /readyz on each master of the plan")
        }
        PanelId::Etcd => ("unknown: no host plan", "etcd is asked over SSH on its members, with their client certificate"),
        PanelId::Certs => ("unknown: no host plan", "certificates are read over SSH on the masters"),
        PanelId::Ceph if ctx.model.ceph_shown().is_none() => (
            "no CephCluster seen",
            "Rook's CephCluster is watched where the API serves ceph.rook.io; the ceph CLI needs a host plan's [ceph]",
        ),
        PanelId::Vip => return Some(vip(ctx)),
        _ => return None,
    };
    let rows = vec![Line::styled(why.to_string(), ctx.s(Role::Muted)), Line::styled(DRAFT.to_string(), ctx.s(Role::Muted))];
    Some(Content { summary: Line::styled(summary.to_string(), ctx.s(Role::Unknown)), header: None, total: rows.len(), rows, offset: 0 })
}

fn vip(ctx: &Ctx) -> Content {
    let m = ctx.model;
    let server = match &m.plan.source {
        PlanSource::Kubeconfig { server, .. } => server.clone(),
        _ => String::new(),
    };
    let summary = match (&m.vip_probe.data, &m.vip_probe.error, m.vip_probe.freshness(ctx.now).is_fresh()) {
        (_, Some(e), _) => Line::styled(format!("endpoint {server} does not answer: {}", e.reason), ctx.s(Role::Critical)),
        (Some(p), None, true) => Line::styled(format!("endpoint {server} answers ({:.1}ms)", p.connect_ms), ctx.s(Role::Ok)),
        (Some(_), None, false) => Line::styled(format!("endpoint {server}: stale"), ctx.s(Role::Unknown)),
        (None, None, _) => Line::styled(format!("endpoint {server}: probing"), ctx.s(Role::Muted)),
    };
    let mut rows =
        vec![Line::styled("keepalived: not configured: no host plan (VIP holders are read over SSH)".to_string(), ctx.s(Role::Unknown))];
    if let Some(p) = &m.vip_probe.data {
        rows.push(Line::styled(format!("tcp {}", p.address), ctx.s(Role::Muted)));
    }
    rows.push(Line::styled(DRAFT.to_string(), ctx.s(Role::Muted)));
    Content { summary, header: None, total: rows.len(), rows, offset: 0 }
}
