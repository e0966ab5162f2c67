//! Safe edits of Codex's `config.toml`: `enable`, `model use`, `disable`.
//!
//! Edits go through `toml_edit`, so comments, ordering and formatting of everything else survive.
//! Managed: the top-level `model`, `model_provider` and `model_catalog_json`, and the
//! `[model_providers.codex_shim]` table; any other table, including another provider, is never
//! touched. The original text is remembered at the first `enable`, along with the exact text each
//! later edit wrote: `disable` on a file nobody else changed since restores the original **byte
//! for byte**; on a file the user edited meanwhile it removes only what the shim added and puts
//! back the values it displaced (a `[model_providers.codex_shim]` table that was there before, say
//! from an older install, keeps its own entries). With nothing recorded, `disable` changes nothing:
//! it cannot tell the shim's lines from the user's. Every write is read → backup (newest few kept)
//! → temp file → fsync → rename. A file that is not valid TOML is left alone with an error giving
//! line and column.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_edit::{DocumentMut, Item, Table, Value};

use super::{PROVIDER_ID, PROVIDER_NAME};

/// The top-level keys the shim manages.
pub const MANAGED_KEYS: [&str; 3] = ["model", "model_provider", "model_catalog_json"];

/// Backups kept per file.
const BACKUPS_KEPT: usize = 5;

/// What `enable` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    pub model: String,
    pub port: u16,
    pub catalog: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path} is not valid TOML, so codex-shim left it unchanged: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("codex-shim is not enabled in {0}; run `codex-shim enable` first")]
    NotEnabled(PathBuf),
}

/// Parses `text`, or says where it is broken.
fn parse(text: &str, path: &Path) -> Result<DocumentMut, ConfigError> {
    text.parse::<DocumentMut>()
        .map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })
}

