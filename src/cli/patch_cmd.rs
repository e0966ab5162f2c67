//! `patch-app` and `restore-app`: the Codex Desktop model-picker patch from the command line.

use std::path::PathBuf;

use crate::desktop::{Platform, SystemRunner};
use crate::patch::{self, apply::Report, Bundle, Options};
use crate::paths;

fn bundle(app: Option<PathBuf>) -> Bundle {
    Bundle::new(app.unwrap_or_else(crate::desktop::default_app))
}

fn print(r: &Report) {
    for s in &r.steps {
        println!(
            "{} {:<9} {}",
            if s.ok { "✓" } else { "✗" },
            s.step,
            s.detail
        );
    }
}

fn print_changes(r: &Report) {
    for c in &r.changes {
        println!(
            "\n{} ({}):\n  - {}\n  + {}",
            c.label,
            c.file,
            c.before,
            c.after.trim_end()
        );
    }
    if !r.changes.is_empty() {
        println!();
    }
}

/// `codex-shim patch-app [--app PATH] [--dry-run] [--quit]`.
pub fn patch_app(app: Option<PathBuf>, dry_run: bool, quit: bool) -> anyhow::Result<i32> {
    let b = bundle(app);
    let opts = Options {
        dry_run,
        quit_running: quit,
        platform: Platform::current(),
    };
    let r = patch::apply(&b, &paths::state_dir(), &SystemRunner, opts);
    print(&r);
    if dry_run && r.ok {
        print_changes(&r);
        println!("Dry run: nothing was changed. Run without --dry-run to patch.");
    }
    Ok(if r.ok { 0 } else { 1 })
}

/// `codex-shim restore-app [--app PATH] [--quit]`.
pub fn restore_app(app: Option<PathBuf>, quit: bool) -> anyhow::Result<i32> {
    let b = bundle(app);
    let opts = Options {
        dry_run: false,
        quit_running: quit,
        platform: Platform::current(),
    };
    let r = patch::restore(&b, &paths::state_dir(), &SystemRunner, opts);
    print(&r);
    Ok(if r.ok { 0 } else { 1 })
}

/// The line `status` prints about Codex Desktop (none when it is not installed).
pub fn status_line() -> Option<String> {
    match patch::status(&bundle(None), &paths::state_dir()) {
        patch::Status::NotInstalled => None,
        s => Some(s.describe()),
    }
}
