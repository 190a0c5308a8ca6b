//! Loading tokenizers from the fixture cache.

use std::path::Path;

use hearth_tokenizer::Tokenizer;

/// The tokenizer of a GGUF file.
pub fn load(path: &Path) -> Tokenizer {
    let file = hearth_gguf::GgufFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Tokenizer::from_gguf(file.metadata()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One of llama.cpp's vocab suites: `ggml-vocab-NAME.gguf`, or `None` (skipped) when missing.
pub fn suite_vocab(name: &str) -> Option<Tokenizer> {
    hearth_testkit::vocab(&format!("ggml-vocab-{name}.gguf")).map(|p| load(&p))
}

/// A fixture model's tokenizer, or `None` (skipped) when missing.
pub fn model(name: &str) -> Option<Tokenizer> {
    hearth_testkit::model(name).map(|p| load(&p))
}
