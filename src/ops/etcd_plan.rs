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

/// The pause between two members of a rolling defrag: the cluster settles (the defragmented member
/// catches up) before the next one blocks.
pub const DEFRAG_PAUSE_SECS: u64 = 2;

/// What a rolling defrag found: what stops it, what to know first, and the order (followers first,
/// by name, the leader last).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefragChecks {
    pub blockers: Vec<String>,
    pub warnings: Vec<String>,
    pub order: Vec<String>,
}

/// `12.3 MB`, or `16 KB` below a megabyte.
pub fn mb(bytes: u64) -> String {
    if bytes < 1_000_000 { format!("{} KB", bytes.div_ceil(1000)) } else { format!("{:.1} MB", bytes as f64 / 1e6) }
}

/// Whether a rolling defrag may start now, from the view `v`: every member healthy, a leader, no
/// member behind, no alarm but NOSPACE (whose documented recovery is compaction, defrag, disarm).
pub fn defrag_checks(v: &EtcdView) -> DefragChecks {
    let mut c = DefragChecks::default();
    let leader = v.leader().map(|l| l.name.clone());
    let down: Vec<&str> = v.members.iter().filter(|m| !m.reachable).map(|m| m.name.as_str()).collect();
    if !down.is_empty() {
        c.blockers.push(format!(
            "every member must be healthy: {} does not answer (a defrag blocks the member it runs on; with one already gone that may cost quorum)",
            down.join(", ")
        ));
    }
    if leader.is_none() {
        c.blockers.push(format!("etcd has no leader now ({} of {} voting members answer)", v.healthy(), v.size()));
    }
    if v.can_lose() < 1 && down.is_empty() && leader.is_some() {
        c.blockers.push(format!(
            "etcd can lose no member now ({} of {} answer): a member blocked by its defrag would stop every write",
            v.healthy(),
            v.size()
        ));
    }
    for a in &v.alarms {
        if a.alarm == "NOSPACE" {
            c.warnings.push(format!(
                "alarm NOSPACE on {}: a defrag returns only what a compaction freed; disarm it afterwards (A, :disarm)",
                a.member
            ));
        } else {
            c.blockers.push(format!(
                "alarm {} on {}: a defrag must not run on a cluster that raised it; see to the alarm first",
                a.alarm, a.member
            ));
        }
    }
    if let Some(l) = v.leader() {
        for m in v.members.iter().filter(|m| m.reachable && !m.is_leader) {
            let behind = l.raft_index.saturating_sub(m.raft_index);
            if behind > BEHIND {
                c.blockers.push(format!("{} is {behind} raft entries behind the leader: wait until it caught up", m.name));
            }
        }
    }
    let mut followers: Vec<&str> = v.members.iter().filter(|m| m.reachable && !m.is_leader).map(|m| m.name.as_str()).collect();
    followers.sort_unstable();
    c.order = followers.into_iter().map(String::from).chain(leader).collect();
    let free: u64 = v.members.iter().map(|m| m.db_size.saturating_sub(m.db_size_in_use)).sum();
    let total: u64 = v.members.iter().map(|m| m.db_size).sum();
    if c.blockers.is_empty() && total > 0 && free * 10 < total {
        c.warnings.push(format!("little to reclaim: {} free of {} in all (under 10%)", mb(free), mb(total)));
    }
    c
}

pub(super) fn plan_defrag(p: &mut OpPlan, m: &Model) {
    let Some(v) = &m.etcd.data else {
        let why = m.etcd.error.as_ref().map(|e| format!(": {}", e.reason)).unwrap_or_default();
        p.blockers.push(format!("etcd's status is unknown now{why}: kockpit cannot see whether every member is healthy"));
        return;
    };
    if let Some(e) = &m.etcd.error {
        p.blockers.push(format!("etcd's status source fails ({}): what it last said may be out of date", e.reason));
    }
    let c = defrag_checks(v);
    p.blockers.extend(c.blockers);
    p.warnings.extend(c.warnings);
    p.steps.push("read every member's status again; stop if any of these guards fails now".into());
    for name in &c.order {
        let Some(mem) = v.members.iter().find(|x| &x.name == name) else { continue };
        let role = if mem.is_leader { "the leader, last" } else { "follower" };
        let gain = mem.db_size.saturating_sub(mem.db_size_in_use);
        p.steps.push(format!(
            "defragment {name} ({role}): DB {}, {} in use, up to {} to reclaim",
            mb(mem.db_size),
            mb(mem.db_size_in_use),
            mb(gain)
        ));
    }
    p.steps.push(format!(
        "between members: pause {DEFRAG_PAUSE_SECS} s, read every member again; abort if the leader changed, a member fell behind or etcd has no leader"
    ));
    p.steps.push("verify: every member healthy, one leader; DB sizes before and after, per member".into());
    p.warnings.push("a member being defragmented answers no reads or writes until it is done (seconds per GB)".into());
}

