//! Detection measured from the daemons' own clocks: the instant keepalived, haproxy or etcd wrote
//! that it changed (its journal or log timestamp) to the instant the model shows it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kockpit::etcd::{CredentialSource, EtcdSettings, TunnelMode};
use kockpit::inventory::Plan;
use kockpit::model::{EtcdView, Observation, Payload};

use super::{Live, env_var, ha, report};

/// The journal timestamp of the newest message of `unit` on `host` containing `needle`.
pub fn journal_ts(host: &str, unit: &str, needle: &str) -> Option<SystemTime> {
    let out = ha(&["exec", host, "journalctl", "-q", "--no-pager", "-u", unit, "-o", "json", "-n", "300"]).ok()?;
    out.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["MESSAGE"].as_str().is_some_and(|m| m.contains(needle)))
        .and_then(|v| v["__REALTIME_TIMESTAMP"].as_str().and_then(|t| t.parse::<u64>().ok()))
        .map(|us| UNIX_EPOCH + Duration::from_micros(us))
}

/// `seen - at`, when `at` is not after `seen` (a clock that went back says nothing).
pub fn since(at: Option<SystemTime>, seen: SystemTime) -> Option<Duration> {
    seen.duration_since(at?).ok()
}

/// lb2's priority lowered by `act(true)` and restored by `act(false)`, `pairs` times; each change from
/// keepalived's own record of it (its journal's `Changing effective priority`) to the model showing
/// it. None when lb2's priority is not known to begin with.
async fn priority_changes(live: &mut Live, pairs: usize, limit: Duration, act: impl Fn(bool)) -> Option<Vec<Duration>> {
    let prio = |m: &kockpit::model::Model| m.vrrp.get("lb2").and_then(|s| s.data.as_ref()).map(|v| v.effective_priority);
    let Some(before) = prio(&live.model) else {
        eprintln!("ha_probe: no priority of lb2's");
        return None;
    };
    let mut lat = Vec::new();
    for _ in 0..pairs {
        for lowered in [true, false] {
            act(lowered);
            let ok = live.until(limit, |m| if lowered { prio(m) < Some(before) } else { prio(m) == Some(before) }).await;
            let seen = SystemTime::now();
            if ok.is_some()
                && let Some(d) = since(journal_ts("lb2", "keepalived", "Changing effective priority"), seen)
            {
                lat.push(d);
            }
        }
    }
    Some(lat)
}

/// keepalived's priority change on a backup that moves no address: lb2's demotion file (its
/// track_file) written, keepalived logs `Changing effective priority`, the model shows the new one.
pub async fn keepalived_priority(live: &mut Live, rounds: usize) {
    let demote = |lowered: bool| {
        let _ = ha(&["exec", "lb2", "sh", "-c", &format!("echo {} >/etc/keepalived/kockpit-demote", u8::from(lowered))]);
    };
    if let Some(lat) = priority_changes(live, rounds, Duration::from_secs(10), demote).await {
        report("keepalived priority by its tracked file (its log -> model)", &lat);
    }
}

/// keepalived's priority change on a backup caused by a tracking script (shown nowhere but in
/// keepalived, so learnt from its message): lb2's haproxy stopped, `chk_haproxy` fails and keepalived
/// lowers lb2's priority; started again, it comes back. Each a change, from keepalived's journal
/// timestamp to the model.
pub async fn keepalived_priority_by_script(live: &mut Live, changes: usize) {
    let haproxy = |lowered: bool| {
        let _ = ha(&[if lowered { "stop" } else { "start" }, "lb2", "haproxy"]);
    };
    let lat = priority_changes(live, changes.div_ceil(2), Duration::from_secs(15), haproxy).await;
    let _ = ha(&["start", "lb2", "haproxy"]);
    if let Some(lat) = lat {
        report("keepalived priority by its tracking script (its log -> model)", &lat);
    }
}

/// The instant the model saw something, and keepalived's own record of the MASTER transition on lb2.
pub fn keepalived_master(seen: SystemTime) -> Option<Duration> {
    since(journal_ts("lb2", "keepalived", "Entering MASTER STATE"), seen)
}

/// haproxy's own record of marking m2 DOWN on lb1.
pub fn haproxy_down(seen: SystemTime) -> Option<Duration> {
    since(journal_ts("lb1", "haproxy", "m2 is DOWN"), seen)
}

