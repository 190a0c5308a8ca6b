//! The retry policy, as pure functions of the response and a jitter value, following the
//! official Python SDK (`anthropic` 2.16):
//!
//! | here | SDK |
//! | --- | --- |
//! | [`DEFAULT_MAX_RETRIES`] = 2 | `_constants.py` `DEFAULT_MAX_RETRIES` |
//! | [`DEFAULT_TIMEOUT`] = 600 s, [`DEFAULT_CONNECT_TIMEOUT`] = 5 s | `_constants.py` `DEFAULT_TIMEOUT = Timeout(10 * 60, connect=5.0)` |
//! | [`INITIAL_RETRY_DELAY`] = 0.5 s, [`MAX_RETRY_DELAY`] = 8 s | `_constants.py` |
//! | [`should_retry`] | `_base_client.py` `_should_retry` |
//! | [`parse_retry_after`] | `_base_client.py` `_parse_retry_after_header` |
//! | [`retry_delay`] | `_base_client.py` `_calculate_retry_timeout` |
//!
//! Two deliberate differences, both from issue 10:
//! - A server-requested wait is honoured only when `0 < wait <= 60 s` ([`MAX_RETRY_AFTER`]);
//!   longer waits fall back to the exponential backoff (2.16 would sleep up to ~49 days; earlier
//!   SDK releases and the TypeScript SDK cap at 60 s, as here). The wait itself is still
//!   reported in [`crate::ApiError::retry_after`] so a router can cool the remote down.
//! - A 429 whose error says the spend limit is reached is never retried ([`is_spend_limit`]);
//!   the SDK would retry it unless the API sends `x-should-retry: false`.

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

/// The `details.error_code`s of a 429 that means "spend limit reached" (SDK
/// `types/shared/enforced_spend_limit_reached_error.py`: "crossed the monthly API usage
/// threshold of its API tier"; `contract_spend_limit_reached_error.py`).
pub const SPEND_LIMIT_ERROR_CODES: &[&str] =
    &["enforced_spend_limit_reached", "contract_spend_limit_reached"];

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

/// Whether an error means the spend limit is reached, so retrying cannot help.
///
/// A 429 whose `error.details.error_code` is one of [`SPEND_LIMIT_ERROR_CODES`] (the SDK's
/// typed errors for them); for API versions without `details`, a 429 whose message mentions a
/// "spend limit" or "usage limit" (the API words its monthly cap "usage limits"; ordinary rate
/// limits say "rate limit", so they do not match).
pub fn is_spend_limit(status: u16, error_code: Option<&str>, message: &str) -> bool {
    if status != 429 {
        return false;
    }
    if error_code.is_some_and(|code| SPEND_LIMIT_ERROR_CODES.contains(&code)) {
        return true;
    }
    let message = message.to_ascii_lowercase();
    message.contains("spend limit") || message.contains("usage limit")
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
    fn spend_limits_are_recognised_by_code_or_wording() {
        assert!(is_spend_limit(429, Some("enforced_spend_limit_reached"), "whatever"));
        assert!(is_spend_limit(429, Some("contract_spend_limit_reached"), ""));
        assert!(is_spend_limit(429, None, "You have reached your specified API usage limits."));
        assert!(is_spend_limit(429, None, "Your workspace spend limit was reached"));
        assert!(!is_spend_limit(429, Some("ramp_limit_exceeded"), "would exceed a ramp limit"));
        assert!(!is_spend_limit(
            429,
            None,
            "This request would exceed the rate limit for your organization of 50,000 input tokens per minute"
        ));
        assert!(!is_spend_limit(400, None, "usage limits"), "only a 429");
    }
}
