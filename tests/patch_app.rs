//! `patch-app` / `restore-app` on a synthetic Codex.app (Contents/Info.plist with
//! ElectronAsarIntegrity, Contents/Resources/app.asar): patch, "already patched", restore byte for
//! byte, refusals that change nothing, update detection, and rollback when re-signing fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use codex_shim::patch::asar::{sha256_hex, Archive};
use common::desktop::{make_app, normal_scripts, PICKER, SIDEBAR};

struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    fn new(scripts: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        make_app(&dir.path().join("Codex.app"), "26.519.41501", scripts);
        Fx { dir }
    }
    fn app(&self) -> PathBuf {
        self.dir.path().join("Codex.app")
    }
    fn files(&self) -> (Vec<u8>, Vec<u8>) {
        (
            std::fs::read(self.app().join("Contents/Resources/app.asar")).unwrap(),
            std::fs::read(self.app().join("Contents/Info.plist")).unwrap(),
        )
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_codex-shim"));
        c.args(args)
            .env("CODEX_SHIM_HOME", self.dir.path().join("state"))
            .env("CODEX_SHIM_CODEX_APP", self.app())
            .env("HOME", self.dir.path())
            .env("CODEX_SHIM_PORT", "1");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
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
fn patch_then_already_patched_then_restore_byte_for_byte() {
    let fx = Fx::new(&normal_scripts());
    let (asar0, plist0) = fx.files();
    let app = fx.app();
    let app = app.to_str().unwrap();

    // Dry run: the exact before/after, nothing written.
    let o = fx.run(&["patch-app", "--app", app, "--dry-run"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains(&format!("- {PICKER}")) && t.contains("+ let u=!1/*codex-shim*/"),
        "{t}"
    );
    assert!(t.contains("modelProviders:[]"), "{t}");
    assert!(t.contains("nothing was changed"), "{t}");
    assert_eq!(fx.files(), (asar0.clone(), plist0.clone()));

    let o = fx.run(&["patch-app", "--app", app]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for step in [
        "detect", "dry run", "running", "backup", "apply", "verify", "re-sign", "done",
    ] {
        assert!(t.contains(&format!("✓ {step}")), "step {step}: {t}");
    }
    assert!(t.contains("re-signing needs macOS"), "{t}");
    let (asar1, plist1) = fx.files();
    let archive = Archive::parse(asar1.clone()).unwrap();
    // The plist's hash is the SHA-256 of the new header.
    let plist_hash = codex_shim::patch::info_plist::integrity_hash(&plist1).unwrap();
    assert_eq!(plist_hash, sha256_hex(archive.header_string().as_bytes()));
    assert_eq!(
        String::from_utf8(plist1.clone()).unwrap(),
        String::from_utf8(plist0.clone()).unwrap().replace(
            &codex_shim::patch::info_plist::integrity_hash(&plist0).unwrap(),
            &plist_hash
        ),
        "only the hash changed in Info.plist"
    );
    let picker = std::str::from_utf8(archive.read("webview/assets/model-queries-Ab1.js").unwrap())
        .unwrap()
        .to_string();
    assert!(
        picker.contains("let u=!1/*codex-shim*/") && !picker.contains("useHiddenModels"),
        "{picker}"
    );
    assert_eq!(
        archive.read("webview/assets/vendor-Ef3.js").unwrap(),
        b"var x=1;"
    );

    // Again: already patched, nothing written.
    let o = fx.run(&["patch-app", "--app", app]);
    assert!(
        o.status.success() && text(&o).contains("already patched"),
        "{}",
        text(&o)
    );
    assert_eq!(fx.files(), (asar1, plist1));
    let o = fx.run(&["status"]);
    assert!(
        text(&o).contains("Codex Desktop 26.519.41501: patched"),
        "{}",
        text(&o)
    );

    let o = fx.run(&["restore-app", "--app", app]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(fx.files(), (asar0, plist0), "restored byte for byte");
    let o = fx.run(&["status"]);
    assert!(text(&o).contains("not patched"), "{}", text(&o));
}

#[test]
fn refusals_name_the_problem_and_change_nothing() {
    let twice = vec![
        ("model-queries-Ab1.js", format!("{PICKER}{PICKER}")),
        (
            "app-server-manager-signals-Cd2.js",
            format!("class M{{{SIDEBAR}}}"),
        ),
    ];
    let absent = vec![
        (
            "model-queries-Ab1.js",
            "let u=c.useHiddenModels||o;".to_string(),
        ),
        (
            "app-server-manager-signals-Cd2.js",
            format!("class M{{{SIDEBAR}}}"),
        ),
    ];
    for (scripts, why) in [
        (absent, "Could not find the model picker allowlist filter"),
        (twice, "Found the model picker allowlist filter 2 times"),
    ] {
        let fx = Fx::new(&scripts);
        let before = fx.files();
        let o = fx.run(&["patch-app", "--app", fx.app().to_str().unwrap()]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(
            t.contains(why) && t.to_lowercase().contains("nothing was changed"),
            "{t}"
        );
        assert_eq!(fx.files(), before);
    }
    // A corrupted archive.
    let fx = Fx::new(&normal_scripts());
    let asar = fx.app().join("Contents/Resources/app.asar");
    let mut bytes = std::fs::read(&asar).unwrap();
    bytes.truncate(bytes.len() - 5);
    std::fs::write(&asar, &bytes).unwrap();
    let before = fx.files();
    let o = fx.run(&["patch-app", "--app", fx.app().to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).contains("corrupted ASAR archive"),
        "{}",
        text(&o)
    );
    assert_eq!(fx.files(), before);
    // A plist without the integrity key.
    let fx = Fx::new(&normal_scripts());
    let p = fx.app().join("Contents/Info.plist");
    std::fs::write(
        &p,
        std::fs::read_to_string(&p)
            .unwrap()
            .replace("ElectronAsarIntegrity", "Other"),
    )
    .unwrap();
    let before = fx.files();
    let o = fx.run(&["patch-app", "--app", fx.app().to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).contains("no `ElectronAsarIntegrity` key"),
        "{}",
        text(&o)
    );
    assert_eq!(fx.files(), before);
    // No app at all.
    let o = fx.run(&["patch-app", "--app", "/nonexistent/Codex.app"]);
    assert!(
        !o.status.success() && text(&o).contains("not installed at /nonexistent/Codex.app"),
        "{}",
        text(&o)
    );
}

#[cfg(unix)]
#[test]
fn a_read_only_bundle_is_refused_before_anything_is_written() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fx::new(&normal_scripts());
    let before = fx.files();
    let set = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let app = fx.app();
    for f in ["Contents/Resources/app.asar", "Contents/Info.plist"] {
        set(&app.join(f), 0o444);
    }
    for d in ["Contents/Resources", "Contents", ""] {
        set(&app.join(d), 0o555);
    }
    // The state directory stays writable (by anyone: the run below may be another user).
    let state = fx.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    set(&state, 0o777);
    set(fx.dir.path(), 0o755);
    let mut cmd = fx.cmd(&["patch-app", "--app", app.to_str().unwrap()]);
    // Root may write anywhere, so run as nobody there.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        let inner = std::mem::replace(&mut cmd, Command::new("setpriv"));
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(inner.get_program())
            .args(inner.get_args())
            .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    }
    let o = cmd.output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("cannot write to")
            && t.contains("App Management")
            && t.contains("Nothing was changed"),
        "{t}"
    );
    assert!(!t.contains("✓ backup"), "refused before the backup: {t}");
    for d in ["", "Contents", "Contents/Resources"] {
        set(&app.join(d), 0o755);
    }
    assert_eq!(fx.files(), before);
}

#[test]
fn a_codex_update_that_undoes_the_patch_is_detected() {
    let fx = Fx::new(&normal_scripts());
    assert!(
        fx.run(&["patch-app"]).status.success(),
        "CODEX_SHIM_CODEX_APP is the default app"
    );
    // Codex updates itself: a new, unpatched archive and version.
    let mut newer = normal_scripts();
    newer.push(("new-feature-Gh4.js", "var y=2;".into()));
    make_app(&fx.app(), "26.601.10000", &newer);
    let o = fx.run(&["status"]);
    let t = text(&o);
    assert!(
        t.contains("updated itself (26.519.41501 → 26.601.10000)") && t.contains("patch it again"),
        "{t}"
    );
    // Restoring needs a backup of *this* version: the older one is listed, not used.
    let o = fx.run(&["restore-app"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("no backup for Codex Desktop 26.601.10000") && t.contains("26.519.41501"),
        "{t}"
    );
    // Patching again works on the new version.
    let o = fx.run(&["patch-app"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&fx.run(&["status"])).contains("26.601.10000: patched"));
}

/// macOS: codesign is run on the bundle; when it fails, the backup is put back.
#[test]
fn re_signing_runs_codesign_and_a_failure_rolls_back() {
    use codex_shim::desktop::{Platform, Runner};
    use codex_shim::patch::{apply, Bundle, Options};
    struct Mac {
        codesign_ok: bool,
        calls: std::sync::Mutex<Vec<String>>,
    }
    impl Runner for Mac {
        fn run(&self, program: &str, args: &[&str]) -> std::io::Result<(i32, String)> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{program} {}", args.join(" ")));
            Ok(match program {
                "pgrep" => (1, String::new()),
                "codesign" if self.codesign_ok => (0, String::new()),
                "codesign" => (
                    1,
                    "resource fork, Finder information, or similar detritus not allowed".into(),
                ),
                _ => (0, String::new()),
            })
        }
        fn spawn(&self, _: &str, _: &[&str], _: &[(String, String)]) -> std::io::Result<()> {
            Ok(())
        }
    }
    let opts = Options {
        dry_run: false,
        quit_running: false,
        platform: Platform::MacOs,
    };
    for ok in [true, false] {
        let fx = Fx::new(&normal_scripts());
        let before = fx.files();
        let mac = Mac {
            codesign_ok: ok,
            calls: Default::default(),
        };
        let r = apply(
            &Bundle::new(fx.app()),
            &fx.dir.path().join("state"),
            &mac,
            opts,
        );
        let calls = mac.calls.lock().unwrap().clone();
        assert!(
            calls.contains(&format!(
                "codesign --force --deep --sign - {}",
                fx.app().display()
            )),
            "{calls:?}"
        );
        if ok {
            assert!(r.ok && r.changed, "{r:?}");
            assert!(r.summary().contains("patched Codex Desktop"));
            assert_ne!(fx.files(), before);
        } else {
            assert!(!r.ok && !r.changed, "{r:?}");
            let last = r.steps.last().unwrap();
            assert!(last.step == "rollback" && last.ok, "{r:?}");
            assert!(r
                .steps
                .iter()
                .any(|s| s.step == "re-sign" && s.detail.contains("detritus")));
            assert_eq!(fx.files(), before, "the backup was put back");
        }
    }
}

/// Quitting Codex can install a pending update. The patch then works on what is on disk after the
/// quit: when that is not what was checked, nothing is backed up or written.
#[test]
fn an_update_installed_while_codex_quits_is_noticed_and_nothing_is_written() {
    use codex_shim::desktop::{Platform, Runner};
    use codex_shim::patch::{apply, Bundle, Options};
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Codex is running until asked to quit; quitting installs an update.
    struct UpdatesOnQuit {
        running: AtomicBool,
        app: PathBuf,
    }
    impl Runner for UpdatesOnQuit {
        fn run(&self, program: &str, _: &[&str]) -> std::io::Result<(i32, String)> {
            match program {
                "pgrep" => Ok((
                    if self.running.load(Ordering::SeqCst) {
                        0
                    } else {
                        1
                    },
                    String::new(),
                )),
                "osascript" => {
                    let mut newer = normal_scripts();
                    newer.push(("new-feature-Gh4.js", "var y=2;".into()));
                    make_app(&self.app, "26.601.10000", &newer);
                    self.running.store(false, Ordering::SeqCst);
                    Ok((0, String::new()))
                }
                _ => Ok((0, String::new())),
            }
        }
        fn spawn(&self, _: &str, _: &[&str], _: &[(String, String)]) -> std::io::Result<()> {
            Ok(())
        }
    }
    let fx = Fx::new(&normal_scripts());
    let runner = UpdatesOnQuit {
        running: AtomicBool::new(true),
        app: fx.app(),
    };
    let opts = Options {
        dry_run: false,
        quit_running: true,
        platform: Platform::Other,
    };
    let state = fx.dir.path().join("state");
    let r = apply(&Bundle::new(fx.app()), &state, &runner, opts);
    assert!(!r.ok && !r.changed, "{r:?}");
    let last = r.steps.last().unwrap();
    assert!(
        last.step == "check"
            && last.detail.contains("changed on disk")
            && last.detail.contains("26.601.10000"),
        "{r:?}"
    );
    assert!(
        r.steps.iter().any(|s| s.step == "running" && s.ok),
        "it was quit first: {r:?}"
    );
    // The updated app is left exactly as the update wrote it, and no backup was taken of it.
    let updated = tempfile::tempdir().unwrap();
    let mut newer = normal_scripts();
    newer.push(("new-feature-Gh4.js", "var y=2;".into()));
    make_app(&updated.path().join("Codex.app"), "26.601.10000", &newer);
    let expected = Fx { dir: updated }.files();
    assert_eq!(fx.files(), expected);
    assert!(!state.join("desktop-backups").exists(), "nothing backed up");
    // Patching again works on the new version.
    let r = apply(&Bundle::new(fx.app()), &state, &runner, opts);
    assert!(r.ok && r.changed, "{r:?}");
}

/// A patch interrupted between its two writes (app.asar written, Info.plist not yet): Codex would
/// not start. `status` says so, `patch-app` finishes it (the plist's hash only), and `restore-app`
/// still puts the original back byte for byte.
#[test]
fn an_interrupted_patch_is_reported_and_patch_app_finishes_it() {
    let fx = Fx::new(&normal_scripts());
    let (orig_asar, orig_plist) = fx.files();
    assert!(fx.run(&["patch-app"]).status.success());
    let patched_asar = fx.files().0;
    // The crash: the old Info.plist beside the patched archive.
    std::fs::write(fx.app().join("Contents/Info.plist"), &orig_plist).unwrap();
    let t = text(&fx.run(&["status"]));
    assert!(
        t.contains("a patch was interrupted") && t.contains("codex-shim patch-app"),
        "{t}"
    );
    let dry = fx.run(&["patch-app", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert_eq!(fx.files().1, orig_plist, "a dry run writes nothing");
    let o = fx.run(&["patch-app"]);
    assert!(o.status.success(), "{}", text(&o));
    let (asar, plist) = fx.files();
    assert_eq!(asar, patched_asar, "the archive is left as it was");
    let hash = Archive::parse(asar).unwrap().header_hash();
    assert!(
        String::from_utf8_lossy(&plist).contains(&hash),
        "Info.plist names the patched header"
    );
    assert!(text(&fx.run(&["status"])).contains(": patched"));
    assert!(fx.run(&["restore-app"]).status.success());
    assert_eq!(fx.files(), (orig_asar, orig_plist));
}
