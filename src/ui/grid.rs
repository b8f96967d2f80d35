//! Where each panel goes: the grid for the body's size.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::model::PanelId;

/// Grid of panels for a given body size. Returns the panels that are shown and where.
/// `hosts` is the number of hosts in the plan: the top row grows to show them all when it can;
/// `nodes` the number of nodes: the Nodes panel takes what it needs and the timeline the rest.
pub fn layout(area: Rect, zoom: Option<PanelId>, hosts: usize, node_count: usize) -> Vec<(PanelId, Rect)> {
    if let Some(p) = zoom {
        return vec![(p, area)];
    }
    let (w, h) = (area.width, area.height);
    // Summary + column header + borders = 4 lines around the host rows.
    let top = (hosts as u16 + 4).clamp(8, 16);
    if w >= 140 && h >= 34 {
        // Wide: three columns as in the design sketch.
        let top = top.min(h.saturating_sub(24));
        let nodes_h = (node_count as u16 + 4).min(h.saturating_sub(top + 8 + 7).max(6));
        let nodes_h = nodes_h.max(8);
        let [top, mid, nodes_row, tl] =
            Layout::vertical([Constraint::Length(top), Constraint::Length(8), Constraint::Length(nodes_h), Constraint::Min(7)]).areas(area);
        let [nodes, platform] = Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)]).areas(nodes_row);
        let [hosts, vip, hap] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(24), Constraint::Percentage(34)]).areas(top);
        let [etcd, mid2, ceph] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(24), Constraint::Percentage(34)]).areas(mid);
        let [leases, certs] = Layout::vertical([Constraint::Length(5), Constraint::Min(3)]).areas(mid2);
        vec![
            (PanelId::Hosts, hosts),
            (PanelId::Vip, vip),
            (PanelId::Haproxy, hap),
            (PanelId::Etcd, etcd),
            (PanelId::Leases, leases),
            (PanelId::Certs, certs),
            (PanelId::Ceph, ceph),
            (PanelId::Nodes, nodes),
            (PanelId::Platform, platform),
            (PanelId::Timeline, tl),
        ]
    } else if w >= 100 && h >= 30 {
        let top = top.min(h.saturating_sub(20));
        let nodes_h = (node_count as u16 + 4).min(h.saturating_sub(top + 7 + 6 + 4).max(5));
        let [r1, r2, r3, nodes_row, tl] = Layout::vertical([
            Constraint::Length(top),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(nodes_h),
            Constraint::Min(4),
        ])
        .areas(area);
        let [hosts, vip] = Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(r1);
        let [hap, etcd] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(r2);
        let [leases, certs, ceph] =
            Layout::horizontal([Constraint::Percentage(34), Constraint::Percentage(33), Constraint::Percentage(33)]).areas(r3);
        let [nodes, platform] = Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)]).areas(nodes_row);
        vec![
            (PanelId::Hosts, hosts),
            (PanelId::Vip, vip),
            (PanelId::Haproxy, hap),
            (PanelId::Etcd, etcd),
            (PanelId::Leases, leases),
            (PanelId::Certs, certs),
            (PanelId::Ceph, ceph),
            (PanelId::Nodes, nodes),
            (PanelId::Platform, platform),
            (PanelId::Timeline, tl),
        ]
    } else {
        // Small (80x24): a compact grid; every panel shows its summary and its worst rows; z zooms.
        let rows = Layout::vertical([
            Constraint::Ratio(1, 5),
            Constraint::Ratio(1, 5),
            Constraint::Ratio(1, 5),
            Constraint::Ratio(1, 5),
            Constraint::Ratio(1, 5),
        ])
        .split(area);
        let two = |r: Rect| -> [Rect; 2] { Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(r) };
        let [hosts, vip] = two(rows[0]);
        let [hap, etcd] = two(rows[1]);
        let [leases, ceph] = two(rows[2]);
        let [nodes, certs] = two(rows[3]);
        let [platform, timeline] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(rows[4]);
        vec![
            (PanelId::Hosts, hosts),
            (PanelId::Vip, vip),
            (PanelId::Haproxy, hap),
            (PanelId::Etcd, etcd),
            (PanelId::Leases, leases),
            (PanelId::Ceph, ceph),
            (PanelId::Nodes, nodes),
            (PanelId::Certs, certs),
            (PanelId::Platform, platform),
            (PanelId::Timeline, timeline),
        ]
    }
}
