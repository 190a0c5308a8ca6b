//! Stop strings over streamed text.

use hearth_sampler::{SamplerError, StopMatcher, StopState};
use proptest::prelude::*;

/// Feeds `chunks`; returns everything emitted (including `finish`) and the stop index.
fn stream(stops: &[&str], chunks: &[&str]) -> (String, Option<usize>) {
    let mut m = StopMatcher::new(stops.iter().copied()).unwrap();
    let mut out = String::new();
    for c in chunks {
        let st = m.push(c);
        out.push_str(&st.emit);
        if let Some(i) = st.stopped {
            return (out, Some(i));
        }
    }
    out.push_str(&m.finish());
    (out, None)
}

#[test]
fn no_stop_passes_text_through() {
    assert_eq!(stream(&["STOP"], &["hello", " world"]), ("hello world".into(), None));
    assert_eq!(stream(&[], &["a", "b"]), ("ab".into(), None));
}

#[test]
fn stop_inside_one_chunk() {
    assert_eq!(stream(&["END"], &["abcENDdef"]), ("abc".into(), Some(0)));
}

#[test]
fn stop_split_across_chunks_is_never_emitted() {
    let mut m = StopMatcher::new(["</s>"]).unwrap();
    assert_eq!(m.push("Hello <"), StopState { emit: "Hello ".into(), stopped: None });
    assert_eq!(m.push("/"), StopState { emit: String::new(), stopped: None });
    assert_eq!(m.push("s"), StopState { emit: String::new(), stopped: None });
    assert_eq!(m.push(">tail"), StopState { emit: String::new(), stopped: Some(0) });
    assert_eq!(m.finish(), "");
}

#[test]
fn held_text_is_released_when_the_match_fails() {
    let mut m = StopMatcher::new(["abc"]).unwrap();
    assert_eq!(m.push("xab").emit, "x");
    assert_eq!(m.push("d").emit, "abd");
    assert_eq!(m.push("ab").emit, "");
    assert_eq!(m.finish(), "ab");
}

#[test]
fn overlapping_prefixes() {
    // "ab" could start "abc" or "abd".
    assert_eq!(stream(&["abc", "abd"], &["x", "ab", "d", "y"]), ("x".into(), Some(1)));
    assert_eq!(stream(&["abc", "abd"], &["ab", "e"]), ("abe".into(), None));
    // A failed partial match that contains the start of a real one: "aab" in "aaab".
    assert_eq!(stream(&["aab"], &["a", "a", "a", "b"]), ("a".into(), Some(0)));
    // Self-overlapping stop: "abab" in "abaabab".
    assert_eq!(stream(&["abab"], &["aba", "aba", "b"]), ("aba".into(), Some(0)));
}

#[test]
fn multiple_stops_first_completed_wins() {
    // Read character by character, "c" completes before "abcd".
    assert_eq!(stream(&["abcd", "c"], &["abcd"]), ("ab".into(), Some(1)));
    assert_eq!(stream(&["abcd", "c"], &["ab", "cd"]), ("ab".into(), Some(1)));
    // Same end: the longer one (which starts earlier) wins.
    assert_eq!(stream(&["bc", "abc"], &["xabc"]), ("x".into(), Some(1)));
    // Identical strings: the first listed.
    assert_eq!(stream(&["x", "x"], &["ax"]), ("a".into(), Some(0)));
}

#[test]
fn stop_at_the_very_start() {
    assert_eq!(stream(&["###"], &["###", "more"]), (String::new(), Some(0)));
    assert_eq!(stream(&["\n"], &["\nfoo"]), (String::new(), Some(0)));
}

#[test]
fn after_a_stop_nothing_more_is_emitted() {
    let mut m = StopMatcher::new(["."]).unwrap();
    assert_eq!(m.push("a.b").stopped, Some(0));
    assert_eq!(m.push("more"), StopState { emit: String::new(), stopped: Some(0) });
    assert_eq!(m.stopped(), Some(0));
    assert_eq!(m.finish(), "");
    m.reset();
    assert_eq!(m.push("ok").emit, "ok");
}

#[test]
fn unicode_stops_and_text() {
    assert_eq!(stream(&["→ fin"], &["déjà ", "→", " f", "in", "!"]), ("déjà ".into(), Some(0)));
    assert_eq!(stream(&["日本"], &["こんにちは日", "本語"]), ("こんにちは".into(), Some(0)));
    assert_eq!(stream(&["🤖🚀"], &["a🤖", "b"]), ("a🤖b".into(), None));
    // Stops that share their first bytes but not their first char: "é" is C3 A9, "è" C3 A8.
    assert_eq!(stream(&["é!"], &["è", "é", "!"]), ("è".into(), Some(0)));
}

#[test]
fn empty_stop_strings_are_refused() {
    assert_eq!(StopMatcher::new(["a", ""]).unwrap_err(), SamplerError::EmptyStop { index: 1 });
}

/// The reference: the first stop completed reading `text` char by char.
fn reference(stops: &[String], text: &str) -> (String, Option<usize>) {
    for (end, _) in text.char_indices().map(|(i, c)| (i + c.len_utf8(), c)) {
        let prefix = &text[..end];
        let mut best: Option<(usize, usize)> = None; // (len, index): longest, then first listed
        for (i, s) in stops.iter().enumerate() {
            if prefix.ends_with(s.as_str()) && best.is_none_or(|(len, _)| s.len() > len) {
                best = Some((s.len(), i));
            }
        }
        if let Some((len, i)) = best {
            return (prefix[..end - len].to_string(), Some(i));
        }
    }
    (text.to_string(), None)
}

/// Splits `text` at the given char positions.
fn chunk(text: &str, cuts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (chars.len() + 1)).collect();
    cuts.push(chars.len());
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts {
        out.push(chars[at..c].iter().collect());
        at = c;
    }
    out
}

proptest! {
    #[test]
    fn any_chunking_gives_the_char_by_char_result(
        stops in proptest::collection::vec("[abé]{1,4}", 0..4),
        text in "[abéc]{0,40}",
        cuts in proptest::collection::vec(0usize..64, 0..12),
    ) {
        let chunks = chunk(&text, &cuts);
        let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let stop_refs: Vec<&str> = stops.iter().map(String::as_str).collect();
        prop_assert_eq!(stream(&stop_refs, &refs), reference(&stops, &text));
    }
}
