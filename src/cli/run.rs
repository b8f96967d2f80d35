//! `kockpit run OPERATION`: an operation without the screen. It drives the cockpit's own state (the
//! planner, the confirmation's rules, the audit records, the read-only refusal) with the backend the
//! screen would have, and prints what the screen would show: the plan, then each step.

use std::time::Duration;

use chrono::Utc;
use color_eyre::Result;
use color_eyre::eyre::eyre;
use serde_json::json;

use super::*;
use crate::app::Dialog;
use crate::ops::{DryRunState, OpPlan, OpRequest};

/// The operations `kockpit run` knows, as its errors list them.
const OPERATIONS: &str = "cordon, uncordon, drain, failover, restore, renew, noout, etcd-move-leader, etcd-defrag, etcd-disarm, etcd-snapshot, haproxy-drain, haproxy-ready, maintenance or maintenance-end";

/// What `kockpit run` was asked, as the command line would say it (`drain worker2`).
pub(super) struct RunArgs<'a> {
    pub words: &'a [String],
    pub node: Option<&'a str>,
    pub to: Option<&'a str>,
    pub lb: Option<&'a str>,
    pub master: Option<&'a str>,
    pub server: Option<&'a str>,
    pub host: Option<&'a str>,
    pub emergency: bool,
    pub delete_emptydir_data: bool,
    pub force: bool,
    pub yes: bool,
    /// JSON Lines out: the plan, each step, the end.
    pub json: bool,
}

/// The words of the operation: OPERATION, its target from the words or the flag that names it, and
/// `emergency`. Errors name what is missing or doubled.
pub(super) fn line_of(a: &RunArgs) -> Result<String, String> {
    let (op, rest) = a.words.split_first().ok_or(format!("an operation is needed: {OPERATIONS}"))?;
    let verb = match op.as_str() {
        "vip-failover" => "failover",
        "restore-vip" => "restore",
        "renew-certs" => "renew",
        "etcd-move-leader" => "move-leader",
        "etcd-defrag" => "defrag",
        "etcd-disarm" => "disarm",
        "etcd-snapshot" => "snapshot",
        other => other,
    };
    let flag = match verb {
        "cordon" | "uncordon" | "drain" => a.node,
        "failover" | "move-leader" | "snapshot" => a.to,
        "restore" => a.lb,
        "renew" => a.master,
        "haproxy-drain" | "haproxy-ready" => a.server,
        "maintenance" | "maintenance-end" => a.host,
        "noout" | "defrag" | "disarm" => None,
        other => {
            return Err(format!("unknown operation `{}`: {OPERATIONS}", crate::config::clip_word(other)));
        }
    };
    // a flag that names another operation's target is a mistake, not something to ignore
    for (name, given, owners) in [
        ("--node", a.node, &["cordon", "uncordon", "drain"][..]),
        ("--to", a.to, &["failover", "move-leader", "snapshot"][..]),
        ("--lb", a.lb, &["restore"][..]),
        ("--master", a.master, &["renew"][..]),
        ("--server", a.server, &["haproxy-drain", "haproxy-ready"][..]),
        ("--host", a.host, &["maintenance", "maintenance-end"][..]),
    ] {
        if given.is_some() && !owners.contains(&verb) {
            return Err(format!("{name} is not an option of {verb} (it names the target of {})", owners.join(", ")));
        }
    }
    if rest.is_empty() && flag.is_none() && !matches!(verb, "noout" | "defrag" | "disarm") {
        let how = match verb {
            "cordon" | "uncordon" | "drain" => "NODE or --node NODE",
            "failover" => "LB or --to LB",
            "restore" => "LB or --lb LB",
            "renew" => "MASTER|all or --master MASTER",
            "haproxy-drain" | "haproxy-ready" => "SERVER or --server SERVER",
            "maintenance" | "maintenance-end" => "MASTER or --host MASTER",
            "snapshot" => "FILE or --to FILE",
            _ => "MEMBER or --to MEMBER",
        };
        return Err(format!("{op}: name its target: {how}"));
    }
    // a target is one word: `--server "m2 m3"` is not two servers, nor a server and an option
    if let Some(f) = flag.filter(|f| f.trim().is_empty() || f.contains(char::is_whitespace)) {
        return Err(format!("{verb}: a target is one name, not `{}`", crate::config::clip_word(f)));
    }
    let mut words: Vec<String> = vec![verb.to_string()];
    match (rest, flag) {
        ([], Some(f)) => words.push(f.to_string()),
        (r, None) => words.extend(r.iter().cloned()),
        ([w], Some(f)) if w == f => words.push(f.to_string()),
        (_, Some(_)) => return Err(format!("{verb}: its target is given twice (as a word and a flag)")),
    }
    if a.emergency {
        if verb != "failover" {
            return Err("--emergency is a failover's".into());
        }
        words.push("emergency".into());
    }
    if (a.delete_emptydir_data || a.force) && verb != "drain" {
        return Err("--delete-emptydir-data and --force are a drain's".into());
    }
    Ok(words.join(" "))
}

