//! Runtime dispatch: one table of kernels per instruction set, chosen once.
//!
//! [`kernels()`] picks the best table this CPU can run on first use (`OnceLock`):
//! AVX2+FMA+F16C on x86_64 (with the VNNI GEMM where AVX512-VNNI/VL exist, and 512-bit
//! K-quant kernels where AVX512F/BW exist too), NEON with or
//! without dotprod on aarch64, else scalar. The environment variable
//! `HEARTH_KERNELS=scalar|avx2|avx2-vnni|avx512|neon|neon-dotprod` overrides the
//! choice (tests and benchmarks); a choice this CPU cannot run falls back to the best
//! available one with a warning on stderr, never to undefined behaviour.
//!
//! Hot loops fetch a fn pointer once ([`Kernels::vec_dot_fn`]) and call it per row: no
//! per-row dispatch. Every fn pointer checks its slice lengths with `assert!` (a few
//! compares per row) so it is safe to call with any input. Each entry falls back to the
//! scalar kernel where an instruction set has no specialised one.
//!
//! Besides the one-row dot, a table may hold *batch kernels* for a weight type, used only by
//! [`crate::matmul`]: [`MatFn`] (several weight rows × a few activation rows, on the file's
//! row-major layout: decode and small batches) and [`GemmKernels`] (prefill: strips of rows
//! repacked on the fly into a row-interleaved layout, then a tiled product). AVX2 has both;
//! NEON has `MatFn` only, which `matmul` then uses for prefill too; a table without either
//! (scalar) gets the generic composition of its row dot in `matmul`. Where a table has them,
//! its row dot, its `MatFn` and its GEMM compute every (row, token) with the same arithmetic
//! in the same order, so results do not depend on batch size or position.
//!
//! Each table is built in its instruction set's folder (`src/arch/<isa>/mod.rs`, see
//! `arch/mod.rs`) from the scalar one, and carries that instruction set's f32 [`Ops`] too.
//!
//! **To add a kernel kind:**
//! 1. an `Option<..Fn>` field in [`TypeKernels`] (and `TypeKernels::EMPTY`) and an accessor
//!    on [`Kernels`] (an f32 op instead: a field and a method on [`Ops`]);
//! 2. the scalar kernel in `arch/scalar/` and its slot in `arch/scalar/table.rs` (or `None`
//!    where `matmul` composes it from the row dot; an op: `arch/scalar/ops.rs`);
//! 3. SIMD kernels named as their scalar twin, set in each `arch/<isa>/mod.rs` table builder;
//! 4. a twin test comparing every table of [`Kernels::available`] with the scalar one
//!    (`kernels/tests/kernels/`, `kernels/tests/compute/`).
//!
//! **To add a block type** (say IQ4_NL; every GGUF type already has a [`DType`]):
//! 1. `hearth-dtype`: check the variant's `block_size`, `type_size` and `vec_dot_type`
//!    against ggml (`ggml-common.h`, `ggml-cpu.c`'s `type_traits_cpu`);
//! 2. `blocks.rs`: a `#[repr(C)]` alignment-1 struct with `block!(BlockIQ4_NL, IQ4_NL, 18)`
//!    (which asserts its size) — the one place its layout is written down;
//! 3. `arch/scalar/`: `dequantize_iq4_nl` (ggml's `dequantize_row_*`, same operation order),
//!    `quantize_iq4_nl` (ggml's `quantize_row_*_ref`) and the dot with its partner
//!    (`dot_iq4_nl_q8_0`); fill its slot in `arch/scalar/table.rs` and add it to
//!    [`Kernels::TYPES`];
//! 4. `testing::random_row_scaled`: valid random blocks of the type (finite scales);
//! 5. tests: expected bytes from ggml in `kernels/tests/data/` (`make_expected.py`), a dot
//!    budget in `kernels/tests/kernels/dot.rs`, and a real tensor if a fixture has one;
//! 6. SIMD row dots (and batch kernels where they pay: `mat_*`, or a packer in
//!    `arch/x86_64/gemm/pack.rs` plus its line in `gemm_kernels!` / `set_gemm_slots!`) in
//!    each `arch/<isa>/`, named as their scalar twins and set in its table builder.
//!
//! `matmul` and the models then accept the type through [`crate::supported_weight_types`].

