//! Upstream failures, classified by what Codex should do about them (contract §5.5).
//!
//! | upstream says                                  | Codex gets                                        |
//! |------------------------------------------------|---------------------------------------------------|
//! | bad key, unknown model, bad request (4xx)      | HTTP 400 naming model and upstream: fatal, shown  |
//! | rate limited (429)                             | HTTP 429 + `Retry-After`: waits, retries          |
//! | quota / billing exhausted                      | `response.failed` `insufficient_quota`: stops     |
//! | prompt too long                                | `response.failed` `context_length_exceeded`: stops|
//! | 5xx, connect error, cut stream                 | HTTP 502/503/504 or `server_error`: retries       |

use serde_json::{json, Value};

/// The outcome class of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Permanent: retrying cannot help.
    InvalidRequest,
    RateLimited,
    InsufficientQuota,
    ContextLengthExceeded,
    /// Transient: a retry may succeed.
    ServerError,
}

/// A classified failure. The message names the model and upstream host, never a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds to wait before retrying (rate limits, some 5xx).
    pub retry_after: Option<u64>,
    /// The HTTP status to answer with when no stream has started.
    pub status: u16,
    /// A more specific error code than the class's, for clients other than Codex (OpenAI's
    /// `previous_response_not_found`); and the request field it concerns.
    pub code_override: Option<&'static str>,
    pub param: Option<&'static str>,
}

/// `Retry-After` sent when the upstream rate-limits without saying how long to wait: without the
/// header Codex treats a 429 as fatal (contract §5.2).
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

impl ErrorCode {
    /// The `response.failed` error code Codex acts on.
    pub fn wire_code(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_prompt",
            ErrorCode::RateLimited => "rate_limit_exceeded",
            ErrorCode::InsufficientQuota => "insufficient_quota",
            ErrorCode::ContextLengthExceeded => "context_length_exceeded",
            ErrorCode::ServerError => "server_error",
        }
    }

    fn error_type(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::ContextLengthExceeded => "invalid_request_error",
            ErrorCode::RateLimited => "rate_limit_error",
            ErrorCode::InsufficientQuota => "insufficient_quota",
            ErrorCode::ServerError => "server_error",
        }
    }
}

