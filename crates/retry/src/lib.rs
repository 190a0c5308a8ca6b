//! `hearth-retry`: the retry rules of the official OpenAI and Anthropic SDKs, which share one
//! generated `_base_client.py` (`openai` 2.x and `anthropic` 2.16 on PyPI), as pure functions
//! of the response and a jitter value, plus [`run`], the retry loop both of hearth's API
//! clients (`hearth-anthropic`, `hearth-openai`) run around each call.
//!
//! | here | SDK |
//! | --- | --- |
//! | [`DEFAULT_MAX_RETRIES`] = 2 | `_constants.py` `DEFAULT_MAX_RETRIES` |
//! | [`DEFAULT_TIMEOUT`] = 600 s, [`DEFAULT_CONNECT_TIMEOUT`] = 5 s | `_constants.py` `DEFAULT_TIMEOUT = Timeout(10 * 60, connect=5.0)` |
//! | [`INITIAL_RETRY_DELAY`] = 0.5 s, [`MAX_RETRY_DELAY`] = 8 s | `_constants.py` |
//! | [`should_retry`] | `_base_client.py` `_should_retry` |
//! | [`parse_retry_after`], [`Hints::from_headers`] | `_base_client.py` `_parse_retry_after_header` |
//! | [`retry_delay`] | `_base_client.py` `_calculate_retry_timeout` |
//! | [`run`] | `_base_client.py` `_request` / `_retry_request` |
//!
//! One deliberate difference, from issue 10: a server-requested wait is honoured only when
//! `0 < wait <= 60 s` ([`MAX_RETRY_AFTER`]); longer waits fall back to the exponential backoff
//! (the Python SDKs would sleep as long as asked; earlier releases and the TypeScript SDKs cap
//! at 60 s, as here). The wait itself is still reported in [`Hints::retry_after`] so a router
//! can cool the remote down. Provider-specific rules (Anthropic's spend-limit 429s, never
//! retried) live in the client crates, through [`Retryable::is_retryable`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt::Display;
use std::time::{Duration, SystemTime};

/// Retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The per-request timeout (non-streaming: the whole answer; streaming: the headers, then
/// each chunk).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// The connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The first backoff.
pub const INITIAL_RETRY_DELAY: Duration = Duration::from_millis(500);
/// The longest backoff.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(8);
/// The longest server-requested wait honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether the SDK retries a response with this status: `x-should-retry: true|false` decides
/// when present; else 408 (request timeout), 409 (lock timeout), 429 (rate limit) and every
/// 5xx (including 529 overloaded).
pub fn should_retry(status: u16, x_should_retry: Option<&str>) -> bool {
    match x_should_retry {
        Some("true") => return true,
        Some("false") => return false,
        _ => {}
    }
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// The wait the server asked for, in seconds (possibly zero or negative), as the SDK reads it:
/// `retry-after-ms` (milliseconds, float) first; else `retry-after` as seconds (float); else
/// `retry-after` as an HTTP date, minus `now`. `None` when neither parses.
pub fn parse_retry_after(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
    now: SystemTime,
) -> Option<f64> {
    if let Some(ms) = retry_after_ms.and_then(parse_float) {
        return Some(ms / 1000.0);
    }
    let retry_after = retry_after?;
    if let Some(secs) = parse_float(retry_after) {
        return Some(secs);
    }
    let date = httpdate::parse_http_date(retry_after.trim()).ok()?;
    Some(match date.duration_since(now) {
        Ok(ahead) => ahead.as_secs_f64(),
        Err(behind) => -behind.duration().as_secs_f64(),
    })
}

/// Python's `float()` on a header value: surrounding whitespace allowed.
fn parse_float(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok()
}

/// How long to wait before retry number `retries_taken + 1`.
///
/// A server-requested wait `0 < retry_after <= 60 s` is used as is. Otherwise
/// `min(0.5 s * 2^retries_taken, 8 s) * (1 - 0.25 * jitter)`, with `jitter` in `[0, 1)`: the
/// SDK's backoff (0.5 s, 1 s, 2 s, 4 s, 8 s, ...) shortened by up to a quarter.
pub fn retry_delay(retries_taken: u32, retry_after_secs: Option<f64>, jitter: f64) -> Duration {
    if let Some(wait) = retry_after_secs
        && wait > 0.0
        && wait <= MAX_RETRY_AFTER.as_secs_f64()
    {
        return Duration::from_secs_f64(wait);
    }
    let exponent = retries_taken.min(1000) as i32;
    let backoff =
        (INITIAL_RETRY_DELAY.as_secs_f64() * 2f64.powi(exponent)).min(MAX_RETRY_DELAY.as_secs_f64());
    let factor = 1.0 - 0.25 * jitter.clamp(0.0, 1.0);
    Duration::from_secs_f64((backoff * factor).max(0.0))
}

/// A jitter value in `[0, 1)` from the standard library's randomly keyed hasher (no RNG
/// dependency for one number per retry).
pub fn random_jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    hasher.write_u32(nanos);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What an error response's headers say about retrying: `x-should-retry` and the server's
/// requested wait.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hints {
    /// How long the server asked to wait (`retry-after-ms` / `retry-after`), when positive.
    pub retry_after: Option<Duration>,
    /// The `x-should-retry` header, when it was `true` or `false`.
    pub should_retry: Option<bool>,
}

