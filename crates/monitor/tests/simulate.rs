//! The monitor end to end: requests through the router (`Router::complete`) with a scripted
//! local model and the fake Anthropic upstream (loopback HTTP, the real client), the monitor
//! judging through the same upstream, its rows in a real SQLite ledger, its state in a file.
//!
//! The fake's answers are drawn per request from a seeded hash, so each task type's true
//! agreement with the local model is set by the test: `classify` disagrees 30% of the time,
//! the others agree ~95-97%.
//!
//! `HEARTH_SIM_OUT=DIR cargo test --release -p hearth-monitor --test simulate -- --nocapture`
//! leaves the week's config, ledger and state in DIR for `hearth report --config DIR/hearth.toml`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use hearth_anthropic::fake::{FakeAnthropic, FakeConfig, Fault, Responder};
use hearth_anthropic::types::MessagesRequest;
use hearth_ledger::{Ledger, LedgerConfig, SqliteStore, Status, Store};
use hearth_monitor::remote::{self, RemoteClient};
use hearth_monitor::{Judge, JudgeError, JudgeReply, Monitor, Tier};
use hearth_router::{
    Backends, LocalAnswer, Probe, Remote, RemoteAnswer, RemoteError, Request, Router, RouterConfig,
    SampledRequest, Turn, Watch,
};

const KEY: &str = "sk-ant-test";
const DAY_MS: i64 = 86_400_000;
const START_MS: i64 = 1_795_000_000_000; // 2026-11-18

