//! What each panel shows. Every function here is pure: model in, lines out. Only the visible window of
//! long lists is formatted, so a 5,000-node cluster costs what a screenful costs.

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::inventory::LbTopology;
use crate::model::health::{host_drift, short_kernel};
use crate::model::source::{fmt_age_coarse, fmt_age_ms};
use crate::model::{Assessment, CephHealth, LeaseKind, Model, PanelId, ServerStatus, Severity, VrrpState};
use crate::ui::theme::{Role, Theme};

pub struct Ctx<'a> {
    pub model: &'a Model,
    pub theme: &'a Theme,
    pub health: &'a Assessment,
    pub now: DateTime<Utc>,
    pub width: u16,
    /// The clock's time zone (local by default; fixed in tests).
    pub tz: chrono::FixedOffset,
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
        Severity::Critical => Role::Critical,
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

fn matches(filter: &str, hay: &str) -> bool {
    filter.is_empty() || hay.to_lowercase().contains(&filter.to_lowercase())
}

fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n >= w {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        if w > 0 {
            t.push(if n > w { '~' } else { s.chars().nth(w - 1).unwrap_or(' ') });
        }
        t
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
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

// ---------------------------------------------------------------- row sources (shared with the app)

/// Host names in display order (plan order), filtered.
pub fn hosts_rows(m: &Model, filter: &str) -> Vec<String> {
    m.plan
        .hosts
        .iter()
        .filter(|h| matches(filter, &format!("{} {} {}", h.name, h.address, h.roles.label())))
        .map(|h| h.name.clone())
        .collect()
}

/// Indexes into the node list, filtered.
pub fn node_rows(m: &Model, filter: &str) -> Vec<usize> {
    let Some(nodes) = &m.nodes.data else { return vec![] };
    if filter.is_empty() {
        return (0..nodes.len()).collect();
    }
    let f = filter.to_lowercase();
    nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            n.name.to_lowercase().contains(&f)
                || n.roles.iter().any(|r| r.contains(&f))
                || (f == "notready" && n.ready != Some(true))
                || (f.starts_with("cordon") && n.unschedulable)
        })
        .map(|(i, _)| i)
        .collect()
}

struct HapRow {
    lb: String,
    server: Option<crate::model::BackendServer>,
    error: Option<String>,
}

