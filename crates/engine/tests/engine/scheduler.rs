use std::ops::ControlFlow;
use std::sync::mpsc;
use std::time::Duration;

use hearth_engine::{Completion, EngineError, Event, Prompt, Scheduler, SchedulerOptions, SubmitError};

use crate::{engine, greedy};

fn collect(s: &Scheduler, req: hearth_engine::Request) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel();
    s.submit(req, Box::new(move |ev| tx.send(ev).is_ok())).unwrap();
    rx
}

fn done(rx: &mpsc::Receiver<Event>) -> Result<Completion, EngineError> {
    loop {
        match rx.recv_timeout(Duration::from_secs(120)).expect("scheduler answered") {
            Event::Done(c) => return Ok(c),
            Event::Error(e) => return Err(e),
            _ => {}
        }
    }
}

#[test]
fn batched_decoding_gives_the_same_tokens_as_one_sequence_at_a_time() {
    let Some(e) = engine() else { return };
    let prompts = [
        "The capital of France is",
        "def fibonacci(n):",
        "Once upon a time",
        "1, 2, 3,",
        "The sky is",
        "import numpy",
    ];
    let solo: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| e.session().generate(&greedy(p, 20), |_| ControlFlow::Continue(())).unwrap().ids)
        .collect();
    let s = Scheduler::start(e.clone(), SchedulerOptions { slots: 3, max_queue: 16 });
    let rxs: Vec<_> = prompts.iter().map(|p| collect(&s, greedy(p, 20))).collect();
    for (i, rx) in rxs.iter().enumerate() {
        let c = done(rx).unwrap();
        assert_eq!(c.ids, solo[i], "prompt {i} ({})", prompts[i]);
    }
    assert!(
        s.stats().forward_passes.load(std::sync::atomic::Ordering::Relaxed) < 6 * 21,
        "decodes were batched"
    );
}

#[test]
fn a_shared_prefix_is_reused_across_requests() {
    let Some(e) = engine() else { return };
    let system = "You are a careful assistant. Answer every question in one short sentence. ".repeat(4);
    let s = Scheduler::start(e.clone(), SchedulerOptions { slots: 2, max_queue: 4 });
    let a = done(&collect(&s, greedy(&format!("{system}Q: What is 2+2?"), 4))).unwrap();
    let b = done(&collect(&s, greedy(&format!("{system}Q: Name a color."), 4))).unwrap();
    assert_eq!(a.cached_tokens, 0);
    assert!(b.cached_tokens >= a.prompt_tokens / 2, "reused {} of {}", b.cached_tokens, b.prompt_tokens);
    let fresh = e
        .session()
        .generate(&greedy(&format!("{system}Q: Name a color."), 4), |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(b.ids, fresh.ids);
}

#[test]
fn errors_and_a_full_queue_are_reported() {
    let Some(e) = engine() else { return };
    let s = Scheduler::start(e, SchedulerOptions { slots: 1, max_queue: 1 });
    let overflow = done(&collect(&s, greedy(&"word ".repeat(2000), 4)));
    assert!(matches!(overflow, Err(EngineError::ContextOverflow { .. })));

    // One long request occupies the slot; the queue takes one more, then refuses.
    let mut long = greedy("Tell me a story", 200);
    long.ignore_eos = true;
    let busy = collect(&s, long);
    std::thread::sleep(Duration::from_millis(300));
    let _queued = collect(&s, greedy("Hi", 2));
    let refused = s.submit(greedy("Hello", 2), Box::new(|_| true));
    assert!(matches!(refused, Err(SubmitError::QueueFull(1))), "{refused:?}");
    drop(busy);
}

#[test]
fn a_client_that_goes_away_frees_its_slot() {
    let Some(e) = engine() else { return };
    let s = Scheduler::start(e, SchedulerOptions { slots: 1, max_queue: 4 });
    let mut long = greedy("Tell me a story", 400);
    long.ignore_eos = true;
    let mut seen = 0;
    s.submit(
        long,
        Box::new(move |ev| {
            if matches!(ev, Event::Token(_)) {
                seen += 1;
            }
            seen < 3
        }),
    )
    .unwrap();
    // The next request gets the slot soon, not after 400 tokens.
    let c = done(&collect(&s, greedy("Hi", 2))).unwrap();
    assert_eq!(c.completion_tokens, 2);
    let _ = Prompt::text("");
}
