//! Snapshots of the whole screen on ratatui's TestBackend: several sizes, two themes, key scenarios.
//! Each snapshot has the text and a style map (one letter per distinct style) so theme changes show.

use chrono::{DateTime, FixedOffset, Utc};
use kockpit::app::{App, Dialog};
use kockpit::model::{Mode, PanelId};
use kockpit::ops::WriteCap;
use kockpit::settings::keymap::Keymap;
use kockpit::settings::theme::Theme;
use kockpit::sim::{Fault, settled_demo};
use ratatui::buffer::Buffer;
use ratatui::style::Style;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn app(theme: &str, faults: &[Fault], readonly: bool) -> App {
    let (_, model) = settled_demo(faults, 0, now(), 12, Mode::Demo);
    let mut a = App::new(
        model,
        Theme::builtin(theme).unwrap(),
        vec![],
        Keymap::builtin("default").unwrap(),
        WriteCap::acquire(readonly),
        kockpit::ops::audit::Audit::discard(),
        true,
    );
    a.tz = FixedOffset::east_opt(0).unwrap();
    a
}

fn styled(buf: &Buffer) -> String {
    let mut legend: Vec<Style> = vec![];
    let mut map = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let st = buf[(x, y)].style();
            let i = legend.iter().position(|s| *s == st).unwrap_or_else(|| {
                legend.push(st);
                legend.len() - 1
            });
            map.push(char::from_digit(i as u32 % 36, 36).unwrap());
        }
        map.push('\n');
    }
    let mut out = kockpit::ui::buffer_to_text(buf);
    out.push_str("--- styles ---\n");
    for (i, s) in legend.iter().enumerate() {
        out.push_str(&format!("{}: {:?}\n", char::from_digit(i as u32 % 36, 36).unwrap(), s));
    }
    out.push_str(&map);
    out
}

fn snap(name: &str, a: &mut App, w: u16, h: u16) {
    let buf = kockpit::ui::render_buffer(a, w, h, now());
    insta::assert_snapshot!(name, styled(&buf));
}

#[test]
fn demo_at_three_sizes_in_two_themes() {
    for theme in ["dark", "light"] {
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            snap(&format!("demo_{theme}_{w}x{h}"), &mut app(theme, &[], false), w, h);
        }
    }
}

#[test]
fn split_brain_and_osd_down_at_120x40() {
    snap("faults_split_brain_osd_down_120x40", &mut app("dark", &[Fault::SplitBrain, Fault::OsdDown], false), 120, 40);
}

#[test]
fn vip_owner_unseen_at_120x40() {
    // kockpit's SSH to the VIP owner is cut: the panel keeps its last value, marked, and says the
    // holder is unknown, never "not held"
    snap("fault_cut_ssh_owner_120x40", &mut app("dark", &[Fault::CutSshToOwner], false), 120, 40);
}

#[test]
fn killed_master_in_mono_at_80x24() {
    snap("fault_kill_master_mono_80x24", &mut app("mono", &[Fault::KillMaster], false), 80, 24);
}

#[test]
fn zoomed_nodes_with_filter_and_help_and_confirm() {
    let mut a = app("dark", &[], false);
    a.view.focus = PanelId::Nodes;
    a.view.zoom = Some(PanelId::Nodes);
    a.view.filters.insert(PanelId::Nodes, "worker".into());
    snap("zoom_nodes_filtered_120x40", &mut a, 120, 40);

    let mut a = app("dark", &[], false);
    a.view.dialog = Dialog::Help { scroll: 0 };
    snap("help_120x40", &mut a, 120, 40);

    let mut a = app("dark", &[], false);
    a.view.focus = PanelId::Nodes;
    let cmds = a.propose(kockpit::ops::OpRequest::Drain { node: "worker2".into(), options: Default::default() });
    let [kockpit::backend::Command::DryRun { id, .. }] = cmds.as_slice() else { panic!("a drain asks for a dry run: {cmds:?}") };
    snap("confirm_drain_pending_120x40", &mut a, 120, 40);
    let lines = vec![
        "worker2: 3 pod(s) to evict, 1 blocked, 1 skipped".to_string(),
        "blocked  shop/db-0: PDB db allows no more disruptions now (2 healthy, 2 needed): retried until a replacement is Ready".into(),
        "skip     kube-system/kube-proxy-x7q2: DaemonSet pod (ignores the cordon; stays)".into(),
        "evict    shop/web-5d8f-abc12".into(),
        "evict    shop/web-5d8f-def34".into(),
        "evict    monitoring/grafana-0".into(),
    ];
    a.on_backend(kockpit::backend::BackendEvent::DryRun {
        id: *id,
        result: Ok(kockpit::ops::DryRun { lines, refused: vec![], moves: 4, skipped: 1 }),
    });
    snap("confirm_drain_120x40", &mut a, 120, 40);
}

