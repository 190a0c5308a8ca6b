//! The routing decision, made before anything is generated: [`Policy::decide`] is a pure
//! function of the config, the request ([`RouteInput`]) and a snapshot of the router's state
//! ([`RouterState`]: spend so far, remote health, the time).
//!
//! # The rules
//!
//! 1. **Explicit**: a `model` naming a configured model or remote goes there (reason
//!    `explicit`), with no substitution and no escalation: if that remote is past a spend cap
//!    the request is refused (429), if it is cooling down, refused (503).
//! 2. **`auto`**: the task (given, else guessed: [`crate::task`]) picks the route listing it,
//!    else the `"*"` route. Its `target` serves (reason `task`), unless the complexity score
//!    is **above** its `max_complexity`: then its `escalate_to` serves (reason `complexity`).
//!    No route: the first `[[models]]` entry, else the first remote (reason `default`).
//! 3. **A remote past a spend cap** (`[budget]`): the route's `on_budget`. `local` serves its
//!    `fallback`, else its target if local, else the first `[[models]]` entry (reason
//!    `budget`); `reject` (or no local model) refuses with 429 and a message naming the cap.
//! 4. **A remote cooling down** ([`crate::cooldown`]): the route's `fallback`, else its target
//!    if that is local (a complexity escalation falls back to the route's own model), with
//!    reason `remote_unavailable`; else 503 naming the upstream's last error.
//! 5. **Escalation on the answer**: when a local model serves a route with `escalate_to`
//!    (available now: under budget, not cooling down) and some answer check on, the decision
//!    carries `escalate_to`; the caller checks the answer with
//!    [`crate::escalation::should_escalate`]. Streamed requests are checked only when the
//!    route has `buffer_streams`.
//! 6. **Moved up by the quality monitor**: a task type in [`RouterState::demoted`] whose route
//!    has `escalate_to` and is not `pinned` is served by `escalate_to` (reason `demoted`)
//!    instead of its target, until the monitor moves it back.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde::Serialize;

use crate::budget::{BudgetStatus, Exceeded, Spend};
use crate::complexity::{Complexity, Scorer};
use crate::config::{AUTO, OnBudget, Route, RouterConfig, Target};
use crate::cooldown::{Cooldown, Health};
use crate::reason::Reason;
use crate::task::{self, Task};

/// A config with its rules compiled once; decides where requests go.
#[derive(Debug, Clone)]
pub struct Policy {
    config: RouterConfig,
    scorer: Scorer,
}

/// What the policy needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    /// The request's `model`: `auto`, a model or a remote name.
    pub requested_model: &'a str,
    /// `metadata.task` or the `X-Hearth-Task` header, if the caller gave one.
    pub task_hint: Option<&'a str>,
    /// The text to judge: the system prompt and the last user message (or the prompt).
    pub text: &'a str,
    /// Whether the response is streamed.
    pub stream: bool,
}

/// A snapshot of the router's state at decision time.
#[derive(Debug, Clone, Copy)]
pub struct RouterState<'a> {
    /// Now (budget periods and cooldowns are judged at this time).
    pub now: SystemTime,
    /// Remote spend so far.
    pub spend: &'a Spend,
    /// Remote health.
    pub health: &'a Health,
    /// Task types (lowercase) the quality monitor has moved up to their route's
    /// `escalate_to` ([`crate::Watch::demoted`]); [`NONE_DEMOTED`] without a monitor.
    pub demoted: &'a BTreeSet<String>,
}

/// No task type moved up (a router without a monitor).
pub static NONE_DEMOTED: BTreeSet<String> = BTreeSet::new();

/// Serve or refuse.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Outcome {
    /// Send the request to `target`.
    Serve {
        /// The model or remote name.
        target: String,
        /// Whether it is a local model.
        local: bool,
    },
    /// Refuse the request.
    Reject {
        /// The HTTP status to answer with: 429 past a spend cap, 503 for a remote cooling down.
        status: u16,
        /// What happened and what to do, for the error body.
        message: String,
    },
}

