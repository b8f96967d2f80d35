//! Where a piece of data came from and how old it is.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceError {
    /// Since when it fails with this reason.
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The latest attempt that failed so (the same reason again changes nothing a viewer sees).
    pub last: DateTime<Utc>,
}

/// Data from one source: the last good value, when it arrived, and the last failure if the source is failing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    /// Human description of the source, e.g. "ssh slb1: ip -j addr" or "demo".
    pub source: String,
    pub data: Option<T>,
    pub updated: Option<DateTime<Utc>>,
    /// Set while the source is failing; cleared by the next success.
    pub error: Option<SourceError>,
    /// How long data stays current before it is shown as stale, in milliseconds.
    pub budget_ms: u64,
}

impl<T> Default for Sourced<T> {
    fn default() -> Self {
        Sourced { source: String::new(), data: None, updated: None, error: None, budget_ms: 5_000 }
    }
}

/// The state of a source at one instant.
#[derive(Debug, Clone, PartialEq)]
pub enum Freshness {
    /// Nothing heard yet.
    Waiting,
    Fresh {
        age_ms: i64,
        /// The data is at most this old (the source's freshness budget).
        budget_ms: u64,
    },
    Stale {
        age_ms: i64,
    },
    /// The source is failing; `age_ms` is the age of the data still shown, if any.
    Failed {
        reason: String,
        since_ms: i64,
        age_ms: Option<i64>,
    },
}

impl Freshness {
    /// 0 fresh, 1 waiting, 2 stale, 3 failed: larger is worse.
    pub fn rank(&self) -> u8 {
        match self {
            Freshness::Fresh { .. } => 0,
            Freshness::Waiting => 1,
            Freshness::Stale { .. } => 2,
            Freshness::Failed { .. } => 3,
        }
    }
    /// Why the data is not current: the failure, the silence, or that nothing came yet.
    pub fn why_not_fresh(&self) -> String {
        match self {
            Freshness::Failed { reason, .. } => reason.clone(),
            Freshness::Stale { age_ms } => format!("no answer for {}", fmt_age_ms(*age_ms)),
            Freshness::Waiting => "no answer yet".into(),
            Freshness::Fresh { .. } => "fresh".into(),
        }
    }
    pub fn is_fresh(&self) -> bool {
        matches!(self, Freshness::Fresh { .. })
    }
    pub fn label(&self) -> &'static str {
        match self {
            Freshness::Waiting => "waiting",
            Freshness::Fresh { .. } => "fresh",
            Freshness::Stale { .. } => "stale",
            Freshness::Failed { .. } => "failed",
        }
    }
}

impl Serialize for Freshness {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl<T: PartialEq> Sourced<T> {
    pub fn new(source: impl Into<String>, budget_ms: u64) -> Self {
        Sourced { source: source.into(), budget_ms, ..Default::default() }
    }

    /// Nothing heard from this source yet, neither data nor a failure.
    pub fn unheard(&self) -> bool {
        self.data.is_none() && self.error.is_none()
    }

    /// Its latest attempt failed, within twice its budget: a current failure (the same failure
    /// repeated keeps its first time in `at`, its latest in `last`).
    pub fn failing_now(&self, now: DateTime<Utc>) -> bool {
        self.error.as_ref().is_some_and(|e| (now - e.last).num_milliseconds() <= self.budget_ms as i64 * 2)
    }

    pub fn freshness(&self, now: DateTime<Utc>) -> Freshness {
        let age = self.updated.map(|t| (now - t).num_milliseconds().max(0));
        if let Some(e) = &self.error {
            return Freshness::Failed { reason: e.reason.clone(), since_ms: (now - e.at).num_milliseconds().max(0), age_ms: age };
        }
        match age {
            None => Freshness::Waiting,
            Some(a) if a as u64 <= self.budget_ms => Freshness::Fresh { age_ms: a, budget_ms: self.budget_ms },
            Some(a) => Freshness::Stale { age_ms: a },
        }
    }

