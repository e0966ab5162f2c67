//! Native Responses forwarding: BYOK models with `wireApi: "responses"`, and the ChatGPT
//! passthrough. The same machinery for both:
//! - the body goes through [`crate::translate::native::prepare_body`] (model name, and only what
//!   the target rejects removed);
//! - the ChatGPT reply streams back byte for byte, with the backend's status, `Retry-After` and
//!   headers (rate-limit headers feed Codex's UI); a BYOK reply gets the slug written back as its
//!   model, event by event, and a tool call the upstream commits as `incomplete` (cut by its
//!   output-token limit) is not passed on, so Codex never runs it;
//! - a side parser reads usage for the one log line per request without touching the bytes.
//!
//! Dropping the reply (Codex went away) drops the upstream stream, which cancels the request.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use super::responses::failure_response;
use super::AppState;
use crate::chatgpt::{self, Login};
use crate::settings::{ModelConfig, ResolvedModel};
use crate::translate::native::{cut_call, prepare_body, Target, WriteBack};
use crate::translate::sse::{frame, SseParser};
use crate::translate::Failure;

/// Request headers of Codex's that the ChatGPT backend uses (session affinity, turn metadata).
const FORWARDED: [&str; 14] = [
    "originator",
    "user-agent",
    "session-id",
    "session_id",
    "thread-id",
    "conversation_id",
    "x-client-request-id",
    "x-codex-turn-metadata",
    "x-codex-window-id",
    "x-codex-beta-features",
    "x-codex-turn-state",
    "x-openai-subagent",
    "openai-beta",
    "version",
];

/// One forwarded call.
pub(super) struct NativeCall {
    url: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    who: String,
    slug: String,
    stream: bool,
    /// Written back into reply events; empty passes the bytes through untouched.
    write_back: WriteBack,
    chatgpt: bool,
    secrets: Vec<String>,
    /// The upstream's name for the model (the ledger's `upstream_model`).
    upstream_model: String,
    meta: super::RequestMeta,
    /// Where the response is stored before its terminal event goes out, if the client asked.
    store: Option<super::stateful::StoreCtx>,
}

/// `Content-Type: application/json`, and an `Accept` for a stream or a JSON reply.
pub(super) fn json_headers(stream: bool) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        ACCEPT,
        HeaderValue::from_static(if stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    h
}

fn sensitive(v: &str) -> Option<HeaderValue> {
    let mut h = HeaderValue::from_str(v).ok()?;
    h.set_sensitive(true);
    Some(h)
}

/// The call to the ChatGPT backend for `path` (`/responses` or `/responses/compact`).
pub(super) fn chatgpt_call(
    body: Value,
    incoming: &HeaderMap,
    login: &Login,
    base_url: &str,
    path: &str,
    stream: bool,
) -> NativeCall {
    let slug = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(chatgpt::SLUG)
        .to_string();
    let (body, dropped) = prepare_body(body, chatgpt::SLUG, Target::ChatGpt);
    if !dropped.is_empty() {
        tracing::info!(model = %slug, ?dropped, "removed from the request before it went to ChatGPT");
    }
    let mut headers = reqwest::header::HeaderMap::new();
    for name in FORWARDED {
        if let Some(v) = incoming.get(name) {
            headers.insert(HeaderName::from_static(name), v.clone());
        }
    }
    headers.extend(json_headers(stream));
    headers
        .extend(sensitive(&format!("Bearer {}", login.access_token)).map(|v| (AUTHORIZATION, v)));
    if let Some(acc) = login
        .account_id
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        headers.insert("chatgpt-account-id", acc);
    }
    // Byte-for-byte means the alias is not written back; the backend names its model itself.
    NativeCall {
        url: format!("{}{path}", base_url.trim_end_matches('/')),
        headers,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        who: format!(
            "model `{slug}` (ChatGPT subscription at {})",
            host_of(base_url)
        ),
        slug,
        stream,
        write_back: WriteBack::default(),
        chatgpt: true,
        secrets: vec![login.access_token.clone()],
        upstream_model: chatgpt::SLUG.to_string(),
        meta: Default::default(),
        store: None,
    }
}

