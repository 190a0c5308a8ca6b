//! `hearth-dtype`: ggml's tensor element types, the one enum both the GGUF reader
//! (`hearth-gguf`, which re-exports it) and the kernels (`hearth-kernels`, likewise) speak.
//!
//! - [`DType`]: every type a GGUF file may name, with ggml's on-disk id ([`DType::from_id`],
//!   [`DType::id`]), lower-case name and block geometry ([`DType::block_size`],
//!   [`DType::type_size`], [`DType::row_bytes`]), and the activation format ggml's CPU
//!   backend dots a weight type with ([`DType::vec_dot_type`]). Which types have kernels is
//!   the kernels' business, not this crate's.
//! - [`f16_to_f32`], [`f32_to_f16`], [`bf16_to_f32`], [`f32_to_bf16`]: scalar half-float
//!   conversions with ggml's rounding, named source → destination.
//!
//! ```
//! use hearth_dtype::DType;
//!
//! let t = DType::from_id(12).expect("a ggml id");
//! assert_eq!((t, t.name(), t.block_size(), t.type_size()), (DType::Q4_K, "q4_K", 256, 144));
//! assert_eq!(t.row_bytes(4096), 16 * 144);
//! assert_eq!(t.vec_dot_type(), DType::Q8_K);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod float16;

use std::fmt;

pub use float16::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};

/// A ggml tensor element type: plain numbers and ggml's quantized blocks.
///
/// The discriminant is ggml's id as stored in GGUF tensor infos (`ggml/include/ggml.h`), and
/// layouts are ggml's (`ggml/src/ggml-common.h`), so GGUF tensor bytes are used as they are.
/// Quantized types store [`block_size`](DType::block_size) elements in
/// [`type_size`](DType::type_size) bytes. Ids 4, 5, 31–33 and 36–38 were removed from ggml
/// and have no variant.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum DType {
    /// 32-bit IEEE float.
    F32 = 0,
    /// 16-bit IEEE float.
    F16 = 1,
    /// 32 weights: f16 scale, 4-bit quants offset by 8.
    Q4_0 = 2,
    /// 32 weights: f16 scale and min, 4-bit quants.
    Q4_1 = 3,
    /// 32 weights: f16 scale, 5-bit quants offset by 16.
    Q5_0 = 6,
    /// 32 weights: f16 scale and min, 5-bit quants.
    Q5_1 = 7,
    /// 32 values: f16 scale, 8-bit quants. Weights, and activations for Q4_0/Q5_0/Q8_0.
    Q8_0 = 8,
    /// 32 values: f16 scale, f16 `d * sum(q)`, 8-bit quants. Activations for Q4_1/Q5_1.
    Q8_1 = 9,
    /// 256 weights: 16 sub-blocks with 4-bit scales and mins, 2-bit quants.
    Q2_K = 10,
    /// 256 weights: 16 sub-blocks with 6-bit scales, 3-bit quants.
    Q3_K = 11,
    /// 256 weights: 8 sub-blocks with 6-bit scales and mins, 4-bit quants.
    Q4_K = 12,
    /// 256 weights: 8 sub-blocks with 6-bit scales and mins, 5-bit quants.
    Q5_K = 13,
    /// 256 weights: 16 sub-blocks with 8-bit scales, 6-bit quants.
    Q6_K = 14,
    /// 256 values: f32 scale, 8-bit quants, 16 partial sums. Activations for K-quants.
    Q8_K = 15,
    /// 256 weights, 2.06 bits each (an i-quant: grid codebook indices).
    IQ2_XXS = 16,
    /// 256 weights, 2.31 bits each.
    IQ2_XS = 17,
    /// 256 weights, 3.06 bits each.
    IQ3_XXS = 18,
    /// 256 weights, 1.56 bits each.
    IQ1_S = 19,
    /// 32 weights: f16 scale, 4-bit indices into a non-linear table.
    IQ4_NL = 20,
    /// 256 weights, 3.44 bits each.
    IQ3_S = 21,
    /// 256 weights, 2.56 bits each.
    IQ2_S = 22,
    /// 256 weights, 4.25 bits each: IQ4_NL's table with 6-bit sub-block scales.
    IQ4_XS = 23,
    /// 8-bit integer.
    I8 = 24,
    /// 16-bit integer.
    I16 = 25,
    /// 32-bit integer.
    I32 = 26,
    /// 64-bit integer.
    I64 = 27,
    /// 64-bit IEEE float.
    F64 = 28,
    /// 256 weights, 1.75 bits each.
    IQ1_M = 29,
    /// bfloat16 (the top half of an f32).
    BF16 = 30,
    /// 256 ternary weights, 1.69 bits each.
    TQ1_0 = 34,
    /// 256 ternary weights, 2.06 bits each.
    TQ2_0 = 35,
    /// 32 weights: E8M0 scale, FP4 (E2M1) values (OCP microscaling).
    MXFP4 = 39,
    /// 64 weights: four E4M3 scales, FP4 (E2M1) values.
    NVFP4 = 40,
    /// 128 weights: f16 scale, 1-bit quants.
    Q1_0 = 41,
    /// 64 weights: f16 scale, 2-bit quants.
    Q2_0 = 42,
}

