//! Ceph, live: health and every check with its detail, mons in quorum, OSDs up/in, PG states, capacity,
//! OSD map flags (noout ...) and the hosts that carry OSDs; and the `noout` operation.
//!
//! One read-only command per poll ([`CEPH_SCRIPT`]) on a mon host over SSH, through Rook's toolbox
//! (`kubectl -n rook-ceph exec deploy/rook-ceph-tools`), or on this machine ([`Remote::Local`]). It asks
//! the five questions (`status`, `health detail`, `osd tree`, `df`, `osd dump`) over one librados
//! connection (python3-rados, which the `ceph` CLI itself is built on: ~0.15 s instead of ~0.4 s per
//! CLI run), falling back to the `ceph` CLI where the binding is missing. Either way ALWAYS with a
//! connect timeout: without a mon quorum `ceph` otherwise hangs forever.

pub mod parse;

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use crate::backend::BackendEvent;
use crate::backend::poll::{Round, poll_loop};
use crate::model::{CephView, Observation, Payload};
use crate::ops::{OpEvent, WriteCap};
use crate::transport::Remote;
use crate::transport::ssh::{script_command, sh_quote};

pub use crate::transport::scripts::CEPH_SCRIPT;

/// How the `ceph` commands reach the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CephAccess {
    /// On a mon host (or any host with the admin keyring); `conf` = a ceph.conf path, None = the default.
    Direct { conf: Option<String> },
    /// Through Rook's toolbox: `kubectl -n NAMESPACE exec deploy/DEPLOYMENT -- ...` on the host.
    Rook { namespace: String, deployment: String },
}

#[derive(Debug, Clone)]
pub struct CephSettings {
    /// Host (SSH alias) to run on; ignored by [`Remote::Local`].
    pub host: String,
    pub access: CephAccess,
    /// The connect timeout given to Ceph (whole seconds, at least 1).
    pub connect_timeout: Duration,
    pub interval: Duration,
}

impl CephSettings {
    pub fn new(host: impl Into<String>, access: CephAccess) -> CephSettings {
        CephSettings { host: host.into(), access, connect_timeout: Duration::from_secs(5), interval: Duration::from_secs(5) }
    }

    fn timeout_secs(&self) -> u64 {
        self.connect_timeout.as_secs().max(1)
    }

    /// The read-only probe command.
    pub fn probe_command(&self) -> String {
        let t = self.timeout_secs().to_string();
        match &self.access {
            CephAccess::Direct { conf } => script_command(CEPH_SCRIPT, &[&t, "direct", conf.as_deref().unwrap_or("")]),
            CephAccess::Rook { namespace, deployment } => script_command(CEPH_SCRIPT, &[&t, "rook", namespace, deployment]),
        }
    }

    /// The whole probe's deadline: the connect timeout once per question (worst case) plus slack; the
    /// probe never waits longer than this, whatever Ceph does.
    pub fn deadline(&self) -> Duration {
        Duration::from_secs(self.timeout_secs() + 3)
    }

    /// `ceph ARGS` (always with the connect timeout) as a shell command, for the write path.
    pub fn ceph_command(&self, args: &[&str]) -> String {
        let t = self.timeout_secs().to_string();
        let mut words: Vec<String> = match &self.access {
            CephAccess::Direct { conf: Some(c) } => vec!["ceph".into(), "-c".into(), sh_quote(c)],
            CephAccess::Direct { conf: None } => vec!["ceph".into()],
            CephAccess::Rook { namespace, deployment } => vec![
                "kubectl".into(),
                "-n".into(),
                sh_quote(namespace),
                "exec".into(),
                sh_quote(&format!("deploy/{deployment}")),
                "--".into(),
                "ceph".into(),
            ],
        };
        words.push("--connect-timeout".into());
        words.push(t);
        words.extend(args.iter().map(|a| sh_quote(a)));
        words.join(" ")
    }

    pub fn budget_ms(&self) -> u64 {
        (self.interval.as_millis() as u64).saturating_mul(3).max(5000)
    }

    pub fn source_label(&self, remote: &Remote) -> String {
        let via = match &self.access {
            CephAccess::Direct { .. } => "ceph",
            CephAccess::Rook { .. } => "ceph (rook toolbox)",
        };
        match remote {
            Remote::Local { .. } => format!("{via} local"),
            Remote::Ssh { .. } => format!("{via} ssh {}", self.host),
        }
    }
}