/// The call to a BYOK Responses upstream for `path`.
pub(super) fn byok_call(
    model: &ModelConfig,
    resolved: ResolvedModel,
    body: Value,
    path: &str,
    stream: bool,
) -> NativeCall {
    let (body, dropped) = prepare_body(body, &model.model, Target::Byok);
    if !dropped.is_empty() {
        tracing::info!(model = %model.slug, ?dropped, "removed from the request before it went upstream");
    }
    let base = resolved.base_url.trim_end_matches('/');
    let base = if crate::settings::has_version_segment(base) {
        base.to_string()
    } else {
        format!("{base}/v1")
    };
    let mut headers = reqwest::header::HeaderMap::new();
    headers.extend(json_headers(stream));
    if let Some(key) = &resolved.api_key {
        headers.extend(sensitive(&format!("Bearer {key}")).map(|v| (AUTHORIZATION, v)));
    }
    for (name, value) in &resolved.extra_headers {
        if let (Ok(n), Some(v)) = (HeaderName::from_bytes(name.as_bytes()), sensitive(value)) {
            headers.insert(n, v);
        }
    }
    let url = format!("{base}{path}");
    NativeCall {
        who: format!(
            "model `{}` (upstream `{}` at {})",
            model.slug,
            model.model,
            host_of(&url)
        ),
        url,
        headers,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        slug: model.slug.clone(),
        stream,
        write_back: WriteBack {
            slug: Some(model.slug.clone()),
            previous_response_id: None,
        },
        chatgpt: false,
        secrets: resolved
            .api_key
            .iter()
            .chain(resolved.extra_headers.iter().map(|(_, v)| v))
            .filter(|v| v.len() >= 8)
            .cloned()
            .collect(),
        upstream_model: model.model.clone(),
        meta: Default::default(),
        store: None,
    }
}

fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

impl NativeCall {
    /// Records the call as coming in on `meta`'s endpoint (and as a test, from the UI).
    pub(super) fn with_meta(mut self, meta: super::RequestMeta) -> Self {
        self.meta = meta;
        self
    }

    /// Stores the response (before its terminal event goes out) when the client asked, and
    /// names the `previous_response_id` the shim resolved in the reply.
    pub(super) fn with_store(
        mut self,
        store: Option<super::stateful::StoreCtx>,
        resolved_previous: Option<String>,
    ) -> Self {
        self.store = store;
        self.write_back.previous_response_id = resolved_previous;
        self
    }

    /// A summary of this call, filled in by the caller.
    fn summary(&self, route: &'static str, started: Instant) -> super::Summary {
        super::Summary {
            model: self.slug.clone(),
            upstream_model: Some(self.upstream_model.clone()),
            route,
            endpoint: self.meta.endpoint,
            is_test: self.meta.is_test,
            duration_ms: started.elapsed().as_millis() as u64,
            ..Default::default()
        }
    }

    /// Writes `slug` back as the reply's model (the compact endpoint answers in JSON, where the
    /// requested alias is what the client expects to see).
    pub(super) fn write_model_back(&mut self, slug: &str) {
        self.write_back.slug = Some(slug.to_string());
    }

    /// Sends with `login` from now on (after a refresh); both tokens stay redacted.
    fn use_login(&mut self, login: &Login) {
        if let Some(v) = sensitive(&format!("Bearer {}", login.access_token)) {
            self.headers.insert(AUTHORIZATION, v);
        }
        match login
            .account_id
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            Some(acc) => self.headers.insert("chatgpt-account-id", acc),
            None => self.headers.remove("chatgpt-account-id"),
        };
        self.secrets.insert(0, login.access_token.clone());
    }

    fn redact(&self, mut text: String) -> String {
        for s in &self.secrets {
            text = text.replace(s.as_str(), "[redacted]");
        }
        text
    }
}

