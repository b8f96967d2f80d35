//! The user's OpenSSH client config, read the way `ssh` reads it: `Host` blocks with `*`/`?` patterns
//! and `!` negation, options before the first `Host` apply to every host, the first value found for an
//! option wins (except `IdentityFile`, which accumulates), `Include` with a `*` in the file name,
//! `Match all|host|originalhost` (other `Match` criteria never match, with a warning).
//!
//! Supported options: HostName, User, Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
//! GlobalKnownHostsFile, StrictHostKeyChecking, ProxyJump (comma chains, `user@host:port`),
//! ConnectTimeout, HostKeyAlias, ServerAliveInterval, ServerAliveCountMax. Others are ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How unknown host keys are treated. Changed keys are always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// Unknown keys are refused (`yes`, and `ask`: kockpit cannot ask mid-probe).
    Yes,
    /// Unknown keys are accepted and recorded (`accept-new`; kockpit treats `no` the same way).
    AcceptNew,
}

/// One hop of a ProxyJump chain: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpSpec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl JumpSpec {
    pub fn parse(s: &str) -> Option<JumpSpec> {
        let s = s.trim().strip_prefix("ssh://").unwrap_or(s.trim());
        if s.is_empty() {
            return None;
        }
        let (user, rest) = match s.rsplit_once('@') {
            Some((u, r)) => (Some(u.to_string()), r),
            None => (None, s),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (h, after) = inner.split_once(']')?;
            (h.to_string(), after.strip_prefix(':').and_then(|p| p.parse().ok()))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p.parse().ok()?)),
                _ => (rest.to_string(), None),
            }
        };
        (!host.is_empty()).then_some(JumpSpec { user, host, port })
    }
}

impl std::fmt::Display for JumpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// Everything kockpit needs to reach one host alias.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    /// The name kockpit was given (the plan's `ssh_host`).
    pub alias: String,
    pub hostname: String,
    pub user: String,
    pub port: u16,
    pub identity_files: Vec<PathBuf>,
    /// True when IdentityFile came from the config (else the OpenSSH defaults are listed).
    pub identity_files_explicit: bool,
    pub identities_only: bool,
    pub user_known_hosts: Vec<PathBuf>,
    pub global_known_hosts: Vec<PathBuf>,
    pub strict: StrictHostKeyChecking,
    pub proxy_jump: Vec<JumpSpec>,
    pub connect_timeout: Option<Duration>,
    pub host_key_alias: Option<String>,
    pub server_alive_interval: Option<Duration>,
    pub server_alive_count_max: Option<usize>,
}

impl HostConfig {
    /// The names this host's key is looked up under in known_hosts: `host` or `[host]:port`.
    pub fn known_hosts_name(&self) -> String {
        let h = self.host_key_alias.as_deref().unwrap_or(&self.hostname);
        super::known_hosts::lookup_name(h, self.port)
    }
    /// Every known_hosts file to consult: the user's first (new keys are added to the first one).
    pub fn known_hosts_files(&self) -> Vec<PathBuf> {
        self.user_known_hosts.iter().chain(&self.global_known_hosts).filter(|p| p.as_os_str() != "/dev/null").cloned().collect()
    }
}

#[derive(Debug, Clone)]
enum Cond {
    Always,
    Host(Vec<String>),
    Match(MatchCond),
}

#[derive(Debug, Clone)]
enum MatchCond {
    All,
    /// `host` matches the HostName if one was set so far, `originalhost` the alias.
    Host {
        patterns: Vec<String>,
        original: bool,
    },
    Never,
}

#[derive(Debug, Clone)]
struct Opt {
    key: String,
    args: Vec<String>,
}

#[derive(Debug, Clone)]
struct Block {
    cond: Cond,
    opts: Vec<Opt>,
}

/// A parsed ssh_config.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    blocks: Vec<Block>,
    /// Things kockpit could not honour (unsupported Match criteria, unreadable includes).
    pub warnings: Vec<String>,
    home: PathBuf,
    local_user: String,
}

impl SshConfig {
    /// An empty config (every host with OpenSSH's defaults).
    pub fn empty() -> SshConfig {
        SshConfig { blocks: Vec::new(), warnings: Vec::new(), home: home_dir(), local_user: local_user() }
    }

