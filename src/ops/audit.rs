//! The audit trail: append-only JSON Lines, written by one writer of its own ([`Audit`]), a thread that
//! owns the file. Each record is written and flushed to disk (fsync) before the writer acknowledges it,
//! so the UI never waits on the disk, and an operation is handed to its executor only once the record
//! that says it was confirmed is durable: nothing is acted on unrecorded, and a `kill -9` loses
//! nothing that was already acted on.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

pub mod chain;
pub mod unfinished;

/// A log file grows to this size, then is renamed aside (`audit.jsonl.<time>`) and a new one continues
/// the chain.
pub const ROTATE_AT: u64 = 64 << 20;

/// A path an audit log cannot live at: a FIFO (opening it would wait for a reader, forever), a socket,
/// a directory, a block device, or /dev/null (every record would be lost while looking written). A
/// path that does not exist yet is fine: it is created.
fn refuse_non_log(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let t = m.file_type();
    let why = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "it is a directory"
    } else if t.is_fifo() {
        "it is a FIFO"
    } else if t.is_socket() {
        "it is a socket"
    } else if t.is_block_device() {
        "it is a block device"
    } else if t.is_char_device() && m.rdev() == libc::makedev(1, 3) {
        "it is /dev/null: every record would be lost"
    } else {
        // a character device such as /dev/full: writes fail or succeed as the device says
        return Ok(());
    };
    Err(std::io::Error::other(format!("{why}, not a file an audit log can be kept in")))
}

/// The audit log file, chained ([`chain`]): each record carries `seq` and the SHA-256 of the record
/// before it, and checkpoints carry an HMAC of the chain's head.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    session: String,
    next_seq: u64,
    prev: String,
    key: Option<chain::Key>,
    since_checkpoint: u64,
    rotate_at: u64,
    /// The log was found cut back before the checkpoint the key remembers: that mark stays.
    head_frozen: bool,
}

/// What signs a checkpoint: its `mac` from the record as written without it.
type Sign<'a> = &'a dyn Fn(&str) -> Option<String>;

impl AuditLog {
    /// Open (create) the log for appending, without a checkpoint key (checkpoints are unsigned).
    /// `session` ties the records of one run together.
    pub fn open(path: &Path, session: impl Into<String>) -> std::io::Result<AuditLog> {
        AuditLog::open_with(path, session, None)
    }

