//! The vocabulary as llama.cpp's `llama_vocab::impl::load` builds it from GGUF metadata:
//! token texts, scores and attributes, the per-model-type defaults, the special ids, and the
//! flags (`add_bos`, `add_space_prefix`, ...) that steer tokenization.

use hearth_gguf::{Array, Metadata, Value};

use crate::error::TokenizerError;
use crate::fxhash::FxHashMap;
use crate::pretok::{PreConfig, preset};

/// Token attribute bits (llama.cpp's `llama_token_attr`).
pub(crate) mod attr {
    pub(crate) const UNKNOWN: u16 = 1 << 0;
    pub(crate) const UNUSED: u16 = 1 << 1;
    pub(crate) const NORMAL: u16 = 1 << 2;
    pub(crate) const CONTROL: u16 = 1 << 3;
    pub(crate) const USER_DEFINED: u16 = 1 << 4;
    pub(crate) const BYTE: u16 = 1 << 5;
    pub(crate) const LSTRIP: u16 = 1 << 7;
    pub(crate) const RSTRIP: u16 = 1 << 8;
}

/// Which algorithm the vocabulary uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VocabType {
    /// SentencePiece BPE (`llama`).
    Spm,
    /// Byte-level BPE (`gpt2`, and `gemma4`'s SPM-style BPE).
    Bpe,
    /// WordPiece (`bert`).
    Wpm,
}

/// The special token ids of a vocabulary; `None` where the model has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    /// Beginning of sequence (`[CLS]` for BERT).
    pub bos: Option<u32>,
    /// End of sequence.
    pub eos: Option<u32>,
    /// End of turn (`<|eot_id|>`, `<|im_end|>`, `<end_of_turn>`, ...).
    pub eot: Option<u32>,
    /// End of message (`<|eom_id|>`).
    pub eom: Option<u32>,
    /// Unknown.
    pub unk: Option<u32>,
    /// Separator (`[SEP]`).
    pub sep: Option<u32>,
    /// Padding.
    pub pad: Option<u32>,
    /// `tokenizer.ggml.cls_token_id` (llama.cpp uses BOS as CLS).
    pub cls: Option<u32>,
    /// Mask.
    pub mask: Option<u32>,
    /// Fill-in-the-middle prefix.
    pub fim_pre: Option<u32>,
    /// Fill-in-the-middle suffix.
    pub fim_suf: Option<u32>,
    /// Fill-in-the-middle middle.
    pub fim_mid: Option<u32>,
    /// Fill-in-the-middle padding.
    pub fim_pad: Option<u32>,
    /// Fill-in-the-middle repository name.
    pub fim_rep: Option<u32>,
    /// Fill-in-the-middle file separator.
    pub fim_sep: Option<u32>,
}

/// Flags that steer encode and decode.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options {
    pub(crate) add_bos: bool,
    pub(crate) add_eos: bool,
    pub(crate) add_sep: bool,
    pub(crate) add_space_prefix: bool,
    pub(crate) ignore_merges: bool,
    pub(crate) clean_spaces: bool,
    pub(crate) remove_extra_whitespaces: bool,
    pub(crate) escape_whitespaces: bool,
    /// BERT normalizer: lowercase.
    pub(crate) lowercase: bool,
    /// BERT normalizer: NFD and drop accents.
    pub(crate) strip_accents: bool,
}

/// The loaded vocabulary.
#[derive(Debug)]
pub(crate) struct Vocab {
    pub(crate) ty: VocabType,
    /// The BPE pre-tokenizer, when `ty` is BPE.
    pub(crate) pre: Option<(String, PreConfig)>,
    pub(crate) texts: Vec<Box<str>>,
    pub(crate) scores: Vec<f32>,
    pub(crate) attrs: Vec<u16>,
    pub(crate) token_to_id: FxHashMap<Box<str>, u32>,
    /// Longest token text in bytes.
    pub(crate) max_token_len: usize,
    pub(crate) ids: SpecialTokens,
    pub(crate) opts: Options,
    /// End-of-generation ids, ascending.
    pub(crate) eog: Vec<u32>,
    /// Control, user-defined and unknown tokens, longest text first (partition order).
    pub(crate) special_cache: Vec<u32>,
    /// What llama.cpp would have logged as a warning while loading.
    pub(crate) warnings: Vec<String>,
}

