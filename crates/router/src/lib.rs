//! `hearth-router`: the policy that keeps easy work on local models and sends hard work to a
//! remote (Claude, or any OpenAI-compatible API). The policy modules are pure data and
//! functions: nothing in them reads a clock, the network or the environment on its own.
//! [`Router`] ([`complete`]) runs the whole per-request flow on top of them, over
//! [`Backends`] the caller supplies — `hearth serve` does, and so can a service that links
//! hearth in without HTTP.
//!
//! - [`config`]: the `hearth serve --config FILE.toml` format ([`RouterConfig`]);
//!   [`validate`]: its checks, each problem naming its key.
//! - [`task`]: the task type (given, or guessed by rules); [`complexity`]: the score in [0, 1]
//!   with its per-feature breakdown.
//! - [`policy`]: [`Policy::decide`], where a request goes and why ([`Reason`]).
//! - [`escalation`]: whether a local answer goes up to `escalate_to`.
//! - [`budget`], [`cooldown`], [`cost`]: spend against caps, remote health, the USD of a call.
//! - [`explain`]: a decision in words or JSON (`hearth route`).
//! - [`ledger_rows`]: the ledger rows of a routed request (one per call), which a router
//!   [`Router::with_ledger`] writes.
//! - [`complete`]: [`Router::complete`], the whole per-request flow (decide, generate locally
//!   or call a remote, escalate, fall back, account) over the caller's [`Backends`]: what
//!   `hearth serve` runs, usable without HTTP.
//!
//! The decision alone (what `hearth route` shows):
//!
//! ```
//! use std::time::SystemTime;
//! use hearth_router::{Health, Policy, RouteInput, RouterConfig, RouterState, Spend};
//!
//! let config = RouterConfig::from_toml_str(r#"
//!     [[models]]
//!     name = "qwen2.5-coder:0.5b"
//!     [[routes]]
//!     tasks = ["classify"]
//!     target = "qwen2.5-coder:0.5b"
//! "#).unwrap();
//! config.validate(&|_| true).unwrap(); // at start-up, with hearth_router::process_env
//! let policy = Policy::new(config);
//! let (spend, health) = (Spend::new(), Health::new());
//! let state = RouterState { now: SystemTime::now(), spend: &spend, health: &health, demoted: &hearth_router::policy::NONE_DEMOTED };
//! let input = RouteInput { requested_model: "auto", task_hint: Some("classify"), text: "Is this spam?", stream: false };
//! let decision = policy.decide(&input, &state).unwrap();
//! assert_eq!(decision.target(), Some("qwen2.5-coder:0.5b"));
//! assert_eq!(decision.reason.as_str(), "task"); // the x-hearth-reason header
//! ```
//!
//! The whole request, in a service (the backends are the service's: a local model through
//! `hearth_engine`, Claude through `hearth_anthropic`; see the workspace test
//! `tests/integration/router_library.rs` for a complete one):
//!
//! ```
//! use std::borrow::Cow;
//! use hearth_router::*;
//!
//! struct Ask(&'static str);
//! impl Request for Ask {
//!     fn model(&self) -> &str { "auto" }
//!     fn task_hint(&self) -> Option<&str> { Some("classify") }
//!     fn routing_text(&self) -> Cow<'_, str> { Cow::Borrowed(self.0) }
//! }
//! struct Echo;
//! impl Backends for Echo {
//!     type Request = Ask;
//!     type Answer = String;
//!     type Error = String;
//!     async fn local(&self, model: &str, ask: &Ask, _: Probe) -> Result<LocalAnswer<String>, String> {
//!         Ok(LocalAnswer::new(format!("{model}: {}", ask.0)))
//!     }
//!     async fn remote(&self, r: &Remote, _: &Ask, _: bool) -> Result<RemoteAnswer<String>, RemoteError<String>> {
//!         Err(RemoteError::Upstream { error: format!("{} is unreachable", r.name), request_id: None, reply: None })
//!     }
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let router = Router::new(RouterConfig::from_toml_str(r#"
//!     [[models]]
//!     name = "small"
//!     [[routes]]
//!     tasks = ["classify"]
//!     target = "small"
//! "#).unwrap());
//! let done = router.complete(&Echo, &Ask("Is this spam?")).await.unwrap();
//! assert_eq!((done.route.as_str(), done.reason.as_str()), ("small", "task"));
//! assert_eq!(done.answer, "small: Is this spam?");
//! # });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod budget;
pub mod complete;
#[cfg(test)]
mod complete_tests;
pub mod complexity;
pub mod config;
pub mod cooldown;
pub mod cost;
pub mod escalation;
pub mod explain;
pub mod ledger_rows;
mod lexicon;
pub mod monitor_config;
pub mod policy;
pub mod reason;
pub mod task;
pub mod validate;
pub mod watch;

pub use budget::{BudgetStatus, Spend};
pub use complete::{
    Attempt, AttemptOutcome, Backends, CacheHit, Cause, CompleteError, Failed, LocalAnswer, Probe,
    RemoteAnswer, RemoteError, Request, Routed, Router,
};
pub use complexity::{Complexity, Scorer};
pub use config::{ConfigError, LocalModel, OnBudget, Provider, Remote, Route, RouterConfig, Target};
pub use cooldown::Health;
pub use cost::{CallCost, Usage};
pub use escalation::{Evidence, Finish, LABEL_TASKS, label_margin, should_escalate, wants_label_margin};
pub use explain::{Explanation, explain};
pub use hearth_ledger;
pub use ledger_rows::{CACHE_SIMILARITY_TAG, CACHE_TAG, CallInfo, PendingRow};
pub use monitor_config::MonitorConfig;
pub use policy::{Decision, Outcome, Policy, RouteInput, RouterState, UnknownModel};
pub use reason::Reason;
pub use task::{Task, TaskSource};
pub use validate::{Problem, Problems, process_env};
pub use watch::{Answered, SampledRequest, Turn, Watch};
