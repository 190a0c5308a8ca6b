//! [`Router::complete`] over fake backends: every path of the flow (local, remote, escalation
//! to a remote and to a bigger local model, fallback, refusals, explicit names), what each
//! call costs and how the router's state changes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::*;
use crate::escalation::Finish;

const CONFIG: &str = r#"
[[models]]
name = "small"
[[models]]
name = "big"
[[remotes]]
name = "claude"
provider = "anthropic"
model = "claude-haiku-4-5"
input_per_mtok = 1.0
output_per_mtok = 5.0
cooldown_after_failures = 2
[[routes]]
tasks = ["classify"]
target = "small"
escalate_to = "claude"
min_mean_logprob = -1.0
min_label_margin = 0.3
[[routes]]
tasks = ["summarize"]
target = "small"
escalate_to = "big"
min_mean_logprob = -1.0
[[routes]]
tasks = ["tag"]
target = "small"
[[routes]]
tasks = ["reason"]
target = "claude"
fallback = "big"
[[routes]]
tasks = ["debug"]
target = "claude"
[budget]
daily_usd = 0.01
"#;

struct Req {
    model: &'static str,
    task: Option<&'static str>,
    stream: bool,
}

impl Request for Req {
    fn model(&self) -> &str {
        self.model
    }
    fn task_hint(&self) -> Option<&str> {
        self.task
    }
    fn routing_text(&self) -> Cow<'_, str> {
        Cow::Borrowed("Is this spam?")
    }
    fn stream(&self) -> bool {
        self.stream
    }
    fn call_info(&self) -> CallInfo {
        CallInfo {
            request_id: "chatcmpl-1".into(),
            operation: "chat".into(),
            tags: [("feature".to_owned(), "inbox".to_owned())].into(),
            instance: None,
        }
    }
}

fn auto(task: &'static str) -> Req {
    Req { model: "auto", task: Some(task), stream: false }
}

/// How the fake remote answers.
#[derive(Clone)]
enum RemoteBehaviour {
    Answers(Usage),
    /// Answers with this many tool calls.
    CallsTools(u32),
    /// A stream: the usage comes at its end.
    Streams,
    Fails,
    RefusesRequest,
}

struct Fake {
    /// Mean log-probability of each local model's answers.
    confidence: HashMap<&'static str, f64>,
    local_fails: bool,
    remote: RemoteBehaviour,
    calls: Mutex<Vec<String>>,
}

