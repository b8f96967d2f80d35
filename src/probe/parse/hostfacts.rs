//! The output of the host-facts script ([`crate::probe::hosts::HOST_FACTS_SCRIPT`]): sections that start
//! with a line `@@NAME`. A missing section is a fact kockpit cannot see (None or 0); a section whose
//! content cannot be read is an error that names it.

use super::{ParseError, excerpt};
use crate::model::HostFacts;

const WHAT: &str = "host facts";

/// The sections the script prints, in order.
pub const HOST_FACTS_SECTIONS: &[&str] = &[
    "date",
    "hostname",
    "kernel",
    "os",
    "uptime",
    "loadavg",
    "cpus",
    "meminfo",
    "df",
    "firewalld",
    "selinux",
    "br_netfilter",
    "bridge_nf_call_iptables",
    "ip_forward",
    "end",
];

/// Parse the script's output. `local_mid_epoch` is the local wall clock (seconds since the epoch)
/// halfway through the command's round trip, to compute the host's clock offset.
pub fn parse_host_facts(text: &str, local_mid_epoch: Option<f64>) -> Result<HostFacts, ParseError> {
    let mut sections: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(name) = line.strip_prefix("@@") {
            sections.push((name.trim(), Vec::new()));
        } else if let Some((_, body)) = sections.last_mut()
            && !line.trim().is_empty()
        {
            body.push(line);
        }
    }
    if !sections.iter().any(|(n, _)| HOST_FACTS_SECTIONS.contains(n)) {
        return Err(ParseError::new(WHAT, format!("no sections in the output: {}", excerpt(text, 120))));
    }
    let body = |name: &str| -> Vec<&str> { sections.iter().find(|(n, _)| *n == name).map(|(_, b)| b.clone()).unwrap_or_default() };
    let first = |name: &str| -> Option<String> { body(name).first().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) };
    let bad = |name: &str, v: &str| ParseError::new(WHAT, format!("{name}: unexpected {}", excerpt(v, 60)));

    let mut f = HostFacts {
        hostname: first("hostname").unwrap_or_default(),
        kernel: first("kernel").unwrap_or_default(),
        os: first("os").map(|s| unquote(&s)).unwrap_or_default(),
        ..HostFacts::default()
    };
    if let Some(u) = first("uptime") {
        let secs: f64 = u.split_whitespace().next().and_then(|s| s.parse().ok()).ok_or_else(|| bad("uptime", &u))?;
        f.uptime_secs = secs.max(0.0) as u64;
    }
    if let Some(l) = first("loadavg") {
        f.load1 =
            l.split_whitespace().next().and_then(|s| s.parse::<f64>().ok()).filter(|x| x.is_finite()).ok_or_else(|| bad("loadavg", &l))?;
    }
    if let Some(c) = first("cpus") {
        f.cpus = count_cpus(&c).ok_or_else(|| bad("cpus", &c))?;
    }
    for line in body("meminfo") {
        let mut it = line.split_whitespace();
        let (Some(key), Some(val)) = (it.next(), it.next()) else { return Err(bad("meminfo", line)) };
        let kb: u64 = val.parse().map_err(|_| bad("meminfo", line))?;
        match key.trim_end_matches(':') {
            "MemTotal" => f.mem_total_mb = kb / 1024,
            "MemAvailable" => f.mem_avail_mb = kb / 1024,
            "SwapTotal" => f.swap_total_mb = kb / 1024,
            _ => {}
        }
    }
    // `df -Pk /`: a header, then "FS 1024-blocks Used Available Capacity% Mounted-on".
    if let Some(line) = body("df").into_iter().find(|l| !l.starts_with("Filesystem")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 {
            return Err(bad("df", line));
        }
        let n = fields.len();
        let total_kb: u64 = fields[n - 5].parse().map_err(|_| bad("df", line))?;
        let pct: u8 = fields[n - 2].trim_end_matches('%').parse().map_err(|_| bad("df", line))?;
        f.disk_total_gb = (total_kb + 512 * 1024) / (1024 * 1024);
        f.disk_used_pct = pct.min(100);
    }
    f.firewalld = first("firewalld").filter(|s| s != "absent");
    f.selinux = first("selinux").filter(|s| s != "absent");
    f.br_netfilter = first("br_netfilter").map(|s| flag(&s).ok_or_else(|| bad("br_netfilter", &s))).transpose()?;
    f.bridge_nf_call_iptables =
        first("bridge_nf_call_iptables").map(|s| flag(&s).ok_or_else(|| bad("bridge_nf_call_iptables", &s))).transpose()?;
    f.ip_forward = first("ip_forward").map(|s| flag(&s).ok_or_else(|| bad("ip_forward", &s))).transpose()?;
    if let (Some(d), Some(local)) = (first("date"), local_mid_epoch) {
        // `date +%s.%N` prints a literal "%N" where %N is unsupported (busybox): take what parses.
        let remote: f64 = d.trim_end_matches(".%N").trim_end_matches('N').parse().map_err(|_| bad("date", &d))?;
        if remote.is_finite() {
            f.time_offset_ms = Some(((remote - local) * 1000.0).round() as i64);
        }
    }
    Ok(f)
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s);
    let s = s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')).unwrap_or(s);
    s.to_string()
}

