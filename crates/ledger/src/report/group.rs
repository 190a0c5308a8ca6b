//! Aggregation: the calls of a period, grouped, become [`Group`] rows. Pure: no clock, no
//! store.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use serde::Serialize;

use super::{ReportError, date};
use crate::call::{Call, Status};

/// The key for calls without a task, a model or a route.
pub const NONE: &str = "(none)";
/// The key for calls without tags (grouping by tag).
pub const UNTAGGED: &str = "(untagged)";

/// How the report groups calls (`--by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The task type (`classify`, `extract`, …); calls without one under `(none)`.
    #[default]
    Task,
    /// The model that answered (`response_model`, else the requested model).
    Model,
    /// The target that answered (`route`).
    Route,
    /// One group per `key=value` tag: a call with several tags counts in each, a call without
    /// tags under `(untagged)` (so the groups may add up to more than the total).
    Tag,
    /// The UTC day, `2026-11-01`.
    Day,
    /// The ISO week (UTC, weeks start on Monday), `2026-W48`.
    Week,
}

impl GroupBy {
    /// Every grouping, in the order `--help` lists them.
    pub const ALL: [GroupBy; 6] =
        [GroupBy::Task, GroupBy::Model, GroupBy::Route, GroupBy::Tag, GroupBy::Day, GroupBy::Week];

    /// The name `--by` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Task => "task",
            GroupBy::Model => "model",
            GroupBy::Route => "route",
            GroupBy::Tag => "tag",
            GroupBy::Day => "day",
            GroupBy::Week => "week",
        }
    }

    /// Groups by time are listed oldest first; the others by calls, most first.
    pub fn is_time(self) -> bool {
        matches!(self, GroupBy::Day | GroupBy::Week)
    }

    /// The groups `call` belongs to (several only for [`GroupBy::Tag`]).
    pub fn keys(self, call: &Call) -> Vec<String> {
        let or = |s: &str, none: &str| if s.is_empty() { none.to_owned() } else { s.to_owned() };
        match self {
            GroupBy::Task => vec![or(call.task.as_deref().unwrap_or(""), NONE)],
            GroupBy::Model => {
                vec![or(call.response_model.as_deref().unwrap_or(&call.request_model), NONE)]
            }
            GroupBy::Route => vec![or(&call.route, NONE)],
            GroupBy::Tag if call.tags.is_empty() => vec![UNTAGGED.to_owned()],
            GroupBy::Tag => call.tags.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            GroupBy::Day => vec![date::day_key(call.time_unix_ms)],
            GroupBy::Week => vec![date::week_key(call.time_unix_ms)],
        }
    }
}

impl FromStr for GroupBy {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<GroupBy, ReportError> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ReportError::GroupBy { given: s.to_owned() })
    }
}

/// One row of the report: the calls of one group (or of all, for the total).
///
/// Rates and shares are fractions in 0..=1 (`0.25` is 25%). Money is USD. A call with no token
/// counts adds 0 tokens.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Group {
    /// The group's key (`classify`, `feature=invoices`, `2026-W48`, …; `total` for the total).
    pub key: String,
    /// Rows: each attempt of an escalated request is one.
    pub calls: u64,
    /// Calls a local model answered.
    pub local_calls: u64,
    /// `local_calls / calls`.
    pub local_fraction: f64,
    /// Input tokens (including prompt-cache reads and writes).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// What the calls cost.
    pub cost_usd: f64,
    /// What the baseline model would have charged, summed over the calls that have a baseline.
    pub baseline_cost_usd: f64,
    /// How many calls have a baseline.
    pub baselined_calls: u64,
    /// Baseline minus cost, over the calls that have a baseline only (a call without one
    /// saved nothing and cost nothing here).
    pub saved_usd: f64,
    /// `saved_usd / baseline_cost_usd`; `None` without a baseline.
    pub saved_fraction: Option<f64>,
    /// Median latency, nearest rank (the smallest latency at or above half of the calls).
    pub latency_p50_ms: Option<u64>,
    /// 95th-percentile latency, nearest rank.
    pub latency_p95_ms: Option<u64>,
    /// Calls answered from the semantic cache.
    pub cache_hits: u64,
    /// `cache_hits / calls`.
    pub cache_hit_rate: f64,
    /// Calls whose answer fell short and was escalated.
    pub escalated: u64,
    /// `escalated` by reason: the reason of the call that replaced the escalated one (the
    /// call naming it as `escalation_parent`, e.g. `low_confidence`), else the escalated
    /// call's own reason.
    pub escalations: BTreeMap<String, u64>,
    /// Calls that failed.
    pub errors: u64,
    /// Share of judged calls where the judge agreed with the answer (the quality monitor's
    /// rows: task `judge`, tags `judged` = the call's `request_id` and `verdict`); `None`
    /// when none of the group's calls was judged.
    pub judge_agreement: Option<f64>,
    /// The group's calls with a verdict.
    pub judged: u64,
}

