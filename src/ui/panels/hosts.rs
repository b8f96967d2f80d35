//! The hosts panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::model::Severity;
use crate::model::health::{host_drift, short_kernel};
use crate::model::rows::*;
use crate::settings::theme::Role;

pub(super) fn hosts(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let names = hosts_rows(m, filter);
    let unreachable: Vec<&str> = m.hosts.iter().filter(|(_, s)| s.error.is_some()).map(|(h, _)| h.as_str()).collect();
    let drifted: Vec<&str> = m
        .plan
        .hosts
        .iter()
        .filter(|h| !unreachable.contains(&h.name.as_str()) && ctx.health.worst(PanelId::Hosts, &h.name) >= Severity::Warn)
        .map(|h| h.name.as_str())
        .collect();
    // only what was seen is compared with the plan: a host not heard from yet, or not now, is neither
    // reachable nor as planned
    let seen = m.plan.hosts.iter().filter(|h| m.hosts.get(&h.name).is_some_and(|s| s.data.is_some() && s.error.is_none())).count();
    let waiting: Vec<&str> =
        m.plan.hosts.iter().filter(|h| m.hosts.get(&h.name).is_none_or(|s| s.unheard())).map(|h| h.name.as_str()).collect();
    let mut parts = vec![Span::styled(format!("{} hosts", m.plan.hosts.len()), ctx.s(Role::Text))];
    // narrow, only what is wrong is said: the verdict must not be cut for "all reachable"
    let narrow = ctx.width < 60;
    if !unreachable.is_empty() {
        parts.push(Span::styled(format!("  unreachable: {}", unreachable.join(" ")), ctx.s(Role::Critical)));
    }
    if !waiting.is_empty() {
        parts.push(Span::styled(format!("  waiting: {}", waiting.join(" ")), ctx.s(Role::Muted)));
    } else if unreachable.is_empty() && (!narrow || drifted.is_empty()) {
        parts.push(Span::styled("  all reachable", ctx.s(Role::Muted)));
    }
    if drifted.is_empty() {
        let all_seen = seen == m.plan.hosts.len();
        if seen > 0 && (!narrow || all_seen) {
            let what = if all_seen { "  as planned".to_string() } else { format!("  {seen} seen as planned") };
            parts.push(Span::styled(what, ctx.s(Role::Muted)));
        }
    } else {
        let what = if narrow { "differ" } else { "differ from plan" };
        parts.push(Span::styled(format!("  {what}: {}", drifted.join(" ")), ctx.s(Role::Warn)));
    }
    let summary = Line::from(parts);
    let (a, b) = window(names.len(), selected, height);
    // each visible host's state first: the columns are chosen so that the longest state fits
    let states: Vec<(Severity, String)> = names[a..b]
        .iter()
        .map(|name| {
            let h = m.plan.host(name).expect("host from plan");
            let src = m.hosts.get(name);
            match (src.and_then(|s| s.error.as_ref()), src.and_then(|s| s.data.as_ref())) {
                (Some(e), _) => (Severity::Critical, format!("unreachable: {}", e.reason)),
                (None, Some(f)) => {
                    let d = host_drift(h, f);
                    let worst = d.iter().map(|(s, _)| *s).max().unwrap_or(Severity::Ok);
                    let text =
                        if d.is_empty() { "ok".to_string() } else { d.iter().map(|(_, t)| format!("{t}!")).collect::<Vec<_>>().join(" ") };
                    (worst, text)
                }
                (None, None) => (Severity::Info, "waiting".into()),
            }
        })
        .collect();
    let longest = states.iter().map(|(_, t)| t.chars().count()).max().unwrap_or(2).max(5);
    let w = ctx.width as usize;
    // 2: every column; 1: without uptime and load; 0: name, role, kernel and state
    let level = if w >= 70 && 54 + longest <= w {
        2
    } else if w >= 60 && 43 + longest <= w {
        1
    } else {
        0
    };
    let header = Line::styled(
        match level {
            2 => "NAME       ROLE     PLAN          KERNEL   UP   LOAD  STATE",
            1 => "NAME       ROLE     PLAN          KERNEL   STATE",
            _ => "NAME     ROLE    KERNEL  STATE",
        },
        ctx.s(Role::Muted),
    );
    let wide = level > 0;
    let rows = names[a..b]
        .iter()
        .zip(states)
        .map(|(name, (sev, state))| {
            let h = m.plan.host(name).expect("host from plan");
            let facts = m.hosts.get(name).and_then(|s| s.data.as_ref());
            let kernel = facts.map(|f| short_kernel(&f.kernel).to_string()).unwrap_or_else(|| "-".into());
            let size = h.size.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
            let mut spans = vec![Span::styled(col(&h.name, if wide { 11 } else { 9 }), ctx.s(Role::Text))];
            spans.push(Span::styled(col(&h.roles.label(), if wide { 9 } else { 8 }), ctx.s(Role::Muted)));
            if wide {
                spans.push(Span::styled(col(&size, 14), ctx.s(Role::Text)));
            }
            spans.push(Span::styled(
                col(&kernel, if wide { 9 } else { 8 }),
                ctx.s(if kernel.starts_with("3.") { Role::Warn } else { Role::Text }),
            ));
            if level == 2 {
                spans.push(Span::styled(col(&facts.map(|f| uptime(f.uptime_secs)).unwrap_or_else(|| "-".into()), 5), ctx.s(Role::Text)));
                spans
                    .push(Span::styled(col(&facts.map(|f| format!("{:.1}", f.load1)).unwrap_or_else(|| "-".into()), 6), ctx.s(Role::Text)));
            }
            // what does not fit is marked as cut, never silently dropped
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let room = w.saturating_sub(used);
            let state = if state.chars().count() > room && room > 1 { pad(&state, room) } else { state };
            spans.push(Span::styled(state, ctx.sev(sev)));
            Line::from(spans)
        })
        .collect();
    Content { summary, header: Some(header), rows, offset: a, total: names.len() }
}
