//! The faults the simulated cluster can inject (the demo, drills, training).

/// Faults the demo can inject for training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Stop keepalived on the load balancer holding the VIP.
    StopKeepalivedOnOwner,
    /// Power off a master (apiserver, etcd member, kubelet, SSH all gone).
    KillMaster,
    /// etcd raises a NOSPACE alarm.
    EtcdNospace,
    /// One Ceph OSD goes down.
    OsdDown,
    /// A master's apiserver certificate is about to expire.
    CertExpiring,
    /// Freeze keepalived on the owner: the peer takes over while the frozen owner keeps the VIP.
    SplitBrain,
    /// Kill haproxy on the VIP owner.
    KillHaproxyOnOwner,
    /// Cut kockpit's SSH to the VIP owner: its probes time out while it keeps the VIP.
    CutSshToOwner,
    /// Undo every fault.
    HealAll,
}

impl Fault {
    pub const ALL: [Fault; 9] = [
        Fault::StopKeepalivedOnOwner,
        Fault::KillMaster,
        Fault::EtcdNospace,
        Fault::OsdDown,
        Fault::CertExpiring,
        Fault::SplitBrain,
        Fault::KillHaproxyOnOwner,
        Fault::CutSshToOwner,
        Fault::HealAll,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Fault::StopKeepalivedOnOwner => "stop-keepalived",
            Fault::KillMaster => "kill-master",
            Fault::EtcdNospace => "etcd-nospace",
            Fault::OsdDown => "osd-down",
            Fault::CertExpiring => "cert-expiring",
            Fault::SplitBrain => "split-brain",
            Fault::KillHaproxyOnOwner => "kill-haproxy",
            Fault::CutSshToOwner => "cut-ssh-owner",
            Fault::HealAll => "heal",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Fault::StopKeepalivedOnOwner => "Stop keepalived on the VIP owner",
            Fault::KillMaster => "Power off a master (apiserver, etcd member, kubelet)",
            Fault::EtcdNospace => "etcd NOSPACE alarm (database quota exceeded)",
            Fault::OsdDown => "A Ceph OSD goes down",
            Fault::CertExpiring => "A master's apiserver certificate expires in 5 days",
            Fault::SplitBrain => "Freeze keepalived on the owner: split-brain VIP",
            Fault::KillHaproxyOnOwner => "Kill haproxy on the VIP owner",
            Fault::CutSshToOwner => "Cut SSH to the VIP owner (it keeps the VIP)",
            Fault::HealAll => "Heal: undo every injected fault",
        }
    }
    /// What the fault acts on, as the model knows it before it acts: the VIP owner, the master it
    /// powers off (the etcd leader, as the simulated cluster picks it). The timeline puts what names
    /// one of them down to this fault before any other.
    pub fn subjects(self, m: &crate::model::Model) -> Vec<String> {
        match self {
            Fault::StopKeepalivedOnOwner | Fault::SplitBrain | Fault::KillHaproxyOnOwner | Fault::CutSshToOwner => m.vip_holders(),
            Fault::KillMaster => m
                .etcd
                .data
                .as_ref()
                .and_then(|e| e.leader())
                .map(|l| l.name.clone())
                .or_else(|| m.plan.masters().next().map(|h| h.name.clone()))
                .into_iter()
                .collect(),
            Fault::EtcdNospace | Fault::OsdDown | Fault::CertExpiring | Fault::HealAll => vec![],
        }
    }
    /// It takes away kockpit's sight (a cut SSH link) and changes nothing: it explains sources failing
    /// and recovering, never a change they report.
    pub fn takes_sight_only(self) -> bool {
        self == Fault::CutSshToOwner
    }
    /// The panels whose changes this fault causes (the timeline shows them as planned).
    pub fn panels(self) -> Vec<crate::model::PanelId> {
        use crate::model::PanelId as P;
        match self {
            // keepalived's own faults change the VIP panel only; haproxy's may move the VIP too
            // (keepalived tracking haproxy); a cut link blinds every probe of the host
            Fault::StopKeepalivedOnOwner | Fault::SplitBrain => vec![P::Vip],
            Fault::KillHaproxyOnOwner => vec![P::Vip, P::Haproxy],
            Fault::CutSshToOwner => vec![P::Vip, P::Haproxy, P::Hosts],
            Fault::EtcdNospace => vec![P::Etcd],
            Fault::OsdDown => vec![P::Ceph],
            Fault::CertExpiring => vec![P::Certs],
            Fault::KillMaster | Fault::HealAll => P::ALL.to_vec(),
        }
    }
    pub fn from_name(s: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == s)
    }
}
