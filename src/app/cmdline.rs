//! The `:` command line, as in k9s: a verb and its arguments, completed with Tab from what the
//! cluster has. Commands go the way keys go: a panel is focused and zoomed, a log source opened, an
//! operation planned through the one planner and shown for confirmation; nothing is carried out
//! from here directly.

use std::collections::BTreeMap;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::logs::spec::LogSpec;
use crate::ops::ServerAdmin;

/// The longest line the command line takes (a paste of garbage stays bounded).
pub const MAX_LEN: usize = 256;
/// Commands remembered for Up/Down in one session.
const HISTORY: usize = 50;

use crate::config::clip_word as clip;
use crate::config::command_verb as verb;
pub use crate::config::{COMMANDS as VERBS, check_aliases};

/// The command line's state while it is open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandLine {
    pub text: String,
    /// What Tab offered, or why the last command was not run (then `error` is true).
    pub hint: Option<String>,
    pub error: bool,
    /// Position in the history while Up/Down walk it.
    history_at: Option<usize>,
    /// What was typed before Up began the walk: Down past the newest brings it back.
    draft: Option<String>,
    /// The cursor, in characters from the start; `None` is the end (where typing goes by default).
    cursor: Option<usize>,
}

impl CommandLine {
    /// The cursor's position in characters (the end when it was never moved).
    pub fn cursor(&self) -> usize {
        let n = self.text.chars().count();
        self.cursor.unwrap_or(n).min(n)
    }
    fn byte(&self, chars: usize) -> usize {
        self.text.char_indices().nth(chars).map_or(self.text.len(), |(i, _)| i)
    }
    fn set_cursor(&mut self, at: usize) {
        self.cursor = (at < self.text.chars().count()).then_some(at);
    }
    /// Put `s` at the cursor, as much as the line's limit allows; whether some was left out.
    pub fn insert(&mut self, s: &str) -> bool {
        let room = MAX_LEN.saturating_sub(self.text.chars().count());
        let put: String = s.chars().take(room).collect();
        let at = self.cursor();
        let b = self.byte(at);
        self.text.insert_str(b, &put);
        self.set_cursor(at + put.chars().count());
        s.chars().count() > room
    }
    /// Replace the whole line; the cursor goes to its end.
    pub fn set(&mut self, text: String) {
        self.text = text;
        self.cursor = None;
    }
    fn remove(&mut self, from: usize, to: usize) {
        let (a, b) = (self.byte(from), self.byte(to));
        self.text.replace_range(a..b, "");
        self.set_cursor(from);
    }
}

/// A command, parsed and checked against nothing but its own grammar.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Panel(PanelId),
    LogViewer,
    Logs(LogSpec),
    Cordon(String),
    Uncordon(String),
    Drain(String),
    Failover(String, FailoverMode),
    Restore(String),
    Renew(Option<String>),
    Noout(bool),
    MoveLeader(String),
    HaproxyServer(String, ServerAdmin),
    Defrag,
    Disarm,
    Snapshot(String),
    Maintenance(String, bool),
    Theme(String),
    /// Open another cluster of the fleet.
    Ctx(String),
    Export,
    Pause,
    Help,
    Quit,
}

/// The names commands take, from the plan and what was observed.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub nodes: Vec<String>,
    pub lbs: Vec<String>,
    pub masters: Vec<String>,
    /// etcd's members, as etcd lists them (else the plan's etcd hosts).
    pub members: Vec<String>,
    pub hosts: Vec<String>,
    pub themes: Vec<String>,
    /// `NS/NAME` of each workload, with its kind's short name.
    pub workloads: Vec<(String, String)>,
    /// `NS/POD` of the pods known by name (the control plane's static pods).
    pub pods: Vec<String>,
    /// The units worth offering on each host.
    pub units: BTreeMap<String, Vec<&'static str>>,
    /// haproxy's servers by the names the LBs give them, and the masters (a server is also named by
    /// the plan host at its address).
    pub servers: Vec<String>,
    /// The clusters of the fleet (none when kockpit watches one cluster).
    pub clusters: Vec<String>,
}

/// Replace a configured alias (the first word) by what it stands for; one level, never recursive.
pub fn expand(line: &str, aliases: &BTreeMap<String, String>) -> String {
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else { return String::new() };
    let rest: Vec<&str> = words.collect();
    let head = aliases.get(first).map(String::as_str).unwrap_or(first);
    std::iter::once(head).chain(rest).collect::<Vec<_>>().join(" ")
}

