//! Request guards: a web page must never drive the shim.
//!
//! - Host: a DNS-rebinding page reaches 127.0.0.1 with its own name in `Host`, so only loopback
//!   names, the bind host and `CODEX_SHIM_ALLOWED_HOSTS` entries pass (403 otherwise, every route).
//! - POST bodies must be `application/json`: a cross-origin form or `text/plain` request (which a
//!   browser sends without a preflight) is refused with 415 before any handler runs.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// The allowed Host names: loopback, the bind host (unless a wildcard) and `extra` (comma list).
pub fn allowed_hosts(bind_host: &str, extra: Option<&str>) -> HashSet<String> {
    let mut hosts: HashSet<String> = ["127.0.0.1", "localhost", "::1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let bind = bind_host.trim().to_ascii_lowercase();
    if !bind.is_empty() && bind != "0.0.0.0" && bind != "::" {
        hosts.insert(bind.trim_matches(|c| c == '[' || c == ']').to_string());
    }
    for h in extra.unwrap_or_default().split(',') {
        let h = h.trim().to_ascii_lowercase();
        if !h.is_empty() {
            hosts.insert(h);
        }
    }
    hosts
}

/// The host part of a `Host` header value: `[v6]:port` → `v6`, `name:port` → `name`.
fn host_of(value: &str) -> String {
    let v = value.trim();
    let host = if let Some(rest) = v.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if v.matches(':').count() == 1 {
        v.split(':').next().unwrap_or("")
    } else {
        v
    };
    host.to_ascii_lowercase()
}

/// True if a request with this `Host` header may be served.
pub fn host_allowed(allowed: &HashSet<String>, host_header: Option<&str>) -> bool {
    match host_header {
        Some(h) => {
            let host = host_of(h);
            !host.is_empty() && allowed.contains(&host)
        }
        None => false,
    }
}

pub(super) async fn guard(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if !host_allowed(&state.options.allowed_hosts, host) {
        tracing::warn!(host = host.unwrap_or("(none)"), path = %req.uri().path(), "refused a request with a Host that is not allowed");
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Forbidden: Host header not allowed",
        )
            .into_response();
    }
    if req.method() == Method::POST {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            let body = serde_json::json!({"error": {"message": "codex-shim accepts only Content-Type: application/json", "type": "invalid_request_error", "code": "unsupported_media_type"}});
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, axum::Json(body)).into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_vectors() {
        let allowed = allowed_hosts("127.0.0.1", Some("shim.lan , Extra.Host"));
        for ok in [
            "127.0.0.1:8765",
            "localhost:8765",
            "[::1]:8765",
            "[::1]",
            "LOCALHOST:1",
            "::1",
            "shim.lan:80",
            "extra.host",
        ] {
            assert!(host_allowed(&allowed, Some(ok)), "{ok}");
        }
        for bad in [
            "attacker.example:8765",
            "",
            "127.0.0.1.evil.com",
            "localhost.evil:1",
        ] {
            assert!(!host_allowed(&allowed, Some(bad)), "{bad}");
        }
        assert!(!host_allowed(&allowed, None));
        assert!(!allowed_hosts("0.0.0.0", None).contains("0.0.0.0"));
    }
}
