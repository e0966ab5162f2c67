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

struct Run {
    dir: tempfile::TempDir,
    config: PathBuf,
    port: u16,
    /// The app binary the probe starts: the cargo build, unless [`Run::install`] put a copy
    /// where an installed app lives.
    app: PathBuf,
}

impl Run {
    /// Two models, Codex's config enabled on `alpha` (port 8765), and a free port for the app.
    fn new() -> Option<Self> {
        if !(python().is_some() && have("xvfb-run") && have("dbus-run-session")) {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs xvfb-run, dbus-run-session and dbus-next: scripts/test installs them"
            );
            eprintln!(
                "skipping: needs xvfb-run, dbus-run-session and the dbus-next Python package"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("models.json"),
            serde_json::json!([
            {"model": "alpha-up", "slug": "alpha", "provider": "ollama"},
            {"model": "beta-up", "slug": "beta", "displayName": "Beta Model", "provider": "ollama"}])
            .to_string(),
        )
        .unwrap();
        let config = dir.path().join("codex-home/config.toml");
        codex_shim::codex::config::ConfigEditor::new(config.clone(), dir.path().join("state"))
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
        Some(Run {
            dir,
            config,
            port,
            app: env!("CARGO_BIN_EXE_codex-shim-tray").into(),
        })
    }

    /// Runs a copy of the app from `<tmp>/usr/bin`, as the .deb installs it (a cargo build may
    /// not start at login).
    fn install(mut self) -> Self {
        let bin = self.dir.path().join("usr/bin");
        std::fs::create_dir_all(&bin).unwrap();
        self.app = bin.join("codex-shim-tray");
        std::fs::copy(env!("CARGO_BIN_EXE_codex-shim-tray"), &self.app).unwrap();
        self
    }

    fn env(&self, cmd: &mut Command) {
        let d = self.dir.path();
        cmd.env("CODEX_SHIM_SETTINGS", d.join("models.json"))
            .env("CODEX_SHIM_PORT", self.port.to_string())
            .env("CODEX_SHIM_HOME", d.join("state"))
            .env("CODEX_HOME", d.join("codex-home"))
            .env("HOME", d)
            .env("CODEX_SHIM_DISABLE_CHATGPT", "1");
    }

    /// Runs the probe (as the desktop's tray host) and the app on a private bus and display.
    /// Returns the probe's report; panics with both logs when either failed.
    fn probe(&self, mode: &str) -> serde_json::Value {
        // One at a time: `xvfb-run -a` picks a free display number, racily.
        static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let py = python().unwrap();
        let probe = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tray_probe.py");
        let d = self.dir.path();
        // The host (watcher) first, then the app; both on the same private bus and display.
        let script = format!(
            r#"{py} {probe} {config} beta {mode} > "$REPORT" 2> "$PROBE_LOG" & P=$!
for i in $(seq 1 100); do grep -q "watcher ready" "$PROBE_LOG" && break; sleep 0.1; done
"$APP" > "$APP_LOG" 2>&1 & A=$!
wait $P; echo "probe=$?"
# If the probe failed before clicking Quit, do not wait for the app forever.
for i in $(seq 1 100); do kill -0 $A 2>/dev/null || break; sleep 0.1; done
kill $A 2>/dev/null; wait $A; echo "app=$?""#,
            probe = probe.display(),
            config = self.config.display()
        );
        let mut cmd = Command::new("timeout");
        cmd.args([
            "180",
            "dbus-run-session",
            "--",
            "xvfb-run",
            "-a",
            "bash",
            "-c",
            &script,
        ])
        .env("APP", &self.app)
        .env("REPORT", d.join("report.json"))
        .env("PROBE_LOG", d.join("probe.log"))
        .env("APP_LOG", d.join("app.log"));
        self.env(&mut cmd);
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let logs = format!(
            "{text}\n--- probe\n{}\n--- app\n{}",
            std::fs::read_to_string(d.join("probe.log")).unwrap_or_default(),
            std::fs::read_to_string(d.join("app.log")).unwrap_or_default()
        );
        assert!(text.contains("probe=0"), "{logs}");
        assert!(text.contains("app=0"), "Quit exits with 0: {logs}");
        serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap())
            .unwrap_or_else(|e| panic!("{e}: {logs}"))
    }
}

