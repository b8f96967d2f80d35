//! A styled line in the width there is: wrapped at word ends over a number of lines, and marked `…`
//! where even those are not enough, so that a summary's verdict is never silently cut.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// `line` in lines of at most `width` columns, at most `max_lines` of them; the last ends in `…` when
/// text was left out. A line that fits comes back as it is.
pub fn wrap(line: Line<'static>, width: usize, max_lines: usize) -> Vec<Line<'static>> {
    if line.width() <= width || width == 0 || max_lines == 0 {
        return vec![line];
    }
    // words and the spaces between them, each with its style
    let mut tokens: Vec<(String, Style, bool)> = Vec::new();
    for s in &line.spans {
        let style = line.style.patch(s.style);
        for c in s.content.chars() {
            let space = c == ' ';
            match tokens.last_mut() {
                Some((t, st, sp)) if *st == style && *sp == space => t.push(c),
                _ => tokens.push((c.to_string(), style, space)),
            }
        }
    }
    let w = |t: &str| t.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>();
    let mut lines: Vec<Vec<Span<'static>>> = vec![vec![]];
    let mut used = 0;
    let mut cut = false;
    for (t, style, space) in tokens {
        if lines.len() > max_lines {
            cut = true;
            break;
        }
        let tw = w(&t);
        if space {
            if used > 0 && used + tw <= width {
                lines.last_mut().expect("a line").push(Span::styled(t, style));
                used += tw;
            } else if used > 0 {
                lines.push(vec![]);
                used = 0;
            }
            continue;
        }
        if used + tw > width && used > 0 {
            lines.push(vec![]);
            used = 0;
        }
        // a word wider than the line is broken where the line ends
        let mut rest = t.as_str();
        while !rest.is_empty() {
            let mut take = 0;
            let mut cols = 0;
            for (i, c) in rest.char_indices() {
                let cw = c.width().unwrap_or(0);
                if used + cols + cw > width {
                    break;
                }
                cols += cw;
                take = i + c.len_utf8();
            }
            if take == 0 {
                lines.push(vec![]);
                used = 0;
                if width < 2 {
                    break;
                }
                continue;
            }
            lines.last_mut().expect("a line").push(Span::styled(rest[..take].to_string(), style));
            used += cols;
            rest = &rest[take..];
            if !rest.is_empty() {
                lines.push(vec![]);
                used = 0;
            }
        }
    }
    for l in &mut lines {
        while l.last().is_some_and(|s| s.content.trim().is_empty()) {
            l.pop();
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        cut = true;
    }
    if cut && let Some(last) = lines.last_mut() {
        // room for the mark: drop columns from the end of the last line
        let mut cols: usize = last.iter().map(|s| s.width()).sum();
        while cols + 1 > width {
            let Some(s) = last.last_mut() else { break };
            let mut text = s.content.to_string();
            match text.pop() {
                Some(c) => cols -= c.width().unwrap_or(0),
                None => {
                    last.pop();
                    continue;
                }
            }
            s.content = text.into();
        }
        let style = last.last().map(|s| s.style).unwrap_or_default();
        last.push(Span::styled("…", style));
    }
    lines.into_iter().map(|spans| Line::from(spans).style(line.style)).collect()
}

/// `line` in at most `width` columns on one line, cut where the width ends (not at a word) with `…`.
pub fn cut(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width || width == 0 {
        return line;
    }
    let mut out: Vec<Span<'static>> = vec![];
    let mut cols = 0;
    for s in line.spans {
        let mut text = String::new();
        for c in s.content.chars() {
            let cw = c.width().unwrap_or(0);
            if cols + cw + 1 > width {
                break;
            }
            cols += cw;
            text.push(c);
        }
        let full = text.chars().count() == s.content.chars().count();
        out.push(Span::styled(text, s.style));
        if !full {
            out.push(Span::styled("…", s.style));
            break;
        }
    }
    Line::from(out).style(line.style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ls: &[Line]) -> Vec<String> {
        ls.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>()).collect()
    }

    #[test]
    fn a_line_that_fits_is_left_alone_and_one_that_does_not_wraps_at_words() {
        let l = Line::from(vec![Span::raw("8 hosts"), Span::raw("  unreachable: master1"), Span::raw("  differ from plan: master3")]);
        assert_eq!(text(&wrap(l.clone(), 80, 2)), ["8 hosts  unreachable: master1  differ from plan: master3"]);
        let w = wrap(l.clone(), 38, 2);
        assert_eq!(text(&w), ["8 hosts  unreachable: master1  differ", "from plan: master3"]);
        assert!(w.iter().all(|l| l.width() <= 38));
        // not enough lines: the last says something is left out
        let w = wrap(l, 20, 2);
        assert_eq!(text(&w), ["8 hosts", "unreachable: master…"]);
    }

    #[test]
    fn a_cut_row_keeps_all_that_fits() {
        let l = Line::from(vec![Span::raw("08:37:17 "), Span::raw("dsfasdfasdfasdfasdfasdfasdfasdfasdf long")]);
        let c = cut(l, 20);
        assert_eq!(text(std::slice::from_ref(&c)), ["08:37:17 dsfasdfasd…"]);
        assert_eq!(c.width(), 20);
    }

    #[test]
    fn styles_stay_with_their_words_and_long_words_break() {
        let red = Style::new().fg(ratatui::style::Color::Red);
        let l = Line::from(vec![Span::raw("HEALTH_WARN "), Span::styled("OSD_DOWN_AND_A_VERY_LONG_CHECK", red)]);
        let w = wrap(l, 16, 3);
        assert!(w.iter().all(|l| l.width() <= 16), "{:?}", text(&w));
        assert!(w[1].spans.iter().all(|s| s.style == red), "{w:?}");
        assert_eq!(text(&w).concat().replace(' ', ""), "HEALTH_WARNOSD_DOWN_AND_A_VERY_LONG_CHECK");
        // wide characters count two columns
        let w = wrap(Line::raw("节点 节点 节点"), 5, 3);
        assert!(w.iter().all(|l| l.width() <= 5), "{:?}", text(&w));
    }
}
