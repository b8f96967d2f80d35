//! Plain observed data, one struct per thing a probe can see. No I/O here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Facts about one host as seen over SSH (or simulated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel: String,
    pub os: String,
    pub uptime_secs: u64,
    pub load1: f64,
    pub cpus: u32,
    pub mem_total_mb: u64,
    pub mem_avail_mb: u64,
    pub disk_total_gb: u64,
    pub disk_used_pct: u8,
    pub swap_total_mb: u64,
    /// "active" / "inactive"; None when firewalld is not installed.
    pub firewalld: Option<String>,
    /// "Enforcing" / "Permissive" / "Disabled"; None when SELinux is absent.
    pub selinux: Option<String>,
    pub br_netfilter: Option<bool>,
    pub bridge_nf_call_iptables: Option<bool>,
    pub ip_forward: Option<bool>,
    /// Clock offset against the machine kockpit runs on, in milliseconds.
    pub time_offset_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VrrpState {
    Init,
    Backup,
    Master,
    Fault,
    /// keepalived is not running on this host.
    Stopped,
    Unknown,
}

impl VrrpState {
    pub fn label(self) -> &'static str {
        match self {
            VrrpState::Init => "INIT",
            VrrpState::Backup => "BACKUP",
            VrrpState::Master => "MASTER",
            VrrpState::Fault => "FAULT",
            VrrpState::Stopped => "STOPPED",
            VrrpState::Unknown => "?",
        }
    }
}

/// One load balancer's keepalived view: its VRRP state and whether it holds the VIP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpView {
    pub instance: String,
    pub state: VrrpState,
    /// Configured (1-255); 0: not seen (a stopped or frozen keepalived, no dump), `null` in JSON.
    #[serde(serialize_with = "zero_as_null", deserialize_with = "null_as_zero")]
    pub priority: u32,
    /// As tracking has made it; 0: not seen or none (keepalived stopped), `null` in JSON.
    #[serde(serialize_with = "zero_as_null", deserialize_with = "null_as_zero")]
    pub effective_priority: u32,
    /// The VIP is configured on one of this host's interfaces (`ip -j addr`).
    pub holds_vip: bool,
    pub last_transition: Option<DateTime<Utc>>,
}

/// A priority not seen (0) is `null`, never a number that reads as a priority.
fn zero_as_null<S: serde::Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    if *v == 0 { s.serialize_none() } else { s.serialize_some(v) }
}

fn null_as_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(<Option<u32> as serde::Deserialize>::deserialize(d)?.unwrap_or(0))
}

impl VrrpView {
    /// The priorities as shown: `100`, `100->80`; `-` for a stopped keepalived, `?` where they could not
    /// be read (a frozen keepalived, no dump: a configured priority is 1 to 255, never 0).
    pub fn priority_text(&self) -> String {
        match (self.state, self.priority) {
            (VrrpState::Stopped, _) => "-".into(),
            (_, 0) => "?".into(),
            _ if self.effective_priority != self.priority => format!("{}->{}", self.priority, self.effective_priority),
            _ => self.priority.to_string(),
        }
    }

    /// What a failover leaves behind on the old owner, and a restore undoes: keepalived stopped, or
    /// running below its configured priority (the track file's weight), or, where the plan demotes by
    /// rewriting keepalived.conf (`by_priority`), configured at priority 1.
    pub fn left_by_failover(&self, by_priority: bool) -> bool {
        self.state == VrrpState::Stopped || self.effective_priority < self.priority || (by_priority && self.priority == 1)
    }
}

/// One host's HA configuration as its daemons run it, parsed (secrets were cut on the host).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HaConfigView {
    pub keepalived: Option<crate::hacfg::KeepalivedConf>,
    pub haproxy: Option<crate::hacfg::HaproxyConf>,
    /// The files read, in order.
    pub files: Vec<String>,
    /// Files that could not be read, and parse errors (file:line: why).
    pub problems: Vec<String>,
    /// `keepalived` / `haproxy` -> its version line.
    pub versions: std::collections::BTreeMap<String, String>,
    /// Check tools present on the host.
    pub tools: Vec<String>,
    /// keepalived's check script files -> the `host:port` they connect to.
    pub check_targets: std::collections::BTreeMap<String, Vec<String>>,
}