pub(super) fn run_operation(s: &Setup, cli: &Cli, a: &RunArgs) -> Result<i32> {
    let line = line_of(a).map_err(|e| eyre!("{e}"))?;
    // a script must never act on the demo believing it acts on its cluster
    if let (true, Some(note)) = (s.demo, &s.note) {
        return Err(eyre!(
            "{note}: `kockpit run` acts on a configured cluster (--config, KUBECONFIG, --context), or on the demo with --demo"
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let audit = open_audit(s, cli);
    let cap = WriteCap::acquire(s.readonly).map(|c| c.recording_to(audit.clone()));
    let code = rt.block_on(async {
        let (mut backend, model) = start_backend(s, cli, None)?;
        let mut app = App::new(model, s.theme.clone(), vec![], s.keymap.clone(), cap, audit.clone(), backend.supports_faults);
        app.audit_session(
            "session_start",
            json!({
                "user": user_name(),
                "host": hostname(),
                "mode": app.model.meta.mode,
                "headless": true,
                "command": format!("run {line}{}", if a.yes { " --yes" } else { "" }),
                "readonly": app.readonly(),
                "cluster": app.model.meta.cluster,
                "version": env!("CARGO_PKG_VERSION"),
            }),
        );
        for u in take_unfinished(&audit) {
            eprintln!("kockpit: {}", u.describe());
        }
        let code = drive(&mut app, &mut backend, cli, &line, a, s.demo).await;
        let reason = match &code {
            Ok(0) => "run: done".to_string(),
            Ok(130) => "run: interrupted before anything was carried out".to_string(),
            Ok(c) => format!("run: exit {c}"),
            Err(e) => format!("run: error: {e}"),
        };
        app.audit_session("session_end", json!({ "reason": reason }));
        code
    });
    audit.seal();
    rt.shutdown_background();
    // what was done is done, but a record of it that could not be written (a disk that filled up
    // during the operation) is said, and fails the command: the log will call it unfinished
    if let Some(e) = audit.failure() {
        eprintln!("kockpit: the audit log could not record everything of this run (its end among it): {e}");
        return match code {
            Ok(0) => Ok(1),
            other => other,
        };
    }
    code
}

/// What waiting for the backend brought.
enum Next {
    Event(Box<crate::backend::BackendEvent>),
    Timeout,
    Closed,
    /// SIGINT or SIGTERM.
    Stop(&'static str),
}

pub(super) struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    /// The SSH session of a jump host dropped.
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub(super) fn new() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals { int: signal(SignalKind::interrupt())?, term: signal(SignalKind::terminate())?, hup: signal(SignalKind::hangup())? })
    }
    /// The next of SIGINT, SIGTERM and SIGHUP, by name.
    pub(super) async fn any(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "interrupt",
            _ = self.term.recv() => "terminate",
            _ = self.hup.recv() => "hang-up",
        }
    }
    async fn next(&mut self, backend: &mut BackendHandle, deadline: Option<tokio::time::Instant>) -> Next {
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        tokio::select! {
            ev = backend.events.recv() => ev.map_or(Next::Closed, |e| Next::Event(Box::new(e))),
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)) => Next::Timeout,
            why = self.any() => Next::Stop(why),
        }
    }
}

/// Interrupted before anything was carried out: nothing to stop, the session's end is recorded.
fn stopped_before(why: &str, json: bool) -> Result<i32> {
    eprintln!("kockpit: {why}: stopped before anything was carried out");
    end_json(json, "interrupted", false, &format!("{why}: stopped before anything was carried out"))?;
    Ok(130)
}

