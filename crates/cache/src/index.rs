//! The in-process vector index: one array of unit vectors per scope, scanned with dot
//! products (cosine, since the vectors are unit length).
//!
//! A flat scan is exact, but over 384-d f32 vectors it reads ~1.5 KB per entry: 100k entries
//! are ~150 MB per lookup, bound by memory bandwidth rather than arithmetic. So each vector is
//! also kept as 8-bit codes with a scale (`v ≈ scale · code`, a quarter of the bytes), the scan
//! runs over the codes, and only rows whose approximate score could reach the bar (the
//! approximation's error is bounded per row, see [`FlatIndex::search`]) are scored again in
//! f32: the result is exactly the f32 scan's. Both dot products are written as 16 independent
//! accumulators over fixed-size chunks, which the compiler turns into SIMD on any target
//! without `unsafe` or intrinsics.

use std::collections::HashMap;

/// Lanes of the dot products' accumulators: four SSE or two AVX registers, or four NEON ones.
const LANES: usize = 16;

/// The dot product of `a` and `b` (of equal length).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of vectors of different lengths");
    let mut acc = [0f32; LANES];
    let (chunks_a, tail_a) = a.as_chunks::<LANES>();
    let (chunks_b, tail_b) = b.as_chunks::<LANES>();
    for (x, y) in chunks_a.iter().zip(chunks_b) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = tail_a.iter().zip(tail_b).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// The dot product of two code vectors (of equal length), exact in `i32` (≤ 127² per term).
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    assert_eq!(a.len(), b.len(), "dot of vectors of different lengths");
    let mut acc = [0i32; LANES];
    let (chunks_a, tail_a) = a.as_chunks::<LANES>();
    let (chunks_b, tail_b) = b.as_chunks::<LANES>();
    for (x, y) in chunks_a.iter().zip(chunks_b) {
        for i in 0..LANES {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    let tail: i32 = tail_a.iter().zip(tail_b).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
    acc.iter().sum::<i32>() + tail
}

/// `v` as 8-bit codes: `(codes, scale, l1)` with `v[i] ≈ scale · codes[i]`, each component
/// off by at most `scale / 2`, and `l1` the L1 norm of the dequantised vector.
pub fn quantize(v: &[f32]) -> (Vec<i8>, f32, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return (vec![0; v.len()], 0.0, 0.0);
    }
    let scale = max / 127.0;
    let codes: Vec<i8> = v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect();
    let l1 = codes.iter().map(|c| f32::from(*c).abs()).sum::<f32>() * scale;
    (codes, scale, l1)
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The (at most) `k` ids scoring at least the minimum, best first, with their f32 scores.
    pub hits: Vec<(u64, f32)>,
    /// The best f32 score of any vector: the first hit's, or else that of the row the 8-bit
    /// scan ranked first (within the codes' error of the true best). `None` when empty.
    pub best: Option<f32>,
}

/// Unit vectors of one dimension, each with a caller's id.
#[derive(Debug, Clone)]
pub struct FlatIndex {
    dim: usize,
    /// `[len, dim]`, row-major: row `i` is `ids[i]`'s vector.
    vectors: Vec<f32>,
    /// `[len, dim]`: the rows' 8-bit codes.
    codes: Vec<i8>,
    /// Per row: the codes' scale and the dequantised row's L1 norm.
    scales: Vec<(f32, f32)>,
    ids: Vec<u64>,
    row_of: HashMap<u64, usize>,
}

impl FlatIndex {
    /// An empty index of `dim`-dimensional vectors.
    pub fn new(dim: usize) -> FlatIndex {
        FlatIndex {
            dim,
            vectors: Vec::new(),
            codes: Vec::new(),
            scales: Vec::new(),
            ids: Vec::new(),
            row_of: HashMap::new(),
        }
    }

