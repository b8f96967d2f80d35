//! Themes: semantic roles mapped to styles, read from TOML files.
//!
//! Widgets never name colours; they ask the theme for the style of a [`Role`].
//! Four themes are built in (`themes/*.toml`, embedded at compile time). A user can
//! add or override themes in `<config dir>/themes/NAME.toml`:
//!
//! ```toml
//! name = "dark"                 # optional; must match the file name
//! description = "My dark"       # optional
//! extends = "light"             # optional: start from another theme
//! [roles]
//! warn = { fg = "yellow", modifiers = ["bold"] }
//! critical = { fg = "white", bg = "#d70000", modifiers = ["bold", "underlined"] }
//! ```
//!
//! A user file starts from its `extends` theme if it has one, else from the builtin
//! theme of the same name if there is one (so `themes/dark.toml` may override a few
//! roles only), else it must define every role. A role given in a file replaces that
//! role's whole style. `extends` naming the file's own name means the builtin theme.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

use super::layered::{self, Layered, Source};
use crate::error::FileError;

/// What a piece of the screen means; themes map each role to a style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Ordinary text.
    Text,
    /// Secondary text: labels, units, help descriptions.
    Muted,
    /// Highlighted values and interactive elements.
    Accent,
    /// Panel titles.
    Title,
    /// Borders of unfocused panels.
    Border,
    /// The border of the focused panel.
    BorderFocus,
    /// Table headers.
    Header,
    /// The footer bar.
    Footer,
    /// Key hints (in the footer and in help).
    Key,
    /// The selected row.
    Selection,
    /// Healthy.
    Ok,
    /// Degraded, needs attention.
    Warn,
    /// Broken, act now.
    Critical,
    /// Data that has not been refreshed recently.
    Stale,
    /// State that could not be determined.
    Unknown,
    /// The "LIVE" mode badge.
    BadgeLive,
    /// The "READ-ONLY" mode badge.
    BadgeReadonly,
    /// The "DEMO" mode badge.
    BadgeDemo,
    /// The "DRILL" mode badge.
    BadgeDrill,
    /// Dialog background and text.
    Dialog,
    /// Gauges and bars.
    Gauge,
}

impl Role {
    /// Number of roles.
    pub const COUNT: usize = 21;

    /// Every role, in file order.
    pub const ALL: [Role; Role::COUNT] = [
        Role::Text,
        Role::Muted,
        Role::Accent,
        Role::Title,
        Role::Border,
        Role::BorderFocus,
        Role::Header,
        Role::Footer,
        Role::Key,
        Role::Selection,
        Role::Ok,
        Role::Warn,
        Role::Critical,
        Role::Stale,
        Role::Unknown,
        Role::BadgeLive,
        Role::BadgeReadonly,
        Role::BadgeDemo,
        Role::BadgeDrill,
        Role::Dialog,
        Role::Gauge,
    ];

    /// The snake_case name used in theme files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Text => "text",
            Role::Muted => "muted",
            Role::Accent => "accent",
            Role::Title => "title",
            Role::Border => "border",
            Role::BorderFocus => "border_focus",
            Role::Header => "header",
            Role::Footer => "footer",
            Role::Key => "key",
            Role::Selection => "selection",
            Role::Ok => "ok",
            Role::Warn => "warn",
            Role::Critical => "critical",
            Role::Stale => "stale",
            Role::Unknown => "unknown",
            Role::BadgeLive => "badge_live",
            Role::BadgeReadonly => "badge_readonly",
            Role::BadgeDemo => "badge_demo",
            Role::BadgeDrill => "badge_drill",
            Role::Dialog => "dialog",
            Role::Gauge => "gauge",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

const BUILTINS: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

const BUILTIN_NAMES: &[&str] = &["dark", "light", "high-contrast", "mono"];

/// The theme used when none is requested and colours are allowed.
pub const DEFAULT_THEME: &str = "dark";

/// A complete theme: a style for every [`Role`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// The name the theme is known by (its file name without `.toml`).
    pub name: String,
    pub description: String,
    styles: [Style; Role::COUNT],
}

