//! Decoding: round trips, `token_to_piece` semantics, the stream decoder on tokens that split
//! multi-byte characters, and ids outside the vocabulary.

use hearth_testkit::{GEMMA3_270M, QWEN_05B, SMOLLM2_135M};
use hearth_tokenizer::{Specials, TokenType, Tokenizer, Utf8Stream};

use crate::common::{model, suite_vocab};

/// Texts with multi-byte characters, odd whitespace and everything in between.
const TEXTS: &[&str] = &[
    "Hello world",
    " Hello  world\n\n",
    "naïve café — déjà vu",
    "日本語のテキストと中文",
    "emoji 🤖🚀 and ZWJ 👩\u{200d}💻 and flags 🇫🇷🇯🇵",
    "\t\ttabs\r\nand CRLF\r\n",
    "{\"name\": \"Ada\", \"tags\": [\"x\", \"y\"]}",
    "   leading and trailing   ",
    "Ελληνικά кириллица العربية हिन्दी ไทย",
    "\u{3000}ideographic space\u{00a0}nbsp",
    "1234567890 3.14159 -42",
    "x",
];

/// Every text of every vocabulary that decodes losslessly comes back unchanged.
#[test]
fn byte_exact_vocabularies_round_trip() {
    // byte-level BPE without clean-up, SentencePiece with byte fallback
    let mut toks: Vec<(String, std::sync::Arc<Tokenizer>)> = Vec::new();
    for name in [QWEN_05B, SMOLLM2_135M, GEMMA3_270M] {
        toks.extend(model(name).map(|t| (name.to_owned(), t)));
    }
    for name in ["qwen2", "llama-spm", "phi-3", "command-r"] {
        toks.extend(suite_vocab(name).map(|t| (name.to_owned(), t)));
    }
    for (name, tok) in &toks {
        for text in TEXTS {
            let ids = tok.encode(text, Specials::NONE);
            assert_eq!(&tok.decode(&ids, false), text, "{name}: {ids:?}");
            // with BOS first, decode the rest: llama.cpp strips the SentencePiece space only
            // from the very first token, which would be BOS (see `pieces_follow_llama_cpp`)
            let with_bos = tok.encode(text, Specials::ADD_BOS_EOS);
            let body = if tok.add_bos() { &with_bos[1..] } else { &with_bos[..] };
            assert_eq!(&tok.decode(body, false), text, "{name}: {with_bos:?}");
        }
    }
}

#[test]
fn control_tokens_render_only_when_asked() {
    let Some(tok) = model(QWEN_05B) else { return };
    let im_start = tok.token_id("<|im_start|>").unwrap();
    assert_eq!(tok.token_type(im_start), TokenType::Control);
    assert!(tok.is_special(im_start));
    assert_eq!(tok.token_to_piece(im_start, false), b"");
    assert_eq!(tok.token_to_piece(im_start, true), b"<|im_start|>");
    let ids = tok.encode("<|im_start|>user\nhi<|im_end|>", Specials::PARSE_CONTROL);
    assert_eq!(tok.decode(&ids, false), "user\nhi");
    assert_eq!(tok.decode(&ids, true), "<|im_start|>user\nhi<|im_end|>");
}

#[test]
fn pieces_follow_llama_cpp() {
    if let Some(tok) = model(QWEN_05B) {
        // byte-level: "Ġhello" is " hello"; an emoji split over three tokens gives partial bytes
        let hello = tok.token_id("Ġhello").unwrap();
        assert_eq!(tok.token_to_piece(hello, false), b" hello");
        let ids = tok.encode(" 🤖", Specials::NONE);
        assert!(ids.len() > 1, "the emoji spans several tokens: {ids:?}");
        let joined: Vec<u8> = ids.iter().flat_map(|&id| tok.token_to_piece(id, false)).collect();
        assert_eq!(joined, " 🤖".as_bytes());
        assert!(std::str::from_utf8(&tok.token_to_piece(ids[0], false)).is_err());
    }
    if let Some(tok) = suite_vocab("llama-spm") {
        // SentencePiece: "▁" is a space, byte tokens are their byte
        let nl = tok.token_id("<0x0A>").unwrap();
        assert_eq!(tok.token_type(nl), TokenType::Byte);
        assert_eq!(tok.token_to_piece(nl, false), b"\n");
        assert_eq!(tok.token_bytes(nl), b"\n");
        let the = tok.token_id("▁the").unwrap();
        assert_eq!(tok.token_to_piece(the, false), b" the");
        // SPM drops the space the tokenizer added in front of the first word, but only when
        // that word is the first token: llama.cpp's detokenize (remove_special = false)
        // spends the strip on a leading BOS
        assert_eq!(tok.decode(&[the], false), "the");
        assert_eq!(tok.decode(&[tok.bos().unwrap(), the], false), " the");
    }
}