    /// The vectors' length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// How many vectors it holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds (or replaces) `id`'s vector. Panics if `v` is not `dim` long: the cache checks
    /// lengths before.
    pub fn insert(&mut self, id: u64, v: &[f32]) {
        assert_eq!(v.len(), self.dim, "vector length");
        let (codes, scale, l1) = quantize(v);
        let d = self.dim;
        if let Some(&row) = self.row_of.get(&id) {
            self.vectors[row * d..(row + 1) * d].copy_from_slice(v);
            self.codes[row * d..(row + 1) * d].copy_from_slice(&codes);
            self.scales[row] = (scale, l1);
            return;
        }
        self.row_of.insert(id, self.ids.len());
        self.ids.push(id);
        self.vectors.extend_from_slice(v);
        self.codes.extend_from_slice(&codes);
        self.scales.push((scale, l1));
    }

    /// Removes `id`'s vector (the last row moves into its place); `false` if absent.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some(row) = self.row_of.remove(&id) else { return false };
        let last = self.ids.len() - 1;
        let d = self.dim;
        if row != last {
            let moved = self.ids[last];
            self.vectors.copy_within(last * d..(last + 1) * d, row * d);
            self.codes.copy_within(last * d..(last + 1) * d, row * d);
            self.scales[row] = self.scales[last];
            self.ids[row] = moved;
            self.row_of.insert(moved, row);
        }
        self.ids.pop();
        self.scales.pop();
        self.vectors.truncate(last * d);
        self.codes.truncate(last * d);
        true
    }

    /// The (at most) `k` ids whose vectors score at least `min` against `query`, best first,
    /// exactly as a plain f32 scan would find them.
    ///
    /// Each row is first scored on the codes: with `q ≈ qs·qc` and `v ≈ vs·vc`, each
    /// component off by at most half its scale, `|q·v − qs·vs·(qc·vc)| ≤ vs/2·‖q̃‖₁ + qs/2·‖ṽ‖₁
    /// + n·qs·vs/4` (`q̃`, `ṽ` the dequantised vectors). A row is scored in f32 only when its
    /// approximate score plus that bound reaches `min` (or the k-th best so far).
    pub fn search(&self, query: &[f32], min: f32, k: usize) -> Found {
        assert_eq!(query.len(), self.dim, "query length");
        let mut found = Found { hits: Vec::with_capacity(k + 1), best: None };
        if self.is_empty() || self.dim == 0 {
            return found;
        }
        let (q_codes, qs, q_l1) = quantize(query);
        let d = self.dim;
        let cross = d as f32 * qs / 4.0;
        // f32 rounding of the products and sums above: far below the codes' error
        const SLACK: f32 = 1e-4;
        let mut top_approx = (f32::NEG_INFINITY, 0usize);
        for (row, (codes, &(vs, v_l1))) in self.codes.chunks_exact(d).zip(&self.scales).enumerate() {
            let approx = dot_i8(&q_codes, codes) as f32 * qs * vs;
            if approx > top_approx.0 {
                top_approx = (approx, row);
            }
            let bound = vs / 2.0 * q_l1 + qs / 2.0 * v_l1 + cross * vs + SLACK;
            let bar = if found.hits.len() == k { found.hits[k - 1].1.max(min) } else { min };
            if approx + bound < bar || k == 0 {
                continue;
            }
            let s = dot(query, &self.vectors[row * d..(row + 1) * d]);
            if s < min || (found.hits.len() == k && s <= found.hits[k - 1].1) {
                continue;
            }
            let at = found.hits.partition_point(|&(_, b)| b >= s);
            found.hits.insert(at, (self.ids[row], s));
            found.hits.truncate(k);
        }
        found.best = match found.hits.first() {
            Some(&(_, s)) => Some(s),
            None => Some(dot(query, &self.vectors[top_approx.1 * d..(top_approx.1 + 1) * d])),
        };
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_the_plain_sum_at_every_length() {
        for n in [0, 1, 15, 16, 17, 384, 385] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            assert!((f64::from(dot(&a, &b)) - plain).abs() < 1e-4, "n={n}");
        }
    }

    fn unit(dim: usize, hot: usize) -> Vec<f32> {
        let mut v = vec![0.0; dim];
        v[hot] = 1.0;
        v
    }

    #[test]
    fn search_keeps_the_best_k_above_min() {
        let mut ix = FlatIndex::new(4);
        ix.insert(10, &[1.0, 0.0, 0.0, 0.0]);
        ix.insert(11, &[0.8, 0.6, 0.0, 0.0]);
        ix.insert(12, &[0.6, 0.8, 0.0, 0.0]);
        ix.insert(13, &unit(4, 3));
        let q = unit(4, 0);
        let ids = |f: Found| f.hits.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(ix.search(&q, 0.5, 10)), [10, 11, 12]);
        assert_eq!(ids(ix.search(&q, 0.7, 10)), [10, 11]);
        assert_eq!(ids(ix.search(&q, 0.0, 2)), [10, 11]);
        let none = ix.search(&unit(4, 3), 1.5, 4);
        assert_eq!((none.hits.len(), none.best), (0, Some(1.0)));
    }

    #[test]
    fn remove_moves_the_last_row_and_replace_overwrites() {
        let mut ix = FlatIndex::new(3);
        for id in 0..3 {
            ix.insert(id, &unit(3, id as usize));
        }
        assert!(ix.remove(0));
        assert!(!ix.remove(0));
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.search(&unit(3, 2), 0.9, 1).hits, [(2, 1.0)], "the moved row keeps its id");
        ix.insert(1, &unit(3, 2));
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.search(&unit(3, 2), 0.9, 5).hits.len(), 2);
        assert_eq!(ix.search(&unit(3, 1), 0.9, 5).hits, []);
    }

    /// A seeded generator of unit vectors with some structure (clusters), so scores near
    /// any threshold occur.
    fn vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let centres: Vec<Vec<f32>> = (0..8).map(|_| (0..dim).map(|_| next()).collect()).collect();
        (0..n)
            .map(|i| {
                let spread = 0.02 + 0.3 * (i % 7) as f32 / 7.0;
                let v: Vec<f32> = centres[i % 8].iter().map(|c| c + spread * next()).collect();
                let norm = dot(&v, &v).sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    #[test]
    fn the_quantised_scan_finds_exactly_what_the_f32_scan_finds() {
        for dim in [7, 64, 384] {
            let data = vectors(600, dim, dim as u64);
            let mut ix = FlatIndex::new(dim);
            for (i, v) in data.iter().enumerate() {
                ix.insert(i as u64, v);
            }
            for (qi, query) in vectors(40, dim, 99).iter().chain(&data[..20]).enumerate() {
                let mut all: Vec<(u64, f32)> =
                    data.iter().enumerate().map(|(i, v)| (i as u64, dot(query, v))).collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1));
                for (min, k) in [(0.9, 4), (0.5, 10), (0.99, 1), (-1.0, 3)] {
                    let want: Vec<(u64, f32)> =
                        all.iter().copied().filter(|&(_, s)| s >= min).take(k).collect();
                    let got = ix.search(query, min, k);
                    let score = |v: &[(u64, f32)]| v.iter().map(|x| x.1).collect::<Vec<_>>();
                    assert_eq!(score(&got.hits), score(&want), "dim {dim} query {qi} min {min} k {k}");
                }
                let best = ix.search(query, 2.0, 4).best.unwrap();
                assert!((best - all[0].1).abs() < 0.05, "best {best} vs {}", all[0].1);
            }
        }
    }

    #[test]
    fn quantize_bounds_each_component() {
        let v = [0.5f32, -0.25, 0.1, 0.0, -0.5];
        let (codes, scale, l1) = quantize(&v);
        for (x, c) in v.iter().zip(&codes) {
            assert!((x - scale * f32::from(*c)).abs() <= scale / 2.0 + 1e-7);
        }
        assert!((l1 - 1.35).abs() < 0.01);
        assert_eq!(quantize(&[0.0; 3]), (vec![0; 3], 0.0, 0.0));
        let a: Vec<i8> = (0..37).map(|i| (i * 7 % 255 - 127) as i8).collect();
        let plain: i32 = a.iter().map(|x| i32::from(*x) * i32::from(*x)).sum();
        assert_eq!(dot_i8(&a, &a), plain);
    }
}
