//! The app: owns all state, turns keys into actions and actions into plans, dialogs and commands.
//! No terminal and no I/O beyond the audit log here: the event loop in [`run`] drives it, tests call it directly.

pub mod logsrc;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde_json::json;

pub use crate::action::Action;

use crate::backend::{BackendEvent, Command};
use crate::model::{Assessment, Model, PanelId, Severity, assess};
use crate::ops::Fault;
use crate::ops::audit::AuditLog;
use crate::ops::{FailoverMode, OpEvent, OpPlan, OpRequest, WriteCap, plan};
use crate::settings::keymap::Keymap;
use crate::settings::theme::Theme;

/// What is drawn over the panels.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    None,
    Help {
        scroll: usize,
    },
    Confirm(OpPlan),
    Progress,
    Faults {
        selected: usize,
    },
    /// kockpit's own log (tracing, through tui-logger).
    OwnLog,
    /// The merged log viewer.
    Logs,
}

/// The log viewer's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogView {
    pub query: String,
    pub typing: bool,
    /// Frozen at this many matching lines from the top (None: follow the tail).
    pub paused_at: Option<usize>,
    /// Lines scrolled up from the bottom of the view.
    pub scroll_back: usize,
    /// The sources opened from the viewer, in the order they were opened.
    pub sources: Vec<logsrc::OpenSource>,
    /// The source picker, when open.
    pub picker: Option<logsrc::Picker>,
    /// The last source id given out.
    pub next_id: u64,
}

/// A running or finished operation, shown in the progress dialog.
#[derive(Debug, Clone, PartialEq)]
pub struct OpRun {
    pub id: u64,
    pub title: String,
    /// Why it cannot be cancelled halfway (None: it can, at its next safe point).
    pub runs_to_its_end: Option<&'static str>,
    pub steps: Vec<(String, bool)>,
    pub result: Option<(bool, String)>,
}

/// Everything about how the screen looks that is not the cluster.
#[derive(Debug, Clone)]
pub struct ViewState {
    pub focus: PanelId,
    pub zoom: Option<PanelId>,
    pub filters: BTreeMap<PanelId, String>,
    /// The filter of the focused panel is being typed.
    pub filter_editing: bool,
    pub selected: BTreeMap<PanelId, usize>,
    pub dialog: Dialog,
    /// Panel rectangles from the last draw, for directional focus moves.
    pub last_layout: Vec<(PanelId, ratatui::layout::Rect)>,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            focus: PanelId::Hosts,
            zoom: None,
            filters: BTreeMap::new(),
            filter_editing: false,
            selected: BTreeMap::new(),
            dialog: Dialog::None,
            last_layout: Vec::new(),
        }
    }
}

impl ViewState {
    pub fn filter(&self, p: PanelId) -> &str {
        self.filters.get(&p).map(String::as_str).unwrap_or("")
    }
    pub fn selected(&self, p: PanelId) -> usize {
        self.selected.get(&p).copied().unwrap_or(0)
    }
}

pub struct App {
    pub model: Model,
    pub view: ViewState,
    pub theme: Theme,
    pub themes: Vec<Theme>,
    pub keymap: Keymap,
    cap: Option<WriteCap>,
    audit: Option<AuditLog>,
    pub supports_faults: bool,
    pub paused: bool,
    pub quit: bool,
    next_op: u64,
    /// The dry run the open confirmation waits for.
    dry_run_id: Option<u64>,
    pub op: Option<OpRun>,
    /// A one-line message for the footer, with when it was set.
    pub notice: Option<(Severity, String, DateTime<Utc>)>,
    /// Health, recomputed when the model changes or time passes.
    pub assessment: Assessment,
    assessed_at: (u64, i64),
    /// Something visible changed since the last draw.
    pub dirty: bool,
    /// The time zone clocks are shown in: the local one, fixed at start.
    pub tz: chrono::FixedOffset,
    /// A drill waiting for first data, running, or finished, and where its report goes.
    pub drill: Option<DrillState>,
    /// Where exports (the timeline) are written.
    pub export_dir: std::path::PathBuf,
    /// Every tailed log line, merged on one time axis; bounded.
    pub logs: crate::logs::LogBuffer,
    pub log_view: LogView,
}

