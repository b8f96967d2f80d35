//! Drawing the one screen: header, panels, timeline strip, footer, dialogs.
//! Pure functions of the app state and the current time; nothing here does I/O.

pub mod panels;
pub mod run;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::{Action, App, Dialog, Layer};
use crate::model::source::{fmt_age_coarse, fmt_age_ms};
use crate::model::{Freshness, HealthLevel, Mode, PanelId, Severity};
use crate::settings::theme::Role;
use panels::{Content, Ctx, sev_role};

/// Grid of panels for a given body size. Returns the panels that are shown and where.
/// `hosts` is the number of hosts in the plan: the top row grows to show them all when it can;
/// `nodes` the number of nodes: the Nodes panel takes what it needs and the timeline the rest.
pub fn layout(area: Rect, zoom: Option<PanelId>, hosts: usize, node_count: usize) -> Vec<(PanelId, Rect)> {
    if let Some(p) = zoom {
        return vec![(p, area)];
    }
    let (w, h) = (area.width, area.height);
    // Summary + column header + borders = 4 lines around the host rows.
    let top = (hosts as u16 + 4).clamp(8, 16);
    if w >= 140 && h >= 34 {
        // Wide: three columns as in the design sketch.
        let top = top.min(h.saturating_sub(24));
        let nodes_h = (node_count as u16 + 4).min(h.saturating_sub(top + 8 + 7).max(6));
        let nodes_h = nodes_h.max(8);
        let [top, mid, nodes_row, tl] =
            Layout::vertical([Constraint::Length(top), Constraint::Length(8), Constraint::Length(nodes_h), Constraint::Min(7)]).areas(area);
        let [nodes, platform] = Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)]).areas(nodes_row);
        let [hosts, vip, hap] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(24), Constraint::Percentage(34)]).areas(top);
        let [etcd, mid2, ceph] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(24), Constraint::Percentage(34)]).areas(mid);
        let [leases, certs] = Layout::vertical([Constraint::Length(5), Constraint::Min(3)]).areas(mid2);
        vec![
            (PanelId::Hosts, hosts),
            (PanelId::Vip, vip),
            (PanelId::Haproxy, hap),
            (PanelId::Etcd, etcd),
            (PanelId::Leases, leases),
            (PanelId::Certs, certs),
            (PanelId::Ceph, ceph),
            (PanelId::Nodes, nodes),
            (PanelId::Platform, platform),
            (PanelId::Timeline, tl),
        ]
    } else if w >= 100 && h >= 30 {
        let top = top.min(h.saturating_sub(20));
        let nodes_h = (node_count as u16 + 4).min(h.saturating_sub(top + 7 + 6 + 4).max(5));
        let [r1, r2, r3, nodes_row, tl] = Layout::vertical([
            Constraint::Length(top),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(nodes_h),
            Constraint::Min(4),
        ])
        .areas(area);
        let [hosts, vip] = Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(r1);
        let [hap, etcd] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(r2);
        let [leases, certs, ceph] =
            Layout::horizontal([Constraint::Percentage(34), Constraint::Percentage(33), Constraint::Percentage(33)]).areas(r3);
        let [nodes, platform] = Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)]).areas(nodes_row);
        vec![
            (PanelId::Hosts, hosts),
            (PanelId::Vip, vip),
            (PanelId::Haproxy, hap),
            (PanelId::Etcd, etcd),
            (PanelId::Leases, leases),
            (PanelId::Certs, certs),
            (PanelId::Ceph, ceph),
            (PanelId::Nodes, nodes),
            (PanelId::Platform, platform),
            (PanelId::Timeline, tl),
        ]
    } else {
        // Small (80x24): a compact grid; every panel shows its summary and its worst rows; z zooms.
        let rows = Layout::vertical([
            Constraint::Ratio(1, 5),
            Constraint::Ratio(1, 5),
            Constraint::Ratio(1, 5),
            Constraint::Ratio(1, 5),
            Constraint::Ratio(1, 5),
        ])
        .split(area);
        let two = |r: Rect| -> [Rect; 2] { Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(r) };
        let [hosts, vip] = two(rows[0]);
        let [hap, etcd] = two(rows[1]);
        let [leases, ceph] = two(rows[2]);
        let [nodes, certs] = two(rows[3]);
        let [platform, timeline] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(rows[4]);
        vec![
            (PanelId::Hosts, hosts),
            (PanelId::Vip, vip),
            (PanelId::Haproxy, hap),
            (PanelId::Etcd, etcd),
            (PanelId::Leases, leases),
            (PanelId::Ceph, ceph),
            (PanelId::Nodes, nodes),
            (PanelId::Certs, certs),
            (PanelId::Platform, platform),
            (PanelId::Timeline, timeline),
        ]
    }
}

