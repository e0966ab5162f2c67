//! Responses request → chat completions request (pure).
//!
//! The conversation is first repaired into turns by [`super::history`] (calls answered in order,
//! orphans as text, tool-less requests as text). On top of that, for chat upstreams:
//! - the system prompt is one `system` message; text-only content is a plain string;
//! - each result is a `tool` message; images from results follow the whole batch in a user message;
//! - every tool schema has an object root; freeform tools become a function with one `input`
//!   string; namespaced tools are flattened (see [`super::tools`]);
//! - `reasoning_content` from a chat upstream goes back on the assistant turn it belongs to;
//!   reasoning from other providers is not sent.

use serde_json::{json, Value};

use super::envelope::Thinking;
use super::history::{History, Part, Step, Turn};
use super::tools::{chat_tool_choice, chat_tools, ToolMap};
use crate::protocol::chat::*;
use crate::protocol::responses::ResponsesRequest;
use crate::settings::ModelConfig;

/// The upstream request plus what the reply decoder needs.
#[derive(Debug)]
pub struct ChatTranslation {
    pub request: ChatRequest,
    pub tools: ToolMap,
    /// Input items or tools that could not be forwarded (logged by the caller).
    pub dropped: Vec<String>,
}

const IMAGE_OMITTED: &str = "[image omitted: this model does not accept images]";

/// Maps a Responses request to a streaming chat completions request for `model`.
pub fn to_chat(req: &ResponsesRequest, model: &ModelConfig) -> ChatTranslation {
    let mut dropped = Vec::new();
    let (tools, tool_map) = chat_tools(req.all_tools(), &mut dropped);
    let history = History::build(req.instructions.as_deref(), &req.input.0, tools.is_empty());
    dropped.extend(history.dropped.iter().cloned());
    let messages = render(&history, model, &mut dropped);

    let has_tools = !tools.is_empty();
    let official_openai = model.base_url.starts_with("https://api.openai.com/");
    let max_tokens = req.max_output_tokens.or(model.max_output_tokens);
    let request = ChatRequest {
        model: model.model.clone(),
        messages,
        stream: true,
        stream_options: Some(StreamOptions {
            include_usage: true,
        }),
        tool_choice: if has_tools {
            chat_tool_choice(req.tool_choice.as_ref(), &tool_map)
        } else {
            None
        },
        parallel_tool_calls: if has_tools {
            req.parallel_tool_calls
        } else {
            None
        },
        tools,
        // OpenAI's own API wants `max_completion_tokens` (required by its reasoning models).
        max_tokens: max_tokens.filter(|_| !official_openai),
        max_completion_tokens: max_tokens.filter(|_| official_openai),
        reasoning_effort: req
            .reasoning
            .as_ref()
            .and_then(|r| r.effort.as_deref())
            .filter(|_| model.supports_reasoning_effort)
            .map(chat_effort),
        response_format: req
            .text
            .as_ref()
            .and_then(|t| t.format.as_ref())
            .and_then(response_format),
        temperature: req.temperature,
        top_p: req.top_p,
    };
    ChatTranslation {
        request,
        tools: tool_map,
        dropped,
    }
}

/// Codex efforts the chat API does not know map to the nearest one it does.
fn chat_effort(effort: &str) -> String {
    match effort {
        "max" | "ultra" => "xhigh".to_string(),
        other => other.to_string(),
    }
}

fn response_format(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str)? {
        "json_schema" => Some(json!({"type": "json_schema", "json_schema": {
            "name": format.get("name").and_then(Value::as_str).unwrap_or("output"),
            "schema": format.get("schema").cloned().unwrap_or(json!({})),
            "strict": format.get("strict").and_then(Value::as_bool).unwrap_or(false),
        }})),
        "json_object" => Some(json!({"type": "json_object"})),
        _ => None,
    }
}

