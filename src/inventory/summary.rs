//! The human-readable summary of a plan (`kockpit plan FILE`) and its warnings.

use std::fmt::Write as _;

use super::{EtcdTopology, Host, LbTopology, Plan};

impl Plan {
    /// Non-fatal problems of the plan: fault tolerance it lacks, roles the topology does not use.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let etcd = self.etcd_hosts().count();
        match etcd {
            0 => warnings.push("no etcd member in the plan: kockpit cannot watch etcd (expected hosts with the etcd role)".to_owned()),
            1 => warnings.push("a single etcd member: losing it loses the cluster; 3 or 5 members are recommended".into()),
            n if n % 2 == 0 => warnings.push(format!(
                "an even number of etcd members ({n}) tolerates no more failures than {} ({} failure{}); \
                 3 or 5 members are recommended",
                n - 1,
                (n - 1) / 2,
                plural((n - 1) / 2)
            )),
            3 | 5 => {}
            n => warnings.push(format!("{n} etcd members: 3 or 5 are recommended (more members slow every write down)")),
        }
        let masters = self.masters().count();
        if masters == 1 {
            warnings.push("a single master: the control plane has no redundancy".to_owned());
        }

        let lbs: Vec<&str> = self.lbs().map(|h| h.name.as_str()).collect();
        match self.topology.load_balancer {
            LbTopology::Dedicated if lbs.is_empty() => warnings.push(
                "a dedicated load balancer with no lb host in the plan: kockpit cannot watch it (an external load balancer?)".to_owned(),
            ),
            LbTopology::Dedicated if lbs.len() == 1 && self.vip.is_some() => {
                warnings.push(format!("a single load balancer ({}) carries the VIP: it is a single point of failure", lbs[0]))
            }
            LbTopology::Dedicated => {}
            other if !lbs.is_empty() => warnings.push(format!(
                "host{} {} ha{} the lb role but topology.load_balancer is `{other}`, which uses no lb hosts",
                plural(lbs.len()),
                lbs.join(", "),
                if lbs.len() == 1 { "s" } else { "ve" }
            )),
            _ => {}
        }
        if self.topology.load_balancer == LbTopology::Masters && masters == 1 {
            warnings.push("the VIP floats over a single master: it cannot fail over".to_owned());
        }

        if self.topology.etcd == EtcdTopology::Stacked {
            let outside: Vec<&str> = self.etcd_hosts().filter(|h| !h.roles.master).map(|h| h.name.as_str()).collect();
            if !outside.is_empty() {
                warnings.push(format!(
                    "etcd is stacked on the masters, yet {} ha{} the etcd role without being a master",
                    outside.join(", "),
                    if outside.len() == 1 { "s" } else { "ve" }
                ));
            }
        }

