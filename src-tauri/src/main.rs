//! The codex-shim menu-bar (tray) app.
//!
//! A thin shell: it runs the core server in-process and shows a tray menu built from library
//! calls (the settings, the active model, `active::use_model`, the launcher). The web UI, served
//! by the same server, is its window. Configuration comes from the same places as the CLI:
//! `CODEX_SHIM_SETTINGS` or the default settings files, `CODEX_SHIM_PORT` (default 8765),
//! `CODEX_SHIM_HOME`, `CODEX_HOME`.

// No console window on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use codex_shim::server::{AppState, ServerOptions};
use codex_shim::settings::{Settings, SettingsSource};
use codex_shim::{active, daemon, launch::Launcher, paths};
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

const TRAY_ID: &str = "codex-shim";

/// What the menu shows; the menu is rebuilt when this changes.
#[derive(Clone, PartialEq, Eq)]
struct MenuModel {
    status: String,
    /// The ChatGPT login's account, plan and expiry (never a token), when there is one.
    login: Option<String>,
    problem: Option<PortProblem>,
    models: Vec<(String, String)>,
    active: Option<String>,
    autostart: bool,
    /// Why this copy cannot start at login (it is not the installed app), if so.
    autostart_blocked: Option<String>,
    /// The "Patch Codex Desktop…" item's label, which says when an update undid the patch.
    patch_label: String,
}

/// The patch item's label for the bundle's state.
fn patch_label(status: &codex_shim::patch::Status) -> String {
    use codex_shim::patch::Status;
    match status {
        Status::UpdatedSincePatch { .. } => "Codex Desktop updated: patch it again…".into(),
        Status::Patched { .. } => "Codex Desktop: patched (restore…)".into(),
        _ => "Patch Codex Desktop…".into(),
    }
}

/// Why the server could not take its port, with what the menu offers to do about it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PortProblem {
    /// Another codex-shim serves there: offer to take over.
    Shim { port: u16, pid: u32 },
    /// Another program: offer the next free port.
    Other { port: u16, next: Option<u16> },
}

struct Shell {
    /// Replaced when the user moves the server to another port.
    state: Mutex<Arc<AppState>>,
    status: Mutex<String>,
    problem: Mutex<Option<PortProblem>>,
    token: String,
    /// Whether the app starts at login (mirrors the OS setting; updated when toggled).
    autostart: Mutex<bool>,
    /// What a login item starts (the installed app), or why this copy cannot have one.
    login_item: Result<std::path::PathBuf, String>,
    /// The patch item's label: refreshed by the watcher thread, since working it out may read
    /// the whole app.asar (never on the main thread, never before the first menu).
    patch_label: Mutex<String>,
    /// Today's requests and cost from the usage ledger, refreshed by the watcher thread.
    today: Mutex<Option<String>>,
}

impl Shell {
    fn state(&self) -> Arc<AppState> {
        self.state.lock().unwrap().clone()
    }

    fn set_status(&self, status: String, problem: Option<PortProblem>) {
        *self.status.lock().unwrap() = status;
        *self.problem.lock().unwrap() = problem;
    }
}

/// Binds the current state's port and serves; on failure, says who holds the port. The bind is
/// done before returning, so a menu built right after shows the outcome (no rebuild, which would
/// close a menu the user just opened).
fn start_server(shell: &Arc<Shell>) {
    let state = shell.state();
    let port = state.options.port;
    let bound = std::net::TcpListener::bind(("127.0.0.1", port))
        .and_then(|l| l.set_nonblocking(true).map(|()| l));
    match bound {
        Ok(listener) => {
            shell.set_status(format!("codex-shim: serving on 127.0.0.1:{port}"), None);
            tauri::async_runtime::spawn(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => {
                        let _ = codex_shim::server::serve(l, state, std::future::pending()).await;
                    }
                    Err(e) => tracing::error!("cannot serve on port {port}: {e}"),
                }
            });
        }
        Err(_) => {
            let (status, problem) = match daemon::port_owner(port) {
                daemon::PortOwner::Shim(pid) => (
                    format!("Port {port}: another codex-shim (pid {pid}) serves there"),
                    PortProblem::Shim { port, pid },
                ),
                _ => (
                    format!("Port {port} is in use by another program"),
                    PortProblem::Other {
                        port,
                        next: daemon::free_port_after(port),
                    },
                ),
            };
            tracing::warn!("{status}");
            shell.set_status(status, Some(problem));
        }
    }
}

