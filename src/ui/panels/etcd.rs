//! The etcd panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::settings::theme::Role;

pub(super) fn etcd(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(e) = &m.etcd.data else {
        return Content { summary: no_data(ctx, PanelId::Etcd), header: None, rows: vec![], offset: 0, total: 0 };
    };
    let can_lose = e.can_lose();
    let role = if can_lose < 0 || e.leader().is_none() {
        Role::Critical
    } else if can_lose == 0 {
        Role::Warn
    } else {
        Role::Ok
    };
    let lose = if can_lose < 0 { "QUORUM LOST".to_string() } else { format!("can lose {can_lose}") };
    let mut summary = vec![Span::styled(format!("{}/{} healthy, {lose}", e.healthy(), e.size()), ctx.s(role))];
    match e.leader() {
        // no-break spaces: a narrow panel wraps before "leader", never between it and the name
        Some(l) => summary.push(Span::styled(format!("  leader\u{a0}{}", l.name), ctx.s(Role::Muted))),
        None => summary.push(Span::styled("  NO LEADER", ctx.s(Role::Critical))),
    }
    let down: Vec<&str> = e.members.iter().filter(|m| !m.reachable).map(|m| m.name.as_str()).collect();
    if !down.is_empty() {
        summary.push(Span::styled(format!("  down: {}", down.join(" ")), ctx.s(Role::Critical)));
    }
    if !e.alarms.is_empty() {
        let al: Vec<String> = e.alarms.iter().map(|a| format!("{}@{}", a.alarm, a.member)).collect();
        summary.push(Span::styled(format!("  ALARM {}", al.join(" ")), ctx.s(Role::Critical)));
    }
    // the newest snapshot kockpit knows of (the hosts' snapshot directories, its own)
    if let Some((at, _)) = crate::model::snapshots::newest(m) {
        let max_h = m.plan.etcd.snapshot_max_age_hours as i64;
        let late = max_h > 0 && ctx.now - at > chrono::Duration::hours(max_h);
        let text = format!("  snapshot\u{a0}{}\u{a0}ago", crate::model::snapshots::age(ctx.now - at).replace(' ', "\u{a0}"));
        summary.push(Span::styled(text, ctx.s(if late { Role::Warn } else { Role::Muted })));
    }
    // the raft term (the same on every healthy member) gives way to the version when narrow
    let term = ctx.width >= 64;
    let header = Line::styled(
        if term {
            "MEMBER    ROLE      TERM  INDEX      LAG  DB/IN USE    VERSION"
        } else {
            "MEMBER    ROLE      INDEX      LAG  DB/IN USE    VERSION"
        },
        ctx.s(Role::Muted),
    );
    let (a, b) = window(e.members.len(), selected, height);
    let rows = e.members[a..b]
        .iter()
        .map(|mem| {
            if !mem.reachable {
                return Line::from(vec![
                    Span::styled(col(&mem.name, 10), ctx.s(Role::Text)),
                    Span::styled(format!("DOWN  {}", mem.error.as_deref().unwrap_or("no answer")), ctx.s(Role::Critical)),
                ]);
            }
            let role = if mem.is_leader {
                "leader"
            } else if mem.is_learner {
                "learner"
            } else {
                "follower"
            };
            let mut spans = vec![
                Span::styled(col(&mem.name, 10), ctx.s(Role::Text)),
                Span::styled(col(role, 10), ctx.s(if mem.is_leader { Role::Accent } else { Role::Text })),
            ];
            if term {
                spans.push(Span::styled(col(&mem.raft_term.to_string(), 6), ctx.s(Role::Muted)));
            }
            spans.extend([
                Span::styled(col(&mem.raft_index.to_string(), 11), ctx.s(Role::Text)),
                Span::styled(col(&mem.apply_lag().to_string(), 5), ctx.s(if mem.apply_lag() > 1000 { Role::Warn } else { Role::Muted })),
                Span::styled(col(&format!("{}/{}", bytes(mem.db_size), bytes(mem.db_size_in_use)), 13), ctx.s(Role::Text)),
                Span::styled(mem.version.clone(), ctx.s(Role::Muted)),
            ]);
            Line::from(spans)
        })
        .collect();
    Content { summary: Line::from(summary), header: Some(header), rows, offset: a, total: e.members.len() }
}
