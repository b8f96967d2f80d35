//! `kockpit drill run --headless`: a drill without the screen, through the same driver, planner and
//! audit log as the screen.

use chrono::Utc;
use color_eyre::Result;
use color_eyre::eyre::{WrapErr, eyre};
use serde_json::json;

use super::*;

/// The hosts, nodes and load balancers a drill may name: the plan's, or the demo cluster's (its
/// extra `--nodes` workers too).
pub(super) fn drill_targets(s: &Setup, cli: &Cli) -> crate::drill::Known {
    fn known(plan: &Plan) -> crate::drill::Known {
        let names = |f: fn(&crate::inventory::Host) -> bool| plan.hosts.iter().filter(|h| f(h)).map(|h| h.name.clone()).collect();
        crate::drill::Known {
            hosts: names(|_| true),
            nodes: names(|h| h.roles.master || h.roles.worker),
            lbs: names(|h| h.roles.lb),
            masters: names(|h| h.roles.master),
        }
    }
    match (&s.plan, s.demo) {
        (Some(plan), false) => known(plan),
        _ => {
            let (_, model) = sim::settled_demo(&[], cli.nodes, Utc::now(), 0, Mode::Demo);
            let mut k = known(&model.plan);
            for n in model.nodes.data.iter().flatten() {
                if !k.nodes.contains(&n.name) {
                    k.nodes.push(n.name.clone());
                }
            }
            k
        }
    }
}

pub(super) fn write_report(run: &crate::drill::DrillRun, cluster: &str, path: &std::path::Path) -> Result<()> {
    let now = Utc::now();
    std::fs::write(path, crate::text::printable(&crate::drill::report::markdown(run, cluster, now)).as_bytes())
        .wrap_err_with(|| format!("cannot write {}", path.display()))?;
    let json_path = path.with_extension("json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&crate::drill::report::json(run, cluster, now))?)?;
    Ok(())
}

/// A drill's progress line: a reader that went away (`| head`) or a full disk loses the line, never
/// the drill in the middle of what it broke (it goes on, undoes, and records its end).
macro_rules! tell {
    ($($t:tt)*) => {{
        let _ = write_out(format_args!("{}\n", format_args!($($t)*)));
    }};
}

pub(super) fn drill_headless(s: &Setup, cli: &Cli, file: crate::drill::DrillFile, report: &std::path::Path) -> Result<i32> {
    use crate::backend::BackendEvent;
    use crate::drill::Phase;
    use crate::drill::driver::Driver;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let audit = open_audit(s, cli);
    let cap = WriteCap::acquire(false).expect("not read-only").recording_to(audit.clone());
    if let Some(e) = audit.failure() {
        return Err(eyre!("a drill changes the cluster and every change is recorded first: {e}"));
    }
    // the first record must reach the disk before anything runs: a full or read-only filesystem takes
    // the open and fails only the writes
    let first = audit.record_durable(
        "session_start",
        json!({ "user": user_name(), "host": hostname(), "mode": "drill", "headless": true, "version": env!("CARGO_PKG_VERSION") }),
    );
    if let Err(e) = crate::ops::audit::wait_recorded(first) {
        return Err(eyre!("a drill changes the cluster and every change is recorded first: {e}"));
    }
    for u in take_unfinished(&audit) {
        eprintln!("kockpit: {}", u.describe());
    }
    let result = rt.block_on(async {
        // SIGTERM, SIGINT and a hang-up stop the drill at its safe point: what it sent is cancelled,
        // what it broke undone, and its end recorded; a second one leaves at once
        let mut sig = super::run::Signals::new()?;
        let (mut backend, mut model) = start_backend(s, cli, Some(Mode::Drill))?;
        // Let the first observations arrive so the drill's symbols (owner, leader ...) resolve.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !(live::first_round_complete(&model) && model.etcd.data.is_some()) {
            let why = tokio::select! {
                ev = tokio::time::timeout_at(deadline, backend.events.recv()) => match ev {
                    Ok(Some(BackendEvent::Obs(o))) => {
                        model.apply(o);
                        continue;
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                },
                why = sig.any() => why,
            };
            // nothing acted on yet: nothing to undo
            audit.record("drill_interrupted", json!({ "drill": file.name, "reason": format!("{why} signal"), "before_start": true }));
            eprintln!("kockpit: {why}: the drill stopped before it started (nothing was done)");
            return Ok(130);
        }
        let mut d = Driver::new(file, &model, Utc::now(), audit.clone(), Some(cap));
        tell!("drill {} on {} ({} steps)", d.run.file.name, model.meta.cluster, d.run.file.steps.len());
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut interrupted: Option<&str> = None;
        while d.run.phase == Phase::Running {
            let (says, cmds) = d.poll(&model, Utc::now());
            for t in says {
                tell!("{}  {t}", Utc::now().format("%H:%M:%S%.3f"));
            }
            crate::backend::note_planned(&mut model, &cmds, Utc::now());
            for cmd in cmds {
                if backend.commands.send(cmd).is_err() {
                    return Err(eyre!("the backend stopped during the drill"));
                }
            }
            tokio::select! {
                ev = backend.events.recv() => match ev {
                    Some(ev) => {
                        d.on_event(&ev);
                        if let BackendEvent::Op(e) = &ev {
                            crate::backend::note_op_event(&mut model, e, Utc::now());
                        }
                        if let BackendEvent::Obs(o) = ev {
                            model.apply(o);
                        }
                    }
                    None => return Err(eyre!("the backend stopped during the drill")),
                },
                _ = tick.tick() => {}
                why = sig.any() => interrupted = Some(why),
            }
            if let Some(why) = interrupted {
                eprintln!("kockpit: {why}: stopping the drill at its safe point, undoing what it broke (again to leave at once)");
                let (says, cmds) = d.abort(&format!("{why} signal"), &model, Utc::now());
                for t in says {
                    tell!("{}  {t}", Utc::now().format("%H:%M:%S%.3f"));
                }
                for cmd in cmds {
                    let _ = backend.commands.send(cmd);
                }
            }
        }
        // The clean-up the drill sent as it ended (a client stopped, a service started) reports
        // before the backend is dropped: its end is on the audit log (60 s at most).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while d.outstanding() > 0 {
            let (says, cmds) = d.poll(&model, Utc::now());
            for t in says {
                tell!("{}  {t}", Utc::now().format("%H:%M:%S%.3f"));
            }
            for cmd in cmds {
                let _ = backend.commands.send(cmd);
            }
            let again = tokio::select! {
                ev = tokio::time::timeout_at(deadline, backend.events.recv()) => match ev {
                    Ok(Some(ev)) => {
                        d.on_event(&ev);
                        if let BackendEvent::Obs(o) = ev {
                            model.apply(o);
                        }
                        continue;
                    }
                    Ok(None) | Err(_) => false,
                },
                _ = sig.any() => true,
            };
            eprintln!(
                "kockpit: {} clean-up action(s) of the drill did not report their end{}",
                d.outstanding(),
                if again { " (left at a second signal): `kockpit audit unfinished` names them" } else { "" }
            );
            break;
        }
        // the drill's end is recorded before the report is written: a report path that blocks (a
        // FIFO nobody reads) or fails does not lose it
        d.finish(d.run.phase == Phase::Passed, report);
        write_report(&d.run, &model.meta.cluster, report)?;
        tell!("report: {} (and .json)", report.display());
        Ok(match (d.run.phase, interrupted) {
            (Phase::Passed, _) => 0,
            (_, Some(_)) => 130,
            _ => 1,
        })
    });
    audit.record("session_end", json!({}));
    audit.seal();
    result
}