/// Keeps the file's line endings: a CRLF file stays CRLF where the shim added lines.
fn keep_line_endings(original: &str, edited: String) -> String {
    if !original.contains("\r\n") {
        return edited;
    }
    let mut out = String::with_capacity(edited.len() + 16);
    let mut prev = '\0';
    for c in edited.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// Sets a top-level key, keeping the decoration (spacing, trailing comment) of an existing value.
fn set_key(doc: &mut DocumentMut, key: &str, value: Value) {
    match doc.get_mut(key).and_then(Item::as_value_mut) {
        Some(v) => {
            let decor = v.decor().clone();
            *v = value;
            *v.decor_mut() = decor;
        }
        None => {
            doc.insert(key, Item::Value(value));
        }
    }
}

/// The provider entries, in the order they are written.
fn provider_entries(port: u16) -> Vec<(&'static str, Value)> {
    vec![
        ("name", Value::from(PROVIDER_NAME)),
        (
            "base_url",
            Value::from(format!("http://127.0.0.1:{port}/v1")),
        ),
        ("wire_api", Value::from("responses")),
        // The shim sends `response.in_progress` every 10 s while an upstream is silent, and gives an
        // upstream up after 300 s, so Codex's idle timeout only needs to be longer than that.
        ("request_max_retries", Value::from(4)),
        ("stream_max_retries", Value::from(5)),
        ("stream_idle_timeout_ms", Value::from(330_000)),
    ]
}

/// `text` with the shim enabled for `m` (idempotent: applying twice gives the same text).
pub fn apply(text: &str, m: &Managed, path: &Path) -> Result<String, ConfigError> {
    let mut doc = parse(text, path)?;
    set_key(&mut doc, "model", Value::from(m.model.as_str()));
    set_key(&mut doc, "model_provider", Value::from(PROVIDER_ID));
    set_key(
        &mut doc,
        "model_catalog_json",
        Value::from(m.catalog.to_string_lossy().as_ref()),
    );
    let providers = doc.entry("model_providers").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    match providers {
        // An inline `model_providers = { … }` is closed to `[model_providers.x]` tables, so the
        // entry goes inside it; the user's own entries keep their text.
        Item::Value(Value::InlineTable(inline)) if !inline.contains_key(PROVIDER_ID) => {
            let mut entry = toml_edit::InlineTable::new();
            for (k, v) in provider_entries(m.port) {
                entry.insert(k, v);
            }
            if let Some((_, last)) = inline.iter_mut().last() {
                last.decor_mut().set_suffix("");
            }
            let mut value = Value::InlineTable(entry);
            value.decor_mut().set_prefix(" ");
            value.decor_mut().set_suffix(" ");
            inline.insert_formatted(
                &toml_edit::Key::new(PROVIDER_ID).with_leaf_decor(toml_edit::Decor::new(" ", " ")),
                value,
            );
        }
        Item::Value(Value::InlineTable(inline)) => {
            if let Some(Value::InlineTable(ours)) = inline.get_mut(PROVIDER_ID) {
                for (k, v) in provider_entries(m.port) {
                    if ours.get(k).map(|e| e.to_string().trim().to_string())
                        != Some(v.to_string().trim().to_string())
                    {
                        ours.insert(k, v);
                    }
                }
            }
        }
        Item::Table(table) => {
            let ours = table
                .entry(PROVIDER_ID)
                .or_insert_with(|| Item::Table(Table::new()));
            if let Some(t) = ours.as_table_like_mut() {
                for (k, v) in provider_entries(m.port) {
                    match t.get_mut(k).and_then(Item::as_value_mut) {
                        Some(existing) if existing.to_string().trim() == v.to_string().trim() => {}
                        _ => {
                            t.insert(k, Item::Value(v));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(keep_line_endings(text, doc.to_string()))
}

/// `text` with `model` set to `slug` (everything else unchanged).
pub fn set_model(text: &str, slug: &str, path: &Path) -> Result<String, ConfigError> {
    let mut doc = parse(text, path)?;
    set_key(&mut doc, "model", Value::from(slug));
    Ok(keep_line_endings(text, doc.to_string()))
}

/// True when `text` has the shim's provider table.
pub fn has_provider(text: &str) -> bool {
    text.parse::<DocumentMut>()
        .ok()
        .and_then(|d| {
            d.get("model_providers")
                .and_then(|p| p.get(PROVIDER_ID))
                .map(|_| ())
        })
        .is_some()
}

/// The `model` in `text` when the shim is Codex's provider there.
pub fn active_model(text: &str) -> Option<String> {
    let doc = text.parse::<DocumentMut>().ok()?;
    (doc.get("model_provider")?.as_str()? == PROVIDER_ID)
        .then(|| doc.get("model")?.as_str().map(str::to_string))?
}

/// `text` without what the shim added, with the values it displaced put back. `original` is the
/// file before the first `enable`: a provider table it already had is kept, with its own values.
pub fn remove(
    text: &str,
    previous: &[(String, Option<String>)],
    original: Option<&str>,
    path: &Path,
) -> Result<String, ConfigError> {
    let mut doc = parse(text, path)?;
    for key in MANAGED_KEYS {
        match previous
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
        {
            Some(repr) => {
                if let Ok(v) = repr.parse::<Value>() {
                    set_key(&mut doc, key, v);
                }
            }
            None => {
                doc.remove(key);
            }
        }
    }
    let theirs = original.and_then(provider_values);
    let mut drop_providers = false;
    if let Some(p) = doc.get_mut("model_providers") {
        if let Some(t) = p.as_table_like_mut() {
            match (
                &theirs,
                t.get_mut(PROVIDER_ID).and_then(Item::as_table_like_mut),
            ) {
                // The table was there before: only the entries the shim set go back.
                (Some(before), Some(ours)) => {
                    for (key, _) in provider_entries(0) {
                        match before.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
                            Some(repr) => {
                                if let Ok(v) = repr.parse::<Value>() {
                                    let same = ours
                                        .get(key)
                                        .and_then(Item::as_value)
                                        .map(|e| e.to_string().trim() == v.to_string().trim());
                                    if same != Some(true) {
                                        ours.insert(key, Item::Value(v));
                                    }
                                }
                            }
                            None => {
                                ours.remove(key);
                            }
                        }
                    }
                }
                _ => {
                    t.remove(PROVIDER_ID);
                }
            }
            drop_providers = t.is_empty() && p.as_table().is_some_and(Table::is_implicit);
        }
    }
    if drop_providers {
        doc.remove("model_providers");
    }
    Ok(keep_line_endings(text, doc.to_string()))
}

/// The entries of the shim's provider table in `text`, as TOML text; `None` without the table.
fn provider_values(text: &str) -> Option<Vec<(String, String)>> {
    let doc = text.parse::<DocumentMut>().ok()?;
    let table = doc
        .get("model_providers")?
        .get(PROVIDER_ID)?
        .as_table_like()?;
    Some(
        table
            .iter()
            .filter_map(|(k, item)| {
                let v = item.as_value()?.clone().decorated("", "");
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
    )
}

/// The managed keys' values in `text`, as TOML text (`None` when absent).
fn managed_values(doc: &DocumentMut) -> Vec<(String, Option<String>)> {
    MANAGED_KEYS
        .iter()
        .map(|k| {
            (
                k.to_string(),
                doc.get(k)
                    .and_then(Item::as_value)
                    .map(|v| v.clone().decorated("", "").to_string()),
            )
        })
        .collect()
}

/// What `enable` remembers, in the state dir.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct EditState {
    /// The file before the first `enable` (`None`: there was no file).
    original: Option<String>,
    /// The managed keys' values before the first `enable`.
    previous: Vec<(String, Option<String>)>,
    /// The text the shim last wrote.
    last_written: String,
}

/// Edits one `config.toml`, keeping its state and backups in `state_dir`.
#[derive(Debug, Clone)]
pub struct ConfigEditor {
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
}

/// What an edit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    Unchanged,
}

impl ConfigEditor {
    pub fn new(config_path: PathBuf, state_dir: PathBuf) -> Self {
        ConfigEditor {
            config_path,
            state_dir,
        }
    }

    fn state_file(&self) -> PathBuf {
        self.state_dir.join("codex-config-state.json")
    }

    fn read(&self) -> Result<Option<String>, ConfigError> {
        match fs::read_to_string(&self.config_path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Io {
                action: "read",
                path: self.config_path.clone(),
                source,
            }),
        }
    }

    fn load_state(&self) -> Option<EditState> {
        serde_json::from_str(&fs::read_to_string(self.state_file()).ok()?).ok()
    }

    fn io(&self, action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError {
        let path = path.to_path_buf();
        move |source| ConfigError::Io {
            action,
            path,
            source,
        }
    }

    /// Backs up the current file, then writes `text` atomically.
    fn write(&self, current: Option<&str>, text: &str) -> Result<(), ConfigError> {
        if let Some(cur) = current {
            self.backup(cur)?;
        }
        write_atomic(&self.config_path, text.as_bytes())
            .map_err(self.io("write", &self.config_path))
    }

    fn backup(&self, text: &str) -> Result<(), ConfigError> {
        let dir = self.state_dir.join("backups");
        backup(&dir, "config.toml", text.as_bytes())
            .map(|_| ())
            .map_err(self.io("back up to", &dir))
    }

    fn save_state(&self, state: &EditState) -> Result<(), ConfigError> {
        let file = self.state_file();
        write_atomic(
            &file,
            serde_json::to_string_pretty(state)
                .unwrap_or_default()
                .as_bytes(),
        )
        .map_err(self.io("write", &file))
    }

    /// What `enable` would refuse, found without writing anything: an unreadable file or one that
    /// is not valid TOML. Callers check first, so a refusal leaves nothing behind (no server).
    pub fn check(&self, m: &Managed) -> Result<(), ConfigError> {
        let text = self.read()?.unwrap_or_default();
        apply(&text, m, &self.config_path).map(|_| ())
    }

    /// Points Codex at the shim with `m`.
    pub fn enable(&self, m: &Managed) -> Result<Outcome, ConfigError> {
        let current = self.read()?;
        let text = current.clone().unwrap_or_default();
        let doc = parse(&text, &self.config_path)?;
        // A state whose edit is gone (the user removed it by hand) describes an older file.
        let state = self.load_state().filter(|_| has_provider(&text));
        let mut state = state.unwrap_or_else(|| EditState {
            original: current.clone(),
            previous: managed_values(&doc),
            last_written: String::new(),
        });
        let new = apply(&text, m, &self.config_path)?;
        if current.as_deref() == Some(new.as_str()) {
            state.last_written = new;
            self.save_state(&state)?;
            return Ok(Outcome::Unchanged);
        }
        self.write(current.as_deref(), &new)?;
        state.last_written = new;
        self.save_state(&state)?;
        Ok(Outcome::Changed)
    }

    /// Makes `slug` Codex's model (the shim must be enabled).
    pub fn set_model(&self, slug: &str) -> Result<Outcome, ConfigError> {
        let Some(current) = self.read()?.filter(|t| has_provider(t)) else {
            return Err(ConfigError::NotEnabled(self.config_path.clone()));
        };
        let new = set_model(&current, slug, &self.config_path)?;
        if new == current {
            return Ok(Outcome::Unchanged);
        }
        self.write(Some(&current), &new)?;
        if let Some(mut state) = self.load_state() {
            state.last_written = new;
            self.save_state(&state)?;
        }
        Ok(Outcome::Changed)
    }

    /// The active model when the shim is enabled.
    pub fn active_model(&self) -> Option<String> {
        active_model(&self.read().ok()??)
    }

    /// Takes the shim out of Codex's config: only what `enable` recorded adding. With no record
    /// (never enabled here, or disabled already) the file is not touched, even when it names the
    /// shim: those lines were written by someone else.
    pub fn disable(&self) -> Result<Outcome, ConfigError> {
        let current = self.read()?;
        let Some(state) = self.load_state() else {
            return Ok(Outcome::Unchanged);
        };
        let restored = match &current {
            // Nobody changed the file since the shim's last write: the original, byte for byte.
            Some(cur) if *cur == state.last_written => state.original.clone(),
            Some(cur) => Some(remove(
                cur,
                &state.previous,
                state.original.as_deref(),
                &self.config_path,
            )?),
            None => {
                let _ = fs::remove_file(self.state_file());
                return Ok(Outcome::Unchanged);
            }
        };
        if restored.is_some() && restored == current {
            // What the shim added is gone already (removed by hand).
            let _ = fs::remove_file(self.state_file());
            return Ok(Outcome::Unchanged);
        }
        match restored {
            Some(text) => self.write(current.as_deref(), &text)?,
            None => {
                if let Some(cur) = &current {
                    self.backup(cur)?;
                }
                let _ = fs::remove_file(&self.config_path);
            }
        }
        let _ = fs::remove_file(self.state_file());
        Ok(Outcome::Changed)
    }
}

/// Saves `bytes` as `DIR/NAME.<timestamp>` and prunes all but the newest few backups of `NAME`.
pub fn backup(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let file = dir.join(format!("{name}.{stamp}"));
    write_atomic(&file, bytes)?;
    let prefix = format!("{name}.");
    let mut old: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    old.sort();
    for stale in old.iter().rev().skip(BACKUPS_KEPT) {
        let _ = fs::remove_file(stale);
    }
    Ok(file)
}

/// Writes `bytes` to `path` via a temp file in the same directory, fsynced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.codex-shim-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