/// Draw the whole screen. Records the panel layout in the app for focus moves.
pub fn draw(f: &mut Frame, app: &mut App, now: DateTime<Utc>) {
    let area = f.area();
    let bg = Block::default().style(app.theme.style(Role::Text));
    f.render_widget(bg, area);
    if area.width < 40 || area.height < 10 {
        let p = Paragraph::new(format!("kockpit needs at least 40x10 (this terminal is {}x{})", area.width, area.height))
            .wrap(Wrap { trim: true });
        f.render_widget(p, area);
        return;
    }
    let [header, body, footer] = Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    draw_header(f.buffer_mut(), header, app, now);
    let nodes = app.model.nodes.data.as_ref().map(Vec::len).unwrap_or(0);
    let panes = layout(body, app.view.zoom, app.model.plan.hosts.len(), nodes);
    for (p, r) in &panes {
        draw_panel(f, app, *p, *r, now);
    }
    app.view.last_layout = panes;
    draw_footer(f.buffer_mut(), footer, app, now);
    match app.view.dialog.clone() {
        Dialog::None => {}
        Dialog::Help { scroll } => draw_help(f, app, body, scroll),
        Dialog::Confirm(plan) => draw_confirm(f, app, body, &plan),
        Dialog::Progress => draw_progress(f, app, body),
        Dialog::Faults { selected } => draw_faults(f, app, body, selected),
        Dialog::OwnLog => draw_own_log(f, app, body),
        Dialog::Logs => draw_logs(f, app, body),
    }
}

fn badge_role(mode: Mode) -> Role {
    match mode {
        Mode::Live => Role::BadgeLive,
        Mode::ReadOnly => Role::BadgeReadonly,
        Mode::Demo => Role::BadgeDemo,
        Mode::Drill => Role::BadgeDrill,
    }
}

fn draw_header(buf: &mut Buffer, area: Rect, app: &App, now: DateTime<Utc>) {
    let t = &app.theme;
    let m = &app.model;
    let level = app.assessment.level;
    let (lvl_text, lvl_role) = match level {
        HealthLevel::Healthy => ("HEALTHY", Role::Ok),
        HealthLevel::Degraded => ("DEGRADED", Role::Warn),
        HealthLevel::Critical => ("CRITICAL", Role::Critical),
        HealthLevel::Unreachable => ("UNREACHABLE", Role::Critical),
    };
    let (all_fresh, budget, bad) = m.data_summary(now);
    let age = if all_fresh {
        format!("data <{}", fmt_budget(budget))
    } else if let Some(a) = m.data_age_ms(now) {
        format!("data {} old: {bad} not fresh", fmt_age_coarse(a))
    } else {
        "no data yet".into()
    };
    let mut badges = vec![Span::styled(format!(" {} ", m.meta.mode.label()), t.style(badge_role(m.meta.mode)))];
    if app.readonly() && m.meta.mode != Mode::ReadOnly {
        badges.push(Span::raw(" "));
        badges.push(Span::styled(" READ-ONLY ", t.style(Role::BadgeReadonly)));
    }
    if app.paused {
        badges.push(Span::styled(" PAUSED ", t.style(Role::Stale)));
    }
    let mut spans =
        vec![Span::styled(" kockpit ", t.style(Role::Title)), Span::styled(format!(" {} ", m.meta.cluster), t.style(Role::Accent))];
    if area.width >= 90 {
        spans.push(Span::styled(format!(" ctx:{} ", m.meta.context), t.style(Role::Muted)));
    }
    spans.extend(badges);
    spans.push(Span::styled(format!("  {lvl_text} "), t.style(lvl_role)));
    spans.push(Span::styled(format!(" {age}"), t.style(Role::Muted)));
    let left = Line::from(spans);
    buf.set_style(area, t.style(Role::Header));
    buf.set_line(area.x, area.y, &left, area.width);
    let clock = now.with_timezone(&app.tz).format("%H:%M:%S").to_string();
    let cw = clock.len() as u16 + 1;
    if area.width > cw + 10 {
        buf.set_string(area.x + area.width - cw, area.y, clock, t.style(Role::Header));
    }
}

