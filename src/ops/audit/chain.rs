//! The audit log's tamper evidence.
//!
//! Every record carries `seq` (one more than the record before it, across sessions and rotated files)
//! and `prev`, the SHA-256 of the previous record's line exactly as written. A changed byte, a record
//! deleted, inserted or moved breaks the chain at the first record after it. Checkpoints (every
//! [`CHECKPOINT_EVERY`] records and at the end of each session) carry an HMAC-SHA256 of their own
//! every field (its `prev`, so the whole chain before it, among them), keyed with a secret kept outside
//! the log's directory: whoever can rewrite the log
//! cannot re-seal it. The key's directory also keeps the newest checkpoint of each log (its *head*), so
//! a log cut back to an older checkpoint is caught too. Records after the last checkpoint are an
//! unsealed tail: a session still running, one that was killed, or a truncation.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ring::hmac;
use serde_json::Value;

/// A checkpoint is written after this many records (and at the end of every session).
pub const CHECKPOINT_EVERY: u64 = 100;

/// The `prev` of the very first record of a chain.
pub const GENESIS: &str = "genesis";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Bytes as lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The checkpoint key: 32 random bytes in a file only its owner can read.
#[derive(Clone)]
pub struct Key {
    key: hmac::Key,
    path: PathBuf,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Key {
    /// Read the key at `path`, or make one there (mode 0600) if there is none.
    pub fn load_or_create(path: &Path) -> std::io::Result<Key> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let mut b = [0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
                    .map_err(|_| std::io::Error::other("no random bytes for the audit key"))?;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
                std::io::Write::write_all(&mut f, &b)?;
                f.sync_all()?;
                b.to_vec()
            }
            Err(e) => return Err(e),
        };
        if bytes.len() < 16 {
            return Err(std::io::Error::other(format!("{}: an audit key has at least 16 bytes", path.display())));
        }
        Ok(Key { key: hmac::Key::new(hmac::HMAC_SHA256, &bytes), path: path.to_path_buf() })
    }

    /// Only a key read from an existing file (for `audit verify`: never make one there).
    pub fn load(path: &Path) -> std::io::Result<Key> {
        if !path.is_file() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{}: no audit key there", path.display())));
        }
        Key::load_or_create(path)
    }

    /// The signature of a checkpoint record, over the record as written without its `mac`.
    pub fn mac(&self, unsigned: &str) -> String {
        hex(hmac::sign(&self.key, unsigned.as_bytes()).as_ref())
    }

    /// Whether the checkpoint `record` carries the signature of everything else in it.
    fn mac_ok(&self, record: &Value) -> bool {
        let mut unsigned = record.clone();
        let mac = match unsigned.as_object_mut().and_then(|m| m.remove("mac")) {
            Some(Value::String(m)) => m,
            _ => return false,
        };
        let tag: Option<Vec<u8>> = (mac.len() % 2 == 0)
            .then(|| (0..mac.len()).step_by(2).map(|i| u8::from_str_radix(mac.get(i..i + 2)?, 16).ok()).collect())
            .flatten();
        match (serde_json::to_string(&unsigned), tag) {
            (Ok(u), Some(tag)) => hmac::verify(&self.key, u.as_bytes(), &tag).is_ok(),
            _ => false,
        }
    }

    /// Where the newest checkpoint of the log at `log` is kept (beside the key, outside the log's directory).
    /// The head is named after the log's whole path (its name and a hash of its canonical directory),
    /// so two logs of the same name in different directories never share, and overwrite, one head.
    pub fn head_path(&self, log: &Path) -> PathBuf {
        let name = log.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parent = log.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        let tag = sha256_hex(parent.as_os_str().as_encoded_bytes());
        let dir = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        dir.join(format!("{name}.{}.head", &tag[..16]))
    }

    /// Remember the newest checkpoint of `log`.
    pub fn write_head(&self, log: &Path, seq: u64, hash: &str) -> std::io::Result<()> {
        let head = self.head_path(log);
        let tmp = head.with_extension("head.tmp");
        std::fs::write(&tmp, format!("{seq} {hash}\n"))?;
        std::fs::rename(&tmp, &head)
    }

    /// The newest checkpoint this key's directory remembers for `log`: (seq, hash).
    pub fn read_head(&self, log: &Path) -> Option<(u64, String)> {
        let text = std::fs::read_to_string(self.head_path(log)).ok()?;
        let (seq, hash) = text.trim().split_once(' ')?;
        Some((seq.parse().ok()?, hash.to_string()))
    }
}

