//! `GET /metrics`: Prometheus text exposition (format 0.0.4), written by hand.
//!
//! The server's own counters (requests by endpoint and status, latency histograms,
//! recent throughput) live in [`Metrics`]; token counts, queue depth and busy slots come
//! from the engine's [`hearth_engine::scheduler::Stats`] — with a pool, one sample per model
//! (label `model`, counters kept across unloads), besides loads, unloads and memory.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::pool::{ModelStatus, Totals};
use crate::{AppState, ModelPool, Ready};

/// Seconds of history behind `hearth_generation_tokens_per_second`.
const RATE_WINDOW: u64 = 10;
/// Per-second buckets kept (more than the window, so the current second never collides).
const RATE_BUCKETS: usize = 16;

const TTFT_BOUNDS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
const TOKEN_BOUNDS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
const REQUEST_BOUNDS: &[f64] = &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// A Prometheus histogram with fixed bucket bounds (seconds).
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    inner: Mutex<HistogramData>,
}

#[derive(Debug, Default)]
struct HistogramData {
    /// Observations per bucket (not cumulative); one more than `bounds` for `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        let data = HistogramData { counts: vec![0; bounds.len() + 1], ..Default::default() };
        Histogram { bounds, inner: Mutex::new(data) }
    }

    fn observe(&self, seconds: f64) {
        let i = self.bounds.iter().position(|&b| seconds <= b).unwrap_or(self.bounds.len());
        if let Ok(mut d) = self.inner.lock() {
            d.counts[i] += 1;
            d.sum += seconds;
            d.count += 1;
        }
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let Ok(d) = self.inner.lock() else { return };
        let mut cumulative = 0;
        for (bound, n) in self.bounds.iter().zip(&d.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", float(*bound));
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", d.count);
        let _ = writeln!(out, "{name}_sum {}", float(d.sum));
        let _ = writeln!(out, "{name}_count {}", d.count);
    }
}

/// The server's own counters.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    /// `(endpoint, status) → count`.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    ttft: Histogram,
    per_token: Histogram,
    request: Histogram,
    /// `(second since start, tokens generated in it)`, a ring indexed by second.
    recent: Mutex<[(u64, u64); RATE_BUCKETS]>,
    /// Routed requests by `(task, route, reason)`.
    routed: Mutex<BTreeMap<(String, String, &'static str), Routed>>,
}

/// What the router's requests of one `(task, route, reason)` added up to.
#[derive(Debug, Default, Clone, Copy)]
struct Routed {
    requests: u64,
    cost_usd: f64,
    saved_usd: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            requests: Mutex::new(BTreeMap::new()),
            ttft: Histogram::new(TTFT_BOUNDS),
            per_token: Histogram::new(TOKEN_BOUNDS),
            request: Histogram::new(REQUEST_BOUNDS),
            recent: Mutex::new([(u64::MAX, 0); RATE_BUCKETS]),
            routed: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    /// One answered request.
    pub fn count_request(&self, endpoint: &'static str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((endpoint, status)).or_default() += 1;
        }
    }

    /// Time from a request's arrival to its first generated token.
    pub fn observe_ttft(&self, d: Duration) {
        self.ttft.observe(d.as_secs_f64());
    }

    /// Time between two consecutive tokens of one request; counts the token towards the
    /// recent throughput.
    pub fn observe_token(&self, since_previous: Option<Duration>) {
        if let Some(d) = since_previous {
            self.per_token.observe(d.as_secs_f64());
        }
        let sec = self.started.elapsed().as_secs();
        if let Ok(mut r) = self.recent.lock() {
            let slot = &mut r[(sec % RATE_BUCKETS as u64) as usize];
            if slot.0 != sec {
                *slot = (sec, 0);
            }
            slot.1 += 1;
        }
    }

    /// Time from a generation request's arrival to its last byte.
    pub fn observe_request(&self, d: Duration) {
        self.request.observe(d.as_secs_f64());
    }

    /// One request through the router: its task (a bounded label: see
    /// `route::task_label`), the target that answered (or was refused), the reason, the remote
    /// USD paid and the USD a local answer saved against the reference remote.
    pub fn record_routed(
        &self,
        task: &str,
        route: &str,
        reason: &'static str,
        cost_usd: f64,
        saved_usd: f64,
    ) {
        if let Ok(mut m) = self.routed.lock() {
            let r = m.entry((task.to_owned(), route.to_owned(), reason)).or_default();
            r.requests += 1;
            r.cost_usd += cost_usd.max(0.0);
            r.saved_usd += saved_usd.max(0.0);
        }
    }

    /// Tokens per second generated over the last complete seconds (all requests together).
    pub fn tokens_per_second(&self) -> f64 {
        let now = self.started.elapsed().as_secs();
        let window = RATE_WINDOW.min(now);
        if window == 0 {
            return 0.0;
        }
        let Ok(r) = self.recent.lock() else { return 0.0 };
        let total: u64 = r.iter().filter(|(s, _)| *s < now && *s + window >= now).map(|(_, n)| n).sum();
        total as f64 / window as f64
    }
}

