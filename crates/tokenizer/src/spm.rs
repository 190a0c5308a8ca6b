//! SentencePiece BPE (llama.cpp's `llm_tokenizer_spm_session`): start from UTF-8 characters,
//! repeatedly merge the adjacent pair whose concatenation is the token with the highest
//! score (leftmost on ties), then emit each symbol's token or, failing that, its bytes as
//! `<0xXX>` byte-fallback tokens.
//!
//! One difference in method, none in result: llama.cpp runs the merge queue over the whole
//! fragment at once. hearth cuts the text before each `▁` that no token can reach across
//! (no token contains the preceding character followed by `▁`) and runs the queue per piece:
//! merges never cross such a cut, and within a piece the queue order is the same, so the
//! tokens are identical while the queue stays small (a 1 MB prompt is one fragment).
//!
//! A piece longer than [`WINDOW`] bytes (a long text with no spaces) is merged one window at
//! a time, as BPE merges long words (see `bpe.rs`, which gives the argument): the last
//! symbol of a window gets an edge pair scored like the best token that symbol forms with a
//! prefix of the text after it (at least as long as the symbol that was last before it),
//! leaves the window undecided when that pair comes up, and what remains when the queue runs
//! dry is final. A window that decides nothing is retried four times as long, then the rest
//! is merged whole.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::fxhash::FxHashMap;
use crate::unicode::utf8_len;
use crate::vocab::Vocab;

#[derive(Clone, Copy, Debug)]
struct Symbol {
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

/// A candidate merge: higher score first, then lower left index.
#[derive(Clone, Copy, Debug)]
struct Bigram {
    score: f32,
    left: Reverse<u32>,
    right: u32,
    size: u32,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.total_cmp(&other.score).then(self.left.cmp(&other.left))
    }
}

/// Pieces longer than this many bytes are merged window by window.
const WINDOW: usize = 1 << 14;
/// The `right` of an edge pair (see the module docs).
const EDGE: u32 = u32::MAX;
/// Pieces longer than this are not cached (they rarely repeat, and the cache would hold a
/// copy of each).
const CACHE_PIECE_BYTES: usize = 256;

/// The SentencePiece model: what cutting and windowing need to know about the vocabulary.
#[derive(Debug)]
pub(crate) struct Spm {
    /// The characters after which a cut before `▁` is unsafe ([`chars_before_space`]).
    unsafe_before: Vec<char>,
    /// Length in bytes of the longest token text.
    max_token: usize,
}

impl Spm {
    pub(crate) fn new(vocab: &Vocab) -> Spm {
        Spm {
            unsafe_before: chars_before_space(vocab),
            max_token: vocab.texts.iter().map(|t| t.len()).max().unwrap_or(0),
        }
    }
}

/// Reusable buffers, and a cache of the pieces already tokenized in this `encode` call.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The most bytes merged at once so far (what the symbol and queue buffers are sized by).
    pub(crate) widest: usize,
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Bigram>,
    /// piece → range of `cached_ids`
    cache: FxHashMap<Box<str>, (u32, u32)>,
    cached_ids: Vec<u32>,
}

/// Pieces cached per `encode` call, at most.
const CACHE_PIECES: usize = 1 << 16;

/// The characters some token has right before a `▁` (where a cut before `▁` is not safe).
fn chars_before_space(vocab: &Vocab) -> Vec<char> {
    let mut set: Vec<char> = Vec::new();
    for t in &vocab.texts {
        let mut prev = None;
        for c in t.chars() {
            if c == '\u{2581}'
                && let Some(p) = prev
                && !set.contains(&p)
            {
                set.push(p);
            }
            prev = Some(c);
        }
    }
    set
}

/// Tokenizes `text` (spaces already escaped to `▁`), appending ids to `out`.
pub(crate) fn encode(spm: &Spm, vocab: &Vocab, text: &str, out: &mut Vec<u32>, s: &mut Scratch) {
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '\u{2581}' && i > start && prev.is_some_and(|p| !spm.unsafe_before.contains(&p)) {
            encode_cached(spm, vocab, &text[start..i], out, s);
            start = i;
        }
        prev = Some(c);
    }
    encode_cached(spm, vocab, &text[start..], out, s);
}

fn encode_cached(spm: &Spm, vocab: &Vocab, piece: &str, out: &mut Vec<u32>, s: &mut Scratch) {
    if let Some(&(start, len)) = s.cache.get(piece) {
        out.extend_from_slice(&s.cached_ids[start as usize..(start + len) as usize]);
        return;
    }
    let before = out.len();
    if piece.len() <= WINDOW {
        s.widest = s.widest.max(piece.len());
        merge_range(spm, vocab, piece, (0, piece.len()), false, out, s);
    } else {
        merge_windows(spm, vocab, piece, WINDOW, out, s);
    }
    if s.cache.len() < CACHE_PIECES && piece.len() <= CACHE_PIECE_BYTES {
        let start = s.cached_ids.len() as u32;
        s.cached_ids.extend_from_slice(&out[before..]);
        s.cache.insert(piece.into(), (start, (out.len() - before) as u32));
    }
}

