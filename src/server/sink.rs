//! Where a translated reply goes: from the pump task (which reads the upstream) to the client.
//!
//! A streaming client gets SSE frames, serialized on the pump's task, one channel message per
//! upstream read however many events it held; the response body joins whatever is already queued
//! into one write. A `stream: false` client gets only the last event of each batch (the terminal
//! event is always last), from which the final Response object is taken.
//!
//! Either way the channel is the client's lifeline: when the response body is dropped (the client
//! went away) `send_all` returns `false` and `closed` completes, and the pump drops the upstream.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::BytesMut;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::translate::sse;

/// Batches queued for the client before the pump waits (a slow client pushes back on the
/// upstream instead of the shim buffering without bound).
const QUEUED_BATCHES: usize = 16;

/// Most upstream reads yield several events at once; they go out as one write (one syscall, one
/// TCP segment) instead of one each. Nothing waits for company: only what is already queued joins.
const BATCH_BYTES: usize = 64 * 1024;

/// Upstream chunks already at hand that join one batch for the client, at most (a fast upstream
/// must not keep a batch, and the client's first bytes, waiting).
const MAX_CHUNKS_PER_BATCH: usize = 256;

/// After a chunk has arrived, takes the chunks `upstream` already has ready, so that what came in
/// one read goes to the client in one write instead of one write per chunk. An HTTP client hands
/// over a chunked body one chunk per poll of its connection task, so an empty poll gets one yield
/// (letting that task decode the next chunk) before the batch is closed. `each` gets every chunk;
/// an end or an error that turns up is returned, for the caller to handle next.
pub(super) async fn drain_ready<S, E>(
    upstream: &mut S,
    mut each: impl FnMut(Bytes),
) -> Option<Option<Result<Bytes, E>>>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    use futures_util::{FutureExt, StreamExt};
    let mut yielded = false;
    for _ in 0..MAX_CHUNKS_PER_BATCH {
        match upstream.next().now_or_never() {
            Some(Some(Ok(chunk))) => {
                yielded = false;
                each(chunk);
            }
            Some(end_or_error) => return Some(end_or_error),
            None if !yielded => {
                yielded = true;
                tokio::task::yield_now().await;
            }
            None => break,
        }
    }
    None
}

/// One batch of encoded events: SSE frames, and the terminal event if the batch has it (all a
/// `stream: false` client needs).
#[derive(Default)]
pub(super) struct Batch {
    pub(super) frames: Vec<u8>,
    pub(super) terminal: Option<Value>,
}

impl Batch {
    pub(super) fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.terminal.is_none()
    }
}

/// The pump's end of the channel.
pub(super) enum Sink {
    Sse(mpsc::Sender<Bytes>),
    Json(mpsc::Sender<Value>),
}

/// The response's end of the channel.
pub(super) enum Source {
    Sse(mpsc::Receiver<Bytes>),
    Json(mpsc::Receiver<Value>),
}

/// A connected pair for a streaming (`stream: true`) or a JSON client.
pub(super) fn channel(stream: bool) -> (Sink, Source) {
    if stream {
        let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
        (Sink::Sse(tx), Source::Sse(rx))
    } else {
        let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
        (Sink::Json(tx), Source::Json(rx))
    }
}

impl Sink {
    /// Sends one batch of events; `false` once the client has gone away.
    pub(super) async fn send_all(&self, events: Vec<Value>) -> bool {
        match self {
            Sink::Sse(tx) => {
                if events.is_empty() {
                    return !tx.is_closed();
                }
                let mut buf = Vec::with_capacity(256 * events.len());
                for ev in &events {
                    sse::write_frame(&mut buf, ev);
                }
                tx.send(Bytes::from(buf)).await.is_ok()
            }
            Sink::Json(tx) => match events.into_iter().next_back() {
                Some(last) => tx.send(last).await.is_ok(),
                None => !tx.is_closed(),
            },
        }
    }

    /// Sends one encoded batch; `false` once the client has gone away.
    pub(super) async fn send_batch(&self, batch: Batch) -> bool {
        match self {
            Sink::Sse(tx) if batch.frames.is_empty() => !tx.is_closed(),
            Sink::Sse(tx) => tx.send(Bytes::from(batch.frames)).await.is_ok(),
            Sink::Json(tx) => match batch.terminal {
                Some(t) => tx.send(t).await.is_ok(),
                None => !tx.is_closed(),
            },
        }
    }

    /// Completes when the client has gone away.
    pub(super) async fn closed(&self) {
        match self {
            Sink::Sse(tx) => tx.closed().await,
            Sink::Json(tx) => tx.closed().await,
        }
    }
}

/// The `text/event-stream` response that drains `rx`, once its first batch is there: the status
/// line and headers then go out in the same write as the first events.
pub(super) async fn sse_response(mut rx: mpsc::Receiver<Bytes>) -> Response {
    let ready = rx.recv().await;
    let stream = futures_util::stream::unfold((rx, ready), |(mut rx, ready)| async move {
        let first = match ready {
            Some(first) => first,
            None => rx.recv().await?,
        };
        let chunk = match rx.try_recv() {
            Err(_) => first,
            Ok(next) => {
                let mut buf = BytesMut::with_capacity(first.len() + next.len());
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&next);
                while buf.len() < BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(more) => buf.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                buf.freeze()
            }
        };
        Some((Ok::<_, Infallible>(chunk), (rx, None)))
    });
    event_stream(Body::from_stream(stream))
}

/// A complete event stream known up front (a failure before any upstream byte).
pub(super) fn sse_complete(events: Bytes) -> Response {
    event_stream(Body::from(events))
}

fn event_stream(body: Body) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
