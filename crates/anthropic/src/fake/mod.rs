//! A fake Anthropic API on loopback (feature `fake`), for tests in Rust (through
//! [`FakeAnthropic`]) and in other languages (through the `fake-anthropic` binary and the
//! `/_fake/...` endpoints).
//!
//! It is a real HTTP server (axum, HTTP/1.1) that:
//! - checks every request as the API does (`validate.rs`): credentials (`x-api-key` or
//!   `authorization: Bearer`, 401), `anthropic-version`, JSON content type, required
//!   `model` / `max_tokens` / `messages`, roles, unknown fields (`...: Extra inputs are not
//!   permitted`), `system` only top-level, tool definitions, `tool_choice` and every
//!   `tool_use` answered by a `tool_result` (`validate_tools.rs`); refusals are the API's
//!   error JSON;
//! - answers deterministically (`reply.rs`), as JSON or, with `stream: true`, as server-sent
//!   events (`ping`, cumulative usage in `message_delta`); `POST /v1/messages/count_tokens`;
//! - plays queued [`Fault`]s, one per API request;
//! - records every request ([`FakeAnthropic::requests`]).
//!
//! Control endpoints (no credentials): `POST /_fake/faults` (a JSON fault or list, queued),
//! `DELETE /_fake/faults`, `GET /_fake/requests`, `DELETE /_fake/requests`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! use hearth_anthropic::fake::{FakeAnthropic, Fault};
//! let fake = FakeAnthropic::start("test-key").await?;
//! fake.push_fault(Fault::Overloaded); // the next request gets a 529
//! let base_url = fake.base_url(); // give this to the client under test
//! # drop(base_url); Ok(()) }
//! ```

mod batches;
mod faults;
mod reply;
mod validate;
mod validate_tools;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use faults::Fault;

use crate::config::{ANTHROPIC_VERSION, ANTHROPIC_VERSION_2023};
use crate::types::{ErrorBody, ErrorObject, TokenCount};
use faults::ErrorReply;
use reply::StreamEnd;
use validate::Reject;

/// The largest request body accepted (the API's limit for `/v1/messages`).
const MAX_REQUEST_BYTES: usize = 32 << 20;

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The one key accepted.
    pub api_key: String,
    /// Accepted `anthropic-version` values.
    pub versions: Vec<String>,
    /// Refuse turns that do not alternate user/assistant starting with user (default `true`).
    pub strict_roles: bool,
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// The test's own answers: when it gives a text for a (valid, non-streamed or streamed)
    /// messages request, that text is the answer instead of the deterministic one.
    pub responder: Option<Responder>,
}

/// The function behind a [`Responder`]: the answer's text for a request, or `None` for the
/// fake's own.
pub type RespondFn = dyn Fn(&crate::types::MessagesRequest) -> Option<String> + Send + Sync;

/// A test's answer function for [`FakeConfig::responder`].
#[derive(Clone)]
pub struct Responder(pub Arc<RespondFn>);

impl Responder {
    /// Answers with `f`.
    pub fn new(
        f: impl Fn(&crate::types::MessagesRequest) -> Option<String> + Send + Sync + 'static,
    ) -> Responder {
        Responder(Arc::new(f))
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder(..)")
    }
}

