//! The command line: the TUI by default, `demo`, `status`, `render`, `plan`, `lint`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use color_eyre::Result;
use color_eyre::eyre::eyre;
use serde_json::json;

use crate::app::App;
use crate::backend::BackendHandle;
use crate::config::{Config, Paths};
use crate::inventory::Plan;
use crate::model::{Mode, Model, assess};
use crate::ops::WriteCap;
use crate::ops::audit::Audit;
use crate::settings::keymap::Keymap;
use crate::settings::theme::Theme;
use crate::sim::{self, Fault};

/// Exit code when kockpit itself cannot run (bad config, bad arguments): distinct from health codes 0-3.
pub const EXIT_USAGE: i32 = 4;
/// Exit code when the output cannot be written (a full disk, a closed file); a closed pipe exits
/// quietly with [`EXIT_PIPE`] instead.
pub const EXIT_OUTPUT: i32 = 5;
/// Exit code when whoever reads the output went away (`kockpit status | head -1`): what a process
/// killed by SIGPIPE reports, without a word.
pub const EXIT_PIPE: i32 = 141;

/// Writing kockpit's output failed.
#[derive(Debug)]
pub struct OutputError(pub std::io::Error);

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write the output: {}", self.0)
    }
}

impl std::error::Error for OutputError {}

/// Write to standard output, outside text made printable ([`crate::text::printable`]: no input
/// drives the reader's terminal); an error becomes an [`OutputError`] (never a panic).
fn write_out(args: std::fmt::Arguments) -> Result<()> {
    use std::io::Write;
    let text = std::fmt::format(args);
    let mut o = std::io::stdout().lock();
    o.write_all(crate::text::printable(&text).as_bytes()).and_then(|_| o.flush()).map_err(|e| color_eyre::Report::new(OutputError(e)))
}

/// `print!`, but a write error returns from the function (as an [`OutputError`]).
macro_rules! out {
    ($($t:tt)*) => { write_out(format_args!($($t)*))? };
}

/// `println!`, but a write error returns from the function (as an [`OutputError`]).
macro_rules! outln {
    ($($t:tt)*) => { write_out(format_args!("{}\n", format_args!($($t)*)))? };
}

/// What the process exits with when `run` failed: usage, output or pipe.
pub fn exit_code_of(e: &color_eyre::Report) -> i32 {
    match e.downcast_ref::<OutputError>() {
        Some(OutputError(io)) if io.kind() == std::io::ErrorKind::BrokenPipe => EXIT_PIPE,
        Some(_) => EXIT_OUTPUT,
        None => EXIT_USAGE,
    }
}

use args::man_pages;
pub use args::{AuditCmd, Cli, Cmd, DrillCmd, command, parse_args};

/// Everything resolved from flags, environment and config files.
pub struct Setup {
    pub paths: Paths,
    pub config: Config,
    pub plan: Option<Plan>,
    pub demo: bool,
    /// Why the demo opened when it was not asked for.
    pub note: Option<String>,
    pub readonly: bool,
    pub faults: Vec<Fault>,
    pub theme: Theme,
    pub themes: Vec<Theme>,
    pub keymap: Keymap,
    /// The clusters of config.toml's `[[clusters]]`, when this run is about them (the fleet screen,
    /// `status --all`, `render --all`, `serve`).
    pub fleet: Option<Vec<crate::fleet::Member>>,
}

