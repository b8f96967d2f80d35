//! keepalived.conf's syntax: words, quoted strings, comments and `{ }` blocks made into a tree of
//! statements; and its `include` lines, followed through a resolver the caller supplies. keepalived
//! reads an included file where the `include` line stands, at the top or inside a block, so
//! [`spliced`] puts the included files' statements there.

use std::path::Path;
use std::rc::Rc;

use super::{MAX_FILES, MAX_INCLUDE_DEPTH, Source};
use crate::error::{FileError, limits::HACFG};

/// Blocks nest at most this deep (real files: virtual_server > real_server > HTTP_GET > url, 4).
pub const MAX_NESTING: usize = 16;

/// A word of the file and the line it is on.
#[derive(Debug, Clone)]
pub(crate) struct Word {
    pub text: String,
    pub line: usize,
}

/// A statement: the words of one line, and the block that follows it, if any.
#[derive(Debug)]
pub(crate) struct Node {
    pub words: Vec<Word>,
    /// The file it is written in (an included file's statements stand in the including file's blocks).
    pub file: Rc<str>,
    pub line: usize,
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub fn pos(&self) -> super::Pos {
        super::Pos { file: self.file.to_string(), line: self.line }
    }
    pub fn key(&self) -> &str {
        self.words.first().map(|w| w.text.as_str()).unwrap_or("")
    }
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(|w| w.text.as_str())
    }
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }
}

enum Item {
    Word(Word),
    Open(usize),
    Close(usize),
    Eol,
}

/// The file's words, braces and line ends.
fn lex(text: &str) -> Vec<Item> {
    let mut out = vec![];
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                out.push(Item::Eol);
                line += 1;
            }
            c if c.is_whitespace() => {}
            '{' => out.push(Item::Open(line)),
            '}' => out.push(Item::Close(line)),
            '#' | '!' => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '"' => {
                let mut s = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    chars.next();
                    if n == '"' {
                        break;
                    }
                    s.push(n);
                }
                out.push(Item::Word(Word { text: s, line }));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || n == '{' || n == '}' {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(Item::Word(Word { text: s, line }));
            }
        }
    }
    out
}

struct Frame {
    words: Vec<Word>,
    line: usize,
    children: Vec<Node>,
}

/// The file's statements and blocks; unbalanced braces and nesting past [`MAX_NESTING`] are errors.
pub(crate) fn tree(src: &Source) -> Result<Vec<Node>, FileError> {
    let file: Rc<str> = Rc::from(src.name.as_str());
    let mut stack = vec![Frame { words: vec![], line: 0, children: vec![] }];
    let mut cur: Vec<Word> = vec![];
    let flush = |cur: &mut Vec<Word>, stack: &mut [Frame]| {
        if let (Some(first), Some(top)) = (cur.first(), stack.last_mut()) {
            let line = first.line;
            top.children.push(Node { words: std::mem::take(cur), file: file.clone(), line, block: None });
        }
    };
    // a UTF-8 byte order mark (editors on Windows write one) is not a word
    for item in lex(src.text.strip_prefix('\u{feff}').unwrap_or(&src.text)) {
        match item {
            Item::Word(w) => cur.push(w),
            Item::Eol => flush(&mut cur, &mut stack),
            Item::Open(line) => {
                if stack.len() > MAX_NESTING {
                    return Err(FileError::new(&src.name, line, 0, format!("blocks nested more than {MAX_NESTING} deep")));
                }
                let (words, at) = if let Some(first) = cur.first() {
                    let at = first.line;
                    (std::mem::take(&mut cur), at)
                } else {
                    // a brace on a line of its own opens the block of the statement before it
                    let top = stack.last_mut().map(|f| &mut f.children);
                    match top.and_then(|c| if c.last().is_some_and(|n| n.block.is_none()) { c.pop() } else { None }) {
                        Some(n) => (n.words, n.line),
                        None => (vec![], line),
                    }
                };
                stack.push(Frame { words, line: at, children: vec![] });
            }
            Item::Close(line) => {
                flush(&mut cur, &mut stack);
                if stack.len() < 2 {
                    return Err(FileError::new(&src.name, line, 0, "`}` closes no block"));
                }
                if let Some(f) = stack.pop() {
                    let node = Node { words: f.words, file: file.clone(), line: f.line, block: Some(f.children) };
                    if let Some(top) = stack.last_mut() {
                        top.children.push(node);
                    }
                }
            }
        }
    }
    flush(&mut cur, &mut stack);
    if stack.len() > 1 {
        let open = stack.last().map(|f| f.line).unwrap_or(0);
        return Err(FileError::new(&src.name, open, 0, "the block opened here is never closed (a `}` is missing)"));
    }
    Ok(stack.pop().map(|f| f.children).unwrap_or_default())
}

/// The patterns of a file's `include` lines, in order: at the top and inside blocks, wherever
/// `include` is the first word of a line, as keepalived reads them (an unreadable file gives those
/// before the fault).
pub fn includes_of(text: &str) -> Vec<String> {
    includes_with_lines(text).into_iter().map(|(p, _)| p).collect()
}

