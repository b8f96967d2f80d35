//! Health roll-up: every problem the model shows, as findings with a severity, and one overall level.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CephHealth, Freshness, LeaseKind, Model, PanelId, ServerStatus, VipVerdict, VrrpState};
use crate::inventory::{Host, LbTopology};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ok,
    Info,
    Warn,
    /// A critical property whose inputs could not be observed: nobody can say whether it holds.
    Unknown,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub panel: PanelId,
    /// The host, node, member or server the finding is about.
    pub subject: String,
    pub message: String,
}

/// The overall state, with the exit codes of `kockpit status`. A known critical problem outranks an
/// unknown: it is the one to act on; the unknowns are still listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthLevel {
    Healthy,
    Degraded,
    /// A critical property (VIP holder, etcd quorum, node readiness, apiserver backends, Ceph health)
    /// could not be observed; the findings name what is missing and why.
    Unknown,
    Critical,
    /// No source answers at all.
    Unreachable,
}

impl HealthLevel {
    pub fn exit_code(self) -> i32 {
        match self {
            HealthLevel::Healthy => 0,
            HealthLevel::Degraded => 1,
            HealthLevel::Critical => 2,
            HealthLevel::Unknown | HealthLevel::Unreachable => 3,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            HealthLevel::Healthy => "HEALTHY",
            HealthLevel::Degraded => "DEGRADED",
            HealthLevel::Unknown => "UNKNOWN",
            HealthLevel::Critical => "CRITICAL",
            HealthLevel::Unreachable => "UNREACHABLE",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub level: HealthLevel,
    pub findings: Vec<Finding>,
}

/// How much a problem in `panel` costs when it gets worse: 0 the most (etcd's quorum holds the
/// whole control plane; the VIP and haproxy every client's way in), then the control loops, the
/// workloads' nodes and storage, and last what only slowly bites (certificates, a host's facts).
fn impact(panel: PanelId) -> u8 {
    match panel {
        PanelId::Etcd => 0,
        PanelId::Vip => 1,
        PanelId::Haproxy => 2,
        PanelId::Leases => 3,
        PanelId::Nodes => 4,
        PanelId::Ceph => 5,
        PanelId::Platform => 6,
        PanelId::Certs => 7,
        PanelId::Hosts => 8,
        PanelId::Timeline => 9,
    }
}

impl Assessment {
    pub fn for_panel(&self, panel: PanelId) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.panel == panel)
    }
    /// The worst severity of findings about `subject` in `panel`.
    pub fn worst(&self, panel: PanelId, subject: &str) -> Severity {
        self.for_panel(panel).filter(|f| f.subject == subject).map(|f| f.severity).max().unwrap_or(Severity::Ok)
    }
    pub fn panel_worst(&self, panel: PanelId) -> Severity {
        self.for_panel(panel).map(|f| f.severity).max().unwrap_or(Severity::Ok)
    }
}

struct Acc(Vec<Finding>);

impl Acc {
    fn add(&mut self, severity: Severity, panel: PanelId, subject: impl Into<String>, message: impl Into<String>) {
        self.0.push(Finding { severity, panel, subject: subject.into(), message: message.into() });
    }
}

/// What a node holds beyond what it has: requests over allocatable, pods over capacity.
pub fn overcommit(n: &super::Node) -> Vec<String> {
    let mut out = vec![];
    if n.cpu_allocatable_m > 0 && n.cpu_requested_m > n.cpu_allocatable_m {
        out.push(format!("requests {}% of its CPU ({}m of {}m)", n.cpu_req_pct(), n.cpu_requested_m, n.cpu_allocatable_m));
    }
    if n.mem_allocatable > 0 && n.mem_requested > n.mem_allocatable {
        out.push(format!(
            "requests {}% of its memory ({:.1} of {:.1} GiB)",
            n.mem_req_pct(),
            n.mem_requested as f64 / GIB,
            n.mem_allocatable as f64 / GIB
        ));
    }
    if n.pods_capacity > 0 && n.pods > n.pods_capacity {
        out.push(format!("runs {} pods, over its capacity of {}", n.pods, n.pods_capacity));
    }
    out
}

