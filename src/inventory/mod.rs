//! The host plan: one cluster as it was meant to be built (hosts, roles, sizes, VIP, load-balancer and
//! etcd topology) and how kockpit reaches it.
//!
//! Plans are TOML files in the format of `docs/plan-format.md`; KubeKey `Cluster` YAML files
//! (`kubekey.kubesphere.io/v1alpha1` and `v1alpha2`) are read too, told apart by their content.
//! Every error is a [`FileError`] naming the line and column and saying what was expected.

mod checks;
pub mod draft;
mod kubekey;
mod locate;
mod plan_toml;
mod size;
mod summary;
pub mod template;
mod topology;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::FileError;

use checks::{Format, detect};
pub use size::{ParseSizeError, Size};
pub use summary::unusable_vip;
pub use topology::{EtcdDeploy, EtcdTopology, LbTopology, Topology};

/// The built-in demo plan, also shipped as `assets/demo-cluster.toml`.
const DEMO_TOML: &str = include_str!("../../assets/demo-cluster.toml");
/// The path the built-in demo plan reports as its source.
const DEMO_PATH: &str = "assets/demo-cluster.toml";

/// A cluster's host plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub cluster: ClusterInfo,
    pub vip: Option<Vip>,
    pub topology: Topology,
    pub lb: LbSettings,
    pub access: Access,
    /// How kockpit asks Ceph directly; None = the Ceph panel shows Rook's CephCluster view only.
    pub ceph: Option<CephPlan>,
    pub certs: CertsPlan,
    /// Where etcd's snapshots are kept and how old the newest may be (`[etcd]`).
    pub etcd: EtcdPlan,
    /// How drill host actions are carried out on real hosts (`[drills]`).
    pub drills: DrillCommands,
    pub hosts: Vec<Host>,
    pub source: PlanSource,
}

/// Where a plan was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum PlanSource {
    /// A kockpit TOML plan.
    Kockpit { path: PathBuf },
    /// A KubeKey `Cluster` YAML file, with its `apiVersion`.
    #[serde(rename = "kubekey")]
    KubeKey { path: PathBuf, api_version: String },
    /// No host plan: a cluster opened from a kubeconfig alone ([`Plan::from_kubeconfig`]). It has no
    /// hosts, so nothing is asked over SSH; only the Kubernetes API and the control-plane endpoint.
    Kubeconfig {
        context: String,
        server: String,
        /// The subject of the CA the kubeconfig trusts for that server, when it names one: a served
        /// certificate another issuer signed is not the apiserver's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_subject: Option<String>,
    },
}

impl PlanSource {
    /// The plan file; empty without one.
    pub fn path(&self) -> &Path {
        match self {
            PlanSource::Kockpit { path } | PlanSource::KubeKey { path, .. } => path,
            PlanSource::Kubeconfig { .. } => Path::new(""),
        }
    }
}

impl fmt::Display for PlanSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanSource::Kockpit { path } => write!(f, "{} (kockpit plan)", path.display()),
            PlanSource::KubeKey { path, api_version } => {
                write!(f, "{} (KubeKey Cluster, {api_version})", path.display())
            }
            PlanSource::Kubeconfig { context, server, .. } => write!(f, "kubeconfig context {context} ({server}), no host plan"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterInfo {
    pub name: String,
    pub kubernetes_version: Option<String>,
}

/// The virtual IP clients use to reach the apiservers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vip {
    pub address: IpAddr,
    pub port: u16,
    pub interface: Option<String>,
    pub domain: Option<String>,
}

/// The default apiserver port, for the VIP.
pub const DEFAULT_API_PORT: u16 = 6443;

impl fmt::Display for Vip {
    /// `10.0.0.100:6443`, `[fd00::100]:6443`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::net::SocketAddr::new(self.address, self.port))
    }
}

