//! Byte-level BPE (llama.cpp's `llm_tokenizer_bpe_session`): pre-tokenize into words, then
//! merge adjacent symbols by merge rank, lowest rank first, leftmost on ties.
//!
//! Symbols carry an interned piece id instead of their text, so a merge lookup is one hash of
//! two integers: ids below `n_vocab` are token ids, the ones above name strings that occur in
//! `tokenizer.ggml.merges` without being tokens themselves.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Range;

use crate::error::TokenizerError;
use crate::fxhash::FxHashMap;
use crate::pretok::PreTokenizer;
use crate::unicode::byte_to_char;
use crate::vocab::Vocab;

/// No piece: a string that is neither a token nor part of any merge.
const NONE: u32 = u32::MAX;

/// The merge table and the pre-tokenizer of a BPE vocabulary.
#[derive(Debug)]
pub(crate) struct Bpe {
    /// `(left, right)` → `(rank, merged piece)`.
    merges: FxHashMap<u64, (u32, u32)>,
    /// Strings from the merges that are not tokens, numbered from `n_vocab`.
    extra: FxHashMap<Box<str>, u32>,
    /// Piece id of each byte's GPT-2 character (byte-level vocabularies).
    byte_piece: [u32; 256],
    pre: PreTokenizer,
    /// GPT-2 byte encoding (false for SPM-style BPE such as Gemma 4).
    byte_encode: bool,
    ignore_merges: bool,
    /// Gemma 4: a word of newlines that is a token is taken whole.
    whole_newlines: bool,
    n_vocab: u32,
}

#[derive(Clone, Copy, Debug)]
struct Symbol {
    piece: u32,
    /// Byte range of the symbol within the word.
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

/// Reusable buffers for one `encode` call.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    words: Vec<Range<usize>>,
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Reverse<(u32, u32, u32, u32)>>,
    encoded: String,
}

fn key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

impl Bpe {
    /// Builds the merge table from `tokenizer.ggml.merges` (`"left right"` per line, rank =
    /// line number; the first occurrence of a pair wins, lines without a space are ignored).
    pub(crate) fn new(vocab: &Vocab, merges: &[String]) -> Result<Bpe, TokenizerError> {
        let (pre_name, cfg) = vocab.pre.clone().unwrap_or_else(|| ("default".into(), crate::pretok::preset("default").expect("default preset")));
        let pre = PreTokenizer::new(cfg.exprs).map_err(|message| TokenizerError::Regex { pre: pre_name, message })?;
        let n_vocab = vocab.n_tokens() as u32;
        let mut bpe = Bpe {
            merges: FxHashMap::with_capacity_and_hasher(merges.len(), Default::default()),
            extra: FxHashMap::default(),
            byte_piece: [NONE; 256],
            pre,
            byte_encode: !cfg.spm_style,
            ignore_merges: vocab.opts.ignore_merges,
            whole_newlines: cfg.kind == "gemma4",
            n_vocab,
        };
        let mut joined = String::new();
        for (rank, line) in merges.iter().enumerate() {
            let Some(pos) = line.as_bytes().iter().skip(1).position(|&b| b == b' ').map(|p| p + 1) else { continue };
            let (left, right) = (&line[..pos], &line[pos + 1..]);
            if right.is_empty() {
                continue;
            }
            let l = bpe.intern(vocab, left);
            let r = bpe.intern(vocab, right);
            if bpe.merges.contains_key(&key(l, r)) {
                continue;
            }
            joined.clear();
            joined.push_str(left);
            joined.push_str(right);
            let m = bpe.intern(vocab, &joined);
            bpe.merges.insert(key(l, r), (rank as u32, m));
        }
        let mut buf = [0u8; 4];
        for b in 0..=255u8 {
            bpe.byte_piece[b as usize] = bpe.lookup(vocab, byte_to_char(b).encode_utf8(&mut buf));
        }
        Ok(bpe)
    }

    fn lookup(&self, vocab: &Vocab, s: &str) -> u32 {
        vocab.text_to_token(s).or_else(|| self.extra.get(s).copied()).unwrap_or(NONE)
    }

