use super::*;
use crate::model::Mode;
use crate::sim::{Fault, settled_demo};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub(super) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

pub(super) fn app_with(readonly: bool, faults: &[Fault], audit: Option<Audit>) -> App {
    let (_, model) = settled_demo(faults, 0, now(), 8, Mode::Demo);
    let mut app = App::new(
        model,
        Theme::dark(),
        vec![Theme::dark(), Theme::mono()],
        Keymap::builtin("default").unwrap(),
        WriteCap::acquire(readonly),
        audit.unwrap_or_else(Audit::discard),
        true,
    );
    app.tz = chrono::FixedOffset::east_opt(0).unwrap();
    app.refresh(now());
    app
}

pub(super) fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub(super) fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// An audit log in a fresh directory (removed when the returned guard is dropped).
fn temp_audit() -> (tempfile::TempDir, std::path::PathBuf, Audit) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = Audit::open(&path, "test");
    (dir, path, log)
}

/// The audit log's records, once the writer wrote everything queued.
fn audit_events(app: &App, path: &std::path::Path) -> Vec<serde_json::Value> {
    app.audit_log().sync();
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The commands as the backend's router passes them on: each recorded one once its record is written.
pub(super) fn recorded(cmds: Vec<Command>) -> Vec<Command> {
    cmds.into_iter()
        .map(|c| match c {
            Command::AfterRecord { recorded, then } => {
                crate::ops::audit::wait_recorded(recorded).expect("the record is written");
                *then
            }
            c => c,
        })
        .collect()
}

#[test]
fn focus_zoom_filter_and_help() {
    let mut app = app_with(false, &[], None);
    assert_eq!(app.view.focus, PanelId::Hosts);
    app.on_key(code(KeyCode::Tab));
    assert_eq!(app.view.focus, PanelId::Vip);
    app.on_key(code(KeyCode::BackTab));
    assert_eq!(app.view.focus, PanelId::Hosts);
    app.on_key(key('z'));
    assert_eq!(app.view.zoom, Some(PanelId::Hosts));
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.view.zoom, None);
    app.on_key(key('/'));
    assert!(app.view.filter_editing);
    for c in "work".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    assert!(!app.view.filter_editing);
    assert_eq!(app.view.filter(PanelId::Hosts), "work");
    assert_eq!(crate::model::rows::row_count(&app.model, PanelId::Hosts, "work"), 3);
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.view.filter(PanelId::Hosts), "", "Esc clears the filter first");
    app.on_key(key('?'));
    assert!(matches!(app.view.dialog, Dialog::Help { .. }));
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.view.dialog, Dialog::None);
    app.on_key(key('q'));
    assert!(app.quit);
}

#[test]
fn cordon_is_planned_confirmed_executed_and_audited() {
    let (_dir, path, log) = temp_audit();
    let mut app = app_with(false, &[], Some(log));
    app.view.focus = PanelId::Nodes;
    // Select worker2 (nodes are master1-3, worker1-3).
    for _ in 0..4 {
        app.on_key(key('j'));
    }
    assert_eq!(app.target_node().as_deref(), Some("worker2"));
    assert!(app.on_key(key('c')).is_empty(), "planning sends nothing");
    let Dialog::Confirm(plan) = &app.view.dialog else { panic!("expected a confirmation, got {:?}", app.view.dialog) };
    assert_eq!(plan.request, OpRequest::Cordon { node: "worker2".into() });
    let cmds = recorded(app.on_key(key('y')));
    assert_eq!(cmds.len(), 1);
    let Command::Execute { id, request, .. } = &cmds[0] else { panic!() };
    assert_eq!(*request, OpRequest::Cordon { node: "worker2".into() });
    assert_eq!(app.view.dialog, Dialog::Progress);
    app.on_backend(BackendEvent::Op(OpEvent::Step { id: *id, text: "patched".into(), ok: true }));
    app.on_backend(BackendEvent::Op(OpEvent::Finished { id: *id, ok: true, summary: "worker2 cordoned".into() }));
    assert_eq!(app.op.as_ref().unwrap().result, Some((true, "worker2 cordoned".into())));
    let ev: Vec<String> = audit_events(&app, &path).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(ev, ["op_planned", "op_confirmed", "op_step", "op_finished"]);
}

#[test]
fn cancel_is_audited_and_blocked_plans_cannot_be_confirmed() {
    let (_dir, path, log) = temp_audit();
    let mut app = app_with(false, &[], Some(log));
    app.on_key(key('n')); // noout: plan to set it
    assert!(matches!(app.view.dialog, Dialog::Confirm(_)));
    app.on_key(key('n')); // inside the dialog, n = no
    assert_eq!(app.view.dialog, Dialog::None);
    // VIP failover to the holder itself is refused: select slb1 in the VIP panel.
    app.view.focus = PanelId::Vip;
    app.propose(OpRequest::VipFailover { to: "slb1".into(), mode: FailoverMode::Graceful });
    // the refusal and its reason come first, above what it would have done, at every size
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = crate::ui::render_text(&mut app, w, h, now());
        let at = |s: &str| screen.find(s).unwrap_or_else(|| panic!("{s} at {w}x{h}:\n{screen}"));
        assert!(at("REFUSED:") < at("slb1 already holds the VIP") && at("slb1 already holds the VIP") < at("It would have:"));
    }
    let cmds = recorded(app.on_key(key('y')));
    assert!(cmds.is_empty(), "a refused plan cannot be confirmed");
    let events = audit_events(&app, &path);
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["op_planned", "op_cancelled", "op_planned"]);
    assert_eq!(events[2]["blockers"][0], "slb1 already holds the VIP");
}

#[test]
fn read_only_refuses_every_operation_key_and_logs_it() {
    let (_dir, path, log) = temp_audit();
    let mut app = app_with(true, &[], Some(log));
    assert!(app.readonly());
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    // each refusal names what was asked, on what
    let said = [
        ('c', "read-only: Cordon worker2 refused"),
        ('u', "read-only: Uncordon worker2 refused"),
        ('f', "read-only: Graceful VIP failover to slb2 refused"),
        ('r', "read-only: Renew certificates on master1, master2, master3 refused"),
        ('n', "read-only: Set Ceph noout refused"),
    ];
    for (c, says) in said {
        let cmds = app.on_key(key(c));
        assert!(cmds.is_empty());
        assert_eq!(app.view.dialog, Dialog::None, "no dialog for {c}");
        let (_, text, _) = app.notice.clone().unwrap();
        assert!(text.starts_with(says), "{c}: {text}");
    }
    // the fault menu of the demo changes the simulated cluster: refused too
    app.on_key(key('x'));
    assert!(app.on_key(key('4')).is_empty(), "no fault injected read-only");
    assert!(app.notice.clone().unwrap().1.starts_with("read-only: fault "), "{:?}", app.notice);
    // Even a plan pushed past the key handling cannot execute without the capability.
    app.propose(OpRequest::Cordon { node: "worker1".into() });
    assert_eq!(app.view.dialog, Dialog::None);
    let (_, text, _) = app.notice.clone().unwrap();
    assert!(text.starts_with("read-only:"), "{text}");
    // The drain's plan and dry run stay open to an auditor (reads only); confirming it is refused.
    let cmds = app.on_key(key('d'));
    assert!(matches!(cmds.as_slice(), [Command::DryRun { .. }]), "{cmds:?}");
    assert!(matches!(app.view.dialog, Dialog::Confirm(_)));
    let Command::DryRun { id, .. } = &cmds[0] else { unreachable!() };
    app.on_backend(BackendEvent::DryRun {
        id: *id,
        result: Ok(crate::ops::DryRun { lines: vec!["evict    a/b".into()], refused: vec![], moves: 1, skipped: 0 }),
    });
    assert!(app.on_key(key('y')).is_empty(), "nothing is executed");
    let events = audit_events(&app, &path);
    let refused: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "op_refused").collect();
    assert_eq!(refused.len(), 8, "{events:?}");
    assert!(refused.iter().all(|e| e["reason"] == "read-only mode"));
    assert!(!events.iter().any(|e| e["event"] == "op_confirmed"));
}

#[test]
fn failover_offers_emergency_and_targets_the_backup() {
    let mut app = app_with(false, &[], None);
    assert_eq!(app.failover_target().as_deref(), Some("slb2"));
    app.on_key(key('f'));
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert_eq!(p.request, OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful });
    app.on_key(key('e'));
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert_eq!(p.request, OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Emergency });
}

#[test]
fn fault_menu_sends_a_fault_by_number() {
    let mut app = app_with(false, &[], None);
    app.on_key(key('x'));
    assert!(matches!(app.view.dialog, Dialog::Faults { .. }));
    let cmds = recorded(app.on_key(key('4')));
    assert!(matches!(cmds.as_slice(), [Command::Fault(Fault::OsdDown)]), "carried out once recorded: {cmds:?}");
    assert_eq!(app.view.dialog, Dialog::None);
    let mut live = app_with(false, &[], None);
    live.supports_faults = false;
    live.on_key(key('x'));
    assert_eq!(live.view.dialog, Dialog::None);
}

#[test]
fn directional_focus_follows_the_layout() {
    let mut app = app_with(false, &[], None);
    crate::ui::render_text(&mut app, 200, 60, now());
    app.on_key(KeyEvent::new(KeyCode::Right, KeyModifiers::SHIFT));
    assert_eq!(app.view.focus, PanelId::Vip);
    app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::SHIFT));
    assert_eq!(app.view.focus, PanelId::Leases);
    app.on_key(KeyEvent::new(KeyCode::Left, KeyModifiers::SHIFT));
    assert_eq!(app.view.focus, PanelId::Etcd);
}

#[test]
fn a_running_operation_can_be_cancelled_from_the_progress_dialog() {
    let (_dir, path, log) = temp_audit();
    let (mut app, id) = running_drain(log);
    assert_eq!(app.view.dialog, Dialog::Progress);
    let cmds = app.on_key(key('c'));
    assert!(matches!(cmds.as_slice(), [Command::Cancel { id: i }] if *i == id), "{cmds:?}");
    app.on_backend(BackendEvent::Op(OpEvent::Finished { id, ok: false, summary: "cancelled by the operator".into() }));
    assert!(app.on_key(key('c')).is_empty(), "nothing left to cancel");
    // a cancelled operation is not shown as failed
    let screen = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(screen.contains("CANCELLED: cancelled by the operator") && !screen.contains("FAILED"), "{screen}");
    assert!(app.model.timeline.iter().any(|e| e.severity == Severity::Warn && e.text.contains("CANCELLED")));
    let names: Vec<String> = audit_events(&app, &path).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["op_planned", "op_dry_run", "op_confirmed", "op_cancel_requested", "op_finished"]);
}

