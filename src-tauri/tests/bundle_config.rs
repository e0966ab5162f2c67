//! The bundle configuration (tauri.conf.json, Info.plist, icons/): a menu-bar-only app with a
//! stable identifier, the bundle targets for macOS and Linux, and icons of the sizes and formats
//! each platform reads, the tray keeping its own template mark.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn tauri_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config() -> Value {
    serde_json::from_str(&std::fs::read_to_string(tauri_dir().join("tauri.conf.json")).unwrap())
        .unwrap()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |r: std::ops::Range<usize>| u32::from_be_bytes(bytes[r].try_into().unwrap());
    (be(16..20), be(20..24))
}

/// The element types of an .icns file, after checking its framing.
fn icns_types(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"icns");
    let total = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(total, bytes.len(), "the header's length is the file's");
    let mut types = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        assert!(
            len >= 8 && at + len <= bytes.len(),
            "element at {at} is framed"
        );
        types.push(String::from_utf8_lossy(&bytes[at..at + 4]).into_owned());
        at += len;
    }
    types
}

#[test]
fn the_bundle_is_on_for_macos_and_linux_with_a_stable_identity() {
    let c = config();
    // The keychain's access list and the login item are tied to this identifier: never change it.
    assert_eq!(c["identifier"], "dev.codexshim.tray");
    assert_eq!(c["productName"], "codex-shim");
    assert!(
        c.get("mainBinaryName").is_none(),
        "the binary keeps its cargo name (codex-shim-tray), apart from the codex-shim CLI"
    );
    let b = &c["bundle"];
    assert_eq!(b["active"], true);
    let targets: Vec<&str> = b["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in ["app", "dmg", "deb"] {
        assert!(targets.contains(&t), "{t} in {targets:?}");
    }
    assert_eq!(b["category"], "DeveloperTool");
    assert!(b["copyright"].as_str().unwrap().contains("MIT"));
    assert!(tauri_dir()
        .join(b["licenseFile"].as_str().unwrap())
        .exists());
    let min: Vec<u32> = b["macOS"]["minimumSystemVersion"]
        .as_str()
        .unwrap()
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(min >= vec![11, 0], "{min:?}");
    // Ad-hoc signed: Apple silicon runs no unsigned code, and an unsigned download is "damaged".
    assert_eq!(b["macOS"]["signingIdentity"], "-");
    // The Tauri CLI adds the tray's appindicator and WebKitGTK to the .deb's Depends itself
    // (scripts/bundle-linux checks the built package).
    assert_eq!(b["linux"]["deb"]["section"], "devel");
}

#[test]
fn the_app_is_menu_bar_only_from_its_info_plist() {
    // The Tauri CLI merges this file into the bundle's Info.plist (and embeds it in dev builds).
    let plist = plist::Value::from_file(tauri_dir().join("Info.plist")).unwrap();
    let dict = plist.as_dictionary().unwrap();
    assert_eq!(
        dict.get("LSUIElement").and_then(plist::Value::as_boolean),
        Some(true),
        "no Dock icon, not even for a moment at launch"
    );
    assert!(dict
        .get("NSAppleEventsUsageDescription")
        .and_then(plist::Value::as_string)
        .is_some_and(|s| s.contains("Login Items")));
}

#[test]
fn every_icon_is_there_in_the_size_its_name_says() {
    let c = config();
    let icons: Vec<PathBuf> = c["bundle"]["icon"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| tauri_dir().join(i.as_str().unwrap()))
        .collect();
    let has = |ext: &str| icons.iter().any(|p| p.extension().unwrap() == ext);
    assert!(has("icns") && has("ico") && has("png"), "{icons:?}");
    for icon in &icons {
        match icon.extension().unwrap().to_str().unwrap() {
            "png" => {
                let name = icon.file_stem().unwrap().to_string_lossy().into_owned();
                let (side, scale) = match name.split_once('@') {
                    Some((s, k)) => (s.to_string(), k.trim_end_matches('x').parse().unwrap()),
                    None => (name.clone(), 1),
                };
                let n: u32 = side.split('x').next().unwrap().parse().unwrap();
                assert_eq!(png_size(icon), (n * scale, n * scale), "{name}");
            }
            "icns" => {
                let types = icns_types(icon);
                // 16 … 512 pt at 1x and 2x: what Finder, the Dock and Spotlight ask for.
                for t in [
                    "ic07", "ic08", "ic09", "ic10", "ic11", "ic12", "ic13", "ic14",
                ] {
                    assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
                }
            }
            "ico" => {
                let bytes = std::fs::read(icon).unwrap();
                assert_eq!(&bytes[..4], [0, 0, 1, 0], "an ICO header");
                assert!(
                    u16::from_le_bytes([bytes[4], bytes[5]]) >= 4,
                    "several sizes"
                );
            }
            other => panic!("unexpected icon type {other}"),
        }
    }
    // The source they are made from, and the tray's own monochrome template mark.
    assert!(tauri_dir().join("../icons/app-icon.svg").exists());
    assert_eq!(
        png_size(&tauri_dir().join("../icons/tray-template.png")),
        (64, 64)
    );
    let main = std::fs::read_to_string(tauri_dir().join("src/main.rs")).unwrap();
    assert!(main.contains(r#"include_image!("../icons/tray-template.png")"#));
}
