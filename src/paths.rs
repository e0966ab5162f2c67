//! Where codex-shim keeps its files and where Codex keeps its own.
//!
//! Runtime files live in a per-user application directory, never next to the installed binary:
//! `CODEX_SHIM_HOME` if set, else the platform's data dir (`~/.local/share/codex-shim`,
//! `~/Library/Application Support/codex-shim`). Codex's directory is `CODEX_HOME`, else `~/.codex`.

use std::path::PathBuf;

/// The state directory (catalog, pid file, log).
pub fn state_dir() -> PathBuf {
    if let Some(dir) = non_empty_env("CODEX_SHIM_HOME") {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .or_else(|| home_dir().map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("codex-shim")
}

/// Codex's own directory (`config.toml`, `auth.json`).
pub fn codex_home() -> PathBuf {
    if let Some(dir) = non_empty_env("CODEX_HOME") {
        return PathBuf::from(dir);
    }
    home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".codex")
}

/// The user's home directory (`$HOME` first, so tests and sandboxes can move it).
pub fn home_dir() -> Option<PathBuf> {
    non_empty_env("HOME")
        .map(PathBuf::from)
        .or_else(dirs::home_dir)
}

/// The catalog file written by `generate` and passed to Codex as `model_catalog_json`.
pub fn catalog_file() -> PathBuf {
    state_dir().join("catalog.json")
}

/// The daemon's pid file.
pub fn pid_file() -> PathBuf {
    state_dir().join("shim.pid")
}

/// The daemon's log file.
pub fn log_file() -> PathBuf {
    state_dir().join("shim.log")
}

pub(crate) fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where the running server keeps its UI token (readable by this user only).
pub fn ui_token_file() -> PathBuf {
    state_dir().join("ui-token")
}

/// A fresh random UI token, stored for `codex-shim ui` (mode 0600), never printed or logged.
pub fn new_ui_token() -> std::io::Result<String> {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let file = ui_token_file();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    std::io::Write::write_all(&mut opts.open(&file)?, token.as_bytes())?;
    Ok(token)
}

/// The port the tray app chose when its usual one was taken ("Serve on port N instead").
pub fn tray_port_file() -> PathBuf {
    state_dir().join("tray-port")
}
