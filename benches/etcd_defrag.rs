//! A rolling etcd defrag (`kockpit::etcd::ops::defrag`, what `F` and `kockpit run etcd-defrag` run)
//! against the lab's real 3-member etcd with TLS, under load:
//!
//! - fills every member with KOCKPIT_BENCH_DEFRAG_MB (default 100) MB of live keys, plus half as much
//!   written, deleted and compacted (free pages for the defrag to return);
//! - a client writes a key to the leader every 20 ms throughout the defrag (the leader is last, so its
//!   writes also wait out its own defrag) and counts the writes that failed;
//! - prints the total time, each member's time and sizes, and the client's figures; then deletes its
//!   keys, compacts and defragments again so the lab is left small.
//!
//! Run: `cargo bench --bench etcd_defrag` (root; brings the lab up, leaves it up).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kockpit::backend::BackendEvent;
use kockpit::etcd::{CredentialSource, EtcdProbe, EtcdSettings, TunnelMode};
use kockpit::inventory::Plan;
use kockpit::model::EtcdMember;
use kockpit::ops::{OpEvent, WriteCap};

fn ha(args: &[&str]) -> Result<String, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab/ha");
    let out = Command::new(script).args(args).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

fn env_var(env: &str, k: &str) -> String {
    env.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .find(|(key, _)| *key == k)
        .map(|(_, v)| v.trim_matches('\'').to_string())
        .unwrap_or_default()
}

async fn post(p: &mut EtcdProbe, m: &EtcdMember, cap: &WriteCap, path: &str, body: Vec<u8>) -> Result<String, String> {
    match p.post_to_member_within(m, path, body, cap, Duration::from_secs(30)).await {
        Ok((200, b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Ok((code, b)) => Err(format!("HTTP {code}: {}", String::from_utf8_lossy(&b))),
        Err(e) => Err(e),
    }
}

async fn put(p: &mut EtcdProbe, m: &EtcdMember, cap: &WriteCap, key: &str, value: &[u8]) -> Result<(), String> {
    post(p, m, cap, "/v3/kv/put", kockpit::etcd::writer::put_body(key, value)).await.map(|_| ())
}

/// Delete every key under `prefix` and compact at the revision that leaves; then write a few keys so
/// bbolt frees the compaction's pages.
async fn delete_and_compact(p: &mut EtcdProbe, m: &EtcdMember, cap: &WriteCap, prefix: &str) {
    let out = post(p, m, cap, "/v3/kv/deleterange", kockpit::etcd::writer::delete_prefix_body(prefix)).await.expect("delete");
    let v: serde_json::Value = serde_json::from_str(&out).expect("deleterange answer");
    let rev = v["header"]["revision"].as_str().unwrap_or("0").to_string();
    post(p, m, cap, "/v3/kv/compaction", format!(r#"{{"revision":"{rev}","physical":true}}"#).into_bytes()).await.expect("compact");
    for i in 0..5 {
        put(p, m, cap, "/kockpit-bench/nudge", format!("{i}").as_bytes()).await.expect("nudge");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Err(e) = ha(&["up"]) {
        eprintln!("etcd_defrag: the lab cannot be brought up, nothing measured:\n{e}");
        return;
    }
    let env = ha(&["env"]).expect("tests/lab/ha env");
    let plan = Plan::load(Path::new(&env_var(&env, "KOCKPIT_CONFIG"))).expect("lab plan");
    let mut settings = EtcdSettings::from_plan(&plan);
    settings.credentials = CredentialSource::Files {
        ca: env_var(&env, "KOCKPIT_LAB_ETCD_CA").into(),
        cert: env_var(&env, "KOCKPIT_LAB_ETCD_CERT").into(),
        key: env_var(&env, "KOCKPIT_LAB_ETCD_KEY").into(),
    };
    settings.tunnel = TunnelMode::Never;
    let mb: usize = std::env::var("KOCKPIT_BENCH_DEFRAG_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let cap = WriteCap::acquire(false).expect("a writable process");
        let mut p = EtcdProbe::new(settings.clone(), None, None);
        let v = p.poll().await.expect("etcd view");
        let leader = v.leader().expect("a leader").clone();
        let value = vec![b'x'; 64 * 1024];
        let t = Instant::now();
        for i in 0..mb * 16 {
            put(&mut p, &leader, &cap, &format!("/kockpit-bench/live/{i:06}"), &value).await.expect("fill");
        }
        for i in 0..mb * 8 {
            put(&mut p, &leader, &cap, &format!("/kockpit-bench/gone/{i:06}"), &value).await.expect("fill");
        }
        delete_and_compact(&mut p, &leader, &cap, "/kockpit-bench/gone/").await;
        let v = p.poll().await.expect("etcd view");
        println!("filled in {:.1} s: every member {} MB live, {} MB written, deleted and compacted", t.elapsed().as_secs_f64(), mb, mb / 2);
        for m in &v.members {
            println!(
                "  {}: DB {:.1} MB, {:.1} MB in use{}",
                m.name,
                m.db_size as f64 / 1e6,
                m.db_size_in_use as f64 / 1e6,
                if m.is_leader { " (leader)" } else { "" }
            );
        }

        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (stop, settings, member) = (stop.clone(), settings.clone(), leader.clone());
            tokio::spawn(async move {
                let cap = WriteCap::acquire(false).unwrap();
                let mut p = EtcdProbe::new(settings, None, None);
                let _ = p.poll().await;
                let (mut ok, mut failed, mut slowest) = (0u32, vec![], Duration::ZERO);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match put(&mut p, &member, &cap, &format!("/kockpit-bench/load/{i}"), b"v").await {
                        Ok(()) => {
                            ok += 1;
                            slowest = slowest.max(t.elapsed());
                        }
                        Err(e) => failed.push(e),
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (ok, failed, slowest)
            })
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let t = Instant::now();
        let ok = kockpit::etcd::ops::defrag(settings.clone(), None, None, &cap, 1, &tx, None).await;
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        let (writes, failed, slowest) = writer.await.expect("writer");
        while let Ok(ev) = rx.try_recv() {
            if let BackendEvent::Op(OpEvent::Step { text, .. } | OpEvent::Finished { summary: text, .. }) = ev {
                println!("  {text}");
            }
        }
        println!(
            "rolling defrag of 3 members ({mb} MB live each): {:.2} s, {}",
            took.as_secs_f64(),
            if ok { "verified" } else { "FAILED" }
        );
        println!(
            "client writes to the leader every 20 ms meanwhile: {writes} done, {} failed, slowest {} ms",
            failed.len(),
            slowest.as_millis()
        );
        for f in failed.iter().take(5) {
            println!("  failed: {f}");
        }
        // leave the lab small again
        delete_and_compact(&mut p, &leader, &cap, "/kockpit-bench/").await;
        let (tx, _rx) = tokio::sync::mpsc::channel(64);
        kockpit::etcd::ops::defrag(settings, None, None, &cap, 2, &tx, None).await;
    });
}