/// Who holds the VIP, as far as fresh observations tell ([`crate::model::Model::vip_verdict`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum VipVerdict {
    /// No load balancer has been heard of yet.
    Waiting,
    /// The topology has no keepalived anywhere (KubeKey's local proxies, no load balancer).
    NoVip,
    /// One LB is seen holding it now.
    Held { holder: String, unseen: Vec<Unseen> },
    /// One LB (MASTER) holds it while others, already BACKUP, still let it go.
    HandingOver { to: String, from: Vec<String>, unseen: Vec<Unseen> },
    /// Two or more LBs are seen holding it now.
    SplitBrain { holders: Vec<String>, unseen: Vec<Unseen> },
    /// Every LB was seen, fresh, and none holds it.
    NotHeld,
    /// No fresh observation shows a holder and some LBs could not be seen: nobody can say.
    Unknown { unseen: Vec<Unseen> },
}

/// A load balancer that could not be observed: why, and what it last showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unseen {
    pub lb: String,
    pub reason: String,
    /// Whether it held the VIP when last seen (None: never seen).
    pub held: Option<bool>,
    /// Age of that last observation.
    pub age_ms: Option<i64>,
}

impl Unseen {
    /// `m2: probe timed out (held the VIP 14s ago)`.
    pub fn describe(&self) -> String {
        let last = match (self.held, self.age_ms) {
            (Some(true), Some(a)) => format!(" (held the VIP {} ago)", super::source::fmt_age_ms(a)),
            (Some(false), Some(a)) => format!(" (without the VIP {} ago)", super::source::fmt_age_ms(a)),
            _ => String::new(),
        };
        format!("{}: {}{last}", self.lb, self.reason)
    }
}

impl VipVerdict {
    pub fn unseen(&self) -> &[Unseen] {
        match self {
            VipVerdict::Held { unseen, .. } | VipVerdict::HandingOver { unseen, .. } | VipVerdict::SplitBrain { unseen, .. } => unseen,
            VipVerdict::Unknown { unseen } => unseen,
            VipVerdict::Waiting | VipVerdict::NotHeld | VipVerdict::NoVip => &[],
        }
    }
}

/// An etcd snapshot file on a host, as its directory listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub path: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// The etcd snapshot files one host keeps, newest first, and the snapshot directories it lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFiles {
    pub files: Vec<SnapshotFile>,
    pub missing_dirs: Vec<String>,
}

/// Whether the VIP answers on its port from where kockpit runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VipProbe {
    pub address: String,
    pub connect_ms: f64,
}

/// haproxy's server status. haproxy prints more than an enum: `UP 1/2` means "up, one failed check
/// so far", `DOWN 1/2` means "down, one good check so far".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerStatus {
    Up,
    /// Up but failing checks (`UP 1/2`).
    GoingDown,
    Down,
    /// Down but passing checks (`DOWN 1/2`).
    GoingUp,
    Maint,
    Drain,
    NoCheck,
    Unknown,
}

impl ServerStatus {
    /// Parse haproxy's `status` column in every form it prints.
    pub fn parse(s: &str) -> ServerStatus {
        let s = s.trim();
        let head = s.split_whitespace().next().unwrap_or("");
        let transitional = s.contains('/');
        match head {
            "UP" if transitional => ServerStatus::GoingDown,
            "UP" => ServerStatus::Up,
            "DOWN" if transitional => ServerStatus::GoingUp,
            "DOWN" => ServerStatus::Down,
            "NOLB" => ServerStatus::GoingDown,
            "MAINT" => ServerStatus::Maint,
            "DRAIN" => ServerStatus::Drain,
            "no" if s.starts_with("no check") => ServerStatus::NoCheck,
            _ if s.starts_with("MAINT") => ServerStatus::Maint,
            _ => ServerStatus::Unknown,
        }
    }

    pub fn is_serving(self) -> bool {
        matches!(self, ServerStatus::Up | ServerStatus::GoingDown | ServerStatus::NoCheck)
    }
}

/// One haproxy server line as seen by one load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendServer {
    pub backend: String,
    pub server: String,
    pub address: String,
    pub status: ServerStatus,
    /// The status text exactly as haproxy printed it.
    pub status_text: String,
    pub check_status: Option<String>,
    pub check_duration_ms: Option<u64>,
    /// Seconds since the last status change.
    pub last_change_secs: Option<u64>,
    pub sessions: u64,
    pub weight: u32,
}

