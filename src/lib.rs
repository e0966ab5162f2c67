//! codex-shim: a local Responses API server that lets Codex use any model.
//!
//! Codex speaks only the OpenAI Responses API to custom providers. This crate accepts those
//! requests on loopback, routes each one by model slug to the configured upstream, and translates
//! the request and the streamed reply both ways.
//!
//! The crate is split by concern:
//! - [`settings`]: reading the user's model files, aliases, slugs, `${VAR}` resolution;
//! - [`catalog`]: the model catalog Codex reads (`model_catalog_json`, `GET /v1/models`);
//! - [`protocol`]: typed Responses and chat-completions shapes;
//! - [`translate`]: sans-IO request mapping, upstream stream decoders and the one Responses encoder;
//! - [`server`]: the axum routes, the host guard and the upstream client;
//! - [`codex`], [`daemon`], [`paths`]: launching Codex, the background process, file locations.

pub mod active;
pub mod catalog;
pub mod chatgpt;
pub mod cli;
pub mod codex;
pub mod daemon;
pub mod desktop;
pub mod keys;
pub mod launch;
pub mod login_item;
pub mod logtail;
pub mod patch;
pub mod paths;
pub mod prices;
pub mod protocol;
pub mod secrets;
pub mod server;
pub mod settings;
pub mod store;
pub mod translate;

/// The version reported by `/health` and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Logs to stderr (and to [`logtail`], for the UI); the level comes from `CODEX_SHIM_LOG`
/// (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CODEX_SHIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(logtail::TeeWriter::default)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
