//! Anthropic Messages stream → neutral [`StreamEvent`]s.
//!
//! `message_start` → `content_block_start` / `_delta` / `_stop` per block → `message_delta`
//! (stop reason, usage) → `message_stop`. Thinking blocks stream as reasoning text and end with a
//! [`StreamEvent::ReasoningDone`] carrying the block's exact text and signature (or redacted data)
//! and the upstream host, so the next request can replay them byte-identical. The stream ends well
//! only with `message_stop`; an `error` event or a close before it ends in [`StreamEvent::Error`].

use std::collections::HashMap;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

/// A `content_block_delta` event, read without a JSON tree.
#[derive(Deserialize)]
struct DeltaEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    index: u64,
    #[serde(borrow, default)]
    delta: Option<BlockDelta<'a>>,
}

/// The `delta` of a content block: text, tool input JSON, thinking, or its signature.
#[derive(Deserialize, Default)]
struct BlockDelta<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
}

use super::envelope::Thinking;
use super::{new_id, Decoder, ErrorCode, Failure, Finish, StreamEvent, Usage};
use crate::protocol::anthropic::AnthropicUsage;

#[derive(Debug)]
enum Open {
    Text,
    Tool,
    Thinking { text: String, signature: String },
    Other,
}

/// Decodes one Messages stream.
#[derive(Debug)]
pub struct AnthropicStreamDecoder {
    who: String,
    origin: String,
    blocks: HashMap<usize, Open>,
    usage: AnthropicUsage,
    stop_reason: Option<String>,
    ended: bool,
}

impl AnthropicStreamDecoder {
    /// `who` names the model and upstream in errors; `origin` is the upstream host, recorded in
    /// thinking envelopes.
    pub fn new(who: impl Into<String>, origin: impl Into<String>) -> Self {
        AnthropicStreamDecoder {
            who: who.into(),
            origin: origin.into(),
            blocks: HashMap::new(),
            usage: AnthropicUsage::default(),
            stop_reason: None,
            ended: false,
        }
    }

    fn fail(&mut self, failure: Failure) -> Vec<StreamEvent> {
        self.ended = true;
        vec![StreamEvent::Error(failure)]
    }

    fn merge_usage(&mut self, v: Option<&Value>) {
        let Some(u) = v.and_then(|u| serde_json::from_value::<AnthropicUsage>(u.clone()).ok())
        else {
            return;
        };
        let keep = |new: Option<u64>, old: Option<u64>| new.or(old);
        self.usage = AnthropicUsage {
            input_tokens: keep(u.input_tokens, self.usage.input_tokens),
            output_tokens: keep(u.output_tokens, self.usage.output_tokens),
            cache_read_input_tokens: keep(
                u.cache_read_input_tokens,
                self.usage.cache_read_input_tokens,
            ),
            cache_creation_input_tokens: keep(
                u.cache_creation_input_tokens,
                self.usage.cache_creation_input_tokens,
            ),
        };
    }

    fn block_start(&mut self, index: usize, block: &Value, out: &mut Vec<StreamEvent>) {
        let text_of = |k: &str| {
            block
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let open = match block["type"].as_str().unwrap_or_default() {
            "text" => {
                let t = text_of("text");
                if !t.is_empty() {
                    out.push(StreamEvent::Text(t));
                }
                Open::Text
            }
            "tool_use" => {
                let id = Some(text_of("id"))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| new_id("toolu"));
                out.push(StreamEvent::ToolCallStart {
                    index,
                    call_id: id,
                    name: text_of("name"),
                });
                // Input normally streams as `input_json_delta`; a non-empty start input is whole.
                if let Some(input) = block
                    .get("input")
                    .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
                {
                    out.push(StreamEvent::ToolCallArgs {
                        index,
                        delta: input.to_string(),
                    });
                }
                Open::Tool
            }
            "thinking" => {
                let text = text_of("thinking");
                if !text.is_empty() {
                    out.push(StreamEvent::Reasoning(text.clone()));
                }
                Open::Thinking {
                    text,
                    signature: text_of("signature"),
                }
            }
            "redacted_thinking" => {
                out.push(StreamEvent::ReasoningDone(Some(
                    Thinking::RedactedThinking {
                        data: text_of("data"),
                        origin: Some(self.origin.clone()),
                    },
                )));
                Open::Other
            }
            other => {
                tracing::debug!("ignoring an Anthropic content block of type {other}");
                Open::Other
            }
        };
        self.blocks.insert(index, open);
    }