#[test]
fn invalid_ids_are_skipped_not_fatal() {
    let Some(tok) = model(SMOLLM2_135M) else { return };
    let n = tok.n_vocab() as u32;
    let hi = tok.encode("hi", Specials::NONE);
    let mut ids = vec![n, u32::MAX];
    ids.extend(&hi);
    ids.push(n + 7);
    assert_eq!(tok.decode(&ids, true), "hi");
    assert_eq!(tok.token_to_piece(n, true), b"");
    assert_eq!(tok.token_bytes(u32::MAX), b"");
    assert_eq!(tok.token_text(n), "");
    assert_eq!(tok.token_type(n), TokenType::Undefined);
    assert!(!tok.is_eog(n));
    assert!(!tok.is_special(u32::MAX));
    let mut stream = tok.stream_decoder(true);
    assert_eq!(stream.push(u32::MAX), "");
}

/// Feeds `ids` one at a time; checks no chunk holds a replacement character and the chunks
/// join to `expected`.
fn stream_all(tok: &Tokenizer, ids: &[u32], expected: &str) {
    let mut stream = tok.stream_decoder(false);
    let mut joined = String::new();
    for &id in ids {
        let chunk = stream.push(id);
        assert!(!chunk.contains('\u{FFFD}'), "chunk {chunk:?} of {expected:?}");
        joined.push_str(&chunk);
    }
    assert!(!stream.has_pending());
    joined.push_str(&stream.finish());
    assert_eq!(joined, expected);
}

#[test]
fn stream_decoder_never_splits_a_character() {
    let text = "日本語 🤖🚀 👩\u{200d}💻 🇫🇷 naïve ñ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢";
    if let Some(tok) = model(QWEN_05B) {
        let ids = tok.encode(text, Specials::NONE);
        let partial =
            ids.iter().filter(|&&id| std::str::from_utf8(&tok.token_to_piece(id, false)).is_err()).count();
        assert!(partial > 0, "the test needs tokens that split characters");
        stream_all(&tok, &ids, text);
    }
    if let Some(tok) = suite_vocab("llama-spm") {
        // byte fallback: each emoji byte is its own <0xXX> token
        let ids = tok.encode(text, Specials::NONE);
        assert!(ids.iter().any(|&id| tok.token_type(id) == TokenType::Byte));
        stream_all(&tok, &ids, &format!(" {text}"));
    }
}

#[test]
fn stream_decoder_replaces_impossible_bytes_and_flushes_the_rest() {
    let Some(tok) = suite_vocab("llama-spm") else { return };
    let byte = |b: u8| tok.token_id(&format!("<0x{b:02X}>")).unwrap();
    let a = tok.token_id("a").unwrap();
    let mut s = tok.stream_decoder(false);
    // a lone continuation byte can never become valid
    assert_eq!(s.push(byte(0x97)), "\u{FFFD}");
    assert_eq!(s.push(a), "a");
    // the first two bytes of a four-byte character wait for the rest
    assert_eq!(s.push(byte(0xF0)), "");
    assert_eq!(s.push(byte(0x9F)), "");
    assert!(s.has_pending());
    // a stream cut short flushes lossily
    assert_eq!(s.finish(), "\u{FFFD}");
    assert!(!s.has_pending());
}

#[test]
fn utf8_stream_holds_back_partial_characters() {
    let mut s = Utf8Stream::default();
    let robot = "🤖".as_bytes();
    assert_eq!(s.push(b"a"), "a");
    assert_eq!(s.push(&robot[..1]), "");
    assert_eq!(s.push(&robot[1..3]), "");
    assert!(s.has_pending());
    assert_eq!(s.push(&[robot[3], b'!']), "🤖!");
    // an invalid byte in the middle is replaced at once, the rest goes on
    assert_eq!(s.push(&[0xFF, b'z', 0xE6]), "\u{FFFD}z");
    assert_eq!(s.push(&[0x97, 0xA5]), "日");
    assert_eq!(s.finish(), "");
}
