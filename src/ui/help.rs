//! The help dialog and the footer: what the keys do, said in one place.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::dialogs::{centered, dialog_block};
use super::panels::sev_role;
use crate::app::{Action, App};
use crate::settings::theme::Role;

pub(super) fn hint(app: &App, a: Action) -> String {
    app.keymap.hint(a).unwrap_or_else(|| "?".into())
}

pub(super) fn draw_footer(buf: &mut Buffer, area: Rect, app: &App, now: DateTime<Utc>) {
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

pub(super) fn draw_help(f: &mut Frame, app: &App, body: Rect, scroll: usize) {
    let t = &app.theme;
    let r = centered(body, 84, body.height.saturating_sub(2).max(10));
    f.render_widget(Clear, r);
    let mut lines = vec![Line::styled(format!("keymap: {}   (Esc closes, j/k scroll)", app.keymap.name), t.style(Role::Muted))];
    for &a in Action::ALL {
        let keys: Vec<String> = app.keymap.keys_for(a).iter().map(|k| k.to_string()).collect();
        let desc = app.keymap.bindings.iter().find(|b| b.action == a).map(|b| b.desc.clone()).unwrap_or_default();
        let ro = a.is_operation() && app.readonly();
        lines.push(Line::from(vec![
            Span::styled(format!("{:<16}", keys.join(" ")), t.style(Role::Key)),
            Span::styled(format!("{:<14}", a.name()), t.style(Role::Muted)),
            Span::styled(
                if ro { format!("{desc} (disabled: read-only)") } else { desc },
                t.style(if ro { Role::Muted } else { Role::Text }),
            ),
        ]));
    }
    let p = Paragraph::new(lines).block(dialog_block(app, "Help: every key")).scroll((scroll as u16, 0));
    f.render_widget(p, r);
}
