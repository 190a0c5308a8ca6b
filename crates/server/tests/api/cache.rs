//! The response cache in front of routed chat completions (`[cache]`, memory store, the
//! MiniLM fixture as embedder, SmolLM2 as the local model, the loopback fake Anthropic API as
//! Claude): a repeat is an exact hit and runs nothing; a reworded request is a semantic hit
//! only when the guards agree (a negation is refused and counted); the scope (system prompt,
//! sampling, tenant) keeps requests apart; sampled requests bypass; a remote answer is cached
//! too, so its repeat costs no upstream call; hits get their ledger row.

use std::sync::Arc;

use hearth_cache::{Cache, CacheConfig, StoreKind};
use hearth_router::hearth_ledger::{Call, Ledger, LedgerConfig, SqliteStore, Store};
use hearth_server::ModelEmbed;
use serde_json::{Value, json};

use crate::routing::{app_with_cache, config_text, fake};
use crate::support::{Reply, post, send};

const ROUTES: &str = r#"
    [[routes]]
    tasks = ["classify"]
    target = "small"
    [[routes]]
    tasks = ["reason"]
    target = "claude"
"#;

fn cache() -> Option<Arc<Cache>> {
    let path = hearth_testkit::model(hearth_testkit::MINILM_L6)?;
    let embedder = Arc::new(hearth_models::Embedder::open(&path).unwrap());
    let embed = Arc::new(ModelEmbed::new("all-minilm".into(), embedder));
    let config = CacheConfig { store: StoreKind::Memory, ..CacheConfig::default() };
    Some(Arc::new(Cache::open(&config, Some(embed), std::path::Path::new("/nonexistent")).unwrap()))
}

fn ask(task: &str, text: &str) -> Value {
    json!({
        "model": "auto",
        "max_tokens": 32,
        "stop": ["\n", "."],
        "temperature": 0,
        "metadata": {"task": task},
        "messages": [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": text}],
    })
}

fn cache_header(r: &Reply) -> &str {
    r.headers.get("x-hearth-cache").and_then(|v| v.to_str().ok()).unwrap_or("(none)")
}

fn content(r: &Reply) -> Value {
    r.json()["choices"][0]["message"]["content"].clone()
}

const REVIEW: &str = "Is this review positive or negative? 'The battery died after two days.'";

#[tokio::test]
async fn repeats_hit_rewordings_hit_only_past_the_guards_and_scope_keeps_requests_apart() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.sqlite");
    let ledger = Arc::new(Ledger::open(&ledger_path, &LedgerConfig::default()).unwrap());
    let Some(cache) = cache() else { return };
    let Some((app, _)) =
        app_with_cache(&config_text(&fake.base_url(), 0, ROUTES), Some(Arc::clone(&ledger)), cache)
    else {
        return;
    };

    let first = post(&app, "/v1/chat/completions", ask("classify", REVIEW)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(cache_header(&first), "miss");
    // Only an answer that finished cleanly is stored.
    assert_eq!(first.json()["choices"][0]["finish_reason"], "stop", "{}", first.body);

    // The same request, spacing and case aside: exact, the same answer, no model run.
    let again =
        post(&app, "/v1/chat/completions", ask("classify", &format!("  {}", REVIEW.to_lowercase()))).await;
    assert_eq!(cache_header(&again), "exact", "{:?}", again.headers);
    assert_eq!(content(&again), content(&first));
    assert_ne!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.headers["x-hearth-reason"], "cache");
    assert_eq!(again.json()["hearth"]["reason"], "cache");

    // Reworded with the same content words: semantic, with its similarity.
    let reworded = "Is this review positive or negative: 'The battery died after two days'?";
    let semantic = post(&app, "/v1/chat/completions", ask("classify", reworded)).await;
    assert_eq!(cache_header(&semantic), "semantic", "{:?}", semantic.headers);
    let sim: f32 = semantic.headers["x-hearth-cache-similarity"].to_str().unwrap().parse().unwrap();
    assert!((0.92..1.0).contains(&sim), "{sim}");
    assert_eq!(content(&semantic), content(&first));

    // Changed numbers and negations embed close, and are refused by the guards.
    for other in [
        "Is this review positive or negative? 'The battery died after three days.'",
        "Is this review positive or negative? 'The battery never died after two days.'",
    ] {
        let r = post(&app, "/v1/chat/completions", ask("classify", other)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(cache_header(&r), "miss", "{other}");
    }

    // Scope: another system prompt, another tenant, sampling.
    let mut system = ask("classify", REVIEW);
    system["messages"][0]["content"] = json!("Answer in French.");
    assert_eq!(cache_header(&post(&app, "/v1/chat/completions", system).await), "miss");
    let mut tenant = ask("classify", REVIEW);
    tenant["user"] = json!("someone-else");
    assert_eq!(cache_header(&post(&app, "/v1/chat/completions", tenant).await), "miss");
    let mut sampled = ask("classify", REVIEW);
    sampled["temperature"] = json!(0.7);
    assert_eq!(cache_header(&post(&app, "/v1/chat/completions", sampled).await), "bypass");

    // A remote answer is cached too: its repeat sends nothing upstream.
    let remote = post(&app, "/v1/chat/completions", ask("reason", "Why is the sky blue?")).await;
    assert_eq!(remote.status, 200, "{}", remote.body);
    assert_eq!(cache_header(&remote), "miss");
    let upstream = fake.requests().len();
    let repeat = post(&app, "/v1/chat/completions", ask("reason", "Why is the sky blue?")).await;
    assert_eq!(cache_header(&repeat), "exact");
    assert_eq!(repeat.headers["x-hearth-route"], "claude");
    assert_eq!(fake.requests().len(), upstream, "a hit calls nothing upstream");

    let metrics =
        send(&app, crate::support::request("GET", "/metrics", None, Some(crate::support::KEY))).await;
    assert!(metrics.body.contains("hearth_cache_hits_total{kind=\"exact\"} 2"), "{}", metrics.body);
    assert!(metrics.body.contains("hearth_cache_hits_total{kind=\"semantic\"} 1"), "{}", metrics.body);
    let rejected: u64 = metrics
        .body
        .lines()
        .filter(|l| l.starts_with("hearth_cache_guard_rejections_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(rejected >= 1, "the guards refused something: {}", metrics.body);

    ledger.flush().unwrap();
    let rows: Vec<Call> = SqliteStore::open(&ledger_path).unwrap().calls_since(0).unwrap();
    let hits: Vec<&Call> = rows.iter().filter(|c| c.semantic_cache_hit).collect();
    assert_eq!(hits.len(), 3, "{rows:?}");
    assert!(hits.iter().all(|c| c.reason == "cache" && c.cost_usd == 0.0));
    let kinds: Vec<&str> = hits.iter().map(|c| c.tags["cache"].as_str()).collect();
    assert_eq!(kinds, ["exact", "semantic", "exact"]);
    // The remote hit stands in for a Claude call: its baseline is what that call would cost.
    assert!(hits[2].baseline_cost_usd.unwrap() > 0.0, "{:?}", hits[2]);
}
