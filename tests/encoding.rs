//! Compression on both hops. Codex 0.171 sends `Accept-Encoding: zstd,gzip`: the shim never
//! compresses (or holds back) its event stream for it, asks every upstream for plain bytes, reads an
//! upstream that compresses anyway (gzip, zstd), and never hands on a body whose
//! `Content-Encoding` it dropped: an encoding it cannot read is a clear error instead.

mod common;

use std::io::Write;

use common::fake::{sse_chunk, FakeUpstream, Reply, Shim};
use common::raw::{write, RawUpstream};
use common::validate::{check_strict, parse_sse};
use serde_json::{json, Value};

/// A client that sees the shim's bytes exactly: it decodes nothing itself, and offers what Codex
/// 0.171 offers.
fn codex_like_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_zstd()
        .build()
        .unwrap()
}

async fn post(shim: &Shim, model: &str) -> reqwest::Response {
    codex_like_client()
        .post(shim.url("/v1/responses"))
        .header("accept-encoding", "zstd,gzip")
        .json(&json!({"model": model, "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap()
}

fn responses_sse(text: &str) -> String {
    let item = json!({"type": "message", "id": "msg_up", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}]});
    let usage = json!({"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 7});
    [
        json!({"type": "response.created", "response": {"id": "resp_up", "model": "up", "status": "in_progress", "output": []}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
        json!({"type": "response.completed", "response": {"id": "resp_up", "model": "up", "status": "completed", "output": [item], "usage": usage}}),
    ]
    .iter()
    .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
    .collect()
}

fn chat_sse(text: &str) -> String {
    sse_chunk(json!({"content": text}), None)
        + &sse_chunk(json!({}), Some("stop"))
        + "data: [DONE]\n\n"
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A 200 whose body is `body` compressed as `encoding` (`br` is not compressed at all: the shim
/// must refuse it by its header alone).
fn compressed_reply(content_type: &str, encoding: &str, body: &str) -> Vec<common::raw::Act> {
    let bytes = match encoding {
        "gzip" => gzip(body.as_bytes()),
        "zstd" => zstd::encode_all(body.as_bytes(), 3).unwrap(),
        _ => body.as_bytes().to_vec(),
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-encoding: {encoding}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        bytes.len()
    );
    vec![write(head), write(bytes)]
}

/// A shim with a chat model `chat` and a native Responses model `native`, both on `up`.
async fn two_routes(up: &RawUpstream) -> Shim {
    Shim::start(
        json!([
            {"model": "up", "slug": "chat", "provider": "generic-chat-completion-api", "base_url": up.base_url()},
            {"model": "up", "slug": "native", "provider": "openai", "base_url": up.base_url(), "apiKey": "k", "wireApi": "responses"}
        ]),
        |_| {},
    )
    .await
}

fn output_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .filter_map(|e| e["item"]["content"][0]["text"].as_str())
        .collect()
}

/// The shim's reply to Codex is plain, streamed SSE: no `Content-Encoding`, and the first event
/// arrives while the upstream is still talking (a compressor would hold it back). The upstream
/// was asked for plain bytes, not for what Codex offered.
#[tokio::test]
async fn codex_gets_plain_unbuffered_events_and_upstreams_are_asked_for_plain_bytes() {
    let up = FakeUpstream::start().await;
    // One text chunk, then SSE comments until the client goes away.
    up.push(Reply::Trickle {
        first: sse_chunk(json!({"content": "first words"}), None),
    });
    let shim = Shim::start(common::fake::one_model(&up), |_| {}).await;
    let mut resp = post(&shim, "m").await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("content-encoding").is_none(),
        "{:?}",
        resp.headers()
    );
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.contains("first words") {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("the first event comes while the upstream is still sending")
            .unwrap()
            .expect("the stream is still open");
        seen.push_str(std::str::from_utf8(&chunk).expect("plain UTF-8 text, not compressed"));
    }
    assert!(seen.contains("response.output_text.delta"), "{seen}");
    drop(resp);
    let reqs = up.requests();
    assert_eq!(reqs[0].headers["accept-encoding"], "identity");
}

/// An upstream that compresses although asked not to is decoded, on a translated route and on a
/// native Responses route (the passthrough's path), for both encodings Codex offers; what Codex
/// gets is plain SSE without a `Content-Encoding`.
#[tokio::test]
async fn a_compressing_upstream_is_decoded_on_every_route() {
    for encoding in ["gzip", "zstd"] {
        let up = RawUpstream::start().await;
        let shim = two_routes(&up).await;
        up.push(compressed_reply(
            "text/event-stream",
            encoding,
            &chat_sse(&format!("chat via {encoding}")),
        ));
        up.push(compressed_reply(
            "text/event-stream",
            encoding,
            &responses_sse(&format!("native via {encoding}")),
        ));
        for (model, expected) in [("chat", "chat via"), ("native", "native via")] {
            let resp = post(&shim, model).await;
            assert_eq!(resp.status(), 200, "{model} {encoding}");
            assert!(
                resp.headers().get("content-encoding").is_none(),
                "{model} {encoding}: {:?}",
                resp.headers()
            );
            let text = resp.text().await.unwrap();
            let events = parse_sse(&text);
            assert_eq!(
                output_text(&events),
                format!("{expected} {encoding}"),
                "{model} {encoding}: {text}"
            );
            assert_eq!(
                events.last().unwrap()["type"],
                "response.completed",
                "{model} {encoding}"
            );
            if model == "chat" {
                assert!(check_strict(&events).is_empty(), "{encoding}: {events:#?}");
            }
        }
    }
}

/// An encoding the shim cannot read is never passed on (with or without its header): the turn
/// fails at once with a message that names it, and Codex does not retry.
#[tokio::test]
async fn an_encoding_the_shim_cannot_read_is_a_clear_error() {
    let up = RawUpstream::start().await;
    let shim = two_routes(&up).await;
    up.push(compressed_reply("text/event-stream", "br", &chat_sse("x")));
    let events = parse_sse(&post(&shim, "chat").await.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed");
    let message = last["response"]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("compressed its reply with `br`"),
        "{message}"
    );
    assert_eq!(
        last["response"]["error"]["code"], "invalid_prompt",
        "a code Codex does not retry"
    );

    up.push(compressed_reply(
        "text/event-stream",
        "br",
        &responses_sse("x"),
    ));
    let resp = post(&shim, "native").await;
    assert_eq!(resp.status(), 400, "a final error, not a retry");
    let body = resp.text().await.unwrap();
    assert!(body.contains("compressed its reply with `br`"), "{body}");
}
