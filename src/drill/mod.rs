//! Runbook drills: a TOML file of steps, each an optional action (a fault on a host, or an operation)
//! and expectations with deadlines ("VIP on the peer within 5 s"). [`DrillRun`] is a pure state
//! machine: the TUI and the headless runner feed it the model and the clock, it says what to execute
//! and measures how long every expectation took against its deadline.

pub mod driver;
pub mod file;
pub mod report;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::model::{Model, Payload, ServerStatus, VrrpState};
use crate::ops::OpRequest;
pub use file::{Action, Check, DrillFile, Expect, Known, StepSpec};

pub use crate::ops::HostAction;

/// What the runner wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Apply a host action; report the outcome with [`DrillRun::action_done`].
    Host { id: u64, action: HostAction },
    /// Execute an operation (needs the write capability); report with [`DrillRun::action_done`].
    Operation { id: u64, request: OpRequest },
    /// A line of progress for the operator.
    Say(String),
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExpectResult {
    pub text: String,
    pub deadline_ms: i64,
    /// When it was first met, relative to the step's start.
    pub met_after_ms: Option<i64>,
    pub ok: bool,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepResult {
    pub name: String,
    pub action: Option<String>,
    pub action_ok: Option<bool>,
    pub action_detail: Option<String>,
    pub expectations: Vec<ExpectResult>,
    pub started_at: DateTime<Utc>,
    pub ok: bool,
    pub restore: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Running,
    Passed,
    Failed,
}

/// Symbols resolved at the start of the drill: `vip-owner`, `vip-peer`, `etcd-leader`, `etcd-follower`.
pub fn resolve_symbols(m: &Model) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    let holders = m.vip_holders();
    if let Some(o) = holders.first() {
        s.insert("vip-owner".into(), o.clone());
    }
    if let Some(p) = m.vrrp.iter().find(|(lb, v)| !holders.contains(lb) && v.data.as_ref().is_some_and(|d| d.state == VrrpState::Backup)) {
        s.insert("vip-peer".into(), p.0.clone());
    }
    if let Some(e) = &m.etcd.data {
        if let Some(l) = e.leader() {
            s.insert("etcd-leader".into(), l.name.clone());
        }
        if let Some(f) = e.members.iter().find(|x| x.reachable && !x.is_leader) {
            s.insert("etcd-follower".into(), f.name.clone());
        }
    }
    if let Some(w) = m.plan.workers().next() {
        s.insert("first-worker".into(), w.name.clone());
    }
    s
}

struct Active {
    index: usize,
    started: DateTime<Utc>,
    action_id: Option<u64>,
    action_sent: bool,
    action_done: Option<(bool, String)>,
    /// Failed client requests seen during the step (VIP probe failures).
    client_failures: u32,
    /// The drill's VIP client's connects during the step (failed ones count in `client_failures`).
    vip_connects: u32,
    /// The drill's etcd client's writes during the step: done, failed.
    etcd_writes: (u32, u32),
    /// The etcd members a defrag went through during the step, in order.
    defragged: Vec<String>,
    /// The member that led etcd when the step started.
    leader_at_start: Option<String>,
    met: Vec<Option<i64>>,
    failed_early: Option<String>,
}

pub struct DrillRun {
    pub file: DrillFile,
    pub symbols: BTreeMap<String, String>,
    pub started_at: DateTime<Utc>,
    pub results: Vec<StepResult>,
    pub phase: Phase,
    active: Option<Active>,
    next_id: u64,
    /// Host actions applied and not yet undone, to restore on failure.
    undo: Vec<HostAction>,
    restoring: bool,
    start_leader: Option<String>,
    start_owner: Option<String>,
}

impl DrillRun {
    pub fn new(file: DrillFile, m: &Model, now: DateTime<Utc>) -> DrillRun {
        let symbols = resolve_symbols(m);
        DrillRun {
            start_leader: symbols.get("etcd-leader").cloned(),
            start_owner: symbols.get("vip-owner").cloned(),
            file,
            symbols,
            started_at: now,
            results: vec![],
            phase: Phase::Running,
            active: None,
            next_id: 1,
            undo: vec![],
            restoring: false,
        }
    }

    fn sym(&self, s: &str) -> String {
        self.symbols.get(s).cloned().unwrap_or_else(|| s.to_string())
    }

