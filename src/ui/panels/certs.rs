//! The certs panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::model::rows::*;
use crate::settings::theme::Role;

pub(super) fn certs(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let rows_all = cert_rows(ctx.model, filter, ctx.now, ctx.sort);
    let summary = match rows_all.iter().min_by_key(|(h, c)| (c.days_left(ctx.now), h.clone())) {
        None => Line::styled("no data yet", ctx.s(Role::Muted)),
        Some((h, c)) => {
            let d = c.days_left(ctx.now);
            let role = if d < 7 {
                Role::Critical
            } else if d < 30 {
                Role::Warn
            } else {
                Role::Ok
            };
            Line::styled(format!("{} certs, soonest {d}d: {h} {}", rows_all.len(), c.name), ctx.s(role))
        }
    };
    let (a, b) = window(rows_all.len(), selected, height);
    let rows = rows_all[a..b]
        .iter()
        .map(|(h, c)| {
            let d = c.days_left(ctx.now);
            let role = if d < 7 {
                Role::Critical
            } else if d < 30 {
                Role::Warn
            } else {
                Role::Text
            };
            let name_w = if ctx.width >= 60 { 26 } else { 18 };
            Line::from(vec![
                Span::styled(pad(h, 9), ctx.s(Role::Muted)),
                Span::styled(format!("{} ", pad(&c.name, name_w - 1)), ctx.s(Role::Text)),
                Span::styled(pad(&format!("{d}d"), 6), ctx.s(role)),
                Span::styled(c.not_after.format("%Y-%m-%d").to_string(), ctx.s(Role::Muted)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: rows_all.len() }
}
