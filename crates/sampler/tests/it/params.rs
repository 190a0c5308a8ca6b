//! Invalid parameters are refused with errors that say which.

use hearth_sampler::{Sampler, SamplerError, SamplingParams};

fn err(p: SamplingParams) -> SamplerError {
    Sampler::new(p, 100).expect_err("must be refused")
}

#[test]
fn defaults_are_llama_cpp_s() {
    let p = SamplingParams::default();
    assert_eq!((p.temperature, p.top_k, p.top_p, p.min_p), (0.8, 40, 0.95, 0.05));
    assert_eq!(
        (p.repetition_penalty, p.frequency_penalty, p.presence_penalty, p.penalty_last_n),
        (1.0, 0.0, 0.0, 64)
    );
    assert_eq!((p.seed, p.logit_bias.len(), p.logprobs, p.n_logprobs), (None, 0, false, 0));
    p.validate().unwrap();
    SamplingParams::greedy().validate().unwrap();
}

#[test]
fn top_p_must_be_in_zero_one() {
    for v in [0.0, -0.1, 1.01, f32::NAN] {
        let e = err(SamplingParams { top_p: v, ..SamplingParams::default() });
        assert!(matches!(e, SamplerError::TopP(_)), "{v}: {e}");
    }
    SamplingParams { top_p: 1.0, ..SamplingParams::default() }.validate().unwrap();
}

#[test]
fn min_p_must_be_in_zero_one() {
    for v in [-0.01, 1.5, f32::NAN] {
        assert!(matches!(
            err(SamplingParams { min_p: v, ..SamplingParams::default() }),
            SamplerError::MinP(_)
        ));
    }
}

#[test]
fn temperature_must_be_finite() {
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert!(matches!(
            err(SamplingParams { temperature: v, ..SamplingParams::default() }),
            SamplerError::Temperature(_)
        ));
    }
}

#[test]
fn penalties_must_be_sane() {
    for v in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let e = err(SamplingParams { repetition_penalty: v, ..SamplingParams::default() });
        assert!(matches!(e, SamplerError::RepetitionPenalty(_)));
    }
    let e = err(SamplingParams { frequency_penalty: f32::NAN, ..SamplingParams::default() });
    assert!(matches!(e, SamplerError::Penalty { name: "frequency_penalty", value } if value.is_nan()));
    let e = err(SamplingParams { presence_penalty: f32::INFINITY, ..SamplingParams::default() });
    assert_eq!(e, SamplerError::Penalty { name: "presence_penalty", value: f32::INFINITY });
    assert!(e.to_string().contains("presence_penalty"));
}

#[test]
fn logit_bias_must_be_finite_or_a_ban() {
    let bad = |bias| err(SamplingParams { logit_bias: vec![(3, bias)], ..SamplingParams::default() });
    assert!(matches!(bad(f32::NAN), SamplerError::LogitBias { token: 3, .. }));
    assert!(matches!(bad(f32::INFINITY), SamplerError::LogitBias { token: 3, .. }));
    Sampler::new(
        SamplingParams { logit_bias: vec![(3, f32::NEG_INFINITY)], ..SamplingParams::default() },
        100,
    )
    .unwrap();
}

#[test]
fn logit_bias_tokens_must_be_in_the_vocabulary() {
    let e = err(SamplingParams { logit_bias: vec![(1, 1.0), (100, 1.0)], ..SamplingParams::default() });
    assert_eq!(e, SamplerError::TokenOutOfRange { token: 100, n_vocab: 100 });
}

#[test]
fn vocabulary_must_not_be_empty() {
    assert_eq!(Sampler::new(SamplingParams::default(), 0).unwrap_err(), SamplerError::VocabSize(0));
}

#[test]
#[should_panic(expected = "n_vocab")]
fn wrong_logits_length_is_a_caller_bug() {
    let mut s = Sampler::new(SamplingParams::default(), 10).unwrap();
    s.sample(&[0.0; 9]);
}