    /// Count failed client requests while a step runs (call with every observation).
    pub fn observe(&mut self, payload: &Payload) {
        let Some(a) = &mut self.active else { return };
        match payload {
            Payload::VipProbe(Err(_)) => a.client_failures += 1,
            Payload::VipClient(Ok(_)) => a.vip_connects += 1,
            Payload::VipClient(Err(_)) => {
                a.vip_connects += 1;
                a.client_failures += 1;
            }
            Payload::EtcdWrite(Ok(_)) => a.etcd_writes.0 += 1,
            Payload::EtcdWrite(Err(_)) => a.etcd_writes.1 += 1,
            Payload::EtcdDefragged { member } => a.defragged.push(member.clone()),
            _ => {}
        }
    }

    /// The outcome of an action this run asked for.
    pub fn action_done(&mut self, id: u64, ok: bool, detail: String) {
        if let Some(a) = &mut self.active
            && a.action_id == Some(id)
        {
            a.action_done = Some((ok, detail));
        }
    }

    /// Advance: returns what to do now. Call on every model change and clock tick.
    pub fn poll(&mut self, m: &Model, now: DateTime<Utc>) -> Vec<Effect> {
        let mut out = vec![];
        if self.phase != Phase::Running {
            return out;
        }
        loop {
            if self.active.is_none() {
                let next = self.results.len();
                let Some(spec) = self.file.steps.get(next) else {
                    self.finish(&mut out);
                    return out;
                };
                if self.restoring && !spec.restore {
                    // After a failure only restore steps run.
                    self.results.push(StepResult {
                        name: spec.name.clone(),
                        action: None,
                        action_ok: None,
                        action_detail: Some("skipped after an earlier failure".into()),
                        expectations: vec![],
                        started_at: now,
                        ok: false,
                        restore: false,
                    });
                    continue;
                }
                out.push(Effect::Say(format!("step {}: {}", next + 1, spec.name)));
                // a symbol nobody could name at the start (its host's first look failed) is named now,
                // before the step that needs it acts
                for (k, v) in resolve_symbols(m) {
                    self.symbols.entry(k).or_insert(v);
                }
                if self.start_owner.is_none() {
                    self.start_owner = self.symbols.get("vip-owner").cloned();
                }
                if self.start_leader.is_none() {
                    self.start_leader = self.symbols.get("etcd-leader").cloned();
                }
                self.active = Some(Active {
                    index: next,
                    started: now,
                    action_id: None,
                    action_sent: false,
                    action_done: None,
                    client_failures: 0,
                    vip_connects: 0,
                    etcd_writes: (0, 0),
                    defragged: vec![],
                    leader_at_start: m.etcd.data.as_ref().and_then(|e| e.leader()).map(|l| l.name.clone()),
                    met: vec![None; spec.expect.len()],
                    failed_early: None,
                });
            }
            let idx = self.active.as_ref().map(|a| a.index).unwrap_or(0);
            let spec = self.file.steps[idx].clone();
            // Send the action once.
            if !self.active.as_ref().is_some_and(|a| a.action_sent) {
                let id = self.next_id;
                self.next_id += 1;
                let a = self.active.as_mut().expect("active");
                a.action_sent = true;
                match &spec.action {
                    None => a.action_done = Some((true, String::new())),
                    Some(Action::Wait { .. }) => a.action_done = Some((true, String::new())),
                    Some(act) => {
                        a.action_id = Some(id);
                        match self.effect_for(act, id) {
                            Ok(e) => {
                                if let Effect::Host { action, .. } = &e {
                                    if let Some(u) = action.undo() {
                                        // one undo for an action asked twice (a client started twice is stopped once)
                                        if !self.undo.contains(&u) {
                                            self.undo.push(u);
                                        }
                                    }
                                    if matches!(
                                        action,
                                        HostAction::Start { .. }
                                            | HostAction::Heal { .. }
                                            | HostAction::EtcdWrites { on: false }
                                            | HostAction::VipClients { on: false }
                                            | HostAction::Silence { on: false, .. }
                                    ) {
                                        self.undo.retain(|x| x != action);
                                    }
                                }
                                out.push(e);
                            }
                            Err(why) => {
                                let a = self.active.as_mut().expect("active");
                                a.action_done = Some((false, why));
                            }
                        }
                    }
                }
            }
            let a = self.active.as_mut().expect("active");
            let elapsed = (now - a.started).num_milliseconds();
            if let Some(Action::Wait { secs }) = &spec.action
                && elapsed < (*secs * 1000.0) as i64
            {
                return out;
            }
            let Some((action_ok, _)) = a.action_done.clone() else {
                // Deadlines run from the step's start; give up waiting for an action at the longest one.
                let longest = spec.expect.iter().map(|e| e.within_ms()).max().unwrap_or(30_000).max(30_000);
                if elapsed > longest {
                    a.action_done = Some((false, "the action did not report back".into()));
                }
                return out;
            };
            if !action_ok {
                a.failed_early = Some("action failed".into());
            }
            let steady_failures = a.client_failures + a.etcd_writes.1;
            let mut all_met = true;
            let mut any_late = false;
            for (i, e) in spec.expect.iter().enumerate() {
                let a = self.active.as_mut().expect("active");
                if a.met[i].is_none() {
                    let holds = match &e.check {
                        c if c.is_steady() => None,
                        c => Some(self.check(c, m)),
                    };
                    let a = self.active.as_mut().expect("active");
                    match holds {
                        Some(true) => a.met[i] = Some(elapsed),
                        Some(false) => {
                            all_met = false;
                            if elapsed > e.within_ms() {
                                any_late = true;
                            }
                        }
                        None => {}
                    }
                }
            }
            let a = self.active.as_ref().expect("active");
            // "No failed client request" holds over the whole step: judged when the rest is done.
            let steady_ms = spec.expect.iter().filter(|e| e.check.is_steady()).map(|e| e.within_ms()).max();
            let steady_pending = steady_ms.is_some_and(|w| elapsed < w);
            if a.failed_early.is_none() && !any_late && (!all_met || (steady_pending && steady_failures == 0)) {
                return out;
            }
            // The step is over: record it.
            let a = self.active.take().expect("active");
            let mut exps = vec![];
            let mut ok = a.failed_early.is_none();
            for (i, e) in spec.expect.iter().enumerate() {
                let (met, good, detail) = match e.check {
                    Check::NoFailedClientRequests => {
                        let good = a.client_failures == 0;
                        let detail = if a.vip_connects > 0 {
                            format!("{} client connect(s) through the VIP, {} failed client request(s)", a.vip_connects, a.client_failures)
                        } else {
                            format!("{} failed client request(s)", a.client_failures)
                        };
                        (if good { Some(elapsed) } else { None }, good, Some(detail))
                    }
                    Check::NoFailedEtcdWrites => {
                        let (done, failed) = a.etcd_writes;
                        let good = failed == 0 && done > 0;
                        let detail = if done + failed == 0 {
                            "no etcd write seen: is the drill's etcd client started (etcd_writes)?".to_string()
                        } else {
                            format!("{done} etcd write(s), {failed} failed")
                        };
                        (if good { Some(elapsed) } else { None }, good, Some(detail))
                    }
                    Check::EtcdDefragLeaderLast => {
                        let good = a.met[i].is_some_and(|t| t <= e.within_ms());
                        let detail = format!(
                            "defragmented in order: {}; the leader was {}",
                            if a.defragged.is_empty() { "none".to_string() } else { a.defragged.join(", ") },
                            a.leader_at_start.as_deref().unwrap_or("unknown")
                        );
                        (a.met[i], good, Some(detail))
                    }
                    _ => {
                        let good = a.met[i].is_some_and(|t| t <= e.within_ms());
                        (a.met[i], good, None)
                    }
                };
                ok &= good;
                exps.push(ExpectResult {
                    text: self.describe(&e.check, e.within_ms()),
                    deadline_ms: e.within_ms(),
                    met_after_ms: met,
                    ok: good,
                    detail,
                });
            }
            let (action_ok, action_detail) =
                a.action_done.clone().map(|(o, d)| (Some(o), Some(d).filter(|d| !d.is_empty()))).unwrap_or((None, None));
            let action_text = spec.action.as_ref().map(|x| self.describe_action(x));
            out.push(Effect::Say(format!("step {} {}: {}", a.index + 1, if ok { "passed" } else { "FAILED" }, spec.name)));
            self.results.push(StepResult {
                name: spec.name.clone(),
                action: action_text,
                action_ok,
                action_detail,
                expectations: exps,
                started_at: a.started,
                ok,
                restore: spec.restore,
            });
            if !ok && !self.restoring {
                self.restoring = true;
                // Undo what the drill broke, then run the restore steps that follow.
                self.undo_all("restoring", &mut out);
            }
        }
    }

