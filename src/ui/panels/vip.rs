//! The vip panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::inventory::LbTopology;
use crate::model::source::fmt_age_ms;
use crate::model::{Unseen, VipVerdict, VrrpState};
use crate::settings::theme::Role;

pub(super) fn vip(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let verdict = m.vip_verdict(ctx.now);
    let vip = m.plan.vip.as_ref().map(|v| format!("{}:{}", v.address, v.port)).unwrap_or_else(|| "(no VIP)".into());
    // the summary names who is not seen; the rows below say why and since when
    let unseen_note = |unseen: &[Unseen]| -> String {
        let names: Vec<&str> = unseen.iter().map(|u| u.lb.as_str()).collect();
        format!("{} not seen", names.join(", "))
    };
    // "VIP 10.0.0.100:6443 on slb1"; on one line under the name "VIP", the holder first: "on slb1"
    let named = |rest: &str| if ctx.one_line { rest.trim_start_matches([':', ' ']).to_string() } else { format!("VIP {vip}{rest}") };
    let summary = match m.plan.topology.load_balancer {
        LbTopology::LocalProxy => Line::styled("local proxy on every node: no VIP", ctx.s(Role::Muted)),
        _ => match &verdict {
            VipVerdict::Waiting => Line::styled(named(": waiting for keepalived"), ctx.s(Role::Muted)),
            VipVerdict::NoVip => Line::styled(named(": no host runs keepalived in this topology"), ctx.s(Role::Muted)),
            VipVerdict::NotHeld => Line::styled(named(" NOT HELD by any LB"), ctx.s(Role::Critical)),
            VipVerdict::Held { holder, unseen } => {
                let mut spans = vec![Span::styled(named(" on "), ctx.s(Role::Text)), Span::styled(holder.clone(), ctx.s(Role::Accent))];
                if !unseen.is_empty() {
                    let age = m.vrrp.get(holder).and_then(|s| s.updated).map(|t| fmt_age_ms((ctx.now - t).num_milliseconds()));
                    let seen = age.map(|a| format!("seen {a} ago; ")).unwrap_or_default();
                    spans.push(Span::styled(format!(" ({seen}{})", unseen_note(unseen)), ctx.s(Role::Unknown)));
                }
                Line::from(spans)
            }
            VipVerdict::HandingOver { to, from, .. } => Line::from(vec![
                Span::styled(named(" on "), ctx.s(Role::Text)),
                Span::styled(to.clone(), ctx.s(Role::Accent)),
                Span::styled(format!(" (handing over: {} still lets it go)", from.join(", ")), ctx.s(Role::Muted)),
            ]),
            VipVerdict::SplitBrain { holders, .. } => match m.brief_vip_window(ctx.now) {
                // a brief two-holder moment inside a planned move
                Some((label, ms)) => {
                    Line::styled(format!("VIP on {} for {} ({label}, planned)", holders.join(" + "), fmt_age_ms(ms)), ctx.s(Role::Warn))
                }
                None => Line::styled(format!("SPLIT BRAIN: VIP on {}", holders.join(" + ")), ctx.s(Role::Critical)),
            },
            VipVerdict::Unknown { unseen } => {
                // the facts first: a narrow panel cuts the end
                let text = format!("holder UNKNOWN: {}", unseen_note(unseen));
                Line::styled(if ctx.one_line { text } else { format!("VIP {text} ({vip})") }, ctx.s(Role::Unknown))
            }
        },
    };
    let split = matches!(verdict, VipVerdict::SplitBrain { .. });
    let mut all: Vec<Line<'static>> = m
        .vrrp
        .iter()
        .map(|(lb, s)| {
            let fresh = s.freshness(ctx.now).is_fresh();
            let Some(v) = &s.data else {
                return match &s.error {
                    Some(e) => Line::styled(format!("{lb}: {}", e.reason), ctx.s(Role::Critical)),
                    None => Line::styled(format!("{lb}: waiting"), ctx.s(Role::Muted)),
                };
            };
            let role = match v.state {
                _ if !fresh => Role::Unknown,
                VrrpState::Master if split => Role::Critical,
                VrrpState::Master => Role::Ok,
                VrrpState::Backup => Role::Text,
                _ => Role::Warn,
            };
            let prio = format!("prio {}", v.priority_text());
            let mark = if fresh { "" } else { "?" };
            let mut spans = vec![
                Span::styled(col(lb, 7), ctx.s(Role::Text)),
                Span::styled(col(&format!("{}{mark}", v.state.label()), 8), ctx.s(role)),
                Span::styled(
                    col(&prio, 13),
                    ctx.s(if v.priority != 0 && v.effective_priority < v.priority { Role::Warn } else { Role::Muted }),
                ),
                Span::styled(
                    match (v.holds_vip, fresh) {
                        (true, _) => format!("VIP{mark}"),
                        (false, true) => "   ".into(),
                        (false, false) => "    ".into(),
                    },
                    ctx.s(if fresh { Role::Accent } else { Role::Unknown }),
                ),
            ];
            if fresh {
                let since = v.last_transition.map(|t| format!(" {}", fmt_age_ms((ctx.now - t).num_milliseconds()))).unwrap_or_default();
                spans.push(Span::styled(since, ctx.s(Role::Muted)));
                // keepalived's view from a fallback (its data dump, the state file, ip addr alone)
                if let Some(via) = fallback_of(&s.source) {
                    spans.push(Span::styled(format!(" via {via}"), ctx.s(Role::Muted)));
                }
            } else {
                // the last value stays, marked, with its age and why it is not current
                let age = s.updated.map(|t| format!("seen {} ago", fmt_age_ms((ctx.now - t).num_milliseconds()))).unwrap_or_default();
                let why = match &s.error {
                    Some(e) => format!(" {}: {age}", e.reason),
                    None => format!(" stale: {age}"),
                };
                spans.push(Span::styled(why, ctx.s(Role::Unknown)));
            }
            Line::from(spans)
        })
        .collect();
    let total_lbs = all.len();
    match (&m.vip_probe.data, &m.vip_probe.error) {
        (_, Some(e)) => all.push(Line::styled(format!("probe: {}", e.reason), ctx.s(Role::Critical))),
        (Some(p), None) => all.push(Line::styled(format!("probe: {} answers ({:.1}ms)", p.address, p.connect_ms), ctx.s(Role::Muted))),
        _ => {}
    }
    let (a, b) = window(all.len(), selected, height);
    let mut rows = all[a..b].to_vec();
    if ctx.zoomed {
        super::haconf::append_fitting(&mut rows, super::haconf::vip_lines(ctx), height, ctx.width as usize);
    }
    Content { summary, header: None, rows, offset: a, total: total_lbs }
}

/// The fallback a VRRP source's data came from, in a word for a narrow row (`ssh lb1: data dump
/// /tmp/keepalived.data (...)` -> `dump`); None for the JSON dump, a stopped or frozen keepalived, and
/// sources that do not say. The whole source is in `status --json`.
fn fallback_of(source: &str) -> Option<&'static str> {
    let from = source.split_once(": ")?.1;
    [("data dump", "dump"), ("state file", "state"), ("ip addr only", "ip addr")]
        .into_iter()
        .find(|(f, _)| from.starts_with(f))
        .map(|(_, w)| w)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fallback_is_named() {
        use super::fallback_of;
        assert_eq!(fallback_of("ssh lb1: data dump /tmp/keepalived.data (no JSON: no-json-support)"), Some("dump"));
        assert_eq!(fallback_of("ssh lb1: state file /run/keepalived.state (no dump: not-written)"), Some("state"));
        assert_eq!(fallback_of("ssh lb1: ip addr only (no dump: x; no state file)"), Some("ip addr"));
        assert_eq!(fallback_of("ssh lb1: JSON dump /tmp/keepalived.json"), None);
        assert_eq!(fallback_of("sim ssh lb1"), None);
    }
}
