//! Without an API key, only programs on this machine should drive the server, not web pages
//! its user happens to open. Two browser attacks reach a loopback server:
//!
//! - **DNS rebinding** (Ollama's CVE-2024-28224): a page on `evil.example` re-resolves its
//!   own name to 127.0.0.1 and then reads responses same-origin. Its requests carry
//!   `Host: evil.example`, so only requests addressed to a loopback name or an IP address
//!   (which no rebinding page can send: its `Host` is always its own name), or to a name
//!   allowed with `--allowed-host`, are answered.
//! - **Cross-site form posts**: any page may POST `text/plain` (or a typeless blob) to
//!   127.0.0.1 without a CORS preflight. A JSON content type cannot be sent that way, so
//!   POST bodies must declare one.
//!
//! With an API key, neither applies: a page cannot know the key. CORS stays off unless
//! `--cors-origin` allows an origin.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// Middleware: without an API key, 403 for a `Host` that is not loopback, an IP address or
/// allowed; 415 for a POST whose body is not declared JSON.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let config = state.config();
    if config.api_key.is_some() {
        return next.run(req).await;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| host_allowed(h, &config.allowed_hosts)) {
        let mut e = ApiError::invalid(
            None,
            format!(
                "requests addressed to {} are refused: without an API key hearth answers only requests to \
                 localhost or an IP address (this stops DNS rebinding); allow a name with --allowed-host, or \
                 set an API key",
                host.map_or_else(|| "no host".to_owned(), |h| format!("{h:?}"))
            ),
        );
        e.status = StatusCode::FORBIDDEN;
        e.code = Some("host_not_allowed");
        return e.into_response();
    }
    if req.method() == Method::POST {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !ct.is_some_and(is_json) {
            let mut e = ApiError::invalid(
                None,
                format!(
                    "the request body must be sent with `Content-Type: application/json` (got {}); without \
                     an API key other types are refused so that web pages cannot post to the server",
                    ct.map_or_else(|| "none".to_owned(), |c| format!("{c:?}"))
                ),
            );
            e.status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            e.code = Some("unsupported_media_type");
            return e.into_response();
        }
    }
    next.run(req).await
}

/// Whether a `Host` value (`name`, `name:port`, `[v6]:port`) names this machine's loopback,
/// an IP address, or an allowed name (`*`: any). Names compare case-insensitively, without a
/// trailing dot.
pub(crate) fn host_allowed(host: &str, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a == "*") {
        return true;
    }
    let Some(name) = host_name(host) else { return false };
    if name == "localhost" || name.parse::<IpAddr>().is_ok() {
        return true;
    }
    allowed.iter().any(|a| a.trim().trim_end_matches('.').eq_ignore_ascii_case(&name))
}

/// The name of a `Host` value, lowercased, without port, brackets or trailing dot; `None`
/// when malformed.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        v6
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) && !name.contains(':') => name,
            Some(_) => return None,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b)) {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

fn is_port(p: &str) -> bool {
    p.parse::<u16>().is_ok()
}

/// Whether an `--allowed-host` value is usable: `*`, or a host name or IP address without
/// port or scheme.
pub(crate) fn valid_allowed_host(value: &str) -> bool {
    let v = value.trim();
    v == "*" || v.parse::<IpAddr>().is_ok() || (!v.contains(['/', '[', ':']) && host_name(v).is_some())
}

/// `application/json`, or any `+json` type (`application/merge-patch+json`), with or without
/// parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_ip_addresses_and_allowed_names_pass() {
        let none: &[String] = &[];
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:8080",
            "10.0.0.5:80",
            "localhost.",
        ] {
            assert!(host_allowed(ok, none), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "",
            "[::1",
            "a b",
            "localhost:x",
            "::1:80",
        ] {
            assert!(!host_allowed(bad, none), "{bad}");
        }
        let allowed = vec!["hearth.lan".to_owned()];
        assert!(host_allowed("Hearth.LAN:8080", &allowed));
        assert!(!host_allowed("other.lan", &allowed));
        assert!(host_allowed("anything", &["*".to_owned()]));
        assert!(valid_allowed_host("hearth.lan") && valid_allowed_host("*") && valid_allowed_host("::1"));
        assert!(!valid_allowed_host("http://x") && !valid_allowed_host("x:80") && !valid_allowed_host(""));
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in
            ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "json"]
        {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