        if let Some(vip) = &self.vip {
            for host in self.hosts.iter().filter(|h| h.address == vip.address || h.internal_address == Some(vip.address)) {
                warnings.push(format!("the VIP {} is also the address of host {}", vip.address, host.name));
            }
            if let Some(why) = unusable_vip(vip.address) {
                warnings.push(format!("the VIP {} {why}: no host can hold it, and no client can reach it", vip.address));
            }
            // keepalived holds a VIP on an interface of its subnet; the plan has no masks, so /24 is assumed
            let carriers: Vec<&Host> = match self.topology.load_balancer {
                LbTopology::Masters => self.masters().collect(),
                _ => self.lbs().collect(),
            };
            if let std::net::IpAddr::V4(v) = vip.address
                && !carriers.is_empty()
                && !carriers.iter().any(|h| {
                    [Some(h.address), h.internal_address]
                        .into_iter()
                        .flatten()
                        .any(|a| matches!(a, std::net::IpAddr::V4(a) if a.octets()[..3] == v.octets()[..3]))
                })
            {
                warnings.push(format!(
                    "the VIP {} is in none of the /24 networks of the hosts that would carry it ({}): keepalived can only \
                     hold a VIP on a subnet one of its interfaces is on (kockpit assumes /24: the plan has no masks)",
                    vip.address,
                    carriers.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for host in self.hosts.iter().filter(|h| h.roles.is_empty()) {
            warnings.push(format!("host {} has no role kockpit knows (lb, master, etcd, worker): it is listed but not watched", host.name));
        }
        warnings
    }

    /// The human-readable summary printed by `kockpit plan FILE`.
    pub fn summary_text(&self) -> String {
        let mut out = String::new();
        let version = self.cluster.kubernetes_version.as_deref().map(|v| format!(" (Kubernetes {v})")).unwrap_or_default();
        let _ = writeln!(out, "Cluster   {}{version}", self.cluster.name);
        let _ = writeln!(out, "Source    {}", self.source);
        match &self.vip {
            Some(vip) => {
                let extras: Vec<String> =
                    [vip.domain.as_ref().map(|d| format!("domain {d}")), vip.interface.as_ref().map(|i| format!("interface {i}"))]
                        .into_iter()
                        .flatten()
                        .collect();
                let extras = if extras.is_empty() { String::new() } else { format!(" ({})", extras.join(", ")) };
                let _ = writeln!(out, "VIP       {vip}{extras}");
            }
            None => {
                let _ = writeln!(out, "VIP       none");
            }
        }
        let _ = writeln!(
            out,
            "Topology  load balancer: {}; etcd: {} ({})",
            self.topology.load_balancer, self.topology.etcd, self.topology.etcd_deploy
        );
        out.push('\n');
        out.push_str(&self.host_table());
        out.push('\n');

        let masters = self.masters().count();
        let etcd = self.etcd_hosts().count();
        let lbs: Vec<&str> = self.lbs().map(|h| h.name.as_str()).collect();
        let _ = writeln!(out, "Masters   {masters}");
        if etcd == 0 {
            let _ = writeln!(out, "etcd      no members in the plan");
        } else {
            let tolerated = (etcd - 1) / 2;
            let _ = writeln!(
                out,
                "etcd      {etcd} member{} ({}): quorum {}, tolerates {tolerated} failure{}",
                plural(etcd),
                self.topology.etcd,
                etcd / 2 + 1,
                plural(tolerated)
            );
            let e = &self.etcd;
            let age = if e.snapshot_max_age_hours == 0 {
                "no age limit".to_string()
            } else {
                format!("older than {} h is a finding", e.snapshot_max_age_hours)
            };
            let dirs = if e.snapshot_dirs.is_empty() { "none listed".to_string() } else { e.snapshot_dirs.join(" ") };
            let _ = writeln!(out, "Snapshots {dirs} on the etcd hosts; {age}");
        }
        let lb_list = if lbs.is_empty() { String::new() } else { format!(" ({})", lbs.join(", ")) };
        let _ = writeln!(out, "LBs       {}{lb_list}", lbs.len());
        let _ = writeln!(out, "Workers   {}", self.workers().count());

        let warnings = self.warnings();
        if warnings.is_empty() {
            out.push_str("\nNo warnings.\n");
        } else {
            let _ = writeln!(out, "\nWarnings ({}):", warnings.len());
            for warning in warnings {
                let _ = writeln!(out, "  ! {warning}");
            }
        }
        out
    }

    /// `plan --json`: the plan as understood, with what the text output adds to it: the counts and the
    /// quorum (`summary`) and every warning (`warnings`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        let etcd = self.etcd_hosts().count();
        let summary = serde_json::json!({
            "masters": self.masters().count(),
            "etcd": {
                "members": etcd,
                "deploy": self.topology.etcd.to_string(),
                "quorum": if etcd == 0 { None } else { Some(etcd / 2 + 1) },
                "tolerates": if etcd == 0 { None } else { Some((etcd - 1) / 2) },
            },
            "lbs": self.lbs().map(|h| h.name.clone()).collect::<Vec<_>>(),
            "workers": self.workers().count(),
        });
        if let Some(o) = v.as_object_mut() {
            o.insert("summary".into(), summary);
            o.insert("warnings".into(), serde_json::to_value(self.warnings()).unwrap_or_default());
        }
        v
    }

    /// The table of hosts: name, address, roles, size, OS (and kernel), notes; an SSH column when an
    /// SSH alias differs from a name.
    fn host_table(&self) -> String {
        let with_ssh = self.hosts.iter().any(|h| h.ssh_host != h.name);
        let with_kernel = self.hosts.iter().any(|h| h.kernel.is_some());
        let mut header = vec!["HOST", "ADDRESS", "ROLES", "SIZE", "OS"];
        if with_kernel {
            header.push("KERNEL");
        }
        if with_ssh {
            header.push("SSH");
        }
        header.push("NOTES");
        let rows: Vec<Vec<String>> = self.hosts.iter().map(|h| host_row(h, with_kernel, with_ssh)).collect();

        let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = header.into_iter().map(str::to_owned).collect();
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    // padded by hand: a width from the plan's own text may be past what `{:<w$}` takes
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.chars().count()) + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn host_row(host: &Host, with_kernel: bool, with_ssh: bool) -> Vec<String> {
    let dash = || "-".to_owned();
    let address = match host.internal_address {
        Some(internal) if internal != host.address => format!("{} ({internal})", host.address),
        _ => host.address.to_string(),
    };
    // one line per host: a line break inside a value is shown, never taken (it would forge a row)
    let cell = |v: &str| v.replace('\n', "\\n").replace('\r', "\\r");
    let mut row = vec![
        host.name.clone(),
        address,
        host.roles.label(),
        host.size.map_or_else(dash, |s| s.to_string()),
        host.os.as_deref().map_or_else(dash, cell),
    ];
    if with_kernel {
        row.push(host.kernel.as_deref().map_or_else(dash, cell));
    }
    if with_ssh {
        row.push(cell(&host.ssh_host));
    }
    // Notes may span lines; the table keeps one line per host.
    row.push(host.notes.as_deref().map(|n| n.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default());
    row
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Why an address cannot be a VIP, if it cannot.
pub fn unusable_vip(a: std::net::IpAddr) -> Option<&'static str> {
    match a {
        std::net::IpAddr::V4(v) if v.is_unspecified() => Some("is the unspecified address"),
        std::net::IpAddr::V4(v) if v.is_broadcast() || v.octets()[3] == 255 => Some("is a broadcast address"),
        std::net::IpAddr::V4(v) if v.is_multicast() => Some("is a multicast address"),
        std::net::IpAddr::V4(v) if v.is_loopback() => Some("is a loopback address"),
        std::net::IpAddr::V6(v) if v.is_unspecified() => Some("is the unspecified address"),
        std::net::IpAddr::V6(v) if v.is_multicast() => Some("is a multicast address"),
        std::net::IpAddr::V6(v) if v.is_loopback() => Some("is a loopback address"),
        _ => None,
    }
}
