//! The simulated cluster behind `kockpit demo`, drills and scale benchmarks.
//!
//! [`SimCluster`] is a pure state machine driven by a clock: `step(now)` advances it, `observe(now)`
//! produces the same [`Observation`]s live probes produce, and operations and faults change it.
//! It follows the timings measured on real services (keepalived failover 0.5 s after a clean stop,
//! ~3.4 s after a demotion or a frozen owner; haproxy marks a dead backend DOWN after two failed 1 s
//! checks; etcd elects a new leader in ~1.2 s; leases expire after 15 s).

mod exec;
mod faults;
mod haconf;
mod observe;
mod pods;
pub mod runner;
mod world;

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use crate::inventory::Plan;
use crate::model::*;
use crate::ops::{FailoverMode, OpEvent, OpRequest, ServerAdmin};

pub use crate::ops::Fault;

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
    /// kockpit's SSH to this LB is cut: its probes time out, the LB itself goes on.
    ssh_cut: bool,
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
    /// The share of this member's etcd DB that is free pages (a defrag returns them).
    etcd_free_pct: u64,
}

impl Master {
    fn serving(&self, now: DateTime<Utc>) -> bool {
        self.host_up && self.apiserver_up && self.restarting_until.is_none_or(|t| now >= t)
    }
}

#[derive(Debug, Clone)]
struct Track {
    status: ServerStatus,
    /// What the operator set through the Runtime API: None (ready), Drain or Maint.
    admin: Option<ServerStatus>,
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
    WaitVipOn {
        lb: String,
        started: DateTime<Utc>,
        deadline: DateTime<Utc>,
    },
    Restore(String),
    RenewOn(usize),
    WaitMasterHealthy {
        idx: usize,
        deadline: DateTime<Utc>,
    },
    Noout(bool),
    /// Hand etcd's leadership to this master.
    MoveLeader(String),
    /// `set server kube-apiserver/NAME state ...` on every LB (None: ready).
    ServerState(String, Option<ServerStatus>),
    /// Wait for the drained server's sessions to end, then set it in maintenance.
    WaitSessions(String),
    /// Defragment this master's etcd member (the rest of the order follows).
    Defrag(String),
    /// Disarm the NOSPACE alarm.
    Disarm,
    Finish(String),
}

#[derive(Debug, Clone)]
struct Run {
    id: u64,
    queue: VecDeque<(DateTime<Utc>, Step)>,
    /// Where each acting step's intent is noted, as the live executors record theirs.
    cap: std::sync::Arc<crate::ops::WriteCap>,
    /// A maintenance: its parts done so far, and how many it has.
    parts: Option<(usize, usize)>,
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
    /// A drill's etcd client is writing (one write per observation).
    etcd_writes: bool,
    /// A drill's client connects through the VIP (one connect per observation).
    vip_clients: bool,
    /// Observations an operation made (a member defragmented), sent with the next ones.
    made: Vec<Payload>,
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
                ssh_cut: false,
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
                certs: observe::kubeadm_certs(&h.name, installed),
                serving_not_after: installed + Duration::days(365),
                etcd_free_pct: 30,
            })
            .collect();
        let mut tracks = BTreeMap::new();
        for l in 0..lbs.len() {
            for m in 0..masters.len() {
                tracks.insert((l, m), Track { status: ServerStatus::Up, admin: None, since: None, last_change: now - Duration::days(3) });
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
            etcd_writes: false,
            vip_clients: false,
            made: vec![],
            runs: Vec::new(),
            finished: Vec::new(),
            paused: false,
            logs: Vec::new(),
            pod_cpu_m: 80,
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

/// How the timeline says a fault was injected (or healed): `fault injected: keepalived stopped on slb1`.
pub fn fault_said(f: Fault, msg: &str) -> String {
    if f == Fault::HealAll { format!("faults healed: {msg}") } else { format!("fault injected: {msg}") }
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
        // asked for: what follows from it is planned, as for a fault from the menu
        crate::backend::note_planned(&mut model, &[crate::backend::Command::Fault(*f)], start);
        // said as the fault menu says it, also when it found nothing to act on ("no VIP owner to stop")
        let said = sim.inject(*f, start);
        let e = crate::model::Event::new(start, crate::model::PanelId::Timeline, crate::model::Severity::Info, fault_said(*f, &said));
        model.timeline.push(e);
    }
    advance(&mut sim, &mut model, start, now);
    (sim, model)
}
