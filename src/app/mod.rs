//! The app: owns all state, turns keys into actions and actions into plans, dialogs and commands.
//! No terminal and no I/O beyond the audit log here: the event loop in [`run`] drives it, tests call it directly.

pub mod cmdline;
pub mod detail;
mod drill;
mod keys;
pub mod logsrc;
mod ops;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use crate::action::{Action, Layer};

use crate::backend::{BackendEvent, Command};
use crate::model::{Assessment, Model, PanelId, Severity, assess};
use crate::ops::Fault;
use crate::ops::audit::Audit;
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
    /// Quit was asked for while an operation runs: stop it at its safe point and quit once it has
    /// ended, or stay.
    QuitWhileRunning,
    Faults {
        selected: usize,
    },
    /// kockpit's own log (tracing, through tui-logger).
    OwnLog,
    /// The merged log viewer.
    Logs,
    /// The detail view of one item (Enter on its row).
    Detail {
        item: detail::Item,
        scroll: usize,
    },
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
    /// Long lines wrap (else they are cut at the edge, and `hscroll` scrolls them sideways).
    pub wrap: bool,
    /// Characters of each line's text scrolled off to the left (unwrapped).
    pub hscroll: usize,
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
    /// The operator asked it to stop (a key, quitting, a hang-up): an end that is not a success is
    /// then a cancellation, not a failure.
    pub cancel_requested: bool,
}

impl OpRun {
    /// It ended short because it was asked to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel_requested && matches!(self.result, Some((false, _)))
    }
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
    /// The `:` command line, while it is open.
    pub command: Option<cmdline::CommandLine>,
    /// Each table's order (an index into [`crate::model::rows::sort_orders`]; absent: its own).
    pub sort: BTreeMap<PanelId, usize>,
    /// The terminal was too small to draw the screen last time: keys act on nothing they cannot show.
    pub too_small: bool,
    /// The dialog help was opened from, shown again when help closes.
    pub help_back: Option<Dialog>,
    /// The dialog the log viewer was opened from (a detail view), shown again when it closes.
    pub logs_back: Option<Dialog>,
    /// The plan the confirmation last showed whole on screen (None: not drawn, or cut).
    pub confirm_seen: Option<crate::ops::OpPlan>,
    /// How far a confirmation taller than the screen is scrolled.
    pub confirm_scroll: usize,
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
            command: None,
            sort: BTreeMap::new(),
            too_small: false,
            help_back: None,
            logs_back: None,
            confirm_seen: None,
            confirm_scroll: 0,
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
    pub fn sort_of(&self, p: PanelId) -> usize {
        self.sort.get(&p).copied().unwrap_or(0)
    }
}

pub struct App {
    pub model: Model,
    pub view: ViewState,
    pub theme: Theme,
    pub themes: Vec<Theme>,
    pub keymap: Keymap,
    cap: Option<WriteCap>,
    audit: Audit,
    /// The audit writer's last failure already told on screen.
    audit_failure_shown: Option<String>,
    pub supports_faults: bool,
    /// On a terminal: a plan is confirmed only once it has been drawn whole (a `y` typed ahead of
    /// its dialog, or a plan cut by a small screen, does not go ahead).
    pub confirm_only_seen: bool,
    pub paused: bool,
    /// When the screen last saw the simulation paused (set by [`App::refresh`]).
    paused_at: Option<DateTime<Utc>>,
    pub quit: bool,
    /// Quit once this operation has ended (it was asked to stop at its next safe point, or cannot be
    /// stopped halfway and runs to its end).
    pub quit_after_op: Option<u64>,
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
    /// Command-line aliases (config.toml's `[aliases]`).
    pub aliases: BTreeMap<String, String>,
    /// The clusters of the fleet this cluster is one of (empty: kockpit watches this one only).
    pub fleet_names: Vec<String>,
    /// `:ctx NAME` asked for this cluster of the fleet.
    pub switch_to: Option<String>,
    /// Esc on the plain screen of a fleet's cluster: back to the fleet screen.
    pub back_to_fleet: bool,
    /// Command lines run this session, oldest first (Up/Down recall them).
    pub command_history: Vec<String>,
    /// How the header shows the time (config.toml's `clock`).
    pub clock: crate::config::Clock,
    /// The labels and pods of the node an open detail view shows, read on demand.
    pub node_extra: Option<detail::NodeFetch>,
    node_extra_seq: u64,
}

