//! State changes seen by every probe, newest last, bounded.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{PanelId, Severity};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub panel: PanelId,
    pub severity: Severity,
    pub text: String,
}

impl Event {
    pub fn new(at: DateTime<Utc>, panel: PanelId, severity: Severity, text: impl Into<String>) -> Event {
        Event { at, panel, severity, text: text.into() }
    }
}

/// A ring of the most recent events.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    events: VecDeque<Event>,
    #[serde(skip)]
    capacity: usize,
    /// Events dropped off the front because the ring was full.
    pub dropped: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::with_capacity(2_000)
    }
}

impl Timeline {
    pub fn with_capacity(capacity: usize) -> Timeline {
        Timeline { events: VecDeque::new(), capacity: capacity.max(1), dropped: 0 }
    }
    pub fn push(&mut self, e: Event) {
        if e.text.is_empty() {
            return;
        }
        if self.events.len() == self.capacity {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(e);
    }
    pub fn len(&self) -> usize {
        self.events.len()
    }
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
    pub fn is_empty_for(&self, panel: PanelId) -> bool {
        !self.events.iter().any(|e| e.panel == panel)
    }
    /// Newest first.
    pub fn newest(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().rev()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }
}