/// Parse a line (aliases already expanded).
pub fn parse(line: &str) -> Result<Parsed, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&first, args)) = words.split_first() else { return Err("type a command (Tab lists them)".into()) };
    let v = verb(first)?;
    let usage = VERBS.iter().find(|(n, _, _)| *n == v).map(|(_, u, _)| *u).unwrap_or("");
    let wrong = || format!("usage: {v} {usage}").trim_end().to_string();
    let one = || match args {
        [a] => Ok(a.to_string()),
        _ => Err(wrong()),
    };
    let none = |p: Parsed| if args.is_empty() { Ok(p) } else { Err(wrong()) };
    if let Some(p) = PanelId::ALL.into_iter().find(|p| panel_word(*p) == v) {
        return none(Parsed::Panel(p));
    }
    match v {
        "logs" => match args {
            [] => Ok(Parsed::LogViewer),
            ["pod", p] => LogSpec::parse_pod(p, false).map(Parsed::Logs),
            [kind @ ("deploy" | "ds" | "sts"), w] => LogSpec::parse_pod(&format!("{kind}/{w}"), false).map(Parsed::Logs),
            [host, what] => LogSpec::parse_host(&format!("{host}:{what}")).map(Parsed::Logs),
            _ => Err(wrong()),
        },
        "cordon" => one().map(Parsed::Cordon),
        "uncordon" => one().map(Parsed::Uncordon),
        "drain" => one().map(Parsed::Drain),
        "failover" => match args {
            [lb] => Ok(Parsed::Failover(lb.to_string(), FailoverMode::Graceful)),
            [lb, "emergency"] => Ok(Parsed::Failover(lb.to_string(), FailoverMode::Emergency)),
            _ => Err(wrong()),
        },
        "restore" => one().map(Parsed::Restore),
        "renew" => one().map(|m| Parsed::Renew((m != "all").then_some(m))),
        "noout" => match args {
            ["on"] => Ok(Parsed::Noout(true)),
            ["off"] => Ok(Parsed::Noout(false)),
            _ => Err(wrong()),
        },
        "move-leader" => one().map(Parsed::MoveLeader),
        "haproxy-drain" => one().map(|s| Parsed::HaproxyServer(s, ServerAdmin::Drain)),
        "haproxy-ready" => one().map(|s| Parsed::HaproxyServer(s, ServerAdmin::Ready)),
        "defrag" => none(Parsed::Defrag),
        "disarm" => none(Parsed::Disarm),
        "snapshot" => one().map(Parsed::Snapshot),
        "maintenance" => one().map(|h| Parsed::Maintenance(h, false)),
        "maintenance-end" => one().map(|h| Parsed::Maintenance(h, true)),
        "theme" => one().map(Parsed::Theme),
        "ctx" => one().map(Parsed::Ctx),
        "export" => none(Parsed::Export),
        "pause" => none(Parsed::Pause),
        "help" => none(Parsed::Help),
        _ => none(Parsed::Quit),
    }
}

/// The verb of a panel.
pub fn panel_word(p: PanelId) -> &'static str {
    match p {
        PanelId::Hosts => "hosts",
        PanelId::Vip => "vip",
        PanelId::Haproxy => "haproxy",
        PanelId::Etcd => "etcd",
        PanelId::Leases => "leases",
        PanelId::Certs => "certs",
        PanelId::Ceph => "ceph",
        PanelId::Nodes => "nodes",
        PanelId::Platform => "platform",
        PanelId::Timeline => "timeline",
    }
}

