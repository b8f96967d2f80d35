//! A host plan drafted from what a live cluster's API shows (`kockpit plan --from-cluster`): its nodes
//! with their addresses and roles, the control-plane endpoint of the kubeconfig as the VIP, the
//! Kubernetes version, and what kubeadm or KubeKey left behind, as comments. Text in, text out: the
//! facts are gathered by the caller (read-only, GET and LIST only).
//!
//! The draft is written in the plan's own TOML format and read back with [`Plan::parse_toml`] before it
//! is handed out: `kockpit plan` accepts it as it is. What the API cannot know (SSH access, dedicated
//! load-balancer hosts) is left to the user, in comments.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use super::{DEFAULT_API_PORT, Plan};

/// KubeKey's name for the control-plane endpoint.
pub const KUBEKEY_DOMAIN: &str = "lb.kubesphere.local";

/// What the API (and the kubeconfig) tell of a cluster.
#[derive(Debug, Clone)]
pub struct ClusterFacts {
    /// The kubeconfig context.
    pub context: String,
    /// The kubeconfig's cluster name for that context.
    pub cluster: String,
    /// The server URL of the kubeconfig: the control-plane endpoint.
    pub server: String,
    /// What the endpoint's host name resolved to (empty for an address); Err: why it did not.
    pub resolved: Result<Vec<IpAddr>, String>,
    /// `gitVersion` of `GET /version`.
    pub version: Option<String>,
    pub nodes: Vec<NodeFacts>,
    /// (pod, node) of the etcd static pods in kube-system (component=etcd, or named etcd-NODE).
    pub etcd_pods: Vec<(String, String)>,
    /// kubeadm's ClusterConfiguration (the kubeadm-config ConfigMap in kube-system), as YAML text.
    pub kubeadm_config: Option<String>,
}

/// One node as the API shows it.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    pub name: String,
    pub internal_ips: Vec<IpAddr>,
    pub external_ips: Vec<IpAddr>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

const ROLE_LABEL: &str = "node-role.kubernetes.io/";
const CRI_SOCKET: &str = "kubeadm.alpha.kubernetes.io/cri-socket";

impl NodeFacts {
    fn has_role(&self, role: &str) -> bool {
        self.labels.contains_key(&format!("{ROLE_LABEL}{role}"))
    }
    fn is_master(&self) -> bool {
        self.has_role("control-plane") || self.has_role("master")
    }
}

/// `https://host:port/path` -> (host, port); the port defaults to 443, an IPv6 host loses its brackets.
pub fn server_host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.trim().split_once("://").map_or(url.trim(), |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok().filter(|p| *p != 0)?,
        None => 443,
    };
    Some((host.to_string(), port))
}

/// A TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// One host of the draft, or why a node could not be one.
struct Drafted<'a> {
    node: &'a NodeFacts,
    address: Option<IpAddr>,
    note: Option<String>,
    master: bool,
    etcd: bool,
    worker: bool,
}

/// Where the load balancer is, judged from the endpoint.
struct Front {
    lb: &'static str,
    vip: Option<(IpAddr, u16)>,
    domain: Option<String>,
    comments: Vec<String>,
    /// The VIP is elsewhere: dedicated load balancers the user fills in.
    lb_stub: bool,
}

