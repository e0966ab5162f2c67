//! Tools across the translation boundary: names, kinds and the chat-side definitions.
//!
//! Chat upstreams know only flat JSON functions. Codex declares three kinds: functions, freeform
//! `custom` tools (`apply_patch`), and `namespace` groups (`multi_agent_v1`). Namespaced members are
//! offered as `namespace__name`; the map restores `namespace` + `name` on the way back, and tells the
//! encoder which calls must return to Codex as `custom_tool_call` with raw `input`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::protocol::chat::{ChatTool, FunctionDef};
use crate::protocol::responses::ToolSpec;

/// What kind of call a flattened name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Function,
    /// Freeform: the upstream sees `{"input": string}`, Codex gets the raw string.
    Custom,
}

/// The Codex-side identity of a flattened tool name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolTarget {
    pub kind: ToolKind,
    pub name: String,
    pub namespace: Option<String>,
}

/// Flattened name → Codex tool, built from the request's tools.
#[derive(Debug, Clone, Default)]
pub struct ToolMap {
    by_flat: HashMap<String, ToolTarget>,
}

/// The separator between a namespace and a member name in flattened names.
pub const NAMESPACE_SEPARATOR: &str = "__";

/// The namespace plain tools live in: "Responses lite" requests group Codex's own tools as
/// `functions`, and Codex runs a call to `exec_command` with or without that namespace.
pub const DEFAULT_NAMESPACE: &str = "functions";

/// `namespace` as it matters for names: none for the empty and the default namespace.
fn real_namespace(namespace: Option<&str>) -> Option<&str> {
    namespace.filter(|ns| !ns.is_empty() && *ns != DEFAULT_NAMESPACE)
}

/// The flat name for `name` inside `namespace`.
pub fn flat_name(namespace: Option<&str>, name: &str) -> String {
    match real_namespace(namespace) {
        Some(ns) => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
        None => name.to_string(),
    }
}

impl ToolMap {
    /// Builds the map from declared tools (other tool types are not callable upstream).
    pub fn from_specs<'a>(specs: impl IntoIterator<Item = &'a ToolSpec>) -> Self {
        let mut map = ToolMap::default();
        for spec in specs {
            map.add(spec, None);
        }
        map
    }

    fn add(&mut self, spec: &ToolSpec, namespace: Option<&str>) {
        let (kind, name) = match spec {
            ToolSpec::Function { name, .. } => (ToolKind::Function, name),
            ToolSpec::Custom { name, .. } => (ToolKind::Custom, name),
            ToolSpec::Namespace { name, tools, .. } => {
                for member in tools {
                    self.add(member, Some(name));
                }
                return;
            }
            ToolSpec::Other { .. } => return,
        };
        let target = ToolTarget {
            kind,
            name: name.clone(),
            namespace: real_namespace(namespace).map(str::to_string),
        };
        // The first declaration of a name wins, as in the offered tools.
        self.by_flat
            .entry(flat_name(namespace, name))
            .or_insert(target);
    }

    /// The Codex tool for a flat name. Unknown names come back as plain functions (Codex answers
    /// them with `unsupported call`, and the turn goes on).
    pub fn target(&self, flat: &str) -> ToolTarget {
        self.by_flat
            .get(flat)
            .cloned()
            .unwrap_or_else(|| ToolTarget {
                kind: ToolKind::Function,
                name: flat.to_string(),
                namespace: None,
            })
    }

    /// True if the flat name was declared.
    pub fn contains(&self, flat: &str) -> bool {
        self.by_flat.contains_key(flat)
    }

    /// Every declared flat name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_flat.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_flat.is_empty()
    }
}

/// The declared tools as chat functions, plus the map back; what cannot be offered is noted in
/// `dropped`. `specs` is every tool of the request ([`ResponsesRequest::all_tools`]).
///
/// [`ResponsesRequest::all_tools`]: crate::protocol::responses::ResponsesRequest::all_tools
pub(crate) fn chat_tools<'a>(
    specs: impl IntoIterator<Item = &'a ToolSpec> + Clone,
    dropped: &mut Vec<String>,
) -> (Vec<ChatTool>, ToolMap) {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for spec in specs.clone() {
        add_tool(spec, None, None, &mut out, &mut seen, dropped);
    }
    let map = ToolMap::from_specs(specs);
    (out, map)
}

