//! Launching Codex Desktop (`codex-shim app`).
//!
//! macOS: quit a running Codex (AppleScript), wait until it is gone, then open it on the project
//! path. Elsewhere: `codex app PATH` where the installed Codex has that command, else a clear
//! message. The platform commands go through [`Runner`], so the logic is tested on any OS and
//! the real commands run only where they exist.

use std::path::Path;
use std::time::{Duration, Instant};

/// Runs platform commands.
pub trait Runner {
    /// Runs to completion: exit code and stdout+stderr. `Err` when the program is missing.
    fn run(&self, program: &str, args: &[&str]) -> std::io::Result<(i32, String)>;
    /// Starts a program and does not wait for it.
    fn spawn(&self, program: &str, args: &[&str], env: &[(String, String)]) -> std::io::Result<()>;
}

/// The real commands.
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&self, program: &str, args: &[&str]) -> std::io::Result<(i32, String)> {
        let out = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.code().unwrap_or(-1), text))
    }

    fn spawn(&self, program: &str, args: &[&str], env: &[(String, String)]) -> std::io::Result<()> {
        let mut cmd = std::process::Command::new(program);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().map(|_| ())
    }
}

/// Where Codex Desktop is installed unless `CODEX_SHIM_CODEX_APP` says otherwise.
pub fn default_app() -> std::path::PathBuf {
    crate::paths::non_empty_env("CODEX_SHIM_CODEX_APP")
        .unwrap_or_else(|| "/Applications/Codex.app".into())
        .into()
}

/// The installed Codex CLI's version (`codex --version` prints `codex-cli 0.169.0`).
pub fn cli_version(runner: &dyn Runner, codex_bin: &str) -> Option<String> {
    match runner.run(codex_bin, &["--version"]) {
        Ok((0, text)) => text
            .lines()
            .next()
            .map(|l| l.trim().trim_start_matches("codex-cli").trim().to_string())
            .filter(|v| !v.is_empty()),
        _ => None,
    }
}

/// A Codex Desktop bundle's version: `CFBundleShortVersionString` in `Contents/Info.plist`.
pub fn app_version(app: &Path) -> Option<String> {
    let info = plist::Value::from_file(app.join("Contents/Info.plist")).ok()?;
    info.as_dictionary()?
        .get("CFBundleShortVersionString")?
        .as_string()
        .map(str::to_string)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    MacOs,
    Other,
}

impl Platform {
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else {
            Platform::Other
        }
    }
}

/// How long to wait for a running Codex Desktop to quit.
pub const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether Codex Desktop is running (its process is named `Codex`).
pub fn codex_running(runner: &dyn Runner) -> bool {
    matches!(runner.run("pgrep", &["-x", "Codex"]), Ok((0, _)))
}

