//! Support for the stored-response tests: one model per upstream kind, scripted replies for
//! each, and a flat view of the conversation an upstream received, the same for both kinds.

use serde_json::{json, Value};

use super::fake::{sse_chunk, FakeUpstream, Reply};

/// The upstream kinds a stored conversation is replayed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Chat,
    Anthropic,
}

/// Anthropic's signature on the thinking the tool reply carries (it must come back exactly).
pub const SIGNATURE: &str = "EqQBCgIYAhIMstoredSig0123456789abcdefAnthropicSignsThinking==";

impl Route {
    /// Settings with one model, slug `m`, at `up`.
    pub fn settings(self, up: &FakeUpstream) -> Value {
        match self {
            Route::Chat => {
                json!([{"model": "up-model", "slug": "m", "provider": "generic-chat-completion-api",
                "base_url": up.base_url(), "apiKey": "sk-test-secret-123"}])
            }
            Route::Anthropic => {
                json!([{"model": "claude-sonnet-4-5", "slug": "m", "provider": "anthropic",
                "base_url": format!("http://{}", up.addr), "apiKey": "sk-ant-test-secret-1"}])
            }
        }
    }

    /// A streamed text answer.
    pub fn text(self, text: &str) -> Reply {
        match self {
            Route::Chat => Reply::text(&[text]),
            Route::Anthropic => Reply::sse(&anthropic(
                &[
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
                    json!({"type": "content_block_stop", "index": 0}),
                ],
                "end_turn",
            )),
        }
    }

    /// Reasoning (Anthropic: signed thinking; chat: `reasoning_content`), "Let me check.", then
    /// a call of `get_weather` for Paris.
    pub fn weather_call(self) -> Reply {
        match self {
            Route::Chat => {
                let call = json!({"tool_calls": [{"index": 0, "id": "call_w1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]});
                Reply::Sse {
                    chunks: vec![
                        sse_chunk(
                            json!({"role": "assistant", "reasoning_content": "Paris, so the weather tool."}),
                            None,
                        ),
                        sse_chunk(json!({"content": "Let me check."}), None),
                        sse_chunk(call, None),
                        sse_chunk(json!({}), Some("tool_calls")),
                        "data: [DONE]\n\n".into(),
                    ],
                    delay: std::time::Duration::ZERO,
                }
            }
            Route::Anthropic => Reply::sse(&anthropic(
                &[
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Paris, so the weather tool."}}),
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}}),
                    json!({"type": "content_block_stop", "index": 0}),
                    json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
                    json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Let me check."}}),
                    json!({"type": "content_block_stop", "index": 1}),
                    json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_w1", "name": "get_weather", "input": {}}}),
                    json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":\"Paris\"}"}}),
                    json!({"type": "content_block_stop", "index": 2}),
                ],
                "tool_use",
            )),
        }
    }

    /// The call id [`Route::weather_call`] gives.
    pub fn call_id(self) -> &'static str {
        match self {
            Route::Chat => "call_w1",
            Route::Anthropic => "toolu_w1",
        }
    }

    /// The conversation in an upstream request, one line per part:
    /// `system: …`, `user: …`, `assistant: …`, `reasoning: …`, `call ID NAME ARGS`, `result ID: …`.
    pub fn lines(self, body: &Value) -> Vec<String> {
        match self {
            Route::Chat => chat_lines(body),
            Route::Anthropic => anthropic_lines(body),
        }
    }
}

/// A whole Messages stream around `blocks`.
fn anthropic(blocks: &[Value], stop: &str) -> String {
    let mut events = vec![
        json!({"type": "message_start", "message": {"id": "msg_01Fake", "type": "message", "role": "assistant",
        "content": [], "model": "claude-sonnet-4-5", "stop_reason": null, "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    ];
    events.extend_from_slice(blocks);
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 9}}));
    events.push(json!({"type": "message_stop"}));
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn chat_lines(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for m in body["messages"].as_array().into_iter().flatten() {
        let role = m["role"].as_str().unwrap_or_default();
        if let Some(r) = m["reasoning_content"].as_str() {
            out.push(format!("reasoning: {r}"));
        }
        let text = text_of(&m["content"]);
        match role {
            "tool" => out.push(format!(
                "result {}: {text}",
                m["tool_call_id"].as_str().unwrap_or_default()
            )),
            _ if !text.is_empty() => out.push(format!("{role}: {text}")),
            _ => {}
        }
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            out.push(format!(
                "call {} {} {}",
                c["id"].as_str().unwrap_or_default(),
                c["function"]["name"].as_str().unwrap_or_default(),
                c["function"]["arguments"].as_str().unwrap_or_default()
            ));
        }
    }
    out
}

fn anthropic_lines(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let system = text_of(&body["system"]);
    if !system.is_empty() {
        out.push(format!("system: {system}"));
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        let role = m["role"].as_str().unwrap_or_default();
        let blocks = match &m["content"] {
            Value::String(s) => vec![json!({"type": "text", "text": s})],
            Value::Array(b) => b.clone(),
            _ => Vec::new(),
        };
        for b in blocks {
            match b["type"].as_str().unwrap_or_default() {
                "text" => out.push(format!(
                    "{role}: {}",
                    b["text"].as_str().unwrap_or_default()
                )),
                "thinking" => out.push(format!(
                    "reasoning: {}",
                    b["thinking"].as_str().unwrap_or_default()
                )),
                "tool_use" => out.push(format!(
                    "call {} {} {}",
                    b["id"].as_str().unwrap_or_default(),
                    b["name"].as_str().unwrap_or_default(),
                    b["input"]
                )),
                "tool_result" => out.push(format!(
                    "result {}: {}",
                    b["tool_use_id"].as_str().unwrap_or_default(),
                    text_of(&b["content"])
                )),
                other => out.push(format!("{role}: ({other})")),
            }
        }
    }
    out
}

/// Runs `tests/stored_responses.py` (openai-python) against the shim at `base`; its printed
/// JSON object.
pub async fn run_python(py: &str, base: &str, phase: &str, ids: Option<&Value>) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stored_responses.py");
    let mut cmd = tokio::process::Command::new(py);
    cmd.arg(script).args([base, "m", phase]);
    if let Some(ids) = ids {
        cmd.arg(ids.to_string());
    }
    client_json(
        cmd.env_remove("OPENAI_BASE_URL"),
        &format!("openai-python, phase {phase}"),
    )
    .await
}

/// Runs a client script (`cmd`) to its end; the JSON object it printed. A failure shows what
/// the client printed, its assertion included.
pub async fn client_json(cmd: &mut tokio::process::Command, what: &str) -> Value {
    let out = cmd.env("NO_PROXY", "127.0.0.1").output().await.unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what}:\n{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&printed)
        .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {printed}"))
}
