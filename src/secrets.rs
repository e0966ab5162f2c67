//! API keys in the OS keychain: Keychain on macOS, Credential Manager on Windows, the Secret
//! Service on Linux, or the kernel keyring (keyutils) where no Secret Service answers.
//!
//! Entries use the service name [`SERVICE`] and the key's name as the account. Values are never
//! logged; errors name the key, never show it.

use std::sync::Once;

/// The keychain service name.
pub const SERVICE: &str = "codex-shim";

/// Where secrets are read from when a model's settings refer to them.
pub trait SecretSource {
    /// The environment variable `name`, if set and non-empty.
    fn env(&self, name: &str) -> Option<String>;
    /// The keychain entry `name`: `Ok(None)` when there is none.
    fn keychain(&self, name: &str) -> Result<Option<String>, String>;
}

/// The process environment and the OS keychain.
pub struct System;

impl SecretSource for System {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn keychain(&self, name: &str) -> Result<Option<String>, String> {
        get(name)
    }
}

static BACKEND: Once = Once::new();

/// Picks the store once: the platform default, except on Linux without a reachable Secret
/// Service (a headless box, a container), where the kernel keyring is used instead.
/// `CODEX_SHIM_KEYCHAIN=keyutils` forces the kernel keyring.
fn init() {
    BACKEND.call_once(|| {
        #[cfg(target_os = "linux")]
        {
            let forced = std::env::var("CODEX_SHIM_KEYCHAIN")
                .is_ok_and(|v| v.eq_ignore_ascii_case("keyutils"));
            let secret_service_works = !forced
                && match keyring::Entry::new(SERVICE, "codex-shim-probe")
                    .and_then(|e| e.get_password())
                {
                    Ok(_) | Err(keyring::Error::NoEntry) => true,
                    Err(_) => false,
                };
            if !secret_service_works {
                tracing::debug!("no Secret Service; keys go to the kernel keyring (keyutils)");
                keyring::set_default_credential_builder(
                    keyring::keyutils::default_credential_builder(),
                );
            }
        }
    });
}

/// A short description of a keychain error, without any secret in it.
fn describe(e: keyring::Error) -> String {
    match e {
        keyring::Error::NoStorageAccess(inner) | keyring::Error::PlatformFailure(inner) => {
            format!("the keychain is not available: {inner}")
        }
        other => other.to_string(),
    }
}

fn entry(name: &str) -> Result<keyring::Entry, String> {
    entry_in(SERVICE, name)
}

fn entry_in(service: &str, account: &str) -> Result<keyring::Entry, String> {
    init();
    keyring::Entry::new(service, account).map_err(describe)
}

/// Runs a keychain operation on a short-lived thread of its own. The Secret Service backend
/// drives its D-Bus connection with an internal `block_on`, which panics on a thread that is
/// running async tasks, as the server's are; a plain thread has no runtime to collide with.
fn off_runtime<T: Send>(op: impl FnOnce() -> Result<T, String> + Send) -> Result<T, String> {
    std::thread::scope(|s| s.spawn(op).join())
        .unwrap_or_else(|_| Err("the keychain backend failed unexpectedly".into()))
}

/// The secret stored under `name`.
pub fn get(name: &str) -> Result<Option<String>, String> {
    off_runtime(|| match entry(name)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(describe(e)),
    })
}

/// Stores `secret` under `name` (replacing any earlier value).
pub fn set(name: &str, secret: &str) -> Result<(), String> {
    off_runtime(|| entry(name)?.set_password(secret).map_err(describe))
}

/// Another program's item (`service`, `account`): how the shim reads the login Codex keeps in
/// the keychain. `Ok(None)` when there is none.
pub fn get_item(service: &str, account: &str) -> Result<Option<String>, String> {
    off_runtime(|| match entry_in(service, account)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(describe(e)),
    })
}

/// Writes another program's item (`service`, `account`), replacing its value.
pub fn set_item(service: &str, account: &str, value: &str) -> Result<(), String> {
    off_runtime(|| {
        entry_in(service, account)?
            .set_password(value)
            .map_err(describe)
    })
}

/// Deletes another program's item; false if there was none (tests clean up with it).
pub fn delete_item(service: &str, account: &str) -> Result<bool, String> {
    off_runtime(|| match entry_in(service, account)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(describe(e)),
    })
}

/// Deletes `name`; false if there was none.
pub fn delete(name: &str) -> Result<bool, String> {
    off_runtime(|| match entry(name)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(describe(e)),
    })
}

/// True for names usable as keychain accounts and environment variables.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
