//! Enter on a row: the detail view of that item, drawn from the model as it is now (it follows the
//! item while it changes). The item is named, not indexed, so new rows do not swap it for another.

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::{KeyEvent, KeyModifiers};

use super::*;
use crate::model::rows::*;

/// What a detail view shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Host(String),
    /// A keepalived load balancer.
    Lb(String),
    /// One apiserver backend, as every LB's haproxy sees it.
    Server(String),
    EtcdMember(String),
    /// A control-plane static pod (no host plan: etcd's and the apiservers').
    StaticPod(String),
    Lease {
        namespace: String,
        name: String,
    },
    Cert {
        host: String,
        name: String,
    },
    CephCheck(String),
    Node(String),
    Workload {
        namespace: String,
        kind: crate::model::WorkloadKind,
        name: String,
    },
    Event {
        at: DateTime<Utc>,
        text: String,
    },
}

/// How often an open node view reads the node's pods again.
pub const NODE_EXTRA_EVERY_SECS: i64 = 10;
/// A read not answered in this long is asked again.
const NODE_EXTRA_GIVE_UP_SECS: i64 = 60;

/// The on-demand read of the node an open detail view shows: its labels and pods.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFetch {
    pub node: String,
    id: u64,
    /// When the read in flight (or the last one) was asked for.
    pub asked: DateTime<Utc>,
    pub pending: bool,
    /// The last answer and when it was asked for (kept while the next read is in flight).
    pub answer: Option<(DateTime<Utc>, Result<crate::model::NodeExtra, String>)>,
}

impl App {
    /// What is due now: a running drill's next actions, and a fresh read of the node an open detail
    /// view shows (on opening, then every [`NODE_EXTRA_EVERY_SECS`]).
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<Command> {
        let mut cmds = self.drive_drill(now);
        cmds.extend(self.follow_node(now));
        cmds
    }

    fn follow_node(&mut self, now: DateTime<Utc>) -> Vec<Command> {
        let Dialog::Detail { item: Item::Node(node), .. } = &self.view.dialog else {
            self.node_extra = None;
            return vec![];
        };
        let current = self.node_extra.as_ref().filter(|f| &f.node == node);
        let wait = |f: &NodeFetch| match (&f.answer, f.pending) {
            (_, true) => (now - f.asked).num_seconds() < NODE_EXTRA_GIVE_UP_SECS,
            (Some((at, _)), false) => (now - *at).num_seconds() < NODE_EXTRA_EVERY_SECS,
            (None, false) => false,
        };
        if current.is_some_and(wait) {
            return vec![];
        }
        let answer = current.and_then(|f| f.answer.clone());
        self.node_extra_seq += 1;
        let (id, node) = (self.node_extra_seq, node.clone());
        self.node_extra = Some(NodeFetch { node: node.clone(), id, asked: now, pending: true, answer });
        vec![Command::NodeDetail { id, node }]
    }

    /// The answer to a node read; an answer to an earlier read, or for another node, is dropped.
    pub(super) fn on_node_extra(&mut self, id: u64, result: Result<crate::model::NodeExtra, String>) {
        if let Some(f) = self.node_extra.as_mut().filter(|f| f.id == id) {
            f.pending = false;
            // its age counts from when it was asked for: never younger than it is
            f.answer = Some((f.asked, result));
            self.dirty = true;
        }
    }

    /// The item selected in the focused panel, if the panel has rows.
    pub fn selected_item(&self) -> Option<Item> {
        let m = &self.model;
        let p = self.view.focus;
        let (sel, filter) = (self.view.selected(p), self.view.filter(p));
        Some(match p {
            PanelId::Hosts => Item::Host(hosts_rows(m, filter).get(sel)?.clone()),
            PanelId::Vip => Item::Lb(m.vrrp.keys().nth(sel)?.clone()),
            PanelId::Haproxy if m.haproxy.is_empty() => Item::StaticPod(m.control_plane.data.as_ref()?.apiservers.get(sel)?.name.clone()),
            PanelId::Haproxy => Item::Server(haproxy_rows(m, filter).get(sel)?.server.as_ref()?.server.clone()),
            PanelId::Etcd => match (&m.etcd.data, &m.control_plane.data) {
                (Some(e), _) => Item::EtcdMember(e.members.get(sel)?.name.clone()),
                (None, Some(cp)) => Item::StaticPod(cp.etcd.get(sel)?.name.clone()),
                (None, None) => return None,
            },
            PanelId::Leases => {
                let l = &m.leases.data.as_ref()?[*lease_rows(m, filter).get(sel)?];
                Item::Lease { namespace: l.namespace.clone(), name: l.name.clone() }
            }
            PanelId::Certs => {
                let (host, c) = cert_rows(m, filter, Utc::now(), self.view.sort_of(p)).into_iter().nth(sel)?;
                Item::Cert { host, name: c.name }
            }
            PanelId::Ceph => Item::CephCheck(m.ceph_view()?.checks.get(sel)?.code.clone()),
            PanelId::Nodes => Item::Node(m.nodes.data.as_ref()?[*node_rows(m, filter, self.view.sort_of(p)).get(sel)?].name.clone()),
            PanelId::Platform => {
                let w = &m.workloads.data.as_ref()?[*workload_rows(m, filter).get(sel)?];
                Item::Workload { namespace: w.namespace.clone(), kind: w.kind, name: w.name.clone() }
            }
            PanelId::Timeline => {
                let e = m.timeline.iter().nth(*timeline_rows(m, filter).get(sel)?)?;
                Item::Event { at: e.at, text: e.text.clone() }
            }
        })
    }

    /// Enter on the main screen: the selected item's detail view; a panel without rows is zoomed.
    pub(super) fn open_detail(&mut self) {
        match self.selected_item() {
            Some(item) => {
                // what an earlier key said is not about this item
                self.notice = None;
                self.view.dialog = Dialog::Detail { item, scroll: 0 };
            }
            None => {
                self.view.zoom = Some(self.view.focus);
                self.say(Severity::Info, format!("{}: nothing selected to open; zoomed", self.view.focus.title()));
            }
        }
    }

    /// Keys in the detail view: the moves scroll, Esc (or Enter, q) goes back, `l` opens the item's logs.
    pub(super) fn detail_key(&mut self, key: KeyEvent, action: Option<Action>, item: Item, scroll: usize) -> Vec<Command> {
        let to = |s: usize| Dialog::Detail { item: item.clone(), scroll: s };
        if let Some(s) = super::keys::scrolled(action, scroll) {
            self.view.dialog = to(s);
            return vec![];
        }
        match action {
            Some(Action::Quit) if key.modifiers.contains(KeyModifiers::CONTROL) => return self.ask_quit(),
            Some(Action::Cancel | Action::Confirm | Action::Quit) => self.view.dialog = Dialog::None,
            Some(Action::Logs) if self.selected_log_source().is_none() => {
                let a = self.keymap.hints(Layer::Main, Action::LogSources, 1).unwrap_or_else(|| "log_sources".into());
                self.say(Severity::Info, format!("this item has no log of its own ({a} chooses any source)"));
            }
            Some(Action::Logs) => {
                self.view.dialog = Dialog::None;
                let cmds = self.act(Action::Logs);
                // closing the logs comes back here
                self.view.logs_back = Some(to(scroll));
                return cmds;
            }
            Some(Action::Help) => {
                self.view.help_back = Some(to(scroll));
                self.view.dialog = Dialog::Help { scroll: 0 };
            }
            _ => {}
        }
        vec![]
    }
}
