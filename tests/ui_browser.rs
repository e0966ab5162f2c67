//! The web UI in a real browser: Debian's Chromium driven by playwright-core (pinned in
//! tests/e2e). Lists the models, switches one (config.toml changes), shows a proxied request in
//! the live log within a second, sets and deletes a key without its value ever coming back, calls
//! the launcher; and a page on another origin cannot switch models or set keys.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::fake::{FakeUpstream, RecordingLauncher, Reply, Shim, UI_TOKEN};
use serde_json::{json, Value};

fn keychain_ready() -> bool {
    let probe = format!("CODEX_SHIM_UI_PROBE_{}", std::process::id());
    let ok = codex_shim::secrets::set(&probe, "p").is_ok()
        && codex_shim::secrets::get(&probe).ok().flatten().is_some();
    let _ = codex_shim::secrets::delete(&probe);
    ok
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ui_works_in_chromium_and_other_origins_cannot_drive_it() {
    let Some(chromium) = common::browser::chromium() else {
        return;
    };
    let keychain = keychain_ready();
    assert!(
        keychain || std::env::var_os("CI").is_none(),
        "CI runs this under scripts/test's keychain"
    );
    let tag = format!(
        "{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let (key_name, key_value, attack_key) = (
        format!("UI_TEST_KEY_{tag}"),
        format!("sk-ui-secret-{tag}"),
        format!("UI_ATTACK_KEY_{tag}"),
    );
    let (form_key_name, form_key_value) = (
        format!("UI_FORM_KEY_{tag}"),
        format!("sk-form-secret-{tag}"),
    );
    // The server log view shows what the log writes.
    codex_shim::init_logging();

    let up = FakeUpstream::start().await;
    let launcher = Arc::new(RecordingLauncher::default());
    let settings = json!([
        {"model": "a-up", "slug": "alpha", "provider": "generic-chat-completion-api", "base_url": up.base_url(), "apiKey": format!("${{{key_name}}}")},
        {"model": "b-up", "slug": "beta", "displayName": "Beta Model", "provider": "generic-chat-completion-api", "base_url": up.base_url()},
        {"model": "c-up", "slug": "gamma", "provider": "generic-chat-completion-api", "base_url": up.base_url(), "apiKey": format!("${{{attack_key}}}")}]);
    let shim = Shim::start_ui(settings, launcher.clone()).await;
    up.push(Reply::text(&["hello from beta"]));

    // The attacker: a page on another origin (another port).
    let attacker_html = include_str!("e2e/ui/attacker.html");
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(attacker_html) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let attacker = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui.png");
    let _ = std::fs::remove_file(&screenshot);
    let cfg = json!({"chromium": chromium, "shim": shim.url(""), "token": UI_TOKEN, "attacker": attacker, "keychain": keychain,
        "keyName": key_name, "keyValue": key_value, "attackKey": attack_key, "screenshot": screenshot,
        "upstream": up.base_url(), "formKeyName": form_key_name, "formKeyValue": form_key_value});
    let report = common::browser::run("browser.mjs", &cfg).await;

    assert_eq!(report["models"], json!(["alpha", "beta", "gamma"]));
    assert!(
        report["switched"]
            .as_str()
            .unwrap()
            .contains("Codex now uses beta"),
        "{report}"
    );
    let log_ms = report["log_ms"].as_u64().unwrap();
    assert!(
        log_ms < 1000,
        "the live log showed the request after {log_ms} ms"
    );
    eprintln!("ui: live log row {log_ms} ms after the proxied request");
    // The model added with the form: in the settings file with a key reference only.
    assert!(
        report["added"]
            .as_str()
            .unwrap()
            .contains("Saved delta-model"),
        "{report}"
    );
    assert_eq!(report["edit_prefilled"]["model"], "d-up");
    assert_eq!(report["edit_prefilled"]["base"], up.base_url());
    let file = std::fs::read_to_string(shim.settings_path()).unwrap();
    let doc: Value = serde_json::from_str(&file).unwrap();
    let delta = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "delta-model")
        .unwrap();
    assert_eq!(delta["maxContextLimit"], 96000, "the edit was saved");
    assert!(!file.contains(&form_key_value), "a key value in the file");
    if keychain {
        assert_eq!(delta["apiKey"], format!("${{{form_key_name}}}"));
        assert_eq!(report["edit_prefilled"]["key"], form_key_name.as_str());
        assert_eq!(
            codex_shim::secrets::get(&form_key_name).unwrap().as_deref(),
            Some(form_key_value.as_str())
        );
        codex_shim::secrets::delete(&form_key_name).unwrap();
    }
    assert_eq!(report["server_log_filtered"], true, "{report}");
    assert_eq!(
        report["section_shown"], true,
        "#section=logs shows the Logs section"
    );
    assert_eq!(report["launch"], "(test) launched Codex desktop");
    assert_eq!(launcher.calls.lock().unwrap().len(), 1);
    assert_eq!(
        report["secret_seen"], false,
        "a key value came back in a response"
    );
    if keychain {
        assert_eq!(report["key_cycle"], true);
        assert_eq!(
            codex_shim::secrets::get(&key_name).unwrap(),
            None,
            "deleted"
        );
    }
    assert!(
        std::fs::metadata(&screenshot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "a screenshot of the UI"
    );

    // Every attack failed: beta is still active and the attacker's key was never stored.
    let attacks = &report["attacks"];
    assert!(
        attacks["json_with_token"]
            .as_str()
            .unwrap()
            .starts_with("blocked"),
        "{attacks}"
    );
    assert!(
        attacks["json_key_with_token"]
            .as_str()
            .unwrap()
            .starts_with("blocked"),
        "{attacks}"
    );
    let config = std::fs::read_to_string(shim.codex_home().join("config.toml")).unwrap();
    assert!(
        config.contains("model = \"beta\""),
        "an attack switched the model:\n{config}"
    );
    if keychain {
        assert_eq!(
            codex_shim::secrets::get(&attack_key).unwrap(),
            None,
            "an attack stored a key"
        );
    }
}
