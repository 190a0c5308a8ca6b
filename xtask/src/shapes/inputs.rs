//! What a file is made from besides its shape: the vocab GGUF's tokenizer keys (padded to
//! the embedding rows), the chat template, and a hash of both for the stamp.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use hearth_gguf::{Array, GgufFile, Value};

use super::catalog::{Shape, Template};
use super::random::Fnv;

/// llama.cpp's token type of padding rows (`gguf.TokenType.UNUSED`).
const TOKEN_TYPE_UNUSED: i32 = 5;

/// What the file is made from besides the shape: the tokenizer keys (template included)
/// and a hash of the files they came from, for the stamp.
pub struct Inputs {
    pub(super) tokenizer: Vec<(String, Value)>,
    pub(super) hash: u64,
}

impl Inputs {
    /// Reads the shape's vocab GGUF (and template) from the fixture cache.
    pub fn gather(shape: &Shape, cache: &Path) -> Result<Inputs> {
        let vocab = cache.join("vocab").join(format!("ggml-vocab-{}.gguf", shape.vocab));
        ensure!(vocab.exists(), "{} is missing; run `cargo xtask fixtures` first", vocab.display());
        let mut hash = Fnv::new();
        hash.write(&fs::read(&vocab).with_context(|| format!("reading {}", vocab.display()))?);
        let file = GgufFile::open(&vocab)?;
        let tokenizer: Vec<(String, Value)> =
            file.metadata().entries().iter().filter(|(k, _)| k.starts_with("tokenizer.")).cloned().collect();
        let template = match shape.template {
            Template::Vocab => None,
            Template::Inline(text) => Some(text.to_owned()),
            Template::Cached(name) => {
                let path = cache.join("templates").join(name);
                let text = fs::read_to_string(&path).with_context(|| {
                    format!("reading {} (run `cargo xtask fixtures` first)", path.display())
                })?;
                Some(text)
            }
        };
        if let Some(t) = &template {
            hash.write(t.as_bytes());
        }
        Ok(Inputs { tokenizer: tokenizer_keys(tokenizer, shape.n_vocab, template)?, hash: hash.finish() })
    }
}

/// The vocab's `tokenizer.*` keys with the per-token arrays padded to `n_vocab` the way
/// llama.cpp's converter pads a vocabulary smaller than the embedding table (`[PAD<id>]`,
/// type UNUSED), and `template` as `tokenizer.chat_template` unless the vocab has one.
pub(super) fn tokenizer_keys(
    mut keys: Vec<(String, Value)>,
    n_vocab: usize,
    template: Option<String>,
) -> Result<Vec<(String, Value)>> {
    for (key, value) in keys.iter_mut() {
        let Value::Array(array) = value else { continue };
        match (key.as_str(), array) {
            ("tokenizer.ggml.tokens", Array::String(v)) => {
                ensure!(
                    v.len() <= n_vocab,
                    "vocab has {} tokens, more than the {n_vocab} embedding rows",
                    v.len()
                );
                let n = v.len();
                v.extend((n..n_vocab).map(|i| format!("[PAD{i}]")));
            }
            ("tokenizer.ggml.token_type", Array::I32(v)) => v.resize(n_vocab.max(v.len()), TOKEN_TYPE_UNUSED),
            ("tokenizer.ggml.scores", Array::F32(v)) => v.resize(n_vocab.max(v.len()), 0.0),
            _ => {}
        }
    }
    let len_of = |k: &str| match keys.iter().find(|(key, _)| key == k) {
        Some((_, Value::Array(a))) => Some(a.len()),
        _ => None,
    };
    for k in ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"] {
        if let Some(n) = len_of(k) {
            ensure!(n == n_vocab, "{k} has {n} entries, expected {n_vocab}");
        }
    }
    ensure!(len_of("tokenizer.ggml.tokens").is_some(), "the vocab has no tokenizer.ggml.tokens");
    if let Some(t) = template
        && !keys.iter().any(|(k, _)| k == "tokenizer.chat_template")
    {
        keys.push(("tokenizer.chat_template".into(), Value::String(t)));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_refuses_a_vocab_larger_than_the_embedding() {
        let keys =
            vec![("tokenizer.ggml.tokens".to_owned(), Value::Array(Array::String(vec!["a".into(); 41])))];
        assert!(tokenizer_keys(keys, 40, None).is_err());
        let keys =
            vec![("tokenizer.ggml.tokens".to_owned(), Value::Array(Array::String(vec!["a".into(); 4])))];
        let out = tokenizer_keys(keys, 6, None).expect("pads");
        assert_eq!(out.len(), 1);
    }
}
