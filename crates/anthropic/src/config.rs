//! The client's settings and the headers it sends, which follow what the official Python SDK
//! (`anthropic` 2.16) sends:
//!
//! | header | value | SDK source |
//! | --- | --- | --- |
//! | `authorization` | `Bearer <api key>` ([`AuthScheme::Bearer`]) | `_client.py` `_api_key_auth` |
//! | `x-api-key` | `<api key>` ([`AuthScheme::XApiKey`], the documented older form) | `lib/foundry.py` |
//! | `anthropic-version` | [`ANTHROPIC_VERSION`] | `_constants.py` `ANTHROPIC_API_VERSION` |
//! | `content-type`, `accept` | `application/json` (streams too) | `_base_client.py` `default_headers` |
//! | `user-agent` | `hearth/<version>` (the SDK sends `Anthropic/Python 2.16.0`) | `_base_client.py` `user_agent` |
//! | `x-stainless-retry-count` | retries taken before this attempt: 0, 1, 2 | `_base_client.py` `_build_headers` |
//!
//! Not sent: the SDK's `X-Stainless-Lang/-OS/-Arch/-Runtime*` describe a Python runtime, and
//! no idempotency key goes out because the Anthropic client leaves `_idempotency_header` unset.

use std::fmt;
use std::time::Duration;

use crate::retry::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT};

/// The `anthropic-version` SDK 2.16 pins (`_constants.py` `ANTHROPIC_API_VERSION`).
pub const ANTHROPIC_VERSION: &str = "2026-10-21";
/// The `anthropic-version` of the API's curl documentation, for servers that predate
/// [`ANTHROPIC_VERSION`].
pub const ANTHROPIC_VERSION_2023: &str = "2023-06-01";
/// The API's address.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// `hearth/<crate version>`.
pub const USER_AGENT: &str = concat!("hearth/", env!("CARGO_PKG_VERSION"));

/// How the API key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthScheme {
    /// `authorization: Bearer <key>`, as SDK 2.16 sends an `api_key`.
    #[default]
    Bearer,
    /// `x-api-key: <key>`, the documented older form (and what some gateways require).
    XApiKey,
}

/// Settings of a [`crate::Client`]; [`ClientConfig::new`] gives the SDK's defaults.
#[derive(Clone)]
pub struct ClientConfig {
    /// Where the API is, without `/v1` (e.g. `https://api.anthropic.com`, or a loopback fake).
    pub base_url: String,
    /// The API key (never printed by `Debug`).
    pub api_key: String,
    /// How the key is sent.
    pub auth: AuthScheme,
    /// The `anthropic-version` header.
    pub anthropic_version: String,
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
    /// The SDK's defaults for the real API: 600 s timeout, 5 s connect timeout, 2 retries.
    pub fn new(api_key: impl Into<String>) -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: api_key.into(),
            auth: AuthScheme::default(),
            anthropic_version: ANTHROPIC_VERSION.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            user_agent: USER_AGENT.to_owned(),
        }
    }

    /// The same settings against another server.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("auth", &self.auth)
            .field("anthropic_version", &self.anthropic_version)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let text = format!("{:?}", ClientConfig::new("sk-ant-secret"));
        assert!(!text.contains("sk-ant-secret"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn defaults_are_the_sdks() {
        let config = ClientConfig::new("k");
        assert_eq!(config.max_retries, 2);
        assert_eq!(config.timeout, Duration::from_secs(600));
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.anthropic_version, "2026-10-21");
        assert_eq!(config.auth, AuthScheme::Bearer);
        assert!(config.user_agent.starts_with("hearth/"));
    }
}
