//! The pairwise judge for open-ended task types (summaries, chat, code): the judge sees the
//! request and two answers, A and B, and names the better one or a tie, in a JSON verdict
//! whose schema is enforced by structured output. It is asked twice with the answers
//! swapped, because judges favour a position (Zheng et al., "Judging LLM-as-a-judge", 2023:
//! MT-Bench's pairwise judge does the same and calls an inconsistent pair a tie).
//!
//! The local answer *agrees* when, over both orders, it is not worse than the judge's own
//! answer: a win or tie in both, or an inconsistent pair (a tie). It disagrees only when the
//! judge prefers its own answer in both orders.

use hearth_router::{SampledRequest, Turn};
use serde::Deserialize;
use serde_json::{Value, json};

/// The judge's instructions.
pub const SYSTEM: &str = "You are an impartial judge of AI assistants' answers. You compare two answers to the same request and decide which one better does what the user asked: correct, complete, relevant, and as concise as the task allows. Do not let the answers' order, their length or the assistants' names influence you. Think briefly, then give your verdict.";

/// Which answer the judge preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    /// The first answer shown.
    A,
    /// The second.
    B,
    /// Neither.
    Tie,
}

/// The verdict's JSON schema (structured output).
pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "reasoning": {"type": "string", "description": "One or two sentences on the decisive difference."},
            "winner": {"type": "string", "enum": ["A", "B", "tie"]}
        },
        "required": ["reasoning", "winner"],
        "additionalProperties": false
    })
}

/// The judge request for `request` with answers `a` and `b` in that order.
pub fn prompt(request: &SampledRequest, a: &str, b: &str, max_tokens: u32) -> SampledRequest {
    let mut asked = String::new();
    if let Some(system) = &request.system {
        asked.push_str(&format!("[System prompt]\n{system}\n\n"));
    }
    for turn in &request.messages {
        asked.push_str(&format!("[{}]\n{}\n\n", turn.role, turn.text));
    }
    let text = format!(
        "Here is a request to an AI assistant, then two answers to it.\n\n<request>\n{}</request>\n\n<answer_a>\n{a}\n</answer_a>\n\n<answer_b>\n{b}\n</answer_b>\n\nWhich answer is better? Answer with JSON: {{\"reasoning\": \"...\", \"winner\": \"A\" | \"B\" | \"tie\"}}.",
        asked
    );
    SampledRequest {
        system: Some(SYSTEM.into()),
        messages: vec![Turn::user(text)],
        schema: Some(schema()),
        max_tokens: Some(max_tokens),
    }
}

/// The winner a judge's answer names, or why it cannot be read.
pub fn parse(text: &str) -> Result<Winner, String> {
    #[derive(Deserialize)]
    struct Verdict {
        winner: String,
    }
    let t =
        text.trim().trim_start_matches("```json").trim_start_matches("```").trim_end_matches("```").trim();
    let v: Verdict =
        serde_json::from_str(t).map_err(|e| format!("the verdict is not the schema's JSON ({e})"))?;
    match v.winner.trim().to_ascii_lowercase().as_str() {
        "a" => Ok(Winner::A),
        "b" => Ok(Winner::B),
        "tie" => Ok(Winner::Tie),
        other => Err(format!("the verdict names {other:?}, not A, B or tie")),
    }
}

/// Whether the local answer agrees, from the verdict with it as A (`local_first`) and the
/// verdict with it as B (`local_second`).
pub fn agrees(local_first: Winner, local_second: Winner) -> bool {
    !(local_first == Winner::B && local_second == Winner::A)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_consistent_loss_disagrees() {
        use Winner::*;
        assert!(agrees(A, B) && agrees(Tie, Tie) && agrees(A, A) && agrees(B, B) && agrees(Tie, A));
        assert!(!agrees(B, A));
    }

    #[test]
    fn verdicts_parse_or_say_why_not() {
        assert_eq!(parse(r#"{"reasoning": "x", "winner": "A"}"#), Ok(Winner::A));
        assert_eq!(parse("```json\n{\"reasoning\": \"x\", \"winner\": \"tie\"}\n```"), Ok(Winner::Tie));
        assert!(parse(r#"{"winner": "C"}"#).is_err());
        assert!(parse("A is better").is_err());
    }

    #[test]
    fn the_prompt_shows_both_answers_in_order_with_the_schema() {
        let req = SampledRequest {
            system: Some("Be brief.".into()),
            messages: vec![Turn::user("Summarize: the cat sat.")],
            schema: None,
            max_tokens: None,
        };
        let p = prompt(&req, "first", "second", 512);
        let text = &p.messages[0].text;
        assert!(text.find("first").expect("a") < text.find("second").expect("b"));
        assert!(text.contains("Be brief.") && text.contains("the cat sat"));
        assert_eq!(p.schema, Some(schema()));
        assert_eq!(p.max_tokens, Some(512));
    }
}
