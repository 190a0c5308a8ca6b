//! Built-in templates for GGUFs that ship without `tokenizer.chat_template`.
//!
//! llama.cpp falls back to ChatML for every architecture (`common_chat_templates_init` in
//! `common/chat.cpp`, and `llama_chat_apply_template` with a null template). Gemma models
//! were never trained on ChatML, so for the Gemma 1–3 families hearth uses llama.cpp's
//! built-in `gemma` format instead (`LLM_CHAT_TEMPLATE_GEMMA` in `src/llama-chat.cpp`),
//! which is what `llama-cli --chat-template gemma` renders. Both are written here as Jinja so
//! a fallback renders through the same engine as a shipped template.

/// Which built-in template a template-less GGUF gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `<|im_start|>{role}\n{content}<|im_end|>\n` per message; llama.cpp's default.
    ChatMl,
    /// `<start_of_turn>{user|model}\n{content}<end_of_turn>\n`, system text merged into the
    /// next user turn; llama.cpp's `gemma`.
    Gemma,
}

impl Fallback {
    /// The fallback for a `general.architecture`: Gemma's format for `gemma`, `gemma2`,
    /// `gemma3`, `gemma3n` and `gemma-embedding`, ChatML for everything else (`llama`,
    /// `qwen2`, and `gemma4`, whose turn markers differ and whose GGUFs carry a template).
    pub fn for_architecture(arch: &str) -> Fallback {
        match arch {
            "gemma" | "gemma2" | "gemma3" | "gemma3n" | "gemma-embedding" => Fallback::Gemma,
            _ => Fallback::ChatMl,
        }
    }

    /// The template's Jinja source.
    pub fn source(self) -> &'static str {
        match self {
            Fallback::ChatMl => CHATML,
            Fallback::Gemma => GEMMA,
        }
    }
}

/// llama.cpp's `CHATML_TEMPLATE_SRC`, byte for byte in what it renders.
const CHATML: &str = r#"{%- for message in messages -%}
  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
{%- endif -%}"#;

/// llama.cpp's `LLM_CHAT_TEMPLATE_GEMMA`: system messages are trimmed and concatenated (no
/// separator) and prefixed, followed by a blank line, to the next non-`model` turn;
/// `assistant` is spelled `model`; every content is trimmed of C `isspace` characters
/// (space, `\t \n \v \f \r`), no more; no BOS (the tokenizer adds it).
const GEMMA: &str = r#"{%- set ws = ' \t\n\u000b\u000c\r' -%}
{%- set ns = namespace(system='') -%}
{%- for message in messages -%}
  {%- if message.role == 'system' -%}
    {%- set ns.system = ns.system + message.content | trim(ws) -%}
  {%- else -%}
    {%- set role = 'model' if message.role == 'assistant' else message.role -%}
    {{- '<start_of_turn>' + role + '\n' -}}
    {%- if ns.system and role != 'model' -%}
      {{- ns.system + '\n\n' -}}
      {%- set ns.system = '' -%}
    {%- endif -%}
    {{- message.content | trim(ws) + '<end_of_turn>\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<start_of_turn>model\n' -}}
{%- endif -%}"#;
