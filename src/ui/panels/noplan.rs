//! A cluster opened from its kubeconfig alone has no host plan: the panels fed over SSH say so, and
//! why, instead of standing empty. The VIP panel shows the kubeconfig's endpoint and whether it answers;
//! etcd and the apiservers are shown as kube-system's static pods show them, the certificates as the
//! apiservers serve them.

use ratatui::text::{Line, Span};

use super::*;
use crate::inventory::PlanSource;
use crate::model::apiview::StaticPod;
use crate::model::source::fmt_age_ms;
use crate::settings::theme::Role;

const DRAFT: &str = "kockpit plan --from-cluster > plan.toml drafts a host plan from the API; add SSH access, then --config plan.toml";

/// The content of panel `p` without a host plan, for the panels that need one.
pub(super) fn content(ctx: &Ctx, p: PanelId, filter: &str, selected: usize, height: usize) -> Option<Content> {
    let m = ctx.model;
    let (summary, why): (&str, &str) = match p {
        PanelId::Hosts => (
            "not configured: no host plan",
            "host facts (kernel, sizes, sysctls, clock) are read over SSH; the Nodes panel has the API's view",
        ),
        PanelId::Haproxy | PanelId::Etcd if m.control_plane.data.is_none() => {
            let summary = match &m.control_plane.error {
                Some(e) => Line::styled(format!("kube-system's static pods: FAILED: {}", e.reason), ctx.s(Role::Critical)),
                None => Line::styled("waiting for kube-system's static pods", ctx.s(Role::Muted)),
            };
            let why = if p == PanelId::Etcd {
                "etcd as the API sees it: its static pods; leader and raft are asked of etcd over SSH (a host plan)"
            } else {
                "the apiservers as the API sees them: their static pods; haproxy is read over SSH (a host plan)"
            };
            let rows = vec![Line::styled(why.to_string(), ctx.s(Role::Muted))];
            return Some(Content { summary, header: None, total: rows.len(), rows, offset: 0 });
        }
        PanelId::Haproxy => return Some(apiservers(ctx, selected, height)),
        PanelId::Etcd => return Some(etcd_pods(ctx, selected, height)),
        PanelId::Certs if m.certs.values().any(|c| c.data.is_some()) => {
            let mut c = super::certs::certs(ctx, filter, selected, height.saturating_sub(1));
            c.rows.push(Line::styled(FILES.to_string(), ctx.s(Role::Unknown)));
            c.total += 1;
            return Some(c);
        }
        PanelId::Certs => {
            let summary = match no_data(ctx, PanelId::Certs) {
                failed if m.certs.values().any(|c| c.error.is_some()) => failed,
                _ => Line::styled("waiting for the served certificates", ctx.s(Role::Muted)),
            };
            let rows = vec![
                Line::styled(
                    "a TLS handshake with the kubeconfig's endpoint and each apiserver pod's address".to_string(),
                    ctx.s(Role::Muted),
                ),
                Line::styled(FILES.to_string(), ctx.s(Role::Unknown)),
            ];
            return Some(Content { summary, header: None, total: rows.len(), rows, offset: 0 });
        }
        PanelId::Ceph if ctx.model.ceph_shown().is_none() => {
            // no CephCluster is only seen through an API that answers
            let summary = match (&m.nodes.data, &m.nodes.error) {
                (None, Some(e)) => Line::styled(format!("Ceph unknown: {}", e.reason), ctx.s(Role::Unknown)),
                (None, None) => Line::styled("waiting for the API", ctx.s(Role::Muted)),
                (Some(_), _) => Line::styled("no CephCluster seen", ctx.s(Role::Unknown)),
            };
            let why = "Rook's CephCluster is watched where the API serves ceph.rook.io; the ceph CLI needs a host plan's [ceph]";
            let rows = vec![Line::styled(why.to_string(), ctx.s(Role::Muted)), Line::styled(DRAFT.to_string(), ctx.s(Role::Muted))];
            return Some(Content { summary, header: None, total: rows.len(), rows, offset: 0 });
        }
        PanelId::Vip => return Some(vip(ctx)),
        _ => return None,
    };
    let rows = vec![Line::styled(why.to_string(), ctx.s(Role::Muted)), Line::styled(DRAFT.to_string(), ctx.s(Role::Muted))];
    Some(Content { summary: Line::styled(summary.to_string(), ctx.s(Role::Unknown)), header: None, total: rows.len(), rows, offset: 0 })
}

const FILES: &str = "certificate files (kubeadm's PKI, kubeconfigs): unknown: read over SSH with a host plan";

