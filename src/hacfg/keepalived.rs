//! keepalived.conf: the grammar (whitespace-separated words, `{ }` blocks, also glued to words as
//! in `vrrp_instance VI_1{`, comments from `#` or `!` at the start of a word to the end of the line,
//! double-quoted strings) and what kockpit needs from it: global_defs, vrrp_script, track_process,
//! vrrp_instance, vrrp_sync_group.
//!
//! Includes: [`includes_of`] lists a file's top-level `include` patterns; [`load_keepalived`] follows
//! them through a resolver the caller supplies (a glob on disk, or a command over SSH) and returns
//! every file in the order read, ready for [`parse_keepalived`], which skips `include` lines.
//!
//! The VRRP password (`auth_pass`) is read past and never kept: only the authentication type is.

use super::keepalived_syntax::{Node, spliced};
use super::{Invalid, Pos, Source, check_bounds};
use crate::error::FileError;

pub use super::keepalived_syntax::{MAX_NESTING, includes_of, load_keepalived};

/// Everything kockpit reads from one host's keepalived configuration (all its files).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct KeepalivedConf {
    pub router_id: Option<String>,
    pub enable_script_security: bool,
    pub script_user: Option<String>,
    pub notify_fifo: Option<String>,
    pub scripts: Vec<VrrpScript>,
    pub processes: Vec<TrackProcess>,
    /// `track_file NAME { file PATH; weight N }` (2.1 on; `vrrp_track_file` before).
    pub files_tracked: Vec<TrackFile>,
    pub instances: Vec<VrrpInstance>,
    pub sync_groups: Vec<SyncGroup>,
    /// Keywords and blocks kockpit does not read (virtual_server, static routes, unknown words).
    pub skipped: usize,
    /// Values keepalived does not take as written (priority 300, advert_int 0, ...).
    pub invalid: Vec<Invalid>,
    /// The files read, in order.
    pub files: Vec<String>,
}

impl KeepalivedConf {
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|i| i.name == name)
    }
    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }
    pub fn process(&self, name: &str) -> Option<&TrackProcess> {
        self.processes.iter().find(|p| p.name == name)
    }

    pub fn tracked_file(&self, name: &str) -> Option<&TrackFile> {
        self.files_tracked.iter().find(|f| f.name == name)
    }

    /// The instance that carries `vip` (else the one keepalived reports as `observed`, else the first).
    pub fn carrying(&self, vip: Option<&str>, observed: Option<&str>) -> Option<&VrrpInstance> {
        self.instances
            .iter()
            .find(|i| vip.is_some_and(|v| i.vips.iter().any(|x| x.address == v)))
            .or_else(|| observed.and_then(|o| self.instance(o)))
            .or(self.instances.first())
    }
}

/// `track_file NAME { file PATH; weight N [reverse] }`: the file holds a number, times the weight.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackFile {
    pub name: String,
    pub file: String,
    pub weight: i32,
    pub reverse: bool,
    pub at: Pos,
}

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VrrpScript {
    pub name: String,
    pub script: String,
    /// Seconds between runs (default 1).
    pub interval: f64,
    pub timeout: Option<f64>,
    /// Failed runs before the check counts as failed (default 1).
    pub fall: u32,
    pub rise: u32,
    /// Priority change (default 0: a failed check puts the instance in FAULT).
    pub weight: i32,
    /// `weight N reverse`: the adjustment runs the other way.
    pub reverse: bool,
    pub at: Pos,
}

impl VrrpScript {
    /// Seconds from the first failed run until keepalived acts: interval × fall.
    pub fn reaction_s(&self) -> f64 {
        self.interval * self.fall.max(1) as f64
    }
}

/// `track_process NAME { ... }` (keepalived 2.0 and later).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackProcess {
    pub name: String,
    pub process: String,
    pub weight: i32,
    pub reverse: bool,
    pub quorum: u32,
    /// Seconds before a lost process counts (default 0).
    pub delay: Option<f64>,
    pub at: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum VrrpState {
    Master,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum AuthType {
    Pass,
    Ah,
    Other(String),
}

/// One virtual address: the address (normalised when it parses) and its prefix length.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Vip {
    pub address: String,
    pub prefix: Option<u8>,
}

