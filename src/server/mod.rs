//! The HTTP server: axum routes on loopback.
//!
//! | route                 | what                                                   |
//! |-----------------------|--------------------------------------------------------|
//! | `POST /v1/responses`  | the Responses API, streamed (SSE) or JSON              |
//! | `GET`, `DELETE /v1/responses/{id}`, `GET …/input_items` | stored responses ([`stored_api`]) |
//! | `GET /v1/models`      | the catalog (Codex `ModelsResponse` + OpenAI list)     |
//! | `GET /health`         | status, version, model count, pid                      |
//!
//! Every route sits behind the host guard (DNS rebinding) and every POST accepts only
//! `application/json` (see [`guard`]).

pub mod budget;
pub mod client;
mod guard;
mod log;
mod native;
mod prepare;
pub mod reload;
mod responses;
mod sink;
pub mod stateful;
mod stored_api;
mod ui;
mod ui_desktop;
mod ui_models;
mod ui_usage;
mod upstream;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::settings::Settings;

pub use guard::{allowed_hosts, host_allowed};
pub use log::Events;
pub(crate) use log::{RequestMeta, Summary};

/// Largest request body accepted (Codex sends images inline as base64).
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Server tunables. The defaults suit Codex; tests shorten the timers.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Extra Host names allowed besides loopback and the bind host.
    pub allowed_hosts: HashSet<String>,
    /// A `response.in_progress` event is sent after this much silence (Codex's idle timeout is
    /// 300 s by default; only `data:` events reset it).
    pub heartbeat: Duration,
    /// How long to wait for the upstream's status line before committing to a 200 stream.
    pub header_wait: Duration,
    /// An upstream silent for this long is given up on (a retryable failure).
    pub upstream_idle: Duration,
    /// The port this server listens on (reported by `/health`).
    pub port: u16,
    /// Where Codex keeps `auth.json` (the ChatGPT login), read on every passthrough request.
    pub codex_home: std::path::PathBuf,
    /// The ChatGPT Codex backend.
    pub chatgpt_base_url: String,
    /// Where the ChatGPT login is refreshed (`CODEX_REFRESH_TOKEN_URL_OVERRIDE`, as in Codex).
    pub chatgpt_token_url: String,
    /// False when `CODEX_SHIM_DISABLE_CHATGPT` is set: no passthrough entry, no ChatGPT traffic.
    pub chatgpt_enabled: bool,
    /// Where the settings came from: when set, the server reloads them when they change.
    pub reload_from: Option<crate::settings::SettingsSource>,
    /// The catalog file rewritten on every reload (for Codex's `model_catalog_json`).
    pub catalog_path: Option<std::path::PathBuf>,
    /// codex-shim's state directory (the remembered active model, config backups).
    pub state_dir: std::path::PathBuf,
    /// The per-launch token of the UI API; `None` turns the `/api` routes off.
    pub ui_token: Option<String>,
    /// The Codex Desktop bundle the UI's patch wizard works on.
    pub desktop_app: std::path::PathBuf,
    /// The usage ledger's database (`codex-shim.db` in the state dir for `serve` and the tray);
    /// `None` records nothing.
    pub ledger: Option<std::path::PathBuf>,
    /// Days of ledger rows kept (`CODEX_SHIM_USAGE_RETENTION_DAYS`, default 90).
    pub ledger_retention_days: u32,
    /// Where responses are stored for clients that ask (`store`, `previous_response_id`): the
    /// same database as the ledger for `serve` and the tray; `None` stores nothing.
    pub database: Option<std::path::PathBuf>,
    /// Request bytes read and translated at once (see [`budget`]).
    pub request_budget: usize,
}

/// Days of usage kept unless `CODEX_SHIM_USAGE_RETENTION_DAYS` says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// False when `CODEX_SHIM_USAGE_LEDGER=off` (or `0`, `false`): no usage is recorded.
pub fn ledger_enabled_from_env() -> bool {
    !matches!(
        std::env::var("CODEX_SHIM_USAGE_LEDGER")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str(),
        "off" | "0" | "false" | "no"
    )
}

