//! The simulated cluster's operation executor: the same requests the live backend runs, step by
//! step in simulated time, and drill host actions.

use chrono::{DateTime, Duration, Utc};

use super::*;

impl SimCluster {
    pub(super) fn step_runs(&mut self, now: DateTime<Utc>) {
        let mut runs = std::mem::take(&mut self.runs);
        for run in &mut runs {
            while let Some((due, _)) = run.queue.front() {
                if *due > now {
                    break;
                }
                let (_, step) = run.queue.pop_front().unwrap();
                self.run_step(run, step, now);
            }
        }
        runs.retain(|r| !r.queue.is_empty());
        self.runs.extend(runs);
    }

    pub(super) fn run_step(&mut self, run: &mut Run, step: Step, now: DateTime<Utc>) {
        let id = run.id;
        if let Some((what, leaves)) = self.intent_of(&step) {
            run.cap.note_intent(id, &what, &leaves);
        }
        let emit = |s: &mut SimCluster, text: String, ok: bool| s.finished.push(OpEvent::Step { id, text, ok });
        match step {
            Step::Say(t) => emit(self, t, true),
            Step::Cordon(node, on) => {
                if let Some(n) = self.nodes.iter_mut().find(|n| n.name == node) {
                    n.unschedulable = on;
                    emit(self, format!("node {node} spec.unschedulable={on}"), true);
                } else {
                    self.fail(run, format!("node {node} not found"));
                }
            }
            Step::EvictSome(node) => {
                let Some(i) = self.nodes.iter().position(|n| n.name == node) else {
                    return self.fail(run, format!("node {node} not found"));
                };
                let stay = self.staying_pods(&self.nodes[i]);
                let movable = self.nodes[i].pods.saturating_sub(stay);
                if movable == 0 {
                    emit(self, format!("{node}: only DaemonSet and static pods remain ({stay})"), true);
                    run.queue.push_front((now, Step::Finish(format!("{node} drained"))));
                    return;
                }
                let batch = movable.min(4);
                self.nodes[i].pods -= batch;
                let targets: Vec<usize> = (0..self.nodes.len())
                    .filter(|&j| j != i && !self.nodes[j].control_plane && !self.nodes[j].unschedulable && self.nodes[j].ready)
                    .collect();
                for k in 0..batch as usize {
                    if let Some(&t) = targets.get(k % targets.len().max(1)) {
                        self.nodes[t].pods += 1;
                    }
                }
                emit(self, format!("{node}: evicted {batch} pod(s), {} left to move", movable - batch), true);
                run.queue.push_front((now + Duration::milliseconds(400), Step::EvictSome(node)));
            }
            Step::Demote(lb) => {
                if let Some(l) = self.lbs.iter_mut().find(|l| l.name == lb) {
                    l.demoted = true;
                    emit(self, format!("{lb}: keepalived demoted (track_file weight -100)"), true);
                }
            }
            Step::StopKeepalived(lb) => {
                if let Some(l) = self.lbs.iter_mut().find(|l| l.name == lb) {
                    l.keepalived = Proc::Stopped;
                    emit(self, format!("{lb}: keepalived stopped"), true);
                }
            }
            Step::Restore(lb) => {
                if let Some(l) = self.lbs.iter_mut().find(|l| l.name == lb) {
                    l.demoted = false;
                    let started = l.keepalived == Proc::Stopped;
                    if started {
                        l.keepalived = Proc::Running;
                    }
                    let prio = l.priority;
                    if started {
                        emit(self, format!("{lb}: keepalived started"), true);
                    }
                    emit(self, format!("{lb}: priority restored to {prio}"), true);
                }
                // as on a real host: with the highest priority it takes the VIP back, and the
                // operation is done when it has (not when the priority is written)
                let takes_back = self.lbs.iter().find(|l| l.name == lb).is_some_and(|me| {
                    !me.holds_vip
                        && self
                            .lbs
                            .iter()
                            .filter(|o| o.name != lb && o.keepalived == Proc::Running)
                            .all(|o| o.effective_priority() < me.effective_priority())
                });
                if takes_back {
                    let deadline = now + Duration::seconds(15);
                    run.queue.push_front((now, Step::WaitVipOn { lb: lb.clone(), started: now, deadline }));
                } else {
                    run.queue.push_front((now, Step::Finish(format!("{lb} restored"))));
                }
            }
            Step::WaitVipOn { lb, started, deadline } => {
                let on = self.lbs.iter().filter(|l| l.holds_vip).map(|l| l.name.clone()).collect::<Vec<_>>();
                if on == vec![lb.clone()] {
                    let took = (now - started).num_milliseconds();
                    emit(self, format!("VIP on {lb} after {:.1}s", took as f64 / 1000.0), true);
                    let gap = if self.lbs.iter().any(|l| l.keepalived == Proc::Stopped) { 0.5 } else { 0.0 };
                    emit(self, "apiserver answers through the VIP".into(), true);
                    run.queue.push_front((now, Step::Finish(format!("VIP on {lb}; clients could not connect for {gap:.1}s"))));
                } else if now > deadline {
                    self.fail(run, format!("VIP not on {lb} within the deadline (on: {})", on.join(",")));
                } else {
                    run.queue.push_front((now + Duration::milliseconds(200), Step::WaitVipOn { lb, started, deadline }));
                }
            }
            Step::RenewOn(idx) => {
                let name = self.masters[idx].name.clone();
                if !self.masters[idx].host_up {
                    return self.fail(
                        run,
                        format!("{name}: unreachable; renewal stopped here. Masters before it are renewed, the rest untouched."),
                    );
                }
                for c in &mut self.masters[idx].certs {
                    if !c.is_ca {
                        c.not_after = now + Duration::days(365);
                    }
                }
                self.masters[idx].restarting_until = Some(now + Duration::milliseconds(2_500));
                emit(self, format!("{name}: PKI backed up to /etc/kubernetes/pki.bak-{}", now.format("%Y%m%d%H%M%S")), true);
                emit(self, format!("{name}: kubeadm certs renew all; restarting control-plane"), true);
                run.queue.push_front((
                    now + Duration::milliseconds(500),
                    Step::WaitMasterHealthy { idx, deadline: now + Duration::seconds(60) },
                ));
            }
            Step::WaitMasterHealthy { idx, deadline } => {
                let all_up = (0..self.lbs.len()).all(|l| self.tracks[&(l, idx)].status == ServerStatus::Up);
                let m = &self.masters[idx];
                if m.serving(now) && all_up {
                    let name = m.name.clone();
                    self.masters[idx].serving_not_after = now + Duration::days(365);
                    emit(self, format!("{name}: apiserver, etcd and haproxy backends healthy; serving the new certificate"), true);
                } else if now > deadline {
                    let name = m.name.clone();
                    self.fail(
                        run,
                        format!("{name}: not healthy after renewal; restore with cp -a /etc/kubernetes/pki.bak-* /etc/kubernetes/pki"),
                    );
                } else {
                    run.queue.push_front((now + Duration::milliseconds(250), Step::WaitMasterHealthy { idx, deadline }));
                }
            }
            Step::Noout(on) => {
                self.noout = on;
                emit(self, format!("ceph osd {} noout", if on { "set" } else { "unset" }), true);
            }
            Step::MoveLeader(to) => {
                let target = self.masters.iter().position(|m| m.name == to && m.host_up && m.etcd_up);
                match (target, self.etcd_leader) {
                    (None, _) => self.fail(run, format!("{to} is not a healthy etcd member: refused, nothing changed")),
                    (_, None) => self.fail(run, "etcd has no leader: nothing to hand over".into()),
                    (Some(t), Some(l)) if t == l => self.fail(run, format!("{to} is the leader already")),
                    (Some(t), Some(l)) => {
                        let from = self.masters[l].name.clone();
                        self.etcd_leader = Some(t);
                        self.etcd_term += 1;
                        emit(self, format!("{from} handed etcd's leadership to {to} (term {})", self.etcd_term), true);
                        let summary = format!("{to} leads etcd (term {}, was {from})", self.etcd_term);
                        run.queue.push_front((now + Duration::milliseconds(200), Step::Finish(summary)));
                    }
                }
            }
            Step::ServerState(server, admin) => {
                let Some(mi) = self.masters.iter().position(|m| m.name == server) else {
                    return self.fail(run, format!("no haproxy server {server} on any LB: refused, nothing changed"));
                };
                let word = match admin {
                    Some(ServerStatus::Maint) => "maint",
                    Some(_) => "drain",
                    None => "ready",
                };
                for l in 0..self.lbs.len() {
                    if let Some(t) = self.tracks.get_mut(&(l, mi)) {
                        t.admin = admin;
                        t.last_change = now;
                    }
                    let lb = self.lbs[l].name.clone();
                    emit(self, format!("{lb}: set server kube-apiserver/{server} state {word}"), true);
                    self.log(now, &lb, "haproxy", format!("haproxy[1123]: Server kube-apiserver/{server} is going {word} by the CLI."));
                }
                let lbs: Vec<String> = self.lbs.iter().map(|l| l.name.clone()).collect();
                match admin {
                    Some(ServerStatus::Drain) => run.queue.push_front((now + Duration::milliseconds(500), Step::WaitSessions(server))),
                    Some(_) => run.queue.push_front((
                        now + Duration::milliseconds(200),
                        Step::Finish(format!("{server} in MAINT on {}: it takes no apiserver traffic through haproxy", lbs.join(", "))),
                    )),
                    None => run
                        .queue
                        .push_front((now + Duration::milliseconds(300), Step::Finish(format!("{server} ready on {}", lbs.join(", "))))),
                }
            }
            Step::WaitSessions(server) => {
                emit(self, format!("{server}: 0 sessions left on every LB"), true);
                run.queue.push_front((now, Step::ServerState(server, Some(ServerStatus::Maint))));
            }
            Step::Defrag(name) => {
                let v = self.etcd_view();
                let Some(i) = self.masters.iter().position(|m| m.name == name) else {
                    return self.fail(run, format!("{name} is not an etcd member"));
                };
                let Some(before) = v.members.iter().find(|m| m.name == name && m.reachable).map(|m| m.db_size) else {
                    return self.fail(run, format!("aborted before {name}: it does not answer"));
                };
                if v.leader().is_none() {
                    return self.fail(run, format!("aborted before {name}: etcd has no leader"));
                }
                self.masters[i].etcd_free_pct = 0;
                let after = self.etcd_view().members.iter().find(|m| m.name == name).map(|m| m.db_size).unwrap_or(0);
                let (b, a) = (crate::ops::etcd_plan::mb(before), crate::ops::etcd_plan::mb(after));
                emit(self, format!("{name}: defragmented in 0.4 s: {b} -> {a}"), true);
                self.made.push(Payload::EtcdDefragged { member: name });
            }
            Step::Disarm => {
                self.etcd_nospace = false;
                emit(self, "NOSPACE disarmed (etcd's Alarm DEACTIVATE)".into(), true);
            }
            Step::Finish(summary) => {
                // a maintenance's part: said, and the next part goes on
                if let Some((done, total)) = run.parts.as_mut()
                    && *done + 1 < *total
                {
                    *done += 1;
                    let text = format!("[{done}/{total}] verified: {summary}");
                    emit(self, text, true);
                    return;
                }
                let summary = match run.parts {
                    Some((_, total)) => format!("all {total} part(s) done and verified; the last: {summary}"),
                    None => summary,
                };
                run.queue.clear();
                self.finished.push(OpEvent::Finished { id, ok: true, summary });
            }
        }
    }

