//! The haproxy probe: `show stat` over the admin socket of every host that runs haproxy, and, to
//! compare with haproxy's view, a direct HTTPS GET /readyz on every apiserver from where kockpit runs
//! ([`probe_readyz`], in `transport::https`).

use std::time::Duration;

use super::parse::parse_show_stat;
use crate::model::BackendServer;
use crate::transport::ssh::{SshPool, script_command};

pub use crate::transport::https::probe_readyz;
pub use crate::transport::scripts::SHOW_STAT_SCRIPT;

/// `show stat` on one host, filtered to `backend` ("" = every backend).
pub async fn probe_haproxy(
    pool: &SshPool,
    ssh_host: &str,
    socket: &str,
    backend: &str,
    timeout: Duration,
) -> Result<Vec<BackendServer>, String> {
    let socket = if socket.is_empty() { "/run/haproxy/admin.sock" } else { socket };
    let out = pool
        .run_persistent(ssh_host, "haproxy", &script_command(SHOW_STAT_SCRIPT, &[socket]), timeout)
        .await
        .map_err(|e| super::ssh_reason(&e))?;
    if !out.success() {
        let why = out.stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output");
        return Err(format!("haproxy: {why}"));
    }
    parse_show_stat(&out.stdout, backend).map_err(|e| e.to_string())
}
