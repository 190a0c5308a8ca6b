//! The client's settings and where requests go.
//!
//! Headers sent (what the official Python SDK sends, minus its Python-runtime
//! `X-Stainless-*` descriptions):
//!
//! | header | value |
//! | --- | --- |
//! | `authorization` | `Bearer <api key>`, only when a key is configured |
//! | `content-type`, `accept` | `application/json` (streams too) |
//! | `user-agent` | `hearth/<version>` |
//! | `x-stainless-retry-count` | retries taken before this attempt: 0, 1, 2 |

use std::fmt;
use std::time::Duration;

use hearth_retry::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT};

/// OpenAI's API, as the SDK's default `base_url` writes it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// `hearth/<crate version>`.
pub const USER_AGENT: &str = concat!("hearth/", env!("CARGO_PKG_VERSION"));

/// Settings of a [`crate::Client`]; [`ClientConfig::new`] gives the SDK's defaults.
#[derive(Clone)]
pub struct ClientConfig {
    /// Where the API is: with or without a trailing `/v1` (see [`chat_completions_url`]).
    pub base_url: String,
    /// The API key, sent as `authorization: Bearer`; `None` sends no key (a local vLLM,
    /// llama-server or hearth without one). Never printed by `Debug`.
    pub api_key: Option<String>,
    /// Per attempt: the whole answer (non-streaming), or the headers and then each chunk
    /// (streaming).
    pub timeout: Duration,
    /// Per connection attempt.
    pub connect_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The `user-agent` header.
    pub user_agent: String,
}

impl ClientConfig {
    /// The SDK's defaults against `base_url`: 600 s timeout, 5 s connect timeout, 2 retries,
    /// no key.
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            user_agent: USER_AGENT.to_owned(),
        }
    }

    /// The same settings with an API key (an empty key counts as none).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.api_key = (!key.is_empty()).then_some(key);
        self
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig::new(DEFAULT_BASE_URL)
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// The chat-completions URL of `base_url`: trailing slashes dropped, then
/// `/chat/completions` appended when it ends in `/v1` (the SDKs' form,
/// `https://api.openai.com/v1`), else `/v1/chat/completions` (a server root,
/// `http://localhost:8080`). `None` unless the result is an `http(s)` URL with a host.
pub fn chat_completions_url(base_url: &str) -> Option<String> {
    let base = base_url.trim().trim_end_matches('/');
    let url = if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    };
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    let host = url.split_once("://").map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
    (scheme_ok && !host.is_empty()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_with_or_without_v1_reach_the_same_endpoint() {
        for base in ["https://api.openai.com/v1", "https://api.openai.com/v1/", "https://api.openai.com"] {
            assert_eq!(
                chat_completions_url(base).as_deref(),
                Some("https://api.openai.com/v1/chat/completions"),
                "{base}"
            );
        }
        assert_eq!(
            chat_completions_url("http://127.0.0.1:8080/").as_deref(),
            Some("http://127.0.0.1:8080/v1/chat/completions")
        );
        assert_eq!(
            chat_completions_url("https://openrouter.ai/api/v1").as_deref(),
            Some("https://openrouter.ai/api/v1/chat/completions"),
            "a path before /v1 is kept"
        );
        for bad in ["ftp://example.com", "localhost:8080", "http://", ""] {
            assert_eq!(chat_completions_url(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn defaults_are_the_sdks_and_debug_hides_the_key() {
        let config = ClientConfig::default();
        assert_eq!(config.base_url, "https://api.openai.com/v1");
        assert_eq!(config.max_retries, 2);
        assert_eq!(config.timeout, Duration::from_secs(600));
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.api_key, None);
        assert!(config.user_agent.starts_with("hearth/"));
        let keyed = ClientConfig::default().with_api_key("sk-secret");
        let text = format!("{keyed:?}");
        assert!(!text.contains("sk-secret") && text.contains("redacted"), "{text}");
        assert_eq!(ClientConfig::default().with_api_key("").api_key, None, "an empty key is none");
    }
}
