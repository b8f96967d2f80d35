//! kockpit: one screen for the on-call engineer of a self-hosted HA Kubernetes cluster.
//!
//! The modules form layers; each imports only from the layers below it (`tests/layers.rs` holds the
//! table and fails on an import that runs upward or sideways):
//!
//! 1. [`error`], [`shell`], [`retry`]: positioned errors, quoting, the one backoff
//! 2. [`config`], [`action`]: user configuration, the Action enum
//! 3. [`inventory`], [`settings`], [`hacfg`]: the host plan; themes and keymaps; keepalived.conf and
//!    haproxy.cfg read, linted, and a failover predicted from them
//! 4. [`model`]: plain data, freshness, health, timeline, row projections; no I/O
//! 5. [`ops`], [`logs`], [`report`]: operation vocabulary, planners, faults, drill host actions, the
//!    audit writer; log vocabulary and buffer; the audit report
//! 6. [`backend`], [`transport`]: the protocol (commands, events, the routing table, the poll loop,
//!    the progress reporter); SSH, the read-only set with every script, local commands, HTTPS
//! 7. [`probe`], [`etcd`], [`certs`], [`ceph`], [`kube`], [`sim`]: the sources, none importing another
//! 8. [`live`], [`drill`]: wiring of the live backend; drills
//! 9. [`app`]: the state and the key handling, no terminal
//! 10. [`ui`]: panels, dialogs, layout and the terminal loop
//! 11. [`cli`]: the subcommands

/// `eprintln!` that never panics: a standard error that cannot be written (a full disk, a closed
/// pipe) loses the line, never the process in the middle of an operation or a drill. (Defined before
/// the modules, it is the one they see.)
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod error;
pub mod retry;
pub mod shell;
pub mod text;

pub mod action;
pub mod config;

pub mod hacfg;
pub mod inventory;
pub mod settings;

pub mod model;

pub mod logs;
pub mod ops;
pub mod report;

pub mod backend;
pub mod transport;

pub mod alerts;
pub mod ceph;
pub mod certs;
pub mod etcd;
pub mod kube;
pub mod probe;
pub mod sim;

pub mod drill;
pub mod fleet;
pub mod live;

pub mod app;

pub mod ui;

pub mod cli;

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Mark the start of the process (called first thing in `main`).
pub fn mark_start() {
    STARTED.get_or_init(std::time::Instant::now);
}

/// Time since [`mark_start`].
pub fn process_age() -> std::time::Duration {
    STARTED.get_or_init(std::time::Instant::now).elapsed()
}
