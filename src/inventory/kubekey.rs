//! Reading KubeKey `Cluster` files (`kubekey.kubesphere.io/v1alpha1` and `v1alpha2`).
//!
//! What kockpit takes from them:
//! - `metadata.name` and `spec.kubernetes.version`;
//! - `spec.hosts`: `name`, `address`, `internalAddress` (everything else, passwords first, is dropped);
//! - `spec.roleGroups`: `etcd`, `master` / `control-plane` (either, in both versions), `worker`, and
//!   `loadbalancer` / `lb` for dedicated load-balancer hosts (a kockpit extension: KubeKey itself does
//!   not deploy them, but kockpit watches them). Other groups (`registry`...) are ignored. Entries are
//!   host names or ranges like `node[2:10]`;
//! - `spec.controlPlaneEndpoint`: `internalLoadbalancer` `haproxy` is a proxy on every node
//!   (`local-proxy`), `kube-vip` a VIP on the masters (`masters`), none with an `address` an external or
//!   dedicated load balancer (`dedicated`), none without an address no load balancer (`none`);
//! - `spec.etcd.type`: `kubekey` (the default) is etcd as a systemd service, stacked when the etcd
//!   hosts are the masters and external otherwise; `kubeadm` is stacked static pods; `external` is
//!   external.
//!
//! Passwords never reach the plan, and every error message is scrubbed of the password values found
//! in the file, since YAML parser messages can quote values.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use super::checks::{EMPTY_MESSAGE, HostField, check_host_name, check_unique, parse_ip};
use super::locate::{find_key, find_token, find_value};
use super::{
    Access, ClusterInfo, DEFAULT_API_PORT, DrillCommands, EtcdDeploy, EtcdTopology, Host, LbSettings, LbTopology, Plan, PlanSource, Roles,
    Topology, Vip,
};
use crate::error::FileError;

