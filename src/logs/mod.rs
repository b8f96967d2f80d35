//! Log tailing: lines from many sources (pod logs, journalctl over SSH, files) merged on one time
//! axis, each tagged with its source. Memory is bounded by a ring; lines pushed out of the ring are
//! spilled to a file when one is configured, and every line is accounted for either way.

pub mod spec;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    /// e.g. "journal slb1 keepalived", "pod kube-system/coredns-7f9c".
    pub source: Arc<str>,
    pub text: String,
}

/// Where every line that ever arrived went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LogStats {
    pub received: u64,
    pub in_memory: u64,
    pub spilled: u64,
    /// Pushed out of memory with no spill file configured (counted, not silently lost).
    pub evicted: u64,
}

pub struct LogBuffer {
    ring: VecDeque<LogLine>,
    capacity: usize,
    spill: Option<(PathBuf, BufWriter<File>)>,
    stats: LogStats,
    /// Bumped on every change, for redraw decisions.
    pub revision: u64,
}

impl LogBuffer {
    pub fn new(capacity: usize) -> LogBuffer {
        LogBuffer {
            ring: VecDeque::with_capacity(capacity.min(65_536)),
            capacity: capacity.max(1),
            spill: None,
            stats: LogStats::default(),
            revision: 0,
        }
    }

    /// Spill lines pushed out of memory to `path` (appended, one line per record).
    pub fn with_spill(mut self, path: &Path) -> std::io::Result<LogBuffer> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        self.spill = Some((path.to_path_buf(), BufWriter::with_capacity(1 << 16, f)));
        Ok(self)
    }

    pub fn spill_path(&self) -> Option<&Path> {
        self.spill.as_ref().map(|(p, _)| p.as_path())
    }

    /// Insert a line at its place on the time axis (lines mostly arrive in order: cheap).
    pub fn push(&mut self, line: LogLine) {
        self.stats.received += 1;
        self.revision += 1;
        if self.ring.len() == self.capacity {
            let old = self.ring.pop_front().expect("full ring");
            match &mut self.spill {
                Some((_, w)) => {
                    let ok = writeln!(w, "{} [{}] {}", old.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), old.source, old.text)
                        .is_ok();
                    if ok { self.stats.spilled += 1 } else { self.stats.evicted += 1 }
                }
                None => self.stats.evicted += 1,
            }
        }
        let pos = match self.ring.back() {
            Some(last) if last.at <= line.at => self.ring.len(),
            _ => self.ring.partition_point(|l| l.at <= line.at),
        };
        self.ring.insert(pos, line);
        self.stats.in_memory = self.ring.len() as u64;
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        if let Some((_, w)) = &mut self.spill {
            w.flush()?;
        }
        Ok(())
    }

    pub fn stats(&self) -> LogStats {
        self.stats
    }
    pub fn len(&self) -> usize {
        self.ring.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> + ExactSizeIterator {
        self.ring.iter()
    }

    /// Indexes of lines matching `query` (case-insensitive, in text or source), oldest first.
    pub fn matching(&self, query: &str) -> Vec<usize> {
        if query.is_empty() {
            return (0..self.ring.len()).collect();
        }
        let q = query.to_lowercase();
        self.ring
            .iter()
            .enumerate()
            .filter(|(_, l)| l.text.to_lowercase().contains(&q) || l.source.to_lowercase().contains(&q))
            .map(|(i, _)| i)
            .collect()
    }

    pub fn get(&self, i: usize) -> Option<&LogLine> {
        self.ring.get(i)
    }

    /// Write the lines matching `query` to a file.
    pub fn save(&self, path: &Path, query: &str) -> std::io::Result<usize> {
        let mut w = BufWriter::new(File::create(path)?);
        let idx = self.matching(query);
        for &i in &idx {
            let l = &self.ring[i];
            writeln!(w, "{} [{}] {}", l.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), l.source, l.text)?;
        }
        w.flush()?;
        Ok(idx.len())
    }
}

