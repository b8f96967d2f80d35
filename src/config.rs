//! The user's configuration: where files live (XDG) and `config.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::FileError;

/// kockpit's directories.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `$KOCKPIT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/kockpit`, else `~/.config/kockpit`.
    pub config_dir: PathBuf,
    /// `$XDG_STATE_HOME/kockpit`, else `~/.local/state/kockpit`: the audit log lives here.
    pub state_dir: PathBuf,
}

impl Paths {
    pub fn discover() -> Paths {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
        let env_dir = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from);
        let config_dir = env_dir("KOCKPIT_CONFIG_DIR")
            .or_else(|| env_dir("XDG_CONFIG_HOME").map(|d| d.join("kockpit")))
            .unwrap_or_else(|| home.join(".config").join("kockpit"));
        let state_dir =
            env_dir("XDG_STATE_HOME").map(|d| d.join("kockpit")).unwrap_or_else(|| home.join(".local").join("state").join("kockpit"));
        Paths { config_dir, state_dir }
    }
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }
    pub fn keymaps_dir(&self) -> PathBuf {
        self.config_dir.join("keymaps")
    }
    pub fn audit_log(&self) -> PathBuf {
        self.state_dir.join("audit.jsonl")
    }

    /// The audit log's checkpoint key: in the config directory, away from the log it signs.
    pub fn audit_key(&self) -> PathBuf {
        self.config_dir.join("audit.key")
    }
}

/// `config.toml`: every key optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The host plan opened when no `--config` is given.
    pub plan: Option<PathBuf>,
    pub theme: Option<String>,
    pub keymap: Option<String>,
    /// Open every cluster read-only.
    #[serde(default)]
    pub readonly: bool,
    pub audit_log: Option<PathBuf>,
    /// Log lines kept in memory by the log viewer (older ones spill to the state directory).
    pub log_lines: Option<usize>,
    /// The header's clock: to the minute (the default), to the second, or none.
    #[serde(default)]
    pub clock: Clock,
    /// Command-line aliases: `dw2 = "drain worker2"`, `n = "nodes"`.
    #[serde(default)]
    pub aliases: std::collections::BTreeMap<String, toml::Spanned<String>>,
    /// The Alertmanager every cluster asks for its firing alerts (a cluster's own overrides it).
    pub alertmanager_url: Option<String>,
    /// Drains and master maintenance silence their node's alerts while they run (every cluster).
    #[serde(default)]
    pub silence_operations: bool,
    /// The clusters of a fleet (`[[clusters]]`): with more than one, kockpit opens on the fleet screen.
    #[serde(default)]
    pub clusters: Vec<ClusterEntry>,
}

/// One `[[clusters]]` entry: a name and exactly one of a host plan, a kubeconfig context or the demo.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterEntry {
    pub name: String,
    /// kockpit's host plan or KubeKey's Cluster YAML (relative to the config file; `~/` is the home).
    pub plan: Option<PathBuf>,
    /// A kubeconfig context, without a host plan (the Kubernetes panels only); with `plan`, the
    /// context the plan's cluster is reached through.
    pub kube_context: Option<String>,
    /// The simulated cluster, with `faults` injected.
    #[serde(default)]
    pub demo: bool,
    #[serde(default)]
    pub faults: Vec<String>,
    /// Nothing can be changed in this cluster from kockpit.
    #[serde(default)]
    pub readonly: bool,
    /// This cluster's Alertmanager (else the global `alertmanager_url`).
    pub alertmanager_url: Option<String>,
    /// The matchers that pick this cluster's alerts (Alertmanager's `filter`); default
    /// `cluster="NAME"`.
    pub alert_matchers: Option<Vec<String>>,
    /// Drains and master maintenance silence their node's alerts in Alertmanager while they run.
    #[serde(default)]
    pub silence_operations: bool,
    /// Where the entry starts in config.toml (for errors found later, e.g. an unknown fault).
    #[serde(skip)]
    pub line: usize,
}

impl ClusterEntry {
    /// The Alertmanager matchers of this cluster's alerts.
    pub fn matchers(&self) -> Vec<String> {
        self.alert_matchers.clone().unwrap_or_else(|| vec![format!("cluster=\"{}\"", self.name)])
    }
}

