//! The probes' fallbacks and a non-root SSH user, against the real daemons: keepalived's text data
//! dump where the JSON dump is refused (the lab's keepalived 2.2 made to answer `--signum=JSON` like
//! 1.3 does), haproxy's stats page where there is no stats socket (a real haproxy in a PID namespace
//! of its own), and the scripts run as `nobody` (`setpriv`) against root-only sockets and files, and
//! through `sudo -n`.
//!
//! The tests are `#[ignore]`d; run as root: `cargo test --test lab_access -- --include-ignored
//! --test-threads=1`. One that cannot run here fails, with the reason.

#[path = "common/lab.rs"]
mod harness;

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use kockpit::model::VrrpState;
use kockpit::probe::access::script_failure;
use kockpit::probe::haproxy::{SHOW_STAT_SCRIPT, split_found};
use kockpit::probe::keepalived::{VRRP_SCRIPT, vrrp_found};
use kockpit::probe::parse::parse_show_stat;
use kockpit::shell::{script_command, sudo_command, sudo_refusal};

static LAB_LOCK: Mutex<()> = Mutex::new(());

/// `setpriv` as nobody: no supplementary groups, no way back to root.
const AS_NOBODY: &[&str] = &["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];

fn need(tool: &str, what: &str) {
    let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    if !found {
        harness::cannot_run(what, &format!("{tool} is not installed"));
    }
}

/// A directory under /var/tmp that `nobody` can enter (the lab's hosts share /var/tmp, not /tmp).
fn open_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("kockpit-access-").tempdir_in("/var/tmp").unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// `sh -c SCRIPT kockpit ARGS...` after `runner` (e.g. [`AS_NOBODY`]).
fn script_run<'a>(runner: &[&'a str], script: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = runner.to_vec();
    v.extend(["sh", "-c", script, "kockpit"]);
    v.extend(args);
    v
}

/// Start haproxy on `cfg` in a PID and mount namespace of its own, then run `cmd` there (the
/// script finds only this haproxy in /proc). (exit code, stdout, stderr)
fn beside_haproxy(dir: &Path, cfg: &str, cmd: &[&str]) -> (i32, String, String) {
    std::fs::write(dir.join("haproxy.cfg"), cfg).unwrap();
    let inner = format!(
        "haproxy -f {d}/haproxy.cfg -D -p {d}/haproxy.pid || exit 90\n\
         for i in $(seq 50); do [ -s {d}/haproxy.pid ] && break; sleep 0.1; done; sleep 0.3\n\
         exec \"$@\"",
        d = dir.display()
    );
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", &inner, "beside"])
        .args(cmd)
        .output()
        .unwrap_or_else(|e| harness::cannot_run("the haproxy tests", &format!("unshare: {e}")));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A kubeadm-guide frontend and backend (m1 answers nothing: DOWN, which is fine here).
fn apiserver_body(port: u16) -> String {
    format!(
        "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 1m\n    timeout server 1m\n\
         frontend apiserver\n    bind 127.0.0.1:{port}\n    default_backend apiserverbackend\n\
         backend apiserverbackend\n    option httpchk GET /healthz\n    balance roundrobin\n\
         \x20   server m1 127.0.0.1:1 check check-ssl verify none inter 2s fall 3 rise 2\n"
    )
}

/// A PATH of links to every tool of this machine but `hidden` (curl, python3...).
fn path_without(dir: &Path, hidden: &[&str]) -> String {
    let bin = dir.join(format!("bin-without-{}", hidden.join("-")));
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let name = e.file_name();
            let link = bin.join(&name);
            if !hidden.iter().any(|h| name.to_str() == Some(*h)) && !link.exists() {
                let _ = std::os::unix::fs::symlink(e.path(), link);
            }
        }
    }
    bin.display().to_string()
}

