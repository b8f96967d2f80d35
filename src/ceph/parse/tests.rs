//! On output captured from the lab's Ceph 16.2.15 (tests/fixtures/ceph/), plus garbage.

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/ceph/", $name))
    };
}

fn answers(prefix: &str) -> CephAnswers {
    let get = |n: &str| -> String {
        match (prefix, n) {
            ("ok", "status") => fixture!("ok-status.json"),
            ("ok", "health-detail") => fixture!("ok-health-detail.json"),
            ("ok", "osd-tree") => fixture!("ok-osd-tree.json"),
            ("ok", "df") => fixture!("ok-df.json"),
            ("ok", "osd-dump") => fixture!("ok-osd-dump.json"),
            ("degraded", "status") => fixture!("degraded-status.json"),
            ("degraded", "health-detail") => fixture!("degraded-health-detail.json"),
            ("degraded", "osd-tree") => fixture!("degraded-osd-tree.json"),
            ("degraded", "df") => fixture!("degraded-df.json"),
            ("degraded", "osd-dump") => fixture!("degraded-osd-dump.json"),
            _ => unreachable!(),
        }
        .to_string()
    };
    CephAnswers {
        status: get("status"),
        health_detail: Some(get("health-detail")),
        osd_tree: Some(get("osd-tree")),
        df: Some(get("df")),
        osd_dump: Some(get("osd-dump")),
        crush_rules: None,
    }
}

#[test]
fn health_ok() {
    let v = parse_view(&answers("ok")).unwrap();
    assert_eq!(v.health, CephHealth::Ok);
    assert!(v.checks.is_empty());
    assert_eq!((v.mons, v.mons_in_quorum, v.osds, v.osds_up, v.osds_in), (1, 1, 3, 3, 3));
    assert_eq!(v.pgs_by_state, [("active+clean".to_string(), 17)]);
    assert_eq!((v.pgs_clean(), v.pgs_total()), (17, 17));
    assert_eq!(v.bytes_total, 3221225472);
    assert!(v.bytes_used > 0 && v.bytes_used < v.bytes_total);
    assert!(v.flags.is_empty(), "routine flags are not shown: {:?}", v.flags);
    assert_eq!(v.osd_hosts, ["vm"]);
}

#[test]
fn osd_down_degraded_and_noout() {
    let v = parse_view(&answers("degraded")).unwrap();
    assert_eq!(v.health, CephHealth::Warn);
    let codes: Vec<&str> = v.checks.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["OSDMAP_FLAGS", "OSD_DOWN", "PG_DEGRADED"]);
    let down = &v.checks[1];
    assert_eq!(down.summary, "1 osds down: osd.1 (root=default,host=vm) is down");
    let deg = &v.checks[2];
    assert!(deg.summary.starts_with("Degraded data redundancy: 4/12 objects degraded"), "{}", deg.summary);
    assert!(deg.summary.ends_with("; +1 more"), "three detail lines, then a count: {}", deg.summary);
    assert_eq!((v.osds, v.osds_up, v.osds_in), (3, 2, 3));
    assert_eq!(v.flags, ["noout"]);
    assert_eq!(v.pgs_total(), 17);
    assert_eq!(v.pgs_clean(), 0);
    assert!(v.pgs_by_state.iter().any(|(s, n)| s == "active+undersized+degraded" && *n == 4));
}

#[test]
fn status_alone_is_enough() {
    let a = CephAnswers { status: fixture!("degraded-status.json").into(), ..Default::default() };
    let v = parse_view(&a).unwrap();
    assert_eq!(v.checks.len(), 3);
    assert_eq!(v.checks[1].summary, "1 osds down", "no detail without `health detail`");
    assert_eq!(v.flags, ["noout"], "flags from OSDMAP_FLAGS when there is no osd dump");
    assert!(v.osd_hosts.is_empty());
    assert_eq!(v.bytes_total, 3221225472, "capacity from the pgmap");
}

#[test]
fn the_probe_scripts_output() {
    let a = split_sections(fixture!("script-ok.txt"), 5).unwrap();
    assert!(a.health_detail.is_some() && a.osd_tree.is_some() && a.df.is_some() && a.osd_dump.is_some());
    assert_eq!(parse_view(&a).unwrap().health, CephHealth::Ok);
    let v = parse_view(&split_sections(fixture!("script-osd-down.txt"), 5).unwrap()).unwrap();
    assert!(v.checks.iter().any(|c| c.code == "OSD_DOWN"));
    assert!(v.checks.iter().any(|c| c.code == "PG_DEGRADED"));
    assert_eq!(v.osds_up, 2);
}

#[test]
fn no_quorum_is_a_timeout_in_words() {
    let e = split_sections(fixture!("script-no-quorum.txt"), 2).unwrap_err();
    assert!(e.contains("no answer from the monitors within 2s") && e.contains("no mon quorum"), "{e}");
    let e = split_sections(fixture!("script-no-conf.txt"), 5).unwrap_err();
    assert!(e.starts_with("ceph connect failed (rc 2)") && e.contains("conf_read_file"), "{e}");
    // the CLI fallback's form of a timeout
    let e = split_sections("\n@@kockpit-ceph 1 status\ntimed out\n", 5).unwrap_err();
    assert!(e.contains("within 5s"), "{e}");
}

