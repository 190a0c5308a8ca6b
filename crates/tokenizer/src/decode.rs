//! Tokens → bytes, as llama.cpp's `token_to_piece` and `detokenize` do it: byte-level BPE
//! pieces are mapped back through GPT-2's byte table, SentencePiece and WordPiece pieces get
//! `▁` → space, byte tokens give their byte, control and unknown tokens render only on
//! request; then the optional first-space strip and `clean_up_tokenization_spaces`.

use crate::unicode::char_to_byte;
use crate::vocab::{Vocab, VocabType, attr};

/// Every token's piece as `token_to_piece(id, special = true)` gives it, packed.
#[derive(Debug)]
pub(crate) struct Pieces {
    bytes: Vec<u8>,
    /// `bytes[ends[id - 1]..ends[id]]` is the piece of `id`.
    ends: Vec<u32>,
}

impl Pieces {
    pub(crate) fn build(vocab: &Vocab) -> Pieces {
        let mut bytes = Vec::with_capacity(vocab.texts.iter().map(|t| t.len()).sum());
        let mut ends = Vec::with_capacity(vocab.n_tokens());
        for id in 0..vocab.n_tokens() as u32 {
            piece_uncached(vocab, id, &mut bytes);
            ends.push(bytes.len() as u32);
        }
        Pieces { bytes, ends }
    }

    /// The cached piece; empty for an id outside the vocabulary.
    pub(crate) fn get(&self, id: u32) -> &[u8] {
        let i = id as usize;
        let Some(&end) = self.ends.get(i) else { return &[] };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start as usize..end as usize]
    }
}

/// llama.cpp's `token_to_piece(id, special = true)` without the cache.
fn piece_uncached(vocab: &Vocab, id: u32, out: &mut Vec<u8>) {
    let a = vocab.attr(id);
    let text = &*vocab.texts[id as usize];
    if a & (attr::UNKNOWN | attr::CONTROL | attr::USER_DEFINED) != 0 {
        out.extend_from_slice(text.as_bytes());
    } else if a & attr::NORMAL != 0 {
        let spm_like = vocab.ty != VocabType::Bpe || vocab.opts.escape_whitespaces;
        if spm_like {
            out.extend_from_slice(text.replace('\u{2581}', " ").as_bytes());
        } else {
            decode_byte_level(text, out);
        }
    } else if a & attr::BYTE != 0 && vocab.ty != VocabType::Wpm {
        out.push(parse_byte_token(text));
    }
}

/// GPT-2 characters back to bytes; a character outside the table is written as llama.cpp
/// does: `[UNK_BYTE_0x<hex of its UTF-8>` followed by the whole token text and `]`.
fn decode_byte_level(text: &str, out: &mut Vec<u8>) {
    for c in text.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                out.extend_from_slice(b"[UNK_BYTE_0x");
                for b in c.encode_utf8(&mut [0u8; 4]).bytes() {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                out.extend_from_slice(text.as_bytes());
                out.push(b']');
            }
        }
    }
}

/// The byte of a `<0xXX>` token: `strtol(text.substr(3, 2), 16)`, 0 when unparsable.
fn parse_byte_token(text: &str) -> u8 {
    let digits = text.as_bytes().get(3..).unwrap_or(&[]);
    let mut v = 0u32;
    for &d in digits.iter().take(2) {
        match (d as char).to_digit(16) {
            Some(x) => v = v * 16 + x,
            None => break,
        }
    }
    v as u8
}

/// llama.cpp's `detokenize(remove_special = false, unparse_special = special)`: pieces joined,
/// one leading space dropped from the first piece when the vocab adds a space prefix, then
/// the three clean-up passes when `clean_spaces` is set.
pub(crate) fn detokenize(vocab: &Vocab, pieces: &Pieces, ids: &[u32], special: bool) -> Vec<u8> {
    let mut text = Vec::new();
    let mut remove_space = vocab.opts.add_space_prefix;
    for &id in ids.iter().filter(|&&id| (id as usize) < vocab.n_tokens()) {
        let hidden = !special && vocab.attr(id) & (attr::UNKNOWN | attr::CONTROL) != 0;
        if !hidden {
            let mut piece = pieces.get(id);
            if remove_space && piece.first() == Some(&b' ') {
                piece = &piece[1..];
            }
            text.extend_from_slice(piece);
        }
        remove_space = false;
    }
    if vocab.opts.clean_spaces {
        clean_spaces(&mut text);
    }
    text
}

/// The clean-up passes of llama.cpp's `detokenize`, in place, byte for byte.
fn clean_spaces(text: &mut Vec<u8>) {
    // first pass: " ?", " !", " .", " ," lose the space
    let n = text.len();
    let mut total = usize::from(n > 0);
    for i in 1..n {
        let x = text[i];
        if text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            total -= 1;
        }
        text[total] = x;
        total += 1;
    }
    // second pass: a lone apostrophe between spaces loses both spaces
    let n = total;
    total = usize::from(n > 0);
    let mut i = 1;
    while i < n {
        let x = text[i];
        if x == b'\'' && i + 1 < n && text[i - 1] == b' ' && text[i + 1] == b' ' {
            total -= 1;
            i += 1;
            text[i] = 0;
        }
        text[total] = x;
        total += 1;
        i += 1;
    }
    // third pass: " 's", " 'm", " 're", " 've" lose the space
    let n = total;
    total = usize::from(n > 0);
    for i in 1..n {
        let x = text[i];
        if text[i - 1] == b' ' && x == b'\'' && i + 1 < n {
            let x1 = text[i + 1];
            if x1 == b's' || x1 == b'm' {
                total -= 1;
            } else if x1 != b't' && x1 != b'd' && i + 2 < n {
                let x2 = text[i + 2];
                if (x1 == b'r' || x1 == b'v') && x2 == b'e' {
                    total -= 1;
                }
            }
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> String {
        let mut v = s.as_bytes().to_vec();
        clean_spaces(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn clean_up_passes() {
        assert_eq!(clean("Hello , world !"), "Hello, world!");
        assert_eq!(clean("a ' b"), "a'b");
        assert_eq!(clean("it 's I 'm we 're they 've don 't I 'll"), "it's I'm we're they've don 't I 'll");
        assert_eq!(clean(""), "");
        assert_eq!(clean(" ."), ".");
    }

    #[test]
    fn byte_tokens() {
        assert_eq!(parse_byte_token("<0x0A>"), 10);
        assert_eq!(parse_byte_token("<0xff>"), 255);
        assert_eq!(parse_byte_token("<0x"), 0);
    }
}
