//! Operations that change a cluster. Each is plan -> confirm -> execute -> verify:
//! [`plan`] is pure (it reads the model only), the confirm step belongs to the app, execution and
//! verification belong to the backend (live or simulated), and every step lands in the audit log.
//!
//! A backend executes nothing without a [`WriteCap`], and a `WriteCap` exists only in a process that
//! is not read-only: read-only is a property of the process, not of a key binding.

pub mod audit;
mod ceph_guard;
pub mod etcd_plan;
pub mod failover;
mod fault;
pub mod haproxy_plan;
mod host_action;
pub mod maintenance;

pub use fault::Fault;
pub use haproxy_plan::ServerAdmin;
pub use host_action::{ETCD_WRITE_EVERY_MS, ETCD_WRITE_PREFIX, HostAction, VIP_CLIENT_EVERY_MS};

use serde::Serialize;

use crate::model::{Model, PanelId};

/// Proof that this process may change the cluster. It can only be created by [`WriteCap::acquire`],
/// which refuses in read-only mode; it cannot be cloned or built by hand elsewhere.
#[derive(Debug)]
pub struct WriteCap {
    /// Where the intent of every step is recorded before the step acts (None: tests and benchmarks).
    intents: Option<audit::Audit>,
}

impl WriteCap {
    /// The one way to obtain write access. Returns None when the process is read-only.
    pub fn acquire(readonly: bool) -> Option<WriteCap> {
        if readonly { None } else { Some(WriteCap { intents: None }) }
    }
    /// The same capability, with every step's intent recorded in `audit` before the step acts: what the
    /// binary runs with, so a process killed mid-operation leaves a record of what it had started.
    pub fn recording_to(self, audit: audit::Audit) -> WriteCap {
        WriteCap { intents: Some(audit) }
    }
    /// A second token for another task of the same (writable) process.
    pub fn share(&self) -> WriteCap {
        WriteCap { intents: self.intents.clone() }
    }
    /// [`WriteCap::intent`] without waiting for the disk: for the simulated cluster, where a step acts
    /// on nothing real and must not stall the simulation's clock.
    pub fn note_intent(&self, op: u64, step: &str, leaves: &str) {
        if let Some(audit) = &self.intents {
            audit.record("op_intent", serde_json::json!({ "op_id": op, "step": step, "leaves": leaves, "simulated": true }));
        }
    }
    /// Record, durably, that operation `op` is about to `step`, and the state it `leaves` the cluster in
    /// should the process die right after. Err: the record could not be written, so do not act.
    pub async fn intent(&self, op: u64, step: &str, leaves: &str) -> Result<(), String> {
        let Some(audit) = &self.intents else { return Ok(()) };
        let ack = audit.record_durable("op_intent", serde_json::json!({ "op_id": op, "step": step, "leaves": leaves }));
        match ack.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("not done: {step}: its intent could not be recorded ({e})")),
            Err(_) => Err(format!("not done: {step}: the audit writer stopped")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverMode {
    /// Lower the owner's priority (keepalived track_file) so the peer takes over cleanly.
    Graceful,
    /// Stop keepalived on the owner: for when the graceful way cannot work.
    Emergency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainOptions {
    pub delete_emptydir_data: bool,
    pub force_unmanaged: bool,
    pub grace_period_secs: Option<u32>,
    pub timeout_secs: u32,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions { delete_emptydir_data: false, force_unmanaged: false, grace_period_secs: None, timeout_secs: 300 }
    }
}

/// A change someone asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OpRequest {
    Cordon {
        node: String,
    },
    Uncordon {
        node: String,
    },
    Drain {
        node: String,
        options: DrainOptions,
    },
    VipFailover {
        to: String,
        mode: FailoverMode,
    },
    RestoreVipPriority {
        lb: String,
    },
    RenewCerts {
        masters: Vec<String>,
    },
    SetNoout {
        on: bool,
    },
    /// Hand etcd's leadership to another voting member (etcd's MoveLeader), e.g. before maintaining
    /// the leader's master.
    EtcdMoveLeader {
        to: String,
    },
    /// Take one apiserver out of haproxy's rotation (drain, then maintenance) or put it back (ready),
    /// on every LB at once, through the Runtime API.
    HaproxyServer {
        server: String,
        admin: ServerAdmin,
    },
    /// Defragment every etcd member, one at a time, followers first and the leader last.
    EtcdDefrag,
    /// Disarm etcd's NOSPACE alarms (after compaction and a defrag freed the space).
    EtcdDisarm,
    /// Master maintenance (or its end): the parts, in order, are filled in by the planner.
    Maintenance {
        host: String,
        end: bool,
        parts: Vec<OpRequest>,
    },
    /// A snapshot of etcd from its leader, into a file on this machine.
    EtcdSnapshot {
        to: String,
    },
}

impl OpRequest {
    /// What it acts on: the node, the LBs the VIP leaves and goes to, the masters renewed. The
    /// timeline puts what names one of them down to this operation before any other.
    pub fn subjects(&self, m: &Model) -> Vec<String> {
        match self {
            OpRequest::Cordon { node } | OpRequest::Uncordon { node } | OpRequest::Drain { node, .. } => vec![node.clone()],
            OpRequest::VipFailover { to, .. } => std::iter::once(to.clone()).chain(m.vip_holders()).collect(),
            OpRequest::RestoreVipPriority { lb } => vec![lb.clone()],
            OpRequest::RenewCerts { masters } => masters.clone(),
            OpRequest::SetNoout { .. } => vec![],
            OpRequest::EtcdMoveLeader { to } => {
                std::iter::once(to.clone()).chain(m.etcd.data.as_ref().and_then(|e| e.leader()).map(|l| l.name.clone())).collect()
            }
            OpRequest::HaproxyServer { server, .. } => std::iter::once(server.clone()).chain(m.haproxy.keys().cloned()).collect(),
            OpRequest::EtcdDefrag => m.etcd.data.iter().flat_map(|e| e.members.iter().map(|x| x.name.clone())).collect(),
            OpRequest::EtcdDisarm => m.etcd.data.iter().flat_map(|e| e.alarms.iter().map(|a| a.member.clone())).collect(),
            OpRequest::Maintenance { host, parts, .. } => {
                std::iter::once(host.clone()).chain(parts.iter().flat_map(|p| p.subjects(m))).collect()
            }
            OpRequest::EtcdSnapshot { .. } => vec![],
        }
    }
    /// One request of every kind (for tests that must cover every operation). The match makes a new
    /// kind of operation fail to compile until it is listed here.
    pub fn examples() -> Vec<OpRequest> {
        let all = vec![
            OpRequest::Cordon { node: "worker1".into() },
            OpRequest::Uncordon { node: "worker1".into() },
            OpRequest::Drain { node: "worker1".into(), options: DrainOptions::default() },
            OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful },
            OpRequest::RestoreVipPriority { lb: "slb1".into() },
            OpRequest::RenewCerts { masters: vec!["master1".into()] },
            OpRequest::SetNoout { on: true },
            OpRequest::EtcdMoveLeader { to: "master2".into() },
            OpRequest::HaproxyServer { server: "master2".into(), admin: ServerAdmin::Drain },
            OpRequest::HaproxyServer { server: "master2".into(), admin: ServerAdmin::Ready },
            OpRequest::EtcdDefrag,
            OpRequest::EtcdDisarm,
            OpRequest::Maintenance { host: "master2".into(), end: false, parts: vec![] },
            OpRequest::EtcdSnapshot { to: "/tmp/etcd.db".into() },
        ];
        for r in &all {
            match r {
                OpRequest::Cordon { .. }
                | OpRequest::Uncordon { .. }
                | OpRequest::Drain { .. }
                | OpRequest::VipFailover { .. }
                | OpRequest::RestoreVipPriority { .. }
                | OpRequest::RenewCerts { .. }
                | OpRequest::SetNoout { .. }
                | OpRequest::EtcdMoveLeader { .. }
                | OpRequest::HaproxyServer { .. }
                | OpRequest::EtcdDefrag
                | OpRequest::EtcdDisarm
                | OpRequest::Maintenance { .. }
                | OpRequest::EtcdSnapshot { .. } => {}
            }
        }
        all
    }