use std::sync::OnceLock;

use crate::blocks::Block;
use crate::error::KernelError;
use crate::ops::Ops;
use crate::out_tile::OutTile;
use hearth_dtype::DType;

/// `vec_dot(n, w, x)`: the dot product of a weight row of `n` elements (bytes of the
/// weight type) with an activation row (bytes of its `vec_dot_type()`).
///
/// # Panics
/// If `n` is not a whole number of blocks or a slice length does not match `n` exactly.
pub type VecDotFn = fn(n: usize, w: &[u8], x: &[u8]) -> f32;

/// `quantize(src, dst)`: encodes `src.len()` floats into `dst`.
///
/// # Panics
/// If `src.len()` is not a whole number of blocks or `dst` is not exactly its size.
pub type QuantizeFn = fn(src: &[f32], dst: &mut [u8]);

/// `dequantize(src, dst)`: decodes the blocks of `src` into `dst`.
///
/// # Panics
/// If `dst.len()` is not a whole number of blocks or `src` is not exactly its size.
pub type DequantizeFn = fn(src: &[u8], dst: &mut [f32]);

/// The quantized activations of a product as the batch kernels see them: `n` rows of
/// `row_bytes` (the weight type's vec-dot format) and per-block side data, block-major
/// (`[block * ld + t]`, `ld` = `n` rounded up to 8, padding zeroed) so a kernel loads the
/// values of 1, 2, 4 or 8 consecutive tokens with one load.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))] // batch kernels: x86_64 and aarch64 tables only
pub(crate) struct XBatch<'a> {
    /// `n × row_bytes` quantized bytes, token-major.
    pub bytes: &'a [u8],
    /// Tokens.
    pub n: usize,
    /// Bytes per token.
    pub row_bytes: usize,
    /// Stride of the side arrays: `n` rounded up to a multiple of 8.
    pub ld: usize,
    /// Block scales as f32 (Q8_0, Q8_1, Q8_K).
    pub d: &'a [f32],
    /// Q8_0: the block's Σq (for weight offsets); empty for other formats.
    pub sum: &'a [i32],
    /// Q8_1: the block's `s = d·Σq` as f32 (for weight mins); empty for other formats.
    pub s: &'a [f32],
    /// Q8_K: the sums of the block's eight 32-quant sub-blocks (for K-quant mins and
    /// offsets), made once per batch rather than per row group; empty for other formats.
    pub sub: &'a [[i16; 8]],
}

impl XBatch<'_> {
    /// The stride of the side arrays for `n` tokens.
    pub(crate) const fn ld_for(n: usize) -> usize {
        n.next_multiple_of(8)
    }
}

/// `mat(cols, w, x, t0, t1, out)`: `out.token(t - t0)[r] = dot(w row r, x token t)` for
/// every row `r` of `w` (`rows × row_bytes(cols)`, row-major) and `t0 <= t < t1`.
///
/// # Panics
/// If the lengths do not match `cols` and the token range.
pub(crate) type MatFn =
    fn(cols: usize, w: &[u8], x: &XBatch<'_>, t0: usize, t1: usize, out: &mut OutTile<'_>);

/// The prefill product of one weight type: rows are repacked strip by strip (8 rows) into a
/// row-interleaved layout by `pack`, then `gemm` multiplies a packed block of rows with a
/// range of tokens. The packing happens inside `matmul` on each thread's own rows, so the
/// weights stay in the file mapping.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GemmKernels {
    /// Bytes `pack` writes for `rows × cols` (rows rounded up to whole strips).
    pub packed_bytes: fn(rows: usize, cols: usize) -> usize,
    /// `pack(cols, w, dst)`: `w` is `rows × row_bytes(cols)`; missing rows of the last strip
    /// repeat its last row.
    pub pack: fn(cols: usize, w: &[u8], dst: &mut [u8]),
    /// `gemm(cols, rows, packed, x, t0, t1, out)`: as [`MatFn`] on `pack`'s output.
    pub gemm: GemmFn,
}

