//! The Responses API request, as Codex 0.169 sends it (contract §3).

use serde::Deserialize;
use serde_json::{Map, Value};

/// A `POST /v1/responses` body. Fields the shim does not use are kept in `extra`.
///
/// Read straight from the request's bytes (see `responses_de`), or from a parsed tree by
/// [`ResponsesRequest::from_raw`], which moves each field out instead of copying it.
#[derive(Debug, Clone)]
pub struct ResponsesRequest {
    pub model: String,
    /// Codex always streams; the OpenAI default is `false`.
    pub stream: bool,
    pub input: Input,
    /// Older clients send the base prompt here instead of as the first developer message.
    pub instructions: Option<String>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub reasoning: Option<Reasoning>,
    pub max_output_tokens: Option<u64>,
    pub text: Option<TextConfig>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub extra: Map<String, Value>,
}

/// The fields a request is routed by, read without keeping the rest of the body.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub model: String,
    pub stream: bool,
    /// `store` as sent (the API's default, when absent, is true).
    pub store: Option<bool>,
    pub previous_response_id: Option<String>,
}

/// `input`: a bare string (one user message) or a list of items.
#[derive(Debug, Clone, Default)]
pub struct Input(pub Vec<InputItem>);

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reasoning {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextConfig {
    #[serde(default)]
    pub format: Option<Value>,
    #[serde(default)]
    pub verbosity: Option<String>,
}

/// One conversation item (contract §3.5).
#[derive(Debug, Clone, PartialEq)]
pub enum InputItem {
    Message {
        role: String,
        content: Vec<ContentPart>,
    },
    FunctionCall {
        call_id: String,
        name: String,
        namespace: Option<String>,
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: ToolOutput,
    },
    CustomToolCall {
        call_id: String,
        name: String,
        namespace: Option<String>,
        input: String,
    },
    CustomToolCallOutput {
        call_id: String,
        output: ToolOutput,
    },
    Reasoning {
        summary: Vec<String>,
        content: Vec<String>,
        encrypted_content: Option<String>,
    },
    /// Tools declared inside the conversation (Codex 0.171's incremental tools, and "Responses
    /// lite" models, which send no top-level `tools`): offered upstream like top-level tools.
    AdditionalTools {
        tools: Vec<ToolSpec>,
    },
    /// Anything else (`compaction`, `web_search_call`, a type added after 0.169 …), by its `type`.
    Other {
        kind: String,
    },
}

/// One part of a message or of an array tool output.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    /// `input_text` or `output_text`.
    Text(String),
    /// `input_image` with a URL (usually a `data:` URL).
    Image { url: String, detail: Option<String> },
    /// A part the shim cannot forward (`input_audio`, `input_file`, `file_id` images …).
    Other(String),
}

