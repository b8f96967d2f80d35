//! In the stores' place for a cluster opened without a host plan: kube-system's etcd and
//! kube-apiserver static pods, listed every 15 s ([`ControlPlaneRound`]), and the certificate each of
//! those apiservers and the kubeconfig's endpoint serve, read by a TLS handshake once a minute. What
//! would go to the stores over SSH (renewals, noout) is answered with why it cannot.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::backend::poll::{Round, poll_loop};
use crate::backend::{BackendEvent, BackendHandle};
use crate::certs::{SERVED, served_cert};
use crate::kube::controlplane::{PODS_PATH, host_port, parse};
use crate::kube::{Access, Kube};
use crate::model::{Observation, Payload};
use crate::probe::endpoint::NO_SSH;

/// The part: the rounds until the app hangs up; every command answered with [`NO_SSH`].
pub fn spawn(api: Api, endpoint: Option<(String, u16)>) -> BackendHandle {
    BackendHandle::spawn(move |tx, mut cmds| async move {
        // the pods' list goes out as soon as it is read; the handshakes (up to 5 s each) follow apart
        let (found, seen) = watch::channel(None);
        let round = ControlPlaneRound { api, kube: None, found };
        let poll_tx = tx.clone();
        let polling = tokio::spawn(async move { poll_loop(CP_INTERVAL, &poll_tx, round).await });
        let certs_tx = tx.clone();
        let certs = tokio::spawn(certs_loop(seen, endpoint, certs_tx));
        while let Some(c) = cmds.recv().await {
            for ev in crate::backend::unavailable(c, NO_SSH) {
                if tx.send(ev).await.is_err() {
                    break;
                }
            }
        }
        polling.abort();
        certs.abort();
    })
}

/// The source of the control-plane pods.
pub const CP_SOURCE: &str = "kube static pods";
/// How often kube-system's static pods are listed, and the served certificates read.
const CP_INTERVAL: Duration = Duration::from_secs(15);
const CERTS_INTERVAL: Duration = Duration::from_secs(60);
/// The certificate row of the kubeconfig's endpoint.
pub const ENDPOINT_ROW: &str = "endpoint";

/// How the control-plane round reaches the API: the kubeconfig's access (always read-only here) and
/// the audit session for the User-Agent.
#[derive(Debug, Clone)]
pub struct Api {
    pub access: Access,
    pub session: Option<String>,
}

/// One list of the static pods per round (a client kept between rounds), and every fourth round a TLS
/// handshake with each apiserver the pods advertise and with the endpoint.
struct ControlPlaneRound {
    api: Api,
    kube: Option<Kube>,
    /// (node, advertised endpoint) of each apiserver pod, once listed, for the handshakes.
    found: watch::Sender<Option<Vec<(String, String)>>>,
}

impl ControlPlaneRound {
    async fn client(&mut self) -> Result<Kube, String> {
        if let Some(k) = &self.kube {
            return Ok(k.clone());
        }
        let access = Access { readonly: true, ..self.api.access.clone() };
        let k = Kube::connect(&access).await.map_err(|e| e.to_string())?;
        let k = match &self.api.session {
            Some(s) => k.with_session(s),
            None => k,
        };
        self.kube = Some(k.clone());
        Ok(k)
    }
}

impl Round for ControlPlaneRound {
    type Out = BackendEvent;

    async fn round(&mut self) -> Vec<BackendEvent> {
        let budget_ms = (CP_INTERVAL.as_millis() as u64) * 3;
        let listed = match self.client().await {
            Ok(k) => k
                .get_json_within::<serde_json::Value>(PODS_PATH, Duration::from_secs(10))
                .await
                .map(|v| parse(&v))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let apiservers: Vec<(String, String)> =
            listed.iter().flat_map(|v| v.apiservers.iter().map(|p| (p.node.clone(), p.endpoint.clone()))).collect();
        // a failed list keeps the apiservers last known
        if listed.is_ok() || self.found.borrow().is_none() {
            self.found.send_if_modified(|f| {
                let new = Some(apiservers);
                let changed = *f != new;
                *f = new;
                changed
            });
        }
        vec![BackendEvent::Obs(Observation::now(CP_SOURCE, budget_ms, Payload::ControlPlane(listed)))]
    }
}

/// The served certificates: once the first list of apiservers is in (or after 10 s without one, the
/// endpoint alone), then every minute, and at once when the apiservers change.
async fn certs_loop(
    mut seen: watch::Receiver<Option<Vec<(String, String)>>>,
    endpoint: Option<(String, u16)>,
    tx: mpsc::Sender<BackendEvent>,
) {
    let _ = tokio::time::timeout(Duration::from_secs(10), seen.wait_for(Option::is_some)).await;
    loop {
        let apiservers = seen.borrow_and_update().clone().unwrap_or_default();
        if !served_certs(&apiservers, endpoint.as_ref(), &tx).await {
            return;
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(CERTS_INTERVAL) => {}
            changed = seen.changed() => if changed.is_err() { return },
        }
    }
}

/// The certificate each apiserver serves at its advertised endpoint (one without one is skipped) and
/// the one the kubeconfig's endpoint serves, concurrently, each sent as one [`Payload::Certs`] as soon
/// as its handshake ends (a silent address holds back no other row). False when the app hung up.
async fn served_certs(apiservers: &[(String, String)], endpoint: Option<&(String, u16)>, tx: &mpsc::Sender<BackendEvent>) -> bool {
    let timeout = Duration::from_secs(5);
    let budget_ms = (CERTS_INTERVAL.as_millis() as u64) * 3;
    let mut set = JoinSet::new();
    for (node, ep) in apiservers {
        let Some(addr) = host_port(ep) else { continue };
        let node = node.clone();
        set.spawn(async move { (node, served_cert(SERVED, addr, timeout).await.map(|p| vec![p.info])) });
    }
    if let Some((host, port)) = endpoint.cloned() {
        set.spawn(async move {
            let addr = tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port))).await;
            let result = match addr {
                Ok(Ok(mut a)) => match a.next() {
                    Some(a) => served_cert(&format!("{SERVED} via endpoint"), a, timeout).await.map(|p| vec![p.info]),
                    None => Err(format!("{host}: resolves to no address")),
                },
                Ok(Err(e)) => Err(format!("{host}: {e}")),
                Err(_) => Err(format!("{host}: no name resolution in {:.1}s", timeout.as_secs_f64())),
            };
            (ENDPOINT_ROW.to_string(), result)
        });
    }
    while let Some(r) = set.join_next().await {
        if let Ok((host, result)) = r {
            let source = if host == ENDPOINT_ROW { "tls endpoint".to_string() } else { format!("tls {host}") };
            if tx.send(BackendEvent::Obs(Observation::now(source, budget_ms, Payload::Certs { host, result }))).await.is_err() {
                return false;
            }
        }
    }
    true
}