#[test]
fn the_command_line_completes_and_says_what_is_wrong_at_every_size() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let k = |c: KeyCode| KeyEvent::new(c, KeyModifiers::NONE);
    let mut a = app("dark", &[], false);
    a.on_key(k(KeyCode::Char(':')));
    for c in "drain w".chars() {
        a.on_key(k(KeyCode::Char(c)));
    }
    a.on_key(k(KeyCode::Tab));
    snap("command_line_completion_80x24", &mut a, 80, 24);
    for c in "9".chars() {
        a.on_key(k(KeyCode::Char(c)));
    }
    a.on_key(k(KeyCode::Enter));
    snap("command_line_error_80x24", &mut a, 80, 24);
    // at 40 columns the end of the typed text and the reason's start stay visible
    let text = kockpit::ui::render_text(&mut a, 40, 10, now());
    let last = text.lines().last().unwrap_or("");
    assert!(last.contains(" worker9_") && last.contains("no node `worker9`"), "the reason is seen beside the end of the line: {text}");
    // a line longer than the screen shows its end, where the cursor is
    a.on_key(k(KeyCode::Esc));
    a.on_key(k(KeyCode::Char(':')));
    for c in "logs master1 /var/log/a-very-long-directory-name/and-a-file-name.log".chars() {
        a.on_key(k(KeyCode::Char(c)));
    }
    let text = kockpit::ui::render_text(&mut a, 40, 10, now());
    let last = text.lines().last().unwrap_or("");
    assert!(last.contains("file-name.log_"), "{text}");
}

#[test]
fn detail_views_of_a_node_a_backend_and_a_certificate() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    let mut a = app("dark", &[Fault::KillHaproxyOnOwner], false);
    a.view.focus = PanelId::Nodes;
    a.view.selected.insert(PanelId::Nodes, 3);
    a.on_key(enter);
    snap("detail_node_80x24", &mut a, 80, 24);
    // its labels and pods, once the read asked for on opening is answered
    let (sim, _) = settled_demo(&[Fault::KillHaproxyOnOwner], 0, now(), 12, Mode::Demo);
    let Dialog::Detail { item: kockpit::app::detail::Item::Node(node), .. } = a.view.dialog.clone() else { panic!("{:?}", a.view.dialog) };
    let asked = a.due(now());
    let [kockpit::backend::Command::NodeDetail { id, .. }] = asked.as_slice() else { panic!("one read asked for: {asked:?}") };
    a.on_backend(kockpit::backend::BackendEvent::NodeDetail { id: *id, node: node.clone(), result: sim.node_extra(&node) });
    a.view.dialog = Dialog::Detail { item: kockpit::app::detail::Item::Node(node), scroll: 14 };
    snap("detail_node_pods_120x40", &mut a, 120, 40);
    a.view.dialog = Dialog::None;
    a.view.focus = PanelId::Haproxy;
    a.view.selected.insert(PanelId::Haproxy, 0);
    a.on_key(enter);
    snap("detail_backend_120x40", &mut a, 120, 40);
    a.view.dialog = Dialog::None;
    a.view.focus = PanelId::Certs;
    a.view.selected.insert(PanelId::Certs, 0);
    a.on_key(enter);
    snap("detail_cert_120x40", &mut a, 120, 40);
}

