//! Incremental decoding for streamed generation.

use crate::tokenizer::Tokenizer;

/// Turns generated ids into text one at a time, holding back the bytes of a character that is
/// not complete yet, so no chunk ever ends in the middle of a UTF-8 sequence.
///
/// Each token contributes `token_to_piece(id, special)` (as llama.cpp's streaming output
/// does; no first-space strip, no clean-up). Bytes that can never become valid UTF-8 are
/// replaced by U+FFFD as soon as that is certain; [`StreamDecoder::finish`] flushes what is
/// left, lossily.
#[derive(Debug)]
pub struct StreamDecoder<'a> {
    tokenizer: &'a Tokenizer,
    special: bool,
    pending: Vec<u8>,
}

impl<'a> StreamDecoder<'a> {
    pub(crate) fn new(tokenizer: &'a Tokenizer, special: bool) -> StreamDecoder<'a> {
        StreamDecoder { tokenizer, special, pending: Vec::new() }
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    pub fn push(&mut self, id: u32) -> String {
        self.pending.extend_from_slice(&self.tokenizer.token_to_piece(id, self.special));
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
                    // the prefix is valid UTF-8 by construction
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // invalid bytes: replace them and go on
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
