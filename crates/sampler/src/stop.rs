//! [`StopMatcher`]: stop strings over streamed, decoded text.

use crate::SamplerError;

/// What one [`StopMatcher::push`] produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StopState {
    /// Text that is safe to show: it cannot be part of a stop string. On a match, everything
    /// before the stop string that was not emitted yet.
    pub emit: String,
    /// Index (in the list given to [`StopMatcher::new`]) of the stop string that matched.
    /// Once set, generation should end; later pushes emit nothing and repeat it.
    pub stopped: Option<usize>,
}

/// Finds stop strings in text fed chunk by chunk (one decoded token at a time), holding back
/// any tail that could begin a stop string so that a stop string split across tokens is
/// never emitted.
///
/// The result does not depend on how the text is chunked: the match reported is the first
/// stop string to be completed reading the text character by character (on a tie, the longer
/// one, then the first listed), and the text emitted in total is everything before it. Text
/// after the stop string is dropped. Works on `&str`, so the caller's detokenizer must hold
/// back incomplete UTF-8 sequences.
#[derive(Clone, Debug)]
pub struct StopMatcher {
    stops: Vec<String>,
    /// Text received but not emitted: a suffix that is a proper prefix of some stop string.
    held: String,
    stopped: Option<usize>,
}

impl StopMatcher {
    /// A matcher for `stops` (may be empty: nothing ever matches). Empty strings are refused.
    pub fn new<I, S>(stops: I) -> Result<Self, SamplerError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let stops: Vec<String> = stops.into_iter().map(Into::into).collect();
        if let Some(index) = stops.iter().position(String::is_empty) {
            return Err(SamplerError::EmptyStop { index });
        }
        Ok(Self { stops, held: String::new(), stopped: None })
    }

    /// The stop strings, in the order given.
    pub fn stops(&self) -> &[String] {
        &self.stops
    }

    /// The index of the stop string that matched, if one did.
    pub fn stopped(&self) -> Option<usize> {
        self.stopped
    }

    /// Feeds the next chunk of decoded text.
    pub fn push(&mut self, text: &str) -> StopState {
        if self.stopped.is_some() {
            return StopState { emit: String::new(), stopped: self.stopped };
        }
        self.held.push_str(text);

        // The earliest-ending occurrence of any stop string (the leftmost occurrence of a
        // string is also its earliest-ending one); ties to the longer, then the first listed.
        let mut best: Option<(usize, usize, usize)> = None; // (end, start, index)
        for (index, stop) in self.stops.iter().enumerate() {
            if let Some(start) = self.held.find(stop.as_str()) {
                let key = (start + stop.len(), start, index);
                let better = best.is_none_or(|(end, s, _)| (key.0, key.1) < (end, s));
                if better {
                    best = Some(key);
                }
            }
        }
        if let Some((_, start, index)) = best {
            self.held.truncate(start);
            self.stopped = Some(index);
            return StopState { emit: std::mem::take(&mut self.held), stopped: self.stopped };
        }

        let keep = self.partial_match_len();
        let rest = self.held.split_off(self.held.len() - keep);
        StopState { emit: std::mem::replace(&mut self.held, rest), stopped: None }
    }

    /// Ends the stream: returns the held-back text (empty if a stop string matched) and
    /// clears the buffer.
    pub fn finish(&mut self) -> String {
        if self.stopped.is_some() {
            self.held.clear();
            return String::new();
        }
        std::mem::take(&mut self.held)
    }

    /// Ready for a new stream with the same stop strings.
    pub fn reset(&mut self) {
        self.held.clear();
        self.stopped = None;
    }

    /// Byte length of the longest suffix of `held` that is a proper prefix of a stop string
    /// (always a char boundary: stop strings start with a char's first byte).
    fn partial_match_len(&self) -> usize {
        let held = self.held.as_bytes();
        let mut best = 0;
        for stop in &self.stops {
            let stop = stop.as_bytes();
            let longest = (stop.len() - 1).min(held.len());
            for len in (best + 1..=longest).rev() {
                if held.ends_with(&stop[..len]) && self.held.is_char_boundary(held.len() - len) {
                    best = len;
                    break;
                }
            }
        }
        best
    }
}
