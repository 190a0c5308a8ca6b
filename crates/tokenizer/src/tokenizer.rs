//! The public [`Tokenizer`]: encode, decode and vocabulary queries.

use std::ops::Range;

use hearth_gguf::Metadata;

use crate::bpe::{self, Bpe};
use crate::decode::{self, Pieces};
use crate::error::TokenizerError;
use crate::partition::{Fragment, SpecialTrie, partition};
use crate::stream::StreamDecoder;
use crate::vocab::{SpecialTokens, Vocab, VocabType, attr};
use crate::{spm, wpm};

/// Which tokenization algorithm a vocabulary uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenizerKind {
    /// Byte-level BPE (`tokenizer.ggml.model = gpt2`, or `gemma4`'s SPM-style BPE).
    Bpe {
        /// The pre-tokenizer (`tokenizer.ggml.pre`), e.g. `qwen2`, `llama-bpe`, `smollm`.
        pre: String,
    },
    /// SentencePiece BPE with byte fallback (`llama`: Llama 2, Mistral, Gemma 3).
    Spm,
    /// WordPiece (`bert`).
    WordPiece,
}

/// What [`Tokenizer::encode`] does with special tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Specials {
    /// Add BOS/EOS where the vocabulary asks for them (`add_bos_token`, `add_eos_token`,
    /// with llama.cpp's per-type defaults; WordPiece always adds `[CLS]`…`[SEP]`).
    pub add_bos_eos: bool,
    /// Turn the texts of control tokens (and the unknown token) such as `<|im_start|>` into
    /// their ids; otherwise they are tokenized as text. User-defined tokens are matched
    /// either way. (llama.cpp's `parse_special`.)
    pub parse_control: bool,
}

impl Specials {
    /// Text as text: no BOS/EOS, control-token texts tokenized as text.
    pub const NONE: Specials = Specials { add_bos_eos: false, parse_control: false };
    /// A user's prompt: BOS/EOS added, control-token texts tokenized as text.
    pub const ADD_BOS_EOS: Specials = Specials { add_bos_eos: true, parse_control: false };
    /// Markup without BOS/EOS: control-token texts become their tokens.
    pub const PARSE_CONTROL: Specials = Specials { add_bos_eos: false, parse_control: true };
    /// A rendered chat prompt: BOS/EOS added, control-token texts become their tokens.
    pub const ALL: Specials = Specials { add_bos_eos: true, parse_control: true };
}

/// A token's type (GGUF `tokenizer.ggml.token_type`, after llama.cpp's load-time fixes:
/// end-of-generation texts become control tokens, control tokens named `unused` stay control).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    /// Ordinary text.
    Normal,
    /// The unknown token.
    Unknown,
    /// A control token (BOS, EOS, chat markers): rendered only with `special = true`.
    Control,
    /// A user-defined token, matched verbatim in any text and always rendered.
    UserDefined,
    /// Reserved and unused.
    Unused,
    /// A byte-fallback token (`<0x0A>`).
    Byte,
    /// No type.
    Undefined,
}

#[derive(Debug)]
enum Model {
    Bpe(Box<Bpe>),
    /// SentencePiece.
    Spm(spm::Spm),
    Wpm,
}

/// A tokenizer built from GGUF metadata alone; token-for-token what llama.cpp produces.
///
/// `Send + Sync` and immutable: share one behind an `Arc`.
#[derive(Debug)]
pub struct Tokenizer {
    vocab: Vocab,
    model: Model,
    pieces: Pieces,
    trie: SpecialTrie,
}

impl Tokenizer {
    /// Builds the tokenizer from the `tokenizer.ggml.*` keys of a GGUF file.
    pub fn from_gguf(meta: &Metadata) -> Result<Tokenizer, TokenizerError> {
        let vocab = Vocab::load(meta)?;
        let model = match vocab.ty {
            VocabType::Bpe => {
                let merges = meta.opt_str_array("tokenizer.ggml.merges")?.ok_or_else(|| {
                    hearth_gguf::GgufError::MissingKey { key: "tokenizer.ggml.merges".to_owned() }
                })?;
                Model::Bpe(Box::new(Bpe::new(&vocab, merges)?))
            }
            VocabType::Spm => Model::Spm(spm::Spm::new(&vocab)),
            VocabType::Wpm => Model::Wpm,
        };
        let pieces = Pieces::build(&vocab);
        let trie = SpecialTrie::build(&vocab);
        Ok(Tokenizer { vocab, model, pieces, trie })
    }

    /// Text → token ids, as llama.cpp's `llama_tokenize(text, add_special, parse_special)`
    /// (see [`Specials`]).
    pub fn encode(&self, text: &str, specials: Specials) -> Vec<u32> {
        self.encode_with_literals(text, specials, &[])
    }

