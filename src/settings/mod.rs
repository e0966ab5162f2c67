//! The user's model settings.
//!
//! Sources, in order: `--settings FILE` / `CODEX_SHIM_SETTINGS` (only that file), otherwise both
//! `~/.factory/settings.json` (Factory BYOK, `customModels`) and `~/.codex-shim/models.json`, merged
//! so the shim's own file wins on a slug clash. A missing default file is fine; a missing explicit
//! file, invalid JSON or a bad field is an error that names the file, the model's index and the field.
//!
//! Secrets stay as written (`${VAR}` references included) until a request needs them: see
//! [`ModelConfig::resolve`]. Nothing here logs a value.

pub mod edit;
mod resolve;
mod row;
mod slug;
pub mod url_secrets;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) use resolve::has_version_segment;
pub use resolve::{chat_completions_url, messages_url, ResolveError, ResolvedModel};
pub use slug::slugify;

/// Which upstream API a model speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `openai`: OpenAI's (or an OpenAI-compatible) chat completions API.
    OpenAi,
    /// `generic-chat-completion-api`: any chat completions endpoint.
    GenericChat,
    /// `ollama`: a local Ollama server's OpenAI-compatible endpoint.
    Ollama,
    /// `anthropic`: the Anthropic Messages API.
    Anthropic,
}

impl Provider {
    /// Every accepted spelling, for error messages.
    pub const NAMES: &'static str = "openai, generic-chat-completion-api, ollama, anthropic";

    /// Parses a provider string as written in a settings file.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "openai" => Some(Self::OpenAi),
            "generic-chat-completion-api" | "generic" | "openai-compatible" => {
                Some(Self::GenericChat)
            }
            "ollama" => Some(Self::Ollama),
            "anthropic" => Some(Self::Anthropic),
            _ => None,
        }
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::GenericChat => "generic-chat-completion-api",
            Self::Ollama => "ollama",
            Self::Anthropic => "anthropic",
        }
    }

    /// The base URL used when a row gives none.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("https://api.openai.com/v1"),
            Self::Ollama => Some(OLLAMA_BASE_URL),
            Self::Anthropic => Some("https://api.anthropic.com"),
            Self::GenericChat => None,
        }
    }

    /// True for the routes that speak chat completions.
    pub fn is_chat(self) -> bool {
        !matches!(self, Self::Anthropic)
    }
}

/// How an Anthropic-style upstream receives the key (chat upstreams always get `Bearer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthHeader {
    /// The provider's usual header: `x-api-key` for Anthropic.
    #[default]
    Default,
    XApiKey,
    /// `Authorization: Bearer`, for gateways that want it.
    Bearer,
}

/// The API an OpenAI-style upstream is spoken to with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireApi {
    /// Chat completions, translated.
    Chat,
    /// The Responses API, forwarded natively (reasoning items and custom tools survive).
    Responses,
}

/// Ollama's OpenAI-compatible endpoint on this machine.
pub const OLLAMA_BASE_URL: &str = "http://127.0.0.1:11434/v1";

/// One model from the user's settings, validated but with secrets unresolved.
#[derive(Clone, PartialEq)]
pub struct ModelConfig {
    /// The name Codex uses for it (unique, stable across reloads).
    pub slug: String,
    /// The upstream model id.
    pub model: String,
    pub display_name: String,
    pub provider: Provider,
    /// As written; may contain `${VAR}`.
    pub base_url: String,
    /// As written; may contain `${VAR}`. `None` sends no auth header (Ollama).
    pub api_key: Option<String>,
    pub max_context_limit: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub no_image_support: bool,
    /// Forward Codex's `reasoning.effort` as chat `reasoning_effort`.
    pub supports_reasoning_effort: bool,
    /// Extra request headers; values may contain `${VAR}`.
    pub extra_headers: Vec<(String, String)>,
    /// How the key is sent to an Anthropic-style upstream.
    pub auth_header: AuthHeader,
    /// Which API an OpenAI-style upstream is spoken to with.
    pub wire_api: WireApi,
    /// Prices from the settings (`inputPrice`, `cachedInputPrice`, `outputPrice`); see
    /// [`ModelConfig::effective_prices`] for what a cost is computed with.
    pub prices: crate::prices::Prices,
    /// The file this model came from.
    pub source: PathBuf,
    /// Its position in that file's list (0-based).
    pub index: usize,
}

// Hand-written so a key can never reach a log through `{:?}`.
impl fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelConfig")
            .field("slug", &self.slug)
            .field("model", &self.model)
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("source", &self.source)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// A settings file that was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub path: PathBuf,
    /// `None` when the (default) file does not exist.
    pub models: Option<usize>,
}

/// All models, in catalog order.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub models: Vec<ModelConfig>,
    pub sources: Vec<SourceInfo>,
    /// Identifies the files' paths and contents, so a running server can tell whether it was
    /// started with the settings on disk now. A 64-bit hash: it reveals nothing of a key.
    pub fingerprint: String,
}

