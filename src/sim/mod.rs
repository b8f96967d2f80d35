//! The simulated cluster behind `kockpit demo`, drills and scale benchmarks.
//!
//! [`SimCluster`] is a pure state machine driven by a clock: `step(now)` advances it, `observe(now)`
//! produces the same [`Observation`]s live probes produce, and operations and faults change it.
//! It follows the timings measured on real services (keepalived failover 0.5 s after a clean stop,
//! ~3.4 s after a demotion or a frozen owner; haproxy marks a dead backend DOWN after two failed 1 s
//! checks; etcd elects a new leader in ~1.2 s; leases expire after 15 s).

pub mod runner;

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use crate::inventory::Plan;
use crate::model::*;
use crate::ops::{FailoverMode, OpEvent, OpRequest};

/// Faults the demo can inject for training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Stop keepalived on the load balancer holding the VIP.
    StopKeepalivedOnOwner,
    /// Power off a master (apiserver, etcd member, kubelet, SSH all gone).
    KillMaster,
    /// etcd raises a NOSPACE alarm.
    EtcdNospace,
    /// One Ceph OSD goes down.
    OsdDown,
    /// A master's apiserver certificate is about to expire.
    CertExpiring,
    /// Freeze keepalived on the owner: the peer takes over while the frozen owner keeps the VIP.
    SplitBrain,
    /// Kill haproxy on the VIP owner.
    KillHaproxyOnOwner,
    /// Undo every fault.
    HealAll,
}

impl Fault {
    pub const ALL: [Fault; 8] = [
        Fault::StopKeepalivedOnOwner,
        Fault::KillMaster,
        Fault::EtcdNospace,
        Fault::OsdDown,
        Fault::CertExpiring,
        Fault::SplitBrain,
        Fault::KillHaproxyOnOwner,
        Fault::HealAll,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Fault::StopKeepalivedOnOwner => "stop-keepalived",
            Fault::KillMaster => "kill-master",
            Fault::EtcdNospace => "etcd-nospace",
            Fault::OsdDown => "osd-down",
            Fault::CertExpiring => "cert-expiring",
            Fault::SplitBrain => "split-brain",
            Fault::KillHaproxyOnOwner => "kill-haproxy",
            Fault::HealAll => "heal",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Fault::StopKeepalivedOnOwner => "Stop keepalived on the VIP owner",
            Fault::KillMaster => "Power off a master (apiserver, etcd member, kubelet)",
            Fault::EtcdNospace => "etcd NOSPACE alarm (database quota exceeded)",
            Fault::OsdDown => "A Ceph OSD goes down",
            Fault::CertExpiring => "A master's apiserver certificate expires in 5 days",
            Fault::SplitBrain => "Freeze keepalived on the owner: split-brain VIP",
            Fault::KillHaproxyOnOwner => "Kill haproxy on the VIP owner",
            Fault::HealAll => "Heal: undo every injected fault",
        }
    }
    pub fn from_name(s: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == s)
    }
}

/// A small deterministic PRNG (splitmix64): demo runs and benchmarks repeat exactly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi].
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proc {
    Running,
    Stopped,
    Frozen,
}

#[derive(Debug, Clone)]
struct Lb {
    name: String,
    priority: u32,
    keepalived: Proc,
    haproxy_up: bool,
    demoted: bool,
    state: VrrpState,
    holds_vip: bool,
    last_transition: DateTime<Utc>,
}

impl Lb {
    fn effective_priority(&self) -> u32 {
        let mut p = self.priority as i64;
        if !self.haproxy_up {
            p -= 60;
        }
        if self.demoted {
            p -= 100;
        }
        p.max(1) as u32
    }
}

#[derive(Debug, Clone)]
struct Master {
    name: String,
    host_up: bool,
    apiserver_up: bool,
    /// The apiserver restarts until this instant (certificate renewal).
    restarting_until: Option<DateTime<Utc>>,
    etcd_up: bool,
    certs: Vec<CertInfo>,
    /// What the running apiserver serves (changes only when it restarts).
    serving_not_after: DateTime<Utc>,
}

impl Master {
    fn serving(&self, now: DateTime<Utc>) -> bool {
        self.host_up && self.apiserver_up && self.restarting_until.is_none_or(|t| now >= t)
    }
}