/// Writes every metric.
/// The response cache's counters: hits by kind, misses, sampled bypasses, guard rejections by
/// guard, inserts, expiries, evictions, errors; entries and bytes held.
fn cache_metrics(out: &mut String, s: &hearth_cache::CacheStats) {
    let mut head = |name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    head(
        "hearth_cache_hits_total",
        "counter",
        "Requests answered from the response cache, by kind (exact, semantic).",
    );
    let _ = writeln!(out, "hearth_cache_hits_total{{kind=\"exact\"}} {}", s.exact_hits);
    let _ = writeln!(out, "hearth_cache_hits_total{{kind=\"semantic\"}} {}", s.semantic_hits);
    let counters = [
        ("hearth_cache_misses_total", "Cache lookups that found nothing to serve.", s.misses),
        (
            "hearth_cache_sampled_bypasses_total",
            "Requests not looked up because they sample (temperature > 0).",
            s.sampled_bypasses,
        ),
        ("hearth_cache_inserts_total", "Answers stored in the cache.", s.inserts),
        ("hearth_cache_expired_total", "Cache entries dropped at the end of their TTL.", s.expired),
        (
            "hearth_cache_evicted_total",
            "Cache entries evicted (least recently used) to stay within max_entries / max_bytes.",
            s.evicted,
        ),
        (
            "hearth_cache_errors_total",
            "Cache lookups or inserts that failed (embedder or store); answered without the cache.",
            s.errors,
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    }
    let _ = writeln!(
        out,
        "# HELP hearth_cache_guard_rejections_total Semantic candidates above the threshold that a guard refused, by guard.\n# TYPE hearth_cache_guard_rejections_total counter"
    );
    for reason in hearth_cache::GuardReason::ALL {
        let n = s.guard_rejections.get(&reason).copied().unwrap_or(0);
        let _ = writeln!(out, "hearth_cache_guard_rejections_total{{guard=\"{}\"}} {n}", reason.as_str());
    }
    let _ = writeln!(
        out,
        "# HELP hearth_cache_entries Entries in the response cache.\n# TYPE hearth_cache_entries gauge\nhearth_cache_entries {}",
        s.entries
    );
    let _ = writeln!(
        out,
        "# HELP hearth_cache_bytes Bytes of prompts, answers and vectors in the response cache.\n# TYPE hearth_cache_bytes gauge\nhearth_cache_bytes {}",
        s.bytes
    );
}

pub(crate) fn render(state: &AppState) -> String {
    let m = state.metrics();
    let mut out = String::with_capacity(4096);
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };

    head(
        &mut out,
        "hearth_requests_total",
        "counter",
        "HTTP requests answered, by endpoint and status code.",
    );
    if let Ok(reqs) = m.requests.lock() {
        for ((endpoint, status), n) in reqs.iter() {
            let _ = writeln!(out, "hearth_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
        }
    }

    routed_metrics(&mut out, m);
    if let Some(ledger) = state.config().routing.as_ref().and_then(|r| r.router().ledger()) {
        ledger_metrics(&mut out, &ledger.stats());
    }
    if let Some(routing) = state.config().routing.as_ref()
        && let Some(monitor) = routing.monitor()
    {
        crate::route::monitor::metrics(&mut out, monitor, routing.router().config());
    }
    if let Some(cache) = state.config().routing.as_ref().and_then(|r| r.cache()) {
        cache_metrics(&mut out, &cache.stats());
    }

    let rows = model_rows(state);
    let pooled = state.pool().is_some();
    head(&mut out, "hearth_model_ready", "gauge", "1 once the model is loaded and serving, 0 while loading.");
    for r in &rows {
        let _ = writeln!(
            out,
            "hearth_model_ready{{model=\"{}\"}} {}",
            label(&r.name),
            u8::from(r.ready.is_some())
        );
    }
    // The single-model server's samples carry no label (one model); a pool's carry `model`.
    let sample = |out: &mut String, name: &str, r: &Row, v: String| {
        let _ = if pooled {
            writeln!(out, "{name}{{model=\"{}\"}} {v}", label(&r.name))
        } else {
            writeln!(out, "{name} {v}")
        };
    };
    type Counter = (&'static str, &'static str, fn(&Totals) -> u64);
    let counters: [Counter; 4] = [
        ("hearth_prompt_tokens_total", "Prompt tokens processed (computed, not taken from a cache).", |t| {
            t.prompt_tokens
        }),
        (
            "hearth_prompt_cached_tokens_total",
            "Prompt tokens whose keys and values were reused from a cached prefix.",
            |t| t.cached_tokens,
        ),
        ("hearth_completion_tokens_total", "Tokens generated.", |t| t.completion_tokens),
        ("hearth_forward_passes_total", "Forward passes run by the engine thread.", |t| t.forward_passes),
    ];
    for (name, help, get) in counters {
        head(&mut out, name, "counter", help);
        for r in &rows {
            sample(&mut out, name, r, get(&r.totals).to_string());
        }
    }
    let stat = |r: &Row, f: fn(&hearth_engine::scheduler::Stats) -> usize| {
        r.ready.as_ref().map_or(0, |ready| f(ready.scheduler.stats()))
    };
    type Gauge = (&'static str, &'static str, fn(&hearth_engine::scheduler::Stats) -> usize);
    let gauges: [Gauge; 2] = [
        ("hearth_queue_depth", "Requests waiting for a slot.", |s| s.queued.load(Ordering::Relaxed)),
        ("hearth_slots_busy", "Slots generating.", |s| s.active.load(Ordering::Relaxed)),
    ];
    for (name, help, get) in gauges {
        head(&mut out, name, "gauge", help);
        for r in &rows {
            sample(&mut out, name, r, stat(r, get).to_string());
        }
    }
    head(&mut out, "hearth_slots_total", "gauge", "Slots (--parallel, or the model's slots).");
    for r in &rows {
        sample(
            &mut out,
            "hearth_slots_total",
            r,
            r.ready.as_ref().map_or(0, |x| x.scheduler.slots()).to_string(),
        );
    }
    if let Some(pool) = state.pool() {
        pool_metrics(&mut out, pool);
    }
    head(
        &mut out,
        "hearth_generation_tokens_per_second",
        "gauge",
        "Tokens generated per second over the last 10 seconds, all requests together.",
    );
    let _ = writeln!(out, "hearth_generation_tokens_per_second {}", float(m.tokens_per_second()));

    m.ttft.render(
        &mut out,
        "hearth_time_to_first_token_seconds",
        "Time from a request's arrival to its first token (queueing included).",
    );
    m.per_token.render(
        &mut out,
        "hearth_time_per_output_token_seconds",
        "Time between consecutive tokens of a request.",
    );
    m.request.render(
        &mut out,
        "hearth_request_duration_seconds",
        "Time from a generation request's arrival to its end.",
    );
    out
}

/// The router's counters: requests by task, route and reason; remote USD and USD saved by
/// task and route.
fn routed_metrics(out: &mut String, m: &Metrics) {
    let Ok(routed) = m.routed.lock() else { return };
    if routed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# HELP hearth_routed_requests_total Requests the router served or refused, by task, route \
         (the target that answered) and reason.\n# TYPE hearth_routed_requests_total counter"
    );
    for ((task, route, reason), r) in routed.iter() {
        let _ = writeln!(
            out,
            "hearth_routed_requests_total{{task=\"{}\",route=\"{}\",reason=\"{reason}\"}} {}",
            label(task),
            label(route),
            r.requests
        );
    }
    let mut by_task_route: BTreeMap<(&str, &str), (f64, f64)> = BTreeMap::new();
    for ((task, route, _), r) in routed.iter() {
        let t = by_task_route.entry((task, route)).or_default();
        t.0 += r.cost_usd;
        t.1 += r.saved_usd;
    }
    type Family = (&'static str, &'static str, fn(&(f64, f64)) -> f64);
    let families: [Family; 2] = [
        (
            "hearth_cost_usd_total",
            "USD paid to remotes (their price table times the usage they reported), by task and route.",
            |t| t.0,
        ),
        (
            "hearth_saved_usd_total",
            "USD the reference remote (budget.compare_to, else the first remote) would have charged \
             for the answers served locally, by task and route.",
            |t| t.1,
        ),
    ];
    for (name, help, get) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for ((task, route), t) in &by_task_route {
            let _ = writeln!(
                out,
                "{name}{{task=\"{}\",route=\"{}\"}} {}",
                label(task),
                label(route),
                float(get(t))
            );
        }
    }
}

