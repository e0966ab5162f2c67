//! `POST /v1/responses`.
//!
//! The request is parsed leniently, routed by model slug, translated, and sent upstream. What
//! happens before the first byte decides the reply: a permanent upstream error becomes HTTP 400, a
//! rate limit 429 with `Retry-After`, a transient failure 502/503/504, and quota or context
//! overflow a 200 stream ending in `response.failed` (the only form Codex reads them in). Once the
//! stream has started, every outcome is a terminal event. `stream: false` runs the same pipeline
//! and answers with the final Response object.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;

use super::native;
use super::prepare::Prepared;
use super::sink::{self, Source};
use super::upstream;
use super::AppState;
use crate::chatgpt;
use crate::protocol::responses::{RequestHead, ResponsesRequest};
use crate::settings::WireApi;
use crate::translate::encoder::{EncoderConfig, ResponsesEncoder};
use crate::translate::{sse, Failure};

/// The two endpoints that take a Responses request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    /// `POST /v1/responses`.
    Responses,
    /// `POST /v1/responses/compact` (older Codex builds): a JSON `{"output": [...]}` summary.
    Compact,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Responses => "/responses",
            Endpoint::Compact => "/responses/compact",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Endpoint::Responses => "responses",
            Endpoint::Compact => "compact",
        }
    }
}

/// What the compact endpoint asks a translated upstream for.
pub const COMPACT_PROMPT: &str = "Summarise this conversation so another coding agent can take over seamlessly. \
Keep: the task and the user's requirements, decisions made, files touched and their paths, commands run and what they showed, \
the current state, and the next steps. Be concise and specific; leave out pleasantries and repetition.";

pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    read_and_route(state, headers, body, Endpoint::Responses).await
}

pub(super) async fn compact(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    read_and_route(state, headers, body, Endpoint::Compact).await
}

/// Reads the body within the request budget (see [`super::budget`]), then routes it.
async fn read_and_route(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Body,
    endpoint: Endpoint,
) -> Response {
    match state.budget.read(&headers, body, super::BODY_LIMIT).await {
        Ok((body, share)) => route(state, &headers, body, Some(share), endpoint, false).await,
        Err(f) => error_response(&f),
    }
}

/// One request from the UI's Test button: the real route, recorded as a test.
pub(super) async fn test(state: Arc<AppState>, body: Bytes) -> Response {
    route(
        state,
        &HeaderMap::new(),
        body,
        None,
        Endpoint::Responses,
        true,
    )
    .await
}

/// Answers a request refused before any upstream was asked, recording it (route `none`).
fn refuse(state: &AppState, slug: &str, meta: super::RequestMeta, f: &Failure) -> Response {
    super::Summary {
        model: slug.to_string(),
        route: "none",
        endpoint: meta.endpoint,
        is_test: meta.is_test,
        ..Default::default()
    }
    .failed(f)
    .emit(&state.events);
    error_response(f)
}

/// A compact request for a translated upstream: the conversation plus a summary instruction,
/// without tools, answered as one JSON Response.
fn summary_request(mut raw: Value) -> Value {
    if let Some(obj) = raw.as_object_mut() {
        obj.insert("stream".into(), Value::Bool(false));
        obj.remove("tools");
        obj.remove("tool_choice");
        let prompt = serde_json::json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": COMPACT_PROMPT}]});
        match obj.get_mut("input") {
            Some(Value::Array(items)) => items.push(prompt),
            Some(Value::String(text)) => {
                let first = serde_json::json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]});
                obj.insert("input".into(), Value::Array(vec![first, prompt]));
            }
            _ => {
                obj.insert("input".into(), Value::Array(vec![prompt]));
            }
        }
    }
    raw
}

