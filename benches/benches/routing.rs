//! Routing decision time (issue 10): `Policy::decide` on the issue's minimal config, for a
//! short prompt and long ones. A decision guesses the task, scores complexity and applies the
//! route, budget and cooldown rules; it must stay far below a millisecond, since it runs
//! before every request.
//!
//! Groups: `routing/decide/<case>` with the prompt's bytes as throughput, for `short` (one
//! sentence, guessed task), `medium` (~2 KiB of prose and code, given task), `long` (~32 KiB
//! of the same), `long_plain` (~32 KiB of prose without any marker, so no scan stops early)
//! and `huge_plain` (1 MiB of it: the scans read both ends only, so it costs what
//! `long_plain` does).
//!
//! `cargo bench -p hearth-benches --bench routing`

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hearth_router::{Health, Policy, RouteInput, RouterConfig, RouterState, Spend};

const CONFIG: &str = r#"
[[models]]
name = "qwen2.5-coder:0.5b"
[[remotes]]
name = "claude"
provider = "anthropic"
model = "claude-haiku-4-5"
base_url = "https://api.anthropic.com"
api_key_env = "ANTHROPIC_API_KEY"
input_per_mtok = 1.00
output_per_mtok = 5.00
[[routes]]
tasks = ["classify", "extract", "tag", "summarize"]
target = "qwen2.5-coder:0.5b"
max_complexity = 0.6
escalate_to = "claude"
[[routes]]
tasks = ["generate", "reason", "plan", "debug"]
target = "claude"
[budget]
daily_usd = 5.0
"#;

const PARAGRAPH: &str = "The service reads orders from the queue, validates them against the schema, \
and writes them to Postgres. Why does latency spike under concurrency when the pool is exhausted? \
First check the connection pool, then the lock contention, finally the retry policy.\n\
```python\ndef handle(order):\n    with pool.connection() as conn:\n        conn.execute(INSERT, order)\n```\n";

/// Prose with no marker, code or question: nothing saturates, the whole text is scanned.
const PLAIN: &str = "The quarterly report lists revenue by region, with the northern stores ahead of \
the southern ones by a small margin and the online shop growing faster than both. Staff numbers \
stayed flat. The board met in March and approved the budget as proposed. ";

fn bench_decide(c: &mut Criterion) {
    let config = RouterConfig::from_toml_str(CONFIG).expect("the issue's config parses");
    config.validate(&|_| true).expect("valid");
    let policy = Policy::new(config);
    let now = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    let mut spend = Spend::new();
    spend.record(1.25, now);
    let health = Health::new();
    let state =
        RouterState { now, spend: &spend, health: &health, demoted: &hearth_router::policy::NONE_DEMOTED };

    let medium = PARAGRAPH.repeat(2048 / PARAGRAPH.len() + 1);
    let long = PARAGRAPH.repeat(32 * 1024 / PARAGRAPH.len() + 1);
    let plain = PLAIN.repeat(32 * 1024 / PLAIN.len() + 1);
    let huge = PLAIN.repeat(1024 * 1024 / PLAIN.len() + 1);
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("short", None, "Classify the sentiment of this review: the battery lasts two days."),
        ("medium", Some("debug"), &medium),
        ("long", Some("summarize"), &long),
        ("long_plain", None, &plain),
        ("huge_plain", None, &huge),
    ];
    let mut group = c.benchmark_group("routing/decide");
    for (name, task, text) in cases {
        let input = RouteInput { requested_model: "auto", task_hint: task, text, stream: false };
        let d = policy.decide(&input, &state).expect("decides");
        eprintln!(
            "{name}: {} bytes -> {:?} ({}), complexity {:.3}",
            text.len(),
            d.target(),
            d.reason,
            d.complexity.score
        );
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| policy.decide(black_box(&input), black_box(&state))));
    }
    group.finish();
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);