/// Asks a running Codex Desktop to quit (AppleScript) and waits until it has.
pub fn quit_codex(runner: &dyn Runner) -> Result<(), String> {
    if !codex_running(runner) {
        return Ok(());
    }
    let _ = runner.run(
        "osascript",
        &[
            "-e",
            "tell application \"Codex\" to if it is running then quit",
        ],
    );
    let deadline = Instant::now() + QUIT_TIMEOUT;
    while codex_running(runner) {
        if Instant::now() >= deadline {
            return Err("Codex Desktop did not quit within 10 s; quit it yourself".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Opens Codex Desktop on `project`. Returns what was done, for the user.
pub fn launch(
    runner: &dyn Runner,
    platform: Platform,
    codex_bin: &str,
    project: &Path,
    env: &[(String, String)],
) -> Result<String, String> {
    let project = project.to_string_lossy();
    match platform {
        Platform::MacOs => {
            // Quit first, so the app reads the config codex-shim just wrote.
            quit_codex(runner).map_err(|e| format!("{e} and run `codex-shim app` again"))?;
            runner
                .spawn("open", &["-a", "Codex", &project], &[])
                .map_err(|e| {
                    format!("cannot open Codex Desktop: {e}; is it installed in /Applications?")
                })?;
            Ok(format!("Opened Codex Desktop on {project}."))
        }
        Platform::Other => {
            let has_app = matches!(runner.run(codex_bin, &["app", "--help"]), Ok((0, ref text)) if text.contains("Usage: codex app"));
            if !has_app {
                return Err("Codex Desktop is not available on this platform (the installed `codex` has no `app` command). Use the CLI instead: `codex-shim codex`.".into());
            }
            runner
                .spawn(codex_bin, &["app", &project], env)
                .map_err(|e| format!("cannot start `{codex_bin} app`: {e}"))?;
            Ok(format!("Started `{codex_bin} app {project}`."))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Records commands; `pgrep` says "running" for the first `running_polls` calls.
    struct Fake {
        calls: RefCell<Vec<String>>,
        running_polls: RefCell<u32>,
        has_app: bool,
    }

    impl Runner for Fake {
        fn run(&self, program: &str, args: &[&str]) -> std::io::Result<(i32, String)> {
            self.calls
                .borrow_mut()
                .push(format!("run {program} {}", args.join(" ")));
            Ok(match program {
                "missing-codex" => return Err(std::io::ErrorKind::NotFound.into()),
                "codex" if args == ["--version"] => (0, "codex-cli 0.169.0\n".into()),
                "pgrep" => {
                    let mut n = self.running_polls.borrow_mut();
                    if *n > 0 {
                        *n -= 1;
                        (0, "123".into())
                    } else {
                        (1, String::new())
                    }
                }
                "codex" if self.has_app => (0, "Usage: codex app [PATH]".into()),
                "codex" => (0, "Usage: codex [OPTIONS] [PROMPT]".into()),
                _ => (0, String::new()),
            })
        }
        fn spawn(
            &self,
            program: &str,
            args: &[&str],
            env: &[(String, String)],
        ) -> std::io::Result<()> {
            let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            self.calls.borrow_mut().push(format!(
                "spawn {program} {} [{}]",
                args.join(" "),
                env.join(",")
            ));
            Ok(())
        }
    }

    fn fake(running_polls: u32, has_app: bool) -> Fake {
        Fake {
            calls: RefCell::new(Vec::new()),
            running_polls: RefCell::new(running_polls),
            has_app,
        }
    }

    #[test]
    fn versions_of_the_cli_and_of_an_app_bundle() {
        let f = fake(0, true);
        assert_eq!(cli_version(&f, "codex").as_deref(), Some("0.169.0"));
        assert_eq!(cli_version(&f, "missing-codex"), None);
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("Codex.app");
        assert_eq!(app_version(&app), None);
        std::fs::create_dir_all(app.join("Contents")).unwrap();
        let mut info = plist::Dictionary::new();
        info.insert("CFBundleShortVersionString".into(), "26.1120.1".into());
        plist::Value::Dictionary(info)
            .to_file_xml(app.join("Contents/Info.plist"))
            .unwrap();
        assert_eq!(app_version(&app).as_deref(), Some("26.1120.1"));
    }

    #[test]
    fn macos_quits_waits_then_opens_on_the_project() {
        let f = fake(2, false);
        let msg = launch(&f, Platform::MacOs, "codex", Path::new("/work/proj"), &[]).unwrap();
        assert!(msg.contains("/work/proj"));
        assert_eq!(
            *f.calls.borrow(),
            [
                "run pgrep -x Codex",
                "run osascript -e tell application \"Codex\" to if it is running then quit",
                "run pgrep -x Codex",
                "run pgrep -x Codex",
                "spawn open -a Codex /work/proj []",
            ]
        );
    }

    #[test]
    fn elsewhere_codex_app_is_used_when_it_exists() {
        let env = vec![(
            "NO_PROXY".to_string(),
            "127.0.0.1,localhost,::1".to_string(),
        )];
        let f = fake(0, true);
        launch(&f, Platform::Other, "codex", Path::new("/p"), &env).unwrap();
        assert_eq!(
            f.calls.borrow().last().unwrap(),
            "spawn codex app /p [NO_PROXY=127.0.0.1,localhost,::1]"
        );
        let f = fake(0, false);
        let err = launch(&f, Platform::Other, "codex", Path::new("/p"), &env).unwrap_err();
        assert!(
            err.contains("not available on this platform") && err.contains("codex-shim codex"),
            "{err}"
        );
        assert!(!f.calls.borrow().iter().any(|c| c.starts_with("spawn")));
    }
}
