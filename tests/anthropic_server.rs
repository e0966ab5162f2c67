//! The Anthropic route over real loopback HTTP against a fake Messages upstream: headers, the
//! error table, and non-streaming both ways.

mod common;

use common::fake::{client, FakeUpstream, Reply, Shim};
use common::read_fixture;
use common::validate::{check_strict, classify, parse_sse, Outcome};
use serde_json::{json, Value};

fn settings(up: &FakeUpstream, extra: Value) -> Value {
    let mut row = json!({"model": "claude-sonnet-4-5", "slug": "claude", "provider": "anthropic",
        "base_url": format!("http://{}", up.addr), "apiKey": "sk-ant-test-secret-1"});
    row.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!([row])
}

fn body(stream: bool) -> Value {
    json!({"model": "claude", "stream": stream, "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}],
        "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"effort": "medium"}})
}

async fn call(shim: &Shim, body: &Value) -> (u16, Option<String>, String) {
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, r.text().await.unwrap())
}

fn anthropic_error(kind: &str, message: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}

#[tokio::test]
async fn streams_a_turn_with_anthropic_headers_and_body() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up, json!({})), |_| {}).await;
    up.push(Reply::sse(&read_fixture(
        "anthropic/thinking-then-tool-use.sse",
    )));
    let (status, _, text) = call(&shim, &body(true)).await;
    assert_eq!(status, 200);
    let evs = parse_sse(&text);
    assert!(check_strict(&evs).is_empty(), "{:?}", check_strict(&evs));
    assert_eq!(classify(&evs), Outcome::Ok);
    let seen = &up.requests()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], "sk-ant-test-secret-1");
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert!(seen.headers.get("authorization").is_none());
    assert_eq!(
        (seen.body["model"].as_str(), seen.body["stream"].as_bool()),
        (Some("claude-sonnet-4-5"), Some(true))
    );
    assert_eq!(
        seen.body["thinking"],
        json!({"type": "enabled", "budget_tokens": 10_240})
    );
    assert_eq!(seen.body["tools"][0]["name"], "exec_command");

    // A gateway that wants a bearer token instead.
    let shim = Shim::start(
        settings(
            &up,
            json!({"authHeader": "bearer", "base_url": format!("http://{}/anthropic/v1", up.addr)}),
        ),
        |_| {},
    )
    .await;
    up.push(Reply::sse(&read_fixture("anthropic/text.sse")));
    assert_eq!(call(&shim, &body(true)).await.0, 200);
    let seen = &up.requests()[1];
    assert_eq!(seen.path, "/anthropic/v1/messages");
    assert_eq!(seen.headers["authorization"], "Bearer sk-ant-test-secret-1");
    assert!(seen.headers.get("x-api-key").is_none());
}

#[tokio::test]
async fn the_error_table() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up, json!({})), |_| {}).await;
    // Permanent: HTTP 400 naming model and upstream.
    for (status, kind, msg) in [
        (401, "authentication_error", "invalid x-api-key"),
        (
            403,
            "permission_error",
            "Your API key does not have permission",
        ),
        (404, "not_found_error", "model: claude-sonnet-4-5"),
        (
            400,
            "invalid_request_error",
            "messages: roles must alternate",
        ),
    ] {
        up.push(Reply::status(status, &anthropic_error(kind, msg)));
        let (got, retry, text) = call(&shim, &body(true)).await;
        assert_eq!((got, retry), (400, None), "upstream {status}");
        let m = serde_json::from_str::<Value>(&text).unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            m.contains("model `claude`")
                && m.contains("claude-sonnet-4-5")
                && m.contains("127.0.0.1")
                && m.contains(msg),
            "{m}"
        );
        assert!(!text.contains("sk-ant-test-secret-1"));
    }
    // Rate limit: 429 with the upstream's Retry-After.
    up.push(Reply::Status {
        status: 429,
        body: anthropic_error("rate_limit_error", "slow down"),
        headers: vec![("retry-after".into(), "12".into())],
    });
    let (got, retry, _) = call(&shim, &body(true)).await;
    assert_eq!((got, retry.as_deref()), (429, Some("12")));
    // Overloaded (529) and 5xx: retryable, overloaded with a Retry-After.
    up.push(Reply::status(
        529,
        &anthropic_error("overloaded_error", "Overloaded"),
    ));
    let (got, retry, _) = call(&shim, &body(true)).await;
    assert_eq!((got, retry.as_deref()), (503, Some("5")));
    up.push(Reply::status(
        500,
        &anthropic_error("api_error", "Internal server error"),
    ));
    assert_eq!(call(&shim, &body(true)).await.0, 502);
    // Prompt too long: a stream ending in context_length_exceeded.
    up.push(Reply::status(
        400,
        &anthropic_error(
            "invalid_request_error",
            "prompt is too long: 212345 tokens > 200000 maximum",
        ),
    ));
    let (got, _, text) = call(&shim, &body(true)).await;
    assert_eq!(got, 200);
    assert_eq!(
        classify(&parse_sse(&text)),
        Outcome::Fatal("context_length_exceeded".into())
    );
    // Mid-stream error event, and a close before message_stop: response.failed, retryable.
    for fixture in [
        "anthropic/error-mid-stream.sse",
        "anthropic/eof-before-stop.sse",
    ] {
        up.push(Reply::sse(&read_fixture(fixture)));
        let (got, _, text) = call(&shim, &body(true)).await;
        assert_eq!(got, 200);
        let evs = parse_sse(&text);
        assert!(
            check_strict(&evs).is_empty(),
            "{fixture}: {:?}",
            check_strict(&evs)
        );
        assert!(matches!(classify(&evs), Outcome::Retry(_)), "{fixture}");
    }
}

#[tokio::test]
async fn non_streaming_both_ways() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up, json!({})), |_| {}).await;
    // Codex (or another client) asks for JSON; the upstream streams.
    up.push(Reply::sse(&read_fixture("anthropic/text.sse")));
    let (status, _, text) = call(&shim, &body(false)).await;
    assert_eq!(status, 200);
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            r["status"].as_str(),
            r["output"][0]["content"][0]["text"].as_str()
        ),
        (Some("completed"), Some("Hello! How can I help?"))
    );
    // The upstream answers with a whole Message instead of a stream.
    let message = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "stop_reason": "tool_use",
        "content": [{"type": "thinking", "thinking": "plan", "signature": "SIGX"}, {"type": "text", "text": "Running."},
                    {"type": "tool_use", "id": "toolu_9", "name": "exec_command", "input": {"cmd": "ls"}}],
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 3}});
    up.push(Reply::Status {
        status: 200,
        body: message.to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
    });
    let (status, _, text) = call(&shim, &body(true)).await;
    assert_eq!(status, 200);
    let evs = parse_sse(&text);
    assert!(check_strict(&evs).is_empty(), "{:?}", check_strict(&evs));
    let items: Vec<Value> = evs
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| e["item"].clone())
        .collect();
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reasoning", "message", "function_call"]);
    assert_eq!(items[2]["arguments"], r#"{"cmd":"ls"}"#);
    assert_eq!(evs.last().unwrap()["response"]["usage"]["input_tokens"], 15);
}
