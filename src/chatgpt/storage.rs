//! Where Codex keeps its ChatGPT login, read and written the way Codex does.
//!
//! Codex's `cli_auth_credentials_store` (in `$CODEX_HOME/config.toml`) says where: `"file"` (the
//! default) is `$CODEX_HOME/auth.json`; `"keyring"` is one OS keychain item; `"auto"` is the
//! keychain item when there is one, else the file. The item's service is [`KEYRING_SERVICE`], its
//! account `cli|` + the first 16 hex digits of the SHA-256 of the canonical `CODEX_HOME` path, and
//! its value the compact JSON that `auth.json` would hold.
//!
//! Writers (Codex and the shim) take an exclusive advisory lock on `$CODEX_HOME/auth.lock` around
//! read → refresh → write, because a refresh token works once: two refreshers racing would leave
//! one of them with a revoked token.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The keychain service of Codex's login item.
pub const KEYRING_SERVICE: &str = "Codex Auth";

/// How long a refresh waits for another process's `auth.lock` before giving up (transiently).
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Codex's `cli_auth_credentials_store`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    File,
    Keyring,
    Auto,
}

/// Where one login was found, and so where its refresh is written back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    File(PathBuf),
    Keyring { account: String },
}

impl Place {
    /// For status lines: the file's path, or the keychain item.
    pub fn describe(&self) -> String {
        match self {
            Place::File(p) => p.display().to_string(),
            Place::Keyring { account } => {
                format!("the OS keychain (service `{KEYRING_SERVICE}`, account `{account}`)")
            }
        }
    }
}

/// A stored login's text (the JSON of `auth.json`) and where it came from. Holds tokens: never
/// log it.
#[derive(Clone, PartialEq, Eq)]
pub struct Stored {
    pub place: Place,
    pub text: String,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("place", &self.place)
            .field("text", &"<redacted>")
            .finish()
    }
}

/// The mode `$CODEX_HOME/config.toml` sets (top-level `cli_auth_credentials_store`). A missing or
/// unreadable file, or a value the shim does not know (`"ephemeral"` keeps nothing on disk), is
/// the file, as in Codex.
pub fn mode(codex_home: &Path) -> Mode {
    let Ok(text) = std::fs::read_to_string(codex_home.join("config.toml")) else {
        return Mode::File;
    };
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Mode::File;
    };
    match doc
        .get("cli_auth_credentials_store")
        .and_then(|v| v.as_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("keyring") => Mode::Keyring,
        Some("auto") => Mode::Auto,
        _ => Mode::File,
    }
}

/// The keychain account Codex files its login under for this `CODEX_HOME`.
pub fn keyring_account(codex_home: &Path) -> String {
    let canonical = codex_home
        .canonicalize()
        .unwrap_or_else(|_| codex_home.to_path_buf());
    let digest = Sha256::digest(canonical.to_string_lossy().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("cli|{}", &hex[..16])
}

/// The stored login, from wherever the mode says (blocking: file and keychain reads).
pub fn load(codex_home: &Path) -> Result<Option<Stored>, String> {
    let file = || -> Result<Option<Stored>, String> {
        let path = codex_home.join("auth.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(Stored {
                place: Place::File(path),
                text,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    };
    let keyring = || -> Result<Option<Stored>, String> {
        let account = keyring_account(codex_home);
        Ok(
            crate::secrets::get_item(KEYRING_SERVICE, &account)?.map(|text| Stored {
                place: Place::Keyring { account },
                text,
            }),
        )
    };
    match mode(codex_home) {
        Mode::File => file(),
        Mode::Keyring => keyring(),
        // Keyring first; a keychain that cannot be read falls back to the file, as in Codex.
        Mode::Auto => match keyring() {
            Ok(Some(s)) => Ok(Some(s)),
            Ok(None) => file(),
            Err(e) => {
                tracing::debug!("the keychain could not be read ({e}); reading auth.json");
                file()
            }
        },
    }
}

/// Writes `text` back where the login came from: a file atomically (a temp file with the old
/// file's mode, 0600 when new, renamed over it), a keychain item in place.
pub fn save(place: &Place, text: &str) -> Result<(), String> {
    match place {
        Place::Keyring { account } => crate::secrets::set_item(KEYRING_SERVICE, account, text),
        Place::File(path) => write_atomic(path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.codex-shim-{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("auth.json"),
        std::process::id()
    ));
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    // The old file's mode (0600 for a new one), set before any byte is written.
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o600)
    };
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Codex's `auth.lock`, held exclusively until dropped.
pub struct AuthLock {
    _file: File,
}

/// Takes `$CODEX_HOME/auth.lock` (blocking), waiting up to `wait` for another holder.
pub fn lock(codex_home: &Path, wait: Duration) -> Result<AuthLock, String> {
    let path = codex_home.join("auth.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let deadline = Instant::now() + wait;
    loop {
        match try_lock(&file) {
            Ok(true) => return Ok(AuthLock { _file: file }),
            Ok(false) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(false) => {
                return Err(format!(
                    "another process has held {} for {}s",
                    path.display(),
                    wait.as_secs()
                ))
            }
            Err(e) => return Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

/// An exclusive `flock(2)` without waiting: what Rust's `File::lock` (and so Codex) takes on
/// Linux and macOS. Released when the file is closed. (`File::try_lock` itself needs Rust 1.89;
/// the core crate builds with 1.85.)
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` on a descriptor this `File` owns and keeps open; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Elsewhere (Windows) the shim's own one-refresh-at-a-time still holds; Codex's lock is not
/// shared.
#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyring_account_is_codexs_for_the_canonical_home() {
        let dir = tempfile::tempdir().unwrap();
        let canonical = dir.path().canonicalize().unwrap();
        let hex = format!(
            "{:x}",
            Sha256::digest(canonical.to_string_lossy().as_bytes())
        );
        let expected = format!("cli|{}", &hex[..16]);
        assert_eq!(keyring_account(dir.path()), expected);
        // The same home through a `..` detour is the same account.
        let detour = dir.path().join("sub").join("..");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(keyring_account(&detour), expected);
    }

    #[test]
    fn the_mode_comes_from_config_toml() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(mode(dir.path()), Mode::File);
        for (text, want) in [
            ("cli_auth_credentials_store = \"keyring\"\n", Mode::Keyring),
            (
                "cli_auth_credentials_store = \"auto\"\nmodel = \"o3\"\n",
                Mode::Auto,
            ),
            ("cli_auth_credentials_store = \"file\"\n", Mode::File),
            ("cli_auth_credentials_store = \"ephemeral\"\n", Mode::File),
            (
                "[profiles.x]\ncli_auth_credentials_store = \"keyring\"\n",
                Mode::File,
            ),
            ("not = [toml", Mode::File),
        ] {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
            assert_eq!(mode(dir.path()), want, "{text}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_atomic_write_keeps_the_files_mode_and_leaves_no_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        save(&Place::File(path.clone()), "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file left");
    }

    #[test]
    fn the_lock_is_exclusive_and_waits_only_so_long() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path(), Duration::ZERO).unwrap();
        let err = lock(dir.path(), Duration::from_millis(50))
            .err()
            .expect("a second holder waits, then gives up");
        assert!(err.contains("auth.lock"), "{err}");
        drop(held);
        assert!(lock(dir.path(), Duration::ZERO).is_ok());
    }
}