/// Parse a timestamp at the start of a line as printed by `journalctl -o short-iso-precise`
/// (`2026-11-24T13:05:01.123456+0000 host unit[pid]: msg`), `journalctl -o short-iso`
/// (`2026-11-24T13:05:01+0000`, newer systemd `2026-11-24T13:05:01+00:00`) or the pod log API with
/// `timestamps=true` (`2026-11-24T13:05:01.123456789Z msg`). Returns the time and the rest of the line.
pub fn split_timestamp(line: &str) -> Option<(DateTime<Utc>, &str)> {
    let (ts, rest) = line.split_once(' ')?;
    let parsed = DateTime::parse_from_rfc3339(ts).or_else(|_| DateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.f%z")).ok()?;
    Some((parsed.with_timezone(&Utc), rest))
}

/// Splits a byte stream into lines (lossy UTF-8, `\r\n` or `\n`); a partial line waits for the rest.
#[derive(Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

/// A line longer than this is cut (a runaway writer must not take the memory).
pub const MAX_LINE: usize = 64 << 10;

impl LineSplitter {
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<String>) {
        self.buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(i) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + i;
            let line = &self.buf[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            out.push(String::from_utf8_lossy(line).into_owned());
            start = end + 1;
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            out.push(String::from_utf8_lossy(&self.buf).into_owned());
            self.buf.clear();
        }
    }
    /// Whatever is left after the stream ended.
    pub fn finish(&mut self) -> Option<String> {
        if self.buf.is_empty() {
            return None;
        }
        let s = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        Some(s)
    }
}

/// A line of a tailed source: its own timestamp when it has one, else now.
pub fn line_of(source: &Arc<str>, l: String) -> LogLine {
    match split_timestamp(&l) {
        Some((at, rest)) => LogLine { at, source: source.clone(), text: rest.to_string() },
        None => LogLine { at: Utc::now(), source: source.clone(), text: l },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn line(s: i64, src: &str, text: &str) -> LogLine {
        LogLine { at: DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap(), source: Arc::from(src), text: text.into() }
    }

    #[test]
    fn merges_sources_on_one_time_axis() {
        let mut b = LogBuffer::new(10);
        b.push(line(1, "a", "one"));
        b.push(line(3, "a", "three"));
        b.push(line(2, "b", "two, late"));
        let texts: Vec<&str> = b.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["one", "two, late", "three"]);
        assert_eq!(b.matching("B"), vec![1], "source names match too");
        assert_eq!(b.matching("t"), vec![1, 2]);
    }

    #[test]
    fn memory_is_bounded_and_every_line_is_accounted_for() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let spill = dir.join("spill.log");
        let mut b = LogBuffer::new(100).with_spill(&spill).unwrap();
        for i in 0..1_000 {
            b.push(line(i, "gen", &format!("line {i}")));
        }
        b.flush().unwrap();
        let s = b.stats();
        assert_eq!(s, LogStats { received: 1_000, in_memory: 100, spilled: 900, evicted: 0 });
        let spilled = std::fs::read_to_string(&spill).unwrap();
        assert_eq!(spilled.lines().count(), 900);
        assert!(spilled.lines().next().unwrap().ends_with("[gen] line 0"));
        assert_eq!(b.iter().next().unwrap().text, "line 900");
        let saved = dir.join("saved.log");
        assert_eq!(b.save(&saved, "line 99").unwrap(), 10, "990-999 are in memory; line 99 itself was spilled");
        drop(b);
        drop(tmp);

        let mut nospill = LogBuffer::new(10);
        for i in 0..25 {
            nospill.push(line(i, "gen", "x"));
        }
        assert_eq!(nospill.stats(), LogStats { received: 25, in_memory: 10, spilled: 0, evicted: 15 });
    }

    #[test]
    fn timestamps_of_journalctl_and_kubectl() {
        let (t, rest) = split_timestamp("2026-11-24T13:05:01.123456+0000 lb1 Keepalived_vrrp[42]: (VI_1) Entering MASTER STATE").unwrap();
        assert_eq!(t, DateTime::parse_from_rfc3339("2026-11-24T13:05:01.123456Z").unwrap());
        assert!(rest.starts_with("lb1 Keepalived_vrrp[42]"));
        let (t2, rest2) =
            split_timestamp("2026-11-24T13:05:01.123456789Z I1124 13:05:01 leaderelection.go:253] successfully acquired lease").unwrap();
        assert!(t2 - t < Duration::milliseconds(1));
        assert!(rest2.starts_with("I1124"));
        let (t3, rest3) = split_timestamp("2026-11-24T13:05:01+0100 m1 etcd[7]: ready").unwrap();
        assert_eq!(t3, DateTime::parse_from_rfc3339("2026-11-24T12:05:01Z").unwrap(), "short-iso, an offset");
        assert_eq!(rest3, "m1 etcd[7]: ready");
        let (t4, _) = split_timestamp("2026-11-24T13:05:01-02:30 m1 kubelet[9]: x").unwrap();
        assert_eq!(t4, DateTime::parse_from_rfc3339("2026-11-24T15:35:01Z").unwrap(), "short-iso of newer systemd");
        assert!(split_timestamp("Nov 24 13:05:01 lb1 haproxy[3]: x").is_none(), "syslog's short form: arrival time");
        assert!(split_timestamp("2026-11-24 x").is_none());
        assert!(split_timestamp("no timestamp here").is_none());
        assert!(split_timestamp("").is_none());
    }
}
