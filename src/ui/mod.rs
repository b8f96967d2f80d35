//! Drawing the one screen: header, panels, timeline strip, footer, dialogs.
//! Pure functions of the app state and the current time; nothing here does I/O.

mod chrome;
mod detail;
mod dialogs;
pub mod fleet;
pub mod fleetrun;
mod grid;
mod help;
pub mod panels;
pub mod run;
mod wrap;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::app::{App, Dialog};
use crate::model::PanelId;
use crate::settings::theme::Role;
use chrome::{draw_header, draw_panel};
use dialogs::{draw_confirm, draw_faults, draw_logs, draw_own_log, draw_progress, draw_quit_while_running};
pub use grid::{Wants, layout};
use help::{draw_footer, draw_help};

/// Draw the whole screen. Records the panel layout in the app for focus moves.
pub fn draw(f: &mut Frame, app: &mut App, now: DateTime<Utc>) {
    let area = f.area();
    let bg = Block::default().style(app.theme.style(Role::Text));
    f.render_widget(bg, area);
    app.view.too_small = area.width < 40 || area.height < 10;
    if app.view.too_small {
        let p = Paragraph::new(format!(
            "kockpit needs at least 40x10 (this terminal is {}x{}); keys wait until it is larger, q quits",
            area.width, area.height
        ))
        .wrap(Wrap { trim: true });
        f.render_widget(p, area);
        return;
    }
    let [header, body, footer] = Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    draw_header(f.buffer_mut(), header, app, now);
    let panes = layout(body, app.view.zoom, &wants(app, body.width, now));
    for (p, r) in &panes {
        draw_panel(f, app, *p, *r, now);
    }
    app.view.last_layout = panes;
    draw_footer(f.buffer_mut(), footer, app, now);
    match app.view.dialog.clone() {
        Dialog::None => {}
        Dialog::Help { scroll } => {
            let used = draw_help(f, app, body, scroll);
            app.view.dialog = Dialog::Help { scroll: used };
        }
        Dialog::Confirm(plan) => {
            let (end_seen, scroll) = draw_confirm(f, app, body, &plan, app.view.confirm_scroll);
            app.view.confirm_scroll = scroll;
            // once its end has been on screen, the plan has been seen (scrolling back keeps that)
            if end_seen {
                app.view.confirm_seen = Some(plan);
            }
        }
        Dialog::Progress => draw_progress(f, app, body),
        Dialog::QuitWhileRunning => draw_quit_while_running(f, app, body),
        Dialog::Faults { selected } => draw_faults(f, app, body, selected),
        Dialog::OwnLog => draw_own_log(f, app, body),
        Dialog::Logs => draw_logs(f, app, body),
        Dialog::Detail { item, scroll } => {
            // the view ends where its text ends: the position is kept within it (after a resize too)
            let used = detail::draw_detail(f, app, body, &item, scroll, now);
            app.view.dialog = Dialog::Detail { item, scroll: used };
        }
    }
}

/// What each panel would show, unfiltered and unscrolled, in lines with its borders: the layout's
/// measure of content (only the row lists are built; no row is formatted).
fn wants(app: &App, width: u16, now: DateTime<Utc>) -> Wants {
    let mut w = Wants::default();
    let m = &app.model;
    for p in PanelId::ALL {
        // the long lists are counted, not built (a frame of a changing 5,000-node cluster)
        let counted = match p {
            _ if m.plan.is_kubeconfig_only() => None,
            PanelId::Certs => Some(m.certs.values().map(|s| s.data.as_ref().map_or(0, Vec::len)).sum::<usize>()),
            PanelId::Nodes => m.nodes.data.as_ref().map(|n| n.len() + 1),
            PanelId::Platform => Some(m.workloads.data.as_ref().map_or(0, Vec::len)),
            PanelId::Timeline => Some(m.timeline.len()),
            _ => None,
        };
        let lines = match counted {
            Some(n) => n,
            None => {
                let ctx = panels::Ctx {
                    model: m,
                    theme: &app.theme,
                    health: &app.assessment,
                    now,
                    width: width / 3,
                    tz: app.tz,
                    zoomed: false,
                    one_line: false,
                    sort: app.view.sort_of(p),
                    focused: false,
                };
                let c = panels::content(&ctx, p, "", 0, 0);
                usize::from(c.header.is_some()) + c.total
            }
        };
        w.set(p, 2 + 1 + lines);
    }
    w
}

/// Render the screen into plain text (for `kockpit render`, audits and tests).
pub fn render_text(app: &mut App, width: u16, height: u16, now: DateTime<Utc>) -> String {
    let buf = render_buffer(app, width, height, now);
    buffer_to_text(&buf)
}

pub fn render_buffer(app: &mut App, width: u16, height: u16, now: DateTime<Utc>) -> Buffer {
    let backend = ratatui::backend::TestBackend::new(width, height);
    let mut term = ratatui::Terminal::new(backend).expect("test backend");
    let now = app.refresh(now);
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
            // a no-break space keeps words together on screen; in text it is a space (to grep for)
            if sym == "\u{a0}" {
                line.push(' ')
            } else {
                line.push_str(sym)
            }
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
