//! One task of `hearth eval`: the local answer (greedy, with log-probabilities), its
//! confidence signals as the router reads them, its score; the upper tier's answer (sent, or
//! assumed), its score and price; a judge for `reference` tasks.

use std::time::{Duration, Instant};

use anyhow::Result;
use hearth_eval::python::{Outcome, Sandbox};
use hearth_eval::score;
use hearth_eval::suite::{Case, Score};
use hearth_eval::{Attempt, Record};
use hearth_router::{Reason, Route, RouterConfig, Usage, should_escalate};
use serde_json::{Value, json};

/// The upper tier of a task.
#[derive(Debug, Clone)]
pub enum Tier {
    /// A bigger local model (always run).
    Local(String),
    /// A remote; `sent` when its API key is set.
    Remote {
        /// Its name.
        name: String,
        /// Called for real.
        sent: bool,
    },
}

impl Tier {
    /// Its name in the config.
    pub fn name(&self) -> &str {
        match self {
            Tier::Local(n) | Tier::Remote { name: n, .. } => n,
        }
    }

    /// Whether its answers are really fetched.
    pub fn sent(&self) -> bool {
        match self {
            Tier::Local(_) => true,
            Tier::Remote { sent, .. } => *sent,
        }
    }
}

/// Who answers one task.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The local model.
    pub local: String,
    /// The upper tier.
    pub upper: Tier,
    /// The route serving the task type, with its index.
    pub route: Option<(usize, Route)>,
    /// The remote that judges `reference` tasks, when callable.
    pub judge: Option<String>,
}

/// Sends tasks to the in-process server.
pub struct Runner {
    client: hearth_openai::Client,
    config: RouterConfig,
    sandbox: Sandbox,
    test_timeout: Duration,
}

/// What the answer cut to in records.
const MAX_ANSWER_CHARS: usize = 4000;

impl Runner {
    /// A runner against the server at `base_url`.
    pub fn new(base_url: &str, config: RouterConfig, test_timeout: Duration) -> Result<Runner> {
        let client_config = hearth_openai::ClientConfig {
            timeout: Duration::from_secs(1800),
            max_retries: 2,
            ..hearth_openai::ClientConfig::new(base_url)
        };
        Ok(Runner {
            client: hearth_openai::Client::new(client_config)?,
            config,
            sandbox: Sandbox::default(),
            test_timeout,
        })
    }

    /// Runs one case.
    pub async fn run(&self, case: &Case, plan: &Plan) -> Record {
        let wants_margin = hearth_router::LABEL_TASKS.contains(&case.task.as_str());
        let (mut local, answer_json) = self.call(&plan.local, case.body(&plan.local)).await;
        let evidence = answer_json
            .as_ref()
            .map(|a| hearth_server::answer_evidence(a, case.json_expected(), wants_margin));
        // The route's answer checks alone (empty, refusal, JSON cut short), as if it escalated.
        let checks = plan.route.as_ref().map_or_else(|| Route::new(Vec::new(), ""), |(_, r)| r.clone());
        let checks_only = Route {
            escalate_to: Some(plan.upper.name().to_owned()),
            min_mean_logprob: None,
            min_token_logprob: None,
            min_label_margin: None,
            ..checks
        };
        let invalid_output = evidence
            .as_ref()
            .is_some_and(|e| should_escalate(&checks_only, e) == Some(Reason::InvalidOutput));
        local.cost_usd = self.local_cost(local.latency_ms);

        let upper = match &plan.upper {
            Tier::Local(name) => {
                let (mut a, _) = self.call(name, case.body(name)).await;
                a.cost_usd = self.local_cost(a.latency_ms);
                a
            }
            Tier::Remote { name, sent: true } => {
                let (mut a, _) = self.call(name, remote_body(case, name)).await;
                a.cost_usd = self.remote_cost(name, a.input_tokens, a.output_tokens);
                a
            }
            Tier::Remote { name, sent: false } => Attempt {
                model: name.clone(),
                answer: String::new(),
                correct: None,
                detail: Some("assumed: not sent".into()),
                input_tokens: local.input_tokens,
                output_tokens: local.output_tokens,
                cost_usd: self.remote_cost(name, local.input_tokens, local.output_tokens),
                latency_ms: 0,
                estimated: true,
                error: None,
            },
        };
        let mut upper = upper;
        if local.error.is_none() {
            let (ok, detail) = self.score(case, &local.answer, plan, &upper).await;
            local.correct = ok;
            local.detail = detail;
        }
        if upper.estimated {
            // Assumed right: the report states it.
            upper.correct = Some(true);
        } else if upper.error.is_none() {
            let (ok, detail) = match &case.score {
                // The upper tier's own answer is the reference.
                Score::Reference { reference: None } => (Some(true), None),
                _ => self.score(case, &upper.answer, plan, &upper).await,
            };
            upper.correct = ok;
            upper.detail = detail;
        }
        local.answer = cut(&local.answer);
        upper.answer = cut(&upper.answer);
        Record {
            id: case.id.clone(),
            task: case.task.clone(),
            category: case.category.clone(),
            scorer: case.score.kind().to_owned(),
            local,
            evidence,
            invalid_output,
            upper,
        }
    }

