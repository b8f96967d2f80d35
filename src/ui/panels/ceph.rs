//! The ceph panel.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};

use super::*;
use crate::model::CephHealth;
use crate::model::source::fmt_age_coarse;
use crate::settings::theme::Role;

pub(super) fn ceph(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(shown) = m.ceph_shown() else {
        return Content { summary: no_data(ctx, PanelId::Ceph), header: None, rows: vec![], offset: 0, total: 0 };
    };
    let c = shown.data.as_ref().expect("a shown slot has data");
    let age = |u: Option<DateTime<Utc>>| u.map(|t| fmt_age_coarse((ctx.now - t).num_milliseconds())).unwrap_or_else(|| "-".into());
    let role = match c.health {
        CephHealth::Ok => Role::Ok,
        CephHealth::Warn => Role::Warn,
        CephHealth::Err => Role::Critical,
    };
    let codes: Vec<String> = c.checks.iter().map(|k| k.code.clone()).collect();
    let summary = Line::from(vec![
        Span::styled(c.health.label().to_string(), ctx.s(role)),
        Span::styled(format!("  {}", codes.join(" ")), ctx.s(Role::Text)),
    ]);
    let mut lines = vec![];
    // Two sources: say which one is shown and whether the other agrees.
    if std::ptr::eq(shown, &m.rook)
        && let Some(e) = &m.ceph.error
    {
        lines.push(Line::styled(
            format!("ceph CLI failing: {}; showing Rook's view, checked {} ago", e.reason, age(m.rook.updated)),
            ctx.s(Role::Warn),
        ));
    }
    let osd_role = if c.osds_up < c.osds { Role::Warn } else { Role::Text };
    lines.push(Line::from(vec![
        Span::styled(
            format!("mons {}/{}  ", c.mons_in_quorum, c.mons),
            ctx.s(if c.mons_in_quorum < c.mons { Role::Warn } else { Role::Text }),
        ),
        Span::styled(format!("osd {}/{} up {}/{} in", c.osds_up, c.osds, c.osds_in, c.osds), ctx.s(osd_role)),
    ]));
    let clean = c.pgs_clean();
    let total = c.pgs_total();
    lines.push(Line::styled(
        format!("pgs {clean}/{total} active+clean{}", if clean < total { format!(", {} not clean", total - clean) } else { String::new() }),
        ctx.s(if clean < total { Role::Warn } else { Role::Text }),
    ));
    let pct = crate::model::pct(c.bytes_used, c.bytes_total);
    lines.push(Line::styled(
        format!("used {} / {} ({pct}%)", bytes(c.bytes_used), bytes(c.bytes_total)),
        ctx.s(if pct >= 80 { Role::Warn } else { Role::Text }),
    ));
    if !c.flags.is_empty() {
        lines.push(Line::styled(format!("flags: {}", c.flags.join(",")), ctx.s(Role::Warn)));
    }
    for k in &c.checks {
        let r = if k.severity == CephHealth::Err { Role::Critical } else { Role::Warn };
        lines.push(Line::styled(format!("{}: {}", k.code, k.summary), ctx.s(r)));
    }
    if let Some(r) = m.rook.data.as_ref().filter(|_| !std::ptr::eq(shown, &m.rook)) {
        let agrees = r.health == c.health;
        lines.push(Line::styled(
            format!("Rook: {}, checked {} ago{}", r.health.label(), age(m.rook.updated), if agrees { "" } else { " (differs)" }),
            ctx.s(if agrees { Role::Muted } else { Role::Warn }),
        ));
    }
    let (a, b) = window(lines.len(), selected, height);
    let total_rows = lines.len();
    Content { summary, header: None, rows: lines[a..b].to_vec(), offset: a, total: total_rows }
}
