//! The ChatGPT subscription passthrough against a fake ChatGPT backend: headers, byte-for-byte
//! streaming, status and Retry-After, history cleaning, the login's life cycle, and routing.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::fake::{client, one_model, FakeUpstream, Reply, Shim};
use common::read_fixture;
use serde_json::{json, Value};

use codex_shim::translate::envelope::Thinking;

fn jwt(exp: u64, tag: &str) -> String {
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.{tag}",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp}}}"#))
    )
}

const FUTURE: u64 = 4_000_000_000;

fn login(shim: &Shim, token: &str, account: Option<&str>) {
    std::fs::create_dir_all(shim.codex_home()).unwrap();
    let auth = json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "tokens": {"id_token": "x", "access_token": token, "refresh_token": "r", "account_id": account}});
    std::fs::write(shim.codex_home().join("auth.json"), auth.to_string()).unwrap();
}

/// A shim whose ChatGPT backend is `backend`, and whose one BYOK model `m` is on `byok`.
async fn setup(backend: &FakeUpstream, byok: &FakeUpstream, settings: Option<Value>) -> Shim {
    let base = format!("http://{}/backend-api/codex", backend.addr);
    // Refreshes go to the same fake (path /oauth/token), scripted in turn with the backend's replies.
    let token_url = format!("http://{}/oauth/token", backend.addr);
    Shim::start(settings.unwrap_or_else(|| one_model(byok)), move |o| {
        o.chatgpt_base_url = base;
        o.chatgpt_token_url = token_url;
    })
    .await
}