    /// One chat completion; the attempt (unscored) and, on success, the whole answer.
    async fn call(&self, model: &str, body: Value) -> (Attempt, Option<Value>) {
        let t0 = Instant::now();
        let result = self.client.chat_completions(&body).await;
        let latency_ms = t0.elapsed().as_millis() as u64;
        let mut attempt = Attempt { model: model.to_owned(), latency_ms, ..Attempt::default() };
        match result {
            Ok(response) => {
                let answer = response.body;
                attempt.answer = answer["choices"][0]["message"]["content"].as_str().unwrap_or("").to_owned();
                attempt.input_tokens = answer["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
                attempt.output_tokens = answer["usage"]["completion_tokens"].as_u64().unwrap_or(0);
                (attempt, Some(answer))
            }
            Err(e) => {
                tracing::warn!("{model}: {e}");
                attempt.error = Some(e.to_string());
                (attempt, None)
            }
        }
    }

    /// Whether `answer` is right, and why not.
    async fn score(
        &self,
        case: &Case,
        answer: &str,
        plan: &Plan,
        upper: &Attempt,
    ) -> (Option<bool>, Option<String>) {
        match &case.score {
            Score::Label { label } => (Some(score::label(answer, label)), None),
            Score::Fields { fields } => {
                let right = score::fields_right(answer, fields);
                let ok = score::fields(answer, fields);
                (Some(ok), (!ok).then(|| format!("{right}/{} fields right", fields.len())))
            }
            Score::Contains { contains } => (Some(score::contains(answer, contains.as_slice())), None),
            Score::PythonTests { python_tests, entry_point, prompt, timeout_secs } => {
                let program = score::program(answer, entry_point.as_deref(), prompt.as_deref());
                let tests = python_tests.clone();
                let timeout = timeout_secs.map(Duration::from_secs_f64).unwrap_or(self.test_timeout);
                let sandbox = self.sandbox.clone();
                let outcome =
                    tokio::task::spawn_blocking(move || sandbox.run(&program, &tests, timeout)).await;
                match outcome {
                    Ok(Ok(Outcome::Passed)) => (Some(true), None),
                    Ok(Ok(Outcome::Failed(why))) => (Some(false), Some(why)),
                    Ok(Ok(Outcome::TimedOut)) => (Some(false), Some(format!("timed out after {timeout:?}"))),
                    Ok(Err(e)) => (None, Some(e.to_string())),
                    Err(e) => (None, Some(e.to_string())),
                }
            }
            Score::Reference { reference } => {
                let reference = match reference {
                    Some(r) => r.clone(),
                    None if upper.error.is_none() && !upper.estimated && !upper.answer.is_empty() => {
                        upper.answer.clone()
                    }
                    None => {
                        return (None, Some("no reference: the upper tier's answer was not fetched".into()));
                    }
                };
                let Some(judge) = &plan.judge else {
                    return (None, Some("not judged: no remote with an API key to judge".into()));
                };
                self.judge(case, answer, &reference, judge).await
            }
        }
    }

    /// Asks `judge` whether `answer` is correct given `reference`.
    async fn judge(
        &self,
        case: &Case,
        answer: &str,
        reference: &str,
        judge: &str,
    ) -> (Option<bool>, Option<String>) {
        let question = case
            .messages
            .iter()
            .map(|m| format!("{}: {}", m["role"].as_str().unwrap_or("user"), content_text(&m["content"])))
            .collect::<Vec<_>>()
            .join("\n\n");
        let body = json!({
            "model": judge,
            "max_tokens": 512,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": JUDGE_SYSTEM},
                {"role": "user", "content": format!(
                    "[Question]\n{question}\n\n[Reference answer]\n{reference}\n\n[Answer to grade]\n{answer}\n\nIs the answer to grade correct and complete, as the reference is?"
                )}
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "verdict", "strict": true, "schema": {
                "type": "object",
                "properties": {"reason": {"type": "string"}, "verdict": {"type": "string", "enum": ["correct", "incorrect"]}},
                "required": ["reason", "verdict"],
                "additionalProperties": false
            }}}
        });
        match self.client.chat_completions(&body).await {
            Ok(r) => {
                let text = r.body["choices"][0]["message"]["content"].as_str().unwrap_or("");
                match score::json_of(text) {
                    Some(v) => match v["verdict"].as_str() {
                        Some("correct") => (Some(true), None),
                        Some("incorrect") => (Some(false), v["reason"].as_str().map(cut)),
                        _ => (None, Some(format!("the judge's verdict is unreadable: {}", cut(text)))),
                    },
                    None => (None, Some(format!("the judge's verdict is not JSON: {}", cut(text)))),
                }
            }
            Err(e) => (None, Some(format!("judge {judge}: {e}"))),
        }
    }

    fn local_cost(&self, latency_ms: u64) -> f64 {
        self.config.budget.local_usd_per_hour.unwrap_or(0.0) * latency_ms as f64 / 3_600_000.0
    }

    fn remote_cost(&self, name: &str, input: u64, output: u64) -> f64 {
        self.config.remote(name).map_or(0.0, |r| {
            hearth_router::cost::remote_cost_usd(
                r,
                &Usage { input_tokens: input, output_tokens: output, ..Usage::default() },
            )
        })
    }
}

const JUDGE_SYSTEM: &str = "You grade answers against a reference answer. An answer is correct when it reaches the same result as the reference (same final answer, same facts, code that does the same), whatever its wording or length; it is incorrect when it is wrong, incomplete, or answers a different question. Reply with JSON: a short reason, then the verdict.";

/// The body for a remote: the task as given, greedy, no log-probabilities (remotes may not
/// support them).
fn remote_body(case: &Case, model: &str) -> Value {
    let mut body = case.body(model);
    if let Some(obj) = body.as_object_mut() {
        obj.remove("logprobs");
        obj.remove("top_logprobs");
    }
    body
}

fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_ANSWER_CHARS {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX_ANSWER_CHARS).collect();
        out.push('…');
        out
    }
}
