//! [`ChatTemplate`]: a chat template compiled once, rendered per request.

use std::fmt;
use std::sync::OnceLock;

use hearth_gguf::Metadata;
use minijinja::value::Serde;
use minijinja::{Environment, Value};

use crate::caps::{self, ToolCaps};
use crate::environment::{self, RaisedException, TEMPLATE_NAME};
use crate::error::ChatError;
use crate::fallback::Fallback;
use crate::hf_tags;
use crate::message::{Message, RenderOptions};
use crate::tool_fallback::{self, Plan};
use crate::tools;

/// GGUF key of the default template.
pub const KEY_CHAT_TEMPLATE: &str = "tokenizer.chat_template";
/// GGUF key of the tool-use variant, which llama.cpp uses when the default is absent.
pub const KEY_CHAT_TEMPLATE_TOOL_USE: &str = "tokenizer.chat_template.tool_use";

/// A chat template, parsed and compiled once; `Send + Sync`, so one per model serves every
/// request thread.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    bos: String,
    eos: String,
    fallback: Option<Fallback>,
    caps: ToolCaps,
    /// minja's tool-call example for the tool fallback, rendered on first use.
    tool_call_example: OnceLock<Option<String>>,
    /// The GGUF's `tokenizer.chat_template.tool_use`, next to a default template: used when
    /// a render has tools.
    tool_use: Option<Box<ChatTemplate>>,
}

