//! The fleet's event loop: every cluster's app fed by its backend all the time, the fleet screen or
//! one cluster's screen drawn, keys to the open cluster only (so operations act on it alone). Enter
//! opens a cluster, Esc on its plain screen goes back, `:ctx NAME` jumps.

use std::time::Duration;

use chrono::Utc;
use color_eyre::Result;
use futures_util::StreamExt;
use ratatui::crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::fleet::{FleetView, draw_fleet};
use super::run::Ended;
use crate::app::App;
use crate::backend::{BackendEvent, BackendHandle, Command};
use crate::model::fleet::FleetRow;
use crate::settings::theme::Theme;

/// One cluster of the running fleet.
pub struct Running {
    pub name: String,
    pub app: App,
    pub commands: mpsc::UnboundedSender<Command>,
    pub member: crate::fleet::Member,
    /// It runs the light probe set (not opened yet).
    pub light: bool,
}

/// What the fleet loop holds.
pub struct Fleet {
    pub clusters: Vec<Running>,
    /// The cluster whose screen is shown (None: the fleet screen).
    pub open: Option<usize>,
    pub view: FleetView,
    pub theme: Theme,
    pub quit: bool,
    /// The audit session (said in the User-Agent of a backend started on opening).
    pub session: String,
    /// Where every backend's events go, tagged with the cluster's index (set by [`run_fleet`]).
    pub events: Option<mpsc::Sender<(usize, BackendEvent)>>,
}

impl Fleet {
    /// The fleet's rows, problems first, each with its index in `clusters`.
    pub fn rows(&mut self, now: chrono::DateTime<Utc>) -> Vec<(usize, FleetRow)> {
        let mut rows: Vec<(usize, FleetRow)> = self
            .clusters
            .iter_mut()
            .enumerate()
            .map(|(i, c)| {
                let now = c.app.refresh(now);
                (i, FleetRow::of(&c.name, &c.app.model, &c.app.assessment, now))
            })
            .collect();
        rows.sort_by(|(_, a), (_, b)| FleetRow::problems_first(a, b));
        rows
    }

