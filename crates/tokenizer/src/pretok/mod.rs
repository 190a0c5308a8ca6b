//! BPE pre-tokenization: `tokenizer.ggml.pre` → the regex set llama.cpp uses for it, and the
//! splitter that cuts text into words with it (llama.cpp's `unicode_regex_split`).
//!
//! Each expression refines the previous partition. The common ones run on hand-written
//! scanners ([`custom`]); the rest on the collapsed-text regex path ([`regex`]).

mod custom;
mod presets;
mod regex;

use std::ops::Range;

use crate::unicode::{Flags, flags};
use custom::{Class, Llama3Like};
pub(crate) use presets::{PreConfig, preset};
use regex::RegexStep;

/// One expression of a pre-tokenizer.
#[derive(Debug)]
enum Step {
    Gpt2,
    Llama3(Llama3Like),
    Newlines,
    AfmoeDigits,
    /// `[class]` alone (`runs == false`) or `[class]+`.
    Class(Class, bool),
    AsciiDigitTriples,
    Regex(Box<RegexStep>),
}

impl std::fmt::Debug for Llama3Like {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Llama3Like::Llama3 => "Llama3",
            Llama3Like::Qwen2 => "Qwen2",
            Llama3Like::Qwen35 => "Qwen35",
        })
    }
}

const GPT2_RE: &str = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3_RE: &str = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_RE: &str = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN35_RE: &str = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

impl Step {
    fn new(expr: &str) -> Result<Step, String> {
        Ok(match expr {
            GPT2_RE => Step::Gpt2,
            LLAMA3_RE => Step::Llama3(Llama3Like::Llama3),
            QWEN2_RE => Step::Llama3(Llama3Like::Qwen2),
            QWEN35_RE => Step::Llama3(Llama3Like::Qwen35),
            "[^\\n]+|[\\n]+" => Step::Newlines,
            "\\p{AFMoE_digits}" | "\\d{1,3}(?=(?:\\d{3})*\\b)" => Step::AfmoeDigits,
            "\\p{N}" => Step::Class(Class::Number, false),
            "\\p{N}+" => Step::Class(Class::Number, true),
            "[\\p{P}\\$\\+<=>\\^~\\|]+" => Step::Class(Class::PunctAndSymbols, true),
            "[0-9][0-9][0-9]" => Step::AsciiDigitTriples,
            _ => Step::Regex(Box::new(RegexStep::new(expr)?)),
        })
    }
}

/// A compiled pre-tokenizer: its expressions, in order.
#[derive(Debug)]
pub(crate) struct PreTokenizer {
    steps: Vec<Step>,
}

/// Code points of one text, with what the steps need, built once per text.
struct Text {
    cps: Vec<u32>,
    flags: Vec<Flags>,
    collapsed: Option<(String, Vec<usize>)>,
    widened: Option<(String, Vec<usize>)>,
}

impl Text {
    fn new(text: &str) -> Text {
        let mut cps = Vec::with_capacity(text.len());
        let mut fl = Vec::with_capacity(text.len());
        for c in text.chars() {
            cps.push(c as u32);
            fl.push(flags(c as u32));
        }
        Text { cps, flags: fl, collapsed: None, widened: None }
    }

    fn mapped(&mut self, collapsed: bool) -> (&str, &[usize]) {
        let slot = if collapsed { &mut self.collapsed } else { &mut self.widened };
        let (s, st) = slot.get_or_insert_with(|| {
            let mut s = String::with_capacity(self.cps.len() * 2);
            let mut st = Vec::with_capacity(self.cps.len() + 1);
            for (&cp, &f) in self.cps.iter().zip(&self.flags) {
                st.push(s.len());
                s.push(if collapsed { regex::collapse(cp, f) } else { regex::widen(cp) });
            }
            st.push(s.len());
            (s, st)
        });
        (s.as_str(), st.as_slice())
    }
}

/// Bytes of the UTF-8 encoding of a code point.
fn utf8_width(cp: u32) -> usize {
    match cp {
        0..0x80 => 1,
        0x80..0x800 => 2,
        0x800..0x10000 => 3,
        _ => 4,
    }
}

impl PreTokenizer {
    /// Compiles llama.cpp's expressions for one pre-tokenizer.
    pub(crate) fn new(exprs: &[&str]) -> Result<PreTokenizer, String> {
        let steps = exprs
            .iter()
            .map(|e| Step::new(e).map_err(|err| format!("{e:?}: {err}")))
            .collect::<Result<_, _>>()?;
        Ok(PreTokenizer { steps })
    }

    /// Splits `text` into words, appended to `out` as byte ranges of `text`.
    pub(crate) fn split(&self, text: &str, out: &mut Vec<Range<usize>>) {
        if text.is_empty() {
            return;
        }
        let mut t = Text::new(text);
        let mut offsets = vec![t.cps.len()];
        for step in &self.steps {
            let next = match step {
                Step::Gpt2 => custom::gpt2(&t.cps, &t.flags, &offsets),
                Step::Llama3(kind) => custom::llama3_like(*kind, &t.cps, &t.flags, &offsets),
                Step::Newlines => custom::newline_runs(&t.cps, &offsets),
                Step::AfmoeDigits => custom::afmoe_digits(&t.cps, &t.flags, &offsets),
                Step::Class(class, runs) => custom::class_split(*class, *runs, &t.cps, &t.flags, &offsets),
                Step::AsciiDigitTriples => custom::ascii_digit_triples(&t.cps, &t.flags, &offsets),
                Step::Regex(re) => {
                    let (mapped, starts) = t.mapped(re.collapsed);
                    re.split(mapped, starts, &offsets)
                }
            };
            // llama.cpp keeps the old partition when a custom splitter yields nothing
            if !next.is_empty() {
                offsets = next;
            }
        }
        let (mut cp, mut byte) = (0, 0);
        for len in offsets {
            let end = byte + t.cps[cp..cp + len].iter().map(|&c| utf8_width(c)).sum::<usize>();
            out.push(byte..end);
            (cp, byte) = (cp + len, end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pre: &PreTokenizer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        pre.split(text, &mut out);
        out.into_iter().map(|r| text[r].to_owned()).collect()
    }

    #[test]
    fn gpt2_splits_like_the_regex() {
        let pre = PreTokenizer::new(&[GPT2_RE]).unwrap();
        assert_eq!(words(&pre, "Hello world  x's 123!?"), ["Hello", " world", " ", " x", "'s", " 123", "!?"]);
    }

    #[test]
    fn llama3_groups_digits_by_three() {
        let pre = PreTokenizer::new(&[LLAMA3_RE]).unwrap();
        assert_eq!(words(&pre, "1234567 hi\n\n  there"), ["123", "456", "7", " hi", "\n\n", " ", " there"]);
    }

    #[test]
    fn every_preset_compiles() {
        for name in presets::NAMES {
            let cfg = preset(name).unwrap_or_else(|| panic!("{name}"));
            if let Err(e) = PreTokenizer::new(cfg.exprs) {
                panic!("pre-tokenizer {name}: {e}");
            }
        }
    }
}
