//! The cockpit's state: plain data, no I/O. Probes send [`Observation`]s, the app applies them here,
//! the UI renders from here. Everything that can be derived (health, quorum, drift) is derived.

pub mod apiview;
mod apply;
pub mod bigint;
pub mod fleet;
pub mod hacheck;
pub mod health;
pub mod nodepods;
pub mod notes;
pub mod planned;
mod queries;
pub mod rows;
pub mod snapshots;
pub mod source;
pub mod timeline;
pub mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::inventory::Plan;
pub use health::{Assessment, Finding, HealthLevel, Severity, assess};
pub use nodepods::{NodeExtra, NodePod};
pub use planned::{PlannedWindow, VipWindow};
pub use source::{Freshness, SourceError, Sourced};
pub use timeline::{Event, Timeline};
pub use types::*;

/// How the process was started; shown as the badge in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Live,
    ReadOnly,
    Demo,
    Drill,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Live => "LIVE",
            Mode::ReadOnly => "READ-ONLY",
            Mode::Demo => "DEMO",
            Mode::Drill => "DRILL",
        }
    }
}

/// The panels of the one screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelId {
    Hosts,
    Vip,
    Haproxy,
    Etcd,
    Leases,
    Certs,
    Ceph,
    Nodes,
    Platform,
    Timeline,
}

impl PanelId {
    pub const ALL: [PanelId; 10] = [
        PanelId::Hosts,
        PanelId::Vip,
        PanelId::Haproxy,
        PanelId::Etcd,
        PanelId::Leases,
        PanelId::Certs,
        PanelId::Ceph,
        PanelId::Nodes,
        PanelId::Platform,
        PanelId::Timeline,
    ];
    pub fn title(self) -> &'static str {
        match self {
            PanelId::Hosts => "Hosts (plan vs live)",
            PanelId::Vip => "VIP / keepalived",
            PanelId::Haproxy => "haproxy backends",
            PanelId::Etcd => "etcd",
            PanelId::Leases => "Leases",
            PanelId::Certs => "Certificates",
            PanelId::Ceph => "Ceph",
            PanelId::Nodes => "Nodes",
            PanelId::Platform => "Platform",
            PanelId::Timeline => "Timeline",
        }
    }
}

/// A first list still streaming in from the API server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Loading {
    /// What is listed: `pods`.
    pub what: String,
    pub done: u64,
    /// How many there are, when the API server said (`remainingItemCount`).
    pub total: Option<u64>,
}

impl Loading {
    /// `loading 62,000/150,000 pods`, `loading 62,000 pods`.
    pub fn text(&self) -> String {
        match self.total {
            Some(t) => format!("loading {}/{} {}", thousands(self.done), thousands(t.max(self.done)), self.what),
            None => format!("loading {} {}", thousands(self.done), self.what),
        }
    }
}

