//! The session's audit log, and `kockpit audit verify`.

use chrono::Utc;
use color_eyre::Result;
use color_eyre::eyre::{WrapErr, eyre};

use super::*;

pub(super) fn audit_verify(s: &Setup, files: &[PathBuf], key: Option<&std::path::Path>, partial: bool) -> Result<i32> {
    use crate::ops::audit::chain;
    let key = match key {
        Some(k) => Some(chain::Key::load(k).wrap_err_with(|| format!("cannot read the audit key {}", k.display()))?),
        None => chain::Key::load(&s.paths.audit_key()).ok(),
    };
    // a file that cannot be a log is a usage error (exit 4), not a broken chain (exit 1)
    for f in files {
        chain::check_log_file(f).map_err(|why| eyre!("{}: {why}", f.display()))?;
    }
    match chain::verify(files, key.as_ref(), partial) {
        Ok(v) => {
            outln!(
                "intact: {} records (seq {} to {}{}), {} checkpoints{}",
                v.records,
                v.first_seq,
                v.last_seq,
                if v.first_seq > 0 { "; the records before it are not given: its first record is taken as it is" } else { "" },
                v.checkpoints,
                if key.is_some() {
                    format!(", {} signatures checked", v.signed_checked)
                } else {
                    ", signatures NOT checked (no key)".into()
                }
            );
            Ok(0)
        }
        Err(b) => {
            eprintln!("kockpit: audit log broken: {b}");
            Ok(1)
        }
    }
}

/// The session's audit log: `--audit-log`, else the config's `audit_log`, else the state directory's;
/// checkpoints are signed with the key in the config directory (outside the log's directory).
pub(super) fn open_audit(s: &Setup, cli: &Cli) -> Audit {
    let path = cli.audit_log.clone().or(s.config.audit_log.clone()).unwrap_or_else(|| s.paths.audit_log());
    Audit::open_keyed(&path, session_id(), &s.paths.audit_key())
}

/// This run's session id: the `session` of every audit record, and said in the User-Agent of every
/// request to the API server, so the apiserver's audit log joins kockpit's.
pub(crate) fn session_id() -> &'static str {
    static SESSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SESSION.get_or_init(|| format!("{}-{}", Utc::now().format("%Y%m%dT%H%M%S"), std::process::id()))
}

/// The audit log this process writes to (the same choice as [`open_audit`]).
fn audit_path(s: &Setup, cli: &Cli) -> PathBuf {
    cli.audit_log.clone().or(s.config.audit_log.clone()).unwrap_or_else(|| s.paths.audit_log())
}

/// `kockpit audit unfinished`: the operations an earlier process confirmed and never ended, with the
/// state each may have left. Exit 0 when there is none, 1 when there is. Changes nothing.
pub(super) fn audit_unfinished(s: &Setup, cli: &Cli) -> Result<i32> {
    use crate::ops::audit::unfinished;
    let path = audit_path(s, cli);
    let found = unfinished::scan(&path, unfinished::TAIL_BYTES, None).wrap_err_with(|| format!("cannot read {}", path.display()))?;
    if found.is_empty() {
        outln!("no unfinished operation in {}", path.display());
        return Ok(0);
    }
    for u in &found {
        outln!("{}", u.describe());
        if let Some(step) = &u.last_step {
            outln!("  last step started: {step}");
        }
    }
    Ok(1)
}

/// At the start of a session that can act: the operations an earlier process left unfinished, each
/// recorded as `op_abandoned` (so it is told once) and returned to be shown.
pub(super) fn take_unfinished(audit: &Audit) -> Vec<crate::ops::audit::unfinished::Unfinished> {
    use crate::ops::audit::unfinished;
    let Some(path) = audit.path() else { return vec![] };
    match unfinished::scan(path, unfinished::TAIL_BYTES, None) {
        Ok(found) => {
            for u in &found {
                audit.record(
                    "op_abandoned",
                    json!({ "of_session": u.session, "op_id": u.op_id, "what": u.what, "last_step": u.last_step, "leaves": u.leaves }),
                );
            }
            found
        }
        Err(e) => {
            tracing::warn!("cannot read the audit log for unfinished operations: {e}");
            vec![]
        }
    }
}
