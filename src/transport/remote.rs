//! Where the etcd, Ceph and certificate probes run their commands: over the shared SSH pool (the
//! production path), or on this machine (`Local`: the lab's Ceph on 127.0.0.1, or a jump host that is
//! itself a mon).
//!
//! Reads are kockpit's own constant probe scripts (the read-only set of [`super::readonly`]); anything
//! else is refused here before it is sent, on either transport. Writes need the process's [`WriteCap`].

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::ssh::{CommandOutput, SshError, SshPool};
use crate::ops::WriteCap;

/// How commands reach a host.
#[derive(Clone)]
pub enum Remote {
    Ssh {
        pool: SshPool,
    },
    /// `sh -c` on this machine; `host` arguments are ignored.
    Local {
        readonly: bool,
    },
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remote::Ssh { .. } => f.write_str("Remote::Ssh"),
            Remote::Local { readonly } => f.debug_struct("Remote::Local").field("readonly", readonly).finish(),
        }
    }
}

impl Remote {
    /// Over the pool: reads go only through the pool's read-only path.
    pub fn ssh(pool: SshPool) -> Remote {
        Remote::Ssh { pool }
    }

    pub fn local(readonly: bool) -> Remote {
        Remote::Local { readonly }
    }

    /// Run one of the probe scripts on `host`. `lane`: reuse a persistent remote shell for this kind of
    /// probe (no login-shell start-up per poll). Errors name the host.
    pub async fn read(&self, host: &str, lane: Option<&str>, cmd: &str, timeout: Duration) -> Result<CommandOutput, String> {
        if !super::readonly::is_read_only(cmd) {
            tracing::warn!(host, "refused: not a read-only probe command");
            return Err(format!("{host}: refused to send a command outside the read-only set"));
        }
        match self {
            Remote::Ssh { pool } => match lane {
                Some(l) => pool.run_persistent(host, l, cmd, timeout).await.map_err(ssh_msg),
                None => pool.run(host, cmd, timeout).await.map_err(ssh_msg),
            },
            Remote::Local { .. } => run_local(cmd, timeout, None).await,
        }
    }

    /// Run a command that changes something. Refused in a read-only process (no [`WriteCap`]) and on a
    /// read-only pool.
    pub async fn write(&self, cap: &WriteCap, host: &str, cmd: &str, timeout: Duration) -> Result<CommandOutput, String> {
        match self {
            Remote::Ssh { pool, .. } => pool.run_write(cap, host, cmd, timeout).await.map_err(ssh_msg),
            Remote::Local { readonly: true } => Err("read-only: refused to run a write command".into()),
            Remote::Local { readonly: false } => {
                tracing::info!(command = cmd, "local write command");
                run_local(cmd, timeout, None).await
            }
        }
    }

    /// [`Remote::write`] with the file at `input` as the command's stdin (a file copied to the host).
    pub async fn write_input(
        &self,
        cap: &WriteCap,
        host: &str,
        cmd: &str,
        input: &std::path::Path,
        timeout: Duration,
    ) -> Result<CommandOutput, String> {
        let file = std::fs::File::open(input).map_err(|e| format!("{}: {e}", input.display()))?;
        match self {
            Remote::Ssh { pool, .. } => {
                pool.run_write_input(cap, host, cmd, tokio::fs::File::from_std(file), timeout).await.map_err(ssh_msg)
            }
            Remote::Local { readonly: true } => Err("read-only: refused to run a write command".into()),
            Remote::Local { readonly: false } => {
                tracing::info!(command = cmd, "local write command with input");
                run_local(cmd, timeout, Some(file)).await
            }
        }
    }
}

fn ssh_msg(e: SshError) -> String {
    let s = e.to_string();
    let host = e.host();
    if host.is_empty() { format!("ssh: {s}") } else { format!("{host}: ssh: {}", s.strip_prefix(&format!("{host}: ")).unwrap_or(&s)) }
}

/// `sh -c CMD` here, in its own process group under coreutils `timeout` (which signals the whole group,
/// so a hung grandchild such as a `ceph` without quorum goes too), killed on drop.
async fn run_local(cmd: &str, timeout: Duration, input: Option<std::fs::File>) -> Result<CommandOutput, String> {
    let secs = format!("{:.1}", timeout.as_secs_f64().max(0.1));
    let started = Instant::now();
    let mut child = tokio::process::Command::new("timeout")
        .args(["-k", "1", &secs, "sh", "-c", cmd])
        .stdin(input.map_or_else(std::process::Stdio::null, std::process::Stdio::from))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("local: cannot run sh: {e}"))?;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut so = child.stdout.take().ok_or("local: no stdout")?;
    let mut se = child.stderr.take().ok_or("local: no stderr")?;
    let io = async {
        let (a, b) = tokio::join!(so.read_to_end(&mut out), se.read_to_end(&mut err));
        a.and(b).map_err(|e| e.to_string())?;
        child.wait().await.map_err(|e| e.to_string())
    };
    let status = match tokio::time::timeout(timeout + Duration::from_secs(2), io).await {
        Ok(r) => r.map_err(|e| format!("local: {e}"))?,
        Err(_) => return Err(format!("local: `{}` timed out after {:.1}s", short(cmd), timeout.as_secs_f64())),
    };
    // 124: coreutils timeout fired
    if status.code() == Some(124) {
        return Err(format!("local: `{}` timed out after {:.1}s", short(cmd), timeout.as_secs_f64()));
    }
    Ok(CommandOutput {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        exit_status: status.code().and_then(|c| u32::try_from(c).ok()),
        elapsed: started.elapsed(),
        first_output: None,
    })
}

fn short(cmd: &str) -> String {
    let first = cmd.lines().next().unwrap_or("");
    if first.len() > 40 { format!("{}…", first.chars().take(40).collect::<String>()) } else { first.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_scripts_only() {
        let ok = crate::shell::script_command(crate::transport::scripts::CERTS_SCRIPT, &["apiserver", "/etc/kubernetes/pki/apiserver.crt"]);
        assert!(super::super::readonly::is_read_only(&ok));
        assert!(!super::super::readonly::is_read_only(&format!("{ok}; rm -rf /")));
        assert!(!super::super::readonly::is_read_only(&format!("{ok} $(reboot)")));
        assert!(!super::super::readonly::is_read_only("ceph osd set noout"));
    }

    #[tokio::test]
    async fn local_refuses_and_times_out() {
        let r = Remote::local(true);
        let e = r.read("-", None, "touch /tmp/kockpit-should-not-exist", Duration::from_secs(1)).await.unwrap_err();
        assert!(e.contains("refused"), "{e}");
        let cap = WriteCap::acquire(false).unwrap();
        assert!(r.write(&cap, "-", "true", Duration::from_secs(1)).await.is_err(), "a read-only local remote refuses writes");
        let rw = Remote::local(false);
        let t = Instant::now();
        let e = rw.write(&cap, "-", "sleep 5", Duration::from_millis(300)).await.unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
        let ok = rw.write(&cap, "-", "echo hi; echo err >&2; exit 3", Duration::from_secs(2)).await.unwrap();
        assert_eq!((ok.stdout.as_str(), ok.stderr.as_str(), ok.exit_status), ("hi\n", "err\n", Some(3)));
    }
}
