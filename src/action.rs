//! Everything a key can ask for. Keymap files name these actions in snake_case.

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
    Timeline,
    /// Write the timeline to a file (text and JSON Lines).
    ExportTimeline,
    Cordon,
    Uncordon,
    Drain,
    VipFailover,
    RenewCerts,
    ToggleNoout,
    Logs,
    /// Choose the log viewer's sources (add, remove).
    LogSources,
    /// Open the fault-injection menu (demo and drills only).
    Faults,
    /// Pause or resume the simulated cluster (demo only).
    Pause,
    CycleTheme,
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
        Action::Timeline,
        Action::ExportTimeline,
        Action::Cordon,
        Action::Uncordon,
        Action::Drain,
        Action::VipFailover,
        Action::RenewCerts,
        Action::ToggleNoout,
        Action::Logs,
        Action::LogSources,
        Action::Faults,
        Action::Pause,
        Action::CycleTheme,
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
            Action::Timeline => "timeline",
            Action::ExportTimeline => "export_timeline",
            Action::Cordon => "cordon",
            Action::Uncordon => "uncordon",
            Action::Drain => "drain",
            Action::VipFailover => "vip_failover",
            Action::RenewCerts => "renew_certs",
            Action::ToggleNoout => "toggle_noout",
            Action::Logs => "logs",
            Action::LogSources => "log_sources",
            Action::Faults => "faults",
            Action::Pause => "pause",
            Action::CycleTheme => "cycle_theme",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// True for actions that change the cluster (refused in read-only mode).
    pub fn is_operation(self) -> bool {
        matches!(self, Action::Cordon | Action::Uncordon | Action::Drain | Action::VipFailover | Action::RenewCerts | Action::ToggleNoout)
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
    }
}
