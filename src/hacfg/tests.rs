//! The parsers on real files (tests/fixtures/hacfg) and on hostile input; every lint code on one
//! flawed input; every prediction rule.

use std::collections::{BTreeMap, BTreeSet};

use super::haproxy::{Addr, Mode, ProxyKind, addr_of, config_dir_order, time_ms, words};
use super::keepalived::{AuthType, VrrpState};
use super::lint::{CODES, HaproxyLintOptions};
use super::predict::{Event, config_holder, predict_instance};
use super::*;

macro_rules! fixture {
    ($p:literal) => {
        include_str!(concat!("../../tests/fixtures/hacfg/", $p))
    };
}

fn ka(name: &str, text: &str) -> KeepalivedConf {
    parse_keepalived(&[Source::new(name, text)]).unwrap_or_else(|e| panic!("{e}"))
}

fn hap(name: &str, text: &str) -> HaproxyConf {
    parse_haproxy(&[Source::new(name, text)]).unwrap_or_else(|e| panic!("{e}"))
}

fn peer(host: &str, text: &str, addr: &str) -> Peer {
    let mut p = Peer::new(host, ka(&format!("{host}.conf"), text));
    p.address = addr.parse().ok();
    p
}

fn set(name: &str, files: [&str; 3]) -> Vec<Peer> {
    let _ = name;
    ["m1", "m2", "m3"].iter().zip(files).enumerate().map(|(i, (h, t))| peer(h, t, &format!("10.0.0.1{}", i + 1))).collect()
}

fn tutorial() -> Vec<Peer> {
    set("tutorial", [fixture!("tutorial/m1.conf"), fixture!("tutorial/m2.conf"), fixture!("tutorial/m3.conf")])
}

fn codes(l: &[Lint]) -> BTreeSet<&'static str> {
    l.iter().map(|l| l.code).collect()
}

// ---- keepalived.conf ----

#[test]
fn the_kubeadm_guide_file_reads_as_written() {
    let c = ka("m1.conf", fixture!("kubeadm/m1.conf"));
    assert_eq!(c.router_id.as_deref(), Some("LVS_DEVEL"));
    let s = c.script("check_apiserver").unwrap();
    assert_eq!((s.script.as_str(), s.interval, s.weight, s.fall, s.rise), ("/etc/keepalived/check_apiserver.sh", 3.0, -2, 10, 2));
    assert_eq!(s.at, Pos::new("m1.conf", 6));
    let i = c.instance("VI_1").unwrap();
    assert_eq!(i.at.to_string(), "m1.conf:14");
    assert_eq!((i.state, i.priority, i.virtual_router_id, i.advert_int), (Some(VrrpState::Master), 101, Some(51), 1.0));
    assert_eq!(i.interface.as_deref(), Some("eth0"));
    assert_eq!(i.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>(), ["192.168.0.100"]);
    assert_eq!(i.auth, Some(AuthType::Pass));
    assert_eq!(i.track_scripts.len(), 1);
    assert_eq!(i.track_scripts[0].name, "check_apiserver");
    assert!(!i.nopreempt && i.unicast_peers.is_empty());
    assert_eq!(c.skipped, 0);
}

#[test]
fn the_vrrp_password_is_never_kept() {
    for (text, pw) in [(fixture!("kubeadm/m1.conf"), "Kubeadm42"), (fixture!("tutorial/m2.conf"), "Tut0rial!pw")] {
        let c = ka("k.conf", text);
        assert!(text.contains(pw));
        assert!(!format!("{c:?}").contains(pw), "password in {c:?}");
        assert!(!serde_json::to_string(&c).unwrap().contains(pw));
    }
    let c = ka("k.conf", "vrrp_instance V { authentication { auth_type AH\nauth_pass \"s e c r e t\" } }");
    assert_eq!(c.instances[0].auth, Some(AuthType::Ah));
    assert!(!format!("{c:?}").contains("s e c r e t"));
}

#[test]
fn modern_files_glued_braces_unicast_track_process_and_notify() {
    let c = ka("m2.conf", fixture!("modern/m2.conf"));
    assert!(c.enable_script_security);
    assert_eq!(c.script_user.as_deref(), Some("keepalived_script"));
    let s = c.script("chk_apiserver").unwrap();
    assert_eq!(s.script, "/usr/bin/curl -sfk --max-time 2 https://127.0.0.1:6443/healthz -o /dev/null");
    assert_eq!((s.interval, s.timeout, s.fall, s.weight), (2.0, Some(3.0), 2, -20));
    let p = c.process("haproxy").unwrap();
    assert_eq!((p.process.as_str(), p.weight, p.quorum, p.delay), ("haproxy", -30, 1, Some(2.0)));
    let i = c.instance("VI_K8S").unwrap();
    assert_eq!((i.priority, i.state, i.preempt_delay), (105, Some(VrrpState::Backup), Some(30.0)));
    assert_eq!(i.unicast_src_ip.as_deref(), Some("10.0.0.12"));
    assert_eq!(i.unicast_peers, ["10.0.0.11", "10.0.0.13"]);
    assert_eq!(i.vips[0].to_string(), "10.0.0.100/24");
    assert_eq!(i.track_processes[0].name, "haproxy");
    assert_eq!(i.notify.master.as_deref(), Some("/etc/keepalived/notify.sh MASTER"));
    assert_eq!(i.notify.fault.as_deref(), Some("/etc/keepalived/notify.sh FAULT"));
    assert!(i.auth.is_none());
}

#[test]
fn grammar_comments_one_line_blocks_defaults_and_unknown_words() {
    let text = "# comment { not a block\n! another } comment\nglobal_defs { router_id r1 }\n\
        vrrp_script a {\n script \"pidof haproxy\" # trailing\n}\n\
        vrrp_script b { script /bin/true\n weight -2 reverse }\n\
        vrrp_instance VI_2\n{\n priority 90 ! the backup\n advert_int 0.5\n nopreempt\n\
        virtual_ipaddress { 10.0.0.1/24 10.0.0.2 }\n virtual_ipaddress_excluded {\n fe80::1/64 dev eth0\n }\n\
        track_script { a weight 5 }\n track_script b\n track_interface {\n eth1 weight -10\n }\n track_file { f1 weight 3 }\n\
        unknown_word 1\n smtp_alert\n}\n\
        virtual_server 10.0.0.1 443 { real_server 10.0.0.2 443 { TCP_CHECK { connect_timeout 3 } } }\n\
        vrrp_sync_group G { group { VI_2 VI_3 } }\n";
    let c = ka("x.conf", text);
    assert_eq!(c.router_id.as_deref(), Some("r1"));
    let a = c.script("a").unwrap();
    assert_eq!((a.script.as_str(), a.interval, a.fall, a.rise, a.weight), ("pidof haproxy", 1.0, 1, 1, 0));
    let b = c.script("b").unwrap();
    assert_eq!((b.weight, b.reverse), (-2, true));
    let i = c.instance("VI_2").unwrap();
    assert_eq!(i.at.line, 9, "the brace on the next line opens VI_2's block");
    assert_eq!((i.priority, i.advert_int, i.nopreempt, i.state), (90, 0.5, true, None));
    assert_eq!(i.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>(), ["10.0.0.1/24", "10.0.0.2"]);
    assert_eq!(i.vips_excluded[0].to_string(), "fe80::1/64");
    let t: Vec<_> = i.track_scripts.iter().map(|t| (t.name.as_str(), t.weight)).collect();
    assert_eq!(t, [("a", Some(5)), ("b", None)]);
    assert_eq!((i.track_interfaces[0].name.as_str(), i.track_interfaces[0].weight), ("eth1", Some(-10)));
    assert_eq!(i.track_files[0].weight, Some(3));
    assert_eq!(c.skipped, 2, "unknown_word and virtual_server");
    assert_eq!(c.sync_groups[0].instances, ["VI_2", "VI_3"]);
    let d = ka("d.conf", "vrrp_instance D {\n}\n");
    let i = &d.instances[0];
    assert_eq!((i.priority, i.advert_int, i.nopreempt), (100, 1.0, false));
}

