use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use super::*;
use crate::inventory::{EtcdDeploy, EtcdTopology, LbTopology};

fn node(name: &str, ip: &str, roles: &[&str]) -> NodeFacts {
    let mut labels = BTreeMap::new();
    labels.insert("kubernetes.io/hostname".to_string(), name.to_string());
    for r in roles {
        labels.insert(format!("node-role.kubernetes.io/{r}"), String::new());
    }
    let internal_ips = if ip.is_empty() { vec![] } else { vec![ip.parse().unwrap()] };
    NodeFacts { name: name.into(), internal_ips, external_ips: vec![], labels, annotations: BTreeMap::new() }
}

fn facts(server: &str, nodes: Vec<NodeFacts>) -> ClusterFacts {
    ClusterFacts {
        context: "kubernetes-admin@kubernetes".into(),
        cluster: "kubernetes".into(),
        server: server.into(),
        resolved: Ok(vec![]),
        version: Some("v1.21.5".into()),
        nodes,
        etcd_pods: vec![],
        kubeadm_config: None,
    }
}

/// The draft, read back as `kockpit plan` reads it.
fn plan_of(f: &ClusterFacts) -> (String, Plan) {
    let text = draft_toml(f).expect("a draft");
    let plan = Plan::parse_toml(Path::new("draft.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, plan)
}

fn roles(p: &Plan, name: &str) -> String {
    p.host(name).unwrap_or_else(|| panic!("no host {name}")).roles.label()
}

#[test]
fn kubeadm_masters_behind_keepalived_on_their_own_port() {
    let mut f = facts(
        "https://10.0.0.100:8443",
        vec![
            node("w1", "10.0.0.31", &[]),
            node("m2", "10.0.0.22", &["control-plane", "master"]),
            node("m1", "10.0.0.21", &["control-plane", "master"]),
            node("m3", "10.0.0.23", &["control-plane"]),
        ],
    );
    f.etcd_pods = vec![("etcd-m1".into(), "m1".into()), ("etcd-m2".into(), "m2".into()), ("etcd-m3".into(), "m3".into())];
    f.kubeadm_config = Some(
        "apiServer:\n  certSANs:\n  - 10.0.0.100\nclusterName: prod-bj\ncontrolPlaneEndpoint: 10.0.0.100:8443\netcd:\n  local:\n    dataDir: /var/lib/etcd\nkubernetesVersion: v1.21.5\n".into(),
    );
    f.nodes[1].annotations.insert(CRI_SOCKET.into(), "/var/run/dockershim.sock".into());
    let (text, p) = plan_of(&f);
    assert_eq!(p.cluster.name, "prod-bj", "kubeadm's clusterName");
    assert_eq!(p.cluster.kubernetes_version.as_deref(), Some("v1.21.5"));
    assert_eq!(p.topology.load_balancer, LbTopology::Masters);
    assert_eq!((p.topology.etcd, p.topology.etcd_deploy), (EtcdTopology::Stacked, EtcdDeploy::StaticPod));
    let vip = p.vip.as_ref().unwrap();
    assert_eq!((vip.address.to_string(), vip.port), ("10.0.0.100".to_string(), 8443));
    assert_eq!(p.hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["m1", "m2", "m3", "w1"], "masters first");
    assert_eq!((roles(&p, "m1"), roles(&p, "m3"), roles(&p, "w1")), ("cp+etcd".into(), "cp+etcd".into(), "worker".into()));
    assert_eq!(p.host("w1").unwrap().address.to_string(), "10.0.0.31");
    assert!(text.contains("#   controlPlaneEndpoint: 10.0.0.100:8443") && text.contains("#   etcd local"), "{text}");
    assert!(text.contains("# kubeadm cri-socket: /var/run/dockershim.sock"), "{text}");
    assert_eq!(p.access.kube_context.as_deref(), Some("kubernetes-admin@kubernetes"));
}

#[test]
fn a_vip_on_no_node_is_for_dedicated_balancers_left_to_fill_in() {
    let f = facts("https://10.0.0.100:6443", vec![node("master1", "10.0.0.21", &["master"]), node("worker1", "10.0.0.31", &["worker"])]);
    let (text, p) = plan_of(&f);
    // the draft must read as it is: no lb hosts yet, so no `dedicated` either
    assert_eq!(p.topology.load_balancer, LbTopology::None);
    assert_eq!(p.vip.as_ref().map(|v| v.to_string()).as_deref(), Some("10.0.0.100:6443"));
    assert!(text.contains("then set load_balancer = \"dedicated\""), "{text}");
    assert!(text.contains("# [[hosts]]\n# name = \"lb1\""), "a stub for the LBs: {text}");
    assert!(p.lbs().next().is_none());
    // etcd is not in the API's view: the masters carry it (stacked), run by systemd
    assert_eq!((p.topology.etcd, p.topology.etcd_deploy), (EtcdTopology::Stacked, EtcdDeploy::Systemd));
    assert_eq!(roles(&p, "master1"), "cp+etcd");
}

#[test]
fn an_endpoint_on_a_node_is_that_apiserver_without_a_vip() {
    let f = facts("https://10.0.0.21:6443", vec![node("master1", "10.0.0.21", &["control-plane"])]);
    let (text, p) = plan_of(&f);
    assert!(p.vip.is_none() && p.topology.load_balancer == LbTopology::None);
    assert!(text.contains("talks to master1's apiserver directly"), "{text}");
}

#[test]
fn kubekey_names_and_marks() {
    let mut f = facts(
        "https://lb.kubesphere.local:6443",
        vec![
            node("node1", "192.168.0.2", &["control-plane", "master", "worker", "etcd"]),
            node("node2", "192.168.0.3", &["control-plane", "master", "worker", "etcd"]),
            node("node3", "192.168.0.4", &["control-plane", "master", "worker", "etcd"]),
            node("node4", "192.168.0.5", &["worker"]),
        ],
    );
    f.context = "kubernetes-admin@cluster.local".into();
    f.cluster = "cluster.local".into();
    f.resolved = Err("failed to lookup address information: Name or service not known".into());
    let (text, p) = plan_of(&f);
    assert_eq!(p.cluster.name, "cluster.local");
    assert_eq!(p.topology.load_balancer, LbTopology::LocalProxy, "KubeKey's internal load balancer: {text}");
    assert!(p.vip.is_none());
    assert_eq!(p.topology.etcd_deploy, EtcdDeploy::Systemd);
    assert_eq!(roles(&p, "node1"), "cp+etcd+worker");
    assert_eq!(roles(&p, "node4"), "worker");
    assert!(text.contains("KubeKey") && text.contains("does not resolve here"), "{text}");
    // resolved, the name is kept as the VIP's domain
    f.resolved = Ok(vec!["192.168.0.100".parse().unwrap()]);
    let (_, p) = plan_of(&f);
    let vip = p.vip.unwrap();
    assert_eq!((vip.address.to_string(), vip.domain.as_deref()), ("192.168.0.100".to_string(), Some("lb.kubesphere.local")));
}

#[test]
fn etcd_on_hosts_of_its_own_is_external() {
    let mut f = facts(
        "https://10.0.0.100:16443",
        vec![node("m1", "10.0.0.21", &["control-plane"]), node("e1", "10.0.0.41", &[]), node("w1", "10.0.0.31", &[])],
    );
    f.etcd_pods = vec![("etcd-e1".into(), "e1".into())];
    let (_, p) = plan_of(&f);
    assert_eq!(p.topology.etcd, EtcdTopology::External);
    assert_eq!((roles(&p, "m1"), roles(&p, "e1"), roles(&p, "w1")), ("cp".into(), "etcd".into(), "worker".into()));
}

#[test]
fn ipv6_endpoint_and_nodes() {
    let f = facts(
        "https://[fd00::100]:6443/",
        vec![node("m1", "fd00::21", &["control-plane"]), node("m2", "fd00::22", &["control-plane"]), node("w1", "fd00::31", &[])],
    );
    let (_, p) = plan_of(&f);
    assert_eq!(p.vip.as_ref().unwrap().address, "fd00::100".parse::<IpAddr>().unwrap());
    assert_eq!(p.host("m2").unwrap().address.to_string(), "fd00::22");
    assert_eq!(server_host_port("https://[fd00::100]:6443/"), Some(("fd00::100".into(), 6443)));
    assert_eq!(server_host_port("https://api.example.com"), Some(("api.example.com".into(), 443)));
    assert_eq!(server_host_port("https://10.0.0.1:0"), None);
}

#[test]
fn a_node_without_internal_ip_is_commented_out_or_uses_its_external_ip() {
    let mut ext = node("w2", "", &[]);
    ext.external_ips = vec!["203.0.113.7".parse().unwrap()];
    let dup = node("w3", "10.0.0.31", &[]);
    let f = facts(
        "https://10.0.0.100:6443",
        vec![node("m1", "10.0.0.21", &["master"]), node("w1", "", &[]), ext, node("w0", "10.0.0.31", &[]), dup],
    );
    let (text, p) = plan_of(&f);
    assert!(p.host("w1").is_none(), "no address, no host: {text}");
    assert!(text.contains("# w1: no InternalIP nor ExternalIP") && text.contains("# name = \"w1\""), "{text}");
    assert_eq!(p.host("w2").unwrap().address.to_string(), "203.0.113.7");
    assert!(p.host("w0").is_some() && p.host("w3").is_none(), "one address, one host: {text}");
}

#[test]
fn no_master_no_plan() {
    let f = facts("https://10.0.0.100:6443", vec![node("w1", "10.0.0.31", &["worker"])]);
    let e = draft_toml(&f).unwrap_err();
    assert!(e.contains("no node with an address is a master"), "{e}");
}

#[test]
fn odd_names_are_quoted_and_read_back() {
    let mut f = facts("https://10.0.0.100:8443", vec![node("m1", "10.0.0.21", &["master"])]);
    f.context = "ctx \"quoted\" \\ back".into();
    f.cluster = String::new();
    let (_, p) = plan_of(&f);
    assert_eq!(p.cluster.name, "ctx \"quoted\" \\ back");
}
