//! `kockpit audit report`: the cluster's state as a Markdown document an auditor can file — hosts
//! against the plan, the HA front, etcd, certificates, Ceph, nodes and every finding — with the time it
//! was taken and where each piece of data came from.

mod haconfig;
pub mod metrics;

use chrono::{DateTime, Utc};

use crate::model::health::host_drift;
use crate::model::source::fmt_age_ms;
use crate::model::{Assessment, Freshness, Model};

fn freshness_text(f: &Freshness) -> String {
    match f {
        Freshness::Waiting => "no data".into(),
        Freshness::Fresh { age_ms, .. } => format!("fresh ({} old)", fmt_age_ms(*age_ms)),
        Freshness::Stale { age_ms } => format!("STALE ({} old)", fmt_age_ms(*age_ms)),
        Freshness::Failed { reason, .. } => format!("FAILED: {reason}"),
    }
}

fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// etcd and the apiservers as kube-system's static pods show them (a cluster without a host plan).
fn control_plane(cp: &crate::model::apiview::ControlPlaneView, leases_note: Option<(crate::model::Severity, String)>, s: &mut String) {
    s.push_str("As the API sees it: kube-system's static pods, readiness by their kubelets. Leader, raft and database size are asked of etcd over SSH (a host plan).\n\n");
    if cp.etcd.is_empty() {
        let at = if cp.etcd_servers.is_empty() { "no kube-apiserver pod names it".to_string() } else { cp.etcd_servers.join(" ") };
        s.push_str(&format!("No etcd pod: etcd runs outside the pods ({at}).\n"));
        if let Some((_, text)) = leases_note {
            s.push_str(&format!("{text}\n"));
        }
    }
    for (what, pods) in [("etcd", &cp.etcd), ("kube-apiserver", &cp.apiservers)] {
        if pods.is_empty() {
            continue;
        }
        let ready = pods.iter().filter(|p| p.ready).count();
        s.push_str(&format!(
            "\n{what}: {ready}/{} pods ready\n\n| pod | node | phase | ready | restarts | advertises |\n|---|---|---|---|---|---|\n",
            pods.len()
        ));
        for p in pods {
            s.push_str(&format!("| {} | {} | {} | {} | {} | {} |\n", p.name, p.node, p.phase, p.ready, p.restarts, esc(&p.endpoint)));
        }
    }
}