/// The product of a [`GemmKernels::pack`]ed block of `rows` rows with tokens `t0..t1`.
pub(crate) type GemmFn =
    fn(cols: usize, rows: usize, packed: &[u8], x: &XBatch<'_>, t0: usize, t1: usize, out: &mut OutTile<'_>);

/// The kernels of one [`DType`] in one table.
#[derive(Clone, Copy, Debug)]
pub struct TypeKernels {
    pub(crate) dequantize: Option<DequantizeFn>,
    pub(crate) quantize: Option<QuantizeFn>,
    pub(crate) vec_dot: Option<VecDotFn>,
    pub(crate) mat: Option<MatFn>,
    pub(crate) gemm: Option<GemmKernels>,
    /// A [`MatFn`] on rows interleaved 8 (Q4_K: `BlockQ4_Kx8`) or 16 (Q8_0: `BlockQ8_0x16`)
    /// to a block (see `matmul/interleave.rs`): where a table has one, [`crate::QMatrix::interleaved`] repacks
    /// the type's matrices for it.
    pub(crate) mat_x8: Option<MatFn>,
}

impl TypeKernels {
    /// No kernels.
    pub(crate) const EMPTY: TypeKernels =
        TypeKernels { dequantize: None, quantize: None, vec_dot: None, mat: None, gemm: None, mat_x8: None };
}

/// A table of kernels for one instruction set. Obtain one from [`kernels()`] (the chosen
/// one) or [`Kernels::available`] (all that run here, for tests and benchmarks).
#[derive(Debug)]
pub struct Kernels {
    name: &'static str,
    types: [TypeKernels; DType::COUNT],
    ops: &'static Ops,
    /// From how many tokens a batch on an interleaved matrix of a type takes the rows apart
    /// for the GEMM rather than run the table's `mat_x8` kernel (see `matmul`).
    x8_gemm_min_tokens: fn(DType) -> usize,
}

impl Kernels {
    /// The types every table decodes and encodes ([`Kernels::dequantize_fn`],
    /// [`Kernels::quantize_fn`]): the floats, the legacy and K-quants, and their activation
    /// formats. Of [`DType::ALL`], the i-quants, ternary, FP4, Q1_0/Q2_0 and integer types
    /// have no kernels.
    pub const TYPES: [DType; 15] = {
        use DType::*;
        [F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K]
    };

    pub(crate) const fn new(
        name: &'static str,
        types: [TypeKernels; DType::COUNT],
        ops: &'static Ops,
    ) -> Kernels {
        Kernels { name, types, ops, x8_gemm_min_tokens: crate::matmul::x8_gemm_min_tokens }
    }

    /// This table with its own [`Kernels::x8_gemm_min_tokens`] (one whose `mat_x8` kernels
    /// beat its GEMM on larger batches).
    #[cfg(target_arch = "x86_64")]
    pub(crate) const fn with_x8_gemm_min_tokens(self, f: fn(DType) -> usize) -> Kernels {
        Kernels { x8_gemm_min_tokens: f, ..self }
    }

    /// From how many tokens a batch on an interleaved `w` matrix uses the GEMM (the rows
    /// taken apart first) rather than [`Kernels::mat_x8_fn`].
    pub(crate) fn x8_gemm_min_tokens(&self, w: DType) -> usize {
        (self.x8_gemm_min_tokens)(w)
    }

