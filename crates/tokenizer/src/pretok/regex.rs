//! The general regex path, for pre-tokenizer expressions without a hand-written splitter.
//!
//! llama.cpp runs these with `std::regex` (ECMAScript) on a *collapsed* text: every code point
//! becomes one character — ASCII stays, other whitespace becomes `\x0B`, other code points
//! become a marker of their category (`\xD1` number, `\xD2` letter, `\xD3` punctuation, `\xD4`
//! mark, `\xD5` symbol, `\xD0` anything else) — and `\p{..}` in the expression becomes the
//! marker plus the ASCII members. Expressions without `\p{..}` run on the code points
//! themselves (non-ASCII whitespace still turned into `\x0B`). This module does the same with
//! `fancy-regex` (for the lookarounds), translating ECMAScript's ASCII-only `\s`, `\d`, `\w`
//! into explicit classes so the Unicode-aware engine sees exactly what `std::regex` sees.

use fancy_regex::Regex;

use crate::unicode::{Flags, flags};

/// `\p{..}` names llama.cpp collapses, with the category each stands for.
const CATEGORIES: [(&str, u16); 10] = [
    ("\\p{N}", Flags::NUMBER),
    ("\\p{L}", Flags::LETTER),
    ("\\p{P}", Flags::PUNCTUATION),
    ("\\p{M}", Flags::ACCENT_MARK),
    ("\\p{S}", Flags::SYMBOL),
    ("\\p{Lu}", Flags::LETTER),
    ("\\p{Ll}", Flags::LETTER),
    ("\\p{Lt}", Flags::LETTER),
    ("\\p{Lm}", Flags::LETTER),
    ("\\p{Lo}", Flags::LETTER),
];

/// The marker character of a category in the collapsed text, and the ASCII members of the
/// category written for a bracket class.
fn category_marker(cat: u16) -> Option<(char, &'static str)> {
    Some(match cat {
        Flags::NUMBER => ('\u{D1}', "0-9"),
        Flags::LETTER => ('\u{D2}', "A-Za-z"),
        Flags::PUNCTUATION => ('\u{D3}', "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"),
        Flags::ACCENT_MARK => ('\u{D4}', ""),
        Flags::SYMBOL => ('\u{D5}', "\\$\\+<->\\^`\\|\\~"),
        _ => return None,
    })
}

/// The collapsed character of one code point.
pub(crate) fn collapse(cp: u32, f: Flags) -> char {
    if cp < 128 {
        return char::from_u32(cp).unwrap_or('\0');
    }
    if f.is_whitespace() {
        return '\u{0B}';
    }
    category_marker(f.category()).map(|(c, _)| c).unwrap_or('\u{D0}')
}

/// The text a non-collapsed expression runs on: non-ASCII whitespace becomes `\x0B`.
pub(crate) fn widen(cp: u32) -> char {
    if cp > 0x7F && flags(cp).is_whitespace() {
        return '\u{0B}';
    }
    char::from_u32(cp).unwrap_or('\u{FFFD}')
}

/// True when the expression uses a `\p{..}` category (llama.cpp's `use_collapsed`).
pub(crate) fn uses_categories(expr: &str) -> bool {
    CATEGORIES.iter().any(|(name, _)| expr.contains(name))
}

const ASCII_SPACE: &str = "\\t\\n\\x0B\\x0C\\r\\x20";

