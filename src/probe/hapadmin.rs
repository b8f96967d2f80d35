//! An apiserver taken out of haproxy's rotation, or put back, on every LB at once, through haproxy's
//! Runtime API (`set server BACKEND/SERVER state drain|maint|ready`) over SSH.
//!
//! Nothing is taken from the model: right before acting every LB's haproxy is read again and judged
//! with the planner's own checks, and every socket is asked its level (`show cli level`), so a
//! `user`-level socket refuses the whole change before any LB is touched. Each LB's change has its
//! intent recorded first. Should one LB refuse mid-way, the LBs already changed are set back to
//! ready: a server out of rotation on some LBs and not on others is worse than either.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::failover::OpContext;
use super::{ProbeTargets, haproxy};
use crate::backend::Reporter;
use crate::inventory::Host;
use crate::model::{BackendServer, ServerStatus};
use crate::ops::WriteCap;
use crate::ops::haproxy_plan::{DRAIN_WAIT_SECS, ServerAdmin, ServerTarget, server_checks};
use crate::transport::scripts::HAPROXY_CLI_SCRIPT;
use crate::transport::ssh::script_command;

/// How long a server made ready may take to pass its health check before the summary says it is
/// still DOWN (haproxy's default `inter 2s rise 2`: 4 s).
const UP_WITHIN: Duration = Duration::from_secs(10);
/// How often the servers' sessions are read while a drain waits.
const WAIT_EVERY: Duration = Duration::from_millis(500);

/// One LB's haproxy as read now, and the Runtime API socket that answered.
struct Seen {
    host: Host,
    result: Result<(Vec<BackendServer>, String), String>,
}

async fn look_all(ctx: &OpContext, hosts: &[Host]) -> Vec<Seen> {
    let lb = &ctx.plan.lb;
    let timeout = ctx.settings.command_timeout;
    join_all(hosts.iter().map(|h| async move {
        let result = haproxy::probe_haproxy_found(&ctx.pool, &h.ssh_host, &lb.haproxy_socket, "", timeout).await;
        Seen { host: h.clone(), result }
    }))
    .await
}

/// The socket address in what [`haproxy::probe_haproxy_found`] says of its source: `ADDR (from X)`.
/// None for a stats page: it cannot change a server.
pub fn socket_of(found: &str) -> Option<&str> {
    if found.starts_with("stats page ") || found.is_empty() {
        return None;
    }
    Some(found.split(" (from ").next().unwrap_or(found))
}

/// Send one Runtime API command to `addr` on `h`, as a write; Ok(haproxy's answer, trimmed).
async fn send(ctx: &OpContext, cap: &WriteCap, h: &Host, addr: &str, cmd: &str) -> Result<String, String> {
    let limit = ctx.settings.command_timeout.max(Duration::from_secs(10));
    let out = ctx
        .pool
        .run_write(cap, &h.ssh_host, &script_command(HAPROXY_CLI_SCRIPT, &[addr, cmd]), limit)
        .await
        .map_err(|e| format!("{}: {}", h.name, super::ssh_reason(&e)))?;
    if !out.success() {
        return Err(format!("{}: haproxy: {}", h.name, super::access::script_failure(&out.stderr)));
    }
    let (_, answer) = haproxy::split_found(&out.stdout);
    Ok(answer.trim().to_string())
}

/// Whether a socket's answer to `show cli level` allows `set server` (admin), as a refusal otherwise.
/// haproxy older than 2.0 does not know the command: then the change itself tells.
pub fn level_allows(lb: &str, addr: &str, answer: &str) -> Result<bool, String> {
    match answer.trim() {
        "admin" => Ok(true),
        l @ ("user" | "operator") => Err(format!(
            "{lb}: haproxy's socket {addr} has level {l}: `set server` needs level admin (its `stats socket` line in \
             haproxy.cfg: add `level admin`, e.g. `stats socket /run/haproxy/admin.sock mode 660 level admin`)"
        )),
        _ => Ok(false),
    }
}

