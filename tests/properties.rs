//! Property tests: arbitrary Responses requests through every request mapper, and arbitrary
//! upstream byte streams through every stream decoder and the encoder. Never a panic; every
//! Anthropic request obeys the Messages API's rules; every stream ends with exactly one terminal
//! event and passes the shim's strict stream checks; everything emitted re-parses.

mod common;

use codex_shim::protocol::responses::ResponsesRequest;
use codex_shim::settings::{ModelConfig, Settings};
use codex_shim::translate::anthropic_request::to_anthropic;
use codex_shim::translate::anthropic_stream::AnthropicStreamDecoder;
use codex_shim::translate::chat_request::to_chat;
use codex_shim::translate::chat_stream::ChatStreamDecoder;
use codex_shim::translate::encoder::{EncoderConfig, ResponsesEncoder};
use codex_shim::translate::sse::{frame, SseParser};
use codex_shim::translate::Decoder;
use common::validate::{check_strict, validate_messages};
use proptest::prelude::*;
use serde_json::{json, Value};

fn model(row: Value) -> ModelConfig {
    Settings::parse_file(std::path::Path::new("/t/m.json"), &json!([row]).to_string())
        .unwrap()
        .remove(0)
}

/// Short strings that stress the mappers: empty, whitespace, unicode, JSON-ish, Codex-ish names.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("  \n".to_string()),
        Just("apply_patch".to_string()),
        Just("exec_command".to_string()),
        Just("{\"cmd\":\"ls\"}".to_string()),
        Just("<think>hm</think>ok".to_string()),
        "[a-z_]{1,8}",
        "\\PC{0,24}",
    ]
}

fn call_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("c1".to_string()),
        Just("c2".to_string()),
        "call_[a-z0-9]{1,4}"
    ]
}

fn content_part() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(|t| json!({"type": "input_text", "text": t})),
        text().prop_map(|t| json!({"type": "output_text", "text": t})),
        Just(json!({"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="})),
        text().prop_map(|t| json!({"type": "mystery_part", "x": t})),
    ]
}

