//! `Model::macs_per_token` (the divisor of `hearth bench`'s prefill limit) against the
//! GGUF file's own tensor list.

use hearth_models::Model;
use hearth_testkit as tk;

/// The projections every layer multiplies a token with.
const PROJECTIONS: [&str; 7] =
    ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

/// Σ rows × columns over the matrices a token is multiplied with, read from the file's
/// tensor infos: each layer's seven projections and the output head (the embedding where
/// the head is tied to it).
fn macs_from_file(model: &Model) -> u64 {
    let f = model.file();
    let elems = |dims: &[u64]| dims.iter().product::<u64>();
    let layers: u64 = f
        .tensors()
        .iter()
        .filter(|t| {
            t.name.starts_with("blk.")
                && PROJECTIONS.iter().any(|p| t.name.ends_with(&format!(".{p}.weight")))
        })
        .map(|t| elems(&t.dims))
        .sum();
    let head = f.tensor("output.weight").or_else(|| f.tensor("token_embd.weight")).expect("an output head");
    layers + elems(&head.dims)
}

#[test]
fn macs_per_token_counts_every_matrix_once() {
    for name in [tk::SMOLLM2_135M, tk::QWEN_05B, tk::GEMMA3_270M] {
        let Some(path) = tk::model(name) else { continue };
        let model = Model::open(&path).unwrap();
        let want = macs_from_file(&model);
        assert!(want > 0, "{name}");
        assert_eq!(model.macs_per_token(), want, "{name}");
    }
}
