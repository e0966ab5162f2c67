//! One settings row: every accepted shape and spelling, parsed strictly.
//!
//! Fields are accepted in snake_case and camelCase. `null` means absent. Booleans are JSON booleans
//! or the strings `"true"`/`"false"`; anything else is an error, so `"false"` can never mean true.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::{AuthHeader, ModelConfig, Provider, WireApi, OLLAMA_BASE_URL};
use crate::prices::Prices;

/// A row before its slug is known.
pub(super) struct Row {
    pub model: String,
    pub display_name: Option<String>,
    pub slug: Option<String>,
    provider: Provider,
    base_url: String,
    api_key: Option<String>,
    max_context_limit: Option<u64>,
    max_output_tokens: Option<u64>,
    no_image_support: bool,
    supports_reasoning_effort: Option<bool>,
    extra_headers: Vec<(String, String)>,
    auth_header: AuthHeader,
    wire_api: Option<WireApi>,
    prices: Prices,
}

/// A field error: the field's name (as the user wrote it) and what is wrong.
pub(super) type FieldError = (Option<String>, String);

/// The top-level keys that may hold the list of models, in the order they are looked for.
pub(super) const LIST_KEYS: [&str; 4] = ["customModels", "models", "launchModels", "launch_models"];

/// The list of rows in a settings document, by its accepted top-level shapes.
pub(super) fn rows_of(doc: &Value) -> Result<Vec<Value>, String> {
    match doc {
        Value::Array(rows) => Ok(rows.clone()),
        Value::Object(map) => {
            for key in LIST_KEYS {
                match map.get(key) {
                    None | Some(Value::Null) => continue,
                    Some(Value::Array(rows)) => return Ok(rows.clone()),
                    Some(_) => return Err(format!("`{key}` must be a list of models")),
                }
            }
            // A Factory settings file without custom models is fine: it simply has none.
            Ok(Vec::new())
        }
        _ => Err("expected a list of models, or an object with `customModels` or `models`".into()),
    }
}

/// Parses one row (a bare string is an Ollama model name).
pub(super) fn parse_row(value: &Value) -> Result<Row, FieldError> {
    match value {
        Value::String(name) => {
            let name = name.trim();
            if name.is_empty() {
                return Err((None, "empty model name".into()));
            }
            Ok(Row {
                model: name.to_string(),
                display_name: None,
                slug: None,
                provider: Provider::Ollama,
                base_url: OLLAMA_BASE_URL.into(),
                api_key: None,
                max_context_limit: None,
                max_output_tokens: None,
                no_image_support: false,
                supports_reasoning_effort: None,
                extra_headers: Vec::new(),
                auth_header: AuthHeader::Default,
                wire_api: None,
                prices: Prices::default(),
            })
        }
        Value::Object(map) => parse_object(map),
        other => Err((
            None,
            format!("expected an object or a model name, found {}", kind(other)),
        )),
    }
}

fn parse_object(map: &Map<String, Value>) -> Result<Row, FieldError> {
    let f = Fields(map);
    let model = f.string(&["model"])?.ok_or_else(|| {
        (
            Some("model".into()),
            "missing (the upstream model id)".into(),
        )
    })?;
    let base_url = f.string(&["base_url", "baseUrl", "baseURL"])?;
    let provider = match f.string(&["provider"])? {
        Some(p) => Provider::parse(&p).ok_or_else(|| {
            (
                Some("provider".into()),
                format!(
                    "unknown provider {p:?} (expected one of {})",
                    Provider::NAMES
                ),
            )
        })?,
        None => match &base_url {
            Some(url) if looks_like_ollama(url) => Provider::Ollama,
            _ => {
                return Err((
                    Some("provider".into()),
                    format!("missing (one of {})", Provider::NAMES),
                ))
            }
        },
    };
    let base_url = match base_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => provider
            .default_base_url()
            .ok_or_else(|| {
                (
                    Some("base_url".into()),
                    "missing (the endpoint URL, e.g. https://host/v1)".into(),
                )
            })?
            .to_string(),
    };
    Ok(Row {
        display_name: f.string(&["display_name", "displayName", "name"])?,
        slug: f.string(&["slug"])?,
        api_key: f.string(&["api_key", "apiKey", "bearerToken"])?,
        max_context_limit: f.uint(&["max_context_limit", "maxContextLimit"])?,
        max_output_tokens: f.uint(&["max_output_tokens", "maxOutputTokens"])?,
        no_image_support: f
            .boolean(&["no_image_support", "noImageSupport"])?
            .unwrap_or(false),
        supports_reasoning_effort: f
            .boolean(&["supports_reasoning_effort", "supportsReasoningEffort"])?,
        extra_headers: f.headers(&["extra_headers", "extraHeaders"])?,
        auth_header: match f.string(&["auth_header", "authHeader"])? {
            None => AuthHeader::Default,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "x-api-key" => AuthHeader::XApiKey,
                "bearer" | "authorization" => AuthHeader::Bearer,
                _ => {
                    return Err((
                        Some("authHeader".into()),
                        format!("expected \"x-api-key\" or \"bearer\", found {v:?}"),
                    ))
                }
            },
        },
        wire_api: match f.string(&["wire_api", "wireApi"])? {
            None => None,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "chat" => Some(WireApi::Chat),
                "responses" if provider != Provider::Anthropic => Some(WireApi::Responses),
                "responses" => {
                    return Err((
                        Some("wireApi".into()),
                        "the anthropic provider speaks only the Messages API".into(),
                    ))
                }
                _ => {
                    return Err((
                        Some("wireApi".into()),
                        format!("expected \"chat\" or \"responses\", found {v:?}"),
                    ))
                }
            },
        },
        prices: Prices {
            input: f.price(&["input_price", "inputPrice"])?,
            cached_input: f.price(&["cached_input_price", "cachedInputPrice"])?,
            output: f.price(&["output_price", "outputPrice"])?,
        },
        model,
        provider,
        base_url,
    })
}

