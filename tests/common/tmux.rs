//! A private tmux server driving the kockpit binary in a real pseudo-terminal: keys in, screen out.
//! Shared by the end-to-end tests and the lab's scripted sessions.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The binary named by KOCKPIT_BIN (the test command points it at the release build), else the one
/// cargo built for this test run.
pub fn bin() -> PathBuf {
    std::env::var_os("KOCKPIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kockpit")))
}

/// A private tmux server (its own socket), killed when dropped, with a fresh directory for the
/// binary's state, configuration and audit log (removed when dropped).
pub struct Tmux {
    pub sock: String,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Tmux {
    pub fn start(args: &str, w: u16, h: u16) -> Tmux {
        Tmux::start_env("", args, w, h)
    }
    pub fn start_env(env: &str, args: &str, w: u16, h: u16) -> Tmux {
        Tmux::start_with_audit(env, args, w, h, None)
    }
    /// As [`Tmux::start_env`], writing the audit log at `audit` instead of in the fresh directory.
    pub fn start_with_audit(env: &str, args: &str, w: u16, h: u16, audit: Option<&std::path::Path>) -> Tmux {
        Tmux::start_full(env, args, w, h, audit, None)
    }
    /// As [`Tmux::start_env`], with `config` as the binary's config.toml.
    pub fn start_with_config(config: &str, args: &str, w: u16, h: u16) -> Tmux {
        Tmux::start_full("", args, w, h, None, Some(config))
    }
    fn start_full(env: &str, args: &str, w: u16, h: u16, audit: Option<&std::path::Path>, config: Option<&str>) -> Tmux {
        assert!(
            Command::new("tmux").arg("-V").output().map(|o| o.status.success()).unwrap_or(false),
            "tmux is required (apt-get install tmux)"
        );
        // one server per session: tests run in parallel, several at the same size
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sock = format!("kockpit-e2e-{}-{n}-{w}", std::process::id());
        let tmp = tempfile::Builder::new().prefix(&format!("{sock}-")).tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let audit = audit.map(std::path::Path::to_path_buf).unwrap_or_else(|| dir.join("audit.jsonl"));
        if let Some(c) = config {
            std::fs::create_dir_all(dir.join("cfg")).unwrap();
            std::fs::write(dir.join("cfg/config.toml"), c).unwrap();
        }
        let cmd = format!(
            "env {env} XDG_STATE_HOME={d} KOCKPIT_CONFIG_DIR={d}/cfg {bin} {args} --audit-log {a}; echo EXITED:$?; sleep 60",
            d = dir.display(),
            a = audit.display(),
            bin = bin().display()
        );
        let st = Command::new("tmux")
            .args(["-L", &sock, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", &w.to_string(), "-y", &h.to_string(), &cmd])
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(st.success());
        Tmux { sock, dir, _tmp: tmp }
    }
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-L").arg(&self.sock).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }
    pub fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "t"];
        a.extend_from_slice(keys);
        self.tmux(&a);
    }
    /// Wait until the screen satisfies `pred`, or fail with the last screen.
    pub fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if t0.elapsed() > Duration::from_secs(secs) {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.sock, "kill-server"]).status();
    }
}
