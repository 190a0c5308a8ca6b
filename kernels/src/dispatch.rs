//! Runtime dispatch: one table of kernels per instruction set, chosen once.
//!
//! [`kernels()`] picks the best table this CPU can run on first use (`OnceLock`):
//! AVX2+FMA+F16C on x86_64, NEON with or without dotprod on aarch64, else scalar. The
//! environment variable `HEARTH_KERNELS=scalar|avx2|neon|neon-dotprod` overrides the
//! choice (tests and benchmarks); a choice this CPU cannot run falls back to the best
//! available one with a warning on stderr, never to undefined behaviour.
//!
//! Hot loops fetch a fn pointer once ([`Kernels::vec_dot_fn`]) and call it per row: no
//! per-row dispatch. Every fn pointer checks its slice lengths with `assert!` (a few
//! compares per row) so it is safe to call with any input. Each entry falls back to the
//! scalar kernel where an instruction set has no specialised one.
//!
//! To add a kernel kind (e.g. `vec_dot_4rows`, one activation against 4 weight rows):
//! add an `Option<..Fn>` field to [`TypeKernels`] (and to `TypeKernels::EMPTY`), an
//! accessor on [`Kernels`], a scalar entry in `scalar_table.rs`, and SIMD overrides in the
//! per-ISA table builders.

use std::sync::OnceLock;

use crate::blocks::Block;
use crate::dtype::DType;
use crate::error::KernelError;

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

/// The kernels of one [`DType`] in one table.
#[derive(Clone, Copy, Debug)]
pub struct TypeKernels {
    pub(crate) dequantize: Option<DequantizeFn>,
    pub(crate) quantize: Option<QuantizeFn>,
    pub(crate) vec_dot: Option<VecDotFn>,
}

impl TypeKernels {
    /// No kernels.
    pub(crate) const EMPTY: TypeKernels = TypeKernels { dequantize: None, quantize: None, vec_dot: None };
}

/// A table of kernels for one instruction set. Obtain one from [`kernels()`] (the chosen
/// one) or [`Kernels::available`] (all that run here, for tests and benchmarks).
#[derive(Debug)]
pub struct Kernels {
    name: &'static str,
    types: [TypeKernels; DType::COUNT],
}

impl Kernels {
    pub(crate) const fn new(name: &'static str, types: [TypeKernels; DType::COUNT]) -> Kernels {
        Kernels { name, types }
    }

    /// `"scalar"`, `"avx2"`, `"neon"` or `"neon-dotprod"`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The dot product of `w`-typed weight rows with `w.vec_dot_type()` activations.
    pub fn vec_dot_fn(&self, w: DType) -> Result<VecDotFn, KernelError> {
        self.types[w.index()].vec_dot.ok_or(KernelError::Unsupported { op: "vec_dot", dtype: w })
    }

    /// The f32 → `dt` encoder: activation formats as ggml's x86 CPU backend, weight formats as
    /// ggml's reference quantizers (every type has one).
    pub fn quantize_fn(&self, dt: DType) -> Result<QuantizeFn, KernelError> {
        self.types[dt.index()].quantize.ok_or(KernelError::Unsupported { op: "quantize", dtype: dt })
    }

    /// The `dt` → f32 decoder (every type has one).
    pub fn dequantize_fn(&self, dt: DType) -> Result<DequantizeFn, KernelError> {
        self.types[dt.index()].dequantize.ok_or(KernelError::Unsupported { op: "dequantize", dtype: dt })
    }

    /// The portable table (always available).
    pub fn scalar() -> &'static Kernels {
        &crate::scalar_table::SCALAR
    }

    /// The AVX2+FMA+F16C table, if this CPU has those features.
    pub fn avx2() -> Option<&'static Kernels> {
        #[cfg(target_arch = "x86_64")]
        {
            if crate::x86_64::has_avx2() {
                return Some(&crate::x86_64::AVX2);
            }
        }
        None
    }

    /// The NEON table without dotprod, if this CPU has NEON.
    pub fn neon() -> Option<&'static Kernels> {
        #[cfg(target_arch = "aarch64")]
        {
            if crate::aarch64::has_neon() {
                return Some(&crate::aarch64::NEON);
            }
        }
        None
    }

    /// The NEON table with `sdot`, if this CPU has NEON and dotprod.
    pub fn neon_dotprod() -> Option<&'static Kernels> {
        #[cfg(target_arch = "aarch64")]
        {
            if crate::aarch64::has_neon() && crate::aarch64::has_dotprod() {
                return Some(&crate::aarch64::NEON_DOTPROD);
            }
        }
        None
    }

    /// Every table this CPU can run, scalar first and the best last.
    pub fn available() -> Vec<&'static Kernels> {
        [Some(Self::scalar()), Self::avx2(), Self::neon(), Self::neon_dotprod()].into_iter().flatten().collect()
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
                "warning: HEARTH_KERNELS={name} is not available on this CPU (known: scalar, avx2, neon, \
                 neon-dotprod); using {}",
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
                assert!(k.dequantize_fn(dt).is_ok(), "{} {dt}", k.name());
                assert!(k.quantize_fn(dt).is_ok(), "{} {dt}", k.name());
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
            assert_eq!(k.vec_dot_fn(DType::Q8_K), Err(KernelError::Unsupported { op: "vec_dot", dtype: DType::Q8_K }));
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