#[test]
#[ignore = "lab: needs root and haproxy (tests/run runs it)"]
fn the_stats_page_answers_where_there_is_no_stats_socket() {
    need("haproxy", "the stats page test");
    let tmp = open_dir();
    let d = tmp.path();
    let (port, page) = (free_port(), free_port());
    // no stats socket anywhere: only a stats page, with a login
    let cfg = format!(
        "global\n    maxconn 100\n\n{}\nlisten stats\n    mode http\n    bind *:{page}\n    stats enable\n    stats uri /stats\n    stats auth admin:hunter2\n",
        apiserver_body(port)
    );
    let url = format!("http://127.0.0.1:{page}/stats");
    let found_label = format!("stats page {url} (from {}/haproxy.cfg)", d.display());
    // curl, else python3, else wget: each fetches it, and none shows the password
    for hidden in [&[][..], &["curl"], &["curl", "python3"]] {
        let path = path_without(d, hidden);
        let (rc, out, err) =
            beside_haproxy(d, &cfg, &script_run(&["env", &format!("PATH={path}")], SHOW_STAT_SCRIPT, &["/run/haproxy/not-here.sock"]));
        assert_eq!(rc, 0, "without {hidden:?}: {err}");
        assert!(!out.contains("hunter2") && !err.contains("hunter2"), "the stats password left the host");
        let (found, stat) = split_found(&out);
        assert_eq!(found, found_label, "without {hidden:?}");
        let servers = parse_show_stat(stat, "").unwrap();
        assert!(servers.iter().any(|b| b.backend == "apiserverbackend" && b.server == "m1"), "{servers:?}");
    }
    // the configuration's password is not the running haproxy's: the page's answer is in the reason
    // (never the password), beside the line to add
    let inner = format!(
        "haproxy -f {d}/haproxy.cfg -D -p {d}/haproxy.pid || exit 90; sleep 0.5; sed -i s/hunter2/hunter3/ {d}/haproxy.cfg; exec sh -c \"$0\" kockpit ''",
        d = d.display()
    );
    std::fs::write(d.join("haproxy.cfg"), &cfg).unwrap();
    let out = Command::new("unshare").args(["--pid", "--fork", "--mount-proc", "sh", "-c", &inner, SHOW_STAT_SCRIPT]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("stats page {url}: ")) && err.contains("401"), "{err}");
    assert!(err.contains("stats socket /run/haproxy/admin.sock mode 660 level admin") && !err.contains("hunter"), "{err}");
}

