//! Regex, Lark and choices; sampling with temperature and penalties; forced tokens; the
//! serving engine's path; length cut-offs, stop strings and errors.

use hearth_engine::{
    Constraint, EngineError, Event, GrammarError, Prompt, Request, SamplingParams, Scheduler,
    SchedulerOptions, StopReason,
};
use serde_json::{Value, json};

use crate::{chat, engine};

fn run(req: &Request) -> hearth_engine::Completion {
    let engine = engine().expect("checked by the caller");
    engine.session().generate(req, |_| std::ops::ControlFlow::Continue(())).expect("generation")
}

fn constrained(user: &str, max_tokens: usize, c: Constraint) -> Request {
    let mut r = chat(user, max_tokens);
    r.constraint = Some(c);
    r
}

fn validates(schema: &Value, text: &str) -> bool {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return false,
    };
    jsonschema::options().should_validate_formats(true).build(schema).expect("schema").is_valid(&v)
}

#[test]
fn regex_output_matches() {
    if engine().is_none() {
        return;
    }
    let rx = r"\+[0-9]{2} [0-9]{3} [0-9]{3} [0-9]{4}";
    let done = run(&constrained(
        "Invent a phone number for a fictional German office.",
        40,
        Constraint::Regex(rx.into()),
    ));
    assert_eq!(done.stop_reason, StopReason::Eos, "{done:?}");
    let full = regex::Regex::new(&format!("^(?:{rx})$")).unwrap();
    assert!(full.is_match(&done.text), "{:?} does not match {rx}", done.text);

    // A grammar that ends after three letters: the generation ends there, no EOS needed.
    let done = run(&constrained("Write a three letter word.", 20, Constraint::Regex("[a-z]{3}".into())));
    assert_eq!(done.stop_reason, StopReason::Eos);
    assert!(done.text.len() == 3 && done.text.bytes().all(|b| b.is_ascii_lowercase()), "{:?}", done.text);
}

#[test]
fn lark_output_is_in_the_language() {
    if engine().is_none() {
        return;
    }
    let lark = r#"
        start: "SELECT " columns " FROM " TABLE (" WHERE " cond)? ";"
        columns: COLUMN (", " COLUMN)*
        cond: COLUMN " = " NUMBER
        COLUMN: /[a-z_]{1,12}/
        TABLE: /[a-z_]{1,12}/
        NUMBER: /[0-9]{1,6}/
    "#;
    let done = run(&constrained(
        "Write a SQL query that selects the name and email of the user with id 7 from the users table.",
        60,
        Constraint::Lark(lark.into()),
    ));
    assert_eq!(done.stop_reason, StopReason::Eos, "{done:?}");
    let same = regex::Regex::new(
        r"^SELECT [a-z_]{1,12}(, [a-z_]{1,12})* FROM [a-z_]{1,12}( WHERE [a-z_]{1,12} = [0-9]{1,6})?;$",
    )
    .unwrap();
    assert!(same.is_match(&done.text), "{:?}", done.text);
}

#[test]
fn choices_and_json_object() {
    if engine().is_none() {
        return;
    }
    let labels = vec!["positive".to_string(), "negative".to_string(), "mixed".to_string()];
    let done = run(&constrained(
        "Sentiment of: 'The food was great but the service was slow.' Answer with one word.",
        10,
        Constraint::Choices(labels.clone()),
    ));
    assert!(labels.contains(&done.text), "{:?}", done.text);
    assert_eq!(done.stop_reason, StopReason::Eos);

    let done = run(&constrained(
        "Give the cat Tom, aged 3, as a JSON object with keys name and age.",
        100,
        Constraint::JsonObject,
    ));
    assert_eq!(done.stop_reason, StopReason::Eos, "{done:?}");
    let v: Value = serde_json::from_str(&done.text).unwrap_or_else(|e| panic!("{e}: {}", done.text));
    assert!(v.is_object());
}

#[test]
fn fully_forced_output_needs_no_sampling() {
    let Some(engine) = engine() else { return };
    let req = constrained("Say anything.", 50, Constraint::Choices(vec!["{\"status\": \"ok\"}".into()]));
    let mut session = engine.session();
    let mut generation = session.stream(&req).unwrap();
    let mut events = Vec::new();
    for ev in generation.by_ref() {
        events.push(ev.unwrap());
    }
    let stats = generation.grammar_stats().unwrap();
    let done = generation.completion().unwrap();
    assert_eq!(done.text, "{\"status\": \"ok\"}");
    assert_eq!(done.stop_reason, StopReason::Eos);
    assert_eq!(stats.checks, 0, "nothing was sampled");
    assert_eq!(stats.forced as usize, done.completion_tokens);
    assert!(events.iter().all(|e| e.logprob.is_nan()), "forced tokens have no logprob");
    assert_eq!(events.iter().map(|e| e.text.as_str()).collect::<String>(), done.text);
}

#[test]
fn temperature_and_penalties_keep_the_output_valid() {
    if engine().is_none() {
        return;
    }
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "colors": {"type": "array", "items": {"enum": ["red", "green", "blue", "black"]}, "minItems": 1, "maxItems": 3},
            "score": {"type": "integer", "minimum": 0, "maximum": 10},
        },
        "required": ["name", "colors", "score"],
        "additionalProperties": false,
    });
    for seed in 1..=3u64 {
        let mut req = constrained(
            "Invent a sports team with its colors and a score.",
            80,
            Constraint::JsonSchema(schema.clone()),
        );
        req.sampling = SamplingParams {
            seed: Some(seed),
            temperature: 1.0,
            repetition_penalty: 1.3,
            frequency_penalty: 0.5,
            presence_penalty: 0.5,
            ..SamplingParams::default()
        };
        let done = run(&req);
        assert_eq!(done.stop_reason, StopReason::Eos, "seed {seed}: {}", done.text);
        assert!(validates(&schema, &done.text), "seed {seed}: {}", done.text);
        // Seeded: the same run repeats.
        assert_eq!(run(&req).ids, done.ids, "seed {seed}");
    }
}