/// Where a chain stands: the last record's `seq` and the hash of its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    pub seq: u64,
    pub hash: String,
}

/// The end of a log that is not a whole line: a record cut short (a full disk, a process killed
/// mid-write). It never was a record (nothing is acted on before its record is whole on disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornEnd {
    /// Its length: the file's last bytes after its last newline.
    pub bytes: u64,
    pub sha256: String,
}

/// How a log ends: its chain's last record (None: no records yet) and a torn end after it, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct End {
    pub tail: Option<Tail>,
    pub torn: Option<TornEnd>,
}

/// The end of the log at `path`, from one read of its last bytes (an absent file, a device or a pipe
/// has none: /dev/zero would never end).
pub fn end_of(path: &Path) -> std::io::Result<End> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(End::default()),
        Err(e) => return Err(e),
    };
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Ok(End::default());
    }
    // The last record is short: enough of the end to hold it whole, and never more. A torn end with
    // no line break in that much (a record cut short past it) is read to 1 MiB.
    let mut buf = Vec::new();
    for window in [256u64 << 10, 1 << 20] {
        let from = meta.len().saturating_sub(window);
        f.seek(SeekFrom::Start(from))?;
        buf.clear();
        f.by_ref().take(window).read_to_end(&mut buf)?;
        if from == 0 || buf.contains(&b'\n') {
            break;
        }
    }
    let whole = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let torn = (whole < buf.len()).then(|| TornEnd { bytes: (buf.len() - whole) as u64, sha256: sha256_hex(&buf[whole..]) });
    let text = String::from_utf8_lossy(&buf[..whole]);
    let tail = text.split('\n').filter(|l| !l.is_empty()).rev().find_map(|line| {
        let v = serde_json::from_str::<Value>(line).ok()?;
        Some(Tail { seq: v["seq"].as_u64()?, hash: sha256_hex(line.as_bytes()) })
    });
    Ok(End { tail, torn })
}

/// What `audit verify` found in an intact chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub checkpoints: u64,
    /// Checkpoints whose HMAC was checked (all of them when a key was given).
    pub signed_checked: u64,
}

/// The first thing wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub file: PathBuf,
    /// 1-based line in `file`.
    pub line: usize,
    pub seq: Option<u64>,
    pub why: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(s) = self.seq {
            write!(f, "record seq {s}: ")?;
        }
        f.write_str(&self.why)
    }
}

/// The rotated files beside `file` (`audit.jsonl.<time>`), said for an error: `: give ... first`.
fn older_beside(file: &Path) -> String {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) else { return String::new() };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    // the log's own name: up to its rotation time (`audit.jsonl` of `audit.jsonl.20261101T000000.000`)
    let base = name.split('.').take_while(|seg| !seg.starts_with(|c: char| c.is_ascii_digit())).collect::<Vec<_>>().join(".");
    let rotated = |n: &str| n.strip_prefix(&format!("{base}.")).is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit()));
    let mut older: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| rotated(n) && (name == base || n.as_str() < name))
        .collect();
    older.sort();
    match older.len() {
        0 => String::new(),
        n => format!(" ({n} rotated file(s) beside it, oldest first: {})", older.join(" ")),
    }
}

/// The largest log file `verify` reads: far beyond the size a log is rotated at.
pub const MAX_LOG_BYTES: u64 = super::ROTATE_AT * 16;

/// Whether `path` can be a log to verify: a regular file of at most [`MAX_LOG_BYTES`]. Err says why not
/// (a FIFO would block, a device would never end).
pub fn check_log_file(path: &Path) -> Result<u64, String> {
    let m = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !m.is_file() {
        return Err("not a regular file (a directory, FIFO or device is never an audit log)".into());
    }
    if m.len() > MAX_LOG_BYTES {
        return Err(format!("{} bytes: larger than any audit log ({} bytes at most)", m.len(), MAX_LOG_BYTES));
    }
    Ok(m.len())
}

fn read_log(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let len = check_log_file(path)?;
    let mut bytes = Vec::with_capacity(len as usize);
    // bounded even if the file grows while it is read
    std::fs::File::open(path).and_then(|f| f.take(MAX_LOG_BYTES + 1).read_to_end(&mut bytes)).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_LOG_BYTES {
        return Err(format!("larger than any audit log ({MAX_LOG_BYTES} bytes at most)"));
    }
    Ok(bytes)
}

