//! The one embedded database: `codex-shim.db` in the state dir (SQLite, compiled in).
//!
//! All SQL lives in this module. The file is created on first use with mode 0600 (SQLite gives its
//! WAL and shared-memory files the same mode), runs in WAL mode so readers (the UI, `codex-shim
//! usage`) never wait for the writer, and carries its schema version in `user_version`: each
//! migration runs once, in order, in a transaction.
//!
//! It holds the usage ledger ([`ledger`]) and stored responses ([`responses`]).

pub mod ledger;
pub mod responses;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use ledger::{DayUsage, Ledger, Record, RequestFilter};
pub use responses::StoredResponse;

/// The database file's name in the state dir.
pub const FILE_NAME: &str = "codex-shim.db";

/// The schema, one migration per version (index 0 takes an empty file to version 1).
const MIGRATIONS: &[&str] = &[
    // 1: the usage ledger, one row per request.
    "CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        slug TEXT NOT NULL,
        upstream_model TEXT,
        route TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        http_status INTEGER,
        outcome TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        ttfb_ms INTEGER,
        duration_ms INTEGER NOT NULL,
        output_tokens_per_s REAL,
        error_class TEXT,
        error TEXT,
        is_test INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX requests_by_time ON requests (ts_ms);",
    // 2: stored responses (`store`, `previous_response_id`, `item_reference`).
    "CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        model TEXT NOT NULL,
        previous_response_id TEXT,
        response TEXT NOT NULL,
        size INTEGER NOT NULL
    );
    CREATE INDEX responses_by_time ON responses (created_at);
    CREATE TABLE response_items (
        response_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        seq INTEGER NOT NULL,
        item_id TEXT,
        item TEXT NOT NULL,
        PRIMARY KEY (response_id, kind, seq)
    );
    CREATE INDEX response_items_by_id ON response_items (item_id);",
];

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: written by a newer codex-shim (schema version {found}; this one knows {known})"
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: usize,
    },
}

/// An open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it if needed, mode 0600) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        create_private(path).map_err(io)?;
        let conn = Connection::open(path).map_err(|e| sqlite(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.setup()?;
        Ok(store)
    }

    /// Opens an existing database for reading; `None` when there is none yet.
    pub fn open_existing(path: &Path) -> Result<Option<Store>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        Store::open(path).map(Some)
    }

    fn setup(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |err| sqlite(&path, err);
        self.conn
            .busy_timeout(std::time::Duration::from_secs(2))
            .map_err(e)?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(e)?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(e)?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(e)?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::Newer {
                path,
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(e)?;
            tx.execute_batch(sql).map_err(e)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(e)?;
            tx.commit().map_err(e)?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sqlite(&self.path, e)
    }
}

fn sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `path` empty with mode 0600 if it does not exist (an existing file keeps its mode).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_private_migrated_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/codex-shim.db");
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(m, 0o600);
        }
        Store::open(&path).unwrap();
    }

    #[test]
    fn garbage_and_newer_files_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.db");
        std::fs::write(
            &junk,
            b"this is not a database, not even a little bit .........",
        )
        .unwrap();
        let e = Store::open(&junk).err().unwrap().to_string();
        assert!(e.contains("junk.db"), "{e}");
        let newer = dir.path().join("newer.db");
        let c = Connection::open(&newer).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let e = Store::open(&newer).err().unwrap().to_string();
        assert!(
            e.contains("newer codex-shim") && e.contains("newer.db"),
            "{e}"
        );
    }
}