impl Config {
    /// Read the config file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Config, FileError> {
        if !path.exists() {
            return Ok(Config::default());
        }
        let src = crate::error::read_text(path, "config file", crate::error::limits::PLAN)?;
        Config::parse(path, &src)
    }

    pub fn parse(path: &Path, src: &str) -> Result<Config, FileError> {
        let mut cfg: Config = toml::from_str(src).map_err(|e| {
            let off = e.span().map(|s| s.start).unwrap_or(0);
            FileError::at_offset(path, src, off, crate::error::humanize(e.message()))
        })?;
        // A relative plan path is relative to the config file.
        if let (Some(p), Some(dir)) = (&cfg.plan, path.parent())
            && p.is_relative()
        {
            cfg.plan = Some(dir.join(p));
        }
        check_clusters(path, src, &mut cfg)?;
        if cfg.silence_operations && cfg.alertmanager_url.is_none() && cfg.clusters.iter().all(|c| c.alertmanager_url.is_none()) {
            return Err(FileError::at_offset(
                path,
                src,
                key_offset(src, "silence_operations", 0),
                "`silence_operations` needs an Alertmanager (alertmanager_url)",
            ));
        }
        if let Some(u) = &cfg.alertmanager_url {
            check_url(u).map_err(|e| FileError::at_offset(path, src, key_offset(src, "alertmanager_url", 0), e))?;
        }
        for (key, value) in [("theme", &cfg.theme), ("keymap", &cfg.keymap)] {
            if let Some(v) = value
                && let Err(why) = plain_name(v)
            {
                return Err(FileError::at_offset(path, src, key_offset(src, key, 0), format!("{key} `{v}`: {why}")));
            }
        }
        for (name, target) in &cfg.aliases {
            let one = std::collections::BTreeMap::from([(name.clone(), target.get_ref().clone())]);
            check_aliases(&one).map_err(|e| FileError::at_offset(path, src, target.span().start, e))?;
        }
        Ok(cfg)
    }

    /// The command-line aliases, without their positions.
    pub fn aliases(&self) -> std::collections::BTreeMap<String, String> {
        self.aliases.iter().map(|(k, v)| (k.clone(), v.get_ref().clone())).collect()
    }
}

/// Whether `name` can name a theme or keymap: letters, digits, `-`, `_` and `.` (not first), at most
/// 64; a path (`../x`) or a control character is refused.
pub fn plain_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("expected 1 to 64 characters".into());
    }
    if name.starts_with('.') || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err("expected a file's name in its directory (letters, digits, `-`, `_`, `.`), not a path".into());
    }
    Ok(())
}

/// The byte offset of the `n`th (0-based) line starting with `key` (`[[clusters]]`, `name = ...`), for
/// errors about what serde accepted; 0 when not found.
fn key_offset(src: &str, key: &str, n: usize) -> usize {
    let mut off = 0;
    let mut seen = 0;
    for line in src.split_inclusive('\n') {
        let t = line.trim_start();
        let hit =
            if key.starts_with('[') { t.starts_with(key) } else { t.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('=')) };
        if hit {
            if seen == n {
                return off + (line.len() - t.len());
            }
            seen += 1;
        }
        off += line.len();
    }
    0
}

/// The offset of `key`'s line inside the table that starts at `table` (up to the next table header);
/// `table` itself when the key is not there.
fn key_in_table(src: &str, table: usize, key: &str) -> usize {
    let mut off = table;
    for (i, line) in src[table..].split_inclusive('\n').enumerate() {
        let t = line.trim_start();
        if i > 0 && t.starts_with('[') {
            break;
        }
        if t.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('=')) {
            return off + (line.len() - t.len());
        }
        off += line.len();
    }
    table
}

