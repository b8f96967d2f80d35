//! The fleet screen: one entry per cluster, problems first, each a flow of facts that wraps to the
//! terminal's width (two lines at 80 columns, one at 200), and the reason under any cluster that is
//! not healthy. What could not be seen says `?`.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::model::fleet::FleetRow;
use crate::model::source::fmt_age_ms;
use crate::model::{CephHealth, HealthLevel};
use crate::settings::theme::{Role, Theme};

/// What the fleet screen shows besides its rows.
#[derive(Debug, Clone, Default)]
pub struct FleetView {
    pub selected: usize,
    /// The first entry shown.
    pub scroll: usize,
    /// The `:` prompt while it is typed.
    pub prompt: Option<String>,
    /// A line for the footer (an unknown cluster named, ...).
    pub message: Option<String>,
}

fn health_role(h: HealthLevel) -> Role {
    match h {
        HealthLevel::Healthy => Role::Ok,
        HealthLevel::Degraded => Role::Warn,
        HealthLevel::Critical => Role::Critical,
        HealthLevel::Unknown | HealthLevel::Unreachable => Role::Unknown,
    }
}

/// The facts of one cluster as (text, role) pieces, in the order they are read.
fn pieces(r: &FleetRow) -> Vec<(String, Role)> {
    let q = |o: Option<String>| o.unwrap_or_else(|| "?".into());
    let mut v = vec![(format!("{:<9}", r.health.label()), health_role(r.health))];
    let answers = match r.vip_answers {
        Some(true) => " answers",
        Some(false) => " NOT ANSWERING",
        None => "",
    };
    let vip_role = if r.vip.starts_with("split") || r.vip == "none" || r.vip_answers == Some(false) {
        Role::Critical
    } else if r.vip == "?" {
        Role::Unknown
    } else {
        Role::Text
    };
    v.push((format!("VIP {}{answers}", r.vip), vip_role));
    let hap_role = match r.haproxy_up {
        Some((u, a)) if u < a => Role::Warn,
        Some(_) => Role::Text,
        None => Role::Unknown,
    };
    v.push((format!("haproxy {}", q(r.haproxy_up.map(|(u, a)| format!("{u}/{a} up")))), hap_role));
    let etcd_role = match r.etcd_can_lose {
        Some(n) if n < 0 => Role::Critical,
        Some(0) => Role::Warn,
        Some(_) => Role::Text,
        None => Role::Unknown,
    };
    v.push((format!("etcd {}", r.etcd), etcd_role));
    let lease_role = match r.leaders_renewing {
        Some(false) => Role::Critical,
        None => Role::Unknown,
        _ => Role::Text,
    };
    v.push((if r.leaders == "?" { "leaders ?".into() } else { r.leaders.clone() }, lease_role));
    let nr_role = match r.not_ready {
        Some(0) => Role::Text,
        Some(_) => Role::Warn,
        None => Role::Unknown,
    };
    v.push((format!("NotReady {}", q(r.not_ready.map(|n| n.to_string()))), nr_role));
    let cert_role = match r.cert_days {
        Some(d) if d < 7 => Role::Critical,
        Some(d) if d < 30 => Role::Warn,
        Some(_) => Role::Text,
        None => Role::Unknown,
    };
    v.push((format!("cert {}", q(r.cert_days.map(|d| format!("{d}d")))), cert_role));
    let ceph_role = match r.ceph {
        Some(CephHealth::Ok) => Role::Text,
        Some(CephHealth::Warn) => Role::Warn,
        Some(CephHealth::Err) => Role::Critical,
        None if r.ceph_unknown => Role::Unknown,
        None => Role::Muted,
    };
    let ceph = match r.ceph {
        Some(c) => c.label().trim_start_matches("HEALTH_").to_string(),
        None if r.ceph_unknown => "?".into(),
        None => "-".into(),
    };
    v.push((format!("ceph {ceph}"), ceph_role));
    let (alerts, alert_role) = match (r.alerts, &r.alerts_error) {
        (Some(0), _) => ("alerts 0".to_string(), Role::Text),
        (Some(n), _) => (format!("alerts {n}: {}", r.alert_names.join(",")), Role::Warn),
        (None, Some(_)) => ("alerts ?".into(), Role::Unknown),
        (None, None) => ("alerts -".into(), Role::Muted),
    };
    v.push((alerts, alert_role));
    v.push((format!("data {}", r.data_age_ms.map(fmt_age_ms).unwrap_or_else(|| "?".into())), Role::Muted));
    v
}

