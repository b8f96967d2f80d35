//! Keys as keymap files name them: a chord (a key with its modifiers), its one spelling, and parsing.

use std::fmt;
use std::str::FromStr;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key with its modifiers, normalised so that a key has one spelling: a character
/// carries its own shift (`G`, never shift-g) and shift-tab is `BackTab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyChord {
    /// A normalised chord.
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        let (code, mods) = match code {
            KeyCode::Char(c) => {
                let c = if mods.contains(KeyModifiers::SHIFT) { upper(c) } else { c };
                (KeyCode::Char(c), mods - KeyModifiers::SHIFT)
            }
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => (KeyCode::BackTab, mods - KeyModifiers::SHIFT),
            KeyCode::BackTab => (KeyCode::BackTab, mods - KeyModifiers::SHIFT),
            code => (code, mods),
        };
        KeyChord { code, mods }
    }

    /// The chord of a terminal key event.
    pub fn from_event(ev: &KeyEvent) -> Self {
        KeyChord::new(ev.code, ev.modifiers)
    }
}

/// The upper-case form of `c` if it is a single character, else `c`.
fn upper(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

const MODIFIER_NAMES: &[(&str, KeyModifiers)] = &[
    ("ctrl", KeyModifiers::CONTROL),
    ("alt", KeyModifiers::ALT),
    ("shift", KeyModifiers::SHIFT),
    ("super", KeyModifiers::SUPER),
    ("hyper", KeyModifiers::HYPER),
    ("meta", KeyModifiers::META),
];

const KEY_NAMES: &[(&str, KeyCode)] = &[
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("space", KeyCode::Char(' ')),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("insert", KeyCode::Insert),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
];

const KEY_FORMS: &str = "expected a single character (`c`, `C` for shift-c, `?`), or one of \
    tab, backtab, enter, esc, space, up, down, left, right, pageup, pagedown, home, end, \
    insert, backspace, delete, f1..f12; optionally prefixed by ctrl-, alt- or shift- \
    (e.g. `ctrl-c`, `alt-left`, `shift-tab`)";

impl fmt::Display for KeyChord {
    /// The file syntax: `ctrl-c`, `G`, `tab`, `space`, `shift-up`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, m) in MODIFIER_NAMES {
            if self.mods.contains(*m) {
                write!(f, "{name}-")?;
            }
        }
        if let Some((name, _)) = KEY_NAMES.iter().find(|(_, code)| *code == self.code) {
            return f.write_str(name);
        }
        match self.code {
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl FromStr for KeyChord {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_key(s)
    }
}

/// Parses the file syntax of a key (see the module docs). The error says what is accepted.
pub fn parse_key(s: &str) -> Result<KeyChord, String> {
    let bad = || format!("bad key `{s}`; {KEY_FORMS}");
    let mut rest = s;
    let mut mods = KeyModifiers::NONE;
    // Strip `mod-` prefixes; a lone trailing character (as in `ctrl--`) is the key.
    'prefixes: while rest.chars().count() > 1 {
        for (name, m) in MODIFIER_NAMES {
            let Some(after) = strip_prefix_ignore_case(rest, name).and_then(|r| r.strip_prefix('-')) else {
                continue;
            };
            if after.is_empty() {
                break 'prefixes;
            }
            if !matches!(*name, "ctrl" | "alt" | "shift") {
                return Err(format!(
                    "bad key `{s}`: `{name}-` keys reach a terminal program only where the terminal speaks the kitty keyboard \
                     protocol, so a binding on them may never fire; use ctrl-, alt- or shift-"
                ));
            }
            if mods.contains(*m) {
                return Err(format!("bad key `{s}`: `{name}` is given twice"));
            }
            mods |= *m;
            rest = after;
            continue 'prefixes;
        }
        break;
    }

    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) => {
            if mods.contains(KeyModifiers::SHIFT) && !c.is_alphabetic() {
                return Err(format!("bad key `{s}`: write the character shift produces (e.g. `?`, not `shift-/`)"));
            }
            KeyCode::Char(c)
        }
        _ => {
            let lower = rest.to_ascii_lowercase();
            if let Some((_, code)) = KEY_NAMES.iter().find(|(name, _)| *name == lower) {
                *code
            } else if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()).filter(|n| (1..=12).contains(n)) {
                KeyCode::F(n)
            } else {
                return Err(bad());
            }
        }
    };
    Ok(KeyChord::new(code, mods))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Keys that must never carry out an operation: Enter (typed ahead), Esc and Ctrl-C (backing out).
/// (Ctrl-[ arrives as Esc, Ctrl-M and Ctrl-J as Enter: they are those keys.)
pub(super) fn never_goes_ahead(chord: &KeyChord) -> bool {
    let ctrl = chord.mods.contains(KeyModifiers::CONTROL);
    match chord.code {
        KeyCode::Enter | KeyCode::Esc => true,
        KeyCode::Char('c' | 'C' | '[' | 'm' | 'M' | 'j' | 'J') => ctrl,
        _ => false,
    }
}
