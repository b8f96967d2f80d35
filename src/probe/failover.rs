//! VIP failover over SSH: plan -> execute -> verify against the real load balancers.
//!
//! Nothing is taken from the model: right before acting, every LB is looked at again (keepalived's
//! state, who holds the VIP) and so is the target's haproxy. Then the owner is demoted (graceful:
//! its `track_file` gets 1, or its priority is set to 1 in keepalived.conf and keepalived reloads) or
//! its keepalived is stopped (emergency); both LBs are watched every ~150 ms until the VIP has moved,
//! and the apiserver must answer `/readyz` through the VIP. All the while a client loop connects to
//! VIP:port every 20 ms, so the summary says how many client connections failed.
//! [`restore`] undoes either demotion and verifies keepalived's priority (and the VIP's return).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::{LiveSettings, ProbeTargets, haproxy, keepalived};
use crate::backend::Reporter;
use crate::inventory::{DemoteMethod, Host, Plan, template};
use crate::model::{BackendServer, VrrpState, VrrpView};
use crate::ops::failover::FailoverFacts;
use crate::ops::{FailoverMode, WriteCap};
use crate::transport::ssh::{AccessMode, SshPool, script_command};

/// How long the VIP may take to move (or come back).
const MOVE_DEADLINE: Duration = Duration::from_secs(20);
/// How often both LBs are looked at while the VIP moves.
const WATCH_EVERY: Duration = Duration::from_millis(150);
/// A graceful demotion that keepalived has not acted on by then is not configured (no track_file).
const DEMOTE_NOTICED: Duration = Duration::from_secs(5);
/// The lane of the SSH pool the operation's looks use (not queued behind the periodic probe).
const LANE: &str = "failover";

/// What a failover or restore works with.
pub struct OpContext {
    pub plan: Plan,
    pub pool: SshPool,
    pub settings: LiveSettings,
}

impl OpContext {
    fn vip(&self) -> Result<SocketAddr, String> {
        ProbeTargets::of(&self.plan).vip.ok_or_else(|| "this cluster's plan has no VIP carried by keepalived".to_string())
    }
    fn lbs(&self) -> Vec<Host> {
        ProbeTargets::of(&self.plan).keepalived
    }
    fn lb(&self, name: &str) -> Result<Host, String> {
        self.lbs().into_iter().find(|h| h.name == name).ok_or_else(|| format!("{name} is not a keepalived host of this cluster's plan"))
    }
    pub(super) fn writable(&self) -> Result<(), String> {
        if self.pool.mode() == AccessMode::ReadOnly {
            Err("refused: this process is read-only (its SSH pool sends nothing that changes a host)".into())
        } else {
            Ok(())
        }
    }
    /// keepalived on one LB, looked at now.
    async fn look(&self, h: &Host) -> Result<VrrpView, String> {
        let lb = &self.plan.lb;
        let vip = self.plan.vip.as_ref().map(|v| v.address);
        keepalived::probe_vrrp_on(
            &self.pool,
            LANE,
            &h.ssh_host,
            vip,
            &lb.keepalived_json,
            &lb.keepalived_state_file,
            self.settings.command_timeout,
        )
        .await
    }
    async fn look_all(&self, hosts: &[Host]) -> Vec<Result<VrrpView, String>> {
        join_all(hosts.iter().map(|h| self.look(h))).await
    }
    /// Run a write command on `h`; Ok(stdout) when it exits 0.
    async fn write(&self, cap: &WriteCap, h: &Host, cmd: &str) -> Result<String, String> {
        let limit = self.settings.command_timeout.max(Duration::from_secs(30));
        let out = self.pool.run_write(cap, &h.ssh_host, cmd, limit).await.map_err(|e| e.to_string())?;
        if out.success() {
            Ok(out.stdout)
        } else {
            let why = out.stderr.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("no message").to_string();
            Err(format!(
                "{}: `{}` failed (exit status {}): {why}",
                h.name,
                short(cmd),
                out.exit_status.map_or("-".into(), |c| c.to_string())
            ))
        }
    }
    /// A `[lb]` command template for `h`.
    fn lb_command(&self, t: &str, h: &Host) -> Result<String, String> {
        template::render(t, &[("host", &h.name)])
    }
}