    /// `"scalar"`, `"avx2"`, `"avx2-vnni"`, `"avx512"`, `"neon"` or `"neon-dotprod"`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The f32 ops of this table's instruction set (`avx2` ops in both AVX2 tables, `neon`
    /// ops in both NEON tables).
    pub fn ops(&self) -> &'static Ops {
        self.ops
    }

    /// The dot product of `w`-typed weight rows with `w.vec_dot_type()` activations.
    pub fn vec_dot_fn(&self, w: DType) -> Result<VecDotFn, KernelError> {
        self.types[w.index()].vec_dot.ok_or(KernelError::Unsupported { op: "vec_dot", dtype: w })
    }

    /// The multi-row kernel of `w`-typed weights, if this table has one.
    pub(crate) fn mat_fn(&self, w: DType) -> Option<MatFn> {
        self.types[w.index()].mat
    }

    /// The kernel of `w`-typed weights interleaved 8 or 16 rows to a block, if this table has
    /// one.
    pub(crate) fn mat_x8_fn(&self, w: DType) -> Option<MatFn> {
        self.types[w.index()].mat_x8
    }

    /// The repacking GEMM of `w`-typed weights, if this table has one.
    pub(crate) fn gemm_kernels(&self, w: DType) -> Option<GemmKernels> {
        self.types[w.index()].gemm
    }

    /// The f32 → `dt` encoder: activation formats as ggml's x86 CPU backend, weight formats as
    /// ggml's reference quantizers (every one of [`Kernels::TYPES`] has one).
    pub fn quantize_fn(&self, dt: DType) -> Result<QuantizeFn, KernelError> {
        self.types[dt.index()].quantize.ok_or(KernelError::Unsupported { op: "quantize", dtype: dt })
    }

    /// The `dt` → f32 decoder (every one of [`Kernels::TYPES`] has one).
    pub fn dequantize_fn(&self, dt: DType) -> Result<DequantizeFn, KernelError> {
        self.types[dt.index()].dequantize.ok_or(KernelError::Unsupported { op: "dequantize", dtype: dt })
    }

    /// The portable table (always available).
    pub fn scalar() -> &'static Kernels {
        &crate::arch::scalar::SCALAR
    }

    /// The AVX2+FMA+F16C table, if this CPU has those features.
    pub fn avx2() -> Option<&'static Kernels> {
        #[cfg(target_arch = "x86_64")]
        {
            if crate::arch::x86_64::has_avx2() {
                return Some(&crate::arch::x86_64::AVX2);
            }
        }
        None
    }

    /// The AVX2 table with the VNNI GEMM, if this CPU has AVX2, FMA, F16C, AVX512-VNNI and
    /// AVX512-VL.
    pub fn avx2_vnni() -> Option<&'static Kernels> {
        #[cfg(target_arch = "x86_64")]
        {
            if crate::arch::x86_64::has_avx2_vnni() {
                return Some(&crate::arch::x86_64::AVX2_VNNI);
            }
        }
        None
    }

    /// The AVX-512 table (the `avx2-vnni` one with 512-bit K-quant kernels), if this CPU
    /// also has AVX512F and AVX512BW.
    pub fn avx512() -> Option<&'static Kernels> {
        #[cfg(target_arch = "x86_64")]
        {
            if crate::arch::x86_64::has_avx512() {
                return Some(&crate::arch::x86_64::AVX512);
            }
        }
        None
    }

    /// The NEON table without dotprod, if this CPU has NEON.
    pub fn neon() -> Option<&'static Kernels> {
        #[cfg(target_arch = "aarch64")]
        {
            if crate::arch::aarch64::has_neon() {
                return Some(&crate::arch::aarch64::NEON);
            }
        }
        None
    }

    /// The NEON table with `sdot`, if this CPU has NEON and dotprod.
    pub fn neon_dotprod() -> Option<&'static Kernels> {
        #[cfg(target_arch = "aarch64")]
        {
            if crate::arch::aarch64::has_neon() && crate::arch::aarch64::has_dotprod() {
                return Some(&crate::arch::aarch64::NEON_DOTPROD);
            }
        }
        None
    }

    /// Every table this CPU can run, scalar first and the best last.
    pub fn available() -> Vec<&'static Kernels> {
        [
            Some(Self::scalar()),
            Self::avx2(),
            Self::avx2_vnni(),
            Self::avx512(),
            Self::neon(),
            Self::neon_dotprod(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The best table this CPU can run.
    pub fn best() -> &'static Kernels {
        Self::available().pop().unwrap_or(Self::scalar())
    }

    /// The table called `name` if this CPU can run it; `"neon"` means the best NEON table
    /// (with dotprod when available).
    pub fn by_name(name: &str) -> Option<&'static Kernels> {
        match name {
            "scalar" => Some(Self::scalar()),
            "avx2" => Self::avx2(),
            "avx2-vnni" => Self::avx2_vnni(),
            "avx512" => Self::avx512(),
            "neon" => Self::neon_dotprod().or_else(Self::neon),
            "neon-dotprod" => Self::neon_dotprod(),
            _ => None,
        }
    }
}

