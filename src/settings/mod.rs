//! What the user can set about how kockpit looks and reacts: themes and keymaps, built in and
//! overridable from the user's config directory, layered over each other.

pub mod keymap;
mod layered;
pub mod theme;