/// One static pod as a row: node, readiness, restarts, age, endpoint.
fn pod_row(ctx: &Ctx, p: &StaticPod) -> Line<'static> {
    let (state, role) = if p.ready { ("ready".to_string(), Role::Ok) } else { (format!("NOT READY ({})", p.phase), Role::Critical) };
    let age = p.started.map(|t| fmt_age_ms((ctx.now - t).num_milliseconds().max(0))).unwrap_or_else(|| "-".into());
    Line::from(vec![
        Span::styled(col(&p.node, 12), ctx.s(Role::Text)),
        Span::styled(col(&state, 11), ctx.s(role)),
        Span::styled(col(&p.restarts.to_string(), 5), ctx.s(if p.restarts > 0 { Role::Warn } else { Role::Muted })),
        Span::styled(col(&age, 7), ctx.s(Role::Muted)),
        Span::styled(if p.endpoint.is_empty() { "-".to_string() } else { p.endpoint.clone() }, ctx.s(Role::Muted)),
    ])
}

fn pods_header(ctx: &Ctx) -> Line<'static> {
    Line::styled("NODE        STATE      RST  UP     ADVERTISES", ctx.s(Role::Muted))
}

/// etcd as kube-system's static pods show it: members by node, the kubelets' readiness; leader, raft
/// and database size unknown. Without etcd pods, the endpoints the apiservers are started with.
fn etcd_pods(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let cp = ctx.model.control_plane.data.as_ref().expect("checked by the caller");
    let mut rows = Vec::new();
    let summary = if cp.etcd.is_empty() {
        let m = ctx.model;
        let at = if cp.etcd_servers.is_empty() {
            "no kube-apiserver pod names its etcd (--etcd-servers)".to_string()
        } else {
            format!("the apiservers use {}", cp.etcd_servers.join(" "))
        };
        rows.push(Line::styled(at, ctx.s(Role::Muted)));
        // what the findings say: writes accepted (a lease renewed lately), else quorum unknown
        let leases = m.leases.data.as_deref().filter(|_| m.leases.freshness(ctx.now).is_fresh());
        let (sev, text) = crate::model::apiview::etcd_unseen(cp, leases, ctx.now);
        let short = match text.split_once("; it accepts writes") {
            Some((_, rest)) => format!("not among the pods; accepts writes{}", rest.split(';').next().unwrap_or("")),
            None => "not among the pods: quorum unknown (no lease renewed lately)".to_string(),
        };
        Line::styled(short, ctx.sev(if sev == crate::model::Severity::Info { crate::model::Severity::Ok } else { sev }))
    } else {
        let (n, ready) = (cp.etcd.len(), cp.etcd_ready());
        let role = if ready < n / 2 + 1 {
            Role::Critical
        } else if ready < n {
            Role::Warn
        } else {
            Role::Ok
        };
        Line::from(vec![
            Span::styled(format!("{ready}/{n} etcd pods ready"), ctx.s(role)),
            Span::styled("  leader unknown (kubelets' view)", ctx.s(Role::Unknown)),
        ])
    };
    let (a, b) = window(cp.etcd.len(), selected, height.saturating_sub(1));
    rows.splice(0..0, cp.etcd[a..b].iter().map(|p| pod_row(ctx, p)));
    rows.push(Line::styled("leader, raft term, db size: asked of etcd over SSH with a host plan", ctx.s(Role::Muted)));
    Content { summary, header: (!cp.etcd.is_empty()).then(|| pods_header(ctx)), total: cp.etcd.len() + 1, rows, offset: a }
}

/// The apiservers as their static pods show them, in the haproxy panel's place.
fn apiservers(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let cp = ctx.model.control_plane.data.as_ref().expect("checked by the caller");
    let (n, ready) = (cp.apiservers.len(), cp.apiservers.iter().filter(|p| p.ready).count());
    let role = if n > 0 && ready == 0 {
        Role::Critical
    } else if ready < n {
        Role::Warn
    } else {
        Role::Muted
    };
    let counted = if n == 0 {
        "no kube-apiserver pods in kube-system (not static pods)".to_string()
    } else {
        format!("{ready}/{n} kube-apiserver pods ready")
    };
    let summary = Line::from(vec![Span::styled(counted, ctx.s(role)), Span::styled("  haproxy: no host plan", ctx.s(Role::Unknown))]);
    let (a, b) = window(n, selected, height.saturating_sub(1));
    let mut rows: Vec<Line<'static>> = cp.apiservers[a..b].iter().map(|p| pod_row(ctx, p)).collect();
    rows.push(Line::styled("haproxy's backends are read over SSH on its hosts (a host plan)", ctx.s(Role::Muted)));
    Content { summary, header: (n > 0).then(|| pods_header(ctx)), total: n + 1, rows, offset: a }
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