fn freshness_span(app: &App, p: PanelId, now: DateTime<Utc>) -> Span<'static> {
    let t = &app.theme;
    if p == PanelId::Timeline {
        return Span::styled("all probes", t.style(Role::Muted));
    }
    let (f, src) = app.model.panel_freshness(p, now);
    let src = if src.is_empty() { "-".to_string() } else { src };
    match f {
        Freshness::Waiting => Span::styled(format!("{src} waiting"), t.style(Role::Stale)),
        // Fresh data is shown with its age bound, not a counter that changes every second: an idle
        // screen then writes nothing but the clock.
        Freshness::Fresh { budget_ms, .. } => Span::styled(format!("{src} <{}", fmt_budget(budget_ms)), t.style(Role::Muted)),
        Freshness::Stale { age_ms } => Span::styled(format!("{src} STALE {}", fmt_age_ms(age_ms)), t.style(Role::Stale)),
        Freshness::Failed { reason, since_ms, .. } => {
            Span::styled(format!("{src} FAILED {}: {reason}", fmt_age_ms(since_ms)), t.style(Role::Critical))
        }
    }
}

fn fmt_budget(ms: u64) -> String {
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{:.1}s", ms as f64 / 1000.0) }
}

fn panel_title(app: &App, p: PanelId) -> String {
    match p {
        PanelId::Etcd => match &app.model.etcd.data {
            Some(e) => {
                let lose = e.can_lose();
                if lose < 0 {
                    format!("etcd (quorum {} LOST)", e.quorum())
                } else {
                    format!("etcd (quorum {}/{}, can lose {lose})", e.quorum(), e.size())
                }
            }
            None => "etcd".into(),
        },
        _ => p.title().to_string(),
    }
}