#[test]
fn includes_are_followed_through_the_resolver_in_order() {
    let main = "global_defs { router_id r }\ninclude conf.d/*.conf\nvrrp_instance A { include not/top/level }\ninclude /etc/keepalived/extra.conf\n";
    assert_eq!(includes_of(main), ["conf.d/*.conf", "/etc/keepalived/extra.conf"]);
    let files: BTreeMap<&str, &str> = [
        ("/etc/keepalived/conf.d/a.conf", "vrrp_script s1 { script x }\ninclude b.conf\n"),
        ("/etc/keepalived/conf.d/b.conf", "vrrp_script s2 { script y }\n"),
        ("/etc/keepalived/extra.conf", "vrrp_instance B {\n}\n"),
    ]
    .into();
    let mut asked = vec![];
    let mut resolve = |p: &str| -> Result<Vec<Source>, String> {
        asked.push(p.to_string());
        Ok(match p {
            "/etc/keepalived/conf.d/*.conf" => vec![Source::new("/etc/keepalived/conf.d/a.conf", files["/etc/keepalived/conf.d/a.conf"])],
            _ => files.get(p).map(|t| vec![Source::new(p, *t)]).unwrap_or_default(),
        })
    };
    let all = load_keepalived(Source::new("/etc/keepalived/keepalived.conf", main), &mut resolve).unwrap();
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["/etc/keepalived/keepalived.conf", "/etc/keepalived/conf.d/a.conf", "/etc/keepalived/conf.d/b.conf", "/etc/keepalived/extra.conf"]
    );
    assert_eq!(asked[0], "/etc/keepalived/conf.d/*.conf", "relative to the including file");
    let c = parse_keepalived(&all).unwrap();
    assert_eq!(c.scripts.len(), 2);
    assert_eq!(c.instance("B").unwrap().at, Pos::new("/etc/keepalived/extra.conf", 1));
    assert_eq!(c.files.len(), 4);

    // a missing file (not a glob) is an error at the include line; an empty glob is fine
    let mut none = |_: &str| -> Result<Vec<Source>, String> { Ok(vec![]) };
    let e = load_keepalived(Source::new("k.conf", "\ninclude /etc/keepalived/gone.conf\n"), &mut none).unwrap_err();
    assert_eq!((e.file.to_str(), e.line), (Some("k.conf"), 2), "{e}");
    assert!(e.message.contains("no such file"), "{e}");
    assert!(load_keepalived(Source::new("k.conf", "include /x/*.conf\n"), &mut none).is_ok());
    let mut unreadable = |_: &str| -> Result<Vec<Source>, String> { Err("it is a directory".into()) };
    let e = load_keepalived(Source::new("k.conf", "include /x\n"), &mut unreadable).unwrap_err();
    assert!(e.to_string().contains("k.conf:1: include /x: it is a directory"), "{e}");

    // a file including itself stops at the depth limit; a glob of thousands at the file limit
    let mut myself = |p: &str| -> Result<Vec<Source>, String> { Ok(vec![Source::new(p, "include self.conf\n")]) };
    let e = load_keepalived(Source::new("self.conf", "include self.conf\n"), &mut myself).unwrap_err();
    assert!(e.message.contains("nested more than 8"), "{e}");
    let mut many = |_: &str| -> Result<Vec<Source>, String> { Ok((0..1000).map(|i| Source::new(format!("f{i}"), "")).collect()) };
    let e = load_keepalived(Source::new("k.conf", "include *.conf\n"), &mut many).unwrap_err();
    assert!(e.message.contains("more than 64 files"), "{e}");
    let big = "#".repeat(3 << 20);
    let mut two_big = |_: &str| -> Result<Vec<Source>, String> { Ok(vec![Source::new("b", big.clone())]) };
    let e = load_keepalived(Source::new("k.conf", format!("include b\n{big}")), &mut two_big).unwrap_err();
    assert!(e.message.contains("bytes in all"), "{e}");
}

#[test]
fn glob_and_sniffing() {
    for (p, n, ok) in [
        ("*.conf", "a.conf", true),
        ("*.conf", "a.cfg", false),
        ("*", "", true),
        ("a?c", "abc", true),
        ("[ab]*.conf", "b1.conf", true),
        ("[!ab]*", "a", false),
        ("[a-c]x", "bx", true),
        ("*a*b", "xaxxb", true),
        ("[", "[", true),
        ("**", "anything", true),
    ] {
        assert_eq!(glob_match(p, n), ok, "{p} vs {n}");
    }
    assert_eq!(sniff(fixture!("kubeadm/m1.conf")), Some(Kind::Keepalived));
    assert_eq!(sniff(fixture!("modern/m1.conf")), Some(Kind::Keepalived));
    assert_eq!(sniff(fixture!("kubeadm/haproxy.cfg")), Some(Kind::Haproxy));
    assert_eq!(sniff(fixture!("distros/debian.cfg")), Some(Kind::Haproxy));
    assert_eq!(sniff("vrrp_instance X{\n}"), Some(Kind::Keepalived));
    assert_eq!(sniff("[cluster]\nname = \"x\"\n"), None);
}

#[test]
fn hostile_keepalived_input_is_an_error_or_a_result_never_a_panic() {
    let e = parse_keepalived(&[Source::new("k.conf", "vrrp_instance A {\n}\n}\n")]).unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    let e = parse_keepalived(&[Source::new("k.conf", "global_defs {\n}\nvrrp_instance A {\n priority 1\n")]).unwrap_err();
    assert_eq!(e.line, 3, "the block opened here: {e}");
    assert!(e.message.contains("never closed"));
    let deep = format!("a {}{}", "{".repeat(10_000), "}".repeat(10_000));
    let e = parse_keepalived(&[Source::new("k.conf", deep)]).unwrap_err();
    assert!(e.message.contains("nested more than 16"), "{e}");
    let huge = format!("vrrp_instance {} {{ priority {} }}", "x".repeat(1 << 20), "9".repeat(100_000));
    let c = parse_keepalived(&[Source::new("k.conf", huge)]).unwrap();
    assert_eq!(c.instances[0].priority, 100, "an unreadable number keeps the default");
    for text in [
        "\0\0{\0}\0",
        "\"unterminated\nvrrp_instance A { priority 300 virtual_router_id 0 advert_int -1 }",
        "{}{}{}",
        "}",
        "{",
        "include",
        "vrrp_script",
    ] {
        let _ = parse_keepalived(&[Source::new("k.conf", text)]);
        let _ = includes_of(text);
    }
    let c = ka("k.conf", "vrrp_instance A { priority 300\n virtual_router_id 0\n advert_int -1\n advert_int NaN\n}");
    let i = &c.instances[0];
    assert_eq!((i.priority, i.virtual_router_id, i.advert_int), (100, None, 1.0));
    let e = parse_keepalived(&[Source::new("a", "#".repeat(3 << 20)), Source::new("b", "#".repeat(3 << 20))]).unwrap_err();
    assert!(e.message.contains("bytes in all"), "{e}");
}