#[test]
fn a_drain_waits_for_its_dry_run_and_refused_pods_block_it_until_an_option_allows_them() {
    let (_dir, path, log) = temp_audit();
    let mut app = app_with(false, &[], Some(log));
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    let cmds = app.on_key(key('d'));
    let [Command::DryRun { id: first, request: OpRequest::Drain { node, options } }] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert_eq!(node, "worker2");
    assert!(!options.delete_emptydir_data);
    let first = *first;
    // Not confirmable while the dry run is out.
    assert!(app.on_key(key('y')).is_empty(), "confirmation waits for the dry run");
    let screen = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(screen.contains("asking the cluster what would move"), "{screen}");
    // d toggles delete_emptydir_data: a new plan and a new dry run; the old answer is ignored.
    let cmds = app.on_key(key('d'));
    let [Command::DryRun { id: second, request: OpRequest::Drain { options, .. } }] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert!(options.delete_emptydir_data && !options.force_unmanaged);
    let second = *second;
    assert_ne!(first, second);
    let refused = crate::ops::DryRun {
        lines: vec![
            "worker2: 1 pod(s) to evict, 1 blocked, 0 skipped".into(),
            "blocked  web/solo: no controller".into(),
            "evict    web/a".into(),
        ],
        refused: vec!["web/solo".into()],
        moves: 2,
        skipped: 0,
    };
    app.on_backend(BackendEvent::DryRun {
        id: first,
        result: Ok(crate::ops::DryRun { lines: vec![], refused: vec![], moves: 0, skipped: 0 }),
    });
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert_eq!(p.dry_run, Some(crate::ops::DryRunState::Pending), "a stale answer does not count");
    app.on_backend(BackendEvent::DryRun { id: second, result: Ok(refused.clone()) });
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert!(!p.allowed() && p.blockers.iter().any(|b| b.contains("web/solo")), "{:?}", p.blockers);
    assert!(app.on_key(key('y')).is_empty(), "refused pods block the drain");
    let screen = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(screen.contains("blocked  web/solo: no controller") && screen.contains("evict    web/a"), "{screen}");
    // f allows pods without a controller: the new dry run finds nothing refused, and y executes.
    let cmds = app.on_key(key('f'));
    let [Command::DryRun { id: third, request: OpRequest::Drain { options, .. } }] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert!(options.delete_emptydir_data && options.force_unmanaged);
    app.on_backend(BackendEvent::DryRun { id: *third, result: Ok(crate::ops::DryRun { refused: vec![], ..refused }) });
    let cmds = recorded(app.on_key(key('y')));
    let [Command::Execute { request: OpRequest::Drain { options, .. }, .. }] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert!(options.force_unmanaged);
    let names: Vec<String> = audit_events(&app, &path).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["op_planned", "op_planned", "op_dry_run", "op_planned", "op_dry_run", "op_confirmed"]);
}

#[test]
fn a_failed_dry_run_is_shown_and_does_not_block() {
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    let cmds = app.on_key(key('d'));
    let [Command::DryRun { id, .. }] = cmds.as_slice() else { panic!("{cmds:?}") };
    app.on_backend(BackendEvent::DryRun { id: *id, result: Err("Kubernetes unavailable: connection refused".into()) });
    let screen = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(screen.contains("dry run failed: Kubernetes unavailable"), "{screen}");
    assert!(matches!(recorded(app.on_key(key('y'))).as_slice(), [Command::Execute { .. }]));
}

#[test]
fn timeline_exports_as_text_and_json_lines() {
    let mut app = app_with(false, &[Fault::SplitBrain], None);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    app.export_dir = dir.clone();
    app.on_key(key('e'));
    let (_, text, _) = app.notice.clone().unwrap();
    assert!(text.starts_with("timeline exported: timeline-") && text.contains(".txt and .jsonl, in "), "the file's name first: {text}");
    let txt = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "txt")).unwrap();
    let body = std::fs::read_to_string(&txt).unwrap();
    // the fault was asked for at start: what follows from it is planned
    assert!(body.contains("keepalived slb2 BACKUP -> MASTER (fault split-brain, planned)"), "{body}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(txt.with_extension("jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), app.model.timeline.len());
    assert!(lines.iter().any(|l| l["severity"] == "info" && l["panel"] == "vip" && l["text"].as_str().unwrap().ends_with("planned)")));
}

#[test]
fn log_viewer_filters_pauses_and_saves() {
    let mut app = app_with(false, &[], None);
    let tmp = tempfile::tempdir().unwrap();
    app.export_dir = tmp.path().to_path_buf();
    let mk = |s: i64, src: &str, text: &str| crate::logs::LogLine {
        at: now() + chrono::Duration::seconds(s),
        source: std::sync::Arc::from(src),
        text: text.into(),
    };
    app.on_backend(BackendEvent::Log(mk(1, "journal slb1 keepalived", "(VI_1) Entering BACKUP STATE")));
    app.on_backend(BackendEvent::Log(mk(0, "journal slb2 keepalived", "(VI_1) Entering MASTER STATE")));
    app.on_backend(BackendEvent::Log(mk(2, "journal slb1 haproxy", "Server kube-apiserver/master1 is DOWN")));
    app.on_key(key('l'));
    assert_eq!(app.view.dialog, Dialog::Logs);
    let text = crate::ui::render_text(&mut app, 120, 30, now());
    let slb2 = text.find("Entering MASTER").unwrap();
    let slb1 = text.find("Entering BACKUP").unwrap();
    assert!(slb2 < slb1, "merged on one time axis, oldest first:\n{text}");
    for c in "/keepalived".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    let text = crate::ui::render_text(&mut app, 120, 30, now());
    assert!(!text.contains("is DOWN"), "{text}");
    assert!(text.contains("2 match"), "{text}");
    app.on_key(key(' '));
    app.on_backend(BackendEvent::Log(mk(3, "journal slb1 keepalived", "(VI_1) Entering MASTER STATE again")));
    let text = crate::ui::render_text(&mut app, 120, 30, now());
    assert!(text.contains("PAUSED") && !text.contains("again"), "paused view does not move:\n{text}");
    app.on_key(key(' '));
    let text = crate::ui::render_text(&mut app, 120, 30, now());
    assert!(text.contains("again"), "{text}");
    app.on_key(key('s'));
    let (_, msg, _) = app.notice.clone().unwrap();
    assert!(msg.starts_with("3 log lines saved to "), "{msg}");
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.log_view.query, "", "Esc clears the filter first");
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.view.dialog, Dialog::None);
}

#[test]
fn log_sources_are_picked_opened_reported_and_closed() {
    use crate::logs::spec::{LogRequest, LogSpec, LogState, LogStatus};
    // read-only: reading logs is not an operation
    let mut app = app_with(true, &[], None);
    // from the timeline nothing is selected to tail: `l` opens the picker (`a` in the viewer does too)
    app.view.focus = PanelId::Timeline;
    app.on_key(key('l'));
    assert!(app.log_view.picker.is_some());
    let text = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(text.contains("Log sources"), "{text}");
    let choices = app.log_choices();
    let lb = app.model.plan.lbs().next().unwrap().name.clone();
    let master = app.model.plan.masters().next().unwrap().name.clone();
    let labels: Vec<&str> = choices.iter().map(|(l, _)| l.as_str()).collect();
    for want in [format!("[ ] journal {lb} keepalived"), format!("[ ] journal {lb} haproxy"), format!("[ ] journal {master} etcd")] {
        assert!(labels.contains(&want.as_str()), "{want} in {labels:?}");
    }
    assert!(!labels.contains(&format!("[ ] journal {lb} etcd").as_str()), "units by role");
    assert!(labels.iter().any(|l| l.starts_with("[ ] deploy ") || l.starts_with("[ ] ds ")), "workloads of the model: {labels:?}");
    let pos = |app: &App, label: &str| app.log_choices().iter().position(|(l, _)| l == label).unwrap_or_else(|| panic!("{label}"));

    // open the master's etcd journal
    let target = pos(&app, &format!("[ ] journal {master} etcd"));
    for _ in 0..target {
        app.on_key(key('j'));
    }
    let cmds = app.on_key(code(KeyCode::Enter));
    let spec = LogSpec::Journal { host: master.clone(), unit: "etcd".into() };
    let id = match cmds.as_slice() {
        [Command::Logs(LogRequest::Open { id, spec: s, follow: true, .. })] if *s == spec => *id,
        other => panic!("{other:?}"),
    };
    assert!(app.open_log_source(spec.clone()).is_empty(), "opening twice is refused");
    assert_eq!(app.log_view.sources.len(), 1);

    // a typed file path on the LB
    app.log_view.picker.as_mut().unwrap().selected = pos(&app, &format!("[ ] file {lb} <path you type>"));
    app.on_key(code(KeyCode::Enter));
    for c in "haproxy.log".chars() {
        app.on_key(key(c));
    }
    let cmds = app.on_key(code(KeyCode::Enter));
    assert!(
        matches!(cmds.as_slice(), [Command::Logs(LogRequest::Open { spec: LogSpec::File { host, path }, .. })] if *host == lb && path == "/var/log/haproxy.log"),
        "{cmds:?}"
    );
    let file_id = app.log_view.sources[1].id;
    app.on_key(code(KeyCode::Esc));
    assert!(app.log_view.picker.is_none());

    // what the backend says shows in the source list and as tagged lines
    let tag: std::sync::Arc<str> = std::sync::Arc::from(spec.label());
    app.on_backend(BackendEvent::LogSource(LogStatus { id, source: tag.clone(), state: LogState::Streaming }));
    app.on_backend(BackendEvent::LogSource(LogStatus {
        id: file_id,
        source: "file x".into(),
        state: LogState::Failed("ssh lb: connect timed out after 5.0s".into()),
    }));
    app.on_backend(BackendEvent::LogSource(LogStatus { id: file_id, source: "file x".into(), state: LogState::Closed }));
    let text = crate::ui::render_text(&mut app, 160, 30, now());
    assert!(text.contains(&format!("journal {master} etcd 1 streaming")), "{text}");
    assert!(text.contains("FAILED: ssh lb: connect timed out"), "{text}");
    assert!(text.contains("!! FAILED: ssh lb: connect timed out"), "the failure is a line of the source too:\n{text}");

    // a source that cannot do all it should (a followed workload that cannot list its pods) keeps streaming
    let why = "Kubernetes: listing the pods again: HTTP 404; new pods are missed, the open streams go on";
    app.on_backend(BackendEvent::LogSource(LogStatus { id, source: tag.clone(), state: LogState::Degraded(Some(why.into())) }));
    let text = crate::ui::render_text(&mut app, 200, 30, now());
    assert!(text.contains(&format!("journal {master} etcd 1 streaming; Kubernetes: listing the pods again")), "{text}");
    assert!(text.contains(&format!("!! {}", &why[..40])), "a line of the source too:\n{text}");
    app.on_backend(BackendEvent::LogSource(LogStatus { id, source: tag.clone(), state: LogState::Degraded(None) }));
    let text = crate::ui::render_text(&mut app, 200, 30, now());
    assert!(text.contains(&format!("journal {master} etcd 1 streaming")) && !text.contains("streaming; Kubernetes"), "{text}");
    assert!(text.contains("-- working again"), "{text}");

    // removing: the running source is closed, the failed one only leaves the list
    app.on_key(key('a'));
    let cmds = app.on_key(code(KeyCode::Enter));
    assert_eq!(cmds.len(), 1);
    assert!(matches!(&cmds[0], Command::Logs(LogRequest::Close { id: i }) if *i == id), "{cmds:?}");
    let cmds = app.on_key(code(KeyCode::Enter));
    assert!(cmds.is_empty(), "a closed source needs no close: {cmds:?}");
    assert!(app.log_view.sources.is_empty());
}

