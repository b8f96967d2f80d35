//! The HA configuration each LB's daemons run, as the zoomed VIP and haproxy panels show it: where it
//! was read and how long ago, keepalived's instance carrying the VIP, haproxy's stats interface, the
//! frontends on the VIP's port and the apiservers' backend with its checks. A configuration that
//! could not be read says why, never a blank.

use ratatui::text::{Line, Span};

use super::*;
use crate::hacfg::haproxy::{Backend, HaproxyConf, Server};
use crate::hacfg::keepalived::{KeepalivedConf, VrrpState};
use crate::hacfg::predict::checks_of;
use crate::hacfg::secs;
use crate::model::HaConfigView;
use crate::model::source::fmt_age_coarse;
use crate::settings::theme::Role;

/// Which daemon's part of the configuration a panel shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Keepalived,
    Haproxy,
}

/// Add `extra` below `rows` (after a blank line), each line wrapped to `width`, as far as `height`
/// lets it; what does not fit is counted on the last line, never dropped silently.
pub(super) fn append_fitting(rows: &mut Vec<Line<'static>>, extra: Vec<Line<'static>>, height: usize, width: usize) {
    let room = height.saturating_sub(rows.len() + 1);
    let extra: Vec<Line<'static>> = extra.into_iter().flat_map(|l| wrap(l, width)).collect();
    if room == 0 || extra.is_empty() {
        return;
    }
    rows.push(Line::raw(""));
    if extra.len() <= room {
        rows.extend(extra);
        return;
    }
    let shown = room - 1;
    let hidden = extra.len() - shown;
    rows.extend(extra.into_iter().take(shown));
    rows.push(Line::raw(format!("... {hidden} more line(s) of configuration: a taller terminal shows them")));
}

/// A line cut into lines of at most `width` columns at spaces, each piece keeping its style; the
/// lines after the first are indented two more than the first.
fn wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let len = |spans: &[Span]| spans.iter().map(|s| s.content.chars().count()).sum::<usize>();
    if width < 20 || len(&line.spans) <= width {
        return vec![line];
    }
    let first: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let indent = " ".repeat(first.chars().take_while(|c| *c == ' ').count() + 2);
    let mut out: Vec<Line<'static>> = vec![];
    let mut cur: Vec<Span<'static>> = vec![];
    for span in &line.spans {
        for word in span.content.split_inclusive(' ') {
            let mut word = word.to_string();
            while !word.is_empty() {
                let used = len(&cur);
                let w = word.chars().count();
                if used + w.min(width) <= width || used <= indent.len() {
                    // a word longer than the line is cut where the line ends
                    let take = w.min(width.saturating_sub(used).max(1));
                    let head: String = word.chars().take(take).collect();
                    word = word.chars().skip(take).collect();
                    cur.push(Span::styled(head, span.style));
                } else {
                    out.push(Line::from(std::mem::take(&mut cur)));
                    cur.push(Span::raw(indent.clone()));
                    word = word.trim_start().to_string();
                }
            }
        }
    }
    if len(&cur) > indent.len() || out.is_empty() {
        out.push(Line::from(cur));
    }
    out
}

fn muted(ctx: &Ctx, s: String) -> Line<'static> {
    Line::styled(s, ctx.s(Role::Muted))
}

/// The files of `part` read on the host, `/etc/keepalived/keepalived.conf (+2 included)`.
fn files_of(files: &[String]) -> String {
    match files {
        [] => "no file".into(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} included)", rest.len()),
    }
}

