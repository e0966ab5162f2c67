//! The UI's Models view: the list (with each model's key status and latest failure), and adding,
//! editing and removing models in the shim's own settings file ([`crate::settings::edit`]).
//! After a write the settings are reloaded at once, so the answer already reflects it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ui::deny;
use super::AppState;
use crate::settings::edit::{self, ModelEdit};
use crate::settings::{url_secrets, Provider, SettingsSource, WireApi};
use crate::{active, catalog, chatgpt, keys};

pub(super) async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    let settings = state.settings();
    let passthrough = state.has_login().await;
    let active = active::active_model(&state.places(), &settings, passthrough);
    let keys = keys::key_status(&settings);
    let own = state.options.reload_from.as_ref().map(edit::own_file);
    let mut rows = Vec::new();
    if passthrough {
        rows.push(json!({"slug": chatgpt::SLUG, "display_name": "GPT-5.5 (ChatGPT)", "provider": "chatgpt", "route": "chatgpt", "model": chatgpt::SLUG,
            "context_window": 272_000, "key": "chatgpt login", "active": active.as_deref() == Some(chatgpt::SLUG),
            "last_error": state.events.last_error(chatgpt::SLUG), "editable": false}));
    }
    for m in &settings.models {
        let key_name = m.key_names().into_iter().next();
        let key = match &key_name {
            None if m.api_key.is_some() => "in settings file".to_string(),
            None => "none".to_string(),
            Some(n) => keys
                .iter()
                .find(|k| &k.name == n)
                .map(|k| k.found.label())
                .unwrap_or_default(),
        };
        let route = match (m.provider, m.wire_api) {
            (Provider::Anthropic, _) => "anthropic messages",
            (_, WireApi::Responses) => "responses",
            _ => "chat completions",
        };
        rows.push(json!({
            "slug": m.slug, "display_name": m.display_name, "provider": m.provider.as_str(), "route": route, "model": m.model,
            "context_window": catalog::context_window(m), "key": key, "key_name": key_name,
            "active": active.as_deref() == Some(m.slug.as_str()),
            "last_error": state.events.last_error(&m.slug),
            // A key written into the URL is not shown (a save puts it back; see url_secrets).
            "base_url": url_secrets::masked(&m.base_url), "max_context_limit": m.max_context_limit, "no_image_support": m.no_image_support,
            "wire_api": matches!(m.wire_api, WireApi::Responses).then_some("responses"),
            "source": m.source, "editable": own.as_ref() == Some(&m.source),
        }));
    }
    Json(json!({ "models": rows, "file": own }))
}

#[derive(Deserialize)]
struct SaveRequest {
    #[serde(flatten)]
    edit: ModelEdit,
    /// A key typed into the form: stored in the keychain, never written to the file or returned.
    #[serde(default)]
    key_value: Option<String>,
}

fn source(state: &AppState) -> Option<SettingsSource> {
    state.options.reload_from.clone()
}

fn no_source() -> Response {
    deny(
        StatusCode::CONFLICT,
        "this server was started without a settings file to edit",
    )
}

/// Re-reads the settings now (the watcher would, a moment later) and rewrites the catalog.
async fn reload(state: &AppState, source: &SettingsSource) {
    if super::reload::reload_now(state, source) {
        super::reload::write_catalog(state, state.has_login().await);
    }
}

