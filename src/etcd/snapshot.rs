//! etcd snapshots: streamed from the leader (etcd's Maintenance.Snapshot through the v3 gateway, over
//! the connection the etcd panel uses) into a file on the operator's machine, checked against the
//! SHA-256 etcd appends to its stream, then read the way `etcdutl snapshot status` reads it: the
//! bbolt file's hash (CRC-32C over every bucket name, key and value), revision, key count and size.
//! The file keeps etcd's trailer, as `etcdctl snapshot save` writes it, so `etcdutl snapshot restore`
//! takes it as it is.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use http_body_util::BodyExt;
use tokio::sync::mpsc;

use super::{EtcdProbe, EtcdSettings, Tunnel};
use crate::backend::{BackendEvent, Reporter};
use crate::ops::WriteCap;
use crate::ops::etcd_plan::{SnapshotDest, mb};
use crate::transport::Remote;

/// What `etcdutl snapshot status` says of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbStatus {
    /// CRC-32C (Castagnoli) over every bucket's name, then its keys and values, in order.
    pub hash: u32,
    /// The newest revision in the `key` bucket.
    pub revision: u64,
    /// Entries in every bucket.
    pub total_keys: u64,
    /// The database's size (its pages), the trailer not counted.
    pub total_size: u64,
}

/// CRC-32C (Castagnoli), as Go's `crc32.MakeTable(crc32.Castagnoli)`.
pub struct Crc32c {
    table: [u32; 256],
    crc: u32,
}

impl Crc32c {
    pub fn new() -> Crc32c {
        let mut table = [0u32; 256];
        for (i, t) in table.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
            }
            *t = c;
        }
        Crc32c { table, crc: !0 }
    }
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.crc = self.table[((self.crc ^ b as u32) & 0xff) as usize] ^ (self.crc >> 8);
        }
    }
    pub fn sum(&self) -> u32 {
        !self.crc
    }
}

impl Default for Crc32c {
    fn default() -> Self {
        Crc32c::new()
    }
}

const MAGIC: u32 = 0xED0C_DAED;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const BUCKET_LEAF: u32 = 0x01;
/// A B+tree deeper than this is a damaged file, not a database.
const MAX_DEPTH: usize = 64;

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2).map(|x| u16::from_le_bytes([x[0], x[1]])).ok_or_else(|| "truncated page".to_string())
}
fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4).map(|x| u32::from_le_bytes(x.try_into().unwrap())).ok_or_else(|| "truncated page".to_string())
}
fn u64_at(b: &[u8], at: usize) -> Result<u64, String> {
    b.get(at..at + 8).map(|x| u64::from_le_bytes(x.try_into().unwrap())).ok_or_else(|| "truncated page".to_string())
}

/// One valid meta page: page size, root bucket's page, page high water, transaction id.
fn meta(b: &[u8]) -> Option<(u32, u64, u64, u64)> {
    let m = b.get(16..80)?;
    if u32::from_le_bytes(m[0..4].try_into().ok()?) != MAGIC || u32::from_le_bytes(m[4..8].try_into().ok()?) != 2 {
        return None;
    }
    // FNV-1a 64 over the meta up to its checksum
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in &m[..56] {
        h ^= x as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    if h != u64::from_le_bytes(m[56..64].try_into().ok()?) {
        return None;
    }
    let page_size = u32::from_le_bytes(m[8..12].try_into().ok()?);
    let root = u64::from_le_bytes(m[16..24].try_into().ok()?);
    let high = u64::from_le_bytes(m[40..48].try_into().ok()?);
    let txid = u64::from_le_bytes(m[48..56].try_into().ok()?);
    Some((page_size, root, high, txid))
}

/// What a walk calls for each leaf element: its flags, key and value.
type Visit<'v> = dyn FnMut(u32, &[u8], &[u8]) -> Result<(), String> + 'v;

struct Db<'a> {
    file: &'a File,
    page_size: u64,
    pages: u64,
}

