//! The complexity score: a number in [0, 1] from rules over the request's text, computed
//! before anything is generated (as RouteLLM decides from the prompt alone), in one pass of a
//! precompiled automaton plus one pass over the lines: no model call, no per-call regex.
//!
//! Six features, each in [0, 1], each saturating at a configurable count
//! ([`ComplexityConfig`]):
//!
//! | feature      | counts                                                                   |
//! |--------------|--------------------------------------------------------------------------|
//! | `length`     | characters, up to `long_input_chars`                                     |
//! | `code`       | code lines: inside ```` ``` ```` fences, or outside them lines that end   |
//! |              | in `;` `{` `}` or start like a definition (`def `, `fn `, `class `, …)   |
//! | `reasoning`  | reasoning markers ([`REASONING_MARKERS`]: why, prove, trade-off, …)       |
//! | `multi_step` | step markers ([`STEP_MARKERS`]: first, then, finally, …) and numbered lines |
//! | `questions`  | question marks outside code fences, followed by a space or the end       |
//! | `jargon`     | distinct terms of [`JARGON`] plus the config's `jargon` list             |
//!
//! The score is the weighted mean of the features (`[complexity.weights]`).
//!
//! Cost: a text longer than 2 × [`SCAN_WINDOW_BYTES`] is scanned in its first and last
//! [`SCAN_WINDOW_BYTES`] only (instructions sit at the ends; a long text already scores on
//! length), and the marker scan stops once every marker feature is saturated, so a decision
//! takes the same time for 20 KiB as for 4 MiB.

use serde::{Deserialize, Serialize};

use crate::config::ComplexityConfig;
use crate::lexicon::{Lexicon, head, tail};

/// Bytes at each end of a long text in which markers, code lines and questions are counted
/// (the whole text when it is at most twice this).
pub const SCAN_WINDOW_BYTES: usize = 8 * 1024;

/// Words and phrases that ask for reasoning (a trailing `*` marks a stem).
pub const REASONING_MARKERS: &[&str] = &[
    "why",
    "prove",
    "proof",
    "derive",
    "explain",
    "reason*",
    "trade-off*",
    "tradeoff*",
    "pros and cons",
    "compare",
    "analy*",
    "evaluate",
    "justify",
    "implication*",
    "root cause",
    "step by step",
    "think through",
    "what if",
    "design",
    "architect*",
    "optimi*",
    "edge case*",
    "counterexample",
    "assum*",
    "constraint*",
    "correctness",
];

/// Words and phrases that mark several steps (numbered lines count too).
pub const STEP_MARKERS: &[&str] = &[
    "first",
    "second",
    "third",
    "then",
    "next",
    "finally",
    "after that",
    "afterwards",
    "subsequently",
    "followed by",
    "step",
    "steps",
    "in addition",
    "as well as",
    "once that",
];

/// Built-in specialist terms (software, data, maths, science, law, finance, medicine).
pub const JARGON: &[&str] = &[
    "algorithm*",
    "asymptotic",
    "big-o",
    "concurren*",
    "race condition",
    "deadlock",
    "mutex",
    "lock-free",
    "latency",
    "throughput",
    "distributed",
    "consensus",
    "idempoten*",
    "kubernetes",
    "microservice*",
    "cryptograph*",
    "compiler",
    "borrow checker",
    "lifetime*",
    "monad*",
    "polymorphi*",
    "recursion",
    "memoiz*",
    "dynamic programming",
    "gradient",
    "eigen*",
    "regression",
    "bayesian",
    "stochastic",
    "probabilit*",
    "theorem",
    "lemma",
    "integral",
    "derivative",
    "differential",
    "topolog*",
    "quantum",
    "thermodynamic*",
    "genom*",
    "pharmacokinetic*",
    "diagnos*",
    "liabilit*",
    "indemnif*",
    "jurisdiction",
    "amortiz*",
    "derivatives",
    "arbitrage",
    "covariance",
    "heteroscedastic*",
    "transformer",
    "embedding*",
    "quantiz*",
];

/// What kind of feature a lexicon entry counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Reasoning,
    Step,
    Jargon,
}