/// What disarming NOSPACE found: what stops it, what to know first, and the members whose alarm
/// goes (name, id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DisarmChecks {
    pub blockers: Vec<String>,
    pub warnings: Vec<String>,
    pub members: Vec<(String, u64)>,
}

/// Whether etcd's NOSPACE alarms may be disarmed now: one is raised, no other alarm is, and no
/// member's DB file still holds the space a compaction freed (etcd's quota counts the file: without a
/// defrag NOSPACE comes back at the next write).
pub fn disarm_checks(v: &EtcdView) -> DisarmChecks {
    let mut c = DisarmChecks::default();
    for a in &v.alarms {
        if a.alarm != "NOSPACE" {
            c.blockers.push(format!(
                "alarm {} on {}: kockpit disarms NOSPACE only (a CORRUPT member's data differs from the others': see etcd's corruption guide)",
                a.alarm, a.member
            ));
            continue;
        }
        match v.members.iter().find(|m| m.name == a.member) {
            Some(m) => c.members.push((m.name.clone(), m.id)),
            None => c.blockers.push(format!("alarm NOSPACE on {}, which is not in the member list", a.member)),
        }
    }
    if v.alarms.iter().all(|a| a.alarm != "NOSPACE") {
        c.blockers.push("no NOSPACE alarm is raised: nothing to disarm".into());
    }
    if v.leader().is_none() {
        c.blockers.push("etcd has no leader now: a disarm is a raft proposal and needs one".into());
    }
    for m in v.members.iter().filter(|m| m.reachable) {
        let free = m.db_size.saturating_sub(m.db_size_in_use);
        if m.db_size >= 1_000_000 && free * 10 > m.db_size {
            c.blockers.push(format!(
                "{}'s DB file is {} with {} in use: etcd's quota counts the file, so NOSPACE comes back at the next write; defragment first (F)",
                m.name,
                mb(m.db_size),
                mb(m.db_size_in_use)
            ));
        }
    }
    c.warnings.push(
        "kockpit cannot see etcd's quota (--quota-backend-bytes, 2 GiB by default): if what is in use is still near it, the next write raises NOSPACE again; delete or compact first".into(),
    );
    c
}

pub(super) fn plan_disarm(p: &mut OpPlan, m: &Model) {
    let Some(v) = &m.etcd.data else {
        p.blockers.push("etcd's status and alarms are unknown now".into());
        return;
    };
    if let Some(e) = &m.etcd.error {
        p.blockers.push(format!("etcd's status source fails ({}): its alarms may be out of date", e.reason));
    }
    let c = disarm_checks(v);
    p.blockers.extend(c.blockers);
    p.warnings.extend(c.warnings);
    p.steps.push("read every member's status and the alarms again; stop if any of these guards fails now".into());
    for (name, _) in &c.members {
        p.steps.push(format!("disarm NOSPACE on {name} (etcd's Alarm DEACTIVATE)"));
    }
    p.steps.push("verify: no NOSPACE alarm on a fresh read".into());
}

/// Where a snapshot goes: a file on this machine, or `HOST:/PATH` on a host of the plan (as scp
/// names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotDest {
    Local(std::path::PathBuf),
    Host { name: String, ssh_host: String, path: String },
}

impl SnapshotDest {
    /// `to` read against `plan`: `NAME:/PATH` is a host's file when NAME is a host of the plan.
    pub fn parse(to: &str, plan: &crate::inventory::Plan) -> Result<SnapshotDest, String> {
        let to = to.trim();
        if to.is_empty() {
            return Err("name the file to write the snapshot to (a path here, or HOST:/PATH on a host of the plan)".into());
        }
        if to.chars().any(char::is_control) {
            return Err("the snapshot's file name has control characters".into());
        }
        if to.len() > 4096 {
            return Err("the snapshot's file name is longer than 4096 bytes".into());
        }
        if let Some(path) = to.strip_prefix(':') {
            return Err(format!(":{path}: name the host before the colon (HOST:/PATH), or give a path on this machine"));
        }
        let Some((name, path)) = to.split_once(':').filter(|(n, _)| !n.contains('/') && !n.is_empty()) else {
            return Ok(SnapshotDest::Local(to.into()));
        };
        let Some(h) = plan.host(name) else {
            if path.starts_with('/') {
                return Err(format!("{name} is not a host of the plan (HOST:/PATH copies the snapshot to a host of the plan)"));
            }
            return Ok(SnapshotDest::Local(to.into()));
        };
        if !path.starts_with('/') || path.ends_with('/') || path.split('/').any(|c| c == "..") {
            return Err(format!("{to}: on a host, the snapshot's file is an absolute path to a file, without `..`"));
        }
        Ok(SnapshotDest::Host { name: h.name.clone(), ssh_host: h.ssh_host.clone(), path: path.to_string() })
    }
}

