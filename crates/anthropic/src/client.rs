//! The HTTP client: one `reqwest` client (rustls, HTTP/1.1) per [`Client`], the SDK's retry
//! loop around each call (`_base_client.py` `_request`), and typed answers.
//!
//! One attempt is: send, then (non-streaming) read the whole body, all within
//! [`ClientConfig::timeout`]. A connection error, a timeout, or an error status that
//! [`ApiError::is_retryable`] accepts is retried after [`retry::retry_delay`], at most
//! [`ClientConfig::max_retries`] times; the last error is returned. A stream is retried the
//! same way until its `200` arrives, never after.

use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{AuthScheme, ClientConfig};
use crate::error::{ApiError, Error};
use crate::event_stream::EventStream;
use crate::retry;
use crate::types::{
    BatchCreate, BatchRequest, BatchResult, CountTokensRequest, ErrorBody, Message, MessageBatch,
    MessagesRequest, TokenCount,
};

/// The largest successful body read (64 MiB); a longer one is cut and fails to decode.
const MAX_BODY_BYTES: usize = 64 << 20;
/// The largest error body read (64 KiB).
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;
/// The most of a non-JSON error body quoted in an error message.
const MAX_QUOTED_BYTES: usize = 512;

/// A successful answer with what the caller may want to log or account.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    /// The decoded body.
    pub body: T,
    /// The `request-id` header.
    pub request_id: Option<String>,
    /// Attempts made, the successful one included (1 when no retry was needed).
    pub attempts: u32,
}

