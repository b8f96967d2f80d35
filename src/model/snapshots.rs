//! How old etcd's newest snapshot is: the files the etcd hosts keep in the plan's snapshot
//! directories, and the snapshots kockpit itself took. Older than `[etcd] snapshot_max_age_hours` is a
//! finding; none found where kockpit looked is said as such (a backup kept elsewhere is not seen).

use chrono::{DateTime, Utc};

use super::health::{Finding, Severity};
use super::{Model, PanelId};

/// The newest snapshot kockpit knows of: when it was written, and where (`HOST:/PATH` or a file here).
pub fn newest(m: &Model) -> Option<(DateTime<Utc>, String)> {
    let on_hosts = m
        .etcd_snapshots
        .iter()
        .flat_map(|(h, s)| s.data.iter().flat_map(move |v| v.files.iter().map(move |f| (f.modified, format!("{h}:{}", f.path)))));
    on_hosts.chain(m.snapshots_taken.iter().cloned()).max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
}

/// An age as people say it: 45m, 5h, 3d 4h.
pub fn age(d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    match m {
        0..=59 => format!("{m}m"),
        60..=1439 => format!("{}h", m / 60),
        _ => format!("{}d {}h", m / 1440, (m % 1440) / 60),
    }
}

const SUBJECT: &str = "snapshots";

pub fn findings(m: &Model, now: DateTime<Utc>, out: &mut Vec<Finding>) {
    let max_h = m.plan.etcd.snapshot_max_age_hours;
    if max_h == 0 || m.plan.etcd_hosts().next().is_none() || m.plan.etcd.snapshot_dirs.is_empty() {
        return;
    }
    let failing: Vec<String> =
        // a reason that names its host already is not prefixed twice
        m.etcd_snapshots
            .iter()
            .filter_map(|(h, s)| s.error.as_ref().map(|e| format!("{h}: {}", e.reason.strip_prefix(&format!("{h}: ")).unwrap_or(&e.reason))))
            .collect();
    let looked: Vec<&str> = m.etcd_snapshots.iter().filter(|(_, s)| s.data.is_some()).map(|(h, _)| h.as_str()).collect();
    let not_listed = if failing.is_empty() { String::new() } else { format!("; not listed on {}", failing.join("; ")) };
    let mut add = |severity: Severity, message: String| {
        out.push(Finding { severity, panel: PanelId::Etcd, subject: SUBJECT.into(), message });
    };
    match newest(m) {
        Some((at, _)) if now - at <= chrono::Duration::hours(max_h as i64) => {}
        Some((at, place)) => {
            add(Severity::Warn, format!("etcd's newest snapshot is {} old ({place}): older than {max_h} h{not_listed}", age(now - at)))
        }
        None if looked.is_empty() && !failing.is_empty() => {
            add(Severity::Info, format!("etcd snapshots not known: the snapshot directories could not be listed ({})", failing.join("; ")))
        }
        // still waiting for the first listing
        None if looked.is_empty() => {}
        None => add(
            Severity::Info,
            format!(
                "no etcd snapshot found in {} on {}, and none taken by kockpit since it started{not_listed}",
                m.plan.etcd.snapshot_dirs.join(" "),
                looked.join(" ")
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mode, Observation, Payload, SnapshotFile, SnapshotFiles};

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap()
    }

    fn listing(m: &mut Model, host: &str, result: Result<Vec<(i64, &str)>, &str>, now: DateTime<Utc>) {
        let result = result
            .map(|files| SnapshotFiles {
                files: files.into_iter().map(|(h, p)| SnapshotFile { path: p.into(), size: 1, modified: at(h) }).collect(),
                missing_dirs: vec![],
            })
            .map_err(String::from);
        m.apply(Observation {
            at: now,
            source: format!("ssh {host}"),
            budget_ms: 900_000,
            payload: Payload::EtcdSnapshots { host: host.into(), result },
        });
    }

    fn found(m: &Model, now: DateTime<Utc>) -> Vec<(Severity, String)> {
        let mut out = vec![];
        findings(m, now, &mut out);
        out.into_iter().map(|f| (f.severity, f.message)).collect()
    }

    #[test]
    fn the_newest_snapshot_anywhere_counts_and_its_age_is_judged_against_the_plan() {
        let plan = crate::inventory::Plan::demo();
        let masters: Vec<String> = plan.etcd_hosts().map(|h| h.name.clone()).collect();
        let mut m = Model::new(plan, Mode::Live, "t");
        let now = at(100);
        assert!(found(&m, now).is_empty(), "nothing said before the first listing");
        listing(&mut m, &masters[0], Ok(vec![(60, "/var/backups/kube_etcd/etcd-a/snapshot.db")]), now);
        listing(&mut m, &masters[1], Ok(vec![]), now);
        listing(&mut m, &masters[2], Err("ssh: connect: no route to host"), now);
        let f = found(&m, now);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0, Severity::Warn);
        assert!(
            f[0].1.starts_with(&format!(
                "etcd's newest snapshot is 1d 16h old ({}:/var/backups/kube_etcd/etcd-a/snapshot.db): older than 24 h",
                masters[0]
            )),
            "{f:?}"
        );
        assert!(f[0].1.contains(&format!("not listed on {}: ssh: connect: no route to host", masters[2])), "{f:?}");
        // a snapshot kockpit took itself, an hour ago: fresh enough
        m.apply(Observation {
            at: at(99),
            source: "etcd snapshot".into(),
            budget_ms: 3000,
            payload: Payload::EtcdSnapshotTaken { place: "/home/op/etcd.db".into() },
        });
        assert!(found(&m, now).is_empty(), "{:?}", found(&m, now));
        assert_eq!(newest(&m), Some((at(99), "/home/op/etcd.db".to_string())));
        // the plan may turn the finding off
        m.snapshots_taken.clear();
        m.plan.etcd.snapshot_max_age_hours = 0;
        assert!(found(&m, now).is_empty());
    }

    #[test]
    fn none_found_is_said_where_kockpit_looked_and_a_listing_that_failed_is_not_none() {
        let plan = crate::inventory::Plan::demo();
        let masters: Vec<String> = plan.etcd_hosts().map(|h| h.name.clone()).collect();
        let mut m = Model::new(plan, Mode::Live, "t");
        let now = at(10);
        for h in &masters {
            listing(&mut m, h, Err("sudo: a password is required"), now);
        }
        let f = found(&m, now);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, Severity::Info, "not known is not a warning");
        assert!(f[0].1.starts_with("etcd snapshots not known"), "{f:?}");
        for h in &masters {
            listing(&mut m, h, Ok(vec![]), now);
        }
        let f = found(&m, now);
        assert_eq!(f[0].0, Severity::Info);
        assert_eq!(
            f[0].1,
            format!(
                "no etcd snapshot found in /var/backups/kube_etcd on {}, and none taken by kockpit since it started",
                masters.join(" ")
            )
        );
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age(chrono::Duration::minutes(45)), "45m");
        assert_eq!(age(chrono::Duration::hours(5)), "5h");
        assert_eq!(age(chrono::Duration::hours(40)), "1d 16h");
        assert_eq!(age(chrono::Duration::minutes(-5)), "0m");
    }
}
