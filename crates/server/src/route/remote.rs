//! One `hearth_anthropic::Client` per `[[remotes]]` entry, built at start-up: a remote whose
//! `api_key_env` variable is unset is a start-up error naming it, never a failed request.

use std::collections::HashMap;

use hearth_anthropic::{Client, ClientConfig};
use hearth_router::{Provider, RouterConfig};

use super::RoutingError;

/// The clients by remote name.
pub(crate) fn clients(
    config: &RouterConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, Client>, RoutingError> {
    let mut out = HashMap::new();
    for (i, remote) in config.remotes.iter().enumerate() {
        if remote.provider != Provider::Anthropic {
            return Err(RoutingError(format!(
                "remotes[{i}] ({:?}): provider {:?} is not served yet; use provider = \"anthropic\"",
                remote.name,
                remote.provider.as_str()
            )));
        }
        let key = match remote.api_key_env() {
            Some(var) => env(var).filter(|k| !k.is_empty()).ok_or_else(|| {
                RoutingError(format!(
                    "remotes[{i}] ({:?}): the environment variable {var} (api_key_env) is not set; \
                     export it with the API key",
                    remote.name
                ))
            })?,
            None => String::new(),
        };
        let mut cc = ClientConfig::new(key).with_base_url(remote.base_url());
        cc.timeout = remote.timeout();
        cc.max_retries = remote.max_retries;
        let client =
            Client::new(cc).map_err(|e| RoutingError(format!("remotes[{i}] ({:?}): {e}", remote.name)))?;
        out.insert(remote.name.clone(), client);
    }
    Ok(out)
}
