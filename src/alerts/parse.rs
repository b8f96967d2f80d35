//! Alertmanager's v2 answers, read defensively: bounded counts and lengths, control characters
//! dropped, anything unexpected an error that says what.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::fleet::FiringAlert;

/// At most this many alerts are kept per cluster.
pub const MAX_ALERTS: usize = 10_000;

/// `s` on one line, control characters dropped, at most `n` characters (`…` when cut).
pub fn clip(s: &str, n: usize) -> String {
    let one: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let one = one.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > n { format!("{}…", one.chars().take(n.saturating_sub(1)).collect::<String>()) } else { one }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// `GET /api/v2/alerts`: an array of alerts. Resolved ones are not returned by Alertmanager.
pub fn alerts(body: &[u8]) -> Result<Vec<FiringAlert>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("alertmanager's answer is not JSON: {e}"))?;
    let list = v.as_array().ok_or("alertmanager's answer is not a list of alerts")?;
    let mut out = Vec::new();
    for a in list.iter().take(MAX_ALERTS) {
        let labels = a.get("labels").and_then(Value::as_object).ok_or("an alert without labels")?;
        let label = |k: &str| labels.get(k).and_then(Value::as_str).unwrap_or("");
        let ann = a.get("annotations").and_then(Value::as_object);
        let note = |k: &str| ann.and_then(|m| m.get(k)).and_then(Value::as_str).filter(|s| !s.is_empty());
        let summary = note("summary").or_else(|| note("description")).map(str::to_string).unwrap_or_else(|| {
            let mut ls: Vec<String> =
                labels.iter().filter(|(k, _)| *k != "alertname").map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
            ls.sort();
            ls.join(" ")
        });
        let state = a.get("status").and_then(|s| s.get("state")).and_then(Value::as_str).unwrap_or("active");
        let starts_at = text(a, "startsAt").and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc));
        out.push(FiringAlert {
            name: clip(label("alertname"), 80),
            severity: clip(label("severity"), 20),
            fingerprint: clip(&text(a, "fingerprint").unwrap_or_default(), 40),
            starts_at,
            summary: clip(&summary, 200),
            silenced: state == "suppressed",
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.fingerprint.cmp(&b.fingerprint)));
    Ok(out)
}

/// `POST /api/v2/silences`: `{"silenceID": "..."}`.
pub fn silence_id(body: &[u8]) -> Result<String, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("alertmanager's answer is not JSON: {e}"))?;
    let id = text(&v, "silenceID").ok_or("alertmanager's answer has no silenceID")?;
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("alertmanager's silence id `{}` is not one", clip(&id, 40)));
    }
    Ok(id)
}

/// `GET /api/v2/silence/ID`: its `status.state`.
pub fn silence_state(body: &[u8]) -> Result<String, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("alertmanager's answer is not JSON: {e}"))?;
    v.get("status").and_then(|s| s.get("state")).and_then(Value::as_str).map(|s| clip(s, 20)).ok_or("a silence without a state".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Alertmanager 0.25 answers (captured from `GET /api/v2/alerts`).
    const CAPTURED: &str = r#"[{"annotations":{"summary":"VIP on two load balancers"},"endsAt":"2026-12-03T23:04:05.000Z",
        "fingerprint":"4a1b2c3d4e5f6a7b","receivers":[{"name":"null"}],"startsAt":"2026-12-03T22:59:05.000Z",
        "status":{"inhibitedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2026-12-03T22:59:05.000Z",
        "generatorURL":"http://p:9090/graph","labels":{"alertname":"KockpitSplitBrain","cluster":"lab","severity":"critical"}},
        {"annotations":{},"endsAt":"2026-12-03T23:04:05.000Z","fingerprint":"0f","receivers":[],
        "startsAt":"2026-12-03T22:58:00.000Z","status":{"inhibitedBy":[],"silencedBy":["abc"],"state":"suppressed"},
        "labels":{"alertname":"NodeDown","cluster":"lab","instance":"w1\u001b[2J"}}]"#;

    #[test]
    fn alerts_as_alertmanager_sends_them() {
        let a = alerts(CAPTURED.as_bytes()).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].name.as_str(), a[0].silenced, a[0].summary.as_str()), ("KockpitSplitBrain", false, "VIP on two load balancers"));
        assert_eq!(a[0].severity, "critical");
        assert!(a[0].starts_at.is_some());
        assert_eq!((a[1].name.as_str(), a[1].silenced), ("NodeDown", true));
        assert_eq!(a[1].summary, "cluster=lab instance=w1 [2J", "labels stand in for a summary, control characters dropped");
        for bad in ["", "{}", "[1]", "[{\"fingerprint\":\"x\"}]", "nul\0"] {
            assert!(alerts(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(alerts(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn silence_answers() {
        assert_eq!(silence_id(br#"{"silenceID":"8f0e-11aa"}"#).unwrap(), "8f0e-11aa");
        for bad in [&b"{}"[..], br#"{"silenceID":"../x"}"#, br#"{"silenceID":""}"#] {
            assert!(silence_id(bad).is_err());
        }
        assert_eq!(silence_state(br#"{"id":"x","status":{"state":"expired"}}"#).unwrap(), "expired");
        assert!(silence_state(b"[]").is_err());
    }
}
