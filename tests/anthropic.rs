//! The Anthropic Messages route without sockets: recorded Messages streams through the decoder
//! and the one encoder, and real Codex 0.169 requests through the request mapper, each result
//! checked by one validator of the Messages API's rules.

mod common;

use common::validate::{check_strict, classify, validate_messages, Outcome};
use common::{read_fixture, run_anthropic};
use serde_json::{json, Value};

use codex_shim::protocol::responses::ResponsesRequest;
use codex_shim::settings::{ModelConfig, Settings};
use codex_shim::translate::anthropic_request::{default_max_tokens, to_anthropic};
use codex_shim::translate::envelope::Thinking;

const SIG: &str =
    "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds3rL8T/3ylQRnP4Fb+Q1XKAE2Y0fLlA==";

fn run(name: &str) -> Vec<Value> {
    let raw = read_fixture(&format!("anthropic/{name}"));
    let events = run_anthropic(&raw, usize::MAX);
    let problems = check_strict(&events);
    assert!(problems.is_empty(), "{name}: {problems:#?}\n{events:#?}");
    let kinds = |evs: &[Value]| {
        evs.iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(&events),
        kinds(&run_anthropic(&raw, 7)),
        "{name}: 7-byte chunks differ"
    );
    events
}

fn items(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| e["item"].clone())
        .collect()
}

fn last(events: &[Value]) -> &Value {
    events.last().unwrap()
}

#[test]
fn text() {
    let evs = run("text.sse");
    assert_eq!(classify(&evs), Outcome::Ok);
    assert_eq!(
        items(&evs)[0]["content"][0]["text"],
        "Hello! How can I help?"
    );
}

#[test]
fn a_tool_use_whose_json_arrives_in_many_pieces() {
    let evs = run("tool-use-split-json.sse");
    let it = items(&evs);
    assert_eq!(it[0]["content"][0]["text"], "Listing files.");
    assert_eq!(
        (
            it[1]["type"].as_str(),
            it[1]["call_id"].as_str(),
            it[1]["name"].as_str()
        ),
        (
            Some("function_call"),
            Some("toolu_01A09q90qw90lq917835lq9"),
            Some("exec_command")
        )
    );
    assert_eq!(
        it[1]["arguments"],
        r#"{"cmd": "ls -la", "workdir": "/home/user/project"}"#
    );
}

