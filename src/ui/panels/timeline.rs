//! The timeline panel.

use ratatui::text::{Line, Span};

use super::*;
use crate::model::rows::*;
use crate::settings::theme::Role;

pub(super) fn timeline(ctx: &Ctx, filter: &str, selected: usize, height: usize) -> Content {
    let m = ctx.model;
    let idx = timeline_rows(m, filter);
    let events: Vec<_> = m.timeline.iter().collect();
    let summary = Line::styled(
        format!(
            "{} events{}",
            m.timeline.len(),
            if m.timeline.dropped > 0 { format!(" ({} older dropped)", m.timeline.dropped) } else { String::new() }
        ),
        ctx.s(Role::Muted),
    );
    let (a, b) = window(idx.len(), selected, height);
    let rows = idx[a..b]
        .iter()
        .map(|&i| {
            let e = events[i];
            Line::from(vec![
                Span::styled(format!("{} ", e.at.with_timezone(&ctx.tz).format("%H:%M:%S")), ctx.s(Role::Muted)),
                Span::styled(e.text.clone(), ctx.sev(e.severity)),
            ])
        })
        .collect();
    Content { summary, header: None, rows, offset: a, total: idx.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_selection_visible() {
        assert_eq!(window(0, 0, 5), (0, 0));
        assert_eq!(window(3, 0, 5), (0, 3));
        assert_eq!(window(10, 2, 5), (0, 5));
        assert_eq!(window(10, 7, 5), (3, 8));
        assert_eq!(window(10, 99, 5), (5, 10));
        assert_eq!(window(10, 3, 0), (0, 0));
    }

    #[test]
    fn pad_truncates_with_a_marker() {
        assert_eq!(pad("abc", 5), "abc  ");
        assert_eq!(pad("abcdef", 4), "abc…");
        assert_eq!(pad("abcd", 4), "abcd");
        // a column keeps its gap whatever the value
        assert_eq!(super::super::col("cp+etcd+worker", 9), "cp+etcd… ");
        assert_eq!(super::super::col("lb", 9), "lb       ");
        assert_eq!(super::super::col("cp+etcd1", 9), "cp+etcd1 ");
    }

    #[test]
    fn byte_units() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(42 * 1024 * 1024), "42.0M");
        assert_eq!(bytes(2_310 * (1 << 30)), "2.3T");
    }
}
