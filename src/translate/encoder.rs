//! Neutral [`StreamEvent`]s → the Responses event stream, for every route.
//!
//! What Codex and the OpenAI types require, and this encoder keeps:
//! - `response.created` and `response.in_progress` first, each with a full `response` object;
//! - `output_item.added` before any delta of an item, and exactly one `output_item.done` per item,
//!   carrying the complete item (Codex commits items and runs tools on `done` alone);
//! - text that arrives after a tool call opens a new message; closed items get no more deltas;
//! - every event has a `sequence_number`; text events carry `logprobs`;
//! - exactly one terminal event: `completed`, `incomplete` (truncation, content filter) or
//!   `failed`. After a failure, items still open are not committed: a partial tool call must not run.
//! - a tool call whose arguments are not complete JSON when it ends is held until the stream's
//!   end: on a normal stop it is committed (Codex tells the model its arguments did not parse, and
//!   a freeform tool takes raw text); when the output-token limit or a filter cut the stream it is
//!   never committed, and the `response.incomplete` says why.

use serde_json::{json, Value};

use super::envelope::Thinking;
use super::frames::{Delta, DeltaKind, Out};
use super::tools::{ToolKind, ToolMap, ToolTarget};
use super::{new_id, Failure, Finish, StreamEvent, Usage};

/// What the encoder echoes from the request.
#[derive(Debug, Clone)]
pub struct EncoderConfig {
    pub model: String,
    pub tools: ToolMap,
    pub parallel_tool_calls: bool,
    pub tool_choice: Value,
    pub echo: Echo,
}

/// Request fields the Response object repeats, as OpenAI's does.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    /// The request's `tools` as sent; `None` writes `[]` (Codex's requests: it ignores the echo,
    /// and repeating its 18 KB of tools in every event would cost more than the rest of the event).
    pub tools: Option<std::sync::Arc<Value>>,
    pub store: bool,
    pub previous_response_id: Option<String>,
}

#[derive(Debug)]
struct OpenText {
    id: String,
    output_index: usize,
    text: String,
}

impl OpenText {
    /// Appends `text` and returns the delta event that carries it.
    fn append<'a>(&'a mut self, kind: DeltaKind, text: &'a str, sequence_number: u64) -> Delta<'a> {
        self.text.push_str(text);
        Delta {
            kind,
            item_id: &self.id,
            output_index: self.output_index,
            delta: text,
            sequence_number,
        }
    }
}

#[derive(Debug)]
struct OpenCall {
    slot: usize,
    id: String,
    output_index: usize,
    call_id: String,
    target: ToolTarget,
    args: String,
}

impl OpenCall {
    /// True if the arguments are complete JSON (or absent: a call without arguments).
    fn args_complete(&self) -> bool {
        let args = self.args.trim();
        args.is_empty() || serde_json::from_str::<serde::de::IgnoredAny>(args).is_ok()
    }
}

/// Writes one Responses stream.
#[derive(Debug)]
pub struct ResponsesEncoder {
    cfg: EncoderConfig,
    id: String,
    created_at: u64,
    seq: u64,
    next_index: usize,
    output: Vec<Value>,
    message: Option<OpenText>,
    reasoning: Option<OpenText>,
    calls: Vec<OpenCall>,
    /// Ended calls whose arguments did not parse, waiting for the stream's end to decide.
    held: Vec<OpenCall>,
    usage: Option<Usage>,
    terminal: Option<&'static str>,
}

impl ResponsesEncoder {
    pub fn new(cfg: EncoderConfig) -> Self {
        let created_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        ResponsesEncoder {
            cfg,
            id: new_id("resp"),
            created_at,
            seq: 0,
            next_index: 0,
            output: Vec::new(),
            message: None,
            reasoning: None,
            calls: Vec::new(),
            held: Vec::new(),
            usage: None,
            terminal: None,
        }
    }

