//! The targets: name, entry point, and what it parses.

use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use kockpit::error::{FileError, check_depth};

type Target = fn(&[u8]);

pub const TARGETS: &[(&str, Target, &str)] = &[
    ("plan_toml", plan_toml, "kockpit TOML host plan (Plan::parse_toml)"),
    ("kubekey", kubekey, "host plan as `kockpit --plan` reads it: KubeKey YAML detected, else TOML (Plan::parse)"),
    ("config", config, "the config file (Config::parse)"),
    ("theme", theme, "a theme file (Theme::parse_source)"),
    ("keymap", keymap, "a keymap file (Keymap::parse_source, parse_key)"),
    ("drill", drill, "a drill file (DrillFile::parse)"),
    ("ssh_config", ssh_config, "ssh_config without Include (SshConfig::parse, resolve)"),
    ("known_hosts", known_hosts, "a known_hosts file (known_hosts::check_text)"),
    ("haproxy_stat", haproxy_stat, "haproxy `show stat` CSV (parse_show_stat)"),
    ("keepalived_json", keepalived_json, "keepalived's JSON dump (parse_keepalived_json)"),
    ("keepalived_data", keepalived_data, "keepalived's text data dump, 1.3 and 2.x wordings (parse_keepalived_data)"),
    ("keepalived_state", keepalived_state, "keepalived's notify state file (parse_state_file)"),
    ("vrrp_output", vrrp_output, "the VRRP probe's whole output: ip -j addr, JSON or data dump, state (vrrp_from_output)"),
    ("ip_addr", ip_addr, "`ip -j addr` (parse_ip_addr)"),
    ("hostfacts", hostfacts, "the host facts probe's output (parse_host_facts)"),
    ("etcd_json", etcd_json, "etcd grpc-gateway JSON: status, members, alarms, errors"),
    ("etcd_credentials", etcd_credentials, "the etcd credentials script's output, PEM (parse_credentials)"),
    ("ceph_script", ceph_script, "the ceph probe's output, split and parsed (split_sections, parse_view)"),
    ("ceph_json", ceph_json, "ceph JSON answers (parse_view, osd_hosts)"),
    ("x509_der", x509_der, "a DER X.509 certificate (certs::parse::from_der)"),
    ("pem", pem, "PEM text and kubeconfig base64 data (from_pem, from_kubeconfig_data)"),
    ("certs_dump", certs_dump, "the certificate probe's output (certs::parse::parse_dump)"),
    ("snapshot_listing", snapshot_listing, "the etcd snapshot directories' listing (etcd::backups::parse)"),
    ("log_lines", log_lines, "journal and pod log bytes: line splitting, timestamps (LineSplitter, line_of)"),
    ("log_spec", log_spec, "a log source as typed on the command line (LogSpec::parse_host, parse_pod)"),
    ("keepalived_conf", keepalived_conf, "keepalived.conf as `kockpit lint` reads it (parse_keepalived, includes_of), its lints and predictions"),
    ("haproxy_cfg", haproxy_cfg, "haproxy.cfg as `kockpit lint` reads it (parse_haproxy), its lints and routing"),
    ("alertmanager_json", alertmanager_json, "Alertmanager's v2 answers: alerts, a silence's id and state (alerts::parse)"),
    ("addr_events", addr_events, "`ip -o monitor address` lines (is the VIP named), the links and tracked files beside them, the log stream's and the stats watch's lines (probe::watch, probe::causes)"),
    ("kube_pb", kube_pb, "a protobuf list of pods as it streams in, and a protobuf Status (kube::pb)"),
];

/// A user's file as `read_text` hands it to a parser: UTF-8, nesting within the limit.
fn user_text<'a>(path: &Path, data: &'a [u8]) -> Option<&'a str> {
    let text = std::str::from_utf8(data).ok()?;
    check_depth(path, text, "file").ok()?;
    Some(text)
}

/// A file's error must name a place inside the file (line 0 means the whole file).
fn check_position(path: &Path, text: &str, e: &FileError) {
    let lines = text.split('\n').count();
    assert!(e.line <= lines, "{}: error at line {} of a {lines}-line file: {e}", path.display(), e.line);
    black_box(e.to_string());
}

