//! Where each panel goes: the grid for the body's size. Space goes by content: every row of panels
//! gets its least height, then lines go one at a time, round the rows, to those whose panels have more
//! to show (a row wants what its fullest panel needs); what nobody wants goes to the timeline.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::model::PanelId;

/// The height (borders included) each panel would need to show all it has, unfiltered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wants([u16; 10]);

impl Wants {
    pub fn set(&mut self, p: PanelId, lines: usize) {
        self.0[Self::index(p)] = u16::try_from(lines).unwrap_or(u16::MAX);
    }
    pub fn of(&self, p: PanelId) -> u16 {
        self.0[Self::index(p)]
    }
    fn index(p: PanelId) -> usize {
        PanelId::ALL.iter().position(|q| *q == p).unwrap_or(0)
    }
    fn max(&self, ps: &[PanelId]) -> u16 {
        ps.iter().map(|p| self.of(*p)).max().unwrap_or(0)
    }
}

/// A row of the grid: its least height, the height it gets before any row grows past its `first`
/// (what must be seen: every host, every etcd member), and the height its content wants.
struct Row {
    min: u16,
    first: u16,
    want: u16,
}

impl Row {
    fn new(min: u16, first: u16, want: u16) -> Row {
        let want = want.max(min);
        Row { min, first: first.clamp(min, want), want }
    }
}

/// Heights for the rows in `total` lines: each its `min` (all scaled down when even those do not fit),
/// then one line at a time round the rows still short of their `first`, then of their `want`; the rest
/// to the last row.
fn heights(total: u16, rows: &[Row]) -> Vec<u16> {
    let mins: u32 = rows.iter().map(|r| u32::from(r.min)).sum();
    if mins > u32::from(total) {
        // too low for every least height: a line each (panels of one or two lines are drawn without
        // borders), then one more at a time round the rows
        let mut h = vec![0u16; rows.len()];
        let mut left = total;
        while left > 0 {
            let mut gave = false;
            for (i, r) in rows.iter().enumerate() {
                if left > 0 && h[i] < r.min {
                    h[i] += 1;
                    left -= 1;
                    gave = true;
                }
            }
            if !gave {
                break;
            }
        }
        return h;
    }
    let mut h: Vec<u16> = rows.iter().map(|r| r.min).collect();
    let mut left = total - mins as u16;
    for phase in [0, 1] {
        while left > 0 {
            let mut gave = false;
            for (i, r) in rows.iter().enumerate() {
                let upto = if phase == 0 { r.first } else { r.want };
                if left > 0 && h[i] < upto {
                    h[i] += 1;
                    left -= 1;
                    gave = true;
                }
            }
            if !gave {
                break;
            }
        }
    }
    if let Some(last) = h.last_mut() {
        *last += left;
    }
    h
}

/// The panels at their places, given in [`PanelId::ALL`]'s order (the focus order).
fn in_order(rects: [Rect; 10]) -> Vec<(PanelId, Rect)> {
    PanelId::ALL.into_iter().zip(rects).collect()
}

fn split(area: Rect, hs: &[u16]) -> Vec<Rect> {
    Layout::vertical(hs.iter().map(|h| Constraint::Length(*h))).split(area).to_vec()
}

