//! The HTTP client that upstream calls go through.
//!
//! Why not reqwest alone: each upstream stream holds a connection, and hyper grows that
//! connection's read buffer (up to ~400 KB) whenever the shim reads later than the upstream writes.
//! reqwest has no setting to bound it, and at 256 concurrent streams those buffers were 20 of the
//! shim's 60 MiB. This client is hyper-util's own, with the read buffer bounded like the server's
//! ([`READ_BUFFER`]); TLS by rustls with the platform's verifier (as reqwest does, so a company CA
//! in the system store is trusted); HTTP/2 by ALPN; gzip and zstd decoded.
//!
//! A URL that the system proxy settings (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, and
//! the OS's settings) send through a proxy goes through reqwest instead, which speaks every kind of
//! proxy. Both ways give a `reqwest::Response`, so what reads the reply does not care which it was.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING, USER_AGENT};
use tower::ServiceExt;
use tower_http::decompression::Decompression;

/// hyper's read buffer per upstream connection: a response head must fit in it (as in the
/// server's `READ_BUFFER`), and a stream is read through it at most this much at a time.
pub const READ_BUFFER: usize = 16 * 1024;

const USER_AGENT_VALUE: &str = concat!("codex-shim/", env!("CARGO_PKG_VERSION"));

type Direct = Decompression<Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>>;

/// Sends upstream requests: directly with bounded buffers, or through reqwest when a proxy applies.
#[derive(Clone)]
pub struct UpstreamClient {
    direct: Direct,
    proxied: reqwest::Client,
    proxies: Arc<Matcher>,
}

/// TLS for every upstream call, direct or through reqwest: rustls with the platform's verifier
/// (the system trust store; on Linux its certificates are read once, here). No ALPN: the
/// upstream connector sets its own, and [`with_alpn`] makes reqwest's copy.
pub fn tls_config() -> rustls::ClientConfig {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .expect("the platform's certificate verifier initialises")
        .with_no_client_auth()
}

/// `tls` offering HTTP/2 and HTTP/1.1 by ALPN (reqwest takes a preconfigured config as it is).
pub fn with_alpn(mut tls: rustls::ClientConfig) -> rustls::ClientConfig {
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tls
}

/// Why a request got no response, without the URL (a URL may carry a key in its query).
#[derive(Debug)]
pub struct SendError {
    pub timeout: bool,
    pub connect: bool,
    detail: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl UpstreamClient {
    /// `proxied` is used as it is for proxied URLs, so it carries the same defaults (identity
    /// encoding, no redirects, the shim's user agent); `tls` is the one [`tls_config`] both use.
    pub fn new(proxied: reqwest::Client, tls: rustls::ClientConfig) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(30)));
        http.set_keepalive(Some(Duration::from_secs(60)));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        // A fixed read size rather than `http1_max_buf_size`, which caps the write buffer too:
        // with it, sending a 1.5 MB request cost ~15 % more CPU (measured in the benchmark).
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http1_read_buf_exact_size(READ_BUFFER)
            .build(https);
        UpstreamClient {
            direct: Decompression::new(client),
            proxied,
            proxies: Arc::new(Matcher::from_system()),
        }
    }

    /// POSTs `body` to `url`. Redirects are not followed (a redirect could take the key to another
    /// host); the caller reports them.
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: impl Into<Bytes>,
    ) -> Result<reqwest::Response, SendError> {
        let body: Bytes = body.into();
        let uri: axum::http::Uri = url.parse().map_err(|e| SendError {
            timeout: false,
            connect: true,
            detail: format!("the upstream URL is not valid: {e}"),
        })?;
        if self.proxies.intercept(&uri).is_some() {
            return self
                .proxied
                .post(url)
                .headers(headers)
                .body(body)
                .send()
                .await
                .map_err(|e| SendError {
                    timeout: e.is_timeout(),
                    connect: e.is_connect(),
                    detail: sources(&e),
                });
        }
        let mut req = axum::http::Request::post(uri)
            .body(Full::new(body))
            .map_err(|e| SendError {
                timeout: false,
                connect: true,
                detail: e.to_string(),
            })?;
        *req.headers_mut() = headers;
        let h = req.headers_mut();
        h.entry(USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT_VALUE));
        // Plain bytes: a compressor may hold SSE events back. One that compresses anyway is
        // decoded (gzip, zstd), and what is left is reported by the caller.
        h.entry(ACCEPT_ENCODING)
            .or_insert(HeaderValue::from_static("identity"));
        match self.direct.clone().oneshot(req).await {
            Ok(resp) => Ok(reqwest::Response::from(resp.map(reqwest::Body::wrap))),
            Err(e) => Err(SendError {
                timeout: chain_has_timeout(&e),
                connect: e.is_connect(),
                detail: sources(&e),
            }),
        }
    }
}

/// An error's sources on one line, skipping the outermost message (reqwest's names the URL);
/// `"request failed"` when it has none.
pub(super) fn sources(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        parts.push("request failed".into());
    }
    parts.join(": ")
}

fn chain_has_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_skip_the_outer_message_that_names_the_url() {
        let inner = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request for url (https://h/v1?key=SECRET)")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(inner);
        assert_eq!(sources(&e), "connect timed out");
        assert!(chain_has_timeout(&e));
    }
}
