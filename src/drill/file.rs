//! The drill file format (TOML), read with positioned errors.
//!
//! ```toml
//! name = "VIP owner loss"
//! description = "keepalived dies on the owner; the peer takes the VIP, clients keep working"
//!
//! [[steps]]
//! name = "stop keepalived on the VIP owner"
//! action = { do = "stop", target = "vip-owner", service = "keepalived" }
//! expect = [
//!   { check = "vip_on", target = "vip-peer", within = 5 },
//!   { check = "no_split_brain", within = 5 },
//! ]
//! ```
//!
//! Targets are host names or symbols resolved when the drill starts: `vip-owner`, `vip-peer`,
//! `etcd-leader`, `etcd-follower`, `first-worker`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::FileError;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Stop {
        target: String,
        service: String,
        signal: Option<String>,
    },
    Start {
        target: String,
        service: String,
    },
    Cut {
        target: String,
    },
    Heal {
        target: String,
    },
    Wait {
        secs: f64,
    },
    VipFailover {
        to: String,
        #[serde(default)]
        emergency: bool,
    },
    RestoreVipPriority {
        target: String,
    },
    Drain {
        node: String,
    },
    Uncordon {
        node: String,
    },
    SetNoout {
        on: bool,
    },
    /// Renew the certificates of these masters, one at a time (plan names or symbols).
    RenewCerts {
        masters: Vec<String>,
    },
    /// Start a master's maintenance: etcd leadership off it, out of haproxy, its node drained.
    Maintenance {
        target: String,
    },
    /// End a master's maintenance.
    MaintenanceEnd {
        target: String,
    },
    /// Defragment every etcd member, the leader last.
    EtcdDefrag,
    /// Start (`on = true`) or stop a client writing a key to etcd every 50 ms; stopping it deletes
    /// its keys. A failed drill stops it too.
    EtcdWrites {
        on: bool,
    },
    /// Start (`on = true`) or stop a client connecting through the VIP every 20 ms; each failed
    /// connect counts against `no_failed_client_requests`. A failed drill stops it too.
    VipClients {
        on: bool,
    },
    /// Create (`on = true`) an Alertmanager silence of the cluster's alerts about `targets` for
    /// `minutes` (default 60), or expire it; the drill's end expires it too.
    Silence {
        on: bool,
        #[serde(default)]
        targets: Vec<String>,
        minutes: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    VipOn(String),
    VipMoved,
    VipSingleOwner,
    NoSplitBrain,
    HaproxyDown(String),
    HaproxyUp(String),
    /// haproxy has the server in maintenance on every LB.
    HaproxyMaint(String),
    EtcdLeader,
    EtcdLeaderChanged,
    EtcdQuorum,
    NodeReady(String),
    NodeCordoned(String),
    NodeSchedulable(String),
    CephFlag(String),
    CephNoFlag(String),
    /// Holds over the whole step: a client probe against the VIP never failed.
    NoFailedClientRequests,
    /// Holds over the whole step: the drill's etcd client (`etcd_writes`) wrote, and no write failed.
    NoFailedEtcdWrites,
    /// A defrag during this step went through every member, the member that led when the step
    /// started last.
    EtcdDefragLeaderLast,
}