    /// What an acting step is about to do, and what it leaves should the process die right after.
    fn intent_of(&self, step: &Step) -> Option<(String, String)> {
        Some(match step {
            Step::Cordon(node, true) => (format!("cordon {node}"), format!("{node} may be cordoned")),
            Step::Cordon(node, false) => (format!("uncordon {node}"), format!("{node} may be uncordoned")),
            Step::EvictSome(node) => (format!("evict pods from {node}"), format!("{node} cordoned; some of its pods may be evicted")),
            Step::Demote(lb) => (format!("demote {lb}"), format!("{lb}: demoted; restore its priority to undo")),
            Step::StopKeepalived(lb) => (format!("{lb}: stop keepalived"), format!("{lb}: keepalived may be stopped")),
            Step::Restore(lb) => (format!("{lb}: restore keepalived's priority"), format!("{lb}: its priority may be restored")),
            Step::RenewOn(i) => {
                let m = self.masters.get(*i).map(|m| m.name.clone()).unwrap_or_default();
                (
                    format!("{m}: renew certificates and restart the control plane"),
                    format!("{m}: certificates may be renewed and restarting"),
                )
            }
            Step::Noout(on) => {
                let verb = if *on { "set" } else { "unset" };
                (format!("ceph osd {verb} noout"), format!("Ceph's noout flag may be {verb}"))
            }
            Step::MoveLeader(to) => (format!("move etcd's leadership to {to}"), format!("etcd's leadership may have moved to {to}")),
            Step::ServerState(server, admin) => {
                let word = match admin {
                    Some(ServerStatus::Maint) => "maint",
                    Some(_) => "drain",
                    None => "ready",
                };
                (
                    format!("set server kube-apiserver/{server} state {word} on every LB"),
                    format!("{server} may be in state {word} on some LBs; make it ready to undo"),
                )
            }
            Step::Defrag(name) => {
                (format!("defragment {name}'s etcd member"), format!("{name}'s member may be mid-defrag (it blocks until done)"))
            }
            Step::Disarm => ("disarm etcd's NOSPACE alarm".into(), "the NOSPACE alarm may be disarmed".into()),
            Step::Say(_) | Step::WaitSessions(_) | Step::WaitVipOn { .. } | Step::WaitMasterHealthy { .. } | Step::Finish(_) => {
                return None;
            }
        })
    }

