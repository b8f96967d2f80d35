//! The Hosts probe: one POSIX sh script per poll prints every fact kockpit compares with the plan.

use std::time::Duration;

use chrono::Utc;

use super::parse::parse_host_facts;
use crate::model::HostFacts;
use crate::transport::ssh::{SshPool, script_command};

pub use crate::transport::scripts::HOST_FACTS_SCRIPT;

/// The widest exec-to-first-byte window in which the remote clock is still compared (±half of it).
const MAX_CLOCK_WINDOW: Duration = Duration::from_millis(300);

/// Run the host-facts script on `ssh_host` and parse it.
pub async fn probe_host(pool: &SshPool, ssh_host: &str, timeout: Duration) -> Result<HostFacts, String> {
    let out = pool
        .run_persistent(ssh_host, "facts", &script_command(HOST_FACTS_SCRIPT, &[]), timeout)
        .await
        .map_err(|e| super::ssh_reason(&e))?;
    let done = Utc::now();
    // `date` is the script's first output: it ran between the exec request and the first byte back.
    // Compare it with the local clock halfway through that window; when the window is too wide to
    // tell a 500 ms offset (a loaded machine, a slow link), say nothing rather than something wrong.
    let local_mid = out.first_output.filter(|w| *w < MAX_CLOCK_WINDOW).map(|w| {
        let exec_at = done - chrono::Duration::from_std(out.elapsed).unwrap_or_default();
        let mid = exec_at + chrono::Duration::from_std(w / 2).unwrap_or_default();
        mid.timestamp() as f64 + f64::from(mid.timestamp_subsec_nanos()) / 1e9
    });
    if out.stdout.trim().is_empty() {
        let why = out.stderr.lines().next().unwrap_or("no output");
        return Err(format!("host facts: {why} (exit {:?})", out.exit_status));
    }
    parse_host_facts(&out.stdout, local_mid).map_err(|e| e.to_string())
}
