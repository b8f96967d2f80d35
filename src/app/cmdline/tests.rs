use super::super::tests::{app_with, code, key, recorded};
use super::*;
use crate::ops::DrainOptions;
use crate::sim::Fault;

fn type_line(app: &mut App, text: &str) -> Vec<Command> {
    let mut out = app.on_key(key(':'));
    assert!(app.view.command.is_some(), "`:` opens the command line");
    for c in text.chars() {
        out.extend(app.on_key(key(c)));
    }
    out.extend(app.on_key(code(KeyCode::Enter)));
    out
}

fn error_of(app: &App) -> String {
    let cl = app.view.command.as_ref().expect("the command line stays open on an error");
    assert!(cl.error, "{cl:?}");
    cl.hint.clone().unwrap_or_default()
}

#[test]
fn parses_every_verb_and_says_what_is_wrong() {
    assert_eq!(parse("etcd"), Ok(Parsed::Panel(PanelId::Etcd)));
    assert_eq!(parse("  nodes  "), Ok(Parsed::Panel(PanelId::Nodes)));
    assert_eq!(parse("keepalived"), Ok(Parsed::Panel(PanelId::Vip)));
    assert_eq!(parse("dr worker2"), Ok(Parsed::Drain("worker2".into())), "an unambiguous start is the verb");
    assert_eq!(parse("q"), Ok(Parsed::Quit));
    assert_eq!(parse("failover slb2 emergency"), Ok(Parsed::Failover("slb2".into(), FailoverMode::Emergency)));
    assert_eq!(parse("renew all"), Ok(Parsed::Renew(None)));
    assert_eq!(parse("renew master1"), Ok(Parsed::Renew(Some("master1".into()))));
    assert_eq!(parse("noout off"), Ok(Parsed::Noout(false)));
    assert_eq!(parse("logs"), Ok(Parsed::LogViewer));
    assert_eq!(parse("logs m1 kubelet"), Ok(Parsed::Logs(LogSpec::Journal { host: "m1".into(), unit: "kubelet".into() })));
    assert_eq!(parse("logs m1 /var/log/messages"), Ok(Parsed::Logs(LogSpec::File { host: "m1".into(), path: "/var/log/messages".into() })));
    assert_eq!(
        parse("logs pod kube-system/etcd-m1"),
        Ok(Parsed::Logs(LogSpec::Pod { namespace: "kube-system".into(), pod: "etcd-m1".into(), container: None, previous: false }))
    );
    assert!(matches!(parse("logs ds kube-system/kube-proxy"), Ok(Parsed::Logs(LogSpec::Workload { .. }))));

    let e = parse("reboot everything").unwrap_err();
    assert!(e.starts_with("unknown command `reboot`"), "{e}");
    let e = parse("c worker1").unwrap_err();
    assert!(e.contains("could be") && e.contains("cordon") && e.contains("ceph"), "{e}");
    assert_eq!(parse("drain").unwrap_err(), "usage: drain NODE");
    assert_eq!(parse("drain a b").unwrap_err(), "usage: drain NODE");
    assert_eq!(parse("etcd now").unwrap_err(), "usage: etcd");
    assert_eq!(parse("noout maybe").unwrap_err(), "usage: noout on|off");
    assert!(parse("").is_err());
    // names that would reach a command are checked by the log spec rules
    assert!(parse("logs m1 kubelet;reboot").is_err());
    assert!(parse("logs pod ../etc").is_err());
    // a long word is clipped in the message
    let long = "x".repeat(200);
    assert!(parse(&long).unwrap_err().len() < 120);
}

#[test]
fn tab_completes_verbs_names_and_arguments() {
    let app = app_with(false, &[], None);
    let names = app.command_names();
    let none = BTreeMap::new();
    assert_eq!(complete("dra", &names, &none).0, "drain ");
    let (text, offered) = complete("drain w", &names, &none);
    assert_eq!(text, "drain worker");
    assert!(offered.len() >= 3 && offered.iter().all(|o| o.starts_with("worker")), "{offered:?}");
    assert_eq!(complete("failover slb2 ", &names, &none).0, "failover slb2 emergency ");
    let (_, offered) = complete("logs master1 ", &names, &none);
    assert!(offered.contains(&"kubelet".to_string()) && offered.contains(&"etcd".to_string()), "{offered:?}");
    let (_, offered) = complete("", &names, &none);
    assert_eq!(offered.len(), VERBS.len(), "{offered:?}");
    let (_, offered) = complete("renew ", &names, &none);
    assert!(offered.contains(&"all".to_string()) && offered.contains(&"master1".to_string()), "{offered:?}");
    // nothing fits: the line stays as it was
    assert_eq!(complete("drain zz", &names, &none), ("drain zz".to_string(), vec![]));
    assert_eq!(complete("bogus ", &names, &none), ("bogus ".to_string(), vec![]));
    // an alias completes as a verb, and its arguments as the verb's
    let aliases = BTreeMap::from([("dw".to_string(), "drain".to_string())]);
    let offered = complete("d", &names, &aliases).1;
    assert!(offered.contains(&"drain".to_string()) && offered.contains(&"dw".to_string()), "{offered:?}");
    assert!(complete("dw w", &names, &aliases).0.starts_with("dw worker"));
}