/// haproxy's answer to `set server`: nothing when done, else why not (`Permission denied`, `No such
/// server.`).
fn refused(answer: &str) -> Option<String> {
    let a = answer.trim();
    (!a.is_empty()).then(|| a.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "))
}

fn word(state: Option<ServerStatus>) -> &'static str {
    match state {
        Some(ServerStatus::Maint) => "maint",
        Some(_) => "drain",
        None => "ready",
    }
}

struct Lbs {
    socks: BTreeMap<String, (Host, String)>,
}

impl Lbs {
    /// Record the intent, then `set server ... state WORD` on the target's LB.
    async fn set(
        &self,
        ctx: &OpContext,
        cap: &WriteCap,
        r: &Reporter,
        t: &ServerTarget,
        state: Option<ServerStatus>,
    ) -> Result<(), String> {
        let (h, addr) = self.socks.get(&t.lb).ok_or_else(|| format!("{}: no socket found", t.lb))?;
        let w = word(state);
        let what = format!("{}: set server {} state {w}", t.lb, t.path());
        cap.intent(r.id, &what, &format!("{}: {} may be in state {w}; make it ready to undo", t.lb, t.path())).await?;
        let answer = send(ctx, cap, h, addr, &format!("set server {} state {w}", t.path())).await?;
        if let Some(why) = refused(&answer) {
            let hint = if why.contains("ermission") { " (the socket's level is below admin)" } else { "" };
            return Err(format!("{}: haproxy refused `set server {} state {w}`: {why}{hint}", t.lb, t.path()));
        }
        r.step(what, true).await;
        Ok(())
    }

    /// Set `done` back to ready after a failure; what was undone or not, for the summary.
    async fn undo(&self, ctx: &OpContext, cap: &WriteCap, r: &Reporter, done: &[&ServerTarget]) -> String {
        if done.is_empty() {
            return "no LB was changed".into();
        }
        let mut said = vec![];
        for t in done {
            match self.set(ctx, cap, r, t, None).await {
                Ok(()) => said.push(format!("{} set back to ready", t.lb)),
                Err(e) => said.push(format!("{} NOT set back ({e})", t.lb)),
            }
        }
        said.join("; ")
    }
}

