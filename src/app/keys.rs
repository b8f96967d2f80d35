//! Keys: the main layer through the keymap, and the keys of each dialog.

use chrono::Utc;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde_json::json;

use super::*;

impl App {
    pub(super) fn logs_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Command> {
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

    pub(super) fn filter_key(&mut self, key: KeyEvent) {
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

    pub(super) fn confirm_key(&mut self, key: KeyEvent, action: Option<Action>, p: OpPlan) -> Vec<Command> {
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
        // carried out only once this record is on disk: nothing is acted on unrecorded
        let recorded =
            self.audit.record_durable("op_confirmed", json!({ "op_id": id, "request": fresh.request, "warnings": fresh.warnings }));
        self.op =
            Some(OpRun { id, title: fresh.request.title(), runs_to_its_end: fresh.request.runs_to_its_end(), steps: vec![], result: None });
        self.view.dialog = Dialog::Progress;
        vec![Command::Execute { id, request: fresh.request, cap }.after(recorded)]
    }

    pub(super) fn fault(&mut self, f: Fault) -> Command {
        self.audit("fault_injected", json!({ "fault": f.name() }));
        Command::Fault(f)
    }
}