impl DType {
    /// Number of variants; the length of per-type tables indexed by [`DType::index`].
    pub const COUNT: usize = 35;

    /// Every variant, in id order (and [`DType::index`] order).
    pub const ALL: [DType; DType::COUNT] = {
        use DType::*;
        [
            F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ2_XXS,
            IQ2_XS, IQ3_XXS, IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, I8, I16, I32, I64, F64, IQ1_M, BF16, TQ1_0,
            TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0,
        ]
    };

    /// One past the largest id.
    const ID_END: usize = DType::Q2_0 as usize + 1;

    /// `BY_ID[id]` is `Some(position in ALL)` for the ids that have a variant.
    const BY_ID: [Option<u8>; DType::ID_END] = {
        let mut t = [None; DType::ID_END];
        let mut i = 0;
        while i < DType::COUNT {
            t[DType::ALL[i] as usize] = Some(i as u8);
            i += 1;
        }
        t
    };

    /// The type with ggml id `id` (as stored in GGUF tensor infos), or `None` for unknown
    /// and removed ids.
    pub const fn from_id(id: u32) -> Option<DType> {
        if id as usize >= DType::ID_END {
            return None;
        }
        match DType::BY_ID[id as usize] {
            Some(i) => Some(DType::ALL[i as usize]),
            None => None,
        }
    }

    /// The ggml id.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// Position in [`DType::ALL`] (0..[`DType::COUNT`]), for per-type tables.
    pub const fn index(self) -> usize {
        match DType::BY_ID[self as usize] {
            Some(i) => i as usize,
            None => unreachable!(),
        }
    }

    /// Elements per block (1 for the plain number types).
    pub const fn block_size(self) -> usize {
        use DType::*;
        match self {
            F32 | F16 | BF16 | I8 | I16 | I32 | I64 | F64 => 1,
            Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q8_1 | IQ4_NL | MXFP4 => 32,
            NVFP4 | Q2_0 => 64,
            Q1_0 => 128,
            Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | Q8_K | IQ2_XXS | IQ2_XS | IQ3_XXS | IQ1_S | IQ3_S | IQ2_S
            | IQ4_XS | IQ1_M | TQ1_0 | TQ2_0 => 256,
        }
    }

    /// Bytes per block.
    pub const fn type_size(self) -> usize {
        use DType::*;
        match self {
            F32 | I32 => 4,
            F16 | BF16 | I16 => 2,
            I8 => 1,
            I64 | F64 => 8,
            Q4_0 => 18,
            Q4_1 => 20,
            Q5_0 => 22,
            Q5_1 => 24,
            Q8_0 => 34,
            Q8_1 => 36,
            Q2_K => 84,
            Q3_K => 110,
            Q4_K => 144,
            Q5_K => 176,
            Q6_K => 210,
            Q8_K => 292,
            IQ2_XXS => 66,
            IQ2_XS => 74,
            IQ3_XXS => 98,
            IQ1_S => 50,
            IQ4_NL => 18,
            IQ3_S => 110,
            IQ2_S => 82,
            IQ4_XS => 136,
            IQ1_M => 56,
            TQ1_0 => 54,
            TQ2_0 => 66,
            MXFP4 => 17,
            NVFP4 => 36,
            Q1_0 => 18,
            Q2_0 => 18,
        }
    }

    /// True for the block-quantized types (more than one element per block).
    pub const fn is_quantized(self) -> bool {
        self.block_size() > 1
    }

    /// Bytes taken by a row of `n` elements.
    ///
    /// # Panics
    /// If `n` is not a multiple of [`DType::block_size`] (a programming error: tensor shapes
    /// are validated when a model is loaded, see [`DType::checked_row_bytes`]).
    pub fn row_bytes(self, n: usize) -> usize {
        self.checked_row_bytes(n).unwrap_or_else(|| {
            panic!("{n} elements are not a whole number of {self} blocks of {}", self.block_size())
        })
    }

    /// Bytes taken by a row of `n` elements, or `None` when `n` is not a multiple of the
    /// block size or the size overflows.
    pub const fn checked_row_bytes(self, n: usize) -> Option<usize> {
        let bs = self.block_size();
        if !n.is_multiple_of(bs) {
            return None;
        }
        (n / bs).checked_mul(self.type_size())
    }