pub const CHECKS: &[&str] = &[
    "vip_on",
    "vip_moved",
    "vip_single_owner",
    "no_split_brain",
    "haproxy_down",
    "haproxy_up",
    "haproxy_maint",
    "etcd_leader",
    "etcd_leader_changed",
    "etcd_quorum",
    "node_ready",
    "node_cordoned",
    "node_schedulable",
    "ceph_flag",
    "ceph_no_flag",
    "no_failed_client_requests",
    "no_failed_etcd_writes",
    "etcd_defrag_leader_last",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expect {
    pub check: Check,
    pub within_secs: f64,
}

impl Check {
    /// Judged over the whole step (failures counted while it runs), not met at one moment.
    pub fn is_steady(&self) -> bool {
        matches!(self, Check::NoFailedClientRequests | Check::NoFailedEtcdWrites)
    }
}

impl Expect {
    pub fn within_ms(&self) -> i64 {
        (self.within_secs * 1000.0).round() as i64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepSpec {
    pub name: String,
    pub action: Option<Action>,
    pub expect: Vec<Expect>,
    /// A restore step runs even after an earlier step failed.
    pub restore: bool,
    /// The names this step acts on or checks, where they stand in the file (for `drill check`).
    #[serde(skip)]
    pub refs: Vec<TargetRef>,
}

/// What kind of thing a drill names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A host of the plan (stop, start, cut, heal; haproxy checks name a backend server).
    Host,
    /// A Kubernetes node (drain, uncordon, node checks).
    Node,
    /// A load balancer (VIP failover, priority restore, vip_on).
    Lb,
    /// A master (certificate renewal, a master's maintenance).
    Master,
}

impl TargetKind {
    fn noun(self) -> &'static str {
        match self {
            TargetKind::Host => "host",
            TargetKind::Node => "node",
            TargetKind::Lb => "load balancer",
            TargetKind::Master => "master",
        }
    }

    /// The symbols that stand for a name of this kind (`vip-owner` is a load balancer, never a node).
    pub fn symbols(self) -> &'static [&'static str] {
        match self {
            TargetKind::Host => SYMBOLS,
            TargetKind::Node => &["etcd-leader", "etcd-follower", "first-worker"],
            TargetKind::Lb => &["vip-owner", "vip-peer"],
            TargetKind::Master => &["etcd-leader", "etcd-follower"],
        }
    }
}

/// A name in a drill file and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    pub name: String,
    pub kind: TargetKind,
    pub line: usize,
    pub column: usize,
}

/// The symbols a drill may use for a target; they are resolved when the drill starts.
pub const SYMBOLS: &[&str] = &["vip-owner", "vip-peer", "etcd-leader", "etcd-follower", "first-worker"];

/// The hosts, nodes and load balancers a drill may name (from the plan, or the demo cluster).
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub hosts: Vec<String>,
    pub nodes: Vec<String>,
    pub lbs: Vec<String>,
    pub masters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillFile {
    pub name: String,
    pub description: String,
    pub steps: Vec<StepSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: String,
    #[serde(default)]
    description: String,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: String,
    action: Option<Spanned<Action>>,
    #[serde(default)]
    expect: Vec<RawExpect>,
    #[serde(default)]
    restore: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    check: Spanned<String>,
    target: Option<Spanned<String>>,
    flag: Option<String>,
    within: Spanned<f64>,
}

impl DrillFile {
    pub fn load(path: &Path) -> Result<DrillFile, FileError> {
        let src = crate::error::read_text(path, "drill file", crate::error::limits::SETTINGS)?;
        DrillFile::parse(path, &src)
    }