    fn block_delta(&mut self, index: usize, delta: &BlockDelta<'_>, out: &mut Vec<StreamEvent>) {
        let s = |field: &Option<Cow<'_, str>>| field.as_deref().unwrap_or_default().to_string();
        match (self.blocks.get_mut(&index), delta.kind.as_ref()) {
            (Some(Open::Text), "text_delta") => out.push(StreamEvent::Text(s(&delta.text))),
            (Some(Open::Tool), "input_json_delta") => out.push(StreamEvent::ToolCallArgs {
                index,
                delta: s(&delta.partial_json),
            }),
            (Some(Open::Thinking { text, .. }), "thinking_delta") => {
                let piece = s(&delta.thinking);
                text.push_str(&piece);
                out.push(StreamEvent::Reasoning(piece));
            }
            (Some(Open::Thinking { signature, .. }), "signature_delta") => {
                signature.push_str(delta.signature.as_deref().unwrap_or_default())
            }
            (_, kind) => {
                tracing::debug!("ignoring an Anthropic delta of type {kind} for block {index}")
            }
        }
    }

    fn block_stop(&mut self, index: usize, out: &mut Vec<StreamEvent>) {
        match self.blocks.remove(&index) {
            Some(Open::Tool) => out.push(StreamEvent::ToolCallEnd { index }),
            Some(Open::Thinking { text, signature }) => {
                out.push(StreamEvent::ReasoningDone(Some(Thinking::Thinking {
                    thinking: text,
                    signature,
                    origin: Some(self.origin.clone()),
                })))
            }
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        // Blocks the upstream never closed are closed in index order.
        let mut open: Vec<usize> = self.blocks.keys().copied().collect();
        open.sort_unstable();
        for index in open {
            self.block_stop(index, out);
        }
        let finish = match self.stop_reason.as_deref() {
            Some("max_tokens") => Finish::Length,
            Some("refusal") => Finish::ContentFilter,
            Some("pause_turn") => Finish::Pause,
            Some("model_context_window_exceeded") => {
                out.extend(self.fail(Failure::new(
                    ErrorCode::ContextLengthExceeded,
                    400,
                    format!(
                        "{}: the conversation is longer than the model's context window",
                        self.who
                    ),
                )));
                return;
            }
            _ => Finish::Stop,
        };
        out.push(StreamEvent::Usage(convert_usage(&self.usage)));
        out.push(StreamEvent::Finish(finish));
        self.ended = true;
    }
}

/// Anthropic usage in Responses terms: cache reads and writes are part of the input.
pub fn convert_usage(u: &AnthropicUsage) -> Usage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let input = u.input_tokens.unwrap_or(0) + read + u.cache_creation_input_tokens.unwrap_or(0);
    let output = u.output_tokens.unwrap_or(0);
    Usage {
        input_tokens: input,
        cached_tokens: read,
        output_tokens: output,
        reasoning_tokens: 0,
        total_tokens: input + output,
    }
}

