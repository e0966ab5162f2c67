//! The shim over real loopback HTTP against a fake chat upstream: the happy path, the failure
//! table (what Codex must retry and what it must not), heartbeats, cancellation and the guards.

mod common;

use std::time::Duration;

use common::fake::{client, eventually, one_model, sse_chunk, FakeUpstream, Reply, Shim};
use common::read_fixture;
use common::validate::{check_strict, classify, parse_sse, Outcome};
use serde_json::{json, Value};

fn body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}],
        "tool_choice": "auto", "parallel_tool_calls": true, "store": false})
}

async fn post(shim: &Shim, body: &Value) -> reqwest::Response {
    client()
        .post(shim.url("/v1/responses"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Posts and reads the whole reply: (status, Retry-After, body text).
async fn call(shim: &Shim, body: &Value) -> (u16, Option<String>, String) {
    let r = post(shim, body).await;
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, r.text().await.unwrap())
}

async fn setup() -> (FakeUpstream, Shim) {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(one_model(&up), |_| {}).await;
    (up, shim)
}

#[tokio::test]
async fn streams_a_turn_and_sends_the_upstream_what_it_expects() {
    let (up, shim) = setup().await;
    up.push(Reply::text(&["Hello", " there"]));
    let (status, _, text) = call(&shim, &body("m", true)).await;
    assert_eq!(status, 200);
    let evs = parse_sse(&text);
    assert!(check_strict(&evs).is_empty(), "{:?}", check_strict(&evs));
    assert_eq!(classify(&evs), Outcome::Ok);
    let done = evs
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(done["item"]["content"][0]["text"], "Hello there");
    assert_eq!(evs.last().unwrap()["response"]["usage"]["total_tokens"], 18);
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(
        seen[0].headers["authorization"],
        "Bearer sk-test-secret-123"
    );
    assert_eq!(
        (
            seen[0].body["model"].as_str(),
            seen[0].body["stream"].as_bool()
        ),
        (Some("up-model"), Some(true))
    );
    assert_eq!(
        seen[0].body["stream_options"],
        json!({"include_usage": true})
    );
}

#[tokio::test]
async fn a_non_streaming_request_gets_the_response_object() {
    let (up, shim) = setup().await;
    up.push(Reply::text(&["Plain ", "JSON"]));
    let (status, _, text) = call(&shim, &body("m", false)).await;
    assert_eq!(status, 200);
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (r["object"].as_str(), r["status"].as_str()),
        (Some("response"), Some("completed"))
    );
    assert_eq!(r["output"][0]["content"][0]["text"], "Plain JSON");
    assert_eq!(r["usage"]["input_tokens"], 11);
}

#[tokio::test]
async fn permanent_upstream_errors_are_a_400_naming_model_and_upstream() {
    let (up, shim) = setup().await;
    for (status, upstream_body, expect) in [
        (
            401,
            r#"{"error":{"message":"Incorrect API key provided"}}"#,
            "Incorrect API key provided",
        ),
        (
            403,
            r#"{"error":{"message":"forbidden"}}"#,
            "check this model's apiKey",
        ),
        (
            404,
            r#"{"error":{"message":"The model `up-model` does not exist"}}"#,
            "does not exist",
        ),
        (
            400,
            r#"{"error":{"message":"Invalid value for 'tools'"}}"#,
            "Invalid value for 'tools'",
        ),
        (422, "unprocessable", "unprocessable"),
    ] {
        up.push(Reply::status(status, upstream_body));
        let (got, retry, text) = call(&shim, &body("m", true)).await;
        assert_eq!(
            got, 400,
            "upstream {status} → 400 (the only 4xx Codex does not retry)"
        );
        assert_eq!(retry, None);
        let err: Value = serde_json::from_str(&text).unwrap();
        let msg = err["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("model `m`")
                && msg.contains("up-model")
                && msg.contains("127.0.0.1")
                && msg.contains(expect),
            "{msg}"
        );
        assert!(!text.contains("sk-test-secret-123"));
    }
    assert_eq!(
        up.requests().len(),
        5,
        "one upstream call each, no retries by the shim"
    );
}

#[tokio::test]
async fn rate_limits_are_a_429_with_retry_after() {
    let (up, shim) = setup().await;
    up.push(Reply::Status {
        status: 429,
        body: "slow down".into(),
        headers: vec![("retry-after".into(), "7".into())],
    });
    let (status, retry, _) = call(&shim, &body("m", true)).await;
    assert_eq!((status, retry.as_deref()), (429, Some("7")));
    up.push(Reply::status(
        429,
        r#"{"error":{"message":"Rate limit reached"}}"#,
    ));
    let (status, retry, _) = call(&shim, &body("m", true)).await;
    assert_eq!(
        (status, retry.as_deref()),
        (429, Some("5")),
        "a default Retry-After, or Codex gives up at once"
    );
}

#[tokio::test]
async fn quota_and_context_overflow_end_the_stream_with_codes_codex_stops_on() {
    let (up, shim) = setup().await;
    for (status, upstream_body, code) in [
        (
            429,
            r#"{"error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}"#,
            "insufficient_quota",
        ),
        (
            402,
            r#"{"error":{"message":"Insufficient Balance"}}"#,
            "insufficient_quota",
        ),
        (
            400,
            r#"{"error":{"message":"This model's maximum context length is 131072 tokens"}}"#,
            "context_length_exceeded",
        ),
    ] {
        up.push(Reply::status(status, upstream_body));
        let (got, _, text) = call(&shim, &body("m", true)).await;
        assert_eq!(got, 200);
        let evs = parse_sse(&text);
        assert!(check_strict(&evs).is_empty(), "{:?}", check_strict(&evs));
        assert_eq!(
            classify(&evs),
            Outcome::Fatal(code.into()),
            "upstream {status}"
        );
    }
}

#[tokio::test]
async fn transient_failures_are_retryable_5xx() {
    let (up, shim) = setup().await;
    up.push(Reply::status(500, "boom"));
    assert_eq!(call(&shim, &body("m", true)).await.0, 502);
    up.push(Reply::Status {
        status: 503,
        body: "busy".into(),
        headers: vec![("retry-after".into(), "2".into())],
    });
    let (status, retry, _) = call(&shim, &body("m", true)).await;
    assert_eq!((status, retry.as_deref()), (503, Some("2")));

    // Nothing listens on the upstream port: a connect error, reported as 502 with a JSON body.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let shim = Shim::start(json!([{"model": "x", "slug": "gone", "provider": "openai", "base_url": format!("http://127.0.0.1:{port}/v1")}]), |_| {}).await;
    let (status, _, text) = call(&shim, &body("gone", true)).await;
    assert_eq!(status, 502);
    let msg = serde_json::from_str::<Value>(&text).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("cannot connect to the upstream") && msg.contains("model `gone`"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_cut_or_failing_stream_ends_in_response_failed_never_completed() {
    let (up, shim) = setup().await;
    up.push(Reply::sse(&read_fixture("chat/eof-without-done.sse")));
    up.push(Reply::sse(&read_fixture("chat/error-chunk.sse")));
    for _ in 0..2 {
        let (status, _, text) = call(&shim, &body("m", true)).await;
        assert_eq!(status, 200);
        let evs = parse_sse(&text);
        assert!(check_strict(&evs).is_empty(), "{:?}", check_strict(&evs));
        assert_eq!(evs.last().unwrap()["type"], "response.failed");
        assert!(matches!(classify(&evs), Outcome::Retry(_)));
    }
}

#[tokio::test]
async fn the_shim_rejects_what_it_cannot_route_with_a_400() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(json!([
        {"model": "a", "slug": "needs-key", "provider": "openai", "base_url": up.base_url(), "apiKey": "${CODEX_SHIM_TEST_UNSET_VAR}"},
        {"model": "claude-x", "slug": "claude", "provider": "anthropic", "base_url": up.base_url(), "apiKey": "${CODEX_SHIM_TEST_UNSET_VAR}"}]), |_| {}).await;
    let (status, _, text) = call(&shim, &body("nope", true)).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("unknown model `nope`") && text.contains("needs-key, claude"),
        "{text}"
    );
    let (status, _, text) = call(&shim, &body("needs-key", true)).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("CODEX_SHIM_TEST_UNSET_VAR") && text.contains("model `needs-key`"),
        "{text}"
    );
    let (status, _, text) = call(&shim, &body("claude", true)).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("CODEX_SHIM_TEST_UNSET_VAR") && text.contains("model `claude`"),
        "{text}"
    );
    assert!(up.requests().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn a_malformed_request_is_a_400_naming_the_field() {
    let (up, shim) = setup().await;
    let cases = [
        (
            json!({"input": "hi", "stream": true}),
            "missing field `model`",
        ),
        (json!({"model": 7, "input": "hi"}), "field `model`"),
        (
            json!({"model": "m", "input": "hi", "stream": "yes"}),
            "field `stream`",
        ),
        (
            json!({"model": "m", "input": "hi", "temperature": "hot"}),
            "field `temperature`",
        ),
        (
            json!({"model": "m", "input": "hi", "reasoning": {"effort": 3}}),
            "field `reasoning`",
        ),
        (json!(["model", "m"]), "expected a JSON object"),
    ];
    for (body, names) in cases {
        let (status, _, text) = call(&shim, &body).await;
        assert_eq!(status, 400, "{body}: {text}");
        assert!(
            text.contains("not a valid Responses request") && text.contains(names),
            "{body}: {text}"
        );
    }
    assert!(up.requests().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn heartbeats_keep_codex_waiting_through_upstream_silence() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(one_model(&up), |o| {
        o.heartbeat = Duration::from_millis(40);
        o.header_wait = Duration::from_millis(100);
    })
    .await;
    // Silence between chunks.
    let chunks = vec![
        sse_chunk(json!({"content": "slow"}), None),
        sse_chunk(json!({}), Some("stop")),
        "data: [DONE]\n\n".into(),
    ];
    up.push(Reply::Sse {
        chunks,
        delay: Duration::from_millis(400),
    });
    let (_, _, text) = call(&shim, &body("m", true)).await;
    let evs = parse_sse(&text);
    assert!(check_strict(&evs).is_empty(), "{:?}", check_strict(&evs));
    let beats = evs
        .iter()
        .filter(|e| e["type"] == "response.in_progress")
        .count();
    assert!(
        beats >= 5,
        "only {beats} in_progress events in 800 ms of silence"
    );
    assert_eq!(classify(&evs), Outcome::Ok);

    // An upstream that never answers: the stream starts after header_wait, beats, then gives up.
    let shim = Shim::start(one_model(&up), |o| {
        o.heartbeat = Duration::from_millis(40);
        o.header_wait = Duration::from_millis(100);
        o.upstream_idle = Duration::from_millis(500);
    })
    .await;
    up.push(Reply::Hang);
    let (status, _, text) = call(&shim, &body("m", true)).await;
    assert_eq!(status, 200);
    let evs = parse_sse(&text);
    assert!(
        evs.iter()
            .filter(|e| e["type"] == "response.in_progress")
            .count()
            >= 5
    );
    assert_eq!(evs.last().unwrap()["type"], "response.failed");
    assert!(matches!(classify(&evs), Outcome::Retry(_)));
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_request() {
    let (up, shim) = setup().await;
    up.push(Reply::Trickle {
        first: sse_chunk(json!({"content": "streaming"}), None),
    });
    let mut resp = post(&shim, &body("m", true)).await;
    // Read until the first text delta has arrived, then hang up.
    let mut seen = String::new();
    while !seen.contains("output_text.delta") {
        seen.push_str(&String::from_utf8_lossy(
            &resp.chunk().await.unwrap().unwrap(),
        ));
    }
    drop(resp);
    assert!(
        eventually(5, || up.cancelled() == 1).await,
        "the upstream stream was not dropped"
    );

    // Before the upstream has even answered.
    up.push(Reply::Hang);
    let pending = tokio::spawn(async move { post(&shim, &body("m", true)).await });
    assert!(eventually(5, || up.requests().len() == 2).await);
    pending.abort();
    assert!(
        eventually(5, || up.cancelled() == 2).await,
        "the pending upstream request was not cancelled"
    );
}

#[tokio::test]
async fn guards_refuse_foreign_hosts_and_non_json_posts() {
    let (_up, shim) = setup().await;
    let c = client();
    let r = c
        .get(shim.url("/health"))
        .header("host", "evil.example:8765")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.text().await.unwrap(),
        "Forbidden: Host header not allowed"
    );
    let r = c
        .post(shim.url("/v1/responses"))
        .header("host", "attacker.test")
        .json(&body("m", true))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let r = c
            .post(shim.url("/v1/responses"))
            .header("content-type", ct)
            .body(body("m", true).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{ct}");
    }
    let r = c
        .post(shim.url("/v1/responses"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = vec![b' '; codex_shim::server::BODY_LIMIT + 1];
    let r = c
        .post(shim.url("/v1/responses"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn models_and_health_describe_the_catalog_without_secrets() {
    let (_up, shim) = setup().await;
    let models = shim.get_json("/v1/models").await;
    assert_eq!(models["models"][0]["slug"], "m");
    assert_eq!(models["data"][0]["id"], "m");
    assert_eq!(models["object"], "list");
    let text = models.to_string();
    assert!(
        !text.contains("sk-test-secret-123") && !text.contains("127.0.0.1:"),
        "no key or upstream URL in the catalog"
    );
    let health = shim.get_json("/health").await;
    assert_eq!(
        (
            health["status"].as_str(),
            health["models"].as_u64(),
            health["in_flight"].as_u64()
        ),
        (Some("ok"), Some(1), Some(0))
    );
    assert_eq!(health["version"], codex_shim::VERSION);
}

#[tokio::test]
async fn a_server_that_ignores_stream_true_still_works() {
    let (up, shim) = setup().await;
    let completion = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": "Running it.", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
            {"id": "call_b", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"pwd\"}"}}]}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}});
    up.push(Reply::Status {
        status: 200,
        body: completion.to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
    });
    let (status, _, text) = call(&shim, &body("m", true)).await;
    assert_eq!(status, 200);
    let evs = parse_sse(&text);
    assert!(check_strict(&evs).is_empty(), "{:?}", check_strict(&evs));
    assert_eq!(classify(&evs), Outcome::Ok);
    let items: Vec<Value> = evs
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| e["item"].clone())
        .collect();
    assert_eq!(items[0]["content"][0]["text"], "Running it.");
    assert_eq!(
        (items[1]["call_id"].as_str(), items[2]["call_id"].as_str()),
        (Some("call_a"), Some("call_b"))
    );
    assert_eq!(evs.last().unwrap()["response"]["usage"]["total_tokens"], 13);
}

