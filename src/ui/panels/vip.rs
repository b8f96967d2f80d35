//! The vip panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::inventory::LbTopology;
use crate::model::VrrpState;
use crate::model::source::fmt_age_ms;
use crate::settings::theme::Role;

pub(super) fn vip(ctx: &Ctx, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let holders = m.vip_holders();
    let vip = m.plan.vip.as_ref().map(|v| format!("{}:{}", v.address, v.port)).unwrap_or_else(|| "(no VIP)".into());
    let summary = match m.plan.topology.load_balancer {
        LbTopology::LocalProxy => Line::styled("local proxy on every node: no VIP", ctx.s(Role::Muted)),
        _ if m.vrrp.is_empty() => Line::styled(format!("VIP {vip}: waiting for keepalived"), ctx.s(Role::Muted)),
        _ => match holders.len() {
            0 => Line::styled(format!("VIP {vip} NOT HELD by any LB"), ctx.s(Role::Critical)),
            1 => Line::from(vec![
                Span::styled(format!("VIP {vip} on "), ctx.s(Role::Text)),
                Span::styled(holders[0].clone(), ctx.s(Role::Accent)),
            ]),
            _ => Line::styled(format!("SPLIT BRAIN: VIP on {}", holders.join(" + ")), ctx.s(Role::Critical)),
        },
    };
    let mut all: Vec<Line<'static>> = m
        .vrrp
        .iter()
        .map(|(lb, s)| {
            if let Some(e) = &s.error {
                return Line::styled(format!("{lb}: {}", e.reason), ctx.s(Role::Critical));
            }
            let Some(v) = &s.data else { return Line::styled(format!("{lb}: waiting"), ctx.s(Role::Muted)) };
            let role = match v.state {
                VrrpState::Master if holders.len() > 1 => Role::Critical,
                VrrpState::Master => Role::Ok,
                VrrpState::Backup => Role::Text,
                _ => Role::Warn,
            };
            let prio = if v.effective_priority != v.priority {
                format!("prio {}->{}", v.priority, v.effective_priority)
            } else {
                format!("prio {}", v.priority)
            };
            let since = v.last_transition.map(|t| format!(" {}", fmt_age_ms((ctx.now - t).num_milliseconds()))).unwrap_or_default();
            Line::from(vec![
                Span::styled(pad(lb, 7), ctx.s(Role::Text)),
                Span::styled(pad(v.state.label(), 8), ctx.s(role)),
                Span::styled(pad(&prio, 13), ctx.s(if v.effective_priority < v.priority { Role::Warn } else { Role::Muted })),
                Span::styled(if v.holds_vip { "VIP".to_string() } else { "   ".into() }, ctx.s(Role::Accent)),
                Span::styled(since, ctx.s(Role::Muted)),
            ])
        })
        .collect();
    let total_lbs = all.len();
    match (&m.vip_probe.data, &m.vip_probe.error) {
        (_, Some(e)) => all.push(Line::styled(format!("probe: {}", e.reason), ctx.s(Role::Critical))),
        (Some(p), None) => all.push(Line::styled(format!("probe: {} answers ({:.1}ms)", p.address, p.connect_ms), ctx.s(Role::Muted))),
        _ => {}
    }
    let (a, b) = window(all.len(), selected, height);
    Content { summary, header: None, rows: all[a..b].to_vec(), offset: a, total: total_lbs }
}
