//! What the simulated cluster shows: the same observations the live probes produce.

use chrono::{DateTime, Duration, Utc};

use super::*;

impl SimCluster {
    /// Everything the probes would see right now.
    pub fn observe(&self, now: DateTime<Utc>) -> Vec<Observation> {
        let mut out = Vec::with_capacity(32);
        let obs = |source: String, payload: Payload| Observation { at: now, source, budget_ms: 3_000, payload };
        let vip = self.plan.vip.as_ref().map(|v| v.address.to_string()).unwrap_or_default();

        // Hosts.
        let cut = |name: &str| self.lbs.iter().any(|l| l.ssh_cut && l.name == name);
        let cut_err = |name: &str| format!("probe timed out after 3.0s (ssh {name})");
        for h in &self.plan.hosts {
            let down = self.masters.iter().any(|m| m.name == h.name && !m.host_up) || cut(&h.name);
            let result =
                if down { Err(format!("ssh: connect to {}:22: connection timed out", h.address)) } else { Ok(self.host_facts(h, now)) };
            out.push(obs(format!("sim ssh {}", h.name), Payload::Host { host: h.name.clone(), result }));
        }
        // keepalived.
        for (i, l) in self.lbs.iter().enumerate() {
            let result = if l.ssh_cut {
                Err(cut_err(&l.name))
            } else {
                Ok(VrrpView {
                    instance: "VI_1".into(),
                    state: l.state,
                    priority: l.priority,
                    effective_priority: if l.keepalived == Proc::Stopped { 0 } else { l.effective_priority() },
                    holds_vip: l.holds_vip,
                    last_transition: Some(l.last_transition),
                })
            };
            let _ = i;
            out.push(obs(format!("sim ssh {}", l.name), Payload::Vrrp { lb: l.name.clone(), result }));
        }
        // haproxy.
        for (li, l) in self.lbs.iter().enumerate() {
            let result = if l.ssh_cut {
                Err(cut_err(&l.name))
            } else if !l.haproxy_up {
                Err("haproxy: connect to /run/haproxy/admin.sock: connection refused".to_string())
            } else {
                Ok(self
                    .masters
                    .iter()
                    .enumerate()
                    .map(|(mi, m)| {
                        let t = &self.tracks[&(li, mi)];
                        let status = t.admin.unwrap_or(t.status);
                        let text = match status {
                            ServerStatus::Maint => "MAINT",
                            ServerStatus::Drain => "DRAIN",
                            ServerStatus::Up => "UP",
                            ServerStatus::GoingDown => "UP 1/2",
                            ServerStatus::Down => "DOWN",
                            ServerStatus::GoingUp => "DOWN 1/2",
                            _ => "UP",
                        };
                        let check = match t.status {
                            ServerStatus::Up | ServerStatus::GoingUp => "L7OK",
                            _ if !m.host_up => "L4TOUT",
                            _ => "L4CON",
                        };
                        BackendServer {
                            backend: "kube-apiserver".into(),
                            server: m.name.clone(),
                            address: format!("{}:6443", self.plan.host(&m.name).map(|h| h.address.to_string()).unwrap_or_default()),
                            status,
                            status_text: text.into(),
                            check_status: Some(check.into()),
                            check_duration_ms: Some(if check == "L7OK" { 2 } else { 1_000 }),
                            last_change_secs: Some((now - t.last_change).num_seconds().max(0) as u64),
                            sessions: if status.is_serving() && l.holds_vip { 40 + (mi as u64 * 7) } else { 0 },
                            weight: 1,
                        }
                    })
                    .collect())
            };
            out.push(obs(format!("sim ssh {}", l.name), Payload::Haproxy { lb: l.name.clone(), result }));
        }
        // The HA configuration as the LB's daemons run it.
        for (i, l) in self.lbs.iter().enumerate() {
            let result =
                if l.ssh_cut { Err(cut_err(&l.name)) } else { Ok(Box::new(super::haconf::view(&self.plan, &l.name, i == 0, l.priority))) };
            out.push(obs(format!("sim ssh {}", l.name), Payload::HaConfig { host: l.name.clone(), result }));
        }
        for m in &self.masters {
            let result = if !m.host_up {
                Err("connect: no route to host".to_string())
            } else if !m.serving(now) {
                Err("connect: connection refused".to_string())
            } else if self.etcd_leader.is_none() {
                Ok(Readyz { ok: false, status: 500, detail: "[-]etcd failed".into(), latency_ms: 3.0 })
            } else {
                Ok(Readyz { ok: true, status: 200, detail: "ok".into(), latency_ms: 2.1 })
            };
            out.push(obs("sim https".into(), Payload::Readyz { master: m.name.clone(), result }));
        }
        // The VIP from where kockpit runs.
        let owner_serves = self.lbs.iter().any(|l| l.holds_vip && l.haproxy_up && l.keepalived != Proc::Stopped);
        let vip_result = if owner_serves {
            Ok(VipProbe { address: format!("{vip}:6443"), connect_ms: 0.6 })
        } else {
            Err(format!("connect {vip}:6443: connection refused"))
        };
        if self.vip_clients {
            let r = if owner_serves { Ok(0.4) } else { Err(format!("connect {vip}:6443: connection refused")) };
            out.push(obs("sim vip clients".into(), Payload::VipClient(r)));
        }
        out.push(obs("sim tcp".into(), Payload::VipProbe(vip_result)));
        // etcd.
        out.push(obs("sim etcd".into(), Payload::Etcd(Ok(self.etcd_view()))));
        // KubeKey's backup timer, every 30 minutes, on every master that is up
        for m in &self.masters {
            let result = if m.host_up {
                // the timer's last run, 13 minutes past a half hour
                let last = now.timestamp() - (now.timestamp() + 780).rem_euclid(1800);
                let files = (0..3)
                    .filter_map(|k| DateTime::from_timestamp(last - k * 1800, 0))
                    .map(|t| SnapshotFile {
                        path: format!("{}/etcd-{}/snapshot.db", crate::inventory::KUBEKEY_BACKUP_DIR, t.format("%Y-%m-%d-%H-%M-%S")),
                        size: self.etcd_db,
                        modified: t,
                    })
                    .collect();
                Ok(SnapshotFiles { files, missing_dirs: vec![] })
            } else {
                Err(format!("ssh: connect to {}:22: connection timed out", m.name))
            };
            out.push(obs(format!("sim ssh {}", m.name), Payload::EtcdSnapshots { host: m.name.clone(), result }));
        }
        if self.etcd_writes {
            // a write needs a leader (and so a quorum); the NOSPACE alarm refuses it
            let result = match (self.etcd_leader, self.etcd_nospace) {
                (None, _) => Err("etcdserver: no leader (timed out after 5.0 s)".to_string()),
                (Some(_), true) => Err("etcdserver: mvcc: database space exceeded".to_string()),
                (Some(_), false) => Ok(1.2),
            };
            out.push(obs("sim etcd writer".into(), Payload::EtcdWrite(result)));
        }
        // Leases.
        out.push(obs("sim kube".into(), Payload::Leases(Ok(self.leases()))));
        // Nodes.
        out.push(obs("sim kube".into(), Payload::Nodes(Ok(self.node_list()))));
        // Platform workloads.
        out.push(obs("sim kube".into(), Payload::Workloads(Ok(self.workloads()))));
        // Ceph.
        out.push(obs("sim ceph".into(), Payload::Ceph(Ok(self.ceph_view(now)))));
        // Certificates.
        for m in &self.masters {
            let result = if m.host_up {
                let mut certs = m.certs.clone();
                certs.push(CertInfo {
                    name: "apiserver (served)".into(),
                    subject: "CN=kube-apiserver".into(),
                    issuer: "CN=kubernetes".into(),
                    sans: vec![],
                    not_after: m.serving_not_after,
                    is_ca: false,
                });
                Ok(certs)
            } else {
                Err("ssh: connection timed out".to_string())
            };
            out.push(obs(format!("sim ssh {}", m.name), Payload::Certs { host: m.name.clone(), result }));
        }
        out
    }

