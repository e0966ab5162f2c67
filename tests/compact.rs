//! `POST /v1/responses/compact` (older Codex builds) on every route.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::fake::{client, FakeUpstream, Reply, Shim};
use common::read_fixture;
use serde_json::{json, Value};

/// A compact request as older Codex builds send it: history with a tool call, and tools.
fn compact_body(model: &str) -> Value {
    json!({"model": model, "instructions": "You are a coding agent.", "parallel_tool_calls": true, "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files."}]},
        {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "a.txt\nb.txt"}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}]})
}

async fn compact(shim: &Shim, body: &Value) -> (u16, Value) {
    let r = client()
        .post(shim.url("/v1/responses/compact"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn output_text(reply: &Value) -> String {
    reply["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().unwrap().clone())
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn chat_and_anthropic_routes_summarise_through_the_upstream() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(json!([
        {"model": "chat-m", "slug": "chat", "provider": "generic-chat-completion-api", "base_url": up.base_url()},
        {"model": "claude-x", "slug": "claude", "provider": "anthropic", "base_url": format!("http://{}", up.addr), "supportsReasoningEffort": false}]), |_| {}).await;
    up.push(Reply::text(&["SUMMARY: listed a.txt and b.txt"]));
    let (status, reply) = compact(&shim, &compact_body("chat")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(output_text(&reply), "SUMMARY: listed a.txt and b.txt");
    let sent = &up.requests()[0].body;
    assert!(
        sent.get("tools").is_none(),
        "a summary request offers no tools"
    );
    let last = sent["messages"].as_array().unwrap().last().unwrap();
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .contains("Summarise this conversation"),
        "{last}"
    );
    assert!(
        sent.to_string().contains("a.txt\\nb.txt"),
        "the tool history is in it, as text"
    );

    up.push(Reply::sse(&read_fixture("anthropic/text.sse")));
    let (status, reply) = compact(&shim, &compact_body("claude")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(output_text(&reply), "Hello! How can I help?");
    let sent = &up.requests()[1];
    assert_eq!(sent.path, "/v1/messages");
    assert!(sent.body.get("tools").is_none());
    assert_eq!(sent.body["system"][0]["text"], "You are a coding agent.");
}

#[tokio::test]
async fn native_and_passthrough_routes_use_the_backends_compact_endpoint() {
    let (up, backend) = (FakeUpstream::start().await, FakeUpstream::start().await);
    let base = format!("http://{}/backend-api/codex", backend.addr);
    let shim = Shim::start(json!([{"model": "o4-mini", "slug": "o4", "provider": "openai", "base_url": format!("http://{}/v1", up.addr), "apiKey": "k", "wireApi": "responses"}]), move |o| o.chatgpt_base_url = base).await;
    let compacted = |model: &str| {
        json!({"id": "resp_c", "object": "response.compaction", "model": model,
        "output": [{"type": "compaction", "id": "cmp_1", "encrypted_content": "opaque"}], "usage": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}})
    };
    up.push(Reply::Status {
        status: 200,
        body: compacted("o4-mini-2025-04-16").to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
    });
    let (status, reply) = compact(&shim, &compact_body("o4")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (reply["model"].as_str(), reply["output"][0]["type"].as_str()),
        (Some("o4"), Some("compaction"))
    );
    assert_eq!(up.requests()[0].path, "/v1/responses/compact");
    assert_eq!(up.requests()[0].body["model"], "o4-mini");

    std::fs::create_dir_all(shim.codex_home()).unwrap();
    let token = format!("h.{}.s", URL_SAFE_NO_PAD.encode(r#"{"exp":4000000000}"#));
    std::fs::write(
        shim.codex_home().join("auth.json"),
        json!({"tokens": {"access_token": token, "account_id": "a"}}).to_string(),
    )
    .unwrap();
    backend.push(Reply::Status {
        status: 200,
        body: compacted("gpt-5.5").to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
    });
    let (status, reply) = compact(&shim, &compact_body("openai-gpt-5-5")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["model"], "openai-gpt-5-5",
        "the alias the client asked for is written back"
    );
    assert_eq!(
        backend.requests()[0].path,
        "/backend-api/codex/responses/compact"
    );
    assert_eq!(backend.requests()[0].body["model"], "gpt-5.5");
    assert_eq!(backend.requests()[0].headers["accept"], "application/json");
}
