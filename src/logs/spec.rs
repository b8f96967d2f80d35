//! What can be tailed and how the app asks for it: a [`LogSpec`] names a source (a unit's journal or a
//! file on a host, a pod's containers, every pod of a workload), a [`LogRequest`] opens or closes one,
//! and a [`LogStatus`] tells how a source's streams are doing. Names and paths are checked here, before
//! any command or request is built from them.

use std::sync::Arc;

use serde::Serialize;

use crate::model::WorkloadKind;

/// Lines of history a new source starts with (journalctl -n, tail -n, tailLines).
pub const DEFAULT_TAIL: u32 = 100;
/// More history than this is not asked for: the buffer would only spill it.
pub const MAX_TAIL: u32 = 100_000;

/// One source of log lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum LogSpec {
    /// `journalctl -u UNIT` on a host of the plan, over SSH.
    Journal { host: String, unit: String },
    /// `tail -F PATH` on a host of the plan, over SSH.
    File { host: String, path: String },
    /// A pod's container (None: every container of the pod), through the Kubernetes API.
    Pod { namespace: String, pod: String, container: Option<String>, previous: bool },
    /// Every container of every pod a Deployment, DaemonSet or StatefulSet selects.
    Workload { namespace: String, kind: WorkloadKind, name: String, previous: bool },
}

impl LogSpec {
    /// Served by the Kubernetes API (else over SSH).
    pub fn is_kube(&self) -> bool {
        matches!(self, LogSpec::Pod { .. } | LogSpec::Workload { .. })
    }

    /// The host of an SSH source.
    pub fn host(&self) -> Option<&str> {
        match self {
            LogSpec::Journal { host, .. } | LogSpec::File { host, .. } => Some(host),
            _ => None,
        }
    }

    /// How the source is named on screen and in the CLI.
    pub fn label(&self) -> String {
        let prev = |p: bool| if p { " (previous)" } else { "" };
        match self {
            LogSpec::Journal { host, unit } => format!("journal {host} {unit}"),
            LogSpec::File { host, path } => format!("file {host} {path}"),
            LogSpec::Pod { namespace, pod, container: Some(c), previous } => format!("pod {namespace}/{pod}/{c}{}", prev(*previous)),
            LogSpec::Pod { namespace, pod, container: None, previous } => format!("pod {namespace}/{pod}/*{}", prev(*previous)),
            LogSpec::Workload { namespace, kind, name, previous } => {
                format!("{} {namespace}/{name}{}", kind.short(), prev(*previous))
            }
        }
    }

    /// Every name in the spec is one the command or request can carry safely.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            LogSpec::Journal { host, unit } => {
                valid_host(host)?;
                valid_unit(unit)
            }
            LogSpec::File { host, path } => {
                valid_host(host)?;
                valid_path(path)
            }
            LogSpec::Pod { namespace, pod, container, .. } => {
                valid_kube_name("namespace", namespace)?;
                valid_kube_name("pod", pod)?;
                container.as_deref().map_or(Ok(()), |c| valid_kube_name("container", c))
            }
            LogSpec::Workload { namespace, kind, name, .. } => {
                valid_kube_name("namespace", namespace)?;
                valid_kube_name("workload", name)?;
                match kind {
                    WorkloadKind::Deployment | WorkloadKind::DaemonSet | WorkloadKind::StatefulSet => Ok(()),
                }
            }
        }
    }

    /// Parse the CLI's forms: `HOST:UNIT` (journal), `HOST:/PATH` (file), `NS/POD[/CONTAINER]` (pod),
    /// `deploy|ds|sts/NS/NAME` (workload).
    pub fn parse_host(s: &str) -> Result<LogSpec, String> {
        let (host, what) = s.split_once(':').ok_or_else(|| format!("`{s}`: expected HOST:UNIT or HOST:/PATH"))?;
        let spec = if what.starts_with('/') {
            LogSpec::File { host: host.into(), path: what.into() }
        } else {
            LogSpec::Journal { host: host.into(), unit: what.into() }
        };
        spec.validate()?;
        Ok(spec)
    }

    /// `NS/POD`, `NS/POD/CONTAINER`, or `deploy/NS/NAME`, `ds/NS/NAME`, `sts/NS/NAME`.
    pub fn parse_pod(s: &str, previous: bool) -> Result<LogSpec, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let kind = match parts[0] {
            "deploy" | "deployment" => Some(WorkloadKind::Deployment),
            "ds" | "daemonset" => Some(WorkloadKind::DaemonSet),
            "sts" | "statefulset" => Some(WorkloadKind::StatefulSet),
            _ => None,
        };
        let spec = match (kind, parts.as_slice()) {
            (Some(kind), [_, ns, name]) => LogSpec::Workload { namespace: (*ns).into(), kind, name: (*name).into(), previous },
            (None, [ns, pod]) => LogSpec::Pod { namespace: (*ns).into(), pod: (*pod).into(), container: None, previous },
            (None, [ns, pod, c]) => LogSpec::Pod { namespace: (*ns).into(), pod: (*pod).into(), container: Some((*c).into()), previous },
            _ => return Err(format!("`{s}`: expected NS/POD, NS/POD/CONTAINER or deploy|ds|sts/NS/NAME")),
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// The tag of one pod container's lines.
pub fn pod_tag(namespace: &str, pod: &str, container: &str, previous: bool) -> Arc<str> {
    Arc::from(format!("pod {namespace}/{pod}/{container}{}", if previous { " (previous)" } else { "" }))
}

/// Open or close a source. Ids are chosen by the asker and unique per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRequest {
    /// Start tailing: `tail` lines of history, then (with `follow`) new lines as they are written.
    Open { id: u64, spec: LogSpec, tail: u32, follow: bool },
    /// Stop tailing: every stream of the source ends.
    Close { id: u64 },
}

