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
    /// The type or row count has no interleaved layout ([`QMatrix::can_interleave`]).
    #[error(
        "{dtype} matrix of {rows} rows has no interleaved layout (Q4_K or Q6_K in whole groups of 8 rows, Q5_0 or Q8_0 of 16)"
    )]
    NotInterleavable {
        /// Weight type.
        dtype: DType,
        /// Rows.
        rows: usize,
    },
    /// No kernel exists for this weight type (e.g. Q8_K or Q8_1 used as weights).
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// How the bytes of a [`QMatrix`] are arranged. Private: model code only chooses, through
/// [`QMatrix::interleaved`], and never reads a layout.
#[derive(Clone, Copy, Debug)]
pub(super) enum Layout<'a> {
    /// ggml's layout: row `r` is `data[r * row_bytes..(r + 1) * row_bytes]`.
    RowMajor { data: &'a [u8], row_bytes: usize },
    /// Q4_K / Q6_K rows interleaved 8 to a block ([`crate::blocks::BlockQ4_Kx8`],
    /// [`crate::blocks::BlockQ6_Kx8`]), Q5_0 / Q8_0 rows 16 to a block
    /// ([`crate::blocks::BlockQ5_0x16`], [`crate::blocks::BlockQ8_0x16`]): with `G` rows per
    /// group, rows `Gg..Gg + G` are `data[g * group_bytes..(g + 1) * group_bytes]`, block by
    /// block.
    Interleaved { data: &'a [u8], row_bytes: usize, group_bytes: usize },
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

    /// A view of `data`, the bytes [`interleave`](Self::interleave) made of a `rows × cols`
    /// matrix of `dtype`: the layout the process's kernel table decodes fastest from where
    /// [`QMatrix::wants_interleaved`] says so. Products give the same results bit for bit
    /// as on the file's layout.
    ///
    /// Errors when the type or row count cannot be interleaved, `cols` is not a whole number
    /// of blocks, or `data` is not [`QMatrix::interleaved_len`] bytes.
    pub fn interleaved(dtype: DType, rows: usize, cols: usize, data: &'a [u8]) -> Result<Self, MatrixError> {
        let row_bytes = Self::check_interleaved_len(dtype, rows, cols, data.len())?;
        let group_bytes = data.len() / (rows / super::interleave::group_rows(dtype));
        Ok(QMatrix { dtype, rows, cols, layout: Layout::Interleaved { data, row_bytes, group_bytes } })
    }

    /// The file's row bytes and the interleaved size of a `rows × cols` `dtype` matrix.
    fn check_interleave(dtype: DType, rows: usize, cols: usize) -> Result<(usize, usize), MatrixError> {
        if !Self::can_interleave(dtype, rows) {
            return Err(MatrixError::NotInterleavable { dtype, rows });
        }
        let Some(row_bytes) = dtype.checked_row_bytes(cols) else {
            return Err(MatrixError::RowNotBlocks { dtype, cols, block: dtype.block_size() });
        };
        let nb = cols / dtype.block_size();
        let expected = super::interleave::group_layout(dtype)
            .and_then(|(group_rows, x)| nb.checked_mul(rows / group_rows)?.checked_mul(x));
        let expected =
            expected.ok_or(MatrixError::WrongSize { dtype, rows, cols, expected: None, got: 0 })?;
        Ok((row_bytes, expected))
    }

    /// [`QMatrix::check_interleave`], and `got` bytes are the interleaved size; returns the
    /// file's row bytes.
    fn check_interleaved_len(
        dtype: DType,
        rows: usize,
        cols: usize,
        got: usize,
    ) -> Result<usize, MatrixError> {
        let (row_bytes, expected) = Self::check_interleave(dtype, rows, cols)?;
        if got != expected {
            return Err(MatrixError::WrongSize { dtype, rows, cols, expected: Some(expected), got });
        }
        Ok(row_bytes)
    }

    /// Bytes of the interleaved layout of a `rows × cols` `dtype` matrix (the 6-bit scales
    /// and mins are stored unpacked: 1184 bytes per 8 × 144 for Q4_K; Q6_K, Q5_0 and Q8_0 keep
    /// the file's size), or
    /// `None` if it has none.
    pub fn interleaved_len(dtype: DType, rows: usize, cols: usize) -> Option<usize> {
        Self::check_interleave(dtype, rows, cols).ok().map(|(_, len)| len)
    }

    /// Whether `dtype` matrices of `rows` rows have an interleaved layout (Q4_K or Q6_K, rows
    /// a multiple of 8; Q5_0 or Q8_0, rows a multiple of 16).
    pub fn can_interleave(dtype: DType, rows: usize) -> bool {
        super::interleave::group_layout(dtype).is_some_and(|(group_rows, _)| rows.is_multiple_of(group_rows))
            && rows > 0
    }

    /// Whether the process's kernel table ([`crate::kernels()`]) multiplies such matrices
    /// from the interleaved layout (it has a kernel for it: AVX-512 for Q4_K, Q6_K, Q4_1, Q5_0 and Q8_0; AVX2 for Q4_K, Q4_1 and Q5_0); a model loader
    /// then repacks them once with [`QMatrix::interleave`]. `HEARTH_REPACK=0` (or `off`)
    /// says no for the whole process: the weights then stay in the file mapping only (its
    /// page cache shared with other processes mapping the same file; slower decode).
    pub fn wants_interleaved(dtype: DType, rows: usize) -> bool {
        static ALLOWED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let allowed = *ALLOWED.get_or_init(|| {
            !matches!(
                std::env::var("HEARTH_REPACK").as_deref().map(str::trim),
                Ok("0" | "off" | "false" | "no")
            )
        });
        allowed && Self::can_interleave(dtype, rows) && crate::kernels().mat_x8_fn(dtype).is_some()
    }

    /// Repacks the file's bytes of a `rows × cols` matrix into `dst`
    /// ([`QMatrix::interleaved_len`] bytes) in the interleaved layout, for
    /// [`QMatrix::interleaved`].
    ///
    /// Errors as [`QMatrix::new`] on `src`, and as [`QMatrix::interleaved`] on `dst`.
    pub fn interleave(
        dtype: DType,
        rows: usize,
        cols: usize,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<(), MatrixError> {
        QMatrix::new(dtype, rows, cols, src)?;
        Self::check_interleaved_len(dtype, rows, cols, dst.len())?;
        let nb = cols / dtype.block_size();
        super::interleave::interleave_bytes(dtype, src, nb, dst);
        Ok(())
    }

    /// Whether this view is in the interleaved layout.
    pub fn is_interleaved(&self) -> bool {
        matches!(self.layout, Layout::Interleaved { .. })
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
            Layout::RowMajor { data, .. } | Layout::Interleaved { data, .. } => data.len(),
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
        match self.layout {
            Layout::RowMajor { data, row_bytes } => f(&data[r * row_bytes..(r + 1) * row_bytes], out),
            Layout::Interleaved { .. } => {
                thread_local! {
                    /// The row taken out of its group (one embedding lookup per token).
                    static ROW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                let gr = super::interleave::group_rows(self.dtype);
                let (g, i) = (r / gr, r % gr);
                let group = self.stored_rows(g * gr, (g + 1) * gr);
                ROW.with_borrow_mut(|row| {
                    row.resize(self.row_bytes(), 0);
                    super::interleave::row_of_group(
                        self.dtype,
                        group,
                        self.cols / self.dtype.block_size(),
                        i,
                        row,
                    );
                    f(row, out);
                });
            }
        }
    }

    /// Bytes of one row in the file's layout.
    fn row_bytes(&self) -> usize {
        match self.layout {
            Layout::RowMajor { row_bytes, .. } | Layout::Interleaved { row_bytes, .. } => row_bytes,
        }
    }

    /// The stored bytes of rows `r0..r1` in this view's layout (interleaved: `r0` and `r1`
    /// multiples of the group's rows, or `r1 == rows`).
    #[inline]
    pub(super) fn stored_rows(&self, r0: usize, r1: usize) -> &'a [u8] {
        match self.layout {
            Layout::RowMajor { data, row_bytes } => &data[r0 * row_bytes..r1 * row_bytes],
            Layout::Interleaved { data, group_bytes, .. } => {
                let g = super::interleave::group_rows(self.dtype);
                &data[r0 / g * group_bytes..r1.div_ceil(g) * group_bytes]
            }
        }
    }

    /// Rows `r0..r1` in the file's layout into `dst` (resized to fit): a copy of the stored
    /// bytes, or the interleaved groups taken apart (`r0`, `r1` multiples of the group's rows).
    pub(super) fn row_major(&self, r0: usize, r1: usize, dst: &mut Vec<u8>) {
        let src = self.stored_rows(r0, r1);
        dst.resize((r1 - r0) * self.row_bytes(), 0);
        match self.layout {
            Layout::RowMajor { .. } => dst.copy_from_slice(src),
            Layout::Interleaved { .. } => super::interleave::deinterleave_bytes(
                self.dtype,
                src,
                self.cols / self.dtype.block_size(),
                dst,
            ),
        }
    }
}
