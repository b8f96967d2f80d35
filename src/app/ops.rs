//! Operations from the screen: plan, open the confirmation, confirm, follow the progress, audit.

use chrono::Utc;
use serde_json::json;

use super::*;

impl App {
    /// Whether the focused panel showed its rows (and so its selection) in the last frame drawn: an
    /// operation on the selection of a panel too small to show it would act on what nobody saw.
    fn selection_shown(&self) -> bool {
        let focus = self.view.focus;
        if self.view.zoom == Some(focus) || self.view.last_layout.is_empty() {
            return true;
        }
        // borders, the summary line and the header: a row needs five lines
        self.view.last_layout.iter().find(|(p, _)| *p == focus).is_some_and(|(_, r)| r.height >= 5)
    }

    /// The operation an action asks for, on what is selected, or why there is none.
    pub(super) fn request_for(&self, a: Action) -> Result<OpRequest, String> {
        let on_selection = matches!(
            a,
            Action::Cordon
                | Action::Uncordon
                | Action::Drain
                | Action::EtcdMoveLeader
                | Action::HaproxyDrain
                | Action::HaproxyReady
                | Action::Maintenance
                | Action::MaintenanceEnd
        );
        if on_selection && !self.selection_shown() {
            return Err(format!(
                "the {} panel is too small to show what is selected: zoom it (z) or make the terminal larger",
                crate::app::cmdline::panel_word(self.view.focus)
            ));
        }
        Ok(match a {
            Action::Cordon | Action::Uncordon | Action::Drain => {
                let node = self.target_node().ok_or("select a node first (in Nodes, or a host or etcd member that is a node)")?;
                match a {
                    Action::Cordon => OpRequest::Cordon { node },
                    Action::Uncordon => OpRequest::Uncordon { node },
                    _ => OpRequest::Drain { node, options: Default::default() },
                }
            }
            Action::VipFailover => {
                let to = self.failover_target().ok_or("no load balancer to fail over to")?;
                OpRequest::VipFailover { to, mode: FailoverMode::Graceful }
            }
            Action::RestoreVip => OpRequest::RestoreVipPriority { lb: self.restore_target()? },
            Action::RenewCerts => OpRequest::RenewCerts { masters: self.model.plan.masters().map(|h| h.name.clone()).collect() },
            Action::EtcdMoveLeader => {
                let e = self.model.etcd.data.as_ref().ok_or("etcd's members are unknown now: nothing to select")?;
                let m = (self.view.focus == PanelId::Etcd).then(|| e.members.get(self.view.selected(PanelId::Etcd))).flatten();
                OpRequest::EtcdMoveLeader { to: m.ok_or("select the etcd member to lead next, in the etcd panel")?.name.clone() }
            }
            Action::HaproxyDrain | Action::HaproxyReady => {
                let server = self.selected_server().ok_or("select an apiserver's row in the haproxy panel first")?;
                let admin = if a == Action::HaproxyDrain { crate::ops::ServerAdmin::Drain } else { crate::ops::ServerAdmin::Ready };
                OpRequest::HaproxyServer { server, admin }
            }
            Action::EtcdDefrag => OpRequest::EtcdDefrag,
            Action::EtcdDisarm => OpRequest::EtcdDisarm,
            Action::EtcdSnapshot => {
                let name: String =
                    self.model.meta.cluster.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
                OpRequest::EtcdSnapshot { to: format!("etcd-{name}-{}.db", Utc::now().format("%Y%m%d-%H%M%S")) }
            }
            Action::Maintenance | Action::MaintenanceEnd => {
                let host = self.target_node().ok_or("select a master first (in Hosts, etcd or Nodes)")?;
                OpRequest::Maintenance { host, end: a == Action::MaintenanceEnd, parts: vec![] }
            }
            Action::ToggleNoout => {
                let set = self.model.ceph_view().is_some_and(|c| c.flags.iter().any(|f| f == "noout"));
                OpRequest::SetNoout { on: !set }
            }
            _ => return Err(format!("{} is not an operation", a.name())),
        })
    }

    /// The haproxy server of the selected haproxy row, when the haproxy panel has the focus.
    fn selected_server(&self) -> Option<String> {
        if self.view.focus != PanelId::Haproxy {
            return None;
        }
        let filter = self.view.filters.get(&PanelId::Haproxy).map(String::as_str).unwrap_or("");
        let rows = crate::model::rows::haproxy_rows(&self.model, filter);
        rows.get(self.view.selected(PanelId::Haproxy))?.server.as_ref().map(|s| s.server.clone())
    }

