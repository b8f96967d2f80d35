//! keepalived's text data dump (SIGUSR1, `keepalived --signum=DATA` on 2.x; /tmp/keepalived.data),
//! the fallback where there is no JSON dump (keepalived 1.3 on CentOS 7 has none). Only its
//! `------< VRRP Topology >------` section is read: one ` VRRP Instance = NAME` block per instance,
//! `   Key = value` lines under it.
//!
//! The two wordings: 2.2 writes `State = MASTER`, `Priority = 150`, `Effective priority = 150`,
//! `Last transition = 1796246653.425344 (Wed Dec  2 ...)` and `Virtual IP (1):`; 1.3.5 (CentOS 7)
//! writes the same State and Priority but no effective priority, `Last transition = 1700000000 (...)`
//! and `Virtual IP = 1`; 1.3.9 adds `Effective priority`. Newer releases may say `Base priority`.
//!
//! The dump carries the VRRP password (`Password = ...`): the probe script redacts it on the host, and
//! this parser never keeps a `Password` line nor quotes the input in an error.

use super::ParseError;
use super::keepalived::{KeepalivedInstance, epoch_to_utc, vrrp_state};
use crate::model::VrrpState;

const WHAT: &str = "keepalived data dump";
const TOPOLOGY: &str = "------< VRRP Topology >------";

/// The VRRP instances of a data dump.
pub fn parse_keepalived_data(text: &str) -> Result<Vec<KeepalivedInstance>, ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::new(WHAT, "empty file"));
    }
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    if !lines.by_ref().any(|l| l.trim() == TOPOLOGY) {
        return Err(ParseError::new(WHAT, "no VRRP Topology section (no VRRP instance configured?)"));
    }
    let mut out: Vec<Partial> = Vec::new();
    let mut in_vips = false;
    for line in lines {
        if line.starts_with("------<") {
            break;
        }
        if let Some(name) = line.strip_prefix(" VRRP Instance = ") {
            out.push(Partial { name: name.trim().to_string(), ..Partial::default() });
            in_vips = false;
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        // the addresses under `Virtual IP (n):` / `Virtual IP = n`, five spaces in
        if in_vips && indent >= 5 && !body.is_empty() {
            cur.vips.push(body.to_string());
            continue;
        }
        in_vips = false;
        if body.starts_with("Virtual IP") && !body.starts_with("Virtual IP Excluded") {
            in_vips = true;
            continue;
        }
        // instance lines are three spaces in; a tracked script's block (1.3) is too, but has no
        // State, Priority or Last transition
        if indent != 3 {
            continue;
        }
        let Some((key, value)) = body.split_once(" = ") else { continue };
        let value = value.trim();
        match key {
            "State" => cur.state = Some(state_of(value)),
            "Priority" | "Base priority" => cur.base = value.parse().ok(),
            "Effective priority" => cur.effective = value.parse().ok(),
            "Last transition" => {
                cur.last_transition = value.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).and_then(epoch_to_utc);
            }
            // `Password` and everything else: not kept
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(ParseError::new(WHAT, "no VRRP instance in the VRRP Topology section"));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, p)| {
            let state = p.state.ok_or_else(|| ParseError::new(WHAT, format!("instance {i} has no State line (cut short?)")))?;
            let base_priority = p.base.ok_or_else(|| ParseError::new(WHAT, format!("instance {i} has no Priority line (cut short?)")))?;
            Ok(KeepalivedInstance {
                name: p.name,
                state,
                base_priority,
                effective_priority: p.effective.unwrap_or(base_priority),
                last_transition: p.last_transition,
                vips: p.vips,
            })
        })
        .collect()
}

#[derive(Default)]
struct Partial {
    name: String,
    state: Option<VrrpState>,
    base: Option<u32>,
    effective: Option<u32>,
    last_transition: Option<chrono::DateTime<chrono::Utc>>,
    vips: Vec<String>,
}