/// Check the `[[clusters]]` entries: unique names of one word, exactly one of plan, kube_context
/// (alone) or demo, faults only with demo, well-formed Alertmanager URLs and matchers. A relative plan
/// is relative to the config file, `~/` is the home directory.
fn check_clusters(path: &Path, src: &str, cfg: &mut Config) -> Result<(), FileError> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut names = BTreeSet::new();
    for (i, c) in cfg.clusters.iter_mut().enumerate() {
        let at = key_offset(src, "[[clusters]]", i);
        c.line = crate::error::line_col(src, at).0;
        let err = |m: String| FileError::at_offset(path, src, at, m);
        let err_at = |key: &str, m: String| FileError::at_offset(path, src, key_in_table(src, at, key), m);
        let name = clip_word(&c.name);
        let word = |ch: char| ch.is_ascii_alphanumeric() || "-_.".contains(ch);
        if c.name.is_empty() || c.name.len() > 63 || !c.name.chars().all(word) {
            return Err(err(format!("cluster `{name}`: a name is one word of letters, digits, `-`, `_` and `.`, at most 63 characters")));
        }
        // (`prod` and `Prod` read as one cluster on a screen and in `:ctx`)
        if !names.insert(c.name.to_ascii_lowercase()) {
            return Err(err(format!("cluster `{name}` is named twice (names differing only in case are one name)")));
        }
        let kinds = [c.plan.is_some(), c.kube_context.is_some() && c.plan.is_none(), c.demo];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(err(format!(
                "cluster `{name}`: give exactly one of `plan = \"FILE\"`, `kube_context = \"CONTEXT\"` (without a plan) or `demo = true`"
            )));
        }
        let has_am = c.alertmanager_url.is_some() || cfg.alertmanager_url.is_some();
        if c.silence_operations && !has_am {
            return Err(err_at(
                "silence_operations",
                format!("cluster `{name}`: `silence_operations` needs an Alertmanager (alertmanager_url)"),
            ));
        }
        if c.alert_matchers.is_some() && !has_am {
            return Err(err_at("alert_matchers", format!("cluster `{name}`: `alert_matchers` need an Alertmanager (alertmanager_url)")));
        }
        if c.kube_context.as_deref().is_some_and(|k| k.trim().is_empty() || k.len() > 253 || k.chars().any(char::is_control)) {
            return Err(err_at("kube_context", format!("cluster `{name}`: `kube_context` is empty or not a context's name")));
        }
        if !c.faults.is_empty() && !c.demo {
            return Err(err_at("faults", format!("cluster `{name}`: `faults` go into the simulated cluster only (`demo = true`)")));
        }
        if let Some(p) = &c.plan {
            let s = p.to_string_lossy();
            if let Some(rest) = s.strip_prefix("~/") {
                let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
                c.plan = Some(home.join(rest));
            } else if p.is_relative() {
                c.plan = Some(dir.join(p));
            }
        }
        if let Some(u) = &c.alertmanager_url {
            check_url(u).map_err(|e| err_at("alertmanager_url", format!("cluster `{name}`: {e}")))?;
        }
        for m in c.alert_matchers.iter().flatten() {
            check_matcher(m).map_err(|e| err_at("alert_matchers", format!("cluster `{name}`: {e}")))?;
        }
    }
    Ok(())
}

/// An Alertmanager URL: `http://HOST[:PORT][/PREFIX]`.
pub fn check_url(u: &str) -> Result<(), String> {
    let Some(rest) = u.strip_prefix("http://") else {
        return Err(format!(
            "alertmanager_url `{}`: kockpit speaks plain http:// to Alertmanager (for https, a local proxy or an SSH tunnel)",
            clip_word(u)
        ));
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || u.len() > 512 || u.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("alertmanager_url `{}`: expected http://HOST[:PORT][/PATH]", clip_word(u)));
    }
    Ok(())
}