impl FakeConfig {
    /// Loopback, a free port, strict roles, the SDK's and the documented API versions.
    pub fn new(api_key: impl Into<String>) -> Self {
        FakeConfig {
            api_key: api_key.into(),
            versions: vec!["2023-01-01".into(), ANTHROPIC_VERSION_2023.into(), ANTHROPIC_VERSION.into()],
            strict_roles: true,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            responder: None,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path, e.g. `/v1/messages`.
    pub path: String,
    /// Headers, names lowercase (repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl RecordedRequest {
    /// A header's value, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// State shared by the handlers and the handle.
#[derive(Debug)]
struct Shared {
    config: FakeConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    /// Hashes of cached prompt prefixes.
    cache: HashSet<u64>,
    /// Answers given, for ids.
    served: u64,
    /// Message batches, by id.
    batches: BTreeMap<String, batches::FakeBatch>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeAnthropic {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeAnthropic {
    /// Starts a fake on a free loopback port that accepts `api_key`.
    pub async fn start(api_key: &str) -> std::io::Result<Self> {
        Self::start_with(FakeConfig::new(api_key)).await
    }

    /// Starts a fake with `config`.
    pub async fn start_with(mut config: FakeConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        config.addr = addr;
        let shared = Arc::new(Shared { config, inner: Mutex::new(Inner::default()) });
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fake Anthropic server stopped");
            }
        });
        Ok(FakeAnthropic { addr, shared, task })
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the base URL for a client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a fault for the next API request.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.lock().faults.push_back(fault);
    }

    /// Queues faults, in order, one per API request.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().faults.extend(faults);
    }

    /// Faults not yet played.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Every request received so far (API and control endpoints), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Serves until the task ends (it runs until the process is killed); for the binary.
    pub async fn serve_forever(mut self) {
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        // A join error means the task panicked or was aborted: either way it has stopped.
        let _ = task.await;
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every request goes through here: record, then route by path.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    shared.lock().requests.push(record(&method, &path, &headers, &body));
    match (method.as_str(), path.as_str()) {
        ("POST", "/_fake/faults") => match parse_faults(&body) {
            Ok(faults) => {
                let queued = {
                    let mut inner = shared.lock();
                    inner.faults.extend(faults);
                    inner.faults.len()
                };
                json_response(StatusCode::OK, &serde_json::json!({ "queued": queued }), None)
            }
            Err(message) => error_response(
                &reply_for(Reject { status: 400, kind: "invalid_request_error", message }),
                None,
            ),
        },
        ("DELETE", "/_fake/faults") => {
            shared.lock().faults.clear();
            json_response(StatusCode::OK, &serde_json::json!({ "queued": 0 }), None)
        }
        ("GET", "/_fake/requests") => {
            let requests = shared.lock().requests.clone();
            json_response(StatusCode::OK, &requests, None)
        }
        ("DELETE", "/_fake/requests") => {
            shared.lock().requests.clear();
            json_response(StatusCode::OK, &serde_json::json!({ "cleared": true }), None)
        }
        ("POST", "/v1/messages") => api(&shared, Endpoint::Messages, &headers, &body).await,
        ("POST", "/v1/messages/batches") => batch_api(&shared, None, &headers, &body).await,
        ("GET", p) if p.starts_with("/v1/messages/batches/") => {
            batch_api(&shared, Some(&p["/v1/messages/batches/".len()..]), &headers, &body).await
        }
        ("POST", "/v1/messages/count_tokens") => api(&shared, Endpoint::CountTokens, &headers, &body).await,
        _ => error_response(
            &reply_for(Reject {
                status: 404,
                kind: "not_found_error",
                message: format!("{method} {path}: Not found"),
            }),
            None,
        ),
    }
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Messages,
    CountTokens,
}

/// An API request: its fault (if any), the checks, then the answer.
async fn api(shared: &Shared, endpoint: Endpoint, headers: &HeaderMap, body: &[u8]) -> Response {
    let (fault, serial) = {
        let mut inner = shared.lock();
        inner.served += 1;
        (inner.faults.pop_front(), inner.served)
    };
    let request_id = format!("req_fake_{serial:08}");
    if let Some(Fault::Hang { ms }) = &fault {
        tokio::time::sleep(Duration::from_millis(*ms)).await;
    }
    if let Some(reply) = fault.as_ref().and_then(Fault::error_reply) {
        return error_response(&reply, Some(&request_id));
    }
    if let Err(reject) = validate::check_headers(headers, &shared.config) {
        return error_response(&reply_for(reject), Some(&request_id));
    }
    match endpoint {
        Endpoint::CountTokens => match validate::count_tokens_body(body, &shared.config) {
            Ok(req) => json_response(
                StatusCode::OK,
                &TokenCount { input_tokens: reply::count(&req) },
                Some(&request_id),
            ),
            Err(reject) => error_response(&reply_for(reject), Some(&request_id)),
        },
        Endpoint::Messages => {
            let req = match validate::messages_body(body, &shared.config) {
                Ok(req) => req,
                Err(reject) => return error_response(&reply_for(reject), Some(&request_id)),
            };
            let mut message = reply::answer(&req, &format!("msg_fake_{serial:08}"), &mut shared.lock().cache);
            if let Some(text) = shared.config.responder.as_ref().and_then(|r| (r.0)(&req)) {
                reply::replace_text(&mut message, text);
            }
            let stream = req.stream == Some(true);
            match (fault, stream) {
                (Some(Fault::MalformedJson), false) => {
                    let json = serde_json::to_string(&message).unwrap_or_default();
                    raw_response(
                        StatusCode::OK,
                        "application/json",
                        json[..json.len() / 2].to_owned(),
                        &request_id,
                    )
                }
                (Some(Fault::MalformedJson), true) => {
                    sse_response(&message, StreamEnd::Malformed, &request_id)
                }
                (Some(Fault::StreamError { error_type, message: text }), true) => {
                    sse_response(&message, StreamEnd::Error(ErrorObject::new(error_type, text)), &request_id)
                }
                (_, true) => sse_response(&message, StreamEnd::Complete, &request_id),
                (_, false) => json_response(StatusCode::OK, &message, Some(&request_id)),
            }
        }
    }
}

/// The Message Batches API (`batches.rs`): create (`id` `None`), retrieve (`{id}`), results
/// (`{id}/results`); faults play as on `/v1/messages`.
async fn batch_api(shared: &Shared, id: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Response {
    let (fault, serial) = {
        let mut inner = shared.lock();
        inner.served += 1;
        (inner.faults.pop_front(), inner.served)
    };
    let request_id = format!("req_fake_{serial:08}");
    if let Some(Fault::Hang { ms }) = &fault {
        tokio::time::sleep(Duration::from_millis(*ms)).await;
    }
    if let Some(reply) = fault.as_ref().and_then(Fault::error_reply) {
        return error_response(&reply, Some(&request_id));
    }
    let base = format!("http://{}", shared.config.addr);
    let not_found = |id: &str| {
        error_response(
            &reply_for(Reject {
                status: 404,
                kind: "not_found_error",
                message: format!("message batch {id:?} not found"),
            }),
            Some(&request_id),
        )
    };
    let Some(id) = id else {
        if let Err(reject) = validate::check_headers(headers, &shared.config) {
            return error_response(&reply_for(reject), Some(&request_id));
        }
        let mut inner = shared.lock();
        return match batches::create(body, &shared.config, &mut inner, serial) {
            Ok(batch) => {
                let object = batch.object(&base);
                let id = object["id"].as_str().unwrap_or_default().to_owned();
                inner.batches.insert(id, batch);
                json_response(StatusCode::OK, &object, Some(&request_id))
            }
            Err(reject) => error_response(&reply_for(reject), Some(&request_id)),
        };
    };
    if let Err(reject) = validate::check_auth(headers, &shared.config) {
        return error_response(&reply_for(reject), Some(&request_id));
    }
    let mut inner = shared.lock();
    match id.strip_suffix("/results") {
        Some(id) => match inner.batches.get(id).map(batches::FakeBatch::jsonl) {
            None => not_found(id),
            Some(None) => error_response(
                &reply_for(Reject::invalid(format!(
                    "message batch {id:?} has not ended; its results are not available yet"
                ))),
                Some(&request_id),
            ),
            Some(Some(lines)) => raw_response(StatusCode::OK, "application/binary", lines, &request_id),
        },
        None => match inner.batches.get_mut(id) {
            None => not_found(id),
            Some(batch) => {
                batch.retrieved();
                json_response(StatusCode::OK, &batch.object(&base), Some(&request_id))
            }
        },
    }
}

fn parse_faults(body: &[u8]) -> Result<Vec<Fault>, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Fault>),
        One(Fault),
    }
    match serde_json::from_slice::<OneOrMany>(body) {
        Ok(OneOrMany::Many(faults)) => Ok(faults),
        Ok(OneOrMany::One(fault)) => Ok(vec![fault]),
        Err(e) => Err(format!("faults: expected a fault object or a list of them ({e})")),
    }
}

