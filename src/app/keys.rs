//! Keys: every key is looked up in the keymap layer of what is on screen (the main layer, or the
//! open dialog's) and handled as the action it is bound to there. Only text being typed (a panel
//! filter, the log search, a picker entry) and the fault menu's numbers are read as characters.

use chrono::Utc;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde_json::json;

use super::*;

/// Where a text view's scroll goes for a selection move: down or up a line or a page, or back to the
/// top. None: the action does not scroll.
pub(super) fn scrolled(action: Option<Action>, scroll: usize) -> Option<usize> {
    Some(match action? {
        Action::SelectNext => scroll + 1,
        Action::SelectPrev => scroll.saturating_sub(1),
        Action::PageDown => scroll + 10,
        Action::PageUp => scroll.saturating_sub(10),
        Action::SelectFirst => 0,
        // the view keeps it within its text when it draws
        Action::SelectLast => usize::MAX / 4,
        _ => return None,
    })
}

impl App {
    /// The keymap layer keys are looked up in now: the open dialog's, else main's. (Text being
    /// typed, a filter or a search, takes printable keys before any layer.)
    pub fn key_layer(&self) -> Layer {
        match &self.view.dialog {
            Dialog::None | Dialog::Detail { .. } => Layer::Main,
            Dialog::Help { .. } => Layer::Help,
            Dialog::Confirm(_) | Dialog::QuitWhileRunning => Layer::Confirm,
            Dialog::Progress => Layer::Progress,
            Dialog::Faults { .. } => Layer::Faults,
            Dialog::Logs if self.log_view.picker.is_some() => Layer::Picker,
            Dialog::Logs | Dialog::OwnLog => Layer::Logs,
        }
    }

    pub(super) fn logs_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if self.log_view.picker.is_some() {
            let action = self.keymap.action(Layer::Picker, &key);
            return self.picker_key(key, action);
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
        match self.keymap.action(Layer::Logs, &key) {
            Some(Action::LogSources) => v.picker = Some(logsrc::Picker::default()),
            Some(Action::LogsSearch) => v.typing = true,
            Some(Action::LogsPause) => {
                v.paused_at = match v.paused_at {
                    Some(_) => None,
                    None => Some(self.logs.matching(&v.query).len()),
                };
            }
            Some(Action::LogsSave) => {
                let path = self.export_dir.join(format!("logs-{}-{}.log", self.model.meta.cluster, Utc::now().format("%Y%m%dT%H%M%S")));
                let q = self.log_view.query.clone();
                let r = std::fs::create_dir_all(&self.export_dir).and_then(|_| self.logs.save(&path, &q));
                match r {
                    Ok(n) => self.say(Severity::Info, format!("{n} log lines saved to {}", path.display())),
                    Err(e) => self.say(Severity::Critical, format!("saving the logs failed: {e}")),
                }
            }
            Some(Action::LogsOwnLog) => self.view.dialog = Dialog::OwnLog,
            Some(Action::Help) => {
                self.view.help_back = Some(Dialog::Logs);
                self.view.dialog = Dialog::Help { scroll: 0 };
            }
            Some(Action::LogsWrap) => {
                v.wrap = !v.wrap;
                v.hscroll = 0;
            }
            Some(Action::LogsRight) if !v.wrap => {
                // no further than the longest line goes
                let longest = self.logs.iter().map(|l| l.text.chars().count()).max().unwrap_or(0);
                v.hscroll = (v.hscroll + 20).min(longest.saturating_sub(20)).max(v.hscroll.min(longest));
            }
            Some(Action::LogsLeft) if !v.wrap => v.hscroll = v.hscroll.saturating_sub(20),
            Some(Action::LogsFollow | Action::SelectLast) => {
                v.scroll_back = 0;
                v.paused_at = None;
            }
            Some(Action::SelectPrev) => v.scroll_back += 1,
            Some(Action::SelectNext) => v.scroll_back = v.scroll_back.saturating_sub(1),
            Some(Action::PageUp) => v.scroll_back += 20,
            Some(Action::PageDown) => v.scroll_back = v.scroll_back.saturating_sub(20),
            Some(a @ (Action::Cancel | Action::Logs | Action::Quit)) => {
                if !v.query.is_empty() && a == Action::Cancel {
                    v.query.clear();
                } else {
                    self.view.dialog = self.view.logs_back.take().unwrap_or(Dialog::None);
                }
            }
            _ => {}
        }
        vec![]
    }

