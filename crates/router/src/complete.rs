//! [`Router::complete`]: one request from decision to answer, the same way whether it comes
//! through `hearth serve` or from a service that links hearth in.
//!
//! The router owns the policy and its live state (spend against the caps, remote health); the
//! caller supplies the [`Backends`] that actually generate: a local model by name, a remote by
//! its config entry. The flow, per request:
//!
//! 1. [`Policy::decide`] on the request's model, task hint and text (an unknown model is
//!    [`CompleteError::UnknownModel`]; a refusal — a spend cap, a remote cooling down — is
//!    [`Cause::Refused`] with its HTTP status).
//! 2. **Remote target**: called once (the backend's client retries as the official SDKs do).
//!    Success: its cost goes to the spend and its health is reset. A request the remote cannot
//!    take ([`RemoteError::Request`]) goes back to the caller as is. An upstream failure
//!    ([`RemoteError::Upstream`]) is recorded in the health (cooldowns); unless the model was
//!    named explicitly, the route's local fallback then serves (reason `remote_unavailable`),
//!    else [`Cause::Upstream`] names the upstream's error and request id.
//! 3. **Local target**: the backend generates. With the decision's `escalate_to`, it is asked
//!    for [`Evidence`] ([`Probe`]); [`should_escalate`] judges it and, when the answer falls
//!    short, `escalate_to` answers instead (reason `low_confidence` / `invalid_output`). If the
//!    escalation target fails, the local answer is served: it exists, and is better than an
//!    error.
//!
//! Streams: a remote stream's usage is known only at its end; the backend reports it then with
//! [`Router::record_success`] (or [`Router::record_failure`] for a cut stream), and
//! [`RemoteAnswer::usage`] is `None`.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use crate::budget::Spend;
use crate::config::{Remote, RouterConfig};
use crate::cooldown::Health;
use crate::cost::{Usage, remote_cost_usd};
use crate::escalation::{Evidence, should_escalate, wants_label_margin};
use crate::ledger_rows::{self, CallInfo, PendingRow, RequestFacts, new_request_id};
use crate::policy::{Decision, Outcome, Policy, RouteInput, RouterState, UnknownModel};
use crate::reason::Reason;
use crate::watch::{Answered, SampledRequest, Watch};
use hearth_ledger::Ledger;

/// What the router reads from a request (the backends read the rest).
pub trait Request: Sync {
    /// `model`: `auto`, a local model's or a remote's name.
    fn model(&self) -> &str;
    /// The task type the caller gave (`metadata.task`, a header), if any.
    fn task_hint(&self) -> Option<&str>;
    /// The text the task guess and the complexity score read: the system prompt and the
    /// messages' text.
    fn routing_text(&self) -> Cow<'_, str>;
    /// Whether the answer is streamed.
    fn stream(&self) -> bool {
        false
    }
    /// The request's id, operation and tags, for its ledger rows (a router with a ledger
    /// writes them; see [`crate::ledger_rows`]). Default: none (the router makes an id).
    fn call_info(&self) -> CallInfo {
        CallInfo::default()
    }
    /// An owned copy of the request's text for a judge (the quality monitor replays sampled
    /// requests); `None` when it cannot be replayed as text (tools, images). Called only for
    /// the requests a watcher samples. Default: `None`.
    fn sampled(&self) -> Option<SampledRequest> {
        None
    }
}

/// What the router needs from a local answer besides the answer itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Probe {
    /// Generate in full (even for a streamed request) and report [`Evidence`]: token
    /// log-probabilities, how generation stopped. The client still gets only what it asked
    /// for.
    pub evidence: bool,
    /// Also the label margin: at least two alternatives per token.
    pub label_margin: bool,
}

/// A local model's answer ([`LocalAnswer::new`], then `with_…`).
#[derive(Debug)]
#[non_exhaustive]
pub struct LocalAnswer<A> {
    /// The answer, ready for the caller.
    pub answer: A,
    /// What it shows about its own quality; `None` when not probed (or not measurable: the
    /// answer is then final).
    pub evidence: Option<Evidence>,
    /// Its token usage, when known (prompt tokens as `input_tokens`).
    pub usage: Option<Usage>,
    /// The tool calls it makes (its ledger row is tagged `tool_calls`).
    pub tool_calls: u32,
    /// The answer's text, for a watcher ([`crate::Watch`]); `None`: not reported.
    pub text: Option<String>,
}

