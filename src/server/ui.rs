//! The web UI at `/ui` and its API at `/api`.
//!
//! The page itself holds nothing secret and is served to anyone on an allowed Host. Every `/api`
//! call needs the per-launch token (`x-codex-shim-token` header; `?token=` only for the event
//! stream, which browsers cannot give headers), compared in constant time. State-changing calls
//! also need an allowed `Origin` (or none, for non-browser clients) and a `Sec-Fetch-Site` that
//! is not cross-site, on top of the JSON-only rule every POST already has. No CORS headers are
//! ever sent, so another site's page can neither read nor write. Key values are accepted, never
//! returned.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppState;
use crate::{active, keys, secrets};

const INDEX: &str = include_str!("../../ui/index.html");

/// The page's files, embedded: plain HTML, CSS and one JS module per view, no build step.
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../ui/app.css"),
    ),
    ("app.js", JS, include_str!("../../ui/app.js")),
    ("lib.js", JS, include_str!("../../ui/lib.js")),
    ("models.js", JS, include_str!("../../ui/models.js")),
    ("presets.js", JS, include_str!("../../ui/presets.js")),
    ("usage.js", JS, include_str!("../../ui/usage.js")),
    ("requests.js", JS, include_str!("../../ui/requests.js")),
    ("keys.js", JS, include_str!("../../ui/keys.js")),
    ("desktop.js", JS, include_str!("../../ui/desktop.js")),
    ("status.js", JS, include_str!("../../ui/status.js")),
];
const JS: &str = "text/javascript; charset=utf-8";

pub(super) fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let api = Router::new()
        .route("/api/status", get(status))
        .route("/api/models", get(super::ui_models::list))
        .route("/api/models/save", post(super::ui_models::save))
        .route("/api/models/delete", post(super::ui_models::remove))
        .route("/api/log", get(server_log))
        .route("/api/desktop", get(super::ui_desktop::state))
        .route("/api/desktop/plan", post(super::ui_desktop::plan))
        .route("/api/desktop/patch", post(super::ui_desktop::apply))
        .route("/api/desktop/restore", post(super::ui_desktop::restore))
        .route("/api/active", post(set_active))
        .route("/api/keys", get(list_keys))
        .route("/api/keys/set", post(set_key))
        .route("/api/keys/delete", post(delete_key))
        .route("/api/launch", post(launch))
        .route("/api/events", get(events))
        .route("/api/usage", get(super::ui_usage::usage))
        .route("/api/requests", get(super::ui_usage::requests))
        .route("/api/requests/{id}", get(super::ui_usage::request))
        .route("/api/test", post(super::ui_usage::test))
        .route("/api/models/suggest", post(super::ui_models::suggest))
        // On the API's own routes only: an unknown path gets the server's 404, not a token error.
        .route_layer(axum::middleware::from_fn_with_state(state, api_guard));
    Router::new()
        .route(
            "/ui",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/ui/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route("/ui/{file}", get(ui_file))
        .merge(api)
}

async fn ui_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match FILES.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, body)) => page(body, content_type),
        None => deny(StatusCode::NOT_FOUND, "no such file"),
    }
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Nothing external: no CDN, no framing by other sites.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(super) fn deny(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({"error": why}))).into_response()
}

/// Constant-time equality, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn api_guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(expected) = state.options.ui_token.as_deref() else {
        return deny(StatusCode::NOT_FOUND, "the UI API is off");
    };
    let from_header = req
        .headers()
        .get("x-codex-shim-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let from_query = (req.uri().path() == "/api/events")
        .then(|| {
            req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("token=").map(str::to_string))
            })
        })
        .flatten();
    let given = from_header.or(from_query).unwrap_or_default();
    if !same(given.as_bytes(), expected.as_bytes()) {
        return deny(
            StatusCode::UNAUTHORIZED,
            "missing or wrong UI token (open the UI with `codex-shim ui`)",
        );
    }
    if req.method() != Method::GET {
        if let Some(origin) = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        {
            if !origin_allowed(&state, origin) {
                tracing::warn!(origin, "refused a UI API call from another origin");
                return deny(StatusCode::FORBIDDEN, "cross-origin request refused");
            }
        }
        if req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|s| s == "cross-site" || s == "same-site")
        {
            return deny(StatusCode::FORBIDDEN, "cross-site request refused");
        }
    }
    next.run(req).await
}

/// `http://<allowed host>:<our port>` only.
fn origin_allowed(state: &AppState, origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h.trim_matches(|c| c == '[' || c == ']'), p),
        None => return false,
    };
    port == state.options.port.to_string()
        && state
            .options
            .allowed_hosts
            .contains(&host.to_ascii_lowercase())
}

async fn status(State(state): State<Arc<AppState>>) -> Json<Value> {
    let settings = state.settings();
    let places = state.places();
    let login = match state.options.chatgpt_enabled {
        true => state.logins.current().await,
        false => None,
    };
    let passthrough = login.is_some();
    let (cli, app, desktop) = tokio::task::spawn_blocking(codex_versions)
        .await
        .unwrap_or_default();
    let bundle = crate::patch::Bundle::new(state.options.desktop_app.clone());
    let dir = state.options.state_dir.clone();
    let patch = tokio::task::spawn_blocking(move || crate::patch::status_cached(&bundle, &dir))
        .await
        .map(|s| s.describe())
        .unwrap_or_default();
    // Counts and size only: the conversations themselves never leave the store here.
    let stored = match &state.responses {
        Some(r) => r
            .with(|s| s.responses_size())
            .await
            .map(|(count, bytes)| json!({"count": count, "bytes": bytes}))
            .unwrap_or(Value::Null),
        None => Value::Null,
    };
    Json(json!({
        "version": crate::VERSION,
        "stored_responses": stored,
        "port": state.options.port,
        "enabled": places.editor().active_model().is_some(),
        "config_path": places.editor().config_path,
        "active_model": active::active_model(&places, &settings, passthrough),
        "chatgpt_login": passthrough,
        // Account, plan, expiry, last refresh: never a token.
        "chatgpt": login.as_ref().map(crate::chatgpt::Login::summary),
        "codex_cli": cli,
        "codex_desktop": desktop,
        "codex_desktop_path": app,
        "desktop_patch": patch,
        "settings_files": settings.sources.iter().map(|s| json!({"path": s.path, "models": s.models})).collect::<Vec<_>>(),
        "settings_error": state.settings_error(),
    }))
}

