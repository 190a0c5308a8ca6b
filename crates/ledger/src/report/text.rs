//! The report as a terminal table: a header (ledger, period, what was saved), then one
//! aligned row per group and the total, numbers right-aligned.

use std::fmt::Write;

use super::Report;
use super::format::{DASH, clean, escalations, latency, money, opt_pct, pct, tokens};
use super::group::Group;

/// Longest group key shown (longer ones are cut with `…`).
const KEY_WIDTH: usize = 40;

const HEADERS: [&str; 14] = [
    "CALLS",
    "LOCAL",
    "IN TOK",
    "OUT TOK",
    "COST",
    "BASELINE",
    "SAVED",
    "SAVED%",
    "P50",
    "P95",
    "CACHE",
    "ERRORS",
    "JUDGE",
    "ESCALATIONS",
];

/// The cells of one row after its key, in [`HEADERS`] order.
fn cells(g: &Group) -> Vec<String> {
    let baseline = |s: String| if g.baselined_calls == 0 { DASH.to_owned() } else { s };
    vec![
        g.calls.to_string(),
        pct(g.local_fraction),
        tokens(g.input_tokens),
        tokens(g.output_tokens),
        money(g.cost_usd),
        baseline(money(g.baseline_cost_usd)),
        baseline(money(g.saved_usd)),
        opt_pct(g.saved_fraction),
        latency(g.latency_p50_ms),
        latency(g.latency_p95_ms),
        pct(g.cache_hit_rate),
        g.errors.to_string(),
        opt_pct(g.judge_agreement),
        clean(&escalations(&g.escalations), 80),
    ]
}

/// The whole text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let ledger = r.ledger.as_deref().map_or_else(String::new, |l| format!(" · ledger {}", clean(l, 200)));
    let _ = writeln!(out, "hearth report{ledger}");
    let _ = writeln!(out, "period {} → {} · by {}", r.since, r.until, r.by.as_str());
    let t = &r.total;
    if t.calls == 0 {
        let _ = writeln!(
            out,
            "no calls in this period (hearth serve --config writes one row per call; try a longer --since)"
        );
        return out;
    }
    let _ = write!(out, "{} calls, {} local, cost {}", t.calls, pct(t.local_fraction), money(t.cost_usd));
    match t.saved_fraction {
        Some(f) => {
            let _ = write!(
                out,
                " vs baseline {}: saved {} ({})",
                money(t.baseline_cost_usd),
                money(t.saved_usd),
                pct(f)
            );
            if t.baselined_calls < t.calls {
                let _ = write!(out, " over the {} of {} calls with a baseline", t.baselined_calls, t.calls);
            }
        }
        None => out.push_str(" (no call has a baseline cost: nothing to compare)"),
    }
    out.push_str("\n\n");

    let mut rows: Vec<Vec<String>> = Vec::with_capacity(r.groups.len() + 2);
    let mut head = vec![r.by.as_str().to_uppercase()];
    head.extend(HEADERS.iter().map(|h| (*h).to_owned()));
    rows.push(head);
    for g in &r.groups {
        let mut row = vec![clean(&g.key, KEY_WIDTH)];
        row.extend(cells(g));
        rows.push(row);
    }
    let mut total = vec!["TOTAL".to_owned()];
    total.extend(cells(t));
    rows.push(total);
    table(&mut out, &rows);
    out
}

/// Writes `rows` as columns two spaces apart: the first (the key) and the last (escalations)
/// left-aligned, the numbers between right-aligned; no trailing spaces.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows[0].len();
    let widths: Vec<usize> =
        (0..columns).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if c == 0 || c == columns - 1 {
                line.push_str(cell);
                line.push_str(&pad);
            } else {
                line.push_str(&pad);
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{Call, Status};
    use crate::report::GroupBy;

    const T: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

    fn sample() -> Vec<Call> {
        let base = Call {
            time_unix_ms: T,
            operation: "chat".into(),
            task: Some("classify".into()),
            route: "qwen".into(),
            reason: "task".into(),
            local: true,
            latency_ms: 120,
            input_tokens: Some(1200),
            output_tokens: Some(3),
            cost_usd: 0.000_02,
            baseline_cost_usd: Some(0.001_2),
            ..Call::default()
        };
        vec![
            base.clone(),
            Call { request_id: "e".into(), status: Status::Escalated, ..base.clone() },
            Call {
                escalation_parent: Some("e".into()),
                route: "claude".into(),
                reason: "low_confidence".into(),
                local: false,
                latency_ms: 1400,
                cost_usd: 0.001_2,
                tags: [("feature".into(), "\u{1b}[2Jevil".into())].into(),
                ..base.clone()
            },
            Call { task: None, baseline_cost_usd: None, status: Status::Error, ..base },
        ]
    }

    #[test]
    fn the_table_is_aligned_with_a_header_and_a_total() {
        let report = Report::build(&sample(), GroupBy::Task, T - 7 * 86_400_000, T + 3_600_000)
            .with_ledger("/data/ledger.sqlite");
        let text = report.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "hearth report · ledger /data/ledger.sqlite");
        assert_eq!(lines[1], "period 2026-11-16 00:00 UTC → 2026-11-23 01:00 UTC · by task");
        // Baselines: 3 × 0.0012 = 0.0036; saved 0.00118 + 0.00118 + 0 = 0.00236 (65.6%).
        assert_eq!(
            lines[2],
            "4 calls, 75.0% local, cost $0.0013 vs baseline $0.0036: saved $0.0024 (65.6%) over the 3 \
             of 4 calls with a baseline"
        );
        assert_eq!(lines[3], "");
        let table = [
            "TASK      CALLS   LOCAL  IN TOK  OUT TOK       COST  BASELINE    SAVED  SAVED%    P50    P95  \
             CACHE  ERRORS  JUDGE  ESCALATIONS",
            "classify      3   66.7%    3.6k        9    $0.0012   $0.0036  $0.0024   65.6%  120ms   1.4s   \
             0.0%       0      —  low_confidence 1",
            "(none)        1  100.0%    1.2k        3  $0.000020         —        —       —  120ms  120ms   \
             0.0%       1      —  —",
            "TOTAL         4   75.0%    4.8k       12    $0.0013   $0.0036  $0.0024   65.6%  120ms   1.4s   \
             0.0%       1      —  low_confidence 1",
        ];
        assert_eq!(lines[4..], table, "{text}");
        assert_eq!(lines.len(), 8);
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn tags_cannot_write_escape_sequences_and_an_empty_period_says_so() {
        let report = Report::build(&sample(), GroupBy::Tag, 0, T);
        let text = report.to_text();
        assert!(!text.contains('\u{1b}') && text.contains("feature=\\u{1b}[2Jevil"), "{text}");
        let empty = Report::build(&[], GroupBy::Task, 0, T).to_text();
        assert!(empty.ends_with("no calls in this period (hearth serve --config writes one row per call; try a longer --since)\n"), "{empty}");
    }
}