    fn intern(&mut self, vocab: &Vocab, s: &str) -> u32 {
        match self.lookup(vocab, s) {
            NONE => {
                let id = self.n_vocab + self.extra.len() as u32;
                self.extra.insert(s.into(), id);
                id
            }
            id => id,
        }
    }

    /// Tokenizes one raw-text fragment, appending ids to `out`.
    pub(crate) fn encode(&self, vocab: &Vocab, text: &str, out: &mut Vec<u32>, s: &mut Scratch) {
        s.words.clear();
        self.pre.split(text, &mut s.words);
        let words = std::mem::take(&mut s.words);
        for r in &words {
            self.encode_word(vocab, &text[r.clone()], out, s);
        }
        s.words = words;
    }

    fn encode_word(&self, vocab: &Vocab, word: &str, out: &mut Vec<u32>, s: &mut Scratch) {
        if self.ignore_merges || self.whole_newlines {
            let whole = if self.byte_encode {
                s.encoded.clear();
                s.encoded.extend(word.bytes().map(byte_to_char));
                s.encoded.as_str()
            } else {
                word
            };
            let eligible = self.ignore_merges || word.bytes().all(|b| b == b'\n');
            if eligible && let Some(id) = vocab.text_to_token(whole) {
                out.push(id);
                return;
            }
        }

        // one symbol per byte (byte-level) or per UTF-8 character (raw UTF-8)
        let syms = &mut s.symbols;
        syms.clear();
        if self.byte_encode {
            for (i, b) in word.bytes().enumerate() {
                syms.push(Symbol { piece: self.byte_piece[b as usize], start: i as u32, len: 1, prev: i as i32 - 1, next: i as i32 + 1 });
            }
        } else {
            for (i, (start, c)) in word.char_indices().enumerate() {
                let len = c.len_utf8();
                let piece = self.lookup(vocab, &word[start..start + len]);
                syms.push(Symbol { piece, start: start as u32, len: len as u32, prev: i as i32 - 1, next: i as i32 + 1 });
            }
        }
        if let Some(last) = syms.last_mut() {
            last.next = -1;
        }

        let heap = &mut s.heap;
        heap.clear();
        for i in 1..syms.len() {
            self.push_pair(syms, heap, i - 1, i);
        }
        while let Some(Reverse((_, left, right, size))) = heap.pop() {
            let (l, r) = (left as usize, right as usize);
            let (ls, rs) = (syms[l], syms[r]);
            if ls.len == 0 || rs.len == 0 || ls.next != right as i32 || ls.len + rs.len != size {
                continue; // outdated
            }
            let merged = self.merges.get(&key(ls.piece, rs.piece)).map_or(NONE, |&(_, m)| m);
            syms[l].piece = merged;
            syms[l].len += rs.len;
            syms[l].next = rs.next;
            syms[r].len = 0;
            if rs.next >= 0 {
                syms[rs.next as usize].prev = left as i32;
            }
            if ls.prev >= 0 {
                self.push_pair(syms, heap, ls.prev as usize, l);
            }
            if rs.next >= 0 {
                self.push_pair(syms, heap, l, rs.next as usize);
            }
        }

        for sym in syms.iter().filter(|sym| sym.len > 0) {
            if sym.piece < self.n_vocab {
                out.push(sym.piece);
                continue;
            }
            // not a token: fall back to single-byte tokens, as llama.cpp does
            let bytes = &word.as_bytes()[sym.start as usize..(sym.start + sym.len) as usize];
            for &b in bytes {
                let id = if self.byte_encode {
                    let c = byte_to_char(b);
                    if c.is_ascii() { vocab.text_to_token(c.encode_utf8(&mut [0u8; 4])) } else { None }
                } else {
                    vocab.text_to_token(&format!("<0x{b:02X}>"))
                };
                out.extend(id);
            }
        }
    }

    fn push_pair(&self, syms: &[Symbol], heap: &mut BinaryHeap<Reverse<(u32, u32, u32, u32)>>, left: usize, right: usize) {
        let (ls, rs) = (&syms[left], &syms[right]);
        if let Some(&(rank, _)) = self.merges.get(&key(ls.piece, rs.piece)) {
            heap.push(Reverse((rank, left as u32, right as u32, ls.len + rs.len)));
        }
    }
}