#[test]
fn nodes_show_used_beside_requested_when_metrics_server_reports_it() {
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Nodes;
    app.view.zoom = Some(PanelId::Nodes);
    let screen = crate::ui::render_text(&mut app, 160, 40, now());
    assert!(screen.contains("CPU req  MEM req") && !screen.contains("req/use"), "without metrics: requests only\n{screen}");
    let nodes = app.model.nodes.data.as_mut().unwrap();
    let w = nodes.iter_mut().find(|n| n.name == "worker1").unwrap();
    let (req_cpu, req_mem) = (w.cpu_req_pct(), w.mem_req_pct());
    w.cpu_used_m = Some(w.cpu_allocatable_m / 8);
    w.mem_used = Some(w.mem_allocatable / 2);
    app.model.revision += 1;
    let screen = crate::ui::render_text(&mut app, 160, 40, now());
    assert!(screen.contains("CPU req/use MEM req/use"), "{screen}");
    let row = screen.lines().find(|l| l.contains("worker1")).unwrap();
    assert!(row.contains(&format!("{req_cpu}%/12%")) && row.contains(&format!("{req_mem}%/50%")), "{row}");
    let other = screen.lines().find(|l| l.contains("worker2")).unwrap();
    assert!(other.contains("%/-"), "a node metrics-server has no figures for: {other}");
}

#[test]
fn ceph_panel_says_whether_rook_agrees_and_when_it_stands_in_for_the_cli() {
    use crate::model::{CephHealth, Observation, Payload};
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Ceph;
    app.view.zoom = Some(PanelId::Ceph);
    let cli = app.model.ceph.data.clone().expect("the demo's Ceph");
    assert_eq!(cli.health, CephHealth::Ok);
    let rook = |health| Observation {
        at: now() - chrono::Duration::seconds(40),
        source: "kube rook".into(),
        budget_ms: 120_000,
        payload: Payload::RookCeph(Ok(crate::model::CephView { health, ..cli.clone() })),
    };
    app.model.apply(rook(CephHealth::Ok));
    let screen = crate::ui::render_text(&mut app, 160, 40, now());
    assert!(screen.contains("Rook: HEALTH_OK, checked 40s ago") && !screen.contains("differs"), "{screen}");
    app.model.apply(rook(CephHealth::Warn));
    let screen = crate::ui::render_text(&mut app, 160, 40, now());
    assert!(screen.contains("Rook: HEALTH_WARN, checked 40s ago (differs)"), "{screen}");
    // the CLI fails; Rook reports after its last answer: Rook's view is shown, and why
    let last_cli = app.model.ceph.updated.unwrap();
    app.model.apply(Observation {
        at: last_cli + chrono::Duration::seconds(1),
        source: app.model.ceph.source.clone(),
        budget_ms: 5000,
        payload: Payload::Ceph(Err("no answer from the monitors within 5s".into())),
    });
    app.model.apply(Observation { at: last_cli + chrono::Duration::seconds(2), ..rook(CephHealth::Warn) });
    let screen = crate::ui::render_text(&mut app, 160, 40, now());
    assert!(screen.contains("ceph CLI failing: no answer from the monitors within 5s; showing Rook's view"), "{screen}");
    assert!(screen.contains("HEALTH_WARN"), "{screen}");
}

#[test]
fn a_vip_failover_runs_to_its_end_and_says_so_when_cancel_is_pressed() {
    let (_dir, path, log) = temp_audit();
    let mut app = app_with(false, &[], Some(log));
    app.view.focus = PanelId::Vip;
    let cmds = app.on_key(key('f'));
    assert!(cmds.is_empty(), "a confirmation first: {cmds:?}");
    let cmds = recorded(app.on_key(key('y')));
    let [Command::Execute { id, request: crate::ops::OpRequest::VipFailover { .. }, .. }] = cmds.as_slice() else { panic!("{cmds:?}") };
    let id = *id;
    // what the failover causes is planned: a window over the VIP and haproxy panels, open until its end
    let w = app.model.planned.iter().find(|w| w.key == format!("op {id}")).expect("a planned window");
    assert_eq!((w.label.as_str(), w.until), ("failover", None));
    assert!(w.panels.contains(&PanelId::Vip));
    assert_eq!(app.model.planned_for(PanelId::Vip, chrono::Utc::now(), "", false), Some("failover"));
    let screen = crate::ui::render_text(&mut app, 160, 40, now());
    assert!(screen.contains("runs to its end, then reports") && !screen.contains("c cancel"), "{screen}");
    assert!(app.on_key(key('c')).is_empty(), "no Cancel is sent for a VIP failover");
    let told = app.notice.as_ref().map(|(_, t, _)| t.clone()).unwrap_or_default();
    assert!(told.starts_with("Graceful VIP failover to slb2 cannot be cancelled: a VIP half moved"), "the operator is told why: {told}");
    app.on_backend(BackendEvent::Op(OpEvent::Finished { id, ok: true, summary: "VIP on slb2 after 3.1 s".into() }));
    let until = app.model.planned.iter().find(|w| w.key == format!("op {id}")).and_then(|w| w.until).expect("closed at its end");
    assert!(until > chrono::Utc::now(), "it still covers the moments right after the end (preemption back)");
    let events = audit_events(&app, &path);
    let declined = events.iter().find(|e| e["event"] == "op_cancel_declined").expect("the declined cancel is audited");
    assert_eq!(declined["op_id"], id);
    assert!(declined["reason"].as_str().unwrap().contains("VIP half moved"), "{declined}");
    assert!(!events.iter().any(|e| e["event"] == "op_cancel_requested"));
}

#[test]
fn an_audit_log_that_cannot_be_written_refuses_every_operation() {
    // /dev/full: the file opens, every write fails with ENOSPC
    let mut app = app_with(false, &[], Some(Audit::open(std::path::Path::new("/dev/full"), "test")));
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    // the first record fails in the writer: confirmed, but never passed on
    app.on_key(key('c'));
    let cmds = app.on_key(key('y'));
    let Ok::<[Command; 1], _>([Command::AfterRecord { recorded, then }]) = cmds.try_into() else { panic!("one recorded command") };
    let r = crate::ops::audit::wait_recorded(recorded);
    assert!(r.as_ref().is_err_and(|e| e.contains("No space left")), "{r:?}");
    // the router refuses it, as it does every command whose record could not be written
    for ev in crate::backend::route::unavailable(*then, "its audit record could not be written") {
        app.on_backend(ev);
    }
    // from then on the screen says so, and new operations are refused before planning
    app.refresh(now());
    let told = app.notice.as_ref().map(|(_, t, _)| t.clone()).unwrap_or_default();
    assert!(told.contains("AUDIT LOG WRITE FAILED") && told.contains("refused"), "{told}");
    app.view.dialog = Dialog::None;
    assert!(app.on_key(key('c')).is_empty());
    assert!(!matches!(app.view.dialog, Dialog::Confirm(_)), "no confirmation opens");
    let told = app.notice.as_ref().map(|(_, t, _)| t.clone()).unwrap_or_default();
    assert!(told.contains("refused, the audit log cannot be written"), "{told}");
    // the header says it for as long as it lasts, whatever the footer shows meanwhile
    app.notice = None;
    let screen = crate::ui::render_text(&mut app, 160, 40, now());
    assert!(screen.lines().next().unwrap_or("").contains("AUDIT LOG FAILING: OPERATIONS REFUSED"), "{screen}");
    // and a fault is not injected unrecorded either
    assert!(app.act(Action::Faults).is_empty());
    assert!(app.on_key(key('4')).is_empty(), "no fault command without its record");
    assert!(app.notice.as_ref().is_some_and(|n| n.1.contains("refused, the audit log cannot be written")), "{:?}", app.notice);
}