fn user_file<T>(path: &str, data: &[u8], parse: impl Fn(&Path, &str) -> Result<T, FileError>) {
    let path = Path::new(path);
    let Some(text) = user_text(path, data) else { return };
    match parse(path, text) {
        Ok(v) => drop(black_box(v)),
        Err(e) => check_position(path, text, &e),
    }
}

fn plan_toml(data: &[u8]) {
    user_file("plan.toml", data, kockpit::inventory::Plan::parse_toml);
}

fn kubekey(data: &[u8]) {
    user_file("cluster.yaml", data, kockpit::inventory::Plan::parse);
}

fn config(data: &[u8]) {
    user_file("/home/op/.config/kockpit/config.toml", data, kockpit::config::Config::parse);
}

fn theme(data: &[u8]) {
    user_file("custom.toml", data, kockpit::settings::theme::Theme::parse_source);
}

fn keymap(data: &[u8]) {
    user_file("custom.toml", data, kockpit::settings::keymap::Keymap::parse_source);
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines().take(64) {
            black_box(kockpit::settings::keymap::parse_key(line).ok());
        }
    }
}

fn drill(data: &[u8]) {
    user_file("drill.toml", data, kockpit::drill::DrillFile::parse);
}

fn ssh_config(data: &[u8]) {
    use kockpit::transport::ssh::SshConfig;
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Include reads other files: the fuzzer must not wander the file system.
    if text.to_ascii_lowercase().contains("include") {
        return;
    }
    if let Ok(cfg) = SshConfig::parse(text) {
        for name in ["m1", "root@10.0.0.1", "lb1.example.com", "bastion"] {
            black_box(cfg.resolve(name));
        }
    }
}

fn known_hosts(data: &[u8]) {
    use kockpit::transport::ssh::known_hosts::{check_text, lookup_name};
    use russh::keys::ssh_key::PublicKey;
    static KEY: std::sync::OnceLock<PublicKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        PublicKey::from_openssh("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOPN/pi8v2FUk9LPU7Oln+tpnxIvy1b926MmYWzwTOHv").unwrap()
    });
    let Ok(text) = std::str::from_utf8(data) else { return };
    for name in [lookup_name("m1", 22), lookup_name("10.213.0.21", 2222)] {
        black_box(check_text(Path::new("known_hosts"), text, &name, key));
    }
}

fn remote_text(data: &[u8]) -> String {
    // SSH output reaches the parsers as lossy UTF-8
    String::from_utf8_lossy(data).into_owned()
}

fn haproxy_stat(data: &[u8]) {
    let text = remote_text(data);
    black_box(kockpit::probe::parse::parse_show_stat(&text, "kube-apiserver").map_err(|e| e.to_string())).ok();
}

fn keepalived_json(data: &[u8]) {
    let text = remote_text(data);
    black_box(kockpit::probe::parse::parse_keepalived_json(&text).map_err(|e| e.to_string())).ok();
}

fn keepalived_data(data: &[u8]) {
    let text = remote_text(data);
    if let Ok(instances) = kockpit::probe::parse::parse_keepalived_data(&text) {
        black_box(instances.iter().any(|i| i.has_vip("10.213.0.100")));
    }
}

fn keepalived_state(data: &[u8]) {
    let text = remote_text(data);
    black_box(kockpit::probe::parse::parse_state_file(&text).map_err(|e| e.to_string())).ok();
}

fn vrrp_output(data: &[u8]) {
    let text = remote_text(data);
    let vip: IpAddr = [10, 213, 0, 100].into();
    black_box(kockpit::probe::keepalived::vrrp_from_output(&text, Some(vip)).map_err(|e| e.to_string())).ok();
}

fn ip_addr(data: &[u8]) {
    let text = remote_text(data);
    if let Ok(addrs) = kockpit::probe::parse::parse_ip_addr(&text) {
        black_box(kockpit::probe::parse::ipaddr::holds(&addrs, [10, 213, 0, 100].into()));
    }
}

fn hostfacts(data: &[u8]) {
    let text = remote_text(data);
    black_box(kockpit::probe::parse::parse_host_facts(&text, Some(1_795_000_000.25)).map_err(|e| e.to_string())).ok();
}

