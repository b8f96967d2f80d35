//! What both plan formats share: telling them apart, and the checks of hosts and addresses.

use std::net::IpAddr;

use super::Host;
use crate::text::is_bidi_control;

/// What a plan file is, judged by its content.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Format<'a> {
    KubeKey,
    /// YAML with an `apiVersion` that is not KubeKey's (a kubeconfig, a manifest...).
    OtherYaml {
        api_version: &'a str,
        offset: usize,
    },
    Toml,
}

/// Tells KubeKey YAML from TOML by a top-level `apiVersion:` line (which TOML cannot have).
pub(super) fn detect(src: &str) -> Format<'_> {
    let mut other = None;
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("apiVersion:") {
            let value = rest.trim().trim_matches(|c| c == '"' || c == '\'');
            if value.starts_with("kubekey.kubesphere.io") {
                return Format::KubeKey;
            }
            if other.is_none() {
                let value_at = offset + line.find(value).unwrap_or(0);
                other = Some(Format::OtherYaml { api_version: value, offset: value_at });
            }
        }
        offset += line.len();
    }
    other.unwrap_or(Format::Toml)
}

/// A host field that an error shared by both formats can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HostField {
    Name,
    Address,
    InternalAddress,
}

/// Checks that host names, addresses and internal addresses are unique; the error points at the
/// second of two equal values, whose byte offset `at(host index, field)` gives.
pub(super) fn check_unique(hosts: &[Host], at: impl Fn(usize, HostField) -> usize) -> Result<(), (usize, String)> {
    use std::collections::HashMap;
    // one pass with indexes (a plan of tens of thousands of hosts stays linear)
    let (mut names, mut folded, mut addresses, mut internals) = (HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
    for (i, host) in hosts.iter().enumerate() {
        if let Some(&f) = names.get(host.name.as_str()) {
            let first: &Host = &hosts[f];
            return Err((at(i, HostField::Name), format!("duplicate host name `{}`: host names must be unique", first.name)));
        }
        if let Some(&f) = folded.get(&host.name.to_ascii_lowercase()) {
            let first: &Host = &hosts[f];
            return Err((
                at(i, HostField::Name),
                format!(
                    "host names `{}` and `{}` differ only in case: DNS and SSH take them for one host; host names must be unique",
                    first.name, host.name
                ),
            ));
        }
        if let Some(&f) = addresses.get(&host.address) {
            let first: &Host = &hosts[f];
            return Err((
                at(i, HostField::Address),
                format!("duplicate address {}: host `{}` already has it; addresses must be unique", host.address, first.name),
            ));
        }
        if let Some(internal) = host.internal_address {
            if let Some(&f) = internals.get(&internal) {
                let first: &Host = &hosts[f];
                return Err((
                    at(i, HostField::InternalAddress),
                    format!("duplicate internal address {internal}: host `{}` already has it; addresses must be unique", first.name),
                ));
            }
            internals.insert(internal, i);
        }
        names.insert(host.name.as_str(), i);
        folded.insert(host.name.to_ascii_lowercase(), i);
        addresses.insert(host.address, i);
    }
    Ok(())
}

/// Reads an IP address, saying what was expected if it is not one.
pub(super) fn parse_ip(text: &str, what: &str) -> Result<IpAddr, String> {
    text.trim().parse().map_err(|_| format!("invalid {what} {text:?}: expected an IPv4 or IPv6 address like \"10.0.0.11\""))
}

/// A character that makes a name read as another: control, invisible (zero-width) or bidirectional.
fn misleading(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{200b}'..='\u{200d}' | '\u{feff}')
}

/// Checks a host name: not empty, no whitespace, no control or bidirectional-override characters.
pub(super) fn check_host_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("empty host name: expected a name like \"master1\"".to_owned())
    } else if name.chars().any(misleading) {
        Err(format!(
            "invalid host name {:?}: it holds control, invisible or bidirectional-override characters, which make a name read as another",
            name.escape_default().to_string()
        ))
    } else if name.chars().any(|c| c.is_whitespace()) {
        Err(format!("invalid host name {name:?}: expected a name without spaces, like \"master1\""))
    } else {
        Ok(())
    }
}

/// Checks the cluster's name, which heads every screen and report: no control, invisible or
/// bidirectional-override characters (spaces are fine).
pub(super) fn check_cluster_name(name: &str) -> Result<(), String> {
    if name.chars().any(misleading) {
        Err(format!("invalid cluster name \"{}\": it holds control, invisible or bidirectional-override characters", shown(name)))
    } else if name.chars().count() > 253 {
        Err(format!("the cluster name is {} characters long: at most 253", name.chars().count()))
    } else {
        Ok(())
    }
}

