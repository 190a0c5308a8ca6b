//! Word lists compiled once into one Aho-Corasick automaton each, matched ASCII
//! case-insensitively in a single pass over the text, with word boundaries checked by hand:
//! the rules of [`crate::task`] and [`crate::complexity`] cost one scan and no allocation per
//! call.
//!
//! An entry matches where it starts a word (the byte before is not a letter, digit or `_`)
//! and, unless it is a stem (written with a trailing `*` in the source lists: `summar*`
//! matches "summarize", "summary"), where it ends one too.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// A compiled word list whose entries carry a kind `K`.
#[derive(Debug, Clone)]
pub(crate) struct Lexicon<K> {
    automaton: AhoCorasick,
    entries: Vec<Entry<K>>,
}

#[derive(Debug, Clone)]
struct Entry<K> {
    kind: K,
    stem: bool,
    text: String,
}

/// One match: which entry, of what kind, where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit<K> {
    /// The entry's index in the list (stable: the order the entries were given).
    pub id: usize,
    /// The entry's kind.
    pub kind: K,
    /// Byte offset of the match in the text.
    pub start: usize,
}

impl<K: Copy> Lexicon<K> {
    /// Compiles `(pattern, kind)` entries; a trailing `*` marks a stem. Empty patterns are
    /// skipped.
    pub(crate) fn new<'a>(entries: impl IntoIterator<Item = (&'a str, K)>) -> Self {
        let entries: Vec<Entry<K>> = entries
            .into_iter()
            .filter_map(|(p, kind)| {
                let (text, stem) = match p.strip_suffix('*') {
                    Some(t) => (t, true),
                    None => (p, false),
                };
                let text = text.trim();
                (!text.is_empty()).then(|| Entry { kind, stem, text: text.to_owned() })
            })
            .collect();
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // A DFA: the fastest search for a few hundred short patterns (tens of KiB).
            .kind(Some(AhoCorasickKind::DFA))
            .build(entries.iter().map(|e| e.text.as_bytes()))
            .expect("word lists are small: the automaton always builds");
        Lexicon { automaton, entries }
    }

    /// The entry text of `id` (without the stem's `*`).
    pub(crate) fn text(&self, id: usize) -> &str {
        &self.entries[id].text
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Calls `f` for every match at word boundaries, in order of the match's end. `f` returns
    /// `false` to stop early.
    pub(crate) fn scan(&self, text: &str, mut f: impl FnMut(Hit<K>) -> bool) {
        let bytes = text.as_bytes();
        for m in self.automaton.find_overlapping_iter(text) {
            let entry = &self.entries[m.pattern().as_usize()];
            let starts_word = m.start() == 0 || !is_word_byte(bytes[m.start() - 1]);
            let ends_word = entry.stem || m.end() == bytes.len() || !is_word_byte(bytes[m.end()]);
            if starts_word
                && ends_word
                && !f(Hit { id: m.pattern().as_usize(), kind: entry.kind, start: m.start() })
            {
                return;
            }
        }
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
pub(crate) fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The longest suffix of `text` of at most `max` bytes that starts on a char boundary.
pub(crate) fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(lex: &Lexicon<u8>, text: &str) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        lex.scan(text, |h| {
            out.push((lex.text(h.id).to_owned(), h.start));
            true
        });
        out
    }

    #[test]
    fn words_match_whole_and_stems_match_prefixes() {
        let lex = Lexicon::new([("tag", 0u8), ("summar*", 1), ("step by step", 2)]);
        assert_eq!(hits(&lex, "Tag it"), vec![("tag".into(), 0)]);
        assert!(hits(&lex, "stage tags tag_x").is_empty());
        assert_eq!(
            hits(&lex, "a SUMMARY, then summarize"),
            vec![("summar".into(), 2), ("summar".into(), 16)]
        );
        assert!(hits(&lex, "unsummarized").is_empty());
        assert_eq!(hits(&lex, "go step by step."), vec![("step by step".into(), 3)]);
    }

    #[test]
    fn overlapping_entries_all_match_and_scanning_can_stop() {
        let lex = Lexicon::new([("fix", 0u8), ("fix this", 1), ("", 2)]);
        assert_eq!(lex.len(), 2);
        assert_eq!(hits(&lex, "fix this"), vec![("fix".into(), 0), ("fix this".into(), 0)]);
        let mut n = 0;
        lex.scan("fix fix fix", |_| {
            n += 1;
            n < 2
        });
        assert_eq!(n, 2);
    }

    #[test]
    fn head_and_tail_cut_on_char_boundaries() {
        let s = "aé€b";
        assert_eq!(head(s, 2), "a");
        assert_eq!(head(s, 3), "aé");
        assert_eq!(tail(s, 2), "b");
        assert_eq!(tail(s, 4), "€b");
        assert_eq!(head(s, 100), s);
        assert_eq!(tail(s, 100), s);
    }
}
