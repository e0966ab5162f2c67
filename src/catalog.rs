//! The model catalog Codex reads: `model_catalog_json` (written by `generate`) and `GET /v1/models`.
//!
//! Every entry has the fields Codex 0.169 requires (contract §2.2) plus the ones that shape a good
//! request: a context window (so auto-compaction works), `apply_patch_tool_type: "freeform"` (so the
//! apply_patch tool exists), token truncation, text-only modalities for `noImageSupport`, reasoning
//! levels only where the upstream takes `reasoning_effort`, and `use_responses_lite: false`.
//! Priorities follow the settings order, first row lowest (Codex sorts ascending). No key, header
//! or URL ever goes in: the catalog is written to disk and served to anyone who may ask.

use serde_json::{json, Value};

use crate::settings::{ModelConfig, Settings, WireApi};

/// The base instructions: the first developer message Codex sends for these models.
pub const BASE_INSTRUCTIONS: &str = include_str!("base_instructions.md");

/// The context window when the settings give none: known families, else a conservative 128k.
pub fn context_window(m: &ModelConfig) -> u64 {
    if let Some(c) = m.max_context_limit {
        return c;
    }
    let name = format!("{} {}", m.model, m.display_name).to_ascii_lowercase();
    if name.contains("gemini") {
        1_000_000
    } else if name.contains("gpt-5") || name.contains("gpt-4.1") {
        400_000
    } else if name.contains("claude") {
        200_000
    } else {
        128_000
    }
}

/// One catalog entry.
pub fn entry(m: &ModelConfig, priority: usize) -> Value {
    let window = context_window(m);
    let levels = if m.supports_reasoning_effort {
        json!([
            {"effort": "low", "description": "Faster, lighter reasoning"},
            {"effort": "medium", "description": "Balanced speed and reasoning"},
            {"effort": "high", "description": "Deeper reasoning"}
        ])
    } else {
        json!([])
    };
    let mut e = json!({
        "slug": m.slug,
        "display_name": m.display_name,
        "description": format!("{} via codex-shim ({} · {})", m.display_name, m.provider.as_str(), m.model),
        "supported_reasoning_levels": levels,
        "shell_type": "shell_command",
        "visibility": "list",
        "supported_in_api": true,
        "priority": priority,
        "base_instructions": BASE_INSTRUCTIONS,
        "support_verbosity": false,
        "default_reasoning_summary": "none",
        "supports_reasoning_summary_parameter": false,
        "apply_patch_tool_type": "freeform",
        "web_search_tool_type": "text",
        "truncation_policy": {"mode": "tokens", "limit": 10_000},
        "context_window": window,
        "max_context_window": window,
        "auto_compact_token_limit": window * 8 / 10,
        "experimental_supported_tools": [],
        "input_modalities": if m.no_image_support { json!(["text"]) } else { json!(["text", "image"]) },
        "supports_image_detail_original": false,
        "supports_search_tool": false,
        "use_responses_lite": false,
    });
    if m.supports_reasoning_effort {
        e["default_reasoning_level"] = json!("medium");
    }
    if m.wire_api == WireApi::Responses && m.provider.is_chat() && m.supports_reasoning_effort {
        // A native Responses upstream returns reasoning summaries; let Codex ask for them.
        e["default_reasoning_summary"] = json!("auto");
        e["supports_reasoning_summary_parameter"] = json!(true);
    }
    e
}

/// Where the installed Codex's own GPT-5.5 entry is cached (see [`refresh_passthrough_entry`]).
pub fn passthrough_cache(state_dir: &std::path::Path) -> std::path::PathBuf {
    state_dir.join("chatgpt-catalog-entry.json")
}

/// The ChatGPT entry: the installed Codex's own GPT-5.5 metadata (its real prompt and tools),
/// cached in `state_dir`, else the shim's own entry.
pub fn passthrough_entry_in(state_dir: &std::path::Path) -> Value {
    std::fs::read_to_string(passthrough_cache(state_dir))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(passthrough_entry)
}

