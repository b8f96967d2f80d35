//! haproxy.cfg: sections (`global`, `defaults`, `frontend`, `backend`, `listen`; the others are
//! skipped), words with haproxy's quoting (`"..."` with `\` escapes, `'...'` literal, `\` outside
//! quotes), `#` comments; and what kockpit needs: stats sockets and pages, binds, routing, health
//! checks and servers. `defaults` sections pass mode, the check options and `default-server` to the
//! proxies after them (`from NAME` picks a named one).
//!
//! A configuration of several files (`haproxy -f FILE -f DIR`) is a slice of [`Source`]s in the order
//! haproxy loads them: [`config_dir_order`] gives that order for a directory's file names.

use std::collections::BTreeMap;

use super::haproxy_syntax::Params;
use super::{Invalid, Pos, Source, check_bounds};
use crate::error::FileError;

pub use super::haproxy_syntax::{addr_of, time_ms, words};

/// haproxy's default `inter`: 2 s.
pub const DEFAULT_INTER_MS: u64 = 2000;
/// haproxy's default `fall` and `rise`.
pub const DEFAULT_FALL: u32 = 3;
pub const DEFAULT_RISE: u32 = 2;
/// The stats page's URI when `stats uri` is not given.
pub const DEFAULT_STATS_URI: &str = "/haproxy?stats";
/// The port kube-apiserver listens on.
pub const APISERVER_PORT: u16 = 6443;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct HaproxyConf {
    pub stats_sockets: Vec<StatsSocket>,
    pub stats_pages: Vec<StatsPage>,
    /// Frontends and listens (what binds).
    pub frontends: Vec<Frontend>,
    /// Backends and listens (what has servers).
    pub backends: Vec<Backend>,
    /// Lines kockpit does not read: other sections, lines outside any section.
    pub skipped: usize,
    /// Check timings haproxy refuses (`inter 0`, `fall -1`, `rise x`): it does not load the configuration.
    pub invalid: Vec<Invalid>,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ProxyKind {
    Frontend,
    Backend,
    Listen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Mode {
    Tcp,
    Http,
}

/// An address haproxy listens on or connects to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Addr {
    Unix(String),
    Abns(String),
    /// `host` is empty for `*` (every address); `::`, `0.0.0.0` and names stay as written.
    Inet {
        host: String,
        port: Option<u16>,
    },
}

impl Addr {
    pub fn port(&self) -> Option<u16> {
        match self {
            Addr::Inet { port, .. } => *port,
            _ => None,
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Unix(p) => write!(f, "{p}"),
            Addr::Abns(p) => write!(f, "abns@{p}"),
            Addr::Inet { host, port: Some(p) } => write!(f, "{}:{p}", if host.is_empty() { "*" } else { host }),
            Addr::Inet { host, port: None } => write!(f, "{host}"),
        }
    }
}

/// `stats socket ADDR [level L] [mode M] ...` in `global`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatsSocket {
    pub address: Addr,
    /// user (haproxy's default), operator or admin.
    pub level: String,
    pub mode: Option<String>,
    pub at: Pos,
}

