//! The kubeconfig on its own: whether one is usable (decided from the file, without the network), and
//! what a read-only look at its cluster gives for a drafted host plan (`kockpit plan --from-cluster`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::Kubeconfig;
use serde_json::Value;

use super::client::{Access, Kube, KubeError};
use crate::inventory::draft::{ClusterFacts, NodeFacts, server_host_port};

/// A kubeconfig that parses and names a context that exists, with that context's cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usable {
    /// The file given, or None for KUBECONFIG (its files merged) or ~/.kube/config.
    pub path: Option<PathBuf>,
    pub context: String,
    /// The context's cluster and its server URL.
    pub cluster: String,
    pub server: String,
    /// The cluster's CA as the kubeconfig gives it: `certificate-authority-data` (base64 of PEM), or
    /// the `certificate-authority` file.
    pub ca_data: Option<String>,
    pub ca_file: Option<PathBuf>,
}

/// Where kockpit looks for a kubeconfig, for messages.
pub const WHERE: &str = "KUBECONFIG, ~/.kube/config";

/// Whether there is a usable kubeconfig: `path`, else KUBECONFIG, else ~/.kube/config; it must parse
/// and name a current context (or `context`, which must exist) whose cluster has a server. Reads files
/// only: nothing is sent. Err says why not, Ok(None) that there is no kubeconfig at all.
pub fn usable(path: Option<&Path>, context: Option<&str>) -> Result<Option<Usable>, String> {
    let read = |p: &Path| {
        check_file(p)?;
        Kubeconfig::read_from(p).map_err(|e| {
            // kube's message may name the file already
            let e = super::client::plain(&e.to_string());
            if e.contains(&*p.to_string_lossy()) { e } else { format!("{}: {e}", p.display()) }
        })
    };
    let kc = match path {
        Some(p) => read(p)?,
        None => {
            let env = std::env::var_os("KUBECONFIG").filter(|v| std::env::split_paths(v).any(|p| !p.as_os_str().is_empty()));
            let default = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config"));
            if env.is_none() && !default.as_ref().is_some_and(|p| p.exists()) {
                return Ok(None);
            }
            // KUBECONFIG set to files none of which exists: a typo, said, not taken for "no kubeconfig"
            if let Some(v) = &env
                && !std::env::split_paths(v).any(|p| p.exists())
            {
                return Err(format!("KUBECONFIG={}: no such file", v.to_string_lossy()));
            }
            // each file read on its own, so an error names its file; merged as kubectl merges them
            let files: Vec<PathBuf> = match &env {
                Some(v) => std::env::split_paths(v).filter(|p| !p.as_os_str().is_empty() && p.exists()).collect(),
                None => default.into_iter().collect(),
            };
            let mut kc = Kubeconfig::default();
            for f in &files {
                kc = kc.merge(read(f)?).map_err(|e| format!("{}: {e}", f.display()))?;
            }
            // what `of` finds wrong is said with the file(s) it was found in
            let named: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            return of(&kc, path, context).map(Some).map_err(|e| format!("{}: {e}", named.join(", ")));
        }
    };
    of(&kc, path, context).map(Some).map_err(|e| match path {
        Some(p) => format!("{}: {e}", p.display()),
        None => e,
    })
}

/// The most a kubeconfig file may hold (a real one is a few KiB; one with many clusters, some hundreds).
pub const MAX_BYTES: u64 = 4 << 20;

/// A kubeconfig file must be a regular file of at most [`MAX_BYTES`]: a FIFO would block the reader,
/// `/dev/zero` would fill memory.
pub fn check_file(p: &Path) -> Result<(), String> {
    let m = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
    if !m.is_file() {
        return Err(format!("{}: not a regular file", p.display()));
    }
    if m.len() > MAX_BYTES {
        return Err(format!("{}: {} bytes, more than a kubeconfig holds (at most {MAX_BYTES})", p.display(), m.len()));
    }
    Ok(())
}