pub struct DrillState {
    pub pending: Option<crate::drill::DrillFile>,
    pub run: Option<crate::drill::DrillRun>,
    pub report: std::path::PathBuf,
    pub since: DateTime<Utc>,
    pub written: bool,
}

impl App {
    pub fn new(
        model: Model,
        theme: Theme,
        themes: Vec<Theme>,
        keymap: Keymap,
        cap: Option<WriteCap>,
        audit: Option<AuditLog>,
        supports_faults: bool,
    ) -> App {
        let now = Utc::now();
        let assessment = assess(&model, now);
        App {
            model,
            view: ViewState::default(),
            theme,
            themes,
            keymap,
            cap,
            audit,
            supports_faults,
            paused: false,
            quit: false,
            next_op: 1,
            dry_run_id: None,
            op: None,
            notice: None,
            assessment,
            assessed_at: (u64::MAX, 0),
            dirty: true,
            tz: *chrono::Local::now().offset(),
            drill: None,
            export_dir: std::env::temp_dir(),
            logs: crate::logs::LogBuffer::new(50_000),
            log_view: LogView::default(),
        }
    }

    pub fn readonly(&self) -> bool {
        self.cap.is_none()
    }

    /// Recompute health if the model moved or a second passed (staleness depends on time).
    pub fn refresh(&mut self, now: DateTime<Utc>) {
        let key = (self.model.revision, now.timestamp());
        if key != self.assessed_at {
            self.assessment = assess(&self.model, now);
            self.assessed_at = key;
        }
    }

    fn audit(&mut self, event: &str, fields: serde_json::Value) {
        if let Some(log) = &mut self.audit
            && let Err(e) = log.record(event, fields)
        {
            tracing::error!("audit log write failed: {e}");
            self.notice = Some((Severity::Critical, format!("AUDIT LOG WRITE FAILED: {e}"), Utc::now()));
        }
    }

    pub fn audit_session(&mut self, event: &str, fields: serde_json::Value) {
        self.audit(event, fields);
    }

    fn say(&mut self, sev: Severity, text: impl Into<String>) {
        self.notice = Some((sev, text.into(), Utc::now()));
        self.dirty = true;
    }

    /// Run a drill in the cockpit: it starts once the first observations arrived.
    pub fn start_drill(&mut self, file: crate::drill::DrillFile, report: std::path::PathBuf) {
        self.audit("drill_start", json!({ "drill": file.name, "steps": file.steps.len() }));
        self.drill = Some(DrillState { pending: Some(file), run: None, report, since: Utc::now(), written: false });
    }

    /// Advance a running drill; returns the commands its actions need.
    pub fn drive_drill(&mut self, now: DateTime<Utc>) -> Vec<Command> {
        let Some(d) = self.drill.as_mut() else { return vec![] };
        if d.pending.is_some() {
            let ready = self.model.etcd.data.is_some() && !self.model.vrrp.is_empty();
            if !ready && (now - d.since).num_seconds() < 10 {
                return vec![];
            }
            let file = d.pending.take().expect("pending");
            d.run = Some(crate::drill::DrillRun::new(file, &self.model, now));
        }
        let Some(run) = d.run.as_mut() else { return vec![] };
        let effects = run.poll(&self.model, now);
        let finished = run.phase != crate::drill::Phase::Running && !d.written;
        let mut cmds = vec![];
        let mut says = vec![];
        for e in effects {
            match e {
                crate::drill::Effect::Say(t) => says.push(t),
                crate::drill::Effect::Host { id, action } => match self.cap.as_ref() {
                    Some(cap) => cmds.push(Command::Host { id, action, cap: cap.share() }),
                    None => says.push("read-only: drill action refused".into()),
                },
                crate::drill::Effect::Operation { id, request } => match self.cap.as_ref() {
                    Some(cap) => cmds.push(Command::Execute { id, request, cap: cap.share() }),
                    None => says.push("read-only: drill operation refused".into()),
                },
            }
        }
        for t in says {
            self.model.timeline.push(crate::model::Event::new(now, PanelId::Timeline, Severity::Info, format!("drill: {t}")));
            self.model.revision += 1;
            self.dirty = true;
        }
        for c in &cmds {
            if let Command::Host { id, action, .. } = c {
                self.audit("drill_action", json!({ "action_id": id, "action": action }));
            }
        }
        if finished {
            let d = self.drill.as_mut().expect("drill");
            d.written = true;
            let run = d.run.as_ref().expect("run");
            let path = d.report.clone();
            let md = crate::drill::report::markdown(run, &self.model.meta.cluster, now);
            let js = crate::drill::report::json(run, &self.model.meta.cluster, now);
            let passed = run.phase == crate::drill::Phase::Passed;
            let written = std::fs::write(&path, md).and_then(|_| std::fs::write(path.with_extension("json"), js.to_string()));
            self.audit("drill_end", json!({ "passed": passed, "report": path }));
            let (sev, text) = match written {
                Ok(()) => (
                    if passed { Severity::Info } else { Severity::Critical },
                    format!("drill {}: report {}", if passed { "PASSED" } else { "FAILED" }, path.display()),
                ),
                Err(e) => (Severity::Critical, format!("drill finished but the report could not be written: {e}")),
            };
            self.say(sev, text);
        }
        cmds
    }

