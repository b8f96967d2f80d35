//! keepalived on every LB, looked at together: on a tick, and at once when an LB's address stream
//! says its addresses changed.

use tokio::sync::mpsc;

use super::{LiveSettings, keepalived, watch};
use crate::backend::BackendEvent;
use crate::inventory::Host;
use crate::model::{Observation, Payload};
use crate::transport::ssh::SshPool;

/// keepalived on every LB, sampled together and reported so that the model never shows a split brain
/// that was not there. Every tick probes all LBs at once (an LB whose last probe is still running is
/// not probed again: it never holds the others back), and each result is reported as it arrives,
/// except a result that takes the VIP while another LB was last reported holding it: that one waits
/// for a fresh look at the other LB (at most a command timeout). A handover then reads "lb1 lets go,
/// lb2 takes it"; a real split brain (both still hold when looked at again) is reported as such.
/// The address streams ([`super::watch`]) say when to look at one at once.
pub(super) struct VrrpRounds {
    pub(super) lbs: Vec<Host>,
    pub(super) vip: Option<std::net::IpAddr>,
    pub(super) lb: crate::inventory::LbSettings,
    pub(super) settings: LiveSettings,
    /// Host names from the streams, with the event: look at this one now (None: no streams).
    pub(super) pokes: Option<mpsc::UnboundedReceiver<(String, &'static str)>>,
    pub(super) states: watch::WatchStates,
}

pub(super) async fn vrrp_rounds(pool: SshPool, r: VrrpRounds, tx: mpsc::Sender<BackendEvent>) {
    use std::collections::{HashMap, HashSet};
    use tokio::time::Instant;
    let VrrpRounds { lbs, vip, lb, settings, mut pokes, states } = r;
    // when each LB was last looked at; LBs poked while a look was under way (look again after it)
    let mut last_look: HashMap<String, Instant> = HashMap::new();
    let mut again: HashSet<String> = HashSet::new();
    // LBs poked and not looked at since, with the event: the next look answers it (the source says so)
    let mut on_event: HashMap<String, &'static str> = HashMap::new();
    type ProbeResult = Result<crate::model::VrrpView, String>;
    type Event = Option<&'static str>;
    let (res_tx, mut res_rx) = mpsc::unbounded_channel::<(String, ProbeResult, String, Event)>();
    // where each LB's last view came from (JSON dump, data dump, state file...): the source says it
    let mut from_of: HashMap<String, String> = HashMap::new();
    let mut inflight: HashSet<String> = HashSet::new();
    let mut last_holds: HashMap<String, bool> = HashMap::new();
    // results that take the VIP, waiting for a fresh look at the LBs that were holding it
    let mut held: Vec<(String, crate::model::VrrpView, Instant, Event)> = Vec::new();
    let budget = settings.budget_ms();
    let spawn_probe = |h: &Host,
                       inflight: &mut HashSet<String>,
                       last_look: &mut HashMap<String, Instant>,
                       on_event: &mut HashMap<String, &'static str>| {
        if !inflight.insert(h.name.clone()) {
            return;
        }
        last_look.insert(h.name.clone(), Instant::now());
        let event = on_event.remove(&h.name);
        let (pool, name, ssh_host, lb, timeout, res_tx) =
            (pool.clone(), h.name.clone(), h.ssh_host.clone(), lb.clone(), settings.command_timeout, res_tx.clone());
        tokio::spawn(async move {
            let r =
                keepalived::probe_vrrp_found(&pool, "vrrp", &ssh_host, vip, &lb.keepalived_json, &lb.keepalived_state_file, timeout).await;
            let (r, from) = match r {
                Ok((v, from)) => (Ok(v), from),
                Err(e) => (Err(e), String::new()),
            };
            let _ = res_tx.send((name, r, from, event));
        });
    };
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut out: Vec<(String, ProbeResult, Event)> = Vec::new();
        tokio::select! {
            _ = tx.closed() => return,
            _ = ticker.tick() => {
                for h in &lbs {
                    // a host whose events stream is polled only as the consistency check
                    // (the address events alone say nothing of a priority or a state that moves no address)
                    let streamed = states.is_up(&h.name, watch::KEEPALIVED);
                    if streamed && last_look.get(&h.name).is_some_and(|t| t.elapsed() < watch::STREAMED_POLL) {
                        continue;
                    }
                    spawn_probe(h, &mut inflight, &mut last_look, &mut on_event);
                }
            }
            Some((name, event)) = async { match pokes.as_mut() { Some(p) => p.recv().await, None => std::future::pending().await } } => {
                if let Some(h) = lbs.iter().find(|h| h.name == name) {
                    // a stream starting or stopping is no event: it does not replace one waiting
                    if !event.is_empty() || !on_event.contains_key(&name) {
                        on_event.insert(name.clone(), event);
                    }
                    if inflight.contains(&name) {
                        // the look under way may have started before the change: look again after it
                        again.insert(name);
                    } else {
                        spawn_probe(h, &mut inflight, &mut last_look, &mut on_event);
                    }
                }
            }
            Some((name, result, from, event)) = res_rx.recv() => {
                inflight.remove(&name);
                if again.remove(&name)
                    && let Some(h) = lbs.iter().find(|h| h.name == name)
                {
                    spawn_probe(h, &mut inflight, &mut last_look, &mut on_event);
                }
                if result.is_ok() {
                    from_of.insert(name.clone(), from);
                }
                match result {
                    Ok(v) if v.holds_vip => {
                        let others: Vec<&Host> = lbs.iter().filter(|h| h.name != name && last_holds.get(&h.name) == Some(&true)).collect();
                        if others.is_empty() {
                            out.push((name, Ok(v), event));
                        } else {
                            for h in others {
                                // a look an event called for (this LB's), the source says so
                                if let Some(e) = event {
                                    on_event.entry(h.name.clone()).or_insert(e);
                                }
                                // a look under way may have started before the change: one more after it
                                if inflight.contains(&h.name) {
                                    again.insert(h.name.clone());
                                }
                                spawn_probe(h, &mut inflight, &mut last_look, &mut on_event);
                            }
                            held.retain(|(n, _, _, _)| *n != name);
                            held.push((name, v, Instant::now(), event));
                        }
                    }
                    other => out.push((name, other, event)),
                }
            }
        }
        // Report what arrived, then whatever held result is now clear: the LBs it waited for let go,
        // or were looked at again and still hold it (a real split brain), or took too long.
        loop {
            for (name, result, event) in out.drain(..) {
                if let Ok(v) = &result {
                    last_holds.insert(name.clone(), v.holds_vip);
                }
                let mut source = match from_of.get(&name) {
                    Some(from) if result.is_ok() && !from.is_empty() => format!("ssh {name}: {from}"),
                    _ => format!("ssh {name}"),
                };
                // the streams' state is part of the source: how this was learnt, and how it will be
                let parts = [watch::ADDR, watch::KEEPALIVED];
                source += &states.source_note(&name, &parts, &[watch::KEEPALIVED], event, settings.interval);
                let budget = if states.is_up(&name, watch::KEEPALIVED) {
                    (watch::STREAMED_POLL.as_millis() as u64).saturating_mul(3)
                } else {
                    budget
                };
                let o = Observation::now(source, budget, Payload::Vrrp { lb: name, result });
                if tx.send(BackendEvent::Obs(o)).await.is_err() {
                    return;
                }
            }
            let now = Instant::now();
            let ready = held.iter().position(|(name, _, since, _)| {
                let waiting = lbs.iter().any(|h| h.name != *name && last_holds.get(&h.name) == Some(&true) && inflight.contains(&h.name));
                !waiting || now.duration_since(*since) > settings.command_timeout
            });
            match ready {
                Some(i) => {
                    let (name, v, _, event) = held.remove(i);
                    out.push((name, Ok(v), event));
                }
                None => break,
            }
        }
    }
}
