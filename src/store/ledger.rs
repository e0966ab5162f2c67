//! The usage ledger: one row per request through `/v1/responses` and `/v1/responses/compact`.
//!
//! A row holds what the request did (model, route, status, outcome, tokens, timings, the error's
//! class and redacted message), never a prompt, a key or a header. Rows are written by one writer
//! thread that owns the connection and inserts what has queued up in one transaction, so serving
//! a request costs a channel send. If the database cannot be opened or written (a full disk, a
//! locked or corrupt file), that is logged once and requests go on unrecorded. Rows older than the
//! retention period are pruned when the writer starts and once a day.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError};
use crate::prices::Prices;

/// One request, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Record {
    /// Filled in when read back; ignored when written.
    pub id: i64,
    /// When the request ended, in milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// The model Codex asked for.
    pub slug: String,
    pub upstream_model: Option<String>,
    /// `chat`, `anthropic`, `responses`, `chatgpt`, or `none` (refused before any upstream).
    pub route: String,
    /// `responses` or `compact`.
    pub endpoint: String,
    /// The upstream's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// `completed`, `incomplete`, `failed` or `cancelled`.
    pub outcome: String,
    /// All input, cached included (as OpenAI's usage counts it).
    pub input_tokens: u64,
    pub cached_tokens: u64,
    /// All output, reasoning included.
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub ttfb_ms: Option<u64>,
    pub duration_ms: u64,
    /// Output tokens over the time after the first byte.
    pub output_tokens_per_s: Option<f64>,
    /// `invalid_request`, `rate_limited`, `quota`, `context_length`, `server_error`, …
    pub error_class: Option<String>,
    /// The upstream's message, redacted as the log is.
    pub error: Option<String>,
    /// Sent by the UI's Test button: listed, but not in usage totals.
    pub is_test: bool,
}

impl Record {
    /// Output tokens per second after the first byte, when there was output and time for it.
    pub fn rate(output_tokens: u64, ttfb_ms: Option<u64>, duration_ms: u64) -> Option<f64> {
        let streaming_ms = duration_ms.saturating_sub(ttfb_ms.unwrap_or(0));
        (output_tokens > 0 && streaming_ms > 0)
            .then(|| output_tokens as f64 * 1000.0 / streaming_ms as f64)
    }
}

/// One day's use of one model (`codex-shim usage --json`, `/api/usage`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayUsage {
    /// YYYY-MM-DD in local time.
    pub day: String,
    pub slug: String,
    pub requests: u64,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    /// `None` when a price it needs is unknown (never guessed). Not rounded.
    pub cost_usd: Option<f64>,
}

/// Which rows to list (newest first).
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub slug: Option<String>,
    pub outcome: Option<String>,
    /// Only rows before this id (paging back).
    pub before_id: Option<i64>,
    pub limit: usize,
}

enum Msg {
    Row(Box<Record>),
    /// Answered once everything sent before it is written (or dropped).
    Flush(mpsc::Sender<()>),
}

/// The handle requests record through; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<Msg>,
    path: PathBuf,
}

/// How often the writer looks whether a day has passed since it last pruned.
const PRUNE_CHECK: Duration = Duration::from_secs(3600);

/// How long the writer gathers rows before it writes them (a flush writes at once).
const BATCH_WINDOW: Duration = Duration::from_millis(250);

/// The most rows in one transaction.
const BATCH_MAX: usize = 2000;

impl Ledger {
    /// Starts the writer thread for the database at `path`, keeping `retention_days` of rows.
    pub fn start(path: PathBuf, retention_days: u32) -> Ledger {
        let (tx, rx) = mpsc::channel();
        let writer_path = path.clone();
        let spawned = std::thread::Builder::new()
            .name("usage-ledger".into())
            .spawn(move || writer(&writer_path, retention_days, rx));
        if let Err(e) = spawned {
            tracing::warn!("usage ledger off: cannot start its writer thread: {e}");
        }
        Ledger { tx, path }
    }

    /// Queues a row; never blocks.
    pub fn record(&self, row: Record) {
        let _ = self.tx.send(Msg::Row(Box::new(row)));
    }

