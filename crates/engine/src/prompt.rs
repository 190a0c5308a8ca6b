//! [`PromptIds`]: a prompt's token ids, checked once against the model that will run them.

use std::sync::Arc;

use crate::EngineError;

/// The token ids of a prompt, validated by [`crate::Engine::prompt_ids`]: not empty, every id
/// inside the vocabulary, and shorter than the context (one position stays free for the
/// first generated token). Made only by the engine, so the server and the scheduler trust it
/// without checking again. Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptIds {
    ids: Arc<[u32]>,
}

impl PromptIds {
    /// Checks `ids` for a model with `n_vocab` tokens and a context of `n_ctx`.
    pub(crate) fn new(ids: Vec<u32>, n_vocab: usize, n_ctx: usize) -> Result<PromptIds, EngineError> {
        if ids.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        if let Some(&bad) = ids.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(EngineError::BadPromptToken { id: bad, n_vocab });
        }
        if ids.len() >= n_ctx {
            return Err(EngineError::ContextOverflow { prompt_tokens: ids.len(), n_ctx });
        }
        Ok(PromptIds { ids: ids.into() })
    }

    /// The ids.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Number of tokens (never 0).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always false: a `PromptIds` is never empty (here for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// How many leading tokens of `cached` can serve `prompt`: their longest common prefix, but
/// at most `prompt.len() - 1`, since at least one prompt token must run through the model to
/// produce the logits of the first generated token.
pub(crate) fn reusable_prefix(cached: &[u32], prompt: &[u32]) -> usize {
    let common = cached.iter().zip(prompt).take_while(|(a, b)| a == b).count();
    common.min(prompt.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reusable_prefix_keeps_one_prompt_token_to_run() {
        assert_eq!(reusable_prefix(&[1, 2, 3], &[1, 2, 4]), 2);
        assert_eq!(reusable_prefix(&[1, 2, 3], &[1, 2, 3]), 2);
        assert_eq!(reusable_prefix(&[1, 2, 3, 4], &[1, 2]), 1);
        assert_eq!(reusable_prefix(&[], &[1]), 0);
        assert_eq!(reusable_prefix(&[5], &[]), 0);
    }

    #[test]
    fn prompt_ids_are_checked() {
        assert!(matches!(PromptIds::new(vec![], 10, 8), Err(EngineError::EmptyPrompt)));
        assert!(matches!(
            PromptIds::new(vec![1, 10], 10, 8),
            Err(EngineError::BadPromptToken { id: 10, n_vocab: 10 })
        ));
        assert!(matches!(
            PromptIds::new(vec![1; 8], 10, 8),
            Err(EngineError::ContextOverflow { prompt_tokens: 8, n_ctx: 8 })
        ));
        assert_eq!(PromptIds::new(vec![1; 7], 10, 8).unwrap().len(), 7);
    }
}
