//! The `codex-shim` binary: serve, the daemon commands, listing and errors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Env {
    dir: tempfile::TempDir,
    port: u16,
}

impl Env {
    fn new() -> Self {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Env { dir, port }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_codex-shim"));
        c.arg("--port").arg(self.port.to_string()).args(args);
        c.env("HOME", self.path("home"))
            .env("CODEX_SHIM_HOME", self.path("state"))
            .env("CODEX_HOME", self.path("codex"))
            .env_remove("CODEX_SHIM_SETTINGS");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.run(&["stop"]);
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn serve_starts_without_config_and_says_what_it_serves_and_where_it_looked() {
    let env = Env::new();
    let mut child = env
        .cmd(&["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(lines.next().unwrap().unwrap());
    }
    assert_eq!(
        seen[0],
        format!(
            "codex-shim {} listening on http://127.0.0.1:{}",
            codex_shim::VERSION,
            env.port
        )
    );
    assert!(seen[1].starts_with("serving 0 models"), "{seen:?}");
    let home = env.path("home");
    assert!(
        seen[2].contains(&format!(
            "{} (not found)",
            home.join(".factory/settings.json").display()
        )),
        "{seen:?}"
    );
    assert!(
        seen[2].contains(&format!(
            "{} (not found)",
            home.join(".codex-shim/models.json").display()
        )),
        "{seen:?}"
    );
    // SIGTERM shuts it down gracefully.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn start_status_stop_manage_one_background_server() {
    let env = Env::new();
    let o = env.run(&["start"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("started on http://127.0.0.1:{}", env.port)),
        "{}",
        text(&o)
    );
    let o = env.run(&["status"]);
    assert!(
        o.status.success() && text(&o).contains("is running"),
        "{}",
        text(&o)
    );
    let o = env.run(&["start"]);
    assert!(
        o.status.success() && text(&o).contains("already running"),
        "{}",
        text(&o)
    );
    let o = env.run(&["stop"]);
    assert!(
        o.status.success() && text(&o).contains("stopped"),
        "{}",
        text(&o)
    );
    let o = env.run(&["status"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("stopped"));
    assert!(!env.path("state/shim.pid").exists());
}

#[test]
fn stop_never_signals_a_process_that_is_not_the_shim() {
    let env = Env::new();
    let mut stranger = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::create_dir_all(env.path("state")).unwrap();
    std::fs::write(
        env.path("state/shim.pid"),
        format!("{{\"pid\":{},\"port\":{}}}", stranger.id(), env.port),
    )
    .unwrap();
    let o = env.run(&["stop"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("left that process alone"), "{}", text(&o));
    assert!(
        stranger.try_wait().unwrap().is_none(),
        "the unrelated process was killed"
    );
    assert_eq!(env.run(&["status"]).status.code(), Some(1));
    stranger.kill().unwrap();
    let _ = stranger.wait();
}

#[test]
fn take_over_stops_the_daemon_or_a_foreground_shim_and_nothing_else() {
    use codex_shim::daemon::{port_owner, take_over, PortOwner};
    let env = Env::new();
    let pid_file = env.path("state/shim.pid");
    assert_eq!(port_owner(env.port), PortOwner::Free);
    // The recorded daemon.
    assert!(env.run(&["start"]).status.success());
    let PortOwner::Shim(pid) = port_owner(env.port) else {
        panic!("the daemon is codex-shim")
    };
    assert!(pid > 0);
    let said = take_over(env.port, &pid_file).unwrap();
    assert!(said.contains(&format!("pid {pid}")), "{said}");
    assert_eq!(port_owner(env.port), PortOwner::Free);
    assert!(!pid_file.exists());
    // `serve` in a terminal (no pid file).
    let mut fg = env.cmd(&["serve"]).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(port_owner(env.port), PortOwner::Shim(_)) {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    take_over(env.port, &pid_file).unwrap();
    assert!(fg.wait().unwrap().success(), "SIGTERM is a graceful stop");
    // Another program's port is never touched.
    let holder = std::net::TcpListener::bind(("127.0.0.1", env.port)).unwrap();
    assert_eq!(port_owner(env.port), PortOwner::Other);
    let e = take_over(env.port, &pid_file).unwrap_err().to_string();
    assert!(e.contains("not held by codex-shim"), "{e}");
    let next = codex_shim::daemon::free_port_after(env.port).unwrap();
    assert!(next > env.port && std::net::TcpListener::bind(("127.0.0.1", next)).is_ok());
    drop(holder);
}

#[test]
fn start_refuses_a_port_another_program_holds() {
    let env = Env::new();
    let holder = std::net::TcpListener::bind(("127.0.0.1", env.port)).unwrap();
    let o = env.run(&["start"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!("port {} is in use by another program", env.port)),
        "{}",
        text(&o)
    );
    drop(holder);
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

#[test]
fn list_reads_both_default_files_and_bad_settings_name_file_model_and_field() {
    let env = Env::new();
    write(
        &env.path("home/.factory/settings.json"),
        r#"{"customModels":[{"model":"glm-4.6","displayName":"GLM","provider":"generic-chat-completion-api","baseUrl":"https://api.z.ai/api/paas/v4","apiKey":"${ZAI_KEY}"}]}"#,
    );
    write(
        &env.path("home/.codex-shim/models.json"),
        r#"{"models":["llama3.2"]}"#,
    );
    let o = env.run(&["list"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "  glm-4-6   GLM  ->  glm-4.6 (generic-chat-completion-api)\n  llama3-2  llama3.2  ->  llama3.2 (ollama)\n");
    assert_eq!(env.run(&["model", "list"]).stdout, o.stdout);

    let bad = env.path("bad.json");
    write(
        &bad,
        r#"{"models":[{"model":"a","provider":"ollama"},{"model":"b","provider":"ollama","noImageSupport":"nope"}]}"#,
    );
    let o = env
        .cmd(&["--settings", bad.to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim(), format!("codex-shim: {}: model #1, field `noImageSupport`: expected true or false, found \"nope\"", bad.display()));
    let o = env
        .cmd(&["--settings", "/nonexistent/models.json", "generate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("/nonexistent/models.json: settings file not found"),
        "{}",
        text(&o)
    );
    let o = env
        .cmd(&["list"])
        .env("HOME", env.path("empty-home"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("No models configured"), "{}", text(&o));
}

#[test]
fn help_describes_the_commands_with_examples() {
    let o = Command::new(env!("CARGO_BIN_EXE_codex-shim"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "serve",
        "start",
        "stop",
        "restart",
        "status",
        "generate",
        "list",
        "codex",
        "--settings",
        "--port",
        "Examples:",
        "codex-shim codex -m",
        "patch-app",
        "restore-app",
        "codex-shim patch-app --dry-run",
        "codex-shim store info",
        "CODEX_SHIM_STORE_RETENTION_DAYS",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn store_info_and_clear_report_and_empty_the_stored_responses() {
    let env = Env::new();
    let o = env.run(&["store", "info"]);
    assert!(
        o.status.success() && text(&o).starts_with("0 stored response(s), 0 B"),
        "{}",
        text(&o)
    );
    let db = env.path("state").join(codex_shim::store::FILE_NAME);
    let mut store = codex_shim::store::Store::open(&db).unwrap();
    store
        .save_response(&codex_shim::store::StoredResponse {
            id: "resp_1".into(),
            created_at: 1,
            model: "m".into(),
            previous_response_id: None,
            response: serde_json::json!({"id": "resp_1", "object": "response"}),
            input: vec![serde_json::json!({"type": "message", "id": "msg_1", "role": "user", "content": "hi"})],
            output: Vec::new(),
        })
        .unwrap();
    drop(store);
    let o = env.run(&["store", "info"]);
    assert!(
        text(&o).starts_with("1 stored response(s), ")
            && text(&o).contains(&db.display().to_string())
            && text(&o).contains("Kept 30 days"),
        "{}",
        text(&o)
    );
    let o = env.run(&["store", "clear"]);
    assert!(
        text(&o).starts_with("Deleted 1 stored response(s)"),
        "{}",
        text(&o)
    );
    let o = env.run(&["store", "info"]);
    assert!(text(&o).starts_with("0 stored response(s)"), "{}", text(&o));
}

#[test]
fn the_readme_settings_example_loads_as_documented() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("Put models in `~/.codex-shim/models.json`:\n\n```json\n")
        .expect("example present")
        + 51;
    let json = &readme[start..start + readme[start..].find("```").unwrap()];
    let env = Env::new();
    let file = env.path("readme.json");
    write(&file, json);
    let o = env
        .cmd(&["--settings", file.to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let listed = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        readme.contains(&listed),
        "the README's `codex-shim list` output is out of date:\n{listed}"
    );
}

#[test]
fn a_running_server_picks_up_settings_changes_and_reports_broken_ones() {
    let env = Env::new();
    let file = env.path("models.json");
    write(&file, r#"["llama3.2"]"#);
    let settings = file.to_str().unwrap();
    assert!(env.run(&["--settings", settings, "start"]).status.success());
    write(&file, r#"["llama3.2", "qwen3"]"#);
    let o = env.run(&["--settings", settings, "start"]);
    assert!(
        text(&o).contains("already running")
            && text(&o).contains("(2 models)")
            && !text(&o).contains("restart"),
        "{}",
        text(&o)
    );
    write(
        &file,
        r#"["llama3.2", "qwen3", {"model": "x", "provider": "nope"}]"#,
    );
    let o = env.run(&["--settings", settings, "start"]);
    assert!(
        text(&o).contains("still serves the last good ones")
            && text(&o).contains("unknown provider \"nope\""),
        "{}",
        text(&o)
    );
    let o = env.run(&["status"]);
    assert!(
        text(&o).contains("(2 models)") && text(&o).contains("model #2, field `provider`"),
        "{}",
        text(&o)
    );
}

#[test]
fn app_enables_the_shim_then_says_when_there_is_no_desktop_app() {
    let env = Env::new();
    let settings = env.path("models.json");
    write(&settings, r#"["llama3.2", "qwen3"]"#);
    // The pinned Codex CLI on Linux has no `app` command: the honest answer is a clear message.
    let codex = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/node_modules/codex-0.171.0/bin/codex.js"
    );
    let o = env
        .cmd(&[
            "--settings",
            settings.to_str().unwrap(),
            "app",
            "-m",
            "qwen3",
            ".",
        ])
        .env("CODEX_SHIM_CODEX_BIN", codex)
        .output()
        .unwrap();
    if !std::path::Path::new(codex).exists() {
        return; // codex_e2e.rs insists on the pinned CLI under CI
    }
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("Codex Desktop is not available on this platform"),
        "{}",
        text(&o)
    );
    let config = std::fs::read_to_string(env.path("codex/config.toml")).unwrap();
    assert!(
        config.contains("model = \"qwen3\"") && config.contains("[model_providers.codex_shim]"),
        "{config}"
    );
    assert!(
        env.run(&["status"]).status.success(),
        "the shim is running for the app"
    );
}

/// An `enable` that must refuse (config.toml is not valid TOML) refuses before anything starts or
/// is written; `model use` afterwards still switches the shim's own model and says Codex's config
/// was not changed.
#[test]
fn a_refused_enable_leaves_nothing_running_and_model_use_still_works() {
    let env = Env::new();
    let settings = env.path("models.json");
    write(&settings, r#"["llama3.2", "qwen3"]"#);
    let config = env.path("codex/config.toml");
    let broken = "model = \"o3\"\n[profiles\nmodel = \"x\"\n";
    write(&config, broken);
    let s = settings.to_str().unwrap();
    let o = env.run(&["--settings", s, "enable"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("is not valid TOML, so codex-shim left it unchanged")
            && text(&o).contains("line 2"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), broken);
    let o = env.run(&["status"]);
    assert_eq!(o.status.code(), Some(1), "no server was left: {}", text(&o));
    assert!(!env.path("state/shim.pid").exists());
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", env.port)).is_ok(),
        "the port is free"
    );
    assert!(!env.path("state/backups").exists(), "nothing was backed up");

    let o = env.run(&["--settings", s, "model", "use", "qwen3"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Active model: `qwen3`")
            && text(&o).contains(&format!("{} was not changed", config.display())),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), broken);
    let o = env.run(&["--settings", s, "model", "list"]);
    assert!(text(&o).contains("* qwen3"), "{}", text(&o));
    assert_eq!(env.run(&["status"]).status.code(), Some(1));
}
