//! The shim under measurement: the release `codex-shim serve`, in its own state dir, on a free
//! port, with the ledger on (as users run it) or off (for the ledger's own cost, in the same run).

use std::path::Path;
use std::time::{Duration, Instant};

pub struct ShimProc {
    child: std::process::Child,
    pub pid: u32,
    pub url: String,
}

impl ShimProc {
    /// Starts `bin serve` with `settings`, its state under `dir`; waits for `/health`.
    pub async fn start(bin: &str, settings: &Path, dir: &Path, ledger: bool) -> ShimProc {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(bin)
            .args(["serve", "--port", &port.to_string(), "--settings"])
            .arg(settings)
            .env("HOME", dir)
            .env("CODEX_SHIM_HOME", dir.join("state"))
            .env("CODEX_HOME", dir.join("codex"))
            .env("CODEX_SHIM_DISABLE_CHATGPT", "1")
            .env("CODEX_SHIM_LOG", "warn")
            .env("CODEX_SHIM_USAGE_LEDGER", if ledger { "on" } else { "off" })
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the release codex-shim binary");
        let t = Instant::now();
        while codex_shim::daemon::health(port).is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the shim did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ShimProc {
            pid: child.id(),
            child,
            url: format!("http://127.0.0.1:{port}/v1/responses"),
        }
    }
}

impl Drop for ShimProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rows the ledger under `dir` holds.
pub fn ledger_rows(dir: &Path) -> usize {
    codex_shim::store::Store::open_existing(&dir.join("state").join(codex_shim::store::FILE_NAME))
        .ok()
        .flatten()
        .and_then(|s| {
            s.requests(&codex_shim::store::RequestFilter {
                limit: usize::MAX >> 1,
                ..Default::default()
            })
            .ok()
        })
        .map(|r| r.len())
        .unwrap_or(0)
}
