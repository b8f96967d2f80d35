//! Planning a change to one apiserver's place behind haproxy, on every LB at once: drain it (no new
//! connections, then maintenance once its sessions are gone) or make it ready again. The planner
//! judges the model; the executor judges fresh `show stat` reads with the same checks right before
//! it acts.

use serde::Serialize;

use super::OpPlan;
use crate::model::{BackendServer, Model, ServerStatus};

/// What an haproxy server is asked to become, through the Runtime API's `set server ... state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerAdmin {
    /// `state drain`, wait until its sessions are gone (or a deadline), then `state maint`.
    Drain,
    /// `state ready`: back in service once its health check passes.
    Ready,
}

/// How long a drain waits for the server's sessions to end before it sets maintenance anyway.
pub const DRAIN_WAIT_SECS: u64 = 30;

/// One LB's copy of the server: where it is and what haproxy says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerTarget {
    pub lb: String,
    pub backend: String,
    /// The server's name in that backend (`m2`, `kube-master2`).
    pub server: String,
    pub status: ServerStatus,
    pub sessions: u64,
}

impl ServerTarget {
    /// `backend/server`, as the Runtime API names it.
    pub fn path(&self) -> String {
        format!("{}/{}", self.backend, self.server)
    }
}

/// What a server change found: what stops it, what to know first, and the server on every LB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerChecks {
    pub blockers: Vec<String>,
    pub warnings: Vec<String>,
    pub targets: Vec<ServerTarget>,
}

/// Whether `s` is the server the operator named: by its haproxy name, or by the address of the plan
/// host of that name (`ip`).
fn is_named(s: &BackendServer, name: &str, ip: Option<&str>) -> bool {
    let host = s.address.rsplit_once(':').map_or(s.address.as_str(), |(h, _)| h).trim_matches(['[', ']']);
    s.server == name || ip.is_some_and(|ip| host == ip)
}

/// Whether `admin` can be applied to `server` now, from what every haproxy host said (`lbs`: the LB
/// and its server list, or why it is unknown). `ip`: the address of the plan host named `server`.
pub fn server_checks(
    lbs: &[(String, Result<Vec<BackendServer>, String>)],
    server: &str,
    ip: Option<&str>,
    admin: ServerAdmin,
) -> ServerChecks {
    let mut c = ServerChecks::default();
    if lbs.is_empty() {
        c.blockers.push("kockpit sees no haproxy in this cluster (no LB in the plan, or none found)".into());
        return c;
    }
    let mut in_service = vec![];
    for (lb, seen) in lbs {
        let servers = match seen {
            Ok(s) => s,
            Err(why) => {
                c.blockers.push(format!("haproxy on {lb} is unknown now ({why}): the server is changed on every LB at once, or on none"));
                continue;
            }
        };
        let mine: Vec<&BackendServer> = servers.iter().filter(|s| is_named(s, server, ip)).collect();
        if mine.is_empty() {
            let names: Vec<&str> = servers.iter().map(|s| s.server.as_str()).collect();
            c.blockers.push(format!("{lb}: haproxy has no server {server} (its servers: {})", names.join(", ")));
            continue;
        }
        for s in mine {
            c.targets.push(ServerTarget {
                lb: lb.clone(),
                backend: s.backend.clone(),
                server: s.server.clone(),
                status: s.status,
                sessions: s.sessions,
            });
            match admin {
                ServerAdmin::Drain => {
                    let others: Vec<&BackendServer> = servers.iter().filter(|o| o.backend == s.backend && o.server != s.server).collect();
                    if !others.iter().any(|o| o.status.is_serving()) {
                        let said: Vec<String> = others.iter().map(|o| format!("{} {}", o.server, o.status_text)).collect();
                        let said = if said.is_empty() { "it is the only one".to_string() } else { said.join(", ") };
                        c.blockers.push(format!(
                            "{lb}: backend {} would have no UP server left ({said}): every request through {lb} would fail",
                            s.backend
                        ));
                    }
                    match s.status {
                        ServerStatus::Maint => c.warnings.push(format!("{lb}: {} is in maintenance already", path_of(s))),
                        ServerStatus::Drain => c.warnings.push(format!("{lb}: {} is draining already", path_of(s))),
                        _ => {}
                    }
                }
                ServerAdmin::Ready => {
                    if !matches!(s.status, ServerStatus::Maint | ServerStatus::Drain) {
                        in_service.push(lb.clone());
                    }
                    if matches!(s.status, ServerStatus::Down | ServerStatus::GoingUp) {
                        c.warnings.push(format!(
                            "{lb}: {} fails its health check ({}): ready, it stays DOWN until the check passes",
                            path_of(s),
                            s.check_status.as_deref().unwrap_or(&s.status_text)
                        ));
                    }
                }
            }
        }
    }
    if admin == ServerAdmin::Drain
        && c.blockers.is_empty()
        && !c.targets.is_empty()
        && c.targets.iter().all(|t| t.status == ServerStatus::Maint)
    {
        c.blockers.push(format!("{server} is in maintenance on every LB already: nothing to do"));
    }
    if admin == ServerAdmin::Ready && c.blockers.is_empty() && !c.targets.is_empty() && in_service.len() == c.targets.len() {
        c.blockers.push(format!("{server} is in service on every LB already (not in maintenance or draining): nothing to do"));
    }
    c
}

