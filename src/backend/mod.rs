//! The one interface between the app loop and whatever observes and changes the cluster: the live
//! probes or the simulated cluster. The app cannot tell them apart.

pub mod poll;
mod report;
pub mod stream;

use tokio::sync::mpsc;

pub use report::Reporter;

use crate::model::Observation;
use crate::ops::Fault;
use crate::ops::{OpEvent, OpRequest, WriteCap};

/// Something the app asks a backend to do.
#[derive(Debug)]
pub enum Command {
    /// Execute a confirmed operation. Requires the write capability.
    Execute { id: u64, request: OpRequest, cap: WriteCap },
    /// Stop a running operation at the next safe point (a drain leaves the node cordoned).
    Cancel { id: u64 },
    /// Inject a fault (demo and drills only).
    Fault(Fault),
    /// Apply a drill's host action (stop a service, cut a link ...). Requires the write capability;
    /// live backends also require the cluster's plan to allow drills.
    Host { id: u64, action: crate::ops::HostAction, cap: WriteCap },
    /// Pause or resume the world (demo only).
    SetPaused(bool),
    /// Dry-run an operation before it is confirmed (a drain: which pods would move, which are blocked
    /// and why). Reads only; answered with [`BackendEvent::DryRun`] carrying the same id.
    DryRun { id: u64, request: OpRequest },
    /// Open or close a log source (journal or file over SSH, pod logs through the API). Reads only:
    /// allowed in read-only mode.
    Logs(crate::logs::spec::LogRequest),
}

/// Something a backend tells the app. Nearly every event is an observation, so boxing it would only
/// add an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum BackendEvent {
    Obs(Observation),
    Op(OpEvent),
    /// A human-readable notice, e.g. "osd.4 down (injected)".
    Notice(String),
    /// A log line from a tailed source (pod logs, journalctl over SSH, files).
    Log(crate::logs::LogLine),
    /// The answer to [`Command::DryRun`].
    DryRun {
        id: u64,
        result: Result<crate::ops::DryRun, String>,
    },
    /// A log source's stream started, ended or failed, or the source is closed.
    LogSource(crate::logs::spec::LogStatus),
}

pub struct BackendHandle {
    pub events: mpsc::Receiver<BackendEvent>,
    pub commands: mpsc::UnboundedSender<Command>,
    /// Whether faults can be injected (true for the simulated cluster).
    pub supports_faults: bool,
}

impl BackendHandle {
    /// A live backend run by one task, `run(events, commands)`, on the current tokio runtime; the task
    /// sees its channels close when the handle is dropped.
    pub fn spawn<F, Fut>(run: F) -> BackendHandle
    where
        F: FnOnce(mpsc::Sender<BackendEvent>, mpsc::UnboundedReceiver<Command>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (ev_tx, ev_rx) = mpsc::channel::<BackendEvent>(1024);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel::<Command>();
        tokio::spawn(run(ev_tx, cmd_rx));
        BackendHandle { events: ev_rx, commands: cmd_tx, supports_faults: false }
    }
}

/// A log source that could not be opened at all, as the events that say so: failed, and closed.
pub fn log_refused(id: u64, spec: &crate::logs::spec::LogSpec, why: &str) -> Vec<BackendEvent> {
    crate::logs::spec::LogStatus::refused(id, spec, why).into_iter().map(BackendEvent::LogSource).collect()
}

/// Which commands a part of a combined backend takes.
pub type Claims = fn(&Command) -> bool;

