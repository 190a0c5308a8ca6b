//! The monitor's state, per task type: what was seen, sampled and judged, the recent
//! verdicts, the running test, the tier and its history. Pure data and functions (time comes
//! in as an argument); saved as JSON ([`MonitorState::save`]) after every change of tier and
//! every few verdicts, and read back at start-up.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::Path;

use hearth_router::MonitorConfig;
use serde::{Deserialize, Serialize};

use crate::stats::{Interval, Sprt, SprtParams, TestState, Z95, wilson};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Where a task type is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Its route's target (the local model).
    #[default]
    Local,
    /// Its route's `escalate_to`: moved up by the monitor.
    Up,
}

impl Tier {
    /// `local` or `up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Local => "local",
            Tier::Up => "up",
        }
    }
}

/// One move of a task type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierChange {
    /// When, ms since the Unix epoch.
    pub at_unix_ms: i64,
    /// The new tier.
    pub tier: Tier,
    /// Who serves the task type from now on.
    pub served_by: String,
    /// Agreement over the recent verdicts when it moved.
    pub agreement: f64,
    /// Their number.
    pub n: u64,
    /// Its 95% interval.
    pub interval: Option<Interval>,
}

/// One task type's record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskState {
    /// Answers the monitor could sample (local answers on the route's target; remote ones
    /// while moved up).
    pub seen: u64,
    /// Of them, today (UTC).
    pub seen_today: u64,
    /// Sampled for judging.
    pub sampled: u64,
    /// Judged (a verdict was reached).
    pub judged: u64,
    /// Verdicts that agreed.
    pub agreed: u64,
    /// Samples dropped: queue full, judge budget spent, judge failed.
    pub dropped: u64,
    /// The most recent verdicts (true: agreed), oldest first, at most `window`.
    pub recent: VecDeque<bool>,
    /// The running sequential test.
    pub sprt: Sprt,
    /// The test's last decision (`undecided` before the first).
    pub last_test: Option<TestState>,
    /// The tier now.
    pub tier: Tier,
    /// The route is pinned and the test said "below": it would have moved.
    pub held_by_pin: bool,
    /// Every move, oldest first.
    pub history: Vec<TierChange>,
}

impl TaskState {
    /// Agreement over the recent verdicts and its 95% Wilson interval.
    pub fn agreement(&self) -> (Option<f64>, Option<Interval>) {
        let n = self.recent.len() as u64;
        let agreed = self.recent.iter().filter(|a| **a).count() as u64;
        let rate = (n > 0).then(|| agreed as f64 / n as f64);
        (rate, wilson(agreed, n, Z95))
    }

    /// What the test says now: its last decision, or `undecided`.
    pub fn test_state(&self) -> TestState {
        self.last_test.unwrap_or(TestState::Undecided)
    }
}

/// The route facts a verdict needs.
#[derive(Debug, Clone, Copy)]
pub struct RouteFacts<'a> {
    /// The route's target.
    pub target: &'a str,
    /// Its `escalate_to` (no move without one).
    pub escalate_to: Option<&'a str>,
    /// Pinned: report only.
    pub pinned: bool,
}

/// The whole state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MonitorState {
    /// Per task type (lowercase).
    pub tasks: BTreeMap<String, TaskState>,
    /// The UTC day (days since the epoch) the daily counters are for.
    pub day: i64,
    /// Judge spend on `day`, USD.
    pub judge_usd_today: f64,
    /// Judge spend ever, USD.
    pub judge_usd_total: f64,
    /// Judge calls made.
    pub judge_calls: u64,
    /// Judge calls that failed.
    pub judge_errors: u64,
    /// Samples dropped because the queue was full.
    pub dropped_queue: u64,
    /// Samples dropped because the day's judge budget was spent.
    pub dropped_budget: u64,
}

impl MonitorState {
    /// Reads a saved state; a missing file is a fresh state.
    pub fn load(path: &Path) -> io::Result<MonitorState> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a monitor state file ({e}); move it away to start afresh",
                        path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(MonitorState::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the state atomically (a temporary file renamed over `path`).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }

    /// Task types now moved up.
    pub fn demoted(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().filter(|(_, t)| t.tier == Tier::Up).map(|(k, _)| k.as_str())
    }

    /// Starts a new UTC day if `now_ms` is in one: daily counters go to zero.
    pub fn roll_day(&mut self, now_ms: i64) {
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.day {
            self.day = day;
            self.judge_usd_today = 0.0;
            for t in self.tasks.values_mut() {
                t.seen_today = 0;
            }
        }
    }

    /// Counts an answer of `task` the monitor could sample and says whether to sample it:
    /// always within the day's first `min_daily_samples` of the type (stratification: rare
    /// types are judged too), else when `u` (uniform in [0, 1)) is below the rate —
    /// `sample_rate`, or `shadow_rate` while the type is moved up.
    pub fn offer(&mut self, task: &str, now_ms: i64, u: f64, config: &MonitorConfig) -> bool {
        self.roll_day(now_ms);
        let t = self.tasks.entry(task.to_owned()).or_default();
        let rate = if t.tier == Tier::Up { config.shadow_rate } else { config.sample_rate };
        let sample = t.seen_today < u64::from(config.min_daily_samples) || u < rate;
        t.seen += 1;
        t.seen_today += 1;
        if sample {
            t.sampled += 1;
        }
        sample
    }

