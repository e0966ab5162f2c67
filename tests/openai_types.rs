//! Every event the encoder can write validates against openai-python's `ResponseStreamEvent`, so
//! any Responses client (not only Codex) can read the shim's streams.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use codex_shim::translate::encoder::{EncoderConfig, ResponsesEncoder};
use codex_shim::translate::{ErrorCode, Failure};
use serde_json::json;

#[test]
fn every_event_kind_validates_against_openai_python() {
    let Some(py) = common::openai_python() else {
        return;
    };
    let mut events = Vec::new();
    let dir = common::fixture("chat");
    for entry in std::fs::read_dir(dir).unwrap() {
        events.extend(common::run_chunked(
            &std::fs::read_to_string(entry.unwrap().path()).unwrap(),
            5,
        ));
    }
    for entry in std::fs::read_dir(common::fixture("anthropic")).unwrap() {
        events.extend(common::run_anthropic(
            &std::fs::read_to_string(entry.unwrap().path()).unwrap(),
            5,
        ));
    }
    // Heartbeats and every failure code the shim can write.
    for code in [
        ErrorCode::InvalidRequest,
        ErrorCode::RateLimited,
        ErrorCode::InsufficientQuota,
        ErrorCode::ContextLengthExceeded,
        ErrorCode::ServerError,
    ] {
        let mut enc = ResponsesEncoder::new(EncoderConfig {
            model: "m".into(),
            tools: common::codex_tools(),
            parallel_tool_calls: false,
            tool_choice: json!("none"),
            echo: Default::default(),
        });
        events.extend(enc.start());
        events.extend(enc.heartbeat());
        events.extend(enc.fail(&Failure::new(code, 400, "x")));
    }
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for k in [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.completed",
        "response.incomplete",
        "response.failed",
    ] {
        assert!(kinds.contains(k), "no {k} among the validated events");
    }
    let mut child = Command::new(py)
        .arg(common::fixture("../openai_types.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for e in &events {
        writeln!(stdin, "{e}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(&format!("{} events valid, 0 invalid", events.len())),
        "{report}"
    );
}
