//! The one interface between the app loop and whatever observes and changes the cluster: the live
//! probes or the simulated cluster. The app cannot tell them apart.

mod compose;
pub use compose::Running as StopSwitches;
pub mod poll;
mod report;
pub mod route;
pub mod stream;

use tokio::sync::mpsc;

pub use report::Reporter;
pub use route::{Part, combine, route, unavailable};

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
    /// Read a node's labels and its pods with their requests, for its detail view. Reads only;
    /// answered with [`BackendEvent::NodeDetail`] carrying the same id.
    NodeDetail { id: u64, node: String },
    /// `then`, once its audit record is durable; refused if the record cannot be written. Every
    /// operation and drill action the app, a drill or a command line starts arrives this way.
    AfterRecord { recorded: crate::ops::audit::Recorded, then: Box<Command> },
}

impl Command {
    /// `self`, to be carried out only once `recorded` says its audit record is on disk.
    pub fn after(self, recorded: crate::ops::audit::Recorded) -> Command {
        Command::AfterRecord { recorded, then: Box::new(self) }
    }

    /// The planned window this command opens: its key, its label and the panels it touches. An
    /// operation's window closes with its end ([`op_key`]); a fault's or a drill action's after
    /// [`ACTION_WINDOW_SECS`].
    pub fn planned(&self, m: &crate::model::Model) -> Option<Planned> {
        let all = crate::model::PanelId::ALL.to_vec();
        let (key, label, panels, subjects) = match self {
            Command::AfterRecord { then, .. } => return then.planned(m),
            Command::Execute { id, request, .. } => (op_key(*id), request.short_label(), request.panels(), request.subjects(m)),
            Command::Fault(f) => (format!("fault {}", f.name()), format!("fault {}", f.name()), f.panels(), f.subjects(m)),
            Command::Host { id, action, .. } => (format!("drill action {id}"), "drill".into(), all, vec![action.host().to_string()]),
            _ => return None,
        };
        let sources_only = matches!(self, Command::Fault(f) if f.takes_sight_only());
        Some(Planned { key, label, panels, subjects, sources_only })
    }
}

/// The planned window a command opens (see [`crate::model::PlannedWindow`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub key: String,
    pub label: String,
    pub panels: Vec<crate::model::PanelId>,
    pub subjects: Vec<String>,
    /// It takes away kockpit's sight only (see [`crate::model::PlannedWindow::sources_only`]).
    pub sources_only: bool,
}

/// How long a fault or a drill's host action counts as the cause of what follows.
pub const ACTION_WINDOW_SECS: i64 = 60;

/// The planned-window key of operation `id`.
pub fn op_key(id: u64) -> String {
    format!("op {id}")
}

/// Open the planned windows of `cmds` on the model (called wherever commands leave for a backend).
pub fn note_planned(model: &mut crate::model::Model, cmds: &[Command], at: chrono::DateTime<chrono::Utc>) {
    for c in cmds {
        let Some(Planned { key, label, panels, subjects, sources_only }) = c.planned(model) else { continue };
        model.begin_planned(key.clone(), label, &panels, &subjects, at);
        if sources_only {
            model.planned_sources_only(&key);
        }
        if !key.starts_with("op ") {
            let grace = chrono::Duration::seconds(ACTION_WINDOW_SECS - crate::model::planned::PLANNED_GRACE_SECS);
            model.end_planned(&key, at + grace);
        }
    }
}

/// Close an operation's planned window when its end arrives.
pub fn note_op_event(model: &mut crate::model::Model, e: &OpEvent, at: chrono::DateTime<chrono::Utc>) {
    if let OpEvent::Finished { id, .. } = e {
        model.end_planned(&op_key(*id), at);
    }
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
    /// The answer to [`Command::NodeDetail`].
    NodeDetail {
        id: u64,
        node: String,
        result: Result<crate::model::NodeExtra, String>,
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

/// `main`, with the observations of `observer` (a source that takes no commands, such as
/// Alertmanager's alerts) among its events. Commands go to `main` only.
pub fn with_observer(main: BackendHandle, mut observer: BackendHandle) -> BackendHandle {
    let BackendHandle { events: mut main_events, commands, supports_faults } = main;
    let (tx, rx) = mpsc::channel::<BackendEvent>(1024);
    tokio::spawn(async move {
        let mut observing = true;
        loop {
            let ev = tokio::select! {
                ev = main_events.recv() => match ev { Some(ev) => ev, None => return },
                ev = observer.events.recv(), if observing => match ev { Some(ev) => ev, None => { observing = false; continue } },
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    BackendHandle { events: rx, commands, supports_faults }
}

/// A log source that could not be opened at all, as the events that say so: failed, and closed.
pub fn log_refused(id: u64, spec: &crate::logs::spec::LogSpec, why: &str) -> Vec<BackendEvent> {
    crate::logs::spec::LogStatus::refused(id, spec, why).into_iter().map(BackendEvent::LogSource).collect()
}
