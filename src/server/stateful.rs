//! State for Responses clients that keep it on the server, as OpenAI's API does: `store`
//! (default true), `previous_response_id` and `item_reference`.
//!
//! Codex sends every turn whole with `store: false`: its requests take the fast path here (two
//! top-level fields and one byte search), and nothing is read or written. Any other request is
//! read as a tree: a `previous_response_id` the shim stored puts that conversation before the new
//! input, `item_reference`s are replaced by the stored items, and when `store` is on, the
//! response is saved before its terminal event goes out, so a client can continue at once.
//!
//! On a native Responses route an id the shim did not store is left for the upstream (which may
//! have stored it itself); a translated route answers it with OpenAI's 400.

use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::store::{Store, StoredResponse};
use crate::translate::encoder::Echo;
use crate::translate::{new_id, Failure};

/// Days a stored response is kept unless `CODEX_SHIM_STORE_RETENTION_DAYS` says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The stored responses' size cap unless `CODEX_SHIM_STORE_MAX_MB` says otherwise.
pub const DEFAULT_MAX_MB: u64 = 512;

/// The stored responses, on the embedded database; opened on first use.
pub struct Responses {
    path: std::path::PathBuf,
    retention_days: u32,
    max_bytes: u64,
    store: Mutex<Option<Store>>,
    /// When the store was last pruned (seconds since the epoch).
    pruned: Mutex<u64>,
}

impl std::fmt::Debug for Responses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responses")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Days stored responses are kept (`CODEX_SHIM_STORE_RETENTION_DAYS`, default 30).
pub fn retention_days() -> u32 {
    env_num(
        "CODEX_SHIM_STORE_RETENTION_DAYS",
        DEFAULT_RETENTION_DAYS.into(),
    )
    .min(u32::MAX.into()) as u32
}

/// The stored responses' size cap in bytes (`CODEX_SHIM_STORE_MAX_MB`, default 512).
pub fn max_bytes() -> u64 {
    env_num("CODEX_SHIM_STORE_MAX_MB", DEFAULT_MAX_MB).saturating_mul(1024 * 1024)
}

impl Responses {
    pub fn new(path: std::path::PathBuf) -> Arc<Self> {
        Arc::new(Responses {
            path,
            retention_days: retention_days(),
            max_bytes: max_bytes(),
            store: Mutex::new(None),
            pruned: Mutex::new(0),
        })
    }

    /// Runs `f` on the open store, off the async workers.
    pub async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = me.store.lock().unwrap_or_else(|e| e.into_inner());
            if guard.is_none() {
                *guard = Some(Store::open(&me.path).map_err(|e| e.to_string())?);
            }
            let store = guard.as_mut().expect("opened above");
            // Retention and the size cap: when first opened, then once a day.
            let now = now_secs();
            let mut pruned = me.pruned.lock().unwrap_or_else(|e| e.into_inner());
            if now.saturating_sub(*pruned) >= 86_400 {
                if let Err(e) = store.prune_responses(me.retention_days, me.max_bytes, now) {
                    tracing::warn!("stored responses: pruning failed: {e}");
                }
                *pruned = now;
            }
            drop(pruned);
            f(store).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("the response store task failed: {e}"))?
    }
}

/// What a request needs kept to store its response.
#[derive(Debug, Clone)]
pub struct StoreCtx {
    pub responses: Arc<Responses>,
    /// The request's own input items (references resolved, ids given), not the chain's.
    pub input: Vec<Value>,
    pub previous_response_id: Option<String>,
}

impl StoreCtx {
    /// Saves the final Response object `response` (its `output` are the output items).
    pub async fn save(&self, response: &Value) {
        let Some(id) = response["id"].as_str() else {
            return;
        };
        let r = StoredResponse {
            id: id.to_string(),
            created_at: response["created_at"].as_u64().unwrap_or_else(now_secs),
            model: response["model"].as_str().unwrap_or_default().to_string(),
            previous_response_id: self.previous_response_id.clone(),
            response: response.clone(),
            input: self.input.clone(),
            output: response["output"].as_array().cloned().unwrap_or_default(),
        };
        if let Err(e) = self.responses.with(move |s| s.save_response(&r)).await {
            tracing::warn!("a response could not be stored: {e}");
        }
    }
}

/// A request made ready: its body (rewritten when state was resolved), what to store, and what
/// the Response object echoes.
pub struct Ready {
    pub body: Option<Vec<u8>>,
    pub store: Option<StoreCtx>,
    pub echo: Echo,
    /// The `previous_response_id` the shim resolved itself (a native upstream never sees it).
    pub resolved_previous: Option<String>,
}

/// The top-level fields that decide whether a request needs state.
#[derive(Debug, Default)]
pub struct StateFields {
    pub store: Option<bool>,
    pub previous_response_id: Option<String>,
    /// The `originator` header names Codex.
    pub from_codex: bool,
}

/// `"type": "item_reference"` can only be a key's value: inside a JSON string its quotes would
/// be escaped, so a byte search finds exactly the requests that use one.
fn has_item_reference(body: &[u8]) -> bool {
    memchr::memmem::find(body, b"\"item_reference\"").is_some()
}

