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
    /// The hosts, nodes or LBs it acts on (the owner a fault stops, the node a drain empties): what
    /// the timeline names one of them is put down to this window before any other over its panel.
    pub subjects: Vec<String>,
    /// It takes away kockpit's sight (an SSH link cut), it changes nothing: it explains sources
    /// failing and recovering, never a change they report.
    pub sources_only: bool,
    pub since: DateTime<Utc>,
    /// None while it runs.
    pub until: Option<DateTime<Utc>>,
}

impl Model {
    /// Open a planned window (an operation confirmed, a fault injected, a drill's host action sent).
    pub fn begin_planned(
        &mut self,
        key: impl Into<String>,
        label: impl Into<String>,
        panels: &[PanelId],
        subjects: &[String],
        at: DateTime<Utc>,
    ) {
        let key = key.into();
        self.planned.retain(|w| w.key != key && w.until.is_none_or(|u| at - u < Duration::seconds(PLANNED_GRACE_SECS)));
        // what comes after a new operation or fault is its doing, not the grace of an operation that
        // ended before it over the same panels (a restore right after a failover); healing ends every
        // fault's window
        let heal = key == "fault heal";
        for w in &mut self.planned {
            // an operation's window that has ended (`until` set) and is in its grace
            let op_in_grace = w.key.starts_with("op ") && w.until.is_some();
            if (op_in_grace && w.panels.iter().any(|p| panels.contains(p))) || (heal && w.key.starts_with("fault ")) {
                w.until = Some(w.until.map_or(at, |u| u.min(at)));
            }
        }
        if self.planned.len() >= MAX_WINDOWS {
            self.planned.remove(0);
        }
        self.planned.push(PlannedWindow {
            key,
            label: label.into(),
            panels: panels.to_vec(),
            subjects: subjects.to_vec(),
            sources_only: false,
            since: at,
            until: None,
        });
    }

    /// The window `key` takes away sight only (see [`PlannedWindow::sources_only`]).
    pub fn planned_sources_only(&mut self, key: &str) {
        for w in self.planned.iter_mut().filter(|w| w.key == key) {
            w.sources_only = true;
        }
    }

    /// Close a window: it still covers the next [`PLANNED_GRACE_SECS`].
    pub fn end_planned(&mut self, key: &str, at: DateTime<Utc>) {
        for w in self.planned.iter_mut().filter(|w| w.key == key && w.until.is_none()) {
            w.until = Some(at + Duration::seconds(PLANNED_GRACE_SECS));
        }
    }

    /// The label of the planned window that explains `text` on `panel` at `at`: of the windows over
    /// the panel, the newest that acts on something `text` names; else the one over the fewest
    /// panels (a fault of the VIP explains a VIP change better than a master's power-off that touches
    /// everything), the newest of those.
    pub fn planned_for(&self, panel: PanelId, at: DateTime<Utc>, text: &str, source_event: bool) -> Option<&str> {
        let covering: Vec<&PlannedWindow> = self
            .planned
            .iter()
            .rev()
            .filter(|w| w.panels.contains(&panel) && w.since <= at + Duration::seconds(1) && w.until.is_none_or(|u| at <= u))
            .filter(|w| source_event || !w.sources_only)
            .collect();
        // sight lost is first the doing of what takes sight away (a cut link)
        let covering: Vec<&PlannedWindow> = match source_event && covering.iter().any(|w| w.sources_only) {
            true => covering.into_iter().filter(|w| w.sources_only).collect(),
            false => covering,
        };
        // the timeline names the observer first and what changed last (`haproxy slb1 master1 UP ->
        // DOWN`): of the windows acting on something named, the one named last; the newest of equals
        // of equals, the one over fewer panels (stopping keepalived explains a keepalived change
        // better than killing haproxy, which also touches the VIP), then the newest
        let named = covering
            .iter()
            .filter_map(|w| w.subjects.iter().filter_map(|s| last_mention(text, s)).max().map(|at| (at, *w)))
            .fold(None::<(usize, &PlannedWindow)>, |best, (at, w)| match best {
                Some((b, bw)) if b > at || (b == at && bw.panels.len() <= w.panels.len()) => best,
                _ => Some((at, w)),
            })
            .map(|(_, w)| w);
        // min_by_key keeps the first of equals: the newest
        let narrowest = covering.iter().min_by_key(|w| w.panels.len());
        named.or(narrowest.copied()).map(|w| w.label.as_str())
    }

    /// Put an event on the timeline; inside a planned window over its panel it says so and is info.
    pub(super) fn record(&mut self, e: Event) {
        self.record_as(e, false);
    }

    /// [`Model::record`] of a source failing or recovering (`source_event`), or of a change it reports.
    pub(super) fn record_as(&mut self, mut e: Event, source_event: bool) {
        if let Some(label) = self.planned_for(e.panel, e.at, &e.text, source_event) {
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

/// `text` names `word` as a whole word (worker1 is not worker10, slb1 is not slb1a).
pub fn mentions(text: &str, word: &str) -> bool {
    last_mention(text, word).is_some()
}

/// Where `text` last names `word` as a whole word.
fn last_mention(text: &str, word: &str) -> Option<usize> {
    let ok = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_'));
    if word.is_empty() {
        return None;
    }
    text.rmatch_indices(word).map(|(i, _)| i).find(|&i| ok(text[..i].chars().next_back()) && ok(text[i + word.len()..].chars().next()))
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