    /// Read a config file; a missing file is an empty config when `missing_ok` (the default ~/.ssh/config).
    pub fn load(path: &Path, missing_ok: bool) -> Result<SshConfig, String> {
        if missing_ok && !path.exists() {
            return Ok(SshConfig::empty());
        }
        let text = crate::error::read_text(path, "ssh_config", crate::error::limits::SSH).map_err(|e| e.to_string())?;
        let mut cfg = SshConfig::empty();
        cfg.blocks.push(Block { cond: Cond::Always, opts: Vec::new() });
        cfg.parse_into(&text, path, 0)?;
        Ok(cfg)
    }

    /// Parse config text (Include paths relative to ~/.ssh).
    pub fn parse(text: &str) -> Result<SshConfig, String> {
        let mut cfg = SshConfig::empty();
        cfg.blocks.push(Block { cond: Cond::Always, opts: Vec::new() });
        cfg.parse_into(text, Path::new("ssh_config"), 0)?;
        Ok(cfg)
    }

    fn parse_into(&mut self, text: &str, file: &Path, depth: u8) -> Result<(), String> {
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = split_words(line).map_err(|e| format!("{}:{}: {e}", file.display(), n + 1))?;
            let Some((key, args)) = words.split_first() else { continue };
            let key = key.to_ascii_lowercase();
            let args = args.to_vec();
            match key.as_str() {
                "host" => self.blocks.push(Block { cond: Cond::Host(args), opts: Vec::new() }),
                "match" => {
                    let cond = parse_match(&args);
                    if matches!(cond, MatchCond::Never) {
                        self.warnings.push(format!(
                            "{}:{}: unsupported Match criteria {:?}: block ignored",
                            file.display(),
                            n + 1,
                            args.join(" ")
                        ));
                    }
                    self.blocks.push(Block { cond: Cond::Match(cond), opts: Vec::new() });
                }
                "include" => {
                    if depth >= 8 {
                        return Err(format!("{}:{}: Include nested too deeply", file.display(), n + 1));
                    }
                    for pat in &args {
                        for path in self.expand_include(pat) {
                            match crate::error::read_text(&path, "ssh_config", crate::error::limits::SSH) {
                                Ok(t) => self.parse_into(&t, &path, depth + 1)?,
                                Err(e) => self.warnings.push(e.to_string()),
                            }
                        }
                    }
                }
                _ => {
                    if let Some(b) = self.blocks.last_mut() {
                        b.opts.push(Opt { key, args });
                    }
                }
            }
        }
        Ok(())
    }

    fn expand_include(&self, pat: &str) -> Vec<PathBuf> {
        let p = expand_tilde(pat, &self.home);
        let p = if p.is_absolute() { p } else { self.home.join(".ssh").join(p) };
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.contains(['*', '?']) {
            return vec![p];
        }
        let Some(dir) = p.parent() else { return vec![] };
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        out.sort();
        out
    }

    /// The effective configuration for `name` (an alias, `host`, or `user@host`).
    pub fn resolve(&self, name: &str) -> HostConfig {
        let (user_override, alias) = match name.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h.to_string()),
            None => (None, name.to_string()),
        };
        let lower = alias.to_ascii_lowercase();
        let mut first: std::collections::HashMap<&str, &Vec<String>> = Default::default();
        let mut identity: Vec<&Vec<String>> = Vec::new();
        for b in &self.blocks {
            let applies = match &b.cond {
                Cond::Always => true,
                Cond::Host(pats) => host_matches(pats, &lower),
                Cond::Match(MatchCond::All) => true,
                Cond::Match(MatchCond::Never) => false,
                Cond::Match(MatchCond::Host { patterns, original }) => {
                    let target = if *original {
                        lower.clone()
                    } else {
                        first.get("hostname").and_then(|v| v.first()).map(|h| h.to_ascii_lowercase()).unwrap_or(lower.clone())
                    };
                    host_matches(patterns, &target)
                }
            };
            if !applies {
                continue;
            }
            for o in &b.opts {
                if o.key == "identityfile" {
                    identity.push(&o.args);
                } else {
                    first.entry(o.key.as_str()).or_insert(&o.args);
                }
            }
        }
        let one = |k: &str| first.get(k).and_then(|v| v.first()).cloned();
        let user = user_override.or_else(|| one("user")).unwrap_or_else(|| self.local_user.clone());
        let port = one("port").and_then(|p| p.parse().ok()).unwrap_or(22);
        let hostname = one("hostname").map(|h| h.replace("%h", &alias).replace("%%", "%")).unwrap_or_else(|| alias.clone());
        let expand = |s: &str| -> PathBuf {
            let s = s
                .replace("%d", &self.home.to_string_lossy())
                .replace("%u", &self.local_user)
                .replace("%r", &user)
                .replace("%h", &hostname)
                .replace("%n", &alias)
                .replace("%p", &port.to_string())
                .replace("%%", "%");
            expand_tilde(&s, &self.home)
        };
        let ssh_dir = self.home.join(".ssh");
        let identity_files_explicit = !identity.is_empty();
        let identity_files = if identity_files_explicit {
            identity.iter().filter_map(|v| v.first()).filter(|s| !s.eq_ignore_ascii_case("none")).map(|s| expand(s)).collect()
        } else {
            ["id_ed25519", "id_ecdsa", "id_rsa"].iter().map(|n| ssh_dir.join(n)).collect()
        };
        let user_known_hosts = match first.get("userknownhostsfile") {
            Some(v) if !v.is_empty() => v.iter().map(|s| expand(s)).collect(),
            _ => vec![ssh_dir.join("known_hosts"), ssh_dir.join("known_hosts2")],
        };
        let global_known_hosts = match first.get("globalknownhostsfile") {
            Some(v) if !v.is_empty() => v.iter().map(|s| expand(s)).collect(),
            _ => vec![PathBuf::from("/etc/ssh/ssh_known_hosts"), PathBuf::from("/etc/ssh/ssh_known_hosts2")],
        };
        let strict = match one("stricthostkeychecking").map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("accept-new") | Some("no") | Some("off") => StrictHostKeyChecking::AcceptNew,
            _ => StrictHostKeyChecking::Yes,
        };
        let proxy_jump = match one("proxyjump") {
            Some(j) if !j.eq_ignore_ascii_case("none") => j.split(',').filter_map(JumpSpec::parse).collect(),
            _ => Vec::new(),
        };
        let secs = |k: &str| one(k).and_then(|s| s.parse::<u64>().ok()).filter(|s| *s > 0).map(Duration::from_secs);
        HostConfig {
            alias: name.to_string(),
            hostname,
            user,
            port,
            identity_files,
            identity_files_explicit,
            identities_only: one("identitiesonly").is_some_and(|v| v.eq_ignore_ascii_case("yes")),
            user_known_hosts,
            global_known_hosts,
            strict,
            proxy_jump,
            connect_timeout: secs("connecttimeout"),
            host_key_alias: one("hostkeyalias"),
            server_alive_interval: secs("serveraliveinterval"),
            server_alive_count_max: one("serveralivecountmax").and_then(|s| s.parse().ok()),
        }
    }
}

