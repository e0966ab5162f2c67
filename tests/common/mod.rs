//! Shared test support: the stream validator, a fake chat upstream, and an in-process shim.
#![allow(dead_code)]

pub mod browser;
pub mod codex;
pub mod desktop;
pub mod fake;
pub mod raw;
pub mod stored;
pub mod validate;

use std::path::PathBuf;

/// A file under `tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn read_fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `CODEX_SHIM_PYTHON` (a Python with the pinned `openai` package), else `python3`; `None`
/// (the test skips) only outside CI.
pub fn openai_python() -> Option<String> {
    let py = std::env::var("CODEX_SHIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import openai, pydantic"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must test against openai-python: `.ci/run` installs tests/e2e/requirements.txt"
    );
    eprintln!("skipping: no Python with the `openai` package; pip install -r tests/e2e/requirements.txt and set CODEX_SHIM_PYTHON");
    None
}

/// The tools Codex declares with a freeform apply_patch (a real captured request).
pub fn codex_tools() -> codex_shim::translate::tools::ToolMap {
    let req: codex_shim::protocol::responses::ResponsesRequest = serde_json::from_str(
        &read_fixture("codex-0.169/apply-patch-freeform/01-initial.body.json"),
    )
    .unwrap();
    codex_shim::translate::tools::ToolMap::from_specs(&req.tools)
}

/// Runs a raw chat completions stream through its decoder and the encoder, fed in `chunk`-byte
/// pieces, the way the server does; returns every Responses event.
pub fn run_chunked(raw: &str, chunk: usize) -> Vec<serde_json::Value> {
    let decoder = codex_shim::translate::chat_stream::ChatStreamDecoder::new(
        &codex_tools(),
        "model `m` (upstream `m` at fake)",
    );
    run_with(Box::new(decoder), raw, chunk)
}

/// The same for a raw Anthropic Messages stream from `api.anthropic.com`.
pub fn run_anthropic(raw: &str, chunk: usize) -> Vec<serde_json::Value> {
    let decoder = codex_shim::translate::anthropic_stream::AnthropicStreamDecoder::new(
        "model `c` (upstream `c` at api.anthropic.com)",
        "api.anthropic.com",
    );
    run_with(Box::new(decoder), raw, chunk)
}

fn run_with(
    mut dec: Box<dyn codex_shim::translate::Decoder>,
    raw: &str,
    chunk: usize,
) -> Vec<serde_json::Value> {
    use codex_shim::translate::{encoder::*, sse::SseParser};
    let mut enc = ResponsesEncoder::new(EncoderConfig {
        model: "m".into(),
        tools: codex_tools(),
        parallel_tool_calls: true,
        tool_choice: serde_json::json!("auto"),
        echo: Default::default(),
    });
    let mut parser = SseParser::new();
    let mut out = enc.start();
    let mut events = Vec::new();
    for piece in raw.as_bytes().chunks(chunk) {
        events.extend(parser.feed(piece));
    }
    events.extend(parser.finish());
    for ev in events {
        for se in dec.event(ev.event.as_deref(), &ev.data) {
            out.extend(enc.push(se));
        }
    }
    for se in dec.end_of_stream() {
        out.extend(enc.push(se));
    }
    out
}