    pub(super) fn fail(&mut self, run: &mut Run, why: String) {
        run.queue.clear();
        self.finished.push(OpEvent::Step { id: run.id, text: why.clone(), ok: false });
        self.finished.push(OpEvent::Finished { id: run.id, ok: false, summary: why });
    }

    /// The steps of one operation, or None when it was refused at once (its end already reported).
    fn queue_for(&mut self, id: u64, req: &OpRequest, now: DateTime<Utc>) -> Option<VecDeque<(DateTime<Utc>, Step)>> {
        let mut q: VecDeque<(DateTime<Utc>, Step)> = VecDeque::new();
        let at = |ms: i64| now + Duration::milliseconds(ms);
        match req {
            OpRequest::Cordon { node } => {
                q.push_back((now, Step::Cordon(node.clone(), true)));
                q.push_back((at(300), Step::Finish(format!("{node} cordoned"))));
            }
            OpRequest::Uncordon { node } => {
                q.push_back((now, Step::Cordon(node.clone(), false)));
                q.push_back((at(300), Step::Finish(format!("{node} uncordoned"))));
            }
            OpRequest::Drain { node, .. } => {
                q.push_back((now, Step::Cordon(node.clone(), true)));
                q.push_back((at(300), Step::EvictSome(node.clone())));
            }
            OpRequest::VipFailover { to, mode } => {
                let owner = self.owner().map(|i| self.lbs[i].name.clone()).unwrap_or_default();
                match mode {
                    FailoverMode::Graceful => q.push_back((now, Step::Demote(owner))),
                    FailoverMode::Emergency => q.push_back((now, Step::StopKeepalived(owner))),
                }
                q.push_back((at(100), Step::WaitVipOn { lb: to.clone(), started: now, deadline: at(15_000) }));
            }
            OpRequest::RestoreVipPriority { lb } => q.push_back((now, Step::Restore(lb.clone()))),
            OpRequest::RenewCerts { masters } => {
                for (k, name) in masters.iter().enumerate() {
                    if let Some(idx) = self.masters.iter().position(|m| &m.name == name) {
                        q.push_back((at(k as i64), Step::RenewOn(idx)));
                    } else {
                        q.push_back((at(k as i64), Step::Say(format!("{name}: not a master, skipped"))));
                    }
                }
                q.push_back((now, Step::Finish(format!("certificates renewed on {}", masters.join(", ")))));
            }
            OpRequest::EtcdMoveLeader { to } => q.push_back((at(100), Step::MoveLeader(to.clone()))),
            OpRequest::Maintenance { .. } => {
                let why = "internal: a maintenance's parts are queued one by one".to_string();
                self.finished.push(OpEvent::Finished { id, ok: false, summary: why });
                return None;
            }
            OpRequest::EtcdSnapshot { to } => {
                // the demo has no etcd data: it says what it would have written, and writes nothing;
                // it refuses what the live snapshot refuses
                use crate::ops::etcd_plan::SnapshotDest;
                let v = self.etcd_view();
                let refusal = match (SnapshotDest::parse(to, &self.plan), v.leader()) {
                    (_, None) => Some("refused: etcd has no leader: a snapshot is taken from a healthy cluster's leader".to_string()),
                    (Err(why), _) => Some(format!("refused: {why}")),
                    (Ok(SnapshotDest::Local(p)), _) if p.exists() => {
                        Some(format!("refused: {} exists; kockpit does not overwrite a snapshot", p.display()))
                    }
                    (Ok(SnapshotDest::Local(p)), _) => {
                        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                        (!dir.is_dir()).then(|| format!("refused: no directory {} for the snapshot", dir.display()))
                    }
                    (Ok(SnapshotDest::Host { name, .. }), _) if self.masters.iter().any(|m| m.name == name && !m.host_up) => {
                        Some(format!("refused: {name}: ssh: connect to {name}:22: connection timed out"))
                    }
                    _ => None,
                };
                let (Some(l), None) = (v.leader(), refusal.clone()) else {
                    let why = refusal.unwrap_or_default();
                    self.finished.push(OpEvent::Step { id, text: why.clone(), ok: false });
                    self.finished.push(OpEvent::Finished { id, ok: false, summary: why });
                    return None;
                };
                self.made.push(Payload::EtcdSnapshotTaken { place: format!("{to} (demo: no file)") });
                let (name, size) = (l.name.clone(), crate::ops::etcd_plan::mb(l.db_size_in_use));
                q.push_back((at(300), Step::Say(format!("{size} streamed from {name}; etcd's SHA-256 verified (simulated)"))));
                let summary = format!(
                    "snapshot {to}: revision {}, {size}, from {name} (the leader); simulated: the demo writes no file",
                    self.etcd_index
                );
                q.push_back((at(400), Step::Finish(summary)));
            }
            OpRequest::EtcdDisarm => {
                let c = crate::ops::etcd_plan::disarm_checks(&self.etcd_view());
                if let Some(b) = c.blockers.first() {
                    let why = format!("refused, nothing changed: {b}");
                    self.finished.push(OpEvent::Step { id, text: why.clone(), ok: false });
                    self.finished.push(OpEvent::Finished { id, ok: false, summary: why });
                    return None;
                }
                q.push_back((at(100), Step::Disarm));
                q.push_back((at(300), Step::Finish("NOSPACE disarmed, verified: no alarm is raised".into())));
            }
            OpRequest::EtcdDefrag => {
                let c = crate::ops::etcd_plan::defrag_checks(&self.etcd_view());
                if let Some(b) = c.blockers.first() {
                    let why = format!("refused, nothing changed: {b}");
                    self.finished.push(OpEvent::Step { id, text: why.clone(), ok: false });
                    self.finished.push(OpEvent::Finished { id, ok: false, summary: why });
                    return None;
                } else {
                    for (k, name) in c.order.iter().enumerate() {
                        let pause = crate::ops::etcd_plan::DEFRAG_PAUSE_SECS as i64 * 1000;
                        q.push_back((at(100 + k as i64 * pause), Step::Defrag(name.clone())));
                    }
                    let leader = c.order.last().cloned().unwrap_or_default();
                    q.push_back((now, Step::Finish(format!("defragmented {} ({leader}, the leader, last)", c.order.join(", ")))));
                }
            }
            OpRequest::HaproxyServer { server, admin } => {
                let state = match admin {
                    ServerAdmin::Drain => Some(ServerStatus::Drain),
                    ServerAdmin::Ready => None,
                };
                q.push_back((at(100), Step::ServerState(server.clone(), state)));
            }
            OpRequest::SetNoout { on } => {
                q.push_back((now, Step::Noout(*on)));
                q.push_back((at(200), Step::Finish(format!("noout {}", if *on { "set" } else { "unset" }))));
            }
        }
        Some(q)
    }