/// 150000 -> `150,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a probe saw, or why it could not see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Host {
        host: String,
        result: Result<HostFacts, String>,
    },
    Vrrp {
        lb: String,
        result: Result<VrrpView, String>,
    },
    Haproxy {
        lb: String,
        result: Result<Vec<BackendServer>, String>,
    },
    Readyz {
        master: String,
        result: Result<Readyz, String>,
    },
    VipProbe(Result<VipProbe, String>),
    Etcd(Result<EtcdView, String>),
    Leases(Result<Vec<Lease>, String>),
    Nodes(Result<Vec<Node>, String>),
    /// DaemonSets, Deployments and StatefulSets of the platform namespaces.
    Workloads(Result<Vec<Workload>, String>),
    /// Ceph as the ceph CLI (or the demo) sees it.
    Ceph(Result<CephView, String>),
    /// Kubernetes Warning events of the last hour, oldest first.
    KubeWarnings(Result<Vec<KubeWarning>, String>),
    /// A first list still streaming in: how many objects so far, of how many when known.
    KubeLoading(Loading),
    /// Rook's CephCluster `status.ceph` and the Rook daemon pods, through the Kubernetes API.
    RookCeph(Result<CephView, String>),
    Certs {
        host: String,
        result: Result<Vec<CertInfo>, String>,
    },
    /// The HA configuration one host's daemons run with (keepalived.conf, haproxy.cfg), parsed.
    HaConfig {
        host: String,
        result: Result<Box<HaConfigView>, String>,
    },
    /// kube-system's etcd and kube-apiserver static pods (a cluster opened from its kubeconfig alone).
    ControlPlane(Result<apiview::ControlPlaneView, String>),
    /// One connect of a drill's client loop through the VIP: how long it took (ms), or why it failed.
    VipClient(Result<f64, String>),
    /// One write of a drill's etcd client: how long it took (ms), or why it failed.
    EtcdWrite(Result<f64, String>),
    /// A kockpit defrag finished on this etcd member.
    EtcdDefragged {
        member: String,
    },
    /// The etcd snapshot files on one etcd host ([`crate::inventory::EtcdPlan::snapshot_dirs`]).
    EtcdSnapshots {
        host: String,
        result: Result<SnapshotFiles, String>,
    },
    /// kockpit took a verified snapshot into this place (a file here, or HOST:/PATH).
    EtcdSnapshotTaken {
        place: String,
    },
    /// Alertmanager's alerts for this cluster (by its matchers).
    Alerts(Result<Vec<fleet::FiringAlert>, String>),
}

/// A timestamped observation from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub at: DateTime<Utc>,
    /// e.g. "ssh slb1" or "demo".
    pub source: String,
    /// How long the result stays current.
    pub budget_ms: u64,
    pub payload: Payload,
}

