//! Forwarding a Responses request to an upstream that speaks the Responses API itself (OpenAI,
//! OpenRouter, xAI, vLLM…, and the ChatGPT backend): pure body preparation and reply rewriting.
//!
//! Nothing is translated: reasoning items and custom tools reach the upstream as Codex sent them.
//! Only what the target rejects is removed:
//! - the shim's own reasoning envelopes (from turns on other providers earlier in the thread):
//!   reasoning items carrying one are dropped, and any other such `encrypted_content` is removed;
//! - BYOK upstreams: Codex's `client_metadata`, and the `id` of every non-reasoning input item
//!   (an upstream rejects ids it did not issue);
//! - the ChatGPT backend: `previous_response_id`, `metadata` and `max_output_tokens`.

use serde_json::Value;

use super::envelope::PREFIX;

/// Where the body goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A BYOK Responses upstream with the user's key.
    Byok,
    /// The ChatGPT Codex backend with the user's login.
    ChatGpt,
}

/// Prepares the body for `target` with the upstream's model name. Returns what was removed.
pub fn prepare_body(mut body: Value, upstream_model: &str, target: Target) -> (Value, Vec<String>) {
    let mut dropped = Vec::new();
    let Some(obj) = body.as_object_mut() else {
        return (body, dropped);
    };
    obj.insert("model".into(), Value::String(upstream_model.to_string()));
    let strip: &[&str] = match target {
        Target::Byok => &["client_metadata"],
        Target::ChatGpt => &["previous_response_id", "metadata", "max_output_tokens"],
    };
    for key in strip {
        if obj.remove(*key).is_some() {
            dropped.push(format!("`{key}`"));
        }
    }
    if let Some(Value::Array(items)) = obj.get_mut("input") {
        let before = items.len();
        items.retain(|item| {
            !(item["type"] == "reasoning"
                && item
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.starts_with(PREFIX)))
        });
        if items.len() < before {
            dropped.push(format!(
                "{} reasoning item(s) from other providers",
                before - items.len()
            ));
        }
        for item in items.iter_mut() {
            strip_envelopes(item);
            if target == Target::Byok && item["type"] != "reasoning" {
                if let Some(o) = item.as_object_mut() {
                    o.remove("id");
                }
            }
        }
    }
    (body, dropped)
}

/// Removes every `encrypted_content` holding one of our envelopes, at any depth.
fn strip_envelopes(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map
                .get("encrypted_content")
                .and_then(Value::as_str)
                .is_some_and(|e| e.starts_with(PREFIX))
            {
                map.remove("encrypted_content");
            }
            map.values_mut().for_each(strip_envelopes);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_envelopes),
        _ => {}
    }
}

/// What the shim writes back into a native reply's Response objects: the slug the client asked
/// for (as `model`), and the `previous_response_id` the shim resolved itself (the upstream got
/// the conversation instead, so its Response does not name it).
#[derive(Debug, Clone, Default)]
pub struct WriteBack {
    pub slug: Option<String>,
    pub previous_response_id: Option<String>,
}

impl WriteBack {
    /// Nothing to write: the reply's bytes can pass untouched.
    pub fn is_empty(&self) -> bool {
        self.slug.is_none() && self.previous_response_id.is_none()
    }

    /// Writes into a reply event (its `response`) or a Response object. True if anything changed.
    pub fn apply(&self, v: &mut Value) -> bool {
        let mut changed = match &self.slug {
            Some(slug) => rewrite_model(v, slug),
            None => false,
        };
        if let Some(prev) = &self.previous_response_id {
            let target = if v.get("response").is_some_and(Value::is_object) {
                v.get_mut("response")
            } else if v.get("object").and_then(Value::as_str) == Some("response") {
                Some(v)
            } else {
                None
            };
            if let Some(Value::Object(r)) = target {
                r.insert("previous_response_id".into(), Value::String(prev.clone()));
                changed = true;
            }
        }
        changed
    }
}

/// Writes `slug` back as the model of a reply event or Response object (`response.model`, or a
/// top-level `model`). Returns true if anything changed.
pub fn rewrite_model(v: &mut Value, slug: &str) -> bool {
    let set = |m: Option<&mut Value>| match m {
        Some(m) if m.is_string() && m != slug => {
            *m = Value::String(slug.to_string());
            true
        }
        _ => false,
    };
    let nested = set(v.get_mut("response").and_then(|r| r.get_mut("model")));
    let top = set(v.get_mut("model"));
    nested || top
}

