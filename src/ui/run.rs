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

/// Run the TUI until the user quits or the process is told to stop. The terminal is restored on
/// every path out, panics included (ratatui's init installs a restoring panic hook).
pub async fn run_tui(app: &mut App, backend: &mut BackendHandle, exit_after_first_frame: bool) -> Result<()> {
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, app, backend, exit_after_first_frame).await;
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    backend: &mut BackendHandle,
    exit_after_first_frame: bool,
) -> Result<()> {
    let mut input = EventStream::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    // Tick on the wall clock's second boundaries so the clock never shows a stale second.
    let ms = Utc::now().timestamp_subsec_millis() as u64;
    let start = tokio::time::Instant::now() + Duration::from_millis(1000 - ms.min(999));
    let mut clock = tokio::time::interval_at(start, Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut frames: u64 = 0;
    let started = std::time::Instant::now();
    loop {
        if app.dirty {
            let now = Utc::now();
            app.refresh(now);
            terminal.draw(|f| ui::draw(f, app, now))?;
            app.dirty = false;
            frames += 1;
            if frames == 1 {
                tracing::info!("first frame after {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
                // Lets the end-to-end tests prove the terminal is restored when kockpit panics.
                if std::env::var_os("KOCKPIT_TEST_PANIC").is_some() {
                    panic!("panic requested by KOCKPIT_TEST_PANIC");
                }
                if exit_after_first_frame {
                    return Ok(());
                }
            }
        }
        tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(Event::Key(k))) => {
                    for cmd in app.on_key(k) {
                        if backend.commands.send(cmd).is_err() {
                            tracing::warn!("backend stopped; command dropped");
                        }
                    }
                }
                Some(Ok(Event::Resize(_, _))) => app.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            ev = backend.events.recv() => {
                let Some(ev) = ev else {
                    tracing::error!("backend stopped");
                    return Ok(());
                };
                app.on_backend(ev);
                // Take everything already queued before drawing once.
                while let Ok(ev) = backend.events.try_recv() {
                    app.on_backend(ev);
                }
            }
            _ = clock.tick() => app.dirty = true,
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => return Ok(()),
        }
        for cmd in app.drive_drill(Utc::now()) {
            if backend.commands.send(cmd).is_err() {
                tracing::warn!("backend stopped; drill command dropped");
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}
