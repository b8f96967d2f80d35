//! Finding things in YAML text, for errors about values whose position the parser no longer knows.
//! These are heuristics over the text: good enough to point a person at the right line.

/// Characters that continue a name, an address or a key.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// The offset just past the first character at `p`, to go on searching from.
fn next_from(src: &str, p: usize) -> usize {
    p + src[p..].chars().next().map_or(1, char::len_utf8)
}

/// Whether `p` is inside a `#` comment.
fn in_comment(src: &str, p: usize) -> bool {
    let line_start = src[..p].rfind('\n').map_or(0, |i| i + 1);
    let before = &src[line_start..p];
    before.trim_start().starts_with('#') || before.contains(" #")
}

/// The offset of `token` at or after `from`, as a whole word outside comments.
pub(super) fn find_token(src: &str, from: usize, token: &str) -> Option<usize> {
    if token.is_empty() {
        return None;
    }
    let mut start = from.min(src.len());
    while let Some(rel) = src.get(start..)?.find(token) {
        let p = start + rel;
        let end = p + token.len();
        let bytes = src.as_bytes();
        let whole = (p == 0 || !is_word(bytes[p - 1])) && (end >= bytes.len() || !is_word(bytes[end]));
        if whole && !in_comment(src, p) {
            return Some(p);
        }
        start = next_from(src, p);
    }
    None
}

/// The offset of the key `key` (followed by `:`) at or after `from`.
pub(super) fn find_key(src: &str, from: usize, key: &str) -> Option<usize> {
    let mut start = from;
    while let Some(p) = find_token(src, start, key) {
        let after = src[p + key.len()..].trim_start_matches(['"', '\'']);
        if after.trim_start_matches([' ', '\t']).starts_with(':') {
            return Some(p);
        }
        start = next_from(src, p);
    }
    None
}

/// The offset of the `nth` (from 0) occurrence of `value` as the value of `key` (`key: value`, in
/// block or flow style, quoted or not) at or after `from`.
pub(super) fn find_value(src: &str, from: usize, key: &str, value: &str, nth: usize) -> Option<usize> {
    let mut start = from;
    let mut seen = 0;
    while let Some(p) = find_token(src, start, value) {
        if is_value_of(src, p, key) {
            if seen == nth {
                return Some(p);
            }
            seen += 1;
        }
        start = next_from(src, p);
    }
    None
}

fn is_value_of(src: &str, p: usize, key: &str) -> bool {
    let line_start = src[..p].rfind('\n').map_or(0, |i| i + 1);
    let quote_or_space = |c: char| c == '"' || c == '\'' || c.is_whitespace();
    let before = src[line_start..p].trim_end_matches(quote_or_space);
    let Some(before) = before.strip_suffix(':') else {
        return false;
    };
    let before = before.trim_end_matches(quote_or_space);
    before.strip_suffix(key).is_some_and(|rest| rest.as_bytes().last().is_none_or(|b| !is_word(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "spec:\n  # node1 is first\n  hosts:\n  - {name: node1, address: 10.0.0.1}\n  - name: \"node10\"\n    internalAddress: 10.0.0.1\n    address: 10.0.0.10\n  roleGroups:\n    worker: [node1, node10]\n";

    #[test]
    fn finds_whole_tokens_outside_comments() {
        let p = find_token(SRC, 0, "node1").unwrap();
        assert_eq!(&SRC[p - 6..p], "name: ");
        let groups = find_key(SRC, 0, "roleGroups").unwrap();
        let w = find_token(SRC, groups, "node10").unwrap();
        assert!(SRC[..w].ends_with("[node1, "));
        assert_eq!(find_token(SRC, 0, "node"), None);
    }

    #[test]
    fn finds_values_of_keys() {
        let a = find_value(SRC, 0, "address", "10.0.0.1", 0).unwrap();
        assert!(SRC[..a].ends_with("address: "));
        // internalAddress is a different key.
        assert_eq!(find_value(SRC, 0, "address", "10.0.0.1", 1), None);
        let n = find_value(SRC, 0, "name", "node10", 0).unwrap();
        assert!(SRC[..n].ends_with("name: \""));
        assert_eq!(find_key(SRC, 0, "hosts"), SRC.find("hosts:"));
    }
}
