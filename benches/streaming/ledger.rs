//! What the usage ledger costs a request: the same binary with the ledger on and off, measured
//! in alternating rounds at 64 concurrent chat streams (on a shared machine one pass each is
//! not enough: two identical shims measured one after the other differ by up to ±20 %).

use axum::body::Bytes;
use serde_json::{json, Value};

use super::shim::ShimProc;
use super::{cpu_secs, run_level};

/// Rounds of each, alternating; the medians are compared.
const ROUNDS: usize = 6;

pub async fn cost(
    client: &reqwest::Client,
    on: &ShimProc,
    off: &ShimProc,
    body: &Bytes,
    secs: f64,
) -> Value {
    let mut samples: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always follows the other.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let shim = [on, off][which];
            let cpu0 = cpu_secs(shim.pid);
            let l = run_level(client, &shim.url, body, None, 64, secs).await;
            let n = l.total.len().max(1) as f64;
            samples[which].push((n / l.wall, (cpu_secs(shim.pid) - cpu0) * 1000.0 / n));
        }
    }
    let median = |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| {
        let mut x: Vec<f64> = v.iter().map(f).collect();
        x.sort_by(|a, b| a.partial_cmp(b).unwrap());
        x[x.len() / 2]
    };
    let spread = |v: &[(f64, f64)]| {
        let x: Vec<f64> = v.iter().map(|s| s.0).collect();
        let (lo, hi) = x
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), &s| (l.min(s), h.max(s)));
        format!("{lo:.0}–{hi:.0}")
    };
    let (sps_on, sps_off) = (median(&samples[0], |s| s.0), median(&samples[1], |s| s.0));
    let (cpu_on, cpu_off) = (median(&samples[0], |s| s.1), median(&samples[1], |s| s.1));
    println!(
        "\nusage ledger at 64 chat streams, {ROUNDS} alternating rounds of {secs} s each (medians; streams/s range):"
    );
    println!("| ledger | streams/s | range | CPU/req |\n|---|---:|---:|---:|");
    println!(
        "| on | {sps_on:.0} | {} | {cpu_on:.3} ms |",
        spread(&samples[0])
    );
    println!(
        "| off | {sps_off:.0} | {} | {cpu_off:.3} ms |",
        spread(&samples[1])
    );
    println!(
        "on ÷ off: {:.1} % of the throughput, {:+.3} ms CPU per request",
        sps_on / sps_off * 100.0,
        cpu_on - cpu_off
    );
    json!({"rounds": ROUNDS, "streams_per_s_on": sps_on, "streams_per_s_off": sps_off,
           "cpu_ms_per_request_on": cpu_on, "cpu_ms_per_request_off": cpu_off,
           "samples_on": samples[0], "samples_off": samples[1]})
}