pub struct DrillState {
    pub pending: Option<crate::drill::DrillFile>,
    pub driver: Option<crate::drill::driver::Driver>,
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
        audit: Audit,
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
            audit_failure_shown: None,
            supports_faults,
            confirm_only_seen: false,
            paused: false,
            paused_at: None,
            quit: false,
            quit_after_op: None,
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
            aliases: BTreeMap::new(),
            fleet_names: Vec::new(),
            switch_to: None,
            back_to_fleet: false,
            command_history: Vec::new(),
            clock: crate::config::Clock::Seconds,
            node_extra: None,
            node_extra_seq: 0,
        }
    }

    pub fn readonly(&self) -> bool {
        self.cap.is_none()
    }

    /// Recompute health if the model moved or a second passed (staleness depends on time). Returns
    /// the time the screen shows: `wall`, or while the simulation is paused the moment it was paused
    /// (paused means paused: nothing ages, the clock included).
    pub fn refresh(&mut self, wall: DateTime<Utc>) -> DateTime<Utc> {
        if self.paused {
            self.paused_at.get_or_insert(wall);
        } else {
            self.paused_at = None;
        }
        let now = self.paused_at.unwrap_or(wall);
        self.check_audit();
        let key = (self.model.revision, now.timestamp());
        if key != self.assessed_at {
            self.assessment = assess(&self.model, now);
            self.assessed_at = key;
        }
        now
    }

    pub fn say(&mut self, sev: Severity, text: impl Into<String>) {
        self.notice = Some((sev, text.into(), Utc::now()));
        self.dirty = true;
    }

    /// Apply something the backend sent.
    pub fn on_backend(&mut self, ev: BackendEvent) {
        if let Some(d) = self.drill.as_mut().and_then(|d| d.driver.as_mut()) {
            d.on_event(&ev);
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
            BackendEvent::NodeDetail { id, result, .. } => self.on_node_extra(id, result),
        }
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

    pub fn act(&mut self, a: Action) -> Vec<Command> {
        if a.is_operation() {
            // what the key asks for, on what is selected; the planner refuses it when read-only
            // (naming it: "read-only: Cordon m1 refused"), a drain's dry run excepted
            return match self.request_for(a) {
                Ok(req) => self.propose(req),
                Err(_) if self.readonly() && a != Action::Drain => {
                    let what = match a {
                        Action::Cordon => "Cordon",
                        Action::Uncordon => "Uncordon",
                        Action::VipFailover => "VIP failover",
                        Action::RestoreVip => "Restore keepalived",
                        Action::EtcdMoveLeader => "Move etcd leadership",
                        Action::HaproxyDrain => "Drain from haproxy",
                        Action::HaproxyReady => "Make ready in haproxy",
                        Action::EtcdDefrag => "Defragment etcd",
                        Action::EtcdDisarm => "Disarm etcd's NOSPACE alarm",
                        Action::EtcdSnapshot => "Snapshot etcd",
                        Action::Maintenance | Action::MaintenanceEnd => "Master maintenance",
                        _ => a.name(),
                    };
                    self.refuse_readonly(what.to_string());
                    vec![]
                }
                Err(why) => {
                    self.say(Severity::Warn, why);
                    vec![]
                }
            };
        }
        match a {
            Action::Quit => return self.ask_quit(),
            Action::Help => self.view.dialog = Dialog::Help { scroll: 0 },
            Action::Cancel => {
                if self.view.filters.remove(&self.view.focus).is_none() {
                    // a fleet's cluster, nothing left to close: back to the fleet
                    if self.view.zoom.is_none() && !self.fleet_names.is_empty() {
                        self.back_to_fleet = true;
                    }
                    self.view.zoom = None;
                }
            }
            Action::Confirm => self.open_detail(),
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
                Ok(p) => {
                    let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                    let dir = p.parent().map(|d| d.display().to_string()).unwrap_or_default();
                    self.say(Severity::Info, format!("timeline exported: {name} and .jsonl, in {dir}"))
                }
                Err(e) => self.say(Severity::Critical, format!("timeline export failed: {e}")),
            },
            // handled above, through the planner
            Action::Cordon
            | Action::Uncordon
            | Action::Drain
            | Action::VipFailover
            | Action::RestoreVip
            | Action::RenewCerts
            | Action::ToggleNoout
            | Action::EtcdMoveLeader
            | Action::HaproxyDrain
            | Action::HaproxyReady
            | Action::EtcdDefrag
            | Action::EtcdDisarm
            | Action::EtcdSnapshot
            | Action::Maintenance
            | Action::MaintenanceEnd => {}
            Action::CommandLine => self.open_command_line(),
            Action::Sort => self.cycle_sort(),
            // the logs of what is selected (opened unless open already); with nothing to go by and
            // nothing open, the picker, never an empty viewer
            Action::Logs => {
                self.view.logs_back = None;
                self.view.dialog = Dialog::Logs;
                match self.selected_log_source() {
                    Some(spec) if !self.log_view.sources.iter().any(|s| !s.closed && s.spec == spec) => {
                        return self.open_log_source(spec);
                    }
                    Some(_) => {}
                    None if self.log_view.sources.iter().all(|s| s.closed) => self.log_view.picker = Some(logsrc::Picker::default()),
                    None => {}
                }
            }
            Action::LogSources => {
                self.view.logs_back = None;
                self.view.dialog = Dialog::Logs;
                self.log_view.picker = Some(logsrc::Picker::default());
            }
            Action::Faults => {
                if self.supports_faults {
                    self.view.dialog = Dialog::Faults { selected: 0 };
                } else {
                    self.say(Severity::Warn, crate::backend::route::FAULTS_DEMO_ONLY);
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
            // A dialog's commands: only its layer binds them, and its key handling acts on them.
            Action::ConfirmYes
            | Action::ConfirmNo
            | Action::EmergencyFailover
            | Action::DrainToggleEmptyDir
            | Action::DrainToggleUnmanaged
            | Action::CancelOperation
            | Action::InjectFault
            | Action::LogsSearch
            | Action::LogsPause
            | Action::LogsFollow
            | Action::LogsSave
            | Action::LogsOwnLog
            | Action::LogsWrap
            | Action::LogsLeft
            | Action::LogsRight
            | Action::PickerTogglePrevious
            | Action::PickerFilter => {}
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
                let (ok, beside) = match a {
                    Action::FocusLeft | Action::FocusRight => (
                        if a == Action::FocusLeft { r.x + r.width <= cur.x } else { r.x >= cur.x + cur.width },
                        r.y < cur.y + cur.height && r.y + r.height > cur.y,
                    ),
                    Action::FocusUp => (r.y + r.height <= cur.y, r.x < cur.x + cur.width && r.x + r.width > cur.x),
                    _ => (r.y >= cur.y + cur.height, r.x < cur.x + cur.width && r.x + r.width > cur.x),
                };
                // a panel level with this one first, then the nearest
                ok.then(|| (!beside, ((x - cx).pow(2) + 4 * (y - cy).pow(2)), *p))
            })
            .min();
        if let Some((_, _, p)) = best {
            self.view.focus = p;
        }
    }

    /// The focused table's next order; the selection stays on the same item.
    fn cycle_sort(&mut self) {
        let p = self.view.focus;
        let orders = crate::model::rows::sort_orders(p);
        if orders.is_empty() {
            self.say(Severity::Info, format!("{} has one order (sorting: Nodes, Certificates)", p.title()));
            return;
        }
        // every row's identity in the current order of the panel
        let keys = |app: &App| -> Vec<String> {
            match p {
                PanelId::Nodes => {
                    let nodes = app.model.nodes.data.as_deref().unwrap_or_default();
                    let rows = crate::model::rows::node_rows(&app.model, app.view.filter(p), app.view.sort_of(p));
                    rows.iter().map(|&i| nodes[i].name.clone()).collect()
                }
                _ => crate::model::rows::cert_rows(&app.model, app.view.filter(p), Utc::now(), app.view.sort_of(p))
                    .into_iter()
                    .map(|(h, c)| format!("{h} {}", c.name))
                    .collect(),
            }
        };
        let before = keys(self).get(self.view.selected(p)).cloned();
        let next = (self.view.sort_of(p) + 1) % orders.len();
        self.view.sort.insert(p, next);
        // the selected item stays selected, in its new place
        let at = before.and_then(|b| keys(self).iter().position(|k| *k == b)).unwrap_or(0);
        self.view.selected.insert(p, at);
        let how = match orders[next] {
            "cpu" | "memory" if self.model.nodes.data.iter().flatten().any(|n| n.cpu_used_m.is_some()) => " (highest use first)",
            "cpu" | "memory" => " (highest requests first: no metrics-server)",
            "pods" => " (most first)",
            "status" => " (NotReady, pressure, cordoned first)",
            "expiry" => " (soonest first)",
            _ => "",
        };
        self.say(Severity::Info, format!("{} sorted by {}{how}", p.title(), orders[next]));
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
