//! `hearth eval`'s report: per task type the local accuracy, the chosen threshold with its
//! coverage and accuracy, and the cost per 1,000 calls answered locally, all by the upper
//! tier, and routed; as an aligned text table, JSON (`--json`), and HTML with the curves
//! ([`crate::html`]).
//!
//! # JSON (`hearth eval --json OUT`)
//! Stable field names: `suite`, `config`, `when`, `upper` (`model`, `sent`, `assumption`),
//! `target`, `tasks` (task type → `n`, `scored`, `accuracy`, `upper_accuracy`,
//! `local_model`, `upper_model`, `signal`, `threshold`, `coverage`, `kept_accuracy`,
//! `routed_accuracy`, `cost_per_1k` {`local`, `all_remote`, `routed`}, `saving`, `current`,
//! `curves`, `errors`), `total` (the same over every task type) and `records` (each task's
//! answers, signals and scores). Fractions are 0..=1, money USD; `null` where there is nothing
//! to measure (`accuracy` of a task type none of whose answers could be scored).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use hearth_ledger::report::money;

use crate::record::{Record, Signal};
use crate::sweep::{self, Point, SignalCurve, Target};

/// The upper tier: what escalated calls go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upper {
    /// Its name in the config.
    pub model: String,
    /// Its answers were really fetched and scored.
    pub sent: bool,
    /// When not sent: the assumption the numbers rest on, said in the report.
    pub assumption: Option<String>,
}

/// USD per 1,000 calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    /// Every call answered locally.
    pub local: f64,
    /// Every call sent to the upper tier.
    pub all_remote: f64,
    /// Routed at the chosen threshold (the local attempt of an escalated call included).
    pub routed: f64,
}

/// One task type's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Tasks run.
    pub n: usize,
    /// Tasks scored (a `reference` task without a judge, or a failed call, is not).
    pub scored: usize,
    /// Accuracy of the local answers over the scored tasks.
    pub accuracy: Option<f64>,
    /// Accuracy of the upper tier's answers (1 when assumed).
    pub upper_accuracy: Option<f64>,
    /// The local model that answered.
    pub local_model: String,
    /// The upper tier.
    pub upper_model: String,
    /// The route key of the chosen signal (`min_mean_logprob`, …); `None`: no threshold
    /// reaches the target.
    pub signal: Option<String>,
    /// The chosen threshold (`None` with a signal: none needed).
    pub threshold: Option<f64>,
    /// Share kept local at the chosen threshold (0 when none reaches the target).
    pub coverage: f64,
    /// Accuracy of the kept-local answers there.
    pub kept_accuracy: Option<f64>,
    /// Accuracy of the routed mix there.
    pub routed_accuracy: Option<f64>,
    /// The accuracy the kept-local answers had to reach.
    pub target_accuracy: Option<f64>,
    /// Cost per 1,000 calls.
    pub cost_per_1k: Costs,
    /// Routed cost below all-remote, as a share of all-remote (`None`: all-remote is free).
    pub saving: Option<f64>,
    /// Where the config's present thresholds put this task type.
    pub current: Option<Point>,
    /// Every signal's curve.
    pub curves: Vec<SignalCurve>,
    /// Calls that failed.
    pub errors: usize,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The suite file(s).
    pub suite: String,
    /// The config file.
    pub config: String,
    /// When the run started (UTC).
    pub when: String,
    /// The upper tier.
    pub upper: Upper,
    /// The accuracy target.
    pub target: Target,
    /// Per task type.
    pub tasks: BTreeMap<String, TaskReport>,
    /// Over every task type (weighted by scored tasks).
    pub total: TaskReport,
    /// Every task.
    pub records: Vec<Record>,
}