    /// Records a verdict on `task`; returns the move it causes, if any. The test restarts
    /// after each decision; a "below" moves the type up (unless pinned or the route has no
    /// `escalate_to`), an "above" moves a moved-up type back.
    pub fn record(
        &mut self,
        task: &str,
        agree: bool,
        now_ms: i64,
        config: &MonitorConfig,
        route: RouteFacts<'_>,
    ) -> Option<TierChange> {
        let params = SprtParams {
            floor: config.agreement_floor,
            alternative: config.agreement_alternative,
            alpha: config.alpha,
            beta: config.beta,
        };
        let t = self.tasks.entry(task.to_owned()).or_default();
        t.judged += 1;
        t.agreed += u64::from(agree);
        t.recent.push_back(agree);
        while t.recent.len() > config.window.max(1) {
            t.recent.pop_front();
        }
        let decided = t.sprt.update(agree, &params);
        if decided == TestState::Undecided {
            return None;
        }
        t.last_test = Some(decided);
        let to = match decided {
            TestState::Below => Tier::Up,
            _ => Tier::Local,
        };
        if route.pinned {
            t.held_by_pin = decided == TestState::Below;
            return None;
        }
        let up = route.escalate_to?;
        if to == t.tier {
            return None;
        }
        t.tier = to;
        let (rate, interval) = t.agreement();
        let change = TierChange {
            at_unix_ms: now_ms,
            tier: to,
            served_by: if to == Tier::Up { up } else { route.target }.to_owned(),
            agreement: rate.unwrap_or(0.0),
            n: t.recent.len() as u64,
            interval,
        };
        t.history.push(change.clone());
        Some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: RouteFacts<'static> =
        RouteFacts { target: "small", escalate_to: Some("claude"), pinned: false };

    #[test]
    fn stratified_sampling_takes_each_days_first_answers_then_the_rate() {
        let config = MonitorConfig::new("claude");
        let mut s = MonitorState::default();
        let day = 20_000 * DAY_MS;
        let first: Vec<bool> = (0..12).map(|_| s.offer("rare", day, 0.99, &config)).collect();
        assert_eq!(first.iter().filter(|x| **x).count(), 10);
        assert!(s.offer("rare", day, 0.01, &config), "u below the rate samples");
        assert!(s.offer("rare", day + DAY_MS, 0.99, &config), "a new day samples again");
        assert_eq!(s.tasks["rare"].seen_today, 1);
        assert_eq!(s.tasks["rare"].sampled, 12);
    }

    #[test]
    fn disagreement_moves_up_and_agreement_moves_back_with_history() {
        let config = MonitorConfig::new("claude");
        let mut s = MonitorState::default();
        let mut moves = Vec::new();
        for i in 0..6 {
            moves.extend(s.record("classify", false, i, &config, ROUTE));
        }
        assert_eq!(moves.len(), 1);
        assert_eq!((moves[0].tier, moves[0].served_by.as_str()), (Tier::Up, "claude"));
        assert_eq!(s.demoted().collect::<Vec<_>>(), ["classify"]);
        for i in 0..13 {
            moves.extend(s.record("classify", true, 100 + i, &config, ROUTE));
        }
        assert_eq!(moves.len(), 2);
        assert_eq!((moves[1].tier, moves[1].served_by.as_str()), (Tier::Local, "small"));
        assert_eq!(s.tasks["classify"].history, moves);
        assert_eq!(s.demoted().count(), 0);
    }

    #[test]
    fn a_pinned_route_only_reports() {
        let config = MonitorConfig::new("claude");
        let mut s = MonitorState::default();
        let pinned = RouteFacts { pinned: true, ..ROUTE };
        for i in 0..20 {
            assert_eq!(s.record("extract", false, i, &config, pinned), None);
        }
        let t = &s.tasks["extract"];
        assert_eq!((t.tier, t.held_by_pin, t.test_state()), (Tier::Local, true, TestState::Below));
        assert_eq!(t.agreement().0, Some(0.0));
    }

    #[test]
    fn state_round_trips_through_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/monitor.json");
        let config = MonitorConfig::new("claude");
        let mut s = MonitorState::default();
        for i in 0..8 {
            s.record("classify", i % 3 == 0, i, &config, ROUTE);
        }
        s.save(&path).expect("saves");
        let mut back = MonitorState::load(&path).expect("loads");
        let (a, b) = (&mut back.tasks.get_mut("classify").expect("task").sprt, &s.tasks["classify"].sprt);
        assert!((a.llr - b.llr).abs() < 1e-12, "{a:?} vs {b:?}");
        a.llr = b.llr;
        assert_eq!(back, s);
        assert_eq!(
            MonitorState::load(&dir.path().join("none.json")).expect("fresh"),
            MonitorState::default()
        );
        std::fs::write(&path, "not json").expect("writes");
        assert!(MonitorState::load(&path).expect_err("garbage").to_string().contains("move it away"));
    }
}
