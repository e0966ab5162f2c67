//! What Codex 0.171 sends (tests/fixtures/codex-0.171, captured by scripts/capture-codex) through
//! both translating mappers: every captured body reads, tools declared in `additional_tools` items
//! are offered exactly like top-level ones (flattened, and mapped back to Codex's names on the way
//! out), and neither those items nor Codex's `client_metadata` reach an upstream.

mod common;

use common::read_fixture;
use common::validate::validate_messages;
use serde_json::{json, Value};

use codex_shim::protocol::responses::{InputItem, ResponsesRequest};
use codex_shim::settings::{ModelConfig, Settings};
use codex_shim::translate::anthropic_request::to_anthropic;
use codex_shim::translate::chat_request::to_chat;
use codex_shim::translate::tools::{ToolKind, ToolMap};

fn model(row: Value) -> ModelConfig {
    Settings::parse_file(
        std::path::Path::new("/t/models.json"),
        &json!([row]).to_string(),
    )
    .unwrap()
    .remove(0)
}

fn chat_model() -> ModelConfig {
    model(
        json!({"model": "up", "provider": "generic-chat-completion-api", "base_url": "https://api.example.com/v1"}),
    )
}

fn claude() -> ModelConfig {
    model(json!({"model": "claude-sonnet-4-5", "provider": "anthropic", "apiKey": "k"}))
}

fn request(rel: &str) -> ResponsesRequest {
    serde_json::from_str(&read_fixture(&format!("codex-0.171/{rel}"))).unwrap()
}

