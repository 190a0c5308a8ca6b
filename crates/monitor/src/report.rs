//! The monitor's state as rows per task type ([`rows`]): what `hearth report`,
//! `GET /v1/hearth/routes` and `/metrics` show. Pure.

use hearth_ledger::report::{day_key, money};
use hearth_router::RouterConfig;
use serde::Serialize;

use crate::state::{MonitorState, Tier, TierChange};
use crate::stats::{Interval, SprtParams, TestState};

/// One task type, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRow {
    /// The task type.
    pub task: String,
    /// Its `[[routes]]` index, if a route lists it (or `"*"`).
    pub route: Option<usize>,
    /// The route's target.
    pub target: Option<String>,
    /// The route's `escalate_to`.
    pub escalate_to: Option<String>,
    /// Who serves it now.
    pub served_by: Option<String>,
    /// `local` or `up`.
    pub tier: Tier,
    /// The route is pinned (the monitor only reports).
    pub pinned: bool,
    /// Pinned, and the test said "below".
    pub held_by_pin: bool,
    /// Answers the monitor could sample.
    pub seen: u64,
    /// Sampled.
    pub sampled: u64,
    /// Judged.
    pub judged: u64,
    /// Judged and agreed.
    pub agreed: u64,
    /// Samples without a verdict (queue full, budget spent, judge failed).
    pub dropped: u64,
    /// Agreement over the recent window.
    pub agreement: Option<f64>,
    /// Its 95% Wilson interval.
    pub interval: Option<Interval>,
    /// Verdicts in the window.
    pub window: u64,
    /// The test's last decision.
    pub test: TestState,
    /// The running test's log-likelihood ratio and verdicts since its last decision.
    pub llr: f64,
    /// Verdicts since the test's last decision.
    pub test_n: u64,
    /// Every move, oldest first.
    pub history: Vec<TierChange>,
}

/// Rows for every task type the monitor has seen, in name order.
pub fn rows(state: &MonitorState, config: &RouterConfig) -> Vec<TaskRow> {
    state
        .tasks
        .iter()
        .map(|(task, t)| {
            let route = config.route_for(task);
            let (agreement, interval) = t.agreement();
            let target = route.map(|(_, r)| r.target.clone());
            let escalate_to = route.and_then(|(_, r)| r.escalate_to.clone());
            let served_by = match t.tier {
                Tier::Up => escalate_to.clone().or_else(|| target.clone()),
                Tier::Local => target.clone(),
            };
            TaskRow {
                task: task.clone(),
                route: route.map(|(i, _)| i),
                target,
                escalate_to,
                served_by,
                tier: t.tier,
                pinned: route.is_some_and(|(_, r)| r.pinned),
                held_by_pin: t.held_by_pin,
                seen: t.seen,
                sampled: t.sampled,
                judged: t.judged,
                agreed: t.agreed,
                dropped: t.dropped,
                agreement,
                interval,
                window: t.recent.len() as u64,
                test: t.test_state(),
                llr: t.sprt.llr,
                test_n: t.sprt.n,
                history: t.history.clone(),
            }
        })
        .collect()
}

/// The text `hearth report` prints for the monitor.
pub fn render(state: &MonitorState, config: &RouterConfig) -> String {
    let Some(m) = &config.monitor else { return String::new() };
    let params = SprtParams {
        floor: m.agreement_floor,
        alternative: m.agreement_alternative,
        alpha: m.alpha,
        beta: m.beta,
    };
    let mut out = format!(
        "Quality monitor (judge {}; sample {:.0}%, shadow {:.0}% while up; SPRT {:.0}% vs {:.0}%, alpha {}, beta {}: moves up at LLR >= {:.2}, back at <= {:.2})\n",
        m.judge,
        m.sample_rate * 100.0,
        m.shadow_rate * 100.0,
        m.agreement_floor * 100.0,
        m.agreement_alternative * 100.0,
        m.alpha,
        m.beta,
        params.upper(),
        params.lower(),
    );
    let rows = rows(state, config);
    if rows.is_empty() {
        out.push_str("  no answers sampled yet\n");
        return out;
    }
    out.push_str(&format!(
        "  {:<12} {:<28} {:>7} {:>7} {:>7} {:>10} {:>13} {:<18}\n",
        "task", "served by (tier)", "seen", "sampled", "judged", "agreement", "95% interval", "test"
    ));
    for r in &rows {
        let served = match (&r.served_by, r.tier, r.pinned) {
            (Some(s), _, true) => format!("{s} (pinned)"),
            (Some(s), Tier::Up, _) => format!("{s} (up)"),
            (Some(s), Tier::Local, _) => format!("{s} (local)"),
            (None, ..) => "(no route)".into(),
        };
        let agreement = r.agreement.map_or("-".into(), |a| format!("{:.1}%", a * 100.0));
        let interval =
            r.interval.map_or("-".into(), |i| format!("{:.1}–{:.1}%", i.low * 100.0, i.high * 100.0));
        let mut test = format!("{} (LLR {:+.2}, n {})", r.test.as_str(), r.llr, r.test_n);
        if r.held_by_pin {
            test.push_str(" held by pin");
        }
        out.push_str(&format!(
            "  {:<12} {:<28} {:>7} {:>7} {:>7} {:>10} {:>13} {}\n",
            r.task, served, r.seen, r.sampled, r.judged, agreement, interval, test
        ));
    }
    let moves: Vec<(&str, &TierChange)> =
        rows.iter().flat_map(|r| r.history.iter().map(move |c| (r.task.as_str(), c))).collect();
    if !moves.is_empty() {
        out.push_str("  tier history:\n");
        let mut moves = moves;
        moves.sort_by_key(|(_, c)| c.at_unix_ms);
        for (task, c) in moves {
            let minute = c.at_unix_ms.rem_euclid(86_400_000) / 60_000;
            let interval = c
                .interval
                .map_or(String::new(), |i| format!(", {:.1}–{:.1}%", i.low * 100.0, i.high * 100.0));
            out.push_str(&format!(
                "    {} {:02}:{:02} UTC  {task}: {} → {} (agreement {:.1}% over {}{interval})\n",
                day_key(c.at_unix_ms),
                minute / 60,
                minute % 60,
                if c.tier == Tier::Up { "local" } else { "up" },
                if c.tier == Tier::Up {
                    format!("up, served by {}", c.served_by)
                } else {
                    format!("local, served by {}", c.served_by)
                },
                c.agreement * 100.0,
                c.n,
            ));
        }
    }
    out.push_str(&format!(
        "  judge: {} calls, {} ({} today of {} a day), {} failed; samples dropped: {} queue full, {} over budget\n",
        state.judge_calls,
        money(state.judge_usd_total),
        money(state.judge_usd_today),
        money(m.daily_budget_usd),
        state.judge_errors,
        state.dropped_queue,
        state.dropped_budget,
    ));
    out
}