    /// Stop now (a signal, the operator backing out): the active step is failed as interrupted, the
    /// steps after it (restore steps among them) are not run, what the drill broke is undone, and the
    /// run ends failed.
    pub fn abort(&mut self, why: &str, now: DateTime<Utc>) -> Vec<Effect> {
        let mut out = vec![];
        if self.phase != Phase::Running {
            return out;
        }
        if let Some(a) = self.active.take() {
            let spec = self.file.steps[a.index].clone();
            self.results.push(StepResult {
                name: spec.name.clone(),
                action: spec.action.as_ref().map(|x| self.describe_action(x)),
                action_ok: a.action_done.as_ref().map(|(ok, _)| *ok),
                action_detail: Some(format!("interrupted ({why})")),
                expectations: vec![],
                started_at: a.started,
                ok: false,
                restore: spec.restore,
            });
        }
        for spec in self.file.steps.iter().skip(self.results.len()) {
            self.results.push(StepResult {
                name: spec.name.clone(),
                action: None,
                action_ok: None,
                action_detail: Some(format!("not run: the drill was interrupted ({why})")),
                expectations: vec![],
                started_at: now,
                ok: false,
                restore: spec.restore,
            });
        }
        self.undo_all("restoring what the drill left broken", &mut out);
        self.phase = Phase::Failed;
        out.push(Effect::Say(format!("drill {}: INTERRUPTED ({why})", self.file.name)));
        out
    }

