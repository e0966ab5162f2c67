//! The reasoning envelope kept in a reasoning item's `encrypted_content`.
//!
//! Codex replays reasoning items verbatim, so whatever an upstream needs back on the next turn
//! travels in `encrypted_content`. The format is the one sessions recorded with the Python original
//! use: `anthropic-thinking-v1:` + URL-safe base64 (padded) of compact JSON
//! `{"type":"thinking","thinking":…,"signature":…}` or `{"type":"redacted_thinking","data":…}`.
//! Chat-provider reasoning uses the same form with an empty signature.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "anthropic-thinking-v1:";

/// A decoded envelope: one thinking block, exactly as the upstream sent it.
///
/// `origin` (the upstream host) is written by this shim and absent in envelopes of the Python
/// original; a signature is only valid for the service that issued it, so it is never replayed to
/// another host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thinking {
    Thinking {
        thinking: String,
        signature: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
    },
    RedactedThinking {
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
    },
}

impl Thinking {
    /// Chat-provider reasoning (no signature, no origin).
    pub fn chat(text: &str) -> Self {
        Thinking::Thinking {
            thinking: text.to_string(),
            signature: String::new(),
            origin: None,
        }
    }

    /// The `encrypted_content` string.
    pub fn encode(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{PREFIX}{}", URL_SAFE.encode(json))
    }

    /// Reads an `encrypted_content` string; anything that is not an envelope is `None`.
    pub fn decode(encrypted: &str) -> Option<Self> {
        let b64 = encrypted.strip_prefix(PREFIX)?;
        let bytes = URL_SAFE.decode(b64.trim()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// True for reasoning that came from a chat-completions upstream.
    pub fn is_chat(&self) -> bool {
        matches!(self, Thinking::Thinking { signature, .. } if signature.is_empty())
    }

    /// True if this block may be replayed to `host`: signed by it, or written before origins were
    /// recorded.
    pub fn replayable_to(&self, host: &str) -> bool {
        let origin = match self {
            Thinking::Thinking {
                signature, origin, ..
            } if !signature.is_empty() => origin,
            Thinking::RedactedThinking { origin, .. } => origin,
            Thinking::Thinking { .. } => return false,
        };
        origin
            .as_deref()
            .is_none_or(|o| o.eq_ignore_ascii_case(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_encoding() {
        let t = Thinking::Thinking {
            thinking: "hmm".into(),
            signature: "SIG".into(),
            origin: None,
        };
        assert_eq!(t.encode(), "anthropic-thinking-v1:eyJ0eXBlIjoidGhpbmtpbmciLCJ0aGlua2luZyI6ImhtbSIsInNpZ25hdHVyZSI6IlNJRyJ9");
        assert_eq!(Thinking::decode(&t.encode()), Some(t.clone()));
        assert!(Thinking::chat("x").is_chat());
        assert_eq!(Thinking::decode("ENCRYPTED_BLOB_123"), None);
        assert_eq!(Thinking::decode("anthropic-thinking-v1:!!!"), None);
        assert!(
            t.replayable_to("api.anthropic.com"),
            "reference envelopes have no origin"
        );
        let signed = Thinking::Thinking {
            thinking: "x".into(),
            signature: "S".into(),
            origin: Some("api.anthropic.com".into()),
        };
        assert!(
            signed.replayable_to("API.anthropic.com") && !signed.replayable_to("api.deepseek.com")
        );
        assert!(!Thinking::chat("x").replayable_to("api.anthropic.com"));
    }
}
