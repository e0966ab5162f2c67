//! The real Codex CLI on every other route: Claude's thinking kept across a tool loop, a native
//! Responses model, GPT-5.5 on the ChatGPT passthrough, and auto-compaction mid-task on each BYOK
//! route.

mod common;

use common::codex::*;
use common::fake::{FakeUpstream, Reply};
use common::read_fixture;
use serde_json::{json, Value};

codex_e2e!(
    codex_keeps_claude_thinking_across_a_tool_loop,
    a_native_responses_model_keeps_custom_tools_and_reasoning_items,
    codex_runs_on_the_chatgpt_passthrough,
    codex_compacts_mid_task_on_every_byok_route_and_finishes,
);

async fn codex_keeps_claude_thinking_across_a_tool_loop(codex: Codex) {
    let up = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, json!({"models": [{"model": "claude-sonnet-4-5", "slug": "claude", "displayName": "Claude Sonnet 4.5",
        "provider": "anthropic", "baseUrl": format!("http://{}", up.addr), "apiKey": "${E2E_ANTHROPIC_KEY}"}]}).to_string()).unwrap();
    let thinking = [
        "The user wants the date. ",
        "I'll run `date`.\n\nÜnïcödé \"quoted\" \\ backslash.",
    ];
    let signature = "ErUBCkYIBxgCIkCT3ofVMYtT9JdmF/8w+fL9Bd2ZnTa9oT1X3lYg5q6Vz+N0m7qG5sQq0u0Hq6k2s5Y1hG9u3KxZ2T8q1K2/EgxJ0b5pQ==";
    up.push(Reply::sse(&thinking_then_tool_use(
        &thinking,
        signature,
        "toolu_e2e_date",
        "echo thinking-kept > proof.txt",
    )));
    up.push(Reply::sse(&anthropic_text(
        "The command ran; proof.txt is written.",
    )));

    let work = sb.path("work");
    let out = sb
        .shim(
            &settings,
            &[
                "codex",
                "exec",
                "--json",
                "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox",
                "-c",
                "analytics.enabled=false",
                "-C",
            ],
        )
        .arg(&work)
        .arg("What is the date? Write proof.txt.")
        .env("CODEX_SHIM_CODEX_BIN", &codex)
        .env("E2E_ANTHROPIC_KEY", "sk-ant-e2e")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("proof.txt is written"),
        "{}",
        show(&out)
    );
    assert_eq!(
        std::fs::read_to_string(work.join("proof.txt")).unwrap(),
        "thinking-kept\n"
    );
    // Codex's own usage report: Anthropic cache reads arrive as cached input tokens, and cache
    // reads count as input (900 + 1000 + 800 over the two requests).
    let usage = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "turn.completed")
        .map(|e| e["usage"].clone())
        .unwrap_or_else(|| panic!("no turn.completed event: {}", show(&out)));
    assert_eq!(
        (
            usage["input_tokens"].as_u64(),
            usage["cached_input_tokens"].as_u64()
        ),
        (Some(2700), Some(800)),
        "{usage}"
    );

    let reqs = up.requests();
    assert_eq!(reqs.len(), 2, "{}", show(&out));
    assert!(reqs
        .iter()
        .all(|r| r.path == "/v1/messages" && r.headers["x-api-key"] == "sk-ant-e2e"));
    assert!(
        reqs[0].body["thinking"]["budget_tokens"].as_u64().is_some(),
        "Codex's default effort turned thinking on"
    );
    // The second request replays the thinking block byte-identical, right before its tool_use,
    // and answers the tool_use in the next user turn.
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    let pos = msgs
        .iter()
        .position(|m| m["role"] == "assistant")
        .expect("an assistant turn");
    let content = msgs[pos]["content"].as_array().unwrap();
    assert_eq!(
        content[0],
        json!({"type": "thinking", "thinking": thinking.concat(), "signature": signature})
    );
    assert_eq!(
        (content[1]["type"].as_str(), content[1]["id"].as_str()),
        (Some("tool_use"), Some("toolu_e2e_date"))
    );
    assert_eq!(
        content[1]["input"],
        json!({"cmd": "echo thinking-kept > proof.txt"})
    );
    let result = &msgs[pos + 1]["content"][0];
    assert_eq!(
        (result["type"].as_str(), result["tool_use_id"].as_str()),
        (Some("tool_result"), Some("toolu_e2e_date"))
    );
    assert!(result["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Process exited with code 0"));
    assert!(
        reqs[1].body["thinking"].is_object(),
        "thinking stays on: the tool loop has its thinking block"
    );
}