fn includes_with_lines(text: &str) -> Vec<(String, usize)> {
    let mut out = vec![];
    let mut first_on_line = true;
    let mut want: Option<usize> = None;
    for item in lex(text) {
        match item {
            Item::Word(w) => {
                if let Some(line) = want.take() {
                    out.push((w.text, line));
                } else if first_on_line && w.text == "include" {
                    want = Some(w.line);
                }
                first_on_line = false;
            }
            Item::Eol => {
                first_on_line = true;
                want = None;
            }
            Item::Open(_) | Item::Close(_) => first_on_line = false,
        }
    }
    out
}

/// An include pattern as the loader asks for it: absolute, or relative to the including file's directory.
fn full_pattern(including: &str, pattern: &str) -> String {
    if pattern.starts_with('/') {
        return pattern.to_string();
    }
    let dir = Path::new(including).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    if dir.is_empty() { pattern.to_string() } else { format!("{}/{pattern}", dir.trim_end_matches('/')) }
}

/// Whether a file's path is one an include pattern names: part by part, a glob in any part.
fn path_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), name.split('/').collect());
    p.len() == n.len() && p.iter().zip(&n).all(|(p, n)| super::glob_match(p, n))
}

/// The statements of `sources[*next]` with the files its `include` lines name spliced in where the
/// lines stand (inside a block too), as keepalived reads them. `sources` is in the order
/// [`load_keepalived`] (or the host's script) reads them: each file followed by the files it includes,
/// so an include takes the files after the cursor that its pattern names. Advances `*next` past every
/// file used.
pub(crate) fn spliced(sources: &[Source], next: &mut usize) -> Result<Vec<Node>, FileError> {
    let Some(src) = sources.get(*next) else { return Ok(vec![]) };
    *next += 1;
    let mut nodes = tree(src)?;
    splice_into(&mut nodes, sources, next)?;
    Ok(nodes)
}

/// Bounded: every file spliced in moves the cursor on, so the recursion is at most as deep as the
/// files are many (times the nesting of one file's blocks).
fn splice_into(nodes: &mut Vec<Node>, sources: &[Source], next: &mut usize) -> Result<(), FileError> {
    let mut out = Vec::with_capacity(nodes.len());
    for mut n in std::mem::take(nodes) {
        if n.key() == "include"
            && n.block.is_none()
            && let Some(pattern) = n.arg(1)
        {
            let full = full_pattern(&n.file, pattern);
            while sources.get(*next).is_some_and(|s| path_matches(&full, &s.name)) {
                out.extend(spliced(sources, next)?);
            }
            continue;
        }
        if let Some(children) = n.block.as_mut() {
            splice_into(children, sources, next)?;
        }
        out.push(n);
    }
    *nodes = out;
    Ok(())
}

fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Every file of a configuration, starting with `main`, each followed by the files it includes (in
/// the order of its `include` lines). `resolve` gets a pattern (made absolute against the including
/// file's directory when relative) and returns the matching files in order (none is fine for a glob);
/// an `Err` is a file that cannot be read, reported at the include line. A non-glob pattern that
/// matches nothing is an error; so are includes deeper than [`MAX_INCLUDE_DEPTH`], more than
/// [`MAX_FILES`] files, and more than [`HACFG`] bytes in all.
pub fn load_keepalived(main: Source, resolve: &mut dyn FnMut(&str) -> Result<Vec<Source>, String>) -> Result<Vec<Source>, FileError> {
    let mut out = vec![];
    let mut total = 0u64;
    add_with_includes(main, 0, resolve, &mut out, &mut total)?;
    Ok(out)
}

fn add_with_includes(
    src: Source,
    depth: usize,
    resolve: &mut dyn FnMut(&str) -> Result<Vec<Source>, String>,
    out: &mut Vec<Source>,
    total: &mut u64,
) -> Result<(), FileError> {
    *total = total.saturating_add(src.text.len() as u64);
    if *total > HACFG {
        return Err(FileError::whole(&src.name, format!("the configuration's files are more than {HACFG} bytes in all")));
    }
    if out.len() >= MAX_FILES {
        return Err(FileError::whole(&src.name, format!("more than {MAX_FILES} files in one configuration")));
    }
    let includes = includes_with_lines(&src.text);
    let name = src.name.clone();
    out.push(src);
    for (pattern, line) in includes {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(FileError::new(&name, line, 0, format!("includes nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)")));
        }
        let full = full_pattern(&name, &pattern);
        let found = resolve(&full).map_err(|why| FileError::new(&name, line, 0, format!("include {pattern}: {why}")))?;
        if found.is_empty() && !is_glob(&pattern) {
            return Err(FileError::new(&name, line, 0, format!("include {pattern}: no such file")));
        }
        for f in found {
            add_with_includes(f, depth + 1, resolve, out, total)?;
        }
    }
    Ok(())
}
