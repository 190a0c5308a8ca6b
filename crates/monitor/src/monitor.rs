//! [`Monitor`]: the running quality monitor. It is the router's [`Watch`]: it samples
//! answers as they are served (a lock and a `try_send`, nothing slower), queues them in a
//! bounded queue, and judges them on its own worker ([`Monitor::run`]) through a [`Judge`].
//! Each verdict goes to the [`MonitorState`] (which may move the task type), every judge
//! call to the ledger as a row of its own (task `judge`, tagged with the judged request's id
//! and the verdict), and the state to its file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use hearth_ledger::{Call, Ledger, Status};
use hearth_router::cost::remote_cost_usd;
use hearth_router::{Answered, MonitorConfig, Reason, Remote, RouterConfig, SampledRequest, Watch};
use tokio::sync::mpsc;

use crate::compare::{Comparison, compare};
use crate::judge::{Judge, JudgeError, JudgeReply};
use crate::pairwise;
use crate::state::{MonitorState, RouteFacts, TierChange};

/// The clock the monitor reads (ms since the Unix epoch); a simulation gives its own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Why a monitor cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The config has no `[monitor]` section.
    #[error("the config has no [monitor] section")]
    NotConfigured,
    /// `[monitor] judge` names no remote.
    #[error("monitor.judge: {0:?} is not a [[remotes]] name")]
    UnknownJudge(String),
    /// The state file cannot be read.
    #[error("the monitor's state file: {0}")]
    State(#[from] std::io::Error),
}

/// What a sampled answer is judged against.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleKind {
    /// A local answer served on the route's target: the judge answers too and compares.
    Local {
        /// The local answer.
        answer: String,
    },
    /// A moved-up type's remote answer: the local model answers in the background and is
    /// compared with it (the shadow sample that can move the type back).
    Shadow {
        /// The served (remote) answer.
        reference: String,
    },
}

/// One sampled answer waiting for the judge.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The judged request's id (its ledger row).
    pub request_id: String,
    /// Its task type (lowercase).
    pub task: String,
    /// Its `[[routes]]` index.
    pub route: usize,
    /// The request, replayable.
    pub request: SampledRequest,
    /// What it is judged against.
    pub kind: SampleKind,
}

/// A verdict on one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The task type.
    pub task: String,
    /// The judged request's id.
    pub request_id: String,
    /// Whether the local answer agreed; `Err`: no verdict (the judge failed, the budget was
    /// spent, the judge's answer was unusable), with why.
    pub agree: Result<bool, String>,
    /// The move it caused.
    pub change: Option<TierChange>,
}

/// The quality monitor (module docs). Share it behind an `Arc`: the router holds it as its
/// [`Watch`], the worker as the one that judges.
pub struct Monitor {
    config: MonitorConfig,
    router: RouterConfig,
    judge: Remote,
    state: Mutex<MonitorState>,
    tx: mpsc::Sender<Sample>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Sample>>,
    rng: AtomicU64,
    clock: Clock,
    ledger: Option<Arc<Ledger>>,
    state_file: Option<PathBuf>,
    saving: Mutex<()>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("config", &self.config).field("state_file", &self.state_file).finish()
    }
}

impl Monitor {
    /// A monitor for `router`'s `[monitor]` section, with a fresh state, the system clock and
    /// no ledger.
    pub fn new(router: &RouterConfig) -> Result<Monitor, MonitorError> {
        let config = router.monitor.clone().ok_or(MonitorError::NotConfigured)?;
        let judge = router
            .remote(&config.judge)
            .cloned()
            .ok_or_else(|| MonitorError::UnknownJudge(config.judge.clone()))?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        Ok(Monitor {
            config,
            router: router.clone(),
            judge,
            state: Mutex::new(MonitorState::default()),
            tx,
            rx: tokio::sync::Mutex::new(rx),
            rng: AtomicU64::new(0x9e37_79b9_7f4a_7c15 ^ hearth_ledger::now_unix_ms().unsigned_abs()),
            clock: Arc::new(hearth_ledger::now_unix_ms),
            ledger: None,
            state_file: None,
            saving: Mutex::new(()),
        })
    }

    /// Keeps the state in `path` (read now, written after each verdict).
    pub fn with_state_file(mut self, path: &Path) -> Result<Monitor, MonitorError> {
        let state = MonitorState::load(path)?;
        *lock(&self.state) = state;
        self.state_file = Some(path.to_owned());
        Ok(self)
    }