#[tokio::test]
async fn a_slow_non_streaming_upstream_still_gets_heartbeats() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(one_model(&up), |o| o.heartbeat = Duration::from_millis(40)).await;
    let completion = json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "late but whole"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}});
    up.push(Reply::SlowJson {
        body: completion.to_string(),
        delay: Duration::from_millis(400),
    });
    let (status, _, text) = call(&shim, &body("m", true)).await;
    assert_eq!(status, 200);
    let evs = parse_sse(&text);
    assert!(check_strict(&evs).is_empty(), "{:?}", check_strict(&evs));
    assert!(
        evs.iter()
            .filter(|e| e["type"] == "response.in_progress")
            .count()
            >= 5,
        "heartbeats while the whole reply was awaited"
    );
    assert_eq!(classify(&evs), Outcome::Ok);
    let done = evs
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(done["item"]["content"][0]["text"], "late but whole");
}

#[tokio::test]
async fn requests_larger_than_the_budget_wait_their_turn_and_all_arrive_whole() {
    let up = FakeUpstream::start().await;
    // A 64 KB budget: each big request is three times that, so they take the whole of it in turn.
    let shim = Shim::start(one_model(&up), |o| o.request_budget = 64 * 1024).await;
    let texts: Vec<String> = (0..24)
        .map(|i| match i % 2 {
            0 => format!("{i}:{}", "x".repeat(200_000)),
            _ => format!("{i}:small"),
        })
        .collect();
    for _ in &texts {
        up.push(Reply::text(&["ok"]));
    }
    let mut tasks = Vec::new();
    for text in &texts {
        let mut b = body("m", true);
        b["input"][0]["content"][0]["text"] = json!(text);
        let url = shim.url("/v1/responses");
        tasks.push(tokio::spawn(async move {
            let r = client().post(url).json(&b).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    for t in tasks {
        // A share that can never be granted would hang here: a deadline makes it a failure.
        let (status, text) = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("a request waited for the budget for ever")
            .unwrap();
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("response.completed"), "{text}");
    }
    let sent: Vec<String> = up.requests().iter().map(|r| r.body.to_string()).collect();
    assert_eq!(sent.len(), texts.len());
    for text in &texts {
        let quoted = serde_json::to_string(text).unwrap();
        assert!(
            sent.iter().any(|b| b.contains(&quoted)),
            "{} did not reach the upstream whole",
            &text[..12.min(text.len())]
        );
    }
}

#[tokio::test]
async fn request_heads_up_to_the_read_buffer_are_served_and_larger_ones_refused_at_once() {
    let (_up, shim) = setup().await;
    // Cookies of other local apps on 127.0.0.1 ride along with the UI's requests: ~12 KB passes.
    let cookie = format!("a={}", "c".repeat(12 * 1024));
    let r = client()
        .get(shim.url("/health"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Beyond the read buffer (codex_shim::server::READ_BUFFER) the head is refused, not waited on.
    let cookie = format!("a={}", "c".repeat(codex_shim::server::READ_BUFFER + 1024));
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        client()
            .get(shim.url("/health"))
            .header("cookie", &cookie)
            .send(),
    )
    .await
    .expect("a too-large head is answered at once");
    match r {
        Ok(r) => assert_eq!(r.status(), 431),
        // Hyper may close the connection right after its answer, before the client reads it.
        Err(e) => assert!(e.is_request() || e.is_connect(), "{e}"),
    }
}
