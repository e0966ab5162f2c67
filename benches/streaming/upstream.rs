//! The benchmark's fake upstream: chat-completions and Anthropic SSE from prepared bytes, as fast
//! as loopback allows (or paced by `BENCH_EVENT_DELAY_MS`, like a model).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::post;
use serde_json::{json, Value};

use crate::env_num;

pub fn chat_events(n: usize, size: usize) -> Vec<Bytes> {
    let word = "x".repeat(size);
    let mut out: Vec<Bytes> = (0..n)
        .map(|_| {
            let c = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": null}]});
            Bytes::from(format!("data: {c}\n\n"))
        })
        .collect();
    out.push(Bytes::from(format!(
        "data: {}\n\n",
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1000, "completion_tokens": n, "total_tokens": 1000 + n}})
    )));
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

pub fn anthropic_events(n: usize, size: usize) -> Vec<Bytes> {
    let word = "x".repeat(size);
    let ev = |name: &str, data: Value| Bytes::from(format!("event: {name}\ndata: {data}\n\n"));
    let mut out = vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg", "type": "message", "role": "assistant", "model": "m", "content": [], "usage": {"input_tokens": 1000, "output_tokens": 1}}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    for _ in 0..n {
        out.push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}})));
    }
    out.push(ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push(ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": n}})));
    out.push(ev("message_stop", json!({"type": "message_stop"})));
    out
}

/// A Responses API stream (what a native route forwards): a message of `n` text deltas.
pub fn responses_events(n: usize, size: usize) -> Vec<Bytes> {
    let word = "x".repeat(size);
    let resp = |status: &str, output: Value| {
        json!({"id": "resp_b", "object": "response", "created_at": 1, "status": status, "model": "m",
               "output": output, "usage": if status == "completed" {
                   json!({"input_tokens": 1000, "output_tokens": n, "total_tokens": 1000 + n,
                          "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}})
               } else { Value::Null }})
    };
    let mut seq = 0;
    let mut ev = |kind: &str, mut body: Value| {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(seq);
        seq += 1;
        Bytes::from(format!("event: {kind}\ndata: {body}\n\n"))
    };
    let item = |text: &str, status: &str| {
        json!({"id": "msg_b", "type": "message", "role": "assistant", "status": status,
               "content": [{"type": "output_text", "text": text, "annotations": []}]})
    };
    let mut out = vec![
        ev(
            "response.created",
            json!({"response": resp("in_progress", json!([]))}),
        ),
        ev(
            "response.in_progress",
            json!({"response": resp("in_progress", json!([]))}),
        ),
        ev(
            "response.output_item.added",
            json!({"output_index": 0, "item": {"id": "msg_b", "type": "message", "role": "assistant", "status": "in_progress", "content": []}}),
        ),
        ev(
            "response.content_part.added",
            json!({"item_id": "msg_b", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
    ];
    for _ in 0..n {
        out.push(ev("response.output_text.delta", json!({"item_id": "msg_b", "output_index": 0, "content_index": 0, "delta": word, "logprobs": []})));
    }
    let text = word.repeat(n);
    out.push(ev("response.output_text.done", json!({"item_id": "msg_b", "output_index": 0, "content_index": 0, "text": text, "logprobs": []})));
    out.push(ev("response.content_part.done", json!({"item_id": "msg_b", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}})));
    out.push(ev(
        "response.output_item.done",
        json!({"output_index": 0, "item": item(&text, "completed")}),
    ));
    out.push(ev(
        "response.completed",
        json!({"response": resp("completed", json!([item(&text, "completed")]))}),
    ));
    out
}

/// Pause between events (BENCH_EVENT_DELAY_MS; 0 = none, the default): a model's token pace.
pub fn event_delay() -> Duration {
    Duration::from_secs_f64(env_num("BENCH_EVENT_DELAY_MS", 0.0) / 1000.0)
}

/// How the fake upstream writes its events.
#[derive(Clone, Copy)]
pub enum Pace {
    /// As fast as loopback takes them (hyper may join ready events into one write), or
    /// `BENCH_EVENT_DELAY_MS` apart.
    Fast,
    /// Every event its own write, as a real model sends tokens: the body stream gives way once
    /// between events, and hyper flushes whenever its body is not ready.
    OnePerWrite,
}

fn sse(events: Arc<Vec<Bytes>>, pace: Pace) -> axum::response::Response {
    let delay = event_delay();
    let stream = futures_util::stream::unfold(0usize, move |i| {
        let events = events.clone();
        async move {
            let ev = events.get(i)?.clone();
            if i > 0 {
                match pace {
                    Pace::OnePerWrite => tokio::task::yield_now().await,
                    Pace::Fast if !delay.is_zero() => tokio::time::sleep(delay).await,
                    Pace::Fast => {}
                }
            }
            Some((Ok::<_, Infallible>(ev), i + 1))
        }
    });
    let mut r = axum::response::Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    r
}

pub async fn start_upstream(
    chat: Arc<Vec<Bytes>>,
    anthropic: Arc<Vec<Bytes>>,
    responses: Arc<Vec<Bytes>>,
    pace: Pace,
) -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route(
            "/v1/responses",
            post(move |_b: Bytes| {
                let r = responses.clone();
                async move { sse(r, pace) }
            }),
        )
        .route(
            "/v1/chat/completions",
            post(move |_b: Bytes| {
                let c = chat.clone();
                async move { sse(c, pace) }
            }),
        )
        .route(
            "/v1/messages",
            post(move |_b: Bytes| {
                let a = anthropic.clone();
                async move { sse(a, pace) }
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024));
    use axum::serve::ListenerExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    // Like any real API server: no Nagle delay on small writes.
    let l = l.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

/// The fake upstream in a process of its own (`BENCH_ROLE=upstream`), so that its CPU time can be
/// read apart from the client's: `BENCH_EVENTS` events of `BENCH_EVENT_BYTES` bytes, each its own
/// write. Prints its address, then serves until its standard input closes (the parent is gone).
pub async fn serve_process() {
    let n = env_num("BENCH_EVENTS", 200.0) as usize;
    let size = env_num("BENCH_EVENT_BYTES", 20.0) as usize;
    let addr = start_upstream(
        Arc::new(chat_events(n, size)),
        Arc::new(anthropic_events(n, size)),
        Arc::new(responses_events(n, size)),
        Pace::OnePerWrite,
    )
    .await;
    println!("{addr}");
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    })
    .await;
}

/// A handle on the upstream process; killed when dropped.
pub struct UpstreamProc {
    child: std::process::Child,
    pub pid: u32,
    pub addr: std::net::SocketAddr,
}

impl UpstreamProc {
    pub fn start(events: usize, size: usize) -> UpstreamProc {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .env("BENCH_ROLE", "upstream")
            .env("BENCH_EVENTS", events.to_string())
            .env("BENCH_EVENT_BYTES", size.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the benchmark re-started as the upstream");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().parse().expect("the upstream's address");
        UpstreamProc {
            pid: child.id(),
            child,
            addr,
        }
    }
}

impl Drop for UpstreamProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