    /// Undo what the drill broke, newest first, each said as `WHAT: the undo`.
    fn undo_all(&mut self, what: &str, out: &mut Vec<Effect>) {
        for u in std::mem::take(&mut self.undo).into_iter().rev() {
            let id = self.next_id;
            self.next_id += 1;
            out.push(Effect::Say(format!("{what}: {}", u.describe())));
            out.push(Effect::Host { id, action: u });
        }
    }

    fn finish(&mut self, out: &mut Vec<Effect>) {
        self.undo_all("restoring what the drill left broken", out);
        self.phase = if self.results.iter().all(|r| r.ok) { Phase::Passed } else { Phase::Failed };
        out.push(Effect::Say(format!("drill {}: {}", self.file.name, if self.phase == Phase::Passed { "PASSED" } else { "FAILED" })));
    }

    fn effect_for(&self, a: &Action, id: u64) -> Result<Effect, String> {
        Ok(match a {
            Action::Stop { target, service, signal } => Effect::Host {
                id,
                action: HostAction::Stop {
                    host: self.sym(target),
                    service: service.clone(),
                    signal: signal.clone().unwrap_or_else(|| "TERM".into()),
                },
            },
            Action::Start { target, service } => {
                Effect::Host { id, action: HostAction::Start { host: self.sym(target), service: service.clone() } }
            }
            Action::Cut { target } => Effect::Host { id, action: HostAction::Cut { host: self.sym(target) } },
            Action::Heal { target } => Effect::Host { id, action: HostAction::Heal { host: self.sym(target) } },
            Action::VipFailover { to, emergency } => Effect::Operation {
                id,
                request: OpRequest::VipFailover {
                    to: self.sym(to),
                    mode: if *emergency { crate::ops::FailoverMode::Emergency } else { crate::ops::FailoverMode::Graceful },
                },
            },
            Action::RestoreVipPriority { target } => {
                Effect::Operation { id, request: OpRequest::RestoreVipPriority { lb: self.sym(target) } }
            }
            Action::Drain { node } => {
                Effect::Operation { id, request: OpRequest::Drain { node: self.sym(node), options: Default::default() } }
            }
            Action::Uncordon { node } => Effect::Operation { id, request: OpRequest::Uncordon { node: self.sym(node) } },
            Action::SetNoout { on } => Effect::Operation { id, request: OpRequest::SetNoout { on: *on } },
            Action::RenewCerts { masters } => {
                Effect::Operation { id, request: OpRequest::RenewCerts { masters: masters.iter().map(|m| self.sym(m)).collect() } }
            }
            Action::Maintenance { target } | Action::MaintenanceEnd { target } => Effect::Operation {
                id,
                request: OpRequest::Maintenance { host: self.sym(target), end: matches!(a, Action::MaintenanceEnd { .. }), parts: vec![] },
            },
            Action::EtcdDefrag => Effect::Operation { id, request: OpRequest::EtcdDefrag },
            Action::EtcdWrites { on } => Effect::Host { id, action: HostAction::EtcdWrites { on: *on } },
            Action::VipClients { on } => Effect::Host { id, action: HostAction::VipClients { on: *on } },
            Action::Silence { on, targets, minutes } => Effect::Host {
                id,
                action: if *on {
                    HostAction::Silence { on: true, targets: targets.iter().map(|t| self.sym(t)).collect(), minutes: minutes.unwrap_or(60) }
                } else {
                    HostAction::Silence { on: false, targets: vec![], minutes: 0 }
                },
            },
            Action::Wait { .. } => return Err("wait has no effect".into()),
        })
    }

