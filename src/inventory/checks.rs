//! What both plan formats share: telling them apart, and the checks of hosts and addresses.

use std::net::IpAddr;

use super::Host;

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

/// Characters that reorder how text is shown (a name that reads `master1` on screen but is another).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Checks a host name: not empty, no whitespace, no control or bidirectional-override characters.
pub(super) fn check_host_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("empty host name: expected a name like \"master1\"".to_owned())
    } else if name.chars().any(|c| c.is_control() || is_bidi_control(c) || matches!(c, '\u{200b}'..='\u{200d}' | '\u{feff}')) {
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

/// The message for an empty plan file.
pub(super) const EMPTY_MESSAGE: &str =
    "the file is empty: expected a host plan with a [cluster] section and [[hosts]] (or a KubeKey Cluster file)";
