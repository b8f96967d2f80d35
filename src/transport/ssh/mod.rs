//! SSH to every host, with russh: one connection per host alias, reused, kept alive, reconnected with
//! backoff; commands on their own channels in parallel, each with a timeout. A host that hangs or is
//! down blocks only the callers that asked for that host.
//!
//! Trust follows OpenSSH: the user's ssh_config ([`config`]), host keys checked against known_hosts
//! ([`known_hosts`]) strictly unless `accept_new_host_keys` (changed keys are always refused), keys from
//! ssh-agent and IdentityFile (an encrypted key asks the [`PassphrasePrompt`] once), never passwords.
//! ProxyJump chains go through direct-tcpip channels of the jump connections, which are pool
//! connections themselves (so `lb1` is one connection whether used directly or as a jump host).
//!
//! Read-only is enforced here, below every caller: a pool built with [`AccessMode::ReadOnly`] sends
//! only commands of the read-only set ([`readonly`]); anything else is refused before a byte is sent.
//! Writes go through [`SshPool::run_write`], which needs the process's [`WriteCap`].

pub mod config;
mod connect;
mod hostkey;
pub mod known_hosts;
mod shell;
mod stream;

use hostkey::Client;
use hostkey::HandlerError;
pub use shell::PERSISTENT_SHELL;
use shell::{ChannelError, CloseOnDrop};
pub use stream::{RemoteStream, StreamChunk};

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::{Algorithm, PublicKey};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use russh::{ChannelMsg, Disconnect};
use tokio::sync::Mutex as AsyncMutex;

pub use super::readonly::is_read_only;
pub use crate::shell::{script_command, sh_quote};
pub use config::{HostConfig, JumpSpec, SshConfig, StrictHostKeyChecking};
pub use known_hosts::{HostKeyStatus, fingerprint};

use crate::ops::WriteCap;

/// Whether a pool may send commands outside the read-only set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    ReadOnly,
    ReadWrite,
}

/// Asked for the passphrase of an encrypted key (its path); None = the user declined.
/// Called at most once per key file per pool.
pub type PassphrasePrompt = Arc<dyn Fn(PathBuf) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync>;

/// Told of a slow login: the host alias and how long the login took (at most once per connection).
pub type SlowLoginReport = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// How a pool connects.
#[derive(Clone)]
pub struct PoolOptions {
    /// The OpenSSH client config to read; None = ~/.ssh/config (a missing file is fine).
    pub ssh_config: Option<PathBuf>,
    pub mode: AccessMode,
    /// Accept unknown host keys and record them in the first UserKnownHostsFile (changed keys are
    /// still refused). The config's `StrictHostKeyChecking accept-new` has the same effect for its hosts.
    pub accept_new_host_keys: bool,
    /// TCP connect plus SSH handshake (key exchange, host key check), per hop (ConnectTimeout in the
    /// config wins).
    pub connect_timeout: Duration,
    /// The login budget: everything before a command is sent (every hop's connect, handshake and
    /// authentication, and starting a persistent shell, which runs the user's shell start-up files).
    /// A command's own timeout starts only when it is sent.
    pub login_timeout: Duration,
    /// A login that took at least this long is reported to `on_slow_login` (and logged).
    pub slow_login: Duration,
    pub on_slow_login: Option<SlowLoginReport>,
    /// Keepalive after this much silence from the server; the connection is dropped after
    /// `keepalive_max` unanswered ones.
    pub keepalive_interval: Duration,
    pub keepalive_max: usize,
    /// Reconnect backoff: first retry after `backoff_min`, doubling up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Use ssh-agent (SSH_AUTH_SOCK) when set.
    pub use_agent: bool,
    pub passphrase: Option<PassphrasePrompt>,
    /// Where the ssh_config sets no HostName for a host, connect to this address (the plan's).
    pub host_addresses: HashMap<String, String>,
    /// The plan's `[access] sudo`: the scripts that need root ([`super::readonly::needs_root`]) and
    /// every write command run through `sudo -n`.
    pub sudo: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            ssh_config: None,
            mode: AccessMode::ReadOnly,
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(5),
            login_timeout: Self::DEFAULT_LOGIN_TIMEOUT,
            slow_login: Duration::from_secs(2),
            on_slow_login: None,
            keepalive_interval: Duration::from_secs(5),
            keepalive_max: 3,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(5),
            use_agent: true,
            passphrase: None,
            host_addresses: HashMap::new(),
            sudo: false,
        }
    }
}