    /// Why this operation cannot be stopped halfway, or None where it can (a drain stops evicting and
    /// leaves the node cordoned; a renewal stops before the next master).
    pub fn runs_to_its_end(&self) -> Option<&'static str> {
        match self {
            OpRequest::Drain { .. }
            | OpRequest::RenewCerts { .. }
            | OpRequest::EtcdDefrag
            | OpRequest::Maintenance { .. }
            // its wait for the server's sessions stops, leaving it DRAIN on every LB
            | OpRequest::HaproxyServer { admin: ServerAdmin::Drain, .. } => None,
            OpRequest::VipFailover { .. } | OpRequest::RestoreVipPriority { .. } => Some(
                "a VIP half moved is worse than one moved: it runs to its end (bounded, 20 s at most) and reports; \
                 restore the old owner's priority afterwards to move it back",
            ),
            OpRequest::Cordon { .. } | OpRequest::Uncordon { .. } | OpRequest::SetNoout { .. } => {
                Some("one API or ceph call: it is done or refused in a moment, nothing to stop halfway")
            }
            OpRequest::EtcdMoveLeader { .. } => {
                Some("one request to the leader: etcd hands over within an election timeout or refuses, nothing to stop halfway")
            }
            OpRequest::EtcdDisarm => Some("one raft proposal per alarm: done or refused in a moment, nothing to stop halfway"),
            OpRequest::EtcdSnapshot { .. } => {
                Some("a read of etcd into a file: it ends (a partial file is removed) and changes nothing in the cluster")
            }
            OpRequest::HaproxyServer { .. } => Some(
                "a server made ready on some LBs and not on others is worse than either: it runs to its end (a few seconds) \
                 and reports; drain it again to undo",
            ),
        }
    }

    pub fn title(&self) -> String {
        match self {
            OpRequest::Cordon { node } => format!("Cordon {node}"),
            OpRequest::Uncordon { node } => format!("Uncordon {node}"),
            OpRequest::Drain { node, .. } => format!("Drain {node}"),
            OpRequest::VipFailover { to, mode: FailoverMode::Graceful } => format!("Graceful VIP failover to {to}"),
            OpRequest::VipFailover { to, mode: FailoverMode::Emergency } => format!("EMERGENCY VIP failover to {to}"),
            OpRequest::RestoreVipPriority { lb } => format!("Restore keepalived on {lb}"),
            OpRequest::RenewCerts { masters } => format!("Renew certificates on {}", masters.join(", ")),
            OpRequest::SetNoout { on: true } => "Set Ceph noout".to_string(),
            OpRequest::SetNoout { on: false } => "Unset Ceph noout".to_string(),
            OpRequest::EtcdMoveLeader { to } => format!("Move etcd leadership to {to}"),
            OpRequest::HaproxyServer { server, admin: ServerAdmin::Drain } => format!("Drain {server} from haproxy on every LB"),
            OpRequest::HaproxyServer { server, admin: ServerAdmin::Ready } => format!("Make {server} ready in haproxy on every LB"),
            OpRequest::EtcdDefrag => "Defragment etcd, one member at a time".to_string(),
            OpRequest::EtcdDisarm => "Disarm etcd's NOSPACE alarm".to_string(),
            OpRequest::Maintenance { host, end, .. } => format!("{} maintenance of {host}", if *end { "End" } else { "Start" }),
            OpRequest::EtcdSnapshot { to } => format!("Snapshot etcd to {to}"),
        }
    }

    /// How the timeline names what this operation causes: `VIP moved slb2 -> slb1 (restore, planned)`.
    pub fn short_label(&self) -> String {
        match self {
            OpRequest::Cordon { node } => format!("cordon {node}"),
            OpRequest::Uncordon { node } => format!("uncordon {node}"),
            OpRequest::Drain { node, .. } => format!("drain {node}"),
            OpRequest::VipFailover { .. } => "failover".to_string(),
            OpRequest::RestoreVipPriority { .. } => "restore".to_string(),
            OpRequest::RenewCerts { .. } => "renewal".to_string(),
            OpRequest::SetNoout { .. } => "noout".to_string(),
            OpRequest::EtcdMoveLeader { .. } => "move-leader".to_string(),
            OpRequest::HaproxyServer { server, admin: ServerAdmin::Drain } => format!("haproxy drain {server}"),
            OpRequest::HaproxyServer { server, admin: ServerAdmin::Ready } => format!("haproxy ready {server}"),
            OpRequest::EtcdDefrag => "defrag".to_string(),
            OpRequest::EtcdDisarm => "disarm".to_string(),
            OpRequest::Maintenance { host, end, .. } => format!("maintenance{} {host}", if *end { " end" } else { "" }),
            OpRequest::EtcdSnapshot { .. } => "snapshot".to_string(),
        }
    }

    /// The panels whose changes this operation causes (the timeline shows them as planned).
    pub fn panels(&self) -> Vec<PanelId> {
        match self {
            OpRequest::Cordon { .. } | OpRequest::Uncordon { .. } => vec![PanelId::Nodes],
            OpRequest::Drain { .. } => vec![PanelId::Nodes, PanelId::Platform, PanelId::Ceph],
            OpRequest::VipFailover { .. } | OpRequest::RestoreVipPriority { .. } => vec![PanelId::Vip, PanelId::Haproxy],
            OpRequest::RenewCerts { .. } => vec![PanelId::Certs, PanelId::Haproxy, PanelId::Etcd, PanelId::Leases, PanelId::Nodes],
            OpRequest::SetNoout { .. } => vec![PanelId::Ceph],
            OpRequest::EtcdMoveLeader { .. } => vec![PanelId::Etcd],
            OpRequest::HaproxyServer { .. } => vec![PanelId::Haproxy],
            OpRequest::EtcdDefrag | OpRequest::EtcdDisarm | OpRequest::EtcdSnapshot { .. } => vec![PanelId::Etcd],
            OpRequest::Maintenance { .. } => vec![PanelId::Etcd, PanelId::Haproxy, PanelId::Nodes, PanelId::Platform, PanelId::Ceph],
        }
    }
}