impl EvalReport {
    /// Builds the report from the run's records. `escalates_now` says whether the config's
    /// present route would escalate a record.
    pub fn build(
        suite: String,
        config: String,
        when: String,
        upper: Upper,
        target: Target,
        records: Vec<Record>,
        escalates_now: &dyn Fn(&Record) -> bool,
    ) -> EvalReport {
        let mut by_task: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
        for r in &records {
            by_task.entry(r.task.clone()).or_default().push(r);
        }
        let mut tasks = BTreeMap::new();
        // Over all task types: each scored call at its task type's chosen point.
        let mut all = Totals::default();
        for (task, rs) in &by_task {
            let signals: Vec<Signal> = Signal::ALL
                .into_iter()
                .filter(|s| *s != Signal::LabelMargin || hearth_router::LABEL_TASKS.contains(&task.as_str()))
                .collect();
            let swept = sweep::sweep(rs, &signals, target);
            let errors = rs.iter().filter(|r| r.local.error.is_some() || r.upper.error.is_some()).count();
            let current = current_point(rs, escalates_now);
            let line = match &swept {
                Some(s) => {
                    let (signal, point) = match s.chosen {
                        Some((sig, p)) => (Some(sig.key().to_owned()), Some(p)),
                        None => (None, None),
                    };
                    let routed = point.map_or(s.upper_cost_per_1k, |p| p.cost_per_1k);
                    all.add(s.scored, point, s, routed);
                    TaskReport {
                        n: rs.len(),
                        scored: s.scored,
                        accuracy: Some(s.local_accuracy),
                        upper_accuracy: Some(s.upper_accuracy),
                        local_model: rs[0].local.model.clone(),
                        upper_model: rs[0].upper.model.clone(),
                        signal,
                        threshold: point.and_then(|p| p.threshold),
                        coverage: point.map_or(0.0, |p| p.coverage),
                        kept_accuracy: point.and_then(|p| p.kept_accuracy),
                        routed_accuracy: Some(point.map_or(s.upper_accuracy, |p| p.routed_accuracy)),
                        target_accuracy: Some(s.target_accuracy),
                        cost_per_1k: Costs {
                            local: s.local_cost_per_1k,
                            all_remote: s.upper_cost_per_1k,
                            routed,
                        },
                        saving: saving(routed, s.upper_cost_per_1k),
                        current,
                        curves: s.curves.clone(),
                        errors,
                    }
                }
                None => {
                    // Unscored (no judge): what it costs is still known.
                    let n = rs.len().max(1) as f64;
                    let local = rs.iter().map(|r| r.local.cost_usd).sum::<f64>() / n * 1000.0;
                    let all_remote = rs.iter().map(|r| r.upper.cost_usd).sum::<f64>() / n * 1000.0;
                    TaskReport {
                        n: rs.len(),
                        scored: 0,
                        local_model: rs[0].local.model.clone(),
                        upper_model: rs[0].upper.model.clone(),
                        cost_per_1k: Costs { local, all_remote, routed: all_remote },
                        errors,
                        ..TaskReport::empty()
                    }
                }
            };
            tasks.insert(task.clone(), line);
        }
        let mut total = all.report(records.len(), records.iter().filter(|r| r.local.error.is_some()).count());
        if total.scored == 0 && !records.is_empty() {
            // Nothing scored: what the calls cost is still known.
            let n = records.len() as f64;
            let local = records.iter().map(|r| r.local.cost_usd).sum::<f64>() / n * 1000.0;
            let all_remote = records.iter().map(|r| r.upper.cost_usd).sum::<f64>() / n * 1000.0;
            total.cost_per_1k = Costs { local, all_remote, routed: all_remote };
        }
        EvalReport { suite, config, when, upper, target, tasks, total, records }
    }

