//! The VIP failover's preconditions, in one place: the planner (on the model) and the executor
//! (on fresh looks, right before acting) both judge with [`checks`], so a plan the operator confirms
//! is never refused by the executor for a reason the plan did not show, and the other way round.

use crate::model::{BackendServer, Model, VrrpState, VrrpView};

/// What a failover to a load balancer is judged on, however it was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct FailoverFacts {
    /// Every keepalived host: its state, or why it cannot be seen.
    pub lbs: Vec<(String, Result<VrrpView, String>)>,
    /// The target's haproxy backends, or why they cannot be seen.
    pub target_haproxy: Result<Vec<BackendServer>, String>,
}

/// The verdict: blockers refuse the failover; `owner` is who holds the VIP now (when exactly one does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks {
    pub blockers: Vec<String>,
    pub warnings: Vec<String>,
    pub owner: Option<String>,
}

impl FailoverFacts {
    /// The facts as the model has them.
    pub fn from_model(m: &Model, to: &str) -> FailoverFacts {
        let lbs = m
            .vrrp
            .iter()
            .map(|(name, s)| {
                let v = match (&s.data, &s.error) {
                    (_, Some(e)) => Err(e.reason.clone()),
                    (Some(v), None) => Ok(v.clone()),
                    (None, None) => Err("nothing heard yet".to_string()),
                };
                (name.clone(), v)
            })
            .collect();
        let target_haproxy = match m.haproxy.get(to) {
            None => Err("nothing heard yet".to_string()),
            Some(s) => match (&s.data, &s.error) {
                (_, Some(e)) => Err(e.reason.clone()),
                (Some(v), None) => Ok(v.clone()),
                (None, None) => Err("nothing heard yet".to_string()),
            },
        };
        FailoverFacts { lbs, target_haproxy }
    }
}

/// Whether the VIP may be moved to `to` now.
pub fn checks(f: &FailoverFacts, to: &str) -> Checks {
    let mut c = Checks::default();
    let holders: Vec<&str> = f.lbs.iter().filter(|(_, v)| v.as_ref().is_ok_and(|v| v.holds_vip)).map(|(n, _)| n.as_str()).collect();
    let blind: Vec<String> = f.lbs.iter().filter_map(|(n, v)| v.as_ref().err().map(|e| format!("{n}: {e}"))).collect();
    match holders.as_slice() {
        [] if blind.is_empty() => c.blockers.push("nobody holds the VIP right now: there is nothing to fail over".into()),
        [] => c.blockers.push(format!("no observable LB holds the VIP ({})", blind.join("; "))),
        [one] => c.owner = Some(one.to_string()),
        many => c.blockers.push(format!(
            "SPLIT BRAIN: the VIP is held by {} right now; a failover would not end it (are VRRP adverts getting through?)",
            many.join(" and ")
        )),
    }
    match f.lbs.iter().find(|(n, _)| n == to) {
        None => c.blockers.push(format!("{to} is not a keepalived load balancer of this cluster")),
        Some((_, Err(e))) => c.blockers.push(format!("{to} cannot be observed: {e}")),
        Some((_, Ok(v))) => {
            if v.holds_vip && holders.len() == 1 {
                c.blockers.push(format!("{to} already holds the VIP"));
            } else if v.state == VrrpState::Stopped {
                c.blockers.push(format!(
                    "{to} is STOPPED (a failover needs a healthy BACKUP): start its keepalived again with the restore (key R, or :restore {to})"
                ));
            } else if v.state != VrrpState::Backup {
                c.blockers.push(format!("{to} is {} (a failover needs a healthy BACKUP: keepalived running, not FAULT)", v.state.label()));
            }
        }
    }
    match &f.target_haproxy {
        Err(e) => c.blockers.push(format!("haproxy on {to} cannot be observed ({e}): the VIP would move to a dead end")),
        Ok(b) if !b.iter().any(|s| s.status.is_serving()) => {
            let states: Vec<String> = b.iter().map(|s| format!("{}={}", s.server, s.status_text)).collect();
            c.blockers.push(format!("haproxy on {to} sees no healthy apiserver backend ({})", states.join(" ")));
        }
        Ok(_) => {}
    }
    if !blind.is_empty() && c.blockers.is_empty() {
        c.warnings.push(format!("not every load balancer could be seen: {}", blind.join("; ")));
    }
    c
}

/// How a graceful failover demotes `owner` through the plan's track file, as its keepalived
/// configuration says: the step, and what refuses or warns. No track file in the plan refuses (there
/// is nothing to write); one that `owner`'s keepalived does not track refuses (writing it changes
/// nothing, and the failover could only fail); a configuration not read yet warns (not known).
pub fn track_file_demotion(m: &Model, owner: &str) -> (String, Option<String>, Option<String>) {
    let file = &m.plan.lb.track_file;
    if file.is_empty() {
        let why = "the plan sets no [lb] track_file: a graceful failover demotes the owner by writing 1 to it (set track_file to \
                   the file keepalived tracks, or demote = \"priority\"; an emergency failover needs neither)";
        return (format!("{owner}: demote keepalived (no track_file)"), Some(why.into()), None);
    }
    let conf = m.ha_config.get(owner).and_then(|s| s.data.as_ref()).and_then(|v| v.keepalived.as_ref());
    let Some(conf) = conf else {
        let warn = format!("{owner}'s keepalived configuration is not read yet: that it tracks {file} is not known");
        return (format!("{owner}: demote keepalived (write 1 to {file})"), None, Some(warn));
    };
    let vip = m.plan.vip.as_ref().map(|v| v.address.to_string());
    let instance = conf.carrying(vip.as_deref(), None);
    // the instance's track_file entry naming a block whose file is the plan's: its weight, else the block's
    let weight = instance.and_then(|i| {
        i.track_files.iter().find_map(|t| conf.tracked_file(&t.name).filter(|f| &f.file == file).map(|f| t.weight.unwrap_or(f.weight)))
    });
    match (instance, weight) {
        (Some(i), Some(w)) => (format!("{owner}: demote keepalived ({file}: 1, weight {w} in {})", i.name), None, None),
        (i, _) => {
            let files: Vec<&str> = conf.files_tracked.iter().map(|t| t.file.as_str()).collect();
            let known = if files.is_empty() { "it tracks no file".to_string() } else { format!("it tracks {}", files.join(", ")) };
            let inst = i.map(|i| format!("the instance {}", i.name)).unwrap_or_else(|| "no vrrp_instance".into());
            let why = format!("keepalived on {owner} does not track {file} in {inst} ({known}): writing 1 to it would not demote it");
            (format!("{owner}: demote keepalived (write 1 to {file})"), Some(why), None)
        }
    }
}

