//! The ChatGPT login kept alive: an expiring token is refreshed once (however many requests wait),
//! written back byte for byte except the token fields and `last_refresh`; a backend 401 refreshes
//! and retries once; a refusal that only `codex login` fixes is said once and never retried; the
//! login is read from (and refreshed into) Codex's keychain item; Codex refreshing at the same time
//! under `auth.lock` is waited for and its token used; no token reaches a log or an answer.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::fake::{client, one_model, FakeUpstream, Reply, Shim};
use common::read_fixture;
use serde_json::{json, Value};

use codex_shim::chatgpt::refresh::CLIENT_ID;
use codex_shim::chatgpt::storage;

const FUTURE: u64 = 4_000_000_000;
const PAST: u64 = 1_000_000_000;

/// A JWT-shaped token with `exp` and the claims Codex's tokens carry (unsigned: the shim only
/// reads them).
fn jwt(exp: u64, tag: &str) -> String {
    let claims = json!({"exp": exp, "email": "dev@example.com",
        "https://api.openai.com/auth": {"chatgpt_plan_type": "pro", "chatgpt_account_id": "acct-1"}});
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.sig-{tag}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `auth.json` as Codex 0.171 writes it (pretty, its field order), plus a field the shim does not
/// know, which must survive a refresh.
fn codex_auth_json(access: &str, refresh: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {"id_token": jwt(FUTURE, "id-1"), "access_token": access, "refresh_token": refresh, "account_id": "acct-1"},
        "last_refresh": "2026-11-30T10:00:00.123456789Z",
        "a_future_codex_field": {"kept": [1, 2]}
    }))
    .unwrap()
}

struct Setup {
    shim: Shim,
    backend: FakeUpstream,
    tokens: FakeUpstream,
}

async fn setup() -> Setup {
    let (backend, tokens, byok) = (
        FakeUpstream::start().await,
        FakeUpstream::start().await,
        FakeUpstream::start().await,
    );
    let base = format!("http://{}/backend-api/codex", backend.addr);
    let token_url = format!("http://{}/oauth/token", tokens.addr);
    let shim = Shim::start(one_model(&byok), move |o| {
        o.chatgpt_base_url = base;
        o.chatgpt_token_url = token_url;
    })
    .await;
    std::fs::create_dir_all(shim.codex_home()).unwrap();
    Setup {
        shim,
        backend,
        tokens,
    }
}