fn add_tool(
    spec: &ToolSpec,
    ns: Option<&str>,
    ns_desc: Option<&str>,
    out: &mut Vec<ChatTool>,
    seen: &mut HashSet<String>,
    dropped: &mut Vec<String>,
) {
    let (name, description, parameters) = match spec {
        ToolSpec::Function {
            name,
            description,
            parameters,
        } => (name, description.clone(), object_root(parameters.as_ref())),
        ToolSpec::Custom {
            name,
            description,
            format,
        } => (
            name,
            Some(custom_description(description.as_deref(), format.as_ref())),
            freeform_schema(),
        ),
        ToolSpec::Namespace {
            name,
            description,
            tools,
        } => {
            for member in tools {
                add_tool(
                    member,
                    Some(name),
                    description.as_deref(),
                    out,
                    seen,
                    dropped,
                );
            }
            return;
        }
        ToolSpec::Other { kind } => {
            dropped.push(format!("tool `{kind}` (not available on chat upstreams)"));
            return;
        }
    };
    let flat = flat_name(ns, name);
    if !seen.insert(flat.clone()) {
        dropped.push(format!("duplicate tool `{flat}`"));
        return;
    }
    let description = match (
        ns_desc.filter(|_| real_namespace(ns).is_some()),
        description,
    ) {
        (Some(nd), Some(d)) if !nd.is_empty() => Some(format!(
            "{d}\n\n(Part of `{}`: {nd})",
            ns.unwrap_or_default()
        )),
        (_, d) => d,
    };
    out.push(ChatTool {
        kind: "function",
        function: FunctionDef {
            name: flat,
            description,
            parameters,
        },
    });
}

/// Strict providers (Grok, llama.cpp) require an object at the root of every schema.
/// The schema as the upstream needs it: an object root. Codex's schemas already are, and are
/// shared as they are; anything else becomes an object schema (a new value).
fn object_root(schema: Option<&Arc<Value>>) -> Arc<Value> {
    let Some(Value::Object(map)) = schema.map(|s| s.as_ref()) else {
        return Arc::new(json!({"type": "object", "properties": {}}));
    };
    match map.get("type").and_then(Value::as_str) {
        Some("object") => Arc::clone(schema.expect("matched above")),
        None if !map.contains_key("anyOf") && !map.contains_key("oneOf") => {
            let mut map = map.clone();
            map.insert("type".into(), json!("object"));
            map.entry("properties").or_insert_with(|| json!({}));
            Arc::new(Value::Object(map))
        }
        _ => Arc::new(
            json!({"type": "object", "properties": {"value": Value::Object(map.clone())}, "required": ["value"]}),
        ),
    }
}

fn freeform_schema() -> Arc<Value> {
    Arc::new(
        json!({"type": "object", "properties": {"input": {"type": "string",
        "description": "The complete raw input for this tool, exactly as the tool expects it (not JSON-encoded further)."}},
        "required": ["input"], "additionalProperties": false}),
    )
}

fn custom_description(description: Option<&str>, format: Option<&Value>) -> String {
    let mut text = description.unwrap_or("A freeform tool.").to_string();
    text.push_str("\n\nPut the whole raw input in the `input` string.");
    if let Some(f) = format.filter(|f| f.get("type").and_then(Value::as_str) == Some("grammar")) {
        let syntax = f.get("syntax").and_then(Value::as_str).unwrap_or("lark");
        if let Some(def) = f.get("definition").and_then(Value::as_str) {
            text.push_str(&format!(" It must match this {syntax} grammar:\n{def}"));
        }
    }
    text
}

/// Codex's `tool_choice` in chat form; a choice naming an undeclared tool relaxes to `auto`.
pub(crate) fn chat_tool_choice(choice: Option<&Value>, tools: &ToolMap) -> Option<Value> {
    let choice = choice?;
    let mode = |m: &str| match m {
        "none" | "required" => json!(m),
        _ => json!("auto"),
    };
    Some(match choice {
        Value::String(s) => mode(s),
        Value::Object(o) => match o.get("type").and_then(Value::as_str).unwrap_or("auto") {
            "function" | "custom" => {
                let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                let flat = flat_name(o.get("namespace").and_then(Value::as_str), name);
                if tools.contains(&flat) {
                    json!({"type": "function", "function": {"name": flat}})
                } else {
                    json!("auto")
                }
            }
            "allowed_tools" => mode(o.get("mode").and_then(Value::as_str).unwrap_or("auto")),
            other => mode(other),
        },
        _ => json!("auto"),
    })
}