/// The lines of one cluster at `width`: its name, the facts flowed after it, and its reason.
pub fn entry_lines(r: &FleetRow, width: u16, selected: bool, theme: &Theme) -> Vec<Line<'static>> {
    let width = usize::from(width).max(20);
    let name_w = 14usize.min(width / 3);
    let mut name: String = r.cluster.chars().take(name_w).collect();
    name = format!("{}{name:<name_w$} ", if selected { "▸" } else { " " });
    let sel = if selected { theme.style(Role::Selection) } else { Style::default() };
    let mut lines = vec![];
    let mut cur: Vec<Span<'static>> = vec![Span::styled(name.clone(), sel.patch(theme.style(Role::Title)))];
    let mut used = name.chars().count();
    let indent = 2 + name_w;
    for (text, role) in pieces(r) {
        let len = text.chars().count();
        if used > indent && used + 2 + len > width {
            lines.push(Line::from(std::mem::take(&mut cur)));
            cur.push(Span::raw(" ".repeat(indent)));
            used = indent;
        } else if used > indent {
            cur.push(Span::raw("  "));
            used += 2;
        }
        // a piece wider than what is left of the line is cut with `…`
        let room = width.saturating_sub(used);
        let text: String = if text.chars().count() > room {
            format!("{}…", text.chars().take(room.saturating_sub(1)).collect::<String>())
        } else {
            text
        };
        used += text.chars().count();
        cur.push(Span::styled(text, theme.style(role)));
    }
    lines.push(Line::from(cur));
    if r.health != HealthLevel::Healthy {
        let room = width.saturating_sub(indent);
        // at most two lines, cut with `…`: the whole reason is on the cluster's own screen
        let reason = Line::from(Span::styled(r.reason.clone(), theme.style(health_role(r.health))));
        for l in crate::ui::wrap::wrap(reason, room.max(1), 2) {
            let mut spans = vec![Span::raw(" ".repeat(indent))];
            spans.extend(l.spans);
            lines.push(Line::from(spans));
        }
    }
    lines
}

/// The header's summary: how many clusters, how many in each bad state.
fn summary(rows: &[FleetRow]) -> String {
    let count = |h: HealthLevel| rows.iter().filter(|r| r.health == h).count();
    let mut parts = vec![format!("{} cluster(s)", rows.len())];
    for h in [HealthLevel::Critical, HealthLevel::Unreachable, HealthLevel::Unknown, HealthLevel::Degraded] {
        let n = count(h);
        if n > 0 {
            parts.push(format!("{n} {}", h.label().to_lowercase()));
        }
    }
    let firing: usize = rows.iter().filter_map(|r| r.alerts).sum();
    if firing > 0 {
        parts.push(format!("{firing} alert(s) firing"));
    }
    parts.join("  ")
}

/// Draw the fleet screen.
pub fn draw_fleet(f: &mut Frame, rows: &[FleetRow], view: &mut FleetView, theme: &Theme, now: DateTime<Utc>) {
    let area = f.area();
    draw_fleet_buf(f.buffer_mut(), area, rows, view, theme, now);
}

