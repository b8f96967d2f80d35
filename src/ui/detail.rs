//! The detail view: everything kockpit knows of one item, each part with where it came from and how
//! old it is, and what it does not collect said as such.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::dialogs::dialog_block_fit;
use crate::app::App;
use crate::app::detail::Item;
use crate::model::source::fmt_age_ms;
use crate::model::{Model, Sourced, pct};
use crate::settings::theme::{Role, Theme};

struct Doc<'a> {
    t: &'a Theme,
    now: DateTime<Utc>,
    lines: Vec<Line<'static>>,
    /// The part being written is not current (its source fails or went quiet): its values are
    /// what was last known, and say so.
    last_known: Option<String>,
}

impl Doc<'_> {
    fn kv(&mut self, k: &str, v: impl Into<String>) {
        self.kv_role(k, v, Role::Text);
    }
    fn kv_role(&mut self, k: &str, v: impl Into<String>, r: Role) {
        let mut spans = vec![Span::styled(format!("{k:<17} "), self.t.style(Role::Muted))];
        match &self.last_known {
            Some(when) => {
                spans.push(Span::styled(v.into(), self.t.style(Role::Stale)));
                spans.push(Span::styled(format!("  (last known, {when}: now unknown)"), self.t.style(Role::Stale)));
            }
            None => spans.push(Span::styled(v.into(), self.t.style(r))),
        }
        self.lines.push(Line::from(spans));
    }
    fn head(&mut self, h: &str) {
        self.lines.push(Line::raw(""));
        self.lines.push(Line::styled(h.to_string(), self.t.style(Role::Accent)));
    }
    fn text(&mut self, s: impl Into<String>, r: Role) {
        self.lines.push(Line::styled(s.into(), self.t.style(r)));
    }
    /// Where a part came from and how old it is; unknown when nothing was heard. The values that
    /// follow are marked last known when the source is not current.
    fn source<T: PartialEq>(&mut self, what: &str, s: &Sourced<T>) {
        self.last_known = None;
        let age = s.updated.map(|u| format!("{} ago", fmt_age_ms((self.now - u).num_milliseconds())));
        let (text, role) = match (&s.error, age) {
            (Some(e), Some(a)) => (format!("{}; FAILING: {} (last data {a})", s.source, e.reason), Role::Critical),
            (Some(e), None) => (format!("{}; FAILING: {}", s.source, e.reason), Role::Critical),
            (None, Some(a)) => (format!("{}, {a}", s.source), Role::Muted),
            (None, None) => (format!("{}: UNKNOWN, not heard from yet", s.source), Role::Unknown),
        };
        self.kv_role(&format!("{what} from"), text, role);
        if !s.freshness(self.now).is_fresh() {
            self.last_known =
                Some(s.updated.map(|u| format!("{} ago", fmt_age_ms((self.now - u).num_milliseconds()))).unwrap_or_else(|| "never".into()));
        }
    }
    /// The timeline's recent events that name `subject`.
    fn events(&mut self, m: &Model, tz: chrono::FixedOffset, subject: &str) {
        self.head(&format!("Recent events naming {subject} (timeline)"));
        let evs: Vec<_> = m.timeline.newest().filter(|e| mentions(&e.text, subject)).take(12).collect();
        if evs.is_empty() {
            self.text("none in the timeline", Role::Muted);
        }
        for e in evs {
            let r = super::panels::sev_role(e.severity);
            self.lines.push(Line::from(vec![
                Span::styled(format!("{} ", e.at.with_timezone(&tz).format("%H:%M:%S")), self.t.style(Role::Muted)),
                Span::styled(e.text.clone(), self.t.style(r)),
            ]));
        }
    }
}

use crate::model::planned::mentions;

/// A resource row: its label, allocatable, requested, used, and how its amounts are written.
type Resource<'a> = (&'a str, u64, u64, Option<u64>, &'a dyn Fn(u64) -> String);

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn gib(b: u64) -> String {
    format!("{:.1}G", b as f64 / (1u64 << 30) as f64)
}

