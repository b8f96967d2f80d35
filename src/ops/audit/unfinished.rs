//! Operations a process left unfinished: confirmed (`op_confirmed`, or a drill's `drill_action`),
//! perhaps partly acted on (its `op_intent` records, each written before its step acted), and never
//! ended (`op_finished`). A process killed with `kill -9`, a machine that lost power, a terminal closed
//! under an old version: the next start reads the end of the log and says which operation was left
//! halfway and the state its last intent says it may have left. Once said, `op_abandoned` is recorded,
//! so each is told once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// How much of the log's end is read: an operation older than that was told about long ago.
pub const TAIL_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unfinished {
    /// The session (process) that confirmed it.
    pub session: String,
    pub op_id: u64,
    /// What it was, e.g. `drain worker1`.
    pub what: String,
    pub confirmed_at: String,
    /// How many of its steps had started acting.
    pub acted: usize,
    /// The last step that started acting, and the state it may have left.
    pub last_step: Option<String>,
    pub leaves: Option<String>,
    /// The session wrote `session_end` (it quit, or was told to stop, without the operation's end).
    pub session_ended: bool,
}

impl Unfinished {
    /// One line for the screen and the terminal.
    pub fn describe(&self) -> String {
        // what it may have left first: a line cut at the screen's edge keeps what matters
        let state = match &self.leaves {
            // the step's own words (`worker2 may be cordoned`, `lb1: demoted; restore its priority to undo`)
            Some(l) => l.clone(),
            None => "no step had started acting: nothing was changed".to_string(),
        };
        format!(
            "UNFINISHED: {}: {state} ({} step(s) started; operation {} of session {}, confirmed {})",
            self.what, self.acted, self.op_id, self.session, self.confirmed_at
        )
    }
}

/// A short name of a recorded request or drill action (`drain worker1`, `vip_failover lb2`).
fn what_of(fields: &Value) -> String {
    let r = fields.get("request").or_else(|| fields.get("action")).unwrap_or(&Value::Null);
    let kind = ["op", "action", "kind"].iter().find_map(|k| r.get(*k).and_then(Value::as_str)).unwrap_or("operation").to_string();
    let mut parts = vec![kind];
    for k in ["node", "to", "lb", "host", "service", "on"] {
        match r.get(k) {
            Some(Value::String(s)) => parts.push(s.clone()),
            Some(Value::Bool(b)) => parts.push(if *b { "on".into() } else { "off".into() }),
            _ => {}
        }
    }
    if let Some(m) = r.get("masters").and_then(Value::as_array) {
        parts.push(m.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","));
    }
    parts.join(" ")
}

/// Read the end of the log at `path` (at most `tail` bytes) and list the operations started and never
/// ended, except those of `running_session` (this process) and those already told (`op_abandoned`).
/// A log that does not exist has nothing unfinished.
pub fn scan(path: &Path, tail: u64, running_session: Option<&str>) -> std::io::Result<Vec<Unfinished>> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(std::io::Error::other("not a regular file, so not an audit log")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    }
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(tail);
    f.seek(SeekFrom::Start(from))?;
    let mut r = BufReader::new(f.take(tail));
    let mut line = Vec::new();
    if from > 0 {
        // the first line read is cut: skip it
        r.read_until(b'\n', &mut line)?;
    }
    let mut open: BTreeMap<(String, u64), Unfinished> = BTreeMap::new();
    let mut ended: BTreeSet<String> = BTreeSet::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        // only operation and session records matter; the rest is not even parsed
        let text = String::from_utf8_lossy(&line);
        if !(text.contains("\"op_") || text.contains("\"drill_action\"") || text.contains("\"session_end\"")) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(text.trim()) else { continue };
        let event = v.get("event").and_then(Value::as_str).unwrap_or("");
        let session = v.get("session").and_then(Value::as_str).unwrap_or("").to_string();
        let id = v.get("op_id").or_else(|| v.get("action_id")).and_then(Value::as_u64);
        match (event, id) {
            ("op_confirmed" | "drill_action", Some(id)) => {
                let u = Unfinished {
                    session: session.clone(),
                    op_id: id,
                    what: what_of(&v),
                    confirmed_at: v.get("ts").and_then(Value::as_str).unwrap_or("").to_string(),
                    acted: 0,
                    last_step: None,
                    leaves: None,
                    session_ended: false,
                };
                open.insert((session, id), u);
            }
            ("op_intent", Some(id)) => {
                if let Some(u) = open.get_mut(&(session, id)) {
                    u.acted += 1;
                    u.last_step = v.get("step").and_then(Value::as_str).map(str::to_string);
                    u.leaves = v.get("leaves").and_then(Value::as_str).map(str::to_string);
                }
            }
            ("op_finished", Some(id)) => {
                open.remove(&(session, id));
            }
            ("op_abandoned", Some(id)) => {
                let of = v.get("of_session").and_then(Value::as_str).unwrap_or("").to_string();
                open.remove(&(of, id));
            }
            ("session_end", _) => {
                ended.insert(session);
            }
            _ => {}
        }
    }
    Ok(open
        .into_values()
        .filter(|u| Some(u.session.as_str()) != running_session)
        .filter(|u| ended.contains(&u.session) || !still_running(&u.session))
        .map(|mut u| {
            u.session_ended = ended.contains(&u.session);
            u
        })
        .collect())
}

