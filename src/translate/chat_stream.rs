//! Chat completions stream → neutral [`StreamEvent`]s.
//!
//! Tool calls are assembled by index **and** id, because servers differ: some repeat the full name
//! in every chunk, some split it, some send it after the arguments, some give every parallel call
//! index 0, some omit `index` or send the id only once. A call is announced once its id and a
//! declared name are known and its arguments have begun; until then its arguments are buffered.
//!
//! The stream ends well only with `[DONE]`, or with a `finish_reason` followed by the close. A
//! close without either, or an in-band error, ends in [`StreamEvent::Error`].

use std::collections::HashSet;

use super::think::{Piece, ThinkSplitter};
use super::tools::ToolMap;
use super::{new_id, Failure, Finish, StreamEvent, Usage};
use crate::protocol::chat::{ChatChunk, ChatUsage, ToolCallDelta};

#[derive(Debug, Default)]
struct PendingCall {
    upstream_index: Option<u32>,
    id: Option<String>,
    name: String,
    buffered: String,
    args_seen: bool,
    started: bool,
}

/// Decodes one chat completions stream.
#[derive(Debug)]
pub struct ChatStreamDecoder {
    known: HashSet<String>,
    who: String,
    calls: Vec<PendingCall>,
    think: ThinkSplitter,
    finish: Option<Finish>,
    usage: Option<Usage>,
    ended: bool,
}

impl ChatStreamDecoder {
    /// `tools` are the declared tools (to know when a name is complete); `who` names the model and
    /// upstream in error messages.
    pub fn new(tools: &ToolMap, who: impl Into<String>) -> Self {
        ChatStreamDecoder {
            known: tools.names().map(str::to_string).collect(),
            who: who.into(),
            calls: Vec::new(),
            think: ThinkSplitter::default(),
            finish: None,
            usage: None,
            ended: false,
        }
    }

    /// True once a final `Finish` or `Error` has been produced.
    pub fn is_done(&self) -> bool {
        self.ended
    }