    fn describe_action(&self, a: &Action) -> String {
        match self.effect_for(a, 0) {
            Ok(Effect::Host { action, .. }) => action.describe(),
            Ok(Effect::Operation { request, .. }) => request.title(),
            _ => match a {
                Action::Wait { secs } => format!("wait {secs}s"),
                _ => String::new(),
            },
        }
    }

    pub fn describe(&self, c: &Check, within_ms: i64) -> String {
        let w = format!("within {:.1}s", within_ms as f64 / 1000.0);
        match c {
            Check::VipOn(h) => format!("VIP on {} {w}", self.sym(h)),
            Check::VipMoved => format!("VIP leaves {} {w}", self.start_owner.as_deref().unwrap_or("its owner")),
            Check::VipSingleOwner => format!("exactly one VIP owner {w}"),
            Check::NoSplitBrain => format!("no split brain {w}"),
            Check::HaproxyDown(s) => format!("haproxy marks {} DOWN on every LB {w}", self.sym(s)),
            Check::HaproxyUp(s) => format!("haproxy marks {} UP on every LB {w}", self.sym(s)),
            Check::HaproxyMaint(s) => format!("haproxy has {} in MAINT on every LB {w}", self.sym(s)),
            Check::EtcdLeader => format!("etcd has a leader {w}"),
            Check::EtcdLeaderChanged => format!("etcd elects a new leader (was {}) {w}", self.start_leader.as_deref().unwrap_or("-")),
            Check::EtcdQuorum => format!("etcd has quorum {w}"),
            Check::NodeReady(n) => format!("{} Ready {w}", self.sym(n)),
            Check::NodeCordoned(n) => format!("{} cordoned {w}", self.sym(n)),
            Check::NodeSchedulable(n) => format!("{} schedulable {w}", self.sym(n)),
            Check::CephFlag(f) => format!("Ceph flag {f} set {w}"),
            Check::CephNoFlag(f) => format!("Ceph flag {f} not set {w}"),
            Check::NoFailedClientRequests => format!("no failed client request for {:.1}s", within_ms as f64 / 1000.0),
            Check::NoFailedEtcdWrites => format!("no failed etcd write for {:.1}s", within_ms as f64 / 1000.0),
            Check::EtcdDefragLeaderLast => format!("every etcd member defragmented, the leader last, {w}"),
        }
    }