/// The lines of one LB: the head, then what `body` makes of its configuration.
fn lb_lines(ctx: &Ctx, lb: &str, part: Part, prev: &mut Shown, body: &dyn Fn(&HaConfigView) -> Vec<Line<'static>>) -> Vec<Line<'static>> {
    let m = ctx.model;
    let what = if part == Part::Keepalived { "keepalived" } else { "haproxy" };
    let Some(s) = m.ha_config.get(lb) else {
        return vec![Line::styled(
            format!("{lb} {what} config: not read (no configuration read is planned for this host)"),
            ctx.s(Role::Unknown),
        )];
    };
    let age = |t: chrono::DateTime<chrono::Utc>| fmt_age_coarse((ctx.now - t).num_milliseconds());
    let Some(v) = s.data.as_deref() else {
        return vec![match &s.error {
            Some(e) => Line::styled(format!("{lb} {what} config: NOT READ: {} (failing {})", e.reason, age(e.at)), ctx.s(Role::Critical)),
            None => Line::styled(format!("{lb} {what} config: waiting for the first read (once a minute)"), ctx.s(Role::Unknown)),
        }];
    };
    let files: Vec<String> = match part {
        Part::Keepalived => v.keepalived.as_ref().map(|k| k.files.clone()).unwrap_or_default(),
        Part::Haproxy => v.haproxy.as_ref().map(|h| h.files.clone()).unwrap_or_default(),
    };
    let read = s.updated.map(|t| format!("read {} ago", age(t))).unwrap_or_default();
    let mut spans = vec![
        Span::styled(format!("{lb} "), ctx.s(Role::Text)),
        Span::styled(format!("{what} config {}, {read}", files_of(&files)), ctx.s(Role::Muted)),
    ];
    if let Some(e) = &s.error {
        // the last configuration read, kept, and why it is not current
        spans.push(Span::styled(format!(" (now failing: {})", e.reason), ctx.s(Role::Unknown)));
    }
    let mut out = vec![Line::from(spans)];
    let prefix = format!("{what}:");
    for p in v.problems.iter().filter(|p| p.starts_with(&prefix)) {
        out.push(Line::styled(format!("  {p}"), ctx.s(Role::Warn)));
    }
    let lines = body(v);
    match prev.iter().find(|(_, b)| *b == lines) {
        // LBs set up alike (the usual case) are not told twice
        Some((other, _)) => out.push(Line::styled(format!("  the same as {other}"), ctx.s(Role::Muted))),
        None => {
            prev.push((lb.to_string(), lines.clone()));
            out.extend(lines);
        }
    }
    out
}

/// The bodies shown so far, by LB.
type Shown = Vec<(String, Vec<Line<'static>>)>;

/// keepalived's part for the zoomed VIP panel: per LB the instance carrying the VIP.
pub(super) fn vip_lines(ctx: &Ctx) -> Vec<Line<'static>> {
    let m = ctx.model;
    let vip = m.plan.vip.as_ref().map(|v| v.address.to_string());
    let mut out = vec![muted(ctx, "configuration (as keepalived runs it):".into())];
    let mut shown = Shown::new();
    let lbs: Vec<String> = m.plan.lbs().map(|h| h.name.clone()).chain(m.vrrp.keys().cloned()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for lb in lbs.into_iter().filter(|l| seen.insert(l.clone())) {
        let observed = m.vrrp.get(&lb).and_then(|s| s.data.as_ref()).map(|v| v.instance.clone());
        out.extend(lb_lines(ctx, &lb, Part::Keepalived, &mut shown, &|v| match &v.keepalived {
            None => vec![Line::styled("  no keepalived configuration on this host".to_string(), ctx.s(Role::Unknown))],
            Some(k) => instance_lines(ctx, k, vip.as_deref(), observed.as_deref()),
        }));
    }
    out
}

fn instance_lines(ctx: &Ctx, k: &KeepalivedConf, vip: Option<&str>, observed: Option<&str>) -> Vec<Line<'static>> {
    let Some(i) = k.carrying(vip, observed) else {
        return vec![Line::styled("  no vrrp_instance in the configuration".to_string(), ctx.s(Role::Warn))];
    };
    let state = match i.state {
        Some(VrrpState::Master) => "MASTER",
        Some(VrrpState::Backup) => "BACKUP",
        None => "state not set",
    };
    let vrid = i.virtual_router_id.map(|v| format!(" vrid {v}")).unwrap_or_else(|| " NO vrid".into());
    let on = i.interface.as_deref().map(|x| format!(" on {x}")).unwrap_or_default();
    let preempt = match (i.nopreempt, i.preempt_delay) {
        (true, _) => "nopreempt".to_string(),
        (false, Some(d)) => format!("preempt_delay {}", secs(d)),
        (false, None) => "preempt (no delay)".to_string(),
    };
    let mut out = vec![Line::from(vec![
        Span::styled(format!("  {}{on}{vrid}: ", i.name), ctx.s(Role::Text)),
        Span::styled(format!("{state} prio {}", i.priority), ctx.s(Role::Accent)),
        Span::styled(format!(", advert_int {}, {preempt}", secs(i.advert_int)), ctx.s(Role::Text)),
    ])];
    let peers = if i.unicast_peers.is_empty() {
        "multicast".to_string()
    } else {
        let src = i.unicast_src_ip.as_deref().map(|s| format!("{s} -> ")).unwrap_or_default();
        format!("unicast {src}{}", i.unicast_peers.join(" "))
    };
    let auth = i.auth_text();
    let vips: Vec<String> = i.vips.iter().map(|v| v.to_string()).collect();
    out.push(Line::styled(format!("    {peers}; {auth}; VIP {}", vips.join(" ")), ctx.s(Role::Text)));
    let checks = checks_of(k, i);
    if checks.is_empty() {
        out.push(Line::styled("    tracks nothing: nothing lowers its priority".to_string(), ctx.s(Role::Warn)));
    }
    for c in checks {
        let detect = match c.interval_fall {
            Some((iv, f)) => format!("{} x fall {f} = {}", secs(iv), secs(c.reaction_s)),
            None if c.reaction_s > 0.0 => format!("after {}", secs(c.reaction_s)),
            None => "at once".to_string(),
        };
        let w = if c.reverse { format!("weight {} reverse", c.weight) } else { format!("weight {}", c.weight) };
        let what = if c.text.is_empty() || c.text == c.name { String::new() } else { format!(" ({})", c.text) };
        let role = if c.defined { Role::Text } else { Role::Warn };
        let undefined = if c.defined { "" } else { " NOT DEFINED" };
        out.push(Line::styled(format!("    track {}{undefined}: {detect}, {w}{what}", c.name), ctx.s(role)));
    }
    out
}

/// haproxy's part for the zoomed haproxy panel: per LB the stats interface, the frontends on the
/// VIP's port and the apiservers' backend with its checks.
pub(super) fn haproxy_lines(ctx: &Ctx) -> Vec<Line<'static>> {
    let m = ctx.model;
    let port = m.plan.vip.as_ref().map(|v| v.port).unwrap_or(crate::hacfg::haproxy::APISERVER_PORT);
    let mut out = vec![muted(ctx, "configuration (as haproxy runs it):".into())];
    let mut shown = Shown::new();
    let lbs: Vec<String> = m.plan.lbs().map(|h| h.name.clone()).chain(m.haproxy.keys().cloned()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for lb in lbs.into_iter().filter(|l| seen.insert(l.clone())) {
        let stats = stats_in_use(ctx, &lb);
        out.extend(lb_lines(ctx, &lb, Part::Haproxy, &mut shown, &|v| match &v.haproxy {
            None => vec![Line::styled("  no haproxy configuration on this host".to_string(), ctx.s(Role::Unknown))],
            Some(h) => proxy_lines(ctx, h, port, stats.clone()),
        }));
    }
    out
}

/// The stats interface kockpit reads: what the haproxy probe says answered, else none yet.
fn stats_in_use(ctx: &Ctx, lb: &str) -> Option<String> {
    let s = ctx.model.haproxy.get(lb)?;
    s.source.split_once(": ").map(|(_, found)| found.to_string())
}

fn proxy_lines(ctx: &Ctx, h: &HaproxyConf, port: u16, used: Option<String>) -> Vec<Line<'static>> {
    let mut out = vec![];
    let base = |f: &str| f.rsplit('/').next().unwrap_or(f).to_string();
    let declared: Vec<String> =
        h.stats_sockets.iter().map(|s| format!("{} level {} ({}:{})", s.address, s.level, base(&s.at.file), s.at.line)).collect();
    let stats = match (used, declared.first()) {
        (Some(u), _) => format!("stats: {u}"),
        (None, Some(d)) => format!("stats socket {d}"),
        (None, None) if !h.stats_pages.is_empty() => format!("stats page only: {} (no socket)", h.stats_pages[0].uri),
        (None, None) => "NO stats socket: kockpit cannot read the servers' states".to_string(),
    };
    let role = if stats.starts_with("NO") { Role::Warn } else { Role::Text };
    out.push(Line::styled(format!("  {stats}"), ctx.s(role)));
    let fronts = h.binding(port);
    if fronts.is_empty() {
        out.push(Line::styled(format!("  no frontend binds port {port}"), ctx.s(Role::Warn)));
    }
    for f in &fronts {
        let binds: Vec<String> = f.binds.iter().filter(|b| b.address.port() == Some(port)).map(|b| b.address.to_string()).collect();
        out.push(Line::styled(format!("  frontend {} {} -> {}", f.name, binds.join(","), f.targets().join(",")), ctx.s(Role::Text)));
    }
    let backends = h.apiserver_backends(Some(port));
    if backends.is_empty() {
        out.push(Line::styled("  no backend carries the apiservers".to_string(), ctx.s(Role::Warn)));
    }
    for b in backends {
        out.extend(backend_lines(ctx, b));
    }
    out
}