impl Db<'_> {
    /// Page `id` with its overflow pages.
    fn page(&self, id: u64) -> Result<Vec<u8>, String> {
        if id >= self.pages {
            return Err(format!("page {id} is past the end ({} pages)", self.pages));
        }
        let mut head = vec![0u8; 16];
        self.file.read_exact_at(&mut head, id * self.page_size).map_err(|e| format!("page {id}: {e}"))?;
        let overflow = u32_at(&head, 12)? as u64;
        if id + overflow >= self.pages {
            return Err(format!("page {id} overflows past the end"));
        }
        let mut page = vec![0u8; ((overflow + 1) * self.page_size) as usize];
        self.file.read_exact_at(&mut page, id * self.page_size).map_err(|e| format!("page {id}: {e}"))?;
        Ok(page)
    }

    /// Every (flags, key, value) of the tree in `page` (its bytes), in order.
    fn walk(&self, page: &[u8], depth: usize, f: &mut Visit) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("the B+tree is deeper than any database's".into());
        }
        let flags = u16_at(page, 8)?;
        let count = u16_at(page, 10)? as usize;
        for i in 0..count {
            let e = 16 + i * 16;
            if flags & BRANCH != 0 {
                let child = u64_at(page, e + 8)?;
                let p = self.page(child)?;
                self.walk(&p, depth + 1, f)?;
            } else if flags & LEAF != 0 {
                let (fl, pos, ks, vs) =
                    (u32_at(page, e)?, u32_at(page, e + 4)? as usize, u32_at(page, e + 8)? as usize, u32_at(page, e + 12)? as usize);
                let k = page.get(e + pos..e + pos + ks).ok_or("a key past its page")?;
                let v = page.get(e + pos + ks..e + pos + ks + vs).ok_or("a value past its page")?;
                f(fl, k, v)?;
            } else {
                return Err(format!("page type {flags:#x} where a branch or leaf belongs"));
            }
        }
        Ok(())
    }
}

/// `etcdutl snapshot status` of the bbolt file at `path` (a trailer after its pages is ignored).
pub fn db_status(path: &Path) -> Result<DbStatus, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut first = vec![0u8; 4096.min(len as usize)];
    file.read_exact_at(&mut first, 0).map_err(|e| format!("{}: {e}", path.display()))?;
    let m0 = meta(&first);
    let ps = m0.map(|m| m.0 as u64).unwrap_or(4096);
    if !(512..=65536).contains(&ps) {
        return Err(format!("page size {ps}: not a bbolt database"));
    }
    let mut second = vec![0u8; 80];
    let m1 = file.read_exact_at(&mut second, ps).ok().and_then(|_| meta(&second));
    let (page_size, root, high, _) = match (m0, m1) {
        (Some(a), Some(b)) => {
            if b.3 > a.3 {
                b
            } else {
                a
            }
        }
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return Err(format!("{}: no valid bbolt meta page: not an etcd database", path.display())),
    };
    let db = Db { file: &file, page_size: page_size as u64, pages: len / page_size as u64 };
    let root_page = db.page(root)?;
    let mut h = Crc32c::new();
    let (mut keys, mut revision) = (0u64, 0u64);
    let mut buckets: Vec<(Vec<u8>, u64, Vec<u8>)> = vec![];
    db.walk(&root_page, 0, &mut |flags, k, v| {
        if flags & BUCKET_LEAF != 0 {
            let broot = u64_at(v, 0)?;
            let inline = if broot == 0 { v.get(16..).map(<[u8]>::to_vec).unwrap_or_default() } else { vec![] };
            buckets.push((k.to_vec(), broot, inline));
        }
        Ok(())
    })?;
    for (name, broot, inline) in buckets {
        h.update(&name);
        let is_key = name == b"key";
        let page = if broot == 0 { inline } else { db.page(broot)? };
        db.walk(&page, 0, &mut |_, k, v| {
            h.update(k);
            h.update(v);
            if is_key && k.len() >= 8 {
                revision = u64::from_be_bytes(k[..8].try_into().unwrap());
            }
            keys += 1;
            Ok(())
        })?;
    }
    Ok(DbStatus { hash: h.sum(), revision, total_keys: keys, total_size: high * page_size as u64 })
}

