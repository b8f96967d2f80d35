//! The header line and the frame around each panel: title, worst severity, filter, freshness.

use crate::inventory::Plan;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use super::panels::{self, Content, Ctx, sev_role};
use crate::app::App;
use crate::model::source::{fmt_age_coarse, fmt_age_ms};
use crate::model::{Freshness, HealthLevel, Mode, PanelId, Severity};
use crate::settings::theme::Role;

fn badge_role(mode: Mode) -> Role {
    match mode {
        Mode::Live => Role::BadgeLive,
        Mode::ReadOnly => Role::BadgeReadonly,
        Mode::Demo => Role::BadgeDemo,
        Mode::Drill => Role::BadgeDrill,
    }
}

pub(super) fn draw_header(buf: &mut Buffer, area: Rect, app: &App, now: DateTime<Utc>) {
    let t = &app.theme;
    let m = &app.model;
    let level = app.assessment.level;
    let (lvl_text, lvl_role) = match level {
        HealthLevel::Healthy => ("HEALTHY", Role::Ok),
        HealthLevel::Degraded => ("DEGRADED", Role::Warn),
        HealthLevel::Unknown => ("UNKNOWN", Role::Unknown),
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
    if app.audit_log().failure().is_some() {
        // as long as the log cannot be written, every operation is refused: say so where it stays
        badges.push(Span::raw(" "));
        badges.push(Span::styled(" AUDIT LOG FAILING: OPERATIONS REFUSED ", t.style(Role::Critical)));
    }
    // what goes first when the line is too narrow: the data's age, then the title, the cluster's
    // name, the badges; the verdict stays
    let mut pieces: Vec<(Span<'static>, u8)> = vec![
        (Span::styled(" kockpit ", t.style(Role::Title)), 2),
        // a short cluster name outlasts the reason and the note (which cluster this is comes first);
        // a long one is cut before them
        (Span::styled(format!(" {} ", m.meta.cluster), t.style(Role::Accent)), if m.meta.cluster.chars().count() <= 20 { 4 } else { 3 }),
    ];
    // the kubeconfig context, where there is one
    if area.width >= 90 && !m.meta.context.trim().is_empty() {
        pieces.push((Span::styled(format!(" ctx:{} ", m.meta.context), t.style(Role::Muted)), 0));
    }
    pieces.extend(badges.into_iter().enumerate().map(|(i, b)| (b, if i == 0 { 5 } else { 4 })));
    // the verdict, and why in words: its most severe finding (cut after the cluster's name)
    let serious: Vec<&crate::model::Finding> = app.assessment.findings.iter().filter(|f| f.severity >= Severity::Warn).collect();
    match serious.first().filter(|_| level != HealthLevel::Healthy) {
        Some(f) => {
            pieces.push((Span::styled(format!("  {lvl_text}:"), t.style(lvl_role)), u8::MAX));
            let more = if serious.len() > 1 { format!(" (+{} more)", serious.len() - 1) } else { String::new() };
            // the subject named when the message does not name it (`master3 kernel 3.10.0 < 4.19`)
            let named = f.message.contains(&f.subject) || (m.plan.host(&f.subject).is_none() && m.node(&f.subject).is_none());
            let text = if named { f.message.clone() } else { format!("{} {}", f.subject, f.message) };
            // at most about half the line, so the cluster's name stays; the count of the others goes
            // before the reason does
            let cap = (area.width as usize * 45 / 100).max(16);
            let text = if text.chars().count() > cap { shorten(&text, cap - 1).map_or(text.clone(), |s| format!("{s}…")) } else { text };
            pieces.push((Span::styled(format!(" {text}"), t.style(lvl_role)), 3));
            pieces.push((Span::styled(format!("{more} "), t.style(lvl_role)), 2));
        }
        None => pieces.push((Span::styled(format!("  {lvl_text} "), t.style(lvl_role)), u8::MAX)),
    }
    pieces.push((Span::styled(format!(" {age}"), t.style(Role::Muted)), 1));
    if let Some(l) = &m.kube_loading {
        pieces.push((Span::styled(format!("  {}", l.text()), t.style(Role::Muted)), 2));
    }
    // why the screen shows less than a planned cluster: shortened after the data's age; the short
    // form keeps the way out (`plan --from-cluster`) where the whole one does not fit
    if let Some(note) = &m.meta.note {
        let used: usize = pieces.iter().map(|(s, _)| s.content.chars().count()).sum();
        let room = (area.width as usize).saturating_sub(12);
        let short = m.plan.is_kubeconfig_only() && used + note.chars().count() + 2 > room;
        // the way out (`plan --from-cluster`) is kept like the verdict's reason
        let (note, rank) = if short { (Plan::NO_HOST_PLAN_SHORT, 3) } else { (note.as_str(), 1) };
        pieces.push((Span::styled(format!("  {note}"), t.style(Role::Warn)), rank));
    }
    buf.set_style(area, t.style(Role::Header));
    let clock = match app.clock {
        crate::config::Clock::Seconds => now.with_timezone(&app.tz).format("%H:%M:%S").to_string(),
        crate::config::Clock::Minutes => now.with_timezone(&app.tz).format("%H:%M").to_string(),
        crate::config::Clock::Off => String::new(),
    };
    let cw = clock.len() as u16 + 1;
    let show_clock = !clock.is_empty() && area.width > cw + 10;
    let room = if show_clock { area.width - cw } else { area.width } as usize;
    let left = Line::from(fit_line(pieces, room.saturating_sub(1)));
    buf.set_line(area.x, area.y, &left, room as u16);
    if show_clock {
        buf.set_string(area.x + area.width - cw, area.y, clock, t.style(Role::Header));
    }
}

/// Spans that fit in `room` columns: while the line is too long, the piece of the lowest rank is cut
/// at a word's end with `…`, or left out when too little of it would be left (and the line then ends
/// in `…`; a piece of rank 0 goes without a mark). The piece of rank `u8::MAX` is never cut.
fn fit_line(mut pieces: Vec<(Span<'static>, u8)>, room: usize) -> Vec<Span<'static>> {
    let width = |p: &[(Span, u8)]| p.iter().map(|(s, _)| s.content.chars().count()).sum::<usize>();
    let mut cut_any = false;
    // a piece left out leaves room for the `…` that says so
    while width(&pieces) + usize::from(cut_any) > room {
        let Some(i) = pieces.iter().enumerate().filter(|(_, p)| p.1 < u8::MAX).min_by_key(|(i, p)| (p.1, *i)).map(|(i, _)| i) else {
            break;
        };
        let excess = width(&pieces) + usize::from(cut_any) - room;
        let text = pieces[i].0.content.to_string();
        let keep = text.chars().count().saturating_sub(excess + 1);
        match shorten(&text, keep) {
            Some(short) => pieces[i].0.content = format!("{short}…").into(),
            None => {
                // rank 0 is a nicety shown when there is room (the context), like a spacer
                let (gone, rank) = pieces.remove(i);
                cut_any |= rank > 0 && !gone.content.trim().is_empty();
            }
        }
    }
    let mut out: Vec<Span<'static>> = pieces.into_iter().map(|(s, _)| s).collect();
    if cut_any && !out.last().is_some_and(|s| s.content.trim_end().ends_with('…')) {
        out.push(Span::raw("…"));
    }
    out
}

/// `text` in at most `keep` characters, cut after a whole word when that leaves a few letters (a name
/// with no space is cut inside); `None` when fewer than 4 letters of it would be left.
fn shorten(text: &str, keep: usize) -> Option<String> {
    let letters = |s: &str| s.trim().chars().count();
    let head: String = text.chars().take(keep).collect();
    let at_word_end = text.chars().nth(keep).is_none_or(|c| c == ' ');
    let by_word =
        if at_word_end { head.trim_end().to_string() } else { head.rsplit_once(' ').map(|(a, _)| a.to_string()).unwrap_or_default() };
    let by_word = by_word.trim_end().trim_end_matches([':', ',', ';']).to_string();
    let cut = if letters(&by_word) >= 4 { by_word } else { head.trim_end().to_string() };
    (letters(&cut) >= 4).then_some(cut)
}

/// The border's source and freshness, cut at its end to `max` characters: a right-aligned title that
/// does not fit loses its left side, and that is where "FAILED" and the age are.
fn freshness_span(app: &App, p: PanelId, now: DateTime<Utc>, max: usize) -> Span<'static> {
    let mut s = freshness_span_full(app, p, now);
    if s.content.chars().count() > max {
        let cut: String = s.content.chars().take(max.saturating_sub(1)).collect();
        s.content = format!("{cut}…").into();
    }
    s
}

fn freshness_span_full(app: &App, p: PanelId, now: DateTime<Utc>) -> Span<'static> {
    let t = &app.theme;
    if p == PanelId::Timeline {
        return Span::styled("all probes", t.style(Role::Muted));
    }
    // without a host plan, a panel fed over SSH says so, unless the API feeds it (the static pods, the
    // served certificates)
    let m = &app.model;
    let api_fed = match p {
        PanelId::Haproxy | PanelId::Etcd => true,
        PanelId::Certs => !m.certs.is_empty(),
        _ => false,
    };
    if m.plan.is_kubeconfig_only() && matches!(p, PanelId::Hosts | PanelId::Haproxy | PanelId::Etcd | PanelId::Certs) && !api_fed {
        return Span::styled("no host plan", t.style(Role::Muted));
    }
    // no [ceph] section and no Rook seen: nothing to wait for
    if p == PanelId::Ceph && m.plan.ceph.is_none() && m.ceph.unheard() && m.rook.unheard() {
        return Span::styled("no Ceph source", t.style(Role::Muted));
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

pub(super) fn draw_panel(f: &mut Frame, app: &App, p: PanelId, r: Rect, now: DateTime<Utc>) {
    let t = &app.theme;
    let focused = app.view.focus == p;
    let worst = app.assessment.panel_worst(p);
    let border_role = if focused { Role::BorderFocus } else { Role::Border };
    let mut title = vec![Span::styled(format!(" {} ", panel_title(app, p)), t.style(if focused { Role::Accent } else { Role::Title }))];
    if worst >= Severity::Warn {
        title.push(Span::styled(if worst == Severity::Critical { "!! " } else { "! " }, t.style(sev_role(worst))));
    }
    if let Some(by) = crate::model::rows::sort_name(p, app.view.sort_of(p)) {
        title.push(Span::styled(format!("by {by} "), t.style(Role::Key)));
    }
    let filter = app.view.filter(p);
    if r.height < 3 {
        return draw_panel_line(f, app, p, r, now, title);
    }
    if !filter.is_empty() || (focused && app.view.filter_editing) {
        let cursor = if focused && app.view.filter_editing { "_" } else { "" };
        title.push(Span::styled(format!("/{filter}{cursor} "), t.style(Role::Key)));
    }
    let title_w: usize = title.iter().map(|s| s.width()).sum();
    if title_w + 2 > usize::from(r.width) {
        // a title the border cannot hold is cut with `…`; its mark (`!`, `!!`), order and filter stay
        let marks: usize = title[1..].iter().map(|s| s.width()).sum();
        let room = usize::from(r.width).saturating_sub(4 + marks).max(2);
        let full = title[0].content.trim().to_string();
        let short: String =
            if full.chars().count() > room { full.chars().take(room.saturating_sub(1)).chain(['…']).collect() } else { full };
        title[0].content = format!(" {short} ").into();
    }
    let title_end = 1 + title.iter().map(|s| s.width()).sum::<usize>() as u16;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(t.style(border_role))
        .title(Line::from(title))
        .title_bottom(
            Line::from(vec![Span::raw(" "), freshness_span(app, p, now, (r.width as usize).saturating_sub(6)), Span::raw(" ")])
                .right_aligned(),
        );
    let inner = block.inner(r);
    f.render_widget(block, r);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let zoomed = app.view.zoom == Some(p);
    let ctx = Ctx {
        model: &app.model,
        theme: t,
        health: &app.assessment,
        now,
        width: inner.width,
        tz: app.tz,
        zoomed,
        one_line: false,
        sort: app.view.sort_of(p),
        focused,
    };
    // a panel without focus that cannot show every row shows its first problem (the selection is
    // only drawn, and only moves, in the focused panel)
    let selected = if focused { app.view.selected(p) } else { problem_row(app, p, filter).unwrap_or(app.view.selected(p)) };
    // The summary first, wrapped over two lines rather than cut (it carries the verdict), then the
    // column header when there is room, then the rows.
    let summary_h = |c: &Content| if c.summary.width() > usize::from(inner.width) && inner.height >= 2 { 2 } else { 1 };
    let room_for_header = inner.height >= 5;
    let mut rows_h = inner.height.saturating_sub(1 + u16::from(room_for_header)) as usize;
    let mut c: Content = panels::content(&ctx, p, filter, selected, rows_h);
    let extra = summary_h(&c) - 1;
    let header_line = usize::from(room_for_header && c.header.is_some());
    let fit = (inner.height as usize).saturating_sub(summary_h(&c) + header_line);
    if fit != rows_h {
        // a panel without a column header has that line for one more row; a wrapped summary takes one
        // (a panel that would then change its form, as haproxy's from compact to table, keeps the first)
        let again = panels::content(&ctx, p, filter, selected, fit);
        if again.header.is_some() == c.header.is_some() {
            (rows_h, c) = (fit, again);
        } else if fit < rows_h {
            c.rows.truncate(fit);
            rows_h = fit;
        }
    }
    let mut lines: Vec<Line> = super::wrap::wrap(c.summary, usize::from(inner.width), 1 + extra);
    if room_for_header && let Some(h) = c.header {
        lines.push(h);
    }
    let first_row = lines.len();
    // a row wider than the panel is marked cut (`…`), never cut silently by the border
    let w = usize::from(inner.width);
    lines.extend(c.rows.into_iter().map(|l| super::wrap::cut(l, w)));
    let para = Paragraph::new(lines);
    f.render_widget(para, inner);
    // Highlight the selected row of the focused panel.
    if focused && c.total > 0 && selected >= c.offset {
        let y = inner.y + first_row as u16 + (selected - c.offset) as u16;
        if y < inner.y + inner.height {
            f.buffer_mut().set_style(Rect { x: inner.x, y, width: inner.width, height: 1 }, t.style(Role::Selection));
        }
    }
    if c.total > rows_h && rows_h > 0 && c.offset < c.total {
        // the position, where it does not cover the title (its mark above all)
        let more = format!(" {}-{}/{} ", c.offset + 1, (c.offset + rows_h).min(c.total), c.total);
        let x = r.x + r.width.saturating_sub(more.len() as u16 + 1);
        if x > r.x + title_end {
            f.buffer_mut().set_string(x, r.y, more, t.style(Role::Muted));
        }
    }
}

/// The first row of panel `p` (as filtered) that has a problem: a host or node with a finding, an
/// etcd member that does not answer, a workload not ready.
fn problem_row(app: &App, p: PanelId, filter: &str) -> Option<usize> {
    use crate::model::rows;
    let m = &app.model;
    let bad = |subject: &str| app.assessment.worst(p, subject) >= Severity::Warn;
    match p {
        PanelId::Hosts => rows::hosts_rows(m, filter).iter().position(|h| bad(h)),
        PanelId::Nodes => {
            let nodes = m.nodes.data.as_deref()?;
            rows::node_rows(m, filter, app.view.sort_of(p)).iter().position(|&i| bad(&nodes[i].name))
        }
        PanelId::Etcd => m.etcd.data.as_ref()?.members.iter().position(|mem| !mem.reachable),
        PanelId::Platform => {
            let ws = m.workloads.data.as_deref()?;
            rows::workload_rows(m, filter).iter().position(|&i| !ws[i].is_ready())
        }
        _ => None,
    }
}

/// A panel in one or two lines, for a screen too low for bordered panels: its name, its mark, its
/// summary (wrapped, cut with `…`), and FAILED when its source fails.
fn draw_panel_line(f: &mut Frame, app: &App, p: PanelId, r: Rect, now: DateTime<Utc>, mut title: Vec<Span<'static>>) {
    let t = &app.theme;
    let short = match p {
        PanelId::Hosts => "Hosts",
        PanelId::Vip => "VIP",
        PanelId::Haproxy => "haproxy",
        PanelId::Certs => "Certs",
        _ => p.title(),
    };
    title[0].content = short.into();
    if title.len() > 1 {
        // the mark right after the name: "Hosts!"
        title[1].content = title[1].content.trim_end().to_string().into();
    }
    let ctx = Ctx {
        model: &app.model,
        theme: t,
        health: &app.assessment,
        now,
        width: r.width,
        tz: app.tz,
        zoomed: false,
        one_line: true,
        sort: app.view.sort_of(p),
        focused: false,
    };
    let c = panels::content(&ctx, p, app.view.filter(p), 0, 0);
    let mut spans = title;
    spans.push(Span::raw(" "));
    if freshness_span_full(app, p, now).content.contains("FAILED") {
        spans.push(Span::styled("FAILED ", t.style(Role::Critical)));
    }
    spans.extend(c.summary.spans);
    // a blank column between two panels side by side
    let width = r.width.saturating_sub(1).max(1);
    let lines = super::wrap::wrap(Line::from(spans), usize::from(width), usize::from(r.height));
    f.render_widget(Paragraph::new(lines), Rect { width, ..r });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(spans: &[Span]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn a_line_too_long_loses_its_least_important_part_first_and_says_so() {
        let pieces = || {
            vec![
                (Span::raw(" kockpit "), 2),
                (Span::raw(" production-eu-west-1 "), 3),
                (Span::raw(" DEMO "), 5),
                (Span::raw("  CRITICAL "), u8::MAX),
                (Span::raw(" data 12s old: 6 not fresh"), 1),
            ]
        };
        assert_eq!(texts(&fit_line(pieces(), 200)), " kockpit  production-eu-west-1  DEMO   CRITICAL  data 12s old: 6 not fresh");
        // the age is cut at a word's end first
        assert_eq!(texts(&fit_line(pieces(), 64)), " kockpit  production-eu-west-1  DEMO   CRITICAL  data 12s old…");
        // then it goes, then the title, then the name is cut inside; the verdict stays
        let narrow = texts(&fit_line(pieces(), 40));
        assert!(narrow.contains("CRITICAL") && narrow.contains('…') && narrow.chars().count() <= 40, "{narrow}");
        assert!(texts(&fit_line(pieces(), 5)).contains("CRITICAL"));
    }
}
