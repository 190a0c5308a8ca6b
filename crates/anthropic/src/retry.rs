//! The retry policy. The SDK's rules (which statuses, `x-should-retry`, `retry-after-ms` /
//! `retry-after`, backoff 0.5 s·2ⁿ capped at 8 s with jitter, the 60 s cap on a server's
//! wait, the retry loop) are the same in the official OpenAI and Anthropic SDKs and live in
//! `hearth-retry`, re-exported here; what is Anthropic's alone is here:
//!
//! - A 429 whose error says the spend limit is reached is never retried ([`is_spend_limit`]);
//!   the SDK would retry it unless the API sends `x-should-retry: false`.

pub use hearth_retry::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Hints, INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER, MAX_RETRY_DELAY, Retryable, parse_retry_after, random_jitter, retry_delay, run,
    should_retry,
};

/// The `details.error_code`s of a 429 that means "spend limit reached" (SDK
/// `types/shared/enforced_spend_limit_reached_error.py`: "crossed the monthly API usage
/// threshold of its API tier"; `contract_spend_limit_reached_error.py`).
pub const SPEND_LIMIT_ERROR_CODES: &[&str] =
    &["enforced_spend_limit_reached", "contract_spend_limit_reached"];

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

#[cfg(test)]
mod tests {
    use super::*;

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
