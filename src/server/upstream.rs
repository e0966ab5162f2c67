//! The upstream call: sending the prepared request, waiting for its status, and pumping its stream
//! through the route's decoder and the one encoder into the reply channel.
//!
//! The pump stops the moment the client goes away (the channel closes), which drops the upstream
//! response and so cancels the upstream request. While the upstream is silent it sends
//! `response.in_progress` events so Codex's idle timer does not fire; an upstream silent for longer
//! than [`super::ServerOptions::upstream_idle`] is given up on with a retryable failure.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use super::client::SendError;
use super::prepare::Prepared;
use super::sink::{drain_ready, Batch, Sink};
use super::AppState;
use crate::translate::encoder::ResponsesEncoder;
use crate::translate::frames::is_terminal;
use crate::translate::sse::SseParser;
use crate::translate::{Failure, StreamEvent, Usage};

type SendFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, SendError>> + Send>>;

/// One log line (and ledger row) per request, written when it ends; a request the client left
/// is written as `cancelled` when its pump is dropped. Never a prompt body or a key.
pub(super) struct RequestLog {
    slug: String,
    upstream_model: String,
    route: &'static str,
    meta: super::RequestMeta,
    started: Instant,
    first_byte: Option<Duration>,
    usage: Option<Usage>,
    /// The upstream's status, once it answered.
    status: Option<u16>,
    events: super::Events,
    written: bool,
}

impl RequestLog {
    pub(super) fn finish(&mut self, upstream_status: Option<u16>, failure: &Failure) {
        self.line(upstream_status, "failed", Some(failure));
    }

    /// Logs the end of a stream that reached the upstream's body.
    fn end(&mut self, enc: &ResponsesEncoder, upstream_status: u16, failure: Option<Failure>) {
        self.usage = enc.usage();
        match failure {
            Some(f) => self.finish(Some(upstream_status), &f),
            None => self.line(
                Some(upstream_status),
                enc.terminal().unwrap_or("failed"),
                None,
            ),
        }
    }

    fn line(&mut self, upstream_status: Option<u16>, outcome: &str, failure: Option<&Failure>) {
        self.written = true;
        let u = self.usage.unwrap_or_default();
        let summary = super::Summary {
            model: self.slug.clone(),
            upstream_model: Some(self.upstream_model.clone()),
            route: self.route,
            endpoint: self.meta.endpoint,
            upstream_status,
            outcome: outcome.to_string(),
            input_tokens: u.input_tokens,
            cached_tokens: u.cached_tokens,
            output_tokens: u.output_tokens,
            reasoning_tokens: u.reasoning_tokens,
            ttfb_ms: self.first_byte.map(|d| d.as_millis() as u64),
            duration_ms: self.started.elapsed().as_millis() as u64,
            is_test: self.meta.is_test,
            ..Default::default()
        };
        match failure {
            Some(f) => summary.failed(f),
            None => summary,
        }
        .emit(&self.events);
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        if !self.written {
            self.line(self.status, "cancelled", None);
        }
    }
}

pub(super) enum BeginState {
    Ready(reqwest::Response),
    /// With the upstream's status, when it answered.
    Failed(Failure, Option<u16>),
    /// The upstream has not answered within `header_wait`; the stream starts anyway.
    Pending(SendFuture),
}

/// The outcome of starting the upstream call.
pub(super) struct Begin {
    /// Counted in `/health` until the pump ends (or this is dropped unused).
    _busy: super::InFlightGuard,
    prepared: Prepared,
    pub(super) log: RequestLog,
    pub(super) state: BeginState,
    /// Where the response is stored (before its terminal event goes out), if the client asked.
    store: Option<super::stateful::StoreCtx>,
}

/// Stores the response whose terminal event is among `events` (a no-op without one, or
/// without a store to keep it in).
async fn keep(store: &Option<super::stateful::StoreCtx>, events: &[Value]) {
    let terminal = events.iter().rev().find(|e| is_terminal(e));
    keep_terminal(store, terminal).await;
}

/// Stores the response of a terminal event (before that event goes out: read-after-write).
async fn keep_terminal(store: &Option<super::stateful::StoreCtx>, terminal: Option<&Value>) {
    if let (Some(ctx), Some(t)) = (store, terminal) {
        ctx.save(&t["response"]).await;
    }
}

