//! On certificates from the lab's kubeadm PKI (tests/fixtures/certs/), plus garbage.

use chrono::TimeZone;

use super::*;

const DUMP_M1: &str = include_str!("../../../tests/fixtures/certs/dump-m1.txt");
const APISERVER: &str = include_str!("../../../tests/fixtures/certs/apiserver.crt");
const CA: &str = include_str!("../../../tests/fixtures/certs/ca.crt");
const ADMIN_CONF: &str = include_str!("../../../tests/fixtures/certs/admin.conf");
const KUBELET: &str = include_str!("../../../tests/fixtures/certs/kubelet-client-current.pem");
const CHECK_EXPIRATION: &str = include_str!("../../../tests/fixtures/certs/kubeadm-check-expiration.txt");

#[test]
fn a_serving_certificate() {
    let p = from_pem("apiserver", "/etc/kubernetes/pki/apiserver.crt", APISERVER.as_bytes()).unwrap();
    assert_eq!(p.info.subject, "CN=kube-apiserver");
    assert_eq!(p.info.issuer, "CN=kockpit-lab-ca");
    assert!(!p.info.is_ca);
    for san in ["m1", "kubernetes", "kubernetes.default.svc.cluster.local", "10.96.0.1", "10.213.0.21", "10.213.0.100", "127.0.0.1"] {
        assert!(p.info.sans.iter().any(|s| s == san), "{san} in {:?}", p.info.sans);
    }
    assert!(p.info.not_after > p.not_before);
    assert!(!p.serial.is_empty());
}

#[test]
fn a_ca() {
    let p = from_pem("ca", "ca.crt", CA.as_bytes()).unwrap();
    assert!(p.info.is_ca);
    assert_eq!(p.info.subject, p.info.issuer);
}

#[test]
fn a_kubeconfigs_embedded_client_certificate() {
    let data = ADMIN_CONF.lines().find_map(|l| l.trim().strip_prefix("client-certificate-data:")).unwrap();
    let p = from_kubeconfig_data("admin.conf", "/etc/kubernetes/admin.conf", data).unwrap();
    assert!(p.info.subject.contains("CN=kubernetes-admin") && p.info.subject.contains("O=system:masters"), "{}", p.info.subject);
    assert!(from_kubeconfig_data("admin.conf", "x", &format!("\"{}\"", data.trim())).is_ok(), "quoted YAML value");
    assert!(from_kubeconfig_data("admin.conf", "x", "not base64!").unwrap_err().contains("not base64"));
    assert!(from_kubeconfig_data("admin.conf", "x", "aGVsbG8=").unwrap_err().contains("no certificate"));
}

#[test]
fn a_file_with_the_key_too() {
    let p = from_pem("kubelet-client", "kubelet-client-current.pem", KUBELET.as_bytes()).unwrap();
    assert!(p.info.subject.contains("system:node:m1"), "{}", p.info.subject);
}

/// "Nov 27, 2026 14:31 UTC" -> time (kubeadm prints minutes).
fn kubeadm_time(s: &str) -> DateTime<Utc> {
    let t = chrono::NaiveDateTime::parse_from_str(s.trim_end_matches(" UTC"), "%b %d, %Y %H:%M").unwrap();
    Utc.from_utc_datetime(&t)
}

#[test]
fn the_dump_of_a_master_agrees_with_kubeadm() {
    let (certs, errors) = parse_dump(DUMP_M1);
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = certs.iter().map(|c| c.info.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "admin.conf",
            "apiserver",
            "apiserver-etcd-client",
            "apiserver-kubelet-client",
            "controller-manager.conf",
            "etcd-healthcheck-client",
            "etcd-peer",
            "etcd-server",
            "front-proxy-client",
            "scheduler.conf",
            "ca",
            "etcd-ca",
            "front-proxy-ca",
            "kubelet-client"
        ]
    );
    // `kubeadm certs check-expiration` on the same host at the same moment
    let mut compared = 0;
    for line in CHECK_EXPIRATION.lines() {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        let Some(c) = certs.iter().find(|c| c.info.name == name) else { continue };
        let when: Vec<&str> = line[name.len()..].trim_start().splitn(5, ' ').take(4).collect();
        let kubeadm = kubeadm_time(&when.join(" "));
        let ours = c.info.not_after;
        assert!((ours - kubeadm).num_seconds().abs() < 60, "{name}: kockpit {ours}, kubeadm {kubeadm}");
        compared += 1;
    }
    assert_eq!(compared, 13, "every certificate kubeadm lists");
    let by = |n: &str| certs.iter().find(|c| c.info.name == n).unwrap();
    assert!(by("ca").info.is_ca && by("etcd-ca").info.is_ca && by("front-proxy-ca").info.is_ca);
    assert!(by("etcd-server").info.sans.iter().any(|s| s == "10.213.0.21"));
    assert!(by("etcd-server").info.issuer.contains("etcd-ca"));
    // the lab's soon-expiring ones, relative to each other (not to today: the fixture ages)
    let left = |n: &str| (by(n).info.not_after - by("etcd-server").info.not_after).num_days();
    assert!(left("admin.conf") < -300 && left("apiserver-kubelet-client") < -300, "re-signed to expire within days");
}

#[test]
fn garbage_and_truncated_dumps() {
    let (c, e) = parse_dump("");
    assert!(c.is_empty() && e.is_empty());
    let (c, e) = parse_dump("garbage\n@@kockpit-cert x /x\nnot a pem\n@@kockpit-kubeconfig y /y.conf\n\n@@kockpit-unknown z\n");
    assert!(c.is_empty());
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("x: ") && e[0].contains("/x"), "{e:?}");
    assert!(e[1].contains("no client certificate"), "{e:?}");
    // cut in the middle of the apiserver certificate: the others before it still count
    let cut = &DUMP_M1[..DUMP_M1.find("@@kockpit-cert apiserver ").unwrap() + 300];
    let (c, e) = parse_dump(cut);
    assert_eq!(c.len(), 1, "admin.conf");
    assert_eq!(e.len(), 1);
    assert!(from_der("x", "y", b"\x30\x03\x02\x01\x01").is_err());
    assert!(from_pem("x", "y", b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").is_err());
}
