//! Stored responses driven by Node clients (`tests/e2e/stored/clients.mjs`): the official
//! openai-node SDK, and the Vercel AI SDK, whose tool loop and next turn send earlier items as
//! `item_reference`s with ids the shim issued.

mod common;

use std::path::PathBuf;

use common::fake::{FakeUpstream, Shim};
use common::stored::Route;

fn e2e() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

/// Runs one client of `clients.mjs` against `shim`; `None` (skip) only outside CI without the
/// npm packages.
async fn run(shim: &Shim, which: &str) -> Option<serde_json::Value> {
    if !e2e().join("node_modules/@ai-sdk/openai").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs openai and the AI SDK: scripts/test runs npm ci --prefix tests/e2e"
        );
        eprintln!("skipping: run `npm ci --prefix tests/e2e` for openai-node and the AI SDK");
        return None;
    }
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(e2e().join("stored/clients.mjs"))
        .args([&shim.url(""), "m", which])
        .current_dir(e2e());
    Some(common::stored::client_json(&mut cmd, which).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_node_chains_retrieves_lists_and_deletes() {
    let up = FakeUpstream::start().await;
    let shim = Shim::start(Route::Chat.settings(&up), |_| {}).await;
    up.push(Route::Chat.text("Hello Ada."));
    up.push(Route::Chat.text("Your name is Ada."));
    let Some(_) = run(&shim, "openai").await else {
        return;
    };
    let seen = up.requests();
    assert_eq!(seen.len(), 2, "the 400 sent nothing upstream");
    assert_eq!(
        Route::Chat.lines(&seen[1].body),
        [
            "user: My name is Ada.",
            "assistant: Hello Ada.",
            "user: What is my name?"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_sdk_tool_loop_and_next_turn_resolve_its_item_references() {
    for route in [Route::Chat, Route::Anthropic] {
        let up = FakeUpstream::start().await;
        let shim = Shim::start(route.settings(&up), |_| {}).await;
        up.push(route.weather_call());
        up.push(route.text("It is 18C and sunny."));
        up.push(route.text("Tomorrow too."));
        let Some(out) = run(&shim, "ai-sdk").await else {
            return;
        };
        eprintln!("{route:?}: the AI SDK sent {}", out["inputs"]);
        let refs = |i: usize| {
            out["inputs"][i]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| *t == "item_reference")
                .count()
        };
        assert!(refs(1) >= 2 && refs(2) >= 3, "{route:?}: {}", out["inputs"]);
        let seen = up.requests();
        let requests: Vec<serde_json::Value> = seen.iter().map(|r| r.body.clone()).collect();
        assert_eq!(seen.len(), 3, "{route:?}");
        let id = route.call_id();
        let step = vec![
            "user: Weather in Paris?".to_string(),
            "reasoning: Paris, so the weather tool.".into(),
            "assistant: Let me check.".into(),
            format!("call {id} get_weather {{\"city\":\"Paris\"}}"),
            format!("result {id}: 18C and sunny"),
        ];
        assert_eq!(route.lines(&requests[1]), step, "{route:?} tool step");
        let next = [
            step,
            vec![
                "assistant: It is 18C and sunny.".into(),
                "user: And tomorrow?".into(),
            ],
        ]
        .concat();
        assert_eq!(route.lines(&requests[2]), next, "{route:?} next turn");
        if route == Route::Anthropic {
            for r in &requests[1..] {
                assert!(r.to_string().contains(common::stored::SIGNATURE), "{r}");
            }
        }
    }
}
