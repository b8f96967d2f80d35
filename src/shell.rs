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
    fn quoting_round_trips_through_a_real_shell() {
        let arg = "a'b \"c\" $(x) `y` \\ ;";
        let out = std::process::Command::new("sh").arg("-c").arg(format!("printf %s {}", sh_quote(arg))).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), arg);
    }
}
