//! The UI's usage API: totals per day and model, the recorded requests, and the Test button.
//!
//! | route                        | what                                                      |
//! |------------------------------|-----------------------------------------------------------|
//! | `GET /api/usage?days&model`  | the same list `codex-shim usage --json` prints            |
//! | `GET /api/requests?…`        | ledger rows, newest first (`model`, `outcome`, `before`, `limit`) |
//! | `GET /api/requests/{id}`     | one row, every field                                      |
//! | `POST /api/test {slug}`      | one minimal request through the model's real route        |
//!
//! Database reads run on the blocking pool, never on the async workers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ui::deny;
use super::AppState;
use crate::store::{Record, RequestFilter, Store};

#[derive(Deserialize)]
pub(super) struct UsageQuery {
    days: Option<u32>,
    model: Option<String>,
}

/// Runs `f` on the ledger's database off the async workers; an empty answer without one.
async fn with_store<T: Send + 'static>(
    state: &AppState,
    empty: T,
    f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    let Some(path) = state.ledger().map(|l| l.path().to_path_buf()) else {
        return Ok(empty);
    };
    let done = tokio::task::spawn_blocking(move || match Store::open_existing(&path)? {
        Some(store) => f(&store).map(Some),
        None => Ok(None),
    })
    .await;
    match done {
        Ok(Ok(Some(v))) => Ok(v),
        Ok(Ok(None)) => Ok(empty),
        Ok(Err(e)) => Err(deny(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the usage ledger cannot be read: {e}"),
        )),
        Err(_) => Err(deny(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the usage ledger failed",
        )),
    }
}

pub(super) async fn usage(State(state): State<Arc<AppState>>, q: Query<UsageQuery>) -> Response {
    let settings = state.settings();
    let days = q.days.unwrap_or(7).clamp(1, 3650);
    let model = q.model.clone().filter(|m| !m.is_empty());
    match with_store(&state, Vec::new(), move |s| {
        s.usage(days, model.as_deref(), |slug, up| {
            settings.prices_for(slug, up)
        })
    })
    .await
    {
        Ok(rows) => Json(rows).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub(super) struct RequestsQuery {
    model: Option<String>,
    outcome: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

pub(super) async fn requests(
    State(state): State<Arc<AppState>>,
    q: Query<RequestsQuery>,
) -> Response {
    let filter = RequestFilter {
        slug: q.model.clone().filter(|m| !m.is_empty()),
        outcome: q.outcome.clone().filter(|o| !o.is_empty()),
        before_id: q.before,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    match with_store(&state, Vec::new(), move |s| s.requests(&filter)).await {
        Ok(rows) => Json(rows).into_response(),
        Err(r) => r,
    }
}

pub(super) async fn request(State(state): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
    match with_store(&state, None, move |s| s.request(id)).await {
        Ok(Some(row)) => Json(row).into_response(),
        Ok(None) => deny(StatusCode::NOT_FOUND, &format!("no request {id}")),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct TestBody {
    slug: String,
}

/// What the Test button sends: the smallest request that still goes the model's whole way.
fn test_request(slug: &str) -> Value {
    json!({"model": slug, "stream": true, "store": false,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Reply with the single word OK."}]}]})
}

pub(super) async fn test(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(TestBody { slug }) = serde_json::from_slice(&body) else {
        return deny(StatusCode::BAD_REQUEST, "expected {\"slug\": …}");
    };
    let reply =
        super::responses::test(state.clone(), Bytes::from(test_request(&slug).to_string())).await;
    let status = reply.status().as_u16();
    // Read the stream to its end: the request is over, and its ledger row written, only then.
    let text = match axum::body::to_bytes(reply.into_body(), 16 * 1024 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let row = match state.ledger() {
        Some(ledger) => {
            let ledger = ledger.clone();
            let slug = slug.clone();
            tokio::task::spawn_blocking(move || {
                ledger.flush(Duration::from_secs(5));
                let store = Store::open_existing(ledger.path()).ok()??;
                let rows = store
                    .requests(&RequestFilter {
                        slug: Some(slug),
                        limit: 20,
                        ..Default::default()
                    })
                    .ok()?;
                rows.into_iter().find(|r| r.is_test)
            })
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    let (ok, sentence) = match &row {
        Some(r) => explain(r),
        None if status == 200 && text.contains("\"response.completed\"") => {
            (true, "OK: the model answered.".to_string())
        }
        None => (false, format!("Failed (HTTP {status}).")),
    };
    Json(json!({"ok": ok, "message": sentence, "request": row})).into_response()
}

/// The Test button's answer, in one sentence.
pub(crate) fn explain(r: &Record) -> (bool, String) {
    let detail = r.error.as_deref().unwrap_or("no detail");
    let http = r
        .http_status
        .map(|s| format!(" (HTTP {s})"))
        .unwrap_or_default();
    match (r.outcome.as_str(), r.error_class.as_deref()) {
        ("completed", _) => (
            true,
            match r.ttfb_ms {
                Some(t) => format!("OK in {} ms, first token after {t} ms.", r.duration_ms),
                None => format!("OK in {} ms.", r.duration_ms),
            },
        ),
        ("incomplete", _) => (
            true,
            format!(
                "It answers, but the answer was cut short ({} ms).",
                r.duration_ms
            ),
        ),
        (_, Some("auth")) => (false, format!("The key was rejected{http}: {detail}")),
        (_, Some("not_found")) => (
            false,
            format!("The upstream does not know this model or URL{http}: {detail}"),
        ),
        (_, Some("unreachable")) => (false, format!("The host cannot be reached: {detail}")),
        (_, Some("quota")) => (
            false,
            format!("The account is out of quota or credit: {detail}"),
        ),
        (_, Some("rate_limited")) => (false, format!("Rate limited{http}: {detail}")),
        (_, Some("rejected")) => (false, format!("codex-shim refused it: {detail}")),
        _ => (false, format!("Failed{http}: {detail}")),
    }
}
