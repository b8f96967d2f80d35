//! The persistent-shell protocol: one `sh` per (host, lane) fed commands on its stdin, and one-shot
//! exec channels, both bounded in time and output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

impl SshPool {
    /// Run a command of the read-only set in a persistent remote shell: one `sh` per (host, lane),
    /// started once per connection and fed commands on its stdin, so a poll costs no login-shell
    /// start-up on the host (sshd runs every exec through the user's shell, and its rc files can
    /// take hundreds of milliseconds). Commands of one lane run one at a time; use one lane per
    /// probe kind. The same read-only check as [`SshPool::run`] applies to every command sent.
    pub async fn run_persistent(&self, host: &str, lane: &str, command: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        if !super::super::readonly::is_read_only(command) {
            tracing::warn!(host, command, mode = ?self.mode(), "refused: SSH command outside the read-only set");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        self.count(host);
        // Everything before the command is sent is the login, on its own budget: waiting for the
        // lane, connecting, and starting the shell (the user's shell start-up files run then).
        let started = Instant::now();
        let login_deadline = tokio::time::Instant::now() + self.inner.opts.login_timeout;
        let lane_name = lane;
        let lane = {
            let mut lanes = self.inner.lanes.lock().unwrap_or_else(|p| p.into_inner());
            lanes.entry((host.to_string(), lane.to_string())).or_default().clone()
        };
        let Ok(mut guard) = tokio::time::timeout_at(login_deadline, lane.shell.lock()).await else {
            let secs = show_secs(started.elapsed().as_secs_f64());
            return Err(SshError::Channel { host: host.to_string(), reason: format!("the lane {lane_name} is still busy after {secs}") });
        };
        let conn = self.connection_by(host, login_deadline).await?;
        if let Some(old) = guard.take_if(|s| !Arc::ptr_eq(&s.conn, &conn) || conn.is_closed()) {
            old.discard();
        }
        let shell = match guard.as_mut() {
            Some(s) => s,
            None => {
                let open = async {
                    let ch = conn.handle.channel_open_session().await.map_err(|e| format!("open channel: {e}"))?;
                    // closed again if this is abandoned half-way (timeout)
                    let mut keep = CloseOnDrop(Some(ch));
                    let ch = keep.0.as_mut().ok_or("channel lost")?;
                    ch.exec(true, PERSISTENT_SHELL).await.map_err(|e| format!("exec: {e}"))?;
                    // whatever the login shell's rc files print comes before this: dropped
                    let ready = format!("@@kockpit-ready-{}", std::process::id());
                    shell_exchange(ch, b"true\n", &ready, Instant::now()).await?;
                    keep.0.take().ok_or_else(|| "channel lost".to_string())
                };
                tokio::pin!(open);
                // a login may be slow, a dead connection must not hold the probe for the whole
                // budget: past the command's timeout, ask the server whether it is still there
                let opened = match tokio::time::timeout(timeout, &mut open).await {
                    Ok(r) => Ok(r),
                    Err(_) if !self.answers(&conn).await => {
                        tracing::info!(host, "ssh connection does not answer; dropping it");
                        self.drop_conn(host, &conn).await;
                        let reason = format!("no answer while starting the remote shell ({})", show_secs(started.elapsed().as_secs_f64()));
                        return Err(SshError::Channel { host: host.to_string(), reason });
                    }
                    Err(_) => tokio::time::timeout_at(login_deadline, open).await,
                };
                match opened {
                    Ok(Ok(ch)) => {
                        self.note_login(host, &conn, started.elapsed());
                        guard.insert(Shell { ch, conn: conn.clone(), seq: 0 })
                    }
                    Ok(Err(reason)) => return Err(SshError::Channel { host: host.to_string(), reason }),
                    Err(_) => return Err(self.login_timed_out(host)),
                }
            }
        };
        shell.seq += 1;
        let marker = format!("@@kockpit-done-{}-{:x}", shell.seq, started.elapsed().as_nanos() ^ u128::from(std::process::id()));
        // stdin stays the shell's: the command gets /dev/null. `$?` is read before anything else runs.
        let sent = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let wrapped = self.as_sent(command, false);
        let bytes = wrapped.as_deref().unwrap_or(command).as_bytes();
        let result = tokio::time::timeout_at(deadline, shell_exchange(&mut shell.ch, bytes, &marker, sent)).await;
        match result {
            Ok(Ok(mut out)) => {
                out.elapsed = sent.elapsed();
                self.sudo_checked(host, wrapped.is_some(), out)
            }
            Ok(Err(reason)) => {
                if let Some(s) = guard.take() {
                    s.discard();
                }
                Err(SshError::Channel { host: host.to_string(), reason })
            }
            Err(_) => {
                if let Some(s) = guard.take() {
                    s.discard();
                }
                Err(self.command_timed_out(host, &conn, command, timeout).await)
            }
        }
    }
}

/// The command a persistent lane runs: a plain POSIX shell reading commands from stdin. Only
/// commands of the read-only set are ever written to it in a read-only pool.
pub const PERSISTENT_SHELL: &str = "exec sh";

/// Write one command to a persistent shell and read until its stdout and stderr markers. Output
/// before the markers is the command's; the command's stdin is /dev/null (the shell's stays ours) and
/// `$?` is read before anything else runs.
pub(super) async fn shell_exchange(
    ch: &mut russh::Channel<client::Msg>,
    command: &[u8],
    marker: &str,
    sent: Instant,
) -> Result<CommandOutput, String> {
    let mut script = command.trim_ascii_end().to_vec();
    script.extend_from_slice(format!(" </dev/null; printf '\\n{marker} %s\\n' \"$?\"; printf '\\n{marker}\\n' >&2\n").as_bytes());
    ch.data_bytes(script).await.map_err(|e| format!("write to remote shell: {e}"))?;
    let out_mark = format!("\n{marker} ");
    let err_mark = format!("\n{marker}\n");
    let (mut out, mut err) = (Vec::<u8>::new(), Vec::<u8>::new());
    let mut first_output = None;
    let mut status: Option<(usize, u32)> = None;
    let mut err_end: Option<usize> = None;
    loop {
        if let (Some((cut, code)), Some(ecut)) = (status, err_end) {
            out.truncate(cut);
            err.truncate(ecut);
            return Ok(CommandOutput {
                stdout: String::from_utf8_lossy(&out).into_owned(),
                stderr: String::from_utf8_lossy(&err).into_owned(),
                exit_status: Some(code),
                elapsed: sent.elapsed(),
                first_output,
            });
        }
        match ch.wait().await {
            Some(ChannelMsg::Data { data }) => {
                first_output.get_or_insert_with(|| sent.elapsed());
                out.extend_from_slice(&data);
                if status.is_none()
                    && let Some(i) = find_bytes(&out, out_mark.as_bytes())
                {
                    let rest = &out[i + out_mark.len()..];
                    if let Some(nl) = rest.iter().position(|b| *b == b'\n') {
                        let code = std::str::from_utf8(&rest[..nl]).ok().and_then(|c| c.trim().parse().ok()).unwrap_or(255);
                        status = Some((i, code));
                    }
                }
            }
            Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                err.extend_from_slice(&data);
                if err_end.is_none() {
                    err_end = find_bytes(&err, err_mark.as_bytes());
                }
            }
            Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | Some(ChannelMsg::ExitStatus { .. }) | None => {
                return Err("the remote shell exited".into());
            }
            Some(_) => {}
        }
        if out.len() + err.len() > MAX_OUTPUT {
            return Err(format!("output larger than {} MiB", MAX_OUTPUT >> 20));
        }
    }
}

