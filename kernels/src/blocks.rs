//! ggml's block layouts as `#[repr(C)]` structs of alignment 1.
//!
//! Every struct is plain bytes ([`bytemuck::Pod`]), so a row of blocks is a zero-copy cast
//! of mmapped GGUF bytes or of an activation buffer ([`as_blocks`]); alignment 1 means the
//! cast can never fail on a misaligned row. Multi-byte fields are little-endian byte arrays
//! with typed accessors ([`F16Le`], [`F32Le`], [`I16Le`]); the sizes are asserted at compile
//! time against [`DType::type_size`] and against ggml's `static_assert`s.

use bytemuck::{Pod, Zeroable};

use hearth_dtype::DType;
use hearth_dtype::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};

/// Elements per K-quant super-block (ggml's `QK_K`).
pub const QK_K: usize = 256;
/// Elements per legacy block (ggml's `QK4_0`, `QK8_0`, ...).
pub const QK: usize = 32;

/// A little-endian IEEE f16 as stored in ggml blocks.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct F16Le(pub [u8; 2]);

impl F16Le {
    /// The value rounded to nearest-even f16.
    #[inline]
    pub fn from_f32(x: f32) -> Self {
        Self(f32_to_f16(x).to_le_bytes())
    }
    /// The raw bits.
    #[inline]
    pub fn bits(self) -> u16 {
        u16::from_le_bytes(self.0)
    }
    /// The value as f32 (exact).
    #[inline]
    pub fn to_f32(self) -> f32 {
        f16_to_f32(self.bits())
    }
}

/// A little-endian bfloat16.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Bf16Le(pub [u8; 2]);

impl Bf16Le {
    /// The value rounded as ggml's `GGML_FP32_TO_BF16`.
    #[inline]
    pub fn from_f32(x: f32) -> Self {
        Self(f32_to_bf16(x).to_le_bytes())
    }
    /// The value as f32 (exact).
    #[inline]
    pub fn to_f32(self) -> f32 {
        bf16_to_f32(u16::from_le_bytes(self.0))
    }
}

/// A little-endian f32 at any alignment.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct F32Le(pub [u8; 4]);

impl F32Le {
    /// Wraps a value.
    #[inline]
    pub fn new(x: f32) -> Self {
        Self(x.to_le_bytes())
    }
    /// The value.
    #[inline]
    pub fn get(self) -> f32 {
        f32::from_le_bytes(self.0)
    }
}

/// A little-endian i16 at any alignment.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct I16Le(pub [u8; 2]);

impl I16Le {
    /// Wraps a value.
    #[inline]
    pub fn new(x: i16) -> Self {
        Self(x.to_le_bytes())
    }
    /// The value.
    #[inline]
    pub fn get(self) -> i16 {
        i16::from_le_bytes(self.0)
    }
}

/// A block type: its [`DType`] and, through `Pod`, its bytes.
pub trait Block: Pod {
    /// The type this block encodes.
    const DTYPE: DType;
}

/// Views `bytes` as blocks of `B`.
///
/// # Panics
/// If the length is not a whole number of blocks.
#[inline]
pub fn as_blocks<B: Block>(bytes: &[u8]) -> &[B] {
    let size = size_of::<B>();
    assert!(
        bytes.len().is_multiple_of(size),
        "{} bytes are not a whole number of {} blocks ({size} B)",
        bytes.len(),
        B::DTYPE
    );
    bytemuck::cast_slice(bytes)
}

/// Views `bytes` as mutable blocks of `B`.
///
/// # Panics
/// If the length is not a whole number of blocks.
#[inline]
pub fn as_blocks_mut<B: Block>(bytes: &mut [u8]) -> &mut [B] {
    let size = size_of::<B>();
    assert!(
        bytes.len().is_multiple_of(size),
        "{} bytes are not a whole number of {} blocks ({size} B)",
        bytes.len(),
        B::DTYPE
    );
    bytemuck::cast_slice_mut(bytes)
}

macro_rules! block {
    ($name:ident, $dtype:ident, $size:literal) => {
        impl Block for $name {
            const DTYPE: DType = DType::$dtype;
        }
        const _: () = assert!(size_of::<$name>() == $size);
        const _: () = assert!(align_of::<$name>() == 1);
        const _: () = assert!(DType::$dtype.type_size() == $size);
    };
}

