//! The window's views in a real browser (Debian's Chromium, playwright-core; see
//! tests/e2e/ui/views.mjs), over a shim whose ledger holds real requests: no horizontal
//! scrolling at 900 and 420 px in either colour scheme, the page opening at its top, Usage,
//! Requests, the Test button, and the add-model presets. The README's screenshots come from here
//! (`CODEX_SHIM_UPDATE_SCREENSHOTS=1` copies them to docs/screenshots).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::fake::{client, sse_chunk, FakeUpstream, RecordingLauncher, Reply, Shim, UI_TOKEN};
use serde_json::{json, Value};

fn answer(text: &str) -> Reply {
    Reply::Sse {
        chunks: vec![
            sse_chunk(json!({"content": text}), None),
            sse_chunk(json!({}), Some("stop")),
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":40000,\"completion_tokens\":900,\"prompt_tokens_details\":{\"cached_tokens\":30000}}}\n\n".into(),
            "data: [DONE]\n\n".into(),
        ],
        delay: Duration::ZERO,
    }
}

async fn post(shim: &Shim, model: &str) {
    client()
        .post(shim.url("/v1/responses"))
        .json(&json!({"model": model, "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_views_fit_every_window_and_do_what_they_say() {
    let Some(chromium) = common::browser::chromium() else {
        return;
    };
    let up = FakeUpstream::start().await;
    let settings = json!([
        {"model": "b-up", "slug": "beta", "displayName": "Beta Model", "provider": "generic-chat-completion-api", "base_url": up.base_url(),
         "inputPrice": 3, "cachedInputPrice": 0.3, "outputPrice": 15},
        {"model": "claude-sonnet-4-5", "slug": "claude", "displayName": "Claude Sonnet 4.5", "provider": "anthropic", "base_url": format!("http://{}", up.addr), "apiKey": "k"},
        {"model": "my-local-model", "slug": "local", "provider": "generic-chat-completion-api", "base_url": up.base_url()}]);
    let shim = Shim::start_ui(settings, Arc::new(RecordingLauncher::default())).await;
    for _ in 0..3 {
        up.push(answer("hi"));
        post(&shim, "beta").await;
    }
    up.push(answer("local"));
    post(&shim, "local").await;
    up.push(Reply::status(
        401,
        r#"{"error":{"message":"Incorrect API key provided: sk-wr****ng"}}"#,
    ));
    post(&shim, "beta").await;
    // What the browser's Test button and "List the provider's models" will meet.
    up.push(answer("OK"));
    up.push(Reply::Status {
        status: 200,
        body: json!({"object": "list", "data": [{"id": "b-up"}, {"id": "deepseek-chat"}, {"id": "deepseek-reasoner"}]}).to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
    });
    // The ledger's writer gathers rows for a moment: wait until the five are in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows: Value = client()
            .get(shim.url("/api/requests"))
            .header("x-codex-shim-token", UI_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if rows.as_array().unwrap().len() == 5 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{rows}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let shots = json!({"usage": tmp.join("ui-usage.png"), "requests": tmp.join("ui-requests.png"), "models": tmp.join("ui-models.png")});
    let cfg = json!({"chromium": chromium, "shim": shim.url(""), "token": UI_TOKEN, "upstream": up.base_url(), "shots": shots});
    let report = common::browser::run("views.mjs", &cfg).await;
    assert_eq!(report["errors"], json!([]), "no script errors");

    // No horizontal scrolling anywhere.
    let overflow = report["overflow"].as_object().unwrap();
    assert_eq!(overflow.len(), 24, "6 sections × 2 widths × 2 schemes");
    for (case, px) in overflow {
        assert!(
            px.as_i64().unwrap() <= 0,
            "{case}: {px} px wider than the window"
        );
    }
    assert_eq!(report["scroll_models"], 0, "opens at its top");
    assert_eq!(
        report["scroll_wizard"], 0,
        "the wizard does not pull the page down"
    );

    // Usage: beta's 3 requests and its failed one count (4), the test request does not.
    let totals = report["totals"].as_array().unwrap();
    assert!(
        totals[0].as_str().unwrap().starts_with("Today"),
        "{totals:?}"
    );
    assert!(
        totals[0].as_str().unwrap().contains("5 requests"),
        "{totals:?}"
    );
    assert!(report["bars"].as_u64().unwrap() >= 1);
    let beta = report["usage_rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "beta")
        .unwrap();
    // 3 × (10000 × 3 + 30000 × 0.3 + 900 × 15) / 10⁶ = $0.1575.
    assert_eq!(beta[1], "4");
    assert_eq!(beta[6], "$0.16", "{beta}");
    let local = report["usage_rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "local")
        .unwrap();
    assert_eq!(local[6], "—", "no price, no guess");
    assert!(report["legend"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "local (no price)"));
    let csv = report["csv"].as_str().unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "day,slug,requests,input_tokens,cached_tokens,output_tokens,reasoning_tokens,cost_usd"
        )
    );
    let beta_line: Vec<&str> = lines
        .find(|l| l.contains(",beta,"))
        .unwrap()
        .split(',')
        .collect();
    assert_eq!(
        beta_line[2..7],
        ["4", "120000", "90000", "2700", "0"],
        "{beta_line:?}"
    );
    let cost: f64 = beta_line[7].parse().unwrap();
    assert!((cost - 0.1575).abs() < 1e-9, "{cost}");
    assert!(csv.contains(",local,1,40000,30000,900,0,\n"), "{csv}");
    assert!(report["csv_name"]
        .as_str()
        .unwrap()
        .starts_with("codex-shim-usage-"));

    // Requests: the ledger's rows, and a failed one's detail with the upstream's words.
    assert_eq!(report["request_rows"], 5);
    let detail = report["detail"].as_str().unwrap();
    assert!(
        detail.contains("Incorrect API key provided") && detail.contains("auth"),
        "{detail}"
    );
    // The Test button.
    let test = report["test"].as_str().unwrap();
    assert!(
        test.starts_with("OK in ") && test.contains("first token after"),
        "{test}"
    );
    // Presets and suggestions.
    assert_eq!(
        report["preset"],
        json!({"provider": "openai", "base": "https://api.deepseek.com", "key": "DEEPSEEK_API_KEY", "wire": ""})
    );
    assert_eq!(
        report["suggestions"],
        json!(["b-up", "deepseek-chat", "deepseek-reasoner"])
    );
    let models_call = up
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/models")
        .expect("the model list was asked for");
    assert!(
        models_call.headers.get("authorization").is_none(),
        "no key given, none sent"
    );

    for (name, _) in shots.as_object().unwrap() {
        let shot = tmp.join(format!("ui-{name}.png"));
        assert!(
            std::fs::metadata(&shot)
                .map(|m| m.len() > 10_000)
                .unwrap_or(false),
            "{name} screenshot"
        );
        if std::env::var_os("CODEX_SHIM_UPDATE_SCREENSHOTS").is_some() {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
            std::fs::copy(&shot, docs.join(format!("ui-{name}.png"))).unwrap();
        }
    }
}
