//! The ChatGPT subscription passthrough: the user's own Codex login, used for GPT-5.5.
//!
//! `$CODEX_HOME/auth.json` is read whenever a request needs it, so a token Codex refreshed, a
//! logout or a new login take effect without a restart. The token is never copied or logged.
//! Only the exact slug [`SLUG`] and the old alias [`ALIAS`] route here: no prefix match, so a BYOK
//! model such as OpenRouter's `openai/gpt-5.5-codex` stays on its own provider.

use std::fmt;
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The passthrough model's slug.
pub const SLUG: &str = "gpt-5.5";
/// The reference implementation's alias, still accepted on requests.
pub const ALIAS: &str = "openai-gpt-5-5";
/// The ChatGPT Codex backend.
pub const DEFAULT_BASE_URL: &str = "https://chatgpt.com/backend-api/codex";

/// The message for a missing, expired or rejected login.
pub const LOGIN_HINT: &str =
    "run `codex login` (ChatGPT sign-in) to use your subscription, then try again";

/// True for the two names that route to ChatGPT.
pub fn is_passthrough(model: &str) -> bool {
    model == SLUG || model == ALIAS
}

/// The backend base URL (`CODEX_SHIM_CHATGPT_BASE_URL` overrides it, for tests and proxies).
pub fn base_url() -> String {
    crate::paths::non_empty_env("CODEX_SHIM_CHATGPT_BASE_URL")
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// `CODEX_SHIM_DISABLE_CHATGPT=1` (or true/yes/on) hides the passthrough entirely.
pub fn disabled() -> bool {
    std::env::var("CODEX_SHIM_DISABLE_CHATGPT").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Codex's login file.
pub fn auth_file() -> PathBuf {
    crate::paths::codex_home().join("auth.json")
}

/// A ChatGPT login. Holds the access token: never log it (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub access_token: String,
    pub account_id: Option<String>,
    /// The token's `exp` (seconds since the epoch), when it is a readable JWT.
    pub expires_at: Option<u64>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("access_token", &"<redacted>")
            .field("account_id", &self.account_id)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Login {
    /// True once the token's expiry has passed.
    pub fn expired_at(&self, now_secs: u64) -> bool {
        self.expires_at.is_some_and(|exp| exp <= now_secs)
    }

    pub fn expired(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.expired_at(now)
    }
}

/// The login in an `auth.json` text, if it is a ChatGPT login with a token.
pub fn parse_login(text: &str) -> Option<Login> {
    let v: Value = serde_json::from_str(text).ok()?;
    if let Some(mode) = v.get("auth_mode").and_then(Value::as_str) {
        if !mode.eq_ignore_ascii_case("chatgpt") {
            return None;
        }
    }
    let tokens = v.get("tokens")?;
    let access_token = tokens
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())?
        .to_string();
    let account_id = tokens
        .get("account_id")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    let expires_at = jwt_exp(&access_token);
    Some(Login {
        access_token,
        account_id,
        expires_at,
    })
}

/// The current login, unless the passthrough is disabled.
pub fn current_login() -> Option<Login> {
    if disabled() {
        return None;
    }
    login_in(&crate::paths::codex_home())
}

/// The login in `codex_home/auth.json`, read now (so refreshes, logouts and logins apply at once).
pub fn login_in(codex_home: &std::path::Path) -> Option<Login> {
    parse_login(&std::fs::read_to_string(codex_home.join("auth.json")).ok()?)
}

/// The `exp` claim of a JWT, without verifying it (the backend does that).
pub fn jwt_exp(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: u64) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.sig",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp},"sub":"u"}}"#))
        )
    }

    #[test]
    fn reads_a_chatgpt_login_and_its_expiry() {
        let text = format!(
            r#"{{"auth_mode":"chatgpt","tokens":{{"access_token":"{}","account_id":"acc-1","refresh_token":"r"}}}}"#,
            jwt(2_000_000_000)
        );
        let login = parse_login(&text).unwrap();
        assert_eq!(
            (login.account_id.as_deref(), login.expires_at),
            (Some("acc-1"), Some(2_000_000_000))
        );
        assert!(!login.expired_at(1_900_000_000) && login.expired_at(2_000_000_000));
        assert!(
            !format!("{login:?}").contains("eyJ"),
            "Debug hides the token"
        );
        // An API-key login, an empty token, or garbage: no passthrough.
        assert!(parse_login(
            r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk","tokens":{"access_token":"x"}}"#
        )
        .is_none());
        assert!(parse_login(r#"{"tokens":{"access_token":""}}"#).is_none());
        assert!(parse_login("not json").is_none());
        // A token that is not a JWT is still usable; its expiry is unknown.
        assert_eq!(
            parse_login(r#"{"tokens":{"access_token":"opaque"}}"#)
                .unwrap()
                .expires_at,
            None
        );
    }

    #[test]
    fn only_the_exact_names_route_to_chatgpt() {
        assert!(is_passthrough("gpt-5.5") && is_passthrough("openai-gpt-5-5"));
        for byok in [
            "gpt-5.5-mine",
            "openai-gpt-5-5-codex",
            "gpt-5-5",
            "openai/gpt-5.5",
        ] {
            assert!(!is_passthrough(byok), "{byok}");
        }
    }
}