/// The table chosen for this process: `HEARTH_KERNELS` if set and runnable, else
/// [`Kernels::best`]. Decided once.
pub fn kernels() -> &'static Kernels {
    static CHOSEN: OnceLock<&'static Kernels> = OnceLock::new();
    CHOSEN.get_or_init(|| choose(std::env::var("HEARTH_KERNELS").ok().as_deref()))
}

fn choose(env: Option<&str>) -> &'static Kernels {
    let best = Kernels::best();
    match env.map(str::trim) {
        None | Some("") | Some("auto") => best,
        Some(name) => Kernels::by_name(name).unwrap_or_else(|| {
            eprintln!(
                "warning: HEARTH_KERNELS={name} is not available on this CPU (known: scalar, avx2, avx2-vnni, \
                 avx512, neon, neon-dotprod); using {}",
                best.name()
            );
            best
        }),
    }
}

/// Decodes a row of `dt` blocks into `dst` with the chosen kernels.
///
/// # Panics
/// If `src` is not exactly `dt.row_bytes(dst.len())` bytes.
pub fn dequantize_row(dt: DType, src: &[u8], dst: &mut [f32]) {
    let f = kernels().dequantize_fn(dt).unwrap_or_else(|e| panic!("{e}"));
    f(src, dst)
}

/// Encodes a row of floats as `dt` with the chosen kernels.
///
/// # Panics
/// If `dst` is not exactly `dt.row_bytes(src.len())` bytes.
pub fn quantize_row(dt: DType, src: &[f32], dst: &mut [u8]) {
    let f = kernels().quantize_fn(dt).unwrap_or_else(|e| panic!("{e}"));
    f(src, dst)
}

/// The dot product of a `dt` weight row of `n` elements with an activation row in
/// `dt.vec_dot_type()` (from [`quantize_row`]), with the chosen kernels.
///
/// Activations must come from [`quantize_row`] (quants in -127..=127): like ggml, the SIMD
/// kernels use sign tricks that are exact only then.
///
/// # Panics
/// If `dt` has no dot product or the lengths do not match `n`.
pub fn vec_dot(dt: DType, n: usize, w: &[u8], x: &[u8]) -> f32 {
    let f = kernels().vec_dot_fn(dt).unwrap_or_else(|e| panic!("{e}"));
    f(n, w, x)
}

#[cold]
#[inline(never)]
fn bad_shape(what: &str, dt: DType, n: usize, len: usize) -> ! {
    panic!("{what}: {n} elements of {dt} need {:?} bytes, got {len}", dt.checked_row_bytes(n))
}

/// Checks and casts the arguments of a dot entry.
#[inline]
pub(crate) fn dot_args<'a, W: Block, X: Block>(n: usize, w: &'a [u8], x: &'a [u8]) -> (&'a [W], &'a [X]) {
    if W::DTYPE.checked_row_bytes(n) != Some(w.len()) {
        bad_shape("vec_dot weights", W::DTYPE, n, w.len());
    }
    if X::DTYPE.checked_row_bytes(n) != Some(x.len()) {
        bad_shape("vec_dot activations", X::DTYPE, n, x.len());
    }
    (bytemuck::cast_slice(w), bytemuck::cast_slice(x))
}

