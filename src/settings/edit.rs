//! Adding, editing and removing models in the shim's own settings file (for the UI).
//!
//! The file is edited as JSON, row by row: fields the form does not know (extra headers, a
//! `reasoning` option, unknown keys) stay as they were, a field keeps the spelling the user gave it
//! (`base_url` stays `base_url`), and every other row is written back unchanged. The new text is
//! validated with the same parser the server uses before anything is written; the old file is
//! backed up, then replaced atomically. A key typed into the form goes to the keychain and the file
//! gets only a `${NAME}` reference to it.
//!
//! Slugs are what Codex's config names, so they must not move: a row the editor writes gets an
//! explicit `slug`, and any other row whose derived slug the edit would change (slugs of rows with
//! the same `model` depend on each other) is pinned to the slug it had.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{slugify, Provider, Settings, SettingsSource};

/// What the UI's model form sends.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelEdit {
    /// The slug of the model being edited; absent when adding one.
    #[serde(default)]
    pub original: Option<String>,
    /// The upstream model id.
    pub model: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    pub provider: String,
    #[serde(default)]
    pub base_url: Option<String>,
    /// The key's name in the keychain or the environment; the file gets `${NAME}`.
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(default)]
    pub max_context_limit: Option<u64>,
    #[serde(default)]
    pub no_image_support: bool,
    /// `chat` or `responses` (OpenAI-style providers only).
    #[serde(default)]
    pub wire_api: Option<String>,
}

/// What a save did.
#[derive(Debug, Clone)]
pub struct Saved {
    pub slug: String,
    pub file: PathBuf,
    /// The keychain entry the model's key is read from, when it has one.
    pub key_name: Option<String>,
}

/// The file the editor writes: the explicit settings file, else `~/.codex-shim/models.json`.
pub fn own_file(source: &SettingsSource) -> PathBuf {
    match source {
        SettingsSource::Explicit(p) => p.clone(),
        SettingsSource::Defaults(ps) => ps
            .last()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("models.json")),
    }
}

/// The keychain name used for a model's key when the form gives none: `MY_MODEL_API_KEY`.
pub fn default_key_name(slug: &str) -> String {
    let mut name: String = slug
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    name.push_str("_API_KEY");
    name
}