impl<A> LocalAnswer<A> {
    /// An answer with no evidence, no usage and no tool calls.
    pub fn new(answer: A) -> LocalAnswer<A> {
        LocalAnswer { answer, evidence: None, usage: None, tool_calls: 0, text: None }
    }

    /// With the answer's text (for the quality monitor).
    pub fn with_text(mut self, text: Option<String>) -> LocalAnswer<A> {
        self.text = text;
        self
    }

    /// With the number of tool calls it makes.
    pub fn with_tool_calls(mut self, n: u32) -> LocalAnswer<A> {
        self.tool_calls = n;
        self
    }

    /// With the evidence a probe measured.
    pub fn with_evidence(mut self, evidence: Option<Evidence>) -> LocalAnswer<A> {
        self.evidence = evidence;
        self
    }

    /// With its token usage.
    pub fn with_usage(mut self, usage: Option<Usage>) -> LocalAnswer<A> {
        self.usage = usage;
        self
    }
}

/// A remote's answer ([`RemoteAnswer::new`], then `with_…`).
#[derive(Debug)]
#[non_exhaustive]
pub struct RemoteAnswer<A> {
    /// The answer, ready for the caller.
    pub answer: A,
    /// Its token usage; `None` for a stream, whose backend reports the usage at the stream's
    /// end with [`Router::record_success`].
    pub usage: Option<Usage>,
    /// The upstream's id for the call (its `request-id` / `x-request-id` header), if it sent
    /// one.
    pub upstream_id: Option<String>,
    /// The tool calls it makes (its ledger row is tagged `tool_calls`); a stream's are known
    /// at its end ([`PendingRow::set_tool_calls`]).
    pub tool_calls: u32,
    /// The answer's text, for a watcher ([`crate::Watch`]); `None`: not reported (streams).
    pub text: Option<String>,
}

impl<A> RemoteAnswer<A> {
    /// An answer with its usage (`None` for a stream).
    pub fn new(answer: A, usage: Option<Usage>) -> RemoteAnswer<A> {
        RemoteAnswer { answer, usage, upstream_id: None, tool_calls: 0, text: None }
    }

    /// With the answer's text (for the quality monitor).
    pub fn with_text(mut self, text: Option<String>) -> RemoteAnswer<A> {
        self.text = text;
        self
    }

    /// With the number of tool calls it makes.
    pub fn with_tool_calls(mut self, n: u32) -> RemoteAnswer<A> {
        self.tool_calls = n;
        self
    }

    /// With the upstream's id for the call.
    pub fn with_upstream_id(mut self, id: Option<String>) -> RemoteAnswer<A> {
        self.upstream_id = id;
        self
    }
}

/// Why a remote gave no answer.
#[derive(Debug)]
pub enum RemoteError<E> {
    /// The request cannot be sent to this remote, or the remote refused the request itself
    /// (a 400): the caller's error, not the remote's health.
    Request(E),
    /// The remote failed after its retries (connection, timeout, 5xx, 529, 429).
    Upstream {
        /// What failed.
        error: String,
        /// The upstream's request id, if it sent one.
        request_id: Option<String>,
        /// What the caller should answer if nothing else serves (e.g. the upstream's 429 with
        /// its `retry-after`); `None`: the caller's default for [`Cause::Upstream`].
        reply: Option<E>,
    },
}

/// How the router reaches models: local ones by name, remotes by their config entry.
///
/// The futures must be `Send` so that a server can run them on a multi-threaded runtime.
pub trait Backends: Sync {
    /// The request type.
    type Request: Request;
    /// An answer (a response body, a message, a stream).
    type Answer: Send;
    /// A failure to report to the caller as is (invalid request, engine error, …).
    type Error: Send;

    /// Local model `model` answers `req`; with `probe.evidence` it generates in full and
    /// reports [`Evidence`].
    fn local(
        &self,
        model: &str,
        req: &Self::Request,
        probe: Probe,
    ) -> impl Future<Output = Result<LocalAnswer<Self::Answer>, Self::Error>> + Send;