impl LogRequest {
    pub fn id(&self) -> u64 {
        match self {
            LogRequest::Open { id, .. } | LogRequest::Close { id } => *id,
        }
    }
    /// An open request served by the Kubernetes API.
    pub fn is_kube(&self) -> bool {
        matches!(self, LogRequest::Open { spec, .. } if spec.is_kube())
    }
}

/// How a source's streams are doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum LogState {
    /// A stream started (a source of several pods or containers starts several).
    Streaming,
    /// A stream ended by itself (a container exited; without follow, the history was read).
    Ended(String),
    /// A stream or the whole source failed (host unreachable, unit unknown, pod not found ...).
    Failed(String),
    /// The source cannot do all it should, its streams go on (a followed workload whose pods cannot
    /// be listed again: it misses new pods); `None` when that is over.
    Degraded(Option<String>),
    /// Nothing of this source runs any more (closed, or every stream ended or failed).
    Closed,
}

/// A [`LogState`] change of one stream (`source` is its tag) of the source `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogStatus {
    pub id: u64,
    pub source: Arc<str>,
    pub state: LogState,
}

impl LogStatus {
    /// A source that could not be opened at all: failed, and closed.
    pub fn refused(id: u64, spec: &LogSpec, why: &str) -> [LogStatus; 2] {
        let source: Arc<str> = Arc::from(spec.label());
        [
            LogStatus { id, source: source.clone(), state: LogState::Failed(why.to_string()) },
            LogStatus { id, source, state: LogState::Closed },
        ]
    }

    /// The line shown in the merged view for this change, if any.
    pub fn text(&self) -> Option<String> {
        match &self.state {
            LogState::Streaming => None,
            LogState::Ended(why) => Some(format!("-- end of stream: {why}")),
            LogState::Failed(why) => Some(format!("!! FAILED: {why}")),
            LogState::Degraded(Some(why)) => Some(format!("!! {why}")),
            LogState::Degraded(None) => Some("-- working again".into()),
            LogState::Closed => None,
        }
    }
}

fn valid_host(h: &str) -> Result<(), String> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && !h.starts_with('-')
        && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok { Ok(()) } else { Err(format!("`{h}` is not a host name")) }
}

/// A systemd unit name (with or without its suffix): letters, digits, `:-_.@\`, at most 256 bytes.
pub fn valid_unit(u: &str) -> Result<(), String> {
    let ok = !u.is_empty()
        && u.len() <= 256
        && !u.starts_with('-')
        && u.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '@' | '\\'));
    if ok { Ok(()) } else { Err(format!("`{u}` is not a systemd unit name")) }
}

/// An absolute path without control characters or `..` components, at most 4096 bytes.
pub fn valid_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("`{p}`: give an absolute path"));
    }
    if p.len() > 4096 || p.chars().any(char::is_control) {
        return Err("the path is too long or has control characters".into());
    }
    if p.split('/').any(|c| c == "..") {
        return Err(format!("`{p}`: no `..` in paths"));
    }
    Ok(())
}

/// A Kubernetes object name (DNS-1123 subdomain: lower-case alphanumerics, `-` and `.`).
pub fn valid_kube_name(what: &str, n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 253
        && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok { Ok(()) } else { Err(format!("`{n}` is not a valid {what} name")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(valid_unit("kubelet").is_ok());
        assert!(valid_unit("etcd.service").is_ok());
        assert!(valid_unit("getty@tty1.service").is_ok());
        assert!(valid_unit("systemd-fsck@dev-disk-by\\x2duuid.service").is_ok());
        for bad in ["", "-u", "a b", "a;b", "$(x)", "a'b", "a/b", "`x`", "a\nb"] {
            assert!(valid_unit(bad).is_err(), "{bad:?}");
        }
        assert!(valid_path("/var/log/haproxy.log").is_ok());
        assert!(valid_path("/var/log/it's here").is_ok(), "quoting handles odd characters");
        for bad in ["var/log/x", "", "/var/../etc/shadow", "/a\nb", "/a\0b"] {
            assert!(valid_path(bad).is_err(), "{bad:?}");
        }
        assert!(valid_kube_name("pod", "coredns-7f9c-abcde").is_ok());
        for bad in ["", "Upper", "-a", "a-", "a_b", "a/b", "a?b"] {
            assert!(valid_kube_name("pod", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cli_forms() {
        assert_eq!(LogSpec::parse_host("m1:etcd").unwrap(), LogSpec::Journal { host: "m1".into(), unit: "etcd".into() });
        assert_eq!(
            LogSpec::parse_host("lb1:/var/log/haproxy.log").unwrap(),
            LogSpec::File { host: "lb1".into(), path: "/var/log/haproxy.log".into() }
        );
        assert!(LogSpec::parse_host("m1").is_err());
        assert!(LogSpec::parse_host("m1:et cd").is_err());
        assert!(LogSpec::parse_host("m;1:etcd").is_err());
        assert_eq!(
            LogSpec::parse_pod("kube-system/coredns-1", false).unwrap(),
            LogSpec::Pod { namespace: "kube-system".into(), pod: "coredns-1".into(), container: None, previous: false }
        );
        let p = LogSpec::parse_pod("ns/p/c", true).unwrap();
        assert_eq!(p.label(), "pod ns/p/c (previous)");
        let w = LogSpec::parse_pod("ds/kube-system/calico-node", false).unwrap();
        assert_eq!(w.label(), "ds kube-system/calico-node");
        assert!(w.is_kube());
        assert!(LogSpec::parse_pod("a/b/c/d", false).is_err());
        assert!(LogSpec::parse_pod("NS/pod", false).is_err());
    }
}