fn parse_match(args: &[String]) -> MatchCond {
    let lower: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    match lower.as_slice() {
        [all] if all == "all" => MatchCond::All,
        [kw, pats] if kw == "host" || kw == "originalhost" => {
            MatchCond::Host { patterns: pats.split(',').map(str::to_string).collect(), original: kw == "originalhost" }
        }
        _ => MatchCond::Never,
    }
}

/// `Host` pattern lists: any positive pattern matches and no negated one does.
pub fn host_matches(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for p in patterns.iter().flat_map(|p| p.split(',')) {
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(&neg.to_ascii_lowercase(), host) {
                return false;
            }
        } else if wildcard_match(&p.to_ascii_lowercase(), host) {
            matched = true;
        }
    }
    matched
}

/// OpenSSH wildcards: `*` any run of characters, `?` exactly one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Split a config line into words: `Key value`, `Key=value`, double-quoted words.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut have = false;
    for (i, c) in line.chars().enumerate() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                have = true;
            }
            c if !in_quotes && (c.is_whitespace() || (c == '=' && out.is_empty())) => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            '#' if !in_quotes && !have && i > 0 => break,
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if in_quotes {
        return Err("unterminated quote".into());
    }
    if have {
        out.push(cur);
    }
    Ok(out)
}

fn expand_tilde(s: &str, home: &Path) -> PathBuf {
    match s.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if s == "~" => home.to_path_buf(),
        None => PathBuf::from(s),
    }
}

pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