    /// Record a result. Returns whether anything a viewer could see changed:
    /// the data, or the source going from failing to working or back.
    pub fn record(&mut self, at: DateTime<Utc>, source: &str, budget_ms: u64, result: Result<T, String>) -> bool {
        if self.source != source {
            self.source = source.to_string();
        }
        self.budget_ms = budget_ms;
        match result {
            Ok(v) => {
                let was_failing = self.error.take().is_some();
                let was_stale = self.updated.is_none_or(|u| (at - u).num_milliseconds() as u64 > budget_ms);
                let changed = self.data.as_ref() != Some(&v);
                if changed {
                    self.data = Some(v);
                }
                self.updated = Some(at);
                changed || was_failing || was_stale
            }
            Err(reason) => match self.error.as_mut() {
                Some(e) if e.reason == reason => {
                    e.last = at;
                    false
                }
                _ => {
                    self.error = Some(SourceError { at, reason, last: at });
                    true
                }
            },
        }
    }
}

/// Short human form of an age: "0.4s", "12s", "3m", "2h", "5d".
pub fn fmt_age_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 120_000 {
        format!("{}s", ms / 1000)
    } else if ms < 2 * 3_600_000 {
        format!("{}m", ms / 60_000)
    } else if ms < 48 * 3_600_000 {
        format!("{}h", ms / 3_600_000)
    } else {
        format!("{}d", ms / 86_400_000)
    }
}

/// Coarse age for display where a number that changes every frame would only be noise: whole seconds.
pub fn fmt_age_coarse(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 120_000 { format!("{}s", ms / 1000) } else { fmt_age_ms(ms) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn freshness_moves_from_waiting_to_fresh_to_stale_to_failed() {
        let t0 = Utc::now();
        let mut s: Sourced<u32> = Sourced::new("x", 2_000);
        assert_eq!(s.freshness(t0), Freshness::Waiting);
        assert!(s.record(t0, "x", 2_000, Ok(1)));
        assert_eq!(s.freshness(t0 + Duration::milliseconds(500)), Freshness::Fresh { age_ms: 500, budget_ms: 2_000 });
        assert_eq!(s.freshness(t0 + Duration::milliseconds(2_500)), Freshness::Stale { age_ms: 2_500 });
        // Same value again within budget: nothing visible changed.
        assert!(!s.record(t0 + Duration::seconds(1), "x", 2_000, Ok(1)));
        assert!(s.record(t0 + Duration::seconds(2), "x", 2_000, Err("ssh: connection refused".into())));
        match s.freshness(t0 + Duration::seconds(5)) {
            Freshness::Failed { reason, since_ms, age_ms } => {
                assert_eq!(reason, "ssh: connection refused");
                assert_eq!(since_ms, 3_000);
                assert_eq!(age_ms, Some(4_000));
            }
            f => panic!("expected failed, got {f:?}"),
        }
        assert_eq!(s.data, Some(1), "last good data is kept while failing");
        // The same error again is not a visible change; recovery is.
        assert!(!s.record(t0 + Duration::seconds(3), "x", 2_000, Err("ssh: connection refused".into())));
        assert!(s.record(t0 + Duration::seconds(4), "x", 2_000, Ok(1)));
        assert!(s.freshness(t0 + Duration::seconds(4)).is_fresh());
    }

    #[test]
    fn ages_format() {
        assert_eq!(fmt_age_ms(400), "0.4s");
        assert_eq!(fmt_age_ms(12_300), "12s");
        assert_eq!(fmt_age_ms(3 * 60_000), "3m");
        assert_eq!(fmt_age_ms(5 * 3_600_000), "5h");
        assert_eq!(fmt_age_ms(3 * 86_400_000), "3d");
        assert_eq!(fmt_age_coarse(1_900), "1s");
    }
}
