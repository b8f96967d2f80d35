//! The VIP / keepalived probe. On every load balancer, one script per poll prints `ip -j addr` (the VIP
//! is a secondary address on its holder) and keepalived's own view: it sends keepalived the JSON dump
//! signal, waits for /tmp/keepalived.json to be rewritten and prints it with the VRRP password
//! (`auth_data`) already redacted on the host. Fallbacks, in order: keepalived's text data dump
//! (keepalived 1.3 has no JSON; its `Password` line is redacted on the host too), the notify-script
//! state file when neither dump can be had, `ip addr` alone for who holds the VIP; `STOPPED` when
//! keepalived does not run, `?` when it is frozen (SIGSTOP: it holds the VIP but answers nothing).
//! Every view says where it came from ([`vrrp_found`]). Plus a TCP connect to VIP:port from where
//! kockpit runs.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::parse::{KeepalivedInstance, ParseError, ipaddr, parse_ip_addr, parse_keepalived_data, parse_keepalived_json, parse_state_file};
use crate::model::{VipProbe, VrrpState, VrrpView};
use crate::transport::ssh::{SshPool, script_command};

pub use crate::transport::scripts::VRRP_SCRIPT;

/// What the script saw of keepalived itself.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ka {
    Stopped,
    Frozen,
    Json,
    /// The text data dump, and why there was no JSON one.
    Data {
        no_json: String,
    },
    /// Signalling keepalived is not permitted to this user.
    Denied {
        pid: String,
        user: String,
    },
    /// Neither dump: why.
    Neither {
        why: String,
    },
}

/// Poll one load balancer.
pub async fn probe_vrrp(
    pool: &SshPool,
    ssh_host: &str,
    vip: Option<IpAddr>,
    json_path: &str,
    state_file: &str,
    timeout: Duration,
) -> Result<VrrpView, String> {
    probe_vrrp_on(pool, "vrrp", ssh_host, vip, json_path, state_file, timeout).await
}

/// [`probe_vrrp`] on a lane of its own (an operation watching the VIP does not queue behind the
/// periodic probe).
pub async fn probe_vrrp_on(
    pool: &SshPool,
    lane: &str,
    ssh_host: &str,
    vip: Option<IpAddr>,
    json_path: &str,
    state_file: &str,
    timeout: Duration,
) -> Result<VrrpView, String> {
    probe_vrrp_found(pool, lane, ssh_host, vip, json_path, state_file, timeout).await.map(|(v, _)| v)
}

/// [`probe_vrrp_on`], also saying where keepalived's view came from (see [`vrrp_found`]).
pub async fn probe_vrrp_found(
    pool: &SshPool,
    lane: &str,
    ssh_host: &str,
    vip: Option<IpAddr>,
    json_path: &str,
    state_file: &str,
    timeout: Duration,
) -> Result<(VrrpView, String), String> {
    let json_path = if json_path.is_empty() { "/tmp/keepalived.json" } else { json_path };
    let cmd = script_command(VRRP_SCRIPT, &[json_path, state_file]);
    let out = pool.run_persistent(ssh_host, lane, &cmd, timeout).await.map_err(|e| super::ssh_reason(&e))?;
    vrrp_found(&out.stdout, vip, json_path, state_file)
}

/// Turn the VRRP script's output into a view (pure; see [`VRRP_SCRIPT`]).
pub fn vrrp_from_output(text: &str, vip: Option<IpAddr>) -> Result<VrrpView, String> {
    vrrp_found(text, vip, "/tmp/keepalived.json", "").map(|(v, _)| v)
}

/// The data dump's path: `keepalived.data` beside the JSON dump's.
pub fn data_path(json_path: &str) -> String {
    match json_path.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/keepalived.data"),
        None => "/tmp/keepalived.data".into(),
    }
}

