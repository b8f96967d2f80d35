//! Master maintenance: one operation made of the ones an operator runs by hand before working on a
//! master, and its exact reverse. Start: (1) move etcd's leadership off the master if it leads, (2)
//! drain it from haproxy on every LB, (3) cordon and drain its node. End: uncordon the node, make it
//! ready in haproxy. Each part is planned by its own planner (its guards are the maintenance's) and
//! executed as its own operation, verified before the next starts.

use super::{DrainOptions, OpPlan, OpRequest, ServerAdmin, plan};
use crate::model::{Model, ServerStatus};

/// The parts of maintaining `host` (or ending it), in order, as the model stands; Err: why there is
/// nothing to do or it cannot be judged. Also what was left out, and why, as warnings.
pub fn parts_of(m: &Model, host: &str, end: bool) -> Result<(Vec<OpRequest>, Vec<String>), String> {
    let h = m.plan.host(host).ok_or_else(|| format!("{host} is not a host of the plan"))?;
    if !h.roles.master {
        return Err(format!("{host} is not a master (maintenance is a master's: etcd, haproxy and its node)"));
    }
    let mut parts = vec![];
    let mut notes = vec![];
    let node = m.node(host).map(|n| (n.name.clone(), n.unschedulable));
    let seen: Vec<&crate::model::BackendServer> = m
        .haproxy
        .values()
        .flat_map(|s| s.data.iter().flatten())
        .filter(|b| {
            b.server == host || b.address.rsplit_once(':').is_some_and(|(a, _)| a.trim_matches(['[', ']']) == h.address.to_string())
        })
        .collect();
    let out_of_rotation = |b: &&crate::model::BackendServer| matches!(b.status, ServerStatus::Maint | ServerStatus::Drain);
    if m.haproxy.is_empty() {
        notes.push(format!("kockpit sees no haproxy in this cluster: {host} is not taken out of any LB's rotation"));
    }
    if !end {
        match &m.etcd.data {
            None => return Err(format!("etcd's status is unknown now: kockpit cannot tell whether {host} leads etcd")),
            Some(v) => {
                if v.leader().is_some_and(|l| l.name == host) {
                    let mut next: Vec<&crate::model::EtcdMember> =
                        v.members.iter().filter(|x| x.reachable && !x.is_learner && x.name != host).collect();
                    next.sort_by(|a, b| b.raft_index.cmp(&a.raft_index).then(a.name.cmp(&b.name)));
                    let to = next.first().ok_or_else(|| format!("{host} leads etcd and no other member answers to take over"))?;
                    parts.push(OpRequest::EtcdMoveLeader { to: to.name.clone() });
                }
            }
        }
        if !m.haproxy.is_empty() && (seen.is_empty() || !seen.iter().all(out_of_rotation)) {
            parts.push(OpRequest::HaproxyServer { server: host.to_string(), admin: ServerAdmin::Drain });
        }
        match node {
            Some((n, _)) => parts.push(OpRequest::Drain { node: n, options: DrainOptions::default() }),
            None => notes.push(format!("no node named {host} in the node list: nothing to cordon or drain")),
        }
    } else {
        if let Some((n, true)) = node {
            parts.push(OpRequest::Uncordon { node: n });
        }
        if seen.iter().any(out_of_rotation) {
            parts.push(OpRequest::HaproxyServer { server: host.to_string(), admin: ServerAdmin::Ready });
        }
        if parts.is_empty() {
            return Err(format!("{host} is not in maintenance: its node is schedulable and no LB has it out of rotation"));
        }
    }
    Ok((parts, notes))
}

/// The plan: every part's plan in order, its blockers and warnings named by the part.
/// Where the cluster asks for it (`silence_operations`), a drain or a master's maintenance silences
/// its node's alerts in Alertmanager while it runs: a step of its plan, and so in its confirmation
/// and its audit record.
pub(super) fn silence_step(p: &mut OpPlan, m: &Model) {
    let node = match &p.request {
        OpRequest::Drain { node, .. } => node,
        OpRequest::Maintenance { host, end: false, .. } => host,
        _ => return,
    };
    if let (true, Some(url)) = (m.meta.silence_operations, &m.meta.alertmanager) {
        let step = format!("silence {node}'s alerts in Alertmanager ({url}) until this ends (at most 2 h), expired at its end");
        p.steps.insert(0, step);
    }
}

