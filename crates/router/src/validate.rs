//! Validation of a [`RouterConfig`]: everything that can be checked before the first request
//! (names, references, ranges, API keys in the environment), each problem naming its key.

use std::collections::HashMap;
use std::fmt;

use crate::config::{AUTO, ConfigError, OnBudget, RouterConfig, Target};

/// The problems validation found, displayed one per line.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// One thing wrong with a configuration; each names its key (`routes[1].escalate_to`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    /// Neither `[[models]]` nor `[[remotes]]`.
    #[error("nothing to serve: add a [[models]] table (a local model) or a [[remotes]] table")]
    NothingToServe,
    /// A name is empty.
    #[error("{key}: the name is empty; give the model a name requests can use")]
    EmptyName {
        /// The key.
        key: String,
    },
    /// `auto` used as a name.
    #[error("{key}: \"auto\" is reserved (it asks the router to decide); pick another name")]
    ReservedName {
        /// The key.
        key: String,
    },
    /// Two models/remotes share a name.
    #[error(
        "{key}: the name {name:?} is already used by {first}; names must be unique across [[models]] and [[remotes]]"
    )]
    DuplicateName {
        /// The second occurrence.
        key: String,
        /// The name.
        name: String,
        /// The first occurrence.
        first: String,
    },
    /// A reference to a name that is not configured.
    #[error("{key}: {name:?} is not a configured model or remote (known: {})", known.join(", "))]
    UnknownName {
        /// The key.
        key: String,
        /// The name given.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A key that must name a local model names a remote.
    #[error("{key}: {name:?} is a remote; this key needs a local model (a [[models]] name)")]
    NotLocal {
        /// The key.
        key: String,
        /// The remote's name.
        name: String,
    },
    /// `escalate_to` equal to the route's target.
    #[error(
        "{key}: escalating to the route's own target {name:?} would answer twice the same way; name a stronger model or remove the key"
    )]
    EscalatesToItself {
        /// The key.
        key: String,
        /// The name.
        name: String,
    },
    /// A route with no tasks.
    #[error(
        "{key}: the route lists no tasks; list task types (\"classify\", …) or \"*\" for every other task"
    )]
    NoTasks {
        /// The key.
        key: String,
    },
    /// A task listed by two routes.
    #[error("{key}: task {task:?} is already routed by {first}; a task may appear in one route only")]
    TaskInTwoRoutes {
        /// The second occurrence.
        key: String,
        /// The task.
        task: String,
        /// The first route's key.
        first: String,
    },
    /// A number outside its range.
    #[error("{key}: {value} is out of range; expected {expected}")]
    OutOfRange {
        /// The key.
        key: String,
        /// The value given.
        value: f64,
        /// The allowed range, in words.
        expected: &'static str,
    },
    /// Any other bad value.
    #[error("{key}: {message}")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// An environment variable the config needs is not set.
    #[error(
        "{key}: the environment variable {var} is not set (needed by {needed_by}); export {var}=... before starting, or remove what needs it"
    )]
    MissingEnv {
        /// The key naming the variable (or the remote whose default it is).
        key: String,
        /// The variable.
        var: String,
        /// Who needs it, in words ("remote \"claude\", used by routes[0], routes[1]").
        needed_by: String,
    },
}

impl Problem {
    /// The key the problem is about (`""` for [`Problem::NothingToServe`]).
    pub fn key(&self) -> &str {
        match self {
            Problem::NothingToServe => "",
            Problem::EmptyName { key }
            | Problem::ReservedName { key }
            | Problem::DuplicateName { key, .. }
            | Problem::UnknownName { key, .. }
            | Problem::NotLocal { key, .. }
            | Problem::EscalatesToItself { key, .. }
            | Problem::NoTasks { key }
            | Problem::TaskInTwoRoutes { key, .. }
            | Problem::OutOfRange { key, .. }
            | Problem::Invalid { key, .. }
            | Problem::MissingEnv { key, .. } => key,
        }
    }
}

