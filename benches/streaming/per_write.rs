//! "One event per write": what the shim costs when nothing can be batched.
//!
//! A real model sends each token as its own SSE event in its own TCP write, milliseconds apart, so
//! the shim pays its per-event cost on every token. Here the fake upstream runs in a process of its
//! own (so its CPU time is read apart from the client's) and writes every one of 200 events of
//! 20 bytes on its own; the request is Codex 0.169's real one. Per route and concurrency level:
//! streams per second direct and through the shim, the CPU time per stream of the shim **and** of
//! the upstream that feeds it, and the shim's peak RSS in that level with its memory per in-flight
//! stream. Every cell has a fresh shim (ledger on, as users run it), so its peak is the cell's own.

use axum::body::Bytes;
use serde_json::{json, Value};

use super::shim::ShimProc;
use super::upstream::UpstreamProc;
use super::{cpu_secs, pct, run_level, status_kib};

pub const EVENTS: usize = 200;
pub const EVENT_BYTES: usize = 20;
pub const LEVELS: [usize; 3] = [1, 64, 256];

pub async fn run(bin: &str, request: &Value, secs: f64, only: &[usize]) -> Value {
    let upstream = UpstreamProc::start(EVENTS, EVENT_BYTES);
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("models.json");
    let base = format!("http://{}", upstream.addr);
    std::fs::write(&settings, json!([
        {"model": "m", "slug": "bench-chat", "provider": "generic-chat-completion-api", "base_url": format!("{base}/v1")},
        {"model": "claude-sonnet-4-5", "slug": "bench-claude", "provider": "anthropic", "baseUrl": base, "apiKey": "k"},
    ]).to_string()).unwrap();
    let mut idle = Vec::new();
    let mut idle_anon = Vec::new();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    println!(
        "\none event per write: {EVENTS} events of {EVENT_BYTES} B per stream, each written on its own by an upstream in its own process; Codex 0.169's request ({} KB); {secs} s per cell",
        serde_json::to_vec(request).unwrap().len() / 1000
    );
    println!("| route | conc | streams/s direct | streams/s shim | shim ÷ direct | upstream CPU/stream | shim CPU/stream | shim ÷ upstream | reads/stream direct | shim peak RSS | RSS per in-flight stream |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for (route, slug, direct) in [
        ("chat", "bench-chat", format!("{base}/v1/chat/completions")),
        ("anthropic", "bench-claude", format!("{base}/v1/messages")),
    ] {
        let mut req = request.clone();
        req["model"] = json!(slug);
        req["stream"] = json!(true);
        let body = Bytes::from(serde_json::to_vec(&req).unwrap());
        for &conc in LEVELS
            .iter()
            .filter(|c| only.is_empty() || only.contains(c))
        {
            // A fresh shim for every cell: its peak RSS is this cell's, nothing left from another.
            let state = tempfile::tempdir().unwrap();
            let shim = ShimProc::start(bin, &settings, state.path(), true).await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let idle_rss = status_kib(shim.pid, "VmRSS:") / 1024.0;
            idle.push(idle_rss);
            // Of it, the process's own memory (the rest is clean pages of the executable).
            idle_anon.push(status_kib(shim.pid, "RssAnon:") / 1024.0);
            run_level(&client, &direct, &body, None, conc, 0.3).await;
            run_level(&client, &shim.url, &body, None, conc, 0.3).await;
            let up0 = cpu_secs(upstream.pid);
            let d = run_level(&client, &direct, &body, None, conc, secs).await;
            let up_direct = (cpu_secs(upstream.pid) - up0) * 1000.0 / d.total.len().max(1) as f64;

            let before = status_kib(shim.pid, "VmRSS:") / 1024.0;
            let (up0, shim0) = (cpu_secs(upstream.pid), cpu_secs(shim.pid));
            let mut s = run_level(&client, &shim.url, &body, None, conc, secs).await;
            let n = s.total.len().max(1) as f64;
            let up_cpu = (cpu_secs(upstream.pid) - up0) * 1000.0 / n;
            let shim_cpu = (cpu_secs(shim.pid) - shim0) * 1000.0 / n;
            let peak = status_kib(shim.pid, "VmHWM:") / 1024.0;
            // All growth over idle is put down to the streams in flight (the conservative reading).
            let per_stream_kib = (peak - idle_rss) * 1024.0 / conc as f64;

            let (sd, ss) = (d.total.len() as f64 / d.wall, s.total.len() as f64 / s.wall);
            let reads = d.chunks as f64 / d.total.len().max(1) as f64;
            for (name, l) in [("direct", &d), ("shim", &s)] {
                if let Some(e) = &l.first_error {
                    eprintln!(
                        "{route}, {conc}, {name}: {} failed; the first: {e}",
                        l.errors
                    );
                }
            }
            println!(
                "| {route} | {conc} | {sd:.0} | {ss:.0} | {:.0} % | {up_cpu:.3} ms | {shim_cpu:.3} ms | {:.2}× | {reads:.0} | {peak:.1} MiB | {per_stream_kib:.0} KiB |",
                ss / sd * 100.0,
                shim_cpu / up_cpu
            );
            rows.push(json!({"route": route, "concurrency": conc,
                "streams_per_s_direct": sd, "streams_per_s_shim": ss, "throughput_ratio": ss / sd,
                "upstream_cpu_ms_per_stream": up_cpu, "upstream_cpu_ms_per_stream_direct": up_direct,
                "shim_cpu_ms_per_stream": shim_cpu, "shim_over_upstream_cpu": shim_cpu / up_cpu,
                "reads_per_stream_direct": reads, "shim_peak_rss_mib": peak, "shim_rss_before_mib": before,
                "rss_per_in_flight_stream_kib": per_stream_kib,
                "shim_total_p50_ms": pct(&mut s.total, 0.5),
                "errors": d.errors + s.errors}));
        }
    }
    let idle_rss = pct(&mut idle, 0.5);
    let anon = pct(&mut idle_anon, 0.5);
    println!("shim RSS idle: {idle_rss:.1} MiB, of which {anon:.1} MiB its own (RssAnon) and the rest file-backed pages of the executable (median of the fresh shims, 300 ms after start)");
    print_targets(&rows, idle_rss);
    json!({"events_per_stream": EVENTS, "event_bytes": EVENT_BYTES, "idle_rss_mib": idle_rss, "idle_rss_anon_mib": anon, "rows": rows})
}

