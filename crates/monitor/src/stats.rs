//! The statistics behind a move: a Wilson score interval for the reported agreement, and
//! Wald's sequential probability ratio test (SPRT) for the decision.
//!
//! Why a sequential test: with ~10 judged answers per task type a plain "observed agreement
//! below 85%" rule moves healthy routes often and misses real drops. The SPRT for a
//! Bernoulli rate tests H0: p = `agreement_floor` against H1: p = `agreement_alternative`,
//! adding each verdict's log-likelihood ratio to a running sum and deciding only when the sum
//! leaves the band `[ln(β / (1 − α)), ln((1 − β) / α)]`: above the band it says "below"
//! (H1), under it "above" (H0). Its error rates are about α (moving a route whose agreement is
//! the floor) and β (not moving one whose agreement is the alternative), whatever the number
//! of verdicts it needed, which is small when the truth is far from both.

use serde::{Deserialize, Serialize};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A confidence interval for a rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// The Wilson score interval for `successes` out of `n` at `z` (`None` for `n = 0`). Unlike
/// the normal approximation it stays inside [0, 1] and is honest at small `n` and rates near
/// 0 or 1.
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    let p = successes.min(n) as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    Some(Interval { low: (centre - half).max(0.0), high: (centre + half).min(1.0) })
}

/// The hypotheses and error rates of the sequential test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SprtParams {
    /// H0: agreement at least this (keep local).
    pub floor: f64,
    /// H1: agreement at most this (move up).
    pub alternative: f64,
    /// P(decide "below" | agreement = floor).
    pub alpha: f64,
    /// P(decide "above" | agreement = alternative).
    pub beta: f64,
}

impl SprtParams {
    /// The sum above which the test says "below".
    pub fn upper(&self) -> f64 {
        ((1.0 - self.beta) / self.alpha).ln()
    }

    /// The sum under which the test says "above".
    pub fn lower(&self) -> f64 {
        (self.beta / (1.0 - self.alpha)).ln()
    }

    /// One verdict's log-likelihood ratio of H1 to H0.
    pub fn step(&self, agree: bool) -> f64 {
        if agree {
            (self.alternative / self.floor).ln()
        } else {
            ((1.0 - self.alternative) / (1.0 - self.floor)).ln()
        }
    }
}

/// What the test says now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestState {
    /// Not enough evidence either way yet.
    Undecided,
    /// Agreement is at or above the floor (H0 accepted).
    Above,
    /// Agreement is at or below the alternative (H1 accepted).
    Below,
}

impl TestState {
    /// `undecided`, `above`, `below`.
    pub fn as_str(self) -> &'static str {
        match self {
            TestState::Undecided => "undecided",
            TestState::Above => "above",
            TestState::Below => "below",
        }
    }
}

/// A running sequential test. After it decides, [`Sprt::update`] restarts it from zero, so
/// the next decision rests on verdicts that came after this one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sprt {
    /// The running log-likelihood ratio (H1 over H0).
    pub llr: f64,
    /// Verdicts since the last decision.
    pub n: u64,
}

impl Sprt {
    /// Adds one verdict; returns the decision it completes (and restarts), or `Undecided`.
    pub fn update(&mut self, agree: bool, params: &SprtParams) -> TestState {
        self.llr += params.step(agree);
        self.n += 1;
        let state = if self.llr >= params.upper() {
            TestState::Below
        } else if self.llr <= params.lower() {
            TestState::Above
        } else {
            TestState::Undecided
        };
        if state != TestState::Undecided {
            *self = Sprt::default();
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: SprtParams = SprtParams { floor: 0.85, alternative: 0.75, alpha: 0.05, beta: 0.2 };

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), table I: 81/263 → 0.2553 to 0.3662.
        let i = wilson(81, 263, Z95).expect("n > 0");
        assert!((i.low - 0.2553).abs() < 5e-4 && (i.high - 0.3662).abs() < 5e-4, "{i:?}");
        // 0/10 → 0 to 0.2775; 10/10 → 0.7225 to 1.
        let i = wilson(0, 10, Z95).expect("n > 0");
        assert!(i.low.abs() < 1e-12 && (i.high - 0.2775).abs() < 5e-4, "{i:?}");
        let i = wilson(10, 10, Z95).expect("n > 0");
        assert!((i.low - 0.7225).abs() < 5e-4 && (i.high - 1.0).abs() < 1e-12, "{i:?}");
        assert_eq!(wilson(0, 0, Z95), None);
    }

    #[test]
    fn the_band_is_walds() {
        assert!((PARAMS.upper() - (0.8f64 / 0.05).ln()).abs() < 1e-12);
        assert!((PARAMS.lower() - (0.2f64 / 0.95).ln()).abs() < 1e-12);
        assert!(PARAMS.step(true) < 0.0 && PARAMS.step(false) > 0.0);
    }

    #[test]
    fn all_agree_says_above_and_all_disagree_says_below_then_restarts() {
        let mut t = Sprt::default();
        let mut n = 0;
        let state = loop {
            n += 1;
            let s = t.update(true, &PARAMS);
            if s != TestState::Undecided {
                break s;
            }
        };
        assert_eq!(state, TestState::Above);
        // ln(0.2/0.95) / ln(0.75/0.85) = 12.4…: the 13th straight agreement decides.
        assert_eq!(n, 13);
        assert_eq!(t, Sprt::default());
        assert_eq!(t.update(false, &PARAMS), TestState::Undecided);
        assert_eq!(t.update(false, &PARAMS), TestState::Undecided);
        // ln(16) / ln(0.25/0.15) = 5.4: six disagreements in a row.
        let mut last = TestState::Undecided;
        for _ in 0..4 {
            last = t.update(false, &PARAMS);
        }
        assert_eq!(last, TestState::Below);
    }
}
