//! `kockpit logs`: the log viewer's sources without a screen, for jump hosts and scripts. Lines of
//! every source are printed merged on one time axis (`TIME [SOURCE] TEXT`), problems go to standard
//! error, and the exit code says whether every source could be read.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::backend::BackendEvent;
use crate::inventory::Plan;
use crate::logs::LogLine;
use crate::logs::spec::{LogSpec, LogState};

/// What to tail.
#[derive(Debug, Clone)]
pub struct Args {
    pub specs: Vec<LogSpec>,
    pub tail: u32,
    pub follow: bool,
    pub readonly: bool,
}

/// Build the sources from the flags: every host × every unit and file, then the pods and workloads.
pub fn specs(hosts: &[String], units: &[String], files: &[String], pods: &[String], previous: bool) -> Result<Vec<LogSpec>, String> {
    if hosts.is_empty() && !(units.is_empty() && files.is_empty()) {
        return Err("--unit and --file need --host".into());
    }
    if !hosts.is_empty() && units.is_empty() && files.is_empty() {
        return Err("--host needs --unit or --file".into());
    }
    let mut out = Vec::new();
    for h in hosts {
        for u in units {
            out.push(LogSpec::Journal { host: h.clone(), unit: u.clone() });
        }
        for f in files {
            out.push(LogSpec::File { host: h.clone(), path: f.clone() });
        }
    }
    for p in pods {
        out.push(LogSpec::parse_pod(p, previous)?);
    }
    for s in &out {
        s.validate()?;
    }
    if out.is_empty() {
        return Err("nothing to tail: give --host with --unit/--file, or --pod".into());
    }
    Ok(out)
}

/// One printed line.
pub fn format_line(l: &LogLine) -> String {
    // a host's or pod's line as it came, but nothing in it drives the reader's terminal
    let (source, text) = (crate::text::printable(&l.source), crate::text::printable(&l.text));
    format!("{} [{source}] {text}", l.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Lines are held this long before printing, so that lines of different sources arriving slightly out
/// of order are printed in time order.
const REORDER: Duration = Duration::from_millis(500);

/// Start the sources on the current runtime, print until every source ended (or forever when
/// following), and return whether every source could be read.
pub async fn run(plan: &Plan, args: Args, out: &mut dyn Write) -> std::io::Result<bool> {
    let (tx, mut rx) = mpsc::channel::<BackendEvent>(1024);
    let mut open: HashSet<u64> = HashSet::new();
    let mut tasks = tokio::task::JoinSet::new();
    let settings = crate::probe::LiveSettings::new(args.readonly);
    let mut pool: Option<Result<crate::transport::ssh::SshPool, String>> = None;
    let mut kube: Option<Result<crate::kube::Kube, String>> = None;
    for (i, spec) in args.specs.iter().enumerate() {
        let id = i as u64 + 1;
        open.insert(id);
        let refuse = |why: String| crate::backend::log_refused(id, spec, &why);
        if spec.is_kube() {
            if kube.is_none() {
                let access = crate::kube::KubeSettings::from_plan(plan, args.readonly).access;
                kube = Some(crate::kube::Kube::connect(&access).await.map_err(|e| e.to_string()));
            }
            match kube.as_ref().expect("set") {
                Ok(k) => {
                    tasks.spawn(crate::kube::logs::tail_pods(k.clone(), id, spec.clone(), args.tail, args.follow, tx.clone()));
                }
                Err(e) => {
                    for ev in refuse(format!("Kubernetes: {e}")) {
                        let _ = tx.send(ev).await;
                    }
                }
            }
            continue;
        }
        if pool.is_none() {
            pool = Some(crate::transport::ssh::SshPool::load(settings.pool_options(plan)).await.map_err(|e| e.to_string()));
        }
        let host = spec.host().and_then(|h| plan.hosts.iter().find(|x| x.name == h));
        match (pool.as_ref().expect("set"), host) {
            (Err(e), _) => {
                for ev in refuse(format!("ssh: {e}")) {
                    let _ = tx.send(ev).await;
                }
            }
            (Ok(_), None) => {
                for ev in refuse(format!("{}: not a host of the plan", spec.host().unwrap_or(""))) {
                    let _ = tx.send(ev).await;
                }
            }
            (Ok(p), Some(h)) => {
                let fut = crate::probe::logtail::tail_host(
                    p.clone(),
                    h.ssh_host.clone(),
                    id,
                    spec.clone(),
                    args.tail,
                    args.follow,
                    settings.connect_timeout + settings.command_timeout,
                    tx.clone(),
                );
                tasks.spawn(async move {
                    fut.await;
                });
            }
        }
    }
    drop(tx);
    let mut ok = true;
    let mut held: Vec<(Instant, u64, LogLine)> = Vec::new();
    let mut seq = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tick.tick() => {
                flush(&mut held, Instant::now(), out)?;
                continue;
            }
        };
        let Some(ev) = ev else { break };
        match ev {
            BackendEvent::Log(l) => {
                seq += 1;
                held.push((Instant::now(), seq, l));
            }
            BackendEvent::LogSource(st) => {
                match &st.state {
                    LogState::Failed(why) => {
                        ok = false;
                        eprintln!("kockpit logs: {}: FAILED: {why}", st.source);
                    }
                    LogState::Ended(why) if args.follow => eprintln!("kockpit logs: {}: {why}", st.source),
                    LogState::Degraded(Some(why)) => eprintln!("kockpit logs: {}: {why}", st.source),
                    LogState::Degraded(None) => eprintln!("kockpit logs: {}: working again", st.source),
                    LogState::Closed => {
                        open.remove(&st.id);
                    }
                    _ => {}
                }
                if open.is_empty() {
                    break;
                }
            }
            _ => {}
        }
    }
    // everything left, in time order
    flush(&mut held, Instant::now() + REORDER, out)?;
    out.flush()?;
    tasks.abort_all();
    Ok(ok)
}