/// The keymap `default` with a user's `keymaps/default.toml` of `text` over it.
fn user_keymap(name: &str, text: &str) -> Keymap {
    let dir = std::env::temp_dir().join(format!("kockpit-app-keymap-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("keymaps")).unwrap();
    std::fs::write(dir.join("keymaps").join("default.toml"), text).unwrap();
    let km = Keymap::load("default", Some(&dir)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    km
}

#[test]
fn a_rebound_confirm_yes_confirms_and_y_no_longer_does() {
    let mut app = app_with(false, &[], None);
    app.keymap = user_keymap(
        "yes",
        "[[bindings]]\nlayer = \"confirm\"\nkeys = [\"ctrl-y\"]\naction = \"confirm_yes\"\ndesc = \"Go ahead, really\"\n",
    );
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    app.on_key(key('c'));
    assert!(matches!(app.view.dialog, Dialog::Confirm(_)));
    assert_eq!(app.key_layer(), Layer::Confirm);
    let screen = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(screen.contains(" ctrl-y confirm   n/esc cancel"), "the hint shows the key bound now:\n{screen}");
    for c in ['y', 'Y'] {
        assert!(app.on_key(key(c)).is_empty(), "{c} no longer confirms");
        assert!(matches!(app.view.dialog, Dialog::Confirm(_)), "{c} does not cancel either");
    }
    let cmds = recorded(app.on_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::CONTROL)));
    assert!(matches!(cmds.as_slice(), [Command::Execute { request: OpRequest::Cordon { node }, .. }] if node == "worker2"), "{cmds:?}");

    // Help lists every layer with the keys bound now.
    app.view.dialog = Dialog::Help { scroll: 0 };
    let help = crate::ui::render_text(&mut app, 200, 100, now());
    for want in [
        "Main screen (layer main)",
        "Confirmation of an operation (layer confirm)",
        "Operation in progress (layer progress)",
        "Fault injection menu (layer faults)",
        "Log viewer (layer logs)",
        "Log source picker (layer picker)",
        "Help (layer help)",
        "Go ahead, really",
        "Inject the fault of that number",
        "Cancel the running operation at its next safe point",
    ] {
        assert!(help.contains(want), "{want}:\n{help}");
    }
    let line = help.lines().find(|l| l.contains("confirm_yes")).unwrap();
    assert!(line.contains("ctrl-y") && !line.contains(" y "), "{line}");
    assert!(help.find("layer main").unwrap() < help.find("layer confirm").unwrap(), "grouped by layer, main first");
}

#[test]
fn drain_options_toggle_through_their_bindings() {
    let mut app = app_with(false, &[], None);
    app.keymap = user_keymap(
        "drain",
        "[[bindings]]\nlayer = \"confirm\"\nkeys = [\"E\"]\naction = \"drain_toggle_emptydir\"\ndesc = \"emptyDir\"\n\n\
         [[bindings]]\nlayer = \"confirm\"\nkeys = [\"U\"]\naction = \"drain_toggle_unmanaged\"\ndesc = \"unmanaged\"\n",
    );
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    let cmds = app.on_key(key('d'));
    assert!(matches!(cmds.as_slice(), [Command::DryRun { .. }]), "{cmds:?}");
    let screen = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(screen.contains("options: E delete emptyDir data: no   U delete pods without a controller: no"), "{screen}");
    // The old keys do nothing in the dialog: no toggle, and no new drain from the main layer.
    for c in ['d', 'f'] {
        assert!(app.on_key(key(c)).is_empty(), "{c}");
    }
    let options = |app: &App| match &app.view.dialog {
        Dialog::Confirm(p) => match &p.request {
            OpRequest::Drain { options, .. } => (options.delete_emptydir_data, options.force_unmanaged),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(options(&app), (false, false));
    let cmds = app.on_key(key('E'));
    assert!(matches!(cmds.as_slice(), [Command::DryRun { request: OpRequest::Drain { .. }, .. }]), "a new plan, a new dry run: {cmds:?}");
    assert_eq!(options(&app), (true, false));
    app.on_key(key('U'));
    assert_eq!(options(&app), (true, true));
    app.on_key(key('E'));
    assert_eq!(options(&app), (false, true));
    let screen = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(screen.contains("E delete emptyDir data: no   U delete pods without a controller: yes"), "{screen}");
}

/// An app in which `action`, pressed in `layer`, has something to do.
fn app_for(km: &Keymap, layer: Layer, action: Action, export_dir: &std::path::Path) -> App {
    let mut app = app_with(false, &[], None);
    app.keymap = km.clone();
    app.export_dir = export_dir.to_path_buf();
    match layer {
        Layer::Main => {
            // Lay the panels out for directional moves; Leases has a neighbour on every side.
            crate::ui::render_text(&mut app, 200, 60, now());
            let directional = matches!(action, Action::FocusLeft | Action::FocusRight | Action::FocusUp | Action::FocusDown);
            app.view.focus = if directional { PanelId::Leases } else { PanelId::Nodes };
            app.view.selected.insert(PanelId::Nodes, 2);
            if action == Action::Cancel {
                app.view.zoom = Some(PanelId::Nodes);
            }
        }
        Layer::Confirm => {
            let request = match action {
                Action::EmergencyFailover => OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Graceful },
                Action::DrainToggleEmptyDir | Action::DrainToggleUnmanaged => {
                    OpRequest::Drain { node: "worker2".into(), options: Default::default() }
                }
                _ => OpRequest::Cordon { node: "worker2".into() },
            };
            app.propose(request);
        }
        Layer::Progress => {
            app.op = Some(OpRun {
                id: 7,
                title: "drain worker2".into(),
                runs_to_its_end: None,
                steps: vec![],
                result: None,
                cancel_requested: false,
            });
            app.view.dialog = Dialog::Progress;
        }
        Layer::Faults => app.view.dialog = Dialog::Faults { selected: 2 },
        Layer::Logs | Layer::Picker => {
            let line =
                crate::logs::LogLine { at: now(), source: std::sync::Arc::from("journal slb1 keepalived"), text: "hello ".repeat(20) };
            app.on_backend(BackendEvent::Log(line));
            app.view.dialog = Dialog::Logs;
            app.log_view.scroll_back = 2;
            app.log_view.hscroll = 20;
            if layer == Layer::Picker {
                app.log_view.picker = Some(logsrc::Picker { selected: 2, ..Default::default() });
            }
        }
        Layer::Help => app.view.dialog = Dialog::Help { scroll: 5 },
    }
    assert_eq!(app.key_layer(), layer);
    app
}

/// What a key can change, as text.
fn observable(app: &App) -> String {
    let v = &app.view;
    format!(
        "{:?}",
        (
            &v.dialog,
            v.focus,
            v.zoom,
            &v.filters,
            v.filter_editing,
            &v.selected,
            &v.command,
            &app.log_view,
            app.quit,
            app.paused,
            app.notice.as_ref().map(|n| &n.1),
            &app.theme.name
        )
    )
}

#[test]
fn every_binding_of_the_shipped_keymaps_does_something_in_its_layer() {
    let dir = std::env::temp_dir().join(format!("kockpit-every-binding-{}", std::process::id()));
    for name in Keymap::builtin_names() {
        let km = Keymap::builtin(name).unwrap();
        for &layer in Layer::ALL {
            assert!(km.layer(layer).next().is_some(), "{name} binds nothing in {}", layer.name());
            for b in km.layer(layer) {
                for k in &b.keys {
                    let what = format!("{name}: `{k}` ({}) in layer {}", b.action.name(), layer.name());
                    let mut app = app_for(&km, layer, b.action, &dir);
                    let ev = KeyEvent::new(k.code, k.mods);
                    assert_eq!(app.keymap.action(app.key_layer(), &ev), Some(b.action), "{what} is dispatched to its action");
                    let before = observable(&app);
                    let cmds = app.on_key(ev);
                    assert!(!cmds.is_empty() || observable(&app) != before, "{what} changes nothing");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dialogs_take_only_generic_keys_and_their_opener_from_main() {
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    app.on_key(key('d'));
    let Dialog::Confirm(plan) = app.view.dialog.clone() else { panic!() };
    // `c`, `u`, `r`: main-screen operations, nothing inside the confirmation.
    for c in ['c', 'u', 'r', 'x', 'l'] {
        assert!(app.on_key(key(c)).is_empty());
        assert_eq!(app.view.dialog, Dialog::Confirm(plan.clone()), "{c}");
    }
    // `q` (quit, generic) cancels the confirmation rather than quitting.
    app.on_key(key('q'));
    assert_eq!(app.view.dialog, Dialog::None);
    assert!(!app.quit);
    // The key that opened a dialog closes it: `l` the log viewer, `x` the fault menu.
    app.on_key(key('l'));
    assert_eq!(app.key_layer(), Layer::Logs);
    app.on_key(key('l'));
    assert_eq!(app.view.dialog, Dialog::None);
    app.on_key(key('x'));
    assert_eq!(app.key_layer(), Layer::Faults);
    app.on_key(key('x'));
    assert_eq!(app.view.dialog, Dialog::None);
    // Typed text is text: `q` and `s` in the log search are letters of the query.
    app.on_key(key('l'));
    let notice = app.notice.clone();
    for c in "/qs".chars() {
        app.on_key(key(c));
    }
    assert_eq!(app.log_view.query, "qs");
    assert!(!app.quit && app.notice == notice, "nothing saved, nothing quit");
}

/// A drain of worker2 confirmed and running, its progress dialog open: (app, op id).
fn running_drain(log: Audit) -> (App, u64) {
    let mut app = app_with(false, &[], Some(log));
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    let cmds = app.on_key(key('d'));
    let [Command::DryRun { id: dry, .. }] = cmds.as_slice() else { panic!("{cmds:?}") };
    app.on_backend(BackendEvent::DryRun {
        id: *dry,
        result: Ok(crate::ops::DryRun { lines: vec!["evict    a/b".into()], refused: vec![], moves: 1, skipped: 0 }),
    });
    let cmds = recorded(app.on_key(key('y')));
    let Command::Execute { id, .. } = &cmds[0] else { panic!("{cmds:?}") };
    let id = *id;
    (app, id)
}

#[test]
fn quitting_while_an_operation_runs_asks_and_then_stops_it_and_waits_for_its_end() {
    let (_dir, path, log) = temp_audit();
    let (mut app, id) = running_drain(log);
    app.view.dialog = Dialog::None;
    // q asks instead of quitting
    assert!(app.on_key(key('q')).is_empty());
    assert!(!app.quit);
    assert_eq!(app.view.dialog, Dialog::QuitWhileRunning);
    let screen = crate::ui::render_text(&mut app, 100, 30, now());
    assert!(screen.contains("Drain worker2 is running") && screen.contains("stop it at its next safe point"), "{screen}");
    // n stays, and the operation goes on untouched
    assert!(app.on_key(key('n')).is_empty());
    // q in the progress dialog asks too (it does not merely hide the dialog)
    app.view.dialog = Dialog::Progress;
    assert!(app.on_key(key('q')).is_empty());
    assert_eq!(app.view.dialog, Dialog::QuitWhileRunning);
    app.on_key(key('n'));
    assert_eq!((app.view.dialog.clone(), app.quit, app.quit_after_op), (Dialog::None, false, None));
    // q then y: cancel at the safe point, and quit only once the end arrived
    app.on_key(key('q'));
    let cmds = app.on_key(key('y'));
    assert!(matches!(cmds.as_slice(), [Command::Cancel { id: i }] if *i == id), "{cmds:?}");
    assert!(!app.quit, "not before the operation's end");
    // asking again does not quit either: it says what it waits for
    assert!(app.on_key(code(KeyCode::Esc)).is_empty() && !app.quit);
    app.view.dialog = Dialog::None;
    app.on_key(key('q'));
    assert!(!app.quit);
    assert!(app.notice.as_ref().is_some_and(|n| n.1.contains("quitting once Drain worker2 has ended")), "{:?}", app.notice);
    app.on_backend(BackendEvent::Op(OpEvent::Finished { id, ok: false, summary: "cancelled: worker2 stays cordoned".into() }));
    assert!(app.quit);
    let names: Vec<String> = audit_events(&app, &path).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["op_planned", "op_dry_run", "op_confirmed", "quit_requested", "op_cancel_requested", "op_finished"]);
}

#[test]
fn quitting_during_an_operation_that_cannot_stop_halfway_waits_for_its_end_without_cancelling() {
    let (_dir, path, log) = temp_audit();
    let mut app = app_with(false, &[], Some(log));
    app.view.focus = PanelId::Vip;
    app.on_key(key('f'));
    let cmds = recorded(app.on_key(key('y')));
    let [Command::Execute { id, .. }] = cmds.as_slice() else { panic!("{cmds:?}") };
    let id = *id;
    app.view.dialog = Dialog::None;
    app.on_key(key('q'));
    let screen = crate::ui::render_text(&mut app, 100, 30, now());
    assert!(screen.contains("cannot be stopped halfway"), "{screen}");
    assert!(app.on_key(key('y')).is_empty(), "no Cancel for a failover");
    assert!(!app.quit);
    app.on_backend(BackendEvent::Op(OpEvent::Finished { id, ok: true, summary: "VIP on slb2".into() }));
    assert!(app.quit);
    let events = audit_events(&app, &path);
    let q = events.iter().find(|e| e["event"] == "quit_requested").expect("recorded");
    assert_eq!((q["op_id"].as_u64(), q["cancel"].as_bool()), (Some(id), Some(false)));
}

#[test]
fn a_hang_up_cancels_the_running_operation_at_its_safe_point_and_quits_at_its_end() {
    let (_dir, path, log) = temp_audit();
    let (mut app, id) = running_drain(log);
    let cmds = app.hang_up("hangup");
    assert!(matches!(cmds.as_slice(), [Command::Cancel { id: i }] if *i == id), "{cmds:?}");
    assert!(!app.quit);
    app.on_backend(BackendEvent::Op(OpEvent::Finished { id, ok: false, summary: "cancelled".into() }));
    assert!(app.quit);
    let events = audit_events(&app, &path);
    let h = events.iter().find(|e| e["event"] == "session_hangup").expect("recorded");
    assert_eq!((h["reason"].as_str(), h["op_running"].as_u64()), (Some("hangup"), Some(id)));
    // with nothing running, a hang-up quits at once
    let mut idle = app_with(false, &[], None);
    assert!(idle.hang_up("terminated").is_empty());
    assert!(idle.quit);
}

#[test]
fn a_drain_ceph_refuses_says_why_in_its_confirmation() {
    // one OSD down, its PGs degraded: an OSD host may not go
    let mut app = app_with(false, &[Fault::OsdDown], None);
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    app.on_key(key('d'));
    let Dialog::Confirm(p) = &app.view.dialog else { panic!("a confirmation opens: {:?}", app.view.dialog) };
    assert!(matches!(&p.request, OpRequest::Drain { node, .. } if node == "worker2"), "{:?}", p.request);
    assert!(!p.allowed());
    let screen = crate::ui::render_text(&mut app, 160, 50, now());
    assert!(screen.contains("REFUSED:") && screen.contains("Ceph is already degraded (OSD_DOWN: 1 osds down"), "{screen}");
    assert!(!screen.contains("y confirm"), "{screen}");
    // healthy: the same worker drains (3 OSD hosts, pools of 3 copies with min_size 2)
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    app.on_key(key('d'));
    let Dialog::Confirm(p) = &app.view.dialog else { panic!("a confirmation opens") };
    assert!(p.allowed(), "{:?}", p.blockers);
}

#[test]
fn keepalived_seen_through_a_fallback_says_which() {
    let mut app = app_with(true, &[], None);
    let view = app.model.vrrp.get("slb2").and_then(|s| s.data.clone()).expect("the demo's slb2");
    let at = now();
    let source = "ssh slb2: data dump /tmp/keepalived.data (no JSON: no-json-support)".to_string();
    app.on_backend(BackendEvent::Obs(crate::model::Observation {
        at,
        source: source.clone(),
        budget_ms: 3_000,
        payload: crate::model::Payload::Vrrp { lb: "slb2".into(), result: Ok(view) },
    }));
    app.refresh(at);
    let screen = crate::ui::render_text(&mut app, 200, 60, at);
    let row = screen.lines().find(|l| l.contains("slb2") && l.contains("prio")).unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("via dump"), "{row}");
    let other = screen.lines().find(|l| l.contains("slb1") && l.contains("prio")).unwrap();
    assert!(!other.contains(" via "), "the JSON dump is the normal way, not named: {other}");
    assert_eq!(app.model.vrrp["slb2"].source, source, "status --json shows the whole source");
}

#[test]
fn paused_means_paused_nothing_ages_on_screen() {
    let mut app = app_with(false, &[], None);
    app.supports_faults = true;
    let cmds = app.on_key(key('p'));
    assert!(matches!(cmds.as_slice(), [Command::SetPaused(true)]), "{cmds:?}");
    let before = crate::ui::render_text(&mut app, 120, 40, now());
    // a minute and a half later, still paused: the same picture, no panel stale, the clock stopped
    let later = now() + chrono::Duration::seconds(90);
    let text = crate::ui::render_text(&mut app, 120, 40, later);
    assert!(!text.contains("STALE") && !text.contains("UNREACHABLE") && !text.contains("not fresh"), "{text}");
    assert_eq!(before, text, "nothing moves while paused");
    // resumed: time runs again (no observation came meanwhile, so the data is now old)
    app.on_key(key('p'));
    let text = crate::ui::render_text(&mut app, 120, 40, later);
    assert!(text.contains("STALE") || text.contains("not fresh"), "{text}");
}

#[test]
fn l_opens_the_logs_of_what_is_selected_and_never_an_empty_viewer() {
    let opened = |app: &mut App, focus: PanelId, row: usize| -> Vec<Command> {
        app.view.dialog = Dialog::None;
        app.view.focus = focus;
        app.view.selected.insert(focus, row);
        app.on_key(key('l'))
    };
    let spec_of = |cmds: &[Command]| match cmds {
        [Command::Logs(crate::logs::spec::LogRequest::Open { spec, .. })] => Some(spec.clone()),
        _ => None,
    };
    let mut app = app_with(false, &[], None);
    // the timeline has nothing to tail: the picker opens instead of an empty viewer
    let cmds = opened(&mut app, PanelId::Timeline, 0);
    assert!(cmds.is_empty() && app.view.dialog == Dialog::Logs && app.log_view.picker.is_some(), "{cmds:?}");
    app.log_view.picker = None;
    let lb = app.model.vrrp.keys().next().unwrap().clone();
    let spec = spec_of(&opened(&mut app, PanelId::Vip, 0));
    assert_eq!(spec, Some(crate::logs::spec::LogSpec::Journal { host: lb.clone(), unit: "keepalived".into() }));
    assert_eq!(app.view.dialog, Dialog::Logs);
    // an etcd member of a kubeadm cluster: its static pod
    let member = app.model.etcd.data.as_ref().unwrap().members[0].name.clone();
    let spec = spec_of(&opened(&mut app, PanelId::Etcd, 0));
    assert_eq!(
        spec,
        Some(crate::logs::spec::LogSpec::Pod {
            namespace: "kube-system".into(),
            pod: format!("etcd-{member}"),
            container: None,
            previous: false
        })
    );
    // a node: its kubelet
    let rows = crate::model::rows::node_rows(&app.model, "", 0);
    let node = app.model.nodes.data.as_ref().unwrap()[rows[0]].name.clone();
    let spec = spec_of(&opened(&mut app, PanelId::Nodes, 0));
    assert_eq!(spec, Some(crate::logs::spec::LogSpec::Journal { host: node, unit: "kubelet".into() }));
    // asked again for a source already open: nothing new, the viewer shows it
    let again = opened(&mut app, PanelId::Vip, 0);
    assert!(again.is_empty() && app.view.dialog == Dialog::Logs, "{again:?}");
}

#[test]
fn a_drills_operation_ends_on_the_timeline_under_the_drills_name() {
    let src = r#"
name = "swap"
[[steps]]
name = "fail over"
action = { do = "vip_failover", to = "vip-peer" }
"#;
    let file = crate::drill::DrillFile::parse(std::path::Path::new("swap.toml"), src).unwrap();
    let mut app = app_with(false, &[], None);
    let dir = tempfile::tempdir().unwrap();
    app.start_drill(file, dir.path().join("report.md"));
    // the drill's first steps: its operation goes out wrapped behind its audit record
    let mut id = None;
    for s in 0..5 {
        for c in app.drive_drill(now() + chrono::Duration::seconds(s)) {
            if let Command::AfterRecord { then, .. } = c
                && let Command::Execute { id: i, .. } = *then
            {
                id = Some(i);
            }
        }
    }
    let id = id.expect("the drill sent its failover");
    app.on_backend(BackendEvent::Op(crate::ops::OpEvent::Finished { id, ok: true, summary: "VIP on slb2".into() }));
    let last = app.model.timeline.newest().next().unwrap().text.clone();
    assert!(last.starts_with("drill swap: ") && last.ends_with(": VIP on slb2") && !last.starts_with(": "), "{last}");
}

#[test]
fn a_hang_up_stops_a_drill_and_undoes_what_it_broke() {
    let src = r#"
name = "held"
[[steps]]
name = "stop keepalived on the owner"
action = { do = "stop", target = "vip-owner", service = "keepalived" }
expect = [{ check = "node_cordoned", target = "first-worker", within = 60 }]
"#;
    let file = crate::drill::DrillFile::parse(std::path::Path::new("held.toml"), src).unwrap();
    let mut app = app_with(false, &[], None);
    let dir = tempfile::tempdir().unwrap();
    app.start_drill(file, dir.path().join("report.md"));
    let mut stop = None;
    for s in 0..3 {
        for c in app.drive_drill(now() + chrono::Duration::seconds(s)) {
            if let Command::AfterRecord { then, .. } = c
                && let Command::Host { id, .. } = *then
            {
                stop = Some(id);
            }
        }
    }
    let stop = stop.expect("the drill stopped keepalived");
    app.on_backend(BackendEvent::Op(crate::ops::OpEvent::Finished { id: stop, ok: true, summary: "stopped".into() }));
    // the terminal goes away mid-step: the drill is stopped, and keepalived started again
    let cmds = recorded(app.hang_up("hangup"));
    let undo = cmds.iter().find_map(|c| match c {
        Command::Host { id, action, .. } => Some((*id, action.describe())),
        _ => None,
    });
    let (undo, what) = undo.unwrap_or_else(|| panic!("an undo: {cmds:?}"));
    assert!(what.starts_with("start keepalived on "), "{what}");
    assert_eq!(app.drill_outstanding(), 1, "the undo is waited for");
    app.on_backend(BackendEvent::Op(crate::ops::OpEvent::Finished { id: undo, ok: true, summary: "started".into() }));
    assert_eq!(app.drill_outstanding(), 0);
    app.drive_drill(now() + chrono::Duration::seconds(4));
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("the report is written");
    assert!(md.contains("interrupted (hangup)"), "{md}");
}

#[test]
fn s_sorts_nodes_and_certificates_and_keeps_the_selected_item() {
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Nodes;
    let names = |app: &App| -> Vec<String> {
        let nodes = app.model.nodes.data.as_deref().unwrap();
        crate::model::rows::node_rows(&app.model, "", app.view.sort_of(PanelId::Nodes)).iter().map(|&i| nodes[i].name.clone()).collect()
    };
    // give one worker the most CPU requested and another the most pods
    {
        let nodes = app.model.nodes.data.as_mut().unwrap();
        let w2 = nodes.iter_mut().find(|n| n.name == "worker2").unwrap();
        w2.cpu_requested_m = w2.cpu_allocatable_m;
        let w3 = nodes.iter_mut().find(|n| n.name == "worker3").unwrap();
        w3.pods = 500;
        w3.ready = Some(false);
        app.model.revision += 1;
    }
    let listed = names(&app);
    app.view.selected.insert(PanelId::Nodes, listed.iter().position(|n| n == "worker3").unwrap());
    app.on_key(key('s'));
    assert_eq!(names(&app)[0], "worker2", "cpu: highest first");
    assert!(app.notice.as_ref().unwrap().1.contains("Nodes sorted by cpu (highest requests first: no metrics-server)"));
    assert_eq!(app.target_node().as_deref(), Some("worker3"), "the selection follows its node");
    let screen = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(screen.contains("Nodes ! by cpu"), "the title says the order\n{screen}");
    app.on_key(key('s'));
    app.on_key(key('s'));
    assert_eq!(names(&app)[0], "worker3", "pods: most first");
    app.on_key(key('s'));
    assert_eq!(names(&app)[0], "worker3", "status: NotReady first");
    app.on_key(key('s'));
    assert_eq!(names(&app), listed, "back to the list's own order");
    assert_eq!(app.target_node().as_deref(), Some("worker3"));

    // certificates: soonest expiry first, then by host, then by name; the summary keeps the soonest
    app.view.focus = PanelId::Certs;
    let certs = |app: &App| crate::model::rows::cert_rows(&app.model, "", now(), app.view.sort_of(PanelId::Certs));
    let by_expiry = certs(&app);
    assert!(by_expiry.windows(2).all(|w| w[0].1.days_left(now()) <= w[1].1.days_left(now())));
    app.on_key(key('s'));
    let by_host = certs(&app);
    assert!(by_host.windows(2).all(|w| w[0].0 <= w[1].0), "{:?}", by_host.iter().map(|c| &c.0).collect::<Vec<_>>());
    app.on_key(key('s'));
    let by_name = certs(&app);
    assert!(by_name.windows(2).all(|w| w[0].1.name <= w[1].1.name));
    // a panel with one order says so
    app.view.focus = PanelId::Timeline;
    app.on_key(key('s'));
    assert!(app.notice.as_ref().unwrap().1.contains("Timeline has one order"));
}

#[test]
fn enter_opens_the_detail_of_every_panels_selected_item_and_esc_goes_back() {
    let mut app = app_with(false, &[Fault::KillMaster, Fault::OsdDown], None);
    for p in PanelId::ALL {
        app.view.focus = p;
        app.view.selected.insert(p, 0);
        let Some(item) = app.selected_item() else { panic!("{p:?} has a first row in the demo") };
        app.on_key(code(KeyCode::Enter));
        assert_eq!(app.view.dialog, Dialog::Detail { item: item.clone(), scroll: 0 }, "{p:?}");
        for (w, h) in [(80, 24), (120, 40), (40, 10)] {
            let text = crate::ui::render_text(&mut app, w, h, now());
            assert!(!text.is_empty());
        }
        let text = crate::ui::render_text(&mut app, 160, 50, now());
        assert!(text.contains("Esc back") || text.contains("esc back"), "{p:?}\n{text}");
        app.on_key(key('j'));
        assert!(matches!(app.view.dialog, Dialog::Detail { scroll: 1, .. }), "j scrolls");
        app.on_key(code(KeyCode::Esc));
        assert_eq!(app.view.dialog, Dialog::None, "{p:?}: Esc goes back");
    }

    // a node: status, conditions, resources against requests, the plan next to the live host, where it came from
    app.view.focus = PanelId::Nodes;
    let rows = crate::model::rows::node_rows(&app.model, "", 0);
    let i = rows.iter().position(|&i| app.model.nodes.data.as_ref().unwrap()[i].name == "master1").unwrap();
    app.view.selected.insert(PanelId::Nodes, i);
    app.on_key(code(KeyCode::Enter));
    let text = crate::ui::render_text(&mut app, 160, 50, now());
    for want in [
        "Node master1",
        "status",
        "Ready",
        "allocatable",
        "requested",
        "not reported",
        "Plan vs live",
        "nodes from",
        "UNKNOWN: reading them from the API",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    // its labels and pods are read when it opens, once at a time, and again every 10 s while open
    let asked = app.due(now());
    let [Command::NodeDetail { id, node }] = asked.as_slice() else { panic!("{asked:?}") };
    assert_eq!(node, "master1");
    assert!(app.due(now() + chrono::Duration::seconds(5)).is_empty(), "one read in flight at a time");
    let (sim, _) = settled_demo(&[Fault::KillMaster, Fault::OsdDown], 0, now(), 8, Mode::Demo);
    let extra = sim.node_extra("master1").unwrap();
    app.on_backend(BackendEvent::NodeDetail { id: id + 100, node: "master1".into(), result: Err("late".into()) });
    assert!(app.node_extra.as_ref().unwrap().answer.is_none(), "an answer to another read is dropped");
    app.on_backend(BackendEvent::NodeDetail { id: *id, node: "master1".into(), result: Ok(extra.clone()) });
    let node = app.model.nodes.data.as_ref().unwrap().iter().find(|n| n.name == "master1").unwrap().clone();
    app.view.dialog = Dialog::Detail { item: detail::Item::Node("master1".into()), scroll: 0 };
    let text = crate::ui::render_text(&mut app, 160, 120, now() + chrono::Duration::seconds(3));
    for want in [
        "Labels (API, 3.0s ago".to_string(),
        "node-role.kubernetes.io/control-plane".into(),
        format!("Pods: {}, largest cpu request first", node.pods),
        "kube-system/kube-apiserver-master1".into(),
        "250m".into(),
        "mirror".into(),
        "DaemonSet".into(),
        format!("requests of the {} pods holding resources: cpu {}m", node.pods, node.cpu_requested_m),
    ] {
        assert!(text.contains(&want), "{want}\n{text}");
    }
    // the largest request first
    let apiserver = text.find("kube-apiserver-master1").unwrap();
    assert!(text.find("kube-scheduler-master1").unwrap() > apiserver, "{text}");
    let again = app.due(now() + chrono::Duration::seconds(11));
    let [Command::NodeDetail { id: id2, .. }] = again.as_slice() else { panic!("{again:?}") };
    assert!(*id2 != *id);
    app.on_backend(BackendEvent::NodeDetail {
        id: *id2,
        node: "master1".into(),
        result: Err("pods of master1: connection refused".into()),
    });
    let text = crate::ui::render_text(&mut app, 160, 120, now() + chrono::Duration::seconds(12));
    assert!(text.contains("FAILING: pods of master1: connection refused"), "{text}");
    // the view follows its item: the node's data gone from the model is said, not shown stale
    app.model.nodes.data.as_mut().unwrap().retain(|n| n.name != "master1");
    app.model.revision += 1;
    let text = crate::ui::render_text(&mut app, 160, 50, now());
    assert!(text.contains("master1 is not in the latest data"), "{text}");
    app.on_key(code(KeyCode::Esc));

    // an etcd member: endpoint, status, raft, alarms
    app.view.focus = PanelId::Etcd;
    app.view.selected.insert(PanelId::Etcd, 0);
    app.on_key(code(KeyCode::Enter));
    let text = crate::ui::render_text(&mut app, 160, 50, now());
    for want in ["etcd member", "endpoint", "raft", "alarms", "etcd from"] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    // l in the detail view opens the item's logs
    let cmds = app.on_key(key('l'));
    assert_eq!(app.view.dialog, Dialog::Logs);
    assert!(!cmds.is_empty(), "{cmds:?}");
}

#[test]
fn the_picker_filters_as_you_type_and_opens_what_it_shows_with_the_previous_flag() {
    use crate::logs::spec::{LogRequest, LogSpec};
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Timeline;
    app.on_key(key('l'));
    assert!(app.log_view.picker.is_some());
    let all = app.log_choices().len();
    app.on_key(key('/'));
    for c in "COREDNS".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    let shown = app.log_choices();
    assert!(!shown.is_empty() && shown.len() < all, "{shown:?}");
    assert!(shown.iter().all(|(l, _)| l.to_lowercase().contains("coredns")), "{shown:?}");
    let text = crate::ui::render_text(&mut app, 120, 40, now());
    assert!(text.contains("/COREDNS"), "the filter is on screen\n{text}");
    // previous containers on, then Enter: the row shown is opened, asking for the previous instance
    app.on_key(key('p'));
    let cmds = app.on_key(code(KeyCode::Enter));
    match cmds.as_slice() {
        [Command::Logs(LogRequest::Open { spec: LogSpec::Workload { name, previous: true, .. }, .. })] => assert_eq!(name, "coredns"),
        other => panic!("{other:?}"),
    }
    // Esc clears the filter first, then closes the picker
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.log_choices().len(), all, "every row again: {:?}", app.log_choices().iter().map(|c| &c.0).collect::<Vec<_>>());
    assert!(app.log_view.picker.is_some());
    app.on_key(code(KeyCode::Esc));
    assert!(app.log_view.picker.is_none());
}

#[test]
fn long_log_lines_wrap_or_scroll_sideways() {
    let mut app = app_with(false, &[], None);
    let long = format!("BEGIN {} END", "x".repeat(300));
    let line = crate::logs::LogLine { at: now(), source: std::sync::Arc::from("journal slb1 keepalived"), text: long };
    app.on_backend(BackendEvent::Log(line));
    app.view.dialog = Dialog::Logs;
    let text = crate::ui::render_text(&mut app, 100, 30, now());
    assert!(text.contains("BEGIN") && !text.contains("END") && text.contains("x…"), "cut, and marked cut\n{text}");
    // sideways: the start goes, the cut is marked on the left
    for _ in 0..100 {
        app.on_key(code(KeyCode::Right));
    }
    assert!(app.log_view.hscroll <= 310, "no further than the longest line: {}", app.log_view.hscroll);
    let text = crate::ui::render_text(&mut app, 100, 30, now());
    assert!(text.contains("END") && !text.contains("BEGIN") && text.contains("from column"), "{text}");
    app.on_key(code(KeyCode::Left));
    assert!(app.log_view.hscroll > 0);
    // wrapped: every character on screen, on several rows
    app.on_key(key('w'));
    assert_eq!(app.log_view.hscroll, 0);
    let text = crate::ui::render_text(&mut app, 100, 30, now());
    assert!(text.contains("BEGIN") && text.contains("END") && text.contains("wrapped"), "{text}");
    let xs: usize = text.lines().map(|l| l.matches('x').count()).sum();
    assert!(xs >= 300, "{xs} of 300 x on screen\n{text}");
    // a source longer than the tag column: wrapped, still every character of the text
    let tag = "pod kube-system/kube-controller-manager-master1/kube-controller-manager";
    let line = crate::logs::LogLine { at: now(), source: std::sync::Arc::from(tag), text: format!("START {} STOP", "q".repeat(200)) };
    app.on_backend(BackendEvent::Log(line));
    let text = crate::ui::render_text(&mut app, 100, 30, now());
    let ys: usize = text.lines().map(|l| l.matches('q').count()).sum();
    assert!(text.contains("START") && text.contains("STOP") && ys >= 200, "{ys} of 200\n{text}");
}

#[test]
fn a_detail_says_last_known_where_its_source_fails_and_unknown_where_a_member_is_down() {
    let mut app = app_with(false, &[Fault::CutSshToOwner, Fault::KillMaster], None);
    let later = now() + chrono::Duration::seconds(30);
    app.view.focus = PanelId::Vip;
    app.view.selected.insert(PanelId::Vip, 0);
    app.on_key(code(KeyCode::Enter));
    let text = crate::ui::render_text(&mut app, 160, 50, later);
    assert!(text.contains("Load balancer slb1") && text.contains("FAILING"), "{text}");
    assert!(text.contains("(last known,") && text.contains("now unknown)"), "values of a failing source are not facts\n{text}");
    app.on_key(code(KeyCode::Esc));
    // the killed master's etcd member: what it cannot say is unknown, not zero
    app.view.focus = PanelId::Etcd;
    let members = app.model.etcd.data.as_ref().unwrap().members.clone();
    let down = members.iter().position(|m| !m.reachable).expect("a member is down");
    app.view.selected.insert(PanelId::Etcd, down);
    app.on_key(code(KeyCode::Enter));
    let text = crate::ui::render_text(&mut app, 160, 50, now());
    assert!(text.contains("unknown: the member does not answer") && !text.contains("term 0"), "{text}");
    // help from here comes back here
    app.on_key(key('?'));
    assert!(matches!(app.view.dialog, Dialog::Help { .. }));
    app.on_key(code(KeyCode::Esc));
    assert!(matches!(app.view.dialog, Dialog::Detail { .. }), "{:?}", app.view.dialog);
    // a lease has no log of its own: l says so instead of opening another
    app.on_key(code(KeyCode::Esc));
    app.view.focus = PanelId::Leases;
    app.view.selected.insert(PanelId::Leases, 0);
    app.on_key(code(KeyCode::Enter));
    app.on_key(key('l'));
    assert!(matches!(app.view.dialog, Dialog::Detail { .. }));
    assert!(app.notice.as_ref().unwrap().1.contains("no log of its own"));
}

#[test]
fn a_clock_tick_draws_only_when_the_screen_would_change() {
    let mut app = app_with(false, &[], None);
    app.clock = crate::config::Clock::Minutes;
    let last = crate::ui::render_buffer(&mut app, 120, 40, now());
    assert!(!crate::ui::run::tick_changes(&mut app, Some(&last), now() + chrono::Duration::seconds(1)), "nothing moved");
    assert!(crate::ui::run::tick_changes(&mut app, Some(&last), now() + chrono::Duration::seconds(61)), "the minute moved");
    app.clock = crate::config::Clock::Seconds;
    assert!(crate::ui::run::tick_changes(&mut app, Some(&last), now() + chrono::Duration::seconds(1)), "the second moved");
    assert!(crate::ui::run::tick_changes(&mut app, None, now()), "nothing drawn yet");
}

#[test]
fn on_a_terminal_a_plan_is_confirmed_only_after_it_was_drawn_whole() {
    let mut app = app_with(false, &[], None);
    app.confirm_only_seen = true;
    app.view.focus = PanelId::Nodes;
    // `c` then `y` typed ahead of any frame: the y does nothing
    app.on_key(key('c'));
    assert!(app.on_key(key('y')).is_empty(), "not seen, not confirmed");
    assert!(matches!(app.view.dialog, Dialog::Confirm(_)));
    assert!(app.notice.as_ref().unwrap().1.contains("the plan's end was not on screen yet"));
    // drawn whole: y goes ahead
    crate::ui::render_text(&mut app, 120, 40, now());
    assert!(matches!(recorded(app.on_key(key('y'))).as_slice(), [Command::Execute { .. }]));
    // a screen too small for the whole plan says so and keeps its keys line; y waits
    app.op = None;
    app.view.dialog = Dialog::None;
    app.on_key(key('f'));
    assert!(matches!(app.view.dialog, Dialog::Confirm(_)));
    let screen = crate::ui::render_text(&mut app, 40, 10, now());
    assert!(screen.contains("lines 1-") && screen.contains("scroll") && screen.contains("confirm"), "{screen}");
    assert!(app.on_key(key('y')).is_empty());
    assert!(app.op.is_none());
    // scrolled a line at a time to its end, it has been seen: y goes ahead
    let mut last = String::new();
    for _ in 0..40 {
        app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        last = crate::ui::render_text(&mut app, 40, 10, now());
    }
    assert!(app.view.confirm_scroll > 0 && !last.contains("lines 1-"), "{last}");
    // back to the top: still seen
    app.on_key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE));
    crate::ui::render_text(&mut app, 40, 10, now());
    assert!(matches!(recorded(app.on_key(key('y'))).as_slice(), [Command::Execute { .. }]));
}

#[test]
fn a_maintenance_plan_scrolls_and_is_confirmed_at_80x24() {
    let mut app = app_with(false, &[], None);
    app.confirm_only_seen = true;
    for c in ":maintenance master1".chars() {
        app.on_key(key(c));
    }
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(matches!(&app.view.dialog, Dialog::Confirm(p) if matches!(p.request, OpRequest::Maintenance { .. })), "{:?}", app.notice);
    let screen = crate::ui::render_text(&mut app, 80, 24, now());
    assert!(screen.contains("lines 1-"), "{screen}");
    assert!(app.on_key(key('y')).is_empty(), "its end was not on screen");
    assert!(app.view.confirm_seen.is_none());
    for _ in 0..3 {
        app.on_key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
        crate::ui::render_text(&mut app, 80, 24, now());
    }
    let end = crate::ui::render_text(&mut app, 80, 24, now());
    assert!(!end.contains("lines 1-") && end.contains(" of "), "scrolled: {end}");
    // its end has been on screen: seen (the confirmation itself waits for the node drain's dry run)
    let Dialog::Confirm(p) = &app.view.dialog else { panic!("still the confirmation") };
    assert_eq!(app.view.confirm_seen.as_ref(), Some(p));
}

#[test]
fn the_compact_haproxy_panel_highlights_the_line_of_the_server_enter_opens() {
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Haproxy;
    app.view.selected.insert(PanelId::Haproxy, 4); // slb2's second server
    let screen = crate::ui::render_text(&mut app, 80, 24, now());
    let line = screen.lines().find(|l| l.contains("[master2]")).unwrap_or_else(|| panic!("{screen}"));
    assert!(line.contains("slb2:"), "{line}");
    app.on_key(code(KeyCode::Enter));
    let Dialog::Detail { item, .. } = &app.view.dialog else { panic!("{:?}", app.view.dialog) };
    assert!(format!("{item:?}").contains("master2"), "{item:?}");
}

#[test]
fn help_scrolls_to_its_last_page_and_no_further() {
    let mut app = app_with(false, &[], None);
    app.on_key(key('?'));
    for _ in 0..500 {
        app.on_key(key('j'));
    }
    let text = crate::ui::render_text(&mut app, 100, 30, now());
    let Dialog::Help { scroll: max } = app.view.dialog else { panic!("{:?}", app.view.dialog) };
    assert!(max > 0 && max < 500, "kept to the last page: {max}");
    let last_verb = crate::app::cmdline::VERBS.last().unwrap().0;
    assert!(text.contains(&format!(":{last_verb}")), "the last page ends with the last command\n{text}");
    // one key back moves back at once
    app.on_key(key('k'));
    let _ = crate::ui::render_text(&mut app, 100, 30, now());
    assert_eq!(app.view.dialog, Dialog::Help { scroll: max - 1 });
    // G goes to the end, g to the top
    app.on_key(key('g'));
    assert_eq!(app.view.dialog, Dialog::Help { scroll: 0 });
    app.on_key(key('G'));
    let _ = crate::ui::render_text(&mut app, 100, 30, now());
    assert_eq!(app.view.dialog, Dialog::Help { scroll: max });
    // a taller screen shows more: the position follows
    let _ = crate::ui::render_text(&mut app, 100, 60, now());
    let Dialog::Help { scroll } = app.view.dialog else { panic!() };
    assert!(scroll < max - 1, "{scroll}");
}

#[test]
fn logs_opened_from_a_detail_view_go_back_to_it() {
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Hosts;
    app.view.selected.insert(PanelId::Hosts, 0);
    app.on_key(code(KeyCode::Enter));
    app.on_key(key('j'));
    let detail = app.view.dialog.clone();
    assert!(matches!(detail, Dialog::Detail { scroll: 1, .. }), "{detail:?}");
    app.on_key(key('l'));
    assert_eq!(app.view.dialog, Dialog::Logs);
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.view.dialog, detail, "back where it was, at the same place");
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.view.dialog, Dialog::None);
    // opened from the main screen, the logs close to it
    app.on_key(key('l'));
    assert_eq!(app.view.dialog, Dialog::Logs);
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.view.dialog, Dialog::None);
}

