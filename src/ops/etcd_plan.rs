//! Planning etcd's maintenance: who leads next, and whether now is the time. The planner judges the
//! model; the executor judges a fresh status read the same way right before it acts.

use super::OpPlan;
use crate::model::{EtcdView, Model};

/// A member that falls this many raft entries behind the leader is said to be catching up.
const BEHIND: u64 = 1_000;

/// What a leader move found: what stops it, what to know first, and who leads now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MoveLeaderChecks {
    pub blockers: Vec<String>,
    pub warnings: Vec<String>,
    /// The leader now: its name and member id.
    pub leader: Option<(String, u64)>,
    /// The member to lead next, when it exists.
    pub target_id: Option<u64>,
}

/// Whether etcd's leadership can move to `to` now, from the view `v`.
pub fn move_leader_checks(v: &EtcdView, to: &str) -> MoveLeaderChecks {
    let mut c = MoveLeaderChecks::default();
    let leader = v.leader();
    c.leader = leader.map(|l| (l.name.clone(), l.id));
    let Some(t) = v.members.iter().find(|m| m.name == to) else {
        let names: Vec<&str> = v.members.iter().map(|m| m.name.as_str()).collect();
        c.blockers.push(format!("{to} is not an etcd member (members: {})", names.join(", ")));
        return c;
    };
    c.target_id = Some(t.id);
    if t.is_learner {
        c.blockers.push(format!("{to} is a learner: it has no vote and cannot lead"));
    }
    if !t.reachable {
        c.blockers.push(format!("{to} does not answer: a leader must be a healthy member"));
    }
    match leader {
        None => c.blockers.push(format!(
            "etcd has no leader now ({} of {} voting members answer): there is no leadership to hand over",
            v.healthy(),
            v.size()
        )),
        Some(l) if l.name == to => c.blockers.push(format!("{to} is the leader already")),
        Some(l) => {
            let behind = l.raft_index.saturating_sub(t.raft_index);
            if t.reachable && behind > BEHIND {
                c.warnings
                    .push(format!("{to} is {behind} raft entries behind the leader: etcd hands over only once it caught up, or refuses"));
            }
        }
    }
    if v.can_lose() < 1 && c.blockers.is_empty() {
        c.warnings.push(format!(
            "etcd can lose no member now ({} of {} answer): a failure during the hand-over leaves no margin",
            v.healthy(),
            v.size()
        ));
    }
    c
}

pub(super) fn plan_move_leader(p: &mut OpPlan, m: &Model, to: &str) {
    let Some(v) = &m.etcd.data else {
        let why = m.etcd.error.as_ref().map(|e| format!(": {}", e.reason)).unwrap_or_default();
        p.blockers.push(format!("etcd's status is unknown now{why}: kockpit cannot see who leads"));
        return;
    };
    if let Some(e) = &m.etcd.error {
        p.blockers.push(format!("etcd's status source fails ({}): what it last said may be out of date", e.reason));
    }
    let c = move_leader_checks(v, to);
    let from = c.leader.as_ref().map(|(n, _)| n.clone()).unwrap_or_else(|| "(no leader)".into());
    p.blockers.extend(c.blockers);
    p.warnings.extend(c.warnings);
    p.steps.push(format!("read every member's status again; stop if the leader or {to} changed"));
    p.steps.push(format!("ask the leader {from} to hand its leadership to {to} (etcd MoveLeader)"));
    p.steps.push(format!("verify: {to} leads, in a newer term (writes pause for about one round trip)"));
}
