//! Ceph's JSON (`ceph status|health detail|osd tree|df|osd dump|osd crush rule dump -f json`, pacific
//! and later, nautilus' nested osdmap too), parsed without I/O into the panel's [`CephView`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::model::{CephCheck, CephHealth, CephOsdHost, CephPool, CephView};

/// OSD map flags that are always set on a healthy modern cluster: not worth showing.
const ROUTINE_FLAGS: &[&str] = &["sortbitwise", "recovery_deletes", "purged_snapdirs", "pglog_hardlimit"];

/// The six answers one probe collects; only `status` is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CephAnswers {
    pub status: String,
    pub health_detail: Option<String>,
    pub osd_tree: Option<String>,
    pub df: Option<String>,
    pub osd_dump: Option<String>,
    pub crush_rules: Option<String>,
}

/// Split the probe script's output into the six answers. `Err` carries the first failure (a `ceph`
/// that timed out without quorum, a missing keyring ...) in the operator's words.
pub fn split_sections(out: &str, timeout_secs: u64) -> Result<CephAnswers, String> {
    let mut sections: Vec<(u32, String, String)> = Vec::new();
    for line in out.split_inclusive('\n') {
        if let Some(rest) = line.trim_end_matches(['\n', '\r']).strip_prefix("@@kockpit-ceph ") {
            let (rc, name) = rest.split_once(' ').unwrap_or((rest, ""));
            sections.push((rc.parse().unwrap_or(1), name.to_string(), String::new()));
        } else if let Some(s) = sections.last_mut() {
            s.2.push_str(line);
        }
    }
    if sections.is_empty() {
        let text: String = out.trim().chars().take(160).collect();
        return Err(if text.is_empty() { "no answer from the ceph probe".into() } else { format!("unexpected answer: {text}") });
    }
    let mut a = CephAnswers::default();
    for (rc, name, body) in sections {
        if rc != 0 {
            let msg = body.trim().lines().last().unwrap_or("").trim().to_string();
            let timed_out = rc == 110 || msg.contains("timed out") || msg.contains("TimedOut");
            return Err(if timed_out {
                format!(
                    "ceph {name}: no answer from the monitors within {timeout_secs}s (no mon quorum, or the mons are unreachable){}",
                    if msg.is_empty() { String::new() } else { format!(": {msg}") }
                )
            } else {
                format!("ceph {name} failed (rc {rc}): {msg}")
            });
        }
        let body = body.trim().to_string();
        match name.as_str() {
            "status" => a.status = body,
            "health detail" => a.health_detail = Some(body),
            "osd tree" => a.osd_tree = Some(body),
            "df" => a.df = Some(body),
            "osd dump" => a.osd_dump = Some(body),
            "osd crush rule dump" => a.crush_rules = Some(body),
            _ => {}
        }
    }
    if a.status.is_empty() {
        return Err("the ceph probe returned no status".into());
    }
    Ok(a)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Summary {
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Detail {
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Check {
    severity: String,
    summary: Summary,
    detail: Vec<Detail>,
    muted: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Health {
    status: String,
    checks: BTreeMap<String, Check>,
}

/// How many detail lines go into a check's summary.
const DETAIL_LINES: usize = 3;

fn checks_of(h: &Health) -> Vec<CephCheck> {
    let mut out: Vec<CephCheck> = h
        .checks
        .iter()
        .map(|(code, c)| {
            let mut summary = c.summary.message.clone();
            let details: Vec<&str> = c.detail.iter().map(|d| d.message.as_str()).filter(|m| !m.is_empty()).collect();
            if !details.is_empty() {
                summary.push_str(": ");
                summary.push_str(&details.iter().take(DETAIL_LINES).copied().collect::<Vec<_>>().join("; "));
                if details.len() > DETAIL_LINES {
                    summary.push_str(&format!("; +{} more", details.len() - DETAIL_LINES));
                }
            }
            if c.muted {
                summary.push_str(" (muted)");
            }
            CephCheck { code: code.clone(), severity: CephHealth::parse(&c.severity).unwrap_or(CephHealth::Warn), summary }
        })
        .collect();
    // errors first, then warnings; by code within each
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(&b.code)));
    out
}

fn u64_at(v: &Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_u64().or_else(|| cur.as_f64().map(|f| f.max(0.0) as u64))
}

/// Build the view from the answers. Only `status` must parse; the others refine it (check details,
/// OSD hosts, raw capacity, flags) and are skipped when missing or unreadable.
pub fn parse_view(a: &CephAnswers) -> Result<CephView, String> {
    let status: Value = serde_json::from_str(a.status.trim()).map_err(|e| format!("ceph status: unreadable JSON ({e})"))?;
    if !status.is_object() {
        return Err("ceph status: not a JSON object".into());
    }
    let health_v = status.get("health").cloned().unwrap_or(Value::Null);
    let mut health: Health = serde_json::from_value(health_v).map_err(|e| format!("ceph status: health: {e}"))?;
    if let Some(detail) = a.health_detail.as_deref().and_then(|d| serde_json::from_str::<Health>(d).ok()) {
        // the same checks, with their detail lines
        if !detail.status.is_empty() {
            health = detail;
        }
    }
    let health_status = CephHealth::parse(&health.status).ok_or_else(|| format!("ceph status: unknown health {:?}", health.status))?;
    let mons = u64_at(&status, &["monmap", "num_mons"])
        .or_else(|| status.pointer("/monmap/mons").and_then(Value::as_array).map(|m| m.len() as u64))
        .unwrap_or(0);
    let quorum = status.get("quorum_names").and_then(Value::as_array).map(|q| q.len() as u64).unwrap_or(0);
    // pacific+: osdmap.{num_osds..}; nautilus: osdmap.osdmap.{num_osds..}
    let osdmap = status.pointer("/osdmap/osdmap").unwrap_or_else(|| status.get("osdmap").unwrap_or(&Value::Null));
    let osds = u64_at(osdmap, &["num_osds"]).unwrap_or(0);
    let osds_up = u64_at(osdmap, &["num_up_osds"]).unwrap_or(0);
    let osds_in = u64_at(osdmap, &["num_in_osds"]).unwrap_or(0);
    let pgmap = status.get("pgmap").unwrap_or(&Value::Null);
    let mut pgs_by_state: Vec<(String, u64)> = pgmap
        .get("pgs_by_state")
        .and_then(Value::as_array)
        .map(|arr| {
            arr.iter()
                .filter_map(|s| Some((s.get("state_name")?.as_str()?.to_string(), s.get("count").and_then(Value::as_u64).unwrap_or(0))))
                .collect()
        })
        .unwrap_or_default();
    pgs_by_state.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut bytes_used = u64_at(pgmap, &["bytes_used"]).unwrap_or(0);
    let mut bytes_total = u64_at(pgmap, &["bytes_total"]).unwrap_or(0);
    if let Some(df) = a.df.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok())
        && let (Some(t), Some(u)) = (
            u64_at(&df, &["stats", "total_bytes"]),
            u64_at(&df, &["stats", "total_used_raw_bytes"]).or(u64_at(&df, &["stats", "total_used_bytes"])),
        )
    {
        bytes_total = t;
        bytes_used = u;
    }
    let mut flags: Vec<String> = Vec::new();
    let mut pools = None;
    if let Some(dump) = a.osd_dump.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()) {
        pools = pools_of(&dump, a.crush_rules.as_deref());
        if let Some(f) = dump.get("flags").and_then(Value::as_str) {
            flags.extend(f.split(',').map(str::trim).filter(|f| !f.is_empty() && !ROUTINE_FLAGS.contains(f)).map(str::to_string));
        }
    } else if let Some(c) = health.checks.get("OSDMAP_FLAGS") {
        // "noout flag(s) set", "noout,norebalance flag(s) set"
        if let Some(list) = c.summary.message.strip_suffix(" flag(s) set") {
            flags.extend(list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
        }
    }
    let osd_hosts = a.osd_tree.as_deref().map(osd_hosts).unwrap_or_default();
    let osd_host_detail = a.osd_tree.as_deref().map(osd_host_detail).unwrap_or_default();
    Ok(CephView {
        health: health_status,
        checks: checks_of(&health),
        mons: mons as u32,
        mons_in_quorum: quorum as u32,
        osds: osds as u32,
        osds_up: osds_up as u32,
        osds_in: osds_in as u32,
        pgs_by_state,
        bytes_used,
        bytes_total,
        flags,
        osd_hosts,
        osd_host_detail,
        pools,
    })
}

/// The pools of an OSD map (`osd dump`), each with its rule's failure domain from the CRUSH rules
/// (`host` where the rules are missing or say nothing). None: the map lists no pools array.
pub fn pools_of(dump: &Value, rules_json: Option<&str>) -> Option<Vec<CephPool>> {
    let rules: Vec<Value> = rules_json.and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let domain_of = |rule: Option<u64>| -> String {
        rules
            .iter()
            .find(|r| rule.is_some() && r.get("rule_id").and_then(Value::as_u64) == rule)
            .and_then(|r| r.get("steps")?.as_array())
            .and_then(|steps| {
                steps.iter().find(|s| s.get("op").and_then(Value::as_str).is_some_and(|o| o.starts_with("choose")))?.get("type")?.as_str()
            })
            .unwrap_or("host")
            .to_string()
    };
    let pools = dump.get("pools")?.as_array()?;
    Some(
        pools
            .iter()
            .map(|p| CephPool {
                name: p.get("pool_name").and_then(Value::as_str).unwrap_or("?").to_string(),
                size: u64_at(p, &["size"]).unwrap_or(0) as u32,
                min_size: u64_at(p, &["min_size"]).unwrap_or(0) as u32,
                failure_domain: domain_of(u64_at(p, &["crush_rule"])),
            })
            .collect(),
    )
}

/// Each CRUSH host with OSDs, its OSD count and how many of them are up.
pub fn osd_host_detail(tree_json: &str) -> Vec<CephOsdHost> {
    let Ok(v) = serde_json::from_str::<Value>(tree_json) else { return vec![] };
    let Some(nodes) = v.get("nodes").and_then(Value::as_array) else { return vec![] };
    let up: BTreeMap<i64, bool> = nodes
        .iter()
        .filter(|n| n.get("type").and_then(Value::as_str) == Some("osd"))
        .filter_map(|n| Some((n.get("id")?.as_i64()?, n.get("status").and_then(Value::as_str) == Some("up"))))
        .collect();
    let mut out: Vec<CephOsdHost> = nodes
        .iter()
        .filter(|n| n.get("type").and_then(Value::as_str) == Some("host"))
        .filter_map(|n| {
            let ids: Vec<i64> = n.get("children")?.as_array()?.iter().filter_map(Value::as_i64).filter(|i| *i >= 0).collect();
            let name = n.get("name")?.as_str()?.to_string();
            let osds = ids.len() as u32;
            let up = ids.iter().filter(|i| up.get(i).copied().unwrap_or(false)).count() as u32;
            (osds > 0).then_some(CephOsdHost { name, osds, up })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// Hosts of the CRUSH tree that carry at least one OSD.
pub fn osd_hosts(tree_json: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(tree_json) else { return vec![] };
    let mut out: Vec<String> = v
        .get("nodes")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .filter(|n| n.get("type").and_then(Value::as_str) == Some("host"))
                .filter(|n| {
                    n.get("children").and_then(Value::as_array).is_some_and(|c| c.iter().any(|id| id.as_i64().is_some_and(|i| i >= 0)))
                })
                .filter_map(|n| n.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
