//! How the simulated world moves on by itself: VRRP, haproxy checks, etcd, leases, nodes, Ceph.

use chrono::{DateTime, Duration, Utc};

use super::*;

impl SimCluster {
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

    pub(super) fn step_vrrp(&mut self, now: DateTime<Utc>) {
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

    pub(super) fn set_vrrp(&mut self, i: usize, state: VrrpState, holds: bool, now: DateTime<Utc>) {
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

    pub(super) fn log(&mut self, at: DateTime<Utc>, host: &str, unit: &str, text: String) {
        if self.logs.len() < 10_000 {
            self.logs.push(crate::logs::LogLine { at, source: std::sync::Arc::from(format!("journal {host} {unit}")), text });
        }
    }

    /// Log lines written since the last call.
    pub fn drain_logs(&mut self) -> Vec<crate::logs::LogLine> {
        std::mem::take(&mut self.logs)
    }

    /// What the operations made since the last call (a member defragmented), as observations.
    pub fn drain_made(&mut self, now: DateTime<Utc>) -> Vec<Observation> {
        std::mem::take(&mut self.made)
            .into_iter()
            .map(|payload| Observation { at: now, source: "sim".into(), budget_ms: 3_000, payload })
            .collect()
    }

    pub(super) fn step_haproxy(&mut self, now: DateTime<Utc>) {
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

    pub(super) fn etcd_up(&self, i: usize) -> bool {
        self.masters[i].host_up && self.masters[i].etcd_up
    }

    pub(super) fn step_etcd(&mut self, now: DateTime<Utc>, dt_ms: i64) {
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

    pub(super) fn step_leases(&mut self, now: DateTime<Utc>) {
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

    pub(super) fn step_nodes(&mut self, now: DateTime<Utc>, dt_ms: i64) {
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

    pub(super) fn step_ceph(&mut self, now: DateTime<Utc>) {
        for o in &mut self.osds {
            if o.up {
                o.down_since = None;
            } else if o.down_since.is_none() {
                o.down_since = Some(now);
            }
        }
    }
}
