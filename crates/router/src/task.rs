//! The task type of a request: what the caller says it is (`metadata.task` in the request
//! body, or the `X-Hearth-Task` header), else a rule-based guess from the text.
//!
//! # The guess
//!
//! The rules look at the first 2 KiB of the text (where instructions usually are), then, if
//! nothing matched there, at the last 1 KiB (an instruction after a pasted document). Each
//! task has a list of words and phrases ([`TASK_WORDS`]); matching is case-insensitive and at
//! word boundaries.
//!
//! 1. **Strong words** name the job: `classify`/`categorize`/`sentiment` (classify),
//!    `tag`/`keywords` (tag), `extract`/`pull out` (extract), `summarize`/`tl;dr` (summarize),
//!    `translate` (translate), `plan`/`roadmap` (plan), `traceback`/`debug`/`doesn't work`
//!    (debug), `function`/`implement`/`refactor`/`regex` (code), `why`/`prove`/`trade-off`
//!    (reason). The earliest strong word wins: "Summarize this traceback" is `summarize`,
//!    "Here is a traceback; summarize it" is `debug`.
//! 2. Else **weak words** (`write`, `draft`, `compose`, `generate`, `create`, `rewrite`):
//!    `generate`.
//! 3. Else a code fence (```` ``` ````) in those windows: `code`.
//! 4. Else `chat`.
//!
//! A task given by the caller is trimmed and lowercased; any name is accepted (routes may list
//! tasks the guess never produces).

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::lexicon::{Lexicon, head, tail};

/// Sorting into given categories.
pub const CLASSIFY: &str = "classify";
/// Labelling with tags or keywords.
pub const TAG: &str = "tag";
/// Pulling fields out of text.
pub const EXTRACT: &str = "extract";
/// Shortening text.
pub const SUMMARIZE: &str = "summarize";
/// Translating between languages.
pub const TRANSLATE: &str = "translate";
/// Planning a piece of work.
pub const PLAN: &str = "plan";
/// Finding why something fails.
pub const DEBUG: &str = "debug";
/// Writing or changing code.
pub const CODE: &str = "code";
/// Explaining, proving, comparing.
pub const REASON: &str = "reason";
/// Writing prose (emails, stories, posts).
pub const GENERATE: &str = "generate";
/// Anything else.
pub const CHAT: &str = "chat";

/// Every task the guess can produce, most specific first.
pub const KNOWN_TASKS: [&str; 11] =
    [CLASSIFY, TAG, EXTRACT, SUMMARIZE, TRANSLATE, PLAN, DEBUG, CODE, REASON, GENERATE, CHAT];

/// Where a request's task type came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskSource {
    /// The caller named it (`metadata.task` or `X-Hearth-Task`).
    Given,
    /// Guessed from the text by the rules above.
    Guessed,
}

impl TaskSource {
    /// `given` or `guessed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskSource::Given => "given",
            TaskSource::Guessed => "guessed",
        }
    }
}

/// A request's task type and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task name, lowercase (`classify`).
    pub name: String,
    /// Given or guessed.
    pub source: TaskSource,
    /// For a guess, the word or phrase that decided it (`"summar"` for a stem, `"```"` for a
    /// code fence); `None` when given, or for the `chat` default.
    pub matched: Option<String>,
}

/// The byte budget of the head window the guess reads first.
pub const GUESS_HEAD_BYTES: usize = 2048;
/// The byte budget of the tail window read when the head matched nothing.
pub const GUESS_TAIL_BYTES: usize = 1024;

/// The words of each task (a trailing `*` marks a stem). Weak words are those of `generate`.
pub const TASK_WORDS: &[(&str, &[&str])] = &[
    (
        CLASSIFY,
        &[
            "classify",
            "classif*",
            "categoriz*",
            "categoris*",
            "which category",
            "sentiment",
            "is this spam",
            "spam or not",
            "positive or negative",
            "label this",
            "label the",
            "label each",
            "intent of",
        ],
    ),
    (TAG, &["tag", "tags", "tag this", "hashtag*", "keywords", "key words", "topics for"]),
    (
        EXTRACT,
        &[
            "extract*",
            "pull out",
            "named entities",
            "find all the",
            "list all the",
            "parse the following",
            "fill in the fields",
        ],
    ),
    (SUMMARIZE, &["summar*", "tl;dr", "tldr", "key points", "condense", "recap", "gist of"]),
    (TRANSLATE, &["translat*"]),
    (
        PLAN,
        &["plan", "plans", "planning", "roadmap", "milestones", "break down the work", "migration strategy"],
    ),
    (
        DEBUG,
        &[
            "debug*",
            "traceback",
            "stack trace",
            "stacktrace",
            "panicked at",
            "segfault",
            "segmentation fault",
            "exception",
            "bug",
            "bugs",
            "doesn't work",
            "does not work",
            "not working",
            "fails with",
            "failing test",
            "crash*",
            "fix this",
            "fix the error",
            "error:",
        ],
    ),
    (
        CODE,
        &[
            "function",
            "implement*",
            "refactor*",
            "code",
            "script",
            "regex",
            "sql query",
            "unit test*",
            "snippet",
            "algorithm",
            "class that",
            "compile*",
        ],
    ),
    (
        REASON,
        &[
            "why",
            "prove",
            "proof",
            "explain why",
            "reason about",
            "step by step",
            "think through",
            "trade-off*",
            "tradeoff*",
            "pros and cons",
            "compare",
            "analy*",
            "evaluate",
            "justify",
            "derive",
            "calculate",
        ],
    ),
    (GENERATE, &["write", "draft", "compose", "generate", "create", "rewrite", "paraphrase"]),
];

