//! Silences in Alertmanager for what kockpit does: a drill's `silence` action, and (where the
//! cluster asks for it, `silence_operations = true`) a drain or a master's maintenance for its
//! node. A layer in front of a cluster's backend: it takes those commands once their audit record
//! is durable, creates the silences, passes operations on, and expires the silences when the
//! operation (or the drill) ends, whatever the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::mpsc;

use super::Endpoint;
use crate::backend::{BackendEvent, BackendHandle, Command};
use crate::ops::{HostAction, OpEvent, OpRequest};

/// The longest an operation's silence lasts (it is expired at the operation's end before that).
pub const OPERATION_MINUTES: u32 = 120;

/// Who created a silence, as Alertmanager shows it.
const CREATED_BY: &str = "kockpit";

/// The silences of one target: its alerts by `node` and by `instance` (`HOST` or `HOST:PORT`).
fn matcher_sets(cluster: &str, targets: &[String]) -> Vec<Vec<(String, String, bool)>> {
    let alt = targets.iter().map(|t| regex_quote(t)).collect::<Vec<_>>().join("|");
    let c = ("cluster".to_string(), cluster.to_string(), false);
    vec![vec![c.clone(), ("node".into(), format!("({alt})"), true)], vec![c, ("instance".into(), format!("({alt})(:[0-9]+)?"), true)]]
}

/// `s` with the characters a regular expression gives meaning to escaped.
fn regex_quote(s: &str) -> String {
    s.chars().map(|c| if "\\.+*?()|[]{}^$".contains(c) { format!("\\{c}") } else { c.to_string() }).collect()
}

/// What the layer holds: the silences of each running operation, and the drill's.
#[derive(Default)]
struct Held {
    by_op: HashMap<u64, Vec<String>>,
    drill: Vec<String>,
}

/// `main` with silences: see the module. `for_operations`: drains and maintenance get one too.
pub fn with_silences(main: BackendHandle, am: Endpoint, cluster: String, for_operations: bool) -> BackendHandle {
    let BackendHandle { events: mut main_events, commands: main_commands, supports_faults } = main;
    let (ev_tx, ev_rx) = mpsc::channel::<BackendEvent>(1024);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Command>();
    let held = Arc::new(Mutex::new(Held::default()));
    // events: passed on; an operation's end expires its silences
    {
        let (held, am, tx) = (held.clone(), am.clone(), ev_tx.clone());
        tokio::spawn(async move {
            while let Some(ev) = main_events.recv().await {
                let ended = match &ev {
                    BackendEvent::Op(OpEvent::Finished { id, .. }) => held.lock().ok().and_then(|mut h| h.by_op.remove(id)),
                    _ => None,
                };
                if tx.send(ev).await.is_err() {
                    return;
                }
                if let Some(ids) = ended {
                    let said = expire_all(&am, &ids).await;
                    let _ = tx.send(BackendEvent::Notice(said)).await;
                }
            }
        });
    }
    tokio::spawn(async move {
        while let Some(cmd) = cmd_rx.recv().await {
            let ours = |c: &Command| match c {
                Command::Host { action: HostAction::Silence { .. }, .. } => true,
                Command::Execute { request: OpRequest::Drain { .. } | OpRequest::Maintenance { end: false, .. }, .. } => for_operations,
                _ => false,
            };
            // ours, once its record is on disk (a record that cannot be written refuses it)
            let cmd = match cmd {
                Command::AfterRecord { recorded, then } if ours(&then) => {
                    match tokio::time::timeout(crate::backend::route::RECORD_DEADLINE, recorded).await {
                        Ok(Ok(Ok(()))) => *then,
                        Ok(Ok(Err(why))) => {
                            refuse(&ev_tx, *then, &format!("audit log: {why}")).await;
                            continue;
                        }
                        _ => {
                            refuse(&ev_tx, *then, "audit log: the record was not acknowledged").await;
                            continue;
                        }
                    }
                }
                other => other,
            };
            match cmd {
                Command::Host { id, action: HostAction::Silence { on, targets, minutes }, cap: _ } => {
                    let (ok, summary) = if on {
                        match create(&am, &cluster, &targets, minutes, "a kockpit drill").await {
                            Ok(ids) => {
                                let n = ids.len();
                                if let Ok(mut h) = held.lock() {
                                    h.drill.extend(ids.iter().cloned());
                                }
                                (true, format!("{n} silence(s) in {} for {}: {}", am.url(), targets.join(", "), ids.join(", ")))
                            }
                            Err(e) => (false, e),
                        }
                    } else {
                        let ids = held.lock().map(|mut h| std::mem::take(&mut h.drill)).unwrap_or_default();
                        (true, expire_all(&am, &ids).await)
                    };
                    if ev_tx.send(BackendEvent::Op(OpEvent::Finished { id, ok, summary })).await.is_err() {
                        return;
                    }
                }
                Command::Execute { id, request, cap } if ours(&Command::Execute { id, request: request.clone(), cap: cap.share() }) => {
                    let node = match &request {
                        OpRequest::Drain { node, .. } => node.clone(),
                        OpRequest::Maintenance { host, .. } => host.clone(),
                        _ => String::new(),
                    };
                    let what = format!("kockpit: {}", request.title());
                    let said = match create(&am, &cluster, std::slice::from_ref(&node), OPERATION_MINUTES, &what).await {
                        Ok(ids) => {
                            let text = format!("silenced {node}'s alerts in {} until the operation ends ({})", am.url(), ids.join(", "));
                            if let Ok(mut h) = held.lock() {
                                h.by_op.insert(id, ids);
                            }
                            text
                        }
                        Err(e) => format!("no silence for {node}: {e} (the operation goes on; its alerts will fire)"),
                    };
                    let _ = ev_tx.send(BackendEvent::Notice(said)).await;
                    if main_commands.send(Command::Execute { id, request, cap }).is_err() {
                        return;
                    }
                }
                other => {
                    if main_commands.send(other).is_err() {
                        return;
                    }
                }
            }
        }
        // the app went away: nothing of ours stays silenced
        let ids: Vec<String> = held
            .lock()
            .map(|mut h| {
                let mut ids: Vec<String> = h.by_op.drain().flat_map(|(_, v)| v).collect();
                ids.append(&mut h.drill);
                ids
            })
            .unwrap_or_default();
        let _ = expire_all(&am, &ids).await;
    });
    BackendHandle { events: ev_rx, commands: cmd_tx, supports_faults }
}

