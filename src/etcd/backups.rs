//! The etcd snapshots a cluster keeps on its etcd hosts (KubeKey's backup timer, a cron job of
//! `etcdctl snapshot save`, kockpit's own `HOST:/PATH` snapshots): the directories of the plan's
//! `[etcd] snapshot_dirs`, listed on every etcd host over SSH with a read-only script (names, sizes
//! and times only; no file is opened) every few minutes.

use std::time::Duration;

use chrono::DateTime;
use futures_util::future::join_all;
use tokio::sync::mpsc;

use crate::backend::BackendEvent;
use crate::backend::poll::{poll_loop, rounds};
use crate::inventory::Plan;
use crate::model::{Observation, Payload, SnapshotFile, SnapshotFiles};
use crate::shell::script_command;
use crate::transport::Remote;
use crate::transport::scripts::SNAPSHOTS_SCRIPT;

/// What the listing reads, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    /// (plan name, SSH host) of every etcd host.
    pub hosts: Vec<(String, String)>,
    pub dirs: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
}

/// At most this many lines are read from a host's listing (five per directory are printed).
const MAX_LINES: usize = 200;

impl BackupSettings {
    /// None when there is nothing to list (no etcd host, or no directory).
    pub fn from_plan(plan: &Plan) -> Option<BackupSettings> {
        let hosts: Vec<(String, String)> = plan.etcd_hosts().map(|h| (h.name.clone(), h.ssh_host.clone())).collect();
        if hosts.is_empty() || plan.etcd.snapshot_dirs.is_empty() {
            return None;
        }
        Some(BackupSettings {
            hosts,
            dirs: plan.etcd.snapshot_dirs.clone(),
            interval: Duration::from_secs(300),
            timeout: Duration::from_secs(20),
        })
    }

    pub fn command(&self) -> String {
        let dirs: Vec<&str> = self.dirs.iter().map(String::as_str).collect();
        script_command(SNAPSHOTS_SCRIPT, &dirs)
    }
}

/// The listing's output: `MTIME SIZE PATH` lines and `@@kockpit-nodir DIR` lines, newest first. A
/// line that is neither is an error naming it (the script prints nothing else).
pub fn parse(out: &str) -> Result<SnapshotFiles, String> {
    let mut v = SnapshotFiles::default();
    for (n, line) in out.lines().enumerate() {
        if n >= MAX_LINES {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(d) = line.strip_prefix("@@kockpit-nodir ") {
            v.missing_dirs.push(d.to_string());
            continue;
        }
        let mut w = line.splitn(3, ' ');
        let (Some(t), Some(size), Some(path)) = (w.next(), w.next(), w.next()) else {
            return Err(format!("the snapshot listing has a line kockpit does not know: {:?}", clip(line)));
        };
        let (Ok(t), Ok(size)) = (t.parse::<i64>(), size.parse::<u64>()) else {
            return Err(format!("the snapshot listing has a line kockpit does not know: {:?}", clip(line)));
        };
        let modified = DateTime::from_timestamp(t, 0).ok_or_else(|| format!("a snapshot file's time is out of range: {t}"))?;
        v.files.push(SnapshotFile { path: clip(path), size, modified });
    }
    v.files.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.path.cmp(&b.path)));
    Ok(v)
}

/// A line as it may be shown: control characters dropped, 300 characters at most.
fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// List every host's snapshot directories once.
pub async fn poll_all(remote: &Remote, s: &BackupSettings) -> Vec<(String, Result<SnapshotFiles, String>)> {
    let cmd = s.command();
    join_all(s.hosts.iter().map(|(name, ssh)| {
        let cmd = cmd.clone();
        async move {
            let result = match remote.read(ssh, Some("snapshots"), &cmd, s.timeout).await {
                Ok(o) if o.exit_status == Some(0) => parse(&o.stdout),
                Ok(o) => Err(format!("the snapshot listing failed (exit {:?}): {}", o.exit_status, clip(o.stderr.trim()))),
                Err(e) => Err(e),
            };
            (name.clone(), result)
        }
    }))
    .await
}

/// List every `settings.interval` and send one [`Payload::EtcdSnapshots`] per host until the app
/// hangs up.
pub async fn run_probe(settings: BackupSettings, remote: Remote, tx: mpsc::Sender<BackendEvent>) {
    let interval = settings.interval;
    let budget_ms = (interval.as_millis() as u64).saturating_mul(3);
    let round = rounds(move || {
        let (remote, settings) = (remote.clone(), settings.clone());
        async move {
            poll_all(&remote, &settings)
                .await
                .into_iter()
                .map(|(host, result)| {
                    BackendEvent::Obs(Observation::now(format!("ssh {host}"), budget_ms, Payload::EtcdSnapshots { host, result }))
                })
                .collect()
        }
    });
    poll_loop(interval, &tx, round).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_is_read_newest_first_and_a_stranger_line_is_an_error() {
        let out = "1764700000 81952 /var/backups/kube_etcd/etcd-2025-12-02-18-26-40/snapshot.db\n\
                   @@kockpit-nodir /srv/etcd-backups\n\
                   1764800000 90000 /var/backups/kube_etcd/etcd-2025-12-03-22-13-20/snapshot.db\n\
                   1764600000 5 /var/backups/kube_etcd/with space/snapshot.db\n";
        let v = parse(out).unwrap();
        assert_eq!(v.missing_dirs, ["/srv/etcd-backups"]);
        assert_eq!(v.files.len(), 3);
        assert_eq!(v.files[0].path, "/var/backups/kube_etcd/etcd-2025-12-03-22-13-20/snapshot.db");
        assert_eq!((v.files[0].size, v.files[0].modified.timestamp()), (90000, 1764800000));
        assert_eq!(v.files[2].path, "/var/backups/kube_etcd/with space/snapshot.db");
        assert_eq!(parse("").unwrap(), SnapshotFiles::default());
        for bad in ["sudo: a password is required", "x 1 /a", "1 -2 /a", "99999999999999999 1 /a"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // a hostile name is shown without its control characters, and a flood is cut
        let v = parse("1764700000 1 /b/\u{1b}[2Jx.db").unwrap();
        assert_eq!(v.files[0].path, "/b/[2Jx.db");
        let flood = "1764700000 1 /a.db\n".repeat(100_000);
        assert_eq!(parse(&flood).unwrap().files.len(), MAX_LINES);
    }

    #[test]
    fn settings_follow_the_plan() {
        let plan = Plan::demo();
        let s = BackupSettings::from_plan(&plan).unwrap();
        assert_eq!(s.dirs, ["/var/backups/kube_etcd"]);
        assert_eq!(s.hosts.len(), plan.etcd_hosts().count());
        assert!(crate::transport::readonly::is_read_only(&s.command()), "{}", s.command());
        let mut p = plan.clone();
        p.etcd.snapshot_dirs.clear();
        assert!(BackupSettings::from_plan(&p).is_none());
    }
}