/// One input item of any kind Codex sends (and some it does not).
fn item() -> impl Strategy<Value = Value> {
    let role = prop_oneof![
        Just("user"),
        Just("assistant"),
        Just("developer"),
        Just("system")
    ];
    prop_oneof![
        (role, prop::collection::vec(content_part(), 0..3))
            .prop_map(|(r, c)| json!({"type": "message", "role": r, "content": c})),
        (text(), text()).prop_map(|(r, t)| json!({"role": r, "content": t})),
        (call_id(), text(), text()).prop_map(|(id, n, a)| json!({"type": "function_call", "call_id": id, "name": n, "arguments": a})),
        (call_id(), text()).prop_map(|(id, o)| json!({"type": "function_call_output", "call_id": id, "output": o})),
        (call_id(), text()).prop_map(|(id, i)| json!({"type": "custom_tool_call", "call_id": id, "name": "apply_patch", "input": i})),
        (call_id(), text()).prop_map(|(id, o)| json!({"type": "custom_tool_call_output", "call_id": id, "output": o})),
        (text(), text()).prop_map(|(s, e)| json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": s}], "encrypted_content": e})),
        text().prop_map(|t| json!({"type": "web_search_call", "status": "completed", "action": {"query": t}})),
        text().prop_map(|t| json!({"type": "unknown_future_item", "payload": t})),
    ]
}

fn tool() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(|n| json!({"type": "function", "name": n, "description": "d", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}})),
        text().prop_map(|n| json!({"type": "function", "name": n, "parameters": null})),
        Just(json!({"type": "custom", "name": "apply_patch", "description": "patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}})),
        text().prop_map(|n| json!({"type": "namespace", "name": "mcp", "tools": [{"type": "function", "name": n, "parameters": {"type": "object"}}]})),
        Just(json!({"type": "web_search"})),
    ]
}

fn request() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(item(), 0..8),
        prop::collection::vec(tool(), 0..4),
        prop_oneof![Just(Value::Null), Just(json!("auto")), Just(json!("required")), Just(json!({"type": "function", "name": "x"}))],
        prop_oneof![Just(Value::Null), Just(json!({"effort": "high"})), Just(json!({"effort": "minimal"})), Just(json!({"effort": "xhigh", "summary": "auto"}))],
        prop::option::of(text()),
    )
        .prop_map(|(input, tools, choice, reasoning, instructions)| {
            json!({"model": "m", "stream": true, "input": input, "tools": tools, "tool_choice": choice,
                   "reasoning": reasoning, "instructions": instructions, "parallel_tool_calls": true})
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_request_maps_to_valid_upstream_requests(raw in request()) {
        // The server reads the body's bytes; native and compact routes read a parsed tree. Both
        // must see the same request.
        let from_bytes = serde_json::from_slice::<ResponsesRequest>(&serde_json::to_vec(&raw).unwrap());
        let Ok(req) = serde_json::from_value::<ResponsesRequest>(raw) else {
            prop_assert!(from_bytes.is_err());
            return Ok(()); // refused with a 400 before any mapping
        };
        prop_assert_eq!(format!("{:?}", from_bytes.unwrap()), format!("{req:?}"));
        for row in [
            json!({"model": "m", "provider": "openai", "apiKey": "k"}),
            json!({"model": "m", "provider": "openai", "noImageSupport": true, "supportsReasoningEffort": true}),
        ] {
            let t = to_chat(&req, &model(row));
            let v = serde_json::to_value(&t.request).unwrap();
            prop_assert!(serde_json::from_str::<Value>(&v.to_string()).is_ok());
            prop_assert!(v["messages"].as_array().is_some());
        }
        for row in [
            json!({"model": "claude-sonnet-4-5", "provider": "anthropic", "apiKey": "k"}),
            json!({"model": "deepseek-v4", "provider": "anthropic", "baseUrl": "https://api.deepseek.com/anthropic"}),
        ] {
            let t = to_anthropic(&req, &model(row), "api.anthropic.com");
            let v = serde_json::to_value(&t.request).unwrap();
            validate_messages(&v);
        }
    }
}

/// Plausible SSE lines for each upstream, mixed with noise, so decoders see both real shapes and junk.
fn chat_line() -> impl Strategy<Value = String> {
    prop_oneof![
        text().prop_map(|t| format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": t}}]}))),
        text().prop_map(|t| format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"reasoning_content": t}}]}))),
        (0usize..3, call_id(), text()).prop_map(|(i, id, n)| format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": n, "arguments": ""}}]}}]}))),
        (0usize..3, text()).prop_map(|(i, a)| format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "function": {"arguments": a}}]}}]}))),
        prop_oneof![Just("stop"), Just("length"), Just("tool_calls"), Just("content_filter")]
            .prop_map(|r| format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {}, "finish_reason": r}]}))),
        Just(format!("data: {}\n\n", json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}))),
        Just("data: [DONE]\n\n".to_string()),
        Just(": keep-alive\n\n".to_string()),
        Just(format!("data: {}\n\n", json!({"error": {"message": "overloaded", "code": 529}}))),
        "\\PC{0,30}",
    ]
}