/// Adds or edits a model. `key_value`, when given, is stored in the keychain first.
pub fn save(
    source: &SettingsSource,
    current: &Settings,
    edit: &ModelEdit,
    key_value: Option<&str>,
    backups: &Path,
) -> Result<Saved, String> {
    let file = own_file(source);
    let mut doc = Document::read(&file)?;
    let model = edit.model.trim();
    if model.is_empty() {
        return Err("a model needs its upstream model id (`model`)".into());
    }
    let provider = Provider::parse(&edit.provider).ok_or_else(|| {
        format!(
            "unknown provider {:?} (expected one of {})",
            edit.provider,
            Provider::NAMES
        )
    })?;
    // The row to replace: the edited model's own row when it lives in this file. A model from
    // another file (Factory's) is overridden by a row here with the same slug; that file is left alone.
    let (index, original) = match edit.original.as_deref().map(str::trim) {
        Some(orig) if !orig.is_empty() => {
            let m = current
                .models
                .iter()
                .find(|m| m.slug == orig)
                .ok_or_else(|| format!("there is no model `{orig}` to edit"))?;
            (
                (m.source == file).then_some(m.index),
                Some(orig.to_string()),
            )
        }
        _ => (None, None),
    };
    let wanted = non_empty(&edit.slug)
        .or(original.as_deref())
        .or(non_empty(&edit.display_name))
        .unwrap_or(model);
    let slug = slugify(wanted);
    if let Some(other) = current
        .models
        .iter()
        .find(|m| m.slug == slug && Some(&m.slug) != original.as_ref())
    {
        return Err(format!(
            "a model named `{slug}` exists already (in {}); choose another slug",
            other.source.display()
        ));
    }
    let key_name = match (
        non_empty(&edit.key_name),
        key_value.filter(|v| !v.is_empty()),
    ) {
        (Some(n), _) => Some(n.to_string()),
        (None, Some(_)) => Some(default_key_name(&slug)),
        (None, None) => None,
    };
    if let Some(n) = &key_name {
        if !crate::secrets::valid_name(n) {
            return Err(format!(
                "`{n}` is not a key name (letters, digits, _ - . only)"
            ));
        }
    }

    let mut row = match index.and_then(|i| doc.rows().get(i).cloned()) {
        Some(Value::Object(map)) => map,
        Some(Value::String(name)) => {
            let mut map = Map::new();
            map.insert("model".into(), Value::String(name));
            map
        }
        _ => Map::new(),
    };
    set(&mut row, &["model"], Some(model.into()));
    set(&mut row, &["slug"], Some(slug.clone().into()));
    set(
        &mut row,
        &["displayName", "display_name", "name"],
        non_empty(&edit.display_name).map(Into::into),
    );
    set(&mut row, &["provider"], Some(provider.as_str().into()));
    set(
        &mut row,
        &["baseUrl", "base_url", "baseURL"],
        non_empty(&edit.base_url).map(Into::into),
    );
    if let Some(n) = &key_name {
        set(
            &mut row,
            &["apiKey", "api_key", "bearerToken"],
            Some(format!("${{{n}}}").into()),
        );
    }
    set(
        &mut row,
        &["maxContextLimit", "max_context_limit"],
        edit.max_context_limit.map(Into::into),
    );
    set(
        &mut row,
        &["noImageSupport", "no_image_support"],
        edit.no_image_support.then_some(Value::Bool(true)),
    );
    set(
        &mut row,
        &["wireApi", "wire_api"],
        non_empty(&edit.wire_api).map(Into::into),
    );
    let at = match index {
        Some(i) => {
            doc.rows()[i] = Value::Object(row);
            i
        }
        None => {
            doc.rows().push(Value::Object(row));
            doc.rows().len() - 1
        }
    };
    let (text, parsed) = doc.finish(&file, Some(at))?;
    if parsed[at].slug != slug {
        return Err(format!(
            "another model in {} already has the slug `{slug}`; choose another",
            file.display()
        ));
    }
    if let (Some(n), Some(v)) = (&key_name, key_value.filter(|v| !v.is_empty())) {
        crate::secrets::set(n, v).map_err(|e| {
            format!(
                "cannot store the key `{n}` in the keychain: {e}; {} was not changed",
                file.display()
            )
        })?;
    }
    doc.write(&file, &text, backups)?;
    Ok(Saved {
        slug,
        file,
        key_name,
    })
}

/// Removes a model from the shim's own file. Models from other files are not touched.
pub fn remove(
    source: &SettingsSource,
    current: &Settings,
    slug: &str,
    backups: &Path,
) -> Result<PathBuf, String> {
    let file = own_file(source);
    let m = current
        .models
        .iter()
        .find(|m| m.slug == slug)
        .ok_or_else(|| format!("there is no model `{slug}`"))?;
    if m.source != file {
        return Err(format!(
            "`{slug}` comes from {}; remove it there",
            m.source.display()
        ));
    }
    let mut doc = Document::read(&file)?;
    if m.index >= doc.rows().len() {
        return Err(format!(
            "{} changed on disk; reload and try again",
            file.display()
        ));
    }
    doc.rows().remove(m.index);
    doc.old_slugs.remove(m.index);
    let (text, _) = doc.finish(&file, None)?;
    doc.write(&file, &text, backups)?;
    Ok(file)
}

/// The settings file as JSON, with the slugs its rows had before the edit.
struct Document {
    value: Value,
    /// The file's text before the edit (`None`: the file does not exist yet).
    before: Option<String>,
    old_slugs: Vec<String>,
}

