//! Keys never reach a log, an error body or the catalog, even when an upstream echoes them.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::fake::{client, eventually, FakeUpstream, Reply};
use serde_json::json;

const KEY: &str = "sk-live-very-secret-0123456789";
const HEADER_SECRET: &str = "org-secret-header-value-42";

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_logs_error_bodies_or_catalog() {
    let up = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("models.json");
    std::fs::write(&settings, json!({"models": [
        {"model": "up", "slug": "m", "provider": "openai", "base_url": up.base_url(), "apiKey": "${SECRETS_TEST_KEY}", "extraHeaders": {"X-Org": HEADER_SECRET}},
        {"model": "up2", "slug": "unset", "provider": "openai", "base_url": up.base_url(), "apiKey": "${SECRETS_TEST_UNSET}"}
    ]}).to_string()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut shim = Command::new(env!("CARGO_BIN_EXE_codex-shim"))
        .args(["--port", &port.to_string(), "--settings"])
        .arg(&settings)
        .arg("serve")
        .env("SECRETS_TEST_KEY", KEY)
        .env("CODEX_SHIM_LOG", "trace")
        .env("CODEX_SHIM_HOME", dir.path().join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(eventually(10, || codex_shim::daemon::health(port).is_some()).await);
    let base = format!("http://127.0.0.1:{port}");
    let req = |model: &str| json!({"model": model, "stream": true, "input": "hi"});
    let c = client();
    let mut bodies = String::new();

    // A success, a rejected key that the upstream echoes back, an in-band error echoing it, an unset variable.
    up.push(Reply::text(&["ok"]));
    up.push(Reply::status(
        401,
        &format!(
            r#"{{"error":{{"message":"Incorrect API key provided: {KEY} (org {HEADER_SECRET})"}}}}"#
        ),
    ));
    up.push(Reply::sse(&format!(
        "data: {{\"error\":{{\"message\":\"bad key {KEY}\",\"code\":500}}}}\n\n"
    )));
    for model in ["m", "m", "m", "unset"] {
        let r = c
            .post(format!("{base}/v1/responses"))
            .json(&req(model))
            .send()
            .await
            .unwrap();
        bodies.push_str(&r.text().await.unwrap());
    }
    bodies.push_str(
        &c.get(format!("{base}/v1/models"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(up.requests().len(), 3);
    assert_eq!(
        up.requests()[0].headers["authorization"],
        format!("Bearer {KEY}"),
        "the key did reach the upstream"
    );
    assert!(
        bodies.contains("Incorrect API key provided: [redacted]"),
        "{bodies}"
    );
    assert!(bodies.contains("SECRETS_TEST_UNSET"), "{bodies}");

    unsafe { libc::kill(shim.id() as i32, libc::SIGTERM) };
    shim.wait().unwrap();
    let mut logs = String::new();
    shim.stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    shim.stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        logs.matches(" request ").count() >= 3,
        "one line per request:\n{logs}"
    );
    assert!(
        logs.contains("model=m") && logs.contains("ttfb_ms=") && logs.contains("duration_ms="),
        "{logs}"
    );
    assert!(
        !logs.contains("\"input\":\"hi\""),
        "no prompt bodies in the log"
    );
    for secret in [KEY, HEADER_SECRET] {
        assert!(!logs.contains(secret), "secret in the log:\n{logs}");
        assert!(!bodies.contains(secret), "secret in a reply:\n{bodies}");
    }
}