/// Reads what the request needs from the store, or returns it unchanged (Codex).
pub async fn prepare(
    responses: Option<&Arc<Responses>>,
    body: &[u8],
    f: &StateFields,
    native: bool,
) -> Result<Ready, Failure> {
    let store_on = f.store != Some(false);
    // Codex's path: `store: false` and no previous response (references to stored items come
    // only from clients that store).
    if !store_on && f.previous_response_id.is_none() {
        return Ok(Ready {
            body: None,
            store: None,
            echo: Echo {
                tools: None,
                store: false,
                previous_response_id: None,
            },
            resolved_previous: None,
        });
    }
    let refs = has_item_reference(body);
    let mut tree: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        Failure::invalid(format!(
            "codex-shim: the request body is not a valid Responses request: {e}"
        ))
    })?;
    let own = own_input(tree.remove("input"));
    let mut input = own.clone();
    let mut changed = false;
    let mut chain_is_ours = true;
    let mut resolved_previous = None;
    if let Some(prev) = &f.previous_response_id {
        let found = match responses {
            Some(r) => {
                let id = prev.clone();
                r.with(move |s| s.conversation(&id))
                    .await
                    .map_err(read_failed)?
            }
            None => Err(prev.clone()),
        };
        match found {
            Ok(mut items) => {
                items.append(&mut input);
                input = items;
                tree.remove("previous_response_id");
                resolved_previous = Some(prev.clone());
                changed = true;
            }
            // Not one of ours: the native upstream may have stored it itself.
            Err(missing) if native && missing == *prev => chain_is_ours = false,
            Err(missing) => return Err(not_found(prev, &missing)),
        }
    }
    if refs {
        // Every reference in one read of the store.
        let is_ref = |i: &Value| i["type"] == "item_reference";
        let ids: Vec<String> = input
            .iter()
            .filter(|i| is_ref(i))
            .map(|i| i["id"].as_str().unwrap_or_default().to_string())
            .collect();
        let found: Vec<Option<Value>> = match responses {
            Some(r) => {
                let keys = ids.clone();
                r.with(move |s| keys.iter().map(|k| s.item(k)).collect())
                    .await
                    .map_err(read_failed)?
            }
            None => vec![None; ids.len()],
        };
        let slots = input.iter_mut().filter(|i| is_ref(i));
        for ((slot, id), item) in slots.zip(&ids).zip(found) {
            match item {
                Some(item) => {
                    *slot = item;
                    changed = true;
                }
                None if native => {}
                None => {
                    return Err(Failure::invalid(format!(
                        "codex-shim: item_reference `{id}` names no stored item (was its response stored, and not deleted?)"
                    )))
                }
            }
        }
    }
    // What this response's own input is, references resolved (for `input_items` and chains).
    let own_resolved: Vec<Value> = if refs {
        let skip = input.len() - own.len();
        input[skip..].to_vec()
    } else {
        own
    };
    let echo = Echo {
        tools: (!f.from_codex)
            .then(|| Arc::new(tree.get("tools").cloned().unwrap_or_else(|| json!([])))),
        store: store_on,
        previous_response_id: f.previous_response_id.clone(),
    };
    let store = match responses {
        Some(r) if store_on && chain_is_ours => Some(StoreCtx {
            responses: r.clone(),
            input: own_resolved.into_iter().map(with_id).collect(),
            previous_response_id: f.previous_response_id.clone(),
        }),
        _ => None,
    };
    tree.insert("input".into(), Value::Array(input));
    let body = changed.then(|| serde_json::to_vec(&tree).unwrap_or_default());
    Ok(Ready {
        body,
        store,
        echo,
        resolved_previous,
    })
}

/// The store could not be read (a broken or locked database file): a retryable 500.
fn read_failed(e: String) -> Failure {
    Failure::transient(
        500,
        format!("codex-shim: stored responses cannot be read: {e}"),
    )
}

/// OpenAI's answer to an unknown `previous_response_id` (`missing` is the link of its chain
/// that is gone: the id itself, or a response before it that was deleted or pruned).
pub fn not_found(id: &str, missing: &str) -> Failure {
    let message = if id == missing {
        format!("Previous response with id '{id}' not found.")
    } else {
        format!("Previous response with id '{missing}' not found (an earlier turn of '{id}'; deleted, or older than the store keeps).")
    };
    let mut f = Failure::invalid(message);
    f.code_override = Some("previous_response_not_found");
    f.param = Some("previous_response_id");
    f
}

/// The request's `input` as a list of items (a string is one user message).
fn own_input(input: Option<Value>) -> Vec<Value> {
    match input {
        Some(Value::Array(items)) => items,
        Some(Value::String(text)) => vec![json!({"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]})],
        _ => Vec::new(),
    }
}

/// An input item with an `id`, as the API's `input_items` list gives every one.
fn with_id(mut item: Value) -> Value {
    if item.get("id").and_then(Value::as_str).is_none() {
        let prefix = match item["type"].as_str().unwrap_or("message") {
            "function_call_output" => "fco",
            "custom_tool_call_output" => "ctco",
            "function_call" => "fc",
            "custom_tool_call" => "ctc",
            "reasoning" => "rs",
            _ => "msg",
        };
        if let Value::Object(map) = &mut item {
            map.insert("id".into(), json!(new_id(prefix)));
        }
    }
    if item.get("type").is_none() {
        if let Value::Object(map) = &mut item {
            map.insert("type".into(), json!("message"));
        }
    }
    item
}
