//! Translation between the Responses API and upstream APIs, with no I/O.
//!
//! A request is mapped by a pure function ([`chat_request::to_chat`]). An upstream's stream is
//! turned by a per-upstream decoder ([`chat_stream::ChatStreamDecoder`]) into the small neutral set
//! [`StreamEvent`], and one encoder ([`encoder::ResponsesEncoder`]) writes the Responses event
//! stream for every route. Tests feed recorded streams through these pieces without sockets.

pub mod anthropic_request;
pub mod anthropic_stream;
pub mod chat_request;
pub mod chat_stream;
pub mod encoder;
pub mod envelope;
pub mod errors;
pub mod frames;
pub mod history;
pub mod native;
pub mod sse;
mod think;
pub mod tools;

pub use errors::{ErrorCode, Failure};

/// Turns one upstream's stream into [`StreamEvent`]s. One implementation per upstream family;
/// the server drives any of them the same way.
pub trait Decoder: Send {
    /// One SSE event: its `event:` name (if any) and its data.
    fn event(&mut self, name: Option<&str>, data: &str) -> Vec<StreamEvent>;
    /// A whole non-streamed reply (a server that ignored `stream: true`).
    fn complete_json(&mut self, body: &str) -> Vec<StreamEvent>;
    /// The upstream closed the connection.
    fn end_of_stream(&mut self) -> Vec<StreamEvent>;
    /// Reading from the upstream failed.
    fn transport_error(&mut self, message: &str) -> Vec<StreamEvent>;
    /// True once a final `Finish` or `Error` has been produced.
    fn is_done(&self) -> bool;
}

/// What an upstream stream said, in upstream-neutral terms.
///
/// Decoders guarantee: a tool call's `ToolCallStart` comes before its `ToolCallArgs`, every started
/// call gets a `ToolCallEnd`, and the last event is `Finish` or `Error` (exactly one of them).
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Visible answer text.
    Text(String),
    /// Thinking text (`reasoning_content`, `<think>` blocks, Anthropic thinking deltas).
    Reasoning(String),
    /// The current thinking block is complete; `Some` carries exactly what the upstream needs back
    /// (signature, or redacted data), `None` means plain chat reasoning.
    ReasoningDone(Option<envelope::Thinking>),
    /// A tool call begins; `name` is the upstream (flattened) tool name.
    ToolCallStart {
        index: usize,
        call_id: String,
        name: String,
    },
    /// More of a call's JSON arguments.
    ToolCallArgs {
        index: usize,
        delta: String,
    },
    /// The call's arguments are complete.
    ToolCallEnd {
        index: usize,
    },
    Usage(Usage),
    Finish(Finish),
    Error(Failure),
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// A normal end (including "stopped to call tools").
    Stop,
    /// The output-token limit cut the answer.
    Length,
    /// A content filter or refusal stopped it.
    ContentFilter,
    /// The upstream paused a long turn (`pause_turn`): completed, but Codex must sample again.
    Pause,
}

/// Token counts in Responses terms: `cached_tokens <= input_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    /// The strict shape Codex parses (contract §4.5): both detail objects with their inner fields.
    /// `cache_write_tokens` is optional for Codex but required by openai-python's `ResponseUsage`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens, "cache_write_tokens": 0},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.total_tokens,
        })
    }
}

/// A fresh id with a Codex-style prefix (`resp`, `msg`, `fc`, `ctc`, `rs`, `call`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
