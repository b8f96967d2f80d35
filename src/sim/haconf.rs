//! The demo's HA configuration: the keepalived.conf and haproxy.cfg each simulated LB would have,
//! read as the live probe reads the hosts' files (secrets already cut), so the zoomed panels, the
//! lint and the failover prediction have something true to the simulated world to work with.

use crate::hacfg::{Source, parse_haproxy, parse_keepalived};
use crate::inventory::Plan;
use crate::model::HaConfigView;

pub(super) const KEEPALIVED_CONF: &str = "/etc/keepalived/keepalived.conf";
pub(super) const HAPROXY_CFG: &str = "/etc/haproxy/haproxy.cfg";

/// keepalived.conf of LB `lb` (priority `priority`; the first LB starts as MASTER): the simulated
/// world's own rules, haproxy's death costs 60, the plan's track_file demotes by 100.
fn keepalived_conf(plan: &Plan, lb: &str, first: bool, priority: u32) -> String {
    let addr = |h: &str| plan.host(h).map(|h| h.address.to_string()).unwrap_or_default();
    let peers: String = plan.lbs().filter(|h| h.name != lb).map(|h| format!("        {}\n", h.address)).collect::<Vec<_>>().concat();
    let vip = plan.vip.as_ref().map(|v| v.address.to_string()).unwrap_or_else(|| "10.0.0.100".into());
    let track_file = if plan.lb.track_file.is_empty() { "/etc/keepalived/kockpit-demote".to_string() } else { plan.lb.track_file.clone() };
    format!(
        "! Configuration File for keepalived ({lb})\n\
         global_defs {{\n    router_id {lb}\n    enable_script_security\n    script_user root\n}}\n\n\
         vrrp_script chk_haproxy {{\n    script \"/usr/bin/killall -0 haproxy\"\n    interval 2\n    fall 2\n    rise 2\n    weight -60\n}}\n\n\
         vrrp_track_file kockpit_demote {{\n    file {track_file}\n}}\n\n\
         vrrp_instance VI_1 {{\n    state {}\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int 1\n\
         \x20   unicast_src_ip {}\n    unicast_peer {{\n{peers}    }}\n\
         \x20   authentication {{\n        auth_type PASS\n        auth_pass <redacted>\n    }}\n\
         \x20   virtual_ipaddress {{\n        {vip}/24 dev eth0\n    }}\n\
         \x20   track_script {{\n        chk_haproxy\n    }}\n\
         \x20   track_file {{\n        kockpit_demote weight -100\n    }}\n}}\n",
        if first { "MASTER" } else { "BACKUP" },
        addr(lb),
    )
}

/// haproxy.cfg of every LB: the apiservers behind the VIP's port, checked on /readyz over TLS.
fn haproxy_cfg(plan: &Plan) -> String {
    let port = plan.vip.as_ref().map(|v| v.port).unwrap_or(6443);
    let servers: String = plan
        .masters()
        .map(|m| format!("    server {} {}:6443 check check-ssl verify none\n", m.name, m.address))
        .collect::<Vec<_>>()
        .concat();
    format!(
        "global\n    log /dev/log local0\n    maxconn 4000\n    user haproxy\n    group haproxy\n    daemon\n\
         \x20   stats socket /run/haproxy/admin.sock mode 660 level admin\n\n\
         defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 5s\n    timeout client 1h\n    timeout server 1h\n\
         \x20   default-server inter 2s fall 2 rise 2\n\n\
         frontend kube-apiserver\n    bind *:{port}\n    default_backend kube-apiserver\n\n\
         backend kube-apiserver\n    option httpchk GET /readyz\n    http-check expect status 200\n{servers}"
    )
}

/// What the HA configuration read would find on LB `lb`.
pub(super) fn view(plan: &Plan, lb: &str, first: bool, priority: u32) -> HaConfigView {
    let ka = Source::new(KEEPALIVED_CONF, keepalived_conf(plan, lb, first, priority));
    let hp = Source::new(HAPROXY_CFG, haproxy_cfg(plan));
    let mut v = HaConfigView {
        files: vec![KEEPALIVED_CONF.into(), HAPROXY_CFG.into()],
        versions: [
            ("keepalived".to_string(), "Keepalived v2.0.20 (01/22,2020)".to_string()),
            ("haproxy".to_string(), "HAProxy version 2.2.17-dd94a25 2021/09/07".to_string()),
        ]
        .into(),
        tools: crate::model::hacheck::PROBED_TOOLS.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    match parse_keepalived(&[ka]) {
        Ok(c) => v.keepalived = Some(c),
        Err(e) => v.problems.push(format!("keepalived: {e}")),
    }
    match parse_haproxy(&[hp]) {
        Ok(c) => v.haproxy = Some(c),
        Err(e) => v.problems.push(format!("haproxy: {e}")),
    }
    v
}