/// Merges a long piece window by window (see the module docs), starting with windows of
/// `window` bytes.
fn merge_windows(spm: &Spm, vocab: &Vocab, text: &str, window: usize, out: &mut Vec<u32>, s: &mut Scratch) {
    let (mut a, mut size) = (0, window);
    while a < text.len() {
        let mut b = a.saturating_add(size);
        if b >= text.len() || size > window {
            // the rest fits, or even a longer window decided nothing: merge it whole
            s.widest = s.widest.max(text.len() - a);
            merge_range(spm, vocab, text, (a, text.len()), false, out, s);
            return;
        }
        while !text.is_char_boundary(b) {
            b -= 1;
        }
        if b == a {
            b += text[a..].chars().next().map_or(1, char::len_utf8);
        }
        s.widest = s.widest.max(b - a);
        match merge_range(spm, vocab, text, (a, b), true, out, s) {
            done if done == a => size = window.saturating_mul(crate::bpe::RETRY),
            done => (a, size) = (done, window),
        }
    }
}

/// llama.cpp's algorithm on `text[a..b]`, appending the tokens. With `open`, the text after
/// `b` is taken into account (see the module docs) and only the tokens decided whatever it
/// holds are appended; returns where they end (`b` when not `open`).
fn merge_range(
    spm: &Spm,
    vocab: &Vocab,
    text: &str,
    (a, b): (usize, usize),
    open: bool,
    out: &mut Vec<u32>,
    s: &mut Scratch,
) -> usize {
    let span = &text[a..b];
    let bytes = span.as_bytes();
    let syms = &mut s.symbols;
    syms.clear();
    let mut offs = 0;
    while offs < bytes.len() {
        let len = utf8_len(bytes[offs]).min(bytes.len() - offs);
        let i = syms.len() as i32;
        offs += len;
        syms.push(Symbol {
            start: (offs - len) as u32,
            len: len as u32,
            prev: i - 1,
            next: if offs == bytes.len() { -1 } else { i + 1 },
        });
    }

    let heap = &mut s.heap;
    heap.clear();
    for i in 1..syms.len() {
        try_add(vocab, span, syms, heap, i - 1, i);
    }
    let mut decided = span.len();
    // bytes the whole piece's symbol after the last one holds at least (see bpe.rs)
    let mut min_right = 1;
    if open && let Some(last) = syms.len().checked_sub(1) {
        edge_pair(spm, vocab, (text, a, min_right), syms, heap, last);
    }
    while let Some(bigram) = heap.pop() {
        let (l, r) = (bigram.left.0 as usize, bigram.right);
        if r == EDGE {
            let ls = syms[l];
            if ls.len != bigram.size || ls.next >= 0 {
                continue; // outdated
            }
            // the symbol may merge with what follows the window: undecided
            decided = ls.start as usize;
            min_right = ls.len as usize;
            syms[l].len = 0;
            if ls.prev < 0 {
                break;
            }
            syms[ls.prev as usize].next = -1;
            edge_pair(spm, vocab, (text, a, min_right), syms, heap, ls.prev as usize);
            continue;
        }
        let r = r as usize;
        let (ls, rs) = (syms[l], syms[r]);
        if ls.len == 0 || rs.len == 0 || ls.len + rs.len != bigram.size {
            continue;
        }
        syms[l].len += rs.len;
        syms[r].len = 0;
        syms[l].next = rs.next;
        if rs.next >= 0 {
            syms[rs.next as usize].prev = l as i32;
        }
        if ls.prev >= 0 {
            try_add(vocab, span, syms, heap, ls.prev as usize, l);
        }
        if rs.next >= 0 {
            try_add(vocab, span, syms, heap, l, rs.next as usize);
        } else if open {
            edge_pair(spm, vocab, (text, a, min_right), syms, heap, l);
        }
    }

    let mut i = if syms.is_empty() || syms[0].len == 0 { -1 } else { 0 };
    while i >= 0 {
        let sym = syms[i as usize];
        let piece = &bytes[sym.start as usize..(sym.start + sym.len) as usize];
        match std::str::from_utf8(piece).ok().and_then(|p| vocab.text_to_token(p)) {
            Some(id) => out.push(id),
            None => {
                // a symbol that formed no token: its bytes (a merged symbol is always a
                // token, so this is a single character)
                for &b in piece {
                    out.extend(vocab.spm_byte_token(b).or(vocab.ids.unk));
                }
            }
        }
        i = sym.next;
    }
    a + decided
}