pub fn setup(cli: &Cli) -> Result<Setup> {
    let paths = Paths::discover();
    let config = Config::load(&paths.config_file())?;
    let plan_path = cli
        .config
        .clone()
        .or_else(|| std::env::var_os("KOCKPIT_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from))
        .or(config.plan.clone());
    let demo_cmd = matches!(cli.command, Some(Cmd::Demo));
    let mut faults = vec![];
    for f in &cli.fault {
        faults.push(Fault::from_name(f).ok_or_else(|| {
            let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
            eyre!("unknown fault `{f}`; known faults: {}", names.join(", "))
        })?);
    }
    // faults and extra nodes go into the simulated cluster: without a host plan they ask for the demo
    let demo_asked = cli.demo || demo_cmd || ((!faults.is_empty() || cli.nodes > 0) && plan_path.is_none());
    let oneshot = matches!(
        cli.command,
        Some(Cmd::Status { .. } | Cmd::Render { .. } | Cmd::Run { .. } | Cmd::Audit { cmd: AuditCmd::Report { .. } })
    );
    let all = matches!(cli.command, Some(Cmd::Status { all: true, .. } | Cmd::Render { all: true, .. }));
    let chosen = plan_path.is_some() || demo_asked || cli.context.is_some();
    let fleet_wanted = all || (!config.clusters.is_empty() && !chosen && matches!(cli.command, None | Some(Cmd::Serve { .. })));
    if all && chosen {
        // name what chose one cluster: an option, or $KOCKPIT_CONFIG from the environment
        let by_env = cli.config.is_none() && !demo_asked && cli.context.is_none() && std::env::var_os("KOCKPIT_CONFIG").is_some();
        return Err(eyre!(
            "--all is the fleet of config.toml's [[clusters]]: it does not take --config, --demo, --fault, --nodes or --context{}",
            if by_env { " (and $KOCKPIT_CONFIG is set: unset it)" } else { "" }
        ));
    }
    let fleet = if fleet_wanted {
        if config.clusters.is_empty() {
            return Err(eyre!(
                "--all needs clusters: {} has no [[clusters]] (the README's \"The fleet\" shows one)",
                paths.config_file().display()
            ));
        }
        Some(crate::fleet::members(&config, &paths.config_file(), cli.readonly).map_err(|e| eyre!(e))?)
    } else {
        None
    };
    let cluster::Chosen { plan, demo, mut note } = if fleet.is_some() {
        cluster::Chosen { plan: None, demo: false, note: None }
    } else {
        cluster::choose(plan_path.as_deref(), demo_asked, cli.context.as_deref(), oneshot)?
    };
    if demo && note.is_none() && !cli.demo && !demo_cmd {
        // the demo, opened by --fault or --nodes alone: say so, as the demo chosen for want of a
        // cluster says why
        note = Some(format!(
            "demo: {} the simulated cluster's (no host plan)",
            if faults.is_empty() {
                "--nodes is"
            } else if cli.nodes > 0 {
                "--fault and --nodes are"
            } else {
                "--fault is"
            }
        ));
    }
    if !faults.is_empty() && !demo {
        return Err(eyre!("--fault injects into the simulated cluster only; add --demo (drills inject faults on real hosts)"));
    }
    let readonly = cli.readonly || config.readonly || plan.as_ref().is_some_and(|p| p.access.readonly);
    if readonly && !faults.is_empty() {
        return Err(eyre!("--fault changes the simulated cluster, and this session is read-only: nothing can be changed from it"));
    }
    let no_color = Theme::no_color_env();
    let user_dir = Some(paths.config_dir.as_path());
    let theme_name = cli.theme.clone().or(config.theme.clone());
    let theme = Theme::choose(theme_name.as_deref(), no_color, user_dir)?;
    let themes = Theme::offered(&theme, theme_name.is_some(), no_color, user_dir);
    let keymap_name = cli.keymap.clone().or(config.keymap.clone()).unwrap_or_else(|| "default".into());
    let keymap = Keymap::load(&keymap_name, user_dir)?;
    Ok(Setup { paths, config, plan, demo, note, readonly, faults, theme, themes, keymap, fleet })
}

fn print_paths(paths: &Paths, cli: &Cli, config: &Config) -> Result<()> {
    let exists = |p: &std::path::Path| if p.exists() { "" } else { "  (not present)" };
    let audit = cli.audit_log.clone().or(config.audit_log.clone()).unwrap_or_else(|| paths.audit_log());
    outln!("config dir:  {}{}", paths.config_dir.display(), exists(&paths.config_dir));
    outln!("config file: {}{}", paths.config_file().display(), exists(&paths.config_file()));
    outln!("themes:      {}{}", paths.themes_dir().display(), exists(&paths.themes_dir()));
    outln!("keymaps:     {}{}", paths.keymaps_dir().display(), exists(&paths.keymaps_dir()));
    outln!("audit log:   {}{}", audit.display(), exists(&audit));
    Ok(())
}

/// The simulated cluster for the demo, settled for a few seconds so the first frame is complete.
fn demo_model(s: &Setup, cli: &Cli) -> (sim::SimCluster, Model) {
    let mode = if s.readonly { Mode::ReadOnly } else { Mode::Demo };
    // Long enough for faults to play out (split brain: 3.4 s, an alarm after 5 s more; degraded PGs 6 s).
    let settle = if s.faults.is_empty() { 2 } else { 12 };
    let (sim, mut model) = sim::settled_demo(&s.faults, cli.nodes, Utc::now(), settle, mode);
    model.meta.mode = Mode::Demo;
    model.meta.note = s.note.clone();
    (sim, model)
}

/// Build the live backend for a plan. Live probes are provided by the probe module when present.
/// Without a host plan (a cluster opened from its kubeconfig), only the API and the endpoint.
/// `streams`: follow the HA hosts' events (the screen); a one-shot answer (`status`, `render`) asks
/// each source once and starts none, so what it says of the sources is what it saw, not a stream
/// still starting.
fn live_backend(plan: &Plan, readonly: bool, streams: bool) -> Result<BackendHandle> {
    if plan.is_kubeconfig_only() {
        return live::spawn_api_only(plan, readonly, Some(audit::session_id()));
    }
    let settings = crate::probe::LiveSettings { streams, ..crate::probe::LiveSettings::new(readonly) };
    live::spawn_with(plan, settings, Some(audit::session_id()))
}

/// The live backend `kockpit` builds for a plan (SSH, etcd/Ceph/certificates and Kubernetes parts).
mod args;
mod audit;
mod cluster;
mod drill;
mod fleet;
mod lint;
pub mod logs;
mod oneshot;
mod run;
mod snapshot;
use crate::live;
use audit::{audit_unfinished, audit_verify, open_audit, take_unfinished};
use drill::{drill_headless, drill_targets};
use oneshot::{render, status};
use snapshot::snapshot;

pub fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Some(Cmd::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut command(), "kockpit", &mut out);
            write_out(format_args!("{}", String::from_utf8_lossy(&out)))?;
            return Ok(0);
        }
        Some(Cmd::Man { dir: None }) => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command()).render(&mut out)?;
            write_out(format_args!("{}", String::from_utf8_lossy(&out)))?;
            return Ok(0);
        }
        Some(Cmd::Man { dir: Some(dir) }) => {
            let mut cmd = command();
            cmd.build();
            std::fs::create_dir_all(dir).map_err(|e| eyre!("{}: {e}", dir.display()))?;
            let n = man_pages(&cmd, "kockpit", dir)?;
            eprintln!("{n} manual pages written to {}", dir.display());
            return Ok(0);
        }
        _ => {}
    }
    if let Some(Cmd::Plan { file, json, from_cluster }) = &cli.command {
        let Some(file) = file.as_ref().filter(|_| !from_cluster) else {
            return cluster::from_cluster(cli.context.as_deref());
        };
        let plan = Plan::load(file)?;
        if *json {
            outln!("{}", serde_json::to_string_pretty(&plan.to_json())?);
        } else {
            out!("{}", plan.summary_text());
        }
        return Ok(0);
    }
    if let Some(Cmd::Lint { files, peer, address, on_master, json }) = &cli.command {
        return lint::run(lint::Args { files, peers: peer, addresses: address, on_master: *on_master, json: *json });
    }
    let s = setup(&cli)?;
    if cli.print_config_paths {
        print_paths(&s.paths, &cli, &s.config)?;
        return Ok(0);
    }
    match &cli.command {
        Some(Cmd::Status { json, .. }) if s.fleet.is_some() => fleet::status_all(&s, &cli, *json),
        Some(Cmd::Status { json, .. }) => status(&s, &cli, *json),
        Some(Cmd::Render { size, .. }) if s.fleet.is_some() => fleet::render_all(&s, &cli, size),
        Some(Cmd::Serve { metrics }) => fleet::serve(&s, &cli, metrics),
        Some(Cmd::Logs { host, unit, file, pod, previous, tail, follow }) => {
            let specs = crate::cli::logs::specs(host, unit, file, pod, *previous).map_err(|e| eyre!("{e}"))?;
            if s.demo && s.plan.is_none() {
                let args = crate::cli::logs::Args { specs, tail: *tail, follow: *follow, readonly: s.readonly };
                let ok = crate::cli::logs::demo(&s.faults, cli.nodes, &args, &mut std::io::stdout().lock())
                    .map_err(|e| color_eyre::Report::new(OutputError(e)))?;
                return Ok(if ok { 0 } else { 1 });
            }
            let Some(plan) = s.plan.clone().filter(|_| !s.demo) else {
                return Err(eyre!("`kockpit logs` reads a real cluster: give a plan (--config or KOCKPIT_CONFIG)"));
            };
            let args = crate::cli::logs::Args { specs, tail: *tail, follow: *follow, readonly: s.readonly };
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            let ok = rt
                .block_on(crate::cli::logs::run(&plan, args, &mut std::io::stdout().lock()))
                .map_err(|e| color_eyre::Report::new(OutputError(e)))?;
            Ok(if ok { 0 } else { 1 })
        }
        Some(Cmd::Render { size, .. }) => render(&s, &cli, size),
        Some(Cmd::Audit { cmd: AuditCmd::Verify { files, key, partial } }) => audit_verify(&s, files, key.as_deref(), *partial),
        Some(Cmd::Audit { cmd: AuditCmd::Unfinished }) => audit_unfinished(&s, &cli),
        Some(Cmd::Audit { cmd: AuditCmd::Report { out } }) => {
            let model = snapshot(&s, &cli)?;
            let now = Utc::now();
            let a = assess(&model, now);
            let md = crate::report::markdown(&model, &a, now);
            match out {
                Some(p) => {
                    std::fs::write(p, crate::text::printable(&md).as_bytes())
                        .map_err(|e| color_eyre::Report::new(OutputError(e)).wrap_err(format!("{}", p.display())))?;
                    eprintln!("report written to {}", p.display());
                }
                None => out!("{md}"),
            }
            // the report was written: the verdict is in it (and in `status`'s exit code)
            Ok(0)
        }
        Some(Cmd::Run { words, node, to, lb, master, server, host, emergency, delete_emptydir_data, force, yes, json }) => {
            run::run_operation(
                &s,
                &cli,
                &run::RunArgs {
                    words,
                    node: node.as_deref(),
                    to: to.as_deref(),
                    lb: lb.as_deref(),
                    master: master.as_deref(),
                    server: server.as_deref(),
                    host: host.as_deref(),
                    emergency: *emergency,
                    delete_emptydir_data: *delete_emptydir_data,
                    force: *force,
                    yes: *yes,
                    json: *json,
                },
            )
        }
        Some(Cmd::Drill { cmd: DrillCmd::Check { file } }) => {
            let d = crate::drill::DrillFile::load(file)?;
            d.check_targets(file, &drill_targets(&s, &cli))?;
            // what `drill run` would refuse on this cluster, it refuses too
            if !s.demo && s.plan.as_ref().is_some_and(|p| !p.access.allow_drills) {
                return Err(eyre!(
                    "this cluster's plan does not allow drills: `drill run` would refuse it (`allow_drills = true` under [access])"
                ));
            }
            outln!("{}: {} step(s), ok", d.name, d.steps.len());
            Ok(0)
        }
        Some(Cmd::Drill { cmd: DrillCmd::Run { file, headless, report } }) => {
            let d = crate::drill::DrillFile::load(file)?;
            d.check_targets(file, &drill_targets(&s, &cli))?;
            if s.readonly {
                // an attempt like any other: on the audit trail
                let audit = open_audit(&s, &cli);
                audit.record("op_refused", json!({ "operation": format!("drill run {}", d.name), "reason": "read-only mode" }));
                audit.seal();
                return Err(eyre!("drills change the cluster: refused in read-only mode"));
            }
            if !s.demo && !s.plan.as_ref().is_some_and(|p| p.access.allow_drills) {
                return Err(eyre!(
                    "this cluster's plan does not allow drills: fault injection on real hosts needs `allow_drills = true` under [access]"
                ));
            }
            let report = report.clone().unwrap_or_else(|| {
                let slug: String = d.name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
                PathBuf::from(format!("drill-report-{slug}-{}.md", Utc::now().format("%Y%m%dT%H%M%S")))
            });
            // the report is written as the drill ends: a path that is no file (a FIFO would block
            // then, a directory fail) is refused before anything runs
            if let Ok(m) = std::fs::metadata(&report)
                && !m.is_file()
            {
                return Err(eyre!("--report {}: not a regular file (the drill's report is written there as it ends)", report.display()));
            }
            if let Some(dir) = report.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.is_dir()
            {
                return Err(eyre!("--report {}: no directory {} to write the drill's report in", report.display(), dir.display()));
            }
            if *headless {
                drill_headless(&s, &cli, d, &report)
            } else if !has_terminal() {
                eprintln!("kockpit: no terminal to draw on: running the drill headless (--headless)");
                drill_headless(&s, &cli, d, &report)
            } else {
                tui_with_drill(s, &cli, Some((d, report)))
            }
        }
        _ if s.fleet.is_some() => fleet::tui(s, &cli),
        _ => tui(s, &cli),
    }
}

