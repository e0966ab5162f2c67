//! The active model: which model Codex uses, shared by the CLI, the server's UI API and the tray.
//!
//! When the shim is enabled in `config.toml`, the active model is that file's `model`; otherwise it
//! is the remembered `model use` choice in the state dir. Either must still exist in the settings.

use std::path::PathBuf;

use crate::chatgpt;
use crate::codex::config::{write_atomic, ConfigEditor, Outcome};
use crate::settings::Settings;

/// Where the active model is recorded.
#[derive(Debug, Clone)]
pub struct Places {
    /// Codex's directory (`config.toml`).
    pub codex_home: PathBuf,
    /// codex-shim's state directory.
    pub state_dir: PathBuf,
}

impl Places {
    /// This user's real places (`CODEX_HOME`, `CODEX_SHIM_HOME`, or their defaults).
    pub fn user() -> Self {
        Places {
            codex_home: crate::paths::codex_home(),
            state_dir: crate::paths::state_dir(),
        }
    }

    pub fn editor(&self) -> ConfigEditor {
        ConfigEditor::new(self.codex_home.join("config.toml"), self.state_dir.clone())
    }

    fn chosen_file(&self) -> PathBuf {
        self.state_dir.join("active-model")
    }
}

/// The model the user chose, if it still exists.
pub fn active_model(places: &Places, settings: &Settings, passthrough: bool) -> Option<String> {
    let exists = |slug: &str| {
        settings.find(slug).is_some_and(|m| m.slug == slug)
            || (passthrough && slug == chatgpt::SLUG)
    };
    places
        .editor()
        .active_model()
        .into_iter()
        .chain(
            std::fs::read_to_string(places.chosen_file())
                .ok()
                .map(|s| s.trim().to_string()),
        )
        .find(|slug| exists(slug))
}

/// What `use_model` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    pub slug: String,
    /// True when `config.toml` now names it (the shim is enabled there).
    pub in_config: bool,
}

/// Makes `name` (a slug, model name or display-name fragment) the active model.
pub fn use_model(
    places: &Places,
    settings: &Settings,
    name: &str,
    passthrough: bool,
) -> Result<Switched, String> {
    let slug = settings.resolve_name(name, passthrough)?;
    let chosen = places.chosen_file();
    write_atomic(&chosen, format!("{slug}\n").as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", chosen.display()))?;
    let editor = places.editor();
    let in_config = editor.active_model().is_some();
    if in_config {
        match editor.set_model(&slug) {
            Ok(Outcome::Changed | Outcome::Unchanged) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(Switched { slug, in_config })
}

/// Points Codex's `config.toml` at the shim on `port`, when it uses the shim already (the tray's
/// "serve on another port"). Returns whether the file was changed.
pub fn move_port(places: &Places, port: u16, catalog: &std::path::Path) -> Result<bool, String> {
    let editor = places.editor();
    let Some(model) = editor.active_model() else {
        return Ok(false);
    };
    editor
        .enable(&crate::codex::config::Managed {
            model,
            port,
            catalog: catalog.to_path_buf(),
        })
        .map(|o| matches!(o, Outcome::Changed))
        .map_err(|e| e.to_string())
}
