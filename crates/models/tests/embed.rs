//! Embedders against llama.cpp's `llama-embedding` (`tests/golden/embeddings_*.json`, written
//! by `cargo xtask embed-goldens`): every text's vector within cosine [`MIN_COSINE`] of
//! llama.cpp's, batched outputs equal to one-at-a-time outputs, and the errors a caller sees.

use hearth_models::{Embedder, Model, ModelError, Pooling};
use hearth_testkit::{self as tk, EmbedGolden};

/// Smallest allowed cosine between hearth's and llama.cpp's vector of a text. Both round
/// activations and K/V the same way but sum in their own orders (and llama.cpp's flash
/// attention accumulates V in f16), so the vectors differ in the last bits, not more.
const MIN_COSINE: f32 = 0.999;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
    let na: f64 = a.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let nb: f64 = b.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (dot / (na.sqrt() * nb.sqrt())) as f32
}

fn check_parity(name: &str, pooling: Pooling) {
    let Some(path) = tk::model(name) else { return };
    let golden = EmbedGolden::load(name);
    let e = Embedder::open(&path).unwrap();
    assert_eq!(e.dim(), golden.dim);
    assert_eq!(e.pooling(), pooling);
    assert_eq!(e.pooling().name(), golden.pooling);
    let texts: Vec<&str> = golden.texts.iter().map(String::as_str).collect();
    let ours = e.embed(&texts).unwrap();
    assert_eq!(ours.len(), texts.len());
    let (mut min, mut max_diff) = (f32::MAX, 0.0f32);
    for (i, (v, want)) in ours.iter().zip(&golden.embeddings).enumerate() {
        let c = cosine(v, want);
        min = min.min(c);
        max_diff = v.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(max_diff, f32::max);
        assert!(
            c >= MIN_COSINE,
            "{name}: text {i} {:?}: cosine {c} with llama.cpp's vector (regenerate the golden with `cargo xtask embed-goldens` if the fixture changed)",
            texts[i]
        );
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{name}: text {i}: norm {norm}");
    }
    eprintln!(
        "PARITY {name}: {} texts, min cosine {min:.7} (threshold {MIN_COSINE}), max |Δ| {max_diff:.2e}",
        texts.len()
    );

    // A text's vector does not depend on the batch it is in.
    for (i, t) in texts.iter().enumerate() {
        let single = e.embed(&[t]).unwrap();
        assert!(single[0] == ours[i], "{name}: text {i}: batched vector differs from the single one");
    }
    let reversed: Vec<&str> = texts.iter().rev().copied().collect();
    let back = e.embed(&reversed).unwrap();
    for (i, v) in back.iter().rev().enumerate() {
        assert!(*v == ours[i], "{name}: text {i}: vector changed with the batch order");
    }
}

#[test]
fn minilm_matches_llama_cpp() {
    check_parity(tk::MINILM_L6, Pooling::Mean);
}

#[test]
fn nomic_bert_matches_llama_cpp() {
    check_parity(tk::NOMIC_BERT_TINY, Pooling::Mean);
}

#[test]
fn minilm_ranks_a_paraphrase_above_an_unrelated_text() {
    let Some(path) = tk::model(tk::MINILM_L6) else { return };
    let e = Embedder::open(&path).unwrap();
    let v = e
        .embed(&[
            "How do I reset my password?",
            "I forgot my password, how can I change it?",
            "The stock market fell sharply on Tuesday.",
        ])
        .unwrap();
    let (para, other) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
    assert!(para > 0.6 && other < 0.3 && para > other + 0.3, "paraphrase {para}, unrelated {other}");
}

#[test]
fn too_long_input_is_an_error_that_names_the_limit() {
    let Some(path) = tk::model(tk::MINILM_L6) else { return };
    let e = Embedder::open(&path).unwrap();
    assert_eq!(e.max_tokens(), 512);
    let long = "word ".repeat(600);
    let err = e.embed(&["fine", &long]).unwrap_err();
    assert!(matches!(err, ModelError::TooLong { index: 1, tokens: 602, max: 512 }), "{err:?}");
    assert!(err.to_string().contains("at most 512"), "{err}");
    // Exactly the limit is fine.
    let ids = e.tokenize(&"word ".repeat(510));
    assert_eq!(ids.len(), 512);
    assert_eq!(e.embed_tokens(&[ids]).unwrap()[0].len(), 384);
}

#[test]
fn token_inputs_are_checked() {
    let Some(path) = tk::model(tk::MINILM_L6) else { return };
    let e = Embedder::open(&path).unwrap();
    let none: Vec<Vec<u32>> = vec![vec![101, 102], vec![]];
    assert!(matches!(e.embed_tokens(&none), Err(ModelError::EmptyInput { index: 1 })));
    assert!(matches!(e.embed_tokens(&[vec![101, 999_999]]), Err(ModelError::BadToken { id: 999_999, .. })));
    assert!(e.embed(&[]).unwrap().is_empty());
    // The text path and the token path agree.
    let ids = e.tokenize("turn on dark mode");
    assert_eq!(ids.first(), Some(&101));
    assert_eq!(ids.last(), Some(&102));
    assert!(e.embed_tokens(&[ids]).unwrap() == e.embed(&["turn on dark mode"]).unwrap());
}

#[test]
fn generators_and_embedders_refuse_each_others_files() {
    let Some(minilm) = tk::model(tk::MINILM_L6) else { return };
    let err = Model::open(&minilm).unwrap_err().to_string();
    assert!(err.contains("'bert'") && err.contains("hearth embed"), "{err}");
    let Some(smol) = tk::model(tk::SMOLLM2_135M) else { return };
    let err = Embedder::open(&smol).unwrap_err();
    assert!(matches!(err, ModelError::NotAnEmbedder(ref a) if a == "llama"), "{err:?}");
}

#[test]
fn unnormalised_vectors_keep_their_length() {
    let Some(path) = tk::model(tk::MINILM_L6) else { return };
    let raw = Embedder::open(&path).unwrap().with_normalize(false);
    let unit = Embedder::open(&path).unwrap();
    let (r, u) = (raw.embed(&["hello"]).unwrap(), unit.embed(&["hello"]).unwrap());
    let norm: f32 = r[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 0.01, "MiniLM's mean-pooled states are not unit length: {norm}");
    assert!(cosine(&r[0], &u[0]) > 0.99999);
}