/// [`check_file`] on the file kube would read: `path`, else every existing file of KUBECONFIG, else
/// ~/.kube/config when it exists.
pub fn check_files(path: Option<&Path>) -> Result<(), String> {
    if let Some(p) = path {
        return check_file(p);
    }
    let env = std::env::var_os("KUBECONFIG").filter(|v| std::env::split_paths(v).any(|p| !p.as_os_str().is_empty()));
    let files: Vec<PathBuf> = match env {
        Some(v) => std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty() && p.exists()).collect(),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")).filter(|p| p.exists()).into_iter().collect(),
    };
    files.iter().try_for_each(|f| check_file(f))
}

/// The context a kubeconfig names, and its cluster's server.
pub fn of(kc: &Kubeconfig, path: Option<&Path>, context: Option<&str>) -> Result<Usable, String> {
    let name = match context {
        Some(c) => c.to_string(),
        None => kc.current_context.clone().filter(|c| !c.is_empty()).ok_or("it names no current context (use --context)")?,
    };
    let ctx = kc.contexts.iter().find(|c| c.name == name).ok_or_else(|| {
        let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        format!("no context {name:?} in it (contexts: {})", if names.is_empty() { "none".into() } else { names.join(", ") })
    })?;
    let cluster = ctx.context.as_ref().map(|c| c.cluster.clone()).unwrap_or_default();
    let c = kc.clusters.iter().find(|c| c.name == cluster).and_then(|c| c.cluster.as_ref());
    let server = c.and_then(|c| c.server.clone()).ok_or_else(|| format!("context {name:?}: its cluster {cluster:?} has no server"))?;
    let ca_data = c.and_then(|c| c.certificate_authority_data.clone()).filter(|d| !d.trim().is_empty());
    let ca_file = c.and_then(|c| c.certificate_authority.clone()).filter(|f| !f.is_empty()).map(PathBuf::from);
    Ok(Usable { path: path.map(Path::to_path_buf), context: name, cluster, server, ca_data, ca_file })
}

/// Everything a drafted plan needs, asked with a read-only client (GET only): the version, the nodes,
/// the etcd static pods of kube-system and kubeadm's ClusterConfiguration (when there is one), and
/// what the endpoint's host name resolves to.
pub async fn gather(u: &Usable) -> Result<ClusterFacts, KubeError> {
    let access = Access { kubeconfig: u.path.clone(), context: Some(u.context.clone()), readonly: true };
    let kube = Kube::connect(&access).await?;
    let limit = Duration::from_secs(60);
    let version: Value = kube.get_json("/version").await?;
    let nodes: Value = kube.get_json_within("/api/v1/nodes", limit).await?;
    let pods: Value = kube.get_json_within("/api/v1/namespaces/kube-system/pods", limit).await?;
    let kubeadm = match kube.get_json::<Value>("/api/v1/namespaces/kube-system/configmaps/kubeadm-config").await {
        Ok(cm) => cm["data"]["ClusterConfiguration"].as_str().map(str::to_string),
        Err(e) if matches!(e.code(), Some(403 | 404)) => None,
        Err(e) => return Err(e),
    };
    let resolved = match server_host_port(&u.server) {
        Some((host, _)) if host.parse::<IpAddr>().is_ok() => Ok(vec![]),
        Some((host, port)) => match tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host.as_str(), port))).await {
            Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 5 s".into()),
        },
        None => Ok(vec![]),
    };
    let items = |v: &Value| v["items"].as_array().cloned().unwrap_or_default();
    Ok(ClusterFacts {
        context: u.context.clone(),
        cluster: u.cluster.clone(),
        server: u.server.clone(),
        resolved,
        version: version["gitVersion"].as_str().map(str::to_string),
        nodes: items(&nodes).iter().map(node_facts).collect(),
        etcd_pods: items(&pods).iter().filter_map(etcd_pod).collect(),
        kubeadm_config: kubeadm,
    })
}

fn strings(v: &Value) -> BTreeMap<String, String> {
    v.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect()).unwrap_or_default()
}