    /// Writes a ledger row per judge call.
    pub fn with_ledger(mut self, ledger: Arc<Ledger>) -> Monitor {
        self.ledger = Some(ledger);
        self
    }

    /// Reads time from `clock` (simulations).
    pub fn with_clock(mut self, clock: Clock) -> Monitor {
        self.clock = clock;
        self
    }

    /// Draws its sampling decisions from `seed` (reproducible runs).
    pub fn with_seed(self, seed: u64) -> Monitor {
        self.rng.store(seed, Ordering::Relaxed);
        self
    }

    /// The `[monitor]` settings.
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// The state file, if any.
    pub fn state_file(&self) -> Option<&Path> {
        self.state_file.as_deref()
    }

    /// A copy of the state now.
    pub fn state(&self) -> MonitorState {
        lock(&self.state).clone()
    }

    /// Samples waiting for the judge.
    pub fn queued(&self) -> usize {
        self.config.queue.max(1) - self.tx.capacity()
    }

    /// Judges samples as they come, until every sender is gone (run it on its own task:
    /// `tokio::spawn(monitor.clone().run(judge))`).
    ///
    /// Samples are judged two at a time, or, through the Message Batches API (`batch`), as
    /// many at once as the queue holds (their answers come back together, hours later).
    pub async fn run<J: Judge>(self: Arc<Self>, judge: J) {
        use futures_util::StreamExt;
        let mut rx = self.rx.lock().await;
        let limit = if self.config.batch { self.config.queue.max(1) } else { 2 };
        futures_util::stream::poll_fn(|cx| rx.poll_recv(cx))
            .for_each_concurrent(limit, |sample| async {
                self.judge(&judge, sample).await;
            })
            .await;
    }

