//! Merging observations into the model, and what goes on the timeline when they change something.

use chrono::{DateTime, Utc};

use super::*;

impl Model {
    /// Merge one observation; record state changes on the timeline. Returns whether anything visible changed.
    pub fn apply(&mut self, obs: Observation) -> bool {
        let Observation { at, source, budget_ms, payload } = obs;
        let changed = match payload {
            Payload::Host { host, result } => {
                let failed = result.as_ref().err().cloned();
                let slot = self.hosts.entry(host.clone()).or_default();
                let was_failing = slot.error.is_some();
                let c = slot.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Hosts, &host, was_failing, failed.as_deref(), c);
                self.note_stream(at, PanelId::Hosts, &format!("facts {host}"), &source) | c
            }
            Payload::Vrrp { lb, mut result } => {
                let before = self.vip_holders();
                let old = self.vrrp.get(&lb).and_then(|s| s.data.as_ref()).map(|v| (v.state, v.last_transition));
                let old_state = old.map(|(s, _)| s);
                // keepalived's own transition time where it says one (its JSON or data dump); else
                // (stopped, ip addr alone) the state's age is kept from the looks: unchanged since
                // the previous one, or changed when this look saw it
                if let Ok(v) = result.as_mut()
                    && v.last_transition.is_none()
                {
                    v.last_transition = match old {
                        Some((s, t)) if s == v.state => t,
                        Some(_) => Some(at),
                        None => None,
                    };
                }
                let failed = result.as_ref().err().cloned();
                let slot = self.vrrp.entry(lb.clone()).or_default();
                let was_failing = slot.error.is_some();
                let c = slot.record(at, &source, budget_ms, result);
                // the probe named: one host's keepalived and haproxy probes failing are two lines
                self.note_source(at, PanelId::Vip, &format!("keepalived {lb}"), was_failing, failed.as_deref(), c);
                let c = self.note_stream(at, PanelId::Vip, &format!("keepalived {lb}"), &source) | c;
                let new_state = self.vrrp.get(&lb).and_then(|s| s.data.as_ref()).map(|v| v.state);
                if let (Some(o), Some(n)) = (old_state, new_state)
                    && o != n
                {
                    let sev = if n == VrrpState::Fault || n == VrrpState::Stopped { Severity::Warn } else { Severity::Info };
                    self.record(Event::new(at, PanelId::Vip, sev, format!("keepalived {lb} {} -> {}", o.label(), n.label())));
                }
                let after = self.vip_holders();
                self.vip_transition(at, &before, &after);
                self.check_prediction(at);
                c
            }
            Payload::Haproxy { lb, result } => {
                let old: BTreeMap<String, ServerStatus> = self
                    .haproxy
                    .get(&lb)
                    .and_then(|s| s.data.as_ref())
                    .map(|v| v.iter().map(|b| (format!("{}/{}", b.backend, b.server), b.status)).collect())
                    .unwrap_or_default();
                let failed = result.as_ref().err().cloned();
                let slot = self.haproxy.entry(lb.clone()).or_default();
                let was_failing = slot.error.is_some();
                let c = slot.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Haproxy, &format!("haproxy {lb}"), was_failing, failed.as_deref(), c);
                let c = self.note_stream(at, PanelId::Haproxy, &format!("haproxy {lb}"), &source) | c;
                if let Some(servers) = self.haproxy.get(&lb).and_then(|s| s.data.clone()) {
                    for b in servers {
                        if let Some(&o) = old.get(&format!("{}/{}", b.backend, b.server))
                            && o != b.status
                            && (o.is_serving() != b.status.is_serving() || matches!(b.status, ServerStatus::Maint | ServerStatus::Drain))
                        {
                            let sev = if b.status.is_serving() { Severity::Info } else { Severity::Warn };
                            let why = b.check_status.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
                            self.record(Event::new(
                                at,
                                PanelId::Haproxy,
                                sev,
                                format!("haproxy {lb} {} {} -> {}{why}", b.server, status_word(o), status_word(b.status)),
                            ));
                        }
                    }
                }
                self.check_prediction(at);
                c
            }
            Payload::Readyz { master, result } => {
                let slot = self.readyz.entry(master).or_default();
                slot.record(at, &source, budget_ms, result)
            }
            Payload::VipProbe(result) => self.vip_probe.record(at, &source, budget_ms, result),
            // a drill counts them; a failed one is on the timeline
            Payload::EtcdWrite(Ok(_)) | Payload::VipClient(Ok(_)) => false,
            Payload::VipClient(Err(e)) => {
                self.record(Event::new(at, PanelId::Vip, Severity::Warn, format!("a drill's client connect through the VIP failed: {e}")));
                true
            }
            Payload::EtcdWrite(Err(e)) => {
                self.record(Event::new(at, PanelId::Etcd, Severity::Warn, format!("a drill's etcd write failed: {e}")));
                true
            }
            // a listing that fails is named by the snapshot finding; the host's own probe puts an SSH
            // failure on the timeline already
            Payload::EtcdSnapshots { host, result } => self.etcd_snapshots.entry(host).or_default().record(at, &source, budget_ms, result),
            Payload::EtcdSnapshotTaken { place } => {
                self.record(Event::new(at, PanelId::Etcd, Severity::Info, format!("etcd snapshot taken: {place}")));
                self.snapshots_taken.push((at, place));
                true
            }
            Payload::Alerts(result) => self.apply_alerts(at, &source, budget_ms, result),
            Payload::EtcdDefragged { member } => {
                self.record(Event::new(at, PanelId::Etcd, Severity::Info, format!("etcd member {member} defragmented")));
                true
            }
            Payload::Etcd(result) => {
                let old_leader = self.etcd.data.as_ref().and_then(|e| e.leader().map(|m| m.name.clone()));
                let old_up: BTreeSet<String> = self
                    .etcd
                    .data
                    .as_ref()
                    .map(|e| e.members.iter().filter(|m| m.reachable).map(|m| m.name.clone()).collect())
                    .unwrap_or_default();
                let had_data = self.etcd.data.is_some();
                let failed = result.as_ref().err().cloned();
                let was_failing = self.etcd.error.is_some();
                let c = self.etcd.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Etcd, "etcd", was_failing, failed.as_deref(), c);
                if let (true, Some(e)) = (had_data, self.etcd.data.clone()) {
                    let new_leader = e.leader().map(|m| m.name.clone());
                    if new_leader != old_leader {
                        let text = match (&old_leader, &new_leader) {
                            (Some(o), Some(n)) => format!("etcd leader {o} -> {n}"),
                            (None, Some(n)) => format!("etcd leader elected: {n}"),
                            (Some(o), None) => format!("etcd has no leader (was {o})"),
                            (None, None) => String::new(),
                        };
                        let sev = if new_leader.is_none() { Severity::Critical } else { Severity::Warn };
                        self.record(Event::new(at, PanelId::Etcd, sev, text));
                    }
                    for m in &e.members {
                        let was = old_up.contains(&m.name);
                        if was && !m.reachable {
                            self.record(Event::new(at, PanelId::Etcd, Severity::Warn, format!("etcd member {} down", m.name)));
                        } else if !was && m.reachable {
                            self.record(Event::new(at, PanelId::Etcd, Severity::Info, format!("etcd member {} up", m.name)));
                        }
                    }
                }
                c
            }
            Payload::Leases(result) => {
                let old: BTreeMap<String, Option<String>> = self
                    .leases
                    .data
                    .as_ref()
                    .map(|ls| {
                        ls.iter()
                            .filter(|l| l.kind == LeaseKind::LeaderElection)
                            .map(|l| (l.name.clone(), l.holder_host().map(str::to_string)))
                            .collect()
                    })
                    .unwrap_or_default();
                let failed = result.as_ref().err().cloned();
                let was_failing = self.leases.error.is_some();
                let c = self.leases.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Leases, "leases", was_failing, failed.as_deref(), c);
                if let Some(ls) = self.leases.data.clone() {
                    for l in ls.iter().filter(|l| l.kind == LeaseKind::LeaderElection) {
                        if let Some(o) = old.get(&l.name) {
                            let n = l.holder_host().map(str::to_string);
                            if *o != n {
                                self.record(Event::new(
                                    at,
                                    PanelId::Leases,
                                    Severity::Warn,
                                    format!("{} leader {} -> {}", l.name, o.as_deref().unwrap_or("-"), n.as_deref().unwrap_or("-")),
                                ));
                            }
                        }
                    }
                }
                c
            }
            Payload::Nodes(result) => {
                self.kube_loading = None;
                let old: BTreeMap<String, (Option<bool>, bool)> = self
                    .nodes
                    .data
                    .as_ref()
                    .map(|ns| ns.iter().map(|n| (n.name.clone(), (n.ready, n.unschedulable))).collect())
                    .unwrap_or_default();
                let failed = result.as_ref().err().cloned();
                let was_failing = self.nodes.error.is_some();
                let c = self.nodes.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Nodes, "nodes", was_failing, failed.as_deref(), c);
                if c && !old.is_empty()
                    && let Some(ns) = self.nodes.data.clone()
                {
                    for n in &ns {
                        let Some(&(ready, unsched)) = old.get(&n.name) else { continue };
                        if ready != n.ready {
                            let (sev, word) = match n.ready {
                                Some(true) => (Severity::Info, "Ready"),
                                Some(false) => (Severity::Warn, "NotReady"),
                                None => (Severity::Warn, "Unknown"),
                            };
                            self.record(Event::new(at, PanelId::Nodes, sev, format!("node {} {word}", n.name)));
                        }
                        if unsched != n.unschedulable {
                            let word = if n.unschedulable { "cordoned" } else { "uncordoned" };
                            self.record(Event::new(at, PanelId::Nodes, Severity::Info, format!("node {} {word}", n.name)));
                        }
                    }
                }
                c
            }
            Payload::Workloads(result) => {
                let old: BTreeMap<String, bool> = self
                    .workloads
                    .data
                    .as_ref()
                    .map(|ws| ws.iter().map(|w| (format!("{}/{}", w.namespace, w.name), w.is_ready())).collect())
                    .unwrap_or_default();
                let failed = result.as_ref().err().cloned();
                let was_failing = self.workloads.error.is_some();
                let c = self.workloads.record(at, &source, budget_ms, result);
                self.note_source(at, PanelId::Platform, "workloads", was_failing, failed.as_deref(), c);
                if c && !old.is_empty() {
                    for w in self.workloads.data.clone().unwrap_or_default() {
                        let key = format!("{}/{}", w.namespace, w.name);
                        if let Some(&was) = old.get(&key)
                            && was != w.is_ready()
                        {
                            let (sev, word) = if w.is_ready() { (Severity::Info, "ready") } else { (Severity::Warn, "not ready") };
                            self.record(Event::new(
                                at,
                                PanelId::Platform,
                                sev,
                                format!("{} {key} {word} ({}/{})", w.kind.short(), w.ready, w.desired),
                            ));
                        }
                    }
                }
                c
            }
            Payload::KubeWarnings(result) => self.apply_warnings(at, &source, budget_ms, result),
            Payload::KubeLoading(l) => {
                // only while the Nodes panel still waits for its first picture
                let c = self.nodes.data.is_none() && self.kube_loading.as_ref() != Some(&l);
                if self.nodes.data.is_none() {
                    self.kube_loading = Some(l);
                }
                c
            }
            Payload::Ceph(result) => self.apply_ceph(at, &source, budget_ms, result, false),
            Payload::RookCeph(result) => self.apply_ceph(at, &source, budget_ms, result, true),
            Payload::Certs { host, result } => {
                let slot = self.certs.entry(host).or_default();
                slot.record(at, &source, budget_ms, result)
            }
            Payload::ControlPlane(result) => self.control_plane.record(at, &source, budget_ms, result),
            Payload::HaConfig { host, result } => {
                let slot = self.ha_config.entry(host).or_default();
                let c = slot.record(at, &source, budget_ms, result);
                // haproxy may have been seen dead before the configuration arrived
                self.check_prediction(at);
                c
            }
        };
        if changed {
            self.revision += 1;
        }
        changed
    }

    /// Warning events: each new one, and each one counted up, goes on the timeline. The first list
    /// (the last hour's, at start) is one summary line instead of a flood of old news.
    fn apply_warnings(&mut self, at: DateTime<Utc>, source: &str, budget_ms: u64, result: Result<Vec<KubeWarning>, String>) -> bool {
        let panel = |w: &KubeWarning| if w.about_a_node() { PanelId::Nodes } else { PanelId::Platform };
        // what is news, found before the new list replaces the old one (the same list again, as the
        // source repeats it to stay fresh, costs one comparison)
        let news: Vec<Event> = match (&result, &self.warnings.data) {
            (Ok(now), None) => now
                .last()
                .map(|newest| {
                    let text = format!("{} Warning event(s) in the last hour; the newest: {}", now.len(), newest.describe());
                    Event::new(at, panel(newest), Severity::Warn, text)
                })
                .into_iter()
                .collect(),
            (Ok(now), Some(old)) if now != old => {
                let before: HashMap<&str, u32> = old.iter().map(|w| (w.key.as_str(), w.count)).collect();
                now.iter()
                    .filter(|w| before.get(w.key.as_str()).is_none_or(|&n| n < w.count))
                    .map(|w| Event::new(at, panel(w), Severity::Warn, w.describe()))
                    .collect()
            }
            _ => Vec::new(),
        };
        let failed = result.as_ref().err().cloned();
        let was_failing = self.warnings.error.is_some();
        let c = self.warnings.record(at, source, budget_ms, result);
        self.note_source(at, PanelId::Platform, "warning events", was_failing, failed.as_deref(), c);
        for e in news {
            self.record(e);
        }
        c
    }

    /// One Ceph view, the CLI's or Rook's. Health changes go on the timeline from the view the panel
    /// shows, so that two sources of the same change do not record it twice.
    fn apply_ceph(&mut self, at: DateTime<Utc>, source: &str, budget_ms: u64, result: Result<CephView, String>, rook: bool) -> bool {
        let old = self.ceph_view().map(|c| c.health);
        let failed = result.as_ref().err().cloned();
        let slot = if rook { &mut self.rook } else { &mut self.ceph };
        let was_failing = slot.error.is_some();
        let c = slot.record(at, source, budget_ms, result);
        self.note_source(at, PanelId::Ceph, if rook { "rook" } else { "ceph" }, was_failing, failed.as_deref(), c);
        if let (Some(o), Some(v)) = (old, self.ceph_view())
            && o != v.health
        {
            let sev = match v.health {
                CephHealth::Ok => Severity::Info,
                CephHealth::Warn => Severity::Warn,
                CephHealth::Err => Severity::Critical,
            };
            let codes: Vec<&str> = v.checks.iter().map(|c| c.code.as_str()).collect();
            let text = format!("ceph {} -> {} {}", o.label(), v.health.label(), codes.join(" "));
            self.record(Event::new(at, PanelId::Ceph, sev, text.trim_end().to_string()));
        }
        c
    }

    /// Log a source failing or recovering on the timeline.
    pub(super) fn note_source(
        &mut self,
        at: DateTime<Utc>,
        panel: PanelId,
        what: &str,
        was_failing: bool,
        failed: Option<&str>,
        changed: bool,
    ) {
        if !changed {
            return;
        }
        match (was_failing, failed) {
            (_, Some(reason)) => self.record_as(Event::new(at, panel, Severity::Warn, format!("{what}: {reason}")), true),
            (true, None) => self.record_as(Event::new(at, panel, Severity::Info, format!("{what}: recovered")), true),
            (false, None) => {}
        }
    }
}