/// A stats HTTP page: a frontend or listen with `stats enable` or `stats uri`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatsPage {
    pub proxy: String,
    pub binds: Vec<Bind>,
    pub uri: String,
    /// Whether `stats auth` is set (the credentials are never kept).
    pub auth: bool,
    pub at: Pos,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Bind {
    pub address: Addr,
    pub ssl: bool,
    pub at: Pos,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Frontend {
    pub name: String,
    pub kind: ProxyKind,
    pub binds: Vec<Bind>,
    pub mode: Mode,
    pub default_backend: Option<String>,
    pub use_backends: Vec<String>,
    pub at: Pos,
}

impl Frontend {
    /// The backends it routes to: default_backend, use_backend targets, or itself for a listen.
    pub fn targets(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.default_backend.iter().chain(self.use_backends.iter()).map(String::as_str).collect();
        if t.is_empty() && self.kind == ProxyKind::Listen {
            t.push(&self.name);
        }
        t
    }
    pub fn binds_port(&self, port: u16) -> bool {
        self.binds.iter().any(|b| b.address.port() == Some(port))
    }
}

/// The health-check options of a backend (its own or from `defaults`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Checks {
    pub ssl_hello: bool,
    /// `option httpchk [METHOD] [URI]`: (method, uri), defaults OPTIONS and /.
    pub httpchk: Option<(String, String)>,
    pub tcp_check: bool,
    pub http_check_expect: Option<String>,
    /// `http-check connect ssl`.
    pub http_check_ssl: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Backend {
    pub name: String,
    pub kind: ProxyKind,
    pub mode: Mode,
    pub checks: Checks,
    pub servers: Vec<Server>,
    /// `timeout NAME VALUE` in milliseconds, own or from `defaults`.
    pub timeouts: BTreeMap<String, u64>,
    pub at: Pos,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Server {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub check: bool,
    pub check_ssl: bool,
    pub ssl: bool,
    pub verify: Option<String>,
    pub inter_ms: u64,
    pub fall: u32,
    pub rise: u32,
    pub backup: bool,
    pub disabled: bool,
    pub weight: u32,
    pub at: Pos,
}

impl Server {
    /// Milliseconds from an apiserver's death until haproxy marks the server DOWN: inter × fall.
    pub fn down_after_ms(&self) -> u64 {
        self.inter_ms.saturating_mul(self.fall as u64)
    }
}

impl HaproxyConf {
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name == name)
    }

    /// The frontends and listens that bind `port`.
    pub fn binding(&self, port: u16) -> Vec<&Frontend> {
        self.frontends.iter().filter(|f| f.binds_port(port)).collect()
    }

    /// The backends that look like kube-apiservers: those a frontend binding `vip_port` routes to,
    /// those with a server on port 6443, and those checked with `/healthz`, `/readyz` or `/livez`.
    pub fn apiserver_backends(&self, vip_port: Option<u16>) -> Vec<&Backend> {
        let mut names: Vec<&str> = vip_port.map(|p| self.binding(p).into_iter().flat_map(|f| f.targets()).collect()).unwrap_or_default();
        for b in &self.backends {
            let health_uri =
                b.checks.httpchk.as_ref().is_some_and(|(_, u)| ["/healthz", "/readyz", "/livez"].iter().any(|h| u.starts_with(h)));
            if health_uri || b.servers.iter().any(|s| s.port == Some(APISERVER_PORT)) {
                names.push(&b.name);
            }
        }
        let mut out: Vec<&Backend> = vec![];
        for n in names {
            if let Some(b) = self.backend(n).filter(|b| !out.iter().any(|o| o.name == b.name)) {
                out.push(b);
            }
        }
        out
    }
}

/// Of a configuration directory's file names, those haproxy loads (`*.cfg`), in its order (lexical).
pub fn config_dir_order(names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().filter(|n| n.ends_with(".cfg") && !n.starts_with('.')).cloned().collect();
    v.sort();
    v
}

/// What a `defaults` section passes on.
#[derive(Debug, Clone, Default)]
struct Defaults {
    mode: Option<Mode>,
    checks: Checks,
    server: Params,
    timeouts: BTreeMap<String, u64>,
}

struct Proxy {
    kind: ProxyKind,
    name: String,
    at: Pos,
    d: Defaults,
    binds: Vec<Bind>,
    default_backend: Option<String>,
    use_backends: Vec<String>,
    servers: Vec<(String, String, Params, Pos)>,
    stats_enabled: bool,
    stats_uri: Option<String>,
    stats_auth: bool,
}

enum Section {
    None,
    Global,
    Defaults(String, Defaults),
    Proxy(Box<Proxy>),
    Other,
}

const OTHER_SECTIONS: &[&str] =
    &["userlist", "peers", "resolvers", "program", "cache", "mailers", "http-errors", "ring", "log-forward", "crt-store", "traces", "acme"];

/// Parse a configuration: its files in the order haproxy loads them.
pub fn parse_haproxy(sources: &[Source]) -> Result<HaproxyConf, FileError> {
    check_bounds(sources)?;
    let mut conf = HaproxyConf::default();
    let mut defaults = Defaults::default();
    let mut named: BTreeMap<String, Defaults> = BTreeMap::new();
    for src in sources {
        conf.files.push(src.name.clone());
        let mut section = Section::None;
        for (i, line) in src.text.strip_prefix('\u{feff}').unwrap_or(&src.text).lines().enumerate() {
            let ws = words(line);
            let Some(key) = ws.first().map(String::as_str) else { continue };
            let at = Pos::new(&src.name, i + 1);
            let arg = |n: usize| ws.get(n).map(String::as_str);
            let is_section = matches!(key, "global" | "defaults" | "frontend" | "backend" | "listen") || OTHER_SECTIONS.contains(&key);
            if is_section {
                // the section before ends first: a defaults section applies from the next line on
                finish(std::mem::replace(&mut section, Section::None), &mut conf, &mut defaults, &mut named);
            }
            let starts = match key {
                "global" => Some(Section::Global),
                "defaults" => {
                    let name = arg(1).filter(|n| *n != "from").unwrap_or("").to_string();
                    let base = from_of(&ws).and_then(|f| named.get(f).cloned()).unwrap_or_default();
                    Some(Section::Defaults(name, base))
                }
                "frontend" | "backend" | "listen" => {
                    let kind = match key {
                        "frontend" => ProxyKind::Frontend,
                        "backend" => ProxyKind::Backend,
                        _ => ProxyKind::Listen,
                    };
                    let d = from_of(&ws).and_then(|f| named.get(f).cloned()).unwrap_or_else(|| defaults.clone());
                    let name = arg(1).unwrap_or("").to_string();
                    Some(Section::Proxy(Box::new(Proxy {
                        kind,
                        name,
                        at: at.clone(),
                        d,
                        binds: vec![],
                        default_backend: None,
                        use_backends: vec![],
                        servers: vec![],
                        stats_enabled: false,
                        stats_uri: None,
                        stats_auth: false,
                    })))
                }
                k if OTHER_SECTIONS.contains(&k) => Some(Section::Other),
                _ => None,
            };
            if let Some(next) = starts {
                section = next;
                continue;
            }
            match &mut section {
                Section::Global => global_line(&ws, at, &mut conf),
                Section::Defaults(_, d) => {
                    defaults_line(&ws, d, &at, &mut conf.invalid);
                }
                Section::Proxy(p) => proxy_line(&ws, at, p, &mut conf.invalid),
                Section::None | Section::Other => conf.skipped += 1,
            }
        }
        finish(section, &mut conf, &mut defaults, &mut named);
    }
    Ok(conf)
}

