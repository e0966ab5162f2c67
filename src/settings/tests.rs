use std::path::Path;

use serde_json::json;

use super::*;

fn parse(v: serde_json::Value) -> Result<Vec<ModelConfig>, SettingsError> {
    Settings::parse_file(Path::new("/x/models.json"), &v.to_string())
}

fn slugs(v: serde_json::Value) -> Vec<String> {
    parse(v).unwrap().into_iter().map(|m| m.slug).collect()
}

#[test]
fn every_top_level_shape_loads() {
    let row = json!({"model": "m", "provider": "openai", "base_url": "https://h/v1"});
    for doc in [
        json!([row]),
        json!({"models": [row]}),
        json!({"customModels": [row]}),
        json!({"launchModels": [row]}),
        json!({"launch_models": [row]}),
    ] {
        assert_eq!(parse(doc.clone()).unwrap().len(), 1, "{doc}");
    }
    // A Factory settings file with no custom models is not an error.
    assert!(parse(json!({"theme": "dark"})).unwrap().is_empty());
    assert!(parse(json!({"models": "nope"}))
        .unwrap_err()
        .message
        .contains("`models` must be a list"));
}

#[test]
fn camel_and_snake_case_fields_mean_the_same() {
    let camel = parse(json!({"customModels": [{
        "model": "kimi-k2", "displayName": "Kimi K2", "baseUrl": "https://api.moonshot.ai/v1/",
        "apiKey": "k", "provider": "generic-chat-completion-api", "maxOutputTokens": 16384,
        "maxContextLimit": 200000, "noImageSupport": true, "extraHeaders": {"X-Title": "codex", "X-N": 3, "X-Null": null},
        "supportsReasoningEffort": "true"
    }]}))
    .unwrap();
    let snake = parse(json!({"models": [{
        "model": "kimi-k2", "display_name": "Kimi K2", "base_url": "https://api.moonshot.ai/v1",
        "api_key": "k", "provider": "generic-chat-completion-api", "max_output_tokens": 16384,
        "max_context_limit": 200000, "no_image_support": true, "extra_headers": {"X-Title": "codex", "X-N": "3"},
        "supports_reasoning_effort": true
    }]}))
    .unwrap();
    assert_eq!(camel[0].base_url, "https://api.moonshot.ai/v1");
    assert_eq!(
        camel[0].extra_headers,
        vec![
            ("X-Title".into(), "codex".into()),
            ("X-N".into(), "3".into())
        ]
    );
    assert_eq!(camel, snake);
    assert_eq!(camel[0].slug, "kimi-k2");
    assert!(camel[0].no_image_support && camel[0].supports_reasoning_effort);
}

#[test]
fn booleans_are_strict() {
    let row =
        |v: serde_json::Value| json!([{"model": "m", "provider": "ollama", "noImageSupport": v}]);
    assert!(!parse(row(json!("false"))).unwrap()[0].no_image_support);
    assert!(!parse(row(json!(false))).unwrap()[0].no_image_support);
    assert!(!parse(row(json!(null))).unwrap()[0].no_image_support);
    let err = parse(row(json!("no"))).unwrap_err();
    assert_eq!(
        (err.index, err.field.as_deref()),
        (Some(0), Some("noImageSupport"))
    );
    assert!(err
        .to_string()
        .starts_with("/x/models.json: model #0, field `noImageSupport`: expected true or false"));
    assert!(parse(row(json!(1))).is_err());
}

