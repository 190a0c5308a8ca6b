//! `hearth report`: what the ledger's calls cost, what the baseline model would have charged,
//! and how they were served, per group.
//!
//! [`Report::build`] aggregates a period's calls (as [`Store::calls_since`] returns them) into
//! one [`Group`] row per task, model, route, tag, day or week ([`GroupBy`]), a total, the
//! weeks (for the cost chart) and the route mix per task. It is pure: the caller reads the
//! rows and passes the period. Then [`Report::to_text`] (an aligned terminal table),
//! serde (`--json`) or [`Report::to_html`] (one self-contained page with inline SVG charts).
//!
//! # What the numbers mean
//!
//! - A *call* is a row: an escalated request counts its local attempt and the remote answer.
//! - *Saved* is baseline minus cost over the calls that have a baseline
//!   (`baseline_cost_usd` set); calls without one count in `cost_usd` but not in savings.
//!   *Saved %* is saved over that baseline.
//! - Latency percentiles are nearest-rank over the group's calls.
//! - An escalated call is counted by the reason of the call that replaced it (the row whose
//!   `escalation_parent` is its `request_id`), else by its own reason.
//! - Judge agreement: the share of a group's judged calls the quality monitor's judge agreed with
//!   (its rows: task `judge`, tags `judged`, `verdict`); `None` ("—") when none was judged.
//!
//! # JSON (`hearth report --json`)
//!
//! The [`Report`] as serde writes it; these field names are stable:
//! `ledger`, `since_unix_ms`, `until_unix_ms`, `since`, `until` (UTC text), `by`, `groups`,
//! `total`, `weeks` (each a [`Group`]: `key`, `calls`, `local_calls`, `local_fraction`,
//! `input_tokens`, `output_tokens`, `cost_usd`, `baseline_cost_usd`, `baselined_calls`,
//! `saved_usd`, `saved_fraction`, `latency_p50_ms`, `latency_p95_ms`, `cache_hits`,
//! `cache_hit_rate`, `escalated`, `escalations` (reason → calls), `errors`,
//! `judge_agreement`) and `route_mix` (each a [`RouteMix`]: `task`, `calls`, `routes` of
//! `route`, `local`, `calls`). Fractions are 0..=1, money USD, latency milliseconds; `null`
//! where there is nothing to measure.
//!
//! [`Store::calls_since`]: crate::Store::calls_since

mod date;
mod format;
mod group;
mod html;
mod svg;
#[cfg(test)]
mod tests;
mod text;

use serde::Serialize;

pub use date::{day_key, minute_text, parse_since, week_key};
pub use format::money;
pub use group::{
    Group, GroupBy, NONE, RouteMix, RouteShare, UNTAGGED, groups, nearest_rank, route_mix, total,
};
pub use html::STYLE;
pub use svg::{esc, ticks};

use crate::call::Call;

/// The report's own errors: arguments it cannot read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `--since` is neither a span nor a date.
    #[error(
        "cannot read the period start {given:?}: give a span back from now (`30m`, `24h`, `7d`, `2w`) or an RFC 3339 date or date-time (`2026-11-01`, `2026-11-01T09:30:00Z`)"
    )]
    Since {
        /// What was given.
        given: String,
    },
    /// `--by` names no grouping.
    #[error("cannot group by {given:?}: use task, model, route, tag, day or week")]
    GroupBy {
        /// What was given.
        given: String,
    },
}

/// A period's calls, aggregated. See the module docs for the meaning of each number and the
/// JSON field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Where the calls were read from (the ledger file), when the caller says.
    pub ledger: Option<String>,
    /// The period's start, milliseconds since the Unix epoch.
    pub since_unix_ms: i64,
    /// The period's end (when the report was made).
    pub until_unix_ms: i64,
    /// The start as UTC text (`2026-11-01 00:00 UTC`).
    pub since: String,
    /// The end as UTC text.
    pub until: String,
    /// The grouping of `groups`.
    pub by: GroupBy,
    /// One row per group.
    pub groups: Vec<Group>,
    /// Every call once.
    pub total: Group,
    /// One row per ISO week, oldest first (whatever `by` is: the cost chart's data).
    pub weeks: Vec<Group>,
    /// Per task, the calls by route (the route-mix chart's data).
    pub route_mix: Vec<RouteMix>,
}

impl Report {
    /// Aggregates `calls`, the rows of the period `since_unix_ms..until_unix_ms`, by `by`.
    pub fn build(calls: &[Call], by: GroupBy, since_unix_ms: i64, until_unix_ms: i64) -> Report {
        Report {
            ledger: None,
            since_unix_ms,
            until_unix_ms,
            since: date::minute_text(since_unix_ms),
            until: date::minute_text(until_unix_ms),
            by,
            groups: groups(calls, by),
            total: total(calls),
            weeks: groups(calls, GroupBy::Week),
            route_mix: route_mix(calls),
        }
    }

    /// Names the ledger the calls came from (shown in the header).
    pub fn with_ledger(mut self, ledger: impl Into<String>) -> Report {
        self.ledger = Some(ledger.into());
        self
    }

    /// The report as an aligned table for a terminal.
    pub fn to_text(&self) -> String {
        text::render(self)
    }

    /// The report as one self-contained HTML page (inline SVG charts and CSS; no scripts, no
    /// external resources).
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}