#[test]
fn m_on_an_etcd_member_plans_moving_the_leadership_there_and_the_command_line_does_the_same() {
    let mut app = app_with(false, &[], None);
    // not on the etcd panel: says what to select
    app.view.focus = PanelId::Nodes;
    assert!(app.on_key(key('m')).is_empty());
    assert!(app.notice.as_ref().unwrap().1.contains("select the etcd member to lead next"), "{:?}", app.notice);
    app.view.focus = PanelId::Etcd;
    let members: Vec<String> = app.model.etcd.data.as_ref().unwrap().members.iter().map(|m| m.name.clone()).collect();
    let follower = app.model.etcd.data.as_ref().unwrap().members.iter().position(|m| !m.is_leader).unwrap();
    app.view.selected.insert(PanelId::Etcd, follower);
    app.on_key(key('m'));
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("{:?}", app.view.dialog) };
    assert_eq!(p.request, OpRequest::EtcdMoveLeader { to: members[follower].clone() });
    assert!(p.blockers.is_empty() && p.steps.iter().any(|s| s.contains("etcd MoveLeader")), "{p:?}");
    let cmds = recorded(app.on_key(key('y')));
    assert!(matches!(cmds.as_slice(), [Command::Execute { request: OpRequest::EtcdMoveLeader { .. }, .. }]), "{cmds:?}");
    // the leader itself: refused in the plan
    let mut app = app_with(false, &[], None);
    let leader = app.model.etcd.data.as_ref().unwrap().members.iter().find(|m| m.is_leader).unwrap().name.clone();
    app.run_command(&format!("move-leader {leader}")).unwrap();
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("{:?}", app.view.dialog) };
    assert_eq!(p.blockers, vec![format!("{leader} is the leader already")]);
    assert!(app.run_command("move-leader nosuch").unwrap_err().contains("etcd member"));
    // read-only: refused, named
    let mut app = app_with(true, &[], None);
    app.view.focus = PanelId::Etcd;
    app.view.selected.insert(PanelId::Etcd, follower);
    assert!(app.on_key(key('m')).is_empty());
    assert!(app.notice.as_ref().unwrap().1.contains("read-only"), "{:?}", app.notice);
}