/// A direct probe of one apiserver's /readyz, to compare with haproxy's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readyz {
    pub ok: bool,
    pub status: u16,
    pub detail: String,
    pub latency_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtcdMember {
    pub name: String,
    /// etcd member IDs are full uint64s: a string in JSON, every digit kept.
    #[serde(with = "super::bigint")]
    pub id: u64,
    pub endpoint: String,
    /// Whether the member answered a status request.
    pub reachable: bool,
    pub is_leader: bool,
    pub is_learner: bool,
    pub version: String,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    pub db_size: u64,
    pub db_size_in_use: u64,
    pub error: Option<String>,
}

impl EtcdMember {
    pub fn apply_lag(&self) -> u64 {
        self.raft_index.saturating_sub(self.raft_applied_index)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtcdAlarm {
    pub member: String,
    /// NOSPACE, CORRUPT.
    pub alarm: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EtcdView {
    pub members: Vec<EtcdMember>,
    pub alarms: Vec<EtcdAlarm>,
}

impl EtcdView {
    pub fn size(&self) -> usize {
        self.members.iter().filter(|m| !m.is_learner).count()
    }
    pub fn quorum(&self) -> usize {
        self.size() / 2 + 1
    }
    pub fn healthy(&self) -> usize {
        self.members.iter().filter(|m| m.reachable && !m.is_learner).count()
    }
    /// How many more voting members can be lost before quorum is gone (negative: already lost).
    pub fn can_lose(&self) -> i64 {
        self.healthy() as i64 - self.quorum() as i64
    }
    pub fn leader(&self) -> Option<&EtcdMember> {
        self.members.iter().find(|m| m.is_leader && m.reachable)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseKind {
    LeaderElection,
    NodeHeartbeat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub namespace: String,
    pub name: String,
    pub kind: LeaseKind,
    pub holder: Option<String>,
    pub renew_time: Option<DateTime<Utc>>,
    pub acquire_time: Option<DateTime<Utc>>,
    pub duration_secs: u32,
    pub transitions: u32,
}

impl Lease {
    /// The holder stopped renewing: the last renewal is older than the lease duration.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        match self.renew_time {
            Some(t) => (now - t).num_milliseconds() > i64::from(self.duration_secs) * 1000,
            None => true,
        }
    }
    /// For leader-election leases: the holder's node/host name (holders look like `master1_3f2a...`).
    pub fn holder_host(&self) -> Option<&str> {
        self.holder.as_deref().map(|h| h.split('_').next().unwrap_or(h))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Node {
    pub name: String,
    pub roles: Vec<String>,
    /// Some(true) Ready, Some(false) NotReady, None Unknown.
    pub ready: Option<bool>,
    /// Conditions other than Ready that are True (MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable).
    pub pressures: Vec<String>,
    pub unschedulable: bool,
    pub taints: Vec<String>,
    pub cpu_allocatable_m: u64,
    pub cpu_requested_m: u64,
    pub cpu_used_m: Option<u64>,
    pub mem_allocatable: u64,
    pub mem_requested: u64,
    pub mem_used: Option<u64>,
    pub pods: u32,
    pub pods_capacity: u32,
    pub kubelet_version: String,
    pub runtime: String,
    pub kernel: String,
    pub internal_ip: String,
}

impl Node {
    pub fn cpu_req_pct(&self) -> u32 {
        pct(self.cpu_requested_m, self.cpu_allocatable_m)
    }
    pub fn mem_req_pct(&self) -> u32 {
        pct(self.mem_requested, self.mem_allocatable)
    }
    pub fn is_control_plane(&self) -> bool {
        self.roles.iter().any(|r| r == "control-plane" || r == "master")
    }
}

pub fn pct(a: u64, b: u64) -> u32 {
    if b == 0 { 0 } else { ((a as u128 * 100) / b as u128) as u32 }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WorkloadKind {
    DaemonSet,
    Deployment,
    StatefulSet,
}

impl WorkloadKind {
    pub fn short(self) -> &'static str {
        match self {
            WorkloadKind::DaemonSet => "ds",
            WorkloadKind::Deployment => "deploy",
            WorkloadKind::StatefulSet => "sts",
        }
    }
    /// Its resource in `apps/v1` (`/apis/apps/v1/namespaces/NS/PLURAL/NAME`).
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
        }
    }
}

/// A Kubernetes Warning event (core/v1 `Event` of type `Warning`), as the timeline tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeWarning {
    /// The event's own key (`NS/NAME`): one event is counted up while it repeats.
    pub key: String,
    pub reason: String,
    /// What it is about: `pod default/web-1`, `node worker2`.
    pub object: String,
    pub message: String,
    /// How often it happened (the event's count, or its series' count).
    pub count: u32,
    pub last_seen: Option<DateTime<Utc>>,
    /// Who reported it (`default-scheduler`, `kubelet`).
    pub reporter: String,
}

impl KubeWarning {
    /// One line for the timeline.
    pub fn describe(&self) -> String {
        let mut msg: String = self.message.trim().chars().take(240).collect();
        if msg.len() < self.message.trim().len() {
            msg.push_str("...");
        }
        let times = if self.count > 1 { format!(" (x{})", self.count) } else { String::new() };
        let by = if self.reporter.is_empty() { String::new() } else { format!(" [{}]", self.reporter) };
        format!("k8s Warning {} {}{by}: {msg}{times}", self.reason, self.object)
    }
    /// Whether it is about a node.
    pub fn about_a_node(&self) -> bool {
        self.object.starts_with("node ")
    }
}

/// A platform workload (CoreDNS, kube-proxy, the CNI, KubeSphere, the Rook operator, log shippers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub namespace: String,
    pub kind: WorkloadKind,
    pub name: String,
    pub desired: u32,
    pub ready: u32,
    pub updated: u32,
    pub available: u32,
}

impl Workload {
    pub fn is_ready(&self) -> bool {
        self.ready >= self.desired && self.available >= self.desired
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CephHealth {
    #[serde(rename = "HEALTH_OK")]
    Ok,
    #[serde(rename = "HEALTH_WARN")]
    Warn,
    #[serde(rename = "HEALTH_ERR")]
    Err,
}

impl CephHealth {
    pub fn parse(s: &str) -> Option<CephHealth> {
        match s {
            "HEALTH_OK" => Some(CephHealth::Ok),
            "HEALTH_WARN" => Some(CephHealth::Warn),
            "HEALTH_ERR" => Some(CephHealth::Err),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            CephHealth::Ok => "HEALTH_OK",
            CephHealth::Warn => "HEALTH_WARN",
            CephHealth::Err => "HEALTH_ERR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CephCheck {
    pub code: String,
    pub severity: CephHealth,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CephView {
    pub health: CephHealth,
    pub checks: Vec<CephCheck>,
    pub mons: u32,
    pub mons_in_quorum: u32,
    pub osds: u32,
    pub osds_up: u32,
    pub osds_in: u32,
    /// (state, count), e.g. ("active+clean", 128).
    pub pgs_by_state: Vec<(String, u64)>,
    pub bytes_used: u64,
    pub bytes_total: u64,
    /// OSD map flags such as noout.
    pub flags: Vec<String>,
    /// Hosts that carry OSDs (from the OSD tree), for drain warnings.
    pub osd_hosts: Vec<String>,
    /// Each CRUSH host's OSDs, up or not (from the OSD tree); empty where the source does not say.
    #[serde(default)]
    pub osd_host_detail: Vec<CephOsdHost>,
    /// The pools' replication (from the OSD map); None where the source does not say.
    #[serde(default)]
    pub pools: Option<Vec<CephPool>>,
}

/// A CRUSH host and its OSDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephOsdHost {
    pub name: String,
    pub osds: u32,
    pub up: u32,
}

/// A pool's replication: `size` copies (or k+m chunks), I/O stops below `min_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephPool {
    pub name: String,
    pub size: u32,
    pub min_size: u32,
    /// The CRUSH type its rule spreads the copies over: `host` (the default), `osd`, `rack` ...
    pub failure_domain: String,
}

impl CephView {
    pub fn pgs_total(&self) -> u64 {
        self.pgs_by_state.iter().map(|(_, n)| n).sum()
    }
    pub fn pgs_clean(&self) -> u64 {
        self.pgs_by_state.iter().filter(|(s, _)| s == "active+clean").map(|(_, n)| n).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertInfo {
    /// kubeadm's name for it: apiserver, etcd-server, admin.conf, ...
    pub name: String,
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_after: DateTime<Utc>,
    pub is_ca: bool,
}

impl CertInfo {
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_days()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_not_seen_are_not_zero() {
        let v = |state, priority, effective_priority| VrrpView {
            instance: "VI_1".into(),
            state,
            priority,
            effective_priority,
            holds_vip: false,
            last_transition: None,
        };
        assert_eq!(v(VrrpState::Backup, 100, 100).priority_text(), "100");
        assert_eq!(v(VrrpState::Backup, 100, 80).priority_text(), "100->80");
        assert_eq!(v(VrrpState::Stopped, 0, 0).priority_text(), "-", "a stopped keepalived has none");
        assert_eq!(v(VrrpState::Unknown, 0, 0).priority_text(), "?", "a frozen one's could not be read");
        assert_eq!(v(VrrpState::Master, 0, 0).priority_text(), "?", "ip addr alone: the VIP seen, the priority not");
        // and in JSON: null, not 0; read back the same
        let stopped = serde_json::to_value(v(VrrpState::Stopped, 150, 0)).unwrap();
        assert_eq!((&stopped["priority"], &stopped["effective_priority"]), (&serde_json::json!(150), &serde_json::Value::Null));
        assert_eq!(serde_json::from_value::<VrrpView>(stopped).unwrap(), v(VrrpState::Stopped, 150, 0));
    }

    #[test]
    fn haproxy_status_forms() {
        assert_eq!(ServerStatus::parse("UP"), ServerStatus::Up);
        assert_eq!(ServerStatus::parse("UP 1/2"), ServerStatus::GoingDown);
        assert_eq!(ServerStatus::parse("DOWN"), ServerStatus::Down);
        assert_eq!(ServerStatus::parse("DOWN 1/2"), ServerStatus::GoingUp);
        assert_eq!(ServerStatus::parse("MAINT"), ServerStatus::Maint);
        assert_eq!(ServerStatus::parse("MAINT (resolution)"), ServerStatus::Maint);
        assert_eq!(ServerStatus::parse("DRAIN"), ServerStatus::Drain);
        assert_eq!(ServerStatus::parse("no check"), ServerStatus::NoCheck);
        assert_eq!(ServerStatus::parse(""), ServerStatus::Unknown);
        assert_eq!(ServerStatus::parse("garbage"), ServerStatus::Unknown);
        assert!(ServerStatus::GoingDown.is_serving());
        assert!(!ServerStatus::GoingUp.is_serving());
    }

    fn member(name: &str, reachable: bool, leader: bool) -> EtcdMember {
        EtcdMember {
            name: name.into(),
            id: u64::MAX - 1,
            endpoint: String::new(),
            reachable,
            is_leader: leader,
            is_learner: false,
            version: "3.4.23".into(),
            raft_term: 2,
            raft_index: 10,
            raft_applied_index: 8,
            db_size: 0,
            db_size_in_use: 0,
            error: None,
        }
    }

    #[test]
    fn quorum_math() {
        let mut v = EtcdView { members: vec![member("a", true, true), member("b", true, false), member("c", true, false)], alarms: vec![] };
        assert_eq!((v.size(), v.quorum(), v.healthy(), v.can_lose()), (3, 2, 3, 1));
        v.members[1].reachable = false;
        assert_eq!(v.can_lose(), 0);
        v.members[2].reachable = false;
        assert_eq!(v.can_lose(), -1);
        let mut five = v.clone();
        for n in ["d", "e"] {
            five.members.push(member(n, true, false));
        }
        assert_eq!((five.size(), five.quorum(), five.healthy(), five.can_lose()), (5, 3, 3, 0));
        five.members.push(EtcdMember { is_learner: true, ..member("f", true, false) });
        assert_eq!(five.size(), 5, "learners do not vote");
        assert_eq!(v.members[0].apply_lag(), 2);
    }

    #[test]
    fn lease_expiry_and_holder() {
        let now = Utc::now();
        let mut l = Lease {
            namespace: "kube-system".into(),
            name: "kube-scheduler".into(),
            kind: LeaseKind::LeaderElection,
            holder: Some("master2_4c1d-99".into()),
            renew_time: Some(now - chrono::Duration::seconds(3)),
            acquire_time: None,
            duration_secs: 15,
            transitions: 4,
        };
        assert!(!l.expired(now));
        assert_eq!(l.holder_host(), Some("master2"));
        l.renew_time = Some(now - chrono::Duration::seconds(16));
        assert!(l.expired(now));
        l.renew_time = None;
        assert!(l.expired(now));
    }

    #[test]
    fn percentages() {
        assert_eq!(pct(50, 200), 25);
        assert_eq!(pct(1, 0), 0);
        assert_eq!(pct(u64::MAX, u64::MAX), 100);
    }
}
