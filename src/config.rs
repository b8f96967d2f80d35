//! The user's configuration: where files live (XDG) and `config.toml`.

use std::collections::BTreeMap;
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
    fn missing_file_is_empty_config() {
        assert_eq!(Config::load(Path::new("/nonexistent/kockpit/config.toml")).unwrap(), Config::default());
    }
}
