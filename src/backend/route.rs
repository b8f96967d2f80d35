//! The one routing table: which part of a backend runs each command, and the one answer for a
//! command no part of this cluster can take. Supervisors get only what is routed to them.

use std::time::Duration;

use tokio::sync::mpsc;

use super::{BackendEvent, BackendHandle, Command};
use crate::logs::spec::LogRequest;
use crate::ops::{OpEvent, OpRequest};

/// The parts a backend is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// The simulated cluster: it does everything itself.
    Sim,
    /// The Kubernetes API: node operations, drain dry runs, pod logs.
    Kube,
    /// SSH to the HA front: VIP operations, drill host actions, host logs.
    Ssh,
    /// The cluster's stores, etcd, Ceph and the PKI (over SSH or locally): renewals, noout.
    Stores,
}

/// Said when a live cluster is asked to inject a fault.
pub const FAULTS_DEMO_ONLY: &str = "fault injection is only available in the demo and drills";
/// Said when a live cluster is asked to pause.
pub const NO_PAUSE_LIVE: &str = "a live cluster cannot be paused";
/// How long a command waits for its audit record to be acknowledged before it is refused.
pub const RECORD_DEADLINE: Duration = Duration::from_secs(10);

/// Where a command goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    To(Part),
    /// To every part (cancelling, closing a log source: whoever has it acts).
    Every,
    /// Nobody can take it here: answered at once with this reason.
    Nobody(String),
    /// An operation made of others ([`OpRequest::Maintenance`]): the combined backend runs its parts,
    /// each where it goes, one after the other.
    Compose,
}

/// The part of a live backend that executes `req`, None for an operation made of others. Exhaustive:
/// an operation that is not routed here does not compile.
pub fn op_part(req: &OpRequest) -> Option<Part> {
    Some(match req {
        OpRequest::Maintenance { .. } => return None,
        OpRequest::Cordon { .. } | OpRequest::Uncordon { .. } | OpRequest::Drain { .. } => Part::Kube,
        OpRequest::VipFailover { .. } | OpRequest::RestoreVipPriority { .. } | OpRequest::HaproxyServer { .. } => Part::Ssh,
        OpRequest::RenewCerts { .. }
        | OpRequest::SetNoout { .. }
        | OpRequest::EtcdMoveLeader { .. }
        | OpRequest::EtcdDefrag
        | OpRequest::EtcdDisarm
        | OpRequest::EtcdSnapshot { .. } => Part::Stores,
    })
}

/// Where `cmd` goes in a backend made of `parts`. A simulated cluster takes everything.
pub fn route(cmd: &Command, parts: &[Part]) -> Route {
    let to_all = matches!(cmd, Command::Cancel { .. } | Command::Logs(LogRequest::Close { .. }));
    if to_all {
        return Route::Every;
    }
    if let Command::Execute { request, .. } = cmd
        && op_part(request).is_none()
    {
        return Route::Compose;
    }
    if parts.contains(&Part::Sim) {
        return Route::To(Part::Sim);
    }
    match cmd {
        Command::Execute { request, .. } => op_part(request).map_or(Route::Compose, Route::To),
        Command::DryRun { request: OpRequest::Drain { .. }, .. } => Route::To(Part::Kube),
        Command::DryRun { request, .. } => Route::Nobody(format!("no dry run of {}", request.title())),
        Command::Logs(LogRequest::Open { spec, .. }) => Route::To(if spec.is_kube() { Part::Kube } else { Part::Ssh }),
        Command::Host { action: crate::ops::HostAction::EtcdWrites { .. }, .. } => Route::To(Part::Stores),
        Command::Host { .. } => Route::To(Part::Ssh),
        Command::NodeDetail { .. } => Route::To(Part::Kube),
        Command::Fault(_) => Route::Nobody(FAULTS_DEMO_ONLY.into()),
        Command::SetPaused(_) => Route::Nobody(NO_PAUSE_LIVE.into()),
        Command::AfterRecord { then, .. } => route(then, parts),
        Command::Cancel { .. } | Command::Logs(LogRequest::Close { .. }) => Route::Every,
    }
}