#[test]
fn bad_fields_name_file_index_and_field() {
    let err = parse(json!({"models": [
        {"model": "ok", "provider": "ollama"},
        {"model": "bad", "provider": "opneai", "base_url": "https://x"}
    ]}))
    .unwrap_err();
    assert_eq!(err.index, Some(1));
    assert_eq!(err.field.as_deref(), Some("provider"));
    assert!(err.message.contains("unknown provider \"opneai\""), "{err}");

    let err = parse(json!([{"provider": "openai"}])).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("model"));
    let err =
        parse(json!([{"model": "x", "provider": "generic-chat-completion-api"}])).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("base_url"));
    let err = parse(json!([{"model": "x", "base_url": "https://api.example.com/v1"}])).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("provider"));
    let err = parse(json!([{"model": "x", "provider": "ollama", "maxOutputTokens": "lots"}]))
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("maxOutputTokens"));
    let err =
        parse(json!([{"model": "x", "provider": "ollama", "extraHeaders": {"bad header": "v"}}]))
            .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("extraHeaders.bad header"));
    let err = Settings::parse_file(Path::new("/x/m.json"), "{ nope").unwrap_err();
    assert!(
        err.to_string().starts_with("/x/m.json: not valid JSON"),
        "{err}"
    );
}

#[test]
fn ollama_shorthand_and_heuristics() {
    let models = parse(json!({"launchModels": ["llama3.2",
        {"model": "qwen2.5-coder:14b", "provider": "ollama"},
        {"model": "deepseek-r1", "name": "DeepSeek R1", "baseURL": "http://localhost:11434/v1"}]}))
    .unwrap();
    let got: Vec<_> = models
        .iter()
        .map(|m| (m.slug.as_str(), m.provider, m.base_url.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("llama3-2", Provider::Ollama, OLLAMA_BASE_URL),
            ("qwen2-5-coder-14b", Provider::Ollama, OLLAMA_BASE_URL),
            ("deepseek-r1", Provider::Ollama, "http://localhost:11434/v1"),
        ]
    );
    assert_eq!(models[2].display_name, "DeepSeek R1");
    // An explicit provider wins over the URL heuristic.
    let m = parse(
        json!([{"model": "x", "provider": "openai", "base_url": "http://ollama.lan:11434/v1"}]),
    )
    .unwrap();
    assert_eq!(m[0].provider, Provider::OpenAi);
}

#[test]
fn slugs_are_readable_unique_and_avoid_bundled_prefixes() {
    assert_eq!(slugify("qwen2.5-coder:14b"), "qwen2-5-coder-14b");
    assert_eq!(slugify("openai/gpt-5.5-codex"), "openai-gpt-5-5-codex");
    assert_eq!(slugify("  !!  "), "model");
    assert_eq!(slugify("gpt-6-sol"), "shim-gpt-6-sol");
    assert_eq!(slugify("GPT-Daybreak-X"), "shim-gpt-daybreak-x");
    assert_eq!(slugify("codex-auto-review-2"), "shim-codex-auto-review-2");
    let same = |d: &str| json!({"model": "m", "provider": "ollama", "display_name": d});
    assert_eq!(
        slugs(json!([same("Fast High"), same("Fast Low")])),
        vec!["fast-high", "fast-low"]
    );
    assert_eq!(
        slugs(json!([same("A"), same("A"), same("A")])),
        vec!["a", "a-2", "a-3"]
    );
    assert_eq!(
        slugs(json!([{"model": "m", "provider": "ollama", "slug": "My Pick"}])),
        vec!["my-pick"]
    );
    // The passthrough alias stays free for the ChatGPT route.
    assert_eq!(slugs(json!(["openai/gpt-5.5"])), vec!["openai-gpt-5-5-2"]);
    // Stable: the same file gives the same slugs.
    let doc = json!(["a.b", "a b", {"model": "a_b", "provider": "ollama"}]);
    assert_eq!(slugs(doc.clone()), slugs(doc.clone()));
    assert_eq!(slugs(doc), vec!["a-b", "a-b-2", "a-b-3"]);
}

#[test]
fn explicit_file_must_exist_defaults_may_not() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = Settings::load(&SettingsSource::Explicit(missing.clone())).unwrap_err();
    assert!(err.to_string().contains("settings file not found"), "{err}");
    let s = Settings::load(&SettingsSource::Defaults(vec![missing.clone()])).unwrap();
    assert!(s.models.is_empty());
    assert_eq!(
        s.sources,
        vec![SourceInfo {
            path: missing,
            models: None
        }]
    );
}