/// The per-feature values ([0, 1] each) behind a score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Input length.
    pub length: f64,
    /// Code in the input.
    pub code: f64,
    /// Reasoning markers.
    pub reasoning: f64,
    /// Multi-step markers.
    pub multi_step: f64,
    /// Questions.
    pub questions: f64,
    /// Domain jargon.
    pub jargon: f64,
}

/// The raw counts behind the features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Characters (counted up to the saturation point).
    pub chars: usize,
    /// Code lines.
    pub code_lines: u32,
    /// Reasoning markers.
    pub reasoning_markers: u32,
    /// Step markers and numbered lines.
    pub steps: u32,
    /// Question marks.
    pub questions: u32,
    /// Distinct jargon terms.
    pub jargon_terms: u32,
}

/// A complexity score with its breakdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Complexity {
    /// The weighted mean of the features, in [0, 1].
    pub score: f64,
    /// Each feature's value.
    pub features: Features,
    /// The counts the features come from.
    pub counts: Counts,
}

/// The complexity rules of one config, compiled once.
#[derive(Debug, Clone)]
pub struct Scorer {
    config: ComplexityConfig,
    lexicon: Lexicon<Marker>,
    /// The lexicon id of the first jargon term.
    jargon_start: usize,
    /// How many jargon terms the lexicon holds.
    jargon_terms: usize,
}

impl Scorer {
    /// Compiles the rules of `config` (built-in lists plus its `jargon`).
    pub fn new(config: &ComplexityConfig) -> Self {
        let entries = REASONING_MARKERS
            .iter()
            .map(|w| (*w, Marker::Reasoning))
            .chain(STEP_MARKERS.iter().map(|w| (*w, Marker::Step)))
            .chain(JARGON.iter().map(|w| (*w, Marker::Jargon)))
            .chain(config.jargon.iter().map(|w| (w.as_str(), Marker::Jargon)));
        let lexicon = Lexicon::new(entries);
        // Built-in lists have no empty entries, so every id from here on is a jargon term.
        let jargon_start = REASONING_MARKERS.len() + STEP_MARKERS.len();
        let jargon_terms = lexicon.len() - jargon_start;
        Scorer { config: config.clone(), lexicon, jargon_start, jargon_terms }
    }

    /// The config the scorer was built from.
    pub fn config(&self) -> &ComplexityConfig {
        &self.config
    }

    /// Scores `text`.
    pub fn score(&self, text: &str) -> Complexity {
        let c = &self.config;
        let mut counts = Counts { chars: text.chars().take(c.long_input_chars).count(), ..Counts::default() };
        // Markers are counted in the head and the tail of a long text only, so a decision
        // costs the same for 20 KiB and for 4 MiB (a long text already scores on length).
        let (first, last) = if text.len() <= 2 * SCAN_WINDOW_BYTES {
            (text, None)
        } else {
            (head(text, SCAN_WINDOW_BYTES), Some(tail(text, SCAN_WINDOW_BYTES)))
        };
        let saturated = |n: &Counts| {
            n.reasoning_markers >= c.many_reasoning_markers
                && n.steps >= c.many_steps
                && n.jargon_terms >= c.many_jargon_terms
        };
        let mut seen = vec![0u64; self.jargon_terms.div_ceil(64)];
        for window in std::iter::once(first).chain(last) {
            scan_lines(window, &mut counts);
            self.lexicon.scan(window, |hit| {
                match hit.kind {
                    Marker::Reasoning => counts.reasoning_markers += 1,
                    Marker::Step => counts.steps += 1,
                    Marker::Jargon => {
                        let bit = hit.id - self.jargon_start;
                        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
                        if seen[word] & mask == 0 {
                            seen[word] |= mask;
                            counts.jargon_terms += 1;
                        }
                    }
                }
                // Past every saturation point more matches change nothing.
                !saturated(&counts)
            });
        }

        let ratio = |n: f64, sat: f64| (n / sat).min(1.0);
        let features = Features {
            length: ratio(counts.chars as f64, c.long_input_chars.max(1) as f64),
            code: ratio(counts.code_lines.into(), c.many_code_lines.max(1).into()),
            reasoning: ratio(counts.reasoning_markers.into(), c.many_reasoning_markers.max(1).into()),
            multi_step: ratio(counts.steps.into(), c.many_steps.max(1).into()),
            questions: ratio(counts.questions.into(), c.many_questions.max(1).into()),
            jargon: ratio(counts.jargon_terms.into(), c.many_jargon_terms.max(1).into()),
        };
        let w = &c.weights;
        let pairs = [
            (w.length, features.length),
            (w.code, features.code),
            (w.reasoning, features.reasoning),
            (w.multi_step, features.multi_step),
            (w.questions, features.questions),
            (w.jargon, features.jargon),
        ];
        let total: f64 = pairs.iter().map(|(w, _)| w.max(0.0)).sum();
        let score = if total > 0.0 {
            (pairs.iter().map(|(w, f)| w.max(0.0) * f).sum::<f64>() / total).clamp(0.0, 1.0)
        } else {
            0.0
        };
        Complexity { score, features, counts }
    }
}

