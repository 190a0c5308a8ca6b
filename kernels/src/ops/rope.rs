//! Rotary position embedding (RoPE) with ggml's semantics, in both conventions.
//!
//! - [`RopeMode::Norm`] (llama, `GGML_ROPE_TYPE_NORMAL`): rotates adjacent pairs
//!   `(x[2i], x[2i+1])`.
//! - [`RopeMode::Neox`] (qwen2, gemma, `GGML_ROPE_TYPE_NEOX`): rotates `(x[i], x[i + n_dims/2])`.
//!
//! Using the wrong one silently corrupts attention: the model's architecture decides.
//!
//! Pair `i` of position `p` turns by `theta_i = freq_scale · p · base^(-2i/n_dims) / ff_i`
//! (`ff` = optional per-pair `freq_factors`, Llama 3's `rope_freqs`), with YaRN's ramp when
//! `ext_factor != 0`. As ggml, `base^(-2i/n_dims)` is a running f32 product and cos/sin are
//! libm's `cosf`/`sinf`, so tables match llama.cpp's bit for bit. Dimensions past `n_dims`
//! (partial rotary) are left unchanged.
//!
//! [`RopeCache`] precomputes the cos/sin rows for positions `0..capacity` once, so decode
//! never calls `sin`/`cos`; positions beyond it are computed on the fly (still once per
//! pair, not per head).

/// Which elements form a rotated pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeMode {
    /// Adjacent pairs `(2i, 2i+1)` (llama).
    Norm,
    /// Halves `(i, i + n_dims/2)` (GPT-NeoX; qwen2, gemma).
    Neox,
}

/// RoPE hyper-parameters, as ggml's `ggml_rope_ext` takes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeParams {
    /// Pairing convention.
    pub mode: RopeMode,
    /// Rotated dimensions per head (`n_rot`): even, at most the head size.
    pub n_dims: usize,
    /// `rope.freq_base` (theta base), e.g. 10000 or 1000000.
    pub freq_base: f32,
    /// `1 / rope.scaling.factor` for linear scaling; 1 when unscaled.
    pub freq_scale: f32,
    /// YaRN extrapolation mix; 0 disables YaRN.
    pub ext_factor: f32,
    /// Magnitude scale applied to cos and sin (1 unless YaRN says otherwise).
    pub attn_factor: f32,
    /// YaRN low correction dimension parameter (ggml default 32).
    pub beta_fast: f32,
    /// YaRN high correction dimension parameter (ggml default 1).
    pub beta_slow: f32,
    /// Training context length YaRN corrects for (unused when `ext_factor == 0`).
    pub n_ctx_orig: usize,
}

impl RopeParams {
    /// Unscaled RoPE: `freq_scale = 1`, no YaRN, `attn_factor = 1`.
    pub fn new(mode: RopeMode, n_dims: usize, freq_base: f32) -> Self {
        RopeParams {
            mode,
            n_dims,
            freq_base,
            freq_scale: 1.0,
            ext_factor: 0.0,
            attn_factor: 1.0,
            beta_fast: 32.0,
            beta_slow: 1.0,
            n_ctx_orig: 0,
        }
    }

    /// Fills `out` (`n_dims` floats: `cos_0, sin_0, cos_1, sin_1, ...`, one pair per rotated
    /// pair) for position `pos`, exactly as ggml's `ggml_rope_cache_init`.
    ///
    /// # Panics
    /// If `out.len() != n_dims`, `n_dims` is odd, or `freq_factors` is shorter than
    /// `n_dims / 2`.
    pub fn cos_sin(&self, freq_factors: Option<&[f32]>, pos: usize, out: &mut [f32]) {
        self.check(freq_factors);
        assert_eq!(out.len(), self.n_dims, "rope cos_sin: out length");
        let mut pairs = PairAngles::new(self, freq_factors, pos);
        for cs in out.chunks_exact_mut(2) {
            let (c, s) = pairs.next_pair();
            cs[0] = c;
            cs[1] = s;
        }
    }

