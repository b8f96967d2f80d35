//! Errors for files a user writes: host plans, themes, keymaps, drills, the config file.
//! Every one names the file, the line and the column, and says what was expected.

use std::fmt;
use std::path::{Path, PathBuf};

/// An error in a user-supplied file, pointing at the place where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the whole file (unreadable, empty).
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
    pub message: String,
}

impl FileError {
    pub fn new(file: impl Into<PathBuf>, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self { file: file.into(), line, column, message: message.into() }
    }

    /// An error for the whole file (no position), e.g. it cannot be read.
    pub fn whole(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::new(file, 0, 0, message)
    }

    /// An error at a byte offset of `src`, the file's text.
    pub fn at_offset(file: &Path, src: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(src, offset);
        Self::new(file, line, column, message)
    }
}

/// 1-based line and column (in characters) of a byte offset into `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A parser's message in the user's words, not Rust's: `unknown field` is a key, `expected u16` a whole
/// number from 0 to 65535, `expected a sequence` a list.
pub fn humanize(message: &str) -> String {
    let message = message.trim_end();
    // a path may come first (`spec.hosts[2]: missing field ...`)
    if let Some(at) = ["unknown field ", "unknown variant ", "missing field "].iter().filter_map(|w| message.find(w)).min()
        && at > 0
    {
        return format!("{}{}", &message[..at], humanize(&message[at..]));
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (key, allowed) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let allowed = allowed.strip_prefix("one of ").unwrap_or(allowed).replace(" or ", ", ");
        return if allowed.is_empty() {
            format!("unknown key {key}: this table takes no keys")
        } else {
            format!("unknown key {key}: expected one of {allowed}")
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        return format!("unknown value {rest}");
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("missing key {rest}");
    }
    let mut out = message.to_owned();
    for (rust, words) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number from 0 to 4294967295"),
        ("expected u64", "expected a whole number from 0 up"),
        ("expected usize", "expected a whole number from 0 up"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list [...]"),
        ("expected a map", "expected a table"),
    ] {
        if let Some(at) = out.find(rust)
            && !out[at + rust.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            out.replace_range(at..at + rust.len(), words);
        }
    }
    // `address = 10.0.0.31`: TOML reads a bare 10.0 as a number and stops at the next dot
    if out.starts_with("invalid float") || out.starts_with("invalid integer") {
        out.push_str(": text such as an address goes in quotes, like address = \"10.0.0.31\"");
    }
    out
}

/// How large a file of each kind may be. A real host plan is a few KiB; these leave ample room and
/// still keep a wrong path (a log, a disk image, /dev/zero) from taking the memory.
pub mod limits {
    /// Host plans (kockpit TOML, KubeKey YAML) and the config file.
    pub const PLAN: u64 = 4 << 20;
    /// Themes, keymaps and drill files.
    pub const SETTINGS: u64 = 1 << 20;
    /// ssh_config and known_hosts files.
    pub const SSH: u64 = 16 << 20;
    /// keepalived.conf and haproxy.cfg: one file, and all the files of one configuration together.
    pub const HACFG: u64 = 4 << 20;
    /// Nesting deeper than this (`[[[[...`, `{{{{...`) is refused before any parser sees it.
    pub const DEPTH: usize = 64;
}

/// Read a file a user gave kockpit: only a regular file (not a directory, FIFO or device), at most
/// `limit` bytes, UTF-8 text (an invalid byte is reported at its line and column), with no bracket
/// nesting deeper than [`limits::DEPTH`]. `what` names the kind of file in messages ("host plan").
pub fn read_text(path: &Path, what: &str, limit: u64) -> Result<String, FileError> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| FileError::whole(path, format!("cannot read the {what}: {e}")))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            use std::os::unix::fs::FileTypeExt;
            let t = meta.file_type();
            if t.is_fifo() {
                "a FIFO"
            } else if t.is_char_device() || t.is_block_device() {
                "a device"
            } else if t.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            }
        };
        return Err(FileError::whole(path, format!("cannot read the {what}: it is {kind}, not a regular file")));
    }
    if meta.len() > limit {
        return Err(FileError::whole(path, format!("the {what} is {} bytes; a {what} may have at most {limit}", meta.len())));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| FileError::whole(path, format!("cannot read the {what}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::whole(path, format!("the {what} grew past {limit} bytes while it was read")));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let valid = String::from_utf8_lossy(&bytes[..bad]).into_owned();
        let (line, column) = line_col(&valid, valid.len());
        FileError::new(path, line, column, format!("not UTF-8 text (byte 0x{:02x}): save the {what} as UTF-8", bytes[bad]))
    })?;
    check_depth(path, &text, what)?;
    Ok(text)
}

