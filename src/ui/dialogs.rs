//! The dialogs over the panels: confirmation, progress, fault injection, the log viewer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use super::help::keys;
use crate::app::{Action, App, Layer};
use crate::settings::theme::Role;

pub(super) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

/// [`dialog_block`] with its title cut (ending in `…`) to fit a box `width` wide.
pub(super) fn dialog_block_fit(app: &App, title: &str, width: u16) -> Block<'static> {
    let room = usize::from(width.saturating_sub(4));
    let cut: String = super::wrap::cut(Line::raw(title.to_string()), room).spans.into_iter().map(|s| s.content.into_owned()).collect();
    dialog_block(app, &cut)
}

pub(super) fn dialog_block(app: &App, title: &str) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(app.theme.style(Role::BorderFocus))
        .title(Span::styled(format!(" {title} "), app.theme.style(Role::Accent)))
        .style(app.theme.style(Role::Dialog))
}

/// Returns whether the plan's end is on screen (all of it, or scrolled to its end from its top), and
/// the scroll position kept within the plan.
pub(super) fn draw_confirm(f: &mut Frame, app: &App, body: Rect, plan: &crate::ops::OpPlan, scroll: usize) -> (bool, usize) {
    let t = &app.theme;
    // a refused plan says so first, with why; its steps follow as what it would have done
    let mut lines = vec![];
    // one of a fleet's clusters: which one is acted on is said first
    if !app.fleet_names.is_empty() {
        lines.push(Line::styled(format!("On cluster {}:", app.model.meta.cluster), t.style(Role::Title)));
    }
    if !plan.allowed() {
        lines.push(Line::styled("REFUSED:", t.style(Role::Critical)));
        for b in &plan.blockers {
            lines.push(Line::styled(format!("  - {b}"), t.style(Role::Critical)));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("It would have:", t.style(Role::Muted)));
    } else {
        lines.push(Line::styled("This will:", t.style(Role::Muted)));
    }
    let step_role = if plan.allowed() { Role::Text } else { Role::Muted };
    for (i, s) in plan.steps.iter().enumerate() {
        lines.push(Line::styled(format!(" {}. {s}", i + 1), t.style(step_role)));
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
    // the dry run's counts always; its lines pod by pod take what room the rest leaves
    let mut dry: Vec<Line> = vec![];
    let mut dry_lines: Vec<Line> = vec![];
    match &plan.dry_run {
        None => {}
        Some(crate::ops::DryRunState::Pending) => {
            dry.push(Line::raw(""));
            dry.push(Line::styled(" dry run: asking the cluster what would move ...", t.style(Role::Muted)));
        }
        Some(crate::ops::DryRunState::Failed { reason }) => {
            dry.push(Line::raw(""));
            dry.push(Line::styled(format!(" ! dry run failed: {reason} (the plan above is all there is)"), t.style(Role::Warn)));
        }
        Some(crate::ops::DryRunState::Ready(d)) => {
            dry.push(Line::raw(""));
            dry.push(Line::styled("Dry run:", t.style(Role::Muted)));
            for (i, l) in d.lines.iter().enumerate() {
                let role = if l.starts_with("blocked") { Role::Warn } else { Role::Text };
                let line = Line::styled(format!(" {l}"), t.style(role));
                if i == 0 { dry.push(line) } else { dry_lines.push(line) }
            }
        }
    }
    let mut tail: Vec<Line> = vec![];
    tail.push(Line::raw(""));
    if plan.allowed() && !plan.confirmable() {
        tail.push(Line::from(vec![
            Span::styled(format!(" {}", k(Action::ConfirmNo, 2)), t.style(Role::Key)),
            Span::styled(" cancel   (confirmation waits for the dry run)", t.style(Role::Muted)),
        ]));
    } else if plan.allowed() && app.readonly() {
        tail.push(Line::from(vec![
            Span::styled(" read-only: the plan and dry run only, nothing can be confirmed   ", t.style(Role::Warn)),
            Span::styled(k(Action::ConfirmNo, 2), t.style(Role::Key)),
            Span::styled(" close", t.style(Role::Text)),
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
        tail.push(Line::from(keys));
    } else {
        let close = format!("{} close", k(Action::ConfirmNo, 2));
        let close = if matches!(plan.request, crate::ops::OpRequest::Drain { .. }) {
            format!(" {}/{} change the options   {close}", k(Action::DrainToggleEmptyDir, 1), k(Action::DrainToggleUnmanaged, 1))
        } else {
            format!(" {close}")
        };
        tail.push(Line::styled(close, t.style(Role::Muted)));
    }
    let w = 96.min(body.width);
    let inner_w = w.saturating_sub(2);
    let room = body.height.saturating_sub(2);
    // the dry run's lines pod by pod come last (before the keys), all of them, to scroll through;
    // what must have been on screen before a confirmation is the plan through the dry run's counts
    lines.extend(dry);
    let must_see = lines.len();
    let pods = dry_lines.len();
    lines.extend(dry_lines);
    lines.extend(tail);
    // a plan taller than the screen keeps its keys line and scrolls; it cannot be confirmed until
    // what it must show has been on screen (the caller records that)
    let mut whole = wrapped_height(&lines, inner_w) <= room;
    let mut scroll = scroll;
    if !whole {
        let keys_line = lines.pop().unwrap_or_default();
        let h = |l: &Line| wrapped_height(std::slice::from_ref(l), inner_w);
        let keys = |a| keys(app, Layer::Main, a, 1);
        let until = if pods > 0 {
            format!("once the dry run's counts have been on screen ({pods} pod line(s) follow them)")
        } else {
            "once the end has been on screen".to_string()
        };
        let note_text = |a: usize, b: usize, n: usize| {
            format!(
                " lines {a}-{b} of {n}: {}/{}/{} scroll; {} {until}",
                keys(Action::SelectNext),
                keys(Action::PageDown),
                keys(Action::SelectLast),
                k(Action::ConfirmYes, 1)
            )
        };
        let probe = Line::styled(note_text(1000, 1000, 1000), t.style(Role::Warn));
        let avail = usize::from(room).saturating_sub(usize::from(h(&probe)) + usize::from(h(&keys_line)));
        // the last position that still fills the window, from the end back
        let (mut last_start, mut used) = (lines.len(), 0usize);
        while last_start > 0 && used + usize::from(h(&lines[last_start - 1])) <= avail {
            used += usize::from(h(&lines[last_start - 1]));
            last_start -= 1;
        }
        scroll = scroll.min(last_start);
        let (mut end, mut used) = (scroll, 0usize);
        while end < lines.len() && used + usize::from(h(&lines[end])) <= avail {
            used += usize::from(h(&lines[end]));
            end += 1;
        }
        whole = end >= must_see.min(lines.len());
        let note = Line::styled(note_text(scroll + 1, end.max(scroll + 1), lines.len()), t.style(Role::Warn));
        lines = lines.drain(scroll..end).collect();
        lines.push(note);
        lines.push(keys_line);
    }
    let h = (wrapped_height(&lines, inner_w) + 2).min(body.height);
    let r = centered(body, w, h);
    f.render_widget(Clear, r);
    let title = plan.request.title();
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(dialog_block(app, &title)), r);
    (whole, scroll)
}

pub(super) fn draw_progress(f: &mut Frame, app: &App, body: Rect) {
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
        Some((false, s)) if op.cancelled() => lines.push(Line::styled(format!(" CANCELLED: {s}"), t.style(Role::Warn))),
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

/// Quit asked while an operation runs: what quitting now would leave, and the two ways out.
pub(super) fn draw_quit_while_running(f: &mut Frame, app: &App, body: Rect) {
    let t = &app.theme;
    let Some(op) = app.op.as_ref().filter(|o| o.result.is_none()) else { return };
    let k = |a, n| keys(app, Layer::Confirm, a, n);
    let how = match op.runs_to_its_end {
        None => "stop it at its next safe point, wait for it to stop, then quit".to_string(),
        Some(why) => format!("it cannot be stopped halfway ({why}): wait for it to end, then quit"),
    };
    let lines = vec![
        Line::styled(format!(" {} is running ({} step(s) so far).", op.title, op.steps.len()), t.style(Role::Warn)),
        Line::styled(" Quitting now would leave it halfway, with no end in the audit log.", t.style(Role::Text)),
        Line::raw(""),
        Line::styled(format!(" {}  {how}", k(Action::ConfirmYes, 1)), t.style(Role::Text)),
        Line::styled(format!(" {}  stay", k(Action::ConfirmNo, 2)), t.style(Role::Text)),
    ];
    let w = 80.min(body.width);
    let r = centered(body, w, wrapped_height(&lines, w.saturating_sub(2)) + 2);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(dialog_block(app, "Quit?")), r);
}

/// Lines a paragraph takes once wrapped at `width` (a close upper bound of ratatui's word wrap).
fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    lines.iter().map(|l| l.width().max(1).div_ceil(w) as u16).sum::<u16>() + 1
}

pub(super) fn draw_faults(f: &mut Frame, app: &App, body: Rect, selected: usize) {
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
    // cut lines end in `…`; on a low screen the list scrolls to keep the selection, and says so
    let (w, h) = (usize::from(r.width.saturating_sub(2)), usize::from(r.height.saturating_sub(2)));
    let total = lines.len();
    let lines: Vec<Line> = lines.into_iter().map(|l| super::wrap::cut(l, w)).collect();
    let offset = (selected + 2).saturating_sub(h).min(total.saturating_sub(h));
    let title = if total > h {
        format!("Fault injection (training) {}-{}/{}", offset + 1, (offset + h).min(total), total)
    } else {
        "Fault injection (training)".to_string()
    };
    f.render_widget(Paragraph::new(lines).scroll((offset as u16, 0)).block(dialog_block_fit(app, &title, r.width)), r);
}

pub(super) fn draw_logs(f: &mut Frame, app: &App, body: Rect) {
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
    let width = inner.width as usize;
    // the newest lines that fit, each as its rows: one (cut, scrolled sideways) or several (wrapped)
    let mut lines: Vec<Line> = Vec::new();
    for &i in idx[..end].iter().rev() {
        if lines.len() >= h {
            break;
        }
        let Some(l) = app.logs.get(i) else { continue };
        let head = vec![
            Span::styled(format!("{} ", l.at.with_timezone(&app.tz).format("%H:%M:%S%.3f")), t.style(Role::Muted)),
            // the tag column keeps its width, so a wrapped line's rows lose nothing: a longer source is cut in its middle
            Span::styled(format!("{} ", super::panels::pad_mid(&l.source, 28)), t.style(Role::Accent)),
        ];
        let rows = log_rows(&l.text, width.saturating_sub(42), width, v.wrap, v.hscroll);
        let mut block: Vec<Line> = rows
            .into_iter()
            .enumerate()
            .map(|(n, text)| {
                let mut spans = if n == 0 { head.clone() } else { vec![Span::raw("    ")] };
                spans.push(Span::styled(text, t.style(Role::Text)));
                Line::from(spans)
            })
            .collect();
        block.reverse();
        lines.extend(block);
    }
    lines.truncate(h);
    lines.reverse();
    if lines.is_empty() {
        lines.push(Line::styled(if v.query.is_empty() { "no log lines yet" } else { "no line matches the filter" }, t.style(Role::Muted)));
    }
    let para_area = Rect { height: inner.height - 1, ..inner };
    let lines: Vec<Line> = lines.into_iter().map(|l| super::wrap::cut(l, usize::from(inner.width))).collect();
    f.render_widget(Paragraph::new(lines), para_area);
    let state = match (v.paused_at, v.scroll_back) {
        (Some(_), _) => Span::styled(" PAUSED ", t.style(Role::Stale)),
        (None, 0) => Span::styled(" following ", t.style(Role::Ok)),
        (None, n) => Span::styled(format!(" {n} lines up "), t.style(Role::Warn)),
    };
    let sideways = match (v.wrap, v.hscroll) {
        (true, _) => " wrapped".to_string(),
        (false, 0) => String::new(),
        (false, n) => format!(" from column {}", n + 1),
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
        Span::styled(sideways, t.style(Role::Warn)),
        Span::styled(filter, t.style(Role::Key)),
        Span::styled(
            format!(
                "  {} match  {} close  {} sources  {} filter  {} pause  {}/{} scroll  {} follow  {} wrap  {}/{} sideways  {} save  {} own log",
                idx.len(),
                k(Action::Cancel),
                k(Action::LogSources),
                k(Action::LogsSearch),
                k(Action::LogsPause),
                k(Action::SelectNext),
                k(Action::SelectPrev),
                k(Action::LogsFollow),
                k(Action::LogsWrap),
                k(Action::LogsLeft),
                k(Action::LogsRight),
                k(Action::LogsSave),
                k(Action::LogsOwnLog),
            ),
            t.style(Role::Muted),
        ),
    ]);
    let bar = super::wrap::cut(bar, usize::from(inner.width));
    f.buffer_mut().set_line(inner.x, inner.y + inner.height - 1, &bar, inner.width);
    if let Some(p) = &v.picker {
        draw_log_picker(f, app, body, p);
    }
}

/// A log line's text as screen rows: cut to `first` characters after skipping `hscroll` (a `…` at
/// either cut end), or wrapped: `first` characters on the first row, `width - 4` on the next ones.
pub(super) fn log_rows(text: &str, first: usize, width: usize, wrap: bool, hscroll: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let first = first.max(8);
    if !wrap {
        let skip = hscroll.min(chars.len());
        let rest = &chars[skip..];
        let mut row: String = rest.iter().take(first).collect();
        if rest.len() > first {
            row.pop();
            row.push('…');
        }
        if skip > 0 && !row.is_empty() {
            row.replace_range(..row.chars().next().map_or(0, char::len_utf8), "…");
        }
        return vec![row];
    }
    let next = width.saturating_sub(4).max(8);
    let mut rows = vec![chars.iter().take(first).collect::<String>()];
    let mut at = first.min(chars.len());
    while at < chars.len() {
        rows.push(chars[at..(at + next).min(chars.len())].iter().collect());
        at += next;
    }
    rows
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
    if lines.is_empty() {
        lines.push(Line::styled(format!("  no source matches `{}`", p.filter), t.style(Role::Muted)));
    }
    let prev = if p.previous { "on" } else { "off" };
    let k = |a| keys(app, Layer::Picker, a, 1);
    let filter = match (p.filtering, p.filter.is_empty()) {
        (true, _) => format!("/{}_  ", p.filter),
        (false, false) => format!("/{}  ", p.filter),
        (false, true) => format!("{} filter  ", k(Action::PickerFilter)),
    };
    let help = format!(
        "{filter}{} add/remove  {} previous containers: {prev}  {} close",
        k(Action::Confirm),
        k(Action::PickerTogglePrevious),
        k(Action::Cancel)
    );
    f.render_widget(Paragraph::new(lines), Rect { height: inner.height - 2, ..inner });
    f.buffer_mut().set_line(inner.x, inner.y + inner.height - 1, &Line::styled(help, t.style(Role::Muted)), inner.width);
}

pub(super) fn draw_own_log(f: &mut Frame, app: &App, body: Rect) {
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