/// Sends the request and waits up to `header_wait` for the upstream's status.
pub(super) async fn begin(
    state: &AppState,
    mut prepared: Prepared,
    model: &crate::settings::ModelConfig,
    meta: super::RequestMeta,
    store: Option<super::stateful::StoreCtx>,
) -> Begin {
    let busy = state.in_flight.enter();
    let log = RequestLog {
        slug: model.slug.clone(),
        upstream_model: model.model.clone(),
        route: prepared.route_name(),
        meta,
        started: Instant::now(),
        first_byte: None,
        usage: None,
        status: None,
        events: state.events.clone(),
        written: false,
    };
    let client = state.upstream.clone();
    let (url, headers) = (prepared.url.clone(), prepared.headers.clone());
    // Moved, not shared: the stream that follows does not keep the request alive.
    let body = std::mem::take(&mut prepared.body);
    let mut fut: SendFuture = Box::pin(async move { client.post(&url, headers, body).await });
    let begin_state = match tokio::time::timeout(state.options.header_wait, &mut fut).await {
        Ok(Ok(resp)) if resp.status().is_success() => BeginState::Ready(resp),
        Ok(Ok(resp)) => {
            let status = resp.status().as_u16();
            BeginState::Failed(
                prepared.redact(http_failure(resp, &prepared.who).await),
                Some(status),
            )
        }
        Ok(Err(e)) => {
            BeginState::Failed(prepared.redact(transport_failure(&e, &prepared.who)), None)
        }
        Err(_) => BeginState::Pending(fut),
    };
    Begin {
        _busy: busy,
        prepared,
        log,
        state: begin_state,
        store,
    }
}

async fn http_failure(resp: reqwest::Response, who: &str) -> Failure {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // A redirect's target, without its query (which could hold a key).
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| l.split('?').next().unwrap_or_default().to_string());
    let body = match tokio::time::timeout(Duration::from_secs(10), resp.bytes()).await {
        Ok(Ok(b)) => String::from_utf8_lossy(&b[..b.len().min(64 * 1024)]).into_owned(),
        _ => String::new(),
    };
    let body = match location {
        Some(l) if (300..400).contains(&status) => format!("redirected to {l}"),
        _ => body,
    };
    Failure::from_http(status, &body, retry_after.as_deref(), who)
}

/// A success whose body is still compressed: the HTTP client decodes gzip and zstd (and then
/// drops the header), so anything left is an encoding the shim cannot read. Passing those bytes on,
/// with or without the header, would hand Codex a body it cannot use; the failure says why.
pub(super) fn undecoded_encoding(resp: &reqwest::Response, who: &str) -> Option<Failure> {
    let encoding = resp
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)?
        .to_str()
        .unwrap_or("(unreadable)")
        .trim();
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return None;
    }
    Some(Failure::invalid(format!(
        "{who}: the upstream compressed its reply with `{encoding}`, which the shim cannot read \
         (it asks for plain bytes with `Accept-Encoding: identity`, and reads gzip and zstd)"
    )))
}

fn transport_failure(e: &SendError, who: &str) -> Failure {
    if e.timeout {
        Failure::transient(504, format!("{who}: the upstream timed out: {e}"))
    } else if e.connect {
        Failure::transient(502, format!("{who}: cannot connect to the upstream: {e}"))
    } else {
        Failure::transient(502, format!("{who}: the upstream request failed: {e}"))
    }
}