/// The drain's eviction step, as its plan and its dry run both word it.
const EVICT_STEP: &str = "evict through the Eviction API, honouring PodDisruptionBudgets, every pod but DaemonSet and mirror pods";

/// What an operation would do, shown before the operator confirms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpPlan {
    pub request: OpRequest,
    pub steps: Vec<String>,
    /// Consequences the operator must read before confirming.
    pub warnings: Vec<String>,
    /// Reasons the operation is refused; a plan with blockers cannot be confirmed.
    pub blockers: Vec<String>,
    /// What a dry run against the cluster found, for operations that have one (a drain asks the API
    /// server which pods would move). None: this operation has no dry run.
    pub dry_run: Option<DryRunState>,
}

impl OpPlan {
    pub fn allowed(&self) -> bool {
        self.blockers.is_empty()
    }
    /// Whether the operator can confirm now: nothing blocks it and its dry run (if any) has answered.
    pub fn confirmable(&self) -> bool {
        self.allowed() && !matches!(self.dry_run, Some(DryRunState::Pending))
    }
    /// Fold a dry run's answer into the plan: pods that need an option the operator did not give
    /// become blockers (the drain itself would refuse them).
    pub fn with_dry_run(mut self, state: DryRunState) -> OpPlan {
        // the dry run knows which pods move: the eviction step says its count, never another
        if let DryRunState::Ready(d) = &state
            && let Some(step) = self.steps.iter_mut().find(|s| s.starts_with(EVICT_STEP))
        {
            *step = format!("{EVICT_STEP}: {} pod(s), as the dry run found ({} skipped)", d.moves, d.skipped);
        }
        if let DryRunState::Ready(d) = &state
            && !d.refused.is_empty()
        {
            let shown: Vec<&str> = d.refused.iter().take(3).map(String::as_str).collect();
            let more = d.refused.len().saturating_sub(shown.len());
            self.blockers.push(format!(
                "{} pod(s) need an option this drain was not given: {}{} (d: allow deleting emptyDir data, f: allow deleting pods without a controller)",
                d.refused.len(),
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ));
        }
        self.dry_run = Some(state);
        self
    }
}

