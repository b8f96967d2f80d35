//! Push, not poll: each load balancer's address events (`ip -o monitor address`), keepalived's and
//! haproxy's messages (their journal, where the lab's daemons write as systemd's units do) and haproxy's
//! servers watched on its stats socket, streamed over the SSH connection kockpit holds, against the real lab (`tests/lab/ha`). A VIP move, a keepalived
//! priority change that moves nothing, and haproxy marking a server DOWN and UP are each seen through a
//! stream (the observation that shows it answers an event, while the host's poll has slowed to 5 s),
//! and killing a stream's remote process falls back to polling, which the source says, until the
//! stream is back. Each host's facts come the same way: one stream printing them every second, polled
//! while it is down.
//!
//! `#[ignore]`d; as root: `cargo test --test lab_streams -- --include-ignored --test-threads=1`.

#[path = "common/lab.rs"]
mod harness;
#[path = "common/live.rs"]
mod live;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kockpit::backend::BackendEvent;
use kockpit::inventory::Plan;
use kockpit::model::{Observation, Payload};
use kockpit::probe::LiveSettings;
use live::{Live, describe};

struct Lab {
    script: PathBuf,
    env: HashMap<String, String>,
}

impl Lab {
    fn ha(&self, args: &[&str]) -> Result<String, String> {
        harness::run_bounded(&self.script, args, Duration::from_secs(90))
    }
    fn ha_ok(&self, args: &[&str]) -> String {
        self.ha(args).unwrap_or_else(|e| panic!("tests/lab/ha {}: {e}", args.join(" ")))
    }
    fn live(&self) -> Live {
        let plan = Plan::load(Path::new(&self.env["KOCKPIT_CONFIG"])).unwrap_or_else(|e| panic!("the lab's plan: {e}"));
        let settings = LiveSettings { ssh_config: Some(PathBuf::from(&self.env["KOCKPIT_SSH_CONFIG"])), ..LiveSettings::new(true) };
        Live::start_with(plan, settings)
    }
}

fn lab() -> Lab {
    let script = harness::script("ha");
    let env = harness::up(&script, Duration::from_secs(300)).unwrap_or_else(|why| harness::cannot_run("the HA lab", &why));
    Lab { script, env }
}

/// Starts keepalived on `lb` again when dropped (also when an assertion fails).
struct StartAgain<'a>(&'a Lab, &'static str);

impl Drop for StartAgain<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.ha(&["start", self.1, "keepalived"]) {
            eprintln!("restore: start {} keepalived: {e}", self.1);
        }
    }
}

/// One VRRP observation: the LB, the source it came with, whether it says the LB holds the VIP.
struct Seen {
    lb: String,
    source: String,
    holds: Option<bool>,
    prio: Option<u32>,
}

