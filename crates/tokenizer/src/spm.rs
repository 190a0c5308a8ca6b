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

/// Reusable buffers, and a cache of the pieces already tokenized in this `encode` call.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Bigram>,
    /// piece → range of `cached_ids`
    cache: FxHashMap<Box<str>, (u32, u32)>,
    cached_ids: Vec<u32>,
}

/// Pieces cached per `encode` call, at most.
const CACHE_PIECES: usize = 1 << 16;

/// The characters some token has right before a `▁` (where a cut before `▁` is not safe).
pub(crate) fn chars_before_space(vocab: &Vocab) -> Vec<char> {
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

/// Tokenizes `text` (spaces already escaped to `▁`), appending ids to `out`. `unsafe_before`
/// is [`chars_before_space`] of the vocabulary.
pub(crate) fn encode(vocab: &Vocab, unsafe_before: &[char], text: &str, out: &mut Vec<u32>, s: &mut Scratch) {
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '\u{2581}' && i > start && prev.is_some_and(|p| !unsafe_before.contains(&p)) {
            encode_cached(vocab, &text[start..i], out, s);
            start = i;
        }
        prev = Some(c);
    }
    encode_cached(vocab, &text[start..], out, s);
}

fn encode_cached(vocab: &Vocab, piece: &str, out: &mut Vec<u32>, s: &mut Scratch) {
    if let Some(&(start, len)) = s.cache.get(piece) {
        out.extend_from_slice(&s.cached_ids[start as usize..(start + len) as usize]);
        return;
    }
    let before = out.len();
    encode_piece(vocab, piece, out, s);
    if s.cache.len() < CACHE_PIECES {
        let start = s.cached_ids.len() as u32;
        s.cached_ids.extend_from_slice(&out[before..]);
        s.cache.insert(piece.into(), (start, (out.len() - before) as u32));
    }
}

/// llama.cpp's algorithm on one piece.
fn encode_piece(vocab: &Vocab, text: &str, out: &mut Vec<u32>, s: &mut Scratch) {
    let bytes = text.as_bytes();
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
        try_add(vocab, text, syms, heap, i - 1, i);
    }
    while let Some(b) = heap.pop() {
        let (l, r) = (b.left.0 as usize, b.right as usize);
        let (ls, rs) = (syms[l], syms[r]);
        if ls.len == 0 || rs.len == 0 || ls.len + rs.len != b.size {
            continue;
        }
        syms[l].len += rs.len;
        syms[r].len = 0;
        syms[l].next = rs.next;
        if rs.next >= 0 {
            syms[rs.next as usize].prev = l as i32;
        }
        if ls.prev >= 0 {
            try_add(vocab, text, syms, heap, ls.prev as usize, l);
        }
        if rs.next >= 0 {
            try_add(vocab, text, syms, heap, l, rs.next as usize);
        }
    }

    let mut i = if syms.is_empty() { -1 } else { 0 };
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