#[test]
#[ignore = "lab: needs root, haproxy, setpriv and sudo (tests/run runs it)"]
fn a_user_without_the_permission_is_told_which_socket_or_file_and_why() {
    need("haproxy", "the permission tests");
    need("setpriv", "the permission tests");
    let tmp = open_dir();
    let d = tmp.path();
    let sock = format!("{}/stats", d.display());
    let body = apiserver_body(free_port());
    // a root-only socket
    let cfg = format!("global\n    stats socket {sock} mode 600 level user\n\n{body}");
    let (rc, out, err) = beside_haproxy(d, &cfg, &script_run(AS_NOBODY, SHOW_STAT_SCRIPT, &[""]));
    assert_eq!(rc, 13, "{out}{err}");
    assert_eq!(script_failure(&err), format!("permission denied: {sock} (user nobody; set [access] sudo = true)"), "{err}");
    // a socket of a group: joining it is the other way in
    let cfg = format!("global\n    stats socket {sock} mode 660 group adm level user\n\n{body}");
    let (rc, _, err) = beside_haproxy(d, &cfg, &script_run(AS_NOBODY, SHOW_STAT_SCRIPT, &[""]));
    assert_eq!(rc, 13, "{err}");
    assert_eq!(
        script_failure(&err),
        format!("permission denied: {sock} (user nobody; set [access] sudo = true or add the user to group adm)")
    );

    // a root-only keepalived.conf: the HA configuration names it
    std::fs::write(d.join("keepalived.conf"), "vrrp_instance VI_1 {\n  priority 100\n}\n").unwrap();
    std::fs::set_permissions(d.join("keepalived.conf"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let ka = format!("{}/keepalived.conf", d.display());
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .args(AS_NOBODY)
        .args(["sh", "-c", kockpit::probe::haconfig::HA_CONFIG_SCRIPT, "kockpit", &ka, "/nonexistent/haproxy.cfg"])
        .output()
        .unwrap();
    let view = kockpit::probe::haconfig::view_of(kockpit::probe::haconfig::parse_ha_files(&String::from_utf8_lossy(&out.stdout)));
    assert!(
        view.problems.contains(&format!("keepalived: permission denied: {ka} (user nobody; set [access] sudo = true)")),
        "{:?}",
        view.problems
    );

    // [access] sudo = true: the same script through `sudo -n`, as the pool sends it
    need("sudo", "the sudo test");
    let wrapped = sudo_command(&script_command(SHOW_STAT_SCRIPT, &[""]));
    assert!(wrapped.starts_with("sudo -n sh -c '"), "{wrapped}");
    let cfg = format!("global\n    stats socket {sock} mode 600 level user\n\n{body}");
    // as root, sudo lets it through, and the wrapped script reads the root-only socket
    let (rc, out, err) = beside_haproxy(d, &cfg, &["sh", "-c", &wrapped]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.starts_with(&format!("@@kockpit-socket {sock} {}/haproxy.cfg\n", d.display())), "{out}{err}");
    assert!(parse_show_stat(split_found(&out).1, "apiserverbackend").is_ok());
    // as nobody, sudo refuses: that is the reason, not the script's silence
    let mut nobody_sudo: Vec<&str> = AS_NOBODY.to_vec();
    nobody_sudo.extend(["sh", "-c", &wrapped]);
    let (rc, out, err) = beside_haproxy(d, &cfg, &nobody_sudo);
    assert_ne!(rc, 0, "{out}");
    let why = sudo_refusal(Some(rc as u32), &out, &err, "nobody").unwrap_or_else(|| panic!("not seen as sudo's refusal: {err}"));
    assert!(why.starts_with("a password is required (give nobody a NOPASSWD rule in sudoers"), "{why}");
}

/// The HA lab, for the keepalived test.
fn lab() -> (HashMap<String, String>, std::sync::MutexGuard<'static, ()>) {
    let lock = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let env = harness::up(&harness::script("ha"), Duration::from_secs(300)).unwrap_or_else(|why| harness::cannot_run("the HA lab", &why));
    (env, lock)
}

/// `tests/lab/ha exec HOST ARGS...`: (exit code, stdout, stderr).
fn exec_on(host: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(harness::script("ha")).arg("exec").arg(host).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn keepalived_without_json_is_read_from_its_data_dump_and_the_password_stays_home() {
    let (env, _lock) = lab();
    let lab_dir = PathBuf::from(&env["KOCKPIT_LAB_DIR"]);
    let password = std::fs::read_to_string(lab_dir.join("vrrp.pass")).expect("the lab's VRRP password file");
    let password = password.trim().to_string();
    let vip: IpAddr = "10.213.0.100".parse().unwrap();
    // keepalived as 1.3 is: `--signum=JSON` (and DATA) unknown, complained about, exit 0
    let tmp = open_dir();
    let shadow = tmp.path().join("bin");
    std::fs::create_dir_all(&shadow).unwrap();
    std::fs::write(
        shadow.join("keepalived"),
        "#!/bin/sh\ncase \"$1\" in --signum=*) echo \"keepalived: unrecognized option '$1'\" >&2; exit 0 ;; esac\nexec /usr/sbin/keepalived \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(shadow.join("keepalived"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("PATH={}:/usr/sbin:/usr/bin:/sbin:/bin", shadow.display());
    let vrrp = |host: &str, runner: &[&str], state_file: &str| {
        let mut args: Vec<&str> = runner.to_vec();
        args.extend(["env", &path, "sh", "-c", VRRP_SCRIPT, "kockpit", "/tmp/keepalived.json", state_file]);
        exec_on(host, &args)
    };
    for (host, state, prio) in [("lb1", VrrpState::Master, 150), ("lb2", VrrpState::Backup, 140)] {
        let (rc, out, err) = vrrp(host, &[], "/run/keepalived.state");
        assert_eq!(rc, 0, "{err}");
        assert!(!out.contains(&password) && !err.contains(&password), "{host}: the VRRP password left the host");
        assert!(out.contains("Password = <redacted>"), "{host}: the dump was read and redacted on the host: {out}");
        let (v, from) = vrrp_found(&out, Some(vip), "/tmp/keepalived.json", "/run/keepalived.state").unwrap();
        assert_eq!(from, "data dump /tmp/keepalived.data (no JSON: no-json-support)", "{host}");
        assert_eq!((v.instance.as_str(), v.state, v.priority, v.effective_priority), ("VI_1", state, prio, prio), "{host}");
        assert_eq!(v.holds_vip, host == "lb1");
        assert!(v.last_transition.is_some(), "{host}");
        eprintln!("{host}: {} prio {} from {from}", v.state.label(), v.priority);
    }
    // the file on the host does carry it (so the redaction is what kept it out)
    let (_, raw, _) = exec_on("lb1", &["cat", "/tmp/keepalived.data"]);
    assert!(raw.contains(&password), "the data dump on the host has the password");

    // not root: the signal is refused, and the reason says so (the lab's state file is root's too,
    // mode 600 like the dumps, so nothing falls back silently)
    for state_file in ["", "/run/keepalived.state"] {
        let (_, out, _) = vrrp("lb1", AS_NOBODY, state_file);
        let e = vrrp_found(&out, Some(vip), "/tmp/keepalived.json", state_file).unwrap_err();
        assert!(
            e.starts_with("permission denied: signalling keepalived (pid ") && e.ends_with("(user nobody; set [access] sudo = true)"),
            "{e}"
        );
    }

    // through `sudo -n`, as a pool with [access] sudo = true sends it: the JSON dump as root
    need("sudo", "the sudo test");
    let wrapped = sudo_command(&script_command(VRRP_SCRIPT, &["/tmp/keepalived.json", "/run/keepalived.state"]));
    let (rc, out, err) = exec_on("lb1", &["sh", "-c", &wrapped]);
    assert_eq!(rc, 0, "{err}");
    let (v, from) = vrrp_found(&out, Some(vip), "/tmp/keepalived.json", "/run/keepalived.state").unwrap();
    assert_eq!((from.as_str(), v.state, v.priority), ("JSON dump /tmp/keepalived.json", VrrpState::Master, 150));
}

#[test]
#[ignore = "lab: needs root and the lab (tests/run runs it)"]
fn a_pool_with_sudo_reads_keepalived_and_haproxy_through_sudo_over_ssh() {
    need("sudo", "the sudo test");
    let (env, _lock) = lab();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(pool_with_sudo(env));
}

async fn pool_with_sudo(env: HashMap<String, String>) {
    use kockpit::transport::ssh::{AccessMode, PoolOptions, SshPool};
    let opts = PoolOptions {
        ssh_config: Some(PathBuf::from(&env["KOCKPIT_SSH_CONFIG"])),
        mode: AccessMode::ReadOnly,
        use_agent: false,
        sudo: true,
        ..PoolOptions::default()
    };
    let pool = SshPool::new(opts).expect("lab ssh config");
    let t = Duration::from_secs(5);
    let vip: IpAddr = "10.213.0.100".parse().unwrap();
    // read-only and through sudo: the persistent lane and a plain channel both carry `sudo -n ...`
    let (v, from) =
        kockpit::probe::keepalived::probe_vrrp_found(&pool, "vrrp", "lb1", Some(vip), "", "/run/keepalived.state", t).await.unwrap();
    assert_eq!((from.as_str(), v.state, v.holds_vip), ("JSON dump /tmp/keepalived.json", VrrpState::Master, true));
    let (servers, found) = kockpit::probe::haproxy::probe_haproxy_found(&pool, "lb2", "", "kube-apiserver", t).await.unwrap();
    assert_eq!(servers.len(), 3, "{servers:?}");
    assert!(found.starts_with("/run/haproxy/admin.sock (from "), "{found}");
    let facts = kockpit::probe::hosts::probe_host(&pool, "lb1", t).await;
    assert!(facts.is_ok(), "facts run as the SSH user, no sudo: {facts:?}");
}