fn front(f: &ClusterFacts, hosts: &[Drafted]) -> Front {
    let mut out = Front { lb: "none", vip: None, domain: None, comments: Vec::new(), lb_stub: false };
    let Some((host, port)) = server_host_port(&f.server) else {
        out.comments.push(format!("the kubeconfig's server {:?} names no host: fill in [vip] by hand", f.server));
        return out;
    };
    let kubekey = host.eq_ignore_ascii_case(KUBEKEY_DOMAIN);
    let address = match host.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            out.domain = Some(host.clone());
            match &f.resolved {
                Ok(ips) => ips.iter().find(|ip| !ip.is_loopback()).or(ips.first()).copied(),
                Err(why) => {
                    out.comments.push(format!("{host} does not resolve here ({why})"));
                    None
                }
            }
        }
    };
    if kubekey {
        out.comments.push(format!("{KUBEKEY_DOMAIN} is KubeKey's name for the control-plane endpoint"));
    }
    let Some(ip) = address else {
        if kubekey {
            out.lb = "local-proxy";
            out.comments.push(
                "KubeKey's internal load balancer (haproxy on every worker, no VIP) assumed; with an external one, \
                 put its VIP in [vip] and set load_balancer"
                    .into(),
            );
        } else {
            out.comments.push("no VIP drafted: fill in [vip] and load_balancer".into());
        }
        return out;
    };
    if ip.is_loopback() {
        out.lb = if kubekey { "local-proxy" } else { "none" };
        out.comments.push(format!(
            "the endpoint {host}:{port} is on this machine (a tunnel or a local proxy): no VIP drafted; \
             fill in [vip] with the address the nodes use"
        ));
        return out;
    }
    if let Some(h) = hosts.iter().find(|h| h.address == Some(ip)) {
        out.comments.push(format!(
            "the kubeconfig talks to {}'s apiserver directly ({ip}): no VIP in front of it; if keepalived carries one \
             on the masters, put it in [vip] and set load_balancer = \"masters\"",
            h.node.name
        ));
        return out;
    }
    out.vip = Some((ip, port));
    if port != DEFAULT_API_PORT {
        out.lb = "masters";
        out.comments.push(format!(
            "the VIP listens on {port}, not the apiservers' {DEFAULT_API_PORT}: keepalived and haproxy on the masters \
             assumed (their apiservers hold {DEFAULT_API_PORT}); with dedicated LB hosts, add them and set \"dedicated\""
        ));
    } else {
        out.lb_stub = true;
        out.comments.push(format!(
            "{ip} is no node's address: dedicated load balancers carry it. Add them below ([[hosts]] with \
             roles = [\"lb\"]), then set load_balancer = \"dedicated\" (kockpit then reads keepalived and haproxy there)"
        ));
    }
    out
}

/// Lines of kubeadm's ClusterConfiguration worth a comment.
fn kubeadm_lines(cfg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_etcd = false;
    for line in cfg.lines() {
        let t = line.trim_end();
        let top = !t.starts_with(' ');
        if top {
            in_etcd = t.starts_with("etcd:");
        }
        let key = t.trim_start();
        let wanted = top && ["kubernetesVersion:", "controlPlaneEndpoint:", "clusterName:"].iter().any(|k| key.starts_with(k));
        let etcd_kind = in_etcd && (key == "local:" || key == "external:" || key.starts_with("endpoints:"));
        if wanted {
            out.push(key.to_string());
        } else if etcd_kind {
            out.push(format!("etcd {}", key.trim_end_matches(':')));
        }
    }
    out
}

/// The value of a top-level `key:` of kubeadm's ClusterConfiguration.
fn kubeadm_value(cfg: &str, key: &str) -> Option<String> {
    cfg.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|v| !v.is_empty())
}