const K_MODEL: &str = "tokenizer.ggml.model";
const K_PRE: &str = "tokenizer.ggml.pre";
const K_TOKENS: &str = "tokenizer.ggml.tokens";
const K_SCORES: &str = "tokenizer.ggml.scores";
const K_TYPES: &str = "tokenizer.ggml.token_type";

impl Vocab {
    pub(crate) fn n_tokens(&self) -> usize {
        self.texts.len()
    }

    pub(crate) fn attr(&self, id: u32) -> u16 {
        self.attrs.get(id as usize).copied().unwrap_or(0)
    }

    pub(crate) fn text_to_token(&self, text: &str) -> Option<u32> {
        self.token_to_id.get(text).copied()
    }

    /// llama.cpp's `byte_to_token` for SPM: `<0xXX>`, else the byte itself as text.
    pub(crate) fn spm_byte_token(&self, b: u8) -> Option<u32> {
        let hex = format!("<0x{b:02X}>");
        self.text_to_token(&hex)
            .or_else(|| if b < 0x80 { self.text_to_token(&(b as char).to_string()) } else { None })
    }

    /// Reads the vocabulary from GGUF metadata.
    pub(crate) fn load(meta: &Metadata) -> Result<Vocab, TokenizerError> {
        let model = meta.str(K_MODEL)?.to_owned();
        let mut warnings = Vec::new();
        let none = SpecialTokens::default();
        let (ty, mut ids, mut opts) = match model.as_str() {
            "llama" => (
                VocabType::Spm,
                SpecialTokens { bos: Some(1), eos: Some(2), unk: Some(0), ..none },
                Options::default(),
            ),
            "bert" => (
                VocabType::Wpm,
                SpecialTokens {
                    bos: Some(101),
                    unk: Some(100),
                    sep: Some(102),
                    pad: Some(0),
                    mask: Some(103),
                    ..none
                },
                Options { add_sep: true, ..Options::default() },
            ),
            "gpt2" => {
                (VocabType::Bpe, SpecialTokens { bos: Some(11), eos: Some(11), ..none }, Options::default())
            }
            "gemma4" => (VocabType::Bpe, none, Options::default()),
            other => return Err(unsupported_model(other)),
        };

        let mut pre = None;
        match ty {
            VocabType::Bpe => {
                let name = if model == "gemma4" {
                    "gemma4".to_owned()
                } else {
                    match meta.opt_str(K_PRE)? {
                        Some(p) => p.to_owned(),
                        None => {
                            warnings.push("missing pre-tokenizer type, using 'default'".to_owned());
                            "default".to_owned()
                        }
                    }
                };
                let cfg =
                    preset(&name).ok_or_else(|| TokenizerError::UnsupportedPreTokenizer(name.clone()))?;
                opts.clean_spaces = cfg.clean_spaces;
                opts.ignore_merges = cfg.ignore_merges;
                opts.add_bos = cfg.add_bos;
                opts.add_sep |= cfg.add_sep;
                opts.escape_whitespaces = cfg.spm_style;
                if cfg.no_bos {
                    ids.bos = None;
                }
                pre = Some((name, cfg));
            }
            VocabType::Spm => {
                opts.add_space_prefix = true;
                opts.add_bos = true;
                opts.escape_whitespaces = true;
            }
            VocabType::Wpm => {
                opts.clean_spaces = true;
                opts.add_bos = true;
                opts.add_sep = true;
            }
        }
        if let Some(v) = meta.opt_bool("tokenizer.ggml.add_space_prefix")? {
            opts.add_space_prefix = v;
        }
        if let Some(v) = meta.opt_bool("tokenizer.ggml.remove_extra_whitespaces")? {
            opts.remove_extra_whitespaces = v;
        }

        let tokens = meta.str_array(K_TOKENS)?;
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if u32::try_from(n).is_err() {
            return Err(TokenizerError::TooManyTokens(n));
        }
        let scores = read_scores(meta, n)?;
        let attrs = read_types(meta, n)?;

        let mut texts = Vec::with_capacity(n);
        let mut token_to_id = FxHashMap::with_capacity_and_hasher(n, Default::default());
        let mut max_token_len = 0;
        for (i, word) in tokens.iter().enumerate() {
            let text: Box<str> = if word.is_empty() {
                warnings.push(format!("empty token at index {i}"));
                format!("[EMPTY_{i}]").into()
            } else {
                word.as_str().into()
            };
            if let Some(&first) = token_to_id.get(&text) {
                return Err(TokenizerError::DuplicateToken { id: i as u32, first, text: text.into() });
            }
            max_token_len = max_token_len.max(text.len());
            token_to_id.insert(text.clone(), i as u32);
            texts.push(text);
        }

        let mut vocab = Vocab {
            ty,
            pre,
            texts,
            scores,
            attrs,
            token_to_id,
            max_token_len,
            ids,
            opts,
            eog: Vec::new(),
            special_cache: Vec::new(),
            warnings,
        };
        vocab.read_special_ids(meta)?;
        vocab.read_flags(meta)?;
        crate::specials::detect(&mut vocab);
        vocab.build_special_cache();
        crate::specials::apply_name_rules(&mut vocab, meta)?;
        Ok(vocab)
    }