/// Stops the other codex-shim on our port, then serves there.
fn take_over(shell: &Arc<Shell>) {
    let shell = shell.clone();
    std::thread::spawn(move || {
        let port = shell.state().options.port;
        shell.set_status(format!("codex-shim: taking over port {port}…"), None);
        match daemon::take_over(port, &paths::pid_file()) {
            Ok(msg) => {
                tracing::info!("{msg}");
                start_server(&shell);
            }
            Err(e) => shell.set_status(format!("Cannot take over port {port}: {e}"), None),
        }
    });
}

/// Serves on `port` from now on (remembered for the next start), and points Codex's config there.
fn move_to_port(shell: &Arc<Shell>, port: u16) {
    let old = shell.state();
    let mut options = old.options.clone();
    options.port = port;
    let new = AppState::new((*old.settings()).clone(), options);
    new.set_settings_error(old.settings_error());
    let new = Arc::new(new);
    *shell.state.lock().unwrap() = new.clone();
    if let Err(e) = codex_shim::codex::config::write_atomic(
        &paths::tray_port_file(),
        format!("{port}\n").as_bytes(),
    ) {
        tracing::warn!("cannot remember port {port}: {e}");
    }
    if let Some(catalog) = &new.options.catalog_path {
        match active::move_port(&new.places(), port, catalog) {
            Ok(true) => tracing::info!("Codex's config.toml now points at port {port}"),
            Ok(false) => {}
            Err(e) => tracing::warn!("cannot point Codex at port {port}: {e}"),
        }
    }
    start_server(shell);
}

fn menu_model(shell: &Shell) -> MenuModel {
    let state = shell.state();
    let settings = state.settings();
    let login = state.options.chatgpt_login();
    let passthrough = login.is_some();
    let mut models: Vec<(String, String)> = Vec::new();
    if passthrough {
        models.push((codex_shim::chatgpt::SLUG.into(), "GPT-5.5 (ChatGPT)".into()));
    }
    models.extend(
        settings
            .models
            .iter()
            .map(|m| (m.slug.clone(), m.display_name.clone())),
    );
    let mut status = shell.status.lock().unwrap().clone();
    if let Some(today) = shell.today.lock().unwrap().as_deref() {
        status = format!("{status} · {today}");
    }
    if state.settings_error().is_some() {
        status = format!("{status} (settings error: see the UI)");
    }
    MenuModel {
        status,
        login: login.map(|l| l.status_line(codex_shim::chatgpt::now_secs())),
        problem: *shell.problem.lock().unwrap(),
        models,
        active: active::active_model(&state.places(), &settings, passthrough),
        autostart: *shell.autostart.lock().unwrap(),
        autostart_blocked: shell.login_item.as_ref().err().cloned(),
        patch_label: shell.patch_label.lock().unwrap().clone(),
    }
}

fn build_menu(app: &AppHandle, m: &MenuModel) -> tauri::Result<Menu<Wry>> {
    let status = MenuItem::with_id(app, "status", &m.status, false, None::<&str>)?;
    let mut items: Vec<Box<dyn IsMenuItem<Wry>>> = vec![Box::new(status)];
    if let Some(line) = &m.login {
        items.push(Box::new(MenuItem::with_id(
            app,
            "login",
            line,
            false,
            None::<&str>,
        )?));
    }
    let offer = match m.problem {
        Some(PortProblem::Shim { port, .. }) => {
            Some(("takeover", format!("Take over port {port}")))
        }
        Some(PortProblem::Other {
            next: Some(next), ..
        }) => Some(("move-port", format!("Serve on port {next} instead"))),
        Some(PortProblem::Other { next: None, port }) => Some((
            "no-port",
            format!("No free port after {port}: set CODEX_SHIM_PORT"),
        )),
        None => None,
    };
    if let Some((id, label)) = offer {
        items.push(Box::new(MenuItem::with_id(
            app,
            id,
            label,
            id != "no-port",
            None::<&str>,
        )?));
    }
    items.push(Box::new(PredefinedMenuItem::separator(app)?));
    if m.models.is_empty() {
        items.push(Box::new(MenuItem::with_id(
            app,
            "no-models",
            "No models: add some in Open codex-shim…",
            false,
            None::<&str>,
        )?));
    }
    for (slug, name) in &m.models {
        let label = if name == slug {
            slug.clone()
        } else {
            format!("{name} ({slug})")
        };
        let checked = m.active.as_deref() == Some(slug.as_str());
        items.push(Box::new(CheckMenuItem::with_id(
            app,
            format!("model:{slug}"),
            label,
            true,
            checked,
            None::<&str>,
        )?));
    }
    items.push(Box::new(PredefinedMenuItem::separator(app)?));
    for (id, label) in [
        ("launch", "Launch Codex"),
        ("open", "Open codex-shim…"),
        ("logs", "Logs…"),
        ("patch", m.patch_label.as_str()),
    ] {
        items.push(Box::new(MenuItem::with_id(
            app,
            id,
            label,
            true,
            None::<&str>,
        )?));
    }
    items.push(Box::new(PredefinedMenuItem::separator(app)?));
    items.push(Box::new(CheckMenuItem::with_id(
        app,
        "autostart",
        if m.autostart_blocked.is_some() {
            "Start at login (needs the installed app)"
        } else {
            "Start at login"
        },
        m.autostart_blocked.is_none(),
        m.autostart && m.autostart_blocked.is_none(),
        None::<&str>,
    )?));
    items.push(Box::new(MenuItem::with_id(
        app,
        "quit",
        "Quit",
        true,
        None::<&str>,
    )?));
    let refs: Vec<&dyn IsMenuItem<Wry>> = items.iter().map(|b| b.as_ref()).collect();
    Menu::with_items(app, &refs)
}