fn from_of(ws: &[String]) -> Option<&str> {
    ws.iter().position(|w| w == "from").and_then(|i| ws.get(i + 1)).map(String::as_str)
}

fn global_line(ws: &[String], at: Pos, conf: &mut HaproxyConf) {
    if ws.first().map(String::as_str) != Some("stats") || ws.get(1).map(String::as_str) != Some("socket") {
        return;
    }
    let Some(addr) = ws.get(2) else { return };
    let mut level = "user".to_string();
    let mut mode = None;
    let mut it = ws.iter().skip(3);
    while let Some(w) = it.next() {
        match w.as_str() {
            "level" => level = it.next().cloned().unwrap_or(level),
            "mode" => mode = it.next().cloned(),
            _ => {}
        }
    }
    conf.stats_sockets.push(StatsSocket { address: addr_of(addr), level, mode, at });
}

/// Check timings haproxy refuses, as [`Invalid`]s at `at`.
fn refused(found: Vec<(String, String, String)>, at: &Pos, out: &mut Vec<Invalid>) {
    for (keyword, value, why) in found {
        let effect = format!("{why}: haproxy refuses the line and does not load the configuration");
        out.push(Invalid { at: at.clone(), keyword, value, effect, fatal: true });
    }
}

/// The lines a defaults section and a proxy share: mode, check options, default-server, timeouts.
/// Returns whether the line was one of them.
fn defaults_line(ws: &[String], d: &mut Defaults, at: &Pos, bad: &mut Vec<Invalid>) -> bool {
    let a = |n: usize| ws.get(n).map(String::as_str);
    let (no, ws) = match ws.first().map(String::as_str) {
        Some("no") => (true, ws.get(1..).unwrap_or(&[])),
        _ => (false, ws),
    };
    let a1 = a(if no { 2 } else { 1 });
    match (ws.first().map(String::as_str), a1) {
        (Some("mode"), Some("tcp")) => d.mode = Some(Mode::Tcp),
        (Some("mode"), Some("http")) => d.mode = Some(Mode::Http),
        (Some("option"), Some("ssl-hello-chk")) => d.checks.ssl_hello = !no,
        (Some("option"), Some("tcp-check")) => d.checks.tcp_check = !no,
        (Some("option"), Some("httpchk")) => {
            d.checks.httpchk = if no {
                None
            } else {
                let rest: Vec<&str> = ws.iter().skip(2).map(String::as_str).collect();
                let (m, u) = match rest.as_slice() {
                    [] => ("OPTIONS", "/"),
                    [uri] => ("OPTIONS", *uri),
                    [m, u, ..] => (*m, *u),
                };
                Some((m.to_string(), u.to_string()))
            }
        }
        (Some("http-check"), Some("expect")) => d.checks.http_check_expect = Some(ws.iter().skip(2).cloned().collect::<Vec<_>>().join(" ")),
        (Some("http-check"), Some("connect")) => d.checks.http_check_ssl = ws.iter().any(|w| w == "ssl"),
        (Some("http-check"), Some("send")) => {
            let get = |k: &str| ws.iter().position(|w| w == k).and_then(|i| ws.get(i + 1)).cloned();
            let (m0, u0) = d.checks.httpchk.clone().unwrap_or(("OPTIONS".into(), "/".into()));
            d.checks.httpchk = Some((get("meth").unwrap_or(m0), get("uri").unwrap_or(u0)));
        }
        (Some("default-server"), _) => refused(d.server.read(ws.get(1..).unwrap_or(&[])), at, bad),
        (Some("timeout"), Some(name)) => {
            if let Some(v) = ws.get(2).and_then(|v| time_ms(v)) {
                d.timeouts.insert(name.to_string(), v);
            }
        }
        _ => return false,
    }
    true
}

