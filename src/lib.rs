//! kockpit: one screen for the on-call engineer of a self-hosted HA Kubernetes cluster.

pub mod app;
pub mod backend;
pub mod cli;
pub mod config;
pub mod drill;
pub mod error;
pub mod inventory;
pub mod kube;
pub mod logs;
pub mod model;
pub mod ops;
pub mod report;
pub mod sim;
pub mod ui;

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Mark the start of the process (called first thing in `main`).
pub fn mark_start() {
    STARTED.get_or_init(std::time::Instant::now);
}

/// Time since [`mark_start`].
pub fn process_age() -> std::time::Duration {
    STARTED.get_or_init(std::time::Instant::now).elapsed()
}
pub mod ceph;
pub mod certs;
pub mod etcd;
pub mod live_state;
pub mod probe;
