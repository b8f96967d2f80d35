//! A burst of 10,000 log lines per second for 30 s from a real process, through the same channel and
//! buffer the cockpit uses (bounded memory, spill to disk): every line is accounted for, in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kockpit::backend::BackendEvent;
use kockpit::backend::stream::tail_command;
use kockpit::logs::LogBuffer;

const RATE: u64 = 10_000;
const SECS: u64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_lines_a_second_for_thirty_seconds_none_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let spill = dir.join("spill.log");
    // A generator that paces itself to RATE lines per second, with a sequence number in every line.
    let script = format!(
        "import sys,time\nout=sys.stdout\nt0=time.time()\nfor s in range({SECS}):\n  for i in range({RATE}):\n    out.write('burst seq=%d payload=abcdefghijklmnopqrstuvwxyz0123456789\\n' % (s*{RATE}+i))\n  out.flush()\n  d=t0+s+1-time.time()\n  if d>0: time.sleep(d)\n"
    );
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg("-c").arg(script);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<BackendEvent>(1024);
    let started = Instant::now();
    let producer = tokio::spawn(tail_command(cmd, Arc::from("local generator"), tx));
    // The consumer is the cockpit's buffer: 50,000 lines in memory, the rest spilled.
    let mut buf = LogBuffer::new(50_000).with_spill(&spill).unwrap();
    while let Some(ev) = rx.recv().await {
        if let BackendEvent::Log(l) = ev {
            buf.push(l);
        }
    }
    buf.flush().unwrap();
    let sent = producer.await.unwrap().unwrap();
    let took = started.elapsed();
    let total = RATE * SECS;
    let st = buf.stats();
    println!(
        "burst: {total} lines in {:.1} s; received {}, in memory {}, spilled {}, evicted {}",
        took.as_secs_f64(),
        st.received,
        st.in_memory,
        st.spilled,
        st.evicted
    );
    assert_eq!(sent, total, "the reader saw every line");
    assert_eq!(st.received, total);
    assert_eq!(st.evicted, 0);
    assert_eq!(st.spilled + st.in_memory, total);
    assert_eq!(st.in_memory, 50_000, "memory stays bounded");
    assert!(took >= Duration::from_secs(SECS - 1), "the generator really ran at its pace: {took:?}");
    // Every sequence number exactly once: the spilled ones, then the ones in memory.
    let spilled = std::fs::read_to_string(&spill).unwrap();
    let seq = |l: &str| -> u64 { l.split("seq=").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).expect("seq") };
    let mut expect = 0u64;
    for l in spilled.lines() {
        assert_eq!(seq(l), expect);
        expect += 1;
    }
    for l in buf.iter() {
        assert_eq!(seq(&l.text), expect);
        expect += 1;
    }
    assert_eq!(expect, total);
}