/// The ledger writer's counters.
fn ledger_metrics(out: &mut String, s: &hearth_router::hearth_ledger::Stats) {
    let families = [
        ("hearth_ledger_rows_written_total", "Ledger rows committed.", s.written),
        (
            "hearth_ledger_rows_dropped_total",
            "Ledger rows lost: the writer's queue was full (a slow or stuck disk) or a batch failed twice.",
            s.dropped,
        ),
        ("hearth_ledger_write_errors_total", "Failed ledger write attempts.", s.write_errors),
        ("hearth_ledger_rows_pruned_total", "Ledger rows deleted by retention.", s.pruned),
    ];
    for (name, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
}

/// One model's engine counters and state.
struct Row {
    name: String,
    ready: Option<Arc<Ready>>,
    totals: Totals,
}

fn model_rows(state: &AppState) -> Vec<Row> {
    match state.pool() {
        Some(pool) => pool
            .status()
            .into_iter()
            .map(|s| Row { name: s.name, ready: s.ready, totals: s.totals })
            .collect(),
        None => {
            let ready = state.engine_state();
            let totals = ready.as_deref().map(Totals::of).unwrap_or_default();
            vec![Row { name: state.model_id().to_owned(), ready, totals }]
        }
    }
}

/// The pool's own metrics: loads, unloads, memory.
fn pool_metrics(out: &mut String, pool: &ModelPool) {
    let status = pool.status();
    type PerModel = (&'static str, &'static str, &'static str, fn(&ModelStatus) -> u64);
    let per_model: [PerModel; 3] = [
        ("hearth_model_loads_total", "counter", "Times the model was loaded.", |s| s.loads),
        (
            "hearth_model_unloads_total",
            "counter",
            "Times the model was unloaded (idle, memory budget).",
            |s| s.unloads,
        ),
        (
            "hearth_model_resident_bytes",
            "gauge",
            "Memory the model holds while loaded (file plus KV caches, estimated).",
            |s| s.resident_bytes,
        ),
    ];
    for (name, kind, help, get) in per_model {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in &status {
            let _ = writeln!(out, "{name}{{model=\"{}\"}} {}", label(&s.name), get(s));
        }
    }
    if let Some(b) = pool.budget() {
        let name = "hearth_memory_budget_bytes";
        let _ =
            writeln!(out, "# HELP {name} Memory the loaded models may hold together.\n# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {b}");
    }
}

/// `GET /metrics`.
pub(crate) async fn handler(State(state): State<AppState>) -> Response {
    let mut resp = render(&state).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

/// Middleware: counts every answered request by endpoint and status, and logs it.
pub(crate) async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = endpoint_label(req.uri().path());
    let method = req.method().clone();
    let t0 = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    state.metrics().count_request(endpoint, status);
    tracing::info!(%method, endpoint, status, ms = t0.elapsed().as_millis() as u64, "request");
    resp
}

/// The metric label of a path: the known routes by name, everything else `other` (so that
/// scanners cannot grow the label set).
fn endpoint_label(path: &str) -> &'static str {
    const KNOWN: [&str; 5] = ["/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"];
    if let Some(k) = KNOWN.iter().find(|k| **k == path) {
        return k;
    }
    if path.starts_with("/v1/models/") { "/v1/models/{id}" } else { "other" }
}

/// A float as Prometheus writes it.
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

/// A label value, escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(&[0.1, 1.0]);
        for s in [0.05, 0.5, 0.7, 3.0] {
            h.observe(s);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"1\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_count 4\n"), "{out}");
    }

    #[test]
    fn labels_are_escaped_and_unknown_paths_pooled() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(endpoint_label("/v1/completions"), "/v1/completions");
        assert_eq!(endpoint_label("/wp-admin"), "other");
    }
}