fn looks_like_ollama(url: &str) -> bool {
    let url = url.to_ascii_lowercase();
    url.contains(":11434") || url.contains("ollama")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Typed access to a row's fields under any of their spellings.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    /// The first spelling present with a non-null value.
    fn get<'n>(&self, names: &[&'n str]) -> Option<(&'n str, &Value)> {
        names.iter().find_map(|n| match self.0.get(*n) {
            None | Some(Value::Null) => None,
            Some(v) => Some((*n, v)),
        })
    }

    fn string(&self, names: &[&str]) -> Result<Option<String>, FieldError> {
        match self.get(names) {
            None => Ok(None),
            Some((_, Value::String(s))) if s.trim().is_empty() => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.trim().to_string())),
            Some((n, v)) => Err((
                Some(n.into()),
                format!("expected a string, found {}", kind(v)),
            )),
        }
    }

    fn uint(&self, names: &[&str]) -> Result<Option<u64>, FieldError> {
        let Some((n, v)) = self.get(names) else {
            return Ok(None);
        };
        let parsed = match v {
            Value::Number(num) => num.as_u64().or_else(|| {
                num.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match parsed {
            Some(0) | None => Err((
                Some(n.into()),
                format!("expected a positive whole number, found {v}"),
            )),
            Some(x) => Ok(Some(x)),
        }
    }

    /// A price in USD per million tokens: a number (or numeric string), zero or more.
    fn price(&self, names: &[&str]) -> Result<Option<f64>, FieldError> {
        let Some((n, v)) = self.get(names) else {
            return Ok(None);
        };
        let parsed = match v {
            Value::Number(num) => num.as_f64(),
            Value::String(s) => s.trim().trim_start_matches('$').parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(p) if p.is_finite() && p >= 0.0 => Ok(Some(p)),
            _ => Err((
                Some(n.into()),
                format!(
                    "expected a price in USD per million tokens (a number, 0 or more), found {v}"
                ),
            )),
        }
    }

    fn boolean(&self, names: &[&str]) -> Result<Option<bool>, FieldError> {
        let Some((n, v)) = self.get(names) else {
            return Ok(None);
        };
        match v {
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            _ => Err((Some(n.into()), format!("expected true or false, found {v}"))),
        }
    }

    fn headers(&self, names: &[&str]) -> Result<Vec<(String, String)>, FieldError> {
        let Some((n, v)) = self.get(names) else {
            return Ok(Vec::new());
        };
        let Value::Object(map) = v else {
            return Err((
                Some(n.into()),
                format!(
                    "expected an object of header names to values, found {}",
                    kind(v)
                ),
            ));
        };
        let mut out = Vec::new();
        for (name, value) in map {
            let value = match value {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                Value::Number(x) => x.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err((
                        Some(format!("{n}.{name}")),
                        format!("expected a string, found {}", kind(other)),
                    ))
                }
            };
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err((
                    Some(format!("{n}.{name}")),
                    "not a valid HTTP header name".into(),
                ));
            }
            out.push((name.clone(), value));
        }
        Ok(out)
    }
}

impl Row {
    pub(super) fn into_config(self, slug: String, source: PathBuf, index: usize) -> ModelConfig {
        let supports_reasoning_effort = self
            .supports_reasoning_effort
            .unwrap_or_else(|| default_effort_support(self.provider, &self.base_url, &self.model));
        // OpenAI's own API speaks Responses natively; elsewhere chat completions is the safe default.
        let official_openai = self.provider == Provider::OpenAi
            && self
                .base_url
                .to_ascii_lowercase()
                .starts_with("https://api.openai.com/");
        let wire_api = self.wire_api.unwrap_or(if official_openai {
            WireApi::Responses
        } else {
            WireApi::Chat
        });
        ModelConfig {
            display_name: self.display_name.unwrap_or_else(|| self.model.clone()),
            slug,
            model: self.model,
            provider: self.provider,
            base_url: self.base_url,
            api_key: self.api_key,
            max_context_limit: self.max_context_limit,
            max_output_tokens: self.max_output_tokens,
            no_image_support: self.no_image_support,
            supports_reasoning_effort,
            extra_headers: self.extra_headers,
            auth_header: self.auth_header,
            wire_api,
            prices: self.prices,
            source,
            index,
        }
    }
}

/// Where reasoning effort is known to work by default. Chat: only OpenAI's own API takes
/// `reasoning_effort` for every model it serves; other endpoints reject it for some models
/// (`Unsupported parameter: reasoning_effort`), so they opt in. Anthropic: Claude models from 3.7
/// on take extended thinking; other Anthropic-compatible endpoints opt in.
fn default_effort_support(provider: Provider, base_url: &str, model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    match provider {
        Provider::Anthropic => {
            let older_than_3_7 = model.starts_with("claude-2")
                || model.starts_with("claude-instant")
                || (model.starts_with("claude-3-") && !model.starts_with("claude-3-7"));
            model.contains("claude") && !older_than_3_7
        }
        _ => base_url
            .to_ascii_lowercase()
            .starts_with("https://api.openai.com/"),
    }
}
