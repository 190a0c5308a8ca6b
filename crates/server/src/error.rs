//! Errors: [`ApiError`], what a client sees (OpenAI's `{"error": {...}}` shape with the right
//! HTTP status), mapped from engine errors in one place; and [`ServerError`], why the server
//! could not start or stopped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_engine::{EngineError, SubmitError};
use serde::Serialize;

use crate::pool::PoolError;

/// An error answered to a client:
/// `{"error": {"message": .., "type": .., "param": .., "code": ..}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do about it.
    pub message: String,
    /// OpenAI's error type: `invalid_request_error`, `authentication_error`,
    /// `not_found_error`, `server_error`.
    pub kind: &'static str,
    /// The request parameter at fault, e.g. `temperature` or `messages[2].content`.
    pub param: Option<String>,
    /// A machine-readable code, e.g. `context_length_exceeded`.
    pub code: Option<&'static str>,
    /// Seconds for a `Retry-After` header (busy or loading).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), kind, param: None, code: None, retry_after: None }
    }

    /// 400: a request parameter is missing or out of range.
    pub fn invalid(param: Option<&str>, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.param = param.map(str::to_owned);
        e
    }

    /// 401: no or a wrong `Authorization: Bearer` key.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message);
        e.code = Some("invalid_api_key");
        e
    }

    /// 404: no such route or model.
    pub fn not_found(message: impl Into<String>, code: &'static str) -> ApiError {
        let mut e = ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message);
        e.code = Some(code);
        e
    }

    /// 503 while the model loads.
    pub fn loading() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "the model is still loading; retry shortly",
        );
        e.code = Some("model_loading");
        e.retry_after = Some(1);
        e
    }

    /// 500: something on the server's side.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// With a machine-readable code.
    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    /// The error for a request the engine refused or failed; `prompt_param` names the
    /// request's input (`messages` or `prompt`).
    pub fn from_engine(e: EngineError, prompt_param: &str) -> ApiError {
        match e {
            EngineError::ContextOverflow { .. } => {
                ApiError::invalid(Some(prompt_param), e.to_string()).with_code("context_length_exceeded")
            }
            EngineError::EmptyPrompt => {
                ApiError::invalid(Some(prompt_param), "the prompt is empty (it has no tokens)")
            }
            EngineError::Chat(_) | EngineError::BadPromptToken { .. } => {
                ApiError::invalid(Some(prompt_param), e.to_string())
            }
            EngineError::Tokenizer(_) => ApiError::invalid(Some(prompt_param), e.to_string()),
            EngineError::Sampling(_) => ApiError::invalid(None, e.to_string()),
            // The schema's own problems (malformed, unsupported, admits nothing, over the
            // work limits) are the client's; the grammar engine's are ours.
            EngineError::Grammar(ref g) if g.is_client_error() => {
                ApiError::invalid(Some("response_format"), e.to_string())
            }
            EngineError::Grammar(_) => ApiError::internal(e.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }

    /// The error for a request the scheduler did not take: 503, with `Retry-After` when busy.
    pub fn from_submit(e: SubmitError) -> ApiError {
        let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", e.to_string());
        match e {
            SubmitError::QueueFull(_) => {
                err.message = format!("{e}; retry later");
                err.code = Some("queue_full");
                err.retry_after = Some(1);
            }
            SubmitError::Stopped => err.code = Some("engine_stopped"),
            SubmitError::Invalid(e) => return ApiError::from_engine(e, "prompt"),
        }
        err
    }

    /// The error for a model the pool could not hand out: 404 `model_not_found` (naming the
    /// models there are), 503 `model_load_failed` (naming the model and the cause), 503
    /// `memory_budget_full` with `Retry-After` (models in use hold the budget).
    pub fn from_pool(e: PoolError) -> ApiError {
        let message = e.to_string();
        match e {
            PoolError::Unknown { .. } => {
                let mut err = ApiError::not_found(message, "model_not_found");
                err.param = Some("model".into());
                err
            }
            PoolError::LoadFailed { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
                    .with_code("model_load_failed")
            }
            PoolError::NoRoom { .. } => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
                    .with_code("memory_budget_full");
                err.retry_after = Some(1);
                err
            }
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        let body = Body {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        };
        serde_json::to_string(&body).unwrap_or_else(|_| {
            String::from(r#"{"error":{"message":"error","type":"server_error","param":null,"code":null}}"#)
        })
    }
}

impl From<PoolError> for ApiError {
    fn from(e: PoolError) -> ApiError {
        ApiError::from_pool(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.to_json()).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(s) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Why the server could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `--host` / `HEARTH_HOST` could not be parsed.
    #[error("invalid host {0:?}: expected HOST, HOST:PORT, [IPV6]:PORT or http://HOST:PORT")]
    BadHost(String),
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The host name.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// Binding a non-loopback address without an API key (and without `--insecure`).
    #[error(
        "refusing to listen on {addr} without an API key: anyone who can reach it could use the model; \
         set --api-key (or HEARTH_API_KEY), bind 127.0.0.1, or pass --insecure if the network is trusted"
    )]
    Insecure {
        /// The address asked for.
        addr: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A setting is out of range (named in the message).
    #[error("invalid setting: {0}")]
    Invalid(String),
    /// A `--cors-origin` is not a valid origin.
    #[error("invalid CORS origin {0:?}: expected `*` or an origin such as https://app.example.com")]
    BadOrigin(String),
    /// The model failed to load.
    #[error("loading the model failed: {0}")]
    Load(String),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}