impl Model {
    /// A stream behind `what` failing (its source says `ssh stream FAILED: ...`, `address events stream
    /// FAILED: ...`, `haproxy stats socket watch FAILED: ...`) goes on the timeline once, and once
    /// more when it streams again; whether the timeline changed.
    pub(super) fn note_stream(&mut self, at: DateTime<Utc>, panel: PanelId, what: &str, source: &str) -> bool {
        // which part failed: `address events stream FAILED` -> "address events"; `ssh stream FAILED`
        // (every part) -> "ssh"
        let failed = source.split("; ").find_map(|c| super::notes::failed_stream(c).map(|(part, _)| (c, part)));
        match failed {
            Some((f, part)) if !self.streams_failed.contains_key(what) => {
                self.streams_failed.insert(what.to_string(), part.to_string());
                let polling = source.split("; ").find(|c| c.starts_with("polling every ")).map(|p| format!("; {p}")).unwrap_or_default();
                self.record(Event::new(at, panel, Severity::Warn, format!("{what}: {f}{polling}")));
                true
            }
            None if self.streams_failed.get(what).is_some_and(|part| super::notes::streams_again(source, part)) => {
                self.streams_failed.remove(what);
                self.record(Event::new(at, panel, Severity::Info, format!("{what}: streaming again")));
                true
            }
            _ => false,
        }
    }
}