/// The view, and where it came from: `JSON dump /tmp/keepalived.json`, `data dump
/// /tmp/keepalived.data (no JSON: no-json-support)`, `state file /run/keepalived.state (no dump:
/// ...)`, `ip addr only (...)`, `keepalived stopped`, `keepalived frozen`. Signalling keepalived
/// not permitted and no state file to fall back on is an error that says so.
pub fn vrrp_found(text: &str, vip: Option<IpAddr>, json_path: &str, state_file: &str) -> Result<(VrrpView, String), String> {
    const WHAT: &str = "keepalived probe";
    let err = |d: String| ParseError::new(WHAT, d).to_string();
    let section = |name: &str| -> Option<String> {
        let start = text.find(&format!("@@{name}\n"))? + name.len() + 3;
        let rest = &text[start..];
        let end = rest.find("\n@@").map(|i| i + 1).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    };
    if !text.contains("@@end") {
        return Err(err(format!("output incomplete: {}", super::parse::excerpt(text, 80))));
    }
    let ip = section("ip").ok_or_else(|| err("no ip section".into()))?;
    if ip.trim_start().starts_with('!') || !ip.trim_start().starts_with('[') {
        return Err(err(format!("ip -j addr failed: {}", super::parse::excerpt(&ip, 80))));
    }
    let addrs = parse_ip_addr(&ip).map_err(|e| e.to_string())?;
    let holds_vip = vip.is_some_and(|v| ipaddr::holds(&addrs, v));
    let ka_line = section("ka").unwrap_or_default();
    let mut words = ka_line.split_whitespace();
    let ka = match words.next() {
        Some("stopped") => Ka::Stopped,
        Some("frozen") => Ka::Frozen,
        Some("running") => {
            let pid = words.next().unwrap_or("?").to_string();
            match words.next() {
                Some("json") => Ka::Json,
                Some("data") => Ka::Data { no_json: words.collect::<Vec<_>>().join(" ") },
                Some("denied") => Ka::Denied { pid, user: words.next().unwrap_or("?").to_string() },
                Some("none") => Ka::Neither { why: words.collect::<Vec<_>>().join(", ") },
                other => Ka::Neither { why: other.into_iter().chain(words).collect::<Vec<_>>().join(", ") },
            }
        }
        _ => return Err(err(format!("unexpected keepalived line {}", super::parse::excerpt(&ka_line, 60)))),
    };
    let mut view = VrrpView {
        instance: String::new(),
        state: VrrpState::Unknown,
        priority: 0,
        effective_priority: 0,
        holds_vip,
        last_transition: None,
    };
    let pick = |instances: Vec<KeepalivedInstance>, view: &mut VrrpView| -> Result<(), String> {
        let chosen = vip
            .and_then(|v| instances.iter().find(|i| i.has_vip(&v.to_string())))
            .or_else(|| instances.first())
            .ok_or_else(|| err("no VRRP instance".into()))?;
        view.instance = chosen.name.clone();
        view.state = chosen.state;
        view.priority = chosen.base_priority;
        view.effective_priority = chosen.effective_priority;
        view.last_transition = chosen.last_transition;
        Ok(())
    };
    let state_file_view = |view: &mut VrrpView| -> bool {
        match parse_state_file(&section("state").unwrap_or_default()) {
            Ok((s, at)) => {
                view.state = s;
                view.last_transition = at;
                view.instance = "(state file)".into();
                true
            }
            Err(_) => false,
        }
    };
    let from = match ka {
        Ka::Stopped => {
            view.state = VrrpState::Stopped;
            "keepalived stopped".to_string()
        }
        Ka::Frozen => {
            // A stopped (SIGSTOP) keepalived sends no adverts and answers no signal: its state is
            // unknowable, and whether it holds the VIP is what matters (split brain).
            view.instance = "keepalived frozen".into();
            "keepalived frozen".to_string()
        }
        Ka::Json => {
            pick(parse_keepalived_json(&section("json").unwrap_or_default()).map_err(|e| e.to_string())?, &mut view)?;
            format!("JSON dump {json_path}")
        }
        Ka::Data { no_json } => {
            pick(parse_keepalived_data(&section("data").unwrap_or_default()).map_err(|e| e.to_string())?, &mut view)?;
            format!("data dump {} (no JSON: {no_json})", data_path(json_path))
        }
        Ka::Denied { pid, user } => {
            let why = format!("permission denied: signalling keepalived (pid {pid}) needs root (user {user}; set [access] sudo = true)");
            if !state_file_view(&mut view) {
                return Err(why);
            }
            format!("state file {state_file} ({why})")
        }
        Ka::Neither { why } => {
            if state_file_view(&mut view) {
                format!("state file {state_file} (no dump: {why})")
            } else {
                tracing::debug!("keepalived: no dump ({why}) and no state file");
                view.instance = format!("(no dump: {why})");
                format!("ip addr only (no dump: {why}; no state file)")
            }
        }
    };
    Ok((view, from))
}

