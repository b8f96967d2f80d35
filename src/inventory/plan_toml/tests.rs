//! Tests of the TOML plan reader: a valid plan, then every error path with its line and column.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::error::FileError;
use crate::inventory::{DemoteMethod, DrillCommands, EtcdDeploy, EtcdTopology, LbSettings, LbTopology, Plan, PlanSource, Size};

fn parse(src: &str) -> Result<Plan, FileError> {
    Plan::parse_toml(Path::new("plan.toml"), src)
}

/// Asserts that `src` fails at `line`:`column` with a message containing every one of `needles`.
#[track_caller]
fn assert_error(src: &str, line: usize, column: usize, needles: &[&str]) {
    let Err(err) = parse(src) else {
        panic!("expected an error for:\n{src}");
    };
    assert_eq!((err.line, err.column), (line, column), "position of: {err}");
    assert_eq!(err.file, PathBuf::from("plan.toml"));
    for needle in needles {
        assert!(err.message.contains(needle), "{needle:?} not in: {}", err.message);
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A small valid plan; the error tests change one thing in it.
const VALID: &str = r#"[cluster]
name = "c1"

[vip]
address = "10.0.0.100"

[[hosts]]
name = "lb1"
address = "10.0.0.11"
roles = ["lb"]

[[hosts]]
name = "m1"
address = "10.0.0.21"
roles = ["master"]
"#;

#[test]
fn reads_a_minimal_plan_with_defaults() {
    let plan = parse(VALID).expect("valid");
    assert_eq!(plan.cluster.name, "c1");
    assert_eq!(plan.cluster.kubernetes_version, None);
    let vip = plan.vip.as_ref().expect("vip");
    assert_eq!((vip.address, vip.port, vip.interface.as_deref(), vip.domain.as_deref()), (ip("10.0.0.100"), 6443, None, None));
    assert_eq!(plan.topology.load_balancer, LbTopology::Dedicated);
    assert_eq!(plan.topology.etcd, EtcdTopology::Stacked);
    assert_eq!(plan.topology.etcd_deploy, EtcdDeploy::StaticPod);
    assert_eq!(plan.lb, LbSettings::default());
    assert_eq!(plan.lb.haproxy_socket, "", "found on each host");
    assert_eq!(plan.lb.track_file, "/etc/keepalived/kockpit-demote");
    assert_eq!(plan.access.ssh_config, None);
    assert!(!plan.access.readonly && !plan.access.accept_new_host_keys && !plan.access.allow_drills);
    assert_eq!(plan.source, PlanSource::Kockpit { path: PathBuf::from("plan.toml") });
    let m1 = plan.host("m1").expect("m1");
    assert_eq!(m1.ssh_host, "m1");
    // A master gets etcd implicitly under stacked etcd.
    assert!(m1.roles.master && m1.roles.etcd && !m1.roles.worker);
    assert_eq!(plan.etcd_hosts().count(), 1);
    assert_eq!(plan.lbs().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["lb1"]);
}

#[test]
fn reads_every_key() {
    let src = r#"
[cluster]
name = "prod"
kubernetes_version = "v1.28.4"

[vip]
address = "fd00::100"
port = 8443
interface = "eth1"
domain = "api.prod"

[topology]
load_balancer = "masters"
etcd = "external"
etcd_deploy = "systemd"

[lb]
haproxy_socket = "/var/run/haproxy.sock"
haproxy_backend = "kube-apiserver"
keepalived_json = "/var/tmp/keepalived.json"
keepalived_state_file = "/var/run/keepalived.state"
track_file = "/etc/keepalived/down"

[access]
ssh_config = "~/.ssh/prod.config"
kubeconfig = "/etc/kockpit/prod.kubeconfig"
kube_context = "prod-admin"
readonly = true
accept_new_host_keys = true
allow_drills = true
login_timeout_secs = 45
sudo = true

[[hosts]]
name = "cp1"
address = "fd00::21"
internal_address = "192.168.1.21"
ssh_host = "prod-cp1"
roles = ["control-plane", "worker"]
size = "4c16g"
os = "Ubuntu 22.04"
kernel = "5.15"
notes = "first"

[[hosts]]
name = "e1"
address = "fd00::31"
roles = ["etcd"]
size = { cpu = 2, memory_gb = 8 }
"#;
    let plan = parse(src).expect("valid");
    assert_eq!(plan.cluster.kubernetes_version.as_deref(), Some("v1.28.4"));
    let vip = plan.vip.as_ref().expect("vip");
    assert_eq!(vip.to_string(), "[fd00::100]:8443");
    assert_eq!((vip.interface.as_deref(), vip.domain.as_deref()), (Some("eth1"), Some("api.prod")));
    assert_eq!(plan.topology.load_balancer, LbTopology::Masters);
    assert_eq!(plan.topology.etcd, EtcdTopology::External);
    assert_eq!(plan.topology.etcd_deploy, EtcdDeploy::Systemd);
    assert_eq!(plan.lb.haproxy_backend, "kube-apiserver");
    assert_eq!(plan.lb.keepalived_state_file, "/var/run/keepalived.state");
    assert_eq!(plan.access.ssh_config, Some(PathBuf::from("~/.ssh/prod.config")));
    assert_eq!(plan.access.kube_context.as_deref(), Some("prod-admin"));
    assert!(plan.access.readonly && plan.access.accept_new_host_keys && plan.access.allow_drills);
    assert_eq!(plan.access.login_timeout_secs, Some(45));
    assert!(plan.access.sudo);
    assert!(!parse(VALID).expect("valid").access.sudo, "root by default: no sudo");
    let cp1 = plan.host("cp1").expect("cp1");
    assert_eq!(cp1.internal_address, Some(ip("192.168.1.21")));
    assert_eq!(cp1.ssh_host, "prod-cp1");
    // External etcd: no implicit etcd role on masters.
    assert_eq!(cp1.roles.label(), "cp+worker");
    assert_eq!(cp1.size, Some(Size { cpu: 4, memory_gb: 16, disk_gb: None }));
    assert_eq!((cp1.os.as_deref(), cp1.kernel.as_deref(), cp1.notes.as_deref()), (Some("Ubuntu 22.04"), Some("5.15"), Some("first")));
    let e1 = plan.host("e1").expect("e1");
    assert_eq!(e1.size.map(|s| s.to_string()).as_deref(), Some("2C-8G"));
    assert_eq!(plan.etcd_hosts().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["e1"]);
    assert_eq!(plan.workers().count(), 1);
}

#[test]
fn local_proxy_and_none_need_no_vip_nor_lb_hosts() {
    for lb in ["local-proxy", "none"] {
        let src = format!(
            "[cluster]\nname = \"c\"\n[topology]\nload_balancer = \"{lb}\"\n[[hosts]]\nname = \"m\"\naddress = \"10.0.0.1\"\nroles = [\"master\"]\n"
        );
        let plan = parse(&src).expect(lb);
        assert!(plan.vip.is_none());
        assert_eq!(plan.topology.load_balancer.as_str(), lb);
    }
}

#[test]
fn empty_and_comment_only_files_are_whole_file_errors() {
    for src in ["", "  \n\n", "# nothing here\n   # really\n"] {
        let err = parse(src).expect_err("empty");
        assert_eq!((err.line, err.column), (0, 0));
        assert!(err.message.contains("the file is empty"), "{}", err.message);
    }
}

#[test]
fn syntax_error_points_at_the_byte() {
    assert_error("[cluster]\nname = \"x\n", 2, 10, &["invalid basic string", "expected `\"`"]);
    assert_error("[cluster]\nname = \"x\"\nname = \"y\"\n", 3, 1, &["duplicate key"]);
    assert_error("[cluster\nname = \"x\"\n", 1, 9, &["expected `]`"]);
}

#[test]
fn unknown_keys_name_the_key_and_the_allowed_ones() {
    assert_error("[cluster]\nnmae = \"x\"\n", 2, 1, &["unknown key `nmae`", "expected one of `name`, `kubernetes_version`"]);
    assert_error(
        "[clustr]\nname = \"x\"\n",
        1,
        2,
        &["unknown key `clustr`", "`cluster`", "`vip`", "`topology`", "`lb`", "`access`", "`hosts`"],
    );
    let src = VALID.replace("name = \"m1\"\n", "name = \"m1\"\nadress = \"x\"\n");
    assert_error(&src, 14, 1, &["unknown key `adress`", "`address`", "`internal_address`", "`ssh_host`"]);
    assert_error(&format!("{VALID}[access]\nread_only = true\n"), 17, 1, &["unknown key `read_only`", "`readonly`", "`allow_drills`"]);
    assert_error(&format!("{VALID}[lb]\nsocket = \"/x\"\n"), 17, 1, &["unknown key `socket`", "`haproxy_socket`"]);
    for bad in ["0", "3601"] {
        assert_error(&format!("{VALID}[access]\nlogin_timeout_secs = {bad}\n"), 17, 22, &["login_timeout_secs", "between 1 and 3600"]);
    }
    assert_error(&format!("{VALID}[access]\nsudo = \"yes\"\n"), 17, 8, &["invalid type", "expected a boolean"]);
    assert_error(&format!("{VALID}[access]\nsudo_user = \"root\"\n"), 17, 1, &["unknown key `sudo_user`", "`sudo`"]);
}

#[test]
fn wrong_types_say_what_was_expected() {
    let src = VALID.replace("address = \"10.0.0.100\"", "address = \"10.0.0.100\"\nport = \"6443\"");
    assert_error(&src, 6, 8, &["invalid type: string \"6443\"", "expected a whole number from 0 to 65535"]);
    let src = VALID.replace("address = \"10.0.0.100\"", "address = \"10.0.0.100\"\nport = 70000");
    assert_error(&src, 6, 8, &["70000", "expected a whole number from 0 to 65535"]);
    let src = VALID.replace("roles = [\"master\"]", "roles = \"master\"");
    assert_error(&src, 15, 9, &["invalid type: string \"master\"", "expected a list [...]"]);
    assert_error("[cluster]\nname = 5\n", 2, 8, &["invalid type: integer `5`", "expected a string"]);
    assert_error(&format!("{VALID}[access]\nreadonly = \"yes\"\n"), 17, 12, &["expected a boolean"]);
}

#[test]
fn topology_values_are_checked() {
    let src = format!("{VALID}[topology]\nload_balancer = \"keepalived\"\n");
    assert_error(&src, 17, 17, &["unknown value \"keepalived\": expected one of dedicated, masters, local-proxy, none"]);
    let src = format!("{VALID}[topology]\netcd = \"stacked-external\"\n");
    assert_error(&src, 17, 8, &["unknown value \"stacked-external\": expected one of stacked, external"]);
    let src = format!("{VALID}[topology]\netcd_deploy = \"pod\"\n");
    assert_error(&src, 17, 15, &["unknown value \"pod\": expected one of static-pod, systemd"]);
    let src = format!("{VALID}[topology]\nload_balancer = 1\n");
    assert_error(&src, 17, 17, &["invalid type: integer `1`, expected a string"]);
    assert_error("topology = 1\n", 1, 12, &["invalid type: integer `1`, expected a [topology] table"]);
}

#[test]
fn sections_of_the_wrong_type() {
    assert_error("cluster = 5\n", 1, 11, &["expected a [cluster] table"]);
    assert_error("vip = \"10.0.0.1\"\n", 1, 7, &["expected a [vip] table"]);
    assert_error("hosts = 5\n", 1, 9, &["expected a list [...]"]);
    assert_error("hosts = [5]\n", 1, 10, &["expected a [[hosts]] table"]);
    assert_error("lb = 1\n", 1, 6, &["expected an [lb] table"]);
    assert_error("access = true\n", 1, 10, &["expected an [access] table"]);
}

#[test]
fn missing_required_keys() {
    assert_error("[vip]\naddress = \"10.0.0.1\"\n", 1, 1, &["missing [cluster] section", "name ="]);
    assert_error("[cluster]\nkubernetes_version = \"v1\"\n", 1, 1, &["missing key `name`"]);
    assert_error("[cluster]\nname = \"  \"\n", 2, 8, &["empty cluster name"]);
    let src = VALID.replace("address = \"10.0.0.21\"\n", "");
    assert_error(&src, 12, 1, &["missing key `address`"]);
    assert_error("[cluster]\nname = \"c\"\n[topology]\nload_balancer = \"none\"\n", 1, 1, &["no [[hosts]]", "master"]);
}

#[test]
fn a_vip_is_needed_for_dedicated_and_masters() {
    let no_vip = VALID.replace("[vip]\naddress = \"10.0.0.100\"\n", "");
    // Default topology: the error points at [cluster].
    assert_error(&no_vip, 1, 1, &["missing [vip] section", "`dedicated`", "local-proxy"]);
    let src = format!("{no_vip}[topology]\nload_balancer = \"masters\"\n");
    assert_error(&src, 15, 17, &["missing [vip] section", "`masters`"]);
}

#[test]
fn invalid_addresses_point_at_the_value() {
    let src = VALID.replace("\"10.0.0.100\"", "\"10.0.0.300\"");
    assert_error(&src, 5, 11, &["invalid VIP address \"10.0.0.300\"", "expected an IPv4 or IPv6 address"]);
    let src = VALID.replace("\"10.0.0.21\"", "\"master-1.lan\"");
    assert_error(&src, 14, 11, &["invalid address \"master-1.lan\"", "expected an IPv4 or IPv6 address"]);
    let src = VALID.replace("address = \"10.0.0.21\"", "address = \"10.0.0.21\"\ninternal_address = \"\"");
    assert_error(&src, 15, 20, &["invalid internal_address \"\"", "expected an IPv4 or IPv6 address"]);
    let src = VALID.replace("address = \"10.0.0.100\"", "address = \"10.0.0.100\"\nport = 0");
    assert_error(&src, 6, 8, &["invalid port 0", "from 1 to 65535"]);
}

#[test]
fn duplicates_point_at_the_second_one() {
    let src = VALID.replace("name = \"m1\"", "name = \"lb1\"");
    assert_error(&src, 13, 8, &["duplicate host name `lb1`", "unique"]);
    let src = VALID.replace("\"10.0.0.21\"", "\"10.0.0.11\"");
    assert_error(&src, 14, 11, &["duplicate address 10.0.0.11", "`lb1` already has it"]);
    let src = VALID
        .replace("address = \"10.0.0.11\"", "address = \"10.0.0.11\"\ninternal_address = \"192.168.0.1\"")
        .replace("address = \"10.0.0.21\"", "address = \"10.0.0.21\"\ninternal_address = \"192.168.0.1\"");
    assert_error(&src, 16, 20, &["duplicate internal address 192.168.0.1", "`lb1`"]);
}

#[test]
fn roles_are_checked() {
    let src = VALID.replace("roles = [\"master\"]", "roles = [\"master\", \"storage\"]");
    assert_error(&src, 15, 20, &["unknown role \"storage\"", "lb, master (or control-plane), etcd, worker"]);
    let src = VALID.replace("roles = [\"master\"]", "roles = []");
    assert_error(&src, 15, 9, &["host `m1` has no roles", "at least one of lb"]);
    let src = VALID.replace("roles = [\"master\"]\n", "");
    assert_error(&src, 12, 1, &["host `m1` has no roles"]);
    let src = VALID.replace("roles = [\"master\"]", "roles = [\"worker\"]");
    assert_error(&src, 7, 1, &["no master", "roles = [\"master\"]"]);
    let src = VALID.replace("roles = [\"lb\"]", "roles = [\"worker\"]");
    assert_error(&src, 1, 1, &["`dedicated` load balancer needs lb hosts", "roles = [\"lb\"]"]);
    let src = format!("{}[topology]\nload_balancer = \"dedicated\"\n", VALID.replace("roles = [\"lb\"]", "roles = [\"worker\"]"));
    assert_error(&src, 17, 17, &["`dedicated` load balancer needs lb hosts"]);
}

#[test]
fn host_names_are_checked() {
    let src = VALID.replace("name = \"m1\"", "name = \"\"");
    assert_error(&src, 13, 8, &["empty host name"]);
    let src = VALID.replace("name = \"m1\"", "name = \"m 1\"");
    assert_error(&src, 13, 8, &["invalid host name \"m 1\"", "without spaces"]);
}

#[test]
fn sizes_are_checked() {
    let with_size = |size: &str| VALID.replace("roles = [\"master\"]", &format!("roles = [\"master\"]\nsize = {size}"));
    assert_error(&with_size("\"8C-32\""), 16, 8, &["invalid size \"8C-32\"", "the number 32 has no unit", "\"8C-32G-150G\""]);
    assert_error(&with_size("\"32G-8C\""), 16, 8, &["the first part must be the CPU count"]);
    assert_error(&with_size("8"), 16, 8, &["invalid type: integer `8`", "a size like \"8C-32G-150G\" or a table"]);
    assert_error(&with_size("{ cpu = 8, mem = 32 }"), 16, 19, &["unknown key `mem`", "`memory_gb`"]);
    assert_error(&with_size("{ cpu = 8 }"), 16, 8, &["missing key `memory_gb`"]);
    assert_error(&with_size("{ cpu = 0, memory_gb = 8 }"), 16, 8, &["cpu is 0"]);
    assert_error(
        &with_size("{ cpu = \"8\", memory_gb = 8 }"),
        16,
        16,
        &["invalid type: string \"8\"", "expected a whole number from 0 to 4294967295"],
    );
    let plan = parse(&with_size("{ cpu = 8, memory_gb = 32, disk_gb = 150 }")).expect("table size");
    assert_eq!(plan.host("m1").and_then(|h| h.size).map(|s| s.to_string()).as_deref(), Some("8C-32G-150G"));
}

#[test]
fn ssh_host_defaults_to_the_name() {
    let src = VALID.replace("name = \"m1\"", "name = \"m1\"\nssh_host = \"\"");
    assert_eq!(parse(&src).expect("valid").host("m1").map(|h| h.ssh_host.as_str()), Some("m1"));
}

#[test]
fn the_ceph_section_is_optional_and_checked() {
    use crate::inventory::{CephPlan, CephVia};
    assert_eq!(parse(VALID).expect("valid").ceph, None, "no [ceph]: Rook's view only");
    let plan = parse(&format!("{VALID}\n[ceph]\nhost = \"m1\"\nconf = \"/etc/ceph/ceph.conf\"\n")).expect("valid");
    let c = plan.ceph.clone().expect("ceph");
    assert_eq!((c.via, c.host.as_str(), c.conf.as_str(), c.connect_timeout_secs), (CephVia::Ssh, "m1", "/etc/ceph/ceph.conf", 5));
    assert_eq!(c.ssh_host(&plan).as_deref(), Some("m1"));
    assert_eq!(CephPlan::default().ssh_host(&plan).as_deref(), Some("m1"), "default: the first master");
    let rook = parse(&format!("{VALID}\n[ceph]\nvia = \"rook\"\nhost = \"jump\"\n")).expect("valid").ceph.unwrap();
    assert_eq!((rook.via, rook.namespace.as_str(), rook.toolbox.as_str()), (CephVia::Rook, "rook-ceph", "rook-ceph-tools"));
    assert_error(&format!("{VALID}\n[ceph]\nvia = \"cephadm\"\n"), 18, 7, &["unknown value `cephadm`", "`ssh`", "`rook`", "`local`"]);
    assert_error(&format!("{VALID}\n[ceph]\nconnect_timeout_secs = 0\n"), 17, 1, &["connect_timeout_secs", "at least 1"]);
    assert_error(&format!("{VALID}\n[ceph]\nvia = \"rook\"\nnamespace = \"Rook Ceph\"\n"), 17, 1, &["Kubernetes names"]);
    assert_error(&format!("{VALID}\n[ceph]\nmon = \"m1\"\n"), 18, 1, &["unknown key `mon`", "`via`"]);
}

#[test]
fn lb_demotion_and_keepalived_commands() {
    let plan = parse(VALID).expect("valid");
    assert_eq!(plan.lb.demote, DemoteMethod::TrackFile);
    assert_eq!(plan.lb.keepalived_stop, "systemctl stop keepalived");
    let src = format!(
        "{VALID}[lb]\ndemote = \"priority\"\nkeepalived_conf = \"/etc/ka.conf\"\nkeepalived_reload = \"kill -HUP $(cat /run/keepalived.pid)\"\n"
    );
    let plan = parse(&src).expect("valid");
    assert_eq!((plan.lb.demote, plan.lb.keepalived_conf.as_str()), (DemoteMethod::Priority, "/etc/ka.conf"));
    assert_error(&format!("{VALID}[lb]\ndemote = \"weight\"\n"), 17, 10, &["unknown value `weight`", "`track_file`", "`priority`"]);
}

#[test]
fn drills_defaults_and_every_key() {
    let plan = parse(VALID).expect("valid");
    assert_eq!(plan.drills, DrillCommands::default());
    assert_eq!(plan.drills.stop, "systemctl stop {service}");
    assert_eq!((plan.drills.cut.as_deref(), plan.drills.heal.as_deref()), (None, None));
    let src = format!(
        "{VALID}[drills]\nstop = \"svc {{service}} stop\"\nkill = \"pkill-by-pid {{signal}} {{service}} {{host}}\"\nstart = \"svc {{service}} start\"\ncut = \"virsh domif-setlink {{host}} vnet0 down\"\nheal = \"virsh domif-setlink {{host}} vnet0 up\"\ntimeout_secs = 20\n"
    );
    let plan = parse(&src).expect("valid");
    assert_eq!(plan.drills.kill, "pkill-by-pid {signal} {service} {host}");
    assert_eq!(plan.drills.cut.as_deref(), Some("virsh domif-setlink {host} vnet0 down"));
    assert_eq!(plan.drills.timeout_secs, 20);
}

#[test]
fn drills_errors_point_at_the_value() {
    // an unknown placeholder: at its brace
    assert_error(
        &format!("{VALID}[drills]\nstop = \"systemctl stop {{servce}}\"\n"),
        17,
        24,
        &["unknown placeholder {servce}", "{service}"],
    );
    // cut and heal take only {host}
    assert_error(
        &format!("{VALID}[drills]\ncut = \"x {{service}}\"\nheal = \"y\"\n"),
        17,
        10,
        &["unknown placeholder {service}", "{host}"],
    );
    assert_error(&format!("{VALID}[drills]\ncut = \"ip link set {{host}} down\"\n"), 17, 7, &["cut and drills.heal go together"]);
    assert_error(&format!("{VALID}[drills]\nkill = \"systemctl kill {{service}}\"\n"), 17, 8, &["drills.kill must contain {signal}"]);
    assert_error(&format!("{VALID}[drills]\nstart = \"\"\n"), 17, 9, &["empty drills.start"]);
    assert_error(&format!("{VALID}[drills]\ntimeout_secs = 0\n"), 17, 16, &["timeout_secs 0"]);
    assert_error(&format!("{VALID}[drills]\nreboot = \"x\"\n"), 17, 1, &["unknown key `reboot`", "`stop`", "`heal`"]);
}

/// A value kockpit sends to the load balancers as an argument must be one a host can be sent: a NUL
/// cannot be (it took the SSH connections down), a newline or an escape sequence would be followed
/// as another file or clear the terminal when shown. Each is refused at its line.
#[test]
fn lb_paths_and_the_vip_interface_are_checked_where_they_are_written() {
    for (value, needle) in [
        (r#""/etc/keepalived/a\u0000b""#, "control characters"),
        (r#""/etc/keepalived/a\nb""#, "control characters"),
        (r#""/etc/\u001b[2Jx""#, "control characters"),
        (r#""relative/down""#, "not an absolute path"),
    ] {
        assert_error(&format!("{VALID}[lb]\ndemote = \"track_file\"\ntrack_file = {value}\n"), 18, 1, &["[lb] track_file", needle]);
    }
    let long = format!("\"/{}\"", "x".repeat(1100));
    assert_error(&format!("{VALID}[lb]\nkeepalived_json = {long}\n"), 17, 1, &["[lb] keepalived_json", "1024 bytes"]);
    assert_error(&format!("{VALID}[lb]\nkeepalived_reload = \"a\\u0000b\"\n"), 17, 1, &["keepalived_reload", "NUL"]);
    // empty: the default (none); a path with spaces or quotes is a path
    let plan = parse(&format!("{VALID}[lb]\ntrack_file = \"\"\nkeepalived_state_file = \"/run/ka state 'x'\"\n")).expect("valid");
    assert_eq!(plan.lb.keepalived_state_file, "/run/ka state 'x'");
    // [vip] interface: as Linux names one
    let vip = |i: &str| VALID.replace("address = \"10.0.0.100\"\n", &format!("address = \"10.0.0.100\"\ninterface = {i}\n"));
    for (i, needle) in [
        (r#""eth0\u001b[2J""#, "not an interface name"),
        (r#""eth0;id""#, "not an interface name"),
        (r#""../../x""#, "not an interface name"),
        (r#""a b""#, "not an interface name"),
        (r#""""#, "empty"),
        (r#""abcdefghijklmnopq""#, "at most 15"),
    ] {
        assert_error(&vip(i), 6, 13, &["[vip] interface", needle]);
    }
    for ok in ["eth0", "bond0.100", "ens192", "veth@x", "-all"] {
        assert_eq!(parse(&vip(&format!("{ok:?}"))).expect(ok).vip.unwrap().interface.as_deref(), Some(ok));
    }
}

#[test]
fn a_long_or_odd_value_is_shown_escaped_and_cut_visibly() {
    let long = format!("\"/{}\"", "a".repeat(2000));
    let err = parse(&format!("{VALID}[lb]\ntrack_file = {long}\n")).unwrap_err();
    assert!(err.message.contains("a…\" is longer than 1024 bytes"), "{err}");
    let err = parse(&format!("{VALID}[lb]\nhaproxy_backend = \"kube\\tapi\"\n")).unwrap_err();
    assert!(err.message.contains("\"kube\\tapi\""), "escaped once: {err}");
    let err = parse(&VALID.replace("address = \"10.0.0.100\"\n", "address = \"10.0.0.100\"\ninterface = \"..\"\n")).unwrap_err();
    assert!(err.message.contains("Linux refuses `.` and `..`"), "{err}");
}