/// Queues the edge pair of `syms[last]`, the last symbol of an open window starting at
/// `text[base]`: scored like the best token the symbol forms with a prefix of at least
/// `min_right` bytes of the text after it; none if it forms none.
fn edge_pair(
    spm: &Spm,
    vocab: &Vocab,
    (text, base, min_right): (&str, usize, usize),
    syms: &[Symbol],
    heap: &mut BinaryHeap<Bigram>,
    last: usize,
) {
    let sym = syms[last];
    let start = base + sym.start as usize;
    let end = (start + spm.max_token).min(text.len());
    let mut best: Option<f32> = None;
    for k in start + sym.len as usize + min_right..=end {
        if let Some(id) = text.get(start..k).and_then(|t| vocab.text_to_token(t)) {
            let score = vocab.scores[id as usize];
            if best.is_none_or(|b| score.total_cmp(&b).is_gt()) {
                best = Some(score);
            }
        }
    }
    if let Some(score) = best {
        heap.push(Bigram { score, left: Reverse(last as u32), right: EDGE, size: sym.len });
    }
}

fn try_add(
    vocab: &Vocab,
    text: &str,
    syms: &[Symbol],
    heap: &mut BinaryHeap<Bigram>,
    left: usize,
    right: usize,
) {
    let (ls, rs) = (syms[left], syms[right]);
    let start = ls.start as usize;
    let end = start + (ls.len + rs.len) as usize;
    let Some(piece) = text.get(start..end) else { return };
    if let Some(id) = vocab.text_to_token(piece) {
        heap.push(Bigram {
            score: vocab.scores[id as usize],
            left: Reverse(left as u32),
            right: right as u32,
            size: ls.len + rs.len,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tokenizer;

    /// Merging a long piece window by window gives what merging it whole gives, at every
    /// window size (Llama 2's vocabulary and Gemma 3's).
    #[test]
    fn windows_merge_like_the_whole_piece() {
        let mut tested = 0;
        let paths = [
            hearth_testkit::vocab("ggml-vocab-llama-spm.gguf"),
            hearth_testkit::model(hearth_testkit::GEMMA3_270M),
        ];
        let mut x: u64 = 0x2545F4914F6CDD1D;
        let mut below = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let mut text = |alphabet: &[&str], len: usize| -> String {
            (0..len).map(|_| alphabet[below(alphabet.len())]).collect()
        };
        let letters: Vec<String> = ('a'..='z').map(String::from).collect();
        let letters: Vec<&str> = letters.iter().map(|s| s.as_str()).collect();
        let words = [
            "a".repeat(700),
            "▁".repeat(300),
            "ab".repeat(333) + "a",
            "=".repeat(501),
            text(&["a", "aa", "b", "▁"], 600),
            text(&letters, 900),
            text(&["the", "ing", "tion", "er", "s", "qu", "x", "▁"], 400),
            text(&["日", "本", "語", "🤖", "é", "ß"], 300),
            text(&["\u{0}", "\t", "\u{FFFD}", "\u{10FFFF}", "z"], 200),
        ];
        for path in paths.into_iter().flatten() {
            let file = hearth_gguf::GgufFile::open(&path).unwrap();
            let tok = Tokenizer::from_gguf(file.metadata()).unwrap();
            let (vocab, spm) = tok.spm_parts().expect("a SentencePiece vocabulary");
            for word in &words {
                let mut s = Scratch::default();
                let mut whole = Vec::new();
                merge_range(spm, vocab, word, (0, word.len()), false, &mut whole, &mut s);
                for window in [1, 2, 3, 5, 8, 13, 32, 100, 257] {
                    let mut windowed = Vec::new();
                    merge_windows(spm, vocab, word, window, &mut windowed, &mut s);
                    assert_eq!(windowed, whole, "{}, window {window}: {word:.20?}", path.display());
                }
            }
            tested += 1;
        }
        assert!(tested > 0 || !hearth_testkit::in_ci());
    }

    /// Issue 19.5: a long text without spaces is merged in windows of bounded size, to the
    /// same tokens as whole.
    #[test]
    fn long_single_word_memory_is_bounded() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let letters: String = (0..1 << 18)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (b'a' + (x % 26) as u8) as char
            })
            .collect();
        let words = [letters, "a".repeat(1 << 18), "▁".repeat(1 << 16), "ab".repeat(1 << 17)];
        let mut tested = 0;
        let paths = [
            hearth_testkit::vocab("ggml-vocab-llama-spm.gguf"),
            hearth_testkit::model(hearth_testkit::GEMMA3_270M),
        ];
        for path in paths.into_iter().flatten() {
            let file = hearth_gguf::GgufFile::open(&path).unwrap();
            let tok = Tokenizer::from_gguf(file.metadata()).unwrap();
            let (vocab, spm) = tok.spm_parts().expect("a SentencePiece vocabulary");
            for word in &words {
                let mut s = Scratch::default();
                let mut windowed = Vec::new();
                encode(spm, vocab, word, &mut windowed, &mut s);
                assert!(s.widest <= WINDOW, "{}: merged {} bytes at once", path.display(), s.widest);
                assert!(s.symbols.capacity() <= 2 * WINDOW, "{} symbols", s.symbols.capacity());
                let mut whole = Vec::new();
                merge_range(spm, vocab, word, (0, word.len()), false, &mut whole, &mut s);
                assert_eq!(windowed, whole, "{}: {word:.20?}", path.display());
            }
            tested += 1;
        }
        assert!(tested > 0 || !hearth_testkit::in_ci());
    }
}
