//! Prompt caching: mark a long system prompt (and tool list) with `cache_control` so that
//! repeats of it are billed at the cache-read price (0.1x input) instead of full price.
//!
//! The API caches the prefix up to a marked block only when that prefix is at least a
//! model-dependent number of tokens; a shorter marked prefix is simply not cached (no error,
//! no cache-write premium). The minimums, from Anthropic's prompt-caching documentation
//! (<https://platform.claude.com/docs/en/build-with-claude/prompt-caching>, "minimum
//! cacheable prompt length"):
//!
//! | tokens | models |
//! | --- | --- |
//! | 4096 | Claude Haiku 4.5, Opus 4.5, Opus 4.6, Opus 4.7 |
//! | 2048 | Claude Haiku 3.5, Haiku 3 |
//! | 1024 | Claude Sonnet 3.7, 4, 4.5, 4.6, Opus 4, 4.1, and any model not listed |
//!
//! An unknown model gets the smallest documented minimum: marking too early costs nothing
//! (the API ignores the mark), marking too late forgoes savings.
//!
//! The order the API caches in is tools, then system, then messages, so the last tool's mark
//! caches the tools and the last system block's mark caches tools + system.

use crate::types::{CacheControl, MessageContent, MessagesRequest, SystemBlock, SystemPrompt, TextBlock};

/// The smallest prefix, in tokens, the API caches for `model` (see the table above). Matches
/// dated and provider-prefixed ids (`claude-haiku-4-5-20251001`,
/// `anthropic.claude-3-5-haiku-...`).
pub fn min_cacheable_tokens(model: &str) -> u32 {
    let model = model.to_ascii_lowercase();
    let has = |family: &str| model.contains(family);
    if has("haiku-4-5") || has("haiku-4.5") || ["opus-4-5", "opus-4-6", "opus-4-7"].iter().any(|f| has(f)) {
        4096
    } else if has("claude-3-haiku") || has("claude-3-5-haiku") || has("haiku-3") {
        2048
    } else {
        1024
    }
}

/// Tokens in `chars` characters of English or code, by the common rule of thumb of four
/// characters per token (rounded up); used when no count from `count_tokens` is at hand.
pub fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// Which marks [`mark_cacheable`] placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheMarks {
    /// The last tool was marked.
    pub tools: bool,
    /// The last system block was marked.
    pub system: bool,
    /// The tokens of tools + system used for the decision (counted or estimated).
    pub prefix_tokens: u64,
}

/// Marks the request's stable prefix for caching when it is long enough for the model.
///
/// - `min_tokens`: the model's minimum, usually [`min_cacheable_tokens`]`(&req.model)`.
/// - `prefix_tokens`: the tokens of tools + system if counted (e.g. by `count_tokens`);
///   otherwise they are estimated as characters / 4 ([`estimate_tokens`]) of the system text
///   and the tools' JSON.
///
/// The last system block is marked when tools + system reach `min_tokens` (a string system
/// prompt becomes one text block); the last tool is marked when the tools alone do (their
/// estimate). A request that already carries any `cache_control` (top level, tools, system or
/// messages) is left as it is: its sender chose, and the API allows at most four marks.
pub fn mark_cacheable(req: &mut MessagesRequest, min_tokens: u32, prefix_tokens: Option<u64>) -> CacheMarks {
    let tools_chars =
        req.tools.as_ref().map_or(0, |tools| serde_json::to_string(tools).map_or(0, |s| s.len()));
    let system_chars = req.system.as_ref().map_or(0, |system| system.text().chars().count());
    let tools_tokens = estimate_tokens(tools_chars);
    let prefix = prefix_tokens.unwrap_or_else(|| tools_tokens + estimate_tokens(system_chars));
    let mut marks = CacheMarks { prefix_tokens: prefix, ..CacheMarks::default() };
    if has_cache_control(req) {
        return marks;
    }
    let min = u64::from(min_tokens);
    if prefix >= min
        && let Some(system) = req.system.take()
    {
        let mut blocks = match system {
            SystemPrompt::Text(text) => vec![SystemBlock::Text(TextBlock::new(text))],
            SystemPrompt::Blocks(blocks) => blocks,
        };
        if let Some(SystemBlock::Text(last)) = blocks.last_mut() {
            last.cache_control = Some(CacheControl::ephemeral());
            marks.system = true;
        }
        req.system = Some(SystemPrompt::Blocks(blocks));
    }
    // Tools alone long enough, or a long prefix without a system prompt to carry the mark.
    let tools_reach = tools_tokens >= min || (prefix >= min && !marks.system);
    if tools_reach && let Some(last) = req.tools.as_mut().and_then(|tools| tools.last_mut()) {
        last.cache_control = Some(CacheControl::ephemeral());
        marks.tools = true;
    }
    marks
}