const API_GROUP: &str = "kubekey.kubesphere.io/";
const VERSIONS: [&str; 2] = ["kubekey.kubesphere.io/v1alpha1", "kubekey.kubesphere.io/v1alpha2"];
const REDACTED: &str = "<redacted>";
/// Ranges longer than this are refused as typos (`node[1:10000]`).
const MAX_RANGE: u32 = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a YAML mapping with apiVersion and kind")]
struct Header {
    api_version: Option<String>,
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a KubeKey Cluster")]
struct KkCluster {
    metadata: Option<KkMetadata>,
    spec: Option<KkSpec>,
}

#[derive(Deserialize)]
#[serde(expecting = "a metadata mapping with a name")]
struct KkMetadata {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a spec mapping")]
struct KkSpec {
    hosts: Option<Vec<KkHost>>,
    role_groups: Option<KkRoleGroups>,
    control_plane_endpoint: Option<KkEndpoint>,
    kubernetes: Option<KkKubernetes>,
    etcd: Option<KkEtcd>,
}

/// A host; KubeKey's many other fields (user, password, port, arch...) are skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a host mapping like {name: node1, address: 10.0.0.1}")]
struct KkHost {
    name: String,
    address: String,
    internal_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a mapping of role groups to host lists")]
struct KkRoleGroups {
    etcd: Option<Vec<String>>,
    master: Option<Vec<String>>,
    #[serde(rename = "control-plane")]
    control_plane: Option<Vec<String>>,
    worker: Option<Vec<String>>,
    loadbalancer: Option<Vec<String>>,
    lb: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a controlPlaneEndpoint mapping")]
struct KkEndpoint {
    internal_loadbalancer: Option<String>,
    domain: Option<String>,
    address: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
#[serde(expecting = "a kubernetes mapping")]
struct KkKubernetes {
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an etcd mapping")]
struct KkEtcd {
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Where KubeKey's etcd backup timer writes (default /var/backups/kube_etcd).
    backup_dir: Option<String>,
    /// How often it writes, in minutes (KubeKey's default: 1440 now, 30 in older releases).
    backup_period: Option<u64>,
}

/// The `[etcd]` section KubeKey's backup settings mean: its directory, and a snapshot one and a half
/// periods old (at least an hour) is late. A period of 0 is KubeKey's default (1440 minutes); a
/// directory kockpit cannot list is an error at its line.
fn etcd_plan_of(src: &str, doc_start: usize, e: Option<&KkEtcd>) -> Result<super::EtcdPlan, Failure> {
    let dir = match e.and_then(|e| e.backup_dir.clone()) {
        None => super::KUBEKEY_BACKUP_DIR.to_string(),
        Some(d) if d.starts_with('/') && !d.chars().any(char::is_control) && !d.split('/').any(|c| c == "..") && d.len() <= 1024 => d,
        Some(d) => {
            let at = super::locate::find_key(src, doc_start, "backupDir").unwrap_or(doc_start);
            let shown: String = d.chars().filter(|c| !c.is_control()).take(80).collect();
            return Err((
                at,
                format!("spec.etcd.backupDir {shown:?}: kockpit lists it on the etcd hosts, so it must be an absolute path without `..`"),
            ));
        }
    };
    let period_min = e.and_then(|e| e.backup_period).filter(|p| *p > 0).unwrap_or(1440);
    Ok(super::EtcdPlan {
        snapshot_dirs: vec![dir],
        snapshot_max_age_hours: (period_min.saturating_mul(3) / 2).div_ceil(60).clamp(1, 87_600),
    })
}

/// A semantic error: a byte offset of the source and a message.
type Failure = (usize, String);

pub(super) fn parse(path: &Path, src: &str) -> Result<Plan, FileError> {
    if src.trim().is_empty() {
        return Err(FileError::whole(path, EMPTY_MESSAGE));
    }
    parse_unredacted(path, src).map_err(|mut e| {
        e.message = redact(&e.message, &secret_values(src));
        e
    })
}

fn parse_unredacted(path: &Path, src: &str) -> Result<Plan, FileError> {
    let yaml_error = |e: serde_yaml::Error| {
        let mut message = e.to_string();
        // libyaml also counts a lone `\r`, NEL, U+2028 and U+2029 as line breaks: the place is taken
        // from its byte offset, so lines are counted as every other file error counts them.
        let offset = match e.location() {
            Some(loc) => {
                let suffix = format!(" at line {} column {}", loc.line(), loc.column());
                message = message.replacen(&suffix, "", 1);
                loc.index()
            }
            None => 0,
        };
        FileError::at_offset(path, src, offset, crate::error::humanize(&message))
    };
    let at = |offset: usize, message: String| FileError::at_offset(path, src, offset, message);

    // Find the Cluster document: KubeKey files may carry more (a KubeSphere ClusterConfiguration).
    let mut found = None;
    let mut other = None;
    for (index, doc) in serde_yaml::Deserializer::from_str(src).enumerate() {
        let header = Header::deserialize(doc).map_err(yaml_error)?;
        let Some(api_version) = header.api_version.filter(|v| v.starts_with(API_GROUP)) else {
            continue;
        };
        if header.kind.as_deref() == Some("Cluster") {
            found = Some((index, api_version));
            break;
        }
        other.get_or_insert(header.kind);
    }
    let Some((index, api_version)) = found else {
        let message = match other {
            Some(Some(kind)) => format!("this KubeKey file has kind `{kind}`: expected kind `Cluster`"),
            Some(None) => "this KubeKey file has no kind: expected kind: Cluster".to_owned(),
            None => "expected a KubeKey Cluster document (apiVersion: kubekey.kubesphere.io/v1alpha2, kind: Cluster)".to_owned(),
        };
        let offset = find_key(src, 0, "kind").or_else(|| find_key(src, 0, "apiVersion")).unwrap_or(0);
        return Err(at(offset, message));
    };
    let doc_start = document_start(src, index);
    if !VERSIONS.contains(&api_version.as_str()) {
        let offset = find_value(src, doc_start, "apiVersion", &api_version, 0).unwrap_or(doc_start);
        return Err(at(offset, format!("unsupported apiVersion `{api_version}`: expected {} or {}", VERSIONS[0], VERSIONS[1])));
    }
    let cluster = serde_yaml::Deserializer::from_str(src).nth(index).map(KkCluster::deserialize).transpose().map_err(yaml_error)?;
    let Some(cluster) = cluster else {
        return Err(at(doc_start, "the Cluster document vanished on a second read".to_owned()));
    };
    build(path, src, doc_start, api_version, cluster).map_err(|(offset, message)| at(offset, message))
}

/// The byte offset where the `index`th YAML document of `src` starts (after its `---`, if any).
fn document_start(src: &str, index: usize) -> usize {
    let mut separators = Vec::new();
    let mut content_before_first = false;
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        if line == "---" || line.starts_with("---\n") || line.starts_with("--- ") || line.starts_with("---\r") {
            separators.push(offset + line.len());
        } else if separators.is_empty() && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            content_before_first = true;
        }
        offset += line.len();
    }
    let k = if content_before_first { index.checked_sub(1) } else { Some(index) };
    k.and_then(|k| separators.get(k).copied()).unwrap_or(0)
}

fn build(path: &Path, src: &str, doc_start: usize, api_version: String, cluster: KkCluster) -> Result<Plan, Failure> {
    let name = cluster.metadata.and_then(|m| m.name).filter(|n| !n.trim().is_empty()).ok_or_else(|| {
        let offset = find_key(src, doc_start, "metadata").unwrap_or(doc_start);
        (offset, "missing metadata.name: expected the cluster's name".to_owned())
    })?;
    super::checks::check_cluster_name(&name).map_err(|m| (find_key(src, doc_start, "metadata").unwrap_or(doc_start), m))?;
    let Some(spec) = cluster.spec else {
        return Err((doc_start, "missing spec: expected spec.hosts and spec.roleGroups".to_owned()));
    };
    let spec_at = find_key(src, doc_start, "spec").unwrap_or(doc_start);
    let hosts_at = find_key(src, spec_at, "hosts").unwrap_or(spec_at);
    let raw_hosts = spec.hosts.unwrap_or_default();
    if raw_hosts.is_empty() {
        return Err((hosts_at, "no hosts: expected spec.hosts to list the cluster's hosts".to_owned()));
    }

    // The offset of the `nth` host's value of `key`, counting earlier hosts with the same value,
    // so that a duplicate points at its second occurrence.
    let value_at = |i: usize, key: &str, value: &str, same: &dyn Fn(&KkHost) -> bool| {
        let nth = raw_hosts[..i].iter().filter(|h| same(h)).count();
        find_value(src, hosts_at, key, value.trim(), nth).unwrap_or(hosts_at)
    };
    let mut hosts = Vec::with_capacity(raw_hosts.len());
    for (i, raw) in raw_hosts.iter().enumerate() {
        check_host_name(&raw.name).map_err(|m| (value_at(i, "name", &raw.name, &|h| h.name == raw.name), m))?;
        let address =
            parse_ip(&raw.address, "address").map_err(|m| (value_at(i, "address", &raw.address, &|h| h.address == raw.address), m))?;
        let internal = match raw.internal_address.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                parse_ip(text, "internalAddress")
                    .map_err(|m| (value_at(i, "internalAddress", text, &|h| h.internal_address == raw.internal_address), m))?,
            ),
        };
        hosts.push(Host {
            name: raw.name.clone(),
            address,
            internal_address: internal,
            ssh_host: raw.name.clone(),
            roles: Roles::default(),
            size: None,
            os: None,
            kernel: None,
            notes: None,
        });
    }
    check_unique(&hosts, |i, field| {
        let raw = &raw_hosts[i];
        match field {
            HostField::Name => value_at(i, "name", &raw.name, &|h| h.name == raw.name),
            HostField::Address => value_at(i, "address", &raw.address, &|h| h.address == raw.address),
            HostField::InternalAddress => {
                let text = raw.internal_address.as_deref().unwrap_or_default();
                value_at(i, "internalAddress", text, &|h| h.internal_address == raw.internal_address)
            }
        }
    })?;