/// An Alertmanager matcher: `label="value"`, with `=`, `!=`, `=~` or `!~`.
pub fn check_matcher(m: &str) -> Result<(), String> {
    let name_len = m.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').count();
    let rest = &m[name_len..];
    let value = ["!=", "=~", "!~", "="].iter().find_map(|op| rest.strip_prefix(op));
    let ok = name_len > 0
        && !m.starts_with(|c: char| c.is_ascii_digit())
        && m.len() <= 256
        && !m.chars().any(char::is_control)
        && value.is_some_and(|v| v.len() >= 2 && v.starts_with('"') && v.ends_with('"'));
    if !ok {
        return Err(format!("alert matcher `{}`: expected label=\"value\" (or !=, =~, !~)", clip_word(m)));
    }
    // a regular expression's groups must balance (Alertmanager answers HTTP 400 otherwise): parentheses
    // outside character classes, escapes skipped; other brackets may stand for themselves (RE2)
    if rest.starts_with("=~") || rest.starts_with("!~") {
        let re: Vec<char> = rest[3..rest.len() - 1].chars().collect();
        let (mut depth, mut i, mut class) = (0i32, 0usize, false);
        while i < re.len() {
            match re[i] {
                '\\' => i += 1,
                '[' if !class => {
                    class = true;
                    // `[]...]` and `[^]...]`: the first `]` is a member
                    if re.get(i + 1) == Some(&'^') {
                        i += 1;
                    }
                    if re.get(i + 1) == Some(&']') {
                        i += 1;
                    }
                }
                ']' if class => class = false,
                '(' if !class => depth += 1,
                ')' if !class => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(format!("alert matcher `{}`: unbalanced `)` in the regular expression", clip_word(m)));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if depth > 0 {
            return Err(format!("alert matcher `{}`: unclosed `(` in the regular expression", clip_word(m)));
        }
        if class {
            return Err(format!("alert matcher `{}`: unclosed `[` in the regular expression", clip_word(m)));
        }
    }
    Ok(())
}

/// How the header shows the time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    Seconds,
    /// The default: an idle screen then writes ~50 bytes a minute (to the second: ~3 KB).
    #[default]
    Minutes,
    Off,
}

/// Every command of the `:` command line: its verb, its arguments and what it does (help, completion
/// and errors use this list; an alias in `[aliases]` must start with one).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("hosts", "", "focus and zoom the Hosts panel"),
    ("vip", "", "focus and zoom the VIP / keepalived panel"),
    ("haproxy", "", "focus and zoom the haproxy panel"),
    ("etcd", "", "focus and zoom the etcd panel"),
    ("leases", "", "focus and zoom the Leases panel"),
    ("certs", "", "focus and zoom the Certificates panel"),
    ("ceph", "", "focus and zoom the Ceph panel"),
    ("nodes", "", "focus and zoom the Nodes panel"),
    ("platform", "", "focus and zoom the Platform panel"),
    ("timeline", "", "focus and zoom the Timeline"),
    ("logs", "[HOST UNIT|HOST /PATH|pod NS/POD[/C]|deploy|ds|sts NS/NAME]", "open a log source (alone: the viewer)"),
    ("cordon", "NODE", "plan cordoning a node"),
    ("uncordon", "NODE", "plan uncordoning a node"),
    ("drain", "NODE", "plan draining a node (dry run first)"),
    ("failover", "LB [emergency]", "plan moving the VIP to a load balancer"),
    ("restore", "LB", "plan restoring a load balancer's keepalived (priority, and start it if stopped)"),
    ("renew", "MASTER|all", "plan renewing certificates on a master, or on all"),
    ("noout", "on|off", "plan setting or unsetting Ceph's noout flag"),
    ("move-leader", "MEMBER", "plan moving etcd's leadership to a member"),
    ("haproxy-drain", "SERVER", "plan taking an apiserver out of haproxy on every LB"),
    ("haproxy-ready", "SERVER", "plan putting an apiserver back in haproxy"),
    ("defrag", "", "plan a rolling etcd defrag, the leader last"),
    ("disarm", "", "plan disarming etcd's NOSPACE alarm"),
    ("snapshot", "FILE|HOST:/PATH", "plan an etcd snapshot into a file here, or on a host of the plan"),
    ("maintenance", "MASTER", "plan a master's maintenance (leader, haproxy, drain)"),
    ("maintenance-end", "MASTER", "plan the end of a master's maintenance"),
    ("ctx", "CLUSTER", "open another cluster of the fleet (config.toml's [[clusters]])"),
    ("theme", "NAME", "switch the theme"),
    ("export", "", "write the timeline to a file"),
    ("pause", "", "pause or resume the simulated cluster (demo)"),
    ("help", "", "show every key and command"),
    ("quit", "", "quit kockpit (q works too)"),
];

/// Check configured aliases: a name is one word that is not a verb, and what it stands for starts
/// with a verb.
pub fn check_aliases(aliases: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, target) in aliases {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if name.is_empty() || !name.chars().all(word) || name.len() > 32 {
            return Err(format!("alias `{}`: a name is one word of letters, digits, - and _, at most 32 characters", clip_word(name)));
        }
        if COMMANDS.iter().any(|(v, _, _)| v == name) {
            return Err(format!("alias `{name}`: `{name}` is a command already"));
        }
        if target.chars().count() > 256 || target.chars().any(char::is_control) {
            return Err(format!("alias `{name}`: what it stands for is one line of at most 256 characters"));
        }
        let first = target.split_whitespace().next().unwrap_or("");
        if let Err(e) = command_verb(first) {
            return Err(format!("alias `{name}`: `{}` does not start with a command ({e})", clip_word(target)));
        }
    }
    Ok(())
}