impl std::fmt::Display for Vip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.prefix {
            Some(p) => write!(f, "{}/{p}", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}

/// An entry of track_script, track_process, track_file or track_interface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tracked {
    pub name: String,
    /// `weight N` given here: overrides the script's or process's own.
    pub weight: Option<i32>,
    pub reverse: bool,
    /// Where it is named (the instance's `track_script` line).
    #[serde(skip)]
    pub at: Option<Pos>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Notify {
    pub notify: Option<String>,
    pub master: Option<String>,
    pub backup: Option<String>,
    pub fault: Option<String>,
    pub stop: Option<String>,
}

/// `vrrp_instance NAME { ... }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VrrpInstance {
    pub name: String,
    pub state: Option<VrrpState>,
    pub interface: Option<String>,
    pub virtual_router_id: Option<u8>,
    /// 1..=255 (default 100); 255 is the address owner.
    pub priority: u8,
    /// Seconds between advertisements (default 1; may be fractional).
    pub advert_int: f64,
    pub nopreempt: bool,
    pub preempt_delay: Option<f64>,
    pub unicast_src_ip: Option<String>,
    pub unicast_peers: Vec<String>,
    pub vips: Vec<Vip>,
    pub vips_excluded: Vec<Vip>,
    pub track_scripts: Vec<Tracked>,
    pub track_processes: Vec<Tracked>,
    pub track_files: Vec<Tracked>,
    pub track_interfaces: Vec<Tracked>,
    /// The authentication type only: the password is never kept.
    pub auth: Option<AuthType>,
    pub notify: Notify,
    pub at: Pos,
}

impl VrrpInstance {
    /// Whether keepalived keeps `nopreempt` as written: keepalived 2 clears it (and preempt_delay)
    /// on an instance with `state MASTER` ("nopreempt will not work with initial state MASTER -
    /// clearing") and on the address owner (priority 255).
    pub fn holds_back(&self) -> bool {
        self.nopreempt && self.state != Some(VrrpState::Master) && self.priority != 255
    }

    /// The preempt_delay keepalived uses (none where it clears it, as [`Self::holds_back`] says).
    pub fn delay(&self) -> Option<f64> {
        self.preempt_delay.filter(|_| self.state != Some(VrrpState::Master))
    }

    /// Its authentication in words (`auth PASS`, `no auth`); never the password, which is not kept.
    pub fn auth_text(&self) -> String {
        match &self.auth {
            Some(AuthType::Pass) => "auth PASS".to_string(),
            Some(AuthType::Ah) => "auth AH".to_string(),
            Some(AuthType::Other(o)) => format!("auth {o}"),
            None => "no auth".to_string(),
        }
    }

    fn new(name: String, at: Pos) -> Self {
        Self {
            name,
            state: None,
            interface: None,
            virtual_router_id: None,
            priority: 100,
            advert_int: 1.0,
            nopreempt: false,
            preempt_delay: None,
            unicast_src_ip: None,
            unicast_peers: vec![],
            vips: vec![],
            vips_excluded: vec![],
            track_scripts: vec![],
            track_processes: vec![],
            track_files: vec![],
            track_interfaces: vec![],
            auth: None,
            notify: Notify::default(),
            at,
        }
    }
}

/// `vrrp_sync_group NAME { group { VI_1 VI_2 } }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub instances: Vec<String>,
    pub at: Pos,
}

