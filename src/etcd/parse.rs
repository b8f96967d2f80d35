//! etcd's v3 JSON (the grpc-gateway's `/v3/...` answers, and etcdctl's `-w json`), parsed without I/O.
//!
//! The gateway follows proto3's JSON mapping: 64-bit integers arrive as strings (`"member_id":
//! "9372538179322589801"`), zero values and `false` are left out, field names are the proto names.
//! etcdctl prints the same messages with numbers instead of strings and camelCase names. Both are read
//! here, into full `u64`s (member IDs use all 64 bits: a float would lose them).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::model::{EtcdAlarm, EtcdMember, EtcdView};

/// A uint64 as JSON: a string of digits (grpc-gateway) or a number (etcdctl); absent = 0.
fn u64_any<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        S(String),
        N(u64),
    }
    match Option::<Num>::deserialize(d)? {
        None => Ok(0),
        Some(Num::N(n)) => Ok(n),
        Some(Num::S(s)) if s.is_empty() => Ok(0),
        Some(Num::S(s)) => s.parse().map_err(|_| de::Error::custom(format!("not a uint64: {s:?}"))),
    }
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Header {
    #[serde(deserialize_with = "u64_any", alias = "clusterId")]
    cluster_id: u64,
    #[serde(deserialize_with = "u64_any", alias = "memberId")]
    member_id: u64,
}

/// One member's answer to `Maintenance.Status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub cluster_id: u64,
    pub member_id: u64,
    /// The leader this member knows; 0 = none.
    pub leader: u64,
    pub version: String,
    pub db_size: u64,
    pub db_size_in_use: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub raft_applied_index: u64,
    pub is_learner: bool,
    /// "etcdserver: no leader", "memberID:... alarm:NOSPACE " ...
    pub errors: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusJson {
    #[serde(deserialize_with = "null_as_default")]
    header: Header,
    #[serde(deserialize_with = "null_as_default")]
    version: String,
    #[serde(deserialize_with = "u64_any", alias = "dbSize")]
    db_size: u64,
    #[serde(deserialize_with = "u64_any")]
    leader: u64,
    #[serde(deserialize_with = "u64_any", alias = "raftIndex")]
    raft_index: u64,
    #[serde(deserialize_with = "u64_any", alias = "raftTerm")]
    raft_term: u64,
    #[serde(deserialize_with = "u64_any", alias = "raftAppliedIndex")]
    raft_applied_index: u64,
    #[serde(deserialize_with = "null_as_default")]
    errors: Vec<String>,
    #[serde(deserialize_with = "u64_any", alias = "dbSizeInUse")]
    db_size_in_use: u64,
    #[serde(deserialize_with = "null_as_default", alias = "isLearner")]
    is_learner: bool,
}

/// A gateway error body: `{"error": "...", "code": 14, "message": "..."}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GatewayError {
    error: Option<String>,
    message: Option<String>,
}

/// The gateway's error message, if `body` is an error object.
pub fn gateway_error(body: &[u8]) -> Option<String> {
    let e: GatewayError = serde_json::from_slice(body).ok()?;
    e.message.or(e.error).filter(|m| !m.is_empty())
}

fn json_err(what: &str, body: &[u8], e: serde_json::Error) -> String {
    if let Some(msg) = gateway_error(body) {
        return format!("{what}: {msg}");
    }
    let snippet: String = String::from_utf8_lossy(body).chars().take(80).collect();
    format!("{what}: unreadable answer ({e}): {snippet:?}")
}

/// `POST /v3/maintenance/status` (or one `Status` of etcdctl's `endpoint status -w json`).
pub fn parse_status(body: &[u8]) -> Result<Status, String> {
    let j: StatusJson = serde_json::from_slice(body).map_err(|e| json_err("status", body, e))?;
    if j.header.member_id == 0 {
        return Err(match gateway_error(body) {
            Some(m) => format!("status: {m}"),
            None => "status: the answer names no member".into(),
        });
    }
    Ok(Status {
        cluster_id: j.header.cluster_id,
        member_id: j.header.member_id,
        leader: j.leader,
        version: j.version,
        db_size: j.db_size,
        db_size_in_use: j.db_size_in_use,
        raft_index: j.raft_index,
        raft_term: j.raft_term,
        raft_applied_index: j.raft_applied_index,
        is_learner: j.is_learner,
        errors: j.errors,
    })
}