    // Roles.
    let groups_at = find_key(src, spec_at, "roleGroups").unwrap_or(spec_at);
    let mut etcd_members = BTreeSet::new();
    if let Some(groups) = spec.role_groups {
        let lists = [
            ("etcd", groups.etcd),
            ("master", groups.master),
            ("control-plane", groups.control_plane),
            ("worker", groups.worker),
            ("loadbalancer", groups.loadbalancer),
            ("lb", groups.lb),
        ];
        for (group, entries) in lists {
            let group_at = find_key(src, groups_at, group).unwrap_or(groups_at);
            for entry in entries.unwrap_or_default() {
                let entry_at = find_token(src, group_at, entry.trim()).unwrap_or(group_at);
                let names = expand(&entry).map_err(|m| (entry_at, format!("roleGroups.{group}: {m}")))?;
                for name in names {
                    let Some(i) = hosts.iter().position(|h| h.name == name) else {
                        let from = if name == entry.trim() { String::new() } else { format!(" (from `{}`)", entry.trim()) };
                        return Err((
                            entry_at,
                            format!(
                                "roleGroups.{group}: unknown host `{name}`{from}: expected a host of spec.hosts ({})",
                                name_list(&hosts)
                            ),
                        ));
                    };
                    let roles = &mut hosts[i].roles;
                    match group {
                        "etcd" => {
                            roles.etcd = true;
                            etcd_members.insert(i);
                        }
                        "master" | "control-plane" => roles.master = true,
                        "worker" => roles.worker = true,
                        _ => roles.lb = true,
                    }
                }
            }
        }
    }
    if !hosts.iter().any(|h| h.roles.master) {
        return Err((
            groups_at,
            "no control-plane host: expected roleGroups.control-plane (or master) to list at least one host".to_owned(),
        ));
    }