    /// Apply something the backend sent.
    pub fn on_backend(&mut self, ev: BackendEvent) {
        if let Some(run) = self.drill.as_mut().and_then(|d| d.run.as_mut()) {
            match &ev {
                BackendEvent::Obs(o) => run.observe(&o.payload),
                BackendEvent::Op(OpEvent::Finished { id, ok, summary }) => run.action_done(*id, *ok, summary.clone()),
                _ => {}
            }
        }
        match ev {
            BackendEvent::Obs(o) => {
                if self.model.apply(o) {
                    self.dirty = true;
                }
            }
            BackendEvent::Notice(text) => {
                tracing::info!("{text}");
                self.model.timeline.push(crate::model::Event::new(Utc::now(), PanelId::Timeline, Severity::Info, text.clone()));
                self.model.revision += 1;
                self.say(Severity::Info, text);
            }
            BackendEvent::Op(e) => self.on_op_event(e),
            BackendEvent::DryRun { id, result } => self.on_dry_run(id, result),
            BackendEvent::Log(l) => {
                self.logs.push(l);
                if self.view.dialog == Dialog::Logs && self.log_view.paused_at.is_none() {
                    self.dirty = true;
                }
            }
            BackendEvent::LogSource(st) => self.on_log_status(st),
        }
    }

