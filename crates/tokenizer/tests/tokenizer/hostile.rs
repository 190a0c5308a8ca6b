//! Hostile and broken metadata: errors where llama.cpp refuses a vocabulary, the same
//! fallbacks where it tolerates one, and never a panic.

use hearth_gguf::{Array, Metadata, Value};
use hearth_tokenizer::{Specials, Tokenizer, TokenizerError};

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn strs(v: &[&str]) -> Value {
    Value::Array(Array::String(v.iter().map(|x| (*x).to_owned()).collect()))
}

/// A small byte-level BPE vocab: the 256 GPT-2 byte characters, a few merges and specials.
fn gpt2_entries() -> Vec<(String, Value)> {
    let mut tokens: Vec<String> = (0u32..256)
        .map(|b| {
            let printable =
                (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
            let shifted = 256
                + (0..b)
                    .filter(|&x| {
                        !((0x21..=0x7E).contains(&x)
                            || (0xA1..=0xAC).contains(&x)
                            || (0xAE..=0xFF).contains(&x))
                    })
                    .count() as u32;
            char::from_u32(if printable { b } else { shifted }).unwrap().to_string()
        })
        .collect();
    tokens.extend(["he", "ll", "hell", "hello", "Ġw", "<|endoftext|>"].map(String::from));
    let n = tokens.len();
    let mut types = vec![1i32; n];
    types[n - 1] = 3;
    vec![
        ("general.architecture".into(), s("gpt2")),
        ("tokenizer.ggml.model".into(), s("gpt2")),
        ("tokenizer.ggml.pre".into(), s("gpt-2")),
        ("tokenizer.ggml.tokens".into(), Value::Array(Array::String(tokens))),
        ("tokenizer.ggml.token_type".into(), Value::Array(Array::I32(types))),
        ("tokenizer.ggml.merges".into(), strs(&["h e", "l l", "he ll", "hell o", "Ġ w"])),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(n as u32 - 1)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(n as u32 - 1)),
    ]
}

fn with(mut entries: Vec<(String, Value)>, key: &str, value: Option<Value>) -> Vec<(String, Value)> {
    entries.retain(|(k, _)| k != key);
    if let Some(v) = value {
        entries.push((key.to_owned(), v));
    }
    entries
}

fn build(entries: Vec<(String, Value)>) -> Result<Tokenizer, TokenizerError> {
    Tokenizer::from_gguf(&Metadata::from_entries(entries).expect("unique keys"))
}

/// Exercises every entry point once; none may panic.
fn exercise(tok: &Tokenizer) {
    for text in ["hello world", "", "<|endoftext|> x", "日本 🤖", "\u{0}\u{FFFD}"] {
        for (a, p) in [(false, false), (true, false), (false, true), (true, true)] {
            let ids = tok.encode(text, Specials { add_bos_eos: a, parse_control: p });
            let _ = tok.decode(&ids, true);
            let _ = tok.decode(&ids, false);
        }
    }
    let n = tok.n_vocab() as u32;
    for id in [0, n / 2, n.saturating_sub(1), n, u32::MAX] {
        let _ = (
            tok.token_to_piece(id, true),
            tok.token_bytes(id),
            tok.token_type(id),
            tok.token_text(id),
            tok.is_eog(id),
        );
    }
    let mut stream = tok.stream_decoder(true);
    for id in 0..n.min(300) {
        let _ = stream.push(id);
    }
    let _ = stream.finish();
}

#[test]
fn the_test_vocab_itself_works() {
    let tok = build(gpt2_entries()).unwrap();
    let hello = tok.token_id("hello").unwrap();
    assert_eq!(tok.encode("hello", Specials::NONE), [hello]);
    assert_eq!(tok.decode(&tok.encode("hello world", Specials::NONE), false), "hello world");
    exercise(&tok);
}

#[test]
fn missing_or_mistyped_keys_are_errors() {
    let cases: Vec<(&str, Option<Value>)> = vec![
        ("tokenizer.ggml.model", None),
        ("tokenizer.ggml.model", Some(Value::U32(2))),
        ("tokenizer.ggml.tokens", None),
        ("tokenizer.ggml.tokens", Some(Value::Array(Array::U32(vec![1, 2, 3])))),
        ("tokenizer.ggml.tokens", Some(s("hello"))),
        ("tokenizer.ggml.merges", None),
        ("tokenizer.ggml.merges", Some(Value::Array(Array::I32(vec![1])))),
        ("tokenizer.ggml.scores", Some(strs(&["1.0"]))),
        ("tokenizer.ggml.token_type", Some(strs(&["normal"]))),
        ("tokenizer.ggml.pre", Some(Value::F32(1.0))),
        ("tokenizer.ggml.add_bos_token", Some(Value::U8(1))),
        ("tokenizer.ggml.bos_token_id", Some(s("<s>"))),
        ("tokenizer.ggml.bos_token_id", Some(Value::I32(-1))),
    ];
    for (key, value) in cases {
        let err = build(with(gpt2_entries(), key, value.clone())).err();
        assert!(matches!(err, Some(TokenizerError::Metadata(_))), "{key} = {value:?}: {err:?}");
        assert!(err.unwrap().to_string().contains(key), "the error names the key");
    }
}

