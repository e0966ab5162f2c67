//! BYOK models with `wireApi: "responses"`: forwarded natively to a fake Responses upstream.

mod common;

use common::fake::{client, FakeUpstream, Reply, Shim};
use common::validate::{classify, parse_sse, Outcome};
use serde_json::{json, Value};

use codex_shim::translate::envelope::Thinking;

fn settings(up: &FakeUpstream) -> Value {
    json!([{"model": "o4-mini", "slug": "o4", "provider": "openai", "base_url": format!("http://{}", up.addr), "apiKey": "sk-native-secret-9", "wireApi": "responses"}])
}

/// A native Responses stream whose events name the upstream's own model.
fn upstream_stream() -> String {
    let r = |status: &str| json!({"id": "resp_up_1", "object": "response", "model": "o4-mini-2025-04-16", "status": status, "output": []});
    let evs = [
        json!({"type": "response.created", "sequence_number": 0, "response": r("in_progress")}),
        json!({"type": "response.output_item.done", "sequence_number": 1, "output_index": 0,
               "item": {"type": "message", "id": "msg_up", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "native hello", "annotations": []}]}}),
        json!({"type": "response.completed", "sequence_number": 2, "response": r("completed")}),
    ];
    evs.iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn forwards_natively_and_writes_the_slug_back() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up), |_| {}).await;
    up.push(Reply::sse(&upstream_stream()));
    let body = json!({"model": "o4", "stream": true, "client_metadata": {"k": "v"}, "include": ["reasoning.encrypted_content"],
        "input": [{"type": "message", "id": "msg_codex_1", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                  {"type": "reasoning", "id": "rs_up_0", "summary": [], "encrypted_content": "gAAAA-upstream-own"},
                  {"type": "reasoning", "id": "rs_claude", "summary": [], "encrypted_content": Thinking::chat("other provider").encode()}],
        "tools": [{"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}]});
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let evs = parse_sse(&r.text().await.unwrap());
    assert_eq!(classify(&evs), Outcome::Ok);
    assert!(
        evs.iter()
            .filter(|e| e.get("response").is_some())
            .all(|e| e["response"]["model"] == "o4"),
        "{evs:#?}"
    );
    let seen = &up.requests()[0];
    assert_eq!(seen.path, "/v1/responses");
    assert_eq!(seen.headers["authorization"], "Bearer sk-native-secret-9");
    assert_eq!(seen.body["model"], "o4-mini");
    assert!(seen.body.get("client_metadata").is_none());
    assert_eq!(
        seen.body["tools"], body["tools"],
        "custom tools go through natively"
    );
    let input = seen.body["input"].as_array().unwrap();
    assert_eq!(input.len(), 2);
    assert!(
        input[0].get("id").is_none(),
        "ids the upstream did not issue are stripped"
    );
    assert_eq!(
        input[1],
        json!({"type": "reasoning", "id": "rs_up_0", "summary": [], "encrypted_content": "gAAAA-upstream-own"})
    );
}

#[tokio::test]
async fn upstream_errors_are_classified_like_every_byok_route() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up), |_| {}).await;
    let body = json!({"model": "o4", "stream": true, "input": "hi"});
    up.push(Reply::status(
        401,
        r#"{"error":{"message":"Incorrect API key provided: sk-native-secret-9"}}"#,
    ));
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("model `o4`") && !text.contains("sk-native-secret-9"),
        "{text}"
    );
    up.push(Reply::status(400, r#"{"error":{"code":"context_length_exceeded","message":"Your input exceeds the context window"}}"#));
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        classify(&parse_sse(&r.text().await.unwrap())),
        Outcome::Fatal("context_length_exceeded".into())
    );
    up.push(Reply::Status {
        status: 429,
        body: "{}".into(),
        headers: vec![("retry-after".into(), "9".into())],
    });
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "9")
    );
}

