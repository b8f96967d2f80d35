//! The house: every module of src/ sits on a layer and imports only from layers below it, so data
//! runs one way (sources -> protocol -> app -> screen) and no import circle can form. Test code is
//! exempt (it may build a simulated cluster to test anything). Also: no room over 600 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top. A module may import any module of a lower layer, none of its own or a higher one.
const LAYERS: &[&[&str]] = &[
    &["error", "shell", "retry", "text"],
    &["config", "action"],
    &["inventory", "settings", "hacfg"],
    &["model"],
    &["ops", "logs", "report"],
    &["backend", "transport"],
    &["probe", "etcd", "certs", "ceph", "kube", "sim", "alerts"],
    &["live", "drill"],
    &["fleet"],
    &["app"],
    &["ui"],
    &["cli"],
];

/// Same-layer imports that are part of the design: the protocol's line pump and routing know the
/// transport's read-only set, nothing else.
const ALLOWED_SIDEWAYS: &[(&str, &str)] = &[("transport", "backend")];

const MAX_LINES: usize = 600;

fn layer_of() -> BTreeMap<&'static str, usize> {
    LAYERS.iter().enumerate().flat_map(|(i, ms)| ms.iter().map(move |m| (*m, i))).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_test_file(rel: &Path) -> bool {
    rel.file_name().is_some_and(|n| n == "tests.rs") || rel.components().any(|c| c.as_os_str() == "tests")
}

/// The file's text without its `#[cfg(test)]` modules (they are at the end by convention).
fn non_test_part(text: &str) -> &str {
    let mut cut = text.len();
    for (i, _) in text.match_indices("#[cfg(test)]") {
        let rest = text[i + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") {
            cut = cut.min(i);
        }
    }
    &text[..cut]
}

/// Top-level modules named by `crate::X` paths and `use crate::{X, ...}` groups.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name = ident(part.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out
}

#[test]
fn every_import_runs_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = layer_of();
    let mut files = vec![];
    rust_files(&src, &mut files);
    let mut tops = BTreeSet::new();
    let mut wrong = vec![];
    let mut too_big = vec![];
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        tops.insert(top.clone());
        if is_test_file(rel) {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains("#[path"), "{}: modules are found by their place, not by #[path]", rel.display());
        let code = non_test_part(&text);
        let lines = code.lines().count();
        if lines > MAX_LINES {
            too_big.push(format!("{} ({lines} lines)", rel.display()));
        }
        let Some(&mine) = layers.get(top.as_str()) else {
            wrong.push(format!("{}: module `{top}` is on no layer of this test's table", rel.display()));
            continue;
        };
        for m in imports(code) {
            if m == top {
                continue;
            }
            let Some(&theirs) = layers.get(m.as_str()) else { continue };
            let sideways_ok = theirs == mine && ALLOWED_SIDEWAYS.contains(&(top.as_str(), m.as_str()));
            if theirs >= mine && !sideways_ok {
                wrong.push(format!("{}: `{top}` (layer {mine}) imports `{m}` (layer {theirs})", rel.display()));
            }
        }
    }
    for t in &tops {
        assert!(layers.contains_key(t.as_str()), "src/{t}: a top-level module on no layer; add it to LAYERS");
    }
    assert!(wrong.is_empty(), "imports that run up or sideways:\n{}", wrong.join("\n"));
    assert!(too_big.is_empty(), "rooms over {MAX_LINES} lines (split them by concern):\n{}", too_big.join("\n"));
}

#[test]
fn the_checker_sees_what_it_must() {
    // it must be able to fail: an upward import and a grouped one are both found
    let code = "use crate::ui::render;\nuse crate::{app, model::Model};\nfn f() { crate::sim::advance(); }\n#[cfg(test)]\nmod tests { use crate::cli; }";
    let found = imports(non_test_part(code));
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["app", "model", "sim", "ui"]);
}