/// The message for an empty plan file.
pub(super) const EMPTY_MESSAGE: &str =
    "the file is empty: expected a host plan with a [cluster] section and [[hosts]] (or a KubeKey Cluster file)";

/// Checks a network interface's name as Linux takes it: 1 to 15 bytes of letters, digits, `_`, `.`,
/// `-` and `@` (no `/`, `:`, whitespace or control characters), not `.` or `..`.
pub(super) fn check_interface(name: &str) -> Result<(), String> {
    let shown = shown(name);
    if name.is_empty() {
        Err("[vip] interface is empty: name the interface keepalived puts the VIP on, like \"eth0\", or leave it out".to_owned())
    } else if name == "." || name == ".." {
        Err(format!("[vip] interface \"{shown}\" is not an interface name: Linux refuses `.` and `..`"))
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-@".contains(c)) {
        Err(format!(
            "[vip] interface \"{shown}\" is not an interface name: letters, digits, `_`, `.`, `-` and `@` only, like \"eth0\" or \"bond0.100\""
        ))
    } else if name.len() > 15 {
        Err(format!("[vip] interface \"{shown}\" is {} bytes long: Linux names an interface in at most 15", name.len()))
    } else {
        Ok(())
    }
}

/// Checks the `[lb]` values serde cannot: the paths given are absolute, of printable characters and
/// at most 1024 bytes; the commands hold no NUL (nothing can send one to a host). The field at fault
/// and why.
pub(super) fn check_lb(lb: &super::LbSettings) -> Result<(), (&'static str, String)> {
    let paths = [
        ("track_file", &lb.track_file),
        ("keepalived_json", &lb.keepalived_json),
        ("keepalived_state_file", &lb.keepalived_state_file),
        ("keepalived_conf", &lb.keepalived_conf),
    ];
    for (field, v) in paths {
        let shown = shown(v);
        let why = if v.is_empty() {
            None
        } else if v.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            Some("holds control characters")
        } else if !v.starts_with('/') {
            Some("is not an absolute path (a file on the load balancers)")
        } else if v.len() > 1024 {
            Some("is longer than 1024 bytes")
        } else {
            None
        };
        if let Some(why) = why {
            return Err((field, format!("[lb] {field} \"{shown}\" {why}")));
        }
    }
    let socket = &lb.haproxy_socket;
    if socket.chars().any(|c| c.is_control()) || socket.len() > 1024 {
        let shown: String = socket.escape_default().to_string().chars().take(80).collect();
        return Err((
            "haproxy_socket",
            format!(
                "[lb] haproxy_socket \"{shown}\": expected a socket's path or ADDRESS:PORT of printable characters, at most 1024 bytes"
            ),
        ));
    }
    if lb.haproxy_backend.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err((
            "haproxy_backend",
            format!("[lb] haproxy_backend \"{}\": a backend's name has no spaces or control characters", shown(&lb.haproxy_backend)),
        ));
    }
    for (field, v) in
        [("keepalived_reload", &lb.keepalived_reload), ("keepalived_stop", &lb.keepalived_stop), ("keepalived_start", &lb.keepalived_start)]
    {
        if v.contains('\0') {
            return Err((field, format!("[lb] {field} holds a NUL character, which no host can be sent")));
        }
    }
    Ok(())
}

/// A value as an error shows it: escaped (no control character reaches the terminal), cut at 80
/// characters with `…` when longer.
fn shown(v: &str) -> String {
    let e = v.escape_default().to_string();
    if e.chars().count() > 80 { format!("{}…", e.chars().take(80).collect::<String>()) } else { e }
}

/// Where `key = ...` of the `[table]` section is in `src` (the table's header when the key is not
/// found on a line of its own; 0 without the table), for an error about a value.
pub(super) fn key_offset(src: &str, table: &str, key: &str) -> usize {
    let header = format!("[{table}]");
    let mut offset = 0;
    let mut table_at = None;
    for line in src.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            if table_at.is_some() {
                break;
            }
            if t == header || t.starts_with(&format!("{header} ")) || t.starts_with(&format!("{header}#")) {
                table_at = Some(offset);
            }
        } else if table_at.is_some() && t.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')) {
            return offset + (line.len() - line.trim_start().len());
        }
        offset += line.len();
    }
    table_at.unwrap_or(0)
}
