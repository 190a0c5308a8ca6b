//! Text handling shared by the exact key and the guards: the normalised prompt, words with
//! their clause, and a light stemmer.

/// The prompt as the exact cache keys it: lowercased, every run of whitespace one space,
/// trimmed. Punctuation is kept (`"2.5"` and `"25"` stay different).
pub fn normalize(prompt: &str) -> String {
    let mut out = String::with_capacity(prompt.len());
    for word in prompt.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// One token of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// As written (apostrophes made straight).
    pub text: String,
    /// Lowercased `text`.
    pub lower: String,
    /// Digits (with one decimal point or thousands commas), a digit ordinal (`5th`), or
    /// letters (`don't`, `node.js`, `snake_case`).
    pub kind: TokenKind,
    /// Which clause it is in: clauses are separated by `, ; : . ? ! ( ) [ ] { } "` and new
    /// lines, so "In Python, read a CSV" has two.
    pub clause: u32,
    /// First word of a sentence (its capital says nothing about being a name).
    pub sentence_start: bool,
}

/// What a [`Token`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Letters, `'`, `_`, or `.` between letters.
    Word,
    /// Digits, possibly with `.`, `,` between digits, and a `%` directly after.
    Number,
    /// Digits followed by `st`, `nd`, `rd` or `th` (`21st`).
    Ordinal,
}

/// Splits `prompt` into words and numbers. Letters and digits that touch are split
/// (`3pm` → `3`, `pm`; `utf8` → `utf`, `8`) except digit ordinals (`5th`); hyphens and
/// slashes split (`two-factor`, `async/await`).
pub fn tokenize(prompt: &str) -> Vec<Token> {
    let chars: Vec<char> = prompt.chars().map(straight_apostrophe).collect();
    let mut tokens = Vec::new();
    let mut clause = 0u32;
    let mut sentence_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && joins_word(&chars, i) {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let text = text.trim_end_matches(['\'', '.']).to_owned();
            push(&mut tokens, text, TokenKind::Word, clause, &mut sentence_start);
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && joins_number(&chars, i) {
                i += 1;
            }
            let mut kind = TokenKind::Number;
            let suffix: String = chars[i..chars.len().min(i + 2)].iter().collect::<String>().to_lowercase();
            let after = chars.get(i + 2).copied();
            if matches!(suffix.as_str(), "st" | "nd" | "rd" | "th")
                && !after.is_some_and(|c| c.is_alphanumeric())
            {
                kind = TokenKind::Ordinal;
                i += 2;
            } else if chars.get(i) == Some(&'%') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            push(&mut tokens, text, kind, clause, &mut sentence_start);
        } else {
            if is_clause_break(c) {
                clause += 1;
            }
            if matches!(c, '.' | '?' | '!' | '\n') {
                sentence_start = true;
            }
            i += 1;
        }
    }
    tokens
}

fn push(tokens: &mut Vec<Token>, text: String, kind: TokenKind, clause: u32, sentence_start: &mut bool) {
    if text.is_empty() {
        return;
    }
    let lower = text.to_lowercase();
    tokens.push(Token { text, lower, kind, clause, sentence_start: *sentence_start });
    *sentence_start = false;
}

fn straight_apostrophe(c: char) -> char {
    if matches!(c, '\u{2019}' | '\u{2018}' | '`') { '\'' } else { c }
}

/// Whether `chars[i]` continues a word: a letter or `_`; `'` or `.` between letters.
fn joins_word(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    if c.is_alphabetic() || c == '_' {
        return true;
    }
    let between = |f: fn(char) -> bool| i > 0 && f(chars[i - 1]) && chars.get(i + 1).copied().is_some_and(f);
    (c == '\'' || c == '.') && between(char::is_alphabetic)
}

/// Whether `chars[i]` continues a number: a digit; `.` or `,` between digits.
fn joins_number(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    if c.is_ascii_digit() {
        return true;
    }
    let digit = |c: char| c.is_ascii_digit();
    (c == '.' || c == ',') && i > 0 && digit(chars[i - 1]) && chars.get(i + 1).copied().is_some_and(digit)
}

fn is_clause_break(c: char) -> bool {
    matches!(c, ',' | ';' | ':' | '.' | '?' | '!' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | '\n')
}