/// Grid of panels for a given body size. Returns the panels that are shown and where.
pub fn layout(area: Rect, zoom: Option<PanelId>, wants: &Wants) -> Vec<(PanelId, Rect)> {
    use PanelId::*;
    if let Some(p) = zoom {
        return vec![(p, area)];
    }
    let (w, h) = (area.width, area.height);
    // the timeline grows with events up to a third of the screen; past that it scrolls. Its events
    // are what changed: a fifth of the screen goes to them with the other rows' first lines
    let timeline = |min: u16| Row::new(min, wants.of(Timeline).min((h / 5).max(min)), wants.of(Timeline).min((h / 3).max(min)));
    if w >= 140 && h >= 34 {
        // Wide: three columns as in the design sketch; leases above the certificates in the middle.
        let leases_h = wants.of(Leases).clamp(3, 8);
        let mid = wants.max(&[Etcd, Ceph]).max(leases_h + wants.of(Certs));
        let top = wants.max(&[Hosts, Vip, Haproxy]).min(h / 2);
        let nodes = wants.max(&[Nodes, Platform]);
        let rows = [
            // the host plan first: every host when a third of the screen holds them
            Row::new(top.clamp(8, (h / 3).min(h - 23).max(8)), top, top),
            Row::new(8, wants.max(&[Etcd, Ceph]).max(leases_h + 3), mid),
            Row::new(8, nodes.min(12), nodes),
            timeline(7),
        ];
        let r = split(area, &heights(h, &rows));
        let cols = |r: Rect| -> [Rect; 3] {
            Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(24), Constraint::Percentage(34)]).areas(r)
        };
        let [hosts, vip, hap] = cols(r[0]);
        let [etcd, mid2, ceph] = cols(r[1]);
        let [nodes, platform] = Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)]).areas(r[2]);
        let [leases, certs] =
            Layout::vertical([Constraint::Length(leases_h.min(mid2.height.saturating_sub(3))), Constraint::Min(3)]).areas(mid2);
        in_order([hosts, vip, hap, etcd, leases, certs, ceph, nodes, platform, r[3]])
    } else if w >= 100 && h >= 30 {
        let top = wants.max(&[Hosts, Vip]).min(h / 2);
        let second = wants.max(&[Haproxy, Etcd]);
        let nodes = wants.max(&[Nodes, Platform]);
        let rows = [
            Row::new(top.clamp(8, (h / 3).min(h - 22).max(8)), top, top),
            Row::new(7, second, second),
            Row::new(6, wants.max(&[Leases, Ceph]), wants.max(&[Leases, Certs, Ceph])),
            Row::new(5, nodes.min(10), nodes),
            timeline(4),
        ];
        let r = split(area, &heights(h, &rows));
        let [hosts, vip] = Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(r[0]);
        let [hap, etcd] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(r[1]);
        let [leases, certs, ceph] =
            Layout::horizontal([Constraint::Percentage(34), Constraint::Percentage(33), Constraint::Percentage(33)]).areas(r[2]);
        let [nodes, platform] = Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)]).areas(r[3]);
        in_order([hosts, vip, hap, etcd, leases, certs, ceph, nodes, platform, r[4]])
    } else {
        // Small (80x24): a compact grid; every panel shows its summary and its worst rows; z zooms.
        let pairs = [[Hosts, Vip], [Haproxy, Etcd], [Leases, Ceph], [Nodes, Certs], [Platform, Timeline]];
        // every row its summary and its worst row first
        let rows: Vec<Row> = pairs.iter().map(|ps| Row::new(3, 4, wants.max(ps))).collect();
        let r = split(area, &heights(h, &rows));
        let mut out = Vec::with_capacity(10);
        for (i, [a, b]) in pairs.into_iter().enumerate() {
            let pct = if i == 4 { 40 } else { 50 };
            let [ra, rb] = Layout::horizontal([Constraint::Percentage(pct), Constraint::Percentage(100 - pct)]).areas(r[i]);
            out.push((a, ra));
            out.push((b, rb));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(pairs: &[(PanelId, usize)]) -> Wants {
        let mut w = Wants::default();
        for (p, n) in pairs {
            w.set(*p, *n);
        }
        w
    }

    fn height(l: &[(PanelId, Rect)], p: PanelId) -> u16 {
        l.iter().find(|(q, _)| *q == p).map(|(_, r)| r.height).unwrap()
    }

    #[test]
    fn rows_share_the_height_without_gaps_or_overlap_at_every_size() {
        let w = wants(&[(PanelId::Hosts, 12), (PanelId::Certs, 48), (PanelId::Nodes, 5008), (PanelId::Timeline, 90)]);
        for (cols, rows) in [(40, 8), (80, 22), (100, 30), (120, 38), (140, 34), (200, 58), (400, 98)] {
            let area = Rect::new(0, 1, cols, rows);
            let l = layout(area, None, &w);
            assert_eq!(l.len(), 10);
            let mut covered = vec![0u32; usize::from(cols) * usize::from(rows)];
            for (_, r) in &l {
                assert!(r.y >= area.y && r.bottom() <= area.bottom() && r.right() <= area.right(), "{cols}x{rows}: {r:?}");
                for y in r.y..r.bottom() {
                    for x in r.x..r.right() {
                        covered[usize::from(y - area.y) * usize::from(cols) + usize::from(x)] += 1;
                    }
                }
            }
            assert!(covered.iter().all(|c| *c == 1), "{cols}x{rows}: every cell in exactly one panel");
        }
    }

    #[test]
    fn space_goes_where_there_is_content_and_the_rest_to_the_timeline() {
        // 8 hosts, 45 certificates, 6 nodes, 12 workloads, no events (the demo at 200x60)
        let w = wants(&[
            (PanelId::Hosts, 12),
            (PanelId::Vip, 6),
            (PanelId::Haproxy, 10),
            (PanelId::Etcd, 7),
            (PanelId::Leases, 5),
            (PanelId::Certs, 48),
            (PanelId::Ceph, 7),
            (PanelId::Nodes, 10),
            (PanelId::Platform, 15),
            (PanelId::Timeline, 3),
        ]);
        let l = layout(Rect::new(0, 1, 200, 58), None, &w);
        assert_eq!(height(&l, PanelId::Hosts), 12, "every host shown");
        assert_eq!(height(&l, PanelId::Platform), 15, "every workload shown");
        assert!(height(&l, PanelId::Certs) >= 18, "the certificates get the room: {l:?}");
        assert_eq!(height(&l, PanelId::Timeline), 7, "an empty timeline keeps its least height");
        // with nothing more to show anywhere, the rest goes to the timeline
        let few = wants(&[(PanelId::Hosts, 6), (PanelId::Nodes, 6), (PanelId::Timeline, 3)]);
        let l = layout(Rect::new(0, 1, 200, 58), None, &few);
        assert_eq!(height(&l, PanelId::Timeline), 58 - 8 - 8 - 8);
        // at 80x24 every row keeps at least its summary and one row
        let l = layout(Rect::new(0, 1, 80, 22), None, &w);
        for (p, r) in &l {
            assert!(r.height >= 4, "{p:?}: {r:?}");
        }
    }

    #[test]
    fn a_huge_cluster_takes_the_nodes_row_but_leaves_the_timeline_room() {
        let w = wants(&[(PanelId::Hosts, 12), (PanelId::Nodes, 5010), (PanelId::Timeline, 500)]);
        let l = layout(Rect::new(0, 1, 200, 58), None, &w);
        let tl = height(&l, PanelId::Timeline);
        assert!((58 / 4..=58 / 3).contains(&tl), "{l:?}");
        assert_eq!(height(&l, PanelId::Nodes), 58 - 12 - 8 - tl, "the nodes take the rest");
    }
}
