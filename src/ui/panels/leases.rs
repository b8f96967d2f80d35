//! The leases panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::model::LeaseKind;
use crate::model::rows::*;
use crate::model::source::fmt_age_coarse;
use crate::settings::theme::Role;

pub(super) fn leases(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(ls) = &m.leases.data else {
        return Content { summary: no_data(ctx, PanelId::Leases), header: None, rows: vec![], offset: 0, total: 0 };
    };
    let node_leases: Vec<_> = ls.iter().filter(|l| l.kind == LeaseKind::NodeHeartbeat).collect();
    let expired = node_leases.iter().filter(|l| l.expired(ctx.now)).count();
    let summary = Line::styled(
        format!("node heartbeats: {} leases, {expired} expired", node_leases.len()),
        ctx.s(if expired > 0 { Role::Warn } else { Role::Muted }),
    );
    let idx = lease_rows(m, filter);
    let (a, b) = window(idx.len(), selected, height);
    let rows = idx[a..b]
        .iter()
        .map(|&i| {
            let l = &ls[i];
            let short = l.name.trim_start_matches("kube-").replace("controller-manager", "ctrl-mgr");
            // a lease renewed every 2 s would change this cell every second: under 10 s it says so,
            // and counts only when it matters
            let age = match l.renew_time.map(|t| (ctx.now - t).num_milliseconds()) {
                Some(ms) if ms < 10_000 => "<10s".to_string(),
                Some(ms) => fmt_age_coarse(ms),
                None => "never".into(),
            };
            let bad = l.expired(ctx.now);
            Line::from(vec![
                Span::styled(col(&short, 11), ctx.s(Role::Text)),
                Span::styled(col(l.holder_host().unwrap_or("-"), 9), ctx.s(Role::Accent)),
                Span::styled(col(&format!("renew {age}"), 12), ctx.s(if bad { Role::Critical } else { Role::Muted })),
                Span::styled(format!("dur {}s tr {}", l.duration_secs, l.transitions), ctx.s(Role::Muted)),
                Span::styled(if bad { "  STOPPED RENEWING".to_string() } else { String::new() }, ctx.s(Role::Critical)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: idx.len() }
}