    /// `remote` answers `req`; `buffered`: the answer must be complete before it is sent even
    /// if the request is streamed (an escalation after a buffered local answer).
    fn remote(
        &self,
        remote: &Remote,
        req: &Self::Request,
        buffered: bool,
    ) -> impl Future<Output = Result<RemoteAnswer<Self::Answer>, RemoteError<Self::Error>>> + Send;
}

/// An answered request: the answer and how it was routed.
#[derive(Debug)]
pub struct Routed<A> {
    /// The answer.
    pub answer: A,
    /// The decision made before generating.
    pub decision: Decision,
    /// The target that answered (the `x-hearth-route` header).
    pub route: String,
    /// Why it answered (the `x-hearth-reason` header): the decision's reason, or
    /// `low_confidence` / `invalid_output` after an escalation, `remote_unavailable` after a
    /// fallback.
    pub reason: Reason,
    /// USD paid for the request, all attempts (0 for local answers; a stream's cost is known
    /// only at its end and is not included).
    pub cost_usd: f64,
    /// Every call made for the request, in order.
    pub attempts: Vec<Attempt>,
    /// A streamed remote answer's ledger row, to be finished when the stream ends (its usage
    /// and cost are known only then): [`PendingRow::finish`]. `None` when the router has no
    /// ledger or the answer is complete (its row is written already).
    pub pending: Option<PendingRow>,
    /// The served answer's text, when its backend reported it.
    pub text: Option<String>,
}

/// One call made for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The model or remote called.
    pub target: String,
    /// Whether it is a local model.
    pub local: bool,
    /// Its usage, when known (remote non-streamed; local when the backend reports it).
    pub usage: Option<Usage>,
    /// USD paid.
    pub cost_usd: f64,
    /// What it showed (probed local answers).
    pub evidence: Option<Evidence>,
    /// The upstream's id for the call (remote answers).
    pub upstream_id: Option<String>,
    /// The tool calls its answer makes.
    pub tool_calls: u32,
    /// How long the call took, milliseconds (a stream's: until its response started).
    pub elapsed_ms: u64,
    /// Why it was called: the decision's reason for the first call; the escalation's reason
    /// (`low_confidence`, `invalid_output`) or `remote_unavailable` (a fallback) for the next.
    pub reason: Reason,
    /// Why it gave no answer, or why its answer was not used; `None`: it answered and was used.
    pub outcome: AttemptOutcome,
}

/// What became of one call.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// Its answer was served.
    Served,
    /// Its answer fell short and was escalated (the reason).
    Escalated(Reason),
    /// It failed (the message).
    Failed(String),
}

/// A request that got no answer.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError<E> {
    /// `model` is neither `auto` nor a configured name.
    #[error(transparent)]
    UnknownModel(#[from] UnknownModel),
    /// Decided, then refused or failed.
    #[error("{}", .0.cause)]
    Failed(Box<Failed<E>>),
}

/// A decided request that got no answer.
#[derive(Debug)]
pub struct Failed<E> {
    /// The decision.
    pub decision: Decision,
    /// The target that failed (for a refusal: the one the rules preferred).
    pub route: String,
    /// The decision's reason (`budget`, `remote_unavailable`, `task`, …).
    pub reason: Reason,
    /// What happened.
    pub cause: Cause<E>,
    /// Every call made for the request.
    pub attempts: Vec<Attempt>,
}

/// Why a decided request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Cause<E> {
    /// The policy refused it: `status` 429 past a spend cap, 503 for a remote cooling down.
    #[error("{message}")]
    Refused {
        /// The HTTP status to answer with.
        status: u16,
        /// What happened and what to do.
        message: String,
    },
    /// A local model failed, or the request is invalid for it.
    #[error("the local model failed")]
    Local(E),
    /// The remote cannot take the request.
    #[error("the remote refused the request")]
    Request(E),
    /// The remote failed and nothing local could serve.
    #[error("{message}")]
    Upstream {
        /// Names the remote, its error and request id.
        message: String,
        /// The backend's [`RemoteError::Upstream`] `reply`.
        reply: Option<E>,
    },
}

