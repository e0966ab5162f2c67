//! Responses request → chat completions request (pure).
//!
//! Rules that keep strict providers from answering 400 (reference spec §18):
//! - every assistant `tool_calls` message is followed directly by one `tool` message per call
//!   (a missing output gets a short "interrupted" result; duplicate outputs keep the last);
//! - a tool output whose call is unknown becomes user text instead of an orphan `tool` message;
//! - images from tool outputs go in a user message after the whole batch of results;
//! - consecutive messages of one role are merged; empty text parts and empty messages are dropped;
//! - leading developer/system text becomes one system message; later ones become user text;
//! - every tool schema has an object root; freeform tools become a function with one `input`
//!   string; namespaced tools are flattened (see [`super::tools`]);
//! - with no tools declared (Codex's compaction request), tool history is rendered as text;
//! - `reasoning_content` from a chat upstream is passed back on the assistant turn it preceded.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::envelope::Thinking;
use super::tools::{chat_tool_choice, chat_tools, flat_name, ToolMap};
use crate::protocol::chat::*;
use crate::protocol::responses::{ContentPart, InputItem, ResponsesRequest, ToolOutput};
use crate::settings::ModelConfig;

/// The upstream request plus what the reply decoder needs.
#[derive(Debug)]
pub struct ChatTranslation {
    pub request: ChatRequest,
    pub tools: ToolMap,
    /// Input items or tools that could not be forwarded (logged by the caller).
    pub dropped: Vec<String>,
}

/// The result text for a call whose output never arrived.
pub const INTERRUPTED_OUTPUT: &str = "(no output: the tool call was interrupted)";

const IMAGE_OMITTED: &str = "[image omitted: this model does not accept images]";

/// Maps a Responses request to a streaming chat completions request for `model`.
pub fn to_chat(req: &ResponsesRequest, model: &ModelConfig) -> ChatTranslation {
    let mut dropped = Vec::new();
    let (tools, tool_map) = chat_tools(&req.tools, &mut dropped);
    let mut b = Builder {
        model: Some(model),
        text_history: tools.is_empty(),
        ..Default::default()
    };
    if let Some(instructions) = req.instructions.as_deref().filter(|s| !s.trim().is_empty()) {
        b.system.push(instructions.to_string());
    }
    for item in &req.input.0 {
        b.item(item, &mut dropped);
    }
    let messages = b.assemble();

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

/// One tool result, before it is placed after its call.
#[derive(Debug, Default, Clone)]
struct Output {
    text: String,
    images: Vec<ChatPart>,
}

#[derive(Debug)]
enum Entry {
    Msg(ChatMessage),
    /// A tool result, by call id.
    Output(String),
}

#[derive(Default)]
struct Builder<'a> {
    model: Option<&'a ModelConfig>,
    text_history: bool,
    system: Vec<String>,
    entries: Vec<Entry>,
    outputs: HashMap<String, Output>,
    call_names: HashMap<String, String>,
    reasoning: Option<String>,
    started: bool,
}

