//! RoPE against a hand-written f64 formula, and the relations between its forms.

use hearth_kernels::ops::rope::{RopeCache, RopeMode, RopeParams, rope, rope_with};

fn input(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

/// The textbook rotation in f64: pair `i` turns by `pos · freq_scale · base^(-2i/n_dims) / ff_i`.
fn reference(p: &RopeParams, ff: Option<&[f32]>, x: &[f32], head_dim: usize, pos: usize) -> Vec<f32> {
    let mut y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let half = p.n_dims / 2;
    for head in y.chunks_exact_mut(head_dim) {
        for i in 0..half {
            let ffi = ff.map_or(1.0, |f| f64::from(f[i]));
            let theta = pos as f64
                * f64::from(p.freq_scale)
                * f64::from(p.freq_base).powf(-2.0 * i as f64 / p.n_dims as f64)
                / ffi;
            let (s, c) = theta.sin_cos();
            let (j0, j1) = match p.mode {
                RopeMode::Norm => (2 * i, 2 * i + 1),
                RopeMode::Neox => (i, i + half),
            };
            let (a, b) = (head[j0], head[j1]);
            head[j0] = a * c - b * s;
            head[j1] = a * s + b * c;
        }
    }
    y.iter().map(|&v| v as f32).collect()
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w} (tol {tol})");
    }
}

#[track_caller]
fn assert_bits(got: &[f32], want: &[f32], what: &str) {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}[{i}]: got {g}, want {w}");
    }
}

#[test]
fn matches_the_formula_in_both_modes() {
    for mode in [RopeMode::Norm, RopeMode::Neox] {
        for (head_dim, n_dims, base) in
            [(64, 64, 10_000.0f32), (128, 128, 500_000.0), (64, 32, 10_000.0), (256, 256, 1_000_000.0)]
        {
            let p = RopeParams::new(mode, n_dims, base);
            let x = input(3 * head_dim, 7);
            for pos in [0usize, 1, 2, 7, 31, 100, 1000, 4095] {
                let mut y = x.clone();
                rope(&p, None, &mut y, head_dim, pos);
                // ggml's running f32 product of theta_scale drifts by ~i ulp: allow for it.
                let tol = 2e-6 + 1e-6 * pos as f32;
                assert_close(
                    &y,
                    &reference(&p, None, &x, head_dim, pos),
                    tol,
                    &format!("{mode:?} hd={head_dim} pos={pos}"),
                );
            }
        }
    }
}

#[test]
fn position_zero_is_identity() {
    for mode in [RopeMode::Norm, RopeMode::Neox] {
        let p = RopeParams::new(mode, 64, 10_000.0);
        let x = input(4 * 64, 3);
        let mut y = x.clone();
        rope(&p, None, &mut y, 64, 0);
        assert_bits(&y, &x, "pos 0");
    }
}

#[test]
fn freq_factors_and_freq_scale_follow_the_formula() {
    let ff: Vec<f32> = (0..32).map(|i| 1.0 + i as f32 * 0.25).collect();
    for mode in [RopeMode::Norm, RopeMode::Neox] {
        let mut p = RopeParams::new(mode, 64, 500_000.0);
        p.freq_scale = 0.25;
        let x = input(2 * 64, 11);
        for pos in [1usize, 5, 77, 300] {
            let mut y = x.clone();
            rope(&p, Some(&ff), &mut y, 64, pos);
            let tol = 2e-6 + 1e-6 * pos as f32;
            assert_close(&y, &reference(&p, Some(&ff), &x, 64, pos), tol, &format!("{mode:?} ff pos={pos}"));
        }
    }
}

#[test]
fn partial_rotary_leaves_the_tail_alone() {
    for mode in [RopeMode::Norm, RopeMode::Neox] {
        let p = RopeParams::new(mode, 16, 10_000.0);
        let x = input(3 * 64, 5);
        let mut y = x.clone();
        rope(&p, None, &mut y, 64, 9);
        for (hx, hy) in x.chunks_exact(64).zip(y.chunks_exact(64)) {
            assert_bits(&hy[16..], &hx[16..], "tail");
            assert!(hy[..16] != hx[..16]);
        }
    }
}