    /// Start executing an operation. Progress comes out of [`SimCluster::drain_op_events`]. A
    /// maintenance runs its parts one after the other, each one's end a step of the whole.
    pub fn execute(&mut self, id: u64, req: &OpRequest, cap: &crate::ops::WriteCap, now: DateTime<Utc>) {
        let (q, parts) = match req {
            OpRequest::Maintenance { parts, .. } if !parts.is_empty() => {
                let mut all = VecDeque::new();
                for (k, part) in parts.iter().enumerate() {
                    all.push_back((now, Step::Say(format!("[{}/{}] {}", k + 1, parts.len(), part.title()))));
                    let Some(q) = self.queue_for(id, part, now) else { return };
                    all.extend(q);
                }
                (all, Some((0, parts.len())))
            }
            _ => match self.queue_for(id, req, now) {
                Some(q) => (q, None),
                None => return,
            },
        };
        // Steps that wait re-queue themselves at the front, so the queue must run strictly in order.
        let mut ordered = VecDeque::new();
        let mut last = now;
        for (due, s) in q {
            last = last.max(due);
            ordered.push_back((last, s));
        }
        self.runs.push(Run { id, queue: ordered, cap: std::sync::Arc::new(cap.share()), parts });
    }

    /// What an operation would do, without doing it (a drain: which pods of the node move, which
    /// stay: its DaemonSet pods and static (mirror) pods), from the node's pods by name.
    pub fn dry_run(&self, req: &OpRequest) -> Result<crate::ops::DryRun, String> {
        let OpRequest::Drain { node, .. } = req else { return Err(format!("no dry run of {}", req.title())) };
        let x = self.node_extra(node)?;
        let stays = |p: &crate::model::NodePod| matches!(p.owner.as_deref(), Some("DaemonSet" | "mirror"));
        let (skip, evict): (Vec<_>, Vec<_>) = x.pods.iter().partition(|p| stays(p));
        let mut lines = vec![format!("{node}: {} pod(s) to evict, 0 blocked, {} skipped", evict.len(), skip.len())];
        for p in &skip {
            let why = if p.owner.as_deref() == Some("mirror") {
                "mirror pod (static, managed by the kubelet)"
            } else {
                "DaemonSet pod (ignores the cordon; stays)"
            };
            lines.push(format!("skip     {}/{}: {why}", p.namespace, p.name));
        }
        for p in &evict {
            lines.push(format!("evict    {}/{}", p.namespace, p.name));
        }
        Ok(crate::ops::DryRun { lines, refused: vec![], moves: evict.len(), skipped: skip.len() })
    }