#[test]
fn shim_file_wins_a_slug_clash_with_factory() {
    let dir = tempfile::tempdir().unwrap();
    let factory = dir.path().join("settings.json");
    let shim = dir.path().join("models.json");
    std::fs::write(
        &factory,
        json!({"customModels": [
            {"model": "glm-4.6", "provider": "generic-chat-completion-api", "baseUrl": "https://api.z.ai/api/paas/v4"},
            {"model": "kimi", "provider": "openai", "baseUrl": "https://f/v1"}]})
        .to_string(),
    )
    .unwrap();
    std::fs::write(&shim, json!({"models": [{"model": "kimi", "provider": "openai", "base_url": "https://s/v1"}, "llama3"]}).to_string())
        .unwrap();
    let s = Settings::load(&SettingsSource::Defaults(vec![factory, shim.clone()])).unwrap();
    assert_eq!(s.slugs(), vec!["glm-4-6", "kimi", "llama3"]);
    assert_eq!(s.find("kimi").unwrap().base_url, "https://s/v1");
    assert_eq!(s.find("kimi").unwrap().source, shim);
    assert_eq!(
        s.find("glm-4.6").unwrap().slug,
        "glm-4-6",
        "lookup by upstream model name"
    );
    assert!(s.find("nope").is_none());
    assert!(s.slugs_unique());
}

#[test]
fn url_joining_keeps_old_settings_and_fixes_versioned_bases() {
    for (base, want) in [
        (
            "https://api.deepseek.com/v1",
            "https://api.deepseek.com/v1/chat/completions",
        ),
        (
            "https://api.deepseek.com",
            "https://api.deepseek.com/v1/chat/completions",
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        ),
        (
            "https://api.z.ai/api/paas/v4",
            "https://api.z.ai/api/paas/v4/chat/completions",
        ),
        (
            "https://openrouter.ai/api/v1",
            "https://openrouter.ai/api/v1/chat/completions",
        ),
        (
            "http://127.0.0.1:11434/v1",
            "http://127.0.0.1:11434/v1/chat/completions",
        ),
        (
            "https://example.com/openai",
            "https://example.com/openai/v1/chat/completions",
        ),
        (
            "https://host/v1/chat/completions",
            "https://host/v1/chat/completions",
        ),
        (
            "https://v1.example.com",
            "https://v1.example.com/v1/chat/completions",
        ),
    ] {
        assert_eq!(chat_completions_url(base), want, "{base}");
    }
}

#[test]
fn env_references_resolve_at_request_time() {
    let m = &parse(
        json!([{"model": "m", "provider": "openai", "baseUrl": "${BASE}/v1", "apiKey": "${KEY}",
        "extraHeaders": {"X-Org": "org-${ORG}"}}]),
    )
    .unwrap()[0];
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        }
    };
    let r = m
        .resolve_with(env(&[("BASE", "https://h"), ("KEY", "sk-1"), ("ORG", "o")]))
        .unwrap();
    assert_eq!(
        (r.base_url.as_str(), r.api_key.as_deref()),
        ("https://h/v1", Some("sk-1"))
    );
    assert_eq!(r.extra_headers, vec![("X-Org".into(), "org-o".into())]);
    let err = m
        .resolve_with(env(&[("BASE", "https://h"), ("KEY", ""), ("ORG", "o")]))
        .unwrap_err();
    assert_eq!(err.variable, "KEY");
    assert!(
        err.to_string().contains("model `m`") && err.to_string().contains("`KEY`"),
        "{err}"
    );
    // The Debug form never shows a key.
    assert!(!format!("{m:?}").contains("${KEY}"));
}

