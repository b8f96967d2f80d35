//! The live backend feeding a model, as the app does, for the lab tests: wait for what the model
//! shows, checking an invariant after every observation on the way.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use kockpit::backend::{BackendEvent, BackendHandle};
use kockpit::inventory::Plan;
use kockpit::model::{Mode, Model, VipVerdict, assess};
use kockpit::probe::{self, LiveSettings};

pub struct Live {
    pub handle: BackendHandle,
    pub model: Model,
}

impl Live {
    pub fn start_with(plan: Plan, settings: LiveSettings) -> Live {
        let handle = probe::spawn(&plan, settings);
        Live { handle, model: Model::new(plan, Mode::ReadOnly, "lab") }
    }

    /// Apply events until `pred` holds; how long that took.
    pub async fn until(&mut self, limit: Duration, what: &str, pred: impl Fn(&Model) -> bool) -> Duration {
        self.until_checking(limit, what, pred, |_| {}).await
    }

    /// Apply events until `pred` holds, checking `invariant` after every observation on the way; how
    /// long that took.
    pub async fn until_checking(
        &mut self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&Model) -> bool,
        invariant: impl Fn(&Model),
    ) -> Duration {
        let started = Instant::now();
        loop {
            invariant(&self.model);
            if pred(&self.model) {
                return started.elapsed();
            }
            let left = limit.saturating_sub(started.elapsed()).min(Duration::from_millis(500));
            if started.elapsed() >= limit {
                panic!("timed out after {}s waiting for: {what}\n{}", limit.as_secs(), describe(&self.model));
            }
            match tokio::time::timeout(left, self.handle.events.recv()).await {
                Ok(Some(BackendEvent::Obs(o))) => {
                    self.model.apply(o);
                }
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => panic!("the live backend stopped while waiting for: {what}"),
            }
        }
    }
}

/// What the model holds of the HA front, for a failure message.
pub fn describe(m: &Model) -> String {
    let mut s = String::new();
    for (lb, v) in &m.vrrp {
        s += &format!("vrrp {lb}: {:?} err {:?}\n", v.data.as_ref().map(|v| (v.state, v.holds_vip)), v.error.as_ref().map(|e| &e.reason));
    }
    for (lb, v) in &m.haproxy {
        let rows: Vec<String> = v.data.iter().flatten().map(|b| format!("{}={}", b.server, b.status_text)).collect();
        s += &format!("haproxy {lb}: {} err {:?}\n", rows.join(" "), v.error.as_ref().map(|e| &e.reason));
    }
    for (h, v) in &m.hosts {
        s += &format!("host {h}: {:?} err {:?}\n", v.data.as_ref().map(|f| &f.hostname), v.error.as_ref().map(|e| &e.reason));
    }
    for e in m.timeline.iter() {
        s += &format!("timeline: {}\n", e.text);
    }
    s
}

/// What must hold at every step while an LB cannot be seen: nobody is said to hold nothing, and no
/// split brain is claimed without two fresh holders.
pub fn never_claims_without_facts(m: &Model) {
    let now = chrono::Utc::now();
    let v = m.vip_verdict(now);
    let a = assess(m, now);
    let unseen = v.unseen().len();
    if unseen > 0 {
        assert!(!matches!(v, VipVerdict::NotHeld), "not held while {unseen} LB(s) unseen: {v:?}\n{}", describe(m));
        assert!(!a.findings.iter().any(|f| f.message.contains("not held")), "{:#?}", a.findings);
    }
    if let VipVerdict::SplitBrain { holders, .. } = &v {
        let fresh = holders.iter().filter(|h| m.vrrp[*h].freshness(now).is_fresh()).count();
        assert!(fresh >= 2, "split brain claimed with {fresh} fresh holder(s): {v:?}");
    }
}