    pub(super) fn host_facts(&self, h: &crate::inventory::Host, now: DateTime<Utc>) -> HostFacts {
        let size = h.size;
        let old_kernel = self.old_kernel_host(&h.name);
        let seed = h.name.bytes().map(u64::from).sum::<u64>();
        let load = (now.timestamp() as u64 / 5 + seed) % 17;
        HostFacts {
            hostname: h.name.clone(),
            kernel: if old_kernel { "3.10.0-1160.el7.x86_64".into() } else { "5.4.278-1.el7.elrepo.x86_64".into() },
            os: "CentOS Linux 7 (Core)".into(),
            uptime_secs: (now - self.booted).num_seconds().max(0) as u64,
            load1: 0.2 + load as f64 / 10.0,
            cpus: size.map(|s| s.cpu).unwrap_or(4),
            mem_total_mb: size.map(|s| u64::from(s.memory_gb) * 1024 - 180).unwrap_or(8 * 1024),
            mem_avail_mb: size.map(|s| u64::from(s.memory_gb) * 1024 * 2 / 5).unwrap_or(2 * 1024),
            disk_total_gb: size.and_then(|s| s.disk_gb).map(u64::from).unwrap_or(100),
            disk_used_pct: 31 + (seed % 30) as u8,
            swap_total_mb: 0,
            firewalld: Some("inactive".into()),
            selinux: Some("Disabled".into()),
            br_netfilter: Some(true),
            bridge_nf_call_iptables: Some(true),
            ip_forward: Some(true),
            time_offset_ms: Some((seed % 7) as i64),
        }
    }