fn request(model: &str) -> Value {
    json!({"model": model, "stream": true, "store": false, "client_metadata": {"k": "v"},
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                  {"type": "reasoning", "id": "rs_claude", "summary": [{"type": "summary_text", "text": "t"}], "encrypted_content": Thinking::chat("from a byok turn").encode()},
                  {"type": "reasoning", "id": "rs_oai", "summary": [], "encrypted_content": "gAAAAB-openai-blob"}],
        "tools": [], "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"effort": "medium"}})
}

async fn post(shim: &Shim, body: &Value) -> reqwest::Response {
    client()
        .post(shim.url("/v1/responses"))
        .header("session-id", "0199-thread")
        .header("originator", "codex_exec")
        .header("x-codex-turn-metadata", "{\"turn_id\":\"t1\"}")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn models(shim: &Shim) -> Vec<String> {
    let v = shim.get_json("/v1/models").await;
    v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn forwards_with_the_login_and_streams_the_bytes_back_unchanged() {
    let (backend, byok) = (FakeUpstream::start().await, FakeUpstream::start().await);
    let shim = setup(&backend, &byok, None).await;
    login(&shim, &jwt(FUTURE, "one"), Some("acct-123"));
    // A real Codex-backend stream, with `event:` lines and spacing the shim must not touch.
    let recorded = read_fixture("codex-0.169/streams/ok-message-added-empty.sse");
    backend.push(Reply::Sse {
        chunks: recorded
            .as_bytes()
            .chunks(17)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
        delay: std::time::Duration::ZERO,
    });
    let resp = post(&shim, &request("gpt-5.5")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        recorded,
        "bytes streamed back unchanged"
    );

    let seen = &backend.requests()[0];
    assert_eq!(seen.path, "/backend-api/codex/responses");
    assert_eq!(
        seen.headers["authorization"],
        format!("Bearer {}", jwt(FUTURE, "one"))
    );
    assert_eq!(seen.headers["chatgpt-account-id"], "acct-123");
    assert_eq!(seen.headers["session-id"], "0199-thread");
    assert_eq!(seen.headers["originator"], "codex_exec");
    assert_eq!(
        seen.headers["x-codex-turn-metadata"],
        "{\"turn_id\":\"t1\"}"
    );
    // The body as sent, but for our own reasoning envelope.
    let mut expected = request("gpt-5.5");
    expected["input"].as_array_mut().unwrap().remove(1);
    assert_eq!(seen.body, expected);
    assert!(byok.requests().is_empty());
}

#[tokio::test]
async fn status_and_retry_after_are_preserved_and_a_401_says_to_log_in() {
    let (backend, byok) = (FakeUpstream::start().await, FakeUpstream::start().await);
    let shim = setup(&backend, &byok, None).await;
    login(&shim, &jwt(FUTURE, "t"), None);
    let limit =
        r#"{"error":{"type":"usage_limit_reached","message":"You've hit your usage limit"}}"#;
    backend.push(Reply::Status {
        status: 429,
        body: limit.into(),
        headers: vec![("retry-after".into(), "30".into())],
    });
    let r = post(&shim, &request("gpt-5.5")).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "30")
    );
    assert_eq!(r.text().await.unwrap(), limit);
    assert!(
        backend.requests()[0]
            .headers
            .get("chatgpt-account-id")
            .is_none(),
        "no account id header when it is unknown"
    );

    // A 401 the refresh cannot mend (tests/chatgpt_refresh.rs has the one it can).
    backend.push(Reply::status(401, r#"{"detail":"token expired"}"#));
    backend.push(Reply::status(400, r#"{"error":"invalid_grant"}"#));
    let r = post(&shim, &request("gpt-5.5")).await;
    assert_eq!(r.status(), 400, "a fatal error, not five retries");
    assert!(r.text().await.unwrap().contains("codex login"));
    assert_eq!(backend.requests()[2].path, "/oauth/token");
}

#[tokio::test]
async fn the_login_is_read_fresh_and_an_expired_one_is_refused() {
    let (backend, byok) = (FakeUpstream::start().await, FakeUpstream::start().await);
    let shim = setup(&backend, &byok, None).await;
    assert_eq!(models(&shim).await, ["m"], "no entry without a login");
    let r = post(&shim, &request("gpt-5.5")).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("no ChatGPT login"));

    login(&shim, &jwt(FUTURE, "first"), None);
    assert_eq!(
        models(&shim).await,
        ["gpt-5.5", "m"],
        "the entry appears on login, first"
    );
    backend.push(Reply::sse(&read_fixture(
        "codex-0.169/streams/ok-minimal.sse",
    )));
    assert_eq!(post(&shim, &request("gpt-5.5")).await.status(), 200);
    login(&shim, &jwt(FUTURE, "refreshed"), None);
    backend.push(Reply::sse(&read_fixture(
        "codex-0.169/streams/ok-minimal.sse",
    )));
    assert_eq!(post(&shim, &request("gpt-5.5")).await.status(), 200);
    let tokens: Vec<String> = backend
        .requests()
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        tokens,
        [
            format!("Bearer {}", jwt(FUTURE, "first")),
            format!("Bearer {}", jwt(FUTURE, "refreshed"))
        ]
    );

    // Expired, and the refresh is refused: nothing is sent with the expired token.
    login(&shim, &jwt(1_000_000_000, "old"), None);
    backend.push(Reply::status(400, r#"{"error":"invalid_grant"}"#));
    let r = post(&shim, &request("gpt-5.5")).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("could not be refreshed"));
    let paths: Vec<String> = backend.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 3, "an expired token is not sent: {paths:?}");
    assert_eq!(paths[2], "/oauth/token");

    std::fs::remove_file(shim.codex_home().join("auth.json")).unwrap();
    assert_eq!(models(&shim).await, ["m"], "the entry disappears on logout");
}

#[tokio::test]
async fn only_the_exact_slug_and_alias_go_to_chatgpt() {
    let (backend, byok) = (FakeUpstream::start().await, FakeUpstream::start().await);
    let settings = json!([
        {"model": "openai/gpt-5.5-codex", "provider": "openai", "base_url": byok.base_url()},
        {"model": "gpt-5.5-mine", "provider": "generic-chat-completion-api", "base_url": byok.base_url()}]);
    let shim = setup(&backend, &byok, Some(settings)).await;
    login(&shim, &jwt(FUTURE, "t"), None);
    assert_eq!(
        models(&shim).await,
        ["gpt-5.5", "openai-gpt-5-5-codex", "gpt-5-5-mine"]
    );
    for name in ["gpt-5.5", "openai-gpt-5-5"] {
        backend.push(Reply::sse(&read_fixture(
            "codex-0.169/streams/ok-minimal.sse",
        )));
        assert_eq!(post(&shim, &request(name)).await.status(), 200, "{name}");
    }
    assert!(
        backend
            .requests()
            .iter()
            .all(|r| r.body["model"] == "gpt-5.5"),
        "the alias reaches the backend as gpt-5.5"
    );
    for name in ["openai-gpt-5-5-codex", "gpt-5-5-mine", "gpt-5.5-mine"] {
        byok.push(Reply::text(&["from the byok upstream"]));
        let r = post(&shim, &request(name)).await;
        assert_eq!(r.status(), 200, "{name}");
        assert!(
            r.text().await.unwrap().contains("from the byok upstream"),
            "{name}"
        );
    }
    assert_eq!((backend.requests().len(), byok.requests().len()), (2, 3));
    let models_seen: Vec<Value> = byok
        .requests()
        .into_iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(
        models_seen,
        [
            json!("openai/gpt-5.5-codex"),
            json!("gpt-5.5-mine"),
            json!("gpt-5.5-mine")
        ]
    );
}

#[tokio::test]
async fn a_disabled_passthrough_sends_nothing_to_chatgpt() {
    let (backend, byok) = (FakeUpstream::start().await, FakeUpstream::start().await);
    let base = format!("http://{}/backend-api/codex", backend.addr);
    let shim = Shim::start(one_model(&byok), move |o| {
        o.chatgpt_base_url = base;
        o.chatgpt_enabled = false;
    })
    .await;
    login(&shim, &jwt(FUTURE, "t"), None);
    assert_eq!(models(&shim).await, ["m"]);
    let r = post(&shim, &request("gpt-5.5")).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown model `gpt-5.5`"));
    assert!(backend.requests().is_empty());
}
