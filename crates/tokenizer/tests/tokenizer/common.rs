//! Loading tokenizers from the fixture cache, each file once per test binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hearth_tokenizer::Tokenizer;

type Slot = Arc<OnceLock<Arc<Tokenizer>>>;

/// The tokenizer of a GGUF file, shared by every test that asks for the same file.
pub fn load(path: &Path) -> Arc<Tokenizer> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Slot>>> = OnceLock::new();
    let slot = {
        let mut map = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        map.entry(path.to_owned()).or_default().clone()
    };
    slot.get_or_init(|| {
        let file = hearth_gguf::GgufFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Arc::new(Tokenizer::from_gguf(file.metadata()).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    })
    .clone()
}

/// One of llama.cpp's vocab suites: `ggml-vocab-NAME.gguf`, or `None` (skipped) when missing.
pub fn suite_vocab(name: &str) -> Option<Arc<Tokenizer>> {
    hearth_testkit::vocab(&format!("ggml-vocab-{name}.gguf")).map(|p| load(&p))
}

/// A fixture model's tokenizer, or `None` (skipped) when missing.
pub fn model(name: &str) -> Option<Arc<Tokenizer>> {
    hearth_testkit::model(name).map(|p| load(&p))
}
