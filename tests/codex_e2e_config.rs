//! The real Codex CLI after `enable` and `model use`: plain `codex exec`, with no `-c` flags, runs
//! on the chosen model through the shim; `disable` gives back the original config.toml, and a
//! second `disable` changes nothing, even in a file that named the shim before `enable`.

mod common;

use common::codex::{show, Codex, Sandbox};
use common::fake::{FakeUpstream, Reply};
use serde_json::json;

codex_e2e!(
    enable_and_model_use_make_plain_codex_use_the_shim_and_disable_restores_the_config,
    a_shim_table_from_an_older_install_survives_a_second_disable,
);

async fn enable_and_model_use_make_plain_codex_use_the_shim_and_disable_restores_the_config(
    codex: Codex,
) {
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
    let out = plain_codex(&codex, &sb, "Write plain.txt").await;
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

/// Plain `codex exec` in `sb` (its own config.toml only); returns its output.
async fn plain_codex(codex: &Codex, sb: &Sandbox, prompt: &str) -> std::process::Output {
    tokio::process::Command::new(codex)
        .args([
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
        ])
        .arg(sb.path("work"))
        .arg(prompt)
        .env("CODEX_HOME", sb.path("codex-home"))
        .env("HOME", sb.path("home"))
        // The older install's table names a key variable of its own (the user's addition).
        .env("SHIM_TOKEN", "token-from-the-older-install")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap()
}

async fn a_shim_table_from_an_older_install_survives_a_second_disable(codex: Codex) {
    let up = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(&settings, json!([
        {"model": "model-a", "slug": "a", "provider": "generic-chat-completion-api", "base_url": up.base_url()},
        {"model": "model-b", "slug": "b", "provider": "generic-chat-completion-api", "base_url": up.base_url()}]).to_string()).unwrap();
    let original = common::read_fixture("config/shim-table-from-older-install.toml");
    let config = sb.path("codex-home/config.toml");
    std::fs::write(&config, &original).unwrap();
    let shim = |args: &[&str]| {
        let mut c = sb.shim(&settings, args);
        c.env("CODEX_SHIM_CODEX_BIN", &codex.bin);
        c
    };
    let run = |args: &'static [&'static str]| {
        let mut c = shim(args);
        async move {
            let out = c.output().await.unwrap();
            assert!(out.status.success(), "{args:?}: {}", show(&out));
            out
        }
    };
    run(&["enable"]).await;
    let first_enabled = std::fs::read_to_string(&config).unwrap();
    for m in ["a", "b", "a"] {
        let args: &'static [&'static str] = match m {
            "a" => &["model", "use", "a"],
            _ => &["model", "use", "b"],
        };
        run(args).await;
    }
    up.push(Reply::text(&["Model A answered."]));
    let out = plain_codex(&codex, &sb, "Say something").await;
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Model A answered."),
        "{}",
        show(&out)
    );
    assert_eq!(up.requests()[0].body["model"], "model-a");

    run(&["disable"]).await;
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "the first disable"
    );
    let out = run(&["disable"]).await;
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "the second disable changes nothing"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("was left unchanged"),
        "{}",
        show(&out)
    );
    run(&["enable"]).await;
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        first_enabled,
        "enable → disable → enable gives the first enabled file again"
    );
    up.push(Reply::text(&["Enabled again."]));
    let out = plain_codex(&codex, &sb, "Again").await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Enabled again."),
        "{}",
        show(&out)
    );
    run(&["disable"]).await;
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
}
