//! `hearth-sse`: server-sent events, decoded incrementally. [`SseDecoder`] turns response
//! bytes into [`SseEvent`]s: a port of the official SDKs' `_streaming.py` `SSEDecoder`
//! (identical in the `openai` and `anthropic` Python packages), which follows the WHATWG
//! event-stream rules. Used by both of hearth's API clients; what an event *means* (an
//! Anthropic `message_stop`, an OpenAI `data: [DONE]`) is theirs to decide.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The longest line the decoder buffers (64 MiB) before giving up on a stream that never
/// ends its line.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// One decoded server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` when the event had none.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` seen (kept across events, as the spec says).
    pub id: Option<String>,
    /// The `retry:` field, when an integer.
    pub retry: Option<u64>,
}

/// A line longer than [`MAX_LINE_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a server-sent-event line exceeds {MAX_LINE_BYTES} bytes")]
pub struct LineTooLong;

/// Incremental decoder: feed chunks as they arrive with [`SseDecoder::push`], then call
/// [`SseDecoder::finish`] at the end of the body.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of an unfinished line.
    buf: Vec<u8>,
    /// How much of `buf` is known to hold no line terminator.
    scanned: usize,
    event: Option<String>,
    data: Vec<String>,
    last_id: Option<String>,
    retry: Option<u64>,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes the complete lines in `chunk` (with what earlier chunks left), returning the
    /// events they complete. Lines end with `\r\n`, `\n` or `\r`.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        // Bytes before `self.scanned` were searched by an earlier push and hold no terminator.
        let mut search = self.scanned;
        let mut pending_cr = None;
        while let Some(offset) = self.buf[search..].iter().position(|&b| b == b'\n' || b == b'\r') {
            let end = search + offset;
            let terminator_len = match self.buf[end] {
                b'\r' if end + 1 == self.buf.len() => {
                    // Maybe half of "\r\n": look at this byte again with the next chunk.
                    pending_cr = Some(end - start);
                    break;
                }
                b'\r' if self.buf[end + 1] == b'\n' => 2,
                _ => 1,
            };
            let line = String::from_utf8_lossy(&self.buf[start..end]).into_owned();
            events.extend(self.decode_line(&line));
            start = end + terminator_len;
            search = start;
        }
        self.buf.drain(..start);
        self.scanned = pending_cr.unwrap_or(self.buf.len());
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(LineTooLong);
        }
        Ok(events)
    }

    /// Ends the stream: a last line without terminator is decoded, but (as in the SDK) an
    /// event not closed by a blank line is dropped.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let rest = std::mem::take(&mut self.buf);
        self.scanned = 0;
        // `rest` is a last line, or one whose `\r` terminator came last ("\r" alone: a blank
        // line, which dispatches).
        let event = if rest.is_empty() {
            None
        } else {
            let line = String::from_utf8_lossy(rest.strip_suffix(b"\r").unwrap_or(&rest)).into_owned();
            self.decode_line(&line)
        };
        self.event = None;
        self.data.clear();
        event.into_iter().collect()
    }

    /// One line of the event-stream grammar; a blank line dispatches the event.
    fn decode_line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            if self.event.is_none() && self.data.is_empty() && self.last_id.is_none() && self.retry.is_none()
            {
                return None;
            }
            let event = SseEvent {
                event: self.event.take(),
                data: self.data.join("\n"),
                id: self.last_id.clone(),
                retry: self.retry.take(),
            };
            self.data.clear();
            return Some(event);
        }
        if line.starts_with(':') {
            return None; // a comment
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.retry = Some(ms);
                }
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent { event: Some(event.into()), data: data.into(), ..SseEvent::default() }
    }

    #[test]
    fn events_split_anywhere_decode_the_same() {
        let wire = "event: ping\ndata: {\"type\": \"ping\"}\n\n: comment\r\nevent: a\r\ndata: 1\r\ndata:2\r\n\r\nevent: b\rdata: x\r\r";
        let mut dec = SseDecoder::new();
        let mut whole = dec.push(wire.as_bytes()).unwrap();
        whole.extend(dec.finish());
        assert_eq!(whole, [ev("ping", "{\"type\": \"ping\"}"), ev("a", "1\n2"), ev("b", "x")]);
        for split in 0..wire.len() {
            let mut dec = SseDecoder::new();
            let mut got = dec.push(&wire.as_bytes()[..split]).unwrap();
            got.extend(dec.push(&wire.as_bytes()[split..]).unwrap());
            got.extend(dec.finish());
            assert_eq!(got, whole, "split at {split}");
        }
        let mut dec = SseDecoder::new();
        let mut byte_by_byte: Vec<SseEvent> = wire.bytes().flat_map(|b| dec.push(&[b]).unwrap()).collect();
        byte_by_byte.extend(dec.finish());
        assert_eq!(byte_by_byte, whole);
    }

    #[test]
    fn ids_persist_and_events_without_a_blank_line_are_dropped() {
        let mut dec = SseDecoder::new();
        let got = dec.push(b"id: 7\nretry: 300\ndata: a\n\ndata: b\n\nevent: cut\ndata: c").unwrap();
        assert_eq!(got[0].id.as_deref(), Some("7"));
        assert_eq!(got[0].retry, Some(300));
        assert_eq!(got[1].id.as_deref(), Some("7"));
        assert_eq!(got[1].event, None);
        assert_eq!(got[1].retry, None);
        assert!(dec.finish().is_empty());
    }

    #[test]
    fn a_line_that_never_ends_is_refused() {
        let mut dec = SseDecoder::new();
        let chunk = vec![b'x'; 1 << 20];
        let mut result = Ok(Vec::new());
        for _ in 0..=(MAX_LINE_BYTES >> 20) {
            result = dec.push(&chunk);
        }
        assert_eq!(result, Err(LineTooLong));
    }
}