/// Pumps the upstream into the reply channel until a terminal event or the client leaves.
pub(super) async fn run(state: Arc<AppState>, begin: Begin, tx: Sink) {
    let Begin {
        _busy,
        prepared,
        mut log,
        state: begin_state,
        store,
    } = begin;
    let heartbeat = state.options.heartbeat;
    let mut enc = ResponsesEncoder::new(prepared.encoder.clone());
    if !tx.send_all(enc.start()).await {
        return;
    }
    let resp = match begin_state {
        BeginState::Ready(r) => r,
        BeginState::Failed(f, status) => {
            let out = enc.fail(&f);
            keep(&store, &out).await;
            tx.send_all(out).await;
            log.finish(status, &f);
            return;
        }
        BeginState::Pending(mut fut) => loop {
            tokio::select! {
                r = &mut fut => {
                    let (failure, status) = match r {
                        Ok(r) if r.status().is_success() => break r,
                        Ok(r) => {
                            let status = r.status().as_u16();
                            (http_failure(r, &prepared.who).await, Some(status))
                        }
                        Err(e) => (transport_failure(&e, &prepared.who), None),
                    };
                    let failure = prepared.redact(failure);
                    let out = enc.fail(&failure);
                    keep(&store, &out).await;
                    tx.send_all(out).await;
                    log.finish(status, &failure);
                    return;
                }
                _ = tokio::time::sleep(heartbeat) => {
                    if log.started.elapsed() > state.options.upstream_idle {
                        let f = Failure::transient(504, format!("{}: the upstream sent no reply within {}s", prepared.who, state.options.upstream_idle.as_secs()));
                        tx.send_all(enc.fail(&f)).await;
                        log.finish(None, &f);
                        return;
                    }
                    if !tx.send_all(enc.heartbeat().into_iter().collect()).await { return; }
                }
                _ = tx.closed() => { tracing::info!(model = %log.slug, "client went away before the upstream answered; cancelled"); return; }
            }
        },
    };
    let status = resp.status().as_u16();
    log.status = Some(status);
    if let Some(f) = undecoded_encoding(&resp, &prepared.who) {
        tx.send_all(enc.fail(&f)).await;
        log.finish(Some(status), &f);
        return;
    }
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        // A server that ignored `stream: true` and sent the whole completion at once.
        let mut decoder = prepared.decoder();
        // The whole reply arrives at the end: keep Codex's idle timer reset meanwhile, and stop
        // at once if the client leaves.
        let text = tokio::time::timeout(state.options.upstream_idle, resp.text());
        tokio::pin!(text);
        let result = loop {
            tokio::select! {
                r = &mut text => break r,
                _ = tokio::time::sleep(heartbeat) => {
                    if !tx.send_all(enc.heartbeat().into_iter().collect()).await { return; }
                }
                _ = tx.closed() => return,
            }
        };
        let events = match result {
            Ok(Ok(text)) => decoder.complete_json(&text),
            Ok(Err(e)) => decoder.transport_error(&super::client::sources(&e)),
            Err(_) => decoder.transport_error("timed out reading the reply"),
        };
        log.first_byte.get_or_insert_with(|| log.started.elapsed());
        let mut batch = Batch::default();
        let failure = encode(&prepared, &mut enc, events, &mut batch);
        keep_terminal(&store, batch.terminal.as_ref()).await;
        tx.send_batch(batch).await;
        log.end(&enc, status, failure);
        return;
    }
    let mut body = resp.bytes_stream().fuse();
    let mut parser = SseParser::new();
    let mut decoder = prepared.decoder();
    // One item of the upstream body (a chunk, an error, or its end) into decoded events.
    let mut take = |item: Option<reqwest::Result<Bytes>>, out: &mut Vec<StreamEvent>| match item {
        Some(Ok(bytes)) => {
            for ev in parser.feed(&bytes) {
                out.extend(decoder.event(ev.event.as_deref(), &ev.data));
            }
        }
        Some(Err(e)) => out.extend(decoder.transport_error(&super::client::sources(&e))),
        None => {
            for ev in parser.finish() {
                out.extend(decoder.event(ev.event.as_deref(), &ev.data));
            }
            out.extend(decoder.end_of_stream());
        }
    };
    let mut last_upstream = Instant::now();
    let mut last_sent = Instant::now();
    // One timer for the whole stream, re-armed lazily: when it fires early (events went out
    // since it was set) it moves to the real deadline instead of being replaced on every read.
    let keep_alive = tokio::time::sleep(heartbeat);
    tokio::pin!(keep_alive);
    let gone = tx.closed();
    tokio::pin!(gone);
    loop {
        let events: Vec<StreamEvent> = tokio::select! {
            item = body.next() => {
                if matches!(item, Some(Ok(_))) {
                    log.first_byte.get_or_insert_with(|| log.started.elapsed());
                    last_upstream = Instant::now();
                }
                let mut evs = Vec::new();
                let more = matches!(item, Some(Ok(_)));
                take(item, &mut evs);
                if more {
                    // What came in the same read goes out in one write (see `drain_ready`).
                    let end = drain_ready(&mut body, |chunk| take(Some(Ok(chunk)), &mut evs)).await;
                    if let Some(end) = end {
                        take(end, &mut evs);
                    }
                }
                evs
            },
            _ = &mut keep_alive => {
                let due = last_sent + heartbeat;
                if Instant::now() < due {
                    keep_alive.as_mut().reset(due.into());
                    continue;
                }
                keep_alive.as_mut().reset((Instant::now() + heartbeat).into());
                if last_upstream.elapsed() > state.options.upstream_idle {
                    let f = Failure::transient(504, format!("{}: the upstream went silent for {}s", prepared.who, state.options.upstream_idle.as_secs()));
                    vec![StreamEvent::Error(f)]
                } else {
                    last_sent = Instant::now();
                    if !tx.send_all(enc.heartbeat().into_iter().collect()).await { return; }
                    continue;
                }
            }
            _ = &mut gone => {
                tracing::info!(model = %log.slug, "client went away mid-stream; upstream request cancelled");
                return;
            }
        };
        let mut batch = Batch::default();
        let failure = encode(&prepared, &mut enc, events, &mut batch);
        log.usage = enc.usage();
        keep_terminal(&store, batch.terminal.as_ref()).await;
        if !batch.is_empty() {
            last_sent = Instant::now();
            if !tx.send_batch(batch).await {
                tracing::info!(model = %log.slug, "client went away mid-stream; upstream request cancelled");
                return;
            }
        }
        if enc.terminal().is_some() {
            log.end(&enc, status, failure);
            return;
        }
    }
}

/// Encodes decoder events into `batch`, scrubbing secrets from any failure; returns the failure.
fn encode(
    prepared: &Prepared,
    enc: &mut ResponsesEncoder,
    events: Vec<StreamEvent>,
    batch: &mut Batch,
) -> Option<Failure> {
    let mut failure = None;
    for ev in events {
        let ev = match ev {
            StreamEvent::Error(f) => {
                let f = prepared.redact(f);
                failure = Some(f.clone());
                StreamEvent::Error(f)
            }
            other => other,
        };
        enc.push_sse(ev, &mut batch.frames, &mut batch.terminal);
    }
    failure
}
