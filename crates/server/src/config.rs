//! [`ServerConfig`]: where to listen, who may call, what to serve; and the parsing of
//! `--host` / `HEARTH_HOST` values (`HOST`, `HOST:PORT`, `[IPV6]:PORT`, `http://HOST:PORT`).

use std::time::Duration;

use hearth_engine::SchedulerOptions;

use crate::ServerError;
use crate::pool::ModelSpec;

/// The port when neither `--port` nor the host value names one.
pub const DEFAULT_PORT: u16 = 8080;

/// The request body limit when none is given: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;

/// How long a client may take to send a request's headers, and how long an idle keep-alive
/// connection stays open, when not configured: 10 s (a slow-headers client cannot hold a
/// connection longer; HTTP clients keep idle connections for less, httpx 5 s).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's body when not configured: 30 s (4 MiB at
/// 140 kB/s).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections open at once when not configured; more are answered 503 and closed.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// How the server listens and what it serves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Host name or IP address to bind (no port).
    pub host: String,
    /// TCP port; 0 picks a free one.
    pub port: u16,
    /// Requests to everything but `/health` must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Allow a non-loopback address without an API key.
    pub insecure: bool,
    /// Origins allowed to call from a browser (`*` for any); empty: CORS off.
    pub cors_origins: Vec<String>,
    /// Without an API key, requests must be addressed (`Host`) to a loopback name or an IP
    /// address, or to one of these names (`*`: any); this stops DNS rebinding. Ignored with a key.
    pub allowed_hosts: Vec<String>,
    /// How long a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body (then 408).
    pub body_timeout: Duration,
    /// Most connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Largest request body accepted (larger: 413).
    pub max_body_bytes: usize,
    /// The model name reported in responses and `/v1/models` (single-model server).
    pub model_id: String,
    /// Slots and queue of the engine thread (single-model server).
    pub scheduler: SchedulerOptions,
    /// Local models served by name, each loaded on first use (a pool). Empty: the server
    /// serves the one model [`crate::Server::run`] loads, under `model_id`.
    pub models: Vec<ModelSpec>,
    /// Bytes the pool's loaded models may hold together (files and KV caches); past it, idle
    /// models are unloaded, least recently used first. `None`: 75% of the memory.
    pub memory_budget: Option<u64>,
    /// How long a shutdown waits for running requests before dropping them.
    pub shutdown_grace: Duration,
    /// The router (`hearth serve --config`): chat requests are decided by its policy and
    /// served by a model of the pool or a remote. `None`: no routing (`auto` is the first
    /// model).
    pub routing: Option<std::sync::Arc<crate::Routing>>,
    /// Embedding models served on `/v1/embeddings` by name, each loaded on first use.
    pub embedders: Vec<crate::EmbedderSpec>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            api_key: None,
            insecure: false,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            model_id: "hearth".into(),
            scheduler: SchedulerOptions::default(),
            models: Vec::new(),
            memory_budget: None,
            shutdown_grace: Duration::from_secs(10),
            routing: None,
            embedders: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Checks the settings that need no socket and no model, so that a mistake is reported
    /// before the port is bound: timeouts and the connection limit above zero, origins and
    /// allowed host names well formed; model names unique and not `auto`.
    pub fn validate(&self) -> Result<(), ServerError> {
        let positive = |name: &'static str, d: Duration| {
            if d.is_zero() { Err(ServerError::Invalid(format!("{name} must be above zero"))) } else { Ok(()) }
        };
        positive("--header-timeout", self.header_timeout)?;
        positive("--body-timeout", self.body_timeout)?;
        if self.max_connections == 0 {
            return Err(ServerError::Invalid("--max-connections must be at least 1".into()));
        }
        if self.max_body_bytes == 0 {
            return Err(ServerError::Invalid("--max-body-bytes must be at least 1".into()));
        }
        if let Some(h) = self.allowed_hosts.iter().find(|h| !crate::browser::valid_allowed_host(h)) {
            return Err(ServerError::Invalid(format!(
                "--allowed-host {h:?}: expected a host name or IP address without port or scheme (e.g. \
                 hearth.lan), or `*`"
            )));
        }
        crate::router::cors(&self.cors_origins)?;
        if self.memory_budget == Some(0) {
            return Err(ServerError::Invalid("the memory budget must be above zero".into()));
        }
        crate::pool::validate(&self.models)?;
        Ok(())
    }
}

/// Splits a host value into host and optional port, as `OLLAMA_HOST` does: `0.0.0.0`,
/// `0.0.0.0:11434`, `[::1]:8080`, `::1`, `http://127.0.0.1:8080/`. An empty host means
/// `127.0.0.1`.
pub fn parse_host(value: &str) -> Result<(String, Option<u16>), ServerError> {
    let bad = || ServerError::BadHost(value.to_owned());
    let mut s = value.trim();
    if let Some(rest) = s.strip_prefix("http://") {
        s = rest;
    } else if s.contains("://") {
        // No TLS here: put a reverse proxy in front for https.
        return Err(bad());
    }
    let s = s.trim_end_matches('/');
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (host, port)
    } else if s.matches(':').count() == 1 {
        let (h, p) = s.split_once(':').ok_or_else(bad)?;
        (h, Some(p))
    } else {
        (s, None)
    };
    if host.contains(['/', ' ', '[', ']']) {
        return Err(bad());
    }
    let port = port.map(|p| p.parse::<u16>().map_err(|_| bad())).transpose()?;
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::parse_host;

    #[test]
    fn host_values_like_ollama_host() {
        let p = |s: &str| parse_host(s).unwrap();
        assert_eq!(p("0.0.0.0"), ("0.0.0.0".into(), None));
        assert_eq!(p("0.0.0.0:11434"), ("0.0.0.0".into(), Some(11434)));
        assert_eq!(p("http://127.0.0.1:9000/"), ("127.0.0.1".into(), Some(9000)));
        assert_eq!(p("[::1]:8081"), ("::1".into(), Some(8081)));
        assert_eq!(p("::1"), ("::1".into(), None));
        assert_eq!(p("localhost"), ("localhost".into(), None));
        assert_eq!(p(":8082"), ("127.0.0.1".into(), Some(8082)));
        for bad in ["https://x:1", "host:port", "[::1", "[::1]x", "a b", "h:70000"] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
    }
}