    /// Stop a running operation where it is. A drain leaves its node cordoned: nothing is half-done
    /// because each eviction is a whole step.
    pub fn cancel(&mut self, id: u64) {
        if let Some(i) = self.runs.iter().position(|r| r.id == id) {
            let run = self.runs.remove(i);
            let left = run.queue.iter().filter(|(_, s)| !matches!(s, Step::Finish(_))).count();
            let lbs: Vec<&str> = self.lbs.iter().map(|l| l.name.as_str()).collect();
            // what the stop leaves, as the live executors say it
            let state = run.queue.iter().find_map(|(_, s)| match s {
                Step::WaitSessions(server) => Some(format!(
                    "CANCELLED by the operator while its sessions drained: {server} stays DRAIN on {} (no new connection goes \
                     to it; the open ones go on); drain it again to finish, or make it ready to undo",
                    lbs.join(", ")
                )),
                Step::ServerState(server, Some(ServerStatus::Drain)) => {
                    Some(format!("cancelled by the operator before {server} was changed on any LB"))
                }
                Step::EvictSome(node) => {
                    Some(format!("cancelled by the operator: {node} stays cordoned; the pods not yet evicted stay on it"))
                }
                _ => None,
            });
            let summary = state.unwrap_or_else(|| format!("cancelled by the operator ({left} step(s) not run)"));
            self.finished.push(OpEvent::Finished { id, ok: false, summary });
        }
    }