    fn check(&self, freq_factors: Option<&[f32]>) {
        assert!(self.n_dims.is_multiple_of(2), "rope: n_dims {} is odd", self.n_dims);
        if let Some(ff) = freq_factors {
            assert!(ff.len() >= self.n_dims / 2, "rope: {} freq_factors for {} dims", ff.len(), self.n_dims);
        }
    }

    fn check_x(&self, x: &[f32], head_dim: usize) {
        assert!(
            head_dim > 0 && x.len().is_multiple_of(head_dim),
            "rope: {} values are not whole heads of {head_dim}",
            x.len()
        );
        assert!(self.n_dims <= head_dim, "rope: n_dims {} > head_dim {head_dim}", self.n_dims);
    }
}

/// ggml's YaRN correction dims `[start, end]`.
fn yarn_corr_dims(p: &RopeParams) -> [f32; 2] {
    let corr_dim = |n_rot: f32| {
        p.n_dims as f32 * (p.n_ctx_orig as f32 / (n_rot * 2.0 * std::f32::consts::PI)).ln()
            / (2.0 * p.freq_base.ln())
    };
    let start = corr_dim(p.beta_fast).floor();
    let end = corr_dim(p.beta_slow).ceil();
    [start.max(0.0), end.min((p.n_dims as f32) - 1.0)]
}

/// Iterates the (cos, sin) of each rotated pair of one position, as ggml's
/// `ggml_rope_cache_init` + `rope_yarn`.
struct PairAngles<'a> {
    p: &'a RopeParams,
    ff: Option<&'a [f32]>,
    theta: f32,
    theta_scale: f32,
    corr: [f32; 2],
    i0: usize,
}

impl<'a> PairAngles<'a> {
    fn new(p: &'a RopeParams, ff: Option<&'a [f32]>, pos: usize) -> Self {
        let theta_scale = p.freq_base.powf(-2.0 / p.n_dims as f32);
        let corr = if p.ext_factor != 0.0 { yarn_corr_dims(p) } else { [0.0, 0.0] };
        PairAngles { p, ff, theta: pos as f32, theta_scale, corr, i0: 0 }
    }

    #[inline]
    fn next_pair(&mut self) -> (f32, f32) {
        let p = self.p;
        let ff = self.ff.map_or(1.0, |f| f[self.i0 / 2]);
        let theta_extrap = self.theta / ff;
        let theta_interp = p.freq_scale * theta_extrap;
        let mut theta = theta_interp;
        let mut mscale = p.attn_factor;
        if p.ext_factor != 0.0 {
            let y = ((self.i0 / 2) as f32 - self.corr[0]) / (self.corr[1] - self.corr[0]).max(0.001);
            let ramp_mix = (1.0 - y.clamp(0.0, 1.0)) * p.ext_factor;
            theta = theta_interp * (1.0 - ramp_mix) + theta_extrap * ramp_mix;
            mscale *= 1.0 + 0.1 * (1.0 / p.freq_scale).ln();
        }
        self.theta *= self.theta_scale;
        self.i0 += 2;
        (theta.cos() * mscale, theta.sin() * mscale)
    }
}

/// Rotates one pair in place.
#[inline]
fn rotate(x0: &mut f32, x1: &mut f32, c: f32, s: f32) {
    let (a, b) = (*x0, *x1);
    *x0 = a * c - b * s;
    *x1 = a * s + b * c;
}