/// Drain `server` from haproxy on every LB (drain, wait for its sessions, maintenance) or make it
/// ready again, verified on fresh reads. Ok(summary) when verified. `stop`, once set, ends a drain's
/// wait for sessions: the server stays DRAIN on every LB (a state every LB agrees on).
pub async fn set_server(
    ctx: &OpContext,
    server: &str,
    admin: ServerAdmin,
    cap: &WriteCap,
    r: &Reporter,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Result<String, String> {
    ctx.writable()?;
    let hosts = ProbeTargets::of(&ctx.plan).haproxy;
    let seen = look_all(ctx, &hosts).await;
    let judged: Vec<(String, Result<Vec<BackendServer>, String>)> =
        seen.iter().map(|s| (s.host.name.clone(), s.result.as_ref().map(|(v, _)| v.clone()).map_err(Clone::clone))).collect();
    let ip = ctx.plan.host(server).map(|h| h.address.to_string());
    let c = server_checks(&judged, server, ip.as_deref(), admin);
    if !c.blockers.is_empty() {
        return Err(format!("refused, nothing changed: {}", c.blockers.join("; ")));
    }
    // every socket must be one that can change a server, before any is used
    let mut lbs = Lbs { socks: BTreeMap::new() };
    for s in &seen {
        let found = s.result.as_ref().map(|(_, f)| f.as_str()).unwrap_or("");
        let Some(addr) = socket_of(found) else {
            return Err(format!(
                "refused, nothing changed: {}: haproxy is read through {found}: changing a server needs its Runtime API \
                 socket at level admin (under global in haproxy.cfg: stats socket /run/haproxy/admin.sock mode 660 level admin)",
                s.host.name
            ));
        };
        lbs.socks.insert(s.host.name.clone(), (s.host.clone(), addr.to_string()));
    }
    let levels = join_all(
        lbs.socks.iter().map(|(lb, (h, addr))| async move { (lb.clone(), addr.clone(), send(ctx, cap, h, addr, "show cli level").await) }),
    )
    .await;
    for (lb, addr, answer) in levels {
        let answer = answer.map_err(|e| format!("refused, nothing changed: {e}"))?;
        match level_allows(&lb, &addr, &answer) {
            Ok(true) => r.step(format!("{lb}: haproxy socket {addr} at level admin"), true).await,
            Ok(false) => r.step(format!("{lb}: haproxy socket {addr} does not say its level (older than 2.0?)"), true).await,
            Err(e) => return Err(format!("refused, nothing changed: {e}")),
        }
    }
    let first = match admin {
        ServerAdmin::Drain => Some(ServerStatus::Drain),
        ServerAdmin::Ready => None,
    };
    let mut done: Vec<&ServerTarget> = vec![];
    for t in &c.targets {
        if let Err(e) = lbs.set(ctx, cap, r, t, first).await {
            let undone = if admin == ServerAdmin::Drain { lbs.undo(ctx, cap, r, &done).await } else { "nothing undone".into() };
            return Err(format!("{e}; {undone}"));
        }
        done.push(t);
    }
    let on: Vec<&str> = c.targets.iter().map(|t| t.lb.as_str()).collect();
    let on = on.join(", ");
    match admin {
        ServerAdmin::Drain => {
            let left = match wait_sessions(ctx, &hosts, &c.targets, r, stop).await {
                Some(left) => left,
                None => {
                    return Err(format!(
                        "CANCELLED by the operator while its sessions drained: {server} stays DRAIN on {on} (no new \
                         connection goes to it; the open ones go on); drain it again to finish, or make it ready to undo"
                    ));
                }
            };
            for t in &c.targets {
                lbs.set(ctx, cap, r, t, Some(ServerStatus::Maint))
                    .await
                    .map_err(|e| format!("{e}: {server} stays DRAINING (no new connections) on the LBs not yet in maintenance"))?;
            }
            verify(ctx, &hosts, &c.targets, |s| s == ServerStatus::Maint).await.map_err(|e| format!("set, but not verified: {e}"))?;
            let cut = if left == 0 {
                String::new()
            } else {
                format!("; {left} session(s) were still open after {DRAIN_WAIT_SECS} s and stay open until their clients close them")
            };
            Ok(format!("{server} in MAINT on {on}, verified: it takes no apiserver traffic through haproxy{cut}"))
        }
        ServerAdmin::Ready => {
            let started = Instant::now();
            loop {
                let up = verify(ctx, &hosts, &c.targets, |s| s.is_serving()).await;
                match up {
                    Ok(()) => return Ok(format!("{server} ready and UP on {on}, verified")),
                    Err(e) if started.elapsed() >= UP_WITHIN => {
                        let still = verify(ctx, &hosts, &c.targets, |s| !matches!(s, ServerStatus::Maint | ServerStatus::Drain)).await;
                        return match still {
                            Ok(()) => Ok(format!("{server} ready on {on}, verified; not UP yet ({e}): its health check still fails")),
                            Err(e) => Err(format!("set, but not verified: {e}")),
                        };
                    }
                    Err(_) => tokio::time::sleep(WAIT_EVERY).await,
                }
            }
        }
    }
}

/// Wait until the drained server has no session left on any LB, at most [`DRAIN_WAIT_SECS`]; the
/// sessions still open then, or None when `stop` was set meanwhile.
async fn wait_sessions(
    ctx: &OpContext,
    hosts: &[Host],
    targets: &[ServerTarget],
    r: &Reporter,
    mut stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Option<u64> {
    let started = Instant::now();
    let mut told = Instant::now();
    loop {
        if stop.as_ref().is_some_and(|s| *s.borrow()) {
            return None;
        }
        let seen = look_all(ctx, hosts).await;
        let left: u64 = targets.iter().map(|t| sessions_of(&seen, t).unwrap_or(0)).sum();
        if left == 0 {
            r.step(format!("no session left on any LB after {:.1} s", started.elapsed().as_secs_f64()), true).await;
            return Some(0);
        }
        if started.elapsed() >= Duration::from_secs(DRAIN_WAIT_SECS) {
            r.step(format!("{left} session(s) still open after {DRAIN_WAIT_SECS} s: maintenance now"), true).await;
            return Some(left);
        }
        if told.elapsed() >= Duration::from_secs(5) || started.elapsed() < WAIT_EVERY {
            r.step(format!("{left} session(s) still open; waiting (at most {DRAIN_WAIT_SECS} s)"), true).await;
            told = Instant::now();
        }
        match stop.as_mut() {
            Some(s) => {
                tokio::select! {
                    _ = tokio::time::sleep(WAIT_EVERY) => {}
                    _ = s.changed() => {}
                }
            }
            None => tokio::time::sleep(WAIT_EVERY).await,
        }
    }
}

fn find<'a>(seen: &'a [Seen], t: &ServerTarget) -> Result<&'a BackendServer, String> {
    let s = seen.iter().find(|s| s.host.name == t.lb).ok_or_else(|| format!("{}: not read", t.lb))?;
    let (servers, _) = s.result.as_ref().map_err(|e| format!("{}: {e}", t.lb))?;
    servers.iter().find(|b| b.backend == t.backend && b.server == t.server).ok_or_else(|| format!("{}: {} is gone", t.lb, t.path()))
}