pub(super) fn plan_maintenance(p: &mut OpPlan, m: &Model, host: &str, end: bool) {
    let (parts, notes) = match parts_of(m, host, end) {
        Ok(x) => x,
        Err(why) => {
            p.blockers.push(why);
            return;
        }
    };
    p.warnings.extend(notes);
    let moves_leader = parts.iter().any(|x| matches!(x, OpRequest::EtcdMoveLeader { .. }));
    for (k, sub) in parts.iter().enumerate() {
        let sp = plan(sub, m);
        p.steps.push(format!("[{}/{}] {}", k + 1, parts.len(), sub.title()));
        p.steps.extend(sp.steps);
        p.blockers.extend(sp.blockers.into_iter().map(|b| format!("{}: {b}", sub.short_label())));
        // the drain's advice to move the leadership first is this operation's first part
        let said = sp.warnings.into_iter().filter(|w| !(moves_leader && w.contains("hosts the etcd leader")));
        p.warnings.extend(said.map(|w| format!("{}: {w}", sub.short_label())));
        if sp.dry_run.is_some() {
            p.dry_run = sp.dry_run;
        }
    }
    p.steps.push("each part is verified before the next starts; a failure or a cancel stops there and says what is left".into());
    p.request = OpRequest::Maintenance { host: host.to_string(), end, parts };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mode;
    use crate::sim::settled_demo;

    fn demo(faults: &[crate::sim::Fault]) -> Model {
        settled_demo(faults, 0, chrono::Utc::now(), 8, Mode::Demo).1
    }

    #[test]
    fn maintenance_of_the_leader_moves_the_leadership_then_haproxy_then_the_node() {
        let m = demo(&[]);
        let leader = m.etcd.data.as_ref().unwrap().leader().unwrap().name.clone();
        let (parts, notes) = parts_of(&m, &leader, false).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert!(matches!(&parts[0], OpRequest::EtcdMoveLeader { to } if *to != leader), "{parts:?}");
        assert_eq!(parts[1], OpRequest::HaproxyServer { server: leader.clone(), admin: ServerAdmin::Drain });
        assert!(matches!(&parts[2], OpRequest::Drain { node, .. } if *node == leader));
        let p = plan(&OpRequest::Maintenance { host: leader.clone(), end: false, parts: vec![] }, &m);
        assert!(p.blockers.is_empty(), "{p:?}");
        assert!(matches!(&p.request, OpRequest::Maintenance { parts, .. } if parts.len() == 3));
        assert!(p.steps[0].starts_with("[1/3] Move etcd leadership to"), "{:?}", p.steps);
        assert!(!p.warnings.iter().any(|w| w.contains("hosts the etcd leader")), "the first part does that: {:?}", p.warnings);
        // a follower: no leadership to move
        let follower = m.etcd.data.as_ref().unwrap().members.iter().find(|x| !x.is_leader).unwrap().name.clone();
        assert_eq!(parts_of(&m, &follower, false).unwrap().0.len(), 2);
    }

    #[test]
    fn a_maintenance_is_refused_for_a_worker_an_unknown_host_and_when_a_parts_guard_refuses() {
        let m = demo(&[]);
        assert!(parts_of(&m, "worker1", false).unwrap_err().contains("not a master"));
        assert!(parts_of(&m, "nosuch", false).unwrap_err().contains("not a host of the plan"));
        // with a master killed, draining another from haproxy still leaves one, but etcd's status says
        // the killed master does not answer: the move-leader part refuses a dead target, so only live ones
        let m = demo(&[crate::sim::Fault::KillMaster]);
        let leader = m.etcd.data.as_ref().unwrap().leader().unwrap().name.clone();
        let (parts, _) = parts_of(&m, &leader, false).unwrap();
        let OpRequest::EtcdMoveLeader { to } = &parts[0] else { panic!("{parts:?}") };
        assert!(m.etcd.data.as_ref().unwrap().members.iter().any(|x| &x.name == to && x.reachable));
        let p = plan(&OpRequest::Maintenance { host: leader, end: false, parts: vec![] }, &m);
        assert!(p.warnings.iter().any(|w| w.starts_with("move-leader: etcd can lose no member")), "{p:?}");
    }

    #[test]
    fn ending_a_maintenance_undoes_what_is_left_and_nothing_else() {
        let mut m = demo(&[]);
        assert!(parts_of(&m, "master2", true).unwrap_err().contains("not in maintenance"));
        if let Some(n) = m.nodes.data.as_mut().unwrap().iter_mut().find(|n| n.name == "master2") {
            n.unschedulable = true;
        }
        assert_eq!(parts_of(&m, "master2", true).unwrap().0, [OpRequest::Uncordon { node: "master2".into() }]);
        for s in m.haproxy.values_mut() {
            for b in s.data.iter_mut().flatten().filter(|b| b.server == "master2") {
                b.status = ServerStatus::Maint;
            }
        }
        let (parts, _) = parts_of(&m, "master2", true).unwrap();
        assert_eq!(parts[1], OpRequest::HaproxyServer { server: "master2".into(), admin: ServerAdmin::Ready });
    }
}