/// Check the chain through `files` (oldest first: rotated files, then the current one). With `key`,
/// every checkpoint's HMAC is checked, and the log must reach the newest checkpoint the key's
/// directory remembers for it. The chain must start at its first record (seq 0, prev `genesis`):
/// records cut off its start are as missing as any other; `partial` accepts a chain whose older
/// files were removed (its first record is then taken as it is). The chain must end in a checkpoint.
pub fn verify(files: &[PathBuf], key: Option<&Key>, partial: bool) -> Result<Verified, Broken> {
    let mut prev: Option<(u64, String)> = None;
    let mut out = Verified { records: 0, first_seq: 0, last_seq: 0, checkpoints: 0, signed_checked: 0 };
    let mut last_was_checkpoint = false;
    let mut last_checkpoint: Option<(u64, String)> = None;
    let mut last_place = (PathBuf::new(), 0usize);
    let mut checkpoints: Vec<(u64, String)> = Vec::new();
    for file in files {
        let bytes = read_log(file).map_err(|why| Broken { file: file.clone(), line: 0, seq: None, why })?;
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            let line = bytes.split(|b| *b == b'\n').count();
            return Err(Broken { file: file.clone(), line, seq: None, why: "the file ends in the middle of a record (truncated)".into() });
        }
        for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            if raw.is_empty() {
                continue;
            }
            let at = |seq: Option<u64>, why: String| Broken { file: file.clone(), line: i + 1, seq, why };
            let text = std::str::from_utf8(raw).map_err(|_| at(None, "not UTF-8".into()))?;
            let v: Value = serde_json::from_str(text).map_err(|e| at(None, format!("not a JSON record: {e}")))?;
            let seq = v["seq"].as_u64().ok_or_else(|| at(None, "no seq: not a chained record".into()))?;
            let claimed = v["prev"].as_str().unwrap_or("");
            match &prev {
                None => {
                    out.first_seq = seq;
                    if seq == 0 && claimed != GENESIS {
                        return Err(at(Some(seq), format!("the first record's prev is {claimed:?}, not {GENESIS:?}")));
                    }
                    if seq > 0 && !partial {
                        return Err(at(
                            Some(seq),
                            format!(
                                "the chain starts at seq {seq}, not at its first record (seq 0): records were cut off its \
                                 start, or the files before this one were not given{} (or, when the older files were \
                                 removed on purpose, --partial)",
                                older_beside(file)
                            ),
                        ));
                    }
                }
                Some((pseq, phash)) => {
                    if seq != pseq + 1 {
                        return Err(at(Some(seq), format!("expected seq {} (a record was deleted, inserted or moved)", pseq + 1)));
                    }
                    if claimed != phash {
                        return Err(at(Some(seq), format!("prev does not match record {pseq} (that record or this one was changed)")));
                    }
                }
            }
            let hash = sha256_hex(raw);
            last_was_checkpoint = v["event"] == "checkpoint";
            if last_was_checkpoint {
                out.checkpoints += 1;
                if let Some(k) = key {
                    if !k.mac_ok(&v) {
                        return Err(at(Some(seq), "checkpoint signature does not match (forged, or another key)".into()));
                    }
                    out.signed_checked += 1;
                }
                last_checkpoint = Some((seq, hash.clone()));
                checkpoints.push((seq, hash.clone()));
            }
            out.records += 1;
            out.last_seq = seq;
            prev = Some((seq, hash));
            last_place = (file.clone(), i + 1);
        }
    }
    if out.records == 0 {
        return Err(Broken { file: files.first().cloned().unwrap_or_default(), line: 0, seq: None, why: "no records".into() });
    }
    if !last_was_checkpoint {
        return Err(Broken {
            file: last_place.0,
            line: last_place.1,
            seq: Some(out.last_seq),
            why: format!(
                "records after the last checkpoint{} are not sealed: a session still running or killed, or a truncated tail",
                last_checkpoint.as_ref().map(|(s, _)| format!(" (seq {s})")).unwrap_or_default()
            ),
        });
    }
    if let (Some(k), Some(current)) = (key, files.last())
        && let Some((head_seq, head_hash)) = k.read_head(current)
    {
        let reached = last_checkpoint.as_ref().is_some_and(|(s, h)| *s > head_seq || (*s == head_seq && *h == head_hash));
        if !reached {
            return Err(Broken {
                file: current.clone(),
                line: last_place.1,
                seq: Some(out.last_seq),
                why: format!("the log ends before its newest checkpoint (seq {head_seq}): records were cut off its end"),
            });
        }
        // past it, the chain must still hold that very checkpoint: a log cut back and written on
        // since has other records where it stood
        if head_seq >= out.first_seq && !checkpoints.iter().any(|(s, h)| *s == head_seq && *h == head_hash) {
            return Err(Broken {
                file: current.clone(),
                line: last_place.1,
                seq: Some(head_seq),
                why: format!(
                    "the checkpoint the key's directory remembers (seq {head_seq}) is not in the log: it was cut back there and written on since"
                ),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::AuditLog;
    use super::*;
    use serde_json::json;

    struct Lab {
        _dir: tempfile::TempDir,
        log: PathBuf,
        key: Key,
    }

    fn lab() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::load_or_create(&dir.path().join("config/audit.key")).unwrap();
        Lab { log: dir.path().join("state/audit.jsonl"), key, _dir: dir }
    }

    /// Two sessions of records, each sealed at its end.
    fn write_sessions(l: &Lab) {
        for s in ["s1", "s2"] {
            let mut log = AuditLog::open_with(&l.log, s, Some(l.key.clone())).unwrap();
            for i in 0..5 {
                log.record("op_step", json!({ "op_id": i, "step": format!("step {i}") })).unwrap();
            }
            log.checkpoint().unwrap();
        }
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p).unwrap().lines().map(str::to_string).collect()
    }

    fn put(p: &Path, lines: &[String]) {
        std::fs::write(p, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }

    fn broken(l: &Lab) -> Broken {
        verify(std::slice::from_ref(&l.log), Some(&l.key), false).expect_err("the change is found")
    }

    #[test]
    fn an_intact_chain_verifies_across_sessions() {
        let l = lab();
        write_sessions(&l);
        let v = verify(std::slice::from_ref(&l.log), Some(&l.key), false).unwrap();
        assert_eq!((v.records, v.first_seq, v.last_seq, v.checkpoints, v.signed_checked), (12, 0, 11, 2, 2));
        let first: Value = serde_json::from_str(&lines(&l.log)[0]).unwrap();
        assert_eq!(first["prev"], GENESIS);
        // the key file is private
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&l.key.path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_changed_byte_is_found_at_its_record() {
        let l = lab();
        write_sessions(&l);
        let mut ls = lines(&l.log);
        ls[3] = ls[3].replace("step 3", "step 9");
        put(&l.log, &ls);
        let b = broken(&l);
        assert_eq!(b.line, 5, "{b}");
        assert!(b.why.contains("prev does not match record 3"), "{b}");
    }

    #[test]
    fn a_record_cut_short_comes_off_the_end_and_the_chain_says_so() {
        let l = lab();
        write_sessions(&l);
        let before = lines(&l.log);
        // a full disk (or a kill) cut the next record short
        let torn = "{\"ts\":\"2026-12-05T00:00:00.000Z\",\"session\":\"s3\",\"event\":\"op_pl";
        std::fs::write(&l.log, before.iter().map(|x| format!("{x}\n")).collect::<String>() + torn).unwrap();
        assert!(broken(&l).why.contains("middle of a record"));
        assert_eq!(end_of(&l.log).unwrap().torn.map(|t| t.bytes), Some(torn.len() as u64));
        let mut log = AuditLog::open_with(&l.log, "s4", Some(l.key.clone())).unwrap();
        log.record("session_start", json!({})).unwrap();
        log.checkpoint().unwrap();
        let v = verify(std::slice::from_ref(&l.log), Some(&l.key), false).unwrap_or_else(|b| panic!("{b}"));
        assert_eq!(v.last_seq, 14);
        let after = lines(&l.log);
        assert_eq!(after[..before.len()], before[..], "the records before it are untouched");
        let said: Value = serde_json::from_str(&after[before.len()]).unwrap();
        assert_eq!((said["event"].as_str(), said["bytes"].as_u64()), (Some("torn_tail"), Some(torn.len() as u64)));
        assert_eq!(said["sha256"].as_str(), Some(sha256_hex(torn.as_bytes()).as_str()));
        assert_eq!(end_of(&l.log).unwrap().torn, None);
    }

    #[test]
    fn deleted_inserted_and_reordered_records_are_found() {
        let l = lab();
        write_sessions(&l);
        let orig = lines(&l.log);
        let mut del = orig.clone();
        del.remove(2);
        put(&l.log, &del);
        let b = broken(&l);
        assert!(b.line == 3 && b.why.contains("expected seq 2"), "{b}");

        let mut ins = orig.clone();
        ins.insert(4, orig[1].clone());
        put(&l.log, &ins);
        let b = broken(&l);
        assert!(b.line == 5 && b.why.contains("expected seq 4"), "{b}");

        let mut swap = orig.clone();
        swap.swap(6, 7);
        put(&l.log, &swap);
        let b = broken(&l);
        assert_eq!(b.line, 7, "{b}");

        // records cut off the start: the chain must begin at its first record
        for cut in [1, 8] {
            put(&l.log, &orig[cut..]);
            let b = broken(&l);
            assert!(b.line == 1 && b.why.contains(&format!("the chain starts at seq {cut}, not at its first record")), "{b}");
            // ... unless the older part was removed on purpose, and said so
            let v = verify(std::slice::from_ref(&l.log), Some(&l.key), true).unwrap();
            assert_eq!((v.first_seq, v.last_seq), (cut as u64, 11));
        }
    }

    #[test]
    fn a_truncated_tail_and_a_log_cut_back_to_an_old_checkpoint_are_found() {
        let l = lab();
        write_sessions(&l);
        let orig = lines(&l.log);
        // the last session's records after the first checkpoint, cut mid-way
        put(&l.log, &orig[..9]);
        let b = broken(&l);
        assert!(b.why.contains("not sealed"), "{b}");
        // a cut in the middle of a line
        let text = std::fs::read_to_string(&l.log).unwrap();
        std::fs::write(&l.log, &text[..text.len() - 10]).unwrap();
        assert!(broken(&l).why.contains("middle of a record"));
        // cut back exactly to the first session's checkpoint: sealed, but the key's head is newer
        put(&l.log, &orig[..6]);
        let b = broken(&l);
        assert!(b.why.contains("ends before its newest checkpoint (seq 11)"), "{b}");
        // a log of the same name elsewhere, sealed with the same key, does not overwrite this log's head
        let other = l._dir.path().join("elsewhere/audit.jsonl");
        let mut log = AuditLog::open_with(&other, "s3", Some(l.key.clone())).unwrap();
        log.record("session_start", json!({})).unwrap();
        log.checkpoint().unwrap();
        let b = broken(&l);
        assert!(b.why.contains("ends before its newest checkpoint (seq 11)"), "still caught: {b}");
        // ... and after kockpit writes on from the cut: it says so in the chain, never moves the
        // key's mark, and the log stays broken however far it grows past the mark
        put(&l.log, &orig[..6]);
        let mut log = AuditLog::open_with(&l.log, "s5", Some(l.key.clone())).unwrap();
        for i in 0..10 {
            log.record("op_step", json!({ "op_id": i })).unwrap();
        }
        log.checkpoint().unwrap();
        let said: Vec<Value> = lines(&l.log).iter().map(|x| serde_json::from_str(x).unwrap()).collect();
        assert_eq!(said[6]["event"], "log_cut_back");
        assert_eq!((said[6]["checkpoint_remembered"].as_u64(), said[6]["log_ends_at"].as_u64()), (Some(11), Some(5)));
        let b = broken(&l);
        assert!(b.why.contains("the checkpoint the key's directory remembers (seq 11) is not in the log"), "{b}");
    }

    #[test]
    fn verify_reads_only_regular_files_of_a_bounded_size() {
        let l = lab();
        let t0 = std::time::Instant::now();
        for p in ["/dev/zero", "/dev/null"] {
            let b = verify(&[PathBuf::from(p)], None, false).expect_err("not a log");
            assert!(b.why.contains("not a regular file"), "{b}");
        }
        let fifo = l._dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(verify(&[fifo], None, false).expect_err("not a log").why.contains("not a regular file"));
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "nothing blocks or reads forever");
        assert!(check_log_file(&l._dir.path().join("missing")).is_err_and(|e| e.contains("cannot read")));
    }

    #[test]
    fn a_rewritten_chain_cannot_be_resealed_without_the_key() {
        let l = lab();
        write_sessions(&l);
        // rewrite record 2 and recompute every hash after it, as a forger without the key would
        let mut vals: Vec<Value> = lines(&l.log).iter().map(|x| serde_json::from_str(x).unwrap()).collect();
        vals[2]["step"] = json!("nothing happened");
        let mut prev = String::new();
        let mut out = vec![];
        for (i, v) in vals.iter_mut().enumerate() {
            if i > 0 {
                v["prev"] = json!(prev);
            }
            let line = serde_json::to_string(v).unwrap();
            prev = sha256_hex(line.as_bytes());
            out.push(line);
        }
        put(&l.log, &out);
        let b = broken(&l);
        assert!(b.why.contains("signature does not match") && b.seq == Some(5), "{b}");
        // without the key the chain itself is consistent: only the key tells
        assert!(verify(std::slice::from_ref(&l.log), None, false).is_ok());
    }

    #[test]
    fn a_changed_checkpoint_is_found_though_no_record_follows_it() {
        let l = lab();
        write_sessions(&l);
        let orig = lines(&l.log);
        let last = orig.len() - 1;
        for (from, to) in [("\"signed\":true", "\"signed\":false"), ("\"ts\":\"2", "\"ts\":\"3")] {
            let mut ls = orig.clone();
            assert!(ls[last].contains(from), "{}", ls[last]);
            ls[last] = ls[last].replacen(from, to, 1);
            put(&l.log, &ls);
            let b = broken(&l);
            assert!(b.why.contains("signature does not match") && b.line == last + 1, "{from}: {b}");
        }
    }

    #[test]
    fn rotation_carries_the_chain_into_the_next_file() {
        let l = lab();
        let mut log = AuditLog::open_with(&l.log, "s", Some(l.key.clone())).unwrap().rotate_at(600);
        for i in 0..12 {
            log.record("op_step", json!({ "op_id": i })).unwrap();
        }
        log.checkpoint().unwrap();
        let dir = l.log.parent().unwrap();
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p != &l.log).collect::<Vec<_>>();
        files.sort();
        assert!(files.len() >= 2, "rotated: {files:?}");
        files.push(l.log.clone());
        let v = verify(&files, Some(&l.key), false).unwrap();
        assert_eq!((v.first_seq, v.last_seq), (0, 12));
        // the current file alone: its rotated files are named for the error
        let b = verify(std::slice::from_ref(&l.log), Some(&l.key), false).unwrap_err();
        let oldest = files[0].file_name().unwrap().to_str().unwrap();
        assert!(b.why.contains("rotated file(s) beside it, oldest first: ") && b.why.contains(oldest), "{b}");
        // a rotated file missing from the middle breaks the chain
        let mut gap = files.clone();
        gap.remove(1);
        assert!(verify(&gap, Some(&l.key), false).unwrap_err().why.contains("expected seq"));
    }

    #[test]
    fn rotations_within_one_millisecond_lose_no_file() {
        let l = lab();
        // every record past the first fills the file: dozens of rotations in a few milliseconds
        let mut log = AuditLog::open_with(&l.log, "s", Some(l.key.clone())).unwrap().rotate_at(1);
        for i in 0..40 {
            log.record("op_step", json!({ "op_id": i })).unwrap();
        }
        log.checkpoint().unwrap();
        let dir = l.log.parent().unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p != &l.log).collect();
        files.sort();
        files.push(l.log.clone());
        let v = verify(&files, Some(&l.key), false).unwrap_or_else(|b| panic!("{b}: {files:?}"));
        assert_eq!(v.last_seq, 40, "every record kept across {} files", files.len());
    }

    #[test]
    fn two_sessions_writing_at_once_share_one_intact_chain() {
        let l = lab();
        // two processes' writers open at the same time, their records interleaved
        let mut a = AuditLog::open_with(&l.log, "a", Some(l.key.clone())).unwrap();
        let mut b = AuditLog::open_with(&l.log, "b", Some(l.key.clone())).unwrap();
        for i in 0..7 {
            a.record("op_step", json!({ "i": i })).unwrap();
            b.record("op_step", json!({ "i": i })).unwrap();
            if i == 3 {
                b.checkpoint().unwrap();
            }
        }
        a.checkpoint().unwrap();
        b.checkpoint().unwrap();
        let v = verify(std::slice::from_ref(&l.log), Some(&l.key), false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((v.first_seq, v.last_seq), (0, 16), "14 records and 3 checkpoints, one chain");
    }
}
