//! End to end with the real Codex CLI (`@openai/codex@0.169.0`, pinned in `tests/e2e`).
//!
//! `codex-shim codex -- exec …` starts the shim in the background and runs Codex through it
//! against a fake chat upstream that scripts an `exec_command` call, an `apply_patch` call and a
//! final message. Install the CLI first with `npm ci --prefix tests/e2e` (`.ci/run` does).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::fake::{FakeUpstream, Reply};
use common::read_fixture;
use serde_json::{json, Value};

/// The pinned Codex binary, or `None` (the test then says how to install it; CI requires it).
fn codex_bin() -> Option<PathBuf> {
    let path = std::env::var_os("CODEX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/node_modules/.bin/codex")
        });
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the end-to-end tests: `npm ci --prefix tests/e2e` installs Codex"
    );
    eprintln!("skipping: the pinned Codex CLI is not installed; run `npm ci --prefix tests/e2e`");
    None
}

/// A sandbox: its own HOME, CODEX_HOME and CODEX_SHIM_HOME, and a free port.
struct Sandbox {
    root: tempfile::TempDir,
    port: u16,
}

impl Sandbox {
    fn new() -> Self {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let root = tempfile::Builder::new()
            .prefix("codex-shim-e2e")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        for d in ["home", "codex-home", "shim-home", "work"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        Sandbox { root, port }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn shim(&self, settings: &Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_codex-shim"));
        cmd.arg("--settings")
            .arg(settings)
            .arg("--port")
            .arg(self.port.to_string())
            .args(args);
        cmd.env("HOME", self.path("home"))
            .env("CODEX_HOME", self.path("codex-home"))
            .env("CODEX_SHIM_HOME", self.path("shim-home"))
            .env_remove("CODEX_SHIM_SETTINGS")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Stop the background shim this sandbox started (the pid file says which process it is).
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_codex-shim"))
            .args(["--port", &self.port.to_string(), "stop"])
            .env("CODEX_SHIM_HOME", self.path("shim-home"))
            .output();
    }
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const PATCH: &str = "*** Begin Patch\n*** Add File: hello.txt\n+hello from the shim\n+second \"line\" ünïcode\n*** End Patch\n";

#[tokio::test(flavor = "multi_thread")]
async fn codex_runs_a_full_agent_loop_through_the_shim() {
    let Some(codex) = codex_bin() else { return };
    let up = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, json!({"models": [{"model": "fake-chat-model", "slug": "e2e-model", "displayName": "E2E Model",
        "provider": "generic-chat-completion-api", "baseUrl": up.base_url(), "apiKey": "${E2E_UPSTREAM_KEY}"}]}).to_string()).unwrap();

    up.push(Reply::tool_call(
        "call_exec_1",
        "exec_command",
        &json!({"cmd": "echo ran-by-codex > ran.txt && echo done"}).to_string(),
    ));
    up.push(Reply::tool_call(
        "call_patch_1",
        "apply_patch",
        &json!({"input": PATCH}).to_string(),
    ));
    up.push(Reply::text(&["All ", "done: hello.txt created."]));

    let work = sb.path("work");
    let out = sb
        .shim(
            &settings,
            &[
                "codex",
                "--",
                "exec",
                "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox",
            ],
        )
        .args([
            "-c",
            "analytics.enabled=false",
            "-c",
            "check_for_update_on_startup=false",
            "-C",
        ])
        .arg(&work)
        .arg("Run a command, then create hello.txt, then report.")
        .env("CODEX_SHIM_CODEX_BIN", &codex)
        .env("E2E_UPSTREAM_KEY", "sk-e2e-key")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("All done: hello.txt created."),
        "{}",
        show(&out)
    );
    // The catalog gave Codex this model's metadata (the unknown-model test shows the warning can appear).
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("fallback metadata"),
        "{}",
        show(&out)
    );

