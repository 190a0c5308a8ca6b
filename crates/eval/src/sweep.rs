//! The curve: per task type and confidence signal, what share of calls stays local
//! (coverage), how accurate the kept answers and the routed mix are, and what the mix costs,
//! as the escalation threshold sweeps; and the threshold with the most coverage whose
//! kept-local answers reach the target accuracy (so the routed mix does too, when the upper
//! tier is at least as good).
//!
//! The router's rule is applied exactly: an answer escalates when its signal is strictly
//! below the threshold (a missing measurement never fires), or when the route's answer checks
//! call it invalid (whatever the threshold). An escalated call costs its local attempt plus
//! the upper tier's answer, and is right when the upper tier's answer is.

use serde::{Deserialize, Serialize};

use crate::record::{Record, Signal};

/// The accuracy a threshold must keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// This share of the upper tier's accuracy (default 0.95).
    OfUpper(f64),
    /// This accuracy, whatever the upper tier's.
    Floor(f64),
}

impl Default for Target {
    fn default() -> Self {
        Target::OfUpper(0.95)
    }
}

impl Target {
    /// The accuracy to reach given the upper tier's.
    pub fn accuracy(self, upper_accuracy: f64) -> f64 {
        match self {
            Target::OfUpper(share) => share * upper_accuracy,
            Target::Floor(floor) => floor,
        }
    }

    /// How reports say it.
    pub fn describe(self) -> String {
        match self {
            Target::OfUpper(share) => format!("{:.0}% of the upper tier's accuracy", share * 100.0),
            Target::Floor(floor) => format!("accuracy ≥ {:.1}%", floor * 100.0),
        }
    }
}

/// One point of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Escalate below this value; `None`: no threshold (only invalid answers escalate).
    pub threshold: Option<f64>,
    /// Share of calls kept local.
    pub coverage: f64,
    /// Accuracy of the kept-local answers (`None`: none kept).
    pub kept_accuracy: Option<f64>,
    /// Accuracy of the routed mix (kept local + escalated answered by the upper tier).
    pub routed_accuracy: f64,
    /// USD per 1,000 calls of the mix.
    pub cost_per_1k: f64,
}

/// The scored calls of one task type, reduced to what the sweep needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Call {
    /// The signal's value (`None`: not measured, never fires).
    pub value: Option<f64>,
    /// Escalated whatever the threshold (invalid output).
    pub forced: bool,
    /// The local answer is right.
    pub local_correct: bool,
    /// The upper tier's answer is right.
    pub upper_correct: bool,
    /// USD of the local attempt.
    pub local_cost: f64,
    /// USD of the upper tier's answer.
    pub upper_cost: f64,
}

impl Call {
    /// The sweep's view of a record for `signal`; `None` when the record is unscored.
    pub fn of(record: &Record, signal: Signal) -> Option<Call> {
        let local_correct = record.local.correct?;
        Some(Call {
            value: record.evidence.as_ref().and_then(|e| signal.of(e)),
            forced: record.invalid_output,
            local_correct,
            // An upper answer that could not be scored (an error) counts as wrong: the
            // escalation would not have helped.
            upper_correct: record.upper.correct.unwrap_or(false),
            local_cost: record.local.cost_usd,
            upper_cost: record.upper.cost_usd,
        })
    }
}

/// The point for `threshold` (escalate when `value < threshold`).
pub fn point(calls: &[Call], threshold: Option<f64>) -> Point {
    let n = calls.len().max(1) as f64;
    let (mut kept, mut kept_right, mut right, mut cost) = (0usize, 0usize, 0usize, 0.0);
    for c in calls {
        let fires = matches!((c.value, threshold), (Some(v), Some(t)) if v < t);
        let escalated = c.forced || fires;
        cost += c.local_cost;
        if escalated {
            cost += c.upper_cost;
            right += usize::from(c.upper_correct);
        } else {
            kept += 1;
            kept_right += usize::from(c.local_correct);
            right += usize::from(c.local_correct);
        }
    }
    Point {
        threshold,
        coverage: kept as f64 / n,
        kept_accuracy: (kept > 0).then(|| kept_right as f64 / kept as f64),
        routed_accuracy: right as f64 / n,
        cost_per_1k: cost / n * 1000.0,
    }
}