/// Apply events until an observation that `seen` reads (`Some`) satisfies `pred`; what it read.
async fn until_seen<T>(
    live: &mut Live,
    limit: Duration,
    what: &str,
    seen: impl Fn(&Observation) -> Option<T>,
    pred: impl Fn(&T) -> bool,
) -> T {
    let started = Instant::now();
    loop {
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            panic!("timed out after {limit:?} waiting for: {what}\n{}", describe(&live.model));
        }
        match tokio::time::timeout(left, live.handle.events.recv()).await {
            Ok(Some(BackendEvent::Obs(o))) => {
                let s = seen(&o);
                live.model.apply(o);
                if let Some(s) = s
                    && pred(&s)
                {
                    return s;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the live backend stopped while waiting for: {what}"),
            Err(_) => {}
        }
    }
}

/// Apply events until `pred` holds for an observation of the VRRP probe; that observation.
async fn until_vrrp(live: &mut Live, limit: Duration, what: &str, pred: impl Fn(&Seen) -> bool) -> Seen {
    let seen = |o: &Observation| match &o.payload {
        Payload::Vrrp { lb, result } => Some(Seen {
            lb: lb.clone(),
            source: o.source.clone(),
            holds: result.as_ref().ok().map(|v| v.holds_vip),
            prio: result.as_ref().ok().map(|v| v.effective_priority),
        }),
        _ => None,
    };
    until_seen(live, limit, what, seen, pred).await
}

/// Whether a source says its look answered an event of a stream (not a poll).
fn evented(source: &str) -> bool {
    [
        "; address event",
        "; keepalived log event",
        "; keepalived processes changed",
        "; tracked file event",
        "; notify event",
        "; link event",
        "; haproxy stats event",
        "; haproxy log event",
        "; haproxy processes changed",
    ]
    .iter()
    .any(|e| source.ends_with(e))
}

/// Both LBs' address streams running (their sources say so).
async fn streams_up(live: &mut Live) {
    for lb in ["lb1", "lb2"] {
        until_vrrp(live, Duration::from_secs(30), &format!("{lb}'s address stream running"), |s| {
            s.lb == lb && s.source.contains("; address event")
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn vip_moves_are_seen_through_the_address_stream() {
    let lab = lab();
    let mut live = lab.live();
    streams_up(&mut live).await;
    until_vrrp(&mut live, Duration::from_secs(30), "VIP on lb1", |s| s.lb == "lb1" && s.holds == Some(true)).await;
    let _restore = StartAgain(&lab, "lb1");
    for round in 0..3 {
        // keepalived stopped on the owner: the peer adds the VIP, the kernel announces it there
        lab.ha_ok(&["stop", "lb1", "keepalived"]);
        let s = until_vrrp(&mut live, Duration::from_secs(15), "VIP on lb2", |s| s.lb == "lb2" && s.holds == Some(true)).await;
        // the kernel adds the address, keepalived's notify script writes MASTER, keepalived says so:
        // whichever comes first
        assert!(
            evented(&s.source),
            "round {round}: the look that saw lb2 take the VIP answered lb2's address, notify or log event: {}",
            s.source
        );
        // and back: lb1 preempts, lb2 deletes the VIP, both through their streams
        lab.ha_ok(&["start", "lb1", "keepalived"]);
        let s = until_vrrp(&mut live, Duration::from_secs(25), "VIP back on lb1", |s| s.lb == "lb1" && s.holds == Some(true)).await;
        assert!(evented(&s.source), "round {round}: lb1 took the VIP back, seen by its event: {}", s.source);
        let s = until_vrrp(&mut live, Duration::from_secs(15), "lb2 let go", |s| s.lb == "lb2" && s.holds == Some(false)).await;
        assert!(evented(&s.source), "round {round}: {}", s.source);
    }
    assert!(!live.model.timeline.iter().any(|e| e.text.contains("SPLIT BRAIN")), "no false split brain: {}", describe(&live.model));
}

/// Kills, by PID, in one go, the `ip -o monitor address` of kockpit's address stream (`addr`), the
/// `journalctl -f` of its log stream (`log`) and the awk of its haproxy stats watch (`stats`) on `host`
/// (found in that host's network namespace only); how many of each were killed.
fn kill_streams_on(lab: &Lab, host: &str, addr: bool, log: bool, stats: bool) -> (usize, usize, usize) {
    let script = r#"me=$(readlink /proc/self/ns/net); a=0; l=0; s=0
for p in /proc/[0-9]*; do
  [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] || continue
  case "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" in
    "ip -o monitor address "|"ip -o monitor address link ") [ "$1" = 1 ] && kill "${p#/proc/}" && a=$((a+1));;
    "journalctl -q --no-pager -f -n 0 -o short-unix "*) [ "$2" = 1 ] && kill "${p#/proc/}" && l=$((l+1));;
    "awk "*@@kockpit-server*) [ "$3" = 1 ] && kill "${p#/proc/}" && s=$((s+1));;
  esac
done
echo "killed $a $l $s""#;
    let flag = |b: bool| if b { "1" } else { "0" };
    let out = lab.ha_ok(&["exec", host, "sh", "-c", script, "kill", flag(addr), flag(log), flag(stats)]);
    let n: Vec<usize> =
        out.lines().find_map(|l| l.trim().strip_prefix("killed ")).unwrap_or("").split(' ').filter_map(|n| n.parse().ok()).collect();
    (n.first().copied().unwrap_or(0), n.get(1).copied().unwrap_or(0), n.get(2).copied().unwrap_or(0))
}

/// [`kill_streams_on`] of the address stream alone: how many were killed.
fn kill_stream_on(lab: &Lab, host: &str) -> usize {
    kill_streams_on(lab, host, true, false, false).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn a_killed_stream_falls_back_to_polling_says_so_and_comes_back() {
    let lab = lab();
    let mut live = lab.live();
    streams_up(&mut live).await;
    until_vrrp(&mut live, Duration::from_secs(30), "lb1's keepalived log streamed", |s| {
        s.lb == "lb1" && s.source.contains("keepalived log")
    })
    .await;
    // the address stream alone: keepalived's messages still announce its changes, the poll stays slow
    assert_eq!(kill_stream_on(&lab, "lb1"), 1, "one address stream of kockpit's on lb1");
    let s = until_vrrp(&mut live, Duration::from_secs(10), "lb1's source says the address stream failed", |s| {
        s.lb == "lb1" && s.source.contains("address events stream FAILED")
    })
    .await;
    assert!(s.source.contains("keepalived log streamed"), "{}", s.source);
    // both at once (the address stream may be back already): polled every 0.5 s, and the source says so
    let (_, logs, _) = kill_streams_on(&lab, "lb1", true, true, false);
    assert_eq!(logs, 1, "one log stream of kockpit's on lb1");
    // (the address stream may be back already: then only keepalived's log is said to have failed)
    until_vrrp(&mut live, Duration::from_secs(10), "lb1's source says the streams failed and it is polled every 0.5 s", |s| {
        s.lb == "lb1" && s.source.contains("stream FAILED") && s.source.contains("polling every 0.5 s")
    })
    .await;
    // polled meanwhile at the normal interval: two looks within two seconds
    let t0 = Instant::now();
    until_vrrp(&mut live, Duration::from_secs(3), "lb1 polled", |s| s.lb == "lb1" && s.source.contains("FAILED")).await;
    until_vrrp(&mut live, Duration::from_secs(3), "lb1 polled again", |s| s.lb == "lb1").await;
    assert!(t0.elapsed() < Duration::from_secs(6), "polled at the normal interval while the stream is down");
    // the stream comes back by itself, and the source says so again
    until_vrrp(&mut live, Duration::from_secs(30), "lb1's streams back", |s| {
        s.lb == "lb1" && s.source.contains("address events and keepalived log streamed")
    })
    .await;
    assert_eq!(kill_stream_on(&lab, "lb1"), 1, "exactly one address stream after the restart, the old one gone");
    assert_eq!(kill_log_stream_on(&lab, "lb1"), 1, "exactly one log stream after the restart, the old one gone");
}

/// One haproxy observation: the LB, its source, and m2's status there.
struct SeenHap {
    source: String,
    m2: Option<String>,
}

/// Apply events until `pred` holds for an haproxy observation of `lb`; that observation.
async fn until_haproxy(live: &mut Live, lb: &str, limit: Duration, what: &str, pred: impl Fn(&SeenHap) -> bool) -> SeenHap {
    let seen = |o: &Observation| match &o.payload {
        Payload::Haproxy { lb: l, result } if l == lb => Some(SeenHap {
            source: o.source.clone(),
            m2: result.as_ref().ok().and_then(|s| s.iter().find(|b| b.server == "m2")).map(|b| b.status_text.clone()),
        }),
        _ => None,
    };
    until_seen(live, limit, what, seen, pred).await
}

/// Starts m2's apiserver again when dropped.
struct ApiserverBack<'a>(&'a Lab);

impl Drop for ApiserverBack<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.ha(&["start", "m2", "apiserver"]) {
            eprintln!("restore: start m2 apiserver: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn haproxy_marking_a_server_down_and_up_is_seen_as_haproxy_makes_it() {
    let lab = lab();
    let mut live = lab.live();
    until_haproxy(&mut live, "lb1", Duration::from_secs(30), "lb1's haproxy socket watched and log streamed, m2 UP", |s| {
        s.source.contains("haproxy stats socket and haproxy log streamed") && s.m2.as_deref() == Some("UP")
    })
    .await;
    let _back = ApiserverBack(&lab);
    for round in 0..2 {
        lab.ha_ok(&["stop", "m2", "apiserver"]);
        // (the 5 s consistency poll may see it first: the look the watch calls for shows it too)
        let what = format!("round {round}: m2 DOWN on lb1, in a look answering the stats watch");
        until_haproxy(&mut live, "lb1", Duration::from_secs(15), &what, |s| {
            s.m2.as_deref().is_some_and(|t| t.starts_with("DOWN")) && s.source.ends_with("; haproxy stats event")
        })
        .await;
        lab.ha_ok(&["start", "m2", "apiserver"]);
        let what = format!("round {round}: m2 UP on lb1, in a look answering the stats watch");
        until_haproxy(&mut live, "lb1", Duration::from_secs(20), &what, |s| {
            s.m2.as_deref() == Some("UP") && s.source.ends_with("; haproxy stats event")
        })
        .await;
    }
    // without the watch, haproxy's own message still calls for the look
    assert_eq!(kill_stats_watch_on(&lab, "lb1"), 1, "one stats watch of kockpit's on lb1");
    let s = until_haproxy(&mut live, "lb1", Duration::from_secs(10), "lb1's source says the watch failed", |s| {
        s.source.contains("haproxy stats socket watch FAILED")
    })
    .await;
    assert!(s.source.contains("haproxy log streamed") && !s.source.contains("polling every"), "the log still slows the poll: {}", s.source);
    lab.ha_ok(&["stop", "m2", "apiserver"]);
    until_haproxy(&mut live, "lb1", Duration::from_secs(15), "m2 DOWN on lb1, in a look answering haproxy's message", |s| {
        s.m2.as_deref().is_some_and(|t| t.starts_with("DOWN")) && s.source.ends_with("; haproxy log event")
    })
    .await;
}

/// Writes lb2's graceful-demotion file (keepalived's track_file): 1 lowers its priority by 100.
fn demote(lab: &Lab, host: &str, v: u8) {
    lab.ha_ok(&["exec", host, "sh", "-c", &format!("echo {v} >/etc/keepalived/kockpit-demote")]);
}

/// Takes lb2's demotion back when dropped.
struct Undemote<'a>(&'a Lab);

impl Drop for Undemote<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.ha(&["exec", "lb2", "sh", "-c", "echo 0 >/etc/keepalived/kockpit-demote"]) {
            eprintln!("restore: lb2's demotion: {e}");
        }
    }
}

