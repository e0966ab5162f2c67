//! The UI API's guards, without a browser: the token, the origin rules, JSON only, the Host guard,
//! and key values never coming back.

mod common;

use std::sync::Arc;

use common::fake::{client, FakeUpstream, RecordingLauncher, Reply, Shim, UI_TOKEN};
use serde_json::{json, Value};

async fn ui_shim() -> (FakeUpstream, Shim, Arc<RecordingLauncher>) {
    let up = FakeUpstream::start().await;
    let launcher = Arc::new(RecordingLauncher::default());
    let settings = json!([
        {"model": "a-up", "slug": "alpha", "provider": "generic-chat-completion-api", "base_url": up.base_url(), "apiKey": "${UI_API_TEST_KEY}"},
        {"model": "b-up", "slug": "beta", "displayName": "Beta Model", "provider": "generic-chat-completion-api", "base_url": up.base_url()}]);
    let shim = Shim::start_ui(settings, launcher.clone()).await;
    (up, shim, launcher)
}

#[tokio::test]
async fn the_api_needs_the_token_and_the_page_does_not() {
    let (_up, shim, _) = ui_shim().await;
    let c = client();
    let page = c.get(shim.url("/ui")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert!(page.text().await.unwrap().contains("/ui/app.js"));
    for token in [None, Some("wrong"), Some(&UI_TOKEN[..UI_TOKEN.len() - 1])] {
        let mut r = c.get(shim.url("/api/models"));
        if let Some(t) = token {
            r = r.header("x-codex-shim-token", t);
        }
        assert_eq!(r.send().await.unwrap().status(), 401, "{token:?}");
    }
    let models: Value = c
        .get(shim.url("/api/models"))
        .header("x-codex-shim-token", UI_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slugs: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["alpha", "beta"]);
    assert_eq!(models["models"][0]["active"], true);
    // Without a token configured, the API does not exist.
    let plain = Shim::start(json!(["llama3"]), |_| {}).await;
    assert_eq!(
        c.get(plain.url("/api/models"))
            .header("x-codex-shim-token", UI_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn state_changes_refuse_other_origins_and_non_json() {
    let (_up, shim, launcher) = ui_shim().await;
    let c = client();
    let config = || std::fs::read_to_string(shim.codex_home().join("config.toml")).unwrap();
    let post =
        |origin: Option<String>, site: Option<&'static str>, ct: &'static str, body: String| {
            let mut r = c
                .post(shim.url("/api/active"))
                .header("x-codex-shim-token", UI_TOKEN)
                .header("content-type", ct)
                .body(body);
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            if let Some(s) = site {
                r = r.header("sec-fetch-site", s);
            }
            r.send()
        };
    let switch = json!({"name": "beta"}).to_string();
    assert_eq!(
        post(
            Some("http://evil.example".into()),
            None,
            "application/json",
            switch.clone()
        )
        .await
        .unwrap()
        .status(),
        403
    );
    assert_eq!(
        post(
            Some(format!("http://127.0.0.1:{}", shim.addr.port() + 1)),
            None,
            "application/json",
            switch.clone()
        )
        .await
        .unwrap()
        .status(),
        403,
        "another port is another origin"
    );
    assert_eq!(
        post(None, Some("cross-site"), "application/json", switch.clone())
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(None, None, "text/plain", switch.clone())
            .await
            .unwrap()
            .status(),
        415
    );
    assert_eq!(
        post(
            None,
            None,
            "application/x-www-form-urlencoded",
            "name=beta".into()
        )
        .await
        .unwrap()
        .status(),
        415
    );
    assert!(
        config().contains("model = \"alpha\""),
        "nothing switched yet"
    );
    let ok = post(
        Some(format!("http://127.0.0.1:{}", shim.addr.port())),
        Some("same-origin"),
        "application/json",
        switch,
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(config().contains("model = \"beta\""));
    // A foreign Host is refused before any handler, with the right token or not.
    let r = c
        .get(shim.url("/api/status"))
        .header("host", "attacker.example")
        .header("x-codex-shim-token", UI_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The launch button reaches the launcher.
    let r: Value = c
        .post(shim.url("/api/launch"))
        .header("x-codex-shim-token", UI_TOKEN)
        .json(&json!({"target": "desktop", "path": "/proj"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["message"], "(test) launched Codex desktop");
    assert_eq!(*launcher.calls.lock().unwrap(), ["desktop /proj"]);
}

async fn api_post(shim: &Shim, path: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(shim.url(path))
        .header("x-codex-shim-token", UI_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn api_get(shim: &Shim, path: &str) -> Value {
    client()
        .get(shim.url(path))
        .header("x-codex-shim-token", UI_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn models_are_added_edited_and_removed_in_the_settings_file() {
    let (up, shim, _) = ui_shim().await;
    let file = shim.settings_path();
    let before = std::fs::read_to_string(&file).unwrap();
    // Add: written at once, served at once (no wait for the file watcher), in the catalog.
    let (status, r) = api_post(
        &shim,
        "/api/models/save",
        json!({"model": "g-up", "display_name": "Gamma", "provider": "generic-chat-completion-api",
               "base_url": up.base_url(), "key_name": "GAMMA_KEY", "max_context_limit": 64000}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["slug"], "gamma");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc[2]["apiKey"], "${GAMMA_KEY}");
    assert_eq!(doc[2]["maxContextLimit"], 64000);
    let models = api_get(&shim, "/api/models").await;
    let gamma = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "gamma")
        .cloned()
        .unwrap();
    assert_eq!(gamma["key_name"], "GAMMA_KEY");
    assert_eq!(gamma["editable"], true);
    assert_eq!(gamma["context_window"], 64000);
    let catalog = shim.get_json("/v1/models").await;
    assert!(catalog.to_string().contains("\"gamma\""), "{catalog}");
    // The old file was backed up first.
    let backups: Vec<_> = std::fs::read_dir(shim.state_dir().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("models.json."))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), before);

    // Edit: the slug Codex knows stays, the other fields change.
    let (status, r) = api_post(
        &shim,
        "/api/models/save",
        json!({"original": "gamma", "model": "g2-up", "provider": "generic-chat-completion-api", "base_url": up.base_url()}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc[2]["model"], "g2-up");
    assert_eq!(doc[2]["slug"], "gamma");
    assert_eq!(
        doc[2]["apiKey"], "${GAMMA_KEY}",
        "no key in the form: the reference stays"
    );

    // Bad input: a clear error, and the file is unchanged.
    let now = std::fs::read_to_string(&file).unwrap();
    let (status, r) = api_post(
        &shim,
        "/api/models/save",
        json!({"model": "x", "provider": "openia"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        r["error"].as_str().unwrap().contains("unknown provider"),
        "{r}"
    );
    let (status, r) = api_post(
        &shim,
        "/api/models/save",
        json!({"model": "b-up", "slug": "beta", "provider": "ollama"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        r["error"].as_str().unwrap().contains("exists already"),
        "{r}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), now);

    // Another origin cannot add a model.
    let r = client()
        .post(shim.url("/api/models/save"))
        .header("x-codex-shim-token", UI_TOKEN)
        .header("origin", "http://evil.example")
        .json(&json!({"model": "evil", "provider": "ollama"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), now);

    // Remove.
    let (status, r) = api_post(&shim, "/api/models/delete", json!({"slug": "gamma"})).await;
    assert_eq!(status, 200, "{r}");
    let models = api_get(&shim, "/api/models").await;
    assert_eq!(models["models"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failed_request_shows_as_the_models_last_error_until_one_succeeds() {
    let (up, shim, _) = ui_shim().await;
    up.push(common::fake::Reply::status(500, "boom"));
    up.push(common::fake::Reply::text(&["fine"]));
    let send = || {
        client()
            .post(shim.url("/v1/responses"))
            .json(&json!({"model": "beta", "stream": true, "input": "hi"}))
            .send()
    };
    send().await.unwrap().text().await.unwrap();
    let beta = |m: &Value| {
        m["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["slug"] == "beta")
            .cloned()
            .unwrap()
    };
    let m = beta(&api_get(&shim, "/api/models").await);
    assert!(
        m["last_error"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{m}"
    );
    send().await.unwrap().text().await.unwrap();
    let m = beta(&api_get(&shim, "/api/models").await);
    assert!(m["last_error"].is_null(), "{m}");
}

#[tokio::test]
async fn status_names_the_codex_versions_and_the_server_log_needs_the_token() {
    let (up, shim, _) = ui_shim().await;
    let s = api_get(&shim, "/api/status").await;
    assert_eq!(s["stored_responses"], json!({"count": 0, "bytes": 0}));
    // A stored response shows as a count and a size, never as its text.
    up.push(Reply::text(&["a secret plan"]));
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&json!({"model": "beta", "input": "tell me the secret plan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = api_get(&shim, "/api/status").await;
    assert_eq!(s["stored_responses"]["count"], 1, "{s}");
    assert!(
        s["stored_responses"]["bytes"].as_u64().unwrap() > 100,
        "{s}"
    );
    assert!(!s.to_string().contains("secret plan"), "{s}");
    for field in [
        "codex_cli",
        "codex_desktop",
        "codex_desktop_path",
        "settings_files",
    ] {
        assert!(s.get(field).is_some(), "{field} in {s}");
    }
    let log = api_get(&shim, "/api/log").await;
    assert!(log["lines"].is_array(), "{log}");
    assert_eq!(
        client()
            .get(shim.url("/api/log"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

/// A key written into a base URL (Gemini's `?key=`) is never shown by the model list, and saving
/// the form as shown keeps it; a hidden value with nothing behind it is refused.
#[tokio::test]
async fn a_key_in_a_base_url_is_masked_in_the_list_and_kept_by_a_save() {
    let up = FakeUpstream::start().await;
    let url = format!("{}?key=AIza-ui-secret-77&api-version=1", up.base_url());
    let settings = json!([{"model": "gem-up", "slug": "gem", "provider": "generic-chat-completion-api", "base_url": url}]);
    let shim = Shim::start_ui(settings, Arc::new(RecordingLauncher::default())).await;
    let models = api_get(&shim, "/api/models").await;
    assert!(
        !models.to_string().contains("AIza-ui-secret-77"),
        "{models}"
    );
    let gem = models["models"][0].clone();
    let shown = gem["base_url"].as_str().unwrap().to_string();
    assert_eq!(shown, format!("{}?key=•••&api-version=1", up.base_url()));
    // Save the form as shown, with another display name: the key stays in the file.
    let (status, r) = api_post(
        &shim,
        "/api/models/save",
        json!({"original": "gem", "model": "gem-up", "slug": "gem", "display_name": "Gem",
               "provider": "generic-chat-completion-api", "base_url": shown}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(shim.settings_path()).unwrap()).unwrap();
    assert_eq!(doc[0]["base_url"], url, "{doc}");
    assert_eq!(doc[0]["displayName"], "Gem", "{doc}");
    // A new model cannot borrow a hidden key.
    let (status, r) = api_post(
        &shim,
        "/api/models/save",
        json!({"model": "x", "provider": "generic-chat-completion-api", "base_url": "https://h/v1?key=•••"}),
    )
    .await;
    assert_eq!(status, 400, "{r}");
    let doc2: Value =
        serde_json::from_str(&std::fs::read_to_string(shim.settings_path()).unwrap()).unwrap();
    assert_eq!(doc2, doc, "nothing written");
}

/// "List the provider's models": the key goes to the provider's `/models` (Bearer, or
/// `x-api-key` for Anthropic), never back to the page; a refusal says the status, not the key.
#[tokio::test]
async fn the_model_list_asks_the_provider_with_the_key_and_never_returns_it() {
    let (up, shim, _) = ui_shim().await;
    let suggest = |body: Value| {
        let url = shim.url("/api/models/suggest");
        async move {
            client()
                .post(url)
                .header("x-codex-shim-token", UI_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let listing = |ids: &[&str]| common::fake::Reply::Status {
        status: 200,
        body: json!({"data": ids.iter().map(|i| json!({"id": i})).collect::<Vec<_>>()}).to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
    };
    let key = "sk-suggest-secret-42";
    up.push(listing(&["zeta", "alpha-2", "models/gemini-2.5-pro"]));
    let text =
        suggest(json!({"provider": "openai", "base_url": up.base_url(), "key_value": key})).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["models"], json!(["alpha-2", "gemini-2.5-pro", "zeta"]));
    assert!(!text.contains(key));
    up.push(listing(&["claude-sonnet-4-5"]));
    suggest(json!({"provider": "anthropic", "base_url": format!("http://{}", up.addr), "key_value": key})).await;
    up.push(common::fake::Reply::status(
        401,
        &format!("{{\"error\": \"bad key {key}\"}}"),
    ));
    let text =
        suggest(json!({"provider": "openai", "base_url": up.base_url(), "key_value": key})).await;
    assert!(text.contains("HTTP 401") && !text.contains(key), "{text}");
    let reqs = up.requests();
    assert_eq!(reqs[0].path, "/v1/models");
    assert_eq!(reqs[0].headers["authorization"], format!("Bearer {key}"));
    assert_eq!(reqs[1].path, "/v1/models");
    assert_eq!(reqs[1].headers["x-api-key"], key);
    assert_eq!(reqs[1].headers["anthropic-version"], "2023-06-01");
    // Not a URL: refused without a request.
    let text = suggest(json!({"provider": "openai", "base_url": "file:///etc/passwd"})).await;
    assert!(text.contains("must start with http"), "{text}");
    assert_eq!(up.requests().len(), 3);
}
