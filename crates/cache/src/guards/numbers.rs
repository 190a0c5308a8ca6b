//! Every quantity a prompt states, in one canonical text form: `3` and `three` agree, `3.5`
//! and `35` do not, `5th` and `fifth` agree and differ from `5`.

use super::lexicon::{CARDINALS, MULTIPLIERS, ORDINALS};
use crate::text::{Token, TokenKind};

/// A number found in a prompt: its canonical text and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    /// `"42"`, `"3.14"`, `"15%"`, `"1.2.3"` (a version), `"ord:5"` (fifth, 5th), `"0.5"` (half).
    pub value: String,
    /// Index of its (first) token.
    pub token: usize,
}

/// The numbers in `tokens`, in order: digit runs (with a following `hundred`, `million`, …
/// or `percent` folded in), digit ordinals, and number words (`twenty-five`, `three
/// hundred`, `a dozen`, `twice`, `fifth`, `twenty-first`, `half`).
pub fn numbers(tokens: &[Token]) -> Vec<Number> {
    let mut out = Vec::new();
    let mut words = WordNumber::default();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match t.kind {
            TokenKind::Number | TokenKind::Ordinal => {
                words.flush(&mut out);
                let (value, used) = digits(tokens, i);
                out.push(Number { value, token: i });
                i += used;
                continue;
            }
            TokenKind::Word => {
                let w = t.lower.as_str();
                if w == "and" && words.active() && tokens.get(i + 1).is_some_and(|n| is_number_word(&n.lower))
                {
                    // "one hundred and five"
                } else if !words.push(w, i, &mut out) {
                    words.flush(&mut out);
                    if w == "half" {
                        out.push(Number { value: "0.5".to_owned(), token: i });
                    }
                }
            }
        }
        i += 1;
    }
    words.flush(&mut out);
    out
}

fn is_number_word(w: &str) -> bool {
    lookup(CARDINALS, w).is_some() || lookup(ORDINALS, w).is_some() || lookup(MULTIPLIERS, w).is_some()
}

fn lookup(table: &[(&str, u64)], w: &str) -> Option<u64> {
    table.iter().find(|(k, _)| *k == w).map(|&(_, v)| v)
}

/// The canonical text of the digit token at `i` and how many tokens it took (a following
/// multiplier or `percent` is taken along).
fn digits(tokens: &[Token], i: usize) -> (String, usize) {
    let t = &tokens[i];
    if t.kind == TokenKind::Ordinal {
        let n = &t.lower[..t.lower.len() - 2];
        return (format!("ord:{}", canonical_digits(n)), 1);
    }
    let (body, percent) = match t.lower.strip_suffix('%') {
        Some(b) => (b, true),
        None => (t.lower.as_str(), false),
    };
    let mut value = canonical_digits(body);
    let mut used = 1;
    let next = tokens.get(i + 1).filter(|n| n.kind == TokenKind::Word).map(|n| n.lower.as_str());
    if let Some(mult) = next.and_then(|w| lookup(MULTIPLIERS, w))
        && let Ok(x) = value.parse::<f64>()
    {
        value = format_value(x * mult as f64);
        used = 2;
    } else if matches!(next, Some("percent" | "pct")) {
        used = 2;
        return (format!("{value}%"), used);
    }
    if percent {
        value.push('%');
    }
    (value, used)
}

/// `"1,000"` → `"1000"`, `"007"` → `"7"`; the fraction is kept as written (`"3.10"` stays,
/// a version is not `3.1`); several dots (`"1.2.3"`) are kept whole.
fn canonical_digits(s: &str) -> String {
    let s: String = s.chars().filter(|&c| c != ',').collect();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s.as_str(), None),
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    match frac {
        Some(f) => format!("{int}.{f}"),
        None => int.to_owned(),
    }
}

fn format_value(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e18 { format!("{}", x as i64) } else { format!("{x}") }
}

/// A number being read from words: `small` (below a thousand) and `big` (thousands and up).
#[derive(Debug, Default)]
struct WordNumber {
    start: Option<usize>,
    big: u64,
    small: u64,
}

impl WordNumber {
    fn active(&self) -> bool {
        self.start.is_some()
    }

    /// Takes the word `w` (token `i`) if it is a number word; `false` if it is not.
    fn push(&mut self, w: &str, i: usize, out: &mut Vec<Number>) -> bool {
        if let Some(v) = lookup(CARDINALS, w) {
            let tens_pending = self.active() && self.small % 100 >= 20 && self.small.is_multiple_of(10);
            let after_hundred =
                self.active() && self.small.is_multiple_of(100) && (self.small > 0 || self.big > 0);
            if !(v < 10 && tens_pending || v < 100 && after_hundred) {
                self.flush(out);
                self.start = Some(i);
            }
            self.small += v;
            return true;
        }
        if let Some(v) = lookup(ORDINALS, w) {
            let tens_pending = self.active() && self.small % 100 >= 20 && self.small.is_multiple_of(10);
            let (value, token) = if tens_pending && v < 10 {
                // "twenty-first"
                (self.big + self.small + v, self.start.unwrap_or(i))
            } else if self.active() && v >= 100 {
                // "two hundredth"
                (self.big + self.small.max(1) * v, self.start.unwrap_or(i))
            } else {
                self.flush(out);
                (v, i)
            };
            *self = WordNumber::default();
            out.push(Number { value: format!("ord:{value}"), token });
            return true;
        }
        if let Some(m) = lookup(MULTIPLIERS, w) {
            if !self.active() {
                self.start = Some(i);
                self.small = 1;
            }
            if m == 100 {
                self.small = self.small.max(1) * 100;
            } else {
                self.big += self.small.max(1) * m;
                self.small = 0;
            }
            return true;
        }
        false
    }

    fn flush(&mut self, out: &mut Vec<Number>) {
        if let Some(token) = self.start.take() {
            out.push(Number { value: (self.big + self.small).to_string(), token });
        }
        *self = WordNumber::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn values(s: &str) -> Vec<String> {
        numbers(&tokenize(s)).into_iter().map(|n| n.value).collect()
    }

    #[test]
    fn digits_and_words_agree() {
        assert_eq!(values("give me 3 examples"), values("give me three examples"));
        assert_eq!(values("twenty-five items"), ["25"]);
        assert_eq!(values("three hundred and five"), ["305"]);
        assert_eq!(values("2 million users, 2,000,000 users"), ["2000000", "2000000"]);
        assert_eq!(values("a dozen eggs"), ["12"]);
        assert_eq!(values("the 5th and the fifth"), ["ord:5", "ord:5"]);
        assert_eq!(values("twenty-first century"), ["ord:21"]);
        assert_eq!(values("15% or 15 percent"), ["15%", "15%"]);
        assert_eq!(values("half an hour"), ["0.5"]);
        assert_eq!(values("one two three"), ["1", "2", "3"]);
    }

    #[test]
    fn different_quantities_stay_different() {
        assert_ne!(values("3.5"), values("35"));
        assert_ne!(values("Python 3.10"), values("Python 3.1"));
        assert_ne!(values("the 5th"), values("5"));
        assert_ne!(values("chunks of 1 MB"), values("chunks of 10 MB"));
        assert_eq!(values("v1.2.3 on 2024-02-05"), ["1.2.3", "2024", "2", "5"]);
    }
}