impl Hints {
    /// The hints of a response whose header values `header(name)` gives (names in lower
    /// case), with HTTP dates in `retry-after` measured from `now`.
    pub fn from_headers<'h>(header: impl Fn(&str) -> Option<&'h str>, now: SystemTime) -> Hints {
        let should_retry = match header("x-should-retry") {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        let retry_after = parse_retry_after(header("retry-after-ms"), header("retry-after"), now)
            .filter(|secs| *secs > 0.0)
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
        Hints { retry_after, should_retry }
    }

    /// [`should_retry`] for `status` with these hints' `x-should-retry`.
    pub fn should_retry(&self, status: u16) -> bool {
        should_retry(status, self.should_retry.map(|b| if b { "true" } else { "false" }))
    }
}

/// A failed attempt, as [`run`] sees it.
pub trait Retryable: Display {
    /// Whether another attempt may succeed (connection errors, timeouts, the statuses of
    /// [`should_retry`], minus what the provider says never to retry).
    fn is_retryable(&self) -> bool;
    /// The wait the server asked for, if any.
    fn retry_after(&self) -> Option<Duration>;
}

/// The SDKs' retry loop: `attempt(retries_taken)` (the SDKs send `retries_taken` as
/// `x-stainless-retry-count`); on a retryable failure with retries left, wait
/// [`retry_delay`] (with [`random_jitter`]) and attempt again. The value and the number of
/// attempts made (1 when the first succeeded), or the last error.
///
/// `attempt` is a plain closure returning a future, not an async closure: the futures of a
/// generic `AsyncFnMut` are not provably `Send` for every lifetime (a rustc limitation), which
/// made every axum handler calling a client fail to compile.
pub async fn run<T, E: Retryable, F: Future<Output = Result<T, E>>>(
    max_retries: u32,
    what: &str,
    mut attempt: impl FnMut(u32) -> F,
) -> Result<(T, u32), E> {
    let mut retries_taken = 0;
    loop {
        let err = match attempt(retries_taken).await {
            Ok(value) => return Ok((value, retries_taken + 1)),
            Err(err) => err,
        };
        if retries_taken >= max_retries || !err.is_retryable() {
            return Err(err);
        }
        let retry_after = err.retry_after().map(|d| d.as_secs_f64());
        let delay = retry_delay(retries_taken, retry_after, random_jitter());
        tracing::info!(what, error = %err, ?delay, retries_left = max_retries - retries_taken, "retrying");
        tokio::time::sleep(delay).await;
        retries_taken += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_decides_before_the_status() {
        assert!(should_retry(400, Some("true")));
        assert!(!should_retry(529, Some("false")));
        assert!(!should_retry(500, Some("false")));
        assert!(should_retry(500, Some("maybe")));
    }

    #[test]
    fn the_retried_statuses_are_the_sdks() {
        let retried: Vec<u16> = (100..600).filter(|&s| should_retry(s, None)).collect();
        assert_eq!(retried[..3], [408, 409, 429]);
        assert_eq!(retried[3..], (500..600).collect::<Vec<u16>>()[..]);
        assert!(should_retry(529, None));
        for status in [400, 401, 402, 403, 404, 413, 422] {
            assert!(!should_retry(status, None), "{status}");
        }
    }

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_eight() {
        let no_jitter: Vec<f64> = (0..7).map(|n| retry_delay(n, None, 0.0).as_secs_f64()).collect();
        assert_eq!(no_jitter, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]);
        assert_eq!(retry_delay(1_000_000, None, 0.0), MAX_RETRY_DELAY);
    }

    #[test]
    fn jitter_shortens_by_up_to_a_quarter() {
        assert_eq!(retry_delay(0, None, 1.0), Duration::from_millis(375));
        assert_eq!(retry_delay(1, None, 0.5), Duration::from_millis(875));
        assert_eq!(retry_delay(3, None, 2.0), Duration::from_secs(3), "jitter is clamped to [0, 1]");
        for _ in 0..100 {
            let j = random_jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn a_server_wait_within_a_minute_replaces_the_backoff() {
        assert_eq!(retry_delay(0, Some(0.2), 0.9), Duration::from_millis(200));
        assert_eq!(retry_delay(5, Some(60.0), 0.0), Duration::from_secs(60));
        // Out of range: back to the backoff.
        assert_eq!(retry_delay(1, Some(61.0), 0.0), Duration::from_secs(1));
        assert_eq!(retry_delay(1, Some(0.0), 0.0), Duration::from_secs(1));
        assert_eq!(retry_delay(1, Some(-3.0), 0.0), Duration::from_secs(1));
        assert_eq!(retry_delay(0, Some(f64::NAN), 0.0), Duration::from_millis(500));
        assert_eq!(retry_delay(0, Some(f64::INFINITY), 0.0), Duration::from_millis(500));
    }

    #[test]
    fn retry_after_headers_parse_as_the_sdk_reads_them() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after(Some("250"), Some("9"), now), Some(0.25), "ms first");
        assert_eq!(parse_retry_after(Some("soon"), Some("9"), now), Some(9.0), "bad ms: seconds");
        assert_eq!(parse_retry_after(None, Some(" 1.5 "), now), Some(1.5));
        assert_eq!(parse_retry_after(None, Some("Wed, 21 Oct 2026 07:28:30 GMT"), now), Some(30.0));
        assert_eq!(parse_retry_after(None, Some("Wed, 21 Oct 2026 07:27:00 GMT"), now), Some(-60.0));
        assert_eq!(parse_retry_after(None, Some("tomorrow"), now), None);
        assert_eq!(parse_retry_after(None, None, now), None);
    }

    #[test]
    fn hints_come_from_the_headers() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        let headers = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        };
        let h = Hints::from_headers(headers(&[("retry-after", "3"), ("x-should-retry", "false")]), now);
        assert_eq!(h, Hints { retry_after: Some(Duration::from_secs(3)), should_retry: Some(false) });
        assert!(!h.should_retry(429));
        let h = Hints::from_headers(headers(&[("retry-after-ms", "-5"), ("x-should-retry", "yes")]), now);
        assert_eq!(h, Hints::default(), "a wait that is not positive, a header that is not a bool");
        assert!(h.should_retry(503) && !h.should_retry(400));
    }

    /// An attempt's failure for [`run`].
    #[derive(Debug)]
    struct Failure {
        retryable: bool,
        wait: Option<Duration>,
    }

    impl Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "failure (retryable: {})", self.retryable)
        }
    }

    impl Retryable for Failure {
        fn is_retryable(&self) -> bool {
            self.retryable
        }
        fn retry_after(&self) -> Option<Duration> {
            self.wait
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn run_retries_what_is_retryable_up_to_the_limit() {
        let mut seen = Vec::new();
        let out: Result<(u32, u32), Failure> = block_on(run(2, "test", |n| {
            seen.push(n);
            std::future::ready(if n < 2 {
                Err(Failure { retryable: true, wait: Some(Duration::from_millis(1)) })
            } else {
                Ok(n)
            })
        }));
        assert_eq!(out.unwrap(), (2, 3), "the value of the third attempt");
        assert_eq!(seen, [0, 1, 2], "each attempt knows the retries taken");

        let mut calls = 0;
        let out: Result<((), u32), Failure> = block_on(run(5, "test", |_| {
            calls += 1;
            std::future::ready(Err(Failure { retryable: calls < 3, wait: None }))
        }));
        assert!(!out.unwrap_err().retryable, "stops at the first error that is not retryable");
        assert_eq!(calls, 3);

        let mut calls = 0;
        let out: Result<((), u32), Failure> = block_on(run(1, "test", |_| {
            calls += 1;
            std::future::ready(Err(Failure { retryable: true, wait: None }))
        }));
        assert!(out.is_err());
        assert_eq!(calls, 2, "one retry after the first attempt");
    }

    #[test]
    fn run_waits_as_the_server_asked_else_backs_off() {
        let elapsed = block_on(async {
            let t0 = tokio::time::Instant::now();
            let _: Result<((), u32), Failure> = run(2, "test", |n| {
                std::future::ready(Err(Failure {
                    retryable: true,
                    wait: (n == 0).then(|| Duration::from_secs(30)),
                }))
            })
            .await;
            t0.elapsed()
        });
        // 30 s as asked, then the second backoff: 1 s shortened by up to a quarter.
        assert!(
            elapsed >= Duration::from_millis(30_750) && elapsed <= Duration::from_secs(31),
            "{elapsed:?}"
        );
    }
}
