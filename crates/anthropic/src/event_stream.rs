//! A streamed answer as a `Stream` of [`StreamEvent`]s, the SDK's `Stream.__stream__`
//! (`_streaming.py`): events without an `event:` name or without data are skipped; an `error`
//! event becomes [`Error::Stream`]. Unlike the SDK, `ping` events are passed on (a proxy may
//! forward them as keep-alives), and a body that ends before `message_stop` is an error
//! ([`Error::IncompleteStream`]) rather than a silent short answer.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;

use crate::client::error_chain;
use crate::error::{ApiError, Error};
use crate::sse::{SseDecoder, SseEvent};
use crate::types::{ErrorBody, StreamEvent};

type Item = Result<StreamEvent, Error>;

/// The events of one streamed message. Ends after `message_stop`'s body end, or right after
/// the first `Err` item.
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Item> + Send>>,
    request_id: Option<String>,
    attempts: u32,
}

impl EventStream {
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
            failed: false,
            saw_stop: false,
            request_id: request_id.clone(),
            timeout,
            url,
        };
        let inner = futures_util::stream::unfold(state, Reader::next);
        EventStream { inner: Box::pin(inner), request_id, attempts }
    }

    /// The `request-id` header of the `200`.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Attempts made before the stream started, the successful one included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl Stream for EventStream {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("request_id", &self.request_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The reading state behind an [`EventStream`].
struct Reader {
    response: reqwest::Response,
    decoder: SseDecoder,
    /// Decoded items not yet handed out.
    pending: VecDeque<Item>,
    /// The body has ended.
    eof: bool,
    /// An `Err` item was queued: nothing after it is read or handed out.
    failed: bool,
    saw_stop: bool,
    request_id: Option<String>,
    timeout: Duration,
    url: String,
}

impl Reader {
    /// The next item, reading chunks until one is decoded or the body ends.
    async fn next(mut self) -> Option<(Item, Self)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if item.is_err() {
                    self.pending.clear();
                    self.eof = true;
                }
                return Some((item, self));
            }
            if self.eof {
                return None;
            }
            self.read_chunk().await;
        }
    }

    /// Reads one chunk (bounded by the timeout) and queues what it completes.
    async fn read_chunk(&mut self) {
        match tokio::time::timeout(self.timeout, self.response.chunk()).await {
            Err(_) => self.fail(Error::Timeout { url: self.url.clone(), after: self.timeout }),
            Ok(Err(e)) => self.fail(Error::Connection { url: self.url.clone(), message: error_chain(&e) }),
            Ok(Ok(Some(bytes))) => match self.decoder.push(&bytes) {
                Ok(events) => events.into_iter().for_each(|e| self.handle(e)),
                Err(e) => self.fail(Error::Decode {
                    what: "stream event",
                    message: e.to_string(),
                    request_id: self.request_id.clone(),
                }),
            },
            Ok(Ok(None)) => {
                for event in self.decoder.finish() {
                    self.handle(event);
                }
                if !self.saw_stop {
                    self.fail(Error::IncompleteStream { request_id: self.request_id.clone() });
                }
                self.eof = true;
            }
        }
    }

    /// Queues the item a decoded event stands for, if any.
    fn handle(&mut self, sse: SseEvent) {
        if self.failed || self.saw_stop {
            return;
        }
        match sse.event.as_deref() {
            None => {}
            Some("error") => self.fail(Error::Stream(stream_error(&sse.data, self.request_id.clone()))),
            Some(_) if sse.data.is_empty() => {}
            Some(_) => match serde_json::from_str::<StreamEvent>(&sse.data) {
                Ok(event) => {
                    self.saw_stop = matches!(event, StreamEvent::MessageStop);
                    self.pending.push_back(Ok(event));
                }
                Err(e) => self.fail(Error::Decode {
                    what: "stream event",
                    message: e.to_string(),
                    request_id: self.request_id.clone(),
                }),
            },
        }
    }

    fn fail(&mut self, error: Error) {
        if !self.failed {
            self.failed = true;
            self.pending.push_back(Err(error));
        }
    }
}

/// The payload of an `error` event as an [`ApiError`] with status 200.
fn stream_error(data: &str, request_id: Option<String>) -> ApiError {
    let (kind, message, error_code, body_id) = match serde_json::from_str::<ErrorBody>(data) {
        Ok(body) => {
            let code = body.error.error_code().map(str::to_owned);
            (body.error.kind, body.error.message, code, body.request_id)
        }
        Err(_) if data.trim().is_empty() => {
            ("unknown".into(), "an error event without data".into(), None, None)
        }
        Err(_) => ("unknown".into(), data.trim().to_owned(), None, None),
    };
    ApiError {
        status: 200,
        kind,
        message,
        error_code,
        request_id: request_id.or(body_id),
        retry_after: None,
        should_retry: None,
    }
}
