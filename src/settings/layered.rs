//! Themes and keymaps are the same kind of file: known by their file name, found in the user's
//! directory (`DIR/NAME.toml`) or built in, and able to `extends` another of their kind, where a user
//! file with a builtin's name extends that builtin unless it says otherwise. This module is the part
//! they share: finding files, checking the `name` field, following `extends` with cycle detection,
//! and errors with file, line and column. Each kind only turns one file's text into a value.

use std::marker::PhantomData;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::error::{FileError, line_col};

/// One kind of layered file.
pub(super) trait Layered: Sized {
    /// "theme" or "keymap", for messages.
    const KIND: &'static str;
    /// The subdirectory of the user's directory: "themes" or "keymaps".
    const DIR: &'static str;
    /// The builtins' names (the first is the default) and TOML texts, in the same order.
    const BUILTINS: &'static [(&'static str, &'static str)];
    const BUILTIN_NAMES: &'static [&'static str];

    /// The file as parsed (strict about unknown fields: a typo is an error, not ignored).
    type File: DeserializeOwned;
    /// The file's `name` and `extends` fields, which resolving needs.
    fn header(file: &Self::File) -> (Option<&Spanned<String>>, Option<&Spanned<String>>);
    /// The value of one file (`stem` is its name), on top of `base` where it has one: the file it
    /// extends, or the builtin of its own name. Without a base the file must be complete.
    fn build(at: &Source<'_>, stem: &str, file: Self::File, base: Option<Self>) -> Result<Self, FileError>;
}

/// A builtin by name. Builtins are part of the program: an invalid one is a bug.
pub(super) fn builtin<T: Layered>(name: &str) -> Option<T> {
    let (_, src) = T::BUILTINS.iter().find(|(n, _)| *n == name)?;
    let path = PathBuf::from(format!("<builtin>/{}/{name}.toml", T::DIR));
    let value =
        Loader::<T>::new(None).load_source(src, &path, name, true).unwrap_or_else(|e| panic!("builtin {} is invalid: {e}", T::KIND));
    Some(value)
}

/// Every name [`load`] accepts: the builtins, then the user's `*.toml` stems that are not builtins, sorted.
pub(super) fn available<T: Layered>(user_dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = T::BUILTIN_NAMES.iter().map(|s| (*s).to_owned()).collect();
    let mut user: Vec<String> = user_dir
        .and_then(|dir| std::fs::read_dir(dir.join(T::DIR)).ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "toml").then_some(())?;
            path.file_stem()?.to_str().map(str::to_owned)
        })
        .filter(|n| !T::BUILTIN_NAMES.contains(&n.as_str()))
        .collect();
    user.sort();
    names.append(&mut user);
    names
}

/// [`available`] for an error: a user's file that does not load is named with where it fails
/// (`mine (does not load: mine.toml:3)`), so the list offers nothing that would fail in turn.
fn available_said<T: Layered>(user_dir: Option<&Path>) -> String {
    let names: Vec<String> = available::<T>(user_dir)
        .into_iter()
        .map(|name| {
            if T::BUILTIN_NAMES.contains(&name.as_str()) {
                return name;
            }
            match Loader::<T>::new(user_dir).named(&name) {
                Err(e) => {
                    let file = e.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                    if e.line > 0 {
                        format!("{name} (does not load: {file}:{})", e.line)
                    } else {
                        format!("{name} (does not load: {file})")
                    }
                }
                Ok(_) => name,
            }
        })
        .collect();
    names.join(", ")
}

/// The file called `name`: `user_dir/DIR/NAME.toml` if it exists, else the builtin.
pub(super) fn load<T: Layered>(name: &str, user_dir: Option<&Path>) -> Result<T, FileError> {
    Loader::<T>::new(user_dir).named(name)?.ok_or_else(|| {
        let file = match user_dir {
            Some(dir) => user_file::<T>(dir, name),
            None => PathBuf::from(format!("{name}.toml")),
        };
        FileError::whole(file, format!("unknown {} `{name}`; available {}: {}", T::KIND, T::DIR, available_said::<T>(user_dir)))
    })
}

/// A file anywhere; `extends` is resolved against `user_dir` and the builtins.
pub(super) fn load_file<T: Layered>(path: &Path, user_dir: Option<&Path>) -> Result<T, FileError> {
    Loader::<T>::new(user_dir).load_path(path)
}

