//! The fleet on the command line: `status --all`, `render --all`, `serve --metrics`, and the fleet
//! screen (config.toml's `[[clusters]]`).

use std::time::Duration;

use chrono::Utc;
use color_eyre::Result;
use color_eyre::eyre::eyre;
use serde_json::json;

use super::audit::{open_audit, session_id};
use super::{Cli, Setup, has_terminal, user_name, write_out};
use crate::app::App;
use crate::fleet::Member;
use crate::model::assess;
use crate::model::fleet::{FleetRow, worst};
use crate::ops::WriteCap;

/// How many clusters one-shot commands probe at once.
const PARALLEL: usize = 8;

fn members(s: &Setup) -> Result<&[Member]> {
    s.fleet.as_deref().ok_or_else(|| eyre!("no [[clusters]] in {}", s.paths.config_file().display()))
}

fn wait(cli: &Cli) -> Result<Duration> {
    Duration::try_from_secs_f64(cli.wait).map_err(|_| eyre!("--wait must be a number of seconds, got {}", cli.wait))
}

/// Every cluster's row, problems first, with its model.
fn pictures(s: &Setup, cli: &Cli) -> Result<Vec<(FleetRow, crate::model::Model)>> {
    let members = members(s)?;
    let wait = wait(cli)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let models = rt.block_on(crate::fleet::snapshot_all(members, wait, PARALLEL, session_id()));
    rt.shutdown_background();
    let now = Utc::now();
    let mut out: Vec<(FleetRow, crate::model::Model)> =
        models.into_iter().map(|(name, m)| (FleetRow::of(&name, &m, &assess(&m, now), now), m)).collect();
    out.sort_by(|(a, _), (b, _)| FleetRow::problems_first(a, b));
    Ok(out)
}

/// `kockpit status --all [--json]`: one entry per cluster, problems first; exit with the worst verdict.
pub(super) fn status_all(s: &Setup, cli: &Cli, json_out: bool) -> Result<i32> {
    let pics = pictures(s, cli)?;
    let rows: Vec<FleetRow> = pics.iter().map(|(r, _)| r.clone()).collect();
    let level = worst(&rows);
    if json_out {
        let now = Utc::now();
        let clusters: Vec<_> = pics
            .iter()
            .map(|(r, m)| {
                let a = assess(m, now);
                json!({ "cluster": r.cluster, "row": r, "health": a.level, "exit_code": a.level.exit_code(), "findings": a.findings })
            })
            .collect();
        let out = json!({
            "kockpit_version": env!("CARGO_PKG_VERSION"),
            "taken_at": now,
            "health": level,
            "exit_code": level.exit_code(),
            "clusters": clusters,
        });
        write_out(format_args!("{}\n", serde_json::to_string_pretty(&out)?))?;
    } else {
        write_out(format_args!("fleet: {} cluster(s): {}\n", rows.len(), level.label()))?;
        for r in &rows {
            let q = |o: Option<String>| o.unwrap_or_else(|| "?".into());
            let answers = match r.vip_answers {
                Some(true) => " (answers)",
                Some(false) => " (NOT ANSWERING)",
                None => "",
            };
            write_out(format_args!(
                "  {:<16} {:<11} vip {}{answers}  haproxy {}  etcd {}  {}  NotReady {}  cert {}  ceph {}  alerts {}  data {}\n",
                r.cluster,
                r.health.label(),
                r.vip,
                q(r.haproxy_up.map(|(u, a)| format!("{u}/{a}"))),
                r.etcd,
                if r.leaders == "?" { "leaders ?" } else { r.leaders.as_str() },
                q(r.not_ready.map(|n| n.to_string())),
                q(r.cert_days.map(|d| format!("{d}d"))),
                match r.ceph {
                    Some(c) => c.label(),
                    None if r.ceph_unknown => "?",
                    None => "-",
                },
                match (r.alerts, &r.alerts_error) {
                    (Some(n), _) if n > 0 => format!("{n} ({})", r.alert_names.join(", ")),
                    (Some(n), _) => n.to_string(),
                    (None, Some(e)) => format!("? ({e})"),
                    (None, None) => "-".into(),
                },
                q(r.data_age_ms.map(crate::model::source::fmt_age_ms)),
            ))?;
            if r.health != crate::model::HealthLevel::Healthy {
                write_out(format_args!("  {:<16} {}\n", "", r.reason))?;
            }
        }
    }
    Ok(level.exit_code())
}

