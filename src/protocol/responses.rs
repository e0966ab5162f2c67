//! The Responses API request, as Codex 0.169 sends it (contract §3).

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A `POST /v1/responses` body. Fields the shim does not use are kept in `extra`.
///
/// Read from a parsed JSON tree by [`ResponsesRequest::from_raw`], which moves each field out
/// instead of copying it (this is on every request's path); `Deserialize` goes through it too.
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

/// `input`: a bare string (one user message) or a list of items.
#[derive(Debug, Clone, Default)]
pub struct Input(pub Vec<InputItem>);

impl Input {
    /// Reads `input`; never fails (anything but a string or a list is no input).
    pub fn from_value(v: Value) -> Self {
        match v {
            Value::String(text) => Input(vec![InputItem::Message {
                role: "user".into(),
                content: vec![ContentPart::Text(text)],
            }]),
            Value::Array(items) => Input(items.into_iter().map(InputItem::from_value).collect()),
            _ => Input::default(),
        }
    }
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Input::from_value(Value::deserialize(d)?))
    }
}

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

impl InputItem {
    /// Reads one item; never fails (an unreadable item becomes `Other`).
    pub fn from_value(v: Value) -> Self {
        let kind = match v.get("type").and_then(Value::as_str) {
            Some(t) => t.to_string(),
            // `{"role": "user", "content": …}` without a type is an "easy" message.
            None if v.get("role").is_some() => "message".to_string(),
            None => {
                return InputItem::Other {
                    kind: "(untyped)".into(),
                }
            }
        };
        let call_id = || text_or_empty(&v, "call_id");
        match kind.as_str() {
            "message" => InputItem::Message {
                role: str_field(&v, "role").unwrap_or_else(|| "user".into()),
                content: parts_of(v.get("content")),
            },
            "function_call" => InputItem::FunctionCall {
                call_id: call_id(),
                name: text_or_empty(&v, "name"),
                namespace: str_field(&v, "namespace"),
                arguments: match v.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                },
            },
            "custom_tool_call" => InputItem::CustomToolCall {
                call_id: call_id(),
                name: text_or_empty(&v, "name"),
                namespace: str_field(&v, "namespace"),
                input: text_or_empty(&v, "input"),
            },
            "function_call_output" => InputItem::FunctionCallOutput {
                call_id: call_id(),
                output: output_of(v.get("output")),
            },
            "custom_tool_call_output" => InputItem::CustomToolCallOutput {
                call_id: call_id(),
                output: output_of(v.get("output")),
            },
            "reasoning" => InputItem::Reasoning {
                summary: texts_of(v.get("summary")),
                content: texts_of(v.get("content")),
                encrypted_content: str_field(&v, "encrypted_content"),
            },
            _ => InputItem::Other { kind },
        }
    }
}

fn texts_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| str_field(p, "text")).collect(),
        _ => Vec::new(),
    }
}

fn parts_of(v: Option<&Value>) -> Vec<ContentPart> {
    match v {
        Some(Value::String(s)) => vec![ContentPart::Text(s.clone())],
        Some(Value::Array(parts)) => parts.iter().map(part_of).collect(),
        _ => Vec::new(),
    }
}

fn part_of(p: &Value) -> ContentPart {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "input_text" | "output_text" | "text" | "summary_text" | "reasoning_text" => {
            ContentPart::Text(text_or_empty(p, "text"))
        }
        "input_image" => {
            // `image_url` is a string in Responses, an object `{url}` in chat shapes; accept both.
            let url = match p.get("image_url") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(obj) => str_field(obj, "url"),
                None => None,
            };
            match url {
                Some(url) => ContentPart::Image {
                    url,
                    detail: str_field(p, "detail"),
                },
                None => ContentPart::Other("input_image (file_id)".into()),
            }
        }
        "" => ContentPart::Other("(untyped part)".into()),
        other => ContentPart::Other(other.to_string()),
    }
}

fn output_of(v: Option<&Value>) -> ToolOutput {
    match v {
        Some(Value::String(s)) => ToolOutput::Text(s.clone()),
        Some(Value::Array(_)) => ToolOutput::Parts(parts_of(v)),
        Some(Value::Null) | None => ToolOutput::Text(String::new()),
        Some(other) => ToolOutput::Text(other.to_string()),
    }
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
fn tools_of(v: Value) -> Vec<ToolSpec> {
    match v {
        Value::Array(tools) => tools.into_iter().map(ToolSpec::from_owned).collect(),
        _ => Vec::new(),
    }
}

/// Takes `key` out of `map` as a `T`; absent is `T::default()`, a wrong type an error naming the
/// field.
fn take<T: DeserializeOwned + Default>(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<T, serde_json::Error> {
    match map.shift_remove(key) {
        None => Ok(T::default()),
        Some(v) => serde_json::from_value(v)
            .map_err(|e| serde::de::Error::custom(format_args!("field `{key}`: {e}"))),
    }
}

impl ResponsesRequest {
    /// Reads a request out of its parsed JSON, moving (not copying) the conversation and tools.
    /// Fails only on a missing `model` or a known field of the wrong type, naming the field.
    pub fn from_raw(raw: Value) -> Result<Self, serde_json::Error> {
        let Value::Object(mut map) = raw else {
            return Err(serde::de::Error::custom(
                "expected a JSON object with `model` and `input`",
            ));
        };
        let model = match map.shift_remove("model") {
            Some(Value::String(m)) => m,
            Some(other) => {
                return Err(serde::de::Error::custom(format_args!(
                    "field `model`: expected a string, got {other}"
                )))
            }
            None => return Err(serde::de::Error::missing_field("model")),
        };
        Ok(ResponsesRequest {
            model,
            stream: take::<Option<bool>>(&mut map, "stream")?.unwrap_or(false),
            input: map
                .shift_remove("input")
                .map(Input::from_value)
                .unwrap_or_default(),
            instructions: take(&mut map, "instructions")?,
            tools: map.shift_remove("tools").map(tools_of).unwrap_or_default(),
            tool_choice: take(&mut map, "tool_choice")?,
            parallel_tool_calls: take(&mut map, "parallel_tool_calls")?,
            reasoning: take(&mut map, "reasoning")?,
            max_output_tokens: take(&mut map, "max_output_tokens")?,
            text: take(&mut map, "text")?,
            temperature: take(&mut map, "temperature")?,
            top_p: take(&mut map, "top_p")?,
            extra: map,
        })
    }
}

impl<'de> Deserialize<'de> for ResponsesRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ResponsesRequest::from_raw(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl ResponsesRequest {
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