impl RouterConfig {
    /// Checks names, references, ranges, and that every environment variable the config names
    /// is set (`env` says whether a variable is set and non-empty; pass [`process_env`] in
    /// production, a closure in tests). Lists every problem found.
    pub fn validate(&self, env: &dyn Fn(&str) -> bool) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.check_names(&mut problems);
        self.check_models(&mut problems);
        self.check_remotes(&mut problems, env);
        self.check_routes(&mut problems);
        self.check_budget(&mut problems);
        self.check_complexity(&mut problems);
        if let Some(monitor) = &self.monitor {
            monitor.check(self, &mut problems);
        }
        if let Some(Err(e)) = self.cache.as_ref().map(hearth_cache::CacheConfig::validate) {
            problems.push(Problem::Invalid { key: "cache".into(), message: e.to_string() });
        }
        if let Some(var) = &self.server.api_key_env
            && !env(var)
        {
            problems.push(Problem::MissingEnv {
                key: "server.api_key_env".into(),
                var: var.clone(),
                needed_by: "the server's API key".into(),
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { origin: None, problems: Problems(problems) })
        }
    }

    fn known_names(&self) -> Vec<String> {
        self.models
            .iter()
            .map(|m| m.name.clone())
            .chain(self.remotes.iter().map(|r| r.name.clone()))
            .collect()
    }

