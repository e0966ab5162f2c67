//! Driving the real Codex CLI through the shim: every end-to-end scenario runs on each pinned
//! Codex release ([`CODEX_VERSIONS`], installed by `npm ci --prefix tests/e2e`), a sandbox per test
//! (its own HOME, CODEX_HOME, CODEX_SHIM_HOME and port), and the upstream streams the tests script.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

/// The Codex releases the end-to-end tests pin: the newest first, then one older. Each is an npm
/// alias `codex-<version>` in tests/e2e/package.json; [`codex_e2e!`] makes one test per version.
pub const CODEX_VERSIONS: [&str; 2] = ["0.171.0", "0.169.0"];

/// One pinned Codex CLI.
#[derive(Debug, Clone)]
pub struct Codex {
    pub version: &'static str,
    pub bin: PathBuf,
}

impl AsRef<Path> for Codex {
    fn as_ref(&self) -> &Path {
        &self.bin
    }
}

impl AsRef<std::ffi::OsStr> for Codex {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.bin.as_os_str()
    }
}

/// The pinned Codex `version`, or `None` (the test then says how to install it; CI requires it).
pub fn codex_bin(version: &'static str) -> Option<Codex> {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "tests/e2e/node_modules/codex-{version}/bin/codex.js"
    ));
    if bin.exists() {
        return Some(Codex { version, bin });
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the end-to-end tests: `npm ci --prefix tests/e2e` installs Codex {version}"
    );
    eprintln!("skipping: Codex {version} is not installed; run `npm ci --prefix tests/e2e`");
    None
}

/// Declares each `async fn scenario(codex: Codex)` as one test per pinned Codex release, named
/// `scenario::codex_0_171` and `scenario::codex_0_169` (`cargo test codex_0_171` runs one release).
#[macro_export]
macro_rules! codex_e2e {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread")]
            async fn codex_0_171() {
                if let Some(codex) = $crate::common::codex::codex_bin("0.171.0") {
                    super::$scenario(codex).await
                }
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn codex_0_169() {
                if let Some(codex) = $crate::common::codex::codex_bin("0.169.0") {
                    super::$scenario(codex).await
                }
            }
        }
    )+};
}

/// A sandbox: its own HOME, CODEX_HOME and CODEX_SHIM_HOME, and a free port.
pub struct Sandbox {
    pub root: tempfile::TempDir,
    pub port: u16,
}

impl Sandbox {
    pub fn new() -> Self {
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

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn shim(&self, settings: &Path, args: &[&str]) -> tokio::process::Command {
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

    /// Runs `codex-shim serve` (the real binary) in the sandbox with no proxy settings but `env`,
    /// and waits until it answers `/health`.
    pub async fn serve(&self, env: &[(&str, &str)]) -> (tokio::process::Child, String) {
        let mut cmd = self.shim(&self.path("models.json"), &["serve"]);
        for v in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
            cmd.env_remove(v).env_remove(v.to_uppercase());
        }
        let mut child = cmd
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{}", self.port);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let up = crate::common::fake::client()
                .get(format!("{base}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return (child, base);
            }
            if std::time::Instant::now() > deadline {
                child.start_kill().unwrap();
                let out = child.wait_with_output().await.unwrap();
                panic!("the shim did not come up: {}", show(&out));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
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

pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One Anthropic SSE event.
pub fn anthropic_event(kind: &str, mut body: Value) -> String {
    body["type"] = json!(kind);
    format!("event: {kind}\ndata: {body}\n\n")
}

/// A Messages stream: thinking (text + signature) then an `exec_command` tool_use.
pub fn thinking_then_tool_use(
    thinking: &[&str],
    signature: &str,
    tool_id: &str,
    cmd: &str,
) -> String {
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

pub fn anthropic_text(text: &str) -> String {
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

/// A Responses stream that commits `items` and completes with `input_tokens` of usage.
pub fn responses_stream(items: &[Value], input_tokens: u64) -> String {
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

pub fn message_item(text: &str) -> Value {
    json!({"type": "message", "id": "msg_up_final", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

/// Runs `codex exec PROMPT` through the shim in `sb` with `model`; returns Codex's output.
pub async fn codex_exec(
    sb: &Sandbox,
    settings: &Path,
    codex: &Codex,
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
        .env("CODEX_SHIM_CODEX_BIN", &codex.bin);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

/// A Messages stream with one `exec_command` tool_use, reporting `input_tokens`.
pub fn anthropic_tool_use(id: &str, cmd: &str, input_tokens: u64) -> String {
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
pub fn anthropic_small_text(text: &str) -> String {
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