    /// Open cluster `i`'s screen; a cluster that ran the light probe set gets its full one (the
    /// light backend stops when its handle goes).
    pub fn open(&mut self, i: usize) {
        self.open = Some(i);
        let c = &mut self.clusters[i];
        if c.light
            && let Some(tx) = &self.events
        {
            let (mut backend, _) = crate::fleet::start_or_explain(&c.member, Some(&self.session), false);
            c.commands = backend.commands.clone();
            c.light = false;
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(ev) = backend.events.recv().await {
                    if tx.send((i, ev)).await.is_err() {
                        return;
                    }
                }
            });
        }
        let app = &mut self.clusters[i].app;
        app.back_to_fleet = false;
        app.dirty = true;
    }

    /// A key on the fleet screen; commands never come from here (nothing is acted on from the fleet).
    pub fn fleet_key(&mut self, key: KeyEvent, now: chrono::DateTime<Utc>) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        self.view.message = None;
        if let Some(p) = self.view.prompt.as_mut() {
            match key.code {
                KeyCode::Esc => self.view.prompt = None,
                KeyCode::Backspace => {
                    p.pop();
                }
                KeyCode::Tab => {
                    let word = p.trim_start_matches("ctx").trim();
                    let fits: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).filter(|n| n.starts_with(word)).collect();
                    if let [one] = fits.as_slice() {
                        *p = format!("ctx {one}");
                    } else if !fits.is_empty() {
                        self.view.message = Some(fits.join(" "));
                    }
                }
                KeyCode::Enter => {
                    let line = self.view.prompt.take().unwrap_or_default();
                    self.command(&line);
                }
                // the line editor's own keys, as on a cluster's command line
                KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => p.clear(),
                KeyCode::Char('w') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    let kept = p.trim_end().rfind(' ').map(|i| i + 1).unwrap_or(0);
                    p.truncate(kept);
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) && p.len() < 200 => p.push(c),
                _ => {}
            }
            return;
        }
        let rows = self.rows(now);
        let n = rows.len();
        match (key.code, key.modifiers.contains(KeyModifiers::CONTROL)) {
            (KeyCode::Char('q'), _) | (KeyCode::Char('c'), true) => self.ask_quit(),
            (KeyCode::Down | KeyCode::Char('j'), false) => self.view.selected = (self.view.selected + 1).min(n.saturating_sub(1)),
            (KeyCode::Up | KeyCode::Char('k'), false) => self.view.selected = self.view.selected.saturating_sub(1),
            (KeyCode::Home | KeyCode::Char('g'), false) => self.view.selected = 0,
            (KeyCode::End | KeyCode::Char('G'), _) => self.view.selected = n.saturating_sub(1),
            (KeyCode::Enter, _) => {
                if let Some((i, _)) = rows.get(self.view.selected) {
                    self.open(*i);
                }
            }
            (KeyCode::Char(':'), _) => self.view.prompt = Some(String::new()),
            _ => {}
        }
    }

    /// A `:` line on the fleet screen: `ctx NAME` (or the name alone) opens a cluster, `q` quits.
    fn command(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let name = match words.as_slice() {
            ["ctx"] => {
                let names: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
                self.view.message = Some(format!("ctx CLUSTER: one of {}", names.join(", ")));
                return;
            }
            ["ctx", name] | [name] if *name != "q" && *name != "quit" => *name,
            ["q" | "quit"] => return self.ask_quit(),
            [] => return,
            _ => {
                self.view.message = Some("on the fleet screen: ctx CLUSTER, or q".into());
                return;
            }
        };
        self.jump(name);
    }

    /// Open the cluster named `name`, or say which there are.
    pub fn jump(&mut self, name: &str) {
        match self.clusters.iter().position(|c| c.name == name) {
            Some(i) => self.open(i),
            None => {
                let names: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
                let shown = crate::config::clip_word(name);
                let msg = format!("no cluster `{shown}` ({})", names.join(", "));
                match self.open {
                    Some(o) => self.clusters[o].app.say(crate::model::Severity::Warn, msg),
                    None => self.view.message = Some(msg),
                }
            }
        }
    }

    /// Quit, unless an operation runs somewhere: then say where (it is quit from its own screen,
    /// which asks whether to cancel it).
    fn ask_quit(&mut self) {
        let running: Vec<&str> =
            self.clusters.iter().filter(|c| c.app.op.as_ref().is_some_and(|o| o.result.is_none())).map(|c| c.name.as_str()).collect();
        if running.is_empty() {
            self.quit = true;
        } else {
            self.view.message = Some(format!("an operation runs in {}: open it (:ctx) and quit from there", running.join(", ")));
        }
    }
}

/// Run the fleet until the user quits or the process is told to stop.
pub async fn run_fleet(fleet: &mut Fleet, backends: Vec<BackendHandle>) -> Result<Ended> {
    let mut terminal = ratatui::init();
    for c in &mut fleet.clusters {
        c.app.confirm_only_seen = true;
    }
    let (tx, mut events) = mpsc::channel::<(usize, BackendEvent)>(4096);
    for (i, b) in backends.into_iter().enumerate() {
        let tx = tx.clone();
        // the cluster's entry holds the only command sender: replacing it (opening a light cluster)
        // stops the backend it belonged to
        let BackendHandle { mut events, .. } = b;
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                if tx.send((i, ev)).await.is_err() {
                    return;
                }
            }
        });
    }
    fleet.events = Some(tx);
    let r = fleet_loop(&mut terminal, fleet, &mut events).await;
    if let Err(e) = ratatui::try_restore() {
        tracing::warn!("terminal not restored: {e}");
    }
    r
}

