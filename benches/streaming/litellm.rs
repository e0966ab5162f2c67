//! The optional comparison: LiteLLM's proxy (`pip install 'litellm[proxy]'`), whose
//! `/v1/responses` bridges to chat completions and Anthropic Messages as codex-shim does, in front
//! of the same fake upstream. Used when `BENCH_LITELLM` names its `litellm` executable or one is on
//! `PATH`; `BENCH_LITELLM=off` skips it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `litellm` executable to compare against, if any.
pub fn find() -> Option<PathBuf> {
    match std::env::var_os("BENCH_LITELLM") {
        Some(v) if v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("litellm"))
                .find(|p| p.is_file())
        }),
    }
}

/// The proxy's admin key, for this loopback run only.
pub const MASTER_KEY: &str = "sk-codex-shim-bench";

/// A running LiteLLM proxy with the two bench models, stopped on drop.
pub struct LiteLlm {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for LiteLlm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LiteLlm {
    /// The models have the same slugs as the shim's: `bench-chat` (chat completions, through
    /// LiteLLM's chat-completions bridge) and `bench-claude` (Anthropic Messages).
    pub async fn start(bin: &std::path::Path, upstream: SocketAddr) -> Result<LiteLlm, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = dir.path().join("litellm.yaml");
        std::fs::write(
            &config,
            format!(
                "model_list:
  - model_name: bench-chat
    litellm_params:
      model: openai/chat_completions/m
      api_base: http://{upstream}/v1
      api_key: k
  - model_name: bench-claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://{upstream}
      api_key: k
litellm_settings:
  drop_params: true
  telemetry: false
"
            ),
        )
        .map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new(bin)
            .args(["--config", config.to_str().unwrap_or_default()])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--num_workers", "1"])
            // No network: the model price list ships with the package.
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            // It refuses to start without a master key; requests then carry it.
            .env("LITELLM_MASTER_KEY", MASTER_KEY)
            .env("LITELLM_LOG", "ERROR")
            .env("HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let proxy = LiteLlm {
            child,
            port,
            _dir: dir,
        };
        let client = reqwest::Client::new();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(120) {
            let health = client
                .get(format!("http://127.0.0.1:{port}/health/liveliness"))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(proxy);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err("LiteLLM did not answer /health/liveliness within 120 s".into())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/responses", self.port)
    }
}
