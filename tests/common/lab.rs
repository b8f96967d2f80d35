//! What every lab test needs: run a lab script with a deadline, read the `export` lines of its `env`,
//! and, when a lab cannot run here, fail with the reason.
//!
//! Lab tests are `#[ignore]`d, so a plain `cargo test` leaves them out; `bash tests/run` (or `cargo test
//! -- --include-ignored` as root) runs them, and one that then cannot run is a failure, never a pass.
//!
//! Output goes to a file, not a pipe: nobody reads a pipe while the script runs, and a script that
//! writes more than a pipe holds (a first `up` installing packages) would block until its deadline.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A lab `what` cannot run here because of `why`: the test fails (in CI or not), saying so. A lab test
/// only runs when asked for (they are `#[ignore]`d), and one that did not test must not pass.
pub fn cannot_run(what: &str, why: &str) -> ! {
    panic!("{what} cannot run here (lab tests need root and the lab: bash tests/run): {why}");
}

/// The repository's lab scripts: `script("ha")` is `tests/lab/ha`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab").join(name)
}

/// Run a program with a deadline: its standard output and error, or why it failed.
pub fn run_bounded(program: &Path, args: &[&str], limit: Duration) -> Result<String, String> {
    run_env(program, args, &[], limit)
}

/// The same with extra environment variables.
pub fn run_env(program: &Path, args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Result<String, String> {
    let out_file = tempfile::Builder::new().prefix("kockpit-lab-").suffix(".out").tempfile().map_err(|e| e.to_string())?;
    let out = out_file.reopen().map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let spawned = Command::new(program).args(args).envs(envs.iter().copied()).stdin(Stdio::null()).stdout(out).stderr(err).spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Err(format!("cannot run {}: {e}", program.display())),
    };
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {}s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let text = std::fs::read_to_string(out_file.path()).unwrap_or_default();
    let what = format!("{} {}", program.display(), args.join(" "));
    match status {
        Ok(s) if s.success() => Ok(text),
        Ok(s) => Err(format!("{what} ({s}): {}", text.trim())),
        Err(e) => Err(format!("{what}: {e}; its output: {}", text.trim())),
    }
}

/// The `export K='V'` lines of a lab's `env`.
pub fn env_of(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// `SCRIPT up` (idempotent: starts what is missing, repairs what it can) within `limit`, then its `env`.
pub fn up(script: &Path, limit: Duration) -> Result<HashMap<String, String>, String> {
    run_bounded(script, &["up"], limit)?;
    run_bounded(script, &["env"], Duration::from_secs(10)).map(|t| env_of(&t))
}

/// The machine standing still (a paused VM) makes timing measurements void: a client's connect
/// "times out" while nothing ran. A thread of the test process sleeps 50 ms at a time and remembers
/// every sleep that overshot by more than 200 ms.
pub fn longest_stall_since(since: Instant) -> Duration {
    use std::sync::{Mutex, OnceLock};
    static STALLS: OnceLock<Mutex<Vec<(Instant, Duration)>>> = OnceLock::new();
    let stalls = STALLS.get_or_init(|| {
        std::thread::spawn(|| {
            let mut last = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let now = Instant::now();
                let over = now.duration_since(last).saturating_sub(Duration::from_millis(50));
                if over > Duration::from_millis(200)
                    && let Some(s) = STALLS.get()
                {
                    s.lock().unwrap_or_else(|p| p.into_inner()).push((now, over));
                }
                last = now;
            }
        });
        Mutex::new(Vec::new())
    });
    stalls.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|(at, _)| *at >= since).map(|(_, d)| *d).max().unwrap_or_default()
}

/// Start watching for stalls now (the first call starts the watcher).
pub fn watch_stalls() {
    let _ = longest_stall_since(Instant::now());
}

/// A copy of the program at `src` where every host of the HA lab sees it: `<lab dir>/bin/<name>`.
/// (A lab host's sshd has a home of its own over /root, so a program under the machine's ~/.cache is
/// not there for the commands kockpit runs on the host.) Copied again when the source changed.
pub fn visible_on_lab_hosts(src: &Path, lab_dir: &Path) -> Result<PathBuf, String> {
    let name = src.file_name().ok_or_else(|| format!("{} has no file name", src.display()))?;
    let dir = lab_dir.join("bin");
    let dst = dir.join(name);
    let meta = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.len(), m.modified().ok()));
    if meta(&dst).map(|m| m.0) != meta(src).map(|m| m.0) || meta(&dst).and_then(|m| m.1) < meta(src).and_then(|m| m.1) {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
        std::fs::copy(src, &tmp).map_err(|e| format!("copying {}: {e}", src.display()))?;
        std::fs::rename(&tmp, &dst).map_err(|e| format!("{}: {e}", dst.display()))?;
    }
    Ok(dst)
}

#[cfg(test)]
mod tests {
    // (a benchmark that includes this file compiles the module without running tests)
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn output_deadline_and_env() {
        let sh = Path::new("/bin/sh");
        assert_eq!(run_bounded(sh, &["-c", "echo out; echo err >&2"], Duration::from_secs(5)).unwrap(), "out\nerr\n");
        let e = run_bounded(sh, &["-c", "echo why; exit 3"], Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("exit status: 3") && e.contains("why"), "{e}");
        let e = run_bounded(sh, &["-c", "sleep 5"], Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        // more than a pipe holds does not block
        let big = run_bounded(sh, &["-c", "head -c 300000 /dev/zero | tr '\\0' x"], Duration::from_secs(10)).unwrap();
        assert_eq!(big.len(), 300_000);
        assert_eq!(run_env(sh, &["-c", "echo $K"], &[("K", "v")], Duration::from_secs(5)).unwrap(), "v\n");
        let env = env_of("export A='1'\nnoise\nexport B='x=y'\n");
        assert_eq!((env["A"].as_str(), env["B"].as_str(), env.len()), ("1", "x=y", 2));
    }
}
