//! Launching the Codex CLI against the shim.
//!
//! `codex-shim codex ARGS` runs `codex` with `-c` overrides that point a custom provider at the
//! local server, pin the catalog (`model_catalog_json`, so names never fall back to bundled
//! metadata) and pick the model, then passes every argument through. Loopback is added to
//! `NO_PROXY`/`no_proxy` so a corporate proxy never intercepts the local hop.
//!
//! [`config`] edits Codex's `config.toml` for `enable`, `model use` and `disable`.

pub mod config;

use std::path::Path;

/// The Codex provider id the shim configures.
pub const PROVIDER_ID: &str = "codex_shim";
/// Its display name: never `OpenAI`, `Azure` or `Amazon Bedrock`, which change Codex's payload.
pub const PROVIDER_NAME: &str = "Codex Shim";

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// True if the user's arguments already choose a model.
pub fn args_choose_model(args: &[String]) -> bool {
    args.iter().any(|a| {
        a == "-m"
            || a == "--model"
            || a.starts_with("--model=")
            || (a.starts_with("-m") && a.len() > 2 && !a.starts_with("--"))
    })
}

/// The `-c` overrides, then the user's arguments.
pub fn codex_args(
    port: u16,
    catalog: &Path,
    model: Option<&str>,
    user_args: &[String],
) -> Vec<String> {
    let provider = format!(
        "model_providers.{PROVIDER_ID}={{name={},base_url={},wire_api=\"responses\",request_max_retries=4,stream_max_retries=5,stream_idle_timeout_ms=300000}}",
        toml_string(PROVIDER_NAME),
        toml_string(&format!("http://127.0.0.1:{port}/v1")),
    );
    let mut overrides = vec![
        format!("model_provider={}", toml_string(PROVIDER_ID)),
        provider,
        format!(
            "model_catalog_json={}",
            toml_string(&catalog.to_string_lossy())
        ),
        // Chat upstreams cannot run OpenAI's hosted web search.
        "web_search=\"disabled\"".to_string(),
    ];
    if let Some(m) = model.filter(|_| !args_choose_model(user_args)) {
        overrides.insert(0, format!("model={}", toml_string(m)));
    }
    let mut args: Vec<String> = overrides
        .into_iter()
        .flat_map(|o| ["-c".to_string(), o])
        .collect();
    let user = match user_args.first().map(String::as_str) {
        Some("--") => &user_args[1..],
        _ => user_args,
    };
    args.extend(user.iter().cloned());
    args
}

/// `existing` (a comma list) plus whichever loopback names it lacks.
pub fn with_loopback(existing: &str) -> String {
    let mut entries: Vec<String> = existing
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect();
    for host in ["127.0.0.1", "localhost", "::1"] {
        if !entries.iter().any(|e| e.eq_ignore_ascii_case(host)) {
            entries.push(host.to_string());
        }
    }
    entries.join(",")
}

/// `NO_PROXY` and `no_proxy` values: the union of both, plus loopback.
pub fn no_proxy_env(upper: Option<&str>, lower: Option<&str>) -> String {
    with_loopback(&[upper.unwrap_or_default(), lower.unwrap_or_default()].join(","))
}

/// The Codex binary: `CODEX_SHIM_CODEX_BIN`, else `codex` on `PATH`.
pub fn codex_binary() -> String {
    crate::paths::non_empty_env("CODEX_SHIM_CODEX_BIN").unwrap_or_else(|| "codex".to_string())
}

/// Replaces this process with Codex (Unix) or runs it and returns its exit code.
pub fn exec_codex(args: &[String]) -> anyhow::Result<i32> {
    let bin = codex_binary();
    let no_proxy = no_proxy_env(
        std::env::var("NO_PROXY").ok().as_deref(),
        std::env::var("no_proxy").ok().as_deref(),
    );
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(args)
        .env("NO_PROXY", &no_proxy)
        .env("no_proxy", &no_proxy);
    let not_found = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("`{bin}` was not found. Install Codex with `npm install -g @openai/codex`, or set CODEX_SHIM_CODEX_BIN to its path.")
        } else {
            anyhow::anyhow!("cannot run `{bin}`: {e}")
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(not_found(cmd.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().map_err(not_found)?;
        Ok(status.code().unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_then_user_args() {
        let user: Vec<String> = ["--", "exec", "hi"].iter().map(|s| s.to_string()).collect();
        let args = codex_args(
            9000,
            Path::new("/s/catalog \"x\".json"),
            Some("kimi"),
            &user,
        );
        assert_eq!(args[0..2], ["-c".to_string(), "model=\"kimi\"".to_string()]);
        assert!(args.contains(&"model_provider=\"codex_shim\"".to_string()));
        assert!(args
            .iter()
            .any(|a| a.contains("base_url=\"http://127.0.0.1:9000/v1\"")
                && a.contains("name=\"Codex Shim\"")));
        assert!(args.contains(&"model_catalog_json=\"/s/catalog \\\"x\\\".json\"".to_string()));
        assert_eq!(
            args[args.len() - 2..],
            ["exec".to_string(), "hi".to_string()]
        );
        // A model chosen by the user is not overridden.
        let user: Vec<String> = ["-m", "other", "exec"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(!codex_args(1, Path::new("/c"), Some("kimi"), &user)
            .iter()
            .any(|a| a.starts_with("model=")));
    }

    #[test]
    fn no_proxy_gets_loopback_and_the_union() {
        assert_eq!(
            no_proxy_env(Some("example.com,localhost"), None),
            "example.com,localhost,127.0.0.1,::1"
        );
        assert_eq!(
            no_proxy_env(Some("a.com"), Some("b.com, ")),
            "a.com,b.com,127.0.0.1,localhost,::1"
        );
        assert_eq!(no_proxy_env(None, None), "127.0.0.1,localhost,::1");
    }
}
