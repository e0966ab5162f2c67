//! Any bytes as an upstream stream, cut where the first byte says: both decoders and the encoder
//! never panic and always end the stream with exactly one terminal event.
#![no_main]

use codex_shim::translate::anthropic_stream::AnthropicStreamDecoder;
use codex_shim::translate::chat_stream::ChatStreamDecoder;
use codex_shim::translate::encoder::{EncoderConfig, ResponsesEncoder};
use codex_shim::translate::sse::SseParser;
use codex_shim::translate::tools::ToolMap;
use codex_shim::translate::Decoder;
use libfuzzer_sys::fuzz_target;

fn run(mut dec: Box<dyn Decoder>, bytes: &[u8], step: usize) {
    let mut enc = ResponsesEncoder::new(EncoderConfig {
        model: "m".into(),
        tools: ToolMap::default(),
        parallel_tool_calls: true,
        tool_choice: serde_json::json!("auto"),
        echo: Default::default(),
    });
    let mut parser = SseParser::new();
    let mut out = enc.start();
    for piece in bytes.chunks(step.max(1)) {
        for ev in parser.feed(piece) {
            if !dec.is_done() {
                for se in dec.event(ev.event.as_deref(), &ev.data) {
                    out.extend(enc.push(se));
                }
            }
        }
    }
    for ev in parser.finish() {
        if !dec.is_done() {
            for se in dec.event(ev.event.as_deref(), &ev.data) {
                out.extend(enc.push(se));
            }
        }
    }
    if !dec.is_done() {
        for se in dec.end_of_stream() {
            out.extend(enc.push(se));
        }
    }
    let terminals = out
        .iter()
        .filter(|e| matches!(e["type"].as_str(), Some("response.completed" | "response.failed" | "response.incomplete")))
        .count();
    assert_eq!(terminals, 1, "exactly one terminal event");
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, bytes)) = data.split_first() else {
        return;
    };
    run(Box::new(ChatStreamDecoder::new(&ToolMap::default(), "m")), bytes, step as usize);
    run(Box::new(AnthropicStreamDecoder::new("c", "fuzz")), bytes, step as usize);
});
