//! The HA configuration as the running daemons use it: keepalived's and haproxy's files, read over
//! SSH with the read-only [`HA_CONFIG_SCRIPT`] (secrets cut on the host), for kockpit to parse.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::transport::ssh::{SshPool, script_command};

pub use crate::transport::scripts::HA_CONFIG_SCRIPT;

/// What one host's configuration read found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HaFiles {
    /// keepalived's files in the order read (the main file, then its includes): (path, text).
    pub keepalived: Vec<(String, String)>,
    /// haproxy's files in the order haproxy loads them.
    pub haproxy: Vec<(String, String)>,
    /// Files named but not readable: (kind, path, why).
    pub unreadable: Vec<(String, String, String)>,
    /// `keepalived` / `haproxy` -> the first line of its version output.
    pub versions: BTreeMap<String, String>,
    /// The check tools present on the host (killall, pidof, pgrep, curl, nc, wget).
    pub tools: Vec<String>,
    /// keepalived's check script files -> the `host:port` they connect to.
    pub check_targets: BTreeMap<String, Vec<String>>,
}

/// Split the script's output into files and facts. Never fails: unknown lines belong to the file
/// being read (or are dropped before the first one).
pub fn parse_ha_files(out: &str) -> HaFiles {
    let mut h = HaFiles::default();
    let mut current: Option<(String, String, String)> = None;
    let flush = |h: &mut HaFiles, cur: Option<(String, String, String)>| {
        if let Some((kind, path, mut text)) = cur {
            if text.ends_with("\n\n") {
                text.pop(); // the script's separating newline
            }
            match kind.as_str() {
                "keepalived" => h.keepalived.push((path, text)),
                "haproxy" => h.haproxy.push((path, text)),
                _ => {}
            }
        }
    };
    for line in out.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = bare.strip_prefix("@@kockpit-file ") {
            flush(&mut h, current.take());
            let (kind, path) = rest.split_once(' ').unwrap_or((rest, ""));
            current = Some((kind.to_string(), path.to_string(), String::new()));
        } else if let Some(rest) = bare.strip_prefix("@@kockpit-unreadable ") {
            flush(&mut h, current.take());
            let mut it = rest.splitn(3, ' ');
            let (kind, path, why) = (it.next().unwrap_or(""), it.next().unwrap_or(""), it.next().unwrap_or(""));
            h.unreadable.push((kind.to_string(), path.to_string(), why.to_string()));
        } else if let Some(rest) = bare.strip_prefix("@@kockpit-version ") {
            flush(&mut h, current.take());
            let (kind, v) = rest.split_once(' ').unwrap_or((rest, ""));
            h.versions.insert(kind.to_string(), v.to_string());
        } else if let Some(rest) = bare.strip_prefix("@@kockpit-check ") {
            flush(&mut h, current.take());
            let mut it = rest.split_whitespace();
            if let Some(path) = it.next() {
                h.check_targets.insert(path.to_string(), it.map(str::to_string).collect());
            }
        } else if let Some(rest) = bare.strip_prefix("@@kockpit-tools") {
            flush(&mut h, current.take());
            h.tools = rest.split_whitespace().map(str::to_string).collect();
        } else if let Some((_, _, text)) = current.as_mut() {
            match line.strip_prefix("@ @kockpit-") {
                Some(r) => {
                    text.push_str("@@kockpit-");
                    text.push_str(r);
                }
                None => text.push_str(line),
            }
        }
    }
    flush(&mut h, current.take());
    h
}

/// Read one host's HA configuration. `keepalived_conf` and `haproxy_cfg` are the plan's paths, used
/// when no such daemon runs there ('' = the distributions' defaults).
pub async fn fetch_ha_config(
    pool: &SshPool,
    ssh_host: &str,
    keepalived_conf: &str,
    haproxy_cfg: &str,
    timeout: Duration,
) -> Result<HaFiles, String> {
    let out = pool
        .run_persistent(ssh_host, "haconfig", &script_command(HA_CONFIG_SCRIPT, &[keepalived_conf, haproxy_cfg]), timeout)
        .await
        .map_err(|e| super::ssh_reason(&e))?;
    if !out.success() {
        let why = out.stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output");
        return Err(format!("HA configuration: {why}"));
    }
    Ok(parse_ha_files(&out.stdout))
}

