//! Hot reload: settings edited while the server runs (saved by rename, as editors do).

mod common;

use std::time::{Duration, Instant};

use common::fake::{client, eventually, sse_chunk, FakeUpstream, Reply, Shim};
use common::validate::{classify, parse_sse, Outcome};
use serde_json::{json, Value};

/// Replaces the file the way editors save: write a sibling, then rename it over.
fn save_by_rename(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("json.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn model(slug: &str, up: &FakeUpstream) -> Value {
    json!({"model": format!("{slug}-upstream"), "slug": slug, "provider": "generic-chat-completion-api", "base_url": up.base_url()})
}

async fn ask(shim: &Shim, model: &str) -> (u16, String) {
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&json!({"model": model, "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_model_added_by_rename_serves_within_two_seconds_and_a_broken_edit_keeps_the_old_ones() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start_reloading(json!([model("alpha", &up)])).await;

    // A slow stream on alpha stays in flight across both reloads.
    let chunks: Vec<String> = (0..8)
        .map(|i| sse_chunk(json!({"content": format!("part{i} ")}), None))
        .chain([
            sse_chunk(json!({}), Some("stop")),
            "data: [DONE]\n\n".into(),
        ])
        .collect();
    up.push(Reply::Sse {
        chunks,
        delay: Duration::from_millis(250),
    });
    let in_flight = {
        let url = shim.url("/v1/responses");
        tokio::spawn(async move {
            client()
                .post(url)
                .json(&json!({"model": "alpha", "stream": true, "input": "long"}))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    assert!(eventually(5, || up.requests().len() == 1).await);

    let started = Instant::now();
    save_by_rename(
        &shim.settings_path(),
        &json!([model("alpha", &up), model("beta", &up)]).to_string(),
    );
    let listed = |shim_url: String| async move {
        let v: Value = client()
            .get(shim_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["slug"] == "beta")
    };
    while !listed(shim.url("/v1/models")).await && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    up.push(Reply::text(&["beta answers"]));
    let (status, text) = ask(&shim, "beta").await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("beta answers"));
    assert!(
        took < Duration::from_secs(2),
        "beta was served {} ms after the save",
        took.as_millis()
    );
    eprintln!("reload: beta served {} ms after the save", took.as_millis());
    let catalog: Value = serde_json::from_str(
        &std::fs::read_to_string(shim.dir.path().join("catalog.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        catalog["models"][1]["slug"], "beta",
        "the catalog file was rewritten"
    );

    // A broken edit: the last good settings keep serving, and /health says why.
    save_by_rename(
        &shim.settings_path(),
        "[{\"model\": \"alpha\", \"provider\": \"opneai\"",
    );
    let health = || async {
        client()
            .get(shim.url("/health"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut h = health().await;
    while h["settings_error"].is_null() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        h = health().await;
    }
    assert!(
        h["settings_error"]
            .as_str()
            .unwrap_or("")
            .contains("not valid JSON"),
        "{h}"
    );
    assert_eq!(h["models"], 2);
    up.push(Reply::text(&["still beta"]));
    let (status, text) = ask(&shim, "beta").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("still beta"));

    let streamed = parse_sse(&in_flight.await.unwrap());
    assert_eq!(
        classify(&streamed),
        Outcome::Ok,
        "the in-flight stream survived both reloads"
    );
    let done = streamed
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(
        done["item"]["content"][0]["text"],
        "part0 part1 part2 part3 part4 part5 part6 part7 "
    );

    // Fixing the file clears the error.
    save_by_rename(
        &shim.settings_path(),
        &json!([model("alpha", &up)]).to_string(),
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    while !health().await["settings_error"].is_null() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let h = health().await;
    assert!(h["settings_error"].is_null() && h["models"] == 1, "{h}");
}

#[tokio::test]
async fn a_settings_file_created_after_start_is_picked_up() {
    let up = FakeUpstream::start().await;
    let home = tempfile::tempdir().unwrap();
    let factory = home.path().join(".factory/settings.json");
    let shim_file = home.path().join(".codex-shim/models.json");
    let source = codex_shim::settings::SettingsSource::Defaults(vec![factory, shim_file.clone()]);
    let shim = Shim::start(json!([]), move |o| o.reload_from = Some(source)).await;
    let count = || async {
        client()
            .get(shim.url("/health"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["models"]
            .as_u64()
    };
    assert_eq!(count().await, Some(0));
    std::fs::create_dir_all(shim_file.parent().unwrap()).unwrap();
    save_by_rename(
        &shim_file,
        &json!({"models": [model("late", &up)]}).to_string(),
    );
    let started = Instant::now();
    while count().await != Some(1) && started.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        count().await,
        Some(1),
        "a file in a directory created after start was not picked up"
    );
    up.push(Reply::text(&["late answers"]));
    let (status, text) = ask(&shim, "late").await;
    assert_eq!(status, 200, "{text}");
}
