//! `codex-shim key set|delete|list|import`.

use std::path::Path;

use crate::codex::config::write_atomic;
use crate::keys::{plan_import, read_secret};
use crate::settings::{Settings, SettingsSource};
use crate::{paths, secrets};

fn check_name(name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        secrets::valid_name(name),
        "`{name}` is not a usable key name (letters, digits, `_`, `-`, `.`)"
    );
    Ok(())
}

pub(super) fn set(name: &str) -> anyhow::Result<i32> {
    check_name(name)?;
    let secret = read_secret(&format!("Secret for {name} (not shown): "))?;
    anyhow::ensure!(
        !secret.is_empty(),
        "no secret given for `{name}`; nothing was stored"
    );
    secrets::set(name, &secret).map_err(|e| anyhow::anyhow!("cannot store `{name}`: {e}"))?;
    println!("Stored `{name}` in the keychain (service {}). Refer to it as \"${{{name}}}\" in your settings.", secrets::SERVICE);
    Ok(0)
}

pub(super) fn delete(name: &str) -> anyhow::Result<i32> {
    check_name(name)?;
    match secrets::delete(name).map_err(|e| anyhow::anyhow!("cannot delete `{name}`: {e}"))? {
        true => println!("Deleted `{name}` from the keychain."),
        false => println!("There was no keychain entry `{name}`."),
    }
    Ok(0)
}

/// Every key name the settings refer to, where it is found, and which models use it.
pub(super) fn list(settings: &Settings) -> anyhow::Result<i32> {
    let keys = crate::keys::key_status(settings);
    if keys.is_empty() {
        println!("Your settings refer to no keys by name. `codex-shim key import` moves literal keys into the keychain.");
        return Ok(0);
    }
    let width = keys.iter().map(|k| k.name.len()).max().unwrap_or(0);
    for k in keys {
        println!(
            "{:width$}  {:11}  used by {}",
            k.name,
            k.found.label(),
            k.slugs.join(", ")
        );
    }
    Ok(0)
}

/// Moves every literal key in the settings files into the keychain.
pub(super) fn import(source: &SettingsSource) -> anyhow::Result<i32> {
    let mut total = 0;
    for path in source.files() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let plan = plan_import(&path, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
        if plan.moved.is_empty() {
            continue;
        }
        for mv in &plan.moved {
            secrets::set(&mv.name, &mv.secret).map_err(|e| {
                anyhow::anyhow!(
                    "cannot store `{}`: {e}; {} was not changed",
                    mv.name,
                    path.display()
                )
            })?;
            anyhow::ensure!(
                secrets::get(&mv.name).ok().flatten().as_deref() == Some(mv.secret.as_str()),
                "the keychain did not keep `{}`; {} was not changed",
                mv.name,
                path.display()
            );
        }
        let backup = backup_path(&path);
        write_atomic(&backup, text.as_bytes())?;
        write_atomic(&path, plan.text.as_bytes())?;
        // The file now loads and every moved key resolves from the keychain: the plaintext backup
        // would only keep the keys lying around, so it goes.
        Settings::parse_file(&path, &std::fs::read_to_string(&path)?)
            .map_err(|e| anyhow::anyhow!("{e} (the original is at {})", backup.display()))?;
        std::fs::remove_file(&backup)?;
        for mv in &plan.moved {
            println!(
                "Moved the key of {} to the keychain as `{}`.",
                mv.slugs.join(", "),
                mv.name
            );
        }
        println!(
            "Rewrote {} to refer to them as \"${{NAME}}\".",
            path.display()
        );
        total += plan.moved.len();
    }
    if total == 0 {
        println!(
            "No literal keys found in {}.",
            source
                .files()
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(0)
}

fn backup_path(settings: &Path) -> std::path::PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = settings
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "settings.json".into());
    paths::state_dir()
        .join("backups")
        .join(format!("{name}.{stamp}"))
}
