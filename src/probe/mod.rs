//! The live data path: observers of real hosts. Each probe is a tokio task per host that polls on its
//! own interval and sends timestamped [`Observation`]s to the app; a host that hangs or is down delays
//! only its own tasks. [`spawn`] starts them all for a plan and returns the same [`BackendHandle`] the
//! simulated cluster returns.
//!
//! - Hosts ([`hosts`]): facts over SSH (kernel, OS, sizes, swap, firewalld, SELinux, sysctls, clock).
//! - VIP / keepalived ([`keepalived`]): `ip -j addr` + keepalived's JSON dump (else its data dump, else
//!   the state file) per LB; TCP to VIP:port.
//! - haproxy ([`haproxy`]): `show stat` per haproxy host; HTTPS /readyz per apiserver.
//!
//! SSH goes through one [`ssh::SshPool`]; in read-only mode it sends nothing outside the probes'
//! read-only command set.

pub mod access;
pub mod actions;
pub mod causes;
pub mod clients;
pub mod endpoint;
pub mod factstream;
pub mod failover;
pub mod haconfig;
pub mod hapadmin;
pub mod haproxy;
pub mod hosts;
pub mod keepalived;
pub mod logtail;
pub mod parse;
mod vrrp;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::backend::{BackendEvent, BackendHandle, Command};
use crate::inventory::{Host, Plan};
use crate::model::{Observation, Payload};
use crate::ops::{OpEvent, OpRequest};
use crate::transport::ssh::{AccessMode, PassphrasePrompt, PoolOptions, SshError, SshPool, show_secs};

/// How the live probes run.
#[derive(Clone)]
pub struct LiveSettings {
    /// Poll interval of the VIP/keepalived, haproxy and /readyz probes. Data stays current for
    /// three intervals.
    pub interval: Duration,
    /// Poll interval of the Hosts probe (facts change slowly; a link cut still shows within a few).
    pub hosts_interval: Duration,
    /// Per remote command (and per /readyz or VIP probe).
    pub command_timeout: Duration,
    /// Per SSH hop: TCP connect and handshake (the ssh_config's ConnectTimeout wins).
    pub connect_timeout: Duration,
    /// The SSH login budget: connecting, authenticating and starting the remote shell, apart from
    /// `command_timeout` (which starts when the command is sent). The plan's
    /// `access.login_timeout_secs` wins.
    pub login_timeout: Duration,
    /// Read-only process: the SSH pool sends only the read-only command set.
    pub readonly: bool,
    /// Overrides the plan's `access.ssh_config`.
    pub ssh_config: Option<PathBuf>,
    /// The apiservers' port for the direct /readyz probe.
    pub apiserver_port: u16,
    /// Asked once per encrypted key file; None = such keys are skipped (use ssh-agent).
    pub passphrase: Option<PassphrasePrompt>,
    /// Stream each load balancer's address events (`ip -o monitor address`) and keepalived's and
    /// haproxy's messages (their journal), and look at once on a change; the daemons' polls then slow
    /// to [`watch::STREAMED_POLL`].
    pub streams: bool,
}

impl LiveSettings {
    /// 500 ms: with 1 s polling the p95 of detecting a VIP move or a backend going DOWN exceeds 1 s
    /// (`cargo bench --bench ha_probe`).
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);

    pub fn new(readonly: bool) -> LiveSettings {
        LiveSettings {
            interval: Self::DEFAULT_INTERVAL,
            hosts_interval: Duration::from_secs(1),
            command_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(5),
            login_timeout: PoolOptions::DEFAULT_LOGIN_TIMEOUT,
            readonly,
            ssh_config: None,
            apiserver_port: 6443,
            passphrase: None,
            streams: true,
        }
    }

    /// The light probe set of a fleet's cluster that is not open: the same sources, 10x less often
    /// (the HA front every 5 s, hosts every 10 s), no streams.
    pub fn light(readonly: bool) -> LiveSettings {
        LiveSettings {
            interval: Duration::from_secs(5),
            hosts_interval: Duration::from_secs(10),
            streams: false,
            ..LiveSettings::new(readonly)
        }
    }

    /// How long an observation of the fast probes stays current.
    pub fn budget_ms(&self) -> u64 {
        (self.interval.as_millis() as u64).saturating_mul(3).max(1000)
    }

    /// How long a Hosts observation stays current.
    pub fn hosts_budget_ms(&self) -> u64 {
        (self.hosts_interval.as_millis() as u64).saturating_mul(3).max(1000)
    }

    /// The SSH pool options for `plan`.
    pub fn pool_options(&self, plan: &Plan) -> PoolOptions {
        PoolOptions {
            ssh_config: self.ssh_config.clone().or_else(|| plan.access.ssh_config.clone().filter(|p| !p.as_os_str().is_empty())),
            mode: if self.readonly || plan.access.readonly { AccessMode::ReadOnly } else { AccessMode::ReadWrite },
            accept_new_host_keys: plan.access.accept_new_host_keys,
            connect_timeout: self.connect_timeout,
            login_timeout: plan.access.login_timeout_secs.map_or(self.login_timeout, Duration::from_secs),
            passphrase: self.passphrase.clone(),
            host_addresses: plan.hosts.iter().map(|h| (h.ssh_host.clone(), h.address.to_string())).collect(),
            sudo: plan.access.sudo,
            ..PoolOptions::default()
        }
    }
}

