//! Everything a key can ask for, and the layers keys are bound in. Keymap files name both in
//! snake_case.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    /// Close the open dialog, clear the filter, or leave zoom.
    Cancel,
    /// Confirm the open dialog / activate the selection.
    Confirm,
    FocusNext,
    FocusPrev,
    FocusLeft,
    FocusRight,
    FocusUp,
    FocusDown,
    SelectNext,
    SelectPrev,
    PageDown,
    PageUp,
    SelectFirst,
    SelectLast,
    Zoom,
    Filter,
    /// Sort the focused table by its next order.
    Sort,
    Timeline,
    /// Write the timeline to a file (text and JSON Lines).
    ExportTimeline,
    Cordon,
    Uncordon,
    Drain,
    VipFailover,
    /// Restore a load balancer's keepalived after a failover (its priority; start it if stopped).
    RestoreVip,
    RenewCerts,
    ToggleNoout,
    /// Hand etcd's leadership to the selected member.
    EtcdMoveLeader,
    /// Drain the selected apiserver from haproxy on every LB, then set it in maintenance.
    HaproxyDrain,
    /// Make the selected apiserver ready again in haproxy on every LB.
    HaproxyReady,
    /// Defragment every etcd member, one at a time, the leader last.
    EtcdDefrag,
    /// Disarm etcd's NOSPACE alarm.
    EtcdDisarm,
    /// Take a snapshot of etcd into a file in the working directory.
    EtcdSnapshot,
    /// Start maintenance of the selected master: etcd leadership off it, out of haproxy, drained.
    Maintenance,
    /// End maintenance of the selected master: uncordoned, ready in haproxy.
    MaintenanceEnd,
    Logs,
    /// Choose the log viewer's sources (add, remove).
    LogSources,
    /// Open the fault-injection menu (demo and drills only).
    Faults,
    /// Pause or resume the simulated cluster (demo only).
    Pause,
    CycleTheme,
    /// Open the `:` command line.
    CommandLine,

    // --- The confirmation dialog ---
    /// Go ahead with the planned operation.
    ConfirmYes,
    /// Drop the planned operation.
    ConfirmNo,
    /// A graceful VIP failover: plan the emergency one instead.
    EmergencyFailover,
    /// A drain: toggle deleting emptyDir data (plans and dry-runs again).
    #[serde(rename = "drain_toggle_emptydir")]
    DrainToggleEmptyDir,
    /// A drain: toggle deleting pods without a controller (plans and dry-runs again).
    DrainToggleUnmanaged,

    // --- The progress dialog ---
    /// Ask the running operation to stop at its next safe point.
    CancelOperation,

    // --- The fault menu ---
    /// Inject the selected fault.
    InjectFault,

    // --- The log viewer ---
    /// Start typing the filter of the lines.
    LogsSearch,
    /// Freeze the view, or follow again.
    LogsPause,
    /// Jump to the newest line and follow.
    LogsFollow,
    /// Write the matching lines to a file.
    LogsSave,
    /// Show kockpit's own log.
    LogsOwnLog,
    /// Wrap long lines, or cut them and scroll sideways.
    LogsWrap,
    /// Scroll long lines to the left (unwrapped).
    LogsLeft,
    /// Scroll long lines to the right (unwrapped).
    LogsRight,

    // --- The log source picker ---
    /// Pod and workload sources: ask for the previous container instance, or not.
    PickerTogglePrevious,
    /// Type a filter of the picker's rows.
    PickerFilter,
}

