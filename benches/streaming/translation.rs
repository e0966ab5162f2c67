//! The cost of translation alone, without sockets: a ~1.5 MB request parsed and mapped per route,
//! and a 1,000-event stream decoded and re-encoded.

use serde_json::{json, Value};

use super::pct;
use super::upstream::{anthropic_events, chat_events};
use codex_shim::protocol::responses::ResponsesRequest;
use codex_shim::settings::Settings;
use codex_shim::translate::{anthropic_request, chat_request};

use std::time::Instant;

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..21)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    pct(&mut v, 0.5)
}

pub fn translation_costs(large: &Value) -> Vec<(String, f64)> {
    let bytes = serde_json::to_vec(large).unwrap();
    let models = Settings::parse_file(
        std::path::Path::new("/bench/models.json"),
        r#"[{"model":"m","provider":"openai","apiKey":"k"},{"model":"claude-sonnet-4-5","provider":"anthropic","apiKey":"k"}]"#,
    )
    .unwrap();
    let mut out = vec![(
        format!("parse the {:.2} MB request", bytes.len() as f64 / 1e6),
        median_ms(|| {
            std::hint::black_box(serde_json::from_slice::<ResponsesRequest>(&bytes).unwrap());
        }),
    )];
    let req: ResponsesRequest = serde_json::from_slice(&bytes).unwrap();
    out.push((
        "map to chat completions + serialize".into(),
        median_ms(|| {
            let t = chat_request::to_chat(&req, &models[0]);
            std::hint::black_box(serde_json::to_vec(&t.request).unwrap());
        }),
    ));
    out.push((
        "map to Anthropic Messages + serialize".into(),
        median_ms(|| {
            let t = anthropic_request::to_anthropic(&req, &models[1], "api.anthropic.com");
            std::hint::black_box(serde_json::to_vec(&t.request).unwrap());
        }),
    ));
    out.push((
        "whole chat route (parse + map + serialize)".into(),
        median_ms(|| {
            let r: ResponsesRequest = serde_json::from_slice(&bytes).unwrap();
            let t = chat_request::to_chat(&r, &models[0]);
            std::hint::black_box(serde_json::to_vec(&t.request).unwrap());
        }),
    ));
    // Decoding and re-encoding a 1,000-event stream, per route.
    for (name, events, anthropic) in [
        (
            "decode + encode 1,000 chat events",
            chat_events(1000, 20),
            false,
        ),
        (
            "decode + encode 1,000 Anthropic events",
            anthropic_events(1000, 20),
            true,
        ),
    ] {
        let raw: Vec<u8> = events.iter().flat_map(|b| b.to_vec()).collect();
        out.push((
            name.into(),
            median_ms(|| {
                use codex_shim::translate::{encoder::*, sse::*, Decoder};
                let mut dec: Box<dyn Decoder> = if anthropic {
                    Box::new(
                        codex_shim::translate::anthropic_stream::AnthropicStreamDecoder::new(
                            "c", "bench",
                        ),
                    )
                } else {
                    Box::new(codex_shim::translate::chat_stream::ChatStreamDecoder::new(
                        &Default::default(),
                        "m",
                    ))
                };
                let mut enc = ResponsesEncoder::new(EncoderConfig {
                    model: "m".into(),
                    tools: Default::default(),
                    parallel_tool_calls: true,
                    tool_choice: json!("auto"),
                    echo: Default::default(),
                });
                // As the server does it: frames written straight into one buffer.
                let mut wire = Vec::new();
                for e in enc.start() {
                    write_frame(&mut wire, &e);
                }
                let mut terminal = None;
                let mut p = SseParser::new();
                for ev in p.feed(&raw) {
                    for se in dec.event(ev.event.as_deref(), &ev.data) {
                        enc.push_sse(se, &mut wire, &mut terminal);
                    }
                }
                std::hint::black_box((wire, terminal));
            }),
        ));
    }
    out
}