/// Where a request goes and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Serve (where) or refuse (why).
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The `x-hearth-reason` value.
    pub reason: Reason,
    /// The target rules 1–2 chose, when a cap or a cooldown made the router serve (or refuse)
    /// instead.
    pub preferred: Option<String>,
    /// Why the preferred target was not served (the cap reached, the remote's cooldown).
    pub note: Option<String>,
    /// The task and where it came from.
    pub task: Task,
    /// The complexity score and its breakdown.
    pub complexity: Complexity,
    /// Index of the `[[routes]]` entry used (`None`: explicit or default).
    pub route: Option<usize>,
    /// Where to escalate the local answer if [`crate::escalation::should_escalate`] says so;
    /// `None`: the answer is final.
    pub escalate_to: Option<String>,
    /// A streamed request whose answer must be generated in full before sending (so it can be
    /// escalated).
    pub buffer: bool,
}

impl Decision {
    /// The target served, `None` for a refusal.
    pub fn target(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Serve { target, .. } => Some(target),
            Outcome::Reject { .. } => None,
        }
    }
}

/// A `model` that is neither `auto` nor a configured name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the model {name:?} is not served here; use \"auto\" or one of: {}", known.join(", "))]
pub struct UnknownModel {
    /// The name asked for.
    pub name: String,
    /// The names that exist (models, remotes, `auto`).
    pub known: Vec<String>,
}

/// Why a remote cannot be called now.
enum Unavailable {
    Budget(Exceeded),
    Cooling(Cooldown),
}

impl Policy {
    /// Compiles `config`'s rules. Validate the config first ([`RouterConfig::validate`]); an
    /// invalid one gives decisions that name targets that do not exist.
    pub fn new(config: RouterConfig) -> Self {
        let scorer = Scorer::new(&config.complexity);
        Policy { config, scorer }
    }

    /// The config.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The compiled complexity rules.
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// Where `input` goes (rules in the module documentation).
    pub fn decide(&self, input: &RouteInput<'_>, state: &RouterState<'_>) -> Result<Decision, UnknownModel> {
        let task = task::resolve(input.task_hint, input.text);
        let complexity = self.scorer.score(input.text);
        let requested = input.requested_model.trim();
        let mut decision = Decision {
            outcome: Outcome::Reject { status: 500, message: String::new() },
            reason: Reason::Default,
            preferred: None,
            note: None,
            task,
            complexity,
            route: None,
            escalate_to: None,
            buffer: false,
        };

        if !requested.eq_ignore_ascii_case(AUTO) {
            let Some(target) = self.config.target(requested) else {
                return Err(UnknownModel {
                    name: requested.to_owned(),
                    known: self.config.model_names().into_iter().map(str::to_owned).collect(),
                });
            };
            decision.reason = Reason::Explicit;
            decision.outcome = match self.unavailable(target, state) {
                None => serve(target),
                Some(u) => {
                    decision.preferred = Some(target.name().to_owned());
                    reject(
                        &u,
                        "the request names it explicitly; send \"model\": \"auto\" to let the router choose",
                    )
                }
            };
            return Ok(decision);
        }

        let Some((index, route)) = self.config.route_for(&decision.task.name) else {
            let Some(target) = self.default_target() else {
                decision.outcome =
                    Outcome::Reject { status: 503, message: "no model or remote is configured".into() };
                return Ok(decision);
            };
            decision.outcome = match self.unavailable(target, state) {
                None => serve(target),
                Some(u) => {
                    decision.preferred = Some(target.name().to_owned());
                    decision.reason = reason_of(&u);
                    reject(&u, "no route lists this task, so there is no fallback; add a \"*\" route")
                }
            };
            return Ok(decision);
        };
        decision.route = Some(index);
        decision.reason = Reason::Task;
        let mut chosen = route.target.as_str();
        if let (Some(max), Some(up)) = (route.max_complexity, &route.escalate_to)
            && decision.complexity.score > max
        {
            chosen = up;
            decision.reason = Reason::Complexity;
        }
        if decision.reason == Reason::Task
            && !route.pinned
            && let Some(up) = &route.escalate_to
            && state.demoted.contains(&decision.task.name.to_ascii_lowercase())
        {
            chosen = up;
            decision.reason = Reason::Demoted;
        }
        let Some(target) = self.config.target(chosen) else {
            decision.outcome = Outcome::Reject {
                status: 500,
                message: format!(
                    "routes[{index}] names {chosen:?}, which is not configured (validate the config)"
                ),
            };
            return Ok(decision);
        };

        let served = match self.unavailable(target, state) {
            None => Some(target),
            Some(u) => {
                decision.preferred = Some(chosen.to_owned());
                decision.reason = reason_of(&u);
                decision.note = Some(describe(&u));
                match self.substitute(index, route, &u) {
                    Ok(local) => Some(local),
                    Err(hint) => {
                        decision.outcome = reject(&u, &hint);
                        None
                    }
                }
            }
        };
        let Some(served) = served else { return Ok(decision) };
        decision.outcome = serve(served);

        if served.is_local()
            && route.checks_answers()
            && (!input.stream || route.buffer_streams)
            && let Some(up) = &route.escalate_to
            && up != served.name()
            && let Some(up_target) = self.config.target(up)
            && self.unavailable(up_target, state).is_none()
        {
            decision.escalate_to = Some(up.clone());
            decision.buffer = input.stream;
        }
        Ok(decision)
    }