    /// Judges every sample waiting now, in order (tests and simulations, instead of
    /// [`Monitor::run`]).
    pub async fn judge_pending<J: Judge>(&self, judge: &J) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        loop {
            let next = self.rx.lock().await.try_recv();
            let Ok(sample) = next else { break };
            verdicts.push(self.judge(judge, sample).await);
        }
        verdicts
    }

    /// Judges one sample: the judge calls, the verdict, its rows, the state and its file.
    pub async fn judge<J: Judge>(&self, judge: &J, sample: Sample) -> Verdict {
        let now = (self.clock)();
        let mut rows = Vec::new();
        let over_budget = {
            let mut state = lock(&self.state);
            state.roll_day(now);
            let over = state.judge_usd_today >= self.config.daily_budget_usd;
            if over {
                state.dropped_budget += 1;
                state.tasks.entry(sample.task.clone()).or_default().dropped += 1;
            }
            over
        };
        let agree = if over_budget {
            Err(format!("the day's judge budget ({} USD) is spent", self.config.daily_budget_usd))
        } else {
            self.verdict(judge, &sample, &mut rows).await
        };
        let change = self.settle(&sample, &agree, now, rows);
        Verdict { task: sample.task, request_id: sample.request_id, agree, change }
    }

    /// The judge calls for `sample`, their rows (pushed to `rows`), and the verdict.
    async fn verdict<J: Judge>(
        &self,
        judge: &J,
        sample: &Sample,
        rows: &mut Vec<Call>,
    ) -> Result<bool, String> {
        let route = self.router.routes.get(sample.route).ok_or("the route is gone from the config")?;
        let exact = self.config.is_exact(&sample.task);
        let (local, reference) = match &sample.kind {
            SampleKind::Local { answer } => {
                let mut request = sample.request.clone();
                request.max_tokens = Some(request.max_tokens.unwrap_or(self.config.judge_max_tokens));
                let reply = self.call(judge, sample, "reference", &request, None, rows).await?;
                (answer.clone(), reply.text)
            }
            SampleKind::Shadow { reference } => {
                let reply = self
                    .call(judge, sample, "shadow_local", &sample.request, Some(&route.target), rows)
                    .await?;
                (reply.text, reference.clone())
            }
        };
        if exact {
            return match compare(&sample.task, &local, &reference) {
                Comparison::Agree => Ok(true),
                Comparison::Disagree(why) => {
                    tracing::debug!(
                        task = sample.task,
                        request = sample.request_id,
                        why,
                        "local answer disagrees"
                    );
                    Ok(false)
                }
                Comparison::Unusable(why) => Err(why),
            };
        }
        let max = self.config.judge_max_tokens;
        let ab = pairwise::prompt(&sample.request, &local, &reference, max);
        let first = self.call(judge, sample, "verdict_local_first", &ab, None, rows).await?;
        let first = pairwise::parse(&first.text)?;
        let ba = pairwise::prompt(&sample.request, &reference, &local, max);
        let second = self.call(judge, sample, "verdict_local_second", &ba, None, rows).await?;
        let second = pairwise::parse(&second.text)?;
        Ok(pairwise::agrees(first, second))
    }

    /// One judge call (remote, or local model `local`), its row pushed to `rows`.
    async fn call<J: Judge>(
        &self,
        judge: &J,
        sample: &Sample,
        step: &str,
        request: &SampledRequest,
        local: Option<&str>,
        rows: &mut Vec<Call>,
    ) -> Result<JudgeReply, String> {
        let started = Instant::now();
        let started_ms = (self.clock)();
        let result = match local {
            Some(model) => judge.local(model, request).await,
            None => judge.ask(&self.judge, request).await,
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut row = Call {
            time_unix_ms: started_ms,
            request_id: format!("{}-judge-{}", sample.request_id, rows.len() + 1),
            operation: "judge".into(),
            task: Some("judge".into()),
            route: local.unwrap_or(&self.judge.name).to_owned(),
            reason: "monitor".into(),
            provider: if local.is_some() { "hearth".into() } else { self.judge.provider.as_str().into() },
            request_model: local.unwrap_or(&self.judge.name).to_owned(),
            local: local.is_some(),
            latency_ms,
            ..Call::default()
        };
        row.tags.insert("judged".into(), sample.request_id.clone());
        row.tags.insert("judged_task".into(), sample.task.clone());
        row.tags.insert("judge_step".into(), step.into());
        match &result {
            Ok(reply) => {
                let u = reply.usage;
                row.upstream_request_id.clone_from(&reply.upstream_id);
                row.response_model =
                    reply.model.clone().or_else(|| local.is_none().then(|| self.judge.model.clone()));
                row.input_tokens = Some(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens);
                row.output_tokens = Some(u.output_tokens);
                row.cache_read_tokens = Some(u.cache_read_tokens);
                row.cache_creation_tokens = Some(u.cache_write_tokens);
                if local.is_none() {
                    row.cost_usd = remote_cost_usd(&self.judge, &u);
                }
                if reply.batch {
                    // The Message Batches API bills half the standard prices.
                    row.cost_usd *= 0.5;
                    row.tags.insert("batch".into(), "true".into());
                }
            }
            Err(JudgeError { message, upstream_id }) => {
                row.status = Status::Error;
                row.error_type = Some("judge_failed".into());
                row.error_message = Some(message.clone());
                row.upstream_request_id.clone_from(upstream_id);
            }
        }
        {
            let mut state = lock(&self.state);
            if local.is_none() {
                state.judge_calls += 1;
                state.judge_usd_today += row.cost_usd;
                state.judge_usd_total += row.cost_usd;
            }
            if result.is_err() {
                state.judge_errors += 1;
            }
        }
        rows.push(row);
        result.map_err(|e| format!("{step}: {}", e.message))
    }

    /// Records a verdict (or its absence) in the state, the rows in the ledger, the state in
    /// its file; logs a move.
    fn settle(
        &self,
        sample: &Sample,
        agree: &Result<bool, String>,
        now: i64,
        rows: Vec<Call>,
    ) -> Option<TierChange> {
        let verdict = match agree {
            Ok(true) => "agree",
            Ok(false) => "disagree",
            Err(_) => "none",
        };
        if let Some(ledger) = &self.ledger {
            for mut row in rows {
                row.tags.insert("verdict".into(), verdict.into());
                ledger.record(row);
            }
        }
        let route = self.router.routes.get(sample.route);
        let facts = RouteFacts {
            target: route.map_or("", |r| r.target.as_str()),
            escalate_to: route.and_then(|r| r.escalate_to.as_deref()),
            pinned: route.is_some_and(|r| r.pinned),
        };
        let change = {
            let mut state = lock(&self.state);
            match agree {
                Ok(a) => state.record(&sample.task, *a, now, &self.config, facts),
                Err(why) => {
                    tracing::warn!(
                        task = sample.task,
                        request = sample.request_id,
                        why,
                        "no verdict on a sampled answer"
                    );
                    if !why.contains("budget") {
                        state.tasks.entry(sample.task.clone()).or_default().dropped += 1;
                    }
                    None
                }
            }
        };
        if let Some(c) = &change {
            let interval = c.interval.map(|i| format!("{:.2}–{:.2}", i.low, i.high)).unwrap_or_default();
            tracing::warn!(
                task = sample.task,
                tier = c.tier.as_str(),
                served_by = c.served_by,
                agreement = c.agreement,
                interval,
                n = c.n,
                "quality monitor moved a task type"
            );
        }
        if let Some(path) = &self.state_file {
            // One writer at a time, and the snapshot taken inside: the last file written holds
            // the newest state even when verdicts settle concurrently.
            let _writing = lock(&self.saving);
            let snapshot = self.state();
            if let Err(e) = snapshot.save(path) {
                tracing::error!(path = %path.display(), error = %e, "cannot save the monitor's state");
            }
        }
        change
    }

    /// A uniform draw in [0, 1) (splitmix64).
    fn next_u(&self) -> f64 {
        let mut z =
            self.rng.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Watch for Monitor {
    fn demoted(&self) -> BTreeSet<String> {
        lock(&self.state).demoted().map(str::to_owned).collect()
    }

    fn answered(&self, a: &Answered<'_>, request: &dyn Fn() -> Option<SampledRequest>) {
        let Some(text) = a.text else { return };
        let kind = match (a.reason, a.local) {
            (Reason::Task, true) if a.served_by == a.route_target => {
                SampleKind::Local { answer: text.to_owned() }
            }
            // Moved up: escalate_to answered (a remote, or a bigger local model); the route's
            // own target answers in the background.
            (Reason::Demoted, _) if a.served_by != a.route_target => {
                SampleKind::Shadow { reference: text.to_owned() }
            }
            _ => return,
        };
        let u = self.next_u();
        let now = (self.clock)();
        if !lock(&self.state).offer(a.task, now, u, &self.config) {
            return;
        }
        let Some(request) = request() else {
            lock(&self.state).tasks.entry(a.task.to_owned()).or_default().dropped += 1;
            return;
        };
        let sample = Sample {
            request_id: a.request_id.to_owned(),
            task: a.task.to_owned(),
            route: a.route,
            request,
            kind,
        };
        if self.tx.try_send(sample).is_err() {
            let mut state = lock(&self.state);
            state.dropped_queue += 1;
            state.tasks.entry(a.task.to_owned()).or_default().dropped += 1;
            tracing::debug!(task = a.task, "judge queue full; sample dropped");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_router::Turn;

    fn monitor() -> Monitor {
        let config = RouterConfig::from_toml_str(
            r#"
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
            [[routes]]
            tasks = ["summarize"]
            target = "small"
            escalate_to = "big"
            [monitor]
            judge = "claude"
            "#,
        )
        .expect("parses");
        Monitor::new(&config).expect("monitor").with_seed(3)
    }

    fn answered<'a>(reason: Reason, served_by: &'a str, local: bool, text: Option<&'a str>) -> Answered<'a> {
        Answered {
            request_id: "req_1",
            task: "summarize",
            route: 0,
            route_target: "small",
            served_by,
            local,
            reason,
            pinned: false,
            text,
        }
    }

    #[test]
    fn samples_local_answers_and_shadows_a_moved_up_type_whatever_serves_it() {
        let m = monitor();
        let request = || {
            Some(SampledRequest {
                system: None,
                messages: vec![Turn::user("x")],
                schema: None,
                max_tokens: None,
            })
        };
        m.answered(&answered(Reason::Task, "small", true, Some("a")), &request);
        // A bigger local model as escalate_to: still a shadow sample of the route's target.
        m.answered(&answered(Reason::Demoted, "big", true, Some("b")), &request);
        m.answered(&answered(Reason::Demoted, "claude", false, Some("c")), &request);
        assert_eq!(m.queued(), 3);
        // Not sampled: escalations, fallbacks, streams (no text), unreplayable requests.
        m.answered(&answered(Reason::LowConfidence, "claude", false, Some("d")), &request);
        m.answered(&answered(Reason::Task, "small", true, None), &request);
        m.answered(&answered(Reason::Task, "small", true, Some("e")), &|| None);
        assert_eq!(m.queued(), 3);
        let state = m.state();
        assert_eq!((state.tasks["summarize"].sampled, state.tasks["summarize"].dropped), (4, 1));
    }
}