/// Where kockpit finds HAProxy's and keepalived's state on the load balancers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an [lb] table")]
pub struct LbSettings {
    /// HAProxy's stats socket; "" = found on the host (the running haproxy's configuration, then the
    /// distributions' default paths).
    pub haproxy_socket: String,
    /// The backend carrying the apiservers; "" = every backend.
    pub haproxy_backend: String,
    /// Where `keepalived --json` state dumps land (SIGJSON).
    pub keepalived_json: String,
    /// A notify-script state file; "" = none.
    pub keepalived_state_file: String,
    /// The keepalived `track_file` used for graceful demotion.
    pub track_file: String,
    /// How a graceful failover demotes the VIP's owner.
    pub demote: DemoteMethod,
    /// keepalived's configuration on the LBs (edited by `demote = "priority"`).
    pub keepalived_conf: String,
    /// Run on an LB over SSH to make keepalived re-read its configuration (`{host}`: the plan's host name).
    pub keepalived_reload: String,
    /// Run on the VIP's owner by an emergency failover.
    pub keepalived_stop: String,
    /// Run on an LB whose keepalived was stopped, when its priority is restored.
    pub keepalived_start: String,
}

/// How a graceful failover demotes the VIP's owner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoteMethod {
    /// Write 1 to the `track_file` (keepalived lowers the priority by the file's weight); 0 undoes it.
    #[default]
    TrackFile,
    /// Set the VRRP instance's priority to 1 in `keepalived_conf` and reload keepalived; restoring puts
    /// the saved configuration back and reloads again.
    Priority,
}

impl DemoteMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DemoteMethod::TrackFile => "track_file",
            DemoteMethod::Priority => "priority",
        }
    }
}

impl Default for LbSettings {
    fn default() -> Self {
        Self {
            haproxy_socket: String::new(),
            haproxy_backend: String::new(),
            keepalived_json: "/tmp/keepalived.json".into(),
            keepalived_state_file: String::new(),
            track_file: "/etc/keepalived/kockpit-demote".into(),
            demote: DemoteMethod::TrackFile,
            keepalived_conf: "/etc/keepalived/keepalived.conf".into(),
            keepalived_reload: "systemctl reload keepalived".into(),
            keepalived_stop: "systemctl stop keepalived".into(),
            keepalived_start: "systemctl start keepalived".into(),
        }
    }
}

/// Commands that carry out drill host actions on real hosts (`[drills]`; only with
/// `access.allow_drills`). `stop`, `kill` and `start` run on the target host over SSH with `{host}`,
/// `{service}` and `{signal}` replaced by shell-quoted values; `cut` and `heal` run on the machine
/// kockpit runs on (a link cannot carry its own repair), with `{host}` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrillCommands {
    /// Stop a service (SIGTERM).
    pub stop: String,
    /// Send another signal (KILL, STOP, CONT, HUP ...) to a service.
    pub kill: String,
    /// Start a service (and thaw a frozen one).
    pub start: String,
    /// Cut a host's link; None = refused.
    pub cut: Option<String>,
    /// Restore a host's link; None = refused.
    pub heal: Option<String>,
    /// How long one command may take.
    pub timeout_secs: u32,
}

impl Default for DrillCommands {
    fn default() -> Self {
        DrillCommands {
            stop: "systemctl stop {service}".into(),
            kill: "systemctl kill --signal={signal} {service}".into(),
            start: "systemctl kill --signal=CONT {service}; systemctl start {service}".into(),
            cut: None,
            heal: None,
            timeout_secs: 60,
        }
    }
}

/// Where the `ceph` commands run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CephVia {
    /// The `ceph` CLI (or its Python binding) on `host` over SSH: a mon host with the admin keyring.
    Ssh,
    /// Through Rook's toolbox: `kubectl -n NAMESPACE exec deploy/TOOLBOX` on `host` over SSH.
    Rook,
    /// On the machine kockpit runs on (a jump host with a ceph.conf and keyring).
    Local,
}

