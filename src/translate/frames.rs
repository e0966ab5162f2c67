//! Where the encoder's events go: JSON values, or SSE frames written straight into a buffer.
//!
//! Nearly every event of a stream is a delta (`response.output_text.delta` and its reasoning and
//! arguments siblings), one per upstream token. Building each as a `serde_json::Value` (an
//! ordered map, a `String` per key) only to serialize it at once is most of the encoder's cost, so
//! a streaming reply writes deltas from a fixed template where only the id, the indexes, the
//! escaped text and the sequence number change. The template writes exactly the bytes the value
//! would serialize to (the tests compare the two), so no client can tell the paths apart.

use serde_json::{json, Value};

/// Whether `event` ends a Responses stream (`response.completed`, `.incomplete` or `.failed`).
pub fn is_terminal(event: &Value) -> bool {
    matches!(
        event["type"].as_str(),
        Some("response.completed" | "response.incomplete" | "response.failed")
    )
}

/// Where encoded events go.
pub enum Out<'a> {
    /// As JSON values (tests, `stream: false` clients, failures before any upstream byte).
    Values(&'a mut Vec<Value>),
    /// As SSE frames appended to `buf`; the terminal event is also kept as a value (it is stored,
    /// and it carries the usage).
    Sse {
        buf: &'a mut Vec<u8>,
        terminal: &'a mut Option<Value>,
    },
}

/// The three delta kinds, and the index field each carries after `output_index`.
#[derive(Clone, Copy)]
pub enum DeltaKind {
    /// `response.output_text.delta`: `content_index`, and `logprobs: []` after the delta.
    Text,
    /// `response.reasoning_summary_text.delta`: `summary_index`.
    Reasoning,
    /// `response.function_call_arguments.delta`: no index of its own.
    Arguments,
}

impl DeltaKind {
    fn name(self) -> &'static str {
        match self {
            DeltaKind::Text => "response.output_text.delta",
            DeltaKind::Reasoning => "response.reasoning_summary_text.delta",
            DeltaKind::Arguments => "response.function_call_arguments.delta",
        }
    }
}

/// One delta event.
pub struct Delta<'s> {
    pub kind: DeltaKind,
    pub item_id: &'s str,
    pub output_index: usize,
    pub delta: &'s str,
    pub sequence_number: u64,
}

impl Delta<'_> {
    /// The event as a JSON value (keys in the order the template writes them).
    pub fn to_value(&self) -> Value {
        let mut v = json!({"item_id": self.item_id, "output_index": self.output_index});
        match self.kind {
            DeltaKind::Text => v["content_index"] = json!(0),
            DeltaKind::Reasoning => v["summary_index"] = json!(0),
            DeltaKind::Arguments => {}
        }
        v["delta"] = json!(self.delta);
        if let DeltaKind::Text = self.kind {
            v["logprobs"] = json!([]);
        }
        v["type"] = json!(self.kind.name());
        v["sequence_number"] = json!(self.sequence_number);
        v
    }

    /// Appends the event's SSE frame: the same bytes as `write_frame(buf, &self.to_value())`.
    pub fn write(&self, buf: &mut Vec<u8>) {
        let name = self.kind.name();
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\ndata: {\"item_id\":");
        json_str(buf, self.item_id);
        buf.extend_from_slice(b",\"output_index\":");
        number(buf, self.output_index as u64);
        match self.kind {
            DeltaKind::Text => buf.extend_from_slice(b",\"content_index\":0"),
            DeltaKind::Reasoning => buf.extend_from_slice(b",\"summary_index\":0"),
            DeltaKind::Arguments => {}
        }
        buf.extend_from_slice(b",\"delta\":");
        json_str(buf, self.delta);
        if let DeltaKind::Text = self.kind {
            buf.extend_from_slice(b",\"logprobs\":[]");
        }
        buf.extend_from_slice(b",\"type\":\"");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\",\"sequence_number\":");
        number(buf, self.sequence_number);
        buf.extend_from_slice(b"}\n\n");
    }
}

fn json_str(buf: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *buf, s).expect("a string always serializes");
}

fn number(buf: &mut Vec<u8>, n: u64) {
    use std::io::Write;
    let _ = write!(buf, "{n}");
}

impl Out<'_> {
    /// Adds one complete event.
    pub fn push(&mut self, event: Value) {
        match self {
            Out::Values(v) => v.push(event),
            Out::Sse { buf, terminal } => {
                super::sse::write_frame(buf, &event);
                if is_terminal(&event) {
                    **terminal = Some(event);
                }
            }
        }
    }

    /// Adds one delta event, without building it as a value when writing frames.
    pub fn delta(&mut self, d: Delta<'_>) {
        match self {
            Out::Values(v) => v.push(d.to_value()),
            Out::Sse { buf, .. } => d.write(buf),
        }
    }

    pub fn extend(&mut self, events: Vec<Value>) {
        for e in events {
            self.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_writes_the_bytes_the_value_serializes_to() {
        let texts = [
            "plain",
            "",
            "quote \" backslash \\ newline \n tab \t",
            "control \u{1} \u{1f} del \u{7f}",
            "unicode é 漢字 🦀 \u{2028}",
            "</script>{\"json\": [1, 2]}",
        ];
        for kind in [DeltaKind::Text, DeltaKind::Reasoning, DeltaKind::Arguments] {
            for (i, text) in texts.iter().enumerate() {
                let d = Delta {
                    kind,
                    item_id: "msg_\"odd\"id",
                    output_index: i * 7,
                    delta: text,
                    sequence_number: 1_000_000 + i as u64,
                };
                let mut fast = Vec::new();
                d.write(&mut fast);
                let mut slow = Vec::new();
                super::super::sse::write_frame(&mut slow, &d.to_value());
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(slow).unwrap()
                );
            }
        }
    }
}
