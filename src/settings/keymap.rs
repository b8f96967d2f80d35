//! Keymaps: which keys trigger which [`Action`], read from TOML files.
//!
//! Two keymaps are built in (`keymaps/*.toml`, embedded at compile time). A user can
//! add or override keymaps in `<config dir>/keymaps/NAME.toml`:
//!
//! ```toml
//! name = "default"           # optional; must match the file name
//! description = "My keys"    # optional
//! extends = "vim"            # optional: start from another keymap
//!
//! [[bindings]]
//! keys = ["ctrl-d", "pagedown"]
//! action = "page_down"
//! desc = "Scroll down a page"
//! ```
//!
//! A user file starts from its `extends` keymap if it has one, else from the builtin
//! keymap of the same name if there is one, else it stands alone (and must bind at
//! least `quit`, `help` and `cancel`). Bindings in the file replace every binding of
//! their action in the base, and the keys they use are taken away from other actions
//! of the base, so the user's binding always wins. `extends` naming the file's own
//! name means the builtin keymap.
//!
//! Key syntax: a single character (`c`, `C` is shift-c, `?`, `/`), or a named key
//! (`tab`, `backtab`, `enter`, `esc`, `space`, `up`, `down`, `left`, `right`, `pageup`,
//! `pagedown`, `home`, `end`, `insert`, `backspace`, `delete`, `f1`..`f12`), optionally
//! prefixed by modifiers: `ctrl-c`, `alt-x`, `shift-tab` (= `backtab`), `ctrl-alt-up`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;
use toml::Spanned;

use super::layered::{self, Layered, Source};
use crate::action::Action;
use crate::error::FileError;

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

/// Some keys, the action they trigger, and what it does (shown in help).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub keys: Vec<KeyChord>,
    pub action: Action,
    pub desc: String,
}

/// A complete keymap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    /// The name the keymap is known by (its file name without `.toml`).
    pub name: String,
    pub description: String,
    pub bindings: Vec<Binding>,
}

const BUILTINS: &[(&str, &str)] =
    &[("default", include_str!("../../keymaps/default.toml")), ("vim", include_str!("../../keymaps/vim.toml"))];

const BUILTIN_NAMES: &[&str] = &["default", "vim"];

/// The keymap used when none is requested.
pub const DEFAULT_KEYMAP: &str = "default";

/// Actions every keymap must reach, or the user could get stuck.
const ESSENTIAL: &[Action] = &[Action::Quit, Action::Help, Action::Cancel];

impl Keymap {
    /// The action bound to the key of `ev`, if any. Key releases are ignored.
    pub fn lookup(&self, ev: &KeyEvent) -> Option<Action> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        let chord = KeyChord::from_event(ev);
        self.bindings.iter().find(|b| b.keys.contains(&chord)).map(|b| b.action)
    }

    /// Every key bound to `action`, in file order.
    pub fn keys_for(&self, action: Action) -> Vec<&KeyChord> {
        self.bindings.iter().filter(|b| b.action == action).flat_map(|b| &b.keys).collect()
    }

    /// The first key bound to `action`, as text (`"c"`, `"ctrl-c"`), for hints.
    pub fn hint(&self, action: Action) -> Option<String> {
        self.keys_for(action).first().map(|k| k.to_string())
    }

    /// A builtin keymap by name.
    pub fn builtin(name: &str) -> Option<Keymap> {
        layered::builtin(name)
    }

    /// Names of the builtin keymaps; the first is the default.
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// Every keymap name that [`Keymap::load`] accepts: the builtins, then the user's, sorted.
    pub fn available(user_dir: Option<&Path>) -> Vec<String> {
        layered::available::<Keymap>(user_dir)
    }

    /// The keymap called `name`: `user_dir/keymaps/NAME.toml` if it exists, else the builtin.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Keymap, FileError> {
        layered::load(name, user_dir)
    }

    /// A keymap from a file anywhere; `extends` is resolved against `user_dir` and the builtins.
    pub fn load_file(path: &Path, user_dir: Option<&Path>) -> Result<Keymap, FileError> {
        layered::load_file(path, user_dir)
    }
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::builtin(DEFAULT_KEYMAP).expect("builtin default keymap")
    }
}

