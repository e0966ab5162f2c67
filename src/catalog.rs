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

/// The ChatGPT passthrough's entry: GPT-5.5 on the user's subscription.
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

/// The whole catalog, `{"models": [...]}`: the ChatGPT entry first when `passthrough` (a login
/// exists), then the settings models in order.
pub fn catalog(settings: &Settings, passthrough: bool) -> Value {
    let mut models: Vec<Value> = passthrough.then(passthrough_entry).into_iter().collect();
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
pub fn models_response(settings: &Settings, passthrough: bool) -> Value {
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
    passthrough: bool,
    path: &std::path::Path,
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(&catalog(settings, passthrough))?;
    write_atomic(path, text.as_bytes())
}

/// Writes a file so a reader never sees it half-written.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
