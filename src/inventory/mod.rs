//! TEMPORARY stub of the inventory API; replaced by the real module.
use crate::error::FileError;
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    pub cluster: ClusterInfo,
    pub vip: Option<Vip>,
    pub topology: Topology,
    pub lb: LbSettings,
    pub access: Access,
    pub hosts: Vec<Host>,
}
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterInfo {
    pub name: String,
    pub kubernetes_version: Option<String>,
}
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Vip {
    pub address: IpAddr,
    pub port: u16,
    pub interface: Option<String>,
    pub domain: Option<String>,
}
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub enum LbTopology {
    Dedicated,
    Masters,
    LocalProxy,
    None,
}
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub enum EtcdTopology {
    Stacked,
    External,
}
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub enum EtcdDeploy {
    StaticPod,
    Systemd,
}
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Topology {
    pub load_balancer: LbTopology,
    pub etcd: EtcdTopology,
    pub etcd_deploy: EtcdDeploy,
}
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct LbSettings {
    pub haproxy_socket: String,
    pub haproxy_backend: String,
    pub keepalived_json: String,
    pub keepalived_state_file: String,
    pub track_file: String,
}
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Access {
    pub ssh_config: Option<PathBuf>,
    pub kubeconfig: Option<PathBuf>,
    pub kube_context: Option<String>,
    pub readonly: bool,
    pub accept_new_host_keys: bool,
    pub allow_drills: bool,
}
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Host {
    pub name: String,
    pub address: IpAddr,
    pub internal_address: Option<IpAddr>,
    pub ssh_host: String,
    pub roles: Roles,
    pub size: Option<Size>,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub notes: Option<String>,
}
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct Roles {
    pub lb: bool,
    pub master: bool,
    pub etcd: bool,
    pub worker: bool,
}
impl Roles {
    pub fn label(&self) -> String {
        let mut v = vec![];
        if self.lb {
            v.push("lb")
        }
        if self.master {
            v.push("cp")
        }
        if self.etcd {
            v.push("etcd")
        }
        if self.worker {
            v.push("worker")
        }
        v.join("+")
    }
}
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Size {
    pub cpu: u32,
    pub memory_gb: u32,
    pub disk_gb: Option<u32>,
}
impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}C-{}G", self.cpu, self.memory_gb)?;
        if let Some(d) = self.disk_gb {
            write!(f, "-{d}G")?;
        }
        Ok(())
    }
}
impl Plan {
    pub fn load(path: &Path) -> Result<Plan, FileError> {
        Err(FileError::whole(path, "stub"))
    }
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
    pub fn lbs(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.roles.lb)
    }
    pub fn masters(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.roles.master)
    }
    pub fn workers(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.roles.worker)
    }
    pub fn etcd_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.roles.etcd)
    }
    pub fn summary_text(&self) -> String {
        String::new()
    }
    pub fn demo() -> Plan {
        let mk = |name: &str, ip: &str, roles: Roles, size: Size| Host {
            name: name.into(),
            address: ip.parse().unwrap(),
            internal_address: None,
            ssh_host: name.into(),
            roles,
            size: Some(size),
            os: Some("CentOS 7.9".into()),
            kernel: Some("5.4".into()),
            notes: None,
        };
        let lb = Roles { lb: true, ..Default::default() };
        let cp = Roles { master: true, etcd: true, ..Default::default() };
        let wk = Roles { worker: true, ..Default::default() };
        let s1 = Size { cpu: 2, memory_gb: 4, disk_gb: Some(50) };
        let s2 = Size { cpu: 8, memory_gb: 32, disk_gb: Some(150) };
        let s3 = Size { cpu: 8, memory_gb: 32, disk_gb: Some(500) };
        Plan {
            cluster: ClusterInfo { name: "demo-prod".into(), kubernetes_version: Some("v1.21.5".into()) },
            vip: Some(Vip { address: "10.0.0.100".parse().unwrap(), port: 6443, interface: None, domain: None }),
            topology: Topology { load_balancer: LbTopology::Dedicated, etcd: EtcdTopology::Stacked, etcd_deploy: EtcdDeploy::StaticPod },
            lb: LbSettings::default(),
            access: Access::default(),
            hosts: vec![
                mk("slb1", "10.0.0.11", lb, s1),
                mk("slb2", "10.0.0.12", lb, s1),
                mk("master1", "10.0.0.21", cp, s2),
                mk("master2", "10.0.0.22", cp, s2),
                mk("master3", "10.0.0.23", cp, s2),
                mk("worker1", "10.0.0.31", wk, s3),
                mk("worker2", "10.0.0.32", wk, s3),
                mk("worker3", "10.0.0.33", wk, s3),
            ],
        }
    }
}
