//! Patching Codex Desktop so custom models show in its model picker (`patch-app`, `restore-app`,
//! and the UI's wizard).
//!
//! Codex Desktop only lists models on a server-side allowlist. The patch turns that filter off in
//! the app's bundled JavaScript (and lets the sidebar list threads of every provider), inside
//! `Contents/Resources/app.asar`, then records the archive's new header hash in `Info.plist`
//! (Electron refuses to start otherwise) and re-signs the app ad hoc (macOS refuses to start a
//! modified signed app otherwise). Everything here works on any OS against any bundle path (tests,
//! a copied bundle); only the re-signing needs macOS, and it goes through [`crate::desktop::Runner`].
//!
//! - [`asar`]: the archive format; [`needles`]: where the patch goes; [`info_plist`]: the hash.
//! - [`inspect`] reads a bundle and plans the patch without changing anything (the dry run);
//!   [`apply()`] and [`restore`] change it, step by step, with backups in the state directory.

pub mod apply;
pub mod asar;
pub mod info_plist;
pub mod needles;

use std::path::{Path, PathBuf};

pub use apply::{apply, restore, Options};
use needles::Search;

/// A Codex Desktop app bundle (`Codex.app`).
#[derive(Debug, Clone)]
pub struct Bundle {
    pub app: PathBuf,
}

impl Bundle {
    pub fn new(app: impl Into<PathBuf>) -> Self {
        Bundle { app: app.into() }
    }
    pub fn asar(&self) -> PathBuf {
        self.app.join("Contents/Resources/app.asar")
    }
    pub fn plist(&self) -> PathBuf {
        self.app.join("Contents/Info.plist")
    }
}

/// One target's state in the bundle.
#[derive(Debug, Clone)]
pub struct TargetState {
    pub label: &'static str,
    pub search: Search,
    /// Why this target cannot be patched, when it cannot.
    pub refusal: Option<String>,
}

/// What a bundle holds and what the patch would do (nothing is changed to find out).
#[derive(Debug, Clone)]
pub struct Inspection {
    pub version: String,
    /// SHA-256 of the whole `app.asar` file (names backups; spots a Codex update).
    pub asar_sha256: String,
    pub header_hash: String,
    pub plist_hash: String,
    pub targets: Vec<TargetState>,
}

impl Inspection {
    /// Every target already patched.
    pub fn patched(&self) -> bool {
        self.targets
            .iter()
            .all(|t| matches!(t.search, Search::AlreadyPatched { .. }))
    }

    /// The first reason the patch cannot be applied.
    pub fn refusal(&self) -> Option<&str> {
        self.targets.iter().find_map(|t| t.refusal.as_deref())
    }
}

/// Reads the bundle and plans the patch.
pub fn inspect(bundle: &Bundle) -> Result<Inspection, String> {
    snapshot(bundle).map(|s| s.inspection)
}

/// The bundle as read once: its plan, and the very bytes the plan was made from (so the backup
/// and the patch are of what was inspected, and a real app's archive is read once, not thrice).
pub(crate) struct Snapshot {
    pub inspection: Inspection,
    pub archive: asar::Archive,
    pub plist: Vec<u8>,
}

pub(crate) fn snapshot(bundle: &Bundle) -> Result<Snapshot, String> {
    let (asar_path, plist_path) = (bundle.asar(), bundle.plist());
    if !bundle.app.exists() {
        return Err(format!(
            "Codex Desktop is not installed at {} (use --app PATH for another location)",
            bundle.app.display()
        ));
    }
    let plist = std::fs::read(&plist_path)
        .map_err(|e| format!("cannot read {}: {e}", plist_path.display()))?;
    let bytes = std::fs::read(&asar_path)
        .map_err(|e| format!("cannot read {}: {e}", asar_path.display()))?;
    let asar_sha256 = asar::sha256_hex(&bytes);
    let archive =
        asar::Archive::parse(bytes).map_err(|e| format!("{}: {e}", asar_path.display()))?;
    let targets = {
        let scripts = scripts(&archive)?;
        let files: Vec<(&str, &str)> = scripts.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        needles::TARGETS
            .iter()
            .map(|t| {
                let search = t.search(files.iter().copied());
                TargetState {
                    label: t.label,
                    refusal: t.refusal(&search),
                    search,
                }
            })
            .collect()
    };
    let inspection = Inspection {
        version: info_plist::version(&plist)?,
        asar_sha256,
        header_hash: archive.header_hash(),
        plist_hash: info_plist::integrity_hash(&plist)?,
        targets,
    };
    Ok(Snapshot {
        inspection,
        archive,
        plist,
    })
}