/// A file's text, as if read from `path` (its stem is the name); `extends` is resolved against the
/// builtins only.
pub(super) fn from_source<T: Layered>(path: &Path, src: &str) -> Result<T, FileError> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
    Loader::<T>::new(None).load_source(src, path, &stem, false)
}

fn user_file<T: Layered>(dir: &Path, name: &str) -> PathBuf {
    dir.join(T::DIR).join(format!("{name}.toml"))
}

/// Resolves files by name, following `extends` and detecting cycles.
struct Loader<'a, T> {
    user_dir: Option<&'a Path>,
    /// Names of the user files being loaded, outermost first.
    stack: Vec<String>,
    kind: PhantomData<T>,
}

impl<'a, T: Layered> Loader<'a, T> {
    fn new(user_dir: Option<&'a Path>) -> Self {
        Loader { user_dir, stack: Vec::new(), kind: PhantomData }
    }

    /// `name` from the user dir or the builtins; `None` if there is none. A name is a file's name in
    /// the directory, never a path; a user file that is there but is no regular file is an error
    /// (`read_text` says so), not a fall-back to the builtin of that name.
    fn named(&mut self, name: &str) -> Result<Option<T>, FileError> {
        if let Err(why) = crate::config::plain_name(name) {
            let file = self.user_dir.map(|d| d.join(T::DIR)).unwrap_or_else(|| PathBuf::from(T::DIR));
            return Err(FileError::whole(file, format!("{} name `{name}`: {why}", T::KIND)));
        }
        if let Some(dir) = self.user_dir {
            let path = user_file::<T>(dir, name);
            if path.exists() {
                return self.load_path(&path).map(Some);
            }
        }
        Ok(builtin::<T>(name))
    }

    fn load_path(&mut self, path: &Path) -> Result<T, FileError> {
        let src = crate::error::read_text(path, T::KIND, crate::error::limits::SETTINGS)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        self.load_source(&src, path, &stem, false)
    }

    fn load_source(&mut self, src: &str, path: &Path, stem: &str, builtin: bool) -> Result<T, FileError> {
        let at = Source { path, src };
        let file: T::File = toml::from_str(src).map_err(|e| at.toml_error(&e))?;
        let (name, extends) = T::header(&file);
        if let Some(name) = name.filter(|n| n.get_ref() != stem) {
            return Err(at.error(
                name.span(),
                format!("name `{}` does not match the file name `{stem}.toml`; a {} is known by its file name", name.get_ref(), T::KIND),
            ));
        }
        let base = match extends {
            Some(ext) => Some(self.base(ext, stem, builtin, &at)?),
            None if builtin => None,
            None => self::builtin::<T>(stem),
        };
        T::build(&at, stem, file, base)
    }

    /// The file named by `extends`.
    fn base(&mut self, ext: &Spanned<String>, stem: &str, builtin: bool, source: &Source<'_>) -> Result<T, FileError> {
        let name = ext.get_ref().as_str();
        let at = |msg: String| source.error(ext.span(), msg);
        if name == stem {
            // A user's `dark.toml` extending "dark" means the builtin of that name.
            return match self::builtin::<T>(name).filter(|_| !builtin) {
                Some(value) => Ok(value),
                None => Err(at(format!("{} `{name}` extends itself", T::KIND))),
            };
        }
        if self.stack.iter().any(|n| n == name) {
            let chain: Vec<&str> = self.stack.iter().map(String::as_str).chain([stem, name]).collect();
            return Err(at(format!("`extends` forms a cycle: {}", chain.join(" -> "))));
        }
        self.stack.push(stem.to_owned());
        let found = self.named(name);
        self.stack.pop();
        found?.ok_or_else(|| {
            at(format!("cannot extend unknown {} `{name}`; available {}: {}", T::KIND, T::DIR, available::<T>(self.user_dir).join(", ")))
        })
    }
}

/// A file's path and text, to turn byte spans into positioned errors.
pub(super) struct Source<'a> {
    pub path: &'a Path,
    pub src: &'a str,
}

impl Source<'_> {
    pub fn error(&self, span: Range<usize>, message: String) -> FileError {
        FileError::at_offset(self.path, self.src, span.start, message)
    }

    /// A TOML (syntax or shape) error at its position.
    pub fn toml_error(&self, e: &toml::de::Error) -> FileError {
        self.error(e.span().unwrap_or_default(), crate::error::humanize(e.message()))
    }

    /// The line of a span's start.
    pub fn line(&self, span: &Range<usize>) -> usize {
        line_col(self.src, span.start).0
    }
}
