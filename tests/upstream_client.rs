//! The upstream HTTP client (src/server/client.rs): its read buffer is bounded, so an upstream's
//! response head must fit in it (a larger one is a clear error, not a hang or a crash), and a URL
//! that the system proxy settings cover still goes through the proxy.

mod common;

use std::time::{Duration, Instant};

use common::codex::Sandbox;
use common::fake::{sse_chunk, FakeUpstream, Reply, Shim};
use common::raw::{write, RawUpstream};
use common::validate::parse_sse;
use serde_json::{json, Value};

fn chat_sse(text: &str) -> String {
    sse_chunk(json!({"content": text}), None)
        + &sse_chunk(json!({}), Some("stop"))
        + "data: [DONE]\n\n"
}

fn text_of(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .filter_map(|e| e["item"]["content"][0]["text"].as_str())
        .collect()
}

async fn ask(url: String, model: &str) -> (u16, Vec<Value>) {
    let (status, body) = ask_raw(url, model).await;
    (status, parse_sse(&body))
}

async fn ask_raw(url: String, model: &str) -> (u16, String) {
    let resp = common::fake::client()
        .post(url)
        .json(&json!({"model": model, "stream": true, "input": "hi"}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Upstream heads of 12 KB (a few big cookies) are read; one larger than the client's read
/// buffer fails the request at once with a 502 that says so, and the next request works.
#[tokio::test]
async fn upstream_heads_up_to_the_read_buffer_are_read_and_larger_ones_fail_clearly() {
    let up = RawUpstream::start().await;
    let shim = Shim::start(
        json!([{"model": "up", "slug": "chat", "provider": "generic-chat-completion-api", "base_url": up.base_url()}]),
        |_| {},
    )
    .await;
    let reply = |padding: usize| {
        vec![write(format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-padding: {}\r\nconnection: close\r\n\r\n{}",
            "a".repeat(padding),
            chat_sse("fits")
        ))]
    };
    let limit = codex_shim::server::client::READ_BUFFER;

    up.push(reply(12 * 1024));
    let (status, events) = ask(shim.url("/v1/responses"), "chat").await;
    assert_eq!(status, 200);
    assert_eq!(text_of(&events), "fits", "{events:?}");

    up.push(reply(limit + 1024));
    let started = Instant::now();
    let (status, body) = ask_raw(shim.url("/v1/responses"), "chat").await;
    // Before any event: an OpenAI-shaped error with a status Codex retries (a proxy in between
    // could be at fault), naming the model.
    assert_eq!(status, 502, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("model `chat`") && message.contains("too large"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    up.push(reply(100));
    let (status, events) = ask(shim.url("/v1/responses"), "chat").await;
    assert_eq!((status, text_of(&events)), (200, "fits".to_string()));
}

/// With `HTTP_PROXY` set, a request for an upstream the proxy settings cover goes to the proxy
/// (absolute-form, the upstream's host named), as it did before the shim had its own client;
/// `NO_PROXY` still sends a host past it. The shim runs as its own process, as users run it.
#[tokio::test]
async fn upstreams_the_proxy_settings_cover_go_through_the_proxy() {
    let proxy = FakeUpstream::start().await;
    let direct = FakeUpstream::start().await;
    let sb = Sandbox::new();
    let settings = sb.path("models.json");
    std::fs::write(
        &settings,
        json!([
            // Not resolvable: only the proxy can answer for it.
            {"model": "far-model", "slug": "far", "provider": "generic-chat-completion-api", "base_url": "http://upstream.invalid/v1"},
            {"model": "near-model", "slug": "near", "provider": "generic-chat-completion-api", "base_url": direct.base_url()}
        ])
        .to_string(),
    )
    .unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port());
    let (mut child, base) = sb
        .serve(&[
            ("HTTP_PROXY", proxy_url.as_str()),
            ("NO_PROXY", "127.0.0.1"),
        ])
        .await;

    proxy.push(Reply::text(&["via the proxy"]));
    let (status, events) = ask(format!("{base}/v1/responses"), "far").await;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(text_of(&events), "via the proxy");
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].headers["host"], "upstream.invalid");
    assert_eq!(seen[0].body["model"], "far-model");

    direct.push(Reply::text(&["straight"]));
    let (status, events) = ask(format!("{base}/v1/responses"), "near").await;
    assert_eq!((status, text_of(&events)), (200, "straight".to_string()));
    assert_eq!(
        proxy.requests().len(),
        1,
        "NO_PROXY kept 127.0.0.1 off the proxy"
    );
    assert_eq!(direct.requests().len(), 1);
    child.start_kill().unwrap();
}

/// A CA and a `localhost` certificate it signed, made by the `openssl` CLI in `dir`.
fn make_certs(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, rustls::ServerConfig) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let p = |f: &str| dir.join(format!("{name}-{f}"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let (ca, ca_key, key, csr, cert) = (
        p("ca.pem"),
        p("ca.key"),
        p("leaf.key"),
        p("leaf.csr"),
        p("leaf.pem"),
    );
    let s = |x: &std::path::PathBuf| x.to_str().unwrap().to_string();
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    let (ca_s, ca_key_s, key_s, csr_s, cert_s) = (s(&ca), s(&ca_key), s(&key), s(&csr), s(&cert));
    a.extend([
        "-keyout",
        &ca_key_s,
        "-out",
        &ca_s,
        "-days",
        "2",
        "-subj",
        "/CN=codex-shim test CA",
    ]);
    run(&a);
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend(["-keyout", &key_s, "-out", &csr_s, "-subj", "/CN=localhost"]);
    run(&a);
    let ext = dir.join(format!("{name}-ext.cnf"));
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &csr_s,
        "-CA",
        &ca_s,
        "-CAkey",
        &ca_key_s,
        "-CAcreateserial",
        "-out",
        &cert_s,
        "-days",
        "2",
        "-extfile",
        ext.to_str().unwrap(),
    ]);
    let chain = vec![CertificateDer::from_pem_file(&cert).unwrap()];
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (ca, config)
}

