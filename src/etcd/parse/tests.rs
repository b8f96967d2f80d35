//! On JSON captured from the lab's etcd 3.4.23 (tests/fixtures/etcd/, see its README), plus garbage.

use super::*;

const STATUS_M1: &str = include_str!("../../../tests/fixtures/etcd/status-m1.json");
const STATUS_M2: &str = include_str!("../../../tests/fixtures/etcd/status-m2.json");
const STATUS_M3: &str = include_str!("../../../tests/fixtures/etcd/status-m3.json");
const MEMBERS: &str = include_str!("../../../tests/fixtures/etcd/member-list.json");
const STATUS_NO_LEADER: &str = include_str!("../../../tests/fixtures/etcd/status-noleader.json");
const MEMBERS_NO_LEADER: &str = include_str!("../../../tests/fixtures/etcd/member-list-noleader.json");
const ALARM_NONE: &str = include_str!("../../../tests/fixtures/etcd/alarm-none.json");
const ALARM_NOSPACE: &str = include_str!("../../../tests/fixtures/etcd/alarm-nospace.json");
const STATUS_NOSPACE: &str = include_str!("../../../tests/fixtures/etcd/status-nospace.json");
const ETCDCTL_STATUS: &str = include_str!("../../../tests/fixtures/etcd/etcdctl-endpoint-status.json");
const ETCDCTL_ALARMS: &str = include_str!("../../../tests/fixtures/etcd/etcdctl-alarm-list.json");

const M1: u64 = 14036605125622424712;
const M2: u64 = 6886273874739923722;
const M3: u64 = 10342305722974323297;

fn ok(ep: &str, host: &str, body: &str) -> EndpointResult {
    EndpointResult { endpoint: ep.into(), host: Some(host.into()), status: parse_status(body.as_bytes()) }
}

fn err(ep: &str, host: &str, why: &str) -> EndpointResult {
    EndpointResult { endpoint: ep.into(), host: Some(host.into()), status: Err(why.into()) }
}

#[test]
fn status_from_the_gateway_keeps_every_bit_of_the_ids() {
    let s = parse_status(STATUS_M1.as_bytes()).unwrap();
    assert_eq!(s.member_id, M1, "a u64 above 2^53 survives");
    assert_eq!(s.leader, M2);
    assert_eq!(s.cluster_id, 12729305650463102684);
    assert_eq!((s.version.as_str(), s.raft_term, s.raft_index, s.raft_applied_index), ("3.4.23", 672, 8, 8));
    assert_eq!((s.db_size, s.db_size_in_use), (20480, 16384));
    assert!(!s.is_learner && s.errors.is_empty());
}

#[test]
fn status_from_etcdctl_json_numbers() {
    let v: serde_json::Value = serde_json::from_str(ETCDCTL_STATUS).unwrap();
    let statuses: Vec<Status> =
        v.as_array().unwrap().iter().map(|e| parse_status(serde_json::to_string(&e["Status"]).unwrap().as_bytes()).unwrap()).collect();
    assert_eq!(statuses.len(), 3);
    assert!(statuses.iter().any(|s| s.member_id == M1 && s.leader == M2));
    // serde_json keeps u64 exact: the same ID as the gateway's string
    assert!(statuses.iter().all(|s| s.raft_term == 672 && s.db_size == 20480));
}

#[test]
fn member_list() {
    let ms = parse_members(MEMBERS.as_bytes()).unwrap();
    let names: Vec<(&str, u64)> = ms.iter().map(|m| (m.name.as_str(), m.id)).collect();
    assert_eq!(names, [("m2", M2), ("m3", M3), ("m1", M1)]);
    assert_eq!(ms[2].client_urls, ["https://10.213.0.21:2379"]);
    assert_eq!(ms[2].peer_urls, ["https://10.213.0.21:2380"]);
    assert!(ms.iter().all(|m| !m.is_learner));
}