#[test]
fn malformed_vocabularies_are_errors() {
    let empty = with(gpt2_entries(), "tokenizer.ggml.tokens", Some(strs(&[])));
    assert!(matches!(build(empty), Err(TokenizerError::EmptyVocab)));

    let dup = with(gpt2_entries(), "tokenizer.ggml.tokens", Some(strs(&["a", "b", "a"])));
    assert!(matches!(build(dup), Err(TokenizerError::DuplicateToken { id: 2, first: 0, .. })));

    let short_scores =
        with(gpt2_entries(), "tokenizer.ggml.scores", Some(Value::Array(Array::F32(vec![0.0; 3]))));
    assert!(matches!(
        build(short_scores),
        Err(TokenizerError::ArrayTooShort { key: "tokenizer.ggml.scores", .. })
    ));

    let short_types =
        with(gpt2_entries(), "tokenizer.ggml.token_type", Some(Value::Array(Array::I32(vec![1; 3]))));
    assert!(matches!(
        build(short_types),
        Err(TokenizerError::ArrayTooShort { key: "tokenizer.ggml.token_type", .. })
    ));
}

#[test]
fn unsupported_tokenizers_say_so() {
    for model in ["t5", "rwkv", "plamo2", "no_vocab", "sentencepiece-ish"] {
        let err = build(with(gpt2_entries(), "tokenizer.ggml.model", Some(s(model)))).err();
        match err {
            Some(TokenizerError::UnsupportedModel { model: m, reason }) => {
                assert_eq!(m, model);
                assert!(!reason.is_empty());
            }
            other => panic!("{model}: {other:?}"),
        }
    }
    let t5 = build(with(gpt2_entries(), "tokenizer.ggml.model", Some(s("t5")))).unwrap_err().to_string();
    assert!(t5.contains("UGM") || t5.contains("unigram"), "{t5}");
    let err = build(with(gpt2_entries(), "tokenizer.ggml.pre", Some(s("no-such-pre")))).err();
    assert!(
        matches!(err, Some(TokenizerError::UnsupportedPreTokenizer(ref p)) if p == "no-such-pre"),
        "{err:?}"
    );
}

#[test]
fn out_of_range_special_ids_fall_back_like_llama_cpp() {
    // llama.cpp warns and keeps the default id; hearth does the same and records a warning
    let mut e = with(gpt2_entries(), "tokenizer.ggml.bos_token_id", Some(Value::U32(1_000_000)));
    e = with(e, "tokenizer.ggml.eos_token_id", Some(Value::U64(u64::MAX)));
    e = with(e, "tokenizer.ggml.eot_token_id", Some(Value::U32(262)));
    e = with(e, "tokenizer.ggml.padding_token_id", Some(Value::U32(u32::MAX)));
    e = with(e, "tokenizer.ggml.add_bos_token", Some(Value::Bool(true)));
    e = with(e, "tokenizer.ggml.add_eos_token", Some(Value::Bool(true)));
    let tok = build(e).unwrap();
    // gpt2's default BOS/EOS (11) are in range, so they stay
    assert_eq!(tok.bos(), Some(11));
    assert_eq!(tok.eos(), Some(11));
    assert_eq!(tok.special_tokens().pad, None);
    // EOT 262 is out of range: detected by its text instead
    assert_eq!(tok.eot(), tok.token_id("<|endoftext|>"));
    assert!(tok.warnings().iter().any(|w| w.contains("bos_token_id")), "{:?}", tok.warnings());
    assert!(tok.eog_ids().iter().all(|&id| (id as usize) < tok.n_vocab()));
    assert_eq!(tok.encode("hello", Specials::ADD_BOS_EOS)[0], 11);
    exercise(&tok);
}

