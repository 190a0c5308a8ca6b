//! Reading request bodies: a declared `Content-Length` over the limit is refused before a
//! byte of the body is read (so `Expect: 100-continue` gets its 413 instead of a
//! `100 Continue`), and a body must arrive whole within `--body-timeout` (408 otherwise).
//! The handlers get the body already in memory.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{ApiError, AppState};

/// Middleware: 413 for a declared or actual body over `max_body_bytes`, 408 for one slower
/// than `body_timeout`; otherwise the request goes on with its body read.
pub(crate) async fn read_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let config = state.config();
    let max = config.max_body_bytes;
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large(max);
    }
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, max).collect();
    let bytes = match tokio::time::timeout(config.body_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => return too_large(max),
        Ok(Err(e)) => {
            return close(ApiError::invalid(None, format!("reading the request body failed: {e}")));
        }
        Err(_) => {
            let mut e = ApiError::invalid(
                None,
                format!(
                    "the request body did not arrive within {} s (--body-timeout)",
                    config.body_timeout.as_secs_f64()
                ),
            );
            e.status = StatusCode::REQUEST_TIMEOUT;
            e.code = Some("body_timeout");
            return close(e);
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// 413, closing the connection (the rest of the body is not read).
fn too_large(max: usize) -> Response {
    let mut e = ApiError::invalid(
        None,
        format!("the request body is larger than the {max} bytes the server accepts (--max-body-bytes)"),
    );
    e.status = StatusCode::PAYLOAD_TOO_LARGE;
    e.code = Some("request_too_large");
    close(e)
}

/// The error, with `Connection: close`: the body was not read to its end.
fn close(e: ApiError) -> Response {
    let mut resp = e.into_response();
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
