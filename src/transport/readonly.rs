//! The read-only command set. A read-only pool sends nothing else: every probe is a constant POSIX sh
//! script run as `sh -c 'SCRIPT' kockpit 'ARG'...`, where the arguments (paths and names from the plan)
//! are data the script only ever uses quoted ("$1"), never code. A command is in the set when it is
//! exactly one of the plain commands, or one of the scripts followed only by single-quoted arguments.

use super::scripts;
use crate::shell::{is_script_call, starts_script};
pub use crate::shell::{script_command, sh_quote};

/// Plain commands a read-only pool may send.
pub const READ_ONLY_PLAIN: &[&str] = &["true", "hostname", "id -un", "uname -r"];

/// The probe scripts and the log tail, the only other commands a read-only pool may send. The etcd
/// one prints the etcd client key (etcd offers no way in without one): it stays in memory and is never
/// logged.
pub fn read_only_scripts() -> [&'static str; 13] {
    [
        scripts::HOST_FACTS_SCRIPT,
        scripts::VRRP_SCRIPT,
        scripts::SHOW_STAT_SCRIPT,
        scripts::CREDENTIALS_SCRIPT,
        scripts::CEPH_SCRIPT,
        scripts::CERTS_SCRIPT,
        scripts::TAIL_SCRIPT,
        scripts::HA_CONFIG_SCRIPT,
        scripts::SNAPSHOTS_SCRIPT,
        scripts::ADDR_WATCH_SCRIPT,
        scripts::LOG_WATCH_SCRIPT,
        scripts::FACTS_WATCH_SCRIPT,
        scripts::STATS_WATCH_SCRIPT,
    ]
}

/// The read-only scripts that read what only root may (keepalived's signal and dumps, haproxy's socket
/// and configuration, keepalived.conf, the PKI's keys): with `[access] sudo = true` these run through
/// `sudo -n`. The others run as the SSH user.
pub fn needs_root(cmd: &str) -> bool {
    [
        scripts::VRRP_SCRIPT,
        scripts::SHOW_STAT_SCRIPT,
        scripts::STATS_WATCH_SCRIPT,
        scripts::HAPROXY_CLI_SCRIPT,
        scripts::HA_CONFIG_SCRIPT,
        scripts::CREDENTIALS_SCRIPT,
        scripts::CERTS_SCRIPT,
        scripts::SNAPSHOTS_SCRIPT,
    ]
    .iter()
    .any(|script| is_script_call(cmd, script))
}

/// A short name for a command in messages: the probe's name for the probe scripts.
pub fn describe_command(cmd: &str) -> String {
    let names = [
        "host facts",
        "keepalived probe",
        "haproxy show stat",
        "etcd credentials",
        "ceph probe",
        "certificates probe",
        "log tail",
        "HA configuration",
        "etcd snapshots listing",
        "address watch",
        "log watch",
        "host facts stream",
        "haproxy stats watch",
    ];
    for (script, name) in read_only_scripts().iter().zip(names) {
        if starts_script(cmd, script) {
            return name.to_string();
        }
    }
    let first = cmd.lines().next().unwrap_or("");
    if first.chars().count() > 60 || cmd.contains('\n') {
        let cut: String = first.chars().take(60).collect();
        format!("`{cut}…`")
    } else {
        format!("`{first}`")
    }
}

/// Whether `cmd` belongs to the read-only set.
pub fn is_read_only(cmd: &str) -> bool {
    if READ_ONLY_PLAIN.contains(&cmd) {
        return true;
    }
    read_only_scripts().iter().any(|script| is_script_call(cmd, script))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set() {
        let ok = script_command(scripts::SHOW_STAT_SCRIPT, &["/run/haproxy/it's.sock"]);
        assert!(is_read_only(&ok));
        assert!(is_read_only(&script_command(scripts::STATS_WATCH_SCRIPT, &[""])));
        // a Runtime API command of the caller's choosing is a write, whatever it says
        let cli = script_command(scripts::HAPROXY_CLI_SCRIPT, &["/run/haproxy/admin.sock", "show cli level"]);
        assert!(!is_read_only(&cli) && needs_root(&cli));
        assert!(is_read_only(&script_command(scripts::HOST_FACTS_SCRIPT, &[])));
        assert!(is_read_only("true"));
        for bad in [
            "touch /tmp/x",
            "true; touch /tmp/x",
            "hostname && reboot",
            &format!("{ok}; rm -rf /"),
            &format!("{ok} $(touch /tmp/x)"),
            &format!("{ok} 'a'b"),
            &format!("{ok} 'unterminated"),
            &script_command("echo 'disable server be/s' | socat stdio unix-connect:/run/haproxy/admin.sock", &[]),
            "",
        ] {
            assert!(!is_read_only(bad), "{bad:?}");
        }
    }

    #[test]
    fn what_needs_root() {
        assert!(needs_root(&script_command(scripts::VRRP_SCRIPT, &["/tmp/keepalived.json", ""])));
        assert!(needs_root(&script_command(scripts::SHOW_STAT_SCRIPT, &[""])));
        assert!(needs_root(&script_command(scripts::HA_CONFIG_SCRIPT, &["", ""])));
        assert!(!needs_root(&script_command(scripts::HOST_FACTS_SCRIPT, &[])), "facts are anyone's");
        assert!(!needs_root(&script_command(scripts::TAIL_SCRIPT, &["file", "/x", "1", "1"])));
        assert!(!needs_root("hostname"));
        assert!(!needs_root(&format!("{}; reboot", script_command(scripts::VRRP_SCRIPT, &[]))));
    }

    #[test]
    fn described() {
        assert_eq!(describe_command(&script_command(scripts::HOST_FACTS_SCRIPT, &[])), "host facts");
        assert_eq!(describe_command(&script_command(scripts::SHOW_STAT_SCRIPT, &["/s"])), "haproxy show stat");
        assert_eq!(describe_command(&script_command(scripts::STATS_WATCH_SCRIPT, &["/s"])), "haproxy stats watch");
        assert_eq!(describe_command("true"), "`true`");
        assert_eq!(describe_command(&script_command(scripts::TAIL_SCRIPT, &["file", "/x", "1", "1"])), "log tail");
    }
}