impl Theme {
    /// The style for `role`.
    pub fn style(&self, role: Role) -> Style {
        self.styles[role.index()]
    }

    /// A builtin theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        layered::builtin(name)
    }

    /// Names of the builtin themes; the first is the default.
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// Every theme name that [`Theme::load`] accepts: the builtins, then the user's, sorted.
    pub fn available(user_dir: Option<&Path>) -> Vec<String> {
        layered::available::<Theme>(user_dir)
    }

    /// The theme called `name`: `user_dir/themes/NAME.toml` if it exists, else the builtin.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, FileError> {
        layered::load(name, user_dir)
    }

    /// A theme from a file anywhere; `extends` is resolved against `user_dir` and the builtins.
    pub fn load_file(path: &Path, user_dir: Option<&Path>) -> Result<Theme, FileError> {
        layered::load_file(path, user_dir)
    }

    /// A theme from `src`, the text of `path` (not read); `extends` names a builtin.
    pub fn parse_source(path: &Path, src: &str) -> Result<Theme, FileError> {
        layered::from_source(path, src)
    }

    /// The theme to start with: the requested one, else `mono` when colours are
    /// turned off (`NO_COLOR`), else `dark`.
    pub fn choose(requested: Option<&str>, no_color: bool, user_dir: Option<&Path>) -> Result<Theme, FileError> {
        let name = match requested {
            Some(name) => name,
            None if no_color => "mono",
            None => DEFAULT_THEME,
        };
        Theme::load(name, user_dir)
    }

    /// The themes `T` cycles through: every one available, but only `start` when colours are turned
    /// off (`NO_COLOR`) and no theme was asked for by name (colours stay off until the user says so).
    pub fn offered(start: &Theme, asked: bool, no_color: bool, user_dir: Option<&Path>) -> Vec<Theme> {
        if no_color && !asked {
            return vec![start.clone()];
        }
        Theme::available(user_dir).iter().filter_map(|name| Theme::load(name, user_dir).ok()).collect()
    }

    /// True when the `NO_COLOR` environment variable is set and not empty (no-color.org).
    pub fn no_color_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// The builtin `mono` theme: no colours, only modifiers.
    pub fn mono() -> Theme {
        Theme::builtin("mono").expect("builtin theme `mono`")
    }

    /// The builtin `dark` theme, the default.
    pub fn dark() -> Theme {
        Theme::builtin("dark").expect("builtin theme `dark`")
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

// ---------------------------------------------------------------------------
// File format

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThemeFile {
    name: Option<Spanned<String>>,
    description: Option<String>,
    extends: Option<Spanned<String>>,
    roles: Option<Spanned<BTreeMap<Spanned<String>, Spanned<StyleFile>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleFile {
    fg: Option<Spanned<toml::Value>>,
    bg: Option<Spanned<toml::Value>>,
    modifiers: Option<Vec<Spanned<String>>>,
}

const COLOR_FORMS: &str = "a colour name (black, red, green, yellow, blue, magenta, cyan, gray, \
    darkgray, lightred, lightgreen, lightyellow, lightblue, lightmagenta, lightcyan, white, reset), \
    \"#rrggbb\", or an ANSI index 0-255 (as a number or a string like \"38\")";

const MODIFIERS: &[(&str, Modifier)] = &[
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("reversed", Modifier::REVERSED),
    ("crossed_out", Modifier::CROSSED_OUT),
];

impl Layered for Theme {
    const KIND: &'static str = "theme";
    const DIR: &'static str = "themes";
    const BUILTINS: &'static [(&'static str, &'static str)] = BUILTINS;
    const BUILTIN_NAMES: &'static [&'static str] = BUILTIN_NAMES;
    type File = ThemeFile;

    fn header(file: &ThemeFile) -> (Option<&Spanned<String>>, Option<&Spanned<String>>) {
        (file.name.as_ref(), file.extends.as_ref())
    }

    fn build(at: &Source<'_>, stem: &str, file: ThemeFile, base: Option<Theme>) -> Result<Theme, FileError> {
        // Parse every role before checking completeness, so typos are reported first.
        let mut given: [Option<Style>; Role::COUNT] = [None; Role::COUNT];
        if let Some(roles) = &file.roles {
            for (key, value) in roles.get_ref() {
                let role = Role::from_name(key.get_ref())
                    .ok_or_else(|| at.error(key.span(), format!("unknown role `{}`; valid roles: {}", key.get_ref(), role_list())))?;
                given[role.index()] = Some(style_from(value.get_ref(), at)?);
            }
        }

        let mut description = file.description.unwrap_or_default();
        let styles = match base {
            Some(base) => {
                if description.is_empty() {
                    description = base.description;
                }
                std::array::from_fn(|i| given[i].unwrap_or(base.styles[i]))
            }
            None => {
                let missing: Vec<&str> = Role::ALL.into_iter().filter(|r| given[r.index()].is_none()).map(Role::name).collect();
                if !missing.is_empty() {
                    let msg = format!(
                        "theme `{stem}` is not based on another theme (no `extends`, no builtin \
                         of that name), so it must define every role; missing: {}",
                        missing.join(", ")
                    );
                    return Err(match &file.roles {
                        Some(roles) => at.error(roles.span(), msg),
                        None => FileError::whole(at.path, msg),
                    });
                }
                given.map(Option::unwrap_or_default)
            }
        };

        Ok(Theme { name: stem.to_owned(), description, styles })
    }
}

fn style_from(spec: &StyleFile, at: &Source<'_>) -> Result<Style, FileError> {
    let mut style = Style::default();
    if let Some(fg) = &spec.fg {
        style = style.fg(parse_color(fg.get_ref()).map_err(|m| at.error(fg.span(), m))?);
    }
    if let Some(bg) = &spec.bg {
        style = style.bg(parse_color(bg.get_ref()).map_err(|m| at.error(bg.span(), m))?);
    }
    for m in spec.modifiers.iter().flatten() {
        let modifier = MODIFIERS.iter().find(|(n, _)| *n == m.get_ref()).map(|(_, modifier)| *modifier).ok_or_else(|| {
            let valid: Vec<&str> = MODIFIERS.iter().map(|(n, _)| *n).collect();
            at.error(m.span(), format!("unknown modifier `{}`; valid modifiers: {}", m.get_ref(), valid.join(", ")))
        })?;
        style = style.add_modifier(modifier);
    }
    Ok(style)
}

/// A colour from its file form: a name, `#rrggbb`, or an ANSI index (number or string).
fn parse_color(value: &toml::Value) -> Result<Color, String> {
    match value {
        toml::Value::String(s) => parse_color_str(s).ok_or_else(|| format!("unknown colour `{s}`; expected {COLOR_FORMS}")),
        toml::Value::Integer(i) => {
            u8::try_from(*i).map(Color::Indexed).map_err(|_| format!("colour index {i} is out of range; expected {COLOR_FORMS}"))
        }
        other => Err(format!("expected a colour, found a {}; a colour is {COLOR_FORMS}", other.type_str())),
    }
}

fn parse_color_str(s: &str) -> Option<Color> {
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let n = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::from_u32(n));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u8>().ok().map(Color::Indexed);
    }
    let name: String = s.chars().filter(|c| !matches!(c, '_' | '-' | ' ')).collect::<String>().to_ascii_lowercase();
    let color = match name.as_str() {
        "reset" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "darkgray" | "darkgrey" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        _ => return None,
    };
    Some(color)
}

