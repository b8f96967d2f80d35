//! haproxy.cfg's words (quoting, escapes, comments), times, addresses and server parameters.

use super::haproxy::Addr;

/// One line's words, with haproxy's quoting and escapes; `#` outside quotes ends the line.
pub fn words(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some('"') => match c {
                '"' => quote = None,
                '\\' => cur.extend(chars.next()),
                _ => cur.push(c),
            },
            Some(_) => {
                if c == '\'' {
                    quote = None
                } else {
                    cur.push(c)
                }
            }
            None => match c {
                '#' => break,
                '\\' => {
                    in_word = true;
                    cur.extend(chars.next());
                }
                '"' | '\'' => {
                    in_word = true;
                    quote = Some(c);
                }
                c if c.is_whitespace() => {
                    if in_word {
                        out.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                c => {
                    in_word = true;
                    cur.push(c);
                }
            },
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// A haproxy time: a number and an optional unit (us, ms, s, m, h, d; none is ms), in milliseconds.
pub fn time_ms(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s.get(..split)?.parse().ok()?;
    let unit = s.get(split..)?;
    match unit {
        "" | "ms" => Some(n),
        "us" => Some(n / 1000),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    }
}

/// An address as haproxy writes it: `/path`, `unix@`, `abns@`, `ipv4@`, `ipv6@`, `host:port`, `*:port`, `:::port`.
pub fn addr_of(s: &str) -> Addr {
    if let Some(p) = s.strip_prefix("unix@") {
        return Addr::Unix(p.to_string());
    }
    if s.starts_with('/') {
        return Addr::Unix(s.to_string());
    }
    if let Some(p) = s.strip_prefix("abns@") {
        return Addr::Abns(p.to_string());
    }
    let s = ["ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@", "udp@"].iter().find_map(|p| s.strip_prefix(p)).unwrap_or(s);
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p.split('-').next().and_then(|p| p.parse::<u16>().ok())),
        None => (s, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Addr::Inet { host: if host == "*" { String::new() } else { host.to_string() }, port }
}

/// Server parameters, as a `server` line or a `default-server` line sets them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pub(crate) check: Option<bool>,
    pub(crate) check_ssl: Option<bool>,
    pub(crate) ssl: Option<bool>,
    pub(crate) verify: Option<String>,
    pub(crate) inter_ms: Option<u64>,
    pub(crate) fall: Option<u32>,
    pub(crate) rise: Option<u32>,
    pub(crate) backup: Option<bool>,
    pub(crate) disabled: Option<bool>,
    pub(crate) weight: Option<u32>,
}

impl Params {
    /// Read a `server` or `default-server` line's parameters. Returns the ones haproxy refuses (a
    /// check timing that is not a positive number): (keyword, value, why).
    pub(crate) fn read(&mut self, ws: &[String]) -> Vec<(String, String, String)> {
        let mut bad = vec![];
        let mut it = ws.iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "check" => self.check = Some(true),
                "no-check" => self.check = Some(false),
                "check-ssl" => self.check_ssl = Some(true),
                "no-check-ssl" => self.check_ssl = Some(false),
                "ssl" => self.ssl = Some(true),
                "no-ssl" => self.ssl = Some(false),
                "backup" => self.backup = Some(true),
                "no-backup" => self.backup = Some(false),
                "disabled" => self.disabled = Some(true),
                "enabled" => self.disabled = Some(false),
                "verify" => self.verify = it.next().cloned(),
                "inter" => {
                    let v = it.next();
                    match v.and_then(|v| time_ms(v)).filter(|v| *v > 0) {
                        Some(ms) => self.inter_ms = Some(ms),
                        None => bad.push(("inter".into(), shown(v), "must be a positive time (2s, 500ms)".into())),
                    }
                }
                "fall" | "rise" => {
                    let v = it.next();
                    match v.and_then(|v| v.parse::<u32>().ok()).filter(|v| *v > 0) {
                        Some(n) if w == "fall" => self.fall = Some(n),
                        Some(n) => self.rise = Some(n),
                        None => bad.push((w.clone(), shown(v), "must be a whole number of at least 1".into())),
                    }
                }
                "weight" => self.weight = it.next().and_then(|v| v.parse().ok()).or(self.weight),
                _ => {}
            }
        }
        bad
    }
}

fn shown(v: Option<&String>) -> String {
    v.map(|v| v.chars().take(40).collect()).unwrap_or_else(|| "(nothing)".into())
}