fn draw_panel(f: &mut Frame, app: &App, p: PanelId, r: Rect, now: DateTime<Utc>) {
    let t = &app.theme;
    let focused = app.view.focus == p;
    let worst = app.assessment.panel_worst(p);
    let border_role = if focused { Role::BorderFocus } else { Role::Border };
    let mut title = vec![Span::styled(format!(" {} ", panel_title(app, p)), t.style(if focused { Role::Accent } else { Role::Title }))];
    if worst >= Severity::Warn {
        title.push(Span::styled(if worst == Severity::Critical { "!! " } else { "! " }, t.style(sev_role(worst))));
    }
    let filter = app.view.filter(p);
    if !filter.is_empty() || (focused && app.view.filter_editing) {
        let cursor = if focused && app.view.filter_editing { "_" } else { "" };
        title.push(Span::styled(format!("/{filter}{cursor} "), t.style(Role::Key)));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(t.style(border_role))
        .title(Line::from(title))
        .title_bottom(Line::from(vec![Span::raw(" "), freshness_span(app, p, now), Span::raw(" ")]).right_aligned());
    let inner = block.inner(r);
    f.render_widget(block, r);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let ctx = Ctx { model: &app.model, theme: t, health: &app.assessment, now, width: inner.width, tz: app.tz };
    let selected = app.view.selected(p);
    // One line for the summary, one for the column header when there is room.
    let room_for_header = inner.height >= 5;
    let rows_h = inner.height.saturating_sub(1 + u16::from(room_for_header)) as usize;
    let c: Content = panels::content(&ctx, p, filter, selected, rows_h);
    let mut lines: Vec<Line> = vec![c.summary];
    if room_for_header && let Some(h) = c.header {
        lines.push(h);
    }
    let first_row = lines.len();
    lines.extend(c.rows);
    let para = Paragraph::new(lines);
    f.render_widget(para, inner);
    // Highlight the selected row of the focused panel.
    if focused && c.total > 0 && selected >= c.offset {
        let y = inner.y + first_row as u16 + (selected - c.offset) as u16;
        if y < inner.y + inner.height {
            f.buffer_mut().set_style(Rect { x: inner.x, y, width: inner.width, height: 1 }, t.style(Role::Selection));
        }
    }
    if c.total > rows_h && rows_h > 0 {
        let more = format!(" {}-{}/{} ", c.offset + 1, (c.offset + rows_h).min(c.total), c.total);
        let x = r.x + r.width.saturating_sub(more.len() as u16 + 1);
        f.buffer_mut().set_string(x, r.y, more, t.style(Role::Muted));
    }
}

/// The first key of `a` on the main screen, for hints.
fn hint(app: &App, a: Action) -> String {
    keys(app, Layer::Main, a, 1)
}

/// Up to `n` keys that trigger `a` in `layer` (`n/esc`), for a dialog's hints; `?` when none is bound.
fn keys(app: &App, layer: Layer, a: Action, n: usize) -> String {
    app.keymap.hints(layer, a, n).unwrap_or_else(|| "?".into())
}

fn draw_footer(buf: &mut Buffer, area: Rect, app: &App, now: DateTime<Utc>) {
    let t = &app.theme;
    buf.set_style(area, t.style(Role::Footer));
    if app.view.filter_editing {
        let line = Line::from(vec![
            Span::styled(" filter: ", t.style(Role::Key)),
            Span::styled(app.view.filter(app.view.focus).to_string(), t.style(Role::Text)),
            Span::styled("   Enter keep  Esc clear", t.style(Role::Muted)),
        ]);
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
    if let Some(run) = app.drill.as_ref().and_then(|d| d.run.as_ref())
        && let Some((i, name, ms)) = run.current(now)
    {
        let line = Line::from(vec![
            Span::styled(" DRILL ", t.style(Role::BadgeDrill)),
            Span::styled(
                format!(" {} step {}/{}: {name}  {:.1}s", run.file.name, i + 1, run.file.steps.len(), ms as f64 / 1000.0),
                t.style(Role::Text),
            ),
        ]);
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
    if let Some((sev, text, at)) = &app.notice
        && (now - *at).num_seconds() < 6
    {
        let line = Line::styled(format!(" {text}"), t.style(sev_role(*sev)));
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
    let ops = [
        (Action::Cordon, "cordon"),
        (Action::Drain, "drain"),
        (Action::VipFailover, "failover"),
        (Action::RenewCerts, "renew certs"),
        (Action::ToggleNoout, "noout"),
    ];
    let nav = [(Action::Help, "help"), (Action::Quit, "quit"), (Action::Zoom, "zoom"), (Action::Filter, "filter"), (Action::Logs, "log")];
    let mut spans = vec![Span::raw(" ")];
    let op_role = if app.readonly() { Role::Muted } else { Role::Text };
    for (a, label) in ops {
        spans.push(Span::styled(hint(app, a), t.style(if app.readonly() { Role::Muted } else { Role::Key })));
        spans.push(Span::styled(format!(" {label}  "), t.style(op_role)));
    }
    if app.readonly() {
        spans.push(Span::styled("(read-only)  ", t.style(Role::Muted)));
    }
    for (a, label) in nav {
        spans.push(Span::styled(hint(app, a), t.style(Role::Key)));
        spans.push(Span::styled(format!(" {label}  "), t.style(Role::Text)));
    }
    if app.supports_faults {
        spans.push(Span::styled(hint(app, Action::Faults), t.style(Role::Key)));
        spans.push(Span::styled(" faults  ", t.style(Role::Text)));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn dialog_block<'a>(app: &App, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(app.theme.style(Role::BorderFocus))
        .title(Span::styled(format!(" {title} "), app.theme.style(Role::Accent)))
        .style(app.theme.style(Role::Dialog))
}

fn draw_help(f: &mut Frame, app: &App, body: Rect, scroll: usize) {
    let t = &app.theme;
    let r = centered(body, body.width.saturating_sub(4).min(120), body.height.saturating_sub(2).max(10));
    f.render_widget(Clear, r);
    let k = |a| keys(app, Layer::Help, a, 1);
    let mut lines = vec![
        Line::styled(
            format!(
                "keymap: {}   {} closes, {}/{} scroll",
                app.keymap.name,
                k(Action::Cancel),
                k(Action::SelectNext),
                k(Action::SelectPrev)
            ),
            t.style(Role::Muted),
        ),
        Line::styled(
            "In a dialog, a key its layer does not bind works as on the main screen for quit, help, cancel,",
            t.style(Role::Muted),
        ),
        Line::styled("confirm and the moves; the key that opened the dialog closes it.", t.style(Role::Muted)),
    ];
    let keys_of = |layer: Layer, a: Action| -> String {
        let keys: Vec<String> = app.keymap.layer(layer).filter(|b| b.action == a).flat_map(|b| &b.keys).map(|k| k.to_string()).collect();
        keys.join(" ")
    };
    let key_width = app.keymap.bindings.iter().map(|b| keys_of(b.layer, b.action).len()).max().unwrap_or(0) + 2;
    for &layer in Layer::ALL {
        let mut actions: Vec<Action> = Vec::new();
        for b in app.keymap.layer(layer) {
            if !actions.contains(&b.action) {
                actions.push(b.action);
            }
        }
        let literal: &[(String, &str)] = &match layer {
            Layer::Faults => vec![(format!("1-{}", crate::ops::Fault::ALL.len()), "Inject the fault of that number")],
            _ => vec![],
        };
        if actions.is_empty() && literal.is_empty() {
            continue;
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(format!("{} (layer {})", layer.title(), layer.name()), t.style(Role::Accent)));
        let width = actions.iter().map(|a| a.name().len()).max().unwrap_or(0) + 2;
        for a in actions {
            let desc = app.keymap.layer(layer).find(|b| b.action == a).map(|b| b.desc.clone()).unwrap_or_default();
            let ro = a.is_operation() && app.readonly();
            lines.push(Line::from(vec![
                Span::styled(format!("{:<key_width$}", keys_of(layer, a)), t.style(Role::Key)),
                Span::styled(format!("{:<width$}", a.name()), t.style(Role::Muted)),
                Span::styled(
                    if ro { format!("{desc} (disabled: read-only)") } else { desc },
                    t.style(if ro { Role::Muted } else { Role::Text }),
                ),
            ]));
        }
        for (key, desc) in literal {
            lines.push(Line::from(vec![
                Span::styled(format!("{key:<key_width$}"), t.style(Role::Key)),
                Span::styled(format!("{:<width$}", ""), t.style(Role::Muted)),
                Span::styled(*desc, t.style(Role::Text)),
            ]));
        }
    }
    let p = Paragraph::new(lines).block(dialog_block(app, "Help: every key")).scroll((scroll as u16, 0));
    f.render_widget(p, r);
}

fn draw_confirm(f: &mut Frame, app: &App, body: Rect, plan: &crate::ops::OpPlan) {
    let t = &app.theme;
    let mut lines = vec![Line::styled("This will:", t.style(Role::Muted))];
    for (i, s) in plan.steps.iter().enumerate() {
        lines.push(Line::styled(format!(" {}. {s}", i + 1), t.style(Role::Text)));
    }
    if !plan.warnings.is_empty() {
        lines.push(Line::raw(""));
        for w in &plan.warnings {
            lines.push(Line::styled(format!(" ! {w}"), t.style(Role::Warn)));
        }
    }
    let k = |a, n| keys(app, Layer::Confirm, a, n);
    if let crate::ops::OpRequest::Drain { options, .. } = &plan.request {
        lines.push(Line::raw(""));
        let onoff = |b: bool| if b { "yes" } else { "no" };
        lines.push(Line::from(vec![
            Span::styled(" options: ", t.style(Role::Muted)),
            Span::styled(k(Action::DrainToggleEmptyDir, 1), t.style(Role::Key)),
            Span::styled(format!(" delete emptyDir data: {}   ", onoff(options.delete_emptydir_data)), t.style(Role::Text)),
            Span::styled(k(Action::DrainToggleUnmanaged, 1), t.style(Role::Key)),
            Span::styled(format!(" delete pods without a controller: {}", onoff(options.force_unmanaged)), t.style(Role::Text)),
        ]));
    }
    match &plan.dry_run {
        None => {}
        Some(crate::ops::DryRunState::Pending) => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(" dry run: asking the cluster what would move ...", t.style(Role::Muted)));
        }
        Some(crate::ops::DryRunState::Failed { reason }) => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(format!(" ! dry run failed: {reason} (the plan above is all there is)"), t.style(Role::Warn)));
        }
        Some(crate::ops::DryRunState::Ready(d)) => {
            lines.push(Line::raw(""));
            lines.push(Line::styled("Dry run:", t.style(Role::Muted)));
            // keep the dialog on screen: the first lines (blocked first, then skipped, then evicted)
            let room = (body.height as usize).saturating_sub(lines.len() + 12).max(3);
            for l in d.lines.iter().take(room) {
                let role = if l.starts_with("blocked") { Role::Warn } else { Role::Text };
                lines.push(Line::styled(format!(" {l}"), t.style(role)));
            }
            if d.lines.len() > room {
                lines.push(Line::styled(format!(" ... {} more line(s)", d.lines.len() - room), t.style(Role::Muted)));
            }
        }
    }
    lines.push(Line::raw(""));
    if plan.allowed() && !plan.confirmable() {
        lines.push(Line::from(vec![
            Span::styled(format!(" {}", k(Action::ConfirmNo, 2)), t.style(Role::Key)),
            Span::styled(" cancel   (confirmation waits for the dry run)", t.style(Role::Muted)),
        ]));
    } else if plan.allowed() {
        let mut keys = vec![
            Span::styled(format!(" {}", k(Action::ConfirmYes, 1)), t.style(Role::Key)),
            Span::styled(" confirm   ", t.style(Role::Text)),
            Span::styled(k(Action::ConfirmNo, 2), t.style(Role::Key)),
            Span::styled(" cancel", t.style(Role::Text)),
        ];
        if matches!(plan.request, crate::ops::OpRequest::VipFailover { mode: crate::ops::FailoverMode::Graceful, .. }) {
            keys.push(Span::styled(format!("   {}", k(Action::EmergencyFailover, 1)), t.style(Role::Key)));
            keys.push(Span::styled(" emergency failover instead", t.style(Role::Text)));
        }
        lines.push(Line::from(keys));
    } else {
        lines.push(Line::styled(" REFUSED:", t.style(Role::Critical)));
        for b in &plan.blockers {
            lines.push(Line::styled(format!("  - {b}"), t.style(Role::Critical)));
        }
        let close = format!("{} close", k(Action::ConfirmNo, 2));
        let close = if matches!(plan.request, crate::ops::OpRequest::Drain { .. }) {
            format!(" {}/{} change the options   {close}", k(Action::DrainToggleEmptyDir, 1), k(Action::DrainToggleUnmanaged, 1))
        } else {
            format!(" {close}")
        };
        lines.push(Line::styled(close, t.style(Role::Muted)));
    }
    let w = 96.min(body.width);
    let h = (wrapped_height(&lines, w.saturating_sub(2)) + 2).min(body.height);
    let r = centered(body, w, h);
    f.render_widget(Clear, r);
    let title = plan.request.title();
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(dialog_block(app, &title)), r);
}