/// Whether the kockpit that wrote `session` (`<time>-<pid>`) still runs here: its operation is then
/// not unfinished but under way in another terminal.
fn still_running(session: &str) -> bool {
    let Some(pid) = session.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else { return false };
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "kockpit")
}

#[cfg(test)]
mod tests {
    use super::super::AuditLog;
    use super::*;
    use serde_json::json;

    #[test]
    fn an_operation_without_its_end_is_unfinished_with_its_last_intent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        {
            let mut log = AuditLog::open(&path, "s1").unwrap();
            log.record("session_start", json!({})).unwrap();
            log.record("op_confirmed", json!({ "op_id": 1, "request": { "op": "cordon", "node": "w1" } })).unwrap();
            log.record("op_intent", json!({ "op_id": 1, "step": "cordon w1", "leaves": "w1 may be cordoned" })).unwrap();
            log.record("op_finished", json!({ "op_id": 1, "ok": true, "summary": "w1 cordoned" })).unwrap();
            log.record("op_confirmed", json!({ "op_id": 2, "request": { "op": "drain", "node": "w2" } })).unwrap();
            log.record("op_intent", json!({ "op_id": 2, "step": "cordon w2", "leaves": "w2 may be cordoned" })).unwrap();
            log.record("op_intent", json!({ "op_id": 2, "step": "evict 3 pod(s)", "leaves": "w2 cordoned; some pods evicted" })).unwrap();
            // killed here: no op_finished, no session_end
        }
        let u = scan(&path, TAIL_BYTES, None).unwrap();
        assert_eq!(u.len(), 1, "{u:?}");
        assert_eq!((u[0].op_id, u[0].what.as_str(), u[0].acted), (2, "drain w2", 2));
        assert_eq!(u[0].leaves.as_deref(), Some("w2 cordoned; some pods evicted"));
        assert!(!u[0].session_ended);
        assert!(u[0].describe().contains("drain w2") && u[0].describe().contains("some pods evicted"), "{}", u[0].describe());
        // this process's own running operation is not unfinished
        assert!(scan(&path, TAIL_BYTES, Some("s1")).unwrap().is_empty());
        // told once: a later session records op_abandoned and it is not told again
        {
            let mut log = AuditLog::open(&path, "s2").unwrap();
            log.record("op_abandoned", json!({ "of_session": "s1", "op_id": 2 })).unwrap();
        }
        assert!(scan(&path, TAIL_BYTES, None).unwrap().is_empty());
    }

    #[test]
    fn the_same_op_id_in_two_sessions_is_two_operations_and_a_cut_first_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        {
            let mut log = AuditLog::open(&path, "a").unwrap();
            log.record("op_confirmed", json!({ "op_id": 1, "request": { "op": "renew_certs", "masters": ["m1", "m2"] } })).unwrap();
            log.record("session_end", json!({})).unwrap();
        }
        {
            let mut log = AuditLog::open(&path, "b").unwrap();
            log.record("op_confirmed", json!({ "op_id": 1, "request": { "op": "cordon", "node": "w1" } })).unwrap();
            log.record("op_finished", json!({ "op_id": 1, "ok": true, "summary": "" })).unwrap();
        }
        let u = scan(&path, TAIL_BYTES, None).unwrap();
        assert_eq!(u.len(), 1, "{u:?}");
        assert_eq!((u[0].session.as_str(), u[0].what.as_str(), u[0].session_ended), ("a", "renew_certs m1,m2", true));
        assert!(u[0].describe().contains("nothing was changed"));
        // read from the middle of the first record: that record is skipped, the rest still read
        let len = std::fs::metadata(&path).unwrap().len();
        let first = std::fs::read_to_string(&path).unwrap().lines().next().unwrap().len() as u64;
        assert!(scan(&path, len - first / 2, None).unwrap().is_empty(), "the confirmation was cut off: nothing to tell");
        // a log that does not exist yet
        assert!(scan(&dir.path().join("none.jsonl"), TAIL_BYTES, None).unwrap().is_empty());
    }
}
