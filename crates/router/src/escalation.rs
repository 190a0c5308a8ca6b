//! Escalation on evidence from the local answer (FrugalGPT/AutoMix's cascade, with the
//! engine's own token probabilities): [`should_escalate`] compares an answer's [`Evidence`]
//! with the route's thresholds.
//!
//! Checks, in order (the first that fires is the reason):
//!
//! 1. `invalid_output`: the answer is empty or whitespace (`escalate_on_empty`); generation
//!    stopped at the token limit inside an unfinished JSON value (`escalate_on_length_in_json`;
//!    small models do loop inside strings); the answer refuses the task
//!    (`escalate_on_refusal`, see [`is_refusal`]).
//! 2. `low_confidence`: the mean log-probability of the content tokens is below
//!    `min_mean_logprob`; the lowest one is below `min_token_logprob`; for classify/tag
//!    answers, the chosen label's probability leads the runner-up's by less than
//!    `min_label_margin`. Strictly below: a value equal to its threshold passes.
//!
//! A route without `escalate_to` never escalates.

use serde::{Deserialize, Serialize};

use crate::config::Route;
use crate::reason::Reason;

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// End of turn or a stop sequence.
    Stop,
    /// The token limit (`max_tokens` or the context).
    Length,
}

/// What the router knows about a local answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Mean log-probability of the content tokens (`None`: not measured, e.g. no tokens).
    pub mean_logprob: Option<f64>,
    /// Lowest log-probability among the content tokens.
    pub min_logprob: Option<f64>,
    /// For classify/tag: probability of the chosen label token minus the runner-up's.
    pub label_margin: Option<f64>,
    /// Why generation stopped.
    pub finish: Finish,
    /// The answer was meant to be JSON and a JSON value is still open at its end.
    pub unfinished_json: bool,
    /// The answer is empty or whitespace only.
    pub empty: bool,
    /// The answer refuses the task ([`is_refusal`]).
    pub refused: bool,
    /// The request offered tools and the answer is not a valid call or text (a call cut
    /// short by the token limit): escalated as invalid output.
    #[serde(default)]
    pub invalid_tool_call: bool,
}

impl Evidence {
    /// The evidence of an answer `text`, its token log-probabilities, how it stopped, whether
    /// JSON was expected (a `response_format`, a JSON grammar) and, for label answers, the
    /// label margin.
    pub fn of_answer(
        text: &str,
        logprobs: &[f32],
        finish: Finish,
        json_expected: bool,
        label_margin: Option<f64>,
    ) -> Evidence {
        let mean = (!logprobs.is_empty())
            .then(|| logprobs.iter().map(|&l| f64::from(l)).sum::<f64>() / logprobs.len() as f64);
        let min = logprobs.iter().map(|&l| f64::from(l)).reduce(f64::min);
        Evidence {
            mean_logprob: mean,
            min_logprob: min,
            label_margin,
            finish,
            unfinished_json: json_expected && json_left_open(text),
            empty: text.trim().is_empty(),
            refused: is_refusal(text),
            invalid_tool_call: false,
        }
    }

    /// This evidence with [`Evidence::invalid_tool_call`] set to `invalid`.
    pub fn with_invalid_tool_call(mut self, invalid: bool) -> Evidence {
        self.invalid_tool_call = invalid;
        self
    }
}

/// The tasks whose answers are labels, for which a route's `min_label_margin` applies.
pub const LABEL_TASKS: &[&str] = &["classify", "tag"];

/// Whether `route` judges `task`'s answers by their label margin (a `min_label_margin`, a
/// label task): the local answer must then be generated with at least two alternatives per
/// token.
pub fn wants_label_margin(route: &Route, task: &str) -> bool {
    route.escalate_to.is_some() && route.min_label_margin.is_some() && LABEL_TASKS.contains(&task)
}

