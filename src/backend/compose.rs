//! Operations made of others ([`OpRequest::Maintenance`]): the combined backend runs the parts one
//! after the other, each routed where it goes as if the app had sent it, and reports them as steps of
//! the one operation. A part that fails stops it; a cancel stops the running part at its safe point
//! (a drain) and starts no other. Each part verifies itself before it reports done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use super::{BackendEvent, Command, Reporter};
use crate::ops::{OpEvent, OpRequest, WriteCap};

/// Where the events of running parts go, by the part's operation id.
pub(super) type Subs = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<OpEvent>>>>;
/// The stop switch of each running operation that can stop at a safe point, by its id (composed
/// operations here, a haproxy drain's wait in the SSH part).
pub type Running = Arc<Mutex<HashMap<u64, watch::Sender<bool>>>>;

/// The id of part `k` of operation `id`: far above any id the app hands out.
fn sub_id(id: u64, k: usize) -> u64 {
    (1 << 62) | (id << 8) | k as u64
}

/// Whether `ev` belongs to a running part: then it goes to that part's operation, not to the app.
pub(super) fn take_part_event(subs: &Subs, ev: &BackendEvent) -> bool {
    let BackendEvent::Op(e) = ev else { return false };
    let to = subs.lock().unwrap_or_else(|p| p.into_inner()).get(&e.id()).cloned();
    match to {
        Some(tx) => {
            let _ = tx.send(e.clone());
            true
        }
        None => false,
    }
}

/// How a composed operation reaches the backend it runs in: its own command channel (each part is
/// routed as if the app had sent it), the part events' table, and the app's event channel.
pub(super) struct Wiring {
    pub cmds: mpsc::UnboundedSender<Command>,
    pub subs: Subs,
    pub events: mpsc::Sender<BackendEvent>,
}

/// Run `parts` of operation `id` in order, sending each into the backend's own command channel.
pub(super) async fn run(id: u64, title: String, parts: Vec<OpRequest>, cap: WriteCap, w: Wiring, mut stop: watch::Receiver<bool>) {
    let Wiring { cmds, subs, events } = w;
    let r = Reporter { id, tx: events };
    let n = parts.len();
    let labels: Vec<String> = parts.iter().map(OpRequest::short_label).collect();
    let state = |done: usize| {
        let d = if done == 0 { "none".to_string() } else { labels[..done].join(", ") };
        let rest = if done >= n { "none".to_string() } else { labels[done..].join(", ") };
        format!("done: {d}; not done: {rest}")
    };
    if n == 0 {
        r.finish(Err(format!("{title}: nothing to do"))).await;
        return;
    }
    for (k, part) in parts.into_iter().enumerate() {
        if *stop.borrow() {
            r.finish(Err(format!("stopped by the operator before [{}/{n}] {}; {}", k + 1, part.title(), state(k)))).await;
            return;
        }
        let sid = sub_id(id, k);
        let (tx, mut rx) = mpsc::unbounded_channel();
        subs.lock().unwrap_or_else(|p| p.into_inner()).insert(sid, tx);
        r.step(format!("[{}/{n}] {}", k + 1, part.title()), true).await;
        let what = part.title();
        // a part that cannot stop halfway (a hand-over, a VIP move) runs to its end; the next does not start
        let stoppable = part.runs_to_its_end().is_none();
        let sent = cmds.send(Command::Execute { id: sid, request: part, cap: cap.share() }).is_ok();
        let mut outcome = if sent { None } else { Some((false, "the backend stopped".to_string())) };
        let mut cancelled = false;
        while outcome.is_none() {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(OpEvent::Step { text, ok, .. }) => r.step(format!("  {text}"), ok).await,
                    Some(OpEvent::Finished { ok, summary, .. }) => outcome = Some((ok, summary)),
                    None => outcome = Some((false, "its events stopped".to_string())),
                },
                changed = stop.changed(), if !cancelled => {
                    if changed.is_err() || *stop.borrow() {
                        cancelled = true;
                        if stoppable {
                            let _ = cmds.send(Command::Cancel { id: sid });
                        }
                    }
                }
            }
        }
        subs.lock().unwrap_or_else(|p| p.into_inner()).remove(&sid);
        let (ok, summary) = outcome.unwrap_or_default();
        if !ok {
            let word = if cancelled { "stopped by the operator during" } else { "stopped: failed" };
            // a part stopped or failed partway says itself what it left; the rest did not start
            let done = if k == 0 { "none".to_string() } else { labels[..k].join(", ") };
            let rest = if k + 1 >= n { "none".to_string() } else { labels[k + 1..].join(", ") };
            let left = format!("done: {done}; stopped in: {} (it says above what it left); not started: {rest}", labels[k]);
            r.finish(Err(format!("{word} [{}/{n}] {what}: {summary}; {left}", k + 1))).await;
            return;
        }
        r.step(format!("[{}/{n}] verified: {summary}", k + 1), true).await;
    }
    r.finish(Ok(format!("all {n} part(s) done and verified ({})", labels.join(", ")))).await;
}
