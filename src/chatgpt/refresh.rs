//! Keeping the ChatGPT login alive: the access token is refreshed the way Codex refreshes it, so a
//! user whose Codex always goes through the shim (and so never refreshes itself) keeps working.
//!
//! - A token that expires within [`MARGIN_SECS`] is refreshed before the request is sent; a
//!   backend 401 refreshes once and the request is sent once more. Nothing is sent with a token
//!   known to be expired.
//! - One refresh is in flight per process, however many requests wait for it; each then re-reads
//!   the store and uses what the refresh (or Codex, meanwhile) wrote.
//! - Across processes, `$CODEX_HOME/auth.lock` is held from the re-read to the write, as Codex
//!   does; a login that changed under the lock is used as it is.
//! - A refusal that cannot get better by retrying (`refresh_token_reused`, `…_expired`,
//!   `…_invalidated`, `invalid_grant`, HTTP 401) is remembered for that refresh token: later
//!   requests fail at once with the same message, without asking again, until a new login.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::storage::{self, Stored};
use super::{login_of, now_secs, Login, LOGIN_HINT};

/// Codex's public OAuth client id (it names the app; it is not a secret).
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// The token endpoint. `CODEX_REFRESH_TOKEN_URL_OVERRIDE` overrides it, as in Codex.
pub const TOKEN_URL: &str = "https://auth.openai.com/oauth/token";
/// A token this close to its expiry is refreshed first.
pub const MARGIN_SECS: u64 = 300;

/// The token endpoint in use.
pub fn token_url() -> String {
    crate::paths::non_empty_env("CODEX_REFRESH_TOKEN_URL_OVERRIDE")
        .unwrap_or_else(|| TOKEN_URL.to_string())
}

/// Why no usable login is at hand. Messages never hold a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// No ChatGPT login is stored.
    Missing(String),
    /// Only a new `codex login` helps.
    Permanent(String),
    /// Trying again later may work (network, the sign-in service's 5xx, a held lock).
    Transient(String),
}

/// The process's one view of the login: reads it fresh each time, refreshes it once at a time.
pub struct Logins {
    codex_home: PathBuf,
    token_url: String,
    client: reqwest::Client,
    one_at_a_time: tokio::sync::Mutex<()>,
    /// A refresh token the sign-in service refused for good (its SHA-256), and the message.
    refused: std::sync::Mutex<Option<([u8; 32], String)>>,
}

#[derive(Deserialize)]
struct TokenReply {
    id_token: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
}

fn fingerprint(refresh_token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(refresh_token.as_bytes()).into()
}

impl Logins {
    pub fn new(codex_home: PathBuf, token_url: String, client: reqwest::Client) -> Self {
        Logins {
            codex_home,
            token_url,
            client,
            one_at_a_time: tokio::sync::Mutex::new(()),
            refused: std::sync::Mutex::new(None),
        }
    }

    pub fn codex_home(&self) -> &std::path::Path {
        &self.codex_home
    }

    async fn stored(&self) -> Result<Option<Stored>, LoginError> {
        let home = self.codex_home.clone();
        tokio::task::spawn_blocking(move || storage::load(&home))
            .await
            .map_err(|e| LoginError::Transient(e.to_string()))?
            .map_err(LoginError::Transient)
    }

    /// The stored login as it is now (no refresh): for status and the catalog.
    pub async fn current(&self) -> Option<Login> {
        login_of(self.stored().await.ok()??)
    }

    /// A login to send a request with: the stored one, refreshed first when it is about to expire.
    pub async fn for_request(&self) -> Result<Login, LoginError> {
        let login = self.current().await.ok_or_else(|| self.missing())?;
        if !login.needs_refresh(now_secs(), MARGIN_SECS) {
            return Ok(login);
        }
        self.refresh(&login.access_token).await
    }

    /// After the backend refused `rejected` (HTTP 401): a login someone refreshed meanwhile, or a
    /// refresh of this one.
    pub async fn after_rejection(&self, rejected: &str) -> Result<Login, LoginError> {
        self.refresh(rejected).await
    }

    /// No login where Codex keeps it.
    fn missing(&self) -> LoginError {
        let place = match storage::mode(&self.codex_home) {
            storage::Mode::File => self.codex_home.join("auth.json").display().to_string(),
            storage::Mode::Keyring => storage::Place::Keyring {
                account: storage::keyring_account(&self.codex_home),
            }
            .describe(),
            storage::Mode::Auto => format!(
                "the OS keychain or {}",
                self.codex_home.join("auth.json").display()
            ),
        };
        LoginError::Missing(format!("there is no ChatGPT login in {place}"))
    }

