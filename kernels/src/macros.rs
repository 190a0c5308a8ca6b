//! Macros that turn typed kernels into the byte-level, shape-checked fn pointers of a
//! [`crate::Kernels`] table.

/// `dot_entry!(W, X, path)`: a [`crate::VecDotFn`] that checks the shapes and casts the bytes
/// to `&[W]` / `&[X]`, then calls the safe typed kernel `path`.
///
/// `dot_entry!(unsafe W, X, path)`: the same around an `unsafe` `#[target_feature]` kernel
/// whose only precondition is that the CPU has its features. Such entries may only be
/// placed in a table that is handed out after runtime detection of those features.
macro_rules! dot_entry {
    (unsafe $w:ty, $x:ty, $f:path) => {{
        fn entry(n: usize, w: &[u8], x: &[u8]) -> f32 {
            let (w, x) = $crate::dispatch::dot_args::<$w, $x>(n, w, x);
            // SAFETY: the kernel's only precondition is its target features; this entry is
            // reachable only through a table returned after detecting them at run time
            // (`dispatch::Kernels::{avx2,neon,neon_dotprod}`).
            unsafe { $f(w, x) }
        }
        entry as $crate::dispatch::VecDotFn
    }};
    ($w:ty, $x:ty, $f:path) => {{
        fn entry(n: usize, w: &[u8], x: &[u8]) -> f32 {
            let (w, x) = $crate::dispatch::dot_args::<$w, $x>(n, w, x);
            $f(w, x)
        }
        entry as $crate::dispatch::VecDotFn
    }};
}

/// `quantize_entry!(B, path)` / `quantize_entry!(unsafe B, path)`: a [`crate::QuantizeFn`]
/// around a typed quantizer, with the same contract as [`dot_entry!`].
macro_rules! quantize_entry {
    (unsafe $b:ty, $f:path) => {{
        fn entry(src: &[f32], dst: &mut [u8]) {
            let dst = $crate::dispatch::quantize_args::<$b>(src, dst);
            // SAFETY: as in `dot_entry!`: the only precondition is the CPU features, checked
            // before the table holding this entry is handed out.
            unsafe { $f(src, dst) }
        }
        entry as $crate::dispatch::QuantizeFn
    }};
    ($b:ty, $f:path) => {{
        fn entry(src: &[f32], dst: &mut [u8]) {
            let dst = $crate::dispatch::quantize_args::<$b>(src, dst);
            $f(src, dst)
        }
        entry as $crate::dispatch::QuantizeFn
    }};
}

/// `dequantize_entry!(B, path)`: a [`crate::DequantizeFn`] around a typed dequantizer.
macro_rules! dequantize_entry {
    ($b:ty, $f:path) => {{
        fn entry(src: &[u8], dst: &mut [f32]) {
            let src = $crate::dispatch::dequantize_args::<$b>(src, dst);
            $f(src, dst)
        }
        entry as $crate::dispatch::DequantizeFn
    }};
}

/// `mat_entry!(unsafe W, X, path)`: a [`crate::dispatch::MatFn`] that checks the shapes and
/// casts the bytes, then calls the `unsafe` `#[target_feature]` kernel `path(w, x, xb, t0,
/// t1, out)`, under the same contract as [`dot_entry!`].
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(unused_macros))] // batch kernels: x86_64 and aarch64 tables only
macro_rules! mat_entry {
    (unsafe $w:ty, $x:ty, $f:path) => {{
        fn entry(
            cols: usize,
            w: &[u8],
            xb: &$crate::dispatch::XBatch<'_>,
            t0: usize,
            t1: usize,
            out: &mut $crate::out_tile::OutTile<'_>,
        ) {
            let (w, x) = $crate::dispatch::mat_args::<$w, $x>(cols, w, xb, t0, t1, out);
            // SAFETY: the kernel's only precondition is its target features; this entry is
            // reachable only through a table returned after detecting them at run time.
            unsafe { $f(w, x, xb, t0, t1, out) }
        }
        entry as $crate::dispatch::MatFn
    }};
}

/// `mat_x8_entry!(W, X8, X, path)`: a [`crate::dispatch::MatFn`] on `W` rows interleaved into
/// `X8` blocks, with activations in `X` blocks: checks the shapes, casts the bytes and calls
/// the `unsafe` `#[target_feature]` kernel `path(w, nb, x, xb, t0, t1, out)`, under the
/// contract of [`dot_entry!`].
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_macros))] // x86_64 tables only, so far
macro_rules! mat_x8_entry {
    ($w:ty, $x8:ty, $x:ty, $f:path) => {{
        fn entry(
            cols: usize,
            w: &[u8],
            xb: &$crate::dispatch::XBatch<'_>,
            t0: usize,
            t1: usize,
            out: &mut $crate::out_tile::OutTile<'_>,
        ) {
            let (w, nb, x) = $crate::dispatch::mat_x8_args::<$w, $x8, $x>(cols, w, xb, t0, t1, out);
            // SAFETY: the kernel's only precondition is its target features; this entry is
            // reachable only through a table returned after detecting them at run time.
            unsafe { $f(w, nb, x, xb, t0, t1, out) }
        }
        entry as $crate::dispatch::MatFn
    }};
}

/// `gemm_entry!(unsafe W, X, pack, gemm, packed_bytes)`: a [`crate::dispatch::GemmKernels`]
/// whose entries check the shapes and cast the bytes, then call the `unsafe`
/// `#[target_feature]` kernels `pack(w, nb, dst)` and `gemm(rows, packed, x, xb, t0, t1,
/// out)`, under the same contract as [`dot_entry!`].
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_macros))] // the GEMM: x86_64 tables only, so far
macro_rules! gemm_entry {
    (unsafe $w:ty, $x:ty, $pack:path, $gemm:path, $bytes:path) => {{
        fn pack(cols: usize, w: &[u8], dst: &mut [u8]) {
            let (w, nb) = $crate::dispatch::pack_args::<$w>(cols, w, dst, $bytes);
            // SAFETY: the kernel's only precondition is its target features; this entry is
            // reachable only through a table returned after detecting them at run time.
            unsafe { $pack(w, nb, dst) }
        }
        fn gemm(
            cols: usize,
            rows: usize,
            packed: &[u8],
            xb: &$crate::dispatch::XBatch<'_>,
            t0: usize,
            t1: usize,
            out: &mut $crate::out_tile::OutTile<'_>,
        ) {
            let x = $crate::dispatch::gemm_args::<$x>(cols, rows, packed, xb, t0, t1, out, $bytes);
            // SAFETY: as above.
            unsafe { $gemm(rows, packed, x, xb, t0, t1, out) }
        }
        $crate::dispatch::GemmKernels { packed_bytes: $bytes, pack, gemm }
    }};
}
