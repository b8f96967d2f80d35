//! `ip -j addr`: the host's addresses. keepalived adds the VIP as a secondary address, so the host
//! that shows it holds the VIP (two hosts showing it is a split brain).

use std::net::IpAddr;

use serde::Deserialize;

use super::ParseError;

/// One address of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub ifname: String,
    pub address: IpAddr,
    pub prefixlen: u8,
    pub secondary: bool,
}

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    ifname: String,
    #[serde(default)]
    addr_info: Vec<AddrInfo>,
}

#[derive(Deserialize)]
struct AddrInfo {
    local: Option<String>,
    #[serde(default)]
    prefixlen: u8,
    #[serde(default)]
    secondary: bool,
}

pub fn parse_ip_addr(text: &str) -> Result<Vec<IfAddr>, ParseError> {
    const WHAT: &str = "ip -j addr";
    let links: Vec<Link> = serde_json::from_str(text.trim()).map_err(|e| ParseError::new(WHAT, format!("not the expected JSON ({e})")))?;
    let mut out = Vec::new();
    for l in links {
        for a in l.addr_info {
            let Some(local) = a.local else { continue };
            let address = local.parse().map_err(|_| ParseError::new(WHAT, format!("{}: bad address {local:?}", l.ifname)))?;
            out.push(IfAddr { ifname: l.ifname.clone(), address, prefixlen: a.prefixlen, secondary: a.secondary });
        }
    }
    Ok(out)
}

/// Whether `addr` is configured on any interface.
pub fn holds(addrs: &[IfAddr], addr: IpAddr) -> bool {
    addrs.iter().any(|a| a.address == addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/ip/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn vip_is_a_secondary_address_on_the_owner() {
        let vip: IpAddr = "10.213.0.100".parse().unwrap();
        let lb1 = parse_ip_addr(&fixture("lb1-addr.json")).unwrap();
        assert!(holds(&lb1, vip));
        let v = lb1.iter().find(|a| a.address == vip).unwrap();
        assert!(v.secondary);
        assert_eq!((v.ifname.as_str(), v.prefixlen), ("eth0", 24));
        assert!(holds(&lb1, "127.0.0.1".parse().unwrap()));
        assert!(!holds(&parse_ip_addr(&fixture("lb2-addr.json")).unwrap(), vip));
        assert!(holds(&parse_ip_addr(&fixture("lb2-addr-after-failover.json")).unwrap(), vip));
    }

    #[test]
    fn garbage() {
        for bad in ["", "Object \"addr\" is unknown", "{}", "[{\"addr_info\":[{\"local\":\"300.1.1.1\"}]}]", "[{\"ifname\":"] {
            assert!(parse_ip_addr(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ip_addr("[]").unwrap(), vec![]);
        assert_eq!(parse_ip_addr(r#"[{"ifname":"lo"}]"#).unwrap(), vec![]);
    }
}