/// Start the backend (simulated or live) and the model it feeds, with config.toml's Alertmanager
/// (its alerts, and the silences of drills, drains and maintenance) where one is configured.
fn start_backend(s: &Setup, cli: &Cli, mode_override: Option<Mode>) -> Result<(BackendHandle, Model)> {
    let (backend, mut model) = start_backend_only(s, cli, mode_override)?;
    let am = s.config.alertmanager_url.as_deref().map(crate::alerts::Endpoint::parse).transpose().map_err(|e| eyre!(e))?;
    let backend = crate::fleet::with_alertmanager(backend, &mut model, am.as_ref(), &[], s.config.silence_operations);
    Ok((backend, model))
}

fn start_backend_only(s: &Setup, cli: &Cli, mode_override: Option<Mode>) -> Result<(BackendHandle, Model)> {
    if s.demo {
        let (sim, mut model) = demo_model(s, cli);
        if let Some(m) = mode_override {
            model.meta.mode = m;
        }
        let sim = sim::runner::spawn(sim, Duration::from_millis(500));
        Ok((crate::backend::combine(vec![(crate::backend::Part::Sim, sim)]), model))
    } else {
        let plan = s.plan.clone().expect("plan");
        let mode = mode_override.unwrap_or(if s.readonly { Mode::ReadOnly } else { Mode::Live });
        let model = Model::new(plan.clone(), mode, plan.access.kube_context.clone().unwrap_or_default());
        Ok((live_backend(&plan, s.readonly, true)?, model))
    }
}

