//! Certificates as X.509, parsed in kockpit (never by asking `openssl` on the host): from PEM files, from
//! a kubeconfig's base64 `client-certificate-data`, from DER (a TLS handshake's leaf), and from the
//! certificate probe's output ([`parse_dump`]).

use chrono::{DateTime, TimeZone, Utc};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::model::CertInfo;

/// A parsed certificate: the panel's [`CertInfo`] plus what renewal compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub info: CertInfo,
    /// Hex serial number.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    /// Where it was read (a file path, `host:6443` for a served one).
    pub origin: String,
}

fn ts(secs: i64) -> Result<DateTime<Utc>, String> {
    Utc.timestamp_opt(secs, 0).single().ok_or_else(|| format!("time out of range: {secs}"))
}

/// One DER certificate.
pub fn from_der(name: &str, origin: &str, der: &[u8]) -> Result<Parsed, String> {
    let (_, c) = X509Certificate::from_der(der).map_err(|e| format!("{name}: not an X.509 certificate ({e})"))?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = c.subject_alternative_name() {
        for g in &ext.value.general_names {
            match g {
                GeneralName::DNSName(d) => sans.push(d.to_string()),
                GeneralName::IPAddress(b) => sans.push(ip_text(b)),
                GeneralName::URI(u) => sans.push(u.to_string()),
                GeneralName::RFC822Name(m) => sans.push(m.to_string()),
                _ => {}
            }
        }
    }
    let is_ca = c.basic_constraints().ok().flatten().is_some_and(|b| b.value.ca);
    Ok(Parsed {
        info: CertInfo {
            name: name.to_string(),
            subject: c.subject().to_string(),
            issuer: c.issuer().to_string(),
            sans,
            not_after: ts(c.validity().not_after.timestamp())?,
            is_ca,
        },
        serial: c.raw_serial_as_string(),
        not_before: ts(c.validity().not_before.timestamp())?,
        origin: origin.to_string(),
    })
}

fn ip_text(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => format!("ip:{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
    }
}

/// The first certificate of a PEM text (a file may hold a chain, or a cert and its key).
pub fn from_pem(name: &str, origin: &str, pem: &[u8]) -> Result<Parsed, String> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let first = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or_else(|| format!("{name}: no certificate in {origin}"))?
        .map_err(|e| format!("{name}: {origin}: bad PEM ({e})"))?;
    from_der(name, origin, &first)
}

/// A kubeconfig's `client-certificate-data` value: base64 of a PEM certificate.
pub fn from_kubeconfig_data(name: &str, origin: &str, data: &str) -> Result<Parsed, String> {
    let clean: String = data.trim().trim_matches(['"', '\'']).chars().filter(|c| !c.is_whitespace()).collect();
    let pem = data_encoding::BASE64
        .decode(clean.as_bytes())
        .or_else(|_| data_encoding::BASE64_NOPAD.decode(clean.trim_end_matches('=').as_bytes()))
        .map_err(|e| format!("{name}: {origin}: client-certificate-data is not base64 ({e})"))?;
    from_pem(name, origin, &pem)
}

/// The certificate probe's output: certificates found (in order) and the problems met (a file that
/// does not parse is reported, not fatal). Files that do not exist are skipped.
pub fn parse_dump(out: &str) -> (Vec<Parsed>, Vec<String>) {
    #[derive(PartialEq)]
    enum Kind {
        Cert,
        Kubeconfig,
    }
    let mut sections: Vec<(Kind, String, String, String)> = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("@@kockpit-") {
            let (tag, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let (name, path) = rest.split_once(' ').unwrap_or((rest, ""));
            match tag {
                "cert" => sections.push((Kind::Cert, name.to_string(), path.to_string(), String::new())),
                "kubeconfig" => sections.push((Kind::Kubeconfig, name.to_string(), path.to_string(), String::new())),
                _ => {}
            }
            continue;
        }
        if let Some(s) = sections.last_mut() {
            s.3.push_str(line);
            s.3.push('\n');
        }
    }
    let (mut certs, mut errors) = (Vec::new(), Vec::new());
    for (kind, name, path, body) in sections {
        let r = if kind == Kind::Kubeconfig && !body.contains("-----BEGIN") {
            match body.lines().map(str::trim).find(|l| !l.is_empty()) {
                Some(data) => from_kubeconfig_data(&name, &path, data),
                None => Err(format!("{name}: {path} has no client certificate")),
            }
        } else if body.trim().is_empty() {
            Err(format!("{name}: {path} holds no certificate"))
        } else {
            from_pem(&name, &path, body.as_bytes())
        };
        match r {
            Ok(c) => certs.push(c),
            Err(e) => errors.push(e),
        }
    }
    (certs, errors)
}

#[cfg(test)]
mod tests;