/// One entry of the member list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    /// Empty for a member that was added but has not started yet.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemberJson {
    #[serde(deserialize_with = "u64_any", alias = "id")]
    #[serde(rename = "ID")]
    id: u64,
    #[serde(deserialize_with = "null_as_default")]
    name: String,
    #[serde(rename = "peerURLs", alias = "peer_urls", deserialize_with = "null_as_default")]
    peer_urls: Vec<String>,
    #[serde(rename = "clientURLs", alias = "client_urls", deserialize_with = "null_as_default")]
    client_urls: Vec<String>,
    #[serde(rename = "isLearner", alias = "is_learner", deserialize_with = "null_as_default")]
    is_learner: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemberListJson {
    #[serde(deserialize_with = "null_as_default")]
    header: Header,
    #[serde(deserialize_with = "null_as_default")]
    members: Vec<MemberJson>,
}

/// `POST /v3/cluster/member/list` (or etcdctl's `member list -w json`).
pub fn parse_members(body: &[u8]) -> Result<Vec<Member>, String> {
    let j: MemberListJson = serde_json::from_slice(body).map_err(|e| json_err("member list", body, e))?;
    if j.members.is_empty() {
        return Err(match gateway_error(body) {
            Some(m) => format!("member list: {m}"),
            None => "member list: no members in the answer".into(),
        });
    }
    let _ = j.header;
    Ok(j.members
        .into_iter()
        .map(|m| Member { id: m.id, name: m.name, peer_urls: m.peer_urls, client_urls: m.client_urls, is_learner: m.is_learner })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AlarmJson {
    #[serde(rename = "memberID", alias = "member_id", deserialize_with = "u64_any")]
    member_id: u64,
    /// "NOSPACE", "CORRUPT"; etcdctl prints the enum's number (1, 2).
    #[serde(deserialize_with = "null_as_default")]
    alarm: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AlarmListJson {
    #[serde(deserialize_with = "null_as_default")]
    alarms: Vec<AlarmJson>,
}

/// `POST /v3/maintenance/alarm` with `{}` (action GET): (member id, NOSPACE | CORRUPT).
pub fn parse_alarms(body: &[u8]) -> Result<Vec<(u64, String)>, String> {
    if let Some(m) = gateway_error(body) {
        return Err(format!("alarm list: {m}"));
    }
    let j: AlarmListJson = serde_json::from_slice(body).map_err(|e| json_err("alarm list", body, e))?;
    Ok(j.alarms
        .into_iter()
        .filter_map(|a| {
            let name = match &a.alarm {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => match n.as_u64() {
                    Some(1) => "NOSPACE".into(),
                    Some(2) => "CORRUPT".into(),
                    _ => return None,
                },
                _ => return None,
            };
            (name != "NONE" && !name.is_empty()).then_some((a.member_id, name))
        })
        .collect())
}

/// Alarms a member reports in its status errors (etcd 3.4 appends `memberID:<id> alarm:NOSPACE `):
/// readable even without quorum, when the alarm list itself (a raft request) cannot be.
pub fn alarms_in_errors(errors: &[String]) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for e in errors {
        let mut id = None;
        let mut alarm = None;
        for word in e.split_whitespace() {
            if let Some(v) = word.strip_prefix("memberID:") {
                id = v.parse::<u64>().ok().or_else(|| u64::from_str_radix(v, 16).ok());
            } else if let Some(v) = word.strip_prefix("alarm:") {
                alarm = Some(v.to_string());
            }
        }
        if let (Some(id), Some(a)) = (id, alarm)
            && a != "NONE"
        {
            out.push((id, a));
        }
    }
    out
}

/// Host and port of a URL such as `https://10.0.0.1:2379` (no port: 2379).
pub fn url_host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return None;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => 2379,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), 2379)),
    }
}

/// What one endpoint answered (or why it did not), for [`assemble`].
#[derive(Debug, Clone)]
pub struct EndpointResult {
    /// `host:port` as dialled.
    pub endpoint: String,
    /// The plan's name for the host behind it, if known.
    pub host: Option<String>,
    pub status: Result<Status, String>,
}