/// Parse a host's configuration: its files in the order read (see [`load_keepalived`]); an included
/// file's statements count where its `include` line stands, inside a block too. Unknown keywords and
/// blocks are counted in `skipped`; values keepalived does not take are in `invalid`, with where they
/// are written; unbalanced braces are errors with file and line.
pub fn parse_keepalived(sources: &[Source]) -> Result<KeepalivedConf, FileError> {
    check_bounds(sources)?;
    let mut conf = KeepalivedConf { files: sources.iter().map(|s| s.name.clone()).collect(), ..Default::default() };
    let mut next = 0;
    while next < sources.len() {
        for node in spliced(sources, &mut next)? {
            let at = node.pos();
            let name = node.arg(1).unwrap_or("").to_string();
            match (node.key(), node.block.is_some()) {
                ("include", _) => {}
                ("global_defs", true) => global_defs(&mut conf, &node),
                ("vrrp_script", true) => {
                    let s = vrrp_script(name, &node, at, &mut conf.invalid);
                    conf.scripts.push(s);
                }
                ("track_process", true) => {
                    let p = track_process(name, &node, at, &mut conf.invalid);
                    conf.processes.push(p);
                }
                ("track_file" | "vrrp_track_file", true) => {
                    let mut f = TrackFile { name, file: String::new(), weight: 1, reverse: false, at };
                    for c in node.children() {
                        match c.key() {
                            "file" => f.file = c.arg(1).unwrap_or("").to_string(),
                            "weight" => {
                                let (w, r) = weight_of(c, 1, &mut conf.invalid);
                                f.weight = w.unwrap_or(f.weight);
                                f.reverse = r;
                            }
                            _ => {}
                        }
                    }
                    conf.files_tracked.push(f);
                }
                ("vrrp_instance", true) => {
                    let i = vrrp_instance(name, &node, at, &mut conf.skipped, &mut conf.invalid);
                    conf.instances.push(i);
                }
                ("vrrp_sync_group", true) => {
                    let mut instances = vec![];
                    for c in node.children().iter().filter(|c| c.key() == "group") {
                        instances.extend(c.children().iter().flat_map(|g| g.words.iter().map(|w| w.text.clone())));
                        instances.extend(c.words.iter().skip(1).map(|w| w.text.clone()));
                    }
                    conf.sync_groups.push(SyncGroup { name, instances, at });
                }
                _ => conf.skipped += 1,
            }
        }
    }
    Ok(conf)
}

fn global_defs(conf: &mut KeepalivedConf, node: &Node) {
    for c in node.children() {
        let arg = c.arg(1).map(str::to_string);
        match c.key() {
            "router_id" => conf.router_id = arg,
            "enable_script_security" => conf.enable_script_security = true,
            "script_user" => conf.script_user = arg,
            "notify_fifo" => conf.notify_fifo = arg,
            _ => {}
        }
    }
}

/// `is outside 1..255` for a number, `is not a whole number in 1..255` for anything else.
fn outside(arg: Option<&str>, range: &str) -> String {
    if arg.and_then(|a| a.parse::<i64>().ok()).is_some() {
        format!("is outside {range}")
    } else {
        format!("is not a whole number in {range}")
    }
}

fn num<T: std::str::FromStr>(s: Option<&str>) -> Option<T> {
    s.and_then(|s| s.parse().ok())
}

/// Seconds: a finite, non-negative number no larger than a day.
fn seconds(s: Option<&str>) -> Option<f64> {
    num::<f64>(s).filter(|v| v.is_finite() && (0.0..=86_400.0).contains(v))
}

/// Record a value keepalived does not take as written: `keyword` on `node`'s line (its first word
/// after the keyword, or the word at `word`).
fn invalid(out: &mut Vec<Invalid>, node: &Node, word: usize, effect: String, fatal: bool) {
    let keyword = node.key().to_string();
    let value = node.arg(word).unwrap_or("(nothing)").chars().take(40).collect();
    out.push(Invalid { at: node.pos(), keyword, value, effect, fatal });
}

/// `weight N [reverse]` from the words after the keyword. A weight outside -253..253 is a
/// configuration error to keepalived; kockpit counts it at the nearest end of the range.
fn weight_of(node: &Node, first: usize, bad: &mut Vec<Invalid>) -> (Option<i32>, bool) {
    let w = node.arg(first).and_then(|w| w.parse::<i64>().ok());
    if let Some(v) = w.filter(|v| !(-253..=253).contains(v)) {
        let clamped = v.clamp(-253, 253);
        invalid(
            bad,
            node,
            first,
            format!("is outside -253..253: keepalived reports a configuration error (kockpit counts it as {clamped})"),
            false,
        );
    } else if w.is_none() && node.arg(first).is_some() {
        invalid(bad, node, first, "is not a whole number: keepalived reports a configuration error".into(), false);
    }
    (w.map(|w| w.clamp(-253, 253) as i32), node.arg(first + 1) == Some("reverse"))
}