fn draw_progress(f: &mut Frame, app: &App, body: Rect) {
    let t = &app.theme;
    let Some(op) = &app.op else { return };
    let mut lines: Vec<Line> = op
        .steps
        .iter()
        .map(|(s, ok)| {
            Line::styled(format!(" {} {s}", if *ok { "ok " } else { "ERR" }), t.style(if *ok { Role::Text } else { Role::Critical }))
        })
        .collect();
    let hide = keys(app, Layer::Progress, Action::Cancel, 1);
    match &op.result {
        None if op.runs_to_its_end.is_some() => lines.push(Line::styled(
            format!(" ... working   runs to its end, then reports   {hide} hide (the operation goes on)"),
            t.style(Role::Muted),
        )),
        None => lines.push(Line::styled(
            format!(
                " ... working   {} cancel at the next safe point   {hide} hide (the operation goes on)",
                keys(app, Layer::Progress, Action::CancelOperation, 1)
            ),
            t.style(Role::Muted),
        )),
        Some((true, s)) => lines.push(Line::styled(format!(" DONE: {s}"), t.style(Role::Ok))),
        Some((false, s)) => lines.push(Line::styled(format!(" FAILED: {s}"), t.style(Role::Critical))),
    }
    let max = body.height.saturating_sub(2) as usize;
    if lines.len() > max {
        lines.drain(..lines.len() - max);
    }
    let w = 96.min(body.width);
    let r = centered(body, w, wrapped_height(&lines, w.saturating_sub(2)) + 2);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(dialog_block(app, &op.title)), r);
}