impl PoolOptions {
    pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(20);
}

impl std::fmt::Debug for PoolOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolOptions")
            .field("ssh_config", &self.ssh_config)
            .field("mode", &self.mode)
            .field("accept_new_host_keys", &self.accept_new_host_keys)
            .field("connect_timeout", &self.connect_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("sudo", &self.sudo)
            .finish_non_exhaustive()
    }
}

/// Why an SSH operation failed. Every message names the host.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SshError {
    #[error(
        "{host}: host key {fingerprint} is not in known_hosts ({files}); refusing to connect (verify it, add it with ssh-keyscan, or set accept_new_host_keys)"
    )]
    UnknownHostKey { host: String, fingerprint: String, files: String },
    #[error(
        "{host}: HOST KEY CHANGED: the server offered {fingerprint}, {file}:{line} has another key; refusing to connect (possible man-in-the-middle)"
    )]
    HostKeyChanged { host: String, fingerprint: String, file: String, line: usize },
    #[error("{host}: host key {fingerprint} is revoked ({file}:{line}); refusing to connect")]
    HostKeyRevoked { host: String, fingerprint: String, file: String, line: usize },
    #[error("{host}: connect timed out after {secs:.1}s")]
    ConnectTimeout { host: String, secs: f64 },
    /// The login budget ([`PoolOptions::login_timeout`]) ran out before a command could be sent.
    #[error("login on {host} still not done after {}", show_secs(*.secs))]
    LoginTimeout { host: String, secs: f64 },
    #[error("{host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host}: authentication failed for user {user} (tried: {tried})")]
    Auth { host: String, user: String, tried: String },
    #[error("{host}: {command} timed out after {secs:.1}s")]
    CommandTimeout { host: String, command: String, secs: f64 },
    #[error("{host}: {reason}")]
    Channel { host: String, reason: String },
    /// sudo refused a command of `[access] sudo = true` (it never ran).
    #[error("{host}: sudo -n for user {user}: {reason}")]
    Sudo { host: String, user: String, reason: String },
    #[error("read-only: refused to send `{command}` to {host} (not in the read-only command set)")]
    ReadOnlyRefused { host: String, command: String },
    #[error("ssh config: {0}")]
    Config(String),
}

impl SshError {
    /// The host this error is about (empty for config errors).
    pub fn host(&self) -> &str {
        match self {
            SshError::UnknownHostKey { host, .. }
            | SshError::HostKeyChanged { host, .. }
            | SshError::HostKeyRevoked { host, .. }
            | SshError::ConnectTimeout { host, .. }
            | SshError::LoginTimeout { host, .. }
            | SshError::Connect { host, .. }
            | SshError::Auth { host, .. }
            | SshError::CommandTimeout { host, .. }
            | SshError::Channel { host, .. }
            | SshError::Sudo { host, .. }
            | SshError::ReadOnlyRefused { host, .. } => host,
            SshError::Config(_) => "",
        }
    }
    fn is_host_key(&self) -> bool {
        matches!(self, SshError::UnknownHostKey { .. } | SshError::HostKeyChanged { .. } | SshError::HostKeyRevoked { .. })
    }
}

/// Seconds as people say them: "5.2 s" below 10 s, "61 s" above.
pub fn show_secs(secs: f64) -> String {
    if secs < 9.95 { format!("{secs:.1} s") } else { format!("{secs:.0} s") }
}