/// A request answered from the response cache, for [`Router::record_cache_hit`].
#[derive(Debug, Clone)]
pub struct CacheHit<'a> {
    /// `exact` or `semantic`.
    pub kind: &'a str,
    /// Cosine similarity of the prompts (1 for exact).
    pub similarity: f32,
    /// The cached answer's token counts, when it has them.
    pub usage: Option<Usage>,
    /// How long serving the hit took, ms.
    pub latency_ms: u64,
}

/// The router: the policy with its live state. Cheap to share behind an `Arc`; every method
/// takes `&self`.
#[derive(Debug)]
pub struct Router {
    policy: Policy,
    spend: Mutex<Spend>,
    health: Mutex<Health>,
    ledger: Option<Arc<Ledger>>,
    watch: Option<Arc<dyn Watch>>,
}

impl Router {
    /// A router for a validated `config`, with no spend yet and every remote healthy.
    pub fn new(config: RouterConfig) -> Router {
        Router {
            policy: Policy::new(config),
            spend: Mutex::new(Spend::new()),
            health: Mutex::new(Health::new()),
            ledger: None,
            watch: None,
        }
    }

    /// The same router, telling `watch` (the quality monitor) of every answer and serving
    /// the task types it moved up from their route's `escalate_to` ([`crate::watch`]).
    pub fn with_watch(mut self, watch: Arc<dyn Watch>) -> Router {
        self.watch = Some(watch);
        self
    }

    /// The watcher, if any.
    pub fn watch(&self) -> Option<&Arc<dyn Watch>> {
        self.watch.as_ref()
    }

    /// Task types (lowercase) the watcher has moved up (empty without one).
    pub fn demoted(&self) -> BTreeSet<String> {
        self.watch.as_ref().map(|w| w.demoted()).unwrap_or_default()
    }

    /// The same router, writing one ledger row per call it makes or refuses
    /// ([`crate::ledger_rows`]).
    pub fn with_ledger(mut self, ledger: Arc<Ledger>) -> Router {
        self.ledger = Some(ledger);
        self
    }

    /// The ledger the router writes to, if any.
    pub fn ledger(&self) -> Option<&Arc<Ledger>> {
        self.ledger.as_ref()
    }

    /// Writes the ledger row of a request answered from the response cache (see
    /// [`ledger_rows::cache_hit_row`]); nothing without a ledger.
    pub fn record_cache_hit<R: Request>(
        &self,
        req: &R,
        decision: &Decision,
        target: &str,
        hit: CacheHit<'_>,
    ) {
        let Some(ledger) = &self.ledger else { return };
        let started_unix_ms = hearth_ledger::now_unix_ms() - i64::try_from(hit.latency_ms).unwrap_or(0);
        let mut info = req.call_info();
        if info.request_id.is_empty() {
            info.request_id = new_request_id(started_unix_ms);
        }
        let facts = RequestFacts {
            info: &info,
            requested_model: req.model(),
            streamed: req.stream(),
            started_unix_ms,
        };
        ledger.record(ledger_rows::cache_hit_row(
            self.config(),
            &facts,
            decision,
            target,
            (hit.kind, hit.similarity),
            hit.usage.as_ref(),
            hit.latency_ms,
        ));
    }

    /// The policy (and through it the config).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The config.
    pub fn config(&self) -> &RouterConfig {
        self.policy.config()
    }

