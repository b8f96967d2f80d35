//! Tests of loading (format detection), the demo plans, roles, the summary and the warnings.

use std::path::{Path, PathBuf};

use super::checks::EMPTY_MESSAGE;
use super::*;

const DEMO_KUBEKEY: &str = include_str!("../../assets/demo-cluster-kubekey.yaml");
const V1ALPHA1: &str = include_str!("../../assets/kubekey-v1alpha1-example.yaml");

/// A file named `name` (the loader goes by its extension) in a fresh temporary directory, removed on
/// drop.
struct TempFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TempFile {
    fn new(name: &str, content: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("temp file");
        Self { _dir: dir, path }
    }
}

fn names<'a>(hosts: impl Iterator<Item = &'a Host>) -> Vec<&'a str> {
    hosts.map(|h| h.name.as_str()).collect()
}

#[test]
fn the_demo_plan_parses() {
    let plan = Plan::demo();
    assert_eq!(plan, Plan::parse_toml(Path::new(DEMO_PATH), DEMO_TOML).expect("demo"));
    assert_eq!(plan.cluster.name, "demo-prod");
    assert_eq!(plan.cluster.kubernetes_version.as_deref(), Some("v1.21.5"));
    assert_eq!(plan.vip.as_ref().map(ToString::to_string).as_deref(), Some("10.0.0.100:6443"));
    assert_eq!(
        plan.topology,
        Topology { load_balancer: LbTopology::Dedicated, etcd: EtcdTopology::Stacked, etcd_deploy: EtcdDeploy::StaticPod }
    );
    assert_eq!(plan.hosts.len(), 8);
    assert_eq!(names(plan.lbs()), ["slb1", "slb2"]);
    assert_eq!(names(plan.masters()), ["master1", "master2", "master3"]);
    assert_eq!(names(plan.etcd_hosts()), ["master1", "master2", "master3"]);
    assert_eq!(names(plan.workers()), ["worker1", "worker2", "worker3"]);
    let slb1 = plan.host("slb1").expect("slb1");
    assert_eq!(slb1.size.map(|s| s.to_string()).as_deref(), Some("2C-4G-50G"));
    assert_eq!(slb1.os.as_deref(), Some("CentOS 7.9"));
    let master3 = plan.host("master3").expect("master3");
    assert_eq!(master3.address.to_string(), "10.0.0.23");
    assert_eq!(master3.kernel.as_deref(), Some("5.4"));
    assert!(master3.notes.as_deref().is_some_and(|n| n.contains("kernel upgrade pending")));
    for worker in plan.workers() {
        assert_eq!(worker.size.map(|s| s.to_string()).as_deref(), Some("8C-32G-500G"));
        assert!(worker.notes.as_deref().is_some_and(|n| n.contains("Ceph OSD via Rook")));
    }
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
}

#[test]
fn the_kubekey_demo_is_the_same_cluster() {
    let toml = Plan::demo();
    let kk = Plan::parse_kubekey(Path::new("demo-cluster-kubekey.yaml"), DEMO_KUBEKEY).expect("kubekey demo");
    assert_eq!(kk.cluster, toml.cluster);
    assert_eq!(kk.vip, toml.vip);
    assert_eq!(kk.topology, toml.topology);
    let summary =
        |plan: &Plan| -> Vec<(String, IpAddr, Roles)> { plan.hosts.iter().map(|h| (h.name.clone(), h.address, h.roles)).collect() };
    assert_eq!(summary(&kk), summary(&toml));
    assert!(kk.warnings().is_empty(), "{:?}", kk.warnings());
    assert!(!kk.summary_text().contains("Fake-Pa55word!"));
}

#[test]
fn formats_are_told_apart_by_content() {
    assert_eq!(detect(DEMO_KUBEKEY), Format::KubeKey);
    assert_eq!(detect(V1ALPHA1), Format::KubeKey);
    assert_eq!(detect("kind: Cluster\napiVersion: \"kubekey.kubesphere.io/v1alpha2\"\n"), Format::KubeKey);
    assert_eq!(detect(DEMO_TOML), Format::Toml);
    assert_eq!(detect(""), Format::Toml);
    // A key inside a TOML string or an indented YAML key does not count.
    assert_eq!(detect("[cluster]\nname = \"apiVersion: kubekey.kubesphere.io\"\n"), Format::Toml);
    let kubeconfig = "# kubeconfig\napiVersion: v1\nkind: Config\n";
    assert_eq!(detect(kubeconfig), Format::OtherYaml { api_version: "v1", offset: 25 });
}