impl Block for F32Le {
    const DTYPE: DType = DType::F32;
}
impl Block for F16Le {
    const DTYPE: DType = DType::F16;
}
impl Block for Bf16Le {
    const DTYPE: DType = DType::BF16;
}

/// Q4_0: `x = d * (q - 8)`, q in 0..16. Element `j` is the low nibble of `qs[j]`, element
/// `j + 16` the high nibble.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ4_0 {
    /// Scale.
    pub d: F16Le,
    /// Nibbles.
    pub qs: [u8; QK / 2],
}
block!(BlockQ4_0, Q4_0, 18);

/// Q4_1: `x = d * q + m`, q in 0..16, nibbles as Q4_0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ4_1 {
    /// Scale.
    pub d: F16Le,
    /// Min (offset).
    pub m: F16Le,
    /// Nibbles.
    pub qs: [u8; QK / 2],
}
block!(BlockQ4_1, Q4_1, 20);

/// Q5_0: `x = d * (q - 16)`, q in 0..32: nibbles as Q4_0, bit 4 of element `j` is bit `j`
/// of the little-endian u32 `qh`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ5_0 {
    /// Scale.
    pub d: F16Le,
    /// Fifth bits.
    pub qh: [u8; 4],
    /// Nibbles.
    pub qs: [u8; QK / 2],
}
block!(BlockQ5_0, Q5_0, 22);

/// Q5_1: `x = d * q + m`, q in 0..32, bits as Q5_0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ5_1 {
    /// Scale.
    pub d: F16Le,
    /// Min (offset).
    pub m: F16Le,
    /// Fifth bits.
    pub qh: [u8; 4],
    /// Nibbles.
    pub qs: [u8; QK / 2],
}
block!(BlockQ5_1, Q5_1, 24);

/// Q8_0: `x = d * q`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ8_0 {
    /// Scale.
    pub d: F16Le,
    /// Quants.
    pub qs: [i8; QK],
}
block!(BlockQ8_0, Q8_0, 34);

/// One block of 16 consecutive Q5_0 rows, interleaved for decode (the same 352 bytes as the
/// 16 source blocks): one 64-byte load of `qs` holds 4 bytes (8 quants) of each row, so one
/// `vpdpbusd` lane is one row and no partial sum is ever folded across lanes; the fifth
/// bits of 4 quants of the 16 rows are one 64-bit mask.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ5_0x16 {
    /// Row `i`'s `d`.
    pub d: [F16Le; 16],
    /// Chunk `c`'s mask (`c` 0..8, 8 bytes each, little-endian): bit `4i + j` is the fifth
    /// bit of row `i`'s quant `4c + j`.
    pub qh: [u8; 64],
    /// `qs[64 * l + 4 * i + j]` = row `i`'s `qs[4 * l + j]`: low nibble quant `4l + j`, high
    /// nibble quant `16 + 4l + j` (chunks `l` and `l + 4`).
    pub qs: [u8; 16 * QK / 2],
}
const _: () = assert!(size_of::<BlockQ5_0x16>() == 16 * 22 && align_of::<BlockQ5_0x16>() == 1);

/// One block of 16 consecutive Q4_1 rows, interleaved for decode (the same 320 bytes as the
/// 16 source blocks): the nibbles as in [`BlockQ5_0x16`] (one 64-byte load holds 4 bytes of
/// each row), the 16 scales, then the 16 mins.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ4_1x16 {
    /// Row `i`'s `d`.
    pub d: [F16Le; 16],
    /// Row `i`'s `m`.
    pub m: [F16Le; 16],
    /// `qs[64 * l + 4 * i + j]` = row `i`'s `qs[4 * l + j]`: low nibble quant `4l + j`, high
    /// nibble quant `16 + 4l + j` (chunks `l` and `l + 4`).
    pub qs: [u8; 16 * QK / 2],
}
const _: () = assert!(size_of::<BlockQ4_1x16>() == 16 * 20 && align_of::<BlockQ4_1x16>() == 1);

/// One block of 16 consecutive Q8_0 rows, interleaved for decode: the same 544 bytes as the
/// 16 source blocks, 4 quants of each row per 64-byte chunk (as [`BlockQ5_0x16`]), stored
/// offset to unsigned (`q + 128`, i.e. the sign bit flipped) for `vpdpbusd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ8_0x16 {
    /// Row `i`'s `d`.
    pub d: [F16Le; 16],
    /// `qs[64 * c + 4 * i + j]` = row `i`'s `qs[4 * c + j]` + 128.
    pub qs: [u8; 16 * QK],
}
const _: () = assert!(size_of::<BlockQ8_0x16>() == 16 * 34 && align_of::<BlockQ8_0x16>() == 1);

