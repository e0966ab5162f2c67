//! Typed wire shapes.
//!
//! [`responses`] reads what Codex (or any Responses client) sends, leniently: unknown fields are
//! ignored, unknown item and tool types become `Other` and are dropped later with a log line, and
//! nothing here panics on input. [`chat`] is what a chat-completions upstream speaks, [`anthropic`]
//! what an Anthropic Messages upstream speaks.

pub mod anthropic;
pub mod chat;
pub mod responses;
mod responses_de;
