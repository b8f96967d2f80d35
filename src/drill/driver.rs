//! The one way a drill acts, whatever runs it (the screen, `drill run --headless`, tests on the
//! simulated cluster): every operation it asks for is planned by the same planner the screen uses,
//! refused on blockers, and written to the audit log (`op_planned`, then `op_refused` or
//! `op_confirmed`); every command it sends is held back until its record is durable.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{DrillFile, DrillRun, Effect};
use crate::backend::{BackendEvent, Command};
use crate::model::Model;
use crate::ops::audit::Audit;
use crate::ops::{OpEvent, WriteCap};

/// What the planner said when it refused a drill's operation: the prefix of the step's action detail.
pub const REFUSED: &str = "REFUSED by the planner";

/// How long a drill's operation waits for its plan to clear before it is refused: one look that
/// failed or a state that is still settling (the owner's first look timed out under load) is not yet
/// a reason to refuse; a blocker that stays is.
pub const PLAN_GRACE_MS: i64 = 5_000;

enum Planned {
    Wait((u64, crate::ops::OpRequest, DateTime<Utc>)),
    Send(Command),
    Refused(Option<String>),
}

pub struct Driver {
    pub run: DrillRun,
    audit: Audit,
    cap: Option<WriteCap>,
    /// The operations and host actions this drill sent, with their titles: their steps and ends are
    /// the drill's to record.
    sent: std::collections::BTreeMap<u64, String>,
    /// Operations whose plan has blockers, waiting up to [`PLAN_GRACE_MS`] for them to clear.
    waiting: Vec<(u64, crate::ops::OpRequest, DateTime<Utc>)>,
    /// What was sent and has not reported its end yet.
    pending: std::collections::BTreeSet<u64>,
}

impl Driver {
    /// Start `file` against what `m` shows now. `cap` is None in a read-only process: every action is
    /// then refused (and recorded as refused).
    pub fn new(file: DrillFile, m: &Model, now: DateTime<Utc>, audit: Audit, cap: Option<WriteCap>) -> Driver {
        audit.record("drill_start", json!({ "drill": file.name, "steps": file.steps.len(), "cluster": m.meta.cluster }));
        Driver { run: DrillRun::new(file, m, now), audit, cap, sent: Default::default(), waiting: vec![], pending: Default::default() }
    }

    /// Advance the drill: lines to tell the operator, and the commands to send (each carried out
    /// only once its audit record is on disk).
    pub fn poll(&mut self, m: &Model, now: DateTime<Utc>) -> (Vec<String>, Vec<Command>) {
        let effects = self.run.poll(m, now);
        self.act(effects, m, now)
    }

    /// Stop the drill now (SIGTERM, SIGINT, a hang-up): what it sent is told to stop at its safe
    /// point, the steps left are not run, what it broke is undone (those commands are returned, each
    /// carried out once recorded), and the run ends failed.
    pub fn abort(&mut self, why: &str, m: &Model, now: DateTime<Utc>) -> (Vec<String>, Vec<Command>) {
        self.audit.record("drill_interrupted", json!({ "drill": self.run.file.name, "reason": why, "running": self.pending }));
        let mut cancels: Vec<Command> = self.pending.iter().map(|&id| Command::Cancel { id }).collect();
        self.waiting.clear();
        let effects = self.run.abort(why, now);
        let (says, cmds) = self.act(effects, m, now);
        cancels.extend(cmds);
        (says, cancels)
    }

