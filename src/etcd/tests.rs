use super::*;

const CA: &str = include_str!("../../tests/fixtures/certs/ca.crt");

#[test]
fn credentials_output() {
    let out = format!(
        "@@kockpit-etcd-ca /etc/kubernetes/pki/etcd/ca.crt\n{CA}@@kockpit-etcd-cert /etc/kubernetes/pki/etcd/healthcheck-client.crt\n{CA}\
         @@kockpit-etcd-key /etc/kubernetes/pki/etcd/healthcheck-client.key\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"
    );
    let c = parse_credentials("m1", &out).unwrap();
    assert_eq!(c.origin, "m1:/etc/kubernetes/pki/etcd/healthcheck-client.crt");
    assert!(String::from_utf8_lossy(&c.key_pem).contains("PRIVATE KEY"));
    assert!(!format!("{c:?}").contains("PRIVATE"), "Debug never shows the key");
    // the bogus key is refused when building TLS, with the origin named
    let e = c.tls_config().unwrap_err();
    assert!(e.contains("healthcheck-client"), "{e}");
    for bad in ["", "no etcd client certificate readable here", "@@kockpit-etcd-ca x\n"] {
        assert!(parse_credentials("m1", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn credentials_script_is_read_only_and_runs_in_sh() {
    let cmd = script_command(CREDENTIALS_SCRIPT, &["/nonexistent/ca", "/nonexistent/cert", "/nonexistent/key"]);
    assert!(crate::transport::readonly::is_read_only(&cmd));
    // on a machine without any etcd PKI the script says so and fails
    let out = std::process::Command::new("sh").arg("-c").arg(format!("{cmd} 2>&1; echo rc=$?")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if !std::path::Path::new("/etc/kubernetes/pki/etcd/ca.crt").exists() && !std::path::Path::new("/etc/ssl/etcd/ssl").exists() {
        assert!(text.contains("no etcd client certificate readable here") && text.contains("rc=1"), "{text}");
    }
}

#[test]
fn settings_from_the_plan() {
    let plan = crate::inventory::Plan::demo();
    let s = EtcdSettings::from_plan(&plan);
    assert_eq!(s.endpoints.len(), plan.etcd_hosts().count());
    assert!(s.endpoints.iter().all(|e| e.port == 2379));
    assert_eq!(s.tunnel, TunnelMode::WhenDirectFails);
    assert!(matches!(&s.credentials, CredentialSource::Ssh { hosts, .. } if hosts.len() == s.endpoints.len()));
}

#[tokio::test]
async fn no_member_answers_is_an_error_naming_each_endpoint() {
    // a port nothing listens on, direct only
    let s = EtcdSettings {
        endpoints: vec![EtcdEndpoint { name: "x".into(), host: "127.0.0.1".into(), port: 1, ssh_host: "x".into() }],
        credentials: CredentialSource::Loaded(Credentials {
            ca_pem: CA.into(),
            cert_pem: TEST_CERT.into(),
            key_pem: TEST_KEY.into(),
            origin: "test".into(),
        }),
        tunnel: TunnelMode::Never,
        interval: Duration::from_secs(1),
        request_timeout: Duration::from_millis(500),
    };
    let mut p = EtcdProbe::new(s, None, None);
    let e = p.poll().await.unwrap_err();
    assert!(e.starts_with("no etcd member answers") && e.contains("127.0.0.1:1"), "{e}");
}

/// A throw-away key pair made for these tests only (tests/fixtures/etcd/test-only-client.*).
const TEST_KEY: &str = include_str!("../../tests/fixtures/etcd/test-only-client.key");
const TEST_CERT: &str = include_str!("../../tests/fixtures/etcd/test-only-client.crt");

#[tokio::test]
async fn missing_credentials_are_reported_and_not_retried_every_poll() {
    let s = EtcdSettings {
        endpoints: vec![],
        credentials: CredentialSource::Files {
            ca: "/nonexistent/ca.crt".into(),
            cert: "/nonexistent/c.crt".into(),
            key: "/nonexistent/c.key".into(),
        },
        tunnel: TunnelMode::Never,
        interval: Duration::from_secs(1),
        request_timeout: Duration::from_millis(500),
    };
    let mut p = EtcdProbe::new(s, None, None);
    let e = p.poll().await.unwrap_err();
    assert!(e.contains("/nonexistent/ca.crt"), "{e}");
    assert_eq!(p.poll().await.unwrap_err(), e);
    assert!(p.creds_failed.is_some());
    p.reset();
    assert!(p.creds_failed.is_none());
}
