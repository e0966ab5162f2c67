//! The `codex-shim` command line.

mod key_cmd;
mod patch_cmd;
mod store_cmd;
mod usage_cmd;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::codex::config;
use crate::settings::{Settings, SettingsSource};
use crate::{active, catalog, chatgpt, codex, daemon, paths, server};

const EXAMPLES: &str = "\
Examples:
  codex-shim serve                  run the server in the foreground (Ctrl-C stops it)
  codex-shim list                   show your models and their slugs
  codex-shim codex                  start the shim if needed, open Codex on the active model
  codex-shim codex -m kimi-k2 exec \"fix the failing test\"
  codex-shim codex -m gpt-5.5       GPT-5.5 on your ChatGPT login (after `codex login`)
  codex-shim enable                 make plain `codex` use the shim (config.toml, backed up)
  codex-shim model use sonnet       switch models by slug, model name or display-name fragment
  codex-shim disable                put config.toml back exactly as it was
  codex-shim key set DEEPSEEK_API_KEY   then \"apiKey\": \"${DEEPSEEK_API_KEY}\" in your settings
  codex-shim key import             move plaintext keys from your settings into the keychain
  codex-shim app ~/code/project     enable, then open Codex Desktop on a project
  codex-shim ui                     open the web UI: models, keys, live request log
  codex-shim usage --days 30        tokens and cost per day and model (--json for scripts)
  codex-shim store info             responses kept for other Responses clients (store clear: delete)
  codex-shim patch-app --dry-run    show how Codex Desktop would be patched to list your models
  codex-shim patch-app --quit       patch it (quitting it first); undo with restore-app
  codex-shim --settings ./models.json start
  codex-shim status | codex-shim stop

Settings: ~/.factory/settings.json (customModels) and ~/.codex-shim/models.json (models), merged;
or only the file given by --settings / CODEX_SHIM_SETTINGS. State (catalog, pid, log) lives in
CODEX_SHIM_HOME, else the platform data dir, with codex-shim.db: the usage ledger (kept for
CODEX_SHIM_USAGE_RETENTION_DAYS, default 90; CODEX_SHIM_USAGE_LEDGER=off records nothing) and the
responses clients other than Codex ask to store (CODEX_SHIM_STORE_RETENTION_DAYS, default 30;
CODEX_SHIM_STORE_MAX_MB, default 512). Codex's login is read from CODEX_HOME (default ~/.codex);
CODEX_SHIM_DISABLE_CHATGPT=1 turns the GPT-5.5 passthrough off. Request bodies being read and
translated at once are capped at CODEX_SHIM_REQUEST_BUDGET_MB (default 8; more waits its turn).
Log level: CODEX_SHIM_LOG.";

