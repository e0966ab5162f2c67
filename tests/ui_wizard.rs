//! The Codex Desktop wizard in a real browser (Debian's Chromium, playwright-core) against a
//! synthetic Codex.app: check, dry run, patch, restore; the bundle on disk is checked after.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::desktop::{make_app, normal_scripts};
use common::fake::{RecordingLauncher, Shim, UI_TOKEN};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_wizard_previews_patches_and_restores_the_app() {
    let Some(chromium) = common::browser::chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("Codex.app");
    make_app(&app, "26.519.41501", &normal_scripts());
    let read = |p: &str| std::fs::read(app.join(p)).unwrap();
    let original = (
        read("Contents/Resources/app.asar"),
        read("Contents/Info.plist"),
    );
    let app_for_shim = app.clone();
    let shim = Shim::start_ui_tuned(
        json!(["llama3"]),
        Arc::new(RecordingLauncher::default()),
        move |o| {
            o.desktop_app = app_for_shim;
        },
    )
    .await;
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wizard.png");
    let cfg =
        json!({"chromium": chromium, "shim": shim.url(""), "token": UI_TOKEN, "screenshot": shot});
    let report = common::browser::run("wizard.mjs", &cfg).await;

    assert!(
        report["checked"]
            .as_str()
            .unwrap()
            .contains("26.519.41501: not patched"),
        "{report}"
    );
    assert_eq!(report["step2_only"], json!(["2"]), "one step per screen");
    let before = report["before"].to_string();
    let after = report["after"].to_string();
    assert!(
        before.contains("useHiddenModels") && before.contains("modelProviders:null"),
        "{before}"
    );
    assert!(
        after.contains("let u=!1/*codex-shim*/") && after.contains("modelProviders:[]"),
        "{after}"
    );
    let steps = report["patch_steps"].to_string();
    for s in ["✓ backup", "✓ apply", "✓ verify", "✓ re-sign", "✓ done"] {
        assert!(steps.contains(s), "{s}: {steps}");
    }
    assert!(
        report["status_after_patch"]
            .as_str()
            .unwrap()
            .contains("patched"),
        "{report}"
    );
    assert!(
        report["rechecked"].as_str().unwrap().contains(": patched"),
        "{report}"
    );
    assert!(
        report["restored"]
            .as_str()
            .unwrap()
            .contains("restored Codex Desktop 26.519.41501"),
        "{report}"
    );
    // Restored byte for byte.
    assert_eq!(
        (
            read("Contents/Resources/app.asar"),
            read("Contents/Info.plist")
        ),
        original
    );
    if std::env::var_os("CODEX_SHIM_UPDATE_SCREENSHOTS").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::copy(&shot, docs.join("wizard.png")).unwrap();
    }
}