#[test]
fn garbage_and_truncated_input() {
    assert!(split_sections("", 5).is_err());
    assert!(split_sections("Traceback (most recent call last):\n  boom\n", 5).unwrap_err().contains("Traceback"));
    assert!(split_sections("\n@@kockpit-ceph 0 df\n{}\n", 5).unwrap_err().contains("no status"));
    let ok = fixture!("ok-status.json");
    for bad in ["", "{", "null", "[]", "{}", r#"{"health":{"status":"HEALTH_PURPLE"}}"#, &ok[..ok.len() / 2]] {
        let a = CephAnswers { status: bad.into(), ..Default::default() };
        assert!(parse_view(&a).is_err(), "{bad:?}");
    }
    // broken optional answers are skipped, not fatal
    let a = CephAnswers {
        status: ok.into(),
        health_detail: Some("{".into()),
        osd_tree: Some("[1,2".into()),
        df: Some("null".into()),
        osd_dump: Some("{\"flags\": 7}".into()),
        crush_rules: Some("[{\"rule_id\": \"x\"}".into()),
    };
    let v = parse_view(&a).unwrap();
    assert_eq!(v.health, CephHealth::Ok);
    assert!(v.osd_hosts.is_empty() && v.flags.is_empty());
    // a truncated script output: the last section cut in the middle of its JSON
    let full = fixture!("script-ok.txt");
    let cut = &full[..full.find("@@kockpit-ceph 0 health detail").unwrap() - 200];
    assert!(parse_view(&split_sections(cut, 5).unwrap()).is_err());
}

#[test]
fn nautilus_nested_osdmap() {
    let status = r#"{"health":{"status":"HEALTH_WARN","checks":{"MON_DOWN":{"severity":"HEALTH_WARN","summary":{"message":"1/3 mons down"}}}},
        "quorum_names":["a","b"],"monmap":{"mons":[{},{},{}]},
        "osdmap":{"osdmap":{"num_osds":9,"num_up_osds":8,"num_in_osds":9,"full":false}},
        "pgmap":{"pgs_by_state":[{"state_name":"active+clean","count":100},{"state_name":"active+undersized","count":28}],"bytes_used":10,"bytes_total":100}}"#;
    let v = parse_view(&CephAnswers { status: status.into(), ..Default::default() }).unwrap();
    assert_eq!((v.mons, v.mons_in_quorum, v.osds, v.osds_up, v.osds_in), (3, 2, 9, 8, 9));
    assert_eq!(v.pgs_by_state[0], ("active+clean".to_string(), 100));
    assert_eq!(v.checks[0].code, "MON_DOWN");
}

#[test]
fn pools_failure_domains_and_osds_per_host_from_the_probe() {
    // the lab's probe with `osd crush rule dump`: pools of 3 copies, min_size 2, spread over OSDs
    // (`osd crush chooseleaf type = 0`: one host)
    let v = parse_view(&split_sections(fixture!("pools-script-ok.txt"), 5).unwrap()).unwrap();
    let pools = v.pools.as_ref().expect("pools");
    let lab = pools.iter().find(|p| p.name == "lab").expect("pool lab");
    assert_eq!((lab.size, lab.min_size, lab.failure_domain.as_str()), (3, 2, "osd"));
    assert_eq!(pools.len(), 2, "{pools:?}");
    assert_eq!(v.osd_host_detail, [CephOsdHost { name: "vm".into(), osds: 3, up: 3 }]);
    let v = parse_view(&split_sections(fixture!("pools-script-osd-down.txt"), 5).unwrap()).unwrap();
    assert_eq!(v.osd_host_detail, [CephOsdHost { name: "vm".into(), osds: 3, up: 2 }]);
    assert!(v.checks.iter().any(|c| c.code == "OSD_DOWN") && v.checks.iter().any(|c| c.code == "PG_DEGRADED"), "{:?}", v.checks);

    // without the rules (an older probe): the default failure domain, host
    let mut a = answers("ok");
    let v = parse_view(&a).unwrap();
    assert!(v.pools.as_ref().unwrap().iter().all(|p| p.failure_domain == "host" && p.size == 3 && p.min_size == 2));
    // the rules alone, captured with the CLI (`ceph osd crush rule dump -f json`)
    a.crush_rules = Some(fixture!("crush-rule-dump.json").to_string());
    assert!(parse_view(&a).unwrap().pools.unwrap().iter().all(|p| p.failure_domain == "osd"));
    // no OSD map: pools unknown, not empty
    a.osd_dump = None;
    assert_eq!(parse_view(&a).unwrap().pools, None);
    // garbage rules: the default
    assert_eq!(
        pools_of(&serde_json::json!({"pools": [{"pool_name": "p", "size": 2, "min_size": 1, "crush_rule": 7}]}), Some("{")).unwrap()[0]
            .failure_domain,
        "host"
    );
}
