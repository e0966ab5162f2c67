//! Our ASAR writer against the real `@electron/asar` (pinned in tests/e2e): it packs a tree with
//! an unpacked native file, an executable, a symlink, nested folders, a file over one integrity
//! block and a file holding the needle; we replace that file; it extracts the result, and every
//! file's integrity block matches its bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use codex_shim::patch::asar::Archive;

fn e2e() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

fn node(args: &[&str]) -> Option<String> {
    if !e2e().join("node_modules/@electron/asar").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs @electron/asar: scripts/test runs npm ci --prefix tests/e2e"
        );
        eprintln!("skipping: run `npm ci --prefix tests/e2e` for @electron/asar");
        return None;
    }
    let out = Command::new("node")
        .arg(e2e().join("asar/asar.cjs"))
        .args(args)
        .current_dir(e2e())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).to_string())
}

const NEEDLE: &str = "let u=c.useHiddenModels&&o!==`amazonBedrock`,d;";

fn tree(src: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    files.insert(
        "webview/assets/model-queries-Bx9.js".to_string(),
        format!("function q(c,o){{{NEEDLE}return u}}\n// ünïcödé\n").into_bytes(),
    );
    files.insert("webview/index.html".into(), b"<!doctype html>".to_vec());
    files.insert(
        "native/addon.node".into(),
        vec![0x7f, b'E', b'L', b'F', 0, 1, 2],
    );
    files.insert("bin/tool.sh".into(), b"#!/bin/sh\necho hi\n".to_vec());
    files.insert("a/b/c/deep.txt".into(), b"deep".to_vec());
    files.insert("empty.txt".into(), Vec::new());
    // More than one 4 MiB integrity block.
    files.insert(
        "big.bin".into(),
        (0..5 * 1024 * 1024 + 17)
            .map(|i| (i * 31 % 251) as u8)
            .collect(),
    );
    for (p, bytes) in &files {
        let f = src.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, bytes).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            src.join("bin/tool.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("bin/tool.sh", src.join("tool-link")).unwrap();
    }
    files
}

#[test]
fn electron_asar_extracts_what_we_patch_and_its_integrity_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (src, packed, patched) = (
        dir.path().join("src"),
        dir.path().join("app.asar"),
        dir.path().join("patched/app.asar"),
    );
    let files = tree(&src);
    if node(&["pack", src.to_str().unwrap(), packed.to_str().unwrap()]).is_none() {
        return;
    }
    let original = std::fs::read(&packed).unwrap();
    let archive = Archive::parse(original.clone()).unwrap();
    // Nothing changed: the same bytes as @electron/asar wrote.
    assert_eq!(archive.with_replaced(&BTreeMap::new()).unwrap(), original);

    let target = "webview/assets/model-queries-Bx9.js";
    let text = String::from_utf8(archive.read(target).unwrap().to_vec()).unwrap();
    let codex_shim::patch::needles::Search::One(found) =
        codex_shim::patch::needles::TARGETS[0].search([(target, text.as_str())])
    else {
        panic!("the fingerprint finds the needle")
    };
    let new = format!(
        "{}{}{}",
        &text[..found.start],
        found.after,
        &text[found.end..]
    );
    assert_eq!(new.len(), text.len(), "a same-length patch");
    let out = archive
        .with_replaced(&BTreeMap::from([(
            target.to_string(),
            new.clone().into_bytes(),
        )]))
        .unwrap();
    std::fs::create_dir_all(patched.parent().unwrap()).unwrap();
    std::fs::write(&patched, &out).unwrap();
    // Unpacked files live beside the archive; a patch leaves that directory as it is.
    let unpacked_from = dir.path().join("app.asar.unpacked");
    let unpacked_to = dir.path().join("patched/app.asar.unpacked/native");
    std::fs::create_dir_all(&unpacked_to).unwrap();
    std::fs::copy(
        unpacked_from.join("native/addon.node"),
        unpacked_to.join("addon.node"),
    )
    .unwrap();

    let dest = dir.path().join("extracted");
    let report: serde_json::Value = serde_json::from_str(
        node(&["check", patched.to_str().unwrap(), dest.to_str().unwrap()])
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(
        report["integrity_mismatches"],
        serde_json::json!([]),
        "{report}"
    );
    assert_eq!(report["files"], files.len(), "{report}");
    assert_eq!(
        report["executable"],
        serde_json::json!(["bin/tool.sh"]),
        "{report}"
    );
    assert_eq!(
        report["unpacked"],
        serde_json::json!(["native/addon.node"]),
        "{report}"
    );
    assert_eq!(report["links"]["tool-link"], "bin/tool.sh", "{report}");
    for (p, bytes) in &files {
        let got = std::fs::read(dest.join(p)).unwrap();
        if p == target {
            assert_eq!(got, new.as_bytes(), "the patched file has the new text");
        } else {
            assert!(got == *bytes, "{p} is byte-identical");
        }
    }
    // The patched script is still valid JavaScript.
    let check = Command::new("node")
        .arg("--check")
        .arg(dest.join(target))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dest.join("bin/tool.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "the executable flag survived");
    }
}
