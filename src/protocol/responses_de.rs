//! Reading a Responses request straight from its bytes.
//!
//! Every request passes through here, and a long Codex session sends megabytes of history each
//! turn. A JSON tree (`serde_json::Value`) of that history costs a hash map per item and per
//! content part and about five times the body's size in memory, only to be thrown away once the
//! typed request is built. These visitors build the typed request directly: each item's fields are
//! read into small locals, unknown fields are skipped without being stored, and only what the
//! shim passes on (tool schemas, unknown top-level fields) becomes a tree.
//!
//! The reading is as lenient as Codex's: an item or part of a shape the shim does not know becomes
//! `Other`; only `model` and the typed top-level fields can make a request invalid, and their
//! errors name the field.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::responses::{
    tools_of, ContentPart, Input, InputItem, RequestHead, ResponsesRequest, ToolOutput,
};

impl<'de> Deserialize<'de> for ResponsesRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RequestVisitor)
    }
}

struct RequestVisitor;

/// A typed top-level field, read as a tree first so that its error names the field once (and, from
/// bytes, gets the position once).
fn typed<'de, A: MapAccess<'de>, T: DeserializeOwned>(
    map: &mut A,
    key: &str,
) -> Result<T, A::Error> {
    let v: Value = map.next_value()?;
    serde_json::from_value(v).map_err(|e| de::Error::custom(format_args!("field `{key}`: {e}")))
}

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = ResponsesRequest;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object with `model` and `input`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResponsesRequest, A::Error> {
        let mut model: Option<Value> = None;
        let mut req = ResponsesRequest {
            model: String::new(),
            stream: false,
            input: Input::default(),
            instructions: None,
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
            reasoning: None,
            max_output_tokens: None,
            text: None,
            temperature: None,
            top_p: None,
            extra: Map::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "model" => model = Some(map.next_value()?),
                "stream" => req.stream = typed::<_, Option<bool>>(&mut map, &key)?.unwrap_or(false),
                "input" => req.input = map.next_value()?,
                "instructions" => req.instructions = typed(&mut map, &key)?,
                "tools" => req.tools = tools_of(map.next_value()?),
                "tool_choice" => req.tool_choice = typed(&mut map, &key)?,
                "parallel_tool_calls" => req.parallel_tool_calls = typed(&mut map, &key)?,
                "reasoning" => req.reasoning = typed(&mut map, &key)?,
                "max_output_tokens" => req.max_output_tokens = typed(&mut map, &key)?,
                "text" => req.text = typed(&mut map, &key)?,
                "temperature" => req.temperature = typed(&mut map, &key)?,
                "top_p" => req.top_p = typed(&mut map, &key)?,
                _ => {
                    let v = map.next_value()?;
                    req.extra.insert(key, v);
                }
            }
        }
        req.model = model_of(model)?;
        Ok(req)
    }
}

impl<'de> Deserialize<'de> for RequestHead {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeadVisitor)
    }
}

/// `model` and `stream`, checked as [`RequestVisitor`] checks them; everything else skipped.
struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = RequestHead;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        RequestVisitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestHead, A::Error> {
        let (mut model, mut stream, mut store, mut previous) = (None, false, None, None);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "model" => model = Some(map.next_value::<Value>()?),
                "stream" => stream = typed::<_, Option<bool>>(&mut map, "stream")?.unwrap_or(false),
                "store" => store = typed::<_, Option<bool>>(&mut map, "store")?,
                "previous_response_id" => {
                    previous = typed::<_, Option<String>>(&mut map, "previous_response_id")?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RequestHead {
            model: model_of(model)?,
            stream,
            store,
            previous_response_id: previous.filter(|p| !p.is_empty()),
        })
    }
}

/// `model` must be there, and a string.
fn model_of<E: de::Error>(model: Option<Value>) -> Result<String, E> {
    match model {
        Some(Value::String(m)) => Ok(m),
        Some(other) => Err(E::custom(format_args!(
            "field `model`: expected a string, got {other}"
        ))),
        None => Err(E::missing_field("model")),
    }
}

