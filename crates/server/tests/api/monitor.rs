//! The quality monitor in the server (`[monitor]`): SmolLM2 answers classify requests, the
//! fake Anthropic API as the judge never agrees, and after the sequential test decides the
//! task type is served by its route's `escalate_to` (reason `demoted`); its cached local
//! answers stop being served; `GET /v1/hearth/routes` and `/metrics` show the move; every
//! judge call is a ledger row linked to the judged request.

use std::sync::Arc;

use hearth_anthropic::fake::{FakeAnthropic, FakeConfig, Responder};
use hearth_cache::{Cache, CacheConfig, StoreKind};
use hearth_monitor::Monitor;
use hearth_router::RouterConfig;
use hearth_router::hearth_ledger::{Ledger, LedgerConfig, SqliteStore, Store};
use hearth_server::{ModelEmbed, MonitorJudge};
use serde_json::{Value, json};

use crate::routing::{ANTHROPIC_KEY, app_with_state, config_text};
use crate::support::{KEY, Reply, post, request, send};

const ROUTES: &str = r#"
    [[routes]]
    tasks = ["classify"]
    target = "small"
    escalate_to = "claude"
    escalate_on_empty = false
    escalate_on_refusal = false
    escalate_on_length_in_json = false
    [monitor]
    judge = "claude"
    window = 20
"#;

fn ask(text: &str) -> Value {
    json!({
        "model": "auto",
        "max_tokens": 8,
        "temperature": 0,
        "metadata": {"task": "classify"},
        "messages": [{"role": "system", "content": "Answer positive or negative."}, {"role": "user", "content": text}],
    })
}

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("(none)")
}

#[tokio::test]
async fn a_task_type_the_judge_disagrees_with_moves_up_and_its_cache_entries_stop_being_served() {
    let mut fc = FakeConfig::new(ANTHROPIC_KEY);
    // The judge's own label is never the local model's.
    fc.responder = Some(Responder::new(|_| Some("judge-label-that-never-matches".into())));
    let fake = FakeAnthropic::start_with(fc).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.sqlite");
    let ledger = Arc::new(Ledger::open(&ledger_path, &LedgerConfig::default()).unwrap());
    let text = config_text(&fake.base_url(), 0, ROUTES);
    let config = RouterConfig::from_toml_str(&text).unwrap();
    let monitor = Arc::new(
        Monitor::new(&config)
            .unwrap()
            .with_state_file(&dir.path().join("monitor.json"))
            .unwrap()
            .with_ledger(Arc::clone(&ledger)),
    );
    let path =
        hearth_testkit::model(hearth_testkit::MINILM_L6).expect("the MiniLM fixture (cargo xtask fixtures)");
    let embed = Arc::new(ModelEmbed::new(
        "all-minilm".into(),
        Arc::new(hearth_models::Embedder::open(&path).unwrap()),
    ));
    let cache_config = CacheConfig { store: StoreKind::Memory, ..CacheConfig::default() };
    let cache =
        Arc::new(Cache::open(&cache_config, Some(embed), std::path::Path::new("/nonexistent")).unwrap());
    let (app, routing, state) = app_with_state(&text, |r| {
        r.with_ledger(Arc::clone(&ledger)).with_monitor(Arc::clone(&monitor)).with_cache(cache)
    })
    .expect("the SmolLM2 fixture (cargo xtask fixtures)");
    let judge = MonitorJudge::new(state);

    // A cached local answer: the repeat is an exact hit.
    let review = "Review: 'The battery died after two days.'";
    let first = post(&app, "/v1/chat/completions", ask(review)).await;
    assert_eq!((first.status.as_u16(), header(&first, "x-hearth-route")), (200, "small"), "{}", first.body);
    let again = post(&app, "/v1/chat/completions", ask(review)).await;
    assert_eq!(header(&again, "x-hearth-cache"), "exact");

    // Every local answer of the day's first ten is sampled; six straight disagreements
    // decide "below" (SPRT 85% vs 75%, alpha 0.05, beta 0.2).
    for i in 0..5 {
        let r = post(&app, "/v1/chat/completions", ask(&format!("Review {i}: 'it broke on day {i}'"))).await;
        assert_eq!((r.status.as_u16(), header(&r, "x-hearth-reason")), (200, "task"), "{}", r.body);
    }
    let verdicts = monitor.judge_pending(&judge).await;
    assert_eq!(verdicts.len(), 6, "{verdicts:?}");
    assert!(verdicts.iter().all(|v| v.agree == Ok(false)), "{verdicts:?}");
    assert!(verdicts.last().unwrap().change.is_some(), "{verdicts:?}");
    assert!(routing.router().demoted().contains("classify"));

    // Now claude serves classify, and the cached local answer is not served.
    let moved = post(&app, "/v1/chat/completions", ask(review)).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!((header(&moved, "x-hearth-route"), header(&moved, "x-hearth-reason")), ("claude", "demoted"));
    assert_ne!(header(&moved, "x-hearth-cache"), "exact");
    assert_ne!(header(&moved, "x-hearth-cache"), "semantic");

    let routes = send(&app, request("GET", "/v1/hearth/routes", None, Some(KEY))).await;
    assert_eq!(routes.status, 200, "{}", routes.body);
    let v = routes.json();
    assert_eq!(v["routes"][0]["moved_up"], json!(["classify"]), "{v}");
    let task = &v["monitor"]["tasks"][0];
    assert_eq!(
        (task["task"].as_str(), task["tier"].as_str(), task["test"].as_str()),
        (Some("classify"), Some("up"), Some("below")),
        "{v}"
    );
    assert_eq!(task["history"][0]["served_by"], "claude");

    let metrics = send(&app, request("GET", "/metrics", None, Some(KEY))).await;
    assert!(metrics.body.contains("hearth_monitor_moved_up{task=\"classify\"} 1"), "{}", metrics.body);
    assert!(metrics.body.contains("hearth_monitor_judged_total{task=\"classify\"} 6"), "{}", metrics.body);

    // The state file holds the move; every judge call is a row linked to the judged call.
    let saved = hearth_monitor::MonitorState::load(&dir.path().join("monitor.json")).unwrap();
    assert_eq!(saved.tasks["classify"].tier, hearth_monitor::Tier::Up);
    ledger.flush().unwrap();
    let rows = SqliteStore::open(&ledger_path).unwrap().calls_since(0).unwrap();
    let judged: Vec<_> = rows.iter().filter(|c| c.task.as_deref() == Some("judge")).collect();
    assert_eq!(judged.len(), 6);
    for j in judged {
        let id = &j.tags["judged"];
        assert!(rows.iter().any(|c| &c.request_id == id && c.route == "small"), "{id}");
        assert_eq!(j.tags["verdict"], "disagree");
        assert!(j.cost_usd > 0.0);
    }
}