/// The running sums of one group.
#[derive(Debug, Default)]
pub(crate) struct Acc {
    calls: u64,
    local_calls: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
    baseline_cost_usd: f64,
    baselined_calls: u64,
    saved_usd: f64,
    latencies_ms: Vec<u64>,
    cache_hits: u64,
    escalations: BTreeMap<String, u64>,
    errors: u64,
    judged: u64,
    agreed: u64,
}

impl Acc {
    /// Adds `call`; `escalation_reason` is its reason as [`Escalations::reason`] gives it.
    pub(crate) fn add(&mut self, call: &Call, escalation_reason: Option<&str>, verdict: Option<bool>) {
        if let Some(agree) = verdict {
            self.judged += 1;
            self.agreed += u64::from(agree);
        }
        self.calls += 1;
        self.local_calls += u64::from(call.local);
        self.input_tokens += call.input_tokens.unwrap_or(0);
        self.output_tokens += call.output_tokens.unwrap_or(0);
        self.cost_usd += call.cost_usd;
        if let Some(baseline) = call.baseline_cost_usd {
            self.baseline_cost_usd += baseline;
            self.baselined_calls += 1;
            self.saved_usd += baseline - call.cost_usd;
        }
        self.latencies_ms.push(call.latency_ms);
        self.cache_hits += u64::from(call.semantic_cache_hit);
        if let Some(reason) = escalation_reason {
            *self.escalations.entry(reason.to_owned()).or_default() += 1;
        }
        self.errors += u64::from(call.status == Status::Error);
    }

    /// The group's row.
    pub(crate) fn finish(mut self, key: String) -> Group {
        self.latencies_ms.sort_unstable();
        let share = |n: u64| if self.calls == 0 { 0.0 } else { n as f64 / self.calls as f64 };
        Group {
            local_fraction: share(self.local_calls),
            cache_hit_rate: share(self.cache_hits),
            saved_fraction: (self.baseline_cost_usd > 0.0).then(|| self.saved_usd / self.baseline_cost_usd),
            latency_p50_ms: nearest_rank(&self.latencies_ms, 50),
            latency_p95_ms: nearest_rank(&self.latencies_ms, 95),
            key,
            calls: self.calls,
            local_calls: self.local_calls,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cost_usd: self.cost_usd,
            baseline_cost_usd: self.baseline_cost_usd,
            baselined_calls: self.baselined_calls,
            saved_usd: self.saved_usd,
            cache_hits: self.cache_hits,
            escalated: self.escalations.values().sum(),
            escalations: self.escalations,
            errors: self.errors,
            judge_agreement: (self.judged > 0).then(|| self.agreed as f64 / self.judged as f64),
            judged: self.judged,
        }
    }
}

/// The `percent`th percentile of `sorted` by nearest rank: the value at rank
/// ⌈percent/100 × n⌉ (1-based); `None` when empty.
pub fn nearest_rank(sorted: &[u64], percent: u32) -> Option<u64> {
    let n = sorted.len() as u64;
    let rank = (u64::from(percent) * n).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank).ok()? - 1).copied()
}

/// The quality monitor's verdict on each judged call: its judge rows (task `judge`) carry
/// `judged` (the call's `request_id`) and `verdict` (`agree`, `disagree`; `none` without one).
#[derive(Debug)]
pub(crate) struct Verdicts<'a>(HashMap<&'a str, bool>);