#[test]
fn log_viewer_with_sources_and_the_picker() {
    use kockpit::backend::BackendEvent;
    use kockpit::logs::LogLine;
    use kockpit::logs::spec::{LogSpec, LogState, LogStatus};
    let mut a = app("dark", &[], false);
    a.view.dialog = Dialog::Logs;
    let _ = a.open_log_source(LogSpec::Journal { host: "master1".into(), unit: "etcd".into() });
    let _ = a.open_log_source(LogSpec::File { host: "slb1".into(), path: "/var/log/haproxy.log".into() });
    a.on_backend(BackendEvent::LogSource(LogStatus { id: 1, source: "journal master1 etcd".into(), state: LogState::Streaming }));
    a.on_backend(BackendEvent::LogSource(LogStatus {
        id: 2,
        source: "file slb1 /var/log/haproxy.log".into(),
        state: LogState::Failed("ssh slb1: connect timed out after 5.0s".into()),
    }));
    // the failure's own line is stamped with the wall clock: keep the snapshot free of it
    a.logs = kockpit::logs::LogBuffer::new(100);
    for (i, (src, text)) in [
        ("journal master1 etcd", "master1 etcd[812]: raft.node: 3a57 elected leader 3a57 at term 7"),
        ("pod kube-system/coredns-7f9c/coredns", "[INFO] plugin/reload: Running configuration SHA512 = 1f2c"),
        ("journal master1 etcd", "master1 etcd[812]: published local member to cluster"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = now() + chrono::Duration::milliseconds(250 * i as i64);
        a.on_backend(BackendEvent::Log(LogLine { at, source: src.into(), text: text.into() }));
    }
    a.notice = None;
    let text = kockpit::ui::render_text(&mut a, 120, 40, now());
    assert!(text.contains("sources: journal master1 etcd 1 streaming · file slb1 /var/log/haproxy.log failing"), "{text}");
    a.log_view.picker = Some(Default::default());
    snap("logs_sources_picker_120x40", &mut a, 120, 40);
}

#[test]
fn read_only_footer_and_badge() {
    let mut a = app("dark", &[], true);
    a.model.meta.mode = Mode::ReadOnly;
    let text = kockpit::ui::render_text(&mut a, 120, 40, now());
    assert!(text.lines().next().unwrap().contains("READ-ONLY"), "{text}");
    assert!(text.contains("(read-only)"));
    snap("readonly_120x40", &mut a, 120, 40);
}

#[test]
fn every_size_from_tiny_to_huge_renders_without_panic() {
    let mut a = app("dark", &[Fault::KillMaster, Fault::SplitBrain], false);
    for (w, h) in [(20, 5), (39, 9), (40, 10), (60, 15), (80, 24), (99, 29), (100, 30), (139, 33), (140, 34), (300, 100)] {
        let text = kockpit::ui::render_text(&mut a, w, h, now());
        assert_eq!(text.lines().count(), h as usize);
    }
    let text = kockpit::ui::render_text(&mut a, 39, 9, now());
    assert!(text.contains("at least 40x10"));
}

#[test]
fn a_long_header_at_80x24_is_cut_visibly_and_keeps_the_verdict() {
    let mut a = app("dark", &[Fault::KillMaster, Fault::SplitBrain, Fault::EtcdNospace, Fault::CutSshToOwner, Fault::OsdDown], true);
    a.model.meta.cluster = "production-eu-west-1-kubesphere".into();
    a.paused = true;
    let text = kockpit::ui::render_text(&mut a, 80, 24, now());
    let head = text.lines().next().unwrap();
    assert!(head.contains(" CRITICAL: etcd alarm") && head.contains('…'), "the verdict and the start of why: {head}");
    assert!(head.ends_with(" 08:00:00") && head.contains("READ-ONLY"), "the clock keeps its place: {head}");
    assert!(head.chars().count() <= 80, "{head}");
    snap("long_header_80x24", &mut a, 80, 24);
    // the same at 120 columns has room for all of it
    let text = kockpit::ui::render_text(&mut a, 120, 40, now());
    let head = text.lines().next().unwrap();
    assert!(head.contains("CRITICAL: etcd alarm NOSPACE on master1 (+") && head.contains("production-eu-west"), "{head}");
}

#[test]
fn zoomed_vip_and_haproxy_show_the_configuration_at_three_sizes() {
    for p in [PanelId::Vip, PanelId::Haproxy] {
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            let mut a = app("dark", &[], false);
            a.view.focus = p;
            a.view.zoom = Some(p);
            let text = kockpit::ui::render_text(&mut a, w, h, now());
            assert!(text.contains("/etc/keepalived/keepalived.conf") || text.contains("/etc/haproxy/haproxy.cfg"), "{text}");
            snap(&format!("zoom_{}_config_{w}x{h}", if p == PanelId::Vip { "vip" } else { "haproxy" }), &mut a, w, h);
        }
    }
    // an LB kockpit cannot reach: its configuration was not read, and the panel says why
    let mut a = app("dark", &[Fault::CutSshToOwner], false);
    a.view.focus = PanelId::Vip;
    a.view.zoom = Some(PanelId::Vip);
    // slb2's configuration could not be read at all: the reason, never a blank
    a.model.ha_config.remove("slb2");
    a.model.apply(kockpit::model::Observation {
        at: now(),
        source: "ssh slb2".into(),
        budget_ms: 180_000,
        payload: kockpit::model::Payload::HaConfig { host: "slb2".into(), result: Err("HA configuration: sh: permission denied".into()) },
    });
    let text = kockpit::ui::render_text(&mut a, 120, 40, now());
    // the last configuration read stays, marked, with why it is not current
    assert!(text.contains("read 12s ago (now failing: probe timed out"), "{text}");
    assert!(text.contains("slb2 keepalived config: NOT READ: HA configuration: sh: permission denied"), "{text}");
    snap("zoom_vip_config_unread_120x40", &mut a, 120, 40);
}

