//! `Authorization: Bearer <key>` (or `x-api-key: <key>`, as Anthropic's clients send it) on every request when the server has a key — unknown routes
//! and wrong methods included, so that nothing about the server is answered to a caller
//! without the key — except `/health`, which answers its status to anyone and its details
//! only with the key. A refusal on the Anthropic routes (`/v1/messages…`) is in Anthropic's
//! shape (`authentication_error`), elsewhere in OpenAI's.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState, anthropic_error};

/// Whether a request carried the server's key (always true when the server has none); set
/// by [`require_key`] for the handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Authenticated(pub bool);

/// Middleware: 401 in OpenAI's shape unless the request carries the key (`/health`: let
/// through, marked).
pub(crate) async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(key) = state.config().api_key.as_deref() else {
        req.extensions_mut().insert(Authenticated(true));
        return next.run(req).await;
    };
    let token = presented_key(req.headers());
    let ok = token.is_some_and(|t| same(t.as_bytes(), key.as_bytes()));
    if ok || req.uri().path() == "/health" {
        req.extensions_mut().insert(Authenticated(ok));
        return next.run(req).await;
    }
    let e = match token {
        Some(_) => ApiError::unauthorized("incorrect API key provided"),
        None => ApiError::unauthorized(
            "missing API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>` \
             (the OpenAI and Anthropic SDKs do this with api_key)",
        ),
    };
    if anthropic_error::is_anthropic_path(req.uri().path()) {
        return anthropic_error::respond(&e, &state.new_id("req").replacen('-', "_", 1));
    }
    e.into_response()
}

/// The key a request presents: `Authorization: Bearer <key>` (any case of `Bearer`), else
/// `x-api-key: <key>`.
pub(crate) fn presented_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim);
    let token = given.and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    token.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim))
}

/// Compares the SHA-256 digests of `a` and `b` in constant time: the time depends neither on
/// where the first difference is nor on the lengths (a length check would answer faster for
/// a key of the wrong length).
fn same(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_compares_whole_keys() {
        assert!(super::same(b"abc", b"abc"));
        assert!(!super::same(b"abc", b"abd"));
        assert!(!super::same(b"abc", b"abcd"));
        assert!(!super::same(b"", b"a"));
    }
}