/// A settings problem, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub file: PathBuf,
    /// The model's position in the file's list, when the problem is in one model.
    pub index: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(i) = self.index {
            write!(f, ": model #{i}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SettingsError {}

/// Where settings come from.
#[derive(Debug, Clone)]
pub enum SettingsSource {
    /// Only this file; it must exist.
    Explicit(PathBuf),
    /// The default files, each optional.
    Defaults(Vec<PathBuf>),
}

impl SettingsSource {
    /// `--settings` if given, else `CODEX_SHIM_SETTINGS`, else the default pair.
    pub fn from_cli(flag: Option<PathBuf>) -> Self {
        if let Some(path) =
            flag.or_else(|| crate::paths::non_empty_env("CODEX_SHIM_SETTINGS").map(PathBuf::from))
        {
            return Self::Explicit(expand_tilde(&path));
        }
        let home = crate::paths::home_dir().unwrap_or_else(|| PathBuf::from("."));
        Self::Defaults(vec![
            home.join(".factory").join("settings.json"),
            home.join(".codex-shim").join("models.json"),
        ])
    }

    /// Every file this source reads.
    pub fn files(&self) -> Vec<PathBuf> {
        match self {
            Self::Explicit(p) => vec![p.clone()],
            Self::Defaults(ps) => ps.clone(),
        }
    }
}

fn expand_tilde(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), crate::paths::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

impl Settings {
    /// Reads and validates every file of `source`.
    pub fn load(source: &SettingsSource) -> Result<Self, SettingsError> {
        let (paths, required) = match source {
            SettingsSource::Explicit(path) => (std::slice::from_ref(path), true),
            SettingsSource::Defaults(paths) => (paths.as_slice(), false),
        };
        let mut settings = Settings::default();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for path in paths {
            let error = |message: String| SettingsError {
                file: path.clone(),
                index: None,
                field: None,
                message,
            };
            let text = match std::fs::read_to_string(path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(error("settings file not found (create it, or drop --settings / CODEX_SHIM_SETTINGS to use the defaults)".into()))
                }
                Err(e) => return Err(error(format!("cannot read: {e}"))),
            };
            std::hash::Hash::hash(&(path, &text), &mut hasher);
            let models = match &text {
                Some(text) => Some(Self::parse_file(path, text)?),
                None => None,
            };
            settings.sources.push(SourceInfo {
                path: path.clone(),
                models: models.as_ref().map(Vec::len),
            });
            settings.merge(models.unwrap_or_default());
        }
        settings.fingerprint = format!("{:016x}", std::hash::Hasher::finish(&hasher));
        Ok(settings)
    }

    /// Parses one file's text into models with their slugs.
    pub fn parse_file(path: &Path, text: &str) -> Result<Vec<ModelConfig>, SettingsError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| SettingsError {
            file: path.to_path_buf(),
            index: None,
            field: None,
            message: format!("not valid JSON: {e}"),
        })?;
        let rows = row::rows_of(&value).map_err(|message| SettingsError {
            file: path.to_path_buf(),
            index: None,
            field: None,
            message,
        })?;
        let mut parsed = Vec::with_capacity(rows.len());
        for (index, value) in rows.iter().enumerate() {
            let r = row::parse_row(value).map_err(|(field, message)| SettingsError {
                file: path.to_path_buf(),
                index: Some(index),
                field,
                message,
            })?;
            parsed.push(r);
        }
        let slugs = slug::assign(&parsed);
        Ok(parsed
            .into_iter()
            .zip(slugs)
            .enumerate()
            .map(|(index, (r, slug))| r.into_config(slug, path.to_path_buf(), index))
            .collect())
    }

    /// Adds a later file's models: on a slug clash the later one replaces the earlier in place.
    fn merge(&mut self, models: Vec<ModelConfig>) {
        for m in models {
            if let Some(existing) = self.models.iter_mut().find(|e| e.slug == m.slug) {
                *existing = m;
            } else {
                self.models.push(m);
            }
        }
    }

    /// Finds the model Codex asked for: exact slug, else the one row whose upstream `model` matches.
    pub fn find(&self, requested: &str) -> Option<&ModelConfig> {
        if let Some(m) = self.models.iter().find(|m| m.slug == requested) {
            return Some(m);
        }
        let mut by_model = self.models.iter().filter(|m| m.model == requested);
        match (by_model.next(), by_model.next()) {
            (Some(m), None) => Some(m),
            _ => None,
        }
    }

    /// The prices a cost of `slug` is computed with: the settings' fields, each missing one from
    /// the bundled table for its upstream model (`upstream`: the one a ledger row names, for a
    /// slug no longer configured).
    pub fn prices_for(&self, slug: &str, upstream: Option<&str>) -> crate::prices::Prices {
        let bundled = |m: &str| crate::prices::bundled(m).unwrap_or_default();
        match self.models.iter().find(|m| m.slug == slug) {
            Some(m) => m.prices.or(bundled(&m.model)),
            None => bundled(upstream.unwrap_or(slug)),
        }
    }

    /// Resolves what a user typed (`model use NAME`) to a slug: an exact slug, an exact upstream
    /// model name, or a fragment of one display name (case-insensitive). `passthrough` adds the
    /// ChatGPT slug and alias.
    pub fn resolve_name(&self, name: &str, passthrough: bool) -> Result<String, String> {
        if passthrough && crate::chatgpt::is_passthrough(name) {
            return Ok(crate::chatgpt::SLUG.to_string());
        }
        if let Some(m) = self.find(name) {
            return Ok(m.slug.clone());
        }
        let needle = name.to_ascii_lowercase();
        let hits: Vec<&ModelConfig> = self
            .models
            .iter()
            .filter(|m| m.display_name.to_ascii_lowercase().contains(&needle))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one.slug.clone()),
            [] => Err(format!(
                "unknown model `{name}`; run `codex-shim model list` to see the slugs"
            )),
            many => Err(format!(
                "`{name}` matches several models: {}; use one of these slugs",
                many.iter()
                    .map(|m| m.slug.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// All slugs, for error messages.
    pub fn slugs(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.slug.as_str()).collect()
    }

    /// True when every slug is distinct (an invariant [`Settings::load`] keeps).
    pub fn slugs_unique(&self) -> bool {
        let mut seen = HashSet::new();
        self.models.iter().all(|m| seen.insert(m.slug.as_str()))
    }
}

#[cfg(test)]
mod tests;