/// A Claude Messages API client; cheap to clone (clones share the connection pool).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    headers: HeaderMap,
    messages_url: reqwest::Url,
    count_tokens_url: reqwest::Url,
    batches_url: reqwest::Url,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `config`; fails on a base URL that is not `http(s)://...` or a key or
    /// header value that cannot go in an HTTP header.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let base = config.base_url.trim_end_matches('/');
        let url = |path: &str| {
            let url = reqwest::Url::parse(&format!("{base}{path}"))
                .map_err(|e| Error::Config(format!("base_url {:?}: {e}", config.base_url)))?;
            match url.scheme() {
                "http" | "https" => Ok(url),
                other => Err(Error::Config(format!(
                    "base_url {:?}: scheme {other} is not http(s)",
                    config.base_url
                ))),
            }
        };
        let messages_url = url("/v1/messages")?;
        let count_tokens_url = url("/v1/messages/count_tokens")?;
        let batches_url = url("/v1/messages/batches")?;
        let headers = default_headers(&config)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {}", error_chain(&e))))?;
        Ok(Client { http, config: Arc::new(config), headers, messages_url, count_tokens_url, batches_url })
    }

    /// The settings this client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `POST /v1/messages`, non-streaming (`stream` is left out whatever `req` says).
    pub async fn messages(&self, req: &MessagesRequest) -> Result<Response<Message>, Error> {
        let body = MessagesRequest { stream: None, ..req.clone() };
        self.call(&self.messages_url, &body, "message").await
    }

    /// `POST /v1/messages/count_tokens`.
    pub async fn count_tokens(&self, req: &CountTokensRequest) -> Result<Response<TokenCount>, Error> {
        self.call(&self.count_tokens_url, req, "token count").await
    }

    /// `POST /v1/messages/batches`: the requests, answered within 24 hours at half price.
    pub async fn create_batch(&self, requests: &[BatchRequest]) -> Result<Response<MessageBatch>, Error> {
        let body = BatchCreate { requests: requests.to_vec() };
        self.call(&self.batches_url, &body, "message batch").await
    }

    /// `GET /v1/messages/batches/{id}`.
    pub async fn retrieve_batch(&self, id: &str) -> Result<Response<MessageBatch>, Error> {
        let url = self.batch_url(id, "")?;
        let read_body = async |response| read_capped(response, MAX_BODY_BYTES).await;
        let (bytes, request_id, attempts) = self.get_with_retries(&url, read_body).await?;
        serde_json::from_slice(&bytes)
            .map(|body| Response { body, request_id: request_id.clone(), attempts })
            .map_err(|e| Error::Decode { what: "message batch", message: e.to_string(), request_id })
    }

    /// `GET /v1/messages/batches/{id}/results`: one result per request, in any order (the
    /// batch must have ended).
    pub async fn batch_results(&self, id: &str) -> Result<Response<Vec<BatchResult>>, Error> {
        let url = self.batch_url(id, "/results")?;
        let read_body = async |response| read_capped(response, MAX_BODY_BYTES).await;
        let (bytes, request_id, attempts) = self.get_with_retries(&url, read_body).await?;
        let decode = |e: serde_json::Error| Error::Decode {
            what: "batch result line",
            message: e.to_string(),
            request_id: request_id.clone(),
        };
        let body = bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(|line| serde_json::from_slice(line).map_err(decode))
            .collect::<Result<Vec<BatchResult>, Error>>()?;
        Ok(Response { body, request_id, attempts })
    }

    fn batch_url(&self, id: &str, tail: &str) -> Result<reqwest::Url, Error> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(Error::Config(format!("{id:?} is not a message batch id")));
        }
        reqwest::Url::parse(&format!("{}/{id}{tail}", self.batches_url))
            .map_err(|e| Error::Config(format!("message batch url: {e}")))
    }

    /// `POST /v1/messages` with `stream: true`: the events as they arrive. Retried until the
    /// `200` comes; after it, a failure is an `Err` item (an `error` event, a timeout between
    /// chunks, a cut connection, a stream that ends before `message_stop`) and the stream ends.
    pub async fn messages_stream(&self, req: &MessagesRequest) -> Result<EventStream, Error> {
        let body = MessagesRequest { stream: Some(true), ..req.clone() };
        let body = encode_body(&body)?;
        let (response, request_id, attempts) =
            self.send_with_retries(&self.messages_url, &body, async |response| Ok(response)).await?;
        Ok(EventStream::new(
            response,
            request_id,
            attempts,
            self.config.timeout,
            self.messages_url.to_string(),
        ))
    }

    /// One non-streaming call: retries, then the body decoded as `T`.
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        url: &reqwest::Url,
        body: &B,
        what: &'static str,
    ) -> Result<Response<T>, Error> {
        let body = encode_body(body)?;
        let read_body = async |response| read_capped(response, MAX_BODY_BYTES).await;
        let (bytes, request_id, attempts) = self.send_with_retries(url, &body, read_body).await?;
        match serde_json::from_slice(&bytes) {
            Ok(body) => Ok(Response { body, request_id, attempts }),
            Err(e) => Err(Error::Decode { what, message: e.to_string(), request_id }),
        }
    }

    /// The SDK's retry loop ([`retry::run`]): attempt, and on a retryable failure with retries
    /// left, wait and attempt again with `x-stainless-retry-count` one higher. `read` takes a
    /// `2xx` response within the attempt (and its timeout): the whole body, or the response
    /// itself (streams).
    async fn send_with_retries<T>(
        &self,
        url: &reqwest::Url,
        body: &[u8],
        read: impl AsyncFn(reqwest::Response) -> Result<T, reqwest::Error>,
    ) -> Result<(T, Option<String>, u32), Error> {
        let attempt = |retries_taken| self.attempt(Some(body), url, retries_taken, &read);
        let ((value, request_id), attempts) =
            retry::run(self.config.max_retries, url.as_str(), attempt).await?;
        Ok((value, request_id, attempts))
    }

    /// [`Client::send_with_retries`] for a `GET`.
    async fn get_with_retries<T>(
        &self,
        url: &reqwest::Url,
        read: impl AsyncFn(reqwest::Response) -> Result<T, reqwest::Error>,
    ) -> Result<(T, Option<String>, u32), Error> {
        let attempt = |retries_taken| self.attempt(None, url, retries_taken, &read);
        let ((value, request_id), attempts) =
            retry::run(self.config.max_retries, url.as_str(), attempt).await?;
        Ok((value, request_id, attempts))
    }

    /// One attempt, bounded by the timeout: a `2xx` goes through `read`; an error status
    /// becomes [`Error::Api`].
    async fn attempt<T>(
        &self,
        body: Option<&[u8]>,
        url: &reqwest::Url,
        retries_taken: u32,
        read: &impl AsyncFn(reqwest::Response) -> Result<T, reqwest::Error>,
    ) -> Result<(T, Option<String>), Error> {
        let request = match body {
            Some(body) => self.http.post(url.clone()).body(body.to_vec()),
            None => self.http.get(url.clone()),
        };
        let request = request.headers(self.headers.clone()).header("x-stainless-retry-count", retries_taken);
        let connection =
            |e: reqwest::Error| Error::Connection { url: url.to_string(), message: error_chain(&e) };
        let work = async {
            let response = request.send().await.map_err(connection)?;
            let status = response.status();
            let request_id = header_str(response.headers(), "request-id").map(str::to_owned);
            if status.is_success() {
                return Ok((read(response).await.map_err(connection)?, request_id));
            }
            let headers = response.headers().clone();
            // A body cut short still leaves the status and headers to report.
            let bytes = read_capped(response, MAX_ERROR_BODY_BYTES).await.unwrap_or_default();
            Err(Error::Api(api_error(status.as_u16(), &headers, &bytes)))
        };
        let timeout = self.config.timeout;
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| Err(Error::Timeout { url: url.to_string(), after: timeout }))
    }
}