pub(super) fn plan_snapshot(p: &mut OpPlan, m: &Model, to: &str) {
    let dest = SnapshotDest::parse(to, &m.plan);
    if let Err(why) = &dest {
        p.blockers.push(why.clone());
    }
    match &m.etcd.data {
        None => p.blockers.push("etcd's status is unknown now: kockpit cannot see a leader to take the snapshot from".into()),
        Some(v) => match v.leader() {
            None => p.blockers.push(format!(
                "etcd has no leader ({} of {} voting members answer): a snapshot is taken from a healthy cluster's leader",
                v.healthy(),
                v.size()
            )),
            Some(l) => {
                let into = match &dest {
                    Ok(SnapshotDest::Host { .. }) => "a file of this machine's temporary directory".to_string(),
                    _ => format!("{to}.kockpit-part"),
                };
                p.steps.push(format!(
                    "stream a snapshot of about {} (the data in use in its {} DB file) from the leader {} (etcd's \
                     Maintenance.Snapshot) into {into} (mode 600)",
                    mb(l.db_size_in_use),
                    mb(l.db_size),
                    l.name
                ));
            }
        },
    }
    p.steps.push("check the SHA-256 etcd sends with it; a mismatch removes the file".into());
    p.steps.push("read its revision, key count, size and hash as etcdutl snapshot status does; rename it to the name asked for".into());
    if let Ok(SnapshotDest::Host { name, path, .. }) = &dest {
        p.steps.insert(0, format!("check over SSH that {name} has the directory of {path} and no file of that name"));
        p.steps.push(format!(
            "copy it to {name}:{path} over SSH (mode 600, as {path}.kockpit-part, renamed once {name}'s SHA-256 of it matches); \
             remove the copy on this machine"
        ));
    }
    p.warnings.push("the file holds every key of the cluster, Secrets included: keep it like a private key".into());
    p.warnings.push("kockpit never overwrites a file: should one of that name exist when it runs, it stops there".into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EtcdAlarm, EtcdMember};

    fn member(name: &str, leader: bool, up: bool, index: u64) -> EtcdMember {
        EtcdMember {
            name: name.into(),
            id: name.bytes().map(u64::from).sum(),
            endpoint: format!("https://{name}:2379"),
            reachable: up,
            is_leader: leader && up,
            is_learner: false,
            version: "3.4.23".into(),
            raft_term: 3,
            raft_index: index,
            raft_applied_index: index,
            db_size: 100_000_000,
            db_size_in_use: 40_000_000,
            error: None,
        }
    }

    fn three() -> EtcdView {
        EtcdView {
            members: vec![member("m2", true, true, 5000), member("m3", false, true, 5000), member("m1", false, true, 4990)],
            alarms: vec![],
        }
    }

    #[test]
    fn a_defrag_goes_followers_first_by_name_and_the_leader_last() {
        let c = defrag_checks(&three());
        assert!(c.blockers.is_empty() && c.warnings.is_empty(), "{c:?}");
        assert_eq!(c.order, ["m1", "m3", "m2"]);
    }

    #[test]
    fn a_defrag_is_refused_with_a_member_down_no_leader_a_member_behind_or_an_alarm() {
        let mut v = three();
        v.members[1].reachable = false;
        let c = defrag_checks(&v);
        assert!(c.blockers[0].starts_with("every member must be healthy: m3 does not answer"), "{c:?}");
        let mut v = three();
        v.members[0].is_leader = false;
        assert!(defrag_checks(&v).blockers.iter().any(|b| b.starts_with("etcd has no leader now")));
        let mut v = three();
        v.members[2].raft_index = 1000;
        assert!(defrag_checks(&v).blockers[0].starts_with("m1 is 4000 raft entries behind the leader"), "{:?}", defrag_checks(&v));
        let mut v = three();
        v.alarms.push(EtcdAlarm { member: "m3".into(), alarm: "CORRUPT".into() });
        assert!(defrag_checks(&v).blockers[0].starts_with("alarm CORRUPT on m3"));
        // NOSPACE: a defrag is part of its recovery; said, not refused
        let mut v = three();
        v.alarms.push(EtcdAlarm { member: "m3".into(), alarm: "NOSPACE".into() });
        let c = defrag_checks(&v);
        assert!(c.blockers.is_empty() && c.warnings[0].starts_with("alarm NOSPACE on m3"), "{c:?}");
        // a single member: nothing can be lost while it blocks
        let one = EtcdView { members: vec![member("m1", true, true, 10)], alarms: vec![] };
        assert!(defrag_checks(&one).blockers[0].starts_with("etcd can lose no member now (1 of 1 answer)"), "{:?}", defrag_checks(&one));
    }

    #[test]
    fn a_defrag_with_little_to_reclaim_says_so_and_sizes_read_as_people_do() {
        let mut v = three();
        for m in &mut v.members {
            m.db_size_in_use = 95_000_000;
        }
        assert!(defrag_checks(&v).warnings[0].starts_with("little to reclaim: 15.0 MB free of 300.0 MB"), "{:?}", defrag_checks(&v));
        assert_eq!((mb(16_384), mb(999_999), mb(29_319_168)), ("17 KB".to_string(), "1000 KB".to_string(), "29.3 MB".to_string()));
    }
}

