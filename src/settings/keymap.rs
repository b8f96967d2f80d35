//! Keymaps: which keys trigger which [`Action`] in which [`Layer`], read from TOML files.
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
//!
//! [[bindings]]
//! layer = "confirm"          # optional; "main" when not given
//! keys = ["ctrl-y"]
//! action = "confirm_yes"
//! desc = "Go ahead"
//! ```
//!
//! Layers: `main` (the panels), and one per dialog: `confirm`, `progress`, `faults`,
//! `logs`, `picker`, `help`. A key is looked up in the layer of what is on screen. A
//! dialog's commands (`confirm_yes`, `logs_pause`, ...) can only be bound in their
//! dialog's layer, the main screen's actions (`drain`, `zoom`, ...) only in `main`
//! (`log_sources` also in `logs`), and the generic actions (`quit`, `help`, `cancel`,
//! `confirm` and the selection moves) in any layer.
//!
//! Fallback: when a dialog's layer does not bind a key, the key is looked up in `main`
//! and counts only if it is bound there to a generic action or to the action that opens
//! the dialog (`logs`, `faults`, `log_sources`, `help`: pressed again, it closes it).
//! Nothing else falls through, so `d` in the confirmation is the drain option toggle,
//! never a new drain. A dialog layer binding a key hides main's binding of that key.
//!
//! A user file starts from its `extends` keymap if it has one, else from the builtin
//! keymap of the same name if there is one, else it stands alone (and must bind at
//! least `quit`, `help` and `cancel`). Bindings in the file replace every binding of
//! their action in their layer of the base, and the keys they use are taken away from
//! other actions of that layer of the base, so the user's binding always wins. `extends`
//! naming the file's own name means the builtin keymap.
//!
//! Checks: a key bound twice within one layer of a file is an error (at the second
//! binding's line); after layering, `quit`, `help` and `cancel` must have a key in
//! `main`, and `confirm_no` or `cancel` must be reachable in `confirm`. `confirm_yes` is never
//! Enter, Esc or Ctrl-C (nor Ctrl-M, Ctrl-J, Ctrl-[, which arrive as them), nor a key `main` binds to
//! `quit`, `cancel` or `command_line` (an Enter typed ahead, or a key for backing out, must not carry
//! out an operation).
//!
//! Key syntax: a single character (`c`, `C` is shift-c, `?`, `/`), or a named key
//! (`tab`, `backtab`, `enter`, `esc`, `space`, `up`, `down`, `left`, `right`, `pageup`,
//! `pagedown`, `home`, `end`, `insert`, `backspace`, `delete`, `f1`..`f12`), optionally
//! prefixed by modifiers: `ctrl-c`, `alt-x`, `shift-tab` (= `backtab`), `ctrl-alt-up`.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use serde::Deserialize;
use toml::Spanned;

use super::layered::{self, Layered, Source};
use crate::action::{Action, Layer};
use crate::error::FileError;

mod chord;
use chord::never_goes_ahead;
pub use chord::{KeyChord, parse_key};

/// Some keys, the action they trigger in a layer, and what it does (shown in help).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub layer: Layer,
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

/// What must stay reachable after layering: in each layer, one of the actions.
const REACHABLE: &[(Layer, &[Action])] = &[
    (Layer::Main, &[Action::Quit]),
    (Layer::Main, &[Action::Help]),
    (Layer::Main, &[Action::Cancel]),
    (Layer::Confirm, &[Action::ConfirmNo, Action::Cancel]),
];

/// Whether a dialog takes `action` from the main layer for keys it does not bind itself.
fn falls_back(layer: Layer, action: Action) -> bool {
    layer != Layer::Main && (action.is_generic() || layer.opener() == Some(action))
}

impl Keymap {
    /// The action bound to the key of `ev` in the main layer, if any. Key releases are ignored.
    pub fn lookup(&self, ev: &KeyEvent) -> Option<Action> {
        self.action(Layer::Main, ev)
    }