pub(super) fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Open a session channel, exec, collect stdout/stderr/exit status until the channel closes.
pub(super) enum ChannelError {
    TimedOut,
    Failed(String),
}

/// Run `command` on a channel of its own until `deadline`; a command still running then has its
/// channel closed (sshd then ends the session's processes).
/// `input`, when given, is sent to the command's stdin (then end of file).
pub(super) async fn run_channel_with(
    h: &Handle<Client>,
    command: &str,
    deadline: tokio::time::Instant,
    input: Option<tokio::fs::File>,
) -> Result<CommandOutput, ChannelError> {
    let ch = match tokio::time::timeout_at(deadline, h.channel_open_session()).await {
        Ok(Ok(ch)) => ch,
        Ok(Err(e)) => return Err(ChannelError::Failed(format!("open channel: {e}"))),
        Err(_) => return Err(ChannelError::TimedOut),
    };
    let mut ch = CloseOnDrop(Some(ch));
    let sent = Instant::now();
    match tokio::time::timeout_at(deadline, ch.get()?.exec(true, command)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ChannelError::Failed(format!("exec: {e}"))),
        Err(_) => return Err(ChannelError::TimedOut),
    }
    if let Some(file) = input {
        let ch = ch.get()?;
        match tokio::time::timeout_at(deadline, async {
            ch.data(file).await?;
            ch.eof().await
        })
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ChannelError::Failed(format!("sending the input: {e}"))),
            Err(_) => return Err(ChannelError::TimedOut),
        }
    }
    let mut first_output = None;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut status = None;
    let mut signal = None;
    loop {
        let msg = match tokio::time::timeout_at(deadline, ch.get()?.wait()).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(_) => return Err(ChannelError::TimedOut),
        };
        match msg {
            ChannelMsg::Data { data } => {
                first_output.get_or_insert_with(|| sent.elapsed());
                out.extend_from_slice(&data)
            }
            ChannelMsg::ExtendedData { data, ext: 1 } => err.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => signal = Some(format!("{signal_name:?}")),
            ChannelMsg::Failure => return Err(ChannelError::Failed("the server refused to run the command".into())),
            ChannelMsg::Close => break,
            _ => {}
        }
        if out.len() + err.len() > MAX_OUTPUT {
            return Err(ChannelError::Failed(format!("output larger than {} MiB", MAX_OUTPUT >> 20)));
        }
    }
    ch.finished();
    if let (None, Some(s)) = (status, signal) {
        err.extend_from_slice(format!("\nkilled by signal {s}").as_bytes());
    }
    Ok(CommandOutput {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        exit_status: status,
        elapsed: sent.elapsed(),
        first_output,
    })
}

/// A channel that is closed (in the background) when dropped before it finished.
pub(super) struct CloseOnDrop(pub(super) Option<russh::Channel<client::Msg>>);

impl CloseOnDrop {
    pub(super) fn get(&mut self) -> Result<&mut russh::Channel<client::Msg>, ChannelError> {
        self.0.as_mut().ok_or_else(|| ChannelError::Failed("channel already closed".into()))
    }
    /// The command finished: nothing to clean up.
    pub(super) fn finished(mut self) {
        self.0 = None;
    }
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let (Some(ch), Ok(rt)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_millis(500), ch.close()).await;
            });
        }
    }
}