fn etcd_json(data: &[u8]) {
    use kockpit::etcd::parse;
    let status = parse::parse_status(data);
    let members = parse::parse_members(data);
    let alarms = parse::parse_alarms(data).unwrap_or_default();
    black_box(parse::gateway_error(data));
    if let Ok(text) = std::str::from_utf8(data) {
        black_box(parse::url_host_port(text));
        black_box(parse::alarms_in_errors(&[text.to_string()]));
    }
    if let Ok(m) = &members {
        black_box(parse::assemble(Some(m), &[], &alarms));
    }
    drop(black_box(status));
}

fn etcd_credentials(data: &[u8]) {
    let text = remote_text(data);
    black_box(kockpit::etcd::parse_credentials("m1", &text)).ok();
}

fn snapshot_listing(data: &[u8]) {
    let text = remote_text(data);
    if let Ok(v) = kockpit::etcd::backups::parse(&text) {
        assert!(v.files.len() <= 200, "the listing is bounded");
        assert!(v.files.iter().all(|f| !f.path.chars().any(char::is_control)), "no control character is shown");
        black_box(v);
    }
}

fn ceph_script(data: &[u8]) {
    let text = remote_text(data);
    if let Ok(answers) = kockpit::ceph::parse::split_sections(&text, 10) {
        black_box(kockpit::ceph::parse::parse_view(&answers)).ok();
    }
}

fn ceph_json(data: &[u8]) {
    use kockpit::ceph::parse::{CephAnswers, osd_hosts, parse_view};
    let text = remote_text(data);
    let some = Some(text.clone());
    let a = CephAnswers {
        status: text.clone(),
        health_detail: some.clone(),
        osd_tree: some.clone(),
        df: some.clone(),
        osd_dump: some.clone(),
        crush_rules: some,
    };
    black_box(parse_view(&a)).ok();
    black_box(osd_hosts(&text));
}

fn x509_der(data: &[u8]) {
    black_box(kockpit::certs::parse::from_der("apiserver", "/etc/kubernetes/pki/apiserver.crt", data)).ok();
}

fn pem(data: &[u8]) {
    use kockpit::certs::parse::{from_kubeconfig_data, from_pem};
    black_box(from_pem("apiserver", "/etc/kubernetes/pki/apiserver.crt", data)).ok();
    if let Ok(text) = std::str::from_utf8(data) {
        black_box(from_kubeconfig_data("admin", "/etc/kubernetes/admin.conf", text)).ok();
    }
}

fn certs_dump(data: &[u8]) {
    let text = remote_text(data);
    black_box(kockpit::certs::parse::parse_dump(&text));
}

fn log_lines(data: &[u8]) {
    use kockpit::logs::{LineSplitter, line_of, split_timestamp};
    // the first byte says where the stream is cut in two reads
    let Some((&cut, rest)) = data.split_first() else { return };
    let cut = (cut as usize * rest.len() / 255).min(rest.len());
    let source: Arc<str> = Arc::from("m1:kubelet");
    let mut split = LineSplitter::default();
    let mut lines = Vec::new();
    split.feed(&rest[..cut], &mut lines);
    split.feed(&rest[cut..], &mut lines);
    lines.extend(split.finish());
    for l in lines {
        black_box(split_timestamp(&l));
        black_box(line_of(&source, l));
    }
}

fn log_spec(data: &[u8]) {
    use kockpit::logs::spec::LogSpec;
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(s) = LogSpec::parse_host(text) {
        black_box(s.validate()).ok();
        black_box(s.label());
    }
    if let Ok(s) = LogSpec::parse_pod(text, false) {
        black_box(s.validate()).ok();
        black_box(s.label());
    }
}

fn keepalived_conf(data: &[u8]) {
    use kockpit::hacfg::predict::{Event, predict};
    use kockpit::hacfg::{Peer, Source, includes_of, lint_keepalived, parse_keepalived};
    let path = Path::new("keepalived.conf");
    let Some(text) = user_text(path, data) else { return };
    black_box(includes_of(text));
    match parse_keepalived(&[Source::new("keepalived.conf", text)]) {
        Ok(conf) => {
            // the same file on two peers: every cross-peer rule runs, ties included
            let mut other = Peer::new("m2", conf.clone());
            other.address = Some([10, 0, 0, 12].into());
            let peers = vec![Peer::new("m1", conf), other];
            black_box(lint_keepalived(&peers));
            for e in [Event::HaproxyDead("m1".into()), Event::ApiserverDead("m2".into()), Event::HostDown("m1".into())] {
                black_box(predict(&peers, None, &e));
            }
        }
        Err(e) => check_position(path, text, &e),
    }
}