/// Parse what was read into the model's view; a file that does not parse is a problem named with
/// its place, never a failure of the whole read.
pub fn view_of(h: HaFiles) -> crate::model::HaConfigView {
    use crate::hacfg::{Source, parse_haproxy, parse_keepalived};
    let mut v = crate::model::HaConfigView { versions: h.versions, tools: h.tools, check_targets: h.check_targets, ..Default::default() };
    for (kind, path, why) in &h.unreadable {
        match why.strip_prefix("denied ").and_then(|who| super::access::denied_reason(&format!("kockpit-denied file {path} {who}"))) {
            Some(reason) => v.problems.push(format!("{kind}: {reason}")),
            None => v.problems.push(format!("{kind}: cannot read {path}: {why}")),
        }
    }
    let sources = |files: &[(String, String)]| -> Vec<Source> {
        files.iter().map(|(name, text)| Source { name: name.clone(), text: text.clone() }).collect()
    };
    if !h.keepalived.is_empty() {
        v.files.extend(h.keepalived.iter().map(|(p, _)| p.clone()));
        match parse_keepalived(&sources(&h.keepalived)) {
            Ok(c) => v.keepalived = Some(c),
            Err(e) => v.problems.push(format!("keepalived: {e}")),
        }
    }
    if !h.haproxy.is_empty() {
        v.files.extend(h.haproxy.iter().map(|(p, _)| p.clone()));
        match parse_haproxy(&sources(&h.haproxy)) {
            Ok(c) => v.haproxy = Some(c),
            Err(e) => v.problems.push(format!("haproxy: {e}")),
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_versions_tools_and_escaped_markers() {
        let out = "@@kockpit-file keepalived /etc/keepalived/keepalived.conf\nvrrp_instance VI_1 {\n  auth_pass <redacted>\n}\n\n\
                   @@kockpit-file keepalived /etc/keepalived/conf.d/a.conf\n@ @kockpit-file haproxy /x\n\n\
                   @@kockpit-unreadable haproxy /etc/haproxy/haproxy.cfg permission denied\n\
                   @@kockpit-version keepalived Keepalived v2.2.7 (01/16,2022)\n@@kockpit-tools pidof curl\n";
        let h = parse_ha_files(out);
        assert_eq!(h.keepalived.len(), 2);
        assert_eq!(h.keepalived[0].1, "vrrp_instance VI_1 {\n  auth_pass <redacted>\n}\n");
        assert_eq!(h.keepalived[1], ("/etc/keepalived/conf.d/a.conf".into(), "@@kockpit-file haproxy /x\n".into()));
        assert!(h.haproxy.is_empty());
        assert_eq!(h.unreadable, [("haproxy".into(), "/etc/haproxy/haproxy.cfg".into(), "permission denied".into())]);
        assert_eq!(h.versions["keepalived"], "Keepalived v2.2.7 (01/16,2022)");
        assert_eq!(h.tools, ["pidof", "curl"]);
        // a permission the user lacks says which file, who, and what would grant it
        let v = view_of(parse_ha_files("@@kockpit-unreadable haproxy /etc/haproxy/haproxy.cfg denied deploy haproxy\n"));
        assert_eq!(
            v.problems,
            [
                "haproxy: permission denied: /etc/haproxy/haproxy.cfg (user deploy; set [access] sudo = true or add the user to group haproxy)"
            ]
        );
        let v = view_of(parse_ha_files("@@kockpit-unreadable keepalived /x no such file\n"));
        assert_eq!(v.problems, ["keepalived: cannot read /x: no such file"]);
        // garbage before any file is dropped, never a panic
        assert_eq!(parse_ha_files("junk\n@@kockpit-file\n"), HaFiles { keepalived: vec![], ..HaFiles::default() });
    }

    /// The script on this machine's sh: includes inside blocks and quoted ones are followed, each file
    /// after the one that includes it, and the parse puts their lines where the include stands.
    #[test]
    fn the_script_follows_includes_inside_blocks() {
        // the files given, not those of a keepalived or haproxy that may run on this machine
        let script = HA_CONFIG_SCRIPT.replace("ka=$(args_of keepalived | head -n 1)", "ka=").replace("hp=$(args_of haproxy)", "hp=");
        assert_eq!(script.len(), HA_CONFIG_SCRIPT.len() - "$(args_of keepalived | head -n 1)$(args_of haproxy)".len());
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        let main = format!("{d}/keepalived.conf");
        std::fs::write(
            &main,
            "include \"conf.d/checks.conf\"\nvrrp_instance VI_1 {\n  virtual_router_id 51\n  include conf.d/host*.conf\n}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("conf.d/checks.conf"), "vrrp_script chk { script x }\n").unwrap();
        std::fs::write(dir.path().join("conf.d/host.conf"), "  priority 142\n  auth_pass secret\n").unwrap();
        let out = std::process::Command::new("sh").args(["-c", &script, "sh", &main, &format!("{d}/none.cfg")]).output().unwrap();
        let h = parse_ha_files(&String::from_utf8_lossy(&out.stdout));
        let names: Vec<&str> = h.keepalived.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, [main.clone(), format!("{d}/conf.d/checks.conf"), format!("{d}/conf.d/host.conf")], "{h:?}");
        assert!(!h.keepalived[2].1.contains("secret"), "cut on the host");
        let v = view_of(h);
        let k = v.keepalived.unwrap();
        assert_eq!((k.instance("VI_1").unwrap().priority, k.scripts.len()), (142, 1), "{:?}", v.problems);
    }
}
