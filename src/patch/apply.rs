//! The patch and its undo, step by step: detect → dry run → Codex not running → the bundle is
//! writable → back up → apply → verify → re-sign. Any failure after the backup puts the backup
//! back. Each step is reported, for the CLI and the wizard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::needles::Search;
use super::{asar, info_plist, inspect, record_file, snapshot, Bundle, Snapshot};
use crate::codex::config::write_atomic;
use crate::desktop::{Platform, Runner};

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Stop after showing what would change.
    pub dry_run: bool,
    /// Quit a running Codex Desktop instead of refusing.
    pub quit_running: bool,
    pub platform: Platform,
}

/// One reported step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// One change the patch makes.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub label: &'static str,
    pub file: String,
    pub before: String,
    pub after: String,
}

/// What happened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub steps: Vec<Step>,
    pub changes: Vec<Change>,
    /// True when the run did what was asked (a dry run, "already patched" and a refusal-free
    /// patch are all ok).
    pub ok: bool,
    /// True when the bundle on disk was changed (and kept).
    pub changed: bool,
    pub version: String,
}

impl Report {
    fn step(&mut self, step: &'static str, ok: bool, detail: impl Into<String>) {
        self.steps.push(Step {
            step,
            ok,
            detail: detail.into(),
        });
    }
    fn fail(mut self, step: &'static str, detail: impl Into<String>) -> Self {
        self.step(step, false, detail);
        self.ok = false;
        self
    }
    /// The last step's detail (the outcome in one line).
    pub fn summary(&self) -> &str {
        self.steps.last().map(|s| s.detail.as_str()).unwrap_or("")
    }
}

const RESIGN_ELSEWHERE: &str = "skipped: re-signing needs macOS (`codesign --force --deep --sign -`); this bundle will not open on a Mac until it is re-signed there";

/// Where backups of one bundle state go: by app version and archive hash.
fn backup_dir(state_dir: &Path, version: &str, sha: &str) -> PathBuf {
    let v: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_dir
        .join("desktop-backups")
        .join(format!("{v}-{}", &sha[..12]))
}

