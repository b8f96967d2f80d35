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
pub mod known_hosts;
pub mod readonly;

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

pub use config::{HostConfig, JumpSpec, SshConfig, StrictHostKeyChecking};
pub use known_hosts::{HostKeyStatus, fingerprint};
pub use readonly::{is_read_only, script_command, sh_quote};

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

/// How a pool connects.
#[derive(Clone)]
pub struct PoolOptions {
    /// The OpenSSH client config to read; None = ~/.ssh/config (a missing file is fine).
    pub ssh_config: Option<PathBuf>,
    pub mode: AccessMode,
    /// Accept unknown host keys and record them in the first UserKnownHostsFile (changed keys are
    /// still refused). The config's `StrictHostKeyChecking accept-new` has the same effect for its hosts.
    pub accept_new_host_keys: bool,
    /// TCP connect plus SSH handshake plus authentication, per hop (ConnectTimeout in the config wins).
    pub connect_timeout: Duration,
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
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            ssh_config: None,
            mode: AccessMode::ReadOnly,
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(5),
            keepalive_interval: Duration::from_secs(5),
            keepalive_max: 3,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(5),
            use_agent: true,
            passphrase: None,
        }
    }
}

impl std::fmt::Debug for PoolOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolOptions")
            .field("ssh_config", &self.ssh_config)
            .field("mode", &self.mode)
            .field("accept_new_host_keys", &self.accept_new_host_keys)
            .field("connect_timeout", &self.connect_timeout)
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
    #[error("{host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host}: authentication failed for user {user} (tried: {tried})")]
    Auth { host: String, user: String, tried: String },
    #[error("{host}: {command} timed out after {secs:.1}s")]
    CommandTimeout { host: String, command: String, secs: f64 },
    #[error("{host}: {reason}")]
    Channel { host: String, reason: String },
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
            | SshError::Connect { host, .. }
            | SshError::Auth { host, .. }
            | SshError::CommandTimeout { host, .. }
            | SshError::Channel { host, .. }
            | SshError::ReadOnlyRefused { host, .. } => host,
            SshError::Config(_) => "",
        }
    }
    fn is_host_key(&self) -> bool {
        matches!(self, SshError::UnknownHostKey { .. } | SshError::HostKeyChanged { .. } | SshError::HostKeyRevoked { .. })
    }
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
            }),
        }
    }

    pub fn mode(&self) -> AccessMode {
        self.inner.opts.mode
    }

    /// The effective SSH configuration of a host alias.
    pub fn resolve(&self, host: &str) -> HostConfig {
        self.inner.config.resolve(host)
    }

    /// Run a command of the read-only set. In a read-only pool anything else is refused (and logged)
    /// without being sent; in a read-write pool use [`SshPool::run_write`] for other commands.
    pub async fn run(&self, host: &str, command: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        if !readonly::is_read_only(command) {
            tracing::warn!(host, command, mode = ?self.mode(), "refused: SSH command outside the read-only set");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        self.exec(host, command, timeout).await
    }

    /// Run any command. Needs the write capability, and a pool built read-write.
    pub async fn run_write(&self, _cap: &WriteCap, host: &str, command: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        if self.mode() == AccessMode::ReadOnly {
            tracing::warn!(host, command, "refused: write command on a read-only SSH pool");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        tracing::info!(host, command, "ssh write command");
        self.exec(host, command, timeout).await
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

    /// Run a command of the read-only set in a persistent remote shell: one `sh` per (host, lane),
    /// started once per connection and fed commands on its stdin, so a poll costs no login-shell
    /// start-up on the host (sshd runs every exec through the user's shell, and its rc files can
    /// take hundreds of milliseconds). Commands of one lane run one at a time; use one lane per
    /// probe kind. The same read-only check as [`SshPool::run`] applies to every command sent.
    pub async fn run_persistent(&self, host: &str, lane: &str, command: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        if !readonly::is_read_only(command) {
            tracing::warn!(host, command, mode = ?self.mode(), "refused: SSH command outside the read-only set");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        let started = Instant::now();
        let lane = {
            let mut lanes = self.inner.lanes.lock().unwrap_or_else(|p| p.into_inner());
            lanes.entry((host.to_string(), lane.to_string())).or_default().clone()
        };
        let mut guard = lane.shell.lock().await;
        let conn = self.connection(host).await?;
        if let Some(old) = guard.take_if(|s| !Arc::ptr_eq(&s.conn, &conn) || conn.is_closed()) {
            old.discard();
        }
        let left = timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(100));
        let deadline = tokio::time::Instant::now() + left;
        let shell = match guard.as_mut() {
            Some(s) => s,
            None => {
                let opened = tokio::time::timeout_at(deadline, async {
                    let ch = conn.handle.channel_open_session().await.map_err(|e| format!("open channel: {e}"))?;
                    // closed again if this is abandoned half-way (timeout)
                    let mut keep = CloseOnDrop(Some(ch));
                    let ch = keep.0.as_mut().ok_or("channel lost")?;
                    ch.exec(true, PERSISTENT_SHELL).await.map_err(|e| format!("exec: {e}"))?;
                    // whatever the login shell's rc files print comes before this: dropped
                    let ready = format!("@@kockpit-ready-{}", std::process::id());
                    shell_exchange(ch, b"true\n", &ready, Instant::now()).await?;
                    keep.0.take().ok_or_else(|| "channel lost".to_string())
                })
                .await;
                match opened {
                    Ok(Ok(ch)) => guard.insert(Shell { ch, conn: conn.clone(), seq: 0 }),
                    Ok(Err(reason)) => return Err(SshError::Channel { host: host.to_string(), reason }),
                    Err(_) => {
                        return Err(SshError::CommandTimeout {
                            host: host.to_string(),
                            command: readonly::describe_command(command),
                            secs: timeout.as_secs_f64(),
                        });
                    }
                }
            }
        };
        shell.seq += 1;
        let marker = format!("@@kockpit-done-{}-{:x}", shell.seq, started.elapsed().as_nanos() ^ u128::from(std::process::id()));
        // stdin stays the shell's: the command gets /dev/null. `$?` is read before anything else runs.
        let sent = Instant::now();
        let result = tokio::time::timeout_at(deadline, shell_exchange(&mut shell.ch, command.as_bytes(), &marker, sent)).await;
        match result {
            Ok(Ok(mut out)) => {
                out.elapsed = sent.elapsed();
                Ok(out)
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
                let alive = matches!(tokio::time::timeout(Duration::from_millis(1500), conn.handle.send_ping()).await, Ok(Ok(())));
                if !alive {
                    tracing::info!(host, "ssh connection does not answer; dropping it");
                    self.drop_conn(host, &conn).await;
                }
                Err(SshError::CommandTimeout {
                    host: host.to_string(),
                    command: readonly::describe_command(command),
                    secs: timeout.as_secs_f64(),
                })
            }
        }
    }

    /// Start a long-running command of the read-only set (a log tail) on a channel of its own and
    /// return it as its output arrives. `open_timeout` bounds connecting and starting the command, not
    /// the stream. Dropping the stream closes the channel; the tail scripts end their command then.
    pub async fn stream(&self, host: &str, command: &str, open_timeout: Duration) -> Result<RemoteStream, SshError> {
        if !readonly::is_read_only(command) {
            tracing::warn!(host, command, mode = ?self.mode(), "refused: SSH command outside the read-only set");
            return Err(SshError::ReadOnlyRefused { host: host.to_string(), command: command.to_string() });
        }
        let deadline = tokio::time::Instant::now() + open_timeout;
        let conn = match tokio::time::timeout_at(deadline, self.connection(host)).await {
            Ok(c) => c?,
            Err(_) => return Err(SshError::ConnectTimeout { host: host.to_string(), secs: open_timeout.as_secs_f64() }),
        };
        let timed_out = || SshError::CommandTimeout {
            host: host.to_string(),
            command: readonly::describe_command(command),
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
        Ok(RemoteStream { ch, _conn: conn, host: host.to_string(), status: None })
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
        let started = Instant::now();
        let conn = self.connection(host).await?;
        let left = timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(100));
        match run_channel(&conn.handle, command, tokio::time::Instant::now() + left).await {
            Ok(out) => Ok(out),
            Err(ChannelError::Failed(e)) => {
                // a channel that cannot be opened usually means a dead connection: start afresh next time
                if conn.is_closed() {
                    self.drop_conn(host, &conn).await;
                }
                Err(SshError::Channel { host: host.to_string(), reason: e })
            }
            Err(ChannelError::TimedOut) => {
                // Is the connection itself dead (cable pulled) or only the command slow? Ask the server.
                let alive = matches!(tokio::time::timeout(Duration::from_millis(1500), conn.handle.send_ping()).await, Ok(Ok(())));
                if !alive {
                    tracing::info!(host, "ssh connection does not answer; dropping it");
                    self.drop_conn(host, &conn).await;
                }
                Err(SshError::CommandTimeout {
                    host: host.to_string(),
                    command: readonly::describe_command(command),
                    secs: timeout.as_secs_f64(),
                })
            }
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

    /// The hops to reach `alias`: (pool key, config), the target last.
    fn hops(&self, alias: &str, depth: u8) -> Result<Vec<(String, HostConfig)>, SshError> {
        if depth > 8 {
            return Err(SshError::Config(format!("{alias}: ProxyJump nested too deeply (a loop?)")));
        }
        let cfg = self.resolve(alias);
        let Some((first, rest)) = cfg.proxy_jump.split_first() else {
            return Ok(vec![(alias.to_string(), cfg)]);
        };
        let mut hops = self.hops(&first.host, depth + 1)?;
        if first.user.is_some() || first.port.is_some() {
            // `user@host:port` is its own connection, not the alias's
            if let Some((k, c)) = hops.last_mut() {
                if let Some(u) = &first.user {
                    c.user = u.clone();
                }
                if let Some(p) = first.port {
                    c.port = p;
                }
                *k = match k.rsplit_once('>') {
                    Some((prefix, _)) => format!("{prefix}>{first}"),
                    None => first.to_string(),
                };
            }
        }
        let mut key = hops.last().map(|(k, _)| k.clone()).unwrap_or_default();
        for j in rest {
            let mut c = self.resolve(&j.host);
            c.proxy_jump.clear();
            if let Some(u) = &j.user {
                c.user = u.clone();
            }
            if let Some(p) = j.port {
                c.port = p;
            }
            key = format!("{key}>{j}");
            hops.push((key.clone(), c));
        }
        let mut target = cfg;
        target.proxy_jump.clear();
        hops.push((format!("{key}>{alias}"), target));
        Ok(hops)
    }

    async fn connection(&self, alias: &str) -> Result<Arc<Conn>, SshError> {
        let hops = self.hops(alias, 0)?;
        let n = hops.len();
        let mut parent: Option<Arc<Conn>> = None;
        for (i, (key, cfg)) in hops.into_iter().enumerate() {
            let conn = self.hop(&key, &cfg, parent.take()).await;
            match conn {
                Ok(c) => parent = Some(c),
                Err(e) if i + 1 < n => {
                    return Err(SshError::Connect { host: alias.to_string(), reason: format!("via jump host {}", e) });
                }
                Err(e) => return Err(e),
            }
        }
        parent.ok_or_else(|| SshError::Config(format!("{alias}: nothing to connect to")))
    }

    /// The pool connection for one hop: reused when alive, else (re)established through `via`.
    async fn hop(&self, key: &str, cfg: &HostConfig, via: Option<Arc<Conn>>) -> Result<Arc<Conn>, SshError> {
        let slot = self.slot(key);
        let mut st = slot.state.lock().await;
        if let Some(c) = &st.conn {
            if !c.is_closed() {
                return Ok(c.clone());
            }
            tracing::info!(host = %cfg.alias, "ssh connection lost; reconnecting");
            st.conn = None;
        }
        if let (Some(at), Some(e)) = (st.retry_at, &st.last_error)
            && Instant::now() < at
        {
            return Err(e.clone());
        }
        let timeout = cfg.connect_timeout.unwrap_or(self.inner.opts.connect_timeout);
        let started = Instant::now();
        let res = match tokio::time::timeout(timeout, self.establish(cfg, via)).await {
            Ok(r) => r,
            Err(_) => Err(SshError::ConnectTimeout { host: cfg.alias.clone(), secs: timeout.as_secs_f64() }),
        };
        match res {
            Ok(conn) => {
                tracing::debug!(host = %cfg.alias, ms = started.elapsed().as_millis() as u64, "ssh connected");
                let conn = Arc::new(conn);
                st.conn = Some(conn.clone());
                st.failures = 0;
                st.retry_at = None;
                st.last_error = None;
                Ok(conn)
            }
            Err(e) => {
                st.failures = st.failures.saturating_add(1);
                let o = &self.inner.opts;
                let backoff = o.backoff_min.saturating_mul(1u32 << st.failures.saturating_sub(1).min(16)).min(o.backoff_max);
                st.retry_at = Some(Instant::now() + backoff);
                if e.is_host_key() || st.failures == 1 {
                    tracing::warn!("ssh: {e}");
                }
                st.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn establish(&self, cfg: &HostConfig, via: Option<Arc<Conn>>) -> Result<Conn, SshError> {
        let host = cfg.alias.clone();
        let handle = match &via {
            None => {
                let tcp = tokio::net::TcpStream::connect((cfg.hostname.as_str(), cfg.port)).await.map_err(|e| SshError::Connect {
                    host: host.clone(),
                    reason: format!("connect to {}:{}: {e}", cfg.hostname, cfg.port),
                })?;
                let _ = tcp.set_nodelay(true);
                self.handshake(cfg, tcp).await?
            }
            Some(jump) => {
                let ch = jump.handle.channel_open_direct_tcpip(cfg.hostname.clone(), u32::from(cfg.port), "127.0.0.1", 0).await.map_err(
                    |e| SshError::Connect {
                        host: host.clone(),
                        reason: format!("jump host cannot reach {}:{}: {e}", cfg.hostname, cfg.port),
                    },
                )?;
                self.handshake(cfg, ch.into_stream()).await?
            }
        };
        let mut conn = Conn { handle, _via: via };
        self.authenticate(&mut conn.handle, cfg).await?;
        Ok(conn)
    }

    async fn handshake<S>(&self, cfg: &HostConfig, stream: S) -> Result<Handle<Client>, SshError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let o = &self.inner.opts;
        let config = Arc::new(client::Config {
            keepalive_interval: Some(cfg.server_alive_interval.unwrap_or(o.keepalive_interval)),
            keepalive_max: cfg.server_alive_count_max.unwrap_or(o.keepalive_max),
            nodelay: true,
            ..Default::default()
        });
        let files = cfg.known_hosts_files();
        let accept_new = o.accept_new_host_keys || cfg.strict == StrictHostKeyChecking::AcceptNew;
        let client = Client { host: cfg.alias.clone(), name: cfg.known_hosts_name(), files, accept_new };
        client::connect_stream(config, stream, client).await.map_err(|e| match e {
            HandlerError::Refused(e) => e,
            HandlerError::Ssh(e) => SshError::Connect { host: cfg.alias.clone(), reason: format!("ssh handshake: {e}") },
        })
    }

    async fn authenticate(&self, h: &mut Handle<Client>, cfg: &HostConfig) -> Result<(), SshError> {
        let host = cfg.alias.clone();
        let user = cfg.user.clone();
        let mut tried: Vec<String> = Vec::new();
        let proto = |e: russh::Error| SshError::Connect { host: host.clone(), reason: format!("authentication: {e}") };

        // ssh-agent first (with IdentitiesOnly: only the agent's copies of the configured keys).
        let sock = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty());
        if self.inner.opts.use_agent && sock.is_some() {
            match AgentClient::connect_env().await {
                Ok(mut agent) => {
                    let allowed: Option<Vec<PublicKey>> = if cfg.identities_only { Some(configured_public_keys(cfg).await) } else { None };
                    let ids = agent.request_identities().await.unwrap_or_default();
                    for id in ids {
                        let AgentIdentity::PublicKey { key, comment } = id else { continue };
                        if allowed.as_ref().is_some_and(|a| !a.iter().any(|k| k.key_data() == key.key_data())) {
                            continue;
                        }
                        let hash = if matches!(key.algorithm(), Algorithm::Rsa { .. }) {
                            h.best_supported_rsa_hash().await.map_err(proto)?.flatten()
                        } else {
                            None
                        };
                        match h.authenticate_publickey_with(user.clone(), key, hash, &mut agent).await {
                            Ok(r) if r.success() => return Ok(()),
                            Ok(_) => tried.push(format!("agent key {comment}")),
                            Err(e) => tried.push(format!("agent key {comment} ({e})")),
                        }
                    }
                }
                Err(e) => tracing::debug!("ssh-agent: {e}"),
            }
        }

        for path in &cfg.identity_files {
            let key = match self.private_key(path, cfg.identity_files_explicit).await {
                Ok(Some(k)) => k,
                Ok(None) => continue,
                Err(e) => {
                    tried.push(e);
                    continue;
                }
            };
            let hash = if matches!(key.algorithm(), Algorithm::Rsa { .. }) {
                h.best_supported_rsa_hash().await.map_err(proto)?.flatten()
            } else {
                None
            };
            let r = h.authenticate_publickey(user.clone(), PrivateKeyWithHashAlg::new(key, hash)).await.map_err(proto)?;
            if r.success() {
                return Ok(());
            }
            tried.push(path.display().to_string());
        }
        if tried.is_empty() {
            tried.push("no usable key: no agent identities, no IdentityFile found".into());
        }
        Err(SshError::Auth { host, user, tried: tried.join(", ") })
    }

    /// Load (once) a private key; an encrypted one asks the passphrase prompt once.
    /// Ok(None): the file does not exist (and was not named explicitly) or the user declined.
    async fn private_key(&self, path: &Path, explicit: bool) -> Result<Option<Arc<PrivateKey>>, String> {
        // one loader at a time: a prompt is never shown twice for the same key
        let mut keys = self.inner.keys.lock().await;
        if let Some(k) = keys.get(path) {
            return k.clone().map(Some);
        }
        let text = match tokio::fs::read_to_string(path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
            Err(e) => {
                let msg = format!("{}: {e}", path.display());
                keys.insert(path.to_path_buf(), Err(msg.clone()));
                return Err(msg);
            }
        };
        let t = text.clone();
        let first = tokio::task::spawn_blocking(move || russh::keys::decode_secret_key(&t, None)).await.map_err(|e| e.to_string())?;
        let result = match first {
            Ok(k) => Ok(Arc::new(k)),
            Err(russh::keys::Error::KeyIsEncrypted) => match &self.inner.opts.passphrase {
                None => Err(format!("{}: encrypted and no way to ask for its passphrase (load it into ssh-agent)", path.display())),
                Some(ask) => match ask(path.to_path_buf()).await {
                    None => Err(format!("{}: passphrase not given", path.display())),
                    Some(pw) => {
                        let dec = tokio::task::spawn_blocking(move || russh::keys::decode_secret_key(&text, Some(&pw)))
                            .await
                            .map_err(|e| e.to_string())?;
                        dec.map(Arc::new).map_err(|e| format!("{}: {e}", path.display()))
                    }
                },
            },
            Err(e) => Err(format!("{}: {e}", path.display())),
        };
        keys.insert(path.to_path_buf(), result.clone());
        result.map(Some)
    }
}

/// The public halves of the configured identity files (from `FILE.pub`), for IdentitiesOnly + agent.
async fn configured_public_keys(cfg: &HostConfig) -> Vec<PublicKey> {
    let mut out = Vec::new();
    for p in &cfg.identity_files {
        let mut pubp = p.clone().into_os_string();
        pubp.push(".pub");
        if let Ok(t) = tokio::fs::read_to_string(PathBuf::from(pubp)).await
            && let Ok(k) = PublicKey::from_openssh(t.trim())
        {
            out.push(k);
        }
    }
    out
}

/// The command a persistent lane runs: a plain POSIX shell reading commands from stdin. Only
/// commands of the read-only set are ever written to it in a read-only pool.
pub const PERSISTENT_SHELL: &str = "exec sh";

/// Write one command to a persistent shell and read until its stdout and stderr markers. Output
/// before the markers is the command's; the command's stdin is /dev/null (the shell's stays ours) and
/// `$?` is read before anything else runs.
async fn shell_exchange(
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

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What a streamed remote command sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// A running remote command whose output is read as it arrives ([`SshPool::stream`]).
pub struct RemoteStream {
    ch: CloseOnDrop,
    /// The connection stays up while the stream is read.
    _conn: Arc<Conn>,
    host: String,
    status: Option<Result<Option<u32>, String>>,
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
}

/// Open a session channel, exec, collect stdout/stderr/exit status until the channel closes.
enum ChannelError {
    TimedOut,
    Failed(String),
}

/// Run `command` on a channel of its own until `deadline`; a command still running then has its
/// channel closed (sshd then ends the session's processes).
async fn run_channel(h: &Handle<Client>, command: &str, deadline: tokio::time::Instant) -> Result<CommandOutput, ChannelError> {
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
struct CloseOnDrop(Option<russh::Channel<client::Msg>>);

impl CloseOnDrop {
    fn get(&mut self) -> Result<&mut russh::Channel<client::Msg>, ChannelError> {
        self.0.as_mut().ok_or_else(|| ChannelError::Failed("channel already closed".into()))
    }
    /// The command finished: nothing to clean up.
    fn finished(mut self) {
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

/// The russh handler: checks the server's host key against known_hosts.
struct Client {
    host: String,
    name: String,
    files: Vec<PathBuf>,
    accept_new: bool,
}

#[derive(Debug)]
enum HandlerError {
    Ssh(russh::Error),
    Refused(SshError),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

impl client::Handler for Client {
    type Error = HandlerError;

    async fn check_server_key(&mut self, server_public_key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(_) => {
                return Err(HandlerError::Refused(SshError::Connect {
                    host: self.host.clone(),
                    reason: "the server offered a host certificate; kockpit checks plain host keys only".into(),
                }));
            }
        };
        let fp = fingerprint(&key);
        let (files, name, k) = (self.files.clone(), self.name.clone(), key.clone());
        let status = tokio::task::spawn_blocking(move || known_hosts::check(&files, &name, &k))
            .await
            .map_err(|e| HandlerError::Refused(SshError::Connect { host: self.host.clone(), reason: e.to_string() }))?
            .map_err(|e| HandlerError::Refused(SshError::Connect { host: self.host.clone(), reason: format!("known_hosts: {e}") }))?;
        let list = || self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
        match status {
            HostKeyStatus::Known => Ok(true),
            HostKeyStatus::Unknown if self.accept_new => {
                let Some(file) = self.files.first().cloned() else {
                    return Err(HandlerError::Refused(SshError::UnknownHostKey {
                        host: self.host.clone(),
                        fingerprint: fp,
                        files: "(none)".into(),
                    }));
                };
                let name = self.name.clone();
                let written = tokio::task::spawn_blocking(move || known_hosts::append(&file, &name, &key)).await;
                match written {
                    Ok(Ok(())) => {
                        tracing::warn!(host = %self.host, fingerprint = %fp, "accepted a new host key (accept_new_host_keys) and recorded it");
                        Ok(true)
                    }
                    Ok(Err(e)) => Err(HandlerError::Refused(SshError::Connect {
                        host: self.host.clone(),
                        reason: format!("cannot record the new host key {fp}: {e}"),
                    })),
                    Err(e) => Err(HandlerError::Refused(SshError::Connect { host: self.host.clone(), reason: e.to_string() })),
                }
            }
            HostKeyStatus::Unknown => {
                Err(HandlerError::Refused(SshError::UnknownHostKey { host: self.host.clone(), fingerprint: fp, files: list() }))
            }
            HostKeyStatus::Changed { file, line } => Err(HandlerError::Refused(SshError::HostKeyChanged {
                host: self.host.clone(),
                fingerprint: fp,
                file: file.display().to_string(),
                line,
            })),
            HostKeyStatus::Revoked { file, line } => Err(HandlerError::Refused(SshError::HostKeyRevoked {
                host: self.host.clone(),
                fingerprint: fp,
                file: file.display().to_string(),
                line,
            })),
        }
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
}