/// The answer when no usable ChatGPT login is at hand: a 400 (Codex does not retry it) when only
/// `codex login` helps, a 502 (retried) when trying again may work.
pub(super) fn login_failure(model: &str, e: chatgpt::refresh::LoginError) -> Failure {
    use chatgpt::refresh::LoginError;
    match e {
        LoginError::Missing(why) => Failure::invalid(format!(
            "codex-shim: `{model}` uses your ChatGPT subscription, but {why}; {}",
            chatgpt::LOGIN_HINT
        )),
        LoginError::Permanent(why) => Failure::invalid(format!("codex-shim: {why}")),
        LoginError::Transient(why) => Failure::transient(502, format!("codex-shim: {why}")),
    }
}

/// Logs a call that failed before its reply could be passed on, and answers Codex with `f`.
fn failed(
    state: &AppState,
    call: &NativeCall,
    route: &'static str,
    started: Instant,
    upstream_status: Option<u16>,
    f: &Failure,
) -> Response {
    super::Summary {
        upstream_status,
        ..call.summary(route, started)
    }
    .failed(f)
    .emit(&state.events);
    failure_response(f, &call.slug, call.stream)
}

/// Sends the call and streams the reply back.
pub(super) async fn forward(state: Arc<AppState>, mut call: NativeCall) -> Response {
    let busy = state.in_flight.enter();
    let started = Instant::now();
    let route = if call.chatgpt { "chatgpt" } else { "responses" };
    let body = Bytes::from(std::mem::take(&mut call.body));
    let mut sent = state
        .upstream
        .post(&call.url, call.headers.clone(), body.clone())
        .await;
    // A ChatGPT login the backend refused: once, a login refreshed meanwhile (by Codex or another
    // request) or refreshed now, and the same request again. A second 401 is reported below.
    if call.chatgpt && matches!(&sent, Ok(r) if r.status() == StatusCode::UNAUTHORIZED) {
        let rejected = call.secrets.first().cloned().unwrap_or_default();
        match state.logins.after_rejection(&rejected).await {
            Ok(login) => {
                call.use_login(&login);
                sent = state
                    .upstream
                    .post(&call.url, call.headers.clone(), body.clone())
                    .await;
            }
            Err(e) => {
                let f = login_failure(&call.slug, e);
                return failed(&state, &call, route, started, Some(401), &f);
            }
        }
    }
    drop(body);
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            let f = Failure::transient(
                502,
                call.redact(format!("{}: cannot reach the upstream: {}", call.who, e)),
            );
            return failed(&state, &call, route, started, None, &f);
        }
    };
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        let retry_after = resp.headers().get(RETRY_AFTER).cloned();
        let text = call.redact(resp.text().await.unwrap_or_default());
        let f = if call.chatgpt && status == 401 {
            Failure::invalid(format!(
                "{}: the ChatGPT login was rejected (HTTP 401); {}",
                call.who,
                chatgpt::LOGIN_HINT
            ))
        } else {
            Failure::from_http(
                status,
                &text,
                retry_after.as_ref().and_then(|v| v.to_str().ok()),
                &call.who,
            )
        };
        super::Summary {
            upstream_status: Some(status),
            ..call.summary(route, started)
        }
        .failed(&f)
        .emit(&state.events);
        if call.chatgpt && status != 401 {
            // The backend's own answer, as it sent it.
            let mut r = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                text,
            )
                .into_response();
            r.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(v) = retry_after {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            return r;
        }
        return failure_response(&f, &call.slug, call.stream);
    }
    if let Some(f) = super::upstream::undecoded_encoding(&resp, &call.who) {
        return failed(&state, &call, route, started, Some(status), &f);
    }
    let mut headers = HeaderMap::new();
    for (name, value) in resp.headers() {
        if !matches!(
            name.as_str(),
            "content-length"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "content-encoding"
        ) {
            headers.append(name.clone(), value.clone());
        }
    }
    let is_sse = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_sse {
        // A JSON reply (non-streaming, or the compact endpoint).
        let bytes = resp.bytes().await.unwrap_or_default();
        let bytes = match serde_json::from_slice::<Value>(&bytes) {
            Ok(mut v) if !call.write_back.is_empty() => {
                if call.write_back.apply(&mut v) {
                    Bytes::from(v.to_string())
                } else {
                    bytes
                }
            }
            _ => bytes,
        };
        let reply = serde_json::from_slice::<Value>(&bytes).ok();
        if let (Some(ctx), Some(r)) = (&call.store, &reply) {
            if r.get("id").is_some() {
                ctx.save(r).await;
            }
        }
        let usage = reply.and_then(|v| v.get("usage").cloned());
        super::Summary {
            upstream_status: Some(status),
            outcome: "completed".into(),
            ..call.summary(route, started).with_usage(usage.as_ref())
        }
        .emit(&state.events);
        let mut r = Response::new(Body::from(bytes));
        *r.headers_mut() = headers;
        return r;
    }
    let upstream = resp.bytes_stream();
    let state0 = Sniffer {
        parser: SseParser::new(),
        write_back: call.write_back.clone(),
        summary: super::Summary {
            upstream_status: Some(status),
            ..call.summary(route, started)
        },
        started,
        outcome: None,
        usage: None,
        error: None,
        first_byte: None,
        events: state.events.clone(),
        logged: false,
        store: call.store.clone(),
        terminal: None,
        _busy: busy,
    };
    // State: the upstream, the sniffer, whether the stream is over, and an end or error that
    // turned up while batching (handled on the next turn).
    let body = futures_util::stream::unfold(
        (upstream, state0, false, None),
        |(mut up, mut sn, done, pending)| async move {
            if done {
                return None;
            }
            let item = match pending {
                Some(item) => item,
                None => up.next().await,
            };
            match item {
                Some(Ok(bytes)) => {
                    let mut parts = vec![sn.pass(bytes)];
                    // What came in the same read goes out in one write.
                    let next = super::sink::drain_ready(&mut up, |b| parts.push(sn.pass(b))).await;
                    let out = if parts.len() == 1 {
                        parts.pop().unwrap_or_default()
                    } else {
                        Bytes::from(parts.concat())
                    };
                    // A stored response is readable before the client sees its end.
                    if let (Some(ctx), Some(r)) = (sn.store.clone(), sn.terminal.take()) {
                        ctx.save(&r).await;
                    }
                    Some((Ok::<_, std::io::Error>(out), (up, sn, false, next)))
                }
                Some(Err(e)) => {
                    sn.outcome.get_or_insert_with(|| "cut".into());
                    sn.log();
                    let e = std::io::Error::other(e.without_url());
                    Some((Err(e), (up, sn, true, None)))
                }
                None => {
                    let tail = sn.finish();
                    if let (Some(ctx), Some(r)) = (sn.store.clone(), sn.terminal.take()) {
                        ctx.save(&r).await;
                    }
                    sn.log();
                    Some((Ok(tail), (up, sn, true, None)))
                }
            }
        },
    );
    let mut r = Response::new(Body::from_stream(body));
    *r.headers_mut() = headers;
    r
}