/// Every place a long name is shown either shows it whole or marks the cut with `…`: at no size is a
/// name silently shortened into another plausible name.
#[test]
fn long_names_are_whole_or_visibly_cut_at_every_size() {
    let mut a = app("dark", &[Fault::KillMaster], false);
    let long_ns = "a0-kubesphere-logging-system-of-the-eu-west-region";
    let long_name = "a0-fluent-bit-operator-with-a-very-long-deployment-name";
    {
        let ws = a.model.workloads.data.as_mut().unwrap();
        ws[0].namespace = long_ns.into();
        ws[0].name = long_name.into();
    }
    let mut seen = 0;
    for (w, h) in [(40, 10), (60, 15), (80, 24), (100, 30), (120, 40), (200, 60), (400, 100)] {
        let text = kockpit::ui::render_text(&mut a, w, h, now());
        for line in text.lines() {
            for name in [long_ns, long_name] {
                if line.contains(name) {
                    seen += 1;
                    continue;
                }
                // the longest start of the name on this line must be followed by the mark
                if let Some(k) = (4..name.len()).rev().find(|k| line.contains(&name[..*k])) {
                    seen += 1;
                    let at = line.find(&name[..k]).unwrap() + k;
                    assert!(line[at..].starts_with('…'), "{w}x{h}: {name} cut without a mark in\n{line}");
                }
            }
        }
    }
    assert!(seen >= 6, "the names are on screen at most sizes ({seen})");
}