/// The node's labels and pods with their requests, read on demand while its view is open.
fn node_pods(d: &mut Doc, app: &App, node: &str) {
    d.last_known = None;
    let every = crate::app::detail::NODE_EXTRA_EVERY_SECS;
    let fetch = app.node_extra.as_ref().filter(|f| f.node == node);
    let now = d.now;
    let ago = |at: DateTime<Utc>| format!("{} ago", fmt_age_ms((now - at).num_milliseconds().max(0)));
    let (extra, said) = match fetch.and_then(|f| f.answer.as_ref()) {
        None => {
            let waited = fetch.map(|f| format!(" (asked {})", ago(f.asked))).unwrap_or_default();
            d.head("Labels and pods");
            d.text(format!("UNKNOWN: reading them from the API{waited}"), Role::Unknown);
            return;
        }
        Some((at, Err(e))) => {
            d.head("Labels and pods");
            d.text(format!("FAILING: {e} ({}; asked again every {every} s)", ago(*at)), Role::Critical);
            return;
        }
        Some((at, Ok(x))) => (x, format!("API, {}; read again every {every} s while open", ago(*at))),
    };
    d.head(&format!("Labels ({said})"));
    if extra.labels.is_empty() {
        d.text("none", Role::Muted);
    }
    for (k, v) in &extra.labels {
        d.text(if v.is_empty() { format!("  {k}") } else { format!("  {k}={v}") }, Role::Text);
    }
    let mut pods: Vec<&crate::model::NodePod> = extra.pods.iter().collect();
    pods.sort_by(|a, b| {
        (b.cpu_request_m, b.mem_request).cmp(&(a.cpu_request_m, a.mem_request)).then((&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
    });
    let (cpu, mem) = extra.requested();
    let running = pods.iter().filter(|p| !p.finished()).count();
    let finished = pods.len() - running;
    let finished = if finished > 0 { format!(" and {finished} finished") } else { String::new() };
    d.head(&format!("Pods: {running}{finished}, largest cpu request first ({said})"));
    let width = pods.iter().map(|p| p.namespace.chars().count() + 1 + p.name.chars().count()).max().unwrap_or(0).clamp(20, 60);
    d.text(
        format!("  {:<width$}  {:<5}  {:<9}  {:>7}  {:>7}  {}", "NAMESPACE/NAME", "READY", "PHASE", "CPU", "MEMORY", "OWNER"),
        Role::Muted,
    );
    for p in pods {
        let state = if p.terminating {
            "Terminating".to_string()
        } else if p.phase.is_empty() {
            "?".into()
        } else {
            p.phase.clone()
        };
        let role = match (p.finished(), p.ready, p.terminating) {
            (true, _, _) => Role::Muted,
            (_, _, true) => Role::Warn,
            (false, true, false) => Role::Text,
            (false, false, false) => Role::Warn,
        };
        let full = format!("{}/{}", p.namespace, p.name);
        d.text(
            format!(
                "  {}  {:<5}  {:<9}  {:>7}  {:>7}  {}",
                super::panels::pad_mid(&full, width),
                if p.ready { "yes" } else { "no" },
                state,
                format!("{}m", p.cpu_request_m),
                super::panels::bytes(p.mem_request),
                p.owner.as_deref().unwrap_or("none (not recreated)")
            ),
            role,
        );
    }
    d.text(format!("  requests of the {running} pods holding resources: cpu {cpu}m, memory {}", super::panels::bytes(mem)), Role::Muted);
}

/// The view's title and lines for `item`, from the model as it is now.
pub fn lines(app: &App, item: &Item, now: DateTime<Utc>) -> (String, Vec<Line<'static>>) {
    let m = &app.model;
    let mut d = Doc { t: &app.theme, now, lines: vec![], last_known: None };
    let gone = |d: &mut Doc, what: &str| {
        d.text(format!("{what} is not in the latest data (gone, or its source failed: see below)"), Role::Unknown)
    };
    let title = match item {
        Item::Node(name) => {
            d.source("nodes", &m.nodes);
            match m.nodes.data.iter().flatten().find(|n| &n.name == name) {
                None => gone(&mut d, name),
                Some(n) => {
                    let status = match n.ready {
                        Some(true) => ("Ready", Role::Ok),
                        Some(false) => ("NotReady", Role::Critical),
                        None => ("Unknown (the kubelet stopped reporting)", Role::Unknown),
                    };
                    d.kv_role("status", status.0, status.1);
                    d.kv_role(
                        "schedulable",
                        if n.unschedulable { "no (cordoned)" } else { "yes" },
                        if n.unschedulable { Role::Warn } else { Role::Text },
                    );
                    match (n.ready, n.pressures.is_empty()) {
                        (None, _) => d.kv_role("conditions", "unknown: the kubelet stopped reporting", Role::Unknown),
                        (_, true) => d.kv("conditions", "no pressure"),
                        (_, false) => d.kv_role("conditions", n.pressures.join(", "), Role::Critical),
                    }
                    d.kv("roles", if n.roles.is_empty() { "<none>".into() } else { n.roles.join(", ") });
                    d.kv("taints", if n.taints.is_empty() { "none".into() } else { n.taints.join(", ") });
                    d.kv("address", n.internal_ip.clone());
                    d.kv("versions", format!("kubelet {}  runtime {}  kernel {}", n.kubelet_version, n.runtime, n.kernel));
                    d.head(&format!("{:<18}{:<14}{:<17}{}", "Resources", "allocatable", "requested", "used (metrics-server)"));
                    let milli = |v: u64| format!("{v}m");
                    let rows: [Resource; 2] = [
                        ("  cpu", n.cpu_allocatable_m, n.cpu_requested_m, n.cpu_used_m, &milli),
                        ("  memory", n.mem_allocatable, n.mem_requested, n.mem_used, &gib),
                    ];
                    for (label, alloc, req, used, f) in rows {
                        let used = used.map(|u| format!("{} ({}%)", f(u), pct(u, alloc))).unwrap_or_else(|| "not reported".into());
                        d.kv(label, format!("{:<14}{:<17}{used}", f(alloc), format!("{} ({}%)", f(req), pct(req, alloc))));
                    }
                    d.kv("  pods", format!("{:<14}{} ({}%)", n.pods_capacity, n.pods, pct(u64::from(n.pods), u64::from(n.pods_capacity))));
                }
            }
            node_pods(&mut d, app, name);
            host_part(&mut d, m, name);
            d.events(m, app.tz, name);
            format!("Node {name}")
        }
        Item::Host(name) => {
            host_part(&mut d, m, name);
            d.events(m, app.tz, name);
            format!("Host {name}")
        }
        Item::Lb(lb) => {
            match m.vrrp.get(lb) {
                None => gone(&mut d, lb),
                Some(s) => {
                    d.source("keepalived", s);
                    if let Some(v) = &s.data {
                        d.kv("instance", v.instance.clone());
                        d.kv("state", v.state.label());
                        d.kv(
                            "priority",
                            match v.priority_text().as_str() {
                                "-" => "none (keepalived stopped)".to_string(),
                                "?" => "unknown (keepalived's own view could not be read)".to_string(),
                                _ => format!("{} configured, {} effective", v.priority, v.effective_priority),
                            },
                        );
                        d.kv_role("holds the VIP", yes(v.holds_vip), if v.holds_vip { Role::Ok } else { Role::Text });
                        if let Some(t) = v.last_transition {
                            d.kv("last change", format!("{} ago", fmt_age_ms((now - t).num_milliseconds())));
                        }
                    }
                }
            }
            if let Some(s) = m.haproxy.get(lb) {
                d.head("haproxy on this host");
                d.source("haproxy", s);
                for b in s.data.iter().flatten() {
                    d.kv(&format!("  {}", b.server), format!("{} {}", b.status_text, b.check_status.as_deref().unwrap_or("")));
                }
            }
            d.events(m, app.tz, lb);
            format!("Load balancer {lb}")
        }
        Item::Server(server) => {
            d.head("Every load balancer's view");
            for (lb, s) in &m.haproxy {
                d.source(lb, s);
                match s.data.iter().flatten().find(|b| &b.server == server) {
                    None => d.kv_role(&format!("  {lb}"), "does not list this server", Role::Unknown),
                    Some(b) => {
                        d.kv_role(
                            &format!("  {lb}"),
                            format!("{} (backend {}, {})", b.status_text, b.backend, b.address),
                            super::panels::status_role(b.status),
                        );
                        d.kv(
                            "    check",
                            format!(
                                "{} in {}",
                                b.check_status.as_deref().unwrap_or("no check status"),
                                b.check_duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "?".into())
                            ),
                        );
                        d.kv(
                            "    since",
                            b.last_change_secs
                                .map(|s| format!("{} (last status change)", fmt_age_ms(s as i64 * 1000)))
                                .unwrap_or_else(|| "unknown".into()),
                        );
                        d.kv("    sessions", format!("{}  weight {}", b.sessions, b.weight));
                    }
                }
            }
            if let Some(r) = m.readyz.get(server) {
                d.head("Direct probe of its /readyz");
                d.source("readyz", r);
                if let Some(z) = &r.data {
                    d.kv_role("  answer", format!("{} {}", z.status, z.detail), if z.ok { Role::Ok } else { Role::Critical });
                }
            }
            d.events(m, app.tz, server);
            format!("apiserver backend {server}")
        }
        Item::EtcdMember(name) => {
            d.source("etcd", &m.etcd);
            match m.etcd.data.as_ref().and_then(|e| e.members.iter().find(|x| &x.name == name)) {
                None => gone(&mut d, name),
                Some(x) => {
                    d.kv("id", format!("{:x} ({})", x.id, x.id));
                    d.kv("endpoint", x.endpoint.clone());
                    d.kv_role(
                        "status",
                        if x.reachable { "answers" } else { "DOES NOT ANSWER" },
                        if x.reachable { Role::Ok } else { Role::Critical },
                    );
                    if x.reachable {
                        d.kv(
                            "role",
                            if x.is_leader {
                                "leader"
                            } else if x.is_learner {
                                "learner (no vote)"
                            } else {
                                "follower"
                            },
                        );
                        d.kv("version", x.version.clone());
                        d.kv(
                            "raft",
                            format!(
                                "term {}  index {}  applied {} (lag {})",
                                x.raft_term,
                                x.raft_index,
                                x.raft_applied_index,
                                x.apply_lag()
                            ),
                        );
                        d.kv(
                            "database",
                            format!("{} ({} in use)", super::panels::bytes(x.db_size), super::panels::bytes(x.db_size_in_use)),
                        );
                    } else {
                        for k in ["role", "version", "raft", "database"] {
                            d.kv_role(k, "unknown: the member does not answer", Role::Unknown);
                        }
                    }
                    if let Some(e) = &x.error {
                        d.kv_role("error", e.clone(), Role::Critical);
                    }
                    let alarms: Vec<String> =
                        m.etcd.data.iter().flat_map(|e| &e.alarms).filter(|a| &a.member == name).map(|a| a.alarm.clone()).collect();
                    d.kv_role(
                        "alarms",
                        if alarms.is_empty() { "none".into() } else { alarms.join(", ") },
                        if alarms.is_empty() { Role::Text } else { Role::Critical },
                    );
                }
            }
            d.events(m, app.tz, name);
            format!("etcd member {name}")
        }
        Item::StaticPod(name) => {
            d.source("static pods", &m.control_plane);
            let cp = m.control_plane.data.as_ref();
            match cp.and_then(|c| c.etcd.iter().chain(&c.apiservers).find(|p| &p.name == name)) {
                None => gone(&mut d, name),
                Some(p) => {
                    d.kv("node", p.node.clone());
                    d.kv_role("ready", format!("{} (phase {})", yes(p.ready), p.phase), if p.ready { Role::Ok } else { Role::Critical });
                    d.kv("restarts", p.restarts.to_string());
                    d.kv(
                        "started",
                        p.started.map(|s| format!("{} ago", fmt_age_ms((now - s).num_milliseconds()))).unwrap_or_else(|| "unknown".into()),
                    );
                    d.kv("advertises", if p.endpoint.is_empty() { "not said in its manifest".into() } else { p.endpoint.clone() });
                    d.text("Without SSH, etcd's own status (leader, raft, alarms) is not known: add a host plan.", Role::Muted);
                }
            }
            d.events(m, app.tz, name);
            format!("Pod kube-system/{name}")
        }
        Item::Lease { namespace, name } => {
            d.source("leases", &m.leases);
            match m.leases.data.iter().flatten().find(|l| &l.namespace == namespace && &l.name == name) {
                None => gone(&mut d, name),
                Some(l) => {
                    d.kv("holder", l.holder.clone().unwrap_or_else(|| "nobody".into()));
                    let ago = |t: Option<DateTime<Utc>>| {
                        t.map(|t| format!("{} ago", fmt_age_ms((now - t).num_milliseconds()))).unwrap_or_else(|| "never".into())
                    };
                    let expired = l.expired(now);
                    d.kv_role("renewed", ago(l.renew_time), if expired { Role::Critical } else { Role::Text });
                    d.kv("acquired", ago(l.acquire_time));
                    d.kv("duration", format!("{} s{}", l.duration_secs, if expired { ": EXPIRED, nobody is renewing it" } else { "" }));
                    d.kv("transitions", l.transitions.to_string());
                }
            }
            d.events(m, app.tz, name);
            format!("Lease {namespace}/{name}")
        }
        Item::Cert { host, name } => {
            if let Some(s) = m.certs.get(host) {
                d.source("certificates", s);
            }
            match m.certs.get(host).and_then(|s| s.data.as_ref()).and_then(|cs| cs.iter().find(|c| &c.name == name)) {
                None => gone(&mut d, name),
                Some(c) => {
                    let days = c.days_left(now);
                    d.kv("host", host.clone());
                    d.kv("subject", c.subject.clone());
                    d.kv("issuer", c.issuer.clone());
                    d.kv("SANs", if c.sans.is_empty() { "none".into() } else { c.sans.join(", ") });
                    d.kv_role(
                        "not after",
                        format!("{} ({days} days left)", c.not_after.format("%Y-%m-%d %H:%M UTC")),
                        if days < 7 {
                            Role::Critical
                        } else if days < 30 {
                            Role::Warn
                        } else {
                            Role::Ok
                        },
                    );
                    d.kv("CA", yes(c.is_ca));
                }
            }
            format!("Certificate {name} on {host}")
        }
        Item::CephCheck(code) => {
            match m.ceph_shown() {
                Some(s) => d.source("ceph", s),
                None => d.text("Ceph: no source has data", Role::Unknown),
            }
            match m.ceph_view().and_then(|c| c.checks.iter().find(|x| &x.code == code)) {
                None => gone(&mut d, code),
                Some(c) => {
                    d.kv("severity", format!("{:?}", c.severity));
                    d.kv("summary", c.summary.clone());
                }
            }
            d.events(m, app.tz, code);
            format!("Ceph health check {code}")
        }
        Item::Workload { namespace, kind, name } => {
            d.source("workloads", &m.workloads);
            match m.workloads.data.iter().flatten().find(|w| &w.namespace == namespace && &w.name == name && w.kind == *kind) {
                None => gone(&mut d, name),
                Some(w) => {
                    d.kv_role("ready", format!("{}/{}", w.ready, w.desired), if w.is_ready() { Role::Ok } else { Role::Warn });
                    d.kv("up to date", w.updated.to_string());
                    d.kv("available", w.available.to_string());
                }
            }
            d.events(m, app.tz, name);
            format!("{} {namespace}/{name}", kind.short())
        }
        Item::Event { at, text } => {
            d.kv("at", at.with_timezone(&app.tz).format("%Y-%m-%d %H:%M:%S%.3f").to_string());
            d.head("Text (whole)");
            d.text(text.clone(), Role::Text);
            "Timeline event".to_string()
        }
    };
    (title, d.lines)
}

/// The plan's entry for a host next to its live facts.
fn host_part(d: &mut Doc, m: &Model, name: &str) {
    d.head("Plan vs live");
    match m.plan.host(name) {
        None => d.text("not in the host plan", Role::Muted),
        Some(h) => {
            d.kv(
                "planned",
                format!("{} {}  {}", h.roles.label(), h.address, h.size.map(|s| s.to_string()).unwrap_or_else(|| "no size".into())),
            );
            if let Some(k) = &h.kernel {
                d.kv("  kernel", k.clone());
            }
        }
    }
    if let Some(s) = m.hosts.get(name) {
        d.source("host", s);
        if let Some(f) = &s.data {
            d.kv(
                "live",
                format!(
                    "{} {}  {} CPUs  {} MB memory  {} GB disk ({}% used)",
                    f.os, f.kernel, f.cpus, f.mem_total_mb, f.disk_total_gb, f.disk_used_pct
                ),
            );
            d.kv("  uptime", format!("{}  load {:.2}", fmt_age_ms(f.uptime_secs as i64 * 1000), f.load1));
        }
    }
}

/// Draw the detail view over the panels.
/// Draw the detail view over the panels; returns the scroll actually used (never past the end).
pub(super) fn draw_detail(f: &mut Frame, app: &App, body: Rect, item: &Item, scroll: usize, now: DateTime<Utc>) -> usize {
    let (title, lines) = lines(app, item, now);
    f.render_widget(Clear, body);
    let inner_w = usize::from(body.width.saturating_sub(2).max(1));
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner_w)).sum();
    let scroll = scroll.min(rows.saturating_sub(usize::from(body.height.saturating_sub(2))));
    let k = |a| super::help::keys(app, crate::app::Layer::Main, a, 1);
    let hint = format!(
        "{title}  ({} back, {}/{} scroll, {} logs)",
        k(crate::app::Action::Cancel),
        k(crate::app::Action::SelectNext),
        k(crate::app::Action::SelectPrev),
        k(crate::app::Action::Logs)
    );
    let p = Paragraph::new(lines).wrap(Wrap { trim: false }).block(dialog_block_fit(app, &hint, body.width)).scroll((scroll as u16, 0));
    f.render_widget(p, body);
    scroll
}
