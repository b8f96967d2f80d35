//! known_hosts, as OpenSSH reads it: comma-separated host patterns (`*`, `?`, `!negation`), `[host]:port`
//! for non-standard ports, hashed `|1|salt|hash` entries, `@revoked` markers (`@cert-authority` lines
//! are skipped: kockpit does not do host certificates).

use std::io::Write;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::{HashAlg, PublicKey};
use sha1::Sha1;

use super::config::wildcard_match;

/// The name a host's key is filed under: `host` on port 22, else `[host]:port`.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 { host.to_string() } else { format!("[{host}]:{port}") }
}

/// OpenSSH's fingerprint format: `SHA256:base64`.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// What known_hosts says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host carries exactly this key.
    Known,
    /// Lines for this host carry a different key of the same type.
    Changed { file: PathBuf, line: usize },
    /// The key is marked `@revoked`.
    Revoked { file: PathBuf, line: usize },
    /// No line for this host and this key type.
    Unknown,
}

/// Look `name` (see [`lookup_name`]) up in `files` (missing files are skipped).
pub fn check(files: &[PathBuf], name: &str, key: &PublicKey) -> std::io::Result<HostKeyStatus> {
    let mut changed = None;
    let mut known = false;
    for file in files {
        if !file.exists() {
            continue;
        }
        let text = crate::error::read_text(file, "known_hosts file", crate::error::limits::SSH).map_err(std::io::Error::other)?;
        match check_text(file, &text, name, key) {
            revoked @ HostKeyStatus::Revoked { .. } => return Ok(revoked),
            HostKeyStatus::Known => known = true,
            c @ HostKeyStatus::Changed { .. } if changed.is_none() => changed = Some(c),
            _ => {}
        }
    }
    Ok(if known { HostKeyStatus::Known } else { changed.unwrap_or(HostKeyStatus::Unknown) })
}

/// What one known_hosts file says about `name`'s key; `text` is the content of `file`.
pub fn check_text(file: &Path, text: &str, name: &str, key: &PublicKey) -> HostKeyStatus {
    let mut changed = None;
    let mut known = false;
    for (n, line) in text.lines().enumerate() {
        let Some(entry) = Entry::parse(line) else { continue };
        if entry.cert_authority || !entry.matches(name) {
            continue;
        }
        let Ok(recorded) = PublicKey::from_openssh(&format!("{} {}", entry.key_type, entry.key_b64)) else { continue };
        let same = recorded.key_data() == key.key_data();
        if entry.revoked {
            if same {
                return HostKeyStatus::Revoked { file: file.to_path_buf(), line: n + 1 };
            }
            continue;
        }
        if same {
            known = true;
        } else if recorded.algorithm() == key.algorithm() && changed.is_none() {
            changed = Some(HostKeyStatus::Changed { file: file.to_path_buf(), line: n + 1 });
        }
    }
    if known { HostKeyStatus::Known } else { changed.unwrap_or(HostKeyStatus::Unknown) }
}

/// Record a newly accepted key at the end of `file` (created if needed).
pub fn append(file: &Path, name: &str, key: &PublicKey) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let existing = std::fs::read(file).unwrap_or_default();
    let openssh = key.to_openssh().map_err(|e| std::io::Error::other(e.to_string()))?;
    // the comment (if any) is not part of what we vouch for
    let mut words = openssh.split_whitespace();
    let (Some(t), Some(b)) = (words.next(), words.next()) else { return Err(std::io::Error::other("cannot encode the key")) };
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    let sep = if existing.is_empty() || existing.ends_with(b"\n") { "" } else { "\n" };
    writeln!(f, "{sep}{name} {t} {b}")
}

struct Entry<'a> {
    revoked: bool,
    cert_authority: bool,
    hosts: &'a str,
    key_type: &'a str,
    key_b64: &'a str,
}

impl<'a> Entry<'a> {
    fn parse(line: &'a str) -> Option<Entry<'a>> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut words = line.split_whitespace();
        let mut first = words.next()?;
        let (mut revoked, mut cert_authority) = (false, false);
        if first.starts_with('@') {
            match first {
                "@revoked" => revoked = true,
                "@cert-authority" => cert_authority = true,
                _ => return None,
            }
            first = words.next()?;
        }
        Some(Entry { revoked, cert_authority, hosts: first, key_type: words.next()?, key_b64: words.next()? })
    }

