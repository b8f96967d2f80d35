//! The report's "HA configuration" section: per LB, the keepalived instance carrying the VIP and
//! haproxy's apiserver backend, as the daemons run them, where they were read and when; a
//! configuration that could not be read says why.

use chrono::{DateTime, Utc};

use super::esc;
use crate::hacfg::keepalived::VrrpState;
use crate::hacfg::predict::checks_of;
use crate::hacfg::secs;
use crate::model::Model;
use crate::model::source::fmt_age_ms;

pub(super) fn section(m: &Model, now: DateTime<Utc>, s: &mut String) {
    s.push_str("\n## HA configuration\n\n");
    if m.ha_config.is_empty() {
        s.push_str(if m.plan.is_kubeconfig_only() {
            "Not read: no host plan (keepalived.conf and haproxy.cfg are read over SSH on the hosts that run them).\n"
        } else {
            "Not read: no host runs keepalived or haproxy in the plan, or no read has answered yet.\n"
        });
        return;
    }
    let vip = m.plan.vip.as_ref().map(|v| v.address.to_string());
    let port = m.plan.vip.as_ref().map(|v| v.port).unwrap_or(crate::hacfg::haproxy::APISERVER_PORT);
    s.push_str(
        "| LB | read | keepalived (instance carrying the VIP) | checks (interval x fall = detection, weight) |\n|---|---|---|---|\n",
    );
    for (lb, src) in &m.ha_config {
        let read = match (&src.data, src.updated, &src.error) {
            (_, _, Some(e)) if src.data.is_none() => format!("NOT READ: {}", e.reason),
            (_, Some(t), e) => {
                let now_failing = e.as_ref().map(|e| format!("; now failing: {}", e.reason)).unwrap_or_default();
                format!("{} ago{now_failing}", fmt_age_ms((now - t).num_milliseconds()))
            }
            _ => "waiting".into(),
        };
        let Some(v) = src.data.as_deref() else {
            s.push_str(&format!("| {lb} | {} | - | - |\n", esc(&read)));
            continue;
        };
        let problems: Vec<&String> = v.problems.iter().filter(|p| p.starts_with("keepalived")).collect();
        let (what, checks) = match &v.keepalived {
            None if !problems.is_empty() => (problems.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("; "), "-".to_string()),
            None => ("no keepalived configuration".to_string(), "-".to_string()),
            Some(k) => match k.carrying(vip.as_deref(), None) {
                None => ("no vrrp_instance".to_string(), "-".to_string()),
                Some(i) => {
                    let state = match i.state {
                        Some(VrrpState::Master) => "MASTER",
                        Some(VrrpState::Backup) => "BACKUP",
                        None => "state not set",
                    };
                    let preempt = match (i.nopreempt, i.preempt_delay) {
                        (true, _) => "nopreempt".to_string(),
                        (false, Some(d)) => format!("preempt_delay {}", secs(d)),
                        (false, None) => "preempt".to_string(),
                    };
                    let peers = if i.unicast_peers.is_empty() {
                        "multicast".to_string()
                    } else {
                        format!("unicast to {}", i.unicast_peers.join(" "))
                    };
                    let auth = i.auth_text();
                    let files = k.files.join(", ");
                    let what = format!(
                        "{} {state} priority {}, advert_int {}, {preempt}, {peers}, {auth} ({files})",
                        i.name,
                        i.priority,
                        secs(i.advert_int)
                    );
                    let checks: Vec<String> = checks_of(k, i)
                        .iter()
                        .map(|c| match c.interval_fall {
                            Some((iv, f)) => format!("{}: {} x {f} = {}, weight {}", c.name, secs(iv), secs(c.reaction_s), c.weight),
                            None => format!("{}: weight {}", c.name, c.weight),
                        })
                        .collect();
                    (what, if checks.is_empty() { "none".into() } else { checks.join("; ") })
                }
            },
        };
        s.push_str(&format!("| {lb} | {} | {} | {} |\n", esc(&read), esc(&what), esc(&checks)));
    }
    s.push_str("\n| LB | haproxy files | stats | frontends on the VIP's port | apiserver backend: checks, servers, DOWN after |\n|---|---|---|---|---|\n");
    for (lb, src) in &m.ha_config {
        let Some(v) = src.data.as_deref() else {
            let why = src.error.as_ref().map(|e| format!("NOT READ: {}", e.reason)).unwrap_or_else(|| "waiting".into());
            s.push_str(&format!("| {lb} | {} | - | - | - |\n", esc(&why)));
            continue;
        };
        let Some(h) = &v.haproxy else {
            let problems: Vec<&str> = v.problems.iter().filter(|p| p.starts_with("haproxy")).map(String::as_str).collect();
            let why = if problems.is_empty() { "no haproxy configuration".to_string() } else { problems.join("; ") };
            s.push_str(&format!("| {lb} | {} | - | - | - |\n", esc(&why)));
            continue;
        };
        let used = m.haproxy.get(lb).and_then(|x| x.source.split_once(": ").map(|(_, f)| f.to_string()));
        let stats = used.or_else(|| h.stats_sockets.first().map(|s| format!("{} ({})", s.address, s.at))).unwrap_or_else(|| "none".into());
        let fronts: Vec<String> = h.binding(port).iter().map(|f| format!("{} -> {}", f.name, f.targets().join(","))).collect();
        let backends: Vec<String> = h
            .apiserver_backends(Some(port))
            .iter()
            .map(|b| {
                let mut how = vec![];
                if let Some((meth, uri)) = &b.checks.httpchk {
                    how.push(format!("httpchk {meth} {uri}"));
                }
                if b.checks.ssl_hello {
                    how.push("ssl-hello-chk".into());
                }
                if b.checks.tcp_check {
                    how.push("tcp-check".into());
                }
                let servers: Vec<String> = b
                    .servers
                    .iter()
                    .map(|x| {
                        let ssl = if x.check_ssl { " check-ssl" } else { "" };
                        if x.check {
                            format!("{} check{ssl} inter {} fall {} rise {}", x.name, secs(x.inter_ms as f64 / 1000.0), x.fall, x.rise)
                        } else {
                            format!("{} NO check", x.name)
                        }
                    })
                    .collect();
                let down = b.servers.iter().filter(|x| x.check).map(|x| x.down_after_ms()).max();
                let down = down.map(|d| secs(d as f64 / 1000.0)).unwrap_or_else(|| "never".into());
                format!(
                    "{}: {}; {}; DOWN after {down}",
                    b.name,
                    if how.is_empty() { "TCP connect".into() } else { how.join(", ") },
                    servers.join(", ")
                )
            })
            .collect();
        s.push_str(&format!(
            "| {lb} | {} | {} | {} | {} |\n",
            esc(&h.files.join(", ")),
            esc(&stats),
            esc(&if fronts.is_empty() { "none".into() } else { fronts.join("; ") }),
            esc(&if backends.is_empty() { "none found".into() } else { backends.join("; ") })
        ));
    }
}