/// Every point: no threshold, then each distinct measured value (the lowest first), then
/// just above the highest (every measured answer escalated).
pub fn curve(calls: &[Call]) -> Vec<Point> {
    let mut values: Vec<f64> = calls.iter().filter_map(|c| c.value).filter(|v| v.is_finite()).collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    let mut points = vec![point(calls, None)];
    points.extend(values.iter().map(|&v| point(calls, Some(v))));
    if let Some(&max) = values.last() {
        let above = if max < 0.0 { max / 2.0 } else { max + max.abs().max(1e-3) * 0.5 };
        points.push(point(calls, Some(above.max(max + 1e-9))));
    }
    points
}

/// The point with the most coverage whose kept-local answers are at least `accuracy`
/// accurate (ties: the cheaper, then the lower threshold); `None` when no point keeps any
/// answer at that accuracy. The answers kept local must themselves be as good as the target:
/// a mix that meets it only because the upper tier's answers lift the average would keep
/// answers that are mostly wrong.
pub fn choose(points: &[Point], accuracy: f64) -> Option<Point> {
    const EPS: f64 = 1e-12;
    points.iter().copied().filter(|p| p.kept_accuracy.is_some_and(|a| a + EPS >= accuracy)).reduce(
        |best, p| {
            let better = p.coverage > best.coverage + EPS
                || ((p.coverage - best.coverage).abs() <= EPS && p.cost_per_1k < best.cost_per_1k - EPS);
            if better { p } else { best }
        },
    )
}

/// The sweep of one task type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSweep {
    /// Scored calls.
    pub scored: usize,
    /// Accuracy of the local answers (all kept).
    pub local_accuracy: f64,
    /// Accuracy of the upper tier's answers (1 when assumed).
    pub upper_accuracy: f64,
    /// The accuracy the chosen threshold had to keep.
    pub target_accuracy: f64,
    /// USD per 1,000 calls answered locally only.
    pub local_cost_per_1k: f64,
    /// USD per 1,000 calls all sent to the upper tier.
    pub upper_cost_per_1k: f64,
    /// Each signal's curve.
    pub curves: Vec<SignalCurve>,
    /// The chosen signal and point; `None`: no threshold reaches the target (send the task
    /// type to the upper tier).
    pub chosen: Option<(Signal, Point)>,
}

/// One signal's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalCurve {
    /// The signal.
    pub signal: Signal,
    /// Its points.
    pub points: Vec<Point>,
}