impl fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("source_bytes", &self.source.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("fallback", &self.fallback)
            .field("caps", &self.caps)
            .field("tool_use", &self.tool_use.is_some())
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// The template of a GGUF: `tokenizer.chat_template`, else
    /// `tokenizer.chat_template.tool_use`, else the built-in [`Fallback`] for
    /// `general.architecture` (Gemma's format for Gemma 1–3, ChatML otherwise). A template
    /// that is literally `chatml` selects the ChatML fallback (or the tool-use template when
    /// there is one), as in llama.cpp.
    ///
    /// When the GGUF has both a default and a tool-use template (Command-R, Hermes), renders
    /// with tools use the tool-use one, as llama.cpp does; one that does not compile is
    /// ignored, as llama.cpp ignores it.
    ///
    /// `bos_token`/`eos_token` are the vocabulary strings of `tokenizer.ggml.bos_token_id`
    /// and `tokenizer.ggml.eos_token_id` (empty when the id is absent or negative).
    pub fn from_gguf(meta: &Metadata) -> Result<ChatTemplate, ChatError> {
        let bos = token_text(meta, "tokenizer.ggml.bos_token_id")?;
        let eos = token_text(meta, "tokenizer.ggml.eos_token_id")?;
        let default = meta.opt_str(KEY_CHAT_TEMPLATE)?.filter(|s| !s.is_empty());
        let tool_use = meta.opt_str(KEY_CHAT_TEMPLATE_TOOL_USE)?.filter(|s| !s.is_empty());
        match (default, tool_use) {
            (Some(source), tool_use) if source != "chatml" => {
                let mut template = Self::from_source(source, &bos, &eos)?;
                template.tool_use =
                    tool_use.and_then(|t| Self::from_source(t, &bos, &eos).ok()).map(Box::new);
                Ok(template)
            }
            (_, Some(tool_use)) => Self::from_source(tool_use, &bos, &eos),
            (Some(_chatml), None) => Self::from_fallback(Fallback::ChatMl, &bos, &eos),
            (None, None) => {
                let arch = meta.opt_str("general.architecture")?.unwrap_or_default();
                Self::from_fallback(Fallback::for_architecture(arch), &bos, &eos)
            }
        }
    }

    /// Compiles a template from its Jinja source; `bos`/`eos` become the template variables
    /// `bos_token`/`eos_token`.
    pub fn from_source(source: &str, bos: &str, eos: &str) -> Result<ChatTemplate, ChatError> {
        Self::compile(source, bos, eos, None)
    }

    /// One of the built-in templates.
    pub fn from_fallback(fallback: Fallback, bos: &str, eos: &str) -> Result<ChatTemplate, ChatError> {
        Self::compile(fallback.source(), bos, eos, Some(fallback))
    }

    fn compile(
        source: &str,
        bos: &str,
        eos: &str,
        fallback: Option<Fallback>,
    ) -> Result<ChatTemplate, ChatError> {
        let env = environment::build(hf_tags::rewrite(source))
            .map_err(|e| ChatError::Syntax { detail: describe(&e) })?;
        let caps = caps::probe(&env);
        Ok(ChatTemplate {
            env,
            source: source.to_owned(),
            bos: bos.to_owned(),
            eos: eos.to_owned(),
            fallback,
            caps,
            tool_call_example: OnceLock::new(),
            tool_use: None,
        })
    }

    /// Renders `messages`, with the assistant header appended when `add_generation_prompt`.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String, ChatError> {
        self.render_with(messages, &RenderOptions::generation_prompt(add_generation_prompt))
    }

    /// Renders `messages` with tools and extra variables (see [`RenderOptions`] for the
    /// context the template sees).
    ///
    /// Tools and tool turns reach the template as llama.cpp's `common_chat_templates_apply`
    /// passes them, so the prompt is byte-exact with llama.cpp's: each tool rebuilt as
    /// `{type, function: {name, description, parameters}}`, each message as `{role,
    /// content, name?, tool_call_id?, tool_calls?}`, and a call's `arguments` as the JSON
    /// string, or parsed into an object for templates that read into it
    /// ([`ToolCaps::supports_object_arguments`]). With [`RenderOptions::tool_fallback`],
    /// what the template cannot render is rewritten as text first (see
    /// [`RenderOptions::tool_fallback`]).
    ///
    /// Errors: [`ChatError::InvalidTool`] for a tool that is not an OpenAI function tool,
    /// [`ChatError::ToolArguments`] for call arguments that are not JSON where an object is
    /// needed, and the template's own errors.
    pub fn render_with(&self, messages: &[Message], opts: &RenderOptions) -> Result<String, ChatError> {
        if let Some(tool_use) = &self.tool_use
            && opts.tools.as_ref().is_some_and(|t| !t.is_empty())
        {
            return tool_use.render_with(messages, opts);
        }
        let tools = tools::template_tools(opts.tools.as_deref())?;
        let plan = if opts.tool_fallback {
            Plan::new(&self.caps, messages, tools.is_some())
        } else {
            Plan::default()
        };
        let template_messages = if plan.is_empty() {
            tools::template_messages(messages, &self.caps)?
        } else {
            let example = if plan.tools { self.tool_call_example(opts) } else { None };
            let tool_list = tools.as_deref().unwrap_or_default();
            tool_fallback::rewrite(messages, &self.caps, plan, tool_list, example.as_deref())?
        };
        let mut ctx: Vec<(String, Value)> = vec![
            ("messages".to_owned(), Value::from(Serde(template_messages))),
            ("add_generation_prompt".to_owned(), Value::from(opts.add_generation_prompt)),
            ("bos_token".to_owned(), Value::from(self.bos.as_str())),
            ("eos_token".to_owned(), Value::from(self.eos.as_str())),
            ("tools".to_owned(), tools.map_or(Value::from(()), |t| Value::from(Serde(t)))),
            ("documents".to_owned(), Value::from(())),
            ("strftime_now".to_owned(), environment::strftime_now(opts.now)),
        ];
        for (k, v) in &opts.extra {
            ctx.retain(|(name, _)| name != k);
            ctx.push((k.clone(), Value::from(Serde(v))));
        }
        let ctx = Value::from_pairs(ctx);
        let template =
            self.env.get_template(TEMPLATE_NAME).map_err(|e| ChatError::Syntax { detail: describe(&e) })?;
        template.render(ctx).map_err(|e| render_error(&e))
    }

    /// What the template does with tools natively, probed once at compile time as
    /// llama.cpp probes it (`common/jinja/caps.cpp`).
    ///
    /// With a separate tool-use template, these are its caps (llama.cpp reports "the more
    /// expressive template"'s).
    pub fn tool_caps(&self) -> ToolCaps {
        self.tool_use.as_ref().map_or(self.caps, |t| t.caps)
    }

    /// True when the template renders tool definitions and tool calls itself; when false,
    /// [`RenderOptions::tool_fallback`] is what lets a model see them.
    pub fn supports_tools(&self) -> bool {
        let caps = self.tool_caps();
        caps.supports_tools && caps.supports_tool_calls
    }

    /// minja's tool-call example for this template: how it renders a sample call (through
    /// the fallback when it cannot itself). Computed once; `None` when it shows no call.
    fn tool_call_example(&self, opts: &RenderOptions) -> Option<String> {
        if let Some(example) = self.tool_call_example.get() {
            return example.clone();
        }
        let (prefix_msgs, full_msgs) = tool_fallback::example_conversations();
        let base = RenderOptions { tool_fallback: true, now: opts.now, ..RenderOptions::default() };
        let prefix =
            self.render_with(&prefix_msgs, &RenderOptions { add_generation_prompt: true, ..base.clone() });
        let full = self.render_with(&full_msgs, &base);
        // As in minja, a template that cannot render the sample gets no example.
        let example = match (prefix, full) {
            (Ok(prefix), Ok(full)) => tool_fallback::example_call(&prefix, &full, &self.eos),
            _ => None,
        };
        self.tool_call_example.get_or_init(|| example).clone()
    }

    /// The Jinja source (the GGUF's, or the fallback's).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The source of the template a render with tools uses: the GGUF's tool-use template when
    /// it has one, else [`ChatTemplate::source`]. What a model's tool-call syntax is read from.
    pub fn tools_source(&self) -> &str {
        self.tool_use.as_deref().map_or(&self.source, |t| &t.source)
    }

    /// True when the GGUF had no template and a built-in one is used.
    pub fn is_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// Which built-in template is used, if any.
    pub fn fallback(&self) -> Option<Fallback> {
        self.fallback
    }

    /// The `bos_token` the template sees. Templates that start with it produce a prompt
    /// that already has BOS: a caller whose tokenizer adds BOS strips it first, as
    /// llama.cpp does.
    pub fn bos_token(&self) -> &str {
        &self.bos
    }

    /// The `eos_token` the template sees.
    pub fn eos_token(&self) -> &str {
        &self.eos
    }
}

/// `tokens[id]` for the id stored under `key`; empty when either is absent or the id is
/// negative (llama.cpp's "no such token").
fn token_text(meta: &Metadata, key: &'static str) -> Result<String, ChatError> {
    let Some(id) = meta.opt_i64(key)? else { return Ok(String::new()) };
    let Ok(index) = usize::try_from(id) else { return Ok(String::new()) };
    let Some(tokens) = meta.opt_str_array("tokenizer.ggml.tokens")? else { return Ok(String::new()) };
    tokens.get(index).cloned().ok_or(ChatError::TokenIdOutOfRange { key, id, n_vocab: tokens.len() })
}

/// A render failure: the template's own `raise_exception` message, or the engine's error.
fn render_error(err: &minijinja::Error) -> ChatError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(raised) = e.downcast_ref::<RaisedException>() {
            return ChatError::Raised { message: raised.0.clone() };
        }
        source = e.source();
    }
    ChatError::Render { detail: describe(err) }
}

/// minijinja's message with its location (`... (in chat:12)`), and the causes below it.
fn describe(err: &minijinja::Error) -> String {
    let mut out = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