    pub fn parse(path: &Path, src: &str) -> Result<DrillFile, FileError> {
        let raw: RawFile = toml::from_str(src).map_err(|e| {
            let off = e.span().map(|s| s.start).unwrap_or(0);
            FileError::at_offset(path, src, off, crate::error::humanize(e.message()))
        })?;
        if raw.steps.is_empty() {
            return Err(FileError::new(path, 1, 1, "a drill needs at least one [[steps]]"));
        }
        // names go into reports and onto terminals: one line of printable text (the drill's name is
        // the first `name =`, each step's the next)
        for (n, name) in std::iter::once(&raw.name).chain(raw.steps.iter().map(|s| &s.name)).enumerate() {
            if name.trim().is_empty() || name.chars().any(|c| c.is_control() || crate::text::is_bidi_control(c)) {
                let off = name_key_offset(src, n);
                let shown = crate::text::printable(name).replace('\n', "\\n");
                return Err(FileError::at_offset(
                    path,
                    src,
                    off,
                    format!("name `{shown}`: a name is one line of printable text (no control characters, not empty)"),
                ));
            }
        }
        let mut steps = vec![];
        // an etcd client started by an earlier step (or this one), for `no_failed_etcd_writes`
        let mut writes_started = false;
        for s in raw.steps {
            let starts_writes = s.action.as_ref().is_some_and(|a| matches!(a.get_ref(), Action::EtcdWrites { on: true }));
            writes_started |= starts_writes;
            let defrags = s.action.as_ref().is_some_and(|a| matches!(a.get_ref(), Action::EtcdDefrag));
            let mut expect = vec![];
            let mut refs = vec![];
            let mut name_at = |name: &str, kind: TargetKind, off: usize| {
                let (line, column) = crate::error::line_col(src, off);
                refs.push(TargetRef { name: name.to_string(), kind, line, column });
            };
            for e in s.expect {
                let at = |sp: std::ops::Range<usize>, msg: String| FileError::at_offset(path, src, sp.start, msg);
                let within = *e.within.get_ref();
                if !(within > 0.0 && within <= 3600.0) {
                    return Err(at(e.within.span(), format!("`within` must be more than 0 and at most 3600 seconds, got {within}")));
                }
                let need_target = |what: &str| -> Result<String, FileError> {
                    e.target.as_ref().map(|t| t.get_ref().clone()).ok_or_else(|| at(e.check.span(), format!("check `{what}` needs a `target` (a host or node name, or vip-owner, vip-peer, etcd-leader, etcd-follower, first-worker)")))
                };
                let need_flag = |what: &str| -> Result<String, FileError> {
                    e.flag.clone().ok_or_else(|| at(e.check.span(), format!("check `{what}` needs a `flag`, e.g. flag = \"noout\"")))
                };
                let name = e.check.get_ref().as_str();
                let check = match name {
                    "vip_on" => Check::VipOn(need_target(name)?),
                    "vip_moved" => Check::VipMoved,
                    "vip_single_owner" => Check::VipSingleOwner,
                    "no_split_brain" => Check::NoSplitBrain,
                    "haproxy_down" => Check::HaproxyDown(need_target(name)?),
                    "haproxy_up" => Check::HaproxyUp(need_target(name)?),
                    "haproxy_maint" => Check::HaproxyMaint(need_target(name)?),
                    "etcd_leader" => Check::EtcdLeader,
                    "etcd_leader_changed" => Check::EtcdLeaderChanged,
                    "etcd_quorum" => Check::EtcdQuorum,
                    "node_ready" => Check::NodeReady(need_target(name)?),
                    "node_cordoned" => Check::NodeCordoned(need_target(name)?),
                    "node_schedulable" => Check::NodeSchedulable(need_target(name)?),
                    "ceph_flag" => Check::CephFlag(need_flag(name)?),
                    "ceph_no_flag" => Check::CephNoFlag(need_flag(name)?),
                    "no_failed_client_requests" => Check::NoFailedClientRequests,
                    "no_failed_etcd_writes" => Check::NoFailedEtcdWrites,
                    "etcd_defrag_leader_last" => Check::EtcdDefragLeaderLast,
                    other => return Err(at(e.check.span(), format!("unknown check `{other}`; expected one of: {}", CHECKS.join(", ")))),
                };
                match &check {
                    Check::NoFailedEtcdWrites if !writes_started => {
                        return Err(at(
                            e.check.span(),
                            "`no_failed_etcd_writes` needs the etcd client: start it in this step or an earlier one \
                             (action = { do = \"etcd_writes\", on = true })"
                                .into(),
                        ));
                    }
                    Check::EtcdDefragLeaderLast if !defrags => {
                        return Err(at(
                            e.check.span(),
                            "`etcd_defrag_leader_last` judges the defrag of its own step: \
                             give the step action = { do = \"etcd_defrag\" }"
                                .into(),
                        ));
                    }
                    _ => {}
                }
                let takes_target = matches!(check, Check::VipOn(_) | Check::HaproxyDown(_) | Check::HaproxyUp(_) | Check::HaproxyMaint(_))
                    || matches!(check, Check::NodeReady(_) | Check::NodeCordoned(_) | Check::NodeSchedulable(_));
                if let (false, Some(t)) = (takes_target, &e.target) {
                    return Err(at(t.span(), format!("check `{name}` takes no `target`")));
                }
                let kind = match &check {
                    Check::VipOn(_) => Some(TargetKind::Lb),
                    Check::HaproxyDown(_) | Check::HaproxyUp(_) | Check::HaproxyMaint(_) => Some(TargetKind::Host),
                    Check::NodeReady(_) | Check::NodeCordoned(_) | Check::NodeSchedulable(_) => Some(TargetKind::Node),
                    _ => None,
                };
                if let (Some(kind), Some(t)) = (kind, &e.target) {
                    name_at(t.get_ref(), kind, t.span().start);
                }
                expect.push(Expect { check, within_secs: within });
            }
            let action = match s.action {
                None => None,
                Some(a) => {
                    let off = a.span().start;
                    let a = a.into_inner();
                    let err = |msg: String| FileError::at_offset(path, src, off, format!("step `{}`: {msg}", s.name));
                    match &a {
                        Action::Stop { service, .. } | Action::Start { service, .. } if !valid_service(service) => {
                            return Err(err(format!(
                                "service {service:?} is not a plain systemd unit name (letters, digits and @._:- only, not starting with -)"
                            )));
                        }
                        Action::Stop { signal: Some(sig), .. }
                            if !["TERM", "KILL", "STOP", "CONT", "INT", "HUP"].contains(&sig.as_str()) =>
                        {
                            return Err(err(format!("signal `{sig}`: expected TERM, KILL, STOP, CONT, INT or HUP")));
                        }
                        Action::Silence { on: true, targets, .. } if targets.is_empty() || targets.len() > 20 => {
                            return Err(err("a silence names 1 to 20 targets (targets = [\"m1\"])".into()));
                        }
                        Action::Silence { on: true, minutes: Some(m), .. } if !(1..=1440).contains(m) => {
                            return Err(err(format!("`minutes` must be between 1 and 1440, got {m}")));
                        }
                        Action::Silence { on: false, targets, minutes } if !targets.is_empty() || minutes.is_some() => {
                            return Err(err("expiring a silence takes no targets or minutes (it expires the drill's)".into()));
                        }
                        Action::Wait { secs } if !(0.0..=3600.0).contains(secs) => {
                            return Err(err(format!("`secs` must be between 0 and 3600 seconds, got {secs}")));
                        }
                        _ => {}
                    }
                    match &a {
                        Action::Stop { target, .. } | Action::Start { target, .. } | Action::Cut { target } | Action::Heal { target } => {
                            name_at(target, TargetKind::Host, off)
                        }
                        Action::VipFailover { to, .. } => name_at(to, TargetKind::Lb, off),
                        Action::RestoreVipPriority { target } => name_at(target, TargetKind::Lb, off),
                        Action::Drain { node } | Action::Uncordon { node } => name_at(node, TargetKind::Node, off),
                        Action::RenewCerts { masters } => masters.iter().for_each(|m| name_at(m, TargetKind::Master, off)),
                        Action::Maintenance { target } | Action::MaintenanceEnd { target } => name_at(target, TargetKind::Master, off),
                        Action::Silence { targets, .. } => targets.iter().for_each(|t| name_at(t, TargetKind::Host, off)),
                        Action::Wait { .. }
                        | Action::SetNoout { .. }
                        | Action::EtcdDefrag
                        | Action::EtcdWrites { .. }
                        | Action::VipClients { .. } => {}
                    }
                    Some(a)
                }
            };
            steps.push(StepSpec { name: s.name, action, expect, restore: s.restore, refs });
        }
        Ok(DrillFile { name: raw.name, description: raw.description, steps })
    }