/// Routes one request. The raw body, the typed request and the `share` of the request budget are
/// dropped once the upstream's body is built: a stream holds only what it needs to stream.
async fn route(
    state: Arc<AppState>,
    headers: &HeaderMap,
    body: Bytes,
    share: Option<super::budget::Share>,
    endpoint: Endpoint,
    is_test: bool,
) -> Response {
    let meta = super::RequestMeta {
        endpoint: endpoint.name(),
        is_test,
    };
    // Routing needs two fields (a scan that keeps nothing else). Then a native route forwards the
    // body as a JSON tree, and a translated one reads it straight into the typed request: parsing
    // is the largest cost of a request, so each route parses once, into what it uses.
    let invalid = |slug: &str, e: serde_json::Error| {
        let f = Failure::invalid(format!(
            "codex-shim: the request body is not a valid Responses request: {e}"
        ));
        refuse(&state, slug, meta, &f)
    };
    let req = match serde_json::from_slice::<RequestHead>(&body) {
        Ok(h) => h,
        Err(e) => return invalid("(unreadable request)", e),
    };
    let refused = |f: Failure| refuse(&state, &req.model, meta, &f);
    let stream = endpoint == Endpoint::Responses && req.stream;
    let passthrough = chatgpt::is_passthrough(&req.model) && state.options.chatgpt_enabled;
    let settings = state.settings();
    let found = settings.find(&req.model).cloned();
    // State for clients that keep it on the server (`store`, `previous_response_id`,
    // `item_reference`); Codex's requests pass untouched.
    let ready = if endpoint == Endpoint::Responses {
        let fields = super::stateful::StateFields {
            store: req.store,
            previous_response_id: req.previous_response_id.clone(),
            from_codex: headers
                .get("originator")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|o| o.starts_with("codex")),
        };
        let native = passthrough
            || found
                .as_ref()
                .is_some_and(|m| m.provider.is_chat() && m.wire_api == WireApi::Responses);
        match super::stateful::prepare(state.responses.as_ref(), &body, &fields, native).await {
            Ok(r) => r,
            Err(f) => return refused(f),
        }
    } else {
        super::stateful::Ready {
            body: None,
            store: None,
            echo: Default::default(),
            resolved_previous: None,
        }
    };
    let body: Bytes = match ready.body {
        Some(resolved) => Bytes::from(resolved),
        None => body,
    };
    let tree = || serde_json::from_slice::<Value>(&body);
    if passthrough {
        // Refreshed first when it is about to expire: nothing is sent with an expired token.
        let login = match state.logins.for_request().await {
            Ok(l) => l,
            Err(e) => return refused(native::login_failure(&req.model, e)),
        };
        let raw = match tree() {
            Ok(v) => v,
            Err(e) => return invalid(&req.model, e),
        };
        drop((body, share));
        let mut call = native::chatgpt_call(
            raw,
            headers,
            &login,
            &state.options.chatgpt_base_url,
            endpoint.path(),
            stream,
        )
        .with_meta(meta)
        .with_store(ready.store.clone(), ready.resolved_previous.clone());
        if endpoint == Endpoint::Compact {
            call.write_model_back(&req.model);
        }
        return native::forward(state, call).await;
    }
    let Some(model) = found else {
        let known = settings.slugs().join(", ");
        let msg = if known.is_empty() {
            format!("codex-shim: unknown model `{}`: no models are configured (add them to ~/.codex-shim/models.json or pass --settings)", req.model)
        } else {
            format!(
                "codex-shim: unknown model `{}`; configured models: {known}",
                req.model
            )
        };
        tracing::warn!(model = %req.model, "request for an unknown model");
        return refused(Failure::invalid(msg));
    };
    // Most models resolve from the environment alone (or have nothing to resolve): inline. Only
    // one that needs the keychain (a D-Bus round trip on Linux) goes off the async workers.
    let inline = model.resolve_with(|name| std::env::var(name).ok());
    let resolved = match inline {
        Ok(r) => Ok(Ok(r)),
        Err(_) => {
            let to_resolve = model.clone();
            tokio::task::spawn_blocking(move || to_resolve.resolve()).await
        }
    };
    let resolved = match resolved {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return refused(Failure::invalid(format!("codex-shim: {e}"))),
        Err(_) => {
            return refused(Failure::transient(
                500,
                "codex-shim: resolving the model's key failed unexpectedly",
            ))
        }
    };
    if model.provider.is_chat() && model.wire_api == WireApi::Responses {
        let raw = match tree() {
            Ok(v) => v,
            Err(e) => return invalid(&req.model, e),
        };
        drop((body, share));
        let call = native::byok_call(&model, resolved, raw, endpoint.path(), stream)
            .with_meta(meta)
            .with_store(ready.store.clone(), ready.resolved_previous.clone());
        return native::forward(state, call).await;
    }
    // Translated routes answer a compact request with a one-off summary from the upstream.
    let req = match endpoint {
        Endpoint::Responses => match serde_json::from_slice::<ResponsesRequest>(&body) {
            Ok(r) => r,
            Err(e) => return invalid(&req.model, e),
        },
        Endpoint::Compact => {
            match tree().and_then(|raw| ResponsesRequest::from_raw(summary_request(raw))) {
                Ok(r) => r,
                Err(e) => {
                    return refused(Failure::invalid(format!(
                        "codex-shim: the compact request cannot be summarised: {e}"
                    )))
                }
            }
        }
    };
    let prepared = Prepared::new(&model, resolved, &req, body.len(), ready.echo.clone());
    drop((req, body, share));
    if !prepared.dropped.is_empty() {
        tracing::info!(model = %model.slug, dropped = ?prepared.dropped, "parts of the request cannot go to this upstream");
    }

    // Wait (briefly) for the upstream's answer, so its errors can be proper HTTP statuses.
    let mut started = upstream::begin(&state, prepared, &model, meta, ready.store.clone()).await;
    if let upstream::BeginState::Failed(failure, status) = &started.state {
        if !failure.needs_stream() {
            let (failure, status) = (failure.clone(), *status);
            started.log.finish(status, &failure);
            return error_response(&failure);
        }
    }
    let (sink, source) = sink::channel(stream);
    tokio::spawn(upstream::run(state.clone(), started, sink));
    match source {
        Source::Sse(rx) => sink::sse_response(rx).await,
        Source::Json(rx) => json_response(rx).await,
    }
}