/// Refuses early, before anything is written, when the bundle cannot be modified.
fn writable(bundle: &Bundle) -> Result<(), String> {
    for dir in [bundle.asar().parent(), bundle.plist().parent()]
        .into_iter()
        .flatten()
    {
        let probe = dir.join(format!(".codex-shim-write-test-{}", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(e) => {
                return Err(format!(
                    "cannot write to {}: {e}. On macOS, allow your terminal (or codex-shim) to modify other apps: System Settings → Privacy & Security → App Management (or Full Disk Access). Nothing was changed.",
                    dir.display()
                ))
            }
        }
    }
    for f in [bundle.asar(), bundle.plist()] {
        if std::fs::OpenOptions::new().append(true).open(&f).is_err() {
            return Err(format!(
                "cannot write {} (read-only). Nothing was changed.",
                f.display()
            ));
        }
    }
    Ok(())
}

fn not_running(runner: &dyn Runner, quit: bool) -> Result<String, String> {
    if !crate::desktop::codex_running(runner) {
        return Ok("Codex Desktop is not running".into());
    }
    if !quit {
        return Err("Codex Desktop is running: quit it first (or let codex-shim quit it: --quit, or the wizard's Quit button). Nothing was changed.".into());
    }
    crate::desktop::quit_codex(runner)?;
    Ok("quit Codex Desktop".into())
}

fn resign(bundle: &Bundle, runner: &dyn Runner, platform: Platform) -> Result<String, String> {
    match platform {
        Platform::MacOs => {
            let app = bundle.app.to_string_lossy();
            match runner.run("codesign", &["--force", "--deep", "--sign", "-", &app]) {
                Ok((0, _)) => Ok("re-signed ad hoc. This replaces OpenAI's signature: macOS may ask again for keychain access, and Codex's auto-update may replace the app (run `codex-shim patch-app` again after an update)".into()),
                Ok((code, out)) => Err(format!("codesign failed ({code}): {}", out.trim())),
                Err(e) => Err(format!("cannot run codesign: {e}")),
            }
        }
        Platform::Other => Ok(RESIGN_ELSEWHERE.into()),
    }
}

/// The checks before anything is written: Codex is not running (or quit), the bundle is writable.
/// On failure, the finished report to return.
fn preflight(
    r: &mut Report,
    bundle: &Bundle,
    runner: &dyn Runner,
    opts: Options,
) -> Result<(), Report> {
    match not_running(runner, opts.quit_running) {
        Ok(m) => r.step("running", true, m),
        Err(e) => return Err(std::mem::take(r).fail("running", e)),
    }
    writable(bundle).map_err(|e| std::mem::take(r).fail("writable", e))
}

/// Puts the backed-up files back.
fn put_back(bundle: &Bundle, dir: &Path) -> Result<(), String> {
    for (name, to) in [("app.asar", bundle.asar()), ("Info.plist", bundle.plist())] {
        let bytes = std::fs::read(dir.join(name))
            .map_err(|e| format!("cannot read the backup {}: {e}", dir.join(name).display()))?;
        write_atomic(&to, &bytes).map_err(|e| format!("cannot restore {}: {e}", to.display()))?;
    }
    Ok(())
}

/// Patches the bundle.
pub fn apply(bundle: &Bundle, state_dir: &Path, runner: &dyn Runner, opts: Options) -> Report {
    let mut r = Report::default();
    let i = match inspect(bundle) {
        Ok(i) => i,
        Err(e) => return r.fail("detect", e),
    };
    r.version = i.version.clone();
    r.step(
        "detect",
        true,
        format!("Codex Desktop {} at {}", i.version, bundle.app.display()),
    );
    if i.patched() && i.header_hash != i.plist_hash {
        return finish_interrupted(r, &i, bundle, state_dir, runner, opts);
    }
    if i.patched() {
        r.ok = true;
        r.step("check", true, "already patched: nothing to do");
        return r;
    }
    if let Some(why) = i.refusal() {
        return r.fail("check", why);
    }
    let mut changes: BTreeMap<String, String> = BTreeMap::new();
    for t in &i.targets {
        if let Search::One(f) = &t.search {
            r.changes.push(Change {
                label: t.label,
                file: f.file.clone(),
                before: f.before.clone(),
                after: f.after.clone(),
            });
        }
    }
    r.step(
        "dry run",
        true,
        format!(
            "{} change(s): {}",
            r.changes.len(),
            r.changes
                .iter()
                .map(|c| format!("{} in {}", c.label, c.file))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    );
    if opts.dry_run {
        r.ok = true;
        return r;
    }
    if let Err(r) = preflight(&mut r, bundle, runner, opts) {
        return r;
    }
    // Read once more, now that the app is closed (quitting can install an update), and work on
    // exactly those bytes from here: they are what is backed up and what is patched.
    let Snapshot {
        inspection: now,
        archive,
        plist,
    } = match snapshot(bundle) {
        Ok(s) => s,
        Err(e) => return r.fail("check", e),
    };
    if (&now.version, &now.asar_sha256, &now.plist_hash)
        != (&i.version, &i.asar_sha256, &i.plist_hash)
    {
        return r.fail(
            "check",
            format!(
                "Codex Desktop changed on disk since it was checked (now {}; an update while it quit?). \
                 Nothing was changed: run patch-app again.",
                now.version
            ),
        );
    }
    // Back up (once per app version and archive).
    let dir = backup_dir(state_dir, &i.version, &i.asar_sha256);
    let backed_up = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        // The bytes that were inspected (and are about to be patched), not a second read.
        for (bytes, name) in [(archive.bytes(), "app.asar"), (&plist[..], "Info.plist")] {
            if !dir.join(name).exists() {
                write_atomic(&dir.join(name), bytes)?;
            }
        }
        let meta = serde_json::json!({"app": bundle.app, "version": i.version, "asar_sha256": i.asar_sha256});
        write_atomic(&dir.join("backup.json"), meta.to_string().as_bytes())
    })();
    if let Err(e) = backed_up {
        return r.fail(
            "backup",
            format!(
                "cannot back up to {}: {e}. Nothing was changed.",
                dir.display()
            ),
        );
    }
    r.step(
        "backup",
        true,
        format!("saved app.asar and Info.plist to {}", dir.display()),
    );

    // Apply: the new archive and the plist naming its header hash.
    let result = (|| -> Result<String, String> {
        for c in &r.changes {
            let text = std::str::from_utf8(archive.read(&c.file).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            let base = changes
                .get(&c.file)
                .cloned()
                .unwrap_or_else(|| text.to_string());
            changes.insert(c.file.clone(), base.replacen(&c.before, &c.after, 1));
        }
        let replaced: BTreeMap<String, Vec<u8>> = changes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
            .collect();
        let new_archive = archive
            .with_replaced(&replaced)
            .map_err(|e| e.to_string())?;
        let new_archive = asar::Archive::parse(new_archive).map_err(|e| e.to_string())?;
        let new_hash = new_archive.header_hash();
        let new_archive = new_archive.into_bytes();
        let new_plist = info_plist::with_integrity_hash(&plist, &new_hash)?;
        write_atomic(&bundle.asar(), &new_archive)
            .map_err(|e| format!("cannot write {}: {e}", bundle.asar().display()))?;
        write_atomic(&bundle.plist(), &new_plist)
            .map_err(|e| format!("cannot write {}: {e}", bundle.plist().display()))?;
        Ok(new_hash)
    })();
    let new_hash = match result {
        Ok(h) => {
            r.step(
                "apply",
                true,
                format!("wrote app.asar (header hash {}) and Info.plist", &h[..12]),
            );
            h
        }
        Err(e) => return rollback(r, bundle, &dir, "apply", e),
    };
    let after = match verify(bundle, &new_hash) {
        Ok(a) => {
            r.step("verify", true, "the archive reads back, its header hash matches Info.plist, and the patched code is in place");
            a
        }
        Err(e) => return rollback(r, bundle, &dir, "verify", e),
    };
    match resign(bundle, runner, opts.platform) {
        Ok(m) => r.step("re-sign", true, m),
        Err(e) => return rollback(r, bundle, &dir, "re-sign", e),
    }
    record(state_dir, bundle, &after);
    r.ok = true;
    r.changed = true;
    r.step(
        "done",
        true,
        format!(
            "patched Codex Desktop {}: your models now show in its picker",
            after.version
        ),
    );
    r
}

/// A patch interrupted between its two writes left a patched app.asar beside the old Info.plist
/// (Codex will not start). Finishing it takes only the plist's hash (the backup of the original
/// was made before the first write).
fn finish_interrupted(
    mut r: Report,
    i: &super::Inspection,
    bundle: &Bundle,
    state_dir: &Path,
    runner: &dyn Runner,
    opts: Options,
) -> Report {
    r.step(
        "check",
        true,
        "app.asar is patched but Info.plist does not name it yet: a patch was interrupted",
    );
    r.changes.push(Change {
        label: "Info.plist integrity hash",
        file: "Contents/Info.plist".into(),
        before: i.plist_hash.clone(),
        after: i.header_hash.clone(),
    });
    if opts.dry_run {
        r.ok = true;
        return r;
    }
    if let Err(r) = preflight(&mut r, bundle, runner, opts) {
        return r;
    }
    let written = std::fs::read(bundle.plist())
        .map_err(|e| e.to_string())
        .and_then(|plist| info_plist::with_integrity_hash(&plist, &i.header_hash))
        .and_then(|new| {
            write_atomic(&bundle.plist(), &new)
                .map_err(|e| format!("cannot write {}: {e}", bundle.plist().display()))
        });
    if let Err(e) = written {
        return r.fail("apply", e);
    }
    let after = match verify(bundle, &i.header_hash) {
        Ok(a) => {
            r.step(
                "verify",
                true,
                "Info.plist now names the patched archive's header",
            );
            a
        }
        Err(e) => return r.fail("verify", e),
    };
    match resign(bundle, runner, opts.platform) {
        Ok(m) => r.step("re-sign", true, m),
        Err(e) => return r.fail("re-sign", e),
    }
    record(state_dir, bundle, &after);
    r.ok = true;
    r.changed = true;
    r.step(
        "done",
        true,
        format!("finished the patch of Codex Desktop {}", i.version),
    );
    r
}

/// Reads the bundle back: its archive's header hash and Info.plist's are both `hash`, and the
/// patched code is in place.
fn verify(bundle: &Bundle, hash: &str) -> Result<super::Inspection, String> {
    let after = inspect(bundle)?;
    if after.header_hash != hash || after.plist_hash != hash {
        Err(format!(
            "the header hash on disk ({}) does not match Info.plist ({})",
            after.header_hash, after.plist_hash
        ))
    } else if !after.patched() {
        Err("the patched text is not in the new archive".into())
    } else {
        Ok(after)
    }
}

/// Notes the patched archive, so `status` can tell when an update replaces it.
fn record(state_dir: &Path, bundle: &Bundle, after: &super::Inspection) {
    let record = serde_json::json!({"app": bundle.app, "version": after.version, "asar_sha256": after.asar_sha256});
    let _ = write_atomic(&record_file(state_dir), record.to_string().as_bytes());
}

fn rollback(r: Report, bundle: &Bundle, dir: &Path, step: &'static str, why: String) -> Report {
    let mut r = r.fail(step, why);
    match put_back(bundle, dir) {
        Ok(()) => r.step(
            "rollback",
            true,
            format!(
                "put the backup back from {}: Codex Desktop is as it was",
                dir.display()
            ),
        ),
        Err(e) => r.step(
            "rollback",
            false,
            format!("{e}; restore by hand from {}", dir.display()),
        ),
    }
    r
}

/// Backups on file: (directory, version, archive hash).
pub fn backups(state_dir: &Path) -> Vec<(PathBuf, String, String)> {
    let mut out: Vec<(PathBuf, String, String)> =
        std::fs::read_dir(state_dir.join("desktop-backups"))
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let dir = e.ok()?.path();
                let meta: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(dir.join("backup.json")).ok()?)
                        .ok()?;
                Some((
                    dir,
                    meta["version"].as_str()?.to_string(),
                    meta["asar_sha256"].as_str()?.to_string(),
                ))
            })
            .collect();
    out.sort();
    out
}