fn role_list() -> String {
    let names: Vec<&str> = Role::ALL.into_iter().map(Role::name).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_offers_only_the_colourless_start_unless_a_theme_was_asked_for() {
        let mono = Theme::choose(None, true, None).unwrap();
        assert_eq!(mono.name, "mono");
        let offered = Theme::offered(&mono, false, true, None);
        assert_eq!(offered.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["mono"], "T cannot bring colours back");
        assert!(Theme::offered(&mono, true, true, None).len() >= 4, "a theme asked for by name: the user chose");
        assert!(Theme::offered(&Theme::dark(), false, false, None).iter().any(|t| t.name == "light"));
    }
    use std::path::PathBuf;

    /// A fresh config directory with a `themes` directory in it, removed on drop.
    struct TempDir(tempfile::TempDir);

    impl TempDir {
        fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(tmp.path().join("themes")).unwrap();
            TempDir(tmp)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.path().join("themes").join(format!("{name}.toml"));
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    fn parse(text: &str) -> Result<Theme, FileError> {
        let dir = TempDir::new();
        let path = dir.write("custom", text);
        Theme::load_file(&path, Some(dir.0.path()))
    }

    fn parse_err(text: &str) -> FileError {
        parse(text).expect_err("expected an error")
    }

    #[test]
    fn role_names_round_trip() {
        for (i, role) in Role::ALL.into_iter().enumerate() {
            assert_eq!(role.index(), i);
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::from_name("nope"), None);
    }

    #[test]
    fn builtins_load_and_define_every_role() {
        assert_eq!(Theme::builtin_names(), ["dark", "light", "high-contrast", "mono"]);
        assert_eq!(BUILTINS.len(), BUILTIN_NAMES.len());
        for (&name, &(file_name, src)) in BUILTIN_NAMES.iter().zip(BUILTINS) {
            assert_eq!(name, file_name);
            let theme = Theme::builtin(name).unwrap();
            assert_eq!(theme.name, name);
            assert!(!theme.description.is_empty(), "{name} has no description");
            // The file itself defines every role (it does not lean on a base).
            let table: toml::Table = toml::from_str(src).unwrap();
            assert!(table.get("extends").is_none(), "{name} must not extend");
            let roles = table["roles"].as_table().unwrap();
            for role in Role::ALL {
                assert!(roles.contains_key(role.name()), "{name} lacks role {}", role.name());
            }
            assert_eq!(Theme::load(name, None).unwrap(), theme);
        }
        assert!(Theme::builtin("nope").is_none());
        assert_eq!(Theme::default(), Theme::dark());
    }

    #[test]
    fn builtin_states_are_distinct() {
        for &name in BUILTIN_NAMES {
            let t = Theme::builtin(name).unwrap();
            let states = [Role::Ok, Role::Warn, Role::Critical, Role::Stale, Role::Unknown];
            for (i, a) in states.iter().enumerate() {
                for b in &states[i + 1..] {
                    assert_ne!(t.style(*a), t.style(*b), "{name}: {a:?} looks like {b:?}");
                }
            }
            assert_ne!(t.style(Role::Selection), t.style(Role::Text), "{name}");
            assert_ne!(t.style(Role::BorderFocus), t.style(Role::Border), "{name}");
        }
    }

    #[test]
    fn mono_has_no_colours() {
        let mono = Theme::mono();
        for role in Role::ALL {
            let style = mono.style(role);
            assert_eq!(style.fg, None, "mono {} has fg", role.name());
            assert_eq!(style.bg, None, "mono {} has bg", role.name());
            assert_eq!(style.underline_color, None);
        }
        let critical = mono.style(Role::Critical).add_modifier;
        let warn = mono.style(Role::Warn).add_modifier;
        assert!(critical.contains(Modifier::REVERSED) && !warn.contains(Modifier::REVERSED));
        assert!(warn.contains(Modifier::BOLD));
        assert!(mono.style(Role::Ok).add_modifier.is_empty());
    }

    #[test]
    fn no_color_chooses_mono_unless_a_theme_is_requested() {
        assert_eq!(Theme::choose(None, true, None).unwrap().name, "mono");
        assert_eq!(Theme::choose(None, false, None).unwrap().name, "dark");
        assert_eq!(Theme::choose(Some("light"), true, None).unwrap().name, "light");
        assert_eq!(Theme::choose(Some("high-contrast"), false, None).unwrap().name, "high-contrast");
        let e = Theme::choose(Some("nope"), true, None).unwrap_err();
        assert!(e.message.contains("unknown theme `nope`"), "{e}");
    }

    #[test]
    fn no_color_chooses_the_users_mono_override() {
        let dir = TempDir::new();
        dir.write("mono", "[roles]\nok = { modifiers = [\"italic\"] }\n");
        let t = Theme::choose(None, true, Some(dir.0.path())).unwrap();
        assert_eq!(t.name, "mono");
        assert_eq!(t.style(Role::Ok), Style::new().add_modifier(Modifier::ITALIC));
        assert_eq!(t.style(Role::Warn), Theme::mono().style(Role::Warn));
    }

    #[test]
    fn colours_in_every_form() {
        let t = parse(
            "extends = \"dark\"\n[roles]\n\
             ok = { fg = \"lightgreen\", bg = \"#1a2B3c\" }\n\
             warn = { fg = 208, bg = \"38\" }\n\
             text = { fg = \"reset\", bg = \"dark_grey\" }\n",
        )
        .unwrap();
        assert_eq!(t.style(Role::Ok), Style::new().fg(Color::LightGreen).bg(Color::Rgb(0x1a, 0x2b, 0x3c)));
        assert_eq!(t.style(Role::Warn), Style::new().fg(Color::Indexed(208)).bg(Color::Indexed(38)));
        assert_eq!(t.style(Role::Text), Style::new().fg(Color::Reset).bg(Color::DarkGray));
        assert_eq!(t.style(Role::Critical), Theme::dark().style(Role::Critical));
        assert_eq!(t.name, "custom");
    }

    #[test]
    fn modifiers_accumulate() {
        let t = parse("extends = \"mono\"\n[roles]\nok = { modifiers = [\"bold\", \"dim\", \"italic\", \"underlined\", \"reversed\", \"crossed_out\"] }\n").unwrap();
        assert_eq!(t.style(Role::Ok).add_modifier, MODIFIERS.iter().fold(Modifier::empty(), |m, (_, x)| m | *x));
    }

    #[test]
    fn toml_syntax_error_has_position() {
        let e = parse_err("extends = \"dark\"\n[roles]\nok = { fg = \"green\"\n");
        assert_eq!((e.line, e.column), (3, 20), "{e}");
        assert!(e.file.ends_with("custom.toml"));
        assert!(e.to_string().contains("custom.toml:3:20:"), "{e}");
    }

    #[test]
    fn unknown_role_lists_valid_roles() {
        let e = parse_err("extends = \"dark\"\n[roles]\nok = {}\n  wran = { fg = \"red\" }\n");
        assert_eq!((e.line, e.column), (4, 3), "{e}");
        assert!(e.message.contains("unknown role `wran`"), "{e}");
        assert!(e.message.contains("warn") && e.message.contains("badge_drill"), "{e}");
    }

    #[test]
    fn unknown_colour_says_what_is_accepted() {
        let e = parse_err("extends = \"dark\"\n[roles]\nok = { fg = \"grene\" }\n");
        assert_eq!((e.line, e.column), (3, 13), "{e}");
        assert!(e.message.contains("unknown colour `grene`"), "{e}");
        assert!(e.message.contains("#rrggbb") && e.message.contains("0-255"), "{e}");

        for bad in ["\"#12345\"", "\"#12345g\"", "\"256\"", "256", "-1", "true", "1.5"] {
            let e = parse_err(&format!("extends = \"dark\"\n[roles]\nok = {{ bg = {bad} }}\n"));
            assert_eq!((e.line, e.column), (3, 13), "{bad}: {e}");
            assert!(e.message.contains("#rrggbb"), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_modifier_lists_valid_ones() {
        let e = parse_err("extends = \"dark\"\n[roles]\nok = { modifiers = [\"bold\", \"blink\"] }\n");
        assert_eq!((e.line, e.column), (3, 29), "{e}");
        assert!(e.message.contains("unknown modifier `blink`"), "{e}");
        assert!(e.message.contains("crossed_out"), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = parse_err("extends = \"dark\"\ncolour = 1\n");
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.message.contains("unknown key `colour`"), "{e}");

        let e = parse_err("extends = \"dark\"\n[roles]\nok = { fg = \"red\", fgg = \"red\" }\n");
        assert_eq!((e.line, e.column), (3, 20), "{e}");
        assert!(e.message.contains("unknown key `fgg`"), "{e}");
    }

    #[test]
    fn name_must_match_file_name() {
        let e = parse_err("extends = \"dark\"\nname = \"other\"\n");
        assert_eq!((e.line, e.column), (2, 8), "{e}");
        assert!(e.message.contains("does not match the file name `custom.toml`"), "{e}");
        assert!(parse("name = \"custom\"\nextends = \"dark\"\n").is_ok());
    }

    #[test]
    fn a_theme_without_base_must_define_every_role() {
        let e = parse_err("description = \"x\"\n\n[roles]\nok = {}\nwarn = {}\n");
        assert_eq!((e.line, e.column), (3, 1), "{e}");
        assert!(e.message.contains("missing: text, muted,"), "{e}");
        assert!(!e.message.contains(" ok,") && !e.message.contains("warn"), "{e}");

        let e = parse_err("description = \"x\"\n");
        assert_eq!(e.line, 0, "{e}");
        assert!(e.message.contains("missing: text"), "{e}");

        let full: String = Role::ALL.into_iter().map(|r| format!("{} = {{}}\n", r.name())).collect();
        let t = parse(&format!("[roles]\n{full}")).unwrap();
        assert!(Role::ALL.into_iter().all(|r| t.style(r) == Style::default()));
    }

    #[test]
    fn partial_override_of_a_builtin() {
        let dir = TempDir::new();
        dir.write("dark", "[roles]\nwarn = { fg = \"#ff8800\" }\n");
        let t = Theme::load("dark", Some(dir.0.path())).unwrap();
        let builtin = Theme::dark();
        assert_eq!(t.name, "dark");
        assert_eq!(t.description, builtin.description);
        assert_eq!(t.style(Role::Warn), Style::new().fg(Color::Rgb(0xff, 0x88, 0)));
        for role in Role::ALL.into_iter().filter(|&r| r != Role::Warn) {
            assert_eq!(t.style(role), builtin.style(role), "{}", role.name());
        }
        // Other builtins are untouched.
        assert_eq!(Theme::load("light", Some(dir.0.path())).unwrap(), Theme::builtin("light").unwrap());
    }

    #[test]
    fn extends_follows_user_themes() {
        let dir = TempDir::new();
        dir.write("light", "[roles]\nok = { fg = 1 }\n");
        dir.write("mine", "extends = \"light\"\n[roles]\nwarn = { fg = 2 }\n");
        dir.write("yours", "extends = \"mine\"\ndescription = \"y\"\n");
        let t = Theme::load("yours", Some(dir.0.path())).unwrap();
        assert_eq!(t.name, "yours");
        assert_eq!(t.description, "y");
        assert_eq!(t.style(Role::Ok), Style::new().fg(Color::Indexed(1)));
        assert_eq!(t.style(Role::Warn), Style::new().fg(Color::Indexed(2)));
        assert_eq!(t.style(Role::Critical), Theme::builtin("light").unwrap().style(Role::Critical));
        assert_eq!(Theme::available(Some(dir.0.path())), ["dark", "light", "high-contrast", "mono", "mine", "yours"]);
    }

    #[test]
    fn extends_own_name_means_the_builtin() {
        let dir = TempDir::new();
        dir.write("dark", "extends = \"dark\"\n[roles]\nok = { fg = 3 }\n");
        let t = Theme::load("dark", Some(dir.0.path())).unwrap();
        assert_eq!(t.style(Role::Ok), Style::new().fg(Color::Indexed(3)));
        assert_eq!(t.style(Role::Warn), Theme::dark().style(Role::Warn));

        let e = parse_err("extends = \"custom\"\n");
        assert_eq!((e.line, e.column), (1, 11), "{e}");
        assert!(e.message.contains("extends itself"), "{e}");
    }

    #[test]
    fn extends_cycle_is_an_error() {
        let dir = TempDir::new();
        dir.write("a", "extends = \"b\"\n");
        let b = dir.write("b", "description = \"b\"\nextends = \"c\"\n");
        dir.write("c", "\n\nextends = \"a\"\n");
        let e = Theme::load("a", Some(dir.0.path())).unwrap_err();
        assert!(e.file.ends_with("c.toml"), "{e}");
        assert_eq!((e.line, e.column), (3, 11), "{e}");
        assert!(e.message.contains("cycle: a -> b -> c -> a"), "{e}");

        let e = Theme::load_file(&b, Some(dir.0.path())).unwrap_err();
        assert!(e.file.ends_with("a.toml"), "{e}");
        assert!(e.message.contains("cycle: b -> c -> a -> b"), "{e}");
    }

    #[test]
    fn unknown_base_lists_available_themes() {
        let e = parse_err("\nextends = \"drak\"\n");
        assert_eq!((e.line, e.column), (2, 11), "{e}");
        assert!(e.message.contains("unknown theme `drak`"), "{e}");
        assert!(e.message.contains("dark, light, high-contrast, mono, custom"), "{e}");
    }

    #[test]
    fn errors_in_a_base_point_into_the_base() {
        let dir = TempDir::new();
        dir.write("base", "extends = \"dark\"\n[roles]\nok = { fg = \"nope\" }\n");
        let top = dir.write("top", "extends = \"base\"\n");
        let e = Theme::load_file(&top, Some(dir.0.path())).unwrap_err();
        assert!(e.file.ends_with("base.toml"), "{e}");
        assert_eq!((e.line, e.column), (3, 13), "{e}");
    }

    #[test]
    fn unknown_theme_name_lists_available() {
        let dir = TempDir::new();
        dir.write("mine", "extends = \"dark\"\n");
        let e = Theme::load("nope", Some(dir.0.path())).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e.file.ends_with("themes/nope.toml"), "{e}");
        assert!(e.message.contains("available themes: dark, light, high-contrast, mono, mine"), "{e}");
        assert!(Theme::load("mine", Some(dir.0.path())).is_ok());
        assert!(Theme::load("mine", None).is_err());
        // a name is a file's name in the directory, never a path
        let e = Theme::load("../../etc/passwd", Some(dir.0.path())).unwrap_err();
        assert!(e.message.contains("not a path"), "{e}");
        // a user's file that is there but no regular file is an error, not the builtin of its name
        std::fs::create_dir(dir.0.path().join("themes/dark.toml")).unwrap();
        let e = Theme::load("dark", Some(dir.0.path())).unwrap_err();
        assert!(e.file.ends_with("themes/dark.toml") && e.message.contains("not a regular file"), "{e}");
        std::fs::remove_dir(dir.0.path().join("themes/dark.toml")).unwrap();
        // a file that does not load is not offered as if it would
        dir.write("broken", "extends = \"dark\"\n[roles]\nok = { fg = \"nope\" }\n");
        let e = Theme::load("nope", Some(dir.0.path())).unwrap_err();
        assert!(e.message.contains("mono, broken (does not load: broken.toml:3), mine"), "{e}");
    }

    #[test]
    fn unreadable_file_is_a_whole_file_error() {
        let e = Theme::load_file(Path::new("/nonexistent/kockpit/x.toml"), None).unwrap_err();
        assert_eq!((e.line, e.column), (0, 0));
        assert!(e.message.contains("cannot read the theme"), "{e}");
    }
}