/// The bundle's packed JavaScript under `webview/` (where the app's UI code lives), as text
/// borrowed from the archive (a real bundle holds megabytes of it).
pub(crate) fn scripts(archive: &asar::Archive) -> Result<Vec<(String, &str)>, String> {
    let mut out = Vec::new();
    for e in archive.entries().map_err(|e| e.to_string())? {
        let packed = matches!(
            e.kind,
            asar::Kind::File {
                offset: Some(_),
                ..
            }
        );
        if packed && e.path.starts_with("webview/") && e.path.ends_with(".js") {
            let bytes = archive.read(&e.path).map_err(|e| e.to_string())?;
            // Minified bundles are UTF-8; anything else cannot hold our targets.
            if let Ok(text) = std::str::from_utf8(bytes) {
                out.push((e.path, text));
            }
        }
    }
    Ok(out)
}

/// The bundle's state for `status`, the tray and the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    NotInstalled,
    Unpatched {
        version: String,
    },
    Patched {
        version: String,
    },
    /// Patched before, but Codex has replaced its archive since (an update): patch again.
    UpdatedSincePatch {
        was: String,
        now: String,
    },
    /// app.asar is patched but Info.plist still names the old header (a patch interrupted between
    /// its two writes): Codex will not start until `patch-app` finishes it or `restore-app` runs.
    Interrupted {
        version: String,
    },
    /// The bundle cannot be read or the patch would be refused.
    Unsupported {
        version: String,
        why: String,
    },
}

impl Status {
    /// A short machine name: `not-installed`, `unpatched`, `patched`, `updated`, `interrupted`,
    /// `unsupported`.
    pub fn kind(&self) -> &'static str {
        match self {
            Status::NotInstalled => "not-installed",
            Status::Unpatched { .. } => "unpatched",
            Status::Patched { .. } => "patched",
            Status::UpdatedSincePatch { .. } => "updated",
            Status::Interrupted { .. } => "interrupted",
            Status::Unsupported { .. } => "unsupported",
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Status::NotInstalled => "Codex Desktop not found".into(),
            Status::Unpatched { version } => format!("Codex Desktop {version}: not patched (custom models are hidden from its picker)"),
            Status::Patched { version } => format!("Codex Desktop {version}: patched"),
            Status::UpdatedSincePatch { was, now } => format!("Codex Desktop updated itself ({was} → {now}) and the patch is gone: patch it again"),
            Status::Interrupted { version } => format!("Codex Desktop {version}: a patch was interrupted (app.asar is patched, Info.plist does not match it yet), so Codex will not start: run `codex-shim patch-app` to finish it, or `codex-shim restore-app`"),
            Status::Unsupported { version, why } => format!("Codex Desktop {version}: cannot be patched: {why}"),
        }
    }
}

/// [`status`], recomputed only when the bundle's files or the patch record change (reading a
/// real `app.asar` takes a moment, and the tray asks twice a second).
pub fn status_cached(bundle: &Bundle, state_dir: &Path) -> Status {
    use std::sync::Mutex;
    type Key = (PathBuf, Vec<Option<(std::time::SystemTime, u64)>>);
    static CACHE: Mutex<Option<(Key, Status)>> = Mutex::new(None);
    let stamp = |p: PathBuf| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().unwrap_or(std::time::UNIX_EPOCH), m.len()))
    };
    let key: Key = (
        bundle.app.clone(),
        vec![
            stamp(bundle.asar()),
            stamp(bundle.plist()),
            stamp(record_file(state_dir)),
        ],
    );
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((k, s)) = cache.as_ref() {
        if *k == key {
            return s.clone();
        }
    }
    let s = status(bundle, state_dir);
    *cache = Some((key, s.clone()));
    s
}

/// Where the last patch is recorded.
pub fn record_file(state_dir: &Path) -> PathBuf {
    state_dir.join("desktop-patch.json")
}

/// The bundle's state; `state_dir` holds the record of the last patch.
pub fn status(bundle: &Bundle, state_dir: &Path) -> Status {
    if !bundle.asar().exists() {
        return Status::NotInstalled;
    }
    status_of(bundle, state_dir, inspect(bundle))
}

/// The state for an inspection already made (a caller that needs both reads the app once).
pub fn status_of(
    bundle: &Bundle,
    state_dir: &Path,
    inspection: Result<Inspection, String>,
) -> Status {
    if !bundle.asar().exists() {
        return Status::NotInstalled;
    }
    let i = match inspection {
        Ok(i) => i,
        Err(why) => {
            return Status::Unsupported {
                version: "?".into(),
                why,
            }
        }
    };
    if i.patched() && i.header_hash != i.plist_hash {
        return Status::Interrupted { version: i.version };
    }
    if i.patched() {
        return Status::Patched { version: i.version };
    }
    let record: Option<serde_json::Value> = std::fs::read_to_string(record_file(state_dir))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(r) = record {
        if r["app"].as_str() == Some(&bundle.app.to_string_lossy())
            && r["asar_sha256"] != i.asar_sha256.as_str()
        {
            return Status::UpdatedSincePatch {
                was: r["version"].as_str().unwrap_or("?").to_string(),
                now: i.version,
            };
        }
    }
    match i.refusal() {
        Some(why) => Status::Unsupported {
            version: i.version.clone(),
            why: why.to_string(),
        },
        None => Status::Unpatched { version: i.version },
    }
}
