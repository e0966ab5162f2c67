//! What the UI's Logs view shows: one summary per finished request (the same record the log
//! line is written from), and the last failure of each model for the Models view.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::store::{Ledger, Record};
use crate::translate::{ErrorCode, Failure};

/// One finished request: the log line, the UI's live-log event and the ledger's row. Never a
/// prompt or a key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    /// The slug Codex asked for.
    pub model: String,
    pub upstream_model: Option<String>,
    pub route: &'static str,
    /// `responses` or `compact` (empty reads as `responses`).
    pub endpoint: &'static str,
    pub upstream_status: Option<u16>,
    pub outcome: String,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub ttfb_ms: Option<u64>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub error_class: Option<&'static str>,
    /// Sent by the UI's Test button.
    pub is_test: bool,
}

/// Where a request came in, and whether the UI's Test button sent it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RequestMeta {
    /// `responses` or `compact`.
    pub endpoint: &'static str,
    pub is_test: bool,
}

/// What a failure was, in a word the UI can explain: from its class and the upstream's status
/// (`None`: the upstream never answered).
pub(crate) fn error_class(f: &Failure, upstream_status: Option<u16>) -> &'static str {
    match (f.code, upstream_status) {
        (ErrorCode::ContextLengthExceeded, _) => "context_length",
        (ErrorCode::InsufficientQuota, _) => "quota",
        (ErrorCode::RateLimited, _) => "rate_limited",
        (ErrorCode::InvalidRequest, Some(401 | 403)) => "auth",
        (ErrorCode::InvalidRequest, Some(404)) => "not_found",
        (ErrorCode::InvalidRequest, Some(_)) => "invalid_request",
        (ErrorCode::InvalidRequest, None) => "rejected",
        (ErrorCode::ServerError, None) => "unreachable",
        (ErrorCode::ServerError, Some(s)) if s >= 500 => "server_error",
        (ErrorCode::ServerError, Some(_)) => "stream_error",
    }
}

impl Summary {
    /// With the token counts of a Responses `usage` object (absent fields count 0).
    pub(crate) fn with_usage(mut self, usage: Option<&Value>) -> Self {
        if let Some(u) = usage {
            let n = |v: &Value| v.as_u64().unwrap_or(0);
            self.input_tokens = n(&u["input_tokens"]);
            self.cached_tokens = n(&u["input_tokens_details"]["cached_tokens"]);
            self.output_tokens = n(&u["output_tokens"]);
            self.reasoning_tokens = n(&u["output_tokens_details"]["reasoning_tokens"]);
        }
        self
    }

    /// This summary as a failure: `f`'s message and class.
    pub(crate) fn failed(mut self, f: &Failure) -> Self {
        self.outcome = "failed".into();
        self.error = Some(f.message.clone());
        self.error_class = Some(error_class(f, self.upstream_status));
        self
    }

    /// Writes the log line, publishes the event and records the ledger row.
    pub(crate) fn emit(self, events: &Events) {
        tracing::info!(
            model = %self.model,
            route = self.route,
            upstream_status = self.upstream_status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            outcome = %self.outcome,
            input_tokens = self.input_tokens,
            output_tokens = self.output_tokens,
            ttfb_ms = self.ttfb_ms.unwrap_or(0),
            duration_ms = self.duration_ms,
            error = self.error.as_deref().unwrap_or(""),
            "request"
        );
        let time_ms = now_ms();
        events.send(json!({
            "time_ms": time_ms, "model": self.model, "route": self.route, "status": self.upstream_status, "outcome": self.outcome,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "ttfb_ms": self.ttfb_ms,
            "duration_ms": self.duration_ms, "error": self.error, "test": self.is_test,
        }));
        if let Some(ledger) = &events.ledger {
            ledger.record(Record {
                id: 0,
                ts_ms: time_ms,
                output_tokens_per_s: Record::rate(
                    self.output_tokens,
                    self.ttfb_ms,
                    self.duration_ms,
                ),
                slug: self.model,
                upstream_model: self.upstream_model,
                route: self.route.to_string(),
                endpoint: if self.endpoint.is_empty() {
                    "responses"
                } else {
                    self.endpoint
                }
                .to_string(),
                http_status: self.upstream_status,
                outcome: self.outcome,
                input_tokens: self.input_tokens,
                cached_tokens: self.cached_tokens,
                output_tokens: self.output_tokens,
                reasoning_tokens: self.reasoning_tokens,
                ttfb_ms: self.ttfb_ms,
                duration_ms: self.duration_ms,
                error_class: self.error_class.map(str::to_string),
                error: self.error,
                is_test: self.is_test,
            });
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The request summaries: a broadcast for live viewers, each model's latest failure (cleared by
/// its next success), and the usage ledger when there is one.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Value>,
    last_error: Arc<Mutex<HashMap<String, Value>>>,
    pub(crate) ledger: Option<Ledger>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(256).0,
            last_error: Arc::default(),
            ledger: None,
        }
    }
}

impl Events {
    /// Publishes a summary (nobody listening is fine).
    pub fn send(&self, summary: Value) {
        if let Some(model) = summary["model"].as_str() {
            let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
            if summary["outcome"] == "completed" {
                last.remove(model);
            } else {
                let why = summary["error"]
                    .as_str()
                    .or(summary["outcome"].as_str())
                    .unwrap_or("failed");
                last.insert(
                    model.to_string(),
                    json!({"time_ms": summary["time_ms"], "error": why}),
                );
            }
        }
        let _ = self.tx.send(summary);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.tx.subscribe()
    }

    /// `{time_ms, error}` of the model's latest request, when that one failed.
    pub fn last_error(&self, model: &str) -> Option<Value> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(model)
            .cloned()
    }
}
