//! Splitting raw text around special-token texts before tokenization (llama.cpp's
//! `tokenizer_st_partition`).
//!
//! Special tokens are taken longest first; each one splits every remaining text fragment at
//! all its (non-overlapping, left to right) occurrences. `lstrip`/`rstrip` tokens also eat
//! the ASCII whitespace next to them. Control and unknown tokens take part only when
//! `parse_special` is set, and then not where they overlap a literal range (message text
//! in a rendered chat prompt); user-defined tokens always do.
//!
//! llama.cpp scans the text once per special token, which is slow for vocabularies with
//! thousands of them (Gemma: 6400). hearth first finds which special texts occur in the text
//! at all with one trie walk, then runs the same algorithm over just those: a token that does
//! not occur in the text cannot occur in any of its fragments.

use std::ops::Range;

use crate::vocab::{Vocab, attr};

/// A piece of the input after partitioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fragment {
    /// A byte range of the input still to be tokenized.
    Text(usize, usize),
    /// A special token.
    Token(u32),
}

/// A byte trie over the special token texts.
#[derive(Debug)]
pub(crate) struct SpecialTrie {
    /// `(node, byte)` → child, as sorted edge lists per node.
    edges: Vec<Vec<(u8, u32)>>,
    /// Index into the special cache of the token ending at each node.
    terminal: Vec<Option<u32>>,
    /// Bytes that start some special text.
    first: [bool; 256],
}

impl SpecialTrie {
    pub(crate) fn build(vocab: &Vocab) -> SpecialTrie {
        let mut t = SpecialTrie { edges: vec![Vec::new()], terminal: vec![None], first: [false; 256] };
        for (rank, &id) in vocab.special_cache.iter().enumerate() {
            let text = vocab.texts[id as usize].as_bytes();
            t.first[text[0] as usize] = true;
            let mut node = 0usize;
            for &b in text {
                node = match t.edges[node].binary_search_by_key(&b, |&(e, _)| e) {
                    Ok(i) => t.edges[node][i].1 as usize,
                    Err(i) => {
                        let child = t.edges.len();
                        t.edges.push(Vec::new());
                        t.terminal.push(None);
                        t.edges[node].insert(i, (b, child as u32));
                        child
                    }
                };
            }
            t.terminal[node] = Some(rank as u32);
        }
        t
    }

    /// Marks in `present` (indexed like the special cache) every special text found in `text`.
    fn mark_present(&self, text: &[u8], present: &mut [bool]) {
        for start in 0..text.len() {
            if !self.first[text[start] as usize] {
                continue;
            }
            let mut node = 0usize;
            for &b in &text[start..] {
                match self.edges[node].binary_search_by_key(&b, |&(e, _)| e) {
                    Ok(i) => node = self.edges[node][i].1 as usize,
                    Err(_) => break,
                }
                if let Some(rank) = self.terminal[node] {
                    present[rank as usize] = true;
                }
            }
        }
    }
}

impl SpecialTrie {
    /// Byte ranges of `text` holding the text of a control or unknown token, ascending,
    /// overlapping ones merged.
    pub(crate) fn control_ranges(&self, vocab: &Vocab, text: &[u8]) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        for start in 0..text.len() {
            if !self.first[text[start] as usize] {
                continue;
            }
            let mut node = 0usize;
            let mut end = None;
            for (i, &b) in text[start..].iter().enumerate() {
                match self.edges[node].binary_search_by_key(&b, |&(e, _)| e) {
                    Ok(k) => node = self.edges[node][k].1 as usize,
                    Err(_) => break,
                }
                if let Some(rank) = self.terminal[node] {
                    let id = vocab.special_cache[rank as usize];
                    if vocab.attr(id) & (attr::CONTROL | attr::UNKNOWN) != 0 {
                        end = Some(start + i + 1);
                    }
                }
            }
            let Some(end) = end else { continue };
            match out.last_mut() {
                Some(last) if last.end >= start => last.end = last.end.max(end),
                _ => out.push(start..end),
            }
        }
        out
    }
}

/// True when `a..b` overlaps a range of `literal` (ascending, disjoint).
fn overlaps(literal: &[Range<usize>], a: usize, b: usize) -> bool {
    let i = literal.partition_point(|r| r.end <= a);
    literal.get(i).is_some_and(|r| r.start < b)
}

/// C's `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Partitions `raw` into text fragments and special tokens; control and unknown tokens that
/// overlap a `literal` range (ascending, disjoint) stay text.
pub(crate) fn partition(
    vocab: &Vocab,
    trie: &SpecialTrie,
    raw: &str,
    parse_special: bool,
    literal: &[Range<usize>],
) -> Vec<Fragment> {
    if raw.is_empty() {
        return Vec::new();
    }
    let mut frags = vec![Fragment::Text(0, raw.len())];
    let mut present = vec![false; vocab.special_cache.len()];
    trie.mark_present(raw.as_bytes(), &mut present);
    let bytes = raw.as_bytes();
    for (rank, &id) in vocab.special_cache.iter().enumerate() {
        if !present[rank] {
            continue;
        }
        let a = vocab.attr(id);
        if !parse_special && a & (attr::CONTROL | attr::UNKNOWN) != 0 {
            continue;
        }
        let needle = &*vocab.texts[id as usize];
        let guarded = a & (attr::CONTROL | attr::UNKNOWN) != 0 && !literal.is_empty();
        // the next occurrence in `raw[from..end]` that may become the token
        let find = |mut from: usize, end: usize| loop {
            let m = from + raw[from..end].find(needle)?;
            if !guarded || !overlaps(literal, m, m + needle.len()) {
                return Some(m);
            }
            from = m + raw[m..].chars().next().map_or(1, char::len_utf8);
        };
        let mut next = Vec::with_capacity(frags.len() + 2);
        for frag in frags {
            let Fragment::Text(mut base, mut len) = frag else {
                next.push(frag);
                continue;
            };
            loop {
                let Some(m) = find(base, base + len) else {
                    next.push(Fragment::Text(base, len));
                    break;
                };
                if m > base {
                    let mut left = m - base;
                    if a & attr::LSTRIP != 0 {
                        while left > 0 && is_space(bytes[base + left - 1]) {
                            left -= 1;
                        }
                    }
                    if left > 0 {
                        next.push(Fragment::Text(base, left));
                    }
                }
                next.push(Fragment::Token(id));
                let end = m + needle.len();
                if end >= base + len {
                    break;
                }
                let (mut r_off, mut r_len) = (end, base + len - end);
                if a & attr::RSTRIP != 0 {
                    while r_len > 0 && is_space(bytes[r_off]) {
                        r_off += 1;
                        r_len -= 1;
                    }
                }
                if r_len == 0 {
                    break;
                }
                (base, len) = (r_off, r_len);
            }
        }
        frags = next;
    }
    frags
}