/// The plan's VIP, probed as [`probe_vip_tcp`] does; but an address no client reaches a VIP at
/// (0.0.0.0 connects to this machine itself; loopback, broadcast, multicast) is not probed: its
/// answer would say nothing of the cluster.
pub async fn probe_plan_vip(addr: SocketAddr, timeout: Duration) -> Result<VipProbe, String> {
    match crate::inventory::unusable_vip(addr.ip()) {
        Some(why) => Err(format!("{}the plan's VIP {} {why}: no client reaches a VIP there", crate::model::notes::NOT_PROBED, addr.ip())),
        None => probe_vip_tcp(addr, timeout).await,
    }
}

/// TCP connect to the VIP from where kockpit runs.
pub async fn probe_vip_tcp(addr: SocketAddr, timeout: Duration) -> Result<VipProbe, String> {
    let t = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_s)) => Ok(VipProbe { address: addr.to_string(), connect_ms: t.elapsed().as_secs_f64() * 1000.0 }),
        Ok(Err(e)) => Err(format!("tcp {addr}: {e}")),
        Err(_) => Err(format!("tcp {addr}: no answer in {:.1}s", timeout.as_secs_f64())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn output(ip: &str, ka: &str, json: Option<&str>, state: &str) -> String {
        let mut s = format!("@@ip\n{ip}\n@@ka\n{ka}\n");
        if let Some(j) = json {
            let name = if ka.contains(" data ") { "data" } else { "json" };
            s.push_str(&format!("@@{name}\n{j}\n"));
        }
        s.push_str(&format!("@@state\n{state}\n@@end\n"));
        s
    }

    #[test]
    fn master_holding_the_vip() {
        let vip: IpAddr = "10.213.0.100".parse().unwrap();
        let text = output(&fixture("ip/lb1-addr.json"), "running 42 json", Some(&fixture("keepalived/lb1.json")), "MASTER 1795527010");
        let v = vrrp_from_output(&text, Some(vip)).unwrap();
        assert_eq!(
            (v.state, v.holds_vip, v.priority, v.effective_priority, v.instance.as_str()),
            (VrrpState::Master, true, 150, 150, "VI_1")
        );
        assert!(!format!("{v:?}").contains("s3cr3tpw"));
        let text = output(&fixture("ip/lb2-addr.json"), "running 43 json", Some(&fixture("keepalived/lb2.json")), "BACKUP 1");
        let v = vrrp_from_output(&text, Some(vip)).unwrap();
        assert_eq!((v.state, v.holds_vip, v.priority), (VrrpState::Backup, false, 140));
    }

    #[test]
    fn fallbacks() {
        let vip: IpAddr = "10.213.0.100".parse().unwrap();
        let ip = fixture("ip/lb1-addr.json");
        let v = vrrp_from_output(&output(&ip, "stopped", None, "MASTER 1"), Some(vip)).unwrap();
        assert_eq!((v.state, v.holds_vip), (VrrpState::Stopped, true), "SIGKILLed keepalived leaves the VIP behind");
        let v = vrrp_from_output(&output(&ip, "frozen 42", None, "MASTER 1"), Some(vip)).unwrap();
        assert_eq!(v.state, VrrpState::Unknown);
        let v = vrrp_from_output(&output(&ip, "running 42 no-json-support", None, "BACKUP 1795527010"), Some(vip)).unwrap();
        assert_eq!((v.state, v.last_transition.map(|t| t.timestamp())), (VrrpState::Backup, Some(1795527010)));
        let v = vrrp_from_output(&output(&ip, "running 42 json-not-written", None, ""), Some(vip)).unwrap();
        assert_eq!(v.state, VrrpState::Unknown);
    }

    #[test]
    fn every_source_is_named() {
        let vip: IpAddr = "10.213.0.100".parse().unwrap();
        let ip = fixture("ip/lb1-addr.json");
        let found = |ka: &str, dump: Option<&str>, state: &str| {
            vrrp_found(&output(&ip, ka, dump, state), Some(vip), "/tmp/keepalived.json", "/run/keepalived.state")
        };
        let (v, from) = found("running 42 json", Some(&fixture("keepalived/lb1.json")), "").unwrap();
        assert_eq!((v.state, from.as_str()), (VrrpState::Master, "JSON dump /tmp/keepalived.json"));
        // keepalived 1.3 (CentOS 7): no JSON, the data dump
        let (v, from) =
            found("running 42 data no-json-support", Some(&fixture("keepalived/centos7-1.3.5-backup.data")), "MASTER 1").unwrap();
        assert_eq!((v.state, v.priority, v.effective_priority, v.instance.as_str()), (VrrpState::Backup, 90, 90, "VI_1"));
        assert_eq!(from, "data dump /tmp/keepalived.data (no JSON: no-json-support)");
        assert!(v.holds_vip, "who holds the VIP is ip addr's to say");
        let (v, _) = found("running 42 data not-written", Some(&fixture("keepalived/lb1.data")), "").unwrap();
        assert_eq!((v.state, v.priority, v.last_transition.map(|t| t.timestamp())), (VrrpState::Master, 150, Some(1796246653)));
        // neither dump: the state file, then ip addr alone
        let (v, from) = found("running 42 none no-json-support data-not-written", None, "BACKUP 1795527010").unwrap();
        assert_eq!(
            (v.state, from.as_str()),
            (VrrpState::Backup, "state file /run/keepalived.state (no dump: no-json-support, data-not-written)")
        );
        let (v, from) = found("running 42 none not-written data-not-written", None, "").unwrap();
        assert_eq!((v.state, v.holds_vip), (VrrpState::Unknown, true));
        assert_eq!(from, "ip addr only (no dump: not-written, data-not-written; no state file)");
        // a data dump that does not parse is an error, never a made-up state
        assert!(found("running 42 data no-json-support", Some("garbage"), "MASTER 1").is_err());
        assert_eq!(found("stopped", None, "").unwrap().1, "keepalived stopped");
        assert_eq!(data_path("/var/run/k/keepalived.json"), "/var/run/k/keepalived.data");
        assert_eq!(data_path("keepalived.json"), "/tmp/keepalived.data");
    }

    #[test]
    fn a_signal_not_permitted_says_so() {
        let vip: IpAddr = "10.213.0.100".parse().unwrap();
        let ip = fixture("ip/lb1-addr.json");
        let e = vrrp_found(&output(&ip, "running 42 denied deploy", None, ""), Some(vip), "/tmp/keepalived.json", "").unwrap_err();
        assert_eq!(e, "permission denied: signalling keepalived (pid 42) needs root (user deploy; set [access] sudo = true)");
        // a readable state file still answers, and the source says why it is the state file
        let (v, from) =
            vrrp_found(&output(&ip, "running 42 denied deploy", None, "MASTER 1"), Some(vip), "/tmp/keepalived.json", "/run/ka.state")
                .unwrap();
        assert_eq!(v.state, VrrpState::Master);
        assert!(from.starts_with("state file /run/ka.state (permission denied: signalling keepalived"), "{from}");
    }

    #[test]
    fn garbage() {
        let ip = fixture("ip/lb1-addr.json");
        for bad in [
            String::new(),
            "sh: 1: ip: not found".to_string(),
            output("!ip failed", "stopped", None, ""),
            output(&ip, "dunno", None, ""),
            output(&ip, "running 1 json", Some("{\"trunc"), ""),
            output(&ip, "stopped", None, "").replace("@@end\n", ""),
        ] {
            assert!(vrrp_from_output(&bad, None).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn vip_tcp_probe() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let p = probe_vip_tcp(addr, Duration::from_secs(1)).await.unwrap();
        assert_eq!(p.address, addr.to_string());
        drop(l);
        assert!(probe_vip_tcp(addr, Duration::from_secs(1)).await.is_err());
        // a plan's VIP of 0.0.0.0 would reach this machine's own listener: not probed
        let l = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let any = SocketAddr::from(([0, 0, 0, 0], l.local_addr().unwrap().port()));
        assert!(probe_vip_tcp(any, Duration::from_secs(1)).await.is_ok(), "the connection itself succeeds");
        let e = probe_plan_vip(any, Duration::from_secs(1)).await.unwrap_err();
        assert!(e.starts_with("not probed: the plan's VIP 0.0.0.0 is the unspecified address"), "{e}");
        let lo = SocketAddr::from(([127, 0, 0, 1], l.local_addr().unwrap().port()));
        assert!(probe_plan_vip(lo, Duration::from_secs(1)).await.unwrap_err().contains("is a loopback address"));
    }
}
