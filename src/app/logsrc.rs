//! The log viewer's sources: which are open, how their streams are doing, and the picker that adds
//! and removes them (hosts × their units by role, a unit or a file path typed in, the workloads the
//! model knows, a pod typed in).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;

use super::{Action, App};
use crate::backend::Command;
use crate::logs::spec::{DEFAULT_TAIL, LogRequest, LogSpec, LogState, LogStatus};
use crate::model::Severity;

/// A source the viewer opened.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSource {
    pub id: u64,
    pub spec: LogSpec,
    /// Streams running now / started so far (a pod source has one per container).
    pub live: usize,
    pub started: usize,
    /// The last failure of one of its streams.
    pub problem: Option<String>,
    /// What the source as a whole cannot do right now, while its streams go on.
    pub degraded: Option<String>,
    /// Nothing of it runs any more.
    pub closed: bool,
}

impl OpenSource {
    /// A short state for the source list.
    pub fn state(&self) -> String {
        match (&self.problem, self.closed, self.live) {
            (Some(p), true, _) => format!("FAILED: {p}"),
            (None, true, _) => "ended".into(),
            (Some(p), false, 0) => format!("failing: {p}"),
            (_, false, 0) => "opening".into(),
            (_, false, n) => match &self.degraded {
                Some(d) => format!("{n} streaming; {d}"),
                None => format!("{n} streaming"),
            },
        }
    }
}

/// What a picker row does.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Remove an open source (closing it).
    Close(u64),
    Open(LogSpec),
    /// Type a unit name for this host.
    TypeUnit(String),
    /// Type a file path on this host.
    TypePath(String),
    /// Type NS/POD or NS/POD/CONTAINER.
    TypePod,
}

/// The picker's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Picker {
    pub selected: usize,
    /// Pod and workload sources ask for the previous container instance.
    pub previous: bool,
    /// Text being typed for a `Type*` row.
    pub input: Option<(Choice, String)>,
    /// Only rows containing this (case-insensitive) are listed.
    pub filter: String,
    /// The filter is being typed.
    pub filtering: bool,
}

impl App {
    /// Every row of the open picker: the open sources first (to remove), then what can be added,
    /// filtered by the picker's filter.
    pub fn log_choices(&self) -> Vec<(String, Choice)> {
        self.choices_for(self.log_view.picker.as_ref())
    }

    /// The picker's rows for picker state `p` (its filter, and whether pod sources ask for the
    /// previous container instance).
    fn choices_for(&self, p: Option<&Picker>) -> Vec<(String, Choice)> {
        let mut out = self.all_choices(p.is_some_and(|p| p.previous));
        if let Some(f) = p.map(|p| p.filter.to_lowercase()).filter(|f| !f.is_empty()) {
            out.retain(|(label, _)| label.to_lowercase().contains(&f));
        }
        out
    }

    fn all_choices(&self, previous: bool) -> Vec<(String, Choice)> {
        let mut out = Vec::new();
        for s in &self.log_view.sources {
            out.push((format!("[x] {}  ({})", s.spec.label(), s.state()), Choice::Close(s.id)));
        }
        let is_open = |spec: &LogSpec| self.log_view.sources.iter().any(|s| !s.closed && s.spec == *spec);
        for (h, units) in self.model.plan.hosts.iter().zip(self.units_by_host()) {
            for u in units {
                let spec = LogSpec::Journal { host: h.name.clone(), unit: u.into() };
                if !is_open(&spec) {
                    out.push((format!("[ ] {}", spec.label()), Choice::Open(spec)));
                }
            }
            out.push((format!("[ ] journal {} <unit you type>", h.name), Choice::TypeUnit(h.name.clone())));
            out.push((format!("[ ] file {} <path you type>", h.name), Choice::TypePath(h.name.clone())));
        }
        if let Some(ws) = &self.model.workloads.data {
            for w in ws {
                let spec = LogSpec::Workload { namespace: w.namespace.clone(), kind: w.kind, name: w.name.clone(), previous };
                if !is_open(&spec) {
                    out.push((format!("[ ] {}", spec.label()), Choice::Open(spec)));
                }
            }
            out.push(("[ ] pod <NS/POD[/CONTAINER] you type>".into(), Choice::TypePod));
        }
        out
    }

