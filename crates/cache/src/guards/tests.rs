//! The guards on hand-made cases: each guard refuses what it exists for and lets rewordings
//! through.

use super::*;

fn verdict(a: &str, b: &str) -> Result<(), GuardReason> {
    let (fa, fb) = (Features::of(a), Features::of(b));
    let v = check(&fa, &fb);
    assert_eq!(v, check(&fb, &fa), "not symmetric: {a:?} / {b:?}");
    v
}

#[test]
fn rewordings_pass() {
    for (a, b) in [
        ("How do I reverse a list in Python?", "how do i reverse a list in python"),
        ("Please summarize this article.", "Can you give me a summary of this article?"),
        ("Turn on dark mode", "Enable dark mode"),
        ("Give me 3 examples of prime numbers", "Give me three examples of prime numbers"),
        ("Convert this JSON to YAML", "Turn this JSON into YAML"),
        ("In Python, how do I read a CSV file?", "How do I read a CSV file in Python?"),
        ("What is the capital of France?", "What's the capital of France"),
        ("Write a regular expression for dates", "Write a regex for dates"),
    ] {
        assert_eq!(verdict(a, b), Ok(()), "{a:?} / {b:?}");
    }
}

#[test]
fn each_guard_refuses_its_case() {
    use GuardReason::*;
    for (a, b, why) in [
        ("Is this email spam?", "Is this email not spam?", Negation),
        ("Sort it using sorted()", "Sort it without sorted()", Negation),
        ("Why does the build fail?", "Why doesn't the build fail?", Negation),
        ("Turn on dark mode", "Turn off dark mode", Polarity),
        ("Enable dark mode", "Disable dark mode", Polarity),
        ("Sort in ascending order", "Sort in descending order", Polarity),
        ("Events before the merger", "Events after the merger", Polarity),
        ("Zoom in on the chart", "Zoom out on the chart", Polarity),
        ("Give me three examples", "Give me five examples", Number),
        ("Give me 2 of them", "Give me two or 3 of them", Number),
        ("Python 3.10 release notes", "Python 3.1 release notes", Number),
        ("Translate this into French", "Translate this into German", Entity),
        ("Is Paris bigger than London?", "Is London bigger than Paris?", Order),
        ("Did Germany beat Brazil?", "Did Brazil beat Germany?", Order),
        ("Convert celsius to fahrenheit", "Convert fahrenheit to celsius", Order),
        ("Convert the date to ISO format", "Convert the date from ISO format", Order),
        ("Sort by name then by date", "Sort by date then by name", Order),
        (
            "Classify: the food was great but the service was slow",
            "Classify: the food was slow but the service was great",
            Order,
        ),
        ("What is the function of a TV?", "What is the function of money?", Entity),
        ("What is the function of a television?", "What is the function of money?", Content),
        ("Summarize this email", "Translate this email", Content),
        ("Write a function computing the median", "Write a function computing the mean", Content),
    ] {
        assert_eq!(verdict(a, b), Err(why), "{a:?} / {b:?}");
    }
}

#[test]
fn weak_polarity_words_are_prepositions_alone() {
    // "in", "on", "show" are mostly prepositions/filler: alone on one side they pass …
    assert_eq!(verdict("Read a CSV file in Python", "Read a CSV file with Python"), Ok(()));
    assert_eq!(verdict("Show me the logs", "Print the logs"), Err(GuardReason::Content));
    // … but never against the other side
    assert_eq!(verdict("Show hidden files", "Hide hidden files"), Err(GuardReason::Polarity));
    assert_eq!(verdict("Log in to the site", "Log out of the site"), Err(GuardReason::Content));
}

#[test]
fn features_read_what_they_should() {
    let f = Features::of("Don't send 2 emails to Alice before the 3rd of May; use smtp_client.");
    assert_eq!(f.negations, 1);
    assert_eq!(f.numbers(), ["2", "ord:3"]);
    assert!(f.entities.contains("alice") && f.entities.contains("may") && f.entities.contains("smtp_client"));
    assert!(f.polarity.contains_key("time"));
    let (before, after) = &f.directions["to"];
    assert!(
        before.contains("#2") && after.contains(&canonical("alice")) && after.contains("#ord:3"),
        "{before:?} {after:?}"
    );
    assert!(f.content().contains("email") && !f.content().contains("the"));
}
