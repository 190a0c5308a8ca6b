//! `hearth-gguf`: the GGUF file format, v2 and v3.
//!
//! - [`GgufFile::open`] maps a file and parses its header with the caps in [`Limits`];
//!   tensor bytes are borrowed from the mapping ([`GgufFile::tensor_data`]).
//! - [`parse_header`] parses any byte slice (used by the fuzz target).
//! - [`Metadata`] gives typed access (`meta.u32("llama.block_count")?`) with errors that
//!   name the key.
//! - [`DType`] (re-exported from `hearth-dtype`, shared with the kernels): a tensor's element
//!   type, with ggml's id, name and block geometry.
//! - [`GgufWriter`] writes files (tests, `cargo xtask` shape-alike models).
//!
//! ```no_run
//! let file = hearth_gguf::GgufFile::open("model.gguf")?;
//! let arch = file.metadata().architecture()?;
//! for t in file.tensors() {
//!     println!("{} {:?} {} ({} bytes)", t.name, t.dims, t.ty, t.n_bytes);
//! }
//! # Ok::<(), hearth_gguf::GgufError>(())
//! ```
#![deny(missing_docs)]

mod error;
mod file;
mod metadata;
mod parse;
mod value;
mod writer;

pub use error::{GgufError, Result};
pub use file::GgufFile;
pub use hearth_dtype::DType;
pub use metadata::Metadata;
pub use parse::{DEFAULT_ALIGNMENT, Header, Limits, MAGIC, parse_header};
pub use value::{Array, Value, ValueType};
pub use writer::{GgufWriter, TensorSpec};

/// One tensor's description from the header.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions, innermost (row length) first, as ggml's `ne`.
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: DType,
    /// Offset of the data relative to the start of the data section.
    pub offset: u64,
    /// Product of the dims.
    pub n_elements: u64,
    /// Bytes of data.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Row length (`dims[0]`), 1 for a scalar.
    pub fn ne0(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows (product of all dims but the first). The parser guarantees this fits;
    /// for an info built by hand with absurd dims it saturates rather than overflows.
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).fold(1u64, |acc, &d| acc.saturating_mul(d))
    }
}