/// Complete the word under the cursor (the line's end): the new line and what is offered, when more
/// than one thing fits.
pub fn complete(line: &str, names: &Names, aliases: &BTreeMap<String, String>) -> (String, Vec<String>) {
    let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
    if line.is_empty() || line.ends_with(' ') {
        words.push(String::new());
    }
    let cur = words.pop().unwrap_or_default();
    let offered: Vec<String> = if words.is_empty() {
        let mut v: Vec<String> = VERBS.iter().map(|(v, _, _)| v.to_string()).collect();
        v.extend(aliases.keys().cloned());
        v
    } else {
        let expanded = expand(&words.join(" "), aliases);
        let prior: Vec<&str> = expanded.split_whitespace().collect();
        let Ok(v) = verb(prior[0]) else { return (line.to_string(), vec![]) };
        candidates(v, &prior[1..], names)
    };
    let mut fits: Vec<String> = offered.into_iter().filter(|c| c.starts_with(&cur)).collect();
    fits.sort();
    fits.dedup();
    let head = if words.is_empty() { String::new() } else { format!("{} ", words.join(" ")) };
    match fits.as_slice() {
        [] => (line.to_string(), vec![]),
        [one] => (format!("{head}{one} "), vec![]),
        many => {
            let common = many
                .iter()
                .skip(1)
                .fold(many[0].clone(), |acc, c| acc.chars().zip(c.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect());
            let text = if common.len() > cur.len() { format!("{head}{common}") } else { line.to_string() };
            (text, fits)
        }
    }
}

/// What fits after `verb args`.
fn candidates(verb: &str, args: &[&str], n: &Names) -> Vec<String> {
    let list = |v: &[String]| v.to_vec();
    match (verb, args) {
        ("cordon" | "uncordon" | "drain", []) => list(&n.nodes),
        ("failover" | "restore", []) => list(&n.lbs),
        ("failover", [_]) => vec!["emergency".into()],
        ("renew", []) => n.masters.iter().cloned().chain(["all".to_string()]).collect(),
        ("noout", []) => vec!["on".into(), "off".into()],
        ("move-leader", []) => list(&n.members),
        ("haproxy-drain" | "haproxy-ready", []) => list(&n.servers),
        ("maintenance" | "maintenance-end", []) => list(&n.masters),
        ("theme", []) => list(&n.themes),
        ("ctx", []) => list(&n.clusters),
        ("logs", []) => n.hosts.iter().cloned().chain(["pod", "deploy", "ds", "sts"].map(String::from)).collect(),
        ("logs", ["pod"]) => list(&n.pods),
        ("logs", [kind @ ("deploy" | "ds" | "sts")]) => n.workloads.iter().filter(|(k, _)| k == kind).map(|(_, w)| w.clone()).collect(),
        ("logs", [host]) => n.units.get(*host).map(|u| u.iter().map(|s| s.to_string()).collect()).unwrap_or_default(),
        _ => vec![],
    }
}

impl App {
    /// Open the command line (from the main screen).
    pub(super) fn open_command_line(&mut self) {
        self.view.command = Some(CommandLine::default());
    }

    /// The names commands complete from.
    pub fn command_names(&self) -> Names {
        let m = &self.model;
        let nodes = match &m.nodes.data {
            Some(ns) => ns.iter().map(|n| n.name.clone()).collect(),
            None => m.plan.hosts.iter().filter(|h| h.roles.master || h.roles.worker).map(|h| h.name.clone()).collect(),
        };
        let mut lbs: Vec<String> = m.vrrp.keys().cloned().collect();
        for h in m.plan.keepalived_hosts() {
            if !lbs.contains(&h.name) {
                lbs.push(h.name.clone());
            }
        }
        let workloads =
            m.workloads.data.iter().flatten().map(|w| (w.kind.short().to_string(), format!("{}/{}", w.namespace, w.name))).collect();
        let pods = m
            .control_plane
            .data
            .iter()
            .flat_map(|cp| cp.etcd.iter().chain(&cp.apiservers))
            .map(|p| format!("kube-system/{}", p.name))
            .collect();
        Names {
            nodes,
            lbs,
            masters: m.plan.masters().map(|h| h.name.clone()).collect(),
            members: match &m.etcd.data {
                Some(e) => e.members.iter().map(|x| x.name.clone()).collect(),
                None => m.plan.etcd_hosts().map(|h| h.name.clone()).collect(),
            },
            hosts: m.plan.hosts.iter().map(|h| h.name.clone()).collect(),
            themes: self.themes.iter().map(|t| t.name.clone()).collect(),
            clusters: self.fleet_names.clone(),
            workloads,
            pods,
            units: m.plan.hosts.iter().map(|h| h.name.clone()).zip(self.units_by_host()).collect(),
            servers: {
                let mut s: Vec<String> = m.haproxy.values().flat_map(|v| v.data.iter().flatten()).map(|b| b.server.clone()).collect();
                s.extend(m.plan.masters().map(|h| h.name.clone()));
                s.sort();
                s.dedup();
                s
            },
        }
    }

    /// Keys while the command line is open: text, Tab completes, Up/Down recall, Enter runs, Esc closes.
    pub(super) fn command_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let Some(mut cl) = self.view.command.take() else { return vec![] };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return vec![],
            KeyCode::Char('c' | 'g') if ctrl => return vec![],
            // readline's editing keys: the cursor moves, text goes in and out where it is
            KeyCode::Left | KeyCode::Char('b') if key.code == KeyCode::Left || ctrl => cl.set_cursor(cl.cursor().saturating_sub(1)),
            KeyCode::Right | KeyCode::Char('f') if key.code == KeyCode::Right || ctrl => cl.set_cursor(cl.cursor() + 1),
            KeyCode::Home | KeyCode::Char('a') if key.code == KeyCode::Home || ctrl => cl.set_cursor(0),
            KeyCode::End | KeyCode::Char('e') if key.code == KeyCode::End || ctrl => cl.cursor = None,
            KeyCode::Char('u') if ctrl => cl.remove(0, cl.cursor()),
            KeyCode::Char('k') if ctrl => {
                let at = cl.cursor();
                let n = cl.text.chars().count();
                cl.remove(at, n);
            }
            KeyCode::Char('w') if ctrl => {
                let at = cl.cursor();
                let before: Vec<char> = cl.text.chars().take(at).collect();
                let mut from = at;
                while from > 0 && before[from - 1] == ' ' {
                    from -= 1;
                }
                while from > 0 && before[from - 1] != ' ' {
                    from -= 1;
                }
                cl.remove(from, at);
            }
            KeyCode::Backspace => {
                if cl.text.is_empty() {
                    return vec![];
                }
                let at = cl.cursor();
                if at > 0 {
                    cl.remove(at - 1, at);
                }
            }
            KeyCode::Delete | KeyCode::Char('d') if key.code == KeyCode::Delete || ctrl => {
                let at = cl.cursor();
                if at < cl.text.chars().count() {
                    cl.remove(at, at + 1);
                }
            }
            KeyCode::Tab => {
                let (text, offered) = complete(&cl.text, &self.command_names(), &self.aliases);
                cl.set(text);
                cl.error = false;
                cl.hint = (!offered.is_empty()).then(|| offered.join("  "));
                self.view.command = Some(cl);
                return vec![];
            }
            KeyCode::Up | KeyCode::Down => {
                let n = self.command_history.len();
                if n > 0 {
                    let at = match (cl.history_at, key.code) {
                        (None, KeyCode::Up) => Some(n - 1),
                        (None, _) => None,
                        (Some(i), KeyCode::Up) => Some(i.saturating_sub(1)),
                        (Some(i), _) => (i + 1 < n).then_some(i + 1),
                    };
                    // the line being typed is kept while the history is walked, and comes back
                    if cl.history_at.is_none() && at.is_some() {
                        cl.draft = Some(cl.text.clone());
                    }
                    let walked = cl.history_at.is_some() || at.is_some();
                    cl.history_at = at;
                    if walked {
                        let text = match at {
                            Some(i) => self.command_history[i].clone(),
                            None => cl.draft.take().unwrap_or_default(),
                        };
                        cl.set(text);
                    }
                }
            }
            KeyCode::Enter => {
                let line = cl.text.trim().to_string();
                if line.is_empty() {
                    return vec![];
                }
                self.command_history.retain(|h| *h != line);
                self.command_history.push(line.clone());
                if self.command_history.len() > HISTORY {
                    self.command_history.remove(0);
                }
                return match self.run_command(&line) {
                    Ok(cmds) => cmds,
                    Err(e) => {
                        cl.hint = Some(e);
                        cl.error = true;
                        self.view.command = Some(cl);
                        vec![]
                    }
                };
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                let cut = cl.insert(c.encode_utf8(&mut [0; 4]));
                if cut {
                    // typed (or pasted as keys) past the limit: said, not silently dropped
                    cl.hint = Some(format!("the command line holds at most {MAX_LEN} characters: the rest was left out"));
                    cl.error = true;
                    self.view.command = Some(cl);
                    return vec![];
                }
            }
            _ => {}
        }
        cl.hint = None;
        cl.error = false;
        self.view.command = Some(cl);
        vec![]
    }

    /// The operation a command line asks for (`drain worker2`, `failover lb2 emergency`), its names
    /// checked against the cluster: what `kockpit run` plans, as the command line would.
    pub fn operation(&self, line: &str) -> Result<OpRequest, String> {
        self.request_of(parse(&expand(line, &self.aliases))?, &self.command_names())
    }

    fn request_of(&self, parsed: Parsed, names: &Names) -> Result<OpRequest, String> {
        Ok(match parsed {
            Parsed::Cordon(n) => OpRequest::Cordon { node: known("node", &n, &names.nodes)? },
            Parsed::Uncordon(n) => OpRequest::Uncordon { node: known("node", &n, &names.nodes)? },
            Parsed::Drain(n) => OpRequest::Drain { node: known("node", &n, &names.nodes)?, options: Default::default() },
            Parsed::Failover(lb, mode) => OpRequest::VipFailover { to: known("load balancer", &lb, &names.lbs)?, mode },
            Parsed::Restore(lb) => OpRequest::RestoreVipPriority { lb: known("load balancer", &lb, &names.lbs)? },
            Parsed::Renew(m) => OpRequest::RenewCerts {
                masters: match m {
                    Some(m) => vec![known("master", &m, &names.masters)?],
                    None => names.masters.clone(),
                },
            },
            Parsed::Noout(on) => OpRequest::SetNoout { on },
            Parsed::MoveLeader(to) => OpRequest::EtcdMoveLeader { to: known("etcd member", &to, &names.members)? },
            Parsed::HaproxyServer(s, admin) => OpRequest::HaproxyServer { server: known("haproxy server", &s, &names.servers)?, admin },
            Parsed::Defrag => OpRequest::EtcdDefrag,
            Parsed::Disarm => OpRequest::EtcdDisarm,
            Parsed::Snapshot(to) => OpRequest::EtcdSnapshot { to },
            Parsed::Maintenance(h, end) => OpRequest::Maintenance { host: known("master", &h, &names.masters)?, end, parts: vec![] },
            other => return Err(format!("not an operation: {other:?}")),
        })
    }

    /// Run one command line: Err says why nothing was done.
    pub fn run_command(&mut self, line: &str) -> Result<Vec<Command>, String> {
        let expanded = expand(line, &self.aliases);
        let parsed = parse(&expanded)?;
        let names = self.command_names();
        Ok(match parsed {
            Parsed::Panel(p) => {
                self.view.focus = p;
                self.view.zoom = Some(p);
                vec![]
            }
            Parsed::LogViewer => self.act(Action::Logs),
            Parsed::Logs(spec) => {
                if let Some(h) = spec.host() {
                    known("host", h, &names.hosts)?;
                }
                self.view.dialog = Dialog::Logs;
                self.open_log_source(spec)
            }
            p @ (Parsed::Cordon(_)
            | Parsed::Uncordon(_)
            | Parsed::Drain(_)
            | Parsed::Failover(..)
            | Parsed::Restore(_)
            | Parsed::Renew(_)
            | Parsed::Noout(_)
            | Parsed::MoveLeader(_)
            | Parsed::HaproxyServer(..)
            | Parsed::Defrag
            | Parsed::Disarm
            | Parsed::Snapshot(_)
            | Parsed::Maintenance(..)) => self.propose(self.request_of(p, &names)?),
            Parsed::Theme(name) => {
                let name = known("theme", &name, &names.themes)?;
                if let Some(t) = self.themes.iter().find(|t| t.name == name) {
                    self.theme = t.clone();
                    self.say(Severity::Info, format!("theme: {name}"));
                }
                vec![]
            }
            Parsed::Ctx(_) if names.clusters.is_empty() => {
                return Err("ctx: this kockpit watches one cluster (a fleet is config.toml's [[clusters]])".into());
            }
            Parsed::Ctx(name) => {
                self.switch_to = Some(known("cluster", &name, &names.clusters)?);
                vec![]
            }
            Parsed::Export => self.act(Action::ExportTimeline),
            Parsed::Pause if !self.supports_faults => return Err("pause: only the simulated cluster can be paused".into()),
            Parsed::Pause => self.act(Action::Pause),
            Parsed::Help => self.act(Action::Help),
            Parsed::Quit => self.act(Action::Quit),
        })
    }
}

/// `name` when `list` has it, else why not, with what there is: `no node `x` (worker1, worker2, ...)`.
fn known(what: &str, name: &str, list: &[String]) -> Result<String, String> {
    if list.iter().any(|n| n == name) {
        return Ok(name.to_string());
    }
    if list.is_empty() {
        return Err(format!("no {what} is known yet"));
    }
    let some = if list.len() <= 8 { list.join(", ") } else { format!("{}, ... ({} in all)", list[..6].join(", "), list.len()) };
    Err(format!("no {what} `{}` ({some})", clip(name)))
}

#[cfg(test)]
mod tests;
