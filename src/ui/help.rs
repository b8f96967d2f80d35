//! The help dialog and the footer: what the keys do, said in one place.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::dialogs::{centered, dialog_block};
use super::panels::sev_role;
use crate::app::{Action, App, Layer};
use crate::settings::theme::Role;

/// The first key of `a` on the main screen, for hints.
pub(super) fn hint(app: &App, a: Action) -> String {
    keys(app, Layer::Main, a, 1)
}

pub(super) fn draw_footer(buf: &mut Buffer, area: Rect, app: &App, now: DateTime<Utc>) {
    let t = &app.theme;
    buf.set_style(area, t.style(Role::Footer));
    if matches!(app.view.dialog, crate::app::Dialog::Detail { .. }) {
        // what a key just said (`l` on an item with no log of its own) shows here, over the view
        if let Some((sev, text, at)) = &app.notice
            && (now - *at).num_seconds() < 6
        {
            let line = super::wrap::cut(Line::styled(format!(" {text}"), t.style(super::panels::sev_role(*sev))), usize::from(area.width));
            buf.set_line(area.x, area.y, &line, area.width);
            return;
        }
        let k = |a| keys(app, Layer::Main, a, 1);
        let line = Line::from(vec![
            Span::styled(format!(" {}", k(Action::Cancel)), t.style(Role::Key)),
            Span::styled(" back  ", t.style(Role::Text)),
            Span::styled(format!("{}/{}", k(Action::SelectNext), k(Action::SelectPrev)), t.style(Role::Key)),
            Span::styled(" scroll  ", t.style(Role::Text)),
            Span::styled(k(Action::Logs), t.style(Role::Key)),
            Span::styled(" logs of this item", t.style(Role::Text)),
        ]);
        let line = super::wrap::cut(line, usize::from(area.width));
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
    if let Some(cl) = &app.view.command {
        draw_command_line(buf, area, app, cl);
        return;
    }
    if app.view.filter_editing {
        let line = Line::from(vec![
            Span::styled(" filter: ", t.style(Role::Key)),
            Span::styled(app.view.filter(app.view.focus).to_string(), t.style(Role::Text)),
            Span::styled("   Enter keep  Esc clear", t.style(Role::Muted)),
        ]);
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
    if let Some(run) = app.drill.as_ref().and_then(|d| d.driver.as_ref()).map(|d| &d.run)
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
        // a notice longer than the row ends in `…`
        let line = super::wrap::wrap(Line::styled(format!(" {text}"), t.style(sev_role(*sev))), usize::from(area.width), 1).remove(0);
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
    // the operations of the panel in focus first, then the cluster's
    use crate::model::PanelId;
    let ops: &[(Action, &str)] = match app.view.focus {
        PanelId::Haproxy => {
            &[(Action::HaproxyDrain, "out of haproxy"), (Action::HaproxyReady, "back in"), (Action::VipFailover, "failover")]
        }
        PanelId::Etcd => &[(Action::EtcdMoveLeader, "move leader"), (Action::EtcdDefrag, "defrag"), (Action::Maintenance, "maintenance")],
        PanelId::Vip => &[(Action::VipFailover, "failover"), (Action::RestoreVip, "restore"), (Action::RenewCerts, "renew certs")],
        _ => &[
            (Action::Cordon, "cordon"),
            (Action::Drain, "drain"),
            (Action::VipFailover, "failover"),
            (Action::RenewCerts, "renew certs"),
            (Action::ToggleNoout, "noout"),
        ],
    };
    let nav = [(Action::Help, "help"), (Action::Quit, "quit"), (Action::Zoom, "zoom"), (Action::Filter, "filter"), (Action::Logs, "log")];
    // whole hints only: those that do not fit are left out from the end, help and quit kept
    let mut hints: Vec<(Option<Action>, Vec<Span>)> = vec![];
    let op_role = if app.readonly() { Role::Muted } else { Role::Text };
    for &(a, label) in ops {
        hints.push((
            Some(a),
            vec![
                Span::styled(hint(app, a), t.style(if app.readonly() { Role::Muted } else { Role::Key })),
                Span::styled(format!(" {label}  "), t.style(op_role)),
            ],
        ));
    }
    if app.readonly() {
        hints.push((None, vec![Span::styled("(read-only)  ", t.style(Role::Muted))]));
    }
    let faults = app.supports_faults.then_some((Action::Faults, "faults"));
    for (a, label) in nav.into_iter().chain(faults) {
        hints.push((
            Some(a),
            vec![Span::styled(hint(app, a), t.style(Role::Key)), Span::styled(format!(" {label}  "), t.style(Role::Text))],
        ));
    }
    let width = |hs: &[(Option<Action>, Vec<Span>)]| 1 + hs.iter().flat_map(|(_, s)| s).map(|s| s.width()).sum::<usize>();
    while width(&hints) > usize::from(area.width) + 2 {
        let Some(i) = hints.iter().rposition(|(a, _)| !matches!(a, Some(Action::Help | Action::Quit) | None)) else { break };
        hints.remove(i);
    }
    let mut spans = vec![Span::raw(" ")];
    spans.extend(hints.into_iter().flat_map(|(_, s)| s));
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

/// The `:` command line: what is typed (its end, when it is longer than the row), then what Tab
/// offered or why the last command was not run.
fn draw_command_line(buf: &mut Buffer, area: Rect, app: &App, cl: &crate::app::cmdline::CommandLine) {
    let t = &app.theme;
    let width = area.width as usize;
    // a reason to say leaves the typed text a third of the row, so the reason is seen
    let room = if cl.error && cl.hint.is_some() { (width / 3).max(8) } else { width.saturating_sub(3).max(1) };
    // the window of the text that holds the cursor (the end, unless it was moved)
    let chars: Vec<char> = cl.text.chars().collect();
    let n = chars.len();
    let at = cl.cursor();
    let start = if n + 1 > room { (at + 1).saturating_sub(room).min(n + 1 - room) } else { 0 };
    let end = (start + room).min(n);
    let mut before: String = chars[start..at.max(start)].iter().collect();
    if start > 0 && !before.is_empty() {
        // the start of the line is scrolled off to the left: said with a mark
        before = format!("…{}", before.chars().skip(1).collect::<String>());
    }
    let mut spans = vec![Span::styled(" :", t.style(Role::Key)), Span::styled(before, t.style(Role::Text))];
    if at < n {
        // the character under the cursor, reversed, then the rest
        spans.push(Span::styled(chars[at].to_string(), t.style(Role::Selection)));
        spans.push(Span::styled(chars[at + 1..end.max(at + 1)].iter().collect::<String>(), t.style(Role::Text)));
    } else {
        spans.push(Span::styled("_", t.style(Role::Key)));
    }
    match &cl.hint {
        Some(h) if cl.error => spans.push(Span::styled(format!("  {h}"), t.style(Role::Warn))),
        Some(h) => spans.push(Span::styled(format!("  {h}"), t.style(Role::Muted))),
        None if cl.text.is_empty() => spans.push(Span::styled("  Tab completes  Enter runs  Esc closes", t.style(Role::Muted))),
        None => {}
    }
    // a reason longer than the row ends in `…`
    buf.set_line(area.x, area.y, &super::wrap::cut(Line::from(spans), width), area.width);
}

/// Draws the help; returns the scroll position used: the last page at most, so scrolling on past the
/// end does not leave an empty box (or keys to press back through).
pub(super) fn draw_help(f: &mut Frame, app: &App, body: Rect, scroll: usize) -> usize {
    let t = &app.theme;
    let r = centered(body, body.width.saturating_sub(4).min(160), body.height.saturating_sub(2).max(10));
    f.render_widget(Clear, r);
    let k = |a| keys(app, Layer::Help, a, 1);
    let mut lines = vec![Line::styled(
        format!("keymap: {}   {} closes, {}/{} scroll", app.keymap.name, k(Action::Cancel), k(Action::SelectNext), k(Action::SelectPrev)),
        t.style(Role::Muted),
    )];
    // said in as many lines as the width needs, never cut
    let intro = "In a dialog, a key its layer does not bind works as on the main screen for quit, help, cancel, \
                 confirm and the moves; ?, l, x and a also close the dialog they opened.";
    for l in wrap_words(intro, r.width.saturating_sub(2) as usize) {
        lines.push(Line::styled(l, t.style(Role::Muted)));
    }
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
            // a drain's plan and dry run stay open in read-only mode; only confirming it is refused
            let dry_only = a == Action::Drain && app.readonly();
            let ro = a.is_operation() && app.readonly() && !dry_only;
            lines.push(Line::from(vec![
                Span::styled(format!("{:<key_width$}", keys_of(layer, a)), t.style(Role::Key)),
                Span::styled(format!("{:<width$}", a.name()), t.style(Role::Muted)),
                Span::styled(
                    if ro {
                        format!("{desc} (disabled: read-only)")
                    } else if dry_only {
                        format!("{desc} (plan and dry run only: read-only)")
                    } else {
                        desc
                    },
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
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Commands ({} opens the command line; Tab completes, Up/Down recall)", hint(app, Action::CommandLine)),
        t.style(Role::Accent),
    ));
    let cw = crate::app::cmdline::VERBS.iter().map(|(v, u, _)| v.len() + u.len() + 2).max().unwrap_or(0).min(48);
    for (v, usage, desc) in crate::app::cmdline::VERBS {
        let verb = format!("{v} {usage}");
        if verb.chars().count() > cw {
            // a usage wider than the column: the description on the next line, in the column
            lines.push(Line::styled(format!(":{verb}"), t.style(Role::Key)));
            lines.push(Line::from(vec![Span::raw(" ".repeat(cw + 1)), Span::styled(format!(" {desc}"), t.style(Role::Text))]));
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!(":{verb:<cw$}"), t.style(Role::Key)),
            Span::styled(format!(" {desc}"), t.style(Role::Text)),
        ]));
    }
    for (name, target) in &app.aliases {
        lines.push(Line::from(vec![
            Span::styled(format!(":{name:<cw$}"), t.style(Role::Key)),
            Span::styled(format!(" alias of :{target}"), t.style(Role::Text)),
        ]));
    }
    // a description longer than the box goes on under itself (its key column kept clear), never cut
    let w = usize::from(r.width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().flat_map(|l| hanging(l, w)).collect();
    let scroll = scroll.min(lines.len().saturating_sub(usize::from(r.height.saturating_sub(2))));
    let p = Paragraph::new(lines).block(dialog_block(app, "Help: every key and command")).scroll((scroll as u16, 0));
    f.render_widget(p, r);
    scroll
}

/// Up to `n` keys that trigger `a` in `layer` (`n/esc`), for a dialog's hints; `?` when none is bound.
pub(super) fn keys(app: &App, layer: Layer, a: Action, n: usize) -> String {
    app.keymap.hints(layer, a, n).unwrap_or_else(|| "?".into())
}

/// A help line wider than `w`: its last span (the description) wrapped between words, the lines
/// after the first indented to where it starts; a line whose keys alone fill the width is cut.
fn hanging(l: Line<'static>, w: usize) -> Vec<Line<'static>> {
    if l.width() <= w || l.spans.len() < 2 {
        return vec![super::wrap::cut(l, w)];
    }
    let mut spans = l.spans;
    let desc = spans.pop().expect("two spans or more");
    let indent: usize = spans.iter().map(|s| s.width()).sum();
    if indent + 20 > w {
        spans.push(desc);
        return vec![super::wrap::cut(Line::from(spans), w)];
    }
    // the panels' wrap (display width, the description's style), under the key columns
    super::wrap::wrap(Line::from(vec![desc]), w - indent, usize::MAX)
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut line = if i == 0 { std::mem::take(&mut spans) } else { vec![Span::raw(" ".repeat(indent))] };
            line.extend(part.spans);
            Line::from(line)
        })
        .collect()
}

/// `text` in lines of at most `width` characters, broken between words (a word longer than the width
/// gets a line of its own).
pub(super) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(10);
    let mut out: Vec<String> = vec![];
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap_words;

    #[test]
    fn words_wrap_at_the_width_and_none_is_lost() {
        let text = "In a dialog, a key its layer does not bind works as on the main screen for quit, help, cancel";
        for w in [20, 40, 76, 200] {
            let lines = wrap_words(text, w);
            assert!(lines.iter().all(|l| l.chars().count() <= w), "{w}: {lines:?}");
            assert_eq!(lines.join(" "), text, "{w}");
        }
    }
}