/// An `https` upstream is reached over TLS, verified against the system's trust store
/// (`SSL_CERT_FILE` stands in for it here), on HTTP/2 when the upstream offers it; an upstream
/// whose certificate the store does not trust is refused with a message that says why.
#[tokio::test]
async fn https_upstreams_are_verified_and_spoken_to_over_http2() {
    let sb = Sandbox::new();
    let (ca, tls) = make_certs(sb.root.path(), "good");
    let (other_ca, _) = make_certs(sb.root.path(), "other");
    let up = FakeUpstream::start_tls(tls).await;
    std::fs::write(
        sb.path("models.json"),
        json!([{"model": "tls-model", "slug": "tls", "provider": "generic-chat-completion-api",
            "base_url": format!("https://localhost:{}/v1", up.port())}])
        .to_string(),
    )
    .unwrap();

    let (mut child, base) = sb.serve(&[("SSL_CERT_FILE", ca.to_str().unwrap())]).await;
    up.push(Reply::text(&["over TLS"]));
    let (status, events) = ask(format!("{base}/v1/responses"), "tls").await;
    assert_eq!(
        (status, text_of(&events)),
        (200, "over TLS".to_string()),
        "{events:?}"
    );
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].version, axum::http::Version::HTTP_2);
    assert_eq!(seen[0].body["model"], "tls-model");
    child.kill().await.unwrap();

    let (mut child, base) = sb
        .serve(&[("SSL_CERT_FILE", other_ca.to_str().unwrap())])
        .await;
    let (status, body) = ask_raw(format!("{base}/v1/responses"), "tls").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("cannot connect to the upstream") && body.contains("certificate"),
        "{body}"
    );
    assert_eq!(
        up.requests().len(),
        1,
        "nothing was sent to an untrusted upstream"
    );
    child.kill().await.unwrap();
}