    /// The units worth tailing on each host of the plan, in the plan's order: kubelet on nodes, etcd
    /// on its members, keepalived and haproxy where they run.
    pub fn units_by_host(&self) -> Vec<Vec<&'static str>> {
        let targets = crate::probe::ProbeTargets::of(&self.model.plan);
        let runs = |list: &[crate::inventory::Host], h: &crate::inventory::Host| list.iter().any(|k| k.name == h.name);
        self.model
            .plan
            .hosts
            .iter()
            .map(|h| {
                let mut units = Vec::new();
                if h.roles.master || h.roles.worker {
                    units.push("kubelet");
                }
                if h.roles.etcd {
                    units.push("etcd");
                }
                if runs(&targets.keepalived, h) {
                    units.push("keepalived");
                }
                if runs(&targets.haproxy, h) {
                    units.push("haproxy");
                }
                units
            })
            .collect()
    }

    /// Keys while the picker is open: `action` is the key's binding in the picker layer; a row
    /// being typed takes the key as text. Returns commands for the backend.
    pub(super) fn picker_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Command> {
        let Some(mut p) = self.log_view.picker.take() else { return vec![] };
        if let Some((choice, mut text)) = p.input.take() {
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => {
                    let spec = match &choice {
                        Choice::TypeUnit(host) => LogSpec::parse_host(&format!("{host}:{}", text.trim())),
                        Choice::TypePath(host) => LogSpec::parse_host(&format!("{host}:{}", text.trim())).and_then(|s| match s {
                            LogSpec::File { .. } => Ok(s),
                            _ => Err("give an absolute path".into()),
                        }),
                        _ => LogSpec::parse_pod(text.trim(), p.previous),
                    };
                    match spec {
                        Ok(spec) => {
                            self.log_view.picker = Some(p);
                            return self.open_log_source(spec);
                        }
                        Err(e) => {
                            self.say(Severity::Warn, e);
                            p.input = Some((choice, text));
                        }
                    }
                }
                KeyCode::Backspace => {
                    text.pop();
                    p.input = Some((choice, text));
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    text.push(c);
                    p.input = Some((choice, text));
                }
                _ => p.input = Some((choice, text)),
            }
            self.log_view.picker = Some(p);
            return vec![];
        }
        if p.filtering {
            match key.code {
                KeyCode::Esc => {
                    p.filter.clear();
                    p.filtering = false;
                }
                KeyCode::Enter => p.filtering = false,
                KeyCode::Backspace => {
                    p.filter.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) && p.filter.chars().count() < 64 => p.filter.push(c),
                _ => {}
            }
            p.selected = 0;
            self.log_view.picker = Some(p);
            return vec![];
        }
        let n = self.choices_for(Some(&p)).len();
        match action {
            Some(Action::PickerTogglePrevious) => p.previous = !p.previous,
            Some(Action::PickerFilter) => p.filtering = true,
            // Esc clears a kept filter before it closes the picker
            Some(Action::Cancel) if !p.filter.is_empty() => {
                p.filter.clear();
                p.selected = 0;
            }
            Some(Action::SelectNext) => p.selected = (p.selected + 1).min(n.saturating_sub(1)),
            Some(Action::SelectPrev) => p.selected = p.selected.saturating_sub(1),
            Some(Action::PageDown) => p.selected = (p.selected + 10).min(n.saturating_sub(1)),
            Some(Action::PageUp) => p.selected = p.selected.saturating_sub(10),
            Some(Action::SelectFirst) => p.selected = 0,
            Some(Action::SelectLast) => p.selected = n.saturating_sub(1),
            Some(Action::Cancel | Action::LogSources | Action::Quit) => return vec![],
            Some(Action::Confirm) => {
                let choice = self.choices_for(Some(&p)).get(p.selected).map(|(_, c)| c.clone());
                let cmds = match choice {
                    Some(Choice::Open(spec)) => {
                        self.log_view.picker = Some(p);
                        return self.open_log_source(spec);
                    }
                    Some(Choice::Close(id)) => self.close_log_source(id),
                    Some(c @ (Choice::TypeUnit(_) | Choice::TypePath(_) | Choice::TypePod)) => {
                        let start = if matches!(c, Choice::TypePath(_)) { "/var/log/" } else { "" };
                        p.input = Some((c, start.to_string()));
                        vec![]
                    }
                    None => vec![],
                };
                let n = self.choices_for(Some(&p)).len();
                p.selected = p.selected.min(n.saturating_sub(1));
                self.log_view.picker = Some(p);
                return cmds;
            }
            _ => {}
        }
        self.log_view.picker = Some(p);
        vec![]
    }

    /// The log source of what is selected in the focused panel: a host's or node's kubelet (keepalived
    /// on a load balancer), an LB's keepalived or haproxy, an etcd member (its static pod, or its unit
    /// where etcd runs under systemd), a platform workload. None where the panel has no such row.
    pub fn selected_log_source(&self) -> Option<LogSpec> {
        use crate::model::PanelId;
        use crate::model::rows::*;
        let m = &self.model;
        let p = self.view.focus;
        let (sel, filter) = (self.view.selected(p), self.view.filter(p));
        let journal = |host: &str, unit: &str| LogSpec::Journal { host: host.to_string(), unit: unit.to_string() };
        let host_unit = |h: &str| {
            let host = m.plan.host(h)?;
            let lb = !host.roles.master && !host.roles.worker;
            Some(journal(h, if lb { "keepalived" } else { "kubelet" }))
        };
        let pod = |name: String| LogSpec::Pod { namespace: "kube-system".into(), pod: name, container: None, previous: false };
        match p {
            PanelId::Hosts => host_unit(hosts_rows(m, filter).get(sel)?),
            PanelId::Nodes => {
                let nodes = m.nodes.data.as_deref()?;
                host_unit(&nodes[*node_rows(m, filter, self.view.sort_of(p)).get(sel)?].name)
            }
            PanelId::Vip => m.vrrp.keys().nth(sel).map(|lb| journal(lb, "keepalived")),
            PanelId::Haproxy => haproxy_rows(m, filter).get(sel).map(|r| journal(&r.lb, "haproxy")),
            PanelId::Etcd => match (&m.etcd.data, &m.control_plane.data) {
                (Some(e), _) => {
                    let name = &e.members.get(sel)?.name;
                    match m.plan.topology.etcd_deploy {
                        crate::inventory::EtcdDeploy::StaticPod => Some(pod(format!("etcd-{name}"))),
                        crate::inventory::EtcdDeploy::Systemd => Some(journal(name, "etcd")),
                    }
                }
                (None, Some(cp)) => Some(pod(cp.etcd.get(sel)?.name.clone())),
                (None, None) => None,
            },
            PanelId::Platform => {
                let ws = m.workloads.data.as_deref()?;
                let w = &ws[*workload_rows(m, filter).get(sel)?];
                Some(LogSpec::Workload { namespace: w.namespace.clone(), kind: w.kind, name: w.name.clone(), previous: false })
            }
            _ => None,
        }
    }

    /// Open a source: the backend starts tailing it.
    pub fn open_log_source(&mut self, spec: LogSpec) -> Vec<Command> {
        if let Err(e) = spec.validate() {
            self.say(Severity::Warn, e);
            return vec![];
        }
        if self.log_view.sources.iter().any(|s| !s.closed && s.spec == spec) {
            self.say(Severity::Info, format!("{} is already open", spec.label()));
            return vec![];
        }
        self.log_view.next_id += 1;
        let id = self.log_view.next_id;
        self.audit("log_source_open", json!({ "source_id": id, "source": spec }));
        self.say(Severity::Info, format!("tailing {}", spec.label()));
        self.log_view.sources.push(OpenSource {
            id,
            spec: spec.clone(),
            live: 0,
            started: 0,
            problem: None,
            degraded: None,
            closed: false,
        });
        vec![Command::Logs(LogRequest::Open { id, spec, tail: DEFAULT_TAIL, follow: true })]
    }

    /// Remove a source from the list; a source still running is closed.
    pub fn close_log_source(&mut self, id: u64) -> Vec<Command> {
        let Some(i) = self.log_view.sources.iter().position(|s| s.id == id) else { return vec![] };
        let s = self.log_view.sources.remove(i);
        self.audit("log_source_close", json!({ "source_id": id }));
        if s.closed { vec![] } else { vec![Command::Logs(LogRequest::Close { id })] }
    }

    pub(super) fn on_log_status(&mut self, st: LogStatus) {
        if let Some(text) = st.text() {
            self.logs.push(crate::logs::LogLine { at: chrono::Utc::now(), source: st.source.clone(), text });
        }
        self.dirty = true;
        let Some(s) = self.log_view.sources.iter_mut().find(|s| s.id == st.id) else { return };
        match st.state {
            LogState::Streaming => {
                s.live += 1;
                s.started += 1;
            }
            LogState::Ended(_) => s.live = s.live.saturating_sub(1),
            LogState::Failed(why) => {
                s.live = s.live.saturating_sub(1);
                s.problem = Some(why.clone());
                self.say(Severity::Warn, format!("{}: {why}", st.source));
            }
            LogState::Degraded(why) => {
                s.degraded = why.clone();
                if let Some(w) = why {
                    self.say(Severity::Warn, format!("{}: {w}", st.source));
                }
            }
            LogState::Closed => {
                s.live = 0;
                s.closed = true;
            }
        }
    }
}
