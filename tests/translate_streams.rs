//! Recorded chat completions streams through the decoder and the one Responses encoder, checked
//! against Codex's stream rules (the validator) and for the exact items Codex will commit.

mod common;

use common::validate::{check_strict, classify, parse_sse, Outcome};
use common::{fixture, read_fixture, run_chunked};
use serde_json::{json, Value};

use codex_shim::translate::envelope::Thinking;

/// Generated ids and timestamps replaced, so two runs can be compared.
fn normalise(v: &Value) -> Value {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let generated = matches!(
                    k.as_str(),
                    "id" | "item_id" | "created_at" | "encrypted_content"
                ) || (k == "call_id"
                    && v.as_str()
                        .is_some_and(|s| s.starts_with("call_") && s.len() > 30));
                (k.clone(), if generated { json!("#") } else { normalise(v) })
            })
            .collect(),
        Value::Array(items) => items.iter().map(normalise).collect(),
        other => other.clone(),
    }
}

fn run(name: &str) -> Vec<Value> {
    let raw = read_fixture(&format!("chat/{name}"));
    let events = run_chunked(&raw, usize::MAX);
    // The result must not depend on how the bytes were split.
    let whole: Vec<Value> = events.iter().map(normalise).collect();
    let tiny: Vec<Value> = run_chunked(&raw, 3).iter().map(normalise).collect();
    assert_eq!(whole, tiny, "{name}: 3-byte chunks differ");
    assert!(whole.iter().all(|e| !e.is_null()));
    let problems = check_strict(&events);
    assert!(problems.is_empty(), "{name}: {problems:#?}\n{events:#?}");
    events
}

fn done_items(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| e["item"].clone())
        .collect()
}

fn terminal(events: &[Value]) -> &Value {
    events.last().unwrap()
}

#[test]
fn plain_text_with_usage() {
    let evs = run("plain-text.sse");
    assert_eq!(classify(&evs), Outcome::Ok);
    let items = done_items(&evs);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["content"][0]["text"], "The command printed: hi");
    let deltas: Vec<&str> = evs
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["The ", "command ", "printed: ", "hi"]);
    let t = terminal(&evs);
    assert_eq!(t["type"], "response.completed");
    assert!(t["response"]["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(
        t["response"]["usage"],
        json!({"input_tokens": 1200, "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 0},
        "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": 1220})
    );
    assert_eq!(t["response"]["output"], json!(items));
}

#[test]
fn tool_call_with_arguments_split_over_many_chunks() {
    let evs = run("tool-call-split-args.sse");
    let items = done_items(&evs);
    assert_eq!(items.len(), 1);
    let call = &items[0];
    assert_eq!(
        (
            call["type"].as_str(),
            call["name"].as_str(),
            call["call_id"].as_str()
        ),
        (
            Some("function_call"),
            Some("exec_command"),
            Some("call_abc")
        )
    );
    assert_eq!(
        call["arguments"],
        r#"{"cmd":"echo hi","workdir":"/home/user/project"}"#
    );
    assert!(call["id"].as_str().unwrap().starts_with("fc_"));
    assert_ne!(call["id"], call["call_id"]);
    let joined: String = evs
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(joined, call["arguments"].as_str().unwrap());
    assert_eq!(terminal(&evs)["response"]["usage"]["total_tokens"], 62);
}