    fn act(&mut self, effects: Vec<Effect>, m: &Model, now: DateTime<Utc>) -> (Vec<String>, Vec<Command>) {
        let mut says = vec![];
        let mut cmds = vec![];
        for e in effects {
            match e {
                Effect::Say(t) => says.push(t),
                Effect::Host { id, action } => {
                    let Some(cap) = self.cap.as_ref().map(WriteCap::share) else {
                        self.audit.record("op_refused", json!({ "action_id": id, "action": action, "reason": "read-only mode" }));
                        self.run.action_done(id, false, format!("{REFUSED}: read-only mode"));
                        says.push(format!("{}: refused (read-only)", action.describe()));
                        continue;
                    };
                    let rec = self.audit.record_durable("drill_action", json!({ "action_id": id, "action": action }));
                    self.sent.insert(id, format!("drill {}: {}", self.run.file.name, action.describe()));
                    self.pending.insert(id);
                    cmds.push(Command::Host { id, action, cap }.after(rec));
                }
                Effect::Operation { id, request } => self.waiting.push((id, request, now)),
            }
        }
        for (id, request, since) in std::mem::take(&mut self.waiting) {
            match self.plan_operation(id, request, since, m, now) {
                Planned::Wait(w) => self.waiting.push(w),
                Planned::Send(c) => cmds.push(c),
                Planned::Refused(say) => says.extend(say),
            }
        }
        (says, cmds)
    }

    /// Plan a drill's operation now: send it when nothing blocks it, wait while a blocker may still
    /// clear, refuse it (and say why) once [`PLAN_GRACE_MS`] has passed.
    fn plan_operation(&mut self, id: u64, request: crate::ops::OpRequest, since: DateTime<Utc>, m: &Model, now: DateTime<Utc>) -> Planned {
        let p = crate::ops::plan(&request, m);
        let Some(cap) = self.cap.as_ref().map(WriteCap::share) else {
            self.audit.record("op_refused", json!({ "op_id": id, "request": p.request, "reason": "read-only mode" }));
            self.run.action_done(id, false, format!("{REFUSED}: read-only mode"));
            return Planned::Refused(None);
        };
        if !p.allowed() && (now - since).num_milliseconds() < PLAN_GRACE_MS {
            return Planned::Wait((id, request, since));
        }
        self.audit.record(
            "op_planned",
            json!({ "op_id": id, "request": p.request, "steps": p.steps, "warnings": p.warnings, "blockers": p.blockers, "by": "drill" }),
        );
        if !p.allowed() {
            let why = p.blockers.join("; ");
            self.audit.record("op_refused", json!({ "op_id": id, "request": p.request, "blockers": p.blockers, "by": "drill" }));
            self.run.action_done(id, false, format!("{REFUSED}: {why}"));
            return Planned::Refused(Some(format!("{} refused: {why}", request.title())));
        }
        let rec = self.audit.record_durable(
            "op_confirmed",
            json!({ "op_id": id, "request": p.request, "warnings": p.warnings, "by": "drill", "drill": self.run.file.name }),
        );
        self.sent.insert(id, format!("drill {}: {}", self.run.file.name, request.title()));
        self.pending.insert(id);
        // what the planner made of it (a maintenance's parts are filled in there)
        Planned::Send(Command::Execute { id, request: p.request, cap }.after(rec))
    }

    /// How many of the actions and operations this drill sent have not reported their end (the
    /// clean-up a drill sends as it ends among them): wait for them before leaving.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Whether operation `id` is this drill's.
    pub fn owns(&self, id: u64) -> bool {
        self.sent.contains_key(&id)
    }

    /// The title of an operation or action this drill sent (`drill NAME: fail over the VIP to slb2`).
    pub fn title_of(&self, id: u64) -> Option<&str> {
        self.sent.get(&id).map(String::as_str)
    }

    /// Tell the drill what the backend said: observations for its checks, the steps and ends of its
    /// operations (recorded here).
    pub fn on_event(&mut self, ev: &BackendEvent) {
        match ev {
            BackendEvent::Obs(o) => self.run.observe(&o.payload),
            BackendEvent::Op(e) if self.owns(e.id()) => {
                crate::ops::audit::record_op_event(&self.audit, e);
                if let OpEvent::Finished { id, ok, summary } = e {
                    self.pending.remove(id);
                    self.run.action_done(*id, *ok, summary.clone());
                }
            }
            _ => {}
        }
    }

    /// Record the drill's end.
    pub fn finish(&self, passed: bool, report: &std::path::Path) {
        self.audit.record("drill_end", json!({ "drill": self.run.file.name, "passed": passed, "report": report }));
    }
}
