//! SentencePiece BPE (llama.cpp's `llm_tokenizer_spm_session`): start from UTF-8 characters,
//! repeatedly merge the adjacent pair whose concatenation is the token with the highest
//! score (leftmost on ties), then emit each symbol's token or, failing that, its bytes as
//! `<0xXX>` byte-fallback tokens.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

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

/// Reusable buffers.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Bigram>,
}

/// Tokenizes `text` (spaces already escaped to `▁`), appending ids to `out`.
pub(crate) fn encode(vocab: &Vocab, text: &str, out: &mut Vec<u32>, s: &mut Scratch) {
    let bytes = text.as_bytes();
    let syms = &mut s.symbols;
    syms.clear();
    let mut offs = 0;
    while offs < bytes.len() {
        let len = utf8_len(bytes[offs]).min(bytes.len() - offs);
        let i = syms.len() as i32;
        offs += len;
        syms.push(Symbol { start: (offs - len) as u32, len: len as u32, prev: i - 1, next: if offs == bytes.len() { -1 } else { i + 1 } });
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

fn try_add(vocab: &Vocab, text: &str, syms: &[Symbol], heap: &mut BinaryHeap<Bigram>, left: usize, right: usize) {
    let (ls, rs) = (syms[left], syms[right]);
    let start = ls.start as usize;
    let end = start + (ls.len + rs.len) as usize;
    let Some(piece) = text.get(start..end) else { return };
    if let Some(id) = vocab.text_to_token(piece) {
        heap.push(Bigram { score: vocab.scores[id as usize], left: Reverse(left as u32), right: right as u32, size: ls.len + rs.len });
    }
}