    /// The target of a request no route serves: the first local model, else the first remote.
    fn default_target(&self) -> Option<Target<'_>> {
        self.config
            .models
            .first()
            .map(Target::Local)
            .or_else(|| self.config.remotes.first().map(Target::Remote))
    }

    /// Why `target` cannot be called now (remotes only: local models are always available).
    fn unavailable(&self, target: Target<'_>, state: &RouterState<'_>) -> Option<Unavailable> {
        let Target::Remote(remote) = target else { return None };
        if let BudgetStatus::Exceeded(e) = state.spend.check(&self.config.budget, state.now) {
            return Some(Unavailable::Budget(e));
        }
        state.health.cooling(&remote.name, state.now).map(Unavailable::Cooling)
    }

    /// The local model that serves `route` instead of an unavailable remote, or a hint
    /// for the refusal.
    fn substitute(&self, index: usize, route: &Route, why: &Unavailable) -> Result<Target<'_>, String> {
        let local = |name: &str| self.config.local(name).map(Target::Local);
        let route_local = || route.fallback.as_deref().and_then(local).or_else(|| local(&route.target));
        match why {
            Unavailable::Budget(_) => match self.config.on_budget(route) {
                OnBudget::Reject => Err(format!("routes[{index}].on_budget is \"reject\"")),
                OnBudget::Local => route_local()
                    .or_else(|| self.config.models.first().map(Target::Local))
                    .ok_or_else(|| "no local model is configured to serve instead".to_owned()),
            },
            Unavailable::Cooling(_) => route_local().ok_or_else(|| {
                format!("set routes[{index}].fallback to a local model to serve this route meanwhile")
            }),
        }
    }
}

fn serve(target: Target<'_>) -> Outcome {
    Outcome::Serve { target: target.name().to_owned(), local: target.is_local() }
}

fn reason_of(u: &Unavailable) -> Reason {
    match u {
        Unavailable::Budget(_) => Reason::Budget,
        Unavailable::Cooling(_) => Reason::RemoteUnavailable,
    }
}

fn describe(u: &Unavailable) -> String {
    match u {
        Unavailable::Budget(e) => e.to_string(),
        Unavailable::Cooling(c) => {
            let error = c.last_error.as_deref().unwrap_or("no error recorded");
            format!(
                "remote {:?} is unavailable: {} consecutive failed calls, the last: {error}; it is tried again in {} s",
                c.remote, c.failures, c.secs_left
            )
        }
    }
}

fn reject(u: &Unavailable, hint: &str) -> Outcome {
    let status = match u {
        Unavailable::Budget(_) => 429,
        Unavailable::Cooling(_) => 503,
    };
    Outcome::Reject { status, message: format!("{} ({hint})", describe(u)) }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