fn labels(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

#[test]
fn the_tray_lists_the_models_switches_one_and_quits() {
    let Some(run) = Run::new().map(Run::install) else {
        return;
    };
    let report = run.probe("main");
    let port = run.port;
    let labels = labels(&report["labels"]);
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
        report["status_with_usage"],
        format!("codex-shim: serving on 127.0.0.1:{port} · no requests today"),
        "{report}"
    );
    assert_eq!(
        report["second_instance_exit"], 0,
        "a second launch leaves the running instance alone: {report}"
    );
    assert_eq!(report["autostart_checked"], true, "{report}");
    assert!(
        !report["autostart_files"].as_array().unwrap().is_empty(),
        "Start at login writes an autostart entry: {report}"
    );
    let exec = report["autostart_exec"][0].as_str().unwrap_or_default();
    assert!(
        exec.contains(&run.app.display().to_string()),
        "the entry starts the installed app: {report}"
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
    assert!(std::fs::read_to_string(&run.config)
        .unwrap()
        .contains("model = \"beta\""));
}

#[test]
fn a_port_held_by_another_program_is_left_for_the_next_free_one() {
    let Some(run) = Run::new() else { return };
    let _holder = std::net::TcpListener::bind(("127.0.0.1", run.port)).unwrap();
    let report = run.probe("other-port");
    let before = labels(&report["before"]);
    assert!(
        before.contains(&format!("Port {} is in use by another program", run.port).as_str()),
        "{before:?}"
    );
    // This run is the cargo build itself: it offers no login item.
    assert!(
        before.contains(&"Start at login (needs the installed app)")
            && !before.contains(&"Start at login"),
        "{before:?}"
    );
    let offer = before
        .iter()
        .find(|l| l.starts_with("Serve on port"))
        .unwrap();
    let next: u16 = offer
        .trim_start_matches("Serve on port ")
        .trim_end_matches(" instead")
        .parse()
        .unwrap();
    assert!(next > run.port);
    let after = labels(&report["after"]);
    assert!(
        after
            .iter()
            .any(|l| l.starts_with(&format!("codex-shim: serving on 127.0.0.1:{next}"))),
        "{after:?}"
    );
    // Codex follows, and the next start uses the same port.
    assert!(
        report["config"]
            .as_str()
            .unwrap()
            .contains(&format!("http://127.0.0.1:{next}/v1")),
        "{}",
        report["config"]
    );
    let remembered = std::fs::read_to_string(run.dir.path().join("state/tray-port")).unwrap();
    assert_eq!(remembered.trim(), next.to_string());
}

#[test]
fn another_codex_shim_on_the_port_is_taken_over() {
    let Some(run) = Run::new() else { return };
    // The CLI binary sits next to the test binaries' directory (`cargo test --workspace` builds it).
    let cli = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .map(|d| d.join("codex-shim"))
        .filter(|p| p.exists());
    let Some(cli) = cli else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI builds the codex-shim binary before this test runs"
        );
        eprintln!("skipping: build the codex-shim binary first (cargo build)");
        return;
    };
    let mut start = Command::new(&cli);
    start.args(["start"]);
    run.env(&mut start);
    let out = start.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid_file = run.dir.path().join("state/shim.pid");
    let daemon: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pid_file).unwrap()).unwrap();
    let report = run.probe("takeover");
    let before = labels(&report["before"]);
    assert!(
        before.contains(
            &format!(
                "Port {}: another codex-shim (pid {}) serves there",
                run.port, daemon["pid"]
            )
            .as_str()
        ),
        "{before:?}"
    );
    let after = labels(&report["after"]);
    assert!(
        after
            .iter()
            .any(|l| l.starts_with(&format!("codex-shim: serving on 127.0.0.1:{}", run.port))),
        "{after:?}"
    );
    assert!(
        !pid_file.exists(),
        "the daemon was stopped through its pid file"
    );
}

/// The README's picture of the open tray menu: a real screenshot (see tray_screenshot.sh).
/// `CODEX_SHIM_UPDATE_SCREENSHOTS=1` copies it to docs/screenshots/tray-menu.png.
#[test]
fn a_screenshot_of_the_open_menu() {
    let tools = [
        "trayer",
        "xdotool",
        "scrot",
        "xwininfo",
        "curl",
        "xvfb-run",
        "dbus-run-session",
    ];
    if let Some(missing) = tools.iter().find(|t| !have(t)) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs {missing}: scripts/test installs it"
        );
        eprintln!("skipping: needs {missing}");
        return;
    }
    // The installed app, as a user sees it.
    let Some(run) = Run::new().map(Run::install) else {
        return;
    };
    // The README's models, with Claude active.
    std::fs::write(
        run.dir.path().join("models.json"),
        serde_json::json!([
            {"model": "claude-sonnet-4-5", "provider": "anthropic", "apiKey": "${ANTHROPIC_API_KEY}", "displayName": "Claude Sonnet 4.5"},
            {"model": "deepseek-v4-pro", "provider": "openai", "base_url": "https://api.deepseek.com", "displayName": "DeepSeek V4 Pro"},
            {"model": "moonshotai/kimi-k2", "displayName": "Kimi K2 (OpenRouter)", "provider": "openai", "baseUrl": "https://openrouter.ai/api/v1"},
            "qwen2.5-coder:14b"])
        .to_string(),
    )
    .unwrap();
    codex_shim::codex::config::ConfigEditor::new(run.config.clone(), run.dir.path().join("state"))
        .set_model("claude-sonnet-4-5")
        .unwrap();
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tray-menu.png");
    let _ = std::fs::remove_file(&shot);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tray_screenshot.sh");
    let mut cmd = Command::new("timeout");
    cmd.args([
        "120",
        "dbus-run-session",
        "--",
        "xvfb-run",
        "-a",
        "-s",
        "-screen 0 1000x700x24",
        "bash",
    ])
    .arg(&script)
    .arg(&shot)
    .env("APP", &run.app);
    run.env(&mut cmd);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let app_log =
        std::fs::read_to_string(format!("{}.app.log", shot.display())).unwrap_or_default();
    assert!(
        out.status.success() && text.contains("menu "),
        "{text}\n--- app\n{app_log}"
    );
    // A menu of this size: status, offer-free, four models, five actions, start at login, quit.
    let size = text
        .split("menu ")
        .nth(1)
        .unwrap()
        .split('+')
        .next()
        .unwrap();
    let (w, h) = size.trim().split_once('x').unwrap();
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    assert!(w > 200 && h > 250, "menu {w}x{h}");
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );
    if std::env::var_os("CODEX_SHIM_UPDATE_SCREENSHOTS").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::copy(&shot, docs.join("tray-menu.png")).unwrap();
    }
}