#[test]
fn d_and_u_on_an_haproxy_row_plan_draining_and_readying_that_apiserver_on_every_lb() {
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Nodes;
    assert!(app.on_key(key('D')).is_empty());
    assert!(app.notice.as_ref().unwrap().1.contains("haproxy panel"), "{:?}", app.notice);
    app.view.focus = PanelId::Haproxy;
    app.view.selected.insert(PanelId::Haproxy, 1); // slb1's second server
    app.on_key(key('D'));
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("{:?}", app.view.dialog) };
    assert_eq!(p.request, OpRequest::HaproxyServer { server: "master2".into(), admin: crate::ops::ServerAdmin::Drain });
    assert!(p.blockers.is_empty() && p.steps.iter().any(|s| s.contains("state drain on slb1, slb2")), "{p:?}");
    let cmds = recorded(app.on_key(key('y')));
    assert!(matches!(cmds.as_slice(), [Command::Execute { request: OpRequest::HaproxyServer { .. }, .. }]), "{cmds:?}");
    // a panel too small to show its rows (a 60x15 terminal): nothing is acted on unseen
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Haproxy;
    app.view.last_layout =
        vec![(PanelId::Hosts, ratatui::layout::Rect::new(0, 1, 30, 3)), (PanelId::Haproxy, ratatui::layout::Rect::new(0, 4, 30, 3))];
    assert!(app.on_key(key('D')).is_empty());
    assert!(app.notice.as_ref().unwrap().1.contains("haproxy panel is too small to show what is selected"), "{:?}", app.notice);
    assert_eq!(app.view.dialog, Dialog::None);
    app.view.zoom = Some(PanelId::Haproxy);
    app.on_key(key('D'));
    assert!(matches!(app.view.dialog, Dialog::Confirm(_)), "zoomed, the selection is in view");
    // in service everywhere: ready has nothing to do
    let mut app = app_with(false, &[], None);
    app.run_command("haproxy-ready master2").unwrap();
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("{:?}", app.view.dialog) };
    assert!(p.blockers[0].contains("in service on every LB already"), "{p:?}");
    // with one master killed, draining one of the two left still leaves one UP: allowed (the
    // planner's own tests refuse the drain that would leave none)
    let mut app = app_with(false, &[Fault::KillMaster], None);
    let down = app.model.haproxy["slb1"].data.as_ref().unwrap().iter().filter(|b| !b.status.is_serving()).count();
    assert_eq!(down, 1, "one master down");
    let up: Vec<String> =
        app.model.haproxy["slb1"].data.as_ref().unwrap().iter().filter(|b| b.status.is_serving()).map(|b| b.server.clone()).collect();
    app.run_command(&format!("haproxy-drain {}", up[0])).unwrap();
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("{:?}", app.view.dialog) };
    assert!(p.blockers.is_empty(), "{p:?}");
    assert!(app.run_command("haproxy-drain nosuch").unwrap_err().contains("haproxy server"));
    // read-only: refused, named
    let mut app = app_with(true, &[], None);
    app.view.focus = PanelId::Haproxy;
    assert!(app.on_key(key('U')).is_empty());
    assert!(app.notice.as_ref().unwrap().1.contains("read-only"), "{:?}", app.notice);
}