/// Watches (and, for BYOK, rewrites) the reply's events, and writes the request's summary when
/// the stream ends, breaks, or is dropped because the client went away (`cancelled`).
struct Sniffer {
    parser: SseParser,
    write_back: WriteBack,
    /// The summary so far: model, route, status.
    summary: super::Summary,
    started: Instant,
    outcome: Option<String>,
    usage: Option<Value>,
    /// A failed response's error: its message and class.
    error: Option<(String, &'static str)>,
    first_byte: Option<std::time::Duration>,
    events: super::Events,
    logged: bool,
    /// Where the response is stored, and the terminal event's Response once seen (taken when
    /// stored, before the bytes that carry it go out).
    store: Option<super::stateful::StoreCtx>,
    terminal: Option<Value>,
    /// Held until the body stream is dropped (finished, or the client went away).
    _busy: super::InFlightGuard,
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        // A terminal event already seen stands (Codex hangs up right after it).
        self.outcome.get_or_insert_with(|| "cancelled".into());
        self.log();
    }
}

impl Sniffer {
    fn pass(&mut self, bytes: Bytes) -> Bytes {
        self.first_byte
            .get_or_insert_with(|| self.started.elapsed());
        let events = self.parser.feed(&bytes);
        if self.write_back.is_empty() {
            events.iter().for_each(|e| self.observe(&e.data));
            return bytes;
        }
        let mut out = String::new();
        for e in events {
            out.push_str(&self.rewrite(&e.data, e.event.as_deref()));
        }
        Bytes::from(out)
    }

