//! Hand-written splitters for the common pre-tokenizer regexes, ported from llama.cpp's
//! `unicode_regex_split_custom_*`: the same scan, the same quirks, no regex engine.
//!
//! Every splitter refines a partition: `offsets` are chunk lengths in code points, and each
//! chunk is split independently (a chunk edge behaves like the end of the text).

use crate::unicode::{Flags, to_lower};

/// Marker for "outside the chunk" (llama.cpp's `OUT_OF_RANGE`).
const OUT: u32 = u32::MAX;

/// One chunk being scanned, with the emitter of pieces.
struct Scan<'a> {
    cps: &'a [u32],
    flags: &'a [Flags],
    ini: usize,
    end: usize,
    prev_end: usize,
    out: &'a mut Vec<usize>,
}

impl Scan<'_> {
    fn cpt(&self, pos: usize) -> u32 {
        if self.ini <= pos && pos < self.end { self.cps[pos] } else { OUT }
    }

    fn flags(&self, pos: usize) -> Flags {
        if self.ini <= pos && pos < self.end { self.flags[pos] } else { Flags::NONE }
    }

    /// Emits the piece ending at `end`; returns its length.
    fn add(&mut self, end: usize) -> usize {
        let len = end - self.prev_end;
        if len > 0 {
            self.out.push(len);
        }
        self.prev_end = end;
        len
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` at `pos` (case-insensitive when `fold`): the match length.
    fn contraction(&self, pos: usize, fold: bool) -> usize {
        if self.cpt(pos) != '\'' as u32 || pos + 1 >= self.end {
            return 0;
        }
        let low = |c: u32| if fold && c != OUT { to_lower(c) } else { c };
        let next = low(self.cpt(pos + 1));
        if [b's', b't', b'm', b'd'].iter().any(|&c| next == c as u32) {
            return 2;
        }
        if pos + 2 < self.end {
            let next2 = low(self.cpt(pos + 2));
            let pair = |a: u8, b: u8| next == a as u32 && next2 == b as u32;
            if pair(b'r', b'e') || pair(b'v', b'e') || pair(b'l', b'l') {
                return 3;
            }
        }
        0
    }

    /// Counts whitespace from `pos`; also where the last `\r`/`\n` of the run ends (0: none).
    fn whitespace_run(&self, pos: usize) -> (usize, usize) {
        let mut n = 0;
        let mut last_rn_end = 0;
        while self.flags(pos + n).is_whitespace() {
            let c = self.cpt(pos + n);
            if c == '\r' as u32 || c == '\n' as u32 {
                last_rn_end = pos + n + 1;
            }
            n += 1;
        }
        (n, last_rn_end)
    }

    /// The shared tail of every splitter: `\s*[\r\n]+` (when `newlines`), `\s+(?!\S)`, `\s+`,
    /// else a single code point. Returns the new position.
    fn whitespace_or_single(&mut self, pos: usize, newlines: bool) -> usize {
        let (n_ws, last_rn_end) = self.whitespace_run(pos);
        if newlines && last_rn_end > 0 {
            self.add(last_rn_end);
            return last_rn_end;
        }
        if n_ws > 1 && self.cpt(pos + n_ws) != OUT {
            let p = pos + n_ws - 1;
            self.add(p);
            return p;
        }
        if n_ws > 0 {
            self.add(pos + n_ws);
            return pos + n_ws;
        }
        self.add(pos + 1);
        pos + 1
    }
}

fn for_each_chunk(
    cps: &[u32],
    flags: &[Flags],
    offsets: &[usize],
    mut f: impl FnMut(&mut Scan<'_>),
) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len() + cps.len() / 4);
    let mut start = 0;
    for &len in offsets {
        let mut scan = Scan { cps, flags, ini: start, end: start + len, prev_end: start, out: &mut out };
        f(&mut scan);
        start += len;
    }
    out
}

/// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
pub(crate) fn gpt2(cps: &[u32], flags: &[Flags], offsets: &[usize]) -> Vec<usize> {
    for_each_chunk(cps, flags, offsets, |s| {
        let mut pos = s.ini;
        while pos < s.end {
            let cpt = s.cpt(pos);
            let n = s.contraction(pos, false);
            if n > 0 {
                pos += s.add(pos + n);
                continue;
            }
            let space = cpt == ' ' as u32;
            let mut f2 = if space { s.flags(pos + 1) } else { s.flags(pos) };
            if f2.is_letter() || f2.is_number() {
                let letter = f2.is_letter();
                pos += space as usize;
                while if letter { f2.is_letter() } else { f2.is_number() } {
                    pos += 1;
                    f2 = s.flags(pos);
                }
                s.add(pos);
                continue;
            }
            if !(f2.is_whitespace() || f2.is_letter() || f2.is_number()) && f2.any() {
                pos += space as usize;
                while !(f2.is_whitespace() || f2.is_letter() || f2.is_number()) && f2.any() {
                    pos += 1;
                    f2 = s.flags(pos);
                }
                s.add(pos);
                continue;
            }
            pos = s.whitespace_or_single(pos, false);
        }
    })
}

/// Which letter-run and number rule a Llama-3-shaped splitter uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Llama3Like {
    /// `[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}` (Llama 3).
    Llama3,
    /// `[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}` (Qwen2).
    Qwen2,
    /// `[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}` and marks kept out of punctuation (Qwen3.5).
    Qwen35,
}

/// Llama 3 / Qwen2 / Qwen3.5: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
/// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` and its variants.
pub(crate) fn llama3_like(kind: Llama3Like, cps: &[u32], flags: &[Flags], offsets: &[usize]) -> Vec<usize> {
    let marks = kind == Llama3Like::Qwen35;
    let wordish = move |f: Flags| f.is_letter() || (marks && f.is_accent_mark());
    for_each_chunk(cps, flags, offsets, |s| {
        let mut pos = s.ini;
        while pos < s.end {
            let cpt = s.cpt(pos);
            let fl = s.flags(pos);
            let n = s.contraction(pos, true);
            if n > 0 {
                pos += s.add(pos + n);
                continue;
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(cpt == '\r' as u32 || cpt == '\n' as u32 || fl.is_number())
                && (wordish(fl) || wordish(s.flags(pos + 1)))
            {
                pos += 1;
                while wordish(s.flags(pos)) {
                    pos += 1;
                }
                s.add(pos);
                continue;
            }
            // \p{N}{1,3} or \p{N}
            if fl.is_number() {
                if kind == Llama3Like::Llama3 {
                    let mut ini = pos;
                    while s.flags(pos).is_number() {
                        pos += 1;
                        if pos - ini >= 3 {
                            s.add(pos);
                            ini = pos;
                        }
                    }
                    s.add(pos);
                } else {
                    pos += 1;
                    s.add(pos);
                }
                continue;
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*  (note: the guard tests the current char's flags)
            let other = |f: Flags| {
                !(f.is_whitespace() || f.is_letter() || f.is_number() || (marks && f.is_accent_mark()))
            };
            let mut f2 = if cpt == ' ' as u32 { s.flags(pos + 1) } else { fl };
            if other(f2) && fl.any() {
                pos += (cpt == ' ' as u32) as usize;
                while other(f2) && f2.any() {
                    pos += 1;
                    f2 = s.flags(pos);
                }
                while matches!(s.cpt(pos), 0x0D | 0x0A) {
                    pos += 1;
                }
                s.add(pos);
                continue;
            }
            pos = s.whitespace_or_single(pos, true);
        }
    })
}

/// `[^\n]+|[\n]+`: runs of newlines and runs of everything else.
pub(crate) fn newline_runs(cps: &[u32], offsets: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len() * 2);
    let mut start = 0;
    for &len in offsets {
        let end = start + len;
        let mut pos = start;
        while pos < end {
            let nl = cps[pos] == '\n' as u32;
            let run = pos;
            while pos < end && (cps[pos] == '\n' as u32) == nl {
                pos += 1;
            }
            out.push(pos - run);
        }
        start = end;
    }
    out
}

/// AFMoE digits: a digit run splits into a leading 1–2 digits (length mod 3) and groups of 3;
/// the rest of the chunk between runs is left as is.
pub(crate) fn afmoe_digits(cps: &[u32], flags: &[Flags], offsets: &[usize]) -> Vec<usize> {
    for_each_chunk(cps, flags, offsets, |s| {
        let mut pos = s.ini;
        while pos < s.end {
            if s.flags(pos).is_number() {
                let first = pos;
                while pos < s.end && s.flags(pos).is_number() {
                    pos += 1;
                }
                let count = pos - first;
                let mut cur = first;
                if count % 3 > 0 {
                    cur += count % 3;
                    s.add(cur);
                }
                while cur < first + count {
                    cur += 3;
                    s.add(cur);
                }
                continue;
            }
            pos += 1;
        }
        if s.prev_end < s.end {
            s.add(s.end);
        }
    })
}

/// A set of code points, as the collapsed-text regex `[...]` llama.cpp builds would see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// `\p{N}`: ASCII digits and code points whose only category is number.
    Number,
    /// `[\p{P}\$\+<=>\^~\|]`: punctuation plus those ASCII symbols.
    PunctAndSymbols,
}

impl Class {
    fn contains(self, cp: u32, f: Flags) -> bool {
        match self {
            Class::Number => {
                if cp < 128 {
                    (b'0' as u32..=b'9' as u32).contains(&cp)
                } else {
                    !f.is_whitespace() && f.category() == Flags::NUMBER
                }
            }
            Class::PunctAndSymbols => {
                if cp < 128 {
                    b"!\"#%&'()*,-./:;?@[\\]_{}$+<=>^~|".contains(&(cp as u8))
                } else {
                    !f.is_whitespace() && f.category() == Flags::PUNCTUATION
                }
            }
        }
    }
}

/// `[class]` (each member alone) or `[class]+` (maximal runs), the rest left between.
pub(crate) fn class_split(
    class: Class,
    runs: bool,
    cps: &[u32],
    flags: &[Flags],
    offsets: &[usize],
) -> Vec<usize> {
    for_each_chunk(cps, flags, offsets, |s| {
        let mut pos = s.ini;
        while pos < s.end {
            if class.contains(s.cps[pos], s.flags[pos]) {
                s.add(pos);
                pos += 1;
                while runs && pos < s.end && class.contains(s.cps[pos], s.flags[pos]) {
                    pos += 1;
                }
                s.add(pos);
            } else {
                pos += 1;
            }
        }
        s.add(s.end);
    })
}

/// `[0-9][0-9][0-9]`: leftmost runs of three ASCII digits.
pub(crate) fn ascii_digit_triples(cps: &[u32], flags: &[Flags], offsets: &[usize]) -> Vec<usize> {
    let digit = |c: u32| (b'0' as u32..=b'9' as u32).contains(&c);
    for_each_chunk(cps, flags, offsets, |s| {
        let mut pos = s.ini;
        while pos < s.end {
            if pos + 3 <= s.end && (pos..pos + 3).all(|p| digit(s.cps[p])) {
                s.add(pos);
                pos += 3;
                s.add(pos);
            } else {
                pos += 1;
            }
        }
        s.add(s.end);
    })
}