/// Starts lb2's haproxy again when dropped.
struct HaproxyBack<'a>(&'a Lab);

impl Drop for HaproxyBack<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.ha(&["start", "lb2", "haproxy"]) {
            eprintln!("restore: start lb2 haproxy: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn a_keepalived_change_that_moves_no_address_is_seen_through_what_it_tracks_and_its_log() {
    let lab = lab();
    let mut live = lab.live();
    // (the address watch starts again once lb2's configuration is read: it names what keepalived tracks)
    let first = until_vrrp(&mut live, Duration::from_secs(30), "lb2's address events and keepalived log streamed", |s| {
        s.lb == "lb2" && s.source.contains("address events and keepalived log streamed") && s.holds == Some(false)
    })
    .await;
    let before = first.prio.expect("lb2's priority");
    let _undo = Undemote(&lab);
    for round in 0..2 {
        // a backup's priority falls through the file keepalived tracks: no address moves; the
        // address watch sees the file change and keepalived's message comes later
        demote(&lab, "lb2", 1);
        // (the 5 s consistency poll may see it first: the look the file's change calls for shows it too)
        let what = format!("round {round}: lb2's priority lowered, in a look answering its tracked file's change");
        until_vrrp(&mut live, Duration::from_secs(10), &what, |s| {
            s.lb == "lb2" && s.prio.is_some_and(|p| p < before) && s.source.ends_with("; tracked file event")
        })
        .await;
        demote(&lab, "lb2", 0);
        let what = format!("round {round}: lb2's priority back, in a look answering its tracked file's change");
        until_vrrp(&mut live, Duration::from_secs(10), &what, |s| {
            s.lb == "lb2" && s.prio == Some(before) && s.source.ends_with("; tracked file event")
        })
        .await;
    }
    // a tracking script's result shows nowhere but in keepalived: its message says so. lb2's haproxy
    // stopped, chk_haproxy fails twice and keepalived lowers lb2's priority by 60.
    let _back = HaproxyBack(&lab);
    lab.ha_ok(&["stop", "lb2", "haproxy"]);
    until_vrrp(&mut live, Duration::from_secs(15), "lb2's priority lowered by its tracking script, in a look answering its message", |s| {
        s.lb == "lb2" && s.prio.is_some_and(|p| p < before) && s.source.ends_with("; keepalived log event")
    })
    .await;
    lab.ha_ok(&["start", "lb2", "haproxy"]);
    until_vrrp(
        &mut live,
        Duration::from_secs(15),
        "lb2's priority back after its haproxy came back, in a look answering its message",
        |s| s.lb == "lb2" && s.prio == Some(before) && s.source.ends_with("; keepalived log event"),
    )
    .await;
}

/// [`kill_streams_on`] of the log stream alone: how many were killed.
fn kill_log_stream_on(lab: &Lab, host: &str) -> usize {
    kill_streams_on(lab, host, false, true, false).1
}

/// [`kill_streams_on`] of the haproxy stats watch alone: how many were killed.
fn kill_stats_watch_on(lab: &Lab, host: &str) -> usize {
    kill_streams_on(lab, host, false, false, true).2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn killed_haproxy_streams_fall_back_to_polling_and_come_back() {
    let lab = lab();
    let mut live = lab.live();
    until_haproxy(&mut live, "lb1", Duration::from_secs(30), "lb1's haproxy socket watched and log streamed", |s| {
        s.source.contains("haproxy stats socket and haproxy log streamed")
    })
    .await;
    let (_, logs, watches) = kill_streams_on(&lab, "lb1", false, true, true);
    assert_eq!((logs, watches), (1, 1), "one log stream and one stats watch of kockpit's on lb1");
    let s = until_haproxy(&mut live, "lb1", Duration::from_secs(10), "lb1's haproxy source says the stream failed", |s| {
        s.source.contains("ssh stream FAILED")
    })
    .await;
    assert!(s.source.contains("polling every 0.5 s"), "{}", s.source);
    let t0 = Instant::now();
    until_haproxy(&mut live, "lb1", Duration::from_secs(3), "lb1's haproxy polled", |_| true).await;
    until_haproxy(&mut live, "lb1", Duration::from_secs(3), "and polled again", |_| true).await;
    assert!(t0.elapsed() < Duration::from_secs(3), "polled at the normal interval while the stream is down");
    until_haproxy(&mut live, "lb1", Duration::from_secs(30), "lb1's streams back", |s| {
        s.source.contains("haproxy stats socket and haproxy log streamed")
    })
    .await;
    // the failure and the return are on the timeline, once each
    let said = |what: &str| live.model.timeline.iter().filter(|e| e.text.starts_with("haproxy lb1: ") && e.text.contains(what)).count();
    assert_eq!((said("FAILED"), said("streaming again")), (1, 1), "{}", describe(&live.model));
    assert_eq!(kill_log_stream_on(&lab, "lb1"), 1, "exactly one log stream after the restart, the old one gone");
    assert_eq!(kill_stats_watch_on(&lab, "lb1"), 1, "exactly one stats watch after the restart, the old one gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn the_stats_watch_follows_a_restarted_haproxy_within_seconds() {
    let lab = lab();
    let mut live = lab.live();
    let _back = HaproxyBack(&lab);
    // five restarts in a row, each soon after the watch came back: its backoff stops at 5 s
    for round in 0..5 {
        until_haproxy(&mut live, "lb2", Duration::from_secs(30), &format!("round {round}: lb2's haproxy socket watched"), |s| {
            s.source.contains("haproxy stats socket and haproxy log streamed")
        })
        .await;
        // stopped: the watch says it does not watch (the session lost, no haproxy)
        lab.ha_ok(&["stop", "lb2", "haproxy"]);
        until_haproxy(&mut live, "lb2", Duration::from_secs(10), &format!("round {round}: lb2's stopped haproxy not watched"), |s| {
            s.source.contains("haproxy stats socket watch FAILED") || s.source.contains("haproxy stats socket not streamed")
        })
        .await;
        // started again: its new process's socket is watched within the 5 s retry (plus a look),
        // however the watch saw it go (the session lost, the socket refusing while haproxy starts)
        lab.ha_ok(&["start", "lb2", "haproxy"]);
        let t0 = Instant::now();
        until_haproxy(&mut live, "lb2", Duration::from_secs(9), &format!("round {round}: lb2's restarted haproxy watched again"), |s| {
            s.source.contains("haproxy stats socket and haproxy log streamed") || s.source.ends_with("; haproxy stats event")
        })
        .await;
        eprintln!("round {round}: watched again after {:?}", t0.elapsed());
    }
    // each failure said once and its return once; a watch not running yet is not "streaming again"
    let said = |what: &str| live.model.timeline.iter().filter(|e| e.text.starts_with("haproxy lb2: ") && e.text.contains(what)).count();
    assert!(said("streaming again") <= said("FAILED"), "{}", describe(&live.model));
}

/// A second link in lb2 (`eth1`, a veth whose other end stays in the root namespace as `kk-lb2-t1`),
/// removed when dropped.
struct SecondLink;

impl SecondLink {
    fn add() -> SecondLink {
        let ip = |args: &[&str]| {
            let out = std::process::Command::new("ip").args(args).output().expect("ip");
            assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        };
        let _ = std::process::Command::new("ip").args(["link", "del", "kk-lb2-t1"]).output();
        ip(&["link", "add", "kk-lb2-t1", "type", "veth", "peer", "name", "eth1", "netns", "kockpit-lb2"]);
        ip(&["link", "set", "kk-lb2-t1", "up"]);
        ip(&["-n", "kockpit-lb2", "link", "set", "eth1", "up"]);
        SecondLink
    }
    fn set(&self, state: &str) {
        let out = std::process::Command::new("ip").args(["-n", "kockpit-lb2", "link", "set", "eth1", state]).output().expect("ip");
        assert!(out.status.success(), "eth1 {state}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for SecondLink {
    fn drop(&mut self) {
        if let Err(e) = std::process::Command::new("ip").args(["link", "del", "kk-lb2-t1"]).output() {
            eprintln!("restore: delete kk-lb2-t1: {e}");
        }
    }
}

/// The links of the interfaces keepalived runs on or tracks are followed beside the addresses: a link
/// going down or up makes kockpit look at keepalived at once. (The lab's keepalived tracks only eth0,
/// which also carries kockpit's SSH: here the plan names a second interface, eth1, as the VIP's.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn a_link_of_the_vips_interface_going_down_or_up_is_looked_at_at_once() {
    let lab = lab();
    let link = SecondLink::add();
    let mut plan = Plan::load(Path::new(&lab.env["KOCKPIT_CONFIG"])).unwrap_or_else(|e| panic!("the lab's plan: {e}"));
    plan.vip.as_mut().expect("the lab's VIP").interface = Some("eth1".into());
    let settings = LiveSettings { ssh_config: Some(PathBuf::from(&lab.env["KOCKPIT_SSH_CONFIG"])), ..LiveSettings::new(true) };
    let mut live = Live::start_with(plan, settings);
    until_vrrp(&mut live, Duration::from_secs(30), "lb2's address events and keepalived log streamed", |s| {
        s.lb == "lb2" && s.source.contains("address events and keepalived log streamed")
    })
    .await;
    for (round, state) in ["down", "up", "down", "up"].into_iter().enumerate() {
        link.set(state);
        let t0 = Instant::now();
        until_vrrp(&mut live, Duration::from_secs(3), &format!("round {round}: lb2 looked at for eth1 {state}"), |s| {
            s.lb == "lb2" && s.source.ends_with("; link event")
        })
        .await;
        assert!(t0.elapsed() < Duration::from_secs(2), "round {round}: a look at once, not the 5 s poll: {:?}", t0.elapsed());
    }
}

/// The state file the user's notify script writes on every transition (the plan's
/// `keepalived_state_file`) is followed beside the addresses: a transition that moves no address
/// (a backup entering FAULT) is looked at as the script writes it. Written here as the lab's notify
/// script writes it (`STATE EPOCH`, by rename), and put back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn the_notify_scripts_state_file_is_looked_at_as_it_is_written() {
    let lab = lab();
    let mut live = lab.live();
    until_vrrp(&mut live, Duration::from_secs(30), "lb2's address events and keepalived log streamed", |s| {
        s.lb == "lb2" && s.source.contains("address events and keepalived log streamed")
    })
    .await;
    let plan = Plan::load(Path::new(&lab.env["KOCKPIT_CONFIG"])).unwrap_or_else(|e| panic!("the lab's plan: {e}"));
    let file = plan.lb.keepalived_state_file;
    assert!(file.starts_with('/'), "the lab's plan names the notify script's state file: {file:?}");
    let before = lab.ha_ok(&["exec", "lb2", "cat", &file]);
    struct PutBack<'a>(&'a Lab, String, String);
    impl Drop for PutBack<'_> {
        fn drop(&mut self) {
            let script = "printf '%s' \"$2\" >\"$1.tmp\" && mv -f \"$1.tmp\" \"$1\"";
            if let Err(e) = self.0.ha(&["exec", "lb2", "sh", "-c", script, "put", &self.1, &self.2]) {
                eprintln!("restore: lb2's {}: {e}", self.1);
            }
        }
    }
    let _back = PutBack(&lab, file.clone(), format!("{}\n", before.trim_end()));
    for (round, state) in ["FAULT", "BACKUP"].into_iter().enumerate() {
        let script = "printf '%s %s\\n' \"$2\" \"$(date +%s)\" >\"$1.tmp\" && mv -f \"$1.tmp\" \"$1\"";
        lab.ha_ok(&["exec", "lb2", "sh", "-c", script, "write", &file, state]);
        let t0 = Instant::now();
        until_vrrp(&mut live, Duration::from_secs(3), &format!("round {round}: lb2 looked at for its notify script's {state}"), |s| {
            s.lb == "lb2" && s.source.ends_with("; notify event")
        })
        .await;
        assert!(t0.elapsed() < Duration::from_secs(2), "round {round}: a look at once, not the 5 s poll: {:?}", t0.elapsed());
    }
}

/// Apply events until `pred` holds for a Hosts observation of `host`; its source.
async fn until_facts(live: &mut Live, host: &str, limit: Duration, what: &str, pred: impl Fn(&str, bool) -> bool) -> String {
    let seen = |o: &Observation| match &o.payload {
        Payload::Host { host: h, result } if h == host => Some((o.source.clone(), result.is_ok())),
        _ => None,
    };
    until_seen(live, limit, what, seen, |(source, ok)| pred(source, *ok)).await.0
}

/// Kills, by PID, every process of kockpit's facts stream on `host` (that host's namespace only).
fn kill_facts_stream_on(lab: &Lab, host: &str) -> usize {
    // (the pattern is split so that this script's own command line does not match it)
    let script = r#"me=$(readlink /proc/self/ns/net); n=0; pat="facts""() {"
for p in /proc/[0-9]*; do
  [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] || continue
  case "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" in *"$pat"*) kill "${p#/proc/}" && n=$((n+1));; esac
done
echo "killed $n""#;
    let out = lab.ha_ok(&["exec", host, "sh", "-c", script]);
    out.lines().find_map(|l| l.trim().strip_prefix("killed ")).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "lab: needs root and the HA lab (tests/run runs it)"]
