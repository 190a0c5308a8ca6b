//! [`QMatrix`]: a borrowed, shape-checked weight matrix view.

use crate::{DType, KernelError, Kernels};

/// Why a weight matrix view could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    /// The row length is not a whole number of blocks of the type.
    #[error("{dtype} matrix: row length {cols} is not a multiple of the block size {block}")]
    RowNotBlocks {
        /// Weight type.
        dtype: DType,
        /// Elements per row.
        cols: usize,
        /// The type's block size.
        block: usize,
    },
    /// The data is not exactly `rows × row_bytes(cols)` bytes (or that size overflows).
    #[error("{dtype} matrix {rows}×{cols} needs {expected:?} bytes, got {got}")]
    WrongSize {
        /// Weight type.
        dtype: DType,
        /// Rows.
        rows: usize,
        /// Elements per row.
        cols: usize,
        /// Bytes needed (`None` on overflow).
        expected: Option<usize>,
        /// Bytes given.
        got: usize,
    },
    /// No kernel exists for this weight type (e.g. Q8_K or Q8_1 used as weights).
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// How the bytes of a [`QMatrix`] are arranged. Private: model code never sees layouts, so
/// a repacked (row-interleaved) variant can be chosen at load time later without changing
/// any caller.
#[derive(Clone, Copy, Debug)]
pub(super) enum Layout<'a> {
    /// ggml's layout: row `r` is `data[r * row_bytes..(r + 1) * row_bytes]`.
    RowMajor { data: &'a [u8], row_bytes: usize },
}

/// A `rows × cols` weight matrix of `dtype` blocks, borrowed from a model file mapping.
///
/// Each row holds `cols` elements (`cols / block_size` blocks), as ggml stores a 2-D weight
/// `[cols, rows]` (`ne0 = cols`). Multiply with [`matmul`](super::matmul).
#[derive(Clone, Copy, Debug)]
pub struct QMatrix<'a> {
    dtype: DType,
    rows: usize,
    cols: usize,
    pub(super) layout: Layout<'a>,
}

impl<'a> QMatrix<'a> {
    /// A view of `data` as `rows` rows of `cols` elements of `dtype`.
    ///
    /// Errors when `cols` is not a whole number of blocks, `data` is not exactly
    /// `rows × dtype.row_bytes(cols)` bytes, or `dtype` has no dot-product kernel.
    pub fn new(dtype: DType, rows: usize, cols: usize, data: &'a [u8]) -> Result<Self, MatrixError> {
        let Some(row_bytes) = dtype.checked_row_bytes(cols) else {
            return Err(MatrixError::RowNotBlocks { dtype, cols, block: dtype.block_size() });
        };
        let expected = row_bytes.checked_mul(rows);
        if expected != Some(data.len()) {
            return Err(MatrixError::WrongSize { dtype, rows, cols, expected, got: data.len() });
        }
        // Every table falls back to the scalar kernels, so this decides for all of them.
        Kernels::scalar().vec_dot_fn(dtype)?;
        Ok(QMatrix { dtype, rows, cols, layout: Layout::RowMajor { data, row_bytes } })
    }

    /// Weight element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of rows (outputs of a product).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Elements per row (inputs of a product).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes of weight data (what a product streams from memory).
    pub fn n_bytes(&self) -> usize {
        match self.layout {
            Layout::RowMajor { data, .. } => data.len(),
        }
    }

    /// Decodes row `r` into `out` (`cols` floats), e.g. an embedding lookup.
    ///
    /// # Panics
    /// If `r >= rows` or `out.len() != cols`.
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        assert!(r < self.rows, "row {r} of a {}-row matrix", self.rows);
        assert_eq!(out.len(), self.cols, "dequantize_row: out length");
        let f = crate::kernels().dequantize_fn(self.dtype).unwrap_or_else(|e| panic!("{e}"));
        f(self.row(r), out);
    }

    /// The bytes of rows `r0..r1`, consecutive (row-major layout).
    #[inline]
    pub(super) fn rows_bytes(&self, r0: usize, r1: usize) -> &'a [u8] {
        match self.layout {
            Layout::RowMajor { data, row_bytes } => &data[r0 * row_bytes..r1 * row_bytes],
        }
    }

    /// The bytes of row `r` (row-major layout).
    #[inline]
    pub(super) fn row(&self, r: usize) -> &'a [u8] {
        match self.layout {
            Layout::RowMajor { data, row_bytes } => &data[r * row_bytes..(r + 1) * row_bytes],
        }
    }
}
