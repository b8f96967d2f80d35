//! The Hosts probe: one POSIX sh script per poll prints every fact kockpit compares with the plan.

use std::time::Duration;

use chrono::Utc;

use super::parse::parse_host_facts;
use super::ssh::{SshPool, script_command};
use crate::model::HostFacts;

/// Prints `@@SECTION` lines followed by the facts (see [`crate::probe::parse::hostfacts`]). Shell builtins
/// where possible: a poll costs three or four forks on the host.
pub const HOST_FACTS_SCRIPT: &str = r#"r() { l=; [ -r "$1" ] && IFS= read -r l <"$1"; [ -n "$l" ] && printf '%s\n' "$l"; }
echo @@date; date +%s.%N
echo @@hostname; r /proc/sys/kernel/hostname
echo @@kernel; r /proc/sys/kernel/osrelease
echo @@os; [ -r /etc/os-release ] && while IFS= read -r l; do case $l in PRETTY_NAME=*) printf '%s\n' "${l#PRETTY_NAME=}";; esac; done </etc/os-release
echo @@uptime; r /proc/uptime
echo @@loadavg; r /proc/loadavg
echo @@cpus; r /sys/devices/system/cpu/online || echo "n=$(nproc)"
echo @@meminfo; while read -r k v _; do case $k in MemTotal:|MemAvailable:|SwapTotal:) echo "$k $v";; esac; done </proc/meminfo
echo @@df; df -Pk / 2>/dev/null
echo @@firewalld; if [ -e /usr/lib/systemd/system/firewalld.service ] || [ -e /lib/systemd/system/firewalld.service ] || [ -e /etc/systemd/system/firewalld.service ]; then systemctl is-active firewalld 2>/dev/null; else echo absent; fi
echo @@selinux; if command -v getenforce >/dev/null 2>&1; then getenforce 2>/dev/null; else echo absent; fi
echo @@br_netfilter; if [ -d /sys/module/br_netfilter ]; then echo 1; else echo 0; fi
echo @@bridge_nf_call_iptables; r /proc/sys/net/bridge/bridge-nf-call-iptables
echo @@ip_forward; r /proc/sys/net/ipv4/ip_forward
echo @@end
"#;

/// The widest exec-to-first-byte window in which the remote clock is still compared (±half of it).
const MAX_CLOCK_WINDOW: Duration = Duration::from_millis(300);

/// Run the host-facts script on `ssh_host` and parse it.
pub async fn probe_host(pool: &SshPool, ssh_host: &str, timeout: Duration) -> Result<HostFacts, String> {
    let out = pool
        .run_persistent(ssh_host, "facts", &script_command(HOST_FACTS_SCRIPT, &[]), timeout)
        .await
        .map_err(|e| super::ssh_reason(&e))?;
    let done = Utc::now();
    // `date` is the script's first output: it ran between the exec request and the first byte back.
    // Compare it with the local clock halfway through that window; when the window is too wide to
    // tell a 500 ms offset (a loaded machine, a slow link), say nothing rather than something wrong.
    let local_mid = out.first_output.filter(|w| *w < MAX_CLOCK_WINDOW).map(|w| {
        let exec_at = done - chrono::Duration::from_std(out.elapsed).unwrap_or_default();
        let mid = exec_at + chrono::Duration::from_std(w / 2).unwrap_or_default();
        mid.timestamp() as f64 + f64::from(mid.timestamp_subsec_nanos()) / 1e9
    });
    if out.stdout.trim().is_empty() {
        let why = out.stderr.lines().next().unwrap_or("no output");
        return Err(format!("host facts: {why} (exit {:?})", out.exit_status));
    }
    parse_host_facts(&out.stdout, local_mid).map_err(|e| e.to_string())
}
