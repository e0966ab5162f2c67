//! Responses request → Anthropic Messages request (pure).
//!
//! Built on the repaired turns of [`super::history`], so every `tool_use` is answered by a
//! `tool_result` in the user turn right after it, in call order. On top of that:
//! - system/developer text becomes `system` blocks, in order;
//! - roles alternate (neighbouring turns of one role are merged), the first turn is a user turn,
//!   and the last is never an assistant turn (the API would take it as a prefill);
//! - thinking blocks from this upstream's envelopes are replayed byte-identical, in their original
//!   place before the `tool_use` they belong to; reasoning from anywhere else is dropped;
//! - images in results travel inside the `tool_result`; `noImageSupport` models get a text note;
//! - `reasoning.effort` becomes `thinking` with a budget below `max_tokens`; while thinking, no
//!   sampling parameters and no forced tool choice are sent (the API rejects both), and thinking is
//!   turned off for a request whose tool-use turn in progress has no thinking block to replay;
//! - prompt-cache breakpoints sit on the tools, the system prompt and the two latest user turns.

use serde_json::{json, Value};

use super::envelope::Thinking;
use super::history::{History, Part, Step, Turn};
use super::tools::{chat_tools, flat_name, ToolMap};
use crate::protocol::anthropic::*;
use crate::protocol::responses::ResponsesRequest;
use crate::settings::ModelConfig;

/// The upstream request plus what the reply decoder needs.
#[derive(Debug)]
pub struct AnthropicTranslation {
    pub request: MessagesRequest,
    pub tools: ToolMap,
    /// Input items, tools or settings that could not be used (logged by the caller).
    pub dropped: Vec<String>,
}

/// `max_tokens` when neither the request nor the settings give one and the model is not a known
/// Claude family: every current Anthropic-compatible endpoint accepts it.
pub const DEFAULT_MAX_TOKENS: u64 = 8192;

const IMAGE_OMITTED: &str = "[image omitted: this model does not accept images]";

/// The real output limit of known Claude families (Codex sends no `max_output_tokens`, and 4096
/// cuts long edits short).
pub fn default_max_tokens(model: &str) -> u64 {
    let m = model.to_ascii_lowercase();
    if m.contains("opus-4") {
        32_000
    } else if m.contains("sonnet-4") || m.contains("3-7-sonnet") || m.contains("haiku-4") {
        64_000
    } else {
        DEFAULT_MAX_TOKENS
    }
}

/// Thinking budget for a Codex effort level.
fn thinking_budget(effort: &str) -> Option<u64> {
    Some(match effort {
        "none" => return None,
        "minimal" => 1_024,
        "low" => 4_096,
        "medium" => 10_240,
        "high" => 24_576,
        _ => 32_768, // xhigh, max, ultra and unknown stronger levels
    })
}

