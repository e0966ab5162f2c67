//! The UI API's guards, without a browser: the token, the origin rules, JSON only, the Host guard,
//! and key values never coming back.

mod common;

use std::sync::Arc;

use common::fake::{client, FakeUpstream, RecordingLauncher, Shim, UI_TOKEN};
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