fn backend_lines(ctx: &Ctx, b: &Backend) -> Vec<Line<'static>> {
    let mut how = vec![];
    if let Some((meth, uri)) = &b.checks.httpchk {
        how.push(format!("httpchk {meth} {uri}"));
    }
    if let Some(e) = &b.checks.http_check_expect {
        how.push(format!("expect {e}"));
    }
    if b.checks.ssl_hello {
        how.push("ssl-hello-chk".into());
    }
    if b.checks.tcp_check {
        how.push("tcp-check".into());
    }
    if how.is_empty() {
        how.push("TCP connect".into());
    }
    let checked: Vec<&Server> = b.servers.iter().filter(|s| s.check && !s.disabled).collect();
    let down = match checked.iter().max_by_key(|s| s.down_after_ms()) {
        Some(s) => {
            format!("DOWN after inter {} x fall {} = {}", secs(s.inter_ms as f64 / 1000.0), s.fall, secs(s.down_after_ms() as f64 / 1000.0))
        }
        None => "no server is checked: a dead apiserver is never taken out".into(),
    };
    let mut out = vec![Line::from(vec![
        Span::styled(format!("  backend {}: {}; ", b.name, how.join(", ")), ctx.s(Role::Text)),
        Span::styled(down, ctx.s(if checked.is_empty() { Role::Warn } else { Role::Accent })),
    ])];
    // servers with the same check settings on one line
    let mut groups: Vec<(String, Vec<String>)> = vec![];
    for s in &b.servers {
        let set = server_settings(s);
        let name = format!("{} {}:{}", s.name, s.address, s.port.map(|p| p.to_string()).unwrap_or_else(|| "?".into()));
        let name = if ctx.width < 100 { s.name.clone() } else { name };
        match groups.iter_mut().find(|g| g.0 == set) {
            Some(g) => g.1.push(name),
            None => groups.push((set, vec![name])),
        }
    }
    for (set, names) in groups {
        let role = if set.starts_with("no check") { Role::Warn } else { Role::Text };
        out.push(Line::styled(format!("    {}: {set}", names.join(", ")), ctx.s(role)));
    }
    out
}

/// `check check-ssl verify none inter 2 s fall 2 rise 2`
fn server_settings(s: &Server) -> String {
    let mut w: Vec<String> = vec![];
    if !s.check {
        w.push("no check".into());
    } else {
        w.push("check".into());
        if s.check_ssl {
            w.push("check-ssl".into());
        }
        if s.ssl {
            w.push("ssl".into());
        }
        if let Some(v) = &s.verify {
            w.push(format!("verify {v}"));
        }
        w.push(format!("inter {} fall {} rise {}", secs(s.inter_ms as f64 / 1000.0), s.fall, s.rise));
    }
    if s.backup {
        w.push("backup".into());
    }
    if s.disabled {
        w.push("disabled".into());
    }
    w.join(" ")
}