#[test]
fn two_tool_uses_in_one_turn() {
    let it = items(&run("two-tool-uses.sse"));
    let got: Vec<(&str, &str)> = it
        .iter()
        .map(|i| {
            (
                i["call_id"].as_str().unwrap(),
                i["arguments"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("toolu_1", r#"{"cmd":"ls"}"#),
            ("toolu_2", r#"{"cmd":"pwd"}"#)
        ]
    );
}

#[test]
fn thinking_and_signature_then_tool_use() {
    let evs = run("thinking-then-tool-use.sse");
    let it = items(&evs);
    assert_eq!(it[0]["type"], "reasoning");
    let text = "I should look at the directory first.\n\nÜnïcödé and \"quotes\" \\ too.";
    assert_eq!(it[0]["summary"][0]["text"], text);
    let env = Thinking::decode(it[0]["encrypted_content"].as_str().unwrap()).unwrap();
    assert_eq!(
        env,
        Thinking::Thinking {
            thinking: text.into(),
            signature: SIG.into(),
            origin: Some("api.anthropic.com".into())
        }
    );
    assert_eq!(it[1]["call_id"], "toolu_think");
}

#[test]
fn redacted_thinking_is_kept_whole() {
    let it = items(&run("redacted-thinking.sse"));
    assert_eq!(it[0]["summary"], json!([]));
    match Thinking::decode(it[0]["encrypted_content"].as_str().unwrap()).unwrap() {
        Thinking::RedactedThinking { data, .. } => assert!(data.starts_with("EmwKAhgBEgy3va3pzix")),
        other => panic!("{other:?}"),
    }
    assert_eq!(it[1]["content"][0]["text"], "Done thinking.");
}

/// anthropic-sdk-python's recorded shape: a tool_use cut by max_tokens, never stopped. Codex runs
/// what `output_item.done` commits, so the broken call must not be committed at all.
#[test]
fn a_tool_use_cut_by_max_tokens_is_never_committed() {
    let evs = run("max-tokens-mid-tool-use.sse");
    let t = last(&evs);
    assert_eq!(
        (
            t["type"].as_str(),
            t["response"]["incomplete_details"]["reason"].as_str()
        ),
        (Some("response.incomplete"), Some("max_output_tokens"))
    );
    assert_eq!(t["response"]["usage"]["output_tokens"], 1024);
    let done = items(&evs);
    assert_eq!(done.len(), 1, "only the text is committed: {done:#?}");
    assert_eq!(
        done[0]["content"][0]["text"],
        "I'll write the guide to a file."
    );
    assert!(
        !evs.iter().any(|e| e["type"]
            .as_str()
            .is_some_and(|k| k.starts_with("response.function_call_arguments.done"))),
        "no arguments.done for the cut call"
    );
    assert_eq!(
        t["response"]["output"],
        json!(done),
        "and it is not in the output"
    );
    assert!(matches!(classify(&evs), Outcome::Fatal(_)));

    // A complete call before the cut stands; the cut freeform apply_patch does not.
    let evs = run("max-tokens-mid-apply-patch.sse");
    let done = items(&evs);
    assert_eq!(done.len(), 1, "{done:#?}");
    assert_eq!(
        (done[0]["type"].as_str(), done[0]["arguments"].as_str()),
        (Some("function_call"), Some(r#"{"cmd": "mkdir -p docs"}"#))
    );
    assert!(!evs.iter().any(|e| e["type"]
        .as_str()
        .is_some_and(|k| k.starts_with("response.custom_tool_call_input"))));
    assert_eq!(last(&evs)["type"], "response.incomplete");
}

#[test]
fn stop_reasons() {
    let evs = run("max-tokens.sse");
    assert_eq!(
        (
            last(&evs)["type"].as_str(),
            last(&evs)["response"]["incomplete_details"]["reason"].as_str()
        ),
        (Some("response.incomplete"), Some("max_output_tokens"))
    );
    let evs = run("refusal.sse");
    assert_eq!(
        last(&evs)["response"]["incomplete_details"]["reason"],
        "content_filter"
    );
    assert_eq!(
        items(&evs)[0]["content"][0]["text"],
        "I can't help with that.",
        "the refusal text is kept"
    );
    let evs = run("pause-turn.sse");
    assert_eq!(
        (
            last(&evs)["type"].as_str(),
            last(&evs)["response"]["end_turn"].as_bool()
        ),
        (Some("response.completed"), Some(false))
    );
}

#[test]
fn an_error_event_or_a_cut_stream_fails() {
    let evs = run("error-mid-stream.sse");
    assert_eq!(
        (
            last(&evs)["type"].as_str(),
            last(&evs)["response"]["error"]["code"].as_str()
        ),
        (Some("response.failed"), Some("server_error"))
    );
    assert!(last(&evs)["response"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Overloaded"));
    assert!(matches!(classify(&evs), Outcome::Retry(_)));
    let evs = run("eof-before-stop.sse");
    assert_eq!(last(&evs)["type"], "response.failed");
    assert!(
        !items(&evs).iter().any(|i| i["type"] == "function_call"),
        "the cut tool call is never committed"
    );
}

#[test]
fn usage_counts_cache_reads_and_writes_as_input() {
    let evs = run("usage-with-cache.sse");
    assert_eq!(
        last(&evs)["response"]["usage"],
        json!({"input_tokens": 32050, "input_tokens_details": {"cached_tokens": 30000, "cache_write_tokens": 0},
        "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 32057})
    );
}

#[test]
fn apply_patch_comes_back_as_a_custom_tool_call() {
    let it = items(&run("apply-patch.sse"));
    assert_eq!(
        (it[0]["type"].as_str(), it[0]["name"].as_str()),
        (Some("custom_tool_call"), Some("apply_patch"))
    );
    assert_eq!(
        it[0]["input"],
        "*** Begin Patch\n*** Add File: a.txt\n+ä \"b\" \\ c\n*** End Patch\n"
    );
}

// ---- request mapping ----

fn claude(extra: Value) -> ModelConfig {
    let mut row = json!({"model": "claude-sonnet-4-5", "provider": "anthropic", "apiKey": "k"});
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

fn messages(req: &ResponsesRequest, m: &ModelConfig) -> Value {
    let v = serde_json::to_value(to_anthropic(req, m, "api.anthropic.com").request).unwrap();
    validate_messages(&v);
    v
}

#[test]
fn every_captured_codex_request_maps_to_a_valid_messages_request() {
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
        for m in [
            claude(json!({})),
            claude(json!({"noImageSupport": true, "supportsReasoningEffort": false})),
        ] {
            let r = messages(&request(rel), &m);
            assert!(
                !r.to_string().contains("ENCRYPTED_BLOB"),
                "{rel}: foreign reasoning is never sent"
            );
        }
    }
}

#[test]
fn system_tools_images_and_caching() {
    let r = messages(
        &request("basic-tool-loop/02-function-call-output.body.json"),
        &claude(json!({})),
    );
    assert!(r["system"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("You are a coding agent running in the Codex CLI"));
    assert_eq!(
        r["system"].as_array().unwrap().len(),
        2,
        "both developer messages, in order"
    );
    assert_eq!(r["system"][1]["cache_control"]["type"], "ephemeral");
    let tools = r["tools"].as_array().unwrap();
    assert!(tools
        .iter()
        .any(|t| t["name"] == "multi_agent_v1__spawn_agent"));
    assert_eq!(tools.last().unwrap()["cache_control"]["type"], "ephemeral");
    assert_eq!(r["max_tokens"], default_max_tokens("claude-sonnet-4-5"));
    assert_eq!(r["max_tokens"], 64_000);
    let last_user = r["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last_user["content"].as_array().unwrap().last().unwrap()["cache_control"]["type"],
        "ephemeral"
    );

    let r = messages(
        &request("view-image-output-array/02-function-call-output-array.body.json"),
        &claude(json!({})),
    );
    let result = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["content"].as_array().unwrap())
        .find(|b| b["type"] == "tool_result")
        .unwrap();
    let img = result["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "image")
        .unwrap();
    assert_eq!(img["source"]["type"], "base64");
    assert_eq!(img["source"]["media_type"], "image/png");
    let r = messages(
        &request("image-input-output-schema/01-image-input-and-output-schema.body.json"),
        &claude(json!({"noImageSupport": true})),
    );
    assert!(r.to_string().contains("[image omitted") && !r.to_string().contains("\"image\""));
}

#[test]
fn apply_patch_and_tool_choice() {
    let req = request("apply-patch-freeform/02-custom-tool-call-output.body.json");
    let r = messages(&req, &claude(json!({})));
    let tool = r["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "apply_patch")
        .unwrap();
    assert_eq!(tool["input_schema"]["required"], json!(["input"]));
    let use_block = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["content"].as_array().unwrap())
        .find(|b| b["type"] == "tool_use")
        .unwrap();
    assert!(use_block["input"]["input"]
        .as_str()
        .unwrap()
        .starts_with("*** Begin Patch"));
    // tool_choice and parallel_tool_calls
    let mut req: ResponsesRequest = serde_json::from_value(json!({"model": "c", "input": "hi", "parallel_tool_calls": false, "tool_choice": "required",
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}]})).unwrap();
    let no_thinking = claude(json!({"supportsReasoningEffort": false}));
    assert_eq!(
        messages(&req, &no_thinking)["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    req.tool_choice = Some(json!({"type": "function", "name": "exec_command"}));
    assert_eq!(
        messages(&req, &no_thinking)["tool_choice"]["name"],
        "exec_command"
    );
    req.tool_choice = Some(json!("none"));
    assert_eq!(
        messages(&req, &no_thinking)["tool_choice"],
        json!({"type": "none"})
    );
}

#[test]
fn thinking_follows_effort_within_the_apis_limits() {
    let req: ResponsesRequest = serde_json::from_value(json!({"model": "c", "input": "hi", "reasoning": {"effort": "high"}, "temperature": 0.2, "tool_choice": "required",
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}]})).unwrap();
    let r = messages(&req, &claude(json!({})));
    assert_eq!(
        r["thinking"],
        json!({"type": "enabled", "budget_tokens": 24_576})
    );
    assert_eq!(
        r["tool_choice"]["type"], "auto",
        "forced tool use is not allowed with thinking"
    );
    let r = messages(&req, &claude(json!({"maxOutputTokens": 4096})));
    assert_eq!(r["thinking"]["budget_tokens"], 3072);
    let r = messages(&req, &claude(json!({"maxOutputTokens": 1500})));
    assert!(
        r.get("thinking").is_none(),
        "no room for a 1024-token budget"
    );
    assert_eq!(r["temperature"], 0.2);
    let r = messages(&req, &claude(json!({"model": "claude-3-5-haiku-latest"})));
    assert!(
        r.get("thinking").is_none(),
        "3.5 models have no extended thinking"
    );
}

fn history_with(reasoning_envelope: &str) -> ResponsesRequest {
    serde_json::from_value(json!({"model": "c", "reasoning": {"effort": "medium"}, "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}], "content": null, "encrypted_content": reasoning_envelope},
        {"type": "function_call", "id": "fc_1", "call_id": "toolu_1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "a.txt"}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}]})).unwrap()
}

#[test]
fn thinking_is_replayed_byte_identical_only_to_the_host_that_signed_it() {
    let mine = Thinking::Thinking {
        thinking: "Ünï \"x\"\n".into(),
        signature: SIG.into(),
        origin: Some("api.anthropic.com".into()),
    };
    let r = messages(&history_with(&mine.encode()), &claude(json!({})));
    let assistant = &r["messages"][1];
    assert_eq!(
        assistant["content"][0],
        json!({"type": "thinking", "thinking": "Ünï \"x\"\n", "signature": SIG})
    );
    assert_eq!(assistant["content"][1]["type"], "tool_use");
    assert!(r.get("thinking").is_some());
    // Signed elsewhere, or chat reasoning: dropped, and thinking turned off for this tool loop.
    for foreign in [
        Thinking::Thinking {
            thinking: "t".into(),
            signature: "S".into(),
            origin: Some("api.deepseek.com".into()),
        }
        .encode(),
        Thinking::chat("t").encode(),
        "gAAAAABopaque-openai-blob".to_string(),
    ] {
        let r = messages(&history_with(&foreign), &claude(json!({})));
        assert_eq!(r["messages"][1]["content"][0]["type"], "tool_use");
        assert!(r.get("thinking").is_none());
    }
}

#[test]
fn the_readme_claude_and_deepseek_entries_reach_their_messages_endpoints() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```json\n").unwrap() + 8;
    let doc = &readme[start..start + readme[start..].find("```").unwrap()];
    let models = Settings::parse_file(std::path::Path::new("README.md"), doc).unwrap();
    let url_of = |slug: &str| {
        let m = models
            .iter()
            .find(|m| m.slug == slug)
            .unwrap_or_else(|| panic!("{slug} not in the README example"));
        assert_eq!(m.provider, codex_shim::settings::Provider::Anthropic);
        codex_shim::settings::messages_url(&m.base_url)
    };
    assert_eq!(
        url_of("claude-sonnet-4-5"),
        "https://api.anthropic.com/v1/messages"
    );
    assert_eq!(
        url_of("deepseek-anthropic"),
        "https://api.deepseek.com/anthropic/v1/messages"
    );
    let claude = models
        .iter()
        .find(|m| m.slug == "claude-sonnet-4-5")
        .unwrap();
    assert!(
        claude.supports_reasoning_effort,
        "Claude Sonnet 4.5 gets extended thinking by default"
    );
    let deepseek = models
        .iter()
        .find(|m| m.slug == "deepseek-anthropic")
        .unwrap();
    assert!(
        !deepseek.supports_reasoning_effort,
        "no thinking parameter for endpoints that have not opted in"
    );
    assert_eq!(
        codex_shim::settings::messages_url("https://api.z.ai/api/anthropic"),
        "https://api.z.ai/api/anthropic/v1/messages"
    );
}
