//! The streaming-overhead benchmark: is codex-shim measurably invisible?
//!
//! One run, one client, one fast fake upstream on loopback (chat completions, Anthropic and
//! Responses SSE, no artificial delay; the last is what a native route forwards): the same Codex-shaped Responses requests go **direct** (client →
//! upstream, the physical limit) and **through the shim** (the release `codex-shim` binary), at
//! concurrency 1, 16, 64 and 256. Reported: time to first byte and total stream time (p50/p99),
//! upstream events per second, requests per second, the shim's CPU time per request, its idle and
//! peak RSS, the added time and the shim/direct ratios; then the cost of translating a ~1.5 MB
//! request (and of decoding and re-encoding a stream) alone, per route.
//!
//!   cargo bench --bench streaming                  (BENCH_SECS=3 per level, BENCH_EVENTS=50,
//!                                                   BENCH_LEVELS=1,64 to run only some levels,
//!                                                   BENCH_EVENT_DELAY_MS=5 for a model's pace)
//!
//! With LiteLLM installed (`pip install 'litellm[proxy]'`, its `litellm` on PATH or named by
//! BENCH_LITELLM), its `/v1/responses` bridge to the same upstream is measured in the same run.
//!
//! Prints a table and writes target/bench/streaming.json. This is a benchmark, not a test: the
//! targets are printed next to the numbers, never asserted.

mod ledger;
mod litellm;
mod per_write;
mod shim;
mod translation;
mod upstream;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{json, Value};
use upstream::{anthropic_events, chat_events, event_delay, responses_events, start_upstream};

const LEVELS: [usize; 4] = [1, 16, 64, 256];

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---- requests ----