#[test]
fn a_large_clusters_first_list_of_pods_says_how_far_it_is() {
    use kockpit::model::{Loading, Observation, Payload};
    let mut a = app("dark", &[], false);
    let nodes = a.model.nodes.data.clone();
    a.model.nodes = Default::default();
    let obs = |payload| Observation { at: now(), source: "kube".into(), budget_ms: 5_000, payload };
    assert!(a.model.apply(obs(Payload::KubeLoading(Loading { what: "pods".into(), done: 62_000, total: Some(150_000) }))));
    let text = kockpit::ui::buffer_to_text(&kockpit::ui::render_buffer(&mut a, 120, 40, now()));
    let header = text.lines().next().unwrap_or("");
    assert!(header.contains("loading 62,000/150,000 pods"), "the header says how far: {header}");
    assert!(text.lines().skip(1).any(|l| l.contains("loading 62,000/150,000 pods…")), "and the Nodes panel:\n{text}");
    // the first picture of the nodes ends it; a late progress report does not bring it back
    assert!(a.model.apply(obs(Payload::Nodes(Ok(nodes.unwrap_or_default())))));
    a.model.apply(obs(Payload::KubeLoading(Loading { what: "pods".into(), done: 149_000, total: None })));
    let text = kockpit::ui::buffer_to_text(&kockpit::ui::render_buffer(&mut a, 120, 40, now()));
    assert!(!text.contains("loading"), "{text}");
    // without a total
    assert_eq!(Loading { what: "pods".into(), done: 1_234_567, total: None }.text(), "loading 1,234,567 pods");
    assert_eq!(Loading { what: "pods".into(), done: 999, total: Some(5) }.text(), "loading 999/999 pods", "never more done than there are");
}

#[test]
fn a_panel_whose_source_failed_before_answering_says_unknown_and_why() {
    use kockpit::model::source::{SourceError, Sourced};
    let mut a = app("dark", &[], false);
    let at = now() - chrono::Duration::seconds(3);
    a.model.leases = Sourced { error: Some(SourceError { at, reason: "apiserver said 503".into(), last: at }), ..Sourced::default() };
    a.model.plan.ceph = None;
    a.model.ceph = Sourced::default();
    a.model.rook = Sourced::default();
    a.model.meta.context = String::new();
    let text = kockpit::ui::buffer_to_text(&kockpit::ui::render_buffer(&mut a, 160, 48, now()));
    assert!(text.contains("unknown: apiserver said 503"), "{text}");
    assert!(!text.contains("ctx:"), "no kubeconfig context, no empty `ctx:`: {text}");
    assert!(text.contains("Ceph not watched: no [ceph] in the host plan"), "{text}");
    // hosts that cannot be seen are not "as planned", and one never heard from is not "reachable"
    let names: Vec<String> = a.model.hosts.keys().cloned().collect();
    for (i, h) in names.iter().enumerate() {
        let slot = a.model.hosts.get_mut(h).unwrap();
        if i == 0 {
            *slot = Sourced::default();
        } else {
            slot.error = Some(SourceError { at, reason: "ssh: connect: Connection refused".into(), last: at });
        }
    }
    a.model.revision += 1;
    let text = kockpit::ui::buffer_to_text(&kockpit::ui::render_buffer(&mut a, 300, 60, now()));
    let line = text.lines().find(|l| l.contains(&format!("{} hosts", names.len()))).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("unreachable: ") && line.contains(&format!("waiting: {}", names[0])), "{line}");
    assert!(!line.contains("as planned") && !line.contains("all reachable"), "{line}");
    // waiting is only said of a source that has neither answered nor failed
    a.model.leases = Sourced::default();
    let text = kockpit::ui::buffer_to_text(&kockpit::ui::render_buffer(&mut a, 160, 48, now()));
    assert!(text.contains("no data yet") && !text.contains("unknown: apiserver said 503"), "{text}");
}

#[test]
fn a_one_line_vip_panel_names_the_holder_first() {
    let mut a = app("dark", &[], false);
    let text = kockpit::ui::buffer_to_text(&kockpit::ui::render_buffer(&mut a, 40, 10, now()));
    assert!(text.contains("VIP on slb1") && !text.contains("VIP VIP"), "{text}");
    // every verdict, not only a held VIP: an unseen owner is "VIP! FAILED holder UNKNOWN", not "VIP VIP holder"
    let mut a = app("dark", &[Fault::CutSshToOwner], false);
    let text = kockpit::ui::buffer_to_text(&kockpit::ui::render_buffer(&mut a, 40, 10, now()));
    assert!(text.contains("holder") && !text.contains("VIP VIP") && !text.contains("FAILED VIP"), "{text}");
}
