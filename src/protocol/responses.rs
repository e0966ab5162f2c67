//! The Responses API request, as Codex 0.169 sends it (contract §3).

use serde::Deserialize;
use serde_json::{Map, Value};

/// A `POST /v1/responses` body. Fields the shim does not use are kept in `extra`.
#[derive(Debug, Clone, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    /// Codex always streams; the OpenAI default is `false`.
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub input: Input,
    /// Older clients send the base prompt here instead of as the first developer message.
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default, deserialize_with = "tools_lenient")]
    pub tools: Vec<ToolSpec>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<Reasoning>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub text: Option<TextConfig>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input`: a bare string (one user message) or a list of items.
#[derive(Debug, Clone, Default)]
pub struct Input(pub Vec<InputItem>);

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(text) => Input(vec![InputItem::Message {
                role: "user".into(),
                content: vec![ContentPart::Text(text)],
            }]),
            Value::Array(items) => Input(items.into_iter().map(InputItem::from_value).collect()),
            _ => Input::default(),
        })
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

fn tools_lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ToolSpec>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(tools) => tools.into_iter().map(ToolSpec::from_owned).collect(),
        _ => Vec::new(),
    })
}

impl ResponsesRequest {
    /// The `prompt_cache_key` Codex sends (its thread id), if any.
    pub fn prompt_cache_key(&self) -> Option<&str> {
        self.extra.get("prompt_cache_key").and_then(Value::as_str)
    }
}
