//! `[monitor]`: the quality monitor's settings (the monitor itself is the `hearth-monitor`
//! crate; the router only reads which task types it has moved up, through [`crate::Watch`]).
//!
//! ```toml
//! [monitor]
//! judge = "claude"         # a [[remotes]] name
//! sample_rate = 0.05
//! agreement_floor = 0.85
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::RouterConfig;
use crate::validate::Problem;

/// `[monitor]`. Every key but `judge` has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// The remote that answers sampled requests (compared exactly for `exact_tasks`) and
    /// judges open-ended answers against its own.
    pub judge: String,
    /// Share of each task type's local answers that are judged (0..=1).
    #[serde(default = "default_sample_rate")]
    pub sample_rate: f64,
    /// The sequential test's null hypothesis: agreement at or above this keeps (or brings
    /// back) a task type on its local route.
    #[serde(default = "default_floor")]
    pub agreement_floor: f64,
    /// The test's alternative: agreement at or below this moves a task type up to its
    /// route's `escalate_to`. Below `agreement_floor`.
    #[serde(default = "default_alternative")]
    pub agreement_alternative: f64,
    /// The test's chance of moving a task type whose agreement is exactly `agreement_floor`
    /// (its false-move rate per decision).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// The test's chance of not moving one whose agreement is exactly `agreement_alternative`.
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// Stratification: each task type's first this many answers of every UTC day are sampled
    /// whatever the rate, so rare task types are judged too.
    #[serde(default = "default_min_daily_samples")]
    pub min_daily_samples: u32,
    /// Share of a moved-up task type's (remote) answers that are also generated locally in
    /// the background and compared, so the type can move back down (0..=1).
    #[serde(default = "default_shadow_rate")]
    pub shadow_rate: f64,
    /// Sampled answers waiting for the judge; when it is full new samples are dropped (and
    /// counted), never waited for.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Judge spend allowed per UTC day (USD); past it samples are dropped (and counted).
    #[serde(default = "default_daily_budget_usd")]
    pub daily_budget_usd: f64,
    /// Task types compared exactly (labels, JSON fields) with the judge's own answer to the
    /// same request; every other type gets a pairwise judge prompt, asked in both orders.
    #[serde(default = "default_exact_tasks")]
    pub exact_tasks: Vec<String>,
    /// Recent verdicts per task type behind the reported agreement and its interval.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Where the monitor keeps its state (verdict counts, tests, tiers, history) across
    /// restarts; default `monitor.json` beside the ledger's SQLite file.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    /// `max_tokens` of a judge call.
    #[serde(default = "default_judge_max_tokens")]
    pub judge_max_tokens: u32,
    /// Send judge calls through Anthropic's Message Batches API: half the price, verdicts
    /// within 24 hours instead of seconds (an `anthropic` judge only).
    #[serde(default)]
    pub batch: bool,
    /// With `batch`: how long a judge call waits for others to share its batch.
    #[serde(default = "default_batch_max_wait_secs")]
    pub batch_max_wait_secs: u64,
    /// With `batch`: seconds between two polls of a batch that has not ended.
    #[serde(default = "default_batch_poll_secs")]
    pub batch_poll_secs: u64,
}

impl MonitorConfig {
    /// A monitor judged by `judge`, every other key at its default.
    pub fn new(judge: impl Into<String>) -> MonitorConfig {
        MonitorConfig {
            judge: judge.into(),
            sample_rate: default_sample_rate(),
            agreement_floor: default_floor(),
            agreement_alternative: default_alternative(),
            alpha: default_alpha(),
            beta: default_beta(),
            min_daily_samples: default_min_daily_samples(),
            shadow_rate: default_shadow_rate(),
            queue: default_queue(),
            daily_budget_usd: default_daily_budget_usd(),
            exact_tasks: default_exact_tasks(),
            window: default_window(),
            state_file: None,
            judge_max_tokens: default_judge_max_tokens(),
            batch: false,
            batch_max_wait_secs: default_batch_max_wait_secs(),
            batch_poll_secs: default_batch_poll_secs(),
        }
    }

    /// Whether `task` is compared exactly (case-insensitive).
    pub fn is_exact(&self, task: &str) -> bool {
        self.exact_tasks.iter().any(|t| t.eq_ignore_ascii_case(task))
    }