    // (a) the command ran, (b) the patch created the file, byte for byte.
    assert_eq!(
        std::fs::read_to_string(work.join("ran.txt")).unwrap(),
        "ran-by-codex\n"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("hello.txt")).unwrap(),
        "hello from the shim\nsecond \"line\" ünïcode\n"
    );

    // The upstream saw each tool's output in the follow-up request.
    let reqs = up.requests();
    assert_eq!(reqs.len(), 3, "{}", show(&out));
    assert!(reqs
        .iter()
        .all(|r| r.headers["authorization"] == "Bearer sk-e2e-key"
            && r.body["model"] == "fake-chat-model"));
    let tool_msg = |r: &Value, id: &str| -> String {
        let msgs = r["messages"].as_array().unwrap();
        let m = msgs
            .iter()
            .find(|m| m["role"] == "tool" && m["tool_call_id"] == id)
            .unwrap_or_else(|| panic!("no tool result for {id}: {r}"));
        m["content"].as_str().unwrap().to_string()
    };
    let exec_out = tool_msg(&reqs[1].body, "call_exec_1");
    assert!(
        exec_out.contains("Process exited with code 0") && exec_out.contains("done"),
        "{exec_out}"
    );
    let patch_out = tool_msg(&reqs[2].body, "call_patch_1");
    assert!(patch_out.contains("hello.txt"), "{patch_out}");
    // The patch call went back to the upstream as the same JSON function call it made.
    let assistant = reqs[2].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "assistant")
        .unwrap();
    let args: Value = serde_json::from_str(
        assistant["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args["input"], PATCH);
    // The tools Codex declared reached the upstream as functions, apply_patch included.
    let names: Vec<&str> = reqs[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"exec_command") && names.contains(&"apply_patch"),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pinned_codex_accepts_the_generated_catalog() {
    let Some(codex) = codex_bin() else { return };
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, json!({"models": [
        "llama3.2",
        {"model": "deepseek-chat", "provider": "openai", "base_url": "https://api.deepseek.com", "api_key": "${DEEPSEEK_API_KEY}", "maxContextLimit": 64000},
        {"model": "gemini-2.5-pro", "displayName": "Gemini Pro", "provider": "generic-chat-completion-api", "baseUrl": "https://generativelanguage.googleapis.com/v1beta/openai", "noImageSupport": true},
        {"model": "gpt-5.1", "provider": "openai", "apiKey": "sk-literal-secret-999"},
        {"model": "gpt-6-sol", "provider": "openai", "base_url": "https://openrouter.ai/api/v1"}
    ]}).to_string()).unwrap();
    let out = sb.shim(&settings, &["generate"]).output().await.unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let catalog = PathBuf::from(String::from_utf8(out.stdout.clone()).unwrap().trim());
    assert!(
        catalog.starts_with(sb.path("shim-home")),
        "{}",
        catalog.display()
    );
    let text = std::fs::read_to_string(&catalog).unwrap();
    assert!(
        !text.contains("sk-literal-secret-999") && !text.contains("DEEPSEEK_API_KEY"),
        "no secret in the catalog"
    );
    let ours: Value = serde_json::from_str(&text).unwrap();
    let slugs: Vec<&str> = ours["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        [
            "llama3-2",
            "deepseek-chat",
            "gemini-2-5-pro",
            "gpt-5-1",
            "shim-gpt-6-sol"
        ]
    );

    {
        let out = tokio::process::Command::new(&codex)
            .args(["debug", "models", "-c"])
            .arg(format!(
                "model_catalog_json={}",
                codex_shim::codex::toml_string(&catalog.to_string_lossy())
            ))
            .env("CODEX_HOME", sb.path("codex-home"))
            .env("HOME", sb.path("home"))
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let listed: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));
        let models = listed["models"].as_array().unwrap();
        let got: Vec<&str> = models.iter().map(|m| m["slug"].as_str().unwrap()).collect();
        assert_eq!(got, slugs, "Codex lists every model, in settings order");
        let gem = models
            .iter()
            .find(|m| m["slug"] == "gemini-2-5-pro")
            .unwrap();
        assert_eq!(gem["input_modalities"], json!(["text"]));
        assert_eq!(gem["apply_patch_tool_type"], "freeform");
        assert_eq!(gem["context_window"], 1_000_000);
        let ds = models
            .iter()
            .find(|m| m["slug"] == "deepseek-chat")
            .unwrap();
        assert_eq!(ds["context_window"], 64_000);
        let gpt = models.iter().find(|m| m["slug"] == "gpt-5-1").unwrap();
        assert_eq!(
            gpt["default_reasoning_level"], "medium",
            "OpenAI's own API takes reasoning_effort"
        );
        assert!(models.iter().all(|m| m["use_responses_lite"] == false));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_model_fails_at_once_with_a_readable_message() {
    let Some(codex) = codex_bin() else { return };
    let up = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(
        &settings,
        json!([{"model": "m", "provider": "openai", "base_url": up.base_url()}]).to_string(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = sb
        .shim(
            &settings,
            &[
                "codex",
                "-m",
                "not-configured",
                "exec",
                "--skip-git-repo-check",
                "-c",
                "analytics.enabled=false",
                "hello",
            ],
        )
        .env("CODEX_SHIM_CODEX_BIN", &codex)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success(), "{}", show(&out));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("fallback metadata"),
        "Codex warns for a model outside the catalog: {}",
        show(&out)
    );
    assert!(
        all.contains("unknown model `not-configured`") && all.contains("configured models: m"),
        "{}",
        show(&out)
    );
    assert!(
        !all.contains("Reconnecting"),
        "a 400 is final: Codex must not retry: {}",
        show(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(up.requests().is_empty());
}

/// One Anthropic SSE event.
fn anthropic_event(kind: &str, mut body: Value) -> String {
    body["type"] = json!(kind);
    format!("event: {kind}\ndata: {body}\n\n")
}

/// A Messages stream: thinking (text + signature) then an `exec_command` tool_use.
fn thinking_then_tool_use(thinking: &[&str], signature: &str, tool_id: &str, cmd: &str) -> String {
    let mut s = anthropic_event(
        "message_start",
        json!({"message": {"id": "msg_e2e_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5", "usage": {"input_tokens": 900, "output_tokens": 1}}}),
    );
    s += &anthropic_event(
        "content_block_start",
        json!({"index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
    );
    for t in thinking {
        s += &anthropic_event(
            "content_block_delta",
            json!({"index": 0, "delta": {"type": "thinking_delta", "thinking": t}}),
        );
    }
    s += &anthropic_event(
        "content_block_delta",
        json!({"index": 0, "delta": {"type": "signature_delta", "signature": signature}}),
    );
    s += &anthropic_event("content_block_stop", json!({"index": 0}));
    s += &anthropic_event(
        "content_block_start",
        json!({"index": 1, "content_block": {"type": "tool_use", "id": tool_id, "name": "exec_command", "input": {}}}),
    );
    let args = json!({"cmd": cmd}).to_string();
    let (a, b) = args.split_at(args.len() / 2);
    for piece in [a, b] {
        s += &anthropic_event(
            "content_block_delta",
            json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": piece}}),
        );
    }
    s += &anthropic_event("content_block_stop", json!({"index": 1}));
    s += &anthropic_event(
        "message_delta",
        json!({"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 80}}),
    );
    s + &anthropic_event("message_stop", json!({}))
}

fn anthropic_text(text: &str) -> String {
    let mut s = anthropic_event(
        "message_start",
        json!({"message": {"id": "msg_e2e_2", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5", "usage": {"input_tokens": 1000, "cache_read_input_tokens": 800, "output_tokens": 1}}}),
    );
    s += &anthropic_event(
        "content_block_start",
        json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    s += &anthropic_event(
        "content_block_delta",
        json!({"index": 0, "delta": {"type": "text_delta", "text": text}}),
    );
    s += &anthropic_event("content_block_stop", json!({"index": 0}));
    s += &anthropic_event(
        "message_delta",
        json!({"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 12}}),
    );
    s + &anthropic_event("message_stop", json!({}))
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_keeps_claude_thinking_across_a_tool_loop() {
    let Some(codex) = codex_bin() else { return };
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

// ---- native Responses upstreams, the ChatGPT passthrough, and compaction on every route ----

/// A Responses stream that commits `items` and completes with `input_tokens` of usage.
fn responses_stream(items: &[Value], input_tokens: u64) -> String {
    let mut evs = vec![
        json!({"type": "response.created", "response": {"id": "resp_fake", "model": "upstream-model", "status": "in_progress", "output": []}}),
    ];
    for (i, item) in items.iter().enumerate() {
        evs.push(json!({"type": "response.output_item.added", "output_index": i, "item": item}));
        evs.push(json!({"type": "response.output_item.done", "output_index": i, "item": item}));
    }
    let usage = json!({"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": input_tokens + 10});
    evs.push(json!({"type": "response.completed", "response": {"id": "resp_fake", "model": "upstream-model", "status": "completed", "output": items, "usage": usage}}));
    evs.iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

fn message_item(text: &str) -> Value {
    json!({"type": "message", "id": "msg_up_final", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

/// Runs `codex exec PROMPT` through the shim in `sb` with `model`; returns Codex's output.
async fn codex_exec(
    sb: &Sandbox,
    settings: &Path,
    codex: &Path,
    model: &str,
    prompt: &str,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = sb.shim(
        settings,
        &[
            "codex",
            "-m",
            model,
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-c",
            "analytics.enabled=false",
            "-C",
        ],
    );
    cmd.arg(sb.path("work"))
        .arg(prompt)
        .env("CODEX_SHIM_CODEX_BIN", codex);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_native_responses_model_keeps_custom_tools_and_reasoning_items() {
    let Some(codex) = codex_bin() else { return };
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

#[tokio::test(flavor = "multi_thread")]
async fn codex_runs_on_the_chatgpt_passthrough() {
    let Some(codex) = codex_bin() else { return };
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
}

/// A Messages stream with one `exec_command` tool_use, reporting `input_tokens`.
fn anthropic_tool_use(id: &str, cmd: &str, input_tokens: u64) -> String {
    let mut s = anthropic_event(
        "message_start",
        json!({"message": {"id": "msg_t", "type": "message", "role": "assistant", "content": [], "model": "m", "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}),
    );
    s += &anthropic_event(
        "content_block_start",
        json!({"index": 0, "content_block": {"type": "tool_use", "id": id, "name": "exec_command", "input": {}}}),
    );
    s += &anthropic_event(
        "content_block_delta",
        json!({"index": 0, "delta": {"type": "input_json_delta", "partial_json": json!({"cmd": cmd}).to_string()}}),
    );
    s += &anthropic_event("content_block_stop", json!({"index": 0}));
    s += &anthropic_event(
        "message_delta",
        json!({"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}}),
    );
    s + &anthropic_event("message_stop", json!({}))
}

/// A Messages stream with one text block and small usage.
fn anthropic_small_text(text: &str) -> String {
    let mut s = anthropic_event(
        "message_start",
        json!({"message": {"id": "msg_s", "type": "message", "role": "assistant", "content": [], "model": "m", "usage": {"input_tokens": 100, "output_tokens": 1}}}),
    );
    s += &anthropic_event(
        "content_block_start",
        json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    s += &anthropic_event(
        "content_block_delta",
        json!({"index": 0, "delta": {"type": "text_delta", "text": text}}),
    );
    s += &anthropic_event("content_block_stop", json!({"index": 0}));
    s += &anthropic_event(
        "message_delta",
        json!({"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}}),
    );
    s + &anthropic_event("message_stop", json!({}))
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_compacts_mid_task_on_every_byok_route_and_finishes() {
    let Some(codex) = codex_bin() else { return };
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

#[tokio::test(flavor = "multi_thread")]
async fn enable_and_model_use_make_plain_codex_use_the_shim_and_disable_restores_the_config() {
    let Some(codex) = codex_bin() else { return };
    let up = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, json!([
        {"model": "first-upstream", "slug": "first", "provider": "generic-chat-completion-api", "base_url": up.base_url()},
        {"model": "chosen-upstream", "displayName": "The Chosen One", "provider": "generic-chat-completion-api", "base_url": up.base_url()}]).to_string()).unwrap();
    let original = "# my settings\r\nmodel = \"o3\"   # keep me\r\nmodel_reasoning_effort = \"low\"\r\n\r\n[profiles.old]\r\nmodel = \"o4-mini\"\r\n\r\n[model_providers.mine]\r\nname = \"Mine\"\r\nbase_url = \"http://127.0.0.1:1/v1\"\r\n";
    let config = sb.path("codex-home/config.toml");
    std::fs::write(&config, original).unwrap();
    let shim = |args: &[&str]| {
        let mut c = sb.shim(&settings, args);
        c.env("CODEX_SHIM_CODEX_BIN", &codex);
        c
    };
    let out = shim(&["enable"]).output().await.unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let out = shim(&["model", "use", "chosen one"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("`chosen-upstream`"),
        "{}",
        show(&out)
    );
    let out = shim(&["model", "list"]).output().await.unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("* chosen-upstream"),
        "{}",
        show(&out)
    );

    // Plain Codex: no -c flags, only its own config.toml.
    up.push(Reply::tool_call(
        "call_plain_1",
        "exec_command",
        &json!({"cmd": "echo plain > plain.txt"}).to_string(),
    ));
    up.push(Reply::text(&["Plain Codex used the shim."]));
    let out = tokio::process::Command::new(&codex)
        .args([
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
        ])
        .arg(sb.path("work"))
        .arg("Write plain.txt")
        .env("CODEX_HOME", sb.path("codex-home"))
        .env("HOME", sb.path("home"))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Plain Codex used the shim."),
        "{}",
        show(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("fallback metadata"),
        "{}",
        show(&out)
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("work/plain.txt")).unwrap(),
        "plain\n"
    );
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter().all(|r| r.body["model"] == "chosen-upstream"),
        "the chosen model served the turn"
    );

    let out = shim(&["disable"]).output().await.unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "config.toml is byte-identical to before"
    );
    assert_eq!(
        shim(&["status"]).output().await.unwrap().status.code(),
        Some(1),
        "disable stopped the shim"
    );
}