#[test]
fn two_parallel_calls_never_merge() {
    for name in ["parallel-calls.sse", "parallel-calls-same-index.sse"] {
        let items = done_items(&run(name));
        let got: Vec<(&str, &str)> = items
            .iter()
            .map(|i| {
                (
                    i["call_id"].as_str().unwrap(),
                    i["arguments"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("call_1", r#"{"cmd":"ls"}"#),
                ("call_2", r#"{"cmd":"pwd"}"#)
            ],
            "{name}"
        );
    }
}

#[test]
fn a_late_or_repeated_tool_name_is_right() {
    let items = done_items(&run("late-name.sse"));
    assert_eq!(
        (items[0]["name"].as_str(), items[0]["arguments"].as_str()),
        (Some("exec_command"), Some(r#"{"cmd":"date"}"#))
    );
    let items = done_items(&run("name-repeated.sse"));
    assert_eq!(
        (items[0]["name"].as_str(), items[0]["arguments"].as_str()),
        (Some("exec_command"), Some(r#"{"cmd":"true"}"#))
    );
}

#[test]
fn apply_patch_returns_as_a_custom_tool_call_with_the_raw_patch() {
    let evs = run("apply-patch.sse");
    let items = done_items(&evs);
    assert_eq!(items[0]["type"], "message");
    let call = &items[1];
    assert_eq!(call["type"], "custom_tool_call");
    assert_eq!(call["name"], "apply_patch");
    assert!(call["id"].as_str().unwrap().starts_with("ctc_"));
    assert_eq!(call["input"], "*** Begin Patch\n*** Add File: hello.txt\n+hello \"quoted\" \\ back ünïcode\n*** End Patch\n");
    let delta = evs
        .iter()
        .find(|e| e["type"] == "response.custom_tool_call_input.delta")
        .unwrap();
    assert_eq!(delta["delta"], call["input"]);
    assert!(evs.iter().any(
        |e| e["type"] == "response.custom_tool_call_input.done" && e["input"] == call["input"]
    ));
    assert!(!evs
        .iter()
        .any(|e| e["type"] == "response.function_call_arguments.delta"));
}

#[test]
fn a_namespaced_call_gets_its_namespace_back() {
    let items = done_items(&run("namespace.sse"));
    assert_eq!(
        (items[0]["namespace"].as_str(), items[0]["name"].as_str()),
        (Some("multi_agent_v1"), Some("spawn_agent"))
    );
}

#[test]
fn reasoning_content_becomes_a_reasoning_item_that_round_trips() {
    let evs = run("reasoning-content.sse");
    let items = done_items(&evs);
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reasoning", "message", "function_call"]);
    assert_eq!(
        items[0]["summary"],
        json!([{"type": "summary_text", "text": "The user wants the date."}])
    );
    let env = Thinking::decode(items[0]["encrypted_content"].as_str().unwrap()).unwrap();
    assert_eq!(env, Thinking::chat("The user wants the date."));
    let u = &terminal(&evs)["response"]["usage"];
    assert_eq!(
        (
            u["input_tokens_details"]["cached_tokens"].as_u64(),
            u["output_tokens_details"]["reasoning_tokens"].as_u64()
        ),
        (Some(10), Some(25))
    );
    // Think tags inline in content are reasoning too, never answer text.
    let items = done_items(&run("think-tags.sse"));
    assert_eq!(items[0]["summary"][0]["text"], "\nPlan: say hi.\n");
    assert_eq!(items[1]["content"][0]["text"], "\n\nHi there!");
}

#[test]
fn finish_reason_length_is_incomplete() {
    let evs = run("length.sse");
    let t = terminal(&evs);
    assert_eq!(t["type"], "response.incomplete");
    assert_eq!(
        t["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(t["response"]["usage"]["output_tokens"], 4096);
    assert!(matches!(classify(&evs), Outcome::Fatal(_)));
}

/// The chat equivalent of a tool_use cut by max_tokens: `finish_reason: "length"` in the middle of
/// a call's arguments. The cut call is never committed, for function and freeform tools alike.
#[test]
fn a_tool_call_cut_by_length_is_never_committed() {
    let evs = run("length-mid-tool-call.sse");
    let t = terminal(&evs);
    assert_eq!(
        (
            t["type"].as_str(),
            t["response"]["incomplete_details"]["reason"].as_str()
        ),
        (Some("response.incomplete"), Some("max_output_tokens"))
    );
    let items = done_items(&evs);
    assert_eq!(items.len(), 1, "only the text: {items:#?}");
    assert_eq!(items[0]["type"], "message");
    assert_eq!(t["response"]["output"], json!(items));

    let evs = run("length-mid-apply-patch.sse");
    let items = done_items(&evs);
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(
        items[0]["call_id"], "call_whole",
        "the complete call stands"
    );
    assert!(!evs.iter().any(|e| e["type"]
        .as_str()
        .is_some_and(|k| k.starts_with("response.custom_tool_call_input"))));
    assert_eq!(terminal(&evs)["type"], "response.incomplete");
}

/// On a normal stop, arguments that do not parse are still committed: Codex answers the model
/// with the parse error and the turn goes on (a freeform tool may take raw text).
#[test]
fn broken_arguments_on_a_normal_stop_are_committed_for_codex_to_report() {
    let mut raw = read_fixture("chat/length-mid-tool-call.sse");
    raw = raw.replace(
        "\"finish_reason\":\"length\"",
        "\"finish_reason\":\"tool_calls\"",
    );
    let evs = run_chunked(&raw, usize::MAX);
    assert!(check_strict(&evs).is_empty());
    let items = done_items(&evs);
    assert_eq!(items.len(), 2, "{items:#?}");
    assert_eq!(items[1]["type"], "function_call");
    assert_eq!(terminal(&evs)["type"], "response.completed");
}

#[test]
fn eof_without_done_fails_and_commits_nothing_partial() {
    let evs = run("eof-without-done.sse");
    let t = terminal(&evs);
    assert_eq!(t["type"], "response.failed");
    assert_eq!(t["response"]["error"]["code"], "server_error");
    assert!(matches!(classify(&evs), Outcome::Retry(_)));
    // The text was complete (a call followed it); the cut-off call is never committed, so Codex
    // cannot run a half-received command.
    let items = done_items(&evs);
    assert_eq!(items.len(), 1, "{evs:#?}");
    assert_eq!(items[0]["content"][0]["text"], "Partial ans");
    assert!(
        evs.iter()
            .any(|e| e["type"] == "response.output_item.added"
                && e["item"]["type"] == "function_call")
    );
}

#[test]
fn an_error_chunk_fails_the_stream() {
    let evs = run("error-chunk.sse");
    let t = terminal(&evs);
    assert_eq!(t["type"], "response.failed");
    assert!(t["response"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("upstream overloaded"));
    assert!(!evs.iter().any(|e| e["type"] == "response.completed"));
}

#[test]
fn text_after_a_tool_call_opens_a_new_message() {
    let items = done_items(&run("text-after-call.sse"));
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message", "function_call", "message"]);
    assert_eq!(items[2]["content"][0]["text"], "After.");
}

#[test]
fn the_validator_classifies_codexs_own_vectors() {
    let dir = fixture("codex-0.169/streams");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let outcome = classify(&parse_sse(&std::fs::read_to_string(&path).unwrap()));
        let ok = match name.split('-').next().unwrap() {
            "ok" => outcome == Outcome::Ok,
            "lost" => outcome == Outcome::Lost,
            "retry" => matches!(outcome, Outcome::Retry(_)),
            "fatal" => matches!(outcome, Outcome::Fatal(_)),
            other => panic!("unexpected vector {other}"),
        };
        assert!(ok, "{name}: {outcome:?}");
        seen += 1;
    }
    assert_eq!(seen, 16);
}