fn haproxy_rows(m: &Model, filter: &str) -> Vec<HapRow> {
    let mut out = vec![];
    for (lb, s) in &m.haproxy {
        match (&s.data, &s.error) {
            (_, Some(e)) if s.data.is_none() => out.push(HapRow { lb: lb.clone(), server: None, error: Some(e.reason.clone()) }),
            (Some(v), _) => {
                for b in v {
                    if matches(filter, &format!("{lb} {} {} {}", b.server, b.status_text, b.backend)) {
                        out.push(HapRow { lb: lb.clone(), server: Some(b.clone()), error: None });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn cert_rows(m: &Model, filter: &str, now: DateTime<Utc>) -> Vec<(String, crate::model::CertInfo)> {
    let mut out: Vec<(String, crate::model::CertInfo)> = m
        .certs
        .iter()
        .flat_map(|(h, s)| s.data.iter().flatten().map(move |c| (h.clone(), c.clone())))
        .filter(|(h, c)| matches(filter, &format!("{h} {}", c.name)))
        .collect();
    out.sort_by_key(|(h, c)| (c.days_left(now), h.clone()));
    out
}

fn lease_rows(m: &Model, filter: &str) -> Vec<usize> {
    let Some(ls) = &m.leases.data else { return vec![] };
    ls.iter()
        .enumerate()
        .filter(|(_, l)| {
            l.kind == LeaseKind::LeaderElection && matches(filter, &format!("{} {}", l.name, l.holder.as_deref().unwrap_or("")))
        })
        .map(|(i, _)| i)
        .collect()
}

fn timeline_rows(m: &Model, filter: &str) -> Vec<usize> {
    let n = m.timeline.len();
    m.timeline.newest().enumerate().filter(|(_, e)| matches(filter, &e.text)).map(|(i, _)| n - 1 - i).collect()
}

/// Workloads, not-ready ones first (a short panel then shows what matters).
fn workload_rows(m: &Model, filter: &str) -> Vec<usize> {
    let Some(ws) = &m.workloads.data else { return vec![] };
    let mut idx: Vec<usize> =
        (0..ws.len()).filter(|&i| matches(filter, &format!("{} {} {}", ws[i].namespace, ws[i].name, ws[i].kind.short()))).collect();
    idx.sort_by_key(|&i| (ws[i].is_ready(), ws[i].namespace.clone(), ws[i].name.clone()));
    idx
}

/// How many selectable rows a panel has (for moving the selection).
pub fn row_count(m: &Model, p: PanelId, filter: &str) -> usize {
    match p {
        PanelId::Hosts => hosts_rows(m, filter).len(),
        PanelId::Vip => m.vrrp.len(),
        PanelId::Haproxy => haproxy_rows(m, filter).len(),
        PanelId::Etcd => m.etcd.data.as_ref().map(|e| e.members.len()).unwrap_or(0),
        PanelId::Leases => lease_rows(m, filter).len(),
        PanelId::Certs => cert_rows(m, filter, Utc::now()).len(),
        PanelId::Ceph => m.ceph_view().map(|c| c.checks.len()).unwrap_or(0),
        PanelId::Nodes => node_rows(m, filter).len(),
        PanelId::Platform => workload_rows(m, filter).len(),
        PanelId::Timeline => timeline_rows(m, filter).len(),
    }
}

// ---------------------------------------------------------------- the panels

pub fn content(ctx: &Ctx, p: PanelId, filter: &str, selected: usize, height: usize) -> Content {
    match p {
        PanelId::Hosts => hosts(ctx, filter, selected, height),
        PanelId::Vip => vip(ctx, selected, height),
        PanelId::Haproxy => haproxy(ctx, filter, selected, height),
        PanelId::Etcd => etcd(ctx, selected, height),
        PanelId::Leases => leases(ctx, filter, selected, height),
        PanelId::Certs => certs(ctx, filter, selected, height),
        PanelId::Ceph => ceph(ctx, selected, height),
        PanelId::Nodes => nodes(ctx, filter, selected, height),
        PanelId::Platform => platform(ctx, filter, selected, height),
        PanelId::Timeline => timeline(ctx, filter, selected, height),
    }
}

fn uptime(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s => format!("{}m", s / 60),
    }
}

fn hosts(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
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
    let mut parts = vec![Span::styled(format!("{} hosts", m.plan.hosts.len()), ctx.s(Role::Text))];
    if unreachable.is_empty() {
        parts.push(Span::styled("  all reachable", ctx.s(Role::Muted)));
    } else {
        parts.push(Span::styled(format!("  unreachable: {}", unreachable.join(" ")), ctx.s(Role::Critical)));
    }
    if drifted.is_empty() {
        parts.push(Span::styled("  as planned", ctx.s(Role::Muted)));
    } else {
        parts.push(Span::styled(format!("  differ from plan: {}", drifted.join(" ")), ctx.s(Role::Warn)));
    }
    let summary = Line::from(parts);
    let wide = ctx.width >= 70;
    let header = Line::styled(
        if wide { "NAME       ROLE     PLAN          KERNEL   UP   LOAD  STATE" } else { "NAME     ROLE   KERNEL  STATE" },
        ctx.s(Role::Muted),
    );
    let (a, b) = window(names.len(), selected, height);
    let rows = names[a..b]
        .iter()
        .map(|name| {
            let h = m.plan.host(name).expect("host from plan");
            let src = m.hosts.get(name);
            let facts = src.and_then(|s| s.data.as_ref());
            let (sev, state) = match (src.and_then(|s| s.error.as_ref()), facts) {
                (Some(e), _) => (Severity::Critical, format!("unreachable: {}", e.reason)),
                (None, Some(f)) => {
                    let d = host_drift(h, f);
                    let worst = d.iter().map(|(s, _)| *s).max().unwrap_or(Severity::Ok);
                    let text =
                        if d.is_empty() { "ok".to_string() } else { d.iter().map(|(_, t)| format!("{t}!")).collect::<Vec<_>>().join(" ") };
                    (worst, text)
                }
                (None, None) => (Severity::Info, "waiting".into()),
            };
            let kernel = facts.map(|f| short_kernel(&f.kernel).to_string()).unwrap_or_else(|| "-".into());
            let size = h.size.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
            let mut spans = vec![Span::styled(pad(&h.name, if wide { 11 } else { 9 }), ctx.s(Role::Text))];
            spans.push(Span::styled(pad(&h.roles.label(), if wide { 9 } else { 7 }), ctx.s(Role::Muted)));
            if wide {
                spans.push(Span::styled(pad(&size, 14), ctx.s(Role::Text)));
            }
            spans.push(Span::styled(
                pad(&kernel, if wide { 9 } else { 8 }),
                ctx.s(if kernel.starts_with("3.") { Role::Warn } else { Role::Text }),
            ));
            if wide {
                spans.push(Span::styled(pad(&facts.map(|f| uptime(f.uptime_secs)).unwrap_or_else(|| "-".into()), 5), ctx.s(Role::Text)));
                spans
                    .push(Span::styled(pad(&facts.map(|f| format!("{:.1}", f.load1)).unwrap_or_else(|| "-".into()), 6), ctx.s(Role::Text)));
            }
            spans.push(Span::styled(state, ctx.sev(sev)));
            Line::from(spans)
        })
        .collect();
    Content { summary, header: Some(header), rows, offset: a, total: names.len() }
}

fn vip(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let holders = m.vip_holders();
    let vip = m.plan.vip.as_ref().map(|v| format!("{}:{}", v.address, v.port)).unwrap_or_else(|| "(no VIP)".into());
    let summary = match m.plan.topology.load_balancer {
        LbTopology::LocalProxy => Line::styled("local proxy on every node: no VIP", ctx.s(Role::Muted)),
        _ if m.vrrp.is_empty() => Line::styled(format!("VIP {vip}: waiting for keepalived"), ctx.s(Role::Muted)),
        _ => match holders.len() {
            0 => Line::styled(format!("VIP {vip} NOT HELD by any LB"), ctx.s(Role::Critical)),
            1 => Line::from(vec![
                Span::styled(format!("VIP {vip} on "), ctx.s(Role::Text)),
                Span::styled(holders[0].clone(), ctx.s(Role::Accent)),
            ]),
            _ => Line::styled(format!("SPLIT BRAIN: VIP on {}", holders.join(" + ")), ctx.s(Role::Critical)),
        },
    };
    let mut all: Vec<Line<'static>> = m
        .vrrp
        .iter()
        .map(|(lb, s)| {
            if let Some(e) = &s.error {
                return Line::styled(format!("{lb}: {}", e.reason), ctx.s(Role::Critical));
            }
            let Some(v) = &s.data else { return Line::styled(format!("{lb}: waiting"), ctx.s(Role::Muted)) };
            let role = match v.state {
                VrrpState::Master if holders.len() > 1 => Role::Critical,
                VrrpState::Master => Role::Ok,
                VrrpState::Backup => Role::Text,
                _ => Role::Warn,
            };
            let prio = if v.effective_priority != v.priority {
                format!("prio {}->{}", v.priority, v.effective_priority)
            } else {
                format!("prio {}", v.priority)
            };
            let since = v.last_transition.map(|t| format!(" {}", fmt_age_ms((ctx.now - t).num_milliseconds()))).unwrap_or_default();
            Line::from(vec![
                Span::styled(pad(lb, 7), ctx.s(Role::Text)),
                Span::styled(pad(v.state.label(), 8), ctx.s(role)),
                Span::styled(pad(&prio, 13), ctx.s(if v.effective_priority < v.priority { Role::Warn } else { Role::Muted })),
                Span::styled(if v.holds_vip { "VIP".to_string() } else { "   ".into() }, ctx.s(Role::Accent)),
                Span::styled(since, ctx.s(Role::Muted)),
            ])
        })
        .collect();
    let total_lbs = all.len();
    match (&m.vip_probe.data, &m.vip_probe.error) {
        (_, Some(e)) => all.push(Line::styled(format!("probe: {}", e.reason), ctx.s(Role::Critical))),
        (Some(p), None) => all.push(Line::styled(format!("probe: {} answers ({:.1}ms)", p.address, p.connect_ms), ctx.s(Role::Muted))),
        _ => {}
    }
    let (a, b) = window(all.len(), selected, height);
    Content { summary, header: None, rows: all[a..b].to_vec(), offset: a, total: total_lbs }
}

fn status_role(s: ServerStatus) -> Role {
    match s {
        ServerStatus::Up | ServerStatus::NoCheck => Role::Ok,
        ServerStatus::GoingDown | ServerStatus::GoingUp | ServerStatus::Drain | ServerStatus::Maint => Role::Warn,
        ServerStatus::Down => Role::Critical,
        ServerStatus::Unknown => Role::Unknown,
    }
}

fn haproxy(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let mut summary = vec![];
    for (lb, s) in &m.haproxy {
        if s.error.is_some() {
            summary.push(Span::styled(format!("{lb}: failing  "), ctx.s(Role::Critical)));
            continue;
        }
        let Some(v) = &s.data else { continue };
        let up = v.iter().filter(|b| b.status.is_serving()).count();
        let role = if up == v.len() {
            Role::Ok
        } else if up == 0 {
            Role::Critical
        } else {
            Role::Warn
        };
        let down: Vec<&str> = v.iter().filter(|b| !b.status.is_serving()).map(|b| b.server.as_str()).collect();
        let detail = if down.is_empty() { String::new() } else { format!(" (down: {})", down.join(",")) };
        summary.push(Span::styled(format!("{lb} {up}/{} up{detail}  ", v.len()), ctx.s(role)));
    }
    let readyz_bad: Vec<String> =
        m.readyz.iter().filter(|(_, s)| s.error.is_some() || s.data.as_ref().is_some_and(|r| !r.ok)).map(|(k, _)| k.clone()).collect();
    if !m.readyz.is_empty() {
        if readyz_bad.is_empty() {
            summary.push(Span::styled("readyz ok", ctx.s(Role::Muted)));
        } else {
            summary.push(Span::styled(format!("readyz bad: {}", readyz_bad.join(",")), ctx.s(Role::Warn)));
        }
    }
    let rows_all = haproxy_rows(m, filter);
    if rows_all.len() > height && height > 0 {
        return haproxy_compact(ctx, Line::from(summary), filter, height);
    }
    let wide = ctx.width >= 60;
    let header = Line::styled(
        if wide { "LB      SERVER    STATUS    CHECK   LAST  SESS  DIRECT" } else { "LB     SERVER   STATUS" },
        ctx.s(Role::Muted),
    );
    let (a, b) = window(rows_all.len(), selected, height);
    let rows = rows_all[a..b]
        .iter()
        .map(|r| {
            let Some(bk) = &r.server else {
                return Line::styled(format!("{}: {}", r.lb, r.error.as_deref().unwrap_or("")), ctx.s(Role::Critical));
            };
            let mut spans = vec![
                Span::styled(pad(&r.lb, if wide { 8 } else { 7 }), ctx.s(Role::Muted)),
                Span::styled(pad(&bk.server, if wide { 10 } else { 9 }), ctx.s(Role::Text)),
                Span::styled(pad(&bk.status_text, 10), ctx.s(status_role(bk.status))),
            ];
            if wide {
                spans.push(Span::styled(pad(bk.check_status.as_deref().unwrap_or("-"), 8), ctx.s(Role::Muted)));
                spans.push(Span::styled(
                    pad(&bk.last_change_secs.map(|s| fmt_age_ms(s as i64 * 1000)).unwrap_or_else(|| "-".into()), 6),
                    ctx.s(Role::Muted),
                ));
                spans.push(Span::styled(pad(&bk.sessions.to_string(), 6), ctx.s(Role::Text)));
                let direct = match m.readyz.get(&bk.server) {
                    Some(s) => match (&s.data, &s.error) {
                        (_, Some(e)) => Span::styled(e.reason.clone(), ctx.s(Role::Critical)),
                        (Some(rz), None) if rz.ok => Span::styled("ok", ctx.s(Role::Ok)),
                        (Some(rz), None) => Span::styled(format!("{} {}", rz.status, rz.detail), ctx.s(Role::Warn)),
                        _ => Span::styled("-", ctx.s(Role::Muted)),
                    },
                    None => Span::styled("-", ctx.s(Role::Muted)),
                };
                spans.push(direct);
            }
            Line::from(spans)
        })
        .collect();
    Content { summary: Line::from(summary), header: Some(header), rows, offset: a, total: rows_all.len() }
}

/// One line per load balancer when the panel is too short for a row per server.
fn haproxy_compact(ctx: &Ctx, summary: Line<'static>, filter: &str, height: usize) -> Content {
    let m = ctx.model;
    let mut lines = vec![];
    for (lb, s) in &m.haproxy {
        if let (Some(e), None) = (&s.error, &s.data) {
            lines.push(Line::styled(format!("{lb}: {}", e.reason), ctx.s(Role::Critical)));
            continue;
        }
        let Some(v) = &s.data else { continue };
        let mut spans = vec![Span::styled(format!("{lb}:"), ctx.s(if s.error.is_some() { Role::Critical } else { Role::Muted }))];
        for b in v.iter().filter(|b| matches(filter, &format!("{lb} {} {}", b.server, b.status_text))) {
            spans.push(Span::styled(format!(" {} ", b.server), ctx.s(Role::Text)));
            spans.push(Span::styled(b.status_text.clone(), ctx.s(status_role(b.status))));
        }
        lines.push(Line::from(spans));
    }
    let bad: Vec<String> = m
        .readyz
        .iter()
        .filter_map(|(k, s)| match (&s.data, &s.error) {
            (_, Some(e)) => Some(format!("{k} {}", e.reason)),
            (Some(r), None) if !r.ok => Some(format!("{k} {}", r.status)),
            _ => None,
        })
        .collect();
    if !m.readyz.is_empty() {
        let (text, role) = if bad.is_empty() {
            ("direct /readyz: all ok".to_string(), Role::Muted)
        } else {
            (format!("direct /readyz: {}", bad.join(", ")), Role::Warn)
        };
        lines.push(Line::styled(text, ctx.s(role)));
    }
    let total = lines.len();
    lines.truncate(height);
    Content { summary, header: None, rows: lines, offset: 0, total }
}

fn bytes(n: u64) -> String {
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

fn etcd(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(e) = &m.etcd.data else {
        return Content { summary: Line::styled("no data yet", ctx.s(Role::Muted)), header: None, rows: vec![], offset: 0, total: 0 };
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
        Some(l) => summary.push(Span::styled(format!("  leader {}", l.name), ctx.s(Role::Muted))),
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
    let header = Line::styled("MEMBER    ROLE      TERM  INDEX      LAG  DB/IN USE    VERSION", ctx.s(Role::Muted));
    let (a, b) = window(e.members.len(), selected, height);
    let rows = e.members[a..b]
        .iter()
        .map(|mem| {
            if !mem.reachable {
                return Line::from(vec![
                    Span::styled(pad(&mem.name, 10), ctx.s(Role::Text)),
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
            Line::from(vec![
                Span::styled(pad(&mem.name, 10), ctx.s(Role::Text)),
                Span::styled(pad(role, 10), ctx.s(if mem.is_leader { Role::Accent } else { Role::Text })),
                Span::styled(pad(&mem.raft_term.to_string(), 6), ctx.s(Role::Muted)),
                Span::styled(pad(&mem.raft_index.to_string(), 11), ctx.s(Role::Text)),
                Span::styled(pad(&mem.apply_lag().to_string(), 5), ctx.s(if mem.apply_lag() > 1000 { Role::Warn } else { Role::Muted })),
                Span::styled(pad(&format!("{}/{}", bytes(mem.db_size), bytes(mem.db_size_in_use)), 13), ctx.s(Role::Text)),
                Span::styled(mem.version.clone(), ctx.s(Role::Muted)),
            ])
        })
        .collect();
    Content { summary: Line::from(summary), header: Some(header), rows, offset: a, total: e.members.len() }
}

fn leases(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(ls) = &m.leases.data else {
        return Content { summary: Line::styled("no data yet", ctx.s(Role::Muted)), header: None, rows: vec![], offset: 0, total: 0 };
    };
    let node_leases: Vec<_> = ls.iter().filter(|l| l.kind == LeaseKind::NodeHeartbeat).collect();
    let expired = node_leases.iter().filter(|l| l.expired(ctx.now)).count();
    let summary = Line::styled(
        format!("node heartbeats: {} leases, {expired} expired", node_leases.len()),
        ctx.s(if expired > 0 { Role::Warn } else { Role::Muted }),
    );
    let idx = lease_rows(m, filter);
    let (a, b) = window(idx.len(), selected, height);
    let rows = idx[a..b]
        .iter()
        .map(|&i| {
            let l = &ls[i];
            let short = l.name.trim_start_matches("kube-").replace("controller-manager", "ctrl-mgr");
            let age = l.renew_time.map(|t| fmt_age_coarse((ctx.now - t).num_milliseconds())).unwrap_or_else(|| "never".into());
            let bad = l.expired(ctx.now);
            Line::from(vec![
                Span::styled(pad(&short, 11), ctx.s(Role::Text)),
                Span::styled(pad(l.holder_host().unwrap_or("-"), 9), ctx.s(Role::Accent)),
                Span::styled(pad(&format!("renew {age}"), 12), ctx.s(if bad { Role::Critical } else { Role::Muted })),
                Span::styled(format!("dur {}s tr {}", l.duration_secs, l.transitions), ctx.s(Role::Muted)),
                Span::styled(if bad { "  STOPPED RENEWING".to_string() } else { String::new() }, ctx.s(Role::Critical)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: idx.len() }
}

fn certs(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let rows_all = cert_rows(ctx.model, filter, ctx.now);
    let summary = match rows_all.first() {
        None => Line::styled("no data yet", ctx.s(Role::Muted)),
        Some((h, c)) => {
            let d = c.days_left(ctx.now);
            let role = if d < 7 {
                Role::Critical
            } else if d < 30 {
                Role::Warn
            } else {
                Role::Ok
            };
            Line::styled(format!("{} certs, soonest {d}d: {h} {}", rows_all.len(), c.name), ctx.s(role))
        }
    };
    let (a, b) = window(rows_all.len(), selected, height);
    let rows = rows_all[a..b]
        .iter()
        .map(|(h, c)| {
            let d = c.days_left(ctx.now);
            let role = if d < 7 {
                Role::Critical
            } else if d < 30 {
                Role::Warn
            } else {
                Role::Text
            };
            let name_w = if ctx.width >= 60 { 26 } else { 18 };
            Line::from(vec![
                Span::styled(pad(h, 9), ctx.s(Role::Muted)),
                Span::styled(pad(&c.name, name_w), ctx.s(Role::Text)),
                Span::styled(pad(&format!("{d}d"), 6), ctx.s(role)),
                Span::styled(c.not_after.format("%Y-%m-%d").to_string(), ctx.s(Role::Muted)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: rows_all.len() }
}

fn ceph(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(shown) = m.ceph_shown() else {
        return Content { summary: Line::styled("no data yet", ctx.s(Role::Muted)), header: None, rows: vec![], offset: 0, total: 0 };
    };
    let c = shown.data.as_ref().expect("a shown slot has data");
    let age = |u: Option<DateTime<Utc>>| u.map(|t| fmt_age_coarse((ctx.now - t).num_milliseconds())).unwrap_or_else(|| "-".into());
    let role = match c.health {
        CephHealth::Ok => Role::Ok,
        CephHealth::Warn => Role::Warn,
        CephHealth::Err => Role::Critical,
    };
    let codes: Vec<String> = c.checks.iter().map(|k| k.code.clone()).collect();
    let summary = Line::from(vec![
        Span::styled(c.health.label().to_string(), ctx.s(role)),
        Span::styled(format!("  {}", codes.join(" ")), ctx.s(Role::Text)),
    ]);
    let mut lines = vec![];
    // Two sources: say which one is shown and whether the other agrees.
    if std::ptr::eq(shown, &m.rook)
        && let Some(e) = &m.ceph.error
    {
        lines.push(Line::styled(
            format!("ceph CLI failing: {}; showing Rook's view, checked {} ago", e.reason, age(m.rook.updated)),
            ctx.s(Role::Warn),
        ));
    }
    let osd_role = if c.osds_up < c.osds { Role::Warn } else { Role::Text };
    lines.push(Line::from(vec![
        Span::styled(
            format!("mons {}/{}  ", c.mons_in_quorum, c.mons),
            ctx.s(if c.mons_in_quorum < c.mons { Role::Warn } else { Role::Text }),
        ),
        Span::styled(format!("osd {}/{} up {}/{} in", c.osds_up, c.osds, c.osds_in, c.osds), ctx.s(osd_role)),
    ]));
    let clean = c.pgs_clean();
    let total = c.pgs_total();
    lines.push(Line::styled(
        format!("pgs {clean}/{total} active+clean{}", if clean < total { format!(", {} not clean", total - clean) } else { String::new() }),
        ctx.s(if clean < total { Role::Warn } else { Role::Text }),
    ));
    let pct = crate::model::pct(c.bytes_used, c.bytes_total);
    lines.push(Line::styled(
        format!("used {} / {} ({pct}%)", bytes(c.bytes_used), bytes(c.bytes_total)),
        ctx.s(if pct >= 80 { Role::Warn } else { Role::Text }),
    ));
    if !c.flags.is_empty() {
        lines.push(Line::styled(format!("flags: {}", c.flags.join(",")), ctx.s(Role::Warn)));
    }
    for k in &c.checks {
        let r = if k.severity == CephHealth::Err { Role::Critical } else { Role::Warn };
        lines.push(Line::styled(format!("{}: {}", k.code, k.summary), ctx.s(r)));
    }
    if let Some(r) = m.rook.data.as_ref().filter(|_| !std::ptr::eq(shown, &m.rook)) {
        let agrees = r.health == c.health;
        lines.push(Line::styled(
            format!("Rook: {}, checked {} ago{}", r.health.label(), age(m.rook.updated), if agrees { "" } else { " (differs)" }),
            ctx.s(if agrees { Role::Muted } else { Role::Warn }),
        ));
    }
    let (a, b) = window(lines.len(), selected, height);
    let total_rows = lines.len();
    Content { summary, header: None, rows: lines[a..b].to_vec(), offset: a, total: total_rows }
}

fn nodes(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(ns) = &m.nodes.data else {
        return Content { summary: Line::styled("no data yet", ctx.s(Role::Muted)), header: None, rows: vec![], offset: 0, total: 0 };
    };
    let ready = ns.iter().filter(|n| n.ready == Some(true)).count();
    let cordoned = ns.iter().filter(|n| n.unschedulable).count();
    let pods: u64 = ns.iter().map(|n| u64::from(n.pods)).sum();
    let names = |it: &mut dyn Iterator<Item = &crate::model::Node>| -> String {
        let v: Vec<&str> = it.take(4).map(|n| n.name.as_str()).collect();
        v.join(",")
    };
    let mut parts = vec![
        Span::styled(format!("{} nodes  ", ns.len()), ctx.s(Role::Text)),
        Span::styled(format!("{ready} Ready  "), ctx.s(if ready < ns.len() { Role::Warn } else { Role::Ok })),
    ];
    if ready < ns.len() {
        parts
            .push(Span::styled(format!("not ready: {}  ", names(&mut ns.iter().filter(|n| n.ready != Some(true)))), ctx.s(Role::Critical)));
    }
    if cordoned > 0 {
        parts.push(Span::styled(format!("cordoned: {}  ", names(&mut ns.iter().filter(|n| n.unschedulable))), ctx.s(Role::Warn)));
    }
    parts.push(Span::styled(format!("{pods} pods"), ctx.s(Role::Muted)));
    let summary = Line::from(parts);
    let wide = ctx.width >= 100;
    // with metrics-server: requested/used; without it, requested only (and the header says which)
    let used = ns.iter().any(|n| n.cpu_used_m.is_some());
    let (cpu_w, head) = match (wide, used) {
        (true, true) => (
            12,
            "NAME           STATUS                     ROLES          CPU req/use MEM req/use PODS     KUBELET   RUNTIME          KERNEL",
        ),
        (true, false) => {
            (9, "NAME           STATUS                     ROLES          CPU req  MEM req  PODS     KUBELET   RUNTIME          KERNEL")
        }
        (false, _) => (5, "NAME         STATUS           CPU  MEM  PODS"),
    };
    let header = Line::styled(head, ctx.s(Role::Muted));
    let idx = node_rows(m, filter);
    let (a, b) = window(idx.len(), selected, height);
    let rows = idx[a..b]
        .iter()
        .map(|&i| {
            let n = &ns[i];
            let mut status = match n.ready {
                Some(true) => "Ready".to_string(),
                Some(false) => "NotReady".to_string(),
                None => "Unknown".to_string(),
            };
            if n.unschedulable {
                status.push_str(",SchedulingDisabled");
            }
            for p in &n.pressures {
                status.push(',');
                status.push_str(p);
            }
            let role = if n.ready != Some(true) || !n.pressures.is_empty() {
                Role::Critical
            } else if n.unschedulable {
                Role::Warn
            } else {
                Role::Ok
            };
            let cpu = n.cpu_req_pct();
            let mem = n.mem_req_pct();
            let gauge = |p: u32| {
                if p >= 90 {
                    Role::Critical
                } else if p >= 75 {
                    Role::Warn
                } else {
                    Role::Text
                }
            };
            if wide {
                let with_used = |req: u32, u: Option<u32>| match u {
                    Some(u) => format!("{req}%/{u}%"),
                    None if used => format!("{req}%/-"),
                    None => format!("{req}%"),
                };
                let cpu_used = n.cpu_used_m.map(|u| crate::model::pct(u, n.cpu_allocatable_m));
                let mem_used = n.mem_used.map(|u| crate::model::pct(u, n.mem_allocatable));
                let worst = |req: u32, u: Option<u32>| req.max(u.unwrap_or(0));
                Line::from(vec![
                    Span::styled(pad(&n.name, 15), ctx.s(Role::Text)),
                    Span::styled(pad(&status, 27), ctx.s(role)),
                    Span::styled(pad(&n.roles.join(","), 15), ctx.s(Role::Muted)),
                    Span::styled(pad(&with_used(cpu, cpu_used), cpu_w), ctx.s(gauge(worst(cpu, cpu_used)))),
                    Span::styled(pad(&with_used(mem, mem_used), cpu_w), ctx.s(gauge(worst(mem, mem_used)))),
                    Span::styled(pad(&format!("{}/{}", n.pods, n.pods_capacity), 9), ctx.s(Role::Text)),
                    Span::styled(pad(&n.kubelet_version, 10), ctx.s(Role::Muted)),
                    Span::styled(pad(&n.runtime, 17), ctx.s(Role::Muted)),
                    Span::styled(
                        short_kernel(&n.kernel).to_string(),
                        ctx.s(if n.kernel.starts_with("3.") { Role::Warn } else { Role::Muted }),
                    ),
                ])
            } else {
                Line::from(vec![
                    Span::styled(pad(&n.name, 13), ctx.s(Role::Text)),
                    Span::styled(pad(&status.replace("SchedulingDisabled", "NoSched"), 17), ctx.s(role)),
                    Span::styled(pad(&format!("{cpu}%"), 5), ctx.s(gauge(cpu))),
                    Span::styled(pad(&format!("{mem}%"), 5), ctx.s(gauge(mem))),
                    Span::styled(format!("{}/{}", n.pods, n.pods_capacity), ctx.s(Role::Text)),
                ])
            }
        })
        .collect();
    Content { summary, header: Some(header), rows, offset: a, total: idx.len() }
}

fn platform(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let Some(ws) = &m.workloads.data else {
        return Content { summary: Line::styled("no data yet", ctx.s(Role::Muted)), header: None, rows: vec![], offset: 0, total: 0 };
    };
    let bad: Vec<&str> = ws.iter().filter(|w| !w.is_ready()).map(|w| w.name.as_str()).collect();
    let summary = if bad.is_empty() {
        Line::styled(format!("{} workloads, all ready", ws.len()), ctx.s(Role::Ok))
    } else {
        Line::styled(format!("{}/{} ready; not ready: {}", ws.len() - bad.len(), ws.len(), bad.join(",")), ctx.s(Role::Warn))
    };
    let idx = workload_rows(m, filter);
    let (a, b) = window(idx.len(), selected, height);
    let rows = idx[a..b]
        .iter()
        .map(|&i| {
            let w = &ws[i];
            let role = if w.is_ready() {
                Role::Text
            } else if w.ready == 0 {
                Role::Critical
            } else {
                Role::Warn
            };
            let ns = w.namespace.trim_end_matches("-system");
            Line::from(vec![
                Span::styled(pad(&format!("{}/{}", w.ready, w.desired), 7), ctx.s(role)),
                Span::styled(pad(w.kind.short(), 7), ctx.s(Role::Muted)),
                Span::styled(pad(ns, 12), ctx.s(Role::Muted)),
                Span::styled(w.name.clone(), ctx.s(role)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: idx.len() }
}

fn timeline(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let idx = timeline_rows(m, filter);
    let events: Vec<_> = m.timeline.iter().collect();
    let summary = Line::styled(
        format!(
            "{} events{}",
            m.timeline.len(),
            if m.timeline.dropped > 0 { format!(" ({} older dropped)", m.timeline.dropped) } else { String::new() }
        ),
        ctx.s(Role::Muted),
    );
    let (a, b) = window(idx.len(), selected, height);
    let rows = idx[a..b]
        .iter()
        .map(|&i| {
            let e = events[i];
            Line::from(vec![
                Span::styled(format!("{} ", e.at.with_timezone(&ctx.tz).format("%H:%M:%S")), ctx.s(Role::Muted)),
                Span::styled(e.text.clone(), ctx.sev(e.severity)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: idx.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_selection_visible() {
        assert_eq!(window(0, 0, 5), (0, 0));
        assert_eq!(window(3, 0, 5), (0, 3));
        assert_eq!(window(10, 2, 5), (0, 5));
        assert_eq!(window(10, 7, 5), (3, 8));
        assert_eq!(window(10, 99, 5), (5, 10));
        assert_eq!(window(10, 3, 0), (0, 0));
    }

    #[test]
    fn pad_truncates_with_a_marker() {
        assert_eq!(pad("abc", 5), "abc  ");
        assert_eq!(pad("abcdef", 4), "abc~");
        assert_eq!(pad("abcd", 4), "abcd");
    }

    #[test]
    fn byte_units() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(42 * 1024 * 1024), "42.0M");
        assert_eq!(bytes(2_310 * (1 << 30)), "2.3T");
    }
}
