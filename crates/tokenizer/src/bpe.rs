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
/// "These two do not merge": rank and result.
const NO_PAIR: (u32, u32) = (u32::MAX, NONE);
/// Words of at most this many symbols are merged by scanning instead of with a queue.
const SCAN_LIMIT: usize = 48;

/// The merge table and the pre-tokenizer of a BPE vocabulary.
#[derive(Debug)]
pub(crate) struct Bpe {
    /// `(left, right)` → `(rank, merged piece)`.
    merges: FxHashMap<u64, (u32, u32)>,
    /// Strings from the merges that are not tokens, numbered from `n_vocab`.
    extra: FxHashMap<Box<str>, u32>,
    /// Piece id of each byte's GPT-2 character (byte-level vocabularies).
    byte_piece: [u32; 256],
    /// `(rank, merged)` of every byte pair, indexed `first << 8 | second` (byte-level only):
    /// the first round of lookups of every word, from a table that stays in cache.
    byte_pairs: Vec<(u32, u32)>,
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

/// Reusable buffers for one `encode` call, and a cache of the words already seen in it
/// (a word always gives the same tokens; prose repeats words a lot).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    words: Vec<Range<usize>>,
    symbols: Vec<Symbol>,
    /// `(rank, merged)` of each symbol with its right neighbour
    pairs: Vec<(u32, u32)>,
    heap: BinaryHeap<Reverse<(u32, u32, u32)>>,
    encoded: String,
    /// word → range of `cached_ids`
    cache: FxHashMap<Box<str>, (u32, u32)>,
    cached_ids: Vec<u32>,
}

/// Words cached per `encode` call, at most.
const CACHE_WORDS: usize = 1 << 16;

fn key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