    /// Queue an audit record (the writer never makes the screen wait).
    pub(super) fn audit(&mut self, event: &str, fields: serde_json::Value) {
        self.audit.record(event, fields);
    }

    pub fn audit_session(&mut self, event: &str, fields: serde_json::Value) {
        self.audit(event, fields);
    }

    /// The operation running now: (id, title, why it cannot be stopped halfway).
    fn running_op(&self) -> Option<(u64, String, Option<&'static str>)> {
        self.op.as_ref().filter(|r| r.result.is_none()).map(|r| (r.id, r.title.clone(), r.runs_to_its_end))
    }

    /// Quit, unless an operation runs: then ask whether to stop it at its safe point and quit once it
    /// has ended, or stay. A process that quits mid-operation leaves the cluster halfway and the
    /// audit log without the operation's end.
    pub(super) fn ask_quit(&mut self) -> Vec<Command> {
        match (self.running_op(), self.quit_after_op) {
            (None, _) => self.quit = true,
            (Some((_, title, _)), Some(_)) => {
                self.say(Severity::Warn, format!("quitting once {title} has ended; killing kockpit now would leave it unfinished"))
            }
            (Some(_), None) => self.view.dialog = Dialog::QuitWhileRunning,
        }
        vec![]
    }

    /// The answer "stop it and quit": cancel at the next safe point (or let it run to its end when it
    /// cannot stop halfway) and quit when its end arrives. Recorded first.
    pub(super) fn quit_when_stopped(&mut self) -> Vec<Command> {
        self.stop_and_quit("quit")
    }

    fn stop_and_quit(&mut self, by: &str) -> Vec<Command> {
        let Some((id, title, end)) = self.running_op() else {
            self.quit = true;
            return vec![];
        };
        self.quit_after_op = Some(id);
        self.view.dialog = Dialog::Progress;
        self.audit("quit_requested", json!({ "op_id": id, "cancel": end.is_none(), "by": by }));
        match end {
            Some(why) => {
                self.say(Severity::Warn, format!("{title} cannot be stopped halfway ({why}); quitting when it ends"));
                vec![]
            }
            None => {
                self.audit("op_cancel_requested", json!({ "op_id": id, "by": by }));
                if let Some(run) = self.op.as_mut() {
                    run.cancel_requested = true;
                }
                self.say(Severity::Warn, format!("{title}: cancelling at the next safe point, then quitting"));
                vec![Command::Cancel { id }]
            }
        }
    }

    /// The terminal went away (hang-up, end of input) or the process was told to stop: stop the running
    /// operation at its safe point, as "stop it and quit" does, without asking. Returns the commands
    /// to send; the caller waits for the end (bounded) and then exits.
    pub fn hang_up(&mut self, reason: &str) -> Vec<Command> {
        self.audit("session_hangup", json!({ "reason": reason, "op_running": self.running_op().map(|r| r.0) }));
        // a drill stops too, and undoes what it broke (the caller waits for that as for the operation)
        let mut cmds = self.abort_drill(reason, Utc::now());
        if self.quit_after_op.is_some() {
            return cmds;
        }
        cmds.extend(self.stop_and_quit(reason));
        if self.quit_after_op.is_none() {
            self.quit = true;
        }
        cmds
    }

    /// Tell, at start, of an operation an earlier process left unfinished: on the timeline and in the footer.
    pub fn tell_unfinished(&mut self, text: &str) {
        self.model.timeline.push(crate::model::Event::new(Utc::now(), PanelId::Timeline, Severity::Critical, text.to_string()));
        self.model.revision += 1;
        self.say(Severity::Critical, text.to_string());
    }

    /// The audit writer of this session.
    pub fn audit_log(&self) -> &crate::ops::audit::Audit {
        &self.audit
    }

    /// Say on screen when the audit log stopped being writable (and when it recovers).
    pub(super) fn check_audit(&mut self) {
        let now = self.audit.failure();
        if now != self.audit_failure_shown {
            match &now {
                Some(e) => {
                    self.notice = Some((Severity::Critical, format!("AUDIT LOG WRITE FAILED: {e}; operations are refused"), Utc::now()))
                }
                None => self.notice = Some((Severity::Info, "audit log writable again".into(), Utc::now())),
            }
            self.audit_failure_shown = now;
            self.dirty = true;
        }
    }