fn tui(s: Setup, cli: &Cli) -> Result<i32> {
    if !has_terminal() {
        return Err(eyre!(
            "the screen needs a terminal, and standard input or output is not one; without a terminal use \
             `kockpit status`, `kockpit render` or `kockpit drill run --headless`"
        ));
    }
    tui_with_drill(s, cli, None)
}

fn tui_with_drill(s: Setup, cli: &Cli, drill: Option<(crate::drill::DrillFile, PathBuf)>) -> Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    // a log that cannot be opened refuses every operation (with the reason) while viewing goes on
    let audit = open_audit(&s, cli);
    let cap = WriteCap::acquire(s.readonly).map(|c| c.recording_to(audit.clone()));
    rt.block_on(async {
        let mode = drill.as_ref().map(|_| Mode::Drill);
        let (mut backend, model) = start_backend(&s, cli, mode)?;
        let mut app = App::new(model, s.theme.clone(), s.themes.clone(), s.keymap.clone(), cap, audit.clone(), backend.supports_faults);
        app.export_dir = s.paths.state_dir.clone();
        app.aliases = s.config.aliases();
        app.clock = s.config.clock;
        // Lines pushed out of memory go to a spill file instead of being lost.
        match crate::logs::LogBuffer::new(s.config.log_lines.unwrap_or(50_000)).with_spill(&s.paths.state_dir.join("logs-spill.log")) {
            Ok(b) => app.logs = b,
            Err(e) => tracing::warn!("no log spill file: {e}"),
        }
        if let Some((file, report)) = drill {
            app.start_drill(file, report);
        }
        app.audit_session(
            "session_start",
            json!({
                "user": user_name(),
                "host": hostname(),
                "via": std::env::var("SSH_CONNECTION").ok().and_then(|c| c.split_whitespace().next().map(str::to_string)),
                "mode": app.model.meta.mode,
                "readonly": app.readonly(),
                "cluster": app.model.meta.cluster,
                "version": env!("CARGO_PKG_VERSION"),
            }),
        );
        for u in &take_unfinished(&audit) {
            app.tell_unfinished(&u.describe());
        }
        // start-up benchmarks: exit right after the first frame is drawn
        let exit_after_first_frame = std::env::var_os("KOCKPIT_EXIT_AFTER_FIRST_FRAME").is_some();
        let r = crate::ui::run::run_tui(&mut app, &mut backend, exit_after_first_frame).await;
        if exit_after_first_frame {
            eprintln!("first frame after {:.2} ms", crate::process_age().as_secs_f64() * 1000.0);
        }
        // the last operation's end, on the terminal the screen gave back (what a quit mid-operation left)
        if let (Some(op), false) = (&app.op, exit_after_first_frame) {
            match &op.result {
                Some((true, s)) => eprintln!("kockpit: the last operation, {}: done: {s}", op.title),
                Some((false, s)) => {
                    eprintln!("kockpit: the last operation, {}: {}: {s}", op.title, if op.cancelled() { "CANCELLED" } else { "FAILED" })
                }
                None => eprintln!("kockpit: {} was still running when kockpit ended: `kockpit audit unfinished` names it", op.title),
            }
        }
        let reason = r.as_ref().map(|e| e.name().to_string()).unwrap_or_else(|e| format!("error: {e}"));
        app.audit_session("session_end", json!({ "reason": reason }));
        audit.seal();
        r.map(|_| ())
    })?;
    Ok(0)
}

/// Who runs kockpit, for the audit log: $USER, else $LOGNAME, else the name of the process's uid in
/// /etc/passwd, else `uid N`.
pub(crate) fn user_name() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Some(u) = std::env::var(var).ok().filter(|u| !u.is_empty()) {
            return u;
        }
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").and_then(|r| r.split_whitespace().next().map(str::to_string))));
    let Some(uid) = uid else { return "unknown".into() };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// Whether standard input and output are a terminal kockpit can draw on.
fn has_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}