fn proxy_line(ws: &[String], at: Pos, p: &mut Proxy, bad: &mut Vec<Invalid>) {
    if defaults_line(ws, &mut p.d, &at, bad) {
        return;
    }
    let a = |n: usize| ws.get(n).map(String::as_str);
    match (a(0), a(1)) {
        (Some("bind"), Some(addrs)) => {
            let ssl = ws.iter().skip(2).any(|w| w == "ssl");
            for one in addrs.split(',').filter(|s| !s.is_empty()) {
                p.binds.push(Bind { address: addr_of(one), ssl, at: at.clone() });
            }
        }
        (Some("default_backend"), Some(b)) => p.default_backend = Some(b.to_string()),
        (Some("use_backend"), Some(b)) => p.use_backends.push(b.to_string()),
        (Some("server"), Some(name)) => {
            let addr = a(2).unwrap_or("").to_string();
            let mut params = Params::default();
            refused(params.read(ws.get(3..).unwrap_or(&[])), &at, bad);
            p.servers.push((name.to_string(), addr, params, at));
        }
        (Some("stats"), Some("enable")) => p.stats_enabled = true,
        (Some("stats"), Some("uri")) => p.stats_uri = a(2).map(str::to_string),
        (Some("stats"), Some("auth")) => p.stats_auth = true,
        _ => {}
    }
}

fn server_of(name: String, addr: String, own: Params, d: &Params, at: Pos) -> Server {
    let Addr::Inet { host, port } = addr_of(&addr) else {
        return server_with(name, addr, None, own, d, at);
    };
    server_with(name, host, port, own, d, at)
}

fn server_with(name: String, address: String, port: Option<u16>, own: Params, d: &Params, at: Pos) -> Server {
    Server {
        name,
        address,
        port,
        check: own.check.or(d.check).unwrap_or(false),
        check_ssl: own.check_ssl.or(d.check_ssl).unwrap_or(false),
        ssl: own.ssl.or(d.ssl).unwrap_or(false),
        verify: own.verify.or(d.verify.clone()),
        inter_ms: own.inter_ms.or(d.inter_ms).unwrap_or(DEFAULT_INTER_MS),
        fall: own.fall.or(d.fall).unwrap_or(DEFAULT_FALL),
        rise: own.rise.or(d.rise).unwrap_or(DEFAULT_RISE),
        backup: own.backup.or(d.backup).unwrap_or(false),
        disabled: own.disabled.or(d.disabled).unwrap_or(false),
        weight: own.weight.or(d.weight).unwrap_or(1),
        at,
    }
}

fn finish(section: Section, conf: &mut HaproxyConf, defaults: &mut Defaults, named: &mut BTreeMap<String, Defaults>) {
    match section {
        Section::Defaults(name, d) => {
            if !name.is_empty() {
                named.insert(name, d.clone());
            }
            *defaults = d;
        }
        Section::Proxy(p) => {
            let p = *p;
            let mode = p.d.mode.unwrap_or(Mode::Tcp);
            if p.kind != ProxyKind::Backend && (p.stats_enabled || p.stats_uri.is_some()) {
                conf.stats_pages.push(StatsPage {
                    proxy: p.name.clone(),
                    binds: p.binds.clone(),
                    uri: p.stats_uri.clone().unwrap_or_else(|| DEFAULT_STATS_URI.to_string()),
                    auth: p.stats_auth,
                    at: p.at.clone(),
                });
            }
            if p.kind != ProxyKind::Backend {
                conf.frontends.push(Frontend {
                    name: p.name.clone(),
                    kind: p.kind,
                    binds: p.binds,
                    mode,
                    default_backend: p.default_backend,
                    use_backends: p.use_backends,
                    at: p.at.clone(),
                });
            }
            if p.kind != ProxyKind::Frontend {
                let servers = p.servers.into_iter().map(|(n, a, own, at)| server_of(n, a, own, &p.d.server, at)).collect();
                conf.backends.push(Backend {
                    name: p.name,
                    kind: p.kind,
                    mode,
                    checks: p.d.checks,
                    servers,
                    timeouts: p.d.timeouts,
                    at: p.at,
                });
            }
        }
        Section::None | Section::Global | Section::Other => {}
    }
}