#[test]
fn neox_is_norm_on_a_permuted_head() {
    // NEOX pairs (i, i + half) are NORM pairs (2i, 2i + 1) after interleaving the halves.
    let hd = 64;
    let half = hd / 2;
    let x = input(2 * hd, 13);
    let perm = |h: &[f32]| -> Vec<f32> {
        (0..hd).map(|j| if j % 2 == 0 { h[j / 2] } else { h[half + j / 2] }).collect()
    };
    for pos in [1usize, 17, 999] {
        let mut neox = x.clone();
        rope(&RopeParams::new(RopeMode::Neox, hd, 10_000.0), None, &mut neox, hd, pos);
        let mut norm: Vec<f32> = x.chunks_exact(hd).flat_map(perm).collect();
        rope(&RopeParams::new(RopeMode::Norm, hd, 10_000.0), None, &mut norm, hd, pos);
        let neox_perm: Vec<f32> = neox.chunks_exact(hd).flat_map(perm).collect();
        assert_bits(&norm, &neox_perm, "neox vs permuted norm");
    }
}

#[test]
fn rotation_preserves_pair_norms() {
    let p = RopeParams::new(RopeMode::Norm, 128, 10_000.0);
    let x = input(128, 17);
    let mut y = x.clone();
    rope(&p, None, &mut y, 128, 12_345);
    for (a, b) in x.chunks_exact(2).zip(y.chunks_exact(2)) {
        let (na, nb) = (a[0].hypot(a[1]), b[0].hypot(b[1]));
        assert!((na - nb).abs() <= 1e-6 * na.max(1e-6), "{na} vs {nb}");
    }
}

#[test]
fn cache_equals_uncached_inside_and_beyond_capacity() {
    let ff: Vec<f32> = (0..32).map(|i| 1.0 + (i % 5) as f32).collect();
    for mode in [RopeMode::Norm, RopeMode::Neox] {
        let mut p = RopeParams::new(mode, 64, 1_000_000.0);
        p.freq_scale = 0.5;
        let cache = RopeCache::new(p, Some(&ff), 100);
        assert_eq!(cache.capacity(), 100);
        assert!(cache.row(99).is_some() && cache.row(100).is_none());
        let x = input(5 * 128, 19);
        for pos in [0usize, 1, 50, 99, 100, 101, 5000] {
            let mut a = x.clone();
            let mut b = x.clone();
            cache.apply(&mut a, 128, pos);
            rope(&p, Some(&ff), &mut b, 128, pos);
            assert_bits(&a, &b, &format!("{mode:?} pos={pos}"));
            // And the row-based form with a freshly computed row.
            let mut cs = vec![0.0; 64];
            p.cos_sin(Some(&ff), pos, &mut cs);
            let mut c = x.clone();
            rope_with(mode, &cs, &mut c, 128);
            assert_bits(&c, &b, "rope_with");
        }
    }
}

#[test]
fn yarn_matches_the_formula() {
    // ggml's YaRN: ramp between interpolated and extrapolated theta over the correction
    // dims, magnitude scaled by 1 + 0.1 ln(1 / freq_scale).
    let mut p = RopeParams::new(RopeMode::Neox, 64, 10_000.0);
    p.freq_scale = 0.25;
    p.ext_factor = 1.0;
    p.n_ctx_orig = 4096;
    let corr =
        |beta: f64| 64.0 * (4096.0 / (beta * 2.0 * std::f64::consts::PI)).ln() / (2.0 * 10_000f64.ln());
    let (lo, hi) = (corr(32.0).floor().max(0.0), corr(1.0).ceil().min(63.0));
    let x = input(64, 23);
    for pos in [3usize, 40, 200] {
        let mut y = x.clone();
        rope(&p, None, &mut y, 64, pos);
        let mscale = 1.0 + 0.1 * (1.0f64 / 0.25).ln();
        let mut want = x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
        for i in 0..32 {
            let extrap = pos as f64 * 10_000f64.powf(-2.0 * i as f64 / 64.0);
            let ramp = 1.0 - ((i as f64 - lo) / (hi - lo).max(0.001)).clamp(0.0, 1.0);
            let theta = extrap * 0.25 * (1.0 - ramp) + extrap * ramp;
            let (s, c) = theta.sin_cos();
            let (a, b) = (want[i], want[i + 32]);
            want[i] = (a * c - b * s) * mscale;
            want[i + 32] = (a * s + b * c) * mscale;
        }
        let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        assert_close(&y, &want, 2e-6 + 1e-6 * pos as f32, &format!("yarn pos={pos}"));
    }
}

#[test]
#[should_panic(expected = "n_dims 80 > head_dim 64")]
fn too_many_rotated_dims_panics() {
    let mut x = vec![0.0; 64];
    rope(&RopeParams::new(RopeMode::Norm, 80, 10_000.0), None, &mut x, 64, 1);
}