/// The panel's view: every member of the member list (none dropped), each with its status or the reason
/// it has none; alarms by member name. Without a member list (no member answered it), the members are
/// the endpoints that answered status plus the configured ones that did not.
pub fn assemble(members: Option<&[Member]>, results: &[EndpointResult], alarms: &[(u64, String)]) -> EtcdView {
    let by_id: BTreeMap<u64, &Status> = results.iter().filter_map(|r| r.status.as_ref().ok()).map(|s| (s.member_id, s)).collect();
    // the leader as most answering members see it (a partitioned member may name an old one)
    let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
    for s in by_id.values() {
        if s.leader != 0 {
            *votes.entry(s.leader).or_default() += 1;
        }
    }
    let leader = votes.iter().max_by_key(|(id, n)| (**n, **id)).map(|(id, _)| *id).unwrap_or(0);
    let error_for = |urls: &[String]| -> Option<String> {
        urls.iter().filter_map(|u| url_host_port(u)).find_map(|(h, p)| {
            let ep = format!("{h}:{p}");
            results.iter().find(|r| r.endpoint == ep).and_then(|r| r.status.as_ref().err().cloned())
        })
    };
    let member_view = |id: u64, name: String, endpoint: String, is_learner: bool, err: Option<String>| -> EtcdMember {
        match by_id.get(&id) {
            Some(s) => EtcdMember {
                name,
                id,
                endpoint,
                reachable: true,
                is_leader: leader != 0 && id == leader,
                is_learner: is_learner || s.is_learner,
                version: s.version.clone(),
                raft_term: s.raft_term,
                raft_index: s.raft_index,
                raft_applied_index: s.raft_applied_index,
                db_size: s.db_size,
                db_size_in_use: s.db_size_in_use,
                error: s.errors.iter().find(|e| !e.contains("alarm:")).cloned(),
            },
            None => EtcdMember {
                name,
                id,
                endpoint,
                reachable: false,
                is_leader: false,
                is_learner,
                version: String::new(),
                raft_term: 0,
                raft_index: 0,
                raft_applied_index: 0,
                db_size: 0,
                db_size_in_use: 0,
                error: Some(err.unwrap_or_else(|| "no status answer".into())),
            },
        }
    };
    let mut out = Vec::new();
    match members {
        Some(list) => {
            for m in list {
                let endpoint = m.client_urls.first().cloned().unwrap_or_default();
                let name = if m.name.is_empty() {
                    // added, never started: etcd knows only its peer URL
                    m.peer_urls.first().cloned().unwrap_or_else(|| format!("{:x}", m.id))
                } else {
                    m.name.clone()
                };
                let err = if m.name.is_empty() && m.client_urls.is_empty() {
                    Some("not started (added to the cluster, never joined)".to_string())
                } else {
                    error_for(&m.client_urls)
                };
                out.push(member_view(m.id, name, endpoint, m.is_learner, err));
            }
        }
        None => {
            for r in results {
                let name = r.host.clone().unwrap_or_else(|| r.endpoint.clone());
                match &r.status {
                    Ok(s) => out.push(member_view(s.member_id, name, r.endpoint.clone(), false, None)),
                    Err(e) => out.push(member_view(0, name, r.endpoint.clone(), false, Some(e.clone()))),
                }
            }
        }
    }
    let name_of = |id: u64| out.iter().find(|m| m.id == id && id != 0).map(|m| m.name.clone()).unwrap_or_else(|| format!("{id:x}"));
    let mut seen = std::collections::BTreeSet::new();
    let mut all_alarms: Vec<(u64, String)> = alarms.to_vec();
    for s in by_id.values() {
        all_alarms.extend(alarms_in_errors(&s.errors));
    }
    let mut alarm_views = Vec::new();
    for (id, a) in all_alarms {
        if seen.insert((id, a.clone())) {
            alarm_views.push(EtcdAlarm { member: name_of(id), alarm: a });
        }
    }
    EtcdView { members: out, alarms: alarm_views }
}

#[cfg(test)]
mod tests;