/// The label margin of an answer, from its tokens in order as `(text, logprob, best
/// alternative's logprob)`: at the first token with a letter or digit (the label's first
/// piece, past whitespace and JSON punctuation such as `{"label": "`), the chosen token's
/// probability minus the most likely other token's. `None` when no token has a letter or
/// digit, or that token has no known alternative (generated without `top_logprobs`).
pub fn label_margin<'a>(tokens: impl IntoIterator<Item = (&'a str, f64, Option<f64>)>) -> Option<f64> {
    let (_, chosen, alternative) =
        tokens.into_iter().find(|(text, _, _)| text.chars().any(char::is_alphanumeric))?;
    let alternative = alternative?;
    (chosen.is_finite()).then(|| chosen.exp() - if alternative.is_finite() { alternative.exp() } else { 0.0 })
}

/// Whether the answer should go to the route's `escalate_to`, and why.
pub fn should_escalate(route: &Route, evidence: &Evidence) -> Option<Reason> {
    route.escalate_to.as_ref()?;
    let below = |value: Option<f64>, threshold: Option<f64>| matches!((value, threshold), (Some(v), Some(t)) if v < t);
    if (route.escalate_on_empty && evidence.empty)
        || (route.escalate_on_length_in_json && evidence.finish == Finish::Length && evidence.unfinished_json)
        || (route.escalate_on_refusal && evidence.refused)
        || evidence.invalid_tool_call
    {
        return Some(Reason::InvalidOutput);
    }
    if below(evidence.mean_logprob, route.min_mean_logprob)
        || below(evidence.min_logprob, route.min_token_logprob)
        || below(evidence.label_margin, route.min_label_margin)
    {
        return Some(Reason::LowConfidence);
    }
    None
}

/// Refusal openings, matched case-insensitively (with `’` read as `'`) in the first
/// [`REFUSAL_WINDOW`] bytes of the answer: a refusal comes first, while a real answer that
/// quotes one ("the error says I cannot …") rarely starts with it.
pub const REFUSALS: &[&str] = &[
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i can't provide",
    "i cannot provide",
    "i can't do that",
    "i cannot do that",
    "i can't comply",
    "i cannot comply",
    "i won't be able to",
    "i will not be able to",
    "i'm unable to",
    "i am unable to",
    "i'm not able to",
    "i am not able to",
    "i'm sorry, but i can",
    "i am sorry, but i can",
    "sorry, but i can't",
    "sorry, i can't",
    "as an ai language model",
    "as an ai, i can",
];

/// How many bytes at the start of an answer [`is_refusal`] reads.
pub const REFUSAL_WINDOW: usize = 160;

/// Whether `answer` opens with a refusal ([`REFUSALS`] within its first [`REFUSAL_WINDOW`]
/// bytes, after leading whitespace).
pub fn is_refusal(answer: &str) -> bool {
    let mut window = [0u8; REFUSAL_WINDOW];
    let mut len = 0;
    for c in answer.trim_start().chars() {
        let c = if c == '\u{2019}' { '\'' } else { c.to_ascii_lowercase() };
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        if len + bytes.len() > REFUSAL_WINDOW {
            break;
        }
        window[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    }
    let window = &window[..len];
    REFUSALS.iter().any(|r| window.windows(r.len()).any(|w| w == r.as_bytes()))
}

/// Whether a JSON value is still open at the end of `text`: an unclosed string, object or
/// array (what a generation cut at the token limit leaves). Text outside JSON values (a
/// model's preamble, prose between values) is skipped: scanning starts at each `{` or `[`
/// found outside a value.
pub fn json_left_open(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'{' || b == b'[') {
        match value_end(&bytes[i + offset..]) {
            Some(len) => i += offset + len,
            None => return true,
        }
    }
    false
}