/// Standard base64 (the gateway's encoding of `bytes` fields).
pub fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let val = |c: u8| -> Result<u32, String> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("not base64: {:?}", c as char)),
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        match chunk.len() {
            4 => out.extend_from_slice(&bytes),
            3 => out.extend_from_slice(&bytes[..2]),
            2 => out.push(bytes[0]),
            _ => return Err("base64 of a bad length".into()),
        }
    }
    Ok(out)
}

/// One line of the gateway's snapshot stream: its bytes, or the error it ended with.
pub fn stream_line(line: &[u8]) -> Result<Vec<u8>, String> {
    let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("the snapshot stream is not JSON lines: {e}"))?;
    if let Some(e) = v.get("error") {
        let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("an error");
        return Err(format!("etcd ended the snapshot: {msg}"));
    }
    match v.pointer("/result/blob").and_then(|b| b.as_str()) {
        Some(b) => b64_decode(b),
        None => Ok(vec![]),
    }
}

/// Writes the stream into a file, hashing all but the last 32 bytes (etcd's SHA-256 trailer).
struct Sink {
    file: File,
    digest: ring::digest::Context,
    held: Vec<u8>,
    written: u64,
}

impl Sink {
    fn push(&mut self, data: &[u8]) -> Result<(), String> {
        self.file.write_all(data).map_err(|e| e.to_string())?;
        self.written += data.len() as u64;
        self.held.extend_from_slice(data);
        if self.held.len() > 32 {
            let cut = self.held.len() - 32;
            self.digest.update(&self.held[..cut]);
            self.held.drain(..cut);
        }
        Ok(())
    }
}

/// Take a snapshot from the leader into `to` (refused if it exists), verified. Returns whether it
/// was verified.
pub async fn take(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    dest: SnapshotDest,
    id: u64,
    tx: &mpsc::Sender<BackendEvent>,
) -> bool {
    let r = Reporter { id, tx: tx.clone() };
    let place = match &dest {
        SnapshotDest::Local(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string(),
        SnapshotDest::Host { name, path, .. } => format!("{name}:{path}"),
    };
    let result = match dest {
        SnapshotDest::Local(to) => {
            let part = PathBuf::from(format!("{}.kockpit-part", to.display()));
            let result = snapshot(settings, remote, tunnel, cap, &to, &part, &r).await.map(|(said, _)| said);
            if result.is_err() {
                let _ = std::fs::remove_file(&part);
            }
            result
        }
        SnapshotDest::Host { name, ssh_host, path } => match remote {
            None => Err(format!("refused: copying a snapshot to {name} needs SSH, and there is none")),
            Some(ssh) => to_host(settings, ssh, tunnel, cap, (&name, &ssh_host, &path), &r).await,
        },
    };
    if result.is_ok() {
        let taken = crate::model::Observation::now("etcd snapshot", 3_000, crate::model::Payload::EtcdSnapshotTaken { place });
        let _ = tx.send(BackendEvent::Obs(taken)).await;
    }
    r.conclude(result).await
}

/// How long copying a snapshot to a host may take (a few GB over a slow link).
const COPY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1800);