/// Definition-like line starts that mark code outside fences.
const CODE_STARTS: &[&str] = &[
    "def ",
    "fn ",
    "pub fn ",
    "class ",
    "import ",
    "from ",
    "#include",
    "function ",
    "return ",
    "const ",
    "let ",
    "var ",
    "public ",
    "private ",
    "async ",
    "if (",
    "for (",
    "while (",
    "select ",
    "impl ",
    "struct ",
    "package ",
    "func ",
];

/// One pass over the lines: code lines, numbered lines (as steps), question marks.
fn scan_lines(text: &str, counts: &mut Counts) {
    let mut in_fence = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            if !trimmed.is_empty() {
                counts.code_lines += 1;
            }
            continue;
        }
        if looks_like_code(trimmed) {
            counts.code_lines += 1;
        }
        if is_numbered(trimmed) {
            counts.steps += 1;
        }
        let bytes = trimmed.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'?' && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace() || *n == b'"') {
                counts.questions += 1;
            }
        }
    }
}

fn looks_like_code(line: &str) -> bool {
    if line.is_empty() {
        return false;
    }
    let ends = line.ends_with(';') || line.ends_with('{') || line.ends_with('}');
    ends || CODE_STARTS.iter().any(|s| starts_with_ignore_case(line, s))
}