    pub(crate) fn check(&self, config: &RouterConfig, problems: &mut Vec<Problem>) {
        let key = |field: &str| format!("monitor.{field}");
        if self.batch
            && let Some(judge) = config.remote(&self.judge)
            && judge.provider != crate::config::Provider::Anthropic
        {
            problems.push(Problem::Invalid {
                key: key("batch"),
                message: format!(
                    "the judge {:?} is an {} remote; the Message Batches API is Anthropic's (set batch = false)",
                    self.judge,
                    judge.provider.as_str()
                ),
            });
        }
        if self.batch && self.batch_poll_secs == 0 {
            problems.push(Problem::Invalid {
                key: key("batch_poll_secs"),
                message: "0: poll at least every second".into(),
            });
        }
        if config.remote(&self.judge).is_none() {
            problems.push(Problem::UnknownName {
                key: key("judge"),
                name: self.judge.clone(),
                known: config.remotes.iter().map(|r| r.name.clone()).collect(),
            });
        }
        let probabilities = [
            ("sample_rate", self.sample_rate, "a share, 0 to 1"),
            ("shadow_rate", self.shadow_rate, "a share, 0 to 1"),
            ("agreement_floor", self.agreement_floor, "an agreement rate, above 0 and below 1"),
            ("agreement_alternative", self.agreement_alternative, "an agreement rate, above 0 and below 1"),
            ("alpha", self.alpha, "an error rate, above 0 and below 0.5"),
            ("beta", self.beta, "an error rate, above 0 and below 0.5"),
        ];
        for (field, value, expected) in probabilities {
            let ok = match field {
                "sample_rate" | "shadow_rate" => (0.0..=1.0).contains(&value),
                "alpha" | "beta" => value > 0.0 && value < 0.5,
                _ => value > 0.0 && value < 1.0,
            };
            if !ok {
                problems.push(Problem::OutOfRange { key: key(field), value, expected });
            }
        }
        if self.agreement_alternative >= self.agreement_floor {
            problems.push(Problem::Invalid {
                key: key("agreement_alternative"),
                message: format!(
                    "{} is not below agreement_floor ({}): the test needs a lower agreement to tell apart (e.g. floor 0.85, alternative 0.75)",
                    self.agreement_alternative, self.agreement_floor
                ),
            });
        }
        if !(self.daily_budget_usd.is_finite() && self.daily_budget_usd >= 0.0) {
            problems.push(Problem::OutOfRange {
                key: key("daily_budget_usd"),
                value: self.daily_budget_usd,
                expected: "USD, 0 or more",
            });
        }
        if self.queue == 0 {
            problems.push(Problem::Invalid {
                key: key("queue"),
                message: "0: at least one sample must fit".into(),
            });
        }
        if self.window < 10 {
            problems.push(Problem::Invalid {
                key: key("window"),
                message: format!("{}: an interval needs at least 10 verdicts", self.window),
            });
        }
        if self.judge_max_tokens == 0 {
            problems.push(Problem::Invalid {
                key: key("judge_max_tokens"),
                message: "0: the judge must answer".into(),
            });
        }
    }
}

fn default_sample_rate() -> f64 {
    0.05
}
fn default_floor() -> f64 {
    0.85
}
fn default_alternative() -> f64 {
    0.75
}
fn default_alpha() -> f64 {
    0.05
}
fn default_beta() -> f64 {
    0.2
}
fn default_min_daily_samples() -> u32 {
    10
}
fn default_shadow_rate() -> f64 {
    0.02
}
fn default_queue() -> usize {
    64
}
fn default_daily_budget_usd() -> f64 {
    1.0
}
fn default_exact_tasks() -> Vec<String> {
    ["classify", "tag", "extract"].map(str::to_owned).to_vec()
}
fn default_window() -> usize {
    200
}
fn default_judge_max_tokens() -> u32 {
    1024
}
fn default_batch_max_wait_secs() -> u64 {
    60
}
fn default_batch_poll_secs() -> u64 {
    60
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        [[models]]
        name = "small"
        [[remotes]]
        name = "claude"
        provider = "anthropic"
        model = "claude-haiku-4-5"
        input_per_mtok = 1.0
        output_per_mtok = 5.0
        [[routes]]
        tasks = ["classify"]
        target = "small"
        escalate_to = "claude"
        pinned = true
    "#;

    #[test]
    fn the_issues_section_parses_as_written_with_defaults() {
        let text = format!(
            "{BASE}\n[monitor]\njudge = \"claude\"                 # a remote's name\nsample_rate = 0.05\nagreement_floor = 0.85\n"
        );
        let config = RouterConfig::from_toml_str(&text).expect("parses");
        config.validate(&|_| true).expect("valid");
        let m = config.monitor.expect("monitor");
        assert_eq!(m, MonitorConfig::new("claude"));
        assert!(config.routes[0].pinned);
        assert!(m.is_exact("Classify") && !m.is_exact("summarize"));
    }

    #[test]
    fn bad_values_name_their_keys() {
        let text = format!(
            "{BASE}\n[monitor]\njudge = \"nobody\"\nsample_rate = 1.5\nagreement_floor = 0.7\nalpha = 0.6\nqueue = 0\n"
        );
        let config = RouterConfig::from_toml_str(&text).expect("parses");
        let err = config.validate(&|_| true).expect_err("invalid").to_string();
        for key in [
            "monitor.judge",
            "monitor.sample_rate",
            "monitor.agreement_alternative",
            "monitor.alpha",
            "monitor.queue",
        ] {
            assert!(err.contains(key), "{key} missing from {err}");
        }
        let typo = format!("{BASE}\n[monitor]\njudge = \"claude\"\nsample_rat = 0.1\n");
        assert!(RouterConfig::from_toml_str(&typo).is_err());
    }
}
