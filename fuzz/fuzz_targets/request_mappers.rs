//! Any bytes as a Responses request: parsing never panics, and a parsed request maps to both
//! chat completions and Anthropic Messages without panicking; both outputs serialize.
#![no_main]

use codex_shim::protocol::responses::ResponsesRequest;
use codex_shim::settings::Settings;
use codex_shim::translate::{anthropic_request::to_anthropic, chat_request::to_chat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<ResponsesRequest>(data) else {
        return;
    };
    let models = Settings::parse_file(
        std::path::Path::new("/f/m.json"),
        r#"[{"model":"m","provider":"openai","noImageSupport":true,"supportsReasoningEffort":true},
            {"model":"claude-sonnet-4-5","provider":"anthropic","apiKey":"k"}]"#,
    )
    .expect("valid settings");
    let chat = to_chat(&req, &models[0]);
    serde_json::to_vec(&chat.request).expect("the chat request serializes");
    let messages = to_anthropic(&req, &models[1], "api.anthropic.com");
    serde_json::to_vec(&messages.request).expect("the Messages request serializes");
});