/// What a remote command printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
    /// None when the command was killed by a signal or the server sent no status.
    pub exit_status: Option<u32>,
    /// From sending the exec request to the channel's close (connection set-up not included).
    pub elapsed: Duration,
    /// From sending the exec request to the first byte of stdout, if any.
    pub first_output: Option<Duration>,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }
}

/// Output larger than this is cut off (a probe never needs more).
const MAX_OUTPUT: usize = 8 << 20;

/// A pool of SSH connections, one per host alias. Cheap to clone (shared).
#[derive(Clone)]
pub struct SshPool {
    inner: Arc<Inner>,
}

struct Inner {
    opts: PoolOptions,
    config: SshConfig,
    slots: StdMutex<HashMap<String, Arc<Slot>>>,
    lanes: StdMutex<HashMap<(String, String), Arc<Lane>>>,
    keys: AsyncMutex<HashMap<PathBuf, Result<Arc<PrivateKey>, String>>>,
    /// Commands sent per host (run, persistent shell and stream alike), for the figures.
    sent: StdMutex<HashMap<String, u64>>,
}

/// A persistent remote `sh` fed probe commands on stdin (see [`SshPool::run_persistent`]).
#[derive(Default)]
struct Lane {
    shell: AsyncMutex<Option<Shell>>,
}

struct Shell {
    ch: russh::Channel<client::Msg>,
    conn: Arc<Conn>,
    seq: u64,
}

impl Shell {
    /// Close the remote shell without waiting here.
    fn discard(self) {
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_millis(500), self.ch.close()).await;
        });
    }
}

#[derive(Default)]
struct Slot {
    state: AsyncMutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    conn: Option<Arc<Conn>>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<SshError>,
}

struct Conn {
    handle: Handle<Client>,
    /// The jump connection this one tunnels through, kept alive with it.
    _via: Option<Arc<Conn>>,
    /// How long this hop's connect, handshake and authentication took.
    login_took: Duration,
    /// A slow login on this connection was reported already.
    slow_reported: std::sync::atomic::AtomicBool,
}

impl Conn {
    fn is_closed(&self) -> bool {
        self.handle.is_closed() || self._via.as_ref().is_some_and(|v| v.is_closed())
    }
}

impl SshPool {
    /// Build a pool: reads the SSH config (a small file; see [`SshPool::load`] from async code).
    pub fn new(opts: PoolOptions) -> Result<SshPool, SshError> {
        let config = match &opts.ssh_config {
            Some(p) => SshConfig::load(p, false),
            None => SshConfig::load(&config::home_dir().join(".ssh").join("config"), true),
        }
        .map_err(SshError::Config)?;
        for w in &config.warnings {
            tracing::warn!("ssh config: {w}");
        }
        Ok(SshPool::with_config(opts, config))
    }

    /// [`SshPool::new`] without blocking the async runtime.
    pub async fn load(opts: PoolOptions) -> Result<SshPool, SshError> {
        tokio::task::spawn_blocking(move || SshPool::new(opts)).await.map_err(|e| SshError::Config(e.to_string()))?
    }

    /// A pool over an already parsed config.
    pub fn with_config(opts: PoolOptions, config: SshConfig) -> SshPool {
        SshPool {
            inner: Arc::new(Inner {
                opts,
                config,
                slots: StdMutex::new(HashMap::new()),
                lanes: StdMutex::new(HashMap::new()),
                keys: AsyncMutex::new(HashMap::new()),
                sent: StdMutex::new(HashMap::new()),
            }),
        }
    }

    /// Count one command sent to `host`.
    fn count(&self, host: &str) {
        if let Ok(mut m) = self.inner.sent.lock() {
            *m.entry(host.to_string()).or_default() += 1;
        }
    }

