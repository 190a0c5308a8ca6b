//! `hearth report` end to end: a ledger written by `hearth_ledger::Ledger` with a mixed run
//! (local, cached, escalated to a remote, remote, failed, and a row older than the period),
//! read by the built binary as a table, as JSON and as an HTML page.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use hearth_ledger::{Call, Ledger, LedgerConfig, Status, now_unix_ms};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn call(id: &str, ago_ms: i64, task: &str, route: &str, local: bool) -> Call {
    Call {
        time_unix_ms: now_unix_ms() - ago_ms,
        request_id: id.to_owned(),
        operation: "chat".to_owned(),
        task: Some(task.to_owned()),
        route: route.to_owned(),
        reason: "task".to_owned(),
        provider: if local { "hearth" } else { "anthropic" }.to_owned(),
        request_model: "auto".to_owned(),
        response_model: Some(if local { "qwen2.5:0.5b" } else { "claude-haiku-4-5" }.to_owned()),
        local,
        ..Call::default()
    }
}

/// The mixed run, as the server would record it.
fn mixed_run() -> Vec<Call> {
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    vec![
        Call {
            latency_ms: 100,
            input_tokens: Some(50),
            output_tokens: Some(2),
            cost_usd: 0.000_01,
            baseline_cost_usd: Some(0.000_5),
            tags: tags(&[("feature", "search")]),
            ..call("r1", 60_000, "classify", "qwen", true)
        },
        Call {
            latency_ms: 3,
            semantic_cache_hit: true,
            baseline_cost_usd: Some(0.000_6),
            tags: tags(&[("feature", "search"), ("user", "u-7")]),
            ..call("r2", 50_000, "classify", "qwen", true)
        },
        Call {
            latency_ms: 300,
            input_tokens: Some(400),
            output_tokens: Some(80),
            cost_usd: 0.000_02,
            baseline_cost_usd: Some(0.001_5),
            status: Status::Escalated,
            ..call("r3", 40_000, "extract", "qwen", true)
        },
        Call {
            latency_ms: 1200,
            input_tokens: Some(400),
            output_tokens: Some(90),
            cost_usd: 0.001_5,
            baseline_cost_usd: Some(0.001_5),
            reason: "low_confidence".to_owned(),
            escalation_parent: Some("r3".to_owned()),
            ..call("r3.1", 39_000, "extract", "claude", false)
        },
        Call {
            latency_ms: 2000,
            input_tokens: Some(900),
            output_tokens: Some(400),
            cost_usd: 0.004,
            baseline_cost_usd: Some(0.004),
            reason: "complexity".to_owned(),
            ..call("r4", 30_000, "plan", "claude", false)
        },
        Call {
            latency_ms: 30_000,
            status: Status::Error,
            error_type: Some("remote_unavailable".to_owned()),
            response_model: None,
            reason: "complexity".to_owned(),
            ..call("r5", 20_000, "plan", "claude", false)
        },
        Call { cost_usd: 9.0, ..call("old", 8 * DAY_MS, "plan", "claude", false) },
    ]
}

fn write_ledger(path: &Path) -> Ledger {
    let ledger = Ledger::open(path, &LedgerConfig::default()).unwrap();
    mixed_run().into_iter().for_each(|c| ledger.record(c));
    ledger.flush().unwrap();
    ledger
}

fn hearth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth")).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn the_text_report_of_a_mixed_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let _writer = write_ledger(&db); // the server keeps writing while the report reads
    let text = stdout(&hearth(&["report", "--db", db.to_str().unwrap()]));
    eprintln!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("hearth report · ledger {}", db.display()));
    assert!(lines[1].starts_with("period ") && lines[1].ends_with(" · by task"), "{}", lines[1]);
    assert_eq!(
        lines[2],
        "6 calls, 50.0% local, cost $0.0055 vs baseline $0.0081: saved $0.0026 (31.7%) over the 5 of 6 \
         calls with a baseline"
    );
    let keys: Vec<&str> = lines[5..].iter().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(keys, ["classify", "extract", "plan", "TOTAL"]);
    assert!(lines[6].ends_with("low_confidence 1"), "{}", lines[6]);
    assert!(lines[8].contains("300ms  30.0s"), "{}", lines[8]);
}

#[test]
fn json_carries_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    drop(write_ledger(&db));
    let json = stdout(&hearth(&["report", "--db", db.to_str().unwrap(), "--by", "route", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["by"], "route");
    let t = &v["total"];
    assert_eq!(
        (t["calls"].as_u64(), t["local_calls"].as_u64(), t["errors"].as_u64()),
        (Some(6), Some(3), Some(1))
    );
    let close = |x: &serde_json::Value, want: f64| (x.as_f64().unwrap() - want).abs() < 1e-12;
    assert!(close(&t["cost_usd"], 0.005_53) && close(&t["baseline_cost_usd"], 0.008_1), "{t}");
    assert!(close(&t["saved_usd"], 0.002_57) && close(&t["saved_fraction"], 0.002_57 / 0.008_1), "{t}");
    assert_eq!((t["latency_p50_ms"].as_u64(), t["latency_p95_ms"].as_u64()), (Some(300), Some(30_000)));
    assert!(close(&t["cache_hit_rate"], 1.0 / 6.0));
    assert_eq!(t["escalations"], serde_json::json!({"low_confidence": 1}));
    assert!(t["judge_agreement"].is_null());
    let routes: Vec<(&str, u64)> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["calls"].as_u64().unwrap()))
        .collect();
    assert_eq!(routes, [("claude", 3), ("qwen", 3)]);
    assert_eq!(v["groups"][1]["escalated"], 1, "the escalated call is qwen's");
    // A longer period takes in the old row.
    let json = stdout(&hearth(&["report", "--db", db.to_str().unwrap(), "--since", "2w", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["total"]["calls"], 7);
}

#[test]
fn html_is_written_and_config_finds_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_ledger(&dir.path().join("data/ledger.sqlite")));
    let config = dir.path().join("hearth.toml");
    std::fs::write(&config, "[[models]]\nname = \"m\"\n\n[ledger]\npath = \"data/ledger.sqlite\"\n").unwrap();
    let page = dir.path().join("report.html");
    let out = hearth(&[
        "report",
        "--config",
        config.to_str().unwrap(),
        "--by",
        "tag",
        "--html",
        page.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert!(text.contains("feature=search") && text.contains("(untagged)"), "{text}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<svg").count(), 3, "three charts");
    assert!(html.contains("<td title=\"feature=search\">feature=search</td>"), "the tag table");
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote"));
}

#[test]
fn mistakes_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sqlite");
    let out = hearth(&["report", "--db", missing.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&missing.display().to_string()) && err.contains("hearth serve --config"), "{err}");
    assert!(!missing.exists());
    // The default ledger sits beside the models cache.
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["report"])
        .env("HEARTH_MODELS", dir.path().join("models"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&dir.path().join("ledger.sqlite").display().to_string()), "{err}");

    let out = hearth(&["report", "--db", "x.sqlite", "--since", "last tuesday"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("`7d`"), "bad --since");
    let out = hearth(&["report", "--by", "month"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("[possible values: task, model, route, tag, day, week]")
    );
    let out = hearth(&["report", "--db", "a", "--config", "b"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