    // etcd.
    let masters: BTreeSet<usize> = hosts.iter().enumerate().filter(|(_, h)| h.roles.master).map(|(i, _)| i).collect();
    let etcd_plan = etcd_plan_of(src, doc_start, spec.etcd.as_ref())?;
    let etcd_type = spec.etcd.and_then(|e| e.kind).unwrap_or_default();
    let (etcd, etcd_deploy) = match etcd_type.trim() {
        "" | "kubekey" if etcd_members == masters => (EtcdTopology::Stacked, EtcdDeploy::Systemd),
        "" | "kubekey" => (EtcdTopology::External, EtcdDeploy::Systemd),
        "kubeadm" => (EtcdTopology::Stacked, EtcdDeploy::StaticPod),
        "external" => (EtcdTopology::External, EtcdDeploy::Systemd),
        other => {
            let offset = find_value(src, doc_start, "type", other, 0).unwrap_or(doc_start);
            return Err((offset, format!("unknown etcd type `{other}`: expected kubekey, kubeadm or external")));
        }
    };
    if etcd == EtcdTopology::Stacked {
        for host in hosts.iter_mut().filter(|h| h.roles.master) {
            host.roles.etcd = true;
        }
    }

    // The control-plane endpoint.
    let (load_balancer, vip) = match spec.control_plane_endpoint {
        Some(endpoint) => endpoint_topology(src, doc_start, endpoint)?,
        None => (LbTopology::None, None),
    };

