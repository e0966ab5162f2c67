//! `codex-shim usage`: what the ledger recorded, per day and model.

use std::path::Path;

use crate::settings::Settings;
use crate::store::{DayUsage, Store};

/// The usage rows of the last `days` days (today included), costs from `settings`' prices.
pub fn rows(
    db: &Path,
    settings: &Settings,
    days: u32,
    model: Option<&str>,
) -> anyhow::Result<Vec<DayUsage>> {
    match Store::open_existing(db)? {
        Some(store) => Ok(store.usage(days, model, |slug, upstream| {
            settings.prices_for(slug, upstream)
        })?),
        None => Ok(Vec::new()),
    }
}

/// Prints `rows` as a table with a total line, or as JSON.
pub fn print(rows: &[DayUsage], json: bool, days: u32) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("No requests recorded in the last {days} day(s).");
        return Ok(());
    }
    let mut lines = vec![[
        "day",
        "model",
        "requests",
        "input",
        "cached",
        "output",
        "reasoning",
        "cost",
    ]
    .map(String::from)];
    for r in rows {
        lines.push([
            r.day.clone(),
            r.slug.clone(),
            r.requests.to_string(),
            r.input_tokens.to_string(),
            r.cached_tokens.to_string(),
            r.output_tokens.to_string(),
            r.reasoning_tokens.to_string(),
            cost(r.cost_usd),
        ]);
    }
    let sum = |f: fn(&DayUsage) -> u64| rows.iter().map(f).sum::<u64>().to_string();
    // The total's cost is known only when every row's is.
    let total_cost = rows.iter().map(|r| r.cost_usd).sum::<Option<f64>>();
    let partial = rows.iter().filter_map(|r| r.cost_usd).sum::<f64>();
    lines.push([
        "total".into(),
        String::new(),
        sum(|r| r.requests),
        sum(|r| r.input_tokens),
        sum(|r| r.cached_tokens),
        sum(|r| r.output_tokens),
        sum(|r| r.reasoning_tokens),
        match total_cost {
            Some(c) => cost(Some(c)),
            None if partial > 0.0 => format!("{} + unpriced", cost(Some(partial))),
            None => cost(None),
        },
    ]);
    let widths: Vec<usize> = (0..8)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < 2 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    if rows.iter().any(|r| r.cost_usd.is_none()) {
        println!("\n— : no price known for that model; add inputPrice, cachedInputPrice and outputPrice (USD per million tokens) to it in your settings.");
    }
    Ok(())
}

fn cost(c: Option<f64>) -> String {
    c.map(crate::store::ledger::usd)
        .unwrap_or_else(|| "—".into())
}