fn anthropic_line() -> impl Strategy<Value = String> {
    let ev = |name: &'static str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    prop_oneof![
        Just(ev("message_start", json!({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 10, "output_tokens": 1}}}))),
        (0usize..3).prop_map(move |i| ev("content_block_start", json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}))),
        (0usize..3, call_id(), text()).prop_map(move |(i, id, n)| ev("content_block_start", json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": id, "name": n, "input": {}}}))),
        (0usize..3).prop_map(move |i| ev("content_block_start", json!({"type": "content_block_start", "index": i, "content_block": {"type": "thinking", "thinking": ""}}))),
        (0usize..3, text()).prop_map(move |(i, t)| ev("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": t}}))),
        (0usize..3, text()).prop_map(move |(i, t)| ev("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": t}}))),
        (0usize..3, text()).prop_map(move |(i, t)| ev("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": t}}))),
        (0usize..3, text()).prop_map(move |(i, t)| ev("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "signature_delta", "signature": t}}))),
        (0usize..3).prop_map(move |i| ev("content_block_stop", json!({"type": "content_block_stop", "index": i}))),
        prop_oneof![Just("end_turn"), Just("tool_use"), Just("max_tokens"), Just("refusal"), Just("pause_turn")]
            .prop_map(move |r| ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": r}, "usage": {"output_tokens": 7}}))),
        Just(ev("message_stop", json!({"type": "message_stop"}))),
        Just(ev("ping", json!({"type": "ping"}))),
        Just(ev("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}))),
        "\\PC{0,30}",
    ]
}

/// Drives one decoder as the server does: bytes in pieces → SSE events → decoder → encoder.
fn drive(mut dec: Box<dyn Decoder>, bytes: &[u8], cuts: &[usize]) -> Vec<Value> {
    let mut enc = ResponsesEncoder::new(EncoderConfig {
        model: "m".into(),
        tools: common::codex_tools(),
        parallel_tool_calls: true,
        tool_choice: json!("auto"),
        echo: Default::default(),
    });
    let mut parser = SseParser::new();
    let mut out = enc.start();
    let mut at = 0;
    let mut pieces: Vec<&[u8]> = Vec::new();
    for &c in cuts {
        let c = c.min(bytes.len()).max(at);
        pieces.push(&bytes[at..c]);
        at = c;
    }
    pieces.push(&bytes[at..]);
    for piece in pieces {
        for ev in parser.feed(piece) {
            if dec.is_done() {
                break;
            }
            for se in dec.event(ev.event.as_deref(), &ev.data) {
                out.extend(enc.push(se));
            }
        }
    }
    for ev in parser.finish() {
        if !dec.is_done() {
            for se in dec.event(ev.event.as_deref(), &ev.data) {
                out.extend(enc.push(se));
            }
        }
    }
    if !dec.is_done() {
        for se in dec.end_of_stream() {
            out.extend(enc.push(se));
        }
    }
    out
}

fn check_stream(events: &[Value]) -> Result<(), TestCaseError> {
    let terminals = events
        .iter()
        .filter(|e| {
            matches!(
                e["type"].as_str(),
                Some("response.completed" | "response.failed" | "response.incomplete")
            )
        })
        .count();
    prop_assert_eq!(
        terminals,
        1,
        "exactly one terminal event: {:?}",
        events.last()
    );
    let problems = check_strict(events);
    prop_assert!(problems.is_empty(), "{:?}", problems);
    // What goes on the wire parses back to the same events.
    let wire: String = events.iter().map(frame).collect();
    let reparsed: Vec<Value> = SseParser::new()
        .feed(wire.as_bytes())
        .into_iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    prop_assert_eq!(&reparsed, events);
    Ok(())
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..4000, 0..6).prop_map(|mut v| {
        v.sort();
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_chat_stream_ends_with_exactly_one_terminal_event(lines in prop::collection::vec(chat_line(), 0..24), cuts in cuts()) {
        let bytes = lines.concat().into_bytes();
        let dec = ChatStreamDecoder::new(&common::codex_tools(), "model `m` (upstream `m` at fake)");
        check_stream(&drive(Box::new(dec), &bytes, &cuts))?;
    }

    #[test]
    fn any_anthropic_stream_ends_with_exactly_one_terminal_event(lines in prop::collection::vec(anthropic_line(), 0..24), cuts in cuts()) {
        let bytes = lines.concat().into_bytes();
        let dec = AnthropicStreamDecoder::new("model `c` (upstream `c` at fake)", "fake");
        check_stream(&drive(Box::new(dec), &bytes, &cuts))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(bytes in prop::collection::vec(any::<u8>(), 0..2000), cuts in cuts()) {
        check_stream(&drive(Box::new(ChatStreamDecoder::new(&common::codex_tools(), "m")), &bytes, &cuts))?;
        check_stream(&drive(Box::new(AnthropicStreamDecoder::new("c", "fake")), &bytes, &cuts))?;
    }
}
