//! Fuzz target: `hearth_server::validate_request` on arbitrary bytes, for both endpoints,
//! must return a validated request or a 400 in OpenAI's error shape — never panic, overflow
//! or hang. When it accepts, the request must hold what validation promises: every sampling
//! value in range, at least one token to generate, stop strings non-empty and few, no JSON
//! Schema `format` left that the grammar engine would refuse, and warnings fit for a header.
#![no_main]

use hearth_engine::Constraint;
use hearth_server::{CallSyntax, Endpoint, ModelShape, ValidatedRequest, validate_request};
use libfuzzer_sys::fuzz_target;

const MODEL: ModelShape = ModelShape { n_ctx: 512, n_vocab: 1000, tool_syntax: CallSyntax::Hermes };

fuzz_target!(|data: &[u8]| {
    for endpoint in [Endpoint::Chat, Endpoint::Completions] {
        match validate_request(data, endpoint, MODEL) {
            Ok(v) => check_valid(&v),
            Err(e) => {
                assert_eq!(e.status, 400, "{e:?}");
                assert!(!e.message.is_empty());
                let json: serde_json::Value = serde_json::from_str(&e.to_json()).expect("error JSON");
                assert_eq!(json["error"]["type"], "invalid_request_error");
            }
        }
    }
});

fn check_valid(v: &ValidatedRequest) {
    let r = &v.request;
    let s = &r.sampling;
    assert!((0.0..=2.0).contains(&s.temperature), "{s:?}");
    assert!(s.top_p > 0.0 && s.top_p <= 1.0, "{s:?}");
    assert!((0.0..=1.0).contains(&s.min_p), "{s:?}");
    assert!((-2.0..=2.0).contains(&s.presence_penalty) && (-2.0..=2.0).contains(&s.frequency_penalty));
    assert!(s.repetition_penalty.is_finite() && s.repetition_penalty > 0.0);
    assert!(s.logit_bias.iter().all(|&(id, b)| (id as usize) < MODEL.n_vocab && (b <= 100.0)));
    assert!(v.logprobs.is_none_or(|n| n <= 20));
    assert!(r.max_tokens >= 1);
    assert!(r.stop.len() <= 16 && r.stop.iter().all(|s| !s.is_empty()));
    if let Some(Constraint::JsonSchema(schema)) = &r.constraint {
        assert!(schema.is_object() || schema.is_boolean());
        assert!(hearth_grammar::unknown_formats(schema).is_empty(), "{schema}");
    }
    assert!(v.warnings.iter().all(|w| w.contains("ignored unknown format")), "{:?}", v.warnings);
}