/// Q8_1: `x = d * q`, with `s = d * Σq` (f16) for the min term of Q4_1/Q5_1 dots.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ8_1 {
    /// Scale.
    pub d: F16Le,
    /// `d * sum(qs)`.
    pub s: F16Le,
    /// Quants.
    pub qs: [i8; QK],
}
block!(BlockQ8_1, Q8_1, 36);

/// An activation block of 32 quants (Q8_0, Q8_1), for kernels generic over the two (the x86
/// kernels of rows interleaved 16 to a block).
#[cfg(target_arch = "x86_64")]
pub(crate) trait Quants32 {
    /// The block's 32 quants.
    fn quants(&self) -> &[i8; 32];
}

#[cfg(target_arch = "x86_64")]
impl Quants32 for BlockQ8_0 {
    fn quants(&self) -> &[i8; 32] {
        &self.qs
    }
}

#[cfg(target_arch = "x86_64")]
impl Quants32 for BlockQ8_1 {
    fn quants(&self) -> &[i8; 32] {
        &self.qs
    }
}

/// Q2_K: 16 sub-blocks of 16, `x = d * (sc & 15) * q - dmin * (sc >> 4)`, q in 0..4.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ2_K {
    /// 4-bit scale (low) and min (high) per sub-block.
    pub scales: [u8; QK_K / 16],
    /// 2-bit quants: four 32-element groups share each 32 bytes, at shifts 0, 2, 4, 6.
    pub qs: [u8; QK_K / 4],
    /// Super-block scale of the scales.
    pub d: F16Le,
    /// Super-block scale of the mins.
    pub dmin: F16Le,
}
block!(BlockQ2_K, Q2_K, 84);

/// Q3_K: 16 sub-blocks of 16, `x = d * (sc - 32) * (q - 4 * !hbit)`, 6-bit scales packed in
/// 12 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ3_K {
    /// High bit of each quant (set means no offset).
    pub hmask: [u8; QK_K / 8],
    /// Low 2 bits, laid out as Q2_K.
    pub qs: [u8; QK_K / 4],
    /// 16 6-bit scales.
    pub scales: [u8; 12],
    /// Super-block scale.
    pub d: F16Le,
}
block!(BlockQ3_K, Q3_K, 110);

/// Q4_K: 8 sub-blocks of 32, `x = d * sc * q - dmin * m`, 6-bit scales and mins packed in
/// 12 bytes ([`scale_min_k4`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ4_K {
    /// Super-block scale of the scales.
    pub d: F16Le,
    /// Super-block scale of the mins.
    pub dmin: F16Le,
    /// Packed scales and mins.
    pub scales: [u8; 12],
    /// Nibbles: each 32 bytes hold two sub-blocks (low nibbles, then high).
    pub qs: [u8; QK_K / 2],
}
block!(BlockQ4_K, Q4_K, 144);

/// One super-block of 8 consecutive Q4_K rows, interleaved for decode (the layout
/// [`crate::matmul`] repacks Q4_K matrices into at load time where the table has a kernel
/// for it; see `matmul/interleave.rs`). Every byte of the 8 source blocks is kept: the
/// 6-bit scales and mins unpacked to bytes, the nibbles regrouped so that one 64-byte load
/// holds 8 quants of one sub-block pair for each of the 8 rows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ4_Kx8 {
    /// Row `i`'s `d`.
    pub d: [F16Le; 8],
    /// Row `i`'s `dmin`.
    pub dmin: [F16Le; 8],
    /// `scales[8 * s + i]`: sub-block `s`'s scale in row `i`.
    pub scales: [u8; 64],
    /// `mins[32 * (s / 4) + 4 * i + s % 4]` ([`BlockQ4_Kx8::min_index`]): sub-block `s`'s
    /// min in row `i` — per half of the sub-blocks, row `i`'s four mins in bytes `4i..4i + 4`.
    pub mins: [u8; 64],
    /// `qs[64 * (4 * p + k) + 8 * i + j]` = row `i`'s `qs[32 * p + 8 * k + j]`: low nibble
    /// quant `8k + j` of sub-block `2p`, high nibble the same of sub-block `2p + 1`.
    pub qs: [u8; 8 * QK_K / 2],
}
const _: () = assert!(size_of::<BlockQ4_Kx8>() == 1184 && align_of::<BlockQ4_Kx8>() == 1);

