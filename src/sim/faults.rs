//! Faults injected into the simulated cluster.

use chrono::{DateTime, Duration, Utc};

use super::*;

impl SimCluster {
    pub fn inject(&mut self, fault: Fault, now: DateTime<Utc>) -> String {
        match fault {
            Fault::StopKeepalivedOnOwner => match self.owner() {
                Some(i) => {
                    self.lbs[i].keepalived = Proc::Stopped;
                    format!("keepalived stopped on {}", self.lbs[i].name)
                }
                None => "no VIP owner to stop".into(),
            },
            Fault::SplitBrain => match self.owner() {
                Some(i) => {
                    self.lbs[i].keepalived = Proc::Frozen;
                    format!("keepalived frozen (SIGSTOP) on {}", self.lbs[i].name)
                }
                None => "no VIP owner to freeze".into(),
            },
            Fault::KillHaproxyOnOwner => match self.owner() {
                Some(i) => {
                    self.lbs[i].haproxy_up = false;
                    format!("haproxy killed on {}", self.lbs[i].name)
                }
                None => "no VIP owner".into(),
            },
            Fault::CutSshToOwner => match self.owner() {
                Some(i) => {
                    self.lbs[i].ssh_cut = true;
                    format!("SSH to {} cut (it keeps the VIP)", self.lbs[i].name)
                }
                None => "no VIP owner".into(),
            },
            Fault::KillMaster => {
                // Prefer the etcd leader: the interesting case.
                let i = self.etcd_leader.unwrap_or(0).min(self.masters.len().saturating_sub(1));
                match self.masters.get_mut(i) {
                    Some(m) => {
                        m.host_up = false;
                        format!("{} powered off", m.name)
                    }
                    None => "no master".into(),
                }
            }
            Fault::EtcdNospace => {
                self.etcd_nospace = true;
                "etcd database quota exceeded: NOSPACE alarm".into()
            }
            Fault::OsdDown => match self.osds.iter().position(|o| o.up) {
                Some(i) => {
                    let k = (i + 4) % self.osds.len();
                    self.osds[k].up = false;
                    format!("osd.{k} down")
                }
                None => "no OSD up".into(),
            },
            Fault::CertExpiring => match self.masters.first_mut() {
                Some(m) => {
                    for c in &mut m.certs {
                        if c.name == "apiserver" {
                            c.not_after = now + Duration::days(5);
                        }
                    }
                    m.serving_not_after = now + Duration::days(5);
                    format!("{} apiserver certificate expires in 5 days", m.name)
                }
                None => "no master".into(),
            },
            Fault::HealAll => {
                for l in &mut self.lbs {
                    l.keepalived = Proc::Running;
                    l.haproxy_up = true;
                    l.ssh_cut = false;
                }
                for m in &mut self.masters {
                    m.host_up = true;
                    m.apiserver_up = true;
                    m.etcd_up = true;
                }
                self.etcd_nospace = false;
                for o in &mut self.osds {
                    o.up = true;
                }
                "every injected fault undone".into()
            }
        }
    }
}