/// One observation: the view, or why there is none (a timeout names the missing quorum).
pub async fn probe(remote: &Remote, s: &CephSettings) -> Result<CephView, String> {
    let out = remote.read(&s.host, Some("ceph"), &s.probe_command(), s.deadline()).await?;
    if !out.success() && !out.stdout.contains("@@kockpit-ceph") {
        let why = out.stderr.trim().lines().last().unwrap_or("").to_string();
        return Err(format!("ceph probe failed (exit {}): {why}", out.exit_status.map(|c| c.to_string()).unwrap_or_else(|| "?".into())));
    }
    let answers = parse::split_sections(&out.stdout, s.timeout_secs())?;
    parse::parse_view(&answers)
}

/// [`run_probe`] on its own task.
pub fn spawn_probe(settings: CephSettings, remote: Remote, tx: mpsc::Sender<BackendEvent>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_probe(settings, remote, tx))
}

/// Poll Ceph every `settings.interval` and send [`Payload::Ceph`] observations until the app hangs up.
pub async fn run_probe(settings: CephSettings, remote: Remote, tx: mpsc::Sender<BackendEvent>) {
    let source = settings.source_label(&remote);
    poll_loop(settings.interval, &tx, CephRound { settings, remote, source }).await
}

/// One [`probe`] per round, sent as an observation.
struct CephRound {
    settings: CephSettings,
    remote: Remote,
    source: String,
}

impl Round for CephRound {
    type Out = BackendEvent;

    async fn round(&mut self) -> Vec<BackendEvent> {
        let result = probe(&self.remote, &self.settings).await;
        let obs = Observation {
            at: Utc::now(),
            source: self.source.clone(),
            budget_ms: self.settings.budget_ms(),
            payload: Payload::Ceph(result),
        };
        vec![BackendEvent::Obs(obs)]
    }
}

/// `ceph osd set|unset noout` through the write path, then verified: the flag appears in (or leaves)
/// the OSD map within `verify_within`. Sends [`OpEvent::Step`]s and a final [`OpEvent::Finished`] for
/// operation `id` on `events`; returns the summary (Err: what failed).
pub async fn set_noout(
    remote: &Remote,
    cap: &WriteCap,
    s: &CephSettings,
    on: bool,
    id: u64,
    verify_within: Duration,
    events: &mpsc::Sender<BackendEvent>,
) -> Result<String, String> {
    let result = set_noout_steps(remote, cap, s, on, id, verify_within, events).await;
    let (ok, summary) = match &result {
        Ok(s) => (true, s.clone()),
        Err(e) => (false, e.clone()),
    };
    let _ = events.send(BackendEvent::Op(OpEvent::Finished { id, ok, summary })).await;
    result
}

async fn set_noout_steps(
    remote: &Remote,
    cap: &WriteCap,
    s: &CephSettings,
    on: bool,
    id: u64,
    verify_within: Duration,
    events: &mpsc::Sender<BackendEvent>,
) -> Result<String, String> {
    let step = |text: String, ok: bool| BackendEvent::Op(OpEvent::Step { id, text, ok });
    let verb = if on { "set" } else { "unset" };
    let cmd = s.ceph_command(&["osd", verb, "noout"]);
    cap.intent(id, &format!("ceph osd {verb} noout"), &format!("Ceph's noout flag may be {verb}")).await?;
    let out = remote.write(cap, &s.host, &cmd, s.deadline()).await.map_err(|e| format!("ceph osd {verb} noout: {e}"))?;
    if !out.success() {
        let why = out.stderr.trim().lines().last().unwrap_or("").to_string();
        let _ = events.send(step(format!("ceph osd {verb} noout: failed: {why}"), false)).await;
        return Err(format!("ceph osd {verb} noout failed: {why}"));
    }
    let said = format!("{}{}", out.stdout.trim(), out.stderr.trim());
    let _ = events.send(step(format!("ceph osd {verb} noout: {}", if said.is_empty() { "ok" } else { &said }), true)).await;
    let started = tokio::time::Instant::now();
    loop {
        let last = match probe(remote, s).await {
            Ok(v) if v.flags.iter().any(|f| f == "noout") == on => {
                let text = format!("verified: noout is {} in the OSD map", if on { "set" } else { "no longer set" });
                let _ = events.send(step(text.clone(), true)).await;
                return Ok(format!("noout {verb}; {text}"));
            }
            Ok(v) => format!("flags now: {}", if v.flags.is_empty() { "none".into() } else { v.flags.join(",") }),
            Err(e) => e,
        };
        if started.elapsed() > verify_within {
            let text = format!("not verified within {:.0}s ({last})", verify_within.as_secs_f64());
            let _ = events.send(step(text.clone(), false)).await;
            return Err(format!("ceph osd {verb} noout: {text}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests;
