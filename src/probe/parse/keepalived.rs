//! keepalived's JSON dump (`keepalived --signum=JSON` -> /tmp/keepalived.json) and the notify-script
//! state file kockpit falls back to.
//!
//! The JSON carries the VRRP password (`auth_data`). It is removed from the parsed document before
//! anything else looks at it, it is never part of a parse result, and no error message quotes the
//! input. (The probe script also redacts it on the host, so it normally never crosses the wire.)

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ParseError, excerpt};
use crate::model::VrrpState;

const WHAT: &str = "keepalived JSON";

/// One VRRP instance as keepalived reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepalivedInstance {
    pub name: String,
    pub state: VrrpState,
    pub base_priority: u32,
    pub effective_priority: u32,
    pub last_transition: Option<DateTime<Utc>>,
    /// Virtual addresses as printed, e.g. "10.213.0.100/24 dev eth0 scope global set".
    pub vips: Vec<String>,
}

impl KeepalivedInstance {
    /// Whether this instance carries `addr` (an IP address) among its virtual addresses.
    pub fn has_vip(&self, addr: &str) -> bool {
        self.vips.iter().any(|v| v.split(['/', ' ']).next() == Some(addr))
    }
}

/// keepalived's numeric VRRP state.
pub fn vrrp_state(n: i64) -> VrrpState {
    match n {
        0 => VrrpState::Init,
        1 => VrrpState::Backup,
        2 => VrrpState::Master,
        3 => VrrpState::Fault,
        _ => VrrpState::Unknown,
    }
}

/// Remove every `auth_data` member, at any depth.
pub fn strip_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("auth_data");
            for (_, child) in map.iter_mut() {
                strip_secrets(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_secrets),
        _ => {}
    }
}