/// The scenario's targets (issue 17), met or not: printed, never asserted.
fn print_targets(rows: &[Value], idle_rss: f64) {
    let cell = |route: &str, conc: usize, key: &str| {
        rows.iter()
            .find(|r| r["route"] == route && r["concurrency"] == conc)
            .and_then(|r| r[key].as_f64())
    };
    println!("\n| target (one event per write) | result | met |\n|---|---:|---|");
    let line =
        |name: String, v: Option<f64>, shown: &dyn Fn(f64) -> String, ok: &dyn Fn(f64) -> bool| {
            let (value, met) = match v {
                Some(v) => (shown(v), if ok(v) { "yes" } else { "NO" }),
                None => ("not measured".into(), "–"),
            };
            println!("| {name} | {value} | {met} |");
        };
    for route in ["chat", "anthropic"] {
        line(
            format!("{route}: shim CPU per stream ≤ 1.0 × the upstream's, 1 stream"),
            cell(route, 1, "shim_over_upstream_cpu"),
            &|v| format!("{v:.2}×"),
            &|v| v <= 1.0,
        );
        line(
            format!("{route}: streams/s at 64 ≥ 95 % of direct"),
            cell(route, 64, "throughput_ratio"),
            &|v| format!("{:.0} %", v * 100.0),
            &|v| v >= 0.95,
        );
        line(
            format!("{route}: peak RSS at 256 streams ≤ 40 MiB"),
            cell(route, 256, "shim_peak_rss_mib"),
            &|v| format!("{v:.1} MiB"),
            &|v| v <= 40.0,
        );
    }
    line(
        "idle RSS ≤ 12 MiB".into(),
        Some(idle_rss),
        &|v| format!("{v:.1} MiB"),
        &|v| v <= 12.0,
    );
}
