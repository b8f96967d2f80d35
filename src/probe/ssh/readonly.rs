//! The read-only command set. A read-only pool sends nothing else: every probe is a constant POSIX sh
//! script run as `sh -c 'SCRIPT' kockpit 'ARG'...`, where the arguments (paths and names from the plan)
//! are data the script only ever uses quoted ("$1"), never code. A command is in the set when it is
//! exactly one of the plain commands, or one of the scripts followed only by single-quoted arguments.

use crate::probe::{haproxy, hosts, keepalived};

/// Plain commands a read-only pool may send.
pub const READ_ONLY_PLAIN: &[&str] = &["true", "hostname", "id -un", "uname -r"];

/// The probe scripts and the log tail, the only other commands a read-only pool may send. The etcd
/// one prints the etcd client key (etcd offers no way in without one): it stays in memory and is never
/// logged.
pub fn read_only_scripts() -> [&'static str; 7] {
    [
        hosts::HOST_FACTS_SCRIPT,
        keepalived::VRRP_SCRIPT,
        haproxy::SHOW_STAT_SCRIPT,
        crate::etcd::CREDENTIALS_SCRIPT,
        crate::ceph::CEPH_SCRIPT,
        crate::certs::CERTS_SCRIPT,
        crate::logs::host::TAIL_SCRIPT,
    ]
}

/// Quote one word for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A short name for a command in messages: the probe's name for the probe scripts.
pub fn describe_command(cmd: &str) -> String {
    let names = ["host facts", "keepalived probe", "haproxy show stat", "etcd credentials", "ceph probe", "certificates probe", "log tail"];
    for (script, name) in read_only_scripts().iter().zip(names) {
        if cmd.starts_with(&format!("sh -c {}", sh_quote(script))) {
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

/// `sh -c 'SCRIPT' kockpit 'ARG'...`: the form every probe command takes.
pub fn script_command(script: &str, args: &[&str]) -> String {
    let mut cmd = format!("sh -c {} kockpit", sh_quote(script));
    for a in args {
        cmd.push(' ');
        cmd.push_str(&sh_quote(a));
    }
    cmd
}

/// Whether `cmd` belongs to the read-only set.
pub fn is_read_only(cmd: &str) -> bool {
    if READ_ONLY_PLAIN.contains(&cmd) {
        return true;
    }
    read_only_scripts().iter().any(|script| {
        let prefix = format!("sh -c {} kockpit", sh_quote(script));
        cmd.strip_prefix(prefix.as_str()).is_some_and(only_quoted_args)
    })
}

/// ` 'a' 'b'\''c'`...: nothing but single-quoted words (with `'\''` for a quote inside).
fn only_quoted_args(mut rest: &str) -> bool {
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix(" '") else { return false };
        rest = r;
        loop {
            let Some(end) = rest.find('\'') else { return false };
            rest = &rest[end + 1..];
            match rest.strip_prefix(r"\''") {
                Some(r) => rest = r,
                None => break,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set() {
        let ok = script_command(haproxy::SHOW_STAT_SCRIPT, &["/run/haproxy/admin.sock", "it's"]);
        assert!(is_read_only(&ok));
        assert!(is_read_only(&script_command(hosts::HOST_FACTS_SCRIPT, &[])));
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
    fn described() {
        assert_eq!(describe_command(&script_command(hosts::HOST_FACTS_SCRIPT, &[])), "host facts");
        assert_eq!(describe_command(&script_command(haproxy::SHOW_STAT_SCRIPT, &["/s"])), "haproxy show stat");
        assert_eq!(describe_command("true"), "`true`");
        assert_eq!(describe_command(&script_command(crate::logs::host::TAIL_SCRIPT, &["file", "/x", "1", "1"])), "log tail");
    }

    #[test]
    fn quoting_round_trips_through_a_real_shell() {
        let arg = "a'b \"c\" $(x) `y` \\ ;";
        let out = std::process::Command::new("sh").arg("-c").arg(format!("printf %s {}", sh_quote(arg))).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), arg);
    }
}
