//! POSIX shell quoting and the one form every script command takes:
//! `sh -c 'SCRIPT' kockpit 'ARG'...`, where the arguments are data the script only ever uses quoted.

/// Quote one word for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `sh -c 'SCRIPT' kockpit 'ARG'...`: the form every script command takes.
pub fn script_command(script: &str, args: &[&str]) -> String {
    let mut cmd = script_prefix(script);
    for a in args {
        cmd.push(' ');
        cmd.push_str(&sh_quote(a));
    }
    cmd
}

fn script_prefix(script: &str) -> String {
    format!("sh -c {} kockpit", sh_quote(script))
}

/// `cmd` as root through `sudo -n` (never asks for a password): a script call as `sudo -n sh -c
/// 'SCRIPT' kockpit 'ARG'...` (the script and its arguments unchanged), any other command as `sudo -n
/// sh -c 'CMD'`.
pub fn sudo_command(cmd: &str) -> String {
    if cmd.starts_with("sh -c '") { format!("sudo -n {cmd}") } else { format!("sudo -n sh -c {}", sh_quote(cmd)) }
}

/// sudo's own refusal of a [`sudo_command`] (the command never ran), from what came back: why, in
/// words for `user`. None when the command ran (whatever it then did).
pub fn sudo_refusal(exit_status: Option<u32>, stdout: &str, stderr: &str, user: &str) -> Option<String> {
    if exit_status == Some(0) || !stdout.trim().is_empty() {
        return None;
    }
    let said = |s: &str| stderr.lines().any(|l| l.contains(s));
    let why = if said("sudo: not found") || said("sudo: command not found") {
        "sudo is not installed on this host".to_string()
    } else if !stderr.lines().any(|l| l.trim_start().starts_with("sudo: ") || l.contains("sudoers")) {
        return None;
    } else if said("a password is required") || said("a terminal is required") {
        format!("a password is required (give {user} a NOPASSWD rule in sudoers, or set [access] sudo = false)")
    } else if said("must have a tty") {
        format!("sudoers requires a tty (add `Defaults:{user} !requiretty`)")
    } else if said("is not in the sudoers file") {
        format!("{user} may not use sudo (not in sudoers)")
    } else if said("is not allowed to execute") {
        format!("sudoers does not let {user} run sh as root")
    } else {
        return None;
    };
    Some(why)
}

/// Whether `cmd` is `script` run the way [`script_command`] runs it, followed by nothing but
/// single-quoted arguments: no second command, no expansion, nothing unquoted.
pub fn is_script_call(cmd: &str, script: &str) -> bool {
    cmd.strip_prefix(script_prefix(script).as_str()).is_some_and(only_quoted_args)
}

/// Whether `cmd` is `script` run by [`script_command`], with any arguments.
pub fn starts_script(cmd: &str, script: &str) -> bool {
    cmd.starts_with(&format!("sh -c {}", sh_quote(script)))
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
    fn only_quoted_arguments_follow_the_script() {
        let ok = script_command("echo \"$1\"", &["a", "it's"]);
        assert!(is_script_call(&ok, "echo \"$1\""));
        for bad in [format!("{ok}; rm -rf /"), format!("{ok} $(touch /tmp/x)"), format!("{ok} 'a'b"), format!("{ok} 'unterminated")] {
            assert!(!is_script_call(&bad, "echo \"$1\""), "{bad:?}");
        }
        assert!(!is_script_call(&ok, "echo other"));
    }

    #[test]
    fn through_sudo() {
        let script = script_command("echo \"$1\"", &["it's"]);
        assert_eq!(sudo_command(&script), format!("sudo -n {script}"), "a script call is wrapped as it is");
        assert_eq!(sudo_command("systemctl stop 'kube'"), r"sudo -n sh -c 'systemctl stop '\''kube'\'''");
        let refused = |err: &str| sudo_refusal(Some(1), "", err, "deploy");
        assert!(refused("sudo: a password is required\n").unwrap().starts_with("a password is required (give deploy a NOPASSWD rule"));
        assert!(refused("sudo: a terminal is required to read the password; use -S").unwrap().starts_with("a password is"));
        assert!(refused("sudo: sorry, you must have a tty to run sudo\n").unwrap().contains("Defaults:deploy !requiretty"));
        assert_eq!(
            refused("deploy is not in the sudoers file.  This incident will be reported.\n").unwrap(),
            "deploy may not use sudo (not in sudoers)"
        );
        assert_eq!(refused("sh: 1: sudo: not found\n").unwrap(), "sudo is not installed on this host");
        // the command ran: whatever it said is its own
        assert_eq!(refused("no etcd client certificate readable here\n"), None);
        assert_eq!(sudo_refusal(Some(1), "@@ip\n", "sudo: a password is required", "deploy"), None);
        assert_eq!(sudo_refusal(Some(0), "", "sudo: unable to resolve host lb1", "deploy"), None);
    }

    #[test]
    fn quoting_round_trips_through_a_real_shell() {
        let arg = "a'b \"c\" $(x) `y` \\ ;";
        let out = std::process::Command::new("sh").arg("-c").arg(format!("printf %s {}", sh_quote(arg))).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), arg);
    }
}