impl Document {
    fn read(file: &Path) -> Result<Self, String> {
        let before = match std::fs::read_to_string(file) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        let (value, old_slugs) = match &before {
            None => (serde_json::json!({ "models": [] }), Vec::new()),
            Some(text) => {
                let parsed = Settings::parse_file(file, text)
                    .map_err(|e| format!("{e} (fix the file first; nothing was changed)"))?;
                let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                (value, parsed.into_iter().map(|m| m.slug).collect())
            }
        };
        let mut doc = Document {
            value,
            before,
            old_slugs,
        };
        doc.ensure_list()?;
        Ok(doc)
    }

    /// Makes sure the document has a list of rows to edit.
    fn ensure_list(&mut self) -> Result<(), String> {
        if let Value::Object(map) = &mut self.value {
            if !super::row::LIST_KEYS
                .iter()
                .any(|k| matches!(map.get(*k), Some(Value::Array(_))))
            {
                map.insert("models".into(), Value::Array(Vec::new()));
            }
            return Ok(());
        }
        match self.value {
            Value::Array(_) => Ok(()),
            _ => Err("the settings file is neither a list nor an object".into()),
        }
    }

    fn rows(&mut self) -> &mut Vec<Value> {
        match &mut self.value {
            Value::Array(rows) => rows,
            Value::Object(map) => {
                let key = super::row::LIST_KEYS
                    .iter()
                    .find(|k| matches!(map.get(**k), Some(Value::Array(_))))
                    .copied()
                    .unwrap_or("models");
                match map.get_mut(key) {
                    Some(Value::Array(rows)) => rows,
                    _ => unreachable!("ensure_list made the list"),
                }
            }
            _ => unreachable!("ensure_list checked the shape"),
        }
    }

    /// Pins every row (other than `edited`) whose slug the edit would move, then returns the new
    /// text with its parsed models.
    fn finish(
        &mut self,
        file: &Path,
        edited: Option<usize>,
    ) -> Result<(String, Vec<super::ModelConfig>), String> {
        for _ in 0..2 {
            let text = self.text();
            let parsed = Settings::parse_file(file, &text).map_err(|e| e.to_string())?;
            let moved: Vec<usize> = (0..self.old_slugs.len().min(parsed.len()))
                .filter(|&i| Some(i) != edited && parsed[i].slug != self.old_slugs[i])
                .collect();
            if moved.is_empty() {
                return Ok((text, parsed));
            }
            for i in moved {
                let old = self.old_slugs[i].clone();
                let row = &mut self.rows()[i];
                if let Value::String(name) = row {
                    let mut map = Map::new();
                    map.insert("model".into(), Value::String(name.clone()));
                    map.insert("provider".into(), "ollama".into());
                    *row = Value::Object(map);
                }
                if let Value::Object(map) = row {
                    set(map, &["slug"], Some(old.into()));
                }
            }
        }
        Err("the edit would rename other models; edit the file by hand".into())
    }

    fn text(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.value).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Backs the old file up, then writes the new one atomically.
    fn write(&self, file: &Path, text: &str, backups: &Path) -> Result<(), String> {
        if let Some(before) = &self.before {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "models.json".into());
            crate::codex::config::backup(backups, &name, before.as_bytes())
                .map_err(|e| format!("cannot back up {}: {e}", file.display()))?;
        }
        crate::codex::config::write_atomic(file, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", file.display()))
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Sets (or with `None` removes) a field, keeping whichever of its spellings the row already uses.
fn set(map: &mut Map<String, Value>, spellings: &[&str], value: Option<Value>) {
    let existing = spellings
        .iter()
        .find(|k| map.contains_key(**k))
        .copied()
        .unwrap_or(spellings[0]);
    match value {
        Some(v) => {
            for k in spellings.iter().filter(|k| **k != existing) {
                map.shift_remove(*k);
            }
            map.insert(existing.to_string(), v);
        }
        None => {
            for k in spellings {
                map.shift_remove(*k);
            }
        }
    }
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
