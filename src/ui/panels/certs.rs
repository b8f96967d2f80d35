//! The certs panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::model::rows::*;
use crate::settings::theme::Role;

pub(super) fn certs(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let rows_all = cert_rows(ctx.model, filter, ctx.now, ctx.sort);
    let summary = match rows_all.iter().min_by_key(|(h, c)| (c.days_left(ctx.now), h.clone())) {
        None => no_data(ctx, PanelId::Certs),
        Some((h, c)) => {
            let d = c.days_left(ctx.now);
            let role = if d < 7 {
                Role::Critical
            } else if d < 30 {
                Role::Warn
            } else {
                Role::Ok
            };
            let stale: Vec<&str> =
                ctx.model.certs.iter().filter(|(_, s)| !s.freshness(ctx.now).is_fresh()).map(|(h, _)| h.as_str()).collect();
            let mut spans = vec![Span::styled(format!("{} certs, soonest {d}d: {h} {}", rows_all.len(), c.name), ctx.s(role))];
            if !stale.is_empty() {
                spans.push(Span::styled(format!("  not seen now: {}", stale.join(" ")), ctx.s(Role::Unknown)));
            }
            Line::from(spans)
        }
    };
    let (a, b) = window(rows_all.len(), selected, height);
    let rows = rows_all[a..b]
        .iter()
        .map(|(h, c)| {
            let d = c.days_left(ctx.now);
            // a host whose certificate source fails keeps its last rows, marked: not seen now
            if !ctx.model.certs.get(h).is_some_and(|s| s.freshness(ctx.now).is_fresh()) {
                let name_w = if ctx.width >= 60 { 26 } else { 18 };
                return Line::from(vec![
                    Span::styled(col(h, 9), ctx.s(Role::Unknown)),
                    Span::styled(format!("{} ", pad(&c.name, name_w - 1)), ctx.s(Role::Unknown)),
                    Span::styled(format!("{:<6} ", format!("{d}d?")), ctx.s(Role::Unknown)),
                    Span::styled("last known", ctx.s(Role::Unknown)),
                ]);
            }
            let role = if d < 7 {
                Role::Critical
            } else if d < 30 {
                Role::Warn
            } else {
                Role::Text
            };
            let name_w = if ctx.width >= 60 { 26 } else { 18 };
            Line::from(vec![
                Span::styled(col(h, 9), ctx.s(Role::Muted)),
                Span::styled(format!("{} ", pad(&c.name, name_w - 1)), ctx.s(Role::Text)),
                Span::styled(col(&format!("{d}d"), 6), ctx.s(role)),
                Span::styled(c.not_after.format("%Y-%m-%d").to_string(), ctx.s(Role::Muted)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: rows_all.len() }
}