/// A dry run's findings: lines for the operator (what moves, what is blocked and why, what stays) and
/// the pods that need an option the operation was not given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DryRun {
    pub lines: Vec<String>,
    pub refused: Vec<String>,
    /// Pods that would leave the node: all of it but the skipped (DaemonSet, mirror, terminating)
    /// ones, those a PodDisruptionBudget holds for now among them.
    pub moves: usize,
    /// Pods the drain leaves where they are.
    pub skipped: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DryRunState {
    /// Asked; the answer has not arrived yet (confirmation waits for it).
    Pending,
    Ready(DryRun),
    /// The dry run could not be made; the operation can still be confirmed, on the planner's word alone.
    Failed {
        reason: String,
    },
}

/// Progress reported by a backend while it executes an operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OpEvent {
    Step { id: u64, text: String, ok: bool },
    Finished { id: u64, ok: bool, summary: String },
}

impl OpEvent {
    pub fn id(&self) -> u64 {
        match self {
            OpEvent::Step { id, .. } | OpEvent::Finished { id, .. } => *id,
        }
    }
}

/// Plan an operation against the current model. Pure: reads the model, changes nothing.
pub fn plan(req: &OpRequest, m: &Model) -> OpPlan {
    let mut p = OpPlan { request: req.clone(), steps: vec![], warnings: vec![], blockers: vec![], dry_run: None };
    if matches!(req, OpRequest::Drain { .. }) {
        p.dry_run = Some(DryRunState::Pending);
    }
    match req {
        OpRequest::Cordon { node } | OpRequest::Uncordon { node } => {
            let cordon = matches!(req, OpRequest::Cordon { .. });
            match m.node(node) {
                None => p.blockers.push(format!("no node named {node} in the node list")),
                Some(n) => {
                    if cordon && n.unschedulable {
                        p.blockers.push(format!("{node} is already cordoned"));
                    }
                    if !cordon && !n.unschedulable {
                        p.blockers.push(format!("{node} is not cordoned"));
                    }
                    p.steps.push(format!("patch node {node}: spec.unschedulable = {cordon}"));
                    p.steps.push("verify the node list shows the change".into());
                    if cordon && n.is_control_plane() {
                        p.warnings.push(format!("{node} is a control-plane node"));
                    }
                }
            }
        }
        OpRequest::Drain { node, options } => plan_drain(&mut p, m, node, options),
        OpRequest::VipFailover { to, mode } => failover::plan(&mut p, m, to, *mode),
        OpRequest::RestoreVipPriority { lb } => {
            p.steps.push(match m.plan.lb.demote {
                crate::inventory::DemoteMethod::TrackFile => format!("{lb}: remove the demotion weight (track_file back to 0)"),
                crate::inventory::DemoteMethod::Priority => format!("{lb}: put keepalived.conf back as it was and reload keepalived"),
            });
            p.steps.push(format!("{lb}: start keepalived if it is stopped"));
            p.steps.push("verify keepalived reports the configured priority".into());
            let carrier = m.vrrp.contains_key(lb) || m.plan.keepalived_hosts().iter().any(|h| h.name == *lb);
            match m.vrrp.get(lb).and_then(|s| s.data.as_ref()) {
                _ if !carrier => p.blockers.push(format!("{lb} is not a keepalived load balancer of this cluster")),
                None => p.warnings.push(format!("{lb}'s keepalived is not observed now: the restore is checked on the host")),
                Some(v) => {
                    let by_priority = m.plan.lb.demote == crate::inventory::DemoteMethod::Priority;
                    let running = matches!(v.state, crate::model::VrrpState::Master | crate::model::VrrpState::Backup);
                    if running && !v.left_by_failover(by_priority) {
                        p.warnings.push(format!(
                            "nothing seems to need restoring: {lb}'s keepalived runs as {} at its configured priority {}",
                            v.state.label(),
                            v.priority
                        ));
                    } else if !v.holds_vip {
                        p.warnings.push(format!("if {lb} has the highest priority and preemption is on, the VIP moves back to {lb}"));
                    }
                }
            }
        }
        OpRequest::RenewCerts { masters } => {
            if masters.is_empty() {
                p.blockers.push("no master to renew".into());
            }
            let known: Vec<&str> = m.plan.masters().map(|h| h.name.as_str()).collect();
            for other in masters.iter().filter(|n| !known.contains(&n.as_str())) {
                p.blockers.push(if known.is_empty() {
                    format!("{other} is not a master of the plan (it names none: renewal needs the masters' hosts)")
                } else {
                    format!("{other} is not a master of the plan (its masters: {})", known.join(", "))
                });
            }
            for mname in masters {
                p.steps.push(format!("{mname}: back up /etc/kubernetes/pki, kubeadm certs renew all, restart control-plane, wait healthy"));
            }
            p.steps.push("stop at the first failure; the other masters stay untouched".into());
            let etcd_can_lose = m.etcd.data.as_ref().map(|e| e.can_lose()).unwrap_or(1);
            if etcd_can_lose < 1 {
                p.blockers.push("etcd cannot lose a member: restarting a master's etcd would lose quorum".into());
            }
            let serving = serving_backends(m);
            if serving < 2 && masters.len() > 1 {
                p.warnings.push(format!("only {serving} apiserver(s) serving through haproxy: restarts may interrupt the API"));
            }
        }
        OpRequest::EtcdMoveLeader { to } => etcd_plan::plan_move_leader(&mut p, m, to),
        OpRequest::HaproxyServer { server, admin } => haproxy_plan::plan_server(&mut p, m, server, *admin),
        OpRequest::EtcdDefrag => etcd_plan::plan_defrag(&mut p, m),
        OpRequest::EtcdDisarm => etcd_plan::plan_disarm(&mut p, m),
        OpRequest::Maintenance { host, end, .. } => maintenance::plan_maintenance(&mut p, m, host, *end),
        OpRequest::EtcdSnapshot { to } => etcd_plan::plan_snapshot(&mut p, m, to),
        OpRequest::SetNoout { on } => {
            let set = m.ceph_view().is_some_and(|c| c.flags.iter().any(|f| f == "noout"));
            if *on && set {
                p.blockers.push("noout is already set".into());
            }
            if !*on && !set {
                p.blockers.push("noout is not set".into());
            }
            p.steps.push(format!("ceph osd {} noout", if *on { "set" } else { "unset" }));
            if *on {
                p.warnings.push("while noout is set, down OSDs are not marked out: data is not re-replicated".into());
            }
        }
    }
    maintenance::silence_step(&mut p, m);
    p
}

