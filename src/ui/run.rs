//! The event loop: one `tokio::select!` over terminal input, backend events, a clock aligned to the
//! second, and termination signals. It draws only when something visible changed or the clock moved,
//! and ratatui's diffing then writes only the cells that differ: an idle screen writes almost nothing.

use std::time::Duration;

use chrono::Utc;
use color_eyre::Result;
use futures_util::StreamExt;
use ratatui::crossterm::event::{Event, EventStream};
use tokio::signal::unix::{SignalKind, signal};

use crate::app::App;
use crate::backend::BackendHandle;
use crate::ui;

/// How long a hang-up or SIGTERM waits for a running operation to reach its safe point and end.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(60);

/// Why the screen ended, for the audit log's `session_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Quit,
    /// SIGHUP: the terminal or the SSH session went away.
    HangUp,
    /// SIGTERM or SIGINT.
    Terminated,
    /// Standard input ended or failed (the pty is gone).
    InputClosed,
    BackendStopped,
    /// After the first frame (start-up benchmarks).
    FirstFrame,
}

impl Ended {
    pub fn name(self) -> &'static str {
        match self {
            Ended::Quit => "quit",
            Ended::HangUp => "hangup",
            Ended::Terminated => "terminated",
            Ended::InputClosed => "input closed",
            Ended::BackendStopped => "backend stopped",
            Ended::FirstFrame => "first frame",
        }
    }
}

/// On a clock tick: whether the screen would look any different from `last` now (the clock moved,
/// an age crossed a boundary, a source went stale). Drawing only then keeps an idle screen silent:
/// even an empty frame costs the terminal its cursor and colour resets.
pub fn tick_changes(app: &mut App, last: Option<&ratatui::buffer::Buffer>, now: chrono::DateTime<Utc>) -> bool {
    let Some(last) = last else { return true };
    ui::render_buffer(app, last.area.width, last.area.height, now) != *last
}

/// Input events taken in one go before a frame is drawn.
const INPUT_BATCH: usize = 4096;

/// Run the TUI until the user quits or the process is told to stop. The terminal is restored on
/// every path out, panics included (ratatui's init installs a restoring panic hook). A hang-up, the
/// end of input or SIGTERM stops a running operation at its safe point and waits for its end (at most
/// [`STOP_GRACE`]) before returning, so the audit log has the end of what was started.
pub async fn run_tui(app: &mut App, backend: &mut BackendHandle, exit_after_first_frame: bool) -> Result<Ended> {
    let mut terminal = ratatui::init();
    app.confirm_only_seen = true;
    // a paste arrives as one piece of text, never as keys: a pasted line with `y` and Enter in it
    // must not confirm anything
    let pasting = ratatui::crossterm::execute!(std::io::stdout(), ratatui::crossterm::event::EnableBracketedPaste).is_ok();
    if pasting {
        let restore = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = ratatui::crossterm::execute!(std::io::stdout(), ratatui::crossterm::event::DisableBracketedPaste);
            restore(info);
        }));
    }
    let result = event_loop(&mut terminal, app, backend, exit_after_first_frame).await;
    if matches!(result, Ok(Ended::HangUp | Ended::InputClosed)) {
        // No terminal any more: every write to it fails with EIO, and a failed print (ratatui's
        // "Failed to restore terminal", its cursor shown on drop) panics, ending the session
        // unrecorded. Point standard input and output at /dev/null first.
        detach_from_terminal();
    } else if pasting {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), ratatui::crossterm::event::DisableBracketedPaste);
    }
    if let Err(e) = ratatui::try_restore() {
        tracing::warn!("terminal not restored: {e}");
    }
    result
}

/// Replace standard input, output and error with /dev/null.
fn detach_from_terminal() {
    use std::os::fd::AsRawFd;
    let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") else { return };
    for fd in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors with a valid open descriptor; nothing holds
        // a borrowed view of them that could observe the swap unsafely.
        unsafe {
            libc::dup2(null.as_raw_fd(), fd);
        }
    }
}