#[test]
fn load_reads_both_formats_whatever_the_file_name() {
    // KubeKey content in a .toml file and TOML content in a .yaml file: the content decides.
    let kk = TempFile::new("cluster.toml", DEMO_KUBEKEY.as_bytes());
    let plan = Plan::load(&kk.path).expect("kubekey");
    assert!(matches!(&plan.source, PlanSource::KubeKey { path, .. } if *path == kk.path));
    let toml = TempFile::new("plan.yaml", DEMO_TOML.as_bytes());
    let plan = Plan::load(&toml.path).expect("toml");
    assert_eq!(plan.source, PlanSource::Kockpit { path: toml.path.clone() });
    assert_eq!(plan.source.path(), toml.path.as_path());
    assert_eq!(plan.hosts, Plan::demo().hosts);
}

#[test]
fn load_errors() {
    let missing = Path::new("/nonexistent/kockpit/plan.toml");
    let err = Plan::load(missing).expect_err("missing");
    assert_eq!((err.line, err.column), (0, 0));
    assert_eq!(err.file, missing);
    assert!(err.message.starts_with("cannot read the plan: "), "{}", err.message);

    let binary = TempFile::new("binary.toml", &[0xff, 0xfe, 0x00, 0x41]);
    let err = Plan::load(&binary.path).expect_err("binary");
    assert_eq!((err.line, err.column), (1, 1), "the first bad byte's place");
    assert!(err.message.contains("not UTF-8"), "{}", err.message);

    let empty = TempFile::new("empty.toml", b"");
    let err = Plan::load(&empty.path).expect_err("empty");
    assert_eq!((err.line, err.column, err.message.as_str()), (0, 0, EMPTY_MESSAGE));

    let kubeconfig = TempFile::new("config", b"# kubeconfig\napiVersion: v1\nkind: Config\n");
    let err = Plan::load(&kubeconfig.path).expect_err("kubeconfig");
    assert_eq!((err.line, err.column), (2, 13));
    assert!(err.message.contains("apiVersion `v1`") && err.message.contains("KubeKey Cluster"), "{}", err.message);

    let bad = TempFile::new("bad.toml", b"[cluster]\nname = \"x\"\nfoo = 1\n");
    let err = Plan::load(&bad.path).expect_err("bad");
    assert_eq!((err.line, err.column), (3, 1));
    assert_eq!(err.to_string(), format!("{}:3:1: unknown key `foo`: expected one of `name`, `kubernetes_version`", bad.path.display()));
}

#[test]
fn roles_names_and_labels() {
    let roles = |lb, master, etcd, worker| Roles { lb, master, etcd, worker };
    assert_eq!(roles(true, false, false, false).label(), "lb");
    assert_eq!(roles(false, true, false, false).label(), "cp");
    assert_eq!(roles(false, true, true, false).label(), "cp+etcd");
    assert_eq!(roles(false, false, true, false).label(), "etcd");
    assert_eq!(roles(false, false, false, true).label(), "worker");
    assert_eq!(roles(false, true, true, true).to_string(), "cp+etcd+worker");
    assert_eq!(Roles::default().label(), "-");
    assert!(Roles::default().is_empty());
    assert_eq!(roles(true, true, true, true).names(), ["lb", "master", "etcd", "worker"]);
    assert_eq!(roles(false, true, true, false).names(), ["master", "etcd"]);
    assert!(Roles::default().names().is_empty());
}