    /// A fresh login to replace `stale`, the access token known not to work (or about to stop).
    async fn refresh(&self, stale: &str) -> Result<Login, LoginError> {
        let _one = self.one_at_a_time.lock().await;
        let usable =
            |l: &Login| l.access_token != stale && !l.needs_refresh(now_secs(), MARGIN_SECS);
        // Another request of this process (or Codex) may have refreshed while this one waited.
        if let Some(l) = self.current().await.filter(usable) {
            return Ok(l);
        }
        let home = self.codex_home.clone();
        let lock = tokio::task::spawn_blocking(move || storage::lock(&home, storage::LOCK_WAIT))
            .await
            .map_err(|e| LoginError::Transient(e.to_string()))?
            .map_err(|e| LoginError::Transient(format!("cannot refresh the ChatGPT login: {e}")))?;
        // Under the lock, read once more: Codex may have refreshed just before we took it.
        let stored = self.stored().await?.ok_or_else(|| self.missing())?;
        let login = login_of(stored.clone())
            .ok_or_else(|| LoginError::Missing("the stored login is not a ChatGPT login".into()))?;
        if usable(&login) {
            return Ok(login);
        }
        let Some(refresh_token) = login.refresh_token.clone() else {
            return Err(LoginError::Permanent(format!(
                "your ChatGPT login has expired and holds no refresh token; {LOGIN_HINT}"
            )));
        };
        let fp = fingerprint(&refresh_token);
        if let Some((seen, message)) = self.refused.lock().unwrap().as_ref() {
            if *seen == fp {
                return Err(LoginError::Permanent(message.clone()));
            }
        }
        tracing::info!("refreshing the ChatGPT login");
        let reply = match self.ask(&refresh_token).await {
            Ok(r) => r,
            Err(LoginError::Permanent(message)) => {
                *self.refused.lock().unwrap() = Some((fp, message.clone()));
                tracing::warn!("the ChatGPT login could not be refreshed: {message}");
                return Err(LoginError::Permanent(message));
            }
            Err(e) => return Err(e),
        };
        let text = merged(&stored.text, &reply, &rfc3339_now()).map_err(LoginError::Transient)?;
        let place = stored.place.clone();
        let written = text.clone();
        tokio::task::spawn_blocking(move || storage::save(&place, &written))
            .await
            .map_err(|e| LoginError::Transient(e.to_string()))?
            .map_err(|e| {
                LoginError::Transient(format!("the refreshed login was not saved: {e}"))
            })?;
        drop(lock);
        tracing::info!("the ChatGPT login was refreshed");
        login_of(Stored {
            place: stored.place,
            text,
        })
        .ok_or_else(|| LoginError::Transient("the refreshed login is unreadable".into()))
    }

    /// One call to the token endpoint.
    async fn ask(&self, refresh_token: &str) -> Result<TokenReply, LoginError> {
        let body = serde_json::json!({
            "client_id": CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        });
        let resp = self
            .client
            .post(&self.token_url)
            .timeout(Duration::from_secs(30))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                LoginError::Transient(format!(
                    "cannot reach the ChatGPT sign-in service to refresh the login: {}",
                    e.without_url()
                ))
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return serde_json::from_str::<TokenReply>(&text)
                .ok()
                .filter(|r| r.access_token.as_deref().is_some_and(|t| !t.is_empty()))
                .ok_or_else(|| {
                    LoginError::Transient(
                        "the ChatGPT sign-in service answered the refresh without a token".into(),
                    )
                });
        }
        Err(classify(status, &text))
    }
}

/// The code in a token endpoint's error body (`{"error": "…"}` or `{"error": {"code": "…"}}`).
fn error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let code = match v.get("error") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(o)) => o.get("code").and_then(Value::as_str),
        _ => None,
    }
    .or_else(|| v.get("code").and_then(Value::as_str))?;
    Some(code.to_ascii_lowercase())
}

/// A refusal: permanent when only a new login helps, else transient. The body is not quoted
/// (only its error code), so nothing the service echoes can reach a log or an answer.
fn classify(status: u16, body: &str) -> LoginError {
    let code = error_code(body);
    let why = match code.as_deref() {
        Some("refresh_token_reused") => Some("its refresh token was already used (a refresh token works once: another Codex or shim refreshed with it)"),
        Some("refresh_token_expired") => Some("its refresh token has expired"),
        Some("refresh_token_invalidated") => Some("its refresh token was revoked"),
        Some("invalid_grant") => Some("the sign-in service no longer accepts its refresh token (invalid_grant)"),
        _ if status == 401 => Some("the sign-in service refused the refresh (HTTP 401)"),
        _ => None,
    };
    match why {
        Some(why) => LoginError::Permanent(format!(
            "your ChatGPT login could not be refreshed: {why}; {LOGIN_HINT}"
        )),
        None => LoginError::Transient(format!(
            "the ChatGPT sign-in service could not refresh the login (HTTP {status}{}); try again shortly",
            code.map(|c| format!(", {c}")).unwrap_or_default()
        )),
    }
}

