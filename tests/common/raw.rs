//! A raw TCP upstream that follows a byte-level script per connection: for faults an HTTP library
//! would not produce (a reset mid-stream, invalid UTF-8, a character split across writes, slow
//! headers). It records when each connection was closed by the other side.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One step of a connection's script.
#[derive(Debug, Clone)]
pub enum Act {
    Write(Vec<u8>),
    Sleep(Duration),
    /// Abort with a TCP reset (SO_LINGER 0).
    Reset,
    /// Keep the connection open until the other side closes it (recorded in `closed_at`).
    HoldOpen,
}

/// `HTTP/1.1 200` SSE headers (the body is delimited by closing the connection).
pub fn sse_head() -> Act {
    Act::Write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n".to_vec(),
    )
}

pub fn write(s: impl AsRef<[u8]>) -> Act {
    Act::Write(s.as_ref().to_vec())
}

#[derive(Default)]
struct Shared {
    scripts: Mutex<VecDeque<Vec<Act>>>,
    closed_at: Mutex<Vec<Instant>>,
    finished: Mutex<usize>,
}

pub struct RawUpstream {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl RawUpstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move { serve(sock, s).await });
            }
        });
        RawUpstream { addr, shared }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn push(&self, script: Vec<Act>) {
        self.shared.scripts.lock().unwrap().push_back(script);
    }

    /// When the shim closed the connections held open with [`Act::HoldOpen`].
    pub fn closed_at(&self) -> Vec<Instant> {
        self.shared.closed_at.lock().unwrap().clone()
    }

    /// Connections whose script ran to its end (and were then closed by us).
    pub fn finished(&self) -> usize {
        *self.shared.finished.lock().unwrap()
    }
}

async fn serve(mut sock: tokio::net::TcpStream, shared: Arc<Shared>) {
    // Read the request: headers, then a Content-Length body.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let body_end = loop {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(h) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..h]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            break h + 4 + len;
        }
    };
    while buf.len() < body_end {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let script = shared.scripts.lock().unwrap().pop_front().unwrap_or_else(|| {
        vec![write("HTTP/1.1 500 Internal Server Error\r\ncontent-length: 9\r\nconnection: close\r\n\r\nno script")]
    });
    for act in script {
        match act {
            Act::Write(bytes) => {
                if sock.write_all(&bytes).await.is_err() {
                    return;
                }
                let _ = sock.flush().await;
            }
            Act::Sleep(d) => tokio::time::sleep(d).await,
            Act::Reset => {
                let _ = socket2::SockRef::from(&sock).set_linger(Some(Duration::ZERO));
                drop(sock);
                return;
            }
            Act::HoldOpen => {
                // Reads until EOF or an error: the other side went away.
                loop {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
                shared.closed_at.lock().unwrap().push(Instant::now());
                return;
            }
        }
    }
    *shared.finished.lock().unwrap() += 1;
}