/// Lines a paragraph takes once wrapped at `width` (a close upper bound of ratatui's word wrap).
fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    lines.iter().map(|l| l.width().max(1).div_ceil(w) as u16).sum::<u16>() + 1
}

fn draw_faults(f: &mut Frame, app: &App, body: Rect, selected: usize) {
    let t = &app.theme;
    let how = format!(
        "Inject a fault into the simulated cluster (1-{}, or select + {}):",
        crate::ops::Fault::ALL.len(),
        keys(app, Layer::Faults, Action::InjectFault, 1)
    );
    let mut lines = vec![Line::styled(how, t.style(Role::Muted))];
    for (i, fault) in crate::ops::Fault::ALL.iter().enumerate() {
        let style = if i == selected { t.style(Role::Selection) } else { t.style(Role::Text) };
        lines.push(Line::styled(format!(" {}  {:<16} {}", i + 1, fault.name(), fault.describe()), style));
    }
    let r = centered(body, 80, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(dialog_block(app, "Fault injection (training)")), r);
}

fn draw_logs(f: &mut Frame, app: &App, body: Rect) {
    let t = &app.theme;
    let r = body;
    f.render_widget(Clear, r);
    let v = &app.log_view;
    let st = app.logs.stats();
    let mut title = format!("Logs  {} lines in memory, {} received", st.in_memory, st.received);
    if st.spilled > 0 {
        title.push_str(&format!(", {} spilled to disk", st.spilled));
    }
    if st.evicted > 0 {
        title.push_str(&format!(", {} older evicted", st.evicted));
    }
    let block = dialog_block(app, &title);
    let inner = block.inner(r);
    f.render_widget(block, r);
    if inner.height < 2 {
        return;
    }
    // the open sources, each with how it is doing
    let mut inner = inner;
    if !v.sources.is_empty() && inner.height > 3 {
        let mut spans = vec![Span::styled("sources: ", t.style(Role::Muted))];
        for (i, s) in v.sources.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", t.style(Role::Muted)));
            }
            let role = match (&s.problem, s.closed, s.live) {
                (Some(_), _, _) => Role::Critical,
                (None, false, _) if s.degraded.is_some() => Role::Warn,
                (None, true, _) => Role::Stale,
                (None, false, 0) => Role::Warn,
                _ => Role::Ok,
            };
            spans.push(Span::styled(s.spec.label(), t.style(Role::Accent)));
            spans.push(Span::styled(format!(" {}", s.state()), t.style(role)));
        }
        f.buffer_mut().set_line(inner.x, inner.y, &Line::from(spans), inner.width);
        inner = Rect { y: inner.y + 1, height: inner.height - 1, ..inner };
    }
    let idx = app.logs.matching(&v.query);
    let visible = idx.len().min(v.paused_at.unwrap_or(usize::MAX));
    let h = inner.height as usize - 1;
    let end = visible.saturating_sub(v.scroll_back);
    let start = end.saturating_sub(h);
    let mut lines: Vec<Line> = idx[start..end]
        .iter()
        .filter_map(|&i| app.logs.get(i))
        .map(|l| {
            Line::from(vec![
                Span::styled(format!("{} ", l.at.with_timezone(&app.tz).format("%H:%M:%S%.3f")), t.style(Role::Muted)),
                Span::styled(format!("{:<28} ", l.source), t.style(Role::Accent)),
                Span::styled(l.text.clone(), t.style(Role::Text)),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(if v.query.is_empty() { "no log lines yet" } else { "no line matches the filter" }, t.style(Role::Muted)));
    }
    let para_area = Rect { height: inner.height - 1, ..inner };
    f.render_widget(Paragraph::new(lines), para_area);
    let state = match (v.paused_at, v.scroll_back) {
        (Some(_), _) => Span::styled(" PAUSED ", t.style(Role::Stale)),
        (None, 0) => Span::styled(" following ", t.style(Role::Ok)),
        (None, n) => Span::styled(format!(" {n} lines up "), t.style(Role::Warn)),
    };
    let filter = if v.typing {
        format!(" /{}_", v.query)
    } else if v.query.is_empty() {
        String::new()
    } else {
        format!(" /{}", v.query)
    };
    let k = |a| keys(app, Layer::Logs, a, 1);
    let bar = Line::from(vec![
        state,
        Span::styled(filter, t.style(Role::Key)),
        Span::styled(
            format!(
                "  {} match  {} sources  {} filter  {} pause  {}/{} scroll  {} follow  {} save  {} own log  {} close",
                idx.len(),
                k(Action::LogSources),
                k(Action::LogsSearch),
                k(Action::LogsPause),
                k(Action::SelectNext),
                k(Action::SelectPrev),
                k(Action::LogsFollow),
                k(Action::LogsSave),
                k(Action::LogsOwnLog),
                k(Action::Cancel),
            ),
            t.style(Role::Muted),
        ),
    ]);
    f.buffer_mut().set_line(inner.x, inner.y + inner.height - 1, &bar, inner.width);
    if let Some(p) = &v.picker {
        draw_log_picker(f, app, body, p);
    }
}

/// The source picker over the log viewer.
fn draw_log_picker(f: &mut Frame, app: &App, body: Rect, p: &crate::app::logsrc::Picker) {
    let t = &app.theme;
    let choices = app.log_choices();
    let r = centered(body, 76, (choices.len() as u16 + 4).min(body.height.saturating_sub(2)).max(8));
    f.render_widget(Clear, r);
    let block = dialog_block(app, "Log sources");
    let inner = block.inner(r);
    f.render_widget(block, r);
    if inner.height < 3 {
        return;
    }
    let rows = inner.height as usize - 2;
    let first = p.selected.saturating_sub(rows.saturating_sub(1));
    let mut lines: Vec<Line> = choices
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, (label, _))| {
            let role = if i == p.selected { Role::Selection } else { Role::Text };
            Line::styled(format!("{} {label}", if i == p.selected { ">" } else { " " }), t.style(role))
        })
        .collect();
    if let Some((_, text)) = &p.input {
        let sel = p.selected.saturating_sub(first);
        if let Some(l) = lines.get_mut(sel) {
            *l = Line::from(vec![Span::styled("> type: ", t.style(Role::Key)), Span::styled(format!("{text}_"), t.style(Role::Selection))]);
        }
    }
    let prev = if p.previous { "on" } else { "off" };
    let k = |a| keys(app, Layer::Picker, a, 1);
    let help = format!(
        "{} add/remove  {} previous containers: {prev}  {} close",
        k(Action::Confirm),
        k(Action::PickerTogglePrevious),
        k(Action::Cancel)
    );
    f.render_widget(Paragraph::new(lines), Rect { height: inner.height - 2, ..inner });
    f.buffer_mut().set_line(inner.x, inner.y + inner.height - 1, &Line::styled(help, t.style(Role::Muted)), inner.width);
}