static TASK_LEXICON: LazyLock<Lexicon<&'static str>> = LazyLock::new(|| {
    Lexicon::new(TASK_WORDS.iter().flat_map(|(task, words)| words.iter().map(move |w| (*w, *task))))
});

/// The task of a request: `given` (from `metadata.task` or `X-Hearth-Task`) when present and
/// not blank, else [`guess`].
pub fn resolve(given: Option<&str>, text: &str) -> Task {
    match given.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Task { name: t.to_ascii_lowercase(), source: TaskSource::Given, matched: None },
        None => guess(text),
    }
}

/// Guesses the task from the text (rules in the module documentation).
pub fn guess(text: &str) -> Task {
    let first = head(text, GUESS_HEAD_BYTES);
    let last = (text.len() > first.len()).then(|| tail(text, GUESS_TAIL_BYTES));
    let found = earliest(first).or_else(|| last.and_then(earliest));
    let fenced = || first.contains("```") || last.is_some_and(|l| l.contains("```"));
    let (name, matched) = match found {
        Some((task, id)) => (task, Some(TASK_LEXICON.text(id).to_owned())),
        None if fenced() => (CODE, Some("```".to_owned())),
        None => (CHAT, None),
    };
    Task { name: name.to_owned(), source: TaskSource::Guessed, matched }
}

/// The earliest strong match, else the earliest weak one: (task, entry id).
fn earliest(window: &str) -> Option<(&'static str, usize)> {
    let mut strong: Option<(usize, &'static str, usize)> = None;
    let mut weak: Option<(usize, &'static str, usize)> = None;
    TASK_LEXICON.scan(window, |hit| {
        let slot = if hit.kind == GENERATE { &mut weak } else { &mut strong };
        // Overlapping entries can end in any order: keep the smallest start, and at equal
        // starts the longer (more specific) entry.
        let better = match *slot {
            None => true,
            Some((start, _, id)) => {
                hit.start < start
                    || (hit.start == start && TASK_LEXICON.text(hit.id).len() > TASK_LEXICON.text(id).len())
            }
        };
        if better {
            *slot = Some((hit.start, hit.kind, hit.id));
        }
        true
    });
    strong.or(weak).map(|(_, task, id)| (task, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guessed(text: &str) -> String {
        let t = guess(text);
        assert_eq!(t.source, TaskSource::Guessed);
        t.name
    }

    #[test]
    fn a_given_task_wins_and_is_normalized() {
        let t = resolve(Some("  Classify "), "write me a poem");
        assert_eq!(t, Task { name: "classify".into(), source: TaskSource::Given, matched: None });
        assert_eq!(resolve(Some("my-own-task"), "").name, "my-own-task");
        assert_eq!(resolve(Some("   "), "Summarize this").source, TaskSource::Guessed);
        assert_eq!(resolve(None, "Summarize this").name, SUMMARIZE);
    }

    #[test]
    fn each_task_has_a_typical_prompt() {
        let cases = [
            ("Classify the sentiment of this review: great phone", CLASSIFY),
            ("Is this spam or not? WIN A PRIZE", CLASSIFY),
            ("Suggest tags for this blog post about sourdough", TAG),
            ("Extract the invoice number and total as JSON", EXTRACT),
            ("Pull out every date mentioned below", EXTRACT),
            ("Summarize the following meeting notes", SUMMARIZE),
            ("tl;dr of this thread please", SUMMARIZE),
            ("Translate to German: good morning", TRANSLATE),
            ("Make a plan to migrate our Postgres 12 cluster to 16", PLAN),
            ("My build fails with: error: linker `cc` not found", DEBUG),
            ("Traceback (most recent call last): ...", DEBUG),
            ("Write a Python function that merges two sorted lists", CODE),
            ("Refactor this class to use dependency injection", CODE),
            ("Why does the moon always show the same face?", REASON),
            ("Prove that the square root of 2 is irrational", REASON),
            ("Write a short poem about autumn", GENERATE),
            ("Draft an email to my landlord", GENERATE),
            ("hello there, how are you", CHAT),
            ("", CHAT),
        ];
        for (text, want) in cases {
            assert_eq!(guessed(text), want, "{text:?}");
        }
    }

    #[test]
    fn the_earliest_strong_word_wins_over_later_ones_and_over_weak_words() {
        assert_eq!(guessed("Summarize this traceback: ..."), SUMMARIZE);
        assert_eq!(guessed("Here is a traceback; summarize it"), DEBUG);
        assert_eq!(guessed("Write a regex that extracts emails"), CODE);
        let t = guess("Write a plan for the launch");
        assert_eq!((t.name.as_str(), t.matched.as_deref()), (PLAN, Some("plan")));
    }

    #[test]
    fn words_inside_other_words_do_not_count() {
        assert_eq!(guessed("The stage lights of the planetarium"), CHAT);
        assert_eq!(guessed("debugger attached"), DEBUG, "debug is a stem");
    }

    #[test]
    fn a_code_fence_alone_means_code() {
        let t = guess("```rust\nlet x = 1;\n```");
        assert_eq!((t.name.as_str(), t.matched.as_deref()), (CODE, Some("```")));
    }

    #[test]
    fn an_instruction_after_a_long_document_is_found_in_the_tail() {
        let doc = "lorem ipsum dolor sit amet ".repeat(400);
        assert_eq!(guessed(&format!("{doc}\n\nSummarize the text above.")), SUMMARIZE);
        let middle = format!("{doc}classify{doc}");
        assert_eq!(guessed(&middle), CHAT, "only the head and the tail are read");
    }

    #[test]
    fn every_task_word_list_is_reachable_and_known() {
        for (task, words) in TASK_WORDS {
            assert!(KNOWN_TASKS.contains(task));
            for w in *words {
                let probe = w.trim_end_matches('*');
                assert_eq!(guessed(probe), *task, "{w:?}");
            }
        }
    }
}
