//! Server-sent events: an incremental parser for upstream bytes and the framing the shim writes.

/// One parsed event: its `event:` name (if any) and the joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Feeds on arbitrary byte chunks (split anywhere, even inside a UTF-8 character) and yields
/// complete events. Comments (`: …`) and `id:`/`retry:` fields are ignored.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes; returns the events they complete. Lines are read in place (no copy of each);
    /// only an unfinished line is kept for the next call.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if self.buf.is_empty() {
            let used = self.lines(bytes, &mut out);
            self.buf.extend_from_slice(&bytes[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(bytes);
            let used = self.lines(&buf, &mut out);
            buf.drain(..used);
            self.buf = buf;
        }
        out
    }

    /// Handles the complete lines of `bytes`; returns how many bytes they took.
    fn lines(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> usize {
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &bytes[start..]) {
            let end = start + pos;
            let line_end = if end > start && bytes[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            let line = &bytes[start..line_end];
            match std::str::from_utf8(line) {
                Ok(line) => self.line(line, out),
                Err(_) => self.line(&String::from_utf8_lossy(line), out),
            }
            start = end + 1;
        }
        start
    }

    /// Ends the input: a final event without its blank line still counts.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            self.line(rest.trim_end_matches('\r'), &mut out);
        }
        self.dispatch(&mut out);
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.data.is_empty() {
            self.event = None;
            return;
        }
        let data = if self.data.len() == 1 {
            self.data.pop().unwrap_or_default()
        } else {
            std::mem::take(&mut self.data).join("\n")
        };
        out.push(SseEvent {
            event: self.event.take(),
            data,
        });
    }
}

/// Frames one Responses event (`{"type": …}`) for the wire: `event:` line, `data:` line, blank line.
pub fn frame(event: &serde_json::Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_frame(&mut out, event);
    String::from_utf8(out).expect("JSON and event names are UTF-8")
}

/// Appends `event` as one SSE frame (`event: TYPE`, `data: JSON`, blank line) to `out`.
pub fn write_frame(out: &mut Vec<u8>, event: &serde_json::Value) {
    let kind = event
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("message");
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    serde_json::to_writer(&mut *out, event).expect("a JSON value always serializes");
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_anywhere() {
        let raw = "event: x\r\ndata: {\"a\":\"é\"}\r\n\r\n: keep-alive\n\ndata: one\ndata: two\n\ndata: [DONE]";
        let bytes = raw.as_bytes();
        for split in 0..bytes.len() {
            let mut p = SseParser::new();
            let mut got = p.feed(&bytes[..split]);
            got.extend(p.feed(&bytes[split..]));
            got.extend(p.finish());
            assert_eq!(
                got,
                vec![
                    SseEvent {
                        event: Some("x".into()),
                        data: "{\"a\":\"é\"}".into()
                    },
                    SseEvent {
                        event: None,
                        data: "one\ntwo".into()
                    },
                    SseEvent {
                        event: None,
                        data: "[DONE]".into()
                    },
                ],
                "split at {split}"
            );
        }
    }
}
