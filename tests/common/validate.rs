//! A checker for the SSE rules Codex 0.169 holds a server to (contract §4, §5.3).
//!
//! `classify` says what Codex does with a stream (the captured `streams/` vectors are its test
//! data); `check_strict` additionally demands what the shim's own encoder promises: a
//! `sequence_number` on every event, counting from 0, and full `response` objects.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Codex accepts the turn.
    Ok,
    /// Accepted, but a message sent only as deltas is lost.
    Lost,
    /// Codex retries the request (the reason is informative).
    Retry(String),
    /// Codex stops with an error.
    Fatal(String),
}

const FATAL_CODES: [&str; 9] = [
    "context_length_exceeded",
    "insufficient_quota",
    "usage_not_included",
    "cyber_policy",
    "misalignment_policy_violation",
    "invalid_prompt",
    "bio_policy",
    "server_is_overloaded",
    "slow_down",
];

fn usage_ok(u: &Value) -> bool {
    if u.is_null() {
        return true;
    }
    let int = |v: &Value, k: &str| v.get(k).is_some_and(Value::is_u64);
    let details_ok = |k: &str, inner: &str| match u.get(k) {
        None | Some(Value::Null) => true,
        Some(d) => int(d, inner),
    };
    int(u, "input_tokens")
        && int(u, "output_tokens")
        && int(u, "total_tokens")
        && details_ok("input_tokens_details", "cached_tokens")
        && details_ok("output_tokens_details", "reasoning_tokens")
}