const GIB: f64 = (1u64 << 30) as f64;

/// Kernel versions below this are flagged (Kubernetes and Ceph need newer ones for a sane life).
pub const MIN_KERNEL: (u32, u32) = (4, 19);

/// Parse "3.10.0-1160.el7.x86_64" -> (3, 10).
pub fn kernel_major_minor(k: &str) -> Option<(u32, u32)> {
    let mut it = k.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// Differences between a host's plan and what it really is.
pub fn host_drift(plan: &Host, f: &super::HostFacts) -> Vec<(Severity, String)> {
    let mut out = Vec::new();
    let too_old = kernel_major_minor(&f.kernel).is_some_and(|km| km < MIN_KERNEL);
    if too_old {
        out.push((Severity::Warn, format!("kernel {} < {}.{}", short_kernel(&f.kernel), MIN_KERNEL.0, MIN_KERNEL.1)));
    }
    if let (Some(pk), false) = (&plan.kernel, too_old)
        && let (Some(p), Some(l)) = (kernel_major_minor(pk), kernel_major_minor(&f.kernel))
        && l < p
    {
        out.push((Severity::Warn, format!("kernel {} below planned {pk}", short_kernel(&f.kernel))));
    }
    if f.swap_total_mb > 0 {
        out.push((Severity::Warn, format!("swap on ({} MB)", f.swap_total_mb)));
    }
    if let Some(size) = &plan.size {
        if f.cpus != 0 && f.cpus != size.cpu {
            out.push((Severity::Warn, format!("{} CPUs, plan {}", f.cpus, size.cpu)));
        }
        let planned_mb = u64::from(size.memory_gb) * 1024;
        // Kernels reserve some memory: allow 10 % below plan.
        if f.mem_total_mb != 0 && f.mem_total_mb * 10 < planned_mb * 9 {
            out.push((Severity::Warn, format!("{}G RAM, plan {}G", f.mem_total_mb.div_ceil(1024), size.memory_gb)));
        }
        if let Some(d) = size.disk_gb
            && f.disk_total_gb != 0
            && f.disk_total_gb * 10 < u64::from(d) * 9
        {
            out.push((Severity::Warn, format!("disk {}G, plan {d}G", f.disk_total_gb)));
        }
    }
    if !f.hostname.is_empty() && f.hostname != plan.name && f.hostname.split('.').next() != Some(plan.name.as_str()) {
        out.push((Severity::Warn, format!("hostname {} != plan {}", f.hostname, plan.name)));
    }
    if f.firewalld.as_deref() == Some("active") {
        out.push((Severity::Warn, "firewalld active".into()));
    }
    if f.selinux.as_deref() == Some("Enforcing") {
        out.push((Severity::Warn, "SELinux enforcing".into()));
    }
    if plan.roles.master || plan.roles.worker {
        if f.br_netfilter == Some(false) {
            out.push((Severity::Warn, "br_netfilter not loaded".into()));
        }
        if f.bridge_nf_call_iptables == Some(false) {
            out.push((Severity::Warn, "bridge-nf-call-iptables=0".into()));
        }
        if f.ip_forward == Some(false) {
            out.push((Severity::Warn, "ip_forward=0".into()));
        }
    }
    if let Some(off) = f.time_offset_ms
        && off.abs() > 500
    {
        out.push((Severity::Warn, format!("clock off by {}ms", off)));
    }
    match f.disk_used_pct {
        p if p >= 95 => out.push((Severity::Critical, format!("disk {p}% full"))),
        p if p >= 85 => out.push((Severity::Warn, format!("disk {p}% full"))),
        _ => {}
    }
    out
}

pub fn short_kernel(k: &str) -> &str {
    let end = k.find(['-', '+']).unwrap_or(k.len());
    &k[..end]
}

pub fn assess(m: &Model, now: DateTime<Utc>) -> Assessment {
    let mut a = Acc(Vec::new());
    let plan = &m.plan;

    // Sources that fail are findings in their own right. Those that carry a critical property
    // (etcd, nodes, Ceph) are judged below, as unknown, with the reason.
    for (panel, name, f) in m.sources(now) {
        if matches!(name.as_str(), "etcd" | "static pods" | "nodes" | "ceph" | "rook") {
            continue;
        }
        // Alertmanager is the team's monitoring, not the cluster: failing, it leaves the alerts
        // unknown (the fleet row says `alerts ?`) without judging the cluster; its reason names it
        if name == "alertmanager" {
            match f {
                Freshness::Failed { reason, .. } => a.add(Severity::Info, panel, "alertmanager", reason),
                Freshness::Stale { age_ms } => {
                    a.add(Severity::Info, panel, "alertmanager", format!("alerts stale ({})", super::source::fmt_age_ms(age_ms)))
                }
                _ => {}
            }
            continue;
        }
        match f {
            Freshness::Failed { reason, .. } => a.add(Severity::Warn, panel, subject_of(&name), format!("{name}: {reason}")),
            Freshness::Stale { age_ms } => {
                a.add(Severity::Warn, panel, subject_of(&name), format!("{name}: stale ({})", super::source::fmt_age_ms(age_ms)))
            }
            Freshness::Waiting if m.meta.answer_by.is_some_and(|by| now >= by) => {
                a.add(Severity::Unknown, panel, subject_of(&name), format!("{name}: no answer in time (neither data nor an error)"))
            }
            _ => {}
        }
    }

    // Hosts vs plan.
    for h in &plan.hosts {
        if let Some(f) = m.hosts.get(&h.name).and_then(|s| s.data.as_ref()) {
            for (sev, msg) in host_drift(h, f) {
                a.add(sev, PanelId::Hosts, &h.name, msg);
            }
        }
    }

    // VIP and keepalived: verdicts from fresh observations only; an LB not seen is unknown, never
    // "not holding".
    let has_vip = plan.vip.is_some() && !matches!(plan.topology.load_balancer, LbTopology::LocalProxy | LbTopology::None);
    if has_vip && !m.vrrp.is_empty() {
        let verdict = m.vip_verdict(now);
        match &verdict {
            VipVerdict::Waiting | VipVerdict::NoVip => {}
            VipVerdict::Held { holder, unseen } => {
                // an unseen LB that held the VIP when last seen may hold it still: two holders cannot
                // be ruled out
                let hidden: Vec<String> = unseen.iter().filter(|u| u.held == Some(true)).map(|u| u.describe()).collect();
                if !hidden.is_empty() {
                    a.add(
                        Severity::Unknown,
                        PanelId::Vip,
                        "vip",
                        format!("VIP on {holder}; a second holder cannot be ruled out: {}", hidden.join("; ")),
                    );
                }
            }
            VipVerdict::HandingOver { to, from, .. } => a.add(
                Severity::Info,
                PanelId::Vip,
                "vip",
                format!("VIP handing over to {to}: {} (BACKUP) still lets it go", from.join(" and ")),
            ),
            VipVerdict::SplitBrain { holders, .. } => match m.brief_vip_window(now) {
                Some((label, ms)) => a.add(
                    Severity::Info,
                    PanelId::Vip,
                    "vip",
                    format!("VIP on {} for {} ({label}, planned)", holders.join(" and "), super::source::fmt_age_ms(ms)),
                ),
                None => a.add(Severity::Critical, PanelId::Vip, "vip", format!("split brain: VIP held by {}", holders.join(" and "))),
            },
            VipVerdict::NotHeld => match m.brief_vip_window(now) {
                Some((label, ms)) => a.add(
                    Severity::Warn,
                    PanelId::Vip,
                    "vip",
                    format!("VIP between holders for {} ({label}, planned)", super::source::fmt_age_ms(ms)),
                ),
                None => a.add(Severity::Critical, PanelId::Vip, "vip", "VIP is not held by any load balancer (every LB seen)"),
            },
            VipVerdict::Unknown { unseen } => {
                let answers = m.vip_probe.freshness(now).is_fresh() && m.vip_probe.error.is_none() && m.vip_probe.data.is_some();
                let why: Vec<String> = unseen.iter().map(|u| u.describe()).collect();
                let tail = if answers { "; the VIP answers" } else { "" };
                a.add(Severity::Unknown, PanelId::Vip, "vip", format!("VIP holder unknown: {}{tail}", why.join("; ")));
            }
        }
        let fresh = |s: &super::Sourced<super::VrrpView>| s.freshness(now).is_fresh();
        for (lb, s) in m.vrrp.iter().filter(|(_, s)| fresh(s)) {
            if let Some(v) = &s.data {
                match v.state {
                    VrrpState::Fault => a.add(Severity::Warn, PanelId::Vip, lb, format!("{lb} keepalived in FAULT")),
                    VrrpState::Stopped => a.add(Severity::Warn, PanelId::Vip, lb, format!("{lb} keepalived not running")),
                    _ => {}
                }
            }
        }
        let backups_ok =
            m.vrrp.values().filter(|s| fresh(s)).filter_map(|s| s.data.as_ref()).filter(|v| matches!(v.state, VrrpState::Backup)).count();
        if matches!(&verdict, VipVerdict::Held { unseen, .. } if unseen.is_empty()) && backups_ok == 0 && m.vrrp.len() > 1 {
            a.add(Severity::Warn, PanelId::Vip, "vip", "no healthy BACKUP: a failover has nowhere to go");
        }
        if let Some(text) = super::hacheck::vip_probe_finding(m) {
            a.add(Severity::Critical, PanelId::Vip, "vip", text);
        }
    }

    // KubeKey's internal load balancer: each node reaches the apiserver through its own haproxy
    if plan.topology.load_balancer == LbTopology::LocalProxy {
        for h in plan.haproxy_hosts() {
            if super::hacheck::haproxy_dead(m, &h.name, now) {
                a.add(
                    Severity::Critical,
                    PanelId::Haproxy,
                    &h.name,
                    format!("{}: its local haproxy is dead: the kubelet and the pods on {} reach no apiserver through it", h.name, h.name),
                );
            }
        }
    }

    // haproxy.
    let mut down_everywhere: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for (lb, s) in &m.haproxy {
        let Some(servers) = &s.data else { continue };
        let serving = servers.iter().filter(|b| b.status.is_serving()).count();
        if !servers.is_empty() && serving == 0 {
            a.add(Severity::Critical, PanelId::Haproxy, lb, format!("{lb}: no backend server is up"));
        }
        for b in servers {
            let e = down_everywhere.entry(b.server.clone()).or_default();
            e.1 += 1;
            if matches!(b.status, ServerStatus::Maint | ServerStatus::Drain) {
                // set by an operator through the Runtime API: said, not an alarm (no backend left up
                // is, above)
                let what = if b.status == ServerStatus::Maint { "in maintenance" } else { "draining" };
                a.add(
                    Severity::Info,
                    PanelId::Haproxy,
                    format!("{lb}/{}", b.server),
                    format!("{lb}: {} {what} (set by an operator)", b.server),
                );
            } else if !b.status.is_serving() {
                e.0 += 1;
                let why = b.check_status.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
                a.add(Severity::Warn, PanelId::Haproxy, format!("{lb}/{}", b.server), format!("{lb}: {} {}{why}", b.server, b.status_text));
            }
        }
    }
    for (master, s) in &m.readyz {
        if let Some(r) = &s.data
            && !r.ok
        {
            a.add(Severity::Warn, PanelId::Haproxy, master, format!("{master} /readyz: {} {}", r.status, r.detail));
        }
    }

    // Critical properties whose source is not fresh: unknown, with the reason and the last value's age.
    let etcd_planned = plan.hosts.iter().any(|h| h.roles.etcd);
    if etcd_planned || !m.etcd.unheard() {
        unknown_unless_fresh(&mut a, now, PanelId::Etcd, "quorum", "etcd quorum", &m.etcd);
    }
    unknown_unless_fresh(&mut a, now, PanelId::Nodes, "nodes", "node readiness", &m.nodes);
    if !m.haproxy.is_empty() && !m.haproxy.values().any(|s| s.freshness(now).is_fresh()) {
        // the apiservers themselves may still be known: each one's /readyz, asked directly
        let masters: Vec<&str> = plan.masters().map(|h| h.name.as_str()).collect();
        // each apiserver's state is known from a recent answer, a refusal included (it is down)
        let recent = |s: &super::Sourced<super::Readyz>| s.freshness(now).is_fresh() || s.failing_now(now);
        let readyz_known = !masters.is_empty() && masters.iter().all(|h| m.readyz.get(*h).is_some_and(recent));
        if readyz_known {
            a.add(
                Severity::Warn,
                PanelId::Haproxy,
                "haproxy",
                "haproxy's view of the apiserver backends unknown: no haproxy answers (the apiservers answer /readyz directly)",
            );
        } else {
            a.add(Severity::Unknown, PanelId::Haproxy, "haproxy", "apiserver backends unknown: no haproxy answers");
        }
    }
    if (plan.ceph.is_some() || !m.rook.unheard()) && !m.ceph_fresh(now) {
        let why: Vec<String> = [("ceph", &m.ceph), ("rook", &m.rook)]
            .into_iter()
            .filter(|(n, s)| !s.unheard() || (*n == "ceph" && plan.ceph.is_some()))
            .map(|(n, s)| format!("{n}: {}", not_fresh_reason(s, now)))
            .collect();
        a.add(Severity::Unknown, PanelId::Ceph, "health", format!("Ceph health unknown: {}", why.join("; ")));
    }

    // etcd.
    if let Some(e) = &m.etcd.data {
        let can_lose = e.can_lose();
        if can_lose < 0 {
            a.add(
                Severity::Critical,
                PanelId::Etcd,
                "quorum",
                format!("quorum lost: {}/{} members healthy, {} needed", e.healthy(), e.size(), e.quorum()),
            );
        } else if e.leader().is_none() && !e.members.is_empty() {
            a.add(Severity::Critical, PanelId::Etcd, "leader", "etcd has no leader");
        } else if can_lose == 0 && e.size() > 1 {
            a.add(Severity::Warn, PanelId::Etcd, "quorum", "etcd cannot lose another member");
        }
        for mem in &e.members {
            if !mem.reachable {
                let why = mem.error.as_deref().unwrap_or("no answer");
                a.add(Severity::Warn, PanelId::Etcd, &mem.name, format!("etcd {} down: {why}", mem.name));
            } else if mem.apply_lag() > 1_000 {
                a.add(Severity::Warn, PanelId::Etcd, &mem.name, format!("etcd {} applies {} entries behind", mem.name, mem.apply_lag()));
            }
        }
        for al in &e.alarms {
            a.add(Severity::Critical, PanelId::Etcd, &al.member, format!("etcd alarm {} on {}", al.alarm, al.member));
        }
    }

    // Without a host plan: etcd and the apiservers as their static pods show them, and the served
    // certificates against the kubeconfig's CA.
    if plan.is_kubeconfig_only() {
        if m.etcd.unheard() {
            unknown_unless_fresh(&mut a, now, PanelId::Etcd, "quorum", "etcd quorum", &m.control_plane);
        }
        for (sev, panel, subject, text) in super::apiview::findings_without_plan(m, now) {
            a.add(sev, panel, subject, text);
        }
    }

    // Leases.
    if let Some(ls) = &m.leases.data {
        let mut stale_nodes = Vec::new();
        for l in ls {
            if !l.expired(now) {
                continue;
            }
            match l.kind {
                LeaseKind::LeaderElection => a.add(
                    Severity::Warn,
                    PanelId::Leases,
                    &l.name,
                    format!("{} holder {} stopped renewing", l.name, l.holder_host().unwrap_or("-")),
                ),
                LeaseKind::NodeHeartbeat => stale_nodes.push(l.name.clone()),
            }
        }
        if !stale_nodes.is_empty() {
            let shown: Vec<&str> = stale_nodes.iter().take(5).map(String::as_str).collect();
            let more = stale_nodes.len().saturating_sub(5);
            let tail = if more > 0 { format!(" +{more}") } else { String::new() };
            a.add(Severity::Warn, PanelId::Leases, "node-leases", format!("node heartbeat lease expired: {}{tail}", shown.join(" ")));
        }
    }

    // Nodes.
    if let Some(ns) = &m.nodes.data {
        if ns.is_empty() {
            a.add(Severity::Warn, PanelId::Nodes, "nodes", "the API lists no nodes: no kubelet has registered");
        }
        let cps: Vec<_> = ns.iter().filter(|n| n.is_control_plane()).collect();
        if !cps.is_empty() && cps.iter().all(|n| n.ready != Some(true)) {
            a.add(Severity::Critical, PanelId::Nodes, "control-plane", "no control-plane node is Ready");
        }
        for n in ns {
            match n.ready {
                Some(true) => {}
                Some(false) => a.add(Severity::Warn, PanelId::Nodes, &n.name, format!("{} NotReady", n.name)),
                None => a.add(Severity::Warn, PanelId::Nodes, &n.name, format!("{} status Unknown", n.name)),
            }
            // a cordon left behind after maintenance is capacity quietly gone
            if n.unschedulable {
                a.add(Severity::Warn, PanelId::Nodes, &n.name, format!("{} cordoned: no new pods are scheduled there", n.name));
            }
            for p in &n.pressures {
                a.add(Severity::Warn, PanelId::Nodes, &n.name, format!("{} {p}", n.name));
            }
            for over in overcommit(n) {
                a.add(Severity::Warn, PanelId::Nodes, &n.name, format!("{} {over}", n.name));
            }
        }
    }

    // Platform workloads: DNS and kube-proxy at zero are outages, anything else short is degraded.
    if let Some(ws) = &m.workloads.data {
        for w in ws.iter().filter(|w| w.namespace == "kube-system" && w.desired == 0) {
            // DNS scaled to zero, kube-proxy on no node: "ready" only in the sense that nothing is asked
            let nodes = m.nodes.data.as_ref().is_some_and(|n| !n.is_empty());
            if w.name.contains("coredns") || (w.name.contains("kube-proxy") && nodes) {
                let what = if w.kind == super::WorkloadKind::DaemonSet { "runs on no node" } else { "is scaled to 0" };
                let subject = format!("{}/{}", w.namespace, w.name);
                a.add(Severity::Critical, PanelId::Platform, subject, format!("{} {}/{} {what}", w.kind.short(), w.namespace, w.name));
            }
        }
        for w in ws.iter().filter(|w| !w.is_ready()) {
            let vital = w.namespace == "kube-system" && (w.name.contains("coredns") || w.name.contains("kube-proxy"));
            let sev = if vital && w.ready == 0 && w.desired > 0 { Severity::Critical } else { Severity::Warn };
            a.add(
                sev,
                PanelId::Platform,
                format!("{}/{}", w.namespace, w.name),
                format!("{} {}/{} {}/{} ready", w.kind.short(), w.namespace, w.name, w.ready, w.desired),
            );
        }
    }

    // Ceph.
    if let Some(c) = m.ceph_view() {
        for chk in &c.checks {
            let sev = match chk.severity {
                CephHealth::Ok => Severity::Info,
                CephHealth::Warn => Severity::Warn,
                CephHealth::Err => Severity::Critical,
            };
            a.add(sev, PanelId::Ceph, &chk.code, format!("{} {}", chk.code, chk.summary));
        }
        if c.checks.is_empty() && c.health != CephHealth::Ok {
            let sev = if c.health == CephHealth::Err { Severity::Critical } else { Severity::Warn };
            a.add(sev, PanelId::Ceph, "health", c.health.label());
        }
    }

    // Certificates.
    for (host, s) in &m.certs {
        let Some(certs) = &s.data else { continue };
        for c in certs {
            let days = c.days_left(now);
            let sev = if days < 7 {
                Severity::Critical
            } else if days < 30 {
                Severity::Warn
            } else {
                continue;
            };
            let msg = if days < 0 { format!("{host} {} expired", c.name) } else { format!("{host} {} expires in {days}d", c.name) };
            a.add(sev, PanelId::Certs, format!("{host}/{}", c.name), msg);
        }
    }

    let mut findings = a.0;
    super::hacheck::findings(m, now, &mut findings);
    super::snapshots::findings(m, now, &mut findings);
    // the worst first; among equals, what costs the most when it gets worse (etcd's quorum before a
    // host's kernel): the header leads with the first
    findings.sort_by(|x, y| y.severity.cmp(&x.severity).then(impact(x.panel).cmp(&impact(y.panel))));
    let sources = m.sources(now);
    let any_fresh = sources.iter().any(|(_, _, f)| f.is_fresh());
    // a known critical outranks everything, also when nothing else answers (the VIP probe's "no
    // route to host" is a fact)
    let level = if findings.iter().any(|f| f.severity == Severity::Critical) {
        HealthLevel::Critical
    } else if !any_fresh {
        HealthLevel::Unreachable
    } else if findings.iter().any(|f| f.severity == Severity::Unknown) {
        HealthLevel::Unknown
    } else if findings.iter().any(|f| f.severity == Severity::Warn) {
        HealthLevel::Degraded
    } else {
        HealthLevel::Healthy
    };
    Assessment { level, findings }
}

/// Why a source's data is not current: its failure, its age, or that it never answered.
fn not_fresh_reason<T: PartialEq>(s: &super::Sourced<T>, now: DateTime<Utc>) -> String {
    let f = s.freshness(now);
    match &f {
        Freshness::Failed { age_ms: Some(a), .. } => format!("{} (last seen {} ago)", f.why_not_fresh(), super::source::fmt_age_ms(*a)),
        _ => f.why_not_fresh(),
    }
}

/// A critical property whose one source is not fresh is unknown: say so, with why.
fn unknown_unless_fresh<T: PartialEq>(a: &mut Acc, now: DateTime<Utc>, panel: PanelId, subject: &str, what: &str, s: &super::Sourced<T>) {
    if !s.freshness(now).is_fresh() {
        a.add(Severity::Unknown, panel, subject, format!("{what} unknown: {}", not_fresh_reason(s, now)));
    }
}

/// "host slb1" -> "slb1"; "keepalived slb2" -> "slb2"; "etcd" -> "etcd".
fn subject_of(source_name: &str) -> String {
    source_name.split_whitespace().last().unwrap_or(source_name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_major_minor("3.10.0-1160.el7.x86_64"), Some((3, 10)));
        assert_eq!(kernel_major_minor("5.4.0-150-generic"), Some((5, 4)));
        assert_eq!(kernel_major_minor("6"), None);
        assert_eq!(kernel_major_minor(""), None);
        assert!(kernel_major_minor("4.18.0").unwrap() < MIN_KERNEL);
        assert!(kernel_major_minor("4.19.1").unwrap() >= MIN_KERNEL);
        assert_eq!(short_kernel("3.10.0-1160.el7.x86_64"), "3.10.0");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(HealthLevel::Healthy.exit_code(), 0);
        assert_eq!(HealthLevel::Degraded.exit_code(), 1);
        assert_eq!(HealthLevel::Critical.exit_code(), 2);
        assert_eq!(HealthLevel::Unknown.exit_code(), 3);
        assert_eq!(HealthLevel::Unreachable.exit_code(), 3);
    }
}