/// `stored` with the new tokens and `last_refresh`, every other field and its order kept, in the
/// same layout (pretty like Codex's `auth.json`, or compact like its keychain item).
fn merged(stored: &str, reply: &TokenReply, now: &str) -> Result<String, String> {
    let mut v: Value =
        serde_json::from_str(stored).map_err(|e| format!("the stored login is not JSON: {e}"))?;
    let tokens = v
        .get_mut("tokens")
        .and_then(Value::as_object_mut)
        .ok_or("the stored login has no tokens")?;
    for (key, value) in [
        ("id_token", &reply.id_token),
        ("access_token", &reply.access_token),
        ("refresh_token", &reply.refresh_token),
    ] {
        if let Some(value) = value.as_ref().filter(|t| !t.is_empty()) {
            tokens.insert(key.into(), Value::String(value.clone()));
        }
    }
    v.as_object_mut()
        .ok_or("the stored login is not a JSON object")?
        .insert("last_refresh".into(), Value::String(now.into()));
    let trailing = &stored[stored.trim_end().len()..];
    let body = if stored.trim().contains('\n') {
        serde_json::to_string_pretty(&v)
    } else {
        serde_json::to_string(&v)
    }
    .map_err(|e| e.to_string())?;
    Ok(body + trailing)
}

/// Now as RFC 3339 in UTC with nanoseconds, as Codex writes `last_refresh`.
fn rfc3339_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_nanos())
}

pub(crate) fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian, eras of 400 years).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_796_601_599, 0), "2026-12-06T23:59:59.000000000Z");
        assert_eq!(rfc3339(4_102_444_800, 0), "2100-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn refusals_that_only_a_new_login_fixes_are_permanent() {
        for (status, body) in [
            (
                400,
                r#"{"error":{"code":"refresh_token_reused","message":"x"}}"#,
            ),
            (400, r#"{"error":"invalid_grant","error_description":"x"}"#),
            (400, r#"{"error":"refresh_token_expired"}"#),
            (401, r#"{"code":"refresh_token_invalidated"}"#),
            (401, "not json"),
        ] {
            let e = classify(status, body);
            assert!(
                matches!(&e, LoginError::Permanent(m) if m.contains("codex login")),
                "{status} {body}: {e:?}"
            );
        }
        for (status, body) in [(500, ""), (429, r#"{"error":"rate_limited"}"#), (400, "{}")] {
            assert!(
                matches!(classify(status, body), LoginError::Transient(_)),
                "{status} {body}"
            );
        }
        // The body is never quoted: only the code.
        let e = classify(
            400,
            r#"{"error":"invalid_grant","refresh_token":"rt-SECRET"}"#,
        );
        assert!(!format!("{e:?}").contains("SECRET"));
    }

    #[test]
    fn a_merge_changes_only_the_tokens_and_last_refresh() {
        let stored = "{\n  \"auth_mode\": \"chatgpt\",\n  \"OPENAI_API_KEY\": null,\n  \"tokens\": {\n    \"id_token\": \"id-old\",\n    \"access_token\": \"at-old\",\n    \"refresh_token\": \"rt-old\",\n    \"account_id\": \"acc\"\n  },\n  \"last_refresh\": \"2026-01-01T00:00:00Z\",\n  \"future_field\": {\n    \"kept\": [\n      1,\n      2\n    ]\n  }\n}\n";
        let reply = TokenReply {
            id_token: Some("id-new".into()),
            access_token: Some("at-new".into()),
            refresh_token: None,
        };
        let out = merged(stored, &reply, "2026-12-06T00:00:00.000000000Z").unwrap();
        let expected = stored
            .replace("id-old", "id-new")
            .replace("at-old", "at-new")
            .replace("2026-01-01T00:00:00Z", "2026-12-06T00:00:00.000000000Z");
        assert_eq!(out, expected);
        // Compact stays compact (the keychain item), and a missing last_refresh is added.
        let out = merged(r#"{"tokens":{"access_token":"a"}}"#, &reply, "T").unwrap();
        assert_eq!(
            out,
            r#"{"tokens":{"access_token":"at-new","id_token":"id-new"},"last_refresh":"T"}"#
        );
    }
}