/// A light English stemmer: the same stem for the inflections of a word (`enable`,
/// `enabled`, `enables`, `enabling` → `enabl`; `running` → `run`; `queries` → `query`),
/// British `-ise` as `-ize`. Not Porter: comparatives (`faster`) and derived nouns keep their
/// suffix, because they change what is asked. Only consistency matters: both prompts go
/// through it.
pub fn stem(word: &str) -> String {
    let mut w = word.trim_end_matches("'s").trim_end_matches('\'').to_owned();
    if w.len() <= 2 || !w.bytes().all(|b| b.is_ascii_lowercase()) {
        return w;
    }
    for (british, american) in [
        ("isations", "izations"),
        ("isation", "ization"),
        ("ising", "izing"),
        ("ised", "ized"),
        ("ises", "izes"),
        ("ise", "ize"),
    ] {
        if let Some(base) = w.strip_suffix(british).filter(|b| b.len() >= 3) {
            w = format!("{base}{american}");
            break;
        }
    }
    if let Some(base) = w.strip_suffix("ies").filter(|b| b.len() >= 2) {
        w = format!("{base}y");
    } else if let Some(base) = w.strip_suffix("es").filter(|b| {
        b.ends_with("ss") || b.ends_with('x') || b.ends_with("ch") || b.ends_with("sh") || b.ends_with('z')
    }) {
        w = base.to_owned();
    } else if w.len() >= 4
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        w.pop();
    }
    if let Some(base) = w.strip_suffix("ing").filter(|b| b.len() >= 2 && has_vowel(b)) {
        w = base.to_owned();
    } else if let Some(base) = w.strip_suffix("ied").filter(|b| b.len() >= 2) {
        w = format!("{base}y");
    } else if let Some(base) = w.strip_suffix("ed").filter(|b| b.len() >= 2 && has_vowel(b)) {
        w = base.to_owned();
    } else if let Some(base) = w.strip_suffix("ly").filter(|b| b.len() >= 4) {
        w = base.to_owned();
    }
    if w.len() > 2 && w.ends_with('e') {
        w.pop();
    }
    let b = w.as_bytes();
    if b.len() >= 3
        && b[b.len() - 1] == b[b.len() - 2]
        && !matches!(b[b.len() - 1], b'f' | b'l' | b's' | b'z')
    {
        w.pop();
    }
    w
}

fn has_vowel(s: &str) -> bool {
    s.chars().any(|c| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_case_and_whitespace_only() {
        assert_eq!(normalize("  How do I\n\tReverse   a List?  "), "how do i reverse a list?");
        assert_ne!(normalize("2.5 apples"), normalize("25 apples"));
    }

    fn words(s: &str) -> Vec<(String, TokenKind, u32)> {
        tokenize(s).into_iter().map(|t| (t.lower, t.kind, t.clause)).collect()
    }

    #[test]
    fn tokens_split_where_meaning_splits() {
        use TokenKind::*;
        let t = words("In Python, don't use 3.14 or 1,000 at 3pm on the 21st: node.js's two-factor.");
        let expect = [
            ("in", Word, 0),
            ("python", Word, 0),
            ("don't", Word, 1),
            ("use", Word, 1),
            ("3.14", Number, 1),
            ("or", Word, 1),
            ("1,000", Number, 1),
            ("at", Word, 1),
            ("3", Number, 1),
            ("pm", Word, 1),
            ("on", Word, 1),
            ("the", Word, 1),
            ("21st", Ordinal, 1),
            ("node.js's", Word, 2),
            ("two", Word, 2),
            ("factor", Word, 2),
        ];
        let expect: Vec<_> = expect.iter().map(|(w, k, c)| (w.to_string(), *k, *c)).collect();
        assert_eq!(t, expect);
        let t = tokenize("Sort it. Python is fine, 50% of the time");
        assert!(t[0].sentence_start && !t[1].sentence_start && t[2].sentence_start);
        assert_eq!(t[5].text, "50%");
    }

    #[test]
    fn stems_agree_across_inflections() {
        for group in [
            &["enable", "enabled", "enables", "enabling"][..],
            &["run", "running", "runs"],
            &["query", "queries", "queried"],
            &["add", "added", "adds", "adding"],
            &["match", "matches", "matching", "matched"],
            &["summarise", "summarize", "summarized", "summarising"],
            &["stop", "stopped", "stopping", "stops"],
            &["use", "used", "uses", "using"],
        ] {
            let stems: Vec<String> = group.iter().map(|w| stem(w)).collect();
            assert!(stems.iter().all(|s| *s == stems[0]), "{group:?} → {stems:?}");
        }
        assert_ne!(stem("fast"), stem("faster"));
        assert_ne!(stem("class"), stem("clas"));
        assert_eq!(stem("python's"), "python");
    }
}