/// The headers every request carries (see [`crate::config`]).
fn default_headers(config: &ClientConfig) -> Result<HeaderMap, Error> {
    let value = |name: &str, v: &str| {
        HeaderValue::from_str(v)
            .map_err(|_| Error::Config(format!("{name} holds characters not allowed in a header")))
    };
    let mut headers = HeaderMap::new();
    let (name, mut key) = match config.auth {
        AuthScheme::Bearer => (AUTHORIZATION, value("api_key", &format!("Bearer {}", config.api_key))?),
        AuthScheme::XApiKey => (HeaderName::from_static("x-api-key"), value("api_key", &config.api_key)?),
    };
    key.set_sensitive(true);
    headers.insert(name, key);
    headers.insert(
        HeaderName::from_static("anthropic-version"),
        value("anthropic_version", &config.anthropic_version)?,
    );
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, value("user_agent", &config.user_agent)?);
    Ok(headers)
}

fn encode_body<B: Serialize>(body: &B) -> Result<Vec<u8>, Error> {
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

/// An error status as a typed error: the API's error JSON when the body is one, else the
/// body's start as the message; retry hints from the headers.
pub(crate) fn api_error(status: u16, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let retry::Hints { retry_after, should_retry } =
        retry::Hints::from_headers(|name| header_str(headers, name), SystemTime::now());
    let header_id = header_str(headers, "request-id").map(str::to_owned);
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => ApiError {
            status,
            error_code: parsed.error.error_code().map(str::to_owned),
            kind: parsed.error.kind,
            message: parsed.error.message,
            request_id: header_id.or(parsed.request_id),
            retry_after,
            should_retry,
        },
        Err(_) => ApiError {
            status,
            kind: "unknown".to_owned(),
            message: quote_body(status, body),
            error_code: None,
            request_id: header_id,
            retry_after,
            should_retry,
        },
    }
}

/// The start of a body that is not the API's error JSON, for an error message.
fn quote_body(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_QUOTED_BYTES)]);
    let text = text.trim();
    if text.is_empty() { format!("HTTP {status} with an empty body") } else { text.to_owned() }
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
    use std::time::Duration;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn an_error_body_becomes_a_typed_error() {
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down",
            "details":{"error_code":"enforced_spend_limit_reached"}},"request_id":"req_body"}"#;
        let err = api_error(429, &headers(&[("retry-after", "3"), ("x-should-retry", "true")]), body);
        assert_eq!(err.kind, "rate_limit_error");
        assert_eq!(err.message, "slow down");
        assert_eq!(err.error_code.as_deref(), Some("enforced_spend_limit_reached"));
        assert_eq!(err.request_id.as_deref(), Some("req_body"));
        assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(err.should_retry, Some(true));
        assert!(err.is_spend_limit());
        assert!(!err.is_retryable(), "a spend limit is never retried, whatever the header says");
        let text = err.to_string();
        assert!(
            text.contains("429") && text.contains("rate_limit_error") && text.contains("slow down"),
            "{text}"
        );
    }

    #[test]
    fn a_non_json_error_body_is_quoted() {
        let err = api_error(502, &headers(&[("request-id", "req_h")]), b"<html>Bad Gateway</html>");
        assert_eq!(err.kind, "unknown");
        assert_eq!(err.message, "<html>Bad Gateway</html>");
        assert_eq!(err.request_id.as_deref(), Some("req_h"));
        assert!(err.is_retryable());
        assert_eq!(api_error(503, &HeaderMap::new(), b"").message, "HTTP 503 with an empty body");
    }

    #[test]
    fn a_bad_base_url_or_key_is_a_config_error() {
        let bad_url = Client::new(ClientConfig::new("k").with_base_url("ftp://example.com"));
        assert!(matches!(bad_url, Err(Error::Config(m)) if m.contains("ftp")));
        let bad_key = Client::new(ClientConfig::new("line\nbreak"));
        assert!(matches!(bad_key, Err(Error::Config(m)) if m.contains("api_key")));
    }
}