/// Refuse nesting deeper than [`limits::DEPTH`] (`[` and `{` outside quotes), at the place it gets too deep.
pub fn check_depth(path: &Path, src: &str, what: &str) -> Result<(), FileError> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    for (i, c) in src.char_indices() {
        if comment {
            comment = c != '\n';
            continue;
        }
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q || c == '\n' {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' => comment = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > limits::DEPTH {
                        return Err(FileError::at_offset(
                            path,
                            src,
                            i,
                            format!("nested more than {} levels deep: not a {what} kockpit can read", limits::DEPTH),
                        ));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    Ok(())
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file.display(), self.message),
            (l, 0) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            (l, c) => write!(f, "{}:{}:{}: {}", self.file.display(), l, c, self.message),
        }
    }
}

impl std::error::Error for FileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_words() {
        assert_eq!(
            humanize("invalid value: integer `70000`, expected u16"),
            "invalid value: integer `70000`, expected a whole number from 0 to 65535"
        );
        assert_eq!(humanize("invalid type: string \"x\", expected a sequence"), "invalid type: string \"x\", expected a list [...]");
        assert_eq!(
            humanize("unknown field `prot`, expected one of `port`, `address`"),
            "unknown key `prot`: expected one of `port`, `address`"
        );
        assert_eq!(humanize("expected u16x"), "expected u16x", "only whole type names");
        assert!(humanize("invalid float, expected nothing").ends_with("goes in quotes, like address = \"10.0.0.31\""));
    }

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 8), (2, 3));
        assert_eq!(line_col(src, 999), (3, 1));
    }

    #[test]
    fn files_that_are_not_text_of_a_sane_size_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, "a = 1\n".repeat(1000)).unwrap();
        let e = read_text(&big, "host plan", 100).unwrap_err();
        assert!(e.to_string().contains("may have at most 100"), "{e}");
        for (p, kind) in [(dir.path().to_path_buf(), "a directory"), (PathBuf::from("/dev/zero"), "a device")] {
            let e = read_text(&p, "host plan", 1 << 20).unwrap_err();
            assert!(e.to_string().contains(kind), "{e}");
        }
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = read_text(&fifo, "host plan", 1 << 20).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        let latin1 = dir.path().join("latin1.toml");
        std::fs::write(&latin1, b"name = \"ok\"\nnote = \"caf\xe9\"\n").unwrap();
        let e = read_text(&latin1, "host plan", 1 << 20).unwrap_err();
        assert_eq!((e.line, e.column), (2, 12), "{e}");
        assert!(e.message.contains("not UTF-8") && e.message.contains("0xe9"), "{e}");
        let deep = dir.path().join("deep.yaml");
        std::fs::write(&deep, format!("a: {}\n", "[".repeat(100_000))).unwrap();
        let e = read_text(&deep, "host plan", 1 << 20).unwrap_err();
        assert!(e.message.contains("nested more than 64 levels") && e.line == 1 && e.column == 68, "{e}");
        // brackets inside strings and comments do not count
        let ok = dir.path().join("ok.toml");
        std::fs::write(&ok, format!("a = \"{}\" # {}\nb = [[1], [2]]\n", "[".repeat(200), "{".repeat(200))).unwrap();
        assert!(read_text(&ok, "host plan", 1 << 20).is_ok());
    }

    #[test]
    fn display_names_file_line_column() {
        let e = FileError::new("plan.toml", 3, 7, "expected a string");
        assert_eq!(e.to_string(), "plan.toml:3:7: expected a string");
        assert_eq!(FileError::whole("x.toml", "cannot read").to_string(), "x.toml: cannot read");
    }
}