/// Print the lines held at least [`REORDER`] by `now`, in time order (arrival order among equals).
fn flush(held: &mut Vec<(Instant, u64, LogLine)>, now: Instant, out: &mut dyn Write) -> std::io::Result<()> {
    let (mut due, keep): (Vec<_>, Vec<_>) = held.drain(..).partition(|(t, _, _)| now.duration_since(*t) >= REORDER);
    *held = keep;
    due.sort_by(|a, b| a.2.at.cmp(&b.2.at).then(a.1.cmp(&b.1)));
    for (_, _, l) in due {
        writeln!(out, "{}", format_line(&l))?;
    }
    out.flush()
}

/// `kockpit logs --demo`: the simulated cluster's journal lines (keepalived, haproxy, etcd and the
/// leader elections of its hosts) for the sources asked, after a minute of simulated history with the
/// faults given; `follow` goes on in real time until interrupted. A source the demo does not write (a
/// pod, a file, another unit) is said on stderr and makes the result false.
pub fn demo(faults: &[crate::sim::Fault], nodes: usize, args: &Args, out: &mut dyn Write) -> std::io::Result<bool> {
    use chrono::Utc;
    let start = Utc::now();
    let (mut sim, model) = crate::sim::settled_demo(faults, nodes, start, 60, crate::model::Mode::Demo);
    let history = sim.drain_logs();
    let written: HashSet<String> = history.iter().map(|l| l.source.to_string()).collect();
    let wanted: HashSet<String> = args.specs.iter().map(LogSpec::label).collect();
    let mut ok = true;
    let mut unknown = HashSet::new();
    for spec in &args.specs {
        if let Some(h) = spec.host()
            && !model.plan.hosts.iter().any(|x| x.name == h)
        {
            let hosts: Vec<&str> = model.plan.hosts.iter().map(|x| x.name.as_str()).collect();
            eprintln!("kockpit: {}: no host {h} in the demo cluster ({})", spec.label(), hosts.join(", "));
            unknown.insert(spec.label());
            ok = false;
        }
    }
    for w in wanted.iter().filter(|w| !unknown.contains(*w)) {
        if !written.contains(w) && !w.starts_with("journal ") {
            eprintln!("kockpit: {w}: the demo writes journal lines only (keepalived, haproxy, etcd, leader elections)");
            ok = false;
        } else if !written.contains(w) && !args.follow {
            eprintln!("kockpit: {w}: no line from it in the demo's last minute");
        }
    }
    // the last `tail` lines of each source, merged on one time axis
    let mut shown: Vec<&LogLine> = Vec::new();
    for w in &wanted {
        let of: Vec<&LogLine> = history.iter().filter(|l| &*l.source == w).collect();
        shown.extend(of.iter().skip(of.len().saturating_sub(args.tail as usize)));
    }
    shown.sort_by_key(|l| l.at);
    for l in shown {
        writeln!(out, "{}", format_line(l))?;
    }
    out.flush()?;
    if !args.follow {
        return Ok(ok);
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        sim.step(Utc::now());
        for l in sim.drain_logs().iter().filter(|l| wanted.contains(&*l.source)) {
            writeln!(out, "{}", format_line(l))?;
        }
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn flags_make_sources() {
        let s = specs(&["m1".into(), "m2".into()], &["etcd".into()], &["/var/log/x.log".into()], &["ns/p".into()], false).unwrap();
        let labels: Vec<String> = s.iter().map(LogSpec::label).collect();
        assert_eq!(labels, ["journal m1 etcd", "file m1 /var/log/x.log", "journal m2 etcd", "file m2 /var/log/x.log", "pod ns/p/*"]);
        assert!(specs(&[], &["etcd".into()], &[], &[], false).is_err());
        assert!(specs(&["m1".into()], &[], &[], &[], false).is_err());
        assert!(specs(&[], &[], &[], &[], false).is_err());
        assert!(specs(&["m1".into()], &["bad unit".into()], &[], &[], false).is_err());
    }

    #[test]
    fn held_lines_print_in_time_order() {
        let t0 = Instant::now();
        let at = |s: i64| chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let l = |s: i64, src: &str| LogLine { at: at(s), source: Arc::from(src), text: format!("t{s}") };
        let mut held = vec![(t0, 1, l(3, "a")), (t0, 2, l(1, "b")), (t0 + Duration::from_millis(400), 3, l(0, "c"))];
        let mut out = Vec::new();
        flush(&mut held, t0 + REORDER, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "2027-01-15T08:00:01.000Z [b] t1\n2027-01-15T08:00:03.000Z [a] t3\n");
        assert_eq!(held.len(), 1, "the line that arrived late is held for its window");
    }
}
