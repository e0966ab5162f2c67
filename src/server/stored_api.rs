//! The stored-response routes of OpenAI's API, and its 404 for anything else:
//!
//! | route                                   | what                                           |
//! |-----------------------------------------|------------------------------------------------|
//! | `GET /v1/responses/{id}`                | the stored Response object                     |
//! | `DELETE /v1/responses/{id}`             | `{"id", "object": "response", "deleted": true}`|
//! | `GET /v1/responses/{id}/input_items`    | its own input items: `limit`, `order`, `after` |
//!
//! Errors are in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppState;

fn error(status: StatusCode, message: String, code: Option<&str>) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})),
    )
        .into_response()
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("No response found with id '{id}'."),
        None,
    )
}

fn unavailable(e: String) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("codex-shim: stored responses cannot be read: {e}"),
        None,
    )
}

pub(super) async fn retrieve(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Response {
    let Some(r) = &state.responses else {
        return not_found(&id);
    };
    let key = id.clone();
    match r.with(move |s| s.response(&key)).await {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => not_found(&id),
        Err(e) => unavailable(e),
    }
}

pub(super) async fn delete(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(r) = &state.responses else {
        return not_found(&id);
    };
    let key = id.clone();
    match r.with(move |s| s.delete_response(&key)).await {
        Ok(true) => Json(json!({"id": id, "object": "response", "deleted": true})).into_response(),
        Ok(false) => not_found(&id),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    limit: Option<usize>,
    order: Option<String>,
    after: Option<String>,
}

pub(super) async fn input_items(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Query<ListQuery>,
) -> Response {
    let Some(r) = &state.responses else {
        return not_found(&id);
    };
    let key = id.clone();
    let items = match r.with(move |s| s.input_items(&key)).await {
        Ok(Some(items)) => items,
        Ok(None) => return not_found(&id),
        Err(e) => return unavailable(e),
    };
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    // The API's default order is newest first.
    let mut items = items;
    if q.order.as_deref() != Some("asc") {
        items.reverse();
    }
    let start = match &q.after {
        Some(after) => match items.iter().position(|i| i["id"] == after.as_str()) {
            Some(p) => p + 1,
            None => items.len(),
        },
        None => 0,
    };
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let has_more = start + page.len() < items.len();
    Json(json!({
        "object": "list",
        "first_id": page.first().map(|i| i["id"].clone()),
        "last_id": page.last().map(|i| i["id"].clone()),
        "has_more": has_more,
        "data": page,
    }))
    .into_response()
}

/// OpenAI's answer to a URL it does not serve.
pub(super) async fn unknown(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "Unknown request URL: {method} {}. codex-shim serves /v1/responses, /v1/models and /health.",
            uri.path()
        ),
        Some("unknown_url"),
    )
}
