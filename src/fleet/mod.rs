//! A fleet: the clusters of `config.toml`'s `[[clusters]]`, each started as kockpit starts one (its
//! host plan's live backend, its kubeconfig context's Kubernetes-only backend, or the simulated
//! cluster), each with its Alertmanager's alerts; and one picture of all of them, taken with bounded
//! concurrency and a deadline.

pub mod serve;

use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use crate::alerts::Endpoint;
use crate::backend::{BackendEvent, BackendHandle, Part};
use crate::config::{ClusterEntry, Config};
use crate::inventory::Plan;
use crate::model::{Mode, Model};
use crate::ops::Fault;

/// One cluster of the fleet, resolved: what it is and how it is reached.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    /// None: the simulated cluster.
    pub plan: Option<Plan>,
    pub faults: Vec<Fault>,
    pub readonly: bool,
    pub alertmanager: Option<Endpoint>,
    pub matchers: Vec<String>,
    /// Why it cannot be reached at all (its kubeconfig context is gone): its row says so, the rest
    /// of the fleet goes on.
    pub unavailable: Option<String>,
    /// Drains and maintenance silence their node's alerts (config.toml's `silence_operations`).
    pub silence_operations: bool,
}

impl Member {
    pub fn is_demo(&self) -> bool {
        self.plan.is_none()
    }
}

/// The clusters `config` lists, their plans loaded. An error names config.toml's line of the entry.
/// `readonly` (the command line's) makes every cluster read-only.
pub fn members(config: &Config, config_file: &Path, readonly: bool) -> Result<Vec<Member>, String> {
    config.clusters.iter().map(|c| member(config, c, config_file, readonly)).collect()
}

fn member(config: &Config, c: &ClusterEntry, file: &Path, readonly: bool) -> Result<Member, String> {
    let at = |m: String| format!("{}:{}: cluster `{}`: {m}", file.display(), c.line, c.name);
    let mut faults = vec![];
    for f in &c.faults {
        faults.push(Fault::from_name(f).ok_or_else(|| {
            let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
            at(format!("unknown fault `{}`; known faults: {}", crate::config::clip_word(f), names.join(", ")))
        })?);
    }
    let mut unavailable = None;
    let plan = match (&c.plan, &c.kube_context) {
        (Some(p), ctx) => match Plan::load(p) {
            Ok(mut plan) => {
                if let Some(ctx) = ctx {
                    plan.access.kube_context = Some(ctx.clone());
                }
                Some(plan)
            }
            // one plan that cannot be read is that cluster's row, with the error; the fleet goes on
            Err(e) => {
                unavailable = Some(at(e.to_string()));
                Some(Plan::from_kubeconfig(&c.name, "", None, None))
            }
        },
        (None, Some(ctx)) => match crate::kube::kubeconfig::usable(None, Some(ctx)) {
            Ok(Some(u)) => Some(Plan::from_kubeconfig(&c.name, &u.server, Some(u.context.clone()), None)),
            Ok(None) => {
                unavailable = Some(format!("context {ctx}: no kubeconfig ({})", crate::kube::kubeconfig::WHERE));
                Some(Plan::from_kubeconfig(&c.name, "", Some(ctx.clone()), None))
            }
            Err(e) => {
                unavailable = Some(format!("context {ctx}: kubeconfig: {e}"));
                Some(Plan::from_kubeconfig(&c.name, "", Some(ctx.clone()), None))
            }
        },
        (None, None) => None,
    };
    let readonly = readonly || config.readonly || c.readonly || plan.as_ref().is_some_and(|p| p.access.readonly);
    if readonly && !faults.is_empty() {
        return Err(at("`faults` change the simulated cluster, and this cluster is read-only".into()));
    }
    let url = c.alertmanager_url.as_ref().or(config.alertmanager_url.as_ref());
    let alertmanager = url.map(|u| Endpoint::parse(u).map_err(at)).transpose()?;
    let silence_operations = alertmanager.is_some() && (c.silence_operations || config.silence_operations);
    Ok(Member { name: c.name.clone(), plan, faults, readonly, alertmanager, matchers: c.matchers(), unavailable, silence_operations })
}

/// How long faults need to play out in a fresh simulated cluster (split brain: 3.4 s, an alarm 5 s later).
fn settle_secs(faults: &[Fault]) -> i64 {
    if faults.is_empty() { 2 } else { 12 }
}

/// Start `m`: its backend (with its Alertmanager's alerts as one more part) and its model.
/// `session`: the audit session, said in the User-Agent of requests to the API server.
pub fn start(m: &Member, session: Option<&str>) -> Result<(BackendHandle, Model), String> {
    start_as(m, session, false)
}