    /// The aligned text table, the assumption line and the target.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let header = [
            "TASK",
            "N",
            "SCORED",
            "LOCAL ACC",
            "UPPER ACC",
            "SIGNAL",
            "THRESHOLD",
            "COVERAGE",
            "KEPT ACC",
            "ROUTED ACC",
            "$/1K LOCAL",
            "$/1K REMOTE",
            "$/1K ROUTED",
            "SAVING",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| (*s).to_owned()).collect()];
        for (task, t) in &self.tasks {
            rows.push(row(task, t));
        }
        rows.push(row("all", &self.total));
        let widths: Vec<usize> =
            (0..header.len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
        for r in &rows {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if i == 0 || i == 5 {
                    let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
                } else {
                    let _ = write!(line, "{}{cell}  ", " ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "\nlocal: {}; upper tier: {}; target: {}; a threshold escalates answers strictly below it.",
            self.local_models(),
            self.upper.model,
            self.target.describe()
        );
        match &self.upper.assumption {
            Some(a) => {
                let _ = writeln!(out, "assumed, not measured: {a}");
            }
            None => {
                let _ = writeln!(out, "the upper tier's answers were sent for real and scored.");
            }
        }
        for (task, t) in &self.tasks {
            if t.scored == 0 {
                let _ = writeln!(
                    out,
                    "{task}: none of its {} tasks could be scored (reference tasks need a judge: configure a remote and its API key).",
                    t.n
                );
            } else if t.signal.is_none() {
                let _ = writeln!(
                    out,
                    "{task}: no threshold keeps the target; send it to {} (or try a bigger local model).",
                    t.upper_model
                );
            } else if t.saving.is_some_and(|s| s < 0.0) {
                let _ = writeln!(
                    out,
                    "{task}: routed costs more than sending everything to {} (an escalated call pays its local attempt too): send it there, or run the local model cheaper.",
                    t.upper_model
                );
            }
            if let Some(c) = t.current {
                let _ = writeln!(
                    out,
                    "{task}: with the config's present thresholds: coverage {}, routed accuracy {}.",
                    pct(c.coverage),
                    pct(c.routed_accuracy)
                );
            }
        }
        out
    }

    fn local_models(&self) -> String {
        let mut names: Vec<&str> = self.tasks.values().map(|t| t.local_model.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.join(", ")
    }
}

fn row(task: &str, t: &TaskReport) -> Vec<String> {
    let opt = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), pct);
    vec![
        task.to_owned(),
        t.n.to_string(),
        t.scored.to_string(),
        opt(t.accuracy),
        opt(t.upper_accuracy),
        t.signal.clone().unwrap_or_else(|| {
            if t.scored > 0 && task != "all" { "(all remote)".into() } else { "—".into() }
        }),
        t.threshold_text(),
        if t.scored > 0 { pct(t.coverage) } else { "—".into() },
        opt(t.kept_accuracy),
        opt(t.routed_accuracy),
        money(t.cost_per_1k.local),
        money(t.cost_per_1k.all_remote),
        money(t.cost_per_1k.routed),
        opt(t.saving),
    ]
}

fn pct(f: f64) -> String {
    format!("{:.1}%", f * 100.0)
}

fn saving(routed: f64, all_remote: f64) -> Option<f64> {
    (all_remote > 0.0).then(|| 1.0 - routed / all_remote)
}

fn current_point(records: &[&Record], escalates_now: &dyn Fn(&Record) -> bool) -> Option<Point> {
    let scored: Vec<&&Record> = records.iter().filter(|r| r.local.correct.is_some()).collect();
    if scored.is_empty() {
        return None;
    }
    let n = scored.len() as f64;
    let (mut kept, mut kept_right, mut right, mut cost) = (0usize, 0usize, 0usize, 0.0);
    for r in &scored {
        cost += r.local.cost_usd;
        if escalates_now(r) {
            cost += r.upper.cost_usd;
            right += usize::from(r.upper.correct == Some(true));
        } else {
            kept += 1;
            let ok = usize::from(r.local.correct == Some(true));
            kept_right += ok;
            right += ok;
        }
    }
    Some(Point {
        threshold: None,
        coverage: kept as f64 / n,
        kept_accuracy: (kept > 0).then(|| kept_right as f64 / kept as f64),
        routed_accuracy: right as f64 / n,
        cost_per_1k: cost / n * 1000.0,
    })
}

impl TaskReport {
    /// The chosen threshold as the table shows it: the value, `none` (none needed), or `—`
    /// (no threshold keeps the target).
    pub fn threshold_text(&self) -> String {
        match (&self.signal, self.threshold) {
            (Some(_), Some(v)) => format!("{v:.4}"),
            (Some(_), None) => "none".into(),
            _ => "—".into(),
        }
    }

    fn empty() -> TaskReport {
        TaskReport {
            n: 0,
            scored: 0,
            accuracy: None,
            upper_accuracy: None,
            local_model: String::new(),
            upper_model: String::new(),
            signal: None,
            threshold: None,
            coverage: 0.0,
            kept_accuracy: None,
            routed_accuracy: None,
            target_accuracy: None,
            cost_per_1k: Costs::default(),
            saving: None,
            current: None,
            curves: Vec::new(),
            errors: 0,
        }
    }
}

/// Sums over task types, each scored call at its type's chosen point.
#[derive(Default)]
struct Totals {
    scored: f64,
    local_right: f64,
    upper_right: f64,
    kept: f64,
    kept_right: f64,
    routed_right: f64,
    local_cost: f64,
    upper_cost: f64,
    routed_cost: f64,
}

