//! Command templates of a plan (`[drills]`, the keepalived commands of `[lb]`): shell commands with
//! `{name}` placeholders. A placeholder is `{` + lowercase letters or `_` + `}` not preceded by `$`, so
//! shell syntax such as `${VAR}` or `awk '{print}'` stays as written. Values are substituted
//! shell-quoted: a value is always one word of data, never code.

use crate::shell::sh_quote;

/// The placeholders in `template`: (byte offset of the `{`, name).
pub fn placeholders(template: &str) -> Vec<(usize, &str)> {
    let bytes = template.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' && (i == 0 || bytes[i - 1] != b'$') {
            let rest = &template[i + 1..];
            let len = rest.bytes().take_while(|b| b.is_ascii_lowercase() || *b == b'_').count();
            if len > 0 && rest.as_bytes().get(len) == Some(&b'}') {
                out.push((i, &rest[..len]));
                i += len + 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The first placeholder of `template` not in `allowed`: (offset, message).
pub fn check(template: &str, allowed: &[&str]) -> Result<(), (usize, String)> {
    match placeholders(template).into_iter().find(|(_, name)| !allowed.contains(name)) {
        None => Ok(()),
        Some((at, name)) => {
            let names: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
            let expected = if names.is_empty() { "no placeholder here".to_string() } else { format!("expected {}", names.join(", ")) };
            Err((at, format!("unknown placeholder {{{name}}}: {expected}")))
        }
    }
}

/// `template` with every placeholder replaced by its shell-quoted value; an error names a placeholder
/// that has no value.
pub fn render(template: &str, values: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut last = 0;
    for (at, name) in placeholders(template) {
        let Some((_, value)) = values.iter().find(|(k, _)| *k == name) else {
            let names: Vec<String> = values.iter().map(|(k, _)| format!("{{{k}}}")).collect();
            return Err(format!("unknown placeholder {{{name}}} in `{template}` (this command takes {})", names.join(", ")));
        };
        out.push_str(&template[last..at]);
        out.push_str(&sh_quote(value));
        last = at + name.len() + 2;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_and_leaves_shell_braces() {
        let t = "systemctl kill --signal={signal} {service}; echo ${HOME} | awk '{print $1}' {Host} {}";
        let names: Vec<&str> = placeholders(t).into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["signal", "service"]);
        assert_eq!(check(t, &["service", "signal"]), Ok(()));
        let (at, msg) = check("ha cut {hots}", &["host"]).unwrap_err();
        assert_eq!(at, 7);
        assert!(msg.contains("{hots}") && msg.contains("{host}"), "{msg}");
    }

    #[test]
    fn renders_quoted_values() {
        let r = render("systemctl stop {service} # {host}", &[("service", "kube-apiserver"), ("host", "m1")]).unwrap();
        assert_eq!(r, "systemctl stop 'kube-apiserver' # 'm1'");
        let r = render("echo {service}", &[("service", "a'b $(x)")]).unwrap();
        let out = std::process::Command::new("sh").arg("-c").arg(&r).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a'b $(x)\n");
        assert!(render("ip link set {iface} down", &[("host", "m1")]).unwrap_err().contains("{iface}"));
        assert_eq!(render("true", &[]).unwrap(), "true");
    }
}