fn node_facts(n: &Value) -> NodeFacts {
    let addrs = n["status"]["addresses"].as_array().cloned().unwrap_or_default();
    let of_type = |t: &str| -> Vec<IpAddr> {
        addrs.iter().filter(|a| a["type"] == t).filter_map(|a| a["address"].as_str().and_then(|s| s.parse().ok())).collect()
    };
    NodeFacts {
        name: n["metadata"]["name"].as_str().unwrap_or("").to_string(),
        internal_ips: of_type("InternalIP"),
        external_ips: of_type("ExternalIP"),
        labels: strings(&n["metadata"]["labels"]),
        annotations: strings(&n["metadata"]["annotations"]),
    }
}

/// (pod, node) of an etcd static pod: labelled component=etcd (kubeadm), or named etcd-NODE.
fn etcd_pod(p: &Value) -> Option<(String, String)> {
    let name = p["metadata"]["name"].as_str()?;
    let node = p["spec"]["nodeName"].as_str().filter(|n| !n.is_empty())?;
    let labelled = p["metadata"]["labels"]["component"] == "etcd";
    (labelled || name == format!("etcd-{node}")).then(|| (name.to_string(), node.to_string()))
}

/// KUBECONFIG's files merged as kubectl merges them: the files that exist, each bounded and read on its
/// own (kube's own reader fails on a listed file that does not exist). None when KUBECONFIG is unset.
pub fn merged_env() -> Option<Result<Kubeconfig, String>> {
    let v = std::env::var_os("KUBECONFIG").filter(|v| std::env::split_paths(v).any(|p| !p.as_os_str().is_empty()))?;
    let files: Vec<PathBuf> = std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty() && p.exists()).collect();
    if files.is_empty() {
        return Some(Err(format!("KUBECONFIG={}: no such file", v.to_string_lossy())));
    }
    let mut kc = Kubeconfig::default();
    for f in &files {
        let next = check_file(f)
            .and_then(|_| Kubeconfig::read_from(f).map_err(|e| format!("{}: {}", f.display(), super::client::plain(&e.to_string()))));
        match next.and_then(|n| kc.clone().merge(n).map_err(|e| format!("{}: {e}", f.display()))) {
            Ok(m) => kc = m,
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(kc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://10.0.0.100:6443"}
- name: empty
  cluster: {}
contexts:
- name: admin@prod
  context: {cluster: prod, user: admin}
- name: broken
  context: {cluster: empty, user: admin}
current-context: admin@prod
users:
- name: admin
  user: {token: x}
"#;

    #[test]
    fn a_usable_kubeconfig_names_a_context_whose_cluster_has_a_server() {
        let kc = Kubeconfig::from_yaml(KC).unwrap();
        let u = of(&kc, None, None).unwrap();
        assert_eq!((u.context.as_str(), u.cluster.as_str(), u.server.as_str()), ("admin@prod", "prod", "https://10.0.0.100:6443"));
        assert!(of(&kc, None, Some("nope")).unwrap_err().contains("no context \"nope\" in it (contexts: admin@prod, broken)"));
        assert!(of(&kc, None, Some("broken")).unwrap_err().contains("has no server"));
        let none = Kubeconfig::from_yaml(&KC.replace("current-context: admin@prod", "")).unwrap();
        assert!(of(&none, None, None).unwrap_err().contains("no current context"));
    }

    #[test]
    fn etcd_static_pods_by_label_or_name() {
        let pod = |name: &str, component: &str, node: &str| serde_json::json!({"metadata": {"name": name, "labels": {"component": component}}, "spec": {"nodeName": node}});
        assert_eq!(etcd_pod(&pod("etcd-m1", "etcd", "m1")), Some(("etcd-m1".into(), "m1".into())));
        assert_eq!(etcd_pod(&pod("etcd-m2", "", "m2")), Some(("etcd-m2".into(), "m2".into())));
        assert_eq!(etcd_pod(&pod("etcd-operator-x", "", "m2")), None);
        assert_eq!(etcd_pod(&pod("etcd-m3", "etcd", "")), None, "not bound: no node");
    }
}