// ---------------------------------------------------------------------------
// File format

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeymapFile {
    name: Option<Spanned<String>>,
    description: Option<String>,
    extends: Option<Spanned<String>>,
    #[serde(default)]
    bindings: Vec<Spanned<BindingFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingFile {
    keys: Spanned<Vec<Spanned<String>>>,
    action: Spanned<String>,
    desc: Option<Spanned<String>>,
}

/// A validated binding with the position of each key, for merge errors.
struct Parsed {
    binding: Binding,
    key_spans: Vec<Range<usize>>,
}

impl Layered for Keymap {
    const KIND: &'static str = "keymap";
    const DIR: &'static str = "keymaps";
    const BUILTINS: &'static [(&'static str, &'static str)] = BUILTINS;
    const BUILTIN_NAMES: &'static [&'static str] = BUILTIN_NAMES;
    type File = KeymapFile;

    fn header(file: &KeymapFile) -> (Option<&Spanned<String>>, Option<&Spanned<String>>) {
        (file.name.as_ref(), file.extends.as_ref())
    }

    fn build(at: &Source<'_>, stem: &str, file: KeymapFile, base: Option<Keymap>) -> Result<Keymap, FileError> {
        let parsed = parse_bindings(&file.bindings, at)?;
        let mut description = file.description.unwrap_or_default();
        let bindings = match base {
            Some(base) => {
                if description.is_empty() {
                    description.clone_from(&base.description);
                }
                merge(base, parsed, at)?
            }
            None => {
                let bindings: Vec<Binding> = parsed.into_iter().map(|p| p.binding).collect();
                let missing: Vec<&str> = ESSENTIAL.iter().filter(|a| !bindings.iter().any(|b| b.action == **a)).map(|a| a.name()).collect();
                if !missing.is_empty() {
                    return Err(FileError::whole(
                        at.path,
                        format!(
                            "keymap `{stem}` is not based on another keymap (no `extends`, no \
                             builtin of that name), so it must bind quit, help and cancel; \
                             missing: {}",
                            missing.join(", ")
                        ),
                    ));
                }
                bindings
            }
        };
        Ok(Keymap { name: stem.to_owned(), description, bindings })
    }
}

/// Validates every binding of a file: known action, good keys, no key twice, a description.
fn parse_bindings(bindings: &[Spanned<BindingFile>], at: &Source<'_>) -> Result<Vec<Parsed>, FileError> {
    let mut seen: HashMap<KeyChord, (Action, Range<usize>)> = HashMap::new();
    let mut out = Vec::with_capacity(bindings.len());
    for spanned in bindings {
        let b = spanned.get_ref();
        let action = Action::from_name(b.action.get_ref()).ok_or_else(|| {
            let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
            at.error(b.action.span(), format!("unknown action `{}`; valid actions: {}", b.action.get_ref(), names.join(", ")))
        })?;
        if b.keys.get_ref().is_empty() {
            return Err(at.error(b.keys.span(), format!("`{}` has no keys; give at least one", action.name())));
        }
        let mut keys = Vec::new();
        let mut key_spans = Vec::new();
        for key in b.keys.get_ref() {
            let chord = parse_key(key.get_ref()).map_err(|m| at.error(key.span(), m))?;
            if let Some((other, first)) = seen.get(&chord) {
                return Err(
                    at.error(key.span(), format!("key `{chord}` is already bound to `{}` on line {}", other.name(), at.line(first)))
                );
            }
            seen.insert(chord, (action, key.span()));
            keys.push(chord);
            key_spans.push(key.span());
        }
        let desc = match &b.desc {
            Some(d) if !d.get_ref().trim().is_empty() => d.get_ref().trim().to_owned(),
            Some(d) => {
                return Err(at.error(d.span(), "`desc` is empty; say what the keys do".into()));
            }
            None => {
                return Err(at.error(
                    spanned.span(),
                    format!(
                        "the binding for `{}` has no `desc`; every binding needs a \
                         description for help",
                        action.name()
                    ),
                ));
            }
        };
        out.push(Parsed { binding: Binding { keys, action, desc }, key_spans });
    }
    Ok(out)
}

