//! Shared test support: the stream validator, a fake chat upstream, and an in-process shim.
#![allow(dead_code)]

pub mod fake;
pub mod validate;

use std::path::PathBuf;

/// A file under `tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn read_fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}