    pub(super) fn on_op_event(&mut self, e: OpEvent) {
        crate::backend::note_op_event(&mut self.model, &e, Utc::now());
        match &e {
            OpEvent::Step { id, text, ok } => {
                if !self.drill_owns(*id) {
                    crate::ops::audit::record_op_event(&self.audit, &e);
                }
                if let Some(run) = self.op.as_mut().filter(|r| r.id == *id) {
                    run.steps.push((text.clone(), *ok));
                }
            }
            OpEvent::Finished { id, ok, summary } => {
                if !self.drill_owns(*id) {
                    crate::ops::audit::record_op_event(&self.audit, &e);
                }
                // the operation the screen runs, else the drill's (a drill names its own steps)
                let drill_title = || self.drill.as_ref().and_then(|d| d.driver.as_ref()).and_then(|d| d.title_of(*id)).map(str::to_string);
                let title = self
                    .op
                    .as_ref()
                    .filter(|r| r.id == *id)
                    .map(|r| r.title.clone())
                    .or_else(drill_title)
                    .unwrap_or_else(|| format!("operation {id}"));
                let cancelled = !*ok && self.op.as_ref().is_some_and(|r| r.id == *id && r.cancel_requested);
                // a cancelled operation ended as asked; what it left (a node cordoned) is in its summary
                let (sev, word) = match (*ok, cancelled) {
                    (true, _) => (Severity::Info, "done"),
                    (false, true) => (Severity::Warn, "CANCELLED"),
                    (false, false) => (Severity::Critical, "FAILED"),
                };
                self.model.timeline.push(crate::model::Event::new(
                    Utc::now(),
                    PanelId::Timeline,
                    sev,
                    format!("{title}: {}", if *ok { summary.clone() } else { format!("{word}: {summary}") }),
                ));
                self.model.revision += 1;
                if let Some(run) = self.op.as_mut().filter(|r| r.id == *id) {
                    run.result = Some((*ok, summary.clone()));
                }
                if self.quit_after_op == Some(*id) {
                    self.quit = true;
                }
                self.say(sev, format!("{title}: {word}"));
            }
        }
        self.dirty = true;
    }

    /// Whether operation `id` was started by the running drill (which records its own).
    fn drill_owns(&self, id: u64) -> bool {
        self.drill.as_ref().and_then(|d| d.driver.as_ref()).is_some_and(|d| d.owns(id))
    }

    pub(super) fn refuse_readonly(&mut self, what: String) {
        self.audit("op_refused", json!({ "operation": what, "reason": "read-only mode" }));
        self.say(Severity::Warn, format!("read-only: {what} refused (this session cannot change the cluster)"));
    }

    /// Plan an operation and open the confirmation dialog; returns the dry run to ask the backend for,
    /// if the operation has one (the dialog waits for its answer before it can be confirmed).
    pub fn propose(&mut self, req: OpRequest) -> Vec<Command> {
        // one operation at a time: a second one planned against a world the first is changing
        // (a restore while the failover still moves the VIP) would be judged on facts about to go stale
        if let Some(run) = self.op.as_ref().filter(|r| r.result.is_none()) {
            let title = run.title.clone();
            self.say(Severity::Warn, format!("{}: refused while {title} runs (one operation at a time)", req.title()));
            self.audit("op_refused", json!({ "request": req, "reason": format!("{title} is running") }));
            self.view.dialog = Dialog::Progress;
            return vec![];
        }
        // read-only: a drain may still be planned and dry-run (reads only); confirming it is refused
        if self.readonly() && !matches!(req, OpRequest::Drain { .. }) {
            self.refuse_readonly(req.title());
            return vec![];
        }
        if let Some(e) = self.audit.failure() {
            self.say(Severity::Critical, format!("{}: refused, the audit log cannot be written ({e})", req.title()));
            return vec![];
        }
        let p = plan(&req, &self.model);
        // this plan has not been on screen yet, whatever an earlier one like it was
        self.view.confirm_seen = None;
        self.view.confirm_scroll = 0;
        self.audit("op_planned", json!({ "request": p.request, "steps": p.steps, "warnings": p.warnings, "blockers": p.blockers }));
        let dry = matches!(p.dry_run, Some(crate::ops::DryRunState::Pending));
        // a maintenance's dry run is its drain's
        let req = match &p.request {
            OpRequest::Maintenance { parts, .. } => parts.iter().find(|x| matches!(x, OpRequest::Drain { .. })).cloned().unwrap_or(req),
            _ => req,
        };
        self.view.dialog = Dialog::Confirm(p);
        if !dry {
            self.dry_run_id = None;
            return vec![];
        }
        let id = self.next_op;
        self.next_op += 1;
        self.dry_run_id = Some(id);
        vec![Command::DryRun { id, request: req }]
    }

