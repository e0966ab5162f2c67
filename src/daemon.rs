//! The background server: `start`, `stop`, `status`.
//!
//! The pid file records the pid and port. Before reporting "running" or sending a signal, the
//! shim checks that the process really is itself: `/health` on the recorded port must answer as
//! codex-shim with the same pid. A stale pid reused by an unrelated process is never signalled.
//! Health checks speak HTTP over a plain loopback socket, so proxy variables cannot interfere.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What the pid file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidInfo {
    pub pid: u32,
    pub port: u16,
}

/// What `/health` says.
#[derive(Debug, Clone, Deserialize)]
pub struct Health {
    pub service: Option<String>,
    pub pid: Option<u32>,
    pub models: Option<usize>,
    /// The fingerprint of the settings it serves.
    pub settings: Option<String>,
    /// Why the settings on disk could not be loaded (the last good ones keep serving).
    #[serde(default)]
    pub settings_error: Option<String>,
    /// Upstream calls in progress.
    #[serde(default)]
    pub in_flight: Option<usize>,
}

/// `GET /health` on loopback (no proxy), with a short timeout.
pub fn health(port: u16) -> Option<Health> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    serde_json::from_str(body.trim()).ok()
}

/// True if something accepts connections on the loopback port.
pub fn port_in_use(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

pub fn read_pid(path: &Path) -> Option<PidInfo> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// True if a process with this pid exists.
pub fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 only checks that the process exists.
        unsafe {
            libc::kill(pid, 0) == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

/// The recorded daemon, if it is alive and answers as codex-shim with that pid.
pub fn running(pid_file: &Path) -> Option<(PidInfo, Health)> {
    let info = read_pid(pid_file)?;
    if !alive(info.pid) {
        return None;
    }
    let h = health(info.port)?;
    (h.service.as_deref() == Some("codex-shim") && h.pid == Some(info.pid)).then_some((info, h))
}

/// Starts `exe serve` in the background with output appended to `log`. `fingerprint` is the
/// current settings' [`crate::settings::Settings::fingerprint`]: a server already running with
/// other settings is reported, not silently reused.
pub fn start(
    exe: &Path,
    serve_args: &[String],
    port: u16,
    pid_file: &Path,
    log: &Path,
    fingerprint: &str,
) -> anyhow::Result<String> {
    if let Some((info, mut h)) = running(pid_file) {
        if info.port == port {
            // The server reloads changed settings by itself; give it a moment to catch up.
            let deadline = Instant::now() + Duration::from_secs(3);
            while h.settings.as_deref() != Some(fingerprint)
                && h.settings_error.is_none()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(100));
                h = health(port).unwrap_or(h);
            }
            let mut msg = format!(
                "codex-shim is already running on http://127.0.0.1:{port} with pid {} ({} models).",
                info.pid,
                h.models.unwrap_or(0)
            );
            if let Some(err) = &h.settings_error {
                msg.push_str(&format!("\nYour settings have an error, so it still serves the last good ones:\n  {err}"));
            } else if h.settings.as_deref() != Some(fingerprint) {
                msg.push_str("\nIts settings differ from the files on disk now; run `codex-shim restart` to load them.");
            }
            return Ok(msg);
        }
        anyhow::bail!(
            "codex-shim is already running on port {} (pid {}); stop it first or use --port {}",
            info.port,
            info.pid,
            info.port
        );
    }
    if port_in_use(port) {
        match health(port) {
            Some(h) if h.service.as_deref() == Some("codex-shim") => {
                anyhow::bail!("another codex-shim (pid {}) already serves port {port} but is not the one in {}", h.pid.unwrap_or(0), pid_file.display())
            }
            _ => anyhow::bail!(
                "port {port} is in use by another program; choose another with --port"
            ),
        }
    }
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    rotate(log, 5 * 1024 * 1024);
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(serve_args)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    let info = PidInfo {
        pid: child.id(),
        port,
    };
    crate::catalog::write_atomic(pid_file, serde_json::to_string(&info)?.as_bytes())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            let _ = std::fs::remove_file(pid_file);
            anyhow::bail!(
                "codex-shim exited during startup ({status}). See {}",
                log.display()
            );
        }
        if running(pid_file).is_some() {
            return Ok(format!(
                "codex-shim started on http://127.0.0.1:{port} with pid {}.\nLog: {}",
                info.pid,
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!(
        "codex-shim started (pid {}) but did not answer on port {port} within 10s. See {}",
        info.pid,
        log.display()
    )
}

/// Stops the recorded daemon after checking it is codex-shim.
pub fn stop(pid_file: &Path) -> anyhow::Result<String> {
    let Some(info) = read_pid(pid_file) else {
        return Ok("codex-shim is not running.".into());
    };
    if running(pid_file).is_none() {
        let _ = std::fs::remove_file(pid_file);
        return Ok(if alive(info.pid) {
            format!("The pid file named pid {}, which is not a codex-shim on port {}; removed the stale pid file and left that process alone.", info.pid, info.port)
        } else {
            "codex-shim is not running (removed a stale pid file).".into()
        });
    }
    terminate(info.pid, info.port)?;
    let _ = std::fs::remove_file(pid_file);
    Ok("codex-shim stopped.".into())
}

/// SIGTERM to a codex-shim verified to serve `port` as `pid`, then wait until it stops serving.
fn terminate(pid: u32, port: u16) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let raw = libc::pid_t::try_from(pid)?;
        // SAFETY: sending SIGTERM to a pid the caller verified to be our own server.
        if unsafe { libc::kill(raw, libc::SIGTERM) } != 0 {
            anyhow::bail!(
                "cannot signal pid {pid}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(unix))]
    anyhow::bail!(
        "stopping another codex-shim is not supported on this platform; quit it yourself"
    );
    #[cfg(unix)]
    {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // The process may linger a moment as a zombie of its parent; it no longer serves.
            if !alive(pid) || health(port).is_none() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!("codex-shim (pid {pid}) did not exit within 10s of SIGTERM")
    }
}

/// Who holds a port on loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortOwner {
    Free,
    /// Another codex-shim (a daemon, `serve` in a terminal, or the tray app), with its pid.
    Shim(u32),
    /// Some other program.
    Other,
}

/// Finds out who holds `port`.
pub fn port_owner(port: u16) -> PortOwner {
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
        return PortOwner::Free;
    }
    match health(port) {
        Some(h) if h.service.as_deref() == Some("codex-shim") => {
            PortOwner::Shim(h.pid.unwrap_or(0))
        }
        _ => PortOwner::Other,
    }
}

/// Stops the codex-shim serving `port` so this process can serve it: the recorded daemon through
/// its pid file, or one started by hand, once `/health` confirms it is codex-shim with that pid.
pub fn take_over(port: u16, pid_file: &Path) -> anyhow::Result<String> {
    let PortOwner::Shim(pid) = port_owner(port) else {
        anyhow::bail!("port {port} is not held by codex-shim; nothing to take over");
    };
    anyhow::ensure!(
        pid != 0 && pid != std::process::id(),
        "the codex-shim on port {port} did not give a pid"
    );
    if read_pid(pid_file).is_some_and(|i| i.pid == pid && i.port == port) {
        stop(pid_file)?;
    } else {
        terminate(pid, port)?;
    }
    // Its socket may take a moment to be released.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "port {port} is still busy after stopping codex-shim (pid {pid})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(format!("stopped codex-shim (pid {pid}) on port {port}"))
}

/// The first free loopback port after `port` (within 100), for "serve somewhere else".
pub fn free_port_after(port: u16) -> Option<u16> {
    (port.saturating_add(1)..port.saturating_add(100))
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
}

/// Keeps one previous log (`shim.log.1`) once the log passes `max` bytes.
fn rotate(log: &Path, max: u64) {
    if std::fs::metadata(log)
        .map(|m| m.len() > max)
        .unwrap_or(false)
    {
        let mut old = PathBuf::from(log);
        old.set_extension("log.1");
        let _ = std::fs::rename(log, old);
    }
}