async fn fleet_loop(
    terminal: &mut ratatui::DefaultTerminal,
    fleet: &mut Fleet,
    events: &mut mpsc::Receiver<(usize, BackendEvent)>,
) -> Result<Ended> {
    let mut input = EventStream::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    let mut last: Option<ratatui::buffer::Buffer> = None;
    // the fleet screen redraws when a cluster's model changes
    let mut revisions: Vec<u64> = vec![];
    let mut pending = false;
    loop {
        let now = Utc::now();
        if let Some(i) = fleet.open
            && fleet.clusters[i].app.dirty
        {
            dirty = true;
        }
        if dirty {
            let drawn = match fleet.open {
                Some(i) => {
                    let app = &mut fleet.clusters[i].app;
                    let now = app.refresh(now);
                    app.dirty = false;
                    terminal.draw(|f| super::draw(f, app, now))
                }
                None => {
                    let rows: Vec<FleetRow> = fleet.rows(now).into_iter().map(|(_, r)| r).collect();
                    let (view, theme) = (&mut fleet.view, &fleet.theme);
                    terminal.draw(|f| draw_fleet(f, &rows, view, theme, now))
                }
            };
            match drawn {
                Ok(frame) => last = Some(frame.buffer.clone()),
                Err(e) => {
                    tracing::warn!("cannot draw: {e}");
                    return wind_down(fleet, events, Ended::InputClosed).await;
                }
            }
            dirty = false;
        }
        tokio::select! {
            ev = input.next() => {
                match ev {
                    Some(Ok(Event::Key(k))) => {
                        dirty = true;
                        match fleet.open {
                            Some(i) => {
                                let cmds = fleet.clusters[i].app.on_key(k);
                                for c in cmds {
                                    let _ = fleet.clusters[i].commands.send(c);
                                }
                                let app = &mut fleet.clusters[i].app;
                                if app.quit {
                                    return Ok(Ended::Quit);
                                }
                                if std::mem::take(&mut app.back_to_fleet) {
                                    fleet.open = None;
                                }
                                if let Some(to) = app.switch_to.take() {
                                    fleet.jump(&to);
                                }
                            }
                            None => fleet.fleet_key(k, Utc::now()),
                        }
                    }
                    Some(Ok(Event::Resize(_, _))) => dirty = true,
                    Some(Ok(Event::Paste(text))) => {
                        if let Some(i) = fleet.open {
                            fleet.clusters[i].app.on_paste(&text);
                        }
                        dirty = true;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return wind_down(fleet, events, Ended::InputClosed).await,
                }
            }
            ev = events.recv() => {
                let Some((i, ev)) = ev else { return Ok(Ended::BackendStopped) };
                fleet.clusters[i].app.on_backend(ev);
                while let Ok((i, ev)) = events.try_recv() {
                    fleet.clusters[i].app.on_backend(ev);
                }
                // the fleet screen shows a change at the next second at the latest: one frame a second
                // for twenty clusters that each change twice a second
                if fleet.open.is_none() {
                    let now: Vec<u64> = fleet.clusters.iter().map(|c| c.app.model.revision).collect();
                    if now != revisions {
                        revisions = now;
                        pending = true;
                    }
                }
            }
            _ = clock.tick() => {
                let now = Utc::now();
                if std::mem::take(&mut pending) && fleet.open.is_none() {
                    dirty = true;
                }
                let changed = dirty || match (fleet.open, last.as_ref()) {
                    (Some(i), Some(l)) => super::run::tick_changes(&mut fleet.clusters[i].app, Some(l), now),
                    (None, Some(l)) => {
                        let rows: Vec<FleetRow> = fleet.rows(now).into_iter().map(|(_, r)| r).collect();
                        super::fleet::render_fleet_buffer(&rows, &mut fleet.view.clone(), &fleet.theme, l.area.width, l.area.height, now) != *l
                    }
                    _ => true,
                };
                dirty |= changed;
            }
            _ = term.recv() => return wind_down(fleet, events, Ended::Terminated).await,
            _ = int.recv() => return wind_down(fleet, events, Ended::Terminated).await,
            _ = hup.recv() => return wind_down(fleet, events, Ended::HangUp).await,
        }
        for c in &mut fleet.clusters {
            for cmd in c.app.due(Utc::now()) {
                let _ = c.commands.send(cmd);
            }
        }
        if fleet.quit {
            return Ok(Ended::Quit);
        }
    }
}

/// After a hang-up or SIGTERM: every cluster's running operation is told to stop at its safe point
/// (what each app's `hang_up` sends), and backend events are taken (no drawing) until every app
/// says it may quit or the grace runs out.
async fn wind_down(fleet: &mut Fleet, events: &mut mpsc::Receiver<(usize, BackendEvent)>, reason: Ended) -> Result<Ended> {
    for c in &mut fleet.clusters {
        for cmd in c.app.hang_up(reason.name()) {
            let _ = c.commands.send(cmd);
        }
    }
    let deadline = tokio::time::Instant::now() + super::run::STOP_GRACE;
    while fleet.clusters.iter().any(|c| !c.app.quit) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some((i, ev))) => fleet.clusters[i].app.on_backend(ev),
            Ok(None) | Err(_) => break,
        }
    }
    Ok(reason)
}
