//! MODEL arguments: a path to a `.gguf` file is used as is; a catalog name resolves to the
//! model store, downloading the model (sha256-checked, with progress bars) on first use.

use std::path::PathBuf;

use anyhow::Result;
use hearth_hub::Store;
use hearth_hub::bars::Bars;

/// The file a MODEL argument names, pulling a catalog model on first use.
pub fn model_file(model: &str) -> Result<PathBuf> {
    let store = Store::open_default()?;
    Ok(store.resolve(model, true, &Bars::new())?)
}