/// The history as chat messages.
fn render(h: &History, model: &ModelConfig, dropped: &mut Vec<String>) -> Vec<ChatMessage> {
    let mut out = Vec::new();
    let system = h.system.join("\n\n");
    if !system.is_empty() {
        out.push(msg(Role::System, vec![ChatPart::Text { text: system }]));
    }
    for turn in &h.turns {
        match turn {
            Turn::User(parts) => out.push(msg(
                Role::User,
                parts.iter().map(|p| part(p, model)).collect(),
            )),
            Turn::Assistant(steps) => {
                let mut m = msg(Role::Assistant, Vec::new());
                let mut texts = Vec::new();
                for step in steps {
                    match step {
                        Step::Text(t) => texts.push(ChatPart::Text { text: t.clone() }),
                        Step::Call(c) => {
                            let arguments = if c.freeform {
                                json!({"input": c.input}).to_string()
                            } else {
                                c.input.clone()
                            };
                            m.tool_calls.push(ChatToolCall {
                                id: c.id.clone(),
                                kind: "function",
                                function: FunctionCall {
                                    name: c.name.clone(),
                                    arguments,
                                },
                            });
                        }
                        Step::Reasoning {
                            envelope: Some(t @ Thinking::Thinking { thinking, .. }),
                            ..
                        } if t.is_chat() && !thinking.is_empty() => m
                            .reasoning_content
                            .get_or_insert_with(String::new)
                            .push_str(thinking),
                        Step::Reasoning { .. } => {
                            dropped.push("reasoning item from another provider".into())
                        }
                    }
                }
                m.content = content_of(texts);
                if m.content.is_some() || !m.tool_calls.is_empty() {
                    out.push(m);
                }
            }
            Turn::Results(results) => {
                let mut images = Vec::new();
                for r in results {
                    let mut text = if r.text.is_empty() {
                        "(empty output)".to_string()
                    } else {
                        r.text.clone()
                    };
                    for img in &r.images {
                        match part(img, model) {
                            ChatPart::Text { text: note } => text.push_str(&format!("\n{note}")),
                            image => {
                                text.push_str("\n[image attached below]");
                                images.push(image);
                            }
                        }
                    }
                    out.push(ChatMessage {
                        tool_call_id: Some(r.call_id.clone()),
                        ..msg(Role::Tool, vec![ChatPart::Text { text }])
                    });
                }
                if !images.is_empty() {
                    let mut parts = vec![ChatPart::Text {
                        text: "Images from the tool results above:".into(),
                    }];
                    parts.extend(images);
                    out.push(msg(Role::User, parts));
                }
            }
        }
    }
    merge_users(out)
}

fn part(p: &Part, model: &ModelConfig) -> ChatPart {
    match p {
        Part::Text(text) => ChatPart::Text { text: text.clone() },
        Part::Image { .. } if model.no_image_support => ChatPart::Text {
            text: IMAGE_OMITTED.into(),
        },
        Part::Image { url, detail } => {
            // `original` is Codex-only; chat APIs know low/high/auto.
            let detail = detail
                .as_deref()
                .map(|d| if d == "original" { "high" } else { d })
                .filter(|d| matches!(*d, "low" | "high" | "auto"));
            ChatPart::ImageUrl {
                image_url: ImageUrl {
                    url: url.clone(),
                    detail: detail.map(str::to_string),
                },
            }
        }
    }
}

fn msg(role: Role, parts: Vec<ChatPart>) -> ChatMessage {
    ChatMessage {
        role,
        content: content_of(parts),
        tool_calls: Vec::new(),
        tool_call_id: None,
        reasoning_content: None,
    }
}

/// Text-only content becomes a plain string (the most widely accepted form); none becomes `None`.
fn content_of(parts: Vec<ChatPart>) -> Option<ChatContent> {
    let parts: Vec<ChatPart> = parts
        .into_iter()
        .filter(|p| !matches!(p, ChatPart::Text { text } if text.is_empty()))
        .collect();
    if parts.is_empty() {
        return None;
    }
    if let [ChatPart::Text { .. }] = parts.as_slice() {
        // One text part (the usual case): moved, not copied through a join.
        let Some(ChatPart::Text { text }) = parts.into_iter().next() else {
            return None;
        };
        return Some(ChatContent::Text(text));
    }
    if parts.iter().all(|p| matches!(p, ChatPart::Text { .. })) {
        let text = parts
            .into_iter()
            .map(|p| {
                if let ChatPart::Text { text } = p {
                    text
                } else {
                    String::new()
                }
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        return Some(ChatContent::Text(text));
    }
    Some(ChatContent::Parts(parts))
}

fn parts_of(content: Option<ChatContent>) -> Vec<ChatPart> {
    match content {
        None => Vec::new(),
        Some(ChatContent::Text(text)) => vec![ChatPart::Text { text }],
        Some(ChatContent::Parts(parts)) => parts,
    }
}

/// Merges neighbouring user messages (an image message after results, then the next user turn)
/// and drops empty ones.
fn merge_users(messages: Vec<ChatMessage>) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len());
    for m in messages {
        if m.content.is_none() && m.tool_calls.is_empty() && m.role != Role::Tool {
            continue;
        }
        if let Some(prev) = out
            .last_mut()
            .filter(|p| p.role == Role::User && m.role == Role::User)
        {
            let mut parts = parts_of(prev.content.take());
            parts.extend(parts_of(m.content));
            prev.content = content_of(parts);
            continue;
        }
        out.push(m);
    }
    out
}
