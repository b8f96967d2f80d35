//! The etcd probe's rounds: a full poll every interval, and between two the leadership looked at
//! every [`LEADERSHIP_INTERVAL`], a change polled at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use super::{EtcdProbe, EtcdSettings, Tunnel};
use crate::backend::BackendEvent;
use crate::backend::poll::{Round, poll_loop};
use crate::model::{Observation, Payload};
use crate::transport::Remote;

/// How often the leadership is looked at between full polls ([`EtcdProbe::leadership`]).
pub const LEADERSHIP_INTERVAL: Duration = Duration::from_millis(200);

/// Poll etcd every `settings.interval` and send [`Payload::Etcd`] observations until the app hangs up
/// (for a `JoinSet`, which aborts it when dropped). Between two polls each member's leader and term
/// are looked at every [`LEADERSHIP_INTERVAL`]; a change makes the full poll come at once, so a new
/// leader is on screen within a fifth of a second of etcd electing it rather than within a second.
pub async fn run_probe(settings: EtcdSettings, remote: Option<Remote>, tunnel: Option<Arc<dyn Tunnel>>, tx: mpsc::Sender<BackendEvent>) {
    let (interval, budget) = (settings.interval, settings.budget_ms());
    let fast = LEADERSHIP_INTERVAL.min(interval);
    let round =
        EtcdRound { probe: EtcdProbe::new(settings, remote, tunnel), budget, tls_failures: 0, interval, last_full: None, leadership: None };
    poll_loop(fast, &tx, round).await
}

/// One etcd poll per round when one is due or the leadership changed, and the TLS failures in a row
/// that make the probe load its credentials again.
struct EtcdRound {
    probe: EtcdProbe,
    budget: u64,
    tls_failures: u32,
    /// The full poll's interval, and when the last one was.
    interval: Duration,
    last_full: Option<std::time::Instant>,
    /// The leadership last looked at (None: look again to have a baseline).
    leadership: Option<Vec<(String, u64, u64)>>,
}

impl Round for EtcdRound {
    type Out = BackendEvent;

    async fn round(&mut self) -> Vec<BackendEvent> {
        let due = self.last_full.is_none_or(|t| t.elapsed() + Duration::from_millis(20) >= self.interval);
        if !due {
            let now = self.probe.leadership().await;
            let changed = match (&self.leadership, &now) {
                (Some(before), Some(now)) => before != now,
                _ => false,
            };
            self.leadership = now;
            if !changed {
                return vec![];
            }
            tracing::debug!("etcd: the leadership changed between polls; polling now");
        } else {
            // the baseline is taken before the poll: a change during it or right after it differs
            // from it at the next look, and is polled then
            self.leadership = self.probe.leadership().await;
        }
        self.last_full = Some(std::time::Instant::now());
        let result = self.probe.poll().await;
        // credentials that stop working (renewed and the old CA gone, say): load them again
        if result.as_ref().is_err_and(|e| e.contains("TLS") || e.contains("certificate")) {
            self.tls_failures += 1;
            if self.tls_failures >= 3 {
                self.probe.reset();
                self.tls_failures = 0;
            }
        } else {
            self.tls_failures = 0;
        }
        let obs = Observation { at: Utc::now(), source: self.probe.source_label(), budget_ms: self.budget, payload: Payload::Etcd(result) };
        vec![BackendEvent::Obs(obs)]
    }
}
