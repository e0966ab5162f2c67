//! Real Codex 0.169 requests through the Responses → chat completions mapper.

mod common;

use common::read_fixture;
use serde_json::{json, Value};

use codex_shim::protocol::responses::{InputItem, ResponsesRequest};
use codex_shim::settings::{ModelConfig, Settings};
use codex_shim::translate::chat_request::to_chat;
use codex_shim::translate::envelope::Thinking;
use codex_shim::translate::history::INTERRUPTED_OUTPUT;

fn model(extra: Value) -> ModelConfig {
    let mut row = json!({"model": "up-model", "provider": "generic-chat-completion-api", "base_url": "https://api.example.com/v1"});
    row.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Settings::parse_file(
        std::path::Path::new("/t/models.json"),
        &json!([row]).to_string(),
    )
    .unwrap()
    .remove(0)
}

fn request(rel: &str) -> ResponsesRequest {
    serde_json::from_str(&read_fixture(&format!("codex-0.169/{rel}"))).unwrap()
}

/// The chat request as JSON, the way it goes on the wire.
fn chat(req: &ResponsesRequest, m: &ModelConfig) -> Value {
    serde_json::to_value(to_chat(req, m).request).unwrap()
}

fn roles(c: &Value) -> Vec<String> {
    c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_captured_body_parses_and_no_item_is_unknown_where_codex_sends_known_types() {
    for rel in [
        "basic-tool-loop/01-initial.body.json",
        "basic-tool-loop/02-function-call-output.body.json",
        "apply-patch-freeform/02-custom-tool-call-output.body.json",
        "image-input-output-schema/01-image-input-and-output-schema.body.json",
        "view-image-output-array/02-function-call-output-array.body.json",
        "parallel-tool-calls/02-two-calls-two-outputs.body.json",
        "compaction-local/02-compaction-request.body.json",
        "reasoning-replay/02-reasoning-item-replayed.body.json",
        "resume/03-resumed-second-turn.body.json",
        "compaction-remote-v2/03-after-compaction.body.json",
    ] {
        let req = request(rel);
        assert!(!req.input.0.is_empty(), "{rel}");
        let unknown: Vec<_> = req
            .input
            .0
            .iter()
            .filter_map(|i| {
                if let InputItem::Other { kind } = i {
                    Some(kind.clone())
                } else {
                    None
                }
            })
            .collect();
        let allowed: &[&str] = if rel.starts_with("compaction-remote") {
            &["compaction"]
        } else {
            &[]
        };
        assert!(
            unknown.iter().all(|k| allowed.contains(&k.as_str())),
            "{rel}: {unknown:?}"
        );
        // Whatever comes in, the upstream never gets an empty message or an orphan tool result.
        let c = chat(&req, &model(json!({})));
        check_chat_invariants(&c, rel);
    }
}

/// Rules strict providers enforce (reference spec §18).
fn check_chat_invariants(c: &Value, what: &str) {
    let msgs = c["messages"].as_array().unwrap();
    for (i, m) in msgs.iter().enumerate() {
        let empty = m.get("content").is_none_or(|c| c == "" || c == &json!([]));
        assert!(
            !(empty && m.get("tool_calls").is_none()),
            "{what}: message {i} is empty: {m}"
        );
        if m["role"] == "system" {
            assert_eq!(i, 0, "{what}: system message not first");
        }
        if let Some(calls) = m.get("tool_calls") {
            for (k, call) in calls.as_array().unwrap().iter().enumerate() {
                let next = &msgs[i + 1 + k];
                assert_eq!(
                    (next["role"].as_str(), next["tool_call_id"].as_str()),
                    (Some("tool"), call["id"].as_str()),
                    "{what}: call {k} of message {i} not answered next"
                );
                assert!(call["function"]["arguments"].is_string());
            }
        }
        if m["role"] == "tool" {
            let prev_calls = msgs[..i]
                .iter()
                .rev()
                .find(|p| p["role"] != "tool")
                .and_then(|p| p.get("tool_calls"));
            assert!(prev_calls.is_some(), "{what}: orphan tool message {i}");
        }
        if i > 0 && m["role"] != "tool" {
            assert_ne!(
                msgs[i - 1]["role"],
                m["role"],
                "{what}: roles {i} not merged"
            );
        }
    }
    for t in c
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        assert_eq!(t["type"], "function");
        assert_eq!(
            t["function"]["parameters"]["type"], "object",
            "{what}: {}",
            t["function"]["name"]
        );
        assert!(t["function"]["name"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }
}

#[test]
fn basic_tool_loop_maps_roles_tools_and_the_call() {
    let c = chat(
        &request("basic-tool-loop/02-function-call-output.body.json"),
        &model(json!({})),
    );
    assert_eq!(roles(&c), ["system", "user", "assistant", "tool"]);
    let system = c["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are a coding agent running in the Codex CLI"),
        "base prompt first"
    );
    assert!(
        system.contains("<permissions instructions>"),
        "both developer messages hoisted"
    );
    let user = c["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("<environment_context>") && user.contains("Run echo hi"));
    let call = &c["messages"][2]["tool_calls"][0];
    assert_eq!(
        (call["id"].as_str(), call["function"]["name"].as_str()),
        (Some("call_fake_1"), Some("exec_command"))
    );
    assert!(c["messages"][3]["content"]
        .as_str()
        .unwrap()
        .contains("Process exited with code 0"));
    let names: Vec<&str> = c["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"exec_command")
            && names.contains(&"multi_agent_v1__spawn_agent")
            && names.contains(&"get_goal")
    );
    assert!(
        !names.iter().any(|n| n.contains("web_search")),
        "hosted web_search is not offered to chat upstreams"
    );
    assert_eq!(
        (
            c["stream"].as_bool(),
            c["stream_options"]["include_usage"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(
        (
            c["tool_choice"].as_str(),
            c["parallel_tool_calls"].as_bool()
        ),
        (Some("auto"), Some(true))
    );
    for absent in [
        "reasoning_effort",
        "reasoning",
        "store",
        "include",
        "prompt_cache_key",
        "client_metadata",
        "max_tokens",
    ] {
        assert!(
            c.get(absent).is_none(),
            "{absent} must not reach a generic chat upstream"
        );
    }
}

#[test]
fn apply_patch_is_a_one_string_function_and_its_history_round_trips() {
    let req = request("apply-patch-freeform/02-custom-tool-call-output.body.json");
    let c = chat(&req, &model(json!({})));
    let tool = c["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "apply_patch")
        .unwrap();
    assert_eq!(tool["function"]["parameters"]["required"], json!(["input"]));
    assert!(
        tool["function"]["description"]
            .as_str()
            .unwrap()
            .contains("*** Begin Patch"),
        "grammar summarised for the model"
    );
    let call = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| m.get("tool_calls"))
        .unwrap()[0]
        .clone();
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    let original = req
        .input
        .0
        .iter()
        .find_map(|i| {
            if let InputItem::CustomToolCall { input, .. } = i {
                Some(input.clone())
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(
        args["input"].as_str().unwrap(),
        original,
        "byte-exact patch text"
    );
}

#[test]
fn images_go_through_and_can_be_turned_off() {
    let req = request("image-input-output-schema/01-image-input-and-output-schema.body.json");
    let c = chat(&req, &model(json!({})));
    let parts = c["messages"][1]["content"].as_array().unwrap();
    let img = parts.iter().find(|p| p["type"] == "image_url").unwrap();
    assert!(img["image_url"]["url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    assert_eq!(img["image_url"]["detail"], "high");
    assert_eq!(c["response_format"]["type"], "json_schema");
    assert_eq!(
        c["response_format"]["json_schema"]["name"],
        "codex_output_schema"
    );
    let c = chat(&req, &model(json!({"noImageSupport": true})));
    let text = c["messages"][1]["content"].as_str().unwrap();
    assert!(text.contains("[image omitted") && !text.contains("base64"));
}

#[test]
fn image_tool_output_follows_the_results_of_its_batch() {
    let c = chat(
        &request("view-image-output-array/02-function-call-output-array.body.json"),
        &model(json!({})),
    );
    let r = roles(&c);
    let tool_at = r.iter().position(|x| x == "tool").unwrap();
    assert_eq!(r[tool_at - 1], "assistant");
    assert_eq!(r[tool_at + 1], "user");
    assert!(c["messages"][tool_at + 1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["type"] == "image_url"));
}

#[test]
fn parallel_calls_share_one_assistant_turn() {
    let c = chat(
        &request("parallel-tool-calls/02-two-calls-two-outputs.body.json"),
        &model(json!({})),
    );
    assert_eq!(roles(&c), ["system", "user", "assistant", "tool", "tool"]);
    assert_eq!(c["messages"][2]["tool_calls"].as_array().unwrap().len(), 2);
}

#[test]
fn a_tool_less_compaction_request_renders_tool_history_as_text() {
    let c = chat(
        &request("compaction-local/02-compaction-request.body.json"),
        &model(json!({})),
    );
    assert!(
        c.get("tools").is_none()
            && c.get("tool_choice").is_none()
            && c.get("parallel_tool_calls").is_none()
    );
    let all = c["messages"].to_string();
    assert!(!all.contains("tool_calls") && !all.contains("\"tool\""));
    assert!(
        all.contains("[tool call exec_command]") && all.contains("[tool result for exec_command]")
    );
    assert!(all.contains("CONTEXT CHECKPOINT COMPACTION"));
}

#[test]
fn reasoning_goes_back_only_to_the_provider_that_made_it() {
    // A foreign (OpenAI-encrypted) reasoning item is dropped.
    let c = chat(
        &request("reasoning-replay/02-reasoning-item-replayed.body.json"),
        &model(json!({})),
    );
    assert!(!c.to_string().contains("reasoning_content"));
    // Chat reasoning from the shim's own envelope goes back on the assistant turn, tool calls included.
    let req: ResponsesRequest = serde_json::from_value(json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "date?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}], "content": null,
         "encrypted_content": Thinking::chat("I should run date.").encode()},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"date\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "Tue"}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}]})).unwrap();
    let c = chat(&req, &model(json!({})));
    assert_eq!(c["messages"][1]["reasoning_content"], "I should run date.");
    assert_eq!(c["messages"][1]["tool_calls"][0]["id"], "c1");
}

#[test]
fn broken_histories_are_repaired_for_strict_providers() {
    let req: ResponsesRequest = serde_json::from_value(json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}, {"type": "input_text", "text": ""}]},
        {"type": "function_call_output", "call_id": "ghost", "output": "orphan result"},
        {"type": "function_call", "call_id": "a", "name": "exec_command", "arguments": ""},
        {"type": "function_call", "call_id": "b", "name": "exec_command", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "b", "output": "first"},
        {"type": "function_call_output", "call_id": "b", "output": "second"},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "mid-history note"}]},
        {"type": "web_search_call", "id": "ws_1", "action": {"type": "search"}},
        {"type": "message", "role": "user", "content": "and then?"}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}},
                  {"type": "function", "name": "odd", "parameters": {"anyOf": [{"type": "string"}]}}],
        "tool_choice": {"type": "auto"}, "max_output_tokens": 777})).unwrap();
    let t = to_chat(&req, &model(json!({})));
    let c = serde_json::to_value(&t.request).unwrap();
    check_chat_invariants(&c, "repaired");
    assert_eq!(roles(&c), ["user", "assistant", "tool", "tool", "user"]);
    assert!(c["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("[tool result for call ghost]\norphan result"));
    assert_eq!(
        c["messages"][1]["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
    assert_eq!(c["messages"][2]["content"], INTERRUPTED_OUTPUT);
    assert_eq!(
        c["messages"][3]["content"], "second",
        "the last of duplicate outputs wins"
    );
    assert_eq!(c["messages"][4]["content"], "mid-history note\n\nand then?");
    assert_eq!(c["tool_choice"], "auto");
    assert_eq!(c["max_tokens"], 777);
    assert_eq!(c["tools"][1]["function"]["parameters"]["type"], "object");
    assert!(t.dropped.iter().any(|d| d.contains("web_search_call")));
}

#[test]
fn reasoning_effort_and_token_limits_follow_the_model() {
    let req: ResponsesRequest = serde_json::from_value(
        json!({"model": "m", "input": "hi", "reasoning": {"effort": "high", "summary": "auto"}}),
    )
    .unwrap();
    assert!(chat(&req, &model(json!({})))
        .get("reasoning_effort")
        .is_none());
    let c = chat(
        &req,
        &model(json!({"supportsReasoningEffort": true, "maxOutputTokens": 9000})),
    );
    assert_eq!(
        (c["reasoning_effort"].as_str(), c["max_tokens"].as_u64()),
        (Some("high"), Some(9000))
    );
    assert!(
        c.get("reasoning").is_none(),
        "reasoning.summary never goes to chat upstreams"
    );
    let openai = model(
        json!({"provider": "openai", "base_url": "https://api.openai.com/v1", "maxOutputTokens": 9000}),
    );
    let c = chat(&req, &openai);
    assert_eq!(
        (
            c["reasoning_effort"].as_str(),
            c["max_completion_tokens"].as_u64()
        ),
        (Some("high"), Some(9000))
    );
    assert!(c.get("max_tokens").is_none());
}
