//! Events streamed from the HA hosts over the SSH connections kockpit already holds, so a change
//! reaches the model as the host makes it instead of at the next poll:
//! - address events (`ip -o monitor address`) on each host running keepalived: a line about the VIP
//!   (the new owner's address added, the old owner's deleted);
//! - the daemons' own messages (`journalctl -f -u keepalived -u haproxy`): keepalived's transitions
//!   (`Entering MASTER STATE`, priority changes, scripts failing), haproxy's server changes (`Server
//!   be/m2 is DOWN`), and either daemon's processes coming or going.
//!
//! A line that matters makes the probe of that daemon on that host look at once (the probe stays the
//! one source of facts; the stream only says when to look). While a part streams, the daemon's poll
//! slows to [`STREAMED_POLL`]; a stream that fails is marked failed with its reason, the host is polled
//! at the normal interval again, and the stream is restarted with backoff (looked at once as soon as it
//! runs again, so nothing between is lost).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::causes::Causes;
use crate::model::notes;
use crate::retry::Backoff;
use crate::transport::readonly::script_command;
use crate::transport::scripts;
use crate::transport::ssh::{SshPool, StreamChunk};

/// The poll of a daemon whose events stream: the consistency check, not the detector.
pub const STREAMED_POLL: Duration = Duration::from_secs(5);

/// How long a stream with nothing to follow (no unit's messages in the journal) waits before looking
/// again: what it lacks does not change by the second.
const NOTHING_TO_FOLLOW: Duration = Duration::from_secs(60);

/// A stream that failed is started again after 1 s, doubling up to this.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// How soon the haproxy stats watch looks again for a haproxy that was not running, or whose session
/// ended (at most: its backoff stops here).
const STATS_RETRY: Duration = Duration::from_secs(5);

/// A running stream's scripts say `@@kockpit-alive` every second: this long without a word and the
/// stream counts as failed (the host or the link is gone, or the connection hangs), so the host is
/// polled again and its data is not taken as current on the stream's word.
const SILENCE: Duration = Duration::from_secs(3);

/// A stream that ran this long before it ended starts again after the shortest wait; one that ends
/// sooner backs off further each time (a stream that dies right after starting is not retried every
/// second for ever).
pub const STEADY: Duration = Duration::from_secs(10);

/// A change of what keepalived tracks is looked at once more this much later (the probe's first look
/// may come before keepalived acted on it).
const AGAIN: Duration = Duration::from_millis(150);

/// A poke that is no event on the host (a stream started or stopped): look, and say nothing of why.
const NO_EVENT: &str = "";

/// The parts of a host's streams, as [`WatchStates`] names them.
pub const ADDR: &str = notes::ADDRESS_EVENTS;
pub const KEEPALIVED: &str = "keepalived";
pub const HAPROXY: &str = "haproxy";
/// haproxy's servers watched on its socket, on the host ([`scripts::STATS_WATCH_SCRIPT`]).
pub const HAPROXY_STATS: &str = "haproxy stats";

/// One streamed part of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchState {
    Starting,
    Up,
    /// The stream failed or ended: why.
    Failed(String),
    /// This part cannot be followed on this host (its messages are not in the journal...): why.
    Off(String),
}