/// Only events that name a model are parsed and rewritten; every other event (text deltas, most
/// of a stream) passes byte for byte, even when its text mentions "model". The request's summary
/// in the UI's live log still has the outcome and token counts of the terminal event.
#[tokio::test]
async fn deltas_pass_byte_for_byte_and_the_log_keeps_outcome_and_usage() {
    use common::fake::{RecordingLauncher, UI_TOKEN};
    use futures_util::StreamExt;
    let up = FakeUpstream::start().await;
    let shim = Shim::start_ui(
        settings(&up),
        std::sync::Arc::new(RecordingLauncher::default()),
    )
    .await;
    let delta = r#"{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_up","output_index":0,"content_index":0,"delta":"the \"model\": \"x\" key","logprobs":[]}"#;
    let r = |status: &str, usage: Value| json!({"id": "resp_up_2", "object": "response", "model": "o4-mini-2025-04-16", "status": status, "output": [], "usage": usage});
    let stream = format!(
        "event: response.created\ndata: {}\n\nevent: response.output_text.delta\ndata: {delta}\n\nevent: response.completed\ndata: {}\n\n",
        json!({"type": "response.created", "sequence_number": 0, "response": r("in_progress", Value::Null)}),
        json!({"type": "response.completed", "sequence_number": 2, "response": r("completed", json!({"input_tokens": 321, "output_tokens": 45, "total_tokens": 366}))})
    );
    up.push(Reply::sse(&stream));
    // The live log, as the UI reads it.
    let mut log = client()
        .get(shim.url(&format!("/api/events?token={UI_TOKEN}")))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let text = client()
        .post(shim.url("/v1/responses"))
        .json(&json!({"model": "o4", "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(&format!("data: {delta}\n\n")),
        "the delta is forwarded byte for byte: {text}"
    );
    let evs = parse_sse(&text);
    assert_eq!(evs[0]["response"]["model"], "o4", "{evs:#?}");
    assert_eq!(evs[2]["response"]["model"], "o4", "{evs:#?}");
    let mut seen = String::new();
    let summary = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = log.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(line) = seen
                .lines()
                .find(|l| l.starts_with("data:") && l.contains("\"input_tokens\""))
            {
                return serde_json::from_str::<Value>(line.trim_start_matches("data:").trim())
                    .unwrap();
            }
        }
        panic!("the log stream ended: {seen}");
    })
    .await
    .expect("the request's summary in the live log");
    assert_eq!(
        (
            summary["outcome"].as_str(),
            summary["input_tokens"].as_u64(),
            summary["output_tokens"].as_u64()
        ),
        (Some("completed"), Some(321), Some(45)),
        "{summary}"
    );
}

/// A tool call the upstream commits although the output-token limit cut it (status
/// `incomplete`) never reaches Codex; the upstream's `response.incomplete` stands.
#[tokio::test]
async fn a_cut_tool_call_from_a_native_upstream_is_not_passed_on() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up), |_| {}).await;
    let whole = json!({"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}", "status": "completed"});
    let cut = json!({"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "exec_command", "arguments": "{\"cmd\":\"rm -", "status": "incomplete"});
    let r = |status: &str, output: Value| {
        json!({"id": "resp_up", "object": "response", "model": "o4-mini", "status": status, "output": output,
        "incomplete_details": {"reason": "max_output_tokens"}})
    };
    let evs = [
        json!({"type": "response.created", "response": r("in_progress", json!([]))}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": whole}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": cut}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": cut}),
        json!({"type": "response.incomplete", "response": r("incomplete", json!([whole, cut]))}),
    ];
    up.push(Reply::sse(
        &evs.iter()
            .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
            .collect::<String>(),
    ));
    let text = client()
        .post(shim.url("/v1/responses"))
        .json(&json!({"model": "o4", "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = parse_sse(&text);
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| &e["item"])
        .collect();
    assert_eq!(
        done,
        [&whole],
        "only the complete call is committed: {text}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert!(matches!(classify(&events), Outcome::Fatal(_)));
}
