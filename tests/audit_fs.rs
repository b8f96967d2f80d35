//! The audit log is a precondition of every change: on a read-only filesystem or a full one, an
//! operation is refused with the reason, and viewing goes on. The filesystems are real tmpfs mounts
//! (root is needed; under CI=true a run without root fails instead of passing unseen).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kockpit(cfg: &Path, args: &[&str]) -> Output {
    let bin = std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")));
    Command::new(bin)
        .args(args)
        .env("KOCKPIT_CONFIG_DIR", cfg)
        .env_remove("KUBECONFIG")
        .env("HOME", cfg)
        .env("XDG_STATE_HOME", cfg.join("state"))
        .env_remove("KOCKPIT_CONFIG")
        .output()
        .unwrap()
}

/// A tiny tmpfs, unmounted when dropped (a failing assertion unwinds through the drop too).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: PathBuf, opts: &str) -> Tmpfs {
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", opts, "tmpfs"]).arg(&dir).output().unwrap();
        assert!(out.status.success(), "mount -t tmpfs -o {opts}: {}", String::from_utf8_lossy(&out.stderr));
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let out = Command::new("umount").arg(&self.dir).output();
        if !out.as_ref().is_ok_and(|o| o.status.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Whether this test can mount; without root it fails under CI and says loudly that it did not run.
fn can_mount(test: &str) -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{test}: needs root to mount a tmpfs, and CI=true");
        eprintln!("SKIPPED {test}: needs root to mount a tmpfs (under CI=true this fails)");
    }
    root
}

fn drill() -> String {
    format!("{}/assets/drills/etcd-leader-loss.toml", env!("CARGO_MANIFEST_DIR"))
}

/// A drill (the operations the CLI has) is refused with `want` in the reason, and nothing of it runs;
/// `status` and `render` still work with the same audit log.
fn refused_and_viewing_goes_on(cfg: &Path, audit: &Path, report: &Path, want: &str) {
    let a = audit.to_str().unwrap();
    let out = kockpit(cfg, &["drill", "run", &drill(), "--headless", "--report", report.to_str().unwrap(), "--audit-log", a]);
    let err = String::from_utf8_lossy(&out.stderr);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "refused: {said}{err}");
    assert!(err.contains("every change is recorded first") && err.contains(want), "the reason: {err}");
    assert!(!said.contains("step 1"), "no step ran: {said}");
    assert!(!report.exists(), "no drill ran, no report");
    let out = kockpit(cfg, &["status", "--json", "--audit-log", a]);
    assert!(matches!(out.status.code(), Some(0..=2)), "status still answers: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert!(v.get("health").is_some() && v["model"]["meta"]["cluster"] == "demo-prod", "the verdict and the model");
    let out = kockpit(cfg, &["render", "--size", "120x40", "--audit-log", a]);
    assert!(out.status.success(), "the screen still renders: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo-prod"));
}

#[test]
fn an_audit_log_on_a_read_only_filesystem_refuses_operations_and_viewing_goes_on() {
    if !can_mount("audit log on a read-only filesystem") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ro = Tmpfs::mount(tmp.path().join("ro"), "size=64k,ro");
    refused_and_viewing_goes_on(tmp.path(), &ro.dir.join("audit.jsonl"), &tmp.path().join("report.md"), "Read-only file system");
}

#[test]
fn an_audit_log_on_a_full_filesystem_refuses_operations_and_viewing_goes_on() {
    if !can_mount("audit log on a full filesystem") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let full = Tmpfs::mount(tmp.path().join("full"), "size=64k");
    // fill it: the log's file can be created, but no record fits
    let mut filler = std::fs::File::create(full.dir.join("filler")).unwrap();
    let chunk = [0u8; 4096];
    loop {
        match std::io::Write::write(&mut filler, &chunk) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    drop(filler);
    refused_and_viewing_goes_on(tmp.path(), &full.dir.join("audit.jsonl"), &tmp.path().join("report.md"), "No space left on device");
}