    Ok(Plan {
        cluster: ClusterInfo { name, kubernetes_version: spec.kubernetes.and_then(|k| k.version).filter(|v| !v.trim().is_empty()) },
        vip,
        topology: Topology { load_balancer, etcd, etcd_deploy },
        lb: LbSettings::default(),
        access: Access::default(),
        ceph: None,
        certs: Default::default(),
        etcd: etcd_plan,
        drills: DrillCommands::default(),
        hosts,
        source: PlanSource::KubeKey { path: path.to_owned(), api_version },
    })
}

fn endpoint_topology(src: &str, doc_start: usize, endpoint: KkEndpoint) -> Result<(LbTopology, Option<Vip>), Failure> {
    let cpe_at = find_key(src, doc_start, "controlPlaneEndpoint").unwrap_or(doc_start);
    let non_empty = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let port = endpoint.port.unwrap_or(DEFAULT_API_PORT);
    if port == 0 {
        let offset = find_value(src, cpe_at, "port", "0", 0).unwrap_or(cpe_at);
        return Err((offset, "invalid port 0: expected a port from 1 to 65535".to_owned()));
    }
    let vip = match non_empty(endpoint.address) {
        Some(text) => {
            let address = parse_ip(&text, "controlPlaneEndpoint.address")
                .map_err(|m| (find_value(src, cpe_at, "address", &text, 0).unwrap_or(cpe_at), m))?;
            Some(Vip { address, port, interface: None, domain: non_empty(endpoint.domain) })
        }
        None => None,
    };
    let kind = non_empty(endpoint.internal_loadbalancer).unwrap_or_default();
    let kind_at = || find_value(src, cpe_at, "internalLoadbalancer", &kind, 0).unwrap_or(cpe_at);
    let topology = match kind.as_str() {
        "haproxy" => LbTopology::LocalProxy,
        "kube-vip" if vip.is_none() => {
            return Err((kind_at(), "internalLoadbalancer kube-vip needs a VIP: expected controlPlaneEndpoint.address".to_owned()));
        }
        "kube-vip" => LbTopology::Masters,
        "" if vip.is_some() => LbTopology::Dedicated,
        "" => LbTopology::None,
        other => {
            return Err((kind_at(), format!("unknown internalLoadbalancer `{other}`: expected haproxy, kube-vip or \"\"")));
        }
    };
    Ok((topology, vip))
}

/// The host names, for messages (the first few).
fn name_list(hosts: &[Host]) -> String {
    const SHOWN: usize = 8;
    let mut list: Vec<&str> = hosts.iter().take(SHOWN).map(|h| h.name.as_str()).collect();
    if hosts.len() > SHOWN {
        list.push("...");
    }
    list.join(", ")
}

/// Expands a roleGroups entry: `node1` is itself, `node[2:10]` is node2..node10 (inclusive), with a
/// suffix too (`k8s-node[1:3]-x`), keeping zero padding (`node[01:03]` is node01..node03).
fn expand(entry: &str) -> Result<Vec<String>, String> {
    let entry = entry.trim();
    let Some(open) = entry.find('[') else {
        if entry.contains(']') {
            return Err(bad_range(entry));
        }
        return Ok(vec![entry.to_owned()]);
    };
    let (prefix, rest) = entry.split_at(open);
    let Some((inner, suffix)) = rest[1..].split_once(']') else {
        return Err(bad_range(entry));
    };
    if suffix.contains(['[', ']']) {
        return Err(bad_range(entry));
    }
    let Some((from_text, to_text)) = inner.split_once(':') else {
        return Err(bad_range(entry));
    };
    let (from_text, to_text) = (from_text.trim(), to_text.trim());
    let number = |t: &str| t.parse::<u32>().ok().filter(|_| t.bytes().all(|b| b.is_ascii_digit()));
    let (Some(from), Some(to)) = (number(from_text), number(to_text)) else {
        return Err(bad_range(entry));
    };
    if from > to {
        return Err(format!("invalid host range `{entry}`: it starts at {from}, after its end {to}"));
    }
    if to - from >= MAX_RANGE {
        return Err(format!("invalid host range `{entry}`: more than {MAX_RANGE} hosts"));
    }
    // zero-padded as written (`node[001:120]`), up to the ten digits a host number can have
    if from_text.len() > 10 || to_text.len() > 10 {
        return Err(bad_range(entry));
    }
    let width = if from_text.len() > 1 && from_text.starts_with('0') { from_text.len() } else { 0 };
    Ok((from..=to).map(|n| format!("{prefix}{n:0width$}{suffix}")).collect())
}

fn bad_range(entry: &str) -> String {
    format!("invalid host range `{entry}`: expected a host name or a range like `node[2:10]`")
}

/// Words that mark a key whose value is a secret.
const SECRET_WORDS: [&str; 4] = ["password", "passwd", "secret", "token"];

/// The values of every key of `src` that looks secret (`password`, `passwd`, `secret`, `token`, in
/// any case, as part of a longer key too), as they may appear in a message: raw, unquoted, unescaped.
/// Longest first.
fn secret_values(src: &str) -> Vec<String> {
    let mut values = Vec::new();
    for line in src.lines() {
        let lower = line.to_ascii_lowercase();
        let bytes = lower.as_bytes();
        let mut from = 0;
        while let Some(at) = SECRET_WORDS.iter().filter_map(|w| lower[from..].find(w).map(|p| from + p)).min() {
            // The whole key; ASCII only, so `end` is a char boundary of `line` too.
            let mut end = at;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b'-')) {
                end += 1;
            }
            from = end.max(at + 1);
            let rest = line[end..].trim_start_matches(['"', '\'']).trim_start();
            if let Some(value) = rest.strip_prefix(':') {
                value_candidates(value.trim_start(), &mut values);
            }
        }
    }
    let mut escaped: Vec<String> = values.iter().map(|v| format!("{v:?}")).map(|q| q[1..q.len() - 1].to_owned()).collect();
    values.append(&mut escaped);
    values.retain(|v| !matches!(v.as_str(), "" | "|" | ">" | "|-" | ">-" | "~" | "null" | "Null" | "NULL" | "\"\"" | "''"));
    values.sort_by_key(|v| Reverse(v.len()));
    values.dedup();
    values
}