impl Bpe {
    /// Builds the merge table from `tokenizer.ggml.merges` (`"left right"` per line, rank =
    /// line number; the first occurrence of a pair wins, lines without a space are ignored).
    pub(crate) fn new(vocab: &Vocab, merges: &[String]) -> Result<Bpe, TokenizerError> {
        let (pre_name, cfg) = vocab
            .pre
            .clone()
            .unwrap_or_else(|| ("default".into(), crate::pretok::preset("default").expect("default preset")));
        let pre = PreTokenizer::new(cfg.exprs)
            .map_err(|message| TokenizerError::Regex { pre: pre_name, message })?;
        let n_vocab = vocab.n_tokens() as u32;
        let mut bpe = Bpe {
            merges: FxHashMap::with_capacity_and_hasher(merges.len(), Default::default()),
            extra: FxHashMap::default(),
            byte_piece: [NONE; 256],
            byte_pairs: Vec::new(),
            pre,
            byte_encode: !cfg.spm_style,
            ignore_merges: vocab.opts.ignore_merges,
            whole_newlines: cfg.kind == "gemma4",
            n_vocab,
        };
        let mut joined = String::new();
        for (rank, line) in merges.iter().enumerate() {
            let Some(pos) = line.as_bytes().iter().skip(1).position(|&b| b == b' ').map(|p| p + 1) else {
                continue;
            };
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
        if bpe.byte_encode {
            bpe.byte_pairs = (0..1usize << 16)
                .map(|ab| bpe.pair(bpe.byte_piece[ab >> 8], bpe.byte_piece[ab & 255]))
                .collect();
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
            let word = &text[r.clone()];
            if word.len() == 1 {
                // a single byte is a single symbol: its token, whatever the merges say
                let piece =
                    if self.byte_encode { self.byte_piece[word.as_bytes()[0] as usize] } else { NONE };
                if piece < self.n_vocab {
                    out.push(piece);
                } else {
                    self.encode_word(vocab, word, out, s);
                }
                continue;
            }
            if let Some(&(start, len)) = s.cache.get(word) {
                out.extend_from_slice(&s.cached_ids[start as usize..(start + len) as usize]);
                continue;
            }
            let before = out.len();
            self.encode_word(vocab, word, out, s);
            if s.cache.len() < CACHE_WORDS {
                let start = s.cached_ids.len() as u32;
                s.cached_ids.extend_from_slice(&out[before..]);
                s.cache.insert(word.into(), (start, (out.len() - before) as u32));
            }
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
                syms.push(Symbol {
                    piece: self.byte_piece[b as usize],
                    start: i as u32,
                    len: 1,
                    prev: i as i32 - 1,
                    next: i as i32 + 1,
                });
            }
        } else {
            for (i, (start, c)) in word.char_indices().enumerate() {
                let len = c.len_utf8();
                let piece = self.lookup(vocab, &word[start..start + len]);
                syms.push(Symbol {
                    piece,
                    start: start as u32,
                    len: len as u32,
                    prev: i as i32 - 1,
                    next: i as i32 + 1,
                });
            }
        }
        if let Some(last) = syms.last_mut() {
            last.next = -1;
        }

        // the rank and result of merging each symbol with its right neighbour
        let pairs = &mut s.pairs;
        pairs.clear();
        for i in 1..syms.len() {
            let p = if self.byte_encode {
                let (a, b) = (word.as_bytes()[i - 1], word.as_bytes()[i]);
                self.byte_pairs[(a as usize) << 8 | b as usize]
            } else {
                self.pair(syms[i - 1].piece, syms[i].piece)
            };
            pairs.push(p);
        }
        pairs.push(NO_PAIR);
        if syms.len() <= SCAN_LIMIT {
            self.merge_by_scan(syms, pairs);
        } else {
            self.merge_by_heap(syms, pairs, &mut s.heap);
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

    /// `(rank, merged piece)` of a pair, [`NO_PAIR`] when the merges have no such pair.
    fn pair(&self, left: u32, right: u32) -> (u32, u32) {
        self.merges.get(&key(left, right)).copied().unwrap_or(NO_PAIR)
    }

    /// Merges `right` into `left` (its neighbour); refreshes the pairs around the result.
    /// Returns the symbols whose pair changed: the left neighbour (if any) and `left`.
    fn merge(&self, syms: &mut [Symbol], pairs: &mut [(u32, u32)], left: usize) -> (Option<usize>, usize) {
        let right = syms[left].next as usize;
        let rs = syms[right];
        syms[left].piece = pairs[left].1;
        syms[left].len += rs.len;
        syms[left].next = rs.next;
        syms[right].len = 0;
        pairs[right] = NO_PAIR;
        if rs.next >= 0 {
            syms[rs.next as usize].prev = left as i32;
            pairs[left] = self.pair(syms[left].piece, syms[rs.next as usize].piece);
        } else {
            pairs[left] = NO_PAIR;
        }
        let prev = syms[left].prev;
        if prev >= 0 {
            pairs[prev as usize] = self.pair(syms[prev as usize].piece, syms[left].piece);
        }
        ((prev >= 0).then_some(prev as usize), left)
    }

    /// Short words: find the lowest-rank pair by scanning (leftmost wins ties), merge, repeat.
    /// The same choice as llama.cpp's queue, which pops the lowest `(rank, left index)`.
    fn merge_by_scan(&self, syms: &mut [Symbol], pairs: &mut [(u32, u32)]) {
        loop {
            let mut best = NO_PAIR.0;
            let mut at = usize::MAX;
            let mut i = 0i32;
            while i >= 0 {
                let rank = pairs[i as usize].0;
                if rank < best {
                    best = rank;
                    at = i as usize;
                }
                i = syms[i as usize].next;
            }
            if at == usize::MAX {
                return;
            }
            self.merge(syms, pairs, at);
        }
    }

    /// Long words: llama.cpp's priority queue of `(rank, left index)`, with outdated entries
    /// skipped when popped.
    fn merge_by_heap(
        &self,
        syms: &mut [Symbol],
        pairs: &mut [(u32, u32)],
        heap: &mut BinaryHeap<Reverse<(u32, u32, u32)>>,
    ) {
        heap.clear();
        for (i, p) in pairs.iter().enumerate() {
            if p.0 != NO_PAIR.0 {
                heap.push(Reverse((p.0, i as u32, p.1)));
            }
        }
        while let Some(Reverse((rank, left, merged))) = heap.pop() {
            let l = left as usize;
            if syms[l].len == 0 || pairs[l] != (rank, merged) {
                continue; // outdated
            }
            let (prev, left) = self.merge(syms, pairs, l);
            for i in prev.into_iter().chain([left]) {
                if pairs[i].0 != NO_PAIR.0 {
                    heap.push(Reverse((pairs[i].0, i as u32, pairs[i].1)));
                }
            }
        }
    }
}