fn starts_with_ignore_case(line: &str, prefix: &str) -> bool {
    line.len() >= prefix.len() && line.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `1.`, `2)`, `10.` followed by a space.
fn is_numbered(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    (1..=3).contains(&digits)
        && matches!(line.as_bytes().get(digits), Some(b'.' | b')'))
        && line.as_bytes().get(digits + 1).is_some_and(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ComplexityWeights;

    fn scorer() -> Scorer {
        Scorer::new(&ComplexityConfig::default())
    }

    fn only(feature: fn(&mut ComplexityWeights)) -> Scorer {
        let mut weights = ComplexityWeights {
            length: 0.0,
            code: 0.0,
            reasoning: 0.0,
            multi_step: 0.0,
            questions: 0.0,
            jargon: 0.0,
        };
        feature(&mut weights);
        Scorer::new(&ComplexityConfig { weights, ..ComplexityConfig::default() })
    }

    #[test]
    fn a_short_plain_request_scores_near_zero() {
        let c = scorer().score("Classify the sentiment: I love this phone.");
        assert!(c.score < 0.1, "{c:?}");
        assert_eq!(c.counts.code_lines + c.counts.questions + c.counts.jargon_terms, 0);
    }

    #[test]
    fn a_hard_request_scores_high() {
        let text = "First, explain why the borrow checker rejects this code. Then compare two designs \
                    and analyze the trade-offs for latency and throughput under concurrency. Finally, \
                    prove the lock-free version has no race condition. What are the edge cases? \
                    Which assumptions break?\n```rust\nfn f(v: &mut Vec<i32>) {\n    let a = &v[0];\n    \
                    v.push(1);\n    println!(\"{a}\");\n}\n```\n";
        let c = scorer().score(text);
        assert!(c.score > 0.6, "{c:?}");
        assert_eq!(c.features.reasoning, 1.0);
        assert_eq!(c.features.multi_step, 1.0);
        assert_eq!(c.features.jargon, 1.0);
        assert_eq!(c.counts.code_lines, 5);
        assert_eq!(c.counts.questions, 2);
    }

    #[test]
    fn each_feature_saturates_at_its_configured_count() {
        let length = only(|w| w.length = 1.0);
        let c = ComplexityConfig::default();
        assert_eq!(length.score(&"é".repeat(c.long_input_chars / 2)).score, 0.5);
        assert_eq!(length.score(&"a".repeat(c.long_input_chars * 3)).score, 1.0);
        assert_eq!(length.score(&"a".repeat(c.long_input_chars * 3)).counts.chars, c.long_input_chars);

        let questions = only(|w| w.questions = 1.0);
        assert!((questions.score("Why? How? ").score - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(questions.score("a? b? c? d?").score, 1.0);
        assert_eq!(questions.score("```\nx?.y()?\n```\nlet y = x?;").counts.questions, 0);

        let steps = only(|w| w.multi_step = 1.0);
        let s = steps.score("1. fetch\n2) parse\n10. store\n2024. was a year\n");
        assert_eq!(s.counts.steps, 3);
        assert_eq!(s.score, 1.0);
    }

    #[test]
    fn jargon_counts_distinct_terms_and_config_terms() {
        let s = scorer();
        assert_eq!(s.score("gradient gradient gradient").counts.jargon_terms, 1);
        assert_eq!(s.score("gradient and eigenvalues").counts.jargon_terms, 2);
        let custom = Scorer::new(&ComplexityConfig {
            jargon: vec!["basel iii".into(), "tier 1 capital".into()],
            ..ComplexityConfig::default()
        });
        assert_eq!(custom.score("Basel III tier 1 capital rules").counts.jargon_terms, 2);
        assert_eq!(s.score("Basel III tier 1 capital rules").counts.jargon_terms, 0);
    }

    #[test]
    fn code_lines_are_found_in_and_out_of_fences() {
        let s = scorer();
        assert_eq!(s.score("```\na\n\nb\n```").counts.code_lines, 2);
        assert_eq!(s.score("def f(x):\n    return x\nint y = 2;\nplain words").counts.code_lines, 3);
        assert_eq!(s.score("an unclosed fence\n```\nx\ny").counts.code_lines, 2);
    }

    #[test]
    fn weights_change_the_mean_and_zero_weights_give_zero() {
        let text = "why why why";
        assert_eq!(only(|w| w.reasoning = 1.0).score(text).score, 1.0);
        let half = only(|w| {
            w.reasoning = 1.0;
            w.code = 1.0;
        });
        assert_eq!(half.score(text).score, 0.5);
        assert_eq!(only(|_| {}).score(text).score, 0.0);
    }

    #[test]
    fn long_texts_are_scanned_at_both_ends_only() {
        let s = scorer();
        let filler = "plain words here. ".repeat(SCAN_WINDOW_BYTES / 10);
        let text = format!("why {filler} why {filler} why");
        assert_eq!(s.score(&text).counts.reasoning_markers, 2, "the middle one is not counted");
        let short = format!("why {} why", "x ".repeat(100));
        assert_eq!(s.score(&short).counts.reasoning_markers, 2);
        // Counting stops past saturation, which changes no feature.
        let many = "why gradient first eigen then lemma finally theorem ".repeat(100);
        let c = s.score(&many);
        assert_eq!((c.features.reasoning, c.features.multi_step, c.features.jargon), (1.0, 1.0, 1.0));
        assert!(c.counts.reasoning_markers < 100, "{:?}", c.counts);
    }

    #[test]
    fn the_score_stays_in_range_on_odd_input() {
        let s = scorer();
        for text in ["", "?", "\u{0}\u{10FFFF}", &"why? ".repeat(10_000), "```", "1.", "é?"] {
            let c = s.score(text);
            assert!((0.0..=1.0).contains(&c.score), "{text:?}: {c:?}");
        }
    }
}