#[cfg(test)]
mod disarm_tests {
    use super::*;
    use crate::model::{EtcdAlarm, EtcdMember};

    fn m(name: &str, size: u64, in_use: u64) -> EtcdMember {
        EtcdMember {
            name: name.into(),
            id: 7 + name.len() as u64,
            endpoint: String::new(),
            reachable: true,
            is_leader: name == "m1",
            is_learner: false,
            version: "3.4.23".into(),
            raft_term: 2,
            raft_index: 9,
            raft_applied_index: 9,
            db_size: size,
            db_size_in_use: in_use,
            error: None,
        }
    }

    #[test]
    fn nospace_is_disarmed_only_without_free_pages_in_the_file_and_never_another_alarm() {
        let alarm = |a: &str| EtcdAlarm { member: "m2".into(), alarm: a.into() };
        let v = EtcdView { members: vec![m("m1", 2_100_000, 2_000_000), m("m2", 2_100_000, 300_000)], alarms: vec![alarm("NOSPACE")] };
        let c = disarm_checks(&v);
        assert_eq!(c.blockers.len(), 1, "{c:?}");
        assert!(
            c.blockers[0].starts_with("m2's DB file is 2.1 MB with 300 KB in use") && c.blockers[0].ends_with("defragment first (F)"),
            "{c:?}"
        );
        let v = EtcdView { members: vec![m("m1", 2_100_000, 2_000_000), m("m2", 400_000, 300_000)], alarms: vec![alarm("NOSPACE")] };
        let c = disarm_checks(&v);
        assert!(c.blockers.is_empty(), "{c:?}");
        assert_eq!(c.members, [("m2".to_string(), 9)]);
        assert!(c.warnings[0].contains("cannot see etcd's quota"));
        let v = EtcdView { members: vec![m("m1", 100, 100)], alarms: vec![] };
        assert!(disarm_checks(&v).blockers[0].starts_with("no NOSPACE alarm is raised"));
        let v = EtcdView { members: vec![m("m1", 100, 100), m("m2", 100, 100)], alarms: vec![alarm("CORRUPT")] };
        assert!(disarm_checks(&v).blockers[0].starts_with("alarm CORRUPT on m2: kockpit disarms NOSPACE only"));
    }

    #[test]
    fn a_snapshot_goes_here_or_to_a_host_of_the_plan_named_as_scp_names_it() {
        let plan = crate::inventory::Plan::demo();
        let host = plan.hosts[0].clone();
        let p = |to: &str| SnapshotDest::parse(to, &plan);
        assert_eq!(p("etcd.db"), Ok(SnapshotDest::Local("etcd.db".into())));
        assert_eq!(p("/var/backups/etcd.db"), Ok(SnapshotDest::Local("/var/backups/etcd.db".into())));
        assert_eq!(p("./a:b.db"), Ok(SnapshotDest::Local("./a:b.db".into())), "a colon after a slash is a file name");
        assert_eq!(p("c:b.db"), Ok(SnapshotDest::Local("c:b.db".into())), "no host c, no absolute path: a file here");
        assert_eq!(
            p(&format!("{}:/var/backups/e.db", host.name)),
            Ok(SnapshotDest::Host { name: host.name.clone(), ssh_host: host.ssh_host.clone(), path: "/var/backups/e.db".into() })
        );
        assert!(p("nosuch:/var/e.db").unwrap_err().contains("nosuch is not a host of the plan"));
        for bad in ["rel/e.db", "/var/backups/", "/var/../etc/shadow"] {
            let e = p(&format!("{}:{bad}", host.name)).unwrap_err();
            assert!(e.contains("absolute path to a file"), "{bad}: {e}");
        }
        assert!(p("  ").unwrap_err().contains("name the file"));
        assert!(p("e\u{1b}[2J.db").unwrap_err().contains("control characters"));
    }
}