impl BlockQ4_Kx8 {
    /// Where row `i`'s sub-block `s` min is in [`BlockQ4_Kx8::mins`].
    pub const fn min_index(i: usize, s: usize) -> usize {
        32 * (s / 4) + 4 * i + s % 4
    }
}

/// Q5_K: as Q4_K with a fifth bit per quant in `qh` (bit `2i` / `2i+1` for sub-blocks
/// `2i` / `2i+1`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ5_K {
    /// Super-block scale of the scales.
    pub d: F16Le,
    /// Super-block scale of the mins.
    pub dmin: F16Le,
    /// Packed scales and mins.
    pub scales: [u8; 12],
    /// Fifth bits.
    pub qh: [u8; QK_K / 8],
    /// Low nibbles, as Q4_K.
    pub qs: [u8; QK_K / 2],
}
block!(BlockQ5_K, Q5_K, 176);

/// Q6_K: 16 sub-blocks of 16, `x = d * sc * (q - 32)`, q in 0..64, i8 scales.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ6_K {
    /// Low 4 bits.
    pub ql: [u8; QK_K / 2],
    /// High 2 bits.
    pub qh: [u8; QK_K / 4],
    /// Sub-block scales.
    pub scales: [i8; QK_K / 16],
    /// Super-block scale.
    pub d: F16Le,
}
block!(BlockQ6_K, Q6_K, 210);

/// One super-block of 8 consecutive Q6_K rows, interleaved for decode (as
/// [`BlockQ4_Kx8`]; the same 1680 bytes as the 8 source blocks).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ6_Kx8 {
    /// Row `i`'s `d`.
    pub d: [F16Le; 8],
    /// `scales[16 * p + 2 * i + e]`: sub-block `2p + e`'s scale in row `i` (pairs of
    /// sub-blocks per row, for `madd`).
    pub scales: [i8; 128],
    /// `ql[64 * (8 * h + 4 * part + k) + 8 * i + j]` = row `i`'s `ql[64 * h + 32 * part + 8 * k + j]`.
    pub ql: [u8; 8 * QK_K / 2],
    /// `qh[64 * (4 * h + k) + 8 * i + j]` = row `i`'s `qh[32 * h + 8 * k + j]`.
    pub qh: [u8; 8 * QK_K / 4],
}
const _: () = assert!(size_of::<BlockQ6_Kx8>() == 8 * 210 && align_of::<BlockQ6_Kx8>() == 1);

/// Q8_K: `x = d * q` (f32 scale) with `bsums[i]` = sum of quants `16i..16i+16`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct BlockQ8_K {
    /// Scale.
    pub d: F32Le,
    /// Quants.
    pub qs: [i8; QK_K],
    /// Sums of 16 quants.
    pub bsums: [I16Le; QK_K / 16],
}
block!(BlockQ8_K, Q8_K, 292);

/// The 6-bit scale and min of sub-block `j` (0..8) of a Q4_K/Q5_K block (ggml's
/// `get_scale_min_k4`).
#[inline]
pub fn scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// The 12 packed bytes of 8 six-bit scales and mins (the inverse of [`scales_mins_k4`]:
/// every 12-byte pattern round-trips).
#[inline]
pub fn pack_scales_mins_k4(sc: &[u8; 8], m: &[u8; 8]) -> [u8; 12] {
    let mut q = [0u8; 12];
    for j in 0..4 {
        q[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
        q[j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6);
        q[j + 8] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4);
    }
    q
}

/// All 8 scales and 8 mins of a Q4_K/Q5_K block.
#[inline]
pub fn scales_mins_k4(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut m = [0u8; 8];
    for j in 0..8 {
        (sc[j], m[j]) = scale_min_k4(j, q);
    }
    (sc, m)
}

/// The 16 signed scales (`6-bit - 32`) of a Q3_K block.
#[inline]
pub fn scales_q3_k(q: &[u8; 12]) -> [i8; 16] {
    let mut out = [0i8; 16];
    for (j, o) in out.iter_mut().enumerate() {
        let low = if j < 8 { q[j] & 0xf } else { q[j - 8] >> 4 };
        let high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
        *o = ((low | (high << 4)) as i8) - 32;
    }
    out
}