    /// Open (create) the log; the chain goes on from its last record.
    pub fn open_with(path: &Path, session: impl Into<String>, key: Option<chain::Key>) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        refuse_non_log(path)?;
        let tail = chain::end_of(path)?.tail;
        // A log that ends before the newest checkpoint the key remembers for it was cut back (or
        // removed): this session never moves that mark, so `audit verify` goes on saying so.
        let cut_back = match (key.as_ref().and_then(|k| k.read_head(path)), &tail) {
            (Some((head, _)), Some(t)) if t.seq < head => Some((head, Some(t.seq))),
            (Some((head, _)), None) => Some((head, None)),
            _ => None,
        };
        // (a record cut short at the end is taken off by the next record's write)
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (next_seq, prev) = match tail {
            Some(t) => (t.seq + 1, t.hash),
            None => (0, chain::GENESIS.to_string()),
        };
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file,
            session: session.into(),
            next_seq,
            prev,
            key,
            since_checkpoint: 0,
            rotate_at: ROTATE_AT,
            head_frozen: cut_back.is_some(),
        };
        if let Some((head, ends)) = cut_back {
            log.record("log_cut_back", json!({ "checkpoint_remembered": head, "log_ends_at": ends }))?;
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rotate at `bytes` instead of [`ROTATE_AT`] (tests).
    pub fn rotate_at(mut self, bytes: u64) -> AuditLog {
        self.rotate_at = bytes;
        self
    }

    /// Write one record: `{"ts", "session", "event", "seq", "prev", ...fields}`; durable when this
    /// returns Ok. A checkpoint follows every [`chain::CHECKPOINT_EVERY`] records.
    pub fn record<T: Serialize>(&mut self, event: &str, fields: T) -> std::io::Result<()> {
        self.write(event, serde_json::to_value(fields).unwrap_or(Value::Null))?;
        if self.since_checkpoint >= chain::CHECKPOINT_EVERY {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Seal the chain so far: a checkpoint record signed (when there is a key) over all its own fields,
    /// `prev` among them, so nothing in it or before it can change unseen.
    pub fn checkpoint(&mut self) -> std::io::Result<()> {
        let signed = self.key.is_some();
        let key = self.key.clone();
        let sign = move |unsigned: &str| key.as_ref().map(|k| k.mac(unsigned));
        let hash = self.write_with("checkpoint", json!({ "signed": signed }), Some(&sign))?;
        self.since_checkpoint = 0;
        if let Some(k) = self.key.as_ref().filter(|_| !self.head_frozen) {
            k.write_head(&self.path, self.next_seq - 1, &hash)?;
        }
        Ok(())
    }

    fn write(&mut self, event: &str, fields: Value) -> std::io::Result<String> {
        self.write_with(event, fields, None)
    }

    /// Write a record; `sign` gives the `mac` of the record as written without it.
    fn write_with(&mut self, event: &str, fields: Value, sign: Option<Sign<'_>>) -> std::io::Result<String> {
        // Another kockpit on this machine may write to the same log: one writer at a time, and each
        // record goes on from the file's own last record, so the sessions share one chain.
        let _lock = self.lock_current()?;
        let end = chain::end_of(&self.path)?;
        if let Some(t) = end.tail {
            self.next_seq = t.seq + 1;
            self.prev = t.hash;
        }
        if let Some(torn) = end.torn {
            // A record cut short (a full disk, a process killed mid-write) never was one: nothing
            // acted on it. It comes off the end, so the chain stays verifiable, and the chain says so.
            let len = self.file.metadata()?.len();
            self.file.set_len(len.saturating_sub(torn.bytes))?;
            self.append_record("torn_tail", json!({ "bytes": torn.bytes, "sha256": torn.sha256 }), None)?;
        }
        if self.file.metadata().map(|m| m.len()).unwrap_or(0) >= self.rotate_at {
            self.rotate()?;
        }
        self.append_record(event, fields, sign)
    }

    /// Append one record to the locked file; a write that fails part-way is taken back off the end
    /// (a full disk must not leave half a record).
    fn append_record(&mut self, event: &str, fields: Value, sign: Option<Sign<'_>>) -> std::io::Result<String> {
        let mut v = json!({
            "ts": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "session": self.session,
            "event": event,
            "seq": self.next_seq,
            "prev": self.prev,
        });
        if let (Value::Object(map), Value::Object(extra)) = (&mut v, fields) {
            for (k, val) in extra {
                if !matches!(k.as_str(), "ts" | "session" | "event" | "seq" | "prev") {
                    map.insert(k, val);
                }
            }
        }
        let mut line = serde_json::to_string(&v).map_err(std::io::Error::other)?;
        if let Some(sign) = sign
            && let Value::Object(map) = &mut v
        {
            map.insert("mac".into(), sign(&line).map_or(Value::Null, Value::String));
            line = serde_json::to_string(&v).map_err(std::io::Error::other)?;
        }
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\n');
        let before = self.file.metadata()?.len();
        if let Err(e) = self.file.write_all(&bytes).and_then(|()| self.file.sync_data()) {
            let _ = self.file.set_len(before);
            return Err(e);
        }
        let hash = chain::sha256_hex(line.as_bytes());
        self.prev = hash.clone();
        self.next_seq += 1;
        self.since_checkpoint += 1;
        Ok(hash)
    }

    /// Lock the log for one record (flock, released when the guard drops). When another process
    /// rotated the file away meanwhile, the new file at the path is opened and locked instead.
    fn lock_current(&mut self) -> std::io::Result<FlockGuard> {
        use std::os::unix::fs::MetadataExt;
        loop {
            let guard = FlockGuard::exclusive(&self.file)?;
            let ours = self.file.metadata()?;
            match std::fs::metadata(&self.path) {
                Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => return Ok(guard),
                _ => {
                    drop(guard);
                    self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
                }
            }
        }
    }

    /// Rename the full file aside and go on in a new one; the chain runs on across the two.
    fn rotate(&mut self) -> std::io::Result<()> {
        // never onto a file rotated earlier (two rotations in one millisecond): a rename would replace
        // it, and its records with it; under the lock, nobody else rotates meanwhile
        let stamp = format!("{}.{}", self.path.display(), Utc::now().format("%Y%m%dT%H%M%S%.3f"));
        let mut aside = PathBuf::from(&stamp);
        let mut n = 0;
        while aside.exists() {
            n += 1;
            aside = PathBuf::from(format!("{stamp}-{n}"));
        }
        std::fs::rename(&self.path, &aside)?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        Ok(())
    }
}

/// An exclusive `flock` on an open file, released on drop.
struct FlockGuard(std::os::fd::RawFd);

impl FlockGuard {
    fn exclusive(f: &std::fs::File) -> std::io::Result<FlockGuard> {
        use std::os::fd::AsRawFd;
        let fd = f.as_raw_fd();
        loop {
            // SAFETY: flock on a descriptor this process owns; no memory is passed
            if unsafe { libc::flock(fd, libc::LOCK_EX) } == 0 {
                return Ok(FlockGuard(fd));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Drop for FlockGuard {
    fn drop(&mut self) {
        // SAFETY: as above; the descriptor is still open (the guard never outlives the file's use)
        unsafe { libc::flock(self.0, libc::LOCK_UN) };
    }
}

/// The acknowledgement of a record: Ok once it is on disk, Err with why it could not be written.
pub type Recorded = tokio::sync::oneshot::Receiver<Result<(), String>>;

enum Req {
    Record { event: String, fields: Value, ack: Option<tokio::sync::oneshot::Sender<Result<(), String>>> },
    Sync(mpsc::Sender<()>),
    Seal(mpsc::Sender<()>),
}

/// The one audit writer of a process. Cheap to clone; every clone feeds the same thread, in order.
#[derive(Clone)]
pub struct Audit {
    tx: Option<mpsc::Sender<Req>>,
    /// The last write failure (None once a later write succeeded).
    failure: Arc<Mutex<Option<String>>>,
    path: Option<PathBuf>,
    /// The fleet's cluster this clone records for: said in each of its records as `cluster`.
    cluster: Option<Arc<str>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").field("path", &self.path).field("failure", &self.failure()).finish()
    }
}

impl Audit {
    /// Start the writer for `path`. A log that cannot be opened is not an error here: the writer
    /// then fails every record with the reason, so operations are refused while viewing goes on.
    pub fn open(path: &Path, session: impl Into<String>) -> Audit {
        match AuditLog::open(path, session) {
            Ok(log) => Audit::start(log),
            Err(e) => {
                let why = format!("cannot open the audit log {}: {e}", path.display());
                let a = Audit::broken(why);
                Audit { path: Some(path.to_path_buf()), ..a }
            }
        }
    }

    /// The writer for an open log, on a thread of its own.
    pub fn start(mut log: AuditLog) -> Audit {
        let (tx, rx) = mpsc::channel::<Req>();
        let failure = Arc::new(Mutex::new(None::<String>));
        let path = log.path().to_path_buf();
        let fail = failure.clone();
        let spawned = std::thread::Builder::new().name("kockpit-audit".into()).spawn(move || {
            while let Ok(req) = rx.recv() {
                match req {
                    Req::Record { event, fields, ack } => {
                        let r = log.record(&event, fields).map_err(|e| format!("audit log {}: {e}", log.path().display()));
                        if let Ok(mut f) = fail.lock() {
                            *f = r.as_ref().err().cloned();
                        }
                        if let Err(e) = &r {
                            tracing::error!("{e}");
                        }
                        if let Some(ack) = ack {
                            let _ = ack.send(r);
                        }
                    }
                    Req::Sync(done) => {
                        let _ = done.send(());
                    }
                    Req::Seal(done) => {
                        if let Err(e) = log.checkpoint() {
                            tracing::error!("audit log {}: checkpoint: {e}", log.path().display());
                            if let Ok(mut f) = fail.lock() {
                                *f = Some(format!("audit log {}: {e}", log.path().display()));
                            }
                        }
                        let _ = done.send(());
                    }
                }
            }
        });
        match spawned {
            Ok(_) => Audit { tx: Some(tx), failure, path: Some(path), cluster: None },
            Err(e) => Audit::broken(format!("cannot start the audit writer: {e}")),
        }
    }

    /// A writer that fails every record with `why`.
    pub fn broken(why: String) -> Audit {
        Audit { tx: None, failure: Arc::new(Mutex::new(Some(why))), path: None, cluster: None }
    }

    /// No audit log at all: records are dropped and acknowledged at once. For tests and benchmarks
    /// only; every command of the binary writes a log.
    pub fn discard() -> Audit {
        Audit { tx: None, failure: Arc::new(Mutex::new(None)), path: None, cluster: None }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Why the last record could not be written, if it could not.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    /// Queue a record; never waits. A failure shows in [`Audit::failure`].
    pub fn record<T: Serialize>(&self, event: &str, fields: T) {
        self.send(event, fields, None);
    }

    /// Queue a record and get its acknowledgement: act only once it says Ok.
    pub fn record_durable<T: Serialize>(&self, event: &str, fields: T) -> Recorded {
        let (ack, rx) = tokio::sync::oneshot::channel();
        self.send(event, fields, Some(ack));
        rx
    }

    /// A clone whose records say they are about `cluster` (a fleet's clusters share one log).
    pub fn for_cluster(&self, cluster: &str) -> Audit {
        Audit { cluster: Some(Arc::from(cluster)), ..self.clone() }
    }

    fn send<T: Serialize>(&self, event: &str, fields: T, ack: Option<tokio::sync::oneshot::Sender<Result<(), String>>>) {
        let mut fields = serde_json::to_value(fields).unwrap_or(Value::Null);
        if let (Some(c), Some(obj)) = (&self.cluster, fields.as_object_mut()) {
            obj.entry("cluster").or_insert_with(|| Value::String(c.to_string()));
        }
        let Some(tx) = &self.tx else {
            let r = match self.failure() {
                Some(why) => Err(why),
                None => Ok(()),
            };
            if let Some(ack) = ack {
                let _ = ack.send(r);
            }
            return;
        };
        if let Err(mpsc::SendError(Req::Record { ack: Some(ack), .. })) = tx.send(Req::Record { event: event.to_string(), fields, ack }) {
            let _ = ack.send(Err("the audit writer stopped".into()));
        }
    }

    /// Open the log at `path` with the checkpoint key at `key` (made there when missing). A key that
    /// cannot be read or made leaves checkpoints unsigned, and says so in the log.
    pub fn open_keyed(path: &Path, session: impl Into<String>, key: &Path) -> Audit {
        let (key, why) = match chain::Key::load_or_create(key) {
            Ok(k) => (Some(k), None),
            Err(e) => (None, Some(format!("no checkpoint key at {}: {e}", key.display()))),
        };
        let a = match AuditLog::open_with(path, session, key) {
            Ok(log) => Audit::start(log),
            Err(e) => {
                let a = Audit::broken(format!("cannot open the audit log {}: {e}", path.display()));
                return Audit { path: Some(path.to_path_buf()), ..a };
            }
        };
        if let Some(why) = why {
            tracing::warn!("{why}");
            a.record("audit_unsigned", json!({ "reason": why }));
        }
        a
    }

    /// Write a checkpoint sealing everything recorded so far, and wait for it (the end of a session).
    pub fn seal(&self) {
        if let Some(tx) = &self.tx {
            let (done, wait) = mpsc::channel();
            if tx.send(Req::Seal(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }

    /// Wait until every record queued so far is written (or failed): at the end of a session, and in tests.
    pub fn sync(&self) {
        if let Some(tx) = &self.tx {
            let (done, wait) = mpsc::channel();
            if tx.send(Req::Sync(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }
}

/// The record of an operation's progress: `op_step` or `op_finished`.
pub fn record_op_event(audit: &Audit, e: &super::OpEvent) {
    match e {
        super::OpEvent::Step { id, text, ok } => audit.record("op_step", json!({ "op_id": id, "step": text, "ok": ok })),
        super::OpEvent::Finished { id, ok, summary } => audit.record("op_finished", json!({ "op_id": id, "ok": ok, "summary": summary })),
    }
}

/// Wait for an acknowledgement from blocking code (a test, the end of a command).
pub fn wait_recorded(r: Recorded) -> Result<(), String> {
    r.blocking_recv().unwrap_or_else(|_| Err("the audit writer stopped".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        // a directory that does not exist yet: opening creates it
        let path = dir.path().join("audit").join("audit.jsonl");
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
    }

    #[test]
    fn the_writer_acknowledges_only_what_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let audit = Audit::open(&path, "s");
        audit.record("session_start", json!({}));
        let ack = audit.record_durable("op_confirmed", json!({"op_id": 1}));
        assert_eq!(wait_recorded(ack), Ok(()));
        // acknowledged: both records are in the file, in order
        let text = std::fs::read_to_string(&path).unwrap();
        let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(events.iter().map(|e| e["event"].as_str().unwrap()).collect::<Vec<_>>(), ["session_start", "op_confirmed"]);
        assert_eq!(audit.failure(), None);
    }

    #[test]
    fn a_fifo_a_directory_and_dev_null_are_refused_as_logs_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let t0 = std::time::Instant::now();
        for (p, why) in [(fifo.as_path(), "FIFO"), (dir.path(), "directory"), (Path::new("/dev/null"), "/dev/null")] {
            let audit = Audit::open(p, "s");
            let r = wait_recorded(audit.record_durable("op_confirmed", json!({})));
            assert!(r.as_ref().is_err_and(|e| e.contains(why)), "{p:?}: {r:?}");
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "no open waits for a reader");
    }

    #[test]
    fn a_log_that_cannot_be_written_fails_every_acknowledgement() {
        // /dev/full takes the open and fails every write with ENOSPC
        let audit = Audit::open(Path::new("/dev/full"), "s");
        let r = wait_recorded(audit.record_durable("op_confirmed", json!({})));
        assert!(r.as_ref().is_err_and(|e| e.contains("No space left")), "{r:?}");
        assert!(audit.failure().is_some_and(|f| f.contains("No space left")));
        // a directory that cannot be created: the writer never starts, every record fails with why
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let audit = Audit::open(&blocked.join("audit.jsonl"), "s");
        let r = wait_recorded(audit.record_durable("op_confirmed", json!({})));
        assert!(r.as_ref().is_err_and(|e| e.contains("cannot open the audit log")), "{r:?}");
    }
}