fn serving_backends(m: &Model) -> usize {
    let mut up = std::collections::BTreeSet::new();
    for s in m.haproxy.values() {
        for b in s.data.iter().flatten() {
            if b.status.is_serving() {
                up.insert(b.server.clone());
            }
        }
    }
    up.len()
}

fn plan_drain(p: &mut OpPlan, m: &Model, node: &str, options: &DrainOptions) {
    let Some(n) = m.node(node) else {
        p.blockers.push(format!("no node named {node} in the node list"));
        return;
    };
    let nodes = m.nodes.data.as_deref().unwrap_or_default();
    if n.is_control_plane() {
        let other_ready_cp =
            nodes.iter().filter(|o| o.name != node && o.is_control_plane() && o.ready == Some(true) && !o.unschedulable).count();
        if other_ready_cp == 0 {
            p.blockers.push(format!("{node} is the last Ready control-plane node: draining it would leave no schedulable control plane"));
        }
    }
    let others = nodes.iter().filter(|o| o.name != node && o.ready == Some(true) && !o.unschedulable && !o.is_control_plane()).count();
    if others == 0 && !n.is_control_plane() {
        p.blockers.push("no other schedulable worker: evicted pods would have nowhere to go".into());
    } else if let Some(why) = does_not_fit(n, nodes) {
        p.blockers.push(why);
    }
    if let Some(e) = &m.etcd.data
        && e.leader().is_some_and(|l| l.name == node)
    {
        p.warnings.push(format!(
            "{node} hosts the etcd leader: a drain leaves its static pods (etcd, the apiserver) running, but if the master goes down next, move the leadership off it first (etcd move-leader)"
        ));
    }
    if ceph_guard::is_osd_host(m, node) {
        p.blockers.extend(ceph_guard::drain_blockers(m, node));
        let noout = m.ceph_view().is_some_and(|c| c.flags.iter().any(|f| f == "noout"));
        if !noout {
            p.warnings.push(format!(
                "{node} hosts Ceph OSDs and noout is not set: Ceph will start re-replicating their data (to avoid it: cancel, set noout, drain again)"
            ));
        }
    }
    p.steps.push(format!("cordon {node}"));
    p.steps.push(format!("{EVICT_STEP} ({} on the node in all, DaemonSet and mirror pods among them; the dry run counts)", n.pods));
    if options.delete_emptydir_data {
        p.warnings.push("pods with emptyDir volumes will lose that data".into());
    }
    if options.force_unmanaged {
        p.warnings.push("pods without a controller will be deleted and not recreated".into());
    }
    p.steps.push(format!(
        "wait until only DaemonSet and static (mirror) pods remain (timeout {}s); cancel leaves the node cordoned",
        options.timeout_secs
    ));
}