    /// Operation progress produced since the last call.
    pub fn drain_op_events(&mut self) -> Vec<OpEvent> {
        std::mem::take(&mut self.finished)
    }

    /// Apply a drill's host action to the simulated hosts.
    pub fn host_action(&mut self, a: &crate::ops::HostAction, _cap: &crate::ops::WriteCap, now: DateTime<Utc>) -> Result<String, String> {
        use crate::ops::HostAction as H;
        let _ = now;
        let lb = |s: &mut SimCluster, h: &str| s.lbs.iter().position(|l| l.name == h);
        let master = |s: &SimCluster, h: &str| s.masters.iter().position(|m| m.name == h);
        match a {
            H::EtcdWrites { on } => {
                self.etcd_writes = *on;
                Ok(a.describe())
            }
            H::VipClients { on } => {
                self.vip_clients = *on;
                Ok(a.describe())
            }
            H::Silence { .. } => Err("no Alertmanager is configured for this cluster (alertmanager_url in config.toml)".into()),
            H::Stop { host, service, signal } => {
                let stop = signal != "CONT";
                match (service.as_str(), lb(self, host), master(self, host)) {
                    ("keepalived", Some(i), _) => {
                        self.lbs[i].keepalived = match signal.as_str() {
                            "STOP" => Proc::Frozen,
                            "CONT" => Proc::Running,
                            _ => Proc::Stopped,
                        };
                    }
                    ("haproxy", Some(i), _) => self.lbs[i].haproxy_up = !stop,
                    ("apiserver", _, Some(i)) => self.masters[i].apiserver_up = !stop,
                    ("etcd", _, Some(i)) => self.masters[i].etcd_up = !stop,
                    ("ceph-osd", _, _) => {
                        let mut any = false;
                        for o in self.osds.iter_mut().filter(|o| &o.host == host) {
                            o.up = !stop;
                            any = true;
                        }
                        if !any {
                            return Err(format!("{host} carries no OSD"));
                        }
                    }
                    _ => return Err(format!("{host} runs no {service} in the simulated cluster")),
                }
                Ok(a.describe())
            }
            H::Start { host, service } => {
                match (service.as_str(), lb(self, host), master(self, host)) {
                    ("keepalived", Some(i), _) => self.lbs[i].keepalived = Proc::Running,
                    ("haproxy", Some(i), _) => self.lbs[i].haproxy_up = true,
                    ("apiserver", _, Some(i)) => self.masters[i].apiserver_up = true,
                    ("etcd", _, Some(i)) => self.masters[i].etcd_up = true,
                    ("ceph-osd", _, _) => self.osds.iter_mut().filter(|o| &o.host == host).for_each(|o| o.up = true),
                    _ => return Err(format!("{host} runs no {service} in the simulated cluster")),
                }
                Ok(a.describe())
            }
            H::Cut { host } | H::Heal { host } => {
                let up = matches!(a, H::Heal { .. });
                if let Some(i) = master(self, host) {
                    self.masters[i].host_up = up;
                } else if let Some(i) = lb(self, host) {
                    self.lbs[i].keepalived = if up { Proc::Running } else { Proc::Stopped };
                    self.lbs[i].haproxy_up = up;
                } else {
                    return Err(format!("cutting {host} is not simulated"));
                }
                Ok(a.describe())
            }
        }
    }
}