/// The `[ceph]` section: how kockpit asks Ceph for its status (and sets `noout`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [ceph] table")]
pub struct CephPlan {
    pub via: CephVia,
    /// A plan host name or an SSH alias; "" = the first master. Ignored for `via = "local"`.
    pub host: String,
    /// ceph.conf for `ssh` and `local`; "" = Ceph's default search.
    pub conf: String,
    /// Rook's namespace and toolbox deployment, for `via = "rook"`.
    pub namespace: String,
    pub toolbox: String,
    /// Given to Ceph as its connect timeout: without a mon quorum, `ceph` would otherwise wait forever.
    pub connect_timeout_secs: u64,
    pub interval_secs: u64,
}

impl Default for CephPlan {
    fn default() -> Self {
        Self {
            via: CephVia::Ssh,
            host: String::new(),
            conf: String::new(),
            namespace: "rook-ceph".into(),
            toolbox: "rook-ceph-tools".into(),
            connect_timeout_secs: 5,
            interval_secs: 5,
        }
    }
}

impl CephPlan {
    /// The SSH alias the `ceph` commands run on: `host` by plan name, as an alias, or the first master's.
    pub fn ssh_host(&self, plan: &Plan) -> Option<String> {
        if self.host.is_empty() {
            return plan.masters().next().map(|h| h.ssh_host.clone());
        }
        Some(plan.host(&self.host).map(|h| h.ssh_host.clone()).unwrap_or_else(|| self.host.clone()))
    }
}

/// The `[etcd]` section: where the cluster's etcd snapshots are kept (read on every etcd host) and
/// how old the newest may be before it is a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an [etcd] table")]
pub struct EtcdPlan {
    /// Directories on the etcd hosts that hold snapshot files (`*.db`, `snapshot*`, three levels
    /// deep); KubeKey's backup timer writes `/var/backups/kube_etcd/etcd-DATE/snapshot.db`.
    pub snapshot_dirs: Vec<String>,
    /// The newest snapshot older than this is a finding; 0 = none.
    pub snapshot_max_age_hours: u64,
}

/// KubeKey's backup directory, where its etcd backup timer writes.
pub const KUBEKEY_BACKUP_DIR: &str = "/var/backups/kube_etcd";

impl Default for EtcdPlan {
    fn default() -> EtcdPlan {
        EtcdPlan { snapshot_dirs: vec![KUBEKEY_BACKUP_DIR.to_string()], snapshot_max_age_hours: 24 }
    }
}

/// The `[certs]` section: how certificates are renewed on a master.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [certs] table")]
pub struct CertsPlan {
    /// Run on each master to renew; "" = `kubeadm certs renew all` (KubeKey: its renewal script).
    pub renew_command: String,
    /// Run on each master after renewing, to restart the control plane; "" = stop the static-pod
    /// containers with crictl (the kubelet starts them again), without etcd's for a systemd etcd.
    pub restart_command: String,
    /// How long a master may take to be healthy again; 0 = 180 s.
    pub wait_healthy_secs: u64,
}

/// How kockpit reaches the cluster, and what it may do there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Access {
    /// The SSH config; `None` = `~/.ssh/config`.
    pub ssh_config: Option<PathBuf>,
    /// The kubeconfig; `None` = `KUBECONFIG` or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; `None` = its current context.
    pub kube_context: Option<String>,
    /// This cluster is always opened read-only.
    pub readonly: bool,
    /// Trust-on-first-use for unknown SSH host keys (changed keys are still refused).
    pub accept_new_host_keys: bool,
    /// Drills may inject faults on these hosts.
    pub allow_drills: bool,
    /// The SSH login budget (connect, authenticate, start the remote shell) in seconds; none: the
    /// config's (20 s unless it says otherwise).
    pub login_timeout_secs: Option<u64>,
    /// The SSH user is not root: what needs root (keepalived's signal, haproxy's socket, the HA
    /// configuration, the PKI's keys) and every write run through `sudo -n`.
    pub sudo: bool,
}

