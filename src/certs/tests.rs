use std::path::Path;

use super::*;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/certs");

#[test]
fn specs_per_layout_and_role() {
    let names = |v: Vec<(&'static str, &'static str)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    let kubeadm_master = names(cert_specs(CertLayout::Kubeadm, true, true));
    assert_eq!(kubeadm_master.len(), 14);
    assert!(kubeadm_master.contains(&"etcd-server") && kubeadm_master.contains(&"kubelet-client"));
    let kk_master = names(cert_specs(CertLayout::KubeKey, true, false));
    assert!(!kk_master.contains(&"etcd-server") && kk_master.contains(&"etcd/") && kk_master.contains(&"apiserver-etcd-client"));
    assert_eq!(names(cert_specs(CertLayout::KubeKey, false, true)), ["etcd/"]);
    assert_eq!(names(cert_specs(CertLayout::Kubeadm, false, true)), ["etcd-healthcheck-client", "etcd-peer", "etcd-server", "etcd-ca"]);
    let cmd = certs_command(&cert_specs(CertLayout::Kubeadm, true, true));
    assert!(crate::transport::readonly::is_read_only(&cmd));
}

/// Run the real script with sh on fixture files: kubeconfig data and file forms, a KubeKey directory
/// with keys in it (never printed), a missing file (skipped).
#[test]
fn the_script_prints_certificates_and_never_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("kk")).unwrap();
    for f in std::fs::read_dir(Path::new(FIX).join("kubekey")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.join("kk").join(f.file_name())).unwrap();
    }
    let kubelet = Path::new(FIX).join("kubelet-client-current.pem");
    let conf_file = dir.join("kubelet.conf");
    std::fs::write(
        &conf_file,
        format!("users:\n- name: x\n  user:\n    client-certificate: {}\n    client-key: /nope\n", kubelet.display()),
    )
    .unwrap();
    let admin = Path::new(FIX).join("admin.conf");
    let kk = format!("{}/", dir.join("kk").display());
    let specs = [
        ("admin.conf", admin.to_str().unwrap()),
        ("kubelet.conf", conf_file.to_str().unwrap()),
        ("kubelet-client", kubelet.to_str().unwrap()),
        ("missing", "/nonexistent/x.crt"),
        ("etcd/", kk.as_str()),
    ];
    let out = std::process::Command::new("sh").arg("-c").arg(certs_command(&specs)).output().unwrap();
    drop(tmp);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("PRIVATE KEY") && !text.contains("not a real key") && !text.contains("REDACTED"), "{text}");
    let (certs, errors) = parse::parse_dump(&text);
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = certs.iter().map(|c| c.info.name.as_str()).collect();
    assert_eq!(
        names,
        ["admin.conf", "kubelet.conf", "kubelet-client", "etcd/admin-node1", "etcd/ca", "etcd/member-node1", "etcd/node-node1"]
    );
    let member = certs.iter().find(|c| c.info.name == "etcd/member-node1").unwrap();
    assert!(member.info.sans.contains(&"192.168.0.11".to_string()));
    assert!(certs.iter().find(|c| c.info.name == "etcd/ca").unwrap().info.is_ca);
}

#[tokio::test]
async fn served_certificate_of_nothing_fails_fast() {
    let t = std::time::Instant::now();
    let e = served_cert(SERVED, "127.0.0.1:1".parse().unwrap(), Duration::from_secs(2)).await.unwrap_err();
    assert!(e.contains("127.0.0.1:1"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn restore_commands_are_exact() {
    let r = crate::live::renew::restore_commands("20260101T000000Z", "systemctl restart kubelet");
    assert_eq!(
        r,
        "rm -rf /etc/kubernetes/pki && cp -a /etc/kubernetes/pki.bak-20260101T000000Z /etc/kubernetes/pki && \
         for f in /etc/kubernetes/*.conf.bak-20260101T000000Z; do cp -a \"$f\" \"${f%.bak-20260101T000000Z}\"; done && systemctl restart kubelet"
    );
    assert_eq!(crate::live::renew::RenewTool::Kubeadm { path: "/usr/bin/kubeadm".into() }.command(), "'/usr/bin/kubeadm' certs renew all");
}
