//! The cluster's shape: where the load balancer and etcd run, and how etcd is run.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Topology {
    pub load_balancer: LbTopology,
    pub etcd: EtcdTopology,
    pub etcd_deploy: EtcdDeploy,
}

/// Where the apiserver load balancer runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LbTopology {
    /// Dedicated load-balancer hosts (HAProxy + keepalived) carrying the VIP.
    #[default]
    Dedicated,
    /// keepalived and the proxy run on the masters themselves.
    Masters,
    /// A proxy on every node forwards to the apiservers (KubeKey's `internalLoadbalancer: haproxy`).
    LocalProxy,
    /// No load balancer: clients talk to an apiserver directly.
    None,
}

/// Where etcd runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EtcdTopology {
    /// On the masters.
    #[default]
    Stacked,
    /// On hosts of its own.
    External,
}

/// How etcd is run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EtcdDeploy {
    /// A kubelet static pod (kubeadm).
    #[default]
    StaticPod,
    /// A systemd service (KubeKey's default).
    Systemd,
}

impl LbTopology {
    pub fn as_str(self) -> &'static str {
        match self {
            LbTopology::Dedicated => "dedicated",
            LbTopology::Masters => "masters",
            LbTopology::LocalProxy => "local-proxy",
            LbTopology::None => "none",
        }
    }
}

impl EtcdTopology {
    pub fn as_str(self) -> &'static str {
        match self {
            EtcdTopology::Stacked => "stacked",
            EtcdTopology::External => "external",
        }
    }
}

impl EtcdDeploy {
    pub fn as_str(self) -> &'static str {
        match self {
            EtcdDeploy::StaticPod => "static-pod",
            EtcdDeploy::Systemd => "systemd",
        }
    }
}

/// Reads `text` as the one of `all` whose name it is, else says which names there are.
fn parse_choice<T: Copy>(text: &str, all: &[T], name: impl Fn(T) -> &'static str) -> Result<T, String> {
    all.iter().copied().find(|v| name(*v) == text).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        format!("unknown value {text:?}: expected one of {}", names.join(", "))
    })
}

impl FromStr for LbTopology {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_choice(s, &[LbTopology::Dedicated, LbTopology::Masters, LbTopology::LocalProxy, LbTopology::None], Self::as_str)
    }
}

impl FromStr for EtcdTopology {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_choice(s, &[EtcdTopology::Stacked, EtcdTopology::External], Self::as_str)
    }
}

impl FromStr for EtcdDeploy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_choice(s, &[EtcdDeploy::StaticPod, EtcdDeploy::Systemd], Self::as_str)
    }
}

impl fmt::Display for LbTopology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for EtcdTopology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for EtcdDeploy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