/// The tool call a reply event commits although it is incomplete (a `response.output_item.done`
/// whose `function_call` or `custom_tool_call` has status `incomplete`: the output-token limit cut
/// its arguments). Codex would run it; such an event is not passed on. Returns the call's name.
/// Cheap for every other event: only one naming both strings is parsed.
pub fn cut_call(data: &str) -> Option<String> {
    if !data.contains("\"response.output_item.done\"") || !data.contains("\"incomplete\"") {
        return None;
    }
    let v: Value = serde_json::from_str(data).ok()?;
    let item = &v["item"];
    let is_call = matches!(
        item["type"].as_str(),
        Some("function_call" | "custom_tool_call")
    );
    (v["type"] == "response.output_item.done" && is_call && item["status"] == "incomplete")
        .then(|| item["name"].as_str().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::envelope::Thinking;
    use serde_json::json;

    fn body() -> Value {
        json!({"model": "gpt-5.5", "stream": true, "client_metadata": {"x": "y"}, "max_output_tokens": 10, "metadata": {}, "input": [
            {"type": "message", "id": "msg_1", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "reasoning", "id": "rs_claude", "summary": [], "encrypted_content": Thinking::chat("x").encode()},
            {"type": "reasoning", "id": "rs_openai", "summary": [], "encrypted_content": "gAAAA-openai"},
            {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
            {"type": "compaction", "id": "cmp_1", "encrypted_content": Thinking::chat("y").encode()}]})
    }

    #[test]
    fn byok_bodies_lose_only_what_the_upstream_rejects() {
        let (b, dropped) = prepare_body(body(), "o4-mini", Target::Byok);
        assert_eq!(b["model"], "o4-mini");
        assert!(b.get("client_metadata").is_none() && b["max_output_tokens"] == 10);
        let items = b["input"].as_array().unwrap();
        let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["message", "reasoning", "function_call", "compaction"]
        );
        assert_eq!(
            items[1]["encrypted_content"], "gAAAA-openai",
            "the upstream's own reasoning is kept"
        );
        assert_eq!(items[1]["id"], "rs_openai");
        assert!(items[0].get("id").is_none() && items[2].get("id").is_none());
        assert!(items[3].get("encrypted_content").is_none());
        assert!(!b.to_string().contains(PREFIX));
        assert!(dropped.iter().any(|d| d.contains("reasoning item")));
    }

    #[test]
    fn chatgpt_bodies_keep_ids_and_drop_backend_rejects() {
        let (b, _) = prepare_body(body(), "gpt-5.5", Target::ChatGpt);
        assert!(b.get("max_output_tokens").is_none() && b.get("metadata").is_none());
        assert_eq!(b["client_metadata"], json!({"x": "y"}));
        assert_eq!(b["input"][0]["id"], "msg_1");
        assert!(!b.to_string().contains(PREFIX));
    }

    #[test]
    fn only_a_committed_incomplete_call_is_cut() {
        let done = |item: Value| {
            json!({"type": "response.output_item.done", "output_index": 0, "item": item})
                .to_string()
        };
        let cut = done(
            json!({"type": "function_call", "name": "exec_command", "arguments": "{\"cmd\": \"ec", "status": "incomplete"}),
        );
        assert_eq!(cut_call(&cut).as_deref(), Some("exec_command"));
        let patch = done(
            json!({"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin", "status": "incomplete"}),
        );
        assert_eq!(cut_call(&patch).as_deref(), Some("apply_patch"));
        for kept in [
            done(json!({"type": "function_call", "name": "f", "arguments": "{}", "status": "completed"})),
            done(json!({"type": "message", "status": "incomplete", "content": []})),
            json!({"type": "response.incomplete", "response": {"status": "incomplete"}}).to_string(),
            json!({"type": "response.output_text.delta", "delta": "\"response.output_item.done\" \"incomplete\""}).to_string(),
        ] {
            assert_eq!(cut_call(&kept), None, "{kept}");
        }
    }

    #[test]
    fn model_names_are_written_back() {
        let mut ev =
            json!({"type": "response.completed", "response": {"id": "r", "model": "o4-mini-2025"}});
        assert!(rewrite_model(&mut ev, "my-o4"));
        assert_eq!(ev["response"]["model"], "my-o4");
        let mut delta = json!({"type": "response.output_text.delta", "delta": "model"});
        assert!(!rewrite_model(&mut delta, "my-o4"));
    }

    #[test]
    fn a_resolved_previous_response_id_is_written_into_events_and_objects() {
        let back = WriteBack {
            slug: None,
            previous_response_id: Some("resp_prev".into()),
        };
        let mut ev = json!({"type": "response.created", "response": {"id": "r", "previous_response_id": null}});
        assert!(back.apply(&mut ev));
        assert_eq!(ev["response"]["previous_response_id"], "resp_prev");
        let mut obj = json!({"id": "r", "object": "response", "model": "o4-mini"});
        assert!(back.apply(&mut obj));
        assert_eq!(obj["previous_response_id"], "resp_prev");
        let mut delta = json!({"type": "response.output_text.delta", "delta": "x"});
        assert!(!back.apply(&mut delta), "only Response objects");
        assert!(WriteBack::default().is_empty() && !back.is_empty());
    }
}
