//! A full etcd + Ceph + certificate refresh of the 3-master lab, the way the live backend does it:
//! etcd's status of every member (kept-alive HTTPS connections, client certificate read once over
//! SSH), the Ceph probe (one librados connection; local in the lab, where Ceph runs on 127.0.0.1), and
//! every certificate of every master plus the served ones (one read-only command per master over the
//! reused SSH connections, TLS handshakes to each apiserver and the VIP), all three concurrently.
//! Target: under 1 s. Prints p50 / p95 / max of the whole refresh and of each part.
//!
//! Needs the labs (root): `tests/lab/ha up`, `tests/lab/ceph up` (both run here, idempotent).
//! Run: `cargo bench --bench refresh` (KOCKPIT_BENCH_ROUNDS, default 30).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kockpit::ceph::{self, CephAccess, CephSettings};
use kockpit::certs::{self, CertsSettings, Remote};
use kockpit::etcd::{EtcdProbe, EtcdSettings, TunnelMode};
use kockpit::inventory::Plan;
use kockpit::transport::ssh::{AccessMode, PoolOptions, SshPool};

fn sh(script: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(script).args(args).output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

fn env_of(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(&format!("export {key}="))).map(|v| v.trim_matches('\'').to_string())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn report(name: &str, v: &mut [Duration]) {
    v.sort();
    println!("{name:<28} p50 {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms   (n={})", pct(v, 0.5), pct(v, 0.95), pct(v, 1.0), v.len());
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ha = root.join("tests/lab/ha");
    let ceph_lab = root.join("tests/lab/ceph");
    let (ha_env, ceph_env) = match sh(&ha, &["up"])
        .and_then(|_| sh(&ha, &["env"]))
        .and_then(|h| sh(&ceph_lab, &["up"]).and_then(|_| sh(&ceph_lab, &["env"])).map(|c| (h, c)))
    {
        Ok(e) => e,
        Err(e) => {
            println!("refresh bench: SKIP (the labs cannot be brought up: {})", e.lines().last().unwrap_or(""));
            return;
        }
    };
    let rounds: usize = std::env::var("KOCKPIT_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let plan = Plan::load(Path::new(&env_of(&ha_env, "KOCKPIT_CONFIG").unwrap_or_default())).expect("the lab's plan");
    let ssh_config = env_of(&ha_env, "KOCKPIT_SSH_CONFIG").map(PathBuf::from);
    let ceph_conf = env_of(&ceph_env, "KOCKPIT_CEPH_CONF");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        // reads go through the read-only set, on persistent shells: a read-only pool, as in audit mode
        let mode = AccessMode::ReadOnly;
        let pool = SshPool::load(PoolOptions { ssh_config, mode, use_agent: false, ..PoolOptions::default() }).await.expect("ssh pool");
        let remote = Remote::ssh(pool.clone());
        let mut etcd_settings = EtcdSettings::from_plan(&plan);
        etcd_settings.tunnel = TunnelMode::Never;
        let mut etcd = EtcdProbe::new(etcd_settings, Some(remote.clone()), None);
        let ceph_settings = CephSettings::new("localhost", CephAccess::Direct { conf: ceph_conf });
        let ceph_remote = Remote::local(true);
        let certs_settings = CertsSettings::from_plan(&plan);

        let t = Instant::now();
        let (e, c, k) = tokio::join!(etcd.poll(), ceph::probe(&ceph_remote, &ceph_settings), certs::poll_all(&remote, &certs_settings));
        println!("first refresh (SSH connects, etcd credentials, TLS handshakes): {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
        let e = e.expect("etcd");
        let c = c.expect("ceph");
        let ncerts: usize = k.iter().map(|(_, r)| r.as_ref().map(Vec::len).unwrap_or(0)).sum();
        println!(
            "  etcd: {} members, leader {}; ceph: {}; certificates: {ncerts} on {} rows; read path: read-only set",
            e.members.len(),
            e.leader().map(|l| l.name.as_str()).unwrap_or("-"),
            c.health.label(),
            k.len(),
        );

        let (mut all, mut te, mut tc, mut tk) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            let t = Instant::now();
            let timed = |start: Instant| start.elapsed();
            let (e, c, k) = tokio::join!(
                async {
                    let s = Instant::now();
                    let r = etcd.poll().await;
                    (r, timed(s))
                },
                async {
                    let s = Instant::now();
                    let r = ceph::probe(&ceph_remote, &ceph_settings).await;
                    (r, timed(s))
                },
                async {
                    let s = Instant::now();
                    let r = certs::poll_all(&remote, &certs_settings).await;
                    (r, timed(s))
                }
            );
            all.push(t.elapsed());
            assert!(e.0.is_ok() && c.0.is_ok() && k.0.iter().all(|(_, r)| r.is_ok()), "a refresh failed: {:?} {:?}", e.0.err(), c.0.err());
            te.push(e.1);
            tc.push(c.1);
            tk.push(k.1);
        }
        println!("refresh of the 3-master lab, {rounds} rounds (target: full refresh < 1000 ms):");
        report("full (all three at once)", &mut all);
        report("  etcd (3 members)", &mut te);
        report("  ceph (5 questions)", &mut tc);
        report("  certificates (3 + VIP)", &mut tk);

        // what a remote command costs per transport on a master: a new exec channel (sshd starts the
        // user's shell, and its rc files, every time) or a persistent lane (one `sh` fed commands), which
        // the probes use
        let (mut exec, mut lane) = (vec![], vec![]);
        for _ in 0..rounds {
            let t = Instant::now();
            let _ = pool.run("m1", "true", Duration::from_secs(5)).await;
            exec.push(t.elapsed());
            let t = Instant::now();
            let _ = pool.run_persistent("m1", "bench", "true", Duration::from_secs(5)).await;
            lane.push(t.elapsed());
        }
        println!("one command on m1 over the kept SSH connection:");
        report("  exec channel", &mut exec);
        report("  persistent lane", &mut lane);
    });
}
