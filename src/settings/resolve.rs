//! Request-time resolution: `${NAME}` and `keychain:NAME` references, and upstream URLs.
//!
//! `${NAME}` in `apiKey`, `baseUrl` and `extraHeaders` values is read when a request needs it:
//! the environment variable `NAME` if set, else the keychain entry `NAME` (service `codex-shim`).
//! An `apiKey` of exactly `keychain:NAME` reads the keychain only. So a key exported, or stored
//! with `codex-shim key set`, after the shim started still works. A missing value is an error that
//! names the key, the model and where it looked, never an empty `Bearer ` header.

use std::fmt;

use super::ModelConfig;
use crate::secrets::{SecretSource, SERVICE};

/// A model with every reference filled in. Holds secrets: never log it.
pub struct ResolvedModel {
    pub base_url: String,
    pub api_key: Option<String>,
    pub extra_headers: Vec<(String, String)>,
}

/// Why a model could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    pub slug: String,
    pub field: &'static str,
    /// The key's name.
    pub variable: String,
    /// Where it was looked for, or why the keychain could not be read.
    pub reason: Missing,
}

/// What went wrong with one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// `${NAME}`: neither the environment nor the keychain has it.
    EnvAndKeychain,
    /// `keychain:NAME`: the keychain does not have it.
    Keychain,
    /// The keychain could not be read.
    KeychainError(String),
}

// Hand-written so the key and header values never reach a log through `{:?}`.
impl fmt::Debug for ResolvedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedModel")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field(
                "extra_headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (slug, name, field) = (&self.slug, &self.variable, self.field);
        match &self.reason {
            Missing::EnvAndKeychain => write!(
                f,
                "model `{slug}`: `{name}` (used in {field}) is not set: there is no environment variable `{name}` and no keychain entry `{name}` (service {SERVICE}); store it with `codex-shim key set {name}` or export it"
            ),
            Missing::Keychain => write!(
                f,
                "model `{slug}`: there is no keychain entry `{name}` (service {SERVICE}, used in {field}); store it with `codex-shim key set {name}`"
            ),
            Missing::KeychainError(e) => write!(f, "model `{slug}`: cannot read `{name}` (used in {field}) from the keychain: {e}"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Environment lookups from a closure and no keychain: for tests and callers without one.
struct EnvOnly<F>(F);

impl<F: Fn(&str) -> Option<String>> SecretSource for EnvOnly<F> {
    fn env(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }
    fn keychain(&self, _name: &str) -> Result<Option<String>, String> {
        Ok(None)
    }
}

impl ModelConfig {
    /// Fills in references from the process environment and the OS keychain.
    pub fn resolve(&self) -> Result<ResolvedModel, ResolveError> {
        self.resolve_from(&crate::secrets::System)
    }

    /// Fills in `${VAR}` references from `lookup` only (no keychain).
    pub fn resolve_with(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ResolvedModel, ResolveError> {
        self.resolve_from(&EnvOnly(lookup))
    }

    /// Fills in references from `source`.
    pub fn resolve_from(&self, source: &dyn SecretSource) -> Result<ResolvedModel, ResolveError> {
        let err = |field: &'static str, variable: String, reason: Missing| ResolveError {
            slug: self.slug.clone(),
            field,
            variable,
            reason,
        };
        let expand = |field: &'static str, text: &str| {
            expand_vars(text, source).map_err(|(name, reason)| err(field, name, reason))
        };
        let api_key = match &self.api_key {
            Some(k) => match k.strip_prefix("keychain:") {
                Some(name) => match source.keychain(name.trim()) {
                    Ok(Some(v)) => Some(v),
                    Ok(None) => {
                        return Err(err("apiKey", name.trim().to_string(), Missing::Keychain))
                    }
                    Err(e) => {
                        return Err(err(
                            "apiKey",
                            name.trim().to_string(),
                            Missing::KeychainError(e),
                        ))
                    }
                },
                None => Some(expand("apiKey", k)?),
            }
            .filter(|k| !k.is_empty()),
            None => None,
        };
        let mut extra_headers = Vec::with_capacity(self.extra_headers.len());
        for (name, value) in &self.extra_headers {
            extra_headers.push((name.clone(), expand("extraHeaders", value)?));
        }
        Ok(ResolvedModel {
            base_url: expand("baseUrl", &self.base_url)?,
            api_key,
            extra_headers,
        })
    }

    /// The key names this model's settings refer to (`${NAME}`, `keychain:NAME`).
    pub fn key_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for text in self
            .api_key
            .iter()
            .chain(std::iter::once(&self.base_url))
            .chain(self.extra_headers.iter().map(|(_, v)| v))
        {
            if let Some(n) = text.strip_prefix("keychain:") {
                names.push(n.trim().to_string());
                continue;
            }
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${") {
                let Some(len) = rest[start + 2..].find('}') else {
                    break;
                };
                names.push(rest[start + 2..start + 2 + len].trim().to_string());
                rest = &rest[start + 3 + len..];
            }
        }
        names
    }
}

/// Replaces each `${NAME}` with the environment variable, else the keychain entry.
fn expand_vars(text: &str, source: &dyn SecretSource) -> Result<String, (String, Missing)> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let name = rest[start + 2..start + 2 + len].trim().to_string();
        out.push_str(&rest[..start]);
        let value = match source.env(&name) {
            Some(v) => v,
            None => match source.keychain(&name) {
                Ok(Some(v)) if !v.is_empty() => v,
                Ok(_) => return Err((name, Missing::EnvAndKeychain)),
                Err(e) => return Err((name, Missing::KeychainError(e))),
            },
        };
        out.push_str(&value);
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The chat completions URL for a base URL.
///
/// A base whose path already has a version segment (`/v1`, `/v1beta/openai`, `/api/paas/v4`) gets
/// only `/chat/completions`; any other base gets `/v1/chat/completions`, as existing settings
/// expect. A base that already ends in `/chat/completions` is used as it is.
pub fn chat_completions_url(base_url: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        return base.to_string();
    }
    if has_version_segment(base) {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

/// The Anthropic Messages URL for a base URL, by the same rule: `https://api.anthropic.com/v1`
/// → `…/v1/messages`, `https://api.deepseek.com/anthropic` → `…/anthropic/v1/messages`.
pub fn messages_url(base_url: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    if base.ends_with("/messages") {
        return base.to_string();
    }
    if has_version_segment(base) {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

/// True when the URL's path has a segment like `v1`, `v4` or `v1beta`.
pub(crate) fn has_version_segment(url: &str) -> bool {
    let path = match url.find("://") {
        Some(i) => url[i + 3..].split_once('/').map(|(_, p)| p).unwrap_or(""),
        None => url,
    };
    path.split('/').any(|seg| {
        let Some(rest) = seg.strip_prefix('v') else {
            return false;
        };
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        digits > 0 && rest[digits..].chars().all(|c| c.is_ascii_alphabetic())
    })
}