/// The draft plan for `f`, as TOML, checked by reading it back; Err when no plan can be drafted (no
/// node is a master: a host plan needs one).
pub fn draft_toml(f: &ClusterFacts) -> Result<String, String> {
    let etcd_nodes: BTreeSet<&str> = f.etcd_pods.iter().map(|(_, n)| n.as_str()).collect();
    let mut hosts: Vec<Drafted> = Vec::new();
    let mut taken: BTreeSet<IpAddr> = BTreeSet::new();
    for n in &f.nodes {
        let master = n.is_master();
        let etcd = etcd_nodes.contains(n.name.as_str()) || n.has_role("etcd");
        let worker = n.has_role("worker") || !(master || etcd);
        let (address, mut note) = match (n.internal_ips.first(), n.external_ips.first()) {
            (Some(ip), _) => (Some(*ip), None),
            (None, Some(ip)) => (Some(*ip), Some(format!("no InternalIP: its ExternalIP {ip} is used"))),
            (None, None) => (None, Some("no InternalIP nor ExternalIP in its status: add its address".to_string())),
        };
        let address = match address {
            Some(ip) if !taken.insert(ip) => {
                note = Some(format!("its address {ip} is another node's too: give it its own"));
                None
            }
            a => a,
        };
        hosts.push(Drafted { node: n, address, note, master, etcd, worker });
    }
    hosts.sort_by_key(|h| (!h.master, !h.etcd, h.node.name.clone()));
    if !hosts.iter().any(|h| h.master && h.address.is_some()) {
        return Err(format!(
            "no node with an address is a master (labels {ROLE_LABEL}control-plane or {ROLE_LABEL}master) among {} node(s): \
             a host plan needs one. kockpit without a plan opens this cluster from its kubeconfig as it is",
            f.nodes.len()
        ));
    }
    let masters: BTreeSet<&str> = hosts.iter().filter(|h| h.master).map(|h| h.node.name.as_str()).collect();
    let etcd_set: BTreeSet<&str> = hosts.iter().filter(|h| h.etcd).map(|h| h.node.name.as_str()).collect();
    let stacked = etcd_set.is_empty() || etcd_set == masters;
    let kubekey = f.server.contains(KUBEKEY_DOMAIN);
    let fr = front(f, &hosts);

    let mut o = String::new();
    let _ = writeln!(o, "# Drafted by `kockpit plan --from-cluster` from context {} ({})", q(&f.context), f.server);
    let _ = writeln!(o, "# What the API cannot tell is yours to add: SSH access ([access], ssh_host), load-balancer hosts,");
    let _ = writeln!(o, "# sizes. Check it with `kockpit plan FILE`; the format: docs/plan-format.md.");
    if let Some(cfg) = &f.kubeadm_config {
        let _ = writeln!(o, "# kubeadm (kubeadm-config in kube-system):");
        for l in kubeadm_lines(cfg) {
            let _ = writeln!(o, "#   {l}");
        }
    }
    if kubekey {
        let _ =
            writeln!(o, "# KubeKey: the endpoint is {KUBEKEY_DOMAIN}; a KubeKey Cluster file (config-sample.yaml) is read as a plan too");
    }
    let name = f.kubeadm_config.as_deref().and_then(|c| kubeadm_value(c, "clusterName"));
    let name = name.or_else(|| Some(f.cluster.clone()).filter(|c| !c.trim().is_empty())).unwrap_or_else(|| f.context.clone());
    let name = if name.trim().is_empty() { "cluster".to_string() } else { name };
    let _ = writeln!(o, "\n[cluster]\nname = {}", q(&name));
    if let Some(v) = &f.version {
        let _ = writeln!(o, "kubernetes_version = {}", q(v));
    }
    if let Some((ip, port)) = fr.vip {
        let _ = writeln!(o, "\n[vip]\naddress = {}\nport = {port}", q(&ip.to_string()));
        if let Some(d) = &fr.domain {
            let _ = writeln!(o, "domain = {}", q(d));
        }
    }
    let _ = writeln!(o, "\n[topology]");
    for c in &fr.comments {
        let _ = writeln!(o, "# {c}");
    }
    let _ = writeln!(o, "load_balancer = {}", q(fr.lb));
    let deploy = if !f.etcd_pods.is_empty() { "static-pod" } else { "systemd" };
    if f.etcd_pods.is_empty() {
        let _ = writeln!(
            o,
            "# no etcd static pod in kube-system: etcd runs outside the kubelet (KubeKey's systemd etcd, or an external \
             cluster); mark its hosts with the etcd role"
        );
    }
    let _ = writeln!(o, "etcd = {}", q(if stacked { "stacked" } else { "external" }));
    let _ = writeln!(o, "etcd_deploy = {}", q(deploy));
    let _ =
        writeln!(o, "\n[access]\nkube_context = {}\nreadonly = true   # a draft opens read-only until you say otherwise", q(&f.context));

    for h in &hosts {
        let mut roles = Vec::new();
        for (has, r) in [(h.master, "master"), (h.etcd, "etcd"), (h.worker, "worker")] {
            if has {
                roles.push(q(r));
            }
        }
        let cri = h.node.annotations.get(CRI_SOCKET);
        let _ = writeln!(o);
        if let Some(n) = &h.note {
            let _ = writeln!(o, "# {}: {n}", h.node.name);
        }
        let pfx = if h.address.is_some() { "" } else { "# " };
        let _ = writeln!(o, "{pfx}[[hosts]]");
        let _ = writeln!(o, "{pfx}name = {}", q(&h.node.name));
        let _ = writeln!(o, "{pfx}address = {}", q(&h.address.map(|a| a.to_string()).unwrap_or_default()));
        let _ = writeln!(o, "{pfx}roles = [{}]", roles.join(", "));
        if let Some(c) = cri {
            let _ = writeln!(o, "# kubeadm cri-socket: {c}");
        }
    }
    if fr.lb_stub {
        let _ = writeln!(o, "\n# The load balancers carrying the VIP (then load_balancer = \"dedicated\" above):");
        for i in 1..=2 {
            let _ = writeln!(o, "# [[hosts]]\n# name = \"lb{i}\"\n# address = \"\"\n# roles = [\"lb\"]");
        }
    }
    Plan::parse_toml(Path::new("draft.toml"), &o).map_err(|e| format!("the draft does not read back as a plan: {e}\n{o}"))?;
    Ok(o)
}

#[cfg(test)]
mod tests;