/// The length of the JSON value opening `bytes` (which starts with `{` or `[`), or `None`
/// when it is still open at the end.
fn value_end(bytes: &[u8]) -> Option<usize> {
    let mut depth: u32 = 0;
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Route {
        Route {
            tasks: vec!["classify".into()],
            target: "small".into(),
            max_complexity: None,
            escalate_to: Some("claude".into()),
            min_mean_logprob: Some(-1.0),
            min_token_logprob: Some(-6.0),
            min_label_margin: Some(0.2),
            escalate_on_length_in_json: true,
            escalate_on_empty: true,
            escalate_on_refusal: true,
            buffer_streams: false,
            fallback: None,
            on_budget: None,
            pinned: false,
        }
    }

    fn fine() -> Evidence {
        Evidence {
            mean_logprob: Some(-0.2),
            min_logprob: Some(-2.0),
            label_margin: Some(0.9),
            finish: Finish::Stop,
            unfinished_json: false,
            empty: false,
            refused: false,
            invalid_tool_call: false,
        }
    }

    #[test]
    fn a_confident_complete_answer_stays() {
        assert_eq!(should_escalate(&route(), &fine()), None);
    }

    #[test]
    fn thresholds_fire_strictly_below_and_pass_at_equality() {
        let r = route();
        type Setter = fn(&mut Evidence, f64);
        let cases: [(Setter, f64); 3] = [
            (|e, v| e.mean_logprob = Some(v), -1.0),
            (|e, v| e.min_logprob = Some(v), -6.0),
            (|e, v| e.label_margin = Some(v), 0.2),
        ];
        for (set, threshold) in cases {
            let mut e = fine();
            set(&mut e, threshold);
            assert_eq!(should_escalate(&r, &e), None, "equal to {threshold} passes");
            set(&mut e, threshold - 1e-9);
            assert_eq!(should_escalate(&r, &e), Some(Reason::LowConfidence), "below {threshold}");
        }
    }

    #[test]
    fn unset_thresholds_and_missing_measurements_do_not_fire() {
        let r = Route { min_mean_logprob: None, min_token_logprob: None, min_label_margin: None, ..route() };
        let e = Evidence {
            mean_logprob: Some(-9.0),
            min_logprob: Some(-30.0),
            label_margin: Some(0.0),
            ..fine()
        };
        assert_eq!(should_escalate(&r, &e), None);
        let e = Evidence { mean_logprob: None, min_logprob: None, label_margin: None, ..fine() };
        assert_eq!(should_escalate(&route(), &e), None);
    }

    #[test]
    fn an_invalid_tool_call_escalates_as_invalid_output() {
        let e = fine().with_invalid_tool_call(true);
        assert_eq!(should_escalate(&route(), &e), Some(Reason::InvalidOutput));
        assert_eq!(should_escalate(&route(), &fine()), None);
        assert_eq!(should_escalate(&Route { escalate_to: None, ..route() }, &e), None);
    }

    #[test]
    fn invalid_outputs_escalate_and_each_switch_turns_its_check_off() {
        let r = route();
        let empty = Evidence { empty: true, mean_logprob: None, ..fine() };
        let cut = Evidence { finish: Finish::Length, unfinished_json: true, ..fine() };
        let refused = Evidence { refused: true, ..fine() };
        for e in [empty, cut, refused] {
            assert_eq!(should_escalate(&r, &e), Some(Reason::InvalidOutput), "{e:?}");
        }
        assert_eq!(should_escalate(&Route { escalate_on_empty: false, ..route() }, &empty), None);
        assert_eq!(should_escalate(&Route { escalate_on_length_in_json: false, ..route() }, &cut), None);
        assert_eq!(should_escalate(&Route { escalate_on_refusal: false, ..route() }, &refused), None);
        // Stopped normally with JSON open (a stop sequence), or cut outside JSON: not this check.
        assert_eq!(
            should_escalate(&r, &Evidence { finish: Finish::Stop, unfinished_json: true, ..fine() }),
            None
        );
        assert_eq!(should_escalate(&r, &Evidence { finish: Finish::Length, ..fine() }), None);
        // Invalid output wins over low confidence.
        let both = Evidence { mean_logprob: Some(-5.0), ..empty };
        assert_eq!(should_escalate(&r, &both), Some(Reason::InvalidOutput));
    }

    #[test]
    fn a_route_without_escalate_to_never_escalates() {
        let r = Route { escalate_to: None, ..route() };
        assert_eq!(should_escalate(&r, &Evidence { empty: true, mean_logprob: Some(-9.0), ..fine() }), None);
    }

    #[test]
    fn the_label_margin_is_read_at_the_first_word_token() {
        let ln = f64::ln;
        // Plain label: "Positive" chosen at 0.6 over "Negative" at 0.3.
        let m = label_margin([("Positive", ln(0.6), Some(ln(0.3)))]).expect("measured");
        assert!((m - 0.3).abs() < 1e-12, "{m}");
        // JSON label: punctuation and whitespace tokens are skipped.
        let tokens =
            [("{\"", ln(0.99), Some(ln(0.01))), ("label", ln(0.9), Some(ln(0.05))), ("\": \"", -0.01, None)];
        let m = label_margin(tokens).expect("measured");
        assert!((m - 0.85).abs() < 1e-12, "{m}");
        // Alternatives unknown, no word token, or an impossible alternative.
        assert_eq!(label_margin([("yes", -0.1, None)]), None);
        assert_eq!(label_margin([(" ", -0.1, Some(-3.0)), ("\n", -0.2, Some(-1.0))]), None);
        let m = label_margin([("yes", ln(0.5), Some(f64::NEG_INFINITY))]).expect("measured");
        assert!((m - 0.5).abs() < 1e-12);
        // A close call fires the route's threshold.
        let close = label_margin([("spam", ln(0.45), Some(ln(0.40)))]);
        let e = Evidence { label_margin: close, ..fine() };
        assert_eq!(should_escalate(&route(), &e), Some(Reason::LowConfidence));
    }

    #[test]
    fn only_label_tasks_on_escalating_routes_want_a_label_margin() {
        assert!(wants_label_margin(&route(), "classify"));
        assert!(wants_label_margin(&route(), "tag"));
        assert!(!wants_label_margin(&route(), "summarize"));
        assert!(!wants_label_margin(&Route { min_label_margin: None, ..route() }, "classify"));
        assert!(!wants_label_margin(&Route { escalate_to: None, ..route() }, "classify"));
    }

    #[test]
    fn refusals_are_found_at_the_start_only() {
        assert!(is_refusal("I'm sorry, but I can't help with that."));
        assert!(is_refusal("  I CANNOT assist with this request."));
        assert!(is_refusal("Sorry, I can\u{2019}t do that."));
        assert!(is_refusal("As an AI language model, I do not have opinions."));
        assert!(!is_refusal("positive"));
        assert!(!is_refusal(""));
        let late = format!("{} I cannot help it.", "The report lists the quarterly figures.".repeat(5));
        assert!(!is_refusal(&late));
        assert!(!is_refusal(&"é".repeat(500)));
    }

    #[test]
    fn open_json_is_detected_through_strings_and_escapes() {
        assert!(json_left_open(r#"{"name": "Ada", "tags": ["a", "b"#));
        assert!(json_left_open(r#"{"text": "la la la la"#));
        assert!(json_left_open(r#"Here you go: [{"a": "x\"}"#));
        assert!(!json_left_open(r#"{"a": "}{", "b": [1, 2]}"#));
        assert!(!json_left_open(r#"Sure: {"a": 1} and "more" text"#));
        assert!(json_left_open(r#"[1] then [2, "#));
        assert!(!json_left_open("no json at all"));
        assert!(!json_left_open(""));
    }

    #[test]
    fn evidence_of_an_answer_measures_it() {
        let e = Evidence::of_answer(r#"{"a": "loop loop"#, &[-0.5, -1.5, -0.1], Finish::Length, true, None);
        assert!((e.mean_logprob.expect("mean") - (-0.7)).abs() < 1e-6);
        assert_eq!(e.min_logprob, Some(-1.5));
        assert!(e.unfinished_json && !e.empty && !e.refused);
        assert_eq!(should_escalate(&route(), &e), Some(Reason::InvalidOutput));
        let e = Evidence::of_answer(r#"{"a": "loop"#, &[], Finish::Length, false, Some(0.5));
        assert!(!e.unfinished_json, "JSON not expected");
        assert_eq!((e.mean_logprob, e.min_logprob, e.label_margin), (None, None, Some(0.5)));
        assert!(Evidence::of_answer(" \n", &[], Finish::Stop, false, None).empty);
    }
}