pub(super) async fn save(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let mut req: SaveRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return deny(StatusCode::BAD_REQUEST, &format!("expected a model: {e}")),
    };
    // The list showed keys in the base URL masked: put the stored ones back where the form kept
    // the mask.
    if let Some(sent) = req
        .edit
        .base_url
        .as_deref()
        .filter(|u| u.contains(url_secrets::MASK))
    {
        let settings = state.settings();
        let stored = req
            .edit
            .original
            .as_deref()
            .and_then(|slug| settings.find(slug))
            .map(|m| m.base_url.clone())
            .unwrap_or_default();
        let url = url_secrets::restored(sent, &stored);
        if url.contains(url_secrets::MASK) {
            return deny(
                StatusCode::BAD_REQUEST,
                &format!("the base URL still holds {}, a hidden key with nothing to restore it from: type the key in again", url_secrets::MASK),
            );
        }
        req.edit.base_url = Some(url);
    }
    let Some(source) = source(&state) else {
        return no_source();
    };
    let backups = state.options.state_dir.join("backups");
    let worker = state.clone();
    let src = source.clone();
    let result = tokio::task::spawn_blocking(move || {
        edit::save(
            &src,
            &worker.settings(),
            &req.edit,
            req.key_value.as_deref(),
            &backups,
        )
    })
    .await;
    match result {
        Ok(Ok(saved)) => {
            reload(&state, &source).await;
            Json(json!({"ok": true, "slug": saved.slug, "file": saved.file, "key_name": saved.key_name}))
                .into_response()
        }
        Ok(Err(e)) => deny(StatusCode::BAD_REQUEST, &e),
        Err(_) => deny(StatusCode::INTERNAL_SERVER_ERROR, "the save failed"),
    }
}

#[derive(Deserialize)]
struct Slug {
    slug: String,
}

pub(super) async fn remove(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(Slug { slug }) = serde_json::from_slice(&body) else {
        return deny(StatusCode::BAD_REQUEST, "expected {\"slug\": …}");
    };
    let Some(source) = source(&state) else {
        return no_source();
    };
    let backups = state.options.state_dir.join("backups");
    match edit::remove(&source, &state.settings(), &slug, &backups) {
        Ok(file) => {
            reload(&state, &source).await;
            Json(json!({"ok": true, "slug": slug, "file": file})).into_response()
        }
        Err(e) => deny(StatusCode::BAD_REQUEST, &e),
    }
}

#[derive(Deserialize)]
pub(super) struct SuggestBody {
    provider: String,
    base_url: String,
    #[serde(default)]
    key_name: Option<String>,
    #[serde(default)]
    key_value: Option<String>,
}

/// The models a provider lists at `{base}/models`, as suggestions for the add-model form. The key
/// is the one typed, else the named variable or keychain entry; it goes only to that URL, and
/// never back to the page.
pub(super) async fn suggest(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(b) = serde_json::from_slice::<SuggestBody>(&body) else {
        return deny(
            StatusCode::BAD_REQUEST,
            "expected {\"provider\", \"base_url\", \"key_name\"?, \"key_value\"?}",
        );
    };
    let base = b.base_url.trim().trim_end_matches('/').to_string();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return deny(
            StatusCode::BAD_REQUEST,
            "the base URL must start with http:// or https://",
        );
    }
    let typed = b.key_value.filter(|v| !v.is_empty());
    let key = match (typed, b.key_name.filter(|n| !n.is_empty())) {
        (Some(v), _) => Some(v),
        (None, Some(name)) => tokio::task::spawn_blocking(move || {
            std::env::var(&name)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| crate::secrets::get(&name).ok().flatten())
        })
        .await
        .ok()
        .flatten(),
        (None, None) => None,
    };
    let url = if crate::settings::has_version_segment(&base) {
        format!("{base}/models")
    } else {
        format!("{base}/v1/models")
    };
    let mut req = state
        .client
        .get(&url)
        .timeout(std::time::Duration::from_secs(10));
    if let Some(k) = &key {
        req = if b.provider == "anthropic" {
            req.header("x-api-key", k)
                .header("anthropic-version", "2023-06-01")
        } else {
            req.bearer_auth(k)
        };
    }
    let host = reqwest::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let redact = |text: String| match &key {
        Some(k) if k.len() >= 8 => text.replace(k.as_str(), "[redacted]"),
        _ => text,
    };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Json(json!({"models": [], "error": redact(format!("cannot reach {host}: {}", e.without_url()))}))
                .into_response()
        }
    };
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return Json(json!({"models": [], "error": format!("{host} answered HTTP {status} without a model list")})).into_response();
    };
    let mut ids: Vec<String> = v["data"]
        .as_array()
        .or(v["models"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str().or(m["name"].as_str()))
        .map(|id| id.trim_start_matches("models/").to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(500);
    let error = (status >= 400).then(|| redact(format!("{host} answered HTTP {status}")));
    Json(json!({"models": ids, "error": error})).into_response()
}
