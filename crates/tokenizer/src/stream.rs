//! Incremental decoding for streamed generation.

use crate::tokenizer::Tokenizer;

/// Joins byte pieces into text, holding back the bytes of a character that is not complete
/// yet, so no chunk ever ends in the middle of a UTF-8 sequence.
///
/// Bytes that can never become valid UTF-8 are replaced by U+FFFD as soon as that is certain;
/// [`Utf8Stream::finish`] flushes what is left, lossily. Owns its state (no borrow of the
/// tokenizer), so a sequence can keep one next to its other state.
#[derive(Clone, Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds bytes (e.g. a [`Tokenizer::token_to_piece`]); returns the text now complete.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // bytes no continuation can repair: replace them and go on
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            self.pending.drain(..valid + bad);
                        }
                        // an incomplete character at the end: wait for more bytes
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                    }
                }
            }
        }
    }

    /// True when bytes of an unfinished character are held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Ends the stream: whatever is held back, lossily decoded.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// Turns generated ids into text one at a time: a [`Utf8Stream`] fed with
/// `token_to_piece(id, special)` of each token (what llama.cpp's streaming output shows: no
/// first-space strip, no clean-up).
#[derive(Debug)]
pub struct StreamDecoder<'a> {
    tokenizer: &'a Tokenizer,
    special: bool,
    utf8: Utf8Stream,
}

impl<'a> StreamDecoder<'a> {
    pub(crate) fn new(tokenizer: &'a Tokenizer, special: bool) -> StreamDecoder<'a> {
        StreamDecoder { tokenizer, special, utf8: Utf8Stream::default() }
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    pub fn push(&mut self, id: u32) -> String {
        let piece = self.tokenizer.token_to_piece(id, self.special);
        self.utf8.push(&piece)
    }

    /// True when bytes of an unfinished character are held back.
    pub fn has_pending(&self) -> bool {
        self.utf8.has_pending()
    }

    /// Ends the stream: whatever is held back, lossily decoded.
    pub fn finish(&mut self) -> String {
        self.utf8.finish()
    }
}