/// An object key, borrowed from the body when it has no escapes (no allocation per field).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

/// Consumes any JSON value of a shape nobody wants, keeping nothing.
macro_rules! ignore_the_rest {
    ($out:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

/// Drains a list nobody wants.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Drains an object nobody wants.
fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

// ---- input ----

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = Input;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a list of items")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Input, E> {
        self.visit_string(text.to_string())
    }

    fn visit_string<E>(self, text: String) -> Result<Input, E> {
        Ok(Input(vec![InputItem::Message {
            role: "user".into(),
            content: vec![ContentPart::Text(text)],
        }]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(ItemDe(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Input(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Input, A::Error> {
        skip_map(map).map(|_| Input::default())
    }

    ignore_the_rest!(Input::default());
}

/// One item of `input`; never an error (an unreadable item is `Other`).
struct ItemDe(InputItem);

impl<'de> Deserialize<'de> for ItemDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor).map(ItemDe)
    }
}

fn untyped() -> InputItem {
    InputItem::Other {
        kind: "(untyped)".into(),
    }
}

/// A JSON value where a string is expected: the string, or nothing.
fn string_of(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// A JSON value where text is expected: a string as is, `null` as empty, anything else as JSON.
fn text_of(v: Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = InputItem;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an input item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InputItem, A::Error> {
        let (mut kind, mut role, mut call_id, mut name, mut namespace) =
            (None, None, None, None, None);
        let (mut arguments, mut input, mut encrypted) = (None, None, None);
        let (mut content, mut summary, mut output, mut tools) = (None, None, None, None);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "type" => kind = Some(map.next_value::<Value>()?),
                "role" => role = Some(map.next_value::<Value>()?),
                "call_id" => call_id = Some(map.next_value::<Value>()?),
                "name" => name = Some(map.next_value::<Value>()?),
                "namespace" => namespace = Some(map.next_value::<Value>()?),
                "arguments" => arguments = Some(map.next_value::<Value>()?),
                "input" => input = Some(map.next_value::<Value>()?),
                "encrypted_content" => encrypted = Some(map.next_value::<Value>()?),
                "content" => content = Some(map.next_value::<Content>()?),
                "summary" => summary = Some(map.next_value::<Content>()?),
                "output" => output = Some(map.next_value::<Output>()?),
                "tools" => tools = Some(map.next_value::<Value>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = match string_of(kind) {
            Some(t) => t,
            // `{"role": "user", "content": …}` without a type is an "easy" message.
            None if role.is_some() => "message".to_string(),
            None => return Ok(untyped()),
        };
        let call_id = string_of(call_id).unwrap_or_default();
        Ok(match kind.as_str() {
            "message" => InputItem::Message {
                role: string_of(role).unwrap_or_else(|| "user".into()),
                content: content.map(Content::into_parts).unwrap_or_default(),
            },
            "function_call" => InputItem::FunctionCall {
                call_id,
                name: string_of(name).unwrap_or_default(),
                namespace: string_of(namespace),
                arguments: text_of(arguments),
            },
            "custom_tool_call" => InputItem::CustomToolCall {
                call_id,
                name: string_of(name).unwrap_or_default(),
                namespace: string_of(namespace),
                input: string_of(input).unwrap_or_default(),
            },
            "function_call_output" => InputItem::FunctionCallOutput {
                call_id,
                output: output.map(Output::into_tool_output).unwrap_or_default(),
            },
            "custom_tool_call_output" => InputItem::CustomToolCallOutput {
                call_id,
                output: output.map(Output::into_tool_output).unwrap_or_default(),
            },
            "reasoning" => InputItem::Reasoning {
                summary: summary.map(Content::into_texts).unwrap_or_default(),
                content: content.map(Content::into_texts).unwrap_or_default(),
                encrypted_content: string_of(encrypted),
            },
            "additional_tools" => InputItem::AdditionalTools {
                tools: tools.map(tools_of).unwrap_or_default(),
            },
            _ => InputItem::Other { kind },
        })
    }

    fn visit_str<E>(self, _: &str) -> Result<InputItem, E> {
        Ok(untyped())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<InputItem, A::Error> {
        skip_seq(seq).map(|_| untyped())
    }

    ignore_the_rest!(untyped());
}

// ---- content and parts ----

/// A message's `content` (or a reasoning item's `summary`/`content`), before the item's type
/// says how to read it.
enum Content {
    Text(String),
    Parts(Vec<Part>),
    Nothing,
}

impl Content {
    /// As a message's content: a string is one text part.
    fn into_parts(self) -> Vec<ContentPart> {
        match self {
            Content::Text(s) => vec![ContentPart::Text(s)],
            Content::Parts(parts) => parts.into_iter().map(Part::into_content_part).collect(),
            Content::Nothing => Vec::new(),
        }
    }

    /// As reasoning text: the `text` of each part that has one.
    fn into_texts(self) -> Vec<String> {
        match self {
            Content::Parts(parts) => parts.into_iter().filter_map(|p| p.text).collect(),
            _ => Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ContentVisitor)
    }
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a list of parts")
    }

    fn visit_str<E>(self, s: &str) -> Result<Content, E> {
        Ok(Content::Text(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Content, E> {
        Ok(Content::Text(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
        let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(p) = seq.next_element::<Part>()? {
            parts.push(p);
        }
        Ok(Content::Parts(parts))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Content, A::Error> {
        skip_map(map).map(|_| Content::Nothing)
    }

    ignore_the_rest!(Content::Nothing);
}

/// One content part, its fields as sent (a part that is not an object has none).
#[derive(Default)]
struct Part {
    kind: Option<String>,
    text: Option<String>,
    image_url: Option<Value>,
    detail: Option<String>,
}

impl Part {
    fn into_content_part(self) -> ContentPart {
        match self.kind.as_deref().unwrap_or("") {
            "input_text" | "output_text" | "text" | "summary_text" | "reasoning_text" => {
                ContentPart::Text(self.text.unwrap_or_default())
            }
            "input_image" => {
                // `image_url` is a string in Responses, an object `{url}` in chat shapes.
                let url = match self.image_url {
                    Some(Value::String(s)) => Some(s),
                    Some(Value::Object(mut o)) => string_of(o.shift_remove("url")),
                    _ => None,
                };
                match url {
                    Some(url) => ContentPart::Image {
                        url,
                        detail: self.detail,
                    },
                    None => ContentPart::Other("input_image (file_id)".into()),
                }
            }
            "" => ContentPart::Other("(untyped part)".into()),
            other => ContentPart::Other(other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PartVisitor)
    }
}

struct PartVisitor;

impl<'de> Visitor<'de> for PartVisitor {
    type Value = Part;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content part")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Part, A::Error> {
        let mut part = Part::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "type" => part.kind = string_of(Some(map.next_value()?)),
                "text" => part.text = string_of(Some(map.next_value()?)),
                "image_url" => part.image_url = Some(map.next_value()?),
                "detail" => part.detail = string_of(Some(map.next_value()?)),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(part)
    }

    fn visit_str<E>(self, _: &str) -> Result<Part, E> {
        Ok(Part::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Part, A::Error> {
        skip_seq(seq).map(|_| Part::default())
    }

    ignore_the_rest!(Part::default());
}

// ---- tool output ----

/// A call output's `output`: text, parts, or any other JSON (passed on as its text).
enum Output {
    Text(String),
    Parts(Vec<Part>),
}

impl Output {
    fn into_tool_output(self) -> ToolOutput {
        match self {
            Output::Text(s) => ToolOutput::Text(s),
            Output::Parts(parts) => {
                ToolOutput::Parts(parts.into_iter().map(Part::into_content_part).collect())
            }
        }
    }
}

impl<'de> Deserialize<'de> for Output {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Anything but a string or a list is rare and small: read it as a tree, pass on its text.
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Output::Text(s)),
            Value::Array(items) => Ok(Output::Parts(
                items
                    .into_iter()
                    .map(|p| Part::deserialize(p).unwrap_or_default())
                    .collect(),
            )),
            other => Ok(Output::Text(text_of(Some(other)))),
        }
    }
}
