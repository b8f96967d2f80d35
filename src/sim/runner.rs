//! Runs a [`SimCluster`] as a task: ticks it on the wall clock and sends what it sees to the app.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use super::SimCluster;
use crate::backend::{BackendEvent, BackendHandle, Command};

/// Spawn the simulation on the current tokio runtime. It stops when the app drops the handle.
pub fn spawn(mut sim: SimCluster, tick: Duration) -> BackendHandle {
    let (ev_tx, ev_rx) = mpsc::channel::<BackendEvent>(1024);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Command>();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                cmd = cmd_rx.recv() => {
                    let Some(cmd) = cmd else { return };
                    let now = Utc::now();
                    match cmd {
                        Command::Execute { id, request, cap } => sim.execute(id, &request, &cap, now),
                        Command::Fault(f) => {
                            let msg = sim.inject(f, now);
                            if ev_tx.send(BackendEvent::Notice(super::fault_said(f, &msg))).await.is_err() {
                                return;
                            }
                        }
                        Command::SetPaused(p) => sim.paused = p,
                        Command::DryRun { id, request } => {
                            let result = sim.dry_run(&request);
                            if ev_tx.send(BackendEvent::DryRun { id, result }).await.is_err() {
                                return;
                            }
                        }
                        Command::Cancel { id } => sim.cancel(id),
                        Command::NodeDetail { id, node } => {
                            let result = sim.node_extra(&node);
                            if ev_tx.send(BackendEvent::NodeDetail { id, node, result }).await.is_err() {
                                return;
                            }
                        }
                        Command::Logs(r) => {
                            for ev in sim_logs(r) {
                                if ev_tx.send(ev).await.is_err() {
                                    return;
                                }
                            }
                        }
                        // the router (backend::combine) holds recorded commands back until they are durable
                        c @ Command::AfterRecord { .. } => {
                            for ev in crate::backend::unavailable(c, "a recorded command must go through the backend's router") {
                                if ev_tx.send(ev).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Command::Host { id, action, cap } => {
                            let r = sim.host_action(&action, &cap, now);
                            let (ok, summary) = match r { Ok(s) => (true, s), Err(e) => (false, e) };
                            if ev_tx.send(BackendEvent::Op(crate::ops::OpEvent::Finished { id, ok, summary })).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
            let now = Utc::now();
            sim.step(now);
            for e in sim.drain_op_events() {
                if ev_tx.send(BackendEvent::Op(e)).await.is_err() {
                    return;
                }
            }
            for o in sim.drain_made(now) {
                if ev_tx.send(BackendEvent::Obs(o)).await.is_err() {
                    return;
                }
            }
            for l in sim.drain_logs() {
                if ev_tx.send(BackendEvent::Log(l)).await.is_err() {
                    return;
                }
            }
            if sim.paused {
                continue;
            }
            for o in sim.observe(now) {
                if ev_tx.send(BackendEvent::Obs(o)).await.is_err() {
                    return;
                }
            }
        }
    });
    BackendHandle { events: ev_rx, commands: cmd_tx, supports_faults: true }
}

/// The simulated cluster writes the journal lines of its hosts' keepalived, haproxy, etcd and
/// leader elections whether or not a source is open (they are the demo); opening a source answers as
/// a live backend would, with one line saying what the demo has.
fn sim_logs(r: crate::logs::spec::LogRequest) -> Vec<BackendEvent> {
    use crate::logs::spec::{LogRequest, LogState, LogStatus};
    match r {
        LogRequest::Open { id, spec, .. } => {
            if let Err(e) = spec.validate() {
                return crate::backend::log_refused(id, &spec, &e);
            }
            let source: std::sync::Arc<str> = std::sync::Arc::from(spec.label());
            let text = "(demo) the simulated cluster writes keepalived, haproxy, etcd and leader-election journal lines of its hosts";
            vec![
                BackendEvent::LogSource(LogStatus { id, source: source.clone(), state: LogState::Streaming }),
                BackendEvent::Log(crate::logs::LogLine { at: Utc::now(), source, text: text.into() }),
            ]
        }
        LogRequest::Close { id } => vec![BackendEvent::LogSource(LogStatus { id, source: "demo".into(), state: LogState::Closed })],
    }
}