/// The installed Codex CLI's and Codex Desktop's versions, re-checked at most every 30 s
/// (`codex --version` starts Node).
fn codex_versions() -> (Option<String>, std::path::PathBuf, Option<String>) {
    type Cached = Option<(
        std::time::Instant,
        (Option<String>, std::path::PathBuf, Option<String>),
    )>;
    static CACHE: std::sync::Mutex<Cached> = std::sync::Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, v)) = cache.as_ref() {
        if at.elapsed() < std::time::Duration::from_secs(30) {
            return v.clone();
        }
    }
    let runner = crate::desktop::SystemRunner;
    let app = crate::desktop::default_app();
    let v = (
        crate::desktop::cli_version(&runner, &crate::codex::codex_binary()),
        app.clone(),
        crate::desktop::app_version(&app),
    );
    *cache = Some((std::time::Instant::now(), v.clone()));
    v
}

/// The newest lines of the server's own log.
async fn server_log() -> Json<Value> {
    Json(json!({ "lines": crate::logtail::tail().recent() }))
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

async fn set_active(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(Name { name }) = serde_json::from_slice(&body) else {
        return deny(StatusCode::BAD_REQUEST, "expected {\"name\": …}");
    };
    let settings = state.settings();
    match active::use_model(&state.places(), &settings, &name, state.has_login().await) {
        Ok(s) => {
            Json(json!({"ok": true, "slug": s.slug, "in_config": s.in_config})).into_response()
        }
        Err(e) => deny(StatusCode::BAD_REQUEST, &e),
    }
}

async fn list_keys(State(state): State<Arc<AppState>>) -> Json<Value> {
    let rows: Vec<Value> = keys::key_status(&state.settings())
        .into_iter()
        .map(|k| json!({"name": k.name, "found": k.found.label(), "used_by": k.slugs}))
        .collect();
    Json(json!({ "keys": rows }))
}

#[derive(Deserialize)]
struct SetKey {
    name: String,
    value: String,
}

async fn set_key(body: Bytes) -> Response {
    let Ok(SetKey { name, value }) = serde_json::from_slice(&body) else {
        return deny(
            StatusCode::BAD_REQUEST,
            "expected {\"name\": …, \"value\": …}",
        );
    };
    if !secrets::valid_name(&name) || value.is_empty() {
        return deny(
            StatusCode::BAD_REQUEST,
            "a key needs a name (letters, digits, _ - .) and a value",
        );
    }
    match secrets::set(&name, &value) {
        Ok(()) => Json(json!({"ok": true, "name": name})).into_response(),
        Err(e) => deny(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot store `{name}`: {e}"),
        ),
    }
}

async fn delete_key(body: Bytes) -> Response {
    let Ok(Name { name }) = serde_json::from_slice(&body) else {
        return deny(StatusCode::BAD_REQUEST, "expected {\"name\": …}");
    };
    match secrets::delete(&name) {
        Ok(deleted) => Json(json!({"ok": true, "name": name, "deleted": deleted})).into_response(),
        Err(e) => deny(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot delete `{name}`: {e}"),
        ),
    }
}

#[derive(Deserialize)]
struct LaunchReq {
    target: String,
    #[serde(default)]
    path: Option<String>,
}

async fn launch(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(LaunchReq { target, path }) = serde_json::from_slice(&body) else {
        return deny(
            StatusCode::BAD_REQUEST,
            "expected {\"target\": \"desktop\"|\"cli\"}",
        );
    };
    let project = path
        .map(std::path::PathBuf::from)
        .or_else(crate::paths::home_dir)
        .unwrap_or_else(|| ".".into());
    let launcher = state.launcher.clone();
    match tokio::task::spawn_blocking(move || launcher.launch(&target, &project)).await {
        Ok(Ok(message)) => Json(json!({"ok": true, "message": message})).into_response(),
        Ok(Err(message)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"ok": false, "error": message})),
        )
            .into_response(),
        Err(_) => deny(StatusCode::INTERNAL_SERVER_ERROR, "the launcher failed"),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    #[allow(dead_code)]
    token: Option<String>,
}

/// The live log: one SSE event per finished request, and `event: log` per server log line.
async fn events(
    State(state): State<Arc<AppState>>,
    _q: Query<EventsQuery>,
    _h: HeaderMap,
) -> Response {
    use tokio::sync::broadcast::{error::RecvError, Receiver};
    fn frames<T: Clone + Send + 'static>(
        rx: Receiver<T>,
        frame: fn(T) -> String,
    ) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
        futures_util::stream::unfold(rx, move |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(v) => return Some((Ok(Bytes::from(frame(v))), rx)),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        })
    }
    let requests = frames(state.events.subscribe(), |v: Value| {
        format!("data: {v}\n\n")
    });
    let lines = frames(crate::logtail::tail().subscribe(), |l: String| {
        format!("event: log\ndata: {}\n\n", Value::String(l))
    });
    let stream = futures_util::stream::select(requests, lines);
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
