//! API keys in a real OS keychain: the Secret Service (gnome-keyring under dbus-run-session) or
//! the kernel keyring, as `scripts/test` sets up. Set, resolve through `${NAME}` in a real
//! request, `keychain:NAME`, import from a plaintext file, delete; and the secrets appear in no
//! log line and no generated file.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use common::fake::{client, eventually, FakeUpstream, Reply, Shim};
use serde_json::json;

use codex_shim::secrets;
use codex_shim::settings::{Settings, SettingsSource};

fn backend_ready() -> bool {
    let probe = format!("CODEX_SHIM_PROBE_{}", std::process::id());
    let ok = secrets::set(&probe, "probe").is_ok()
        && secrets::get(&probe).ok().flatten().as_deref() == Some("probe");
    let _ = secrets::delete(&probe);
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI needs a keychain: scripts/test runs the tests under dbus-run-session with gnome-keyring (or keyctl session)");
        eprintln!("skipping: no keychain backend here (run ./scripts/test, which provides one)");
    }
    ok
}

fn shim_cmd(home: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_codex-shim"));
    c.args(args)
        .env("CODEX_SHIM_HOME", home.join("state"))
        .env("HOME", home.join("home"))
        .env("CODEX_HOME", home.join("codex"))
        .env_remove("CODEX_SHIM_SETTINGS");
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_live_in_the_keychain_and_nowhere_else() {
    if !backend_ready() {
        return;
    }
    let tag = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let name = format!("CODEX_SHIM_TEST_{tag}");
    let secret = format!("sk-keychain-secret-{tag}");
    let dir = tempfile::tempdir().unwrap();

    // `key set` reads the secret from stdin, never from argv.
    let mut set = shim_cmd(dir.path(), &["key", "set", &name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    set.stdin
        .take()
        .unwrap()
        .write_all(format!("{secret}\n").as_bytes())
        .unwrap();
    let out = set.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        secrets::get(&name).unwrap().as_deref(),
        Some(secret.as_str())
    );

    // `${NAME}` with no such environment variable resolves from the keychain, in a real request.
    let up = FakeUpstream::start().await;
    let shim = Shim::start(json!([
        {"model": "up", "slug": "by-ref", "provider": "openai", "base_url": up.base_url(), "apiKey": format!("${{{name}}}")},
        {"model": "up", "slug": "by-keychain", "provider": "openai", "base_url": up.base_url(), "apiKey": format!("keychain:{name}")},
        {"model": "up", "slug": "missing", "provider": "openai", "base_url": up.base_url(), "apiKey": format!("${{{name}_NOPE}}")}]), |_| {}).await;
    for slug in ["by-ref", "by-keychain"] {
        up.push(Reply::text(&["ok"]));
        let r = client()
            .post(shim.url("/v1/responses"))
            .json(&json!({"model": slug, "stream": true, "input": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{slug}");
    }
    assert!(up
        .requests()
        .iter()
        .all(|r| r.headers["authorization"] == format!("Bearer {secret}")));
    let r = client()
        .post(shim.url("/v1/responses"))
        .json(&json!({"model": "missing", "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.contains(&format!("`{name}_NOPE`"))
            && text.contains("model `missing`")
            && text.contains("environment variable")
            && text.contains("keychain entry"),
        "{text}"
    );

    // `key import` moves a plaintext key into the keychain and rewrites the file in place.
    let imported_secret = format!("sk-plaintext-{tag}");
    let slug = format!("imp-{}", tag.replace('_', "-"));
    let settings = dir.path().join("models.json");
    let original = format!("{{\n  \"models\": [\n    {{\"model\": \"up\", \"slug\": \"{slug}\", \"provider\": \"openai\",\n     \"base_url\": \"{}\", \"apiKey\": \"{imported_secret}\"}}\n  ]\n}}\n", up.base_url());
    std::fs::write(&settings, &original).unwrap();
    let out = shim_cmd(
        dir.path(),
        &["--settings", settings.to_str().unwrap(), "key", "import"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let imported_name = codex_shim::keys::key_name_for(&slug);
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        original.replace(
            &format!("\"{imported_secret}\""),
            &format!("\"${{{imported_name}}}\"")
        )
    );
    assert_eq!(
        secrets::get(&imported_name).unwrap().as_deref(),
        Some(imported_secret.as_str())
    );
    let loaded = Settings::load(&SettingsSource::Explicit(settings.clone())).unwrap();
    assert_eq!(
        loaded.models[0].resolve().unwrap().api_key.as_deref(),
        Some(imported_secret.as_str())
    );
    let out = shim_cmd(
        dir.path(),
        &["--settings", settings.to_str().unwrap(), "key", "list"],
    )
    .output()
    .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&imported_name) && listed.contains("keychain") && listed.contains(&slug),
        "{listed}"
    );

    // The real binary serves the imported model; its logs (at trace level) hold no secret.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = shim_cmd(
        dir.path(),
        &[
            "--settings",
            settings.to_str().unwrap(),
            "--port",
            &port.to_string(),
            "serve",
        ],
    )
    .env("CODEX_SHIM_LOG", "trace")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    assert!(eventually(10, || codex_shim::daemon::health(port).is_some()).await);
    up.push(Reply::text(&["served"]));
    let r = client()
        .post(format!("http://127.0.0.1:{port}/v1/responses"))
        .json(&json!({"model": slug, "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        up.requests().last().unwrap().headers["authorization"],
        format!("Bearer {imported_secret}")
    );
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    serve.wait().unwrap();
    let mut logs = String::new();
    serve
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    serve
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("request"), "{logs}");
    let out = shim_cmd(
        dir.path(),
        &["--settings", settings.to_str().unwrap(), "generate"],
    )
    .output()
    .unwrap();
    assert!(out.status.success());

    // No secret in the logs, the settings file, the catalog, or anything in the state dir.
    let mut files = String::new();
    for entry in walk(dir.path()) {
        files.push_str(&String::from_utf8_lossy(
            &std::fs::read(&entry).unwrap_or_default(),
        ));
    }
    assert!(
        files.contains("\"models\""),
        "the walk read the generated files"
    );
    for s in [&secret, &imported_secret] {
        assert!(!logs.contains(s.as_str()), "a secret is in the log");
        assert!(
            !files.contains(s.as_str()),
            "a secret is in a file under {}",
            dir.path().display()
        );
    }

    // `key delete` removes it.
    for n in [&name, &imported_name] {
        let out = shim_cmd(dir.path(), &["key", "delete", n])
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Deleted"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(secrets::get(n).unwrap(), None);
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