/// Every captured request body, by its path under codex-0.171.
fn bodies() -> Vec<String> {
    let root = common::fixture("codex-0.171");
    let mut out = Vec::new();
    for set in std::fs::read_dir(&root).unwrap() {
        let set = set.unwrap().path();
        if !set.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&set).unwrap() {
            let f = f.unwrap().path();
            if f.to_string_lossy().ends_with(".body.json") {
                out.push(
                    f.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    assert!(out.len() >= 15, "the 0.171 captures are there: {out:?}");
    out
}

/// Both upstream requests for `req`, as they go on the wire, with the chat route's tool map.
fn upstream(req: &ResponsesRequest) -> (Value, Value, ToolMap) {
    let c = to_chat(req, &chat_model());
    let a = to_anthropic(req, &claude(), "api.anthropic.com");
    (
        serde_json::to_value(c.request).unwrap(),
        serde_json::to_value(a.request).unwrap(),
        c.tools,
    )
}

fn chat_tool_names(c: &Value) -> Vec<String> {
    c["tools"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn anthropic_tool_names(a: &Value) -> Vec<String> {
    a["tools"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_captured_body_maps_to_both_upstreams_without_codex_only_fields() {
    for rel in bodies() {
        let raw: Value =
            serde_json::from_str(&read_fixture(&format!("codex-0.171/{rel}"))).unwrap();
        let keys = raw["client_metadata"].as_object().unwrap();
        for k in [
            "session_id",
            "thread_id",
            "root_turn_id",
            "x-codex-window-id",
            "turn_id",
        ] {
            assert!(keys.contains_key(k), "{rel}: client_metadata.{k}");
        }
        let req = request(&rel);
        let (c, a, _) = upstream(&req);
        validate_messages(&a);
        for (route, body) in [("chat", &c), ("anthropic", &a)] {
            let text = body.to_string();
            for codex_only in [
                "client_metadata",
                "x-codex-turn-metadata",
                "additional_tools",
                "prompt_cache_key\"",
            ] {
                assert!(
                    !text.contains(codex_only),
                    "{rel} → {route}: {codex_only} reached the upstream"
                );
            }
        }
        let names = chat_tool_names(&c);
        if !rel.starts_with("compaction-local/02") {
            assert!(
                names.iter().any(|n| n == "exec_command"),
                "{rel}: {names:?}"
            );
        }
        assert_eq!(
            names,
            anthropic_tool_names(&a),
            "{rel}: both routes offer the same tools"
        );
    }
}

/// A "Responses lite" request has no top-level `tools`: Codex's own tools, the multi-agent tools
/// and the MCP server's arrive as namespaces inside one `additional_tools` item.
#[test]
fn tools_in_an_additional_tools_item_are_offered_like_top_level_ones() {
    let req = request("responses-lite/01-initial.body.json");
    assert!(req.tools.is_empty(), "no top-level tools in a lite request");
    assert!(matches!(&req.input.0[0], InputItem::AdditionalTools { tools } if tools.len() == 3));
    let (c, a, map) = upstream(&req);
    let names = chat_tool_names(&c);
    // The `functions` namespace is the plain one: its members keep their own names.
    for expected in [
        "exec_command",
        "write_stdin",
        "apply_patch",
        "view_image",
        "multi_agent_v1__spawn_agent",
        "mcp__stamp__stamp",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} offered: {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n.starts_with("functions__")),
        "{names:?}"
    );
    assert_eq!(names, anthropic_tool_names(&a));
    let stamp = c["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "mcp__stamp__stamp")
        .unwrap();
    assert_eq!(
        stamp["function"]["parameters"]["required"],
        json!(["text"]),
        "the MCP tool's own schema"
    );
    // The item is not conversation: the first developer message is still the system prompt, and
    // no tool definition appears as text anywhere.
    assert_eq!(c["messages"][0]["role"], "system");
    assert!(c["messages"][0]["content"]
        .as_str()
        .unwrap()
        .starts_with("You are MyModel"));
    let messages =
        c["messages"].to_string() + &a["messages"].to_string() + &a["system"].to_string();
    assert!(
        !messages.contains("Runs a command in a PTY"),
        "tool text leaked into the conversation"
    );
    assert_eq!(c["tool_choice"], "auto");

    // And the calls map back to what Codex runs: a namespaced MCP call, a plain function, and the
    // freeform apply_patch.
    let stamp = map.target("mcp__stamp__stamp");
    assert_eq!(
        (stamp.kind, stamp.name.as_str(), stamp.namespace.as_deref()),
        (ToolKind::Function, "stamp", Some("mcp__stamp"))
    );
    let exec = map.target("exec_command");
    assert_eq!((exec.kind, exec.namespace), (ToolKind::Function, None));
    assert_eq!(map.target("apply_patch").kind, ToolKind::Custom);

    // The follow-up replays the MCP call with its namespace: the upstream sees the same flat name
    // it called, answered by its result.
    let req = request("responses-lite/02-mcp-tool-output.body.json");
    let (c, a, _) = upstream(&req);
    validate_messages(&a);
    let call = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| m["tool_calls"].get(0))
        .unwrap();
    assert_eq!(call["function"]["name"], "mcp__stamp__stamp");
}

/// Tools can arrive both ways in one request (top level, then more in an item, as incremental
/// tools do): all are offered once, top-level first, and a name declared twice is offered once.
#[test]
fn top_level_and_additional_tools_together_are_offered_once_each() {
    let mut raw: Value =
        serde_json::from_str(&read_fixture("codex-0.171/mcp-tool/01-initial.body.json")).unwrap();
    let mcp = raw["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "mcp__stamp")
        .unwrap()
        .clone();
    raw["tools"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["name"] != "mcp__stamp");
    let exec = raw["tools"][0].clone();
    let item = json!({"type": "additional_tools", "id": "at_1", "role": "developer", "tools": [mcp, exec]});
    let input = raw["input"].as_array_mut().unwrap();
    input.insert(input.len() - 1, item);
    let req: ResponsesRequest = serde_json::from_value(raw).unwrap();
    let (c, a, map) = upstream(&req);
    let names = chat_tool_names(&c);
    assert_eq!(names.first().map(String::as_str), Some("exec_command"));
    assert_eq!(names.last().map(String::as_str), Some("mcp__stamp__stamp"));
    assert_eq!(names.iter().filter(|n| *n == "exec_command").count(), 1);
    assert_eq!(names, anthropic_tool_names(&a));
    assert_eq!(
        map.target("mcp__stamp__stamp").namespace.as_deref(),
        Some("mcp__stamp")
    );
    validate_messages(&a);
    assert!(!c.to_string().contains("additional_tools"));
}
