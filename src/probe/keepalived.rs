//! The VIP / keepalived probe. On every load balancer, one script per poll prints `ip -j addr` (the VIP
//! is a secondary address on its holder) and keepalived's own view: it sends keepalived the JSON dump
//! signal, waits for /tmp/keepalived.json to be rewritten and prints it with the VRRP password
//! (`auth_data`) already redacted on the host. Fallbacks, in order: the notify-script state file when
//! the dump cannot be had, `STOPPED` when keepalived does not run, `?` when it is frozen (SIGSTOP: it
//! holds the VIP but answers nothing). Plus a TCP connect to VIP:port from where kockpit runs.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::parse::{ParseError, ipaddr, parse_ip_addr, parse_keepalived_json, parse_state_file};
use crate::model::{VipProbe, VrrpState, VrrpView};
use crate::transport::ssh::{SshPool, script_command};

pub use crate::transport::scripts::VRRP_SCRIPT;

/// What the script saw of keepalived itself.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ka {
    Stopped,
    Frozen,
    Running { json: bool, why: String },
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
    let json_path = if json_path.is_empty() { "/tmp/keepalived.json" } else { json_path };
    let cmd = script_command(VRRP_SCRIPT, &[json_path, state_file]);
    let out = pool.run_persistent(ssh_host, lane, &cmd, timeout).await.map_err(|e| super::ssh_reason(&e))?;
    vrrp_from_output(&out.stdout, vip).map_err(|e| e.to_string())
}

/// Turn the VRRP script's output into a view (pure; see [`VRRP_SCRIPT`]).
pub fn vrrp_from_output(text: &str, vip: Option<IpAddr>) -> Result<VrrpView, ParseError> {
    const WHAT: &str = "keepalived probe";
    let section = |name: &str| -> Option<String> {
        let start = text.find(&format!("@@{name}\n"))? + name.len() + 3;
        let rest = &text[start..];
        let end = rest.find("\n@@").map(|i| i + 1).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    };
    if !text.contains("@@end") {
        return Err(ParseError::new(WHAT, format!("output incomplete: {}", super::parse::excerpt(text, 80))));
    }
    let ip = section("ip").ok_or_else(|| ParseError::new(WHAT, "no ip section"))?;
    if ip.trim_start().starts_with('!') || !ip.trim_start().starts_with('[') {
        return Err(ParseError::new(WHAT, format!("ip -j addr failed: {}", super::parse::excerpt(&ip, 80))));
    }
    let addrs = parse_ip_addr(&ip)?;
    let holds_vip = vip.is_some_and(|v| ipaddr::holds(&addrs, v));
    let ka_line = section("ka").unwrap_or_default();
    let mut words = ka_line.split_whitespace();
    let ka = match words.next() {
        Some("stopped") => Ka::Stopped,
        Some("frozen") => Ka::Frozen,
        Some("running") => {
            let _pid = words.next();
            let why = words.next().unwrap_or("").to_string();
            Ka::Running { json: why == "json", why }
        }
        _ => return Err(ParseError::new(WHAT, format!("unexpected keepalived line {}", super::parse::excerpt(&ka_line, 60)))),
    };
    let mut view = VrrpView {
        instance: String::new(),
        state: VrrpState::Unknown,
        priority: 0,
        effective_priority: 0,
        holds_vip,
        last_transition: None,
    };
    match ka {
        Ka::Stopped => view.state = VrrpState::Stopped,
        Ka::Frozen => {
            // A stopped (SIGSTOP) keepalived sends no adverts and answers no signal: its state is
            // unknowable, and whether it holds the VIP is what matters (split brain).
            view.state = VrrpState::Unknown;
            view.instance = "keepalived frozen".into();
        }
        Ka::Running { json: true, .. } => {
            let json = section("json").unwrap_or_default();
            let instances = parse_keepalived_json(&json)?;
            let chosen = vip
                .and_then(|v| instances.iter().find(|i| i.has_vip(&v.to_string())))
                .or_else(|| instances.first())
                .ok_or_else(|| ParseError::new(WHAT, "no VRRP instance"))?;
            view.instance = chosen.name.clone();
            view.state = chosen.state;
            view.priority = chosen.base_priority;
            view.effective_priority = chosen.effective_priority;
            view.last_transition = chosen.last_transition;
        }
        Ka::Running { why, .. } => {
            let state = section("state").unwrap_or_default();
            match parse_state_file(&state) {
                Ok((s, at)) => {
                    view.state = s;
                    view.last_transition = at;
                    view.instance = "(state file)".into();
                }
                Err(_) => {
                    tracing::debug!("keepalived: no JSON dump ({why}) and no state file");
                    view.instance = format!("(no JSON dump: {why})");
                }
            }
        }
    }
    Ok(view)
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
            s.push_str(&format!("@@json\n{j}\n"));
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
    }
}