fn short(cmd: &str) -> String {
    let first = cmd.lines().next().unwrap_or("");
    if first.chars().count() > 80 || cmd.contains('\n') {
        format!("{}…", first.chars().take(80).collect::<String>())
    } else {
        first.into()
    }
}

/// Writes $2 to the track file $1 and prints it back.
const TRACK_FILE_SCRIPT: &str = r#"f=$1; v=$2
d=${f%/*}
[ -d "${d:-/}" ] || { echo "no directory ${d:-/} for the track file $f" >&2; exit 2; }
printf '%s\n' "$v" >"$f" || exit 1
cat "$f"
"#;

/// Sets the priority of VRRP instance $2 to $3 in $1, from a copy saved beside it ($1.kockpit-saved,
/// made once: demoting twice keeps the original).
const SET_PRIORITY_SCRIPT: &str = r#"conf=$1; inst=$2; prio=$3; save=$1.kockpit-saved; tmp=$1.kockpit-tmp
[ -r "$conf" ] || { echo "cannot read $conf" >&2; exit 2; }
[ -e "$save" ] || cp -p "$conf" "$save" || exit 1
awk -v inst="$inst" -v prio="$prio" '
  BEGIN { depth = 0; inside = 0; done = 0 }
  {
    line = $0
    if (!inside && depth == 0 && line ~ "^[ \t]*vrrp_instance[ \t]+" inst "([ \t{]|$)") { inside = 1 }
    if (inside && depth == 1 && !done && line ~ /^[ \t]*priority[ \t]+[0-9]+/) { sub(/priority[ \t]+[0-9]+/, "priority " prio, line); done = 1 }
    print line
    o = gsub(/\{/, "{", $0); c = gsub(/\}/, "}", $0); depth += o - c
    if (inside && depth == 0 && (o > 0 || c > 0)) { inside = 0 }
  }
  END { if (!done) { print "no priority line in vrrp_instance " inst > "/dev/stderr"; exit 3 } }
' "$save" >"$tmp" || { rm -f "$tmp"; exit 3; }
cat "$tmp" >"$conf" && rm -f "$tmp"
"#;

/// Puts the configuration saved by [`SET_PRIORITY_SCRIPT`] back; prints `restored` or `none`.
const RESTORE_CONF_SCRIPT: &str = r#"conf=$1; save=$1.kockpit-saved
if [ -e "$save" ]; then cat "$save" >"$conf" && rm -f "$save" && echo restored; else echo none; fi
"#;

pub use super::clients::{CLIENT_SLOW, CLIENT_TIMEOUT, ClientLoop, ClientStats, VipClients};

fn client_loop(vip: SocketAddr) -> ClientLoop {
    ClientLoop::start(vip, Duration::from_millis(20), CLIENT_SLOW, CLIENT_TIMEOUT)
}

/// `/readyz` through the VIP, retried for a few seconds (the new owner's haproxy may need a moment).
async fn verify_through_vip(vip: SocketAddr) -> Result<String, String> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = haproxy::probe_readyz(vip.ip(), vip.port(), Duration::from_secs(2)).await;
        match r {
            Ok(z) if z.ok => {
                return Ok(format!("apiserver answers through the VIP {vip}: /readyz {} {} in {:.0} ms", z.status, z.detail, z.latency_ms));
            }
            _ if Instant::now() < until => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(z) => return Err(format!("the apiserver does not answer through the VIP {vip}: /readyz {} {}", z.status, z.detail)),
            Err(e) => return Err(format!("the apiserver does not answer through the VIP {vip}: {e}")),
        }
    }
}

/// The facts the executor judges: what it just saw of every LB and of the target's haproxy.
fn executor_facts(lbs: &[Host], views: &[Result<VrrpView, String>], haproxy: Result<Vec<BackendServer>, String>) -> FailoverFacts {
    FailoverFacts { lbs: lbs.iter().map(|h| h.name.clone()).zip(views.iter().cloned()).collect(), target_haproxy: haproxy }
}

/// A VIP failover to `to`; Ok(summary) or why it was refused or failed. Steps go to `r`.
pub(crate) async fn failover(ctx: &OpContext, to: &str, mode: FailoverMode, cap: &WriteCap, r: &Reporter) -> Result<String, String> {
    ctx.writable()?;
    let vip = ctx.vip()?;
    let target = ctx.lb(to)?;
    let lbs = ctx.lbs();

    // 1. fresh looks, never the model's, judged by the planner's own checks
    let views = ctx.look_all(&lbs).await;
    let lb = &ctx.plan.lb;
    let haproxy =
        haproxy::probe_haproxy(&ctx.pool, &target.ssh_host, &lb.haproxy_socket, &lb.haproxy_backend, ctx.settings.command_timeout).await;
    let facts = executor_facts(&lbs, &views, haproxy.clone());
    let verdict = crate::ops::failover::checks(&facts, to);
    if !verdict.blockers.is_empty() {
        return Err(format!("refused: {}", verdict.blockers.join("; ")));
    }
    let owner_name = verdict.owner.clone().unwrap_or_default();
    let Some(owner) = lbs.iter().find(|h| h.name == owner_name).cloned() else {
        return Err(format!("refused: {owner_name} holds the VIP but is not in the plan"));
    };
    let seen: Vec<(&Host, &Result<VrrpView, String>)> = lbs.iter().zip(views.iter()).collect();
    let view_of = |name: &str| seen.iter().find(|(h, _)| h.name == name).and_then(|(_, v)| v.as_ref().ok()).cloned();
    let (Some(owner_view), Some(peer)) = (view_of(&owner.name), view_of(to)) else {
        return Err("refused: the load balancers could not be seen".into());
    };
    let backends = haproxy.unwrap_or_default();
    let serving = backends.iter().filter(|b| b.status.is_serving()).count();
    r.step(
        format!(
            "checked just now: {} holds the VIP ({}, priority {}); {to} is BACKUP (priority {}); haproxy on {to}: {serving}/{} apiserver backends UP",
            owner.name,
            owner_view.state.label(),
            owner_view.effective_priority,
            peer.effective_priority,
            backends.len()
        ),
        true,
    )
    .await;

    // 2. act, with clients connecting all the while
    let clients = client_loop(vip);
    let started = Instant::now();
    let acted = demote(ctx, mode, cap, &owner, &owner_view, r).await;
    if let Err(e) = acted {
        let _ = clients.finish().await;
        return Err(e);
    }

    // 3. watch the VIP move
    let pair = [owner.clone(), target.clone()];
    let moved = loop {
        let v = ctx.look_all(&pair).await;
        let owner_holds = v[0].as_ref().map(|v| v.holds_vip).ok();
        let peer_holds = v[1].as_ref().is_ok_and(|v| v.holds_vip);
        if peer_holds && owner_holds != Some(true) {
            break Ok(started.elapsed());
        }
        if mode == FailoverMode::Graceful
            && lb.demote == DemoteMethod::TrackFile
            && started.elapsed() > DEMOTE_NOTICED
            && v[0].as_ref().is_ok_and(|v| v.effective_priority >= owner_view.effective_priority && v.state == VrrpState::Master)
        {
            let undo = write_track_file(ctx, cap, &owner, "0").await;
            break Err(format!(
                "keepalived on {} did not lower its priority after {} got 1 (is it configured with track_file {}?); {}",
                owner.name,
                lb.track_file,
                lb.track_file,
                match undo {
                    Ok(()) => "the file is back to 0".to_string(),
                    Err(e) => format!("writing 0 back failed: {e}"),
                }
            ));
        }
        if started.elapsed() > MOVE_DEADLINE {
            let on: Vec<&str> =
                pair.iter().zip(v.iter()).filter(|(_, v)| v.as_ref().is_ok_and(|v| v.holds_vip)).map(|(h, _)| h.name.as_str()).collect();
            break Err(format!(
                "the VIP did not move to {to} within {} s (held by: {}); {} stays demoted until its priority is restored",
                MOVE_DEADLINE.as_secs(),
                if on.is_empty() { "nobody".to_string() } else { on.join(", ") },
                owner.name
            ));
        }
        tokio::time::sleep(WATCH_EVERY).await;
    };
    let took = match moved {
        Ok(t) => t,
        Err(e) => {
            let st = clients.finish().await;
            return Err(format!("{e}; {}", st.describe()));
        }
    };
    r.step(format!("VIP on {to} after {:.1} s", took.as_secs_f64()), true).await;

    // 4. verify through the VIP
    let verified = verify_through_vip(vip).await;
    let st = clients.finish().await;
    r.step(format!("clients of {vip}: {}", st.describe()), st.failed == 0).await;
    let ok_text = verified?;
    r.step(ok_text, true).await;
    let after = match mode {
        FailoverMode::Graceful => format!("{} stays demoted until its priority is restored", owner.name),
        FailoverMode::Emergency => format!("keepalived stays stopped on {} until its priority is restored", owner.name),
    };
    Ok(format!("VIP on {to} after {:.1} s; {}; {after}", took.as_secs_f64(), st.describe()))
}

async fn write_track_file(ctx: &OpContext, cap: &WriteCap, h: &Host, value: &str) -> Result<(), String> {
    let f = &ctx.plan.lb.track_file;
    if f.is_empty() {
        return Err("the plan sets no lb.track_file".into());
    }
    let out = ctx.write(cap, h, &script_command(TRACK_FILE_SCRIPT, &[f, value])).await?;
    if out.trim() == value { Ok(()) } else { Err(format!("{}: {f} reads {:?} after writing {value}", h.name, out.trim())) }
}

/// Demote the owner the configured way (graceful) or stop its keepalived (emergency).
async fn demote(ctx: &OpContext, mode: FailoverMode, cap: &WriteCap, owner: &Host, view: &VrrpView, r: &Reporter) -> Result<(), String> {
    let lb = &ctx.plan.lb;
    match (mode, lb.demote) {
        (FailoverMode::Emergency, _) => {
            let cmd = ctx.lb_command(&lb.keepalived_stop, owner)?;
            let leaves = format!("{}: keepalived may be stopped (the VIP moves to a peer); start it again to restore", owner.name);
            cap.intent(r.id, &format!("{}: stop keepalived (`{cmd}`)", owner.name), &leaves).await?;
            ctx.write(cap, owner, &cmd).await?;
            r.step(format!("{}: keepalived stopped (`{cmd}`)", owner.name), true).await;
        }
        (FailoverMode::Graceful, DemoteMethod::TrackFile) => {
            let leaves =
                format!("{}: demoted, {} may read 1 (the VIP moves to a peer); restore its priority to undo", owner.name, lb.track_file);
            cap.intent(r.id, &format!("{}: write 1 to {}", owner.name, lb.track_file), &leaves).await?;
            write_track_file(ctx, cap, owner, "1").await?;
            r.step(format!("{}: wrote 1 to {}: keepalived lowers its priority by the file's weight", owner.name, lb.track_file), true)
                .await;
        }
        (FailoverMode::Graceful, DemoteMethod::Priority) => {
            let inst = view.instance.as_str();
            if inst.is_empty() || inst.starts_with('(') || inst.contains(' ') {
                return Err(format!(
                    "{}: keepalived's JSON dump does not name the VRRP instance ({inst}); demote = \"priority\" needs it",
                    owner.name
                ));
            }
            let reload = ctx.lb_command(&lb.keepalived_reload, owner)?;
            let leaves = format!(
                "{}: demoted, {inst}'s priority may be 1 in {} (original saved beside it); restore its priority to undo",
                owner.name, lb.keepalived_conf
            );
            cap.intent(r.id, &format!("{}: set {inst}'s priority to 1 and reload keepalived", owner.name), &leaves).await?;
            ctx.write(cap, owner, &script_command(SET_PRIORITY_SCRIPT, &[&lb.keepalived_conf, inst, "1"])).await?;
            r.step(format!("{}: priority of {inst} set to 1 in {} (original saved beside it)", owner.name, lb.keepalived_conf), true).await;
            if let Err(e) = ctx.write(cap, owner, &reload).await {
                let undo = ctx.write(cap, owner, &script_command(RESTORE_CONF_SCRIPT, &[&lb.keepalived_conf])).await;
                return Err(format!(
                    "{e}; {}",
                    if undo.is_ok() { "configuration put back" } else { "putting the configuration back failed too" }
                ));
            }
            r.step(format!("{}: keepalived reloaded (`{reload}`)", owner.name), true).await;
        }
    }
    Ok(())
}

/// Undo a demotion of `lb`: start keepalived if it is stopped, take back the demotion, verify the
/// configured priority and, when `lb` has the highest priority, the VIP's return.
pub(crate) async fn restore(ctx: &OpContext, lb_name: &str, cap: &WriteCap, r: &Reporter) -> Result<String, String> {
    ctx.writable()?;
    let vip = ctx.vip()?;
    let host = ctx.lb(lb_name)?;
    let before = ctx.look(&host).await.map_err(|e| format!("refused: {lb_name} cannot be observed: {e}"))?;
    let clients = client_loop(vip);
    let result = restore_steps(ctx, &host, &before, cap, r).await;
    let st = clients.finish().await;
    let (priority, back) = result?;
    r.step(format!("clients of {vip}: {}", st.describe()), st.failed == 0).await;
    Ok(format!("{lb_name}: keepalived priority {priority} restored; {back}; {}", st.describe()))
}

async fn restore_steps(ctx: &OpContext, host: &Host, before: &VrrpView, cap: &WriteCap, r: &Reporter) -> Result<(u32, String), String> {
    let lb = &ctx.plan.lb;
    let name = &host.name;
    let leaves = format!("{name}: keepalived may be started and its priority restored, so the VIP may move back to it");
    cap.intent(r.id, &format!("{name}: restore keepalived's priority"), &leaves).await?;
    if before.state == VrrpState::Stopped {
        let cmd = ctx.lb_command(&lb.keepalived_start, host)?;
        ctx.write(cap, host, &cmd).await?;
        r.step(format!("{name}: keepalived started (`{cmd}`)"), true).await;
    }
    match lb.demote {
        DemoteMethod::TrackFile => {
            write_track_file(ctx, cap, host, "0").await?;
            r.step(format!("{name}: wrote 0 to {}", lb.track_file), true).await;
        }
        DemoteMethod::Priority => {
            let out = ctx.write(cap, host, &script_command(RESTORE_CONF_SCRIPT, &[&lb.keepalived_conf])).await?;
            if out.trim() == "restored" {
                r.step(format!("{name}: saved {} put back", lb.keepalived_conf), true).await;
                if before.state != VrrpState::Stopped {
                    let reload = ctx.lb_command(&lb.keepalived_reload, host)?;
                    ctx.write(cap, host, &reload).await?;
                    r.step(format!("{name}: keepalived reloaded (`{reload}`)"), true).await;
                }
            } else {
                r.step(
                    format!("{name}: no saved configuration beside {}: the priority was not changed by kockpit", lb.keepalived_conf),
                    true,
                )
                .await;
            }
        }
    }
    // keepalived reports its configured priority again
    let started = Instant::now();
    let view = loop {
        let v = ctx.look(host).await;
        if let Ok(v) = &v
            && matches!(v.state, VrrpState::Master | VrrpState::Backup)
            && v.effective_priority == v.priority
            && !(lb.demote == DemoteMethod::Priority && v.priority == 1)
        {
            break v.clone();
        }
        if started.elapsed() > MOVE_DEADLINE {
            return Err(match v {
                Ok(v) => format!(
                    "{name}: keepalived is {} with priority {} (effective {}) {} s later: something else still lowers it (a failing track script?)",
                    v.state.label(),
                    v.priority,
                    v.effective_priority,
                    MOVE_DEADLINE.as_secs()
                ),
                Err(e) => format!("{name}: cannot be observed after restoring: {e}"),
            });
        }
        tokio::time::sleep(WATCH_EVERY).await;
    };
    r.step(
        format!(
            "{name}: keepalived reports priority {} ({}) after {:.1} s",
            view.priority,
            view.state.label(),
            started.elapsed().as_secs_f64()
        ),
        true,
    )
    .await;
    // does it preempt? only the highest priority takes the VIP back
    let lbs = ctx.lbs();
    let others = ctx.look_all(&lbs).await;
    let highest = lbs
        .iter()
        .zip(others.iter())
        .filter(|(h, _)| h.name != *name)
        .all(|(_, v)| v.as_ref().map_or(true, |v| v.priority < view.priority));
    if view.holds_vip {
        return Ok((view.priority, format!("{name} holds the VIP")));
    }
    if !highest {
        return Ok((view.priority, format!("the VIP stays where it is ({name} does not have the highest priority)")));
    }
    let t = Instant::now();
    loop {
        let v = ctx.look_all(&lbs).await;
        let holders: Vec<&str> =
            lbs.iter().zip(v.iter()).filter(|(_, v)| v.as_ref().is_ok_and(|v| v.holds_vip)).map(|(h, _)| h.name.as_str()).collect();
        if holders == [name.as_str()] {
            let text = format!("VIP back on {name} after {:.1} s", t.elapsed().as_secs_f64());
            r.step(text.clone(), true).await;
            let vip = ctx.vip()?;
            r.step(verify_through_vip(vip).await?, true).await;
            return Ok((view.priority, text));
        }
        if t.elapsed() > MOVE_DEADLINE {
            let text = format!(
                "the VIP did not come back to {name} within {} s (held by: {}; nopreempt?)",
                MOVE_DEADLINE.as_secs(),
                holders.join(", ")
            );
            r.step(text.clone(), false).await;
            return Ok((view.priority, text));
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn client_loop_counts_failures_and_gaps() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let accept = tokio::spawn(async move {
            loop {
                if l.accept().await.is_err() {
                    return;
                }
            }
        });
        let c = ClientLoop::start(addr, Duration::from_millis(10), Duration::from_millis(100), Duration::from_millis(200));
        tokio::time::sleep(Duration::from_millis(150)).await;
        accept.abort();
        let _ = accept.await;
        // the listener is gone: connects are refused from here on
        tokio::time::sleep(Duration::from_millis(150)).await;
        let st = c.finish().await;
        assert!(st.attempts >= 10, "{st:?}");
        assert!(st.failed >= 3 && st.failed < st.attempts, "{st:?}");
        assert!(st.longest_gap >= Duration::from_millis(100), "{st:?}");
        assert!(st.first_error.is_some() && st.describe().contains("failed"), "{st:?}");
    }

    /// A listener that does not accept fills its queue; the kernel then drops further SYNs, as an
    /// old VIP owner does: the client's SYN is sent again after 1 s.
    fn full_listener() -> (std::net::TcpListener, SocketAddr) {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let l = sock.listen(1).unwrap().into_std().unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }

    #[tokio::test]
    async fn a_connect_answered_after_a_syn_retransmission_is_slow_not_failed() {
        let (l, addr) = full_listener();
        let c = ClientLoop::start(addr, Duration::from_millis(20), Duration::from_millis(300), Duration::from_millis(3500));
        // the queue fills with the first connects; the next SYN is dropped
        tokio::time::sleep(Duration::from_millis(400)).await;
        // from now on, everything is accepted: the retransmitted SYN (1 s after the first) gets through
        let drain = tokio::spawn(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            while l.accept().await.is_ok() {}
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let st = c.finish().await;
        drain.abort();
        assert_eq!(st.failed, 0, "{st:?}");
        assert!(st.slow >= 1, "{st:?}");
        assert!(st.slowest >= Duration::from_millis(900) && st.slowest < Duration::from_millis(3000), "{st:?}");
        assert!(st.attempts > st.slow + 2, "connects went on after the slow one: {st:?}");
        assert!(st.describe().contains(" slow (the slowest took "), "{}", st.describe());
    }

    #[tokio::test]
    async fn a_connect_unanswered_past_the_timeout_has_failed() {
        let (_l, addr) = full_listener();
        let c = ClientLoop::start(addr, Duration::from_millis(20), Duration::from_millis(300), Duration::from_millis(1500));
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let st = c.finish().await;
        assert!(st.failed >= 1, "{st:?}");
        assert_eq!(st.first_error.as_deref(), Some("no answer in 1500 ms"), "{st:?}");
        assert!(st.longest_gap >= Duration::from_millis(1500), "{st:?}");
    }

    #[tokio::test]
    async fn finishing_does_not_wait_for_a_connect_still_unanswered() {
        let (_l, addr) = full_listener();
        let c = ClientLoop::start(addr, Duration::from_millis(20), Duration::from_millis(300), Duration::from_millis(3500));
        // the queue is full: the loop now waits on an unanswered SYN
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = Instant::now();
        let st = c.finish().await;
        assert!(t.elapsed() < Duration::from_millis(1500), "finish waited for the connect: {:?}", t.elapsed());
        assert_eq!(st.failed, 0, "a connect cut short by the stop is no attempt: {st:?}");
        assert!(st.attempts >= 1, "{st:?}");
    }

    fn run_script(script: &str, args: &[&str]) -> (bool, String, String) {
        let out = std::process::Command::new("sh").arg("-c").arg(script).arg("kockpit").args(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    #[test]
    fn priority_scripts_edit_only_the_instance_and_restore_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let conf = dir.join("keepalived.conf");
        let original = "vrrp_script chk {\n    script \"x\"\n    priority 9\n}\nvrrp_instance VI_2 {\n    priority 120\n}\nvrrp_instance VI_1 {\n    state MASTER\n    priority 150\n    track_file {\n        f\n    }\n}\n";
        std::fs::write(&conf, original).unwrap();
        let c = conf.to_str().unwrap();
        let (ok, _, err) = run_script(SET_PRIORITY_SCRIPT, &[c, "VI_1", "1"]);
        assert!(ok, "{err}");
        let edited = std::fs::read_to_string(&conf).unwrap();
        assert_eq!(edited, original.replace("priority 150", "priority 1"));
        // twice: still from the original
        assert!(run_script(SET_PRIORITY_SCRIPT, &[c, "VI_1", "1"]).0);
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), edited);
        let (ok, _, err) = run_script(SET_PRIORITY_SCRIPT, &[c, "VI_9", "1"]);
        assert!(!ok && err.contains("no priority line"), "{err}");
        let (ok, out, _) = run_script(RESTORE_CONF_SCRIPT, &[c]);
        assert!(ok && out.trim() == "restored");
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), original);
        assert_eq!(run_script(RESTORE_CONF_SCRIPT, &[c]).1.trim(), "none");
        let f = dir.join("demote");
        let (ok, out, _) = run_script(TRACK_FILE_SCRIPT, &[f.to_str().unwrap(), "1"]);
        assert!(ok && out.trim() == "1");
        let (ok, _, err) = run_script(TRACK_FILE_SCRIPT, &["/nonexistent-dir/x", "1"]);
        assert!(!ok && err.contains("no directory"), "{err}");
    }
}

#[cfg(test)]
mod agreement {
    use super::*;
    use crate::model::{Mode, Model};
    use crate::ops::{FailoverMode, Fault, OpRequest, plan};

    /// What the executor would see if its fresh looks found what the model shows.
    fn as_the_executor_sees(m: &Model, to: &str) -> Vec<String> {
        let lbs: Vec<Host> = m.plan.lbs().cloned().collect();
        let views: Vec<Result<VrrpView, String>> = lbs
            .iter()
            .map(|h| match m.vrrp.get(&h.name) {
                Some(s) => match (&s.data, &s.error) {
                    (_, Some(e)) => Err(e.reason.clone()),
                    (Some(v), None) => Ok(v.clone()),
                    (None, None) => Err("nothing heard yet".to_string()),
                },
                None => Err("nothing heard yet".to_string()),
            })
            .collect();
        // the same failure the probe reported, seen again by the executor's own look
        let hap = match m.haproxy.get(to) {
            Some(s) => match (&s.data, &s.error) {
                (_, Some(e)) => Err(e.reason.clone()),
                (Some(v), None) => Ok(v.clone()),
                (None, None) => Err("nothing heard yet".to_string()),
            },
            None => Err("nothing heard yet".to_string()),
        };
        crate::ops::failover::checks(&executor_facts(&lbs, &views, hap), to).blockers
    }

    #[test]
    fn the_planner_and_the_executor_refuse_for_the_same_reasons() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let cases: [(&[Fault], &str, &str); 4] = [
            (&[Fault::SplitBrain], "slb2", "SPLIT BRAIN"),
            (&[Fault::StopKeepalivedOnOwner], "slb1", "is STOPPED"),
            (&[Fault::KillHaproxyOnOwner], "slb1", "haproxy on slb1"),
            (&[], "slb1", "already holds the VIP"),
        ];
        for (faults, to, why) in cases {
            let (_, m) = crate::sim::settled_demo(faults, 0, now, 20, Mode::Demo);
            let planned = plan(&OpRequest::VipFailover { to: to.into(), mode: FailoverMode::Graceful }, &m).blockers;
            let executed = as_the_executor_sees(&m, to);
            assert!(planned.iter().any(|b| b.contains(why)), "{faults:?}: the plan refuses ({why}): {planned:?}");
            assert_eq!(planned, executed, "{faults:?}: planner and executor agree");
        }
        // the peer already MASTER (it took the VIP over): refused by both
        let (_, m) = crate::sim::settled_demo(&[Fault::StopKeepalivedOnOwner], 0, now, 20, Mode::Demo);
        assert_eq!(m.vip_holders(), vec!["slb2"]);
        let planned = plan(&OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Emergency }, &m).blockers;
        assert!(planned.iter().any(|b| b.contains("already holds")), "{planned:?}");
        assert_eq!(planned, as_the_executor_sees(&m, "slb2"));
    }
}
