//! A streamed chat completion as a `Stream` of `chat.completion.chunk` JSON objects, read as
//! the SDK's `Stream.__stream__` (`_streaming.py`) reads them: `data: [DONE]` ends the
//! stream; an event without a name is a chunk, unless it has an `error` member, which ends
//! the stream with [`Error::Stream`]; an `error` event does too; other named events (not
//! part of chat completions) are skipped. Unlike the SDK, a body that ends before `[DONE]`
//! is an error ([`Error::IncompleteStream`]) rather than a silent short answer.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use hearth_sse::{SseDecoder, SseEvent};
use serde_json::Value;

use crate::client::error_chain;
use crate::error::{ApiError, Error};

type Item = Result<Value, Error>;

/// What one server-sent event of a chat stream means.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A `chat.completion.chunk` (or any JSON object the server streams).
    Chunk(Value),
    /// `data: [DONE]`: the stream is complete.
    Done,
    /// An error reported inside the stream.
    Error(ApiError),
    /// Nothing to pass on (an empty or foreign event).
    Skip,
}

/// What `sse` means; `Err` with the parser's complaint when its data should be JSON but is
/// not. `request_id` goes into in-stream errors.
pub fn classify(sse: &SseEvent, request_id: Option<&str>) -> Result<Event, String> {
    let data = sse.data.trim();
    if data.starts_with("[DONE]") {
        return Ok(Event::Done);
    }
    let request_id = request_id.map(str::to_owned);
    match sse.event.as_deref() {
        None | Some("message") => {
            if data.is_empty() {
                return Ok(Event::Skip);
            }
            let value: Value = serde_json::from_str(data).map_err(|e| e.to_string())?;
            if value.get("error").is_some_and(|e| !e.is_null()) {
                return Ok(Event::Error(ApiError::from_stream(&value, request_id)));
            }
            Ok(Event::Chunk(value))
        }
        Some("error") => {
            let value: Value = serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
            let error = match &value {
                Value::String(s) => ApiError {
                    message: if s.is_empty() { "an error event without data".to_owned() } else { s.clone() },
                    ..ApiError::from_stream(&Value::Null, request_id)
                },
                v => ApiError::from_stream(v, request_id),
            };
            Ok(Event::Error(error))
        }
        Some(_) => Ok(Event::Skip),
    }
}

/// The chunks of one streamed completion. Ends after `[DONE]`, or right after the first
/// `Err` item.
pub struct ChunkStream {
    inner: Pin<Box<dyn Stream<Item = Item> + Send>>,
    request_id: Option<String>,
    attempts: u32,
}

impl ChunkStream {
    pub(crate) fn new(
        response: reqwest::Response,
        request_id: Option<String>,
        attempts: u32,
        timeout: Duration,
        url: String,
    ) -> Self {
        let state = Reader {
            response,
            decoder: SseDecoder::new(),
            pending: VecDeque::new(),
            eof: false,
            finished: false,
            request_id: request_id.clone(),
            timeout,
            url,
        };
        let inner = futures_util::stream::unfold(state, Reader::next);
        ChunkStream { inner: Box::pin(inner), request_id, attempts }
    }

