//! The one-shot commands' view of the cluster: one round of observations, waiting up to `--wait` for
//! every source the plan expects.

use std::time::Duration;

use chrono::Utc;
use color_eyre::Result;
use color_eyre::eyre::eyre;

use super::{Cli, Setup, demo_model, live_backend};
use crate::live;
use crate::model::{Mode, Model};

/// A model for the non-interactive commands: the settled demo, or one round of live probes.
pub(super) fn snapshot(s: &Setup, cli: &Cli) -> Result<Model> {
    if s.demo {
        return Ok(demo_model(s, cli).1);
    }
    let plan = s.plan.clone().expect("plan when not demo");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let model = rt.block_on(async move {
        let mode = if s.readonly { Mode::ReadOnly } else { Mode::Live };
        let mut model = Model::new(plan.clone(), mode, plan.access.kube_context.clone().unwrap_or_default());
        let mut backend = live_backend(&plan, s.readonly, false)?;
        // Collect until every expected first observation arrived, or --wait passed: a source silent
        // by then is unknown (the model knows the deadline, so the verdict says so).
        let wait = Duration::try_from_secs_f64(cli.wait).map_err(|_| eyre!("--wait must be a number of seconds, got {}", cli.wait))?;
        model.meta.answer_by = Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX));
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let complete = live::first_round_complete(&model);
            if complete {
                break;
            }
            match tokio::time::timeout_at(deadline, backend.events.recv()).await {
                Ok(Some(crate::backend::BackendEvent::Obs(o))) => {
                    model.apply(o);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        Ok::<_, color_eyre::Report>(model)
    })?;
    rt.shutdown_background(); // the picture is taken: probes still running are not waited for
    Ok(model)
}
