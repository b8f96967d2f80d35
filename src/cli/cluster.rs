//! Which cluster opens when no host plan is configured (the kubeconfig's, else the demo, saying why),
//! and `kockpit plan --from-cluster`: a host plan drafted from the kubeconfig's cluster.

use std::path::Path;

use color_eyre::Result;
use color_eyre::eyre::eyre;

use super::write_out;
use crate::inventory::Plan;
use crate::kube::kubeconfig::{self, WHERE};

/// What opens: a plan (a host plan, or one synthesized from the kubeconfig), or the demo with the
/// reason it is shown (None when it was asked for).
pub(super) struct Chosen {
    pub plan: Option<Plan>,
    pub demo: bool,
    pub note: Option<String>,
}

/// `plan_path`: the configured host plan (--config, KOCKPIT_CONFIG, config.toml). Without one, a usable
/// kubeconfig opens its cluster: decided from the files alone, nothing is sent. `--context` must name
/// a context that exists; with a host plan it stands for the plan's `kube_context`.
///
/// `oneshot` (status, render, audit report): a kubeconfig that is there but not usable is an error, not
/// the demo: a script would otherwise get the demo's verdict for its cluster.
pub(super) fn choose(plan_path: Option<&Path>, demo_asked: bool, context: Option<&str>, oneshot: bool) -> Result<Chosen> {
    if demo_asked {
        return Ok(Chosen { plan: None, demo: true, note: None });
    }
    if let Some(p) = plan_path {
        let mut plan = Plan::load(p)?;
        if let Some(c) = context {
            plan.access.kube_context = Some(c.to_string());
        }
        return Ok(Chosen { plan: Some(plan), demo: false, note: None });
    }
    match kubeconfig::usable(None, context) {
        Ok(Some(u)) => {
            let mut plan = Plan::from_kubeconfig(&u.context, &u.server, Some(u.context.clone()), None);
            if let crate::inventory::PlanSource::Kubeconfig { ca_subject, .. } = &mut plan.source {
                *ca_subject = ca_subject_of(&u);
            }
            Ok(Chosen { plan: Some(plan), demo: false, note: None })
        }
        Ok(None) if context.is_some() => Err(eyre!("--context {}: no kubeconfig ({WHERE})", context.unwrap_or_default())),
        Ok(None) => Ok(Chosen { plan: None, demo: true, note: Some(format!("demo: no host plan and no kubeconfig ({WHERE})")) }),
        Err(why) if context.is_some() => Err(eyre!("--context: kubeconfig: {why}")),
        Err(why) if oneshot => Err(eyre!("kubeconfig: {why} (and no host plan; --demo asks for the demo)")),
        Err(why) => {
            Ok(Chosen { plan: None, demo: true, note: Some(format!("demo: no host plan, and the kubeconfig is not usable: {why}")) })
        }
    }
}

/// `kockpit plan --from-cluster`: the kubeconfig's cluster (or `context`'s) asked with a read-only
/// client, and the drafted plan printed.
pub(super) fn from_cluster(context: Option<&str>) -> Result<i32> {
    let u = kubeconfig::usable(None, context)
        .map_err(|why| eyre!("kubeconfig: {why}"))?
        .ok_or_else(|| eyre!("no kubeconfig ({WHERE}): `plan --from-cluster` drafts a plan from the cluster a kubeconfig names"))?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let facts = rt.block_on(kubeconfig::gather(&u)).map_err(|e| eyre!("{} ({}): {e}", u.context, u.server))?;
    let text = crate::inventory::draft::draft_toml(&facts).map_err(|e| eyre!("{e}"))?;
    write_out(format_args!("{text}"))?;
    Ok(0)
}

/// The subject of the CA a kubeconfig trusts for its server (its data, else its file; a file is read
/// only when it is a small regular file). None when it names none or it does not parse.
fn ca_subject_of(u: &kubeconfig::Usable) -> Option<String> {
    use crate::certs::parse::{from_kubeconfig_data, from_pem};
    if let Some(d) = &u.ca_data {
        return from_kubeconfig_data("ca", "kubeconfig", d).ok().map(|p| p.info.subject);
    }
    let f = u.ca_file.as_ref()?;
    kubeconfig::check_file(f).ok()?;
    let pem = std::fs::read(f).ok()?;
    from_pem("ca", &f.display().to_string(), &pem).ok().map(|p| p.info.subject)
}
