//! Keys written into a base URL (`?key=…` as Gemini documents it, a password in
//! `https://user:pass@host`) must not be shown by the UI's model list, yet the edit form sends the
//! URL back whole. So the list shows those values as [`MASK`], and a save puts the stored value back
//! wherever the form still holds the mask.

/// What a secret value in a URL is shown as.
pub const MASK: &str = "•••";

/// Query parameter names that carry credentials (compared lowercased, `-` read as `_`).
fn secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('-', "_");
    matches!(
        n.as_str(),
        "key" | "sig" | "signature" | "code" | "auth" | "password" | "pass"
    ) || ["key", "token", "secret", "password"]
        .iter()
        .any(|w| n.ends_with(w) || n.starts_with(w))
}

/// The URL split into what stands before the query, the query's `name=value` pairs, and the rest
/// (`#fragment`).
fn split(url: &str) -> (&str, Vec<(&str, Option<&str>)>, &str) {
    let (head, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let Some((base, query)) = head.split_once('?') else {
        return (head, Vec::new(), fragment);
    };
    let pairs = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (kv, None),
        })
        .collect();
    (base, pairs, fragment)
}

/// The `user:password@` part's password, by its byte range in `base`.
fn password_range(base: &str) -> Option<std::ops::Range<usize>> {
    let start = base.find("://")? + 3;
    let authority_end = base[start..].find('/').map_or(base.len(), |i| start + i);
    let at = base[start..authority_end].rfind('@')? + start;
    let colon = base[start..at].find(':')? + start;
    (colon + 1 < at).then_some(colon + 1..at)
}

fn join(base: &str, pairs: &[(&str, Option<String>)], fragment: &str) -> String {
    let mut out = base.to_string();
    if !pairs.is_empty() {
        out.push('?');
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.to_string(),
            })
            .collect();
        out.push_str(&query.join("&"));
    }
    out.push_str(fragment);
    out
}

/// `url` with its credentials shown as [`MASK`]; everything else as written.
pub fn masked(url: &str) -> String {
    let (base, pairs, fragment) = split(url);
    let mut base = base.to_string();
    if let Some(r) = password_range(&base) {
        base.replace_range(r, MASK);
    }
    let pairs: Vec<(&str, Option<String>)> = pairs
        .into_iter()
        .map(|(k, v)| {
            let v = v.map(|v| {
                if secret_param(k) && !v.is_empty() && !v.starts_with("${") {
                    MASK.to_string()
                } else {
                    v.to_string()
                }
            });
            (k, v)
        })
        .collect();
    join(&base, &pairs, fragment)
}

/// The URL a form sent back, with every [`MASK`] replaced by the value `stored` has in the same
/// place (the same query parameter, or the password). A mask with nothing to restore stays, and
/// the caller refuses it.
pub fn restored(sent: &str, stored: &str) -> String {
    if !sent.contains(MASK) {
        return sent.to_string();
    }
    let (sent_base, sent_pairs, fragment) = split(sent);
    let (stored_base, stored_pairs, _) = split(stored);
    let mut base = sent_base.to_string();
    if let (Some(r), Some(orig)) = (password_range(&base), password_range(stored_base)) {
        if base[r.clone()] == *MASK {
            base.replace_range(r, &stored_base[orig]);
        }
    }
    let pairs: Vec<(&str, Option<String>)> = sent_pairs
        .into_iter()
        .map(|(k, v)| {
            let v = v.map(|v| match v {
                MASK => stored_pairs
                    .iter()
                    .find(|(sk, _)| *sk == k)
                    .and_then(|(_, sv)| *sv)
                    .unwrap_or(v)
                    .to_string(),
                other => other.to_string(),
            });
            (k, v)
        })
        .collect();
    join(&base, &pairs, fragment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_a_url_are_masked_and_the_rest_kept() {
        let url = "https://generativelanguage.googleapis.com/v1beta/openai?key=AIzaSyD-secret&api-version=2024-10-01#x";
        assert_eq!(
            masked(url),
            "https://generativelanguage.googleapis.com/v1beta/openai?key=•••&api-version=2024-10-01#x"
        );
        assert_eq!(
            masked("https://me:hunter2@gw.example.com/v1?access_token=t0k&flag"),
            "https://me:•••@gw.example.com/v1?access_token=•••&flag"
        );
        // References to the environment or keychain are not secrets.
        assert_eq!(
            masked("https://h/v1?key=${GEMINI_KEY}"),
            "https://h/v1?key=${GEMINI_KEY}"
        );
        assert_eq!(
            masked("https://api.deepseek.com/v1"),
            "https://api.deepseek.com/v1"
        );
    }

    #[test]
    fn a_form_that_kept_the_mask_gets_the_stored_value_back() {
        let stored = "https://me:hunter2@gw.example.com/v1?key=AIza-1&api-version=1";
        let shown = masked(stored);
        assert!(
            !shown.contains("AIza-1") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert_eq!(restored(&shown, stored), stored);
        // Another host or version, the key kept.
        let edited = shown
            .replace("gw.example.com", "gw2.example.com")
            .replace("api-version=1", "api-version=2");
        assert_eq!(
            restored(&edited, stored),
            "https://me:hunter2@gw2.example.com/v1?key=AIza-1&api-version=2"
        );
        // A new key typed over the mask wins; a mask with nothing behind it stays (and is refused).
        assert_eq!(
            restored("https://h/v1?key=new", stored),
            "https://h/v1?key=new"
        );
        assert_eq!(
            restored("https://h/v1?token=•••", stored),
            "https://h/v1?token=•••"
        );
    }
}
