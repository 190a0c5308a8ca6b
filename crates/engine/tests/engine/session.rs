use std::ops::ControlFlow;

use hearth_engine::{CancelToken, EngineError, Message, Prompt, StopReason};

use crate::{engine, greedy};

#[test]
fn streamed_text_equals_the_completion_and_the_cache_is_reused() {
    let Some(e) = engine() else { return };
    let req = greedy("The quick brown fox", 16);
    let mut a = e.session();
    let mut streamed = String::new();
    let first = a.generate(&req, |ev| {
        streamed.push_str(&ev.text);
        ControlFlow::Continue(())
    });
    let first = first.unwrap();
    assert_eq!(first.text, streamed);
    assert_eq!(first.completion_tokens, 16);
    assert_eq!(first.stop_reason, StopReason::Length);
    assert_eq!(first.cached_tokens, 0);

    // Same prompt again on the same session: the prompt comes from the cache, output identical.
    let second = a.generate(&req, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(second.ids, first.ids);
    assert_eq!(second.cached_tokens, first.prompt_tokens - 1);

    // A fresh session agrees.
    let third = e.session().generate(&req, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(third.ids, first.ids);
}

#[test]
fn stop_strings_end_generation_and_are_not_emitted() {
    let Some(e) = engine() else { return };
    let base = e.session().generate(&greedy("1, 2, 3, 4,", 24), |_| ControlFlow::Continue(())).unwrap();
    // Pick a stop string from the middle of what greedy decoding produces.
    let text = base.text.clone();
    let cut = text.char_indices().nth(text.chars().count() / 2).map(|(i, _)| i).unwrap();
    let stop: String = text[cut..].chars().take(3).collect();
    let mut req = greedy("1, 2, 3, 4,", 24);
    req.stop = vec![stop.clone()];
    let done = e.session().generate(&req, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(done.stop_reason, StopReason::Stop);
    assert!(!done.text.contains(&stop), "{:?} contains stop {stop:?}", done.text);
    assert!(text.starts_with(&done.text));
}

#[test]
fn cancel_token_and_break_stop_early() {
    let Some(e) = engine() else { return };
    let cancel = CancelToken::new();
    let mut req = greedy("Once upon a time", 64);
    req.cancel = Some(cancel.clone());
    let mut n = 0;
    let done = e
        .session()
        .generate(&req, |_| {
            n += 1;
            if n == 3 {
                cancel.cancel();
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(done.stop_reason, StopReason::Cancelled);
    assert_eq!(done.completion_tokens, 3);

    let done = e.session().generate(&greedy("Once upon a time", 64), |_| ControlFlow::Break(())).unwrap();
    assert_eq!(done.stop_reason, StopReason::Cancelled);
    assert_eq!(done.completion_tokens, 1);
}

#[test]
fn a_prompt_longer_than_the_context_is_a_clear_error() {
    let Some(e) = engine() else { return };
    let long = "word ".repeat(2000);
    let err = e.session().stream(&greedy(&long, 4)).unwrap_err();
    match err {
        EngineError::ContextOverflow { prompt_tokens, n_ctx } => {
            assert!(prompt_tokens > n_ctx);
            assert_eq!(n_ctx, 512);
        }
        other => panic!("expected ContextOverflow, got {other}"),
    }
    assert!(matches!(e.session().stream(&greedy("", 4)), Err(EngineError::EmptyPrompt)));
}

#[test]
fn generation_stops_when_the_context_is_full() {
    let Some(e) = engine() else { return };
    let mut req = greedy(&"a b ".repeat(240), 400);
    req.ignore_eos = true;
    let done = e.session().generate(&req, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(done.stop_reason, StopReason::Length);
    // Positions 0..511 hold the prompt and all but the last generated token; the last one is
    // sampled from position 511's logits and never needs a position of its own.
    assert_eq!(done.prompt_tokens + done.completion_tokens, 513);
}

#[test]
fn chat_messages_use_the_template() {
    let Some(e) = engine() else { return };
    let golden = hearth_testkit::Golden::load(hearth_testkit::SMOLLM2_135M);
    for chat in &golden.chats {
        let messages = chat.messages.iter().map(|m| Message::new(&m.role, &m.content)).collect();
        let ids = e.tokenize_prompt(&Prompt::Messages(messages)).unwrap();
        assert_eq!(ids, chat.prompt_ids);
    }
}