impl Action {
    /// Every action, in the order help lists them.
    pub const ALL: &'static [Action] = &[
        Action::Quit,
        Action::Help,
        Action::Cancel,
        Action::Confirm,
        Action::FocusNext,
        Action::FocusPrev,
        Action::FocusLeft,
        Action::FocusRight,
        Action::FocusUp,
        Action::FocusDown,
        Action::SelectNext,
        Action::SelectPrev,
        Action::PageDown,
        Action::PageUp,
        Action::SelectFirst,
        Action::SelectLast,
        Action::Zoom,
        Action::Filter,
        Action::Sort,
        Action::Timeline,
        Action::ExportTimeline,
        Action::Cordon,
        Action::Uncordon,
        Action::Drain,
        Action::VipFailover,
        Action::RestoreVip,
        Action::RenewCerts,
        Action::ToggleNoout,
        Action::EtcdMoveLeader,
        Action::HaproxyDrain,
        Action::HaproxyReady,
        Action::EtcdDefrag,
        Action::EtcdDisarm,
        Action::EtcdSnapshot,
        Action::Maintenance,
        Action::MaintenanceEnd,
        Action::Logs,
        Action::LogSources,
        Action::Faults,
        Action::Pause,
        Action::CycleTheme,
        Action::CommandLine,
        Action::ConfirmYes,
        Action::ConfirmNo,
        Action::EmergencyFailover,
        Action::DrainToggleEmptyDir,
        Action::DrainToggleUnmanaged,
        Action::CancelOperation,
        Action::InjectFault,
        Action::LogsSearch,
        Action::LogsPause,
        Action::LogsFollow,
        Action::LogsSave,
        Action::LogsOwnLog,
        Action::LogsWrap,
        Action::LogsLeft,
        Action::LogsRight,
        Action::PickerTogglePrevious,
        Action::PickerFilter,
    ];

    /// The snake_case name used in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Cancel => "cancel",
            Action::Confirm => "confirm",
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::FocusLeft => "focus_left",
            Action::FocusRight => "focus_right",
            Action::FocusUp => "focus_up",
            Action::FocusDown => "focus_down",
            Action::SelectNext => "select_next",
            Action::SelectPrev => "select_prev",
            Action::PageDown => "page_down",
            Action::PageUp => "page_up",
            Action::SelectFirst => "select_first",
            Action::SelectLast => "select_last",
            Action::Zoom => "zoom",
            Action::Filter => "filter",
            Action::Sort => "sort",
            Action::Timeline => "timeline",
            Action::ExportTimeline => "export_timeline",
            Action::Cordon => "cordon",
            Action::Uncordon => "uncordon",
            Action::Drain => "drain",
            Action::VipFailover => "vip_failover",
            Action::RestoreVip => "restore_vip",
            Action::RenewCerts => "renew_certs",
            Action::ToggleNoout => "toggle_noout",
            Action::EtcdMoveLeader => "etcd_move_leader",
            Action::HaproxyDrain => "haproxy_drain",
            Action::HaproxyReady => "haproxy_ready",
            Action::EtcdDefrag => "etcd_defrag",
            Action::EtcdDisarm => "etcd_disarm",
            Action::EtcdSnapshot => "etcd_snapshot",
            Action::Maintenance => "maintenance",
            Action::MaintenanceEnd => "maintenance_end",
            Action::Logs => "logs",
            Action::LogSources => "log_sources",
            Action::Faults => "faults",
            Action::Pause => "pause",
            Action::CycleTheme => "cycle_theme",
            Action::CommandLine => "command_line",
            Action::ConfirmYes => "confirm_yes",
            Action::ConfirmNo => "confirm_no",
            Action::EmergencyFailover => "emergency_failover",
            Action::DrainToggleEmptyDir => "drain_toggle_emptydir",
            Action::DrainToggleUnmanaged => "drain_toggle_unmanaged",
            Action::CancelOperation => "cancel_operation",
            Action::InjectFault => "inject_fault",
            Action::LogsSearch => "logs_search",
            Action::LogsPause => "logs_pause",
            Action::LogsFollow => "logs_follow",
            Action::LogsSave => "logs_save",
            Action::LogsOwnLog => "logs_own_log",
            Action::LogsWrap => "logs_wrap",
            Action::LogsLeft => "logs_left",
            Action::LogsRight => "logs_right",
            Action::PickerTogglePrevious => "picker_toggle_previous",
            Action::PickerFilter => "picker_filter",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// True for actions that change the cluster (refused in read-only mode).
    pub fn is_operation(self) -> bool {
        matches!(
            self,
            Action::Cordon
                | Action::Uncordon
                | Action::Drain
                | Action::VipFailover
                | Action::RestoreVip
                | Action::RenewCerts
                | Action::ToggleNoout
                | Action::EtcdMoveLeader
                | Action::HaproxyDrain
                | Action::HaproxyReady
                | Action::EtcdDefrag
                | Action::EtcdDisarm
                | Action::EtcdSnapshot
                | Action::Maintenance
                | Action::MaintenanceEnd
        )
    }

    /// True for the actions every dialog understands in its own way (close, confirm, move): they
    /// may be bound in any layer, and a dialog takes them from the main layer for keys its own
    /// layer does not bind.
    pub fn is_generic(self) -> bool {
        matches!(
            self,
            Action::Quit
                | Action::Help
                | Action::Cancel
                | Action::Confirm
                | Action::SelectNext
                | Action::SelectPrev
                | Action::PageDown
                | Action::PageUp
                | Action::SelectFirst
                | Action::SelectLast
        )
    }

    /// Whether the action may be bound in `layer`: generic actions anywhere, a dialog's commands in
    /// its layer, the rest in the main layer (`log_sources` also in the log viewer).
    pub fn fits(self, layer: Layer) -> bool {
        self.is_generic() || self.home() == layer || (self == Action::LogSources && layer == Layer::Logs)
    }

    /// The layer an action belongs to (generic actions: main).
    pub fn home(self) -> Layer {
        match self {
            Action::ConfirmYes
            | Action::ConfirmNo
            | Action::EmergencyFailover
            | Action::DrainToggleEmptyDir
            | Action::DrainToggleUnmanaged => Layer::Confirm,
            Action::CancelOperation => Layer::Progress,
            Action::InjectFault => Layer::Faults,
            Action::LogsSearch
            | Action::LogsPause
            | Action::LogsFollow
            | Action::LogsSave
            | Action::LogsOwnLog
            | Action::LogsWrap
            | Action::LogsLeft
            | Action::LogsRight => Layer::Logs,
            Action::PickerTogglePrevious | Action::PickerFilter => Layer::Picker,
            _ => Layer::Main,
        }
    }
}

