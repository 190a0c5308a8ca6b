//! `hearth-tools`: tool calling for local models, independent of any wire format.
//!
//! - [`ToolSet`]: the tools a request offers ([`ToolDef`]: name, description, JSON Schema
//!   parameters), its [`ToolChoice`] (`auto`, `none`, `required`, one named function) and
//!   whether several calls may come in one turn. Building one checks every tool: a name
//!   OpenAI and Anthropic would accept, an object schema for the parameters, and no JSON
//!   Schema keyword the grammar engine cannot enforce ([`ToolsError::Schema`] names the tool
//!   and the keyword).
//! - [`CallSyntax`]: how a model family writes a call — Qwen2.5/Hermes's
//!   `<tool_call>\n{"name": .., "arguments": {..}}\n</tool_call>`, Llama 3.x's bare
//!   `{"name": .., "parameters": {..}}`, or, for a template that knows no tools, the
//!   `{"tool_calls": [{"name": .., "arguments": {..}}]}` object that hearth's tool fallback
//!   (minja's polyfill, `hearth-chat`) teaches the model. [`CallSyntax::detect`] reads it
//!   off the chat template's source.
//! - [`grammar`]: the Lark grammar (for `hearth-grammar`) that constrains the output to the
//!   syntax, a real tool's name and arguments valid against that tool's schema; with `auto`
//!   it also allows plain text that does not start a call.
//! - [`parse`]: the finished output split into text and calls ([`Parsed`]); each call's
//!   arguments are checked against its schema again, so a call hearth returns always parses
//!   and validates. A failure ([`ParseError`]: an output cut short by `max_tokens`, say) is
//!   the router's escalation signal.
//!
//! - [`CallDetector`]: for streaming, tells text (sent as it comes) from a call (held until
//!   complete) by the output's start.
//!
//! The grammar and the parser are two views of one syntax: every text the grammar admits
//! and that ends where the grammar may end parses (the tests check both on the real
//! tokenizer).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod grammar;
mod parse;
mod spec;
mod stream;
mod syntax;

pub use error::{ParseError, ToolsError};
pub use grammar::grammar;
pub use parse::{Parsed, ParsedCall, parse, parse_cut};
pub use spec::{ToolChoice, ToolDef, ToolSet};
pub use stream::{CallDetector, Opening};
pub use syntax::CallSyntax;
