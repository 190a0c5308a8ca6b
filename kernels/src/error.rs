//! The crate's error type.

use hearth_dtype::DType;

/// Errors of fallible kernel lookups.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// No kernel of this kind exists for the type (e.g. a dot product with Q8_K weights).
    #[error("no {op} kernel for {dtype}")]
    Unsupported {
        /// The operation: `"vec_dot"` or `"quantize"`.
        op: &'static str,
        /// The type asked for.
        dtype: DType,
    },
}
