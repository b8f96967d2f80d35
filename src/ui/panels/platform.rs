//! The platform panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::model::rows::*;
use crate::settings::theme::Role;

pub(super) fn platform(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(ws) = &m.workloads.data else {
        return Content { summary: no_data(ctx, PanelId::Platform), header: None, rows: vec![], offset: 0, total: 0 };
    };
    let bad: Vec<&str> = ws.iter().filter(|w| !w.is_ready()).map(|w| w.name.as_str()).collect();
    let summary = if bad.is_empty() {
        Line::styled(format!("{} workloads, all ready", ws.len()), ctx.s(Role::Ok))
    } else {
        Line::styled(format!("{}/{} ready; not ready: {}", ws.len() - bad.len(), ws.len(), bad.join(",")), ctx.s(Role::Warn))
    };
    let idx = workload_rows(m, filter);
    let (a, b) = window(idx.len(), selected, height);
    // the names first, whole where they fit; the namespaces in what is left (at least 9 columns),
    // each cut in the middle with `…` rather than silently
    let longest = |f: fn(&crate::model::Workload) -> &str| idx[a..b].iter().map(|&i| f(&ws[i]).chars().count()).max().unwrap_or(0);
    let room = (ctx.width as usize).saturating_sub(14);
    let ns_w = room.saturating_sub(longest(|w| &w.name)).min(longest(|w| &w.namespace) + 1).max(9);
    let name_w = room.saturating_sub(ns_w).max(5);
    let rows = idx[a..b]
        .iter()
        .map(|&i| {
            let w = &ws[i];
            let role = if w.is_ready() {
                Role::Text
            } else if w.ready == 0 {
                Role::Critical
            } else {
                Role::Warn
            };
            Line::from(vec![
                Span::styled(col(&format!("{}/{}", w.ready, w.desired), 7), ctx.s(role)),
                Span::styled(col(w.kind.short(), 7), ctx.s(Role::Muted)),
                Span::styled(format!("{} ", pad_mid(&w.namespace, ns_w - 1)), ctx.s(Role::Muted)),
                Span::styled(pad_mid(&w.name, name_w).trim_end().to_string(), ctx.s(role)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: idx.len() }
}
