//! Upstream faults, byte by byte (a raw TCP upstream), each with what Codex sees asserted: the
//! stream ends with exactly one terminal event (or a clear HTTP error), nothing hangs past its
//! deadline, and the upstream connection is closed afterwards (no upstream call left in flight).

mod common;

use std::time::{Duration, Instant};

use common::raw::{sse_head, write, Act, RawUpstream};
use common::validate::{check_strict, parse_sse};
use futures_util::StreamExt;
use serde_json::{json, Value};

use common::fake::{client, sse_chunk, Shim};

// A guard against hangs, not a speed limit: a loaded 2-core CI machine moves 10 MB through a debug
// build slowly (20 s was once not enough while other builds ran).
const DEADLINE: Duration = Duration::from_secs(60);

async fn shim_for(
    up: &RawUpstream,
    tune: impl FnOnce(&mut codex_shim::server::ServerOptions),
) -> Shim {
    Shim::start(
        json!([{"model": "m", "provider": "generic-chat-completion-api", "base_url": up.base_url()}]),
        tune,
    )
    .await
}

/// Sends one streamed request; returns the HTTP status and the events (or the error body).
async fn send(shim: &Shim) -> (u16, Vec<Value>, String) {
    let fut = async {
        let r = client()
            .post(shim.url("/v1/responses"))
            .json(&json!({"model": "m", "stream": true, "input": "hi"}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, parse_sse(&text), text)
    };
    let out = tokio::time::timeout(DEADLINE, fut)
        .await
        .expect("no hang past the deadline");
    settles(shim).await;
    out
}

/// Nothing left behind: every upstream call the shim made has ended (its `/health` count of
/// calls in flight is back to 0) soon after the client has its answer.
async fn settles(shim: &Shim) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let health = shim.get_json("/health").await;
        if health["in_flight"] == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "an upstream call is still in flight after the fault: {health}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn terminal(events: &[Value]) -> &str {
    let t: Vec<&Value> = events
        .iter()
        .filter(|e| {
            matches!(
                e["type"].as_str(),
                Some("response.completed" | "response.failed" | "response.incomplete")
            )
        })
        .collect();
    assert_eq!(t.len(), 1, "exactly one terminal event: {events:?}");
    assert!(
        check_strict(events).is_empty(),
        "{:?}",
        check_strict(events)
    );
    t[0]["type"].as_str().unwrap()
}

fn output_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect()
}

fn error_message(events: &[Value]) -> String {
    events
        .last()
        .map(|e| e["response"]["error"]["message"].to_string())
        .unwrap_or_default()
}

fn done() -> Vec<Act> {
    vec![
        write(sse_chunk(json!({}), Some("stop"))),
        write("data: [DONE]\n\n"),
    ]
}

fn script(mut acts: Vec<Act>, tail: Vec<Act>) -> Vec<Act> {
    acts.extend(tail);
    acts
}

#[tokio::test]
async fn a_reset_mid_stream_fails_the_turn_retryably() {
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |_| {}).await;
    up.push(vec![
        sse_head(),
        write(sse_chunk(json!({"content": "he"}), None)),
        Act::Sleep(Duration::from_millis(50)),
        Act::Reset,
    ]);
    let (status, evs, _) = send(&shim).await;
    assert_eq!(status, 200);
    assert_eq!(terminal(&evs), "response.failed");
    let code = evs.last().unwrap()["response"]["error"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(code, "server_error", "a code Codex retries");
    assert_eq!(
        output_text(&evs),
        "he",
        "what arrived before the reset was passed on"
    );
}

#[tokio::test]
async fn a_stall_longer_than_the_keep_alive_interval_is_bridged_then_one_past_the_idle_limit_fails()
{
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |o| {
        o.heartbeat = Duration::from_millis(50);
        o.upstream_idle = Duration::from_millis(800);
    })
    .await;
    up.push(script(
        vec![
            sse_head(),
            write(sse_chunk(json!({"content": "a"}), None)),
            Act::Sleep(Duration::from_millis(400)),
            write(sse_chunk(json!({"content": "b"}), None)),
        ],
        done(),
    ));
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.completed");
    assert_eq!(output_text(&evs), "ab");
    let beats = evs
        .iter()
        .filter(|e| e["type"] == "response.in_progress")
        .count();
    assert!(beats >= 4, "keep-alive events during the stall: {beats}");

    up.push(vec![
        sse_head(),
        write(sse_chunk(json!({"content": "a"}), None)),
        Act::Sleep(Duration::from_secs(3)),
        write("data: [DONE]\n\n"),
    ]);
    let t0 = Instant::now();
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.failed");
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "gave up at the idle limit: {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn malformed_framing_never_hangs_and_crlf_framing_works() {
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |_| {}).await;
    // CRLF line endings are valid SSE.
    let crlf = format!(
        "{}{}",
        sse_chunk(json!({"content": "ok"}), Some("stop")),
        "data: [DONE]\n\n"
    )
    .replace('\n', "\r\n");
    up.push(vec![sse_head(), write(crlf)]);
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.completed");
    assert_eq!(output_text(&evs), "ok");
    // Broken JSON, a field without a value, an event with no data, then EOF.
    up.push(vec![
        sse_head(),
        write("data: {\"choices\":[{\"delta\":\n\nevent: x\n\ndata\n\nretry: abc\n\n: c\n\n"),
    ]);
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.failed");
    // Events that never end with a blank line.
    up.push(vec![
        sse_head(),
        write(sse_chunk(json!({"content": "x"}), None).trim_end()),
    ]);
    let (_, evs, _) = send(&shim).await;
    assert_eq!(
        terminal(&evs),
        "response.failed",
        "no [DONE]: not a completed turn"
    );
}

