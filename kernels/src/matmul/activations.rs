//! [`Activations`]: an `n × cols` f32 batch with its quantized forms cached per type.

use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8_K, as_blocks};
use crate::dispatch::XBatch;
use crate::{DType, Kernels, ThreadPool};

/// Batches at least this large (`n × cols` elements) are quantized on all pool threads.
const PARALLEL_QUANTIZE_MIN: usize = 1 << 15;

/// The quantized copy of the batch in one vec-dot type.
#[derive(Clone, Debug, Default)]
struct Quantized {
    /// Name of the kernel table that produced `bytes`; `None` when stale.
    made_by: Option<&'static str>,
    /// `n × row_bytes(cols)` bytes, token-major.
    bytes: Vec<u8>,
    /// Block scales as f32, `[block * ld + t]` (see [`XBatch`]).
    d: Vec<f32>,
    /// Q8_0: Σq per block, same layout.
    sum: Vec<i32>,
    /// Q8_1: `s` per block as f32, same layout.
    s: Vec<f32>,
    /// Q8_K: the 8 sub-block sums per block, same layout.
    sub: Vec<[i16; 8]>,
}

impl Quantized {
    /// Fills the block-major side arrays of `n` tokens of `cols` from `bytes`.
    fn side_arrays(&mut self, vdt: DType, n: usize, cols: usize) {
        let ld = XBatch::ld_for(n);
        let nb = if vdt.is_quantized() { cols / vdt.block_size() } else { 0 };
        let row_bytes = vdt.row_bytes(cols);
        let (d, sum, s, sub) = (&mut self.d, &mut self.sum, &mut self.s, &mut self.sub);
        d.clear();
        sum.clear();
        s.clear();
        sub.clear();
        if nb == 0 {
            return;
        }
        match vdt {
            DType::Q8_0 => {
                d.resize(nb * ld, 0.0);
                sum.resize(nb * ld, 0);
                for (t, row) in self.bytes.chunks_exact(row_bytes).enumerate() {
                    for (b, blk) in as_blocks::<BlockQ8_0>(row).iter().enumerate() {
                        d[b * ld + t] = blk.d.to_f32();
                        sum[b * ld + t] = blk.qs.iter().map(|&q| i32::from(q)).sum();
                    }
                }
            }
            DType::Q8_1 => {
                d.resize(nb * ld, 0.0);
                s.resize(nb * ld, 0.0);
                for (t, row) in self.bytes.chunks_exact(row_bytes).enumerate() {
                    for (b, blk) in as_blocks::<BlockQ8_1>(row).iter().enumerate() {
                        d[b * ld + t] = blk.d.to_f32();
                        s[b * ld + t] = blk.s.to_f32();
                    }
                }
            }
            DType::Q8_K => {
                d.resize(nb * ld, 0.0);
                sub.resize(nb * ld, [0; 8]);
                for (t, row) in self.bytes.chunks_exact(row_bytes).enumerate() {
                    for (b, blk) in as_blocks::<BlockQ8_K>(row).iter().enumerate() {
                        d[b * ld + t] = blk.d.get();
                        // |Σ 32 quants| ≤ 32 · 128: exact in i16.
                        sub[b * ld + t] =
                            std::array::from_fn(|j| blk.bsums[2 * j].get() + blk.bsums[2 * j + 1].get());
                    }
                }
            }
            _ => {}
        }
    }
}

/// The input of a matrix product: `n` rows (tokens) of `cols` floats, plus lazily made and
/// cached quantized copies, one per vec-dot type (Q8_0, Q8_1, Q8_K, F16, BF16).
///
/// Several weights sharing an input (Q/K/V, gate/up) quantize it once per type, even when
/// their weight types differ only in the block format. Buffers keep their capacity: once
/// warmed up to the largest batch, filling and quantizing allocate nothing.
///
/// ```
/// let mut x = hearth_kernels::Activations::new();
/// x.fill(2, 4).copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
/// assert_eq!((x.n(), x.cols()), (2, 4));
/// assert_eq!(x.row(1), &[5.0, 6.0, 7.0, 8.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Activations {
    n: usize,
    cols: usize,
    /// `[n, cols]`, row-major.
    data: Vec<f32>,
    /// Indexed by [`DType::index`] of the vec-dot type.
    quant: [Quantized; DType::COUNT],
}

impl Default for Activations {
    fn default() -> Self {
        Activations { n: 0, cols: 0, data: Vec::new(), quant: std::array::from_fn(|_| Quantized::default()) }
    }
}

