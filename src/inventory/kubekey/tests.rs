//! Tests of the KubeKey reader: both versions, ranges, topologies, redaction, every error path.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{expand, redact, secret_values};
use crate::error::FileError;
use crate::inventory::{EtcdDeploy, EtcdTopology, LbTopology, Plan, PlanSource};

fn parse(src: &str) -> Result<Plan, FileError> {
    Plan::parse_kubekey(Path::new("cluster.yaml"), src)
}

/// Asserts that `src` fails at `line`:`column` with a message containing every one of `needles`.
#[track_caller]
fn assert_error(src: &str, line: usize, column: usize, needles: &[&str]) -> FileError {
    let Err(err) = parse(src) else {
        panic!("expected an error for:\n{src}");
    };
    assert_eq!((err.line, err.column), (line, column), "position of: {err}");
    assert_eq!(err.file, PathBuf::from("cluster.yaml"));
    for needle in needles {
        assert!(err.message.contains(needle), "{needle:?} not in: {}", err.message);
    }
    err
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn names<'a>(hosts: impl Iterator<Item = &'a crate::inventory::Host>) -> Vec<&'a str> {
    hosts.map(|h| h.name.as_str()).collect()
}

/// A small valid v1alpha2 file (line numbers matter to the error tests).
const VALID: &str = "\
apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata:
  name: kk