fn refresh_menu(app: &AppHandle, m: &MenuModel) {
    match (app.tray_by_id(TRAY_ID), build_menu(app, m)) {
        (Some(tray), Ok(menu)) => {
            let _ = tray.set_menu(Some(menu));
        }
        (_, Err(e)) => tracing::warn!("cannot rebuild the tray menu: {e}"),
        _ => {}
    }
}

/// Opens the web UI (at `section`) in an app window.
fn open_ui(app: &AppHandle, shell: &Shell, section: &str) {
    let url = format!(
        "http://127.0.0.1:{}/ui#token={}&section={section}",
        shell.state().options.port,
        shell.token
    );
    if let Some(w) = app.get_webview_window("ui") {
        let _ = w.navigate(url.parse().expect("a valid URL"));
        let _ = w.set_focus();
        return;
    }
    let built = tauri::WebviewWindowBuilder::new(
        app,
        "ui",
        tauri::WebviewUrl::External(url.parse().expect("a valid URL")),
    )
    .title("codex-shim")
    .inner_size(1100.0, 820.0)
    .build();
    if let Err(e) = built {
        tracing::warn!("cannot open the UI window: {e}");
    }
}

fn on_menu(app: &AppHandle, shell: &Arc<Shell>, id: &str) {
    if let Some(slug) = id.strip_prefix("model:") {
        let state = shell.state();
        let settings = state.settings();
        let passthrough = state.options.chatgpt_login().is_some();
        if let Err(e) = active::use_model(&state.places(), &settings, slug, passthrough) {
            tracing::warn!("cannot switch to {slug}: {e}");
        }
        refresh_menu(app, &menu_model(shell));
        return;
    }
    match id {
        "quit" => app.exit(0),
        "takeover" => take_over(shell),
        "move-port" => {
            // Copied out first: move_to_port sets the problem again (a guard held here would deadlock).
            let problem = *shell.problem.lock().unwrap();
            if let Some(PortProblem::Other {
                next: Some(port), ..
            }) = problem
            {
                move_to_port(shell, port);
            }
        }
        "autostart" if shell.login_item.is_err() => {
            if let Err(why) = &shell.login_item {
                tracing::warn!("{why}");
            }
        }
        "autostart" => {
            use tauri_plugin_autostart::ManagerExt;
            let launcher = app.autolaunch();
            let enable = !launcher.is_enabled().unwrap_or(false);
            let result = if enable {
                launcher.enable()
            } else {
                launcher.disable()
            };
            match result {
                Ok(()) => *shell.autostart.lock().unwrap() = enable,
                Err(e) => tracing::warn!("cannot change start at login: {e}"),
            }
            refresh_menu(app, &menu_model(shell));
        }
        "open" => open_ui(app, shell, "models"),
        "logs" => open_ui(app, shell, "requests"),
        "patch" => open_ui(app, shell, "wizard"),
        "launch" => {
            let home = paths::home_dir().unwrap_or_else(|| ".".into());
            std::thread::spawn(move || {
                match codex_shim::launch::SystemLauncher.launch("desktop", &home) {
                    Ok(msg) => tracing::info!("{msg}"),
                    Err(msg) => tracing::warn!("{msg}"),
                }
            });
        }
        _ => {}
    }
}

