//! The real Codex CLI with an MCP server (tests/e2e/mcp/stamp_server.py): the upstream model calls
//! the server's tool through the shim and Codex runs it, on a chat and on an Anthropic upstream,
//! with the tools declared at the top level and, for a "Responses lite" model, inside an
//! `additional_tools` item (Codex 0.171's incremental tools).

mod common;

use std::path::{Path, PathBuf};

use common::codex::*;
use common::fake::{sse_chunk, FakeUpstream, Reply};
use serde_json::{json, Value};

codex_e2e!(codex_runs_the_mcp_tool_the_upstream_model_calls);

fn mcp_server() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/mcp/stamp_server.py")
}

/// `-c` overrides that give Codex the stamp MCP server, writing to `stamps`.
fn mcp_overrides(stamps: &Path) -> Vec<String> {
    let q = |s: &str| codex_shim::codex::toml_string(s);
    vec![
        "-c".into(),
        format!("mcp_servers.stamp.command={}", q("python3")),
        "-c".into(),
        format!(
            "mcp_servers.stamp.args=[{}]",
            q(&mcp_server().to_string_lossy())
        ),
        "-c".into(),
        format!(
            "mcp_servers.stamp.env={{STAMP_FILE={}}}",
            q(&stamps.to_string_lossy())
        ),
    ]
}

/// The shim's catalog with every model made a "Responses lite" model: Codex then sends no
/// top-level tools, only an `additional_tools` item.
fn lite_catalog(sb: &Sandbox, settings: &Path) -> PathBuf {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-shim"))
        .arg("--settings")
        .arg(settings)
        .arg("generate")
        .env("HOME", sb.path("home"))
        .env("CODEX_HOME", sb.path("codex-home"))
        .env("CODEX_SHIM_HOME", sb.path("shim-home"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let mut catalog: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for m in catalog["models"].as_array_mut().unwrap() {
        m["use_responses_lite"] = json!(true);
    }
    let lite = sb.path("lite-catalog.json");
    std::fs::write(&lite, catalog.to_string()).unwrap();
    lite
}

fn anthropic_stamp_call(text: &str) -> String {
    let mut s = anthropic_event(
        "message_start",
        json!({"message": {"id": "msg_mcp", "type": "message", "role": "assistant", "content": [], "model": "m", "usage": {"input_tokens": 50, "output_tokens": 1}}}),
    );
    s += &anthropic_event(
        "content_block_start",
        json!({"index": 0, "content_block": {"type": "tool_use", "id": "toolu_mcp_1", "name": "mcp__stamp__stamp", "input": {}}}),
    );
    s += &anthropic_event(
        "content_block_delta",
        json!({"index": 0, "delta": {"type": "input_json_delta", "partial_json": json!({"text": text}).to_string()}}),
    );
    s += &anthropic_event("content_block_stop", json!({"index": 0}));
    s += &anthropic_event(
        "message_delta",
        json!({"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
    );
    s + &anthropic_event("message_stop", json!({}))
}

/// The tool names an upstream request offered, on either route.
fn offered(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            t["function"]["name"]
                .as_str()
                .or(t["name"].as_str())
                .map(str::to_string)
        })
        .collect()
}

async fn codex_runs_the_mcp_tool_the_upstream_model_calls(codex: Codex) {
    for (route, lite) in [
        ("chat", false),
        ("anthropic", false),
        ("chat", true),
        ("anthropic", true),
    ] {
        let case = format!(
            "Codex {} on {route}{}",
            codex.version,
            if lite { ", lite" } else { "" }
        );
        let up = FakeUpstream::start().await;
        let sb = Sandbox::new();
        let settings = sb.path("models.json");
        let (provider, base) = match route {
            "anthropic" => ("anthropic", format!("http://{}", up.addr)),
            _ => ("generic-chat-completion-api", up.base_url()),
        };
        std::fs::write(&settings, json!([{"model": "up-model", "slug": "mcp-model", "provider": provider, "base_url": base, "apiKey": "k"}]).to_string()).unwrap();
        let words = format!("stamped by the model ({case})");
        match route {
            "anthropic" => {
                up.push(Reply::sse(&anthropic_stamp_call(&words)));
                up.push(Reply::sse(&anthropic_small_text("The stamp is done.")));
            }
            _ => {
                let call = json!({"tool_calls": [{"index": 0, "id": "call_mcp_1", "type": "function",
                    "function": {"name": "mcp__stamp__stamp", "arguments": json!({"text": words}).to_string()}}]});
                up.push(Reply::Sse {
                    chunks: vec![
                        sse_chunk(call, None),
                        sse_chunk(json!({}), Some("tool_calls")),
                        "data: [DONE]\n\n".into(),
                    ],
                    delay: std::time::Duration::ZERO,
                });
                up.push(Reply::text(&["The stamp is done."]));
            }
        }
        let stamps = sb.path("work/stamps.txt");
        let mut args = vec![
            "codex".to_string(),
            "-m".into(),
            "mcp-model".into(),
            "exec".into(),
            "--skip-git-repo-check".into(),
            "--dangerously-bypass-approvals-and-sandbox".into(),
            "-c".into(),
            "analytics.enabled=false".into(),
        ];
        args.extend(mcp_overrides(&stamps));
        if lite {
            let catalog = lite_catalog(&sb, &settings);
            args.push("-c".into());
            args.push(format!(
                "model_catalog_json={}",
                codex_shim::codex::toml_string(&catalog.to_string_lossy())
            ));
        }
        args.push("-C".into());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sb
            .shim(&settings, &argv)
            .arg(sb.path("work"))
            .arg("Stamp something.")
            .env("CODEX_SHIM_CODEX_BIN", &codex.bin)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{case}: {}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("The stamp is done."),
            "{case}: {}",
            show(&out)
        );
        // Codex ran the MCP tool: the server wrote the model's words.
        assert_eq!(
            std::fs::read_to_string(&stamps).unwrap_or_default(),
            format!("{words}\n"),
            "{case}: {}",
            show(&out)
        );
        let reqs = up.requests();
        assert_eq!(reqs.len(), 2, "{case}: {}", show(&out));
        let names = offered(&reqs[0].body);
        assert!(
            names.iter().any(|n| n == "mcp__stamp__stamp")
                && names.iter().any(|n| n == "exec_command"),
            "{case}: the MCP tool and Codex's own are offered: {names:?}"
        );
        assert_eq!(names, offered(&reqs[1].body), "{case}");
        if route == "chat" {
            // The lite layout (tools only in an `additional_tools` item) comes with
            // `parallel_tool_calls: false`, which the chat request carries over.
            assert_eq!(
                reqs[0].body["parallel_tool_calls"],
                json!(!lite),
                "{case}: Codex used the layout this case is about"
            );
        }
        let conversation = format!("{}{}", reqs[0].body["messages"], reqs[0].body["system"]);
        assert!(
            !reqs[0].body.to_string().contains("additional_tools")
                && !conversation.contains("Append a line of text to the stamp file"),
            "{case}: no tool declaration reached the upstream as text"
        );
        // The tool's result went back to the model.
        assert!(
            reqs[1]
                .body
                .to_string()
                .contains(&format!("stamped: {words}")),
            "{case}: {}",
            reqs[1].body
        );
    }
}