async fn a_native_responses_model_keeps_custom_tools_and_reasoning_items(codex: Codex) {
    let up = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, json!([{"model": "o4-mini", "slug": "native-o4", "provider": "openai", "base_url": format!("http://{}/v1", up.addr),
        "apiKey": "sk-native", "wireApi": "responses", "supportsReasoningEffort": true}]).to_string()).unwrap();
    let reasoning = json!({"type": "reasoning", "id": "rs_upstream_1", "summary": [{"type": "summary_text", "text": "**Plan** write the file"}], "encrypted_content": "gAAAAB-upstream-encrypted-blob=="});
    let patch = json!({"type": "custom_tool_call", "id": "ctc_up_1", "call_id": "call_native_patch", "name": "apply_patch", "status": "completed",
        "input": "*** Begin Patch\n*** Add File: native.txt\n+written by a native custom tool\n*** End Patch\n"});
    up.push(Reply::sse(&responses_stream(
        &[reasoning.clone(), patch],
        500,
    )));
    up.push(Reply::sse(&responses_stream(
        &[message_item("native.txt is in place.")],
        600,
    )));
    let out = codex_exec(
        &sb,
        &settings,
        &codex,
        "native-o4",
        "Create native.txt.",
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("native.txt is in place."),
        "{}",
        show(&out)
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("work/native.txt")).unwrap(),
        "written by a native custom tool\n"
    );
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2, "{}", show(&out));
    assert!(reqs
        .iter()
        .all(|r| r.path == "/v1/responses" && r.body["model"] == "o4-mini"));
    let tool = reqs[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "apply_patch")
        .unwrap()
        .clone();
    assert_eq!(
        tool["type"], "custom",
        "apply_patch reaches the upstream as a native custom tool"
    );
    let input = reqs[1].body["input"].as_array().unwrap();
    let replayed = input
        .iter()
        .find(|i| i["type"] == "reasoning")
        .expect("the reasoning item comes back");
    assert_eq!(
        (
            replayed["id"].clone(),
            replayed["encrypted_content"].clone(),
            replayed["summary"].clone()
        ),
        (
            reasoning["id"].clone(),
            reasoning["encrypted_content"].clone(),
            reasoning["summary"].clone()
        )
    );
    let output = input
        .iter()
        .find(|i| i["type"] == "custom_tool_call_output")
        .unwrap();
    assert_eq!(output["call_id"], "call_native_patch");
}

async fn codex_runs_on_the_chatgpt_passthrough(codex: Codex) {
    let backend = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, "[]").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    use base64::Engine;
    let token = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.sig",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!(r#"{{"exp":{}}}"#, now + 3600))
    );
    std::fs::write(sb.path("codex-home/auth.json"), json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "last_refresh": "2099-01-01T00:00:00Z",
        "tokens": {"id_token": token, "access_token": token, "refresh_token": "r", "account_id": "acct-e2e"}}).to_string()).unwrap();
    backend.push(Reply::sse(&read_fixture(
        "codex-0.169/streams/ok-minimal.sse",
    )));
    backend.push(Reply::sse(&responses_stream(
        &[message_item("Passthrough answer.")],
        100,
    )));
    let base = format!("http://{}/backend-api/codex", backend.addr);
    // No -m: with no settings models, `codex-shim codex` picks GPT-5.5 on the ChatGPT login.
    let mut cmd = sb.shim(
        &settings,
        &[
            "codex",
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-c",
            "analytics.enabled=false",
            "-C",
        ],
    );
    cmd.arg(sb.path("work"))
        .arg("say something")
        .env("CODEX_SHIM_CODEX_BIN", &codex)
        .env("CODEX_SHIM_CHATGPT_BASE_URL", &base);
    let out = cmd.output().await.unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Passthrough answer."),
        "{}",
        show(&out)
    );
    let reqs = backend.requests();
    assert_eq!(reqs.len(), 2, "{}", show(&out));
    for r in &reqs {
        assert_eq!(r.path, "/backend-api/codex/responses");
        assert_eq!(r.headers["authorization"], format!("Bearer {token}"));
        assert_eq!(r.headers["chatgpt-account-id"], "acct-e2e");
        assert_eq!(r.body["model"], "gpt-5.5");
        assert!(
            r.headers.get("session-id").is_some(),
            "Codex's session header is forwarded"
        );
    }
    assert!(
        reqs[1].body["input"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["type"] == "function_call_output"),
        "the tool loop went through"
    );
    // GPT-5.5 keeps Codex's own metadata: its real prompt, not the shim's, and no upgrade nudge.
    let bundled = std::process::Command::new(&codex)
        .args(["debug", "models", "--bundled"])
        .env("CODEX_HOME", sb.path("codex-home"))
        .output()
        .unwrap();
    let bundled: Value = serde_json::from_slice(&bundled.stdout).unwrap();
    let theirs = bundled["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "gpt-5.5")
        .unwrap()
        .clone();
    let catalog: Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path("shim-home/catalog.json")).unwrap())
            .unwrap();
    let ours = catalog["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "gpt-5.5")
        .unwrap()
        .clone();
    assert_eq!(ours["base_instructions"], theirs["base_instructions"]);
    assert_eq!(ours["model_messages"], theirs["model_messages"]);
    assert!(ours["upgrade"].is_null() && ours["priority"] == 0);
    let first_prompt = reqs[0].body["input"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        first_prompt.len() > 5_000
            && !first_prompt.contains("through Codex. You and the user share one workspace"),
        "Codex sent its own GPT-5.5 prompt"
    );
}