/// Maps a Responses request for `model`, whose upstream host is `host` (for thinking replay).
pub fn to_anthropic(
    req: &ResponsesRequest,
    model: &ModelConfig,
    host: &str,
) -> AnthropicTranslation {
    let mut dropped = Vec::new();
    let (fns, tool_map) = chat_tools(req.all_tools(), &mut dropped);
    let mut tools: Vec<Tool> = fns
        .into_iter()
        .map(|t| Tool {
            name: t.function.name,
            description: t.function.description,
            input_schema: t.function.parameters,
            cache_control: None,
        })
        .collect();
    let history = History::build(req.instructions.as_deref(), &req.input.0, tools.is_empty());
    dropped.extend(history.dropped.iter().cloned());
    let mut system: Vec<Block> = history.system.iter().map(Block::text).collect();
    let mut messages = render(&history, model, host, &mut dropped);

    let max_tokens = req
        .max_output_tokens
        .or(model.max_output_tokens)
        .unwrap_or_else(|| default_max_tokens(&model.model));
    let mut thinking = req
        .reasoning
        .as_ref()
        .and_then(|r| r.effort.as_deref())
        .filter(|_| model.supports_reasoning_effort)
        .and_then(thinking_budget)
        .map(|budget| budget.min(max_tokens.saturating_sub(1_024)))
        .filter(|budget| *budget >= 1_024);
    if thinking.is_some() && !tool_turn_has_thinking(&messages) {
        dropped.push(
            "thinking (the tool-use turn in progress has no thinking block to replay)".into(),
        );
        thinking = None;
    }

    let tool_choice = if tools.is_empty() {
        None
    } else {
        anthropic_tool_choice(req, &tool_map, thinking.is_some())
    };
    // Cache breakpoints (at most 4): tools, system, and the two latest user turns.
    if let Some(last) = tools.last_mut() {
        last.cache_control = Some(CacheControl::ephemeral());
    }
    if let Some(last) = system.last_mut() {
        last.set_cache_control();
    }
    for m in messages
        .iter_mut()
        .rev()
        .filter(|m| m.role == Role::User)
        .take(2)
    {
        if let Some(b) = m
            .content
            .iter_mut()
            .rev()
            .find(|b| !matches!(b, Block::Thinking { .. } | Block::RedactedThinking { .. }))
        {
            b.set_cache_control();
        }
    }
    let request = MessagesRequest {
        model: model.model.clone(),
        max_tokens,
        system,
        messages: std::mem::take(&mut messages),
        tools,
        tool_choice,
        thinking: thinking.map(|budget| json!({"type": "enabled", "budget_tokens": budget})),
        stream: true,
        temperature: req.temperature.filter(|_| thinking.is_none()),
        top_p: req.top_p.filter(|_| thinking.is_none()),
    };
    AnthropicTranslation {
        request,
        tools: tool_map,
        dropped,
    }
}

fn anthropic_tool_choice(req: &ResponsesRequest, tools: &ToolMap, thinking: bool) -> Option<Value> {
    let mut choice = match req.tool_choice.as_ref() {
        Some(Value::String(s)) if s == "none" => json!({"type": "none"}),
        Some(Value::String(s)) if s == "required" => json!({"type": "any"}),
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str).unwrap_or("auto") {
            "function" | "custom" => {
                let flat = flat_name(
                    o.get("namespace").and_then(Value::as_str),
                    o.get("name").and_then(Value::as_str).unwrap_or_default(),
                );
                if tools.contains(&flat) {
                    json!({"type": "tool", "name": flat})
                } else {
                    json!({"type": "auto"})
                }
            }
            "none" => json!({"type": "none"}),
            "required" => json!({"type": "any"}),
            "allowed_tools" if o.get("mode").and_then(Value::as_str) == Some("required") => {
                json!({"type": "any"})
            }
            _ => json!({"type": "auto"}),
        },
        _ => json!({"type": "auto"}),
    };
    // With thinking on, the API allows only auto and none.
    if thinking && matches!(choice["type"].as_str(), Some("any" | "tool")) {
        choice = json!({"type": "auto"});
    }
    if req.parallel_tool_calls == Some(false) && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = json!(true);
    }
    Some(choice)
}

/// The turns as alternating Messages, user first and last.
fn render(h: &History, model: &ModelConfig, host: &str, dropped: &mut Vec<String>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for turn in &h.turns {
        let (role, blocks) = match turn {
            Turn::User(parts) => (
                Role::User,
                parts.iter().map(|p| image_or_text(p, model)).collect(),
            ),
            Turn::Assistant(steps) => (Role::Assistant, assistant_blocks(steps, host, dropped)),
            Turn::Results(results) => (
                Role::User,
                results
                    .iter()
                    .map(|r| {
                        let text = if r.text.is_empty() {
                            "(empty output)".to_string()
                        } else {
                            r.text.clone()
                        };
                        let mut content = vec![Block::text(text)];
                        content.extend(r.images.iter().map(|p| image_or_text(p, model)));
                        Block::ToolResult {
                            tool_use_id: r.call_id.clone(),
                            content,
                            cache_control: None,
                        }
                    })
                    .collect(),
            ),
        };
        let blocks: Vec<Block> = blocks
            .into_iter()
            .filter(|b| !matches!(b, Block::Text { text, .. } if text.trim().is_empty()))
            .collect();
        // An assistant turn of thinking alone (the stream failed after it) says nothing to replay.
        if blocks.is_empty()
            || (role == Role::Assistant
                && blocks
                    .iter()
                    .all(|b| matches!(b, Block::Thinking { .. } | Block::RedactedThinking { .. })))
        {
            continue;
        }
        match out.last_mut() {
            Some(prev) if prev.role == role => prev.content.extend(blocks),
            _ => out.push(Message {
                role,
                content: blocks,
            }),
        }
    }
    if out.first().is_some_and(|m| m.role == Role::Assistant) {
        out.insert(
            0,
            Message {
                role: Role::User,
                content: vec![Block::text("(continuing an earlier conversation)")],
            },
        );
    }
    if out.last().is_none_or(|m| m.role == Role::Assistant) {
        out.push(Message {
            role: Role::User,
            content: vec![Block::text("Continue.")],
        });
    }
    out
}

