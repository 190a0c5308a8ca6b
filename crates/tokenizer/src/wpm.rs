//! WordPiece (llama.cpp's `llm_tokenizer_wpm_session`): BERT normalization (NFD base
//! character, lowercase, accents and control characters dropped), split on whitespace and
//! around punctuation and CJK, then greedy longest-match over `▁word` — the GGUF vocab
//! stores word-initial pieces with a `▁` prefix and continuations bare (llama.cpp's converter
//! rewrites BERT's `##` pieces that way).

use crate::unicode::{flags, nfd_base, to_lower};
use crate::vocab::Vocab;

const PHANTOM_SPACE: &str = "\u{2581}";

/// Tokenizes one raw-text fragment, appending ids to `out`.
pub(crate) fn encode(vocab: &Vocab, text: &str, out: &mut Vec<u32>) {
    let mut word1 = String::new();
    for word in preprocess(text, vocab.opts.lowercase, vocab.opts.strip_accents) {
        if word.is_empty() {
            continue;
        }
        word1.clear();
        word1.push_str(PHANTOM_SPACE);
        word1.push_str(&word);
        let n = word1.len();
        let first = out.len();
        let mut i = 0;
        while i < n {
            let longest = (i + vocab.max_token_len + 1).min(n);
            let found = (i + 1..=longest)
                .rev()
                .find_map(|j| word1.get(i..j).and_then(|p| vocab.text_to_token(p)).map(|id| (j, id)));
            match found {
                Some((j, id)) => {
                    out.push(id);
                    i = j;
                }
                None => {
                    // no piece fits here: the whole word becomes [UNK]
                    out.truncate(first);
                    break;
                }
            }
        }
        if out.len() == first {
            out.extend(vocab.ids.unk);
        }
    }
}

/// Normalizes and splits into words (llama.cpp's `preprocess`).
fn preprocess(text: &str, lowercase: bool, strip_accents: bool) -> Vec<String> {
    let mut words = vec![String::new()];
    for c in text.chars() {
        let cp = if strip_accents { nfd_base(c as u32) } else { c as u32 };
        let f = flags(cp);
        if f.is_whitespace() {
            if !words.last().is_some_and(String::is_empty) {
                words.push(String::new());
            }
            continue;
        }
        if cp == 0 || cp == 0xFFFD || f.is_control() {
            continue;
        }
        if strip_accents && f.is_accent_mark() {
            continue;
        }
        let out = char::from_u32(if lowercase { to_lower(cp) } else { cp }).unwrap_or('\u{FFFD}');
        if f.is_punctuation() || (cp < 0x7F && f.is_symbol()) || is_chinese_char(cp) {
            if !words.last().is_some_and(String::is_empty) {
                words.push(String::new());
            }
            if let Some(last) = words.last_mut() {
                last.push(out);
            }
            words.push(String::new());
        } else if let Some(last) = words.last_mut() {
            last.push(out);
        }
    }
    if words.last().is_some_and(String::is_empty) {
        words.pop();
    }
    words
}

/// CJK ideographs, with the upper range as HF's Rust code writes it (0x2B920, not 0x2B820).
fn is_chinese_char(cp: u32) -> bool {
    matches!(cp,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_punctuation_and_cjk() {
        assert_eq!(preprocess("Héllo, 世界!  ok", true, true), ["hello", ",", "世", "界", "!", "ok"]);
        assert_eq!(preprocess("A\u{0301}b", false, false), ["A\u{0301}b"]);
    }
}