    /// Remote spend so far.
    pub fn spend(&self) -> Spend {
        self.spend.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sets the spend so far (restored from a ledger, or in tests).
    pub fn set_spend(&self, spend: Spend) {
        if let Ok(mut s) = self.spend.lock() {
            *s = spend;
        }
    }

    /// Remote health now.
    pub fn health(&self) -> Health {
        self.health.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// The local model that serves `decision`'s route when its remote failed: the route's
    /// `fallback`, else its target if local; `None` for an explicit or default decision.
    pub fn fallback(&self, decision: &Decision) -> Option<String> {
        let config = self.config();
        let route = config.routes.get(decision.route?)?;
        route.fallback.iter().chain([&route.target]).find(|n| config.local(n).is_some()).cloned()
    }

    /// Where a request would go now, and why (nothing is called).
    pub fn decide(&self, input: &RouteInput<'_>) -> Result<Decision, UnknownModel> {
        let (spend, health, demoted) = (self.spend(), self.health(), self.demoted());
        let state = RouterState { now: SystemTime::now(), spend: &spend, health: &health, demoted: &demoted };
        self.policy.decide(input, &state)
    }

    /// Records a successful call to remote `name` with `usage`: its cost (returned, USD) goes
    /// to the spend, its failure count is reset. An unknown name costs nothing.
    pub fn record_success(&self, name: &str, usage: &Usage) -> f64 {
        let cost = self.config().remote(name).map_or(0.0, |r| remote_cost_usd(r, usage));
        if let Ok(mut h) = self.health.lock() {
            h.record_success(name);
        }
        if let Ok(mut s) = self.spend.lock() {
            s.record(cost, SystemTime::now());
        }
        cost
    }

    /// Records a failed call to remote `name` (after its retries): enough of them in a row
    /// cool it down.
    pub fn record_failure(&self, name: &str, error: &str) {
        let Some(remote) = self.config().remote(name) else { return };
        if let Ok(mut h) = self.health.lock() {
            // Logs the cooldown when one starts.
            h.record_failure(remote, error, SystemTime::now());
        }
    }

    /// Decides `req`, has `backends` answer it, escalates or falls back as the config says,
    /// and accounts for every call (module docs: the flow); with a ledger, writes each call's
    /// row (a streamed remote answer's when its stream ends: [`Routed::pending`]).
    pub async fn complete<B: Backends>(
        &self,
        backends: &B,
        req: &B::Request,
    ) -> Result<Routed<B::Answer>, CompleteError<B::Error>> {
        let (started, started_unix_ms) = (Instant::now(), hearth_ledger::now_unix_ms());
        let mut info = req.call_info();
        if info.request_id.is_empty() && (self.ledger.is_some() || self.watch.is_some()) {
            info.request_id = new_request_id(started_unix_ms);
        }
        let mut result = self.route(backends, req).await;
        if let (Some(watch), Ok(routed)) = (&self.watch, &result) {
            self.tell(watch.as_ref(), req, &info.request_id, routed);
        }
        let Some(ledger) = &self.ledger else { return result };
        let facts = RequestFacts {
            info: &info,
            requested_model: req.model(),
            streamed: req.stream(),
            started_unix_ms,
        };
        let mut rows = ledger_rows::rows(self.config(), &facts, &result);
        if let Ok(r) = &mut result
            && req.stream()
            && let Some(served) = r.attempts.iter().position(|a| a.outcome == AttemptOutcome::Served)
            && !r.attempts[served].local
            && r.attempts[served].usage.is_none()
        {
            let row = rows.remove(served);
            r.pending = PendingRow::new(row, self.config(), Arc::clone(ledger), started);
        }
        for row in rows {
            ledger.record(row);
        }
        result
    }

    /// Tells `watch` of a routed answer (requests no route served are not watched).
    fn tell<R: Request, A>(&self, watch: &dyn Watch, req: &R, request_id: &str, routed: &Routed<A>) {
        let Some(index) = routed.decision.route else { return };
        let Some(route) = self.config().routes.get(index) else { return };
        let served = routed.attempts.iter().find(|a| a.outcome == AttemptOutcome::Served);
        let task = routed.decision.task.name.to_ascii_lowercase();
        let answered = Answered {
            request_id,
            task: &task,
            route: index,
            route_target: &route.target,
            served_by: &routed.route,
            local: served.is_some_and(|a| a.local),
            reason: routed.reason,
            pinned: route.pinned,
            text: routed.text.as_deref().filter(|_| served.is_some_and(|a| a.tool_calls == 0)),
        };
        watch.answered(&answered, &|| req.sampled());
    }

    async fn route<B: Backends>(
        &self,
        backends: &B,
        req: &B::Request,
    ) -> Result<Routed<B::Answer>, CompleteError<B::Error>> {
        let text = req.routing_text();
        let input = RouteInput {
            requested_model: req.model(),
            task_hint: req.task_hint(),
            text: &text,
            stream: req.stream(),
        };
        let decision = self.decide(&input)?;
        tracing::debug!(target = ?decision.target(), reason = decision.reason.as_str(), "routed");
        let run = Run { router: self, backends, req, decision, attempts: Vec::new(), text: None };
        let (target, local) = match &run.decision.outcome {
            Outcome::Serve { target, local } => (target.clone(), *local),
            Outcome::Reject { status, message } => {
                let cause = Cause::Refused { status: *status, message: message.clone() };
                let route = run.decision.preferred.clone().unwrap_or_default();
                return Err(run.fail(route, cause));
            }
        };
        if !local {
            run.remote_or_fallback(&target).await
        } else if run.decision.escalate_to.is_some() {
            run.local_then_check(&target).await
        } else {
            let reason = run.decision.reason;
            run.local(&target, Probe::default(), reason).await
        }
    }
}

/// One request in flight.
struct Run<'a, B: Backends> {
    router: &'a Router,
    backends: &'a B,
    req: &'a B::Request,
    decision: Decision,
    attempts: Vec<Attempt>,
    /// The text of the answer about to be served.
    text: Option<String>,
}

type Done<B> = Result<Routed<<B as Backends>::Answer>, CompleteError<<B as Backends>::Error>>;

impl<B: Backends> Run<'_, B> {
    fn fail(self, route: String, cause: Cause<B::Error>) -> CompleteError<B::Error> {
        let reason = self.decision.reason;
        CompleteError::Failed(Box::new(Failed {
            decision: self.decision,
            route,
            reason,
            cause,
            attempts: self.attempts,
        }))
    }