    /// A dry run answered: fold it into the confirmation it was asked for (if that is still open).
    pub(super) fn on_dry_run(&mut self, id: u64, result: Result<crate::ops::DryRun, String>) {
        if self.dry_run_id != Some(id) {
            return;
        }
        self.dry_run_id = None;
        let Dialog::Confirm(p) = &self.view.dialog else { return };
        let state = match result {
            Ok(d) => crate::ops::DryRunState::Ready(d),
            Err(reason) => crate::ops::DryRunState::Failed { reason },
        };
        let p = p.clone().with_dry_run(state);
        self.audit("op_dry_run", json!({ "request": p.request, "dry_run": p.dry_run, "blockers": p.blockers }));
        self.view.dialog = Dialog::Confirm(p);
        self.dirty = true;
    }

    /// The node an operation applies to: the selection in Nodes, or the selected host if it is a node.
    pub fn target_node(&self) -> Option<String> {
        let nodes = self.model.nodes.data.as_deref()?;
        if self.view.focus == PanelId::Hosts {
            let hosts = crate::model::rows::hosts_rows(&self.model, self.view.filter(PanelId::Hosts));
            if let Some(h) = hosts.get(self.view.selected(PanelId::Hosts))
                && nodes.iter().any(|n| &n.name == h)
            {
                return Some(h.clone());
            }
        }
        if self.view.focus == PanelId::Etcd
            && let Some(m) = self.model.etcd.data.as_ref().and_then(|e| e.members.get(self.view.selected(PanelId::Etcd)))
            && nodes.iter().any(|n| n.name == m.name)
        {
            return Some(m.name.clone());
        }
        // only what is on screen and selected: a node selected long ago in a panel not in view is
        // not acted on from another panel
        if self.view.focus != PanelId::Nodes {
            return None;
        }
        let rows = crate::model::rows::node_rows(&self.model, self.view.filter(PanelId::Nodes), self.view.sort_of(PanelId::Nodes));
        rows.get(self.view.selected(PanelId::Nodes)).map(|&i| nodes[i].name.clone())
    }

    /// Which load balancer a restore is for: the one selected in the VIP panel, else the one a
    /// failover left behind (keepalived stopped, or running below its configured priority), when
    /// there is exactly one.
    pub fn restore_target(&self) -> Result<String, String> {
        let lbs: Vec<String> = self.model.vrrp.keys().cloned().collect();
        if self.view.focus == PanelId::Vip
            && let Some(lb) = lbs.get(self.view.selected(PanelId::Vip))
        {
            return Ok(lb.clone());
        }
        let by_priority = self.model.plan.lb.demote == crate::inventory::DemoteMethod::Priority;
        let left: Vec<&String> = self
            .model
            .vrrp
            .iter()
            .filter(|(_, s)| s.data.as_ref().is_some_and(|v| v.left_by_failover(by_priority)))
            .map(|(n, _)| n)
            .collect();
        match left.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err("no load balancer looks demoted or stopped: select one in the VIP panel to restore it".into()),
            many => Err(format!(
                "{} look demoted or stopped: select the one to restore in the VIP panel",
                many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" and ")
            )),
        }
    }

    /// Where a failover would go: the selected LB in the VIP panel, else the first LB not holding the VIP.
    pub fn failover_target(&self) -> Option<String> {
        let holders = self.model.vip_holders();
        let lbs: Vec<String> = self.model.vrrp.keys().cloned().collect();
        if self.view.focus == PanelId::Vip
            && let Some(lb) = lbs.get(self.view.selected(PanelId::Vip))
            && !holders.contains(lb)
        {
            return Some(lb.clone());
        }
        if self.view.focus == PanelId::Vip
            && let Some(lb) = lbs.get(self.view.selected(PanelId::Vip))
            && holders.len() > 1
        {
            // a split brain: the planner says why it will not fail over, instead of nothing
            return Some(lb.clone());
        }
        // the first LB not holding the VIP; when every LB holds it (a split brain), the last one, so
        // the planner can refuse with the reason
        lbs.iter().find(|l| !holders.contains(l)).or_else(|| if holders.len() > 1 { lbs.last() } else { None }).cloned()
    }
}
