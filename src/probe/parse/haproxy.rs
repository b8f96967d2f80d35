//! haproxy's `show stat` CSV (Runtime API). The first line is the header and starts with `# `; every
//! other line is one proxy or server. The status column is not a clean enum (`UP 1/2`, `no check`,
//! `MAINT (via be/srv)`...): it is kept exactly as printed and classified by [`ServerStatus::parse`].

use std::collections::HashMap;

use super::{ParseError, excerpt};
use crate::model::{BackendServer, ServerStatus};

const WHAT: &str = "haproxy show stat";

/// Server rows of `show stat`, filtered to `backend` (every backend when `backend` is empty).
/// FRONTEND and BACKEND summary rows are skipped.
pub fn parse_show_stat(text: &str, backend: &str) -> Result<Vec<BackendServer>, ParseError> {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Err(ParseError::new(WHAT, "empty output (is the stats socket answering?)"));
    };
    let Some(header) = header.strip_prefix("# ") else {
        // The Runtime API answers errors in plain text ("Unknown command", "Permission denied").
        return Err(ParseError::new(WHAT, format!("expected the CSV header line starting with '# ', got {}", excerpt(text, 120))));
    };
    let columns: HashMap<&str, usize> = header.split(',').enumerate().map(|(i, c)| (c.trim(), i)).collect();
    let col = |name: &'static str| columns.get(name).copied();
    let need = |name: &'static str| col(name).ok_or_else(|| ParseError::new(WHAT, format!("header has no {name:?} column")));
    let (c_px, c_sv, c_status) = (need("pxname")?, need("svname")?, need("status")?);
    let (c_weight, c_scur, c_lastchg) = (col("weight"), col("scur"), col("lastchg"));
    let (c_check, c_dur, c_addr) = (col("check_status"), col("check_duration"), col("addr"));
    let width = header.split(',').count();

    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        if line.starts_with('#') {
            continue;
        }
        let fields = split_csv(line);
        // Every row has as many fields as the header (both end with a trailing comma). Fewer means
        // the output was cut short.
        if fields.len() < width {
            return Err(ParseError::new(
                WHAT,
                format!("line {line_no}: {} fields, the header has {width} (truncated output?)", fields.len()),
            ));
        }
        let get = |c: Option<usize>| c.and_then(|i| fields.get(i)).map(|s| s.trim()).unwrap_or("");
        let px = get(Some(c_px));
        let sv = get(Some(c_sv));
        if sv == "FRONTEND" || sv == "BACKEND" || (!backend.is_empty() && px != backend) {
            continue;
        }
        let num = |c: Option<usize>, name: &str| -> Result<Option<u64>, ParseError> {
            let v = get(c);
            if v.is_empty() || v == "-" {
                return Ok(None);
            }
            v.parse::<u64>()
                .map(Some)
                .map_err(|_| ParseError::new(WHAT, format!("line {line_no}: {name} of {px}/{sv} is not a number: {}", excerpt(v, 40))))
        };
        let status_text = get(Some(c_status)).to_string();
        let check_status = Some(get(c_check)).filter(|s| !s.is_empty()).map(str::to_string);
        out.push(BackendServer {
            backend: px.to_string(),
            server: sv.to_string(),
            address: get(c_addr).to_string(),
            status: ServerStatus::parse(&status_text),
            status_text,
            check_status,
            check_duration_ms: num(c_dur, "check_duration")?,
            last_change_secs: num(c_lastchg, "lastchg")?,
            sessions: num(c_scur, "scur")?.unwrap_or(0),
            weight: num(c_weight, "weight")?.map(|w| u32::try_from(w).unwrap_or(u32::MAX)).unwrap_or(0),
        });
    }
    if !backend.is_empty() && out.is_empty() {
        return Err(ParseError::new(WHAT, format!("no servers in backend {backend:?}")));
    }
    Ok(out)
}