fn main() {
    codex_shim::init_logging();
    let source = SettingsSource::from_cli(None);
    let settings = Settings::load(&source).unwrap_or_else(|e| {
        tracing::error!("{e}");
        Settings::default()
    });
    // CODEX_SHIM_PORT, else the port chosen last time the usual one was taken, else 8765.
    let port: u16 = std::env::var("CODEX_SHIM_PORT")
        .ok()
        .or_else(|| std::fs::read_to_string(paths::tray_port_file()).ok())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(8765);
    let token = paths::new_ui_token().unwrap_or_else(|e| {
        tracing::warn!("cannot store the UI token: {e}");
        String::new()
    });
    let options = ServerOptions {
        port,
        reload_from: Some(source),
        catalog_path: std::path::absolute(paths::catalog_file()).ok(),
        ui_token: Some(token.clone()),
        ledger: codex_shim::server::ledger_enabled_from_env()
            .then(|| paths::state_dir().join(codex_shim::store::FILE_NAME)),
        database: Some(paths::state_dir().join(codex_shim::store::FILE_NAME)),
        ..Default::default()
    };
    let state = Arc::new(AppState::new(settings, options));
    let shell = Arc::new(Shell {
        state: Mutex::new(state),
        status: Mutex::new(format!("codex-shim: starting on port {port}")),
        problem: Mutex::new(None),
        patch_label: Mutex::new(patch_label(&codex_shim::patch::Status::NotInstalled)),
        today: Mutex::new(None),
        token,
        autostart: Mutex::new(false),
        login_item: codex_shim::login_item::for_this_process(),
    });

    tauri::Builder::default()
        // One instance: starting the app again opens the running one's window instead.
        .plugin(tauri_plugin_single_instance::init({
            let shell = shell.clone();
            move |app, _argv, _cwd| open_ui(app, &shell, "models")
        }))
        // On macOS a login item names the installed bundle (/Applications/codex-shim.app), which
        // only the AppleScript launcher registers; a launch agent would name the binary inside it.
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::AppleScript,
            None,
        ))
        .setup({
            let shell = shell.clone();
            move |app| {
                #[cfg(target_os = "macos")]
                app.set_activation_policy(tauri::ActivationPolicy::Accessory);
                // The menu as first shown; the watcher below rebuilds it (on the main thread, which
                // GTK requires) whenever what it shows changes, including the server's status.
                {
                    use tauri_plugin_autostart::ManagerExt;
                    *shell.autostart.lock().unwrap() =
                        app.autolaunch().is_enabled().unwrap_or(false);
                }
                // The core server, in-process; then the menu, showing how that went.
                start_server(&shell);
                let initial = menu_model(&shell);
                let menu = build_menu(app.handle(), &initial)?;
                let events_shell = shell.clone();
                TrayIconBuilder::with_id(TRAY_ID)
                    // The monochrome template mark (macOS tints it for the menu bar), not the
                    // coloured app icon the bundle carries.
                    .icon(tauri::include_image!("../icons/tray-template.png"))
                    .icon_as_template(true)
                    .tooltip("codex-shim")
                    .menu(&menu)
                    .on_menu_event(move |app, event| on_menu(app, &events_shell, event.id.as_ref()))
                    .build(app)?;
                // Settings, auth.json or the active model may change from the CLI or the UI too.
                let (watch_shell, handle) = (shell.clone(), app.handle().clone());
                std::thread::spawn(move || {
                    let mut last = initial;
                    for tick in 0u64.. {
                        std::thread::sleep(Duration::from_millis(500));
                        let state = watch_shell.state();
                        if tick % 6 == 0 {
                            let settings = state.settings();
                            *watch_shell.today.lock().unwrap() = state.ledger().and_then(|l| {
                                codex_shim::store::ledger::today_line(l.path(), |slug, up| {
                                    settings.prices_for(slug, up)
                                })
                            });
                        }
                        let label = patch_label(&codex_shim::patch::status_cached(
                            &codex_shim::patch::Bundle::new(state.options.desktop_app.clone()),
                            &state.options.state_dir,
                        ));
                        *watch_shell.patch_label.lock().unwrap() = label;
                        let now = menu_model(&watch_shell);
                        if now != last {
                            let h = handle.clone();
                            let m = now.clone();
                            let _ = handle.run_on_main_thread(move || refresh_menu(&h, &m));
                            last = now;
                        }
                    }
                });
                tracing::info!("tray ready");
                Ok(())
            }
        })
        // Closing the UI window keeps the tray app running.
        .build(tauri::generate_context!())
        .expect("the tray app builds")
        .run(|_app, event| {
            if let tauri::RunEvent::ExitRequested {
                api, code: None, ..
            } = event
            {
                api.prevent_exit();
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_shim::patch::Status;

    #[test]
    fn the_patch_item_says_when_an_update_undid_the_patch() {
        let updated = Status::UpdatedSincePatch {
            was: "1".into(),
            now: "2".into(),
        };
        assert_eq!(
            patch_label(&updated),
            "Codex Desktop updated: patch it again…"
        );
        assert_eq!(patch_label(&Status::NotInstalled), "Patch Codex Desktop…");
        assert_eq!(
            patch_label(&Status::Patched {
                version: "1".into()
            }),
            "Codex Desktop: patched (restore…)"
        );
    }
}
