use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use hearth_engine::{
    Completion, Constraint, EngineError, Event, Scheduler, SchedulerOptions, Sink, SubmitError,
};

use crate::{engine, greedy};

fn collect(s: &Scheduler, req: hearth_engine::Request) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel();
    s.submit(&req, move |ev| tx.send(ev).is_ok()).unwrap();
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

/// A long request that never stops on its own.
fn endless(n: usize) -> hearth_engine::Request {
    let mut long = greedy("Tell me a story", n);
    long.ignore_eos = true;
    long
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
    assert!(s.stats().forward_passes.load(Ordering::Relaxed) < 6 * 21, "decodes were batched");
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
    // A prompt longer than the context is refused before it is queued.
    let overflow = s.submit(&greedy(&"word ".repeat(2000), 4), |_| true);
    assert!(
        matches!(overflow, Err(SubmitError::Invalid(EngineError::ContextOverflow { .. }))),
        "{overflow:?}"
    );
    let empty = s.submit(&hearth_engine::Request::new(hearth_engine::Prompt::Tokens(vec![])), |_| true);
    assert!(matches!(empty, Err(SubmitError::Invalid(EngineError::EmptyPrompt))), "{empty:?}");
    let out_of_vocab =
        s.submit(&hearth_engine::Request::new(hearth_engine::Prompt::Tokens(vec![u32::MAX])), |_| true);
    assert!(matches!(out_of_vocab, Err(SubmitError::Invalid(_))), "{out_of_vocab:?}");

    // One long request occupies the slot; the queue takes one more, then refuses.
    let busy = collect(&s, endless(200));
    std::thread::sleep(Duration::from_millis(300));
    let _queued = collect(&s, greedy("Hi", 2));
    let refused = s.submit(&greedy("Hello", 2), |_| true);
    assert!(matches!(refused, Err(SubmitError::QueueFull(1))), "{refused:?}");
    drop(busy);
}