    /// [`DType::checked_row_bytes`] in file arithmetic: bytes taken by `n` elements stored in
    /// a GGUF file, `None` when `n` is not a whole number of blocks or the size overflows u64.
    pub const fn bytes_for(self, n: u64) -> Option<u64> {
        let bs = self.block_size() as u64;
        if !n.is_multiple_of(bs) {
            return None;
        }
        (n / bs).checked_mul(self.type_size() as u64)
    }

    /// The format activations are converted to before a dot product with a weight row of
    /// this type, as ggml's CPU backend (`type_traits_cpu[..].vec_dot_type`): Q4_0, Q5_0,
    /// Q8_0, IQ4_NL, MXFP4, NVFP4, Q1_0, Q2_0 → Q8_0; Q4_1/Q5_1 → Q8_1; K-, IQ- and
    /// TQ-quants → Q8_K; floats → themselves. The activation-only formats Q8_1 and Q8_K,
    /// and the integer and f64 types (which ggml never dots), map to themselves.
    pub const fn vec_dot_type(self) -> DType {
        use DType::*;
        match self {
            F32 | F16 | BF16 | F64 | I8 | I16 | I32 | I64 => self,
            Q4_0 | Q5_0 | Q8_0 | IQ4_NL | MXFP4 | NVFP4 | Q1_0 | Q2_0 => Q8_0,
            Q4_1 | Q5_1 | Q8_1 => Q8_1,
            Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | Q8_K | IQ2_XXS | IQ2_XS | IQ3_XXS | IQ1_S | IQ3_S | IQ2_S
            | IQ4_XS | IQ1_M | TQ1_0 | TQ2_0 => Q8_K,
        }
    }

    /// ggml's lower-case name (`q4_K`, `f16`, ...).
    pub const fn name(self) -> &'static str {
        use DType::*;
        match self {
            F32 => "f32",
            F16 => "f16",
            Q4_0 => "q4_0",
            Q4_1 => "q4_1",
            Q5_0 => "q5_0",
            Q5_1 => "q5_1",
            Q8_0 => "q8_0",
            Q8_1 => "q8_1",
            Q2_K => "q2_K",
            Q3_K => "q3_K",
            Q4_K => "q4_K",
            Q5_K => "q5_K",
            Q6_K => "q6_K",
            Q8_K => "q8_K",
            IQ2_XXS => "iq2_xxs",
            IQ2_XS => "iq2_xs",
            IQ3_XXS => "iq3_xxs",
            IQ1_S => "iq1_s",
            IQ4_NL => "iq4_nl",
            IQ3_S => "iq3_s",
            IQ2_S => "iq2_s",
            IQ4_XS => "iq4_xs",
            I8 => "i8",
            I16 => "i16",
            I32 => "i32",
            I64 => "i64",
            F64 => "f64",
            IQ1_M => "iq1_m",
            BF16 => "bf16",
            TQ1_0 => "tq1_0",
            TQ2_0 => "tq2_0",
            MXFP4 => "mxfp4",
            NVFP4 => "nvfp4",
            Q1_0 => "q1_0",
            Q2_0 => "q2_0",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_removed_ids_are_unknown() {
        for (i, t) in DType::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(DType::from_id(t.id()), Some(*t));
        }
        for removed in [4, 5, 31, 32, 33, 36, 37, 38, 43, 64, u32::MAX] {
            assert_eq!(DType::from_id(removed), None, "{removed}");
        }
        assert!(DType::ALL.windows(2).all(|w| w[0].id() < w[1].id()), "ALL is in id order");
    }

    #[test]
    fn row_bytes_checks_whole_blocks() {
        assert_eq!(DType::Q4_K.row_bytes(4864), 19 * 144);
        assert_eq!(DType::Q8_0.checked_row_bytes(33), None);
        assert_eq!(DType::F32.checked_row_bytes(usize::MAX), None);
        assert_eq!(DType::BF16.row_bytes(3), 6);
        assert_eq!(DType::Q4_K.bytes_for(256), Some(144));
        assert_eq!(DType::Q6_K.bytes_for(512), Some(420));
        assert_eq!(DType::Q8_0.bytes_for(33), None);
        assert_eq!(DType::F32.bytes_for(u64::MAX), None);
    }

    #[test]
    #[should_panic(expected = "not a whole number of q4_0 blocks")]
    fn row_bytes_panics_on_a_partial_block() {
        DType::Q4_0.row_bytes(48);
    }

    #[test]
    fn vec_dot_types_are_activation_formats_of_the_same_block_size_family() {
        for t in DType::ALL {
            let v = t.vec_dot_type();
            assert_eq!(v.vec_dot_type(), v, "{t} → {v} is a fixed point");
            if t.is_quantized() {
                assert!(matches!(v, DType::Q8_0 | DType::Q8_1 | DType::Q8_K), "{t} → {v}");
                assert!(t.block_size().is_multiple_of(v.block_size()), "{t} → {v}");
            }
        }
    }
}