/// Run Codex on any model: a local Responses API server that routes each model to its upstream.
#[derive(Debug, Parser)]
#[command(name = "codex-shim", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// Read models only from this file (default: ~/.factory/settings.json + ~/.codex-shim/models.json)
    #[arg(long, global = true, env = "CODEX_SHIM_SETTINGS", value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Port of the local server
    #[arg(long, global = true, env = "CODEX_SHIM_PORT", default_value_t = 8765)]
    pub port: u16,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server in the foreground
    Serve {
        /// Address to listen on (loopback only in this version)
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
    /// Start the server in the background
    Start,
    /// Stop the background server (only if it really is codex-shim)
    Stop,
    /// Stop, then start the background server
    Restart,
    /// Say whether the background server is running, and show the ChatGPT login (account, plan,
    /// when its token expires and was last refreshed; the shim refreshes it when needed)
    Status,
    /// Write the model catalog for Codex and print its path
    Generate,
    /// Make Codex use codex-shim by default: start the shim and edit $CODEX_HOME/config.toml safely
    /// (a config.toml it cannot edit is refused before anything starts)
    Enable,
    /// Undo `enable` (the original config.toml comes back byte for byte; only what `enable`
    /// recorded adding is ever removed) and stop the shim
    Disable,
    /// Open the web UI in your browser (starts the shim if needed)
    Ui,
    /// Enable the shim, then open Codex Desktop on PATH (macOS: quits a running Codex first)
    App {
        /// The project folder to open
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Choose the model first (as `model use`)
        #[arg(short, long)]
        model: Option<String>,
    },
    /// Patch Codex Desktop so your models show in its model picker (backed up; undo: restore-app)
    PatchApp {
        /// The app bundle (default /Applications/Codex.app, or CODEX_SHIM_CODEX_APP)
        #[arg(long, value_name = "PATH")]
        app: Option<PathBuf>,
        /// Show what would change, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Quit a running Codex Desktop instead of stopping
        #[arg(long)]
        quit: bool,
    },
    /// Undo patch-app: put back the backup made for the installed Codex Desktop version
    RestoreApp {
        /// The app bundle (default /Applications/Codex.app, or CODEX_SHIM_CODEX_APP)
        #[arg(long, value_name = "PATH")]
        app: Option<PathBuf>,
        /// Quit a running Codex Desktop instead of stopping
        #[arg(long)]
        quit: bool,
    },
    /// List the configured models (same as `model list`)
    List,
    /// What the recorded requests used and cost, per day and model (tests from the UI left out)
    Usage {
        /// Today and the days before it
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// Only this model (its slug)
        #[arg(long, value_name = "SLUG")]
        model: Option<String>,
        /// A JSON list of {day, slug, requests, input_tokens, cached_tokens, output_tokens,
        /// reasoning_tokens, cost_usd}
        #[arg(long)]
        json: bool,
    },
    /// Responses kept for clients that store them (`store`, `previous_response_id`; Codex does not)
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Model commands
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// API keys in the OS keychain (service `codex-shim`)
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Start the shim if needed, then run `codex` with every argument after it, set up to use the shim
    Codex {
        /// Arguments for codex (e.g. `-m SLUG exec "prompt"`); a leading `--` is optional
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Store a key: read from stdin, or a prompt that does not echo (never from the command line)
    Set {
        /// The key's name, as used in settings: "apiKey": "${NAME}"
        name: String,
    },
    /// Delete a key from the keychain
    Delete { name: String },
    /// List the key names your settings use, where each is found, and which models use it
    List,
    /// Move every literal apiKey in your settings files into the keychain, rewriting it as ${NAME}
    Import,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// How many responses are stored, their size, and where
    Info,
    /// Delete every stored response (the usage ledger stays)
    Clear,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// List the configured models (`*` marks the active one)
    List,
    /// Choose the model Codex uses: a slug, an exact model name, or part of a display name
    Use {
        /// e.g. `kimi-k2`, `claude-sonnet-4-5`, `sonnet`, `gpt-5.5`
        name: String,
    },
}

/// Runs the CLI; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let source = SettingsSource::from_cli(cli.settings.clone());
    match cli.command {
        Command::Serve { host } => serve(&source, &host, cli.port),
        Command::Start => {
            println!("{}", start_daemon(&source, &cli.settings, cli.port)?);
            Ok(0)
        }
        Command::Stop => {
            println!("{}", daemon::stop(&paths::pid_file())?);
            Ok(0)
        }
        Command::Restart => {
            println!("{}", daemon::stop(&paths::pid_file())?);
            println!("{}", start_daemon(&source, &cli.settings, cli.port)?);
            Ok(0)
        }
        Command::Status => match daemon::running(&paths::pid_file()) {
            Some((info, h)) => {
                if let Some(line) = patch_cmd::status_line() {
                    println!("{line}");
                }
                println!(
                    "codex-shim is running on http://127.0.0.1:{} with pid {} ({} models).",
                    info.port,
                    info.pid,
                    h.models.unwrap_or(0)
                );
                if let Some(err) = &h.settings_error {
                    println!("Your settings have an error, so it still serves the last good ones:\n  {err}");
                }
                println!("{}", chatgpt::status_line());
                Ok(0)
            }
            None => {
                if let Some(line) = patch_cmd::status_line() {
                    println!("{line}");
                }
                println!("codex-shim is stopped.");
                println!("{}", chatgpt::status_line());
                Ok(1)
            }
        },
        Command::PatchApp { app, dry_run, quit } => patch_cmd::patch_app(app, dry_run, quit),
        Command::RestoreApp { app, quit } => patch_cmd::restore_app(app, quit),
        Command::Generate => {
            let settings = load(&source)?;
            let passthrough = chatgpt::current_login().is_some();
            let path = write_catalog(&settings, passthrough)?;
            eprintln!(
                "Wrote {} model entries{}. No file under ~/.codex was changed.",
                settings.models.len() + usize::from(passthrough),
                if passthrough {
                    " (with GPT-5.5 on your ChatGPT login)"
                } else {
                    ""
                }
            );
            println!("{}", path.display());
            Ok(0)
        }
        Command::List
        | Command::Model {
            command: ModelCommand::List,
        } => list(&source),
        Command::Model {
            command: ModelCommand::Use { name },
        } => model_use(&source, &name),
        Command::Enable => enable(&source, &cli.settings, cli.port),
        Command::Ui => {
            eprintln!("{}", start_daemon(&source, &cli.settings, cli.port)?);
            let token = std::fs::read_to_string(paths::ui_token_file())
                .with_context(|| format!("reading {}", paths::ui_token_file().display()))?;
            let url = format!("http://127.0.0.1:{}/ui#token={}", cli.port, token.trim());
            let opener = if cfg!(target_os = "macos") {
                "open"
            } else {
                "xdg-open"
            };
            use crate::desktop::Runner;
            match crate::desktop::SystemRunner.spawn(opener, &[url.as_str()], &[]) {
                Ok(()) => println!("Opened the codex-shim UI in your browser."),
                Err(_) => println!("Open this address in your browser (it carries this session's UI token):\n  {url}"),
            }
            Ok(0)
        }
        Command::App { path, model } => {
            if let Some(name) = model {
                model_use(&source, &name)?;
            }
            enable(&source, &cli.settings, cli.port)?;
            let path = std::path::absolute(&path)?;
            let no_proxy = codex::no_proxy_env(
                std::env::var("NO_PROXY").ok().as_deref(),
                std::env::var("no_proxy").ok().as_deref(),
            );
            let env = [
                ("NO_PROXY".to_string(), no_proxy.clone()),
                ("no_proxy".to_string(), no_proxy),
            ];
            match crate::desktop::launch(
                &crate::desktop::SystemRunner,
                crate::desktop::Platform::current(),
                &codex::codex_binary(),
                &path,
                &env,
            ) {
                Ok(msg) => {
                    println!("{msg}");
                    Ok(0)
                }
                Err(msg) => {
                    eprintln!("codex-shim: {msg}");
                    Ok(1)
                }
            }
        }
        Command::Usage { days, model, json } => {
            // Prices come from the settings; without them the bundled table still prices.
            let settings = load(&source).unwrap_or_else(|e| {
                eprintln!("codex-shim: costs use the bundled prices only: {e}");
                Settings::default()
            });
            let db = paths::state_dir().join(crate::store::FILE_NAME);
            let rows = usage_cmd::rows(&db, &settings, days, model.as_deref())?;
            usage_cmd::print(&rows, json, days)?;
            Ok(0)
        }
        Command::Store { command } => {
            let db = paths::state_dir().join(crate::store::FILE_NAME);
            match command {
                StoreCommand::Info => store_cmd::info(&db)?,
                StoreCommand::Clear => store_cmd::clear(&db)?,
            }
            Ok(0)
        }
        Command::Key { command } => match command {
            KeyCommand::Set { name } => key_cmd::set(&name),
            KeyCommand::Delete { name } => key_cmd::delete(&name),
            KeyCommand::List => key_cmd::list(&load(&source)?),
            KeyCommand::Import => key_cmd::import(&source),
        },
        Command::Disable => {
            let editor = config_editor();
            match editor.disable()? {
                config::Outcome::Changed => {
                    println!("Removed codex-shim from {}.", editor.config_path.display())
                }
                config::Outcome::Unchanged => {
                    let path = editor.config_path.display();
                    match std::fs::read_to_string(&editor.config_path) {
                        Ok(t) if config::has_provider(&t) => println!(
                            "{path} was left unchanged: codex-shim has no record of adding the lines that name it there (an older install, or written by hand); remove them by hand if you want them gone."
                        ),
                        _ => println!("codex-shim was not enabled in {path}."),
                    }
                }
            }
            println!("{}", daemon::stop(&paths::pid_file())?);
            Ok(0)
        }
        Command::Codex { args } => launch_codex(&source, &cli.settings, cli.port, &args),
    }
}

