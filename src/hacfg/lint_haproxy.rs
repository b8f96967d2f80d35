//! Findings on one haproxy configuration.

use super::haproxy::{APISERVER_PORT, Addr, HaproxyConf};
use super::lint::{Level, Lint};
use super::secs;

/// The line [`lint_haproxy`] proposes when there is no way to read the servers' states: Debian's
/// own default, at the level kockpit's haproxy drain needs (`level user` is enough to watch).
pub const STATS_SOCKET_LINE: &str = "stats socket /run/haproxy/admin.sock mode 660 level admin";

#[derive(Debug, Clone, Copy, Default)]
pub struct HaproxyLintOptions {
    /// The file is a master's: kube-apiserver listens on 6443 on the same host.
    pub on_master: bool,
    /// The port clients reach the apiservers on through the VIP, when known.
    pub vip_port: Option<u16>,
}

/// Findings on a haproxy configuration; `subject` names it (a host or the file).
pub fn lint_haproxy(conf: &HaproxyConf, subject: &str, opts: &HaproxyLintOptions) -> Vec<Lint> {
    let mut out = super::lint::invalid_values(&conf.invalid, subject);
    let mut push = |level, code, at: Option<&super::Pos>, message: String| {
        out.push(Lint { level, code, subject: subject.to_string(), at: at.cloned(), message });
    };
    for b in &conf.backends {
        if b.checks.ssl_hello {
            let wrapped: Vec<&str> = b.servers.iter().filter(|s| s.check_ssl).map(|s| s.name.as_str()).collect();
            if !wrapped.is_empty() {
                push(
                    Level::Critical,
                    "ssl-hello-with-check-ssl",
                    Some(&b.at),
                    format!(
                        "{}: option ssl-hello-chk sends its own SSLv3 hello inside the TLS connection check-ssl opens: {} will be DOWN (L6RSP); drop one of the two",
                        b.name,
                        if wrapped.len() == b.servers.len() { "every server".to_string() } else { super::lint::and_list(&wrapped) }
                    ),
                );
            }
        }
    }
    // a configuration haproxy refuses to load takes nothing out, in any time
    let loads = !conf.invalid.iter().any(|i| i.fatal);
    for b in conf.apiserver_backends(opts.vip_port).into_iter().filter(|_| loads) {
        let checked: Vec<_> = b.servers.iter().filter(|s| s.check && !s.disabled).collect();
        if let Some(slow) = checked.iter().max_by_key(|s| s.down_after_ms()) {
            let total = slow.down_after_ms() as f64 / 1000.0;
            let level = if total > 10.0 { Level::Warn } else { Level::Info };
            push(
                level,
                "down-detection",
                Some(&slow.at),
                format!(
                    "{}: inter {} x fall {} = {} before a dead apiserver is taken out",
                    b.name,
                    secs(slow.inter_ms as f64 / 1000.0),
                    slow.fall,
                    secs(total)
                ),
            );
        }
        for s in b.servers.iter().filter(|s| !s.check && !s.disabled) {
            push(
                Level::Warn,
                "server-without-check",
                Some(&s.at),
                format!(
                    "{}: server {} ({}:{}) has no `check`: a dead apiserver is never taken out",
                    b.name,
                    s.name,
                    s.address,
                    port(s.port)
                ),
            );
        }
    }
    if conf.stats_sockets.is_empty() && conf.stats_pages.is_empty() {
        push(
            Level::Warn,
            "no-stats",
            None,
            format!("no stats socket and no stats page: nothing shows the servers' states; add to `global`: {STATS_SOCKET_LINE}"),
        );
    }
    if opts.on_master {
        for f in &conf.frontends {
            for b in f.binds.iter().filter(|b| b.address.port() == Some(APISERVER_PORT)) {
                let host = match &b.address {
                    Addr::Inet { host, .. } if !host.is_empty() => host.as_str(),
                    _ => "*",
                };
                push(
                    Level::Critical,
                    "apiserver-port-conflict",
                    Some(&b.at),
                    format!(
                        "{}: binds {host}:{APISERVER_PORT} on a master, where kube-apiserver listens on {APISERVER_PORT}: one of the two cannot start",
                        f.name
                    ),
                );
            }
        }
    }
    out
}

fn port(p: Option<u16>) -> String {
    p.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
}
