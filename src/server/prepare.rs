//! Preparing the upstream request for a model: URL, headers, body, and the decoder for its reply.
//!
//! | provider                                  | URL                         | auth                          |
//! |-------------------------------------------|-----------------------------|-------------------------------|
//! | `openai`, `generic-chat-completion-api`, `ollama` | `…/chat/completions` | `Authorization: Bearer`       |
//! | `anthropic`                               | `…/messages`                | `x-api-key` (or `Bearer` by `authHeader`), `anthropic-version` |
//!
//! The prepared request holds the key (in `headers`); it is never logged. `redact` scrubs the key
//! and header values from any upstream text before it reaches Codex or the log.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use serde_json::Value;

use crate::protocol::responses::ResponsesRequest;
use crate::settings::{
    chat_completions_url, messages_url, AuthHeader, ModelConfig, Provider, ResolvedModel,
};
use crate::translate::anthropic_stream::AnthropicStreamDecoder;
use crate::translate::chat_stream::ChatStreamDecoder;
use crate::translate::encoder::EncoderConfig;
use crate::translate::tools::ToolMap;
use crate::translate::{anthropic_request, chat_request, Decoder, Failure};

/// The Messages API version sent to Anthropic-style upstreams.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Everything needed to call the upstream and encode its reply.
pub(super) struct Prepared {
    pub(super) url: String,
    pub(super) headers: HeaderMap,
    /// The upstream request; moved into the HTTP client when sent (empty afterwards).
    pub(super) body: axum::body::Bytes,
    /// Names the model and upstream host in messages.
    pub(super) who: String,
    pub(super) encoder: EncoderConfig,
    /// What the translation could not forward (logged by the caller).
    pub(super) dropped: Vec<String>,
    provider: Provider,
    host: String,
    tools: ToolMap,
    /// The key and header values, to scrub from any upstream text that echoes them.
    secrets: Vec<String>,
}

/// `request` as JSON, in a buffer of `capacity` bytes to start with.
fn json_body<T: serde::Serialize>(request: &T, capacity: usize) -> serde_json::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, request)?;
    Ok(buf)
}

fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

impl Prepared {
    pub(super) fn new(
        model: &ModelConfig,
        resolved: ResolvedModel,
        req: &ResponsesRequest,
        body_len: usize,
        echo: crate::translate::encoder::Echo,
    ) -> Self {
        // The upstream request is about the size of Codex's: reserve that once instead of
        // doubling (and copying) a megabyte-sized buffer its way up.
        let capacity = body_len + body_len / 8 + 4096;
        let anthropic = model.provider == Provider::Anthropic;
        let url = if anthropic {
            messages_url(&resolved.base_url)
        } else {
            chat_completions_url(&resolved.base_url)
        };
        let host = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        let who = format!(
            "model `{}` (upstream `{}` at {host})",
            model.slug, model.model
        );
        // Translated routes always stream from the upstream, whatever the client asked for.
        let mut headers = super::native::json_headers(true);
        let (body, tools, dropped) = if anthropic {
            headers.insert(
                "anthropic-version",
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
            if let Some(key) = &resolved.api_key {
                let (name, value) = match model.auth_header {
                    AuthHeader::Bearer => (AUTHORIZATION, format!("Bearer {key}")),
                    AuthHeader::Default | AuthHeader::XApiKey => {
                        (HeaderName::from_static("x-api-key"), key.clone())
                    }
                };
                headers.extend(sensitive(&value).map(|v| (name, v)));
            }
            let t = anthropic_request::to_anthropic(req, model, &host);
            (json_body(&t.request, capacity), t.tools, t.dropped)
        } else {
            if let Some(key) = &resolved.api_key {
                headers.extend(sensitive(&format!("Bearer {key}")).map(|v| (AUTHORIZATION, v)));
            }
            let t = chat_request::to_chat(req, model);
            (json_body(&t.request, capacity), t.tools, t.dropped)
        };
        // `extraHeaders` come last, so they can override the defaults (e.g. a gateway's own auth).
        for (name, value) in &resolved.extra_headers {
            if let (Ok(n), Some(v)) = (HeaderName::from_bytes(name.as_bytes()), sensitive(value)) {
                headers.insert(n, v);
            }
        }
        let encoder = EncoderConfig {
            model: req.model.clone(),
            tools: tools.clone(),
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            tool_choice: match req.tool_choice.as_ref().and_then(Value::as_str) {
                Some(s @ ("auto" | "none" | "required")) => Value::from(s),
                _ => Value::from("auto"),
            },
            echo,
        };
        // Short values (a header like `X-Title: codex`) are not secrets worth scrubbing.
        let secrets = resolved
            .api_key
            .iter()
            .chain(resolved.extra_headers.iter().map(|(_, v)| v))
            .filter(|v| v.len() >= 8)
            .cloned()
            .collect();
        Prepared {
            url,
            headers,
            body: body.unwrap_or_default().into(),
            who,
            encoder,
            dropped,
            provider: model.provider,
            host,
            tools,
            secrets,
        }
    }

    /// The route's name in logs.
    pub(super) fn route_name(&self) -> &'static str {
        match self.provider {
            Provider::Anthropic => "anthropic",
            _ => "chat",
        }
    }

    /// A fresh decoder for this upstream's reply.
    pub(super) fn decoder(&self) -> Box<dyn Decoder> {
        match self.provider {
            Provider::Anthropic => Box::new(AnthropicStreamDecoder::new(
                self.who.clone(),
                self.host.clone(),
            )),
            _ => Box::new(ChatStreamDecoder::new(&self.tools, self.who.clone())),
        }
    }

    /// Removes every secret from a failure's message (some upstreams echo the key they rejected).
    pub(super) fn redact(&self, mut f: Failure) -> Failure {
        for secret in &self.secrets {
            if f.message.contains(secret.as_str()) {
                f.message = f.message.replace(secret.as_str(), "[redacted]");
            }
        }
        f
    }
}