/// [`start`]; `light`: the light probe set ([`crate::probe::LiveSettings::light`]), for a cluster of
/// the fleet screen that is not open.
pub fn start_as(m: &Member, session: Option<&str>, light: bool) -> Result<(BackendHandle, Model), String> {
    if let Some(why) = &m.unavailable {
        return Err(why.clone());
    }
    let mode = if m.readonly { Mode::ReadOnly } else { Mode::Live };
    let (mut parts, mut model): (Vec<(Part, BackendHandle)>, Model) = match &m.plan {
        None => {
            let (sim, mut model) = crate::sim::settled_demo(&m.faults, 0, Utc::now(), settle_secs(&m.faults), mode);
            model.meta.mode = if m.readonly { Mode::ReadOnly } else { Mode::Demo };
            {
                // through the router, as the one-cluster demo: recorded commands wait for their record
                let sim = crate::sim::runner::spawn(sim, Duration::from_millis(if light { 1000 } else { 500 }));
                (vec![(Part::Sim, crate::backend::combine(vec![(Part::Sim, sim)]))], model)
            }
        }
        Some(plan) => {
            let settings = if light { crate::probe::LiveSettings::light(m.readonly) } else { crate::probe::LiveSettings::new(m.readonly) };
            let backend = if plan.is_kubeconfig_only() {
                crate::live::spawn_api_only(plan, m.readonly, session)
            } else {
                crate::live::spawn_with(plan, settings, session)
            }
            .map_err(|e| format!("{}: {e}", m.name))?;
            let model = Model::new(plan.clone(), mode, plan.access.kube_context.clone().unwrap_or_default());
            (vec![(Part::Kube, backend)], model)
        }
    };
    model.meta.cluster = m.name.clone();
    let main = parts.remove(0).1;
    Ok((with_alertmanager(main, &mut model, m.alertmanager.as_ref(), &m.matchers, m.silence_operations), model))
}

/// `main` with a cluster's Alertmanager: its alerts read into the model, and the silences of drills
/// (and, with `silence_operations`, of drains and maintenance). Unchanged without one.
pub fn with_alertmanager(
    main: BackendHandle,
    model: &mut Model,
    am: Option<&Endpoint>,
    matchers: &[String],
    silence_operations: bool,
) -> BackendHandle {
    let Some(am) = am else { return main };
    model.meta.alertmanager = Some(am.url());
    model.meta.silence_operations = silence_operations;
    let matchers = if matchers.is_empty() { vec![format!("cluster=\"{}\"", model.meta.cluster)] } else { matchers.to_vec() };
    let silenced = crate::alerts::silence::with_silences(main, am.clone(), model.meta.cluster.clone(), silence_operations);
    crate::backend::with_observer(silenced, crate::alerts::spawn(am.clone(), matchers))
}

/// Whether every source `m` expects has been heard once (its Alertmanager's too). A simulated
/// cluster starts settled.
pub fn complete(m: &Model, demo: bool) -> bool {
    let alerts = m.meta.alertmanager.is_none() || !m.alerts.unheard();
    alerts && (demo || crate::live::first_round_complete(m))
}

/// One picture of every member: each started, fed until every source it expects answered or `wait`
/// passed, then stopped. At most `parallel` clusters are probed at once. A cluster that cannot be
/// started is a model that says why (its sources failing), never a missing row.
pub async fn snapshot_all(members: &[Member], wait: Duration, parallel: usize, session: &str) -> Vec<(String, Model)> {
    use futures_util::StreamExt;
    let jobs = members.iter().cloned().map(|m| {
        let session = session.to_string();
        async move {
            let picture = snapshot_one(&m, wait, &session).await;
            (m.name.clone(), picture)
        }
    });
    futures_util::stream::iter(jobs).buffered(parallel.max(1)).collect().await
}

async fn snapshot_one(m: &Member, wait: Duration, session: &str) -> Model {
    if let Some(why) = &m.unavailable {
        return unstartable(m, why);
    }
    let (mut backend, mut model) = match start(m, Some(session)) {
        Ok(x) => x,
        Err(e) => return unstartable(m, &e),
    };
    if m.is_demo() && m.alertmanager.is_none() {
        return model;
    }
    model.meta.answer_by = Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX));
    let deadline = tokio::time::Instant::now() + wait;
    while !complete(&model, m.is_demo()) {
        match tokio::time::timeout_at(deadline, backend.events.recv()).await {
            Ok(Some(BackendEvent::Obs(o))) => {
                model.apply(o);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    model
}

/// A cluster that cannot be started: a backend that reports nothing and refuses every command, and
/// a model whose sources fail with `why`.
pub fn start_or_explain(m: &Member, session: Option<&str>, light: bool) -> (BackendHandle, Model) {
    match start_as(m, session, light) {
        Ok(x) => x,
        Err(why) => {
            let model = unstartable(m, &why);
            (refusing(why), model)
        }
    }
}

/// A backend that observes nothing and answers every command with `why`.
fn refusing(why: String) -> BackendHandle {
    BackendHandle::spawn(move |events, mut commands| async move {
        while let Some(cmd) = commands.recv().await {
            for ev in crate::backend::unavailable(cmd, &why) {
                if events.send(ev).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// The model of a cluster that could not even be started: every source failing with `why`.
fn unstartable(m: &Member, why: &str) -> Model {
    let plan = m.plan.clone().unwrap_or_else(|| Plan::from_kubeconfig(&m.name, "", None, None));
    let mut model = Model::new(plan, if m.readonly { Mode::ReadOnly } else { Mode::Live }, "");
    model.meta.cluster = m.name.clone();
    let now = Utc::now();
    for payload in [
        crate::model::Payload::Nodes(Err(why.to_string())),
        crate::model::Payload::Leases(Err(why.to_string())),
        crate::model::Payload::Etcd(Err(why.to_string())),
        // what a plan-less cluster's panels wait for otherwise: the static pods (not the endpoint's
        // probe: it never ran, and a failure there would claim the VIP does not answer)
        crate::model::Payload::ControlPlane(Err(why.to_string())),
        crate::model::Payload::Workloads(Err(why.to_string())),
        crate::model::Payload::KubeWarnings(Err(why.to_string())),
    ] {
        // never retried in this process: the failure stays current
        model.apply(crate::model::Observation { at: now, source: "kockpit".into(), budget_ms: 86_400_000, payload });
    }
    model
}