async fn refuse(tx: &mpsc::Sender<BackendEvent>, cmd: Command, why: &str) {
    for ev in crate::backend::unavailable(cmd, why) {
        let _ = tx.send(ev).await;
    }
}

/// Create the silences of `targets` for `minutes`: their ids, or why not (none is left behind).
async fn create(am: &Endpoint, cluster: &str, targets: &[String], minutes: u32, why: &str) -> Result<Vec<String>, String> {
    let ends = Utc::now() + chrono::Duration::minutes(i64::from(minutes));
    let mut ids = vec![];
    for set in matcher_sets(cluster, targets) {
        match am.silence(&set, ends, CREATED_BY, why).await {
            Ok(id) => ids.push(id),
            Err(e) => {
                let _ = expire_all(am, &ids).await;
                return Err(e);
            }
        }
    }
    Ok(ids)
}

/// Expire `ids`: what was done, for the timeline.
async fn expire_all(am: &Endpoint, ids: &[String]) -> String {
    let mut failed = vec![];
    for id in ids {
        if let Err(e) = am.expire(id).await {
            failed.push(format!("{id}: {e}"));
        }
    }
    match (ids.len(), failed.is_empty()) {
        (0, _) => "no silence to expire".into(),
        (n, true) => format!("{n} silence(s) expired in {}", am.url()),
        (_, false) => format!("silences NOT expired in {}: {}", am.url(), failed.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_silenced_by_node_and_by_instance() {
        let sets = matcher_sets("bj-prod", &["worker.2".to_string(), "m1".to_string()]);
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0][0], ("cluster".to_string(), "bj-prod".to_string(), false));
        assert_eq!(sets[0][1], ("node".to_string(), "(worker\\.2|m1)".to_string(), true));
        assert_eq!(sets[1][1], ("instance".to_string(), "(worker\\.2|m1)(:[0-9]+)?".to_string(), true));
    }
}
