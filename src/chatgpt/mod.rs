//! The ChatGPT subscription passthrough: the user's own Codex login, used for GPT-5.5.
//!
//! The login is read wherever Codex keeps it ([`storage`]: `$CODEX_HOME/auth.json` or the OS
//! keychain) whenever a request needs it, so a token Codex refreshed, a logout or a new login take
//! effect without a restart; it is refreshed as Codex would ([`refresh`]). Tokens are never
//! logged, shown or put in an error message.
//! Only the exact slug [`SLUG`] and the old alias [`ALIAS`] route here: no prefix match, so a BYOK
//! model such as OpenRouter's `openai/gpt-5.5-codex` stays on its own provider.

pub mod refresh;
pub mod storage;

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

/// A ChatGPT login. Holds tokens: never log it (`Debug` hides them).
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub account_id: Option<String>,
    /// The access token's `exp` (seconds since the epoch), when it is a readable JWT.
    pub expires_at: Option<u64>,
    /// The account's email, from the ID token (or the access token).
    pub email: Option<String>,
    /// The ChatGPT plan (`plus`, `pro`, …), when a token says it.
    pub plan: Option<String>,
    /// When Codex (or the shim) last refreshed it, as stored (RFC 3339).
    pub last_refresh: Option<String>,
    /// Where it is kept, when read from a store.
    pub place: Option<storage::Place>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("account_id", &self.account_id)
            .field("expires_at", &self.expires_at)
            .field("email", &self.email)
            .field("plan", &self.plan)
            .field("last_refresh", &self.last_refresh)
            .field("place", &self.place)
            .finish()
    }
}

impl Login {
    /// True once the token's expiry has passed.
    pub fn expired_at(&self, now_secs: u64) -> bool {
        self.expires_at.is_some_and(|exp| exp <= now_secs)
    }

    /// True when the token expires within `margin` seconds of `now` (unknown expiry: no).
    pub fn needs_refresh(&self, now_secs: u64, margin: u64) -> bool {
        self.expired_at(now_secs.saturating_add(margin))
    }

    /// The same login, noted as kept at `place`.
    pub fn at(mut self, place: storage::Place) -> Self {
        self.place = Some(place);
        self
    }

    /// One line for `codex-shim status` and the tray: account, plan, expiry, last refresh and
    /// where it is kept; never a token.
    pub fn status_line(&self, now_secs: u64) -> String {
        let mut parts = vec![match (&self.email, &self.plan) {
            (Some(e), Some(p)) => format!("ChatGPT login: {e} ({p})"),
            (Some(e), None) => format!("ChatGPT login: {e}"),
            (None, Some(p)) => format!("ChatGPT login ({p})"),
            (None, None) => "ChatGPT login".to_string(),
        }];
        if let Some(exp) = self.expires_at {
            let when = refresh::rfc3339(exp, 0);
            let when = format!("{} {} UTC", &when[..10], &when[11..16]);
            parts.push(if exp <= now_secs {
                format!("token expired {when} (refreshed on the next request)")
            } else {
                format!("token valid until {when}")
            });
        }
        if let Some(r) = &self.last_refresh {
            parts.push(format!("last refreshed {r}"));
        }
        if let Some(p) = &self.place {
            parts.push(format!("kept in {}", p.describe()));
        }
        parts.join(" · ")
    }

    /// What status lines show: account, plan, expiry and last refresh; never a token.
    pub fn summary(&self) -> Value {
        serde_json::json!({
            "account": self.email,
            "account_id": self.account_id,
            "plan": self.plan,
            "expires_at": self.expires_at,
            "last_refresh": self.last_refresh,
            "stored_in": self.place.as_ref().map(storage::Place::describe),
        })
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
    let refresh_token = tokens
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let id_claims = tokens
        .get("id_token")
        .and_then(Value::as_str)
        .and_then(jwt_claims);
    let access_claims = jwt_claims(&access_token);
    let claims = [id_claims.as_ref(), access_claims.as_ref()];
    let email = claims.iter().flatten().find_map(|c| {
        c.get("email")
            .or_else(|| c.pointer("/https:~1~1api.openai.com~1profile/email"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let plan = claims.iter().flatten().find_map(|c| {
        c.pointer("/https:~1~1api.openai.com~1auth/chatgpt_plan_type")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    Some(Login {
        access_token,
        refresh_token,
        account_id,
        expires_at,
        email,
        plan,
        last_refresh: v
            .get("last_refresh")
            .and_then(Value::as_str)
            .map(str::to_string),
        place: None,
    })
}

/// `codex-shim status`'s line about the login (also when the server is stopped).
pub fn status_line() -> String {
    if disabled() {
        return "ChatGPT passthrough: off (CODEX_SHIM_DISABLE_CHATGPT)".into();
    }
    match current_login() {
        Some(l) => l.status_line(now_secs()),
        None => format!("ChatGPT login: none ({LOGIN_HINT})"),
    }
}

/// The current login, unless the passthrough is disabled.
pub fn current_login() -> Option<Login> {
    if disabled() {
        return None;
    }
    login_in(&crate::paths::codex_home())
}

/// The login for `codex_home`, read now from wherever Codex keeps it (so refreshes, logouts and
/// logins apply at once).
pub fn login_in(codex_home: &std::path::Path) -> Option<Login> {
    login_of(storage::load(codex_home).ok()??)
}

/// The login a stored text holds, noted with where it is kept.
pub fn login_of(stored: storage::Stored) -> Option<Login> {
    parse_login(&stored.text).map(|l| l.at(stored.place))
}

/// Seconds since the epoch, now (what token expiries are compared with).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The `exp` claim of a JWT, without verifying it (the backend does that).
pub fn jwt_exp(token: &str) -> Option<u64> {
    jwt_claims(token)?.get("exp")?.as_u64()
}

/// A JWT's claims, unverified (only shown to the user or used to time a refresh).
fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
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
    fn status_shows_the_account_and_plan_but_never_a_token() {
        let claims = URL_SAFE_NO_PAD.encode(
            r#"{"exp":2000000000,"email":"dev@example.com","https://api.openai.com/auth":{"chatgpt_plan_type":"plus"}}"#,
        );
        let access = format!("eyJhbGciOiJSUzI1NiJ9.{claims}.sig-access");
        let text = format!(
            r#"{{"tokens":{{"id_token":"eyJ.{claims}.sig-id","access_token":"{access}","refresh_token":"rt-secret","account_id":"acc-9"}},"last_refresh":"2026-12-01T00:00:00Z"}}"#
        );
        let login = parse_login(&text)
            .unwrap()
            .at(storage::Place::File("/h/auth.json".into()));
        assert_eq!(
            (login.email.as_deref(), login.plan.as_deref()),
            (Some("dev@example.com"), Some("plus"))
        );
        let line = login.status_line(1_900_000_000);
        assert_eq!(
            line,
            "ChatGPT login: dev@example.com (plus) · token valid until 2033-05-18 03:33 UTC · last refreshed 2026-12-01T00:00:00Z · kept in /h/auth.json"
        );
        assert!(login
            .status_line(2_100_000_000)
            .contains("token expired 2033-05-18 03:33 UTC"));
        let shown = format!("{line} {} {login:?}", login.summary());
        for secret in ["sig-access", "sig-id", "rt-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
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