/// The newest election etcd's members logged: the earliest `elected leader ... at term T` of the
/// highest term, from the lab's etcd logs (zap JSON, millisecond timestamps).
fn election_ts(lab_dir: &str) -> Option<SystemTime> {
    let mut best: Option<(u64, chrono::DateTime<chrono::Utc>)> = None;
    for m in ["m1", "m2", "m3"] {
        let text = std::fs::read_to_string(format!("{lab_dir}/log/{m}.etcd.log")).unwrap_or_default();
        for l in text.lines().filter(|l| l.contains("elected leader")) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else { continue };
            let msg = v["msg"].as_str().unwrap_or("");
            let Some(term) = msg.rsplit("at term ").next().and_then(|t| t.trim().parse::<u64>().ok()) else { continue };
            let Some(ts) = v["ts"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else { continue };
            let ts = ts.with_timezone(&chrono::Utc);
            best = match best {
                Some((bt, bts)) if bt > term || (bt == term && bts <= ts) => Some((bt, bts)),
                _ => Some((term, ts)),
            };
        }
    }
    best.map(|(_, ts)| UNIX_EPOCH + Duration::from_millis(ts.timestamp_millis().max(0) as u64))
}

async fn next_view(rx: &mut tokio::sync::mpsc::Receiver<kockpit::backend::BackendEvent>, limit: Duration) -> Option<EtcdView> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(kockpit::backend::BackendEvent::Obs(Observation { payload: Payload::Etcd(Ok(v)), .. }))) => return Some(v),
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

/// etcd's leader killed: from the new leader's election (etcd's log) to kockpit's etcd probe showing
/// it, with the probe's defaults (full poll every second, leadership looked at every 200 ms).
pub async fn etcd_leader(plan: &Plan, env: &str, rounds: usize) {
    let lab_dir = env_var(env, "KOCKPIT_LAB_DIR");
    let mut s = EtcdSettings::from_plan(plan);
    s.credentials = CredentialSource::Files {
        ca: env_var(env, "KOCKPIT_LAB_ETCD_CA").into(),
        cert: env_var(env, "KOCKPIT_LAB_ETCD_CERT").into(),
        key: env_var(env, "KOCKPIT_LAB_ETCD_KEY").into(),
    };
    s.tunnel = TunnelMode::Never;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let task = tokio::spawn(kockpit::etcd::run_probe(s, None, None, tx));
    let mut lat = Vec::new();
    for _ in 0..rounds {
        // three members and a leader first
        let mut old = None;
        for _ in 0..60 {
            match next_view(&mut rx, Duration::from_secs(5)).await {
                Some(v) if v.healthy() == 3 && v.leader().is_some() => {
                    old = v.leader().map(|l| l.name.clone());
                    break;
                }
                _ => {}
            }
        }
        let Some(old) = old else {
            eprintln!("ha_probe: etcd not at rest with 3 members");
            break;
        };
        let o = old.clone();
        let stop = tokio::task::spawn_blocking(move || ha(&["stop", &o, "etcd"]));
        let mut seen = None;
        while let Some(v) = next_view(&mut rx, Duration::from_secs(15)).await {
            if v.leader().is_some_and(|l| l.name != old) {
                seen = Some(SystemTime::now());
                break;
            }
        }
        let _ = stop.await;
        if let Some(seen) = seen
            && let Some(d) = since(election_ts(&lab_dir), seen)
        {
            lat.push(d);
        }
        let o = old.clone();
        let _ = tokio::task::spawn_blocking(move || ha(&["start", &o, "etcd"])).await;
    }
    task.abort();
    report("etcd new leader (its election -> model)", &lat);
}

/// Commands sent to each host over a quiet minute, with the streams and without (every daemon and
/// the host facts polled): kockpit's own count, by host.
pub async fn commands_per_minute(plan: &Plan, settings: &kockpit::probe::LiveSettings, window: Duration) {
    for streams in [false, true] {
        let settings = kockpit::probe::LiveSettings { streams, ..settings.clone() };
        let pool = match kockpit::transport::ssh::SshPool::load(settings.pool_options(plan)).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("ha_probe: pool: {e}");
                return;
            }
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(256);
        let mut tasks = tokio::task::JoinSet::new();
        kockpit::probe::start_probes(&mut tasks, plan, &settings, pool.clone(), &tx);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        // the streams started and the first looks done
        tokio::time::sleep(Duration::from_secs(10)).await;
        let before = pool.commands_sent();
        tokio::time::sleep(window).await;
        let after = pool.commands_sent();
        let per_min = |h: &str| {
            let n = after.get(h).copied().unwrap_or(0).saturating_sub(before.get(h).copied().unwrap_or(0));
            n as f64 * 60.0 / window.as_secs_f64()
        };
        let mut hosts: Vec<&String> = after.keys().collect();
        hosts.sort();
        let row: Vec<String> = hosts.iter().map(|h| format!("{h} {:.0}", per_min(h))).collect();
        println!("commands per host per minute, {}: {}", if streams { "streamed" } else { "polled only" }, row.join(", "));
        tasks.abort_all();
        drop(tx);
        let _ = drain.await;
        pool.close_all().await;
    }
}