/// `kockpit render --all`: the fleet screen as text.
pub(super) fn render_all(s: &Setup, cli: &Cli, size: &str) -> Result<i32> {
    let (w, h) = super::oneshot::parse_size(size)?;
    let rows: Vec<FleetRow> = pictures(s, cli)?.into_iter().map(|(r, _)| r).collect();
    write_out(format_args!("{}", crate::ui::fleet::render_fleet_text(&rows, &s.theme, w, h, Utc::now())))?;
    Ok(0)
}

/// `kockpit serve --metrics ADDR`: read-only, every cluster of the fleet (or the one chosen).
pub(super) fn serve(s: &Setup, cli: &Cli, addr: &str) -> Result<i32> {
    let addr: std::net::SocketAddr =
        addr.parse().map_err(|_| eyre!("--metrics `{}`: expected ADDRESS:PORT, e.g. 127.0.0.1:9810", crate::config::clip_word(addr)))?;
    let members: Vec<Member> = match &s.fleet {
        Some(m) => m.clone(),
        None => vec![Member {
            name: s.plan.as_ref().map(|p| p.cluster.name.clone()).unwrap_or_else(|| "demo".into()),
            plan: s.plan.clone().filter(|_| !s.demo),
            faults: s.faults.clone(),
            readonly: true,
            alertmanager: s.config.alertmanager_url.as_deref().map(crate::alerts::Endpoint::parse).transpose().map_err(|e| eyre!(e))?,
            matchers: vec![],
            unavailable: None,
            silence_operations: false,
        }],
    };
    let audit = cli.audit_log.clone().or(s.config.audit_log.clone()).unwrap_or_else(|| s.paths.audit_log());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let n = members.len();
    rt.block_on(crate::fleet::serve::serve(members, addr, Some(audit), session_id(), |bound| {
        eprintln!("kockpit: serving the metrics of {n} cluster(s) on http://{bound}/metrics (read-only)");
    }))
    .map_err(|e| eyre!(e))?;
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(0)
}

/// The fleet screen: every cluster's app, the fleet shown first (or the one cluster, when there is one).
pub(super) fn tui(s: Setup, cli: &Cli) -> Result<i32> {
    if !has_terminal() {
        return Err(eyre!("the screen needs a terminal; without one use `kockpit status --all` or `kockpit render --all`"));
    }
    let members = members(&s)?.to_vec();
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let audit = open_audit(&s, cli);
    let r = rt.block_on(async {
        let mut clusters = vec![];
        let mut backends = vec![];
        let first_open = members.len() == 1;
        for m in &members {
            // clusters not open run the light probe set; opening one starts its full set
            let (backend, model) = crate::fleet::start_or_explain(m, Some(session_id()), !first_open);
            let caudit = audit.for_cluster(&m.name);
            let cap = WriteCap::acquire(m.readonly).map(|c| c.recording_to(caudit.clone()));
            let mut app = App::new(model, s.theme.clone(), s.themes.clone(), s.keymap.clone(), cap, caudit, backend.supports_faults);
            app.export_dir = s.paths.state_dir.clone();
            app.aliases = s.config.aliases();
            app.clock = s.config.clock;
            app.fleet_names = names.clone();
            app.audit_session(
                "session_start",
                json!({ "user": user_name(), "mode": app.model.meta.mode, "readonly": app.readonly(), "version": env!("CARGO_PKG_VERSION") }),
            );
            clusters.push(crate::ui::fleetrun::Running {
                name: m.name.clone(),
                app,
                commands: backend.commands.clone(),
                member: m.clone(),
                light: !first_open && !m.is_demo() && m.unavailable.is_none(),
            });
            backends.push(backend);
        }
        let open = (clusters.len() == 1).then_some(0);
        let mut fleet = crate::ui::fleetrun::Fleet {
            clusters,
            open,
            view: Default::default(),
            theme: s.theme.clone(),
            quit: false,
            session: session_id().to_string(),
            events: None,
        };
        let r = crate::ui::fleetrun::run_fleet(&mut fleet, backends).await;
        let reason = r.as_ref().map(|e| e.name().to_string()).unwrap_or_else(|e| format!("error: {e}"));
        for c in &mut fleet.clusters {
            if let Some(op) = &c.app.op
                && op.result.is_none()
            {
                eprintln!("kockpit: {} ({}) was still running when kockpit ended: `kockpit audit unfinished` names it", op.title, c.name);
            }
            c.app.audit_session("session_end", json!({ "reason": reason }));
        }
        audit.seal();
        r.map(|_| ())
    });
    r?;
    Ok(0)
}