impl Decoder for AnthropicStreamDecoder {
    fn event(&mut self, _name: Option<&str>, data: &str) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        // Nearly every event is a delta: read those typed, borrowing the text where it has no
        // escapes, instead of building a JSON tree of each.
        if let Ok(DeltaEvent {
            kind,
            index,
            delta: Some(delta),
        }) = serde_json::from_str::<DeltaEvent<'_>>(data)
        {
            if kind == "content_block_delta" {
                self.block_delta(index as usize, &delta, &mut out);
                return out;
            }
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            tracing::debug!("skipping a stream line that is not JSON");
            return out;
        };
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
        match v["type"].as_str().unwrap_or_default() {
            "message_start" => self.merge_usage(v["message"].get("usage")),
            "content_block_start" => self.block_start(index, &v["content_block"], &mut out),
            "content_block_delta" => {
                if let Ok(delta) = BlockDelta::deserialize(&v["delta"]) {
                    self.block_delta(index, &delta, &mut out);
                }
            }
            "content_block_stop" => self.block_stop(index, &mut out),
            "message_delta" => {
                if let Some(r) = v["delta"].get("stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_string());
                }
                self.merge_usage(v.get("usage"));
            }
            "message_stop" => self.finish(&mut out),
            "error" => {
                let error = v.get("error").cloned().unwrap_or(v);
                out.extend(self.fail(Failure::from_inband(&error, &self.who)));
            }
            _ => {} // ping and future event types
        }
        out
    }

    fn complete_json(&mut self, body: &str) -> Vec<StreamEvent> {
        let Ok(v) = serde_json::from_str::<Value>(body) else {
            return self.fail(Failure::transient(
                502,
                format!(
                    "{}: the upstream answered with JSON that could not be read",
                    self.who
                ),
            ));
        };
        if v["type"] == "error" {
            let error = v.get("error").cloned().unwrap_or(v);
            return self.fail(Failure::from_inband(&error, &self.who));
        }
        let mut out = Vec::new();
        self.merge_usage(v.get("usage"));
        self.stop_reason = v
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_string);
        for (index, block) in v["content"].as_array().into_iter().flatten().enumerate() {
            let mut start = block.clone();
            for key in ["thinking", "signature"] {
                // Whole values arrive in the start; the stop closes the block with them.
                if let Some(x) = start.get_mut(key) {
                    *x = Value::String(String::new());
                }
            }
            self.block_start(index, &start, &mut out);
            if let Some(Open::Thinking { text, signature }) = self.blocks.get_mut(&index) {
                *text = block["thinking"].as_str().unwrap_or_default().to_string();
                *signature = block["signature"].as_str().unwrap_or_default().to_string();
                out.push(StreamEvent::Reasoning(text.clone()));
            }
            self.block_stop(index, &mut out);
        }
        self.finish(&mut out);
        out
    }

    fn end_of_stream(&mut self) -> Vec<StreamEvent> {
        if self.ended {
            return Vec::new();
        }
        self.fail(Failure::transient(
            502,
            format!(
                "{}: the upstream stream ended before message_stop",
                self.who
            ),
        ))
    }

    fn transport_error(&mut self, message: &str) -> Vec<StreamEvent> {
        if self.ended {
            return Vec::new();
        }
        self.fail(Failure::transient(
            502,
            format!(
                "{}: reading the upstream stream failed: {message}",
                self.who
            ),
        ))
    }

    fn is_done(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(events: &[StreamEvent]) -> String {
        events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn deltas_read_typed_keep_escapes_and_odd_deltas_are_skipped() {
        let mut d = AnthropicStreamDecoder::new("c", "test");
        d.event(
            None,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        );
        let mut out = Vec::new();
        for data in [
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"plain "}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"q\"uote\n\u00e9 🦀"}}"#,
            // Not readable typed (a number where text goes): the tree path skips it, no panic.
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":5}}"#,
            // Fields in another order, and extra ones.
            r#"{"delta":{"text":" end","type":"text_delta","extra":[1]},"index":0,"type":"content_block_delta"}"#,
        ] {
            out.extend(d.event(Some("content_block_delta"), data));
        }
        assert_eq!(text_of(&out), "plain q\"uote\né 🦀 end");
    }
}
