//! `cargo bench --bench render`: the cockpit's speed and terminal-output figures.
//!
//! - one frame of the 8-host demo and of a 5,000-node simulated cluster at 200x60
//! - bytes written to the terminal per idle minute (real crossterm backend into a counting writer)
//! - launch to first complete frame of the real binary in a pseudo-terminal (tmux)

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kockpit::app::App;
use kockpit::model::Mode;
use kockpit::ops::WriteCap;
use kockpit::settings::keymap::Keymap;
use kockpit::settings::theme::Theme;
use kockpit::sim::{self, settled_demo};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

fn app(nodes: usize, now: DateTime<Utc>) -> (sim::SimCluster, App) {
    let (sim, model) = settled_demo(&[], nodes, now, 2, Mode::Demo);
    let app = App::new(
        model,
        Theme::dark(),
        vec![],
        Keymap::builtin("default").unwrap(),
        WriteCap::acquire(false),
        kockpit::ops::audit::Audit::discard(),
        true,
    );
    (sim, app)
}

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let p = |q: f64| v[((v.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!("{name:<48} n={:<5} median {:>8.3} ms   p95 {:>8.3} ms   max {:>8.3} ms", v.len(), p(0.5), p(0.95), p(1.0));
}

fn frames(name: &str, nodes: usize, changing: bool, n: usize) {
    let now = Utc::now();
    let (mut sim, mut app) = app(nodes, now);
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut t = now;
    // untimed: the first frames pay for cold caches and allocations the steady state does not
    for _ in 0..200 {
        app.refresh(t);
        term.draw(|f| kockpit::ui::draw(f, &mut app, t)).unwrap();
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        if changing {
            let next = t + chrono::Duration::milliseconds(500);
            sim::advance(&mut sim, &mut app.model, t, next);
            t = next;
        }
        let t0 = Instant::now();
        app.refresh(t);
        term.draw(|f| kockpit::ui::draw(f, &mut app, t)).unwrap();
        times.push(t0.elapsed());
    }
    stats(name, times);
}

struct Counting(std::rc::Rc<std::cell::Cell<u64>>);
impl Write for Counting {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + b.len() as u64);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One minute of once-a-second redraws (the clock tick) while every probe keeps reporting the same
/// state (the leader-election leases renewed, as a healthy cluster's are), written by the real
/// crossterm backend.
fn idle_bytes(changing: bool, clock: kockpit::config::Clock) -> u64 {
    let now = Utc::now();
    let (mut sim, mut app) = app(0, now);
    app.clock = clock;
    sim.paused = !changing;
    let opts = TerminalOptions { viewport: Viewport::Fixed(Rect::new(0, 0, 200, 60)) };
    let count = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut term = Terminal::with_options(CrosstermBackend::new(Counting(count.clone())), opts).unwrap();
    let mut t = now;
    app.refresh(t);
    let mut last = term.draw(|f| kockpit::ui::draw(f, &mut app, t)).unwrap().buffer.clone();
    let first = count.get();
    // A frozen world still answers every probe: re-observe the same state each second.
    let frozen = sim.observe(t);
    for _ in 0..60 {
        let next = t + chrono::Duration::seconds(1);
        if changing {
            sim::advance(&mut sim, &mut app.model, t, next);
        } else {
            for mut o in frozen.clone() {
                o.at = next;
                if let kockpit::model::Payload::Leases(Ok(ls)) = &mut o.payload {
                    for l in ls {
                        l.renew_time = Some(next);
                    }
                }
                app.model.apply(o);
            }
        }
        t = next;
        // as the event loop does: a tick draws only when the screen would change
        if kockpit::ui::run::tick_changes(&mut app, Some(&last), t) {
            app.refresh(t);
            last = term.draw(|f| kockpit::ui::draw(f, &mut app, t)).unwrap().buffer.clone();
        }
    }
    count.get() - first
}

/// Which screen rows differ between two idle ticks (to explain the idle figure).
fn idle_rows() -> Vec<String> {
    let now = Utc::now();
    let (sim, mut app) = app(0, now);
    app.clock = kockpit::config::Clock::Off;
    let frozen = sim.observe(now);
    let mut prev: Option<ratatui::buffer::Buffer> = None;
    let mut out = vec![];
    for i in 0..60 {
        let t = now + chrono::Duration::seconds(i);
        for mut o in frozen.clone() {
            o.at = t;
            if let kockpit::model::Payload::Leases(Ok(ls)) = &mut o.payload {
                for l in ls {
                    l.renew_time = Some(t);
                }
            }
            app.model.apply(o);
        }
        let b = kockpit::ui::render_buffer(&mut app, 200, 60, t);
        if let Some(p) = &prev {
            for y in 0..60 {
                let row = |b: &ratatui::buffer::Buffer| (0..200).map(|x| b[(x, y)].symbol().to_string()).collect::<String>();
                if row(p) != row(&b) {
                    out.push(format!("row {y}: {}", row(&b).trim_end()));
                }
            }
        }
        prev = Some(b);
    }
    out
}

fn startup(n: usize) {
    let bin = std::env::var("KOCKPIT_BIN").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/kockpit").to_string());
    if !std::path::Path::new(&bin).exists() {
        println!("startup: {bin} not built (cargo build --release), skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kockpit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = format!("kockpit-bench-{}", std::process::id());
    // One long-lived session keeps the server up; every run gets its own window.
    std::process::Command::new("tmux")
        .args(["-L", &sock, "-f", "/dev/null", "new-session", "-d", "-s", "keep", "-x", "200", "-y", "60", "sleep 600"])
        .status()
        .unwrap();
    let mut internal = vec![];
    let mut external = vec![];
    for i in 0..n {
        let out = dir.join(format!("run{i}.txt"));
        let cmd = format!(
            "env XDG_STATE_HOME={d} KOCKPIT_CONFIG_DIR={d} KOCKPIT_EXIT_AFTER_FIRST_FRAME=1 {bin} demo 2>{o}; echo done >> {o}",
            d = dir.display(),
            o = out.display()
        );
        let t0 = Instant::now();
        std::process::Command::new("tmux").args(["-L", &sock, "new-window", "-t", "keep", &cmd]).status().unwrap();
        loop {
            let s = std::fs::read_to_string(&out).unwrap_or_default();
            if s.contains("done") {
                external.push(t0.elapsed());
                if let Some(ms) =
                    s.split("first frame after ").nth(1).and_then(|r| r.split(" ms").next()).and_then(|x| x.parse::<f64>().ok())
                {
                    internal.push(Duration::from_secs_f64(ms / 1000.0));
                }
                break;
            }
            if t0.elapsed() > Duration::from_secs(10) {
                panic!("no first frame: {s}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let _ = std::process::Command::new("tmux").args(["-L", &sock, "kill-server"]).status();
    let _ = std::fs::remove_dir_all(&dir);
    stats("launch: main() to first frame drawn (200x60)", internal);
    stats("launch: tmux spawn to process exit (upper bound)", external);
}

fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

/// CPU use of the real binary over `secs`, running the demo, then with the simulation paused.
fn idle_cpu(secs: u64) {
    let bin = std::env::var("KOCKPIT_BIN").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/kockpit").to_string());
    if !std::path::Path::new(&bin).exists() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("kockpit-cpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = format!("kockpit-cpu-{}", std::process::id());
    let cmd = format!("env XDG_STATE_HOME={d} KOCKPIT_CONFIG_DIR={d} {bin} demo", d = dir.display());
    let tmux = |args: &[&str]| std::process::Command::new("tmux").arg("-L").arg(&sock).args(args).output().unwrap();
    tmux(&["-f", "/dev/null", "new-session", "-d", "-s", "c", "-x", "200", "-y", "60", &cmd]);
    std::thread::sleep(Duration::from_secs(2));
    let pid = String::from_utf8_lossy(&tmux(&["display", "-p", "-t", "c", "#{pane_pid}"]).stdout).trim().to_string();
    let hz = 100.0; // USER_HZ on Linux
    let measure = |label: &str| {
        let a = cpu_ticks(&pid);
        std::thread::sleep(Duration::from_secs(secs));
        let b = cpu_ticks(&pid);
        println!("{label:<48} {:.2} % of one core over {secs} s", (b - a) as f64 / hz / secs as f64 * 100.0);
    };
    measure("CPU, demo running (sim ticks every 500 ms)");
    tmux(&["send-keys", "-t", "c", "p"]);
    std::thread::sleep(Duration::from_secs(1));
    measure("CPU, demo paused (only the clock ticks)");
    tmux(&["kill-server"]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // `cargo bench` passes --bench; any other argument filters nothing here.
    println!("kockpit render benchmarks (release build, {} CPUs)", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    frames("frame 200x60, 8-host demo, same model", 0, false, 2_000);
    frames("frame 200x60, 8-host demo, model changing", 0, true, 2_000);
    frames("frame 200x60, 5,006 nodes, model changing", 5_000, true, 300);
    let idle = idle_bytes(false, kockpit::config::Clock::Seconds);
    let idle_min = idle_bytes(false, kockpit::config::Clock::Minutes);
    let idle_off = idle_bytes(false, kockpit::config::Clock::Off);
    let busy = idle_bytes(true, kockpit::config::Clock::Seconds);
    println!("terminal bytes per idle minute (state unchanged, 60 clock ticks): {idle} B");
    println!("  the same with clock = \"minutes\" / \"off\":                  {idle_min} B / {idle_off} B");
    println!("terminal bytes per minute, demo cluster changing:                 {busy} B");
    for r in idle_rows() {
        println!("  changes on an idle tick (clock off, one minute): {r}");
    }
    startup(20);
    idle_cpu(20);
}
