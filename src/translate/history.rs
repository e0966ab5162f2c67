//! A conversation in upstream-neutral form, repaired once for every route.
//!
//! Codex sends a flat list of items. Strict upstreams need more structure (reference spec §18), so
//! the list is turned into alternating turns with these guarantees, which both the chat and the
//! Anthropic renderer rely on:
//! - leading developer/system text is the system prompt; later ones become user text;
//! - an assistant turn holds its reasoning, text and calls in their original order;
//! - every assistant turn with calls is followed directly by a `Results` turn answering each call
//!   in call order (a missing output becomes [`INTERRUPTED_OUTPUT`]; of duplicates the last wins);
//! - an output whose call is unknown becomes user text;
//! - consecutive user turns are merged; empty text is dropped;
//! - with `calls_as_text` (a request that declares no tools, such as Codex's compaction request),
//!   calls and results are rendered as text, since upstreams reject tool history without tools.

use std::collections::{HashMap, HashSet};

use super::envelope::Thinking;
use super::tools::flat_name;
use crate::protocol::responses::{ContentPart, InputItem, ToolOutput};

/// The result text for a call whose output never arrived.
pub const INTERRUPTED_OUTPUT: &str = "(no output: the tool call was interrupted)";

/// A user-side part.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Image { url: String, detail: Option<String> },
}

/// A model-side step, in the order the model produced it.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A reasoning item: its envelope (if it carried one of ours) and its readable text.
    Reasoning {
        envelope: Option<Thinking>,
        text: String,
    },
    Text(String),
    Call(Call),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: String,
    /// The flat (upstream) tool name.
    pub name: String,
    /// JSON arguments for a function; the raw input for a freeform (custom) tool.
    pub input: String,
    pub freeform: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub call_id: String,
    pub text: String,
    pub images: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    User(Vec<Part>),
    Assistant(Vec<Step>),
    /// The answers to the previous assistant turn's calls, in call order.
    Results(Vec<ToolResult>),
}

#[derive(Debug, Default)]
pub struct History {
    pub system: Vec<String>,
    pub turns: Vec<Turn>,
    /// Items that could not be represented (logged by the caller).
    pub dropped: Vec<String>,
}

enum Entry {
    Turn(Turn),
    Output(String),
}