fn load(source: &SettingsSource) -> anyhow::Result<Settings> {
    Settings::load(source).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Starts the background server (or reports the one running) for the current settings.
fn start_daemon(
    source: &SettingsSource,
    settings_flag: &Option<PathBuf>,
    port: u16,
) -> anyhow::Result<String> {
    // Broken settings: fail here unless a server is running, which keeps serving the last good
    // ones and reports the error itself.
    let fingerprint = match load(source) {
        Ok(s) => s.fingerprint,
        Err(e) if daemon::running(&paths::pid_file()).is_some() => {
            tracing::debug!("settings do not load: {e}");
            String::new()
        }
        Err(e) => return Err(e),
    };
    daemon::start(
        &std::env::current_exe()?,
        &serve_args(settings_flag, port),
        port,
        &paths::pid_file(),
        &paths::log_file(),
        &fingerprint,
    )
}

fn serve_args(settings: &Option<PathBuf>, port: u16) -> Vec<String> {
    let mut args = vec!["--port".to_string(), port.to_string()];
    if let Some(s) = settings {
        args.push("--settings".into());
        args.push(
            std::path::absolute(s)
                .unwrap_or_else(|_| s.clone())
                .to_string_lossy()
                .into_owned(),
        );
    }
    args.push("serve".into());
    args
}

fn describe_sources(settings: &Settings) -> String {
    settings
        .sources
        .iter()
        .map(|s| match s.models {
            Some(n) => format!("{} ({n} models)", s.path.display()),
            None => format!("{} (not found)", s.path.display()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(source: &SettingsSource) -> anyhow::Result<i32> {
    let settings = load(source)?;
    let passthrough = chatgpt::current_login().is_some();
    if settings.models.is_empty() && !passthrough {
        eprintln!("No models configured. Looked in: {}.\nAdd models to ~/.codex-shim/models.json (see the README) or pass --settings FILE.", describe_sources(&settings));
        return Ok(1);
    }
    let active = active_model(&settings, passthrough);
    let mut rows: Vec<(String, String, String)> = Vec::new();
    if passthrough {
        rows.push((
            chatgpt::SLUG.into(),
            "GPT-5.5 (ChatGPT)".into(),
            format!("{} (chatgpt)", chatgpt::SLUG),
        ));
    }
    rows.extend(settings.models.iter().map(|m| {
        (
            m.slug.clone(),
            m.display_name.clone(),
            format!("{} ({})", m.model, m.provider.as_str()),
        )
    }));
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (slug, display, target) in rows {
        let mark = if active.as_deref() == Some(slug.as_str()) {
            '*'
        } else {
            ' '
        };
        println!("{mark} {slug:width$}  {display}  ->  {target}");
    }
    Ok(0)
}

/// The `config.toml` editor for this user.
fn config_editor() -> config::ConfigEditor {
    active::Places::user().editor()
}

fn active_model(settings: &Settings, passthrough: bool) -> Option<String> {
    active::active_model(&active::Places::user(), settings, passthrough)
}

/// The active model, else the first settings model, else GPT-5.5 on a ChatGPT login.
fn default_model(settings: &Settings, passthrough: bool) -> anyhow::Result<String> {
    if let Some(m) = active_model(settings, passthrough) {
        return Ok(m);
    }
    match (settings.models.first(), passthrough) {
        (Some(m), _) => Ok(m.slug.clone()),
        (None, true) => Ok(chatgpt::SLUG.to_string()),
        (None, false) => anyhow::bail!(
            "no models configured (looked in {}); add one to ~/.codex-shim/models.json, or run `codex login` to use GPT-5.5 on your ChatGPT subscription",
            describe_sources(settings)
        ),
    }
}

/// Writes the catalog (absolute path, as Codex requires) and returns its path.
fn write_catalog(settings: &Settings, passthrough: bool) -> anyhow::Result<PathBuf> {
    let path = std::path::absolute(paths::catalog_file())?;
    // With a ChatGPT login, take GPT-5.5's metadata (its real prompt) from the installed Codex.
    let entry = passthrough.then(|| {
        catalog::refresh_passthrough_entry(&codex::codex_binary(), &paths::state_dir());
        catalog::passthrough_entry_in(&paths::state_dir())
    });
    catalog::write(settings, entry, &path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn model_use(source: &SettingsSource, name: &str) -> anyhow::Result<i32> {
    let settings = load(source)?;
    let switched = active::use_model(
        &active::Places::user(),
        &settings,
        name,
        chatgpt::current_login().is_some(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    if switched.in_config {
        println!(
            "Codex now uses `{}` (set in {}).",
            switched.slug,
            config_editor().config_path.display()
        );
    } else {
        println!("Active model: `{}` (Codex's {} was not changed). `codex-shim codex` uses it; run `codex-shim enable` to make it Codex's default too.", switched.slug, config_editor().config_path.display());
    }
    Ok(0)
}

fn enable(
    source: &SettingsSource,
    settings_flag: &Option<PathBuf>,
    port: u16,
) -> anyhow::Result<i32> {
    let settings = load(source)?;
    let passthrough = chatgpt::current_login().is_some();
    let model = default_model(&settings, passthrough)?;
    let editor = config_editor();
    let managed = config::Managed {
        model: model.clone(),
        port,
        catalog: std::path::absolute(paths::catalog_file())?,
    };
    // Every refusal comes before anything starts or is written.
    editor.check(&managed)?;
    let was_running = daemon::running(&paths::pid_file()).is_some();
    write_catalog(&settings, passthrough)?;
    eprintln!("{}", start_daemon(source, settings_flag, port)?);
    let outcome = match editor.enable(&managed) {
        Ok(o) => o,
        Err(e) => {
            // Say no without leaving behind a server this command started.
            if !was_running {
                let _ = daemon::stop(&paths::pid_file());
            }
            return Err(e.into());
        }
    };
    match outcome {
        config::Outcome::Changed => println!(
            "Codex now uses codex-shim with model `{model}` (edited {}; backups in {}). `codex-shim disable` undoes it.",
            editor.config_path.display(),
            editor.state_dir.join("backups").display()
        ),
        config::Outcome::Unchanged => println!("codex-shim is already enabled in {} with model `{model}`.", editor.config_path.display()),
    }
    Ok(0)
}

fn serve(source: &SettingsSource, host: &str, port: u16) -> anyhow::Result<i32> {
    crate::init_logging();
    let is_loopback = matches!(host, "127.0.0.1" | "localhost" | "::1") || host.starts_with("127.");
    anyhow::ensure!(is_loopback, "codex-shim holds your API keys, so it serves only loopback addresses (127.0.0.1, ::1) in this version; `{host}` is not one");
    let settings = load(source)?;
    if chatgpt::current_login().is_some() {
        catalog::refresh_passthrough_entry(&codex::codex_binary(), &paths::state_dir());
    }
    let mut options = server::ServerOptions {
        port,
        reload_from: Some(source.clone()),
        catalog_path: Some(std::path::absolute(paths::catalog_file())?),
        ui_token: Some(paths::new_ui_token()?),
        ledger: server::ledger_enabled_from_env()
            .then(|| paths::state_dir().join(crate::store::FILE_NAME)),
        database: Some(paths::state_dir().join(crate::store::FILE_NAME)),
        ..Default::default()
    };
    options.allowed_hosts = server::allowed_hosts(
        host,
        std::env::var("CODEX_SHIM_ALLOWED_HOSTS").ok().as_deref(),
    );
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let shutdown = server::shutdown_signal();
        let listener = tokio::net::TcpListener::bind((host, port))
            .await
            .with_context(|| {
                format!("cannot listen on {host}:{port} (is another program using it? try --port)")
            })?;
        let slugs = settings.slugs().join(", ");
        println!(
            "codex-shim {} listening on http://{host}:{port}",
            crate::VERSION
        );
        match settings.models.len() {
            0 => {
                println!("serving 0 models: add some to ~/.codex-shim/models.json (see the README)")
            }
            n => println!("serving {n} models: {slugs}"),
        }
        println!("settings: {}", describe_sources(&settings));
        let state = Arc::new(server::AppState::new(settings, options));
        server::serve(listener, state, shutdown).await?;
        Ok::<_, anyhow::Error>(0)
    })
}

fn launch_codex(
    source: &SettingsSource,
    settings_flag: &Option<PathBuf>,
    port: u16,
    args: &[String],
) -> anyhow::Result<i32> {
    let settings = load(source)?;
    let passthrough = chatgpt::current_login().is_some();
    let default = default_model(&settings, passthrough)?;
    let catalog_path = write_catalog(&settings, passthrough)?;
    eprintln!("{}", start_daemon(source, settings_flag, port)?);
    codex::exec_codex(&codex::codex_args(
        port,
        &catalog_path,
        Some(&default),
        args,
    ))
}