    fn read_special_ids(&mut self, meta: &Metadata) -> Result<(), TokenizerError> {
        let n = self.n_tokens() as u64;
        type Field = fn(&mut SpecialTokens) -> &mut Option<u32>;
        let keys: [(&str, Field); 18] = [
            ("bos_token_id", |s| &mut s.bos),
            ("eos_token_id", |s| &mut s.eos),
            ("eot_token_id", |s| &mut s.eot),
            ("eom_token_id", |s| &mut s.eom),
            ("unknown_token_id", |s| &mut s.unk),
            ("seperator_token_id", |s| &mut s.sep),
            ("padding_token_id", |s| &mut s.pad),
            ("mask_token_id", |s| &mut s.mask),
            ("cls_token_id", |s| &mut s.cls),
            ("fim_pre_token_id", |s| &mut s.fim_pre),
            ("fim_suf_token_id", |s| &mut s.fim_suf),
            ("fim_mid_token_id", |s| &mut s.fim_mid),
            ("fim_pad_token_id", |s| &mut s.fim_pad),
            ("fim_rep_token_id", |s| &mut s.fim_rep),
            ("fim_sep_token_id", |s| &mut s.fim_sep),
            // deprecated spellings
            ("prefix_token_id", |s| &mut s.fim_pre),
            ("suffix_token_id", |s| &mut s.fim_suf),
            ("middle_token_id", |s| &mut s.fim_mid),
        ];
        for (suffix, field) in keys {
            let key = format!("tokenizer.ggml.{suffix}");
            let slot = field(&mut self.ids);
            if let Some(id) = *slot
                && u64::from(id) >= n
            {
                self.warnings
                    .push(format!("default special token '{key}' = {id} out of vocab range, disabling"));
                *slot = None;
            }
            let Some(new_id) = meta.opt_u64(&key)? else { continue };
            if new_id >= n {
                self.warnings
                    .push(format!("bad special token: '{key}' = {new_id}, using default id {slot:?}"));
            } else {
                *slot = Some(new_id as u32);
            }
        }
        Ok(())
    }