/// The command `word` names: itself, a few other names (`q`, `keepalived`, `certificates`), or the
/// one command it is the start of.
pub fn command_verb(word: &str) -> Result<&'static str, String> {
    if let Some((v, _, _)) = COMMANDS.iter().find(|(v, _, _)| *v == word) {
        return Ok(v);
    }
    let starts: Vec<&str> = COMMANDS.iter().map(|(v, _, _)| *v).filter(|v| !word.is_empty() && v.starts_with(word)).collect();
    match (starts.as_slice(), word) {
        (_, "q") => Ok("quit"),
        (_, "keepalived") => Ok("vip"),
        (_, "certificates") => Ok("certs"),
        ([one], _) => Ok(one),
        ([], _) => Err(format!("unknown command `{}` (Tab lists the commands, :help shows them)", clip_word(word))),
        (many, _) => Err(format!("`{}` could be {}", clip_word(word), many.join(", "))),
    }
}

/// A word for a message: at most 32 characters, a longer one cut with `…`, control characters (an
/// escape sequence typed or pasted) shown as `?`, never sent to a terminal.
pub fn clip_word(s: &str) -> String {
    let s: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    if s.chars().count() > 32 { format!("{}…", s.chars().take(31).collect::<String>()) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys_with_position() {
        let p = Path::new("/etc/kockpit/config.toml");
        let c = Config::parse(p, "theme = \"light\"\nplan = \"prod.toml\"\nreadonly = true\n").unwrap();
        assert_eq!(c.theme.as_deref(), Some("light"));
        assert_eq!(c.plan, Some(PathBuf::from("/etc/kockpit/prod.toml")));
        assert!(c.readonly);
        let e = Config::parse(p, "readonly = true\ntheme = \"../../x\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("theme `../../x`") && e.message.contains("not a path"), "{e}");
        let e = Config::parse(p, "theme = \"light\"\nthme = \"x\"\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("unknown key `thme`"), "{}", e.message);
        let e = Config::parse(p, "readonly = \"yes\"\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("expected a boolean") || e.message.contains("invalid type"), "{}", e.message);
    }

    #[test]
    fn the_clock_setting_takes_three_words() {
        let p = Path::new("/etc/kockpit/config.toml");
        assert_eq!(Config::parse(p, "").unwrap().clock, Clock::Minutes);
        assert_eq!(Config::parse(p, "clock = \"seconds\"\n").unwrap().clock, Clock::Seconds);
        assert_eq!(Config::parse(p, "clock = \"minutes\"\n").unwrap().clock, Clock::Minutes);
        assert_eq!(Config::parse(p, "clock = \"off\"\n").unwrap().clock, Clock::Off);
        let e = Config::parse(p, "theme = \"dark\"\nclock = \"hours\"\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("seconds") && e.message.contains("minutes") && e.message.contains("off"), "{}", e.message);
    }

    #[test]
    fn aliases_are_checked_with_their_line() {
        let p = Path::new("/etc/kockpit/config.toml");
        let c = Config::parse(p, "[aliases]\ndw2 = \"drain worker2\"\nn = \"nodes\"\n").unwrap();
        assert_eq!(c.aliases().get("dw2").map(String::as_str), Some("drain worker2"));
        let e = Config::parse(p, "[aliases]\nn = \"nodes\"\nx = \"reboot everything\"\n").unwrap_err();
        assert_eq!(e.line, 3, "{}", e.message);
        assert!(e.message.contains("does not start with a command"), "{}", e.message);
        assert!(Config::parse(p, "[aliases]\nx = \"dr worker1\"\n").is_ok(), "a command's start is a command");
        for bad in ["[aliases]\nn = \"nodes\\ndrain worker1\"\n", "[aliases]\n\"b\\u0007\" = \"nodes\"\n"] {
            let e = Config::parse(p, bad).unwrap_err();
            assert_eq!(e.line, 2, "{bad}: {}", e.message);
        }
        let huge = format!("[aliases]\nn = \"nodes {}\"\n", "x".repeat(300));
        assert!(Config::parse(p, &huge).unwrap_err().message.contains("at most 256"));
        let e = Config::parse(p, "[aliases]\ndrain = \"cordon\"\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("is a command already"), "{}", e.message);
    }

    #[test]
    fn clusters_are_checked_with_the_line_of_their_entry() {
        let p = Path::new("/etc/kockpit/config.toml");
        let ok = "alertmanager_url = \"http://127.0.0.1:9093\"\n\n[[clusters]]\nname = \"bj-prod\"\nplan = \"plans/bj.toml\"\nreadonly = true\n\n\
                  [[clusters]]\nname = \"sh-staging\"\nkube_context = \"sh\"\nalert_matchers = [\"env=~\\\"sh.*\\\"\"]\n\n\
                  [[clusters]]\nname = \"training\"\ndemo = true\nfaults = [\"split-brain\"]\n";
        let c = Config::parse(p, ok).unwrap();
        assert_eq!(c.clusters.len(), 3);
        assert_eq!(c.clusters[0].plan, Some(PathBuf::from("/etc/kockpit/plans/bj.toml")));
        assert!(c.clusters[0].readonly && !c.clusters[1].readonly);
        assert_eq!((c.clusters[0].line, c.clusters[1].line, c.clusters[2].line), (3, 8, 13));
        assert_eq!(c.clusters[0].matchers(), vec!["cluster=\"bj-prod\"".to_string()]);
        assert_eq!(c.clusters[1].matchers(), vec!["env=~\"sh.*\"".to_string()]);
        let cases = [
            ("[[clusters]]\nname = \"a\"\ndemo = true\n[[clusters]]\nname = \"a\"\ndemo = true\n", 4, "named twice"),
            ("[[clusters]]\nname = \"good\"\ndemo = true\n[[clusters]]\nname = \"Good\"\ndemo = true\n", 4, "differing only in case"),
            ("[[clusters]]\nname = \"a\"\n", 1, "exactly one of"),
            ("[[clusters]]\nname = \"a\"\ndemo = true\nplan = \"x.toml\"\n", 1, "exactly one of"),
            ("[[clusters]]\nname = \"a b\"\ndemo = true\n", 1, "one word"),
            ("[[clusters]]\nname = \"a\"\nkube_context = \"c\"\nfaults = [\"split-brain\"]\n", 4, "simulated cluster only"),
            ("[[clusters]]\nname = \"a\"\ndemo = true\nalertmanager_url = \"https://am\"\n", 4, "plain http://"),
            (
                "alertmanager_url = \"http://am\"\n[[clusters]]\nname = \"a\"\ndemo = true\nalert_matchers = [\"cluster\"]\n",
                5,
                "expected label=",
            ),
            (
                "alertmanager_url = \"http://am\"\n[[clusters]]\nname = \"a\"\ndemo = true\nalert_matchers = ['region=~\"sh.*((\"']\n",
                5,
                "unclosed `(`",
            ),
            (
                "alertmanager_url = \"http://am\"\n[[clusters]]\nname = \"a\"\ndemo = true\nalert_matchers = ['a=~\"x)\"']\n",
                5,
                "unbalanced",
            ),
            ("[[clusters]]\nname = \"a\"\ndemo = true\nalert_matchers = ['a=\"b\"']\n", 4, "need an Alertmanager"),
            ("silence_operations = true\n[[clusters]]\nname = \"a\"\ndemo = true\n", 1, "needs an Alertmanager"),
            ("[[clusters]]\nname = \"a\"\nkube_context = \"\"\n", 3, "is empty"),
            ("theme = \"dark\"\nalertmanager_url = \"ftp://x\"\n", 2, "plain http://"),
            ("[[clusters]]\nname = \"a\"\ndemo = true\nfualts = []\n", 4, "unknown key"),
        ];
        // what RE2 (Alertmanager's regexp) takes is taken: brackets in classes, literal `]`, `{`
        for ok in [r#"a=~"[(]""#, r#"a=~"[]a]""#, r#"a=~"[^]a]x""#, r#"a=~"x]""#, r#"a=~"x{2""#, r#"a=~"\(x""#, r#"a=~"(a|b)+""#] {
            assert!(check_matcher(ok).is_ok(), "{ok}: {:?}", check_matcher(ok));
        }
        for bad in [r#"a=~"(x""#, r#"a=~"x)""#, r#"a=~"[x""#] {
            assert!(check_matcher(bad).is_err(), "{bad}");
        }
        for (src, line, want) in cases {
            let e = Config::parse(p, src).unwrap_err();
            assert_eq!(e.line, line, "{src}: {}", e.message);
            assert!(e.message.contains(want), "{src}: {}", e.message);
        }
    }

    #[test]
    fn missing_file_is_empty_config() {
        assert_eq!(Config::load(Path::new("/nonexistent/kockpit/config.toml")).unwrap(), Config::default());
    }
}