/// Collects the stream and answers with the final Response object.
async fn json_response(mut rx: mpsc::Receiver<Value>) -> Response {
    let mut last = None;
    while let Some(ev) = rx.recv().await {
        last = Some(ev);
    }
    let Some(mut terminal) = last else {
        return error_response(&Failure::transient(
            502,
            "codex-shim: the stream ended without a result",
        ));
    };
    let response = terminal["response"].take();
    if response["status"] == "failed" {
        let code = response["error"]["code"].as_str().unwrap_or("server_error");
        let status = match code {
            "context_length_exceeded" | "invalid_prompt" => StatusCode::BAD_REQUEST,
            "insufficient_quota" | "rate_limit_exceeded" => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_GATEWAY,
        };
        let body = serde_json::json!({"error": {"message": response["error"]["message"], "type": "server_error", "code": code}});
        return (status, axum::Json(body)).into_response();
    }
    axum::Json(response).into_response()
}

/// An HTTP error in the OpenAI error shape, with `Retry-After` when known.
pub(super) fn error_response(f: &Failure) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = (status, axum::Json(f.http_body())).into_response();
    if let Some(secs) = f.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

/// A failure before any upstream byte: an HTTP error, except the failures Codex reads only as
/// `response.failed` (quota, context overflow), which become a short stream (or, for a JSON
/// request, the failed Response's error with a matching status).
pub(super) fn failure_response(f: &Failure, model: &str, stream: bool) -> Response {
    if !f.needs_stream() {
        return error_response(f);
    }
    let mut enc = ResponsesEncoder::new(EncoderConfig {
        model: model.to_string(),
        tools: Default::default(),
        parallel_tool_calls: true,
        tool_choice: Value::from("auto"),
        echo: Default::default(),
    });
    let mut events = enc.start();
    events.extend(enc.fail(f));
    if stream {
        let mut buf = Vec::new();
        for ev in &events {
            sse::write_frame(&mut buf, ev);
        }
        sink::sse_complete(Bytes::from(buf))
    } else {
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(f.http_body())).into_response()
    }
}