/// The answer to a command that cannot be carried out here, for `why`: an operation or host action
/// finished unsuccessfully, a dry run failed, a log source refused, a notice otherwise.
pub fn unavailable(cmd: Command, why: &str) -> Vec<BackendEvent> {
    match cmd {
        Command::Execute { id, request, .. } => {
            vec![BackendEvent::Op(OpEvent::Finished { id, ok: false, summary: format!("{}: {why}", request.title()) })]
        }
        Command::Host { id, action, .. } => {
            vec![BackendEvent::Op(OpEvent::Finished { id, ok: false, summary: format!("{}: {why}", action.describe()) })]
        }
        Command::DryRun { id, .. } => vec![BackendEvent::DryRun { id, result: Err(why.to_string()) }],
        Command::NodeDetail { id, node } => vec![BackendEvent::NodeDetail { id, node, result: Err(why.to_string()) }],
        Command::Logs(LogRequest::Open { id, spec, .. }) => super::log_refused(id, &spec, why),
        Command::Logs(LogRequest::Close { .. }) | Command::Cancel { .. } => vec![],
        Command::Fault(_) | Command::SetPaused(_) => vec![BackendEvent::Notice(why.to_string())],
        Command::AfterRecord { then, .. } => unavailable(*then, why),
    }
}

