//! The haproxy panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::model::rows::*;
use crate::model::source::fmt_age_ms;
use crate::settings::theme::Role;

pub(super) fn haproxy(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let mut summary = vec![];
    for (lb, s) in &m.haproxy {
        if s.error.is_some() {
            summary.push(Span::styled(format!("{lb}: failing  "), ctx.s(Role::Critical)));
            continue;
        }
        let Some(v) = &s.data else { continue };
        let up = v.iter().filter(|b| b.status.is_serving()).count();
        let role = if up == v.len() {
            Role::Ok
        } else if up == 0 {
            Role::Critical
        } else {
            Role::Warn
        };
        let admin = |b: &&crate::model::BackendServer| matches!(b.status, ServerStatus::Maint | ServerStatus::Drain);
        let down: Vec<&str> = v.iter().filter(|b| !b.status.is_serving() && !admin(b)).map(|b| b.server.as_str()).collect();
        let maint: Vec<&str> = v.iter().filter(admin).map(|b| b.server.as_str()).collect();
        let mut detail = String::new();
        if !down.is_empty() {
            detail.push_str(&format!(" (down: {})", down.join(",")));
        }
        if !maint.is_empty() {
            detail.push_str(&format!(" (maint: {})", maint.join(",")));
        }
        summary.push(Span::styled(format!("{lb} {up}/{} up{detail}  ", v.len()), ctx.s(role)));
    }
    let readyz_bad: Vec<String> =
        m.readyz.iter().filter(|(_, s)| s.error.is_some() || s.data.as_ref().is_some_and(|r| !r.ok)).map(|(k, _)| k.clone()).collect();
    if !m.readyz.is_empty() {
        if readyz_bad.is_empty() {
            summary.push(Span::styled("readyz ok", ctx.s(Role::Muted)));
        } else {
            summary.push(Span::styled(format!("readyz bad: {}", readyz_bad.join(",")), ctx.s(Role::Warn)));
        }
    }
    let rows_all = haproxy_rows(m, filter);
    if rows_all.len() > height && height > 0 && !ctx.zoomed {
        return haproxy_compact(ctx, Line::from(summary), filter, selected, height);
    }
    let wide = ctx.width >= 60;
    let header = Line::styled(
        if wide { "LB      SERVER    STATUS    CHECK   LAST  SESS  DIRECT" } else { "LB     SERVER   STATUS" },
        ctx.s(Role::Muted),
    );
    let (a, b) = window(rows_all.len(), selected, height);
    let rows = rows_all[a..b]
        .iter()
        .map(|r| {
            let Some(bk) = &r.server else {
                return Line::styled(format!("{}: {}", r.lb, r.error.as_deref().unwrap_or("")), ctx.s(Role::Critical));
            };
            // an LB whose probe fails keeps its last rows, marked: not seen now
            let seen = m.haproxy.get(&r.lb).is_some_and(|s| s.freshness(ctx.now).is_fresh());
            let (status, role) =
                if seen { (bk.status_text.clone(), status_role(bk.status)) } else { (format!("{}?", bk.status_text), Role::Unknown) };
            let mut spans = vec![
                Span::styled(col(&r.lb, if wide { 8 } else { 7 }), ctx.s(Role::Muted)),
                Span::styled(col(&bk.server, if wide { 10 } else { 9 }), ctx.s(Role::Text)),
                Span::styled(col(&status, 10), ctx.s(role)),
            ];
            if wide {
                spans.push(Span::styled(col(bk.check_status.as_deref().unwrap_or("-"), 8), ctx.s(Role::Muted)));
                spans.push(Span::styled(
                    col(&bk.last_change_secs.map(|s| fmt_age_ms(s as i64 * 1000)).unwrap_or_else(|| "-".into()), 6),
                    ctx.s(Role::Muted),
                ));
                spans.push(Span::styled(col(&bk.sessions.to_string(), 6), ctx.s(Role::Text)));
                let direct = match m.readyz.get(&bk.server) {
                    Some(s) => match (&s.data, &s.error) {
                        (_, Some(e)) => Span::styled(e.reason.clone(), ctx.s(Role::Critical)),
                        (Some(rz), None) if rz.ok => Span::styled("ok", ctx.s(Role::Ok)),
                        (Some(rz), None) => Span::styled(format!("{} {}", rz.status, rz.detail), ctx.s(Role::Warn)),
                        _ => Span::styled("-", ctx.s(Role::Muted)),
                    },
                    None => Span::styled("-", ctx.s(Role::Muted)),
                };
                spans.push(direct);
            }
            Line::from(spans)
        })
        .collect::<Vec<_>>();
    let mut rows = rows;
    if ctx.zoomed {
        super::haconf::append_fitting(&mut rows, super::haconf::haproxy_lines(ctx), height, ctx.width as usize);
    }
    Content { summary: Line::from(summary), header: Some(header), rows, offset: a, total: rows_all.len() }
}

/// One line per LB. The selection still counts servers (Enter opens the selected one): its LB's line
/// is the one highlighted, and the server is bracketed in it.
pub(super) fn haproxy_compact(ctx: &Ctx, summary: Line<'static>, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let all = haproxy_rows(m, filter);
    let sel = all.get(selected.min(all.len().saturating_sub(1)));
    let mut sel_line = 0;
    let mut lines = vec![];
    for (lb, s) in &m.haproxy {
        if let (Some(e), None) = (&s.error, &s.data) {
            lines.push(Line::styled(format!("{lb}: {}", e.reason), ctx.s(Role::Critical)));
            continue;
        }
        let Some(v) = &s.data else { continue };
        let seen = s.freshness(ctx.now).is_fresh();
        let mut spans = vec![Span::styled(format!("{lb}:"), ctx.s(if s.error.is_some() { Role::Critical } else { Role::Muted }))];
        if sel.is_some_and(|r| r.lb == *lb) {
            sel_line = lines.len();
        }
        for b in v.iter().filter(|b| matches(filter, &format!("{lb} {} {}", b.server, b.status_text))) {
            let this = ctx.focused && sel.is_some_and(|r| r.lb == *lb && r.server.as_ref().is_some_and(|s| s.server == b.server));
            spans.push(Span::styled(if this { format!(" [{}] ", b.server) } else { format!(" {} ", b.server) }, ctx.s(Role::Text)));
            if seen {
                spans.push(Span::styled(b.status_text.clone(), ctx.s(status_role(b.status))));
            } else {
                // the last value, marked: not seen now
                spans.push(Span::styled(format!("{}?", b.status_text), ctx.s(Role::Unknown)));
            }
        }
        lines.push(Line::from(spans));
    }
    let bad: Vec<String> = m
        .readyz
        .iter()
        .filter_map(|(k, s)| match (&s.data, &s.error) {
            (_, Some(e)) => Some(format!("{k} {}", e.reason)),
            (Some(r), None) if !r.ok => Some(format!("{k} {}", r.status)),
            _ => None,
        })
        .collect();
    if !m.readyz.is_empty() {
        let (text, role) = if bad.is_empty() {
            ("direct /readyz: all ok".to_string(), Role::Muted)
        } else {
            (format!("direct /readyz: {}", bad.join(", ")), Role::Warn)
        };
        lines.push(Line::styled(text, ctx.s(role)));
    }
    let total = lines.len();
    lines.truncate(height);
    // the frame highlights line `selected - offset`: the selected server's LB line
    Content { summary, header: None, rows: lines, offset: selected.saturating_sub(sel_line), total }
}