impl Activations {
    /// An empty batch (allocates on first [`fill`](Self::fill)).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `n × cols` floats.
    pub fn with_capacity(n: usize, cols: usize) -> Self {
        Activations { data: Vec::with_capacity(n * cols), ..Self::default() }
    }

    /// Resizes to `n × cols` and returns the floats to write (token-major). Invalidates the
    /// quantized copies. Contents are unspecified until written.
    pub fn fill(&mut self, n: usize, cols: usize) -> &mut [f32] {
        self.invalidate();
        self.n = n;
        self.cols = cols;
        self.data.resize(n * cols, 0.0);
        &mut self.data
    }

    /// Copies `x` (`n × cols`, token-major) in.
    ///
    /// # Panics
    /// If `cols` is 0 or `x.len()` is not a multiple of `cols`.
    pub fn load(&mut self, x: &[f32], cols: usize) {
        assert!(
            cols > 0 && x.len().is_multiple_of(cols),
            "Activations::load: {} floats are not rows of {cols}",
            x.len()
        );
        self.fill(x.len() / cols, cols).copy_from_slice(x);
    }

    /// Number of rows (tokens).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Floats per row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The batch, `n × cols` token-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The batch for in-place edits; invalidates the quantized copies.
    pub fn data_mut(&mut self) -> &mut [f32] {
        self.invalidate();
        &mut self.data
    }

    /// Row `t`.
    pub fn row(&self, t: usize) -> &[f32] {
        &self.data[t * self.cols..(t + 1) * self.cols]
    }

    fn invalidate(&mut self) {
        for q in &mut self.quant {
            q.made_by = None;
        }
    }

    /// Makes sure the batch exists in `vdt` as quantized by `k` (on `pool`'s threads for
    /// large batches). F32 needs no copy.
    pub(super) fn prepare(&mut self, k: &'static Kernels, pool: &ThreadPool, vdt: DType) {
        if vdt == DType::F32 {
            return;
        }
        let (n, cols) = (self.n, self.cols);
        let slot = &mut self.quant[vdt.index()];
        if slot.made_by == Some(k.name()) {
            return;
        }
        let quantize = k.quantize_fn(vdt).unwrap_or_else(|e| panic!("{e}"));
        let row_bytes = vdt.row_bytes(cols);
        slot.bytes.resize(n * row_bytes, 0);
        let data = &self.data;
        if n >= 2 && pool.n_threads() > 1 && n * cols >= PARALLEL_QUANTIZE_MIN {
            let dst = super::SendPtr(slot.bytes.as_mut_ptr());
            pool.run(&|ith, nth| {
                let (t0, t1) = (n * ith / nth, n * (ith + 1) / nth);
                // SAFETY: thread `ith` writes only rows t0..t1 of the n × row_bytes buffer,
                // disjoint from every other thread's rows; `run` returns after all finish, and
                // `slot.bytes` is neither moved nor resized meanwhile.
                let out = unsafe {
                    std::slice::from_raw_parts_mut(dst.get().add(t0 * row_bytes), (t1 - t0) * row_bytes)
                };
                for (src, d) in
                    data[t0 * cols..t1 * cols].chunks_exact(cols).zip(out.chunks_exact_mut(row_bytes))
                {
                    quantize(src, d);
                }
            });
        } else if cols > 0 {
            for (src, d) in data.chunks_exact(cols).zip(slot.bytes.chunks_exact_mut(row_bytes)) {
                quantize(src, d);
            }
        }
        slot.side_arrays(vdt, n, cols);
        slot.made_by = Some(k.name());
    }

    /// The batch in `vdt` with its side arrays, after [`prepare`](Self::prepare).
    pub(super) fn batch(&self, vdt: DType) -> XBatch<'_> {
        let slot = &self.quant[vdt.index()];
        XBatch {
            bytes: self.bytes(vdt),
            n: self.n,
            row_bytes: vdt.row_bytes(self.cols),
            ld: XBatch::ld_for(self.n),
            d: &slot.d,
            sum: &slot.sum,
            s: &slot.s,
            sub: &slot.sub,
        }
    }

    /// The batch as `vdt` bytes (token-major rows of `vdt.row_bytes(cols)`), after
    /// [`prepare`](Self::prepare).
    pub(super) fn bytes(&self, vdt: DType) -> &[u8] {
        if vdt == DType::F32 {
            return bytemuck::cast_slice(&self.data);
        }
        let slot = &self.quant[vdt.index()];
        debug_assert!(slot.made_by.is_some(), "Activations::bytes({vdt}) before prepare");
        &slot.bytes
    }
}
