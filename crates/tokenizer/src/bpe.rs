//! Byte-level BPE (llama.cpp's `llm_tokenizer_bpe_session`): pre-tokenize into words, then
//! merge adjacent symbols by merge rank, lowest rank first, leftmost on ties.
//!
//! Symbols carry an interned piece id instead of their text, so a merge lookup is one hash of
//! two integers: ids below `n_vocab` are token ids, the ones above name strings that occur in
//! `tokenizer.ggml.merges` without being tokens themselves.
//!
//! # Long words in bounded memory
//!
//! llama.cpp merges a word all at once: a 4 MB word with no spaces costs a queue of millions
//! of symbols (≈45 bytes of memory per byte of text). hearth merges a word longer than
//! [`WINDOW`] bytes one window at a time, with the same result.
//!
//! A window `[a, b)` is merged with its right end open. Its last symbol `p` gets an *edge
//! pair*, ranked like the lowest-ranked merge of `p` with a piece the text after it starts
//! with (at least `Edge::min_right` bytes long): whatever the rest of the word has become
//! when the whole-word queue would merge `p` with its right neighbour, that neighbour is such
//! a piece and the pair ranks no lower, so the edge pair comes up no later. When it comes up,
//! `p` is undecided and leaves the window; its left neighbour becomes the last symbol, with
//! its own edge pair, and the whole word's symbol to its right is now known to hold at least
//! `p` (symbols only grow). Until then the symbols left of the edge have merged exactly as in
//! the whole word: the queue pops a pair only when it is the lowest of all, so the pairs on
//! one side of a boundary nobody crosses are merged in the same order whatever happens on the
//! other side. What the window holds when its queue runs dry is therefore final, where it
//! ends is a token boundary of the whole word, and the next window starts there (the tokens
//! after a boundary no merge crosses are the tokenization of the text after it).
//!
//! A window that decides nothing is retried four times as long, and when that decides
//! nothing either the rest of the word is merged whole, as llama.cpp does. Real text and
//! the repetitive texts tried (runs of one character or of short patterns, random letters,
//! CJK) decide a window within a few hundred bytes of its end, for every vocabulary in the
//! fixtures but one case: a run of `c` with Gemma's vocabulary (whose merges rank `cc ccc`
//! before `cc cc`) is merged whole.

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
/// Words longer than this many bytes are merged window by window (see the module docs).
const WINDOW: usize = 1 << 14;
/// A window that decides nothing is retried this many times as long, once.
pub(crate) const RETRY: usize = 4;
/// "Merges" with: the edge pair of an open window's last symbol.
const EDGE: u32 = u32::MAX - 1;
/// Words longer than this are not kept in the per-call cache (they rarely repeat, and the
/// cache would hold a copy of each).
const CACHE_WORD_BYTES: usize = 256;

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
    /// Length, in symbols, of the longest right-hand piece of any merge.
    max_right: usize,
    /// Length in bytes of the longest token text (no longer word can be a token whole).
    max_token: usize,
}