/// Whether any part of the request already has a cache mark.
fn has_cache_control(req: &MessagesRequest) -> bool {
    let in_system = match &req.system {
        Some(SystemPrompt::Blocks(blocks)) => {
            blocks.iter().any(|SystemBlock::Text(b)| b.cache_control.is_some())
        }
        _ => false,
    };
    let in_tools = req.tools.iter().flatten().any(|tool| tool.cache_control.is_some());
    let in_messages = req.messages.iter().any(|m| match &m.content {
        MessageContent::Text(_) => false,
        MessageContent::Blocks(blocks) => blocks.iter().any(|b| b.cache_control().is_some()),
    });
    req.cache_control.is_some() || in_system || in_tools || in_messages
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::{ContentBlock, MessageParam, Tool};

    fn request(system: Option<SystemPrompt>, tools: Option<Vec<Tool>>) -> MessagesRequest {
        let mut req = MessagesRequest::new("claude-sonnet-4-5", 64, vec![MessageParam::user("hi")]);
        req.system = system;
        req.tools = tools;
        req
    }

    fn tool(description_chars: usize) -> Tool {
        Tool::custom("lookup", "d".repeat(description_chars), json!({"type": "object"}))
    }

    #[test]
    fn minimums_follow_the_documented_table() {
        assert_eq!(min_cacheable_tokens("claude-haiku-4-5"), 4096);
        assert_eq!(min_cacheable_tokens("claude-haiku-4-5-20251001"), 4096);
        assert_eq!(min_cacheable_tokens("claude-opus-4-5"), 4096);
        assert_eq!(min_cacheable_tokens("claude-opus-4-6"), 4096);
        assert_eq!(min_cacheable_tokens("anthropic.claude-3-5-haiku-20241022-v1:0"), 2048);
        assert_eq!(min_cacheable_tokens("claude-3-haiku-20240307"), 2048);
        assert_eq!(min_cacheable_tokens("claude-sonnet-4-5"), 1024);
        assert_eq!(min_cacheable_tokens("claude-opus-4-1"), 1024);
        assert_eq!(min_cacheable_tokens("some-future-model"), 1024);
    }

    #[test]
    fn estimates_round_up() {
        assert_eq!(estimate_tokens(0), 0);
        assert_eq!(estimate_tokens(1), 1);
        assert_eq!(estimate_tokens(4096), 1024);
        assert_eq!(estimate_tokens(4097), 1025);
    }

    #[test]
    fn a_short_prompt_is_left_alone() {
        let mut req = request(Some(SystemPrompt::Text("Be brief.".into())), None);
        let before = req.clone();
        let marks = mark_cacheable(&mut req, 1024, None);
        assert_eq!(marks, CacheMarks { tools: false, system: false, prefix_tokens: 3 });
        assert_eq!(req, before);
    }

    #[test]
    fn a_long_string_system_prompt_becomes_a_marked_block() {
        let text = "x".repeat(4096);
        let mut req = request(Some(SystemPrompt::Text(text.clone())), None);
        let marks = mark_cacheable(&mut req, 1024, None);
        assert!(marks.system && !marks.tools);
        assert_eq!(
            serde_json::to_value(&req.system).unwrap(),
            json!([{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}])
        );
    }

    #[test]
    fn only_the_last_system_block_is_marked() {
        let blocks = vec![
            SystemBlock::Text(TextBlock::new("a".repeat(3000))),
            SystemBlock::Text(TextBlock::new("b".repeat(3000))),
        ];
        let mut req = request(Some(SystemPrompt::Blocks(blocks)), None);
        assert!(mark_cacheable(&mut req, 1024, None).system);
        let Some(SystemPrompt::Blocks(blocks)) = &req.system else { panic!("blocks expected") };
        let marked: Vec<bool> = blocks.iter().map(|SystemBlock::Text(b)| b.cache_control.is_some()).collect();
        assert_eq!(marked, [false, true]);
    }

    #[test]
    fn tools_and_system_together_reach_the_minimum() {
        // ~600 tokens of tools + ~600 of system: only the whole prefix reaches 1024.
        let mut req = request(Some(SystemPrompt::Text("s".repeat(2400))), Some(vec![tool(2300)]));
        let marks = mark_cacheable(&mut req, 1024, None);
        assert!(marks.system, "{marks:?}");
        assert!(!marks.tools, "tools alone are below the minimum: {marks:?}");
        // Long tools alone: both marks.
        let mut req = request(Some(SystemPrompt::Text("s".repeat(100))), Some(vec![tool(10), tool(5000)]));
        let marks = mark_cacheable(&mut req, 1024, None);
        assert!(marks.system && marks.tools, "{marks:?}");
        let tools = req.tools.unwrap();
        assert!(tools[0].cache_control.is_none() && tools[1].cache_control.is_some());
    }

    #[test]
    fn long_tools_without_a_system_prompt_get_the_mark() {
        let mut req = request(None, Some(vec![tool(8000)]));
        let marks = mark_cacheable(&mut req, 1024, None);
        assert!(marks.tools && !marks.system);
        assert!(req.system.is_none());
    }

    #[test]
    fn a_given_count_overrides_the_estimate() {
        let mut req = request(Some(SystemPrompt::Text("s".repeat(100))), None);
        assert!(mark_cacheable(&mut req.clone(), 4096, Some(5000)).system);
        assert!(!mark_cacheable(&mut req, 4096, Some(4095)).system);
        let mut long = request(Some(SystemPrompt::Text("s".repeat(20_000))), None);
        assert!(!mark_cacheable(&mut long, 4096, Some(100)).system, "the count wins over the estimate");
    }

    #[test]
    fn a_request_with_marks_of_its_own_is_left_alone() {
        let long = "s".repeat(20_000);
        let mut top = request(Some(SystemPrompt::Text(long.clone())), None);
        top.cache_control = Some(CacheControl::ephemeral());
        let mut in_message = request(Some(SystemPrompt::Text(long)), None);
        let mut block = TextBlock::new("hi");
        block.cache_control = Some(CacheControl::ephemeral());
        in_message.messages =
            vec![MessageParam::user(MessageContent::Blocks(vec![ContentBlock::Text(block)]))];
        for mut req in [top, in_message] {
            let before = req.clone();
            let marks = mark_cacheable(&mut req, 1024, None);
            assert!(!marks.system && !marks.tools);
            assert_eq!(req, before);
        }
    }
}