    /// As [`Tokenizer::encode`], except that control-token texts overlapping a `literal`
    /// byte range stay text even with [`Specials::parse_control`]: for a rendered chat
    /// prompt whose message text must not turn into control tokens (see
    /// [`Tokenizer::control_texts`]). `literal` is ascending and disjoint.
    pub fn encode_with_literals(&self, text: &str, specials: Specials, literal: &[Range<usize>]) -> Vec<u32> {
        let Specials { add_bos_eos: add_special, parse_control } = specials;
        let v = &self.vocab;
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        let frags = partition(v, &self.trie, text, parse_control, literal);
        match &self.model {
            Model::Spm(model) => {
                if add_special && v.opts.add_bos {
                    out.extend(v.ids.bos);
                }
                let mut scratch = spm::Scratch::default();
                let mut buf = String::new();
                let mut prev_special = true;
                for frag in frags {
                    match frag {
                        Fragment::Text(off, len) => {
                            buf.clear();
                            if v.opts.add_space_prefix && prev_special {
                                buf.push('\u{2581}');
                            }
                            escape_spaces(&text[off..off + len], &mut buf);
                            spm::encode(model, v, &buf, &mut out, &mut scratch);
                            prev_special = false;
                        }
                        Fragment::Token(id) => {
                            out.push(id);
                            prev_special = true;
                        }
                    }
                }
                if add_special && v.opts.add_eos {
                    out.extend(v.ids.eos);
                }
            }
            Model::Bpe(bpe) => {
                if add_special && v.opts.add_bos {
                    out.extend(v.ids.bos);
                }
                let mut scratch = bpe::Scratch::default();
                let mut buf = String::new();
                for frag in frags {
                    match frag {
                        Fragment::Text(off, len) if v.opts.escape_whitespaces => {
                            buf.clear();
                            escape_spaces(&text[off..off + len], &mut buf);
                            bpe.encode(v, &buf, &mut out, &mut scratch);
                        }
                        Fragment::Text(off, len) => {
                            bpe.encode(v, &text[off..off + len], &mut out, &mut scratch)
                        }
                        Fragment::Token(id) => out.push(id),
                    }
                }
                if add_special && v.opts.add_eos {
                    out.extend(v.ids.eos);
                }
            }
            Model::Wpm => {
                if add_special {
                    out.extend(v.ids.bos);
                }
                for frag in frags {
                    match frag {
                        Fragment::Text(off, len) => wpm::encode(v, &text[off..off + len], &mut out),
                        Fragment::Token(id) => out.push(id),
                    }
                }
                if add_special {
                    out.extend(v.ids.sep);
                }
            }
        }
        out
    }

    /// Where `text` holds the text of a control token (or the unknown token): the texts that
    /// become tokens only with [`Specials::parse_control`]. Byte ranges, ascending, those
    /// that overlap merged. A chat template marks these in message text
    /// (`hearth_chat::ChatTemplate::render_literal`) so that they stay text.
    pub fn control_texts(&self, text: &str) -> Vec<Range<usize>> {
        self.trie.control_ranges(&self.vocab, text.as_bytes())
    }

    /// Token ids → text, as llama.cpp's `llama_detokenize(remove_special = false,
    /// unparse_special = special)`: control tokens appear only with `special`, SentencePiece
    /// drops the first piece's leading space, and BPE vocabularies with
    /// `clean_up_tokenization_spaces` get its clean-up. Bytes are joined first and turned into
    /// a `String` (lossily) only at the very end. Ids outside the vocabulary are skipped.
    pub fn decode(&self, ids: &[u32], special: bool) -> String {
        let bytes = decode::detokenize(&self.vocab, &self.pieces, ids, special);
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// One token's bytes, as llama.cpp's `llama_token_to_piece(lstrip = 0, special)`: may be
    /// part of a UTF-8 character. Empty for control/unknown tokens unless `special`, and for
    /// ids outside the vocabulary.
    pub fn token_to_piece(&self, id: u32, special: bool) -> Vec<u8> {
        if !special && self.vocab.attr(id) & (attr::UNKNOWN | attr::CONTROL) != 0 {
            return Vec::new();
        }
        self.pieces.get(id).to_vec()
    }

    /// The bytes a token stands for, for a grammar engine's token trie: the decoded text of a
    /// normal token, the byte of a byte-fallback token, the literal text of control,
    /// user-defined and unknown tokens (use [`Tokenizer::is_special`] to leave those out).
    /// Empty for unused/undefined tokens and ids outside the vocabulary.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.pieces.get(id)
    }

