//! A native reader and writer for Electron's ASAR archives.
//!
//! The format: a Chromium "pickle" holding the header size, a pickle holding the header (a JSON
//! file table), then the file data. In little-endian u32s:
//!
//! ```text
//! 4            size of the first pickle's payload
//! H            size of the header pickle (= 8 + J rounded up to 4)
//! H - 4        the header pickle's payload size
//! J            length of the JSON string
//! J bytes      the JSON, zero-padded to a multiple of 4
//! data         a packed file's bytes start at 8 + H + its "offset" (a decimal string)
//! ```
//!
//! Files marked `"unpacked"` live beside the archive in `app.asar.unpacked/` and have no bytes here;
//! `"link"` entries are symlinks; `"executable"` marks mode +x. Each file may carry an `integrity`
//! block (SHA-256 of the whole file and of each 4 MiB block), which Electron checks.
//!
//! [`Archive::with_replaced`] writes a new archive in which the chosen files have new contents and
//! every other byte of file data is copied unchanged: the header keeps every entry and field as it
//! was except the offsets (recomputed), and the size and integrity of the replaced files.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Electron's integrity block size.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// Why an archive could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsarError(pub String);

impl fmt::Display for AsarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AsarError {}

fn err<T>(msg: impl Into<String>) -> Result<T, AsarError> {
    Err(AsarError(msg.into()))
}

/// One entry of the file table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/`-separated, relative to the archive root.
    pub path: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File {
        size: u64,
        /// `None` for an unpacked file.
        offset: Option<u64>,
        executable: bool,
    },
    Link(String),
}

/// A parsed archive, holding its bytes.
pub struct Archive {
    bytes: Vec<u8>,
    header: Value,
    header_string: String,
    data_start: usize,
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `integrity` block Electron (and `@electron/asar`) write for a file's contents.
pub fn integrity(content: &[u8]) -> Value {
    let mut blocks: Vec<Value> = content
        .chunks(BLOCK_SIZE)
        .filter(|c| c.len() == BLOCK_SIZE)
        .map(|c| Value::String(sha256_hex(c)))
        .collect();
    // The last, partial block is always hashed, even when empty.
    blocks.push(Value::String(sha256_hex(
        &content[content.len() - content.len() % BLOCK_SIZE..],
    )));
    serde_json::json!({
        "algorithm": "SHA256",
        "hash": sha256_hex(content),
        "blockSize": BLOCK_SIZE,
        "blocks": blocks,
    })
}

impl Archive {
    /// Parses an archive; every packed file must lie inside the data.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, AsarError> {
        let (Some(first), Some(h), Some(payload), Some(j)) = (
            u32_at(&bytes, 0),
            u32_at(&bytes, 4),
            u32_at(&bytes, 8),
            u32_at(&bytes, 12),
        ) else {
            return err("not an ASAR archive: shorter than its 16-byte preamble");
        };
        if first != 4 || payload + 4 != h || j + 8 > h || h > bytes.len() - 8 {
            return err(format!(
                "not an ASAR archive (or a corrupted one): preamble {first}/{h}/{payload}/{j} for a {}-byte file",
                bytes.len()
            ));
        }
        let header_string = std::str::from_utf8(&bytes[16..16 + j])
            .map_err(|_| AsarError("the ASAR header is not UTF-8".into()))?
            .to_string();
        let header: Value = serde_json::from_str(&header_string)
            .map_err(|e| AsarError(format!("the ASAR header is not valid JSON: {e}")))?;
        if !header.get("files").is_some_and(Value::is_object) {
            return err("the ASAR header has no `files` table");
        }
        let archive = Archive {
            data_start: 8 + h,
            header,
            header_string,
            bytes,
        };
        let data_len = (archive.bytes.len() - archive.data_start) as u64;
        for e in archive.entries()? {
            if let Kind::File {
                size,
                offset: Some(offset),
                ..
            } = e.kind
            {
                if offset.checked_add(size).is_none_or(|end| end > data_len) {
                    return err(format!(
                        "corrupted ASAR archive: `{}` ({size} bytes at {offset}) lies past the end of the data ({data_len} bytes)",
                        e.path
                    ));
                }
            }
        }
        Ok(archive)
    }

    /// The archive as it was read (or built).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The archive's bytes, giving the parsed archive up.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The header's JSON text, exactly as stored.
    pub fn header_string(&self) -> &str {
        &self.header_string
    }

    /// What `Info.plist`'s `ElectronAsarIntegrity` holds for this archive.
    pub fn header_hash(&self) -> String {
        sha256_hex(self.header_string.as_bytes())
    }

    /// Every entry, depth first in header order.
    pub fn entries(&self) -> Result<Vec<Entry>, AsarError> {
        let mut out = Vec::new();
        walk(&self.header["files"], "", &mut out)?;
        Ok(out)
    }

    /// A packed file's bytes.
    pub fn read(&self, path: &str) -> Result<&[u8], AsarError> {
        let e = self
            .entries()?
            .into_iter()
            .find(|e| e.path == path)
            .ok_or_else(|| AsarError(format!("no `{path}` in the archive")))?;
        match e.kind {
            Kind::File {
                size,
                offset: Some(offset),
                ..
            } => {
                let start = self.data_start + offset as usize;
                Ok(&self.bytes[start..start + size as usize])
            }
            Kind::File { offset: None, .. } => err(format!(
                "`{path}` is unpacked (it lives in app.asar.unpacked/)"
            )),
            _ => err(format!("`{path}` is not a file")),
        }
    }