/// Parse the dump: an array of `{"data": {...}, "stats": {...}}`, one per VRRP instance.
pub fn parse_keepalived_json(text: &str) -> Result<Vec<KeepalivedInstance>, ParseError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ParseError::new(WHAT, "empty file"));
    }
    // serde_json's messages name a line and column, never the input text.
    let mut doc: Value = serde_json::from_str(trimmed).map_err(|e| ParseError::new(WHAT, format!("not valid JSON ({e})")))?;
    strip_secrets(&mut doc);
    let Value::Array(items) = doc else {
        return Err(ParseError::new(WHAT, "expected an array of VRRP instances"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let data = item
            .get("data")
            .and_then(Value::as_object)
            .ok_or_else(|| ParseError::new(WHAT, format!("instance {i} has no \"data\" object")))?;
        let name = data.get("iname").and_then(Value::as_str).unwrap_or("").to_string();
        let state = data
            .get("state")
            .and_then(Value::as_i64)
            .map(vrrp_state)
            .ok_or_else(|| ParseError::new(WHAT, format!("instance {i} ({name}) has no numeric \"state\"")))?;
        let prio = |k: &str| data.get(k).and_then(Value::as_u64).map(|p| u32::try_from(p).unwrap_or(u32::MAX));
        let base_priority = prio("base_priority").unwrap_or(0);
        let effective_priority = prio("effective_priority").unwrap_or(base_priority);
        let last_transition = data.get("last_transition").and_then(Value::as_f64).and_then(epoch_to_utc);
        let vips = data
            .get("vips")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        out.push(KeepalivedInstance { name, state, base_priority, effective_priority, last_transition, vips });
    }
    if out.is_empty() {
        return Err(ParseError::new(WHAT, "no VRRP instances"));
    }
    Ok(out)
}

/// The notify-script state file: `STATE [EPOCH]`, e.g. `MASTER 1795527010`.
pub fn parse_state_file(text: &str) -> Result<(VrrpState, Option<DateTime<Utc>>), ParseError> {
    const WHAT: &str = "keepalived state file";
    let mut words = text.split_whitespace();
    let state = match words.next() {
        Some("MASTER") => VrrpState::Master,
        Some("BACKUP") => VrrpState::Backup,
        Some("FAULT") => VrrpState::Fault,
        Some("INIT") => VrrpState::Init,
        Some("STOP") | Some("STOPPED") => VrrpState::Stopped,
        _ => return Err(ParseError::new(WHAT, format!("expected MASTER, BACKUP, FAULT or INIT, got {}", excerpt(text, 40)))),
    };
    let at = words.next().and_then(|w| w.parse::<f64>().ok()).and_then(epoch_to_utc);
    Ok((state, at))
}

pub(super) fn epoch_to_utc(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() || secs <= 0.0 || secs > 1e11 {
        return None;
    }
    let whole = secs.trunc() as i64;
    let nanos = ((secs - secs.trunc()) * 1e9) as u32;
    DateTime::from_timestamp(whole, nanos.min(999_999_999))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/keepalived/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn master_and_backup_from_the_lab() {
        let m = parse_keepalived_json(&fixture("lb1.json")).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, "VI_1");
        assert_eq!(m[0].state, VrrpState::Master);
        assert_eq!((m[0].base_priority, m[0].effective_priority), (150, 150));
        assert!(m[0].last_transition.is_some());
        assert!(m[0].has_vip("10.213.0.100"));
        assert!(!m[0].has_vip("10.213.0.10"));
        let b = parse_keepalived_json(&fixture("lb2.json")).unwrap();
        assert_eq!(b[0].state, VrrpState::Backup);
        assert_eq!(b[0].base_priority, 140);
        let f = parse_keepalived_json(&fixture("lb2-after-failover.json")).unwrap();
        assert_eq!(f[0].state, VrrpState::Master);
    }

    #[test]
    fn the_vrrp_password_never_survives_parsing() {
        for name in ["lb1.json", "lb2.json", "lb2-after-failover.json"] {
            let text = fixture(name);
            assert!(text.contains("s3cr3tpw"), "the fixture carries a (placeholder) password to test with");
            let parsed = parse_keepalived_json(&text).unwrap();
            assert!(!format!("{parsed:?}").contains("s3cr3tpw"));
            // every truncation: the error never quotes the password
            for i in (0..text.len()).step_by(7) {
                if let Err(e) = parse_keepalived_json(&text[..i]) {
                    assert!(!e.to_string().contains("s3cr3tpw"), "{e}");
                    assert!(!e.to_string().contains("s3cr3"), "{e}");
                }
            }
        }
        let mut v: Value = serde_json::from_str(r#"[{"data":{"auth_data":"x","nested":[{"auth_data":"y"}]}}]"#).unwrap();
        strip_secrets(&mut v);
        assert_eq!(v.to_string(), r#"[{"data":{"nested":[{}]}}]"#);
    }

    #[test]
    fn states_and_garbage() {
        assert_eq!(vrrp_state(0), VrrpState::Init);
        assert_eq!(vrrp_state(3), VrrpState::Fault);
        assert_eq!(vrrp_state(99), VrrpState::Unknown);
        for bad in ["", "{}", "[]", "[1]", r#"[{"data":{}}]"#, "not json", "[{\"data\":{\"state\":\"MASTER\"}}]"] {
            assert!(parse_keepalived_json(bad).is_err(), "{bad:?}");
        }
        let v = parse_keepalived_json(r#"[{"data":{"iname":"X","state":1}}]"#).unwrap();
        assert_eq!((v[0].state, v[0].base_priority, v[0].last_transition), (VrrpState::Backup, 0, None));
    }

    #[test]
    fn state_file() {
        let (s, at) = parse_state_file("MASTER 1795527010\n").unwrap();
        assert_eq!(s, VrrpState::Master);
        assert_eq!(at.map(|t| t.timestamp()), Some(1795527010));
        assert_eq!(parse_state_file("BACKUP").unwrap(), (VrrpState::Backup, None));
        assert_eq!(parse_state_file("FAULT x").unwrap(), (VrrpState::Fault, None));
        assert!(parse_state_file("").is_err());
        assert!(parse_state_file("weird 1").is_err());
    }
}
