//! Text from outside kockpit (a plan's names and notes, a host's messages, a pod's log) as kockpit
//! prints it: a control character other than newline and tab, or a character that reorders how text
//! reads, is shown escaped (`\u{1b}`). No input can then move the cursor, clear or retitle the
//! terminal, or make one name read as another, on a screen or in a file written for one.

use std::borrow::Cow;

/// Characters that reorder how text is shown (bidirectional overrides, isolates and marks).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escaped(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// `s` with every control character (but newline and tab) and bidi control escaped.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if escaped(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_drives_a_terminal_and_keeps_the_rest() {
        assert!(matches!(printable("master1  ok\n\tmore"), Cow::Borrowed(_)));
        assert_eq!(printable("prod\u{1b}]0;pwned\u{7}"), "prod\\u{1b}]0;pwned\\u{7}");
        assert_eq!(printable("a\u{1b}[2Jb\rc"), "a\\u{1b}[2Jb\\u{d}c");
        assert_eq!(printable("x\u{9b}y\u{202e}z\u{7f}"), "x\\u{9b}y\\u{202e}z\\u{7f}");
        assert_eq!(printable("ünïcode ✓"), "ünïcode ✓");
    }
}
