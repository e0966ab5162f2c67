//! Slugs: the names Codex uses for settings models.
//!
//! A slug is readable (`qwen2.5-coder:14b` → `qwen2-5-coder-14b`), stable across reloads (it depends
//! only on the file's rows in order), unique within a file, and never starts like a slug bundled in
//! Codex: Codex gives a configured name the metadata of the longest bundled slug it starts with, and
//! for most bundled models that switches the request to the "responses lite" code-mode layout
//! (contract §2.7). Such names get a `shim-` prefix.

use std::collections::{HashMap, HashSet};

use super::row::Row;

/// Prefixes of slugs bundled in Codex 0.169 (and their families) that a custom name must not start
/// with. Dotted slugs such as `gpt-5.5` cannot be prefixes of a slug, which never holds a dot.
const BUNDLED_PREFIXES: [&str; 4] = ["gpt-6", "gpt-daybreak", "codex-auto-review", "gpt-5-6"];

/// Names reserved for the ChatGPT passthrough.
const RESERVED: [&str; 2] = ["gpt-5.5", "openai-gpt-5-5"];

/// Lowercases and replaces each run of characters other than ASCII letters and digits with `-`.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    let out = if out.is_empty() {
        "model".to_string()
    } else {
        out
    };
    if BUNDLED_PREFIXES.iter().any(|p| out.starts_with(p)) {
        format!("shim-{out}")
    } else {
        out
    }
}

/// Assigns one unique slug to each row, in order.
pub(super) fn assign(rows: &[Row]) -> Vec<String> {
    let mut per_model: HashMap<&str, usize> = HashMap::new();
    for r in rows {
        *per_model.entry(r.model.as_str()).or_default() += 1;
    }
    let mut taken: HashSet<String> = RESERVED.iter().map(|s| s.to_string()).collect();
    rows.iter()
        .map(|r| {
            let base = match (&r.slug, &r.display_name) {
                (Some(s), _) => s.as_str(),
                (None, Some(d)) if per_model[r.model.as_str()] > 1 => d.as_str(),
                _ => r.model.as_str(),
            };
            let base = slugify(base);
            let mut slug = base.clone();
            let mut n = 2;
            while taken.contains(&slug) {
                slug = format!("{base}-{n}");
                n += 1;
            }
            taken.insert(slug.clone());
            slug
        })
        .collect()
}
