//! What the UI's Logs view shows: one summary per finished request (the same record the log
//! line is written from), and the last failure of each model for the Models view.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::broadcast;

/// One finished request: the log line and the UI's live-log event. Never a prompt or a key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub model: String,
    pub route: &'static str,
    pub upstream_status: Option<u16>,
    pub outcome: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub ttfb_ms: Option<u64>,
    pub duration_ms: u64,
    pub error: Option<String>,
}

impl Summary {
    /// Writes the log line and publishes the event.
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
        events.send(json!({
            "time_ms": now_ms(), "model": self.model, "route": self.route, "status": self.upstream_status, "outcome": self.outcome,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "ttfb_ms": self.ttfb_ms,
            "duration_ms": self.duration_ms, "error": self.error,
        }));
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The request summaries: a broadcast for live viewers, and each model's latest failure (cleared
/// by its next success).
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Value>,
    last_error: Arc<Mutex<HashMap<String, Value>>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(256).0,
            last_error: Arc::default(),
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