async fn host_facts_stream_every_second_fall_back_to_polling_and_come_back() {
    let lab = lab();
    let mut live = lab.live();
    until_facts(&mut live, "m1", Duration::from_secs(30), "m1's facts streamed", |s, ok| ok && s == "ssh m1; facts streamed").await;
    // every second, with nothing asked for
    let t0 = Instant::now();
    for _ in 0..3 {
        until_facts(&mut live, "m1", Duration::from_secs(3), "the next frame", |s, ok| ok && s.ends_with("facts streamed")).await;
    }
    let took = t0.elapsed();
    assert!(took > Duration::from_millis(1500) && took < Duration::from_secs(5), "three frames a second apart: {took:?}");
    assert!(kill_facts_stream_on(&lab, "m1") >= 1, "kockpit's facts stream runs on m1");
    let s =
        until_facts(&mut live, "m1", Duration::from_secs(10), "m1's source says the stream failed", |s, _| s.contains("ssh stream FAILED"))
            .await;
    assert!(s.contains("facts stream ended") && s.contains("polling every 1.0 s"), "{s}");
    until_facts(&mut live, "m1", Duration::from_secs(30), "m1's facts stream back", |s, ok| ok && s == "ssh m1; facts streamed").await;
    assert!(kill_facts_stream_on(&lab, "m1") >= 1, "the stream runs again");
}