impl<'a> Builder<'a> {
    fn model(&self) -> &'a ModelConfig {
        self.model.expect("set by to_chat")
    }

    fn item(&mut self, item: &InputItem, dropped: &mut Vec<String>) {
        match item {
            InputItem::Message { role, content } => match role.as_str() {
                "developer" | "system" if !self.started => self.system.push(join_text(content)),
                "assistant" => {
                    let text = join_text(content);
                    self.push_assistant(Some(text).filter(|t| !t.is_empty()), None);
                }
                _ => {
                    let parts = self.user_parts(content);
                    self.push(msg(Role::User, parts));
                }
            },
            InputItem::FunctionCall {
                call_id,
                name,
                namespace,
                arguments,
            } => {
                let flat = flat_name(namespace.as_deref(), name);
                self.call(
                    call_id,
                    flat,
                    if arguments.trim().is_empty() {
                        "{}".into()
                    } else {
                        arguments.clone()
                    },
                );
            }
            InputItem::CustomToolCall {
                call_id,
                name,
                namespace,
                input,
            } => {
                let flat = flat_name(namespace.as_deref(), name);
                let args = if self.text_history {
                    input.clone()
                } else {
                    json!({"input": input}).to_string()
                };
                self.call(call_id, flat, args);
            }
            InputItem::FunctionCallOutput { call_id, output }
            | InputItem::CustomToolCallOutput { call_id, output } => {
                self.started = true;
                let out = self.tool_output(output);
                if self.text_history {
                    let name = self
                        .call_names
                        .get(call_id)
                        .cloned()
                        .unwrap_or_else(|| call_id.clone());
                    let mut parts = vec![ChatPart::Text {
                        text: format!("[tool result for {name}]\n{}", out.text),
                    }];
                    parts.extend(out.images);
                    self.push(msg(Role::User, parts));
                } else {
                    // Keep the last output for a call id (replayed retries can duplicate it).
                    if self.outputs.insert(call_id.clone(), out).is_none() {
                        self.entries.push(Entry::Output(call_id.clone()));
                    }
                }
            }
            InputItem::Reasoning {
                summary,
                content,
                encrypted_content,
            } => match encrypted_content.as_deref().and_then(Thinking::decode) {
                Some(Thinking::Thinking {
                    thinking,
                    signature,
                }) if signature.is_empty() && !thinking.is_empty() => self
                    .reasoning
                    .get_or_insert_with(String::new)
                    .push_str(&thinking),
                _ => dropped.push(format!(
                    "reasoning item from another provider ({} summary parts, {} content parts)",
                    summary.len(),
                    content.len()
                )),
            },
            InputItem::Other { kind } => dropped.push(format!("input item `{kind}`")),
        }
    }

    fn call(&mut self, call_id: &str, flat: String, args: String) {
        self.call_names.insert(call_id.to_string(), flat.clone());
        if self.text_history {
            self.push_assistant(Some(format!("[tool call {flat}]\n{args}")), None);
        } else {
            let call = ChatToolCall {
                id: call_id.to_string(),
                kind: "function",
                function: FunctionCall {
                    name: flat,
                    arguments: args,
                },
            };
            self.push_assistant(None, Some(call));
        }
    }

    fn push_assistant(&mut self, text: Option<String>, call: Option<ChatToolCall>) {
        self.started = true;
        let reasoning = self.reasoning.take();
        if let Some(Entry::Msg(prev)) = self.entries.last_mut() {
            if prev.role == Role::Assistant {
                if let Some(t) = text {
                    append_text(&mut prev.content, t);
                }
                prev.tool_calls.extend(call);
                if let Some(r) = reasoning {
                    prev.reasoning_content
                        .get_or_insert_with(String::new)
                        .push_str(&r);
                }
                return;
            }
        }
        let mut m = msg(
            Role::Assistant,
            text.map(|t| vec![ChatPart::Text { text: t }])
                .unwrap_or_default(),
        );
        m.tool_calls.extend(call);
        m.reasoning_content = reasoning;
        self.entries.push(Entry::Msg(m));
    }

    fn push(&mut self, m: ChatMessage) {
        self.started = true;
        self.entries.push(Entry::Msg(m));
    }

    fn image(&self, url: &str, detail: Option<&str>) -> ChatPart {
        if self.model().no_image_support {
            return ChatPart::Text {
                text: IMAGE_OMITTED.into(),
            };
        }
        // `original` is Codex-only; chat APIs know low/high/auto.
        let detail = detail
            .map(|d| if d == "original" { "high" } else { d })
            .filter(|d| matches!(*d, "low" | "high" | "auto"));
        ChatPart::ImageUrl {
            image_url: ImageUrl {
                url: url.to_string(),
                detail: detail.map(str::to_string),
            },
        }
    }

    fn user_parts(&self, content: &[ContentPart]) -> Vec<ChatPart> {
        content
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text(t) if !t.is_empty() => Some(ChatPart::Text { text: t.clone() }),
                ContentPart::Image { url, detail } => Some(self.image(url, detail.as_deref())),
                ContentPart::Other(kind) => Some(ChatPart::Text {
                    text: format!("[{kind} omitted: not supported by this model route]"),
                }),
                _ => None,
            })
            .collect()
    }

    fn tool_output(&self, output: &ToolOutput) -> Output {
        match output {
            ToolOutput::Text(t) => Output {
                text: t.clone(),
                images: Vec::new(),
            },
            ToolOutput::Parts(parts) => {
                let mut out = Output::default();
                for p in parts {
                    match p {
                        ContentPart::Text(t) => push_line(&mut out.text, t),
                        ContentPart::Image { url, detail } => {
                            match self.image(url, detail.as_deref()) {
                                ChatPart::Text { text } => push_line(&mut out.text, &text),
                                image => {
                                    push_line(&mut out.text, "[image attached below]");
                                    out.images.push(image);
                                }
                            }
                        }
                        ContentPart::Other(kind) => {
                            push_line(&mut out.text, &format!("[{kind} omitted]"))
                        }
                    }
                }
                out
            }
        }
    }

    /// Places results after their calls and merges neighbours.
    fn assemble(mut self) -> Vec<ChatMessage> {
        let mut messages = Vec::new();
        let system = self
            .system
            .iter()
            .filter(|s| !s.trim().is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n");
        if !system.is_empty() {
            messages.push(msg(Role::System, vec![ChatPart::Text { text: system }]));
        }
        let called: HashSet<String> = self
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Msg(m) => Some(m.tool_calls.iter().map(|c| c.id.clone())),
                Entry::Output(_) => None,
            })
            .flatten()
            .collect();
        for entry in std::mem::take(&mut self.entries) {
            match entry {
                Entry::Msg(m) if !m.tool_calls.is_empty() => {
                    let ids: Vec<String> = m.tool_calls.iter().map(|c| c.id.clone()).collect();
                    messages.push(m);
                    let mut images = Vec::new();
                    for id in ids {
                        let out = self.outputs.remove(&id).unwrap_or_else(|| Output {
                            text: INTERRUPTED_OUTPUT.into(),
                            images: Vec::new(),
                        });
                        images.extend(out.images);
                        let text = if out.text.is_empty() {
                            "(empty output)".to_string()
                        } else {
                            out.text
                        };
                        messages.push(ChatMessage {
                            tool_call_id: Some(id),
                            ..msg(Role::Tool, vec![ChatPart::Text { text }])
                        });
                    }
                    if !images.is_empty() {
                        let mut parts = vec![ChatPart::Text {
                            text: "Images from the tool results above:".into(),
                        }];
                        parts.extend(images);
                        messages.push(msg(Role::User, parts));
                    }
                }
                Entry::Msg(m) => messages.push(m),
                Entry::Output(id) if !called.contains(&id) => {
                    if let Some(out) = self.outputs.remove(&id) {
                        let mut parts = vec![ChatPart::Text {
                            text: format!("[tool result for call {id}]\n{}", out.text),
                        }];
                        parts.extend(out.images);
                        messages.push(msg(Role::User, parts));
                    }
                }
                Entry::Output(_) => {} // placed after its call
            }
        }
        merge_neighbours(messages)
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