impl Fake {
    fn new(remote: RemoteBehaviour) -> Fake {
        Fake {
            confidence: HashMap::from([("small", -0.1), ("big", -0.1)]),
            local_fails: false,
            remote,
            calls: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Backends for Fake {
    type Request = Req;
    type Answer = String;
    type Error = String;

    async fn local(&self, model: &str, _req: &Req, probe: Probe) -> Result<LocalAnswer<String>, String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("local {model} probe={}/{}", probe.evidence, probe.label_margin));
        if self.local_fails {
            return Err("out of memory".into());
        }
        let mean = self.confidence[model];
        let evidence = probe.evidence.then(|| Evidence {
            mean_logprob: Some(mean),
            min_logprob: Some(mean),
            label_margin: probe.label_margin.then_some(0.9),
            finish: Finish::Stop,
            unfinished_json: false,
            empty: false,
            refused: false,
        });
        let usage = Usage { input_tokens: 12, output_tokens: 3, ..Usage::default() };
        Ok(LocalAnswer::new(format!("{model} says ham")).with_evidence(evidence).with_usage(Some(usage)))
    }

    async fn remote(
        &self,
        remote: &Remote,
        _req: &Req,
        buffered: bool,
    ) -> Result<RemoteAnswer<String>, RemoteError<String>> {
        self.calls.lock().unwrap().push(format!("remote {} buffered={buffered}", remote.name));
        match &self.remote {
            RemoteBehaviour::Answers(usage) => Ok(RemoteAnswer::new("claude says ham".into(), Some(*usage))
                .with_upstream_id(Some("req_1".into()))),
            RemoteBehaviour::CallsTools(n) => {
                Ok(RemoteAnswer::new("claude calls tools".into(), Some(USAGE)).with_tool_calls(*n))
            }
            RemoteBehaviour::Streams => Ok(RemoteAnswer::new("claude streams".into(), None)),
            RemoteBehaviour::Fails => Err(RemoteError::Upstream {
                error: "529 overloaded_error".into(),
                request_id: Some("req_9".into()),
                reply: Some("529 for the client".into()),
            }),
            RemoteBehaviour::RefusesRequest => Err(RemoteError::Request("prompt is too long".into())),
        }
    }
}

fn router() -> Router {
    let config = RouterConfig::from_toml_str(CONFIG).expect("parses");
    config.validate(&|_| true).expect("valid");
    Router::new(config)
}

const USAGE: Usage =
    Usage { input_tokens: 1000, output_tokens: 200, cache_read_tokens: 0, cache_write_tokens: 0 };
/// 1000 × $1 + 200 × $5, per million.
const USAGE_USD: f64 = 0.002;

fn failed<E: std::fmt::Debug>(r: Result<Routed<String>, CompleteError<E>>) -> Failed<E> {
    match r {
        Err(CompleteError::Failed(f)) => *f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_confident_local_answer_is_served_with_its_evidence() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    let r = router.complete(&fake, &auto("classify")).await.expect("answered");
    assert_eq!((r.answer.as_str(), r.route.as_str(), r.reason), ("small says ham", "small", Reason::Task));
    assert_eq!(fake.calls(), ["local small probe=true/true"], "classify with a margin threshold asks for it");
    assert_eq!(r.cost_usd, 0.0);
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.attempts[0].outcome, AttemptOutcome::Served);
    assert_eq!(r.attempts[0].evidence.and_then(|e| e.label_margin), Some(0.9));
    assert_eq!(router.spend().spent_today(SystemTime::now()), 0.0);
}

#[tokio::test]
async fn a_route_without_escalation_does_not_probe() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    let r = router.complete(&fake, &auto("tag")).await.expect("answered");
    assert_eq!(fake.calls(), ["local small probe=false/false"]);
    assert_eq!(r.attempts[0].evidence, None);
}

#[tokio::test]
async fn a_low_confidence_answer_goes_to_the_remote_and_both_attempts_are_kept() {
    let (router, mut fake) = (router(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    fake.confidence.insert("small", -2.0);
    let r = router.complete(&fake, &auto("classify")).await.expect("answered");
    assert_eq!(
        (r.answer.as_str(), r.route.as_str(), r.reason),
        ("claude says ham", "claude", Reason::LowConfidence)
    );
    assert_eq!(fake.calls(), ["local small probe=true/true", "remote claude buffered=true"]);
    assert!((r.cost_usd - USAGE_USD).abs() < 1e-12, "{}", r.cost_usd);
    assert_eq!(r.attempts[0].outcome, AttemptOutcome::Escalated(Reason::LowConfidence));
    assert_eq!((r.attempts[1].target.as_str(), r.attempts[1].usage), ("claude", Some(USAGE)));
    assert_eq!(r.attempts[1].upstream_id.as_deref(), Some("req_1"), "the upstream's id is kept");
    assert_eq!(r.attempts[0].usage.map(|u| (u.input_tokens, u.output_tokens)), Some((12, 3)), "local usage");
    assert!((router.spend().spent_today(SystemTime::now()) - USAGE_USD).abs() < 1e-12);
}

#[tokio::test]
async fn escalation_can_go_to_a_bigger_local_model() {
    let (router, mut fake) = (router(), Fake::new(RemoteBehaviour::Fails));
    fake.confidence.insert("small", -3.0);
    let r = router.complete(&fake, &auto("summarize")).await.expect("answered");
    assert_eq!((r.route.as_str(), r.reason), ("big", Reason::LowConfidence));
    assert_eq!(fake.calls(), ["local small probe=true/false", "local big probe=true/false"]);
    assert_eq!(r.cost_usd, 0.0);
}

#[tokio::test]
async fn a_failed_escalation_serves_the_local_answer() {
    let (router, mut fake) = (router(), Fake::new(RemoteBehaviour::Fails));
    fake.confidence.insert("small", -2.0);
    let r = router.complete(&fake, &auto("classify")).await.expect("answered");
    assert_eq!((r.answer.as_str(), r.route.as_str(), r.reason), ("small says ham", "small", Reason::Task));
    assert_eq!(r.attempts[0].outcome, AttemptOutcome::Served);
    assert!(matches!(&r.attempts[1].outcome, AttemptOutcome::Failed(m) if m.contains("request-id req_9")));
    assert_eq!(r.attempts[1].upstream_id.as_deref(), Some("req_9"));
    assert_eq!(router.health().get("claude").consecutive_failures, 1, "the failure counts toward a cooldown");
}

#[tokio::test]
async fn a_remote_answer_is_priced_and_spent() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    let r = router.complete(&fake, &auto("debug")).await.expect("answered");
    assert_eq!((r.route.as_str(), r.reason), ("claude", Reason::Task));
    assert_eq!(fake.calls(), ["remote claude buffered=false"]);
    assert!((r.cost_usd - USAGE_USD).abs() < 1e-12);
}

#[tokio::test]
async fn a_failed_remote_falls_back_to_the_routes_local_model_and_cools_down() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Fails));
    let r = router.complete(&fake, &auto("reason")).await.expect("answered");
    assert_eq!((r.route.as_str(), r.reason), ("big", Reason::RemoteUnavailable));
    assert_eq!(fake.calls(), ["remote claude buffered=false", "local big probe=false/false"]);
    router.complete(&fake, &auto("reason")).await.expect("answered");
    // Two failures in a row cool the remote down: the policy now skips it without calling.
    let r = router.complete(&fake, &auto("reason")).await.expect("answered");
    assert_eq!((r.route.as_str(), r.reason), ("big", Reason::RemoteUnavailable));
    assert_eq!(fake.calls().iter().filter(|c| c.starts_with("remote")).count(), 2);
    assert_eq!(r.attempts.len(), 1);
}