/// A snapshot into a file of this machine first (verified as for a local one), then copied to
/// `path` on the host over SSH and renamed there once the host's SHA-256 of it matches.
async fn to_host(
    settings: EtcdSettings,
    ssh: Remote,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    (name, ssh_host, path): (&str, &str, &str),
    r: &Reporter,
) -> Result<String, String> {
    let q = crate::shell::sh_quote(path);
    // before anything is taken: the directory is there and the name is free
    let check =
        format!("p={q}; d=$(dirname -- \"$p\"); if [ -e \"$p\" ]; then echo exists; elif [ -d \"$d\" ]; then echo ok; else echo nodir; fi");
    let out = ssh.write(cap, ssh_host, &check, std::time::Duration::from_secs(20)).await.map_err(|e| format!("refused: {e}"))?;
    match out.stdout.trim() {
        "ok" => {}
        "exists" => return Err(format!("refused: {name}:{path} exists; kockpit does not overwrite a snapshot")),
        "nodir" => return Err(format!("refused: {name} has no directory for {path}")),
        other => return Err(format!("refused: {name} answered {other:?} {}", out.stderr.trim())),
    }
    let tmp = std::env::temp_dir().join(format!("kockpit-etcd-snapshot-{}-{}.db", std::process::id(), r.id));
    let part = tmp.with_extension("db.kockpit-part");
    let local = snapshot(settings, Some(ssh.clone()), tunnel, cap, &tmp, &part, r).await;
    let _ = std::fs::remove_file(&part);
    // the file's own SHA-256 (etcd's covers the data without the trailer the file keeps)
    let (said, sha) = match local.and_then(|(said, _)| file_sha256(&tmp).map(|sha| (said, sha))) {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let copied = copy_to_host(&ssh, cap, (name, ssh_host, path), &tmp, &sha, r).await;
    let _ = std::fs::remove_file(&tmp);
    copied?;
    Ok(said.replacen(&tmp.display().to_string(), &format!("{name}:{path}"), 1) + &format!("; copied to {name} and its SHA-256 matched"))
}

/// The SHA-256 of the file at `path`, in hex, read in 1 MB pieces.
fn file_sha256(path: &Path) -> Result<String, String> {
    let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut d = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        d.update(&buf[..n]);
    }
    Ok(crate::ops::audit::chain::hex(d.finish().as_ref()))
}

async fn copy_to_host(
    ssh: &Remote,
    cap: &WriteCap,
    (name, ssh_host, path): (&str, &str, &str),
    file: &Path,
    sha: &str,
    r: &Reporter,
) -> Result<(), String> {
    cap.intent(r.id, &format!("copy the snapshot to {name}:{path}"), &format!("{name}:{path}.kockpit-part may be partly written")).await?;
    let q = crate::shell::sh_quote(path);
    let cmd = format!(
        "p={q}; t=\"$p.kockpit-part\"; umask 077; [ ! -e \"$p\" ] || exit 17; cat > \"$t\" || {{ rm -f -- \"$t\"; exit 19; }}; \
         s=$(sha256sum -- \"$t\" | cut -d' ' -f1); [ \"$s\" = {sha} ] || {{ rm -f -- \"$t\"; echo \"sha256 $s\" >&2; exit 20; }}; \
         mv -- \"$t\" \"$p\" && sync && echo copied"
    );
    let t0 = Instant::now();
    let out = ssh.write_input(cap, ssh_host, &cmd, file, COPY_WITHIN).await.map_err(|e| format!("copying to {name}: {e}"))?;
    match (out.exit_status, out.stdout.trim()) {
        (Some(0), "copied") => {
            r.step(format!("copied to {name}:{path} in {:.1} s; {name}'s SHA-256 of it matches", t0.elapsed().as_secs_f64()), true).await;
            Ok(())
        }
        (Some(17), _) => Err(format!("{name}:{path} appeared meanwhile; kockpit does not overwrite it")),
        (Some(20), _) => Err(format!("{name}'s copy does not match ({}): removed", out.stderr.trim())),
        (code, _) => Err(format!("copying to {name} failed (exit {code:?}): {}", out.stderr.trim())),
    }
}