// ---- haproxy.cfg ----

#[test]
fn words_quotes_escapes_comments_and_times() {
    assert_eq!(words("  bind *:6443 # the api"), ["bind", "*:6443"]);
    assert_eq!(words(r#"stats realm HAProxy\ Statistics"#), ["stats", "realm", "HAProxy Statistics"]);
    assert_eq!(words(r#"x "a b\"c" 'd\e#f' g#h"#), ["x", "a b\"c", "d\\e#f", "g"]);
    assert_eq!(words(r#"x """#), ["x", ""]);
    assert_eq!(words("\"unterminated"), ["unterminated"]);
    for (t, ms) in [
        ("2000", Some(2000)),
        ("2s", Some(2000)),
        ("1m", Some(60_000)),
        ("100ms", Some(100)),
        ("1h", Some(3_600_000)),
        ("5x", None),
        ("", None),
    ] {
        assert_eq!(time_ms(t), ms, "{t}");
    }
    assert_eq!(time_ms("99999999999999999999d"), None);
    let inet = |h: &str, p| Addr::Inet { host: h.into(), port: p };
    assert_eq!(addr_of("*:6443"), inet("", Some(6443)));
    assert_eq!(addr_of(":::6443"), inet("::", Some(6443)));
    assert_eq!(addr_of("10.0.0.100:8443"), inet("10.0.0.100", Some(8443)));
    assert_eq!(addr_of("ipv4@10.0.0.1:80"), inet("10.0.0.1", Some(80)));
    assert_eq!(addr_of("ipv6@::1:80"), inet("::1", Some(80)));
    assert_eq!(addr_of(":8000-8010"), inet("", Some(8000)));
    assert_eq!(addr_of("/run/haproxy/admin.sock"), Addr::Unix("/run/haproxy/admin.sock".into()));
    assert_eq!(addr_of("unix@/run/h.sock"), Addr::Unix("/run/h.sock".into()));
    assert_eq!(addr_of("abns@stats"), Addr::Abns("stats".into()));
}

#[test]
fn the_kubeadm_guide_haproxy_cfg() {
    let c = hap("haproxy.cfg", fixture!("kubeadm/haproxy.cfg"));
    assert!(c.stats_sockets.is_empty() && c.stats_pages.is_empty());
    let f = &c.frontends[0];
    assert_eq!((f.name.as_str(), f.mode, f.default_backend.as_deref()), ("apiserver", Mode::Tcp, Some("apiserverbackend")));
    assert_eq!(f.binds[0].address, Addr::Inet { host: String::new(), port: Some(8443) });
    assert_eq!(f.binds[0].at.line, 34);
    let b = c.backend("apiserverbackend").unwrap();
    assert_eq!(b.mode, Mode::Tcp, "its own mode over the defaults' http");
    assert_eq!(b.checks.httpchk, Some(("GET".into(), "/healthz".into())));
    assert!(b.checks.http_check_ssl && !b.checks.ssl_hello);
    assert_eq!(b.checks.http_check_expect.as_deref(), Some("status 200"));
    assert_eq!(b.timeouts.get("check"), Some(&10_000), "timeouts from defaults");
    let s = &b.servers[0];
    assert_eq!((s.name.as_str(), s.address.as_str(), s.port), ("m1", "192.168.0.11", Some(6443)));
    assert_eq!((s.check, s.check_ssl, s.verify.as_deref(), s.inter_ms, s.fall, s.rise), (true, false, Some("none"), 2000, 3, 2));
    assert_eq!(c.apiserver_backends(Some(8443)).len(), 1);
    assert_eq!(c.binding(8443)[0].name, "apiserver");
}

#[test]
fn kubekey_default_server_and_distribution_stats_sockets() {
    let c = hap("haproxy.cfg", fixture!("kubekey/haproxy.cfg"));
    let b = c.backend("kube_api_backend").unwrap();
    let s = &b.servers[2];
    assert_eq!((s.inter_ms, s.fall, s.rise, s.weight, s.check, s.check_ssl), (15_000, 2, 2, 100, true, true));
    assert_eq!(
        c.frontends.iter().map(|f| (f.name.as_str(), f.mode)).collect::<Vec<_>>(),
        [("healthz", Mode::Http), ("kube_api_frontend", Mode::Tcp)]
    );
    assert_eq!(c.apiserver_backends(Some(6443))[0].name, "kube_api_backend");
    assert_eq!(c.apiserver_backends(None)[0].name, "kube_api_backend", "its servers are on 6443");

    let d = hap("debian.cfg", fixture!("distros/debian.cfg"));
    let s = &d.stats_sockets[0];
    assert_eq!(
        (s.address.to_string(), s.level.as_str(), s.mode.as_deref(), s.at.line),
        ("/run/haproxy/admin.sock".into(), "admin", Some("660"), 5)
    );
    let r = hap("centos7.cfg", fixture!("distros/centos7.cfg"));
    assert_eq!((r.stats_sockets[0].address.to_string(), r.stats_sockets[0].level.as_str()), ("/var/lib/haproxy/stats".into(), "user"));
    let m = hap("haproxy.cfg", fixture!("modern/haproxy.cfg"));
    let page = &m.stats_pages[0];
    assert_eq!((page.proxy.as_str(), page.uri.as_str(), page.auth), ("stats", "/stats", true));
    assert!(!format!("{m:?}").contains("Stat5Secret"));
    assert_eq!(m.frontends[0].binds[1].address, Addr::Inet { host: "::".into(), port: Some(8443) });
    assert_eq!(
        m.backends.iter().map(|b| (b.name.as_str(), b.kind)).collect::<Vec<_>>(),
        [("k8s-api", ProxyKind::Backend), ("stats", ProxyKind::Listen)]
    );
    let page = hap("p.cfg", "listen s\n bind :9000\n stats enable\n").stats_pages[0].clone();
    assert_eq!((page.uri.as_str(), page.auth), ("/haproxy?stats", false));
}

#[test]
fn defaults_pass_on_mode_checks_and_default_server_and_reset() {
    let text = "defaults\n mode tcp\n option ssl-hello-chk\n default-server inter 3s fall 5 check\n\
        backend a\n server s1 10.0.0.1:6443\n server s2 10.0.0.2:6443 inter 1s no-check\n\
        defaults named\n mode http\n option httpchk /healthz\n\
        backend b\n server s 10.0.0.3:80\n\
        backend c from named\n no option httpchk\n\
        listen d\n bind ipv4@0.0.0.0:16443,:::16443 ssl crt /x.pem\n server s 10.0.0.4:6443 check backup disabled weight 7\n\
        userlist admins\n user admin password $6$secret\n";
    let c = hap("h.cfg", text);
    let a = c.backend("a").unwrap();
    assert_eq!((a.mode, a.checks.ssl_hello), (Mode::Tcp, true));
    let (s1, s2) = (&a.servers[0], &a.servers[1]);
    assert_eq!((s1.inter_ms, s1.fall, s1.check), (3000, 5, true));
    assert_eq!((s2.inter_ms, s2.fall, s2.check), (1000, 5, false));
    let b = c.backend("b").unwrap();
    assert_eq!((b.mode, b.checks.ssl_hello, b.servers[0].inter_ms), (Mode::Http, false, 2000), "a new defaults section starts afresh");
    assert_eq!(b.checks.httpchk, Some(("OPTIONS".into(), "/healthz".into())));
    assert_eq!(c.backend("c").unwrap().checks.httpchk, None);
    let d = c.backend("d").unwrap();
    assert_eq!((d.servers[0].backup, d.servers[0].disabled, d.servers[0].weight), (true, true, 7));
    let fd = c.frontends.iter().find(|f| f.name == "d").unwrap();
    assert_eq!(fd.binds.len(), 2);
    assert!(fd.binds.iter().all(|b| b.ssl && b.address.port() == Some(16443)));
    assert_eq!(fd.targets(), ["d"]);
    assert_eq!(c.skipped, 1, "the userlist's line");
    assert!(!format!("{c:?}").contains("secret"));
}

#[test]
fn several_files_in_haproxy_order() {
    assert_eq!(config_dir_order(&["b.cfg".into(), "a.cfg".into(), "c.conf".into(), ".x.cfg".into()]), ["a.cfg", "b.cfg"]);
    let c = parse_haproxy(&[
        Source::new("/etc/haproxy/haproxy.cfg", "global\n stats socket ipv4@127.0.0.1:9999 level operator\ndefaults\n mode tcp\n"),
        Source::new("/etc/haproxy/conf.d/10-api.cfg", "  server orphan 1.2.3.4:1\nfrontend f\n bind :6443\n use_backend b if x\n"),
        Source::new("/etc/haproxy/conf.d/20-b.cfg", "backend b\n server m1 10.0.0.1:6443 check\n"),
    ])
    .unwrap();
    assert_eq!(c.stats_sockets[0].address, Addr::Inet { host: "127.0.0.1".into(), port: Some(9999) });
    assert_eq!(c.stats_sockets[0].level, "operator");
    assert_eq!(c.skipped, 1, "a line before any section");
    assert_eq!(c.frontends[0].use_backends, ["b"]);
    assert_eq!(c.backends[0].servers[0].at, Pos::new("/etc/haproxy/conf.d/20-b.cfg", 2));
    assert_eq!(c.backends[0].mode, Mode::Tcp, "defaults carry across files");
}

#[test]
fn hostile_haproxy_input_never_panics() {
    for text in [
        "\0global\0\n\0stats socket\n",
        "backend\nserver\nserver x\nserver x :\nserver x 1.2.3.4:99999 inter 99999999999999999999d fall -1\n",
        "frontend f\nbind\nbind ,,,\nbind [::]:\nstats\ndefault_backend\n",
        "defaults from\nbackend b from nowhere\noption httpchk\nno\nno option\nhttp-check send meth\n",
        "\\",
        "\"",
    ] {
        let c = parse_haproxy(&[Source::new("h.cfg", text)]).unwrap();
        let _ = lint_haproxy(&c, "h.cfg", &HaproxyLintOptions { on_master: true, vip_port: Some(6443) });
    }
    let long = format!("backend b\n server s {}:6443 check {}\n", "a".repeat(1 << 20), "x ".repeat(100_000));
    assert_eq!(hap("h.cfg", &long).backends[0].servers.len(), 1);
}

// ---- lint ----

#[test]
fn the_tutorial_set_is_flagged() {
    let l = lint_keepalived(&tutorial());
    let found = codes(&l);
    for c in ["equal-priority", "all-state-master", "slow-check", "auth-pass", "preempt-without-delay"] {
        assert!(found.contains(c), "{c} missing from {l:#?}");
    }
    let slow = l.iter().find(|l| l.code == "slow-check").unwrap();
    assert_eq!(slow.message, "chk_haproxy: 3 s x fall 10 = 30 s before keepalived reacts");
    assert_eq!(slow.at, Some(Pos::new("m1.conf", 6)));
    let eq = l.iter().find(|l| l.code == "equal-priority").unwrap();
    assert_eq!(eq.level, Level::Warn);
    assert!(
        eq.message.contains("m1, m2 and m3 all have priority 100: who holds the VIP depends on who was MASTER first (a BACKUP does not preempt at equal priority); the highest primary address wins only when they contend at once (m3, 10.0.0.13)"),
        "{}",
        eq.message
    );
    assert!(!found.contains("weight-too-small") && !found.contains("no-local-check"));
    assert!(l.iter().all(|l| !l.message.contains("Tut0rial")));

    let h = lint_haproxy(&hap("haproxy.cfg", fixture!("tutorial/haproxy.cfg")), "haproxy.cfg", &HaproxyLintOptions::default());
    assert_eq!(codes(&h), ["down-detection", "no-stats", "server-without-check", "ssl-hello-with-check-ssl"].into());
    let down = h.iter().find(|l| l.code == "down-detection").unwrap();
    assert_eq!(
        (down.level, down.message.as_str()),
        (Level::Warn, "k8s-api: inter 5 s x fall 5 = 25 s before a dead apiserver is taken out")
    );
    let ssl = h.iter().find(|l| l.code == "ssl-hello-with-check-ssl").unwrap();
    assert_eq!((ssl.level, ssl.at.as_ref().map(|p| p.line)), (Level::Critical, Some(21)));
    assert!(ssl.message.contains("m1 and m2 will be DOWN (L6RSP)"), "{}", ssl.message);
    let none = h.iter().find(|l| l.code == "no-stats").unwrap();
    assert!(none.message.ends_with("add to `global`: stats socket /run/haproxy/admin.sock mode 660 level admin"), "{}", none.message);
    assert!(h.iter().find(|l| l.code == "server-without-check").unwrap().message.contains("server m3 (10.0.0.13:6443)"));
}

#[test]
fn the_clean_sets_have_no_warning() {
    let peers = set("modern", [fixture!("modern/m1.conf"), fixture!("modern/m2.conf"), fixture!("modern/m3.conf")]);
    let l = lint_keepalived(&peers);
    assert!(l.is_empty(), "{l:#?}");
    // the same with `state MASTER` on m1: keepalived 2 clears its preempt_delay
    let mut master = peers.clone();
    master[0] = peer("m1", &fixture!("modern/m1.conf").replace("state BACKUP", "state MASTER"), "10.0.0.11");
    let l = lint_keepalived(&master);
    assert_eq!(
        l.iter().map(|l| (l.code, l.level, l.subject.as_str())).collect::<Vec<_>>(),
        [("preempt-without-delay", Level::Warn, "m1")],
        "{l:#?}"
    );
    assert!(l[0].message.contains("(its preempt_delay is cleared by keepalived with state MASTER)"), "{}", l[0].message);
    let h = lint_haproxy(
        &hap("haproxy.cfg", fixture!("modern/haproxy.cfg")),
        "h",
        &HaproxyLintOptions { on_master: true, vip_port: Some(8443) },
    );
    assert_eq!(h.iter().map(|l| (l.code, l.level)).collect::<Vec<_>>(), [("down-detection", Level::Info)], "{h:#?}");
    // the kubeadm guide: a slow check, no stats; nothing critical
    let k = set("kubeadm", [fixture!("kubeadm/m1.conf"), fixture!("kubeadm/m2.conf"), fixture!("kubeadm/m3.conf")]);
    let l = lint_keepalived(&k);
    assert!(l.iter().all(|l| l.level < Level::Critical), "{l:#?}");
    let eq = l.iter().find(|l| l.code == "equal-priority").unwrap();
    assert_eq!(eq.level, Level::Info, "m2 and m3 tie below m1: {eq:?}");
    let h = lint_haproxy(&hap("haproxy.cfg", fixture!("kubeadm/haproxy.cfg")), "h", &HaproxyLintOptions::default());
    assert_eq!(codes(&h), ["down-detection", "no-stats"].into());
}

fn inst(prio: u8, extra: &str) -> String {
    format!(
        "vrrp_script check_haproxy {{\n script \"killall -0 haproxy\"\n interval 3\n fall 10\n weight -2\n}}\n\
         vrrp_instance VI_1 {{\n state BACKUP\n virtual_router_id 51\n priority {prio}\n virtual_ipaddress {{\n 10.0.0.100/24\n }}\n\
         track_script {{\n check_haproxy\n }}\n{extra}\n}}\n"
    )
}

#[test]
fn each_lint_code_on_one_flawed_input() {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut see = |l: Vec<Lint>, code: &str| {
        assert!(l.iter().any(|x| x.code == code), "{code} not in {l:#?}");
        seen.extend(l.iter().map(|x| x.code));
    };
    see(lint_keepalived(&tutorial()), "all-state-master");
    see(lint_keepalived(&tutorial()), "equal-priority");
    see(lint_keepalived(&tutorial()), "auth-pass");
    see(lint_keepalived(&tutorial()), "slow-check");
    see(lint_keepalived(&tutorial()), "preempt-without-delay");
    let weak = vec![peer("m1", &inst(100, ""), "10.0.0.11"), peer("m2", &inst(97, ""), "10.0.0.12")];
    let l = lint_keepalived(&weak);
    let w = l.iter().find(|l| l.code == "weight-too-small").unwrap();
    assert_eq!(w.message, "VI_1: weight -2 keeps m1 at 98, above m2 (97), not below: the VIP will NOT move when check_haproxy fails");
    assert_eq!(w.level, Level::Critical);
    see(l, "weight-too-small");
    see(lint_keepalived(&[peer("m1", "vrrp_instance VI_1 {\n}\n", "")]), "no-local-check");
    let l = lint_keepalived(&[peer("m1", "vrrp_instance VI_1 {\n track_script {\n  chk_ok\n  chk_gone\n }\n}\n", "")]);
    let gone = l.iter().find(|l| l.code == "undefined-check" && l.message.contains("chk_gone")).unwrap_or_else(|| panic!("{l:#?}"));
    assert_eq!(gone.at.as_ref().map(|p| p.line), Some(4), "where it is named, not the instance: {gone:?}");
    see(l, "undefined-check");
    see(lint_keepalived(&[peer("m1", "vrrp_instance VI_1 {\n track_script { chk_gone }\n}\n", "")]), "undefined-check");
    let mut p = peer("m1", &inst(100, ""), "");
    p.commands = Some(["curl".to_string(), "pidof".to_string()].into());
    let l = lint_keepalived(&[p]);
    assert!(
        l.iter().any(|l| l.message == "check_haproxy: `killall` is not installed on m1 (it comes with psmisc): the check always fails"),
        "{l:#?}"
    );
    see(l, "missing-check-tool");
    let mut a = peer("m1", &inst(100, ""), "10.0.0.11");
    let mut b = peer("m2", &inst(90, ""), "10.0.1.12");
    (a.prefix, b.prefix) = (Some(24), Some(24));
    let l = lint_keepalived(&[a.clone(), b.clone()]);
    assert!(l.iter().any(|l| l.message.contains("m1 in 10.0.0.0/24, m2 in 10.0.1.0/24")), "{l:#?}");
    see(l, "multicast-across-subnets");
    b.conf = ka("m2.conf", &inst(90, " unicast_peer {\n 10.0.0.11\n }"));
    assert!(!codes(&lint_keepalived(&[a, b])).contains("multicast-across-subnets"), "unicast crosses subnets");
    let other = inst(90, "").replace("virtual_router_id 51", "virtual_router_id 52").replace("10.0.0.100/24", "10.0.0.101/24");
    let l = lint_keepalived(&[peer("m1", &inst(100, " authentication {\n auth_type PASS\n auth_pass x\n }"), ""), peer("m2", &other, "")]);
    see(l.clone(), "router-id-mismatch");
    see(l.clone(), "vip-mismatch");
    see(l, "auth-mismatch");
    see(lint_keepalived(&[peer("m1", &inst(100, ""), ""), peer("m2", "vrrp_instance OTHER {\n}\n", "")]), "instance-missing");
    let opts = HaproxyLintOptions::default();
    let tut = hap("haproxy.cfg", fixture!("tutorial/haproxy.cfg"));
    for code in ["ssl-hello-with-check-ssl", "down-detection", "no-stats", "server-without-check"] {
        see(lint_haproxy(&tut, "haproxy.cfg", &opts), code);
    }
    let kk = hap("haproxy.cfg", fixture!("kubekey/haproxy.cfg"));
    assert!(!codes(&lint_haproxy(&kk, "h", &opts)).contains("apiserver-port-conflict"), "a worker's local balancer may use 6443");
    let l = lint_haproxy(&kk, "h", &HaproxyLintOptions { on_master: true, vip_port: None });
    assert!(l.iter().any(|l| l.message.contains("kube_api_frontend: binds 127.0.0.1:6443 on a master")), "{l:#?}");
    see(l, "apiserver-port-conflict");
    see(lint_keepalived(&[peer("m1", &inst(100, " advert_int 0"), "")]), "invalid-value");
    see(lint_keepalived(&three([100, 99, 90], ["", " nopreempt", ""])), "nopreempt-blocks-failover");
    let all: BTreeSet<&str> = CODES.iter().map(|c| c.0).collect();
    assert_eq!(seen, all, "every code has a flawed input, and none is produced without being listed");
}

// ---- predict ----

fn three(prios: [u8; 3], extra: [&str; 3]) -> Vec<Peer> {
    (0..3).map(|i| peer(&format!("m{}", i + 1), &inst(prios[i], extra[i]), &format!("10.0.0.1{}", i + 1))).collect()
}

#[test]
fn haproxy_dead_on_the_holder_moves_the_vip_to_the_highest_address() {
    let peers = three([100, 100, 100], ["", "", ""]);
    assert_eq!(config_holder(&peers, "VI_1").as_deref(), Some("m3"), "ties go to the highest address");
    let p = predict_instance(&peers, "VI_1", Some("m1"), &Event::HaproxyDead("m1".into())).unwrap();
    assert_eq!(
        p.text,
        "haproxy dead on m1, which holds the VIP: clients through the VIP fail now; keepalived on m1 lowers its priority 100 -> 98 in ~30 s (check_haproxy: 3 s x fall 10); then m2 or m3 (100 each) race for the VIP: whichever preempts first keeps it, the higher address (m3) if they act at once"
    );
    // 30 s to lower m1, then m3's master-down timer: 3 adverts + skew (256 - 100) / 256
    assert_eq!((p.holder_after.as_deref(), p.moves, p.within_s), (Some("m3"), true, 30.0 + 3.0 + 156.0 / 256.0));
    assert_eq!(p.candidates, ["m2", "m3"], "a race between the tied backups");
    assert_eq!(p.priorities[0], predict::PeerPriority { host: "m1".into(), before: Some(100), after: Some(98) });
    assert_eq!(p.priorities[2].after, Some(100));
}

#[test]
fn a_weight_too_small_keeps_the_vip_where_it_is() {
    let peers = three([100, 97, 96], ["", "", ""]);
    let p = predict_instance(&peers, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert_eq!(
        p.text,
        "haproxy dead on m1, which holds the VIP: clients through the VIP fail now; keepalived on m1 lowers its priority 100 -> 98 in ~30 s (check_haproxy: 3 s x fall 10); the VIP will NOT move: weight -2 keeps m1 at 98 above m2 (97)"
    );
    assert!(!p.moves);
    assert_eq!(p.holder_after.as_deref(), Some("m1"));
    let eq = predict_instance(&three([100, 98, 1], ["", "", ""]), "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert!(eq.text.ends_with("keeps m1 at 98 equal to m2 (98)"), "{}", eq.text);
}

#[test]
fn positive_weights_zero_weights_nopreempt_and_preempt_delay() {
    // a positive weight is a bonus while the check succeeds: losing it is what moves the VIP
    let plus = |p: u8| inst(p, "").replace("weight -2", "weight 5");
    let peers = vec![peer("m1", &plus(100), "10.0.0.11"), peer("m2", &plus(99), "10.0.0.12")];
    let p = predict_instance(&peers, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert_eq!(p.priorities[0], predict::PeerPriority { host: "m1".into(), before: Some(105), after: Some(100) });
    assert_eq!(p.holder_after.as_deref(), Some("m2"), "{}", p.text);
    // weight 0: the instance goes to FAULT and the peers take over as if it had stopped
    let zero = |p: u8| inst(p, "").replace("weight -2", "weight 0");
    let peers = vec![peer("m1", &zero(200), "10.0.0.11"), peer("m2", &zero(100), "10.0.0.12")];
    let p = predict_instance(&peers, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert!(p.text.contains("puts VI_1 in FAULT in ~30 s") && p.text.contains("m2 (100) then takes the VIP"), "{}", p.text);
    assert_eq!(p.priorities[0].after, None);
    assert!((p.within_s - (30.0 + 3.0 + 156.0 / 256.0)).abs() < 1e-9);
    // nopreempt on the only higher peer
    let peers = three([100, 99, 90], ["", " nopreempt", ""]);
    let p = predict_instance(&peers, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert!(p.text.ends_with("the VIP will NOT move: m2 (99) has nopreempt"), "{}", p.text);
    // preempt_delay adds to the time
    let peers = three([100, 99, 90], ["", " preempt_delay 60", ""]);
    let p = predict_instance(&peers, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert!(p.text.ends_with("m2 (99) then takes the VIP after its preempt_delay of 60 s"), "{}", p.text);
    assert!((p.within_s - (30.0 + 3.0 + 157.0 / 256.0 + 60.0)).abs() < 1e-9, "{}", p.within_s);
    // the address owner is never adjusted
    let peers = three([255, 254, 1], ["", "", ""]);
    let p = predict_instance(&peers, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert_eq!(p.priorities[0].after, Some(255));
    assert!(!p.moves);
}

#[test]
fn keepalived_stopped_and_hosts_down() {
    let peers = three([100, 100, 100], ["", "", ""]);
    let p = predict_instance(&peers, "VI_1", Some("m1"), &Event::KeepalivedStopped("m1".into())).unwrap();
    assert_eq!(
        p.text,
        "keepalived stopped on m1, which holds the VIP: it gives up the VIP; the peers notice within 3 x 1 s + skew 0.61 s = 3.61 s; m3 (100, highest address) then takes the VIP"
    );
    assert_eq!((p.holder_after.as_deref(), p.within_s), (Some("m3"), 3.0 + 156.0 / 256.0));
    assert_eq!(p.priorities[0].after, None);
    let p = predict_instance(&peers, "VI_1", Some("m1"), &Event::HostDown("m2".into())).unwrap();
    assert_eq!(p.text, "m2 down, which does not hold the VIP (m1 does): the VIP stays on m1");
    assert!(!p.moves);
    let p = predict_instance(&peers, "VI_1", Some("m3"), &Event::HostDown("m3".into())).unwrap();
    assert!(p.text.starts_with("m3 down, which holds the VIP: clients through the VIP fail until a peer takes over;"), "{}", p.text);
    assert_eq!(p.holder_after.as_deref(), Some("m2"));
    let fast = three([150, 100, 50], [" advert_int 0.5", " advert_int 0.5", ""]);
    let p = predict_instance(&fast, "VI_1", None, &Event::HostDown("m1".into())).unwrap();
    assert_eq!(p.within_s, 1.5 + 156.0 / 256.0 * 0.5);
    let lonely = vec![peer("m1", &inst(100, ""), "")];
    let p = predict_instance(&lonely, "VI_1", None, &Event::HostDown("m1".into())).unwrap();
    assert_eq!((p.holder_after, p.moves), (None, true));
}

#[test]
fn apiserver_checks_and_peers_without_a_check() {
    let k = set("kubeadm", [fixture!("kubeadm/m1.conf"), fixture!("kubeadm/m2.conf"), fixture!("kubeadm/m3.conf")]);
    let p = predict_instance(&k, "VI_1", None, &Event::ApiserverDead("m1".into())).unwrap();
    assert!(
        p.text.contains(
            "lowers its priority 101 -> 99 in ~30 s (check_apiserver: 3 s x fall 10); then m2 or m3 (100 each) race for the VIP: whichever preempts first keeps it, the higher address (m3) if they act at once"
        ),
        "{}",
        p.text
    );
    let p = predict_instance(&k, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert!(
        p.text.ends_with("no check on m1 names haproxy: keepalived reacts only if check_apiserver reaches the apiserver through haproxy's port (as kubeadm's check_apiserver.sh does), else the VIP stays on m1"),
        "{}",
        p.text
    );
    let bare = vec![peer("m1", "vrrp_instance VI_1 {\n}\n", ""), peer("m2", "vrrp_instance VI_1 {\n priority 50\n}\n", "")];
    let p = predict_instance(&bare, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert!(p.text.ends_with("no check on m1 looks at haproxy: keepalived never reacts, the VIP stays on m1"), "{}", p.text);
    // a tie between peers whose addresses are unknown names them all
    let unknown: Vec<Peer> = ["m1", "m2", "m3"].iter().map(|h| peer(h, &inst(100, ""), "")).collect();
    let p = predict_instance(&unknown, "VI_1", Some("m1"), &Event::HaproxyDead("m1".into())).unwrap();
    assert!(p.text.ends_with("then m2 or m3 (100 each) race for the VIP: whichever preempts first keeps it"), "{}", p.text);
    let p = predict_instance(&k, "VI_1", None, &Event::ApiserverDead("m2".into())).unwrap();
    assert_eq!(
        p.text,
        "apiserver dead on m2, which does not hold the VIP (m1 does): clients through the VIP are unaffected; keepalived on m2 lowers its priority 100 -> 98 in ~30 s (check_apiserver: 3 s x fall 10); the VIP stays on m1"
    );
    assert!(predict_instance(&k, "NOPE", None, &Event::HostDown("m1".into())).is_none());
    assert_eq!(predict(&k, None, &Event::HostDown("m9".into()))[0].text, "m9 has no instance VI_1: the VIP stays on m1");
}

#[test]
fn a_check_through_the_local_haproxy_fails_with_haproxy_not_with_one_apiserver() {
    // the kubeadm guide's check_apiserver.sh, read on each host: it curls haproxy's own port
    let mut k = set("kubeadm", [fixture!("kubeadm/m1.conf"), fixture!("kubeadm/m2.conf"), fixture!("kubeadm/m3.conf")]);
    for p in &mut k {
        p.haproxy_ports = vec![8081, 16443];
        p.check_targets.insert("/etc/keepalived/check_apiserver.sh".into(), vec!["https://localhost:16443".into()]);
    }
    let p = predict_instance(&k, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert!(
        p.text.contains(
            "lowers its priority 101 -> 99 in ~30 s (check_apiserver: 3 s x fall 10); then m2 or m3 (100 each) race for the VIP: whichever preempts first keeps it, the higher address (m3) if they act at once"
        ),
        "{}",
        p.text
    );
    assert_eq!((p.holder_after.as_deref(), p.moves), (Some("m3"), true));
    // one apiserver gone: haproxy still answers the check through the others
    let p = predict_instance(&k, "VI_1", None, &Event::ApiserverDead("m1".into())).unwrap();
    assert!(!p.moves, "{}", p.text);
    // the port of another service, or another host's address, is not the local haproxy
    for target in ["https://localhost:6443", "https://10.9.9.9:16443"] {
        for p in &mut k {
            p.check_targets.insert("/etc/keepalived/check_apiserver.sh".into(), vec![target.into()]);
        }
        let p = predict_instance(&k, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
        assert!(!p.moves, "{target}: {}", p.text);
    }
}

#[test]
fn targets_of_check_command_lines() {
    use crate::hacfg::predict::targets_in;
    let t = |s: &str| targets_in(s).into_iter().map(|(h, p)| format!("{h}:{p}")).collect::<Vec<_>>();
    assert_eq!(t("curl -sfk --max-time 2 https://localhost:16443/healthz -o /dev/null"), ["localhost:16443"]);
    assert_eq!(t("/usr/bin/nc -z 127.0.0.1 8443"), ["127.0.0.1:8443"]);
    assert_eq!(t("nc -z -w 2 127.0.0.1 8443 || exit 1"), ["127.0.0.1:8443"]);
    assert_eq!(t("wget -q -O- http://user:1234@[::1]:9000/x"), ["::1:9000"]);
    assert_eq!(t("killall -0 haproxy"), Vec::<String>::new());
    assert_eq!(t("curl https://10.0.0.100:6443/ --connect-timeout 1"), ["10.0.0.100:6443"]);
}

// ---- includes inside blocks, values out of range, ties nobody can break ----

fn nested_files() -> Vec<Source> {
    let dir = "tests/fixtures/hacfg/nested";
    let mut resolve = |p: &str| -> Result<Vec<Source>, String> {
        Ok(match p {
            "tests/fixtures/hacfg/nested/conf.d/checks.conf" => vec![Source::new(p, fixture!("nested/conf.d/checks.conf"))],
            "tests/fixtures/hacfg/nested/conf.d/this-host.conf" => vec![Source::new(p, fixture!("nested/conf.d/this-host.conf"))],
            _ => vec![],
        })
    };
    load_keepalived(Source::new(format!("{dir}/keepalived.conf"), fixture!("nested/keepalived.conf")), &mut resolve).unwrap()
}

#[test]
fn an_include_inside_a_block_is_read_where_it_stands() {
    let text = fixture!("nested/keepalived.conf");
    assert_eq!(includes_of(text), ["conf.d/checks.conf", "conf.d/this-host.conf"], "inside the block too");
    let files = nested_files();
    let names: Vec<&str> = files.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tests/fixtures/hacfg/nested/keepalived.conf",
            "tests/fixtures/hacfg/nested/conf.d/checks.conf",
            "tests/fixtures/hacfg/nested/conf.d/this-host.conf"
        ]
    );
    let c = parse_keepalived(&files).unwrap();
    let i = c.instance("VI_1").unwrap();
    // the included lines belong to the instance, not to the top of a file of their own
    assert_eq!((i.state, i.priority, i.advert_int, i.preempt_delay), (Some(VrrpState::Backup), 150, 1.0, Some(30.0)));
    assert_eq!(c.script("chk_haproxy").unwrap().weight, -60);
    assert_eq!(c.skipped, 0, "nothing of the included file was taken for an unknown top-level word");
    assert!(c.invalid.is_empty(), "{:?}", c.invalid);
    // an include inside a block, with its value out of range: the place named is the included file's line
    let files = [
        Source::new("/etc/keepalived/keepalived.conf", "vrrp_instance VI_1 {\n  virtual_router_id 51\n  include prio.conf\n}\n"),
        Source::new("/etc/keepalived/prio.conf", "\n  priority 300\n"),
    ];
    let c = parse_keepalived(&files).unwrap();
    assert_eq!(c.instance("VI_1").unwrap().priority, 100);
    assert_eq!(c.invalid[0].at, Pos::new("/etc/keepalived/prio.conf", 2));
    // a file the include does not name stays a file of its own (several files given without includes)
    let c = parse_keepalived(&[Source::new("a.conf", "vrrp_instance A {\n include x.conf\n}\n"), Source::new("b.conf", "priority 7\n")])
        .unwrap();
    assert_eq!((c.instance("A").unwrap().priority, c.skipped), (100, 1));
    // the lab's files over SSH come in the same order from the host's script: the same parse
    let h = crate::probe::haconfig::parse_ha_files(&format!(
        "@@kockpit-file keepalived /etc/keepalived/keepalived.conf\n{}\n@@kockpit-file keepalived /etc/keepalived/conf.d/checks.conf\n{}\n@@kockpit-file keepalived /etc/keepalived/conf.d/this-host.conf\n{}\n",
        fixture!("nested/keepalived.conf"),
        fixture!("nested/conf.d/checks.conf"),
        fixture!("nested/conf.d/this-host.conf")
    ));
    let v = crate::probe::haconfig::view_of(h);
    assert_eq!(v.keepalived.unwrap().instance("VI_1").unwrap().priority, 150, "{:?}", v.problems);
}

#[test]
fn values_out_of_range_are_named_with_their_place_and_what_the_daemon_does() {
    let c = ka("invalid/keepalived.conf", fixture!("invalid/keepalived.conf"));
    let got: Vec<(usize, &str, &str)> = c.invalid.iter().map(|b| (b.at.line, b.keyword.as_str(), b.value.as_str())).collect();
    assert_eq!(
        got,
        [
            (4, "interval", "0"),
            (5, "fall", "0"),
            (6, "rise", "-1"),
            (7, "weight", "300"),
            (13, "virtual_router_id", "256"),
            (14, "priority", "300"),
            (15, "advert_int", "0"),
            (20, "chk_haproxy", "-254"),
        ]
    );
    // what keepalived runs with instead
    let i = c.instance("VI_1").unwrap();
    assert_eq!((i.priority, i.virtual_router_id, i.advert_int), (100, None, 1.0));
    let s = c.script("chk_haproxy").unwrap();
    assert_eq!((s.interval, s.fall, s.rise, s.weight), (1.0, 1, 1, 253));
    let l = lint_keepalived(&[Peer::new("lb1", c)]);
    let bad: Vec<&Lint> = l.iter().filter(|l| l.code == "invalid-value").collect();
    assert_eq!(bad.len(), 8, "{l:#?}");
    let prio = bad.iter().find(|l| l.message.starts_with("priority")).unwrap();
    assert_eq!(prio.message, "priority 300 is outside 1..255: keepalived ignores it and uses the default 100");
    assert_eq!((prio.level, prio.at.as_ref().unwrap().to_string()), (Level::Warn, "invalid/keepalived.conf:14".to_string()));
    let vrid = bad.iter().find(|l| l.message.starts_with("virtual_router_id")).unwrap();
    assert_eq!(vrid.level, Level::Critical, "keepalived does not start the instance: {vrid:?}");
    assert!(bad.iter().any(|l| l.message == "advert_int 0 must be above 0 seconds: keepalived ignores it and advertises every 1 s"));
    assert!(bad.iter().any(|l| l.message.starts_with("weight 300 is outside -253..253")));
    assert!(bad.iter().any(|l| l.message == "fall 0 must be a whole number of at least 1: keepalived uses 1"));
    assert_eq!(
        ka("p.conf", "vrrp_instance V {\n priority high\n}\n").invalid[0].effect,
        "is not a whole number in 1..255: keepalived ignores it and uses the default 100"
    );

    let h = hap("invalid/haproxy.cfg", fixture!("invalid/haproxy.cfg"));
    let got: Vec<(usize, &str, &str)> = h.invalid.iter().map(|b| (b.at.line, b.keyword.as_str(), b.value.as_str())).collect();
    assert_eq!(got, [(6, "inter", "0"), (14, "fall", "0"), (15, "rise", "x"), (16, "inter", "-1s")]);
    let l = lint_haproxy(&h, "invalid/haproxy.cfg", &HaproxyLintOptions::default());
    let bad: Vec<&Lint> = l.iter().filter(|l| l.code == "invalid-value").collect();
    assert_eq!(bad.len(), 4, "{l:#?}");
    assert!(bad.iter().all(|l| l.level == Level::Critical), "haproxy does not load such a configuration: {bad:#?}");
    assert_eq!(bad[0].message, "inter 0 must be a positive time (2s, 500ms): haproxy refuses the line and does not load the configuration");
    assert_eq!(bad[0].at.as_ref().unwrap().to_string(), "invalid/haproxy.cfg:6");
    // a configuration haproxy does not load detects nothing: no down-detection time is claimed
    assert!(!l.iter().any(|l| l.code == "down-detection"), "{l:#?}");
}

#[test]
fn a_tie_between_unknown_addresses_names_no_holder() {
    let mut peers = three([100, 100, 90], ["", "", ""]);
    for p in &mut peers {
        p.address = None;
    }
    assert_eq!(config_holder(&peers, "VI_1"), None, "m1 or m2: the configuration alone does not say");
    let tie = predict::unresolved_tie(&peers, "VI_1").unwrap();
    assert_eq!((tie.hosts.clone(), tie.priority), (vec!["m1".to_string(), "m2".to_string()], 100));
    let p = predict_instance(&peers, "VI_1", None, &Event::HaproxyDead("m2".into())).unwrap();
    assert_eq!(
        p.text,
        "m1 and m2 share the top priority 100 of VI_1: keepalived gives the VIP to the one with the highest primary address; without the addresses, which one holds it (and what haproxy's death there does) cannot be told"
    );
    assert_eq!((p.holder_before, p.holder_after, p.moves), (None, None, false));
    // told who holds it (the live model), the prediction goes on as usual
    let p = predict_instance(&peers, "VI_1", Some("m2"), &Event::HaproxyDead("m2".into())).unwrap();
    assert!(p.text.starts_with("haproxy dead on m2, which holds the VIP"), "{}", p.text);
    // one address known is not enough; both known break the tie
    peers[0].address = "10.0.0.11".parse().ok();
    assert!(predict::unresolved_tie(&peers, "VI_1").is_some());
    peers[1].address = "10.0.0.12".parse().ok();
    assert_eq!((predict::unresolved_tie(&peers, "VI_1"), config_holder(&peers, "VI_1").as_deref()), (None, Some("m2")));
    // below the top a tie does not matter to who holds the VIP
    let mut low = three([100, 90, 90], ["", "", ""]);
    for p in &mut low {
        p.address = None;
    }
    assert_eq!((predict::unresolved_tie(&low, "VI_1"), config_holder(&low, "VI_1").as_deref()), (None, Some("m1")));
}

#[test]
fn a_track_file_takes_its_weight_from_its_own_block() {
    // keepalived 2.1's form: the block at the top, the instance naming it (the lab's LBs; a graceful
    // demotion writes 1 to the file); and 2.0's `vrrp_track_file`, the instance's own weight winning
    let c = ka(
        "lb1.conf",
        "track_file kockpit_demote {\n    file \"/etc/keepalived/kockpit-demote\"\n    weight -100\n}\n\
         vrrp_track_file old_style {\n    file /run/old\n    weight 20 reverse\n}\n\
         vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority 150\n\
         \x20   virtual_ipaddress {\n        10.0.0.100\n    }\n    track_file {\n        kockpit_demote\n        old_style weight -5\n        nowhere\n    }\n}\n",
    );
    assert_eq!(c.skipped, 0, "{c:?}");
    let f = c.tracked_file("kockpit_demote").unwrap();
    assert_eq!(
        (f.file.as_str(), f.weight, f.reverse, f.at.to_string().as_str()),
        ("/etc/keepalived/kockpit-demote", -100, false, "lb1.conf:1")
    );
    let old = c.tracked_file("old_style").unwrap();
    assert_eq!((old.file.as_str(), old.weight, old.reverse), ("/run/old", 20, true));
    let checks = predict::checks_of(&c, c.instance("VI_1").unwrap());
    let by_name = |n: &str| checks.iter().find(|k| k.name == n).unwrap();
    assert_eq!((by_name("kockpit_demote").weight, by_name("kockpit_demote").defined), (-100, true));
    assert_eq!(by_name("kockpit_demote").text, "/etc/keepalived/kockpit-demote");
    assert_eq!((by_name("old_style").weight, by_name("old_style").reverse), (-5, true), "the instance's weight overrides");
    assert!(!by_name("nowhere").defined, "a track_file no block defines");
}

#[test]
fn nopreempt_on_every_peer_above_the_lowered_holder_keeps_the_vip_where_haproxy_died() {
    // m1 (100) drops to 98 on a failed check; m2 (99) and m3 (99) are above it but hold back
    let peers = three([100, 99, 99], ["", " nopreempt", " nopreempt"]);
    let l = lint_keepalived(&peers);
    let n = l.iter().find(|l| l.code == "nopreempt-blocks-failover").unwrap_or_else(|| panic!("{l:#?}"));
    assert_eq!(n.level, Level::Critical);
    assert!(n.message.contains("m1 drops to 98, below m2 (99) and m3 (99), but they have nopreempt"), "{}", n.message);
    // one that preempts is enough
    let peers = three([100, 99, 99], ["", " nopreempt", ""]);
    assert!(!lint_keepalived(&peers).iter().any(|l| l.code == "nopreempt-blocks-failover"));
    // keepalived clears nopreempt on an instance whose state is MASTER: that peer preempts
    let master = |p: u8| inst(p, " nopreempt").replace("state BACKUP", "state MASTER");
    let peers = vec![peer("m1", &inst(100, ""), "10.0.0.11"), peer("m2", &master(99), "10.0.0.12")];
    assert!(!lint_keepalived(&peers).iter().any(|l| l.code == "nopreempt-blocks-failover"), "{:#?}", lint_keepalived(&peers));
    let p = predict_instance(&peers, "VI_1", None, &Event::HaproxyDead("m1".into())).unwrap();
    assert_eq!((p.holder_after.as_deref(), p.moves), (Some("m2"), true), "{}", p.text);
}