#[test]
fn f_plans_a_rolling_etcd_defrag_leader_last_and_the_command_line_does_the_same() {
    let mut app = app_with(false, &[], None);
    app.on_key(key('F'));
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("{:?}", app.view.dialog) };
    assert_eq!(p.request, OpRequest::EtcdDefrag);
    let leader = app.model.etcd.data.as_ref().unwrap().leader().unwrap().name.clone();
    let last = p.steps.iter().rfind(|s| s.starts_with("defragment ")).unwrap();
    assert!(last.starts_with(&format!("defragment {leader} (the leader, last)")), "{p:?}");
    assert!(recorded(app.on_key(key('y'))).iter().any(|c| matches!(c, Command::Execute { request: OpRequest::EtcdDefrag, .. })));
    let mut app = app_with(false, &[], None);
    app.run_command("defrag").unwrap();
    assert!(matches!(&app.view.dialog, Dialog::Confirm(p) if p.request == OpRequest::EtcdDefrag));
    // S: a snapshot into a file named for the cluster and the time, here
    let mut app = app_with(false, &[], None);
    app.on_key(key('S'));
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("{:?}", app.view.dialog) };
    assert!(matches!(&p.request, OpRequest::EtcdSnapshot { to } if to.starts_with("etcd-") && to.ends_with(".db")), "{p:?}");
    assert!(p.blockers.is_empty() && p.warnings.iter().any(|w| w.contains("Secrets included")), "{p:?}");
    // A: disarm NOSPACE; in a healthy demo there is nothing to disarm
    let mut app = app_with(false, &[], None);
    app.on_key(key('A'));
    assert!(
        matches!(&app.view.dialog, Dialog::Confirm(p) if p.request == OpRequest::EtcdDisarm && p.blockers[0].contains("no NOSPACE alarm"))
    );
    let mut app = app_with(true, &[], None);
    assert!(app.on_key(key('F')).is_empty());
    assert!(app.notice.as_ref().unwrap().1.contains("read-only"), "{:?}", app.notice);
}

