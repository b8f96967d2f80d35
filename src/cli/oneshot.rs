//! The one-shot commands that print the cluster: `status` (health, findings, JSON) and `render` (the
//! screen as text).

use chrono::Utc;
use color_eyre::Result;
use color_eyre::eyre::{WrapErr, eyre};
use serde_json::json;

use super::{Cli, Setup, snapshot, write_out};
use crate::app::App;
use crate::model::{PanelId, assess};
use crate::ops::WriteCap;
use crate::ops::audit::Audit;

pub(super) fn status(s: &Setup, cli: &Cli, json_out: bool) -> Result<i32> {
    let model = snapshot(s, cli)?;
    let now = Utc::now();
    let a = assess(&model, now);
    if json_out {
        let sources: Vec<_> = model
            .sources(now)
            .into_iter()
            .map(|(panel, name, f)| {
                let (age_ms, reason) = match &f {
                    crate::model::Freshness::Fresh { age_ms, .. } | crate::model::Freshness::Stale { age_ms } => (Some(*age_ms), None),
                    crate::model::Freshness::Failed { age_ms, reason, .. } => (*age_ms, Some(reason.clone())),
                    crate::model::Freshness::Waiting => (None, None),
                };
                json!({ "panel": panel, "source": name, "state": f.label(), "age_ms": age_ms, "reason": reason })
            })
            .collect();
        let out = json!({
            "kockpit_version": env!("CARGO_PKG_VERSION"),
            "taken_at": now,
            "health": a.level,
            "exit_code": a.level.exit_code(),
            "findings": a.findings,
            "vip": model.vip_verdict(now),
            "sources": sources,
            "model": model,
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        outln!("{} ({}): {}", model.meta.cluster, model.meta.mode.label(), a.level.label());
        if let Some(note) = &model.meta.note {
            outln!("  {note}");
        }
        for f in &a.findings {
            outln!(
                "  {:<8} {:<9} {:<14} {}",
                format!("{:?}", f.severity).to_lowercase(),
                format!("{:?}", f.panel).to_lowercase(),
                f.subject,
                f.message
            );
        }
    }
    Ok(a.level.exit_code())
}

pub(super) fn parse_size(size: &str) -> Result<(u16, u16)> {
    let (w, h) = size.split_once(['x', 'X']).ok_or_else(|| eyre!("--size must look like 120x40, got `{size}`"))?;
    // (read wide, so that 99999 is out of range rather than "too large to fit")
    let w: u64 = w.trim().parse().wrap_err_with(|| format!("bad width in --size `{size}`"))?;
    let h: u64 = h.trim().parse().wrap_err_with(|| format!("bad height in --size `{size}`"))?;
    if !(20..=1000).contains(&w) || !(5..=500).contains(&h) {
        return Err(eyre!("--size {w}x{h} is out of range (20x5 to 1000x500)"));
    }
    Ok((w as u16, h as u16))
}

pub(super) fn render(s: &Setup, cli: &Cli, size: &str) -> Result<i32> {
    let (w, h) = parse_size(size)?;
    let model = snapshot(s, cli)?;
    let cap = WriteCap::acquire(s.readonly);
    let mut app = App::new(model, s.theme.clone(), vec![], s.keymap.clone(), cap, Audit::discard(), s.demo);
    app.view.focus = PanelId::Hosts;
    out!("{}", crate::ui::render_text(&mut app, w, h, Utc::now()));
    Ok(0)
}