/// `fall` or `rise`: a whole number of at least 1, else keepalived uses 1.
fn count_of(node: &Node, bad: &mut Vec<Invalid>) -> u32 {
    match num::<u32>(node.arg(1)).filter(|v| *v > 0) {
        Some(v) => v,
        None => {
            invalid(bad, node, 1, "must be a whole number of at least 1: keepalived uses 1".into(), false);
            1
        }
    }
}

fn vrrp_script(name: String, node: &Node, at: Pos, bad: &mut Vec<Invalid>) -> VrrpScript {
    let mut s = VrrpScript { name, script: String::new(), interval: 1.0, timeout: None, fall: 1, rise: 1, weight: 0, reverse: false, at };
    for c in node.children() {
        match c.key() {
            "script" => s.script = c.words.iter().skip(1).map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
            "interval" => match seconds(c.arg(1)).filter(|v| *v > 0.0) {
                Some(v) => s.interval = v,
                None => invalid(bad, c, 1, "must be above 0 seconds: keepalived runs the script every 1 s".into(), false),
            },
            "timeout" => s.timeout = seconds(c.arg(1)),
            "fall" => s.fall = count_of(c, bad),
            "rise" => s.rise = count_of(c, bad),
            "weight" => {
                let (w, r) = weight_of(c, 1, bad);
                s.weight = w.unwrap_or(s.weight);
                s.reverse = r;
            }
            _ => {}
        }
    }
    s
}

fn track_process(name: String, node: &Node, at: Pos, bad: &mut Vec<Invalid>) -> TrackProcess {
    let mut p = TrackProcess { name, process: String::new(), weight: 0, reverse: false, quorum: 1, delay: None, at };
    for c in node.children() {
        match c.key() {
            "process" => p.process = c.words.iter().skip(1).map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
            "weight" => {
                let (w, r) = weight_of(c, 1, bad);
                p.weight = w.unwrap_or(p.weight);
                p.reverse = r;
            }
            "quorum" => p.quorum = num(c.arg(1)).unwrap_or(p.quorum),
            "delay" => p.delay = seconds(c.arg(1)),
            _ => {}
        }
    }
    p
}

fn vip_of(word: &str) -> Vip {
    let (addr, prefix) = match word.split_once('/') {
        Some((a, p)) => (a, p.parse::<u8>().ok().filter(|p| *p <= 128)),
        None => (word, None),
    };
    let address = addr.parse::<std::net::IpAddr>().map(|a| a.to_string()).unwrap_or_else(|_| addr.to_string());
    Vip { address, prefix }
}

/// The entries of a track_* keyword: its block's lines (`NAME [weight N [reverse]]`), or the names
/// on its own line (the older one-line form).
fn tracked(node: &Node, bad: &mut Vec<Invalid>) -> Vec<Tracked> {
    let mut out = vec![];
    let named = |name: &str, weight, reverse, at: Pos| Tracked { name: name.to_string(), weight, reverse, at: Some(at) };
    for c in node.children() {
        let Some(name) = c.arg(0) else { continue };
        let (weight, reverse) = match c.arg(1) {
            Some("weight") => weight_of(c, 2, bad),
            _ => (None, false),
        };
        if c.arg(1).is_some_and(|w| w != "weight") {
            // several names on one line
            out.extend(c.words.iter().map(|w| named(&w.text, None, false, c.pos())));
        } else {
            out.push(named(name, weight, reverse, c.pos()));
        }
    }
    if node.block.is_none() {
        out.extend(node.words.iter().skip(1).map(|w| named(&w.text, None, false, node.pos())));
    }
    out
}