async fn codex_compacts_mid_task_on_every_byok_route_and_finishes(codex: Codex) {
    const CMD: &str = "echo compacted-run > ran.txt";
    for route in ["chat", "anthropic", "responses"] {
        let up = FakeUpstream::start().await;
        let sb = Sandbox::new();
        let settings = sb.path("models.json");
        // A 2000-token window: Codex compacts once a turn reports 1600 tokens.
        let (provider, wire) = match route {
            "anthropic" => ("anthropic", "chat"),
            "responses" => ("openai", "responses"),
            _ => ("generic-chat-completion-api", "chat"),
        };
        let base = if route == "chat" {
            up.base_url()
        } else {
            format!("http://{}", up.addr)
        };
        std::fs::write(&settings, json!([{"model": "small-model", "slug": "small", "provider": provider, "base_url": base, "apiKey": "k",
            "maxContextLimit": 2000, "wireApi": wire}]).to_string()).unwrap();
        let summary = format!("SUMMARY-{route}: the command ran and wrote ran.txt.");
        match route {
            "chat" => {
                let call = json!({"tool_calls": [{"index": 0, "id": "call_c1", "type": "function", "function": {"name": "exec_command", "arguments": json!({"cmd": CMD}).to_string()}}]});
                let chunks = vec![
                    common::fake::sse_chunk(call, None),
                    common::fake::sse_chunk(json!({}), Some("tool_calls")),
                    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5000,\"completion_tokens\":10,\"total_tokens\":5010}}\n\n".into(),
                    "data: [DONE]\n\n".into(),
                ];
                up.push(Reply::Sse {
                    chunks,
                    delay: std::time::Duration::ZERO,
                });
                up.push(Reply::text(&[&summary]));
                up.push(Reply::text(&["Finished after compaction."]));
            }
            "anthropic" => {
                up.push(Reply::sse(&anthropic_tool_use("toolu_c1", CMD, 5000)));
                up.push(Reply::sse(&anthropic_small_text(&summary)));
                up.push(Reply::sse(&anthropic_small_text(
                    "Finished after compaction.",
                )));
            }
            _ => {
                let call = json!({"type": "function_call", "id": "fc_up_c1", "call_id": "call_c1", "name": "exec_command", "arguments": json!({"cmd": CMD}).to_string(), "status": "completed"});
                up.push(Reply::sse(&responses_stream(&[call], 5000)));
                up.push(Reply::sse(&responses_stream(
                    &[message_item(&summary)],
                    100,
                )));
                up.push(Reply::sse(&responses_stream(
                    &[message_item("Finished after compaction.")],
                    100,
                )));
            }
        }
        let out = codex_exec(
            &sb,
            &settings,
            &codex,
            "small",
            "Run the command, then report.",
            &[],
        )
        .await;
        assert!(out.status.success(), "{route}: {}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Finished after compaction."),
            "{route}: {}",
            show(&out)
        );
        assert_eq!(
            std::fs::read_to_string(sb.path("work/ran.txt")).unwrap(),
            "compacted-run\n",
            "{route}"
        );
        let reqs = up.requests();
        assert_eq!(reqs.len(), 3, "{route}: {}", show(&out));
        let compaction = reqs[1].body.to_string();
        assert!(
            compaction.contains("CONTEXT CHECKPOINT COMPACTION"),
            "{route}: the upstream saw the compaction request"
        );
        match route {
            "responses" => assert_eq!(reqs[1].body["tools"], json!([]), "{route}"),
            _ => assert!(
                reqs[1].body.get("tools").is_none(),
                "{route}: no tools, so tool history went as text"
            ),
        }
        assert!(
            compaction.contains("compacted-run"),
            "{route}: the tool history is in the compaction request"
        );
        assert!(
            reqs[2].body.to_string().contains(&summary),
            "{route}: the summary is in the next request"
        );
    }
}
