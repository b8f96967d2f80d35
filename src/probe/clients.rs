//! Clients connecting to the VIP every 20 ms while something changes: a failover counts how many
//! connects failed, a drill (`vip_clients`) sees each one as an observation.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Client connections to the VIP while an operation runs.
///
/// A connect is judged the way a client's kernel lives it: a SYN that goes unanswered (sent to the
/// old owner a moment after it let the VIP go) is sent again after 1 s and usually answered then. Such
/// a connect is *slow*, not failed: the client waited, nothing broke. A connect that is refused, reset
/// or still unanswered after [`CLIENT_TIMEOUT`] has *failed*.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientStats {
    pub attempts: u32,
    pub failed: u32,
    /// Connects that succeeded but took longer than [`CLIENT_SLOW`].
    pub slow: u32,
    /// The longest successful connect.
    pub slowest: Duration,
    /// The longest time without a successful connect.
    pub longest_gap: Duration,
    pub first_error: Option<String>,
}

/// A connect slower than this waited for at least one SYN retransmission (the first comes after 1 s).
pub const CLIENT_SLOW: Duration = Duration::from_millis(500);
/// Unanswered for this long, a connect has failed (covers the retransmissions at 1 s and 3 s).
pub const CLIENT_TIMEOUT: Duration = Duration::from_millis(3500);

impl ClientStats {
    pub fn describe(&self) -> String {
        let mut s = format!("{} client connections, {} failed", self.attempts, self.failed);
        if self.slow > 0 {
            s.push_str(&format!(", {} slow (the slowest took {} ms)", self.slow, self.slowest.as_millis()));
        }
        s.push_str(&format!(" (longest gap {} ms)", self.longest_gap.as_millis()));
        if let Some(e) = &self.first_error {
            s.push_str(&format!("; first failure: {e}"));
        }
        s
    }
}

/// A TCP connect loop against an address, until [`ClientLoop::finish`].
pub struct ClientLoop {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<ClientStats>,
}

impl ClientLoop {
    /// Connect to `addr` every `every`; a connect that takes longer than `slow` is slow, one that
    /// takes longer than `timeout` has failed.
    pub fn start(addr: SocketAddr, every: Duration, slow: Duration, timeout: Duration) -> ClientLoop {
        ClientLoop::start_reporting(addr, every, slow, timeout, None)
    }

    /// [`ClientLoop::start`], each attempt also sent to `report` as a [`Payload::VipClient`]
    /// observation (how long the connect took, or why it failed).
    pub fn start_reporting(
        addr: SocketAddr,
        every: Duration,
        slow: Duration,
        timeout: Duration,
        report: Option<tokio::sync::mpsc::Sender<crate::backend::BackendEvent>>,
    ) -> ClientLoop {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut st = ClientStats::default();
            let mut last_ok = Instant::now();
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stopped.changed() => break,
                }
                let t = Instant::now();
                // a connect still waiting when the loop is stopped is no attempt: its outcome is unknown
                let outcome = tokio::select! {
                    r = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)) => r,
                    _ = stopped.changed() => break,
                };
                st.attempts += 1;
                if let Some(tx) = &report {
                    let result = match &outcome {
                        Ok(Ok(_)) => Ok(t.elapsed().as_secs_f64() * 1000.0),
                        Ok(Err(e)) => Err(format!("connect {addr}: {e}")),
                        Err(_) => Err(format!("connect {addr}: no answer in {} ms", timeout.as_millis())),
                    };
                    let obs = crate::model::Observation::now("vip clients", 3_000, crate::model::Payload::VipClient(result));
                    if tx.send(crate::backend::BackendEvent::Obs(obs)).await.is_err() {
                        break;
                    }
                }
                match outcome {
                    Ok(Ok(_conn)) => {
                        let now = Instant::now();
                        let took = now - t;
                        if took > slow {
                            st.slow += 1;
                        }
                        st.slowest = st.slowest.max(took);
                        st.longest_gap = st.longest_gap.max(now - last_ok);
                        last_ok = now;
                    }
                    other => {
                        st.failed += 1;
                        if st.first_error.is_none() {
                            st.first_error = Some(match other {
                                Ok(Err(e)) => e.to_string(),
                                _ => format!("no answer in {} ms", timeout.as_millis()),
                            });
                        }
                    }
                }
            }
            st.longest_gap = st.longest_gap.max(last_ok.elapsed());
            st
        });
        ClientLoop { stop, task }
    }

    pub async fn finish(self) -> ClientStats {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// A drill's client loop through the VIP (`vip_clients`), while it runs.
#[derive(Default)]
pub struct VipClients(Option<ClientLoop>);

impl VipClients {
    /// Start or stop the loop against the plan's VIP; Ok(what happened) or why not. A process that
    /// may not write, or a plan that does not allow drills, starts none.
    pub async fn set(
        &mut self,
        on: bool,
        plan: &crate::inventory::Plan,
        writable: bool,
        tx: &tokio::sync::mpsc::Sender<crate::backend::BackendEvent>,
    ) -> Result<String, String> {
        match (on, self.0.take()) {
            (true, Some(l)) => {
                self.0 = Some(l);
                Ok("the VIP client is connecting already".into())
            }
            (true, None) => {
                if !writable || !plan.access.allow_drills {
                    return Err("refused: drills are not allowed here (read-only, or no `allow_drills = true` under [access])".into());
                }
                let vip = plan.vip_endpoint().ok_or("this cluster has no VIP (local proxies or no load balancer): no VIP client")?;
                let every = Duration::from_millis(crate::ops::VIP_CLIENT_EVERY_MS);
                self.0 = Some(ClientLoop::start_reporting(vip, every, CLIENT_SLOW, CLIENT_TIMEOUT, Some(tx.clone())));
                Ok(format!("a client connects to {vip} every {} ms", crate::ops::VIP_CLIENT_EVERY_MS))
            }
            (false, None) => Ok("no VIP client was connecting".into()),
            (false, Some(l)) => Ok(format!("the VIP client stopped: {}", l.finish().await.describe())),
        }
    }
}
