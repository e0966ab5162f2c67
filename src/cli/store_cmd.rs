//! `codex-shim store`: the responses kept for clients that store them.

use std::path::Path;

use crate::store::Store;

/// A size in bytes for people: `812 B`, `4.2 KB`, `17.0 MB`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// Prints how many responses are stored, their size and the database's path.
pub fn info(db: &Path) -> anyhow::Result<()> {
    let (count, bytes) = match Store::open_existing(db)? {
        Some(store) => store.responses_size()?,
        None => (0, 0),
    };
    println!(
        "{count} stored response(s), {} of conversation, in {}",
        human_size(bytes),
        db.display()
    );
    println!(
        "Kept {} days (CODEX_SHIM_STORE_RETENTION_DAYS) and at most {} MB (CODEX_SHIM_STORE_MAX_MB), oldest first.",
        crate::server::stateful::retention_days(),
        crate::server::stateful::max_bytes() / (1024 * 1024)
    );
    Ok(())
}

/// Deletes every stored response.
pub fn clear(db: &Path) -> anyhow::Result<()> {
    let n = match Store::open_existing(db)? {
        Some(mut store) => store.clear_responses()?,
        None => 0,
    };
    println!("Deleted {n} stored response(s) from {}.", db.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_well() {
        assert_eq!(super::human_size(812), "812 B");
        assert_eq!(super::human_size(4300), "4.2 KB");
        assert_eq!(super::human_size(17 * 1024 * 1024), "17.0 MB");
    }
}