    fn served(self, answer: B::Answer, route: String, reason: Reason) -> Done<B> {
        let cost_usd = self.attempts.iter().map(|a| a.cost_usd).sum();
        Ok(Routed {
            answer,
            decision: self.decision,
            route,
            reason,
            cost_usd,
            attempts: self.attempts,
            pending: None,
            text: self.text,
        })
    }

    /// Local model `target` answers, as is.
    async fn local(mut self, target: &str, probe: Probe, reason: Reason) -> Done<B> {
        match self.call_local(target, probe, reason).await {
            Ok(a) => {
                self.text = a.text;
                self.served(a.answer, target.to_owned(), reason)
            }
            Err(e) => Err(self.fail(target.to_owned(), Cause::Local(e))),
        }
    }

    /// Remote `target` answers; if it fails, the route's local fallback.
    async fn remote_or_fallback(mut self, target: &str) -> Done<B> {
        let reason = self.decision.reason;
        match self.call_remote(target, false, reason).await {
            Ok((answer, text)) => {
                self.text = text;
                self.served(answer, target.to_owned(), reason)
            }
            Err(RemoteError::Request(e)) => Err(self.fail(target.to_owned(), Cause::Request(e))),
            Err(RemoteError::Upstream { error, reply, .. }) => match self.fallback() {
                Some(local) if self.decision.reason != Reason::Explicit => {
                    tracing::warn!(
                        remote = target,
                        fallback = local,
                        error,
                        "remote failed; serving locally"
                    );
                    self.local(&local, Probe::default(), Reason::RemoteUnavailable).await
                }
                _ => Err(self.fail(target.to_owned(), Cause::Upstream { message: error, reply })),
            },
        }
    }

    /// Local `target` answers with evidence; `escalate_to` answers instead when it falls short.
    async fn local_then_check(mut self, target: &str) -> Done<B> {
        let config = self.router.config();
        let route = self.decision.route.and_then(|i| config.routes.get(i));
        let probe = Probe {
            evidence: true,
            label_margin: route.is_some_and(|r| wants_label_margin(r, &self.decision.task.name)),
        };
        let local = match self.call_local(target, probe, self.decision.reason).await {
            Ok(a) => a,
            Err(e) => return Err(self.fail(target.to_owned(), Cause::Local(e))),
        };
        let local_attempt = self.attempts.len() - 1;
        let verdict = route.zip(local.evidence.as_ref()).and_then(|(r, e)| should_escalate(r, e));
        let (Some(why), Some(up)) = (verdict, self.decision.escalate_to.clone()) else {
            let reason = self.decision.reason;
            self.text = local.text;
            return self.served(local.answer, target.to_owned(), reason);
        };
        tracing::info!(local = target, to = up, reason = why.as_str(), evidence = ?local.evidence, "escalating");
        self.attempts[local_attempt].outcome = AttemptOutcome::Escalated(why);
        let escalated = if config.remote(&up).is_some() {
            self.call_remote(&up, true, why).await.map_err(|e| match e {
                RemoteError::Request(_) => "the remote refused the request".to_owned(),
                RemoteError::Upstream { error, .. } => error,
            })
        } else {
            // A bigger local model: generated in full too (a buffered stream stays buffered).
            let probe = Probe { evidence: true, label_margin: false };
            self.call_local(&up, probe, why)
                .await
                .map(|a| (a.answer, a.text))
                .map_err(|_| format!("local model {up:?} failed"))
        };
        match escalated {
            Ok((answer, text)) => {
                self.text = text;
                self.served(answer, up, why)
            }
            Err(error) => {
                // The local answer exists: serve it rather than fail the request.
                tracing::warn!(to = up, error, "escalation failed; serving the local answer");
                self.attempts[local_attempt].outcome = AttemptOutcome::Served;
                let reason = self.decision.reason;
                self.text = local.text;
                self.served(local.answer, target.to_owned(), reason)
            }
        }
    }