/// The text an open window's edge pairs look into.
struct Edge<'a> {
    word: &'a str,
    /// Where the window starts in `word`.
    base: usize,
    /// Bytes the whole word's symbol right after the window's last symbol holds at least:
    /// one character, then the length of the symbol that was last before (that symbol can
    /// only have grown since, or been taken by the one that is last now).
    min_right: usize,
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
    /// The most bytes merged at once so far (what the symbol and queue buffers are sized by).
    pub(crate) widest: usize,
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
            max_right: 0,
            max_token: vocab.texts.iter().map(|t| t.len()).max().unwrap_or(0),
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
        let symbols = |s: &str| if bpe.byte_encode { s.chars().count() } else { s.len() };
        bpe.max_right = merges
            .iter()
            .filter_map(|line| {
                line.as_bytes().iter().skip(1).position(|&b| b == b' ').map(|p| &line[p + 2..])
            })
            .map(symbols)
            .max()
            .unwrap_or(0);
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
            if s.cache.len() < CACHE_WORDS && word.len() <= CACHE_WORD_BYTES {
                let start = s.cached_ids.len() as u32;
                s.cached_ids.extend_from_slice(&out[before..]);
                s.cache.insert(word.into(), (start, (out.len() - before) as u32));
            }
        }
        s.words = words;
    }

    fn encode_word(&self, vocab: &Vocab, word: &str, out: &mut Vec<u32>, s: &mut Scratch) {
        if (self.ignore_merges || self.whole_newlines) && word.len() <= self.max_token {
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

        if word.len() <= WINDOW {
            s.widest = s.widest.max(word.len());
            self.merge_range(vocab, word, (0, word.len()), false, out, s);
            return;
        }
        self.merge_windows(vocab, word, WINDOW, out, s);
    }

    /// Merges a long word window by window (see the module docs), starting with windows of
    /// `window` bytes.
    fn merge_windows(&self, vocab: &Vocab, word: &str, window: usize, out: &mut Vec<u32>, s: &mut Scratch) {
        let (mut a, mut size) = (0, window);
        while a < word.len() {
            let mut b = a.saturating_add(size);
            if b >= word.len() || size > window {
                // the rest fits, or even a longer window decided nothing: merge it whole
                s.widest = s.widest.max(word.len() - a);
                self.merge_range(vocab, word, (a, word.len()), false, out, s);
                return;
            }
            while !word.is_char_boundary(b) {
                b -= 1;
            }
            if b == a {
                b += word[a..].chars().next().map_or(1, char::len_utf8);
            }
            s.widest = s.widest.max(b - a);
            match self.merge_range(vocab, word, (a, b), true, out, s) {
                done if done == a => size = window.saturating_mul(RETRY),
                done => (a, size) = (done, window),
            }
        }
    }

    /// Merges `word[a..b]` and appends the tokens. With `open`, the text after `b` is taken
    /// into account (see the module docs) and only the tokens decided whatever it holds are
    /// appended; returns where they end (`b` when not `open`).
    fn merge_range(
        &self,
        vocab: &Vocab,
        word: &str,
        (a, b): (usize, usize),
        open: bool,
        out: &mut Vec<u32>,
        s: &mut Scratch,
    ) -> usize {
        let span = &word[a..b];
        // one symbol per byte (byte-level) or per UTF-8 character (raw UTF-8)
        let syms = &mut s.symbols;
        syms.clear();
        if self.byte_encode {
            for (i, b) in span.bytes().enumerate() {
                syms.push(Symbol {
                    piece: self.byte_piece[b as usize],
                    start: i as u32,
                    len: 1,
                    prev: i as i32 - 1,
                    next: i as i32 + 1,
                });
            }
        } else {
            for (i, (start, c)) in span.char_indices().enumerate() {
                let len = c.len_utf8();
                let piece = self.lookup(vocab, &span[start..start + len]);
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
                let (x, y) = (span.as_bytes()[i - 1], span.as_bytes()[i]);
                self.byte_pairs[(x as usize) << 8 | y as usize]
            } else {
                self.pair(syms[i - 1].piece, syms[i].piece)
            };
            pairs.push(p);
        }
        pairs.push(NO_PAIR);
        let decided = if open {
            let mut edge = Edge { word, base: a, min_right: 1 };
            let last = syms.len() - 1;
            pairs[last] = self.edge_pair(vocab, &edge, syms[last], &mut s.encoded);
            self.merge_open(vocab, &mut edge, syms, pairs, &mut s.heap, &mut s.encoded)
        } else {
            if syms.len() <= SCAN_LIMIT {
                self.merge_by_scan(syms, pairs);
            } else {
                self.merge_by_heap(syms, pairs, &mut s.heap);
            }
            span.len()
        };

        for sym in syms.iter().filter(|sym| sym.len > 0) {
            if sym.piece < self.n_vocab {
                out.push(sym.piece);
                continue;
            }
            // not a token: fall back to single-byte tokens, as llama.cpp does
            let bytes = &span.as_bytes()[sym.start as usize..(sym.start + sym.len) as usize];
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
        a + decided
    }

    /// The edge pair of `sym`, the last symbol of an open window: the lowest rank of a merge
    /// of `sym` with any piece the text after it starts with, [`NO_PAIR`] if none.
    fn edge_pair(&self, vocab: &Vocab, edge: &Edge<'_>, sym: Symbol, buf: &mut String) -> (u32, u32) {
        let rest = &edge.word[edge.base + (sym.start + sym.len) as usize..];
        let mut best = NO_PAIR.0;
        buf.clear();
        let mut try_piece = |buf: &str, bytes: usize| {
            if bytes < edge.min_right {
                return;
            }
            let right = self.lookup(vocab, buf);
            let (rank, _) = self.pair(sym.piece, right);
            if rank != NO_PAIR.0 && rank < best {
                best = rank;
            }
        };
        if self.byte_encode {
            for (i, &b) in rest.as_bytes().iter().take(self.max_right).enumerate() {
                buf.push(byte_to_char(b));
                try_piece(buf, i + 1);
            }
        } else {
            for (i, c) in rest.char_indices().take(self.max_right) {
                buf.push(c);
                try_piece(buf, i + c.len_utf8());
            }
        }
        if best == NO_PAIR.0 { NO_PAIR } else { (best, EDGE) }
    }

    /// The queue of [`Bpe::merge_by_heap`] over an open window: when the last symbol's edge
    /// pair comes up, that symbol is undecided and leaves the window. Returns where the
    /// remaining (decided) symbols end.
    fn merge_open(
        &self,
        vocab: &Vocab,
        edge: &mut Edge<'_>,
        syms: &mut [Symbol],
        pairs: &mut [(u32, u32)],
        heap: &mut BinaryHeap<Reverse<(u32, u32, u32)>>,
        buf: &mut String,
    ) -> usize {
        let mut decided = syms.last().map_or(0, |s| (s.start + s.len) as usize);
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
            let changed = if merged == EDGE {
                decided = syms[l].start as usize;
                edge.min_right = syms[l].len as usize;
                syms[l].len = 0;
                pairs[l] = NO_PAIR;
                let prev = syms[l].prev;
                if prev < 0 {
                    break;
                }
                let prev = prev as usize;
                syms[prev].next = -1;
                pairs[prev] = self.edge_pair(vocab, edge, syms[prev], buf);
                prev
            } else {
                let last = syms[syms[l].next as usize].next < 0;
                let (prev, left) = self.merge(syms, pairs, l);
                if last {
                    pairs[left] = self.edge_pair(vocab, edge, syms[left], buf);
                }
                if let Some(p) = prev.filter(|&p| pairs[p].0 != NO_PAIR.0) {
                    heap.push(Reverse((pairs[p].0, p as u32, pairs[p].1)));
                }
                left
            };
            if pairs[changed].0 != NO_PAIR.0 {
                heap.push(Reverse((pairs[changed].0, changed as u32, pairs[changed].1)));
            }
        }
        decided
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tokenizer;

    /// A test text generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        /// `len` characters drawn from `alphabet`.
        fn text(&mut self, alphabet: &[&str], len: usize) -> String {
            (0..len).map(|_| alphabet[self.below(alphabet.len())]).collect()
        }
    }

    /// Texts without spaces that stress the merge order: runs of one letter, random letters,
    /// repeated syllables, digits, CJK and emoji.
    fn long_words(rng: &mut Rng) -> Vec<String> {
        let letters: Vec<String> = ('a'..='z').map(String::from).collect();
        let letters: Vec<&str> = letters.iter().map(|s| s.as_str()).collect();
        let mut words = vec![
            "a".repeat(700),
            "ab".repeat(333) + "a",
            "=".repeat(501),
            "-_".repeat(250),
            rng.text(&["a", "aa", "b"], 600),
            rng.text(&letters, 900),
            rng.text(&["the", "ing", "tion", "er", "s", "qu", "x"], 400),
            rng.text(&["日", "本", "語", "🤖", "é", "ß"], 300),
            rng.text(&["\u{0}", "\t", "\u{FFFD}", "\u{10FFFF}", "z"], 200),
        ];
        for _ in 0..4 {
            let alphabet = ["e", "t", "a", "o", "in", "th", "er", "an", "re", "on"];
            let len = 300 + rng.below(500);
            words.push(rng.text(&alphabet, len));
        }
        words
    }

    /// Merging a long word window by window gives what merging it whole gives, at every
    /// window size, for byte-level BPE vocabularies of several families and gemma-4's raw
    /// UTF-8 BPE.
    #[test]
    fn windows_merge_like_the_whole_word() {
        let mut rng = Rng(0x2545F4914F6CDD1D);
        let mut tested = 0;
        for name in
            ["llama-bpe", "qwen2", "qwen35", "gpt-2", "deepseek-coder", "falcon", "starcoder", "gemma-4"]
        {
            let Some(path) = hearth_testkit::vocab(&format!("ggml-vocab-{name}.gguf")) else { continue };
            let file = hearth_gguf::GgufFile::open(&path).unwrap();
            let tok = Tokenizer::from_gguf(file.metadata()).unwrap();
            let (vocab, bpe) = tok.bpe_parts().expect("a BPE vocabulary");

            for word in long_words(&mut rng) {
                let mut s = Scratch::default();
                let mut whole = Vec::new();
                bpe.merge_range(vocab, &word, (0, word.len()), false, &mut whole, &mut s);
                for window in [1, 2, 3, 5, 8, 13, 32, 100, 257] {
                    let mut windowed = Vec::new();
                    bpe.merge_windows(vocab, &word, window, &mut windowed, &mut s);
                    assert_eq!(windowed, whole, "{name}, window {window}: {word:.40?}");
                }
            }
            tested += 1;
        }
        assert!(tested > 0 || !hearth_testkit::in_ci());
    }

    /// Issue 19.5: a long single word is merged in windows of bounded size (the symbols and
    /// the queue never hold more than [`WINDOW`] bytes of it), to the same tokens as whole.
    #[test]
    fn long_single_word_memory_is_bounded() {
        let mut rng = Rng(0x9E3779B97F4A7C15);
        let letters: Vec<String> = ('a'..='z').map(String::from).collect();
        let letters: Vec<&str> = letters.iter().map(|s| s.as_str()).collect();
        let words = [
            rng.text(&letters, 1 << 18),
            "a".repeat(1 << 18),
            " ".repeat(1 << 18),
            "ab".repeat(1 << 17),
            rng.text(&["日", "本", "語"], 1 << 16),
        ];
        let mut tested = 0;
        for name in ["llama-bpe", "qwen2"] {
            let Some(path) = hearth_testkit::vocab(&format!("ggml-vocab-{name}.gguf")) else { continue };
            let file = hearth_gguf::GgufFile::open(&path).unwrap();
            let tok = Tokenizer::from_gguf(file.metadata()).unwrap();
            let (vocab, bpe) = tok.bpe_parts().expect("a BPE vocabulary");
            for word in &words {
                let mut s = Scratch::default();
                let mut windowed = Vec::new();
                bpe.encode(vocab, word, &mut windowed, &mut s);
                assert!(s.widest <= WINDOW, "{name}: merged {} bytes at once of {word:.20?}", s.widest);
                assert!(s.symbols.capacity() <= 2 * WINDOW, "{name}: {} symbols", s.symbols.capacity());
                let mut whole = Vec::new();
                let mut s = Scratch::default();
                bpe.pre.split(word, &mut s.words);
                for r in std::mem::take(&mut s.words) {
                    bpe.merge_range(vocab, &word[r.clone()], (0, r.len()), false, &mut whole, &mut s);
                }
                assert_eq!(windowed, whole, "{name}: {word:.20?}");
            }
            tested += 1;
        }
        assert!(tested > 0 || !hearth_testkit::in_ci());
    }
}
