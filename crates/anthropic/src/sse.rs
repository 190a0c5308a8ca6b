//! Server-sent events, both ways: [`SseDecoder`] turns response bytes into events (from
//! `hearth-sse`, shared with hearth's OpenAI client: a port of the SDK's `_streaming.py`
//! `SSEDecoder`, which follows the WHATWG event-stream rules), and [`encode`] writes a
//! [`StreamEvent`] as the API sends it (for hearth's server and the fake).

pub use hearth_sse::{LineTooLong, MAX_LINE_BYTES, SseDecoder, SseEvent};

use crate::types::StreamEvent;

/// One event as the API writes it: `event: <type>\ndata: <json>\n\n`.
pub fn encode(event: &StreamEvent) -> String {
    // Serializing these types cannot fail: they hold only strings, numbers and JSON values.
    let data = serde_json::to_string(event).unwrap_or_else(|_| String::from("{}"));
    format!("event: {}\ndata: {data}\n\n", event.event_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_events_decode_back() {
        let event = StreamEvent::Ping;
        let wire = encode(&event);
        assert_eq!(wire, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
        let got = SseDecoder::new().push(wire.as_bytes()).unwrap();
        assert_eq!(serde_json::from_str::<StreamEvent>(&got[0].data).unwrap(), event);
    }
}
