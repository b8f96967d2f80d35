//! The HA front's configuration files as users write them: keepalived.conf and haproxy.cfg.
//!
//! Pure: every function takes text, never a path, so the same code reads files on this machine
//! (`kockpit lint`) and files fetched from the hosts over SSH. A file is a [`Source`] (its name, for
//! messages, and its text); a configuration made of several files is a slice of them in the order
//! they are read.
//!
//! - [`keepalived`]: the keepalived.conf grammar (blocks, comments, quotes, `include`), with
//!   [`keepalived::load_keepalived`] to follow includes through a resolver the caller supplies;
//! - [`haproxy`]: haproxy.cfg sections, binds, servers, health checks, stats sockets and pages;
//! - [`lint`]: findings on one or several peers' files (priorities, check weights and timings,
//!   health-check options that cannot work, the stats socket kockpit reads);
//! - [`predict`]: what keepalived will do when haproxy, an apiserver, keepalived or a host dies.
//!
//! No input makes any of it panic, and the work is bounded: at most [`MAX_INCLUDE_DEPTH`] levels of
//! includes, [`MAX_FILES`] files and [`crate::error::limits::HACFG`] bytes in all.

use std::fmt;
use std::net::IpAddr;

pub mod haproxy;
mod haproxy_syntax;
pub mod keepalived;
mod keepalived_syntax;
pub mod lint;
mod lint_haproxy;
pub mod predict;

pub use haproxy::{HaproxyConf, parse_haproxy};
pub use keepalived::{KeepalivedConf, includes_of, load_keepalived, parse_keepalived};
pub use lint::{Level, Lint, lint_haproxy, lint_keepalived};
pub use predict::{Event, Prediction, predict};

/// Includes nest at most this deep (keepalived itself allows more; real setups use one level).
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// At most this many files make one configuration.
pub const MAX_FILES: usize = 64;

/// One file of a configuration: its name (a path, for messages and relative includes) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self { name: name.into(), text: text.into() }
    }
}

/// Where something was written: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Pos {
    pub file: String,
    pub line: usize,
}

impl Pos {
    pub fn new(file: &str, line: usize) -> Self {
        Self { file: file.to_string(), line }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A value the daemon does not take as written (out of its range, or not a number), where it is
/// written and what the daemon does instead.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invalid {
    pub at: Pos,
    pub keyword: String,
    pub value: String,
    /// What is wrong and what the daemon does about it: `is outside 1..255: keepalived ignores it and
    /// uses the default 100`.
    pub effect: String,
    /// The daemon refuses the instance or the whole configuration, not just the value.
    pub fatal: bool,
}

/// One keepalived peer of a cluster, as the lints and predictions see it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The host's name (for messages).
    pub host: String,
    pub conf: KeepalivedConf,
    /// The primary address of the VRRP interface (ties of priority go to the highest); when absent,
    /// the instance's `unicast_src_ip` stands in.
    pub address: Option<IpAddr>,
    /// The prefix length of that address, when known (for the multicast-across-subnets check).
    pub prefix: Option<u8>,
    /// The commands present on the host (`command -v` answers), when known: a check script whose
    /// tool is absent always fails.
    pub commands: Option<std::collections::BTreeSet<String>>,
    /// The ports the host's own haproxy binds (its frontends), when known.
    pub haproxy_ports: Vec<u16>,
    /// Check script files -> the `host:port` they connect to, read on the host.
    pub check_targets: std::collections::BTreeMap<String, Vec<String>>,
}

impl Peer {
    pub fn new(host: impl Into<String>, conf: KeepalivedConf) -> Self {
        Self {
            host: host.into(),
            conf,
            address: None,
            prefix: None,
            commands: None,
            haproxy_ports: Vec::new(),
            check_targets: Default::default(),
        }
    }

    /// The peer's primary address for `instance`: the given one, else its `unicast_src_ip`.
    pub fn address_for(&self, instance: &str) -> Option<IpAddr> {
        self.address.or_else(|| self.conf.instance(instance).and_then(|i| i.unicast_src_ip.as_deref()).and_then(|a| a.parse().ok()))
    }
}

/// Which of the two a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Kind {
    Keepalived,
    Haproxy,
}

/// Tell a keepalived.conf from a haproxy.cfg by the first word of its lines: keepalived's blocks
/// (`vrrp_instance`, `vrrp_script`, `global_defs`, ...) or haproxy's sections (`global`, `defaults`,
/// `frontend`, `backend`, `listen`). `None`: neither.
pub fn sniff(text: &str) -> Option<Kind> {
    const K: &[&str] = &["vrrp_instance", "vrrp_script", "global_defs", "vrrp_sync_group", "track_process", "virtual_server", "include"];
    const H: &[&str] = &["global", "defaults", "frontend", "backend", "listen"];
    let mut haproxy = false;
    for line in text.strip_prefix('\u{feff}').unwrap_or(text).lines() {
        let first = line.split(|c: char| c.is_whitespace() || c == '{').find(|w| !w.is_empty()).unwrap_or("");
        if K.contains(&first) {
            return Some(Kind::Keepalived);
        }
        haproxy |= H.contains(&first);
    }
    haproxy.then_some(Kind::Haproxy)
}

/// Whether a file name matches a glob's last part (`*` any run of characters, `?` one, `[...]` a set,
/// `[!...]` its complement). Bounded: linear in the lengths times the number of `*`s.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class(&p, pi, n[ni]),
            Some(&c) if c == n[ni] => Some(pi + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p.get(pi..).unwrap_or(&[]).iter().all(|c| *c == '*')
}

/// A `[...]` set at `p[at]` against `c`: the index after it when `c` is in it.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while let Some(&x) = p.get(i) {
        if x == ']' && !first {
            return (hit != negate).then_some(i + 1);
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            hit |= (x..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= x == c;
            i += 1;
        }
        first = false;
    }
    // no closing bracket: a literal `[`
    (c == '[').then_some(at + 1)
}

/// Both totals a configuration of several files may not exceed, checked before any parsing.
pub(crate) fn check_bounds(sources: &[Source]) -> Result<(), crate::error::FileError> {
    use crate::error::{FileError, limits::HACFG};
    if sources.len() > MAX_FILES {
        let name = sources.get(MAX_FILES).map(|s| s.name.as_str()).unwrap_or("");
        return Err(FileError::whole(name, format!("more than {MAX_FILES} files in one configuration")));
    }
    let mut total = 0u64;
    for s in sources {
        total = total.saturating_add(s.text.len() as u64);
        if total > HACFG {
            return Err(FileError::whole(&s.name, format!("the configuration's files are more than {HACFG} bytes in all")));
        }
    }
    Ok(())
}

/// A duration in seconds for messages: `3 s`, `0.5 s`, `2.25 s`.
pub(crate) fn secs(s: f64) -> String {
    if (s - s.round()).abs() < 1e-9 {
        format!("{} s", s.round() as i64)
    } else {
        let t = format!("{s:.2}");
        format!("{} s", t.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod tests;