    fn logs_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Command> {
        if self.log_view.picker.is_some() {
            return self.picker_key(key, action);
        }
        if action == Some(Action::LogSources) && !self.log_view.typing {
            self.log_view.picker = Some(logsrc::Picker::default());
            return vec![];
        }
        let v = &mut self.log_view;
        if v.typing {
            match key.code {
                KeyCode::Esc | KeyCode::Enter => v.typing = false,
                KeyCode::Backspace => {
                    v.query.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => v.query.push(c),
                _ => {}
            }
            v.scroll_back = 0;
            return vec![];
        }
        match key.code {
            KeyCode::Char('/') => v.typing = true,
            KeyCode::Char(' ') => {
                v.paused_at = match v.paused_at {
                    Some(_) => None,
                    None => Some(self.logs.matching(&v.query).len()),
                };
            }
            KeyCode::Char('s') => {
                let path = self.export_dir.join(format!("logs-{}-{}.log", self.model.meta.cluster, Utc::now().format("%Y%m%dT%H%M%S")));
                let q = self.log_view.query.clone();
                let r = std::fs::create_dir_all(&self.export_dir).and_then(|_| self.logs.save(&path, &q));
                match r {
                    Ok(n) => self.say(Severity::Info, format!("{n} log lines saved to {}", path.display())),
                    Err(e) => self.say(Severity::Critical, format!("saving the logs failed: {e}")),
                }
            }
            KeyCode::Char('o') => self.view.dialog = Dialog::OwnLog,
            KeyCode::Char('G') | KeyCode::End => {
                v.scroll_back = 0;
                v.paused_at = None;
            }
            _ => match action {
                Some(Action::SelectPrev) => v.scroll_back += 1,
                Some(Action::SelectNext) => v.scroll_back = v.scroll_back.saturating_sub(1),
                Some(Action::PageUp) => v.scroll_back += 20,
                Some(Action::PageDown) => v.scroll_back = v.scroll_back.saturating_sub(20),
                Some(Action::Cancel | Action::Logs | Action::Quit) => {
                    if !v.query.is_empty() && action == Some(Action::Cancel) {
                        v.query.clear();
                    } else {
                        self.view.dialog = Dialog::None;
                    }
                }
                _ => {}
            },
        }
        vec![]
    }

    fn on_op_event(&mut self, e: OpEvent) {
        match &e {
            OpEvent::Step { id, text, ok } => {
                self.audit("op_step", json!({ "op_id": id, "step": text, "ok": ok }));
                if let Some(run) = self.op.as_mut().filter(|r| r.id == *id) {
                    run.steps.push((text.clone(), *ok));
                }
            }
            OpEvent::Finished { id, ok, summary } => {
                self.audit("op_finished", json!({ "op_id": id, "ok": ok, "summary": summary }));
                let sev = if *ok { Severity::Info } else { Severity::Critical };
                let title = self.op.as_ref().filter(|r| r.id == *id).map(|r| r.title.clone()).unwrap_or_default();
                self.model.timeline.push(crate::model::Event::new(
                    Utc::now(),
                    PanelId::Timeline,
                    sev,
                    format!("{title}: {}", if *ok { summary.clone() } else { format!("FAILED: {summary}") }),
                ));
                self.model.revision += 1;
                if let Some(run) = self.op.as_mut().filter(|r| r.id == *id) {
                    run.result = Some((*ok, summary.clone()));
                }
                self.say(sev, format!("{title}: {}", if *ok { "done" } else { "FAILED" }));
            }
        }
        self.dirty = true;
    }

    /// Handle one key; returns commands for the backend.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        self.dirty = true;
        if self.view.filter_editing {
            self.filter_key(key);
            return vec![];
        }
        let action = self.keymap.lookup(&key);
        match self.view.dialog.clone() {
            Dialog::None => action.map(|a| self.act(a)).unwrap_or_default(),
            Dialog::Help { scroll } => {
                match action {
                    Some(Action::SelectNext) => self.view.dialog = Dialog::Help { scroll: scroll + 1 },
                    Some(Action::SelectPrev) => self.view.dialog = Dialog::Help { scroll: scroll.saturating_sub(1) },
                    Some(Action::PageDown) => self.view.dialog = Dialog::Help { scroll: scroll + 10 },
                    Some(Action::PageUp) => self.view.dialog = Dialog::Help { scroll: scroll.saturating_sub(10) },
                    Some(Action::Quit) if key.modifiers.contains(KeyModifiers::CONTROL) => self.quit = true,
                    Some(Action::Cancel | Action::Help | Action::Quit | Action::Confirm) => self.view.dialog = Dialog::None,
                    _ => {}
                }
                vec![]
            }
            Dialog::OwnLog => {
                if matches!(action, Some(Action::Cancel | Action::Logs | Action::Quit | Action::Confirm)) {
                    self.view.dialog = Dialog::Logs;
                }
                vec![]
            }
            Dialog::Logs => self.logs_key(key, action),
            Dialog::Confirm(p) => self.confirm_key(key, action, p),
            Dialog::Progress => {
                let running = self.op.as_ref().filter(|r| r.result.is_none()).map(|r| (r.id, r.title.clone(), r.runs_to_its_end));
                if let (KeyCode::Char('c'), Some((id, title, end))) = (key.code, running) {
                    if let Some(why) = end {
                        self.audit("op_cancel_declined", json!({ "op_id": id, "reason": why }));
                        self.say(Severity::Info, format!("{title} cannot be cancelled: {why}"));
                        return vec![];
                    }
                    self.audit("op_cancel_requested", json!({ "op_id": id }));
                    self.say(Severity::Warn, format!("{title}: cancelling at the next safe point"));
                    return vec![Command::Cancel { id }];
                }
                if matches!(action, Some(Action::Cancel | Action::Confirm | Action::Quit)) {
                    self.view.dialog = Dialog::None;
                }
                vec![]
            }
            Dialog::Faults { selected } => {
                let n = Fault::ALL.len();
                let digit = match key.code {
                    KeyCode::Char(c) if c.is_ascii_digit() && c != '0' => Some(c as usize - '1' as usize),
                    _ => None,
                };
                if let Some(d) = digit.filter(|d| *d < n) {
                    self.view.dialog = Dialog::None;
                    return vec![self.fault(Fault::ALL[d])];
                }
                match action {
                    Some(Action::SelectNext) => self.view.dialog = Dialog::Faults { selected: (selected + 1) % n },
                    Some(Action::SelectPrev) => self.view.dialog = Dialog::Faults { selected: (selected + n - 1) % n },
                    Some(Action::Confirm) => {
                        self.view.dialog = Dialog::None;
                        return vec![self.fault(Fault::ALL[selected])];
                    }
                    Some(Action::Cancel | Action::Faults | Action::Quit) => self.view.dialog = Dialog::None,
                    _ => {}
                }
                vec![]
            }
        }
    }