/// Checks the activation batch of a batch-kernel entry against `cols` and the token range,
/// and casts its bytes.
#[inline]
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))] // batch kernels: x86_64 and aarch64 tables only
fn xbatch_args<'a, X: Block>(cols: usize, xb: &XBatch<'a>, t0: usize, t1: usize) -> &'a [X] {
    let nb = cols / X::DTYPE.block_size();
    assert!(
        X::DTYPE.checked_row_bytes(cols) == Some(xb.row_bytes)
            && xb.n.checked_mul(xb.row_bytes) == Some(xb.bytes.len())
            && xb.ld == XBatch::ld_for(xb.n)
            && xb.d.len() == nb * xb.ld
            && (xb.sum.is_empty() || xb.sum.len() == nb * xb.ld)
            && (xb.s.is_empty() || xb.s.len() == nb * xb.ld)
            && (xb.sub.is_empty() || xb.sub.len() == nb * xb.ld),
        "batch kernel: activations do not match {cols} columns of {}",
        X::DTYPE
    );
    if X::DTYPE == DType::Q8_0 {
        assert_eq!(xb.sum.len(), nb * xb.ld, "batch kernel: Q8_0 batch without block sums");
    }
    if X::DTYPE == DType::Q8_1 {
        assert_eq!(xb.s.len(), nb * xb.ld, "batch kernel: Q8_1 batch without block mins");
    }
    if X::DTYPE == DType::Q8_K {
        assert_eq!(xb.sub.len(), nb * xb.ld, "batch kernel: Q8_K batch without sub-block sums");
    }
    assert!(t0 <= t1 && t1 <= xb.n, "batch kernel: tokens {t0}..{t1} of {}", xb.n);
    bytemuck::cast_slice(xb.bytes)
}

/// Rows of `w`, whole rows of `cols` elements of `W`.
#[inline]
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))] // batch kernels: x86_64 and aarch64 tables only
fn whole_rows<W: Block>(cols: usize, w: &[u8]) -> usize {
    let row_bytes = W::DTYPE
        .checked_row_bytes(cols)
        .unwrap_or_else(|| bad_shape("batch kernel weights", W::DTYPE, cols, w.len()));
    if row_bytes == 0 || !w.len().is_multiple_of(row_bytes) {
        bad_shape("batch kernel weights", W::DTYPE, cols, w.len());
    }
    w.len() / row_bytes
}

/// Checks and casts the arguments of a [`MatFn`] entry: `w` whole rows of `cols`, the batch
/// in `X`'s format with its side arrays, `t0 <= t1 <= n` with `t0` a multiple of 8, and `out`
/// of `(t1 - t0)` tokens × `rows`.
#[inline]
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))] // batch kernels: x86_64 and aarch64 tables only
pub(crate) fn mat_args<'a, W: Block, X: Block>(
    cols: usize,
    w: &'a [u8],
    xb: &XBatch<'a>,
    t0: usize,
    t1: usize,
    out: &OutTile<'_>,
) -> (&'a [W], &'a [X]) {
    let rows = whole_rows::<W>(cols, w);
    let x = xbatch_args::<X>(cols, xb, t0, t1);
    assert!(t0.is_multiple_of(8), "mat: first token {t0} is not a multiple of 8");
    out_args("mat", out, t0, t1, rows);
    (bytemuck::cast_slice(w), x)
}

/// Checks and casts the arguments of a `mat_x8` entry of `W` (Q4_K, Q6_K, Q5_0, Q8_0): as
/// [`mat_args`], with `w` whole groups of rows (8 or 16: `W`'s
/// [`crate::matmul::group_rows`]) interleaved into `X8` blocks; returns the blocks and the
/// blocks per row.
#[inline]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // x86_64 tables only, so far
pub(crate) fn mat_x8_args<'a, W: Block, X8: bytemuck::Pod, X: Block>(
    cols: usize,
    w: &'a [u8],
    xb: &XBatch<'a>,
    t0: usize,
    t1: usize,
    out: &OutTile<'_>,
) -> (&'a [X8], usize, &'a [X]) {
    let group_bytes = W::DTYPE
        .checked_row_bytes(cols)
        .and_then(|_| (cols / W::DTYPE.block_size()).checked_mul(size_of::<X8>()))
        .unwrap_or_else(|| bad_shape("mat_x8 weights", W::DTYPE, cols, w.len()));
    if group_bytes == 0 || !w.len().is_multiple_of(group_bytes) {
        bad_shape("mat_x8 weights", W::DTYPE, cols, w.len());
    }
    let rows = w.len() / group_bytes * crate::matmul::group_rows(W::DTYPE);
    let x = xbatch_args::<X>(cols, xb, t0, t1);
    out_args("mat_x8", out, t0, t1, rows);
    (bytemuck::cast_slice(w), cols / W::DTYPE.block_size(), x)
}