/// Puts back the backup made for the installed version.
pub fn restore(bundle: &Bundle, state_dir: &Path, runner: &dyn Runner, opts: Options) -> Report {
    let mut r = Report::default();
    let version = match std::fs::read(bundle.plist())
        .map_err(|e| format!("cannot read {}: {e}", bundle.plist().display()))
        .and_then(|p| info_plist::version(&p))
    {
        Ok(v) => v,
        Err(e) => return r.fail("detect", e),
    };
    r.version = version.clone();
    r.step(
        "detect",
        true,
        format!("Codex Desktop {version} at {}", bundle.app.display()),
    );
    let all = backups(state_dir);
    let Some((dir, _, _)) = all.iter().rev().find(|(_, v, _)| *v == version) else {
        let listed = if all.is_empty() {
            "none".to_string()
        } else {
            all.iter()
                .map(|(d, v, _)| format!("{v} ({})", d.display()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return r.fail(
            "backup",
            format!("no backup for Codex Desktop {version}; backups on file: {listed}"),
        );
    };
    r.step("backup", true, format!("found {}", dir.display()));
    if opts.dry_run {
        r.ok = true;
        return r;
    }
    if let Err(r) = preflight(&mut r, bundle, runner, opts) {
        return r;
    }
    if let Err(e) = put_back(bundle, dir) {
        return r.fail("restore", e);
    }
    r.step("restore", true, "put back app.asar and Info.plist");
    match resign(bundle, runner, opts.platform) {
        Ok(m) => r.step("re-sign", true, m),
        Err(e) => return r.fail("re-sign", e),
    }
    let _ = std::fs::remove_file(record_file(state_dir));
    r.ok = true;
    r.changed = true;
    r.step(
        "done",
        true,
        format!("restored Codex Desktop {version} from {}", dir.display()),
    );
    r
}