#[tokio::test]
async fn a_character_split_across_writes_arrives_whole_and_invalid_utf8_does_not_break_the_stream()
{
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |_| {}).await;
    up.push(script(
        vec![
            sse_head(),
            Act::Write(
                b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\xc3".to_vec(),
            ),
            Act::Sleep(Duration::from_millis(30)),
            Act::Write(b"\xa9 \xe2\x82".to_vec()),
            Act::Sleep(Duration::from_millis(30)),
            Act::Write(b"\xac\"}}]}\n\n".to_vec()),
        ],
        done(),
    ));
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.completed");
    assert_eq!(output_text(&evs), "café €");
    up.push(script(
        vec![
            sse_head(),
            Act::Write(
                b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\xff\xfeb\"}}]}\n\n"
                    .to_vec(),
            ),
        ],
        done(),
    ));
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.completed");
    assert_eq!(
        output_text(&evs),
        "a\u{fffd}\u{fffd}b",
        "invalid bytes become U+FFFD"
    );
}

#[tokio::test]
async fn a_10_mb_event_and_10000_tiny_events_come_through() {
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |_| {}).await;
    let big = "x".repeat(10 * 1024 * 1024);
    up.push(script(
        vec![sse_head(), write(sse_chunk(json!({"content": big}), None))],
        done(),
    ));
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.completed");
    assert_eq!(output_text(&evs).len(), big.len());
    let tiny: String = (0..10_000)
        .map(|i| {
            sse_chunk(
                json!({"content": char::from(b'a' + (i % 26) as u8).to_string()}),
                None,
            )
        })
        .collect();
    up.push(script(vec![sse_head(), write(tiny)], done()));
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.completed");
    assert_eq!(output_text(&evs).len(), 10_000);
}

#[tokio::test]
async fn a_200_with_a_json_error_body_is_a_failed_turn_with_its_message() {
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |_| {}).await;
    let body =
        json!({"error": {"message": "model is overloaded, try later", "type": "server_error"}})
            .to_string();
    up.push(vec![write(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()))]);
    let (_, evs, _) = send(&shim).await;
    assert_eq!(terminal(&evs), "response.failed");
    assert!(
        error_message(&evs).contains("overloaded"),
        "{}",
        error_message(&evs)
    );
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed() {
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |_| {}).await;
    up.push(vec![write("HTTP/1.1 307 Temporary Redirect\r\nlocation: http://elsewhere.example/v1/chat/completions?key=sk-secret-in-url\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")]);
    let (status, _, text) = send(&shim).await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("redirect") && text.contains("http://elsewhere.example/v1/chat/completions"),
        "{text}"
    );
    assert!(
        !text.contains("sk-secret-in-url"),
        "the query is not echoed: {text}"
    );
}

#[tokio::test]
async fn slow_headers_are_waited_for_with_keep_alives() {
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |o| {
        o.heartbeat = Duration::from_millis(50);
        o.header_wait = Duration::from_millis(100);
    })
    .await;
    up.push(script(
        vec![
            Act::Sleep(Duration::from_millis(600)),
            sse_head(),
            write(sse_chunk(json!({"content": "late"}), None)),
        ],
        done(),
    ));
    let (status, evs, _) = send(&shim).await;
    assert_eq!(status, 200);
    assert_eq!(terminal(&evs), "response.completed");
    assert_eq!(output_text(&evs), "late");
    assert!(
        evs.iter()
            .filter(|e| e["type"] == "response.in_progress")
            .count()
            >= 4
    );
}

#[tokio::test]
async fn a_client_that_disconnects_closes_the_upstream_within_100_ms() {
    let up = RawUpstream::start().await;
    let shim = shim_for(&up, |_| {}).await;
    let mut worst = Duration::ZERO;
    for round in 0..5 {
        up.push(vec![
            sse_head(),
            write(sse_chunk(json!({"content": "x"}), None)),
            Act::HoldOpen,
        ]);
        let r = client()
            .post(shim.url("/v1/responses"))
            .json(&json!({"model": "m", "stream": true, "input": "hi"}))
            .send()
            .await
            .unwrap();
        let mut body = r.bytes_stream();
        let mut seen = String::new();
        while !seen.contains("response.output_text.delta") {
            let chunk = tokio::time::timeout(DEADLINE, body.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        let dropped = Instant::now();
        drop(body);
        let deadline = Instant::now() + Duration::from_secs(5);
        while up.closed_at().len() <= round {
            assert!(
                Instant::now() < deadline,
                "the upstream connection stayed open"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = up.closed_at()[round].saturating_duration_since(dropped);
        worst = worst.max(took);
        settles(&shim).await;
    }
    eprintln!("faults: upstream closed {worst:?} (worst of 5) after the client went away");
    assert!(worst <= Duration::from_millis(100), "took {worst:?}");
}
