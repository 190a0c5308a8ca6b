//! The HTTP client: one `reqwest` client (rustls, HTTP/1.1) per [`Client`], the SDK's retry
//! loop ([`hearth_retry::run`]) around each call, and typed answers.
//!
//! One attempt is: send, then (non-streaming) read the whole body, all within
//! [`ClientConfig::timeout`]. A connection error, a timeout, or an error status that
//! [`ApiError::is_retryable`] accepts is retried after [`hearth_retry::retry_delay`], at most
//! [`ClientConfig::max_retries`] times; the last error is returned. A stream is retried the
//! same way until its `200` arrives, never after.

use std::sync::Arc;
use std::time::SystemTime;

use hearth_retry::Hints;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use serde_json::Value;

use crate::config::{ClientConfig, chat_completions_url};
use crate::error::{ApiError, Error};
use crate::stream::ChunkStream;

/// The largest successful body read (64 MiB); a longer one is cut and fails to decode.
const MAX_BODY_BYTES: usize = 64 << 20;
/// The largest error body read (64 KiB).
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// A successful answer with what the caller may want to log or account.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    /// The decoded body.
    pub body: T,
    /// The `x-request-id` header.
    pub request_id: Option<String>,
    /// Attempts made, the successful one included (1 when no retry was needed).
    pub attempts: u32,
}

/// An OpenAI-compatible chat-completions client; cheap to clone (clones share the
/// connection pool).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    headers: HeaderMap,
    url: reqwest::Url,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url.as_str())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `config`; fails on a base URL that is not `http(s)://host...` or a key
    /// or header value that cannot go in an HTTP header.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let bad_url = || Error::Config(format!("base_url {:?} is not an http(s) URL", config.base_url));
        let url = chat_completions_url(&config.base_url).ok_or_else(bad_url)?;
        let url = reqwest::Url::parse(&url)
            .map_err(|e| Error::Config(format!("base_url {:?}: {e}", config.base_url)))?;
        let headers = default_headers(&config)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {}", error_chain(&e))))?;
        Ok(Client { http, config: Arc::new(config), headers, url })
    }

    /// The settings this client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The URL requests go to (`.../v1/chat/completions`).
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// `POST /v1/chat/completions`, non-streaming: `body` as given, with `stream` and
    /// `stream_options` left out. The answer is the `chat.completion` JSON.
    pub async fn chat_completions(&self, body: &Value) -> Result<Response<Value>, Error> {
        let mut body = body.clone();
        if let Some(obj) = body.as_object_mut() {
            obj.remove("stream");
            obj.remove("stream_options");
        }
        let body = encode_body(&body)?;
        let read_body = async |response| read_capped(response, MAX_BODY_BYTES).await;
        let (bytes, request_id, attempts) = self.send_with_retries(&body, read_body).await?;
        match serde_json::from_slice(&bytes) {
            Ok(body) => Ok(Response { body, request_id, attempts }),
            Err(e) => Err(Error::Decode { what: "chat completion", message: e.to_string(), request_id }),
        }
    }

    /// `POST /v1/chat/completions` with `stream: true` (`body` otherwise as given, its
    /// `stream_options` included): the chunks as they arrive. Retried until the `200` comes;
    /// after it, a failure is an `Err` item (an error in the stream, a timeout between
    /// chunks, a cut connection, a stream that ends before `[DONE]`) and the stream ends.
    pub async fn chat_completions_stream(&self, body: &Value) -> Result<ChunkStream, Error> {
        let mut body = body.clone();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("stream".to_owned(), Value::Bool(true));
        }
        let body = encode_body(&body)?;
        let (response, request_id, attempts) = self.send_with_retries(&body, async |r| Ok(r)).await?;
        Ok(ChunkStream::new(response, request_id, attempts, self.config.timeout, self.url.to_string()))
    }

    /// The SDK's retry loop around [`Client::attempt`].
    async fn send_with_retries<T>(
        &self,
        body: &[u8],
        read: impl AsyncFn(reqwest::Response) -> Result<T, reqwest::Error>,
    ) -> Result<(T, Option<String>, u32), Error> {
        let attempt = |retries_taken| self.attempt(body, retries_taken, &read);
        let ((value, request_id), attempts) =
            hearth_retry::run(self.config.max_retries, self.url.as_str(), attempt).await?;
        Ok((value, request_id, attempts))
    }

    /// One attempt, bounded by the timeout: a `2xx` goes through `read`; an error status
    /// becomes [`Error::Api`].
    async fn attempt<T>(
        &self,
        body: &[u8],
        retries_taken: u32,
        read: &impl AsyncFn(reqwest::Response) -> Result<T, reqwest::Error>,
    ) -> Result<(T, Option<String>), Error> {
        let request = self
            .http
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header("x-stainless-retry-count", retries_taken)
            .body(body.to_vec());
        let url = self.url.as_str();
        let connection =
            |e: reqwest::Error| Error::Connection { url: url.to_owned(), message: error_chain(&e) };
        let work = async {
            let response = request.send().await.map_err(connection)?;
            let status = response.status();
            let request_id = header_str(response.headers(), "x-request-id").map(str::to_owned);
            if status.is_success() {
                return Ok((read(response).await.map_err(connection)?, request_id));
            }
            let headers = response.headers().clone();
            // A body cut short still leaves the status and headers to report.
            let bytes = read_capped(response, MAX_ERROR_BODY_BYTES).await.unwrap_or_default();
            let hints = Hints::from_headers(|name| header_str(&headers, name), SystemTime::now());
            Err(ApiError::from_response(status.as_u16(), hints, request_id, &bytes).into())
        };
        let timeout = self.config.timeout;
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| Err(Error::Timeout { url: url.to_owned(), after: timeout }))
    }
}

