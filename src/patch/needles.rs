//! Where the patch goes in Codex Desktop's bundled JavaScript, found by fingerprint.
//!
//! Codex Desktop's code is minified, and every release renames its short variables, so a patch that
//! looks for one exact string breaks on every update. Each target here is a pattern that keeps the
//! stable parts (property names, string literals, the shape of the statement) and accepts any
//! identifier where the minifier chose one. Each must match exactly once in the whole bundle;
//! anything else is refused with what was found, so the user is never left with a half-patched app.
//!
//! Replacements keep the file's length (padding with spaces, which JavaScript ignores), so the
//! edit is as small as it can be, and are recognisable afterwards ("already patched").

use std::sync::LazyLock;

use regex::Regex;

/// One place to patch.
pub struct Target {
    /// For messages: what this is in Codex Desktop.
    pub label: &'static str,
    /// What the fingerprint looks for, in words (for "not found" messages).
    pub shape: &'static str,
    /// A word that occurs near the target, to say where similar code was seen when the
    /// fingerprint finds nothing.
    pub hint: &'static str,
    unpatched: &'static LazyLock<Regex>,
    patched: &'static LazyLock<Regex>,
    replace: fn(&regex::Captures) -> String,
}

/// A JavaScript identifier as minifiers write them.
macro_rules! id {
    () => {
        r"[A-Za-z_$][\w$]*"
    };
}

static PICKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"let (",
        id!(),
        r")=",
        id!(),
        r"\.useHiddenModels&&",
        id!(),
        r"!==`amazonBedrock`,(",
        id!(),
        r");"
    ))
    .expect("a valid pattern")
});

static PICKER_DONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"let ",
        id!(),
        r"=!1/\*codex-shim\*/ *,",
        id!(),
        r";"
    ))
    .expect("a valid pattern")
});

static SIDEBAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"listRecentThreads\(\{[^{}]*\}\)\{return this\.params\.requestClient\.sendRequest\(`thread/list`,\{[^{}]*?modelProviders:null[^{}]*\}\)\}",
    )
    .expect("a valid pattern")
});

static SIDEBAR_DONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"listRecentThreads\(\{[^{}]*\}\)\{return this\.params\.requestClient\.sendRequest\(`thread/list`,\{[^{}]*?modelProviders:\[\]  [^{}]*\}\)\}",
    )
    .expect("a valid pattern")
});

/// Pads `text` with spaces before its last `tail` characters up to `len` bytes.
fn same_length(head: &str, tail: &str, len: usize) -> String {
    let pad = len.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", " ".repeat(pad))
}

/// The model picker's allowlist filter, and the sidebar's recent-threads provider filter.
pub static TARGETS: [Target; 2] = [
    Target {
        label: "model picker allowlist filter",
        shape: "let A=B.useHiddenModels&&C!==`amazonBedrock`,D;",
        hint: "useHiddenModels",
        unpatched: &PICKER,
        patched: &PICKER_DONE,
        // The filter becomes `false`: every catalog model is shown.
        replace: |c| {
            same_length(
                &format!("let {}=!1/*codex-shim*/", &c[1]),
                &format!(",{};", &c[2]),
                c[0].len(),
            )
        },
    },
    Target {
        label: "sidebar recent-threads provider filter",
        shape: "listRecentThreads({…}){return this.params.requestClient.sendRequest(`thread/list`,{…modelProviders:null…})}",
        hint: "listRecentThreads",
        unpatched: &SIDEBAR,
        patched: &SIDEBAR_DONE,
        // `null` (the current provider's threads only) becomes `[]` (every provider's).
        replace: |c| c[0].replacen("modelProviders:null", "modelProviders:[]  ", 1),
    },
];

/// Where a target was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub file: String,
    /// Byte range in the file.
    pub start: usize,
    pub end: usize,
    pub before: String,
    pub after: String,
}

/// What the search for one target found across the bundle's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// Exactly one unpatched match: patch it.
    One(Found),
    /// Already patched (exactly one patched match, no unpatched one).
    AlreadyPatched { file: String },
    /// Nothing recognisable. `similar` lists files that mention the target's hint word.
    NotFound { similar: Vec<String> },
    /// More than one match: refusing to guess.
    Many { places: Vec<String> },
}

impl Target {
    /// Searches `files` (path, text) for this target.
    pub fn search<'a>(
        &self,
        files: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Search {
        let mut hits = Vec::new();
        let mut done = Vec::new();
        for (path, text) in files.clone() {
            for c in self.unpatched.captures_iter(text) {
                let m = c.get(0).expect("the whole match");
                hits.push(Found {
                    file: path.to_string(),
                    start: m.start(),
                    end: m.end(),
                    before: m.as_str().to_string(),
                    after: (self.replace)(&c),
                });
            }
            done.extend(self.patched.find_iter(text).map(|_| path.to_string()));
        }
        match (hits.len(), done.len()) {
            (1, 0) => Search::One(hits.remove(0)),
            (0, 1) => Search::AlreadyPatched {
                file: done.remove(0),
            },
            (0, 0) => Search::NotFound {
                similar: files
                    .into_iter()
                    .filter(|(_, t)| t.contains(self.hint))
                    .map(|(p, _)| p.to_string())
                    .collect(),
            },
            _ => Search::Many {
                places: hits
                    .into_iter()
                    .map(|h| format!("{} (unpatched, at byte {})", h.file, h.start))
                    .chain(done.into_iter().map(|f| format!("{f} (patched)")))
                    .collect(),
            },
        }
    }

    /// The refusal for a search that found nothing or too much.
    pub fn refusal(&self, search: &Search) -> Option<String> {
        match search {
            Search::NotFound { similar } if similar.is_empty() => Some(format!(
                "Could not find the {} in Codex Desktop (looked for `{}`; no file mentions `{}`). This Codex version is not supported yet; nothing was changed.",
                self.label, self.shape, self.hint
            )),
            Search::NotFound { similar } => Some(format!(
                "Could not find the {} in Codex Desktop (looked for `{}`). `{}` appears in {}, but not in that shape: this Codex version is not supported yet; nothing was changed.",
                self.label, self.shape, self.hint, similar.join(", ")
            )),
            Search::Many { places } => Some(format!(
                "Found the {} {} times ({}); refusing to guess which to patch. Nothing was changed.",
                self.label,
                places.len(),
                places.join("; ")
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "needles_tests.rs"]
mod tests;