    /// A decoder for streamed generation: feed ids, get text that never splits a character.
    pub fn stream_decoder(&self, special: bool) -> StreamDecoder<'_> {
        StreamDecoder::new(self, special)
    }

    /// Number of tokens in the vocabulary.
    pub fn n_vocab(&self) -> usize {
        self.vocab.n_tokens()
    }

    /// Beginning-of-sequence token.
    pub fn bos(&self) -> Option<u32> {
        self.vocab.ids.bos
    }

    /// End-of-sequence token.
    pub fn eos(&self) -> Option<u32> {
        self.vocab.ids.eos
    }

    /// End-of-turn token (from `eot_token_id`, else detected by text).
    pub fn eot(&self) -> Option<u32> {
        self.vocab.ids.eot
    }

    /// All special ids (BOS, EOS, EOT, EOM, UNK, SEP, PAD, CLS, MASK, FIM).
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.vocab.ids
    }

    /// True when generating `id` ends generation (EOS, EOT, EOM and the end-of-turn texts
    /// llama.cpp recognises).
    pub fn is_eog(&self, id: u32) -> bool {
        self.vocab.eog.binary_search(&id).is_ok()
    }

    /// The end-of-generation ids, ascending.
    pub fn eog_ids(&self) -> &[u32] {
        &self.vocab.eog
    }

    /// The vocabulary's `add_bos` flag (llama.cpp's `llama_vocab_get_add_bos`): whether
    /// `encode` with [`Specials::add_bos_eos`] starts with BOS. (WordPiece adds `[CLS]` either way.)
    pub fn add_bos(&self) -> bool {
        self.vocab.opts.add_bos
    }

    /// The vocabulary's `add_eos` flag. (WordPiece adds `[SEP]` either way.)
    pub fn add_eos(&self) -> bool {
        self.vocab.opts.add_eos
    }

    /// The token's type; [`TokenType::Undefined`] for ids outside the vocabulary.
    pub fn token_type(&self, id: u32) -> TokenType {
        let a = self.vocab.attr(id);
        if a & attr::CONTROL != 0 {
            TokenType::Control
        } else if a & attr::UNKNOWN != 0 {
            TokenType::Unknown
        } else if a & attr::USER_DEFINED != 0 {
            TokenType::UserDefined
        } else if a & attr::BYTE != 0 {
            TokenType::Byte
        } else if a & attr::NORMAL != 0 {
            TokenType::Normal
        } else if a & attr::UNUSED != 0 {
            TokenType::Unused
        } else {
            TokenType::Undefined
        }
    }

    /// True for control and unknown tokens: the ones decoding hides unless asked
    /// (`special = false`).
    pub fn is_special(&self, id: u32) -> bool {
        self.vocab.attr(id) & (attr::CONTROL | attr::UNKNOWN) != 0
    }

    /// The token's text as stored in the GGUF (`Ġhello`, `▁hello`, `<0x0A>`); empty for ids
    /// outside the vocabulary.
    pub fn token_text(&self, id: u32) -> &str {
        self.vocab.texts.get(id as usize).map_or("", |t| t)
    }

    /// The id of a token text as stored in the GGUF.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.text_to_token(text)
    }

    /// The algorithm (and BPE pre-tokenizer), for `hearth inspect`.
    pub fn kind(&self) -> TokenizerKind {
        match (&self.model, &self.vocab.pre) {
            (Model::Bpe(_), Some((pre, _))) => TokenizerKind::Bpe { pre: pre.clone() },
            (Model::Bpe(_), None) => TokenizerKind::Bpe { pre: "default".into() },
            (Model::Spm(_), _) => TokenizerKind::Spm,
            (Model::Wpm, _) => TokenizerKind::WordPiece,
        }
    }

    /// The vocabulary and the BPE model, for the merge tests.
    #[cfg(test)]
    pub(crate) fn bpe_parts(&self) -> Option<(&Vocab, &Bpe)> {
        match &self.model {
            Model::Bpe(bpe) => Some((&self.vocab, bpe)),
            _ => None,
        }
    }

    /// The vocabulary and the SentencePiece model, for the merge tests.
    #[cfg(test)]
    pub(crate) fn spm_parts(&self) -> Option<(&Vocab, &spm::Spm)> {
        match &self.model {
            Model::Spm(spm) => Some((&self.vocab, spm)),
            _ => None,
        }
    }

    /// What llama.cpp would have logged as warnings while loading this vocabulary (bad special
    /// ids that were ignored, tokens whose type was overridden, ...).
    pub fn warnings(&self) -> &[String] {
        &self.vocab.warnings
    }
}

/// Appends `text` with every space replaced by `▁`.
fn escape_spaces(text: &str, out: &mut String) {
    for (i, part) in text.split(' ').enumerate() {
        if i > 0 {
            out.push('\u{2581}');
        }
        out.push_str(part);
    }
}

#[cfg(test)]
mod tests {
    /// One tokenizer is shared by every request thread.
    #[test]
    fn tokenizer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Tokenizer>();
        assert_send_sync::<crate::Utf8Stream>();
    }
}
