//! The UI's Codex Desktop wizard: the bundle's state, the dry run, the patch and the restore
//! ([`crate::patch`]), under the same token and origin rules as the rest of the UI API.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppState;
use crate::desktop::{Platform, SystemRunner};
use crate::patch::{self, needles::Search, Bundle, Options};

fn bundle(state: &AppState) -> Bundle {
    Bundle::new(state.options.desktop_app.clone())
}

/// What the wizard's first screen shows.
pub(super) async fn state(State(state): State<Arc<AppState>>) -> Json<Value> {
    let b = bundle(&state);
    let dir = state.options.state_dir.clone();
    let v = tokio::task::spawn_blocking(move || {
        // One read of the app for both the state and the targets.
        let inspection = patch::inspect(&b);
        let targets: Vec<Value> = match &inspection {
            Ok(i) => i
                .targets
                .iter()
                .map(|t| {
                    let found = match &t.search {
                        Search::One(f) => format!("found in {}", f.file),
                        Search::AlreadyPatched { file } => format!("patched in {file}"),
                        _ => "not patchable".into(),
                    };
                    json!({"label": t.label, "found": found, "refusal": t.refusal})
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let status = patch::status_of(&b, &dir, inspection);
        let backups: Vec<Value> = patch::apply::backups(&dir)
            .into_iter()
            .map(|(d, v, _)| json!({"version": v, "dir": d}))
            .collect();
        json!({"app": b.app, "status": status.describe(), "state": status.kind(),
               "targets": targets, "backups": backups})
    })
    .await
    .unwrap_or_else(|_| json!({"error": "the check failed"}));
    Json(v)
}

#[derive(Deserialize, Default)]
struct Run {
    #[serde(default)]
    quit: bool,
}

async fn run(state: Arc<AppState>, body: Bytes, what: &'static str) -> Json<Value> {
    let req: Run = serde_json::from_slice(&body).unwrap_or_default();
    let b = bundle(&state);
    let dir = state.options.state_dir.clone();
    let opts = Options {
        dry_run: what == "plan",
        quit_running: req.quit,
        platform: Platform::current(),
    };
    let report = tokio::task::spawn_blocking(move || match what {
        "restore" => patch::restore(&b, &dir, &SystemRunner, opts),
        _ => patch::apply(&b, &dir, &SystemRunner, opts),
    })
    .await
    .map(|r| serde_json::to_value(r).unwrap_or_default())
    .unwrap_or_else(
        |_| json!({"ok": false, "steps": [{"step": what, "ok": false, "detail": "failed"}]}),
    );
    if report["changed"] == true {
        tracing::info!("Codex Desktop {what}: {}", report["version"]);
    }
    Json(report)
}

pub(super) async fn plan(State(state): State<Arc<AppState>>, body: Bytes) -> Json<Value> {
    run(state, body, "plan").await
}

pub(super) async fn apply(State(state): State<Arc<AppState>>, body: Bytes) -> Json<Value> {
    run(state, body, "patch").await
}

pub(super) async fn restore(State(state): State<Arc<AppState>>, body: Bytes) -> Json<Value> {
    run(state, body, "restore").await
}