#[test]
fn a_healthy_cluster() {
    let ms = parse_members(MEMBERS.as_bytes()).unwrap();
    let results =
        [ok("10.213.0.21:2379", "m1", STATUS_M1), ok("10.213.0.22:2379", "m2", STATUS_M2), ok("10.213.0.23:2379", "m3", STATUS_M3)];
    let v = assemble(Some(&ms), &results, &parse_alarms(ALARM_NONE.as_bytes()).unwrap());
    assert_eq!(v.members.len(), 3);
    assert_eq!(v.leader().map(|m| m.name.as_str()), Some("m2"));
    assert!(v.members.iter().all(|m| m.reachable && m.error.is_none()));
    assert_eq!((v.size(), v.quorum(), v.can_lose()), (3, 2, 1));
    assert!(v.alarms.is_empty());
    let m1 = v.members.iter().find(|m| m.name == "m1").unwrap();
    assert_eq!((m1.id, m1.endpoint.as_str(), m1.db_size, m1.apply_lag()), (M1, "https://10.213.0.21:2379", 20480, 0));
}

#[test]
fn quorum_lost_keeps_the_dead_members_with_their_reasons() {
    let ms = parse_members(MEMBERS_NO_LEADER.as_bytes()).unwrap();
    let results = [
        ok("10.213.0.21:2379", "m1", STATUS_NO_LEADER),
        err("10.213.0.22:2379", "m2", "connect 10.213.0.22:2379: Connection refused (os error 111)"),
        err("10.213.0.23:2379", "m3", "no answer in 1.5s"),
    ];
    let v = assemble(Some(&ms), &results, &[]);
    assert_eq!(v.members.len(), 3, "members missing from status are shown, not dropped");
    assert!(v.leader().is_none());
    assert_eq!((v.healthy(), v.can_lose()), (1, -1));
    let m1 = v.members.iter().find(|m| m.name == "m1").unwrap();
    assert!(m1.reachable);
    assert_eq!(m1.error.as_deref(), Some("etcdserver: no leader"));
    let m2 = v.members.iter().find(|m| m.name == "m2").unwrap();
    assert!(!m2.reachable && m2.error.as_deref().unwrap().contains("refused"));
    let m3 = v.members.iter().find(|m| m.name == "m3").unwrap();
    assert_eq!(m3.error.as_deref(), Some("no answer in 1.5s"));
}

#[test]
fn without_a_member_list_the_endpoints_are_the_members() {
    let results = [ok("10.213.0.21:2379", "m1", STATUS_M1), err("10.213.0.22:2379", "m2", "TLS: refused")];
    let v = assemble(None, &results, &[]);
    assert_eq!(v.members.iter().map(|m| (m.name.as_str(), m.reachable)).collect::<Vec<_>>(), [("m1", true), ("m2", false)]);
    // m1 says m2 leads, but m2 did not answer: no member is shown as leader
    assert!(v.leader().is_none());
}

#[test]
fn nospace_alarm_from_the_list_and_from_status_errors() {
    let alarms = parse_alarms(ALARM_NOSPACE.as_bytes()).unwrap();
    assert_eq!(alarms, [(M1, "NOSPACE".to_string())]);
    let st = parse_status(STATUS_NOSPACE.as_bytes()).unwrap();
    assert_eq!(alarms_in_errors(&st.errors), [(M1, "NOSPACE".to_string())]);
    let ms = parse_members(MEMBERS.as_bytes()).unwrap();
    let results = [ok("10.213.0.22:2379", "m2", STATUS_NOSPACE), ok("10.213.0.21:2379", "m1", STATUS_M1)];
    let v = assemble(Some(&ms), &results, &alarms);
    assert_eq!(v.alarms.len(), 1, "the same alarm from both sources counts once");
    assert_eq!((v.alarms[0].member.as_str(), v.alarms[0].alarm.as_str()), ("m1", "NOSPACE"));
    let m2 = v.members.iter().find(|m| m.name == "m2").unwrap();
    assert!(m2.error.is_none(), "an alarm line is not a member error: {:?}", m2.error);
    // without the list (no quorum: the alarm list is a raft request), status errors still show it
    let v = assemble(Some(&ms), &results, &[]);
    assert_eq!(v.alarms.len(), 1);
}