fn path_of(s: &BackendServer) -> String {
    format!("{}/{}", s.backend, s.server)
}

/// What every haproxy host of the model says now, as [`server_checks`] takes it.
pub fn haproxy_seen(m: &Model) -> Vec<(String, Result<Vec<BackendServer>, String>)> {
    m.haproxy
        .iter()
        .map(|(lb, s)| {
            let seen = match (&s.data, &s.error) {
                (Some(v), None) => Ok(v.clone()),
                (Some(_), Some(e)) => Err(format!("its source fails: {}; what it last said may be out of date", e.reason)),
                (None, Some(e)) => Err(e.reason.clone()),
                (None, None) => Err("not read yet".into()),
            };
            (lb.clone(), seen)
        })
        .collect()
}

pub(super) fn plan_server(p: &mut OpPlan, m: &Model, server: &str, admin: ServerAdmin) {
    let ip = m.plan.host(server).map(|h| h.address.to_string());
    let c = server_checks(&haproxy_seen(m), server, ip.as_deref(), admin);
    p.blockers.extend(c.blockers);
    p.warnings.extend(c.warnings);
    let lbs: Vec<&str> = c.targets.iter().map(|t| t.lb.as_str()).collect();
    let path = c.targets.first().map(ServerTarget::path).unwrap_or_else(|| format!("?/{server}"));
    let on = if lbs.is_empty() { "every LB".to_string() } else { lbs.join(", ") };
    p.steps.push(format!("read haproxy again on {on}; ask each socket its level (`set server` needs admin); stop if any says no"));
    match admin {
        ServerAdmin::Drain => {
            p.steps.push(format!("set server {path} state drain on {on}: no new connections to it"));
            p.steps.push(format!(
                "wait until its sessions reach 0 on every LB ({DRAIN_WAIT_SECS} s at most: clients' long watches may outlive it)"
            ));
            p.steps.push(format!("set server {path} state maint on {on}; verify MAINT on every LB"));
            p.steps.push("a failure on one LB sets the LBs already changed back to ready".into());
            p.warnings.push(format!("{server} takes no apiserver traffic through haproxy until it is made ready again"));
        }
        ServerAdmin::Ready => {
            p.steps.push(format!("set server {path} state ready on {on}"));
            p.steps.push("verify: out of maintenance on every LB, and UP once its health check passes (10 s at most)".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(name: &str, addr: &str, status: &str) -> BackendServer {
        BackendServer {
            backend: "kube-apiserver".into(),
            server: name.into(),
            address: addr.into(),
            status: ServerStatus::parse(status),
            status_text: status.into(),
            check_status: Some(if status.starts_with("DOWN") { "L4CON" } else { "L7OK" }.into()),
            check_duration_ms: None,
            last_change_secs: None,
            sessions: 3,
            weight: 1,
        }
    }

    fn lbs(per_lb: &[&[(&str, &str)]]) -> Vec<(String, Result<Vec<BackendServer>, String>)> {
        per_lb
            .iter()
            .enumerate()
            .map(|(i, servers)| {
                let v = servers.iter().enumerate().map(|(k, (n, st))| srv(n, &format!("10.0.0.{}:6443", 21 + k), st)).collect();
                (format!("lb{}", i + 1), Ok(v))
            })
            .collect()
    }

    const UP3: &[(&str, &str)] = &[("m1", "UP"), ("m2", "UP"), ("m3", "UP")];

    #[test]
    fn a_drain_targets_the_server_on_every_lb() {
        let c = server_checks(&lbs(&[UP3, UP3]), "m2", None, ServerAdmin::Drain);
        assert!(c.blockers.is_empty(), "{c:?}");
        let on: Vec<(&str, String)> = c.targets.iter().map(|t| (t.lb.as_str(), t.path())).collect();
        assert_eq!(on, [("lb1", "kube-apiserver/m2".to_string()), ("lb2", "kube-apiserver/m2".to_string())]);
    }

    #[test]
    fn a_server_is_also_named_by_the_plan_host_at_its_address() {
        // KubeKey and the kubeadm guide name servers their own way; the plan's host is found by address
        let c = server_checks(&lbs(&[UP3]), "master2", Some("10.0.0.22"), ServerAdmin::Drain);
        assert!(c.blockers.is_empty(), "{c:?}");
        assert_eq!(c.targets[0].server, "m2");
        let c = server_checks(&lbs(&[UP3]), "master9", Some("10.0.0.99"), ServerAdmin::Drain);
        assert!(c.blockers[0].contains("no server master9") && c.blockers[0].contains("m1, m2, m3"), "{c:?}");
    }

    #[test]
    fn a_drain_that_leaves_an_lb_without_an_up_server_is_refused() {
        // on lb2 the others are down and in maintenance: lb1 alone would be fine
        let lb2: &[(&str, &str)] = &[("m1", "DOWN"), ("m2", "UP"), ("m3", "MAINT")];
        let c = server_checks(&lbs(&[UP3, lb2]), "m2", None, ServerAdmin::Drain);
        assert_eq!(c.blockers.len(), 1, "{c:?}");
        assert!(c.blockers[0].starts_with("lb2: backend kube-apiserver would have no UP server left (m1 DOWN, m3 MAINT)"), "{c:?}");
        // a server failing its checks still serves ("UP 1/2"): it counts
        let lb2: &[(&str, &str)] = &[("m1", "UP 1/2"), ("m2", "UP"), ("m3", "DOWN")];
        assert!(server_checks(&lbs(&[UP3, lb2]), "m2", None, ServerAdmin::Drain).blockers.is_empty());
        let alone: &[(&str, &str)] = &[("m2", "UP")];
        let c = server_checks(&lbs(&[alone]), "m2", None, ServerAdmin::Drain);
        assert!(c.blockers[0].contains("it is the only one"), "{c:?}");
    }

    #[test]
    fn an_lb_not_seen_refuses_the_change_everywhere() {
        let mut seen = lbs(&[UP3, UP3]);
        seen[1].1 = Err("ssh: connection timed out".into());
        for admin in [ServerAdmin::Drain, ServerAdmin::Ready] {
            let c = server_checks(&seen, "m2", None, admin);
            assert!(c.blockers.iter().any(|b| b.contains("haproxy on lb2 is unknown now (ssh: connection timed out)")), "{c:?}");
        }
        assert!(server_checks(&[], "m2", None, ServerAdmin::Drain).blockers[0].contains("no haproxy"));
    }

    #[test]
    fn ready_needs_a_server_out_of_service_and_warns_of_one_that_fails_its_check() {
        let c = server_checks(&lbs(&[UP3, UP3]), "m2", None, ServerAdmin::Ready);
        assert!(c.blockers[0].contains("in service on every LB already"), "{c:?}");
        // in maintenance on one LB only (a drain cut short): ready is what undoes it
        let lb2: &[(&str, &str)] = &[("m1", "UP"), ("m2", "MAINT"), ("m3", "UP")];
        assert!(server_checks(&lbs(&[UP3, lb2]), "m2", None, ServerAdmin::Ready).blockers.is_empty());
        let down: &[(&str, &str)] = &[("m1", "UP"), ("m2", "DOWN"), ("m3", "UP")];
        let c = server_checks(&lbs(&[lb2, down]), "m2", None, ServerAdmin::Ready);
        assert!(c.blockers.is_empty() && c.warnings[0].contains("lb2: kube-apiserver/m2 fails its health check (L4CON)"), "{c:?}");
    }
}