    /// The response id (`resp_…`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The terminal status once one was written: `completed`, `incomplete` or `failed`.
    pub fn terminal(&self) -> Option<&'static str> {
        self.terminal
    }

    /// The usage reported so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// `response.created` and `response.in_progress`.
    pub fn start(&mut self) -> Vec<Value> {
        let r = self.response("in_progress");
        vec![
            self.event("response.created", json!({"response": r.clone()})),
            self.event("response.in_progress", json!({"response": r})),
        ]
    }

    /// A `response.in_progress` event: a `data:` event that resets Codex's idle timer while the
    /// upstream is silent (SSE comments do not).
    pub fn heartbeat(&mut self) -> Option<Value> {
        if self.terminal.is_some() {
            return None;
        }
        let r = self.response("in_progress");
        Some(self.event("response.in_progress", json!({"response": r})))
    }

    /// Ends the stream with `response.failed` (no-op after a terminal event).
    pub fn fail(&mut self, failure: &Failure) -> Vec<Value> {
        if self.terminal.is_some() {
            return Vec::new();
        }
        self.terminal = Some("failed");
        let mut r = self.response("failed");
        r["error"] = failure.response_error();
        vec![self.event("response.failed", json!({"response": r}))]
    }

    /// Encodes one neutral event as JSON values.
    pub fn push(&mut self, ev: StreamEvent) -> Vec<Value> {
        let mut values = Vec::new();
        self.push_to(ev, &mut Out::Values(&mut values));
        values
    }

    /// Encodes one neutral event straight into SSE frames appended to `buf` (deltas from a
    /// template, see [`super::frames`]); a terminal event is also put in `terminal`.
    pub fn push_sse(&mut self, ev: StreamEvent, buf: &mut Vec<u8>, terminal: &mut Option<Value>) {
        self.push_to(ev, &mut Out::Sse { buf, terminal });
    }

    fn push_to(&mut self, ev: StreamEvent, out: &mut Out<'_>) {
        if self.terminal.is_some() {
            return;
        }
        match ev {
            StreamEvent::Text(t) => self.text(t, out),
            StreamEvent::Reasoning(t) => self.reasoning(t, out),
            StreamEvent::ReasoningDone(envelope) => self.close_reasoning_with(envelope, out),
            StreamEvent::ToolCallStart {
                index,
                call_id,
                name,
            } => self.call_start(index, call_id, &name, out),
            StreamEvent::ToolCallArgs { index, delta } => self.call_args(index, delta, out),
            StreamEvent::ToolCallEnd { index } => {
                if let Some(pos) = self.calls.iter().position(|c| c.slot == index) {
                    let call = self.calls.remove(pos);
                    if call.args_complete() {
                        self.close_call(call, out);
                    } else {
                        self.held.push(call);
                    }
                }
            }
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Finish(f) => self.finish(f, out),
            StreamEvent::Error(f) => out.extend(self.fail(&f)),
        }
    }

    fn text(&mut self, text: String, out: &mut Out<'_>) {
        if text.is_empty() {
            return;
        }
        self.close_reasoning(out);
        if self.message.is_none() {
            let id = new_id("msg");
            let output_index = self.take_index();
            let item = json!({"type": "message", "id": id, "role": "assistant", "status": "in_progress", "content": []});
            out.push(self.event(
                "response.output_item.added",
                json!({"output_index": output_index, "item": item}),
            ));
            let part =
                json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []});
            out.push(self.event("response.content_part.added", json!({"item_id": id, "output_index": output_index, "content_index": 0, "part": part})));
            self.message = Some(OpenText {
                id,
                output_index,
                text: String::new(),
            });
        }
        let sequence_number = self.next_seq();
        let message = self.message.as_mut().expect("opened above");
        out.delta(message.append(DeltaKind::Text, &text, sequence_number));
    }

    fn reasoning(&mut self, text: String, out: &mut Out<'_>) {
        if text.is_empty() {
            return;
        }
        if self.reasoning.is_none() {
            self.close_message(out);
            let id = new_id("rs");
            let output_index = self.take_index();
            let item = json!({"type": "reasoning", "id": id, "summary": []});
            out.push(self.event(
                "response.output_item.added",
                json!({"output_index": output_index, "item": item}),
            ));
            let part = json!({"type": "summary_text", "text": ""});
            out.push(self.event("response.reasoning_summary_part.added", json!({"item_id": id, "output_index": output_index, "summary_index": 0, "part": part})));
            self.reasoning = Some(OpenText {
                id,
                output_index,
                text: String::new(),
            });
        }
        let sequence_number = self.next_seq();
        let reasoning = self.reasoning.as_mut().expect("opened above");
        out.delta(reasoning.append(DeltaKind::Reasoning, &text, sequence_number));
    }

    fn call_start(&mut self, slot: usize, call_id: String, flat_name: &str, out: &mut Out<'_>) {
        self.close_reasoning(out);
        self.close_message(out);
        let target = self.cfg.tools.target(flat_name);
        let output_index = self.take_index();
        let (id, mut item) = match target.kind {
            ToolKind::Function => {
                let id = new_id("fc");
                (
                    id.clone(),
                    json!({"type": "function_call", "id": id, "call_id": call_id, "name": target.name, "arguments": "", "status": "in_progress"}),
                )
            }
            ToolKind::Custom => {
                let id = new_id("ctc");
                (
                    id.clone(),
                    json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": target.name, "input": "", "status": "in_progress"}),
                )
            }
        };
        if let Some(ns) = &target.namespace {
            item["namespace"] = json!(ns);
        }
        out.push(self.event(
            "response.output_item.added",
            json!({"output_index": output_index, "item": item}),
        ));
        self.calls.push(OpenCall {
            slot,
            id,
            output_index,
            call_id,
            target,
            args: String::new(),
        });
    }

    fn call_args(&mut self, slot: usize, delta: String, out: &mut Out<'_>) {
        let Some(pos) = self.calls.iter().position(|c| c.slot == slot) else {
            return;
        };
        // Freeform input is sent whole at the end: the upstream streams JSON, Codex wants raw text.
        let sequence_number = match self.calls[pos].target.kind {
            ToolKind::Function => Some(self.next_seq()),
            ToolKind::Custom => None,
        };
        let call = &mut self.calls[pos];
        call.args.push_str(&delta);
        if let Some(sequence_number) = sequence_number {
            out.delta(Delta {
                kind: DeltaKind::Arguments,
                item_id: &call.id,
                output_index: call.output_index,
                delta: &delta,
                sequence_number,
            });
        }
    }

    fn close_call(&mut self, call: OpenCall, out: &mut Out<'_>) {
        let OpenCall {
            id,
            output_index,
            call_id,
            target,
            args,
            ..
        } = call;
        let mut item = match target.kind {
            ToolKind::Function => {
                let arguments = if args.trim().is_empty() {
                    "{}".to_string()
                } else {
                    args
                };
                if serde_json::from_str::<Value>(&arguments).is_err() {
                    tracing::warn!(tool = %target.name, "the model sent arguments that are not valid JSON; Codex will report the error to it");
                }
                out.push(self.event(
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": output_index, "name": target.name, "arguments": arguments}),
                ));
                json!({"type": "function_call", "id": id, "call_id": call_id, "name": target.name, "arguments": arguments, "status": "completed"})
            }
            ToolKind::Custom => {
                let input = freeform_input(&args);
                if !input.is_empty() {
                    out.push(self.event("response.custom_tool_call_input.delta", json!({"item_id": id, "output_index": output_index, "call_id": call_id, "delta": input})));
                }
                out.push(self.event("response.custom_tool_call_input.done", json!({"item_id": id, "output_index": output_index, "call_id": call_id, "input": input})));
                json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": target.name, "input": input, "status": "completed"})
            }
        };
        if let Some(ns) = &target.namespace {
            item["namespace"] = json!(ns);
        }
        self.item_done(output_index, item, out);
    }

    fn close_message(&mut self, out: &mut Out<'_>) {
        let Some(OpenText {
            id,
            output_index,
            text,
        }) = self.message.take()
        else {
            return;
        };
        out.push(self.event("response.output_text.done", json!({"item_id": id, "output_index": output_index, "content_index": 0, "text": text, "logprobs": []})));
        let part = json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
        out.push(self.event(
            "response.content_part.done",
            json!({"item_id": id, "output_index": output_index, "content_index": 0, "part": part}),
        ));
        let item = json!({"type": "message", "id": id, "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]});
        self.item_done(output_index, item, out);
    }

    fn close_reasoning(&mut self, out: &mut Out<'_>) {
        self.close_reasoning_with(None, out);
    }

    /// Closes the open reasoning item with `envelope` (default: chat reasoning). An envelope with
    /// no open item (redacted thinking has no text) gets an item of its own.
    fn close_reasoning_with(&mut self, envelope: Option<Thinking>, out: &mut Out<'_>) {
        let open = match self.reasoning.take() {
            Some(r) => r,
            None if envelope.is_some() => {
                self.close_message(out);
                let id = new_id("rs");
                let output_index = self.take_index();
                let item = json!({"type": "reasoning", "id": id, "summary": []});
                out.push(self.event(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": item}),
                ));
                OpenText {
                    id,
                    output_index,
                    text: String::new(),
                }
            }
            None => return,
        };
        let OpenText {
            id,
            output_index,
            text,
        } = open;
        let mut summary = Vec::new();
        if !text.is_empty() {
            out.push(self.event("response.reasoning_summary_text.done", json!({"item_id": id, "output_index": output_index, "summary_index": 0, "text": text})));
            let part = json!({"type": "summary_text", "text": text});
            out.push(self.event("response.reasoning_summary_part.done", json!({"item_id": id, "output_index": output_index, "summary_index": 0, "part": part})));
            summary.push(part);
        }
        let encrypted = envelope.unwrap_or_else(|| Thinking::chat(&text)).encode();
        let item = json!({"type": "reasoning", "id": id, "summary": summary, "encrypted_content": encrypted});
        self.item_done(output_index, item, out);
    }

    fn item_done(&mut self, output_index: usize, item: Value, out: &mut Out<'_>) {
        out.push(self.event(
            "response.output_item.done",
            json!({"output_index": output_index, "item": item.clone()}),
        ));
        self.output.push(item);
    }

    fn finish(&mut self, finish: Finish, out: &mut Out<'_>) {
        self.close_reasoning(out);
        self.close_message(out);
        let mut ended = std::mem::take(&mut self.held);
        ended.append(&mut self.calls);
        ended.sort_by_key(|c| c.output_index);
        let cut = matches!(finish, Finish::Length | Finish::ContentFilter);
        for call in ended {
            if cut && !call.args_complete() {
                tracing::warn!(tool = %call.target.name, call_id = %call.call_id,
                    "the output-token limit cut this tool call's arguments; it is not passed on to run");
            } else {
                self.close_call(call, out);
            }
        }
        let (kind, status, reason) = match finish {
            Finish::Stop => ("response.completed", "completed", None),
            Finish::Length => (
                "response.incomplete",
                "incomplete",
                Some("max_output_tokens"),
            ),
            Finish::ContentFilter => ("response.incomplete", "incomplete", Some("content_filter")),
            Finish::Pause => ("response.completed", "completed", None),
        };
        self.terminal = Some(status);
        let mut r = self.response(status);
        if let Some(reason) = reason {
            r["incomplete_details"] = json!({"reason": reason});
        }
        if finish == Finish::Pause {
            // Codex sends another request when a completed response says the turn is not over.
            r["end_turn"] = json!(false);
        }
        out.push(self.event(kind, json!({"response": r})));
    }

    fn take_index(&mut self) -> usize {
        self.next_index += 1;
        self.next_index - 1
    }

    fn event(&mut self, kind: &str, mut body: Value) -> Value {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(self.next_seq());
        body
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    /// The full Response object in its current state.
    pub fn response(&self, status: &str) -> Value {
        let usage = match (status, self.usage) {
            ("in_progress", _) => Value::Null,
            (_, Some(u)) => u.to_json(),
            (_, None) => Usage::default().to_json(),
        };
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.cfg.model,
            "output": self.output,
            "usage": usage,
            "error": null,
            "incomplete_details": null,
            "instructions": null,
            "metadata": {},
            "parallel_tool_calls": self.cfg.parallel_tool_calls,
            "tool_choice": self.cfg.tool_choice,
            "tools": self.cfg.echo.tools.as_deref().cloned().unwrap_or_else(|| json!([])),
            "store": self.cfg.echo.store,
            "previous_response_id": self.cfg.echo.previous_response_id,
            "temperature": null,
            "top_p": null,
        })
    }
}

/// The raw text of a freeform call from the upstream's JSON arguments: `{"input": "…"}` normally;
/// a single other string field, or non-JSON text, when a model strays from the schema.
pub fn freeform_input(args: &str) -> String {
    match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(map)) => {
            if let Some(Value::String(s)) = map.get("input") {
                return s.clone();
            }
            let strings: Vec<&String> = map
                .values()
                .filter_map(|v| {
                    if let Value::String(s) = v {
                        Some(s)
                    } else {
                        None
                    }
                })
                .collect();
            if strings.len() == 1 {
                return strings[0].clone();
            }
            args.to_string()
        }
        Ok(Value::String(s)) => s,
        _ => args.to_string(),
    }
}