spec:
  hosts:
  - {name: node1, address: 10.0.0.1, internalAddress: 10.0.0.1, user: root, password: \"Sup3r-Secret!\"}
  - {name: node2, address: 10.0.0.2, internalAddress: 10.0.0.2, user: root, password: \"Sup3r-Secret!\"}
  - name: node3
    address: 10.0.0.3
    password: Pl41n-S3cret
  roleGroups:
    etcd:
    - node1
    control-plane:
    - node1
    worker:
    - node[2:3]
  controlPlaneEndpoint:
    domain: lb.kubesphere.local
    address: \"\"
    port: 6443
  kubernetes:
    version: v1.23.10
";

#[test]
fn reads_a_v1alpha2_file() {
    let plan = parse(VALID).expect("valid");
    assert_eq!(plan.cluster.name, "kk");
    assert_eq!(plan.cluster.kubernetes_version.as_deref(), Some("v1.23.10"));
    assert_eq!(
        plan.source,
        PlanSource::KubeKey { path: PathBuf::from("cluster.yaml"), api_version: "kubekey.kubesphere.io/v1alpha2".into() }
    );
    assert_eq!(names(plan.hosts.iter()), ["node1", "node2", "node3"]);
    assert_eq!(names(plan.masters()), ["node1"]);
    assert_eq!(names(plan.etcd_hosts()), ["node1"]);
    assert_eq!(names(plan.workers()), ["node2", "node3"]);
    let node1 = plan.host("node1").expect("node1");
    assert_eq!((node1.address, node1.internal_address), (ip("10.0.0.1"), Some(ip("10.0.0.1"))));
    assert_eq!(node1.ssh_host, "node1");
    assert_eq!(plan.host("node3").and_then(|h| h.internal_address), None);
    // etcd type kubekey (the default) on exactly the masters: stacked, as systemd services.
    assert_eq!(plan.topology.etcd, EtcdTopology::Stacked);
    assert_eq!(plan.topology.etcd_deploy, EtcdDeploy::Systemd);
    // No internalLoadbalancer and no address: no load balancer.
    assert_eq!(plan.topology.load_balancer, LbTopology::None);
    assert_eq!(plan.vip, None);
}

#[test]
fn passwords_are_not_kept() {
    let plan = parse(VALID).expect("valid");
    let json = serde_json::to_string(&plan).expect("json");
    let debug = format!("{plan:?}");
    for secret in ["Sup3r-Secret!", "Pl41n-S3cret"] {
        assert!(!json.contains(secret) && !debug.contains(secret) && !plan.summary_text().contains(secret));
    }
    assert!(!json.contains("password"));
}

#[test]
fn reads_the_v1alpha1_example() {
    let src = include_str!("../../../assets/kubekey-v1alpha1-example.yaml");
    let plan = parse(src).expect("the v1alpha1 example is valid");
    assert_eq!(plan.cluster.name, "sample");
    assert_eq!(plan.cluster.kubernetes_version.as_deref(), Some("v1.19.8"));
    assert!(matches!(&plan.source, PlanSource::KubeKey { api_version, .. } if api_version.ends_with("v1alpha1")));
    assert_eq!(names(plan.masters()), ["master1", "master2", "master3"]);
    assert_eq!(names(plan.etcd_hosts()), ["master1", "master2", "master3"]);
    assert_eq!(names(plan.workers()), ["node1", "node2", "node3", "node4", "node5"]);
    assert_eq!(plan.topology.load_balancer, LbTopology::LocalProxy);
    assert_eq!(plan.topology.etcd, EtcdTopology::Stacked);
    assert_eq!(plan.topology.etcd_deploy, EtcdDeploy::Systemd);
    assert_eq!(plan.vip, None);
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
}

#[test]
fn master_and_control_plane_are_both_read_in_both_versions() {
    for version in ["v1alpha1", "v1alpha2"] {
        let src = VALID
            .replace("v1alpha2", version)
            .replace("    control-plane:\n    - node1\n", "    master:\n    - node1\n    control-plane:\n    - node2\n");
        let plan = parse(&src).expect(version);
        assert_eq!(names(plan.masters()), ["node1", "node2"], "{version}");
    }
}

#[test]
fn other_groups_are_ignored_and_lb_groups_read() {
    let src = VALID.replace(
        "    worker:\n",
        "    registry:\n    - node3\n    unknownGroup: {any: thing}\n    lb:\n    - node2\n    loadbalancer:\n    - node3\n    worker:\n",
    );
    let plan = parse(&src).expect("valid");
    assert_eq!(names(plan.lbs()), ["node2", "node3"]);
}

#[test]
fn control_plane_endpoint_topologies() {
    let endpoint = |lb: &str, address: &str| {
        VALID.replace("    address: \"\"\n", &format!("    internalLoadbalancer: {lb}\n    address: {address}\n"))
    };
    // haproxy: a proxy per node; an address, if any, is still the VIP.
    let plan = parse(&endpoint("haproxy", "\"\"")).expect("haproxy");
    assert_eq!((plan.topology.load_balancer, plan.vip.clone()), (LbTopology::LocalProxy, None));
    let plan = parse(&endpoint("haproxy", "10.0.0.100")).expect("haproxy with address");
    assert_eq!(plan.topology.load_balancer, LbTopology::LocalProxy);
    assert_eq!(plan.vip.as_ref().map(|v| v.address), Some(ip("10.0.0.100")));
    // kube-vip: the VIP on the masters.
    let plan = parse(&endpoint("kube-vip", "10.0.0.100")).expect("kube-vip");
    assert_eq!(plan.topology.load_balancer, LbTopology::Masters);
    let vip = plan.vip.expect("vip");
    assert_eq!((vip.address, vip.port, vip.domain.as_deref()), (ip("10.0.0.100"), 6443, Some("lb.kubesphere.local")));
    // None with an address: an external or dedicated load balancer.
    let plan = parse(&endpoint("\"\"", "10.0.0.100")).expect("external");
    assert_eq!(plan.topology.load_balancer, LbTopology::Dedicated);
    assert!(plan.warnings().iter().any(|w| w.contains("no lb host")), "{:?}", plan.warnings());
    // No controlPlaneEndpoint at all, and the default port.
    let src = VALID.replace("    port: 6443\n", "");
    let src = src.replace("    address: \"\"\n", "    address: 10.0.0.9\n");
    assert_eq!(parse(&src).expect("default port").vip.map(|v| v.port), Some(6443));
    let cut = VALID.find("  controlPlaneEndpoint:").expect("endpoint");
    let kube = VALID.find("  kubernetes:").expect("kubernetes");
    let src = format!("{}{}", &VALID[..cut], &VALID[kube..]);
    assert_eq!(parse(&src).expect("no endpoint").topology.load_balancer, LbTopology::None);
}

#[test]
fn etcd_types() {
    let etcd = |kind: &str, members: &str| {
        format!("{}  etcd:\n    type: {kind}\n", VALID.replace("    etcd:\n    - node1\n", &format!("    etcd:\n{members}")))
    };
    let plan = parse(&etcd("kubeadm", "    - node1\n")).expect("kubeadm");
    assert_eq!((plan.topology.etcd, plan.topology.etcd_deploy), (EtcdTopology::Stacked, EtcdDeploy::StaticPod));
    let plan = parse(&etcd("kubekey", "    - node2\n    - node3\n    - node1\n")).expect("kubekey elsewhere");
    assert_eq!((plan.topology.etcd, plan.topology.etcd_deploy), (EtcdTopology::External, EtcdDeploy::Systemd));
    assert_eq!(names(plan.etcd_hosts()), ["node1", "node2", "node3"]);
    let plan = parse(&etcd("external", "")).expect("external");
    assert_eq!(plan.topology.etcd, EtcdTopology::External);
    assert_eq!(plan.etcd_hosts().count(), 0);
    // kubeadm stacks etcd on the masters even if the etcd group is empty.
    let plan = parse(&etcd("kubeadm", "")).expect("kubeadm, no etcd group");
    assert_eq!(names(plan.etcd_hosts()), ["node1"]);
    assert_error(&etcd("static", "    - node1\n"), 26, 11, &["unknown etcd type `static`", "kubekey, kubeadm or external"]);
}

#[test]
fn multi_document_files_use_the_cluster_document() {
    let config = "apiVersion: installer.kubesphere.io/v1alpha1\nkind: ClusterConfiguration\nspec:\n  etcd: {monitoring: false}\n";
    let src = format!("{VALID}---\n{config}");
    assert_eq!(parse(&src).expect("cluster first").cluster.name, "kk");
    let src = format!("---\n{config}---\n{VALID}");
    assert_eq!(parse(&src).expect("cluster second").cluster.name, "kk");
    // Positions count from the top of the file.
    let bad = VALID.replace("- node[2:3]", "- node[2:4]");
    let src = format!("{config}---\n{bad}");
    assert_error(&src, 23, 7, &["unknown host `node4` (from `node[2:4]`)"]);
}

#[test]
fn expands_ranges() {
    assert_eq!(expand("node1"), Ok(vec!["node1".to_owned()]));
    assert_eq!(expand(" node[2:4] "), Ok(vec!["node2".into(), "node3".into(), "node4".into()]));
    assert_eq!(expand("node[2:10]").map(|v| v.len()), Ok(9));
    assert_eq!(expand("node[2:10]").ok().and_then(|v| v.last().cloned()).as_deref(), Some("node10"));
    assert_eq!(expand("k8s-node[1:3]-x"), Ok(vec!["k8s-node1-x".into(), "k8s-node2-x".into(), "k8s-node3-x".into()]));
    assert_eq!(expand("n[08:10]"), Ok(vec!["n08".into(), "n09".into(), "n10".into()]));
    assert_eq!(expand("[1:2]"), Ok(vec!["1".into(), "2".into()]));
    assert_eq!(expand("n[5:5]"), Ok(vec!["n5".into()]));
    for bad in ["node[1-3]", "node[a:3]", "node[1:3", "node1:3]", "node[1:2][3:4]", "node[-1:2]", "node[:2]"] {
        let err = expand(bad).expect_err(bad);
        assert!(err.contains("expected a host name or a range like `node[2:10]`"), "{bad}: {err}");
    }
    assert!(expand("node[5:1]").is_err_and(|e| e.contains("starts at 5, after its end 1")));
    assert!(expand("node[1:100000]").is_err_and(|e| e.contains("more than 1000 hosts")));
    // zero-padding past a host number's ten digits is not a width to format with
    let long = format!("node[{}1:2]", "0".repeat(70_000));
    assert!(expand(&long).is_err_and(|e| e.contains("expected a host name or a range")));
    assert_eq!(expand("n[0000000001:0000000002]").map(|v| v.len()), Ok(2));
}

#[test]
fn finds_secret_values_in_every_style() {
    let src = "\
  - {name: a, password: \"dq\\\"uote\", user: x}
  - {name: b, password: plain-flow, user: y}
  - name: c
    password: 'it''s'
    passwd: block value # comment
    SSH_PASSWORD: Upper
    registry_secret: s3
";
    let secrets = secret_values(src);
    for expected in ["dq\\\"uote", "dq\"uote", "plain-flow", "it''s", "it's", "block value", "Upper", "s3"] {
        assert!(secrets.iter().any(|s| s == expected), "{expected:?} not in {secrets:?}");
    }
    assert!(secrets.windows(2).all(|w| w[0].len() >= w[1].len()), "longest first");
    assert_eq!(redact("a plain-flow b it's c", &secrets), "a <redacted> b <redacted> c");
    assert_eq!(redact("nothing", &[]), "nothing");
}

#[test]
fn type_errors_do_not_show_passwords() {
    // A password pasted where the port goes: serde_yaml quotes the value in its message.
    let src = VALID.replace("    port: 6443", "    port: Sup3r-Secret!");
    let err = assert_error(&src, 22, 11, &["controlPlaneEndpoint.port", "invalid type: string", "expected a whole number from 0 to 65535"]);
    assert!(!err.message.contains("Sup3r-Secret!"), "{err}");
    assert!(err.message.contains("<redacted>"), "{err}");
    assert!(!err.to_string().contains("Sup3r-Secret!"));
}

#[test]
fn semantic_errors_do_not_show_passwords() {
    // Columns shifted in a flow mapping: the password lands in internalAddress.
    let src = VALID.replace("internalAddress: 10.0.0.2", "internalAddress: Sup3r-Secret!");
    let err = assert_error(&src, 8, 55, &["invalid internalAddress", "expected an IPv4 or IPv6 address"]);
    assert!(!err.message.contains("Sup3r-Secret!") && err.message.contains("<redacted>"), "{err}");
    let src = VALID.replace("address: 10.0.0.3", "address: Pl41n-S3cret");
    let err = assert_error(&src, 10, 14, &["invalid address"]);
    assert!(!err.message.contains("Pl41n-S3cret"), "{err}");
}

#[test]
fn syntax_errors_point_at_the_place() {
    let src = VALID.replace("password: \"Sup3r-Secret!\"}\n  - {name: node2", "password: \"Sup3r-Secret!\"\n  - {name: node2");
    let err = assert_error(&src, 8, 3, &["did not find expected ',' or '}'"]);
    assert!(!err.message.contains("at line 8 column 3"), "the position is not repeated: {err}");
    assert!(!err.message.contains("Sup3r-Secret!"));
    let src = VALID.replace("  name: kk", "  name: kk\n\tbad: tab");
    assert_error(&src, 5, 1, &["tab"]);
}

#[test]
fn wrong_and_missing_fields() {
    let src = VALID.replace("    address: 10.0.0.3\n", "");
    assert_error(&src, 9, 5, &["spec.hosts[2]", "missing key `address`"]);
    let src = VALID.replace("    - node[2:3]", "      node2: yes");
    assert_error(&src, 18, 7, &["roleGroups.worker", "invalid type: map, expected a list [...]"]);
    let src = VALID.replace("  name: kk\n", "  labels: {}\n");
    assert_error(&src, 3, 1, &["missing metadata.name"]);
    // A misspelt key is ignored, like every key kockpit does not read; then hosts are missing.
    let src = VALID.replace("  hosts:\n", "  hostz:\n");
    assert_error(&src, 5, 1, &["no hosts"]);
    let cut = VALID.find("  hosts:").expect("hosts");
    let groups = VALID.find("  roleGroups:").expect("groups");
    let src = format!("{}  hosts: []\n{}", &VALID[..cut], &VALID[groups..]);
    assert_error(&src, 6, 3, &["no hosts", "spec.hosts"]);
}

#[test]
fn role_groups_must_name_known_hosts() {
    let src = VALID.replace("    - node[2:3]", "    - node[2:4]");
    assert_error(&src, 18, 7, &["roleGroups.worker", "unknown host `node4` (from `node[2:4]`)", "node1, node2, node3"]);
    let src = VALID.replace("    etcd:\n    - node1\n", "    etcd:\n    - nod1\n");
    assert_error(&src, 14, 7, &["roleGroups.etcd: unknown host `nod1`:", "expected a host of spec.hosts"]);
    let src = VALID.replace("    - node[2:3]", "    - node[3:2]");
    assert_error(&src, 18, 7, &["roleGroups.worker", "invalid host range `node[3:2]`"]);
    let src = VALID.replace("    - node[2:3]", "    - node[2-3]");
    assert_error(&src, 18, 7, &["expected a host name or a range like `node[2:10]`"]);
}

#[test]
fn a_master_is_required() {
    let src = VALID.replace("    control-plane:\n    - node1\n", "");
    assert_error(&src, 12, 3, &["no control-plane host", "roleGroups.control-plane (or master)"]);
}

#[test]
fn duplicates_point_at_the_second_one() {
    let src = VALID.replace("name: node3", "name: node1");
    assert_error(&src, 9, 11, &["duplicate host name `node1`"]);
    let src = VALID.replace("address: 10.0.0.3", "address: 10.0.0.1");
    assert_error(&src, 10, 14, &["duplicate address 10.0.0.1", "`node1` already has it"]);
    let src = VALID.replace("address: 10.0.0.2, internalAddress: 10.0.0.2", "address: 10.0.0.2, internalAddress: 10.0.0.1");
    assert_error(&src, 8, 55, &["duplicate internal address 10.0.0.1"]);
}

#[test]
fn endpoint_errors() {
    let src = VALID.replace("    address: \"\"\n", "    internalLoadbalancer: nginx\n    address: \"\"\n");
    assert_error(&src, 21, 27, &["unknown internalLoadbalancer `nginx`", "haproxy, kube-vip"]);
    let src = VALID.replace("    address: \"\"\n", "    internalLoadbalancer: kube-vip\n    address: \"\"\n");
    assert_error(&src, 21, 27, &["kube-vip needs a VIP", "controlPlaneEndpoint.address"]);
    let src = VALID.replace("    address: \"\"\n", "    address: lb.example.com\n");
    assert_error(&src, 21, 14, &["invalid controlPlaneEndpoint.address \"lb.example.com\""]);
    let src = VALID.replace("    port: 6443", "    port: 0");
    assert_error(&src, 22, 11, &["invalid port 0"]);
    let src = VALID.replace("    port: 6443", "    port: 65536");
    assert_error(&src, 22, 11, &["invalid value: integer `65536`", "expected a whole number from 0 to 65535"]);
}

#[test]
fn api_version_and_kind_are_checked() {
    let src = VALID.replace("v1alpha2", "v1beta1");
    assert_error(&src, 1, 13, &["unsupported apiVersion `kubekey.kubesphere.io/v1beta1`", "v1alpha1 or", "v1alpha2"]);
    let src = VALID.replace("kind: Cluster", "kind: Manifest");
    assert_error(&src, 2, 1, &["kind `Manifest`", "expected kind `Cluster`"]);
    let src = "apiVersion: v1\nkind: Config\n";
    assert_error(src, 2, 1, &["expected a KubeKey Cluster document"]);
    let err = parse(" \n").expect_err("empty");
    assert_eq!((err.line, err.column), (0, 0));
}

#[test]
fn yaml_errors_count_lines_as_the_other_file_errors_do() {
    // libyaml takes a lone `\r` (and NEL, U+2028, U+2029) for a line break; the error must still point
    // at a line of the file as counted by `\n`: line 2 of 2, at the bad escape (libyaml said line 5)
    let src = "apiVersion: kubekey.kubesphere.io/v1alpha2\na: 1\r\r\rb: \"\\q\"\n";
    let err = parse(src).expect_err("a bad escape");
    assert_eq!((err.line, err.column), (2, 12), "{err}");
    assert!(err.message.contains("unknown escape"), "{err}");
}