    pub(super) fn etcd_view(&self) -> EtcdView {
        let members = self
            .masters
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let up = self.etcd_up(i);
                let addr = self.plan.host(&m.name).map(|h| h.address.to_string()).unwrap_or_default();
                EtcdMember {
                    name: m.name.clone(),
                    id: 0x8e9e_05c5_2164_694d_u64.wrapping_mul(i as u64 + 1),
                    endpoint: format!("https://{addr}:2379"),
                    reachable: up,
                    is_leader: up && self.etcd_leader == Some(i),
                    is_learner: false,
                    version: "3.4.13".into(),
                    raft_term: if up { self.etcd_term } else { 0 },
                    raft_index: if up { self.etcd_index } else { 0 },
                    raft_applied_index: if up { self.etcd_index.saturating_sub(i as u64) } else { 0 },
                    db_size: if up { self.etcd_db * 7 / 10 * 100 / (100 - m.etcd_free_pct.min(90)) } else { 0 },
                    db_size_in_use: if up { self.etcd_db * 7 / 10 } else { 0 },
                    error: if up { None } else { Some("context deadline exceeded".into()) },
                }
            })
            .collect();
        let alarms = if self.etcd_nospace {
            self.masters.iter().map(|m| EtcdAlarm { member: m.name.clone(), alarm: "NOSPACE".into() }).take(1).collect()
        } else {
            vec![]
        };
        EtcdView { members, alarms }
    }

    pub(super) fn leases(&self) -> Vec<Lease> {
        let mut v: Vec<Lease> = self
            .elections
            .iter()
            .map(|e| Lease {
                namespace: "kube-system".into(),
                name: e.name.clone(),
                kind: LeaseKind::LeaderElection,
                holder: self.masters.get(e.holder).map(|m| format!("{}_{:08x}", m.name, e.transitions.wrapping_mul(2_654_435_761))),
                renew_time: Some(e.renew),
                acquire_time: Some(e.acquire),
                duration_secs: 15,
                transitions: e.transitions,
            })
            .collect();
        v.extend(self.nodes.iter().map(|n| Lease {
            namespace: "kube-node-lease".into(),
            name: n.name.clone(),
            kind: LeaseKind::NodeHeartbeat,
            holder: Some(n.name.clone()),
            renew_time: Some(n.lease_renew),
            acquire_time: None,
            duration_secs: 40,
            transitions: 0,
        }));
        v
    }

    pub(super) fn node_list(&self) -> Vec<Node> {
        let version = self.plan.cluster.kubernetes_version.clone().unwrap_or_else(|| "v1.21.5".into());
        self.nodes
            .iter()
            .map(|n| {
                let host = self.plan.host(&n.name);
                let cpus = host.and_then(|h| h.size).map(|s| s.cpu).unwrap_or(8) as u64;
                let mem = host.and_then(|h| h.size).map(|s| u64::from(s.memory_gb)).unwrap_or(32) * GIB;
                let old_kernel = self.old_kernel_host(&n.name);
                let (cpu_requested_m, mem_requested) = self.node_requests(n);
                let mut taints = vec![];
                if n.control_plane {
                    taints.push("node-role.kubernetes.io/master:NoSchedule".into());
                }
                if n.unschedulable {
                    taints.push("node.kubernetes.io/unschedulable:NoSchedule".into());
                }
                if !n.ready {
                    taints.push("node.kubernetes.io/unreachable:NoExecute".into());
                }
                Node {
                    name: n.name.clone(),
                    roles: vec![if n.control_plane { "control-plane".into() } else { "worker".into() }],
                    ready: if n.ready { Some(true) } else { None },
                    pressures: vec![],
                    unschedulable: n.unschedulable,
                    taints,
                    cpu_allocatable_m: cpus * 1000 - 200,
                    cpu_requested_m,
                    cpu_used_m: None,
                    mem_allocatable: mem - GIB / 2,
                    mem_requested,
                    mem_used: None,
                    pods: n.pods,
                    pods_capacity: 110,
                    kubelet_version: version.clone(),
                    runtime: "docker://20.10.8".into(),
                    kernel: if old_kernel { "3.10.0-1160.el7.x86_64".into() } else { "5.4.278-1.el7.elrepo.x86_64".into() },
                    internal_ip: host.map(|h| h.address.to_string()).unwrap_or_else(|| "10.1.0.1".into()),
                }
            })
            .collect()
    }

    pub(super) fn workloads(&self) -> Vec<Workload> {
        let nodes = self.nodes.len() as u32;
        let ready_nodes = self.nodes.iter().filter(|n| n.ready).count() as u32;
        let workers = self.nodes.iter().filter(|n| !n.control_plane).count() as u32;
        let masters_up = self.masters.iter().filter(|m| m.host_up).count() as u32;
        let w = |ns: &str, kind: WorkloadKind, name: &str, desired: u32, ready: u32| Workload {
            namespace: ns.into(),
            kind,
            name: name.into(),
            desired,
            ready,
            updated: desired,
            available: ready,
        };
        use WorkloadKind::*;
        vec![
            w("kube-system", Deployment, "coredns", 2, 2),
            w("kube-system", DaemonSet, "kube-proxy", nodes, ready_nodes),
            w("kube-system", DaemonSet, "calico-node", nodes, ready_nodes),
            w("kube-system", Deployment, "calico-kube-controllers", 1, 1),
            w("kube-system", DaemonSet, "nodelocaldns", nodes, ready_nodes),
            w("kubesphere-system", Deployment, "ks-apiserver", 1, masters_up.min(1)),
            w("kubesphere-system", Deployment, "ks-console", 1, 1),
            w("kubesphere-system", Deployment, "ks-controller-manager", 1, 1),
            w("kubesphere-logging-system", DaemonSet, "fluent-bit", nodes, ready_nodes),
            w("rook-ceph", Deployment, "rook-ceph-operator", 1, 1),
            w("rook-ceph", DaemonSet, "csi-rbdplugin", workers, workers.min(ready_nodes)),
            w("rook-ceph", Deployment, "rook-ceph-mgr-a", 1, 1),
        ]
    }

    pub(super) fn ceph_view(&self, now: DateTime<Utc>) -> CephView {
        let osds = self.osds.len() as u32;
        let up = self.osds.iter().filter(|o| o.up).count() as u32;
        // A down OSD is marked out after 600 s, unless noout is set.
        let out_count =
            self.osds.iter().filter(|o| !self.noout && o.down_since.is_some_and(|d| (now - d).num_seconds() >= 600)).count() as u32;
        let degraded = self.osds.iter().any(|o| o.down_since.is_some_and(|d| (now - d).num_seconds() >= 6));
        let mut checks = vec![];
        if up < osds {
            checks.push(CephCheck { code: "OSD_DOWN".into(), severity: CephHealth::Warn, summary: format!("{} osds down", osds - up) });
        }
        let total_pgs = 193u64;
        let degraded_pgs = if degraded { 64 } else { 0 };
        if degraded {
            checks.push(CephCheck {
                code: "PG_DEGRADED".into(),
                severity: CephHealth::Warn,
                summary: format!("Degraded data redundancy: 11234/101094 objects degraded (11.112%), {degraded_pgs} pgs degraded"),
            });
        }
        if self.noout {
            checks.push(CephCheck { code: "OSDMAP_FLAGS".into(), severity: CephHealth::Warn, summary: "noout flag(s) set".into() });
        }
        let health = checks.iter().map(|c| c.severity).max().unwrap_or(CephHealth::Ok);
        let mut pgs = vec![("active+clean".to_string(), total_pgs - degraded_pgs)];
        if degraded_pgs > 0 {
            pgs.push(("active+undersized+degraded".to_string(), degraded_pgs));
        }
        let mut hosts: Vec<String> = self.osds.iter().map(|o| o.host.clone()).collect();
        hosts.dedup();
        let detail = hosts
            .iter()
            .map(|h| {
                let on = self.osds.iter().filter(|o| &o.host == h);
                CephOsdHost { name: h.clone(), osds: on.clone().count() as u32, up: on.filter(|o| o.up).count() as u32 }
            })
            .collect();
        let pool = |name: &str| CephPool { name: name.into(), size: 3, min_size: 2, failure_domain: "host".into() };
        CephView {
            health,
            checks,
            mons: 3,
            mons_in_quorum: 3,
            osds,
            osds_up: up,
            osds_in: osds - out_count,
            pgs_by_state: pgs,
            bytes_used: 2_310 * GIB,
            bytes_total: u64::from(osds) * 1_000 * GIB,
            flags: if self.noout { vec!["noout".into()] } else { vec![] },
            osd_hosts: hosts,
            osd_host_detail: detail,
            pools: Some(vec![pool(".mgr"), pool("replicapool"), pool("ceph-filesystem-data0")]),
        }
    }
}

