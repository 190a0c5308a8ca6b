//! The router linked into a service, without `hearth serve`: [`hearth_router::Router::complete`]
//! over backends a service writes in a few lines — a local model through a
//! `hearth_engine::Session`, Claude through `hearth_anthropic::Client` (here pointed at the
//! loopback fake API). The same decisions as the server: a confident local answer stays local;
//! one below the route's confidence floor goes to Claude, priced and counted against the
//! budget; a remote that fails falls back to the local model.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::SystemTime;

use hearth_anthropic::fake::{FakeAnthropic, Fault};
use hearth_anthropic::types::MessagesRequest;
use hearth_anthropic::{Client, ClientConfig};
use hearth_engine::{
    Engine, EngineOptions, Message, Prompt, Request as EngineRequest, SamplingParams, Session,
};
use hearth_router::{
    AttemptOutcome, Backends, Evidence, Finish, LocalAnswer, Probe, Reason, Remote, RemoteAnswer,
    RemoteError, Router, RouterConfig, Usage,
};

/// The service's own request type.
struct Ask {
    task: &'static str,
    question: &'static str,
}

impl hearth_router::Request for Ask {
    fn model(&self) -> &str {
        "auto"
    }
    fn task_hint(&self) -> Option<&str> {
        Some(self.task)
    }
    fn routing_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.question)
    }
}

/// The service's backends: one local model, one Claude client.
struct Service {
    session: Mutex<Session>,
    claude: Client,
}

impl Backends for Service {
    type Request = Ask;
    type Answer = String;
    type Error = String;

    async fn local(&self, _model: &str, ask: &Ask, probe: Probe) -> Result<LocalAnswer<String>, String> {
        let mut req = EngineRequest::new(Prompt::Messages(vec![Message::user(ask.question)]));
        req.sampling = SamplingParams::greedy();
        req.sampling.logprobs = probe.evidence;
        req.max_tokens = 12;
        let mut session = self.session.lock().map_err(|e| e.to_string())?;
        let mut logprobs = Vec::new();
        let done = session
            .generate(&req, |ev| {
                logprobs.push(ev.logprob);
                std::ops::ControlFlow::Continue(())
            })
            .map_err(|e| e.to_string())?;
        let finish =
            if done.stop_reason == hearth_engine::StopReason::Length { Finish::Length } else { Finish::Stop };
        let evidence =
            probe.evidence.then(|| Evidence::of_answer(&done.text, &logprobs, finish, false, None));
        let usage = Usage {
            input_tokens: done.prompt_tokens as u64,
            output_tokens: done.completion_tokens as u64,
            ..Usage::default()
        };
        Ok(LocalAnswer::new(done.text).with_evidence(evidence).with_usage(Some(usage)))
    }

    async fn remote(
        &self,
        remote: &Remote,
        ask: &Ask,
        _buffered: bool,
    ) -> Result<RemoteAnswer<String>, RemoteError<String>> {
        let req: MessagesRequest = serde_json::from_value(serde_json::json!({
            "model": remote.model, "max_tokens": 64,
            "messages": [{"role": "user", "content": ask.question}],
        }))
        .map_err(|e| RemoteError::Request(e.to_string()))?;
        match self.claude.messages(&req).await {
            Ok(answer) => {
                let u = &answer.body.usage;
                let usage = Usage {
                    input_tokens: u.input_tokens,
                    output_tokens: u.output_tokens,
                    cache_read_tokens: u.cache_read_input_tokens.unwrap_or(0),
                    cache_write_tokens: u.cache_creation_input_tokens.unwrap_or(0),
                };
                Ok(RemoteAnswer::new(answer.body.text(), Some(usage)).with_upstream_id(answer.request_id))
            }
            Err(e) => Err(RemoteError::Upstream {
                error: e.to_string(),
                request_id: e.request_id().map(str::to_owned),
                reply: None,
            }),
        }
    }
}

const CONFIG: &str = r#"
[[models]]
name = "local"
[[remotes]]
name = "claude"
provider = "anthropic"
model = "claude-haiku-4-5"
input_per_mtok = 1.0
output_per_mtok = 5.0
max_retries = 0
[[routes]]
tasks = ["classify"]
target = "local"
escalate_to = "claude"
[[routes]]
tasks = ["reason"]
target = "local"
escalate_to = "claude"
min_mean_logprob = 0.0   # no answer is this sure: every one goes up
[[routes]]
tasks = ["plan"]
target = "claude"
fallback = "local"
"#;

#[test]
fn a_service_routes_through_the_library_as_the_server_does() {
    let Some(path) = hearth_testkit::model(hearth_testkit::QWEN_05B) else { return };
    let engine = Engine::load(&path, EngineOptions { threads: 2, ..Default::default() }).expect("loads");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let fake = FakeAnthropic::start("test-key").await.expect("fake API");
        let mut cc = ClientConfig::new("test-key").with_base_url(fake.base_url());
        cc.max_retries = 0;
        let service =
            Service { session: Mutex::new(engine.session()), claude: Client::new(cc).expect("client") };
        let config = RouterConfig::from_toml_str(CONFIG).expect("parses");
        config.validate(&|_| true).expect("valid");
        let router = Router::new(config);

        // Confident enough (no threshold but the invalid-output checks): stays local.
        let ask =
            Ask { task: "classify", question: "Sentiment of 'arrived broken'? Answer positive or negative." };
        let r = router.complete(&service, &ask).await.expect("answered");
        assert_eq!((r.route.as_str(), r.reason), ("local", Reason::Task), "{r:?}");
        assert!(!r.answer.trim().is_empty());
        let evidence = r.attempts[0].evidence.expect("probed: the route can escalate");
        assert!(evidence.mean_logprob.is_some_and(|m| m < 0.0 && m.is_finite()), "{evidence:?}");
        assert!(r.attempts[0].usage.is_some_and(|u| u.input_tokens > 0 && u.output_tokens > 0));
        assert_eq!(r.cost_usd, 0.0);
        assert!(fake.requests().is_empty(), "nothing went to Claude");

        // Below the floor: Claude answers, priced and spent; both attempts are kept.
        let ask = Ask { task: "reason", question: "Why is the sky blue? One sentence." };
        let r = router.complete(&service, &ask).await.expect("answered");
        assert_eq!((r.route.as_str(), r.reason), ("claude", Reason::LowConfidence), "{r:?}");
        assert_eq!(r.attempts[0].outcome, AttemptOutcome::Escalated(Reason::LowConfidence));
        assert!(r.cost_usd > 0.0);
        assert_eq!(router.spend().spent_today(SystemTime::now()), r.cost_usd);
        assert_eq!(fake.requests().len(), 1);
        assert!(
            r.attempts[1].upstream_id.as_deref().is_some_and(|id| id.starts_with("req_")),
            "{:?}",
            r.attempts[1]
        );

        // Claude overloaded: the plan route falls back to the local model.
        fake.push_fault(Fault::Overloaded);
        let ask = Ask { task: "plan", question: "Plan a picnic in three steps." };
        let r = router.complete(&service, &ask).await.expect("answered");
        assert_eq!((r.route.as_str(), r.reason), ("local", Reason::RemoteUnavailable), "{r:?}");
        assert!(matches!(&r.attempts[0].outcome, AttemptOutcome::Failed(m) if m.contains("claude")));
        assert_eq!(router.health().get("claude").consecutive_failures, 1);
    });
}