    /// The `x-request-id` header of the `200`.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Attempts made before the stream started, the successful one included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl Stream for ChunkStream {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for ChunkStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkStream")
            .field("request_id", &self.request_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The reading state behind a [`ChunkStream`].
struct Reader {
    response: reqwest::Response,
    decoder: SseDecoder,
    /// Decoded items not yet handed out.
    pending: VecDeque<Item>,
    /// The body has ended (or nothing more will be read).
    eof: bool,
    /// `[DONE]` or an error was seen: later events are ignored.
    finished: bool,
    request_id: Option<String>,
    timeout: Duration,
    url: String,
}

impl Reader {
    /// The next item, reading chunks until one is decoded or the stream is over.
    async fn next(mut self) -> Option<(Item, Self)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some((item, self));
            }
            if self.eof || self.finished {
                return None;
            }
            self.read_chunk().await;
        }
    }

    /// Reads one body chunk (bounded by the timeout) and queues what it completes.
    async fn read_chunk(&mut self) {
        match tokio::time::timeout(self.timeout, self.response.chunk()).await {
            Err(_) => self.fail(Error::Timeout { url: self.url.clone(), after: self.timeout }),
            Ok(Err(e)) => self.fail(Error::Connection { url: self.url.clone(), message: error_chain(&e) }),
            Ok(Ok(Some(bytes))) => match self.decoder.push(&bytes) {
                Ok(events) => events.iter().for_each(|e| self.handle(e)),
                Err(e) => self.fail(Error::Decode {
                    what: "stream chunk",
                    message: e.to_string(),
                    request_id: self.request_id.clone(),
                }),
            },
            Ok(Ok(None)) => {
                for event in self.decoder.finish() {
                    self.handle(&event);
                }
                if !self.finished {
                    self.fail(Error::IncompleteStream { request_id: self.request_id.clone() });
                }
                self.eof = true;
            }
        }
    }

    /// Queues the item a decoded event stands for, if any.
    fn handle(&mut self, sse: &SseEvent) {
        if self.finished {
            return;
        }
        match classify(sse, self.request_id.as_deref()) {
            Ok(Event::Chunk(v)) => self.pending.push_back(Ok(v)),
            Ok(Event::Done) => self.finished = true,
            Ok(Event::Error(e)) => self.fail(Error::Stream(Box::new(e))),
            Ok(Event::Skip) => {}
            Err(message) => self.fail(Error::Decode {
                what: "stream chunk",
                message,
                request_id: self.request_id.clone(),
            }),
        }
    }

    fn fail(&mut self, error: Error) {
        if !self.finished {
            self.finished = true;
            self.pending.push_back(Err(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events(wire: &str) -> Vec<SseEvent> {
        let mut dec = SseDecoder::new();
        let mut out = dec.push(wire.as_bytes()).unwrap();
        out.extend(dec.finish());
        out
    }

    #[test]
    fn chunks_then_done() {
        let wire = concat!(
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            ": keep-alive\n\n",
            "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n",
            "data: [DONE]\n\n",
        );
        let got: Vec<Event> = events(wire).iter().map(|e| classify(e, None).unwrap()).collect();
        assert_eq!(got.len(), 3);
        let Event::Chunk(first) = &got[0] else { panic!("{got:?}") };
        assert_eq!(first["choices"][0]["delta"]["content"], "Hi");
        let Event::Chunk(last) = &got[1] else { panic!("{got:?}") };
        assert_eq!(crate::Usage::of(last).unwrap().prompt_tokens, 3);
        assert_eq!(got[2], Event::Done);
    }

    #[test]
    fn an_error_member_or_event_is_an_error() {
        let sse = |event: Option<&str>, data: &str| SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            ..SseEvent::default()
        };
        let e = classify(
            &sse(None, r#"{"error": {"message": "boom", "type": "server_error", "code": "x"}}"#),
            Some("r"),
        )
        .unwrap();
        let Event::Error(e) = e else { panic!("{e:?}") };
        assert_eq!((e.status, e.message.as_str(), e.code.as_deref()), (200, "boom", Some("x")));
        assert_eq!(e.request_id.as_deref(), Some("r"));
        let Event::Error(e) = classify(&sse(Some("error"), r#"{"message": "flat"}"#), None).unwrap() else {
            panic!()
        };
        assert_eq!(e.message, "flat");
        let Event::Error(e) = classify(&sse(Some("error"), "plain words"), None).unwrap() else { panic!() };
        assert_eq!(e.message, "plain words");
        let chunk = json!({"id": "c", "error": null, "choices": []});
        assert_eq!(classify(&sse(None, &chunk.to_string()), None).unwrap(), Event::Chunk(chunk));
    }

    #[test]
    fn foreign_events_are_skipped_and_bad_json_is_refused() {
        let sse = |event: Option<&str>, data: &str| SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            ..SseEvent::default()
        };
        assert_eq!(classify(&sse(Some("ping"), "{}"), None).unwrap(), Event::Skip);
        assert_eq!(classify(&sse(None, ""), None).unwrap(), Event::Skip);
        assert_eq!(classify(&sse(Some("message"), " [DONE] "), None).unwrap(), Event::Done);
        assert!(classify(&sse(None, "{\"cut"), None).is_err());
    }
}