#[test]
fn max_queue_zero_serves_the_slots_and_refuses_the_rest() {
    let Some(e) = engine() else { return };
    let s = Scheduler::start(e, SchedulerOptions { slots: 1, max_queue: 0 });
    let busy = collect(&s, endless(400));
    while s.stats().active.load(Ordering::Relaxed) == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let refused = s.submit(&greedy("Hello", 2), |_| true);
    assert!(matches!(refused, Err(SubmitError::QueueFull(0))), "{refused:?}");
    drop(busy);
    // Once the slot is free again, a request is served.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (tx, rx) = mpsc::channel();
        match s.submit(&greedy("Hi", 2), move |ev| tx.send(ev).is_ok()) {
            Ok(()) => {
                assert_eq!(done(&rx).unwrap().completion_tokens, 2);
                break;
            }
            Err(SubmitError::QueueFull(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_client_that_goes_away_frees_its_slot() {
    let Some(e) = engine() else { return };
    let s = Scheduler::start(e, SchedulerOptions { slots: 1, max_queue: 4 });
    let mut seen = 0;
    s.submit(&endless(400), move |ev| {
        if matches!(ev, Event::Token(_)) {
            seen += 1;
        }
        seen < 3
    })
    .unwrap();
    // The next request gets the slot soon, not after 400 tokens.
    let c = done(&collect(&s, greedy("Hi", 2))).unwrap();
    assert_eq!(c.completion_tokens, 2);
}

/// A sink whose client can leave while the request is still queued.
struct Leaver {
    tx: mpsc::Sender<Event>,
    gone: Arc<AtomicBool>,
}

impl Sink for Leaver {
    fn send(&mut self, event: Event) -> bool {
        !self.gone.load(Ordering::Relaxed) && self.tx.send(event).is_ok()
    }
    fn is_listening(&self) -> bool {
        !self.gone.load(Ordering::Relaxed)
    }
}

#[test]
fn queued_clients_that_leave_free_their_places() {
    let Some(e) = engine() else { return };
    let s = Scheduler::start(e, SchedulerOptions { slots: 1, max_queue: 3 });
    let busy = collect(&s, endless(400));
    while s.stats().active.load(Ordering::Relaxed) == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Three clients queue, then hang up while still waiting.
    let gone = Arc::new(AtomicBool::new(false));
    let mut rxs = Vec::new();
    for _ in 0..3 {
        let (tx, rx) = mpsc::channel();
        s.submit(&greedy("Hi", 2), Leaver { tx, gone: Arc::clone(&gone) }).unwrap();
        rxs.push(rx);
    }
    assert!(matches!(s.submit(&greedy("Hi", 2), |_| true), Err(SubmitError::QueueFull(3))));
    gone.store(true, Ordering::Relaxed);
    // Their places come back while the long request is still running.
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.stats().queued.load(Ordering::Relaxed) > 0 {
        assert!(Instant::now() < deadline, "queued clients that left kept their places");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut late = Vec::new();
    for _ in 0..3 {
        late.push(collect(&s, greedy("Hello", 2)));
    }
    assert_eq!(s.stats().active.load(Ordering::Relaxed), 1);
    drop(busy);
    for rx in &late {
        assert_eq!(done(rx).unwrap().completion_tokens, 2);
    }
    // None of the departed requests ever ran.
    for rx in &rxs {
        assert!(rx.try_recv().is_err());
    }
}

#[test]
fn running_requests_keep_streaming_while_hostile_schemas_compile() {
    // Constraints compile on the submitter's thread, never on the engine thread: ten
    // submitters compiling heavy schemas at once do not stall the tokens of a running request.
    let Some(e) = engine() else { return };
    let s = Arc::new(Scheduler::start(e, SchedulerOptions { slots: 2, max_queue: 16 }));
    let (tx, rx) = mpsc::channel();
    s.submit(&endless(120), move |ev| tx.send((Instant::now(), ev)).is_ok()).unwrap();
    // Wait for the first token, then start the compilers.
    loop {
        if let (_, Event::Token(_)) = rx.recv_timeout(Duration::from_secs(60)).unwrap() {
            break;
        }
    }
    let compilers: Vec<_> = (0..10)
        .map(|i| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let mut r = greedy("{", 1);
                r.constraint = Some(Constraint::JsonSchema(hostile_schema(i)));
                // Prepare only: compiling is the hostile part; the answer (a compiled
                // constraint or a clear error) does not matter here.
                let t = Instant::now();
                let ok = s.prepare(&r).is_ok();
                (t.elapsed(), ok)
            })
        })
        .collect();
    let mut times = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120)).unwrap() {
            (t, Event::Token(_)) => times.push(t),
            (_, Event::Done(_)) => break,
            (_, other) => panic!("{other:?}"),
        }
    }
    let compiles: Vec<_> = compilers.into_iter().map(|c| c.join().unwrap()).collect();
    eprintln!("compiles (time, ok): {compiles:?}");
    let mut gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    let p50 = gaps[gaps.len() / 2];
    let p99 = gaps[(gaps.len() * 99 / 100).min(gaps.len() - 1)];
    eprintln!("token gaps while 10 schemas compile: p50 {p50:?} p99 {p99:?} max {:?}", gaps.last().unwrap());
    // Were a compile to run on the engine thread, some gap would last a whole compile. Ten
    // compiling threads share the cores with the engine thread, so gaps do grow; the bound is
    // half the fastest compile, well above CPU sharing and well below a stall.
    let fastest = compiles.iter().map(|c| c.0).min().unwrap();
    assert!(fastest > Duration::from_millis(200), "the schemas are hostile enough to tell: {fastest:?}");
    let max = *gaps.last().unwrap();
    assert!(max < fastest / 2, "a token waited {max:?}; the fastest compile took {fastest:?}");
}

/// A large schema: many properties with patterns and nested objects, different per `i`.
fn hostile_schema(i: usize) -> serde_json::Value {
    let mut props = serde_json::Map::new();
    for k in 0..150 {
        props.insert(
            format!("f{i}_{k}"),
            serde_json::json!({
                "type": "object",
                "properties": {
                    "a": {"type": "string", "pattern": format!("^[a-z]{{{k},{}}}[0-9]{{2,9}}$", k + 7)},
                    "b": {"type": "array", "items": {"type": "integer", "minimum": k, "maximum": k * 1000 + 7}, "minItems": 1, "maxItems": 9},
                    "c": {"anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]},
                },
                "required": ["a", "b", "c"],
            }),
        );
    }
    serde_json::json!({"type": "object", "properties": props, "required": props.keys().collect::<Vec<_>>()})
}