/// The ways a YAML scalar starting `value` may be read: quoted (inner text, unescaped) or plain (to
/// the end of the line, or to the next `,` `}` `]` in flow style).
fn value_candidates(value: &str, out: &mut Vec<String>) {
    if let Some(inner) = value.strip_prefix('"') {
        let mut escaped = false;
        let end = inner
            .char_indices()
            .find(|&(_, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            })
            .map_or(inner.len(), |(i, _)| i);
        let raw = &inner[..end];
        out.push(raw.to_owned());
        out.push(raw.replace("\\\"", "\"").replace("\\\\", "\\"));
    } else if let Some(inner) = value.strip_prefix('\'') {
        let mut end = inner.len();
        let mut chars = inner.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|&(_, next)| next == '\'') {
                    chars.next();
                } else {
                    end = i;
                    break;
                }
            }
        }
        out.push(inner[..end].to_owned());
        out.push(inner[..end].replace("''", "'"));
    } else {
        let line = value.split(" #").next().unwrap_or_default().trim();
        out.push(line.to_owned());
        if let Some(flow) = line.split([',', '}', ']']).next() {
            out.push(flow.trim().to_owned());
        }
    }
}

/// `message` with every secret replaced by `<redacted>`, in one pass (longest secret first).
fn redact(message: &str, secrets: &[String]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    'scan: while let Some(c) = rest.chars().next() {
        for secret in secrets {
            if let Some(after) = rest.strip_prefix(secret.as_str()) {
                out.push_str(REDACTED);
                rest = after;
                continue 'scan;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests;
