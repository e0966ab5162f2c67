//! Tool names across the translation boundary.
//!
//! Chat upstreams know only flat JSON functions. Codex declares three kinds: functions, freeform
//! `custom` tools (`apply_patch`), and `namespace` groups (`multi_agent_v1`). Namespaced members are
//! offered as `namespace__name`; the map restores `namespace` + `name` on the way back, and tells the
//! encoder which calls must return to Codex as `custom_tool_call` with raw `input`.

use std::collections::HashMap;

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

/// The flat name for `name` inside `namespace`.
pub fn flat_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
        _ => name.to_string(),
    }
}

impl ToolMap {
    /// Builds the map from declared tools (other tool types are not callable upstream).
    pub fn from_specs(specs: &[ToolSpec]) -> Self {
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
            namespace: namespace.map(str::to_string),
        };
        self.by_flat.insert(flat_name(namespace, name), target);
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
