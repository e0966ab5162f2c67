//! Any bytes as an `app.asar`: parsing never panics; a parsed archive lists, reads and rewrites
//! without panicking, and an unchanged rewrite parses back with the same header.
#![no_main]

use std::collections::BTreeMap;

use codex_shim::patch::asar::Archive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(a) = Archive::parse(data.to_vec()) else {
        return;
    };
    let Ok(entries) = a.entries() else { return };
    for e in &entries {
        let _ = a.read(&e.path);
    }
    if let Ok(out) = a.with_replaced(&BTreeMap::new()) {
        let b = Archive::parse(out).expect("a rewritten archive parses");
        assert_eq!(b.entries().ok().map(|e| e.len()), Some(entries.len()));
    }
});