/// The retention from `CODEX_SHIM_USAGE_RETENTION_DAYS` (a positive whole number of days).
pub fn retention_days_from_env() -> u32 {
    std::env::var("CODEX_SHIM_USAGE_RETENTION_DAYS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|d| *d > 0)
        .unwrap_or(DEFAULT_RETENTION_DAYS)
}

impl ServerOptions {
    /// The ChatGPT login, if the passthrough is enabled and one exists now.
    pub fn chatgpt_login(&self) -> Option<crate::chatgpt::Login> {
        if !self.chatgpt_enabled {
            return None;
        }
        crate::chatgpt::login_in(&self.codex_home)
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            allowed_hosts: allowed_hosts(
                "127.0.0.1",
                std::env::var("CODEX_SHIM_ALLOWED_HOSTS").ok().as_deref(),
            ),
            heartbeat: Duration::from_secs(10),
            header_wait: Duration::from_secs(20),
            upstream_idle: Duration::from_secs(300),
            port: 8765,
            codex_home: crate::paths::codex_home(),
            chatgpt_base_url: crate::chatgpt::base_url(),
            chatgpt_token_url: crate::chatgpt::refresh::token_url(),
            chatgpt_enabled: !crate::chatgpt::disabled(),
            reload_from: None,
            catalog_path: None,
            state_dir: crate::paths::state_dir(),
            ui_token: None,
            desktop_app: crate::desktop::default_app(),
            ledger: None,
            ledger_retention_days: retention_days_from_env(),
            database: None,
            request_budget: budget::budget_from_env(),
        }
    }
}

/// Shared by every request.
pub struct AppState {
    /// Swapped whole on reload; a request works on the snapshot it took, so streams in flight
    /// are never disturbed.
    settings: std::sync::RwLock<Arc<Settings>>,
    /// Why the latest reload failed (the last good settings keep serving meanwhile).
    settings_error: std::sync::RwLock<Option<String>>,
    /// The UI's model lists; and upstream calls that the system proxy settings route via a proxy.
    pub client: reqwest::Client,
    /// Upstream calls (src/server/client.rs).
    pub upstream: client::UpstreamClient,
    /// The ChatGPT login: read fresh, refreshed one at a time.
    pub logins: crate::chatgpt::refresh::Logins,
    pub options: ServerOptions,
    /// One summary per finished request, for the UI's live log.
    pub events: Events,
    /// Starts Codex for the UI's launch button.
    pub launcher: Arc<dyn crate::launch::Launcher>,
    /// Upstream calls in progress, shown in `/health`.
    pub in_flight: InFlight,
    /// Stored responses, when this server keeps them.
    pub responses: Option<Arc<stateful::Responses>>,
    /// Request bytes being parsed and translated at once.
    pub budget: budget::RequestBudget,
}

/// A count of upstream calls in progress (translated or native, from the request to the end of
/// its stream). Once every client is done it is 0 again: the fault and load tests hold the
/// server to that, so a stuck pump or a held upstream connection shows up.
#[derive(Clone, Default)]
pub struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