fn record(method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> RecordedRequest {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_owned()).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
    }
    RecordedRequest {
        method: method.to_string(),
        path: path.to_owned(),
        headers: map,
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

fn reply_for(reject: Reject) -> ErrorReply {
    ErrorReply {
        status: reject.status,
        kind: reject.kind.to_owned(),
        message: reject.message,
        headers: Vec::new(),
        error_code: None,
    }
}

fn error_response(reply: &ErrorReply, request_id: Option<&str>) -> Response {
    let mut body = ErrorBody::new(reply.kind.clone(), reply.message.clone());
    body.request_id = request_id.map(str::to_owned);
    body.error.details = reply.error_code.as_ref().map(|code| serde_json::json!({ "error_code": code }));
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &body, request_id);
    for (name, value) in &reply.headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

fn json_response<T: Serialize>(status: StatusCode, body: &T, request_id: Option<&str>) -> Response {
    let json = serde_json::to_string(body).unwrap_or_else(|_| String::from("{}"));
    let mut response = raw_response(status, "application/json", json, "");
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        response.headers_mut().insert("request-id", id);
    }
    response
}

fn sse_response(message: &crate::types::Message, end: StreamEnd, request_id: &str) -> Response {
    let mut response =
        raw_response(StatusCode::OK, "text/event-stream", reply::stream_body(message, end), request_id);
    response.headers_mut().insert("cache-control", HeaderValue::from_static("no-cache"));
    response
}

fn raw_response(status: StatusCode, content_type: &'static str, body: String, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(request_id)
        && !request_id.is_empty()
    {
        response.headers_mut().insert("request-id", id);
    }
    response
}