#[test]
fn a_command_typed_over_a_confirmation_replaces_it_and_its_letters_open_nothing() {
    let mut app = app_with(false, &[], None);
    type_line(&mut app, "cordon worker1");
    let Dialog::Confirm(p) = &app.view.dialog else { panic!("{:?}", app.view.dialog) };
    assert_eq!(p.request, OpRequest::Cordon { node: "worker1".into() });
    // the operator changes their mind and types the other command: `:` cancels the cordon and takes
    // the rest as a command line (`n` and `r` in it are letters, not cancel and renew)
    let cmds = type_line(&mut app, "uncordon worker1");
    let Dialog::Confirm(p) = &app.view.dialog else { panic!("{:?}", app.view.dialog) };
    assert_eq!(p.request, OpRequest::Uncordon { node: "worker1".into() });
    assert!(cmds.is_empty(), "{cmds:?}");
    // a letter the confirmation does not bind does nothing but say what it waits for
    assert!(app.on_key(key('r')).is_empty());
    let Dialog::Confirm(p) = &app.view.dialog else { panic!("{:?}", app.view.dialog) };
    assert_eq!(p.request, OpRequest::Uncordon { node: "worker1".into() });
    assert!(app.notice.as_ref().is_some_and(|(_, t, _)| t.contains("waiting for y (go ahead) or n (cancel)")), "{:?}", app.notice);
}

#[test]
fn operations_open_the_planners_confirmation_and_nothing_more() {
    let mut app = app_with(false, &[], None);
    let cmds = type_line(&mut app, "drain worker2");
    assert!(app.view.command.is_none(), "a command that ran closes the line");
    let Dialog::Confirm(p) = &app.view.dialog else { panic!("{:?}", app.view.dialog) };
    assert_eq!(p.request, OpRequest::Drain { node: "worker2".into(), options: DrainOptions::default() });
    assert!(matches!(cmds.as_slice(), [Command::DryRun { .. }]), "only the dry run is asked for: {cmds:?}");
    app.on_key(key('n'));

    let cmds = type_line(&mut app, "failover slb2 emergency");
    assert!(cmds.is_empty());
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert_eq!(p.request, OpRequest::VipFailover { to: "slb2".into(), mode: FailoverMode::Emergency });
    app.on_key(key('n'));

    type_line(&mut app, "renew master2");
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert_eq!(p.request, OpRequest::RenewCerts { masters: vec!["master2".into()] }, "one master, not all three");
    app.on_key(key('n'));

    // a name the cluster does not have: said, nothing planned, the line kept for fixing
    type_line(&mut app, "cordon worker9");
    assert_eq!(app.view.dialog, Dialog::None);
    let e = error_of(&app);
    assert!(e.starts_with("no node `worker9` (master1, master2, master3, worker1, worker2, worker3)"), "{e}");
    app.on_key(code(KeyCode::Esc));
    assert!(app.view.command.is_none());
    type_line(&mut app, "frobnicate");
    assert!(error_of(&app).contains("unknown command `frobnicate`"));
}

#[test]
fn read_only_refuses_operations_typed_as_commands() {
    let mut app = app_with(true, &[], None);
    for line in ["cordon worker1", "failover slb2", "restore slb1", "renew all", "noout on"] {
        let cmds = type_line(&mut app, line);
        assert!(cmds.is_empty(), "{line}");
        assert_eq!(app.view.dialog, Dialog::None, "{line}");
        let notice = app.notice.as_ref().map(|n| n.1.clone()).unwrap_or_default();
        assert!(notice.starts_with("read-only:"), "{line}: {notice}");
    }
    // the drain's plan and dry run stay available, as with its key
    type_line(&mut app, "drain worker1");
    assert!(matches!(app.view.dialog, Dialog::Confirm(_)));
}