/// Sweeps `records` (one task type) over `signals`.
pub fn sweep(records: &[&Record], signals: &[Signal], target: Target) -> Option<TaskSweep> {
    let base: Vec<Call> = records.iter().filter_map(|r| Call::of(r, Signal::MeanLogprob)).collect();
    if base.is_empty() {
        return None;
    }
    let n = base.len() as f64;
    let local_accuracy = base.iter().filter(|c| c.local_correct).count() as f64 / n;
    let upper_accuracy = base.iter().filter(|c| c.upper_correct).count() as f64 / n;
    let target_accuracy = target.accuracy(upper_accuracy);
    let mut curves = Vec::new();
    let mut chosen: Option<(Signal, Point)> = None;
    for &signal in signals {
        let calls: Vec<Call> = records.iter().filter_map(|r| Call::of(r, signal)).collect();
        if calls.iter().all(|c| c.value.is_none()) {
            continue;
        }
        let points = curve(&calls);
        if let Some(p) = choose(&points, target_accuracy) {
            let better = match chosen {
                None => true,
                Some((_, best)) => {
                    p.coverage > best.coverage + 1e-12
                        || ((p.coverage - best.coverage).abs() <= 1e-12
                            && p.cost_per_1k < best.cost_per_1k - 1e-12)
                }
            };
            if better {
                chosen = Some((signal, p));
            }
        }
        curves.push(SignalCurve { signal, points });
    }
    Some(TaskSweep {
        scored: base.len(),
        local_accuracy,
        upper_accuracy,
        target_accuracy,
        local_cost_per_1k: base.iter().map(|c| c.local_cost).sum::<f64>() / n * 1000.0,
        upper_cost_per_1k: base.iter().map(|c| c.upper_cost).sum::<f64>() / n * 1000.0,
        curves,
        chosen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(value: f64, local_correct: bool) -> Call {
        Call {
            value: Some(value),
            forced: false,
            local_correct,
            upper_correct: true,
            local_cost: 0.0,
            upper_cost: 0.01,
        }
    }

    /// A suite with known answers: confident answers right, unsure ones wrong.
    fn known() -> Vec<Call> {
        vec![
            call(-0.01, true),
            call(-0.02, true),
            call(-0.05, true),
            call(-0.10, true),
            call(-0.50, false),
            call(-0.60, true),
            call(-1.00, false),
            call(-2.00, false),
        ]
    }

    #[test]
    fn the_curve_applies_the_routers_strictly_below_rule() {
        let calls = known();
        let points = curve(&calls);
        assert_eq!(points.len(), 1 + 8 + 1);
        let none = points[0];
        assert_eq!((none.threshold, none.coverage, none.kept_accuracy), (None, 1.0, Some(5.0 / 8.0)));
        assert_eq!(none.routed_accuracy, 5.0 / 8.0);
        assert_eq!(none.cost_per_1k, 0.0);
        // At -0.5 the answer at -0.5 stays (equal passes), the three below escalate.
        let p = point(&calls, Some(-0.5));
        assert_eq!(p.coverage, 5.0 / 8.0);
        assert_eq!(p.kept_accuracy, Some(4.0 / 5.0));
        assert_eq!(p.routed_accuracy, 7.0 / 8.0);
        assert!((p.cost_per_1k - 3.0 * 0.01 / 8.0 * 1000.0).abs() < 1e-12);
        // Above the highest value every answer escalates: the upper tier's accuracy and cost.
        let all = points.last().unwrap();
        assert_eq!((all.coverage, all.routed_accuracy, all.kept_accuracy), (0.0, 1.0, None));
        assert!((all.cost_per_1k - 10.0).abs() < 1e-12);
        // Coverage falls as the threshold rises.
        assert!(points.windows(2).all(|w| w[1].coverage <= w[0].coverage));
    }

    #[test]
    fn the_chosen_threshold_keeps_the_target_with_the_most_coverage() {
        let calls = known();
        let points = curve(&calls);
        // 95% of a perfect upper tier: 0.95; only escalating everything below -0.1 reaches it.
        let p = choose(&points, 0.95).unwrap();
        assert_eq!(p.threshold, Some(-0.10));
        assert_eq!((p.coverage, p.kept_accuracy, p.routed_accuracy), (0.5, Some(1.0), 1.0));
        // 85%: the kept answers at -0.6 are 5/6 right (83%), not enough; -0.1 again.
        assert_eq!(choose(&points, 0.85).unwrap().threshold, Some(-0.10));
        // 80%: -0.6 keeps six (5/6 = 83%); -1.0 would keep seven at 5/7 = 71%.
        let p = choose(&points, 0.8).unwrap();
        assert_eq!((p.threshold, p.coverage, p.routed_accuracy), (Some(-0.6), 0.75, 7.0 / 8.0));
        // At the local accuracy: no threshold needed.
        assert_eq!(choose(&points, 0.6).unwrap().threshold, None);
        assert_eq!(choose(&points, 1.01), None);
        // A mix that reaches 95% only by escalating keeps nothing it should: the 5% of wrong
        // answers it could afford are not kept.
        let all_wrong: Vec<Call> = (0..20).map(|i| call(-f64::from(i), false)).collect();
        assert_eq!(choose(&curve(&all_wrong), 0.95), None);
    }

    #[test]
    fn invalid_answers_escalate_whatever_the_threshold_and_unmeasured_never_fire() {
        let mut calls = known();
        calls[7].forced = true;
        calls.push(Call { value: None, ..call(0.0, false) });
        let p = point(&calls, None);
        assert_eq!(p.coverage, 8.0 / 9.0);
        assert_eq!(p.routed_accuracy, 6.0 / 9.0);
        let all = curve(&calls).last().copied().unwrap();
        assert_eq!(all.coverage, 1.0 / 9.0, "the unmeasured answer stays local");
    }

    #[test]
    fn targets() {
        assert!((Target::default().accuracy(0.8) - 0.76).abs() < 1e-12);
        assert_eq!(Target::Floor(0.9).accuracy(0.5), 0.9);
    }
}