fn assistant_blocks(steps: &[Step], host: &str, dropped: &mut Vec<String>) -> Vec<Block> {
    let mut blocks = Vec::new();
    for step in steps {
        match step {
            Step::Text(t) => blocks.push(Block::text(t.clone())),
            Step::Call(c) => blocks.push(Block::ToolUse {
                id: c.id.clone(),
                name: c.name.clone(),
                input: tool_input(&c.input, c.freeform),
                cache_control: None,
            }),
            Step::Reasoning {
                envelope: Some(t), ..
            } if t.replayable_to(host) => blocks.push(match t {
                Thinking::Thinking {
                    thinking,
                    signature,
                    ..
                } => Block::Thinking {
                    thinking: thinking.clone(),
                    signature: signature.clone(),
                },
                Thinking::RedactedThinking { data, .. } => {
                    Block::RedactedThinking { data: data.clone() }
                }
            }),
            Step::Reasoning { .. } => dropped.push("reasoning item from another provider".into()),
        }
    }
    blocks
}

/// `tool_use.input` is an object: JSON arguments are parsed; a freeform call, or arguments that
/// are not a JSON object, travel as `{"input": text}`.
fn tool_input(input: &str, freeform: bool) -> Value {
    if !freeform {
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(input) {
            return v;
        }
    }
    json!({"input": input})
}

fn image_or_text(p: &Part, model: &ModelConfig) -> Block {
    match p {
        Part::Text(t) => Block::text(t.clone()),
        Part::Image { .. } if model.no_image_support => Block::text(IMAGE_OMITTED),
        Part::Image { url, .. } => match image_source(url) {
            Some(source) => Block::Image {
                source,
                cache_control: None,
            },
            None => Block::text("[image omitted: unsupported image reference]"),
        },
    }
}

/// A `data:` URL becomes base64 data; an http(s) URL is passed by reference.
fn image_source(url: &str) -> Option<ImageSource> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        let media_type = meta.strip_suffix(";base64")?;
        return Some(ImageSource::Base64 {
            media_type: media_type.to_string(),
            data: data.to_string(),
        });
    }
    (url.starts_with("https://") || url.starts_with("http://")).then(|| ImageSource::Url {
        url: url.to_string(),
    })
}

/// With thinking on, the API requires the assistant turn of a tool loop in progress to start with
/// its thinking block. True when there is no such turn or it has one.
fn tool_turn_has_thinking(messages: &[Message]) -> bool {
    // The turn in progress: the last assistant turn, if only tool results follow it.
    let Some(pos) = messages.iter().rposition(|m| m.role == Role::Assistant) else {
        return true;
    };
    let in_loop = messages[pos + 1..].iter().all(|m| {
        m.content
            .iter()
            .all(|b| matches!(b, Block::ToolResult { .. }))
    });
    let uses_tools = messages[pos]
        .content
        .iter()
        .any(|b| matches!(b, Block::ToolUse { .. }));
    !(in_loop && uses_tools)
        || matches!(
            messages[pos].content.first(),
            Some(Block::Thinking { .. } | Block::RedactedThinking { .. })
        )
}