fn draw_own_log(f: &mut Frame, app: &App, body: Rect) {
    let r = centered(body, body.width.saturating_sub(4), body.height.saturating_sub(2));
    f.render_widget(Clear, r);
    let title = format!("kockpit's own log ({} back to the logs)", keys(app, Layer::Logs, Action::Cancel, 1));
    let w = tui_logger::TuiLoggerWidget::default()
        .block(dialog_block(app, &title))
        .style(app.theme.style(Role::Text))
        .style_error(app.theme.style(Role::Critical))
        .style_warn(app.theme.style(Role::Warn))
        .style_info(app.theme.style(Role::Text))
        .style_debug(app.theme.style(Role::Muted))
        .output_separator(' ')
        .output_timestamp(Some("%H:%M:%S".to_string()))
        .output_level(Some(tui_logger::TuiLoggerLevelOutput::Abbreviated))
        .output_target(false)
        .output_file(false)
        .output_line(false);
    f.render_widget(w, r);
}

/// Render the screen into plain text (for `kockpit render`, audits and tests).
pub fn render_text(app: &mut App, width: u16, height: u16, now: DateTime<Utc>) -> String {
    let buf = render_buffer(app, width, height, now);
    buffer_to_text(&buf)
}

pub fn render_buffer(app: &mut App, width: u16, height: u16, now: DateTime<Utc>) -> Buffer {
    let backend = ratatui::backend::TestBackend::new(width, height);
    let mut term = ratatui::Terminal::new(backend).expect("test backend");
    app.refresh(now);
    term.draw(|f| draw(f, app, now)).expect("draw");
    term.backend().buffer().clone()
}

pub fn buffer_to_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let cell = &buf[(x, y)];
            let sym = cell.symbol();
            line.push_str(sym);
            skip = unicode_width(sym).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn unicode_width(s: &str) -> usize {
    // Cells of wide characters are followed by blank cells the buffer already accounts for.
    s.chars().count().max(1)
}

pub fn style_of(app: &App, r: Role) -> Style {
    app.theme.style(r)
}
