//! What a drill does to a host: stop or start a service, cut or heal a link; and the etcd client a
//! drill runs to show that a change keeps etcd writable.

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
    /// Start (or stop) a client that writes a key to etcd every [`ETCD_WRITE_EVERY_MS`] under
    /// [`ETCD_WRITE_PREFIX`], each result an observation; stopping it deletes its keys.
    EtcdWrites {
        on: bool,
    },
    /// Start (or stop) a client connecting through the VIP every [`VIP_CLIENT_EVERY_MS`], each
    /// connect an observation.
    VipClients {
        on: bool,
    },
    /// Create (or expire) an Alertmanager silence of the cluster's alerts about `targets` for
    /// `minutes`; expiring takes no targets (it expires what the drill created).
    Silence {
        on: bool,
        targets: Vec<String>,
        minutes: u32,
    },
}

/// How often the drill's VIP client connects.
pub const VIP_CLIENT_EVERY_MS: u64 = 20;

/// Where the drill's etcd client writes: outside Kubernetes' `/registry`, deleted when it stops.
pub const ETCD_WRITE_PREFIX: &str = "/kockpit/drill-writes/";
/// How often the drill's etcd client writes a key.
pub const ETCD_WRITE_EVERY_MS: u64 = 50;

impl HostAction {
    /// The host it acts on.
    pub fn host(&self) -> &str {
        match self {
            HostAction::Stop { host, .. } | HostAction::Start { host, .. } | HostAction::Cut { host } | HostAction::Heal { host } => host,
            HostAction::EtcdWrites { .. } => "etcd",
            HostAction::VipClients { .. } => "vip",
            HostAction::Silence { .. } => "alertmanager",
        }
    }
    pub fn describe(&self) -> String {
        match self {
            HostAction::Stop { host, service, signal } if signal == "TERM" => format!("stop {service} on {host}"),
            HostAction::Stop { host, service, signal } => format!("send SIG{signal} to {service} on {host}"),
            HostAction::Start { host, service } => format!("start {service} on {host}"),
            HostAction::Cut { host } => format!("cut {host}'s link"),
            HostAction::Heal { host } => format!("restore {host}'s link"),
            HostAction::EtcdWrites { on: true } => {
                format!("start a client writing a key to etcd every {ETCD_WRITE_EVERY_MS} ms (under {ETCD_WRITE_PREFIX})")
            }
            HostAction::EtcdWrites { on: false } => "stop the etcd client and delete its keys".to_string(),
            HostAction::VipClients { on: true } => format!("start a client connecting through the VIP every {VIP_CLIENT_EVERY_MS} ms"),
            HostAction::VipClients { on: false } => "stop the VIP client".to_string(),
            HostAction::Silence { on: true, targets, minutes } => {
                format!("silence the cluster's alerts about {} in Alertmanager for {minutes} min", targets.join(", "))
            }
            HostAction::Silence { on: false, .. } => "expire the drill's Alertmanager silences".to_string(),
        }
    }
    /// The action that undoes this one.
    pub fn undo(&self) -> Option<HostAction> {
        match self {
            HostAction::Stop { host, service, .. } => Some(HostAction::Start { host: host.clone(), service: service.clone() }),
            HostAction::Cut { host } => Some(HostAction::Heal { host: host.clone() }),
            HostAction::EtcdWrites { on: true } => Some(HostAction::EtcdWrites { on: false }),
            HostAction::VipClients { on: true } => Some(HostAction::VipClients { on: false }),
            HostAction::Silence { on: true, .. } => Some(HostAction::Silence { on: false, targets: vec![], minutes: 0 }),
            _ => None,
        }
    }
}
