//! "Start at login" registers the installed app, never a development build.
//!
//! A login item outlives the build that made it: registering `target/debug/codex-shim-tray` would
//! start a stale binary at every login, or nothing once `cargo clean` ran. So the tray offers the
//! item only when it runs as an installed app, and says why not otherwise:
//! - macOS: from inside an app bundle (`…/codex-shim.app/Contents/MacOS/<binary>`); the login
//!   item names the bundle, as Login Items in System Settings lists it;
//! - Linux: an AppImage (its own path), or an installed binary (`/usr/bin/codex-shim-tray` from
//!   the .deb); not one inside a cargo profile directory (which holds `.fingerprint` and `deps`).
//!
//! Pure logic: the caller passes the executable's path and a directory probe, so the rules are
//! tested on Linux for both platforms.

use std::path::{Path, PathBuf};

/// The platform the rules are applied for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    MacOs,
    Linux,
    Other,
}

impl Platform {
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else if cfg!(target_os = "linux") {
            Platform::Linux
        } else {
            Platform::Other
        }
    }
}

/// What a login item for this copy of the app would start, or why this copy cannot have one.
pub fn installed_app(
    exe: &Path,
    platform: Platform,
    appimage: Option<&Path>,
    is_dir: impl Fn(&Path) -> bool,
) -> Result<PathBuf, String> {
    match platform {
        Platform::MacOs => match app_bundle(exe) {
            // The bundle `cargo tauri build` just wrote, before it was copied anywhere.
            Some(b) if b.parent().is_some_and(|p| p.ends_with("bundle/macos")) => Err(format!(
                "Start at login needs the installed app: copy {} to /Applications first",
                b.display()
            )),
            Some(b) => Ok(b),
            None => Err(format!(
                "Start at login needs the installed app: this copy runs from {}, not from \
                 codex-shim.app (see the README: Install on macOS)",
                exe.display()
            )),
        },
        Platform::Linux => {
            if let Some(image) = appimage {
                return Ok(image.to_path_buf());
            }
            let dir = exe.parent().unwrap_or(Path::new("/"));
            if is_dir(&dir.join(".fingerprint")) && is_dir(&dir.join("deps")) {
                return Err(format!(
                    "Start at login needs the installed app: this copy is a cargo build ({}); \
                     install the .deb or the AppImage (see the README)",
                    exe.display()
                ));
            }
            Ok(exe.to_path_buf())
        }
        Platform::Other => Ok(exe.to_path_buf()),
    }
}

/// `X.app` when `exe` is `X.app/Contents/MacOS/<name>`.
fn app_bundle(exe: &Path) -> Option<PathBuf> {
    let macos = exe.parent()?;
    let contents = macos.parent()?;
    let bundle = contents.parent()?;
    let is_bundle = macos.file_name()? == "MacOS"
        && contents.file_name()? == "Contents"
        && bundle.extension()? == "app";
    is_bundle.then(|| bundle.to_path_buf())
}

/// [`installed_app`] for the running process.
pub fn for_this_process() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot tell where this app runs from: {e}"))?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let appimage = std::env::var_os("APPIMAGE").map(PathBuf::from);
    installed_app(&exe, Platform::current(), appimage.as_deref(), Path::is_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cargo_dirs(p: &Path) -> bool {
        let s = p.to_string_lossy();
        s.starts_with("/home/me/src/codex-shim/target/") || s.starts_with("/tmp/ci/target/")
    }

    #[test]
    fn on_macos_only_a_copy_inside_an_app_bundle_and_the_item_names_the_bundle() {
        let exe = Path::new("/Applications/codex-shim.app/Contents/MacOS/codex-shim-tray");
        assert_eq!(
            installed_app(exe, Platform::MacOs, None, |_| false),
            Ok(PathBuf::from("/Applications/codex-shim.app"))
        );
        let user = Path::new("/Users/me/Applications/My Tools/codex-shim.app/Contents/MacOS/x");
        assert_eq!(
            installed_app(user, Platform::MacOs, None, |_| false).unwrap(),
            PathBuf::from("/Users/me/Applications/My Tools/codex-shim.app")
        );
        for dev in [
            "/Users/me/src/codex-shim/target/debug/codex-shim-tray",
            "/Users/me/src/codex-shim/target/release/bundle/macos/codex-shim.app/Contents/Resources/x",
            "/Applications/codex-shim.app/codex-shim-tray",
        ] {
            let e = installed_app(Path::new(dev), Platform::MacOs, None, |_| false).unwrap_err();
            assert!(e.contains(dev) && e.contains("Install on macOS"), "{e}");
        }
        let built = "/Users/me/src/codex-shim/target/universal-apple-darwin/release/bundle/macos/codex-shim.app/Contents/MacOS/codex-shim-tray";
        let e = installed_app(Path::new(built), Platform::MacOs, None, |_| false).unwrap_err();
        assert!(e.contains("copy /Users/me/src/codex-shim/target/universal-apple-darwin/release/bundle/macos/codex-shim.app to /Applications"), "{e}");
    }

    #[test]
    fn on_linux_an_installed_binary_or_an_appimage_but_never_a_cargo_build() {
        let installed = Path::new("/usr/bin/codex-shim-tray");
        assert_eq!(
            installed_app(installed, Platform::Linux, None, cargo_dirs),
            Ok(installed.to_path_buf())
        );
        let image = Path::new("/home/me/Apps/codex-shim_0.1.0_amd64.AppImage");
        assert_eq!(
            installed_app(
                Path::new("/tmp/.mount_codexAbc/usr/bin/codex-shim-tray"),
                Platform::Linux,
                Some(image),
                cargo_dirs
            ),
            Ok(image.to_path_buf())
        );
        for dev in [
            "/home/me/src/codex-shim/target/debug/codex-shim-tray",
            "/tmp/ci/target/x86_64-unknown-linux-gnu/release/codex-shim-tray",
        ] {
            let e = installed_app(Path::new(dev), Platform::Linux, None, |p| {
                cargo_dirs(p) && (p.ends_with(".fingerprint") || p.ends_with("deps"))
            })
            .unwrap_err();
            assert!(e.contains("cargo build") && e.contains(dev), "{e}");
        }
    }

    #[test]
    fn the_running_test_binary_is_a_cargo_build() {
        // This very test runs from a cargo profile directory's deps/: its parent has no
        // `.fingerprint`, so it would count as installed; the tray binary itself (one level up)
        // does not. Check the real probe on the profile directory.
        let exe = std::env::current_exe().unwrap();
        let profile = exe.parent().unwrap().parent().unwrap();
        let tray = profile.join("codex-shim-tray");
        assert!(installed_app(&tray, Platform::Linux, None, Path::is_dir).is_err());
    }
}