/// Applies a file's bindings on top of `base`: they replace their actions' bindings in
/// place, and their keys are removed from the base's other actions.
fn merge(base: Keymap, user: Vec<Parsed>, at: &Source<'_>) -> Result<Vec<Binding>, FileError> {
    let user_keys: HashMap<KeyChord, Range<usize>> =
        user.iter().flat_map(|p| p.binding.keys.iter().copied().zip(p.key_spans.iter().cloned())).collect();
    let mut pending: Vec<Option<Binding>> = user.into_iter().map(|p| Some(p.binding)).collect();
    let mut take = |action: Action| -> Vec<Binding> {
        pending.iter_mut().filter(|b| b.as_ref().is_some_and(|b| b.action == action)).filter_map(Option::take).collect()
    };

    let mut out = Vec::with_capacity(base.bindings.len());
    let mut replaced = HashSet::new();
    // Base actions left without keys, with the user's key that took the last one.
    let mut stripped: Vec<(Action, KeyChord, Range<usize>)> = Vec::new();
    for mut binding in base.bindings {
        if replaced.contains(&binding.action) {
            continue;
        }
        let mine = take(binding.action);
        if !mine.is_empty() {
            replaced.insert(binding.action);
            out.extend(mine);
            continue;
        }
        let last_taken = binding.keys.iter().rev().find(|k| user_keys.contains_key(k)).copied();
        binding.keys.retain(|k| !user_keys.contains_key(k));
        match (binding.keys.is_empty(), last_taken) {
            (true, Some(key)) => stripped.push((binding.action, key, user_keys[&key].clone())),
            _ => out.push(binding),
        }
    }
    out.extend(pending.into_iter().flatten());

    for &action in ESSENTIAL {
        if out.iter().any(|b| b.action == action) {
            continue;
        }
        let message = format!("no key is left for `{}`", action.name());
        return Err(match stripped.iter().find(|(a, _, _)| *a == action) {
            Some((_, key, span)) => at.error(
                span.clone(),
                format!(
                    "{message}: this binding takes `{key}`, its last key in keymap `{}`; \
                     also bind `{}` to another key",
                    base.name,
                    action.name()
                ),
            ),
            None => FileError::whole(at.path, message),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEventState;
    use std::path::PathBuf;

    /// A fresh config directory with a `keymaps` directory in it, removed on drop.
    struct TempDir(tempfile::TempDir);

    impl TempDir {
        fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(tmp.path().join("keymaps")).unwrap();
            TempDir(tmp)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.path().join("keymaps").join(format!("{name}.toml"));
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    fn parse(text: &str) -> Result<Keymap, FileError> {
        let dir = TempDir::new();
        let path = dir.write("custom", text);
        Keymap::load_file(&path, Some(dir.0.path()))
    }

    fn parse_err(text: &str) -> FileError {
        parse(text).expect_err("expected an error")
    }

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn chord(s: &str) -> KeyChord {
        parse_key(s).unwrap()
    }

    const ESSENTIALS: &str = "[[bindings]]\nkeys = [\"q\"]\naction = \"quit\"\ndesc = \"Quit\"\n\n\
        [[bindings]]\nkeys = [\"?\"]\naction = \"help\"\ndesc = \"Help\"\n\n\
        [[bindings]]\nkeys = [\"esc\"]\naction = \"cancel\"\ndesc = \"Cancel\"\n";

    #[test]
    fn builtins_load_and_bind_every_action() {
        assert_eq!(Keymap::builtin_names(), ["default", "vim"]);
        assert_eq!(BUILTINS.len(), BUILTIN_NAMES.len());
        for (&name, &(file_name, src)) in BUILTIN_NAMES.iter().zip(BUILTINS) {
            assert_eq!(name, file_name);
            let km = Keymap::builtin(name).unwrap();
            assert_eq!(km.name, name);
            assert!(!km.description.is_empty(), "{name}");
            assert!(!src.contains("extends"), "{name} must stand alone");
            for &action in Action::ALL {
                assert!(!km.keys_for(action).is_empty(), "{name} does not bind {}", action.name());
            }
            for b in &km.bindings {
                assert!(!b.desc.is_empty() && !b.keys.is_empty());
            }
            assert_eq!(Keymap::load(name, None).unwrap(), km);
        }
        assert!(Keymap::builtin("emacs").is_none());
        assert_eq!(Keymap::default().name, "default");
    }

    #[test]
    fn default_keymap_has_the_documented_keys() {
        let km = Keymap::default();
        let expect = [
            ("q", Action::Quit),
            ("ctrl-c", Action::Quit),
            ("?", Action::Help),
            ("esc", Action::Cancel),
            ("enter", Action::Confirm),
            ("tab", Action::FocusNext),
            ("backtab", Action::FocusPrev),
            ("shift-left", Action::FocusLeft),
            ("alt-right", Action::FocusRight),
            ("shift-up", Action::FocusUp),
            ("shift-down", Action::FocusDown),
            ("down", Action::SelectNext),
            ("j", Action::SelectNext),
            ("k", Action::SelectPrev),
            ("pagedown", Action::PageDown),
            ("pageup", Action::PageUp),
            ("g", Action::SelectFirst),
            ("home", Action::SelectFirst),
            ("G", Action::SelectLast),
            ("end", Action::SelectLast),
            ("z", Action::Zoom),
            ("/", Action::Filter),
            ("t", Action::Timeline),
            ("c", Action::Cordon),
            ("u", Action::Uncordon),
            ("d", Action::Drain),
            ("f", Action::VipFailover),
            ("r", Action::RenewCerts),
            ("n", Action::ToggleNoout),
            ("l", Action::Logs),
            ("x", Action::Faults),
            ("p", Action::Pause),
            ("T", Action::CycleTheme),
        ];
        for (k, action) in expect {
            let c = chord(k);
            assert_eq!(km.lookup(&key(c.code, c.mods)), Some(action), "{k}");
        }
        assert_eq!(km.hint(Action::Cordon).as_deref(), Some("c"));
        assert_eq!(km.hint(Action::Quit).as_deref(), Some("q"));
        assert_eq!(km.keys_for(Action::Quit), [&chord("q"), &chord("ctrl-c")]);
    }

    #[test]
    fn vim_keymap_moves_with_hjkl() {
        let km = Keymap::builtin("vim").unwrap();
        assert_eq!(km.lookup(&ch('j')), Some(Action::SelectNext));
        assert_eq!(km.lookup(&ch('k')), Some(Action::SelectPrev));
        assert_eq!(km.lookup(&ch('h')), Some(Action::FocusLeft));
        assert_eq!(km.lookup(&ch('l')), Some(Action::FocusRight));
        assert_eq!(km.lookup(&ch('J')), Some(Action::FocusDown));
        assert_eq!(km.lookup(&ch('K')), Some(Action::FocusUp));
        assert_eq!(km.lookup(&key(KeyCode::Char('n'), KeyModifiers::CONTROL)), Some(Action::SelectNext));
        assert_eq!(km.lookup(&key(KeyCode::Char('f'), KeyModifiers::CONTROL)), Some(Action::PageDown));
        assert_eq!(km.lookup(&ch('o')), Some(Action::Logs));
        assert_eq!(km.lookup(&ch('c')), Some(Action::Cordon));
        assert_eq!(km.hint(Action::Logs).as_deref(), Some("o"));
    }

    #[test]
    fn key_parsing() {
        let cases = [
            ("c", KeyCode::Char('c'), KeyModifiers::NONE),
            ("C", KeyCode::Char('C'), KeyModifiers::NONE),
            ("shift-c", KeyCode::Char('C'), KeyModifiers::NONE),
            ("?", KeyCode::Char('?'), KeyModifiers::NONE),
            ("-", KeyCode::Char('-'), KeyModifiers::NONE),
            ("ctrl--", KeyCode::Char('-'), KeyModifiers::CONTROL),
            ("ctrl-c", KeyCode::Char('c'), KeyModifiers::CONTROL),
            ("CTRL-c", KeyCode::Char('c'), KeyModifiers::CONTROL),
            ("ctrl-C", KeyCode::Char('C'), KeyModifiers::CONTROL),
            ("alt-x", KeyCode::Char('x'), KeyModifiers::ALT),
            ("ctrl-alt-delete", KeyCode::Delete, KeyModifiers::CONTROL | KeyModifiers::ALT),
            ("tab", KeyCode::Tab, KeyModifiers::NONE),
            ("Enter", KeyCode::Enter, KeyModifiers::NONE),
            ("backtab", KeyCode::BackTab, KeyModifiers::NONE),
            ("shift-tab", KeyCode::BackTab, KeyModifiers::NONE),
            ("shift-up", KeyCode::Up, KeyModifiers::SHIFT),
            ("space", KeyCode::Char(' '), KeyModifiers::NONE),
            ("f1", KeyCode::F(1), KeyModifiers::NONE),
            ("f12", KeyCode::F(12), KeyModifiers::NONE),
            ("esc", KeyCode::Esc, KeyModifiers::NONE),
            ("pageup", KeyCode::PageUp, KeyModifiers::NONE),
        ];
        for (s, code, mods) in cases {
            assert_eq!(parse_key(s), Ok(KeyChord { code, mods }), "{s}");
        }
        for bad in ["", "ctrl-", "ctrl", "foo", "f0", "f13", "ctrl-ctrl-c", "shift-/", "cc", "hyper"] {
            let e = parse_key(bad).unwrap_err();
            assert!(e.contains(&format!("bad key `{bad}`")), "{bad}: {e}");
        }
        assert!(parse_key("nope").unwrap_err().contains("tab, backtab, enter"));
        assert_eq!("ctrl-c".parse::<KeyChord>(), parse_key("ctrl-c"));
    }

    #[test]
    fn key_display_round_trips() {
        let all = [
            "c",
            "G",
            "?",
            "/",
            "-",
            "ctrl--",
            "ctrl-c",
            "ctrl-C",
            "alt-x",
            "ctrl-alt-delete",
            "tab",
            "backtab",
            "enter",
            "esc",
            "space",
            "up",
            "down",
            "left",
            "right",
            "pageup",
            "pagedown",
            "home",
            "end",
            "insert",
            "backspace",
            "delete",
            "f1",
            "f12",
            "shift-up",
            "alt-left",
            "super-k",
            "é",
        ];
        for s in all {
            let k = chord(s);
            assert_eq!(k.to_string(), s);
            assert_eq!(chord(&k.to_string()), k, "{s}");
        }
        assert_eq!(chord("shift-tab").to_string(), "backtab");
        assert_eq!(chord("shift-g").to_string(), "G");
        assert_eq!(chord("Tab").to_string(), "tab");
        for km in BUILTIN_NAMES.iter().map(|n| Keymap::builtin(n).unwrap()) {
            for k in km.bindings.iter().flat_map(|b| &b.keys) {
                assert_eq!(chord(&k.to_string()), *k);
            }
        }
    }

    #[test]
    fn lookup_normalises_shift_and_backtab() {
        let km = Keymap::default();
        // Terminals report shifted letters either way.
        assert_eq!(km.lookup(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)), Some(Action::SelectLast));
        assert_eq!(km.lookup(&key(KeyCode::Char('G'), KeyModifiers::NONE)), Some(Action::SelectLast));
        assert_eq!(km.lookup(&key(KeyCode::Char('g'), KeyModifiers::SHIFT)), Some(Action::SelectLast));
        assert_eq!(km.lookup(&ch('g')), Some(Action::SelectFirst));
        // Shifted symbols carry their shift.
        assert_eq!(km.lookup(&key(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Action::Help));
        // crossterm reports shift-tab as BackTab with SHIFT.
        assert_eq!(km.lookup(&key(KeyCode::BackTab, KeyModifiers::SHIFT)), Some(Action::FocusPrev));
        assert_eq!(km.lookup(&key(KeyCode::BackTab, KeyModifiers::NONE)), Some(Action::FocusPrev));
        assert_eq!(km.lookup(&key(KeyCode::Tab, KeyModifiers::SHIFT)), Some(Action::FocusPrev));
        assert_eq!(km.lookup(&key(KeyCode::Tab, KeyModifiers::NONE)), Some(Action::FocusNext));
        // Modifiers matter otherwise.
        assert_eq!(km.lookup(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(km.lookup(&ch('c')), Some(Action::Cordon));
        assert_eq!(km.lookup(&key(KeyCode::Char('c'), KeyModifiers::ALT)), None);
        assert_eq!(km.lookup(&key(KeyCode::Left, KeyModifiers::SHIFT)), Some(Action::FocusLeft));
        assert_eq!(km.lookup(&key(KeyCode::Left, KeyModifiers::NONE)), None);
        // Releases are ignored, repeats are not.
        let release = KeyEvent::new_with_kind(KeyCode::Char('q'), KeyModifiers::NONE, KeyEventKind::Release);
        assert_eq!(km.lookup(&release), None);
        let repeat = KeyEvent::new_with_kind_and_state(KeyCode::Char('j'), KeyModifiers::NONE, KeyEventKind::Repeat, KeyEventState::NONE);
        assert_eq!(km.lookup(&repeat), Some(Action::SelectNext));
        assert_eq!(km.lookup(&ch('Y')), None);
    }

    #[test]
    fn a_standalone_keymap_must_bind_quit_help_and_cancel() {
        let km = parse(ESSENTIALS).unwrap();
        assert_eq!(km.name, "custom");
        assert_eq!(km.bindings.len(), 3);
        assert_eq!(km.lookup(&ch('q')), Some(Action::Quit));
        assert_eq!(km.lookup(&ch('c')), None);

        let e = parse_err("[[bindings]]\nkeys = [\"q\"]\naction = \"quit\"\ndesc = \"Quit\"\n");
        assert_eq!(e.line, 0, "{e}");
        assert!(e.message.contains("missing: help, cancel"), "{e}");
    }

    #[test]
    fn toml_syntax_error_has_position() {
        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = [\"q\"\n");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.column > 1, "{e}");
        assert!(e.file.ends_with("custom.toml"), "{e}");
    }

    #[test]
    fn unknown_action_lists_valid_actions() {
        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = [\"q\"]\naction = \"exit\"\ndesc = \"x\"\n");
        assert_eq!((e.line, e.column), (4, 10), "{e}");
        assert!(e.message.contains("unknown action `exit`"), "{e}");
        assert!(e.message.contains("quit, help, cancel") && e.message.contains("cycle_theme"), "{e}");
    }

    #[test]
    fn bad_key_says_what_is_accepted() {
        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = [\"q\", \"ctl-q\"]\naction = \"quit\"\ndesc = \"x\"\n");
        assert_eq!((e.line, e.column), (3, 14), "{e}");
        assert!(e.message.contains("bad key `ctl-q`") && e.message.contains("ctrl-"), "{e}");
    }

    #[test]
    fn a_key_bound_twice_points_at_the_second() {
        let e = parse_err(&format!("{ESSENTIALS}\n[[bindings]]\nkeys = [\"x\", \"shift-q\", \"Q\"]\naction = \"drain\"\ndesc = \"x\"\n"));
        let line = ESSENTIALS.lines().count() + 3;
        assert_eq!((e.line, e.column), (line, 25), "{e}");
        assert!(e.message.contains("key `Q` is already bound to `drain` on line"), "{e}");

        let e = parse_err(&format!("{ESSENTIALS}\n[[bindings]]\nkeys = [\"x\", \"escape\"]\naction = \"drain\"\ndesc = \"x\"\n"));
        assert!(e.message.contains("bad key `escape`"), "{e}");

        let e = parse_err(&format!("{ESSENTIALS}\n[[bindings]]\nkeys = [\"esc\"]\naction = \"drain\"\ndesc = \"x\"\n"));
        assert_eq!((e.line, e.column), (ESSENTIALS.lines().count() + 3, 9), "{e}");
        assert!(e.message.contains("already bound to `cancel` on line 12"), "{e}");
    }

    #[test]
    fn missing_or_empty_desc() {
        let e = parse_err("extends = \"default\"\n\n[[bindings]]\nkeys = [\"q\"]\naction = \"quit\"\n");
        assert_eq!((e.line, e.column), (3, 1), "{e}");
        assert!(e.message.contains("the binding for `quit` has no `desc`"), "{e}");

        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = [\"q\"]\naction = \"quit\"\ndesc = \" \"\n");
        assert_eq!((e.line, e.column), (5, 8), "{e}");
        assert!(e.message.contains("`desc` is empty"), "{e}");
    }

    #[test]
    fn empty_keys() {
        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = []\naction = \"quit\"\ndesc = \"x\"\n");
        assert_eq!((e.line, e.column), (3, 8), "{e}");
        assert!(e.message.contains("`quit` has no keys"), "{e}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = parse_err("extends = \"default\"\nbinding = []\n");
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.message.contains("unknown field `binding`"), "{e}");

        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = [\"q\"]\naction = \"quit\"\ndesc = \"x\"\nmode = \"normal\"\n");
        assert_eq!((e.line, e.column), (6, 1), "{e}");
        assert!(e.message.contains("unknown field `mode`"), "{e}");

        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = [\"q\"]\ndesc = \"x\"\n");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("missing field `action`"), "{e}");
    }

    #[test]
    fn name_must_match_file_name() {
        let e = parse_err("extends = \"default\"\nname = \"default\"\n");
        assert_eq!((e.line, e.column), (2, 8), "{e}");
        assert!(e.message.contains("does not match the file name `custom.toml`"), "{e}");
    }

    #[test]
    fn partial_override_of_a_builtin() {
        let dir = TempDir::new();
        // Drain moves to D; x (faults) now also cordons; c is taken from cordon.
        dir.write(
            "default",
            "[[bindings]]\nkeys = [\"D\"]\naction = \"drain\"\ndesc = \"Drain it\"\n\n\
             [[bindings]]\nkeys = [\"x\", \"C\"]\naction = \"cordon\"\ndesc = \"Cordon it\"\n\n\
             [[bindings]]\nkeys = [\"ctrl-q\"]\naction = \"quit\"\ndesc = \"Leave\"\n",
        );
        let km = Keymap::load("default", Some(dir.0.path())).unwrap();
        let builtin = Keymap::default();
        assert_eq!(km.name, "default");
        assert_eq!(km.lookup(&ch('D')), Some(Action::Drain));
        assert_eq!(km.lookup(&ch('d')), None, "the user's drain replaces the builtin's");
        assert_eq!(km.lookup(&ch('x')), Some(Action::Cordon), "the user's key wins");
        assert_eq!(km.lookup(&ch('c')), None);
        assert_eq!(km.keys_for(Action::Faults), Vec::<&KeyChord>::new(), "faults lost its only key");
        assert_eq!(km.lookup(&ch('q')), None);
        assert_eq!(km.hint(Action::Quit).as_deref(), Some("ctrl-q"));
        assert_eq!(km.bindings.iter().find(|b| b.action == Action::Drain).unwrap().desc, "Drain it");
        // The rest is the builtin, in its order.
        assert_eq!(km.lookup(&ch('j')), Some(Action::SelectNext));
        assert_eq!(km.bindings[0].action, Action::Quit);
        assert_eq!(km.bindings.len(), builtin.bindings.len() - 1);
        // Every key is bound once.
        let mut seen = HashSet::new();
        assert!(km.bindings.iter().flat_map(|b| &b.keys).all(|k| seen.insert(*k)));
        // The vim builtin is untouched.
        assert_eq!(Keymap::load("vim", Some(dir.0.path())).unwrap(), Keymap::builtin("vim").unwrap());
    }

    #[test]
    fn taking_keys_from_other_actions_keeps_their_remaining_keys() {
        let dir = TempDir::new();
        dir.write("mine", "extends = \"default\"\n[[bindings]]\nkeys = [\"j\"]\naction = \"zoom\"\ndesc = \"Zoom\"\n");
        let km = Keymap::load("mine", Some(dir.0.path())).unwrap();
        assert_eq!(km.lookup(&ch('j')), Some(Action::Zoom));
        assert_eq!(km.lookup(&ch('z')), None);
        assert_eq!(km.keys_for(Action::SelectNext), [&chord("down")]);
    }

    #[test]
    fn an_override_cannot_take_the_last_key_of_quit() {
        let dir = TempDir::new();
        let path = dir.write("default", "[[bindings]]\nkeys = [\"q\", \"ctrl-c\"]\naction = \"drain\"\ndesc = \"x\"\n");
        let e = Keymap::load_file(&path, Some(dir.0.path())).unwrap_err();
        assert_eq!((e.line, e.column), (2, 14), "{e}");
        assert!(e.message.contains("no key is left for `quit`"), "{e}");
        assert!(e.message.contains("takes `ctrl-c`"), "{e}");
    }

    #[test]
    fn extends_follows_user_keymaps() {
        let dir = TempDir::new();
        dir.write("vim", "[[bindings]]\nkeys = [\"O\"]\naction = \"logs\"\ndesc = \"Logs\"\n");
        dir.write(
            "mine",
            "extends = \"vim\"\ndescription = \"m\"\n[[bindings]]\nkeys = [\"ctrl-t\"]\naction = \"timeline\"\ndesc = \"T\"\n",
        );
        let km = Keymap::load("mine", Some(dir.0.path())).unwrap();
        assert_eq!(km.name, "mine");
        assert_eq!(km.description, "m");
        assert_eq!(km.lookup(&ch('O')), Some(Action::Logs));
        assert_eq!(km.lookup(&ch('o')), None);
        assert_eq!(km.lookup(&key(KeyCode::Char('t'), KeyModifiers::CONTROL)), Some(Action::Timeline));
        assert_eq!(km.lookup(&ch('h')), Some(Action::FocusLeft));
        assert_eq!(Keymap::available(Some(dir.0.path())), ["default", "vim", "mine"]);

        // extends naming itself means the builtin.
        dir.write("default", "extends = \"default\"\n");
        assert_eq!(Keymap::load("default", Some(dir.0.path())).unwrap(), Keymap::default());
    }

    #[test]
    fn extends_cycle_and_unknown_base() {
        let dir = TempDir::new();
        dir.write("a", "extends = \"b\"\n");
        dir.write("b", "\nextends = \"a\"\n");
        let e = Keymap::load("a", Some(dir.0.path())).unwrap_err();
        assert!(e.file.ends_with("b.toml"), "{e}");
        assert_eq!((e.line, e.column), (2, 11), "{e}");
        assert!(e.message.contains("cycle: a -> b -> a"), "{e}");

        let e = parse_err("extends = \"emacs\"\n");
        assert_eq!((e.line, e.column), (1, 11), "{e}");
        assert!(e.message.contains("unknown keymap `emacs`; available keymaps: default, vim, custom"), "{e}");

        let e = parse_err("extends = \"custom\"\n");
        assert!(e.message.contains("extends itself"), "{e}");
    }

    #[test]
    fn unknown_keymap_name_lists_available() {
        let e = Keymap::load("emacs", None).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e.message.contains("unknown keymap `emacs`; available keymaps: default, vim"), "{e}");
    }
}
