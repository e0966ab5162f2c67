//! A real axum chat-completions upstream on loopback, scripted per request, and the shim itself
//! started in-process on a free port.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use codex_shim::server::{AppState, ServerOptions};
use codex_shim::settings::{Settings, SettingsSource};

/// What the fake upstream answers to the next request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 SSE with these raw chunks, `delay` apart.
    Sse {
        chunks: Vec<String>,
        delay: Duration,
    },
    /// A plain HTTP answer.
    Status {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// 200, one chunk, then SSE comments every 20 ms until the client goes away.
    Trickle { first: String },
    /// Never answers at all.
    Hang,
    /// 200 `application/json` headers at once, the body after `delay` (a server that ignores
    /// `stream: true` and takes its time).
    SlowJson { body: String, delay: Duration },
}

impl Reply {
    /// A recorded stream, sent in one go.
    pub fn sse(body: &str) -> Self {
        Reply::Sse {
            chunks: vec![body.to_string()],
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16, body: &str) -> Self {
        Reply::Status {
            status,
            body: body.to_string(),
            headers: Vec::new(),
        }
    }

    /// A streamed text answer built from chunks.
    pub fn text(parts: &[&str]) -> Self {
        let mut chunks: Vec<String> = parts
            .iter()
            .map(|p| sse_chunk(serde_json::json!({"content": p}), None))
            .collect();
        chunks.push(sse_chunk(serde_json::json!({}), Some("stop")));
        chunks.push("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\n".into());
        chunks.push("data: [DONE]\n\n".into());
        Reply::Sse {
            chunks,
            delay: Duration::ZERO,
        }
    }

    /// One tool call, then `[DONE]`.
    pub fn tool_call(call_id: &str, name: &str, arguments: &str) -> Self {
        let delta = serde_json::json!({"tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]});
        Reply::Sse {
            chunks: vec![
                sse_chunk(delta, None),
                sse_chunk(serde_json::json!({}), Some("tool_calls")),
                "data: [DONE]\n\n".into(),
            ],
            delay: Duration::ZERO,
        }
    }
}

/// One chat chunk as an SSE event.
pub fn sse_chunk(delta: Value, finish: Option<&str>) -> String {
    let c = serde_json::json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

/// A request the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub version: axum::http::Version,
}

#[derive(Default)]
struct Inner {
    replies: Mutex<VecDeque<Reply>>,
    /// Answered when no scripted reply is left (load tests); such requests are not recorded.
    repeat: Mutex<Option<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    /// Requests whose handler or body was dropped before it finished: the shim went away.
    cancelled: AtomicUsize,
}

pub struct FakeUpstream {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

struct Guard {
    inner: Arc<Inner>,
    finished: bool,
}

impl Guard {
    fn done(mut self) {
        self.finished = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.finished {
            self.inner.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl FakeUpstream {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeUpstream { addr, inner }
    }

    /// The same upstream over TLS (HTTP/1.1 and HTTP/2 by ALPN), as `https://localhost:port/v1`.
    pub async fn start_tls(tls: rustls::ServerConfig) -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        FakeUpstream { addr, inner }
    }

    /// The base URL to put in settings.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn push(&self, reply: Reply) {
        self.inner.replies.lock().unwrap().push_back(reply);
    }

    /// Answers every request with `reply` once the scripted ones are used up.
    pub fn repeat(&self, reply: Reply) {
        *self.inner.repeat.lock().unwrap() = Some(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn cancelled(&self) -> usize {
        self.inner.cancelled.load(Ordering::SeqCst)
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: axum::http::Uri,
    version: axum::http::Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut reply = inner.replies.lock().unwrap().pop_front();
    let repeated = reply.is_none() && inner.repeat.lock().unwrap().is_some();
    if repeated {
        reply = inner.repeat.lock().unwrap().clone();
    } else {
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        inner.requests.lock().unwrap().push(Recorded {
            path: uri.path().to_string(),
            headers,
            body,
            version,
        });
    }
    let guard = Guard {
        inner: inner.clone(),
        finished: false,
    };
    match reply {
        None => {
            guard.done();
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the fake upstream has no scripted reply",
            )
                .into_response()
        }
        Some(Reply::Status {
            status,
            body,
            headers,
        }) => {
            guard.done();
            let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (k, v) in headers {
                resp.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            resp
        }
        Some(Reply::Hang) => {
            let _guard = guard;
            std::future::pending::<()>().await;
            unreachable!()
        }
        Some(Reply::Sse { chunks, delay }) => {
            let stream = futures_util::stream::unfold(
                (chunks.into_iter(), guard, true),
                move |(mut it, guard, first)| async move {
                    if !first && !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    match it.next() {
                        Some(c) => Some((Ok::<_, Infallible>(Bytes::from(c)), (it, guard, false))),
                        None => {
                            guard.done();
                            None
                        }
                    }
                },
            );
            sse_response(Body::from_stream(stream))
        }
        Some(Reply::SlowJson { body, delay }) => {
            let stream = futures_util::stream::unfold(
                (Some(body), guard),
                move |(body, guard)| async move {
                    let body = body?;
                    tokio::time::sleep(delay).await;
                    guard.done();
                    Some((
                        Ok::<_, Infallible>(Bytes::from(body)),
                        (
                            None,
                            Guard {
                                inner: Arc::new(Inner::default()),
                                finished: true,
                            },
                        ),
                    ))
                },
            );
            let mut resp = Response::new(Body::from_stream(stream));
            resp.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            resp
        }
        Some(Reply::Trickle { first }) => {
            let stream =
                futures_util::stream::unfold((guard, Some(first)), |(guard, first)| async move {
                    let bytes = match first {
                        Some(f) => Bytes::from(f),
                        None => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Bytes::from_static(b": ping\n\n")
                        }
                    };
                    Some((Ok::<_, Infallible>(bytes), (guard, None)))
                });
            sse_response(Body::from_stream(stream))
        }
    }
}

fn sse_response(body: Body) -> Response {
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    resp
}

/// The shim, running in this process on a free loopback port.
pub struct Shim {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Shim {
    /// Starts the shim with `settings` (a settings document); `tune` adjusts its options.
    pub async fn start(settings: Value, tune: impl FnOnce(&mut ServerOptions)) -> Self {
        Shim::start_in(tempfile::tempdir().unwrap(), settings, tune).await
    }

    /// Starts the shim with its UI API on (token [`UI_TOKEN`]), its own Codex home and state dir,
    /// Codex's config already enabled for the first model, and `launcher` behind the launch button.
    pub async fn start_ui(
        settings: Value,
        launcher: Arc<dyn codex_shim::launch::Launcher>,
    ) -> Self {
        Shim::start_ui_tuned(settings, launcher, |_| {}).await
    }

    /// [`Shim::start_ui`], with more options set by `tune`.
    pub async fn start_ui_tuned(
        settings: Value,
        launcher: Arc<dyn codex_shim::launch::Launcher>,
        tune: impl FnOnce(&mut ServerOptions) + Send + 'static,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (codex_home, state_dir) = (dir.path().join("codex-home"), dir.path().join("state"));
        let first = Settings::parse_file(std::path::Path::new("m.json"), &settings.to_string())
            .unwrap()[0]
            .slug
            .clone();
        let editor = codex_shim::codex::config::ConfigEditor::new(
            codex_home.join("config.toml"),
            state_dir.clone(),
        );
        editor
            .enable(&codex_shim::codex::config::Managed {
                model: first,
                port: 8765,
                catalog: dir.path().join("catalog.json"),
            })
            .unwrap();
        let models = dir.path().join("models.json");
        Shim::start_in_with(dir, settings, Some(launcher), move |o| {
            o.reload_from = Some(SettingsSource::Explicit(models));
            o.ui_token = Some(UI_TOKEN.into());
            o.codex_home = codex_home;
            o.state_dir = state_dir;
            tune(o);
        })
        .await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        settings: Value,
        tune: impl FnOnce(&mut ServerOptions),
    ) -> Self {
        Shim::start_in_with(dir, settings, None, tune).await
    }

    async fn start_in_with(
        dir: tempfile::TempDir,
        settings: Value,
        launcher: Option<Arc<dyn codex_shim::launch::Launcher>>,
        tune: impl FnOnce(&mut ServerOptions),
    ) -> Self {
        let path = dir.path().join("models.json");
        std::fs::write(&path, settings.to_string()).unwrap();
        let settings = Settings::load(&SettingsSource::Explicit(path)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Its own Codex home (no ChatGPT login unless a test writes one) and no real backend.
        let mut options = ServerOptions {
            port: addr.port(),
            ledger: Some(dir.path().join("codex-shim.db")),
            database: Some(dir.path().join("codex-shim.db")),
            codex_home: dir.path().join("codex-home"),
            chatgpt_base_url: "http://127.0.0.1:9/unused".into(),
            chatgpt_enabled: true,
            ..Default::default()
        };
        tune(&mut options);
        let mut state = AppState::new(settings, options);
        if let Some(l) = launcher {
            state.launcher = l;
        }
        let state = Arc::new(state);
        tokio::spawn(codex_shim::server::serve(
            listener,
            state,
            std::future::pending(),
        ));
        Shim { addr, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path` as JSON (`/health`, `/v1/models` …).
    #[allow(dead_code)]
    pub async fn get_json(&self, path: &str) -> Value {
        client()
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Starts the shim so it reloads its settings file and rewrites `catalog.json` on changes.
    pub async fn start_reloading(settings: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        let catalog = dir.path().join("catalog.json");
        let shim = Shim::start_in(dir, settings, move |o| {
            o.reload_from = Some(SettingsSource::Explicit(path));
            o.catalog_path = Some(catalog);
        })
        .await;
        shim
    }

    /// The settings file this shim was started with.
    pub fn settings_path(&self) -> std::path::PathBuf {
        self.dir.path().join("models.json")
    }

    /// The state directory of shims started with [`Shim::start_ui`] (backups, UI state).
    pub fn state_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    /// The database holding this shim's ledger and stored responses.
    pub fn database(&self) -> std::path::PathBuf {
        self.dir.path().join("codex-shim.db")
    }

    /// The Codex home this shim reads `auth.json` from.
    pub fn codex_home(&self) -> std::path::PathBuf {
        self.dir.path().join("codex-home")
    }
}

/// The UI token of shims started with [`Shim::start_ui`].
pub const UI_TOKEN: &str = "ui-test-token-0123456789abcdef";

/// A launcher that records what it was asked to start.
#[derive(Default)]
pub struct RecordingLauncher {
    pub calls: Mutex<Vec<String>>,
}

impl codex_shim::launch::Launcher for RecordingLauncher {
    fn launch(&self, target: &str, project: &std::path::Path) -> Result<String, String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{target} {}", project.display()));
        Ok(format!("(test) launched Codex {target}"))
    }
}

/// A client that never goes through a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Settings with one chat model `m` pointing at `upstream`.
pub fn one_model(upstream: &FakeUpstream) -> Value {
    serde_json::json!({"models": [{"model": "up-model", "slug": "m", "provider": "generic-chat-completion-api",
        "base_url": upstream.base_url(), "api_key": "sk-test-secret-123"}]})
}

/// Polls `cond` until it holds or `secs` pass.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