async fn drive(app: &mut App, backend: &mut BackendHandle, cli: &Cli, line: &str, a: &RunArgs<'_>, demo: bool) -> Result<i32> {
    let mut sig = Signals::new()?;
    // the facts the plan is judged on: every source's first answer, or --wait (the demo starts settled)
    let wait = Duration::try_from_secs_f64(cli.wait).map_err(|_| eyre!("--wait must be a number of seconds, got {}", cli.wait))?;
    let deadline = tokio::time::Instant::now() + wait;
    while !demo && !crate::live::first_round_complete(&app.model) {
        match sig.next(backend, Some(deadline)).await {
            Next::Event(ev) => app.on_backend(*ev),
            Next::Stop(why) => return stopped_before(why, a.json),
            Next::Closed | Next::Timeout => break,
        }
    }
    let mut req = app.operation(line).map_err(|e| eyre!("{e}"))?;
    if let OpRequest::Drain { options, .. } = &mut req {
        options.delete_emptydir_data = a.delete_emptydir_data;
        options.force_unmanaged = a.force;
    }
    send(backend, app.propose(req.clone()))?;
    // the drain's dry run: its answer is part of the plan
    let dry_deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while matches!(&app.view.dialog, Dialog::Confirm(p) if matches!(p.dry_run, Some(DryRunState::Pending))) {
        match sig.next(backend, Some(dry_deadline)).await {
            Next::Event(ev) => app.on_backend(*ev),
            Next::Stop(why) => {
                app.answer_plan(false);
                return stopped_before(why, a.json);
            }
            Next::Closed => return Err(eyre!("the backend stopped before the dry run answered")),
            Next::Timeout => return Err(eyre!("the dry run did not answer within 120 s")),
        }
    }
    let Dialog::Confirm(plan) = app.view.dialog.clone() else {
        // refused before a plan (read-only, the audit log, one operation at a time): the reason was said
        let why = app.notice.as_ref().map(|(_, t, _)| t.clone()).unwrap_or_else(|| format!("{}: refused", req.title()));
        eprintln!("kockpit: {why}");
        end_json(a.json, "refused", false, &why)?;
        return Ok(1);
    };
    if a.json {
        let mut v = serde_json::to_value(&plan).map_err(|e| eyre!("{e}"))?;
        v["event"] = json!("plan");
        v["title"] = json!(plan.request.title());
        v["allowed"] = json!(plan.allowed() && !app.readonly());
        v["readonly"] = json!(app.readonly());
        outln!("{v}");
    } else {
        print_plan(&plan)?;
    }
    if !plan.allowed() {
        if a.yes {
            // asked to execute and refused: on the record as such, not as a preview closed
            app.audit_session("op_refused", json!({ "request": plan.request, "blockers": plan.blockers }));
        }
        app.answer_plan(false);
        end_json(a.json, "refused", false, &plan.blockers.join("; "))?;
        return Ok(1);
    }
    if app.readonly() {
        // a drain is planned and dry-run in read-only mode (reads only), as on the screen; nothing
        // of it can be carried out, with --yes or without
        let why = format!("read-only: {}: the plan and its dry run only, nothing is carried out", plan.request.title());
        if a.yes {
            app.audit_session("op_refused", json!({ "request": plan.request, "blockers": ["read-only mode"] }));
        }
        app.answer_plan(false);
        if a.json {
            end_json(true, "refused", false, &why)?;
        } else {
            eprintln!("kockpit: {why}");
        }
        return Ok(1);
    }
    if !a.yes {
        if a.json {
            end_json(true, "planned", true, "not carried out: add --yes to execute it")?;
        } else {
            outln!("not carried out: add --yes to execute it");
        }
        app.answer_plan(false);
        return Ok(0);
    }
    let cmds = app.answer_plan(true);
    if app.op.is_none() {
        let why = match &app.view.dialog {
            Dialog::Confirm(p) if !p.allowed() => format!("refused now: {}", p.blockers.join("; ")),
            _ => app.notice.as_ref().map(|(_, t, _)| t.clone()).unwrap_or_else(|| "refused".into()),
        };
        eprintln!("kockpit: {why}");
        end_json(a.json, "refused", false, &why)?;
        return Ok(1);
    }
    send(backend, cmds)?;
    let mut printed = 0;
    loop {
        if let Some(run) = &app.op {
            // once confirmed, the operation runs to its end (or safe point) whatever happens to the
            // output: a reader that went away must not leave a node half drained
            for (text, ok) in &run.steps[printed..] {
                let _ = if a.json {
                    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    write_out(format_args!("{}\n", json!({ "event": "step", "at": at, "ok": ok, "text": text })))
                } else {
                    write_out(format_args!("{}  {} {text}\n", Utc::now().format("%H:%M:%S%.3f"), if *ok { "ok  " } else { "FAIL" }))
                };
            }
            printed = run.steps.len();
            if let Some((ok, summary)) = &run.result {
                let word = if *ok {
                    "done"
                } else if run.cancel_requested {
                    "CANCELLED"
                } else {
                    "FAILED"
                };
                let _ = if a.json {
                    write_out(format_args!("{}\n", json!({ "event": "end", "result": word.to_lowercase(), "ok": ok, "summary": summary })))
                } else {
                    write_out(format_args!("{word}: {summary}\n"))
                };
                return Ok(if *ok { 0 } else { 1 });
            }
        }
        match sig.next(backend, None).await {
            Next::Event(ev) => app.on_backend(*ev),
            Next::Closed | Next::Timeout => return Err(eyre!("the backend stopped during the operation")),
            // interrupted: the operation stops at its next safe point, and its end is awaited
            Next::Stop(why) => {
                let cmds = app.hang_up(why);
                // the app says what happens: a stop at the next safe point, or a run to the end
                let said = app.notice.as_ref().map(|(_, t, _)| t.clone()).unwrap_or_default();
                eprintln!("kockpit: {why}: {said}");
                send(backend, cmds)?;
            }
        }
    }
}