fn fixture(rel: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/codex-0.169/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// A real captured Codex request, and one grown to ~1.5 MB of history (about 400k tokens) by
/// repeating its turns with fresh call ids.
fn requests() -> (Value, Value) {
    let normal = fixture("parallel-tool-calls/02-two-calls-two-outputs.body.json");
    let mut large = normal.clone();
    let items = normal["input"].as_array().unwrap().clone();
    let history = large["input"].as_array_mut().unwrap();
    let mut round = 0;
    while serde_json::to_vec(history).unwrap().len() < 1_500_000 {
        round += 1;
        for it in &items {
            let mut it = it.clone();
            if let Some(id) = it.get("call_id").and_then(Value::as_str) {
                it["call_id"] = json!(format!("{id}_r{round}"));
            }
            history.push(it);
        }
    }
    (normal, large)
}

// ---- measuring ----

#[derive(Default, Clone)]
struct Level {
    ttfb: Vec<f64>,
    total: Vec<f64>,
    wall: f64,
    /// Body chunks the client read, over all streams (one per read when nothing was batched).
    chunks: usize,
    errors: usize,
    /// What the first failed stream said (status and the end of its body), for the report.
    first_error: Option<String>,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Whether a Responses stream has its `response.completed` event (searched from the end: it is
/// the last event, usually in the last chunk).
fn completed(chunks: &[Bytes]) -> bool {
    const NEEDLE: &[u8] = b"response.completed";
    let found = |b: &[u8]| b.windows(NEEDLE.len()).any(|w| w == NEEDLE);
    chunks.iter().rev().any(|c| found(c)) || found(&chunks.concat())
}

async fn run_level(
    client: &reqwest::Client,
    url: &str,
    body: &Bytes,
    auth: Option<&str>,
    conc: usize,
    secs: f64,
) -> Level {
    // A Responses stream counts only if it completed (a proxy could answer 200 and then fail).
    let must_complete = url.ends_with("/v1/responses");
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, url, body) = (client.clone(), url.to_string(), body.clone());
        let auth = auth.map(|key| format!("Bearer {key}"));
        tasks.push(tokio::spawn(async move {
            let mut l = Level::default();
            while Instant::now() < end {
                let s = Instant::now();
                let mut req = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                let mut r = match req.send().await {
                    Ok(r) => r,
                    Err(e) => {
                        l.errors += 1;
                        l.first_error.get_or_insert_with(|| e.to_string());
                        continue;
                    }
                };
                let status = r.status();
                let mut first = None;
                let mut ok = r.status().is_success();
                let mut chunks: Vec<Bytes> = Vec::new();
                loop {
                    match r.chunk().await {
                        Ok(Some(chunk)) => {
                            first.get_or_insert_with(|| s.elapsed().as_secs_f64() * 1000.0);
                            chunks.push(chunk);
                            l.chunks += 1;
                        }
                        Ok(None) => break,
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
                if must_complete {
                    ok &= completed(&chunks);
                }
                if ok {
                    l.ttfb.push(first.unwrap_or(f64::NAN));
                    l.total.push(s.elapsed().as_secs_f64() * 1000.0);
                } else {
                    l.errors += 1;
                    l.first_error.get_or_insert_with(|| {
                        let body = chunks.concat();
                        let tail = String::from_utf8_lossy(&body[body.len().saturating_sub(400)..])
                            .into_owned();
                        format!("HTTP {status}: …{tail}")
                    });
                }
            }
            l
        }));
    }
    let mut all = Level::default();
    for t in tasks {
        let l = t.await.unwrap();
        all.ttfb.extend(l.ttfb);
        all.total.extend(l.total);
        all.errors += l.errors;
        all.chunks += l.chunks;
        all.first_error = all.first_error.or(l.first_error);
    }
    all.wall = t0.elapsed().as_secs_f64();
    all
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn status_kib(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(key).map(|v| {
                v.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::var("BENCH_ROLE").is_ok_and(|r| r == "upstream") {
        upstream::serve_process().await;
        return;
    }
    let secs = env_num("BENCH_SECS", 3.0);
    // BENCH_SCENARIO=per-write runs only "one event per write"; =classic only the rest.
    let scenario = std::env::var("BENCH_SCENARIO").unwrap_or_default();
    let bin =
        std::env::var("BENCH_SHIM_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_codex-shim").into());
    let per_write = if scenario != "classic" {
        let request = fixture("parallel-tool-calls/02-two-calls-two-outputs.body.json");
        per_write::run(&bin, &request, secs, &only_levels()).await
    } else {
        Value::Null
    };
    if scenario == "per-write" {
        write_report(
            &json!({"date": chrono_like_now(), "machine": uname(), "per_write": per_write}),
        );
        return;
    }
    let n_events = env_num("BENCH_EVENTS", 50.0) as usize;
    let size = env_num("BENCH_EVENT_BYTES", 20.0) as usize;
    let (normal, large) = requests();
    let upstream = start_upstream(
        Arc::new(chat_events(n_events, size)),
        Arc::new(anthropic_events(n_events, size)),
        Arc::new(responses_events(n_events, size)),
        upstream::Pace::Fast,
    )
    .await;

    // The shim: the release binary, its own state, two models on the fake upstream.
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("models.json");
    std::fs::write(&settings, json!([
        {"model": "m", "slug": "bench-chat", "provider": "generic-chat-completion-api", "base_url": format!("http://{upstream}/v1")},
        {"model": "claude-sonnet-4-5", "slug": "bench-claude", "provider": "anthropic", "baseUrl": format!("http://{upstream}"), "apiKey": "k"},
        {"model": "m", "slug": "bench-native", "provider": "openai", "wireApi": "responses", "base_url": format!("http://{upstream}/v1"), "apiKey": "k"}
    ]).to_string()).unwrap();
    // BENCH_SHIM_BIN compares another build (say, an older commit's) against the same upstream.
    let shim = shim::ShimProc::start(&bin, &settings, dir.path(), true).await;
    // The same binary with the usage ledger off: at 64 streams, what the ledger itself costs.
    let bare_dir = tempfile::tempdir().unwrap();
    // BENCH_LEDGER_CHECK=on starts it with the ledger on too: an A/A run shows the noise floor.
    let aa = std::env::var("BENCH_LEDGER_CHECK").is_ok_and(|v| v == "on");
    let bare = shim::ShimProc::start(&bin, &settings, bare_dir.path(), aa).await;
    let pid = shim.pid;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = status_kib(pid, "VmRSS:") / 1024.0;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let body_for = |v: &Value, model: &str| {
        let mut v = v.clone();
        v["model"] = json!(model);
        v["stream"] = json!(true);
        Bytes::from(serde_json::to_vec(&v).unwrap())
    };
    let shim_url = shim.url.clone();
    let proxy = match litellm::find() {
        Some(bin) => match litellm::LiteLlm::start(&bin, upstream).await {
            Ok(p) => Some(p),
            Err(e) => {
                println!("LiteLLM comparison skipped: {e}");
                None
            }
        },
        None => None,
    };
    let cases = [
        (
            "chat",
            "bench-chat",
            format!("http://{upstream}/v1/chat/completions"),
            &normal,
        ),
        (
            "anthropic",
            "bench-claude",
            format!("http://{upstream}/v1/messages"),
            &normal,
        ),
        (
            "native Responses",
            "bench-native",
            format!("http://{upstream}/v1/responses"),
            &normal,
        ),
        (
            "chat, 1.5 MB request",
            "bench-chat",
            format!("http://{upstream}/v1/chat/completions"),
            &large,
        ),
    ];
    let mut rows = Vec::new();
    println!(
        "\ncodex-shim streaming benchmark: {n_events} upstream events of {size} B per stream, {:?} between events, {secs} s per cell",
        event_delay()
    );
    println!(
        "{} cores, {}\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        uname()
    );
    println!("| route | conc | path | TTFB p50 | TTFB p99 | total p50 | total p99 | streams/s | events/s | proxy CPU/req |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (route, slug, direct_url, req) in cases {
        let only = only_levels();
        let levels: &[usize] = if req.as_object() == large.as_object() {
            &[1, 16, 64]
        } else {
            &LEVELS
        };
        for &conc in levels
            .iter()
            .filter(|c| only.is_empty() || only.contains(c))
        {
            let body = body_for(req, slug);
            // The paths measured in this cell, each with the process whose CPU time is counted.
            let mut paths: Vec<(&str, String, Option<u32>, Option<&str>)> = vec![
                ("direct", direct_url.clone(), None, None),
                ("shim", shim_url.clone(), Some(pid), None),
            ];
            // LiteLLM needs ~40 ms of CPU a stream: 256 at once would take a cell ten times over.
            if let Some(l) = proxy
                .as_ref()
                .filter(|_| (route == "chat" || route == "anthropic") && conc <= 64)
            {
                paths.push(("litellm", l.url(), Some(l.pid()), Some(litellm::MASTER_KEY)));
            }
            // Warm every path's connection pool at this concurrency.
            for (_, url, _, auth) in &paths {
                run_level(&client, url, &body, *auth, conc, 0.3).await;
            }
            let mut row = json!({"route": route, "concurrency": conc});
            let mut cpu = 0.0;
            for (name, url, proc_pid, auth) in &paths {
                let cpu0 = proc_pid.map(cpu_secs).unwrap_or(0.0);
                let mut l = run_level(&client, url, &body, *auth, conc, secs).await;
                let per_req =
                    proc_pid.map(|p| (cpu_secs(p) - cpu0) * 1000.0 / l.total.len().max(1) as f64);
                if *name == "shim" {
                    cpu = per_req.unwrap_or(0.0);
                }
                let rps = l.total.len() as f64 / l.wall;
                let (t50, t99, d50, d99) = (
                    pct(&mut l.ttfb, 0.5),
                    pct(&mut l.ttfb, 0.99),
                    pct(&mut l.total, 0.5),
                    pct(&mut l.total, 0.99),
                );
                if let Some(e) = &l.first_error {
                    eprintln!(
                        "{route}, {conc}, {name}: {} failed; the first: {e}",
                        l.errors
                    );
                }
                let cpu_cell = per_req.map(|c| format!("{c:.3} ms")).unwrap_or_default();
                println!("| {route} | {conc} | {name} | {t50:.3} ms | {t99:.3} ms | {d50:.3} ms | {d99:.3} ms | {rps:.0} | {:.0} | {cpu_cell} |", rps * n_events as f64);
                row[*name] = json!({"ttfb_p50_ms": t50, "ttfb_p99_ms": t99, "total_p50_ms": d50, "total_p99_ms": d99, "streams_per_s": rps,
                                   "events_per_s": rps * n_events as f64, "errors": l.errors, "streams": l.total.len(), "cpu_ms_per_request": per_req});
            }
            row["shim_cpu_ms_per_request"] = json!(cpu);
            row["added_ttfb_p50_ms"] = json!(
                row["shim"]["ttfb_p50_ms"].as_f64().unwrap()
                    - row["direct"]["ttfb_p50_ms"].as_f64().unwrap()
            );
            row["added_ttfb_p99_ms"] = json!(
                row["shim"]["ttfb_p99_ms"].as_f64().unwrap()
                    - row["direct"]["ttfb_p99_ms"].as_f64().unwrap()
            );
            row["throughput_ratio"] = json!(
                row["shim"]["streams_per_s"].as_f64().unwrap()
                    / row["direct"]["streams_per_s"].as_f64().unwrap()
            );
            rows.push(row);
        }
    }
    let peak_rss = status_kib(pid, "VmHWM:") / 1024.0;
    let ledger_cost = if only_levels().is_empty() || only_levels().contains(&64) {
        ledger::cost(
            &client,
            &shim,
            &bare,
            &body_for(&normal, "bench-chat"),
            secs.min(3.0),
        )
        .await
    } else {
        Value::Null
    };
    drop(shim);
    drop(bare);
    let recorded = shim::ledger_rows(dir.path());
    let litellm_rss = proxy
        .as_ref()
        .map(|l| status_kib(l.pid(), "VmHWM:") / 1024.0);
    drop(proxy);

    println!(
        "\n| route | conc | added TTFB p50 | added TTFB p99 | throughput shim/direct | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:+.3} ms | {:+.3} ms | {:.0} % | {} |",
            r["route"].as_str().unwrap(),
            r["concurrency"],
            r["added_ttfb_p50_ms"].as_f64().unwrap(),
            r["added_ttfb_p99_ms"].as_f64().unwrap(),
            r["throughput_ratio"].as_f64().unwrap() * 100.0,
            r["direct"]["errors"].as_u64().unwrap() + r["shim"]["errors"].as_u64().unwrap()
        );
    }
    println!("\nshim RSS: {idle_rss:.1} MiB idle, {peak_rss:.1} MiB peak");
    println!("usage ledger: {recorded} rows written during the run");
    if rows.iter().any(|r| r.get("litellm").is_some()) {
        println!("\n| route | conc | LiteLLM TTFB p50 | streams/s direct / shim / LiteLLM | shim ÷ LiteLLM | LiteLLM errors |");
        println!("|---|---:|---:|---:|---:|---:|");
        for r in rows.iter().filter(|r| r.get("litellm").is_some()) {
            let sps = |p: &str| r[p]["streams_per_s"].as_f64().unwrap_or(f64::NAN);
            println!(
                "| {} | {} | {:.3} ms | {:.0} / {:.0} / {:.0} | {:.1}× | {} |",
                r["route"].as_str().unwrap(),
                r["concurrency"],
                r["litellm"]["ttfb_p50_ms"].as_f64().unwrap_or(f64::NAN),
                sps("direct"),
                sps("shim"),
                sps("litellm"),
                sps("shim") / sps("litellm"),
                r["litellm"]["errors"]
            );
        }
        if let Some(rss) = litellm_rss {
            println!("\nLiteLLM RSS: {rss:.1} MiB peak");
        }
    }

    let costs = translation::translation_costs(&large);
    println!("\n| translation alone (median of 21) | time |\n|---|---:|");
    for (name, ms) in &costs {
        println!("| {name} | {ms:.3} ms |");
    }

    // The targets, met or not (a benchmark: reported, not asserted).
    let none = json!({});
    let at64 = rows
        .iter()
        .find(|r| r["route"] == "chat" && r["concurrency"] == 64)
        .unwrap_or(&none);
    let map_ms = costs
        .iter()
        .find(|(n, _)| n.starts_with("whole chat route"))
        .map(|x| x.1)
        .unwrap_or(f64::NAN);
    // (target, met — or None when its cell was not measured, shown value)
    let at = |key: &str| at64[key].as_f64();
    let shown =
        |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or("not measured".into());
    let targets: [(&str, Option<bool>, String); 5] = [
        (
            "added TTFB p50 at 64 streams ≤ 0.5 ms",
            at("added_ttfb_p50_ms").map(|v| v <= 0.5),
            shown(at("added_ttfb_p50_ms"), &|v| format!("{v:+.3} ms")),
        ),
        (
            "added TTFB p99 at 64 streams ≤ 2 ms",
            at("added_ttfb_p99_ms").map(|v| v <= 2.0),
            shown(at("added_ttfb_p99_ms"), &|v| format!("{v:+.3} ms")),
        ),
        (
            "throughput at 64 streams ≥ 80 % of direct",
            at("throughput_ratio").map(|v| v >= 0.8),
            shown(at("throughput_ratio"), &|v| format!("{:.0} %", v * 100.0)),
        ),
        (
            "idle RSS ≤ 20 MB",
            Some(idle_rss <= 20.0),
            format!("{idle_rss:.1} MiB"),
        ),
        (
            "1.5 MB request mapped in ≤ 5 ms",
            Some(map_ms <= 5.0),
            format!("{map_ms:.3} ms"),
        ),
    ];
    println!("\n| target | result | met |\n|---|---:|---|");
    for (name, met, value) in &targets {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "–",
        };
        println!("| {name} | {value} | {met} |");
    }
    let out = json!({
        "date": chrono_like_now(), "machine": uname(), "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "events_per_stream": n_events, "event_bytes": size, "seconds_per_cell": secs,
        "rows": rows, "ledger_rows": recorded, "ledger_cost": ledger_cost, "rss_idle_mib": idle_rss, "rss_peak_mib": peak_rss, "litellm_rss_peak_mib": litellm_rss,
        "translation_ms": costs.iter().map(|(n, ms)| json!({"what": n, "ms": ms})).collect::<Vec<_>>(),
        "targets": targets.iter().map(|(n, met, v)| json!({"target": n, "value": v, "met": met})).collect::<Vec<_>>(),
        "per_write": per_write,
    });
    write_report(&out);
}

/// Writes the run's numbers to `target/bench/streaming.json` (under `CARGO_TARGET_DIR` if set).
fn write_report(out: &Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let path = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| std::path::PathBuf::from(d).join("bench"))
        .unwrap_or(path);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("streaming.json"),
        serde_json::to_string_pretty(&out).unwrap(),
    )
    .unwrap();
    println!("\nwrote {}", path.join("streaming.json").display());
}

/// BENCH_LEVELS: the concurrency levels to run (all when empty).
fn only_levels() -> Vec<usize> {
    std::env::var("BENCH_LEVELS")
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn uname() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpu}, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

fn chrono_like_now() -> String {
    let out = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
