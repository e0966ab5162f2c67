//! The tray app for real: under Xvfb and a private D-Bus session, a test tray host reads its menu
//! over StatusNotifierItem + dbusmenu, switches the model from it, and quits it.

use std::path::PathBuf;
use std::process::Command;

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn python() -> Option<String> {
    let py = std::env::var("CODEX_SHIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import dbus_next"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

#[test]
fn the_tray_lists_the_models_switches_one_and_quits() {
    let (Some(py), true, true) = (python(), have("xvfb-run"), have("dbus-run-session")) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs xvfb-run, dbus-run-session and dbus-next: scripts/test installs them"
        );
        eprintln!("skipping: needs xvfb-run, dbus-run-session and the dbus-next Python package");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("models.json");
    std::fs::write(
        &settings,
        serde_json::json!([
        {"model": "alpha-up", "slug": "alpha", "provider": "ollama"},
        {"model": "beta-up", "slug": "beta", "displayName": "Beta Model", "provider": "ollama"}])
        .to_string(),
    )
    .unwrap();
    let (codex_home, state) = (dir.path().join("codex-home"), dir.path().join("state"));
    let editor =
        codex_shim::codex::config::ConfigEditor::new(codex_home.join("config.toml"), state.clone());
    editor
        .enable(&codex_shim::codex::config::Managed {
            model: "alpha".into(),
            port: 8765,
            catalog: dir.path().join("catalog.json"),
        })
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let probe = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tray_probe.py");
    let config = codex_home.join("config.toml");
    // The host (watcher) first, then the app; both on the same private bus and display.
    let script = format!(
        r#"{py} {probe} {config} beta > "$REPORT" 2> "$PROBE_LOG" & P=$!
for i in $(seq 1 100); do grep -q "watcher ready" "$PROBE_LOG" && break; sleep 0.1; done
"$APP" > "$APP_LOG" 2>&1 & A=$!
wait $P; echo "probe=$?"
# If the probe failed before clicking Quit, do not wait for the app forever.
for i in $(seq 1 100); do kill -0 $A 2>/dev/null || break; sleep 0.1; done
kill $A 2>/dev/null; wait $A; echo "app=$?""#,
        probe = probe.display(),
        config = config.display()
    );
    let out = Command::new("timeout")
        .args([
            "180",
            "dbus-run-session",
            "--",
            "xvfb-run",
            "-a",
            "bash",
            "-c",
            &script,
        ])
        .env("APP", env!("CARGO_BIN_EXE_codex-shim-tray"))
        .env("REPORT", dir.path().join("report.json"))
        .env("PROBE_LOG", dir.path().join("probe.log"))
        .env("APP_LOG", dir.path().join("app.log"))
        .env("CODEX_SHIM_SETTINGS", &settings)
        .env("CODEX_SHIM_PORT", port.to_string())
        .env("CODEX_SHIM_HOME", &state)
        .env("CODEX_HOME", &codex_home)
        .env("HOME", dir.path())
        .env("CODEX_SHIM_DISABLE_CHATGPT", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let logs = || {
        format!(
            "{text}\n--- probe\n{}\n--- app\n{}",
            std::fs::read_to_string(dir.path().join("probe.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.path().join("app.log")).unwrap_or_default()
        )
    };
    assert!(text.contains("probe=0"), "{}", logs());
    assert!(text.contains("app=0"), "Quit exits with 0: {}", logs());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap_or_else(|e| panic!("{e}: {}", logs()));
    let labels: Vec<&str> = report["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        labels
            .iter()
            .any(|l| l.contains(&format!("serving on 127.0.0.1:{port}"))),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"alpha-up (alpha)")
            && labels.contains(&"Beta Model (beta)")
            && labels.contains(&"Quit"),
        "{labels:?}"
    );
    assert!(labels.contains(&"Start at login"), "{labels:?}");
    assert_eq!(
        report["second_instance_exit"], 0,
        "a second launch leaves the running instance alone: {report}"
    );
    assert_eq!(report["autostart_checked"], true, "{report}");
    assert!(
        !report["autostart_files"].as_array().unwrap().is_empty(),
        "Start at login writes an autostart entry: {report}"
    );
    assert_eq!(
        report["autostart_off"], true,
        "and unchecking removes it: {report}"
    );
    assert_eq!(report["switched"], true, "{report}");
    assert_eq!(
        report["checked"],
        serde_json::json!(["Beta Model (beta)"]),
        "the check mark moved"
    );
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("model = \"beta\""));
}
