//! Stored responses over raw HTTP: the native Responses route (ids it stored are resolved by the
//! shim, others are the upstream's), OpenAI's 404s, Codex's `store: false` path, and many
//! streams stored at once, each readable the moment its terminal event arrives.

mod common;

use common::fake::{client, FakeUpstream, Reply, Shim};
use common::validate::parse_sse;
use serde_json::{json, Value};

/// A chat model `m` and a native Responses model `o4`, both at `up`.
fn settings(up: &FakeUpstream) -> Value {
    json!([{"model": "up-model", "slug": "m", "provider": "generic-chat-completion-api", "base_url": up.base_url(), "apiKey": "sk-test-secret-123"},
           {"model": "o4-mini", "slug": "o4", "provider": "openai", "base_url": format!("http://{}", up.addr), "apiKey": "sk-native-secret-9", "wireApi": "responses"}])
}

fn native_stream(id: &str, text: &str) -> Reply {
    let r = |status: &str| json!({"id": id, "object": "response", "model": "o4-mini", "status": status, "output": []});
    let item = json!({"type": "message", "id": format!("msg_{id}"), "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]});
    let mut done = r("completed");
    done["output"] = json!([item]);
    let evs = [
        json!({"type": "response.created", "sequence_number": 0, "response": r("in_progress")}),
        json!({"type": "response.output_item.done", "sequence_number": 1, "output_index": 0, "item": item}),
        json!({"type": "response.completed", "sequence_number": 2, "response": done}),
    ];
    Reply::sse(
        &evs.iter()
            .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
            .collect::<String>(),
    )
}

async fn post(shim: &Shim, body: Value) -> (u16, Value) {
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if body["stream"] == true && status == 200 {
        // The Response of the terminal event.
        let events = parse_sse(&r.text().await.unwrap());
        return (status, events.last().unwrap()["response"].clone());
    }
    (status, r.json().await.unwrap())
}

async fn get(shim: &Shim, path: &str) -> (u16, Value) {
    let r = client().get(shim.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn the_native_route_resolves_ids_the_shim_stored_and_forwards_the_rest() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up), |_| {}).await;
    // Turn 1 on a chat model, turn 2 on the native one: the user switched models.
    up.push(Reply::text(&["Hello Ada."]));
    let (_, r1) = post(&shim, json!({"model": "m", "input": "My name is Ada."})).await;
    up.push(native_stream("resp_up_2", "Ada."));
    let (status, r2) = post(&shim, json!({"model": "o4", "stream": true, "input": "My name?", "previous_response_id": r1["id"]})).await;
    assert_eq!(status, 200, "{r2}");
    let sent = &up.requests()[1].body;
    assert!(sent.get("previous_response_id").is_none(), "{sent}");
    let texts: Vec<&str> = sent["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["My name is Ada.", "Hello Ada.", "My name?"]);
    assert_eq!(r2["previous_response_id"], r1["id"]);
    // The native answer is stored too, under the id the client got.
    let (status, got) = get(
        &shim,
        &format!("/v1/responses/{}", r2["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        (status, &got["output"][0]["content"][0]["text"]),
        (200, &json!("Ada."))
    );
    // An id the shim never issued belongs to the upstream: forwarded untouched, not stored.
    up.push(native_stream("resp_up_3", "From the upstream's store."));
    let (status, r3) = post(&shim, json!({"model": "o4", "stream": true, "input": "More?", "previous_response_id": "resp_upstream_own"})).await;
    assert_eq!(status, 200, "{r3}");
    assert_eq!(
        up.requests()[2].body["previous_response_id"],
        "resp_upstream_own"
    );
    let (status, _) = get(
        &shim,
        &format!("/v1/responses/{}", r3["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 404);
    // The same unknown id on a translated route is OpenAI's 400, and nothing goes upstream.
    let (status, e) = post(
        &shim,
        json!({"model": "m", "input": "More?", "previous_response_id": "resp_upstream_own"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    assert_eq!(e["error"]["param"], "previous_response_id");
    assert_eq!(up.requests().len(), 3);
}

#[tokio::test]
async fn unknown_ids_and_routes_are_openai_404s_not_the_ui_token_message() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up), |_| {}).await;
    for path in [
        "/v1/responses/resp_nope",
        "/v1/responses/resp_nope/input_items",
    ] {
        let (status, e) = get(&shim, path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            e["error"]["message"],
            "No response found with id 'resp_nope'."
        );
        assert_eq!(e["error"]["type"], "invalid_request_error");
    }
    let r = client()
        .delete(shim.url("/v1/responses/resp_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    for (method, path) in [
        ("GET", "/v1/files"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/responses/a/b/c"),
    ] {
        let r = client()
            .request(method.parse().unwrap(), shim.url(path))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "unknown_url", "{method} {path}: {e}");
        assert!(!e.to_string().contains("token"), "{e}");
    }
}

#[tokio::test]
async fn codex_requests_store_nothing_and_echo_no_tools() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up), |_| {}).await;
    let body: Value = serde_json::from_str(&common::read_fixture(
        "codex-0.169/apply-patch-freeform/01-initial.body.json",
    ))
    .unwrap();
    let mut body = body;
    body["model"] = json!("m");
    assert_eq!(body["store"], false);
    up.push(Reply::text(&["ok"]));
    let r = client()
        .post(shim.url("/v1/responses"))
        .header("originator", "codex_cli_rs")
        .json(&body)
        .send()
        .await
        .unwrap();
    let events = parse_sse(&r.text().await.unwrap());
    let done = events.last().unwrap();
    assert_eq!(done["type"], "response.completed");
    assert_eq!(done["response"]["store"], false);
    assert_eq!(
        done["response"]["tools"],
        json!([]),
        "Codex does not read the echo"
    );
    let id = done["response"]["id"].as_str().unwrap();
    assert_eq!(get(&shim, &format!("/v1/responses/{id}")).await.0, 404);
    // Nothing was stored.
    let db = codex_shim::store::Store::open(&shim.database()).unwrap();
    assert_eq!(db.responses_size().unwrap(), (0, 0));
}

/// Reads a stored stream up to its `response.completed`; then, with the stream still open,
/// retrieves the response. Returns the retrieve's status.
async fn stream_then_retrieve(shim_url: String, n: usize) -> (String, u16) {
    let mut r = client()
        .post(format!("{shim_url}/v1/responses"))
        .json(&json!({"model": "m", "stream": true, "input": format!("stream {n}")}))
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(done) = parse_sse(&text)
            .into_iter()
            .find(|e| e["type"] == "response.completed")
        {
            let id = done["response"]["id"].as_str().unwrap().to_string();
            let got = client()
                .get(format!("{shim_url}/v1/responses/{id}"))
                .send()
                .await
                .unwrap();
            return (id, got.status().as_u16());
        }
    }
    panic!("stream {n} ended without response.completed: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_store_at_once_each_readable_at_its_terminal_event() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up), |_| {}).await;
    up.repeat(Reply::text(&["stored ", "at once"]));
    let base = shim.url("");
    let tasks: Vec<_> = (0..48)
        .map(|n| tokio::spawn(stream_then_retrieve(base.clone(), n)))
        .collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (id, status) = t.await.unwrap();
        assert_eq!(status, 200, "{id}");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 48);
    // input_items of a chained response lists its own input only.
    let first = ids.iter().next().unwrap().clone();
    let (_, r) = post(
        &shim,
        json!({"model": "m", "input": "next", "previous_response_id": first}),
    )
    .await;
    let (_, items) = get(
        &shim,
        &format!("/v1/responses/{}/input_items", r["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(items["object"], "list");
    assert_eq!(items["data"].as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items["first_id"], items["data"][0]["id"]);
    assert_eq!(items["has_more"], false);
}
