//! Driving the UI in a real browser: Debian's Chromium through playwright-core (pinned in
//! tests/e2e). A test hands a script in tests/e2e/ui its settings as JSON and gets back the JSON
//! report the script prints last.

use std::path::PathBuf;

use serde_json::Value;

/// Debian's Chromium, when it and playwright-core are installed (CI requires both).
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let driver =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/node_modules/playwright-core");
    if path.exists() && driver.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs chromium and playwright-core: scripts/test installs them"
    );
    eprintln!(
        "skipping: needs /usr/bin/chromium (apt install chromium) and `npm ci --prefix tests/e2e`"
    );
    None
}

/// Runs `tests/e2e/ui/<script>` with `cfg` in `UI_TEST`; its report, which must not hold an error.
pub async fn run(script: &str, cfg: &Value) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e");
    let out = tokio::process::Command::new("node")
        .arg(format!("{dir}/ui/{script}"))
        .current_dir(dir)
        .env("UI_TEST", cfg.to_string())
        .env("NODE_PATH", format!("{dir}/node_modules"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        report.get("error").is_none(),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}
