//! What a call costs in USD, from its token usage and the remote's prices; and what a local
//! answer saved: the price the reference remote (`budget.compare_to`, else the first remote)
//! would have charged for the same tokens.

use serde::{Deserialize, Serialize};

use crate::config::Remote;

/// Tokens of one call, with cached input kept apart (as Anthropic reports them).
///
/// `input_tokens` is the input billed at the ordinary price: for Anthropic its `input_tokens`
/// (which already excludes cache reads and writes); for OpenAI-compatible APIs
/// `prompt_tokens - prompt_tokens_details.cached_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write_tokens: u64,
}

impl Usage {
    /// Adds another call's usage (an escalated request is accounted for both attempts).
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }
}

/// The cost of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CallCost {
    /// USD paid (0 for local calls).
    pub cost_usd: f64,
    /// USD a remote would have charged for a local call (0 for remote calls, and for local
    /// calls when no remote is configured).
    pub saved_usd: f64,
}

/// USD `remote` charges for `usage`.
pub fn remote_cost_usd(remote: &Remote, usage: &Usage) -> f64 {
    let per = |tokens: u64, per_mtok: f64| tokens as f64 * per_mtok / 1_000_000.0;
    per(usage.input_tokens, remote.input_per_mtok)
        + per(usage.output_tokens, remote.output_per_mtok)
        + per(usage.cache_read_tokens, remote.cache_read_per_mtok())
        + per(usage.cache_write_tokens, remote.cache_write_per_mtok())
}

/// The cost of a call to `remote`.
pub fn remote_call(remote: &Remote, usage: &Usage) -> CallCost {
    CallCost { cost_usd: remote_cost_usd(remote, usage), saved_usd: 0.0 }
}

/// The cost of a local call: nothing paid, and what `reference` would have charged saved.
/// Local models have no prompt cache billing: all input is priced as uncached.
pub fn local_call(reference: Option<&Remote>, usage: &Usage) -> CallCost {
    let as_remote = Usage {
        input_tokens: usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
        output_tokens: usage.output_tokens,
        ..Usage::default()
    };
    CallCost { cost_usd: 0.0, saved_usd: reference.map_or(0.0, |r| remote_cost_usd(r, &as_remote)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provider;

    fn haiku() -> Remote {
        Remote::new("claude", Provider::Anthropic, "claude-haiku-4-5", 1.0, 5.0)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn each_kind_of_token_has_its_price() {
        let r = haiku();
        let u = |i, o, cr, cw| Usage {
            input_tokens: i,
            output_tokens: o,
            cache_read_tokens: cr,
            cache_write_tokens: cw,
        };
        assert!(close(remote_cost_usd(&r, &u(1_000_000, 0, 0, 0)), 1.0));
        assert!(close(remote_cost_usd(&r, &u(0, 1_000_000, 0, 0)), 5.0));
        assert!(close(remote_cost_usd(&r, &u(0, 0, 1_000_000, 0)), 0.1));
        assert!(close(remote_cost_usd(&r, &u(0, 0, 0, 1_000_000)), 1.25));
        assert!(close(remote_cost_usd(&r, &u(1000, 200, 3000, 0)), 0.001 + 0.001 + 0.0003));
        let custom = Remote { cache_read_per_mtok: Some(0.3), cache_write_per_mtok: Some(2.0), ..haiku() };
        assert!(close(remote_cost_usd(&custom, &u(0, 0, 1_000_000, 1_000_000)), 2.3));
        let openai = Remote::new("gpt", Provider::Openai, "gpt-4o", 2.5, 10.0);
        assert!(close(remote_cost_usd(&openai, &u(0, 0, 1_000_000, 1_000_000)), 1.25 + 2.5));
    }

    #[test]
    fn local_calls_cost_nothing_and_save_the_reference_price() {
        let usage =
            Usage { input_tokens: 2000, output_tokens: 100, cache_read_tokens: 1000, cache_write_tokens: 0 };
        let c = local_call(Some(&haiku()), &usage);
        assert_eq!(c.cost_usd, 0.0);
        assert!(close(c.saved_usd, 0.003 + 0.0005), "{c:?}");
        assert_eq!(local_call(None, &usage), CallCost::default());
        let r = remote_call(&haiku(), &usage);
        assert_eq!(r.saved_usd, 0.0);
        assert!(close(r.cost_usd, 0.002 + 0.0005 + 0.0001));
    }

    #[test]
    fn usages_add_up_for_escalated_requests() {
        let mut a = Usage { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4 };
        a.add(&a.clone());
        assert_eq!(
            a,
            Usage { input_tokens: 2, output_tokens: 4, cache_read_tokens: 6, cache_write_tokens: 8 }
        );
    }
}