fn flag(s: &str) -> Option<bool> {
    match s.trim() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

/// `/sys/devices/system/cpu/online` ("0-3,6,8-9") or a plain count from `nproc`.
fn count_cpus(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Some(n) = s.strip_prefix("n=") {
        return n.parse().ok();
    }
    let mut total = 0u32;
    for part in s.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                total = total.checked_add(b.checked_sub(a)?.checked_add(1)?)?;
            }
            None => {
                part.parse::<u32>().ok()?;
                total = total.checked_add(1)?;
            }
        }
    }
    (total > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/hostfacts/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn lab_host() {
        let text = fixture("lb1.txt");
        let date: f64 = text.lines().nth(1).unwrap().parse().unwrap();
        let f = parse_host_facts(&text, Some(date - 0.25)).unwrap();
        assert_eq!(f.hostname, "lb1");
        assert!(!f.kernel.is_empty());
        assert!(f.os.starts_with("Debian"), "{}", f.os);
        assert!(f.uptime_secs > 0);
        assert!(f.cpus >= 1);
        assert!(f.mem_total_mb > 0 && f.mem_avail_mb > 0 && f.mem_avail_mb <= f.mem_total_mb);
        assert!(f.disk_total_gb > 0);
        assert_eq!(f.time_offset_ms, Some(250));
        assert!(f.ip_forward.is_some());
    }

    #[test]
    fn centos_like_host() {
        let f = parse_host_facts(&fixture("centos7.txt"), None).unwrap();
        assert_eq!(f.os, "CentOS Linux 7 (Core)");
        assert_eq!(f.kernel, "3.10.0-1160.el7.x86_64");
        assert_eq!(f.cpus, 8);
        assert_eq!(f.swap_total_mb, 8191);
        assert_eq!(f.firewalld.as_deref(), Some("active"));
        assert_eq!(f.selinux.as_deref(), Some("Enforcing"));
        assert_eq!((f.br_netfilter, f.bridge_nf_call_iptables, f.ip_forward), (Some(false), None, Some(true)));
        assert_eq!((f.disk_total_gb, f.disk_used_pct), (150, 87));
        assert_eq!(f.time_offset_ms, None);
    }

    #[test]
    fn missing_sections_are_unknown() {
        let f = parse_host_facts("@@hostname\nh1\n@@kernel\n", None).unwrap();
        assert_eq!(f.hostname, "h1");
        assert_eq!((f.kernel.as_str(), f.cpus, f.mem_total_mb, f.firewalld.clone(), f.ip_forward), ("", 0, 0, None, None));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for bad in [
            "",
            "sh: 1: Syntax error",
            "@@uptime\nabc\n",
            "@@cpus\n3-1\n",
            "@@meminfo\nMemTotal: lots kB\n",
            "@@df\nFilesystem\n/dev/x 1 2\n",
            "@@ip_forward\nyes\n",
            "@@date\nnope\n",
        ] {
            assert!(parse_host_facts(bad, Some(0.0)).is_err(), "{bad:?}");
        }
        let text = fixture("lb1.txt");
        for i in 0..text.len() {
            if text.is_char_boundary(i) {
                let _ = parse_host_facts(&text[..i], Some(1.0));
            }
        }
        assert_eq!(count_cpus("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpus("n=12"), Some(12));
        assert_eq!(count_cpus(""), None);
        assert_eq!(count_cpus("0-4294967295"), None);
    }
}