    /// What `drill run` would refuse, found before it runs: every host, node and load balancer the
    /// drill names is a symbol or one of `known`'s. The error points at the first unknown name.
    pub fn check_targets(&self, path: &Path, known: &Known) -> Result<(), FileError> {
        for r in self.steps.iter().flat_map(|s| &s.refs) {
            if r.kind.symbols().contains(&r.name.as_str()) {
                continue;
            }
            let list = match r.kind {
                TargetKind::Host => &known.hosts,
                TargetKind::Node => &known.nodes,
                TargetKind::Lb => &known.lbs,
                TargetKind::Master => &known.masters,
            };
            if !list.contains(&r.name) {
                let shown: Vec<&str> = list.iter().take(12).map(String::as_str).collect();
                return Err(FileError::new(
                    path,
                    r.line,
                    r.column,
                    format!(
                        "unknown {} `{}`: not in this cluster; expected one of: {}{}",
                        r.kind.noun(),
                        r.name,
                        shown.iter().chain(r.kind.symbols()).copied().collect::<Vec<_>>().join(", "),
                        if list.len() > shown.len() { format!(" (and {} more)", list.len() - shown.len()) } else { String::new() }
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The byte offset of the `n`th (0-based) line that sets `name` (0 when there is none).
fn name_key_offset(src: &str, n: usize) -> usize {
    let mut off = 0;
    let mut seen = 0;
    for line in src.split_inclusive('\n') {
        let t = line.trim_start();
        if t.strip_prefix("name").is_some_and(|r| r.trim_start().starts_with('=')) {
            if seen == n {
                return off + (line.len() - t.len());
            }
            seen += 1;
        }
        off += line.len();
    }
    0
}

/// A systemd unit name as a drill may give it: what the host actions accept.
fn valid_service(s: &str) -> bool {
    crate::probe::actions::valid_service(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> Result<DrillFile, FileError> {
        DrillFile::parse(Path::new("d.toml"), src)
    }

    #[test]
    fn parses_a_drill() {
        let d = p(r#"
name = "x"
[[steps]]
name = "stop"
action = { do = "stop", target = "vip-owner", service = "keepalived", signal = "KILL" }
expect = [{ check = "vip_on", target = "vip-peer", within = 5 }, { check = "no_failed_client_requests", within = 2.5 }]
[[steps]]
name = "back"
restore = true
action = { do = "start", target = "vip-owner", service = "keepalived" }
"#)
        .unwrap();
        assert_eq!(d.steps.len(), 2);
        assert_eq!(d.steps[0].expect[0].check, Check::VipOn("vip-peer".into()));
        assert_eq!(d.steps[0].expect[1].within_ms(), 2500);
        assert!(d.steps[1].restore);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = p("name = \"x\"\n[[steps]]\nname = \"s\"\nexpect = [{ check = \"vip_onn\", within = 1 }]\n").unwrap_err();
        assert_eq!((e.line, e.column), (4, 21), "{e}");
        assert!(e.message.contains("unknown check `vip_onn`") && e.message.contains("vip_on,"), "{e}");
        let e = p("name = \"x\"\n[[steps]]\nname = \"s\"\nexpect = [{ check = \"vip_on\", within = 1 }]\n").unwrap_err();
        assert!(e.message.contains("needs a `target`"), "{e}");
        let e = p("name = \"x\"\n[[steps]]\nname = \"s\"\naction = { do = \"explode\", target = \"a\" }\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("explode"), "{e}");
        let e = p("name = \"x\"\n[[steps]]\nname = \"s\"\nexpect = [{ check = \"vip_moved\", within = -1 }]\n").unwrap_err();
        assert!(e.message.contains("more than 0 and at most 3600"), "{e}");
        // a check that judges something the drill never starts is refused before it runs
        let e = p("name = \"x\"\n[[steps]]\nname = \"s\"\nexpect = [{ check = \"no_failed_etcd_writes\", within = 1 }]\n").unwrap_err();
        assert!(e.line == 4 && e.message.contains("needs the etcd client"), "{e}");
        let e = p("name = \"x\"\n[[steps]]\nname = \"s\"\nexpect = [{ check = \"etcd_defrag_leader_last\", within = 1 }]\n").unwrap_err();
        assert!(e.message.contains("give the step action = { do = \"etcd_defrag\" }"), "{e}");
        let e =
            p("name = \"x\"\n[[steps]]\nname = \"s\"\nexpect = [{ check = \"etcd_leader\", target = \"m1\", within = 1 }]\n").unwrap_err();
        assert!(e.message.contains("check `etcd_leader` takes no `target`"), "{e}");
        let e = p("name = \"x\"\nsteps = []\n").unwrap_err();
        assert!(e.message.contains("at least one"), "{e}");
        let e =
            p("name = \"x\"\n[[steps]]\nname = \"s\"\naction = { do = \"stop\", target = \"a\", service = \"b\", signal = \"USR9\" }\n")
                .unwrap_err();
        assert!(e.message.contains("USR9"), "{e}");
        let e = p("nam = \"x\"\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
