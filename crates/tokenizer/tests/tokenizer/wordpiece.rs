//! WordPiece on all-MiniLM-L6-v2 (converted by `cargo xtask fixtures` from the HF model),
//! checked against the ids of the original `tokenizer.json` vocabulary.

use std::collections::HashMap;

use hearth_testkit::MINILM_L6;
use hearth_tokenizer::{Specials, TokenizerKind};

use crate::common::model;

/// The HF vocabulary (`model.vocab` of tokenizer.json): WordPiece text → id.
fn hf_vocab() -> Option<HashMap<String, u32>> {
    let path = hearth_testkit::file("models/all-minilm-l6-v2/tokenizer.json")?;
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vocab = json["model"]["vocab"].as_object()?;
    Some(vocab.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap() as u32)).collect())
}

#[test]
fn minilm_matches_the_hf_wordpiece_ids() {
    let Some(tok) = model(MINILM_L6) else { return };
    let Some(hf) = hf_vocab() else { return };
    assert_eq!(tok.kind(), TokenizerKind::WordPiece);
    assert_eq!(tok.n_vocab(), hf.len());
    let id = |piece: &str| hf[piece];
    // BERT's own examples: punctuation split off, "##" continuations, lowercasing and accents
    let cases: &[(&str, &[&str])] = &[
        ("Hello, world!", &["[CLS]", "hello", ",", "world", "!", "[SEP]"]),
        (
            "Tokenization embeddings",
            &["[CLS]", "token", "##ization", "em", "##bed", "##ding", "##s", "[SEP]"],
        ),
        ("Héllo WÖRLD naïve café", &["[CLS]", "hello", "world", "naive", "cafe", "[SEP]"]),
        (
            "The 2 quick-brown foxes' den",
            &["[CLS]", "the", "2", "quick", "-", "brown", "foxes", "'", "den", "[SEP]"],
        ),
        ("中文国", &["[CLS]", "中", "文", "国", "[SEP]"]),
    ];
    for (text, pieces) in cases {
        let expected: Vec<u32> = pieces.iter().map(|p| id(p)).collect();
        assert_eq!(tok.encode(text, Specials::ADD_BOS_EOS), expected, "{text:?}");
    }
    assert_eq!(tok.bos(), Some(id("[CLS]")));
    assert_eq!(tok.special_tokens().sep, Some(id("[SEP]")));
    assert_eq!(tok.special_tokens().unk, Some(id("[UNK]")));
    // a character absent from the vocabulary makes its whole word [UNK]
    assert_eq!(tok.encode("hello 🤖x", Specials::NONE), [id("hello"), id("[UNK]")]);
}

#[test]
fn minilm_parses_special_texts_only_when_asked() {
    let Some(tok) = model(MINILM_L6) else { return };
    let mask = tok.token_id("[MASK]").unwrap();
    assert!(tok.encode("a [MASK] b", Specials::PARSE_CONTROL).contains(&mask));
    assert!(!tok.encode("a [MASK] b", Specials::NONE).contains(&mask));
}