#[test]
fn panels_logs_theme_and_history() {
    let mut app = app_with(false, &[], None);
    type_line(&mut app, "etcd");
    assert_eq!((app.view.focus, app.view.zoom), (PanelId::Etcd, Some(PanelId::Etcd)));
    type_line(&mut app, "theme mono");
    assert_eq!(app.theme.name, "mono");
    type_line(&mut app, "theme neon");
    assert!(error_of(&app).starts_with("no theme `neon` (dark, mono)"), "{}", error_of(&app));
    app.on_key(code(KeyCode::Esc));

    let cmds = type_line(&mut app, "logs master1 kubelet");
    assert_eq!(app.view.dialog, Dialog::Logs);
    let [Command::Logs(crate::logs::spec::LogRequest::Open { spec, .. })] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert_eq!(*spec, LogSpec::Journal { host: "master1".into(), unit: "kubelet".into() });
    app.view.dialog = Dialog::None;
    type_line(&mut app, "logs nosuchhost kubelet");
    assert!(error_of(&app).starts_with("no host `nosuchhost`"));
    app.on_key(code(KeyCode::Esc));

    // Up recalls the last commands, newest first
    app.on_key(key(':'));
    app.on_key(code(KeyCode::Up));
    assert_eq!(app.view.command.as_ref().unwrap().text, "logs nosuchhost kubelet");
    app.on_key(code(KeyCode::Up));
    assert_eq!(app.view.command.as_ref().unwrap().text, "logs master1 kubelet");
    app.on_key(code(KeyCode::Down));
    assert_eq!(app.view.command.as_ref().unwrap().text, "logs nosuchhost kubelet");
    app.on_key(code(KeyCode::Esc));

    // a paste of garbage stays bounded, and control characters are not taken
    app.on_key(key(':'));
    for _ in 0..10_000 {
        app.on_key(key('z'));
    }
    app.on_key(key('\u{7}'));
    assert_eq!(app.view.command.as_ref().unwrap().text.chars().count(), MAX_LEN);
    app.on_key(code(KeyCode::Enter));
    assert!(error_of(&app).len() < 120);
}

#[test]
fn aliases_stand_for_their_command() {
    let mut app = app_with(false, &[], None);
    app.aliases = BTreeMap::from([("dw2".to_string(), "drain worker2".to_string()), ("n".to_string(), "nodes".to_string())]);
    type_line(&mut app, "n");
    assert_eq!(app.view.zoom, Some(PanelId::Nodes));
    type_line(&mut app, "dw2");
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert_eq!(p.request.title(), "Drain worker2");
    assert!(check_aliases(&app.aliases).is_ok());
    assert!(check_aliases(&BTreeMap::from([("x".to_string(), "shutdown".to_string())])).is_err());
    assert!(check_aliases(&BTreeMap::from([("a b".to_string(), "nodes".to_string())])).is_err());
}

#[test]
fn the_old_owner_is_restored_after_an_emergency_failover_by_key_and_command() {
    // keepalived stopped on slb1: the VIP moved to slb2, slb1 is left STOPPED
    let mut app = app_with(false, &[Fault::StopKeepalivedOnOwner], None);
    app.view.focus = PanelId::Vip;
    app.view.selected.insert(PanelId::Vip, 0);
    app.on_key(key('f'));
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert!(p.blockers.iter().any(|b| b.contains("is STOPPED") && b.contains(":restore slb1")), "{:?}", p.blockers);
    app.on_key(key('n'));

    // R with nothing selected finds the one LB left behind
    app.view.focus = PanelId::Nodes;
    app.on_key(key('R'));
    let Dialog::Confirm(p) = app.view.dialog.clone() else { panic!("{:?}", app.notice) };
    assert_eq!(p.request, OpRequest::RestoreVipPriority { lb: "slb1".into() });
    assert!(p.allowed() && p.steps.iter().any(|s| s.contains("start keepalived")), "{p:?}");
    let cmds = recorded(app.on_key(key('y')));
    assert!(matches!(cmds.as_slice(), [Command::Execute { request: OpRequest::RestoreVipPriority { .. }, .. }]), "{cmds:?}");

    // on a healthy cluster nothing needs restoring: R says so, and :restore warns in its plan
    let mut app = app_with(false, &[], None);
    app.view.focus = PanelId::Nodes;
    app.on_key(key('R'));
    assert_eq!(app.view.dialog, Dialog::None);
    assert!(app.notice.as_ref().unwrap().1.contains("no load balancer looks demoted or stopped"));
    type_line(&mut app, "restore slb2");
    let Dialog::Confirm(p) = &app.view.dialog else { panic!() };
    assert!(p.warnings.iter().any(|w| w.contains("nothing seems to need restoring")), "{:?}", p.warnings);
}