#[test]
fn etcdctl_alarm_numbers() {
    assert_eq!(parse_alarms(ETCDCTL_ALARMS.as_bytes()).unwrap(), [(M1, "NOSPACE".to_string())]);
    assert_eq!(
        parse_alarms(br#"{"alarms":[{"memberID":"1","alarm":"CORRUPT"},{"memberID":"2","alarm":"NONE"}]}"#).unwrap(),
        [(1, "CORRUPT".into())]
    );
}

#[test]
fn learners_and_members_that_never_started() {
    let body = br#"{"header":{},"members":[
        {"ID":"1","name":"a","peerURLs":["https://10.0.0.1:2380"],"clientURLs":["https://10.0.0.1:2379"]},
        {"ID":"2","name":"b","peerURLs":["https://10.0.0.2:2380"],"clientURLs":["https://10.0.0.2:2379"],"isLearner":true},
        {"ID":"3","peerURLs":["https://10.0.0.3:2380"]}]}"#;
    let ms = parse_members(body).unwrap();
    assert!(ms[1].is_learner);
    let st = |id: &str| {
        format!(r#"{{"header":{{"member_id":"{id}"}},"version":"3.5.9","leader":"1","raftIndex":"5000","raftAppliedIndex":"3000"}}"#)
    };
    let results = [ok("10.0.0.1:2379", "a", &st("1")), ok("10.0.0.2:2379", "b", &st("2"))];
    let v = assemble(Some(&ms), &results, &[]);
    assert_eq!(v.size(), 2, "a learner does not vote");
    let c = &v.members[2];
    assert_eq!(c.name, "https://10.0.0.3:2380");
    assert!(!c.reachable && c.error.as_deref().unwrap().contains("never joined"));
    assert_eq!(v.members[0].apply_lag(), 2000);
}

#[test]
fn garbage_and_truncated_input() {
    for bad in ["", "{", "null", "[]", "\"x\"", "{\"header\":{\"member_id\":\"12x\"}}", &STATUS_M1[..STATUS_M1.len() / 2]] {
        assert!(parse_status(bad.as_bytes()).is_err(), "{bad:?}");
        assert!(parse_members(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert!(parse_status(b"{}").unwrap_err().contains("names no member"));
    let gw = br#"{"error":"etcdserver: request timed out","code":14,"message":"etcdserver: request timed out"}"#;
    assert_eq!(parse_status(gw).unwrap_err(), "status: etcdserver: request timed out");
    assert_eq!(parse_alarms(gw).unwrap_err(), "alarm list: etcdserver: request timed out");
    assert!(parse_alarms(b"Not Found").is_err());
    assert_eq!(parse_alarms(b"{}").unwrap(), []);
    assert!(parse_status(b"Not Found").unwrap_err().contains("unreadable"));
    // wrong types inside
    assert!(parse_status(br#"{"header":{"member_id":"1"},"dbSize":{"a":1}}"#).is_err());
    assert!(alarms_in_errors(&["memberID:zz alarm:NOSPACE".into(), "no leader".into()]).is_empty());
}

#[test]
fn urls() {
    assert_eq!(url_host_port("https://10.0.0.1:2379"), Some(("10.0.0.1".into(), 2379)));
    assert_eq!(url_host_port("https://etcd-0.example:12379/"), Some(("etcd-0.example".into(), 12379)));
    assert_eq!(url_host_port("http://[fd00::1]:2379"), Some(("fd00::1".into(), 2379)));
    assert_eq!(url_host_port("https://host"), Some(("host".into(), 2379)));
    assert_eq!(url_host_port("https://host:notaport"), None);
    assert_eq!(url_host_port(""), None);
}
