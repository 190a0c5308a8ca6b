//! Streams: events in order with cumulative usage, retries before the 200 only, and failures
//! after it as `Err` items.

use futures_util::StreamExt;
use hearth_anthropic::fake::Fault;
use hearth_anthropic::types::{ContentDelta, StopReason, StreamEvent};
use hearth_anthropic::{Error, EventStream};

use super::{hello, retry_counts, setup};

async fn collect(mut stream: EventStream) -> Vec<Result<StreamEvent, Error>> {
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    items
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockDelta { delta: ContentDelta::TextDelta { text }, .. } => {
                Some(text.as_str())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_stream_arrives_as_events_with_cumulative_usage() {
    let (fake, client) = setup().await;
    let req = hello("tell me a short story");
    let whole = client.messages(&req).await.unwrap().body;

    let stream = client.messages_stream(&req).await.unwrap();
    assert_eq!(stream.attempts(), 1);
    assert_eq!(stream.request_id(), Some("req_fake_00000002"));
    let events: Vec<StreamEvent> = collect(stream).await.into_iter().map(Result::unwrap).collect();

    let names: Vec<&str> = events.iter().map(StreamEvent::event_name).collect();
    assert_eq!(names[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(names[names.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    assert!(names.iter().filter(|n| **n == "content_block_delta").count() > 1);
    assert_eq!(text_of(&events), whole.text());

    let StreamEvent::MessageStart { message } = &events[0] else { panic!("message_start first") };
    let mut usage = message.usage.clone();
    assert_eq!(usage.input_tokens, whole.usage.input_tokens);
    for event in &events {
        if let StreamEvent::MessageDelta { delta, usage: delta_usage } = event {
            assert_eq!(delta.stop_reason, Some(StopReason::EndTurn));
            usage.apply_delta(delta_usage);
        }
    }
    assert_eq!(usage, whole.usage, "the cumulative usage of the stream is the message's");

    let sent = fake.requests()[1].json().unwrap();
    assert_eq!(sent["stream"], true);
}

#[tokio::test]
async fn a_stream_is_retried_until_its_200() {
    let (fake, client) = setup().await;
    fake.push_faults([Fault::Overloaded, Fault::rate_limit_after(0.05)]);
    let stream = client.messages_stream(&hello("hi")).await.unwrap();
    assert_eq!(stream.attempts(), 3);
    assert_eq!(retry_counts(&fake), ["0", "1", "2"]);
    let items = collect(stream).await;
    assert!(items.iter().all(Result::is_ok));
}

#[tokio::test]
async fn an_error_event_after_the_200_ends_the_stream_with_an_error_item() {
    let (fake, client) = setup().await;
    fake.push_fault(Fault::stream_error());
    let items = collect(client.messages_stream(&hello("one two three four")).await.unwrap()).await;
    let (last, before) = items.split_last().unwrap();
    assert!(before.iter().all(Result::is_ok));
    assert!(matches!(before[0], Ok(StreamEvent::MessageStart { .. })));
    let Err(Error::Stream(err)) = last else { panic!("an error item last, got {last:?}") };
    assert_eq!(
        (err.status, err.kind.as_str(), err.message.as_str()),
        (200, "overloaded_error", "Overloaded")
    );
    assert_eq!(err.request_id.as_deref(), Some("req_fake_00000001"));
    assert!(last.as_ref().unwrap_err().is_retryable());
    assert_eq!(retry_counts(&fake), ["0"], "a started stream is never retried");
}

#[tokio::test]
async fn a_cut_event_is_a_decode_error_item() {
    let (fake, client) = setup().await;
    fake.push_fault(Fault::MalformedJson);
    let items = collect(client.messages_stream(&hello("hi")).await.unwrap()).await;
    assert!(matches!(items[0], Ok(StreamEvent::MessageStart { .. })));
    assert!(matches!(items.last(), Some(Err(Error::Decode { what: "stream event", .. }))), "{items:?}");
}
