//! The audit trail: append-only JSON Lines. Each record is written and flushed to disk (fsync) before
//! the caller goes on, so a `kill -9` loses nothing that was already acted on.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

pub struct AuditLog {
    path: PathBuf,
    file: File,
    session: String,
}

impl AuditLog {
    /// Open (create) the log for appending. `session` ties the records of one run together.
    pub fn open(path: &Path, session: impl Into<String>) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog { path: path.to_path_buf(), file, session: session.into() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write one record: `{"ts", "session", "event", ...fields}`; durable when this returns Ok.
    pub fn record<T: Serialize>(&mut self, event: &str, fields: T) -> std::io::Result<()> {
        let mut v =
            json!({ "ts": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "session": self.session, "event": event });
        if let (Value::Object(map), Ok(Value::Object(extra))) = (&mut v, serde_json::to_value(fields)) {
            for (k, val) in extra {
                map.insert(k, val);
            }
        }
        let mut line = serde_json::to_string(&v).map_err(std::io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_appended_as_json_lines() {
        let dir = std::env::temp_dir().join(format!("kockpit-audit-test-{}", std::process::id()));
        let path = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path);
        {
            let mut log = AuditLog::open(&path, "s1").unwrap();
            log.record("session_start", json!({"mode": "demo"})).unwrap();
            log.record("op_refused", json!({"op": "cordon", "reason": "read-only"})).unwrap();
        }
        {
            let mut log = AuditLog::open(&path, "s2").unwrap();
            log.record("session_end", json!({})).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["event"], "session_start");
        assert_eq!(lines[0]["mode"], "demo");
        assert_eq!(lines[1]["reason"], "read-only");
        assert_eq!(lines[2]["session"], "s2");
        assert!(lines[0]["ts"].as_str().unwrap().ends_with('Z'));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
