//! The aggregation on hand-built calls, with the exact numbers expected.

use std::collections::BTreeMap;

use super::*;
use crate::call::Status;

/// 2026-11-23T00:00:00Z, a Monday.
const MONDAY: i64 = 1_795_392_000_000;

fn call(id: &str, task: Option<&str>, route: &str, local: bool) -> Call {
    Call {
        time_unix_ms: MONDAY,
        request_id: id.to_owned(),
        operation: "chat".to_owned(),
        task: task.map(str::to_owned),
        route: route.to_owned(),
        reason: "task".to_owned(),
        provider: if local { "hearth" } else { "anthropic" }.to_owned(),
        request_model: "auto".to_owned(),
        local,
        ..Call::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn percentiles_are_nearest_rank() {
    let twenty: Vec<u64> = (1..=20).map(|i| i * 10).collect();
    assert_eq!(nearest_rank(&twenty, 50), Some(100), "rank 10 of 20");
    assert_eq!(nearest_rank(&twenty, 95), Some(190), "rank 19 of 20");
    assert_eq!(nearest_rank(&twenty, 100), Some(200));
    let five = [10, 20, 30, 40, 50];
    assert_eq!(nearest_rank(&five, 50), Some(30), "rank ⌈2.5⌉ = 3");
    assert_eq!(nearest_rank(&five, 95), Some(50), "rank ⌈4.75⌉ = 5");
    assert_eq!(nearest_rank(&[7], 95), Some(7));
    assert_eq!(nearest_rank(&[], 50), None);

    // Through a group: the order the calls come in does not matter.
    let calls: Vec<Call> = [300, 100, 500, 200, 400]
        .into_iter()
        .map(|ms| Call { latency_ms: ms, ..call("r", Some("t"), "qwen", true) })
        .collect();
    let g = total(&calls);
    assert_eq!((g.latency_p50_ms, g.latency_p95_ms), (Some(300), Some(500)));
    assert_eq!((total(&[]).latency_p50_ms, total(&[]).saved_fraction), (None, None));
}

#[test]
fn savings_count_only_calls_with_a_baseline() {
    let calls = [
        Call { cost_usd: 0.0001, baseline_cost_usd: Some(0.003), ..call("a", Some("t"), "qwen", true) },
        Call { cost_usd: 0.002, baseline_cost_usd: Some(0.002), ..call("b", Some("t"), "haiku", false) },
        Call { cost_usd: 0.01, baseline_cost_usd: None, ..call("c", Some("t"), "opus", false) },
    ];
    let g = total(&calls);
    assert!(close(g.cost_usd, 0.0121), "{}", g.cost_usd);
    assert!(close(g.baseline_cost_usd, 0.005), "{}", g.baseline_cost_usd);
    assert_eq!(g.baselined_calls, 2);
    assert!(close(g.saved_usd, 0.0029), "0.003 - 0.0001 + 0: {}", g.saved_usd);
    assert!(close(g.saved_fraction.unwrap(), 0.58), "{:?}", g.saved_fraction);
    assert_eq!((g.calls, g.local_calls), (3, 1));
    assert!(close(g.local_fraction, 1.0 / 3.0));

    // More expensive than the baseline: a negative saving.
    let worse = [Call { cost_usd: 0.004, baseline_cost_usd: Some(0.001), ..call("d", None, "opus", false) }];
    let g = total(&worse);
    assert!(close(g.saved_usd, -0.003) && close(g.saved_fraction.unwrap(), -3.0), "{g:?}");
}

#[test]
fn escalations_count_under_the_replacing_calls_reason() {
    let escalated = |id: &str| Call { status: Status::Escalated, ..call(id, Some("extract"), "qwen", true) };
    let replacement = |id: &str, parent: &str, reason: &str| Call {
        escalation_parent: Some(parent.to_owned()),
        reason: reason.to_owned(),
        ..call(id, Some("extract"), "claude", false)
    };
    let calls = [
        escalated("r1"),
        replacement("r1.2", "r1", "low_confidence"),
        escalated("r2"),
        replacement("r2.2", "r2", "invalid_output"),
        escalated("r3"), // its replacement is outside the period: its own reason counts
        escalated("r4"),
        replacement("r4.2", "r4", "low_confidence"),
        Call {
            status: Status::Error,
            error_type: Some("timeout".to_owned()),
            ..call("r5", Some("extract"), "claude", false)
        },
    ];
    let by_route = groups(&calls, GroupBy::Route);
    let keys: Vec<&str> = by_route.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["claude", "qwen"], "4 calls each: ties by name");
    let (claude, qwen) = (&by_route[0], &by_route[1]);
    let want: BTreeMap<String, u64> =
        [("invalid_output", 1), ("low_confidence", 2), ("task", 1)].map(|(r, n)| (r.to_owned(), n)).into();
    assert_eq!((qwen.escalated, &qwen.escalations), (4, &want));
    assert_eq!((claude.escalated, claude.errors), (0, 1));
    let all = total(&calls);
    assert_eq!((all.calls, all.escalated, all.errors), (8, 4, 1));
    assert_eq!(all.escalations, want);
}

#[test]
fn a_call_counts_once_per_tag_and_once_in_the_total() {
    let tagged = |id: &str, tags: &[(&str, &str)]| Call {
        tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        input_tokens: Some(100),
        output_tokens: Some(10),
        ..call(id, None, "qwen", true)
    };
    let calls = [
        tagged("a", &[("feature", "invoices"), ("user", "u1")]),
        tagged("b", &[("feature", "invoices")]),
        tagged("c", &[]),
    ];
    let by_tag = groups(&calls, GroupBy::Tag);
    let rows: Vec<(&str, u64, u64)> =
        by_tag.iter().map(|g| (g.key.as_str(), g.calls, g.input_tokens)).collect();
    assert_eq!(rows, [("feature=invoices", 2, 200), ("(untagged)", 1, 100), ("user=u1", 1, 100)]);
    let t = total(&calls);
    assert_eq!((t.calls, t.input_tokens, t.output_tokens), (3, 300, 30));
    assert_eq!(groups(&calls, GroupBy::Task)[0].key, "(none)");
}

#[test]
fn days_and_weeks_split_at_utc_midnight_and_monday_oldest_first() {
    let at = |id: &str, t: i64| Call { time_unix_ms: t, ..call(id, Some("t"), "qwen", true) };
    let calls = [
        at("mon", MONDAY),
        at("sun-last-ms", MONDAY - 1),
        at("next-mon", MONDAY + 7 * date::DAY_MS),
        at("sun-noon", MONDAY - 12 * 3_600_000),
    ];
    let weeks: Vec<(String, u64)> =
        groups(&calls, GroupBy::Week).into_iter().map(|g| (g.key, g.calls)).collect();
    assert_eq!(weeks, [("2026-W47".to_owned(), 2), ("2026-W48".to_owned(), 1), ("2026-W49".to_owned(), 1)]);
    let days: Vec<(String, u64)> =
        groups(&calls, GroupBy::Day).into_iter().map(|g| (g.key, g.calls)).collect();
    assert_eq!(
        days,
        [("2026-11-22".to_owned(), 2), ("2026-11-23".to_owned(), 1), ("2026-11-30".to_owned(), 1)]
    );
}

#[test]
fn models_are_the_answering_model_else_the_requested_one() {
    let calls = [
        Call { response_model: Some("claude-haiku-4-5".to_owned()), ..call("a", None, "claude", false) },
        Call { request_model: "qwen2.5:0.5b".to_owned(), ..call("b", None, "qwen", true) },
        Call { request_model: "qwen2.5:0.5b".to_owned(), ..call("c", None, "qwen", true) },
    ];
    let keys: Vec<(String, u64)> =
        groups(&calls, GroupBy::Model).into_iter().map(|g| (g.key, g.calls)).collect();
    assert_eq!(keys, [("qwen2.5:0.5b".to_owned(), 2), ("claude-haiku-4-5".to_owned(), 1)]);
}

#[test]
fn cache_hits_and_the_route_mix() {
    let calls = [
        Call { semantic_cache_hit: true, ..call("a", Some("classify"), "qwen", true) },
        call("b", Some("classify"), "qwen", true),
        call("c", Some("classify"), "claude", false),
        call("d", Some("classify"), "gemma", true),
        call("e", Some("plan"), "claude", false),
    ];
    let classify = &groups(&calls, GroupBy::Task)[0];
    assert_eq!((classify.key.as_str(), classify.cache_hits), ("classify", 1));
    assert!(close(classify.cache_hit_rate, 0.25));
    assert_eq!(classify.judge_agreement, None);
    let mix = route_mix(&calls);
    type Shares<'a> = Vec<(&'a str, bool, u64)>;
    let flat: Vec<(&str, Shares<'_>)> = mix
        .iter()
        .map(|m| (m.task.as_str(), m.routes.iter().map(|r| (r.route.as_str(), r.local, r.calls)).collect()))
        .collect();
    assert_eq!(
        flat,
        [
            ("classify", vec![("gemma", true, 1), ("qwen", true, 2), ("claude", false, 1)]),
            ("plan", vec![("claude", false, 1)])
        ]
    );
    assert_eq!(mix[0].calls, 4);
}

#[test]
fn the_report_serializes_under_its_documented_names() {
    let calls = [Call { latency_ms: 120, ..call("a", Some("classify"), "qwen", true) }];
    let report = Report::build(&calls, GroupBy::Task, MONDAY - 7 * date::DAY_MS, MONDAY + 60_000)
        .with_ledger("/var/lib/hearth/ledger.sqlite");
    let json = serde_json::to_value(&report).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want =
        ["ledger", "since_unix_ms", "until_unix_ms", "since", "until", "by", "groups", "total"].to_vec();
    want.extend(["weeks", "route_mix"]);
    assert_eq!(keys.len(), want.len());
    assert!(want.iter().all(|k| keys.contains(k)), "{keys:?}");
    assert_eq!(json["by"], "task");
    assert_eq!(json["until"], "2026-11-23 00:01 UTC");
    let g = &json["groups"][0];
    for k in [
        "key",
        "calls",
        "local_calls",
        "local_fraction",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "baseline_cost_usd",
        "baselined_calls",
        "saved_usd",
        "saved_fraction",
        "latency_p50_ms",
        "latency_p95_ms",
        "cache_hits",
        "cache_hit_rate",
        "escalated",
        "escalations",
        "errors",
        "judge_agreement",
    ] {
        assert!(g.get(k).is_some(), "groups[0].{k} missing in {g}");
    }
    assert_eq!((g["key"].as_str(), g["latency_p50_ms"].as_u64()), (Some("classify"), Some(120)));
    assert!(g["judge_agreement"].is_null() && g["saved_fraction"].is_null());
    assert_eq!(json["route_mix"][0]["routes"][0]["route"], "qwen");
    assert_eq!("WEEK".parse::<GroupBy>().unwrap(), GroupBy::Week);
    let e = "month".parse::<GroupBy>().unwrap_err().to_string();
    assert!(e.contains("task, model, route, tag, day or week"), "{e}");
}

#[test]
fn judge_rows_give_the_judged_calls_group_its_agreement() {
    let judge = |id: &str, judged: &str, verdict: &str| {
        let mut c = call(id, Some("judge"), "claude", false);
        c.tags.insert("judged".into(), judged.into());
        c.tags.insert("verdict".into(), verdict.into());
        c
    };
    let calls = [
        call("a", Some("classify"), "qwen", true),
        call("b", Some("classify"), "qwen", true),
        call("c", Some("classify"), "qwen", true),
        call("d", Some("summarize"), "qwen", true),
        judge("a-judge-1", "a", "agree"),
        judge("b-judge-1", "b", "disagree"),
        // Several rows of one verdict (a pairwise judge asks three times) count once.
        judge("b-judge-2", "b", "disagree"),
        judge("c-judge-1", "c", "none"),
    ];
    let groups = groups(&calls, GroupBy::Task);
    let classify = groups.iter().find(|g| g.key == "classify").unwrap();
    assert_eq!((classify.judged, classify.judge_agreement), (2, Some(0.5)));
    let summarize = groups.iter().find(|g| g.key == "summarize").unwrap();
    assert_eq!((summarize.judged, summarize.judge_agreement), (0, None));
    let judge_group = groups.iter().find(|g| g.key == "judge").unwrap();
    assert_eq!(judge_group.judge_agreement, None);
    assert_eq!(total(&calls).judged, 2);
}