/// Whether the pods of `n` fit on the nodes that can take them (Ready, schedulable, no NoSchedule or
/// NoExecute taint): their requests against the others' free allocatable, their count against the free
/// pod slots. Counted in aggregate (per-pod requests are the dry run's), so a drain that passes here
/// can still leave a pod pending when no single node has room for it.
fn does_not_fit(n: &crate::model::Node, nodes: &[crate::model::Node]) -> Option<String> {
    let takes = |o: &crate::model::Node| {
        o.name != n.name
            && o.ready == Some(true)
            && !o.unschedulable
            && !o.taints.iter().any(|t| t.ends_with(":NoSchedule") || t.ends_with(":NoExecute"))
    };
    let targets: Vec<&crate::model::Node> = nodes.iter().filter(|o| takes(o)).collect();
    let free_cpu: u64 = targets.iter().map(|o| o.cpu_allocatable_m.saturating_sub(o.cpu_requested_m)).sum();
    let free_mem: u64 = targets.iter().map(|o| o.mem_allocatable.saturating_sub(o.mem_requested)).sum();
    let free_pods: u64 = targets.iter().map(|o| u64::from(o.pods_capacity.saturating_sub(o.pods))).sum();
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let mut short = vec![];
    if n.cpu_requested_m > free_cpu {
        short.push(format!("CPU requests {}m > {}m free", n.cpu_requested_m, free_cpu));
    }
    if n.mem_requested > free_mem {
        short.push(format!("memory requests {} > {} free", gib(n.mem_requested), gib(free_mem)));
    }
    if u64::from(n.pods) > free_pods {
        short.push(format!("{} pods > {} free pod slots", n.pods, free_pods));
    }
    (!short.is_empty())
        .then(|| format!("the pods of {} do not fit on the {} node(s) that could take them: {}", n.name, targets.len(), short.join(", ")))
}

#[cfg(test)]
mod tests;