fn sessions_of(seen: &[Seen], t: &ServerTarget) -> Option<u64> {
    find(seen, t).ok().map(|b| b.sessions)
}

/// Read every LB again: Ok when the server's status satisfies `ok` on each.
async fn verify(ctx: &OpContext, hosts: &[Host], targets: &[ServerTarget], ok: impl Fn(ServerStatus) -> bool) -> Result<(), String> {
    let seen = look_all(ctx, hosts).await;
    let mut bad = vec![];
    for t in targets {
        match find(&seen, t) {
            Ok(b) if ok(b.status) => {}
            Ok(b) => bad.push(format!("{}: {} is {}", t.lb, t.path(), b.status_text)),
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() { Ok(()) } else { Err(bad.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_is_taken_from_where_it_was_found_and_a_stats_page_is_none() {
        assert_eq!(socket_of("/run/haproxy/admin.sock (from the plan)"), Some("/run/haproxy/admin.sock"));
        assert_eq!(socket_of("ipv4@127.0.0.1:9999 (from /etc/haproxy/haproxy.cfg)"), Some("ipv4@127.0.0.1:9999"));
        assert_eq!(socket_of("stats page http://127.0.0.1:8404/stats (from /etc/haproxy/haproxy.cfg)"), None);
        assert_eq!(socket_of(""), None);
    }

    #[test]
    fn only_an_admin_socket_may_set_a_server_and_a_lower_level_is_named() {
        assert_eq!(level_allows("lb1", "/s", "admin\n"), Ok(true));
        let e = level_allows("lb2", "/var/lib/haproxy/stats", "user").unwrap_err();
        assert!(e.contains("lb2") && e.contains("level user") && e.contains("needs level admin"), "{e}");
        assert!(level_allows("lb1", "/s", "operator").is_err());
        assert_eq!(level_allows("lb1", "/s", "Unknown command. Please enter one of the following commands only :"), Ok(false));
    }

    #[test]
    fn haproxy_answers_nothing_when_done() {
        assert_eq!(refused(""), None);
        assert_eq!(refused("\n"), None);
        assert_eq!(refused("Permission denied\n\n").as_deref(), Some("Permission denied"));
        assert_eq!(refused("No such server.\n").as_deref(), Some("No such server."));
    }
}