    /// A new archive with `changes` (path → new contents) applied. Only packed files can change.
    pub fn with_replaced(&self, changes: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, AsarError> {
        let entries = self.entries()?;
        for path in changes.keys() {
            match entries.iter().find(|e| &e.path == path).map(|e| &e.kind) {
                Some(Kind::File {
                    offset: Some(_), ..
                }) => {}
                Some(Kind::File { offset: None, .. }) => {
                    return err(format!("`{path}` is unpacked and cannot be replaced"))
                }
                _ => return err(format!("no file `{path}` in the archive")),
            }
        }
        // Lay the packed files out again in their original order.
        let mut packed: Vec<(u64, &Entry)> = entries
            .iter()
            .filter_map(|e| match e.kind {
                Kind::File {
                    offset: Some(o), ..
                } => Some((o, e)),
                _ => None,
            })
            .collect();
        packed.sort_by_key(|(o, e)| (*o, e.path.clone()));
        let mut header = self.header.clone();
        let mut data: Vec<u8> = Vec::with_capacity(self.bytes.len());
        for (_, e) in packed {
            let content: &[u8] = match changes.get(&e.path) {
                Some(new) => new,
                None => self.read(&e.path)?,
            };
            let node = node_mut(&mut header["files"], &e.path)
                .ok_or_else(|| AsarError(format!("lost `{}` in the header", e.path)))?;
            node.insert("offset".into(), Value::String(data.len().to_string()));
            if changes.contains_key(&e.path) {
                node.insert("size".into(), Value::from(content.len() as u64));
                if node.contains_key("integrity") {
                    node.insert("integrity".into(), integrity(content));
                }
            }
            data.extend_from_slice(content);
        }
        let json = serde_json::to_string(&header).map_err(|e| AsarError(e.to_string()))?;
        Ok(assemble(&json, &data))
    }
}

/// Packs files (path → contents, in order) into a new archive, as `@electron/asar` would: nested
/// directories, string offsets, an integrity block per file. For fixtures and tests.
pub fn pack(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut root = Value::Object(Map::new());
    let mut data = Vec::new();
    for (path, content) in files {
        let mut table = &mut root;
        let parts: Vec<&str> = path.split('/').collect();
        for dir in &parts[..parts.len() - 1] {
            let node = table
                .as_object_mut()
                .expect("a table")
                .entry(dir.to_string())
                .or_insert_with(|| serde_json::json!({ "files": {} }));
            table = &mut node["files"];
        }
        table.as_object_mut().expect("a table").insert(
            parts[parts.len() - 1].to_string(),
            serde_json::json!({"size": content.len(), "offset": data.len().to_string(), "integrity": integrity(content)}),
        );
        data.extend_from_slice(content);
    }
    assemble(&serde_json::json!({ "files": root }).to_string(), &data)
}

/// Preamble + header + data.
fn assemble(json: &str, data: &[u8]) -> Vec<u8> {
    let j = json.len();
    let padded = j.div_ceil(4) * 4;
    let h = 8 + padded;
    let mut out = Vec::with_capacity(8 + h + data.len());
    for n in [4, h, h - 4, j] {
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(json.as_bytes());
    out.resize(16 + padded, 0);
    out.extend_from_slice(data);
    out
}

fn walk(files: &Value, prefix: &str, out: &mut Vec<Entry>) -> Result<(), AsarError> {
    let Some(map) = files.as_object() else {
        return err(format!("`{prefix}`: `files` is not a table"));
    };
    for (name, node) in map {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return err(format!("bad file name {name:?} in the ASAR header"));
        }
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let kind = if let Some(children) = node.get("files") {
            out.push(Entry {
                path: path.clone(),
                kind: Kind::Dir,
            });
            walk(children, &path, out)?;
            continue;
        } else if let Some(link) = node.get("link") {
            Kind::Link(link.as_str().unwrap_or_default().to_string())
        } else {
            let size = node
                .get("size")
                .and_then(Value::as_u64)
                .ok_or_else(|| AsarError(format!("`{path}` has no size")))?;
            let unpacked = node.get("unpacked").and_then(Value::as_bool) == Some(true);
            let offset = if unpacked {
                None
            } else {
                Some(
                    node.get("offset")
                        .and_then(|o| o.as_str().and_then(|s| s.parse().ok()).or(o.as_u64()))
                        .ok_or_else(|| AsarError(format!("`{path}` has no offset")))?,
                )
            };
            Kind::File {
                size,
                offset,
                executable: node.get("executable").and_then(Value::as_bool) == Some(true),
            }
        };
        out.push(Entry { path, kind });
    }
    Ok(())
}

fn node_mut<'a>(files: &'a mut Value, path: &str) -> Option<&'a mut Map<String, Value>> {
    let mut parts = path.split('/').peekable();
    let mut table = files;
    while let Some(part) = parts.next() {
        let node = table.get_mut(part)?;
        if parts.peek().is_none() {
            return node.as_object_mut();
        }
        table = node.get_mut("files")?;
    }
    None
}

#[cfg(test)]
#[path = "asar_tests.rs"]
mod tests;