fn addresses(node: &Node) -> Vec<Vip> {
    // each line is one address with its options (`dev eth0 label eth0:1`); a one-line block may list several
    node.children()
        .iter()
        .flat_map(|c| {
            let all_addrs = c.words.iter().all(|w| w.text.split('/').next().is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok()));
            let n = if all_addrs { c.words.len() } else { 1 };
            c.words.iter().take(n).map(|w| vip_of(&w.text)).collect::<Vec<_>>()
        })
        .collect()
}

fn vrrp_instance(name: String, node: &Node, at: Pos, skipped: &mut usize, bad: &mut Vec<Invalid>) -> VrrpInstance {
    let mut i = VrrpInstance::new(name, at);
    for c in node.children() {
        let arg = c.arg(1);
        match c.key() {
            "state" => {
                i.state = match arg.map(str::to_ascii_uppercase).as_deref() {
                    Some("MASTER") => Some(VrrpState::Master),
                    Some("BACKUP") => Some(VrrpState::Backup),
                    _ => None,
                }
            }
            "interface" => i.interface = arg.map(str::to_string),
            "virtual_router_id" => {
                i.virtual_router_id = num::<u8>(arg).filter(|v| *v > 0);
                if i.virtual_router_id.is_none() {
                    let effect = format!("{}: keepalived refuses the instance (no router id: it does not start)", outside(arg, "1..255"));
                    invalid(bad, c, 1, effect, true);
                }
            }
            "priority" => match num::<u8>(arg).filter(|v| *v > 0) {
                Some(p) => i.priority = p,
                None => {
                    // keepalived 2.x: "Priority not valid! must be between 1 & 255. Using default 100"
                    i.priority = 100;
                    invalid(bad, c, 1, format!("{}: keepalived ignores it and uses the default 100", outside(arg, "1..255")), false);
                }
            },
            "advert_int" => match seconds(arg).filter(|v| *v > 0.0) {
                Some(v) => i.advert_int = v,
                None => invalid(
                    bad,
                    c,
                    1,
                    format!("must be above 0 seconds: keepalived ignores it and advertises every {}", super::secs(i.advert_int)),
                    false,
                ),
            },
            "nopreempt" => i.nopreempt = true,
            "preempt" => i.nopreempt = false,
            "preempt_delay" => i.preempt_delay = seconds(arg),
            "unicast_src_ip" => i.unicast_src_ip = arg.map(str::to_string),
            "unicast_peer" => {
                let words = c.children().iter().flat_map(|p| p.words.iter());
                i.unicast_peers.extend(words.filter(|w| w.text.parse::<std::net::IpAddr>().is_ok()).map(|w| w.text.clone()));
            }
            "virtual_ipaddress" => i.vips.extend(addresses(c)),
            "virtual_ipaddress_excluded" => i.vips_excluded.extend(addresses(c)),
            "track_script" => i.track_scripts.extend(tracked(c, bad)),
            "track_process" => i.track_processes.extend(tracked(c, bad)),
            "track_file" => i.track_files.extend(tracked(c, bad)),
            "track_interface" => i.track_interfaces.extend(tracked(c, bad)),
            "authentication" => {
                // auth_pass is read past here and goes nowhere
                for a in c.children().iter().filter(|a| a.key() == "auth_type") {
                    i.auth = match a.arg(1).map(str::to_ascii_uppercase).as_deref() {
                        Some("PASS") => Some(AuthType::Pass),
                        Some("AH") => Some(AuthType::Ah),
                        Some(o) => Some(AuthType::Other(o.chars().take(16).collect())),
                        None => None,
                    };
                }
            }
            "notify" => i.notify.notify = arg.map(str::to_string),
            "notify_master" => i.notify.master = arg.map(str::to_string),
            "notify_backup" => i.notify.backup = arg.map(str::to_string),
            "notify_fault" => i.notify.fault = arg.map(str::to_string),
            "notify_stop" => i.notify.stop = arg.map(str::to_string),
            "garp_master_delay" | "garp_master_refresh" | "dont_track_primary" | "smtp_alert" | "version" | "use_vmac" => {}
            _ => *skipped += 1,
        }
    }
    i
}