    /// The action the key of `ev` triggers in `layer`: the layer's own binding, else (in a
    /// dialog) main's binding if it falls back (see the module docs). Key releases are ignored.
    pub fn action(&self, layer: Layer, ev: &KeyEvent) -> Option<Action> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        self.chord_action(layer, &KeyChord::from_event(ev))
    }

    /// The action `chord` triggers in `layer`.
    pub fn chord_action(&self, layer: Layer, chord: &KeyChord) -> Option<Action> {
        if let Some(a) = self.bound(layer, chord) {
            return Some(a);
        }
        self.bound(Layer::Main, chord).filter(|a| falls_back(layer, *a))
    }

    /// The action `layer` itself binds `chord` to.
    fn bound(&self, layer: Layer, chord: &KeyChord) -> Option<Action> {
        self.bindings.iter().find(|b| b.layer == layer && b.keys.contains(chord)).map(|b| b.action)
    }

    /// The bindings of one layer, in file order.
    pub fn layer(&self, layer: Layer) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().filter(move |b| b.layer == layer)
    }

    /// Every key that triggers `action` in `layer`, in file order: the layer's own keys, then
    /// the keys it takes from main by fallback.
    pub fn keys_for(&self, layer: Layer, action: Action) -> Vec<&KeyChord> {
        let own = self.layer(layer).filter(|b| b.action == action).flat_map(|b| &b.keys);
        let mut keys: Vec<&KeyChord> = own.collect();
        if falls_back(layer, action) {
            let main = self.layer(Layer::Main).filter(|b| b.action == action).flat_map(|b| &b.keys);
            keys.extend(main.filter(|k| self.bound(layer, k).is_none()));
        }
        keys
    }

    /// The first key that triggers `action` in `layer`, as text (`"c"`, `"ctrl-c"`), for hints.
    pub fn hint(&self, layer: Layer, action: Action) -> Option<String> {
        self.keys_for(layer, action).first().map(|k| k.to_string())
    }

    /// Up to `n` keys that trigger `action` in `layer`, joined by `/` (`"n/esc"`), for hints.
    /// A capital letter is left out after its small one: `y` stands for `y` and `Y`.
    pub fn hints(&self, layer: Layer, action: Action, n: usize) -> Option<String> {
        let keys = self.keys_for(layer, action);
        let mut shown: Vec<&KeyChord> = Vec::new();
        for k in keys {
            let small = match k.code {
                KeyCode::Char(c) if c.is_uppercase() => c.to_lowercase().next().map(|c| KeyChord { code: KeyCode::Char(c), mods: k.mods }),
                _ => None,
            };
            if !shown.iter().any(|s| Some(**s) == small) && shown.len() < n {
                shown.push(k);
            }
        }
        (!shown.is_empty()).then(|| shown.iter().map(|k| k.to_string()).collect::<Vec<_>>().join("/"))
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

    /// A keymap from `src`, the text of `path` (not read); `extends` names a builtin.
    pub fn parse_source(path: &Path, src: &str) -> Result<Keymap, FileError> {
        layered::from_source(path, src)
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
    layer: Option<Spanned<String>>,
    keys: Spanned<Vec<Spanned<String>>>,
    action: Spanned<String>,
    desc: Option<Spanned<String>>,
}

/// A validated binding with the position of each key, for merge and reachability errors.
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
        let user_keys: Vec<(Layer, KeyChord, Range<usize>)> = parsed
            .iter()
            .flat_map(|p| p.binding.keys.iter().zip(&p.key_spans).map(|(k, span)| (p.binding.layer, *k, span.clone())))
            .collect();
        let mut description = file.description.unwrap_or_default();
        let bindings = match &base {
            Some(base) => {
                if description.is_empty() {
                    description.clone_from(&base.description);
                }
                merge(base, parsed)
            }
            None => {
                let bindings: Vec<Binding> = parsed.into_iter().map(|p| p.binding).collect();
                let missing: Vec<&str> = ESSENTIAL
                    .iter()
                    .filter(|a| !bindings.iter().any(|b| b.layer == Layer::Main && b.action == **a))
                    .map(|a| a.name())
                    .collect();
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
        let keymap = Keymap { name: stem.to_owned(), description, bindings };
        check_reachable(&keymap, base.as_ref(), &user_keys, at)?;
        // the go-ahead is never a key that backs out or starts a command line on the main screen
        // (`:` typed over a confirmation cancels it; `q` and `esc` leave)
        for key in keymap.keys_for(Layer::Confirm, Action::ConfirmYes) {
            if let Some(a) = keymap.bound(Layer::Main, key).filter(|a| matches!(a, Action::Quit | Action::Cancel | Action::CommandLine)) {
                let span = user_keys.iter().find(|(l, k, _)| *l == Layer::Confirm && k == key).map(|(_, _, s)| s.clone());
                let message = format!(
                    "`{key}` cannot be `confirm_yes`: it is `{}` on the main screen, a key people press to back out or type a command",
                    a.name()
                );
                return Err(match span {
                    Some(span) => at.error(span, message),
                    None => FileError::whole(at.path, message),
                });
            }
        }
        Ok(keymap)
    }
}

/// Validates every binding of a file: known layer and action, an action that fits the layer,
/// good keys, no key twice in a layer, a description.
fn parse_bindings(bindings: &[Spanned<BindingFile>], at: &Source<'_>) -> Result<Vec<Parsed>, FileError> {
    let mut seen: HashMap<(Layer, KeyChord), (Action, Range<usize>)> = HashMap::new();
    let mut out = Vec::with_capacity(bindings.len());
    for spanned in bindings {
        let b = spanned.get_ref();
        let action = Action::from_name(b.action.get_ref()).ok_or_else(|| {
            let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
            at.error(b.action.span(), format!("unknown action `{}`; valid actions: {}", b.action.get_ref(), names.join(", ")))
        })?;
        let layer = match &b.layer {
            None => Layer::Main,
            Some(l) => Layer::from_name(l.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
                at.error(l.span(), format!("unknown layer `{}`; valid layers: {}", l.get_ref(), names.join(", ")))
            })?,
        };
        if !action.fits(layer) {
            let span = b.layer.as_ref().map(|l| l.span()).unwrap_or_else(|| b.action.span());
            let home = action.home();
            return Err(at.error(
                span,
                format!(
                    "`{}` cannot be bound in layer `{}`: it belongs to layer `{}` (layer = \"{}\")",
                    action.name(),
                    layer.name(),
                    home.name(),
                    home.name()
                ),
            ));
        }
        if b.keys.get_ref().is_empty() {
            return Err(at.error(b.keys.span(), format!("`{}` has no keys; give at least one", action.name())));
        }
        let mut keys = Vec::new();
        let mut key_spans = Vec::new();
        for key in b.keys.get_ref() {
            let chord = parse_key(key.get_ref()).map_err(|m| at.error(key.span(), m))?;
            if action == Action::ConfirmYes && never_goes_ahead(&chord) {
                return Err(at.error(
                    key.span(),
                    format!(
                        "`{chord}` cannot be `confirm_yes`: Enter comes typed ahead (after a command line or a filter), \
                         Esc and Ctrl-C are how people back out; a go-ahead must be a key pressed for it"
                    ),
                ));
            }
            if let Some((other, first)) = seen.get(&(layer, chord)) {
                let in_layer = if layer == Layer::Main { String::new() } else { format!(" in layer `{}`", layer.name()) };
                return Err(at.error(
                    key.span(),
                    format!("key `{chord}` is already bound to `{}`{in_layer} on line {}", other.name(), at.line(first)),
                ));
            }
            seen.insert((layer, chord), (action, key.span()));
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
        out.push(Parsed { binding: Binding { layer, keys, action, desc }, key_spans });
    }
    Ok(out)
}

/// Applies a file's bindings on top of `base`: they replace their actions' bindings in their
/// layer in place, and their keys are removed from the base's other actions of that layer.
fn merge(base: &Keymap, user: Vec<Parsed>) -> Vec<Binding> {
    let user_keys: HashSet<(Layer, KeyChord)> = user.iter().flat_map(|p| p.binding.keys.iter().map(|k| (p.binding.layer, *k))).collect();
    let mut pending: Vec<Option<Binding>> = user.into_iter().map(|p| Some(p.binding)).collect();
    let mut take = |layer: Layer, action: Action| -> Vec<Binding> {
        pending.iter_mut().filter(|b| b.as_ref().is_some_and(|b| b.layer == layer && b.action == action)).filter_map(Option::take).collect()
    };

    let mut out = Vec::with_capacity(base.bindings.len());
    let mut replaced = HashSet::new();
    for binding in &base.bindings {
        let id = (binding.layer, binding.action);
        if replaced.contains(&id) {
            continue;
        }
        let mine = take(binding.layer, binding.action);
        if !mine.is_empty() {
            replaced.insert(id);
            out.extend(mine);
            continue;
        }
        let mut binding = binding.clone();
        binding.keys.retain(|k| !user_keys.contains(&(binding.layer, *k)));
        if !binding.keys.is_empty() {
            out.push(binding);
        }
    }
    out.extend(pending.into_iter().flatten());
    out
}

/// Checks that what must stay reachable ([`REACHABLE`]) has a key. When a file's binding took
/// the last key the base had for it, the error points at that binding.
fn check_reachable(
    keymap: &Keymap,
    base: Option<&Keymap>,
    user_keys: &[(Layer, KeyChord, Range<usize>)],
    at: &Source<'_>,
) -> Result<(), FileError> {
    for &(layer, any) in REACHABLE {
        if any.iter().any(|a| !keymap.keys_for(layer, *a).is_empty()) {
            continue;
        }
        let names: Vec<String> = any.iter().map(|a| format!("`{}`", a.name())).collect();
        let (in_layer, also) = match layer {
            Layer::Main => (String::new(), String::new()),
            l => (format!(" in layer `{}`", l.name()), format!(" in layer `{}`", l.name())),
        };
        let message = format!("no key is left for {}{in_layer}", names.join(" or "));
        let taken = base.and_then(|base| {
            let had: Vec<KeyChord> = any.iter().flat_map(|a| base.keys_for(layer, *a)).copied().collect();
            let (_, key, span) = user_keys.iter().rev().find(|(l, k, _)| had.contains(k) && (*l == layer || *l == Layer::Main))?;
            Some((&base.name, *key, span.clone()))
        });
        return Err(match taken {
            Some((base, key, span)) => at.error(
                span,
                format!(
                    "{message}: this binding takes `{key}`, its last key in keymap `{base}`; \
                     also bind `{}` to another key{also}",
                    any[0].name()
                ),
            ),
            None => FileError::whole(at.path, message),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::{KeyEventState, KeyModifiers};
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
                let home = action.home();
                assert!(km.layer(home).any(|b| b.action == action), "{name} does not bind {} in layer {}", action.name(), home.name());
            }
            for &layer in Layer::ALL {
                assert!(km.layer(layer).next().is_some(), "{name} binds nothing in layer {}", layer.name());
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
            ("m", Action::EtcdMoveLeader),
            ("D", Action::HaproxyDrain),
            ("U", Action::HaproxyReady),
            ("F", Action::EtcdDefrag),
            ("A", Action::EtcdDisarm),
            ("S", Action::EtcdSnapshot),
            ("M", Action::Maintenance),
            ("E", Action::MaintenanceEnd),
            ("l", Action::Logs),
            ("x", Action::Faults),
            ("p", Action::Pause),
            ("T", Action::CycleTheme),
        ];
        for (k, action) in expect {
            let c = chord(k);
            assert_eq!(km.lookup(&key(c.code, c.mods)), Some(action), "{k}");
        }
        assert_eq!(km.hint(Layer::Main, Action::Cordon).as_deref(), Some("c"));
        assert_eq!(km.hint(Layer::Main, Action::Quit).as_deref(), Some("q"));
        assert_eq!(km.keys_for(Layer::Main, Action::Quit), [&chord("q"), &chord("ctrl-c")]);
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
        assert_eq!(km.hint(Layer::Main, Action::Logs).as_deref(), Some("o"));
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
        for bad in ["", "ctrl-", "ctrl", "foo", "f0", "f13", "ctrl-ctrl-c", "shift-/", "cc", "hyper", "hyper-q", "super-q", "meta-x"] {
            let e = parse_key(bad).unwrap_err();
            assert!(e.contains(&format!("bad key `{bad}`")), "{bad}: {e}");
        }
        assert!(parse_key("hyper-q").unwrap_err().contains("use ctrl-, alt- or shift-"));
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
    fn enter_esc_and_ctrl_c_never_go_ahead() {
        for (keys, col, bad) in [
            ("\"enter\"", 9, "enter"),
            ("\"y\", \"esc\"", 14, "esc"),
            ("\"ctrl-c\"", 9, "ctrl-c"),
            ("\"ctrl-[\"", 9, "ctrl-["),
            ("\"ctrl-m\"", 9, "ctrl-m"),
            ("\":\"", 9, ":"),
            ("\"q\"", 9, "q"),
        ] {
            let e = parse_err(&format!(
                "extends = \"default\"\n[[bindings]]\nlayer = \"confirm\"\nkeys = [{keys}]\naction = \"confirm_yes\"\ndesc = \"x\"\n"
            ));
            assert_eq!((e.line, e.column), (4, col), "{e}");
            assert!(e.message.contains(&format!("`{bad}` cannot be `confirm_yes`")), "{e}");
        }
        // a go-ahead of its own, with Ctrl, is fine
        assert!(
            parse(
                "extends = \"default\"\n[[bindings]]\nlayer = \"confirm\"\nkeys = [\"ctrl-y\"]\naction = \"confirm_yes\"\ndesc = \"x\"\n"
            )
            .is_ok()
        );
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
        assert!(e.message.contains("unknown key `binding`"), "{e}");

        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = [\"q\"]\naction = \"quit\"\ndesc = \"x\"\nmode = \"normal\"\n");
        assert_eq!((e.line, e.column), (6, 1), "{e}");
        assert!(e.message.contains("unknown key `mode`"), "{e}");

        let e = parse_err("extends = \"default\"\n[[bindings]]\nkeys = [\"q\"]\ndesc = \"x\"\n");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("missing key `action`"), "{e}");
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
        assert_eq!(km.keys_for(Layer::Main, Action::Faults), Vec::<&KeyChord>::new(), "faults lost its only key");
        assert_eq!(km.lookup(&ch('q')), None);
        assert_eq!(km.hint(Layer::Main, Action::Quit).as_deref(), Some("ctrl-q"));
        assert_eq!(km.bindings.iter().find(|b| b.action == Action::Drain).unwrap().desc, "Drain it");
        // The rest is the builtin, in its order.
        assert_eq!(km.lookup(&ch('j')), Some(Action::SelectNext));
        assert_eq!(km.bindings[0].action, Action::Quit);
        // faults and haproxy_drain (whose D the user's drain took) lost their only keys
        assert_eq!(km.keys_for(Layer::Main, Action::HaproxyDrain), Vec::<&KeyChord>::new());
        assert_eq!(km.bindings.len(), builtin.bindings.len() - 2);
        // Every key is bound once in its layer.
        let mut seen = HashSet::new();
        assert!(km.bindings.iter().flat_map(|b| b.keys.iter().map(move |k| (b.layer, *k))).all(|k| seen.insert(k)));
        // The dialogs keep their keys: `d` and `c` in the confirmation are not the main layer's.
        assert_eq!(km.action(Layer::Confirm, &ch('d')), Some(Action::DrainToggleEmptyDir));
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
        assert_eq!(km.keys_for(Layer::Main, Action::SelectNext), [&chord("down")]);
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

    fn layer_key(layer: Layer, k: &str) -> Option<Action> {
        Keymap::default().chord_action(layer, &chord(k))
    }

    #[test]
    fn dialog_layers_have_their_own_keys_and_fall_back_only_for_generic_ones() {
        let km = Keymap::default();
        assert_eq!(layer_key(Layer::Confirm, "y"), Some(Action::ConfirmYes));
        assert_eq!(layer_key(Layer::Confirm, "Y"), Some(Action::ConfirmYes));
        assert_eq!(layer_key(Layer::Confirm, "esc"), Some(Action::ConfirmNo));
        assert_eq!(layer_key(Layer::Confirm, "d"), Some(Action::DrainToggleEmptyDir));
        assert_eq!(layer_key(Layer::Confirm, "f"), Some(Action::DrainToggleUnmanaged));
        assert_eq!(layer_key(Layer::Confirm, "e"), Some(Action::EmergencyFailover));
        // Generic actions come from main; the rest of main does not reach a dialog.
        assert_eq!(layer_key(Layer::Confirm, "enter"), Some(Action::Confirm));
        assert_eq!(layer_key(Layer::Confirm, "q"), Some(Action::Quit));
        assert_eq!(layer_key(Layer::Confirm, "c"), None, "no cordon from inside a confirmation");
        assert_eq!(layer_key(Layer::Confirm, "x"), None);
        assert_eq!(layer_key(Layer::Progress, "c"), Some(Action::CancelOperation));
        assert_eq!(layer_key(Layer::Faults, "enter"), Some(Action::InjectFault));
        assert_eq!(layer_key(Layer::Logs, "G"), Some(Action::LogsFollow), "the layer hides main's select_last");
        assert_eq!(layer_key(Layer::Logs, "j"), Some(Action::SelectNext));
        assert_eq!(layer_key(Layer::Logs, "a"), Some(Action::LogSources));
        assert_eq!(layer_key(Layer::Picker, "p"), Some(Action::PickerTogglePrevious));
        assert_eq!(layer_key(Layer::Help, "space"), Some(Action::PageDown));
        // The key that opened a dialog closes it again.
        assert_eq!(layer_key(Layer::Logs, "l"), Some(Action::Logs));
        assert_eq!(layer_key(Layer::Faults, "x"), Some(Action::Faults));
        assert_eq!(layer_key(Layer::Picker, "a"), Some(Action::LogSources));
        assert_eq!(layer_key(Layer::Picker, "l"), None, "only the picker's own opener");
        // The main layer sees none of the dialogs' keys.
        assert_eq!(km.lookup(&ch('y')), None);
        assert_eq!(km.lookup(&ch('d')), Some(Action::Drain));
        // Keys for hints: the layer's own, then main's by fallback unless the layer took the key.
        assert_eq!(km.keys_for(Layer::Confirm, Action::ConfirmNo), [&chord("n"), &chord("N"), &chord("esc")]);
        assert_eq!(km.keys_for(Layer::Confirm, Action::Cancel), Vec::<&KeyChord>::new(), "esc is confirm_no there");
        assert_eq!(km.keys_for(Layer::Logs, Action::SelectNext), [&chord("down"), &chord("j")]);
        assert_eq!(km.keys_for(Layer::Logs, Action::SelectLast), Vec::<&KeyChord>::new(), "G and end follow instead");
        assert_eq!(km.keys_for(Layer::Confirm, Action::Drain), Vec::<&KeyChord>::new());
        assert_eq!(km.hints(Layer::Confirm, Action::ConfirmNo, 2).as_deref(), Some("n/esc"), "N goes with n");
        assert_eq!(km.hints(Layer::Confirm, Action::ConfirmYes, 3).as_deref(), Some("y"));
        assert_eq!(km.hints(Layer::Main, Action::Quit, 3).as_deref(), Some("q/ctrl-c"));
        assert_eq!(km.hints(Layer::Confirm, Action::Drain, 1), None);
        // Releases are ignored in every layer.
        let release = KeyEvent::new_with_kind(KeyCode::Char('y'), KeyModifiers::NONE, KeyEventKind::Release);
        assert_eq!(km.action(Layer::Confirm, &release), None);
    }

    #[test]
    fn layer_field_is_parsed_and_checked() {
        let km = parse(&format!(
            "{ESSENTIALS}\n[[bindings]]\nlayer = \"confirm\"\nkeys = [\"ctrl-y\"]\naction = \"confirm_yes\"\ndesc = \"Yes\"\n\n\
             [[bindings]]\nlayer = \"main\"\nkeys = [\"D\"]\naction = \"drain\"\ndesc = \"Drain\"\n"
        ))
        .unwrap();
        assert_eq!(km.chord_action(Layer::Confirm, &chord("ctrl-y")), Some(Action::ConfirmYes));
        assert_eq!(km.lookup(&key(KeyCode::Char('y'), KeyModifiers::CONTROL)), None);
        assert_eq!(km.lookup(&ch('D')), Some(Action::Drain));
        assert_eq!(km.layer(Layer::Confirm).count(), 1);
        assert_eq!(km.layer(Layer::Main).count(), 4);

        let e =
            parse_err(&format!("{ESSENTIALS}\n[[bindings]]\nlayer = \"dialog\"\nkeys = [\"y\"]\naction = \"confirm_yes\"\ndesc = \"x\"\n"));
        assert_eq!((e.line, e.column), (ESSENTIALS.lines().count() + 3, 9), "{e}");
        assert!(e.message.contains("unknown layer `dialog`; valid layers: main, confirm, progress, faults, logs, picker, help"), "{e}");

        // A dialog's command outside its layer: the error points at `action` (no layer given) ...
        let e = parse_err(&format!("{ESSENTIALS}\n[[bindings]]\nkeys = [\"y\"]\naction = \"confirm_yes\"\ndesc = \"x\"\n"));
        assert_eq!((e.line, e.column), (ESSENTIALS.lines().count() + 4, 10), "{e}");
        assert!(e.message.contains("`confirm_yes` cannot be bound in layer `main`: it belongs to layer `confirm`"), "{e}");
        // ... or at `layer`; and the main screen's actions stay in main.
        let e = parse_err(&format!("{ESSENTIALS}\n[[bindings]]\nlayer = \"logs\"\nkeys = [\"d\"]\naction = \"drain\"\ndesc = \"x\"\n"));
        assert_eq!((e.line, e.column), (ESSENTIALS.lines().count() + 3, 9), "{e}");
        assert!(e.message.contains("`drain` cannot be bound in layer `logs`: it belongs to layer `main`"), "{e}");
        // Generic actions fit every layer, log_sources fits the log viewer too.
        parse(&format!(
            "{ESSENTIALS}\n[[bindings]]\nlayer = \"faults\"\nkeys = [\"j\"]\naction = \"select_next\"\ndesc = \"x\"\n\n\
             [[bindings]]\nlayer = \"logs\"\nkeys = [\"+\"]\naction = \"log_sources\"\ndesc = \"x\"\n"
        ))
        .unwrap();
    }

    #[test]
    fn two_actions_on_one_key_in_a_layer_is_an_error_with_its_line() {
        let text = format!(
            "{ESSENTIALS}\n[[bindings]]\nlayer = \"logs\"\nkeys = [\"s\"]\naction = \"logs_save\"\ndesc = \"Save\"\n\n\
             [[bindings]]\nlayer = \"logs\"\nkeys = [\"x\", \"s\"]\naction = \"logs_pause\"\ndesc = \"Pause\"\n"
        );
        let e = parse_err(&text);
        let first = ESSENTIALS.lines().count() + 4;
        assert_eq!((e.line, e.column), (first + 6, 14), "{e}");
        assert!(e.message.contains(&format!("key `s` is already bound to `logs_save` in layer `logs` on line {first}")), "{e}");
        assert!(e.to_string().contains(&format!("custom.toml:{}:14:", first + 6)), "{e}");
        // The same key in two layers is fine: `q` quits, and pauses the log viewer.
        let km = parse(&format!("{ESSENTIALS}\n[[bindings]]\nlayer = \"logs\"\nkeys = [\"q\"]\naction = \"logs_pause\"\ndesc = \"P\"\n"))
            .unwrap();
        assert_eq!(km.lookup(&ch('q')), Some(Action::Quit));
        assert_eq!(km.action(Layer::Logs, &ch('q')), Some(Action::LogsPause));
    }

    #[test]
    fn an_override_in_a_layer_replaces_that_layer_only() {
        let dir = TempDir::new();
        // confirm_yes moves to ctrl-y; `d` in the confirmation now says no (taken from the drain toggle).
        dir.write(
            "default",
            "[[bindings]]\nlayer = \"confirm\"\nkeys = [\"ctrl-y\"]\naction = \"confirm_yes\"\ndesc = \"Yes, really\"\n\n\
             [[bindings]]\nlayer = \"confirm\"\nkeys = [\"n\", \"d\"]\naction = \"confirm_no\"\ndesc = \"No\"\n",
        );
        let km = Keymap::load("default", Some(dir.0.path())).unwrap();
        let ctrl_y = key(KeyCode::Char('y'), KeyModifiers::CONTROL);
        assert_eq!(km.action(Layer::Confirm, &ctrl_y), Some(Action::ConfirmYes));
        assert_eq!(km.action(Layer::Confirm, &ch('y')), None);
        assert_eq!(km.action(Layer::Confirm, &ch('Y')), None);
        assert_eq!(km.action(Layer::Confirm, &ch('d')), Some(Action::ConfirmNo));
        assert_eq!(km.keys_for(Layer::Confirm, Action::DrainToggleEmptyDir), Vec::<&KeyChord>::new());
        assert_eq!(km.action(Layer::Confirm, &ch('f')), Some(Action::DrainToggleUnmanaged), "the rest of the layer stays");
        // esc was confirm_no's; now it is main's cancel again, by fallback.
        assert_eq!(km.action(Layer::Confirm, &key(KeyCode::Esc, KeyModifiers::NONE)), Some(Action::Cancel));
        assert_eq!(km.hints(Layer::Confirm, Action::ConfirmYes, 2).as_deref(), Some("ctrl-y"));
        assert_eq!(km.layer(Layer::Confirm).find(|b| b.action == Action::ConfirmYes).unwrap().desc, "Yes, really");
        // The main layer is untouched.
        assert_eq!(km.lookup(&ch('d')), Some(Action::Drain));
        assert_eq!(km.layer(Layer::Main).count(), Keymap::default().layer(Layer::Main).count());
    }

    #[test]
    fn the_confirmation_must_keep_a_way_out() {
        let dir = TempDir::new();
        // Taking n, N and esc for another action leaves neither confirm_no nor (esc being bound) cancel.
        let path = dir.write(
            "default",
            "[[bindings]]\nlayer = \"confirm\"\nkeys = [\"e\", \"n\", \"N\", \"esc\"]\naction = \"emergency_failover\"\ndesc = \"x\"\n",
        );
        let e = Keymap::load_file(&path, Some(dir.0.path())).unwrap_err();
        assert_eq!((e.line, e.column), (3, 24), "{e}");
        assert!(e.message.contains("no key is left for `confirm_no` or `cancel` in layer `confirm`"), "{e}");
        assert!(e.message.contains("takes `esc`"), "{e}");
        // A standalone keymap reaches cancel in the confirmation through main's esc.
        let km = parse(ESSENTIALS).unwrap();
        assert_eq!(km.keys_for(Layer::Confirm, Action::Cancel), [&chord("esc")]);
        // ... unless the confirmation takes esc for something else.
        let e = parse_err(&format!(
            "{ESSENTIALS}\n[[bindings]]\nlayer = \"confirm\"\nkeys = [\"esc\"]\naction = \"emergency_failover\"\ndesc = \"x\"\n"
        ));
        assert_eq!(e.line, 0, "{e}");
        assert!(e.message.contains("no key is left for `confirm_no` or `cancel` in layer `confirm`"), "{e}");
    }

    #[test]
    fn unknown_keymap_name_lists_available() {
        let e = Keymap::load("emacs", None).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e.message.contains("unknown keymap `emacs`; available keymaps: default, vim"), "{e}");
    }
}
