//! Element types of weights and activations, with ggml's block geometry.

use std::fmt;

/// A tensor element type the kernels understand: plain floats and ggml's quantized blocks.
///
/// Quantized types store `block_size()` elements in `type_size()` bytes; a row of `n`
/// elements (a multiple of the block size) takes `row_bytes(n)` bytes. Ids and layouts are
/// ggml's (`ggml/src/ggml-common.h`), so GGUF tensor bytes are used as they are.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// bfloat16 (the top half of an f32).
    BF16,
    /// 32 weights: f16 scale, 4-bit quants offset by 8.
    Q4_0,
    /// 32 weights: f16 scale and min, 4-bit quants.
    Q4_1,
    /// 32 weights: f16 scale, 5-bit quants offset by 16.
    Q5_0,
    /// 32 weights: f16 scale and min, 5-bit quants.
    Q5_1,
    /// 32 values: f16 scale, 8-bit quants. Weights, and activations for Q4_0/Q5_0/Q8_0.
    Q8_0,
    /// 32 values: f16 scale, f16 `d * sum(q)`, 8-bit quants. Activations for Q4_1/Q5_1.
    Q8_1,
    /// 256 weights: 16 sub-blocks with 4-bit scales and mins, 2-bit quants.
    Q2_K,
    /// 256 weights: 16 sub-blocks with 6-bit scales, 3-bit quants.
    Q3_K,
    /// 256 weights: 8 sub-blocks with 6-bit scales and mins, 4-bit quants.
    Q4_K,
    /// 256 weights: 8 sub-blocks with 6-bit scales and mins, 5-bit quants.
    Q5_K,
    /// 256 weights: 16 sub-blocks with 8-bit scales, 6-bit quants.
    Q6_K,
    /// 256 values: f32 scale, 8-bit quants, 16 partial sums. Activations for K-quants.
    Q8_K,
}

impl DType {
    /// Number of variants; the length of per-type tables.
    pub const COUNT: usize = 15;

    /// Every variant, in [`DType::index`] order.
    pub const ALL: [DType; DType::COUNT] = {
        use DType::*;
        [F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K]
    };

    /// Position in [`DType::ALL`] (0..[`DType::COUNT`]), for per-type tables.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Elements per block (1 for the float types).
    pub const fn block_size(self) -> usize {
        use DType::*;
        match self {
            F32 | F16 | BF16 => 1,
            Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q8_1 => 32,
            Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | Q8_K => 256,
        }
    }

    /// Bytes per block.
    pub const fn type_size(self) -> usize {
        use DType::*;
        match self {
            F32 => 4,
            F16 | BF16 => 2,
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
        }
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

    /// The type with ggml id `id` (as stored in GGUF tensor infos), or `None` for ids the
    /// kernels do not handle.
    pub const fn from_ggml_id(id: u32) -> Option<DType> {
        use DType::*;
        Some(match id {
            0 => F32,
            1 => F16,
            2 => Q4_0,
            3 => Q4_1,
            6 => Q5_0,
            7 => Q5_1,
            8 => Q8_0,
            9 => Q8_1,
            10 => Q2_K,
            11 => Q3_K,
            12 => Q4_K,
            13 => Q5_K,
            14 => Q6_K,
            15 => Q8_K,
            30 => BF16,
            _ => return None,
        })
    }

    /// The ggml id.
    pub const fn ggml_id(self) -> u32 {
        use DType::*;
        match self {
            F32 => 0,
            F16 => 1,
            Q4_0 => 2,
            Q4_1 => 3,
            Q5_0 => 6,
            Q5_1 => 7,
            Q8_0 => 8,
            Q8_1 => 9,
            Q2_K => 10,
            Q3_K => 11,
            Q4_K => 12,
            Q5_K => 13,
            Q6_K => 14,
            Q8_K => 15,
            BF16 => 30,
        }
    }

    /// The format activations are converted to before a dot product with a weight row of
    /// this type, as llama.cpp's CPU backend (`type_traits_cpu[..].vec_dot_type`):
    /// Q4_0/Q5_0/Q8_0 → Q8_0, Q4_1/Q5_1 → Q8_1, K-quants → Q8_K, floats → themselves.
    /// Q8_1 and Q8_K (activation-only formats) map to themselves.
    pub const fn vec_dot_type(self) -> DType {
        use DType::*;
        match self {
            F32 => F32,
            F16 => F16,
            BF16 => BF16,
            Q4_0 | Q5_0 | Q8_0 => Q8_0,
            Q4_1 | Q5_1 | Q8_1 => Q8_1,
            Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | Q8_K => Q8_K,
        }
    }

    /// True for the block-quantized types.
    pub const fn is_quantized(self) -> bool {
        !matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }

    /// ggml's lower-case name (`q4_K`, `f16`, ...).
    pub const fn name(self) -> &'static str {
        use DType::*;
        match self {
            F32 => "f32",
            F16 => "f16",
            BF16 => "bf16",
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
    fn ids_round_trip_and_index_is_position() {
        for (i, t) in DType::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(DType::from_ggml_id(t.ggml_id()), Some(*t));
        }
        for unknown in [4, 5, 16, 24, 29, 31, 39, u32::MAX] {
            assert_eq!(DType::from_ggml_id(unknown), None);
        }
    }

    #[test]
    fn row_bytes_checks_whole_blocks() {
        assert_eq!(DType::Q4_K.row_bytes(4864), 19 * 144);
        assert_eq!(DType::Q8_0.checked_row_bytes(33), None);
        assert_eq!(DType::F32.checked_row_bytes(usize::MAX), None);
        assert_eq!(DType::BF16.row_bytes(3), 6);
    }
}
