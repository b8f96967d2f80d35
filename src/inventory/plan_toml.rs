//! Reading kockpit TOML plans (`docs/plan-format.md`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;

use super::checks::{EMPTY_MESSAGE, HostField, check_host_name, check_unique, parse_ip};
use super::{
    Access, CephPlan, CephVia, CertsPlan, ClusterInfo, DEFAULT_API_PORT, DrillCommands, EtcdPlan, EtcdTopology, Host, LbSettings,
    LbTopology, Plan, PlanSource, ROLE_NAMES, Roles, Size, Topology, Vip,
};
use crate::error::FileError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a host plan table")]
struct RawPlan {
    cluster: Option<Spanned<RawCluster>>,
    vip: Option<Spanned<RawVip>>,
    topology: Option<Spanned<RawTopology>>,
    lb: Option<LbSettings>,
    ceph: Option<Spanned<CephPlan>>,
    certs: Option<CertsPlan>,
    etcd: Option<Spanned<RawEtcd>>,
    access: Option<RawAccess>,
    drills: Option<RawDrills>,
    hosts: Option<Spanned<Vec<Spanned<RawHost>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [etcd] table")]
struct RawEtcd {
    snapshot_dirs: Option<Vec<Spanned<String>>>,
    snapshot_max_age_hours: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [cluster] table")]
struct RawCluster {
    name: Spanned<String>,
    kubernetes_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [vip] table")]
struct RawVip {
    address: Spanned<String>,
    port: Option<Spanned<u16>>,
    interface: Option<Spanned<String>>,
    domain: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [topology] table")]
struct RawTopology {
    load_balancer: Option<Spanned<String>>,
    etcd: Option<Spanned<String>>,
    etcd_deploy: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, expecting = "an [access] table")]
struct RawAccess {
    ssh_config: String,
    kubeconfig: String,
    kube_context: String,
    readonly: bool,
    accept_new_host_keys: bool,
    allow_drills: bool,
    login_timeout_secs: Option<Spanned<u64>>,
    sudo: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, expecting = "a [drills] table")]
struct RawDrills {
    stop: Option<Spanned<String>>,
    kill: Option<Spanned<String>>,
    start: Option<Spanned<String>>,
    cut: Option<Spanned<String>>,
    heal: Option<Spanned<String>>,
    timeout_secs: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[hosts]] table")]
struct RawHost {
    name: Spanned<String>,
    address: Spanned<String>,
    internal_address: Option<Spanned<String>>,
    ssh_host: Option<String>,
    roles: Option<Spanned<Vec<Spanned<String>>>>,
    size: Option<Spanned<RawSize>>,
    os: Option<String>,
    kernel: Option<String>,
    notes: Option<String>,
}

/// `size = "8C-32G-150G"` or `size = { cpu = 8, memory_gb = 32, disk_gb = 150 }`.
enum RawSize {
    Text(String),
    Table(SizeTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a size table like { cpu = 8, memory_gb = 32, disk_gb = 150 }")]
struct SizeTable {
    cpu: u32,
    memory_gb: u32,
    disk_gb: Option<u32>,
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl<'de> Visitor<'de> for SizeVisitor {
            type Value = RawSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a size like "8C-32G-150G" or a table like { cpu = 8, memory_gb = 32, disk_gb = 150 }"#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize::Text(v.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSize, A::Error> {
                SizeTable::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawSize::Table)
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A semantic error: a byte span of the source and a message.
type Failure = (usize, String);

pub(super) fn parse(path: &Path, src: &str) -> Result<Plan, FileError> {
    if is_blank(src) {
        return Err(FileError::whole(path, EMPTY_MESSAGE));
    }
    let raw: RawPlan = toml::from_str(src).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        FileError::at_offset(path, src, offset, crate::error::humanize(e.message()))
    })?;
    let plan = build(path, raw).map_err(|(offset, message)| FileError::at_offset(path, src, offset, message))?;
    if let Err((field, message)) = super::checks::check_lb(&plan.lb) {
        return Err(FileError::at_offset(path, src, super::checks::key_offset(src, "lb", field), message));
    }
    Ok(plan)
}

/// Whether the TOML text has nothing but blank lines and comments.
fn is_blank(src: &str) -> bool {
    src.lines().map(str::trim).all(|l| l.is_empty() || l.starts_with('#'))
}

fn build(path: &Path, raw: RawPlan) -> Result<Plan, Failure> {
    let RawPlan { cluster, vip, topology, lb, ceph, certs, etcd, access, drills, hosts } = raw;
    let etcd = match etcd {
        Some(e) => check_etcd(e)?,
        None => EtcdPlan::default(),
    };
    let Some(cluster) = cluster else {
        return Err((0, r#"missing [cluster] section: expected [cluster] with name = "..." "#.trim_end().to_owned()));
    };
    let cluster_at = cluster.span().start;
    let RawCluster { name, kubernetes_version } = cluster.into_inner();
    if name.get_ref().trim().is_empty() {
        return Err((name.span().start, r#"empty cluster name: expected a name like "prod-bj""#.to_owned()));
    }
    super::checks::check_cluster_name(name.get_ref()).map_err(|m| (name.span().start, m))?;

    let (topology, lb_at) = match topology {
        Some(t) => {
            let t_at = t.span().start;
            let RawTopology { load_balancer, etcd, etcd_deploy } = t.into_inner();
            let lb_at = load_balancer.as_ref().map_or(t_at, |l| l.span().start);
            let topology = Topology { load_balancer: choice(load_balancer)?, etcd: choice(etcd)?, etcd_deploy: choice(etcd_deploy)? };
            (topology, lb_at)
        }
        None => (Topology::default(), cluster_at),
    };

    let vip = vip.map(build_vip).transpose()?;
    if vip.is_none() && matches!(topology.load_balancer, LbTopology::Dedicated | LbTopology::Masters) {
        return Err((
            lb_at,
            format!(
                "missing [vip] section: a `{}` load balancer carries a VIP; expected [vip] with address = \"...\" \
                 (or topology.load_balancer = \"local-proxy\" or \"none\")",
                topology.load_balancer
            ),
        ));
    }

    let Some(hosts) = hosts else {
        return Err((cluster_at, "no [[hosts]]: expected at least one [[hosts]] entry with the master role".to_owned()));
    };
    let hosts_at = hosts.span().start;
    let raw_hosts = hosts.into_inner();
    let mut spans = Vec::with_capacity(raw_hosts.len());
    let mut hosts = Vec::with_capacity(raw_hosts.len());
    for raw_host in raw_hosts {
        let (host, host_spans) = build_host(raw_host, topology.etcd)?;
        hosts.push(host);
        spans.push(host_spans);
    }
    check_unique(&hosts, |i, field| match field {
        HostField::Name => spans[i].name.start,
        HostField::Address => spans[i].address.start,
        HostField::InternalAddress => spans[i].internal_address.start,
    })?;

    if !hosts.iter().any(|h| h.roles.master) {
        return Err((hosts_at, format!("no master: expected at least one host with roles = [\"master\"] ({ROLE_NAMES})")));
    }
    if topology.load_balancer == LbTopology::Dedicated && !hosts.iter().any(|h| h.roles.lb) {
        return Err((
            lb_at,
            "a `dedicated` load balancer needs lb hosts: expected at least one host with roles = [\"lb\"] \
             (or topology.load_balancer = \"masters\", \"local-proxy\" or \"none\")"
                .to_owned(),
        ));
    }

    let ceph = ceph.map(check_ceph).transpose()?;
    let access = access.unwrap_or_default();
    let login_timeout_secs = match access.login_timeout_secs {
        None => None,
        Some(t) if (1..=3600).contains(t.get_ref()) => Some(t.into_inner()),
        Some(t) => return Err((t.span().start, "[access]: login_timeout_secs must be between 1 and 3600".to_owned())),
    };
    let drills = build_drills(drills.unwrap_or_default())?;
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    Ok(Plan {
        cluster: ClusterInfo { name: name.into_inner(), kubernetes_version },
        vip,
        topology,
        lb: lb.unwrap_or_default(),
        access: Access {
            ssh_config: non_empty(access.ssh_config).map(PathBuf::from),
            kubeconfig: non_empty(access.kubeconfig).map(PathBuf::from),
            kube_context: non_empty(access.kube_context),
            readonly: access.readonly,
            accept_new_host_keys: access.accept_new_host_keys,
            allow_drills: access.allow_drills,
            login_timeout_secs,
            sudo: access.sudo,
        },
        ceph,
        certs: certs.unwrap_or_default(),
        etcd,
        drills,
        hosts,
        source: PlanSource::Kockpit { path: path.to_owned() },
    })
}

/// The `[etcd]` section's values that serde cannot check: every snapshot directory is an absolute
/// path of printable characters.
fn check_etcd(e: Spanned<RawEtcd>) -> Result<EtcdPlan, Failure> {
    let at = e.span().start;
    let RawEtcd { snapshot_dirs, snapshot_max_age_hours } = e.into_inner();
    let default = EtcdPlan::default();
    let dirs = match snapshot_dirs {
        None => default.snapshot_dirs,
        Some(ds) => {
            if let Some(d) = ds.get(16) {
                return Err((d.span().start, format!("[etcd] snapshot_dirs: {} directories; at most 16", ds.len())));
            }
            let mut out: Vec<String> = vec![];
            for d in ds {
                let (v, off) = (d.get_ref(), d.span().start);
                let why = if v.chars().any(char::is_control) {
                    Some("has control characters")
                } else if !v.starts_with('/') {
                    Some("is not an absolute path (a directory on the etcd hosts)")
                } else if v.trim_end_matches('/').is_empty() {
                    Some("is the root directory: name the directory the snapshots are kept in")
                } else if v.split('/').any(|c| c == "..") {
                    Some("has a `..` component: name the directory itself")
                } else if v.len() > 1024 {
                    Some("is longer than 1024 bytes")
                } else if out.iter().any(|o| o == v) {
                    Some("is listed twice")
                } else {
                    None
                };
                if let Some(why) = why {
                    let shown: String = v.chars().filter(|c| !c.is_control()).take(80).collect();
                    return Err((off, format!("[etcd] snapshot_dirs: {shown:?} {why}")));
                }
                out.push(d.into_inner());
            }
            out
        }
    };
    let hours = snapshot_max_age_hours.unwrap_or(default.snapshot_max_age_hours);
    if hours > 87_600 {
        return Err((at, format!("[etcd] snapshot_max_age_hours = {hours}: at most 87600 (ten years); 0 turns the finding off")));
    }
    Ok(EtcdPlan { snapshot_dirs: dirs, snapshot_max_age_hours: hours })
}

/// The `[ceph]` section's values that serde cannot check.
fn check_ceph(c: Spanned<CephPlan>) -> Result<CephPlan, Failure> {
    let at = c.span().start;
    let c = c.into_inner();
    if c.connect_timeout_secs == 0 || c.interval_secs == 0 {
        return Err((at, "[ceph]: connect_timeout_secs and interval_secs must be at least 1".to_owned()));
    }
    let k8s_name = |s: &str| !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if c.via == CephVia::Rook && !(k8s_name(&c.namespace) && k8s_name(&c.toolbox)) {
        return Err((
            at,
            "[ceph]: via = \"rook\" needs namespace and toolbox as Kubernetes names (like \"rook-ceph\", \"rook-ceph-tools\")".to_owned(),
        ));
    }
    if c.host.chars().any(|ch| ch.is_whitespace() || ch == '\'') {
        return Err((at, format!("[ceph]: host {:?} is neither a plan host name nor an SSH alias", c.host)));
    }
    Ok(c)
}

/// `[drills]`: the defaults for what is absent; every template checked for its placeholders.
fn build_drills(raw: RawDrills) -> Result<DrillCommands, Failure> {
    let RawDrills { stop, kill, start, cut, heal, timeout_secs } = raw;
    let mut d = DrillCommands::default();
    // a placeholder's offset in the file: the string's span starts at its opening quote
    let in_file = |s: &Spanned<String>, at: usize| s.span().start + 1 + at;
    let remote = |key: &str, v: Option<Spanned<String>>, needs: &[&str], into: &mut String| -> Result<(), Failure> {
        let Some(v) = v else { return Ok(()) };
        if v.get_ref().trim().is_empty() {
            return Err((v.span().start, format!("empty drills.{key}: expected a shell command, or leave the key out for the default")));
        }
        super::template::check(v.get_ref(), &["host", "service", "signal"]).map_err(|(at, m)| (in_file(&v, at), m))?;
        let names = super::template::placeholders(v.get_ref());
        if let Some(missing) = needs.iter().find(|n| !names.iter().any(|(_, name)| name == *n)) {
            return Err((v.span().start, format!("drills.{key} must contain {{{missing}}}")));
        }
        *into = v.into_inner();
        Ok(())
    };
    remote("stop", stop, &["service"], &mut d.stop)?;
    remote("kill", kill, &["service", "signal"], &mut d.kill)?;
    remote("start", start, &["service"], &mut d.start)?;
    let local = |v: Option<Spanned<String>>| -> Result<Option<(String, usize)>, Failure> {
        let Some(v) = v.filter(|v| !v.get_ref().trim().is_empty()) else { return Ok(None) };
        super::template::check(v.get_ref(), &["host"]).map_err(|(at, m)| (in_file(&v, at), m))?;
        Ok(Some((v.get_ref().clone(), v.span().start)))
    };
    match (local(cut)?, local(heal)?) {
        (Some((c, _)), Some((h, _))) => (d.cut, d.heal) = (Some(c), Some(h)),
        (None, None) => {}
        (Some((_, at)), None) | (None, Some((_, at))) => {
            return Err((at, "drills.cut and drills.heal go together: a link kockpit cuts it must be able to restore".to_owned()));
        }
    }
    if let Some(t) = timeout_secs {
        if *t.get_ref() == 0 {
            return Err((t.span().start, "invalid timeout_secs 0: expected a number of seconds above 0".to_owned()));
        }
        d.timeout_secs = t.into_inner();
    }
    Ok(d)
}

/// Reads one of a fixed set of values (`"dedicated"`...), the default when absent.
fn choice<T>(value: Option<Spanned<String>>) -> Result<T, Failure>
where
    T: std::str::FromStr<Err = String> + Default,
{
    value.map_or(Ok(T::default()), |v| v.get_ref().parse().map_err(|m| (v.span().start, m)))
}

fn build_vip(vip: Spanned<RawVip>) -> Result<Vip, Failure> {
    let RawVip { address, port, interface, domain } = vip.into_inner();
    let ip = parse_ip(address.get_ref(), "VIP address").map_err(|m| (address.span().start, m))?;
    let port = match port {
        Some(p) if *p.get_ref() == 0 => {
            return Err((p.span().start, "invalid port 0: expected a port from 1 to 65535".to_owned()));
        }
        Some(p) => p.into_inner(),
        None => DEFAULT_API_PORT,
    };
    if let Some(i) = &interface {
        super::checks::check_interface(i.get_ref()).map_err(|m| (i.span().start, m))?;
    }
    Ok(Vip { address: ip, port, interface: interface.map(Spanned::into_inner), domain })
}

/// Where a host's fields are, for errors found after all hosts are read.
struct HostSpans {
    name: Range<usize>,
    address: Range<usize>,
    internal_address: Range<usize>,
}

fn build_host(raw: Spanned<RawHost>, etcd: EtcdTopology) -> Result<(Host, HostSpans), Failure> {
    let host_at = raw.span().start;
    let RawHost { name, address, internal_address, ssh_host, roles, size, os, kernel, notes } = raw.into_inner();
    check_host_name(name.get_ref()).map_err(|m| (name.span().start, m))?;
    let ip = parse_ip(address.get_ref(), "address").map_err(|m| (address.span().start, m))?;
    let internal =
        internal_address.as_ref().map(|a| parse_ip(a.get_ref(), "internal_address").map_err(|m| (a.span().start, m))).transpose()?;

    let no_roles = || format!("host `{}` has no roles: expected roles = [...] with at least one of {ROLE_NAMES}", name.get_ref());
    let Some(role_list) = roles else {
        return Err((host_at, no_roles()));
    };
    if role_list.get_ref().is_empty() {
        return Err((role_list.span().start, no_roles()));
    }
    let mut host_roles = Roles::default();
    for role in role_list.get_ref() {
        if !host_roles.add(role.get_ref()) {
            return Err((role.span().start, format!("unknown role {:?}: expected one of {ROLE_NAMES}", role.get_ref())));
        }
    }
    if etcd == EtcdTopology::Stacked && host_roles.master {
        host_roles.etcd = true;
    }

    let size = size.map(build_size).transpose()?;
    let spans = HostSpans {
        name: name.span(),
        address: address.span(),
        internal_address: internal_address.as_ref().map_or(address.span(), Spanned::span),
    };
    let name = name.into_inner();
    let ssh_host = ssh_host.filter(|s| !s.is_empty()).unwrap_or_else(|| name.clone());
    let host = Host { name, address: ip, internal_address: internal, ssh_host, roles: host_roles, size, os, kernel, notes };
    Ok((host, spans))
}

fn build_size(size: Spanned<RawSize>) -> Result<Size, Failure> {
    let at = size.span().start;
    match size.into_inner() {
        RawSize::Text(text) => text.parse().map_err(|e: super::ParseSizeError| (at, e.to_string())),
        RawSize::Table(SizeTable { cpu, memory_gb, disk_gb }) => {
            let zero = if cpu == 0 {
                Some("cpu")
            } else if memory_gb == 0 {
                Some("memory_gb")
            } else if disk_gb == Some(0) {
                Some("disk_gb")
            } else {
                None
            };
            match zero {
                Some(key) => Err((at, format!("invalid size: {key} is 0; expected a positive number"))),
                None => Ok(Size { cpu, memory_gb, disk_gb }),
            }
        }
    }
}

#[cfg(test)]
mod tests;