fn draw_fleet_buf(buf: &mut Buffer, area: Rect, rows: &[FleetRow], view: &mut FleetView, theme: &Theme, now: DateTime<Utc>) {
    use ratatui::widgets::Widget;
    Block::default().style(theme.style(Role::Text)).render(area, buf);
    if area.width < 40 || area.height < 6 {
        Paragraph::new(format!("kockpit needs at least 40x6 here (this terminal is {}x{}); q quits", area.width, area.height))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .render(area, buf);
        return;
    }
    let [header, body, footer] = Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let clock = now.with_timezone(&chrono::Local).format("%H:%M").to_string();
    let head = format!(" kockpit  fleet  {}", summary(rows));
    // the clock keeps its place; the summary is cut before it, with `…`
    let room = usize::from(header.width).saturating_sub(clock.len() + 2);
    let head = crate::ui::wrap::cut(Line::from(head), room).to_string();
    let pad = usize::from(header.width).saturating_sub(head.chars().count() + clock.len() + 1);
    Paragraph::new(format!("{head}{}{clock} ", " ".repeat(pad))).style(theme.style(Role::Header)).render(header, buf);
    let (inner_w, inner_h) = (body.width.saturating_sub(2), usize::from(body.height.saturating_sub(2)));
    view.selected = view.selected.min(rows.len().saturating_sub(1));
    // entries are whole: scroll so the selected one is on screen
    let heights: Vec<usize> = rows.iter().map(|r| entry_lines(r, inner_w, false, theme).len()).collect();
    view.scroll = view.scroll.min(view.selected);
    while view.scroll < view.selected && heights[view.scroll..=view.selected].iter().sum::<usize>() > inner_h {
        view.scroll += 1;
    }
    // which entries are on screen, when not all are
    let title = if rows.len() > 1 {
        let shown = fits_from(&heights, view.scroll, inner_h);
        if shown < rows.len() {
            format!(" Clusters, problems first  {}-{}/{} ", view.scroll + 1, view.scroll + shown, rows.len())
        } else {
            String::new()
        }
    } else {
        String::new()
    };
    let title = if title.is_empty() { " Clusters, problems first ".to_string() } else { title };
    let block = Block::default().borders(Borders::ALL).border_style(theme.style(Role::BorderFocus)).title(title);
    let inner = block.inner(body);
    block.render(body, buf);
    let mut lines: Vec<Line> = vec![];
    for (i, r) in rows.iter().enumerate().skip(view.scroll) {
        let e = entry_lines(r, inner.width, i == view.selected, theme);
        if lines.len() + e.len() > usize::from(inner.height) {
            // an entry taller than the whole list shows what fits of it rather than nothing
            if lines.is_empty() {
                lines.extend(e.into_iter().take(usize::from(inner.height)));
            }
            break;
        }
        lines.extend(e);
    }
    if rows.is_empty() {
        lines.push(Line::from("no clusters"));
    }
    Paragraph::new(lines).render(inner, buf);
    let foot = match (&view.prompt, &view.message) {
        (Some(p), _) => format!(":{p}"),
        (None, Some(m)) => format!(" {m}"),
        (None, None) => " ↑↓ select  Enter open  :ctx NAME  q quit  (Esc in a cluster: back here)".into(),
    };
    let foot = crate::ui::wrap::cut(Line::from(foot), usize::from(footer.width)).to_string();
    Paragraph::new(foot).style(theme.style(Role::Footer)).render(footer, buf);
}

/// How many whole entries of `heights` fit in `room` lines from entry `from` (at least one).
fn fits_from(heights: &[usize], from: usize, room: usize) -> usize {
    let mut used = 0;
    let mut n = 0;
    for h in &heights[from..] {
        if used + h > room {
            break;
        }
        used += h;
        n += 1;
    }
    n.max(1)
}

/// The fleet screen in a buffer of its own (a clock tick compares it with the last frame).
pub fn render_fleet_buffer(rows: &[FleetRow], view: &mut FleetView, theme: &Theme, width: u16, height: u16, now: DateTime<Utc>) -> Buffer {
    let area = Rect::new(0, 0, width, height);
    let mut buf = Buffer::empty(area);
    draw_fleet_buf(&mut buf, area, rows, view, theme, now);
    buf
}

/// The fleet screen as plain text (`kockpit render --all`).
pub fn render_fleet_text(rows: &[FleetRow], theme: &Theme, width: u16, height: u16, now: DateTime<Utc>) -> String {
    super::buffer_to_text(&render_fleet_buffer(rows, &mut FleetView::default(), theme, width, height, now))
}