#[test]
fn an_esc_and_a_key_joined_into_one_alt_key_by_tmux_act_as_typed() {
    let mut app = app_with(false, &[], None);
    app.view.zoom = Some(PanelId::Nodes);
    // Esc then `:` within tmux's escape-time arrives as Alt-`:`
    app.on_key(KeyEvent::new(KeyCode::Char(':'), KeyModifiers::ALT));
    assert_eq!(app.view.zoom, None, "the Esc left the zoom");
    assert!(app.view.command.is_some(), "and `:` opened the command line");
    // typed text stays text: an Alt key in the command line does not close it
    app.on_key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT));
    assert!(app.view.command.is_some());
}

#[test]
fn typing_past_the_command_lines_limit_says_so() {
    let mut app = app_with(false, &[], None);
    app.on_key(key(':'));
    for _ in 0..300 {
        app.on_key(key('w'));
    }
    let cl = app.view.command.as_ref().unwrap();
    assert_eq!(cl.text.chars().count(), crate::app::cmdline::MAX_LEN);
    assert!(cl.error && cl.hint.as_deref().unwrap_or("").contains("at most 256 characters"), "{cl:?}");
    // the start scrolled off to the left is marked
    app.on_key(code(KeyCode::Backspace));
    let text = crate::ui::render_text(&mut app, 80, 24, now());
    assert!(text.lines().last().unwrap().starts_with(" :…w"), "{}", text.lines().last().unwrap());
}

#[test]
fn dialogs_cut_at_small_sizes_end_in_a_mark_and_the_fault_menu_scrolls_to_its_selection() {
    let mut app = app_with(false, &[], None);
    app.on_key(key('x'));
    let text = crate::ui::render_text(&mut app, 40, 10, now());
    assert!(text.contains("Inject a fault into the simulated …") || text.contains('…'), "{text}");
    assert!(text.contains("1-"), "the title says which of the faults show\n{text}");
    for _ in 0..8 {
        app.on_key(key('j'));
    }
    let text = crate::ui::render_text(&mut app, 40, 10, now());
    assert!(text.contains("heal"), "the selected last fault is in view\n{text}");
    app.on_key(code(KeyCode::Esc));
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 0);
    app.on_key(code(KeyCode::Enter));
    let text = crate::ui::render_text(&mut app, 40, 10, now());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].contains('…'), "the detail's title is cut with a mark: {}", lines[1]);
    assert!(lines.last().unwrap().contains('…'), "and its footer: {}", lines.last().unwrap());
    // what `l` says about an item without logs shows in the detail's own footer
    app.view.dialog = Dialog::None;
    app.view.focus = PanelId::Timeline;
    app.view.dialog = Dialog::Detail { item: detail::Item::Event { at: now(), text: "x".into() }, scroll: 0 };
    app.on_key(key('l'));
    let text = crate::ui::render_text(&mut app, 120, 30, chrono::Utc::now());
    assert!(text.lines().last().unwrap().contains("no log of its own"), "{text}");
}

#[test]
fn help_opens_over_a_confirmation_and_goes_back_to_it() {
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Nodes;
    app.on_key(key('c'));
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("a confirmation") };
    app.on_key(key('?'));
    assert!(matches!(app.view.dialog, Dialog::Help { .. }), "{:?}", app.view.dialog);
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert_eq!(app.view.dialog, Dialog::Confirm(p), "back to the same plan");
    assert!(matches!(recorded(app.on_key(key('y'))).as_slice(), [Command::Execute { .. }]));
}

/// The demo's app with worker2's drain planned (the confirmation checks what was on screen) and its
/// dry run answered with 60 pods to evict.
fn drain_of_sixty_pods() -> App {
    let mut app = app_with(false, &[], None);
    app.confirm_only_seen = true;
    app.view.focus = PanelId::Nodes;
    app.view.selected.insert(PanelId::Nodes, 4);
    let cmds = app.on_key(key('d'));
    let [Command::DryRun { id, .. }] = cmds.as_slice() else { panic!("{cmds:?}") };
    let mut lines = vec!["worker2: 60 pod(s) to evict, 0 blocked, 0 skipped".to_string()];
    lines.extend((0..60).map(|i| format!("evict    web/pod-{i:02}")));
    app.on_backend(BackendEvent::DryRun { id: *id, result: Ok(crate::ops::DryRun { lines, refused: vec![], moves: 60, skipped: 0 }) });
    app
}

#[test]
fn a_long_dry_run_scrolls_whole_and_the_confirmation_needs_its_counts_on_screen() {
    let mut app = drain_of_sixty_pods();
    let screen = crate::ui::render_text(&mut app, 80, 24, now());
    assert!(screen.contains("lines 1-") && screen.contains("60 pod line(s) follow"), "{screen}");
    assert!(!screen.contains("more line(s)"), "nothing is cut away: {screen}");
    // every pod line can be brought on screen
    for _ in 0..80 {
        app.on_key(code(KeyCode::Down));
        crate::ui::render_text(&mut app, 80, 24, now());
    }
    let end = crate::ui::render_text(&mut app, 80, 24, now());
    assert!(end.contains("web/pod-59") && end.contains(" of "), "{end}");
    assert!(matches!(recorded(app.on_key(key('y'))).as_slice(), [Command::Execute { .. }]));
    // the same plan at 120x60: the counts are on the first screen, the pods scroll, y goes at once
    let mut app = drain_of_sixty_pods();
    let screen = crate::ui::render_text(&mut app, 120, 60, now());
    assert!(screen.contains("60 pod(s) to evict") && screen.contains("lines 1-"), "{screen}");
    assert!(matches!(recorded(app.on_key(key('y'))).as_slice(), [Command::Execute { .. }]), "{screen}");
}

#[test]
fn help_descriptions_wrap_under_themselves_and_are_never_cut() {
    let mut app = app_with(false, &[], None);
    app.on_key(key('?'));
    // every page of the help at 80 columns, one line at a time
    let mut seen = String::new();
    for _ in 0..400 {
        seen.push_str(&crate::ui::render_text(&mut app, 80, 24, now()));
        app.on_key(key('j'));
    }
    // the dialog's inside: between its double borders
    let inside: Vec<&str> = seen
        .lines()
        .filter_map(|l| {
            let a = l.find('║')?;
            let b = l.rfind('║')?;
            (b > a).then(|| &l[a + '║'.len_utf8()..b])
        })
        .collect();
    assert!(inside.len() > 100, "{seen}");
    assert!(
        !inside.iter().any(|l| l.contains('…')),
        "{}",
        inside.iter().filter(|l| l.contains('…')).copied().collect::<Vec<_>>().join("\n")
    );
    // the longest description is there whole, word by word
    let longest = app.keymap.bindings.iter().map(|b| b.desc.clone()).max_by_key(|d| d.len()).unwrap();
    let flat: String = inside.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&longest.split_whitespace().collect::<Vec<_>>().join(" ")), "{longest}");
}