/// `MASTER`, `BACKUP`, `FAULT`, `INIT`, `STOP` (2.x), or 1.3's number for any other state.
fn state_of(v: &str) -> VrrpState {
    match v {
        "MASTER" => VrrpState::Master,
        "BACKUP" => VrrpState::Backup,
        "FAULT" => VrrpState::Fault,
        "INIT" => VrrpState::Init,
        "STOP" | "STOPPED" | "DELETED" => VrrpState::Stopped,
        n => n.parse::<i64>().map(vrrp_state).unwrap_or(VrrpState::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/keepalived/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn keepalived_2_2_from_the_lab() {
        let m = parse_keepalived_data(&fixture("lb1.data")).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].name.as_str(), m[0].state, m[0].base_priority, m[0].effective_priority), ("VI_1", VrrpState::Master, 150, 150));
        assert_eq!(m[0].last_transition.map(|t| t.timestamp()), Some(1796246653));
        assert_eq!(m[0].vips, ["10.213.0.100/24 dev eth0 scope global set"]);
        assert!(m[0].has_vip("10.213.0.100"));
        let b = parse_keepalived_data(&fixture("lb2.data")).unwrap();
        assert_eq!((b[0].state, b[0].base_priority), (VrrpState::Backup, 140), "not the Master priority line");
    }

    #[test]
    fn keepalived_1_3_on_centos_7() {
        let m = parse_keepalived_data(&fixture("centos7-1.3.5-master.data")).unwrap();
        assert_eq!((m[0].state, m[0].base_priority, m[0].effective_priority), (VrrpState::Master, 100, 100));
        assert_eq!(m[0].last_transition.map(|t| t.timestamp()), Some(1700000000));
        assert!(m[0].has_vip("10.0.0.100"), "{:?}", m[0].vips);
        let b = parse_keepalived_data(&fixture("centos7-1.3.5-backup.data")).unwrap();
        assert_eq!((b[0].state, b[0].base_priority), (VrrpState::Backup, 90), "not the Master priority line");
        // 1.3.9 adds the effective priority; a demoted instance shows it
        let demoted =
            fixture("centos7-1.3.5-master.data").replace("   Priority = 100\n", "   Priority = 100\n   Effective priority = 98\n");
        assert_eq!(parse_keepalived_data(&demoted).unwrap()[0].effective_priority, 98);
        // an unnamed state (1.3 prints the number) and a newer release's wording
        let init =
            fixture("centos7-1.3.5-master.data").replace("State = MASTER", "State = 0").replace("   Priority = ", "   Base priority = ");
        let i = parse_keepalived_data(&init).unwrap();
        assert_eq!((i[0].state, i[0].base_priority), (VrrpState::Init, 100));
    }

    #[test]
    fn two_instances_and_the_sections_after_them() {
        let one = fixture("lb1.data");
        let start = one.find(" VRRP Instance = VI_1").unwrap();
        let end = one.find("------< VRRP Sockpool").unwrap();
        let second =
            one[start..end].replace("VI_1", "VI_2").replace("10.213.0.100", "10.213.0.200").replace("State = MASTER", "State = BACKUP");
        let two = format!("{}{second}{}", &one[..end], &one[end..]);
        let v = parse_keepalived_data(&two).unwrap();
        let names: Vec<_> = v.iter().map(|i| (i.name.as_str(), i.state)).collect();
        assert_eq!(names, [("VI_1", VrrpState::Master), ("VI_2", VrrpState::Backup)]);
        assert!(v[1].has_vip("10.213.0.200") && !v[1].has_vip("10.213.0.100"));
    }

    #[test]
    fn the_password_never_survives_and_no_error_quotes_the_input() {
        for name in ["lb1.data", "lb2.data", "centos7-1.3.5-master.data", "centos7-1.3.5-backup.data"] {
            let text = fixture(name);
            assert!(text.contains("Password = s3cr3tpw"), "the fixture carries a (placeholder) password to test with");
            assert!(!format!("{:?}", parse_keepalived_data(&text).unwrap()).contains("s3cr3tpw"));
            for i in (0..text.len()).step_by(5) {
                if let Err(e) = parse_keepalived_data(&text[..i]) {
                    assert!(!e.to_string().contains("s3cr3"), "{e}");
                }
            }
        }
    }

    #[test]
    fn garbage_and_cut_dumps() {
        for bad in ["", "\n", "hello", "------< VRRP Topology >------\n", "------< VRRP Topology >------\n VRRP Instance = X\n"] {
            assert!(parse_keepalived_data(bad).is_err(), "{bad:?}");
        }
        let text = fixture("lb1.data");
        let cut = &text[..text.find("   Priority = 150").unwrap()];
        assert!(parse_keepalived_data(cut).unwrap_err().detail.contains("no Priority"));
        let v = parse_keepalived_data("------< VRRP Topology >------\n VRRP Instance = X\n   State = WEIRD\n   Priority = 300000000000\n")
            .unwrap_err();
        assert!(v.detail.contains("no Priority"), "an out-of-range priority is not one: {v}");
    }
}