#[tokio::test]
async fn a_failed_remote_without_fallback_names_the_upstreams_error() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Fails));
    let f = failed(router.complete(&fake, &auto("debug")).await);
    match &f.cause {
        Cause::Upstream { message, reply } => {
            assert!(
                message.contains("remote \"claude\" failed: 529 overloaded_error (request-id req_9)"),
                "{message}"
            );
            assert_eq!(reply.as_deref(), Some("529 for the client"), "the backend's reply is kept");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((f.route.as_str(), f.reason), ("claude", Reason::Task));
}

#[tokio::test]
async fn an_explicit_remote_is_never_substituted() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Fails));
    let f =
        failed(router.complete(&fake, &Req { model: "claude", task: Some("reason"), stream: false }).await);
    assert!(matches!(f.cause, Cause::Upstream { .. }));
    assert_eq!(f.reason, Reason::Explicit);
    assert_eq!(fake.calls(), ["remote claude buffered=false"]);
}

#[tokio::test]
async fn a_request_the_remote_refuses_goes_back_as_is() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::RefusesRequest));
    let f = failed(router.complete(&fake, &auto("reason")).await);
    assert!(matches!(&f.cause, Cause::Request(e) if e == "prompt is too long"));
    assert_eq!(router.health().get("claude").consecutive_failures, 0, "not the remote's fault");
}

#[tokio::test]
async fn past_the_cap_the_route_serves_locally_or_refuses() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    router.set_spend(Spend::restore(SystemTime::now(), 0.02, 0.02));
    // `reason` has a local fallback: served there, reason `budget`.
    let r = router.complete(&fake, &auto("reason")).await.expect("answered");
    assert_eq!((r.route.as_str(), r.reason), ("big", Reason::Budget));
    // An explicit remote past the cap is refused with 429 naming the cap.
    let f = failed(router.complete(&fake, &Req { model: "claude", task: None, stream: false }).await);
    assert!(
        matches!(&f.cause, Cause::Refused { status: 429, message } if message.contains("daily")),
        "{:?}",
        f.cause
    );
    assert_eq!(f.route, "claude");
    assert!(fake.calls().iter().all(|c| !c.starts_with("remote")), "{:?}", fake.calls());
}

