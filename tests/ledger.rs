//! The usage ledger over real loopback streams: one row per request on every route and outcome,
//! totals and costs (settings prices, the bundled table, none), `codex-shim usage --json` and the
//! UI's API giving the same list, the Test button, retention, and a database that cannot be used
//! leaving serving alone.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::codex::{anthropic_text, message_item, responses_stream};
use common::fake::{client, sse_chunk, FakeUpstream, RecordingLauncher, Reply, Shim, UI_TOKEN};
use serde_json::{json, Value};

use codex_shim::store::{Record, RequestFilter, Store};

fn db(shim: &Shim) -> PathBuf {
    shim.dir.path().join("codex-shim.db")
}

/// The ledger's rows, oldest first, once there are exactly `n` (waits up to 10 s for the writer).
async fn rows(path: &Path, n: usize) -> Vec<Record> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = Store::open_existing(path)
            .ok()
            .flatten()
            .and_then(|s| {
                s.requests(&RequestFilter {
                    limit: 1000,
                    ..Default::default()
                })
                .ok()
            })
            .unwrap_or_default();
        if got.len() == n || tokio::time::Instant::now() > deadline {
            let mut got = got;
            got.reverse();
            assert_eq!(got.len(), n, "{got:#?}");
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post(shim: &Shim, model: &str) -> (u16, String) {
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&json!({"model": model, "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn settings(up: &FakeUpstream) -> Value {
    json!([
        {"model": "chat-up", "slug": "c", "provider": "generic-chat-completion-api", "base_url": up.base_url(),
         "inputPrice": 2.0, "cached_input_price": "0.5", "outputPrice": 8},
        {"model": "claude-sonnet-4-5", "slug": "a", "provider": "anthropic", "base_url": format!("http://{}", up.addr), "apiKey": "k"},
        {"model": "my-local-model", "slug": "n", "provider": "openai", "base_url": format!("http://{}/v1", up.addr), "apiKey": "k", "wireApi": "responses"}
    ])
}

fn chat_with_usage(finish: &str) -> Reply {
    paced_chat(finish, Duration::ZERO)
}

/// The same, `delay` between chunks (a model's pace: the output has a rate).
fn paced_chat(finish: &str, delay: Duration) -> Reply {
    Reply::Sse {
        chunks: vec![
            sse_chunk(json!({"content": "answer"}), None),
            sse_chunk(json!({}), Some(finish)),
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":50,\"prompt_tokens_details\":{\"cached_tokens\":400},\"completion_tokens_details\":{\"reasoning_tokens\":20}}}\n\n".into(),
            "data: [DONE]\n\n".into(),
        ],
        delay,
    }
}

#[tokio::test]
async fn every_route_and_outcome_leaves_one_row_with_its_tokens() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(settings(&up), |_| {}).await;
    up.push(paced_chat("stop", Duration::from_millis(20)));
    assert_eq!(post(&shim, "c").await.0, 200);
    up.push(Reply::sse(&anthropic_text("hello from claude")));
    assert_eq!(post(&shim, "a").await.0, 200);
    up.push(Reply::sse(&responses_stream(
        &[message_item("native")],
        300,
    )));
    assert_eq!(post(&shim, "n").await.0, 200);
    up.push(Reply::status(
        401,
        r#"{"error":{"message":"invalid x-api-key"}}"#,
    ));
    assert_eq!(post(&shim, "c").await.0, 400);
    up.push(chat_with_usage("length"));
    assert!(post(&shim, "c").await.1.contains("response.incomplete"));
    assert_eq!(post(&shim, "nope").await.0, 400, "an unknown model");
    // A client that leaves mid-stream.
    up.push(Reply::Trickle {
        first: sse_chunk(json!({"content": "partial"}), None),
    });
    let mut r = client()
        .post(shim.url("/v1/responses"))
        .json(&json!({"model": "c", "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap();
    while !String::from_utf8_lossy(&r.chunk().await.unwrap().unwrap()).contains("partial") {}
    drop(r);
    rows(&db(&shim), 7).await;
    // The compact endpoint (older Codex builds) is recorded too.
    up.push(chat_with_usage("stop"));
    let compact = client()
        .post(shim.url("/v1/responses/compact"))
        .json(&json!({"model": "c", "input": "summarise this"}))
        .send()
        .await
        .unwrap();
    assert_eq!(compact.status(), 200);

    let rows = rows(&db(&shim), 8).await;
    let outcomes: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.slug.as_str(), r.route.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("c", "chat", "completed"),
            ("a", "anthropic", "completed"),
            ("n", "responses", "completed"),
            ("c", "chat", "failed"),
            ("c", "chat", "incomplete"),
            ("nope", "none", "failed"),
            ("c", "chat", "cancelled"),
            ("c", "chat", "completed"),
        ]
    );
    assert_eq!(rows[7].endpoint, "compact");
    assert_eq!(rows[7].input_tokens, 1000);
    let c = &rows[0];
    assert_eq!(
        (
            c.input_tokens,
            c.cached_tokens,
            c.output_tokens,
            c.reasoning_tokens
        ),
        (1000, 400, 50, 20)
    );
    assert_eq!(
        (
            c.upstream_model.as_deref(),
            c.endpoint.as_str(),
            c.http_status
        ),
        (Some("chat-up"), "responses", Some(200))
    );
    assert!(c.ttfb_ms.is_some() && c.output_tokens_per_s.is_some());
    let a = &rows[1];
    assert_eq!(
        (a.input_tokens, a.cached_tokens, a.output_tokens),
        (1800, 800, 12),
        "cache reads count as input"
    );
    assert_eq!(rows[2].input_tokens, 300);
    let failed = &rows[3];
    assert_eq!(
        (failed.http_status, failed.error_class.as_deref()),
        (Some(401), Some("auth"))
    );
    assert!(failed
        .error
        .as_deref()
        .unwrap()
        .contains("invalid x-api-key"));
    assert_eq!(rows[5].error_class.as_deref(), Some("rejected"));
    assert!(rows[5]
        .error
        .as_deref()
        .unwrap()
        .contains("unknown model `nope`"));
    // Nothing secret or prompt-like in the file.
    let bytes = std::fs::read(db(&shim)).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("sk-") && !text.contains("\"input\""));
}

/// Usage per day and model, with costs from settings prices, from the bundled table, or none;
/// `codex-shim usage --json` and `/api/usage` give the same list, in exactly these keys; tests
/// from the UI are listed among the requests but not counted.
#[tokio::test]
async fn usage_totals_costs_and_the_test_button() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start_ui(
        settings(&up),
        std::sync::Arc::new(RecordingLauncher::default()),
    )
    .await;
    for _ in 0..2 {
        up.push(chat_with_usage("stop"));
        post(&shim, "c").await;
    }
    up.push(Reply::sse(&anthropic_text("claude")));
    post(&shim, "a").await;
    up.push(Reply::sse(&responses_stream(
        &[message_item("native")],
        300,
    )));
    post(&shim, "n").await;
    rows(&db(&shim), 4).await;

    // The Test button: one OK, one whose key is rejected.
    let test = |slug: &'static str| {
        let url = shim.url("/api/test");
        async move {
            client()
                .post(url)
                .header("x-codex-shim-token", UI_TOKEN)
                .json(&json!({"slug": slug}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    up.push(chat_with_usage("stop"));
    let ok = test("c").await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(
        ok["message"].as_str().unwrap().starts_with("OK in ")
            && ok["message"]
                .as_str()
                .unwrap()
                .contains("first token after"),
        "{ok}"
    );
    assert_eq!(ok["request"]["is_test"], true);
    up.push(Reply::status(401, r#"{"error":{"message":"bad key"}}"#));
    let bad = test("c").await;
    assert_eq!(bad["ok"], false);
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .starts_with("The key was rejected (HTTP 401)"),
        "{bad}"
    );

    let api = |path: String| {
        let url = shim.url(&path);
        async move {
            client()
                .get(url)
                .header("x-codex-shim-token", UI_TOKEN)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let usage = api("/api/usage?days=30".into()).await;
    let list = usage.as_array().unwrap();
    assert_eq!(list.len(), 3, "{usage}");
    for row in list {
        let mut keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "cached_tokens",
                "cost_usd",
                "day",
                "input_tokens",
                "output_tokens",
                "reasoning_tokens",
                "requests",
                "slug"
            ]
        );
    }
    let by = |slug: &str| list.iter().find(|r| r["slug"] == slug).unwrap();
    let c = by("c");
    assert_eq!(
        (
            c["requests"].as_u64(),
            c["input_tokens"].as_u64(),
            c["cached_tokens"].as_u64()
        ),
        (Some(2), Some(2000), Some(800)),
        "tests are not counted: {c}"
    );
    // Settings prices: (1200 × 2 + 800 × 0.5 + 100 × 8) / 10⁶.
    let expected = (1200.0 * 2.0 + 800.0 * 0.5 + 100.0 * 8.0) / 1e6;
    assert!(
        (c["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{c}"
    );
    // The bundled table: claude-sonnet-4-5 at 3 / 0.30 / 15: (1000 × 3 + 800 × 0.3 + 12 × 15) / 10⁶.
    let a = by("a");
    let expected = (1000.0 * 3.0 + 800.0 * 0.3 + 12.0 * 15.0) / 1e6;
    assert!(
        (a["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{a}"
    );
    assert_eq!(by("n")["cost_usd"], Value::Null, "no price, no guess");
    assert!(list.iter().all(|r| r["day"].as_str().unwrap().len() == 10));

    // The CLI reads the same file: the same list.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-shim"))
        .args(["--settings"])
        .arg(shim.dir.path().join("models.json"))
        .args(["usage", "--days", "30", "--json"])
        .env("CODEX_SHIM_HOME", shim.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli, usage);
    let table = std::process::Command::new(env!("CARGO_BIN_EXE_codex-shim"))
        .args(["--settings"])
        .arg(shim.dir.path().join("models.json"))
        .args(["usage", "--model", "a"])
        .env("CODEX_SHIM_HOME", shim.dir.path())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    let all = std::process::Command::new(env!("CARGO_BIN_EXE_codex-shim"))
        .args(["--settings"])
        .arg(shim.dir.path().join("models.json"))
        .args(["usage"])
        .env("CODEX_SHIM_HOME", shim.dir.path())
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&all.stdout);
    eprintln!("{all}");
    assert!(
        all.contains("total") && all.contains("$0.0070 + unpriced") && all.contains("—"),
        "{all}"
    );
    assert!(
        table.contains("requests") && table.contains("$0.0034") && !table.contains(" c "),
        "{table}"
    );

    // Requests: all of them, tests flagged; one by id with every field.
    let listed = api("/api/requests?limit=50".into()).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 6);
    assert_eq!(listed.iter().filter(|r| r["is_test"] == true).count(), 2);
    let failed = listed.iter().find(|r| r["outcome"] == "failed").unwrap();
    let one = api(format!("/api/requests/{}", failed["id"])).await;
    assert_eq!(one["error_class"], "auth");
    assert!(one["error"].as_str().unwrap().contains("bad key"));
    let only_a = api("/api/requests?model=a".into()).await;
    assert_eq!(only_a.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_database_that_cannot_be_used_leaves_serving_alone() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![b'x'; 8192]).unwrap();
    for path in [
        PathBuf::from("/dev/null/cannot/be/a/dir.db"),
        garbage.clone(),
    ] {
        let up = FakeUpstream::start().await;
        let p = path.clone();
        let shim = Shim::start(settings(&up), move |o| o.ledger = Some(p)).await;
        for _ in 0..3 {
            up.push(chat_with_usage("stop"));
            let (status, text) = post(&shim, "c").await;
            assert_eq!(status, 200, "{}", path.display());
            assert!(text.contains("response.completed"), "{}", path.display());
        }
    }
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        vec![b'x'; 8192],
        "left as it was"
    );
}

#[tokio::test]
async fn rows_past_the_retention_period_are_pruned_when_the_ledger_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let row = |days_ago: u64| Record {
        ts_ms: now - days_ago * 86_400_000,
        slug: "c".into(),
        route: "chat".into(),
        endpoint: "responses".into(),
        outcome: "completed".into(),
        ..Default::default()
    };
    Store::open(&path)
        .unwrap()
        .insert(&[row(40), row(10), row(0)])
        .unwrap();
    let up = FakeUpstream::start().await;
    let p = path.clone();
    let _shim = Shim::start(settings(&up), move |o| {
        o.ledger = Some(p);
        o.ledger_retention_days = 30;
    })
    .await;
    let kept = rows(&path, 2).await;
    assert!(kept.iter().all(|r| r.ts_ms >= now - 30 * 86_400_000));
}
