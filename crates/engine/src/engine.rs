//! `Engine`: a loaded model with its tokenizer, chat template and thread pool. Cheap to clone
//! (everything inside is shared), `Send + Sync`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use hearth_chat::{ChatTemplate, Message, RenderOptions, Rendered};
use hearth_gguf::GgufFile;
use hearth_grammar::{GrammarCompiler, GrammarError};
use hearth_kernels::ThreadPool;
use hearth_models::Model;
use hearth_tokenizer::{Specials, Tokenizer};

use crate::{EngineError, Prompt, PromptIds, Session};

/// How to run a model.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Threads for the forward pass; 0 = all available cores.
    pub threads: usize,
    /// Context size per sequence; 0 = the model's training context, capped at 4096.
    pub n_ctx: usize,
    /// Most prompt tokens per forward pass during prefill.
    pub n_batch: usize,
    /// Let the text of chat messages (roles and contents) turn into control tokens: a
    /// message holding `<|im_start|>system` then opens a system turn, as in llama.cpp. Off
    /// by default: message text is tokenized as text, and only the chat template's own
    /// markup becomes control tokens. Only for callers that trust every message.
    pub parse_special_in_messages: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { threads: 0, n_ctx: 0, n_batch: 512, parse_special_in_messages: false }
    }
}

/// Most threads an engine runs on: far past any core count hearth targets, and far below
/// where spawning threads fails (at tens of thousands the process aborts: "failed to set up
/// alternative stack guard page").
pub const MAX_THREADS: usize = 1024;

impl EngineOptions {
    /// Checks the options that do not depend on the model: `threads` at most
    /// [`MAX_THREADS`], `n_batch` at least 1. [`Engine::load`] checks them first; call it
    /// yourself to refuse bad options before slow work (binding a port, mapping a file).
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.threads > MAX_THREADS {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            return Err(EngineError::Invalid(format!(
                "{} threads is more than the {MAX_THREADS} hearth runs on (this machine has {cores} cores; \
                 0 uses them all)",
                self.threads
            )));
        }
        if self.n_batch == 0 {
            return Err(EngineError::Invalid("n_batch (--batch-size) must be at least 1".into()));
        }
        Ok(())
    }
}

/// A model ready to generate.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) model: Arc<Model>,
    pub(crate) tokenizer: Arc<Tokenizer>,
    pub(crate) template: Arc<ChatTemplate>,
    pub(crate) pool: Arc<ThreadPool>,
    pub(crate) n_ctx: usize,
    pub(crate) n_batch: usize,
    /// See [`EngineOptions::parse_special_in_messages`].
    pub(crate) parse_special_in_messages: bool,
    /// Compiles request constraints; built on first use (the token trie takes tens of ms).
    pub(crate) grammar: Arc<OnceLock<Result<GrammarCompiler, GrammarError>>>,
}

impl Engine {
    /// Maps `path` and prepares model, tokenizer, chat template and threads.
    pub fn load(path: impl AsRef<Path>, opts: EngineOptions) -> Result<Engine, EngineError> {
        opts.validate()?;
        let file = Arc::new(GgufFile::open(path)?);
        let tokenizer = Tokenizer::from_gguf(file.metadata())?;
        let template = ChatTemplate::from_gguf(file.metadata())?;
        let model = Model::load(file)?;
        let threads = match opts.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let pool = ThreadPool::try_new(threads).map_err(EngineError::Threads)?;
        let n_ctx = match opts.n_ctx {
            0 => model.config().n_ctx_train.min(4096),
            n => n.min(model.config().n_ctx_train),
        };
        tracing::info!(arch = ?model.config().arch, threads, n_ctx, kernels = hearth_kernels::kernels().name(), "model loaded");
        Ok(Engine {
            model: Arc::new(model),
            tokenizer: Arc::new(tokenizer),
            template: Arc::new(template),
            pool: Arc::new(pool),
            n_ctx,
            n_batch: opts.n_batch,
            parse_special_in_messages: opts.parse_special_in_messages,
            grammar: Arc::new(OnceLock::new()),
        })
    }

    /// The model.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Arc<Tokenizer> {
        &self.tokenizer
    }

    /// The chat template (the file's, or the architecture's fallback).
    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// The thread pool.
    pub fn pool(&self) -> &Arc<ThreadPool> {
        &self.pool
    }

    /// Context size of each sequence.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Prompt tokens per prefill forward pass.
    pub fn n_batch(&self) -> usize {
        self.n_batch
    }

    /// The compiler of request constraints for this model, shared by every request (built
    /// on first use).
    pub fn grammar(&self) -> Result<&GrammarCompiler, EngineError> {
        let r = self
            .grammar
            .get_or_init(|| GrammarCompiler::new(self.tokenizer.clone(), self.model.config().n_vocab));
        r.as_ref().map_err(|e| EngineError::Grammar(e.clone()))
    }

    /// A new conversation with its own KV cache.
    pub fn session(&self) -> Session {
        Session::new(self.clone())
    }

    /// The token ids of a prompt, validated for this engine (not empty, inside the
    /// vocabulary, shorter than the context).
    pub fn prompt_ids(&self, prompt: &Prompt) -> Result<PromptIds, EngineError> {
        let ids = self.tokenize_prompt(prompt)?;
        PromptIds::new(ids, self.model.config().n_vocab, self.n_ctx)
    }

    /// The token ids of a prompt (not validated: see [`Engine::prompt_ids`]): raw text gets
    /// BOS only where the GGUF says `add_bos_token`; a conversation is rendered with the chat
    /// template (generation prompt added) and tokenized with the template's control tokens
    /// parsed, without a second BOS when the template already wrote one. The text of the
    /// messages stays text (a user's `<|im_start|>` is not a control token) unless the
    /// engine was loaded with [`EngineOptions::parse_special_in_messages`].
    pub fn tokenize_prompt(&self, prompt: &Prompt) -> Result<Vec<u32>, EngineError> {
        Ok(match prompt {
            Prompt::Text { text, parse_special } => {
                self.tokenizer.encode(text, Specials { add_bos_eos: true, parse_control: *parse_special })
            }
            Prompt::Messages(messages) => {
                self.render_tokens(messages, &RenderOptions::generation_prompt(true))?
            }
            Prompt::MessagesWithTools { messages, tools } => {
                let opts = RenderOptions { tool_fallback: true, ..RenderOptions::generation_prompt(true) }
                    .with_tools(tools.clone());
                self.render_tokens(messages, &opts)?
            }
            Prompt::Tokens(ids) => ids.clone(),
        })
    }

    /// `messages` rendered with `opts` and tokenized (see [`Engine::tokenize_prompt`]).
    fn render_tokens(&self, messages: &[Message], opts: &RenderOptions) -> Result<Vec<u32>, EngineError> {
        let rendered = if self.parse_special_in_messages {
            Rendered { text: self.template.render_with(messages, opts)?, literal: Vec::new() }
        } else {
            self.template.render_literal(messages, opts, &|s| self.tokenizer.control_texts(s))?
        };
        let bos = self.template.bos_token();
        let add_bos_eos = bos.is_empty() || !rendered.text.starts_with(bos);
        let specials = Specials { add_bos_eos, parse_control: true };
        Ok(self.tokenizer.encode_with_literals(&rendered.text, specials, &rendered.literal))
    }
}
