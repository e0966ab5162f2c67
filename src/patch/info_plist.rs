//! `Info.plist`'s `ElectronAsarIntegrity` → `Resources/app.asar` → `hash`: the SHA-256 of the
//! archive's header, which Electron checks at start-up (a mismatch and the app will not open).
//!
//! The new hash is written into the file's own text when it is an XML plist, so every other byte
//! stays as it was; the result is parsed back with the `plist` crate and compared with the
//! original, value by value, to prove that the hash is the only change. A binary plist (or XML
//! laid out in a way the text edit does not recognise) is rewritten by the `plist` crate in its
//! own format instead.

use plist::Value;

const ENTRY: &str = "Resources/app.asar";

fn parse(bytes: &[u8]) -> Result<Value, String> {
    Value::from_reader(std::io::Cursor::new(bytes))
        .map_err(|e| format!("Info.plist is not a valid property list: {e}"))
}

fn hash_of(v: &Value) -> Result<&str, String> {
    let integrity = v
        .as_dictionary()
        .and_then(|d| d.get("ElectronAsarIntegrity"))
        .ok_or("Info.plist has no `ElectronAsarIntegrity` key: this does not look like Codex Desktop's bundle")?;
    integrity
        .as_dictionary()
        .and_then(|d| d.get(ENTRY))
        .and_then(Value::as_dictionary)
        .and_then(|d| d.get("hash"))
        .and_then(Value::as_string)
        .ok_or_else(|| format!("Info.plist has no `ElectronAsarIntegrity` → `{ENTRY}` → `hash`"))
}

/// The archive hash the plist records.
pub fn integrity_hash(bytes: &[u8]) -> Result<String, String> {
    hash_of(&parse(bytes)?).map(str::to_string)
}

/// The app's version (`CFBundleShortVersionString`, with `CFBundleVersion` when it differs).
pub fn version(bytes: &[u8]) -> Result<String, String> {
    let v = parse(bytes)?;
    let d = v.as_dictionary().ok_or("Info.plist is not a dictionary")?;
    let short = d
        .get("CFBundleShortVersionString")
        .and_then(Value::as_string);
    let build = d.get("CFBundleVersion").and_then(Value::as_string);
    Ok(match (short, build) {
        (Some(s), Some(b)) if s != b => format!("{s} ({b})"),
        (Some(s), _) => s.to_string(),
        (None, Some(b)) => b.to_string(),
        (None, None) => "unknown".to_string(),
    })
}

/// The plist with the archive hash set to `new_hash`; nothing else changes.
pub fn with_integrity_hash(bytes: &[u8], new_hash: &str) -> Result<Vec<u8>, String> {
    let original = parse(bytes)?;
    let old = hash_of(&original)?.to_string();
    let mut expected = original.clone();
    set_hash(&mut expected, new_hash);
    if let Some(edited) = text_edit(bytes, &old, new_hash) {
        if parse(&edited).ok().as_ref() == Some(&expected) {
            return Ok(edited);
        }
    }
    let mut out = Vec::new();
    let written = if bytes.starts_with(b"bplist") {
        expected.to_writer_binary(&mut out)
    } else {
        expected.to_writer_xml(&mut out)
    };
    written.map_err(|e| format!("cannot write Info.plist: {e}"))?;
    Ok(out)
}

fn set_hash(v: &mut Value, new_hash: &str) {
    if let Some(h) = v
        .as_dictionary_mut()
        .and_then(|d| d.get_mut("ElectronAsarIntegrity"))
        .and_then(Value::as_dictionary_mut)
        .and_then(|d| d.get_mut(ENTRY))
        .and_then(Value::as_dictionary_mut)
        .and_then(|d| d.get_mut("hash"))
    {
        *h = Value::String(new_hash.to_string());
    }
}

/// Replaces `<string>OLD</string>` after `ElectronAsarIntegrity` … `Resources/app.asar` … `hash`
/// in an XML plist's text.
fn text_edit(bytes: &[u8], old: &str, new_hash: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let a = text.find("<key>ElectronAsarIntegrity</key>")?;
    let b = a + text[a..].find(&format!("<key>{ENTRY}</key>"))?;
    let c = b + text[b..].find("<key>hash</key>")?;
    let needle = format!("<string>{old}</string>");
    let d = c + text[c..].find(&needle)?;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..d]);
    out.push_str(&format!("<string>{new_hash}</string>"));
    out.push_str(&text[d + needle.len()..]);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleShortVersionString</key>
	<string>26.519.41501</string>
	<key>CFBundleVersion</key>
	<string>41501</string>
	<key>ElectronAsarIntegrity</key>
	<dict>
		<key>Resources/app.asar</key>
		<dict>
			<key>algorithm</key>
			<string>SHA256</string>
			<key>hash</key>
			<string>aaaa</string>
		</dict>
	</dict>
	<key>LSMinimumSystemVersion</key>
	<string>12.0</string>
</dict>
</plist>
"#;

    #[test]
    fn the_hash_is_the_only_byte_that_changes_in_an_xml_plist() {
        assert_eq!(integrity_hash(XML.as_bytes()).unwrap(), "aaaa");
        assert_eq!(version(XML.as_bytes()).unwrap(), "26.519.41501 (41501)");
        let out = with_integrity_hash(XML.as_bytes(), "bbbb").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), XML.replace("aaaa", "bbbb"));
    }

    #[test]
    fn a_binary_plist_stays_binary() {
        let mut bin = Vec::new();
        parse(XML.as_bytes())
            .unwrap()
            .to_writer_binary(&mut bin)
            .unwrap();
        let out = with_integrity_hash(&bin, "cccc").unwrap();
        assert!(out.starts_with(b"bplist"));
        assert_eq!(integrity_hash(&out).unwrap(), "cccc");
        assert_eq!(version(&out).unwrap(), "26.519.41501 (41501)");
    }

    #[test]
    fn a_missing_key_is_named() {
        let no_key = XML.replace("ElectronAsarIntegrity", "SomethingElse");
        let e = with_integrity_hash(no_key.as_bytes(), "x").unwrap_err();
        assert!(e.contains("no `ElectronAsarIntegrity`"), "{e}");
        let no_hash = XML.replace("<key>hash</key>", "<key>digest</key>");
        let e = integrity_hash(no_hash.as_bytes()).unwrap_err();
        assert!(e.contains("`hash`"), "{e}");
        assert!(integrity_hash(b"not a plist")
            .unwrap_err()
            .contains("not a valid"));
    }
}
