//! hearth-chat integration tests, one binary:
//! - `golden`: the fixture GGUFs' templates against llama.cpp's renders (tests/golden);
//! - `fallback`: template-less GGUFs, against llama.cpp's built-in formats;
//! - `collection`: llama.cpp's collection of real templates, against Jinja2 as HF runs it;
//! - `python_compat`: the Python-isms and HF globals templates use;
//! - `tool_golden`: tool conversations against llama.cpp's renders (tests/golden/chat_tools.json);
//! - `tools`: tool conversations: fixture caps, the tool fallback;
//! - `errors`: broken templates give `ChatError` values that say what broke.

mod collection;
mod errors;
mod fallback;
mod golden;
mod python_compat;
mod tool_golden;
mod tools;

use hearth_chat::Message;

/// `golden::Message`s as `hearth_chat::Message`s.
fn messages(golden: &[hearth_testkit::Message]) -> Vec<Message> {
    golden.iter().map(|m| Message::new(&m.role, &m.content)).collect()
}
