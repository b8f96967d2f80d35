//! The haproxy probe: `show stat` over the admin socket of every host that runs haproxy (else the same
//! CSV from its stats page, fetched on the host), and, to compare with haproxy's view, a direct HTTPS
//! GET /readyz on every apiserver from where kockpit runs ([`probe_readyz`], in `transport::https`).

use std::time::Duration;

use super::parse::parse_show_stat;
use crate::model::BackendServer;
use crate::transport::ssh::{SshPool, script_command};

pub use crate::transport::https::probe_readyz;
pub use crate::transport::scripts::SHOW_STAT_SCRIPT;

/// `show stat` on one host, filtered to `backend` ("" = every backend). `socket` is the plan's; where
/// it is not there, the script finds the one the running haproxy's configuration names.
pub async fn probe_haproxy(
    pool: &SshPool,
    ssh_host: &str,
    socket: &str,
    backend: &str,
    timeout: Duration,
) -> Result<Vec<BackendServer>, String> {
    probe_haproxy_found(pool, ssh_host, socket, backend, timeout).await.map(|(servers, _)| servers)
}

/// [`probe_haproxy`], also saying which socket answered and where it was found:
/// `/var/lib/haproxy/stats (from /etc/haproxy/haproxy.cfg)`.
pub async fn probe_haproxy_found(
    pool: &SshPool,
    ssh_host: &str,
    socket: &str,
    backend: &str,
    timeout: Duration,
) -> Result<(Vec<BackendServer>, String), String> {
    let out = pool
        .run_persistent(ssh_host, "haproxy", &script_command(SHOW_STAT_SCRIPT, &[socket]), timeout)
        .await
        .map_err(|e| super::ssh_reason(&e))?;
    if !out.success() {
        return Err(format!("haproxy: {}", super::access::script_failure(&out.stderr)));
    }
    let (found, stat) = split_found(&out.stdout);
    parse_show_stat(stat, backend).map(|servers| (servers, found)).map_err(|e| e.to_string())
}

/// The script's first line, `@@kockpit-socket ADDR FROM` or `@@kockpit-page URL FROM`, as `ADDR
/// (from FROM)` or `stats page URL (from FROM)`, and the rest.
pub fn split_found(stdout: &str) -> (String, &str) {
    let (kind, rest) = match (stdout.strip_prefix("@@kockpit-socket "), stdout.strip_prefix("@@kockpit-page ")) {
        (Some(rest), _) => ("", rest),
        (_, Some(rest)) => ("stats page ", rest),
        _ => return (String::new(), stdout),
    };
    let (line, stat) = rest.split_once('\n').unwrap_or((rest, ""));
    let (addr, from) = line.split_once(' ').unwrap_or((line, "?"));
    let from = if from == "plan" { "the plan".to_string() } else { from.to_string() };
    (format!("{kind}{addr} (from {from})"), stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_the_data_came_from() {
        let (found, rest) = split_found("@@kockpit-socket /run/haproxy/admin.sock plan\n# pxname,svname\n");
        assert_eq!((found.as_str(), rest), ("/run/haproxy/admin.sock (from the plan)", "# pxname,svname\n"));
        let (found, rest) = split_found("@@kockpit-page http://127.0.0.1:9000/stats /etc/haproxy/haproxy.cfg\n# pxname\n");
        assert_eq!(found, "stats page http://127.0.0.1:9000/stats (from /etc/haproxy/haproxy.cfg)");
        assert_eq!(rest, "# pxname\n");
        assert_eq!(split_found("# pxname\n"), (String::new(), "# pxname\n"));
    }
}