    /// Whether a check holds on the model right now.
    pub fn check(&self, c: &Check, m: &Model) -> bool {
        let servers = |name: &str| -> Vec<ServerStatus> {
            m.haproxy.values().filter_map(|s| s.data.as_ref()).flatten().filter(|b| b.server == name).map(|b| b.status).collect()
        };
        match c {
            Check::VipOn(h) => m.vip_holders() == vec![self.sym(h)],
            Check::VipMoved => {
                let h = m.vip_holders();
                h.len() == 1 && Some(&h[0]) != self.start_owner.as_ref()
            }
            Check::VipSingleOwner => m.vip_holders().len() == 1,
            Check::NoSplitBrain => m.vip_holders().len() <= 1,
            Check::HaproxyDown(s) => {
                let v = servers(&self.sym(s));
                !v.is_empty() && v.iter().all(|st| !st.is_serving())
            }
            Check::HaproxyUp(s) => {
                let v = servers(&self.sym(s));
                !v.is_empty() && v.iter().all(|st| *st == ServerStatus::Up)
            }
            Check::HaproxyMaint(s) => {
                let v = servers(&self.sym(s));
                !v.is_empty() && v.iter().all(|st| *st == ServerStatus::Maint)
            }
            Check::EtcdLeader => m.etcd.data.as_ref().is_some_and(|e| e.leader().is_some()),
            Check::EtcdLeaderChanged => {
                m.etcd.data.as_ref().and_then(|e| e.leader()).is_some_and(|l| Some(&l.name) != self.start_leader.as_ref())
            }
            Check::EtcdQuorum => m.etcd.data.as_ref().is_some_and(|e| e.can_lose() >= 0),
            Check::NodeReady(n) => m.node(&self.sym(n)).is_some_and(|x| x.ready == Some(true)),
            Check::NodeCordoned(n) => m.node(&self.sym(n)).is_some_and(|x| x.unschedulable),
            Check::NodeSchedulable(n) => m.node(&self.sym(n)).is_some_and(|x| !x.unschedulable),
            Check::CephFlag(f) => m.ceph_view().is_some_and(|c| c.flags.iter().any(|x| x == f)),
            Check::CephNoFlag(f) => m.ceph_view().is_some_and(|c| !c.flags.iter().any(|x| x == f)),
            Check::NoFailedClientRequests | Check::NoFailedEtcdWrites => true,
            Check::EtcdDefragLeaderLast => {
                let Some(a) = &self.active else { return false };
                let members: Vec<&str> = m.etcd.data.iter().flat_map(|e| e.members.iter().map(|x| x.name.as_str())).collect();
                !members.is_empty()
                    && members.iter().all(|x| a.defragged.iter().any(|d| d == x))
                    && a.defragged.last().is_some_and(|l| Some(l) == a.leader_at_start.as_ref())
            }
        }
    }

    /// The step now running (index, name, elapsed ms) for progress displays.
    pub fn current(&self, now: DateTime<Utc>) -> Option<(usize, String, i64)> {
        self.active.as_ref().map(|a| (a.index, self.file.steps[a.index].name.clone(), (now - a.started).num_milliseconds()))
    }

    pub fn elapsed(&self, now: DateTime<Utc>) -> Duration {
        now - self.started_at
    }
}

#[cfg(test)]
mod tests;

/// Run a drill against a simulated cluster in simulated time (100 ms steps), through the same
/// [`driver::Driver`] as the screen (planned, refused on blockers, audited in `audit`). Used by tests
/// and for checking drill files quickly; returns the finished run.
pub fn run_on_sim(
    file: DrillFile,
    sim: &mut crate::sim::SimCluster,
    model: &mut Model,
    start: DateTime<Utc>,
    audit: crate::ops::audit::Audit,
    cap: Option<crate::ops::WriteCap>,
    max_secs: i64,
) -> (DrillRun, DateTime<Utc>) {
    use crate::backend::{BackendEvent, Command};
    let mut d = driver::Driver::new(file, model, start, audit, cap);
    let mut now = start;
    let end = start + Duration::seconds(max_secs);
    while d.run.phase == Phase::Running && now < end {
        let (_, cmds) = d.poll(model, now);
        for c in cmds {
            let c = match c {
                Command::AfterRecord { recorded, then } => match crate::ops::audit::wait_recorded(recorded) {
                    Ok(()) => *then,
                    Err(e) => {
                        for ev in crate::backend::unavailable(*then, &format!("refused: the audit log cannot be written ({e})")) {
                            d.on_event(&ev);
                        }
                        continue;
                    }
                },
                c => c,
            };
            match c {
                Command::Host { id, action, cap } => {
                    let (ok, detail) = match sim.host_action(&action, &cap, now) {
                        Ok(s) => (true, s),
                        Err(s) => (false, s),
                    };
                    d.run.action_done(id, ok, detail);
                }
                Command::Execute { id, request, cap } => sim.execute(id, &request, &cap, now),
                _ => {}
            }
        }
        let next = now + Duration::milliseconds(100);
        sim.step(next);
        for o in sim.observe(next) {
            d.run.observe(&o.payload);
            model.apply(o);
        }
        for o in sim.drain_made(next) {
            d.run.observe(&o.payload);
            model.apply(o);
        }
        for ev in sim.drain_op_events() {
            d.on_event(&BackendEvent::Op(ev));
        }
        now = next;
    }
    (d.run, now)
}