/// Checks and casts the arguments of a [`GemmKernels::pack`] entry; returns the blocks and
/// the blocks per row.
#[inline]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // the GEMM: x86_64 tables only, so far
pub(crate) fn pack_args<'a, W: Block>(
    cols: usize,
    w: &'a [u8],
    dst: &[u8],
    packed_bytes: fn(usize, usize) -> usize,
) -> (&'a [W], usize) {
    let rows = whole_rows::<W>(cols, w);
    assert_eq!(dst.len(), packed_bytes(rows, cols), "pack: {rows} rows of {cols} {}", W::DTYPE);
    (bytemuck::cast_slice(w), cols / W::DTYPE.block_size())
}

/// Checks and casts the arguments of a [`GemmKernels::gemm`] entry.
#[inline]
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // the GEMM: x86_64 tables only, so far
pub(crate) fn gemm_args<'a, X: Block>(
    cols: usize,
    rows: usize,
    packed: &[u8],
    xb: &XBatch<'a>,
    t0: usize,
    t1: usize,
    out: &OutTile<'_>,
    packed_bytes: fn(usize, usize) -> usize,
) -> &'a [X] {
    assert_eq!(packed.len(), packed_bytes(rows, cols), "gemm: packed size of {rows} × {cols}");
    let x = xbatch_args::<X>(cols, xb, t0, t1);
    out_args("gemm", out, t0, t1, rows);
    x
}

/// Checks that a batch kernel's output tile is tokens `t0..t1` × `rows`.
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))] // batch kernels: x86_64 and aarch64 tables only
fn out_args(kind: &str, out: &OutTile<'_>, t0: usize, t1: usize, rows: usize) {
    assert!(
        out.tokens() == t1 - t0 && out.rows() == rows,
        "{kind}: output tile of {} × {} for {} × {rows}",
        out.tokens(),
        out.rows(),
        t1 - t0
    );
}

/// Checks and casts the arguments of a quantize entry.
#[inline]
pub(crate) fn quantize_args<'a, B: Block>(src: &[f32], dst: &'a mut [u8]) -> &'a mut [B] {
    if B::DTYPE.checked_row_bytes(src.len()) != Some(dst.len()) {
        bad_shape("quantize", B::DTYPE, src.len(), dst.len());
    }
    bytemuck::cast_slice_mut(dst)
}

/// Checks and casts the arguments of a dequantize entry.
#[inline]
pub(crate) fn dequantize_args<'a, B: Block>(src: &'a [u8], dst: &[f32]) -> &'a [B] {
    if B::DTYPE.checked_row_bytes(dst.len()) != Some(src.len()) {
        bad_shape("dequantize", B::DTYPE, dst.len(), src.len());
    }
    bytemuck::cast_slice(src)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_dequantizes_and_quantizes_in_every_table() {
        for k in Kernels::available() {
            for dt in DType::ALL {
                let handled = Kernels::TYPES.contains(&dt);
                assert_eq!(k.dequantize_fn(dt).is_ok(), handled, "{} {dt}", k.name());
                assert_eq!(k.quantize_fn(dt).is_ok(), handled, "{} {dt}", k.name());
            }
        }
    }

    #[test]
    fn every_weight_type_with_a_dot_has_an_activation_quantizer() {
        for k in Kernels::available() {
            for dt in DType::ALL {
                if k.vec_dot_fn(dt).is_ok() {
                    assert!(k.quantize_fn(dt.vec_dot_type()).is_ok(), "{} {dt}", k.name());
                }
            }
            assert_eq!(
                k.vec_dot_fn(DType::Q8_K),
                Err(KernelError::Unsupported { op: "vec_dot", dtype: DType::Q8_K })
            );
        }
    }

    #[test]
    fn env_override_falls_back_when_unknown() {
        assert_eq!(choose(Some("scalar")).name(), "scalar");
        assert_eq!(choose(Some("no-such-isa")).name(), Kernels::best().name());
        assert_eq!(choose(None).name(), Kernels::best().name());
        assert_eq!(choose(Some("auto")).name(), Kernels::best().name());
    }
}