#[derive(Debug, Clone)]
struct Track {
    status: ServerStatus,
    /// When the checks started disagreeing with `status`.
    since: Option<DateTime<Utc>>,
    last_change: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct SimNode {
    name: String,
    control_plane: bool,
    host: Option<usize>,
    unschedulable: bool,
    ready: bool,
    not_ready_since: Option<DateTime<Utc>>,
    pods: u32,
    daemonset_pods: u32,
    lease_renew: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct ElectionLease {
    name: String,
    holder: usize,
    renew: DateTime<Utc>,
    acquire: DateTime<Utc>,
    transitions: u32,
}

#[derive(Debug, Clone)]
struct Osd {
    host: String,
    up: bool,
    down_since: Option<DateTime<Utc>>,
}

/// A scheduled piece of an operation.
#[derive(Debug, Clone)]
enum Step {
    Say(String),
    Cordon(String, bool),
    EvictSome(String),
    Demote(String),
    StopKeepalived(String),
    WaitVipOn { lb: String, started: DateTime<Utc>, deadline: DateTime<Utc> },
    Restore(String),
    RenewOn(usize),
    WaitMasterHealthy { idx: usize, deadline: DateTime<Utc> },
    Noout(bool),
    Finish(String),
}

#[derive(Debug, Clone)]
struct Run {
    id: u64,
    queue: VecDeque<(DateTime<Utc>, Step)>,
}

/// The simulated cluster.
#[derive(Debug, Clone)]
pub struct SimCluster {
    plan: Plan,
    rng: Rng,
    booted: DateTime<Utc>,
    last_step: DateTime<Utc>,
    lbs: Vec<Lb>,
    /// When a takeover by `lbs[.0]` happens.
    pending_takeover: Option<(usize, DateTime<Utc>)>,
    masters: Vec<Master>,
    tracks: BTreeMap<(usize, usize), Track>,
    etcd_leader: Option<usize>,
    etcd_election_at: Option<DateTime<Utc>>,
    etcd_term: u64,
    etcd_index: u64,
    etcd_db: u64,
    etcd_nospace: bool,
    elections: Vec<ElectionLease>,
    nodes: Vec<SimNode>,
    osds: Vec<Osd>,
    noout: bool,
    runs: Vec<Run>,
    finished: Vec<OpEvent>,
    pub paused: bool,
    /// Journal-like lines the simulated services wrote since the last drain.
    logs: Vec<crate::logs::LogLine>,
    /// Pods requested per pod (millicores, bytes) for node resource figures.
    pod_cpu_m: u64,
    pod_mem: u64,
}

const GIB: u64 = 1 << 30;

impl SimCluster {
    /// The simulated cluster of a plan (usually [`Plan::demo`]), booted at `now`.
    pub fn new(plan: Plan, now: DateTime<Utc>, seed: u64) -> SimCluster {
        let mut rng = Rng::new(seed);
        let lbs: Vec<Lb> = plan
            .lbs()
            .enumerate()
            .map(|(i, h)| Lb {
                name: h.name.clone(),
                priority: 150 - 10 * i as u32,
                keepalived: Proc::Running,
                haproxy_up: true,
                demoted: false,
                state: if i == 0 { VrrpState::Master } else { VrrpState::Backup },
                holds_vip: i == 0,
                last_transition: now - Duration::days(31),
            })
            .collect();
        let installed = now - Duration::days(200);
        let masters: Vec<Master> = plan
            .masters()
            .map(|h| Master {
                name: h.name.clone(),
                host_up: true,
                apiserver_up: true,
                restarting_until: None,
                etcd_up: true,
                certs: kubeadm_certs(&h.name, installed),
                serving_not_after: installed + Duration::days(365),
            })
            .collect();
        let mut tracks = BTreeMap::new();
        for l in 0..lbs.len() {
            for m in 0..masters.len() {
                tracks.insert((l, m), Track { status: ServerStatus::Up, since: None, last_change: now - Duration::days(3) });
            }
        }
        let mut nodes = Vec::new();
        for (i, h) in plan.masters().enumerate() {
            nodes.push(SimNode {
                name: h.name.clone(),
                control_plane: true,
                host: Some(i),
                unschedulable: false,
                ready: true,
                not_ready_since: None,
                pods: 9 + rng.range(0, 4) as u32,
                daemonset_pods: 4,
                lease_renew: now - Duration::seconds(rng.range(0, 9) as i64),
            });
        }
        for h in plan.workers() {
            nodes.push(SimNode {
                name: h.name.clone(),
                control_plane: false,
                host: None,
                unschedulable: false,
                ready: true,
                not_ready_since: None,
                pods: 38 + rng.range(0, 14) as u32,
                daemonset_pods: 5,
                lease_renew: now - Duration::seconds(rng.range(0, 9) as i64),
            });
        }
        let osds = plan.workers().flat_map(|h| (0..3).map(move |_| Osd { host: h.name.clone(), up: true, down_since: None })).collect();
        let mc = masters.len();
        let elections = vec![
            ElectionLease {
                name: "kube-controller-manager".into(),
                holder: 0,
                renew: now,
                acquire: now - Duration::days(3),
                transitions: 2,
            },
            ElectionLease {
                name: "kube-scheduler".into(),
                holder: 1.min(mc.saturating_sub(1)),
                renew: now,
                acquire: now - Duration::days(3),
                transitions: 3,
            },
        ];
        SimCluster {
            plan,
            rng,
            booted: now - Duration::days(31),
            last_step: now,
            lbs,
            pending_takeover: None,
            masters,
            tracks,
            etcd_leader: if mc > 0 { Some(0) } else { None },
            etcd_election_at: None,
            etcd_term: 12,
            etcd_index: 88_121,
            etcd_db: 42 * 1024 * 1024,
            etcd_nospace: false,
            elections,
            nodes,
            osds,
            noout: false,
            runs: Vec::new(),
            finished: Vec::new(),
            paused: false,
            logs: Vec::new(),
            pod_cpu_m: 120,
            pod_mem: 300 * 1024 * 1024,
        }
    }

    /// The demo cluster: the 8-host plan.
    pub fn demo(now: DateTime<Utc>) -> SimCluster {
        SimCluster::new(Plan::demo(), now, 0x6b6f_636b)
    }

    /// A large cluster for scale runs: the demo plan plus `workers` simulated worker nodes.
    pub fn with_extra_workers(mut self, workers: usize, now: DateTime<Utc>) -> SimCluster {
        for i in 0..workers {
            let pods = 20 + self.rng.range(0, 20) as u32;
            self.nodes.push(SimNode {
                name: format!("node-{i:05}"),
                control_plane: false,
                host: None,
                unschedulable: false,
                ready: true,
                not_ready_since: None,
                pods,
                daemonset_pods: 5,
                lease_renew: now,
            });
        }
        self
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The last master still runs CentOS 7's stock 3.10 kernel, so the host panel has drift to show.
    fn old_kernel_host(&self, name: &str) -> bool {
        self.plan.masters().last().is_some_and(|m| m.name == name)
    }

    fn owner(&self) -> Option<usize> {
        self.lbs.iter().position(|l| l.holds_vip && l.keepalived != Proc::Stopped)
    }

    /// Advance the world to `now`.
    pub fn step(&mut self, now: DateTime<Utc>) {
        if self.paused {
            self.last_step = now;
            return;
        }
        let dt = (now - self.last_step).num_milliseconds().max(0);
        self.last_step = now;
        self.step_vrrp(now);
        self.step_haproxy(now);
        self.step_etcd(now, dt);
        self.step_leases(now);
        self.step_nodes(now, dt);
        self.step_ceph(now);
        self.step_runs(now);
    }

    fn step_vrrp(&mut self, now: DateTime<Utc>) {
        for l in &mut self.lbs {
            if l.keepalived == Proc::Stopped && (l.state != VrrpState::Stopped || l.holds_vip) {
                l.state = VrrpState::Stopped;
                l.holds_vip = false;
                l.last_transition = now;
            }
        }
        // Running masters that see each other: the highest priority keeps it (keepalived resolves this at once).
        let running_masters: Vec<usize> =
            (0..self.lbs.len()).filter(|&i| self.lbs[i].keepalived == Proc::Running && self.lbs[i].state == VrrpState::Master).collect();
        if running_masters.len() > 1 {
            let keep = *running_masters.iter().max_by_key(|&&i| self.lbs[i].effective_priority()).unwrap();
            for &i in &running_masters {
                if i != keep {
                    self.set_vrrp(i, VrrpState::Backup, false, now);
                }
            }
        }
        // Who should own the VIP: the highest effective priority among running keepalived.
        let desired = (0..self.lbs.len())
            .filter(|&i| self.lbs[i].keepalived == Proc::Running)
            .max_by_key(|&i| (self.lbs[i].effective_priority(), std::cmp::Reverse(i)));
        let advertising = (0..self.lbs.len()).find(|&i| self.lbs[i].keepalived == Proc::Running && self.lbs[i].state == VrrpState::Master);
        for i in 0..self.lbs.len() {
            if self.lbs[i].keepalived == Proc::Running && self.lbs[i].state == VrrpState::Stopped {
                self.set_vrrp(i, VrrpState::Backup, false, now);
            }
        }
        match (desired, advertising) {
            (Some(d), Some(a)) if d == a => self.pending_takeover = None,
            (Some(d), adv) => {
                let due = match self.pending_takeover {
                    Some((p, due)) if p == d => due,
                    _ => {
                        // A cleanly stopped owner sends priority 0: the peer takes over at once.
                        // Otherwise the peer waits for the master-down interval (3 adverts + skew).
                        let frozen_owner = self.lbs.iter().any(|l| l.keepalived == Proc::Frozen && l.holds_vip);
                        let ms = if adv.is_none() && !frozen_owner { 460 } else { 3_440 };
                        let due = now + Duration::milliseconds(ms);
                        self.pending_takeover = Some((d, due));
                        due
                    }
                };
                if now >= due {
                    if let Some(a) = adv {
                        self.set_vrrp(a, VrrpState::Backup, false, now);
                    }
                    self.set_vrrp(d, VrrpState::Master, true, now);
                    self.pending_takeover = None;
                }
            }
            (None, _) => self.pending_takeover = None,
        }
    }

    fn set_vrrp(&mut self, i: usize, state: VrrpState, holds: bool, now: DateTime<Utc>) {
        let l = &mut self.lbs[i];
        let changed = l.state != state;
        if changed {
            l.last_transition = now;
        }
        l.state = state;
        l.holds_vip = holds;
        if changed {
            let (name, st) = (l.name.clone(), state.label());
            self.log(now, &name, "keepalived", format!("Keepalived_vrrp: (VI_1) Entering {st} STATE"));
            if holds {
                let vip = self.plan.vip.as_ref().map(|v| v.address.to_string()).unwrap_or_default();
                self.log(now, &name, "keepalived", format!("Keepalived_vrrp: (VI_1) Sending/queueing gratuitous ARPs on eth0 for {vip}"));
            }
        }
    }

    fn log(&mut self, at: DateTime<Utc>, host: &str, unit: &str, text: String) {
        if self.logs.len() < 10_000 {
            self.logs.push(crate::logs::LogLine { at, source: std::sync::Arc::from(format!("journal {host} {unit}")), text });
        }
    }

    /// Log lines written since the last call.
    pub fn drain_logs(&mut self) -> Vec<crate::logs::LogLine> {
        std::mem::take(&mut self.logs)
    }

    fn step_haproxy(&mut self, now: DateTime<Utc>) {
        for l in 0..self.lbs.len() {
            for m in 0..self.masters.len() {
                let healthy = self.masters[m].serving(now);
                let t = self.tracks.get_mut(&(l, m)).expect("track");
                let shows_up = matches!(t.status, ServerStatus::Up | ServerStatus::GoingDown);
                if healthy == shows_up {
                    t.since = None;
                    t.status = if healthy { ServerStatus::Up } else { ServerStatus::Down };
                    continue;
                }
                let since = *t.since.get_or_insert(now);
                let waited = (now - since).num_milliseconds();
                // inter 1s, fall 2, rise 2: one failed check shows "UP 1/2", the second flips it.
                if waited >= 2_000 {
                    t.status = if healthy { ServerStatus::Up } else { ServerStatus::Down };
                    t.since = None;
                    t.last_change = now;
                    let (lb, srv) = (self.lbs[l].name.clone(), self.masters[m].name.clone());
                    let text = if healthy {
                        format!(
                            "haproxy[1123]: Server kube-apiserver/{srv} is UP, reason: Layer7 check passed, code: 200, check duration: 2ms."
                        )
                    } else {
                        format!("haproxy[1123]: Server kube-apiserver/{srv} is DOWN, reason: Layer4 timeout, check duration: 1001ms.")
                    };
                    self.log(now, &lb, "haproxy", text);
                } else if waited >= 1_000 {
                    t.status = if healthy { ServerStatus::GoingUp } else { ServerStatus::GoingDown };
                }
            }
        }
    }

    fn etcd_up(&self, i: usize) -> bool {
        self.masters[i].host_up && self.masters[i].etcd_up
    }

    fn step_etcd(&mut self, now: DateTime<Utc>, dt_ms: i64) {
        let n = self.masters.len();
        let up: Vec<usize> = (0..n).filter(|&i| self.etcd_up(i)).collect();
        let quorum = n / 2 + 1;
        if let Some(l) = self.etcd_leader
            && (!self.etcd_up(l) || up.len() < quorum)
        {
            self.etcd_leader = None;
        }
        if self.etcd_leader.is_none() && up.len() >= quorum {
            let at = *self.etcd_election_at.get_or_insert(now + Duration::milliseconds(1_200));
            if now >= at {
                let pick = up[self.rng.range(0, up.len() as u64 - 1) as usize];
                self.etcd_leader = Some(pick);
                self.etcd_term += 1;
                self.etcd_election_at = None;
                let (name, term) = (self.masters[pick].name.clone(), self.etcd_term);
                self.log(now, &name, "etcd", format!("raft.node: {pick:x} elected leader {pick:x} at term {term}"));
            }
        } else {
            self.etcd_election_at = None;
        }
        if self.etcd_leader.is_some() && !self.etcd_nospace && dt_ms > 0 {
            let writes = self.rng.range(20, 80) * dt_ms as u64 / 1000;
            self.etcd_index += writes;
            self.etcd_db += writes * 64;
        }
    }

    fn step_leases(&mut self, now: DateTime<Utc>) {
        let ready: Vec<usize> = (0..self.masters.len()).filter(|&i| self.masters[i].serving(now)).collect();
        let api_ok = self.etcd_leader.is_some();
        for i in 0..self.elections.len() {
            let holder = self.elections[i].holder;
            let holder_ok = ready.contains(&holder) && api_ok;
            if holder_ok {
                if (now - self.elections[i].renew).num_milliseconds() >= 2_000 {
                    self.elections[i].renew = now;
                }
            } else if api_ok
                && (now - self.elections[i].renew).num_seconds() >= 15
                && let Some(&next) = ready.iter().find(|&&r| r != holder)
            {
                let e = &mut self.elections[i];
                e.holder = next;
                e.renew = now;
                e.acquire = now;
                e.transitions += 1;
                let (who, lease) = (self.masters[next].name.clone(), self.elections[i].name.clone());
                self.log(now, &who, &lease, format!("leaderelection.go:253] successfully acquired lease kube-system/{lease}"));
            }
        }
        for node in &mut self.nodes {
            let alive = node.host.is_none_or(|h| self.masters[h].host_up);
            if alive && api_ok && (now - node.lease_renew).num_seconds() >= 10 {
                node.lease_renew = now;
            }
        }
    }

    fn step_nodes(&mut self, now: DateTime<Utc>, dt_ms: i64) {
        for i in 0..self.nodes.len() {
            let alive = self.nodes[i].host.is_none_or(|h| self.masters[h].host_up);
            let node = &mut self.nodes[i];
            if alive {
                node.ready = true;
                node.not_ready_since = None;
            } else {
                let since = *node.not_ready_since.get_or_insert(now);
                // node-monitor-grace-period: 40 s without heartbeats.
                if (now - since).num_seconds() >= 40 {
                    node.ready = false;
                }
            }
        }
        // Pods come and go on schedulable workers (a few nodes per second, so large clusters stay calm).
        if dt_ms > 0 && !self.nodes.is_empty() {
            let changes = 1 + self.nodes.len() / 500;
            for _ in 0..changes {
                if self.rng.range(0, 3) != 0 {
                    continue;
                }
                let i = self.rng.range(0, self.nodes.len() as u64 - 1) as usize;
                let n = &mut self.nodes[i];
                if n.control_plane || n.unschedulable || !n.ready {
                    continue;
                }
                if self.rng.range(0, 1) == 0 && n.pods > n.daemonset_pods + 20 {
                    n.pods -= 1;
                } else if n.pods < 100 {
                    n.pods += 1;
                }
            }
        }
    }

    fn step_ceph(&mut self, now: DateTime<Utc>) {
        for o in &mut self.osds {
            if o.up {
                o.down_since = None;
            } else if o.down_since.is_none() {
                o.down_since = Some(now);
            }
        }
    }

    fn step_runs(&mut self, now: DateTime<Utc>) {
        let mut runs = std::mem::take(&mut self.runs);
        for run in &mut runs {
            while let Some((due, _)) = run.queue.front() {
                if *due > now {
                    break;
                }
                let (_, step) = run.queue.pop_front().unwrap();
                self.run_step(run, step, now);
            }
        }
        runs.retain(|r| !r.queue.is_empty());
        self.runs.extend(runs);
    }

    fn run_step(&mut self, run: &mut Run, step: Step, now: DateTime<Utc>) {
        let id = run.id;
        let emit = |s: &mut SimCluster, text: String, ok: bool| s.finished.push(OpEvent::Step { id, text, ok });
        match step {
            Step::Say(t) => emit(self, t, true),
            Step::Cordon(node, on) => {
                if let Some(n) = self.nodes.iter_mut().find(|n| n.name == node) {
                    n.unschedulable = on;
                    emit(self, format!("node {node} spec.unschedulable={on}"), true);
                } else {
                    self.fail(run, format!("node {node} not found"));
                }
            }
            Step::EvictSome(node) => {
                let Some(i) = self.nodes.iter().position(|n| n.name == node) else {
                    return self.fail(run, format!("node {node} not found"));
                };
                let movable = self.nodes[i].pods - self.nodes[i].daemonset_pods;
                if movable == 0 {
                    emit(self, format!("{node}: only DaemonSet pods remain ({})", self.nodes[i].daemonset_pods), true);
                    run.queue.push_front((now, Step::Finish(format!("{node} drained"))));
                    return;
                }
                let batch = movable.min(4);
                self.nodes[i].pods -= batch;
                let targets: Vec<usize> = (0..self.nodes.len())
                    .filter(|&j| j != i && !self.nodes[j].control_plane && !self.nodes[j].unschedulable && self.nodes[j].ready)
                    .collect();
                for k in 0..batch as usize {
                    if let Some(&t) = targets.get(k % targets.len().max(1)) {
                        self.nodes[t].pods += 1;
                    }
                }
                emit(self, format!("{node}: evicted {batch} pod(s), {} left to move", movable - batch), true);
                run.queue.push_front((now + Duration::milliseconds(400), Step::EvictSome(node)));
            }
            Step::Demote(lb) => {
                if let Some(l) = self.lbs.iter_mut().find(|l| l.name == lb) {
                    l.demoted = true;
                    emit(self, format!("{lb}: keepalived demoted (track_file weight -100)"), true);
                }
            }
            Step::StopKeepalived(lb) => {
                if let Some(l) = self.lbs.iter_mut().find(|l| l.name == lb) {
                    l.keepalived = Proc::Stopped;
                    emit(self, format!("{lb}: keepalived stopped"), true);
                }
            }
            Step::Restore(lb) => {
                if let Some(l) = self.lbs.iter_mut().find(|l| l.name == lb) {
                    l.demoted = false;
                    if l.keepalived == Proc::Stopped {
                        l.keepalived = Proc::Running;
                    }
                    let prio = l.priority;
                    emit(self, format!("{lb}: priority restored to {prio}"), true);
                }
                run.queue.push_front((now, Step::Finish(format!("{lb} restored"))));
            }
            Step::WaitVipOn { lb, started, deadline } => {
                let on = self.lbs.iter().filter(|l| l.holds_vip).map(|l| l.name.clone()).collect::<Vec<_>>();
                if on == vec![lb.clone()] {
                    let took = (now - started).num_milliseconds();
                    emit(self, format!("VIP on {lb} after {:.1}s", took as f64 / 1000.0), true);
                    let gap = if self.lbs.iter().any(|l| l.keepalived == Proc::Stopped) { 0.5 } else { 0.0 };
                    emit(self, "apiserver answers through the VIP".into(), true);
                    run.queue.push_front((now, Step::Finish(format!("VIP on {lb}; clients could not connect for {gap:.1}s"))));
                } else if now > deadline {
                    self.fail(run, format!("VIP not on {lb} within the deadline (on: {})", on.join(",")));
                } else {
                    run.queue.push_front((now + Duration::milliseconds(200), Step::WaitVipOn { lb, started, deadline }));
                }
            }
            Step::RenewOn(idx) => {
                let name = self.masters[idx].name.clone();
                if !self.masters[idx].host_up {
                    return self.fail(
                        run,
                        format!("{name}: unreachable; renewal stopped here. Masters before it are renewed, the rest untouched."),
                    );
                }
                for c in &mut self.masters[idx].certs {
                    if !c.is_ca {
                        c.not_after = now + Duration::days(365);
                    }
                }
                self.masters[idx].restarting_until = Some(now + Duration::milliseconds(2_500));
                emit(self, format!("{name}: PKI backed up to /etc/kubernetes/pki.bak-{}", now.format("%Y%m%d%H%M%S")), true);
                emit(self, format!("{name}: kubeadm certs renew all; restarting control-plane"), true);
                run.queue.push_front((
                    now + Duration::milliseconds(500),
                    Step::WaitMasterHealthy { idx, deadline: now + Duration::seconds(60) },
                ));
            }
            Step::WaitMasterHealthy { idx, deadline } => {
                let all_up = (0..self.lbs.len()).all(|l| self.tracks[&(l, idx)].status == ServerStatus::Up);
                let m = &self.masters[idx];
                if m.serving(now) && all_up {
                    let name = m.name.clone();
                    self.masters[idx].serving_not_after = now + Duration::days(365);
                    emit(self, format!("{name}: apiserver, etcd and haproxy backends healthy; serving the new certificate"), true);
                } else if now > deadline {
                    let name = m.name.clone();
                    self.fail(
                        run,
                        format!("{name}: not healthy after renewal; restore with cp -a /etc/kubernetes/pki.bak-* /etc/kubernetes/pki"),
                    );
                } else {
                    run.queue.push_front((now + Duration::milliseconds(250), Step::WaitMasterHealthy { idx, deadline }));
                }
            }
            Step::Noout(on) => {
                self.noout = on;
                emit(self, format!("ceph osd {} noout", if on { "set" } else { "unset" }), true);
            }
            Step::Finish(summary) => {
                run.queue.clear();
                self.finished.push(OpEvent::Finished { id, ok: true, summary });
            }
        }
    }

    fn fail(&mut self, run: &mut Run, why: String) {
        run.queue.clear();
        self.finished.push(OpEvent::Step { id: run.id, text: why.clone(), ok: false });
        self.finished.push(OpEvent::Finished { id: run.id, ok: false, summary: why });
    }

    /// Start executing an operation. Progress comes out of [`SimCluster::drain_op_events`].
    pub fn execute(&mut self, id: u64, req: &OpRequest, _cap: &crate::ops::WriteCap, now: DateTime<Utc>) {
        let mut q: VecDeque<(DateTime<Utc>, Step)> = VecDeque::new();
        let at = |ms: i64| now + Duration::milliseconds(ms);
        match req {
            OpRequest::Cordon { node } => {
                q.push_back((now, Step::Cordon(node.clone(), true)));
                q.push_back((at(300), Step::Finish(format!("{node} cordoned"))));
            }
            OpRequest::Uncordon { node } => {
                q.push_back((now, Step::Cordon(node.clone(), false)));
                q.push_back((at(300), Step::Finish(format!("{node} uncordoned"))));
            }
            OpRequest::Drain { node, .. } => {
                q.push_back((now, Step::Cordon(node.clone(), true)));
                q.push_back((at(300), Step::EvictSome(node.clone())));
            }
            OpRequest::VipFailover { to, mode } => {
                let owner = self.owner().map(|i| self.lbs[i].name.clone()).unwrap_or_default();
                match mode {
                    FailoverMode::Graceful => q.push_back((now, Step::Demote(owner))),
                    FailoverMode::Emergency => q.push_back((now, Step::StopKeepalived(owner))),
                }
                q.push_back((at(100), Step::WaitVipOn { lb: to.clone(), started: now, deadline: at(15_000) }));
            }
            OpRequest::RestoreVipPriority { lb } => q.push_back((now, Step::Restore(lb.clone()))),
            OpRequest::RenewCerts { masters } => {
                for (k, name) in masters.iter().enumerate() {
                    if let Some(idx) = self.masters.iter().position(|m| &m.name == name) {
                        q.push_back((at(k as i64), Step::RenewOn(idx)));
                    } else {
                        q.push_back((at(k as i64), Step::Say(format!("{name}: not a master, skipped"))));
                    }
                }
                q.push_back((now, Step::Finish(format!("certificates renewed on {}", masters.join(", ")))));
            }
            OpRequest::SetNoout { on } => {
                q.push_back((now, Step::Noout(*on)));
                q.push_back((at(200), Step::Finish(format!("noout {}", if *on { "set" } else { "unset" }))));
            }
        }
        // Steps that wait re-queue themselves at the front, so the queue must run strictly in order.
        let mut ordered = VecDeque::new();
        let mut last = now;
        for (due, s) in q {
            last = last.max(due);
            ordered.push_back((last, s));
        }
        self.runs.push(Run { id, queue: ordered });
    }

    /// What an operation would do, without doing it (a drain: which pods would move). The demo
    /// cluster counts its pods but does not name them.
    pub fn dry_run(&self, req: &OpRequest) -> Result<crate::ops::DryRun, String> {
        let OpRequest::Drain { node, .. } = req else { return Err(format!("no dry run of {}", req.title())) };
        let n = self.nodes.iter().find(|n| &n.name == node).ok_or_else(|| format!("no node named {node}"))?;
        let evict = n.pods.saturating_sub(n.daemonset_pods);
        let mut lines = vec![format!("{node}: {evict} pod(s) to evict, 0 blocked, {} skipped", n.daemonset_pods)];
        if n.daemonset_pods > 0 {
            lines.push(format!("skip     {} DaemonSet pod(s): they ignore the cordon and stay", n.daemonset_pods));
        }
        if evict > 0 {
            lines.push(format!("evict    {evict} pod(s) of Deployments and StatefulSets"));
        }
        Ok(crate::ops::DryRun { lines, refused: vec![] })
    }

    /// Stop a running operation where it is. A drain leaves its node cordoned: nothing is half-done
    /// because each eviction is a whole step.
    pub fn cancel(&mut self, id: u64) {
        if let Some(i) = self.runs.iter().position(|r| r.id == id) {
            let run = self.runs.remove(i);
            let left = run.queue.iter().filter(|(_, s)| !matches!(s, Step::Finish(_))).count();
            self.finished.push(OpEvent::Finished { id, ok: false, summary: format!("cancelled by the operator ({left} step(s) not run)") });
        }
    }

    /// Operation progress produced since the last call.
    pub fn drain_op_events(&mut self) -> Vec<OpEvent> {
        std::mem::take(&mut self.finished)
    }

    /// Apply a drill's host action to the simulated hosts.
    pub fn host_action(&mut self, a: &crate::drill::HostAction, _cap: &crate::ops::WriteCap, now: DateTime<Utc>) -> Result<String, String> {
        use crate::drill::HostAction as H;
        let _ = now;
        let lb = |s: &mut SimCluster, h: &str| s.lbs.iter().position(|l| l.name == h);
        let master = |s: &SimCluster, h: &str| s.masters.iter().position(|m| m.name == h);
        match a {
            H::Stop { host, service, signal } => {
                let stop = signal != "CONT";
                match (service.as_str(), lb(self, host), master(self, host)) {
                    ("keepalived", Some(i), _) => {
                        self.lbs[i].keepalived = match signal.as_str() {
                            "STOP" => Proc::Frozen,
                            "CONT" => Proc::Running,
                            _ => Proc::Stopped,
                        };
                    }
                    ("haproxy", Some(i), _) => self.lbs[i].haproxy_up = !stop,
                    ("apiserver", _, Some(i)) => self.masters[i].apiserver_up = !stop,
                    ("etcd", _, Some(i)) => self.masters[i].etcd_up = !stop,
                    ("ceph-osd", _, _) => {
                        let mut any = false;
                        for o in self.osds.iter_mut().filter(|o| &o.host == host) {
                            o.up = !stop;
                            any = true;
                        }
                        if !any {
                            return Err(format!("{host} carries no OSD"));
                        }
                    }
                    _ => return Err(format!("{host} runs no {service} in the simulated cluster")),
                }
                Ok(a.describe())
            }
            H::Start { host, service } => {
                match (service.as_str(), lb(self, host), master(self, host)) {
                    ("keepalived", Some(i), _) => self.lbs[i].keepalived = Proc::Running,
                    ("haproxy", Some(i), _) => self.lbs[i].haproxy_up = true,
                    ("apiserver", _, Some(i)) => self.masters[i].apiserver_up = true,
                    ("etcd", _, Some(i)) => self.masters[i].etcd_up = true,
                    ("ceph-osd", _, _) => self.osds.iter_mut().filter(|o| &o.host == host).for_each(|o| o.up = true),
                    _ => return Err(format!("{host} runs no {service} in the simulated cluster")),
                }
                Ok(a.describe())
            }
            H::Cut { host } | H::Heal { host } => {
                let up = matches!(a, H::Heal { .. });
                if let Some(i) = master(self, host) {
                    self.masters[i].host_up = up;
                } else if let Some(i) = lb(self, host) {
                    self.lbs[i].keepalived = if up { Proc::Running } else { Proc::Stopped };
                    self.lbs[i].haproxy_up = up;
                } else {
                    return Err(format!("cutting {host} is not simulated"));
                }
                Ok(a.describe())
            }
        }
    }

    pub fn inject(&mut self, fault: Fault, now: DateTime<Utc>) -> String {
        match fault {
            Fault::StopKeepalivedOnOwner => match self.owner() {
                Some(i) => {
                    self.lbs[i].keepalived = Proc::Stopped;
                    format!("keepalived stopped on {}", self.lbs[i].name)
                }
                None => "no VIP owner to stop".into(),
            },
            Fault::SplitBrain => match self.owner() {
                Some(i) => {
                    self.lbs[i].keepalived = Proc::Frozen;
                    format!("keepalived frozen (SIGSTOP) on {}", self.lbs[i].name)
                }
                None => "no VIP owner to freeze".into(),
            },
            Fault::KillHaproxyOnOwner => match self.owner() {
                Some(i) => {
                    self.lbs[i].haproxy_up = false;
                    format!("haproxy killed on {}", self.lbs[i].name)
                }
                None => "no VIP owner".into(),
            },
            Fault::KillMaster => {
                // Prefer the etcd leader: the interesting case.
                let i = self.etcd_leader.unwrap_or(0).min(self.masters.len().saturating_sub(1));
                match self.masters.get_mut(i) {
                    Some(m) => {
                        m.host_up = false;
                        format!("{} powered off", m.name)
                    }
                    None => "no master".into(),
                }
            }
            Fault::EtcdNospace => {
                self.etcd_nospace = true;
                "etcd database quota exceeded: NOSPACE alarm".into()
            }
            Fault::OsdDown => match self.osds.iter().position(|o| o.up) {
                Some(i) => {
                    let k = (i + 4) % self.osds.len();
                    self.osds[k].up = false;
                    format!("osd.{k} down")
                }
                None => "no OSD up".into(),
            },
            Fault::CertExpiring => match self.masters.first_mut() {
                Some(m) => {
                    for c in &mut m.certs {
                        if c.name == "apiserver" {
                            c.not_after = now + Duration::days(5);
                        }
                    }
                    m.serving_not_after = now + Duration::days(5);
                    format!("{} apiserver certificate expires in 5 days", m.name)
                }
                None => "no master".into(),
            },
            Fault::HealAll => {
                for l in &mut self.lbs {
                    l.keepalived = Proc::Running;
                    l.haproxy_up = true;
                }
                for m in &mut self.masters {
                    m.host_up = true;
                    m.apiserver_up = true;
                    m.etcd_up = true;
                }
                self.etcd_nospace = false;
                for o in &mut self.osds {
                    o.up = true;
                }
                "all faults healed".into()
            }
        }
    }

    /// Everything the probes would see right now.
    pub fn observe(&self, now: DateTime<Utc>) -> Vec<Observation> {
        let mut out = Vec::with_capacity(32);
        let obs = |source: String, payload: Payload| Observation { at: now, source, budget_ms: 3_000, payload };
        let vip = self.plan.vip.as_ref().map(|v| v.address.to_string()).unwrap_or_default();

        // Hosts.
        for h in &self.plan.hosts {
            let down = self.masters.iter().any(|m| m.name == h.name && !m.host_up);
            let result =
                if down { Err(format!("ssh: connect to {}:22: connection timed out", h.address)) } else { Ok(self.host_facts(h, now)) };
            out.push(obs(format!("sim ssh {}", h.name), Payload::Host { host: h.name.clone(), result }));
        }
        // keepalived.
        for (i, l) in self.lbs.iter().enumerate() {
            let result = Ok(VrrpView {
                instance: "VI_1".into(),
                state: l.state,
                priority: l.priority,
                effective_priority: if l.keepalived == Proc::Stopped { 0 } else { l.effective_priority() },
                holds_vip: l.holds_vip,
                last_transition: Some(l.last_transition),
            });
            let _ = i;
            out.push(obs(format!("sim ssh {}", l.name), Payload::Vrrp { lb: l.name.clone(), result }));
        }
        // haproxy.
        for (li, l) in self.lbs.iter().enumerate() {
            let result = if !l.haproxy_up {
                Err("haproxy: connect to /run/haproxy/admin.sock: connection refused".to_string())
            } else {
                Ok(self
                    .masters
                    .iter()
                    .enumerate()
                    .map(|(mi, m)| {
                        let t = &self.tracks[&(li, mi)];
                        let text = match t.status {
                            ServerStatus::Up => "UP",
                            ServerStatus::GoingDown => "UP 1/2",
                            ServerStatus::Down => "DOWN",
                            ServerStatus::GoingUp => "DOWN 1/2",
                            _ => "UP",
                        };
                        let check = match t.status {
                            ServerStatus::Up | ServerStatus::GoingUp => "L7OK",
                            _ if !m.host_up => "L4TOUT",
                            _ => "L4CON",
                        };
                        BackendServer {
                            backend: "kube-apiserver".into(),
                            server: m.name.clone(),
                            address: format!("{}:6443", self.plan.host(&m.name).map(|h| h.address.to_string()).unwrap_or_default()),
                            status: t.status,
                            status_text: text.into(),
                            check_status: Some(check.into()),
                            check_duration_ms: Some(if check == "L7OK" { 2 } else { 1_000 }),
                            last_change_secs: Some((now - t.last_change).num_seconds().max(0) as u64),
                            sessions: if t.status.is_serving() && l.holds_vip { 40 + (mi as u64 * 7) } else { 0 },
                            weight: 1,
                        }
                    })
                    .collect())
            };
            out.push(obs(format!("sim ssh {}", l.name), Payload::Haproxy { lb: l.name.clone(), result }));
        }
        for m in &self.masters {
            let result = if !m.host_up {
                Err("connect: no route to host".to_string())
            } else if !m.serving(now) {
                Err("connect: connection refused".to_string())
            } else if self.etcd_leader.is_none() {
                Ok(Readyz { ok: false, status: 500, detail: "[-]etcd failed".into(), latency_ms: 3.0 })
            } else {
                Ok(Readyz { ok: true, status: 200, detail: "ok".into(), latency_ms: 2.1 })
            };
            out.push(obs("sim https".into(), Payload::Readyz { master: m.name.clone(), result }));
        }
        // The VIP from where kockpit runs.
        let owner_serves = self.lbs.iter().any(|l| l.holds_vip && l.haproxy_up && l.keepalived != Proc::Stopped);
        let vip_result = if owner_serves {
            Ok(VipProbe { address: format!("{vip}:6443"), connect_ms: 0.6 })
        } else {
            Err(format!("connect {vip}:6443: connection refused"))
        };
        out.push(obs("sim tcp".into(), Payload::VipProbe(vip_result)));
        // etcd.
        out.push(obs("sim etcd".into(), Payload::Etcd(Ok(self.etcd_view()))));
        // Leases.
        out.push(obs("sim kube".into(), Payload::Leases(Ok(self.leases()))));
        // Nodes.
        out.push(obs("sim kube".into(), Payload::Nodes(Ok(self.node_list()))));
        // Platform workloads.
        out.push(obs("sim kube".into(), Payload::Workloads(Ok(self.workloads()))));
        // Ceph.
        out.push(obs("sim ceph".into(), Payload::Ceph(Ok(self.ceph_view(now)))));
        // Certificates.
        for m in &self.masters {
            let result = if m.host_up {
                let mut certs = m.certs.clone();
                certs.push(CertInfo {
                    name: "apiserver (served)".into(),
                    subject: "CN=kube-apiserver".into(),
                    issuer: "CN=kubernetes".into(),
                    sans: vec![],
                    not_after: m.serving_not_after,
                    is_ca: false,
                });
                Ok(certs)
            } else {
                Err("ssh: connection timed out".to_string())
            };
            out.push(obs(format!("sim ssh {}", m.name), Payload::Certs { host: m.name.clone(), result }));
        }
        out
    }

    fn host_facts(&self, h: &crate::inventory::Host, now: DateTime<Utc>) -> HostFacts {
        let size = h.size;
        let old_kernel = self.old_kernel_host(&h.name);
        let seed = h.name.bytes().map(u64::from).sum::<u64>();
        let load = (now.timestamp() as u64 / 5 + seed) % 17;
        HostFacts {
            hostname: h.name.clone(),
            kernel: if old_kernel { "3.10.0-1160.el7.x86_64".into() } else { "5.4.278-1.el7.elrepo.x86_64".into() },
            os: "CentOS Linux 7 (Core)".into(),
            uptime_secs: (now - self.booted).num_seconds().max(0) as u64,
            load1: 0.2 + load as f64 / 10.0,
            cpus: size.map(|s| s.cpu).unwrap_or(4),
            mem_total_mb: size.map(|s| u64::from(s.memory_gb) * 1024 - 180).unwrap_or(8 * 1024),
            mem_avail_mb: size.map(|s| u64::from(s.memory_gb) * 1024 * 2 / 5).unwrap_or(2 * 1024),
            disk_total_gb: size.and_then(|s| s.disk_gb).map(u64::from).unwrap_or(100),
            disk_used_pct: 31 + (seed % 30) as u8,
            swap_total_mb: 0,
            firewalld: Some("inactive".into()),
            selinux: Some("Disabled".into()),
            br_netfilter: Some(true),
            bridge_nf_call_iptables: Some(true),
            ip_forward: Some(true),
            time_offset_ms: Some((seed % 7) as i64),
        }
    }

    fn etcd_view(&self) -> EtcdView {
        let members = self
            .masters
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let up = self.etcd_up(i);
                let addr = self.plan.host(&m.name).map(|h| h.address.to_string()).unwrap_or_default();
                EtcdMember {
                    name: m.name.clone(),
                    id: 0x8e9e_05c5_2164_694d_u64.wrapping_mul(i as u64 + 1),
                    endpoint: format!("https://{addr}:2379"),
                    reachable: up,
                    is_leader: up && self.etcd_leader == Some(i),
                    is_learner: false,
                    version: "3.4.13".into(),
                    raft_term: if up { self.etcd_term } else { 0 },
                    raft_index: if up { self.etcd_index } else { 0 },
                    raft_applied_index: if up { self.etcd_index.saturating_sub(i as u64) } else { 0 },
                    db_size: if up { self.etcd_db } else { 0 },
                    db_size_in_use: if up { self.etcd_db * 7 / 10 } else { 0 },
                    error: if up { None } else { Some("context deadline exceeded".into()) },
                }
            })
            .collect();
        let alarms = if self.etcd_nospace {
            self.masters.iter().map(|m| EtcdAlarm { member: m.name.clone(), alarm: "NOSPACE".into() }).take(1).collect()
        } else {
            vec![]
        };
        EtcdView { members, alarms }
    }

    fn leases(&self) -> Vec<Lease> {
        let mut v: Vec<Lease> = self
            .elections
            .iter()
            .map(|e| Lease {
                namespace: "kube-system".into(),
                name: e.name.clone(),
                kind: LeaseKind::LeaderElection,
                holder: self.masters.get(e.holder).map(|m| format!("{}_{:08x}", m.name, e.transitions.wrapping_mul(2_654_435_761))),
                renew_time: Some(e.renew),
                acquire_time: Some(e.acquire),
                duration_secs: 15,
                transitions: e.transitions,
            })
            .collect();
        v.extend(self.nodes.iter().map(|n| Lease {
            namespace: "kube-node-lease".into(),
            name: n.name.clone(),
            kind: LeaseKind::NodeHeartbeat,
            holder: Some(n.name.clone()),
            renew_time: Some(n.lease_renew),
            acquire_time: None,
            duration_secs: 40,
            transitions: 0,
        }));
        v
    }

    fn node_list(&self) -> Vec<Node> {
        let version = self.plan.cluster.kubernetes_version.clone().unwrap_or_else(|| "v1.21.5".into());
        self.nodes
            .iter()
            .map(|n| {
                let host = self.plan.host(&n.name);
                let cpus = host.and_then(|h| h.size).map(|s| s.cpu).unwrap_or(8) as u64;
                let mem = host.and_then(|h| h.size).map(|s| u64::from(s.memory_gb)).unwrap_or(32) * GIB;
                let old_kernel = self.old_kernel_host(&n.name);
                let mut taints = vec![];
                if n.control_plane {
                    taints.push("node-role.kubernetes.io/master:NoSchedule".into());
                }
                if n.unschedulable {
                    taints.push("node.kubernetes.io/unschedulable:NoSchedule".into());
                }
                if !n.ready {
                    taints.push("node.kubernetes.io/unreachable:NoExecute".into());
                }
                Node {
                    name: n.name.clone(),
                    roles: vec![if n.control_plane { "control-plane".into() } else { "worker".into() }],
                    ready: if n.ready { Some(true) } else { None },
                    pressures: vec![],
                    unschedulable: n.unschedulable,
                    taints,
                    cpu_allocatable_m: cpus * 1000 - 200,
                    cpu_requested_m: u64::from(n.pods) * self.pod_cpu_m + if n.control_plane { 650 } else { 0 },
                    cpu_used_m: None,
                    mem_allocatable: mem - GIB / 2,
                    mem_requested: u64::from(n.pods) * self.pod_mem,
                    mem_used: None,
                    pods: n.pods,
                    pods_capacity: 110,
                    kubelet_version: version.clone(),
                    runtime: "docker://20.10.8".into(),
                    kernel: if old_kernel { "3.10.0-1160.el7.x86_64".into() } else { "5.4.278-1.el7.elrepo.x86_64".into() },
                    internal_ip: host.map(|h| h.address.to_string()).unwrap_or_else(|| "10.1.0.1".into()),
                }
            })
            .collect()
    }

    fn workloads(&self) -> Vec<Workload> {
        let nodes = self.nodes.len() as u32;
        let ready_nodes = self.nodes.iter().filter(|n| n.ready).count() as u32;
        let workers = self.nodes.iter().filter(|n| !n.control_plane).count() as u32;
        let masters_up = self.masters.iter().filter(|m| m.host_up).count() as u32;
        let w = |ns: &str, kind: WorkloadKind, name: &str, desired: u32, ready: u32| Workload {
            namespace: ns.into(),
            kind,
            name: name.into(),
            desired,
            ready,
            updated: desired,
            available: ready,
        };
        use WorkloadKind::*;
        vec![
            w("kube-system", Deployment, "coredns", 2, 2),
            w("kube-system", DaemonSet, "kube-proxy", nodes, ready_nodes),
            w("kube-system", DaemonSet, "calico-node", nodes, ready_nodes),
            w("kube-system", Deployment, "calico-kube-controllers", 1, 1),
            w("kube-system", DaemonSet, "nodelocaldns", nodes, ready_nodes),
            w("kubesphere-system", Deployment, "ks-apiserver", 1, masters_up.min(1)),
            w("kubesphere-system", Deployment, "ks-console", 1, 1),
            w("kubesphere-system", Deployment, "ks-controller-manager", 1, 1),
            w("kubesphere-logging-system", DaemonSet, "fluent-bit", nodes, ready_nodes),
            w("rook-ceph", Deployment, "rook-ceph-operator", 1, 1),
            w("rook-ceph", DaemonSet, "csi-rbdplugin", workers, workers.min(ready_nodes)),
            w("rook-ceph", Deployment, "rook-ceph-mgr-a", 1, 1),
        ]
    }

    fn ceph_view(&self, now: DateTime<Utc>) -> CephView {
        let osds = self.osds.len() as u32;
        let up = self.osds.iter().filter(|o| o.up).count() as u32;
        // A down OSD is marked out after 600 s, unless noout is set.
        let out_count =
            self.osds.iter().filter(|o| !self.noout && o.down_since.is_some_and(|d| (now - d).num_seconds() >= 600)).count() as u32;
        let degraded = self.osds.iter().any(|o| o.down_since.is_some_and(|d| (now - d).num_seconds() >= 6));
        let mut checks = vec![];
        if up < osds {
            checks.push(CephCheck { code: "OSD_DOWN".into(), severity: CephHealth::Warn, summary: format!("{} osds down", osds - up) });
        }
        let total_pgs = 193u64;
        let degraded_pgs = if degraded { 64 } else { 0 };
        if degraded {
            checks.push(CephCheck {
                code: "PG_DEGRADED".into(),
                severity: CephHealth::Warn,
                summary: format!("Degraded data redundancy: 11234/101094 objects degraded (11.112%), {degraded_pgs} pgs degraded"),
            });
        }
        if self.noout {
            checks.push(CephCheck { code: "OSDMAP_FLAGS".into(), severity: CephHealth::Warn, summary: "noout flag(s) set".into() });
        }
        let health = checks.iter().map(|c| c.severity).max().unwrap_or(CephHealth::Ok);
        let mut pgs = vec![("active+clean".to_string(), total_pgs - degraded_pgs)];
        if degraded_pgs > 0 {
            pgs.push(("active+undersized+degraded".to_string(), degraded_pgs));
        }
        let mut hosts: Vec<String> = self.osds.iter().map(|o| o.host.clone()).collect();
        hosts.dedup();
        CephView {
            health,
            checks,
            mons: 3,
            mons_in_quorum: 3,
            osds,
            osds_up: up,
            osds_in: osds - out_count,
            pgs_by_state: pgs,
            bytes_used: 2_310 * GIB,
            bytes_total: u64::from(osds) * 1_000 * GIB,
            flags: if self.noout { vec!["noout".into()] } else { vec![] },
            osd_hosts: hosts,
        }
    }
}

/// The certificates kubeadm puts on a master, issued at `issued`.
fn kubeadm_certs(host: &str, issued: DateTime<Utc>) -> Vec<CertInfo> {
    let leaf = issued + Duration::days(365);
    let ca = issued + Duration::days(3650);
    let mk = |name: &str, subject: &str, issuer: &str, not_after, is_ca, sans: Vec<String>| CertInfo {
        name: name.into(),
        subject: subject.into(),
        issuer: issuer.into(),
        sans,
        not_after,
        is_ca,
    };
    vec![
        mk("ca", "CN=kubernetes", "CN=kubernetes", ca, true, vec![]),
        mk("etcd-ca", "CN=etcd-ca", "CN=etcd-ca", ca, true, vec![]),
        mk("front-proxy-ca", "CN=front-proxy-ca", "CN=front-proxy-ca", ca, true, vec![]),
        mk(
            "apiserver",
            "CN=kube-apiserver",
            "CN=kubernetes",
            leaf,
            false,
            vec![host.into(), "kubernetes".into(), "lb.kubesphere.local".into(), "10.0.0.100".into()],
        ),
        mk("apiserver-kubelet-client", "O=system:masters, CN=kube-apiserver-kubelet-client", "CN=kubernetes", leaf, false, vec![]),
        mk("apiserver-etcd-client", "O=system:masters, CN=kube-apiserver-etcd-client", "CN=etcd-ca", leaf, false, vec![]),
        mk("front-proxy-client", "CN=front-proxy-client", "CN=front-proxy-ca", leaf, false, vec![]),
        mk("etcd-server", &format!("CN={host}"), "CN=etcd-ca", leaf, false, vec![host.into(), "localhost".into()]),
        mk("etcd-peer", &format!("CN={host}"), "CN=etcd-ca", leaf, false, vec![host.into()]),
        mk("etcd-healthcheck-client", "O=system:masters, CN=kube-etcd-healthcheck-client", "CN=etcd-ca", leaf, false, vec![]),
        mk("admin.conf", "O=system:masters, CN=kubernetes-admin", "CN=kubernetes", leaf, false, vec![]),
        mk("controller-manager.conf", "CN=system:kube-controller-manager", "CN=kubernetes", leaf, false, vec![]),
        mk("scheduler.conf", "CN=system:kube-scheduler", "CN=kubernetes", leaf, false, vec![]),
        mk(
            "kubelet-client",
            &format!("O=system:nodes, CN=system:node:{host}"),
            "CN=kubernetes",
            issued + Duration::days(340),
            false,
            vec![],
        ),
    ]
}

#[cfg(test)]
mod tests;

/// Advance `sim` from `from` to `to` in 100 ms steps, applying what it sees to `model`.
pub fn advance(sim: &mut SimCluster, model: &mut Model, from: DateTime<Utc>, to: DateTime<Utc>) {
    let mut now = from;
    while now < to {
        now = (now + Duration::milliseconds(100)).min(to);
        sim.step(now);
        for o in sim.observe(now) {
            model.apply(o);
        }
    }
}

/// A demo cluster that has been running for `settle_secs` up to `now`, with `faults` injected at the
/// start: what `kockpit status` and `kockpit render` show for the demo, and what tests and benchmarks use.
pub fn settled_demo(faults: &[Fault], extra_nodes: usize, now: DateTime<Utc>, settle_secs: i64, mode: Mode) -> (SimCluster, Model) {
    let start = now - Duration::seconds(settle_secs);
    let mut sim = SimCluster::demo(start).with_extra_workers(extra_nodes, start);
    let mut model = Model::new(sim.plan().clone(), mode, "demo");
    for o in sim.observe(start) {
        model.apply(o);
    }
    for f in faults {
        sim.inject(*f, start);
    }
    advance(&mut sim, &mut model, start, now);
    (sim, model)
}
