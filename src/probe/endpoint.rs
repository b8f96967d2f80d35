//! The control-plane endpoint of a kubeconfig (often the VIP), probed by TCP from where kockpit runs,
//! for a cluster opened without a host plan: whether it answers, whatever stands behind it.

use std::time::Duration;

use tokio::task::JoinSet;

use super::{LiveSettings, every, keepalived};
use crate::backend::BackendHandle;
use crate::model::Observation;
use crate::model::{Payload, VipProbe};

/// The source name of the endpoint probe.
pub const SOURCE: &str = "tcp endpoint";

/// One look: `host` resolved (a name may move), then a TCP connect to the first address that answers.
pub async fn probe_endpoint(host: &str, port: u16, timeout: Duration) -> Result<VipProbe, String> {
    let addrs: Vec<std::net::SocketAddr> = match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(a)) => a.collect(),
        Ok(Err(e)) => return Err(format!("{host}: {e}")),
        Err(_) => return Err(format!("{host}: no name resolution in {:.1}s", timeout.as_secs_f64())),
    };
    let mut last = format!("{host}: resolves to no address");
    for a in addrs {
        match keepalived::probe_vip_tcp(a, timeout).await {
            Ok(mut p) => {
                if host.parse::<std::net::IpAddr>().is_err() {
                    p.address = format!("{host} ({})", p.address);
                }
                return Ok(p);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Why a cluster opened from its kubeconfig alone cannot do what goes over SSH.
pub const NO_SSH: &str = "no host plan: nothing is reached over SSH (kockpit plan --from-cluster drafts one)";

/// The part that stands where the SSH part would for a cluster without a host plan: it probes the
/// endpoint `host:port` (when there is one) every interval, as the VIP probe's observation (the VIP
/// panel shows it), and answers every command routed to it with [`NO_SSH`].
pub fn spawn(endpoint: Option<(String, u16)>, settings: LiveSettings) -> BackendHandle {
    BackendHandle::spawn(move |tx, mut cmds| async move {
        let mut tasks = JoinSet::new();
        if let Some((host, port)) = endpoint {
            let interval = settings.interval.max(Duration::from_secs(1));
            let timeout = settings.command_timeout.min(Duration::from_secs(2));
            let budget = (interval.as_millis() as u64).saturating_mul(3);
            every(&mut tasks, interval, tx.clone(), move || {
                let host = host.clone();
                async move { Observation::now(SOURCE, budget, Payload::VipProbe(probe_endpoint(&host, port, timeout).await)) }
            });
        }
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                c = cmds.recv() => {
                    let Some(c) = c else { return };
                    for ev in crate::backend::unavailable(c, NO_SSH) {
                        let _ = tx.send(ev).await;
                    }
                }
            }
        }
    })
}