/// Rewrites an ECMAScript expression (as llama.cpp writes them) into fancy-regex syntax with
/// `std::regex`'s meaning, collapsing `\p{..}` when `collapsed`.
pub(crate) fn translate(expr: &str, collapsed: bool) -> Result<String, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() * 2);
    let mut inside = false;
    let mut i = 0;
    while i < chars.len() {
        // escapes are consumed in pairs below, so a bracket seen here is never escaped
        let c = chars[i];
        if c == '[' {
            if inside {
                out.push_str("\\[");
            } else {
                out.push('[');
                inside = true;
            }
            i += 1;
            continue;
        }
        if c == ']' && inside {
            out.push(']');
            inside = false;
            i += 1;
            continue;
        }
        if c == '\\' && i + 1 < chars.len() {
            let next = chars[i + 1];
            if next == 'p' && chars.get(i + 2) == Some(&'{') {
                let close = chars[i..].iter().position(|&ch| ch == '}').map(|p| p + i);
                let name: String = close.map(|e| chars[i..=e].iter().collect()).unwrap_or_default();
                let cat = CATEGORIES.iter().find(|(n, _)| *n == name).map(|&(_, c)| c);
                match (cat, collapsed) {
                    (Some(cat), true) => {
                        let (marker, ascii) = category_marker(cat).ok_or("bad category")?;
                        if !inside {
                            out.push('[');
                        }
                        out.push(marker);
                        out.push_str(ascii);
                        if !inside {
                            out.push(']');
                        }
                        i = close.unwrap_or(i) + 1;
                        continue;
                    }
                    _ => return Err(format!("unsupported property {name:?}")),
                }
            }
            let class = match next {
                's' => Some((ASCII_SPACE, false)),
                'S' => Some((ASCII_SPACE, true)),
                'd' => Some(("0-9", false)),
                'D' => Some(("0-9", true)),
                'w' => Some(("0-9A-Za-z_", false)),
                'W' => Some(("0-9A-Za-z_", true)),
                _ => None,
            };
            match class {
                Some((members, negated)) if inside => {
                    if negated {
                        return Err(format!("negated class escape \\{next} inside [] is not supported"));
                    }
                    out.push_str(members);
                }
                Some((members, negated)) => {
                    out.push('[');
                    if negated {
                        out.push('^');
                    }
                    out.push_str(members);
                    out.push(']');
                }
                None => {
                    out.push('\\');
                    out.push(next);
                }
            }
            i += 2;
            continue;
        }
        if inside && matches!(c, '&' | '~') {
            // set operators in Rust's class syntax (`&&`, `~~`); literal in ECMAScript
            out.push('\\');
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

/// One compiled fallback expression.
#[derive(Debug)]
pub(crate) struct RegexStep {
    regex: Regex,
    /// Runs on the collapsed text (else on the widened code points).
    pub(crate) collapsed: bool,
}

impl RegexStep {
    pub(crate) fn new(expr: &str) -> Result<RegexStep, String> {
        let collapsed = uses_categories(expr);
        if collapsed && !expr.is_ascii() {
            return Err("expression mixes unicode categories and non-ASCII characters".into());
        }
        let pattern = translate(expr, collapsed)?;
        let regex = Regex::new(&pattern).map_err(|e| format!("{e}"))?;
        Ok(RegexStep { regex, collapsed })
    }

    /// Splits each chunk of `text` (one char per code point; `starts[i]` is the byte offset of
    /// code point `i`, with a final entry for the end) into matches and the gaps between them.
    pub(crate) fn split(&self, text: &str, starts: &[usize], offsets: &[usize]) -> Vec<usize> {
        let cp_at = |byte: usize| starts.partition_point(|&s| s < byte);
        let mut out = Vec::with_capacity(offsets.len() * 2);
        let mut start = 0;
        for &len in offsets {
            let (b0, b1) = (starts[start], starts[start + len]);
            let chunk = &text[b0..b1];
            let mut at = 0usize;
            let mut pos = 0;
            while pos <= chunk.len() {
                // a lookaround error (backtrack limit) leaves the rest of the chunk whole
                let Ok(Some(m)) = self.regex.find_from_pos(chunk, pos) else { break };
                let (ms, me) = (cp_at(b0 + m.start()) - start, cp_at(b0 + m.end()) - start);
                if ms > at {
                    out.push(ms - at);
                }
                out.push(me - ms);
                at = me;
                pos = if m.end() > m.start() { m.end() } else { next_char(chunk, m.end()) };
            }
            if at < len {
                out.push(len - at);
            }
            start += len;
        }
        out
    }
}

fn next_char(s: &str, pos: usize) -> usize {
    s[pos..].chars().next().map(|c| pos + c.len_utf8()).unwrap_or(s.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_categories_and_ascii_classes() {
        let t = translate("[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", true).unwrap();
        assert_eq!(
            t,
            "[^\\t\\n\\x0B\\x0C\\r\\x20\u{D2}A-Za-z\u{D1}0-9]+|[\\t\\n\\x0B\\x0C\\r\\x20]+(?![^\\t\\n\\x0B\\x0C\\r\\x20])"
        );
        assert_eq!(translate("\\p{N}", true).unwrap(), "[\u{D1}0-9]");
    }

    #[test]
    fn collapse_maps_categories() {
        assert_eq!(collapse('a' as u32, flags('a' as u32)), 'a');
        assert_eq!(collapse('é' as u32, flags('é' as u32)), '\u{D2}');
        assert_eq!(collapse(0x3000, flags(0x3000)), '\u{0B}');
        assert_eq!(collapse('٣' as u32, flags('٣' as u32)), '\u{D1}');
    }
}