    /// Feeds one SSE `data:` payload.
    pub fn data(&mut self, data: &str) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        let data = data.trim();
        if data == "[DONE]" {
            self.finalize(&mut out);
            return out;
        }
        let chunk: ChatChunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("skipping a stream line that is not a chat chunk: {e}");
                return out;
            }
        };
        if let Some(error) = chunk.error {
            return self.fail(Failure::from_inband(&error, &self.who));
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(convert_usage(&u));
        }
        // Only the first choice is used: Codex never asks for `n > 1`.
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(delta) = choice.delta {
                for thinking in [delta.reasoning_content, delta.reasoning]
                    .into_iter()
                    .flatten()
                {
                    if !thinking.is_empty() {
                        out.push(StreamEvent::Reasoning(thinking));
                    }
                }
                for text in [delta.content, delta.refusal].into_iter().flatten() {
                    out.extend(self.think.push(&text).into_iter().map(piece_event));
                }
                for call in delta.tool_calls.unwrap_or_default() {
                    self.tool_delta(call, &mut out);
                }
            }
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                if reason == "error" {
                    out.extend(self.fail(Failure::transient(
                        502,
                        format!(
                            "{}: the upstream stopped with finish_reason \"error\"",
                            self.who
                        ),
                    )));
                    return out;
                }
                self.finish = Some(match reason.as_str() {
                    "length" | "max_tokens" => Finish::Length,
                    "content_filter" => Finish::ContentFilter,
                    _ => Finish::Stop,
                });
            }
        }
        out
    }

    /// A complete, non-streamed `chat.completion` (some servers ignore `stream: true`): decoded as
    /// one chunk holding the whole message, then the end of the stream.
    pub fn complete_json(&mut self, body: &str) -> Vec<StreamEvent> {
        let Ok(mut v) = serde_json::from_str::<serde_json::Value>(body) else {
            return self.fail(Failure::transient(
                502,
                format!(
                    "{}: the upstream answered with JSON that could not be read",
                    self.who
                ),
            ));
        };
        if let Some(choice) = v.get_mut("choices").and_then(|c| c.get_mut(0)) {
            if let Some(message) = choice.get_mut("message").map(serde_json::Value::take) {
                choice["delta"] = message;
            }
            if let Some(calls) = choice["delta"]
                .get_mut("tool_calls")
                .and_then(serde_json::Value::as_array_mut)
            {
                for (i, call) in calls.iter_mut().enumerate() {
                    call["index"] = serde_json::json!(i);
                }
            }
        }
        let mut out = self.data(&v.to_string());
        out.extend(self.data("[DONE]"));
        out
    }

    /// The upstream closed the connection.
    pub fn end_of_stream(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        if self.finish.is_some() {
            self.finalize(&mut out);
            return out;
        }
        self.fail(Failure::transient(
            502,
            format!(
                "{}: the upstream stream ended before it finished (no [DONE], no finish_reason)",
                self.who
            ),
        ))
    }

    /// A transport error while reading.
    pub fn transport_error(&mut self, message: &str) -> Vec<StreamEvent> {
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

    fn fail(&mut self, failure: Failure) -> Vec<StreamEvent> {
        self.ended = true;
        vec![StreamEvent::Error(failure)]
    }

    fn tool_delta(&mut self, d: ToolCallDelta, out: &mut Vec<StreamEvent>) {
        let slot = self.slot_for(&d);
        let call = &mut self.calls[slot];
        if let Some(id) = d.id.filter(|i| !i.is_empty()) {
            call.id.get_or_insert(id);
        }
        if let Some(f) = d.function {
            if let Some(piece) = f.name.filter(|n| !n.is_empty()) {
                merge_name(&mut call.name, &piece);
            }
            if let Some(args) = f.arguments {
                call.args_seen = true;
                if call.started {
                    if !args.is_empty() {
                        out.push(StreamEvent::ToolCallArgs {
                            index: slot,
                            delta: args,
                        });
                    }
                } else {
                    call.buffered.push_str(&args);
                }
            }
        }
        let ready =
            !call.started && call.id.is_some() && call.args_seen && self.known.contains(&call.name);
        if ready {
            self.start(slot, out);
        }
    }

    fn slot_for(&mut self, d: &ToolCallDelta) -> usize {
        let id = d.id.as_deref().filter(|i| !i.is_empty());
        let found = match (id, d.index) {
            (Some(id), index) => self
                .calls
                .iter()
                .position(|c| c.id.as_deref() == Some(id))
                .or_else(|| {
                    index.and_then(|ix| {
                        self.calls
                            .iter()
                            .rposition(|c| c.id.is_none() && c.upstream_index == Some(ix))
                    })
                }),
            (None, Some(ix)) => self
                .calls
                .iter()
                .rposition(|c| c.upstream_index == Some(ix)),
            (None, None) => self.calls.len().checked_sub(1),
        };
        found.unwrap_or_else(|| {
            self.calls.push(PendingCall {
                upstream_index: d.index,
                ..Default::default()
            });
            self.calls.len() - 1
        })
    }

    fn start(&mut self, slot: usize, out: &mut Vec<StreamEvent>) {
        let call = &mut self.calls[slot];
        call.started = true;
        let call_id = call.id.get_or_insert_with(|| new_id("call")).clone();
        out.push(StreamEvent::ToolCallStart {
            index: slot,
            call_id,
            name: call.name.clone(),
        });
        let buffered = std::mem::take(&mut call.buffered);
        if !buffered.is_empty() {
            out.push(StreamEvent::ToolCallArgs {
                index: slot,
                delta: buffered,
            });
        }
    }

    fn finalize(&mut self, out: &mut Vec<StreamEvent>) {
        out.extend(self.think.finish().into_iter().map(piece_event));
        if let Some(nameless) = self.calls.iter().position(|c| c.name.is_empty()) {
            out.extend(self.fail(Failure::transient(
                502,
                format!(
                    "{}: the upstream sent tool call #{nameless} without a name",
                    self.who
                ),
            )));
            return;
        }
        for slot in 0..self.calls.len() {
            if !self.calls[slot].started {
                self.start(slot, out);
            }
        }
        for slot in 0..self.calls.len() {
            out.push(StreamEvent::ToolCallEnd { index: slot });
        }
        if let Some(u) = self.usage {
            out.push(StreamEvent::Usage(u));
        }
        out.push(StreamEvent::Finish(self.finish.unwrap_or(Finish::Stop)));
        self.ended = true;
    }
}

fn piece_event(p: Piece) -> StreamEvent {
    match p {
        Piece::Text(t) => StreamEvent::Text(t),
        Piece::Thinking(t) => StreamEvent::Reasoning(t),
    }
}

/// Name pieces: a repeated full name is not appended again, a growing name replaces, a fragment
/// is appended.
fn merge_name(acc: &mut String, piece: &str) {
    if acc.is_empty() || piece.starts_with(acc.as_str()) {
        *acc = piece.to_string();
    } else if piece != acc.as_str() {
        acc.push_str(piece);
    }
}

/// Chat usage in Responses terms.
pub fn convert_usage(u: &ChatUsage) -> Usage {
    let input = u.prompt_tokens.unwrap_or(0);
    let output = u.completion_tokens.unwrap_or(0);
    let cached = u
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .or(u.prompt_cache_hit_tokens)
        .unwrap_or(0);
    Usage {
        input_tokens: input,
        cached_tokens: cached.min(input),
        output_tokens: output,
        reasoning_tokens: u
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
            .min(output),
        total_tokens: u.total_tokens.unwrap_or(input + output).max(input + output),
    }
}

impl super::Decoder for ChatStreamDecoder {
    fn event(&mut self, _name: Option<&str>, data: &str) -> Vec<StreamEvent> {
        self.data(data)
    }
    fn complete_json(&mut self, body: &str) -> Vec<StreamEvent> {
        ChatStreamDecoder::complete_json(self, body)
    }
    fn end_of_stream(&mut self) -> Vec<StreamEvent> {
        ChatStreamDecoder::end_of_stream(self)
    }
    fn transport_error(&mut self, message: &str) -> Vec<StreamEvent> {
        ChatStreamDecoder::transport_error(self, message)
    }
    fn is_done(&self) -> bool {
        ChatStreamDecoder::is_done(self)
    }
}