/// Asks the installed Codex (`codex debug models --bundled`) for its GPT-5.5 entry and caches it,
/// adjusted for the shim: listed first, named as the subscription model, and without an
/// `upgrade` pointing at a model the shim does not serve. Nothing is copied into codex-shim; the
/// entry comes from the user's own Codex at run time. Returns false if Codex could not say.
pub fn refresh_passthrough_entry(codex_bin: &str, state_dir: &std::path::Path) -> bool {
    let probe_home = state_dir.join("codex-probe-home");
    let _ = std::fs::create_dir_all(&probe_home);
    let Ok(mut child) = std::process::Command::new(codex_bin)
        .args(["debug", "models", "--bundled"])
        .env("CODEX_HOME", &probe_home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return false;
    };
    // The catalog is larger than a pipe's buffer: read it while Codex writes, on a thread of its
    // own, so Codex never blocks on a full pipe; give up (and stop Codex) after 10 s.
    let mut stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        if let Some(s) = stdout.as_mut() {
            let _ = std::io::Read::read_to_string(s, &mut out);
        }
        let _ = tx.send(out);
    });
    let out = match rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok(out) => out,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
    };
    let _ = child.wait();
    let Some(mut entry) = serde_json::from_str::<Value>(&out).ok().and_then(|v| {
        v["models"]
            .as_array()?
            .iter()
            .find(|m| m["slug"] == crate::chatgpt::SLUG)
            .cloned()
    }) else {
        return false;
    };
    entry["priority"] = json!(0);
    entry["display_name"] = json!("GPT-5.5 (ChatGPT)");
    entry["visibility"] = json!("list");
    entry["upgrade"] = Value::Null;
    entry["availability_nux"] = Value::Null;
    write_atomic(&passthrough_cache(state_dir), entry.to_string().as_bytes()).is_ok()
}

/// The shim's own ChatGPT entry, used when the installed Codex cannot be asked.
pub fn passthrough_entry() -> Value {
    json!({
        "slug": crate::chatgpt::SLUG,
        "display_name": "GPT-5.5 (ChatGPT)",
        "description": "GPT-5.5 on your ChatGPT subscription (your Codex login), via codex-shim.",
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": [
            {"effort": "low", "description": "Faster, lighter reasoning"},
            {"effort": "medium", "description": "Balanced speed and reasoning"},
            {"effort": "high", "description": "Deeper reasoning"},
            {"effort": "xhigh", "description": "Maximum reasoning"}
        ],
        "shell_type": "shell_command",
        "visibility": "list",
        "supported_in_api": true,
        "priority": 0,
        "base_instructions": BASE_INSTRUCTIONS,
        "support_verbosity": true,
        "default_verbosity": "low",
        "default_reasoning_summary": "auto",
        "supports_reasoning_summary_parameter": true,
        "apply_patch_tool_type": "freeform",
        "web_search_tool_type": "text",
        "truncation_policy": {"mode": "tokens", "limit": 10_000},
        "context_window": 272_000,
        "max_context_window": 272_000,
        "auto_compact_token_limit": 244_800,
        "experimental_supported_tools": [],
        "input_modalities": ["text", "image"],
        "supports_image_detail_original": true,
        "supports_search_tool": false,
        "use_responses_lite": false,
    })
}

/// The whole catalog, `{"models": [...]}`: the ChatGPT entry first when there is one (a login
/// exists), then the settings models in order.
pub fn catalog(settings: &Settings, passthrough: Option<Value>) -> Value {
    let mut models: Vec<Value> = passthrough.into_iter().collect();
    models.extend(
        settings
            .models
            .iter()
            .enumerate()
            .map(|(i, m)| entry(m, i + 1)),
    );
    json!({ "models": models })
}

/// `GET /v1/models`: Codex's `ModelsResponse` plus the OpenAI list fields, so both kinds of client
/// can read it.
pub fn models_response(settings: &Settings, passthrough: Option<Value>) -> Value {
    let mut c = catalog(settings, passthrough);
    c["object"] = json!("list");
    let owner = |slug: &str| {
        if slug == crate::chatgpt::SLUG {
            "chatgpt"
        } else {
            "codex-shim"
        }
    };
    c["data"] = c["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["slug"].as_str())
        .map(|s| json!({"id": s, "object": "model", "created": 0, "owned_by": owner(s)}))
        .collect();
    c
}

/// Writes the catalog atomically (temp file + rename).
pub fn write(
    settings: &Settings,
    passthrough: Option<Value>,
    path: &std::path::Path,
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(&catalog(settings, passthrough))?;
    write_atomic(path, text.as_bytes())
}

/// Writes a file so a reader never sees it half-written (temp file, fsync, rename).
pub use crate::codex::config::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passthrough_entry_falls_back_to_the_shims_own() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!refresh_passthrough_entry("/nonexistent/codex", dir.path()));
        assert_eq!(passthrough_entry_in(dir.path()), passthrough_entry());
        let e = passthrough_entry();
        assert_eq!(
            (e["slug"].as_str(), e["priority"].as_u64()),
            (Some("gpt-5.5"), Some(0))
        );
        for field in [
            "display_name",
            "supported_reasoning_levels",
            "shell_type",
            "visibility",
            "supported_in_api",
            "support_verbosity",
            "truncation_policy",
            "experimental_supported_tools",
            "base_instructions",
        ] {
            assert!(e.get(field).is_some(), "required field {field}");
        }
    }
}
