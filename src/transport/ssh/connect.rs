//! Establishing connections: ProxyJump hops, the handshake, authentication (agent, keys, passphrases).

use std::sync::Arc;
use std::time::Instant;

use super::*;

impl SshPool {
    /// The hops to reach `alias`: (pool key, config), the target last.
    pub(super) fn hops(&self, alias: &str, depth: u8) -> Result<Vec<(String, HostConfig)>, SshError> {
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

    /// The connection to `alias`, within the pool's login budget.
    pub(super) async fn connection(&self, alias: &str) -> Result<Arc<Conn>, SshError> {
        self.connection_by(alias, tokio::time::Instant::now() + self.inner.opts.login_timeout).await
    }

    /// The connection to `alias`, reused or established (every hop) by `deadline` (the login budget:
    /// waiting for another caller's login counts too).
    pub(super) async fn connection_by(&self, alias: &str, deadline: tokio::time::Instant) -> Result<Arc<Conn>, SshError> {
        match tokio::time::timeout_at(deadline, self.connect_hops(alias, deadline)).await {
            Ok(r) => r,
            Err(_) => Err(self.login_timed_out(alias)),
        }
    }

    async fn connect_hops(&self, alias: &str, deadline: tokio::time::Instant) -> Result<Arc<Conn>, SshError> {
        let hops = self.hops(alias, 0)?;
        let n = hops.len();
        let mut parent: Option<Arc<Conn>> = None;
        for (i, (key, cfg)) in hops.into_iter().enumerate() {
            let conn = self.hop(&key, &cfg, parent.take(), deadline).await;
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
    pub(super) async fn hop(
        &self,
        key: &str,
        cfg: &HostConfig,
        via: Option<Arc<Conn>>,
        deadline: tokio::time::Instant,
    ) -> Result<Arc<Conn>, SshError> {
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
        let started = Instant::now();
        match self.establish(cfg, via, deadline).await {
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
                let backoff = crate::retry::Backoff::new(o.backoff_min, 2.0, o.backoff_max).after(st.failures);
                st.retry_at = Some(Instant::now() + backoff);
                if e.is_host_key() || st.failures == 1 {
                    tracing::warn!("ssh: {e}");
                }
                st.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Connect and authenticate one hop: the TCP connect and the SSH handshake within the connect
    /// timeout, the whole by `deadline` (the login budget).
    pub(super) async fn establish(
        &self,
        cfg: &HostConfig,
        via: Option<Arc<Conn>>,
        deadline: tokio::time::Instant,
    ) -> Result<Conn, SshError> {
        let started = Instant::now();
        let timeout = cfg.connect_timeout.unwrap_or(self.inner.opts.connect_timeout);
        let handle = match tokio::time::timeout(timeout, self.open_transport(cfg, via.as_deref())).await {
            Ok(h) => h?,
            Err(_) => return Err(SshError::ConnectTimeout { host: cfg.alias.clone(), secs: timeout.as_secs_f64() }),
        };
        let mut conn = Conn { handle, _via: via, login_took: Duration::ZERO, slow_reported: Default::default() };
        match tokio::time::timeout_at(deadline, self.authenticate(&mut conn.handle, cfg)).await {
            Ok(r) => r?,
            Err(_) => return Err(self.login_timed_out(&cfg.alias)),
        }
        conn.login_took = started.elapsed();
        Ok(conn)
    }

    /// TCP (or a direct-tcpip channel of the jump connection) and the SSH handshake.
    async fn open_transport(&self, cfg: &HostConfig, via: Option<&Conn>) -> Result<Handle<Client>, SshError> {
        let host = cfg.alias.clone();
        let handle = match via {
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
        Ok(handle)
    }

    pub(super) async fn handshake<S>(&self, cfg: &HostConfig, stream: S) -> Result<Handle<Client>, SshError>
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

    pub(super) async fn authenticate(&self, h: &mut Handle<Client>, cfg: &HostConfig) -> Result<(), SshError> {
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
    pub(super) async fn private_key(&self, path: &Path, explicit: bool) -> Result<Option<Arc<PrivateKey>>, String> {
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
pub(super) async fn configured_public_keys(cfg: &HostConfig) -> Vec<PublicKey> {
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