/// After a hang-up: send what stops the running operation, then take backend events (no drawing:
/// there may be no terminal) until the app says it may quit or the grace runs out.
async fn wind_down(app: &mut App, backend: &mut BackendHandle, reason: Ended) -> Result<Ended> {
    for cmd in app.hang_up(reason.name()) {
        let _ = backend.commands.send(cmd);
    }
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    // (a drill's report is written, and its undo waited for, as the operation's end is)
    for cmd in app.drive_drill(Utc::now()) {
        let _ = backend.commands.send(cmd);
    }
    while !app.quit || app.drill_outstanding() > 0 {
        match tokio::time::timeout_at(deadline, backend.events.recv()).await {
            Ok(Some(ev)) => {
                app.on_backend(ev);
                for cmd in app.drive_drill(Utc::now()) {
                    let _ = backend.commands.send(cmd);
                }
            }
            Ok(None) => break,
            Err(_) => {
                tracing::warn!("the running operation did not end within {} s of the {}", STOP_GRACE.as_secs(), reason.name());
                break;
            }
        }
    }
    Ok(reason)
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    backend: &mut BackendHandle,
    exit_after_first_frame: bool,
) -> Result<Ended> {
    let mut input = EventStream::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    // Tick on the wall clock's second boundaries so the clock never shows a stale second.
    let ms = Utc::now().timestamp_subsec_millis() as u64;
    let start = tokio::time::Instant::now() + Duration::from_millis(1000 - ms.min(999));
    let mut clock = tokio::time::interval_at(start, Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut frames: u64 = 0;
    let started = std::time::Instant::now();
    // the last frame drawn: a clock tick draws only when the screen would look different
    let mut last: Option<ratatui::buffer::Buffer> = None;
    loop {
        if app.dirty {
            let now = app.refresh(Utc::now());
            match terminal.draw(|f| ui::draw(f, app, now)) {
                Ok(frame) => last = Some(frame.buffer.clone()),
                Err(e) => {
                    // the terminal is gone (EIO after a hang-up): stop as for a hang-up
                    tracing::warn!("cannot draw: {e}");
                    return wind_down(app, backend, Ended::InputClosed).await;
                }
            }
            app.dirty = false;
            frames += 1;
            if frames == 1 {
                tracing::info!("first frame after {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
                // Lets the end-to-end tests prove the terminal is restored when kockpit panics.
                if std::env::var_os("KOCKPIT_TEST_PANIC").is_some() {
                    panic!("panic requested by KOCKPIT_TEST_PANIC");
                }
                if exit_after_first_frame {
                    return Ok(Ended::FirstFrame);
                }
            }
        }
        tokio::select! {
            ev = input.next() => {
                // everything already typed (a paste without bracketed paste is thousands of keys) is
                // taken before the next frame: one draw for the lot, not one per key
                let mut ev = ev;
                for _ in 0..INPUT_BATCH {
                    match ev {
                        Some(Ok(Event::Key(k))) => {
                            for cmd in app.on_key(k) {
                                if backend.commands.send(cmd).is_err() {
                                    tracing::warn!("backend stopped; command dropped");
                                }
                            }
                        }
                        Some(Ok(Event::Resize(_, _))) => app.dirty = true,
                        Some(Ok(Event::Paste(text))) => app.on_paste(&text),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!("terminal input failed: {e}");
                            return wind_down(app, backend, Ended::InputClosed).await;
                        }
                        None => return wind_down(app, backend, Ended::InputClosed).await,
                    }
                    if app.quit {
                        break;
                    }
                    match futures_util::FutureExt::now_or_never(input.next()) {
                        Some(next) => ev = next,
                        None => break,
                    }
                }
            }
            ev = backend.events.recv() => {
                let Some(ev) = ev else {
                    tracing::error!("backend stopped");
                    return Ok(Ended::BackendStopped);
                };
                app.on_backend(ev);
                // Take everything already queued before drawing once.
                while let Ok(ev) = backend.events.try_recv() {
                    app.on_backend(ev);
                }
            }
            _ = clock.tick() => {
                if tick_changes(app, last.as_ref(), Utc::now()) {
                    app.dirty = true;
                }
            }
            _ = term.recv() => return wind_down(app, backend, Ended::Terminated).await,
            _ = int.recv() => return wind_down(app, backend, Ended::Terminated).await,
            _ = hup.recv() => return wind_down(app, backend, Ended::HangUp).await,
        }
        for cmd in app.due(Utc::now()) {
            if backend.commands.send(cmd).is_err() {
                tracing::warn!("backend stopped; drill command dropped");
            }
        }
        if app.quit {
            return Ok(Ended::Quit);
        }
    }
}
