//! Live reload of the settings files and `auth.json`.
//!
//! The parent directories are watched with `notify` (so editors that save by rename, and files
//! created after start, are seen); events are debounced. A once-a-second check of the files'
//! fingerprint backs the watcher up (a directory that did not exist when watching began, a
//! platform without events). On a change: reload, swap the settings (requests in flight keep
//! theirs), and rewrite the catalog atomically. A broken file keeps the last good settings
//! serving; the error is logged once and reported by `/health` until the file is fixed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::AppState;
use crate::settings::Settings;

/// How long after a file event to wait for the rest of a save (editors write in several steps).
const DEBOUNCE: Duration = Duration::from_millis(150);
/// The backstop check.
const POLL: Duration = Duration::from_secs(1);

/// Starts the reload task when the server knows where its settings came from.
pub fn spawn(state: Arc<AppState>) -> Option<tokio::task::JoinHandle<()>> {
    state.options.reload_from.as_ref()?;
    Some(tokio::spawn(run(state)))
}

/// The deepest existing directory holding `path` (or that would hold it once created).
fn watch_dir(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|d| d.is_dir())
        .map(Path::to_path_buf)
}

async fn run(state: Arc<AppState>) {
    let Some(source) = state.options.reload_from.clone() else {
        return;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        let _ = tx.send(());
    })
    .map_err(|e| {
        tracing::warn!("settings watcher unavailable ({e}); checking every second instead")
    })
    .ok();
    let mut files = source.files();
    files.push(state.options.codex_home.join("auth.json"));
    let mut dirs: Vec<PathBuf> = files.iter().filter_map(|f| watch_dir(f)).collect();
    dirs.sort();
    dirs.dedup();
    if let Some(w) = watcher.as_mut() {
        for d in &dirs {
            if let Err(e) = w.watch(d, RecursiveMode::NonRecursive) {
                tracing::debug!("cannot watch {}: {e}", d.display());
            }
        }
    }
    let mut passthrough = state.has_login().await;
    let mut tick = tokio::time::interval(POLL);
    let mut ticks: u64 = 0;
    loop {
        let event = tokio::select! {
            event = rx.recv() => {
                if event.is_none() {
                    return;
                }
                tokio::time::sleep(DEBOUNCE).await;
                while rx.try_recv().is_ok() {}
                true
            }
            _ = tick.tick() => false,
        };
        ticks += 1;
        // A login in the keychain has no file to watch: it is looked at every KEYCHAIN_EVERY
        // ticks (a keychain read is a round trip to another process), a file on every tick.
        let keychain = crate::chatgpt::storage::mode(&state.options.codex_home)
            != crate::chatgpt::storage::Mode::File;
        let now_passthrough = if event || !keychain || ticks % KEYCHAIN_EVERY == 0 {
            state.has_login().await
        } else {
            passthrough
        };
        let changed = reload_now(&state, &source);
        if changed || now_passthrough != passthrough {
            passthrough = now_passthrough;
            write_catalog(&state, passthrough);
        }
    }
}

/// How many polls apart a login kept in the keychain is looked at.
const KEYCHAIN_EVERY: u64 = 15;

/// Reloads if the files changed. Returns true when new settings were installed.
pub fn reload_now(state: &AppState, source: &crate::settings::SettingsSource) -> bool {
    match Settings::load(source) {
        Ok(new) => {
            if state.settings_error().is_some() {
                tracing::info!("settings are valid again");
                state.set_settings_error(None);
            }
            if new.fingerprint == state.settings().fingerprint {
                return false;
            }
            tracing::info!(models = new.models.len(), slugs = %new.slugs().join(", "), "settings reloaded");
            state.replace_settings(new);
            true
        }
        Err(e) => {
            let msg = e.to_string();
            if state.settings_error().as_deref() != Some(msg.as_str()) {
                tracing::error!(
                    "settings reload failed; still serving the last good settings: {msg}"
                );
                state.set_settings_error(Some(msg));
            }
            false
        }
    }
}

/// Rewrites the catalog file (when this server has one) from the current settings.
pub(super) fn write_catalog(state: &AppState, passthrough: bool) {
    if let Some(path) = &state.options.catalog_path {
        let entry =
            passthrough.then(|| crate::catalog::passthrough_entry_in(&state.options.state_dir));
        if let Err(e) = crate::catalog::write(&state.settings(), entry, path) {
            tracing::warn!("cannot rewrite the catalog at {}: {e}", path.display());
        }
    }
}
