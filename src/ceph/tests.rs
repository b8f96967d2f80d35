use super::*;

#[test]
fn commands() {
    let s = CephSettings::new("m1", CephAccess::Direct { conf: Some("/var/tmp/it's/ceph.conf".into()) });
    let probe = s.probe_command();
    assert!(crate::transport::readonly::is_read_only(&probe), "the probe is one of the read-only scripts");
    assert!(probe.ends_with(r" '5' 'direct' '/var/tmp/it'\''s/ceph.conf'"), "{probe}");
    assert_eq!(s.ceph_command(&["osd", "set", "noout"]), r"ceph -c '/var/tmp/it'\''s/ceph.conf' --connect-timeout 5 'osd' 'set' 'noout'");
    assert!(!crate::transport::readonly::is_read_only(&s.ceph_command(&["osd", "set", "noout"])), "a write is not a probe");
    let rook = CephSettings::new("jump", CephAccess::Rook { namespace: "rook-ceph".into(), deployment: "rook-ceph-tools".into() });
    assert_eq!(
        rook.ceph_command(&["osd", "unset", "noout"]),
        "kubectl -n 'rook-ceph' exec 'deploy/rook-ceph-tools' -- ceph --connect-timeout 5 'osd' 'unset' 'noout'"
    );
    assert!(rook.probe_command().ends_with(" '5' 'rook' 'rook-ceph' 'rook-ceph-tools'"));
    assert_eq!(s.deadline(), Duration::from_secs(8));
    let quick = CephSettings { connect_timeout: Duration::from_millis(10), ..s };
    assert_eq!(quick.timeout_secs(), 1, "ceph takes whole seconds, at least one");
}

#[test]
fn the_script_rejects_a_bad_timeout() {
    let out = std::process::Command::new("sh").arg("-c").arg(script_command(CEPH_SCRIPT, &["5; reboot", "direct", ""])).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad timeout"));
}
