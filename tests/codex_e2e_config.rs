//! The real Codex CLI after `enable` and `model use`: plain `codex exec`, with no `-c` flags, runs
//! on the chosen model through the shim; `disable` gives back the original config.toml.

mod common;

use common::codex::{codex_bin, show, Sandbox};
use common::fake::{FakeUpstream, Reply};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn enable_and_model_use_make_plain_codex_use_the_shim_and_disable_restores_the_config() {
    let Some(codex) = codex_bin() else { return };
    let up = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, json!([
        {"model": "first-upstream", "slug": "first", "provider": "generic-chat-completion-api", "base_url": up.base_url()},
        {"model": "chosen-upstream", "displayName": "The Chosen One", "provider": "generic-chat-completion-api", "base_url": up.base_url()}]).to_string()).unwrap();
    let original = "# my settings\r\nmodel = \"o3\"   # keep me\r\nmodel_reasoning_effort = \"low\"\r\n\r\n[profiles.old]\r\nmodel = \"o4-mini\"\r\n\r\n[model_providers.mine]\r\nname = \"Mine\"\r\nbase_url = \"http://127.0.0.1:1/v1\"\r\n";
    let config = sb.path("codex-home/config.toml");
    std::fs::write(&config, original).unwrap();
    let shim = |args: &[&str]| {
        let mut c = sb.shim(&settings, args);
        c.env("CODEX_SHIM_CODEX_BIN", &codex);
        c
    };
    let out = shim(&["enable"]).output().await.unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let out = shim(&["model", "use", "chosen one"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("`chosen-upstream`"),
        "{}",
        show(&out)
    );
    let out = shim(&["model", "list"]).output().await.unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("* chosen-upstream"),
        "{}",
        show(&out)
    );

    // Plain Codex: no -c flags, only its own config.toml.
    up.push(Reply::tool_call(
        "call_plain_1",
        "exec_command",
        &json!({"cmd": "echo plain > plain.txt"}).to_string(),
    ));
    up.push(Reply::text(&["Plain Codex used the shim."]));
    let out = tokio::process::Command::new(&codex)
        .args([
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
        ])
        .arg(sb.path("work"))
        .arg("Write plain.txt")
        .env("CODEX_HOME", sb.path("codex-home"))
        .env("HOME", sb.path("home"))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Plain Codex used the shim."),
        "{}",
        show(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("fallback metadata"),
        "{}",
        show(&out)
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("work/plain.txt")).unwrap(),
        "plain\n"
    );
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter().all(|r| r.body["model"] == "chosen-upstream"),
        "the chosen model served the turn"
    );

    let out = shim(&["disable"]).output().await.unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "config.toml is byte-identical to before"
    );
    assert_eq!(
        shim(&["status"]).output().await.unwrap().status.code(),
        Some(1),
        "disable stopped the shim"
    );
}