impl Observation {
    /// An observation made now.
    pub fn now(source: impl Into<String>, budget_ms: u64, payload: Payload) -> Observation {
        Observation { at: Utc::now(), source: source.into(), budget_ms, payload }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub cluster: String,
    pub context: String,
    pub mode: Mode,
    pub version: &'static str,
    /// Every expected source was to have answered by then (a one-shot command's `--wait`): one still
    /// waiting after it is unknown, named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_by: Option<DateTime<Utc>>,
    /// Why the screen shows less than a host plan's cluster, said in the header: the demo opened for
    /// want of a cluster, or a cluster opened from its kubeconfig alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The Alertmanager this cluster's alerts are read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<String>,
    /// Drains and master maintenance silence their node's alerts in that Alertmanager.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub silence_operations: bool,
}

/// The whole observed cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub meta: Meta,
    pub plan: Plan,
    pub hosts: BTreeMap<String, Sourced<HostFacts>>,
    pub vrrp: BTreeMap<String, Sourced<VrrpView>>,
    pub haproxy: BTreeMap<String, Sourced<Vec<BackendServer>>>,
    pub readyz: BTreeMap<String, Sourced<Readyz>>,
    pub vip_probe: Sourced<VipProbe>,
    pub etcd: Sourced<EtcdView>,
    pub leases: Sourced<Vec<Lease>>,
    pub nodes: Sourced<Vec<Node>>,
    /// The first list of pods while it streams in (the Nodes panel waits for it); gone with the first
    /// Nodes observation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_loading: Option<Loading>,
    pub workloads: Sourced<Vec<Workload>>,
    /// The ceph CLI's view (on a mon host, through the toolbox, or here).
    pub ceph: Sourced<CephView>,
    /// Warning events of the last hour, oldest first (the Kubernetes side).
    #[serde(skip_serializing_if = "Sourced::unheard")]
    pub warnings: Sourced<Vec<KubeWarning>>,
    /// Rook's view (its CephCluster, refreshed by the operator about once a minute). Where both exist
    /// the panel shows the CLI's and says whether Rook agrees; [`Model::ceph_view`] picks.
    #[serde(skip_serializing_if = "Sourced::unheard")]
    pub rook: Sourced<CephView>,
    pub certs: BTreeMap<String, Sourced<Vec<CertInfo>>>,
    /// The etcd snapshot files each etcd host keeps.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub etcd_snapshots: BTreeMap<String, Sourced<SnapshotFiles>>,
    /// The snapshots kockpit took since it started: when, and where to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots_taken: Vec<(DateTime<Utc>, String)>,
    /// etcd and the apiservers as kube-system's static pods show them: what a cluster opened from its
    /// kubeconfig alone knows of its control plane.
    #[serde(skip_serializing_if = "Sourced::unheard")]
    pub control_plane: Sourced<apiview::ControlPlaneView>,
    /// Alertmanager's alerts for this cluster, where one is configured.
    #[serde(skip_serializing_if = "Sourced::unheard")]
    pub alerts: Sourced<Vec<fleet::FiringAlert>>,
    /// Each LB's HA configuration as its daemons run it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ha_config: BTreeMap<String, Sourced<Box<HaConfigView>>>,
    /// What keepalived's configuration says will happen now that haproxy is dead on the VIP's
    /// holder, from when kockpit saw it; settled on the timeline when the VIP moves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction: Option<hacheck::Made>,
    pub timeline: Timeline,
    /// Changes kockpit itself causes: operations, drill actions, faults ([`planned`]).
    pub planned: Vec<PlannedWindow>,
    /// The VIP on two hosts or none inside a planned window (reported with its duration when it ends).
    #[serde(skip)]
    pub vip_window: Option<VipWindow>,
    /// Since when the VIP is on no host, unplanned, and who held it before: the host that takes it
    /// next is said to take it from them, with the gap.
    #[serde(skip)]
    pub vip_lost: Option<(DateTime<Utc>, Vec<String>)>,
    /// The `VIP lost` event, said once a look stamped after it still finds the VIP on no host: two
    /// LBs' looks stamped at one instant, one letting it go and the other holding it, are a move.
    #[serde(skip)]
    pub vip_loss_unsaid: Option<Event>,
    /// The probes whose streams failed, as the timeline named them (`haproxy lb1`), with the part that
    /// failed (`haproxy stats socket`, `ssh` for all): said once when
    /// they fail and once when they stream again.
    #[serde(skip)]
    pub streams_failed: BTreeMap<String, String>,
    /// Bumped on every visible change; the UI redraws when it moves.
    #[serde(skip)]
    pub revision: u64,
}

impl Model {
    pub fn new(plan: Plan, mode: Mode, context: impl Into<String>) -> Model {
        Model {
            meta: Meta {
                cluster: plan.cluster.name.clone(),
                context: context.into(),
                mode,
                version: env!("CARGO_PKG_VERSION"),
                answer_by: None,
                note: plan.is_kubeconfig_only().then(|| Plan::NO_HOST_PLAN.to_string()),
                alertmanager: None,
                silence_operations: false,
            },
            plan,
            hosts: BTreeMap::new(),
            vrrp: BTreeMap::new(),
            haproxy: BTreeMap::new(),
            readyz: BTreeMap::new(),
            vip_probe: Sourced::default(),
            etcd: Sourced::default(),
            leases: Sourced::default(),
            nodes: Sourced::default(),
            kube_loading: None,
            workloads: Sourced::default(),
            ceph: Sourced::default(),
            warnings: Sourced::default(),
            rook: Sourced::default(),
            certs: BTreeMap::new(),
            etcd_snapshots: BTreeMap::new(),
            snapshots_taken: Vec::new(),
            control_plane: Sourced::default(),
            alerts: Sourced::default(),
            ha_config: BTreeMap::new(),
            prediction: None,
            timeline: Timeline::default(),
            planned: Vec::new(),
            vip_window: None,
            vip_lost: None,
            vip_loss_unsaid: None,
            streams_failed: BTreeMap::new(),
            revision: 0,
        }
    }
}

#[cfg(test)]
mod tests;
