//! Long-running remote commands (log tails) read as their output arrives.

use std::sync::Arc;
use std::time::Duration;

use super::*;

impl SshPool {
    /// Start a long-running command of the read-only set (a log tail) on a channel of its own and
    /// return it as its output arrives. Connecting has the pool's login budget; `open_timeout` bounds
    /// starting the command, not the stream. Dropping the stream closes the channel; the tail scripts end their command then.
    pub async fn stream(&self, host: &str, command: &str, open_timeout: Duration) -> Result<RemoteStream, SshError> {
        if !super::super::readonly::is_read_only(command) {
            tracing::warn!(host, command, mode = ?self.mode(), "refused: SSH command outside the read-only set");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        self.count(host);
        let conn = self.connection(host).await?;
        self.note_login(host, &conn, conn.login_took);
        let deadline = tokio::time::Instant::now() + open_timeout;
        let timed_out = || SshError::CommandTimeout {
            host: host.to_string(),
            command: super::super::readonly::describe_command(command),
            secs: open_timeout.as_secs_f64(),
        };
        let ch = match tokio::time::timeout_at(deadline, conn.handle.channel_open_session()).await {
            Ok(Ok(ch)) => ch,
            Ok(Err(e)) => {
                if conn.is_closed() {
                    self.drop_conn(host, &conn).await;
                }
                return Err(SshError::Channel { host: host.to_string(), reason: format!("open channel: {e}") });
            }
            Err(_) => return Err(timed_out()),
        };
        let mut ch = CloseOnDrop(Some(ch));
        let Some(c) = ch.0.as_mut() else { return Err(timed_out()) };
        match tokio::time::timeout_at(deadline, c.exec(true, command)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(SshError::Channel { host: host.to_string(), reason: format!("exec: {e}") }),
            Err(_) => return Err(timed_out()),
        }
        // A byte on the command's input every STREAM_HEARTBEAT: the stream scripts end what they
        // started when none comes for a while (a connection that died without closing leaves no
        // command running until the host's sshd notices, which by default is hours).
        let mut input = c.make_writer();
        let beat = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut tick = tokio::time::interval(STREAM_HEARTBEAT);
            loop {
                tick.tick().await;
                if input.write_all(b".").await.is_err() || input.flush().await.is_err() {
                    return;
                }
            }
        });
        Ok(RemoteStream { ch, _conn: conn, host: host.to_string(), status: None, _beat: AbortOnDrop(beat) })
    }
}

/// How often a stream's command gets a byte on its input. The scripts' guard (`hangup`) ends the
/// command after 45 s without one, so a few may be lost or late.
pub const STREAM_HEARTBEAT: Duration = Duration::from_secs(10);

/// A task that ends with its owner.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SshPool {
    /// A stream whose command prints at once (the facts stream) took `took` from being opened to its
    /// first output: the user's shell start-up files ran in that time, as they do at a login. Said
    /// like a slow login ([`PoolOptions::on_slow_login`]), once per connection.
    pub fn note_stream_start(&self, stream: &RemoteStream, took: Duration) {
        self.note_login(&stream.host, &stream._conn, took);
    }
}

/// What a streamed remote command sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// A running remote command whose output is read as it arrives ([`SshPool::stream`]).
pub struct RemoteStream {
    pub(super) ch: CloseOnDrop,
    /// The connection stays up while the stream is read.
    pub(super) _conn: Arc<Conn>,
    pub(super) host: String,
    pub(super) status: Option<Result<Option<u32>, String>>,
    /// The heartbeat on the command's input, stopped with the stream.
    pub(super) _beat: AbortOnDrop,
}

impl RemoteStream {
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The next piece of output; None once the channel closed (see [`RemoteStream::exit`]). A dead
    /// connection ends the stream when its keepalives go unanswered.
    pub async fn next(&mut self) -> Option<StreamChunk> {
        loop {
            let ch = self.ch.0.as_mut()?;
            match ch.wait().await {
                Some(ChannelMsg::Data { data }) => return Some(StreamChunk::Stdout(data.to_vec())),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => return Some(StreamChunk::Stderr(data.to_vec())),
                Some(ChannelMsg::ExitStatus { exit_status }) => self.status = Some(Ok(Some(exit_status))),
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => self.status = Some(Err(format!("killed by signal {signal_name:?}"))),
                Some(ChannelMsg::Failure) => {
                    self.status = Some(Err("the server refused to run the command".into()));
                    self.ch.0 = None;
                    return None;
                }
                Some(ChannelMsg::Close) | None => {
                    if self.status.is_none() && self._conn.is_closed() {
                        self.status = Some(Err("connection lost".into()));
                    }
                    if let Some(ch) = self.ch.0.take() {
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(Duration::from_millis(500), ch.close()).await;
                        });
                    }
                    return None;
                }
                Some(_) => {}
            }
        }
    }

    /// How the command ended, once [`RemoteStream::next`] returned None: Ok(exit status, None when the
    /// server sent none) or Err(why: a signal, a lost connection).
    pub fn exit(&self) -> Result<Option<u32>, String> {
        self.status.clone().unwrap_or(Ok(None))
    }

    /// Why a stream named `what` is over, for a source: `address stream ended: STDERR (exit status
    /// 143)`; `started` says whether it had got going, `stderr` is its last line there.
    pub fn end_reason(&self, what: &str, started: bool, stderr: &str) -> String {
        let how = match self.exit() {
            Ok(Some(code)) => format!("exit status {code}"),
            Ok(None) => "closed".to_string(),
            Err(e) => e,
        };
        let state = if started { "ended" } else { "did not start" };
        if stderr.is_empty() { format!("{what} {state}: {how}") } else { format!("{what} {state}: {stderr} ({how})") }
    }
}
