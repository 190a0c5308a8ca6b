//! Tensor data: random quant blocks with small finite f16 scales, norm weights and
//! biases, streamed chunk by chunk from each tensor's seeded RNG.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use anyhow::Result;
use hearth_gguf::{DType, GgufWriter, TensorSpec};
use hearth_hub::Progress;

use super::catalog::Shape;
use super::layout::Fill;
use super::random::{Rng, seed};

/// Quant blocks generated and written per chunk.
const CHUNK_BLOCKS: usize = 8192;

/// Streams the file: header from `writer`, tensor data generated chunk by chunk.
pub(super) fn write_gguf(
    shape: &Shape,
    writer: &GgufWriter,
    fills: &[Fill],
    path: &Path,
    progress: &dyn Progress,
) -> Result<()> {
    let total = writer.tensors().iter().map(TensorSpec::n_bytes).sum::<Result<u64, _>>()?;
    let mut file = File::create(path)?;
    let mut buf = Vec::new();
    progress.begin(&shape.file_name(), Some(total));
    let res = writer.write(&mut file, |i, spec, out| {
        let mut rng = Rng::new(seed(shape.name, &spec.name));
        match &fills[i] {
            Fill::Quant => write_quant(spec, &mut rng, &mut buf, out, progress),
            Fill::Norm => write_f32(out, (0..spec.dims[0]).map(|_| 1.0 + 0.1 * rng.signed_unit())),
            Fill::Bias => write_f32(out, (0..spec.dims[0]).map(|_| 0.05 * rng.signed_unit())),
            Fill::Values(v) => write_f32(out, v.iter().copied()),
        }
    });
    progress.end();
    res?;
    file.sync_all()?;
    Ok(())
}

fn write_f32(out: &mut dyn Write, values: impl Iterator<Item = f32>) -> io::Result<()> {
    let bytes: Vec<u8> = values.flat_map(f32::to_le_bytes).collect();
    out.write_all(&bytes)
}

/// Random blocks of a Q4_K or Q6_K tensor: all bytes random (every quant and packed 6-bit
/// scale is valid), then the f16 super-block scales overwritten with small positive values
/// chosen so the weights have a real model's spread (std ≈ 0.03, mean ≈ 0).
fn write_quant(
    spec: &TensorSpec,
    rng: &mut Rng,
    buf: &mut Vec<u8>,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> io::Result<()> {
    let table = ScaleTable::for_type(spec.ty).ok_or_else(|| {
        io::Error::other(format!("{}: no random block generator for {}", spec.name, spec.ty))
    })?;
    let n_bytes = spec.n_bytes().map_err(io::Error::other)? as usize;
    let chunk = CHUNK_BLOCKS * table.block_bytes;
    buf.resize(chunk, 0);
    let mut left = n_bytes;
    while left > 0 {
        let n = left.min(chunk);
        let bytes = &mut buf[..n];
        rng.fill(bytes);
        for block in bytes.chunks_exact_mut(table.block_bytes) {
            table.fix(block);
        }
        out.write_all(bytes)?;
        progress.advance(n as u64);
        left -= n;
    }
    Ok(())
}

/// The f16 scale fields of one block type and 256 choices of their values, indexed by a
/// random byte of the block (the byte the scale overwrites).
struct ScaleTable {
    block_bytes: usize,
    /// Offset of `d` (Q4_K: `dmin` follows at `+2`).
    offset: usize,
    /// f16 bits of `(d, dmin)`; `dmin` unused for Q6_K.
    values: [(u16, u16); 256],
}

impl ScaleTable {
    fn for_type(ty: DType) -> Option<ScaleTable> {
        // Q4_K: w = d·sc·q − dmin·m with sc, m ∈ 0..63 (6-bit) and q ∈ 0..15. For uniform
        // random bits E[sc·q] = 31.5·7.5 and E[m] = 31.5, so dmin = 7.5·d centres the weights
        // on 0, and std(w) ≈ 258·d: d ∈ [0.8, 1.6]·1e-4 gives std ≈ 0.02..0.04.
        // Q6_K: w = d·sc·(q − 32) with sc an i8 and q ∈ 0..63, std(w) ≈ 1370·d:
        // d ∈ [1.5, 3]·1e-5 gives the same spread.
        let (block_bytes, offset, lo, hi, min_ratio) = match ty {
            DType::Q4_K => (144, 0, 0.8e-4f32, 1.6e-4f32, 7.5f32),
            DType::Q6_K => (210, 208, 1.5e-5, 3e-5, 0.0),
            _ => return None,
        };
        let mut values = [(0u16, 0u16); 256];
        for (k, v) in values.iter_mut().enumerate() {
            let d = lo * (hi / lo).powf(k as f32 / 255.0);
            *v = (f32_to_f16_truncating(d), f32_to_f16_truncating(d * min_ratio));
        }
        Some(ScaleTable { block_bytes, offset, values })
    }

    fn fix(&self, block: &mut [u8]) {
        let (d, dmin) = self.values[block[self.offset] as usize];
        block[self.offset..self.offset + 2].copy_from_slice(&d.to_le_bytes());
        if self.block_bytes == 144 {
            block[self.offset + 2..self.offset + 4].copy_from_slice(&dmin.to_le_bytes());
        }
    }
}

/// f32 → IEEE half-precision bits of a non-negative finite `v`, truncating the mantissa
/// (values below the normal range become subnormals, above it the largest finite half).
/// Not `hearth_dtype::f32_to_f16` (ggml's round-to-nearest-even): the shape-alike bytes
/// are pinned by the generator version, and rounding would change them.
fn f32_to_f16_truncating(v: f32) -> u16 {
    let v = v.clamp(0.0, 65504.0);
    let bits = v.to_bits();
    let exp = ((bits >> 23) & 0xff) as i32 - 127;
    if exp >= -14 {
        ((((exp + 15) as u32) << 10) | ((bits >> 13) & 0x3ff)) as u16
    } else {
        (v * 16_777_216.0).round() as u16 // subnormal: m · 2^-24
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_dtype::f16_to_f32;

    #[test]
    fn f32_to_f16_truncating_of_known_values() {
        assert_eq!(f32_to_f16_truncating(1.0), 0x3c00);
        assert_eq!(f32_to_f16_truncating(0.5), 0x3800);
        assert_eq!(f32_to_f16_truncating(65504.0), 0x7bff);
        assert_eq!(f32_to_f16_truncating(1e9), 0x7bff);
        assert_eq!(f32_to_f16_truncating(2f32.powi(-14)), 0x0400);
        assert_eq!(f32_to_f16_truncating(2f32.powi(-24)), 0x0001);
        assert_eq!(f32_to_f16_truncating(0.0), 0);
        for v in [1.5e-5f32, 3e-5, 8e-5, 1.6e-4, 1.2e-3] {
            let back = f16_to_f32(f32_to_f16_truncating(v));
            assert!((back - v).abs() <= v * 0.04, "{v} -> {back}");
        }
    }
}