/// `function_call_output.output`: a string or a list of parts (contract §3.8).
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutput {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl Default for ToolOutput {
    /// No output at all reads as empty text.
    fn default() -> Self {
        ToolOutput::Text(String::new())
    }
}

/// A tool Codex declares (contract §3.9).
#[derive(Debug, Clone, PartialEq)]
pub enum ToolSpec {
    Function {
        name: String,
        description: Option<String>,
        /// Shared, not copied: the same schema goes to the upstream request on every turn.
        parameters: Option<std::sync::Arc<Value>>,
    },
    /// A freeform tool such as `apply_patch`; `format` holds its grammar.
    Custom {
        name: String,
        description: Option<String>,
        format: Option<Value>,
    },
    Namespace {
        name: String,
        description: Option<String>,
        tools: Vec<ToolSpec>,
    },
    /// `web_search`, `tool_search`, or any other hosted tool type.
    Other { kind: String },
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn text_or_empty(v: &Value, key: &str) -> String {
    str_field(v, key).unwrap_or_default()
}

impl ToolSpec {
    /// Reads one tool, taking its schema without a copy; never fails.
    pub fn from_owned(mut v: Value) -> Self {
        let is_function = v.get("type").and_then(Value::as_str) == Some("function");
        let schema = match v.as_object_mut() {
            Some(map) if is_function => map.shift_remove("parameters"),
            _ => None,
        };
        let mut spec = ToolSpec::from_value(&v);
        if let ToolSpec::Function { parameters, .. } = &mut spec {
            *parameters = schema.map(std::sync::Arc::new);
        }
        spec
    }

    /// Reads one tool; never fails.
    pub fn from_value(v: &Value) -> Self {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("(untyped)");
        let name = text_or_empty(v, "name");
        let description = str_field(v, "description");
        match kind {
            "function" => ToolSpec::Function {
                name,
                description,
                parameters: v.get("parameters").cloned().map(std::sync::Arc::new),
            },
            "custom" => ToolSpec::Custom {
                name,
                description,
                format: v.get("format").cloned(),
            },
            "namespace" => ToolSpec::Namespace {
                name,
                description,
                tools: v
                    .get("tools")
                    .and_then(Value::as_array)
                    .map(|ts| ts.iter().map(ToolSpec::from_value).collect())
                    .unwrap_or_default(),
            },
            other => ToolSpec::Other {
                kind: other.to_string(),
            },
        }
    }
}

/// `tools`, leniently: anything but a list declares no tools.
pub(super) fn tools_of(v: Value) -> Vec<ToolSpec> {
    match v {
        Value::Array(tools) => tools.into_iter().map(ToolSpec::from_owned).collect(),
        _ => Vec::new(),
    }
}

impl ResponsesRequest {
    /// Reads a request out of its parsed JSON, moving (not copying) the conversation and tools.
    /// Fails only on a missing `model` or a known field of the wrong type, naming the field.
    pub fn from_raw(raw: Value) -> Result<Self, serde_json::Error> {
        ResponsesRequest::deserialize(raw)
    }

    /// Every tool the request declares: the top-level `tools`, then those of `additional_tools`
    /// items in conversation order.
    pub fn all_tools(&self) -> impl Iterator<Item = &ToolSpec> + Clone {
        self.tools
            .iter()
            .chain(self.input.0.iter().flat_map(|item| match item {
                InputItem::AdditionalTools { tools } => tools.as_slice(),
                _ => &[],
            }))
    }

    /// The `prompt_cache_key` Codex sends (its thread id), if any.
    pub fn prompt_cache_key(&self) -> Option<&str> {
        self.extra.get("prompt_cache_key").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_raw_moves_known_fields_and_keeps_the_rest() {
        let raw = json!({"model": "m", "stream": true, "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "temperature": null, "prompt_cache_key": "thread-1", "store": false, "include": ["reasoning.encrypted_content"]});
        let req = ResponsesRequest::from_raw(raw).unwrap();
        assert_eq!((req.model.as_str(), req.stream), ("m", true));
        assert_eq!(req.input.0.len(), 1);
        assert!(
            matches!(&req.tools[0], ToolSpec::Function { parameters: Some(p), .. } if p["type"] == "object")
        );
        assert_eq!(req.temperature, None);
        assert_eq!(req.prompt_cache_key(), Some("thread-1"));
        let kept: Vec<&str> = req.extra.keys().map(String::as_str).collect();
        assert_eq!(kept, ["prompt_cache_key", "store", "include"]);
    }

    /// Odd shapes read the same leniently-typed way however the request arrives.
    #[test]
    fn odd_items_and_parts_are_read_leniently() {
        let body = json!({"model": "m", "input": [
            "not an item",
            {"role": "user", "content": "plain"},
            {"type": 5, "role": "assistant", "content": [{"type": "output_text", "text": 7}, "loose", {"text": "untyped"}]},
            {"type": "message", "content": [{"type": "input_image", "image_url": {"url": "data:x", "detail": "low"}, "detail": "high"},
                                            {"type": "input_image", "file_id": "f1"}, {"type": "input_audio"}]},
            {"type": "function_call", "call_id": 9, "name": "f", "arguments": {"a": [1, 2]}},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": null, "namespace": "ns"},
            {"type": "function_call_output", "call_id": "c", "output": {"ok": true}},
            {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_text", "text": "t"}, {"type": "input_image", "image_url": "u"}]},
            {"type": "function_call_output", "call_id": "c", "output": 3.5},
            {"type": "custom_tool_call_output", "call_id": "c"},
            {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": ["x"]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "s"}, {"text": 1}, 2], "content": [{"type": "reasoning_text", "text": "r"}], "encrypted_content": "e"},
            {"type": "reasoning", "summary": "nope"},
            {"type": "compaction", "encrypted_content": "x"},
            {"type": null, "content": "no role"}
        ]});
        let text = serde_json::to_string(&body).unwrap();
        let from_bytes: ResponsesRequest = serde_json::from_str(&text).unwrap();
        let from_tree = ResponsesRequest::from_raw(body).unwrap();
        let expected = vec![
            InputItem::Other {
                kind: "(untyped)".into(),
            },
            InputItem::Message {
                role: "user".into(),
                content: vec![ContentPart::Text("plain".into())],
            },
            InputItem::Message {
                role: "assistant".into(),
                content: vec![
                    ContentPart::Text(String::new()),
                    ContentPart::Other("(untyped part)".into()),
                    ContentPart::Other("(untyped part)".into()),
                ],
            },
            InputItem::Message {
                role: "user".into(),
                content: vec![
                    ContentPart::Image {
                        url: "data:x".into(),
                        detail: Some("high".into()),
                    },
                    ContentPart::Other("input_image (file_id)".into()),
                    ContentPart::Other("input_audio".into()),
                ],
            },
            InputItem::FunctionCall {
                call_id: String::new(),
                name: "f".into(),
                namespace: None,
                arguments: r#"{"a":[1,2]}"#.into(),
            },
            InputItem::FunctionCall {
                call_id: "c".into(),
                name: "f".into(),
                namespace: Some("ns".into()),
                arguments: String::new(),
            },
            InputItem::FunctionCallOutput {
                call_id: "c".into(),
                output: ToolOutput::Text(r#"{"ok":true}"#.into()),
            },
            InputItem::FunctionCallOutput {
                call_id: "c".into(),
                output: ToolOutput::Parts(vec![
                    ContentPart::Text("t".into()),
                    ContentPart::Image {
                        url: "u".into(),
                        detail: None,
                    },
                ]),
            },
            InputItem::FunctionCallOutput {
                call_id: "c".into(),
                output: ToolOutput::Text("3.5".into()),
            },
            InputItem::CustomToolCallOutput {
                call_id: "c".into(),
                output: ToolOutput::Text(String::new()),
            },
            InputItem::CustomToolCall {
                call_id: "c".into(),
                name: "apply_patch".into(),
                namespace: None,
                input: String::new(),
            },
            InputItem::Reasoning {
                summary: vec!["s".into()],
                content: vec!["r".into()],
                encrypted_content: Some("e".into()),
            },
            InputItem::Reasoning {
                summary: vec![],
                content: vec![],
                encrypted_content: None,
            },
            InputItem::Other {
                kind: "compaction".into(),
            },
            InputItem::Other {
                kind: "(untyped)".into(),
            },
        ];
        assert_eq!(from_bytes.input.0, expected);
        assert_eq!(from_tree.input.0, expected);
    }

    #[test]
    fn from_raw_names_the_field_that_is_wrong() {
        for (raw, says) in [
            (json!({"input": "hi"}), "missing field `model`"),
            (json!({"model": ["m"]}), "field `model`"),
            (
                json!({"model": "m", "max_output_tokens": -1}),
                "field `max_output_tokens`",
            ),
            (
                json!({"model": "m", "text": {"verbosity": 1}}),
                "field `text`",
            ),
            (json!("m"), "expected a JSON object"),
        ] {
            let e = ResponsesRequest::from_raw(raw.clone())
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{raw}: {e}");
        }
        // Lenient where Codex's own parser is: `tools` and `input` of another shape are empty.
        let req =
            ResponsesRequest::from_raw(json!({"model": "m", "tools": {}, "input": 3})).unwrap();
        assert!(req.tools.is_empty() && req.input.0.is_empty());
        // And through `Deserialize`, the same reading.
        let via_serde: ResponsesRequest =
            serde_json::from_str(r#"{"model":"m","stream":null}"#).unwrap();
        assert!(!via_serde.stream);
    }
}