pub fn markdown(m: &Model, a: &Assessment, now: DateTime<Utc>) -> String {
    let mut s = String::new();
    s.push_str(&format!("# Cluster state report: {}\n\n", m.meta.cluster));
    let plan = match &m.plan.source {
        crate::inventory::PlanSource::Kubeconfig { context, server, .. } => {
            format!("none: opened from the kubeconfig (context {context}, server {server}); what needs SSH is not seen")
        }
        _ => format!(
            "{} hosts, VIP {}, load balancer {:?}, etcd {:?}",
            m.plan.hosts.len(),
            m.plan.vip.as_ref().map(|v| format!("{}:{}", v.address, v.port)).unwrap_or_else(|| "none".into()),
            m.plan.topology.load_balancer,
            m.plan.topology.etcd,
        ),
    };
    s.push_str(&format!(
        "- Taken: {} (UTC)\n- By: kockpit {} in {} mode\n- Overall: **{:?}** (`kockpit status` exits {})\n- Plan: {plan}\n\n",
        now.format("%Y-%m-%d %H:%M:%S"),
        m.meta.version,
        m.meta.mode.label(),
        a.level,
        a.level.exit_code(),
    ));

    s.push_str("## Findings\n\n");
    if a.findings.is_empty() {
        s.push_str("None.\n\n");
    } else {
        s.push_str("| severity | area | subject | finding |\n|---|---|---|---|\n");
        for f in &a.findings {
            s.push_str(&format!("| {:?} | {:?} | {} | {} |\n", f.severity, f.panel, esc(&f.subject), esc(&f.message)));
        }
        s.push('\n');
    }

    s.push_str("## Hosts against the plan\n\n");
    if m.plan.is_kubeconfig_only() {
        s.push_str("No host plan: host facts are read over SSH on the hosts of a plan (`kockpit plan --from-cluster` drafts one).\n");
    }
    s.push_str("| host | roles | planned | kernel | OS | differences |\n|---|---|---|---|---|---|\n");
    for h in &m.plan.hosts {
        let src = m.hosts.get(&h.name);
        let (kernel, os, diff) = match (src.and_then(|x| x.error.as_ref()), src.and_then(|x| x.data.as_ref())) {
            (Some(e), _) => ("-".into(), "-".into(), format!("unreachable: {}", e.reason)),
            (None, Some(f)) => {
                let d: Vec<String> = host_drift(h, f).into_iter().map(|(_, t)| t).collect();
                (f.kernel.clone(), f.os.clone(), if d.is_empty() { "none".into() } else { d.join("; ") })
            }
            _ => ("-".into(), "-".into(), "no data".into()),
        };
        let size = h.size.map(|z| z.to_string()).unwrap_or_else(|| "-".into());
        s.push_str(&format!("| {} | {} | {} | {} | {} | {} |\n", h.name, h.roles.label(), size, esc(&kernel), esc(&os), esc(&diff)));
    }

    s.push_str("\n## HA front\n\n");
    let holders = m.vip_holders();
    let held = if m.plan.is_kubeconfig_only() {
        let answers = match (&m.vip_probe.data, &m.vip_probe.error) {
            (_, Some(e)) => format!("does not answer: {}", e.reason),
            (Some(p), None) => format!("answers (tcp {}, {:.1} ms)", p.address, p.connect_ms),
            (None, None) => "was not probed".into(),
        };
        format!("unknown: no host plan (keepalived is read over SSH); the kubeconfig's endpoint {answers}")
    } else if m.plan.keepalived_hosts().is_empty() {
        "no VIP: no host of the plan runs keepalived".to_string()
    } else if holders.is_empty() {
        "nobody".to_string()
    } else {
        holders.join(", ")
    };
    s.push_str(&format!("VIP held by: {held}\n\n"));
    if !m.vrrp.is_empty() {
        s.push_str("| LB | VRRP state | priority | effective | holds VIP |\n|---|---|---|---|---|\n");
        for (lb, v) in &m.vrrp {
            match &v.data {
                Some(d) => {
                    // a stopped keepalived has no priority, one whose view could not be read an unknown one
                    let (prio, eff) = match d.priority_text().as_str() {
                        p @ ("-" | "?") => (p.to_string(), p.to_string()),
                        _ => (d.priority.to_string(), d.effective_priority.to_string()),
                    };
                    s.push_str(&format!("| {lb} | {} | {prio} | {eff} | {} |\n", d.state.label(), d.holds_vip))
                }
                None => s.push_str(&format!("| {lb} | no data | | | |\n")),
            }
        }
    }
    if !m.haproxy.is_empty() {
        s.push_str("\n| LB | server | status | check |\n|---|---|---|---|\n");
        for (lb, v) in &m.haproxy {
            for b in v.data.iter().flatten() {
                s.push_str(&format!("| {lb} | {} | {} | {} |\n", b.server, b.status_text, b.check_status.as_deref().unwrap_or("-")));
            }
        }
    }

    haconfig::section(m, now, &mut s);

    s.push_str("\n## etcd\n\n");
    match &m.etcd.data {
        Some(e) => {
            s.push_str(&format!(
                "Members {}, healthy {}, quorum {}, can lose {}, leader {}\n\n| member | reachable | leader | version | raft index | DB size |\n|---|---|---|---|---|---|\n",
                e.size(),
                e.healthy(),
                e.quorum(),
                e.can_lose(),
                e.leader().map(|l| l.name.as_str()).unwrap_or("NONE")
            ));
            for mem in &e.members {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    mem.name, mem.reachable, mem.is_leader, mem.version, mem.raft_index, mem.db_size
                ));
            }
            for al in &e.alarms {
                s.push_str(&format!("\nALARM {} on {}\n", al.alarm, al.member));
            }
        }
        None => match &m.control_plane.data {
            Some(cp) => {
                let leases = m.leases.data.as_deref().filter(|_| m.leases.freshness(now).is_fresh());
                control_plane(cp, Some(crate::model::apiview::etcd_unseen(cp, leases, now)), &mut s)
            }
            None => s.push_str("No data.\n"),
        },
    }

    s.push_str("\n## Certificates (soonest first)\n\n| host | certificate | not after | days left |\n|---|---|---|---|\n");
    let mut certs: Vec<(&String, &crate::model::CertInfo)> =
        m.certs.iter().flat_map(|(h, v)| v.data.iter().flatten().map(move |c| (h, c))).collect();
    certs.sort_by_key(|(h, c)| (c.not_after, (*h).clone()));
    for (h, c) in certs {
        s.push_str(&format!("| {h} | {} | {} | {} |\n", c.name, c.not_after.format("%Y-%m-%d"), c.days_left(now)));
    }

    s.push_str("\n## Ceph\n\n");
    match m.ceph_shown() {
        Some(slot) => {
            let c = slot.data.as_ref().expect("a shown slot has data");
            s.push_str(&format!(
                "{}; mons {}/{} in quorum; OSDs {}/{} up, {}/{} in; PGs {}/{} active+clean; flags: {}\n",
                c.health.label(),
                c.mons_in_quorum,
                c.mons,
                c.osds_up,
                c.osds,
                c.osds_in,
                c.osds,
                c.pgs_clean(),
                c.pgs_total(),
                if c.flags.is_empty() { "none".into() } else { c.flags.join(",") }
            ));
            for k in &c.checks {
                s.push_str(&format!("- {} {}\n", k.code, esc(&k.summary)));
            }
            let when = |u: Option<DateTime<Utc>>| u.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default();
            s.push_str(&format!("\nFrom {}, as of {}.\n", esc(&slot.source), when(slot.updated)));
            let other = if std::ptr::eq(slot, &m.rook) { &m.ceph } else { &m.rook };
            if let Some(o) = &other.data {
                s.push_str(&format!("{} said {} as of {}.\n", esc(&other.source), o.health.label(), when(other.updated)));
            }
        }
        None => s.push_str("No data.\n"),
    }

    s.push_str("\n## Nodes\n\n");
    match &m.nodes.data {
        Some(ns) => {
            let ready = ns.iter().filter(|n| n.ready == Some(true)).count();
            let cordoned: Vec<&str> = ns.iter().filter(|n| n.unschedulable).map(|n| n.name.as_str()).collect();
            let not_ready: Vec<String> = ns
                .iter()
                .filter(|n| n.ready != Some(true))
                .map(|n| format!("{} ({})", n.name, if n.ready == Some(false) { "NotReady" } else { "Unknown" }))
                .collect();
            s.push_str(&format!(
                "{} nodes, {} Ready; not Ready: {}; cordoned: {}\n",
                ns.len(),
                ready,
                if not_ready.is_empty() { "none".into() } else { not_ready.join(", ") },
                if cordoned.is_empty() { "none".into() } else { cordoned.join(", ") }
            ));
        }
        None => s.push_str("No data.\n"),
    }

    s.push_str("\n## Sources\n\n| area | source | state |\n|---|---|---|\n");
    for (p, name, f) in m.sources(now) {
        s.push_str(&format!("| {:?} | {} | {} |\n", p, name, esc(&freshness_text(&f))));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mode, assess};
    use crate::sim::{Fault, settled_demo};

    #[test]
    fn report_covers_every_section_and_the_findings() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (_, m) = settled_demo(&[Fault::OsdDown, Fault::CertExpiring], 0, now, 8, Mode::Demo);
        let a = assess(&m, now);
        let md = markdown(&m, &a, now);
        for section in
            ["## Findings", "## Hosts against the plan", "## HA front", "## etcd", "## Certificates", "## Ceph", "## Nodes", "## Sources"]
        {
            assert!(md.contains(section), "{section} missing:\n{md}");
        }
        assert!(md.contains("Taken: 2027-01-15 08:00:00"), "{md}");
        assert!(md.contains("| master3 | cp+etcd | 8C-32G-150G | 3.10.0-1160.el7.x86_64 |"), "{md}");
        assert!(md.contains("OSD_DOWN"));
        assert!(md.contains("| master1 | apiserver | "), "{md}");
        assert!(md.contains("VIP held by: slb1"));
        assert!(md.contains("## HA configuration"), "{md}");
        assert!(md.contains("| slb1 | 0.0s ago | VI_1 MASTER priority 150, advert_int 1 s, preempt, unicast to 10.0.0.12, auth PASS (/etc/keepalived/keepalived.conf) | chk_haproxy: 2 s x 2 = 4 s, weight -60; kockpit_demote: weight -100 |"), "{md}");
        assert!(md.contains("kube-apiserver: httpchk GET /readyz; master1 check check-ssl inter 2 s fall 2 rise 2"), "{md}");
        assert!(!md.contains("<redacted>") && !md.contains("auth_pass"), "{md}");
        assert!(md.contains("Overall: **Critical**"), "{md}");
    }

    #[test]
    fn without_a_host_plan_the_report_shows_the_static_pods_and_says_what_it_cannot_see() {
        use crate::model::apiview::{ControlPlaneView, StaticPod};
        use crate::model::{Model, Observation, Payload};
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let plan = crate::inventory::Plan::from_kubeconfig("lab", "https://10.0.0.100:6443", None, None);
        let mut m = Model::new(plan, Mode::Live, "lab");
        let pod = |c: &str, node: &str, ready: bool| StaticPod {
            name: format!("{c}-{node}"),
            node: node.into(),
            phase: "Running".into(),
            ready,
            restarts: 0,
            started: None,
            endpoint: "https://10.0.0.11:2379".into(),
        };
        let view = ControlPlaneView {
            etcd: vec![pod("etcd", "m1", true), pod("etcd", "m2", false)],
            apiservers: vec![pod("kube-apiserver", "m1", true)],
            etcd_servers: vec![],
        };
        m.apply(Observation { at: now, source: "kube static pods".into(), budget_ms: 45_000, payload: Payload::ControlPlane(Ok(view)) });
        let md = markdown(&m, &assess(&m, now), now);
        assert!(md.contains("- Plan: none: opened from the kubeconfig (context lab, server https://10.0.0.100:6443)"), "{md}");
        assert!(md.contains("VIP held by: unknown: no host plan"), "{md}");
        assert!(
            md.contains("etcd: 1/2 pods ready") && md.contains("| etcd-m2 | m2 | Running | false | 0 | https://10.0.0.11:2379 |"),
            "{md}"
        );
        assert!(md.contains("kube-apiserver: 1/1 pods ready"), "{md}");
        assert!(!md.contains("No data.\n\n## Certificates"), "{md}");
    }
}
