//! End to end with the real Codex CLI: `codex-shim codex -- exec …` starts the shim in the
//! background and runs Codex through it against a fake chat upstream; the generated catalog is
//! accepted by the pinned Codex; an unknown model fails at once. Install the CLI first with
//! `npm ci --prefix tests/e2e` (`.ci/run` does).

mod common;

use std::path::PathBuf;

use common::codex::{show, Codex, Sandbox};
use common::fake::{FakeUpstream, Reply};
use serde_json::{json, Value};

codex_e2e!(
    codex_runs_a_full_agent_loop_through_the_shim,
    the_pinned_codex_accepts_the_generated_catalog,
    an_unknown_model_fails_at_once_with_a_readable_message,
);

const PATCH: &str = "*** Begin Patch\n*** Add File: hello.txt\n+hello from the shim\n+second \"line\" ünïcode\n*** End Patch\n";

async fn codex_runs_a_full_agent_loop_through_the_shim(codex: Codex) {
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

async fn the_pinned_codex_accepts_the_generated_catalog(codex: Codex) {
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
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(
            !stderr.contains("fallback") && !stderr.contains("catalog"),
            "Codex {} reads the catalog without a word: {}",
            codex.version,
            show(&out)
        );
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

async fn an_unknown_model_fails_at_once_with_a_readable_message(codex: Codex) {
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

/// The releases the tests name are the ones tests/e2e pins (and its lock file installs).
#[test]
fn the_pinned_codex_releases_are_the_ones_the_tests_name() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    let pkg: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("package.json")).unwrap()).unwrap();
    let mut pinned: Vec<(String, String)> = pkg["dependencies"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("codex-"))
        .map(|(k, v)| (k[6..].to_string(), v.as_str().unwrap().to_string()))
        .collect();
    pinned.sort();
    let mut named: Vec<(String, String)> = common::codex::CODEX_VERSIONS
        .iter()
        .map(|v| (v.to_string(), format!("npm:@openai/codex@{v}")))
        .collect();
    named.sort();
    assert_eq!(pinned, named);
    let lock = std::fs::read_to_string(root.join("package-lock.json")).unwrap();
    for v in common::codex::CODEX_VERSIONS {
        assert!(
            lock.contains(&format!("\"node_modules/codex-{v}\"")),
            "package-lock.json installs Codex {v}"
        );
    }
}