/// The certificates kubeadm puts on a master, issued at `issued`.
pub(super) fn kubeadm_certs(host: &str, issued: DateTime<Utc>) -> Vec<CertInfo> {
    let leaf = issued + Duration::days(365);
    let ca = issued + Duration::days(3650);
    let mk = |name: &str, subject: &str, issuer: &str, not_after, is_ca, sans: Vec<String>| CertInfo {
        name: name.into(),
        subject: subject.into(),
        issuer: issuer.into(),
        sans,
        not_after,
        is_ca,
    };
    vec![
        mk("ca", "CN=kubernetes", "CN=kubernetes", ca, true, vec![]),
        mk("etcd-ca", "CN=etcd-ca", "CN=etcd-ca", ca, true, vec![]),
        mk("front-proxy-ca", "CN=front-proxy-ca", "CN=front-proxy-ca", ca, true, vec![]),
        mk(
            "apiserver",
            "CN=kube-apiserver",
            "CN=kubernetes",
            leaf,
            false,
            vec![host.into(), "kubernetes".into(), "lb.kubesphere.local".into(), "10.0.0.100".into()],
        ),
        mk("apiserver-kubelet-client", "O=system:masters, CN=kube-apiserver-kubelet-client", "CN=kubernetes", leaf, false, vec![]),
        mk("apiserver-etcd-client", "O=system:masters, CN=kube-apiserver-etcd-client", "CN=etcd-ca", leaf, false, vec![]),
        mk("front-proxy-client", "CN=front-proxy-client", "CN=front-proxy-ca", leaf, false, vec![]),
        mk("etcd-server", &format!("CN={host}"), "CN=etcd-ca", leaf, false, vec![host.into(), "localhost".into()]),
        mk("etcd-peer", &format!("CN={host}"), "CN=etcd-ca", leaf, false, vec![host.into()]),
        mk("etcd-healthcheck-client", "O=system:masters, CN=kube-etcd-healthcheck-client", "CN=etcd-ca", leaf, false, vec![]),
        mk("admin.conf", "O=system:masters, CN=kubernetes-admin", "CN=kubernetes", leaf, false, vec![]),
        mk("controller-manager.conf", "CN=system:kube-controller-manager", "CN=kubernetes", leaf, false, vec![]),
        mk("scheduler.conf", "CN=system:kube-scheduler", "CN=kubernetes", leaf, false, vec![]),
        mk(
            "kubelet-client",
            &format!("O=system:nodes, CN=system:node:{host}"),
            "CN=kubernetes",
            issued + Duration::days(340),
            false,
            vec![],
        ),
    ]
}