#[test]
fn wire_api_defaults_to_responses_only_on_openais_own_api() {
    let m = parse(json!([
        {"model": "gpt-5.1", "provider": "openai"},
        {"model": "deepseek-v4-pro", "provider": "openai", "base_url": "https://api.deepseek.com"},
        {"model": "x", "provider": "openai", "base_url": "https://openrouter.ai/api/v1", "wireApi": "responses"},
        {"model": "y", "provider": "openai", "wireApi": "chat"}
    ]))
    .unwrap();
    let wires: Vec<WireApi> = m.iter().map(|m| m.wire_api).collect();
    assert_eq!(
        wires,
        [
            WireApi::Responses,
            WireApi::Chat,
            WireApi::Responses,
            WireApi::Chat
        ]
    );
    let err = parse(json!([{"model": "c", "provider": "anthropic", "wireApi": "responses"}]))
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("wireApi"));
    let err = parse(json!([{"model": "c", "provider": "openai", "wireApi": "grpc"}])).unwrap_err();
    assert!(err.message.contains("\"chat\" or \"responses\""), "{err}");
}

#[test]
fn names_resolve_by_slug_model_or_unique_display_fragment() {
    let s = Settings {
        models: parse(json!([
            {"model": "claude-sonnet-4-5", "provider": "anthropic", "displayName": "Claude Sonnet"},
            {"model": "claude-opus-4-1", "provider": "anthropic", "displayName": "Claude Opus"},
            {"model": "qwen2.5-coder:14b", "provider": "ollama"}]))
        .unwrap(),
        ..Default::default()
    };
    assert_eq!(
        s.resolve_name("claude-opus-4-1", false).unwrap(),
        "claude-opus-4-1"
    );
    assert_eq!(
        s.resolve_name("qwen2.5-coder:14b", false).unwrap(),
        "qwen2-5-coder-14b"
    );
    assert_eq!(
        s.resolve_name("sonnet", false).unwrap(),
        "claude-sonnet-4-5"
    );
    let err = s.resolve_name("claude", false).unwrap_err();
    assert!(
        err.contains("several models") && err.contains("claude-sonnet-4-5, claude-opus-4-1"),
        "{err}"
    );
    assert!(s
        .resolve_name("gpt", false)
        .unwrap_err()
        .contains("unknown model `gpt`"));
    assert_eq!(s.resolve_name("openai-gpt-5-5", true).unwrap(), "gpt-5.5");
    assert!(
        s.resolve_name("gpt-5.5", false).is_err(),
        "no passthrough without a login"
    );
}

#[test]
fn prices_in_either_spelling_override_the_bundled_table_field_by_field() {
    let models = parse(json!([
        {"model": "claude-sonnet-4-5", "provider": "anthropic", "outputPrice": 20},
        {"model": "local", "provider": "ollama", "input_price": "$0.1", "cached_input_price": 0, "output_price": "0.2"},
        {"model": "plain", "provider": "ollama"}
    ]))
    .unwrap();
    let settings = Settings {
        models,
        ..Default::default()
    };
    let claude = settings.prices_for("claude-sonnet-4-5", None);
    assert_eq!(
        (claude.input, claude.cached_input, claude.output),
        (Some(3.0), Some(0.3), Some(20.0)),
        "the table's input prices, the settings' output price"
    );
    let local = settings.prices_for("local", None);
    assert_eq!(
        (local.input, local.cached_input, local.output),
        (Some(0.1), Some(0.0), Some(0.2))
    );
    assert_eq!(settings.prices_for("plain", None).cost(1, 0, 1), None);
    // A slug no longer configured is priced by the upstream model its rows name.
    assert_eq!(
        settings.prices_for("gone", Some("deepseek-chat")).output,
        Some(0.42)
    );
    for bad in [json!(-1), json!("cheap"), json!(true)] {
        let e =
            parse(json!([{"model": "m", "provider": "ollama", "inputPrice": bad}])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("inputPrice"), "{e:?}");
        assert!(e.message.contains("USD per million tokens"), "{e:?}");
    }
}
