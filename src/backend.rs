//! The one interface between the app loop and whatever observes and changes the cluster: the live
//! probes or the simulated cluster. The app cannot tell them apart.

use tokio::sync::mpsc;

use crate::model::Observation;
use crate::ops::{OpEvent, OpRequest, WriteCap};
use crate::sim::Fault;

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
    Host { id: u64, action: crate::drill::HostAction, cap: WriteCap },
    /// Pause or resume the world (demo only).
    SetPaused(bool),
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
}

pub struct BackendHandle {
    pub events: mpsc::Receiver<BackendEvent>,
    pub commands: mpsc::UnboundedSender<Command>,
    /// Whether faults can be injected (true for the simulated cluster).
    pub supports_faults: bool,
}
