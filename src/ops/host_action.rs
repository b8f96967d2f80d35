//! What a drill does to a host: stop or start a service, cut or heal a link.

use serde::Serialize;

/// A fault or change a drill applies to a host. Backends execute these (the simulated cluster, or
/// the live one when the cluster's plan allows drills).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostAction {
    /// Stop a service; `signal` TERM by default, STOP freezes it, KILL kills it.
    Stop {
        host: String,
        service: String,
        signal: String,
    },
    Start {
        host: String,
        service: String,
    },
    /// Cut the host's network link.
    Cut {
        host: String,
    },
    Heal {
        host: String,
    },
}

impl HostAction {
    /// The host it acts on.
    pub fn host(&self) -> &str {
        match self {
            HostAction::Stop { host, .. } | HostAction::Start { host, .. } | HostAction::Cut { host } | HostAction::Heal { host } => host,
        }
    }
    pub fn describe(&self) -> String {
        match self {
            HostAction::Stop { host, service, signal } if signal == "TERM" => format!("stop {service} on {host}"),
            HostAction::Stop { host, service, signal } => format!("send SIG{signal} to {service} on {host}"),
            HostAction::Start { host, service } => format!("start {service} on {host}"),
            HostAction::Cut { host } => format!("cut {host}'s link"),
            HostAction::Heal { host } => format!("restore {host}'s link"),
        }
    }
    /// The action that undoes this one.
    pub fn undo(&self) -> Option<HostAction> {
        match self {
            HostAction::Stop { host, service, .. } => Some(HostAction::Start { host: host.clone(), service: service.clone() }),
            HostAction::Cut { host } => Some(HostAction::Heal { host: host.clone() }),
            _ => None,
        }
    }
}