#[test]
fn enter_never_confirms_an_operation_and_one_runs_at_a_time() {
    let mut app = app_with(false, &[], None);
    // Enter typed ahead after the command: the confirmation stays, nothing is executed
    let mut cmds = type_line(&mut app, "cordon worker3");
    cmds.extend(app.on_key(code(KeyCode::Enter)));
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(matches!(app.view.dialog, Dialog::Confirm(_)));
    assert!(app.notice.as_ref().unwrap().1.contains("press y to go ahead"), "{:?}", app.notice);
    // y goes ahead; while it runs, a second operation is refused and the running one shown
    let cmds = recorded(app.on_key(key('y')));
    assert!(matches!(cmds.as_slice(), [Command::Execute { .. }]), "{cmds:?}");
    app.view.dialog = Dialog::None;
    assert!(type_line(&mut app, "restore slb1").is_empty());
    assert_eq!(app.view.dialog, Dialog::Progress);
    assert!(app.notice.as_ref().unwrap().1.contains("refused while Cordon worker3 runs"), "{:?}", app.notice);
}

#[test]
fn a_paste_is_text_never_keys() {
    let mut app = app_with(false, &[], None);
    // outside a text field: ignored, said
    app.on_paste("cordon worker2\ny\n");
    assert_eq!(app.view.dialog, Dialog::None);
    assert!(app.notice.as_ref().unwrap().1.starts_with("pasted text ignored"));
    // into the command line: the line breaks are spaces, nothing runs until Enter
    app.on_key(key(':'));
    app.on_paste("cordon worker2\ny\n");
    assert_eq!(app.view.command.as_ref().unwrap().text, "cordon worker2 y ");
    assert_eq!(app.view.dialog, Dialog::None);
    // a huge paste is cut, and says so
    app.on_paste(&"z".repeat(5000));
    let cl = app.view.command.as_ref().unwrap();
    assert_eq!(cl.text.chars().count(), MAX_LEN);
    assert!(cl.hint.as_deref().unwrap_or("").contains("cut at 256"));
}

#[test]
fn on_a_screen_too_small_to_draw_only_quit_works() {
    let mut app = app_with(false, &[], None);
    let text = crate::ui::render_text(&mut app, 30, 8, chrono::Utc::now()).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("needs at least 40x10") && text.contains("q quits"), "{text}");
    for c in [':', 'c', 'd', 'y', 'R'] {
        assert!(app.on_key(key(c)).is_empty());
    }
    app.on_key(code(KeyCode::Enter));
    assert_eq!(app.view.dialog, Dialog::None);
    assert!(app.view.command.is_none());
    app.on_key(key('q'));
    assert!(app.quit);
}

#[test]
fn the_line_is_edited_where_the_cursor_is_and_a_draft_survives_the_history() {
    let mut app = app_with(false, &[], None);
    let ctrl = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    let line = |app: &App| app.view.command.as_ref().unwrap().text.clone();
    type_line(&mut app, "etcd");
    app.on_key(key(':'));
    for c in "logs master1 kublet".chars() {
        app.on_key(key(c));
    }
    // back to the typo, fix it, on to the end
    for _ in 0..3 {
        app.on_key(code(KeyCode::Left));
    }
    app.on_key(key('e'));
    assert_eq!(line(&app), "logs master1 kubelet");
    assert_eq!(app.view.command.as_ref().unwrap().cursor(), 17);
    app.on_key(code(KeyCode::Home));
    app.on_key(code(KeyCode::Delete));
    app.on_key(key('L'));
    assert_eq!(line(&app), "Logs master1 kubelet");
    app.on_key(code(KeyCode::Backspace));
    app.on_key(key('l'));
    app.on_key(code(KeyCode::End));
    app.on_key(ctrl('w'));
    assert_eq!(line(&app), "logs master1 ");
    // Up walks the history; Down past its newest brings back what was being typed
    app.on_key(code(KeyCode::Up));
    assert_eq!(line(&app), "etcd");
    app.on_key(code(KeyCode::Down));
    assert_eq!(line(&app), "logs master1 ");
    // a paste goes in at the cursor
    app.on_key(ctrl('a'));
    app.on_paste("x");
    assert_eq!(line(&app), "xlogs master1 ");
    app.on_key(ctrl('k'));
    assert_eq!(line(&app), "x");
    app.on_key(ctrl('u'));
    assert_eq!(line(&app), "");
    // the screen shows the cursor where it is: the rest of the line after it
    for c in "nodes".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Left));
    app.on_key(code(KeyCode::Left));
    let screen = crate::ui::render_text(&mut app, 80, 24, crate::app::tests::now());
    assert!(screen.lines().last().unwrap().starts_with(" :nodes"), "{screen}");
}

#[test]
fn read_only_drain_by_command_shows_the_plan_and_dry_run_as_its_key_does() {
    let mut app = app_with(true, &[], None);
    let cmds = type_line(&mut app, "drain worker1");
    let Dialog::Confirm(p) = &app.view.dialog else { panic!("{:?} {:?}", app.view.dialog, app.notice) };
    assert!(matches!(&p.request, OpRequest::Drain { node, .. } if node == "worker1"));
    assert!(matches!(cmds.as_slice(), [Command::DryRun { .. }]), "{cmds:?}");
}