/// Each task type's true agreement of the fake judge with the local model.
#[derive(Debug, Clone)]
struct Truth(HashMap<&'static str, f64>);

/// A uniform draw in [0, 1) from a seed and a request number.
fn draw(seed: u64, n: u64, salt: u64) -> f64 {
    let mut z = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt.wrapping_mul(0xd1b5_4a32_d192_ed03);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The request text of call `n` of `task`: `[task #n] ...`.
fn text_of(task: &str, n: u64) -> String {
    match task {
        "classify" => format!("[classify #{n}] Sentiment of: 'the parcel arrived on time and intact'"),
        "tag" => format!("[tag #{n}] Tag this ticket: 'refund for a double charge on my card'"),
        "extract" => format!("[extract #{n}] Extract the company and amount: 'Lumen Labs invoiced 1200 USD'"),
        _ => format!("[summarize #{n}] Summarize: the meeting moved the launch to May and cut the budget."),
    }
}

fn parse_tag(text: &str) -> Option<(&str, u64)> {
    text.match_indices('[').find_map(|(at, _)| {
        let rest = &text[at + 1..];
        let (task, n) = rest[..rest.find(']')?].split_once(" #")?;
        Some((task, n.parse().ok()?))
    })
}

/// A client of the fake that does not retry (a failed judge call fails at once).
fn client(base_url: &str) -> RemoteClient {
    let mut cc = hearth_anthropic::ClientConfig::new(KEY).with_base_url(base_url);
    cc.max_retries = 0;
    RemoteClient::Anthropic(hearth_anthropic::Client::new(cc).expect("client"))
}

/// The local model: always the same answer per task type.
fn local_answer(task: &str, n: u64) -> String {
    match task {
        "classify" => "positive".into(),
        "tag" => "billing, refund".into(),
        "extract" => r#"{"company": "Lumen Labs", "amount": 1200}"#.into(),
        _ => format!("local summary {n}: launch moved to May, budget cut."),
    }
}

/// The fake's answer: the local model's (agreeing) or a different one, drawn per request.
fn fake_answer(req: &MessagesRequest, truth: &Truth, seed: u64) -> Option<String> {
    let user = req.messages.last()?.content.text();
    if user.contains("<answer_a>") {
        // A pairwise verdict: prefer the reference (disagree) with 1 - agreement.
        let (task, n) = parse_tag(&user)?;
        let agree = draw(seed, n, 7) < truth.0.get(task).copied().unwrap_or(0.95);
        let a_is_local = user.find("local summary").zip(user.find("<answer_b>")).is_some_and(|(l, b)| l < b);
        let winner = match (agree, a_is_local) {
            (true, _) => "tie",
            (false, true) => "B",
            (false, false) => "A",
        };
        return Some(format!(r#"{{"reasoning": "compared", "winner": "{winner}"}}"#));
    }
    let (task, n) = parse_tag(&user)?;
    let agree = draw(seed, n, 3) < truth.0.get(task).copied().unwrap_or(0.95);
    Some(match (task, agree) {
        (_, true) if task != "summarize" => local_answer(task, n),
        ("classify", false) => "negative".into(),
        ("tag", false) => "billing".into(),
        ("extract", false) => r#"{"company": "Lumen", "amount": 1200}"#.into(),
        _ => format!("reference summary {n}: the launch is in May; the budget was cut."),
    })
}

struct Call {
    task: &'static str,
    n: u64,
}

impl Request for Call {
    fn model(&self) -> &str {
        "auto"
    }
    fn task_hint(&self) -> Option<&str> {
        Some(self.task)
    }
    fn routing_text(&self) -> Cow<'_, str> {
        Cow::Owned(text_of(self.task, self.n))
    }
    fn sampled(&self) -> Option<SampledRequest> {
        Some(SampledRequest {
            system: None,
            messages: vec![Turn::user(text_of(self.task, self.n))],
            schema: None,
            max_tokens: Some(256),
        })
    }
}

/// Local: the scripted model. Remote: the fake upstream through the real client.
struct Sim {
    client: RemoteClient,
}

impl Backends for Sim {
    type Request = Call;
    type Answer = String;
    type Error = String;

    async fn local(&self, _: &str, req: &Call, _: Probe) -> Result<LocalAnswer<String>, String> {
        let text = local_answer(req.task, req.n);
        Ok(LocalAnswer::new(text.clone()).with_text(Some(text)))
    }

    async fn remote(
        &self,
        r: &Remote,
        req: &Call,
        _: bool,
    ) -> Result<RemoteAnswer<String>, RemoteError<String>> {
        let sampled = req.sampled().expect("replayable");
        match remote::ask(&self.client, r, &sampled).await {
            Ok(reply) => {
                Ok(RemoteAnswer::new(reply.text.clone(), Some(reply.usage)).with_text(Some(reply.text)))
            }
            Err(e) => Err(RemoteError::Upstream { error: e.message, request_id: None, reply: None }),
        }
    }
}

/// The judge: the fake upstream for remote calls, the scripted model for shadow samples.
struct SimJudge {
    client: RemoteClient,
}

impl Judge for SimJudge {
    async fn ask(&self, r: &Remote, req: &SampledRequest) -> Result<JudgeReply, JudgeError> {
        remote::ask(&self.client, r, req).await
    }

    async fn local(&self, _: &str, req: &SampledRequest) -> Result<JudgeReply, JudgeError> {
        let text = &req.messages.last().ok_or_else(|| JudgeError::new("no turns"))?.text;
        let (task, n) = parse_tag(text).ok_or_else(|| JudgeError::new("not a simulated request"))?;
        Ok(JudgeReply { text: local_answer(task, n), ..JudgeReply::default() })
    }
}

fn config(base_url: &str, dir: &Path) -> RouterConfig {
    let text = format!(
        r#"
[[models]]
name = "qwen2.5-coder:0.5b"
[[remotes]]
name = "claude"
provider = "anthropic"
model = "claude-haiku-4-5"
base_url = "{base_url}"
api_key_env = "SIM_ANTHROPIC_KEY"
input_per_mtok = 1.0
output_per_mtok = 5.0
max_retries = 0
[[routes]]
tasks = ["classify", "tag", "extract", "summarize"]
target = "qwen2.5-coder:0.5b"
escalate_to = "claude"
escalate_on_empty = false
escalate_on_refusal = false
escalate_on_length_in_json = false
[ledger]
path = "{ledger}"
[monitor]
judge = "claude"
sample_rate = 0.05
agreement_floor = 0.85
state_file = "{state}"
"#,
        ledger = dir.join("ledger.sqlite").display(),
        state = dir.join("monitor.json").display(),
    );
    let config = RouterConfig::from_toml_str(&text).expect("parses");
    config.validate(&|_| true).expect("valid");
    // For `hearth report --config DIR/hearth.toml` (HEARTH_SIM_OUT).
    std::fs::write(dir.join("hearth.toml"), &text).expect("writes the config");
    config
}

struct World {
    router: Router,
    monitor: Arc<Monitor>,
    backends: Sim,
    judge: SimJudge,
    clock: Arc<AtomicI64>,
    ledger: Arc<Ledger>,
    fake: FakeAnthropic,
    config: RouterConfig,
}

async fn world(dir: &Path, truth: Truth, seed: u64) -> World {
    world_with(dir, truth, seed, |_| {}).await
}

async fn world_with(dir: &Path, truth: Truth, seed: u64, edit: impl FnOnce(&mut RouterConfig)) -> World {
    let mut fc = FakeConfig::new(KEY);
    fc.responder = Some(Responder::new(move |req| fake_answer(req, &truth, seed)));
    let fake = FakeAnthropic::start_with(fc).await.expect("fake starts");
    let mut config = config(&fake.base_url(), dir);
    edit(&mut config);
    let client = client(&fake.base_url());
    let ledger =
        Arc::new(Ledger::open(&dir.join("ledger.sqlite"), &LedgerConfig::default()).expect("ledger"));
    let clock = Arc::new(AtomicI64::new(START_MS));
    let c = Arc::clone(&clock);
    let monitor = Arc::new(
        Monitor::new(&config)
            .expect("monitor")
            .with_state_file(&dir.join("monitor.json"))
            .expect("state")
            .with_ledger(Arc::clone(&ledger))
            .with_clock(Arc::new(move || c.load(Ordering::Relaxed)))
            .with_seed(seed),
    );
    let router = Router::new(config.clone())
        .with_ledger(Arc::clone(&ledger))
        .with_watch(Arc::clone(&monitor) as Arc<dyn Watch>);
    World {
        router,
        monitor,
        backends: Sim { client: client.clone() },
        judge: SimJudge { client },
        clock,
        ledger,
        fake,
        config,
    }
}

const MIX: [(&str, f64); 4] = [("classify", 0.4), ("tag", 0.2), ("extract", 0.2), ("summarize", 0.2)];

/// `calls` requests spread evenly over `days`, judged as they come; the reasons served, by
/// task type.
async fn run(w: &World, first: u64, calls: u64, days: i64, seed: u64) -> HashMap<(String, String), u64> {
    let step = days * DAY_MS / calls as i64;
    let mut served = HashMap::new();
    for n in first..first + calls {
        let u = draw(seed, n, 11);
        let mut acc = 0.0;
        let task = MIX.iter().find(|(_, share)| {
            acc += share;
            u < acc
        });
        let task = task.map_or("summarize", |(t, _)| t);
        let done = w.router.complete(&w.backends, &Call { task, n }).await.expect("answered");
        *served.entry((task.to_owned(), done.reason.as_str().to_owned())).or_insert(0) += 1;
        w.monitor.judge_pending(&w.judge).await;
        w.clock.fetch_add(step, Ordering::Relaxed);
    }
    served
}

fn truth(classify: f64) -> Truth {
    Truth(HashMap::from([("classify", classify), ("tag", 0.97), ("extract", 0.95), ("summarize", 0.97)]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_in_which_classify_disagrees_moves_it_up_and_a_fixed_model_moves_it_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::env::var_os("HEARTH_SIM_OUT").map(std::path::PathBuf::from);
    let dir_path = out.clone().unwrap_or_else(|| dir.path().to_owned());
    std::fs::create_dir_all(&dir_path).expect("out dir");
    let seed = 20_261_204;
    let w = world(&dir_path, truth(0.70), seed).await;

    let week = run(&w, 0, 3000, 7, seed).await;
    let state = w.monitor.state();
    let classify = &state.tasks["classify"];
    assert_eq!(classify.tier, Tier::Up, "{classify:?}");
    assert_eq!(classify.history.len(), 1, "moved up once: {:?}", classify.history);
    for task in ["tag", "extract", "summarize"] {
        assert_eq!(state.tasks[task].tier, Tier::Local, "{task}: {:?}", state.tasks[task]);
    }
    assert!(w.monitor.demoted().contains("classify"));
    // After the move classify is served by claude with reason `demoted`.
    assert!(week.get(&("classify".into(), "demoted".into())).copied().unwrap_or(0) > 100, "{week:?}");
    let (agreement, interval) = classify.agreement();
    let interval = interval.expect("verdicts");
    assert!(interval.low < 0.85 && agreement.expect("rate") < 0.85, "{agreement:?} {interval:?}");
    println!("{}", hearth_monitor::report::render(&state, &w.config));
    println!("served by task and reason over the week: {week:?}");

    // Every judge call is a ledger row of its own, linked to the judged request.
    w.ledger.flush().expect("flush");
    let rows =
        SqliteStore::open(&dir_path.join("ledger.sqlite")).expect("opens").calls_since(0).expect("reads");
    let judge_rows: Vec<_> = rows.iter().filter(|c| c.task.as_deref() == Some("judge")).collect();
    assert_eq!(
        judge_rows.len() as u64,
        state.judge_calls + shadow_rows(&judge_rows),
        "{}",
        state.judge_calls
    );
    let ids: std::collections::HashSet<&str> = rows.iter().map(|c| c.request_id.as_str()).collect();
    for r in &judge_rows {
        let judged = r.tags.get("judged").expect("linked");
        assert!(ids.contains(judged.as_str()), "{judged} is not a ledger row");
        assert!(["agree", "disagree"].contains(&r.tags["verdict"].as_str()), "{:?}", r.tags);
    }
    let verdicts: u64 = state.tasks.values().map(|t| t.judged).sum();
    println!(
        "judge rows: {}, verdicts: {verdicts}, judge spend: ${:.4}",
        judge_rows.len(),
        state.judge_usd_total
    );

    // The local model is fixed: shadow samples (the local model beside claude's answer) agree
    // again and the test moves classify back.
    drop(w);
    let w = world(&dir_path, truth(0.99), seed + 1).await;
    assert!(w.monitor.demoted().contains("classify"), "the move survives a restart");
    w.clock.store(START_MS + 7 * DAY_MS, Ordering::Relaxed);
    run(&w, 3000, 3000, 7, seed).await;
    let state = w.monitor.state();
    let classify = &state.tasks["classify"];
    assert_eq!(classify.tier, Tier::Local, "{classify:?}");
    assert_eq!(classify.history.len(), 2);
    println!("{}", hearth_monitor::report::render(&state, &w.config));
    drop(w.fake);
}

fn shadow_rows(rows: &[&hearth_ledger::Call]) -> u64 {
    rows.iter().filter(|r| r.local).count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_judge_loses_no_rows_and_never_blocks_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = world(dir.path(), truth(0.70), 7).await;
    // Every judge call fails (the client does not retry: max_retries = 0).
    w.fake.push_faults((0..500).map(|_| Fault::Overloaded));
    let worker = tokio::spawn(Arc::clone(&w.monitor).run(SimJudge { client: client(&w.fake.base_url()) }));
    let started = std::time::Instant::now();
    for n in 0..40 {
        let done = w.router.complete(&w.backends, &Call { task: "classify", n }).await.expect("served");
        assert_eq!(done.route, "qwen2.5-coder:0.5b");
    }
    let serving = started.elapsed();
    // The worker drains the queue.
    for _ in 0..200 {
        if w.monitor.queued() == 0 && w.monitor.state().judge_errors >= 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let state = w.monitor.state();
    assert_eq!(state.tasks["classify"].judged, 0);
    assert_eq!(state.tasks["classify"].tier, Tier::Local);
    assert!(state.judge_errors >= 10, "{state:?}");
    w.ledger.flush().expect("flush");
    let rows =
        SqliteStore::open(&dir.path().join("ledger.sqlite")).expect("opens").calls_since(0).expect("reads");
    let failed: Vec<_> = rows.iter().filter(|c| c.task.as_deref() == Some("judge")).collect();
    assert_eq!(failed.len() as u64, state.judge_errors, "every failed judge call has its row");
    assert!(
        failed
            .iter()
            .all(|r| r.status == Status::Error && r.tags["verdict"] == "none" && r.error_message.is_some())
    );
    assert!(serving < std::time::Duration::from_secs(5), "{serving:?}");
    worker.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_and_the_daily_budget_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeAnthropic::start(KEY).await.expect("fake");
    let mut config = config(&fake.base_url(), dir.path());
    let m = config.monitor.as_mut().expect("monitor");
    m.queue = 3;
    m.daily_budget_usd = 0.00001;
    let monitor = Arc::new(Monitor::new(&config).expect("monitor").with_seed(1));
    let router = Router::new(config.clone()).with_watch(Arc::clone(&monitor) as Arc<dyn Watch>);
    let client = client(&fake.base_url());
    let backends = Sim { client: client.clone() };
    // No worker: the first 10 answers of the day are sampled; 3 fit the queue.
    for n in 0..10 {
        router.complete(&backends, &Call { task: "classify", n }).await.expect("served");
    }
    assert_eq!(monitor.queued(), 3);
    let state = monitor.state();
    assert_eq!((state.tasks["classify"].sampled, state.dropped_queue), (10, 7));
    // The judge spends past the day's budget on its first call; the rest are dropped.
    let verdicts = monitor.judge_pending(&SimJudge { client }).await;
    assert_eq!(verdicts.len(), 3);
    assert!(verdicts[0].agree.is_ok(), "{:?}", verdicts[0]);
    assert!(
        verdicts[1..].iter().all(|v| v.agree.as_ref().is_err_and(|e| e.contains("budget"))),
        "{verdicts:?}"
    );
    let state = monitor.state();
    assert_eq!((state.dropped_budget, state.judge_calls), (2, 1));
    assert!(state.judge_usd_today >= 0.00001);
}

/// A judge whose remote calls go through the Message Batches API.
struct BatchJudge {
    batcher: hearth_monitor::batch::Batcher,
    local: SimJudge,
}

impl Judge for BatchJudge {
    async fn ask(&self, r: &Remote, req: &SampledRequest) -> Result<JudgeReply, JudgeError> {
        self.batcher.ask(r, req).await
    }

    async fn local(&self, model: &str, req: &SampledRequest) -> Result<JudgeReply, JudgeError> {
        self.local.local(model, req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge_calls_through_message_batches_cost_half_and_lose_no_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w =
        world_with(dir.path(), truth(0.70), 11, |c| c.monitor.as_mut().expect("monitor").batch = true).await;
    let hearth_monitor::remote::RemoteClient::Anthropic(client) = client(&w.fake.base_url()) else {
        unreachable!()
    };
    let settings = hearth_monitor::batch::BatchSettings::new(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_millis(20),
    );
    let judge = BatchJudge {
        batcher: hearth_monitor::batch::Batcher::start(client, settings),
        local: SimJudge { client: client_of(&w) },
    };
    // Twelve classify and summarize answers: all sampled (the day's first ten of each type).
    for n in 0..12 {
        let task = if n % 2 == 0 { "classify" } else { "summarize" };
        w.router.complete(&w.backends, &Call { task, n }).await.expect("served");
    }
    assert_eq!(w.monitor.queued(), 12);
    let worker = tokio::spawn(Arc::clone(&w.monitor).run(judge));
    for _ in 0..500 {
        let s = w.monitor.state();
        if s.tasks.values().map(|t| t.judged).sum::<u64>() == 12 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    worker.abort();
    let state = w.monitor.state();
    assert_eq!(state.tasks["classify"].judged + state.tasks["summarize"].judged, 12, "{state:?}");
    assert_eq!(state.judge_errors, 0);
    // The calls went as batches: summarize's reference asks first, then its verdicts.
    let paths: Vec<(String, String)> = w.fake.requests().into_iter().map(|r| (r.method, r.path)).collect();
    assert!(!paths.iter().any(|(m, p)| m == "POST" && p == "/v1/messages"), "{paths:?}");
    let created = paths.iter().filter(|(m, p)| m == "POST" && p == "/v1/messages/batches").count();
    assert!((2..=6).contains(&created), "{created} batches: {paths:?}");
    assert!(paths.iter().any(|(m, p)| m == "GET" && p.ends_with("/results")));
    // Half price: each row costs half of what the same usage costs at the standard price.
    w.ledger.flush().expect("flush");
    let rows =
        SqliteStore::open(&dir.path().join("ledger.sqlite")).expect("opens").calls_since(0).expect("reads");
    let judge_rows: Vec<_> = rows.iter().filter(|c| c.task.as_deref() == Some("judge")).collect();
    assert_eq!(judge_rows.len() as u64, 6 + 6 * 3);
    let remote = w.config.remote("claude").expect("judge");
    for r in &judge_rows {
        assert_eq!(r.tags.get("batch").map(String::as_str), Some("true"));
        let usage = hearth_router::Usage {
            input_tokens: r.input_tokens.unwrap_or(0),
            output_tokens: r.output_tokens.unwrap_or(0),
            ..hearth_router::Usage::default()
        };
        let full = hearth_router::cost::remote_cost_usd(remote, &usage);
        assert!((r.cost_usd - full / 2.0).abs() < 1e-12, "{} vs {}", r.cost_usd, full);
        assert!(r.upstream_request_id.as_deref().is_some_and(|id| id.starts_with("msgbatch_")));
    }
}

fn client_of(w: &World) -> RemoteClient {
    client(&w.fake.base_url())
}
