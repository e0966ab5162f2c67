//! `codex-shim key …`: moving API keys out of plaintext settings into the keychain.

use std::path::Path;

use crate::settings::{Settings, SettingsError};

/// Where a key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Environment,
    Keychain,
    Missing,
    /// The keychain could not be read (the reason, never a value).
    Unavailable(String),
}

impl Found {
    pub fn label(&self) -> String {
        match self {
            Found::Environment => "environment".into(),
            Found::Keychain => "keychain".into(),
            Found::Missing => "MISSING".into(),
            Found::Unavailable(e) => format!("keychain unavailable: {e}"),
        }
    }
}

/// A key name the settings use, where it is found, and which models use it. Never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub name: String,
    pub found: Found,
    pub slugs: Vec<String>,
}

/// Every key name the settings refer to, in order of first use.
pub fn key_status(settings: &Settings) -> Vec<KeyStatus> {
    let mut out: Vec<KeyStatus> = Vec::new();
    for m in &settings.models {
        for name in m.key_names() {
            match out.iter_mut().find(|k| k.name == name) {
                Some(k) => k.slugs.push(m.slug.clone()),
                None => out.push(KeyStatus {
                    name,
                    found: Found::Missing,
                    slugs: vec![m.slug.clone()],
                }),
            }
        }
    }
    for k in &mut out {
        k.found = if std::env::var(&k.name).is_ok_and(|v| !v.is_empty()) {
            Found::Environment
        } else {
            match crate::secrets::get(&k.name) {
                Ok(Some(_)) => Found::Keychain,
                Ok(None) => Found::Missing,
                Err(e) => Found::Unavailable(e),
            }
        };
    }
    out
}

/// The keychain name for a model's key: `KIMI_K2_API_KEY` for slug `kimi-k2`.
pub fn key_name_for(slug: &str) -> String {
    let base: String = slug
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{}_API_KEY", base.trim_matches('_'))
}

/// One key `import` moves: its name, the secret, and the models that used it.
#[derive(Clone, PartialEq, Eq)]
pub struct Moved {
    pub name: String,
    pub secret: String,
    pub slugs: Vec<String>,
}

// Hand-written so the secret never reaches a log through `{:?}`.
impl std::fmt::Debug for Moved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moved")
            .field("name", &self.name)
            .field("slugs", &self.slugs)
            .finish_non_exhaustive()
    }
}

/// What `import` would do to one settings file: the new text and the keys it moves.
#[derive(Debug)]
pub struct ImportPlan {
    pub text: String,
    pub moved: Vec<Moved>,
}

/// Plans moving every literal key in `text` to the keychain: each literal becomes `${NAME}`,
/// everything else in the file stays as it was, byte for byte.
pub fn plan_import(path: &Path, text: &str) -> Result<ImportPlan, SettingsError> {
    let models = Settings::parse_file(path, text)?;
    let mut moved: Vec<Moved> = Vec::new();
    for m in &models {
        let Some(key) = m.api_key.as_deref() else {
            continue;
        };
        if key.contains("${") || key.starts_with("keychain:") {
            continue;
        }
        match moved.iter_mut().find(|mv| mv.secret == key) {
            Some(mv) => mv.slugs.push(m.slug.clone()),
            None => moved.push(Moved {
                name: key_name_for(&m.slug),
                secret: key.to_string(),
                slugs: vec![m.slug.clone()],
            }),
        }
    }
    let mut new = text.to_string();
    for mv in &moved {
        let literal = serde_json::to_string(&mv.secret).unwrap_or_default();
        new = new.replace(&literal, &format!("\"${{{}}}\"", mv.name));
    }
    // The rewrite must leave exactly the same models, each moved one now referring to its name.
    let after = Settings::parse_file(path, &new)?;
    let same = after.len() == models.len()
        && after.iter().zip(&models).all(|(a, b)| {
            a.slug == b.slug
                && match moved.iter().find(|mv| mv.slugs.contains(&a.slug)) {
                    Some(mv) => a.api_key.as_deref() == Some(format!("${{{}}}", mv.name).as_str()),
                    None => a.api_key == b.api_key,
                }
        });
    if !same {
        return Err(SettingsError {
            file: path.to_path_buf(),
            index: None,
            field: None,
            message: "could not rewrite the keys in place (unusual escaping); nothing was changed"
                .into(),
        });
    }
    Ok(ImportPlan { text: new, moved })
}

/// Reads a secret without echoing it: from stdin when it is not a terminal, else from a prompt
/// on the terminal with echo turned off. Never from the command line.
pub fn read_secret(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal, Read, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut s = String::new();
        stdin.lock().read_to_string(&mut s)?;
        return Ok(s.trim_end_matches(['\n', '\r']).to_string());
    }
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let _guard = NoEcho::new();
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    eprintln!();
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Turns terminal echo off until dropped.
struct NoEcho {
    #[cfg(unix)]
    saved: Option<libc::termios>,
}

impl NoEcho {
    fn new() -> Self {
        #[cfg(unix)]
        {
            // SAFETY: tcgetattr/tcsetattr on stdin with a zeroed, then filled, termios struct.
            unsafe {
                let mut t: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(0, &mut t) != 0 {
                    return NoEcho { saved: None };
                }
                let saved = t;
                t.c_lflag &= !libc::ECHO;
                libc::tcsetattr(0, libc::TCSANOW, &t);
                NoEcho { saved: Some(saved) }
            }
        }
        #[cfg(not(unix))]
        NoEcho {}
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(t) = self.saved {
            // SAFETY: restores the settings saved above.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_rewrites_only_the_literal_keys() {
        let text = "{\n  \"models\": [\n    {\"model\": \"kimi-k2\", \"provider\": \"openai\", \"base_url\": \"https://m/v1\", \"apiKey\": \"sk-lit\\\"eral\"},\n    {\"model\": \"b\", \"provider\": \"openai\", \"base_url\": \"https://m/v1\", \"apiKey\": \"sk-lit\\\"eral\"},\n    {\"model\": \"c\", \"provider\": \"openai\", \"apiKey\": \"${ALREADY}\"},\n    \"llama3\"\n  ]\n}\n";
        let plan = plan_import(Path::new("m.json"), text).unwrap();
        assert_eq!(plan.moved.len(), 1);
        assert_eq!(
            (plan.moved[0].name.as_str(), plan.moved[0].secret.as_str()),
            ("KIMI_K2_API_KEY", "sk-lit\"eral")
        );
        assert_eq!(plan.moved[0].slugs, ["kimi-k2", "b"]);
        assert_eq!(
            plan.text,
            text.replace("\"sk-lit\\\"eral\"", "\"${KIMI_K2_API_KEY}\"")
        );
        assert!(
            !format!("{plan:?}").contains("sk-lit"),
            "Debug hides the secret"
        );
        assert_eq!(
            key_name_for("qwen2-5-coder-14b"),
            "QWEN2_5_CODER_14B_API_KEY"
        );
    }
}