    fn finish(&mut self) -> Bytes {
        let events = self.parser.finish();
        if self.write_back.is_empty() {
            events.iter().for_each(|e| self.observe(&e.data));
            return Bytes::new();
        }
        Bytes::from(
            events
                .iter()
                .map(|e| self.rewrite(&e.data, e.event.as_deref()))
                .collect::<String>(),
        )
    }

    fn rewrite(&mut self, data: &str, name: Option<&str>) -> String {
        self.observe(data);
        if let Some(tool) = cut_call(data) {
            tracing::warn!(model = %self.summary.model, %tool, "the upstream committed a tool call it cut off; it is not passed on to run");
            return String::new();
        }
        // Only events that name a model are parsed and rewritten (created, in_progress and the
        // terminal ones); text deltas, nearly all of a stream, pass as they are. `"model"` cannot
        // occur inside a JSON string (its quotes would be escaped), so nothing is missed.
        let names_model = data.contains("\"model\"");
        let parsed = if names_model {
            serde_json::from_str::<Value>(data).ok()
        } else {
            None
        };
        match parsed {
            Some(mut v) => {
                self.write_back.apply(&mut v);
                frame(&v)
            }
            _ => match name {
                Some(n) => format!("event: {n}\ndata: {data}\n\n"),
                None => format!("data: {data}\n\n"),
            },
        }
    }

    fn observe(&mut self, data: &str) {
        // Only a terminal event is read (its outcome and usage). Its type is a JSON string value,
        // which an escaped string inside another event cannot imitate.
        let terminal = [
            "\"response.completed\"",
            "\"response.failed\"",
            "\"response.incomplete\"",
        ];
        if !terminal.iter().any(|t| data.contains(t)) {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return;
        };
        if let Some(kind) = v["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("response."))
            .filter(|t| matches!(*t, "completed" | "failed" | "incomplete"))
        {
            self.outcome = Some(kind.to_string());
            self.usage = v["response"].get("usage").cloned();
            if self.store.is_some() {
                let mut r = v["response"].clone();
                self.write_back.apply(&mut r);
                self.terminal = Some(r);
            }
            let error = &v["response"]["error"];
            if kind == "failed" {
                let class = match error["code"].as_str().unwrap_or_default() {
                    "rate_limit_exceeded" => "rate_limited",
                    "insufficient_quota" => "quota",
                    "context_length_exceeded" => "context_length",
                    "invalid_prompt" => "invalid_request",
                    _ => "server_error",
                };
                let message = error["message"].as_str().unwrap_or("failed").to_string();
                self.error = Some((message, class));
            }
        }
    }

    /// Writes the summary, once.
    fn log(&mut self) {
        if std::mem::replace(&mut self.logged, true) {
            return;
        }
        let (outcome, error) = match self.outcome.as_deref() {
            None => (
                "failed",
                Some((
                    "the upstream stream ended without a terminal event".to_string(),
                    "stream_error",
                )),
            ),
            Some("cut") => (
                "failed",
                Some((
                    "the upstream connection broke mid-stream".to_string(),
                    "stream_error",
                )),
            ),
            Some(o) => (o, self.error.clone()),
        };
        let mut summary = std::mem::take(&mut self.summary).with_usage(self.usage.as_ref());
        summary.outcome = outcome.to_string();
        summary.ttfb_ms = self.first_byte.map(|d| d.as_millis() as u64);
        summary.duration_ms = self.started.elapsed().as_millis() as u64;
        if let Some((message, class)) = error {
            summary.error = Some(message);
            summary.error_class = Some(class);
        }
        summary.emit(&self.events);
    }
}
