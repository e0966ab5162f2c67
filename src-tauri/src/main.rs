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
use codex_shim::{active, launch::Launcher, paths};
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

const TRAY_ID: &str = "codex-shim";

/// What the menu shows; the menu is rebuilt when this changes.
#[derive(Clone, PartialEq, Eq)]
struct MenuModel {
    status: String,
    models: Vec<(String, String)>,
    active: Option<String>,
    autostart: bool,
}

struct Shell {
    state: Arc<AppState>,
    status: Mutex<String>,
    token: String,
    /// Whether the app starts at login (mirrors the OS setting; updated when toggled).
    autostart: Mutex<bool>,
}

fn menu_model(shell: &Shell) -> MenuModel {
    let settings = shell.state.settings();
    let passthrough = shell.state.options.chatgpt_login().is_some();
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
    if shell.state.settings_error().is_some() {
        status = format!("{status} (settings error: see the UI)");
    }
    MenuModel {
        status,
        models,
        active: active::active_model(&shell.state.places(), &settings, passthrough),
        autostart: *shell.autostart.lock().unwrap(),
    }
}

fn build_menu(app: &AppHandle, m: &MenuModel) -> tauri::Result<Menu<Wry>> {
    let status = MenuItem::with_id(app, "status", &m.status, false, None::<&str>)?;
    let mut items: Vec<Box<dyn IsMenuItem<Wry>>> = vec![
        Box::new(status),
        Box::new(PredefinedMenuItem::separator(app)?),
    ];
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
        ("patch", "Patch Codex Desktop…"),
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
        "Start at login",
        true,
        m.autostart,
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
        shell.state.options.port, shell.token
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
        let settings = shell.state.settings();
        let passthrough = shell.state.options.chatgpt_login().is_some();
        if let Err(e) = active::use_model(&shell.state.places(), &settings, slug, passthrough) {
            tracing::warn!("cannot switch to {slug}: {e}");
        }
        refresh_menu(app, &menu_model(shell));
        return;
    }
    match id {
        "quit" => app.exit(0),
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
        "logs" => open_ui(app, shell, "logs"),
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
    let port: u16 = std::env::var("CODEX_SHIM_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
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
        ..Default::default()
    };
    let state = Arc::new(AppState::new(settings, options));
    let shell = Arc::new(Shell {
        state: state.clone(),
        status: Mutex::new(format!("codex-shim: starting on port {port}")),
        token,
        autostart: Mutex::new(false),
    });

    tauri::Builder::default()
        // One instance: starting the app again opens the running one's window instead.
        .plugin(tauri_plugin_single_instance::init({
            let shell = shell.clone();
            move |app, _argv, _cwd| open_ui(app, &shell, "models")
        }))
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .setup({
            let shell = shell.clone();
            move |app| {
                #[cfg(target_os = "macos")]
                app.set_activation_policy(tauri::ActivationPolicy::Accessory);
                // The menu as first shown; the watcher below rebuilds it (on the main thread, which
                // GTK requires) whenever what it shows changes, including the server's status.
                {
                    use tauri_plugin_autostart::ManagerExt;
                    *shell.autostart.lock().unwrap() = app.autolaunch().is_enabled().unwrap_or(false);
                }
                let initial = menu_model(&shell);
                // The core server, in-process.
                let server_shell = shell.clone();
                tauri::async_runtime::spawn(async move {
                    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(listener) => {
                            *server_shell.status.lock().unwrap() = format!("codex-shim: serving on 127.0.0.1:{port}");
                            let _ = codex_shim::server::serve(listener, server_shell.state.clone(), std::future::pending()).await;
                        }
                        Err(_) => {
                            let who = match codex_shim::daemon::health(port) {
                                Some(h) if h.service.as_deref() == Some("codex-shim") => {
                                    format!("Port {port}: another codex-shim runs there (pid {}); `codex-shim stop` frees it", h.pid.unwrap_or(0))
                                }
                                _ => format!("Port {port} is in use by another program; set CODEX_SHIM_PORT"),
                            };
                            *server_shell.status.lock().unwrap() = who;
                        }
                    }
                });
                let menu = build_menu(app.handle(), &initial)?;
                let events_shell = shell.clone();
                TrayIconBuilder::with_id(TRAY_ID)
                    .icon(app.default_window_icon().cloned().expect("the bundle icon"))
                    .icon_as_template(true)
                    .tooltip("codex-shim")
                    .menu(&menu)
                    .on_menu_event(move |app, event| on_menu(app, &events_shell, event.id.as_ref()))
                    .build(app)?;
                // Settings, auth.json or the active model may change from the CLI or the UI too.
                let (watch_shell, handle) = (shell.clone(), app.handle().clone());
                std::thread::spawn(move || {
                    let mut last = initial;
                    loop {
                        std::thread::sleep(Duration::from_millis(500));
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
            if let tauri::RunEvent::ExitRequested { api, code: None, .. } = event {
                api.prevent_exit();
            }
        });
}