impl std::fmt::Debug for LiveSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSettings")
            .field("interval", &self.interval)
            .field("hosts_interval", &self.hosts_interval)
            .field("command_timeout", &self.command_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("readonly", &self.readonly)
            .field("ssh_config", &self.ssh_config)
            .field("streams", &self.streams)
            .finish_non_exhaustive()
    }
}

/// Which probes run where, from the plan's topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTargets {
    /// Every host: facts over SSH.
    pub hosts: Vec<Host>,
    /// Hosts running keepalived.
    pub keepalived: Vec<Host>,
    /// Hosts running haproxy.
    pub haproxy: Vec<Host>,
    /// Apiservers for the direct /readyz probe.
    pub masters: Vec<Host>,
    /// VIP:port for the TCP probe.
    pub vip: Option<SocketAddr>,
}

impl ProbeTargets {
    pub fn of(plan: &Plan) -> ProbeTargets {
        let masters: Vec<Host> = plan.masters().cloned().collect();
        let keepalived: Vec<Host> = plan.keepalived_hosts().into_iter().cloned().collect();
        let haproxy: Vec<Host> = plan.haproxy_hosts().into_iter().cloned().collect();
        let vip = plan.vip_endpoint();
        ProbeTargets { hosts: plan.hosts.clone(), keepalived, haproxy, masters, vip }
    }
}

/// An SSH error as a panel reason: the panel already names the host.
pub fn ssh_reason(e: &SshError) -> String {
    let s = e.to_string();
    let host = e.host();
    let rest = if host.is_empty() { s.as_str() } else { s.strip_prefix(&format!("{host}: ")).unwrap_or(&s) };
    // sudo's refusal is not SSH's: it says `sudo -n for user ...` itself
    if matches!(e, SshError::Sudo { .. }) {
        return rest.to_string();
    }
    format!("ssh: {rest}")
}

/// What the timeline and the status line say of a slow SSH login (the probes' command timeouts do
/// not count it: it has a budget of its own).
pub fn slow_login_notice(host: &str, took: Duration) -> String {
    format!("login on {host} took {}", show_secs(took.as_secs_f64()))
}

/// Start every probe for `plan` on the current tokio runtime. The tasks stop when the handle is dropped.
pub fn spawn(plan: &Plan, settings: LiveSettings) -> BackendHandle {
    let plan = plan.clone();
    BackendHandle::spawn(|events, commands| supervise(plan, settings, events, commands))
}