/// What Codex does with this stream.
pub fn classify(events: &[Value]) -> Outcome {
    let mut done_ids = HashSet::new();
    let mut delta_items = HashSet::new();
    for ev in events {
        let kind = ev["type"].as_str().unwrap_or("");
        match kind {
            "response.output_text.delta" => {
                if let Some(id) = ev["item_id"].as_str() {
                    delta_items.insert(id.to_string());
                }
            }
            "response.output_item.done" => {
                if let Some(id) = ev["item"]["id"].as_str() {
                    done_ids.insert(id.to_string());
                }
            }
            "response.completed" => {
                let r = &ev["response"];
                if r["id"].as_str().is_none_or(|s| s.is_empty()) {
                    return Outcome::Retry("completed without response.id".into());
                }
                if !usage_ok(&r["usage"]) {
                    return Outcome::Retry("usage does not parse".into());
                }
                if delta_items.iter().any(|id| !done_ids.contains(id)) {
                    return Outcome::Lost;
                }
                return Outcome::Ok;
            }
            "response.failed" => {
                let code = ev["response"]["error"]["code"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                return if FATAL_CODES.contains(&code.as_str()) {
                    Outcome::Fatal(code)
                } else {
                    Outcome::Retry(format!("failed: {code}"))
                };
            }
            "response.incomplete" => {
                return Outcome::Fatal(format!(
                    "incomplete: {}",
                    ev["response"]["incomplete_details"]["reason"]
                ))
            }
            _ => {}
        }
    }
    Outcome::Retry("closed before response.completed".into())
}

/// The shim's own guarantees on top of Codex's rules. Returns the problems found.
pub fn check_strict(events: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut open: HashMap<String, String> = HashMap::new(); // item id -> item type
    let mut closed: HashSet<String> = HashSet::new();
    let mut terminals = 0;
    for (i, ev) in events.iter().enumerate() {
        let kind = ev["type"].as_str().unwrap_or("");
        if kind.is_empty() {
            problems.push(format!("event {i} has no type"));
        }
        if ev["sequence_number"].as_u64() != Some(i as u64) {
            problems.push(format!(
                "event {i} ({kind}) has sequence_number {}",
                ev["sequence_number"]
            ));
        }
        if terminals > 0 {
            problems.push(format!("event {i} ({kind}) comes after the terminal event"));
        }
        match kind {
            "response.created"
            | "response.in_progress"
            | "response.completed"
            | "response.failed"
            | "response.incomplete" => {
                let r = &ev["response"];
                for field in [
                    "id",
                    "object",
                    "created_at",
                    "model",
                    "output",
                    "parallel_tool_calls",
                    "tool_choice",
                    "tools",
                    "status",
                ] {
                    if r.get(field).is_none() {
                        problems.push(format!("{kind}: response.{field} missing"));
                    }
                }
                if kind != "response.created" && kind != "response.in_progress" {
                    terminals += 1;
                    if !usage_ok(&r["usage"]) || r["usage"].is_null() {
                        problems.push(format!("{kind}: usage is not in the strict shape"));
                    }
                }
            }
            "response.output_item.added" => {
                let id = ev["item"]["id"].as_str().unwrap_or("").to_string();
                if id.is_empty() || open.contains_key(&id) || closed.contains(&id) {
                    problems.push(format!("added: bad or repeated item id {id:?}"));
                }
                open.insert(id, ev["item"]["type"].as_str().unwrap_or("").to_string());
            }
            "response.output_item.done" => {
                let id = ev["item"]["id"].as_str().unwrap_or("").to_string();
                if open.remove(&id).is_none() {
                    problems.push(format!("done for item {id:?} that is not open"));
                }
                closed.insert(id);
                if ev["item"]["status"] != "completed" && ev["item"]["type"] != "reasoning" {
                    problems.push(format!("done item {} is not completed", ev["item"]["id"]));
                }
            }
            k if k.ends_with(".delta") || k.ends_with(".done") || k.ends_with(".added") => {
                let id = ev["item_id"].as_str().unwrap_or("");
                if !open.contains_key(id) {
                    problems.push(format!("{k} for item {id:?} that is not open"));
                }
                if k.starts_with("response.output_text.") && ev.get("logprobs").is_none() {
                    problems.push(format!("{k} without logprobs"));
                }
            }
            _ => {}
        }
    }
    if terminals != 1 {
        problems.push(format!("{terminals} terminal events"));
    }
    let last = events
        .last()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .unwrap_or("");
    if last == "response.completed" && !open.is_empty() {
        problems.push(format!("completed with items still open: {open:?}"));
    }
    problems
}

/// Parses an SSE body into its JSON events (non-JSON data such as `[DONE]` is skipped, as Codex does).
pub fn parse_sse(body: &str) -> Vec<Value> {
    let mut p = codex_shim::translate::sse::SseParser::new();
    let mut evs = p.feed(body.as_bytes());
    evs.extend(p.finish());
    evs.into_iter()
        .filter_map(|e| serde_json::from_str(&e.data).ok())
        .collect()
}

/// The Messages API's rules for a request, in one place.
pub fn validate_messages(r: &Value) {
    let msgs = r["messages"].as_array().unwrap();
    assert!(!msgs.is_empty());
    assert_eq!(msgs[0]["role"], "user", "first turn is a user turn");
    assert_eq!(
        msgs.last().unwrap()["role"],
        "user",
        "no assistant prefill at the end"
    );
    assert!(r["max_tokens"].as_u64().unwrap() > 0);
    for (i, m) in msgs.iter().enumerate() {
        if i > 0 {
            assert_ne!(msgs[i - 1]["role"], m["role"], "roles alternate at {i}");
        }
        let blocks = m["content"].as_array().unwrap();
        assert!(!blocks.is_empty(), "message {i} is empty");
        for b in blocks {
            if b["type"] == "text" {
                assert!(
                    !b["text"].as_str().unwrap().trim().is_empty(),
                    "empty text block in {i}"
                );
            }
            if b["type"] == "tool_use" {
                assert!(b["input"].is_object(), "tool_use.input is an object");
                assert_eq!(m["role"], "assistant");
            }
        }
        let uses: Vec<&str> = blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        if !uses.is_empty() {
            let next: Vec<&str> = msgs[i + 1]["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|b| b["type"] == "tool_result")
                .map(|b| b["tool_use_id"].as_str().unwrap())
                .collect();
            assert_eq!(
                uses, next,
                "every tool_use of message {i} answered in order by the next turn"
            );
            let first_other = msgs[i + 1]["content"]
                .as_array()
                .unwrap()
                .iter()
                .position(|b| b["type"] != "tool_result")
                .unwrap_or(usize::MAX);
            assert!(
                first_other >= next.len(),
                "results come before other content"
            );
        }
    }
    let results = msgs
        .iter()
        .flat_map(|m| m["content"].as_array().unwrap())
        .filter(|b| b["type"] == "tool_result")
        .count();
    let uses = msgs
        .iter()
        .flat_map(|m| m["content"].as_array().unwrap())
        .filter(|b| b["type"] == "tool_use")
        .count();
    assert_eq!(results, uses, "every tool_use has exactly one tool_result");
    for t in r
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        assert_eq!(t["input_schema"]["type"], "object", "{}", t["name"]);
    }
    let breakpoints = r.to_string().matches("\"cache_control\"").count();
    assert!(
        breakpoints <= 4,
        "at most 4 cache breakpoints, found {breakpoints}"
    );
    if r.get("thinking").is_some() {
        assert!(
            r["thinking"]["budget_tokens"].as_u64().unwrap() < r["max_tokens"].as_u64().unwrap()
        );
        assert!(r.get("temperature").is_none() && r.get("top_p").is_none());
        assert!(!matches!(
            r["tool_choice"]["type"].as_str(),
            Some("any" | "tool")
        ));
    }
}
