//! Request-time resolution: `${VAR}` references and upstream URLs.
//!
//! `${VAR}` in `apiKey`, `baseUrl` and `extraHeaders` values is read from the environment when a
//! request needs it, so a key exported after the shim started still works. An unset or empty
//! variable is an error naming the variable and the model, never an empty `Bearer ` header.

use std::fmt;

use super::ModelConfig;

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
    pub variable: String,
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
        write!(
            f,
            "model `{}`: environment variable `{}` (used in {}) is not set or is empty; export it before starting codex-shim",
            self.slug, self.variable, self.field
        )
    }
}

impl std::error::Error for ResolveError {}

impl ModelConfig {
    /// Fills in `${VAR}` references from the process environment.
    pub fn resolve(&self) -> Result<ResolvedModel, ResolveError> {
        self.resolve_with(|name| std::env::var(name).ok())
    }

    /// Fills in `${VAR}` references from `lookup` (the environment, or a test's map).
    pub fn resolve_with(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ResolvedModel, ResolveError> {
        let expand = |field: &'static str, text: &str| {
            expand_vars(text, &lookup).map_err(|variable| ResolveError {
                slug: self.slug.clone(),
                field,
                variable,
            })
        };
        let api_key = match &self.api_key {
            Some(k) => Some(expand("apiKey", k)?).filter(|k| !k.is_empty()),
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
}

/// Replaces each `${NAME}` with its value; an unset or empty variable is returned as the error.
pub(crate) fn expand_vars(
    text: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        match lookup(name.trim()).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&v),
            None => return Err(name.trim().to_string()),
        }
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
