//! Changes kockpit itself causes: an operation, a drill's action or an injected fault opens a planned
//! window over the panels it touches. What the timeline records there is shown as planned, not as an
//! alarm (`VIP moved slb1 -> slb2 (failover, planned)`), and a brief two-holder window inside it is
//! reported with its duration as info, not as a split brain.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{Event, Model, PanelId, Severity};

/// How long after its end a window still covers what follows from it (keepalived preempting back
/// after a restore, haproxy's checks coming back after a renewal's restart).
pub const PLANNED_GRACE_SECS: i64 = 20;
/// A two-holder (or no-holder) VIP window inside a planned move longer than this is an alarm after all.
pub const BRIEF_VIP_WINDOW_MS: i64 = 5_000;
const MAX_WINDOWS: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedWindow {
    /// Who opened it: `op 7`, `fault split-brain`, `drill action 3`.
    pub key: String,
    /// Shown beside what it explains: `failover`, `drain worker1`, `fault stop-keepalived`.
    pub label: String,
    pub panels: Vec<PanelId>,
    pub since: DateTime<Utc>,
    /// None while it runs.
    pub until: Option<DateTime<Utc>>,
}

impl Model {
    /// Open a planned window (an operation confirmed, a fault injected, a drill's host action sent).
    pub fn begin_planned(&mut self, key: impl Into<String>, label: impl Into<String>, panels: &[PanelId], at: DateTime<Utc>) {
        let key = key.into();
        self.planned.retain(|w| w.key != key && w.until.is_none_or(|u| at - u < Duration::seconds(PLANNED_GRACE_SECS)));
        if self.planned.len() >= MAX_WINDOWS {
            self.planned.remove(0);
        }
        self.planned.push(PlannedWindow { key, label: label.into(), panels: panels.to_vec(), since: at, until: None });
    }

    /// Close a window: it still covers the next [`PLANNED_GRACE_SECS`].
    pub fn end_planned(&mut self, key: &str, at: DateTime<Utc>) {
        for w in self.planned.iter_mut().filter(|w| w.key == key && w.until.is_none()) {
            w.until = Some(at + Duration::seconds(PLANNED_GRACE_SECS));
        }
    }

    /// The label of the planned window covering `panel` at `at`, the newest first.
    pub fn planned_for(&self, panel: PanelId, at: DateTime<Utc>) -> Option<&str> {
        self.planned
            .iter()
            .rev()
            .find(|w| w.panels.contains(&panel) && w.since <= at + Duration::seconds(1) && w.until.is_none_or(|u| at <= u))
            .map(|w| w.label.as_str())
    }

    /// Put an event on the timeline; inside a planned window over its panel it says so and is info.
    pub(super) fn record(&mut self, mut e: Event) {
        if let Some(label) = self.planned_for(e.panel, e.at) {
            e.text = format!("{} ({label}, planned)", e.text);
            e.severity = e.severity.min(Severity::Info);
        }
        self.timeline.push(e);
    }

    /// The VIP on two hosts or on none inside a planned move, for how long, if it is still brief.
    pub fn brief_vip_window(&self, at: DateTime<Utc>) -> Option<(&str, i64)> {
        let w = self.vip_window.as_ref()?;
        let ms = (at - w.since).num_milliseconds().max(0);
        (ms <= BRIEF_VIP_WINDOW_MS && !w.alarmed).then_some((w.label.as_str(), ms))
    }
}

/// The VIP on two hosts (or none) inside a planned window, since when.
#[derive(Debug, Clone, PartialEq)]
pub struct VipWindow {
    pub since: DateTime<Utc>,
    /// Who held the VIP before the window opened.
    pub from: Vec<String>,
    pub holders: Vec<String>,
    pub label: String,
    /// It outlasted [`BRIEF_VIP_WINDOW_MS`] and was put on the timeline as an alarm.
    pub alarmed: bool,
}