pub fn local_user() -> String {
    ["USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty())).unwrap_or_else(|| "root".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
# global defaults come first in real configs too
User ops
ServerAliveInterval 15

Host lb?
  HostName 10.0.0.1%h
  Port 2222

Host lb1 !lb2
  User first-match-already-set
  IdentityFile ~/.ssh/lb_key

Host m1-via-lb1
  HostName 10.0.0.21
  ProxyJump lb1

Host chain
  HostName=10.0.0.22
  ProxyJump admin@lb1:2200,lb2
  StrictHostKeyChecking accept-new
  UserKnownHostsFile /tmp/a "/tmp/with space"
  IdentitiesOnly yes

Host *.prod !bastion.prod
  ProxyJump bastion.prod

Match host 10.0.0.22
  ConnectTimeout 3

Match exec "true"
  Port 1

Host *
  IdentityFile ~/.ssh/id_fallback
  Port 22
"#;

    #[test]
    fn first_match_wins_and_identity_files_accumulate() {
        let c = SshConfig::parse(CFG).unwrap();
        let lb1 = c.resolve("lb1");
        assert_eq!(lb1.hostname, "10.0.0.1lb1");
        assert_eq!(lb1.user, "ops", "the global User came first");
        assert_eq!(lb1.port, 2222);
        assert_eq!(lb1.server_alive_interval, Some(Duration::from_secs(15)));
        assert_eq!(lb1.identity_files.len(), 2);
        assert!(lb1.identity_files[0].ends_with(".ssh/lb_key"));
        assert!(lb1.identity_files[1].ends_with(".ssh/id_fallback"));
        assert!(lb1.proxy_jump.is_empty());
        assert_eq!(lb1.strict, StrictHostKeyChecking::Yes);
        assert_eq!(lb1.known_hosts_name(), "[10.0.0.1lb1]:2222");
        let lb2 = c.resolve("lb2");
        assert_eq!(lb2.identity_files.len(), 1, "lb2 is negated in `Host lb1 !lb2`");
        assert_eq!(c.resolve("LB2").port, 2222, "host names are matched case-insensitively");
    }

    #[test]
    fn proxy_jump_chains_and_match() {
        let c = SshConfig::parse(CFG).unwrap();
        let j = c.resolve("m1-via-lb1");
        assert_eq!(j.proxy_jump, vec![JumpSpec { user: None, host: "lb1".into(), port: None }]);
        let ch = c.resolve("chain");
        assert_eq!(ch.hostname, "10.0.0.22");
        assert_eq!(
            ch.proxy_jump,
            vec![
                JumpSpec { user: Some("admin".into()), host: "lb1".into(), port: Some(2200) },
                JumpSpec { user: None, host: "lb2".into(), port: None }
            ]
        );
        assert_eq!(ch.strict, StrictHostKeyChecking::AcceptNew);
        assert_eq!(ch.user_known_hosts, vec![PathBuf::from("/tmp/a"), PathBuf::from("/tmp/with space")]);
        assert!(ch.identities_only);
        assert_eq!(ch.connect_timeout, Some(Duration::from_secs(3)), "Match host checks the HostName");
        assert_eq!(ch.port, 22, "unsupported Match criteria never match");
        assert!(!c.warnings.is_empty());
        assert_eq!(c.resolve("db.prod").proxy_jump.len(), 1);
        assert!(c.resolve("bastion.prod").proxy_jump.is_empty());
        let other = c.resolve("root@elsewhere");
        assert_eq!((other.user.as_str(), other.hostname.as_str(), other.alias.as_str()), ("root", "elsewhere", "root@elsewhere"));
    }

    #[test]
    fn defaults() {
        let c = SshConfig::parse("").unwrap();
        let h = c.resolve("x");
        assert_eq!((h.hostname.as_str(), h.port), ("x", 22));
        assert!(!h.identity_files_explicit);
        assert_eq!(h.identity_files.len(), 3);
        assert_eq!(h.known_hosts_files().len(), 4);
        assert!(SshConfig::parse("Host \"unterminated").is_err());
    }

    #[test]
    fn wildcards_and_specs() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("m?", "m1"));
        assert!(!wildcard_match("m?", "m12"));
        assert!(wildcard_match("*.prod", "a.b.prod"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert_eq!(JumpSpec::parse("u@[::1]:2222"), Some(JumpSpec { user: Some("u".into()), host: "::1".into(), port: Some(2222) }));
        assert_eq!(JumpSpec::parse("h:notaport"), None);
        assert_eq!(JumpSpec::parse(""), None);
        assert_eq!(JumpSpec::parse("a@b:1").unwrap().to_string(), "a@b:1");
    }
}