impl History {
    /// Builds the repaired history of `items` (after an optional top-level `instructions`).
    pub fn build(instructions: Option<&str>, items: &[InputItem], calls_as_text: bool) -> Self {
        let mut h = History::default();
        if let Some(i) = instructions.filter(|s| !s.trim().is_empty()) {
            h.system.push(i.to_string());
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut outputs: HashMap<String, ToolResult> = HashMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut started = false;
        for item in items {
            match item {
                InputItem::Message { role, content }
                    if (role == "developer" || role == "system") && !started =>
                {
                    let text = join_text(content);
                    if !text.trim().is_empty() {
                        h.system.push(text);
                    }
                }
                InputItem::Message { role, content } if role == "assistant" => {
                    started = true;
                    let text = join_text(content);
                    if !text.is_empty() {
                        push_step(&mut entries, Step::Text(text));
                    }
                }
                InputItem::Message { content, .. } => {
                    started = true;
                    push_user(&mut entries, user_parts(content));
                }
                InputItem::FunctionCall {
                    call_id,
                    name,
                    namespace,
                    arguments,
                } => {
                    started = true;
                    let input = if arguments.trim().is_empty() {
                        "{}".to_string()
                    } else {
                        arguments.clone()
                    };
                    let call = Call {
                        id: call_id.clone(),
                        name: flat_name(namespace.as_deref(), name),
                        input,
                        freeform: false,
                    };
                    names.insert(call.id.clone(), call.name.clone());
                    push_call(&mut entries, call, calls_as_text);
                }
                InputItem::CustomToolCall {
                    call_id,
                    name,
                    namespace,
                    input,
                } => {
                    started = true;
                    let call = Call {
                        id: call_id.clone(),
                        name: flat_name(namespace.as_deref(), name),
                        input: input.clone(),
                        freeform: true,
                    };
                    names.insert(call.id.clone(), call.name.clone());
                    push_call(&mut entries, call, calls_as_text);
                }
                InputItem::FunctionCallOutput { call_id, output }
                | InputItem::CustomToolCallOutput { call_id, output } => {
                    started = true;
                    let result = tool_result(call_id, output);
                    if calls_as_text {
                        let name = names
                            .get(call_id)
                            .cloned()
                            .unwrap_or_else(|| call_id.clone());
                        let mut parts = vec![Part::Text(format!(
                            "[tool result for {name}]\n{}",
                            result.text
                        ))];
                        parts.extend(result.images);
                        push_user(&mut entries, parts);
                    } else if outputs.insert(call_id.clone(), result).is_none() {
                        entries.push(Entry::Output(call_id.clone()));
                    }
                }
                InputItem::Reasoning {
                    summary,
                    content,
                    encrypted_content,
                } => {
                    let envelope = encrypted_content.as_deref().and_then(Thinking::decode);
                    let text = if summary.is_empty() {
                        content.join("\n")
                    } else {
                        summary.join("\n")
                    };
                    push_step(&mut entries, Step::Reasoning { envelope, text });
                }
                // Tool declarations, offered as tools by the mappers; never conversation text.
                InputItem::AdditionalTools { .. } => {}
                InputItem::Other { kind } => h.dropped.push(format!("input item `{kind}`")),
            }
        }
        h.turns = assemble(entries, outputs);
        h
    }
}

fn push_step(entries: &mut Vec<Entry>, step: Step) {
    if let Some(Entry::Turn(Turn::Assistant(steps))) = entries.last_mut() {
        steps.push(step);
    } else {
        entries.push(Entry::Turn(Turn::Assistant(vec![step])));
    }
}

fn push_call(entries: &mut Vec<Entry>, call: Call, as_text: bool) {
    if as_text {
        push_step(
            entries,
            Step::Text(format!("[tool call {}]\n{}", call.name, call.input)),
        );
    } else {
        push_step(entries, Step::Call(call));
    }
}

fn push_user(entries: &mut Vec<Entry>, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    if let Some(Entry::Turn(Turn::User(prev))) = entries.last_mut() {
        prev.extend(parts);
    } else {
        entries.push(Entry::Turn(Turn::User(parts)));
    }
}

/// Places results after their calls and turns orphans into user text.
fn assemble(entries: Vec<Entry>, mut outputs: HashMap<String, ToolResult>) -> Vec<Turn> {
    let called: HashSet<String> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Turn(Turn::Assistant(steps)) => Some(steps.iter().filter_map(|s| {
                if let Step::Call(c) = s {
                    Some(c.id.clone())
                } else {
                    None
                }
            })),
            _ => None,
        })
        .flatten()
        .collect();
    let mut turns: Vec<Turn> = Vec::new();
    let push_user = |turns: &mut Vec<Turn>, parts: Vec<Part>| match turns.last_mut() {
        Some(Turn::User(prev)) => prev.extend(parts),
        _ => turns.push(Turn::User(parts)),
    };
    for entry in entries {
        match entry {
            Entry::Turn(Turn::Assistant(steps)) => {
                let ids: Vec<String> = steps
                    .iter()
                    .filter_map(|s| {
                        if let Step::Call(c) = s {
                            Some(c.id.clone())
                        } else {
                            None
                        }
                    })
                    .collect();
                turns.push(Turn::Assistant(steps));
                if !ids.is_empty() {
                    let results = ids
                        .into_iter()
                        .map(|id| {
                            outputs.remove(&id).unwrap_or_else(|| ToolResult {
                                call_id: id,
                                text: INTERRUPTED_OUTPUT.into(),
                                images: Vec::new(),
                            })
                        })
                        .collect();
                    turns.push(Turn::Results(results));
                }
            }
            Entry::Turn(Turn::User(parts)) => push_user(&mut turns, parts),
            Entry::Turn(other) => turns.push(other),
            Entry::Output(id) if !called.contains(&id) => {
                if let Some(out) = outputs.remove(&id) {
                    let mut parts = vec![Part::Text(format!(
                        "[tool result for call {id}]\n{}",
                        out.text
                    ))];
                    parts.extend(out.images);
                    push_user(&mut turns, parts);
                }
            }
            Entry::Output(_) => {} // placed after its call
        }
    }
    turns
}

fn tool_result(call_id: &str, output: &ToolOutput) -> ToolResult {
    let mut r = ToolResult {
        call_id: call_id.to_string(),
        text: String::new(),
        images: Vec::new(),
    };
    match output {
        ToolOutput::Text(t) => r.text = t.clone(),
        ToolOutput::Parts(parts) => {
            for p in parts {
                match p {
                    ContentPart::Text(t) => push_line(&mut r.text, t),
                    ContentPart::Image { url, detail } => r.images.push(Part::Image {
                        url: url.clone(),
                        detail: detail.clone(),
                    }),
                    ContentPart::Other(kind) => {
                        push_line(&mut r.text, &format!("[{kind} omitted]"))
                    }
                }
            }
        }
    }
    r
}

fn user_parts(content: &[ContentPart]) -> Vec<Part> {
    content
        .iter()
        .filter_map(|p| match p {
            ContentPart::Text(t) if !t.is_empty() => Some(Part::Text(t.clone())),
            ContentPart::Image { url, detail } => Some(Part::Image {
                url: url.clone(),
                detail: detail.clone(),
            }),
            ContentPart::Other(kind) => Some(Part::Text(format!(
                "[{kind} omitted: not supported by this model route]"
            ))),
            _ => None,
        })
        .collect()
}

/// The text parts of a message, one per line.
pub fn join_text(content: &[ContentPart]) -> String {
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