async fn supervise(plan: Plan, settings: LiveSettings, tx: mpsc::Sender<BackendEvent>, mut cmds: mpsc::UnboundedReceiver<Command>) {
    let mut tasks = JoinSet::new();
    let mut tails = LogTails { pool: Err("the SSH pool is not loaded".into()), running: Default::default() };
    let mut opts = settings.pool_options(&plan);
    let notices = tx.clone();
    opts.on_slow_login = Some(std::sync::Arc::new(move |host: &str, took: Duration| {
        let _ = notices.try_send(BackendEvent::Notice(slow_login_notice(host, took)));
    }));
    let pool = match SshPool::load(opts).await {
        Ok(pool) => {
            tails.pool = Ok(pool.clone());
            start_probes(&mut tasks, &plan, &settings, pool.clone(), &tx);
            Ok(pool)
        }
        Err(e) => {
            tails.pool = Err(e.to_string());
            tracing::error!("live probes: {e}");
            let _ = tx.send(BackendEvent::Notice(format!("live probes cannot start: {e}"))).await;
            for o in config_failure(&plan, &settings, &e.to_string()) {
                let _ = tx.send(BackendEvent::Obs(o)).await;
            }
            // the TCP and HTTPS probes need no SSH
            start_direct_probes(&mut tasks, &plan, &settings, &tx);
            Err(e.to_string())
        }
    };
    // one operation on the HA front at a time: two would fight over the same keepalived or haproxy
    let vip_busy = std::sync::Arc::new(tokio::sync::Mutex::new(()));
    let mut vip_clients = failover::VipClients::default();
    // the stop switches of running HA-front operations, by id (removed when they end)
    let stoppable: crate::backend::StopSwitches = Default::default();
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { return };
                if let Command::Logs(r) = cmd {
                    tails.handle(r, &plan, &settings, &tx).await;
                    continue;
                }
                let ev = match cmd {
                    Command::Execute {
                        id,
                        request: request @ (OpRequest::VipFailover { .. } | OpRequest::RestoreVipPriority { .. } | OpRequest::HaproxyServer { .. }),
                        cap,
                    } => {
                        let pool = match &pool {
                            Ok(p) => p.clone(),
                            Err(e) => {
                                let summary = format!("{}: SSH is not available: {e}", request.title());
                                let _ = tx.send(BackendEvent::Op(OpEvent::Finished { id, ok: false, summary })).await;
                                continue;
                            }
                        };
                        let ctx = failover::OpContext { plan: plan.clone(), pool, settings: settings.clone() };
                        let r = crate::backend::Reporter { id, tx: tx.clone() };
                        let busy = vip_busy.clone();
                        // a haproxy drain's wait for sessions stops at a cancel; the rest runs to its end
                        let (stop_tx, stop) = tokio::sync::watch::channel(false);
                        let stops = stoppable.clone();
                        stops.lock().unwrap_or_else(|p| p.into_inner()).insert(id, stop_tx);
                        tasks.spawn(async move {
                            let Ok(guard) = busy.try_lock_owned() else {
                                stops.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                                r.finish(Err(format!("{}: refused, another operation on the HA front is running", request.title()))).await;
                                return;
                            };
                            let result = match &request {
                                OpRequest::VipFailover { to, mode } => failover::failover(&ctx, to, *mode, &cap, &r).await,
                                OpRequest::RestoreVipPriority { lb } => failover::restore(&ctx, lb, &cap, &r).await,
                                OpRequest::HaproxyServer { server, admin } => hapadmin::set_server(&ctx, server, *admin, &cap, &r, Some(stop)).await,
                                _ => Err("not an operation of the HA front".into()),
                            };
                            // free before reporting: the next operation may be sent as soon as this one is finished
                            drop(guard);
                            stops.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                            r.finish(result).await;
                        });
                        continue;
                    }
                    // a half-done failover is worse than a finished one: only a drain's wait stops
                    Command::Cancel { id } => {
                        if let Some(s) = stoppable.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
                            let _ = s.send(true);
                        }
                        continue;
                    }
                    Command::Host { id, action: crate::ops::HostAction::VipClients { on }, .. } => {
                        let (ok, summary) = match vip_clients.set(on, &plan, pool.as_ref().is_ok_and(|p| p.mode() == AccessMode::ReadWrite), &tx).await {
                            Ok(s) => (true, s),
                            Err(e) => (false, e),
                        };
                        vec![BackendEvent::Op(OpEvent::Finished { id, ok, summary })]
                    }
                    Command::Host { id, action, cap } => {
                        let pool = match &pool {
                            Ok(p) => p.clone(),
                            Err(e) => {
                                let summary = format!("{}: SSH is not available: {e}", action.describe());
                                let _ = tx.send(BackendEvent::Op(OpEvent::Finished { id, ok: false, summary })).await;
                                continue;
                            }
                        };
                        let (plan, r) = (plan.clone(), crate::backend::Reporter { id, tx: tx.clone() });
                        tasks.spawn(async move {
                            let result = actions::run(&plan, &pool, &action, &cap, &r).await;
                            r.finish(result).await;
                        });
                        continue;
                    }
                    other => crate::backend::unavailable(other, "not carried out by the SSH part"),
                };
                for ev in ev {
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// The host log tails of this backend, by source id. A tail stops when its source is closed (its task
/// is aborted: the channel closes and the remote tail ends) or when the app hangs up.
struct LogTails {
    pool: Result<SshPool, String>,
    running: std::collections::HashMap<u64, tokio::task::AbortHandle>,
}

impl LogTails {
    async fn handle(&mut self, r: crate::logs::spec::LogRequest, plan: &Plan, settings: &LiveSettings, tx: &mpsc::Sender<BackendEvent>) {
        use crate::logs::spec::{LogRequest, LogState, LogStatus};
        self.running.retain(|_, h| !h.is_finished());
        match r {
            LogRequest::Close { id } => {
                if let Some(h) = self.running.remove(&id) {
                    h.abort();
                    let _ = tx.send(BackendEvent::LogSource(LogStatus { id, source: "ssh".into(), state: LogState::Closed })).await;
                }
            }
            LogRequest::Open { id, spec, tail, follow } => {
                let refuse = |why: String| crate::backend::log_refused(id, &spec, &why);
                let evs = match (&self.pool, spec.host().and_then(|h| plan.hosts.iter().find(|x| x.name == h))) {
                    _ if spec.is_kube() => refuse("pod logs come from the Kubernetes API, not over SSH".into()),
                    (Err(e), _) => refuse(format!("ssh: {e}")),
                    (Ok(_), None) => refuse(format!("{}: not a host of the plan", spec.host().unwrap_or(""))),
                    (Ok(pool), Some(h)) => {
                        let fut = crate::probe::logtail::tail_host(
                            pool.clone(),
                            h.ssh_host.clone(),
                            id,
                            spec,
                            tail,
                            follow,
                            settings.connect_timeout + settings.command_timeout,
                            tx.clone(),
                        );
                        self.running.insert(id, tokio::spawn(fut).abort_handle());
                        vec![]
                    }
                };
                for ev in evs {
                    let _ = tx.send(ev).await;
                }
            }
        }
    }
}

impl Drop for LogTails {
    fn drop(&mut self) {
        for h in self.running.values() {
            h.abort();
        }
    }
}

fn config_failure(plan: &Plan, settings: &LiveSettings, why: &str) -> Vec<Observation> {
    let t = ProbeTargets::of(plan);
    let at = Utc::now();
    let obs = |source: String, payload| Observation { at, source, budget_ms: settings.budget_ms(), payload };
    let mut out = Vec::new();
    for h in &t.hosts {
        out.push(obs(format!("ssh {}", h.name), Payload::Host { host: h.name.clone(), result: Err(why.to_string()) }));
    }
    for h in &t.keepalived {
        out.push(obs(format!("ssh {}", h.name), Payload::Vrrp { lb: h.name.clone(), result: Err(why.to_string()) }));
    }
    for h in &t.haproxy {
        out.push(obs(format!("ssh {}", h.name), Payload::Haproxy { lb: h.name.clone(), result: Err(why.to_string()) }));
    }
    out
}

/// How often each host's HA configuration is read again.
pub const HA_CONFIG_INTERVAL: Duration = Duration::from_secs(60);

/// What streams for haproxy: its servers watched on its socket, and its messages in the journal;
/// either lets its poll slow down.
const HAPROXY_PARTS: &[&str] = &[watch::HAPROXY_STATS, watch::HAPROXY];

/// Start the SSH probes and the direct ones.
pub fn start_probes(tasks: &mut JoinSet<()>, plan: &Plan, settings: &LiveSettings, pool: SshPool, tx: &mpsc::Sender<BackendEvent>) {
    let t = ProbeTargets::of(plan);
    let (timeout, budget, hosts_budget) = (settings.command_timeout, settings.budget_ms(), settings.hosts_budget_ms());
    // each host's facts: streamed every interval (polled while the stream is down), or polled
    for h in t.hosts {
        let task = factstream::FactsTask {
            pool: pool.clone(),
            name: h.name,
            ssh_host: h.ssh_host,
            interval: settings.hosts_interval,
            timeout,
            budget_ms: hosts_budget,
            stream: settings.streams,
        };
        tasks.spawn(factstream::run(task, tx.clone()));
    }
    // the event streams of every host running keepalived or haproxy (none when streams are off)
    let states = watch::WatchStates::default();
    let (vrrp_poke, vrrp_pokes) = mpsc::unbounded_channel();
    let mut haproxy_pokes = std::collections::HashMap::new();
    let mut watches = Vec::new();
    for h in t.keepalived.iter().chain(t.haproxy.iter()) {
        if watches.iter().any(|(w, _): &(watch::Watch, _)| w.name == h.name) {
            continue;
        }
        let runs_keepalived = t.keepalived.iter().any(|k| k.name == h.name);
        let haproxy = t.haproxy.iter().any(|k| k.name == h.name).then(|| {
            let (poke, pokes) = mpsc::unbounded_channel();
            haproxy_pokes.insert(h.name.clone(), pokes);
            poke
        });
        let units: Vec<&'static str> = [(runs_keepalived, watch::KEEPALIVED), (haproxy.is_some(), watch::HAPROXY)]
            .into_iter()
            .filter_map(|(runs, unit)| runs.then_some(unit))
            .collect();
        let pokes = watch::Pokes { vrrp: runs_keepalived.then(|| vrrp_poke.clone()), haproxy };
        let w = watch::Watch {
            pool: pool.clone(),
            name: h.name.clone(),
            ssh_host: h.ssh_host.clone(),
            states: states.clone(),
            pokes,
            open_timeout: settings.command_timeout,
        };
        watches.push((w, (runs_keepalived, units)));
    }
    // what keepalived tracks on each of its hosts: what the plan names now, the configuration's once read
    let mut tracked = std::collections::HashMap::new();
    let of_plan = causes::Causes::of_plan(&plan.lb.track_file, plan.vip.as_ref().and_then(|v| v.interface.as_deref()))
        .with_state_file(&plan.lb.keepalived_state_file);
    drop(vrrp_poke);
    if settings.streams {
        let vip = plan.vip.as_ref().map(|v| v.address);
        for (w, (runs_keepalived, units)) in watches {
            if runs_keepalived {
                let (tell, told) = tokio::sync::watch::channel(of_plan.clone());
                tracked.insert(w.name.clone(), tell);
                tasks.spawn(watch::watch_addresses(w.clone(), vip, told));
            }
            if units.contains(&watch::HAPROXY) {
                // haproxy's servers on its socket: its decisions as it makes them (its log comes late)
                let stats = watch::Watch { pokes: watch::Pokes { vrrp: None, haproxy: w.pokes.haproxy.clone() }, ..w.clone() };
                tasks.spawn(watch::watch_stats(stats, plan.lb.haproxy_socket.clone()));
            }
            tasks.spawn(watch::watch_logs(w, units));
        }
    }
    if !t.keepalived.is_empty() {
        let vip = plan.vip.as_ref().map(|v| v.address);
        let pokes = settings.streams.then_some(vrrp_pokes);
        let rounds =
            vrrp::VrrpRounds { lbs: t.keepalived, vip, lb: plan.lb.clone(), settings: settings.clone(), pokes, states: states.clone() };
        tasks.spawn(vrrp::vrrp_rounds(pool.clone(), rounds, tx.clone()));
    }
    // the HA configuration of every host running keepalived or haproxy, once a minute
    for h in plan.ha_config_hosts().into_iter().cloned() {
        let pool = pool.clone();
        // a file of a daemon the topology does not run on this host is not missing
        let runs_keepalived = plan.keepalived_hosts().iter().any(|k| k.name == h.name);
        let runs_haproxy = plan.haproxy_hosts().iter().any(|k| k.name == h.name);
        let (tell, of_plan) = (tracked.remove(&h.name), of_plan.clone());
        every(tasks, HA_CONFIG_INTERVAL, tx.clone(), move || {
            let (pool, h, tell, of_plan) = (pool.clone(), h.clone(), tell.clone(), of_plan.clone());
            async move {
                let result = haconfig::fetch_ha_config(&pool, &h.ssh_host, "", "", timeout * 2).await.map(|mut f| {
                    f.unreadable.retain(|(kind, _, _)| match kind.as_str() {
                        "keepalived" => runs_keepalived,
                        "haproxy" => runs_haproxy,
                        _ => true,
                    });
                    Box::new(haconfig::view_of(f))
                });
                if let (Some(tell), Ok(Some(conf))) = (&tell, result.as_ref().map(|v| v.keepalived.as_ref())) {
                    let now = of_plan.with_conf(conf);
                    tell.send_if_modified(|c| std::mem::replace(c, now.clone()) != now);
                }
                let budget = (HA_CONFIG_INTERVAL.as_millis() as u64) * 3;
                Observation::now(format!("ssh {}", h.name), budget, Payload::HaConfig { host: h.name, result })
            }
        });
    }
    for h in t.haproxy {
        let (pool, lb, states, tx) = (pool.clone(), plan.lb.clone(), states.clone(), tx.clone());
        let pokes = haproxy_pokes.remove(&h.name).unwrap_or_else(|| mpsc::unbounded_channel().1);
        let interval = settings.interval;
        tasks.spawn(async move {
            let name = h.name.clone();
            let slowed = || states.any_up(&name, HAPROXY_PARTS).then_some(watch::STREAMED_POLL);
            let round = |event: Option<(String, &'static str)>| {
                let (pool, h, lb, states) = (pool.clone(), h.clone(), lb.clone(), states.clone());
                async move {
                    let r = haproxy::probe_haproxy_found(&pool, &h.ssh_host, &lb.haproxy_socket, &lb.haproxy_backend, timeout).await;
                    // the source says which socket answered, and where kockpit found it
                    let mut source = match &r {
                        // the plan's socket not there: say so beside the one used instead
                        Ok((_, found)) if !found.is_empty() && !lb.haproxy_socket.is_empty() && !found.ends_with("(from the plan)") => {
                            format!("ssh {}: {found}; the plan's {} is not there", h.name, lb.haproxy_socket)
                        }
                        Ok((_, found)) if !found.is_empty() => format!("ssh {}: {found}", h.name),
                        _ => format!("ssh {}", h.name),
                    };
                    // how this was learnt, and how it will be
                    source += &states.source_note(&h.name, HAPROXY_PARTS, HAPROXY_PARTS, event.map(|(_, e)| e), interval);
                    let budget = if states.any_up(&h.name, HAPROXY_PARTS) { (watch::STREAMED_POLL.as_millis() as u64) * 3 } else { budget };
                    let result = r.map(|(servers, _)| servers);
                    vec![BackendEvent::Obs(Observation::now(source, budget, Payload::Haproxy { lb: h.name, result }))]
                }
            };
            crate::backend::poll::poked_loop(interval, &tx, pokes, slowed, round).await
        });
    }
    start_direct_probes(tasks, plan, settings, tx);
}

/// The probes that need no SSH: TCP to the VIP, HTTPS /readyz on every apiserver.
fn start_direct_probes(tasks: &mut JoinSet<()>, plan: &Plan, settings: &LiveSettings, tx: &mpsc::Sender<BackendEvent>) {
    let t = ProbeTargets::of(plan);
    let (timeout, budget, port) = (settings.command_timeout.min(Duration::from_secs(2)), settings.budget_ms(), settings.apiserver_port);
    for m in t.masters {
        every(tasks, settings.interval, tx.clone(), move || {
            let m = m.clone();
            async move {
                let result = haproxy::probe_readyz(m.address, port, timeout).await;
                Observation::now(format!("https {}", m.name), budget, Payload::Readyz { master: m.name, result })
            }
        });
    }
    if let Some(addr) = t.vip {
        every(tasks, settings.interval, tx.clone(), move || async move {
            let result = keepalived::probe_plan_vip(addr, timeout).await;
            Observation::now("tcp vip", budget, Payload::VipProbe(result))
        });
    }
}

/// Run `probe` every `interval` in the one poll loop ([`crate::backend::poll`]) until the app hangs up.
fn every<F, Fut>(tasks: &mut JoinSet<()>, interval: Duration, tx: mpsc::Sender<BackendEvent>, mut probe: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Observation> + Send + 'static,
{
    tasks.spawn(async move {
        let round = crate::backend::poll::rounds(move || {
            let next = probe();
            async move { vec![BackendEvent::Obs(next.await)] }
        });
        crate::backend::poll::poll_loop(interval, &tx, round).await
    });
}
