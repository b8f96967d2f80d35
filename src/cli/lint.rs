//! `kockpit lint FILE...`: keepalived.conf and haproxy.cfg files on this machine, linted, and the
//! failover the keepalived files predict when haproxy dies on the peer that holds the VIP.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use color_eyre::Result;
use color_eyre::eyre::eyre;
use serde_json::json;

use super::write_out;
use crate::error::{limits::HACFG, read_text};
use crate::hacfg::lint::{HaproxyLintOptions, Level, Lint};
use crate::hacfg::predict::{Event, config_holder, instance_names, predict_instance, unresolved_tie};
use crate::hacfg::{Kind, Peer, Source, glob_match, load_keepalived, parse_haproxy, parse_keepalived, sniff};

const WHAT: &str = "configuration file";

pub(super) struct Args<'a> {
    pub files: &'a [PathBuf],
    pub peers: &'a [String],
    pub addresses: &'a [String],
    pub on_master: bool,
    pub json: bool,
}

/// Read a file the user named (regular, bounded, UTF-8).
fn source(path: &Path) -> Result<Source> {
    Ok(Source::new(path.display().to_string(), read_text(path, WHAT, HACFG)?))
}

/// An include pattern on this machine's disk: a glob in the last part of the path, or one file.
fn resolve_local(pattern: &str) -> std::result::Result<Vec<Source>, String> {
    let path = Path::new(pattern);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        if !path.exists() {
            return Ok(vec![]);
        }
        return source(path).map(|s| vec![s]).map_err(|e| e.to_string());
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(vec![]) };
    let mut names: Vec<String> =
        entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| glob_match(&name, n)).collect();
    names.sort();
    names.iter().map(|n| source(&dir.join(n)).map_err(|e| e.to_string())).collect()
}

/// `NAME=VALUE`
fn pair<'a>(s: &'a str, flag: &str) -> Result<(&'a str, &'a str)> {
    s.split_once('=').filter(|(n, v)| !n.is_empty() && !v.is_empty()).ok_or_else(|| eyre!("{flag} must look like NAME=VALUE, got `{s}`"))
}

pub(super) fn run(a: Args) -> Result<i32> {
    let stem = |f: &PathBuf| f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = |f: &PathBuf| f.parent().and_then(|p| p.file_name()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stems: Vec<String> = a.files.iter().map(stem).collect();
    // copies of one file name from several hosts (lb1/keepalived.conf, lb2/keepalived.conf) are named
    // by their directory
    let mut named: Vec<(String, PathBuf)> = a
        .files
        .iter()
        .zip(&stems)
        .map(|(f, s)| {
            let shared = stems.iter().filter(|x| *x == s).count() > 1;
            (if shared && !parent(f).is_empty() { parent(f) } else { s.clone() }, f.clone())
        })
        .collect();
    for p in a.peers {
        let (n, f) = pair(p, "--peer")?;
        named.push((n.to_string(), PathBuf::from(f)));
    }
    if named.is_empty() {
        return Err(eyre!("give the files to lint: kockpit lint FILE... (or --peer NAME=FILE)"));
    }
    for (i, (n, f)) in named.iter().enumerate() {
        if let Some((_, g)) = named[..i].iter().find(|(m, g)| m == n && g != f) {
            return Err(eyre!("two peers named `{n}` ({} and {}): name each with --peer NAME=FILE", g.display(), f.display()));
        }
        if named[..i].iter().any(|(m, g)| m == n && g == f) {
            return Err(eyre!("{} is given twice: each peer once", f.display()));
        }
    }
    let mut addrs: Vec<(String, IpAddr, Option<u8>)> = vec![];
    for s in a.addresses {
        let (n, v) = pair(s, "--address")?;
        let (ip, prefix) = match v.split_once('/') {
            Some((ip, p)) => (ip, Some(p.parse::<u8>().map_err(|_| eyre!("--address {s}: a bad prefix length"))?)),
            None => (v, None),
        };
        let ip: IpAddr = ip.parse().map_err(|_| eyre!("--address {s}: `{ip}` is not an IP address"))?;
        addrs.push((n.to_string(), ip, prefix));
    }
    let mut findings: Vec<Lint> = vec![];
    let mut peers: Vec<Peer> = vec![];
    for (name, path) in &named {
        let src = source(path)?;
        match sniff(&src.text) {
            Some(Kind::Keepalived) => {
                let sources = load_keepalived(src, &mut resolve_local)?;
                let mut peer = Peer::new(name.clone(), parse_keepalived(&sources)?);
                if let Some((_, ip, prefix)) = addrs.iter().find(|(n, ..)| n == name) {
                    peer.address = Some(*ip);
                    peer.prefix = *prefix;
                }
                peers.push(peer);
            }
            Some(Kind::Haproxy) => {
                let conf = parse_haproxy(&[src])?;
                let opts = HaproxyLintOptions { on_master: a.on_master, vip_port: None };
                findings.extend(crate::hacfg::lint_haproxy(&conf, &path.display().to_string(), &opts));
            }
            None => {
                return Err(eyre!(
                    "{}: neither a keepalived.conf (vrrp_instance, vrrp_script, global_defs) nor a haproxy.cfg (global, defaults, frontend, backend, listen)",
                    path.display()
                ));
            }
        }
    }
    if let Some((n, ..)) = addrs.iter().find(|(n, ..)| !peers.iter().any(|p| &p.host == n)) {
        return Err(eyre!("--address {n}=...: no keepalived file is named {n}"));
    }
    findings.extend(crate::hacfg::lint_keepalived(&peers));
    let mut predictions = vec![];
    // a tie at the top between peers whose addresses were not given: no holder can be named
    let mut undecided = vec![];
    for inst in instance_names(&peers) {
        if let Some(holder) = config_holder(&peers, &inst) {
            predictions.extend(predict_instance(&peers, &inst, Some(&holder), &Event::HaproxyDead(holder.clone())));
        } else if let Some(tie) = unresolved_tie(&peers, &inst) {
            undecided.push(tie);
        }
    }
    let worst = findings.iter().map(|f| f.level).max();
    let code = match worst {
        Some(Level::Critical) => 2,
        Some(Level::Warn) => 1,
        _ => 0,
    };
    if a.json {
        let out = json!({ "findings": findings, "predictions": predictions, "undecided": undecided, "exit_code": code });
        write_out(format_args!("{}\n", serde_json::to_string_pretty(&out)?))?;
        return Ok(code);
    }
    for f in &findings {
        let place = f.at.as_ref().map(|p| p.to_string()).unwrap_or_else(|| f.subject.clone());
        write_out(format_args!("{place}: {} {}: {}\n", f.level.label(), f.code, f.message))?;
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    write_out(format_args!(
        "{} file(s): {} critical, {} warning(s), {} note(s)\n",
        named.len(),
        count(Level::Critical),
        count(Level::Warn),
        count(Level::Info)
    ))?;
    for p in &predictions {
        let inst = if predictions.len() > 1 { format!(" ({})", p.instance) } else { String::new() };
        write_out(format_args!("predicted{inst}: {}\n", p.text))?;
    }
    for t in &undecided {
        write_out(format_args!("predicted: {} (give the addresses: --address NAME=IP/PREFIX)\n", t.text))?;
    }
    Ok(code)
}
