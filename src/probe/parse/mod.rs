//! Parsers for what the probes read on remote hosts. Pure functions over text: they never panic, and
//! anything they cannot make sense of is a [`ParseError`] that says what was expected.

pub mod haproxy;
pub mod hostfacts;
pub mod ipaddr;
pub mod keepalived;
pub mod keepalived_data;

pub use haproxy::parse_show_stat;
pub use hostfacts::{HOST_FACTS_SECTIONS, parse_host_facts};
pub use ipaddr::{IfAddr, parse_ip_addr};
pub use keepalived::{KeepalivedInstance, parse_keepalived_json, parse_state_file};
pub use keepalived_data::parse_keepalived_data;

/// Remote output that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct ParseError {
    /// What was being parsed, e.g. "haproxy show stat".
    pub what: &'static str,
    pub detail: String,
}

impl ParseError {
    pub fn new(what: &'static str, detail: impl Into<String>) -> ParseError {
        ParseError { what, detail: detail.into() }
    }
}

/// The first line of `text`, cut to `max` characters, for error messages about unexpected output.
pub fn excerpt(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return "(empty output)".to_string();
    }
    let mut out: String = line.chars().take(max).collect();
    if line.chars().count() > max {
        out.push('…');
    }
    format!("{out:?}")
}