    /// Waits (up to `timeout`) until every row recorded before this call has been written.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = mpsc::channel();
        self.tx.send(Msg::Flush(done)).is_ok() && wait.recv_timeout(timeout).is_ok()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn writer(path: &Path, retention_days: u32, rx: mpsc::Receiver<Msg>) {
    let mut store = match Store::open(path) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("usage ledger off, requests are served but not recorded: {e}");
            None
        }
    };
    let mut warned = false;
    let mut last_prune = None::<Instant>;
    loop {
        if let Some(s) = &store {
            if last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(86_400)) {
                if let Err(e) = s.prune(retention_days, now_ms()) {
                    tracing::warn!("usage ledger: pruning failed: {e}");
                }
                last_prune = Some(Instant::now());
            }
        }
        let first = match rx.recv_timeout(PRUNE_CHECK) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // Rows go in one transaction per batch: what arrives within BATCH_WINDOW of the first
        // (a transaction per row would cost each request more than the rest of its recording).
        // A flush ends the batch at once.
        let mut rows = Vec::new();
        let mut flushes = Vec::new();
        let deadline = Instant::now() + BATCH_WINDOW;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Row(r) => rows.push(*r),
                Msg::Flush(done) => flushes.push(done),
            }
            if !flushes.is_empty() || rows.len() >= BATCH_MAX {
                next = rx.try_recv().ok();
                continue;
            }
            next = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok();
        }
        if let (Some(s), false) = (&mut store, rows.is_empty()) {
            match s.insert(&rows) {
                Ok(()) => warned = false,
                Err(e) if !warned => {
                    tracing::warn!(
                        "usage ledger: {} request(s) not recorded (further failures are not logged until one succeeds): {e}",
                        rows.len()
                    );
                    warned = true;
                }
                Err(_) => {}
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

const COLUMNS: &str = "id, ts_ms, slug, upstream_model, route, endpoint, http_status, outcome, \
    input_tokens, cached_tokens, output_tokens, reasoning_tokens, ttfb_ms, duration_ms, \
    output_tokens_per_s, error_class, error, is_test";

impl Store {
    /// Inserts `rows` in one transaction.
    pub fn insert(&mut self, rows: &[Record]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |err| super::sqlite(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO requests (ts_ms, slug, upstream_model, route, endpoint, http_status, \
                     outcome, input_tokens, cached_tokens, output_tokens, reasoning_tokens, ttfb_ms, \
                     duration_ms, output_tokens_per_s, error_class, error, is_test) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                )
                .map_err(e)?;
            for r in rows {
                stmt.execute(params![
                    r.ts_ms as i64,
                    r.slug,
                    r.upstream_model,
                    r.route,
                    r.endpoint,
                    r.http_status,
                    r.outcome,
                    r.input_tokens as i64,
                    r.cached_tokens as i64,
                    r.output_tokens as i64,
                    r.reasoning_tokens as i64,
                    r.ttfb_ms.map(|t| t as i64),
                    r.duration_ms as i64,
                    r.output_tokens_per_s,
                    r.error_class,
                    r.error,
                    r.is_test,
                ])
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Deletes rows older than `retention_days` before `now_ms`; returns how many.
    pub fn prune(&self, retention_days: u32, now_ms: u64) -> Result<usize, StoreError> {
        let cutoff = now_ms.saturating_sub(u64::from(retention_days) * 86_400_000);
        self.conn
            .execute(
                "DELETE FROM requests WHERE ts_ms < ?1",
                params![cutoff as i64],
            )
            .map_err(|e| self.err(e))
    }

    /// Rows, newest first.
    pub fn requests(&self, f: &RequestFilter) -> Result<Vec<Record>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE (?1 IS NULL OR slug = ?1) \
             AND (?2 IS NULL OR outcome = ?2) AND (?3 IS NULL OR id < ?3) \
             ORDER BY id DESC LIMIT ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![f.slug, f.outcome, f.before_id, f.limit.max(1) as i64],
                read_record,
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// One row by id.
    pub fn request(&self, id: i64) -> Result<Option<Record>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE id = ?1");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query_map(params![id], read_record)
            .map_err(|e| self.err(e))?;
        rows.next().transpose().map_err(|e| self.err(e))
    }

    /// Token totals per local day and model over the last `days` days (today included), tests
    /// left out, newest day first; `prices` gives each model's prices from its slug and upstream
    /// model.
    pub fn usage(
        &self,
        days: u32,
        slug: Option<&str>,
        prices: impl Fn(&str, Option<&str>) -> Prices,
    ) -> Result<Vec<DayUsage>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT date(ts_ms / 1000, 'unixepoch', 'localtime') AS day, slug, MAX(upstream_model), \
                 COUNT(*), SUM(input_tokens), SUM(cached_tokens), SUM(output_tokens), SUM(reasoning_tokens) \
                 FROM requests WHERE is_test = 0 AND (?2 IS NULL OR slug = ?2) \
                 AND day >= date('now', 'localtime', printf('-%d days', ?1 - 1)) \
                 GROUP BY day, slug ORDER BY day DESC, slug",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![days.max(1), slug], |r| {
                let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    [n(3)?, n(4)?, n(5)?, n(6)?, n(7)?],
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (day, slug, upstream, [requests, input, cached, output, reasoning]) =
                row.map_err(|e| self.err(e))?;
            let cost_usd = prices(&slug, upstream.as_deref()).cost(input, cached, output);
            out.push(DayUsage {
                day,
                slug,
                requests,
                input_tokens: input,
                cached_tokens: cached,
                output_tokens: output,
                reasoning_tokens: reasoning,
                cost_usd,
            });
        }
        Ok(out)
    }
}

/// Today's use for a one-line summary: "today 12 requests, $0.34" (the tray's status line). The
/// cost is marked when some of it has no price; `None` without a ledger to read.
pub fn today_line(path: &Path, prices: impl Fn(&str, Option<&str>) -> Prices) -> Option<String> {
    let rows = Store::open_existing(path)
        .ok()??
        .usage(1, None, prices)
        .ok()?;
    let requests: u64 = rows.iter().map(|r| r.requests).sum();
    if requests == 0 {
        return Some("no requests today".into());
    }
    let known: f64 = rows.iter().filter_map(|r| r.cost_usd).sum();
    let cost = match (rows.iter().all(|r| r.cost_usd.is_some()), known) {
        (true, c) => usd(c),
        (false, c) if c > 0.0 => format!("{} + unpriced", usd(c)),
        (false, _) => "cost unknown".into(),
    };
    let plural = if requests == 1 { "" } else { "s" };
    Some(format!("today {requests} request{plural}, {cost}"))
}

/// `$1.23`, or four decimals under a cent.
pub fn usd(c: f64) -> String {
    match c {
        c if c >= 0.01 => format!("${c:.2}"),
        c if c > 0.0 => format!("${c:.4}"),
        _ => "$0".into(),
    }
}

fn read_record(r: &rusqlite::Row) -> rusqlite::Result<Record> {
    let u = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
    Ok(Record {
        id: r.get(0)?,
        ts_ms: u(1)?,
        slug: r.get(2)?,
        upstream_model: r.get(3)?,
        route: r.get(4)?,
        endpoint: r.get(5)?,
        http_status: r.get(6)?,
        outcome: r.get(7)?,
        input_tokens: u(8)?,
        cached_tokens: u(9)?,
        output_tokens: u(10)?,
        reasoning_tokens: u(11)?,
        ttfb_ms: r.get::<_, Option<i64>>(12)?.map(|v| v.max(0) as u64),
        duration_ms: u(13)?,
        output_tokens_per_s: r.get(14)?,
        error_class: r.get(15)?,
        error: r.get(16)?,
        is_test: r.get(17)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(slug: &str, ts_ms: u64, input: u64, cached: u64, output: u64) -> Record {
        Record {
            ts_ms,
            slug: slug.into(),
            upstream_model: Some(format!("{slug}-up")),
            route: "chat".into(),
            endpoint: "responses".into(),
            outcome: "completed".into(),
            input_tokens: input,
            cached_tokens: cached,
            output_tokens: output,
            duration_ms: 100,
            ..Default::default()
        }
    }

    #[test]
    fn rows_round_trip_and_totals_group_by_day_and_model_without_tests() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("l.db")).unwrap();
        let now = now_ms();
        let mut failed = row("b", now, 10, 0, 0);
        failed.outcome = "failed".into();
        failed.error = Some("key rejected".into());
        failed.error_class = Some("invalid_request".into());
        let mut test = row("a", now, 1000, 0, 1000);
        test.is_test = true;
        s.insert(&[
            row("a", now, 100, 40, 10),
            row("a", now, 200, 0, 20),
            failed,
            test,
        ])
        .unwrap();
        let priced = |slug: &str, _: Option<&str>| match slug {
            "a" => Prices {
                input: Some(1.0),
                cached_input: Some(0.5),
                output: Some(2.0),
            },
            _ => Prices::default(),
        };
        let usage = s.usage(1, None, priced).unwrap();
        assert_eq!(usage.len(), 2, "{usage:?}");
        let a = usage.iter().find(|u| u.slug == "a").unwrap();
        assert_eq!(
            (a.requests, a.input_tokens, a.cached_tokens, a.output_tokens),
            (2, 300, 40, 30),
            "the test row is not counted"
        );
        let expected = (260.0 * 1.0 + 40.0 * 0.5 + 30.0 * 2.0) / 1e6;
        assert!((a.cost_usd.unwrap() - expected).abs() < 1e-12);
        let b = usage.iter().find(|u| u.slug == "b").unwrap();
        assert_eq!(
            (b.requests, b.cost_usd),
            (1, None),
            "failed rows count; no price, no cost"
        );
        let listed = s
            .requests(&RequestFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(listed.len(), 4);
        assert!(listed[0].is_test, "newest first");
        let one = s.request(listed[1].id).unwrap().unwrap();
        assert_eq!(one.error.as_deref(), Some("key rejected"));
        let only_b = s
            .requests(&RequestFilter {
                slug: Some("b".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(only_b.len(), 1);
        assert_eq!(s.usage(1, Some("a"), priced).unwrap().len(), 1);
    }

    #[test]
    fn pruning_keeps_the_retention_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("l.db")).unwrap();
        let now = now_ms();
        let day = 86_400_000;
        s.insert(&[
            row("a", now - 91 * day, 1, 0, 1),
            row("a", now - 89 * day, 1, 0, 1),
            row("a", now, 1, 0, 1),
        ])
        .unwrap();
        assert_eq!(s.prune(90, now).unwrap(), 1);
        let left = s
            .requests(&RequestFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(left.len(), 2);
        assert!(left.iter().all(|r| r.ts_ms >= now - 90 * day));
    }

    #[test]
    fn the_writer_batches_and_a_database_it_cannot_open_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::start(dir.path().join("w.db"), 90);
        for i in 0..50 {
            ledger.record(row("a", now_ms(), i, 0, 1));
        }
        assert!(ledger.flush(Duration::from_secs(10)));
        let s = Store::open_existing(ledger.path()).unwrap().unwrap();
        assert_eq!(
            s.requests(&RequestFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap()
            .len(),
            50
        );
        // A garbage file: recording goes on (and is dropped), nothing panics, the file is left.
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![7u8; 4096]).unwrap();
        let broken = Ledger::start(junk.clone(), 90);
        broken.record(row("a", now_ms(), 1, 0, 1));
        assert!(broken.flush(Duration::from_secs(10)));
        assert_eq!(std::fs::read(&junk).unwrap(), vec![7u8; 4096]);
    }

    #[test]
    fn todays_line_counts_requests_and_says_when_a_price_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        assert_eq!(
            today_line(&path, |_, _| Prices::default()),
            None,
            "no ledger yet"
        );
        let mut s = Store::open(&path).unwrap();
        assert_eq!(
            today_line(&path, |_, _| Prices::default()).as_deref(),
            Some("no requests today")
        );
        s.insert(&[
            row("a", now_ms(), 1_000_000, 0, 0),
            row("b", now_ms(), 10, 0, 0),
        ])
        .unwrap();
        let a_only = |slug: &str, _: Option<&str>| match slug {
            "a" => Prices {
                input: Some(2.0),
                cached_input: None,
                output: Some(1.0),
            },
            _ => Prices::default(),
        };
        assert_eq!(
            today_line(&path, a_only).as_deref(),
            Some("today 2 requests, $2.00 + unpriced")
        );
    }

    #[test]
    fn the_rate_is_output_over_the_streaming_time() {
        assert_eq!(Record::rate(100, Some(500), 1500), Some(100.0));
        assert_eq!(Record::rate(0, Some(5), 10), None);
        assert_eq!(Record::rate(10, Some(10), 10), None);
    }
}