    /// Handle one key; returns commands for the backend. The key is looked up in the layer of
    /// what is on screen ([`App::key_layer`]); text being typed takes printable keys first.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let cmds = self.on_key_inner(key);
        // what these commands change is planned: the timeline says so
        crate::backend::note_planned(&mut self.model, &cmds, chrono::Utc::now());
        cmds
    }

    fn on_key_inner(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        self.dirty = true;
        // nothing is acted on unseen: on a screen too small to draw, only quit works
        if self.view.too_small {
            return match self.keymap.action(Layer::Main, &key) {
                Some(Action::Quit) => self.ask_quit(),
                _ => vec![],
            };
        }
        let typing = self.view.command.is_some() || self.view.filter_editing || self.log_view.typing || self.log_view.picker.is_some();
        if !typing
            && key.modifiers == KeyModifiers::ALT
            && matches!(key.code, KeyCode::Char(_))
            && self.keymap.action(self.key_layer(), &key).is_none()
        {
            // tmux and screen send an Esc and the key typed right after it as one Alt key (within
            // their escape-time): an unbound Alt key is what was typed, Esc then the key
            let mut cmds = self.on_key_inner(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            cmds.extend(self.on_key_inner(KeyEvent::new(key.code, KeyModifiers::NONE)));
            return cmds;
        }
        if self.view.command.is_some() {
            return self.command_key(key);
        }
        if self.view.filter_editing {
            self.filter_key(key);
            return vec![];
        }
        if self.view.dialog == Dialog::Logs {
            return self.logs_key(key);
        }
        let action = self.keymap.action(self.key_layer(), &key);
        match self.view.dialog.clone() {
            Dialog::None => action.map(|a| self.act(a)).unwrap_or_default(),
            Dialog::Help { scroll } => {
                if let Some(scroll) = scrolled(action, scroll) {
                    self.view.dialog = Dialog::Help { scroll };
                    return vec![];
                }
                match action {
                    Some(Action::Quit) if key.modifiers.contains(KeyModifiers::CONTROL) => return self.ask_quit(),
                    Some(Action::Cancel | Action::Help | Action::Quit | Action::Confirm) => {
                        self.view.dialog = self.view.help_back.take().unwrap_or(Dialog::None)
                    }
                    _ => {}
                }
                vec![]
            }
            Dialog::OwnLog => {
                if matches!(action, Some(Action::Cancel | Action::Logs | Action::LogsOwnLog | Action::Quit | Action::Confirm)) {
                    self.view.dialog = Dialog::Logs;
                }
                vec![]
            }
            Dialog::Logs => unreachable!("handled above"),
            Dialog::Detail { item, scroll } => self.detail_key(key, action, item, scroll),
            Dialog::Confirm(p) => {
                // help over the confirmation, which it comes back to (its plan still seen or not)
                if action == Some(Action::Help) {
                    self.view.help_back = Some(Dialog::Confirm(p));
                    self.view.dialog = Dialog::Help { scroll: 0 };
                    return vec![];
                }
                // a plan taller than the screen scrolls with the selection keys
                if let Some(s) = scrolled(action, self.view.confirm_scroll) {
                    self.view.confirm_scroll = s;
                    return vec![];
                }
                // a command typed over the confirmation (`:uncordon worker1` instead of `n`): the
                // confirmation is cancelled and the command line opens for it, so its letters are
                // not taken for the confirmation's keys, nor, once `n` closed it, for operations
                if action.is_none() && self.keymap.lookup(&key) == Some(Action::CommandLine) {
                    self.audit("op_cancelled", json!({ "request": p.request, "reason": "a command was typed over the confirmation" }));
                    self.view.dialog = Dialog::None;
                    self.say(Severity::Info, format!("{}: cancelled (a command was typed)", p.request.title()));
                    return self.act(Action::CommandLine);
                }
                if action.is_none() && matches!(key.code, KeyCode::Char(_)) {
                    let (k, n) = (self.confirm_key_name(Action::ConfirmYes), self.confirm_key_name(Action::ConfirmNo));
                    self.say(
                        Severity::Info,
                        format!("{}: waiting for {k} (go ahead) or {n} (cancel); other keys do nothing here", p.request.title()),
                    );
                    return vec![];
                }
                self.confirm_key(action, p)
            }
            Dialog::QuitWhileRunning => match action {
                Some(Action::ConfirmYes | Action::Confirm) => self.quit_when_stopped(),
                Some(Action::ConfirmNo | Action::Cancel | Action::Quit) => {
                    self.view.dialog = Dialog::None;
                    vec![]
                }
                _ => vec![],
            },
            Dialog::Progress => {
                let running = self.op.as_ref().filter(|r| r.result.is_none()).map(|r| (r.id, r.title.clone(), r.runs_to_its_end));
                if let (Some(Action::CancelOperation), Some((id, title, end))) = (action, running.clone()) {
                    if let Some(why) = end {
                        self.audit("op_cancel_declined", json!({ "op_id": id, "reason": why }));
                        self.say(Severity::Info, format!("{title} cannot be cancelled: {why}"));
                        return vec![];
                    }
                    self.audit("op_cancel_requested", json!({ "op_id": id }));
                    if let Some(run) = self.op.as_mut() {
                        run.cancel_requested = true;
                    }
                    self.say(Severity::Warn, format!("{title}: cancelling at the next safe point"));
                    return vec![Command::Cancel { id }];
                }
                if action == Some(Action::Quit) && running.is_some() {
                    return self.ask_quit();
                }
                if matches!(action, Some(Action::Cancel | Action::Confirm | Action::Quit)) {
                    self.view.dialog = Dialog::None;
                }
                vec![]
            }
            Dialog::Faults { selected } => {
                let n = Fault::ALL.len();
                // The digits pick a fault by its number, like text typed: no binding.
                let digit = match key.code {
                    KeyCode::Char(c) if c.is_ascii_digit() && c != '0' && key.modifiers.is_empty() => Some(c as usize - '1' as usize),
                    _ => None,
                };
                if let Some(d) = digit.filter(|d| *d < n) {
                    self.view.dialog = Dialog::None;
                    return self.fault(Fault::ALL[d]);
                }
                match action {
                    Some(Action::SelectNext) => self.view.dialog = Dialog::Faults { selected: (selected + 1) % n },
                    Some(Action::SelectPrev) => self.view.dialog = Dialog::Faults { selected: (selected + n - 1) % n },
                    Some(Action::SelectFirst) => self.view.dialog = Dialog::Faults { selected: 0 },
                    Some(Action::SelectLast) => self.view.dialog = Dialog::Faults { selected: n - 1 },
                    Some(Action::InjectFault | Action::Confirm) => {
                        self.view.dialog = Dialog::None;
                        return self.fault(Fault::ALL[selected]);
                    }
                    Some(Action::Cancel | Action::Faults | Action::Quit) => self.view.dialog = Dialog::None,
                    _ => {}
                }
                vec![]
            }
        }
    }

    /// Pasted text: into the text field being typed (the command line, a filter, the log search, a
    /// picker entry), its line breaks and control characters dropped; never read as keys.
    pub fn on_paste(&mut self, text: &str) {
        self.dirty = true;
        let clean: String = text
            .replace("\r\n", "\n")
            .chars()
            .map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c })
            .filter(|c| !c.is_control())
            .collect();
        let put = |field: &mut String, max: usize| -> bool {
            let room = max.saturating_sub(field.chars().count());
            field.extend(clean.chars().take(room));
            clean.chars().count() > room
        };
        let cut = if self.view.too_small {
            return;
        } else if let Some(cl) = self.view.command.as_mut() {
            let cut = cl.insert(&clean);
            cl.hint = cut.then(|| format!("pasted text cut at {} characters", cmdline::MAX_LEN));
            cl.error = cut;
            return;
        } else if self.view.filter_editing {
            put(self.view.filters.entry(self.view.focus).or_default(), 256)
        } else if self.view.dialog == Dialog::Logs && self.log_view.typing {
            put(&mut self.log_view.query, 256)
        } else if let Some(p) = self.log_view.picker.as_mut().filter(|_| self.view.dialog == Dialog::Logs) {
            match (&mut p.input, p.filtering) {
                (Some((_, t)), _) => put(t, 4096),
                (None, true) => put(&mut p.filter, 64),
                (None, false) => {
                    self.say(Severity::Info, "pasted text ignored: paste into a typed row or the filter (/)");
                    return;
                }
            }
        } else {
            self.say(Severity::Info, "pasted text ignored: it goes into the command line (:), a filter (/) or the log search");
            return;
        };
        if cut {
            self.say(Severity::Warn, "pasted text cut: the field is full");
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

    /// Answer the confirmation as its keys do: go ahead (`y`) or cancel (`n`) (`kockpit run`).
    pub fn answer_plan(&mut self, yes: bool) -> Vec<Command> {
        match self.view.dialog.clone() {
            Dialog::Confirm(p) => self.confirm_key(Some(if yes { Action::ConfirmYes } else { Action::ConfirmNo }), p),
            _ => vec![],
        }
    }

    /// The key a confirmation takes for `action` (`y`), or the action's name where none is bound.
    fn confirm_key_name(&self, action: Action) -> String {
        self.keymap.hints(Layer::Confirm, action, 1).unwrap_or_else(|| action.name().into())
    }

    pub(super) fn confirm_key(&mut self, action: Option<Action>, p: OpPlan) -> Vec<Command> {
        // only the confirm_yes key goes ahead: Enter typed ahead (after a command line, a filter)
        // must never carry out an operation
        let yes = action == Some(Action::ConfirmYes);
        if action == Some(Action::Confirm) {
            let k = self.confirm_key_name(Action::ConfirmYes);
            self.say(Severity::Info, format!("{}: press {k} to go ahead (Enter does not confirm an operation)", p.request.title()));
            return vec![];
        }
        let no = matches!(action, Some(Action::ConfirmNo | Action::Cancel | Action::Quit));
        match (action, &p.request) {
            (Some(Action::EmergencyFailover), OpRequest::VipFailover { to, mode: FailoverMode::Graceful }) => {
                let req = OpRequest::VipFailover { to: to.clone(), mode: FailoverMode::Emergency };
                return self.propose(req);
            }
            // A drain's options, toggled in the dialog: plan (and dry-run) again with them.
            (Some(a @ (Action::DrainToggleEmptyDir | Action::DrainToggleUnmanaged)), OpRequest::Drain { node, options }) => {
                let mut options = options.clone();
                if a == Action::DrainToggleEmptyDir {
                    options.delete_emptydir_data = !options.delete_emptydir_data;
                } else {
                    options.force_unmanaged = !options.force_unmanaged;
                }
                return self.propose(OpRequest::Drain { node: node.clone(), options });
            }
            _ => {}
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
        if self.confirm_only_seen && self.view.confirm_seen.as_ref() != Some(&p) {
            self.say(
                Severity::Warn,
                format!("{}: not confirmed: the plan's end was not on screen yet (scroll down to it)", p.request.title()),
            );
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
        self.op = Some(OpRun {
            id,
            title: fresh.request.title(),
            runs_to_its_end: fresh.request.runs_to_its_end(),
            steps: vec![],
            result: None,
            cancel_requested: false,
        });
        self.view.dialog = Dialog::Progress;
        vec![Command::Execute { id, request: fresh.request, cap }.after(recorded)]
    }

    /// A fault for the simulation, carried out once its record is on disk (refused when the log fails).
    pub(super) fn fault(&mut self, f: Fault) -> Vec<Command> {
        // a fault changes the (simulated) cluster: read-only changes nothing
        if self.readonly() {
            self.view.dialog = Dialog::None;
            self.refuse_readonly(format!("fault {}", f.name()));
            return vec![];
        }
        if let Some(e) = self.audit.failure() {
            self.say(Severity::Critical, format!("fault {}: refused, the audit log cannot be written ({e})", f.name()));
            return vec![];
        }
        let recorded = self.audit.record_durable("fault_injected", json!({ "fault": f.name() }));
        vec![Command::Fault(f).after(recorded)]
    }
}