    fn matches(&self, name: &str) -> bool {
        if let Some(hashed) = self.hosts.strip_prefix("|1|") {
            return hashed_matches(hashed, name);
        }
        let name = name.to_ascii_lowercase();
        let mut matched = false;
        for p in self.hosts.split(',') {
            let (neg, p) = match p.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, p),
            };
            if wildcard_match(&p.to_ascii_lowercase(), &name) {
                if neg {
                    return false;
                }
                matched = true;
            }
        }
        matched
    }
}

/// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
fn hashed_matches(rest: &str, name: &str) -> bool {
    let Some((salt, hash)) = rest.split_once('|') else { return false };
    let (Ok(salt), Ok(hash)) = (BASE64.decode(salt.as_bytes()), BASE64.decode(hash.as_bytes())) else { return false };
    let Ok(mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt) else { return false };
    mac.chain_update(name.as_bytes()).verify_slice(&hash).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOPN/pi8v2FUk9LPU7Oln+tpnxIvy1b926MmYWzwTOHv";
    const K2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFDUMtdZrdiPwKtaiBkUhWcMJEYtT9Jx5+WuObrqSjLQ";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    fn hashed(name: &str, salt: &[u8]) -> String {
        let mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).unwrap().chain_update(name.as_bytes()).finalize().into_bytes();
        format!("|1|{}|{}", BASE64.encode(salt), BASE64.encode(&mac))
    }

    fn file(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join(format!("kh{}", text.len()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn plain_hashed_port_and_patterns() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let text = format!(
            "# comment\nlb1,10.213.0.11 {K1}\n{} {K2}\n[10.0.0.9]:2222 {K1}\n*.prod,!db.prod {K2}\n@cert-authority * {K1}\ngarbage\n",
            hashed("m1", b"0123456789abcdef0123")
        );
        let f = vec![file(d, &text)];
        assert_eq!(check(&f, "10.213.0.11", &key(K1)).unwrap(), HostKeyStatus::Known);
        assert_eq!(check(&f, "LB1", &key(K1)).unwrap(), HostKeyStatus::Known);
        assert_eq!(check(&f, "lb1", &key(K2)).unwrap(), HostKeyStatus::Changed { file: f[0].clone(), line: 2 });
        assert_eq!(check(&f, "m1", &key(K2)).unwrap(), HostKeyStatus::Known, "hashed entry");
        assert!(matches!(check(&f, "m1", &key(K1)).unwrap(), HostKeyStatus::Changed { line: 3, .. }));
        assert_eq!(check(&f, "m2", &key(K1)).unwrap(), HostKeyStatus::Unknown);
        assert_eq!(check(&f, &lookup_name("10.0.0.9", 2222), &key(K1)).unwrap(), HostKeyStatus::Known);
        assert_eq!(check(&f, "10.0.0.9", &key(K1)).unwrap(), HostKeyStatus::Unknown, "port 22 is another entry");
        assert_eq!(check(&f, "web.prod", &key(K2)).unwrap(), HostKeyStatus::Known);
        assert_eq!(check(&f, "db.prod", &key(K2)).unwrap(), HostKeyStatus::Unknown, "negated pattern");
        assert_eq!(check(&[d.join("missing")], "x", &key(K1)).unwrap(), HostKeyStatus::Unknown);
    }

    #[test]
    fn revoked_and_append() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let f = vec![file(d, &format!("@revoked * {K1}\n"))];
        assert!(matches!(check(&f, "anything", &key(K1)).unwrap(), HostKeyStatus::Revoked { line: 1, .. }));
        let kh = d.join("sub").join("known_hosts");
        append(&kh, "[h]:2200", &key(K2)).unwrap();
        append(&kh, "h2", &key(K1)).unwrap();
        assert_eq!(check(std::slice::from_ref(&kh), "[h]:2200", &key(K2)).unwrap(), HostKeyStatus::Known);
        assert_eq!(std::fs::read_to_string(&kh).unwrap().lines().count(), 2);
        assert!(fingerprint(&key(K1)).starts_with("SHA256:"));
    }
}