fn status_word(s: ServerStatus) -> &'static str {
    match s {
        ServerStatus::Up | ServerStatus::GoingDown => "UP",
        ServerStatus::Down | ServerStatus::GoingUp => "DOWN",
        ServerStatus::Maint => "MAINT",
        ServerStatus::Drain => "DRAIN",
        ServerStatus::NoCheck => "no check",
        ServerStatus::Unknown => "?",
    }
}

fn vip_move_event(at: DateTime<Utc>, before: &[String], after: &[String]) -> Event {
    let b = if before.is_empty() { "nobody".to_string() } else { before.join("+") };
    match after.len() {
        0 => Event::new(at, PanelId::Vip, Severity::Critical, format!("VIP lost: was on {b}, now on no host")),
        1 => Event::new(at, PanelId::Vip, Severity::Warn, format!("VIP moved {b} -> {}", after[0])),
        _ => Event::new(at, PanelId::Vip, Severity::Critical, format!("SPLIT BRAIN: VIP on {}", after.join(" and "))),
    }
}

impl Model {
    /// What goes on the timeline when the VIP's holders change (between two observations; a failing
    /// probe changes nothing). Inside a planned window a two-holder or no-holder moment is held back
    /// and reported with its duration when it ends, or as an alarm once it outlasts the brief limit.
    fn vip_transition(&mut self, at: DateTime<Utc>, before: &[String], after: &[String]) {
        // a loss not said yet: a later look that still finds the VIP on no host says it (stamped
        // when it was lost); a holder found since makes it a move, said below with its gap
        if let Some(e) = self.vip_loss_unsaid.take()
            && after.is_empty()
        {
            if at > e.at {
                self.record(e);
            } else {
                self.vip_loss_unsaid = Some(e);
            }
        }
        // an LB whose probe fails counts with its last value, but two holders need two that are seen
        let unseen: Vec<String> = after.iter().filter(|h| self.vrrp.get(*h).is_some_and(|s| s.error.is_some())).cloned().collect();
        if after.len() > 1 && after.len() - unseen.len() <= 1 {
            if before != after {
                let seen: Vec<&String> = after.iter().filter(|h| !unseen.contains(h)).collect();
                let on = seen.first().map(|s| s.as_str()).unwrap_or("no LB seen");
                let text = format!("VIP on {on}; {} not seen (held the VIP when last seen)", unseen.join(" and "));
                self.record(Event::new(at, PanelId::Vip, Severity::Warn, text));
            }
            self.vip_window = None;
            return;
        }
        let named = format!("{} {}", before.join(" "), after.join(" "));
        let planned = self.planned_for(PanelId::Vip, at, &named, false).map(str::to_string);
        if before != after && !(before.is_empty() && self.timeline.is_empty_for(PanelId::Vip)) {
            // a holder keepalived reports BACKUP is letting the address go: with one MASTER beside
            // it, that is a hand-over in progress, not a split brain
            let releasing: Vec<String> = after
                .iter()
                .filter(|h| self.vrrp.get(*h).and_then(|s| s.data.as_ref()).is_some_and(|v| v.state == VrrpState::Backup))
                .cloned()
                .collect();
            let odd = after.len() != 1;
            match (&planned, odd, self.vip_window.take()) {
                (Some(label), true, w) => {
                    // still (or newly) odd inside a planned move: keep the window open
                    let w =
                        w.unwrap_or(VipWindow { since: at, from: before.to_vec(), holders: vec![], label: label.clone(), alarmed: false });
                    self.vip_window = Some(VipWindow { holders: after.to_vec(), ..w });
                }
                (_, _, Some(w)) if !w.alarmed && !odd => {
                    let ms = (at - w.since).num_milliseconds().max(0);
                    let what = if w.holders.is_empty() { "on no host".to_string() } else { format!("on {}", w.holders.join(" and ")) };
                    // two LBs' looks stamped at one instant are not a window anybody saw
                    if ms > 0 {
                        self.timeline.push(Event::new(
                            at,
                            PanelId::Vip,
                            Severity::Info,
                            format!("VIP was {what} for {} ({}, planned)", super::source::fmt_age_ms(ms), w.label),
                        ));
                    }
                    // back where it was: no move to report
                    if w.from.as_slice() != after {
                        self.record(vip_move_event(at, &w.from, after));
                    }
                }
                _ if after.len() > 1 && after.len() - releasing.len() <= 1 => self.record(Event::new(
                    at,
                    PanelId::Vip,
                    Severity::Info,
                    format!("VIP handing over: on {} while {} (BACKUP) lets it go", after.join(" and "), releasing.join(" and ")),
                )),
                _ => {
                    let mut e = match (self.vip_lost.take(), after) {
                        // taken after a moment on no host: from whom, and how long it was on none
                        (Some((since, from)), [_]) if before.is_empty() => {
                            let mut e = vip_move_event(at, &from, after);
                            // (two LBs' looks stamped at one instant show no gap anybody saw)
                            let ms = (at - since).num_milliseconds();
                            if ms > 0 {
                                let gap = if ms < 1000 { format!("{ms} ms") } else { super::source::fmt_age_ms(ms) };
                                e.text = format!("{} (on no host for {gap})", e.text);
                            }
                            e
                        }
                        _ => vip_move_event(at, before, after),
                    };
                    if after.is_empty() && !before.is_empty() {
                        self.vip_lost = Some((at, before.to_vec()));
                        self.vip_loss_unsaid = Some(e);
                    } else {
                        if let [to] = after
                            && let Some(note) = self.settle_prediction(at, to)
                        {
                            e.text = format!("{} ({note})", e.text);
                        }
                        self.record(e)
                    }
                }
            }
        }
        // a planned window that is no longer brief is an alarm after all
        if let Some(w) = self.vip_window.as_mut()
            && !w.alarmed
            && (at - w.since).num_milliseconds() > super::planned::BRIEF_VIP_WINDOW_MS
        {
            w.alarmed = true;
            let secs = super::source::fmt_age_ms((at - w.since).num_milliseconds());
            let text = if w.holders.is_empty() {
                format!("VIP lost: on no host for {secs} (during {})", w.label)
            } else {
                format!("SPLIT BRAIN: VIP on {} for {secs} (during {})", w.holders.join(" and "), w.label)
            };
            let e = Event::new(at, PanelId::Vip, Severity::Critical, text);
            self.timeline.push(e);
        }
    }
}
