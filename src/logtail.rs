//! The server log, also kept in memory for the UI's Logs view.
//!
//! Every formatted log line goes to stderr as before (the daemon's stderr is its log file), and
//! the newest [`KEPT`] lines are kept here, without colour codes, and broadcast to live viewers.
//! The log never holds a key (see `tests/secrets.rs`), so neither does this.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tokio::sync::broadcast;

/// Lines kept for a viewer that opens the log later.
pub const KEPT: usize = 500;

/// The in-memory tail of the log.
pub struct Tail {
    lines: Mutex<VecDeque<String>>,
    tx: broadcast::Sender<String>,
}

/// The process's log tail.
pub fn tail() -> &'static Tail {
    static TAIL: OnceLock<Tail> = OnceLock::new();
    TAIL.get_or_init(|| Tail {
        lines: Mutex::new(VecDeque::with_capacity(KEPT)),
        tx: broadcast::channel(256).0,
    })
}

impl Tail {
    /// The kept lines, oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Lines as they are written.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }

    /// Adds one line (colour codes removed).
    pub fn push(&self, line: &str) {
        let line = strip_ansi(line);
        if line.trim().is_empty() {
            return;
        }
        {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            if lines.len() == KEPT {
                lines.pop_front();
            }
            lines.push_back(line.clone());
        }
        let _ = self.tx.send(line);
    }
}

/// Removes `ESC [ … letter` sequences.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A log writer for one event: collects the formatted event, then on drop writes it to stderr and
/// adds its lines to the tail.
#[derive(Default)]
pub struct TeeWriter {
    buf: Vec<u8>,
}

impl Write for TeeWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for TeeWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let _ = std::io::stderr().write_all(&self.buf);
        for line in String::from_utf8_lossy(&self.buf).lines() {
            tail().push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_lines_without_colours() {
        let t = Tail {
            lines: Mutex::new(VecDeque::new()),
            tx: broadcast::channel(4).0,
        };
        let mut rx = t.subscribe();
        t.push("\u{1b}[2m2026-11-24T10:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m serving");
        assert_eq!(t.recent(), ["2026-11-24T10:00:00Z  INFO serving"]);
        assert_eq!(rx.try_recv().unwrap(), "2026-11-24T10:00:00Z  INFO serving");
        for i in 0..KEPT + 10 {
            t.push(&format!("line {i}"));
        }
        let recent = t.recent();
        assert_eq!(recent.len(), KEPT);
        assert_eq!(recent.last().unwrap(), &format!("line {}", KEPT + 9));
        assert_eq!(recent[0], "line 10");
    }
}