impl Failure {
    pub fn new(code: ErrorCode, status: u16, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            retry_after: None,
            status,
            code_override: None,
            param: None,
        }
    }

    /// A request the shim itself rejects (unknown model, unset variable …): fatal 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, 400, message)
    }

    /// A transient failure (connection refused, cut stream): retryable.
    pub fn transient(status: u16, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, status, message)
    }

    /// Classifies an upstream HTTP error reply. `who` names the model and upstream host.
    pub fn from_http(status: u16, body: &str, retry_after: Option<&str>, who: &str) -> Self {
        let detail = upstream_message(body);
        let text = format!("{detail} {body}").to_ascii_lowercase();
        let retry_after = retry_after
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|s| s.max(0.0).ceil() as u64);
        let (code, out_status, hint) = if is_context_overflow(&text) || status == 413 {
            (
                ErrorCode::ContextLengthExceeded,
                400,
                "the conversation is longer than the model's context window",
            )
        } else if is_quota(&text) || status == 402 {
            (
                ErrorCode::InsufficientQuota,
                429,
                "the upstream account is out of quota or credit",
            )
        } else {
            match status {
                429 => (ErrorCode::RateLimited, 429, "rate limited by the upstream"),
                401 | 403 => (
                    ErrorCode::InvalidRequest,
                    400,
                    "the upstream rejected the API key; check this model's apiKey",
                ),
                404 => (
                    ErrorCode::InvalidRequest,
                    400,
                    "the upstream does not know this model or URL; check model and baseUrl",
                ),
                300..=399 => (
                    ErrorCode::InvalidRequest,
                    400,
                    "the upstream answered with a redirect, which codex-shim does not follow (it could carry your key elsewhere); use the address it names as this model's baseUrl",
                ),
                408 => (ErrorCode::ServerError, 504, "the upstream timed out"),
                400..=499 => (
                    ErrorCode::InvalidRequest,
                    400,
                    "the upstream rejected the request",
                ),
                503 => (ErrorCode::ServerError, 503, "the upstream is unavailable"),
                // Anthropic's `overloaded_error`.
                529 => (ErrorCode::ServerError, 503, "the upstream is overloaded"),
                504 => (ErrorCode::ServerError, 504, "the upstream timed out"),
                _ => (ErrorCode::ServerError, 502, "the upstream failed"),
            }
        };
        let mut failure = Failure::new(
            code,
            out_status,
            format!("{who}: {hint} (HTTP {status}): {detail}"),
        );
        failure.retry_after = match code {
            ErrorCode::RateLimited => Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
            ErrorCode::ServerError if status == 529 || text.contains("overloaded") => {
                Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS))
            }
            ErrorCode::ServerError => retry_after,
            _ => None,
        };
        failure
    }

    /// Classifies an error sent inside a 200 stream (`{"error": {…}}` chunks, Anthropic `error`).
    pub fn from_inband(error: &Value, who: &str) -> Self {
        let detail = upstream_message(&error.to_string());
        let code_hint = ["code", "type", "status"]
            .iter()
            .filter_map(|k| {
                error
                    .get(*k)
                    .or_else(|| error.get("error").and_then(|e| e.get(*k)))
            })
            .map(|v| v.to_string().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
        let text = format!("{detail} {code_hint}").to_ascii_lowercase();
        let status = ["code", "status"]
            .iter()
            .find_map(|k| error.get(*k).and_then(Value::as_u64))
            .unwrap_or(0) as u16;
        let mut f = if is_context_overflow(&text) {
            Failure::new(
                ErrorCode::ContextLengthExceeded,
                400,
                format!(
                    "{who}: the conversation is longer than the model's context window: {detail}"
                ),
            )
        } else if is_quota(&text) || status == 402 {
            Failure::new(
                ErrorCode::InsufficientQuota,
                429,
                format!("{who}: the upstream account is out of quota or credit: {detail}"),
            )
        } else if status == 429 || text.contains("rate limit") || text.contains("rate_limit") {
            let mut f = Failure::new(
                ErrorCode::RateLimited,
                429,
                format!("{who}: rate limited: {detail}"),
            );
            f.retry_after = Some(DEFAULT_RETRY_AFTER_SECS);
            f
        } else if ((400..500).contains(&status) && status != 408)
            || [
                "invalid_request_error",
                "authentication_error",
                "permission_error",
                "not_found_error",
            ]
            .iter()
            .any(|t| text.contains(t))
        {
            Failure::new(
                ErrorCode::InvalidRequest,
                400,
                format!("{who}: the upstream rejected the request: {detail}"),
            )
        } else {
            Failure::transient(
                502,
                format!("{who}: the upstream reported an error mid-stream: {detail}"),
            )
        };
        if f.code == ErrorCode::RateLimited && !f.message.contains("try again in") {
            f.message = format!(
                "{} (try again in {}s)",
                f.message,
                f.retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)
            );
        }
        f
    }

    /// True for failures Codex understands only inside a stream (`response.failed`): a 200 SSE
    /// reply carries them even when no upstream byte has been streamed yet.
    pub fn needs_stream(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::InsufficientQuota | ErrorCode::ContextLengthExceeded
        )
    }

    /// The JSON body of an HTTP error reply, in the OpenAI error shape.
    pub fn http_body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.code.error_type(),
            "code": self.code_override.unwrap_or(self.code.wire_code()), "param": self.param}})
    }

    /// The `error` object of a failed Response.
    pub fn response_error(&self) -> Value {
        json!({"code": self.code.wire_code(), "message": self.message})
    }
}