/// Where a key is looked up: the main screen, or the dialog that is open. Each layer has its own
/// bindings; see the keymap module (`settings::keymap`) for how a dialog falls back to the main layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The panels, with no dialog open.
    #[default]
    Main,
    /// The confirmation of a planned operation.
    Confirm,
    /// A running operation's progress.
    Progress,
    /// The fault-injection menu.
    Faults,
    /// The log viewer (and kockpit's own log over it).
    Logs,
    /// The log source picker over the log viewer.
    Picker,
    /// This help.
    Help,
}

impl Layer {
    /// Every layer, in the order help lists them.
    pub const ALL: &'static [Layer] =
        &[Layer::Main, Layer::Confirm, Layer::Progress, Layer::Faults, Layer::Logs, Layer::Picker, Layer::Help];

    /// The snake_case name used in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Main => "main",
            Layer::Confirm => "confirm",
            Layer::Progress => "progress",
            Layer::Faults => "faults",
            Layer::Logs => "logs",
            Layer::Picker => "picker",
            Layer::Help => "help",
        }
    }

    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.iter().copied().find(|l| l.name() == name)
    }

    /// A heading for help.
    pub fn title(self) -> &'static str {
        match self {
            Layer::Main => "Main screen",
            Layer::Confirm => "Confirmation of an operation",
            Layer::Progress => "Operation in progress",
            Layer::Faults => "Fault injection menu",
            Layer::Logs => "Log viewer",
            Layer::Picker => "Log source picker",
            Layer::Help => "Help",
        }
    }

    /// The main-layer action that opens this dialog; in the dialog the same key closes it again.
    pub fn opener(self) -> Option<Action> {
        match self {
            Layer::Main | Layer::Confirm | Layer::Progress => None,
            Layer::Faults => Some(Action::Faults),
            Layer::Logs => Some(Action::Logs),
            Layer::Picker => Some(Action::LogSources),
            Layer::Help => Some(Action::Help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for &a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
        assert_eq!(Action::from_name("nope"), None);
        for &l in Layer::ALL {
            assert_eq!(Layer::from_name(l.name()), Some(l));
            assert_eq!(serde_json::to_string(&l).unwrap(), format!("\"{}\"", l.name()));
        }
        assert_eq!(Layer::from_name("nope"), None);
    }

    #[test]
    fn every_action_fits_its_home_layer_and_generic_ones_fit_everywhere() {
        for &a in Action::ALL {
            assert!(a.fits(a.home()), "{}", a.name());
            for &l in Layer::ALL {
                if a.is_generic() {
                    assert!(a.fits(l), "{} in {}", a.name(), l.name());
                }
            }
        }
        assert!(!Action::ConfirmYes.fits(Layer::Main));
        assert!(!Action::Drain.fits(Layer::Confirm));
        assert!(Action::LogSources.fits(Layer::Logs));
    }
}