/// Every watched host's streams, shared between the streams and the probe rounds.
#[derive(Debug, Clone, Default)]
pub struct WatchStates(Arc<Mutex<HashMap<(String, &'static str), WatchState>>>);

impl WatchStates {
    pub fn set(&self, host: &str, part: &'static str, s: WatchState) {
        if let Ok(mut m) = self.0.lock() {
            m.insert((host.to_string(), part), s);
        }
    }

    pub fn get(&self, host: &str, part: &'static str) -> Option<WatchState> {
        self.0.lock().ok().and_then(|m| m.get(&(host.to_string(), part)).cloned())
    }

    /// Whether `host`'s `part` streams (its poll may slow down).
    pub fn is_up(&self, host: &str, part: &'static str) -> bool {
        self.get(host, part) == Some(WatchState::Up)
    }

    /// Whether any of `parts` streams (a poll they all serve may slow down).
    pub fn any_up(&self, host: &str, parts: &[&'static str]) -> bool {
        parts.iter().any(|p| self.is_up(host, p))
    }

    /// What the source of an observation of `host` adds about how it was learnt and how it will be
    /// (empty when nothing streams it): the `parts` that stream for it, the event this look answers,
    /// and the poll's interval while none of `slowed_by` (the parts that let it slow down) streams.
    pub fn source_note(
        &self,
        host: &str,
        parts: &[&'static str],
        slowed_by: &[&'static str],
        event: Option<&str>,
        polling: Duration,
    ) -> String {
        let mut up = Vec::new();
        let mut failed = Vec::new();
        let name = |p: &str| match p {
            ADDR => ADDR.to_string(),
            HAPROXY_STATS => notes::STATS_SOCKET.to_string(),
            KEEPALIVED => notes::KEEPALIVED_LOG.to_string(),
            HAPROXY => notes::HAPROXY_LOG.to_string(),
            _ => format!("{p} log"),
        };
        for p in parts {
            match self.get(host, p) {
                Some(WatchState::Up) => up.push(name(p)),
                Some(WatchState::Failed(why) | WatchState::Off(why)) => failed.push((p, why)),
                _ => {}
            }
        }
        let mut s = String::new();
        if up.is_empty() {
            let every = super::show_secs(polling.as_secs_f64());
            match parts.iter().find_map(|p| match self.get(host, p) {
                Some(WatchState::Failed(why)) => Some(why),
                _ => None,
            }) {
                Some(why) => s += &format!("; {}; polling every {every}", notes::stream_failed("ssh", why)),
                None => {
                    if let Some((p, why)) = failed.first() {
                        s += &format!("; {} not streamed: {why}; polling every {every}", name(p));
                    }
                }
            }
            return s;
        }
        match event.filter(|e| !e.is_empty()) {
            Some(e) => s += &format!("; {e}"),
            None => s += &format!("; {} streamed", up.join(" and ")),
        }
        for (p, why) in failed {
            match self.get(host, p) {
                Some(WatchState::Failed(_)) if *p == HAPROXY_STATS => s += &format!("; {}", notes::watch_failed(name(p), why)),
                Some(WatchState::Failed(_)) => s += &format!("; {}", notes::stream_failed(name(p), why)),
                _ => s += &format!("; {} not streamed: {why}", name(p)),
            }
        }
        if !self.any_up(host, slowed_by) {
            s += &format!("; polling every {}", super::show_secs(polling.as_secs_f64()));
        }
        s
    }
}

/// Whether a line of `ip -o monitor address` is about `vip` (any address line when there is none).
pub fn names_vip(line: &str, vip: Option<IpAddr>) -> bool {
    let Some(vip) = vip else { return line.contains(" inet") };
    let want = vip.to_string();
    line.split_whitespace().any(|w| w.split('/').next() == Some(want.as_str()))
}

/// A message about a unit from systemd itself (started, stopping, exited): look at every daemon
/// the stream follows on that host.
pub const SERVICE: &str = "service";

/// Which daemon's state a line of the log stream speaks of, if any: the look it calls for. A line
/// is `TIME HOST WRITER[PID]: MESSAGE` (`journalctl -o short-unix`): a message keepalived or haproxy
/// wrote is read with that daemon's wordings (2.x's and 1.3's for keepalived, 1.8 to 3.x's for haproxy;
/// haproxy's connection logs say nothing here), one systemd wrote about the unit is [`SERVICE`]. A
/// line of another shape is read with both wordings.
pub fn message_about(line: &str) -> Option<&'static str> {
    const HAPROXY_SAYS: &[&str] = &[
        " is DOWN",
        " is UP",
        " is going DOWN",
        "enters maintenance",
        "leaving forced maintenance",
        "leaving maintenance",
        " is DRAIN",
        "no server available",
        "Health check for",
        "changed its IP",
        "Reloading HAProxy",
        "Loading success",
        "exited with code",
        "Stopping ",
        "stopped",
    ];
    const KEEPALIVED_SAYS: &[&str] =
        &["STATE", "priority", "Stopping", "Stopped", "Starting", "now returning", "succeeded", "failed", "fault", "Reload"];
    let says = |words: &[&str], m: &str| words.iter().any(|w| m.contains(w));
    if let Some((writer, msg)) = writer_and_message(line) {
        let w = writer.to_ascii_lowercase();
        return if w.contains("haproxy") {
            says(HAPROXY_SAYS, msg).then_some(HAPROXY)
        } else if w.contains("keepalived") {
            (!msg.contains("gratuitous") && says(KEEPALIVED_SAYS, msg)).then_some(KEEPALIVED)
        } else if w == "systemd" {
            Some(SERVICE)
        } else {
            None
        };
    }
    if says(HAPROXY_SAYS, line) && !line.contains("Stopping ") && !line.contains("stopped") {
        return Some(HAPROXY);
    }
    if line.contains("gratuitous") {
        return None;
    }
    says(KEEPALIVED_SAYS, line).then_some(KEEPALIVED)
}

/// `TIME HOST WRITER[PID]: MESSAGE` -> (WRITER, MESSAGE).
fn writer_and_message(line: &str) -> Option<(&str, &str)> {
    let mut it = line.splitn(4, ' ');
    let (time, _host, writer, msg) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if time.is_empty() || !time.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let writer = writer.strip_suffix(':')?;
    Some((writer.split('[').next().unwrap_or(writer), msg))
}

/// Where a stream's pokes go: the host's name on the channel of the probe that should look.
#[derive(Clone)]
pub struct Pokes {
    pub vrrp: Option<mpsc::UnboundedSender<(String, &'static str)>>,
    pub haproxy: Option<mpsc::UnboundedSender<(String, &'static str)>>,
}

impl Pokes {
    fn send(&self, daemon: &str, host: &str, event: &'static str) {
        let to = if daemon == HAPROXY { &self.haproxy } else { &self.vrrp };
        if let Some(t) = to {
            let _ = t.send((host.to_string(), event));
        }
    }

    fn all(&self, host: &str, event: &'static str) {
        self.send(KEEPALIVED, host, event);
        self.send(HAPROXY, host, event);
    }

    /// [`Pokes::send`] after `wait`, from a task of its own.
    fn later(&self, daemon: &'static str, host: &str, event: &'static str, wait: Duration) {
        let (me, host) = (self.clone(), host.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            me.send(daemon, &host, event);
        });
    }

    /// Resolves once no probe listens any more (the app hung up).
    async fn closed(&self) {
        match (&self.vrrp, &self.haproxy) {
            (Some(a), Some(b)) => tokio::select! { _ = a.closed() => {}, _ = b.closed() => {} },
            (Some(a), None) | (None, Some(a)) => a.closed().await,
            (None, None) => {}
        }
    }
}

/// A host's streams: where to reach it and whom to tell.
#[derive(Clone)]
pub struct Watch {
    pub pool: SshPool,
    pub name: String,
    pub ssh_host: String,
    pub states: WatchStates,
    pub pokes: Pokes,
    pub open_timeout: Duration,
}

/// Follow `w`'s address events until no probe listens, poking the VRRP probe for every line about the
/// VIP and once whenever the stream (re)starts; and, beside them, what can change keepalived's priority
/// without moving an address ([`Causes`]: its tracked files, its interfaces' links), started again with
/// the new set whenever the host's configuration names others.
pub async fn watch_addresses(w: Watch, vip: Option<IpAddr>, mut causes: tokio::sync::watch::Receiver<Causes>) {
    loop {
        let now = causes.borrow_and_update().clone();
        let args = now.args();
        let cmd = script_command(scripts::ADDR_WATCH_SCRIPT, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let parts = [ADDR];
        let streamed = follow(&w, &cmd, &parts, "address stream", &[(127, NOTHING_TO_FOLLOW)], LONGEST_WAIT, |line, w| {
            if line == "@@kockpit-watching" {
                w.states.set(&w.name, ADDR, WatchState::Up);
                return Seen::Running;
            }
            if names_vip(line, vip) {
                w.pokes.send(KEEPALIVED, &w.name, notes::ADDRESS_EVENT);
            } else if let Some((_, event)) = super::causes::file_changed(line, &now) {
                // keepalived reads a tracked file as it is written; a second look catches a
                // keepalived that had not yet (a notify script writes when keepalived has acted)
                w.pokes.send(KEEPALIVED, &w.name, event);
                w.pokes.later(KEEPALIVED, &w.name, event, AGAIN);
            } else if super::causes::link_name(line).is_some_and(|l| now.links.iter().any(|x| x == l)) {
                w.pokes.send(KEEPALIVED, &w.name, notes::LINK_EVENT);
                w.pokes.later(KEEPALIVED, &w.name, notes::LINK_EVENT, AGAIN);
            }
            Seen::Line
        });
        let changed = async {
            if causes.changed().await.is_err() {
                // no configuration will come: what is known is followed for good
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = streamed => return,
            _ = changed => {}
        }
    }
}

/// Follow the journal of `units` (keepalived, haproxy) on `w`'s host until no probe listens, poking
/// the probe of the daemon a message speaks of, or whose processes changed.
pub async fn watch_logs(w: Watch, units: Vec<&'static str>) {
    let cmd = script_command(scripts::LOG_WATCH_SCRIPT, &units);
    follow(&w, &cmd, &units, "log stream", &[(127, NOTHING_TO_FOLLOW), (3, NOTHING_TO_FOLLOW)], LONGEST_WAIT, |line, w| {
        match log_line(line, &units) {
            LogLine::Watching(up) => {
                for u in up {
                    w.states.set(&w.name, u, WatchState::Up);
                }
                Seen::Running
            }
            LogLine::Off(u, why) => {
                w.states.set(&w.name, u, WatchState::Off(why));
                Seen::Line
            }
            LogLine::Processes(u) => {
                w.pokes.send(u, &w.name, if u == HAPROXY { notes::HAPROXY_PROCESSES } else { notes::KEEPALIVED_PROCESSES });
                Seen::Line
            }
            LogLine::About(u) if u == SERVICE => {
                w.pokes.all(&w.name, notes::SERVICE_EVENT);
                Seen::Line
            }
            LogLine::About(u) => {
                w.pokes.send(u, &w.name, if u == HAPROXY { notes::HAPROXY_LOG_EVENT } else { notes::KEEPALIVED_LOG_EVENT });
                Seen::Line
            }
            LogLine::Other => Seen::Line,
        }
    })
    .await
}

/// Watch haproxy's servers on `w`'s host (its socket, found from the plan's `socket` as the probe
/// finds it) until no probe listens, poking the haproxy probe whenever a server's state changes.
pub async fn watch_stats(w: Watch, socket: String) {
    let cmd = script_command(scripts::STATS_WATCH_SCRIPT, &[socket.as_str()]);
    // 2: no socket (a stats page only), 4: too old, 13: not permitted, 127: no socat; 3: haproxy not
    // running, 5: its socket not answering (looked for again sooner: haproxy is started again, or
    // is starting)
    let off = [
        (2, NOTHING_TO_FOLLOW),
        (3, STATS_RETRY),
        (4, NOTHING_TO_FOLLOW),
        (5, STATS_RETRY),
        (13, NOTHING_TO_FOLLOW),
        (127, NOTHING_TO_FOLLOW),
    ];
    // a haproxy restarted or reloaded ends the session: looked for again within STATS_RETRY, however often
    follow(&w, &cmd, &[HAPROXY_STATS], "haproxy stats watch", &off, STATS_RETRY, |line, w| match stats_line(line) {
        StatsLine::Watching => {
            w.states.set(&w.name, HAPROXY_STATS, WatchState::Up);
            Seen::Running
        }
        StatsLine::Lost(why) => {
            // the script ends now, and is started again to find the socket anew; this is why. The
            // session ending is itself news (haproxy died, or was restarted): haproxy is looked at now
            w.states.set(&w.name, HAPROXY_STATS, WatchState::Failed(why));
            w.pokes.send(HAPROXY, &w.name, NO_EVENT);
            Seen::Ended
        }
        StatsLine::Changed => {
            w.pokes.send(HAPROXY, &w.name, notes::STATS_EVENT);
            Seen::Line
        }
        StatsLine::Other => Seen::Line,
    })
    .await
}

/// What a line of the haproxy stats watch says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsLine {
    /// A session answers: the servers are watched.
    Watching,
    /// The session ended: why (bounded, no control characters).
    Lost(String),
    /// A server's state changed.
    Changed,
    Other,
}

/// Read one line of [`scripts::STATS_WATCH_SCRIPT`]'s output.
pub fn stats_line(line: &str) -> StatsLine {
    if line == "@@kockpit-watching" {
        return StatsLine::Watching;
    }
    if let Some(why) = line.strip_prefix("@@kockpit-lost") {
        let why: String = why.trim().chars().filter(|c| !c.is_control()).take(200).collect();
        return StatsLine::Lost(if why.is_empty() {
            "haproxy's socket: the session ended".to_string()
        } else {
            format!("haproxy's socket {why}")
        });
    }
    if line.starts_with("@@kockpit-server ") {
        return StatsLine::Changed;
    }
    StatsLine::Other
}

/// What a line of the log stream says, about one of `units` (the ones asked for; others are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    /// The stream runs, following these units.
    Watching(Vec<&'static str>),
    /// This unit cannot be followed here: why (bounded, no control characters).
    Off(&'static str, String),
    /// This daemon's processes changed.
    Processes(&'static str),
    /// A message about this daemon's state ([`SERVICE`]: systemd's about a unit followed).
    About(&'static str),
    Other,
}

/// Read one line of the log stream (its own `@@kockpit-` lines, or a daemon's message).
pub fn log_line(line: &str, units: &[&'static str]) -> LogLine {
    let part = |name: &str| units.iter().copied().find(|u| *u == name);
    if let Some(rest) = line.strip_prefix("@@kockpit-watching") {
        return LogLine::Watching(rest.split_whitespace().filter_map(part).collect());
    }
    if let Some(rest) = line.strip_prefix("@@kockpit-off ") {
        let (u, why) = rest.split_once(' ').unwrap_or((rest, "cannot be followed"));
        return match part(u) {
            Some(u) => LogLine::Off(u, why.chars().filter(|c| !c.is_control()).take(200).collect()),
            None => LogLine::Other,
        };
    }
    if let Some(rest) = line.strip_prefix("@@kockpit-pids ") {
        return rest.split_whitespace().next().and_then(part).map_or(LogLine::Other, LogLine::Processes);
    }
    match message_about(line) {
        Some(SERVICE) => LogLine::About(SERVICE),
        about => about.and_then(part).map_or(LogLine::Other, LogLine::About),
    }
}

enum Seen {
    /// The remote side says the stream runs.
    Running,
    Line,
    /// The remote side says why the stream ends (its part's state is set): the end says no more.
    Ended,
}

/// Run `cmd` on `w`'s host as a stream, handing every line to `on_line`, restarting it with backoff
/// whenever it ends, until no probe listens. `parts` are the states it owns; `off`, the exit codes
/// that say the host cannot stream this, with how long to wait before looking again; `longest`, the
/// longest wait of the backoff after a failure.
async fn follow<F>(w: &Watch, cmd: &str, parts: &[&'static str], what: &str, off: &[(u32, Duration)], longest: Duration, mut on_line: F)
where
    F: FnMut(&str, &Watch) -> Seen,
{
    let mut backoff = Backoff::new(Duration::from_secs(1), 2.0, longest).with_jitter(0.2);
    loop {
        for p in parts {
            if !matches!(w.states.get(&w.name, p), Some(WatchState::Failed(_) | WatchState::Off(_))) {
                w.states.set(&w.name, p, WatchState::Starting);
            }
        }
        // ran: ended cleanly without starting; missing: the host lacks what the stream needs
        let (why, ran, missing, said_why) = match w.pool.stream(&w.ssh_host, cmd, w.open_timeout).await {
            Err(e) => (super::ssh_reason(&e), false, None, false),
            Ok(mut stream) => {
                let (mut buf, mut stderr) = (Vec::<u8>::new(), String::new());
                let (mut up, mut said_why) = (false, false);
                let mut up_since = None;
                loop {
                    let limit = if up { SILENCE } else { w.open_timeout + Duration::from_secs(10) };
                    let chunk = tokio::select! {
                        c = tokio::time::timeout(limit, stream.next()) => c,
                        _ = w.pokes.closed() => return,
                    };
                    let Ok(chunk) = chunk else {
                        stderr = format!("no word from the host for {}", super::show_secs(limit.as_secs_f64()));
                        break;
                    };
                    match chunk {
                        Some(StreamChunk::Stdout(d)) => {
                            buf.extend_from_slice(&d);
                            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                                let line: Vec<u8> = buf.drain(..=i).collect();
                                let line = String::from_utf8_lossy(&line);
                                if line.trim_end() == "@@kockpit-alive" {
                                    continue;
                                }
                                match on_line(line.trim_end(), w) {
                                    Seen::Running => {
                                        up = true;
                                        up_since.get_or_insert_with(std::time::Instant::now);
                                        // look once now that the stream runs: what changed while it did not
                                        w.pokes.all(&w.name, NO_EVENT);
                                    }
                                    Seen::Ended => said_why = true,
                                    Seen::Line => {}
                                }
                            }
                            // a line never ends: keep the memory bounded
                            if buf.len() > 64 * 1024 {
                                buf.clear();
                            }
                        }
                        Some(StreamChunk::Stderr(d)) => {
                            if let Some(l) = String::from_utf8_lossy(&d).lines().rev().find(|l| !l.trim().is_empty()) {
                                stderr = l.chars().take(200).collect();
                            }
                        }
                        None => break,
                    }
                }
                if up_since.is_some_and(|t: std::time::Instant| t.elapsed() >= STEADY) {
                    backoff.reset();
                }
                let why = stream.end_reason(what, up, &stderr);
                let missing = match stream.exit() {
                    Ok(Some(c)) if !up => off.iter().find(|(code, _)| *code == c).map(|(_, wait)| *wait),
                    _ => None,
                };
                (why, stream.exit() == Ok(Some(0)) && !up, missing, said_why)
            }
        };
        // a clean exit without starting: every part was reported as not followable, with its reason
        let nothing_to_follow =
            missing.is_some() || (ran && parts.iter().all(|p| matches!(w.states.get(&w.name, p), Some(WatchState::Off(_)))));
        if missing.is_some() {
            // not a failure: this host cannot stream this; polled, and looked at again in a while
            for p in parts {
                w.states.set(&w.name, p, WatchState::Off(why.clone()));
            }
        } else if !nothing_to_follow && !said_why {
            tracing::info!(host = %w.name, "{why}");
            for p in parts {
                w.states.set(&w.name, p, WatchState::Failed(why.clone()));
            }
        }
        // the host is polled at the normal interval meanwhile; a poke now reports the failure at once
        w.pokes.all(&w.name, NO_EVENT);
        let wait = match missing {
            Some(wait) => wait,
            None if nothing_to_follow => NOTHING_TO_FOLLOW,
            None => backoff.next_delay(),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = w.pokes.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_about_the_vip() {
        let vip: IpAddr = "10.77.0.100".parse().unwrap();
        let add = "3: lb1-eth0    inet 10.77.0.100/32 scope global lb1-eth0\\       valid_lft forever preferred_lft forever";
        let del = "Deleted 3: lb1-eth0    inet 10.77.0.100/32 scope global lb1-eth0\\       valid_lft forever preferred_lft forever";
        let other = "3: lb1-eth0    inet 10.77.0.1000/24 scope global lb1-eth0";
        let v6 = "3: lb1-eth0    inet6 fe80::1/64 scope link";
        assert!(names_vip(add, Some(vip)) && names_vip(del, Some(vip)));
        assert!(!names_vip(other, Some(vip)) && !names_vip(v6, Some(vip)));
        assert!(names_vip(other, None) && names_vip(v6, None));
    }

    #[test]
    fn messages_name_the_daemon_to_look_at() {
        // haproxy 2.6's warning on stderr and its log line; 1.8's wording of a backend left empty
        for l in [
            "[WARNING]  (8099) : Server kube-apiserver/m2 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\"",
            "Server kube-apiserver/m2 is UP, reason: Layer7 check passed, code: 200, check duration: 2ms.",
            "Server kube_apiserver/m1 is going DOWN for maintenance. 2 active and 0 backup servers left.",
            "backend kube_apiserver has no server available!",
            "[NOTICE]   (8091) : Loading success.",
        ] {
            assert_eq!(message_about(l), Some(HAPROXY), "{l}");
        }
        // keepalived 2.2 (console), 1.3 (syslog) and a tracking script
        for l in [
            "Fri Dec  4 14:59:41 2026: (VI_1) Entering BACKUP STATE (init)",
            "Keepalived_vrrp[812]: VRRP_Instance(VI_1) Transition to MASTER STATE",
            "(VI_1) Changing effective priority from 100 to 80",
            "VRRP_Script(chk_haproxy) failed (exited with status 1)",
            "Stopping",
        ] {
            assert_eq!(message_about(l), Some(KEEPALIVED), "{l}");
        }
        for l in ["Fri Dec  4 14:59:44 2026: Sending gratuitous ARP on eth0 for 10.213.0.100", "Connect from 10.0.0.5:5122 to ...", ""] {
            assert_eq!(message_about(l), None, "{l}");
        }
        // as the stream reads them (`journalctl -o short-unix`): by who wrote them
        let cases = [
            ("1796398264.002562 lb1 haproxy[6817]: [WARNING]  (6817) : Server kube-apiserver/m2 is DOWN, reason: x", Some(HAPROXY)),
            ("1796398264.002562 lb1 haproxy[6817]: Stopping frontend GLOBAL in 0 ms.", Some(HAPROXY)),
            (
                "1796398264.1 lb1 haproxy[5]: 10.0.0.5:41234 [04/Dec/2026:10:00:00.000] kube-apiserver kube-apiserver/m1 1/0/5 0 -- 1/1/0/0/0 0/0",
                None,
            ),
            ("1796398264.1 lb1 Keepalived_vrrp[812]: (VI_1) Entering MASTER STATE", Some(KEEPALIVED)),
            ("1796398264.1 lb1 keepalived[812]: Fri Dec  4 14:59:44 2026: Sending gratuitous ARP on eth0 for 10.213.0.100", None),
            ("1796398264.1 lb1 keepalived[812]: Server kube/m1 is DOWN", None),
            ("1796398264.1 lb1 systemd[1]: Starting HAProxy Load Balancer...", Some(SERVICE)),
            ("1796398264.1 lb1 sshd[77]: Starting session", None),
        ];
        for (l, want) in cases {
            assert_eq!(message_about(l), want, "{l}");
        }
        assert_eq!(
            log_line("1796398264.1 lb1 systemd[1]: keepalived.service: Main process exited", &[KEEPALIVED]),
            LogLine::About(SERVICE)
        );
    }

    #[test]
    fn the_log_streams_own_lines() {
        let units = [KEEPALIVED, HAPROXY];
        assert_eq!(log_line("@@kockpit-watching keepalived haproxy", &units), LogLine::Watching(vec![KEEPALIVED, HAPROXY]));
        assert_eq!(log_line("@@kockpit-watching haproxy other", &units), LogLine::Watching(vec![HAPROXY]));
        assert_eq!(
            log_line("@@kockpit-off haproxy no journal entries for unit haproxy\x1b[2J", &units),
            LogLine::Off(HAPROXY, "no journal entries for unit haproxy[2J".into())
        );
        assert_eq!(log_line("@@kockpit-off sshd nope", &units), LogLine::Other, "a unit not asked for");
        assert_eq!(log_line("@@kockpit-pids keepalived 812 813", &units), LogLine::Processes(KEEPALIVED));
        assert_eq!(log_line("@@kockpit-pids haproxy ", &[KEEPALIVED]), LogLine::Other);
        assert_eq!(log_line("Server be/m1 is DOWN, reason: x", &units), LogLine::About(HAPROXY));
        assert_eq!(log_line("Server be/m1 is DOWN, reason: x", &[KEEPALIVED]), LogLine::Other, "haproxy not followed here");
    }

    #[test]
    fn the_stats_watchs_lines() {
        assert_eq!(stats_line("@@kockpit-watching"), StatsLine::Watching);
        assert_eq!(stats_line("@@kockpit-server kube-apiserver/m2 0 0"), StatsLine::Changed);
        assert_eq!(
            stats_line("@@kockpit-lost /run/haproxy/admin.sock: connect: Connection refused\x1b[2J"),
            StatsLine::Lost("haproxy's socket /run/haproxy/admin.sock: connect: Connection refused[2J".into())
        );
        assert_eq!(stats_line("@@kockpit-lost"), StatsLine::Lost("haproxy's socket: the session ended".into()));
        assert_eq!(
            stats_line(&format!("@@kockpit-lost {}", "x".repeat(1000))),
            StatsLine::Lost(format!("haproxy's socket {}", "x".repeat(200)))
        );
        for l in ["", "@@kockpit-alive", "2 be 1 m1 10.0.0.1 2 0 1 1 5 6 3 4 6 0 0 0 - 6443 - 0 0 - - 0", "@@kockpit-serverx"] {
            assert_eq!(stats_line(l), StatsLine::Other, "{l}");
        }
    }

    #[test]
    fn haproxy_is_slowed_by_either_of_its_streams() {
        let s = WatchStates::default();
        let parts = [HAPROXY_STATS, HAPROXY];
        let poll = Duration::from_millis(500);
        s.set("lb1", HAPROXY_STATS, WatchState::Up);
        s.set("lb1", HAPROXY, WatchState::Up);
        assert_eq!(s.source_note("lb1", &parts, &parts, None, poll), "; haproxy stats socket and haproxy log streamed");
        assert_eq!(s.source_note("lb1", &parts, &parts, Some("haproxy stats event"), poll), "; haproxy stats event");
        s.set("lb1", HAPROXY, WatchState::Failed("gone".into()));
        assert_eq!(
            s.source_note("lb1", &parts, &parts, None, poll),
            "; haproxy stats socket streamed; haproxy log stream FAILED: gone",
            "the socket still watched: the poll stays slow"
        );
        s.set("lb1", HAPROXY, WatchState::Up);
        s.set("lb1", HAPROXY_STATS, WatchState::Failed("haproxy's socket: Connection refused".into()));
        assert_eq!(
            s.source_note("lb1", &parts, &parts, None, poll),
            "; haproxy log streamed; haproxy stats socket watch FAILED: haproxy's socket: Connection refused"
        );
        s.set("lb1", HAPROXY, WatchState::Failed("gone".into()));
        assert_eq!(
            s.source_note("lb1", &parts, &parts, None, poll),
            "; ssh stream FAILED: haproxy's socket: Connection refused; polling every 0.5 s"
        );
        s.set("lb1", HAPROXY_STATS, WatchState::Off("no haproxy stats socket".into()));
        s.set("lb1", HAPROXY, WatchState::Up);
        assert_eq!(
            s.source_note("lb1", &parts, &parts, None, poll),
            "; haproxy log streamed; haproxy stats socket not streamed: no haproxy stats socket"
        );
    }

    #[test]
    fn states_are_shared_per_part_and_the_source_says_what_streams() {
        let s = WatchStates::default();
        let t = s.clone();
        let poll = Duration::from_millis(500);
        assert!(!s.is_up("lb1", ADDR));
        assert_eq!(s.source_note("lb1", &[ADDR, KEEPALIVED], &[KEEPALIVED], None, poll), "", "nothing streams: nothing said");
        t.set("lb1", ADDR, WatchState::Up);
        assert!(s.is_up("lb1", ADDR) && !s.is_up("lb1", KEEPALIVED) && !s.is_up("lb2", ADDR));
        t.set("lb1", KEEPALIVED, WatchState::Off("no journal entries for unit keepalived".into()));
        assert_eq!(
            s.source_note("lb1", &[ADDR, KEEPALIVED], &[KEEPALIVED], None, poll),
            "; address events streamed; keepalived log not streamed: no journal entries for unit keepalived; polling every 0.5 s",
            "the VIP's moves come through the address events, keepalived's other changes by the poll"
        );
        t.set("lb1", KEEPALIVED, WatchState::Up);
        assert_eq!(s.source_note("lb1", &[ADDR, KEEPALIVED], &[KEEPALIVED], Some("keepalived log event"), poll), "; keepalived log event");
        assert_eq!(s.source_note("lb1", &[ADDR, KEEPALIVED], &[KEEPALIVED], None, poll), "; address events and keepalived log streamed");
        t.set("lb1", ADDR, WatchState::Failed("gone".into()));
        t.set("lb1", KEEPALIVED, WatchState::Failed("gone".into()));
        assert_eq!(s.source_note("lb1", &[ADDR, KEEPALIVED], &[KEEPALIVED], None, poll), "; ssh stream FAILED: gone; polling every 0.5 s");
        t.set("lb1", KEEPALIVED, WatchState::Off("no journal entries for unit keepalived".into()));
        assert_eq!(
            s.source_note("lb1", &[KEEPALIVED], &[KEEPALIVED], None, poll),
            "; keepalived log not streamed: no journal entries for unit keepalived; polling every 0.5 s"
        );
    }
}