    fn fault(&mut self, f: Fault) -> Command {
        self.audit("fault_injected", json!({ "fault": f.name() }));
        Command::Fault(f)
    }

    fn filter_key(&mut self, key: KeyEvent) {
        let p = self.view.focus;
        match key.code {
            KeyCode::Esc => {
                self.view.filters.remove(&p);
                self.view.filter_editing = false;
            }
            KeyCode::Enter => self.view.filter_editing = false,
            KeyCode::Backspace => {
                if let Some(f) = self.view.filters.get_mut(&p) {
                    f.pop();
                }
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.view.filters.entry(p).or_default().push(c);
                self.view.selected.insert(p, 0);
            }
            KeyCode::Char('c') => {
                self.view.filters.remove(&p);
                self.view.filter_editing = false;
            }
            _ => {}
        }
    }

    fn confirm_key(&mut self, key: KeyEvent, action: Option<Action>, p: OpPlan) -> Vec<Command> {
        let yes = matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) || action == Some(Action::Confirm);
        let no = matches!(key.code, KeyCode::Char('n') | KeyCode::Char('N')) || matches!(action, Some(Action::Cancel | Action::Quit));
        if let (KeyCode::Char('e'), OpRequest::VipFailover { to, mode: FailoverMode::Graceful }) = (key.code, &p.request) {
            let req = OpRequest::VipFailover { to: to.clone(), mode: FailoverMode::Emergency };
            return self.propose(req);
        }
        // A drain's options, toggled in the dialog: plan (and dry-run) again with them.
        if let (KeyCode::Char(c @ ('d' | 'f')), OpRequest::Drain { node, options }) = (key.code, &p.request) {
            let mut options = options.clone();
            if c == 'd' {
                options.delete_emptydir_data = !options.delete_emptydir_data;
            } else {
                options.force_unmanaged = !options.force_unmanaged;
            }
            return self.propose(OpRequest::Drain { node: node.clone(), options });
        }
        if no {
            self.audit("op_cancelled", json!({ "request": p.request }));
            self.view.dialog = Dialog::None;
            self.say(Severity::Info, format!("{}: cancelled", p.request.title()));
            return vec![];
        }
        if !yes || !p.confirmable() {
            return vec![];
        }
        // Plan again against the model as it is now: the world may have moved while the dialog was open.
        // The dry run's answer stands (it is seconds old).
        let fresh = match p.dry_run.clone() {
            Some(d) => plan(&p.request, &self.model).with_dry_run(d),
            None => plan(&p.request, &self.model),
        };
        if !fresh.allowed() {
            self.audit("op_refused", json!({ "request": fresh.request, "blockers": fresh.blockers }));
            self.view.dialog = Dialog::Confirm(fresh);
            return vec![];
        }
        let Some(cap) = self.cap.as_ref().map(WriteCap::share) else {
            self.view.dialog = Dialog::None;
            self.refuse_readonly(p.request.title());
            return vec![];
        };
        let id = self.next_op;
        self.next_op += 1;
        self.audit("op_confirmed", json!({ "op_id": id, "request": fresh.request, "warnings": fresh.warnings }));
        self.op =
            Some(OpRun { id, title: fresh.request.title(), runs_to_its_end: fresh.request.runs_to_its_end(), steps: vec![], result: None });
        self.view.dialog = Dialog::Progress;
        vec![Command::Execute { id, request: fresh.request, cap }]
    }

    fn refuse_readonly(&mut self, what: String) {
        self.audit("op_refused", json!({ "operation": what, "reason": "read-only mode" }));
        self.say(Severity::Warn, format!("read-only: {what} refused (this session cannot change the cluster)"));
    }

    /// Write every timeline event to `<export_dir>/timeline-<cluster>-<time>.txt` and `.jsonl`.
    pub fn export_timeline(&self, now: DateTime<Utc>) -> std::io::Result<std::path::PathBuf> {
        std::fs::create_dir_all(&self.export_dir)?;
        let base = self.export_dir.join(format!("timeline-{}-{}", self.model.meta.cluster, now.format("%Y%m%dT%H%M%S")));
        let txt = base.with_extension("txt");
        let mut text = String::new();
        let mut jsonl = String::new();
        for e in self.model.timeline.iter() {
            text.push_str(&format!(
                "{} {:<8} {:<9} {}\n",
                e.at.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S%.3f"),
                format!("{:?}", e.severity),
                format!("{:?}", e.panel),
                e.text
            ));
            jsonl.push_str(&serde_json::to_string(e).map_err(std::io::Error::other)?);
            jsonl.push('\n');
        }
        std::fs::write(&txt, text)?;
        std::fs::write(base.with_extension("jsonl"), jsonl)?;
        Ok(txt)
    }

    /// Plan an operation and open the confirmation dialog; returns the dry run to ask the backend for,
    /// if the operation has one (the dialog waits for its answer before it can be confirmed).
    pub fn propose(&mut self, req: OpRequest) -> Vec<Command> {
        if self.readonly() {
            self.refuse_readonly(req.title());
            return vec![];
        }
        let p = plan(&req, &self.model);
        self.audit("op_planned", json!({ "request": p.request, "steps": p.steps, "warnings": p.warnings, "blockers": p.blockers }));
        let dry = matches!(p.dry_run, Some(crate::ops::DryRunState::Pending));
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
    fn on_dry_run(&mut self, id: u64, result: Result<crate::ops::DryRun, String>) {
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
        let rows = crate::model::rows::node_rows(&self.model, self.view.filter(PanelId::Nodes));
        rows.get(self.view.selected(PanelId::Nodes)).map(|&i| nodes[i].name.clone())
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
        lbs.into_iter().find(|l| !holders.contains(l))
    }

    pub fn act(&mut self, a: Action) -> Vec<Command> {
        if a.is_operation() && self.readonly() {
            self.refuse_readonly(a.name().replace('_', " "));
            return vec![];
        }
        match a {
            Action::Quit => self.quit = true,
            Action::Help => self.view.dialog = Dialog::Help { scroll: 0 },
            Action::Cancel => {
                if self.view.filters.remove(&self.view.focus).is_none() {
                    self.view.zoom = None;
                }
            }
            Action::Confirm => {}
            Action::FocusNext | Action::FocusPrev => {
                let order = self.focus_order();
                let i = order.iter().position(|p| *p == self.view.focus).unwrap_or(0);
                let n = order.len();
                let j = if a == Action::FocusNext { (i + 1) % n } else { (i + n - 1) % n };
                self.view.focus = order[j];
                if self.view.zoom.is_some() {
                    self.view.zoom = Some(self.view.focus);
                }
            }
            Action::FocusLeft | Action::FocusRight | Action::FocusUp | Action::FocusDown => self.focus_dir(a),
            Action::SelectNext => self.move_sel(1),
            Action::SelectPrev => self.move_sel(-1),
            Action::PageDown => self.move_sel(10),
            Action::PageUp => self.move_sel(-10),
            Action::SelectFirst => {
                self.view.selected.insert(self.view.focus, 0);
            }
            Action::SelectLast => self.move_sel(i64::MAX / 2),
            Action::Zoom => {
                self.view.zoom = if self.view.zoom == Some(self.view.focus) { None } else { Some(self.view.focus) };
            }
            Action::Filter => {
                self.view.filter_editing = true;
                self.view.filters.entry(self.view.focus).or_default();
            }
            Action::Timeline => {
                self.view.focus = PanelId::Timeline;
                self.view.zoom = if self.view.zoom == Some(PanelId::Timeline) { None } else { Some(PanelId::Timeline) };
            }
            Action::ExportTimeline => match self.export_timeline(Utc::now()) {
                Ok(p) => self.say(Severity::Info, format!("timeline exported to {}", p.display())),
                Err(e) => self.say(Severity::Critical, format!("timeline export failed: {e}")),
            },
            Action::Cordon | Action::Uncordon | Action::Drain => match self.target_node() {
                None => self.say(Severity::Warn, "select a node first (Nodes panel)"),
                Some(node) => {
                    let req = match a {
                        Action::Cordon => OpRequest::Cordon { node },
                        Action::Uncordon => OpRequest::Uncordon { node },
                        _ => OpRequest::Drain { node, options: Default::default() },
                    };
                    return self.propose(req);
                }
            },
            Action::VipFailover => match self.failover_target() {
                None => self.say(Severity::Warn, "no load balancer to fail over to"),
                Some(to) => return self.propose(OpRequest::VipFailover { to, mode: FailoverMode::Graceful }),
            },
            Action::RenewCerts => {
                let masters: Vec<String> = self.model.plan.masters().map(|h| h.name.clone()).collect();
                return self.propose(OpRequest::RenewCerts { masters });
            }
            Action::ToggleNoout => {
                let set = self.model.ceph_view().is_some_and(|c| c.flags.iter().any(|f| f == "noout"));
                return self.propose(OpRequest::SetNoout { on: !set });
            }
            Action::Logs => self.view.dialog = Dialog::Logs,
            Action::LogSources => {
                self.view.dialog = Dialog::Logs;
                self.log_view.picker = Some(logsrc::Picker::default());
            }
            Action::Faults => {
                if self.supports_faults {
                    self.view.dialog = Dialog::Faults { selected: 0 };
                } else {
                    self.say(Severity::Warn, "fault injection is available in the demo and in drills only");
                }
            }
            Action::Pause => {
                if self.supports_faults {
                    self.paused = !self.paused;
                    self.say(Severity::Info, if self.paused { "simulation paused" } else { "simulation resumed" });
                    return vec![Command::SetPaused(self.paused)];
                }
            }
            Action::CycleTheme => {
                if !self.themes.is_empty() {
                    let i = self.themes.iter().position(|t| t.name == self.theme.name).map(|i| i + 1).unwrap_or(0) % self.themes.len();
                    self.theme = self.themes[i].clone();
                    self.say(Severity::Info, format!("theme: {}", self.theme.name));
                }
            }
        }
        vec![]
    }

    fn focus_order(&self) -> Vec<PanelId> {
        let laid: Vec<PanelId> = self.view.last_layout.iter().map(|(p, _)| *p).collect();
        if laid.len() > 1 { laid } else { PanelId::ALL.to_vec() }
    }

    fn focus_dir(&mut self, a: Action) {
        let Some(&(_, cur)) = self.view.last_layout.iter().find(|(p, _)| *p == self.view.focus) else { return };
        let (cx, cy) = (cur.x as i32 + cur.width as i32 / 2, cur.y as i32 + cur.height as i32 / 2);
        let best = self
            .view
            .last_layout
            .iter()
            .filter(|(p, _)| *p != self.view.focus)
            .filter_map(|(p, r)| {
                let (x, y) = (r.x as i32 + r.width as i32 / 2, r.y as i32 + r.height as i32 / 2);
                let ok = match a {
                    Action::FocusLeft => r.x + r.width <= cur.x,
                    Action::FocusRight => r.x >= cur.x + cur.width,
                    Action::FocusUp => r.y + r.height <= cur.y,
                    _ => r.y >= cur.y + cur.height,
                };
                ok.then(|| (((x - cx).pow(2) + 4 * (y - cy).pow(2)), *p))
            })
            .min();
        if let Some((_, p)) = best {
            self.view.focus = p;
        }
    }

    fn move_sel(&mut self, delta: i64) {
        let p = self.view.focus;
        let len = crate::model::rows::row_count(&self.model, p, self.view.filter(p)) as i64;
        let cur = self.view.selected(p) as i64;
        let next = (cur + delta).clamp(0, (len - 1).max(0));
        self.view.selected.insert(p, next as usize);
    }
}

#[cfg(test)]
mod tests;