/// One backend made of several parts: every part's events go to the one channel; each command goes
/// where [`route`] says. A command that waits for its audit record ([`Command::AfterRecord`]) is
/// passed on only once the record is durable, and refused if it cannot be written.
pub fn combine(parts: Vec<(Part, BackendHandle)>) -> BackendHandle {
    let (ev_tx, ev_rx) = mpsc::channel::<BackendEvent>(1024);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Command>();
    let supports_faults = parts.iter().any(|(_, h)| h.supports_faults);
    let kinds: Vec<Part> = parts.iter().map(|(p, _)| *p).collect();
    let subs: super::compose::Subs = Default::default();
    let composed: super::compose::Running = Default::default();
    let mut routes = Vec::new();
    for (part, mut h) in parts {
        let (tx, subs) = (ev_tx.clone(), subs.clone());
        tokio::spawn(async move {
            while let Some(ev) = h.events.recv().await {
                // a part of a composed operation reports to that operation
                if super::compose::take_part_event(&subs, &ev) {
                    continue;
                }
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        });
        routes.push((part, h.commands));
    }
    // weak: the loop below must end when the app drops the handle, not keep its own channel open
    let own = cmd_tx.downgrade();
    tokio::spawn(async move {
        while let Some(cmd) = cmd_rx.recv().await {
            let cmd = match cmd {
                Command::AfterRecord { recorded, then } => {
                    let written = match tokio::time::timeout(RECORD_DEADLINE, recorded).await {
                        Ok(Ok(r)) => r,
                        Ok(Err(_)) => Err("the audit writer stopped".to_string()),
                        Err(_) => Err(format!("the audit record was not written within {} s", RECORD_DEADLINE.as_secs())),
                    };
                    match written {
                        Ok(()) => *then,
                        Err(e) => {
                            for ev in unavailable(*then, &format!("refused: the audit log cannot be written ({e})")) {
                                if ev_tx.send(ev).await.is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                    }
                }
                c => c,
            };
            match route(&cmd, &kinds) {
                Route::Every => {
                    if let Command::Cancel { id } = &cmd
                        && let Some(stop) = composed.lock().unwrap_or_else(|p| p.into_inner()).get(id)
                    {
                        let _ = stop.send(true);
                    }
                    for (_, tx) in &routes {
                        let copy = match &cmd {
                            Command::Cancel { id } => Command::Cancel { id: *id },
                            Command::Logs(LogRequest::Close { id }) => Command::Logs(LogRequest::Close { id: *id }),
                            _ => continue,
                        };
                        let _ = tx.send(copy);
                    }
                }
                Route::To(part) => match routes.iter().find(|(p, _)| *p == part) {
                    Some((_, tx)) => {
                        let _ = tx.send(cmd);
                    }
                    None => {
                        for ev in unavailable(cmd, "no part of this cluster's backend can do it") {
                            if ev_tx.send(ev).await.is_err() {
                                return;
                            }
                        }
                    }
                },
                Route::Nobody(why) => {
                    for ev in unavailable(cmd, &why) {
                        if ev_tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
                Route::Compose => {
                    let (Command::Execute { id, request, cap }, Some(cmds)) = (cmd, own.upgrade()) else { continue };
                    let title = request.title();
                    let OpRequest::Maintenance { parts, .. } = request else { continue };
                    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                    composed.lock().unwrap_or_else(|p| p.into_inner()).insert(id, stop_tx);
                    let w = super::compose::Wiring { cmds, subs: subs.clone(), events: ev_tx.clone() };
                    let composed = composed.clone();
                    tokio::spawn(async move {
                        super::compose::run(id, title, parts, cap, w, stop_rx).await;
                        composed.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    });
                }
            }
        }
    });
    BackendHandle { events: ev_rx, commands: cmd_tx, supports_faults }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::spec::{LogSpec, LogState};
    use crate::ops::WriteCap;

    fn part() -> (BackendHandle, mpsc::Sender<BackendEvent>, mpsc::UnboundedReceiver<Command>) {
        let (etx, erx) = mpsc::channel(8);
        let (ctx, crx) = mpsc::unbounded_channel();
        (BackendHandle { events: erx, commands: ctx, supports_faults: false }, etx, crx)
    }

    /// The parts the live backend is built of (live::spawn).
    const LIVE: [Part; 3] = [Part::Kube, Part::Stores, Part::Ssh];

    #[test]
    fn every_operation_has_a_live_part_and_the_simulation_takes_all() {
        let cap = WriteCap::acquire(false).unwrap();
        for request in OpRequest::examples() {
            let cmd = Command::Execute { id: 1, request: request.clone(), cap: cap.share() };
            if matches!(request, OpRequest::Maintenance { .. }) {
                // made of others: run by the combined backend itself, in the demo too
                assert_eq!((route(&cmd, &LIVE), route(&cmd, &[Part::Sim])), (Route::Compose, Route::Compose));
                continue;
            }
            match route(&cmd, &LIVE) {
                Route::To(p) => assert!(LIVE.contains(&p), "{request:?} goes to {p:?}, which the live backend does not have"),
                other => panic!("{request:?} is not routed to a part: {other:?}"),
            }
            assert_eq!(route(&cmd, &[Part::Sim]), Route::To(Part::Sim));
        }
        assert_eq!(route(&Command::Fault(crate::ops::Fault::OsdDown), &LIVE), Route::Nobody(FAULTS_DEMO_ONLY.into()));
        assert_eq!(route(&Command::Cancel { id: 3 }, &LIVE), Route::Every);
    }

    #[tokio::test]
    async fn routes_commands_and_merges_events() {
        let (a, a_ev, mut a_cmd) = part();
        let (b, b_ev, mut b_cmd) = part();
        let mut h = combine(vec![(Part::Kube, a), (Part::Ssh, b)]);
        let cap = WriteCap::acquire(false).unwrap();
        h.commands.send(Command::Execute { id: 1, request: OpRequest::Cordon { node: "w1".into() }, cap: cap.share() }).unwrap();
        h.commands.send(Command::Cancel { id: 1 }).unwrap();
        h.commands.send(Command::Execute { id: 2, request: OpRequest::SetNoout { on: true }, cap: cap.share() }).unwrap();
        assert!(matches!(a_cmd.recv().await, Some(Command::Execute { id: 1, .. })));
        assert!(matches!(a_cmd.recv().await, Some(Command::Cancel { id: 1 })));
        assert!(matches!(b_cmd.recv().await, Some(Command::Cancel { id: 1 })));
        // noout belongs to the State part, which this backend does not have: answered, not dropped
        match h.events.recv().await {
            Some(BackendEvent::Op(OpEvent::Finished { id: 2, ok: false, summary })) => assert!(summary.contains("no part"), "{summary}"),
            other => panic!("{other:?}"),
        }
        h.commands.send(Command::Fault(crate::ops::Fault::OsdDown)).unwrap();
        assert!(matches!(h.events.recv().await, Some(BackendEvent::Notice(n)) if n == FAULTS_DEMO_ONLY));
        a_ev.send(BackendEvent::Notice("from a".into())).await.unwrap();
        b_ev.send(BackendEvent::Notice("from b".into())).await.unwrap();
        let mut got = vec![];
        for _ in 0..2 {
            if let Some(BackendEvent::Notice(n)) = h.events.recv().await {
                got.push(n);
            }
        }
        got.sort();
        assert_eq!(got, ["from a", "from b"]);
    }

    #[tokio::test]
    async fn log_sources_go_to_their_part_and_closing_reaches_all() {
        let (a, _a_ev, mut a_cmd) = part();
        let (b, _b_ev, mut b_cmd) = part();
        let h = combine(vec![(Part::Kube, a), (Part::Ssh, b)]);
        let pod = LogSpec::Pod { namespace: "ns".into(), pod: "p".into(), container: None, previous: false };
        let journal = LogSpec::Journal { host: "m1".into(), unit: "etcd".into() };
        h.commands.send(Command::Logs(LogRequest::Open { id: 1, spec: pod, tail: 10, follow: true })).unwrap();
        h.commands.send(Command::Logs(LogRequest::Open { id: 2, spec: journal, tail: 10, follow: true })).unwrap();
        h.commands.send(Command::Logs(LogRequest::Close { id: 2 })).unwrap();
        assert!(matches!(a_cmd.recv().await, Some(Command::Logs(LogRequest::Open { id: 1, .. }))));
        assert!(matches!(b_cmd.recv().await, Some(Command::Logs(LogRequest::Open { id: 2, .. }))));
        assert!(matches!(a_cmd.recv().await, Some(Command::Logs(LogRequest::Close { id: 2 }))));
        assert!(matches!(b_cmd.recv().await, Some(Command::Logs(LogRequest::Close { id: 2 }))));
        // nobody serves host files in a backend of the Kubernetes part alone: refused, failed and closed
        let (c, _c_ev, _c_cmd) = part();
        let mut h2 = combine(vec![(Part::Kube, c)]);
        let file = LogSpec::File { host: "m1".into(), path: "/x".into() };
        h2.commands.send(Command::Logs(LogRequest::Open { id: 3, spec: file, tail: 1, follow: true })).unwrap();
        let mut states = vec![];
        for _ in 0..2 {
            if let Some(BackendEvent::LogSource(s)) = h2.events.recv().await {
                assert_eq!((s.id, &*s.source), (3, "file m1 /x"));
                states.push(s.state);
            }
        }
        assert!(matches!(&states[..], [LogState::Failed(w), LogState::Closed] if w.contains("no part")), "{states:?}");
    }

    #[tokio::test]
    async fn nothing_is_passed_on_before_its_record_is_durable() {
        let (a, _a_ev, mut a_cmd) = part();
        let mut h = combine(vec![(Part::Kube, a)]);
        let cap = WriteCap::acquire(false).unwrap();
        // a record that fails: the cordon never reaches the part, and says why
        let (ack, recorded) = tokio::sync::oneshot::channel();
        let cordon = Command::Execute { id: 7, request: OpRequest::Cordon { node: "w1".into() }, cap: cap.share() };
        h.commands.send(cordon.after(recorded)).unwrap();
        ack.send(Err("audit log /x: No space left on device".into())).unwrap();
        match h.events.recv().await {
            Some(BackendEvent::Op(OpEvent::Finished { id: 7, ok: false, summary })) => {
                assert!(summary.contains("audit log cannot be written") && summary.contains("No space left"), "{summary}")
            }
            other => panic!("{other:?}"),
        }
        // a record still being written holds the command back; once written, it is passed on
        let (ack, recorded) = tokio::sync::oneshot::channel();
        let cordon = Command::Execute { id: 8, request: OpRequest::Cordon { node: "w1".into() }, cap: cap.share() };
        h.commands.send(cordon.after(recorded)).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(a_cmd.try_recv().is_err(), "nothing before the record is written");
        ack.send(Ok(())).unwrap();
        assert!(matches!(a_cmd.recv().await, Some(Command::Execute { id: 8, .. })));
    }
}