/// Split one CSV line. haproxy quotes a field (RFC 4180 style) only when it contains a comma or a quote.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if cur.is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/haproxy/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn statuses(v: &[BackendServer]) -> Vec<(String, String, ServerStatus)> {
        v.iter().map(|b| (b.server.clone(), b.status_text.clone(), b.status)).collect()
    }

    #[test]
    fn all_up() {
        let v = parse_show_stat(&fixture("show-stat-all-up.csv"), "kube-apiserver").unwrap();
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|b| b.status == ServerStatus::Up && b.status_text == "UP"));
        assert_eq!(v[0].server, "m1");
        assert_eq!(v[0].backend, "kube-apiserver");
        assert_eq!(v[0].address, "10.213.0.21:6443");
        assert_eq!(v[0].check_status.as_deref(), Some("L7OK"));
        assert_eq!(v[0].check_duration_ms, Some(2));
        assert_eq!(v[0].weight, 1);
        assert!(v[0].last_change_secs.is_some());
    }

    #[test]
    fn every_status_form_from_the_lab() {
        let v = parse_show_stat(&fixture("show-stat-maint-drain.csv"), "kube-apiserver").unwrap();
        assert_eq!(
            statuses(&v)[1..],
            [("m2".into(), "MAINT".into(), ServerStatus::Maint), ("m3".into(), "DRAIN".into(), ServerStatus::Drain)]
        );
        assert_eq!(v[1].check_status, None);
        let v = parse_show_stat(&fixture("show-stat-no-check.csv"), "kube-apiserver").unwrap();
        assert_eq!(statuses(&v)[0], ("m1".into(), "no check".into(), ServerStatus::NoCheck));
        let v = parse_show_stat(&fixture("show-stat-going-down.csv"), "kube-apiserver").unwrap();
        assert_eq!(statuses(&v)[1], ("m2".into(), "UP 1/2".into(), ServerStatus::GoingDown));
        let v = parse_show_stat(&fixture("show-stat-m2-down.csv"), "kube-apiserver").unwrap();
        assert_eq!(statuses(&v)[1], ("m2".into(), "DOWN".into(), ServerStatus::Down));
        assert_eq!(v[1].check_status.as_deref(), Some("L4CON"));
        let v = parse_show_stat(&fixture("show-stat-going-up.csv"), "kube-apiserver").unwrap();
        assert_eq!(statuses(&v)[1], ("m2".into(), "DOWN 1/2".into(), ServerStatus::GoingUp));
    }

    #[test]
    fn backend_filter() {
        let all = parse_show_stat(&fixture("show-stat-all-up.csv"), "").unwrap();
        assert_eq!(all.len(), 3, "FRONTEND/BACKEND rows are not servers");
        let err = parse_show_stat(&fixture("show-stat-all-up.csv"), "nope").unwrap_err();
        assert!(err.detail.contains("no servers in backend"), "{err}");
    }

    #[test]
    fn quoted_fields() {
        assert_eq!(split_csv(r#"a,"b,c","d""e",,"#), vec!["a", "b,c", "d\"e", "", ""]);
        let text = "# pxname,svname,status,check_desc,\nbe,s1,UP,\"Layer7, ok\",\n";
        let v = parse_show_stat(text, "be").unwrap();
        assert_eq!(v[0].status, ServerStatus::Up);
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        for bad in [
            "",
            "\n\n",
            "Unknown command. Please enter one of the following commands only :\n",
            "Permission denied\n",
            "\u{0}\u{ff}garbage",
        ] {
            assert!(parse_show_stat(bad, "kube-apiserver").is_err(), "{bad:?}");
        }
        assert!(parse_show_stat("# foo,bar\n", "").unwrap_err().detail.contains("pxname"));
        let full = fixture("show-stat-all-up.csv");
        // cut inside the m2 row
        let cut = &full[..full.find("kube-apiserver,m2").unwrap() + 40];
        let err = parse_show_stat(cut, "kube-apiserver").unwrap_err();
        assert!(err.detail.contains("truncated"), "{err}");
        // every prefix: never a panic
        for i in 0..full.len() {
            if full.is_char_boundary(i) {
                let _ = parse_show_stat(&full[..i], "kube-apiserver");
                let _ = parse_show_stat(&full[..i], "");
            }
        }
        let bad_num = full.replace("kube-apiserver,m1,0,0,0,0,,0,", "kube-apiserver,m1,0,0,x,0,,0,");
        assert!(parse_show_stat(&bad_num, "kube-apiserver").unwrap_err().detail.contains("scur"));
    }
}