fn append_text(content: &mut Option<ChatContent>, text: String) {
    let mut parts = parts_of(content.take());
    parts.push(ChatPart::Text { text });
    *content = content_of(parts);
}

fn merge_neighbours(messages: Vec<ChatMessage>) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len());
    for m in messages {
        if m.content.is_none() && m.tool_calls.is_empty() && m.role != Role::Tool {
            continue;
        }
        if let Some(prev) = out.last_mut() {
            let mergeable = prev.role == m.role && matches!(m.role, Role::User | Role::System)
                || (prev.role == Role::Assistant
                    && m.role == Role::Assistant
                    && prev.tool_calls.is_empty());
            if mergeable {
                let mut parts = parts_of(prev.content.take());
                parts.extend(parts_of(m.content));
                prev.content = content_of(parts);
                prev.tool_calls.extend(m.tool_calls);
                if let Some(r) = m.reasoning_content {
                    prev.reasoning_content
                        .get_or_insert_with(String::new)
                        .push_str(&r);
                }
                continue;
            }
        }
        out.push(m);
    }
    out
}

fn join_text(content: &[ContentPart]) -> String {
    let mut text = String::new();
    for p in content {
        if let ContentPart::Text(t) = p {
            push_line(&mut text, t);
        }
    }
    text
}

fn push_line(buf: &mut String, line: &str) {
    if line.is_empty() {
        return;
    }
    if !buf.is_empty() {
        buf.push('\n');
    }
    buf.push_str(line);
}