/// With `--json`, the line that ends the output: `{"event":"end","result":"refused","ok":false,...}`.
fn end_json(json: bool, result: &str, ok: bool, summary: &str) -> Result<()> {
    if json {
        outln!("{}", json!({ "event": "end", "result": result, "ok": ok, "summary": summary }));
    }
    Ok(())
}

fn send(backend: &BackendHandle, cmds: Vec<crate::backend::Command>) -> Result<()> {
    for c in cmds {
        backend.commands.send(c).map_err(|_| eyre!("the backend stopped"))?;
    }
    Ok(())
}

/// The plan as the confirmation shows it: refused first, with why; the steps; the warnings; the
/// dry run.
fn print_plan(p: &OpPlan) -> Result<()> {
    outln!("{}", p.request.title());
    if !p.allowed() {
        outln!("REFUSED:");
        for b in &p.blockers {
            outln!("  - {b}");
        }
        outln!("It would have:");
    }
    for (i, s) in p.steps.iter().enumerate() {
        outln!("  {}. {s}", i + 1);
    }
    for w in &p.warnings {
        outln!("  ! {w}");
    }
    match &p.dry_run {
        Some(DryRunState::Ready(d)) => {
            outln!("dry run:");
            for l in &d.lines {
                outln!("  {l}");
            }
        }
        Some(DryRunState::Failed { reason }) => outln!("  ! dry run failed: {reason}"),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args<'a>(words: &'a [String]) -> RunArgs<'a> {
        RunArgs {
            words,
            node: None,
            to: None,
            lb: None,
            master: None,
            server: None,
            host: None,
            emergency: false,
            delete_emptydir_data: false,
            force: false,
            yes: false,
            json: false,
        }
    }

    #[test]
    fn words_and_flags_make_the_command_line_the_screen_would_take() {
        let w = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(line_of(&args(&w("drain worker2"))).unwrap(), "drain worker2");
        let words = w("drain");
        assert_eq!(line_of(&RunArgs { node: Some("worker2"), ..args(&words) }).unwrap(), "drain worker2");
        let words = w("vip-failover");
        assert_eq!(line_of(&RunArgs { to: Some("lb2"), emergency: true, ..args(&words) }).unwrap(), "failover lb2 emergency");
        let words = w("renew");
        assert_eq!(line_of(&RunArgs { master: Some("all"), ..args(&words) }).unwrap(), "renew all");
        assert_eq!(line_of(&args(&w("noout on"))).unwrap(), "noout on");
        // what cannot be meant is said
        let words = w("drain worker1");
        assert!(line_of(&RunArgs { node: Some("worker2"), ..args(&words) }).unwrap_err().contains("twice"));
        assert!(line_of(&args(&w("reboot m1"))).unwrap_err().starts_with("unknown operation `reboot`"));
        let words = w("cordon m1");
        assert!(line_of(&RunArgs { emergency: true, ..args(&words) }).is_err());
        assert!(line_of(&RunArgs { force: true, ..args(&words) }).is_err());
    }
}
