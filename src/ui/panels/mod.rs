//! What each panel shows, one file per panel. Every function here is pure: model in, lines out. Only
//! the visible window of long lists is formatted, so a 5,000-node cluster costs what a screenful costs.

mod ceph;
mod certs;
mod etcd;
mod haconf;
mod haproxy;
mod hosts;
mod leases;
mod nodes;
mod noplan;
mod platform;
mod timeline;
mod vip;

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::Line;

use crate::model::{Assessment, Model, PanelId, ServerStatus, Severity};
use crate::settings::theme::{Role, Theme};

pub struct Ctx<'a> {
    pub model: &'a Model,
    pub theme: &'a Theme,
    pub health: &'a Assessment,
    pub now: DateTime<Utc>,
    pub width: u16,
    /// The clock's time zone (local by default; fixed in tests).
    pub tz: chrono::FixedOffset,
    /// The panel fills the screen (`z`): room for what it only shows then (the HA configuration).
    pub zoomed: bool,
    /// The panel is one line under its name (a screen too low for borders): its summary leaves out
    /// what the name says.
    pub one_line: bool,
    /// The order the panel's rows are in ([`crate::model::rows::sort_orders`]; 0: its own).
    pub sort: usize,
    /// The panel has the focus (its selection is shown).
    pub focused: bool,
}

impl Ctx<'_> {
    pub fn s(&self, r: Role) -> Style {
        self.theme.style(r)
    }
    pub fn sev(&self, s: Severity) -> Style {
        self.theme.style(sev_role(s))
    }
}

pub fn sev_role(s: Severity) -> Role {
    match s {
        Severity::Ok => Role::Ok,
        Severity::Info => Role::Text,
        Severity::Warn => Role::Warn,
        Severity::Unknown => Role::Unknown,
        Severity::Critical => Role::Critical,
    }
}

/// What a panel with nothing to show says: that it waits for its source's first answer, or, once
/// its source failed without ever answering, that what it shows is unknown, and why (its border
/// says so too, cut to its width).
pub(super) fn no_data(ctx: &Ctx, panel: PanelId) -> Line<'static> {
    use crate::model::source::Freshness;
    if panel == PanelId::Ceph && ctx.model.plan.ceph.is_none() && ctx.model.ceph.unheard() && ctx.model.rook.unheard() {
        let text = "Ceph not watched: no [ceph] in the host plan, and no Rook CephCluster seen through the API";
        return Line::styled(text, ctx.s(Role::Muted));
    }
    match ctx.model.panel_freshness(panel, ctx.now).0 {
        Freshness::Failed { reason, .. } => Line::styled(format!("unknown: {reason}"), ctx.s(Role::Unknown)),
        _ => Line::styled("no data yet", ctx.s(Role::Muted)),
    }
}

/// A panel's content for one frame.
pub struct Content {
    /// Always shown first: the panel in one line.
    pub summary: Line<'static>,
    pub header: Option<Line<'static>>,
    /// The visible rows (already windowed).
    pub rows: Vec<Line<'static>>,
    /// Index of the first visible row among all rows.
    pub offset: usize,
    pub total: usize,
}

/// A column of `w` characters whose last one stays blank: a value cut to fit (`cp+etc…`) keeps its gap
/// to the next column instead of running into it (`cp+etcd…-`).
pub(super) fn col(s: &str, w: usize) -> String {
    if w < 2 {
        return pad(s, w);
    }
    let mut t = pad(s, w - 1);
    t.push(' ');
    t
}

pub(super) fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n >= w {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        if w > 0 {
            t.push(if n > w { '…' } else { s.chars().nth(w - 1).unwrap_or(' ') });
        }
        t
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

/// `s` in exactly `w` columns: cut in the middle with `…` when longer (a namespace's or name's both ends
/// tell it apart: `kubesphere-…-system`), padded when shorter.
pub(crate) fn pad_mid(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w || w < 5 {
        return pad(s, w);
    }
    let head = (w - 1).div_ceil(2);
    let tail = w - 1 - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// Choose the window of rows so that `selected` is visible.
pub fn window(total: usize, selected: usize, height: usize) -> (usize, usize) {
    if height == 0 || total == 0 {
        return (0, 0);
    }
    let sel = selected.min(total - 1);
    let offset = if sel >= height { sel + 1 - height } else { 0 };
    (offset, (offset + height).min(total))
}

pub fn content(ctx: &Ctx, p: PanelId, filter: &str, selected: usize, height: usize) -> Content {
    if ctx.model.plan.is_kubeconfig_only()
        && let Some(c) = noplan::content(ctx, p, filter, selected, height)
    {
        return c;
    }
    match p {
        PanelId::Hosts => hosts::hosts(ctx, filter, selected, height),
        PanelId::Vip => vip::vip(ctx, selected, height),
        PanelId::Haproxy => haproxy::haproxy(ctx, filter, selected, height),
        PanelId::Etcd => etcd::etcd(ctx, selected, height),
        PanelId::Leases => leases::leases(ctx, filter, selected, height),
        PanelId::Certs => certs::certs(ctx, filter, selected, height),
        PanelId::Ceph => ceph::ceph(ctx, selected, height),
        PanelId::Nodes => nodes::nodes(ctx, filter, selected, height),
        PanelId::Platform => platform::platform(ctx, filter, selected, height),
        PanelId::Timeline => timeline::timeline(ctx, filter, selected, height),
    }
}

pub(super) fn uptime(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s => format!("{}m", s / 60),
    }
}

pub(super) fn status_role(s: ServerStatus) -> Role {
    match s {
        ServerStatus::Up | ServerStatus::NoCheck => Role::Ok,
        ServerStatus::GoingDown | ServerStatus::GoingUp | ServerStatus::Drain | ServerStatus::Maint => Role::Warn,
        ServerStatus::Down => Role::Critical,
        ServerStatus::Unknown => Role::Unknown,
    }
}

pub(super) fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else if v >= 100.0 {
        format!("{v:.0}{}", U[i])
    } else {
        format!("{v:.1}{}", U[i])
    }
}