impl Totals {
    fn add(&mut self, scored: usize, point: Option<Point>, s: &sweep::TaskSweep, routed_per_1k: f64) {
        let n = scored as f64;
        self.scored += n;
        self.local_right += s.local_accuracy * n;
        self.upper_right += s.upper_accuracy * n;
        let coverage = point.map_or(0.0, |p| p.coverage);
        self.kept += coverage * n;
        self.kept_right += point.and_then(|p| p.kept_accuracy).unwrap_or(0.0) * coverage * n;
        self.routed_right += point.map_or(s.upper_accuracy, |p| p.routed_accuracy) * n;
        self.local_cost += s.local_cost_per_1k * n;
        self.upper_cost += s.upper_cost_per_1k * n;
        self.routed_cost += routed_per_1k * n;
    }

    fn report(&self, n: usize, errors: usize) -> TaskReport {
        let per = |x: f64| if self.scored > 0.0 { x / self.scored } else { 0.0 };
        let some = |x: f64| (self.scored > 0.0).then(|| per(x));
        let routed = per(self.routed_cost);
        let all_remote = per(self.upper_cost);
        TaskReport {
            n,
            scored: self.scored as usize,
            accuracy: some(self.local_right),
            upper_accuracy: some(self.upper_right),
            coverage: per(self.kept),
            kept_accuracy: (self.kept > 0.0).then(|| self.kept_right / self.kept),
            routed_accuracy: some(self.routed_right),
            cost_per_1k: Costs { local: per(self.local_cost), all_remote, routed },
            saving: saving(routed, all_remote),
            errors,
            ..TaskReport::empty()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Attempt;
    use hearth_router::{Evidence, Finish};

    fn record(task: &str, mean: f64, local_ok: bool) -> Record {
        Record {
            id: format!("{task}{mean}"),
            task: task.into(),
            category: None,
            scorer: "label".into(),
            local: Attempt { model: "small".into(), correct: Some(local_ok), ..Attempt::default() },
            evidence: Some(Evidence::of_answer("x", &[mean as f32], Finish::Stop, false, None)),
            invalid_output: false,
            upper: Attempt {
                model: "claude".into(),
                correct: Some(true),
                cost_usd: 0.002,
                estimated: true,
                ..Attempt::default()
            },
        }
    }

    #[test]
    fn the_report_picks_thresholds_and_prices_the_mix() {
        let mut records: Vec<Record> =
            (0..8).map(|i| record("classify", -0.1 * f64::from(i), i < 6)).collect();
        records.push(Record {
            local: Attempt { correct: None, ..records[0].local.clone() },
            id: "u".into(),
            ..records[0].clone()
        });
        records.extend((0..4).map(|i| record("extract", -0.2 * f64::from(i), true)));
        let upper = Upper { model: "claude".into(), sent: false, assumption: Some("right".into()) };
        let r = EvalReport::build(
            "s".into(),
            "c".into(),
            "now".into(),
            upper,
            Target::default(),
            records,
            &|_| false,
        );
        let c = &r.tasks["classify"];
        assert_eq!((c.n, c.scored), (9, 8));
        assert_eq!(c.accuracy, Some(0.75));
        assert_eq!(c.signal.as_deref(), Some("min_mean_logprob"));
        // Escalating the two least confident (both wrong) reaches 100%.
        assert!((c.threshold.unwrap() - (-0.5f32) as f64).abs() < 1e-6, "{:?}", c.threshold);
        assert_eq!(c.coverage, 0.75);
        assert!((c.cost_per_1k.routed - 0.5).abs() < 1e-9 && (c.cost_per_1k.all_remote - 2.0).abs() < 1e-9);
        assert!((c.saving.unwrap() - 0.75).abs() < 1e-9);
        assert_eq!(c.current.unwrap().coverage, 1.0);
        let e = &r.tasks["extract"];
        assert_eq!((e.threshold, e.coverage, e.saving), (None, 1.0, Some(1.0)));
        assert!((r.total.coverage - 10.0 / 12.0).abs() < 1e-9);
        assert_eq!(r.total.routed_accuracy, Some(1.0));
        let text = r.to_text();
        assert!(text.contains("classify") && text.contains("assumed, not measured: right"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["tasks"]["classify"]["n"], 9);
        assert_eq!(json["tasks"]["classify"]["accuracy"], 0.75);
    }
}