impl<'a> Verdicts<'a> {
    pub(crate) fn new(calls: &'a [Call]) -> Verdicts<'a> {
        let mut map = HashMap::new();
        for c in calls.iter().filter(|c| c.task.as_deref() == Some("judge")) {
            let agree = match c.tags.get("verdict").map(String::as_str) {
                Some("agree") => true,
                Some("disagree") => false,
                _ => continue,
            };
            if let Some(judged) = c.tags.get("judged") {
                map.insert(judged.as_str(), agree);
            }
        }
        Verdicts(map)
    }

    /// The verdict on `call`, if it was judged.
    pub(crate) fn of(&self, call: &Call) -> Option<bool> {
        self.0.get(call.request_id.as_str()).copied()
    }
}

/// Which reason each escalated call is counted under.
#[derive(Debug)]
pub(crate) struct Escalations<'a> {
    /// `request_id` of an escalated call → the reason of the first call that names it as
    /// its `escalation_parent`.
    replaced_by: HashMap<&'a str, &'a str>,
}

impl<'a> Escalations<'a> {
    pub(crate) fn new(calls: &'a [Call]) -> Escalations<'a> {
        let mut replaced_by = HashMap::new();
        for c in calls {
            if let Some(parent) = &c.escalation_parent {
                replaced_by.entry(parent.as_str()).or_insert(c.reason.as_str());
            }
        }
        Escalations { replaced_by }
    }

    /// The reason `call` is counted under, if it was escalated.
    pub(crate) fn reason(&self, call: &'a Call) -> Option<&'a str> {
        (call.status == Status::Escalated).then(|| {
            let reason = self.replaced_by.get(call.request_id.as_str()).copied().unwrap_or(&call.reason);
            if reason.is_empty() { "(none)" } else { reason }
        })
    }
}

/// `calls` grouped by `by`, each group's row; time groups oldest first, the others by calls
/// (most first), then by key.
pub fn groups(calls: &[Call], by: GroupBy) -> Vec<Group> {
    let escalations = Escalations::new(calls);
    let verdicts = Verdicts::new(calls);
    let mut accs: BTreeMap<String, Acc> = BTreeMap::new();
    for c in calls {
        let reason = escalations.reason(c);
        let verdict = verdicts.of(c);
        for key in by.keys(c) {
            accs.entry(key).or_default().add(c, reason, verdict);
        }
    }
    let mut rows: Vec<Group> = accs.into_iter().map(|(k, a)| a.finish(k)).collect();
    if !by.is_time() {
        rows.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.key.cmp(&b.key)));
    }
    rows
}

/// All of `calls` as one row, keyed `total` (each call once, whatever the grouping).
pub fn total(calls: &[Call]) -> Group {
    let escalations = Escalations::new(calls);
    let verdicts = Verdicts::new(calls);
    let mut acc = Acc::default();
    calls.iter().for_each(|c| acc.add(c, escalations.reason(c), verdicts.of(c)));
    acc.finish("total".to_owned())
}

/// The calls of one task type by the route that answered them (for the route-mix chart).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteMix {
    /// The task (`(none)` without one).
    pub task: String,
    /// Its calls.
    pub calls: u64,
    /// Its calls by route: local routes first, then remote ones, each by name.
    pub routes: Vec<RouteShare>,
}

/// One route's share of a task's calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteShare {
    /// The route (`(none)` for calls that failed before one was chosen).
    pub route: String,
    /// A local model answered (on this route).
    pub local: bool,
    /// Calls.
    pub calls: u64,
}

/// Per task, the calls by route; tasks by calls, most first.
pub fn route_mix(calls: &[Call]) -> Vec<RouteMix> {
    let mut tasks: BTreeMap<String, BTreeMap<(bool, String), u64>> = BTreeMap::new();
    for c in calls {
        let task = GroupBy::Task.keys(c).remove(0);
        let route = GroupBy::Route.keys(c).remove(0);
        *tasks.entry(task).or_default().entry((!c.local, route)).or_default() += 1;
    }
    let mut mix: Vec<RouteMix> = tasks
        .into_iter()
        .map(|(task, routes)| RouteMix {
            task,
            calls: routes.values().sum(),
            routes: routes
                .into_iter()
                .map(|((remote, route), calls)| RouteShare { route, local: !remote, calls })
                .collect(),
        })
        .collect();
    mix.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.task.cmp(&b.task)));
    mix
}
