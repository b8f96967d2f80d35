//! What the SSH user may not do, as a reason that says which file or socket and how to fix it. The
//! read-only scripts report a permission they lack as one line, `kockpit-denied KIND PATH USER GROUP`
//! (GROUP: the group whose members would have it, `-` for none); sudo's own refusals come back as
//! [`crate::transport::ssh::SshError::Sudo`].

/// `kockpit-denied socket /run/haproxy/admin.sock deploy haproxy` as `permission denied:
/// /run/haproxy/admin.sock (user deploy; set [access] sudo = true or add the user to group haproxy)`.
/// None for any other line.
pub fn denied_reason(line: &str) -> Option<String> {
    let mut w = line.trim().strip_prefix("kockpit-denied ")?.split_whitespace();
    let (_kind, path) = (w.next()?, w.next()?);
    let (user, group) = (w.next().unwrap_or("?"), w.next().unwrap_or("-"));
    let fix = match (user, group) {
        // root through sudo, and still refused: not a matter of users and groups
        ("root", _) => "even as root: look at SELinux or AppArmor".to_string(),
        (_, "-" | "root" | "") => "set [access] sudo = true".to_string(),
        (_, g) => format!("set [access] sudo = true or add the user to group {g}"),
    };
    Some(format!("permission denied: {path} (user {user}; {fix})"))
}

/// The reason in a script's stderr: a `kockpit-denied` line made readable, else the first line.
pub fn script_failure(stderr: &str) -> String {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    lines().find_map(denied_reason).or_else(|| lines().next().map(str::to_string)).unwrap_or_else(|| "no output".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_names_the_file_the_user_and_the_fix() {
        assert_eq!(
            denied_reason("kockpit-denied socket /run/haproxy/admin.sock deploy haproxy").unwrap(),
            "permission denied: /run/haproxy/admin.sock (user deploy; set [access] sudo = true or add the user to group haproxy)"
        );
        assert_eq!(
            denied_reason("kockpit-denied file /etc/keepalived/keepalived.conf deploy -").unwrap(),
            "permission denied: /etc/keepalived/keepalived.conf (user deploy; set [access] sudo = true)"
        );
        assert_eq!(
            denied_reason("kockpit-denied file /etc/haproxy/haproxy.cfg deploy root").unwrap(),
            "permission denied: /etc/haproxy/haproxy.cfg (user deploy; set [access] sudo = true)",
            "adding a user to group root is no advice"
        );
        assert!(denied_reason("kockpit-denied socket /s root -").unwrap().contains("even as root"));
        for other in ["", "kockpit-denied", "kockpit-denied socket", "socat is not installed"] {
            assert_eq!(denied_reason(other), None, "{other:?}");
        }
        assert_eq!(
            script_failure("\nsocat: warning\nkockpit-denied socket /s nobody -\n"),
            "permission denied: /s (user nobody; set [access] sudo = true)"
        );
        assert_eq!(script_failure("\n  first\nsecond"), "first");
        assert_eq!(script_failure(""), "no output");
    }

    #[test]
    fn sudo_refused_is_the_reason_not_an_ssh_failure() {
        use crate::transport::ssh::SshError;
        let e = SshError::Sudo { host: "lb1".into(), user: "deploy".into(), reason: "a password is required".into() };
        assert_eq!(super::super::ssh_reason(&e), "sudo -n for user deploy: a password is required");
        let e = SshError::Channel { host: "lb1".into(), reason: "closed".into() };
        assert_eq!(super::super::ssh_reason(&e), "ssh: closed");
    }
}