/// The VIP failover's plan: the preconditions ([`checks`]), then the steps of `mode`.
pub(super) fn plan(p: &mut super::OpPlan, m: &Model, to: &str, mode: super::FailoverMode) {
    // the executor judges its fresh looks with the same function right before acting
    let c = checks(&FailoverFacts::from_model(m, to), to);
    p.blockers.extend(c.blockers);
    p.warnings.extend(c.warnings);
    let owner = c.owner.unwrap_or_else(|| "(nobody)".into());
    match mode {
        super::FailoverMode::Graceful => {
            p.steps.push(match m.plan.lb.demote {
                crate::inventory::DemoteMethod::TrackFile => {
                    let (step, blocker, warning) = track_file_demotion(m, &owner);
                    p.blockers.extend(blocker);
                    p.warnings.extend(warning);
                    step
                }
                crate::inventory::DemoteMethod::Priority => {
                    format!("{owner}: set keepalived's priority to 1 in keepalived.conf and reload")
                }
            });
            p.steps.push(format!("wait for the VIP to move to {to} (expect ~3.5 s)"));
            p.steps.push("verify the apiserver answers through the VIP; report how long clients could not connect".into());
            p.steps.push(format!("{owner} stays demoted until you restore it (key R on {owner}, or :restore {owner})"));
        }
        super::FailoverMode::Emergency => {
            p.steps.push(format!("{owner}: STOP keepalived (clients see a short outage)"));
            p.steps.push(format!("wait for the VIP to move to {to} (expect <1 s)"));
            p.steps.push("verify the apiserver answers through the VIP".into());
            p.warnings.push(format!("keepalived stays stopped on {owner} until it is restored (key R on {owner}, or :restore {owner})"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServerStatus;

    fn lb(state: VrrpState, holds: bool) -> Result<VrrpView, String> {
        Ok(VrrpView { instance: "VI_1".into(), state, priority: 100, effective_priority: 100, holds_vip: holds, last_transition: None })
    }

    fn up() -> Result<Vec<BackendServer>, String> {
        Ok(vec![BackendServer {
            backend: "kube-apiserver".into(),
            server: "m1".into(),
            address: "10.0.0.21:6443".into(),
            status: ServerStatus::Up,
            status_text: "UP".into(),
            check_status: None,
            check_duration_ms: None,
            last_change_secs: None,
            sessions: 0,
            weight: 1,
        }])
    }

    fn facts(a: Result<VrrpView, String>, b: Result<VrrpView, String>, hap: Result<Vec<BackendServer>, String>) -> FailoverFacts {
        FailoverFacts { lbs: vec![("lb1".into(), a), ("lb2".into(), b)], target_haproxy: hap }
    }

    #[test]
    fn a_healthy_pair_passes_and_names_the_owner() {
        let c = checks(&facts(lb(VrrpState::Master, true), lb(VrrpState::Backup, false), up()), "lb2");
        assert_eq!(c.blockers, Vec::<String>::new());
        assert_eq!(c.owner.as_deref(), Some("lb1"));
    }

    #[test]
    fn every_precondition_refuses() {
        let cases: Vec<(FailoverFacts, &str)> = vec![
            (facts(lb(VrrpState::Master, true), lb(VrrpState::Master, true), up()), "SPLIT BRAIN"),
            (facts(lb(VrrpState::Master, true), Err("ssh: timed out".into()), up()), "lb2 cannot be observed"),
            (facts(lb(VrrpState::Master, true), lb(VrrpState::Fault, false), up()), "lb2 is FAULT"),
            (facts(lb(VrrpState::Master, true), lb(VrrpState::Master, false), up()), "lb2 is MASTER"),
            (
                facts(lb(VrrpState::Master, true), lb(VrrpState::Backup, false), Err("no socket".into())),
                "haproxy on lb2 cannot be observed",
            ),
            (facts(lb(VrrpState::Master, true), lb(VrrpState::Backup, false), Ok(vec![])), "no healthy apiserver backend"),
            (facts(lb(VrrpState::Backup, false), lb(VrrpState::Backup, false), up()), "nobody holds the VIP"),
            (facts(Err("ssh: refused".into()), lb(VrrpState::Backup, false), up()), "no observable LB holds the VIP"),
            (facts(lb(VrrpState::Backup, false), lb(VrrpState::Master, true), up()), "already holds the VIP"),
        ];
        for (f, want) in cases {
            let c = checks(&f, "lb2");
            assert!(c.blockers.iter().any(|b| b.contains(want)), "want {want:?}, got {:?} for {f:?}", c.blockers);
        }
        let c = checks(&facts(lb(VrrpState::Master, true), lb(VrrpState::Backup, false), up()), "lb9");
        assert!(c.blockers.iter().any(|b| b.contains("not a keepalived load balancer")), "{:?}", c.blockers);
    }
}