fn haproxy_cfg(data: &[u8]) {
    use kockpit::hacfg::lint::HaproxyLintOptions;
    use kockpit::hacfg::{Source, lint_haproxy, parse_haproxy};
    let path = Path::new("haproxy.cfg");
    let Some(text) = user_text(path, data) else { return };
    match parse_haproxy(&[Source::new("haproxy.cfg", text)]) {
        Ok(conf) => {
            black_box(conf.apiserver_backends(Some(6443)));
            black_box(lint_haproxy(&conf, "haproxy.cfg", &HaproxyLintOptions { on_master: true, vip_port: Some(8443) }));
        }
        Err(e) => check_position(path, text, &e),
    }
}

fn alertmanager_json(data: &[u8]) {
    use kockpit::alerts::parse;
    if let Ok(list) = parse::alerts(data) {
        assert!(list.len() <= parse::MAX_ALERTS);
        for a in &list {
            // kept bounded and on one line, whatever came in
            assert!(a.name.chars().count() <= 80 && a.summary.chars().count() <= 200, "{a:?}");
            assert!(!a.summary.chars().any(char::is_control), "{a:?}");
        }
    }
    if let Ok(id) = parse::silence_id(data) {
        assert!(!id.is_empty() && id.len() <= 64, "{id:?}");
    }
    black_box(parse::silence_state(data)).ok();
}

fn addr_events(data: &[u8]) {
    let text = remote_text(data);
    let vip: std::net::IpAddr = "10.213.0.100".parse().unwrap();
    let v6: std::net::IpAddr = "fd00::100".parse().unwrap();
    for line in text.lines() {
        black_box(kockpit::probe::watch::names_vip(line, Some(vip)));
        black_box(kockpit::probe::watch::names_vip(line, Some(v6)));
        black_box(kockpit::probe::watch::names_vip(line, None));
        // the same bytes as the log stream's lines: its own markers and the daemons' messages
        match kockpit::probe::watch::log_line(line, &["keepalived", "haproxy"]) {
            kockpit::probe::watch::LogLine::Off(_, why) => assert!(why.chars().count() <= 200 && !why.chars().any(char::is_control), "{why:?}"),
            other => {
                black_box(other);
            }
        }
        if let kockpit::probe::watch::StatsLine::Lost(why) = kockpit::probe::watch::stats_line(line) {
            assert!(why.chars().count() <= 250 && !why.chars().any(char::is_control), "{why:?}");
        }
        // the links and tracked files the address watch reports beside the addresses
        if let Some(name) = kockpit::probe::causes::link_name(line) {
            assert!(!name.is_empty() && line.contains(name) && !name.contains(char::is_whitespace), "{name:?}");
        }
        let causes = kockpit::probe::causes::Causes { files: vec!["/etc/keepalived/down".into()], notify: None, links: vec!["eth0".into()] };
        black_box(kockpit::probe::causes::file_changed(line, &causes));
    }
}

/// The items and metadata (or the error) of `data` fed `chunk` bytes at a time.
fn pb_split(data: &[u8], chunk: usize) -> Result<(Vec<String>, String), String> {
    use kockpit::kube::pb;
    let mut s = pb::PbSplitter::new();
    let mut items = Vec::new();
    for c in data.chunks(chunk) {
        s.feed(c, &mut |raw: &[u8]| -> Result<(), kockpit::kube::split::SplitError> {
            assert!(raw.len() <= pb::MAX_ITEM);
            items.push(match pb::pod(raw) {
                Ok(p) => format!("{p:?}"),
                Err(e) => e.0,
            });
            Ok(())
        })
        .map_err(|e| e.0)?;
    }
    let meta = s.finish().map_err(|e| e.0)?;
    Ok((items, meta.resource_version))
}

fn kube_pb(data: &[u8]) {
    // however the body is cut into reads, the same items and the same end
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let whole = pb_split(data, data.len().max(1));
    let cut = pb_split(data, chunk);
    match (&whole, &cut) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => panic!("whole: {whole:?}, in {chunk}-byte reads: {cut:?}"),
    }
    black_box(kockpit::kube::pb::status(data));
}