fn write_auth(s: &Setup, text: &str) {
    let path = s.shim.codex_home().join("auth.json");
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn read_auth(s: &Setup) -> String {
    std::fs::read_to_string(s.shim.codex_home().join("auth.json")).unwrap()
}

fn granted(access: &str, refresh: &str) -> Reply {
    Reply::status(
        200,
        &json!({"id_token": jwt(FUTURE, "id-2"), "access_token": access, "refresh_token": refresh, "expires_in": 864000})
            .to_string(),
    )
}

async fn ask(s: &Setup) -> (u16, String) {
    let r = client()
        .post(s.shim.url("/v1/responses"))
        .json(&json!({"model": "gpt-5.5", "stream": true, "store": false, "input": "hi"}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn ok_stream() -> Reply {
    Reply::sse(&read_fixture("codex-0.169/streams/ok-minimal.sse"))
}

fn bearer(r: &common::fake::Recorded) -> String {
    r.headers["authorization"]
        .to_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_string()
}

/// `original` with the refreshed fields replaced: what the file must be, byte for byte.
fn expected_after_refresh(
    original: &str,
    now: &str,
    new_access: &str,
    new_refresh: &str,
) -> String {
    let v: Value = serde_json::from_str(original).unwrap();
    original
        .replace(
            v["tokens"]["id_token"].as_str().unwrap(),
            &jwt(FUTURE, "id-2"),
        )
        .replace(v["tokens"]["access_token"].as_str().unwrap(), new_access)
        .replace(v["tokens"]["refresh_token"].as_str().unwrap(), new_refresh)
        .replace(v["last_refresh"].as_str().unwrap(), now)
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_written_back_changing_only_the_tokens() {
    let s = setup().await;
    let old = jwt(PAST, "old");
    let original = codex_auth_json(&old, "rt-1");
    write_auth(&s, &original);
    let new = jwt(FUTURE, "new");
    s.tokens.push(granted(&new, "rt-2"));
    s.backend.push(ok_stream());

    let (status, body) = ask(&s).await;
    assert_eq!(status, 200, "{body}");
    // One refresh, shaped as Codex sends it.
    let asked = s.tokens.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].path, "/oauth/token");
    assert_eq!(
        asked[0].body,
        json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": "rt-1"})
    );
    // The request went out once, with the new token only.
    let sent = s.backend.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(bearer(&sent[0]), new);
    // The file: the same bytes but for the tokens and last_refresh; its mode kept; no temp file.
    let now_text = read_auth(&s);
    let now: Value = serde_json::from_str(&now_text).unwrap();
    let stamp = now["last_refresh"].as_str().unwrap();
    assert!(
        stamp.starts_with("20")
            && stamp.ends_with('Z')
            && stamp != "2026-11-30T10:00:00.123456789Z",
        "{stamp}"
    );
    assert_eq!(
        now_text,
        expected_after_refresh(&original, stamp, &new, "rt-2")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.shim.codex_home().join("auth.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut names: Vec<String> = std::fs::read_dir(s.shim.codex_home())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["auth.json", "auth.lock"]);

    // The next request uses the stored token as it is: no second refresh.
    s.backend.push(ok_stream());
    assert_eq!(ask(&s).await.0, 200);
    assert_eq!(s.tokens.requests().len(), 1);
    assert_eq!(bearer(&s.backend.requests()[1]), new);
}

#[tokio::test]
async fn twenty_requests_waiting_on_an_expired_token_cause_exactly_one_refresh() {
    let s = setup().await;
    write_auth(&s, &codex_auth_json(&jwt(PAST, "old"), "rt-1"));
    let new = jwt(FUTURE, "new");
    // A slow token endpoint, so that all twenty are waiting while it answers.
    s.tokens.push(Reply::SlowJson {
        body:
            json!({"id_token": jwt(FUTURE, "id-2"), "access_token": new, "refresh_token": "rt-2"})
                .to_string(),
        delay: Duration::from_millis(300),
    });
    for _ in 0..20 {
        s.backend.push(ok_stream());
    }
    let s = std::sync::Arc::new(s);
    let runs: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { ask(&s).await })
        })
        .collect();
    for r in runs {
        let (status, body) = r.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(s.tokens.requests().len(), 1, "one refresh for all twenty");
    let sent = s.backend.requests();
    assert_eq!(sent.len(), 20);
    assert!(
        sent.iter().all(|r| bearer(r) == new),
        "all sent with the new token"
    );
}

#[tokio::test]
async fn a_reused_refresh_token_fails_clearly_once_is_never_retried_and_leaves_the_file() {
    let s = setup().await;
    let original = codex_auth_json(&jwt(PAST, "old"), "rt-used");
    write_auth(&s, &original);
    s.tokens.push(Reply::status(
        400,
        r#"{"error":{"code":"refresh_token_reused","message":"Your refresh token has already been used"}}"#,
    ));
    let (status, body) = ask(&s).await;
    // 400: Codex shows it and does not retry (as for any login Codex cannot fix itself).
    assert_eq!(status, 400, "{body}");
    let message = serde_json::from_str::<Value>(&body).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("already used") && message.contains("codex login"),
        "{message}"
    );
    // Asked again: the same answer, without asking the sign-in service again.
    let (status, again) = ask(&s).await;
    assert_eq!((status, again), (400, body));
    assert_eq!(s.tokens.requests().len(), 1, "never retried");
    assert!(
        s.backend.requests().is_empty(),
        "nothing sent with an expired token"
    );
    assert_eq!(read_auth(&s), original, "the file is untouched");

    // A new `codex login` (a new refresh token) is used at once.
    write_auth(&s, &codex_auth_json(&jwt(FUTURE, "fresh-login"), "rt-new"));
    s.backend.push(ok_stream());
    assert_eq!(ask(&s).await.0, 200);
}

#[tokio::test]
async fn a_backend_401_with_a_fresh_looking_token_refreshes_once_and_retries_once() {
    let s = setup().await;
    let revoked = jwt(FUTURE, "revoked");
    write_auth(&s, &codex_auth_json(&revoked, "rt-1"));
    let new = jwt(FUTURE, "new");
    s.backend
        .push(Reply::status(401, r#"{"detail":"token revoked"}"#));
    s.tokens.push(granted(&new, "rt-2"));
    s.backend.push(ok_stream());

    let (status, body) = ask(&s).await;
    assert_eq!(status, 200, "{body}");
    let sent = s.backend.requests();
    assert_eq!(sent.len(), 2, "the request, then its one retry");
    assert_eq!((bearer(&sent[0]), bearer(&sent[1])), (revoked, new.clone()));
    assert_eq!(sent[0].body, sent[1].body, "the same request again");
    assert_eq!(s.tokens.requests().len(), 1);

    // A 401 to the refreshed token too: one refresh more is not tried in a loop; the answer says
    // to log in.
    s.backend.push(Reply::status(401, r#"{"detail":"no"}"#));
    s.tokens
        .push(Reply::status(401, r#"{"error":"invalid_grant"}"#));
    let (status, body) = ask(&s).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("codex login"), "{body}");
    assert_eq!(s.backend.requests().len(), 3);
    assert_eq!(s.tokens.requests().len(), 2);
}

/// Codex refreshing at the same moment: while it holds `auth.lock`, the shim waits; then it reads
/// what Codex wrote and uses that token, without a refresh of its own (which would revoke Codex's).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_refresh_by_codex_under_auth_lock_is_waited_for_and_used() {
    let s = setup().await;
    write_auth(&s, &codex_auth_json(&jwt(PAST, "old"), "rt-1"));
    let lock_path = s.shim.codex_home().join("auth.lock");
    let codex_lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    codex_lock.lock().unwrap();
    s.backend.push(ok_stream());
    let s = std::sync::Arc::new(s);
    let request = {
        let s = s.clone();
        tokio::spawn(async move { ask(&s).await })
    };
    // The shim (in this process) has opened auth.lock too: it is waiting for Codex.
    let opened = |p: &std::path::Path| {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target == p)
            .count()
    };
    let canonical = lock_path.canonicalize().unwrap();
    assert!(
        common::fake::eventually(10, || opened(&canonical) >= 2).await,
        "the shim never reached auth.lock"
    );
    // Codex writes its refreshed login, then lets go.
    let codex_token = jwt(FUTURE, "codex-refreshed");
    write_auth(&s, &codex_auth_json(&codex_token, "rt-codex"));
    codex_lock.unlock().unwrap();
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(bearer(&s.backend.requests()[0]), codex_token);
    assert!(s.tokens.requests().is_empty(), "no refresh of its own");
}

fn keychain_ready() -> bool {
    let probe = format!("codex-shim-refresh-probe-{}", std::process::id());
    let ok = codex_shim::secrets::set_item("Codex Auth Probe", &probe, "x").is_ok()
        && codex_shim::secrets::get_item("Codex Auth Probe", &probe)
            .ok()
            .flatten()
            .as_deref()
            == Some("x");
    let _ = codex_shim::secrets::delete_item("Codex Auth Probe", &probe);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs a keychain (scripts/test provides one)"
        );
        eprintln!("skipping: no keychain backend here (run ./scripts/test)");
    }
    ok
}

/// `cli_auth_credentials_store = "keyring"`: the login is Codex's keychain item (service `Codex
/// Auth`, account `cli|` + 16 hex digits of the home's SHA-256), read, refreshed, and written back
/// into the same item as compact JSON; no auth.json appears; a new login in the item is used at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_codex_keeps_in_the_keychain_is_read_and_refreshed_in_place() {
    if !keychain_ready() {
        return;
    }
    let s = setup().await;
    let home = s.shim.codex_home();
    std::fs::write(
        home.join("config.toml"),
        "model = \"gpt-5.5\"\ncli_auth_credentials_store = \"keyring\"\n",
    )
    .unwrap();
    let account = storage::keyring_account(&home);
    let old = jwt(PAST, "kr-old");
    let compact = serde_json::to_string(
        &serde_json::from_str::<Value>(&codex_auth_json(&old, "rt-kr")).unwrap(),
    )
    .unwrap();
    codex_shim::secrets::set_item("Codex Auth", &account, &compact).unwrap();
    let new = jwt(FUTURE, "kr-new");
    s.tokens.push(granted(&new, "rt-kr-2"));
    s.backend.push(ok_stream());

    let (status, body) = ask(&s).await;
    let stored = codex_shim::secrets::get_item("Codex Auth", &account).unwrap();
    // A `codex login` while the shim runs replaces the item: the next request uses it.
    let relogged = jwt(FUTURE, "kr-relogin");
    let item = serde_json::to_string(
        &serde_json::from_str::<Value>(&codex_auth_json(&relogged, "rt-kr-3")).unwrap(),
    )
    .unwrap();
    codex_shim::secrets::set_item("Codex Auth", &account, &item).unwrap();
    s.backend.push(ok_stream());
    let (status2, _) = ask(&s).await;
    let _ = codex_shim::secrets::delete_item("Codex Auth", &account);
    assert_eq!((status2, bearer(&s.backend.requests()[1])), (200, relogged));
    assert_eq!(status, 200, "{body}");
    assert_eq!(bearer(&s.backend.requests()[0]), new);
    assert_eq!(
        s.tokens.requests()[0].body["refresh_token"],
        "rt-kr",
        "the keychain's refresh token was used"
    );
    let stored = stored.expect("the item is still there");
    assert!(!stored.contains('\n'), "compact, as Codex writes the item");
    let v: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(v["tokens"]["access_token"], new.as_str());
    assert_eq!(v["tokens"]["refresh_token"], "rt-kr-2");
    assert_eq!(v["a_future_codex_field"], json!({"kept": [1, 2]}));
    assert!(
        !home.join("auth.json").exists(),
        "nothing written to a file"
    );
}

/// The real binary at trace level, through a refresh, a 401 and its retry, and a refusal: no
/// token (old or new; access, refresh or ID) is in its log, in an answer, or in `/health`.
#[tokio::test]
async fn no_token_reaches_a_log_or_an_answer() {
    use common::codex::{show, Sandbox};
    let (backend, tokens) = (FakeUpstream::start().await, FakeUpstream::start().await);
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, "[]").unwrap();
    let old = jwt(PAST, "log-old");
    std::fs::write(
        sb.path("codex-home/auth.json"),
        codex_auth_json(&old, "rt-log-1"),
    )
    .unwrap();
    let new = jwt(FUTURE, "log-new");
    let renewed = jwt(FUTURE, "log-renewed");
    let backend_url = format!("http://{}/backend-api/codex", backend.addr);
    let token_url = format!("http://{}/oauth/token", tokens.addr);
    let (child, base) = sb
        .serve(&[
            ("CODEX_SHIM_LOG", "trace"),
            ("CODEX_SHIM_CHATGPT_BASE_URL", &backend_url),
            ("CODEX_REFRESH_TOKEN_URL_OVERRIDE", &token_url),
        ])
        .await;
    let post = || async {
        let r = client()
            .post(format!("{base}/v1/responses"))
            .json(&json!({"model": "gpt-5.5", "stream": true, "store": false, "input": "hi"}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let mut answers = String::new();
    // Expired: refreshed, then sent.
    tokens.push(granted(&new, "rt-log-2"));
    backend.push(ok_stream());
    let (status, body) = post().await;
    assert_eq!(status, 200, "{body}");
    answers += &body;
    // Refused by the backend: refreshed again, retried.
    backend.push(Reply::status(401, r#"{"detail":"expired"}"#));
    tokens.push(granted(&renewed, "rt-log-3"));
    backend.push(ok_stream());
    let (status, body) = post().await;
    assert_eq!(status, 200, "{body}");
    answers += &body;
    // Refused for good.
    backend.push(Reply::status(401, r#"{"detail":"expired"}"#));
    tokens.push(Reply::status(400, r#"{"error":"invalid_grant"}"#));
    let (status, body) = post().await;
    assert_eq!(status, 400, "{body}");
    answers += &body;
    answers += &client()
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut child = child;
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        log.contains("refreshing the ChatGPT login"),
        "{}",
        show(&out)
    );
    for secret in [
        old.as_str(),
        new.as_str(),
        renewed.as_str(),
        "rt-log-1",
        "rt-log-2",
        "rt-log-3",
        "sig-id-1",
        "sig-id-2",
    ] {
        let sig = secret.rsplit('.').next().unwrap();
        assert!(!log.contains(sig), "a token is in the log: {sig}");
        assert!(!answers.contains(sig), "a token is in an answer: {sig}");
    }
    assert_eq!(tokens.requests().len(), 3);
}

/// The login as status shows it: the UI's `/api/status` and `codex-shim status` name the account,
/// the plan and the expiry, and hold no token.
#[tokio::test]
async fn status_shows_the_account_plan_and_expiry_without_a_token() {
    use common::fake::{RecordingLauncher, UI_TOKEN};
    let shim = Shim::start_ui(
        one_model(&FakeUpstream::start().await),
        std::sync::Arc::new(RecordingLauncher::default()),
    )
    .await;
    std::fs::create_dir_all(shim.codex_home()).unwrap();
    let access = jwt(FUTURE, "status-access");
    std::fs::write(
        shim.codex_home().join("auth.json"),
        codex_auth_json(&access, "rt-status"),
    )
    .unwrap();
    let body = client()
        .get(shim.url("/api/status"))
        .header("x-codex-shim-token", UI_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["chatgpt_login"], true);
    assert_eq!(s["chatgpt"]["account"], "dev@example.com");
    assert_eq!(s["chatgpt"]["plan"], "pro");
    assert_eq!(s["chatgpt"]["expires_at"], FUTURE);
    assert_eq!(
        s["chatgpt"]["last_refresh"],
        "2026-11-30T10:00:00.123456789Z"
    );
    for secret in ["sig-status-access", "rt-status", "sig-id-1"] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }

    // The CLI, with the server stopped: the same facts, one line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-shim"))
        .args(["--port", "1", "status"])
        .env("CODEX_HOME", shim.codex_home())
        .env("CODEX_SHIM_HOME", shim.state_dir())
        .env_remove("CODEX_SHIM_DISABLE_CHATGPT")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ChatGPT login: dev@example.com (pro) · token valid until 2096-10-02 07:06 UTC · last refreshed 2026-11-30T10:00:00.123456789Z"),
        "{text}"
    );
    assert!(
        !text.contains("sig-") && !text.contains("rt-status"),
        "{text}"
    );
}