    fn read_flags(&mut self, meta: &Metadata) -> Result<(), TokenizerError> {
        if let Some(v) = meta.opt_bool("tokenizer.ggml.add_bos_token")? {
            self.opts.add_bos = v;
        }
        if let Some(v) = meta.opt_bool("tokenizer.ggml.add_eos_token")? {
            self.opts.add_eos = v;
        }
        if let Some(v) = meta.opt_bool("tokenizer.ggml.add_sep_token")? {
            self.opts.add_sep = v;
        }
        if self.pre.as_ref().is_some_and(|(_, c)| c.kind == "gemma4") && !self.opts.add_bos {
            self.opts.add_bos = true;
            self.warnings.push("override 'tokenizer.ggml.add_bos_token' to 'true' for Gemma4".to_owned());
        }
        self.opts.lowercase = meta.opt_bool("tokenizer.ggml.normalizer.lowercase")?.unwrap_or(true);
        self.opts.strip_accents =
            meta.opt_bool("tokenizer.ggml.normalizer.strip_accents")?.unwrap_or(self.opts.lowercase);
        Ok(())
    }

    /// Control, user-defined and unknown tokens, longest first (ties by id, so the order is
    /// deterministic; llama.cpp's unstable sort leaves ties unspecified).
    fn build_special_cache(&mut self) {
        let mask = attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN;
        let mut cache: Vec<u32> =
            (0..self.n_tokens() as u32).filter(|&id| self.attr(id) & mask != 0).collect();
        cache.sort_by_key(|&id| std::cmp::Reverse(self.texts[id as usize].len()));
        self.special_cache = cache;
    }
}

fn unsupported_model(model: &str) -> TokenizerError {
    let reason = match model {
        "t5" => {
            "T5/UGM (unigram) vocabularies are not implemented; hearth supports gpt2, llama, bert and gemma4"
        }
        "rwkv" => "the RWKV world tokenizer is not implemented; hearth supports gpt2, llama, bert and gemma4",
        "plamo2" => "the PLaMo-2 tokenizer is not implemented; hearth supports gpt2, llama, bert and gemma4",
        "no_vocab" | "none" => "the model has no vocabulary",
        "hybriddna" | "whitespace" | "test" => {
            "this tokenizer variant is not implemented; hearth supports gpt2, llama, bert and gemma4"
        }
        _ => "unknown tokenizer model; hearth supports gpt2, llama, bert and gemma4",
    };
    TokenizerError::UnsupportedModel { model: model.to_owned(), reason }
}

fn read_scores(meta: &Metadata, n: usize) -> Result<Vec<f32>, TokenizerError> {
    let scores = match meta.get(K_SCORES) {
        None => return Ok(vec![0.0; n]),
        Some(Value::Array(Array::F32(v))) => v.clone(),
        Some(Value::Array(Array::I32(v))) => v.iter().map(|&s| s as f32).collect(),
        Some(v) => {
            return Err(hearth_gguf::GgufError::WrongType {
                key: K_SCORES.to_owned(),
                expected: "array<f32> or array<i32>",
                found: v.type_name(),
            }
            .into());
        }
    };
    if scores.len() < n {
        return Err(TokenizerError::ArrayTooShort { key: K_SCORES, len: scores.len(), n_tokens: n });
    }
    Ok(scores)
}

fn read_types(meta: &Metadata, n: usize) -> Result<Vec<u16>, TokenizerError> {
    let Some(types) = meta.opt_int_array(K_TYPES)? else {
        return Ok(vec![attr::NORMAL; n]);
    };
    if types.len() < n {
        return Err(TokenizerError::ArrayTooShort { key: K_TYPES, len: types.len(), n_tokens: n });
    }
    Ok(types[..n]
        .iter()
        .map(|&t| match t {
            1 => attr::NORMAL,
            2 => attr::UNKNOWN,
            3 => attr::CONTROL,
            4 => attr::USER_DEFINED,
            5 => attr::UNUSED,
            6 => attr::BYTE,
            _ => 0, // UNDEFINED (0) and anything unknown
        })
        .collect())
}