/// The headers every request carries (see [`crate::config`]).
fn default_headers(config: &ClientConfig) -> Result<HeaderMap, Error> {
    let value = |name: &str, v: &str| {
        HeaderValue::from_str(v)
            .map_err(|_| Error::Config(format!("{name} holds characters not allowed in a header")))
    };
    let mut headers = HeaderMap::new();
    if let Some(key) = &config.api_key {
        let mut key = value("api_key", &format!("Bearer {key}"))?;
        key.set_sensitive(true);
        headers.insert(AUTHORIZATION, key);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, value("user_agent", &config.user_agent)?);
    Ok(headers)
}

fn encode_body(body: &Value) -> Result<Vec<u8>, Error> {
    if !body.is_object() {
        return Err(Error::Config("the request body must be a JSON object".to_owned()));
    }
    serde_json::to_vec(body).map_err(|e| Error::Config(format!("the request cannot be written as JSON: {e}")))
}

/// Reads a body up to `cap` bytes (the rest is left unread).
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() == cap {
            break;
        }
    }
    Ok(out)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok()
}

/// An error and its sources, `: `-joined (reqwest's own message is only "error sending
/// request").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_sent_as_bearer_and_none_sends_no_authorization() {
        let keyed = default_headers(&ClientConfig::default().with_api_key("sk-1")).unwrap();
        assert_eq!(keyed[AUTHORIZATION], "Bearer sk-1");
        assert!(keyed[AUTHORIZATION].is_sensitive());
        let open = default_headers(&ClientConfig::new("http://127.0.0.1:8080")).unwrap();
        assert!(open.get(AUTHORIZATION).is_none());
        assert_eq!(open[ACCEPT], "application/json");
    }

    #[test]
    fn a_bad_base_url_or_key_is_a_config_error() {
        let bad_url = Client::new(ClientConfig::new("ftp://example.com"));
        assert!(matches!(bad_url, Err(Error::Config(m)) if m.contains("ftp")));
        let bad_key = Client::new(ClientConfig::default().with_api_key("line\nbreak"));
        assert!(matches!(bad_key, Err(Error::Config(m)) if m.contains("api_key")));
        let client = Client::new(ClientConfig::new("http://127.0.0.1:9/v1/")).unwrap();
        assert_eq!(client.url(), "http://127.0.0.1:9/v1/chat/completions");
    }

    #[test]
    fn only_objects_are_sent() {
        assert!(encode_body(&serde_json::json!({"model": "m"})).is_ok());
        assert!(matches!(encode_body(&serde_json::json!([1])), Err(Error::Config(_))));
    }
}