/// One host of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    pub name: String,
    pub address: IpAddr,
    pub internal_address: Option<IpAddr>,
    /// The `Host` alias in the SSH config (defaults to `name`).
    pub ssh_host: String,
    pub roles: Roles,
    pub size: Option<Size>,
    pub os: Option<String>,
    /// The planned kernel.
    pub kernel: Option<String>,
    pub notes: Option<String>,
}

/// A host's roles. Under stacked etcd every master also has `etcd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Roles {
    pub lb: bool,
    pub master: bool,
    pub etcd: bool,
    pub worker: bool,
}

/// The role names a plan accepts, for messages.
const ROLE_NAMES: &str = "lb, master (or control-plane), etcd, worker";

impl Roles {
    /// The role names, in the order lb, master, etcd, worker.
    pub fn names(&self) -> Vec<&'static str> {
        [(self.lb, "lb"), (self.master, "master"), (self.etcd, "etcd"), (self.worker, "worker")]
            .into_iter()
            .filter_map(|(has, name)| has.then_some(name))
            .collect()
    }

    /// A short label: `lb`, `cp`, `cp+etcd`, `etcd`, `worker`, `cp+etcd+worker`; `-` for no role.
    pub fn label(&self) -> String {
        let parts: Vec<&str> = [(self.lb, "lb"), (self.master, "cp"), (self.etcd, "etcd"), (self.worker, "worker")]
            .into_iter()
            .filter_map(|(has, name)| has.then_some(name))
            .collect();
        if parts.is_empty() { "-".to_owned() } else { parts.join("+") }
    }

    pub fn is_empty(&self) -> bool {
        !(self.lb || self.master || self.etcd || self.worker)
    }

    /// Adds the role called `name` (`lb`, `master`/`control-plane`, `etcd`, `worker`);
    /// `false` if there is no such role.
    fn add(&mut self, name: &str) -> bool {
        match name {
            "lb" => self.lb = true,
            "master" | "control-plane" => self.master = true,
            "etcd" => self.etcd = true,
            "worker" => self.worker = true,
            _ => return false,
        }
        true
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl Plan {
    /// Reads a plan file: a KubeKey `Cluster` YAML file if it says so
    /// (`apiVersion: kubekey.kubesphere.io/...`), else a kockpit TOML plan.
    pub fn load(path: &Path) -> Result<Plan, FileError> {
        let src = crate::error::read_text(path, "plan", crate::error::limits::PLAN)?;
        Plan::parse(path, &src)
    }

    /// Reads a plan from `src`, the text of `path`, as [`Plan::load`] does once the file is read.
    pub fn parse(path: &Path, src: &str) -> Result<Plan, FileError> {
        match detect(src) {
            Format::KubeKey => Plan::parse_kubekey(path, src),
            Format::OtherYaml { api_version, offset } => Err(FileError::at_offset(
                path,
                src,
                offset,
                format!(
                    "this is not a host plan but YAML with apiVersion `{api_version}`: expected a kockpit TOML \
                     plan or a KubeKey Cluster file (apiVersion: kubekey.kubesphere.io/v1alpha2, kind: Cluster)"
                ),
            )),
            Format::Toml => Plan::parse_toml(path, src),
        }
    }

    /// Reads a kockpit TOML plan from `src`, the text of `path`.
    pub fn parse_toml(path: &Path, src: &str) -> Result<Plan, FileError> {
        plan_toml::parse(path, src)
    }

    /// Reads a KubeKey `Cluster` YAML file from `src`, the text of `path`. Passwords are neither kept
    /// nor quoted in errors.
    pub fn parse_kubekey(path: &Path, src: &str) -> Result<Plan, FileError> {
        kubekey::parse(path, src)
    }

    /// The built-in 8-host demo plan (`assets/demo-cluster.toml`).
    pub fn demo() -> Plan {
        Plan::parse_toml(Path::new(DEMO_PATH), DEMO_TOML).expect("the built-in demo plan assets/demo-cluster.toml is valid")
    }

    /// The plan of a cluster known only from its kubeconfig: named after the context, no hosts, no
    /// load balancer. Not a host plan (which needs a master): only what the Kubernetes API shows is
    /// watched, and the panels fed over SSH say why they are empty ([`Plan::NO_HOST_PLAN`]).
    pub fn from_kubeconfig(context: &str, server: &str, kube_context: Option<String>, kubeconfig: Option<PathBuf>) -> Plan {
        let name = if context.trim().is_empty() { "kubeconfig".to_string() } else { context.to_string() };
        Plan {
            cluster: ClusterInfo { name, kubernetes_version: None },
            vip: None,
            topology: Topology { load_balancer: LbTopology::None, ..Topology::default() },
            lb: LbSettings::default(),
            access: Access { kubeconfig, kube_context, ..Access::default() },
            ceph: None,
            certs: CertsPlan::default(),
            etcd: EtcdPlan::default(),
            drills: DrillCommands::default(),
            hosts: Vec::new(),
            source: PlanSource::Kubeconfig { context: context.to_string(), server: server.to_string(), ca_subject: None },
        }
    }

    /// What the screen says when the cluster was opened from its kubeconfig alone.
    pub const NO_HOST_PLAN: &str = "no host plan: VIP, haproxy, etcd and host probes need SSH; run kockpit plan --from-cluster";
    /// Its short form, for a narrow header.
    pub const NO_HOST_PLAN_SHORT: &str = "no host plan: kockpit plan --from-cluster";

    /// Whether this is no host plan but a cluster opened from its kubeconfig alone.
    pub fn is_kubeconfig_only(&self) -> bool {
        matches!(self.source, PlanSource::Kubeconfig { .. })
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The load-balancer hosts.
    pub fn lbs(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.roles.lb)
    }

    /// The control-plane hosts.
    pub fn masters(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.roles.master)
    }

    /// The worker hosts.
    pub fn workers(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.roles.worker)
    }

    /// The etcd members.
    pub fn etcd_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.roles.etcd)
    }

    /// The hosts running keepalived, from the topology: the lb hosts, or the masters themselves (the lb
    /// hosts when the plan gives some master that role too); none for a local proxy or no load balancer.
    pub fn keepalived_hosts(&self) -> Vec<&Host> {
        match self.topology.load_balancer {
            LbTopology::Dedicated => self.lbs().collect(),
            LbTopology::Masters if self.lbs().next().is_some() => self.lbs().collect(),
            LbTopology::Masters => self.masters().collect(),
            LbTopology::LocalProxy | LbTopology::None => Vec::new(),
        }
    }

    /// The hosts running haproxy: where keepalived runs, or for KubeKey's internal load balancer (a
    /// local proxy, no VIP) every worker that is not a master (the masters reach their own apiserver);
    /// every host when there is no such worker.
    pub fn haproxy_hosts(&self) -> Vec<&Host> {
        match self.topology.load_balancer {
            LbTopology::LocalProxy => {
                let workers: Vec<&Host> = self.hosts.iter().filter(|h| h.roles.worker && !h.roles.master).collect();
                if workers.is_empty() { self.hosts.iter().collect() } else { workers }
            }
            _ => self.keepalived_hosts(),
        }
    }

    /// The hosts whose HA configuration kockpit reads: those running keepalived, then those running
    /// only haproxy.
    pub fn ha_config_hosts(&self) -> Vec<&Host> {
        let mut hosts = self.keepalived_hosts();
        for h in self.haproxy_hosts() {
            if !hosts.iter().any(|k| k.name == h.name) {
                hosts.push(h);
            }
        }
        hosts
    }

    /// The VIP and port clients use, when keepalived carries one.
    pub fn vip_endpoint(&self) -> Option<std::net::SocketAddr> {
        match self.topology.load_balancer {
            LbTopology::Dedicated | LbTopology::Masters => self.vip.as_ref().map(|v| std::net::SocketAddr::new(v.address, v.port)),
            LbTopology::LocalProxy | LbTopology::None => None,
        }
    }
}

#[cfg(test)]
mod tests;
