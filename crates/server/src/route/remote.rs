//! One client per `[[remotes]]` entry, built at start-up: a `hearth_anthropic::Client` for
//! `provider = "anthropic"`, a `hearth_openai::Client` for `provider = "openai"` (any
//! OpenAI-compatible API). A remote whose `api_key_env` variable is unset is a start-up error
//! naming it, never a failed request; an openai remote without `api_key_env` sends no key.

use std::collections::HashMap;

use hearth_router::{Provider, RouterConfig};

use super::RoutingError;

/// The client of one remote, by provider.
#[derive(Debug, Clone)]
pub(crate) enum RemoteClient {
    /// The Claude Messages API.
    Anthropic(hearth_anthropic::Client),
    /// An OpenAI-compatible chat-completions API.
    OpenAi(hearth_openai::Client),
}

/// The clients by remote name.
pub(crate) fn clients(
    config: &RouterConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, RemoteClient>, RoutingError> {
    let mut out = HashMap::new();
    for (i, remote) in config.remotes.iter().enumerate() {
        let fail = |e: String| RoutingError(format!("remotes[{i}] ({:?}): {e}", remote.name));
        let key = match remote.api_key_env() {
            Some(var) => Some(env(var).filter(|k| !k.is_empty()).ok_or_else(|| {
                fail(format!(
                    "the environment variable {var} (api_key_env) is not set; export it with the API key"
                ))
            })?),
            None => None,
        };
        let client = match remote.provider {
            Provider::Anthropic => {
                let mut cc = hearth_anthropic::ClientConfig::new(key.unwrap_or_default())
                    .with_base_url(remote.base_url());
                cc.timeout = remote.timeout();
                cc.max_retries = remote.max_retries;
                RemoteClient::Anthropic(hearth_anthropic::Client::new(cc).map_err(|e| fail(e.to_string()))?)
            }
            Provider::Openai => {
                // The remote's `base_url` as written: with or without `/v1`
                // (`hearth_openai::config::chat_completions_url`).
                let base = remote.base_url.as_deref().unwrap_or(remote.base_url());
                let mut cc = hearth_openai::ClientConfig::new(base);
                if let Some(key) = key {
                    cc = cc.with_api_key(key);
                }
                cc.timeout = remote.timeout();
                cc.max_retries = remote.max_retries;
                RemoteClient::OpenAi(hearth_openai::Client::new(cc).map_err(|e| fail(e.to_string()))?)
            }
        };
        out.insert(remote.name.clone(), client);
    }
    Ok(out)
}