#[tokio::test]
async fn a_local_failure_is_the_callers_error() {
    let (router, mut fake) = (router(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    fake.local_fails = true;
    let f = failed(router.complete(&fake, &auto("tag")).await);
    assert!(matches!(&f.cause, Cause::Local(e) if e == "out of memory"));
    assert_eq!(f.route, "small");
}

#[tokio::test]
async fn an_unknown_model_lists_what_is_served() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    match router.complete(&fake, &Req { model: "gpt-9", task: None, stream: false }).await {
        Err(CompleteError::UnknownModel(e)) => assert!(e.known.contains(&"claude".to_owned())),
        other => panic!("{other:?}"),
    }
    assert!(fake.calls().is_empty());
}

#[test]
fn a_streams_usage_reported_at_its_end_is_spent() {
    let router = router();
    let cost = router.record_success("claude", &USAGE);
    assert!((cost - USAGE_USD).abs() < 1e-12);
    assert!((router.spend().spent_today(SystemTime::now()) - USAGE_USD).abs() < 1e-12);
    assert_eq!(router.record_success("nobody", &USAGE), 0.0);
}

/// The ledger's rows, oldest first: (request_id, route, reason, status, escalation_parent,
/// input tokens, cost, baseline, error_type, streamed).
type Row =
    (String, String, String, String, Option<String>, Option<i64>, f64, Option<f64>, Option<String>, bool);

struct Logged {
    router: Router,
    ledger: Arc<hearth_ledger::Ledger>,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn logged() -> Logged {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger =
        Arc::new(hearth_ledger::Ledger::open(&path, &hearth_ledger::LedgerConfig::default()).unwrap());
    let mut config = RouterConfig::from_toml_str(CONFIG).unwrap();
    config.budget.local_usd_per_hour = Some(3600.0); // $1 per second: a local call's cost is its seconds
    Logged { router: Router::new(config).with_ledger(Arc::clone(&ledger)), ledger, path, _dir: dir }
}

impl Logged {
    fn rows(&self) -> Vec<Row> {
        self.ledger.flush().unwrap();
        let store = hearth_ledger::SqliteStore::open(&self.path).unwrap();
        let mut stmt = store
            .connection()
            .prepare(
                "SELECT request_id, route, reason, status, escalation_parent, gen_ai_usage_input_tokens, \
                 cost_usd, baseline_cost_usd, error_type, streamed FROM calls ORDER BY id",
            )
            .unwrap();
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }
}

#[tokio::test]
async fn an_escalated_request_is_two_rows_the_second_naming_the_first() {
    let (l, mut fake) = (logged(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    fake.confidence.insert("small", -2.0);
    l.router.complete(&fake, &auto("classify")).await.expect("answered");
    let rows = l.rows();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (local, remote) = (&rows[0], &rows[1]);
    assert_eq!(
        (local.0.as_str(), local.1.as_str(), local.2.as_str(), local.3.as_str()),
        ("chatcmpl-1-1", "small", "task", "escalated")
    );
    assert_eq!(local.5, Some(12));
    assert_eq!(local.7, Some(0.0), "an escalated attempt stands in for no remote call");
    assert!(local.6 >= 0.0 && local.6 < 5.0, "a local call costs its seconds at $1/s: {local:?}");
    assert_eq!(
        (remote.0.as_str(), remote.1.as_str(), remote.2.as_str(), remote.3.as_str()),
        ("chatcmpl-1", "claude", "low_confidence", "ok"),
        "the served call has the client's id"
    );
    assert_eq!(remote.4.as_deref(), Some("chatcmpl-1-1"), "escalation_parent");
    assert!((remote.6 - USAGE_USD).abs() < 1e-12 && (remote.7.unwrap() - USAGE_USD).abs() < 1e-12);
}

#[tokio::test]
async fn a_fallback_after_a_remote_failure_is_a_failed_row_and_a_served_one() {
    let (l, fake) = (logged(), Fake::new(RemoteBehaviour::Fails));
    l.router.complete(&fake, &auto("reason")).await.expect("answered");
    let rows = l.rows();
    // Claude's price of big's tokens (12 × $1 + 3 × $5 per million): the served answer's baseline.
    assert!((rows[1].7.unwrap() - 27e-6).abs() < 1e-12, "{rows:?}");
    let got: Vec<_> =
        rows.iter().map(|r| (r.1.as_str(), r.2.as_str(), r.3.as_str(), r.8.as_deref())).collect();
    assert_eq!(
        got,
        [("claude", "task", "error", Some("upstream_error")), ("big", "remote_unavailable", "ok", None)]
    );
    assert_eq!(rows[1].4.as_deref(), Some(rows[0].0.as_str()));
}

#[tokio::test]
async fn refused_and_unknown_requests_still_get_a_row() {
    let (l, fake) = (logged(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    l.router.set_spend(Spend::restore(SystemTime::now(), 1.0, 1.0));
    let _ = l.router.complete(&fake, &Req { model: "claude", task: None, stream: false }).await;
    let _ = l.router.complete(&fake, &Req { model: "gpt-9", task: None, stream: false }).await;
    let rows = l.rows();
    let got: Vec<_> =
        rows.iter().map(|r| (r.1.as_str(), r.2.as_str(), r.3.as_str(), r.8.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("claude", "explicit", "error", Some("budget_exceeded")),
            ("gpt-9", "unknown_model", "error", Some("model_not_found"))
        ]
    );
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_streamed_remote_answers_row_waits_for_the_streams_usage() {
    let (l, fake) = (logged(), Fake::new(RemoteBehaviour::Streams));
    let stream = Req { model: "auto", task: Some("debug"), stream: true };
    let r = l.router.complete(&fake, &stream).await.expect("answered");
    assert!(l.rows().is_empty(), "not written before the stream ends");
    let pending = r.pending.expect("a pending row");
    assert!((pending.finish(Some(&USAGE), None) - USAGE_USD).abs() < 1e-12);
    let rows = l.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].3.as_str(), rows[0].5, rows[0].9), ("ok", Some(1000), true));
    assert!((rows[0].6 - USAGE_USD).abs() < 1e-12);

    // A stream dropped before its end still leaves its row, as an error.
    let r = l.router.complete(&fake, &stream).await.expect("answered");
    drop(r);
    let rows = l.rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[1].3.as_str(), rows[1].5, rows[1].8.as_deref()),
        ("error", None, Some("upstream_error"))
    );
}

impl Logged {
    /// Each row's `tool_calls` tag, as stored.
    fn tool_call_tags(&self) -> Vec<Option<String>> {
        self.ledger.flush().unwrap();
        let store = hearth_ledger::SqliteStore::open(&self.path).unwrap();
        let mut stmt = store.connection().prepare("SELECT tags FROM calls ORDER BY id").unwrap();
        let tags: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let tag = |t: &String| {
            serde_json::from_str::<serde_json::Value>(t).unwrap()["tool_calls"].as_str().map(str::to_owned)
        };
        tags.iter().map(tag).collect()
    }
}

#[tokio::test]
async fn an_answer_with_tool_calls_is_tagged_with_their_number() {
    let (l, fake) = (logged(), Fake::new(RemoteBehaviour::CallsTools(2)));
    l.router.complete(&fake, &auto("reason")).await.expect("answered");
    let (l2, plain) = (logged(), Fake::new(RemoteBehaviour::Answers(USAGE)));
    l2.router.complete(&plain, &auto("reason")).await.expect("answered");
    let streams = Fake::new(RemoteBehaviour::Streams);
    let r =
        l.router.complete(&streams, &Req { model: "auto", task: Some("debug"), stream: true }).await.unwrap();
    let mut pending = r.pending.expect("a pending row");
    pending.set_tool_calls(1);
    pending.finish(Some(&USAGE), None);
    assert_eq!(l.tool_call_tags(), [Some("2".to_owned()), Some("1".to_owned())]);
    assert_eq!(l2.tool_call_tags(), [None], "no tool calls, no tag");
}

#[tokio::test]
async fn a_router_without_a_ledger_has_nothing_pending() {
    let (router, fake) = (router(), Fake::new(RemoteBehaviour::Streams));
    let r = router.complete(&fake, &Req { model: "auto", task: Some("debug"), stream: true }).await.unwrap();
    assert!(r.pending.is_none());
}
