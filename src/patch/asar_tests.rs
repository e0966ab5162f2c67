use super::*;
use serde_json::json;

/// An archive as `@electron/asar` lays it out: files in header order, offsets as strings.
fn build(files: &[(&str, &[u8])], extra: Value) -> Vec<u8> {
    let mut table = Map::new();
    let mut data = Vec::new();
    for (name, content) in files {
        let mut node = Map::new();
        node.insert("size".into(), json!(content.len()));
        node.insert("offset".into(), json!(data.len().to_string()));
        node.insert("integrity".into(), integrity(content));
        table.insert(name.to_string(), Value::Object(node));
        data.extend_from_slice(content);
    }
    if let Value::Object(more) = extra {
        table.extend(more);
    }
    assemble(&json!({ "files": table }).to_string(), &data)
}

#[test]
fn reads_entries_and_files_and_rewrites_unchanged_byte_for_byte() {
    let bytes = build(
        &[("a.js", b"alpha"), ("b.txt", b"bravo!")],
        json!({"dir": {"files": {"c.node": {"size": 3, "unpacked": true}}}, "ln": {"link": "a.js"}}),
    );
    let a = Archive::parse(bytes.clone()).unwrap();
    assert_eq!(a.read("a.js").unwrap(), b"alpha");
    assert_eq!(a.read("b.txt").unwrap(), b"bravo!");
    let kinds: Vec<(String, Kind)> = a
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.path, e.kind))
        .collect();
    assert_eq!(kinds[2], ("dir".into(), Kind::Dir));
    assert_eq!(
        kinds[3],
        (
            "dir/c.node".into(),
            Kind::File {
                size: 3,
                offset: None,
                executable: false
            }
        )
    );
    assert_eq!(kinds[4], ("ln".into(), Kind::Link("a.js".into())));
    assert!(a.read("dir/c.node").unwrap_err().0.contains("unpacked"));
    assert_eq!(a.with_replaced(&BTreeMap::new()).unwrap(), bytes);
    assert_eq!(a.header_hash(), sha256_hex(a.header_string().as_bytes()));
}

#[test]
fn a_replaced_file_moves_the_others_and_gets_new_size_and_integrity() {
    let bytes = build(
        &[("a.js", b"let u=c.useHiddenModels;"), ("b.txt", b"bravo")],
        json!({}),
    );
    let a = Archive::parse(bytes).unwrap();
    let new = b"let u=!1;".to_vec();
    let out = a
        .with_replaced(&BTreeMap::from([("a.js".to_string(), new.clone())]))
        .unwrap();
    let b = Archive::parse(out).unwrap();
    assert_eq!(b.read("a.js").unwrap(), new.as_slice());
    assert_eq!(b.read("b.txt").unwrap(), b"bravo");
    let header: Value = serde_json::from_str(b.header_string()).unwrap();
    assert_eq!(header["files"]["a.js"]["size"], 9);
    assert_eq!(header["files"]["a.js"]["integrity"], integrity(&new));
    assert_eq!(header["files"]["b.txt"]["offset"], "9");
    assert_eq!(header["files"]["b.txt"]["integrity"], integrity(b"bravo"));
    assert_ne!(b.header_hash(), a.header_hash());
    let e = a
        .with_replaced(&BTreeMap::from([("nope.js".to_string(), vec![])]))
        .unwrap_err();
    assert!(e.0.contains("no file `nope.js`"), "{e}");
}

#[test]
fn integrity_blocks_follow_electron() {
    // The final partial block is always hashed, even empty (so an empty file has one block).
    let empty = integrity(b"");
    assert_eq!(empty["blocks"], json!([sha256_hex(b"")]));
    let exact = vec![7u8; BLOCK_SIZE];
    assert_eq!(
        integrity(&exact)["blocks"],
        json!([sha256_hex(&exact), sha256_hex(b"")])
    );
    let more = vec![7u8; BLOCK_SIZE + 1];
    assert_eq!(integrity(&more)["blocks"].as_array().unwrap().len(), 2);
    assert_eq!(integrity(&more)["blockSize"], 4194304);
}

#[test]
fn corrupted_archives_are_refused_with_the_reason() {
    let good = build(&[("a.js", b"alpha")], json!({}));
    for (bytes, why) in [
        (b"abc".to_vec(), "shorter than"),
        (vec![0u8; 64], "corrupted"),
        (good[..good.len() - 2].to_vec(), "past the end"),
        (
            {
                let mut b = good.clone();
                b[16] = b'[';
                b
            },
            "not valid JSON",
        ),
    ] {
        let e = Archive::parse(bytes).err().expect(why);
        assert!(e.0.contains(why), "{e} (wanted {why})");
    }
}