    fn check_names(&self, problems: &mut Vec<Problem>) {
        if self.models.is_empty() && self.remotes.is_empty() {
            problems.push(Problem::NothingToServe);
        }
        let mut seen: HashMap<&str, String> = HashMap::new();
        let keys = self
            .models
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("models[{i}].name"), m.name.as_str()))
            .chain(
                self.remotes.iter().enumerate().map(|(i, r)| (format!("remotes[{i}].name"), r.name.as_str())),
            );
        for (key, name) in keys {
            if name.trim().is_empty() {
                problems.push(Problem::EmptyName { key });
            } else if name.eq_ignore_ascii_case(AUTO) {
                problems.push(Problem::ReservedName { key });
            } else if let Some(first) = seen.get(name) {
                problems.push(Problem::DuplicateName { key, name: name.to_owned(), first: first.clone() });
            } else {
                seen.insert(name, key);
            }
        }
    }

    fn check_models(&self, problems: &mut Vec<Problem>) {
        for (i, m) in self.models.iter().enumerate() {
            for (field, value) in [("slots", m.slots), ("batch_size", m.batch_size)] {
                if value == 0 {
                    problems.push(Problem::Invalid {
                        key: format!("models[{i}].{field}"),
                        message: "must be at least 1".into(),
                    });
                }
            }
        }
        if self.server.memory_budget_mb == Some(0) {
            problems.push(Problem::Invalid {
                key: "server.memory_budget_mb".into(),
                message: "must be at least 1 (remove the key for no cap)".into(),
            });
        }
    }

    fn check_remotes(&self, problems: &mut Vec<Problem>, env: &dyn Fn(&str) -> bool) {
        for (i, r) in self.remotes.iter().enumerate() {
            let key = |field: &str| format!("remotes[{i}].{field}");
            if r.model.trim().is_empty() {
                problems.push(Problem::Invalid {
                    key: key("model"),
                    message: "empty; give the model id the API expects (e.g. \"claude-haiku-4-5\")".into(),
                });
            }
            if let Some(url) = &r.base_url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                problems.push(Problem::Invalid {
                    key: key("base_url"),
                    message: format!("{url:?} is not an http:// or https:// URL"),
                });
            }
            let prices = [
                ("input_per_mtok", Some(r.input_per_mtok)),
                ("output_per_mtok", Some(r.output_per_mtok)),
                ("cache_write_per_mtok", r.cache_write_per_mtok),
                ("cache_read_per_mtok", r.cache_read_per_mtok),
            ];
            for (field, value) in prices {
                if let Some(v) = value
                    && !(v.is_finite() && v >= 0.0)
                {
                    problems.push(Problem::OutOfRange {
                        key: key(field),
                        value: v,
                        expected: "a price in USD per million tokens, 0 or more",
                    });
                }
            }
            if r.timeout_secs == 0 {
                problems.push(Problem::Invalid {
                    key: key("timeout_secs"),
                    message: "must be at least 1".into(),
                });
            }
            if r.max_tokens == 0 {
                problems
                    .push(Problem::Invalid { key: key("max_tokens"), message: "must be at least 1".into() });
            }
            if r.cooldown_after_failures == 0 {
                problems.push(Problem::Invalid {
                    key: key("cooldown_after_failures"),
                    message: "must be at least 1 (set cooldown_secs = 0 to never cool down)".into(),
                });
            }
            if let Some(var) = r.api_key_env() {
                if var.trim().is_empty() {
                    problems.push(Problem::Invalid {
                        key: key("api_key_env"),
                        message: "empty; name the environment variable that holds the key".into(),
                    });
                } else if !env(var) {
                    // Explicit requests (`"model": "<remote>"`) reach every remote, so every
                    // remote's key is checked, not only those of remotes a route names.
                    let routes: Vec<String> = self
                        .routes
                        .iter()
                        .enumerate()
                        .filter(|(_, rt)| {
                            rt.target == r.name || rt.escalate_to.as_deref() == Some(r.name.as_str())
                        })
                        .map(|(j, _)| format!("routes[{j}]"))
                        .collect();
                    let needed_by = if routes.is_empty() {
                        format!("remote {:?}", r.name)
                    } else {
                        format!("remote {:?}, used by {}", r.name, routes.join(", "))
                    };
                    let key = if r.api_key_env.is_some() { key("api_key_env") } else { key("name") };
                    problems.push(Problem::MissingEnv { key, var: var.to_owned(), needed_by });
                }
            }
        }
    }

    fn check_routes(&self, problems: &mut Vec<Problem>) {
        let known = self.known_names();
        let mut task_owner: HashMap<String, String> = HashMap::new();
        for (i, route) in self.routes.iter().enumerate() {
            let key = |field: &str| format!("routes[{i}].{field}");
            if route.tasks.is_empty() {
                problems.push(Problem::NoTasks { key: key("tasks") });
            }
            for task in &route.tasks {
                if task.trim().is_empty() {
                    problems.push(Problem::Invalid {
                        key: key("tasks"),
                        message: "an empty task name; remove it".into(),
                    });
                    continue;
                }
                let norm = task.to_ascii_lowercase();
                if let Some(first) = task_owner.get(&norm) {
                    if first != &format!("routes[{i}]") {
                        problems.push(Problem::TaskInTwoRoutes {
                            key: key("tasks"),
                            task: task.clone(),
                            first: first.clone(),
                        });
                    }
                } else {
                    task_owner.insert(norm, format!("routes[{i}]"));
                }
            }
            let reference =
                |problems: &mut Vec<Problem>, field: &str, name: &str, must_be_local: bool| match self
                    .target(name)
                {
                    None => problems.push(Problem::UnknownName {
                        key: key(field),
                        name: name.to_owned(),
                        known: known.clone(),
                    }),
                    Some(Target::Remote(_)) if must_be_local => {
                        problems.push(Problem::NotLocal { key: key(field), name: name.to_owned() })
                    }
                    Some(_) => {}
                };
            reference(problems, "target", &route.target, false);
            if let Some(e) = &route.escalate_to {
                reference(problems, "escalate_to", e, false);
                if e == &route.target {
                    problems.push(Problem::EscalatesToItself { key: key("escalate_to"), name: e.clone() });
                }
            }
            if let Some(f) = &route.fallback {
                reference(problems, "fallback", f, true);
            }
            if route.on_budget == Some(OnBudget::Local) && self.models.is_empty() {
                problems.push(Problem::Invalid {
                    key: key("on_budget"),
                    message: "\"local\" needs a local model: add a [[models]] table or use \"reject\"".into(),
                });
            }
            if let Some(c) = route.max_complexity {
                if !(0.0..=1.0).contains(&c) {
                    problems.push(Problem::OutOfRange {
                        key: key("max_complexity"),
                        value: c,
                        expected: "0 to 1",
                    });
                }
                if route.escalate_to.is_none() {
                    problems.push(Problem::Invalid {
                        key: key("max_complexity"),
                        message: "set without escalate_to: say where harder requests go".into(),
                    });
                }
            }
            for (field, value) in
                [("min_mean_logprob", route.min_mean_logprob), ("min_token_logprob", route.min_token_logprob)]
            {
                if let Some(v) = value
                    && !(v.is_finite() && v <= 0.0)
                {
                    problems.push(Problem::OutOfRange {
                        key: key(field),
                        value: v,
                        expected: "a log-probability: 0 or below (e.g. -1.5)",
                    });
                }
            }
            if let Some(v) = route.min_label_margin
                && !(0.0..=1.0).contains(&v)
            {
                problems.push(Problem::OutOfRange {
                    key: key("min_label_margin"),
                    value: v,
                    expected: "a probability difference, 0 to 1",
                });
            }
            let thresholds = route.min_mean_logprob.is_some()
                || route.min_token_logprob.is_some()
                || route.min_label_margin.is_some();
            if thresholds && route.escalate_to.is_none() {
                problems.push(Problem::Invalid {
                    key: key("escalate_to"),
                    message: "missing: the route sets escalation thresholds but not where to escalate".into(),
                });
            }
        }
    }

    fn check_budget(&self, problems: &mut Vec<Problem>) {
        for (field, value) in [("daily_usd", self.budget.daily_usd), ("monthly_usd", self.budget.monthly_usd)]
        {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                problems.push(Problem::OutOfRange {
                    key: format!("budget.{field}"),
                    value: v,
                    expected: "USD, 0 or more (remove the key for no cap)",
                });
            }
        }
        if let Some(v) = self.budget.local_usd_per_hour
            && !(v.is_finite() && v >= 0.0)
        {
            problems.push(Problem::OutOfRange {
                key: "budget.local_usd_per_hour".into(),
                value: v,
                expected: "USD per hour, 0 or more",
            });
        }
        if let Err(e) = self.ledger.validate() {
            problems.push(Problem::Invalid { key: "ledger".into(), message: e.to_string() });
        }
        if let Some(name) = &self.budget.compare_to
            && self.remote(name).is_none()
        {
            problems.push(Problem::UnknownName {
                key: "budget.compare_to".into(),
                name: name.clone(),
                known: self.remotes.iter().map(|r| r.name.clone()).collect(),
            });
        }
    }

    fn check_complexity(&self, problems: &mut Vec<Problem>) {
        let c = &self.complexity;
        let w = &c.weights;
        let weights = [
            ("length", w.length),
            ("code", w.code),
            ("reasoning", w.reasoning),
            ("multi_step", w.multi_step),
            ("questions", w.questions),
            ("jargon", w.jargon),
        ];
        for (field, v) in weights {
            if !(v.is_finite() && v >= 0.0) {
                problems.push(Problem::OutOfRange {
                    key: format!("complexity.weights.{field}"),
                    value: v,
                    expected: "a weight, 0 or more",
                });
            }
        }
        if weights.iter().map(|(_, v)| v.max(0.0)).sum::<f64>() <= 0.0 {
            problems.push(Problem::Invalid {
                key: "complexity.weights".into(),
                message: "all weights are 0: give at least one feature a positive weight".into(),
            });
        }
        let saturations = [
            ("long_input_chars", c.long_input_chars as u64),
            ("many_code_lines", c.many_code_lines.into()),
            ("many_reasoning_markers", c.many_reasoning_markers.into()),
            ("many_steps", c.many_steps.into()),
            ("many_questions", c.many_questions.into()),
            ("many_jargon_terms", c.many_jargon_terms.into()),
        ];
        for (field, v) in saturations {
            if v == 0 {
                problems.push(Problem::Invalid {
                    key: format!("complexity.{field}"),
                    message: "must be at least 1 (use a weight of 0 to ignore the feature)".into(),
                });
            }
        }
    }
}

/// Whether a variable is set, non-empty, in this process's environment.
pub fn process_env(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty())
}