fn is_context_overflow(text: &str) -> bool {
    [
        "context_length_exceeded",
        "context length",
        "maximum context",
        "context window",
        "prompt is too long",
        "too many tokens",
        "reduce the length",
        "input is too long",
        "exceeds the model's maximum",
        "tokens exceed",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn is_quota(text: &str) -> bool {
    [
        "insufficient_quota",
        "exceeded your current quota",
        "insufficient balance",
        "insufficient credits",
        "billing",
        "credit balance",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// The human message inside an upstream error body, or the body's start.
pub fn upstream_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let e = v.get("error").unwrap_or(&v);
        e.get("message")
            .or_else(|| e.get("detail"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| e.as_str().map(str::to_string))
            .or_else(|| v.get("detail").and_then(Value::as_str).map(str::to_string))
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    let text = if text.is_empty() {
        "(no message)".to_string()
    } else {
        text
    };
    truncate_chars(&text, 500)
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: &str = "model `m` (upstream m at api.example.com)";

    #[test]
    fn http_errors_map_to_what_codex_should_do() {
        let bad_key =
            Failure::from_http(401, r#"{"error":{"message":"Invalid API key"}}"#, None, WHO);
        assert_eq!(
            (bad_key.code, bad_key.status),
            (ErrorCode::InvalidRequest, 400)
        );
        assert!(
            bad_key.message.contains("model `m`") && bad_key.message.contains("Invalid API key"),
            "{}",
            bad_key.message
        );
        let limited = Failure::from_http(429, "slow down", Some("7"), WHO);
        assert_eq!(
            (limited.code, limited.status, limited.retry_after),
            (ErrorCode::RateLimited, 429, Some(7))
        );
        let limited = Failure::from_http(429, "slow down", None, WHO);
        assert_eq!(limited.retry_after, Some(DEFAULT_RETRY_AFTER_SECS));
        let quota = Failure::from_http(
            429,
            r#"{"error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}"#,
            None,
            WHO,
        );
        assert_eq!(quota.code, ErrorCode::InsufficientQuota);
        assert!(quota.needs_stream());
        let credit = Failure::from_http(
            402,
            r#"{"error":{"message":"Insufficient Balance"}}"#,
            None,
            WHO,
        );
        assert_eq!(credit.code, ErrorCode::InsufficientQuota);
        let long = Failure::from_http(
            400,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens"}}"#,
            None,
            WHO,
        );
        assert_eq!(long.code, ErrorCode::ContextLengthExceeded);
        let down = Failure::from_http(503, "<html>", Some("2"), WHO);
        assert_eq!(
            (down.code, down.status, down.retry_after),
            (ErrorCode::ServerError, 503, Some(2))
        );
        assert_eq!(Failure::from_http(500, "", None, WHO).status, 502);
        let overloaded = Failure::from_http(
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            None,
            WHO,
        );
        assert_eq!(
            (overloaded.code, overloaded.status, overloaded.retry_after),
            (ErrorCode::ServerError, 503, Some(DEFAULT_RETRY_AFTER_SECS))
        );
        assert!(overloaded.message.contains("Overloaded"));
        assert_eq!(
            Failure::from_http(404, "no such model", None, WHO).status,
            400
        );
    }

    #[test]
    fn inband_errors_are_classified() {
        let e = Failure::from_inband(
            &serde_json::json!({"message": "Rate limit reached", "code": 429}),
            WHO,
        );
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.message.contains("try again in 5s"));
        let e = Failure::from_inband(&serde_json::json!({"message": "boom", "code": 500}), WHO);
        assert_eq!(e.code, ErrorCode::ServerError);
        let e = Failure::from_inband(&serde_json::json!({"message": "prompt is too long"}), WHO);
        assert_eq!(e.code, ErrorCode::ContextLengthExceeded);
        // Anthropic's in-stream error objects.
        let e = Failure::from_inband(
            &serde_json::json!({"type": "overloaded_error", "message": "Overloaded"}),
            WHO,
        );
        assert_eq!(e.code, ErrorCode::ServerError);
        let e = Failure::from_inband(
            &serde_json::json!({"type": "invalid_request_error", "message": "bad"}),
            WHO,
        );
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = Failure::from_inband(
            &serde_json::json!({"type": "rate_limit_error", "message": "slow"}),
            WHO,
        );
        assert_eq!(e.code, ErrorCode::RateLimited);
    }
}
