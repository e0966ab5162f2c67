//! Launching Codex from the UI (and the tray): one trait, so tests can stand in for the real thing.

use std::path::Path;

/// Starts Codex for the user.
pub trait Launcher: Send + Sync {
    /// `target` is `desktop` or `cli`. Returns what was done, or why it could not be.
    fn launch(&self, target: &str, project: &Path) -> Result<String, String>;
}

/// The real launcher: Codex Desktop through [`crate::desktop`]; the CLI needs a terminal, so
/// for it the answer is the command to run there.
pub struct SystemLauncher;

impl Launcher for SystemLauncher {
    fn launch(&self, target: &str, project: &Path) -> Result<String, String> {
        match target {
            "desktop" => {
                let no_proxy = crate::codex::no_proxy_env(
                    std::env::var("NO_PROXY").ok().as_deref(),
                    std::env::var("no_proxy").ok().as_deref(),
                );
                let env = [
                    ("NO_PROXY".to_string(), no_proxy.clone()),
                    ("no_proxy".to_string(), no_proxy),
                ];
                crate::desktop::launch(
                    &crate::desktop::SystemRunner,
                    crate::desktop::Platform::current(),
                    &crate::codex::codex_binary(),
                    project,
                    &env,
                )
            }
            "cli" => Err(format!(
                "The Codex CLI runs in a terminal: open one in {} and run `codex-shim codex`.",
                project.display()
            )),
            other => Err(format!("unknown launch target `{other}` (desktop or cli)")),
        }
    }
}