#[test]
fn max_tokens_inside_the_structure_is_length() {
    if engine().is_none() {
        return;
    }
    let schema = json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "string"}, "minItems": 5}}, "required": ["items"]});
    let done = run(&constrained("List five fruits.", 6, Constraint::JsonSchema(schema)));
    assert_eq!(done.stop_reason, StopReason::Length);
    assert_eq!(done.completion_tokens, 6);
    assert!(done.text.starts_with("{\"items\": ["), "{:?}", done.text);
    assert!(serde_json::from_str::<Value>(&done.text).is_err(), "the output is incomplete");
}

#[test]
fn stop_strings_and_ignore_eos_with_a_grammar() {
    if engine().is_none() {
        return;
    }
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"], "additionalProperties": false});
    let mut req = constrained("Give a=1 and b=2 as JSON.", 40, Constraint::JsonSchema(schema.clone()));
    req.stop = vec![", ".into()];
    let done = run(&req);
    assert_eq!(done.stop_reason, StopReason::Stop);
    assert_eq!(done.text, "{\"a\": 1");

    // A finished grammar ends the generation even when EOS is ignored.
    let mut req = constrained("Give a=1 and b=2 as JSON.", 40, Constraint::JsonSchema(schema.clone()));
    req.ignore_eos = true;
    let done = run(&req);
    assert_eq!(done.stop_reason, StopReason::Eos);
    assert!(validates(&schema, &done.text), "{}", done.text);
}

#[test]
fn bad_constraints_fail_before_generating() {
    let Some(engine) = engine() else { return };
    let mut session = engine.session();
    let cases = [
        Constraint::JsonSchema(json!({"type": "array", "uniqueItems": true})),
        Constraint::Regex("(unclosed".into()),
        Constraint::Lark("start: missing_rule".into()),
        Constraint::Choices(vec![]),
    ];
    for c in cases {
        let err = session.stream(&constrained("hi", 5, c.clone())).map(|_| ()).unwrap_err();
        assert!(matches!(err, EngineError::Grammar(_)), "{c:?}: {err:?}");
    }
    let err = session
        .stream(&constrained("hi", 5, Constraint::JsonSchema(json!({"not": {}}))))
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("`not`"), "{err}");
    // The session still works afterwards.
    assert_eq!(
        run(&constrained("Yes or no?", 5, Constraint::Choices(vec!["yes".into(), "no".into()]))).stop_reason,
        StopReason::Eos
    );
}

#[test]
fn a_matcher_error_mid_generation_is_a_clean_error() {
    let Some(engine) = engine() else { return };
    let tok = engine.tokenizer();
    // The grammar allows only a digit; the request bans every digit token.
    let digits: Vec<u32> =
        (0..10).map(|d| tok.encode(&d.to_string(), hearth_tokenizer::Specials::NONE)[0]).collect();
    let mut req = constrained("Pick a digit.", 5, Constraint::Regex("[0-9]".into()));
    req.sampling.logit_bias = digits.iter().map(|&t| (t, f32::NEG_INFINITY)).collect();
    let mut session = engine.session();
    let err = session.generate(&req, |_| std::ops::ControlFlow::Continue(())).unwrap_err();
    assert!(matches!(err, EngineError::Grammar(GrammarError::Matcher(_))), "{err:?}");
    // And the session is usable again.
    let done = session
        .generate(&constrained("Pick a digit.", 5, Constraint::Regex("[0-9]".into())), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert!(digits.contains(&done.ids[0]) && done.stop_reason == StopReason::Eos, "{done:?}");
}

#[test]
fn the_serving_engine_gives_the_same_constrained_json_as_a_session() {
    // The scheduler feeds decoding sequences one token per pass and forced tokens come out of
    // the following passes; a session feeds them all at once. Both give the same valid JSON.
    let Some(engine) = engine() else { return };
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}, "population_millions": {"type": "number", "minimum": 0, "maximum": 50}},
        "required": ["city", "population_millions"],
        "additionalProperties": false,
    });
    let req = constrained(
        "Extract: 'Tokyo has about 14 million people.'",
        60,
        Constraint::JsonSchema(schema.clone()),
    );
    let solo = run(&req);
    assert!(validates(&schema, &solo.text), "{}", solo.text);

    let scheduler = Scheduler::start(engine.clone(), SchedulerOptions { slots: 2, max_queue: 2 });
    let (tx, rx) = std::sync::mpsc::channel();
    scheduler.submit(&req, move |ev| tx.send(ev).is_ok()).unwrap();
    let served = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the engine answered") {
            Event::Done(c) => break c,
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert_eq!(served.stop_reason, StopReason::Eos);
    assert_eq!(served.text, solo.text);
    assert_eq!(served.ids, solo.ids);
}

#[test]
fn raw_prompts_work_too() {
    if engine().is_none() {
        return;
    }
    let mut req = Request::new(Prompt::text("The answer, as JSON with a boolean field \"ok\":"));
    req.sampling = SamplingParams::greedy();
    req.max_tokens = 20;
    let schema = json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": false});
    req.constraint = Some(Constraint::JsonSchema(schema.clone()));
    let done = run(&req);
    assert!(validates(&schema, &done.text), "{}", done.text);
}