#[test]
fn odd_merges_and_types_are_tolerated() {
    let merges = strs(&["zz qq", "nospace", "", " ", "a ", "h e", "he l", "Ġ Ġ", "ĠĠ ĠĠ", "x y z"]);
    let mut e = with(gpt2_entries(), "tokenizer.ggml.merges", Some(merges));
    let n = 262;
    let mut types: Vec<i32> = vec![1; n];
    types[5] = 99;
    types[6] = -4;
    types[7] = 6;
    e = with(e, "tokenizer.ggml.token_type", Some(Value::Array(Array::I32(types))));
    e = with(e, "tokenizer.ggml.scores", Some(Value::Array(Array::F32(vec![f32::NAN; n]))));
    let tok = build(e).unwrap();
    exercise(&tok);
}

#[test]
fn spm_and_wordpiece_without_fallbacks_do_not_panic() {
    // SentencePiece without byte tokens or <unk>, with an empty and a huge-score token
    let spm = vec![
        ("tokenizer.ggml.model".to_owned(), s("llama")),
        ("tokenizer.ggml.tokens".to_owned(), strs(&["a", "b", "▁", "▁a", "ab", ""])),
        (
            "tokenizer.ggml.scores".to_owned(),
            Value::Array(Array::F32(vec![0.0, -1.0, f32::INFINITY, f32::NAN, -0.5, 0.0])),
        ),
    ];
    let tok = build(spm).unwrap();
    assert_eq!(tok.token_text(5), "[EMPTY_5]");
    exercise(&tok);

    // WordPiece whose default special ids (100, 101, 102) are all out of range
    let wpm = vec![
        ("tokenizer.ggml.model".to_owned(), s("bert")),
        ("tokenizer.ggml.tokens".to_owned(), strs(&["[PAD]", "▁hello", "ing", "▁world"])),
        ("tokenizer.ggml.token_type".to_owned(), Value::Array(Array::I32(vec![3, 1, 1, 1]))),
    ];
    let tok = build(wpm).unwrap();
    assert_eq!(tok.encode("hello worlding", Specials::ADD_BOS_EOS), [1, 3, 2]);
    assert_eq!(tok.encode("unknown", Specials::NONE), Vec::<u32>::new());
    exercise(&tok);
}

/// A tiny deterministic generator for the metadata fuzz below.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

#[test]
fn random_metadata_never_panics() {
    let mut r = Lcg(7);
    let pieces = [
        "a",
        "b",
        "ab",
        "Ġ",
        "Ġa",
        "<0x41>",
        "▁",
        "▁a",
        "<s>",
        "</s>",
        "<|im_end|>",
        "[UNK]",
        "ll",
        "日",
        "🤖",
        "\n",
        "  ",
    ];
    let models = ["gpt2", "llama", "bert", "gemma4"];
    let pres = ["gpt-2", "llama-bpe", "qwen2", "smollm", "default", "deepseek-llm", "falcon", "gemma4"];
    for _ in 0..300 {
        let n = 1 + r.below(12) as usize;
        let mut tokens: Vec<String> = Vec::new();
        while tokens.len() < n {
            let t = pieces[r.below(pieces.len() as u64) as usize].to_owned();
            if !tokens.contains(&t) {
                tokens.push(t);
            }
            if tokens.len() == pieces.len() {
                break;
            }
        }
        let n = tokens.len();
        let mut e = vec![
            ("tokenizer.ggml.model".to_owned(), s(models[r.below(4) as usize])),
            ("tokenizer.ggml.pre".to_owned(), s(pres[r.below(pres.len() as u64) as usize])),
            ("tokenizer.ggml.tokens".to_owned(), Value::Array(Array::String(tokens.clone()))),
            (
                "tokenizer.ggml.token_type".to_owned(),
                Value::Array(Array::I32((0..n).map(|_| r.below(8) as i32).collect())),
            ),
            (
                "tokenizer.ggml.scores".to_owned(),
                Value::Array(Array::F32((0..n).map(|_| r.below(100) as f32 - 50.0).collect())),
            ),
        ];
        let merges: Vec<String> = (0..r.below(6))
            .map(|_| format!("{} {}", tokens[r.below(n as u64) as usize], tokens[r.below(n as u64) as usize]))
            .collect();
        e.push(("tokenizer.ggml.merges".to_owned(), Value::Array(Array::String(merges))));
        for key in ["bos_token_id", "eos_token_id", "unknown_token_id", "seperator_token_id", "eot_token_id"]
        {
            if r.below(2) == 0 {
                e.push((format!("tokenizer.ggml.{key}"), Value::U32(r.below(2 * n as u64) as u32)));
            }
        }
        for key in ["add_bos_token", "add_eos_token", "add_space_prefix", "remove_extra_whitespaces"] {
            if r.below(2) == 0 {
                e.push((format!("tokenizer.ggml.{key}"), Value::Bool(r.below(2) == 0)));
            }
        }
        if let Ok(tok) = build(e) {
            exercise(&tok);
        }
    }
}