    /// Calls local model `target`, recording the attempt (served — a caller that escalates
    /// changes that — or failed).
    async fn call_local(
        &mut self,
        target: &str,
        probe: Probe,
        reason: Reason,
    ) -> Result<LocalAnswer<B::Answer>, B::Error> {
        let start = Instant::now();
        let result = self.backends.local(target, self.req, probe).await;
        let (evidence, usage, tool_calls, outcome) = match &result {
            Ok(a) => (a.evidence, a.usage, a.tool_calls, AttemptOutcome::Served),
            Err(_) => (None, None, 0, AttemptOutcome::Failed(format!("local model {target:?} failed"))),
        };
        self.attempts.push(Attempt {
            target: target.to_owned(),
            local: true,
            usage,
            cost_usd: 0.0,
            evidence,
            upstream_id: None,
            tool_calls,
            elapsed_ms: millis(start),
            reason,
            outcome,
        });
        result
    }

    /// Calls remote `name`, recording the attempt, its cost or failure; an upstream failure's
    /// error names the remote and its request id.
    async fn call_remote(
        &mut self,
        name: &str,
        buffered: bool,
        reason: Reason,
    ) -> Result<(B::Answer, Option<String>), RemoteError<B::Error>> {
        let Some(remote) = self.router.config().remote(name) else {
            return Err(RemoteError::Upstream {
                error: format!("remote {name:?} is not configured"),
                request_id: None,
                reply: None,
            });
        };
        let start = Instant::now();
        let result = self.backends.remote(remote, self.req, buffered).await;
        let mut attempt = Attempt {
            target: name.to_owned(),
            local: false,
            usage: None,
            cost_usd: 0.0,
            evidence: None,
            upstream_id: None,
            tool_calls: 0,
            elapsed_ms: millis(start),
            reason,
            outcome: AttemptOutcome::Served,
        };
        let result = match result {
            Ok(a) => {
                attempt.cost_usd = a.usage.map_or(0.0, |u| self.router.record_success(name, &u));
                attempt.usage = a.usage;
                attempt.upstream_id = a.upstream_id;
                attempt.tool_calls = a.tool_calls;
                Ok((a.answer, a.text))
            }
            Err(RemoteError::Request(e)) => {
                attempt.outcome = AttemptOutcome::Failed("the remote refused the request".into());
                Err(RemoteError::Request(e))
            }
            Err(RemoteError::Upstream { error, request_id, reply }) => {
                self.router.record_failure(name, &error);
                let message = match &request_id {
                    Some(id) if !error.contains(id.as_str()) => {
                        format!("remote {name:?} failed: {error} (request-id {id})")
                    }
                    _ => format!("remote {name:?} failed: {error}"),
                };
                attempt.upstream_id.clone_from(&request_id);
                attempt.outcome = AttemptOutcome::Failed(message.clone());
                Err(RemoteError::Upstream { error: message, request_id, reply })
            }
        };
        self.attempts.push(attempt);
        result
    }

    fn fallback(&self) -> Option<String> {
        self.router.fallback(&self.decision)
    }
}

/// Milliseconds since `start`.
fn millis(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}