async fn snapshot(
    settings: EtcdSettings,
    remote: Option<Remote>,
    tunnel: Option<Arc<dyn Tunnel>>,
    cap: &WriteCap,
    to: &Path,
    part: &Path,
    r: &Reporter,
) -> Result<(String, String), String> {
    if to.exists() {
        return Err(format!("refused: {} exists; kockpit does not overwrite a snapshot", to.display()));
    }
    let dir = to.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(format!("refused: no directory {} for the snapshot", dir.display()));
    }
    let mut probe = EtcdProbe::new(settings, remote, tunnel);
    let v = probe.poll().await.map_err(|e| format!("etcd's status could not be read ({e}): refused"))?;
    let leader = v.leader().cloned().ok_or_else(|| {
        format!("refused: etcd has no leader ({} of {} members answer): a snapshot needs a healthy cluster", v.healthy(), v.size())
    })?;
    cap.intent(
        r.id,
        &format!("stream a snapshot of etcd from {} to {}", leader.name, to.display()),
        &format!("{} may be partly written", part.display()),
    )
    .await?;
    // owner-only from the start: the file holds every key and Secret of the cluster
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(part).map_err(|e| format!("{}: {e}", part.display()))?
    };
    let mut sink = Sink { file, digest: ring::digest::Context::new(&ring::digest::SHA256), held: vec![], written: 0 };
    let t0 = Instant::now();
    let (status, mut body, _conn) = probe.post_stream_to_member(&leader, "/v3/maintenance/snapshot", b"{}".to_vec(), cap).await?;
    if status != 200 {
        let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        return Err(format!("{}: etcd refused the snapshot: HTTP {status} {}", leader.name, String::from_utf8_lossy(&bytes)));
    }
    let mut line: Vec<u8> = vec![];
    let mut told = Instant::now();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the snapshot stream broke after {}: {e}", mb(sink.written)))?;
        let Some(data) = frame.data_ref() else { continue };
        for chunk in data.split_inclusive(|&b| b == b'\n') {
            line.extend_from_slice(chunk);
            if line.ends_with(b"\n") {
                if line.len() > 1 {
                    sink.push(&stream_line(&line)?)?;
                }
                line.clear();
            }
            if line.len() > 16 << 20 {
                return Err("the snapshot stream sent a line over 16 MB: not etcd's".into());
            }
        }
        if told.elapsed().as_secs() >= 5 {
            r.step(format!("{} received", mb(sink.written)), true).await;
            told = Instant::now();
        }
    }
    if !line.iter().all(u8::is_ascii_whitespace) {
        sink.push(&stream_line(&line)?)?;
    }
    let took = t0.elapsed().as_secs_f64();
    let Sink { file, digest, held, written } = sink;
    let sha = digest.finish();
    if held.len() != 32 || held != sha.as_ref() {
        return Err(format!(
            "integrity: the {} received do not match the SHA-256 etcd sent with them: the stream was cut or damaged",
            mb(written)
        ));
    }
    file.sync_all().map_err(|e| e.to_string())?;
    drop(file);
    r.step(format!("{} from {} in {took:.1} s; etcd's SHA-256 verified", mb(written), leader.name), true).await;
    let st = db_status(part)?;
    std::fs::rename(part, to).map_err(|e| format!("{} -> {}: {e}", part.display(), to.display()))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    let sha_hex = crate::ops::audit::chain::hex(sha.as_ref());
    let said = format!(
        "snapshot {}: revision {}, {} keys, {} (hash {:08x}, sha256 {}), from {} (the leader), verified",
        to.display(),
        st.revision,
        st.total_keys,
        mb(st.total_size),
        st.hash,
        &sha_hex[..16],
        leader.name
    );
    Ok((said, sha_hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnolis() {
        let mut c = Crc32c::new();
        c.update(b"123456789");
        assert_eq!(c.sum(), 0xE306_9283);
    }

    #[test]
    fn base64_and_the_streams_lines() {
        assert_eq!(b64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(b64_decode("aGk=").unwrap(), b"hi");
        assert!(b64_decode("a$==").is_err());
        assert_eq!(stream_line(br#"{"result":{"remaining_bytes":"3","blob":"aGk="}}"#).unwrap(), b"hi");
        let e = stream_line(br#"{"error":{"grpc_code":14,"message":"etcdserver: no leader"}}"#).unwrap_err();
        assert!(e.contains("etcdserver: no leader"), "{e}");
        assert!(stream_line(b"<html>").is_err());
    }

    #[test]
    fn a_file_that_is_no_database_is_said_so_in_bounded_time() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        std::fs::write(&p, vec![0u8; 20_000]).unwrap();
        assert!(db_status(&p).unwrap_err().contains("not an etcd database"));
        std::fs::write(&p, b"short").unwrap();
        assert!(db_status(&p).is_err());
    }
}
