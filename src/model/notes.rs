//! The words of a source note: how the probes say a look was learnt (`; address events streamed`,
//! `; tracked file event`, `; haproxy stats socket watch FAILED: ...`), and how the model reads them
//! back to tell when a failed stream streams again. The probes write these words and the model reads
//! them, so both take them from here.

/// The streamed parts, as a note names them.
pub const ADDRESS_EVENTS: &str = "address events";
pub const STATS_SOCKET: &str = "haproxy stats socket";
pub const KEEPALIVED_LOG: &str = "keepalived log";
pub const HAPROXY_LOG: &str = "haproxy log";

/// The events a look answers, as a note says them.
pub const ADDRESS_EVENT: &str = "address event";
pub const TRACKED_FILE_EVENT: &str = "tracked file event";
pub const NOTIFY_EVENT: &str = "notify event";
pub const LINK_EVENT: &str = "link event";
pub const STATS_EVENT: &str = "haproxy stats event";
pub const KEEPALIVED_LOG_EVENT: &str = "keepalived log event";
pub const HAPROXY_LOG_EVENT: &str = "haproxy log event";
pub const KEEPALIVED_PROCESSES: &str = "keepalived processes changed";
pub const HAPROXY_PROCESSES: &str = "haproxy processes changed";
pub const SERVICE_EVENT: &str = "service event";

/// How the VIP probe's failure begins when it did not probe at all (a plan's VIP no client can reach).
pub const NOT_PROBED: &str = "not probed: ";

/// How the haproxy probe's failure says haproxy is gone (its script's words, exit 3), and that no stats
/// socket was found (exit 2): read back to tell a dead haproxy from one kockpit cannot read.
pub const HAPROXY_NOT_RUNNING: &str = "haproxy is not running";
pub const NO_STATS_SOCKET: &str = "no haproxy stats socket";

const FAILED: &str = " FAILED: ";

/// A note's clause for a part's stream that failed: `address events stream FAILED: WHY` (`ssh` for
/// every part at once).
pub fn stream_failed(part: impl std::fmt::Display, why: impl std::fmt::Display) -> String {
    format!("{part} stream{FAILED}{why}")
}

/// The haproxy stats socket's watch that failed: `haproxy stats socket watch FAILED: WHY`.
pub fn watch_failed(part: impl std::fmt::Display, why: impl std::fmt::Display) -> String {
    format!("{part} watch{FAILED}{why}")
}

/// The part and the reason of a clause [`stream_failed`] or [`watch_failed`] wrote.
pub fn failed_stream(clause: &str) -> Option<(&str, &str)> {
    let (head, why) = clause.split_once(FAILED)?;
    let part = head.strip_suffix(" stream").or_else(|| head.strip_suffix(" watch"))?;
    Some((part, why))
}

/// Which part's stream gives each event: a look answering one shows that part streams.
const EVENTS: &[(&str, &[&str])] = &[
    (ADDRESS_EVENTS, &[ADDRESS_EVENT, TRACKED_FILE_EVENT, NOTIFY_EVENT, LINK_EVENT]),
    (STATS_SOCKET, &[STATS_EVENT]),
    (KEEPALIVED_LOG, &[KEEPALIVED_LOG_EVENT, KEEPALIVED_PROCESSES, SERVICE_EVENT]),
    (HAPROXY_LOG, &[HAPROXY_LOG_EVENT, HAPROXY_PROCESSES, SERVICE_EVENT]),
];

/// Whether `source` says that `part` (a stream's name as its failure said it: `address events`,
/// `haproxy stats socket`, `keepalived log`, or `ssh` for every part) streams: listed as streamed, or
/// the look answered an event only that part gives. Not when it is said not streamed (haproxy gone,
/// no socket), and not while it is starting again (it is then not named at all).
pub fn streams_again(source: &str, part: &str) -> bool {
    source.split("; ").any(|c| {
        let listed = c.ends_with(" streamed") && !c.contains(" not streamed") && (part == "ssh" || c.contains(part));
        let by_event = EVENTS.iter().any(|(p, events)| (part == "ssh" || *p == part) && events.contains(&c));
        listed || by_event
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_stream_is_read_back_as_written() {
        assert_eq!(failed_stream(&stream_failed(ADDRESS_EVENTS, "gone")), Some((ADDRESS_EVENTS, "gone")));
        assert_eq!(failed_stream(&stream_failed("ssh", "a: b")), Some(("ssh", "a: b")));
        assert_eq!(failed_stream(&watch_failed(STATS_SOCKET, "Connection refused")), Some((STATS_SOCKET, "Connection refused")));
        assert_eq!(failed_stream("polling every 0.5 s"), None);
        assert_eq!(failed_stream("kube-system's static pods FAILED: x"), None, "not a stream");
    }

    #[test]
    fn an_event_shows_only_its_own_part_streams() {
        let s = format!("ssh lb1: ip -j addr; {TRACKED_FILE_EVENT}");
        assert!(streams_again(&s, ADDRESS_EVENTS));
        assert!(streams_again(&s, "ssh"));
        assert!(!streams_again(&s, KEEPALIVED_LOG));
        let s = format!("ssh lb1: show stat; {SERVICE_EVENT}");
        assert!(streams_again(&s, KEEPALIVED_LOG) && streams_again(&s, HAPROXY_LOG));
        assert!(!streams_again(&s, STATS_SOCKET));
    }

    #[test]
    fn a_part_said_not_streamed_does_not_stream() {
        let s = format!("ssh lb1: sock; {HAPROXY_LOG} streamed; {STATS_SOCKET} not streamed: haproxy is not running");
        assert!(streams_again(&s, HAPROXY_LOG));
        assert!(!streams_again(&s, STATS_SOCKET));
        assert!(!streams_again("ssh lb1: sock; polling every 2 s", "ssh"));
    }
}