#[test]
fn plans_serialize_to_json() {
    let value = serde_json::to_value(Plan::demo()).expect("json");
    assert_eq!(value["cluster"]["name"], "demo-prod");
    assert_eq!(value["vip"]["address"], "10.0.0.100");
    assert_eq!(value["topology"]["load_balancer"], "dedicated");
    assert_eq!(value["topology"]["etcd_deploy"], "static-pod");
    assert_eq!(value["hosts"][2]["roles"]["etcd"], true);
    assert_eq!(value["hosts"][2]["size"]["memory_gb"], 32);
    assert_eq!(value["source"]["format"], "kockpit");
    let kk = Plan::parse_kubekey(Path::new("k.yaml"), V1ALPHA1).expect("v1alpha1");
    let value = serde_json::to_value(kk).expect("json");
    assert_eq!(value["source"]["format"], "kubekey");
    assert_eq!(value["source"]["api_version"], "kubekey.kubesphere.io/v1alpha1");
    assert_eq!(value["vip"], serde_json::Value::Null);
}

#[test]
fn summary_shows_cluster_vip_hosts_and_facts() {
    let text = Plan::demo().summary_text();
    for needle in [
        "demo-prod",
        "v1.21.5",
        "10.0.0.100:6443",
        "lb.kubesphere.local",
        "load balancer: dedicated; etcd: stacked (static-pod)",
        "HOST",
        "ROLES",
        "etcd      3 members (stacked): quorum 2, tolerates 1 failure",
        "Masters   3",
        "LBs       2 (slb1, slb2)",
        "Workers   3",
        "No warnings.",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    for host in Plan::demo().hosts {
        let line = text.lines().find(|l| l.starts_with(&format!("{} ", host.name))).expect(&host.name);
        assert!(line.contains(&host.address.to_string()), "{line}");
        assert!(line.contains(&host.roles.label()), "{line}");
    }
    let master3 = text.lines().find(|l| l.starts_with("master3 ")).expect("master3");
    for needle in ["cp+etcd", "8C-32G-150G", "CentOS 7.9", "5.4", "kernel upgrade pending"] {
        assert!(master3.contains(needle), "{needle:?} not in {master3:?}");
    }
}

#[test]
fn summary_columns_line_up() {
    let text = Plan::demo().summary_text();
    let header = text.lines().find(|l| l.starts_with("HOST")).expect("header");
    let roles_at = header.find("ROLES").expect("ROLES");
    for line in text.lines().filter(|l| l.starts_with("slb") || l.starts_with("master") || l.starts_with("worker")) {
        assert!(line[roles_at..].starts_with(['l', 'c', 'w']), "{line:?}");
    }
}

/// A plan with `n` etcd masters, `lbs` lb hosts and a VIP, built from TOML.
fn plan_with(masters: usize, lbs: usize, extra: &str) -> Plan {
    let mut src = String::from("[cluster]\nname = \"t\"\n[vip]\naddress = \"10.0.0.100\"\n");
    src.push_str(extra);
    for i in 0..masters {
        src.push_str(&format!("[[hosts]]\nname = \"m{i}\"\naddress = \"10.0.0.{}\"\nroles = [\"master\"]\n", 21 + i));
    }
    for i in 0..lbs {
        src.push_str(&format!("[[hosts]]\nname = \"lb{i}\"\naddress = \"10.0.0.{}\"\nroles = [\"lb\"]\n", 11 + i));
    }
    Plan::parse_toml(Path::new("t.toml"), &src).expect("test plan")
}

fn has_warning(plan: &Plan, needle: &str) -> bool {
    plan.warnings().iter().any(|w| w.contains(needle))
}

#[test]
fn warnings_about_etcd_members() {
    let two = plan_with(2, 2, "");
    assert!(has_warning(&two, "an even number of etcd members (2) tolerates no more failures than 1 (0 failures)"));
    let four = plan_with(4, 2, "");
    assert!(has_warning(&four, "an even number of etcd members (4) tolerates no more failures than 3 (1 failure)"));
    assert!(has_warning(&plan_with(1, 2, ""), "a single etcd member"));
    assert!(has_warning(&plan_with(1, 2, ""), "a single master"));
    assert!(has_warning(&plan_with(7, 2, ""), "7 etcd members: 3 or 5 are recommended"));
    assert!(plan_with(3, 2, "").warnings().is_empty());
    assert!(plan_with(5, 2, "").warnings().is_empty());
    let summary = four.summary_text();
    assert!(summary.contains("4 members (stacked): quorum 3, tolerates 1 failure"), "{summary}");
    assert!(summary.contains("Warnings (1):\n  ! an even number"), "{summary}");
}

#[test]
fn warnings_about_load_balancers_and_roles() {
    assert!(has_warning(&plan_with(3, 1, ""), "a single load balancer (lb0) carries the VIP"));
    let masters = plan_with(3, 2, "[topology]\nload_balancer = \"masters\"\n");
    assert!(has_warning(&masters, "hosts lb0, lb1 have the lb role but topology.load_balancer is `masters`"));
    let one = plan_with(1, 0, "[topology]\nload_balancer = \"masters\"\n");
    assert!(has_warning(&one, "the VIP floats over a single master"));

    let mut plan = plan_with(3, 2, "");
    plan.hosts[0].roles = Roles { worker: true, etcd: true, ..Roles::default() };
    plan.hosts[1].roles = Roles::default();
    plan.hosts[2].address = "10.0.0.100".parse().expect("ip");
    assert!(has_warning(&plan, "yet m0 has the etcd role without being a master"));
    assert!(has_warning(&plan, "host m1 has no role kockpit knows"));
    assert!(has_warning(&plan, "the VIP 10.0.0.100 is also the address of host m2"));
    assert!(plan.summary_text().contains("m1  "), "a host with no role is still listed");
}

#[test]
fn topology_values_parse_and_print() {
    for lb in [LbTopology::Dedicated, LbTopology::Masters, LbTopology::LocalProxy, LbTopology::None] {
        assert_eq!(lb.to_string().parse(), Ok(lb));
    }
    assert_eq!("external".parse(), Ok(EtcdTopology::External));
    assert_eq!("systemd".parse(), Ok(EtcdDeploy::Systemd));
    assert_eq!("static_pod".parse::<EtcdDeploy>(), Err("unknown value \"static_pod\": expected one of static-pod, systemd".to_owned()));
}

#[test]
fn warnings_about_vips_no_host_can_hold_and_names_that_read_as_others() {
    let base = |vip: &str| {
        format!(
            "[cluster]\nname = \"t\"\n[vip]\naddress = \"{vip}\"\n\
             [[hosts]]\nname = \"lb1\"\naddress = \"10.0.0.11\"\nroles = [\"lb\"]\n\
             [[hosts]]\nname = \"lb2\"\naddress = \"10.0.0.12\"\nroles = [\"lb\"]\n\
             [[hosts]]\nname = \"m1\"\naddress = \"10.0.0.21\"\nroles = [\"master\"]\n"
        )
    };
    let plan = |vip: &str| Plan::parse_toml(Path::new("t.toml"), &base(vip)).expect("plan");
    assert!(plan("10.0.0.100").warnings().iter().all(|w| !w.contains("VIP")), "{:?}", plan("10.0.0.100").warnings());
    assert!(has_warning(&plan("0.0.0.0"), "the VIP 0.0.0.0 is the unspecified address"));
    assert!(has_warning(&plan("10.0.0.255"), "is a broadcast address"));
    assert!(has_warning(&plan("10.9.9.100"), "is in none of the /24 networks of the hosts that would carry it (lb1, lb2)"));
    // names that differ only in case, and names with control or bidi characters, are refused
    let twin = base("10.0.0.100") + "[[hosts]]\nname = \"LB1\"\naddress = \"10.0.0.13\"\nroles = [\"lb\"]\n";
    let e = Plan::parse_toml(Path::new("t.toml"), &twin).unwrap_err();
    assert!(e.message.contains("differ only in case") && e.line > 0, "{e}");
    for bad in ["m\u{202e}1", "m\u{200b}1", "m\u{2066}1"] {
        let src = base("10.0.0.100").replace("name = \"m1\"", &format!("name = \"{bad}\""));
        let e = Plan::parse_toml(Path::new("t.toml"), &src).unwrap_err();
        assert!(e.message.contains("bidirectional") || e.message.contains("control"), "{bad:?}: {e}");
    }
}

#[test]
fn which_hosts_run_keepalived_and_haproxy_by_topology() {
    let names = |hs: Vec<&Host>| hs.iter().map(|h| h.name.clone()).collect::<Vec<_>>();
    let dedicated = plan_with(3, 2, "");
    assert_eq!(names(dedicated.keepalived_hosts()), ["lb0", "lb1"]);
    assert_eq!(names(dedicated.haproxy_hosts()), ["lb0", "lb1"]);
    assert_eq!(dedicated.vip_endpoint().map(|v| v.to_string()).as_deref(), Some("10.0.0.100:6443"));
    let masters = plan_with(3, 0, "[topology]\nload_balancer = \"masters\"\n");
    assert_eq!(names(masters.keepalived_hosts()), ["m0", "m1", "m2"]);
    assert_eq!(names(masters.haproxy_hosts()), ["m0", "m1", "m2"]);
    // KubeKey's internal load balancer: haproxy on the workers that are not masters, no keepalived, no VIP
    let mut local = plan_with(3, 0, "[topology]\nload_balancer = \"local-proxy\"\n");
    assert_eq!(names(local.haproxy_hosts()), ["m0", "m1", "m2"], "no worker: every host");
    local.hosts[0].roles.worker = true;
    let mut w = local.hosts[1].clone();
    w.name = "w1".into();
    w.roles = Roles { worker: true, ..Roles::default() };
    local.hosts.push(w);
    assert_eq!(names(local.haproxy_hosts()), ["w1"], "a master that is also a worker reaches its own apiserver");
    assert!(local.keepalived_hosts().is_empty() && local.vip_endpoint().is_none());
}

#[test]
fn the_etcd_section_and_kubekeys_backup_settings() {
    let base = "[cluster]\nname = \"t\"\n[vip]\naddress = \"10.0.0.100\"\n[[hosts]]\nname = \"lb1\"\naddress = \"10.0.0.11\"\nroles = [\"lb\"]\n\
                [[hosts]]\nname = \"m1\"\naddress = \"10.0.0.21\"\nroles = [\"master\"]\n";
    let p = Plan::parse_toml(Path::new("p.toml"), base).unwrap();
    assert_eq!(p.etcd, EtcdPlan { snapshot_dirs: vec!["/var/backups/kube_etcd".into()], snapshot_max_age_hours: 24 });
    let p = Plan::parse_toml(Path::new("p.toml"), &format!("{base}[etcd]\nsnapshot_dirs = [\"/srv/etcd\"]\nsnapshot_max_age_hours = 6\n"))
        .unwrap();
    assert_eq!(p.etcd, EtcdPlan { snapshot_dirs: vec!["/srv/etcd".into()], snapshot_max_age_hours: 6 });
    let e = Plan::parse_toml(Path::new("p.toml"), &format!("{base}[etcd]\nsnapshot_dirs = [\"backups\"]\n")).unwrap_err().to_string();
    assert!(e.starts_with("p.toml:14:") && e.contains("\"backups\" is not an absolute path"), "{e}");
    let e = Plan::parse_toml(Path::new("p.toml"), &format!("{base}[etcd]\nsnapshot_dir = \"/x\"\n")).unwrap_err().to_string();
    assert!(e.starts_with("p.toml:14:") && e.contains("unknown key `snapshot_dir`"), "{e}");
    // KubeKey: its backup directory, and one and a half backup periods
    let kk = |etcd: &str| {
        let src = V1ALPHA1.replacen("  kubernetes:\n", &format!("  etcd:\n{etcd}  kubernetes:\n"), 1);
        assert_ne!(src, V1ALPHA1, "the example has a kubernetes mapping");
        Plan::parse_kubekey(Path::new("k.yaml"), &src).unwrap().etcd
    };
    assert_eq!(kk(""), EtcdPlan { snapshot_dirs: vec!["/var/backups/kube_etcd".into()], snapshot_max_age_hours: 36 });
    assert_eq!(
        kk("    backupDir: /data/etcd-backup\n    backupPeriod: 30\n"),
        EtcdPlan { snapshot_dirs: vec!["/data/etcd-backup".into()], snapshot_max_age_hours: 1 }
    );
    assert_eq!(kk("    backupPeriod: 360\n").snapshot_max_age_hours, 9);
}