/// Applies a cos/sin row (from [`RopeParams::cos_sin`]) to every head of `x`
/// (`n_heads × head_dim`, row-major).
///
/// # Panics
/// If `x` is not whole heads, `cs.len()` is odd or larger than `head_dim`.
pub fn rope_with(mode: RopeMode, cs: &[f32], x: &mut [f32], head_dim: usize) {
    let n_dims = cs.len();
    assert!(n_dims.is_multiple_of(2), "rope: odd cos/sin row");
    assert!(
        head_dim > 0 && x.len().is_multiple_of(head_dim),
        "rope: {} values are not whole heads of {head_dim}",
        x.len()
    );
    assert!(n_dims <= head_dim, "rope: n_dims {n_dims} > head_dim {head_dim}");
    for head in x.chunks_exact_mut(head_dim) {
        match mode {
            RopeMode::Norm => {
                for (pair, c) in head[..n_dims].chunks_exact_mut(2).zip(cs.chunks_exact(2)) {
                    let (a, b) = pair.split_at_mut(1);
                    rotate(&mut a[0], &mut b[0], c[0], c[1]);
                }
            }
            RopeMode::Neox => {
                let (lo, hi) = head[..n_dims].split_at_mut(n_dims / 2);
                for ((a, b), c) in lo.iter_mut().zip(hi.iter_mut()).zip(cs.chunks_exact(2)) {
                    rotate(a, b, c[0], c[1]);
                }
            }
        }
    }
}

/// RoPE without a cache: computes each pair's cos/sin once and applies it to every head of
/// `x` (`n_heads × head_dim`) at position `pos`. Allocates nothing.
///
/// # Panics
/// On inconsistent shapes (see [`RopeParams::cos_sin`] and [`rope_with`]).
pub fn rope(p: &RopeParams, freq_factors: Option<&[f32]>, x: &mut [f32], head_dim: usize, pos: usize) {
    p.check(freq_factors);
    p.check_x(x, head_dim);
    let half = p.n_dims / 2;
    let mut pairs = PairAngles::new(p, freq_factors, pos);
    for i in 0..half {
        let (c, s) = pairs.next_pair();
        for head in x.chunks_exact_mut(head_dim) {
            let (j0, j1) = match p.mode {
                RopeMode::Norm => (2 * i, 2 * i + 1),
                RopeMode::Neox => (i, i + half),
            };
            let (a, b) = head.split_at_mut(j1);
            rotate(&mut a[j0], &mut b[0], c, s);
        }
    }
}

/// Precomputed cos/sin rows for positions `0..capacity` (`capacity × n_dims` floats).
#[derive(Clone, Debug)]
pub struct RopeCache {
    params: RopeParams,
    freq_factors: Option<Vec<f32>>,
    capacity: usize,
    /// `[capacity, n_dims]`: row `p` is `cos_0, sin_0, cos_1, sin_1, ...` of position `p`.
    table: Vec<f32>,
}

impl RopeCache {
    /// Precomputes positions `0..capacity`.
    ///
    /// # Panics
    /// If `n_dims` is odd or `freq_factors` is shorter than `n_dims / 2`.
    pub fn new(params: RopeParams, freq_factors: Option<&[f32]>, capacity: usize) -> Self {
        params.check(freq_factors);
        let n = params.n_dims;
        let mut table = vec![0.0f32; capacity * n];
        if n > 0 {
            for (pos, row) in table.chunks_exact_mut(n).enumerate() {
                params.cos_sin(freq_factors, pos, row);
            }
        }
        RopeCache { params, freq_factors: freq_factors.map(<[f32]>::to_vec), capacity, table }
    }

    /// The parameters the table was built from.
    pub fn params(&self) -> &RopeParams {
        &self.params
    }

    /// Positions with a precomputed row.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The cos/sin row of `pos`, if precomputed.
    pub fn row(&self, pos: usize) -> Option<&[f32]> {
        let n = self.params.n_dims;
        (pos < self.capacity).then(|| &self.table[pos * n..(pos + 1) * n])
    }

    /// Rotates every head of `x` (`n_heads × head_dim`) for position `pos`. Positions past
    /// the capacity are computed on the fly, with identical results.
    ///
    /// # Panics
    /// If `x` is not whole heads or `n_dims > head_dim`.
    pub fn apply(&self, x: &mut [f32], head_dim: usize, pos: usize) {
        match self.row(pos) {
            Some(cs) => rope_with(self.params.mode, cs, x, head_dim),
            None => rope(&self.params, self.freq_factors.as_deref(), x, head_dim, pos),
        }
    }
}
