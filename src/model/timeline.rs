//! State changes seen by every probe, newest last, bounded.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{PanelId, Severity};

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// When the fact holds from: the observation's time (the simulated clock on the demo).
    pub at: DateTime<Utc>,
    pub panel: PanelId,
    pub severity: Severity,
    pub text: String,
    /// The wall-clock instant kockpit learned it (the event reached the timeline), to the
    /// millisecond and beyond: what anyone measuring detection from outside compares with.
    pub seen: DateTime<Utc>,
}

/// Two events are the same fact whenever they were seen.
impl PartialEq for Event {
    fn eq(&self, o: &Event) -> bool {
        (self.at, self.panel, self.severity, &self.text) == (o.at, o.panel, o.severity, &o.text)
    }
}

impl Event {
    pub fn new(at: DateTime<Utc>, panel: PanelId, severity: Severity, text: impl Into<String>) -> Event {
        Event { at, panel, severity, text: text.into(), seen: Utc::now() }
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
    pub fn push(&mut self, mut e: Event) {
        if e.text.is_empty() {
            return;
        }
        e.seen = Utc::now();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_says_when_kockpit_learned_it_apart_from_when_it_holds() {
        let long_ago = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let mut t = Timeline::default();
        let before = Utc::now();
        t.push(Event::new(long_ago, PanelId::Vip, Severity::Warn, "VIP moved a -> b"));
        let e = t.iter().next().unwrap();
        assert_eq!(e.at, long_ago);
        assert!(e.seen >= before && e.seen <= Utc::now(), "seen when it reached the timeline: {e:?}");
        let json = serde_json::to_value(e).unwrap();
        let seen = json["seen"].as_str().unwrap();
        assert!(seen.contains('.'), "sub-second precision in the JSON: {seen}");
        // the same fact seen twice is the same event
        let mut again = e.clone();
        again.seen = long_ago;
        assert_eq!(&again, e);
    }
}