    /// How many commands were sent to each host so far (every kind: a run, a command written to a
    /// persistent shell, a stream started).
    pub fn commands_sent(&self) -> HashMap<String, u64> {
        self.inner.sent.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn mode(&self) -> AccessMode {
        self.inner.opts.mode
    }

    /// The effective SSH configuration of a host alias.
    pub fn resolve(&self, host: &str) -> HostConfig {
        let mut c = self.inner.config.resolve(host);
        // no HostName for it in the ssh_config: the plan's address, not whatever the name resolves to
        if c.hostname.eq_ignore_ascii_case(host)
            && let Some(addr) = self.inner.opts.host_addresses.get(host)
        {
            c.hostname = addr.clone();
        }
        c
    }

    /// Run a command of the read-only set. In a read-only pool anything else is refused (and logged)
    /// without being sent; in a read-write pool use [`SshPool::run_write`] for other commands.
    pub async fn run(&self, host: &str, command: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        if !super::readonly::is_read_only(command) {
            tracing::warn!(host, command, mode = ?self.mode(), "refused: SSH command outside the read-only set");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        self.count(host);
        let sent = self.as_sent(command, false);
        let out = self.exec(host, sent.as_deref().unwrap_or(command), timeout).await?;
        self.sudo_checked(host, sent.is_some(), out)
    }

    /// The command as it is sent, when that is not `command` itself: through `sudo -n` where the
    /// plan says so and the command needs root (every write does).
    fn as_sent(&self, command: &str, write: bool) -> Option<String> {
        (self.inner.opts.sudo && (write || super::readonly::needs_root(command))).then(|| crate::shell::sudo_command(command))
    }

    /// `out` of a command sent through sudo (`wrapped`), or sudo's refusal as [`SshError::Sudo`].
    fn sudo_checked(&self, host: &str, wrapped: bool, out: CommandOutput) -> Result<CommandOutput, SshError> {
        if !wrapped {
            return Ok(out);
        }
        let user = self.resolve(host).user;
        match crate::shell::sudo_refusal(out.exit_status, &out.stdout, &out.stderr, &user) {
            Some(reason) => Err(SshError::Sudo { host: host.to_string(), user, reason }),
            None => Ok(out),
        }
    }

    /// Run any command. Needs the write capability, and a pool built read-write.
    pub async fn run_write(&self, _cap: &WriteCap, host: &str, command: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        if self.mode() == AccessMode::ReadOnly {
            tracing::warn!(host, command, "refused: write command on a read-only SSH pool");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        tracing::info!(host, command, "ssh write command");
        self.count(host);
        let sent = self.as_sent(command, true);
        let out = self.exec(host, sent.as_deref().unwrap_or(command), timeout).await?;
        self.sudo_checked(host, sent.is_some(), out)
    }

    /// [`SshPool::run_write`] with `input` streamed to the command's stdin (a file copied to the host).
    pub async fn run_write_input(
        &self,
        _cap: &WriteCap,
        host: &str,
        command: &str,
        input: tokio::fs::File,
        timeout: Duration,
    ) -> Result<CommandOutput, SshError> {
        if self.mode() == AccessMode::ReadOnly {
            tracing::warn!(host, command, "refused: write command on a read-only SSH pool");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        tracing::info!(host, command, "ssh write command with input");
        self.count(host);
        let sent = self.as_sent(command, true);
        let out = self.exec_with(host, sent.as_deref().unwrap_or(command), timeout, Some(input)).await?;
        self.sudo_checked(host, sent.is_some(), out)
    }

    /// A TCP stream to `to_host:to_port` as seen from `host`: a direct-tcpip channel of the pool's
    /// (reused) connection to `host`. No command runs on the host; the stream carries only what the
    /// caller sends, so a read-only pool may open it too (e.g. etcd's client port behind a firewall).
    pub async fn open_direct_tcpip(
        &self,
        host: &str,
        to_host: &str,
        to_port: u16,
        timeout: Duration,
    ) -> Result<russh::ChannelStream<russh::client::Msg>, SshError> {
        let conn = self.connection(host).await?;
        let what = format!("direct-tcpip to {to_host}:{to_port}");
        let ch =
            tokio::time::timeout(timeout, conn.handle.channel_open_direct_tcpip(to_host.to_string(), u32::from(to_port), "127.0.0.1", 0))
                .await
                .map_err(|_| SshError::Channel { host: host.into(), reason: format!("{what}: timed out") })?
                .map_err(|e| SshError::Channel { host: host.into(), reason: format!("{what}: {e}") })?;
        Ok(ch.into_stream())
    }

    /// Connect (or reuse the connection) without running anything.
    pub async fn connect(&self, host: &str) -> Result<(), SshError> {
        self.connection(host).await.map(|_| ())
    }

    /// Whether a live connection to `host` is held.
    pub async fn is_connected(&self, host: &str) -> bool {
        let slot = self.slot(host);
        let st = slot.state.lock().await;
        st.conn.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Drop the connection to `host` (the next command reconnects).
    pub async fn forget(&self, host: &str) {
        let slot = self.slot(host);
        let mut st = slot.state.lock().await;
        st.conn = None;
        st.retry_at = None;
        st.failures = 0;
    }

    /// Close every connection.
    pub async fn close_all(&self) {
        let slots: Vec<Arc<Slot>> = self.inner.slots.lock().map(|m| m.values().cloned().collect()).unwrap_or_default();
        for s in slots {
            let conn = s.state.lock().await.conn.take();
            if let Some(c) = conn {
                let _ = tokio::time::timeout(Duration::from_millis(200), c.handle.disconnect(Disconnect::ByApplication, "", "en")).await;
            }
        }
    }

    async fn exec(&self, host: &str, command: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        self.exec_with(host, command, timeout, None).await
    }

    async fn exec_with(
        &self,
        host: &str,
        command: &str,
        timeout: Duration,
        input: Option<tokio::fs::File>,
    ) -> Result<CommandOutput, SshError> {
        let conn = self.connection(host).await?;
        self.note_login(host, &conn, conn.login_took);
        // the command's time starts now that it can be sent: a slow login is not the command's
        match shell::run_channel_with(&conn.handle, command, tokio::time::Instant::now() + timeout, input).await {
            Ok(out) => Ok(out),
            Err(ChannelError::Failed(e)) => {
                // a channel that cannot be opened usually means a dead connection: start afresh next time
                if conn.is_closed() {
                    self.drop_conn(host, &conn).await;
                }
                Err(SshError::Channel { host: host.to_string(), reason: e })
            }
            Err(ChannelError::TimedOut) => Err(self.command_timed_out(host, &conn, command, timeout).await),
        }
    }

    /// A command ran out of its time. Is the connection itself dead (cable pulled) or only the
    /// command slow? Ask the server; a connection that does not answer is dropped, so the next
    /// command starts afresh.
    async fn command_timed_out(&self, host: &str, conn: &Arc<Conn>, command: &str, timeout: Duration) -> SshError {
        if !self.answers(conn).await {
            tracing::info!(host, "ssh connection does not answer; dropping it");
            self.drop_conn(host, conn).await;
        }
        SshError::CommandTimeout {
            host: host.to_string(),
            command: super::readonly::describe_command(command),
            secs: timeout.as_secs_f64(),
        }
    }

    /// Whether the server answers a ping on `conn` within 1.5 s.
    async fn answers(&self, conn: &Conn) -> bool {
        matches!(tokio::time::timeout(Duration::from_millis(1500), conn.handle.send_ping()).await, Ok(Ok(())))
    }

    /// The login budget ran out for `host`.
    fn login_timed_out(&self, host: &str) -> SshError {
        SshError::LoginTimeout { host: host.to_string(), secs: self.inner.opts.login_timeout.as_secs_f64() }
    }

    /// A login (connecting, or starting a persistent shell) took `took`: a slow one is logged and
    /// reported, once per connection.
    fn note_login(&self, host: &str, conn: &Conn, took: Duration) {
        let o = &self.inner.opts;
        if took < o.slow_login || conn.slow_reported.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        tracing::warn!(host, ms = took.as_millis() as u64, "slow ssh login");
        if let Some(report) = &o.on_slow_login {
            report(host, took);
        }
    }

    async fn drop_conn(&self, key: &str, conn: &Arc<Conn>) {
        let slot = self.slot(key);
        let mut st = slot.state.lock().await;
        if st.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            st.conn = None;
        }
    }

    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(key.to_string()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(cfg: &str) -> SshPool {
        SshPool::with_config(PoolOptions::default(), SshConfig::parse(cfg).unwrap())
    }

    #[test]
    fn hop_keys_share_jump_connections() {
        let p = pool(
            "Host a\n HostName 10.0.0.1\nHost b\n HostName 10.0.0.2\n ProxyJump a\nHost c\n HostName 10.0.0.3\n ProxyJump a,u@b:2200\n",
        );
        let keys = |h: &str| p.hops(h, 0).unwrap().into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(keys("a"), ["a"]);
        assert_eq!(keys("b"), ["a", "a>b"]);
        assert_eq!(keys("c"), ["a", "a>u@b:2200", "a>u@b:2200>c"]);
        let hops = p.hops("c", 0).unwrap();
        assert_eq!((hops[1].1.user.as_str(), hops[1].1.port, hops[1].1.hostname.as_str()), ("u", 2200, "10.0.0.2"));
        assert!(hops[1].1.proxy_jump.is_empty(), "later hops go through the chain, not their own ProxyJump");
        let looped = pool("Host x\n ProxyJump y\nHost y\n ProxyJump x\n");
        assert!(looped.hops("x", 0).is_err());
    }

    #[tokio::test]
    async fn read_only_refuses_before_connecting() {
        // "nowhere.invalid" would fail to resolve: a refusal must come first, without any I/O
        let p = pool("");
        let e = p.run("nowhere.invalid", "touch /tmp/x", Duration::from_secs(1)).await.unwrap_err();
        assert!(matches!(e, SshError::ReadOnlyRefused { .. }), "{e}");
        let cap = WriteCap::acquire(false).unwrap();
        let e = p.run_write(&cap, "nowhere.invalid", "touch /tmp/x", Duration::from_secs(1)).await.unwrap_err();
        assert!(matches!(e, SshError::ReadOnlyRefused { .. }), "a read-only pool refuses even with a WriteCap: {e}");
    }

    #[tokio::test]
    async fn unreachable_host_fails_fast_then_backs_off() {
        let p = SshPool::with_config(
            PoolOptions { connect_timeout: Duration::from_millis(300), ..Default::default() },
            SshConfig::parse("Host dead\n HostName 127.0.0.1\n Port 1\n").unwrap(),
        );
        let e = p.run("dead", "true", Duration::from_secs(2)).await.unwrap_err();
        assert!(e.to_string().starts_with("dead: "), "{e}");
        let t = Instant::now();
        let again = p.run("dead", "true", Duration::from_secs(2)).await.unwrap_err();
        assert_eq!(again, e, "within the backoff the last error is returned at once");
        assert!(t.elapsed() < Duration::from_millis(50));
    }

    /// A server that accepts and never says a word: the SSH handshake never finishes.
    async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        (port, task)
    }

    #[tokio::test]
    async fn a_slow_login_runs_out_of_the_login_budget_not_the_command_timeout() {
        let (port, server) = silent_server().await;
        let cfg = SshConfig::parse(&format!("Host slow\n HostName 127.0.0.1\n Port {port}\n")).unwrap();
        let opts =
            PoolOptions { connect_timeout: Duration::from_secs(30), login_timeout: Duration::from_millis(700), ..Default::default() };
        let p = SshPool::with_config(opts.clone(), cfg.clone());
        let command_timeout = Duration::from_millis(100);
        for persistent in [true, false] {
            let t = Instant::now();
            let e = if persistent {
                p.run_persistent("slow", "facts", "true", command_timeout).await
            } else {
                p.run("slow", "true", command_timeout).await
            }
            .unwrap_err();
            let took = t.elapsed();
            assert!(matches!(e, SshError::LoginTimeout { .. }), "persistent {persistent}: {e}");
            assert_eq!(e.to_string(), "login on slow still not done after 0.7 s");
            assert!(took >= Duration::from_millis(700), "the login had its whole budget, not the command's 100 ms: {took:?}");
            assert!(took < Duration::from_secs(5), "and no more: {took:?}");
        }
        // the handshake's own limit (ConnectTimeout) still applies within the budget
        let p = SshPool::with_config(PoolOptions { connect_timeout: Duration::from_millis(200), ..opts }, cfg);
        let e = p.run_persistent("slow", "facts", "true", command_timeout).await.unwrap_err();
        assert!(matches!(e, SshError::ConnectTimeout { .. }), "{e}");
        server.abort();
    }

    #[test]
    fn the_plans_address_where_the_ssh_config_names_no_hostname() {
        let cfg = SshConfig::parse("Host lb1\n  HostName 10.0.0.1\n").unwrap();
        let addrs = [("lb1", "192.0.2.1"), ("m1", "192.0.2.21")].map(|(a, b)| (a.to_string(), b.to_string())).into_iter().collect();
        let p = SshPool::with_config(PoolOptions { host_addresses: addrs, ..Default::default() }, cfg);
        assert_eq!(p.resolve("lb1").hostname, "10.0.0.1", "the ssh_config's HostName wins");
        assert_eq!(p.resolve("m1").hostname, "192.0.2.21", "no HostName: the plan's address, not a DNS lookup of `m1`");
        assert_eq!(p.resolve("elsewhere").hostname, "elsewhere");
    }

    #[test]
    fn sudo_where_the_plan_says_so_and_only_for_what_needs_root() {
        let cfg = SshConfig::parse("Host lb1\n  User deploy\n").unwrap();
        let p = SshPool::with_config(PoolOptions { sudo: true, ..Default::default() }, cfg.clone());
        let vrrp = script_command(crate::transport::scripts::VRRP_SCRIPT, &["/tmp/keepalived.json", ""]);
        assert_eq!(p.as_sent(&vrrp, false), Some(format!("sudo -n {vrrp}")));
        assert!(is_read_only(&vrrp), "the read-only check sees the script itself, before the wrapping");
        let facts = script_command(crate::transport::scripts::HOST_FACTS_SCRIPT, &[]);
        assert_eq!(p.as_sent(&facts, false), None, "facts run as the SSH user");
        assert_eq!(p.as_sent("systemctl stop keepalived", true).as_deref(), Some("sudo -n sh -c 'systemctl stop keepalived'"));
        let plain = SshPool::with_config(PoolOptions::default(), cfg);
        assert_eq!((plain.as_sent(&vrrp, false), plain.as_sent("systemctl stop keepalived", true)), (None, None));
        // sudo's refusal names the host and the user; the command's own failure stays its own
        let out = |stdout: &str, stderr: &str, code| CommandOutput {
            stdout: stdout.into(),
            stderr: stderr.into(),
            exit_status: Some(code),
            elapsed: Duration::ZERO,
            first_output: None,
        };
        let e = p.sudo_checked("lb1", true, out("", "sudo: a password is required\n", 1)).unwrap_err();
        assert!(matches!(&e, SshError::Sudo { user, .. } if user == "deploy"), "{e:?}");
        assert!(e.to_string().starts_with("lb1: sudo -n for user deploy: a password is required"), "{e}");
        assert!(p.sudo_checked("lb1", true, out("", "kockpit-denied socket /s root -\n", 13)).is_ok());
        assert!(p.sudo_checked("lb1", false, out("", "sudo: a password is required\n", 1)).is_ok(), "not sent through sudo");
    }

    #[test]
    fn seconds_as_people_say_them() {
        assert_eq!(show_secs(5.04), "5.0 s");
        assert_eq!(show_secs(0.7), "0.7 s");
        assert_eq!(show_secs(9.96), "10 s");
        assert_eq!(show_secs(61.2), "61 s");
        let e = SshError::LoginTimeout { host: "m1".into(), secs: 20.0 };
        assert_eq!((e.to_string().as_str(), e.host()), ("login on m1 still not done after 20 s", "m1"));
    }
}
