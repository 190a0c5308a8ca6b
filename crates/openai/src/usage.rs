//! The token counts of an answer: `usage` of a `chat.completion`, or of the last chunk of a
//! stream asked with `stream_options.include_usage`.

use serde_json::Value;

/// `usage`: `prompt_tokens` (cached ones included), `completion_tokens`, and
/// `prompt_tokens_details.cached_tokens` (the part of the prompt read from the provider's
/// prompt cache; 0 when not reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Input tokens read from the prompt cache (a part of `prompt_tokens`).
    pub cached_tokens: u64,
}

impl Usage {
    /// The `usage` member of `body` (a completion or a chunk), when it is an object with at
    /// least one of the counts; counts that are missing or not integers are 0.
    pub fn of(body: &Value) -> Option<Usage> {
        let u = body.get("usage")?.as_object()?;
        if !u.contains_key("prompt_tokens") && !u.contains_key("completion_tokens") {
            return None;
        }
        let count = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        Some(Usage {
            prompt_tokens: count(u.get("prompt_tokens")),
            completion_tokens: count(u.get("completion_tokens")),
            cached_tokens: count(u.get("prompt_tokens_details").and_then(|d| d.get("cached_tokens"))),
        })
    }

    /// Input tokens billed at the ordinary price: `prompt_tokens - cached_tokens`.
    pub fn uncached_prompt_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_sub(self.cached_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_is_read_with_cached_tokens_apart() {
        let body = json!({"usage": {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127,
            "prompt_tokens_details": {"cached_tokens": 100}}});
        let u = Usage::of(&body).unwrap();
        assert_eq!(u, Usage { prompt_tokens: 120, completion_tokens: 7, cached_tokens: 100 });
        assert_eq!(u.uncached_prompt_tokens(), 20);
    }

    #[test]
    fn missing_or_null_usage_is_none_and_odd_counts_are_zero() {
        assert_eq!(Usage::of(&json!({"usage": null})), None, "chunks before the last carry null");
        assert_eq!(Usage::of(&json!({})), None);
        assert_eq!(Usage::of(&json!({"usage": {}})), None);
        let u = Usage::of(&json!({"usage": {"prompt_tokens": 5, "completion_tokens": -1,
            "prompt_tokens_details": null}}))
        .unwrap();
        assert_eq!(u, Usage { prompt_tokens: 5, completion_tokens: 0, cached_tokens: 0 });
        let odd = Usage { prompt_tokens: 1, completion_tokens: 0, cached_tokens: 9 };
        assert_eq!(odd.uncached_prompt_tokens(), 0);
    }
}