/// One backend made of several (SSH probes, Kubernetes watches, etcd, Ceph ...): every part's events
/// go to the one channel; each command goes to the first part that claims it, `Cancel` and closing a
/// log source to all of them, and a command nobody claims is answered as unavailable instead of vanishing.
pub fn combine(parts: Vec<(BackendHandle, Claims)>) -> BackendHandle {
    let (ev_tx, ev_rx) = mpsc::channel::<BackendEvent>(1024);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Command>();
    let supports_faults = parts.iter().any(|(h, _)| h.supports_faults);
    let mut routes = Vec::new();
    for (mut h, claims) in parts {
        let tx = ev_tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = h.events.recv().await {
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        });
        routes.push((h.commands, claims));
    }
    tokio::spawn(async move {
        while let Some(cmd) = cmd_rx.recv().await {
            if let Command::Cancel { id } = cmd {
                for (tx, _) in &routes {
                    let _ = tx.send(Command::Cancel { id });
                }
                continue;
            }
            if let Command::Logs(crate::logs::spec::LogRequest::Close { id }) = cmd {
                for (tx, _) in &routes {
                    let _ = tx.send(Command::Logs(crate::logs::spec::LogRequest::Close { id }));
                }
                continue;
            }
            match routes.iter().find(|(_, claims)| claims(&cmd)) {
                Some((tx, _)) => {
                    let _ = tx.send(cmd);
                }
                None => {
                    let evs = match cmd {
                        Command::Execute { id, request, .. } => vec![BackendEvent::Op(OpEvent::Finished {
                            id,
                            ok: false,
                            summary: format!("{}: not available for this cluster in this version", request.title()),
                        })],
                        Command::Host { id, action, .. } => vec![BackendEvent::Op(OpEvent::Finished {
                            id,
                            ok: false,
                            summary: format!("{}: no backend of this cluster can do it", action.describe()),
                        })],
                        Command::Fault(_) => vec![BackendEvent::Notice("fault injection is only available in the demo and drills".into())],
                        Command::SetPaused(_) => vec![BackendEvent::Notice("a live cluster cannot be paused".into())],
                        Command::DryRun { id, request } => {
                            vec![BackendEvent::DryRun { id, result: Err(format!("no dry run of {} for this cluster", request.title())) }]
                        }
                        Command::Cancel { .. } => continue,
                        Command::Logs(r) => match r {
                            crate::logs::spec::LogRequest::Open { id, spec, .. } => {
                                crate::backend::log_refused(id, &spec, "no backend of this cluster serves these logs")
                            }
                            crate::logs::spec::LogRequest::Close { .. } => continue,
                        },
                    };
                    for ev in evs {
                        if ev_tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    BackendHandle { events: ev_rx, commands: cmd_tx, supports_faults }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{OpRequest, WriteCap};

    fn part() -> (BackendHandle, mpsc::Sender<BackendEvent>, mpsc::UnboundedReceiver<Command>) {
        let (etx, erx) = mpsc::channel(8);
        let (ctx, crx) = mpsc::unbounded_channel();
        (BackendHandle { events: erx, commands: ctx, supports_faults: false }, etx, crx)
    }

    #[tokio::test]
    async fn routes_commands_and_merges_events() {
        let (a, a_ev, mut a_cmd) = part();
        let (b, b_ev, mut b_cmd) = part();
        let kube: Claims = |c| matches!(c, Command::Execute { request: OpRequest::Cordon { .. }, .. });
        let ssh: Claims = |c| matches!(c, Command::Host { .. });
        let mut h = combine(vec![(a, kube), (b, ssh)]);
        let cap = WriteCap::acquire(false).unwrap();
        h.commands.send(Command::Execute { id: 1, request: OpRequest::Cordon { node: "w1".into() }, cap: cap.share() }).unwrap();
        h.commands.send(Command::Cancel { id: 1 }).unwrap();
        h.commands.send(Command::Execute { id: 2, request: OpRequest::SetNoout { on: true }, cap: cap.share() }).unwrap();
        assert!(matches!(a_cmd.recv().await, Some(Command::Execute { id: 1, .. })));
        assert!(matches!(a_cmd.recv().await, Some(Command::Cancel { id: 1 })));
        assert!(matches!(b_cmd.recv().await, Some(Command::Cancel { id: 1 })));
        match h.events.recv().await {
            Some(BackendEvent::Op(OpEvent::Finished { id: 2, ok: false, summary })) => {
                assert!(summary.contains("not available"), "{summary}")
            }
            other => panic!("{other:?}"),
        }
        a_ev.send(BackendEvent::Notice("from a".into())).await.unwrap();
        b_ev.send(BackendEvent::Notice("from b".into())).await.unwrap();
        let mut got = vec![];
        for _ in 0..2 {
            if let Some(BackendEvent::Notice(n)) = h.events.recv().await {
                got.push(n);
            }
        }
        got.sort();
        assert_eq!(got, ["from a", "from b"]);
    }

    #[tokio::test]
    async fn log_sources_go_to_their_backend_and_closing_reaches_all() {
        use crate::logs::spec::{LogRequest, LogSpec, LogState};
        let (a, _a_ev, mut a_cmd) = part();
        let (b, _b_ev, mut b_cmd) = part();
        let kube: Claims = |c| matches!(c, Command::Logs(r) if r.is_kube());
        let ssh: Claims = |c| matches!(c, Command::Logs(LogRequest::Open { spec, .. }) if spec.host().is_some());
        let h = combine(vec![(a, kube), (b, ssh)]);
        let pod = LogSpec::Pod { namespace: "ns".into(), pod: "p".into(), container: None, previous: false };
        let journal = LogSpec::Journal { host: "m1".into(), unit: "etcd".into() };
        h.commands.send(Command::Logs(LogRequest::Open { id: 1, spec: pod, tail: 10, follow: true })).unwrap();
        h.commands.send(Command::Logs(LogRequest::Open { id: 2, spec: journal, tail: 10, follow: true })).unwrap();
        h.commands.send(Command::Logs(LogRequest::Close { id: 2 })).unwrap();
        assert!(matches!(a_cmd.recv().await, Some(Command::Logs(LogRequest::Open { id: 1, .. }))));
        assert!(matches!(b_cmd.recv().await, Some(Command::Logs(LogRequest::Open { id: 2, .. }))));
        assert!(matches!(a_cmd.recv().await, Some(Command::Logs(LogRequest::Close { id: 2 }))));
        assert!(matches!(b_cmd.recv().await, Some(Command::Logs(LogRequest::Close { id: 2 }))));
        // nobody serves files in this combination: refused, failed and closed, not silently dropped
        let file = LogSpec::File { host: "m1".into(), path: "/x".into() };
        let claims_none: Claims = |_| false;
        let (c, _c_ev, _c_cmd) = part();
        let mut h2 = combine(vec![(c, claims_none)]);
        h2.commands.send(Command::Logs(LogRequest::Open { id: 3, spec: file, tail: 1, follow: true })).unwrap();
        let mut states = vec![];
        for _ in 0..2 {
            if let Some(BackendEvent::LogSource(s)) = h2.events.recv().await {
                assert_eq!((s.id, &*s.source), (3, "file m1 /x"));
                states.push(s.state);
            }
        }
        assert!(matches!(&states[..], [LogState::Failed(w), LogState::Closed] if w.contains("no backend")), "{states:?}");
    }
}
