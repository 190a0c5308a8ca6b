use std::ops::ControlFlow;

use hearth_engine::{DraftLength, Engine, Prompt, SamplingParams, Speculation};

use crate::{engine, greedy};

/// Extraction from a given text: the output copies spans of the input, where prompt lookup
/// drafts well.
const REPETITIVE: &str = "Copy the list exactly.\nList: apples, pears, plums, cherries, grapes, lemons, limes, figs.\nCopy: apples, pears, plums,";

fn run(
    e: &Engine,
    spec: Option<Speculation>,
    req: &hearth_engine::Request,
) -> (Vec<u32>, String, (usize, usize)) {
    let mut s = e.session();
    s.speculate(spec).unwrap();
    let mut g = s.stream(req).unwrap();
    let mut text = String::new();
    for ev in g.by_ref() {
        text.push_str(&ev.unwrap().text);
    }
    let stats = g.speculation_stats();
    let done = g.completion().unwrap();
    assert_eq!(done.text, text);
    (done.ids, done.text, stats)
}

#[test]
fn ngram_speculation_gives_exactly_the_plain_greedy_tokens() {
    let Some(e) = engine() else { return };
    let req = greedy(REPETITIVE, 40);
    let (plain, _, _) = run(&e, None, &req);
    let (spec, _, (drafted, accepted)) = run(&e, Some(Speculation::ngram()), &req);
    assert_eq!(spec, plain);
    assert!(drafted > 0 && accepted > 0, "drafted {drafted}, accepted {accepted}");
}

#[test]
fn fixed_and_adaptive_draft_lengths_give_the_same_tokens() {
    let Some(e) = engine() else { return };
    let req = greedy(REPETITIVE, 40);
    let (plain, _, _) = run(&e, None, &req);
    let mut s = e.session();
    s.speculate_with(Some(Speculation::ngram()), DraftLength::Fixed).unwrap();
    let mut g = s.stream(&req).unwrap();
    for ev in g.by_ref() {
        ev.unwrap();
    }
    let (drafted, accepted) = g.speculation_stats();
    assert_eq!(g.completion().unwrap().ids, plain);
    assert!(drafted > 0 && accepted > 0, "drafted {drafted}, accepted {accepted}");
    let (adaptive, _, _) = run(&e, Some(Speculation::ngram()), &req);
    assert_eq!(adaptive, plain);
}

#[test]
fn speculation_keeps_seeded_sampling_identical() {
    let Some(e) = engine() else { return };
    let mut req = greedy(REPETITIVE, 40);
    req.sampling = SamplingParams { seed: Some(7), temperature: 0.9, ..SamplingParams::default() };
    let (plain, _, _) = run(&e, None, &req);
    let (spec, _, _) = run(&e, Some(Speculation::ngram()), &req);
    assert_eq!(spec, plain);
}

#[test]
fn a_draft_model_gives_exactly_the_plain_greedy_tokens() {
    let Some(e) = engine() else { return };
    // The same model as its own draft: every draft is accepted, which exercises the longest
    // verification runs; the output must not change.
    let draft = Speculation::DraftModel { engine: e.clone(), max_draft: 4 };
    let req = greedy("The history of the printing press", 24);
    let (plain, _, _) = run(&e, None, &req);
    let (spec, _, (drafted, accepted)) = run(&e, Some(draft), &req);
    assert_eq!(spec, plain);
    assert_eq!(drafted, accepted, "a model agrees with itself");
}

#[test]
fn speculation_respects_max_tokens_stop_strings_and_the_context() {
    let Some(e) = engine() else { return };
    for n in [1, 2, 7] {
        let req = greedy(REPETITIVE, n);
        let (plain, _, _) = run(&e, None, &req);
        let (spec, _, _) = run(&e, Some(Speculation::ngram()), &req);
        assert_eq!(spec, plain);
        assert_eq!(spec.len(), n);
    }
    let mut req = greedy(REPETITIVE, 40);
    req.stop = vec!["figs".into()];
    let (plain, pt, _) = run(&e, None, &req);
    let (spec, st, _) = run(&e, Some(Speculation::ngram()), &req);
    assert_eq!((spec, st), (plain, pt));

    let mut long = greedy(&"a b c d ".repeat(120), 200);
    long.ignore_eos = true;
    let (plain, _, _) = run(&e, None, &long);
    let (spec, _, _) = run(&e, Some(Speculation::ngram()), &long);
    assert_eq!(spec, plain);
    let _ = Prompt::text("");
    let _ = ControlFlow::<()>::Continue(());
}