/// One call's share of [`InFlight`], released when dropped (on every way a call can end).
pub struct InFlightGuard(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    pub fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlightGuard(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl AppState {
    pub fn new(settings: Settings, options: ServerOptions) -> Self {
        let tls = client::tls_config();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(client::with_alpn(tls.clone()))
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60))
            .user_agent(concat!("codex-shim/", env!("CARGO_PKG_VERSION")))
            // Upstreams are asked for plain bytes: a compressor may hold SSE events back, and the
            // shim reads every stream. One that compresses anyway is decoded (gzip, zstd), and
            // Codex always gets plain bytes without a Content-Encoding.
            .default_headers(reqwest::header::HeaderMap::from_iter([(
                reqwest::header::ACCEPT_ENCODING,
                reqwest::header::HeaderValue::from_static("identity"),
            )]))
            // A redirect is reported, not followed: it could take the key to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds with static settings");
        let mut events = Events::default();
        events.ledger = options
            .ledger
            .clone()
            .map(|path| crate::store::Ledger::start(path, options.ledger_retention_days));
        let responses = options.database.clone().map(stateful::Responses::new);
        let budget = budget::RequestBudget::new(options.request_budget);
        AppState {
            settings: std::sync::RwLock::new(Arc::new(settings)),
            settings_error: std::sync::RwLock::new(None),
            upstream: client::UpstreamClient::new(client.clone(), tls),
            logins: crate::chatgpt::refresh::Logins::new(
                options.codex_home.clone(),
                options.chatgpt_token_url.clone(),
                client.clone(),
            ),
            client,
            options,
            events,
            launcher: Arc::new(crate::launch::SystemLauncher),
            in_flight: InFlight::default(),
            responses,
            budget,
        }
    }

    /// The usage ledger, when this server keeps one.
    pub fn ledger(&self) -> Option<&crate::store::Ledger> {
        self.events.ledger.as_ref()
    }

    /// Publishes a request summary to live-log subscribers (none listening is fine).
    pub fn publish(&self, summary: serde_json::Value) {
        self.events.send(summary);
    }

    /// Whether a ChatGPT login exists now and the passthrough is on. Read off the async workers:
    /// in keychain mode it is a round trip to the OS keychain.
    pub async fn has_login(&self) -> bool {
        self.options.chatgpt_enabled && self.logins.current().await.is_some()
    }

    /// The ChatGPT catalog entry while a login exists (the installed Codex's own, when cached).
    pub async fn passthrough_entry(&self) -> Option<serde_json::Value> {
        self.has_login()
            .await
            .then(|| crate::catalog::passthrough_entry_in(&self.options.state_dir))
    }

    /// Where the active model is recorded, for this server.
    pub fn places(&self) -> crate::active::Places {
        crate::active::Places {
            codex_home: self.options.codex_home.clone(),
            state_dir: self.options.state_dir.clone(),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Installs new settings; requests already running keep theirs.
    pub fn replace_settings(&self, settings: Settings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
    }

    /// The latest reload error, if the settings on disk are currently broken.
    pub fn settings_error(&self) -> Option<String> {
        self.settings_error
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_settings_error(&self, error: Option<String>) {
        *self
            .settings_error
            .write()
            .unwrap_or_else(|e| e.into_inner()) = error;
    }
}

/// All routes with their layers.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/responses", post(responses::create))
        .route("/v1/responses/compact", post(responses::compact))
        .route(
            "/v1/responses/{id}",
            get(stored_api::retrieve).delete(stored_api::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(stored_api::input_items),
        )
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .merge(ui::routes(state.clone()))
        .fallback(stored_api::unknown)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

async fn models(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(crate::catalog::models_response(
        &state.settings(),
        state.passthrough_entry().await,
    ))
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let settings = state.settings();
    let login = state.has_login().await;
    Json(json!({
        "status": "ok",
        "service": "codex-shim",
        "version": crate::VERSION,
        "models": settings.models.len() + usize::from(login),
        "settings": settings.fingerprint,
        "settings_error": state.settings_error(),
        "pid": std::process::id(),
        "port": state.options.port,
        "in_flight": state.in_flight.count(),
    }))
}

/// Most a connection reads at once, and so the most its read buffer keeps between requests (also
/// the largest request head accepted). Hyper's default (~400 KB) lets every keep-alive connection
/// that once carried a Codex-sized body hold a buffer that size for as long as it stays open.
pub const READ_BUFFER: usize = 16 * 1024;

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let watcher = reload::spawn(state.clone());
    let app = router(state).into_service::<hyper::body::Incoming>();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // HTTP/1 only, as before the upstream client needed hyper's HTTP/2 (every client of the shim
    // speaks HTTP/1, and the Host guard reads the Host header).
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
    http.http1().max_buf_size(READ_BUFFER);
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Events are small writes; without TCP_NODELAY, Nagle's algorithm holds one back until
        // the client's delayed ACK (up to 40 ms on Linux) — per stream, on every turn.
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = http.serve_connection_with_upgrades(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    if let Some(w) = watcher {
        w.abort();
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (not when the
/// future is first polled), so call it before announcing that the server is ready: a signal that
/// arrives right after the announcement then shuts down gracefully instead of killing the process.
/// Must be called inside the Tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => {},
                _ = int => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}
